"""Read template.yaml the way CloudFormation would for one function: its handler and resolved environment.

Used by `ecr-governance invoke` (run a function in-process without Docker) and by the contract tests. Intrinsics
are resolved for Parameters (defaults or overrides), pseudo parameters, Conditions and Fn::If; a reference to a
resource that only exists once deployed (a topic ARN, a role ARN) cannot be resolved locally and is reported.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from ecr_governance.errors import InputError

UNRESOLVED = object()


class _CfnLoader(yaml.SafeLoader):
    """YAML loader that turns CloudFormation short-form tags (!Ref, !If, ...) into their long form."""


def _construct_intrinsic(loader: yaml.SafeLoader, tag_suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = "Ref" if tag_suffix == "Ref" else f"Fn::{tag_suffix}"
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if tag_suffix == "GetAtt":
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if tag_suffix == "Condition":
        return {"Condition": value}
    return {name: value}


_CfnLoader.add_multi_constructor("!", _construct_intrinsic)


def load_template(path: str | Path) -> dict[str, Any]:
    try:
        text = Path(path).read_text()
    except OSError as error:
        raise InputError(f"cannot read template {path}: {error.strerror}") from error
    except UnicodeDecodeError as error:
        raise InputError(f"template {path} is not UTF-8 text") from error
    try:
        template = yaml.load(text, Loader=_CfnLoader)  # noqa: S506 - a SafeLoader subclass
    except (yaml.YAMLError, RecursionError) as error:
        raise InputError(f"{path} is not valid YAML: {str(error).splitlines()[0]}") from error
    if not isinstance(template, dict) or not isinstance(template.get("Resources"), dict):
        raise InputError(f"{path} is not a CloudFormation/SAM template (no Resources mapping)")
    for section in ("Parameters", "Conditions", "Globals"):
        if template.get(section) is not None and not isinstance(template[section], dict):
            raise InputError(f"{path}: {section} must be a mapping")
    return template


@dataclass
class FunctionSpec:
    logical_id: str
    handler: str
    code_uri: str
    environment: dict[str, str] = field(default_factory=dict)
    unresolved: list[str] = field(default_factory=list)  # env vars that need a deployed resource
    package_type: str = "Zip"


def check_parameter_value(  # noqa: C901 - one branch per CloudFormation constraint, as its docs list them
    name: str, spec: Mapping[str, Any], value: str
) -> None:
    """Refuse what CloudFormation refuses: AllowedValues, AllowedPattern, Min/MaxLength, Number, Min/MaxValue."""
    allowed = spec.get("AllowedValues")
    if isinstance(allowed, list) and value not in [str(item) for item in allowed]:
        raise InputError(f"parameter {name}={value!r} is not allowed: expected one of {', '.join(map(str, allowed))}")
    pattern = spec.get("AllowedPattern")
    if isinstance(pattern, str):
        try:
            matches = re.fullmatch(pattern, value) is not None
        except re.error as error:
            raise InputError(f"parameter {name}: AllowedPattern {pattern!r} is not a regular expression") from error
        if not matches:
            raise InputError(f"parameter {name}={value!r} does not match its AllowedPattern {pattern}")
    for key, ok in (("MinLength", lambda limit: len(value) >= limit), ("MaxLength", lambda limit: len(value) <= limit)):
        if isinstance(spec.get(key), int) and not ok(spec[key]):
            raise InputError(f"parameter {name}={value!r} breaks its {key} {spec[key]}")
    if spec.get("Type") == "Number":
        try:
            number = float(value)
        except ValueError as error:
            raise InputError(f"parameter {name}={value!r} is not a number") from error
        for key, ok in (("MinValue", lambda limit: number >= limit), ("MaxValue", lambda limit: number <= limit)):
            limit = spec.get(key)
            if isinstance(limit, (int, float)) and not ok(limit):
                raise InputError(f"parameter {name}={value!r} breaks its {key} {limit}")


class _Resolver:
    def __init__(self, template: Mapping[str, Any], overrides: Mapping[str, str], pseudo: Mapping[str, str]):
        declared = template.get("Parameters") or {}
        unknown = set(overrides) - set(declared)
        if unknown:
            raise InputError(f"unknown template parameter(s): {', '.join(sorted(unknown))}")
        self._parameters = {}
        for name, spec in declared.items():
            spec = spec if isinstance(spec, Mapping) else {}
            value = str(overrides.get(name, spec.get("Default", "")))
            if name in overrides:
                check_parameter_value(name, spec, value)
            self._parameters[name] = value
        self._pseudo = pseudo
        self._conditions = template.get("Conditions") or {}
        self._condition_values: dict[str, bool] = {}

    def condition(self, name: Any) -> bool:
        if not isinstance(name, str) or name not in self._conditions:
            raise InputError(f"template condition {name!r} is not declared")
        if name not in self._condition_values:
            self._condition_values[name] = False  # a condition referring to itself resolves to false, not forever
            self._condition_values[name] = bool(self.value(self._conditions[name]))
        return self._condition_values[name]

    def value(self, node: Any) -> Any:  # noqa: C901 - one branch per intrinsic function it resolves
        if isinstance(node, (str, int, float, bool)):
            return node
        if isinstance(node, list):
            return [self.value(item) for item in node]
        if not isinstance(node, dict) or len(node) != 1:
            return UNRESOLVED
        ((key, argument),) = node.items()
        if key == "Ref":
            if argument in self._parameters:
                return self._parameters[argument]
            return self._pseudo.get(argument, UNRESOLVED)
        if key == "Condition":
            return self.condition(argument)
        if key == "Fn::If":
            name, when_true, when_false = _arguments(key, argument, 3)
            return self.value(when_true if self.condition(name) else when_false)
        if key == "Fn::Equals":
            left, right = (self.value(item) for item in _arguments(key, argument, 2))
            return left is not UNRESOLVED and str(left) == str(right)
        if key == "Fn::Not":
            return not self.value(_arguments(key, argument, 1)[0])
        if key in ("Fn::And", "Fn::Or"):
            if not isinstance(argument, list) or not 2 <= len(argument) <= 10:
                raise InputError(f"{key} needs a list of 2 to 10 conditions, got {argument!r}")
            values = [self.value(item) for item in argument]
            return all(values) if key == "Fn::And" else any(values)
        return UNRESOLVED  # GetAtt, Sub of resources, ImportValue...: exists only once deployed


def _variables(properties: Mapping[str, Any], where: str) -> dict[str, Any]:
    environment = properties.get("Environment") or {}
    variables = environment.get("Variables") or {} if isinstance(environment, Mapping) else None
    if not isinstance(variables, Mapping):
        raise InputError(f"template {where}: Environment.Variables must be a mapping")
    return dict(variables)


def _arguments(function: str, argument: Any, count: int) -> list[Any]:
    if not isinstance(argument, list) or len(argument) != count:
        raise InputError(f"{function} needs a list of {count} arguments, got {argument!r}")
    return argument


def function_ids(template: Mapping[str, Any]) -> list[str]:
    """The logical ids of the template's functions, sorted."""
    resources = template.get("Resources") or {}
    return sorted(
        str(k) for k, v in resources.items() if isinstance(v, Mapping) and v.get("Type") == "AWS::Serverless::Function"
    )


def function_spec(
    template: Mapping[str, Any],
    logical_id: str,
    overrides: Mapping[str, str] | None = None,
    pseudo: Mapping[str, str] | None = None,
) -> FunctionSpec:
    resources = template.get("Resources") or {}
    resource = resources.get(logical_id)
    if not isinstance(resource, Mapping) or resource.get("Type") != "AWS::Serverless::Function":
        functions = ", ".join(function_ids(template)) or "none"
        raise InputError(f"no function {logical_id!r} in the template; functions: {functions}")
    resolver = _Resolver(template, overrides or {}, pseudo or {})
    globals_ = (template.get("Globals") or {}).get("Function") or {}
    properties = resource.get("Properties") or {}
    for what, section in (("Globals.Function", globals_), (f"{logical_id}.Properties", properties)):
        if not isinstance(section, Mapping):
            raise InputError(f"template {what} must be a mapping")
    variables = {**_variables(globals_, "Globals.Function"), **_variables(properties, logical_id)}
    package_type = str(properties.get("PackageType") or globals_.get("PackageType") or "Zip")
    if package_type == "Image":
        # The image's code is its Docker context; its handler is the command the template gives the runtime client.
        command = (
            (properties.get("ImageConfig") or {}).get("Command")
            if isinstance(properties.get("ImageConfig"), Mapping)
            else None
        )
        metadata = resource.get("Metadata") if isinstance(resource.get("Metadata"), Mapping) else {}
        handler = str(command[0]) if isinstance(command, list) and command else ""
        code_uri = str(metadata.get("DockerContext") or ".")
    else:
        handler = str(properties.get("Handler") or globals_.get("Handler") or "")
        code_uri = str(properties.get("CodeUri") or globals_.get("CodeUri") or ".")
    if not handler or "." not in handler:
        raise InputError(f"{logical_id} has no handler (module.function) this command can import: {handler!r}")
    spec = FunctionSpec(logical_id=logical_id, handler=handler, code_uri=code_uri, package_type=package_type)
    for name, node in variables.items():
        value = resolver.value(node)
        if value is UNRESOLVED:
            spec.unresolved.append(name)
        else:
            spec.environment[name] = str(value)
    return spec


def condition_value(
    template: Mapping[str, Any],
    name: str,
    overrides: Mapping[str, str] | None = None,
    pseudo: Mapping[str, str] | None = None,
) -> bool:
    """Whether the template's Condition `name` holds for these Parameter values (defaults where not overridden)."""
    return _Resolver(template, overrides or {}, pseudo or {}).condition(name)


# What a deployed resource's Ref / GetAtt Arn looks like, by type ({name} is the logical id).
_DEPLOYED_SHAPES = {
    "AWS::SNS::Topic": "arn:aws:sns:{region}:{account}:stack-{name}-EXAMPLE",
    "AWS::DynamoDB::Table": "stack-{name}-EXAMPLE",
    "AWS::SQS::Queue": "https://sqs.{region}.amazonaws.com/{account}/stack-{name}-EXAMPLE",
    "AWS::IAM::Role": "arn:aws:iam::{account}:role/stack-{name}-EXAMPLE",
}


def deployed_example(template: Mapping[str, Any], logical_id: str, variable: str, region: str, account: str) -> str:
    """A value shaped like what a variable naming one of the stack's resources holds once deployed (for tools that
    import a handler without deploying: its settings validate ARNs). SAM's implicit `<Function>Role` counts."""
    resources = template.get("Resources") or {}
    properties = (resources.get(logical_id) or {}).get("Properties") or {}
    node = ((properties.get("Environment") or {}).get("Variables") or {}).get(variable)
    pending = [node]
    while pending:
        current = pending.pop()
        if isinstance(current, list):
            pending.extend(current)
        elif isinstance(current, dict):
            target = current.get("Ref") if isinstance(current.get("Ref"), str) else None
            if isinstance(current.get("Fn::GetAtt"), list):
                target = current["Fn::GetAtt"][0]
            resource_type = "AWS::IAM::Role" if target == f"{logical_id}Role" else resources.get(target, {}).get("Type")
            if resource_type in _DEPLOYED_SHAPES:
                return _DEPLOYED_SHAPES[resource_type].format(region=region, account=account, name=target)
            pending.extend(current.values())
    raise InputError(f"{logical_id}: {variable} names no resource whose deployed shape is known")

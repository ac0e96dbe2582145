"""Read template.yaml the way CloudFormation would for one function: its handler and resolved environment.

Used by `ecr-governance invoke` (run a function in-process without Docker) and by the contract tests. Intrinsics
are resolved for Parameters (defaults or overrides), pseudo parameters, Conditions and Fn::If; a reference to a
resource that only exists once deployed (a topic ARN, a role ARN) cannot be resolved locally and is reported.
"""

from __future__ import annotations

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
    try:
        template = yaml.load(text, Loader=_CfnLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as error:
        raise InputError(f"{path} is not valid YAML: {error}") from error
    if not isinstance(template, dict) or "Resources" not in template:
        raise InputError(f"{path} is not a CloudFormation/SAM template (no Resources)")
    return template


@dataclass
class FunctionSpec:
    logical_id: str
    handler: str
    code_uri: str
    environment: dict[str, str] = field(default_factory=dict)
    unresolved: list[str] = field(default_factory=list)  # env vars that need a deployed resource


class _Resolver:
    def __init__(self, template: Mapping[str, Any], overrides: Mapping[str, str], pseudo: Mapping[str, str]):
        self._parameters = {
            name: str(overrides.get(name, spec.get("Default", "")))
            for name, spec in (template.get("Parameters") or {}).items()
        }
        unknown = set(overrides) - set(self._parameters)
        if unknown:
            raise InputError(f"unknown template parameter(s): {', '.join(sorted(unknown))}")
        self._pseudo = pseudo
        self._conditions = template.get("Conditions") or {}
        self._condition_values: dict[str, bool] = {}

    def condition(self, name: str) -> bool:
        if name not in self._condition_values:
            self._condition_values[name] = bool(self.value(self._conditions[name]))
        return self._condition_values[name]

    def value(self, node: Any) -> Any:
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
            name, when_true, when_false = argument
            return self.value(when_true if self.condition(name) else when_false)
        if key == "Fn::Equals":
            left, right = (self.value(item) for item in argument)
            return left is not UNRESOLVED and str(left) == str(right)
        if key == "Fn::Not":
            return not self.value(argument[0])
        if key == "Fn::And":
            return all(self.value(item) for item in argument)
        if key == "Fn::Or":
            return any(self.value(item) for item in argument)
        return UNRESOLVED  # GetAtt, Sub of resources, ImportValue...: exists only once deployed


def function_spec(
    template: Mapping[str, Any],
    logical_id: str,
    overrides: Mapping[str, str] | None = None,
    pseudo: Mapping[str, str] | None = None,
) -> FunctionSpec:
    resources = template.get("Resources") or {}
    functions = sorted(k for k, v in resources.items() if v.get("Type") == "AWS::Serverless::Function")
    resource = resources.get(logical_id)
    if not resource or resource.get("Type") != "AWS::Serverless::Function":
        raise InputError(f"no function {logical_id!r} in the template; functions: {', '.join(functions)}")
    resolver = _Resolver(template, overrides or {}, pseudo or {})
    globals_ = (template.get("Globals") or {}).get("Function") or {}
    properties = resource.get("Properties") or {}
    variables = {
        **((globals_.get("Environment") or {}).get("Variables") or {}),
        **((properties.get("Environment") or {}).get("Variables") or {}),
    }
    spec = FunctionSpec(
        logical_id=logical_id,
        handler=str(properties.get("Handler") or globals_.get("Handler") or ""),
        code_uri=str(properties.get("CodeUri") or globals_.get("CodeUri") or "."),
    )
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

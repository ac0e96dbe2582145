"""template.yaml and the code, held together: handlers, environment, IAM, events, the seed's repository, samconfig."""

from __future__ import annotations

import ast
import importlib
import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import samtranslator
from aws_lambda_powertools.shared import constants as powertools_constants
from ecr_governance import SERVICE_NAME
from ecr_governance.aws.idempotency import IdempotencyTable
from ecr_governance.config import SettingDoc
from ecr_governance.enforce import events, invocation, settings
from ecr_governance.errors import InvalidEvent, SettingsError
from ecr_governance.findings import events as findings_events
from ecr_governance.findings import finding_events, scan_settings
from ecr_governance.findings import settings as findings_settings
from ecr_governance.findings.ledger import LEASE_SECONDS
from ecr_governance.findings.normalize import Severity
from ecr_governance.lifecycle.validate import validate_policy
from ecr_governance.location import Location
from ecr_governance.sweep import settings as sweep_settings
from ecr_governance_cli.template_env import condition_value, function_spec
from handlers.edge import RESOURCE_VARIABLES
from import_graph import imported_modules

PROJECT_ROOT = Path(__file__).resolve().parents[2]
FUNCTIONS_DIR = PROJECT_ROOT / "functions"
STANDARD_POLICY_PATH = FUNCTIONS_DIR / "ecr_governance" / "lifecycle" / "policies" / "standard-lifecycle.json"
ENFORCE_EVENTS = sorted((PROJECT_ROOT / "events" / "enforce").glob("*.json"))
PSEUDO = {"AWS::Region": "ap-southeast-1", "AWS::AccountId": "123456789012", "AWS::Partition": "aws"}
ENFORCE_FUNCTION = "EnforceRepositoryFunction"
FINDINGS_FUNCTION = "ScanFindingsFunction"
INSPECTOR_FUNCTION = "InspectorFindingsFunction"
# The scan function's samples; inspector2-finding*.json are the Inspector findings function's (events, SQS batches).
FINDINGS_EVENTS = sorted(
    path
    for path in (PROJECT_ROOT / "events" / "findings").glob("*.json")
    if not path.name.startswith("inspector2-finding")
)
INSPECTOR_FINDING_EVENTS = sorted((PROJECT_ROOT / "events" / "findings").glob("inspector2-finding*.json"))
# Each function's settings module: its SETTINGS_DOCS say what the function's code reads.
SETTINGS_OF_FUNCTION = {
    ENFORCE_FUNCTION: settings,
    "EnforceMemberFunction": settings,
    FINDINGS_FUNCTION: scan_settings,
    INSPECTOR_FUNCTION: findings_settings,
    "SweepPlannerFunction": sweep_settings,
    "SweepWorkerFunction": sweep_settings,
}
# Where the sample events come from: the account and region the emulator and the demo use.
SAMPLE_PROVENANCE = events.Provenance(account="123456789012", region="ap-southeast-1")
# Actions that have no resource type (IAM needs Resource "*"); every other action we use names its resources.
RESOURCE_STAR_ACTIONS = {
    "ecr:GetRegistryScanningConfiguration",
    "ecr:PutRegistryScanningConfiguration",
    "tag:GetResources",
    "inspector2:BatchGetAccountStatus",  # Inspector's read actions have no resource type
    "inspector2:ListCoverage",
    "organizations:ListAccounts",  # neither have Organizations' list actions
    "organizations:ListAccountsForParent",
    "organizations:ListOrganizationalUnitsForParent",
    # The registry settings ECR added in 2025-26 (templates, cache rules, pull-time exclusions, signing, policy).
    "ecr:DescribeRepositoryCreationTemplates",
    "ecr:CreateRepositoryCreationTemplate",
    "ecr:UpdateRepositoryCreationTemplate",
    "ecr:DescribePullThroughCacheRules",
    "ecr:ListPullTimeUpdateExclusions",
    "ecr:RegisterPullTimeUpdateExclusion",
    "ecr:GetSigningConfiguration",
    "ecr:GetRegistryPolicy",
}
# The one service-linked role a function may create: ECR's for repository creation templates.
TEMPLATE_SERVICE_LINKED_ROLE = {
    "Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/aws-service-role/ecr.amazonaws.com/"
    "AWSServiceRoleForECRTemplate"
}
MEMBER_ROLES = {"Fn::Sub": "arn:${AWS::Partition}:iam::*:role/${MemberRoleName}"}
# The helpers of ecr_governance.config that read the environment: (environ, "NAME", ...).
SETTINGS_READERS = {
    "text_setting",
    "list_setting",
    "enum_setting",
    "bool_setting",
    "int_setting",
    "float_setting",
    "arn_setting",
}


# ---- helpers --------------------------------------------------------------------------------------------------
def _properties(template: dict[str, Any], logical_id: str) -> dict[str, Any]:
    return template["Resources"][logical_id].get("Properties") or {}


def _function_setting(template: dict[str, Any], logical_id: str, name: str) -> Any:
    """A function property as SAM resolves it: the function's own value, else the Globals' one."""
    own = _properties(template, logical_id)
    if name in own:
        return own[name]
    return ((template.get("Globals") or {}).get("Function") or {}).get(name)


def _declared_variables(template: dict[str, Any], logical_id: str) -> dict[str, Any]:
    globals_ = ((template.get("Globals") or {}).get("Function") or {}).get("Environment") or {}
    own = _properties(template, logical_id).get("Environment") or {}
    return {**(globals_.get("Variables") or {}), **(own.get("Variables") or {})}


def _module_path(module: str) -> Path | None:
    """The file of a module that lives under functions/, or None for anything else (stdlib, boto3...)."""
    base = FUNCTIONS_DIR.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _runtime_modules(handler_module: str) -> dict[str, Path]:
    """The modules under functions/ a handler can execute: its import closure (lazy imports included)."""
    closure: dict[str, Path] = {}
    pending = [handler_module]
    while pending:
        module = pending.pop()
        path = _module_path(module)
        if module in closure or path is None:
            continue
        closure[module] = path
        parent = module.rpartition(".")[0]
        if parent:
            pending.append(parent)  # importing a.b runs a/__init__.py
        pending.extend(imported_modules(path, module))
    return closure


def _string_argument(call: ast.Call, index: int) -> str | None:
    argument = call.args[index] if len(call.args) > index else None
    if isinstance(argument, ast.Constant) and isinstance(argument.value, str):
        return argument.value
    return None


def _environment_reads(path: Path) -> set[str]:
    """Names read with os.environ.get / environ.get / os.getenv / os.environ[...], and the variables of the
    SettingDocs passed to the settings readers (text_setting(environ, GOVERNANCE_MODE), ...)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        name: str | None = None
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            owner = node.func.value
            owner_name = owner.attr if isinstance(owner, ast.Attribute) else getattr(owner, "id", "")
            if (node.func.attr == "get" and owner_name == "environ") or node.func.attr == "getenv":
                name = _string_argument(node, 0)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in SETTINGS_READERS:
            name = _string_argument(node, 1) or _setting_doc_variable(path, node.args[1])
        elif isinstance(node, ast.Subscript):
            owner = node.value
            owner_name = owner.attr if isinstance(owner, ast.Attribute) else getattr(owner, "id", "")
            if owner_name == "environ" and isinstance(node.slice, ast.Constant):
                name = node.slice.value if isinstance(node.slice.value, str) else None
        if name:
            names.add(name)
    return names


def _setting_doc_variable(path: Path, argument: ast.expr) -> str | None:
    """The environment variable of a module-level SettingDoc named in the call (None: not one, e.g. the readers'
    own parameter inside config.py)."""
    if not isinstance(argument, ast.Name):
        return None
    module = ".".join(path.relative_to(FUNCTIONS_DIR).with_suffix("").parts).removesuffix(".__init__")
    doc = getattr(importlib.import_module(module), argument.id, None)
    return doc.env if isinstance(doc, SettingDoc) else None


def _handler_module(template: dict[str, Any], logical_id: str) -> str:
    return str(_function_setting(template, logical_id, "Handler")).rpartition(".")[0]


def _policy_statements(template: dict[str, Any], logical_id: str) -> tuple[list[dict[str, Any]], list[Any]]:
    """(inline statements, other policy entries) of a function's Policies."""
    statements: list[dict[str, Any]] = []
    others: list[Any] = []
    for policy in _properties(template, logical_id).get("Policies") or []:
        if isinstance(policy, dict) and "Statement" in policy:
            statements.extend(policy["Statement"])
        else:
            others.append(policy)
    return statements, others


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


# ---- 3. handlers, runtime, architecture -----------------------------------------------------------------------
def test_every_function_runs_python313_on_arm64(template: dict[str, Any], function_ids: list[str]) -> None:
    """arm64 when deployed; the Architecture parameter exists for sam local invoke on x86_64 (make sam-local)."""
    architecture = template["Parameters"]["Architecture"]
    assert architecture["Default"] == "arm64" and architecture["AllowedValues"] == ["arm64", "x86_64"]
    for logical_id in function_ids:
        assert _function_setting(template, logical_id, "Runtime") == "python3.13", logical_id
        assert _function_setting(template, logical_id, "Architectures") == [{"Ref": "Architecture"}], logical_id


PARAMETER_SETS = {
    "defaults": {},
    "prod-like": {"EnforceMode": "enforce", "NotifyRemediations": "true", "NotificationEmail": "ops@example.com"},
    "audit-with-exclusions": {"EnforceMode": "audit", "TagMutability": "IMMUTABLE_WITH_EXCLUSION", "LogLevel": "DEBUG"},
    # A stack deployed before the rename, updated with its previous values: the deprecated names still decide.
    "deprecated-names": {
        "Mode": "audit",
        "RemediationNotificationEmail": "ops@example.com",
        "NotifyRemediations": "true",
    },
    "findings-all-on": {
        "AlertSeverityThreshold": "MEDIUM",
        "AlertOnlyFixable": "true",
        "SuppressionsParameterName": "/ecr-governance/suppressions",
        "ImportBasicFindingsToSecurityHub": "true",
        "AlertNotificationEmail": "security@example.com",
    },
    "organization-hub": {
        "Scope": "organization",
        "OrganizationId": "o-abcdefghij",
        "GovernedRegions": "ap-southeast-1,eu-west-1",
        "OrganizationalUnits": "ou-ab12-cdefghij",
    },
}


@pytest.mark.parametrize("overrides", PARAMETER_SETS.values(), ids=PARAMETER_SETS.keys())
def test_every_handler_imports_from_its_code_uri_with_the_template_environment(
    template: dict[str, Any],
    function_ids: list[str],
    tool_env: Any,
    overrides: dict[str, str],
    deployed_values: dict[str, str],
) -> None:
    """A fresh interpreter, as a cold start: the module-level composition root parses the template's settings."""
    for logical_id in function_ids:
        applicable = {name: value for name, value in overrides.items() if name in template["Parameters"]}
        spec = function_spec(template, logical_id, overrides=applicable, pseudo=PSEUDO)
        module_name, _, attribute = spec.handler.rpartition(".")
        code_dir = (PROJECT_ROOT / spec.code_uri).resolve()
        assert (code_dir / Path(*module_name.split("."))).with_suffix(".py").is_file(), spec.handler
        assert set(spec.unresolved) <= set(deployed_values), f"no deployed shape for {spec.unresolved}"
        deployed = {name: deployed_values[name] for name in spec.unresolved}
        probe = (
            "import importlib, sys; "
            f"module = importlib.import_module({module_name!r}); "
            f"handler = getattr(module, {attribute!r}); "
            "assert callable(handler); "
            f"assert module.__file__.startswith({str(code_dir)!r}), module.__file__; "
            "print('ok')"
        )
        result = subprocess.run(
            [sys.executable, "-c", probe],
            cwd=code_dir,
            env=tool_env(PYTHONPATH=str(code_dir), **spec.environment, **deployed),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0 and result.stdout.strip() == "ok", f"{logical_id}: {result.stderr}"


def test_every_function_logs_to_a_declared_group_with_the_retention_parameter(
    template: dict[str, Any], function_ids: list[str]
) -> None:
    """Without it Lambda creates /aws/lambda/<name> itself, kept forever; LogRetentionDays would do nothing."""
    for logical_id in function_ids:
        group = (_function_setting(template, logical_id, "LoggingConfig") or {}).get("LogGroup")
        assert isinstance(group, dict) and "Ref" in group, f"{logical_id} has no LoggingConfig.LogGroup"
        resource = template["Resources"][group["Ref"]]
        assert resource["Type"] == "AWS::Logs::LogGroup"
        assert resource["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}


# ---- 4. environment <-> settings <-> parameters ---------------------------------------------------------------
def test_environment_reader_finds_what_settings_reads() -> None:
    """The collector below is what the next test relies on: it must see settings.py's helper-based reads."""
    reads = _environment_reads(FUNCTIONS_DIR / "ecr_governance" / "enforce" / "settings.py")
    assert {"GOVERNANCE_MODE", "TAG_MUTABILITY", "ALLOWED_EXCLUSION_FILTERS", "GOVERNANCE_ROLE_ARN"} <= reads


def test_every_environment_variable_a_function_reads_is_declared(
    template: dict[str, Any], function_ids: list[str]
) -> None:
    powertools_variables = {
        value for value in vars(powertools_constants).values() if isinstance(value, str) and value.isupper()
    }
    for logical_id in function_ids:
        modules = _runtime_modules(_handler_module(template, logical_id))
        reads = set().union(*(_environment_reads(path) for path in modules.values()))
        declared = set(_declared_variables(template, logical_id))
        undeclared = reads - declared - LAMBDA_RESERVED_VARIABLES - SAM_LOCAL_VARIABLES
        assert undeclared == set(), f"{logical_id} reads undeclared environment variables"
        # Nothing declared is dead: each variable is read by our code or is a Powertools setting.
        unread = {name for name in declared - reads if name not in powertools_variables}
        assert unread == set(), f"{logical_id} declares environment variables nothing reads"
    # Each function's SETTINGS_DOCS is documented as the single source of truth of what its code reads.
    assert set(function_ids) == set(SETTINGS_OF_FUNCTION), "a function without a settings module in this test"
    for logical_id, settings_module in SETTINGS_OF_FUNCTION.items():
        modules = _runtime_modules(_handler_module(template, logical_id))
        reads = set().union(*(_environment_reads(path) for path in modules.values()))
        settings_reads = reads - LAMBDA_RESERVED_VARIABLES - SAM_LOCAL_VARIABLES - SDK_VARIABLES
        assert settings_reads == {doc.env for doc in settings_module.SETTINGS_DOCS}, logical_id


# Set by the Lambda runtime itself (reserved): code may read them, the template must not declare them.
LAMBDA_RESERVED_VARIABLES = {"AWS_REGION", "AWS_DEFAULT_REGION", "AWS_LAMBDA_FUNCTION_NAME", "AWS_EXECUTION_ENV"}
# Set by `sam local invoke` only (handlers/edge.py reads it): never declared, never set when deployed.
SAM_LOCAL_VARIABLES = {"AWS_SAM_LOCAL"}
# Read by botocore (and clients.py): declared empty so sam local invoke --env-vars can set them; not a setting.
SDK_VARIABLES = {"AWS_ENDPOINT_URL"}


def test_the_endpoint_variable_is_declared_empty_for_every_function(
    template: dict[str, Any], function_ids: list[str]
) -> None:
    for logical_id in function_ids:
        assert _declared_variables(template, logical_id)["AWS_ENDPOINT_URL"] == "", logical_id


def _resource_references(node: Any, resources: dict[str, Any], function: str) -> bool:
    """Whether a template value refers to one of the stack's resources (a Ref or GetAtt, under Fn::If too)."""
    if isinstance(node, list):
        return any(_resource_references(item, resources, function) for item in node)
    if not isinstance(node, dict):
        return False
    target = node.get("Ref") or (node.get("Fn::GetAtt") or [None])[0]
    if isinstance(target, str) and (target in resources or target == f"{function}Role"):
        return True
    return any(_resource_references(value, resources, function) for value in node.values())


def test_sam_local_knows_every_variable_set_from_the_stacks_own_resources(
    template: dict[str, Any], function_ids: list[str]
) -> None:
    """Under SAM local such a variable arrives as the resource's logical id: the edge refuses exactly these."""
    resources = template["Resources"]
    referring = {
        name
        for logical_id in function_ids
        for name, value in _declared_variables(template, logical_id).items()
        if _resource_references(value, resources, logical_id)
    }
    assert referring == RESOURCE_VARIABLES


def test_every_variable_read_under_functions_is_declared_or_reserved(
    template: dict[str, Any], function_ids: list[str]
) -> None:
    """Every read anywhere under functions/ is declared or reserved: developer tools live in cli/, outside it."""
    all_modules = {
        ".".join(path.relative_to(FUNCTIONS_DIR).with_suffix("").parts).removesuffix(".__init__"): path
        for package in ("ecr_governance", "handlers")
        for path in (FUNCTIONS_DIR / package).rglob("*.py")
    }
    declared = set().union(*(_declared_variables(template, logical_id) for logical_id in function_ids))
    readers: dict[str, set[str]] = {}
    for module, path in all_modules.items():
        for name in _environment_reads(path):
            readers.setdefault(name, set()).add(module)
    undeclared = {name: modules for name, modules in readers.items() if name not in declared}
    assert set(undeclared) <= LAMBDA_RESERVED_VARIABLES | SAM_LOCAL_VARIABLES, undeclared
    assert declared.isdisjoint(LAMBDA_RESERVED_VARIABLES), "the template sets a variable Lambda reserves"


def test_powertools_is_configured_by_the_template(template: dict[str, Any], function_ids: list[str]) -> None:
    """Metrics without a namespace fail at flush; logs without a service name are unattributable."""
    for logical_id in function_ids:
        declared = _declared_variables(template, logical_id)
        for name in ("POWERTOOLS_SERVICE_NAME", "POWERTOOLS_METRICS_NAMESPACE", "POWERTOOLS_LOG_LEVEL"):
            assert name in declared, f"{logical_id} lacks {name}"
        spec = function_spec(template, logical_id, pseudo=PSEUDO)
        assert spec.environment["POWERTOOLS_SERVICE_NAME"] == SERVICE_NAME


@pytest.mark.parametrize("logical_id", sorted(SETTINGS_OF_FUNCTION))
def test_every_setting_doc_is_a_declared_variable(template: dict[str, Any], logical_id: str) -> None:
    """Which Parameter feeds each variable, with which default and limits: test_parameter_reference.py."""
    declared = _declared_variables(template, logical_id)
    for doc in SETTINGS_OF_FUNCTION[logical_id].SETTINGS_DOCS:
        assert doc.env in declared, f"{doc.env} is documented but not in {logical_id}'s environment"


def test_derived_settings_come_from_the_functions_own_resources(template: dict[str, Any]) -> None:
    declared = _declared_variables(template, ENFORCE_FUNCTION)
    assert declared["GOVERNANCE_ROLE_ARN"] == {"Fn::GetAtt": [f"{ENFORCE_FUNCTION}Role", "Arn"]}
    condition, when_true, when_false = declared["REMEDIATION_TOPIC_ARN"]["Fn::If"]
    assert template["Resources"][when_true["Ref"]]["Type"] == "AWS::SNS::Topic"
    assert template["Resources"][when_true["Ref"]].get("Condition") == condition
    assert when_false == ""


def test_the_alerts_topic_and_the_idempotency_table_are_the_stacks_own(template: dict[str, Any]) -> None:
    declared = _declared_variables(template, FINDINGS_FUNCTION)
    resources = template["Resources"]
    topic = resources[declared["ALERTS_TOPIC_ARN"]["Ref"]]
    assert topic["Type"] == "AWS::SNS::Topic" and "Condition" not in topic  # alerts always have somewhere to go
    assert declared["ALERTS_TOPIC_ARN"] == _declared_variables(template, INSPECTOR_FUNCTION)["ALERTS_TOPIC_ARN"]
    table = resources[declared["IDEMPOTENCY_TABLE_NAME"]["Ref"]]["Properties"]
    # What Powertools' persistence layer writes: partition key `id`, expiry epoch seconds in `expiration`.
    persistence = IdempotencyTable(object(), "table").persistence_layer()
    assert table["BillingMode"] == "PAY_PER_REQUEST"
    assert table["KeySchema"] == [{"AttributeName": persistence.key_attr, "KeyType": "HASH"}]
    assert table["AttributeDefinitions"] == [{"AttributeName": persistence.key_attr, "AttributeType": "S"}]
    assert table["TimeToLiveSpecification"] == {"AttributeName": persistence.expiry_attr, "Enabled": True}


def _parameters_referenced(node: Any, template: dict[str, Any]) -> set[str]:
    """Template Parameters a value depends on, through Ref, Fn::If and Conditions."""
    if isinstance(node, list):
        return set().union(set(), *(_parameters_referenced(item, template) for item in node))
    if not isinstance(node, dict):
        return set()
    found: set[str] = set()
    for key, value in node.items():
        if key == "Ref" and value in template.get("Parameters", {}):
            found.add(value)
        elif key == "Condition" and isinstance(value, str):
            found |= _parameters_referenced(template["Conditions"][value], template)
        elif key == "Fn::If":
            found |= _parameters_referenced(template["Conditions"][value[0]], template)
            found |= _parameters_referenced(value[1:], template)
        else:
            found |= _parameters_referenced(value, template)
    return found


def test_derived_setting_docs_name_the_parameter_that_controls_them(template: dict[str, Any]) -> None:
    declared = _declared_variables(template, ENFORCE_FUNCTION)
    topic_doc = next(doc for doc in settings.SETTINGS_DOCS if doc.env == "REMEDIATION_TOPIC_ARN")
    assert topic_doc.parameter in _parameters_referenced(declared["REMEDIATION_TOPIC_ARN"], template)


def test_the_environment_fits_lambdas_4_kb_limit_even_with_the_standard_policy_passed_explicitly(
    template: dict[str, Any], function_ids: list[str]
) -> None:
    """Lambda rejects a function whose environment variables total more than 4 KB (names and values)."""
    overrides = {"StandardLifecyclePolicy": json.dumps(json.loads(STANDARD_POLICY_PATH.read_text()))}
    longest_arn = "arn:aws:iam::123456789012:role/" + "r" * 64  # IAM role names are at most 64 characters
    for logical_id in function_ids:
        applicable = {k: v for k, v in overrides.items() if k in template["Parameters"]}
        spec = function_spec(template, logical_id, overrides=applicable, pseudo=PSEUDO)
        environment = {**spec.environment, **{name: longest_arn for name in spec.unresolved}}
        size = sum(len(name.encode()) + len(value.encode()) for name, value in environment.items())
        assert size <= 4096, f"{logical_id}: {size} bytes of environment"
    # And the policy passed through the Parameter is the policy the function enforces.
    spec = function_spec(template, ENFORCE_FUNCTION, overrides=overrides, pseudo=PSEUDO)
    enforced = settings.EnforceSettings.from_environ(spec.environment).standard_lifecycle_policy
    assert enforced == json.loads(STANDARD_POLICY_PATH.read_text())


def test_template_defaults_give_the_settings_the_code_defaults_to(template: dict[str, Any]) -> None:
    spec = function_spec(template, ENFORCE_FUNCTION, pseudo=PSEUDO)
    assert set(spec.unresolved) == {"GOVERNANCE_ROLE_ARN"}  # the topic is "" while NotifyRemediations=false
    assert settings.EnforceSettings.from_environ(spec.environment) == settings.EnforceSettings.from_environ({})
    spec = function_spec(template, FINDINGS_FUNCTION, pseudo=PSEUDO)
    # exist once deployed
    assert set(spec.unresolved) == {"ALERTS_TOPIC_ARN", "IDEMPOTENCY_TABLE_NAME", "ALERT_LEDGER_TABLE"}
    local = scan_settings.ScanFindingsSettings.from_environ(spec.environment)
    assert local == scan_settings.ScanFindingsSettings.from_environ({})
    spec = function_spec(template, INSPECTOR_FUNCTION, pseudo=PSEUDO)
    assert set(spec.unresolved) == {"ALERTS_TOPIC_ARN", "ALERT_LEDGER_TABLE"}
    assert findings_settings.FindingsSettings.from_environ(spec.environment) == findings_settings.FindingsSettings()


@pytest.mark.parametrize(
    ("parameter", "accepted", "read"),
    [
        ("AlertSeverityThreshold", {str(s) for s in Severity}, lambda s: str(s.severity_threshold)),
        ("AlertOnlyFixable", {"true", "false"}, lambda s: str(s.only_fixable).lower()),
        ("ImportBasicFindingsToSecurityHub", {"true", "false"}, lambda s: str(s.import_to_security_hub).lower()),
    ],
)
def test_findings_parameter_allowed_values_are_exactly_what_the_code_accepts(
    template: dict[str, Any], parameter: str, accepted: set[str], read: Any
) -> None:
    assert set(template["Parameters"][parameter]["AllowedValues"]) == accepted
    for value in accepted:
        spec = function_spec(template, FINDINGS_FUNCTION, overrides={parameter: value}, pseudo=PSEUDO)
        assert read(scan_settings.ScanFindingsSettings.from_environ(spec.environment)) == value


def test_the_suppressions_parameter_pattern_is_what_the_code_accepts(template: dict[str, Any]) -> None:
    pattern = re.compile(template["Parameters"]["SuppressionsParameterName"]["AllowedPattern"])
    for name, valid in (("", True), ("/ecr-governance/suppressions", True), ("suppressions", False), ("/a b", False)):
        assert bool(pattern.fullmatch(name)) is valid, name
        try:
            findings_settings.FindingsSettings.from_environ({"SUPPRESSIONS_PARAMETER_NAME": name})
            accepted = True
        except SettingsError:
            accepted = False
        assert accepted is valid, name


@pytest.mark.parametrize(
    ("parameter", "environment_variable", "accepted"),
    [
        ("EnforceMode", "GOVERNANCE_MODE", {str(mode) for mode in settings.Mode}),
        ("TagMutability", "TAG_MUTABILITY", {str(m) for m in settings.COMPLIANT_TARGET_MUTABILITIES}),
    ],
)
def test_parameter_allowed_values_are_exactly_what_the_code_accepts(
    template: dict[str, Any], parameter: str, environment_variable: str, accepted: set[str]
) -> None:
    allowed = template["Parameters"][parameter]["AllowedValues"]
    assert set(allowed) == accepted
    for value in allowed:  # each one starts the function (no SettingsError at cold start)
        spec = function_spec(template, ENFORCE_FUNCTION, overrides={parameter: value}, pseudo=PSEUDO)
        assert (
            str(getattr(settings.EnforceSettings.from_environ(spec.environment), _field(environment_variable))) == value
        )


def _field(environment_variable: str) -> str:
    return {"GOVERNANCE_MODE": "mode", "TAG_MUTABILITY": "tag_mutability"}[environment_variable]


# ---- 5. IAM least privilege: the template grants exactly what the adapter methods a function uses declare ------
def _handler_module_object(template: dict[str, Any], logical_id: str) -> Any:
    """The handler module (its composition root runs: the test environment provides region and credentials)."""
    return importlib.import_module(_handler_module(template, logical_id))


REPOSITORY_RESOURCE = {"Fn::Sub": "arn:${AWS::Partition}:ecr:${AWS::Region}:${AWS::AccountId}:repository/*"}
SECURITY_HUB_PRODUCT = {
    "Fn::Sub": "arn:${AWS::Partition}:securityhub:${AWS::Region}:${AWS::AccountId}:product/${AWS::AccountId}/default"
}
# Reading findings is authorized on the account's hub (GetFindings' resource type), importing them on the product.
SECURITY_HUB_RESOURCES = {
    "securityhub:BatchImportFindings": SECURITY_HUB_PRODUCT,
    "securityhub:GetFindings": {
        "Fn::Sub": "arn:${AWS::Partition}:securityhub:${AWS::Region}:${AWS::AccountId}:hub/default"
    },
}


def _names_in(node: Any) -> set[str]:
    """Every Ref / GetAtt target inside a value (an environment variable's, say)."""
    if isinstance(node, list):
        return set().union(set(), *map(_names_in, node))
    if not isinstance(node, dict):
        return set()
    found = set().union(set(), *map(_names_in, node.values()))
    if isinstance(node.get("Ref"), str):
        found.add(node["Ref"])
    if isinstance(node.get("Fn::GetAtt"), list):
        found.add(node["Fn::GetAtt"][0])
    return found


def _resource_is_scoped(template: dict[str, Any], logical_id: str, action: str, resource: Any) -> bool:
    """Each action on the narrowest resource it can have: ECR on repositories (registry-level actions on *), SNS on
    a topic and DynamoDB on a table the function's environment names, SQS on a queue the template declares, SSM on
    the parameter its setting names, Security Hub on the account's own product, Lambda on the function itself."""
    fixed = _fixed_resource(action)
    if fixed is not None:
        return resource == fixed
    return _is_the_stacks_own(template, logical_id, action, resource)


NO_RESOURCE_FITS = object()


def _fixed_resource(action: str) -> Any:
    """The one resource an action may name whatever the function, or None when it is one of the stack's own."""
    service = action.split(":", 1)[0]
    if action in RESOURCE_STAR_ACTIONS:
        return "*"
    if service == "ecr":
        return REPOSITORY_RESOURCE
    if action == "iam:CreateServiceLinkedRole":
        return TEMPLATE_SERVICE_LINKED_ROLE
    if action == "sts:AssumeRole":  # an organization hub: the members' governance role, by its name, only
        return MEMBER_ROLES
    if service == "securityhub":
        return SECURITY_HUB_RESOURCES.get(action, NO_RESOURCE_FITS)
    return None


def _is_the_stacks_own(template: dict[str, Any], logical_id: str, action: str, resource: Any) -> bool:
    resources = template["Resources"]
    named = _names_in(_declared_variables(template, logical_id))
    service = action.split(":", 1)[0]
    target = resource.get("Fn::GetAtt", [None, None]) if isinstance(resource, dict) else [None, None]
    if action == "lambda:InvokeFunction":  # a reconcile continuing in a new invocation of the function itself
        own_name = _properties(template, logical_id).get("FunctionName")
        return isinstance(own_name, dict) and resource == {
            "Fn::Sub": "arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:" + own_name["Fn::Sub"]
        }
    if service == "sns":
        topic = resource.get("Ref") if isinstance(resource, dict) else None
        return resources.get(topic, {}).get("Type") == "AWS::SNS::Topic" and topic in named
    if service == "dynamodb":
        table = resources.get(target[0], {})
        return table.get("Type") == "AWS::DynamoDB::Table" and target[1] == "Arn" and target[0] in named
    if service == "ssm":
        return any(
            resource
            == {"Fn::Sub": f"arn:${{AWS::Partition}}:ssm:${{AWS::Region}}:${{AWS::AccountId}}:parameter${{{p}}}"}
            for p in named
            if p in template["Parameters"]
        )
    if service == "sqs":  # a queue this template declares (the sweep's, polled by its worker or fed by its planner)
        return resources.get(target[0], {}).get("Type") == "AWS::SQS::Queue" and target[1] == "Arn"
    return False  # a service without a rule here: add one, as narrow as IAM allows


def _inline_grants(template: dict[str, Any], logical_id: str, statements: list[dict[str, Any]]) -> set[str]:
    granted: set[str] = set()
    for statement in statements:
        assert statement["Effect"] == "Allow"
        actions = set(_as_list(statement["Action"]))
        assert not any("*" in action for action in actions), f"wildcard action in {statement.get('Sid')}"
        for action in actions:
            for resource in _as_list(statement["Resource"]):
                assert _resource_is_scoped(template, logical_id, action, resource), (logical_id, action, resource)
        granted |= actions
    return granted


def _sam_policy_actions(template_name: str) -> set[str]:
    sam_policies = Path(samtranslator.__file__).parent / "policy_templates_data" / "policy_templates.json"
    definition = json.loads(sam_policies.read_text())["Templates"][template_name]["Definition"]
    return {action for statement in definition["Statement"] for action in _as_list(statement["Action"])}


def _conditional_grants(template: dict[str, Any], logical_id: str) -> dict[str, set[str]]:
    """Condition -> the actions granted only under it (inline statements or a SAM policy template inside Fn::If)."""
    _, others = _policy_statements(template, logical_id)
    grants: dict[str, set[str]] = {}
    for policy in others:
        assert set(policy) == {"Fn::If"}, f"{logical_id}: a policy that is neither inline nor conditional: {policy}"
        condition, when_true, otherwise = policy["Fn::If"]
        assert otherwise == {"Ref": "AWS::NoValue"}
        if "Statement" in when_true:
            actions = _inline_grants(template, logical_id, when_true["Statement"])
        else:
            ((template_name, _arguments),) = when_true.items()
            actions = _sam_policy_actions(template_name)
        grants.setdefault(condition, set()).update(actions)
    return grants


def test_each_function_is_granted_exactly_the_aws_actions_its_code_declares(
    template: dict[str, Any], function_ids: list[str]
) -> None:
    for logical_id in function_ids:
        declared = set(_handler_module_object(template, logical_id).IAM_ACTIONS)
        statements, _ = _policy_statements(template, logical_id)
        granted = _inline_grants(template, logical_id, statements)
        assert granted == declared, (
            f"{logical_id}: granted - declared {granted - declared}, missing {declared - granted}"
        )


def test_conditional_permissions_exist_exactly_when_the_setting_that_needs_them_is_on(
    template: dict[str, Any], function_ids: list[str]
) -> None:
    """A handler's CONDITIONAL_IAM_ACTIONS maps the setting that turns a feature on to the actions it needs; the
    template grants those actions under a Condition on the same Parameters, and that Condition holds exactly when
    the setting is on (non-empty, not "false", or a resource that exists once deployed)."""
    for logical_id in function_ids:
        wanted = getattr(_handler_module_object(template, logical_id), "CONDITIONAL_IAM_ACTIONS", {})
        declared = _declared_variables(template, logical_id)
        grants = _conditional_grants(template, logical_id)
        by_setting: dict[str, set[str]] = {}
        for condition, actions in grants.items():
            controlled = _parameters_referenced({"Condition": condition}, template)
            (setting,) = [name for name in wanted if controlled & _parameters_referenced(declared[name], template)]
            by_setting[setting] = actions
            for overrides in PARAMETER_SETS.values():
                applicable = {k: v for k, v in overrides.items() if k in template["Parameters"]}
                spec = function_spec(template, logical_id, overrides=applicable, pseudo=PSEUDO)
                on = setting in spec.unresolved or spec.environment.get(setting, "") not in ("", "false")
                assert condition_value(template, condition, applicable, PSEUDO) is on, (logical_id, condition)
        assert by_setting == {name: set(actions) for name, actions in wanted.items()}, logical_id


def test_notification_permission_exists_exactly_when_the_topic_is_set(template: dict[str, Any]) -> None:
    _, others = _policy_statements(template, ENFORCE_FUNCTION)
    assert all("Fn::If" in other for other in others), others  # no managed policies besides the conditional ones
    (notify,) = [other for other in others if other["Fn::If"][0] != "OrganizationScope"]
    condition, policy, otherwise = notify["Fn::If"]
    assert otherwise == {"Ref": "AWS::NoValue"}
    topic_condition = _declared_variables(template, ENFORCE_FUNCTION)["REMEDIATION_TOPIC_ARN"]["Fn::If"][0]
    assert condition == topic_condition
    ((template_name, arguments),) = policy.items()
    assert arguments == {"TopicName": {"Fn::GetAtt": ["RemediationTopic", "TopicName"]}}
    assert _sam_policy_actions(template_name) == set(
        _handler_module_object(template, ENFORCE_FUNCTION).NOTIFY_IAM_ACTIONS
    )


# ---- 6. triggers ----------------------------------------------------------------------------------------------
def _events_of(template: dict[str, Any], logical_id: str, event_type: str) -> list[dict[str, Any]]:
    return [
        event["Properties"]
        for event in (_properties(template, logical_id).get("Events") or {}).values()
        if event["Type"] == event_type
    ]


def test_cloudtrail_rule_matches_exactly_the_enforced_event_names(template: dict[str, Any]) -> None:
    (rule,) = _events_of(template, ENFORCE_FUNCTION, "EventBridgeRule")
    pattern = rule["Pattern"]
    assert pattern["source"] == ["aws.ecr"]
    assert pattern["detail-type"] == [events.CLOUDTRAIL_DETAIL_TYPE] == ["AWS API Call via CloudTrail"]
    assert pattern["detail"]["eventSource"] == [events.ECR_EVENT_SOURCE] == ["ecr.amazonaws.com"]
    names = pattern["detail"]["eventName"]
    assert len(names) == len(set(names))
    assert set(names) == set(events.ENFORCED_EVENT_NAMES)


def test_scan_rules_match_exactly_the_parsed_event_kinds_of_the_functions_own_account(template: dict[str, Any]) -> None:
    rules = _events_of(template, FINDINGS_FUNCTION, "EventBridgeRule")
    kinds = set()
    for rule in rules:
        pattern = rule["Pattern"]
        ((source,), (detail_type,)) = pattern["source"], pattern["detail-type"]
        assert (source, detail_type) in findings_events.EVENT_KINDS
        kinds.add((source, detail_type))
        assert pattern["account"] == [{"Ref": "AWS::AccountId"}]  # a partner bus's events are never read
        # Every scan status reaches the function: a failed scan is logged and counted, not dropped by the rule.
        assert "scan-status" not in pattern.get("detail", {})
    assert kinds == set(findings_events.EVENT_KINDS)
    enhanced = next(r["Pattern"] for r in rules if r["Pattern"]["source"] == ["aws.inspector2"])
    # Inspector's scans of EC2 instances and Lambda functions name no repository: the rule keeps them out.
    assert enhanced["detail"] == {"repository-name": [{"prefix": "arn:"}]}


def test_scan_failures_are_kept_and_alarmed_on_the_operations_topic(template: dict[str, Any]) -> None:
    properties = _properties(template, FINDINGS_FUNCTION)
    invoke = properties["EventInvokeConfig"]
    assert invoke["MaximumRetryAttempts"] == 2 and invoke["MaximumEventAgeInSeconds"] <= 6 * 3600
    queue = invoke["DestinationConfig"]["OnFailure"]["Destination"]["Fn::GetAtt"][0]
    assert template["Resources"][queue]["Type"] == "AWS::SQS::Queue"
    (alarm,) = _queue_alarms(template, queue)
    # An alarm about the alerts must not go through the alerts topic it may be reporting on.
    assert alarm["AlarmActions"] == [{"Ref": "OperationsTopic"}]


def _queue_alarms(template: dict[str, Any], queue: str) -> list[dict[str, Any]]:
    return [
        r["Properties"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::CloudWatch::Alarm"
        and r["Properties"].get("Dimensions") == [{"Name": "QueueName", "Value": {"Fn::GetAtt": [queue, "QueueName"]}}]
    ]


def test_inspector_finding_events_are_batched_from_a_queue_with_a_dead_letter_queue(template: dict[str, Any]) -> None:
    resources = template["Resources"]
    (mapping,) = [
        r["Properties"]
        for r in resources.values()
        if r["Type"] == "AWS::Lambda::EventSourceMapping"
        and r["Properties"]["FunctionName"] == {"Ref": INSPECTOR_FUNCTION}
    ]
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["MaximumBatchingWindowInSeconds"] == {"Ref": "InspectorFindingsBatchWindowSeconds"}
    window = template["Parameters"]["InspectorFindingsBatchWindowSeconds"]
    # Lambda refuses a batch size above 10 without a window of at least 1 s.
    assert mapping["BatchSize"] <= 10 or window["MinValue"] >= 1
    queue = mapping["EventSourceArn"]["Fn::GetAtt"][0]
    queue_properties = resources[queue]["Properties"]
    # AWS's advice for a Lambda event source: a visibility timeout of 6 x the function's timeout.
    assert queue_properties["VisibilityTimeout"] >= 6 * _function_setting(template, INSPECTOR_FUNCTION, "Timeout")
    dead_letters = queue_properties["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
    (alarm,) = _queue_alarms(template, dead_letters)
    assert alarm["AlarmActions"] == [{"Ref": "OperationsTopic"}]
    rule = resources["InspectorFindingsRule"]["Properties"]
    pattern = rule["EventPattern"]
    assert (pattern["source"], pattern["detail-type"]) == ([finding_events.SOURCE], [finding_events.DETAIL_TYPE])
    assert pattern["account"] == [{"Ref": "AWS::AccountId"}]
    assert pattern["detail"] == {"resources": {"type": [finding_events.ECR_IMAGE]}}
    assert rule["Targets"] == [{"Id": queue, "Arn": {"Fn::GetAtt": [queue, "Arn"]}}]


OPERATIONS_METRIC_ALARMS = {
    "EventsRejectedAlarm": "EventsRejected",
    "AlertLedgerFailuresAlarm": "AlertLedgerFailures",
    "SuppressionProblemsAlarm": "SuppressionProblems",
    "SecurityHubImportFailuresAlarm": "SecurityHubImportFailures",
}


def test_operational_alarms_watch_metrics_the_findings_handlers_emit(template: dict[str, Any]) -> None:
    resources = template["Resources"]
    namespace = template["Globals"]["Function"]["Environment"]["Variables"]["POWERTOOLS_METRICS_NAMESPACE"]
    sources = "".join(
        (FUNCTIONS_DIR / "handlers" / name).read_text()
        for name in ("scan_findings.py", "inspector_findings.py", "edge.py")
    )
    for alarm_id, metric in OPERATIONS_METRIC_ALARMS.items():
        alarm = resources[alarm_id]["Properties"]
        assert (alarm["Namespace"], alarm["MetricName"]) == (namespace, metric)
        assert alarm["Dimensions"] == [{"Name": "service", "Value": SERVICE_NAME}]  # Powertools' service dimension
        assert f'"{metric}"' in sources, f"no handler emits {metric}"
        assert alarm["AlarmActions"] == [{"Ref": "OperationsTopic"}]
    dropped = resources["AlertsDroppedAlarm"]["Properties"]
    assert (dropped["Namespace"], dropped["MetricName"]) == ("AWS/SNS", "NumberOfNotificationsFailed")
    assert dropped["Dimensions"] == [{"Name": "TopicName", "Value": {"Fn::GetAtt": ["AlertsTopic", "TopicName"]}}]
    assert resources["OperationsTopic"]["Properties"].get("KmsMasterKeyId") != "alias/aws/sns"


def test_the_alert_ledger_table_is_what_the_adapter_writes(template: dict[str, Any]) -> None:
    table = template["Resources"]["AlertLedgerTable"]["Properties"]
    assert table["KeySchema"] == [
        {"AttributeName": "image", "KeyType": "HASH"},
        {"AttributeName": "subject", "KeyType": "RANGE"},
    ]
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expiresAt", "Enabled": True}
    for function in (FINDINGS_FUNCTION, INSPECTOR_FUNCTION):
        assert _declared_variables(template, function)["ALERT_LEDGER_TABLE"] == {"Ref": "AlertLedgerTable"}


def test_daily_reconcile_schedule_is_the_reconcile_schedule_parameter(template: dict[str, Any]) -> None:
    (schedule,) = _events_of(template, ENFORCE_FUNCTION, "Schedule")
    assert schedule["Schedule"] == {"Ref": "ReconcileSchedule"}
    default = template["Parameters"]["ReconcileSchedule"]["Default"]
    assert re.fullmatch(r"rate\(\d+ (minute|minutes|hour|hours|day|days)\)|cron\(.+\)", default), default


def test_each_function_has_a_timeout_sized_to_its_work(template: dict[str, Any], function_ids: list[str]) -> None:
    """Not one 900 s for all: each function states its own, and what depends on it stays true."""
    timeouts = {logical_id: _properties(template, logical_id)["Timeout"] for logical_id in function_ids}
    assert "Timeout" not in template["Globals"]["Function"]
    assert len(set(timeouts.values())) > 1 and all(3 <= t <= 900 for t in timeouts.values()), timeouts
    # A reconcile hands on TIME_RESERVE_MILLIS before the end: a piece must have at least as long again to work.
    for logical_id in (ENFORCE_FUNCTION, "EnforceMemberFunction"):
        reserve = _handler_module_object(template, logical_id).TIME_RESERVE_MILLIS / 1000
        assert timeouts[logical_id] >= 2 * reserve, logical_id
    # An alert ledger claim outlives the invocation holding it only when that invocation crashed.
    assert max(timeouts[FINDINGS_FUNCTION], timeouts[INSPECTOR_FUNCTION]) < LEASE_SECONDS
    # Every queue a function polls keeps a message hidden for 6 x that function's timeout (AWS's advice).
    for mapping in template["Resources"].values():
        if mapping["Type"] == "AWS::Lambda::EventSourceMapping":
            function = mapping["Properties"]["FunctionName"]["Ref"]
            queue = template["Resources"][mapping["Properties"]["EventSourceArn"]["Fn::GetAtt"][0]]
            assert queue["Properties"]["VisibilityTimeout"] >= 6 * timeouts[function], function


def test_enforcement_runs_one_invocation_at_a_time(template: dict[str, Any]) -> None:
    """Registry scanning is read-modify-write: concurrent invocations would overwrite each other's filters."""
    properties = template["Resources"][ENFORCE_FUNCTION]["Properties"]
    assert properties["ReservedConcurrentExecutions"] == 1
    assert properties["EventInvokeConfig"]["MaximumEventAgeInSeconds"] >= 3600  # queued events outlive a reconcile


def test_alarms_watch_metrics_the_handler_emits_and_reach_the_topic(template: dict[str, Any]) -> None:
    emitted = set(invocation.METRIC_BY_ACTION.values())  # what the enforce handler emits per decision action
    resources = template["Resources"]
    namespace = template["Globals"]["Function"]["Environment"]["Variables"]["POWERTOOLS_METRICS_NAMESPACE"]
    metric_alarms = [
        resources[name]["Properties"] for name in ("RemediationFailuresAlarm", "ViolationsNotRemediableAlarm")
    ]
    for alarm in metric_alarms:
        assert alarm["Namespace"] == namespace
        assert alarm["MetricName"] in emitted
        assert alarm["Dimensions"] == [{"Name": "service", "Value": SERVICE_NAME}]  # Powertools' service dimension
    assert {alarm["MetricName"] for alarm in metric_alarms} == {"RemediationsFailed", "ViolationsNotRemediable"}
    queue = resources["EnforceRepositoryFailuresAlarm"]["Properties"]
    assert queue["Dimensions"][0]["Value"] == {"Fn::GetAtt": ["EnforceRepositoryFailures", "QueueName"]}
    for alarm in (*metric_alarms, queue):
        assert alarm["AlarmActions"] == {"Fn::If": ["Notify", [{"Ref": "RemediationTopic"}], {"Ref": "AWS::NoValue"}]}
    # CloudWatch cannot publish to a topic encrypted with the AWS-managed SNS key.
    assert resources["RemediationTopic"]["Properties"].get("KmsMasterKeyId") != "alias/aws/sns"


# ---- 7. the standard lifecycle policy ------------------------------------------------------------------------
def test_standard_lifecycle_policy_is_valid_without_warnings() -> None:
    report = validate_policy(STANDARD_POLICY_PATH.read_text())
    assert report.errors == []
    assert report.warnings == []


# ---- 8. sample events -----------------------------------------------------------------------------------------
def test_there_are_sample_events() -> None:
    assert len(ENFORCE_EVENTS) >= len(events.ENFORCED_EVENT_NAMES)


@pytest.mark.parametrize("event_file", ENFORCE_EVENTS, ids=[path.name for path in ENFORCE_EVENTS])
def test_every_sample_event_parses(event_file: Path) -> None:
    try:
        events.parse_enforcement_trigger(json.loads(event_file.read_text()), SAMPLE_PROVENANCE)
    except InvalidEvent as error:
        pytest.fail(f"{event_file.name}: {error}")


def test_sample_events_cover_every_enforced_event_name_and_the_schedule() -> None:
    triggers = {
        path.name: events.parse_enforcement_trigger(json.loads(path.read_text()), SAMPLE_PROVENANCE)
        for path in ENFORCE_EVENTS
    }
    covered = {trigger.event_name for trigger in triggers.values() if trigger.event_name}
    assert covered >= set(events.ENFORCED_EVENT_NAMES), set(events.ENFORCED_EVENT_NAMES) - covered
    assert triggers["scheduled-reconcile.json"].kind is events.TriggerKind.SCHEDULE


def test_own_remediation_sample_carries_the_role_arn_the_template_passes_as_governance_role_arn(
    template: dict[str, Any],
) -> None:
    """GOVERNANCE_ROLE_ARN is !GetAtt <Function>Role.Arn (an IAM role ARN, not the STS assumed-role ARN); the loop
    guard compares it with the actor parsed from CloudTrail, so the actor must be the session issuer's role ARN."""
    assert _declared_variables(template, ENFORCE_FUNCTION)["GOVERNANCE_ROLE_ARN"]["Fn::GetAtt"][1] == "Arn"
    sample = json.loads((PROJECT_ROOT / "events" / "enforce" / "own-remediation.json").read_text())
    trigger = events.parse_enforcement_trigger(sample, SAMPLE_PROVENANCE)
    assert re.fullmatch(rf"arn:aws:iam::\d{{12}}:role/[\w+=,.@/-]*{ENFORCE_FUNCTION}Role[\w+=,.@-]*", trigger.actor_arn)
    assert trigger.caused_by(trigger.actor_arn)
    assert not trigger.caused_by(sample["detail"]["userIdentity"]["arn"])  # the assumed-role ARN is not the role


LOCAL_LOCATION = Location(PSEUDO["AWS::Partition"], PSEUDO["AWS::AccountId"], PSEUDO["AWS::Region"])


@pytest.mark.parametrize("event_file", FINDINGS_EVENTS, ids=[path.name for path in FINDINGS_EVENTS])
def test_every_findings_sample_event_parses_for_the_account_and_region_local_invokes_use(event_file: Path) -> None:
    try:
        findings_events.parse_scan_event(json.loads(event_file.read_text()), LOCAL_LOCATION)
    except InvalidEvent as error:
        pytest.fail(f"{event_file.name}: {error}")


@pytest.mark.parametrize("event_file", INSPECTOR_FINDING_EVENTS, ids=[path.name for path in INSPECTOR_FINDING_EVENTS])
def test_every_inspector_finding_sample_parses_as_the_event_or_in_the_sqs_batch_that_carries_it(
    event_file: Path,
) -> None:
    sample = json.loads(event_file.read_text())
    events_in_it = [json.loads(record["body"]) for record in sample["Records"]] if "Records" in sample else [sample]
    for event in events_in_it:
        parsed = finding_events.parse_finding_event(event, LOCAL_LOCATION)
        assert parsed.images and parsed.finding.id.startswith("CVE-")


# ---- 11. samconfig.toml ---------------------------------------------------------------------------------------
def test_samconfig_targets_ap_southeast_1_with_dev_and_prod_environments() -> None:
    config = tomllib.loads((PROJECT_ROOT / "samconfig.toml").read_text())
    assert config["default"]["global"]["parameters"]["region"] == "ap-southeast-1"
    for environment in ("dev", "prod"):
        assert environment in config, f"samconfig.toml has no [{environment}] environment"
        assert config[environment].get("deploy", {}).get("parameters"), f"[{environment}] cannot deploy"
        region = config[environment].get("global", {}).get("parameters", {}).get("region", "ap-southeast-1")
        assert region == "ap-southeast-1"


def test_samconfig_parameter_overrides_name_real_parameters_with_allowed_values(template: dict[str, Any]) -> None:
    config = tomllib.loads((PROJECT_ROOT / "samconfig.toml").read_text())
    parameters = template["Parameters"]
    for environment, sections in config.items():
        if not isinstance(sections, dict):
            continue
        overrides = sections.get("deploy", {}).get("parameters", {}).get("parameter_overrides")
        if not overrides:
            continue
        for pair in overrides.split():
            name, _, value = pair.partition("=")
            if environment == "retail-api":
                continue  # another template (server/template.yaml)
            assert name in parameters, f"[{environment}] overrides unknown parameter {name}"
            allowed = parameters[name].get("AllowedValues")
            assert allowed is None or value in map(str, allowed), f"[{environment}] {name}={value}"

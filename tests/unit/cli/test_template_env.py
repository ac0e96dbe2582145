"""Reading template.yaml for `invoke`: handler, CodeUri and the environment resolved as CloudFormation would."""

import pytest
from ecr_governance.errors import InputError
from ecr_governance_cli.template_env import function_spec, load_template
from registry_builders import TEMPLATE


def test_enforce_function_environment_from_parameter_defaults():
    spec = function_spec(load_template(TEMPLATE), "EnforceRepositoryFunction")
    assert spec.handler == "handlers.enforce_repository.handler"
    assert spec.code_uri == "functions/"
    assert spec.environment["GOVERNANCE_MODE"] == "enforce"
    assert spec.environment["POWERTOOLS_SERVICE_NAME"] == "ecr-governance"  # from Globals
    assert spec.environment["REMEDIATION_TOPIC_ARN"] == ""  # Notify condition false by default
    assert spec.unresolved == ["GOVERNANCE_ROLE_ARN"]  # a role ARN exists only once deployed


def test_overrides_flow_through_conditions():
    spec = function_spec(
        load_template(TEMPLATE), "EnforceRepositoryFunction", {"EnforceMode": "audit", "NotifyRemediations": "true"}
    )
    assert spec.environment["GOVERNANCE_MODE"] == "audit"
    assert "REMEDIATION_TOPIC_ARN" in spec.unresolved


def test_unknown_function_and_parameter_are_named(tmp_path):
    template = load_template(TEMPLATE)
    with pytest.raises(InputError, match="no function 'Nope'.*EnforceRepositoryFunction"):
        function_spec(template, "Nope")
    with pytest.raises(InputError, match="unknown template parameter.*Moed"):
        function_spec(template, "EnforceRepositoryFunction", {"Moed": "audit"})
    broken = tmp_path / "t.yaml"
    broken.write_text("Resources: [\n")
    with pytest.raises(InputError, match="not valid YAML"):
        load_template(broken)
    with pytest.raises(InputError, match="cannot read template"):
        load_template(tmp_path / "missing.yaml")

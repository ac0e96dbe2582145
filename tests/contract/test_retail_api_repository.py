"""The retail API's repository (server/repository.yaml) is declared as the governance standard requires it."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from ecr_governance.enforce.model import Status
from ecr_governance.enforce.scanning import RegistryScanning
from ecr_governance.enforce.settings import EnforceSettings
from ecr_governance.enforce.standard import check_lifecycle_policy, check_repository_scan_on_push, check_tag_mutability
from ecr_governance.repositories import Repository
from ecr_governance_cli.template_env import function_spec, load_template

PROJECT_ROOT = Path(__file__).resolve().parents[2]
REPOSITORY_TEMPLATE = PROJECT_ROOT / "server" / "repository.yaml"
STANDARD_POLICY = PROJECT_ROOT / "functions" / "ecr_governance" / "lifecycle" / "policies" / "standard-lifecycle.json"
PSEUDO = {"AWS::Region": "ap-southeast-1", "AWS::AccountId": "123456789012", "AWS::Partition": "aws"}
# ECR's repository name rule.
ECR_REPOSITORY_NAME = r"(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*"


@pytest.fixture(scope="module")
def repository_template() -> dict[str, Any]:
    return load_template(REPOSITORY_TEMPLATE)


def test_the_repository_is_declared_immutable_scanned_with_the_standard_policy_and_retained(repository_template):
    repository = repository_template["Resources"]["RetailApiRepository"]
    assert repository["Type"] == "AWS::ECR::Repository"
    assert repository["DeletionPolicy"] == repository["UpdateReplacePolicy"] == "Retain"
    properties = repository["Properties"]
    assert repository_template["Parameters"]["RepositoryName"]["Default"] == "mlops/retail-api"
    assert properties["ImageTagMutability"] == "IMMUTABLE"
    assert properties["ImageScanningConfiguration"]["ScanOnPush"] is True
    assert json.loads(properties["LifecyclePolicy"]["LifecyclePolicyText"]) == json.loads(STANDARD_POLICY.read_text())
    assert re.fullmatch(ECR_REPOSITORY_NAME, "mlops/retail-api")
    assert repository_template["Parameters"]["RepositoryName"]["AllowedPattern"] == ECR_REPOSITORY_NAME


def test_the_governance_stack_finds_nothing_to_change_in_it(repository_template, template):
    """What server/repository.yaml declares, the enforcing function (template defaults) finds compliant."""
    properties = repository_template["Resources"]["RetailApiRepository"]["Properties"]
    configured = EnforceSettings.from_environ(
        function_spec(template, "EnforceRepositoryFunction", pseudo=PSEUDO).environment
    )
    repository = Repository(
        name="mlops/retail-api",
        arn="arn:aws:ecr:ap-southeast-1:123456789012:repository/mlops/retail-api",
        tag_mutability=properties["ImageTagMutability"],
        scan_on_push=properties["ImageScanningConfiguration"]["ScanOnPush"],
    )
    checks = [
        check_tag_mutability(repository, configured),
        check_repository_scan_on_push(repository, RegistryScanning(scan_type="BASIC")),
        check_lifecycle_policy(properties["LifecyclePolicy"]["LifecyclePolicyText"], configured),
    ]
    assert [check.status for check in checks] == [Status.COMPLIANT] * 3


def test_the_governance_stack_no_longer_owns_a_workload_repository(template):
    assert not [r for r in template["Resources"].values() if r["Type"] == "AWS::ECR::Repository"]

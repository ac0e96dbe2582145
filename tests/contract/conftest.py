"""Fixtures of the contract tests: template.yaml as CloudFormation reads it, and how to run the SAM CLI here."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import pytest
from ecr_governance_cli.template_env import load_template

PROJECT_ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_PATH = PROJECT_ROOT / "template.yaml"
FUNCTIONS_DIR = PROJECT_ROOT / "functions"
VENV_BIN = Path(sys.executable).parent
SAM = VENV_BIN / "sam"
REGION = "ap-southeast-1"
# The pseudo parameters a deployment in the project's region would resolve.
PSEUDO_PARAMETERS = {"AWS::Region": REGION, "AWS::AccountId": "123456789012", "AWS::Partition": "aws"}
# What the variables that name deployed resources hold once deployed (template_env cannot resolve them locally).
DEPLOYED_VALUES = {
    "GOVERNANCE_ROLE_ARN": "arn:aws:iam::123456789012:role/ecr-governance-EnforceRepositoryFunctionRole-AbCdEf012345",
    "REMEDIATION_TOPIC_ARN": "arn:aws:sns:ap-southeast-1:123456789012:ecr-governance-RemediationTopic-AbCdEf012345",
    "ALERTS_TOPIC_ARN": "arn:aws:sns:ap-southeast-1:123456789012:ecr-governance-AlertsTopic-AbCdEf012345",
    "IDEMPOTENCY_TABLE_NAME": "ecr-governance-IdempotencyTable-AbCdEf012345",
    "ALERT_LEDGER_TABLE": "ecr-governance-AlertLedgerTable-AbCdEf012345",
    "SWEEP_TOPIC_ARN": "arn:aws:sns:ap-southeast-1:123456789012:ecr-governance-SweepTopic-AbCdEf012345",
    "SWEEP_QUEUE_URL": "https://sqs.ap-southeast-1.amazonaws.com/123456789012/ecr-governance-SweepQueue-AbCdEf012345",
    "SWEEP_RUNS_TABLE": "ecr-governance-SweepRunsTable-AbCdEf012345",
    "RECONCILE_RUNS_TABLE": "ecr-governance-SweepRunsTable-AbCdEf012345",
    "WORK_QUEUE_URL": "https://sqs.ap-southeast-1.amazonaws.com/123456789012/ecr-governance-MemberWorkQueue-AbCd.fifo",
}


@pytest.fixture(scope="session")
def template() -> dict[str, Any]:
    return load_template(TEMPLATE_PATH)


@pytest.fixture(scope="session")
def function_ids(template: dict[str, Any]) -> list[str]:
    ids = sorted(k for k, v in template["Resources"].items() if v.get("Type") == "AWS::Serverless::Function")
    assert ids, "template.yaml declares no AWS::Serverless::Function"
    return ids


def tool_environment(**extra: str) -> dict[str, str]:
    """Environment for a subprocess: the venv's python3.13 first on PATH (sam build needs it), no telemetry,
    no real AWS account reachable."""
    environment = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("AWS_") and name not in {"PYTHONPATH", "VIRTUAL_ENV"}
    }
    environment.update(
        PATH=f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        SAM_CLI_TELEMETRY="0",
        AWS_CONFIG_FILE="/dev/null",
        AWS_SHARED_CREDENTIALS_FILE="/dev/null",
        AWS_EC2_METADATA_DISABLED="true",
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_REGION=REGION,
        AWS_DEFAULT_REGION=REGION,
    )
    environment.update(extra)
    return environment


@pytest.fixture(scope="session")
def tool_env() -> Any:
    """`tool_env(**extra)` -> the environment for a subprocess (see tool_environment)."""
    return tool_environment


@pytest.fixture(scope="session")
def deployed_values() -> dict[str, str]:
    """Deployed shapes of the variables that name the stack's own resources (see DEPLOYED_VALUES)."""
    return DEPLOYED_VALUES

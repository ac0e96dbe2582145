"""The security scan (checkov, make lint) reads clean because every finding is fixed or skipped beside its resource
with the reason; this holds the reasons: no skip without one, and no skip of a check that a resource now passes."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from ecr_governance_cli.template_env import load_template

PROJECT_ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ("template.yaml", "server/template.yaml", "server/repository.yaml")
DOCKERFILE_SKIP = re.compile(r"#\s*checkov:skip=(CKV_[A-Z0-9_]+):\s*(.*)")
MIN_REASON = 40  # a sentence, not "n/a"


def _skips(template: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [
        (logical_id, skip)
        for logical_id, resource in template["Resources"].items()
        for skip in ((resource.get("Metadata") or {}).get("checkov") or {}).get("skip", [])
    ]


@pytest.mark.parametrize("path", TEMPLATES)
def test_every_checkov_skip_says_why(path: str) -> None:
    skips = _skips(load_template(PROJECT_ROOT / path))
    assert skips, f"{path}: no skip at all - drop this file from the list if that is now true"
    for logical_id, skip in skips:
        assert re.fullmatch(r"CKV_[A-Z0-9_]+", skip.get("id", "")), (logical_id, skip)
        assert len(skip.get("comment", "")) >= MIN_REASON, f"{logical_id} skips {skip['id']} without a reason"


def test_the_dockerfile_skip_says_why() -> None:
    skips = DOCKERFILE_SKIP.findall((PROJECT_ROOT / "server" / "Dockerfile").read_text())
    assert skips and all(len(reason) >= MIN_REASON for _, reason in skips)


def test_with_a_key_every_topic_queue_table_and_log_group_uses_it() -> None:
    """KmsKeyArn, when set, encrypts everything the stack stores; without it each keeps AWS's own encryption."""
    template = load_template(PROJECT_ROOT / "template.yaml")
    key = {"Fn::If": ["UseKmsKey", {"Ref": "KmsKeyArn"}, {"Ref": "AWS::NoValue"}]}
    property_of = {
        "AWS::SNS::Topic": lambda p: p.get("KmsMasterKeyId"),
        "AWS::SQS::Queue": lambda p: p.get("KmsMasterKeyId"),
        "AWS::DynamoDB::Table": lambda p: p["SSESpecification"].get("KMSMasterKeyId"),
        "AWS::Logs::LogGroup": lambda p: p.get("KmsKeyId"),
    }
    stored = {i: r for i, r in template["Resources"].items() if r["Type"] in property_of}
    assert len(stored) > 15
    for logical_id, resource in stored.items():
        assert property_of[resource["Type"]](resource["Properties"]) == key, logical_id
        if resource["Type"] == "AWS::SQS::Queue":  # SQS-managed SSE when no key is given
            assert resource["Properties"]["SqsManagedSseEnabled"] == {
                "Fn::If": ["UseKmsKey", {"Ref": "AWS::NoValue"}, True]
            }
    assert template["Conditions"]["UseKmsKey"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "KmsKeyArn"}, ""]}]}

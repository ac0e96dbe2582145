"""The findings functions as an organization hub, at their edge (no network): a member event the scan function does
not admit is rejected before anything is asked of any member; a member whose role cannot be assumed is one ERROR
line and an `AccountsNotOnboarded` metric, and the invocation fails - Lambda retries it, then keeps it in the failures
queue - so a scan is never dropped silently; and members' events damaged field by field are rejected in one line or
handed over well-formed, never an exception (as every handler's in test_handlers_at_the_edge.py)."""

from __future__ import annotations

import copy
import importlib
import json
import logging
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from ecr_governance import SERVICE_NAME
from ecr_governance.errors import MemberUnreachable
from ecr_governance.organization.membership import Account, Membership
from ecr_governance_cli.local_invoke import LocalLambdaContext
from event_mutations import mutated_events
from hypothesis import HealthCheck, given, settings
from registry_builders import load_event

HUB, TEAM_A, DENIED, OUTSIDER = "123456789012", "111111111111", "444444444444", "999988887777"
REGION = "ap-southeast-1"
PROFILE = f"arn:aws:signer:{REGION}:{TEAM_A}:/signing-profiles/releases"


class Sessions:
    """MemberSessions' side the handler uses, recording every client asked for; `DENIED`'s role cannot be assumed."""

    def __init__(self):
        self.asked: list[tuple[str, str, str]] = []

    def client(self, service: str, account_id: str, region: str) -> Any:
        self.asked.append((service, account_id, region))
        if account_id == DENIED:
            raise MemberUnreachable(f"cannot assume arn:aws:iam::{DENIED}:role/m: AccessDenied", code="AccessDenied")
        return object()  # a client nothing calls: the service is a stand-in wherever a member is reached


class Cached:
    def __init__(self):
        self.reads = 0

    def current(self) -> Membership:
        self.reads += 1
        return Membership.of([Account(TEAM_A, "team-a"), Account(DENIED, "team-new")], (REGION,))


@pytest.fixture
def hub(monkeypatch):
    module = importlib.import_module("handlers.scan_findings")
    sessions, membership = Sessions(), Cached()
    members = module.MemberScanAlerts(sessions, membership, module.rules, module.guard, False, ())
    monkeypatch.setattr(module, "members", members)
    monkeypatch.setattr(module.metrics, "namespace", "ECRGovernance")
    return module, sessions, membership


def member_event(account: str, sample: str = "basic-scan-complete.json") -> dict[str, Any]:
    event = json.loads(json.dumps(copy.deepcopy(load_event(f"findings/{sample}"))).replace(HUB, account))
    assert event["account"] == account
    return event


def test_an_outsiders_scan_is_rejected_before_anything_is_asked_of_a_member(hub, caplog):
    module, sessions, membership = hub
    with caplog.at_level(logging.INFO, logger=SERVICE_NAME):
        answer = module.handler(member_event(OUTSIDER), LocalLambdaContext("ScanFindingsFunction", REGION))
    assert answer == {
        "status": "rejected",
        "reason": f"account '{OUTSIDER}' is not an active member this hub governs",
    }
    assert sessions.asked == [] and membership.reads == 1
    (rejected,) = [record for record in caplog.records if record.getMessage() == "event rejected"]
    assert rejected.levelno == logging.ERROR


def test_a_member_whose_role_cannot_be_assumed_is_reported_and_the_event_fails_into_the_retries(hub, caplog, capsys):
    module, sessions, _ = hub
    with caplog.at_level(logging.INFO, logger=SERVICE_NAME), pytest.raises(MemberUnreachable, match="AccessDenied"):
        module.handler(member_event(DENIED), LocalLambdaContext("ScanFindingsFunction", REGION))
    assert sessions.asked == [("ecr", DENIED, REGION)]
    (error,) = [record for record in caplog.records if record.getMessage().startswith("account not onboarded")]
    assert error.levelno == logging.ERROR and "AccessDenied" in error.reason
    emf = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    # The metrics are flushed although the invocation failed.
    assert [metric["AccountsNotOnboarded"] for metric in emf if "AccountsNotOnboarded" in metric] == [[1.0]]


def test_the_hubs_own_scan_never_reads_the_organization(hub, monkeypatch):
    module, sessions, membership = hub
    handed: list[Any] = []
    monkeypatch.setattr(module, "handle", lambda event, alerter: handed.append((event, alerter)) or {"duplicate": 1})
    module.handler(load_event("findings/basic-scan-complete.json"), LocalLambdaContext("ScanFindingsFunction", REGION))
    ((event, alerter),) = handed
    assert alerter is module.alerter and event.image.registry_id == HUB
    assert membership.reads == 0 and sessions.asked == []


def test_a_members_image_that_must_be_signed_has_its_signing_status_read_in_the_members_account(hub, monkeypatch):
    """The member's ECR (its governance role's client) answers both reads; the hub's own ECR is never asked."""
    module, sessions, membership = hub
    member_ecr = boto3.client("ecr", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")
    stubber = Stubber(member_ecr)
    digest = load_event("findings/basic-scan-complete.json")["detail"]["image-digest"]
    image = {"repositoryName": "mlops/retail-api", "imageId": {"imageDigest": digest}}
    failed = {"signingProfileArn": PROFILE, "status": "FAILED", "failureCode": "X", "failureReason": "key disabled"}
    stubber.add_response("describe_image_signing_status", {**image, "signingStatuses": [failed]}, image)
    stubber.add_response(
        "describe_image_scan_findings",
        {
            **image,
            "imageScanStatus": {"status": "COMPLETE"},
            "imageScanFindings": {"imageScanCompletedAt": datetime(2026, 11, 20, tzinfo=UTC), "findings": []},
        },
    )
    monkeypatch.setattr(sessions, "client", lambda *where: sessions.asked.append(where) or member_ecr)
    members = replace(module.members, signing_patterns=("mlops/*",))
    monkeypatch.setattr(module, "members", members)
    with stubber:
        answer = module.handler(member_event(TEAM_A), LocalLambdaContext("ScanFindingsFunction", REGION))
    stubber.assert_no_pending_responses()
    assert sessions.asked == [("ecr", TEAM_A, REGION)]
    assert answer["status"] == "alerted" and answer["signingFailuresAlerted"] == 1
    assert answer["subject"].startswith("[SIGNING FAILED] mlops/retail-api")


class HandedOver(Exception):
    """The event passed the edge and reached the service."""


def _handed_over(*args: Any, **kwargs: Any) -> Any:
    raise HandedOver


MEMBER_SAMPLES = [
    member_event(TEAM_A, sample)
    for sample in ("basic-scan-complete.json", "inspector2-scan-complete.json", "image-deleted.json")
]


@settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)
@given(event=mutated_events(MEMBER_SAMPLES))
def test_a_hubs_damaged_member_scan_events_are_rejected_in_one_line_or_handed_over(hub, monkeypatch, event):
    module, _, _ = hub
    monkeypatch.setattr(module, "handle", _handed_over)
    try:
        answer = module.handler(event, LocalLambdaContext("ScanFindingsFunction", REGION))
    except HandedOver:
        return
    assert answer["status"] == "rejected", answer


@settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)
@given(event=mutated_events([member_event(TEAM_A, "inspector2-finding.json")]))
def test_a_hubs_damaged_member_finding_events_are_rejected_in_one_line_or_handed_over(monkeypatch, event):
    module = importlib.import_module("handlers.inspector_findings")
    monkeypatch.setattr(module, "membership", Cached().current)
    monkeypatch.setattr(module.metrics, "namespace", "ECRGovernance")
    handed: list[Any] = []
    monkeypatch.setattr(module.alerter, "alert_batch", lambda events: handed.extend(events) or _handed_over())
    record = load_event("findings/inspector2-finding-sqs.json")["Records"][0]
    batch = {"Records": [{**record, "body": json.dumps(event)}]}
    try:
        answer = module.handler(batch, LocalLambdaContext("InspectorFindingsFunction", REGION))
    except HandedOver:
        assert all(finding.images[0].registry_id == TEAM_A for _, finding in handed)
        return
    assert answer == {"batchItemFailures": []}, answer

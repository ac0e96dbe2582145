"""Event parsing at the edge: the sample events parse; anything else - malformed, or from another account or region -
is rejected with a reason, and nothing but InvalidEvent ever escapes the parser."""

import copy
import json
from typing import Any

import pytest
from ecr_governance.enforce.events import (
    ENFORCED_EVENT_NAMES,
    Provenance,
    TriggerKind,
    continuation_event,
    parse_enforcement_trigger,
)
from ecr_governance.enforce.model import ReconcileProgress
from ecr_governance.errors import InvalidEvent
from event_mutations import mutated_events, with_field
from hypothesis import HealthCheck, given, settings
from property_budget import examples
from registry_builders import EVENTS_DIR, load_event

OWN_ROLE = "arn:aws:iam::123456789012:role/ecr-governance-EnforceRepositoryFunctionRole"
HERE = Provenance(account="123456789012", region="ap-southeast-1")
SAMPLES = {path.name: load_event(f"enforce/{path.name}") for path in sorted((EVENTS_DIR / "enforce").glob("*.json"))}


def parse(event: Any):
    return parse_enforcement_trigger(event, HERE)


def test_every_sample_event_parses_and_together_they_cover_every_trigger():
    triggers = [parse(event) for event in SAMPLES.values()]
    assert {t.event_name for t in triggers} >= ENFORCED_EVENT_NAMES
    assert {TriggerKind.REPOSITORY, TriggerKind.REGISTRY, TriggerKind.SCHEDULE} <= {t.kind for t in triggers}


def test_repository_event_names_the_repository_and_the_actor():
    trigger = parse(SAMPLES["create-repository.json"])
    assert trigger.kind is TriggerKind.REPOSITORY
    assert trigger.repository_name == "team-payments/ledger"
    assert trigger.actor_arn == "arn:aws:iam::123456789012:role/PlatformAdmin"
    assert not trigger.caused_by(OWN_ROLE)


def test_own_remediation_is_recognised_by_the_session_issuer_role():
    trigger = parse(SAMPLES["own-remediation.json"])
    assert trigger.caused_by(OWN_ROLE)
    assert not trigger.caused_by("")  # no role configured: never assume


def test_a_failed_api_call_changes_nothing():
    event = copy.deepcopy(SAMPLES["put-image-tag-mutability.json"])
    event["detail"]["errorCode"] = "RepositoryNotFoundException"
    trigger = parse(event)
    assert trigger.kind is TriggerKind.FAILED_CALL
    assert trigger.error_code == "RepositoryNotFoundException"


CREATE = SAMPLES["create-repository.json"]
TAG = SAMPLES["tag-resource.json"]


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        (None, "event is missing"),
        ([], "event is missing"),
        (with_field(CREATE, ("detail",)), "detail is missing"),
        (with_field(CREATE, ("detail-type",), "ECR Image Scan"), "unexpected detail-type 'ECR Image Scan'"),
        (with_field(CREATE, ("detail", "eventSource"), "s3.amazonaws.com"), "detail.eventSource"),
        (with_field(CREATE, ("detail", "eventName"), "BatchDeleteImage"), "detail.eventName"),
        (with_field(CREATE, ("detail", "eventName"), ["CreateRepository"]), "detail.eventName is missing or not a"),
        (with_field(CREATE, ("detail", "requestParameters")), "repositoryName"),
        (with_field(CREATE, ("detail", "requestParameters"), {}), "repositoryName"),
        (with_field(CREATE, ("detail", "requestParameters"), "x"), "detail.requestParameters is not an object"),
        (with_field(CREATE, ("detail", "userIdentity", "sessionContext"), "x"), "sessionContext is not an object"),
        (with_field(CREATE, ("detail", "requestParameters", "repositoryName"), "Team/App"), "not a valid ECR"),
        (with_field(CREATE, ("detail", "requestParameters", "repositoryName"), "a"), "1 characters long"),
    ],
)
def test_malformed_events_are_rejected_with_a_reason(event, reason):
    with pytest.raises(InvalidEvent, match=reason.replace(".", r"\.")):
        parse(event)


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        (with_field(CREATE, ("account",), "999999999999"), "account '999999999999'"),
        (with_field(CREATE, ("region",), "us-east-1"), "region 'us-east-1'"),
        (with_field(CREATE, ("source",), "my.app"), "source 'my.app'"),
        (with_field(CREATE, ("detail", "recipientAccountId"), "999999999999"), "recipientAccountId"),
        (with_field(CREATE, ("detail", "awsRegion"), "us-east-1"), "awsRegion"),
        (with_field(CREATE, ("detail", "requestParameters", "registryId"), "999999999999"), "registryId"),
        (
            with_field(
                TAG, ("detail", "requestParameters", "resourceArn"), "arn:aws:ecr:us-east-1:123456789012:repository/x1"
            ),
            "resourceArn region",
        ),
        (
            with_field(
                TAG,
                ("detail", "requestParameters", "resourceArn"),
                "arn:aws:ecr:ap-southeast-1:999999999999:repository/x1",
            ),
            "resourceArn account",
        ),
        (with_field(SAMPLES["scheduled-reconcile.json"], ("account",), "999999999999"), "account"),
    ],
)
def test_events_from_another_account_or_region_are_rejected(event, reason):
    with pytest.raises(InvalidEvent, match=reason):
        parse(event)


def test_registry_event_needs_no_repository():
    trigger = parse(SAMPLES["put-registry-scanning-configuration.json"])
    assert trigger.kind is TriggerKind.REGISTRY
    assert trigger.repository_name is None


def test_tag_changes_name_the_repository_through_its_arn():
    trigger = parse(SAMPLES["untag-resource.json"])
    assert trigger.kind is TriggerKind.REPOSITORY
    assert trigger.repository_name == "team-search/indexer"
    registry_arn = with_field(
        SAMPLES["untag-resource.json"],
        ("detail", "requestParameters", "resourceArn"),
        "arn:aws:ecr:ap-southeast-1:123456789012:registry",
    )
    with pytest.raises(InvalidEvent, match="resourceArn"):
        parse(registry_arn)


def test_a_continuation_round_trips_through_its_event():
    progress = ReconcileProgress(after="team/r0500", scan_exempt=("vendor/x",), unread=("team/r0012",), piece=2)
    trigger = parse(json.loads(json.dumps(continuation_event(progress, HERE, "run-1-3"))))
    assert trigger.kind is TriggerKind.CONTINUATION and trigger.progress == progress
    with pytest.raises(InvalidEvent, match="detail.piece"):
        parse(with_field(continuation_event(progress, HERE, "x"), ("detail", "piece"), "2"))


# ---- every field of every sample, mutated: only InvalidEvent may come out --------------------------------------
SAMPLE_EVENTS = [*SAMPLES.values(), continuation_event(ReconcileProgress("team/a", piece=1), HERE, "c")]


@settings(max_examples=examples(1500), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(event=mutated_events(SAMPLE_EVENTS))
def test_mutated_events_are_parsed_or_rejected_never_crash(event):
    try:
        trigger = parse(event)
    except InvalidEvent:
        return
    assert trigger.kind in TriggerKind
    if trigger.repository_name is not None:
        assert 2 <= len(trigger.repository_name) <= 256

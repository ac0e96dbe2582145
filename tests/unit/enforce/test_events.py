"""Event parsing at the edge: the sample events parse; anything else is rejected with a reason."""

import copy

import pytest
from ecr_governance.enforce.events import ENFORCED_EVENT_NAMES, TriggerKind, parse_enforcement_trigger
from ecr_governance.errors import InvalidEvent
from registry_builders import EVENTS_DIR, load_event

OWN_ROLE = "arn:aws:iam::123456789012:role/ecr-governance-EnforceRepositoryFunctionRole"


def test_every_sample_event_parses_and_together_they_cover_every_trigger():
    names = set()
    kinds = set()
    for path in sorted((EVENTS_DIR / "enforce").glob("*.json")):
        trigger = parse_enforcement_trigger(load_event(f"enforce/{path.name}"))
        names.add(trigger.event_name)
        kinds.add(trigger.kind)
    assert names >= ENFORCED_EVENT_NAMES
    assert {TriggerKind.REPOSITORY, TriggerKind.REGISTRY, TriggerKind.SCHEDULE} <= kinds


def test_repository_event_names_the_repository_and_the_actor():
    trigger = parse_enforcement_trigger(load_event("enforce/create-repository.json"))
    assert trigger.kind is TriggerKind.REPOSITORY
    assert trigger.repository_name == "team-payments/ledger"
    assert trigger.actor_arn == "arn:aws:iam::123456789012:role/PlatformAdmin"
    assert not trigger.caused_by(OWN_ROLE)


def test_own_remediation_is_recognised_by_the_session_issuer_role():
    trigger = parse_enforcement_trigger(load_event("enforce/own-remediation.json"))
    assert trigger.caused_by(OWN_ROLE)
    assert not trigger.caused_by("")  # no role configured: never assume


def test_a_failed_api_call_changes_nothing():
    event = load_event("enforce/put-image-tag-mutability.json")
    event["detail"]["errorCode"] = "RepositoryNotFoundException"
    trigger = parse_enforcement_trigger(event)
    assert trigger.kind is TriggerKind.FAILED_CALL
    assert trigger.error_code == "RepositoryNotFoundException"


def _without(event, *path):
    event = copy.deepcopy(event)
    node = event
    for key in path[:-1]:
        node = node[key]
    del node[path[-1]]
    return event


CREATE = load_event("enforce/create-repository.json")


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        (None, "event is missing"),
        ([], "event is missing"),
        (_without(CREATE, "detail"), "detail is missing"),
        ({**CREATE, "detail-type": "ECR Image Scan"}, "unexpected detail-type 'ECR Image Scan'"),
        ({**CREATE, "detail": {**CREATE["detail"], "eventSource": "s3.amazonaws.com"}}, "detail.eventSource"),
        ({**CREATE, "detail": {**CREATE["detail"], "eventName": "BatchDeleteImage"}}, "detail.eventName"),
        (_without(CREATE, "detail", "requestParameters"), "detail.requestParameters"),
        ({**CREATE, "detail": {**CREATE["detail"], "requestParameters": {}}}, "repositoryName"),
        ({**CREATE, "detail": {**CREATE["detail"], "requestParameters": None}}, "detail.requestParameters"),
    ],
)
def test_malformed_or_foreign_events_are_rejected_with_a_reason(event, reason):
    with pytest.raises(InvalidEvent, match=reason.replace(".", r"\.")):
        parse_enforcement_trigger(event)


def test_registry_event_needs_no_repository():
    trigger = parse_enforcement_trigger(load_event("enforce/put-registry-scanning-configuration.json"))
    assert trigger.kind is TriggerKind.REGISTRY
    assert trigger.repository_name is None


def test_tag_changes_name_the_repository_through_its_arn():
    trigger = parse_enforcement_trigger(load_event("enforce/untag-resource.json"))
    assert trigger.kind is TriggerKind.REPOSITORY
    assert trigger.repository_name == "team-search/indexer"
    event = load_event("enforce/untag-resource.json")
    event["detail"]["requestParameters"]["resourceArn"] = "arn:aws:ecr:ap-southeast-1:123456789012:registry"
    with pytest.raises(InvalidEvent, match="resourceArn"):
        parse_enforcement_trigger(event)

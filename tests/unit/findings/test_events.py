"""Scan events parsed at the edge: both kinds, ARN repository names, tags and counts however they come; anything
malformed or foreign is an InvalidEvent with a reason, and nothing else ever escapes the parser."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from ecr_governance.errors import InvalidEvent
from ecr_governance.findings.events import ImageDeletedEvent, ScanKind, parse_scan_event
from ecr_governance.findings.normalize import Severity
from ecr_governance.location import Location
from event_mutations import DROP, with_field
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from property_budget import examples
from registry_builders import EVENTS_DIR, load_event

ACCOUNT = "123456789012"
REGION = "ap-southeast-1"
# The scan function's samples (the Inspector findings function's are inspector2-finding*.json).
SAMPLES = sorted(
    path.name for path in (EVENTS_DIR / "findings").glob("*.json") if not path.name.startswith("inspector2-finding")
)
OWN = Location("aws", ACCOUNT, REGION)


def parse(event: Any):
    return parse_scan_event(event, OWN)


def sample(name: str) -> dict[str, Any]:
    return copy.deepcopy(load_event(f"findings/{name}"))


def test_the_samples_cover_basic_complete_untagged_failed_inspector_and_a_deleted_image():
    scans = {name: parse(sample(name)) for name in SAMPLES}
    deleted = scans.pop("image-deleted.json")
    assert isinstance(deleted, ImageDeletedEvent) and deleted.image.tags == ("1.4.1",)
    assert scans["basic-scan-complete.json"].completed and scans["basic-scan-complete.json"].image.tags == ("1.4.2",)
    assert scans["basic-scan-complete-untagged.json"].image.tags == ()
    assert not scans["basic-scan-failed.json"].completed
    inspector = scans["inspector2-scan-complete.json"]
    assert inspector.kind is ScanKind.ENHANCED and inspector.completed


def test_basic_scan_reads_the_repository_counts_and_the_registry():
    scan = parse(sample("basic-scan-complete.json"))
    assert scan.kind is ScanKind.BASIC
    assert scan.image.repository_name == "mlops/retail-api"
    assert scan.severity_counts == {Severity.CRITICAL: 2, Severity.HIGH: 5, Severity.MEDIUM: 9}
    assert scan.finding_count == 16
    assert scan.image.repository_arn == "arn:aws:ecr:ap-southeast-1:123456789012:repository/mlops/retail-api"
    assert scan.completed_at == "2026-11-20T02:36:48Z"


def test_inspector_names_the_repository_by_arn_and_counts_a_total():
    scan = parse(sample("inspector2-scan-complete.json"))
    assert scan.image.repository_name == "mlops/retail-api"  # not the ARN: that is what DescribeImageScanFindings takes
    assert scan.total_findings == 14
    assert scan.finding_count == 14  # TOTAL, not the sum of the severities listed (LOW is not listed)
    assert Severity.UNDEFINED not in scan.severity_counts


def test_absent_tags_are_an_untagged_image():
    event = sample("basic-scan-complete.json")
    del event["detail"]["image-tags"]
    assert parse(event).image.tags == ()


def test_missing_counts_mean_unknown_and_empty_counts_mean_nothing_found():
    event = sample("basic-scan-complete.json")
    del event["detail"]["finding-severity-counts"]
    assert parse(event).finding_count is None  # unknown: the findings must be read
    event["detail"]["finding-severity-counts"] = {}
    assert parse(event).finding_count == 0


def test_a_severity_aws_adds_later_is_type_checked_and_makes_the_findings_worth_reading():
    event = sample("basic-scan-complete.json")
    event["detail"]["finding-severity-counts"] = {"NEW_SEVERITY": 3}
    scan = parse(event)
    assert scan.finding_count == 0 and scan.unknown_counts
    assert scan.worth_reading(Severity.CRITICAL)  # it might be a CRITICAL: read, never skip
    event["detail"]["finding-severity-counts"]["NEW_SEVERITY"] = "3"
    with pytest.raises(InvalidEvent, match="NEW_SEVERITY is not a whole number"):
        parse(event)


@pytest.mark.parametrize(
    ("counts", "worth_reading"),
    [
        ({"MEDIUM": 4, "LOW": 1}, False),
        ({"MEDIUM": 4, "HIGH": 1}, True),
        ({"HIGH": 0, "LOW": 2}, False),
        ({}, False),
        ({"UNTRIAGED": 1}, True),  # ranked by its score, which only the findings carry
        ({"MEDIUM": 2, "TOTAL": 3}, True),  # a TOTAL the listed counts do not add up to
        ({"MEDIUM": 2, "TOTAL": 2}, False),
        (None, True),  # no counts at all
    ],
)
def test_the_counts_skip_reading_only_when_they_settle_it(counts, worth_reading):
    event = sample("basic-scan-complete.json")
    if counts is None:
        del event["detail"]["finding-severity-counts"]
    else:
        event["detail"]["finding-severity-counts"] = counts
    assert parse(event).worth_reading(Severity.HIGH) is worth_reading


def _mutated(name: str, path: tuple[str, ...], value: Any) -> dict[str, Any]:
    return with_field(sample(name), path, value)


DELETE = DROP
BASIC = "basic-scan-complete.json"
INSPECTOR = "inspector2-scan-complete.json"


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        ([], "event is missing or not an object"),
        (_mutated(BASIC, ("detail-type",), "ECR Replication Action"), "unexpected source / detail-type"),
        (_mutated("image-deleted.json", ("detail", "action-type"), "PUSH"), "only a DELETE that succeeded"),
        (_mutated(BASIC, ("source",), "aws.inspector2"), "unexpected source / detail-type"),
        (_mutated(BASIC, ("detail",), DELETE), "detail is missing or not an object"),
        (_mutated(BASIC, ("detail", "repository-name"), 42), "detail.repository-name is missing or not a string"),
        (_mutated(BASIC, ("detail", "repository-name"), "Not/Valid"), "is not a repository name or ARN"),
        (_mutated(BASIC, ("detail", "image-digest"), DELETE), "detail.image-digest is missing"),
        (_mutated(BASIC, ("detail", "image-digest"), "latest"), "detail.image-digest 'latest' is not valid"),
        (_mutated(BASIC, ("detail", "image-tags"), "1.4.2"), "detail.image-tags is not a list"),
        (_mutated(BASIC, ("detail", "image-tags"), [None]), "invalid tag"),
        (_mutated(BASIC, ("detail", "finding-severity-counts"), [1]), "finding-severity-counts is not an object"),
        (_mutated(BASIC, ("detail", "finding-severity-counts", "HIGH"), -1), "HIGH is not a whole number"),
        (_mutated(BASIC, ("detail", "finding-severity-counts", "HIGH"), True), "HIGH is not a whole number"),
        (_mutated(BASIC, ("detail", "scan-status"), None), "detail.scan-status is missing"),
        (_mutated(BASIC, ("time",), "yesterday"), "not an ISO-8601 time"),
        (_mutated(BASIC, ("time",), "2026-11-20T02:36:48"), "has no time zone"),
        (_mutated(BASIC, ("resources",), "arn"), "resources is not a list of strings"),
        (
            _mutated(BASIC, ("resources",), ["arn:aws:ecr:ap-southeast-1:123456789012:repository/other"]),
            "resources names repository 'other'",
        ),
        (_mutated(BASIC, ("id",), 7), "id is not a string"),
        (_mutated(INSPECTOR, ("detail", "repository-name"), "arn:aws:ecr:x"), "is not a repository name or ARN"),
    ],
    ids=lambda value: value if isinstance(value, str) else None,
)
def test_malformed_events_are_rejected_with_a_reason(event, reason):
    with pytest.raises(InvalidEvent, match=reason.replace("(", r"\(").replace(")", r"\)")):
        parse(event)


@pytest.mark.parametrize(
    ("path", "value", "reason"),
    [
        (("account",), "210987654321", "event is from aws account 210987654321 in ap-southeast-1"),
        (("region",), "us-east-1", "event is from aws account 123456789012 in us-east-1"),
        (("account",), "not-an-account", "account 'not-an-account' is not valid"),
        (
            ("detail", "repository-name"),
            "arn:aws:ecr:ap-southeast-1:210987654321:repository/mlops/retail-api",
            "is from aws account 210987654321 in ap-southeast-1: this function acts only on aws account 123456789012",
        ),
        (
            ("detail", "repository-name"),
            "arn:aws:ecr:us-east-1:123456789012:repository/mlops/retail-api",
            "is from aws account 123456789012 in us-east-1",
        ),
        (
            ("detail", "repository-name"),
            "arn:aws-cn:ecr:ap-southeast-1:123456789012:repository/mlops/retail-api",
            "is from aws-cn account 123456789012 in ap-southeast-1",  # another partition, like another account
        ),
    ],
)
def test_events_of_another_account_or_region_are_rejected(path, value, reason):
    event = _mutated(INSPECTOR, path, value)
    event["resources"] = []
    with pytest.raises(InvalidEvent, match=reason):
        parse(event)


# ---- nothing but InvalidEvent ever escapes, whatever the event (hypothesis) ------------------------------------
JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=12,
)
# Values chosen to be nearly right: the parser's edge cases, not just noise.
NEAR_MISSES = st.sampled_from(
    [
        "",
        "COMPLETE",
        "ECR Image Scan",
        "aws.ecr",
        "123456789012",
        "ap-southeast-1",
        "arn:aws:ecr:ap-southeast-1:123456789012:repository/",
        "arn:aws:ecr:ap-southeast-1:123456789012:repository/a",
        "sha256:",
        "9999-12-31T23:59:59-01:00",
        "0001-01-01T00:00:00+01:00",
        {"TOTAL": -1},
        {"HIGH": 1.5},
        ["1.0", ""],
        [],
        {},
    ]
)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _paths(value, (*prefix, index))
    return found


@st.composite
def mutated_events(draw) -> Any:
    event = sample(draw(st.sampled_from(SAMPLES)))
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        paths = _paths(event)
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = event
        for key in path[:-1]:
            parent = parent[key]
        if draw(st.booleans()) and isinstance(parent, dict):
            del parent[path[-1]]
        else:
            parent[path[-1]] = copy.deepcopy(draw(JSON_VALUES | NEAR_MISSES))  # samples are shared objects
    return event


@settings(max_examples=examples(300), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_events() | JSON_VALUES)
def test_parsing_never_raises_anything_but_invalid_event(event):
    try:
        scan = parse(event)
    except InvalidEvent:
        return
    # What it accepts is fully typed.
    assert isinstance(scan.image.repository_name, str) and isinstance(scan.key, str)
    assert isinstance(scan.image.digest, str) and all(isinstance(tag, str) for tag in scan.image.tags)
    if isinstance(scan, ImageDeletedEvent):
        return
    assert scan.finding_count is None or (isinstance(scan.finding_count, int) and scan.finding_count >= 0)

"""The CloudTrail adapter against botocore's Stubber: moto (5.2.x) serves no LookupEvents, so the exact request and
response shapes are stubbed - one attribute (EventName), 50 a page, NextToken, the cap, pacing, AccessDenied."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import boto3
import pytest
from botocore.stub import Stubber
from ecr_governance.aws.cloudtrail import CloudTrailEvents
from ecr_governance.errors import AccessDenied

SINCE = datetime(2026, 12, 3, 9, tzinfo=UTC)
REQUEST = {
    "LookupAttributes": [{"AttributeKey": "EventName", "AttributeValue": "BatchGetImage"}],
    "StartTime": SINCE,
    "MaxResults": 50,
}


def event(number: int, document: object = None) -> dict[str, object]:
    body = document if document is not None else {"eventSource": "ecr.amazonaws.com", "eventID": f"e-{number}"}
    return {
        "EventId": f"e-{number}",
        "EventName": "BatchGetImage",
        "EventSource": "ecr.amazonaws.com",
        "CloudTrailEvent": body if isinstance(body, str) else json.dumps(body),
    }


class Clock:
    """A monotonic clock that only moves when the adapter sleeps (or a test advances it)."""

    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@pytest.fixture
def stubbed():
    client = boto3.client("cloudtrail", region_name="ap-southeast-1")
    clock = Clock()
    with Stubber(client) as stubber:
        yield CloudTrailEvents(client, clock=clock, sleep=clock.sleep), stubber, clock
        stubber.assert_no_pending_responses()


def test_every_page_is_read_by_next_token_and_paced_at_two_requests_a_second(stubbed):
    events, stubber, clock = stubbed
    stubber.add_response("lookup_events", {"Events": [event(n) for n in range(50)], "NextToken": "t2"}, REQUEST)
    stubber.add_response("lookup_events", {"Events": [event(n) for n in range(50, 60)]}, {**REQUEST, "NextToken": "t2"})
    sample = events.image_pulls(SINCE, 5000)
    assert sample.events_read == 60 and len(sample.records) == 60 and not sample.capped
    assert sample.records[59]["eventID"] == "e-59"
    assert clock.slept == [0.5]  # the second request waited for the first to be half a second old


def test_reading_stops_at_the_cap_and_says_more_were_left(stubbed):
    events, stubber, _ = stubbed
    stubber.add_response("lookup_events", {"Events": [event(n) for n in range(50)], "NextToken": "t2"}, REQUEST)
    stubber.add_response(
        "lookup_events",
        {"Events": [event(n) for n in range(50, 100)], "NextToken": "t3"},
        {**REQUEST, "NextToken": "t2"},
    )
    sample = events.image_pulls(SINCE, 70)
    assert sample.events_read == 70 and len(sample.records) == 70 and sample.capped


def test_a_cap_met_exactly_on_the_last_page_is_not_capped(stubbed):
    events, stubber, _ = stubbed
    stubber.add_response("lookup_events", {"Events": [event(n) for n in range(50)]}, REQUEST)
    sample = events.image_pulls(SINCE, 50)
    assert sample.events_read == 50 and not sample.capped


def test_an_event_document_that_does_not_decode_is_counted_not_guessed(stubbed):
    events, stubber, _ = stubbed
    stubber.add_response("lookup_events", {"Events": [event(1), event(2, "{not json"), event(3, "[1]")]}, REQUEST)
    sample = events.image_pulls(SINCE, 10)
    assert sample.events_read == 3 and len(sample.records) == 1 and sample.undecodable == 2


def test_access_denied_names_the_iam_action(stubbed):
    events, stubber, _ = stubbed
    stubber.add_client_error("lookup_events", "AccessDeniedException", "not authorized", 400, expected_params=REQUEST)
    with pytest.raises(AccessDenied, match=r"cloudtrail:LookupEvents"):
        events.image_pulls(SINCE, 10)

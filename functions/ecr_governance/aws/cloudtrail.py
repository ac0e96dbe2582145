"""The CloudTrail adapter: ECR's image pulls (BatchGetImage) from the account-region's event history (the
PullEvents port of the `scanners` investigation).

LookupEvents reads management events of the last 90 days, newest first, 50 a page, and takes ONE lookup attribute:
EventName=BatchGetImage here; the event source is checked on each event document (CloudTrailEvent, a JSON string)
by the domain. CloudTrail allows two LookupEvents requests a second per account and region: pages are paced at
least MIN_PAGE_INTERVAL_SECONDS apart (the client's adaptive retries absorb a throttle on top). Reading stops at
`max_events`; the sample says whether more were left. An event whose document does not decode is counted, not
guessed at.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from ecr_governance.aws.errors import translated
from ecr_governance.aws.iam import requires
from ecr_governance.enforce.pull_audit import PULL_EVENT_NAME, PullSample

MAX_LOOKUP_PAGE = 50  # LookupEvents' MaxResults
MIN_PAGE_INTERVAL_SECONDS = 0.5  # two requests a second per account and region


class CloudTrailEvents:
    def __init__(
        self,
        cloudtrail_client: Any,
        min_interval_seconds: float = MIN_PAGE_INTERVAL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self._cloudtrail = cloudtrail_client
        self._min_interval = min_interval_seconds
        self._clock = clock
        self._sleep = sleep

    @requires("cloudtrail:LookupEvents")
    def image_pulls(self, since: datetime, max_events: int) -> PullSample:
        records: list[dict[str, Any]] = []
        read = undecodable = 0
        params: dict[str, Any] = {
            "LookupAttributes": [{"AttributeKey": "EventName", "AttributeValue": PULL_EVENT_NAME}],
            "StartTime": since,
            "MaxResults": MAX_LOOKUP_PAGE,
        }
        last_request: float | None = None
        while True:
            last_request = self._pace(last_request)
            with translated("LookupEvents", "cloudtrail"):
                page = self._cloudtrail.lookup_events(**params)
            events = page.get("Events", [])
            for event in events[: max_events - read]:
                document = _decoded(event.get("CloudTrailEvent"))
                if document is None:
                    undecodable += 1
                else:
                    records.append(document)
            taken = min(len(events), max_events - read)
            read += taken
            more = taken < len(events) or bool(page.get("NextToken"))
            if read >= max_events or not page.get("NextToken"):
                return PullSample(tuple(records), read, capped=more and read >= max_events, undecodable=undecodable)
            params["NextToken"] = page["NextToken"]

    def _pace(self, last_request: float | None) -> float:
        """Wait until the page before is at least the minimum interval old; the moment of this request."""
        now = self._clock()
        if last_request is not None and now - last_request < self._min_interval:
            self._sleep(self._min_interval - (now - last_request))
            now = self._clock()
        return now


def _decoded(text: Any) -> dict[str, Any] | None:
    if not isinstance(text, str):
        return None
    try:
        document = json.loads(text)
    except ValueError:
        return None
    return document if isinstance(document, dict) else None

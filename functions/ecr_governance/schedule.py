"""The event an EventBridge schedule sends: what every capability a schedule starts (the reconcile, the sweep)
recognises it by."""

from __future__ import annotations

SCHEDULE_DETAIL_TYPE = "Scheduled Event"
SCHEDULE_SOURCE = "aws.events"

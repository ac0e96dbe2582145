"""How many examples a hypothesis property runs: its full count by default (`make test`, plain `pytest`), a twentieth
of it (at least 10) under HYPOTHESIS_PROFILE=fast, which `make unit` sets to keep the edit-test loop short.

A property states its full count once, `@settings(max_examples=examples(3_000))`; an explicit count in `@settings`
wins over a profile's, so the scaling happens here rather than in the profile."""

from __future__ import annotations

import os

from hypothesis import settings

FULL, FAST = "full", "fast"
FAST_SHARE = 20
FAST_MINIMUM = 10
PROFILE = os.environ.get("HYPOTHESIS_PROFILE", FULL)
if PROFILE not in (FULL, FAST):
    raise RuntimeError(f"HYPOTHESIS_PROFILE={PROFILE!r}: expected {FULL} or {FAST}")

settings.register_profile(FULL, settings())
settings.register_profile(FAST, settings(max_examples=FAST_MINIMUM * 2))
settings.load_profile(PROFILE)


def examples(full: int) -> int:
    """The example count of a property whose full count is `full`, under the loaded profile."""
    return full if PROFILE == FULL else max(FAST_MINIMUM, full // FAST_SHARE)

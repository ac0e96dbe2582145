"""The sweep's safety, proved over generated registries (hypothesis), against an in-memory ECR that behaves like
ECR where it matters (tests/sweep_fakes.py).

Registries have nested indexes, children shared between indexes, referrer chains (and the cycles an index that is
also a referrer makes), tags, images of every age and pull time around the boundaries, archived and ACTIVATING
images; between any two API calls a tag may appear, an image may be pulled or deleted by someone else. Whatever
happens (short of landing in the one round trip between a batch's re-check and its delete call), no delete call
takes a digest that a tagged image reaches at that moment, nor an image too young, pulled within the idle window,
archived within its minimum, or ACTIVATING; and when nothing races the sweep it deletes every
other untagged image. The checks use their own walk and rules (not the plan's code).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from ecr_governance.images import DOCKER_MANIFEST, OCI_INDEX, ImageRecord
from ecr_governance.sweep.report import Outcome
from ecr_governance.sweep.service import SweepWorker
from ecr_governance.sweep.settings import SweepMode, SweepRules
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sweep_fakes import InMemoryEcr, reachable

NOW = datetime(2026, 6, 1, tzinfo=UTC)
DAY = 86400
REPOSITORY = "team/app"
EXAMPLES = 10_000


def stays_by_itself(image: ImageRecord, rules: SweepRules) -> bool:
    """The rules, stated independently: tagged, ACTIVATING, archived within its minimum (or archived sweeping off),
    pushed within the minimum age, pulled within the idle window (never pulled: pushed within it)."""
    if image.tags or image.status == "ACTIVATING":
        return True
    if image.status == "ARCHIVED" and (
        not rules.sweep_archived or image.last_archived_at is None or NOW - image.last_archived_at < timedelta(90)
    ):
        return True
    last_used = image.last_pulled_at or image.pushed_at
    return NOW - image.pushed_at <= rules.min_age or NOW - last_used <= rules.min_idle


def mutually_reaching_groups(images: dict[str, ImageRecord], among: set[str]) -> list[set[str]]:
    """Groups of candidates that reach each other (by brute force: the registries are small)."""
    reach = {d: reachable({k: v for k, v in images.items() if k in among}, [d]) & among for d in among}
    groups, seen = [], set()
    for digest in sorted(among):
        if digest not in seen:
            group = {other for other in reach[digest] if digest in reach[other]}
            seen |= group
            groups.append(group)
    return groups


def expected_deletions(images: dict[str, ImageRecord], rules: SweepRules, batch_size: int) -> set[str]:
    staying = {d for d, image in images.items() if stays_by_itself(image, rules)}
    while True:
        kept = reachable(images, staying)
        candidates = set(images) - kept
        too_large = [g for g in mutually_reaching_groups(images, candidates) if len(g) > batch_size]
        if not too_large:
            return candidates
        staying |= set().union(*too_large)


def _around(*days: int) -> list[int]:
    return sorted({max(0, day * DAY + delta) for day in days for delta in (-1, 0, 1)})


AGES = _around(0, 14, 30)  # the minimum ages and idle windows the rules use
PULLS = _around(0, 30)
ARCHIVED_AGES = _around(90)  # the archive minimum
STATUSES = ("ACTIVE",) * 5 + ("ARCHIVED", "ACTIVATING")
IMAGE_BYTES = 11


def _seconds(selector: int, value: int, boundaries: list[int]) -> int:
    """Seconds before NOW: half the time a boundary (one second either side included), else anywhere in 200 days."""
    if selector % 2 == 0:
        return boundaries[value % len(boundaries)]
    return (selector << 8 | value) * 200 * DAY // 65536


def decode_registry(data: bytes) -> tuple[list[ImageRecord], set[str]]:
    """Images pushed in order, 11 bytes each (drawing one byte string is far cheaper than drawing every field, and
    it shrinks towards zeros: plain, untagged, ACTIVE images pushed exactly now). An index references earlier
    manifests and a referrer an earlier subject (content addressing), so children are shared, indexes nest, and
    chains and cycles of reachability appear."""
    images: list[ImageRecord] = []
    subject_reported: set[str] = set()
    for position in range(len(data) // IMAGE_BYTES):
        b = data[position * IMAGE_BYTES : (position + 1) * IMAGE_BYTES]
        earlier = [image.digest for image in images]
        children: tuple[str, ...] = ()
        subject = None
        if earlier and b[0] % 10 >= 7:  # an index of 1-3 earlier manifests
            children = tuple(dict.fromkeys(earlier[-1 - o % len(earlier)] for o in b[1 : 1 + b[0] % 10 - 6]))
        if earlier and b[4] % 10 >= 7:  # a referrer of an earlier image
            subject = earlier[-1 - b[4] // 10 % len(earlier)]
        status, tagged, reported = STATUSES[b[5] % 7], b[5] // 7 % 4 == 3, b[5] // 28 % 2 == 1
        pushed = _seconds(b[6], b[7], AGES)
        pulled = None if b[8] % 5 == 0 else _seconds(b[8] // 5, b[9], PULLS)
        archived = None if status != "ARCHIVED" or b[10] % 6 == 5 else _seconds(b[10] // 6, b[10], ARCHIVED_AGES)
        digest = f"sha256:{position:064x}"
        if subject and reported:
            subject_reported.add(digest)
        images.append(
            ImageRecord(
                digest=digest,
                pushed_at=NOW - timedelta(seconds=pushed),
                tags=(f"v{position}",) if tagged else (),
                # A pull comes after the push.
                last_pulled_at=None if pulled is None else NOW - timedelta(seconds=min(pulled, pushed)),
                last_archived_at=None if archived is None else NOW - timedelta(seconds=archived),
                status=status,
                size_bytes=pushed % 10**6,
                manifest_media_type=OCI_INDEX if children else DOCKER_MANIFEST,
                child_digests=children,
                subject_digest=subject,
            )
        )
    return images, subject_reported


# How many images (1-10), then their bytes: a fixed-size byte string keeps registries of every size about as likely.
registries = st.tuples(st.integers(1, 10), st.binary(min_size=10 * IMAGE_BYTES, max_size=10 * IMAGE_BYTES)).map(
    lambda drawn: decode_registry(drawn[1][: drawn[0] * IMAGE_BYTES])
)


rules_strategy = st.builds(
    SweepRules,
    mode=st.just(SweepMode.DELETE),
    min_age=st.sampled_from((timedelta(0), timedelta(days=14))),
    min_idle=st.sampled_from((timedelta(0), timedelta(days=30))),
    sweep_archived=st.booleans(),
)
# (call number, what happens before it, which image): tags racing the sweep, pulls, deletions by someone else.
races = st.lists(
    st.tuples(st.integers(1, 12), st.sampled_from(("tag", "pull", "remove")), st.integers(0, 9)), max_size=3
)


def run(images, subject_reported, rules, batch_size, events):
    ecr = InMemoryEcr()
    ecr.add(REPOSITORY, *images)
    ecr.subject_in_details |= subject_reported
    snapshots: list[dict[str, ImageRecord]] = []
    pending = sorted(events)

    def before_call(operation: str, registry: InMemoryEcr) -> None:
        number = sum(registry.calls.values())
        # Between a batch's re-check read and its delete call is one round trip: no client can close that window
        # (ECR has no conditional delete), so races land before any other call - the re-checks included.
        while operation != "BatchDeleteImage" and pending and pending[0][0] <= number:
            _, what, position = pending.pop(0)
            digest = f"sha256:{position:064x}"
            if what == "tag":
                registry.tag(REPOSITORY, digest, "raced")
            elif what == "pull":
                registry.pull(REPOSITORY, digest, NOW)
            else:
                registry.remove(REPOSITORY, digest)
        if operation == "BatchDeleteImage":
            snapshots.append(dict(registry.repositories[REPOSITORY]))

    ecr.before_call = before_call
    worker = SweepWorker(ecr, batch_size=batch_size, clock=lambda: NOW)
    report = worker.sweep_repository(REPOSITORY, rules)
    return ecr, report, snapshots


@pytest.mark.slow
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
@given(registry=registries, rules=rules_strategy, batch_size=st.integers(1, 4), events=races)
def test_the_sweep_never_deletes_what_stays_and_deletes_everything_else(registry, rules, batch_size, events):
    images, subject_reported = registry
    ecr, report, snapshots = run(images, subject_reported, rules, batch_size, events)
    assert report.failure is None and not report.gone

    # Safety, at the moment of every delete call: nothing a tagged image reaches, nothing that stays by itself.
    assert ecr.violations == []
    for call, state in zip(ecr.delete_calls, snapshots, strict=True):
        for digest in call:
            if digest in state:
                assert not stays_by_itself(state[digest], rules), digest

    # Every candidate ends with one outcome, and what the registry lost is exactly what the report deleted.
    candidates = {deletion.digest for deletion in report.plan.candidates}
    assert set(report.outcomes) == candidates
    original = {image.digest for image in images}
    deleted = {d for d, outcome in report.outcomes.items() if outcome.outcome is Outcome.DELETED}
    removed_by_others = {f"sha256:{p:064x}" for _, what, p in events if what == "remove"}
    assert original - ecr.digests(REPOSITORY) - removed_by_others == deleted - removed_by_others

    # Completeness: with nothing racing it, the sweep deletes every untagged image nothing that stays reaches.
    if not events:
        assert deleted == expected_deletions({image.digest: image for image in images}, rules, batch_size)


@pytest.mark.slow
@settings(max_examples=EXAMPLES // 10, deadline=None, suppress_health_check=list(HealthCheck))
@given(registry=registries, rules=rules_strategy, batch_size=st.integers(1, 4), events=races)
def test_a_dry_run_deletes_nothing_and_would_delete_what_a_delete_run_deletes(registry, rules, batch_size, events):
    images, subject_reported = registry
    dry_ecr, dry, _ = run(images, subject_reported, replace(rules, mode=SweepMode.DRY_RUN), batch_size, events)
    assert dry_ecr.calls["BatchDeleteImage"] == 0
    if not events:
        _, real, _ = run(images, subject_reported, rules, batch_size, events)
        would = {d for d, o in dry.outcomes.items() if o.outcome is Outcome.WOULD_DELETE}
        assert would == {d for d, o in real.outcomes.items() if o.outcome is Outcome.DELETED}

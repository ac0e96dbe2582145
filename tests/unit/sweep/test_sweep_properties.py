"""The sweep's safety, proved over generated registries (hypothesis) that change under it, against an in-memory ECR
that behaves like ECR where it matters (tests/sweep_fakes.py: the manifest-list refusal on, per-image failures).

Registries have nested indexes, children shared between indexes, referrer chains (and the cycles an index that is
also a referrer makes), tags, images in use, images of every age and pull time around the boundaries, archived and
ACTIVATING images, manifests BatchGetImage will not give (KmsError) and images BatchDeleteImage will not delete.
Before every ECR call except BatchDeleteImage (ECR has no conditional delete: nothing can close the round trip
between the last read and the delete) the registry may change: a tag appears or goes, an image is pulled, pushed,
deleted by someone else, a tagged index is pushed over existing manifests, a subject is pushed back with a tag, a
referrer is pushed. Whatever happens, no image that a tagged or in-use image needs is deleted at the moment of its
delete call, nor one that stays by itself; every deleted image's parents were gone before its call; the report's
deletions are exactly what the registry lost; and when nothing races the sweep it deletes every other untagged
image. The checks use their own walk and rules (not the plan's code).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from ecr_governance.exemptions import ExemptionSettings
from ecr_governance.images import DOCKER_MANIFEST, OCI_INDEX, ImageRecord
from ecr_governance.sweep.report import Outcome
from ecr_governance.sweep.settings import SweepMode, SweepRules
from ecr_governance.sweep.worker import SweepWorker
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from property_budget import FULL, PROFILE, examples
from sweep_fakes import InMemoryEcr, InMemoryInspector, reachable

NOW = datetime(2026, 6, 1, tzinfo=UTC)
DAY = 86400
REPOSITORY = "team/app"
EXAMPLES = 3_000


def stays_by_itself(image: ImageRecord, rules: SweepRules) -> bool:
    """The rules, stated independently: tagged, ACTIVATING, archived within its minimum (or archived sweeping off),
    pushed within the minimum age, pulled within the idle window (never pulled: pushed within it)."""
    if image.tags or image.status == "ACTIVATING":
        return True
    if image.status == "ARCHIVED" and (
        not rules.sweep_archived or image.last_archived_at is None or NOW - image.last_archived_at < timedelta(90)
    ):
        return True
    if image.pushed_at is None:
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
        cycles = [g for g in mutually_reaching_groups(images, candidates) if len(g) > 1]
        if not cycles:
            return candidates
        staying |= set().union(*cycles)


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
CHANGES = ("tag", "untag", "pull", "remove", "push", "tagged index", "subject back", "referrer")
# (call number, what happens before it, which image): the registry changing under the sweep.
races = st.lists(st.tuples(st.integers(1, 16), st.sampled_from(CHANGES), st.integers(0, 9)), max_size=4)
# Faults: images whose manifest BatchGetImage will not give, images BatchDeleteImage will not delete, images in use.
faults = st.tuples(
    st.frozensets(st.integers(0, 9), max_size=2),
    st.frozensets(st.integers(0, 9), max_size=2),
    st.frozensets(st.integers(0, 9), max_size=2),
)


def digest_of(position: int) -> str:
    return f"sha256:{position:064x}"


def change(registry: InMemoryEcr, what: str, position: int, pushed: list[int]) -> None:
    """One change by someone else. New digests count up from 100 (content addressing: never an earlier one)."""
    images = registry.repositories[REPOSITORY]
    target = digest_of(position)
    present = sorted(images)
    if what == "tag":
        registry.tag(REPOSITORY, target, "raced")
    elif what == "untag" and target in images:
        images[target] = replace(images[target], tags=())
    elif what == "pull":
        registry.pull(REPOSITORY, target, NOW)
    elif what == "remove":
        registry.remove(REPOSITORY, target)
    elif what == "subject back":  # a referrer's absent subject pushed again, tagged
        referrer = images.get(target)
        if referrer is not None and referrer.subject_digest and referrer.subject_digest not in images:
            images[referrer.subject_digest] = ImageRecord(referrer.subject_digest, NOW, tags=("back",))
    elif present:
        pushed.append(100 + len(pushed))
        new = digest_of(pushed[-1])
        children = tuple(present[position % len(present) :][:2]) if what == "tagged index" else ()
        subject = present[position % len(present)] if what == "referrer" else None
        images[new] = ImageRecord(
            new,
            NOW,
            tags=("pushed",) if what == "tagged index" else (),
            manifest_media_type=OCI_INDEX if children else DOCKER_MANIFEST,
            child_digests=children,
            subject_digest=subject,
        )


def run(  # noqa: PLR0917 - the property's drawn values, in the order it draws them
    images, subject_reported, rules, batch_size, events, faults=(frozenset(), frozenset(), frozenset())
):
    unreadable, undeletable, in_use = faults
    ecr = InMemoryEcr()
    ecr.add(REPOSITORY, *images)
    ecr.subject_in_details |= subject_reported
    ecr.manifest_failures = {digest_of(p): ("KmsError", "key disabled") for p in unreadable}
    ecr.failures = {digest_of(p): ("InternalError", "try again") for p in undeletable}
    ecr.in_use = {digest_of(p) for p in in_use}
    snapshots: list[dict[str, ImageRecord]] = []
    pending = sorted(events)
    pushed: list[int] = []

    def before_call(operation: str, registry: InMemoryEcr) -> None:
        number = sum(registry.calls.values())
        while operation != "BatchDeleteImage" and pending and pending[0][0] <= number:
            _, what, position = pending.pop(0)
            change(registry, what, position, pushed)
        if operation == "BatchDeleteImage":
            snapshots.append(dict(registry.repositories[REPOSITORY]))

    ecr.before_call = before_call
    worker = SweepWorker(
        ecr, ecr, rules, ExemptionSettings(), in_use=InMemoryInspector(ecr), batch_size=batch_size, clock=lambda: NOW
    )
    report = worker.sweep_repository(REPOSITORY)
    return ecr, report, snapshots


@pytest.mark.slow
@settings(max_examples=examples(EXAMPLES), deadline=None, suppress_health_check=list(HealthCheck))
@given(registry=registries, rules=rules_strategy, batch_size=st.integers(1, 4), events=races, faults=faults)
def test_the_sweep_never_deletes_what_a_tagged_or_running_image_needs_while_the_registry_changes(
    registry, rules, batch_size, events, faults
):
    images, subject_reported = registry
    ecr, report, snapshots = run(images, subject_reported, rules, batch_size, events, faults)
    assert report.failure is None and not report.gone

    # Safety, at the moment of every delete call: nothing a tagged or in-use image needs, nothing that stays by
    # itself, nothing an image still present reaches (its parents went in earlier calls).
    assert ecr.violations == []
    for deleted_now, before in zip(ecr.deleted, snapshots, strict=True):
        for digest in deleted_now:
            image = before[digest]
            assert not stays_by_itself(image, rules) and digest not in ecr.in_use, digest
            assert not any(digest in other.child_digests for other in before.values()), digest
            assert image.subject_digest is None or image.subject_digest not in before, digest

    # An unread manifest of an image in the registry stops every deletion; the report says what happened.
    deleted = {d for d, outcome in report.outcomes.items() if outcome.outcome is Outcome.DELETED}
    asked = {digest_of(p) for p in faults[0]} & {i.digest for i in images}
    if report.plan.unread:
        assert deleted == set() and ecr.calls["BatchDeleteImage"] == 0
    candidates = {deletion.digest for deletion in report.plan.candidates}
    assert set(report.outcomes) == candidates
    assert deleted == {digest for call in ecr.deleted for digest in call}

    # Completeness: with nothing racing it and nothing failing, it deletes every untagged image nothing needs.
    if not events and not any(faults) and not asked:
        assert deleted == expected_deletions({image.digest: image for image in images}, rules, batch_size)


@pytest.mark.slow
@settings(max_examples=examples(EXAMPLES // 10), deadline=None, suppress_health_check=list(HealthCheck))
@given(registry=registries, rules=rules_strategy, batch_size=st.integers(1, 4), events=races)
def test_a_dry_run_deletes_nothing_and_would_delete_what_a_delete_run_deletes(registry, rules, batch_size, events):
    images, subject_reported = registry
    dry_ecr, dry, _ = run(images, subject_reported, replace(rules, mode=SweepMode.DRY_RUN), batch_size, events)
    assert dry_ecr.calls["BatchDeleteImage"] == 0
    if not events:
        _, real, _ = run(images, subject_reported, rules, batch_size, events)
        would = {d for d, o in dry.outcomes.items() if o.outcome is Outcome.WOULD_DELETE}
        assert would == {d for d, o in real.outcomes.items() if o.outcome is Outcome.DELETED}


def test_the_full_profile_runs_the_safety_property_3000_times():
    """`make unit` runs a twentieth of the examples; `make test` (the full profile) must keep all of them."""
    counted = test_the_sweep_never_deletes_what_a_tagged_or_running_image_needs_while_the_registry_changes
    if PROFILE == FULL:
        assert counted._hypothesis_internal_use_settings.max_examples >= 3_000

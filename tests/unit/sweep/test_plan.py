"""The sweep's plan (pure): every image's decision and reason, the deletion order, the queue that protects."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from ecr_governance.images import DOCKER_MANIFEST, OCI_INDEX, ImageRecord
from ecr_governance.sweep.plan import (
    CANDIDATE,
    DeletionQueue,
    PlannedDeletion,
    connected_parts,
    indexes_to_read,
    plan_sweep,
    referrer_candidates_to_read,
)
from ecr_governance.sweep.settings import SweepRules

NOW = datetime(2026, 6, 1, tzinfo=UTC)
OLD = NOW - timedelta(days=60)
RULES = SweepRules()  # 14 days old, 30 days idle, archived images kept


def digest(name: str) -> str:
    return "sha256:" + name.encode().hex().ljust(64, "0")


def image(name: str, *, pushed: datetime = OLD, tags=(), children=(), subject=None, **extra) -> ImageRecord:
    return ImageRecord(
        digest=digest(name),
        pushed_at=pushed,
        tags=tuple(tags),
        child_digests=tuple(digest(c) for c in children),
        subject_digest=digest(subject) if subject else None,
        manifest_media_type=OCI_INDEX if children else DOCKER_MANIFEST,
        **extra,
    )


def reasons(plan) -> dict[str, str]:
    names = {digest(n): n for n in NAMES}
    return {names[d.image.digest]: d.reason for d in plan.decisions}


NAMES = [
    "index",
    "amd64",
    "arm64",
    "sig",
    "sbom",
    "orphan",
    "fresh",
    "pulled",
    "stale-index",
    "stale-amd64",
    "shared",
    "nested",
    "inner",
    "leaf",
    "old-sig",
    "young-index",
    "old-child",
    "never-pulled",
    "archived",
    "archived-long",
    "activating",
]


def test_every_image_gets_a_decision_with_its_reason():
    images = [
        image("amd64"),
        image("arm64"),
        image("index", tags=["v1"], children=["amd64", "arm64"]),
        image("sig", subject="index"),  # a signature of the tagged multi-arch image
        image("sbom", subject="sig"),  # a referrer of a referrer: kept transitively
        image("orphan", size_bytes=100),
        image("fresh", pushed=NOW - timedelta(days=3)),
        image("pulled", last_pulled_at=NOW - timedelta(days=2)),
        image("never-pulled", pushed=NOW - timedelta(days=20)),  # old enough, but idle counts from its push
        image("archived", status="ARCHIVED", last_archived_at=NOW - timedelta(days=200)),
        image("activating", status="ACTIVATING"),
    ]
    plan = plan_sweep("team/app", images, RULES, NOW)
    assert reasons(plan) == {
        "amd64": "index child",
        "arm64": "index child",
        "index": "tagged",
        "sig": "referrer",
        "sbom": "referrer",
        "orphan": CANDIDATE,
        "fresh": "too young",
        "pulled": "recently pulled",
        "never-pulled": "too young",
        "archived": "archived",
        "activating": "activating",
    }
    kept_with = {d.image.digest: d.via for d in plan.decisions if d.via}
    assert kept_with == {
        digest("amd64"): digest("index"),
        digest("arm64"): digest("index"),
        digest("sig"): digest("index"),
        digest("sbom"): digest("sig"),
    }
    assert [d.digest for d in plan.candidates] == [digest("orphan")]
    assert plan.candidate_bytes == 100
    assert plan.kept_counts()["index child"] == 2


def test_a_child_shared_with_a_tagged_index_stays_while_the_untagged_index_and_its_own_children_go():
    images = [
        image("shared"),
        image("stale-amd64"),
        image("index", tags=["v2"], children=["shared"]),
        image("stale-index", children=["shared", "stale-amd64"]),
    ]
    plan = plan_sweep("r", images, RULES, NOW)
    assert reasons(plan)["shared"] == "index child"
    # The untagged index goes first, then the child nobody else keeps.
    assert [d.digest for d in plan.candidates] == [digest("stale-index"), digest("stale-amd64")]


def test_nested_indexes_keep_their_children_transitively():
    images = [image("leaf"), image("inner", children=["leaf"]), image("nested", tags=["v3"], children=["inner"])]
    assert reasons(plan_sweep("r", images, RULES, NOW)) == {
        "leaf": "index child",
        "inner": "index child",
        "nested": "tagged",
    }


def test_an_image_that_stays_keeps_what_it_reaches_even_untagged():
    """A young untagged index keeps its old children (ECR would refuse to delete them); an old signature of a young
    image stays with it."""
    images = [
        image("old-child"),
        image("young-index", pushed=NOW - timedelta(days=1), children=["old-child"]),
        image("old-sig", subject="young-index"),
    ]
    assert reasons(plan_sweep("r", images, RULES, NOW)) == {
        "old-child": "index child",
        "young-index": "too young",
        "old-sig": "referrer",
    }


@pytest.mark.parametrize(
    ("pushed_days_ago", "pulled_days_ago", "reason"),
    [
        (14, None, "too young"),  # exactly the minimum age: not "more than"
        (14.00001, None, "too young"),  # old enough, but never pulled and pushed within the 30-day idle window
        (30, None, "too young"),
        (30.00001, None, CANDIDATE),
        (60, 30, "recently pulled"),  # pulled exactly 30 days ago is within the window
        (60, 30.00001, CANDIDATE),
        (60, -1, "recently pulled"),  # a pull time in the future (clock skew): in doubt, keep
        (-1, None, "too young"),
    ],
)
def test_age_and_idle_boundaries(pushed_days_ago, pulled_days_ago, reason):
    pulled = None if pulled_days_ago is None else NOW - timedelta(days=pulled_days_ago)
    images = [image("orphan", pushed=NOW - timedelta(days=pushed_days_ago), last_pulled_at=pulled)]
    assert reasons(plan_sweep("r", images, RULES, NOW))["orphan"] == reason


@pytest.mark.parametrize(
    ("sweep_archived", "archived_days_ago", "reason"),
    [
        (False, 400, "archived"),
        (True, 89, "archived"),  # within the 90-day archive minimum
        (True, 90, CANDIDATE),
        (True, None, "archived"),  # archived, but when is unknown: keep
    ],
)
def test_archived_images_go_only_when_asked_and_after_their_archive_minimum(sweep_archived, archived_days_ago, reason):
    archived_at = None if archived_days_ago is None else NOW - timedelta(days=archived_days_ago)
    images = [image("archived-long", status="ARCHIVED", last_archived_at=archived_at)]
    rules = SweepRules(sweep_archived=sweep_archived)
    assert reasons(plan_sweep("r", images, rules, NOW))["archived-long"] == reason


def test_a_record_listed_twice_counts_with_every_tag():
    images = [image("orphan"), image("orphan", tags=["late"])]
    assert reasons(plan_sweep("r", images, RULES, NOW)) == {"orphan": "tagged"}


def test_images_whose_manifest_was_not_read_stay_with_what_they_reach():
    images = [image("stale-amd64"), image("stale-index", children=["stale-amd64"])]
    plan = plan_sweep("r", images, RULES, NOW, unread=[digest("stale-index")])
    assert reasons(plan) == {"stale-amd64": "index child", "stale-index": "manifest unread"}


def test_a_cycle_is_one_unit_with_the_index_before_its_child_and_a_cycle_larger_than_a_batch_stays():
    # "nested" is an index of "leaf" and also a referrer of it: each reaches the other.
    images = [image("leaf"), image("nested", children=["leaf"], subject="leaf"), image("orphan")]
    plan = plan_sweep("r", images, RULES, NOW)
    assert [[d.digest for d in unit] for unit in plan.units] == [
        [digest("nested"), digest("leaf")],
        [digest("orphan")],
    ]
    small_batches = plan_sweep("r", images, RULES, NOW, batch_size=1)
    assert reasons(small_batches) == {"leaf": "reference cycle", "nested": "reference cycle", "orphan": CANDIDATE}


def test_batches_hold_at_most_100_digests_and_never_split_a_unit():
    images = [image(f"orphan-{i}") for i in range(250)]
    plan = plan_sweep("r", images, RULES, NOW)
    assert [len(batch) for batch in plan.batches()] == [100, 100, 50]
    cycle = (PlannedDeletion(digest("nested"), 1, (digest("leaf"),)), PlannedDeletion(digest("leaf"), 1, ()))
    queue = DeletionQueue([*plan.units[:99], cycle])
    sizes = []
    while batch := queue.next_batch(100):
        sizes.append(len(batch))
        queue.settle(d.digest for d in batch)
    assert sizes == [99, 2]  # 101 would not fit: the cycle waits for the next batch, whole


def test_manifests_are_read_for_indexes_then_only_for_untagged_images_that_could_go():
    listed = [
        ImageRecord(digest("index"), OLD, ("v1",), manifest_media_type=OCI_INDEX),
        ImageRecord(digest("amd64"), OLD, manifest_media_type=DOCKER_MANIFEST),
        ImageRecord(digest("unknown-type"), OLD, ("v2",)),  # no media type: it might be an index
        ImageRecord(digest("fresh"), NOW, manifest_media_type=DOCKER_MANIFEST),
        ImageRecord(digest("orphan"), OLD, manifest_media_type=DOCKER_MANIFEST),
        ImageRecord(digest("sig"), OLD, manifest_media_type=DOCKER_MANIFEST, subject_digest=digest("index")),
    ]
    assert indexes_to_read(listed) == [digest("index"), digest("unknown-type")]
    index = ImageRecord(digest("index"), OLD, ("v1",), manifest_media_type=OCI_INDEX, child_digests=(digest("amd64"),))
    read = [index, *listed[1:]]
    # amd64 is kept by the index, fresh is too young, sig's subject is known: only the orphan's manifest is needed.
    assert referrer_candidates_to_read(read, RULES, NOW, already_read=[digest("index")]) == [digest("orphan")]


def deletions(*names_and_reaches: tuple[str, tuple[str, ...]]) -> list[tuple[PlannedDeletion, ...]]:
    return [(PlannedDeletion(digest(n), 1, tuple(digest(r) for r in reach)),) for n, reach in names_and_reaches]


def test_the_queue_protects_everything_a_staying_image_reaches_wherever_it_is_queued():
    units = deletions(("stale-index", ("stale-amd64", "sig")), ("sig", ("sbom",)), ("orphan", ()), ("stale-amd64", ()))
    units.append((PlannedDeletion(digest("sbom"), 1, ()),))
    queue = DeletionQueue(units)
    first = queue.next_batch(2)
    assert [d.digest for d in first] == [digest("stale-index"), digest("sig")]
    protected = queue.protect([digest("stale-index")])  # e.g. it was tagged since the plan
    assert protected == {
        digest("stale-amd64"): digest("stale-index"),
        digest("sig"): digest("stale-index"),
        digest("sbom"): digest("stale-index"),
    }
    assert queue.is_unsettled(digest("orphan")) and not queue.is_unsettled(digest("sig"))
    assert [d.digest for d in queue.next_batch(2)] == [digest("orphan")]
    queue.settle([digest("orphan")])
    assert queue.next_batch(2) == [] and len(queue) == 0


def test_connected_parts_keep_images_that_reach_each_other_together():
    units = deletions(("stale-index", ("stale-amd64",)), ("orphan", ()), ("stale-amd64", ()), ("sig", ("sbom",)))
    units.append((PlannedDeletion(digest("sbom"), 1, ()),))
    parts = [[unit[0].digest for unit in part] for part in connected_parts(units)]
    assert sorted(parts) == sorted(
        [[digest("stale-index"), digest("stale-amd64")], [digest("orphan")], [digest("sig"), digest("sbom")]]
    )


def test_a_tagged_images_parts_are_reported_as_such_even_when_young():
    images = [
        image("amd64", pushed=NOW),
        image("index", tags=["v1"], children=["amd64"]),
        image("sig", pushed=NOW, subject="index"),
        image("leaf", pushed=NOW),
        image("young-index", pushed=NOW, children=["leaf"]),
    ]
    assert reasons(plan_sweep("r", images, RULES, NOW)) == {
        "amd64": "index child",  # the lasting reason: it goes only with v1
        "index": "tagged",
        "sig": "referrer",
        "leaf": "too young",  # its own reason comes before an untagged index's
        "young-index": "too young",
    }

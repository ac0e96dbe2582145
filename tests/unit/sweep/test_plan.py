"""The sweep's plan (pure): every image's decision and reason, and which candidates may be deleted next."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from ecr_governance.images import DOCKER_MANIFEST, OCI_INDEX, ImageRecord, manifests_to_read
from ecr_governance.sweep.plan import CANDIDATE, InUse, plan_sweep
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
    "running",
    "was-running",
    "no-push-time",
    "new-status",
    "below",
    "new",
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
        image("running"),  # deployed by digest: in use now
        image("was-running"),  # in use 10 days ago: within the 30-day idle window
        image("no-push-time", pushed=None),
        image("new-status", status="RESTORING"),  # a status newer than this code: keep
    ]
    in_use = InUse(True, {digest("running"): None, digest("was-running"): NOW - timedelta(days=10)})
    plan = plan_sweep("team/app", images, RULES, NOW, in_use=in_use)
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
        "running": "in use",
        "was-running": "in use",
        "no-push-time": "unknown age",
        "new-status": "activating",
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
    # The untagged index goes first; the child nobody else keeps only once the index is deleted.
    allowed = {d.digest for d in plan.candidates}
    assert allowed == {digest("stale-index"), digest("stale-amd64")}
    assert [d.digest for d in plan.ready(allowed, deleted=set())] == [digest("stale-index")]
    assert [d.digest for d in plan.ready(allowed, deleted={digest("stale-index")})] == [digest("stale-amd64")]


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


def test_one_unread_manifest_keeps_every_untagged_image_of_the_repository():
    """An index whose manifest could not be read may list any image: nothing untagged goes this run."""
    images = [image("stale-amd64"), image("stale-index", children=["stale-amd64"]), image("orphan")]
    plan = plan_sweep("r", images, RULES, NOW, unread={digest("stale-index"): "KmsError: key disabled"})
    assert reasons(plan) == {
        "stale-amd64": "manifest unread",
        "stale-index": "manifest unread",
        "orphan": "manifest unread",
    }
    assert plan.candidates == () and plan.unread == {digest("stale-index"): "KmsError: key disabled"}
    # A digest no longer in the repository blocks nothing.
    assert reasons(plan_sweep("r", images, RULES, NOW, unread={digest("gone"): "ImageInaccessible"}))["orphan"] == (
        CANDIDATE
    )


def test_images_that_reach_each_other_stay_with_everything_below_them():
    # "nested" is an index of "leaf" and also a referrer of it: each reaches the other, so neither can be deleted
    # after the other; "below" is a referrer of the cycle.
    images = [
        image("leaf"),
        image("nested", children=["leaf"], subject="leaf"),
        image("below", subject="nested"),
        image("orphan"),
    ]
    assert reasons(plan_sweep("r", images, RULES, NOW)) == {
        "leaf": "reference cycle",
        "nested": "reference cycle",
        "below": "referrer",
        "orphan": CANDIDATE,
    }


def test_each_call_takes_at_most_its_size_tallest_chains_first_and_a_child_only_after_its_parents():
    chain = [image("sbom", subject="sig"), image("sig", subject="stale-index")]
    images = [
        *[image(f"orphan-{i}") for i in range(150)],
        image("stale-amd64"),
        image("stale-index", children=["stale-amd64"]),
        *chain,
    ]
    plan = plan_sweep("r", images, RULES, NOW)
    allowed = {d.digest for d in plan.candidates}
    first = plan.ready(allowed, deleted=set())
    assert len(first) == 100 and first[0].digest == digest("stale-index")  # the root of the longest chain
    assert {d.digest for d in first}.isdisjoint({digest(n) for n in ("stale-amd64", "sig", "sbom")})
    after = plan.ready(allowed - {d.digest for d in first}, deleted={d.digest for d in first})
    assert {digest("stale-amd64"), digest("sig")} <= {d.digest for d in after}
    assert digest("sbom") not in {d.digest for d in after}  # its subject is not deleted yet


def test_images_a_delete_failed_on_or_not_planned_stay_with_what_they_reach():
    images = [image("stale-amd64"), image("stale-index", children=["stale-amd64"]), image("orphan"), image("new")]
    plan = plan_sweep(
        "r",
        images,
        RULES,
        NOW,
        failed={digest("stale-index")},
        only={digest(n) for n in ("stale-index", "stale-amd64", "orphan")},
    )
    assert reasons(plan) == {
        "stale-amd64": "index child",
        "stale-index": "delete failed",
        "orphan": CANDIDATE,
        "new": "not planned",
    }
    assert plan.deletable(digest("orphan")) and not plan.deletable(digest("stale-amd64"))


def test_manifests_are_read_for_indexes_and_unknown_types_then_for_images_that_could_go():
    listed = [
        ImageRecord(digest("index"), OLD, ("v1",), manifest_media_type=OCI_INDEX),
        ImageRecord(digest("amd64"), OLD, manifest_media_type=DOCKER_MANIFEST),
        ImageRecord(digest("unknown-type"), OLD, ("v2",)),  # no media type: it might be an index
        ImageRecord(digest("fresh"), NOW, manifest_media_type=DOCKER_MANIFEST),
        ImageRecord(digest("orphan"), OLD, manifest_media_type=DOCKER_MANIFEST),
        ImageRecord(digest("sig"), OLD, manifest_media_type=DOCKER_MANIFEST, subject_digest=digest("index")),
    ]
    assert manifests_to_read(listed, may_go=lambda image: False) == [digest("index"), digest("unknown-type")]
    index = ImageRecord(digest("index"), OLD, ("v1",), manifest_media_type=OCI_INDEX, child_digests=(digest("amd64"),))
    read = [index, *listed[1:]]
    plan = plan_sweep("r", read, RULES, NOW)
    # amd64 is kept by the index, fresh is too young, sig's subject is known: only the orphan's manifest is needed.
    already = [digest("index"), digest("unknown-type")]
    assert manifests_to_read(read, lambda i: plan.is_candidate(i.digest), already) == [digest("orphan")]


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

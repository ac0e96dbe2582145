"""The sweep's worker and deleter against in-memory ports (tests/sweep_fakes.py): what they read, what they delete,
in which order, what they keep at the last moment, and what they obey (their settings, the registry, not a message)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from ecr_governance.errors import AccessDenied, AwsError
from ecr_governance.exemptions import ExemptionSettings
from ecr_governance.images import DOCKER_MANIFEST, OCI_INDEX, ImageRecord
from ecr_governance.sweep.ledger import RunStart, UnitRef
from ecr_governance.sweep.messages import RepositoryMessage, body, parse_message
from ecr_governance.sweep.report import Outcome
from ecr_governance.sweep.settings import SweepMode, SweepRules
from ecr_governance.sweep.worker import SweepWorker
from sweep_fakes import InMemoryEcr, InMemoryInspector, InMemoryRuns, RecordingQueue

NOW = datetime(2026, 6, 1, tzinfo=UTC)
OLD = NOW - timedelta(days=60)
REPO = "team/app"
DELETE = SweepRules(mode=SweepMode.DELETE)
DRY_RUN = SweepRules()


def d(name: str) -> str:
    return "sha256:" + name.encode().hex().ljust(64, "0")


def img(name: str, *, tags=(), children=(), subject=None, pushed=OLD, **extra) -> ImageRecord:
    return ImageRecord(
        d(name),
        pushed,
        tuple(tags),
        child_digests=tuple(d(c) for c in children),
        subject_digest=d(subject) if subject else None,
        manifest_media_type=OCI_INDEX if children else DOCKER_MANIFEST,
        size_bytes=extra.pop("size_bytes", 1000),
        **extra,
    )


def multi_arch_registry(*extra: ImageRecord) -> InMemoryEcr:
    """A tagged multi-arch image with its signature, an old orphan, a fresh untagged image, a stale multi-arch build."""
    ecr = InMemoryEcr()
    ecr.add(
        REPO,
        img("amd64"),
        img("arm64"),
        img("index", tags=["v1"], children=["amd64", "arm64"]),
        img("sig", subject="index"),
        img("orphan", size_bytes=5000),
        img("fresh", pushed=NOW - timedelta(hours=1)),
        img("stale-amd64"),
        img("stale-index", children=["stale-amd64"]),
        *extra,
    )
    return ecr


NAMES = ("orphan", "stale-index", "stale-amd64", "extra", "extra-child", "sig", "amd64", "old-sig", "kms")


def outcomes(report) -> dict[str, str]:
    names = {d(n): n for n in NAMES}
    return {names.get(digest, digest): str(o.outcome) for digest, o in report.outcomes.items()}


NO_EXEMPTIONS = ExemptionSettings()


def worker(ecr, rules=DELETE, *, inspector=None, exemptions=NO_EXEMPTIONS, **options) -> SweepWorker:
    inspector = inspector if inspector is not None else InMemoryInspector(ecr)
    return SweepWorker(ecr, ecr, rules, exemptions, in_use=inspector, clock=lambda: NOW, **options)


def on_call(operation: str, number: int, action):
    """A before_call hook that runs `action(registry)` once, right before the `number`-th call of `operation`."""

    def hook(name, registry):
        if name == operation and registry.calls[operation] == number:
            action(registry)

    return hook


# ---- reading, planning, deleting ---------------------------------------------------------------------------------
def test_delete_mode_removes_only_what_nothing_keeps_parents_first_with_the_fewest_calls():
    ecr = multi_arch_registry()
    report = worker(ecr).sweep_repository(REPO)
    assert outcomes(report) == {"stale-index": "deleted", "stale-amd64": "deleted", "orphan": "deleted"}
    assert ecr.digests(REPO) == {d(n) for n in ("amd64", "arm64", "index", "sig", "fresh")}
    # The stale index goes in the first call with the orphan, its child in the next: never in the same call.
    assert ecr.delete_calls == [[d("stale-index"), d("orphan")], [d("stale-amd64")]]
    # Its exemption (DescribeRepositories, ListTagsForResource); one listing; the manifests of the two indexes and
    # of the untagged image that could go whose subject is unknown (the orphan); before each delete call a listing.
    assert ecr.calls == {
        "DescribePullThroughCacheRules": 1,  # is it a cache's repository? (asked every 10 minutes)
        "DescribeRepositories": 1,
        "ListTagsForResource": 1,
        "DescribeImages": 3,
        "BatchGetImage": 2,
        "BatchDeleteImage": 2,
    }
    # Bytes: the orphan's 5000 and the platform manifest's 1000; an index's own figure is its largest manifest's.
    counts = report.counts()
    assert counts["deleted"] == 3 and counts["bytes_reclaimed_standard"] == 6000
    assert counts["kept_index_child"] == 2 and counts["kept_referrer"] == 1
    assert report.delete_calls == 2 and not report.has_failures


def test_dry_run_plans_and_reads_but_never_deletes_or_re_reads():
    ecr = multi_arch_registry()
    report = worker(ecr, DRY_RUN).sweep_repository(REPO)
    assert set(outcomes(report).values()) == {"would delete"}
    assert ecr.calls["BatchDeleteImage"] == 0 and ecr.calls["DescribeImages"] == 1
    assert len(ecr.digests(REPO)) == 8 and report.bytes == 6000


def test_a_tag_that_appears_before_the_re_read_keeps_the_image_and_everything_it_reaches():
    ecr = multi_arch_registry()
    ecr.before_call = on_call("DescribeImages", 2, lambda r: r.tag(REPO, d("stale-index"), "hotfix"))
    report = worker(ecr).sweep_repository(REPO)
    assert outcomes(report) == {
        "stale-index": "tagged since plan",
        "stale-amd64": "protected",
        "orphan": "deleted",
    }
    assert report.outcomes[d("stale-index")].detail == "now tagged hotfix"
    assert ecr.delete_calls == [[d("orphan")]]


def test_a_pull_since_the_plan_keeps_the_image():
    ecr = multi_arch_registry()
    ecr.before_call = on_call("DescribeImages", 2, lambda r: r.pull(REPO, d("orphan"), NOW))
    report = worker(ecr).sweep_repository(REPO)
    assert report.outcomes[d("orphan")].outcome is Outcome.NO_LONGER_ELIGIBLE
    assert report.outcomes[d("orphan")].detail == "now recently pulled"


def test_an_image_deleted_by_someone_else_is_already_gone():
    ecr = multi_arch_registry()
    ecr.before_call = on_call("DescribeImages", 2, lambda r: r.remove(REPO, d("orphan")))
    report = worker(ecr).sweep_repository(REPO)
    assert report.outcomes[d("orphan")].outcome is Outcome.ALREADY_GONE
    assert d("orphan") not in sum(ecr.delete_calls, [])


def test_a_new_tagged_index_over_a_candidate_keeps_it_and_ecr_is_never_asked():
    """33 of 47 wrong deletions found were of this kind: something that reaches a candidate arrived after the plan."""
    ecr = multi_arch_registry()
    release = img("release", tags=["v2"], children=["stale-amd64"], pushed=NOW)
    ecr.before_call = on_call("DescribeImages", 3, lambda r: r.add(REPO, release))
    report = worker(ecr).sweep_repository(REPO)
    assert outcomes(report)["stale-amd64"] == "protected"
    assert "which stays (tagged)" in report.outcomes[d("stale-amd64")].detail
    assert d("stale-amd64") not in sum(ecr.delete_calls, []) and ecr.sent_needed == []


def test_a_subject_pushed_back_with_a_tag_keeps_its_orphaned_signature():
    ecr = multi_arch_registry(img("old-sig", subject="old-release"))  # its subject was deleted long ago
    old_release = img("old-release", tags=["v0"], pushed=NOW)
    ecr.before_call = on_call("DescribeImages", 2, lambda r: r.add(REPO, old_release))
    report = worker(ecr).sweep_repository(REPO)
    assert outcomes(report)["old-sig"] == "protected"
    assert d("old-sig") not in sum(ecr.delete_calls, [])


def test_a_signature_goes_only_after_its_subject_is_confirmed_deleted():
    ecr = multi_arch_registry(img("old-sig", subject="orphan"))
    ecr.failures[d("orphan")] = ("KmsError", "the KMS key is disabled")
    report = worker(ecr).sweep_repository(REPO)
    assert outcomes(report)["orphan"] == "failed" and outcomes(report)["old-sig"] == "parent not deleted"
    assert d("old-sig") not in sum(ecr.delete_calls, [])  # a subject that stays keeps its signature


def test_batch_delete_failures_are_read_per_image_and_nothing_below_a_failure_is_sent():
    ecr = multi_arch_registry(img("extra"), img("kms"))
    ecr.failures[d("orphan")] = ("KmsError", "the KMS key is disabled")
    ecr.failures[d("kms")] = ("ImageNotFound", "Requested image not found")
    ecr.failures[d("stale-index")] = ("ImageReferencedByManifestList", "referenced by sha256:...")
    report = worker(ecr, batch_size=1).sweep_repository(REPO)
    assert report.outcomes[d("stale-index")].outcome is Outcome.KEPT_BY_ECR
    assert report.outcomes[d("stale-amd64")].outcome is Outcome.PARENT_NOT_DELETED
    failed = report.outcomes[d("orphan")]
    assert (failed.outcome, failed.code, failed.detail) == (Outcome.FAILED, "KmsError", "the KMS key is disabled")
    assert report.outcomes[d("kms")].outcome is Outcome.ALREADY_GONE
    assert report.outcomes[d("extra")].outcome is Outcome.DELETED
    assert sorted(sum(ecr.delete_calls, [])) == sorted([d("stale-index"), d("orphan"), d("extra"), d("kms")])
    assert report.has_failures and report.log_fields()["failures"][0]["code"] == "KmsError"


def test_a_delete_call_that_fails_keeps_its_images_and_what_they_reach_and_the_sweep_goes_on():
    ecr = multi_arch_registry()
    throttled = AwsError("BatchDeleteImage failed after retries", code="ThrottlingException", transient=True)

    def throttle_first_delete(operation, registry):
        if operation == "BatchDeleteImage" and registry.calls["BatchDeleteImage"] == 1:
            raise throttled

    ecr.before_call = throttle_first_delete
    report = worker(ecr, batch_size=1).sweep_repository(REPO)
    assert outcomes(report) == {"stale-index": "failed", "stale-amd64": "parent not deleted", "orphan": "deleted"}
    assert report.outcomes[d("stale-index")].code == "ThrottlingException"


def test_a_repository_deleted_midway_ends_its_sweep_quietly():
    ecr = multi_arch_registry()
    ecr.before_call = on_call("BatchDeleteImage", 1, lambda r: r.repositories.pop(REPO))
    report = worker(ecr).sweep_repository(REPO)
    assert report.gone and not report.has_failures
    assert worker(InMemoryEcr()).sweep_repository("gone/repo").gone


def test_a_repository_that_cannot_be_read_is_its_own_failure_and_a_transient_one_is_retried_by_sqs():
    ecr = multi_arch_registry()
    denied = AccessDenied("access denied: DescribeImages", operation="DescribeImages", code="AccessDeniedException")
    ecr.before_call = on_call("DescribeImages", 1, lambda r: (_ for _ in ()).throw(denied))
    report = worker(ecr).sweep_repository(REPO)
    assert report.failure.code == "AccessDeniedException" and report.plan is None and report.has_failures

    throttled = AwsError("DescribeImages failed after retries", code="ThrottlingException", transient=True)
    ecr.before_call = lambda operation, registry: (_ for _ in ()).throw(throttled)
    runs = InMemoryRuns()
    with pytest.raises(AwsError) as raised:
        worker(ecr, ledger=runs).handle(RepositoryMessage("run", REPO))
    assert raised.value.transient and runs.units == {}  # nothing recorded: the retry will record it


# ---- unread means keep ------------------------------------------------------------------------------------------
def test_one_manifest_that_cannot_be_read_keeps_every_untagged_image_of_its_repository():
    ecr = multi_arch_registry()
    ecr.manifest_failures[d("index")] = ("KmsError", "the KMS key is disabled")  # the TAGGED index: children unknown
    report = worker(ecr).sweep_repository(REPO)
    assert report.plan.unread == {d("index"): "KmsError: the KMS key is disabled"}
    assert report.plan.candidates == () and ecr.calls["BatchDeleteImage"] == 0
    assert report.counts()["kept_manifest_unread"] == 6  # all but the tagged index and the fresh image
    assert "manifests_unread" in report.log_fields()


def test_a_manifest_unread_during_a_re_read_stops_the_rest_of_the_sweep():
    ecr = multi_arch_registry()
    pushed = img("new-index", children=["stale-amd64"], pushed=NOW)

    def push_an_unreadable_index(registry):
        registry.add(REPO, pushed)
        registry.manifest_failures[pushed.digest] = ("ImageInaccessible", "not available")

    ecr.before_call = on_call("DescribeImages", 2, push_an_unreadable_index)
    report = worker(ecr).sweep_repository(REPO)
    assert ecr.calls["BatchDeleteImage"] == 0
    assert set(outcomes(report).values()) == {"manifest unread"}


def test_a_referrer_known_only_from_its_manifest_stays_with_its_subject():
    ecr = multi_arch_registry(img("extra", subject="index"))  # DescribeImages does not report this subject
    report = worker(ecr).sweep_repository(REPO)
    assert d("extra") not in report.outcomes
    assert {decision.image.digest: decision.reason for decision in report.plan.decisions}[d("extra")] == "referrer"


def test_an_image_without_a_push_time_stays_and_the_rest_is_swept():
    ecr = multi_arch_registry(img("extra", pushed=None))
    report = worker(ecr).sweep_repository(REPO)
    assert {decision.image.digest: decision.reason for decision in report.plan.decisions}[d("extra")] == ("unknown age")
    assert report.count(Outcome.DELETED) == 3


# ---- in use means keep --------------------------------------------------------------------------------------------
def test_an_image_inspector_saw_running_stays_with_what_it_reaches():
    ecr = multi_arch_registry()
    inspector = InMemoryInspector(ecr, last_in_use={d("stale-index"): NOW - timedelta(days=3)})
    ecr.in_use.add(d("orphan"))  # in an ECS task right now, deployed by digest
    report = worker(ecr, inspector=inspector).sweep_repository(REPO)
    reasons = {decision.image.digest: decision.reason for decision in report.plan.decisions}
    assert (reasons[d("orphan")], reasons[d("stale-index")], reasons[d("stale-amd64")]) == (
        "in use",
        "in use",
        "index child",
    )
    assert report.plan.candidates == () and report.in_use_available is True


def test_without_inspector_in_use_data_the_report_says_so_and_a_failed_read_keeps_the_repository():
    ecr = multi_arch_registry()
    report = worker(ecr, inspector=InMemoryInspector(ecr, covered=False)).sweep_repository(REPO)
    assert report.in_use_available is False and report.log_fields()["in_use_data"] is False
    assert report.count(Outcome.DELETED) == 3
    broken = InMemoryInspector(ecr, fail_with=AccessDenied("inspector2:ListCoverage denied", code="AccessDenied"))
    report = worker(multi_arch_registry(), inspector=broken).sweep_repository(REPO)
    assert report.failure.code == "AccessDenied" and report.plan is None


# ---- the worker obeys its settings and the registry, not the message ---------------------------------------------
def test_a_repository_exempt_since_the_plan_is_left_alone():
    ecr = multi_arch_registry()
    ecr.repository_tags[REPO] = {"ecr-governance:exempt": "lifecycle"}
    report = worker(ecr).sweep_repository(REPO)
    assert report.exempt_now and report.plan is None and ecr.calls["DescribeImages"] == 0
    assert report.counts()["repositories_exempt_now"] == 1


def test_a_worker_in_dry_run_mode_deletes_nothing_whatever_run_queued_the_message():
    ecr = multi_arch_registry()
    result = worker(ecr, DRY_RUN).handle(RepositoryMessage("a-run-planned-in-delete-mode", REPO, part=3))
    assert ecr.calls["BatchDeleteImage"] == 0 and result.report.count(Outcome.WOULD_DELETE) == 3


def test_a_message_carries_no_rules_and_no_digests():
    document = parse_message(body(RepositoryMessage("run", REPO, part=2)))
    assert document == RepositoryMessage("run", REPO, part=2)
    assert set(__import__("json").loads(body(document))) == {"kind", "version", "runId", "repository", "part"}


def started_run(run_id: str, *repositories: str) -> InMemoryRuns:
    runs = InMemoryRuns()
    units = tuple(UnitRef(RepositoryMessage(run_id, name).unit_id, name) for name in repositories)
    runs.start_run(RunStart(run_id, SweepMode.DELETE, NOW, NOW + timedelta(hours=6), units))
    return runs


# ---- handing on -------------------------------------------------------------------------------------------------
def clock_running_out(calls_before_short: int):
    """seconds_left(): plenty for its first calls (one when the message starts, then one before each delete call),
    then almost nothing."""
    state = {"calls": 0}

    def seconds_left() -> float:
        state["calls"] += 1
        return 900.0 if state["calls"] <= calls_before_short else 30.0

    return seconds_left


def test_a_worker_short_of_time_queues_the_next_part_which_re_plans_and_finishes():
    ecr = multi_arch_registry(*(img(f"old-{i}") for i in range(6)))
    queue, runs = RecordingQueue(), started_run("run-7", REPO)
    sweeper = worker(ecr, queue=queue, ledger=runs, batch_size=2)
    first = sweeper.handle(RepositoryMessage("run-7", REPO), seconds_left=clock_running_out(3)).report
    assert first.count(Outcome.DELETED) == 4 and first.continued
    (following,) = [parse_message(b) for b in queue.take()]
    assert following == RepositoryMessage("run-7", REPO, part=1)
    assert runs.unfinished_units("run-7") == [UnitRef(following.unit_id, REPO)] and runs.runs["run-7"]["expected"] == 2
    second = sweeper.handle(following, seconds_left=lambda: 900.0).report
    assert second.count(Outcome.DELETED) == 5 and second.counts()["parts"] == 1
    assert ecr.digests(REPO) == {d(n) for n in ("amd64", "arm64", "index", "sig", "fresh")}


def test_a_part_that_cannot_be_queued_is_deferred():
    queue = RecordingQueue(refuse={0})
    report = (
        worker(multi_arch_registry(), queue=queue)
        .handle(RepositoryMessage("run-8", REPO), seconds_left=clock_running_out(1))
        .report
    )
    assert set(outcomes(report).values()) == {"deferred"} and not report.continued


def test_too_little_time_to_start_puts_the_message_back():
    queue = RecordingQueue()
    message = RepositoryMessage("run-9", REPO)
    ecr = multi_arch_registry()
    assert worker(ecr, queue=queue).handle(message, seconds_left=lambda: 200.0).requeued
    assert queue.bodies == [body(message)] and ecr.calls == {}


def test_without_a_queue_a_worker_never_stops_early():
    ecr = multi_arch_registry()
    result = worker(ecr).handle(RepositoryMessage("run", REPO), lambda: 1.0)
    assert result.report.count(Outcome.DELETED) == 3


def test_fractions_of_a_day_in_the_rules_count():
    ecr = multi_arch_registry()
    rules = replace(DELETE, min_age=timedelta(hours=12), min_idle=timedelta(hours=12))
    report = worker(ecr, rules).sweep_repository(REPO)
    assert report.count(Outcome.DELETED) == 3 and d("fresh") not in report.outcomes


# ---- pull-through caches -----------------------------------------------------------------------------------------
def test_a_pull_through_caches_images_are_in_use_unless_inspector_says_otherwise():
    """Workloads pull a cache's images by digest: untagged is normal there. Without Inspector's in-use data nothing
    in a cache repository is swept; with it, what Inspector did not see running goes as anywhere else."""
    ecr = multi_arch_registry()
    ecr.cache_prefixes = ("team",)  # team/app is under the cache rule's prefix team/
    blind = worker(ecr, inspector=InMemoryInspector(ecr, covered=False)).sweep_repository(REPO)
    reasons = {decision.image.digest: decision.reason for decision in blind.plan.decisions}
    assert reasons[d("orphan")] == "pull-through cache" and blind.plan.candidates == ()
    seen = worker(multi_arch_registry(), inspector=InMemoryInspector(ecr)).sweep_repository(REPO)
    assert seen.count(Outcome.DELETED) == 3
    outside = multi_arch_registry()
    outside.cache_prefixes = ("docker-hub",)
    assert (
        worker(outside, inspector=InMemoryInspector(outside, covered=False))
        .sweep_repository(REPO)
        .count(Outcome.DELETED)
        == 3
    )


def test_a_registry_serving_only_ecrs_core_api_is_not_asked_for_cache_rules():
    from ecr_governance.registry_api import RegistryApi

    ecr = multi_arch_registry()
    SweepWorker(ecr, ecr, DELETE, NO_EXEMPTIONS, clock=lambda: NOW, registry_api=RegistryApi.CORE).sweep_repository(
        REPO
    )
    assert "DescribePullThroughCacheRules" not in ecr.calls

"""The sweep's planner and worker against in-memory ports (tests/sweep_fakes.py): what they read, what they delete,
what they keep at the last moment, how they hand work on and how a run's results add up."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from ecr_governance.enforce.model import Repository
from ecr_governance.errors import AccessDenied, AwsError, RepositoryNotFound
from ecr_governance.exemptions import ExemptionSettings
from ecr_governance.images import DOCKER_MANIFEST, OCI_INDEX, ImageRecord
from ecr_governance.sweep.messages import ContinuationMessage, RepositoryMessage, parse_message, repository_body
from ecr_governance.sweep.report import Outcome
from ecr_governance.sweep.service import SweepPlanner, SweepWorker
from ecr_governance.sweep.settings import SweepMode, SweepRules
from sweep_fakes import InMemoryEcr, InMemoryRuns, RecordingPublisher, RecordingQueue

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


def outcomes(report) -> dict[str, str]:
    names = {d(n): n for n in ("orphan", "stale-index", "stale-amd64", "extra", "extra-child", "sig", "amd64")}
    return {names.get(digest, digest): str(o.outcome) for digest, o in report.outcomes.items()}


def worker(ecr, **options) -> SweepWorker:
    return SweepWorker(ecr, clock=lambda: NOW, **options)


def test_delete_mode_removes_only_what_nothing_keeps_with_the_fewest_calls():
    ecr = multi_arch_registry()
    report = worker(ecr).sweep_repository(REPO, DELETE)
    assert outcomes(report) == {"stale-index": "deleted", "stale-amd64": "deleted", "orphan": "deleted"}
    assert ecr.digests(REPO) == {d(n) for n in ("amd64", "arm64", "index", "sig", "fresh")}
    # One listing; the manifests of the two indexes; of the untagged images that could go and whose subject is
    # unknown (only the orphan: the stale child is known through its index); one re-check; one delete.
    assert ecr.calls == {"DescribeImages": 2, "BatchGetImage": 2, "BatchDeleteImage": 1}
    # Bytes: the orphan's 5000 and the platform manifest's 1000; an index's own figure is its largest manifest's.
    assert report.counts()["deleted"] == 3 and report.counts()["bytes_reclaimed"] == 6000
    assert report.counts()["kept_index_child"] == 2 and report.counts()["kept_referrer"] == 1
    assert not report.has_failures


def test_dry_run_does_everything_but_delete():
    ecr = multi_arch_registry()
    report = worker(ecr).sweep_repository(REPO, DRY_RUN)
    assert set(outcomes(report).values()) == {"would delete"}
    assert ecr.calls["BatchDeleteImage"] == 0 and ecr.calls["DescribeImages"] == 2  # the re-check happens too
    assert len(ecr.digests(REPO)) == 8
    assert report.bytes == 6000


def test_a_tag_that_appears_before_the_recheck_keeps_the_image_and_everything_it_reaches():
    ecr = multi_arch_registry()

    def tag_before_recheck(operation, registry):
        if operation == "DescribeImages" and registry.calls["DescribeImages"] == 2:
            registry.tag(REPO, d("stale-index"), "hotfix")

    ecr.before_call = tag_before_recheck
    report = worker(ecr).sweep_repository(REPO, DELETE)
    assert outcomes(report) == {"stale-index": "tagged since plan", "stale-amd64": "protected", "orphan": "deleted"}
    assert report.outcomes[d("stale-index")].detail == "now tagged hotfix"
    assert ecr.delete_calls == [[d("orphan")]]


def test_a_pull_since_the_plan_keeps_the_image():
    ecr = multi_arch_registry()
    ecr.before_call = lambda op, reg: reg.calls["DescribeImages"] == 2 and reg.pull(REPO, d("orphan"), NOW)
    report = worker(ecr).sweep_repository(REPO, DELETE)
    assert report.outcomes[d("orphan")].outcome is Outcome.NO_LONGER_ELIGIBLE
    assert report.outcomes[d("orphan")].detail == "now recently pulled"


def test_an_image_deleted_by_someone_else_is_found_by_halving_the_recheck():
    ecr = multi_arch_registry(*(img(f"old-{i}") for i in range(5)))

    def delete_before_recheck(operation, registry):
        if operation == "DescribeImages" and registry.calls["DescribeImages"] == 2:
            registry.remove(REPO, d("old-3"))

    ecr.before_call = delete_before_recheck
    report = worker(ecr).sweep_repository(REPO, DELETE)
    assert report.outcomes[d("old-3")].outcome is Outcome.ALREADY_GONE
    assert report.count(Outcome.DELETED) == 7
    # 1 listing + the refused re-check of 8 + halves: 4 (refused), 2 (refused), 1, 1 (gone), 4 (found); then the
    # seven left, read again in one call right before the delete.
    assert ecr.calls["DescribeImages"] == 1 + 1 + 6 + 1


def test_batch_delete_failures_are_read_per_image_and_nothing_is_retried():
    ecr = multi_arch_registry(img("extra"), img("kms"))
    ecr.failures[d("orphan")] = ("KmsError", "the KMS key is disabled")
    ecr.failures[d("kms")] = ("ImageNotFound", "Requested image not found")
    ecr.failures[d("stale-index")] = ("ImageReferencedByManifestList", "referenced by sha256:...")
    report = worker(ecr, batch_size=1).sweep_repository(REPO, DELETE)
    assert report.outcomes[d("stale-index")].outcome is Outcome.KEPT_BY_ECR
    # What stays keeps what it reaches: the stale index's child is never sent to ECR.
    assert report.outcomes[d("stale-amd64")].outcome is Outcome.PROTECTED
    failed = report.outcomes[d("orphan")]
    assert (failed.outcome, failed.code, failed.detail) == (Outcome.FAILED, "KmsError", "the KMS key is disabled")
    assert report.outcomes[d("kms")].outcome is Outcome.ALREADY_GONE
    assert report.outcomes[d("extra")].outcome is Outcome.DELETED
    assert sorted(sum(ecr.delete_calls, [])) == sorted([d("stale-index"), d("orphan"), d("extra"), d("kms")])
    assert report.has_failures and report.log_fields()["failures"][0]["code"] == "KmsError"


def test_a_delete_call_that_fails_fails_its_batch_and_the_sweep_goes_on():
    ecr = multi_arch_registry()
    throttled = AwsError("BatchDeleteImage failed after retries", code="ThrottlingException", transient=True)

    def throttle_first_delete(operation, registry):
        if operation == "BatchDeleteImage" and registry.calls["BatchDeleteImage"] == 1:
            raise throttled

    ecr.before_call = throttle_first_delete
    report = worker(ecr, batch_size=1).sweep_repository(REPO, DELETE)
    assert outcomes(report) == {"stale-index": "failed", "stale-amd64": "protected", "orphan": "deleted"}
    assert report.outcomes[d("stale-index")].code == "ThrottlingException"


def test_a_repository_deleted_midway_ends_its_sweep_quietly():
    ecr = multi_arch_registry()

    def drop_repository(operation, registry):
        if operation == "BatchDeleteImage":
            registry.repositories.pop(REPO)

    ecr.before_call = drop_repository
    report = worker(ecr).sweep_repository(REPO, DELETE)
    assert report.gone and set(outcomes(report).values()) == {"already gone"}
    assert not worker(InMemoryEcr()).sweep_repository("gone/repo", DELETE).plan


def test_a_repository_that_cannot_be_read_is_its_own_failure_and_a_transient_one_is_retried_by_sqs():
    ecr = multi_arch_registry()
    denied = AccessDenied("access denied: DescribeImages", operation="DescribeImages", code="AccessDeniedException")

    def refuse(operation, registry):
        raise denied

    ecr.before_call = refuse
    report = worker(ecr).sweep_repository(REPO, DELETE)
    assert report.failure.code == "AccessDeniedException" and report.plan is None and report.has_failures
    runs = InMemoryRuns()
    message = RepositoryMessage("run", REPO, DELETE, NOW)
    worker(ecr, runs=runs).handle(message)
    assert runs.runs["run"]["counts"]["repositories_failed"] == 1

    throttled = AwsError("DescribeImages failed after retries", code="ThrottlingException", transient=True)
    ecr.before_call = lambda operation, registry: (_ for _ in ()).throw(throttled)
    fresh_runs = InMemoryRuns()
    with pytest.raises(AwsError) as raised:
        worker(ecr, runs=fresh_runs).handle(message)
    assert raised.value.transient and fresh_runs.units == {}  # nothing recorded: the retry will record it


def test_an_image_whose_manifest_does_not_come_back_stays_with_what_it_reaches():
    ecr = multi_arch_registry()
    original = ecr.get_manifests
    ecr.get_manifests = lambda repo, digests: {
        k: v for k, v in original(repo, digests).items() if k != d("stale-index")
    }
    report = worker(ecr).sweep_repository(REPO, DELETE)
    reasons = {decision.image.digest: decision.reason for decision in report.plan.decisions}
    assert reasons[d("stale-index")] == "manifest unread"
    # Its children are unknown, so its child is a candidate - and ECR itself refuses to delete it while it stays.
    assert outcomes(report) == {"orphan": "deleted", "stale-amd64": "kept by ECR"}


def test_a_referrer_known_only_from_its_manifest_stays_with_its_subject():
    ecr = multi_arch_registry(img("extra", subject="index"))  # DescribeImages does not report this subject
    report = worker(ecr).sweep_repository(REPO, DELETE)
    assert d("extra") not in report.outcomes
    assert {decision.image.digest: decision.reason for decision in report.plan.decisions}[d("extra")] == "referrer"


# ---- handing on, and the run ------------------------------------------------------------------------------------
def clock_running_out(calls_before_short: int):
    """seconds_left(): plenty for its first calls (one when the message starts, then one before each batch), then
    almost nothing."""
    state = {"calls": 0}

    def seconds_left() -> float:
        state["calls"] += 1
        return 900.0 if state["calls"] <= calls_before_short else 30.0

    return seconds_left


def test_a_worker_short_of_time_hands_the_rest_on_and_the_parts_finish_the_run():
    ecr = multi_arch_registry(*(img(f"old-{i}") for i in range(6)))
    queue, runs, publisher = RecordingQueue(), InMemoryRuns(), RecordingPublisher()
    sweeper = worker(ecr, queue=queue, runs=runs, publisher=publisher, batch_size=2)
    planner = SweepPlanner(Directory({REPO: {}}), ExemptionSettings(), queue=queue, runs=runs)
    planner.launch("run-7", DELETE, NOW)
    (repository_message,) = [parse_message(body) for body in queue.bodies]
    queue.bodies.clear()

    first = sweeper.handle(repository_message, seconds_left=clock_running_out(3))
    assert first.count(Outcome.DELETED) == 4 and first.continuation_parts >= 1
    handed_on = [parse_message(body) for body in queue.bodies]
    assert all(isinstance(m, ContinuationMessage) for m in handed_on)
    continued = {dl.digest for m in handed_on for unit in m.units for dl in unit}
    assert continued == {digest for digest, o in first.outcomes.items() if o.outcome is Outcome.CONTINUED}
    assert runs.runs["run-7"]["expected"] == 1 + len(handed_on) and not publisher.notices

    for message in handed_on:
        sweeper.handle(message, seconds_left=lambda: 900.0)
    assert ecr.digests(REPO) == {d(n) for n in ("amd64", "arm64", "index", "sig", "fresh")}
    (notice,) = publisher.notices
    assert "9 untagged images deleted" in notice.subject
    totals = runs.runs["run-7"]["counts"]
    assert totals["deleted"] == 9 and totals["continued"] == len(continued) and totals["repositories"] == 1


def test_parts_that_cannot_be_sent_are_deferred_and_the_run_still_completes():
    ecr = multi_arch_registry()
    queue, runs, publisher = RecordingQueue(refuse={0}), InMemoryRuns(), RecordingPublisher()
    runs.add_expected("run-8", 1)
    sweeper = worker(ecr, queue=queue, runs=runs, publisher=publisher)
    report = sweeper.handle(RepositoryMessage("run-8", REPO, DELETE, NOW), seconds_left=lambda: 30.0)
    assert set(outcomes(report).values()) == {"deferred"}
    assert runs.runs["run-8"]["expected"] == 1 and len(publisher.notices) == 1
    assert "Left for the next run: 3" in publisher.notices[0].text


def test_too_little_time_to_start_puts_the_message_back():
    queue = RecordingQueue()
    message = RepositoryMessage("run-9", REPO, DELETE, NOW)
    ecr = multi_arch_registry()
    assert worker(ecr, queue=queue).handle(message, seconds_left=lambda: 200.0) is None
    assert queue.bodies == [repository_body(message)] and ecr.calls == {}


def test_without_a_queue_a_worker_never_stops_early():
    ecr = multi_arch_registry()
    report = worker(ecr, runs=InMemoryRuns()).handle(RepositoryMessage("run", REPO, DELETE, NOW), lambda: 1.0)
    assert report.count(Outcome.DELETED) == 3


def test_a_message_delivered_twice_is_recorded_once():
    runs, publisher = InMemoryRuns(), RecordingPublisher()
    runs.add_expected("run", 1)
    message = RepositoryMessage("run", REPO, DELETE, NOW)
    worker(multi_arch_registry(), runs=runs, publisher=publisher).handle(message)
    worker(multi_arch_registry(), runs=runs, publisher=publisher).handle(message)
    assert runs.runs["run"]["reported"] == 1 and len(publisher.notices) == 1


# ---- planner ----------------------------------------------------------------------------------------------------
class Directory:
    def __init__(self, tags_by_name: dict[str, dict[str, str]], unreadable: frozenset[str] = frozenset()):
        self._tags = tags_by_name
        self._unreadable = unreadable

    def _repository(self, name: str) -> Repository:
        return Repository(name, f"arn:aws:ecr:ap-southeast-1:1:repository/{name}", "IMMUTABLE")

    def list_repositories(self):
        return iter([self._repository(name) for name in self._tags])

    def get_repository(self, name: str) -> Repository:
        if name not in self._tags:
            raise RepositoryNotFound(name)
        return self._repository(name)

    def list_tags(self, repository: Repository) -> dict[str, str]:
        if repository.name in self._unreadable:
            raise AccessDenied("access denied: ListTagsForResource", code="AccessDeniedException")
        return self._tags[repository.name]


EXEMPTIONS = ExemptionSettings(repository_patterns=("sandbox/*",))
REGISTRY = Directory(
    {
        "team/app": {},
        "team/legacy": {"ecr-governance:exempt": "true"},
        "team/keep-images": {"ecr-governance:exempt": "lifecycle"},
        "team/unscanned": {"ecr-governance:exempt": "scan-on-push"},  # still swept: not exempt from lifecycle
        "sandbox/tmp": {},
        "team/secret": {},
    },
    unreadable=frozenset({"team/secret"}),
)


def test_the_planner_skips_repositories_exempt_from_lifecycle_and_those_whose_tags_it_cannot_read():
    selection = SweepPlanner(REGISTRY, EXEMPTIONS).select()
    assert selection.repositories == ("team/app", "team/unscanned")
    assert [name for name, _ in selection.exempt] == ["sandbox/tmp", "team/keep-images", "team/legacy"]
    assert [(name, failure.code) for name, failure in selection.unreadable] == [
        ("team/secret", "AccessDeniedException")
    ]
    named = SweepPlanner(REGISTRY, EXEMPTIONS).select(["team/app", "team/legacy", "team/nope"])
    assert (named.repositories, named.missing) == (("team/app",), ("team/nope",))


def test_the_planner_sends_one_message_per_repository_and_expects_as_many_results():
    queue, runs = RecordingQueue(refuse={1}), InMemoryRuns()
    launch = SweepPlanner(REGISTRY, EXEMPTIONS, queue=queue, runs=runs).launch("run-1", DELETE, NOW)
    assert [parse_message(body) for body in queue.bodies] == [RepositoryMessage("run-1", "team/app", DELETE, NOW)]
    assert launch.unsent == ("team/unscanned",)
    assert runs.runs["run-1"]["expected"] == 1 and runs.runs["run-1"]["exempt"] == 3


def test_without_a_queue_the_planner_says_what_it_would_send():
    launch = SweepPlanner(REGISTRY, EXEMPTIONS).launch("run-2", DRY_RUN, NOW)
    assert not launch.queued
    assert [parse_message(body).repository for body in launch.bodies] == ["team/app", "team/unscanned"]

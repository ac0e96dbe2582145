"""A sweep run end to end on in-memory ports: the planner's messages, the workers, the ledger, the summary - and the
faults that used to lose or miscount work. In every case the published summary's deletions are the deletions that
happened, and there is exactly one summary per run."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from ecr_governance.errors import AccessDenied, AwsError
from ecr_governance.exemptions import ExemptionSettings
from ecr_governance.images import DOCKER_MANIFEST, OCI_INDEX, ImageRecord
from ecr_governance.sweep.ledger import UnitRef
from ecr_governance.sweep.messages import DEADLINE_RECHECK_SECONDS, DeadlineMessage, RepositoryMessage, parse_message
from ecr_governance.sweep.notice import Prices
from ecr_governance.sweep.planner import SweepPlanner
from ecr_governance.sweep.settings import SweepMode, SweepRules
from ecr_governance.sweep.summary import RunSummaries
from ecr_governance.sweep.worker import SweepWorker
from sweep_fakes import InMemoryEcr, InMemoryInspector, InMemoryRuns, RecordingPublisher, RecordingQueue

START = datetime(2026, 6, 1, tzinfo=UTC)
OLD = START - timedelta(days=60)
DELETE = SweepRules(mode=SweepMode.DELETE)
DEADLINE = timedelta(hours=6)
GIB = 1024**3


def d(name: str) -> str:
    return "sha256:" + name.encode().hex().ljust(64, "0")


def img(name: str, *, tags=(), children=(), subject=None, size=GIB, **extra) -> ImageRecord:
    return ImageRecord(
        d(name),
        OLD,
        tuple(tags),
        child_digests=tuple(d(c) for c in children),
        subject_digest=d(subject) if subject else None,
        manifest_media_type=OCI_INDEX if children else DOCKER_MANIFEST,
        size_bytes=size,
        **extra,
    )


class Stack:
    """The deployed pieces, in memory: one queue, one runs table, one topic, workers built like the handler's."""

    def __init__(
        self, ecr: InMemoryEcr, *, publisher: RecordingPublisher | None = None, runs: InMemoryRuns | None = None
    ):
        self.now = START
        self.ecr = ecr
        self.queue = RecordingQueue()
        self.runs = runs or InMemoryRuns()
        self.publisher = publisher or RecordingPublisher()
        self.planner = SweepPlanner(
            ecr, ExemptionSettings(), queue=self.queue, runs=self.runs, in_use=InMemoryInspector(ecr)
        )

    def worker(self) -> SweepWorker:
        clock = lambda: self.now  # noqa: E731 - the stack's clock moves on
        summaries = RunSummaries(
            self.runs, lambda call: self.ecr, Prices(0.10, 0.10), clock, queue=self.queue, publisher=self.publisher
        )
        return SweepWorker(
            self.ecr,
            self.ecr,
            DELETE,
            ExemptionSettings(),
            in_use=InMemoryInspector(self.ecr),
            queue=self.queue,
            ledger=self.runs,
            summaries=summaries,
            clock=clock,
        )

    def launch(self, run_id: str = "run-1") -> list:
        self.planner.launch(run_id, DELETE, self.now, DEADLINE)
        return [parse_message(body) for body in self.queue.take()]

    def deliver(self, messages, worker: SweepWorker | None = None) -> None:
        sweeper = worker or self.worker()
        for message in messages:
            sweeper.handle(message, seconds_left=lambda: 900.0)

    def summary_figures(self) -> tuple[int, float]:
        """(images deleted, GiB) as the one published summary states them."""
        (notice,) = self.publisher.notices
        match = re.search(r"(\d+) untagged images deleted, ([\d.]+) GiB", notice.subject)
        assert match, notice.subject
        return int(match[1]), float(match[2])


def two_repositories() -> InMemoryEcr:
    ecr = InMemoryEcr()
    ecr.add("team/a", img("a-index", children=["a-amd64"]), img("a-amd64"), img("a-orphan"), img("a-keep", tags=["v1"]))
    ecr.add("team/b", *(img(f"b-{i}") for i in range(4)), img("b-sig", subject="b-0"))
    return ecr


TRUTH = {"team/a": 2, "team/b": 5}  # images each repository loses (an index's own size counts as 0)
TRUTH_BYTES = 6  # GiB: a-amd64, a-orphan, b-0..b-3, b-sig (each 1 GiB) less the index


def deleted_so_far(ecr: InMemoryEcr) -> int:
    return sum(len(call) for call in ecr.deleted)


def test_a_run_publishes_one_summary_with_the_deletions_that_happened():
    stack = Stack(two_repositories())
    messages = stack.launch()
    assert [m for m in messages if isinstance(m, DeadlineMessage)] == [DeadlineMessage("run-1")]
    stack.deliver([m for m in messages if isinstance(m, RepositoryMessage)])
    assert stack.summary_figures() == (deleted_so_far(stack.ecr), 7.0)
    assert deleted_so_far(stack.ecr) == 8
    # The deadline message, when it comes, finds the summary out and stops coming back.
    stack.deliver([DeadlineMessage("run-1")])
    assert len(stack.publisher.notices) == 1 and stack.queue.bodies == []


def test_a_ledger_failure_after_deletions_loses_none_of_them():
    """The confirmation of a delete call fails: the message fails and is redelivered; the retry finds those images
    gone; the summary still counts them, from the call written down before it was made."""
    stack = Stack(two_repositories())
    messages = [m for m in stack.launch() if isinstance(m, RepositoryMessage)]
    stack.runs.fail.append("confirm_deletion")
    with pytest.raises(AwsError):
        stack.deliver(messages[:1])
    assert deleted_so_far(stack.ecr) == 2  # the first call of team/a happened
    stack.deliver(messages)  # SQS redelivers the failed message; team/b follows
    assert stack.summary_figures() == (deleted_so_far(stack.ecr), 7.0)


def test_the_same_message_handled_by_two_workers_at_once_counts_each_deletion_once():
    stack = Stack(two_repositories())
    messages = [m for m in stack.launch() if isinstance(m, RepositoryMessage)]
    twin = stack.worker()
    raced = []

    def the_twin_runs_first(operation, registry):
        if operation == "BatchDeleteImage" and not raced:
            raced.append(True)
            registry.before_call = None
            stack.deliver(messages[:1], twin)  # the same message, delivered twice, handled meanwhile
            registry.before_call = the_twin_runs_first

    stack.ecr.before_call = the_twin_runs_first
    stack.deliver(messages)
    assert stack.summary_figures() == (deleted_so_far(stack.ecr), 7.0)


def test_a_failed_summary_claim_is_retried_on_redelivery():
    stack = Stack(two_repositories())
    messages = [m for m in stack.launch() if isinstance(m, RepositoryMessage)]
    stack.deliver(messages[:1])
    stack.runs.fail.append("claim_summary")
    with pytest.raises(AwsError):
        stack.deliver(messages[1:])
    assert stack.publisher.notices == []
    stack.deliver(messages[1:])  # redelivered: its result was recorded, the claim is made now
    assert stack.summary_figures() == (8, 7.0)


def test_a_message_in_the_dead_letter_queue_still_gets_its_run_a_summary_naming_it():
    stack = Stack(two_repositories())
    messages = [m for m in stack.launch() if isinstance(m, RepositoryMessage)]
    stack.deliver(messages[1:])  # team/a's message never succeeds: it ends in the DLQ
    assert stack.publisher.notices == []
    stack.now = START + timedelta(hours=1)
    stack.deliver([DeadlineMessage("run-1")])  # not yet: it comes back in 15 minutes
    assert stack.publisher.notices == [] and stack.queue.delays == [DEADLINE_RECHECK_SECONDS]
    stack.queue.take()
    stack.now = START + DEADLINE
    stack.deliver([DeadlineMessage("run-1")])
    (notice,) = stack.publisher.notices
    assert "1 not swept" in notice.subject and "team/a" in notice.text
    assert stack.summary_figures() == (5, 5.0) == (deleted_so_far(stack.ecr), 5.0)
    stack.deliver(messages[:1])  # a late redrive sweeps it: the run's one summary is out already
    assert len(stack.publisher.notices) == 1


def test_an_sns_failure_is_published_later_by_the_deadline_message_once():
    stack = Stack(two_repositories(), publisher=RecordingPublisher(fail_times=1))
    messages = [m for m in stack.launch() if isinstance(m, RepositoryMessage)]
    worker = stack.worker()
    stack.deliver(messages, worker)
    assert stack.publisher.notices == []
    stack.now = START + timedelta(minutes=15)  # the claim's lease has lapsed
    stack.deliver([DeadlineMessage("run-1")])
    stack.deliver([DeadlineMessage("run-1")])
    assert stack.summary_figures() == (8, 7.0)


def test_an_unconfirmed_delete_call_is_counted_from_what_the_registry_lost():
    stack = Stack(two_repositories())
    messages = [m for m in stack.launch() if isinstance(m, RepositoryMessage)]
    stack.runs.fail.append("confirm_deletion")
    with pytest.raises(AwsError):
        stack.deliver(messages[:1])  # and SQS never delivers it again: it goes to the DLQ
    stack.deliver(messages[1:])
    stack.now = START + DEADLINE
    stack.deliver([DeadlineMessage("run-1")])
    images, gib = stack.summary_figures()
    assert images == deleted_so_far(stack.ecr) == 7 and gib == 6.0


# ---- the planner ------------------------------------------------------------------------------------------------
def planner_registry() -> InMemoryEcr:
    ecr = InMemoryEcr()
    for name in ("team/app", "team/legacy", "team/keep-images", "team/unscanned", "sandbox/tmp", "team/secret"):
        ecr.add(name)
    ecr.repository_tags = {
        "team/legacy": {"ecr-governance:exempt": "true"},
        "team/keep-images": {"ecr-governance:exempt": "lifecycle"},
        "team/unscanned": {"ecr-governance:exempt": "scan-on-push"},  # still swept: not exempt from lifecycle
    }
    ecr.tags_refused["team/secret"] = AccessDenied("access denied: ListTagsForResource", code="AccessDeniedException")
    return ecr


EXEMPTIONS = ExemptionSettings(repository_patterns=("sandbox/*",))


def test_the_planner_skips_repositories_exempt_from_lifecycle_and_those_whose_tags_it_cannot_read():
    selection = SweepPlanner(planner_registry(), EXEMPTIONS).select()
    assert selection.repositories == ("team/app", "team/unscanned")
    assert [name for name, _ in selection.exempt] == ["sandbox/tmp", "team/keep-images", "team/legacy"]
    assert [(name, failure.code) for name, failure in selection.unreadable] == [
        ("team/secret", "AccessDeniedException")
    ]
    named = SweepPlanner(planner_registry(), EXEMPTIONS).select(["team/app", "team/legacy", "team/nope"])
    assert (named.repositories, named.missing) == (("team/app",), ("team/nope",))


def test_the_planner_writes_the_run_down_before_sending_and_takes_refused_messages_out():
    queue, runs = RecordingQueue(refuse={1}), InMemoryRuns()
    ecr = planner_registry()
    launch = SweepPlanner(ecr, EXEMPTIONS, queue=queue, runs=runs, in_use=InMemoryInspector(ecr, covered=False)).launch(
        "run-1", DELETE, START, DEADLINE
    )
    assert [parse_message(b) for b in queue.bodies] == [
        RepositoryMessage("run-1", "team/app"),
        DeadlineMessage("run-1"),
    ]
    assert queue.delays == [0, DEADLINE_RECHECK_SECONDS]
    assert launch.unsent == ("team/unscanned",) and launch.in_use_available is False
    run = runs.runs["run-1"]
    assert (run["expected"], run["exempt"], run["in_use"]) == (1, 3, False)
    assert runs.unfinished_units("run-1") == [UnitRef("repository/team/app", "team/app")]


def test_without_a_queue_the_planner_says_what_it_would_send():
    launch = SweepPlanner(planner_registry(), EXEMPTIONS).launch("run-2", DELETE, START, DEADLINE)
    assert not launch.queued and launch.as_dict()["queued"] == 0
    assert [parse_message(body).repository for body in launch.bodies] == ["team/app", "team/unscanned"]

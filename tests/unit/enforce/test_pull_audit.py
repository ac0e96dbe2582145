"""The scanner investigation's decision: who pulled (assumed-role sessions as their role, AWS services apart), how
many repositories, and whether a scanner-like principal's pulls still count as use."""

from __future__ import annotations

from datetime import UTC, datetime
from fractions import Fraction
from typing import Any

from ecr_governance.enforce.pull_audit import (
    PullEvents,
    PullSample,
    Thresholds,
    Verdict,
    assess_pullers,
    investigate,
    pull_of,
)
from hypothesis import given, settings
from hypothesis import strategies as st
from property_budget import examples

ACCOUNT = "123456789012"
SCANNER = f"arn:aws:iam::{ACCOUNT}:role/security/third-party-scanner"
WORKLOAD = f"arn:aws:iam::{ACCOUNT}:role/app-task"
ALICE = f"arn:aws:iam::{ACCOUNT}:user/alice"


def pull(principal: str, repository: str, tag: str = "v1", **overrides: Any) -> dict[str, Any]:
    """A CloudTrail BatchGetImage event document made by `principal` (a role: through an assumed-role session)."""
    if ":role/" in principal:
        name = principal.rsplit("/", 1)[1]
        identity: dict[str, Any] = {
            "type": "AssumedRole",
            "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/{name}/session-{len(repository)}",
            "sessionContext": {"sessionIssuer": {"type": "Role", "arn": principal, "userName": name}},
        }
    elif principal.endswith(".amazonaws.com"):
        identity = {"type": "AWSService", "invokedBy": principal}
    else:
        identity = {"type": "IAMUser", "arn": principal}
    return {
        "eventSource": "ecr.amazonaws.com",
        "eventName": "BatchGetImage",
        "userIdentity": identity,
        "requestParameters": {"repositoryName": repository, "imageIds": [{"imageTag": tag}]},
        **overrides,
    }


def scanner_and_workload(repositories: int = 20, workload_repositories: int = 2) -> list[dict[str, Any]]:
    records = [pull(SCANNER, f"team/app-{n}") for n in range(repositories)]
    return records + [pull(WORKLOAD, f"team/app-{n}") for n in range(workload_repositories)]


DEFAULTS = Thresholds()


def rows_by_arn(records, exclusions=(), named=(), thresholds=DEFAULTS):
    audit = assess_pullers(records, exclusions, named, thresholds)
    return audit, {row.principal_arn: row for row in audit.principals}


class RecordedPulls:
    """An in-memory PullEvents: the records a test gives, capped as CloudTrail's adapter caps them."""

    def __init__(self, records: list[dict[str, Any]]):
        self.records = records
        self.asked: list[tuple[datetime, int]] = []

    def image_pulls(self, since: datetime, max_events: int) -> PullSample:
        self.asked.append((since, max_events))
        taken = self.records[:max_events]
        return PullSample(tuple(taken), len(taken), capped=len(self.records) > max_events)


def test_assumed_role_sessions_collapse_to_their_role_and_a_user_stays_itself():
    records = [pull(SCANNER, "team/a"), pull(SCANNER, "team/b", tag="v2"), pull(ALICE, "team/a")]
    records[1]["userIdentity"]["arn"] = f"arn:aws:sts::{ACCOUNT}:assumed-role/third-party-scanner/other-session"
    audit, rows = rows_by_arn(records)
    assert set(rows) == {SCANNER, ALICE}
    assert (rows[SCANNER].repositories, rows[SCANNER].pulls, rows[SCANNER].images) == (2, 2, 2)
    assert rows[SCANNER].identity_type == "AssumedRole" and rows[ALICE].identity_type == "IAMUser"
    assert audit.repositories_pulled == 2


def test_aws_service_pulls_are_listed_apart_and_never_candidates():
    records = [pull("lambda.amazonaws.com", f"team/app-{n}") for n in range(30)]
    records.append(
        pull(SCANNER, "team/app-0", userIdentity={"type": "AssumedRole", "invokedBy": "inspector2.amazonaws.com"})
    )
    audit, rows = rows_by_arn(records, thresholds=Thresholds(1, Fraction(1, 100)))
    assert rows == {} and audit.not_excluded == ()
    assert [(s.service, s.repositories, s.pulls) for s in audit.services] == [
        ("inspector2.amazonaws.com", 1, 1),
        ("lambda.amazonaws.com", 30, 30),
    ]
    assert audit.repositories_pulled == 30  # the share is of every repository pulled in the window


def test_a_scanner_not_excluded_is_reported_with_its_registration():
    audit, rows = rows_by_arn(scanner_and_workload(), named=[WORKLOAD])
    assert rows[SCANNER].scanner_like and rows[SCANNER].verdict is Verdict.NOT_EXCLUDED
    assert rows[WORKLOAD].verdict is Verdict.NOT_EXCLUDED and not rows[WORKLOAD].scanner_like  # named: a scanner
    assert [row.principal_arn for row in audit.principals] == [SCANNER, WORKLOAD]
    assert audit.to_register == (SCANNER, WORKLOAD)
    assert audit.scanner_role_arns == (WORKLOAD, SCANNER)  # named first, as they are


def test_excluded_principals_are_excluded_whatever_they_pulled_and_workloads_stay_workloads():
    audit, rows = rows_by_arn(scanner_and_workload(), exclusions=[SCANNER])
    assert rows[SCANNER].verdict is Verdict.EXCLUDED and rows[SCANNER].excluded
    assert rows[WORKLOAD].verdict is Verdict.WORKLOAD
    assert audit.not_excluded == () and audit.to_register == () and audit.scanner_role_arns == ()


def test_both_thresholds_hold_at_their_edges():
    # 20 repositories pulled in the window; the scanner pulled 10 of them: exactly half, exactly ten.
    records = [pull(SCANNER, f"team/app-{n}") for n in range(10)] + [pull(ALICE, f"team/lib-{n}") for n in range(10)]
    assert rows_by_arn(records)[1][SCANNER].scanner_like
    assert not rows_by_arn(records, thresholds=Thresholds(11, Fraction(1, 2)))[1][SCANNER].scanner_like
    assert not rows_by_arn(records + [pull(ALICE, "team/one-more")])[1][SCANNER].scanner_like  # 10 of 21 < half
    # A share that binary floating point cannot hold exactly: 0.3 of 10 repositories is 3.
    few = [pull(SCANNER, f"team/app-{n}") for n in range(3)] + [pull(ALICE, f"team/lib-{n}") for n in range(7)]
    assert rows_by_arn(few, thresholds=Thresholds(3, Fraction("0.3")))[1][SCANNER].scanner_like


def test_refused_calls_other_sources_and_anonymous_records_are_skipped_not_counted():
    records = [
        pull(SCANNER, "team/a", errorCode="AccessDenied"),
        pull(SCANNER, "team/b", eventSource="ecr-public.amazonaws.com"),
        pull(SCANNER, "team/c", eventName="GetDownloadUrlForLayer"),
        pull(SCANNER, "team/d", requestParameters=None),
        {
            "eventSource": "ecr.amazonaws.com",
            "eventName": "BatchGetImage",
            "requestParameters": {"repositoryName": "x"},
        },
        pull(SCANNER, "team/e", requestParameters={"repositoryName": "team/e", "imageIds": "not a list"}),
    ]
    audit, rows = rows_by_arn(records)
    assert audit.skipped == 5 and rows[SCANNER].repositories == 1 and rows[SCANNER].images == 0


def test_hostile_principal_text_is_a_row_but_never_offered_for_registration():
    hostile = "arn:aws:iam::123456789012:user/x\n\x1b[31mrm -rf /;`id`"
    repository = "team/app\n<!channel>"
    records = [pull(hostile, repository)] + [pull(hostile, f"team/app-{n}") for n in range(10)]
    audit, rows = rows_by_arn(records)
    assert rows[hostile].verdict is Verdict.NOT_EXCLUDED and not rows[hostile].registrable
    assert audit.to_register == () and audit.repositories_pulled == 11
    assert pull_of(pull(hostile, repository)).repository_name == repository  # counted as it is; never printed


def test_investigate_reads_the_window_through_the_port():
    source: PullEvents = RecordedPulls(scanner_and_workload())
    since = datetime(2026, 12, 1, tzinfo=UTC)
    sample, audit = investigate(source, since, 5, exclusions=[], named=[], thresholds=Thresholds(1, Fraction(1)))
    assert source.asked == [(since, 5)] and sample.capped and sample.events_read == 5
    assert [(row.principal_arn, row.repositories) for row in audit.principals] == [(SCANNER, 5)]


# ---- properties ---------------------------------------------------------------------------------------------------
PRINCIPALS = [SCANNER, WORKLOAD, ALICE, f"arn:aws:iam::{ACCOUNT}:role/ci", "ecr.amazonaws.com"]
pulls_strategy = st.lists(
    st.tuples(st.sampled_from(PRINCIPALS), st.integers(0, 15)).map(lambda p: pull(p[0], f"team/app-{p[1]}")),
    max_size=60,
)
thresholds_strategy = st.builds(
    Thresholds, st.integers(1, 16), st.fractions(min_value=Fraction(1, 20), max_value=1, max_denominator=20)
)


@settings(max_examples=examples(400), deadline=None)
@given(
    records=pulls_strategy,
    exclusions=st.sets(st.sampled_from(PRINCIPALS)),
    named=st.sets(st.sampled_from(PRINCIPALS)),
    thresholds=thresholds_strategy,
)
def test_an_excluded_principal_is_never_reported_and_every_report_can_be_acted_on(
    records, exclusions, named, thresholds
):
    audit = assess_pullers(records, sorted(exclusions), sorted(named), thresholds)
    for row in audit.principals:
        assert (row.verdict is Verdict.EXCLUDED) == (row.principal_arn in exclusions)
        if row.verdict is Verdict.NOT_EXCLUDED:
            assert row.scanner_like or row.named
            assert row.principal_arn in audit.to_register  # every principal here is a role or user
    assert not set(audit.to_register) & exclusions
    assert "ecr.amazonaws.com" not in {row.principal_arn for row in audit.principals}


@settings(max_examples=examples(400), deadline=None)
@given(records=pulls_strategy, others=pulls_strategy, thresholds=thresholds_strategy)
def test_other_principals_repulling_repositories_already_pulled_never_change_a_verdict(records, others, thresholds):
    """Only a repository new to the window can dilute a principal's share: re-pulls by others of repositories
    already pulled change no one else's verdict."""
    before = assess_pullers(records, [], [], thresholds)
    pulled = {pull_of(record).repository_name for record in records}
    shown = {row.principal_arn for row in before.principals}
    extra = [
        record
        for record in others
        if pull_of(record).repository_name in pulled and pull_of(record).principal not in shown
    ]
    after = assess_pullers(records + extra, [], [], thresholds)
    assert after.repositories_pulled == before.repositories_pulled
    verdicts = {row.principal_arn: row.verdict for row in after.principals}
    assert all(verdicts[row.principal_arn] is row.verdict for row in before.principals)

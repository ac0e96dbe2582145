"""One invocation's pure decisions (skip, scope, the notice's cause) and the outcome the handler counts and returns."""

from __future__ import annotations

from ecr_governance.enforce.events import EnforcementTrigger, TriggerKind
from ecr_governance.enforce.invocation import InvocationOutcome, notice_cause, scope_for, skip_for
from ecr_governance.enforce.model import Action, Decision, EnforcementReport, ReconcileProgress

ROLE = "arn:aws:iam::123456789012:role/ecr-governance-EnforceRepositoryFunctionRole"


def trigger(kind: TriggerKind, **fields) -> EnforcementTrigger:
    return EnforcementTrigger(kind, "event-1", **fields)


def test_a_failed_call_and_our_own_call_are_skipped_and_only_ours_is_counted_as_a_self_event():
    failed = skip_for(trigger(TriggerKind.FAILED_CALL, error_code="AccessDenied"), ROLE)
    assert failed is not None and failed.reason == "call failed with AccessDenied" and not failed.own_event
    own = skip_for(trigger(TriggerKind.REPOSITORY, repository_name="team/a", actor_arn=ROLE), ROLE)
    assert own is not None and own.own_event
    assert InvocationOutcome("skipped", own.reason, own_event_skipped=True).metrics() == {"SelfEventsSkipped": 1}
    someone = trigger(TriggerKind.REPOSITORY, repository_name="team/a", actor_arn="arn:aws:iam::1:role/dev")
    assert skip_for(someone, ROLE) is None
    assert skip_for(someone, "") is None  # no role configured: nothing is ours


def test_an_event_scopes_to_its_repository_and_a_schedule_or_continuation_to_the_registry_within_the_budget():
    assert scope_for(trigger(TriggerKind.REPOSITORY, repository_name="team/a"), lambda: True).repository_names == (
        "team/a",
    )
    progress = ReconcileProgress(after="team/m", piece=2)
    continued = scope_for(trigger(TriggerKind.CONTINUATION, progress=progress), lambda: True)
    assert continued.repository_names is None and continued.progress == progress and continued.should_stop()
    assert scope_for(trigger(TriggerKind.SCHEDULE), lambda: False).progress is None


def test_the_notice_names_what_caused_the_run():
    assert notice_cause(trigger(TriggerKind.SCHEDULE)) == "the scheduled reconcile"
    progress = ReconcileProgress(after="team/m", piece=2)
    assert notice_cause(trigger(TriggerKind.CONTINUATION, progress=progress)) == "the scheduled reconcile (part 3)"
    event = trigger(TriggerKind.REPOSITORY, event_name="CreateRepository", actor_arn="arn:aws:iam::1:user/dev")
    assert notice_cause(event) == "CreateRepository by arn:aws:iam::1:user/dev"


def test_a_done_outcome_counts_each_action_and_says_where_a_reconcile_continues():
    report = EnforcementReport(
        decisions=[Decision("team/a", "tag_mutability", "violation", "MUTABLE", "IMMUTABLE", Action.REMEDIATED)],
        continuation=ReconcileProgress(after="team/a", piece=1),
    )
    outcome = InvocationOutcome("done", mode="enforce", report=report, notification_failed=True)
    metrics = outcome.metrics()
    assert metrics["SettingsRemediated"] == 1 and metrics["RemediationsFailed"] == 0
    assert metrics["ReconcileContinuations"] == 1 and metrics["NotificationsFailed"] == 1
    assert outcome.as_dict()["continues_after"] == "team/a" and outcome.as_dict()["mode"] == "enforce"

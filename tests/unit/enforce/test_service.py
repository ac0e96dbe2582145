"""Enforcer decisions and writes against an in-memory registry (no network).

The in-memory registry implements EcrRegistry's methods over plain data, so these tests pin down which calls the
enforcer makes - the emulator tests check the same flows over HTTP.
"""

from __future__ import annotations

import json
import logging
from collections import Counter

import pytest
from ecr_governance import SERVICE_NAME
from ecr_governance.enforce.model import REGISTRY, Action
from ecr_governance.enforce.reconcile import ReconcileScope
from ecr_governance.enforce.scanning import RegistryScanning, ScanningRule
from ecr_governance.enforce.service import Enforcer
from ecr_governance.enforce.settings import EnforceSettings
from ecr_governance.errors import AccessDenied, AwsError, RepositoryNotFound
from enforce_fakes import InMemoryRegistry, InMemoryTagSource

SETTINGS = EnforceSettings.from_environ({"EXEMPT_REPOSITORY_PATTERNS": "legacy-*"})


def run(registry, names=None, settings=SETTINGS, dry_run=False):
    enforcer = Enforcer(registry, settings)
    return enforcer.apply(enforcer.assess(names), dry_run=dry_run)


def test_a_compliant_registry_gets_no_write_call():
    registry = InMemoryRegistry()
    registry.add("team/a")
    registry.add("team/b", "IMMUTABLE_WITH_EXCLUSION", ("sha256-*",))
    report = run(registry)
    assert registry.writes == Counter()
    assert report.summary()["non_compliant_after"] == 0


def test_each_violation_is_remediated_with_exactly_one_write_and_a_second_run_writes_nothing():
    registry = InMemoryRegistry(RegistryScanning("BASIC", ()))
    registry.add("team/mutable", "MUTABLE", scan_on_push=False, policy=None)
    registry.add("team/ok")
    report = run(registry)
    assert registry.writes == Counter(
        put_tag_mutability=1, put_repository_scan_on_push=1, put_lifecycle_policy=1, put_registry_scanning=1
    )
    assert registry.repositories["team/mutable"].tag_mutability == "IMMUTABLE"
    assert json.loads(registry.policies["team/mutable"]) == SETTINGS.standard_lifecycle_policy
    assert registry.scanning.rules == (ScanningRule("SCAN_ON_PUSH", ("*",)),)  # full reconcile, no exempt repos
    # team/mutable: 3 repository settings + its scanning coverage; team/ok: its coverage.
    assert report.count(Action.REMEDIATED) == 5
    registry.calls.clear()
    run(registry)
    assert registry.writes == Counter()


def test_registry_scanning_is_one_write_for_all_uncovered_repositories():
    registry = InMemoryRegistry(RegistryScanning("BASIC", ()))
    for i in range(5):
        registry.add(f"team/r{i}")
    report = run(registry)
    assert registry.writes == Counter(put_registry_scanning=1)
    registry_decisions = [d for d in report.decisions if d.repository == REGISTRY and d.aspect == "registry_scanning"]
    assert len(registry_decisions) == 1 and registry_decisions[0].action is Action.REMEDIATED
    assert sum(1 for d in report.decisions if d.aspect == "registry_scanning" and d.repository != REGISTRY) == 5


def test_exempt_repositories_keep_their_mutability_and_lifecycle_and_are_still_scanned_on_push():
    """The plain exemption covers what a team relies on; scanning on push changes nothing they rely on."""
    registry = InMemoryRegistry(RegistryScanning("BASIC", ()))
    registry.add("legacy-billing", "MUTABLE", scan_on_push=False, policy=None)
    registry.add("team/tagged-exempt", "MUTABLE", policy=None, tags={"ecr-governance:exempt": "true"})
    registry.add("team/app")
    report = run(registry)
    exempt = {(d.repository, d.aspect) for d in report.decisions if d.action is Action.EXEMPT}
    assert exempt == {
        ("legacy-billing", "tag_mutability"),
        ("legacy-billing", "lifecycle_policy"),
        ("team/tagged-exempt", "tag_mutability"),
        ("team/tagged-exempt", "lifecycle_policy"),
    }
    assert registry.repositories["legacy-billing"].tag_mutability == "MUTABLE"
    assert "legacy-billing" not in registry.policies and "team/tagged-exempt" not in registry.policies
    assert registry.repositories["legacy-billing"].scan_on_push  # its scanOnPush flag was turned on
    assert registry.scanning.rules == (ScanningRule("SCAN_ON_PUSH", ("*",)),)
    assert report.summary()["exempt_repositories"] == 2 and report.summary()["non_compliant_after"] == 0
    # Exempt from lifecycle: its policy is not even read.
    assert registry.calls["get_lifecycle_policy_text"] == 1


def test_repositories_exempt_from_scan_on_push_are_never_newly_covered_by_a_broad_filter():
    settings = EnforceSettings.from_environ({"SCAN_EXEMPT_REPOSITORY_PATTERNS": "vendor/*"})
    registry = InMemoryRegistry(RegistryScanning("BASIC", ()))
    registry.add("vendor/agent", scan_on_push=False)
    registry.add("team/listed", tags={"ecr-governance:exempt": "scan-on-push"})
    registry.add("team/app")
    registry.add("web/site")
    report = run(registry, settings=settings)
    (rule,) = registry.scanning.rules
    assert "*" not in rule.filters and "team/*" not in rule.filters
    assert set(rule.filters) == {"team/app*", "web/*"}
    assert not registry.repositories["vendor/agent"].scan_on_push
    exempt = {(d.repository, d.aspect) for d in report.decisions if d.action is Action.EXEMPT}
    assert exempt == {("vendor/agent", "registry_scanning"), ("team/listed", "registry_scanning")}


def test_a_misspelt_exemption_exempts_nothing():
    registry = InMemoryRegistry()
    registry.add("team/typo", "MUTABLE", tags={"ecr-governance:exempt": "lifecyle"})
    report = run(registry)
    assert not [d for d in report.decisions if d.action is Action.EXEMPT]
    assert registry.repositories["team/typo"].tag_mutability == "IMMUTABLE"


def test_a_custom_lifecycle_policy_is_kept_and_reported():
    custom = json.dumps(
        {
            "rules": [
                {
                    "rulePriority": 1,
                    "selection": {"tagStatus": "untagged", "countType": "imageCountMoreThan", "countNumber": 3},
                    "action": {"type": "expire"},
                }
            ]
        }
    )
    registry = InMemoryRegistry()
    registry.add("team/custom", policy=custom)
    report = run(registry)
    assert registry.policies["team/custom"] == custom
    (decision,) = [d for d in report.decisions if d.aspect == "lifecycle_policy"]
    assert decision.status == "custom" and decision.action is Action.NONE


def test_audit_mode_and_dry_run_write_nothing_and_say_what_they_would_do():
    for settings, dry_run in ((EnforceSettings.from_environ({"GOVERNANCE_MODE": "audit"}), False), (SETTINGS, True)):
        registry = InMemoryRegistry(RegistryScanning("BASIC", ()))
        registry.add("team/mutable", "MUTABLE", policy=None)
        report = run(registry, settings=settings, dry_run=dry_run)
        assert registry.writes == Counter()
        assert report.count(Action.WOULD_REMEDIATE) == 3  # mutability, lifecycle, scanning coverage
        assert report.summary()["non_compliant_after"] == 1


def test_an_event_for_a_deleted_repository_is_a_logged_no_op():
    registry = InMemoryRegistry()
    report = run(registry, ["team/gone"])
    assert [(d.repository, d.action) for d in report.decisions] == [("team/gone", Action.REPOSITORY_GONE)]
    assert registry.writes == Counter()


def test_a_repository_deleted_mid_remediation_stops_its_writes_without_failing_the_run():
    registry = InMemoryRegistry()
    registry.add("team/vanishing", "MUTABLE", policy=None)
    registry.add("team/other", "MUTABLE")
    registry.fail_on[("put_tag_mutability", "team/vanishing")] = RepositoryNotFound("team/vanishing")
    report = run(registry)
    actions = {(d.repository, d.aspect): d.action for d in report.decisions}
    assert actions[("team/vanishing", "tag_mutability")] is Action.REPOSITORY_GONE
    assert actions[("team/vanishing", "lifecycle_policy")] is Action.REPOSITORY_GONE  # not attempted
    assert actions[("team/other", "tag_mutability")] is Action.REMEDIATED
    assert registry.calls["put_lifecycle_policy"] == 0


@pytest.fixture
def error_logs():
    """ERROR records of the service's loggers (Powertools child loggers propagate to the service logger)."""
    records: list[logging.LogRecord] = []
    handler = logging.Handler(level=logging.ERROR)
    handler.emit = records.append
    service_logger = logging.getLogger(SERVICE_NAME)
    service_logger.addHandler(handler)
    yield records
    service_logger.removeHandler(handler)


def test_access_denied_on_one_write_is_a_failed_decision_the_rest_applies_and_an_error_line_says_so(error_logs):
    registry = InMemoryRegistry()
    registry.add("team/half", "MUTABLE", policy=None)
    registry.fail_on[("put_tag_mutability", "team/half")] = AccessDenied(
        "access denied: PutImageTagMutability", code="AccessDeniedException"
    )
    report = run(registry)
    actions = {d.aspect: d for d in report.decisions if d.repository == "team/half"}
    assert actions["tag_mutability"].action is Action.FAILED
    assert actions["tag_mutability"].error_code == "AccessDeniedException"
    assert "access denied" in actions["tag_mutability"].detail
    assert actions["lifecycle_policy"].action is Action.REMEDIATED
    assert report.summary()["failed"] == 1
    assert report.summary()["non_compliant_after"] == 1
    (partial,) = [r for r in error_logs if r.getMessage() == "repository left partially remediated"]
    assert partial.repository == "team/half"
    assert partial.remediated == ["lifecycle_policy"] and partial.failed == ["tag_mutability"]


def test_one_access_denied_read_fails_that_repository_only_and_the_other_999_are_handled():
    registry = InMemoryRegistry(RegistryScanning("BASIC", ()))
    for i in range(1000):
        registry.add(f"team/r{i:03}", "MUTABLE")
    registry.fail_on[("get_lifecycle_policy_text", "team/r500")] = AccessDenied(
        "access denied: GetLifecyclePolicy on team/r500", code="AccessDeniedException"
    )
    report = run(registry)
    failed = [d for d in report.decisions if d.action is Action.FAILED]
    assert [(d.repository, d.error_code) for d in failed] == [("team/r500", "AccessDeniedException")]
    remediated = {d.repository for d in report.decisions if d.action is Action.REMEDIATED} - {REGISTRY}
    assert len(remediated) == 999 and "team/r500" not in remediated
    assert registry.calls["put_tag_mutability"] == 999
    # One unreadable repository does not keep `*` from covering the 999: its own exemption is unknown, not known.
    assert registry.scanning.rules == (ScanningRule("SCAN_ON_PUSH", ("*",)),)
    assert "team/r500" not in {d.repository for d in report.decisions if d.aspect == "registry_scanning"}


def test_a_write_that_stays_throttled_after_retries_is_failed_counted_as_transient_and_the_run_goes_on():
    registry = InMemoryRegistry()
    registry.add("team/a", "MUTABLE")
    registry.add("team/b", "MUTABLE")
    registry.fail_on[("put_tag_mutability", "team/a")] = AwsError(
        "PutImageTagMutability failed after retries", code="ThrottlingException", transient=True
    )
    report = run(registry)
    by_repository = {d.repository: d for d in report.decisions if d.aspect == "tag_mutability"}
    assert by_repository["team/a"].action is Action.FAILED and by_repository["team/a"].transient
    assert by_repository["team/b"].action is Action.REMEDIATED
    assert report.summary()["transient_failures"] == 1


def test_registry_scanning_unreadable_is_one_failed_registry_decision_and_the_rest_is_enforced():
    registry = InMemoryRegistry()
    registry.add("team/a", "MUTABLE", policy=None)
    registry.fail_on[("get_registry_scanning", "")] = AccessDenied("denied", code="AccessDeniedException")
    report = run(registry)
    (registry_decision,) = [d for d in report.decisions if d.repository == REGISTRY and d.action is Action.FAILED]
    assert registry_decision.action is Action.FAILED and registry_decision.error_code == "AccessDeniedException"
    assert registry.writes == Counter(put_tag_mutability=1, put_lifecycle_policy=1)
    assert report.summary()["registry_failed"] == 1


def test_a_failed_registry_scanning_write_fails_each_uncovered_repository_with_its_code():
    registry = InMemoryRegistry(RegistryScanning("BASIC", ()))
    registry.add("team/a")
    registry.fail_on[("put_registry_scanning", "")] = AwsError("bad filter", code="ValidationException")
    report = run(registry)
    scanning = {d.repository: d for d in report.decisions if d.aspect == "registry_scanning"}
    assert scanning["team/a"].action is Action.FAILED and scanning["team/a"].error_code == "ValidationException"
    assert scanning[REGISTRY].action is Action.FAILED


def test_event_scope_reads_only_that_repository():
    registry = InMemoryRegistry()
    for i in range(10):
        registry.add(f"team/r{i}")
    registry.add("team/new", "MUTABLE", policy=None)
    run(registry, ["team/new"])
    assert registry.calls["list_repositories"] == 0
    assert registry.calls["list_tags"] == 1
    assert registry.writes == Counter(put_tag_mutability=1, put_lifecycle_policy=1)


@pytest.mark.parametrize("scan_type", ["BASIC", "ENHANCED"])
def test_repository_scan_flag_is_only_written_under_basic(scan_type):
    registry = InMemoryRegistry(RegistryScanning(scan_type, (ScanningRule("SCAN_ON_PUSH", ("*",)),)))
    registry.add("team/a", scan_on_push=False)
    run(registry)
    assert registry.calls["put_repository_scan_on_push"] == (1 if scan_type == "BASIC" else 0)


# ---- registry scale: bulk tags, parallelism, continuation, no lost update -------------------------------------
def test_a_full_reconcile_reads_exemption_tags_in_bulk_and_an_event_reads_them_fresh():
    registry = InMemoryRegistry()
    registry.add("team/a", "MUTABLE")
    registry.add("team/exempt", "MUTABLE", tags={"ecr-governance:exempt": "true"})
    tag_source = InMemoryTagSource(registry)
    enforcer = Enforcer(registry, SETTINGS, tag_source)
    report = enforcer.apply(enforcer.assess())
    assert tag_source.calls == 1 and registry.calls["list_tags"] == 0
    assert {d.repository for d in report.decisions if d.action is Action.EXEMPT} == {"team/exempt"}
    enforcer.apply(enforcer.assess(["team/a"]))
    assert registry.calls["list_tags"] == 1 and tag_source.calls == 1


def test_a_denied_bulk_tag_read_falls_back_to_one_read_per_repository_with_one_warning(caplog):
    registry = InMemoryRegistry()
    registry.add("team/a", "MUTABLE")
    registry.add("team/exempt", "MUTABLE", tags={"ecr-governance:exempt": "true"})
    tag_source = InMemoryTagSource(registry, denied=True)
    enforcer = Enforcer(registry, SETTINGS, tag_source)
    with caplog.at_level(logging.WARNING, logger=SERVICE_NAME):
        report = enforcer.apply(enforcer.assess())
        enforcer.apply(enforcer.assess())
    assert registry.calls["list_tags"] == 4 and tag_source.calls == 1  # not asked again in this environment
    assert [r.getMessage() for r in caplog.records].count(
        "bulk tag read failed: reading tags one repository at a time"
    ) == 1
    assert {d.repository for d in report.decisions if d.action is Action.EXEMPT} == {"team/exempt"}


def test_parallel_reconcile_with_20_percent_of_calls_throttled_counts_each_once_and_converges():
    """Throttles that outlive the retries fail that one setting; the next run finishes the job. Nothing is counted
    twice and the results come out sorted whatever order the threads finish in."""
    registry = InMemoryRegistry(RegistryScanning("BASIC", ()))
    for i in range(200):
        registry.add(f"team/r{i:03}", "MUTABLE", scan_on_push=False, policy=None)
    settings = EnforceSettings.from_environ({"RECONCILE_CONCURRENCY": "8"})
    counter = iter(range(10**9))
    registry.throttle = lambda method, name: next(counter) % 5 == 0  # every fifth call, 20%
    enforcer = Enforcer(registry, settings)
    first = enforcer.apply(enforcer.assess())
    repositories = [d.repository for d in first.decisions if d.repository != REGISTRY]
    assert repositories == sorted(repositories)
    per_setting = Counter((d.repository, d.aspect) for d in first.decisions)
    assert max(per_setting.values()) == 1  # one decision per repository and aspect
    failed = [d for d in first.decisions if d.action is Action.FAILED]
    assert failed and all(d.error_code == "ThrottlingException" and d.transient for d in failed)
    assert first.summary()["transient_failures"] == len(failed)
    # Every remediated decision is exactly one write that went through, no more, no less.
    for aspect, method in (
        ("tag_mutability", "put_tag_mutability"),
        ("repository_scan_on_push", "put_repository_scan_on_push"),
        ("lifecycle_policy", "put_lifecycle_policy"),
    ):
        went_through = registry.calls[method] - sum(n for (m, _), n in registry.throttled.items() if m == method)
        remediated = sum(1 for d in first.decisions if d.aspect == aspect and d.action is Action.REMEDIATED)
        assert remediated == went_through, aspect
    registry.throttle = None
    for _ in range(2):
        report = enforcer.apply(enforcer.assess())
    assert report.summary()["non_compliant_after"] == 0 and report.summary()["failed"] == 0
    assert all(r.tag_mutability == "IMMUTABLE" and r.scan_on_push for r in registry.repositories.values())
    registry.calls.clear()
    enforcer.apply(enforcer.assess())
    assert registry.writes == Counter()


def test_a_reconcile_that_runs_out_of_time_continues_and_handles_every_repository_exactly_once():
    registry = InMemoryRegistry(RegistryScanning("BASIC", ()))
    for i in range(100):
        registry.add(f"team/r{i:03}", "MUTABLE", policy=None)
    registry.add("vendor/x", "MUTABLE", tags={"ecr-governance:exempt": "scan-on-push"})
    settings = EnforceSettings.from_environ({"RECONCILE_CONCURRENCY": "2"})  # chunks of 8 repositories
    enforcer = Enforcer(registry, settings)
    checks = iter(range(10**6))
    tiny_budget = lambda: next(checks) % 3 == 2  # noqa: E731 - runs out of time after every third chunk
    progress, pieces, handled = None, 0, Counter()
    while True:
        pieces += 1
        report = enforcer.reconcile(ReconcileScope(progress=progress, should_stop=tiny_budget))
        handled.update(d.repository for d in report.decisions if d.aspect == "tag_mutability")
        if report.continuation is None:
            break
        assert registry.calls["put_registry_scanning"] == 0  # only the last piece writes registry scanning
        progress = report.continuation
    assert pieces > 3
    assert set(handled) == set(registry.repositories) and set(handled.values()) == {1}
    (rule,) = registry.scanning.rules
    assert registry.calls["put_registry_scanning"] == 1
    assert all(scanning_filter_matches_any(rule.filters, f"team/r{i:03}") for i in range(100))
    assert not scanning_filter_matches_any(rule.filters, "vendor/x")  # learnt in an early piece, spared by the last


def scanning_filter_matches_any(filters, name):
    from ecr_governance.wildcard import scanning_filter_matches

    return any(scanning_filter_matches(f, name) for f in filters)


def test_a_registry_scanning_change_made_during_a_reconcile_survives_it():
    """A person writes ENHANCED / CONTINUOUS_SCAN prod/* after our read and before our write: it survives, and our
    filters are merged into theirs."""
    registry = InMemoryRegistry(RegistryScanning("BASIC", (ScanningRule("SCAN_ON_PUSH", ("mlops/*",)),)))
    registry.add("team/app")
    registry.add("mlops/api")
    enforcer = Enforcer(registry, SETTINGS)
    plan = enforcer.assess()
    persons = RegistryScanning(
        "ENHANCED", (ScanningRule("CONTINUOUS_SCAN", ("prod/*",)), ScanningRule("SCAN_ON_PUSH", ("mlops/*", "web/*")))
    )
    registry.scanning = persons
    report = enforcer.apply(plan)
    assert registry.scanning.scan_type == "ENHANCED"
    assert registry.scanning.rules[0] == ScanningRule("CONTINUOUS_SCAN", ("prod/*",))
    assert registry.scanning.rules[1].filters[:2] == ("mlops/*", "web/*")
    assert scanning_filter_matches_any(registry.scanning.rules[1].filters, "team/app")
    assert registry.scanning_reads == 3  # planned on one read, merged into a fresh one, read back after writing
    assert [d.action for d in report.decisions if d.repository == "team/app" and d.aspect == "registry_scanning"] == [
        Action.REMEDIATED
    ]

"""Registry scanning coverage: ECR's filter semantics, the smallest covering set, no lost update, no exempt scanned."""

import pytest
from ecr_governance.enforce.scanning import (
    MAX_FILTERS_PER_SCANNING_RULE,
    RegistryScanning,
    RepositoryCoverage,
    ScanningPlan,
    ScanningRule,
    covering_filter,
    is_scanned_on_push,
    merge_into,
    plan_event_coverage,
    plan_full_coverage,
    scan_on_push_filters,
)
from ecr_governance.wildcard import is_valid_scanning_filter, scanning_filter_matches
from hypothesis import given, settings
from hypothesis import strategies as st
from property_budget import examples

BASIC_MLOPS = RegistryScanning("BASIC", (ScanningRule("SCAN_ON_PUSH", ("mlops/*",)),))
ENHANCED = RegistryScanning(
    "ENHANCED",
    (ScanningRule("CONTINUOUS_SCAN", ("prod-*",)), ScanningRule("SCAN_ON_PUSH", ("mlops/*",))),
)


def must(*names: str) -> list[RepositoryCoverage]:
    return [RepositoryCoverage(name, must_scan=True) for name in names]


def exempt(*names: str) -> list[RepositoryCoverage]:
    return [RepositoryCoverage(name, must_scan=False, protected=True) for name in names]


def unread(*names: str) -> list[RepositoryCoverage]:
    return [RepositoryCoverage(name, must_scan=False) for name in names]


# ---- ECR's filter semantics -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("scanning_filter", "name", "matches"),
    [
        ("api", "legacy-api", True),  # without `*`: the name CONTAINS the filter
        ("api", "api", True),
        ("api", "team/apis", True),
        ("api*", "legacy-api", False),  # with `*`: the whole name must match
        ("api*", "apis", True),
        ("*api", "legacy-api", True),
        ("team/*", "team/app", True),
        ("team/*", "x/team/app", False),
        ("*", "anything/at-all", True),
    ],
)
def test_scanning_filters_match_as_ecr_does(scanning_filter, name, matches):
    assert scanning_filter_matches(scanning_filter, name) is matches


@pytest.mark.parametrize(
    ("scanning_filter", "valid"),
    [
        ("team-a/*", True),
        ("*", True),
        ("api", True),
        ("Team", False),
        ("-x", False),
        ("a__b", False),
        ("a" * 256, False),
    ],
)
def test_filter_syntax_is_ecrs(scanning_filter, valid):
    assert is_valid_scanning_filter(scanning_filter) is valid


def test_coverage_follows_rule_filters_and_frequency():
    assert is_scanned_on_push("mlops/retail-api", BASIC_MLOPS)
    assert not is_scanned_on_push("team/app", BASIC_MLOPS)
    assert is_scanned_on_push("prod-payments", ENHANCED)  # continuous scanning also scans every push
    assert not is_scanned_on_push("team/app", RegistryScanning("BASIC", (ScanningRule("MANUAL", ("*",)),)))


# ---- choosing filters -----------------------------------------------------------------------------------------
def test_covering_filter_is_the_broadest_that_spares_protected_repositories():
    assert covering_filter("team-a/api", ()) == "*"
    assert covering_filter("team-a/api", ["ops/x"]) == "team-*"
    assert covering_filter("team-a/api", ["team-b/x"]) == "team-a/*"
    assert covering_filter("team-a/api", ["team-a/legacy"]) == "team-a/api*"
    # The name itself would CONTAIN-match team-a/api-legacy; its prefix form would too: nothing spares it.
    assert covering_filter("team-a/api", ["team-a/api-legacy"]) is None
    # A name filter is a CONTAINS match: `api` would also scan `legacy-api`.
    assert covering_filter("api", ["legacy-api", "apix"]) is None
    assert covering_filter("api", ["legacy-api"]) == "api*"


def test_full_coverage_uses_one_wildcard_and_folds_everything_into_it():
    names = [f"team-{i}/svc" for i in range(300)]
    current = RegistryScanning("BASIC", (ScanningRule("SCAN_ON_PUSH", tuple(f"team-{i}/svc" for i in range(100))),))
    plan = plan_full_coverage(current, must(*names))
    assert plan.filters_after == ("*",)
    assert plan.not_coverable == ()


def test_full_coverage_spares_repositories_exempt_from_scanning_and_reaches_the_rest():
    names = [f"team-a/svc{i}" for i in range(150)] + [f"team-b-{i}" for i in range(30)] + ["ops/tool"]
    plan = plan_full_coverage(RegistryScanning("BASIC", ()), must(*names) + exempt("team-b-legacy", "ops/sandbox"))
    after = merge_into(RegistryScanning("BASIC", ()), plan)
    assert not is_scanned_on_push("team-b-legacy", after) and not is_scanned_on_push("ops/sandbox", after)
    assert all(is_scanned_on_push(name, after) for name in names)
    assert "team-a/*" in plan.filters_after and len(plan.filters_after) <= MAX_FILTERS_PER_SCANNING_RULE


def test_an_unreadable_repository_does_not_keep_a_broad_filter_from_covering_the_rest():
    plan = plan_full_coverage(
        RegistryScanning("BASIC", ()), must(*(f"team/r{i}" for i in range(500))) + unread("team/x")
    )
    assert plan.filters_after == ("*",) and plan.not_coverable == ()


def test_steady_state_plans_no_write():
    plan = plan_full_coverage(BASIC_MLOPS, must("mlops/a", "mlops/b"))
    assert not plan.writes and plan.uncovered == ()


def test_a_scan_exempt_repository_covered_today_stays_covered_by_a_fold():
    current = RegistryScanning("BASIC", (ScanningRule("SCAN_ON_PUSH", ("vendor/agent", "team/a", "team/b")),))
    plan = plan_full_coverage(current, must("team/a", "team/b", "team/c") + exempt("vendor/agent", "other/x"))
    after = merge_into(current, plan)
    assert is_scanned_on_push("vendor/agent", after)  # a person scans it: we do not stop that
    assert not is_scanned_on_push("other/x", after)  # and we do not start scanning an exempt one
    assert all(is_scanned_on_push(name, after) for name in ("team/a", "team/b", "team/c"))


def test_only_the_scan_on_push_rule_changes_and_the_scan_type_stays():
    plan = plan_full_coverage(ENHANCED, must("team/app"))
    after = merge_into(ENHANCED, plan)
    assert after.scan_type == "ENHANCED"
    assert after.rules[0] == ENHANCED.rules[0]  # CONTINUOUS_SCAN untouched


def test_a_scan_on_push_rule_is_added_when_there_is_room_and_reported_when_not():
    continuous_only = RegistryScanning("ENHANCED", (ScanningRule("CONTINUOUS_SCAN", ("prod-*",)),))
    after = merge_into(continuous_only, plan_full_coverage(continuous_only, must("team/app")))
    assert after.rules == (continuous_only.rules[0], ScanningRule("SCAN_ON_PUSH", ("*",)))
    full = RegistryScanning(
        "ENHANCED", (ScanningRule("CONTINUOUS_SCAN", ("a*",)), ScanningRule("CONTINUOUS_SCAN", ("b*",)))
    )
    plan = plan_full_coverage(full, must("team/app"))
    assert not plan.writes and plan.not_coverable == ("team/app",)


def test_ecrs_100_filter_limit_is_reported_not_silent():
    names = [f"t{i}/svc" for i in range(120)]
    protected = [f"t{i}/old" for i in range(120)]  # `tN/*` would scan them: each name needs its own `tN/svc*`
    plan = plan_full_coverage(RegistryScanning("BASIC", ()), must(*names) + exempt(*protected))
    assert len(plan.filters_after) == MAX_FILTERS_PER_SCANNING_RULE
    after = merge_into(RegistryScanning("BASIC", ()), plan)
    left = [name for name in names if not is_scanned_on_push(name, after)]
    assert left and set(left) == set(plan.not_coverable)


def test_an_event_adds_the_narrowest_filter_and_asks_only_about_what_it_would_newly_cover():
    asked: list[str] = []

    def is_exempt(name: str) -> bool:
        asked.append(name)
        return name == "team/app-legacy"

    plan = plan_event_coverage(BASIC_MLOPS, "team/app", ["team/app", "team/app-legacy", "web/x"], is_exempt)
    # `team/app*` would scan the exempt team/app-legacy; the name (contains) would too: nothing spares it.
    assert not plan.writes and plan.not_coverable == ("team/app",)
    asked.clear()
    plan = plan_event_coverage(BASIC_MLOPS, "team/app", ["team/app", "team/app-new", "web/x"], is_exempt)
    assert plan.filters_after == ("mlops/*", "team/app*") and asked == ["team/app-new"]


# ---- no lost update -------------------------------------------------------------------------------------------
def test_a_change_made_between_plan_and_write_survives_the_merge():
    plan = plan_full_coverage(BASIC_MLOPS, must("team/app") + exempt("legacy/x"))
    assert plan.writes
    person = RegistryScanning(
        "ENHANCED", (ScanningRule("CONTINUOUS_SCAN", ("prod/*",)), ScanningRule("SCAN_ON_PUSH", ("mlops/*", "web/*")))
    )
    merged = merge_into(person, plan)
    assert merged.scan_type == "ENHANCED"
    assert merged.rules[0] == ScanningRule("CONTINUOUS_SCAN", ("prod/*",))
    assert scan_on_push_filters(merged)[:2] == ("mlops/*", "web/*")  # theirs first, ours appended
    assert is_scanned_on_push("team/app", merged)


def test_nothing_to_write_when_the_registry_already_has_it():
    plan = ScanningPlan(BASIC_MLOPS, ("mlops/*",), ("mlops/*", "*"))
    already = RegistryScanning("BASIC", (ScanningRule("SCAN_ON_PUSH", ("mlops/*", "*")),))
    assert merge_into(already, plan) is None


# ---- properties -----------------------------------------------------------------------------------------------
repository_names = st.from_regex(r"[a-z][a-z0-9]{0,5}(/[a-z][a-z0-9-]{0,5}[a-z0-9])?", fullmatch=True)
filters = st.one_of(repository_names, repository_names.map(lambda n: n[:2] + "*"), st.just("*"))
rules = st.lists(
    st.builds(
        ScanningRule,
        scan_frequency=st.sampled_from(["SCAN_ON_PUSH", "CONTINUOUS_SCAN"]),
        filters=st.lists(filters, min_size=1, max_size=5, unique=True).map(tuple),
    ),
    max_size=2,
    unique_by=lambda rule: rule.scan_frequency,
)


@settings(max_examples=examples(300), deadline=None)
@given(
    scan_type=st.sampled_from(["BASIC", "ENHANCED"]),
    existing_rules=rules,
    names=st.lists(repository_names, max_size=12, unique=True),
    exempt_flags=st.lists(st.booleans(), min_size=12, max_size=12),
)
def test_a_full_plan_scans_what_must_be_spares_what_must_not_and_keeps_everything_else(
    scan_type, existing_rules, names, exempt_flags
):
    current = RegistryScanning(scan_type, tuple(existing_rules))
    facts = [
        RepositoryCoverage(name, must_scan=not flag, protected=flag)
        for name, flag in zip(names, exempt_flags, strict=False)
    ]
    plan = plan_full_coverage(current, facts)
    after = merge_into(current, plan) or current
    assert after.scan_type == scan_type
    assert [r for r in after.rules if r.scan_frequency != "SCAN_ON_PUSH"] == [
        r for r in current.rules if r.scan_frequency != "SCAN_ON_PUSH"
    ]
    assert len(after.rules) <= 2 and all(len(r.filters) <= MAX_FILTERS_PER_SCANNING_RULE for r in after.rules)
    for fact in facts:
        before = is_scanned_on_push(fact.name, current)
        now = is_scanned_on_push(fact.name, after)
        if before:
            assert now, f"{fact.name} lost its scanning"
        elif fact.must_scan:
            assert now or fact.name in plan.not_coverable
        else:
            assert not now, f"{fact.name} is exempt from scanning and was newly covered"
    assert all(is_valid_scanning_filter(f) for rule in after.rules for f in rule.filters if rule not in current.rules)

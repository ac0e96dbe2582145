"""The standard's pure checks: what counts as compliant, and how scanning coverage is merged."""

import json

import pytest
from ecr_governance.enforce.model import Aspect, RegistryScanning, Repository, ScanningRule, Status
from ecr_governance.enforce.settings import EnforceSettings
from ecr_governance.enforce.standard import (
    MAX_FILTERS_PER_SCANNING_RULE,
    check_lifecycle_policy,
    check_registry_scanning,
    check_repository_scan_on_push,
    check_tag_mutability,
    covering_filter,
    is_scanned_on_push,
    plan_scanning_coverage,
)
from ecr_governance.wildcard import wildcard_match
from ecr_governance_cli.demo import SEED_CUSTOM_POLICY
from hypothesis import given, settings
from hypothesis import strategies as st

SETTINGS = EnforceSettings.from_environ({"EXEMPT_REPOSITORY_PATTERNS": "sandbox/*, legacy-*"})


def repository(name="team/app", mutability="MUTABLE", filters=(), scan_on_push=False):
    return Repository(
        name=name,
        arn=f"arn:aws:ecr:ap-southeast-1:123456789012:repository/{name}",
        tag_mutability=mutability,
        exclusion_filters=tuple(filters),
        scan_on_push=scan_on_push,
    )


@pytest.mark.parametrize(
    ("pattern", "text", "matches"),
    [
        ("*", "team/app", True),
        ("team/*", "team/app", True),
        ("team/*", "teamx/app", False),
        ("*-api", "mlops/retail-api", True),
        ("mlops/retail-api", "mlops/retail-api", True),
        ("mlops.retail", "mlopsXretail", False),  # `.` is literal, not a regex wildcard
        ("a*b*c", "aXXbYYc", True),
        ("sha256-*", "sha256-abc.sig", True),
    ],
)
def test_wildcard_match_is_ecr_wildcard_not_regex_or_prefix(pattern, text, matches):
    assert wildcard_match(pattern, text) is matches


@pytest.mark.parametrize(
    ("mutability", "filters", "status"),
    [
        ("IMMUTABLE", (), Status.COMPLIANT),
        ("IMMUTABLE_WITH_EXCLUSION", ("sha256-*",), Status.COMPLIANT),
        ("IMMUTABLE_WITH_EXCLUSION", ("sha256-abc",), Status.COMPLIANT),  # a literal tag the allowed filter covers
        ("IMMUTABLE_WITH_EXCLUSION", ("sha256-*", "latest"), Status.VIOLATION),
        ("IMMUTABLE_WITH_EXCLUSION", ("*",), Status.VIOLATION),  # broader than allowed: every tag mutable
        ("MUTABLE", (), Status.VIOLATION),
        ("MUTABLE_WITH_EXCLUSION", ("release-*",), Status.VIOLATION),
    ],
)
def test_tag_mutability_compliance(mutability, filters, status):
    check = check_tag_mutability(repository(mutability=mutability, filters=filters), SETTINGS)
    assert check.aspect is Aspect.TAG_MUTABILITY
    assert check.status is status
    if status is Status.VIOLATION:
        assert check.after == "IMMUTABLE"


def test_disallowed_exclusion_is_named_in_the_detail():
    check = check_tag_mutability(repository(mutability="IMMUTABLE_WITH_EXCLUSION", filters=("latest",)), SETTINGS)
    assert "latest" in check.detail
    assert check.before == "IMMUTABLE_WITH_EXCLUSION [latest]"


def test_remediation_target_with_exclusion_mode():
    settings = EnforceSettings.from_environ({"TAG_MUTABILITY": "IMMUTABLE_WITH_EXCLUSION"})
    check = check_tag_mutability(repository(), settings)
    assert check.after == "IMMUTABLE_WITH_EXCLUSION [sha256-*]"


BASIC_MLOPS = RegistryScanning("BASIC", (ScanningRule("SCAN_ON_PUSH", ("mlops/*",)),))
ENHANCED = RegistryScanning(
    "ENHANCED",
    (ScanningRule("CONTINUOUS_SCAN", ("prod-*",)), ScanningRule("SCAN_ON_PUSH", ("mlops/*",))),
)


def test_scanning_coverage_follows_rule_filters_and_frequency():
    assert is_scanned_on_push("mlops/retail-api", BASIC_MLOPS)
    assert not is_scanned_on_push("team/app", BASIC_MLOPS)
    assert is_scanned_on_push("prod-payments", ENHANCED)  # continuous scanning also scans every push
    manual_only = RegistryScanning("BASIC", (ScanningRule("MANUAL", ("*",)),))
    assert not is_scanned_on_push("team/app", manual_only)
    assert check_registry_scanning("team/app", BASIC_MLOPS).status is Status.VIOLATION


def test_repository_level_scan_on_push_is_checked_only_under_basic():
    assert check_repository_scan_on_push(repository(scan_on_push=False), BASIC_MLOPS).status is Status.VIOLATION
    assert check_repository_scan_on_push(repository(scan_on_push=True), BASIC_MLOPS).status is Status.COMPLIANT
    assert check_repository_scan_on_push(repository(scan_on_push=False), ENHANCED) is None


def test_coverage_merge_keeps_enhanced_and_continuous_rules():
    plan = plan_scanning_coverage(ENHANCED, ["team/app", "team/web"], must_not_cover=None)
    assert plan.after.scan_type == "ENHANCED"
    assert plan.after.rules[0] == ENHANCED.rules[0]  # CONTINUOUS_SCAN untouched
    assert plan.after.rules[1].filters == ("mlops/*", "team/app", "team/web")
    assert plan.not_coverable == ()


def test_coverage_uses_the_broadest_filters_that_spare_exempt_repositories():
    names = [f"team-a/svc{i}" for i in range(150)] + [f"team-b-{i}" for i in range(30)] + ["ops/tool"]
    exempt = frozenset({"team-b-legacy", "ops/sandbox"})
    plan = plan_scanning_coverage(RegistryScanning("BASIC", ()), names, must_not_cover=exempt)
    # 181 repositories, more than one rule's 100 filters allow by name, fit in 32: `team-a/*` spares every exempt
    # repository; `team-*`, `team-b-*` and `ops/*` would not, so those repositories are named.
    team_b = sorted(f"team-b-{i}" for i in range(30))
    assert plan.added_filters == ("ops/tool", "team-a/*", *team_b)
    assert plan.not_coverable == ()
    assert not any(is_scanned_on_push(name, plan.after) for name in exempt)
    assert all(is_scanned_on_push(name, plan.after) for name in names)


def test_covering_filter_cuts_after_separators():
    assert covering_filter("team-a/api", frozenset()) == "*"
    assert covering_filter("team-a/api", {"ops/x"}) == "team-*"
    assert covering_filter("team-a/api", {"team-b/x"}) == "team-a/*"
    assert covering_filter("team-a/api", {"team-a/legacy"}) == "team-a/api"


def test_coverage_merge_uses_one_wildcard_when_allowed():
    plan = plan_scanning_coverage(BASIC_MLOPS, ["team/app", "team/web"], must_not_cover=frozenset())
    assert plan.after.rules == (ScanningRule("SCAN_ON_PUSH", ("mlops/*", "*")),)
    assert plan.added_filters == ("*",)


def test_coverage_adds_a_scan_on_push_rule_when_none_exists():
    continuous_only = RegistryScanning("ENHANCED", (ScanningRule("CONTINUOUS_SCAN", ("prod-*",)),))
    plan = plan_scanning_coverage(continuous_only, ["team/app"], must_not_cover=None)
    assert plan.after.rules == (continuous_only.rules[0], ScanningRule("SCAN_ON_PUSH", ("team/app",)))
    empty = plan_scanning_coverage(RegistryScanning("BASIC", ()), ["team/app"], must_not_cover=None)
    assert empty.after == RegistryScanning("BASIC", (ScanningRule("SCAN_ON_PUSH", ("team/app",)),))


def test_coverage_reports_what_ecr_limits_leave_uncovered():
    full_rules = RegistryScanning(
        "ENHANCED", (ScanningRule("CONTINUOUS_SCAN", ("prod-*",)), ScanningRule("CONTINUOUS_SCAN", ("mlops/*",)))
    )
    plan = plan_scanning_coverage(full_rules, ["team/app"], must_not_cover=None)
    assert plan.after is None
    assert plan.not_coverable == ("team/app",)
    crowded = RegistryScanning(
        "BASIC", (ScanningRule("SCAN_ON_PUSH", tuple(f"r{i}" for i in range(MAX_FILTERS_PER_SCANNING_RULE - 1))),)
    )
    plan = plan_scanning_coverage(crowded, ["team/a", "team/b"], must_not_cover=None)
    assert len(plan.after.rules[0].filters) == MAX_FILTERS_PER_SCANNING_RULE
    assert plan.not_coverable == ("team/b",)


def test_nothing_uncovered_means_no_write():
    assert plan_scanning_coverage(BASIC_MLOPS, [], must_not_cover=frozenset()).after is None


repository_names = st.from_regex(r"[a-z][a-z0-9]{0,6}(/[a-z][a-z0-9-]{0,6})?", fullmatch=True)
filters = st.one_of(repository_names, repository_names.map(lambda n: n[:2] + "*"), st.just("*"))
rules = st.lists(
    st.builds(
        ScanningRule,
        scan_frequency=st.sampled_from(["SCAN_ON_PUSH", "CONTINUOUS_SCAN"]),
        filters=st.lists(filters, max_size=5, unique=True).map(tuple),
    ),
    max_size=2,
    unique_by=lambda rule: rule.scan_frequency,
)


@settings(max_examples=150, deadline=None)
@given(
    scan_type=st.sampled_from(["BASIC", "ENHANCED"]),
    existing_rules=rules,
    uncovered=st.lists(repository_names, max_size=8),
    protected=st.one_of(st.none(), st.frozensets(repository_names, max_size=4)),
)
def test_coverage_merge_never_drops_a_rule_or_filter_and_covers_or_reports(
    scan_type, existing_rules, uncovered, protected
):
    uncovered = [name for name in uncovered if not protected or name not in protected]
    current = RegistryScanning(scan_type, tuple(existing_rules))
    plan = plan_scanning_coverage(current, uncovered, protected)
    after = plan.after or current
    assert after.scan_type == scan_type
    for rule in current.rules:
        kept = next(r for r in after.rules if r.scan_frequency == rule.scan_frequency)
        assert kept.filters[: len(rule.filters)] == rule.filters
    assert len(after.rules) <= 2
    for name in uncovered:
        assert is_scanned_on_push(name, after) or name in plan.not_coverable or is_scanned_on_push(name, current)
    if protected is None:
        # Without knowing which repositories are exempt, only the named repositories are added.
        assert all(f in uncovered for f in plan.added_filters)
    else:
        # No new filter starts scanning a repository that must stay as it is.
        assert not any(wildcard_match(f, name) for f in plan.added_filters for name in protected)


def test_lifecycle_missing_standard_and_custom():
    standard = SETTINGS.standard_lifecycle_policy
    assert check_lifecycle_policy(None, SETTINGS).status is Status.VIOLATION
    # Same policy, other key order and spacing: still the standard.
    reordered = json.dumps({"rules": [dict(reversed(list(rule.items()))) for rule in standard["rules"]]}, indent=4)
    assert check_lifecycle_policy(reordered, SETTINGS).status is Status.COMPLIANT
    custom = {
        "rules": [
            {
                "rulePriority": 1,
                "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 50},
                "action": {"type": "expire"},
            }
        ]
    }
    check = check_lifecycle_policy(json.dumps(custom), SETTINGS)
    assert check.status is Status.CUSTOM
    assert check.after is None  # never overwritten


def test_custom_policy_with_the_seeds_and_mistake_is_reported_with_a_warning():
    check = check_lifecycle_policy(json.dumps(SEED_CUSTOM_POLICY), SETTINGS)
    assert check.status is Status.CUSTOM
    assert "tagPrefixList" in check.detail and "ALL" in check.detail


def test_an_unparseable_custom_policy_is_kept_and_says_why():
    check = check_lifecycle_policy("{not json", SETTINGS)
    assert check.status is Status.CUSTOM
    assert "not valid JSON" in check.detail

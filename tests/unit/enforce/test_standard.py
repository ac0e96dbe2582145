"""The standard's pure checks: what counts as compliant (registry scanning coverage: test_scanning.py)."""

import json

import pytest
from ecr_governance.enforce.model import Aspect, Status
from ecr_governance.enforce.scanning import RegistryScanning, ScanningRule
from ecr_governance.enforce.settings import EnforceSettings
from ecr_governance.enforce.standard import check_lifecycle_policy, check_repository_scan_on_push, check_tag_mutability
from ecr_governance.repositories import Repository
from ecr_governance.wildcard import wildcard_match
from ecr_governance_cli.sample_registry import SEED_CUSTOM_POLICY

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


def test_repository_level_scan_on_push_is_checked_only_under_basic():
    assert check_repository_scan_on_push(repository(scan_on_push=False), BASIC_MLOPS).status is Status.VIOLATION
    assert check_repository_scan_on_push(repository(scan_on_push=True), BASIC_MLOPS).status is Status.COMPLIANT
    assert check_repository_scan_on_push(repository(scan_on_push=False), ENHANCED) is None


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

"""The aspects ECR's 2025-26 settings add to the standard (issue 15), on the in-memory registry: creation templates,
pull-through cache repositories, pull-time update exclusions, managed signing, the registry policy, encryption and
an organization-managed registry scanning. Each is exemptible and reported; only the safe writes are made."""

from __future__ import annotations

import json
from collections import Counter

import pytest
from ecr_governance.enforce.creation_templates import MANAGED_DESCRIPTION, standard_template
from ecr_governance.enforce.model import REGISTRY, Action
from ecr_governance.enforce.registry_checks import outside_grants
from ecr_governance.enforce.registry_model import CreationTemplate, RegistryPolicy
from ecr_governance.enforce.scanning import RegistryScanning
from ecr_governance.enforce.service import Enforcer
from ecr_governance.enforce.settings import EnforceSettings
from ecr_governance.errors import AccessDenied, ManagedByOrganization
from ecr_governance.pull_through_cache import cache_prefix_of, is_pull_through_cache
from ecr_governance.signing import ImageSigningStatus, SigningRule, failed_signings, signing_rule_for
from enforce_fakes import STANDARD, InMemoryRegistry

ACCOUNT = "123456789012"
SCANNER = f"arn:aws:iam::{ACCOUNT}:role/wiz-scanner"
KEY = f"arn:aws:kms:ap-southeast-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
PROFILE = f"arn:aws:signer:ap-southeast-1:{ACCOUNT}:/signing-profiles/releases"


def run(registry, environ=None, dry_run=False):
    enforcer = Enforcer(registry, EnforceSettings.from_environ(environ or {}))
    return enforcer.apply(enforcer.assess(), dry_run=dry_run)


def decisions(report, aspect, repository=REGISTRY):
    return [d for d in report.decisions if d.aspect == aspect and d.repository == repository]


# ---- 1. repository creation templates ---------------------------------------------------------------------------
def test_a_missing_root_template_is_created_with_the_standard_and_a_second_run_writes_nothing():
    registry = InMemoryRegistry()
    registry.templates.clear()
    (decision,) = decisions(run(registry, {"GOVERNANCE_MODE": "audit"}), "creation_template")
    assert decision.action is Action.WOULD_REMEDIATE and registry.writes == Counter()
    (decision,) = decisions(run(registry), "creation_template")
    assert decision.action is Action.REMEDIATED
    root = registry.templates["ROOT"]
    assert root.tag_mutability == "IMMUTABLE" and json.loads(root.lifecycle_policy) == json.loads(STANDARD)
    assert set(root.applied_for) == {"CREATE_ON_PUSH", "PULL_THROUGH_CACHE", "REPLICATION"}
    registry.calls.clear()
    (decision,) = decisions(run(registry), "creation_template")
    assert decision.status == "compliant" and registry.writes == Counter()


def test_our_root_template_follows_the_settings():
    registry = InMemoryRegistry()
    environ = {
        "TAG_MUTABILITY": "IMMUTABLE_WITH_EXCLUSION",
        "REPOSITORY_ENCRYPTION": "KMS",
        "REPOSITORY_KMS_KEY_ARN": KEY,
    }
    (decision,) = decisions(run(registry, environ), "creation_template")
    assert decision.action is Action.REMEDIATED and "tag mutability IMMUTABLE" in decision.before
    root = registry.templates["ROOT"]
    assert (root.tag_mutability, root.exclusion_filters) == ("IMMUTABLE_WITH_EXCLUSION", ("sha256-*",))
    assert (root.encryption_type, root.kms_key) == ("KMS", KEY)


def test_someone_elses_templates_are_reported_for_drift_and_never_overwritten():
    registry = InMemoryRegistry()
    theirs = CreationTemplate("ROOT", ("PULL_THROUGH_CACHE",), "MUTABLE", description="platform team's")
    registry.templates = {"ROOT": theirs, "team-a": CreationTemplate("team-a", ("REPLICATION",), "IMMUTABLE", (), "{}")}
    report = run(registry)
    by_prefix = {d.before.split(":")[0]: d for d in decisions(report, "creation_template")}
    assert by_prefix["ROOT"].action is Action.DETECTED
    assert "tag mutability MUTABLE" in by_prefix["ROOT"].before and "no lifecycle policy" in by_prefix["ROOT"].before
    assert by_prefix["team-a"].status == "compliant"
    assert registry.templates["ROOT"] is theirs and registry.calls["put_creation_template"] == 0
    assert report.summary()["registry_non_compliant"] == 1


def test_a_root_template_someone_creates_between_plan_and_write_is_theirs():
    registry = InMemoryRegistry()
    registry.templates.clear()
    enforcer = Enforcer(registry, EnforceSettings.from_environ({}))
    plan = enforcer.assess()
    theirs = CreationTemplate("ROOT", ("CREATE_ON_PUSH",), "IMMUTABLE", (), STANDARD, description="theirs")
    registry.templates["ROOT"] = theirs
    (decision,) = decisions(enforcer.apply(plan), "creation_template")
    assert decision.action is Action.NONE and registry.templates["ROOT"] is theirs


def test_a_registry_aspect_left_out_is_reported_exempt_and_not_read():
    registry = InMemoryRegistry()
    registry.templates.clear()
    report = run(registry, {"EXEMPT_REGISTRY_ASPECTS": "creation-template,registry-policy"})
    assert [d.action for d in decisions(report, "creation_template")] == [Action.EXEMPT]
    assert [d.action for d in decisions(report, "registry_policy")] == [Action.EXEMPT]
    assert registry.calls["list_creation_templates"] == 0 and registry.calls["get_registry_policy"] == 0


# ---- 2. pull-through cache repositories -------------------------------------------------------------------------
def test_cache_repositories_get_the_cache_lifecycle_class_and_ours_of_the_wrong_class_is_replaced():
    registry = InMemoryRegistry()
    registry.cache_prefixes = ("docker-hub",)
    registry.add("docker-hub/library/nginx", policy=None)
    registry.add("docker-hub/library/redis")  # our standard policy: expire-untagged would delete images in use
    registry.add("docker-hub/library/custom", policy='{"rules": []}')
    registry.add("team/app", policy=None)
    report = run(registry)
    settings = EnforceSettings.from_environ({})
    cache = settings.registry.cache_lifecycle_policy
    assert json.loads(registry.policies["docker-hub/library/nginx"]) == cache
    assert json.loads(registry.policies["docker-hub/library/redis"]) == cache
    assert registry.policies["docker-hub/library/custom"] == '{"rules": []}'  # custom: kept
    assert json.loads(registry.policies["team/app"]) == settings.standard_lifecycle_policy
    (redis,) = decisions(report, "lifecycle_policy", "docker-hub/library/redis")
    assert (redis.before, redis.after, redis.action) == ("standard policy", "cache policy", Action.REMEDIATED)


def test_unreadable_cache_rules_decide_no_lifecycle_policy_and_are_one_failed_registry_decision():
    registry = InMemoryRegistry()
    registry.add("docker-hub/library/nginx", "MUTABLE", policy=None)
    registry.fail_on[("pull_through_cache_prefixes", "")] = AccessDenied("denied", code="AccessDeniedException")
    report = run(registry)
    (unread,) = decisions(report, "pull_through_cache")
    assert unread.action is Action.FAILED and unread.error_code == "AccessDeniedException"
    assert registry.calls["put_lifecycle_policy"] == 0 and "docker-hub/library/nginx" not in registry.policies
    assert registry.repositories["docker-hub/library/nginx"].tag_mutability == "IMMUTABLE"  # the rest is enforced


def test_which_repositories_are_pull_through_cache_ones():
    assert is_pull_through_cache("docker-hub/library/nginx", ["docker-hub"])
    assert not is_pull_through_cache("docker-hubx/nginx", ["docker-hub"])  # ECR reads a prefix as `prefix/`
    assert cache_prefix_of("quay/org/app", ["quay", "quay/org", "ROOT"]) == "quay/org"
    assert is_pull_through_cache("anything", ["ROOT"])


# ---- 3. pull-time update exclusions -----------------------------------------------------------------------------
def test_named_scanner_roles_are_registered_as_pull_time_exclusions_once():
    registry = InMemoryRegistry()
    environ = {"SCANNER_ROLE_ARNS": SCANNER}
    (audited,) = decisions(run(registry, {**environ, "GOVERNANCE_MODE": "audit"}), "pull_time_exclusions")
    assert audited.action is Action.WOULD_REMEDIATE and registry.exclusions == []
    (decision,) = decisions(run(registry, environ), "pull_time_exclusions")
    assert decision.action is Action.REMEDIATED and registry.exclusions == [SCANNER]
    (again,) = decisions(run(registry, environ), "pull_time_exclusions")
    assert again.status == "compliant" and again.before == f"1 registered: {SCANNER}"


def test_a_full_exclusion_list_is_not_remediable():
    registry = InMemoryRegistry()
    registry.exclusions = [f"arn:aws:iam::{ACCOUNT}:role/r{i}" for i in range(100)]
    (decision,) = decisions(run(registry, {"SCANNER_ROLE_ARNS": SCANNER}), "pull_time_exclusions")
    assert decision.action is Action.NOT_REMEDIABLE and SCANNER not in registry.exclusions


# ---- 4. managed signing -----------------------------------------------------------------------------------------
def test_repositories_named_for_signing_are_checked_against_the_signing_rules():
    registry = InMemoryRegistry()
    registry.signing = (SigningRule(PROFILE, ("prod/*",)),)
    registry.add("prod/api")
    registry.add("prod-like/web")
    registry.add("prod/legacy", tags={"ecr-governance:exempt": "signing"})
    registry.add("team/app")
    report = run(registry, {"SIGNED_REPOSITORY_PATTERNS": "prod*"})
    signing = {d.repository: d for d in report.decisions if d.aspect == "signing"}
    assert signing["prod/api"].status == "compliant" and signing["prod/api"].before == f"signed by {PROFILE}"
    assert signing["prod-like/web"].action is Action.DETECTED  # no write: it needs a Signer profile
    assert signing["prod/legacy"].action is Action.EXEMPT and "team/app" not in signing
    assert registry.writes == Counter()


def test_signing_rules_and_statuses():
    assert signing_rule_for("any/repo", [SigningRule(PROFILE)]) == SigningRule(PROFILE)  # no filter: every one
    assert signing_rule_for("team/app", [SigningRule(PROFILE, ("*/production",))]) is None
    statuses = [ImageSigningStatus(PROFILE, "COMPLETE"), ImageSigningStatus(PROFILE, "FAILED", "KMSKeyDisabled")]
    assert failed_signings(statuses) == [statuses[1]]


# ---- 5. the registry policy -------------------------------------------------------------------------------------
def grant(principal, condition=None, sid="Replicate"):
    statement = {"Sid": sid, "Effect": "Allow", "Principal": principal, "Action": "ecr:ReplicateImage"}
    return {**statement, **({"Condition": condition} if condition else {})}


def test_registry_policy_grants_outside_the_account_without_an_organization_condition_are_detected():
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            grant({"AWS": "arn:aws:iam::210987654321:root"}),
            grant({"AWS": ["210987654321"]}, {"StringEquals": {"aws:PrincipalOrgID": "o-abc"}}, "OrgOnly"),
            grant({"AWS": f"arn:aws:iam::{ACCOUNT}:role/ci"}, sid="Own"),
            grant("*", sid="Anyone"),
        ],
    }
    assert outside_grants(json.dumps(policy), ACCOUNT) == [
        "Replicate: arn:aws:iam::210987654321:root",
        "Anyone: *",
    ]
    registry = InMemoryRegistry()
    registry.registry_policy = RegistryPolicy(ACCOUNT, json.dumps(policy))
    report = run(registry)
    assert [d.action for d in decisions(report, "registry_policy")] == [Action.DETECTED, Action.DETECTED]
    assert outside_grants("{not json", ACCOUNT) == ["the policy is not valid JSON"]


# ---- 6. encryption ----------------------------------------------------------------------------------------------
def test_repositories_not_encrypted_with_the_key_asked_for_are_detected_and_the_exempt_are_left_out():
    registry = InMemoryRegistry()
    registry.templates["ROOT"] = standard_template(
        EnforceSettings.from_environ({"REPOSITORY_ENCRYPTION": "KMS", "REPOSITORY_KMS_KEY_ARN": KEY})
    )
    registry.add("team/plain")
    registry.add("team/keyed", encryption_type="KMS", kms_key=KEY)
    registry.add("team/other-key", encryption_type="KMS", kms_key=KEY.replace("1234abcd", "99999999"))
    registry.add("team/legacy", tags={"ecr-governance:exempt": "encryption"})
    report = run(registry, {"REPOSITORY_ENCRYPTION": "KMS", "REPOSITORY_KMS_KEY_ARN": KEY})
    encryption = {d.repository: d.action for d in report.decisions if d.aspect == "encryption"}
    assert encryption == {
        "team/plain": Action.DETECTED,
        "team/keyed": Action.NONE,
        "team/other-key": Action.DETECTED,
        "team/legacy": Action.EXEMPT,
    }
    assert report.summary()["non_compliant_after"] == 2 and registry.writes == Counter()
    assert decisions(report, "creation_template")[0].status == "compliant"  # the ROOT template carries the key


# ---- 7. an organization-managed registry scanning ---------------------------------------------------------------
def test_registry_scanning_blocked_by_an_organization_policy_is_managed_not_failed():
    registry = InMemoryRegistry(RegistryScanning("ENHANCED", ()))
    registry.add("team/app")
    registry.fail_on[("put_registry_scanning", "")] = ManagedByOrganization(
        "managed", code="BlockedByOrganizationPolicyException"
    )
    report = run(registry)
    scanning = {d.repository: d for d in report.decisions if d.aspect == "registry_scanning"}
    assert scanning["team/app"].action is Action.MANAGED and scanning[REGISTRY].action is Action.MANAGED
    summary = report.summary()
    assert summary["failed"] == 0 and summary["registry_failed"] == 0 and summary["transient_failures"] == 0
    assert summary["non_compliant_after"] == 0 and summary["managed_by_organization"] == 1


# ---- the emulator's core API ------------------------------------------------------------------------------------
def test_with_the_core_api_the_newer_settings_are_not_read_and_the_registry_policy_still_is():
    registry = InMemoryRegistry()
    registry.templates.clear()
    registry.add("team/app")
    report = run(registry, {"REGISTRY_API": "core", "SCANNER_ROLE_ARNS": SCANNER, "SIGNED_REPOSITORY_PATTERNS": "*"})
    newer = ("pull_through_cache_prefixes", "signing_rules", "list_creation_templates", "pull_time_update_exclusions")
    assert all(registry.calls[method] == 0 for method in newer)
    assert registry.calls["get_registry_policy"] == 1
    assert {d.aspect for d in report.decisions if d.repository == REGISTRY} == {"registry_policy"}


@pytest.mark.parametrize(
    ("environ", "named"),
    [
        ({"SCANNER_ROLE_ARNS": "wiz-scanner"}, "SCANNER_ROLE_ARNS"),
        ({"REPOSITORY_KMS_KEY_ARN": KEY}, "REPOSITORY_KMS_KEY_ARN"),  # a key without KMS encryption
        ({"REPOSITORY_ENCRYPTION": "KMS", "REPOSITORY_KMS_KEY_ARN": "alias/ecr"}, "REPOSITORY_KMS_KEY_ARN"),
        ({"EXEMPT_REGISTRY_ASPECTS": "signing"}, "EXEMPT_REGISTRY_ASPECTS"),
        ({"CACHE_LIFECYCLE_POLICY": "{}"}, "CACHE_LIFECYCLE_POLICY"),
    ],
)
def test_a_bad_registry_setting_fails_fast_naming_it(environ, named):
    from ecr_governance.errors import SettingsError

    with pytest.raises(SettingsError, match=named):
        EnforceSettings.from_environ(environ)


def test_our_template_is_told_apart_by_its_description():
    assert standard_template(EnforceSettings.from_environ({})).description == MANAGED_DESCRIPTION

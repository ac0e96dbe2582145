"""The ECR adapter's reads and writes of the registry settings ECR added in 2025-26, against botocore's Stubber:
exact requests, paging, parsing, and the error codes it turns into answers. moto 5.2.5 serves none of these APIs
but GetRegistryPolicy (no creation templates, pull-through cache rules, pull-time update exclusions or signing)."""

import json

import pytest
from ecr_governance.enforce.registry_model import CreationTemplate, RegistryPolicy
from ecr_governance.enforce.scanning import RegistryScanning, ScanningRule
from ecr_governance.errors import AwsError, ManagedByOrganization
from ecr_governance.signing import ImageSigningStatus, SigningRule

ACCOUNT = "123456789012"
PROFILE = f"arn:aws:signer:ap-southeast-1:{ACCOUNT}:/signing-profiles/releases"
SCANNER = f"arn:aws:iam::{ACCOUNT}:role/wiz-scanner"
KEY = f"arn:aws:kms:ap-southeast-1:{ACCOUNT}:key/1234abcd-12ab"
POLICY = json.dumps({"rules": [{"rulePriority": 1, "selection": {}, "action": {"type": "expire"}}]})


def test_pull_through_cache_prefixes_page_through_every_rule(stubbed):
    registry, stubber = stubbed
    rule = {"upstreamRegistryUrl": "registry-1.docker.io", "registryId": ACCOUNT}
    stubber.add_response(
        "describe_pull_through_cache_rules",
        {"pullThroughCacheRules": [{**rule, "ecrRepositoryPrefix": "docker-hub"}], "nextToken": "t"},
        {"maxResults": 1000},
    )
    stubber.add_response(
        "describe_pull_through_cache_rules",
        {"pullThroughCacheRules": [{**rule, "ecrRepositoryPrefix": "quay"}]},
        {"maxResults": 1000, "nextToken": "t"},
    )
    assert registry.pull_through_cache_prefixes() == ("docker-hub", "quay")


def test_signing_rules_and_a_registry_without_a_signing_configuration(stubbed):
    registry, stubber = stubbed
    rules = [
        {"signingProfileArn": PROFILE, "repositoryFilters": [{"filter": "prod/*", "filterType": "WILDCARD_MATCH"}]},
        {"signingProfileArn": PROFILE},
    ]
    stubber.add_response("get_signing_configuration", {"registryId": ACCOUNT, "signingConfiguration": {"rules": rules}})
    assert registry.signing_rules() == (SigningRule(PROFILE, ("prod/*",)), SigningRule(PROFILE))
    stubber.add_client_error("get_signing_configuration", "SigningConfigurationNotFoundException", "none")
    assert registry.signing_rules() == ()


def test_an_images_signing_statuses(stubbed):
    registry, stubber = stubbed
    digest = "sha256:" + "a" * 64
    stubber.add_response(
        "describe_image_signing_status",
        {
            "repositoryName": "prod/api",
            "imageId": {"imageDigest": digest},
            "signingStatuses": [
                {"signingProfileArn": PROFILE, "status": "FAILED", "failureCode": "X", "failureReason": "key disabled"}
            ],
        },
        {"repositoryName": "prod/api", "imageId": {"imageDigest": digest}},
    )
    assert registry.image_signing_statuses("prod/api", digest) == (
        ImageSigningStatus(PROFILE, "FAILED", "X", "key disabled"),
    )


def test_creation_templates_are_read_and_written_with_exactly_the_standards_fields(stubbed):
    registry, stubber = stubbed
    raw = {
        "prefix": "ROOT",
        "description": "ours",
        "appliedFor": ["CREATE_ON_PUSH", "PULL_THROUGH_CACHE"],
        "imageTagMutability": "IMMUTABLE_WITH_EXCLUSION",
        "imageTagMutabilityExclusionFilters": [{"filterType": "WILDCARD", "filter": "sha256-*"}],
        "lifecyclePolicy": POLICY,
        "encryptionConfiguration": {"encryptionType": "KMS", "kmsKey": KEY},
    }
    stubber.add_response(
        "describe_repository_creation_templates",
        {"registryId": ACCOUNT, "repositoryCreationTemplates": [raw]},
        {"maxResults": 1000},
    )
    (template,) = registry.list_creation_templates()
    assert template == CreationTemplate(
        "ROOT",
        ("CREATE_ON_PUSH", "PULL_THROUGH_CACHE"),
        "IMMUTABLE_WITH_EXCLUSION",
        ("sha256-*",),
        POLICY,
        "KMS",
        KEY,
        "ours",
    )
    request = {key: value for key, value in raw.items()}
    stubber.add_response("create_repository_creation_template", {"registryId": ACCOUNT}, request)
    registry.create_creation_template(template)
    stubber.add_response("update_repository_creation_template", {"registryId": ACCOUNT}, request)
    registry.update_creation_template(template)


def test_pull_time_update_exclusions_are_paged_by_hand_and_registering_twice_is_fine(stubbed):
    registry, stubber = stubbed
    stubber.add_response(
        "list_pull_time_update_exclusions",
        {"pullTimeUpdateExclusions": [SCANNER], "nextToken": "t"},
        {"maxResults": 1000},
    )
    stubber.add_response(
        "list_pull_time_update_exclusions", {"pullTimeUpdateExclusions": []}, {"maxResults": 1000, "nextToken": "t"}
    )
    assert registry.pull_time_update_exclusions() == (SCANNER,)
    stubber.add_response("register_pull_time_update_exclusion", {"principalArn": SCANNER}, {"principalArn": SCANNER})
    registry.register_pull_time_update_exclusion(SCANNER)
    stubber.add_client_error("register_pull_time_update_exclusion", "ExclusionAlreadyExistsException", "exists")
    registry.register_pull_time_update_exclusion(SCANNER)  # registered meanwhile: what was asked for
    stubber.add_client_error("register_pull_time_update_exclusion", "LimitExceededException", "100 exclusions")
    with pytest.raises(AwsError):
        registry.register_pull_time_update_exclusion(SCANNER)


def test_the_registry_policy_or_none(stubbed):
    registry, stubber = stubbed
    stubber.add_response("get_registry_policy", {"registryId": ACCOUNT, "policyText": "{}"})
    assert registry.get_registry_policy() == RegistryPolicy(ACCOUNT, "{}")
    stubber.add_client_error("get_registry_policy", "RegistryPolicyNotFoundException", "none")
    assert registry.get_registry_policy() is None


def test_registry_scanning_blocked_by_an_organization_policy_is_managed_by_the_organization(stubbed):
    registry, stubber = stubbed
    stubber.add_client_error(
        "put_registry_scanning_configuration", "BlockedByOrganizationPolicyException", "managed by an org policy"
    )
    with pytest.raises(ManagedByOrganization) as raised:
        registry.put_registry_scanning(RegistryScanning("ENHANCED", (ScanningRule("SCAN_ON_PUSH", ("*",)),)))
    assert not raised.value.transient and raised.value.code == "BlockedByOrganizationPolicyException"


def test_a_repositorys_encryption_is_read(stubbed):
    registry, stubber = stubbed
    raw = {
        "repositoryName": "team/app",
        "repositoryArn": f"arn:aws:ecr:ap-southeast-1:{ACCOUNT}:repository/team/app",
        "encryptionConfiguration": {"encryptionType": "KMS", "kmsKey": KEY},
    }
    stubber.add_response("describe_repositories", {"repositories": [raw]}, {"repositoryNames": ["team/app"]})
    repository = registry.get_repository("team/app")
    assert (repository.encryption_type, repository.kms_key) == ("KMS", KEY)

"""The ECR adapter against botocore's Stubber: exact requests, paging, and error translation."""

from datetime import UTC, datetime

import boto3
import pytest
from botocore.stub import ANY, Stubber
from ecr_governance.errors import AccessDenied, RepositoryNotFound
from ecr_governance.registry import EcrRegistry, RegistryScanning, ScanningRule

ARN = "arn:aws:ecr:ap-southeast-1:123456789012:repository/"


@pytest.fixture
def stubbed():
    client = boto3.client("ecr", region_name="ap-southeast-1")
    with Stubber(client) as stubber:
        yield EcrRegistry(client), stubber
        stubber.assert_no_pending_responses()


def raw_repository(name, **extra):
    return {
        "repositoryName": name,
        "repositoryArn": ARN + name,
        "registryId": "123456789012",
        "repositoryUri": f"123456789012.dkr.ecr.ap-southeast-1.amazonaws.com/{name}",
        **extra,
    }


def test_list_repositories_pages_at_the_maximum_page_size(stubbed):
    registry, stubber = stubbed
    stubber.add_response(
        "describe_repositories", {"repositories": [raw_repository("team/a")], "nextToken": "t1"}, {"maxResults": 1000}
    )
    stubber.add_response(
        "describe_repositories",
        {
            "repositories": [
                raw_repository(
                    "team/b",
                    imageTagMutability="IMMUTABLE_WITH_EXCLUSION",
                    imageTagMutabilityExclusionFilters=[{"filterType": "WILDCARD", "filter": "sha256-*"}],
                    imageScanningConfiguration={"scanOnPush": True},
                )
            ]
        },
        {"maxResults": 1000, "nextToken": "t1"},
    )
    repositories = list(registry.list_repositories())
    assert [r.name for r in repositories] == ["team/a", "team/b"]
    assert repositories[0].tag_mutability == "MUTABLE"  # absent means MUTABLE
    assert repositories[1].exclusion_filters == ("sha256-*",)
    assert repositories[1].scan_on_push


def test_missing_lifecycle_policy_is_none_not_an_error(stubbed):
    registry, stubber = stubbed
    stubber.add_client_error(
        "get_lifecycle_policy",
        "LifecyclePolicyNotFoundException",
        "no policy",
        expected_params={"repositoryName": "team/app"},
    )
    assert registry.get_lifecycle_policy_text("team/app") is None


def test_repository_not_found_becomes_a_domain_error(stubbed):
    registry, stubber = stubbed
    stubber.add_client_error("describe_repositories", "RepositoryNotFoundException", "gone")
    with pytest.raises(RepositoryNotFound, match="team/gone"):
        registry.get_repository("team/gone")


def test_access_denied_names_the_operation(stubbed):
    registry, stubber = stubbed
    stubber.add_client_error("put_image_tag_mutability", "AccessDeniedException", "not allowed")
    with pytest.raises(AccessDenied, match="PutImageTagMutability"):
        registry.put_tag_mutability("team/app", "IMMUTABLE", ())


def test_unexpected_errors_propagate_unchanged(stubbed):
    registry, stubber = stubbed
    stubber.add_client_error("get_lifecycle_policy", "ServerException", "boom")
    with pytest.raises(Exception, match="ServerException"):
        registry.get_lifecycle_policy_text("team/app")


def test_writes_send_exactly_what_ecr_expects(stubbed):
    registry, stubber = stubbed
    stubber.add_response(
        "put_image_tag_mutability",
        {},
        {
            "repositoryName": "team/app",
            "imageTagMutability": "IMMUTABLE_WITH_EXCLUSION",
            "imageTagMutabilityExclusionFilters": [{"filterType": "WILDCARD", "filter": "sha256-*"}],
        },
    )
    stubber.add_response(
        "put_image_tag_mutability", {}, {"repositoryName": "team/app", "imageTagMutability": "IMMUTABLE"}
    )
    stubber.add_response(
        "put_registry_scanning_configuration",
        {},
        {
            "scanType": "ENHANCED",
            "rules": [
                {
                    "scanFrequency": "CONTINUOUS_SCAN",
                    "repositoryFilters": [{"filter": "prod-*", "filterType": "WILDCARD"}],
                },
                {"scanFrequency": "SCAN_ON_PUSH", "repositoryFilters": [{"filter": "*", "filterType": "WILDCARD"}]},
            ],
        },
    )
    stubber.add_response(
        "put_image_scanning_configuration",
        {},
        {"repositoryName": "team/app", "imageScanningConfiguration": {"scanOnPush": True}},
    )
    stubber.add_response("put_lifecycle_policy", {}, {"repositoryName": "team/app", "lifecyclePolicyText": ANY})
    registry.put_tag_mutability("team/app", "IMMUTABLE_WITH_EXCLUSION", ("sha256-*",))
    registry.put_tag_mutability("team/app", "IMMUTABLE", ())
    registry.put_registry_scanning(
        RegistryScanning(
            "ENHANCED", (ScanningRule("CONTINUOUS_SCAN", ("prod-*",)), ScanningRule("SCAN_ON_PUSH", ("*",)))
        )
    )
    registry.put_repository_scan_on_push("team/app")
    registry.put_lifecycle_policy(
        "team/app",
        {
            "rules": [
                {
                    "rulePriority": 1,
                    "selection": {
                        "tagStatus": "untagged",
                        "countType": "sinceImagePushed",
                        "countUnit": "days",
                        "countNumber": 7,
                    },
                    "action": {"type": "expire"},
                }
            ]
        },
    )


def test_registry_scanning_read(stubbed):
    registry, stubber = stubbed
    stubber.add_response(
        "get_registry_scanning_configuration",
        {
            "registryId": "123456789012",
            "scanningConfiguration": {
                "scanType": "ENHANCED",
                "rules": [
                    {
                        "scanFrequency": "CONTINUOUS_SCAN",
                        "repositoryFilters": [{"filter": "prod-*", "filterType": "WILDCARD"}],
                    }
                ],
            },
        },
    )
    assert registry.get_registry_scanning() == RegistryScanning(
        "ENHANCED", (ScanningRule("CONTINUOUS_SCAN", ("prod-*",)),)
    )


def test_describe_images_pages_and_keeps_details(stubbed):
    registry, stubber = stubbed
    pushed = datetime(2026, 11, 1, tzinfo=UTC)
    detail = {
        "registryId": "1",
        "repositoryName": "team/a",
        "imageDigest": "sha256:" + "a" * 64,
        "imagePushedAt": pushed,
    }
    stubber.add_response(
        "describe_images",
        {"imageDetails": [detail], "nextToken": "n"},
        {"repositoryName": "team/a", "maxResults": 1000},
    )
    stubber.add_response(
        "describe_images", {"imageDetails": []}, {"repositoryName": "team/a", "maxResults": 1000, "nextToken": "n"}
    )
    assert [d["imagePushedAt"] for d in registry.describe_images("team/a")] == [pushed]


def test_describe_images_can_include_archived_images(stubbed):
    registry, stubber = stubbed
    stubber.add_response(
        "describe_images",
        {"imageDetails": []},
        {"repositoryName": "team/a", "maxResults": 1000, "filter": {"imageStatus": "ANY"}},
    )
    assert list(registry.describe_images("team/a", include_archived=True)) == []

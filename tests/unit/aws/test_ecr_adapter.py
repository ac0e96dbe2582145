"""The ECR adapter against botocore's Stubber: exact requests, paging, and error translation."""

import json
from datetime import UTC, datetime

import pytest
from botocore.stub import ANY
from ecr_governance.enforce.scanning import RegistryScanning, ScanningRule
from ecr_governance.errors import AccessDenied, AwsError, RepositoryNotFound

ARN = "arn:aws:ecr:ap-southeast-1:123456789012:repository/"


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


def test_any_other_error_becomes_a_domain_error_with_its_code(stubbed):
    registry, stubber = stubbed
    stubber.add_client_error("put_image_tag_mutability", "InvalidParameterException", "bad", http_status_code=400)
    with pytest.raises(AwsError, match="PutImageTagMutability on team/app failed: InvalidParameterException") as raised:
        registry.put_tag_mutability("team/app", "IMMUTABLE", ())
    assert raised.value.code == "InvalidParameterException" and not raised.value.transient


@pytest.mark.parametrize(
    ("code", "status"), [("ThrottlingException", 400), ("TooManyRequestsException", 400), ("ServerException", 500)]
)
def test_throttling_and_server_errors_that_outlive_retries_are_transient(stubbed, code, status):
    registry, stubber = stubbed
    stubber.add_client_error("get_lifecycle_policy", code, "slow down", http_status_code=status)
    with pytest.raises(AwsError) as raised:
        registry.get_lifecycle_policy_text("team/app")
    assert raised.value.code == code and raised.value.transient


def test_manifests_are_read_in_batches_of_100_with_the_index_media_types(stubbed):
    registry, stubber = stubbed
    digests = [f"sha256:{i:064x}" for i in range(150)]
    index = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{"digest": digests[1], "mediaType": "application/vnd.oci.image.manifest.v1+json", "size": 1}],
    }
    referrer = {"schemaVersion": 2, "subject": {"digest": digests[0], "size": 1, "mediaType": "x"}}
    accepted = [
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.v2+json",
    ]
    first = {
        "images": [
            {"imageId": {"imageDigest": digests[0]}, "imageManifest": json.dumps(index)},
            {"imageId": {"imageDigest": digests[2]}, "imageManifest": json.dumps(referrer)},
        ],
        "failures": [],
    }
    expected_first = {
        "repositoryName": "team/a",
        "imageIds": [{"imageDigest": d} for d in digests[:100]],
        "acceptedMediaTypes": accepted,
    }
    stubber.add_response("batch_get_image", first, expected_first)
    gone = {"imageId": {"imageDigest": digests[149]}, "failureCode": "ImageNotFound", "failureReason": "gone"}
    expected_second = {**expected_first, "imageIds": [{"imageDigest": d} for d in digests[100:]]}
    stubber.add_response("batch_get_image", {"images": [], "failures": [gone]}, expected_second)
    read = registry.get_manifests("team/a", digests)
    assert read.manifests[digests[0]].child_digests == (digests[1],)
    assert read.manifests[digests[2]].subject_digest == digests[0]
    assert read.gone == {digests[149]}


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
    assert [image.pushed_at for image in registry.describe_images("team/a")] == [pushed]


def test_describe_images_can_include_archived_images(stubbed):
    registry, stubber = stubbed
    stubber.add_response(
        "describe_images",
        {"imageDetails": []},
        {"repositoryName": "team/a", "maxResults": 1000, "filter": {"imageStatus": "ANY"}},
    )
    assert list(registry.describe_images("team/a", include_archived=True)) == []


def test_effective_scanning_is_asked_25_names_at_a_time(stubbed):
    registry, stubber = stubbed
    names = [f"team/r{i:02}" for i in range(30)]
    stubber.add_response(
        "batch_get_repository_scanning_configuration",
        {
            "scanningConfigurations": [
                {
                    "repositoryName": "team/r00",
                    "scanFrequency": "SCAN_ON_PUSH",
                    "appliedScanFilters": [{"filter": "team/*", "filterType": "WILDCARD"}],
                }
            ],
            "failures": [],
        },
        {"repositoryNames": names[:25]},
    )
    stubber.add_response(
        "batch_get_repository_scanning_configuration",
        {
            "scanningConfigurations": [{"repositoryName": "team/r29", "scanFrequency": "MANUAL"}],
            "failures": [{"repositoryName": "team/r28", "failureCode": "REPOSITORY_NOT_FOUND", "failureReason": "x"}],
        },
        {"repositoryNames": names[25:]},
    )
    effective = registry.get_effective_scanning(names)  # ECR's own structures, by repository name
    assert effective["team/r00"]["appliedScanFilters"] == [{"filter": "team/*", "filterType": "WILDCARD"}]
    assert effective["team/r29"]["scanFrequency"] == "MANUAL"
    assert effective["team/r28"]["failureCode"] == "REPOSITORY_NOT_FOUND"

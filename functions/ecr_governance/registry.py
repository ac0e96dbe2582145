"""The ECR adapter: the only module that calls the ECR API.

It takes a boto3 ECR client (built by the composition root: a handler module or the CLI), pages every read at
the API's maximum page size, and translates the ClientError codes it expects into domain errors. Every method
is one API operation, so call counts (bench/) map one-to-one onto ECR requests.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
)

from ecr_governance.errors import (
    AccessDenied,
    CredentialsMissing,
    EndpointUnreachable,
    GovernanceError,
    RepositoryNotFound,
)

# ECR's maximum page sizes (DescribeRepositories / DescribeImages: 1000).
MAX_REPOSITORIES_PAGE = 1000
MAX_IMAGES_PAGE = 1000

# The IAM actions each adapter method needs; the contract test checks template.yaml grants exactly the union of
# what the functions use (see ENFORCE_IAM_ACTIONS in enforce.py).
IAM_ACTION_BY_METHOD = {
    "list_repositories": "ecr:DescribeRepositories",
    "get_repository": "ecr:DescribeRepositories",
    "describe_images": "ecr:DescribeImages",
    "get_lifecycle_policy_text": "ecr:GetLifecyclePolicy",
    "list_tags": "ecr:ListTagsForResource",
    "get_registry_scanning": "ecr:GetRegistryScanningConfiguration",
    "put_tag_mutability": "ecr:PutImageTagMutability",
    "put_repository_scan_on_push": "ecr:PutImageScanningConfiguration",
    "put_registry_scanning": "ecr:PutRegistryScanningConfiguration",
    "put_lifecycle_policy": "ecr:PutLifecyclePolicy",
}


@dataclass(frozen=True)
class Repository:
    """What DescribeRepositories tells about one repository."""

    name: str
    arn: str
    tag_mutability: str
    exclusion_filters: tuple[str, ...] = ()
    scan_on_push: bool = False
    uri: str = ""


@dataclass(frozen=True)
class ScanningRule:
    scan_frequency: str  # SCAN_ON_PUSH | CONTINUOUS_SCAN | MANUAL
    filters: tuple[str, ...]  # WILDCARD repository filters


@dataclass(frozen=True)
class RegistryScanning:
    scan_type: str  # BASIC | ENHANCED
    rules: tuple[ScanningRule, ...] = field(default_factory=tuple)


def _error_code(error: ClientError) -> str:
    return error.response.get("Error", {}).get("Code", "")


@contextmanager
def _translated(operation: str, repository_name: str | None = None) -> Iterator[None]:
    """Raise the domain error for the botocore errors a user can cause; anything else propagates unchanged."""
    try:
        yield
    except (ClientError, BotoCoreError) as error:
        domain_error = _translate(error, operation, repository_name)
        if domain_error is error:
            raise
        raise domain_error from error


def _translate(error: Exception, operation: str, repository_name: str | None = None) -> Exception:
    """Map the errors a user can cause to domain errors; anything else is returned unchanged."""
    if isinstance(error, NoCredentialsError):
        return CredentialsMissing(
            "no AWS credentials found: set AWS_PROFILE / AWS_ACCESS_KEY_ID, run `aws configure`, or use --local"
        )
    if isinstance(error, NoRegionError):
        return GovernanceError("no AWS region configured: pass --region or set AWS_REGION")
    if isinstance(error, EndpointConnectionError):
        return EndpointUnreachable(f"cannot reach the ECR endpoint for {operation}: {error}")
    if isinstance(error, ClientError):
        code = _error_code(error)
        if code == "RepositoryNotFoundException" and repository_name:
            return RepositoryNotFound(repository_name)
        if code in {"AccessDeniedException", "AccessDenied", "UnauthorizedOperation"}:
            return AccessDenied(f"access denied: {operation} needs IAM permission ecr:{operation}")
        if code in {"UnrecognizedClientException", "InvalidSignatureException", "ExpiredTokenException"}:
            return CredentialsMissing(f"AWS rejected the credentials ({code}) on {operation}")
    return error


class EcrRegistry:
    def __init__(self, ecr_client: Any):
        self._ecr = ecr_client

    # ---- reads -------------------------------------------------------------------------------------------
    def list_repositories(self) -> Iterator[Repository]:
        with _translated("DescribeRepositories"):
            for page in self._ecr.get_paginator("describe_repositories").paginate(
                PaginationConfig={"PageSize": MAX_REPOSITORIES_PAGE}
            ):
                for raw in page.get("repositories", []):
                    yield _repository(raw)

    def get_repository(self, name: str) -> Repository:
        with _translated("DescribeRepositories", name):
            response = self._ecr.describe_repositories(repositoryNames=[name])
        return _repository(response["repositories"][0])

    def describe_images(self, repository_name: str, include_archived: bool = False) -> Iterator[dict[str, Any]]:
        """Every image detail of a repository, as DescribeImages returns them (datetimes from botocore).

        DescribeImages lists only ACTIVE images unless asked; `include_archived` asks for every status, which
        lifecycle rules on the archive storage class need.
        """
        params: dict[str, Any] = {"repositoryName": repository_name}
        if include_archived:
            params["filter"] = {"imageStatus": "ANY"}
        with _translated("DescribeImages", repository_name):
            for page in self._ecr.get_paginator("describe_images").paginate(
                **params, PaginationConfig={"PageSize": MAX_IMAGES_PAGE}
            ):
                yield from page.get("imageDetails", [])

    def get_lifecycle_policy_text(self, repository_name: str) -> str | None:
        """The policy JSON text, or None when the repository has no lifecycle policy."""
        try:
            with _translated("GetLifecyclePolicy", repository_name):
                return self._ecr.get_lifecycle_policy(repositoryName=repository_name)["lifecyclePolicyText"]
        except ClientError as error:
            if _error_code(error) == "LifecyclePolicyNotFoundException":
                return None
            raise

    def list_tags(self, repository: Repository) -> dict[str, str]:
        with _translated("ListTagsForResource", repository.name):
            tags = self._ecr.list_tags_for_resource(resourceArn=repository.arn).get("tags", [])
        return {tag["Key"]: tag["Value"] for tag in tags}

    def get_registry_scanning(self) -> RegistryScanning:
        with _translated("GetRegistryScanningConfiguration"):
            config = self._ecr.get_registry_scanning_configuration()["scanningConfiguration"]
        return RegistryScanning(
            scan_type=config.get("scanType", "BASIC"),
            rules=tuple(
                ScanningRule(
                    scan_frequency=rule["scanFrequency"],
                    filters=tuple(f["filter"] for f in rule.get("repositoryFilters", [])),
                )
                for rule in config.get("rules", [])
            ),
        )

    # ---- writes ------------------------------------------------------------------------------------------
    def put_tag_mutability(self, repository_name: str, mutability: str, exclusion_filters: tuple[str, ...]) -> None:
        params: dict[str, Any] = {"repositoryName": repository_name, "imageTagMutability": mutability}
        if exclusion_filters:
            params["imageTagMutabilityExclusionFilters"] = [
                {"filterType": "WILDCARD", "filter": pattern} for pattern in exclusion_filters
            ]
        with _translated("PutImageTagMutability", repository_name):
            self._ecr.put_image_tag_mutability(**params)

    def put_repository_scan_on_push(self, repository_name: str) -> None:
        with _translated("PutImageScanningConfiguration", repository_name):
            self._ecr.put_image_scanning_configuration(
                repositoryName=repository_name, imageScanningConfiguration={"scanOnPush": True}
            )

    def put_registry_scanning(self, scanning: RegistryScanning) -> None:
        with _translated("PutRegistryScanningConfiguration"):
            self._ecr.put_registry_scanning_configuration(
                scanType=scanning.scan_type,
                rules=[
                    {
                        "scanFrequency": rule.scan_frequency,
                        "repositoryFilters": [{"filter": f, "filterType": "WILDCARD"} for f in rule.filters],
                    }
                    for rule in scanning.rules
                ],
            )

    def put_lifecycle_policy(self, repository_name: str, policy: dict[str, Any]) -> None:
        with _translated("PutLifecyclePolicy", repository_name):
            self._ecr.put_lifecycle_policy(repositoryName=repository_name, lifecyclePolicyText=json.dumps(policy))


def _repository(raw: dict[str, Any]) -> Repository:
    return Repository(
        name=raw["repositoryName"],
        arn=raw["repositoryArn"],
        tag_mutability=raw.get("imageTagMutability", "MUTABLE"),
        exclusion_filters=tuple(f["filter"] for f in raw.get("imageTagMutabilityExclusionFilters", []) or []),
        scan_on_push=bool(raw.get("imageScanningConfiguration", {}).get("scanOnPush", False)),
        uri=raw.get("repositoryUri", ""),
    )

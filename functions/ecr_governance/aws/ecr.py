"""The ECR adapter: the only code that calls the ECR API.

It takes a boto3 ECR client (built by a composition root: a handler module or the CLI), pages every read at the API's
maximum page size, declares the IAM action of each method and translates every botocore error into a domain error.
Each method sends one kind of API operation, so call counts (bench/) map one-to-one onto ECR requests.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from ecr_governance.aws.errors import translated
from ecr_governance.aws.iam import requires
from ecr_governance.enforce.registry_model import CreationTemplate, RegistryPolicy
from ecr_governance.enforce.scanning import RegistryScanning, ScanningRule
from ecr_governance.errors import AwsError, ImageNotFound, RepositoryNotFound
from ecr_governance.findings.normalize import (
    Finding,
    ImageScan,
    ScannedImage,
    finding_from_basic,
    finding_from_enhanced,
    severity_counts,
)
from ecr_governance.images import (
    ACCEPTED_MANIFEST_MEDIA_TYPES,
    ImageDetailError,
    ImageRecord,
    Manifest,
    ManifestRead,
    image_from_detail,
    parse_manifest,
    parse_timestamp,
)
from ecr_governance.repositories import Repository
from ecr_governance.signing import ImageSigningStatus, SigningRule
from ecr_governance.sweep.deletion import IMAGE_NOT_FOUND, BatchDeleteResult, DeleteFailure

# ECR's maximum page sizes (DescribeRepositories / DescribeImages: 1000) and batch size (BatchGetImage: 100 ids).
MAX_REPOSITORIES_PAGE = 1000
MAX_IMAGES_PAGE = 1000
MAX_IMAGE_IDS_PER_BATCH = 100
MAX_SCANNING_CONFIGURATION_NAMES = 25  # BatchGetRepositoryScanningConfiguration
MAX_SCAN_FINDINGS_PAGE = 1000  # DescribeImageScanFindings' maxResults
MAX_SETTINGS_PAGE = 1000  # DescribeRepositoryCreationTemplates, DescribePullThroughCacheRules, ListPullTimeUpdate...


def batches[T](items: Iterable[T], size: int) -> Iterator[list[T]]:
    batch: list[T] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


class EcrRegistry:
    def __init__(self, ecr_client: Any):
        self._ecr = ecr_client

    # ---- repositories --------------------------------------------------------------------------------------
    @requires("ecr:DescribeRepositories")
    def list_repositories(self) -> Iterator[Repository]:
        with translated("DescribeRepositories"):
            for page in self._ecr.get_paginator("describe_repositories").paginate(
                PaginationConfig={"PageSize": MAX_REPOSITORIES_PAGE}
            ):
                for raw in page.get("repositories", []):
                    yield _repository(raw)

    @requires("ecr:DescribeRepositories")
    def get_repository(self, name: str) -> Repository:
        with translated("DescribeRepositories", resource=name):
            response = self._ecr.describe_repositories(repositoryNames=[name])
        return _repository(response["repositories"][0])

    @requires("ecr:ListTagsForResource")
    def list_tags(self, repository: Repository) -> dict[str, str]:
        with translated("ListTagsForResource", resource=repository.name):
            tags = self._ecr.list_tags_for_resource(resourceArn=repository.arn).get("tags", [])
        return {tag["Key"]: tag["Value"] for tag in tags}

    @requires("ecr:GetLifecyclePolicy")
    def get_lifecycle_policy_text(self, repository_name: str) -> str | None:
        """The policy JSON text, or None when the repository has no lifecycle policy."""
        try:
            with translated("GetLifecyclePolicy", resource=repository_name):
                text: str = self._ecr.get_lifecycle_policy(repositoryName=repository_name)["lifecyclePolicyText"]
                return text
        except AwsError as error:
            if error.code == "LifecyclePolicyNotFoundException":
                return None
            raise

    # ---- images --------------------------------------------------------------------------------------------
    @requires("ecr:DescribeImages")
    def describe_images(self, repository_name: str, include_archived: bool = False) -> Iterator[ImageRecord]:
        """Every image of a repository. DescribeImages lists only ACTIVE images unless asked; `include_archived`
        asks for every status, which lifecycle rules on the archive storage class and the sweep need."""
        params: dict[str, Any] = {"repositoryName": repository_name}
        if include_archived:
            params["filter"] = {"imageStatus": "ANY"}
        with translated("DescribeImages", resource=repository_name):
            for page in self._ecr.get_paginator("describe_images").paginate(
                **params, PaginationConfig={"PageSize": MAX_IMAGES_PAGE}
            ):
                for detail in page.get("imageDetails", []):
                    yield image_from_detail(detail)

    @requires("ecr:BatchGetImage")
    def get_manifests(self, repository_name: str, digests: Iterable[str]) -> ManifestRead:
        """The manifests of these images (≤ 100 ids a call). Reports, without deciding anything, each image ECR says
        is gone, and each it did not give (KmsError, ImageInaccessible, ...) or gave unparseable, with the reason.

        `acceptedMediaTypes` names the index types too: without them ECR would not return an index as it is.
        """
        manifests: dict[str, Manifest] = {}
        gone: set[str] = set()
        unread: dict[str, str] = {}
        for batch in batches(dict.fromkeys(digests), MAX_IMAGE_IDS_PER_BATCH):
            with translated("BatchGetImage", resource=repository_name):
                response = self._ecr.batch_get_image(
                    repositoryName=repository_name,
                    imageIds=[{"imageDigest": digest} for digest in batch],
                    acceptedMediaTypes=list(ACCEPTED_MANIFEST_MEDIA_TYPES),
                )
            for image in response.get("images", []):
                digest = image.get("imageId", {}).get("imageDigest")
                if digest not in batch or digest in manifests:
                    continue  # moto answers a digest once per tag; ECR once
                try:
                    manifests[digest] = parse_manifest(
                        digest, image.get("imageManifest"), image.get("imageManifestMediaType")
                    )
                except ImageDetailError as error:
                    unread[digest] = str(error)
            for failure in response.get("failures", []):
                digest = failure.get("imageId", {}).get("imageDigest")
                if digest not in batch or digest in manifests:
                    continue
                code = str(failure.get("failureCode", ""))
                if code == IMAGE_NOT_FOUND:
                    gone.add(digest)
                else:
                    unread[digest] = f"{code}: {failure.get('failureReason', '')}".strip(": ")
            for digest in batch:
                if digest not in manifests and digest not in gone and digest not in unread:
                    unread[digest] = "BatchGetImage returned neither the manifest nor a failure"
        return ManifestRead(manifests, frozenset(gone), unread)

    # ---- sweep ---------------------------------------------------------------------------------------------
    @requires("ecr:DescribeImages")
    def describe_images_by_digest(self, repository_name: str, digests: Sequence[str]) -> list[ImageRecord]:
        """These images (≤ 100) as they are now, archived ones included. ECR refuses the whole call with
        ImageNotFoundException when any of them is gone: that raises ImageNotFound."""
        if not 0 < len(digests) <= MAX_IMAGE_IDS_PER_BATCH:
            raise ValueError(f"DescribeImages takes 1 to {MAX_IMAGE_IDS_PER_BATCH} image ids, got {len(digests)}")
        with translated("DescribeImages", resource=repository_name):
            response = self._ecr.describe_images(
                repositoryName=repository_name,
                imageIds=[{"imageDigest": digest} for digest in digests],
                filter={"imageStatus": "ANY"},
            )
        return [image_from_detail(detail) for detail in response.get("imageDetails", [])]

    @requires("ecr:BatchDeleteImage")
    def batch_delete_images(self, repository_name: str, digests: Sequence[str]) -> BatchDeleteResult:
        """Delete these images (≤ 100) by digest. The call succeeds while single images fail: each failure comes
        back with ECR's code (ImageReferencedByManifestList, ImageNotFound, ...); the others were deleted."""
        if not 0 < len(digests) <= MAX_IMAGE_IDS_PER_BATCH:
            raise ValueError(f"BatchDeleteImage takes 1 to {MAX_IMAGE_IDS_PER_BATCH} image ids, got {len(digests)}")
        with translated("BatchDeleteImage", resource=repository_name):
            response = self._ecr.batch_delete_image(
                repositoryName=repository_name, imageIds=[{"imageDigest": digest} for digest in digests]
            )
        failures = tuple(
            DeleteFailure(
                digest=str(failure.get("imageId", {}).get("imageDigest", "")),
                code=str(failure.get("failureCode", "")),
                reason=str(failure.get("failureReason", "")),
            )
            for failure in response.get("failures", [])
        )
        failed = {failure.digest for failure in failures}
        # Not from `imageIds`: it lists digest+tag pairs, and moto leaves it empty for untagged images.
        return BatchDeleteResult(deleted=tuple(d for d in dict.fromkeys(digests) if d not in failed), failures=failures)

    # ---- registry scanning ---------------------------------------------------------------------------------
    @requires("ecr:GetRegistryScanningConfiguration")
    def get_registry_scanning(self) -> RegistryScanning:
        with translated("GetRegistryScanningConfiguration"):
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

    @requires("ecr:BatchGetRepositoryScanningConfiguration")
    def get_effective_scanning(self, repository_names: Iterable[str]) -> dict[str, dict[str, Any]]:
        """ECR's own word on each repository's scanning (≤ 25 names a call), for the audit, never the enforcement
        path: each repository's ScanningConfiguration as ECR returns it (scanFrequency, appliedScanFilters, ...), or
        its failure (failureCode, failureReason)."""
        effective: dict[str, dict[str, Any]] = {}
        for batch in batches(dict.fromkeys(repository_names), MAX_SCANNING_CONFIGURATION_NAMES):
            with translated("BatchGetRepositoryScanningConfiguration"):
                response = self._ecr.batch_get_repository_scanning_configuration(repositoryNames=batch)
            for configuration in response.get("scanningConfigurations", []):
                effective[configuration["repositoryName"]] = configuration
            for failure in response.get("failures", []):
                effective[failure.get("repositoryName", "")] = failure
        return effective

    # ---- scan findings -------------------------------------------------------------------------------------
    @requires("ecr:DescribeImageScanFindings")
    def image_scan(self, repository_name: str, image_digest: str, page_size: int = MAX_SCAN_FINDINGS_PAGE) -> ImageScan:
        """The image's latest scan. The first page is read now (a gone image or repository raises here); the other
        pages as `findings` is iterated, every one of them, so a page boundary never drops a finding."""
        pages = self._ecr.get_paginator("describe_image_scan_findings").paginate(
            repositoryName=repository_name,
            imageId={"imageDigest": image_digest},
            PaginationConfig={"PageSize": page_size},
        )
        with translated("DescribeImageScanFindings", resource=repository_name):
            page_iterator = iter(pages)
            first = next(page_iterator)
        status = first.get("imageScanStatus") or {}
        scan_findings = first.get("imageScanFindings") or {}
        try:
            completed_at = parse_timestamp(scan_findings["imageScanCompletedAt"], "imageScanCompletedAt")
        except (KeyError, ImageDetailError):
            completed_at = None  # a scan that has not completed
        return ImageScan(
            status=str(status.get("status") or ""),
            scan_kind="enhanced" if "enhancedFindings" in scan_findings else "basic",
            status_description=str(status.get("description") or ""),
            completed_at=completed_at,
            severity_counts=severity_counts(scan_findings.get("findingSeverityCounts")),
            findings=self._scan_findings(repository_name, first, page_iterator),
        )

    @staticmethod
    def _scan_findings(
        repository_name: str, first: dict[str, Any], rest: Iterator[dict[str, Any]]
    ) -> Iterator[Finding]:
        page: dict[str, Any] | None = first
        while page is not None:
            scan_findings = page.get("imageScanFindings") or {}
            yield from map(finding_from_basic, scan_findings.get("findings") or [])
            yield from map(finding_from_enhanced, scan_findings.get("enhancedFindings") or [])
            with translated("DescribeImageScanFindings", resource=repository_name):
                page = next(rest, None)

    @requires("ecr:DescribeImages")
    def image_exists(self, repository_name: str, image_digest: str) -> bool:
        """Whether the image is still in the repository, archived or not."""
        try:
            with translated("DescribeImages", resource=repository_name):
                self._ecr.describe_images(
                    repositoryName=repository_name,
                    imageIds=[{"imageDigest": image_digest}],
                    filter={"imageStatus": "ANY"},
                )
        except (ImageNotFound, RepositoryNotFound):
            return False
        return True

    @requires("ecr:DescribeImages")
    def scanned_image(self, repository_name: str, *, digest: str | None = None, tag: str | None = None) -> ScannedImage:
        """One image, by digest or tag, with every tag it has (for the CLI's reports)."""
        image_id = {"imageDigest": digest} if digest else {"imageTag": tag}
        with translated("DescribeImages", resource=repository_name):
            details = self._ecr.describe_images(repositoryName=repository_name, imageIds=[image_id])["imageDetails"]
        if not details:
            raise ImageNotFound(f"no image {digest or tag} in {repository_name}", operation="DescribeImages")
        detail = details[0]
        return ScannedImage(
            repository_name=repository_name,
            digest=detail["imageDigest"],
            tags=tuple(detail.get("imageTags") or ()),
            registry_id=str(detail.get("registryId") or ""),
            region=self._ecr.meta.region_name,
            partition=self._ecr.meta.partition,
        )

    # ---- writes --------------------------------------------------------------------------------------------
    @requires("ecr:PutImageTagMutability")
    def put_tag_mutability(self, repository_name: str, mutability: str, exclusion_filters: tuple[str, ...]) -> None:
        params: dict[str, Any] = {"repositoryName": repository_name, "imageTagMutability": mutability}
        if exclusion_filters:
            params["imageTagMutabilityExclusionFilters"] = [
                {"filterType": "WILDCARD", "filter": pattern} for pattern in exclusion_filters
            ]
        with translated("PutImageTagMutability", resource=repository_name):
            self._ecr.put_image_tag_mutability(**params)

    @requires("ecr:PutImageScanningConfiguration")
    def put_repository_scan_on_push(self, repository_name: str) -> None:
        with translated("PutImageScanningConfiguration", resource=repository_name):
            self._ecr.put_image_scanning_configuration(
                repositoryName=repository_name, imageScanningConfiguration={"scanOnPush": True}
            )

    @requires("ecr:PutRegistryScanningConfiguration")
    def put_registry_scanning(self, scanning: RegistryScanning) -> None:
        with translated("PutRegistryScanningConfiguration"):
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

    @requires("ecr:PutLifecyclePolicy")
    def put_lifecycle_policy(self, repository_name: str, policy: dict[str, Any]) -> None:
        with translated("PutLifecyclePolicy", resource=repository_name):
            self._ecr.put_lifecycle_policy(repositoryName=repository_name, lifecyclePolicyText=json.dumps(policy))

    # ---- the registry settings ECR added in 2025-26 (moto serves none of them but the registry policy) --------
    @requires("ecr:DescribePullThroughCacheRules")
    def pull_through_cache_prefixes(self) -> tuple[str, ...]:
        """The ECR repository prefix of every pull-through cache rule (a repository under one is a cache)."""
        with translated("DescribePullThroughCacheRules"):
            pages = self._ecr.get_paginator("describe_pull_through_cache_rules").paginate(
                PaginationConfig={"PageSize": MAX_SETTINGS_PAGE}
            )
            return tuple(
                rule["ecrRepositoryPrefix"] for page in pages for rule in page.get("pullThroughCacheRules", [])
            )

    @requires("ecr:GetSigningConfiguration")
    def signing_rules(self) -> tuple[SigningRule, ...]:
        """The managed signing rules; none when the registry has no signing configuration."""
        try:
            with translated("GetSigningConfiguration"):
                configuration = self._ecr.get_signing_configuration().get("signingConfiguration") or {}
        except AwsError as error:
            if error.code == "SigningConfigurationNotFoundException":
                return ()
            raise
        return tuple(
            SigningRule(
                signing_profile_arn=rule["signingProfileArn"],
                filters=tuple(f["filter"] for f in rule.get("repositoryFilters", []) or []),
            )
            for rule in configuration.get("rules", [])
        )

    @requires("ecr:DescribeImageSigningStatus")
    def image_signing_statuses(self, repository_name: str, digest: str) -> tuple[ImageSigningStatus, ...]:
        """An image's signing status per signing profile (for the findings alert path: alert when FAILED)."""
        with translated("DescribeImageSigningStatus", resource=repository_name):
            response = self._ecr.describe_image_signing_status(
                repositoryName=repository_name, imageId={"imageDigest": digest}
            )
        return tuple(
            ImageSigningStatus(
                signing_profile_arn=str(status.get("signingProfileArn", "")),
                status=str(status.get("status", "")),
                failure_code=str(status.get("failureCode", "")),
                failure_reason=str(status.get("failureReason", "")),
            )
            for status in response.get("signingStatuses", [])
        )

    @requires("ecr:DescribeRepositoryCreationTemplates")
    def list_creation_templates(self) -> list[CreationTemplate]:
        with translated("DescribeRepositoryCreationTemplates"):
            pages = self._ecr.get_paginator("describe_repository_creation_templates").paginate(
                PaginationConfig={"PageSize": MAX_SETTINGS_PAGE}
            )
            return [_template(raw) for page in pages for raw in page.get("repositoryCreationTemplates", [])]

    # Creating a template with a lifecycle policy needs CreateRepository and PutLifecyclePolicy too (ECR's user guide,
    # "IAM permissions for creating repository creation templates"), and the first one creates ECR's service-linked
    # role AWSServiceRoleForECRTemplate.
    @requires(
        "ecr:CreateRepositoryCreationTemplate",
        "ecr:CreateRepository",
        "ecr:PutLifecyclePolicy",
        "iam:CreateServiceLinkedRole",
    )
    def create_creation_template(self, template: CreationTemplate) -> None:
        with translated("CreateRepositoryCreationTemplate", resource=f"template {template.prefix}"):
            self._ecr.create_repository_creation_template(**_template_request(template))

    @requires("ecr:UpdateRepositoryCreationTemplate", "ecr:CreateRepository", "ecr:PutLifecyclePolicy")
    def update_creation_template(self, template: CreationTemplate) -> None:
        with translated("UpdateRepositoryCreationTemplate", resource=f"template {template.prefix}"):
            self._ecr.update_repository_creation_template(**_template_request(template))

    @requires("ecr:ListPullTimeUpdateExclusions")
    def pull_time_update_exclusions(self) -> tuple[str, ...]:
        """The principals whose pulls leave lastRecordedPullTime alone (no paginator: nextToken by hand)."""
        exclusions: list[str] = []
        params: dict[str, Any] = {"maxResults": MAX_SETTINGS_PAGE}
        while True:
            with translated("ListPullTimeUpdateExclusions"):
                response = self._ecr.list_pull_time_update_exclusions(**params)
            exclusions.extend(response.get("pullTimeUpdateExclusions", []))
            if not response.get("nextToken"):
                return tuple(exclusions)
            params["nextToken"] = response["nextToken"]

    @requires("ecr:RegisterPullTimeUpdateExclusion")
    def register_pull_time_update_exclusion(self, principal_arn: str) -> None:
        """Idempotent: a principal registered meanwhile is what was asked for."""
        try:
            with translated("RegisterPullTimeUpdateExclusion"):
                self._ecr.register_pull_time_update_exclusion(principalArn=principal_arn)
        except AwsError as error:
            if error.code != "ExclusionAlreadyExistsException":
                raise

    @requires("ecr:GetRegistryPolicy")
    def get_registry_policy(self) -> RegistryPolicy | None:
        try:
            with translated("GetRegistryPolicy"):
                response = self._ecr.get_registry_policy()
        except AwsError as error:
            if error.code == "RegistryPolicyNotFoundException":
                return None
            raise
        return RegistryPolicy(registry_id=str(response.get("registryId", "")), text=str(response.get("policyText", "")))


def _repository(raw: dict[str, Any]) -> Repository:
    return Repository(
        name=raw["repositoryName"],
        arn=raw["repositoryArn"],
        tag_mutability=raw.get("imageTagMutability", "MUTABLE"),
        exclusion_filters=tuple(f["filter"] for f in raw.get("imageTagMutabilityExclusionFilters", []) or []),
        scan_on_push=bool(raw.get("imageScanningConfiguration", {}).get("scanOnPush", False)),
        uri=raw.get("repositoryUri", ""),
        encryption_type=(raw.get("encryptionConfiguration") or {}).get("encryptionType", "AES256"),
        kms_key=(raw.get("encryptionConfiguration") or {}).get("kmsKey", ""),
    )


def _template(raw: dict[str, Any]) -> CreationTemplate:
    encryption = raw.get("encryptionConfiguration") or {}
    return CreationTemplate(
        prefix=raw["prefix"],
        applied_for=tuple(raw.get("appliedFor", [])),
        tag_mutability=raw.get("imageTagMutability", "MUTABLE"),
        exclusion_filters=tuple(f["filter"] for f in raw.get("imageTagMutabilityExclusionFilters", []) or []),
        lifecycle_policy=raw.get("lifecyclePolicy", ""),
        encryption_type=encryption.get("encryptionType", ""),
        kms_key=encryption.get("kmsKey", ""),
        description=raw.get("description", ""),
    )


def _template_request(template: CreationTemplate) -> dict[str, Any]:
    """Create/UpdateRepositoryCreationTemplate's parameters: what the standard sets, nothing else."""
    request: dict[str, Any] = {
        "prefix": template.prefix,
        "description": template.description,
        "appliedFor": list(template.applied_for),
        "imageTagMutability": template.tag_mutability,
        "lifecyclePolicy": template.lifecycle_policy,
    }
    if template.exclusion_filters:
        request["imageTagMutabilityExclusionFilters"] = [
            {"filterType": "WILDCARD", "filter": pattern} for pattern in template.exclusion_filters
        ]
    if template.encryption_type:
        request["encryptionConfiguration"] = {"encryptionType": template.encryption_type}
        if template.kms_key:
            request["encryptionConfiguration"]["kmsKey"] = template.kms_key
    return request

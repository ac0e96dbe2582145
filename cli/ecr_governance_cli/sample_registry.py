"""The sample registry of the demo and of `ecr-governance emulator --seed`: several teams' repositories in every
state the standard distinguishes, and CI-style pushes, so every command and every file in events/ shows real work."""

from __future__ import annotations

import hashlib
import json
from typing import Any

SEED_CUSTOM_POLICY = {
    # The seed's original mistake, kept by a team: one rule listing four prefixes selects only images carrying
    # ALL of them. Enforcement keeps it (never overwrites a custom policy) and reports the warning.
    "rules": [
        {
            "rulePriority": 1,
            "selection": {
                "tagStatus": "tagged",
                "tagPrefixList": ["prod", "dev", "staging", "latest"],
                "countType": "imageCountMoreThan",
                "countNumber": 10,
            },
            "action": {"type": "expire"},
        }
    ]
}


def seed_registry(ecr: Any, standard_policy: dict[str, Any]) -> None:
    """Several teams' repositories in every state the standard distinguishes."""

    def create(name: str, mutability: str = "MUTABLE", scan_on_push: bool = False, **extra: Any) -> None:
        ecr.create_repository(
            repositoryName=name,
            imageTagMutability=mutability,
            imageScanningConfiguration={"scanOnPush": scan_on_push},
            **extra,
        )

    create("mlops/retail-api", "IMMUTABLE", True)  # as template.yaml declares it: compliant
    ecr.put_lifecycle_policy(repositoryName="mlops/retail-api", lifecyclePolicyText=json.dumps(standard_policy))
    create(
        "team-search/indexer",
        "IMMUTABLE_WITH_EXCLUSION",
        True,
        imageTagMutabilityExclusionFilters=[{"filterType": "WILDCARD", "filter": "sha256-*"}],
    )
    create(
        "team-search/crawler",
        "IMMUTABLE_WITH_EXCLUSION",
        imageTagMutabilityExclusionFilters=[{"filterType": "WILDCARD", "filter": "latest"}],
    )
    create(
        "team-web/frontend",
        "MUTABLE_WITH_EXCLUSION",
        True,
        imageTagMutabilityExclusionFilters=[{"filterType": "WILDCARD", "filter": "release-*"}],
    )
    create("team-data/etl")
    ecr.put_lifecycle_policy(repositoryName="team-data/etl", lifecyclePolicyText=json.dumps(SEED_CUSTOM_POLICY))
    create("sandbox/experiments", tags=[{"Key": "ecr-governance:exempt", "Value": "true"}])
    create("team-ml/feature-store")
    # Only the mlops team's repositories are scanned on push at registry level.
    ecr.put_registry_scanning_configuration(
        scanType="BASIC",
        rules=[
            {"scanFrequency": "SCAN_ON_PUSH", "repositoryFilters": [{"filter": "mlops/*", "filterType": "WILDCARD"}]}
        ],
    )


def image_manifest(seed: str) -> str:
    """A schema-2 manifest whose digests derive from `seed` (moto digests an image by its layers)."""

    def digest(kind: str) -> str:
        return "sha256:" + hashlib.sha256(f"{kind}{seed}".encode()).hexdigest()

    return json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {
                "mediaType": "application/vnd.docker.container.image.v1+json",
                "size": 1469,
                "digest": digest("config"),
            },
            "layers": [
                {
                    "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                    "size": 31_457_280,
                    "digest": digest("layer"),
                }
            ],
        }
    )


def push_images(ecr: Any) -> None:
    """CI-style pushes: 14 prod releases and 3 untagged builds to the ledger, a few dev images to the indexer."""
    for number in range(1, 15):
        ecr.put_image(
            repositoryName="team-payments/ledger",
            imageManifest=image_manifest(f"ledger-{number}"),
            imageTag=f"prod-{number}",
        )
    for number in range(3):
        ecr.put_image(repositoryName="team-payments/ledger", imageManifest=image_manifest(f"ledger-build-{number}"))
    for number in range(1, 5):
        ecr.put_image(
            repositoryName="team-search/indexer",
            imageManifest=image_manifest(f"indexer-{number}"),
            imageTag=f"dev-{number}",
        )


def seed_everything(ecr: Any, standard_policy: dict[str, Any], region: str) -> None:
    """The sample registry as the docs' examples and the events in events/ expect it (`emulator --seed`):
    team-payments/ledger exists (MUTABLE, as a user just created it), and every repository holds images with a
    history - pushed days ago, pulled, scanned (sample_images.py). `ecr` must be a client of an emulator running in
    this process."""
    from ecr_governance_cli.sample_images import push_sample_images

    seed_registry(ecr, standard_policy)
    ecr.create_repository(repositoryName="team-payments/ledger", imageTagMutability="MUTABLE")
    push_sample_images(ecr, region)

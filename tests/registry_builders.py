"""Helpers that build registries and load event files for the tests (importable: pytest pythonpath = tests)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parents[1]
EVENTS_DIR = PROJECT_ROOT / "events"
TEMPLATE = PROJECT_ROOT / "template.yaml"
REGION = "ap-southeast-1"


def create_repository(  # noqa: PLR0913, PLR0917 - a builder: one argument per repository setting, defaulted
    ecr: Any,
    name: str,
    mutability: str = "MUTABLE",
    scan_on_push: bool = False,
    exclusions: tuple[str, ...] = (),
    lifecycle_policy: dict[str, Any] | None = None,
    tags: dict[str, str] | None = None,
) -> None:
    params: dict[str, Any] = {
        "repositoryName": name,
        "imageTagMutability": mutability,
        "imageScanningConfiguration": {"scanOnPush": scan_on_push},
    }
    if exclusions:
        params["imageTagMutabilityExclusionFilters"] = [{"filterType": "WILDCARD", "filter": f} for f in exclusions]
    if tags:
        params["tags"] = [{"Key": k, "Value": v} for k, v in tags.items()]
    ecr.create_repository(**params)
    if lifecycle_policy is not None:
        ecr.put_lifecycle_policy(repositoryName=name, lifecyclePolicyText=json.dumps(lifecycle_policy))


def load_event(relative: str) -> dict[str, Any]:
    return json.loads((EVENTS_DIR / relative).read_text())


OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def push_image(  # noqa: PLR0917 - a builder: one argument per image property, defaulted
    ecr: Any, repository: str, name: str, tag: str | None = None, subject: str | None = None, layer_size: int = 32654
) -> str:
    """Push a distinct single-platform image and return its digest. moto derives the digest from the layer digests,
    so `name` makes it distinct; `subject` makes it an OCI 1.1 referrer (a signature, an SBOM) of that digest."""
    seed = f"{repository}/{name}"
    manifest: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "size": 7023,
            "digest": "sha256:" + hashlib.sha256(f"config/{seed}".encode()).hexdigest(),
        },
        "layers": [
            {
                "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                "size": layer_size,
                "digest": "sha256:" + hashlib.sha256(f"layer/{seed}".encode()).hexdigest(),
            }
        ],
    }
    if subject:
        manifest["subject"] = {"mediaType": OCI_MANIFEST, "digest": subject, "size": 1234}
    params: dict[str, Any] = {
        "repositoryName": repository,
        "imageManifest": json.dumps(manifest),
        "imageManifestMediaType": OCI_MANIFEST,
    }
    if tag:
        params["imageTag"] = tag
    return ecr.put_image(**params)["image"]["imageId"]["imageDigest"]


def push_index(ecr: Any, repository: str, children: list[str], tag: str | None = None) -> str:
    """Push an OCI image index over `children` (a multi-arch image) and return its digest (the manifest's sha256;
    moto would otherwise invent one)."""
    platforms = [("amd64", "linux"), ("arm64", "linux")]
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_INDEX,
            "manifests": [
                {
                    "mediaType": OCI_MANIFEST,
                    "digest": child,
                    "size": 1234,
                    "platform": {"architecture": platforms[i % 2][0], "os": platforms[i % 2][1]},
                }
                for i, child in enumerate(children)
            ],
        }
    )
    digest = "sha256:" + hashlib.sha256(manifest.encode()).hexdigest()
    params: dict[str, Any] = {
        "repositoryName": repository,
        "imageManifest": manifest,
        "imageManifestMediaType": OCI_INDEX,
        "imageDigest": digest,
    }
    if tag:
        params["imageTag"] = tag
    ecr.put_image(**params)
    return digest


def topic_with_sqs_subscriber(sns: Any, sqs: Any, topic_name: str, queue_name: str) -> tuple[str, str]:
    """An SNS topic with an SQS queue subscribed (what reads a notice back on the emulator): (topic ARN, queue URL)."""
    topic_arn = sns.create_topic(Name=topic_name)["TopicArn"]
    queue_url = sqs.create_queue(QueueName=queue_name)["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)
    return topic_arn, queue_url

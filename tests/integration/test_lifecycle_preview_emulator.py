"""`lifecycle preview --repository/--all-repositories` against the embedded emulator (moto server over real HTTP).

moto never evaluates lifecycle policies, so the emulator only supplies the images; the assertions are what the
offline evaluator must conclude from them. moto records push times in whole seconds, so the two prod images are
pushed more than a second apart to give them a real age order.
"""

from __future__ import annotations

import hashlib
import json
import time
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from ecr_governance.cli import main
from ecr_governance.emulator import Emulator

pytestmark = pytest.mark.integration
REGION = "ap-southeast-1"
POLICY = {
    "rules": [
        {
            "rulePriority": 1,
            "selection": {
                "tagStatus": "tagged",
                "tagPrefixList": ["prod"],
                "countType": "imageCountMoreThan",
                "countNumber": 1,
            },
            "action": {"type": "expire"},
        },
        {
            "rulePriority": 2,
            "selection": {
                "tagStatus": "untagged",
                "countType": "sinceImagePushed",
                "countUnit": "days",
                "countNumber": 1,
            },
            "action": {"type": "expire"},
        },
    ]
}


def push_image(ecr: Any, repository: str, name: str, tag: str | None = None) -> str:
    """Push a distinct image (moto derives the digest from the layer digests) and return its digest."""
    layer = "sha256:" + hashlib.sha256(f"{repository}/{name}".encode()).hexdigest()
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {
            "mediaType": "application/vnd.docker.container.image.v1+json",
            "size": 7023,
            "digest": "sha256:" + hashlib.sha256(f"config/{repository}/{name}".encode()).hexdigest(),
        },
        "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": 32654, "digest": layer}],
    }
    params: dict[str, Any] = {"repositoryName": repository, "imageManifest": json.dumps(manifest)}
    if tag:
        params["imageTag"] = tag
    return ecr.put_image(**params)["image"]["imageId"]["imageDigest"]


@pytest.fixture(autouse=True)
def _emulator_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")


@pytest.fixture(scope="module")
def registry(emulator: Emulator) -> Iterator[dict[str, Any]]:
    """Three repositories on a freshly reset emulator: web (prod releases and leftovers), api, and an empty one."""
    reset = urllib.request.Request(f"{emulator.endpoint_url}/moto-api/reset", method="POST")
    urllib.request.urlopen(reset, timeout=10).close()  # noqa: S310 - loopback emulator
    ecr = boto3.client(
        "ecr",
        region_name=REGION,
        endpoint_url=emulator.endpoint_url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    for name in ("web", "api", "empty"):
        ecr.create_repository(repositoryName=name)
    digests = {
        "web/prod-1": push_image(ecr, "web", "prod-1", "prod-1"),
        "web/build-1": push_image(ecr, "web", "build-1"),
        "web/build-2": push_image(ecr, "web", "build-2"),
        "api/build-1": push_image(ecr, "api", "build-1"),
        "api/latest": push_image(ecr, "api", "latest", "latest"),
    }
    time.sleep(1.1)  # a later push second than prod-1: prod-2 is the younger release
    digests["web/prod-2"] = push_image(ecr, "web", "prod-2", "prod-2")
    size_by_digest = {
        detail["imageDigest"]: detail["imageSizeInBytes"]
        for repository in ("web", "api")
        for detail in ecr.describe_images(repositoryName=repository)["imageDetails"]
    }
    yield {"endpoint": emulator.endpoint_url, "digests": digests, "sizes": size_by_digest}


def preview(capsys, registry: dict[str, Any], tmp_path, *source: str, output: str = "json") -> tuple[int, str, str]:
    policy_path = tmp_path / "policy.json"
    policy_path.write_text(json.dumps(POLICY))
    two_days_on = (datetime.now(UTC) + timedelta(days=2)).isoformat()
    code = main(
        [
            "--endpoint-url",
            registry["endpoint"],
            "--region",
            REGION,
            "lifecycle",
            "preview",
            "--policy",
            str(policy_path),
            *source,
            "--now",
            two_days_on,
            "--output",
            output,
        ]
    )
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_preview_one_repository_over_http(capsys, registry, tmp_path):
    code, out, err = preview(capsys, registry, tmp_path, "--repository", "web")
    assert code == 0, err
    document = json.loads(out)
    digests = registry["digests"]
    assert document["repositoryName"] == "web"
    assert {(r["imageDigest"], r["appliedRulePriority"]) for r in document["previewResults"]} == {
        (digests["web/prod-1"], 1),
        (digests["web/build-1"], 2),
        (digests["web/build-2"], 2),
    }
    assert document["summary"]["expiringImageTotalCount"] == 3
    assert document["summary"]["evaluatedImageTotalCount"] == 4


def test_preview_all_repositories_over_http(capsys, registry, tmp_path):
    code, out, err = preview(capsys, registry, tmp_path, "--all-repositories")
    assert code == 0, err
    document = json.loads(out)
    by_name = {entry["repositoryName"]: entry for entry in document["repositories"]}
    assert sorted(by_name) == ["api", "empty", "web"]
    assert (by_name["api"]["evaluatedImageCount"], by_name["api"]["expiringImageCount"]) == (2, 1)
    assert (by_name["empty"]["evaluatedImageCount"], by_name["empty"]["expiringImageCount"]) == (0, 0)
    assert (by_name["web"]["evaluatedImageCount"], by_name["web"]["expiringImageCount"]) == (4, 3)
    digests, sizes = registry["digests"], registry["sizes"]
    expiring = ["web/prod-1", "web/build-1", "web/build-2", "api/build-1"]
    assert document["totals"] == {
        "repositoryCount": 3,
        "affectedRepositoryCount": 2,
        "evaluatedImageCount": 6,
        "expiringImageCount": 4,
        "expiringBytes": sum(sizes[digests[key]] for key in expiring),
        "transitioningImageCount": 0,
        "transitioningBytes": 0,
    }


def test_preview_all_repositories_table_over_http(capsys, registry, tmp_path):
    code, out, _ = preview(capsys, registry, tmp_path, "--all-repositories", output="table")
    rows = [line.split()[:3] for line in out.splitlines()[3:7]]
    assert code == 0
    assert rows == [["api", "2", "1"], ["empty", "0", "0"], ["web", "4", "3"], ["TOTAL", "6", "4"]]
    assert out.splitlines()[-1] == "2 of 3 repositories affected"


def test_preview_of_a_missing_repository_over_http(capsys, registry, tmp_path):
    code, out, err = preview(capsys, registry, tmp_path, "--repository", "nope")
    assert code == 1 and out == ""
    assert err.strip() == "ecr-governance: error: repository not found: nope"

"""`lifecycle preview --repository/--all-repositories` against the embedded emulator (moto server over real HTTP).

moto never evaluates lifecycle policies, so the emulator only supplies the images; the assertions are what the
offline evaluator must conclude from them. moto records push times in whole seconds, so the two prod images are
pushed more than a second apart to give them a real age order.
"""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from ecr_governance_cli.emulator import Emulator
from ecr_governance_cli.main import main
from registry_builders import push_image, push_index

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


def test_preview_of_a_live_repository_keeps_the_children_of_a_tagged_multi_arch_image(capsys, ecr, tmp_path):
    """DescribeImages does not name an index's children; the preview reads the index (BatchGetImage) and keeps them,
    as ECR does while the index stays. Only the orphan untagged image expires."""
    ecr.create_repository(repositoryName="team/multiarch")
    amd64 = push_image(ecr, "team/multiarch", "amd64")
    arm64 = push_image(ecr, "team/multiarch", "arm64")
    index = push_index(ecr, "team/multiarch", [amd64, arm64], tag="v1")
    orphan = push_image(ecr, "team/multiarch", "orphan")
    untagged_week = {"rules": [POLICY["rules"][1]]}
    policy = tmp_path / "untagged.json"
    policy.write_text(json.dumps(untagged_week))
    later = (datetime.now(UTC) + timedelta(days=30)).isoformat()
    code = main(
        [
            "lifecycle",
            "preview",
            "--policy",
            str(policy),
            "--repository",
            "team/multiarch",
            "--now",
            later,
            "--output",
            "json",
        ]
    )
    document = json.loads(capsys.readouterr().out)
    assert code == 0
    assert document["summary"]["evaluatedImageTotalCount"] == 4
    assert [result["imageDigest"] for result in document["previewResults"]] == [orphan]
    assert index not in {result["imageDigest"] for result in document["previewResults"]}

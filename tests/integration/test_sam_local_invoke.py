"""The real `sam local invoke`, as docs/cli.md tells a user to run it: `make sam-local` (scripts/sam_local.sh) prepares
podman's socket, the stand-in Lambda image and the x86_64 build, then each function runs one sample event in a
container against the seeded emulator. Skipped, with the reason, only where podman cannot run containers."""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from local_ports import free_port

pytestmark = [pytest.mark.integration, pytest.mark.slow]
PROJECT_ROOT = Path(__file__).resolve().parents[2]
SCRIPT = PROJECT_ROOT / "scripts" / "sam_local.sh"
STATE = PROJECT_ROOT / ".local" / "sam-local"
VENV_BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def sam_local() -> Iterator[dict[str, str]]:
    check = subprocess.run([str(SCRIPT), "check"], capture_output=True, text=True, timeout=120)
    if check.returncode != 0:
        pytest.skip(f"podman cannot run containers here: {check.stderr.strip()}")
    socket_was_up = (STATE / "podman.sock").exists()
    port = free_port()
    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith("AWS_")},
        "PATH": f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}",
        "ECR_GOVERNANCE_LOCAL_ENDPOINT": f"http://127.0.0.1:{port}",
        "AWS_CONFIG_FILE": "/dev/null",
        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "SAM_CLI_TELEMETRY": "0",
    }
    prepared = subprocess.run([str(SCRIPT)], env=environment, capture_output=True, text=True, timeout=600)
    assert prepared.returncode == 0, prepared.stderr
    docker_host = next(line for line in prepared.stdout.splitlines() if line.startswith("export DOCKER_HOST="))
    environment["DOCKER_HOST"] = docker_host.split("=", 1)[1]
    emulator = subprocess.Popen(
        [str(VENV_BIN / "ecr-governance"), "emulator", "--seed", "--host", "0.0.0.0", "--port", str(port)],
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert "listening" in emulator.stdout.readline()
        yield environment
    finally:
        emulator.terminate()
        emulator.wait(timeout=30)
        if not socket_was_up:
            subprocess.run([str(SCRIPT), "stop"], timeout=60)


def sam_invoke(environment: dict[str, str], function: str, event: str, *extra: str) -> tuple[dict, str]:
    """The response sam prints on stdout (its last line), and the function's logs."""
    result = subprocess.run(
        [str(VENV_BIN / "sam"), "local", "invoke", function, "-e", f"events/{event}"]
        + ["--config-file", str(STATE / "samconfig.toml"), *extra],
        cwd=PROJECT_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1]), result.stderr


def log_lines(logs: str, message: str) -> list[dict]:
    """The function's JSON log lines with this message. sam's log stream is not line-exact: the runtime's `START
    RequestId: ...` runs into the first line, and a long line may come in pieces; so the records are decoded from
    the stream with its line breaks taken out."""
    decoder, stream, lines = json.JSONDecoder(), logs.replace("\n", ""), []
    for start in (match.start() for match in re.finditer(r'\{"level"', stream)):
        with contextlib.suppress(json.JSONDecodeError):
            lines.append(decoder.raw_decode(stream, start)[0])
    return [line for line in lines if line.get("message") == message]


def test_the_enforcing_function_reconciles_the_seeded_registry_as_its_own_account(sam_local):
    response, logs = sam_invoke(sam_local, "EnforceRepositoryFunction", "enforce/scheduled-reconcile.json")
    # Not refused for SAM's placeholder account 012345678912: the account comes from the credentials.
    assert response["status"] == "done", response
    assert response["summary"]["repositories"] == 8 and response["summary"]["failed"] == 0
    [where] = log_lines(
        logs, "under SAM local: account from the credentials, region from AWS_REGION (not SAM's placeholder ARN)"
    )
    assert (where["account"], where["region"]) == ("123456789012", "ap-southeast-1")


def test_the_findings_function_alerts_on_the_seeded_scan(sam_local):
    response, _ = sam_invoke(sam_local, "ScanFindingsFunction", "findings/basic-scan-complete.json")
    assert (
        response["status"] == "alerted"
        and response["findingsTotal"] == 16
        and response["highestSeverity"] == "CRITICAL"
    )


def test_the_sweep_planner_and_worker_find_the_seeded_repositories(sam_local):
    planned, _ = sam_invoke(sam_local, "SweepPlannerFunction", "sweep/schedule.json")
    assert len(planned["wouldSend"]) == 7 and list(planned["exempt"]) == ["sandbox/experiments"]
    swept, logs = sam_invoke(sam_local, "SweepWorkerFunction", "sweep/repository-messages.json")
    assert swept == {"batchItemFailures": []}
    reports = {line["repository"]: line for line in log_lines(logs, "sweep report")}
    assert reports["team-ml/feature-store"]["would_delete"] > 0, reports


def test_an_unresolved_reference_fails_with_one_line_naming_the_env_vars_file(sam_local, tmp_path):
    endpoint_only = tmp_path / "env.json"
    endpoint_only.write_text(json.dumps({"Parameters": json.loads((STATE / "env.json").read_text())["Parameters"]}))
    response, _ = sam_invoke(
        sam_local, "ScanFindingsFunction", "findings/basic-scan-complete.json", "--env-vars", str(endpoint_only)
    )
    assert response["errorType"] == "SettingsError"
    assert response["errorMessage"].startswith(
        "ALERTS_TOPIC_ARN='AlertsTopic', ALERT_LEDGER_TABLE='AlertLedgerTable', "
        "IDEMPOTENCY_TABLE_NAME='IdempotencyTable'"
    )
    assert "--env-vars .local/sam-local/env.json" in response["errorMessage"]

"""A new user's first session, command by command: the seeded emulator in one process, the CLI in others - every
sample event does real work on it, and the habits hold (the region --local uses, debug output, ERROR rows)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from local_ports import free_port

pytestmark = pytest.mark.integration
PROJECT_ROOT = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-m", "ecr_governance_cli"]
EVENTS = PROJECT_ROOT / "events"


@pytest.fixture(scope="module")
def seeded_emulator() -> Iterator[dict[str, str]]:
    port = free_port()
    environment = {
        **os.environ,
        "AWS_CONFIG_FILE": "/dev/null",
        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
        "ECR_GOVERNANCE_LOCAL_ENDPOINT": f"http://127.0.0.1:{port}",
    }
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION"):
        environment.pop(name, None)
    process = subprocess.Popen(
        [*CLI, "emulator", "--seed"],  # on the port --local looks at
        cwd=PROJECT_ROOT,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = process.stdout.readline()
        assert "listening" in line and "sample registry in ap-southeast-1" in line, line + process.stderr.read()
        yield environment
    finally:
        process.terminate()
        process.wait(timeout=30)


def run(environment: dict[str, str], *argv: str) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *argv], cwd=PROJECT_ROOT, env=environment, capture_output=True, text=True, timeout=120)


def invoke(environment: dict[str, str], function: str, event: Path) -> tuple[int, dict, list[dict]]:
    result = run(environment, "--local", "invoke", function, "-e", str(event))
    logs = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    return result.returncode, json.loads(result.stdout), logs


def test_the_seeded_emulator_gives_local_audit_real_repositories_and_says_which_region(seeded_emulator):
    result = run(seeded_emulator, "audit", "--local", "--output", "json")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["summary"]["repositories"] == 8 and document["summary"]["nonCompliantAfter"] == 7
    names = [row["repositoryName"] for row in document["repositories"]]
    assert names == sorted(names)
    assert result.stderr.startswith("ecr-governance: note: --local: the emulator at http://127.0.0.1:")
    assert "region ap-southeast-1 (the emulator's sample registry" in result.stderr


def test_another_region_is_used_when_asked_and_the_note_says_the_registry_is_elsewhere(seeded_emulator):
    result = run({**seeded_emulator, "AWS_REGION": "us-east-1"}, "--local", "--region", "eu-west-1", "audit")
    assert result.returncode == 0 and "0 repositories" in result.stdout
    assert "region eu-west-1 (from --region; the sample registry is in ap-southeast-1)" in result.stderr
    assert "AWS_REGION=us-east-1" in result.stderr and "not used" in result.stderr


@pytest.mark.parametrize("event", sorted((EVENTS / "enforce").glob("*.json")), ids=lambda path: path.name)
def test_every_enforce_event_names_a_seeded_repository(seeded_emulator, event):
    code, answer, _ = invoke(seeded_emulator, "EnforceRepositoryFunction", event)
    assert code == 0 and answer["status"] == "done", answer  # no env file: even own-remediation is handled
    assert answer["summary"]["repositoryGone"] == 0 and answer["summary"]["failed"] == 0


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        ("basic-scan-complete.json", {"status": "alerted", "findingsTotal": 16, "findingsAlerted": 7}),
        ("basic-scan-complete-untagged.json", {"status": "alerted", "findingsTotal": 4, "findingsAlerted": 1}),
        ("inspector2-scan-complete.json", {"status": "alerted", "findingsTotal": 14, "findingsAlerted": 5}),
        ("basic-scan-failed.json", {"status": "not_scanned", "findingsTotal": 0}),  # one not-scanned notice
    ],
)
def test_every_findings_event_finds_its_scanned_image(seeded_emulator, event, expected):
    code, answer, _ = invoke(seeded_emulator, "ScanFindingsFunction", EVENTS / "findings" / event)
    assert code == 0 and {key: answer.get(key) for key in expected} == expected, answer


def test_the_sweep_events_plan_and_sweep_the_seeded_repositories(seeded_emulator):
    code, planned, _ = invoke(seeded_emulator, "SweepPlannerFunction", EVENTS / "sweep" / "schedule.json")
    assert code == 0 and len(planned["wouldSend"]) == 7 and list(planned["exempt"]) == ["sandbox/experiments"]
    for event, repositories in (("repository-messages.json", 2), ("continuation-part.json", 1)):
        code, answer, logs = invoke(seeded_emulator, "SweepWorkerFunction", EVENTS / "sweep" / event)
        reports = [line for line in logs if line.get("message") == "sweep report"]
        assert code == 0 and answer == {"batchItemFailures": []} and len(reports) == repositories
        assert all(report["would_delete"] > 0 for report in reports), reports  # old untagged images to go
    code, answer, logs = invoke(seeded_emulator, "SweepWorkerFunction", EVENTS / "sweep" / "deadline.json")
    assert code == 0 and any(line.get("message") == "deadline message without a runs table: dropped" for line in logs)


def test_debug_logs_the_aws_wire_to_stderr_only(seeded_emulator):
    result = run(seeded_emulator, "--local", "--debug", "audit", "--repository", "mlops/retail-api", "--output", "json")
    assert result.returncode == 0
    assert "botocore" in result.stderr and "DescribeRepositories" in result.stderr
    json.loads(result.stdout)  # stdout stays the report

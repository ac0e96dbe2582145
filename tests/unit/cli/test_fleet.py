"""The CLI across accounts and regions, without AWS: its options (before or after the command, checked before any
call), the rows an account-region's outcome makes, the JSON document, the table and the exit code."""

from __future__ import annotations

import re
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from ecr_governance.errors import AccessDenied, CredentialsMissing, MemberUnreachable
from ecr_governance.findings.normalize import ScannedImage, Severity
from ecr_governance.findings.policy import ScanPosture
from ecr_governance.organization.membership import Account
from ecr_governance.registry_api import RegistryApi
from ecr_governance_cli import fleet
from ecr_governance_cli.commands.findings import summary_tally
from ecr_governance_cli.exits import Exit
from ecr_governance_cli.fleet import (
    DEFAULT_ROLE_NAME,
    FleetOptions,
    FleetView,
    MemberTarget,
    Row,
    Status,
    Tally,
    TargetResult,
    fleet_document,
    fleet_exit,
    fleet_table,
    outcome,
    work,
)
from ecr_governance_cli.main import build_parser, main
from ecr_governance_cli.render import findings_summary_json
from local_ports import free_port

PROJECT_ROOT = Path(__file__).resolve().parents[3]
TEAM_A = Account("111111111111", "team-a")
TEAM_B = Account("222222222222", "team-b")
COLUMNS = (("repositories", "REPOSITORIES"), ("nonCompliantAfter", "NON-COMPLIANT"))


@pytest.fixture(autouse=True)
def _nothing_answers(monkeypatch):
    """Any AWS call would fail at once: a usage error must be found before one is made."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")


def usage_error(capsys, *argv: str) -> str:
    code = main(list(argv))
    err = capsys.readouterr().err
    assert code == Exit.USAGE, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    return err


# ---- options ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["--accounts", "12", "audit"], "--accounts: '12': expected 12-digit account ids"),
        (["audit", "--accounts", "111111111111,11111111111a"], "'11111111111a': expected 12-digit account ids"),
        (["audit", "--accounts", ","], "--accounts: ',': expected 12-digit account ids"),
        (["audit", "--regions", "EU-west-1"], "--regions: 'EU-west-1': expected region names"),
        (["audit", "--organization", "--ou", "ou-x"], "--ou: 'ou-x': expected OU ids (ou-...) or root ids"),
        (["audit", "--accounts", "111111111111", "--role-name", "a role"], "--role-name: 'a role' is not an IAM"),
        (
            ["audit", "--organization", "--workers", "0"],
            "--workers: '0' is not a number of account-regions from 1 to 64",
        ),
        (["audit", "--organization", "--workers", "65"], "--workers: '65'"),
        (["audit", "--organization", "--workers", "eight"], "--workers: 'eight'"),
    ],
)
def test_a_bad_value_is_a_usage_error_naming_its_option(argv, named, capsys):
    assert named in usage_error(capsys, *argv)


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["--accounts", "111111111111", "--organization", "audit"], "--accounts and --organization: choose one"),
        (["audit", "--ou", "ou-ab12-cdef5678"], "--ou chooses among the organization's accounts: add --organization"),
        (["--accounts", "111111111111", "audit", "--ou", "r-ab12"], "--ou chooses among"),
        (["audit", "--role-name", "auditor"], "--role-name goes with --accounts or --organization"),
        (["--regions", "eu-west-1", "sweep", "--all-repositories", "--workers", "4"], "--workers goes with"),
        (["audit", "--role-name", "auditor", "--workers", "2"], "--role-name and --workers go with"),
    ],
)
def test_options_that_mean_nothing_together_are_a_usage_error(argv, named, capsys):
    assert named in usage_error(capsys, *argv)


@pytest.mark.parametrize(
    ("argv", "refusal"),
    [
        (
            ["--accounts", "111111111111", "lifecycle", "validate", "examples/lifecycle/corrected-policy.json"],
            "--accounts: `lifecycle validate` runs in the configured account and region only",
        ),
        (
            ["findings", "show", "--repository", "team/app", "--tag", "v1", "--organization"],
            "--organization: `findings show` runs in the configured account and region only",
        ),
        (
            ["findings", "redrive", "--queue-url", "https://sqs.eu-west-1.amazonaws.com/1/q", "--regions", "eu-west-1"],
            "--regions: `findings redrive` runs in",
        ),
        (["invoke", "EnforceRepositoryFunction", "--accounts", "111111111111"], "--accounts: `invoke` runs in"),
    ],
)
def test_a_command_that_runs_in_one_account_refuses_the_fleet_options_naming_itself(argv, refusal, capsys):
    err = usage_error(capsys, *argv)
    assert refusal in err
    assert err.rstrip().endswith("(across accounts and regions: audit, enforce, sweep, findings summary)")


def fleet_options(*argv: str) -> FleetOptions:
    return FleetOptions.of(build_parser().parse_args(list(argv)))


def test_the_options_go_before_or_after_the_command_as_the_other_global_options():
    wanted = FleetOptions(
        accounts=("111111111111", "222222222222"),
        role_name="auditor",
        regions=("eu-west-1", "us-east-1"),
        workers=3,
    )
    options = ["--accounts", "222222222222,111111111111", "--role-name", "auditor", "--regions", "eu-west-1,us-east-1"]
    assert fleet_options(*options, "--workers", "3", "audit") == wanted
    assert fleet_options("audit", *options, "--workers", "3") == wanted
    assert fleet_options(*options[:2], "findings", "summary", *options[2:], "--workers", "3") == wanted
    organization = fleet_options("--organization", "sweep", "--all-repositories", "--ou", "ou-ab12-cdef5678,r-ab12")
    assert organization == FleetOptions(organization=True, units=("ou-ab12-cdef5678", "r-ab12"))
    assert organization.requested and not fleet_options("audit").requested
    assert fleet_options("audit", "--regions", "eu-west-1,eu-west-1").regions == ("eu-west-1",)


def test_the_default_role_is_the_one_the_member_template_creates():
    template = (PROJECT_ROOT / "org" / "member.yaml").read_text()
    default = re.search(r"\n  MemberRoleName:\n(?:    .*\n)*?    Default: (\S+)\n", template)
    assert default is not None and default.group(1) == DEFAULT_ROLE_NAME
    assert fleet_options("audit", "--organization").role_name == DEFAULT_ROLE_NAME


# ---- one account-region -----------------------------------------------------------------------------------------
def target(account: Account = TEAM_A, region: str = "eu-west-1") -> MemberTarget:
    return MemberTarget(account, region, RegistryApi.AWS, lambda service, account_id, where: (service, account_id))


def view_of(one: Any) -> FleetView:
    def tally(document: dict[str, Any]) -> Tally:
        summary = document["summary"]
        return Tally(dict(summary), violations=summary["nonCompliantAfter"] > 0, failure=document.get("failure", ""))

    return FleetView(one=one, tally=tally, columns=COLUMNS)


def result(non_compliant: int = 0, code: int = Exit.OK, **extra: Any) -> TargetResult:
    document = {"summary": {"repositories": 3, "nonCompliantAfter": non_compliant}, **extra}
    return TargetResult(document, lambda: "its table", code, notes=("a note",))


def test_a_member_target_asks_for_that_accounts_client_in_that_region():
    asked = []
    member = MemberTarget(TEAM_B, "us-east-1", RegistryApi.CORE, lambda *where: asked.append(where) or "client")
    assert member.client("ecr") == "client" and asked == [("ecr", "222222222222", "us-east-1")]


@pytest.mark.parametrize(
    ("answer", "status", "code", "reason"),
    [
        (result(), Status.OK, Exit.OK, ""),
        (result(non_compliant=2), Status.VIOLATIONS, Exit.OK, ""),  # found, and the exit code is the command's own
        (result(non_compliant=2, code=Exit.VIOLATIONS), Status.VIOLATIONS, Exit.VIOLATIONS, ""),
        (result(code=Exit.ERROR, failure="team/x: access denied"), Status.ERROR, Exit.ERROR, "team/x: access denied"),
        (result(code=Exit.ERROR), Status.ERROR, Exit.ERROR, "failed (its result in --output json says where)"),
    ],
)
def test_an_account_regions_result_makes_its_row(answer, status, code, reason):
    row = outcome(view_of(lambda args, member: answer), None, target())
    assert (row.status, row.code, row.reason) == (status, code, reason)
    assert row.counts == answer.document["summary"] and row.document is answer.document and row.notes == ("a note",)


def test_a_role_that_cannot_be_assumed_is_not_onboarded_and_any_other_failure_an_error():
    def unreachable(args, member):
        raise MemberUnreachable("cannot assume arn:aws:iam::111111111111:role/x: AccessDenied", code="AccessDenied")

    def denied(args, member):
        raise AccessDenied("ecr:DescribeRepositories denied", code="AccessDeniedException")

    row = outcome(view_of(unreachable), None, target())
    assert (row.status, row.code, row.counts, row.document) == (Status.NOT_ONBOARDED, Exit.ERROR, None, None)
    assert row.reason.endswith("role/x: AccessDenied")
    row = outcome(view_of(denied), None, target())
    assert (row.status, row.code, row.reason) == (Status.ERROR, Exit.ERROR, "ecr:DescribeRepositories denied")


def test_what_would_fail_everywhere_ends_the_run():
    def no_credentials(args, member):
        raise CredentialsMissing("no AWS credentials found")

    with pytest.raises(CredentialsMissing):
        outcome(view_of(no_credentials), None, target())


def test_account_regions_run_side_by_side_at_most_workers_at_once_and_keep_their_order():
    running, most, lock = [0], [0], threading.Lock()

    def one(member: MemberTarget) -> Row:
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        time.sleep(0.05)
        with lock:
            running[0] -= 1
        return Row(member.account, member.region, Status.OK, Exit.OK)

    targets = [target(Account(f"11111111111{n}"), region) for n in range(5) for region in ("eu-west-1", "us-east-1")]
    rows = work(targets, one, workers=3)
    assert most[0] == 3
    assert [(row.account, row.region) for row in rows] == [(t.account, t.region) for t in targets]


def test_an_error_that_ends_the_run_leaves_the_rest_unstarted():
    started = []

    def one(member: MemberTarget) -> Row:
        started.append(member.account.account_id)
        raise CredentialsMissing("no AWS credentials found")

    with pytest.raises(CredentialsMissing):
        work([target(Account(f"11111111111{n}")) for n in range(6)], one, workers=1)
    assert started == ["111111111110"]


# ---- many: the document, the table, the exit code ---------------------------------------------------------------
def rows() -> list[Row]:
    return [
        Row(TEAM_A, "eu-west-1", Status.OK, Exit.OK, {"repositories": 3, "nonCompliantAfter": 0}, {"doc": 1}),
        Row(TEAM_A, "us-east-1", Status.VIOLATIONS, Exit.OK, {"repositories": 2, "nonCompliantAfter": 1}, {"doc": 2}),
        Row(TEAM_B, "eu-west-1", Status.NOT_ONBOARDED, Exit.ERROR, reason="cannot assume: AccessDenied"),
        Row(TEAM_B, "us-east-1", Status.NOT_ONBOARDED, Exit.ERROR, reason="cannot assume: AccessDenied"),
    ]


def test_the_document_has_each_account_region_each_accounts_totals_and_the_totals():
    document = fleet_document(rows(), [key for key, _ in COLUMNS])
    assert document["targets"][1] == {
        "accountId": "111111111111",
        "accountName": "team-a",
        "region": "us-east-1",
        "status": "VIOLATIONS",
        "error": None,
        "summary": {"repositories": 2, "nonCompliantAfter": 1},
        "result": {"doc": 2},
    }
    assert document["targets"][2]["error"] == {"message": "cannot assume: AccessDenied"}
    assert document["targets"][2]["summary"] is None and document["targets"][2]["result"] is None
    statuses = {"targetsOk": 1, "targetsViolations": 1, "targetsError": 0, "targetsNotOnboarded": 0}
    assert document["accounts"] == [
        {
            "accountId": "111111111111",
            "accountName": "team-a",
            "totals": {"repositories": 5, "nonCompliantAfter": 1, "targets": 2, **statuses},
        },
        {
            "accountId": "222222222222",
            "accountName": "team-b",
            "totals": {"repositories": 0, "nonCompliantAfter": 0, "targets": 2, **dict.fromkeys(statuses, 0)}
            | {"targetsNotOnboarded": 2},
        },
    ]
    assert document["totals"] == {
        "repositories": 5,
        "nonCompliantAfter": 1,
        "targets": 4,
        "targetsOk": 1,
        "targetsViolations": 1,
        "targetsError": 0,
        "targetsNotOnboarded": 2,
    }


def test_the_table_has_a_row_per_account_region_a_total_and_why_each_failed_row_failed():
    assert fleet_table(rows(), COLUMNS, "closing words").splitlines() == [
        "ACCOUNT       NAME    REGION     REPOSITORIES  NON-COMPLIANT  STATUS",
        "------------  ------  ---------  ------------  -------------  -------------",
        "111111111111  team-a  eu-west-1             3              0  OK",
        "111111111111  team-a  us-east-1             2              1  VIOLATIONS",
        "222222222222  team-b  eu-west-1             -              -  NOT_ONBOARDED",
        "222222222222  team-b  us-east-1             -              -  NOT_ONBOARDED",
        "TOTAL                                       5              1",
        "222222222222 eu-west-1: NOT_ONBOARDED: cannot assume: AccessDenied",
        "222222222222 us-east-1: NOT_ONBOARDED: cannot assume: AccessDenied",
        "4 account-regions in 2 accounts: 1 OK, 1 VIOLATIONS, 0 ERROR, 2 NOT_ONBOARDED",
        "closing words",
    ]


def test_text_from_outside_reaches_the_terminal_as_plain_text():
    name = "team\x1b[2J\x1b]8;;https://evil.example\x07click\u202e"
    row = Row(Account("333333333333", name), "eu-west-1", Status.ERROR, Exit.ERROR, reason="denied\nFAKE ROW\x1b[31m")
    table = fleet_table([row], COLUMNS)
    assert "\x1b" not in table and "\x07" not in table and "\u202e" not in table
    assert "https://" not in table and "https[:]//evil.example" in table
    assert "333333333333 eu-west-1: ERROR: denied FAKE ROW [31m" in table.splitlines()
    assert len(table.splitlines()) == 6  # header, rule, the row, TOTAL, its reason, the count: no forged line


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        ([(Status.OK, Exit.OK), (Status.VIOLATIONS, Exit.OK)], Exit.OK),
        ([(Status.OK, Exit.OK), (Status.VIOLATIONS, Exit.VIOLATIONS)], Exit.VIOLATIONS),
        ([(Status.VIOLATIONS, Exit.VIOLATIONS), (Status.ERROR, Exit.ERROR)], Exit.ERROR),
        ([(Status.OK, Exit.OK), (Status.NOT_ONBOARDED, Exit.ERROR)], Exit.ERROR),
        ([], Exit.OK),
    ],
)
def test_the_exit_code_is_the_worst_of_the_account_regions(statuses, expected):
    assert fleet_exit([Row(TEAM_A, "eu-west-1", status, code) for status, code in statuses]) == expected


def test_a_findings_summary_row_counts_as_the_single_account_summary_does():
    image = ScannedImage("team/app", "sha256:" + "a" * 64, ("v1",))
    postures = [
        ScanPosture("team/app", image, "2026-01-01T00:00:00Z", "COMPLETE", {Severity.CRITICAL: 1, Severity.LOW: 4}),
        ScanPosture("team/app", ScannedImage("team/app", "sha256:" + "b" * 64, ("v2",)), "", "NOT_SCANNED"),
        ScanPosture("team/gone", None, scan_status="ERROR", detail="access denied"),
    ]
    tally = summary_tally(findings_summary_json(postures, Severity.HIGH))
    assert tally.counts["repositories"] == 2 and tally.counts["images"] == 2
    assert tally.counts["imagesAtOrAboveThreshold"] == 1 and tally.counts["atOrAboveThreshold"] == 1
    assert (tally.counts["critical"], tally.counts["low"], tally.counts["high"]) == (1, 4, 0)
    assert tally.counts["notScanned"] == 1 and tally.counts["errors"] == 1
    assert tally.violations and tally.failure == "team/gone: access denied"


def test_exactly_the_commands_that_run_across_accounts_give_their_fleet_view():
    parser = build_parser()
    for argv, runs in (
        (["audit"], True),
        (["enforce"], True),
        (["sweep", "--all-repositories"], True),
        (["findings", "summary"], True),
        (["findings", "show", "--repository", "team/app", "--tag", "v1"], False),
        (["lifecycle", "validate", "x.json"], False),
    ):
        args = parser.parse_args(argv)
        assert isinstance(getattr(args, "fleet_view", None), fleet.FleetView) is runs, argv

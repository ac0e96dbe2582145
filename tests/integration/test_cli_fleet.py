"""The CLI across accounts and regions on the emulator, as c7n-org runs: an AWS Organization of the caller's own
(management) account and four members in OUs (teams, and teams/payments nested in it) - one member whose governance
role cannot be assumed, one closed - in two regions. The emulator keeps each account's registries apart and lets
STS assume a role in any account. Every command line goes to the emulator through --endpoint-url alone (no
AWS_ENDPOINT_URL), the way a user points the CLI at one, so the member clients must follow it too."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from ecr_governance_cli.exits import Exit
from ecr_governance_cli.main import main
from organization_builders import ROLE, member_client, refuse_roles
from registry_builders import create_repository, push_image

pytestmark = pytest.mark.integration
REGIONS = ("ap-southeast-1", "eu-west-1")
OWN = "123456789012"  # the emulator's default account: the organization's management account, the caller
# Repositories per account-region: each account a different number, so per-account totals tell them apart.
REPOSITORIES = {
    "own": ("platform/base",),
    "team-0": ("app/api", "app/web"),
    "team-1": ("pay/api", "pay/web", "pay/job"),
}


class Emulated:
    def __init__(self, endpoint: str):
        self.endpoint = endpoint

    def client(self, service: str, account: str, region: str = REGIONS[0]) -> Any:
        if account == OWN:
            return boto3.client(service, region_name=region, endpoint_url=self.endpoint)
        return member_client(service, account, region, self.endpoint)

    def mutability(self, account: str, region: str, name: str) -> str:
        ecr = self.client("ecr", account, region)
        return ecr.describe_repositories(repositoryNames=[name])["repositories"][0]["imageTagMutability"]


@pytest.fixture
def organization(emulator_endpoint, monkeypatch) -> dict[str, Any]:
    emulated = Emulated(emulator_endpoint)
    organizations = emulated.client("organizations", OWN)
    organizations.create_organization(FeatureSet="ALL")
    root = organizations.list_roots()["Roots"][0]["Id"]
    teams = organizations.create_organizational_unit(ParentId=root, Name="teams")["OrganizationalUnit"]["Id"]
    payments = organizations.create_organizational_unit(ParentId=teams, Name="payments")["OrganizationalUnit"]["Id"]
    sandbox = organizations.create_organizational_unit(ParentId=root, Name="sandbox")["OrganizationalUnit"]["Id"]
    ids = {"own": OWN}
    for name, parent in (("team-0", teams), ("team-1", payments), ("team-denied", teams), ("team-closed", teams)):
        created = organizations.create_account(Email=f"{name}@example.com", AccountName=name)
        ids[name] = created["CreateAccountStatus"]["AccountId"]
        organizations.move_account(AccountId=ids[name], SourceParentId=root, DestinationParentId=parent)
    organizations.close_account(AccountId=ids["team-closed"])  # SUSPENDED: never worked on
    for name, repositories in {**REPOSITORIES, "team-denied": ("app/api",), "team-closed": ("app/api",)}.items():
        for region in REGIONS:
            for repository in repositories:
                create_repository(emulated.client("ecr", ids[name], region), repository)  # MUTABLE: a violation
    denied = ids["team-denied"]  # its governance role is not deployed yet
    # The caller's own account is worked with the caller's credentials: a role there is never assumed.
    refuse_roles(monkeypatch, [denied, OWN])
    monkeypatch.delenv("AWS_ENDPOINT_URL")  # the command lines name the emulator themselves
    return {"ids": ids, "teams": teams, "sandbox": sandbox, "emulated": emulated}


def cli(capsys, organization: dict[str, Any], *argv: str) -> tuple[int, Any, str]:
    """Run the console script's main() in-process; the JSON document when --output json, else the text."""
    code = main(["--endpoint-url", organization["emulated"].endpoint, *argv])
    captured = capsys.readouterr()
    out = json.loads(captured.out) if "json" in argv else captured.out
    return code, out, captured.err


def by_place(document: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(target["accountId"], target["region"]): target for target in document["targets"]}


def test_enforce_across_the_organization_remediates_each_reachable_account_region_and_names_the_others(
    organization, capsys, monkeypatch
):
    monkeypatch.setenv("GOVERNANCE_MODE", "enforce")
    ids, emulated = organization["ids"], organization["emulated"]
    code, document, _ = cli(
        capsys, organization, "--organization", "--regions", ",".join(REGIONS), "enforce", "--output", "json"
    )
    assert code == Exit.ERROR  # an account not onboarded is an error; the others still ran
    targets = by_place(document)
    assert set(targets) == {
        (ids[name], region) for name in ("own", "team-0", "team-1", "team-denied") for region in REGIONS
    }
    for name, repositories in REPOSITORIES.items():
        for region in REGIONS:
            target = targets[(ids[name], region)]
            assert target["status"] == "OK", target
            assert target["summary"]["repositories"] == len(repositories)
            assert target["summary"]["remediated"] >= len(repositories) and target["summary"]["nonCompliantAfter"] == 0
            assert target["result"]["summary"] == target["summary"]  # the account-region's whole document
            for repository in repositories:
                assert emulated.mutability(ids[name], region, repository) == "IMMUTABLE", (name, region, repository)
    for region in REGIONS:
        denied = targets[(ids["team-denied"], region)]
        assert denied["status"] == "NOT_ONBOARDED" and denied["result"] is None
        assert denied["error"]["message"].endswith(f"{ids['team-denied']}:role/{ROLE}: AccessDenied")
        assert emulated.mutability(ids["team-denied"], region, "app/api") == "MUTABLE"  # reported, not reached
    accounts = {account["accountId"]: account for account in document["accounts"]}
    assert [accounts[ids[name]]["accountName"] for name in ("team-0", "team-1", "team-denied")] == [
        "team-0",
        "team-1",
        "team-denied",
    ]  # from Organizations
    for name, repositories in REPOSITORIES.items():
        assert accounts[ids[name]]["totals"]["repositories"] == 2 * len(repositories)
        assert accounts[ids[name]]["totals"]["targetsOk"] == 2
    assert accounts[ids["team-denied"]]["totals"]["targetsNotOnboarded"] == 2
    totals = document["totals"]
    assert totals["repositories"] == 2 * 6 and totals["nonCompliantAfter"] == 0
    assert totals["remediated"] == sum(
        target["summary"]["remediated"] for target in document["targets"] if target["summary"]
    )
    assert (totals["targets"], totals["targetsOk"], totals["targetsNotOnboarded"], totals["targetsError"]) == (
        8,
        6,
        2,
        0,
    )


def test_audit_finds_the_violation_in_its_own_account_region_only_and_writes_nothing(organization, capsys, monkeypatch):
    ids, emulated = organization["ids"], organization["emulated"]
    reachable = ",".join(ids[name] for name in REPOSITORIES)
    monkeypatch.setenv("GOVERNANCE_MODE", "enforce")
    assert cli(capsys, organization, "--accounts", reachable, "--regions", ",".join(REGIONS), "enforce")[0] == Exit.OK
    monkeypatch.delenv("GOVERNANCE_MODE")
    emulated.client("ecr", ids["team-1"], "eu-west-1").put_image_tag_mutability(
        repositoryName="pay/web", imageTagMutability="MUTABLE"
    )

    code, out, _ = cli(capsys, organization, "audit", "--accounts", reachable, "--regions", ",".join(REGIONS))
    lines = out.splitlines()
    assert code == Exit.OK  # what an audit found is in STATUS; it exits 3 only when asked to
    assert lines[0].split()[:4] == ["ACCOUNT", "NAME", "REGION", "REPOSITORIES"] and lines[0].split()[-1] == "STATUS"
    rows = {(cells[0], cells[2]): cells for cells in map(str.split, lines[2:8])}
    assert len(rows) == 6 and {cells[-1] for place, cells in rows.items() if place != (ids["team-1"], "eu-west-1")} == {
        "OK"
    }
    # REPOSITORIES, NON-COMPLIANT, REGISTRY NON-COMPLIANT, WOULD REMEDIATE, FAILED; no name read with --accounts
    assert rows[(ids["team-1"], "eu-west-1")] == [
        ids["team-1"],
        "-",
        "eu-west-1",
        "3",
        "1",
        "0",
        "1",
        "0",
        "VIOLATIONS",
    ]
    assert rows[(ids["team-1"], "ap-southeast-1")][3:] == ["3", "0", "0", "0", "0", "OK"]
    assert lines[8].split() == ["TOTAL", "12", "1", "0", "1", "0"]
    assert lines[-1] == "6 account-regions in 3 accounts: 5 OK, 1 VIOLATIONS, 0 ERROR, 0 NOT_ONBOARDED"

    code, document, _ = cli(
        capsys,
        organization,
        "--accounts",
        reachable,
        "audit",
        "--regions",
        ",".join(REGIONS),
        "--fail-on-violation",
        "--output",
        "json",
    )
    assert code == Exit.VIOLATIONS
    targets = by_place(document)
    assert [place for place, target in targets.items() if target["summary"]["nonCompliantAfter"]] == [
        (ids["team-1"], "eu-west-1")
    ]
    flagged = targets[(ids["team-1"], "eu-west-1")]["result"]["repositories"]
    assert [row["repositoryName"] for row in flagged if row["compliance"] == "NON_COMPLIANT"] == ["pay/web"]
    accounts = {account["accountId"]: account["totals"] for account in document["accounts"]}
    assert {account: totals["nonCompliantAfter"] for account, totals in accounts.items()} == {
        ids["own"]: 0,
        ids["team-0"]: 0,
        ids["team-1"]: 1,
    }
    assert all(account["accountName"] is None for account in document["accounts"])  # --accounts: no names read
    assert document["totals"]["nonCompliantAfter"] == 1 and document["totals"]["targetsViolations"] == 1
    assert emulated.mutability(ids["team-1"], "eu-west-1", "pay/web") == "MUTABLE"  # audit never writes


def test_an_account_whose_role_cannot_be_assumed_is_reported_and_the_others_still_run(organization, capsys):
    ids = organization["ids"]
    code, out, _ = cli(capsys, organization, "--accounts", f"{ids['team-denied']},{ids['team-0']}", "audit")
    assert code == Exit.ERROR
    lines = out.splitlines()
    statuses = {cells[0]: cells[-1] for cells in map(str.split, lines[2:4])}
    assert statuses == {ids["team-0"]: "VIOLATIONS", ids["team-denied"]: "NOT_ONBOARDED"}
    # team-0's alone: 2 repositories, both non-compliant, its registry's scanning too, 8 settings to remediate
    assert lines[4].split() == ["TOTAL", "2", "2", "1", "8", "0"]
    assert lines[5] == (
        f"{ids['team-denied']} ap-southeast-1: NOT_ONBOARDED: "
        f"cannot assume arn:aws:iam::{ids['team-denied']}:role/{ROLE}: AccessDenied"
    )
    assert lines[-1] == "2 account-regions in 2 accounts: 0 OK, 1 VIOLATIONS, 0 ERROR, 1 NOT_ONBOARDED"


def test_an_ou_chooses_its_active_accounts_nested_ous_included(organization, capsys):
    ids = organization["ids"]
    code, document, _ = cli(
        capsys,
        organization,
        "--organization",
        "--ou",
        organization["teams"],
        "--regions",
        "eu-west-1",
        "audit",
        "--output",
        "json",
    )
    # team-1 sits in teams/payments; the caller's own account is under the root only; team-closed is SUSPENDED.
    assert [(t["accountName"], t["status"]) for t in sorted(document["targets"], key=lambda t: t["accountName"])] == [
        ("team-0", "VIOLATIONS"),
        ("team-1", "VIOLATIONS"),
        ("team-denied", "NOT_ONBOARDED"),
    ]
    assert {t["accountId"] for t in document["targets"]} == {ids["team-0"], ids["team-1"], ids["team-denied"]}
    assert code == Exit.ERROR


def test_an_ou_without_an_active_account_is_an_error_not_an_empty_pass(organization, capsys):
    code, out, err = cli(capsys, organization, "--organization", "--ou", organization["sandbox"], "audit")
    assert code == Exit.ERROR and out == ""
    sandbox = organization["sandbox"]
    assert err == f"ecr-governance: error: --organization: no ACTIVE account under {sandbox}, nothing to run in\n"


def test_sweep_and_findings_summary_run_in_each_account_region_read_only(organization, capsys):
    ids, emulated = organization["ids"], organization["emulated"]
    ecr = emulated.client("ecr", ids["team-0"], "eu-west-1")
    push_image(ecr, "app/web", "release", tag="v1")
    push_image(ecr, "app/web", "build-untagged")  # untagged: a sweep candidate at age 0
    scanned = push_image(emulated.client("ecr", ids["team-1"], "ap-southeast-1"), "pay/api", "release", tag="v2")
    emulated.client("ecr", ids["team-1"], "ap-southeast-1").start_image_scan(
        repositoryName="pay/api", imageId={"imageDigest": scanned}
    )
    members = f"{ids['team-0']},{ids['team-1']}"

    code, sweep, err = cli(
        capsys,
        organization,
        "--accounts",
        members,
        "--regions",
        ",".join(REGIONS),
        "sweep",
        "--all-repositories",
        "--min-age-days",
        "0",
        "--min-idle-days",
        "0",
        "--output",
        "json",
    )
    assert code == Exit.OK and len(sweep["targets"]) == 4 and "[1/" not in err  # no progress lines in fleet mode
    assert all(target["result"]["mode"] == "dry-run" for target in sweep["targets"])
    candidates = {place: target["summary"]["wouldDelete"] for place, target in by_place(sweep).items()}
    assert candidates == {
        (ids[n], r): int((n, r) == ("team-0", "eu-west-1")) for n in ("team-0", "team-1") for r in REGIONS
    }
    assert sweep["totals"]["wouldDelete"] == 1 and sweep["totals"]["deleted"] == 0
    assert len(ecr.describe_images(repositoryName="app/web")["imageDetails"]) == 2  # nothing deleted

    code, out, _ = cli(
        capsys, organization, "--accounts", members, "--regions", ",".join(REGIONS), "sweep", "--all-repositories"
    )
    assert out.splitlines()[-1] == "Nothing was deleted (a dry run: add --delete to delete)."

    code, summary, _ = cli(
        capsys,
        organization,
        "findings",
        "summary",
        "--accounts",
        members,
        "--regions",
        ",".join(REGIONS),
        "--output",
        "json",
    )
    targets = by_place(summary)
    assert code == Exit.OK
    assert targets[(ids["team-1"], "ap-southeast-1")]["summary"]["images"] == 1
    assert targets[(ids["team-1"], "ap-southeast-1")]["status"] == "VIOLATIONS"  # the emulator's finding is HIGH
    assert targets[(ids["team-0"], "eu-west-1")]["summary"]["images"] == 1
    assert targets[(ids["team-0"], "eu-west-1")]["summary"]["notScanned"] == 1
    assert summary["totals"]["images"] == 2 and summary["totals"]["repositories"] == 10

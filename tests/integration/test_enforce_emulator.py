"""Enforcement end to end on the embedded emulator (moto server over real HTTP), through the real handler.

The handler runs via `invoke_function`, with the environment template.yaml gives it, exactly as `ecr-governance
invoke` and `make demo` run it. Assertions read the registry back over HTTP.
"""

from __future__ import annotations

import copy
import json
from collections import Counter
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from ecr_governance.enforce.settings import EnforceSettings
from ecr_governance_cli.callcount import EcrCallCounter, counting_new_clients
from ecr_governance_cli.local_invoke import invoke_function
from ecr_governance_cli.main import main
from registry_builders import REGION, TEMPLATE, create_repository, load_event, topic_with_sqs_subscriber

pytestmark = pytest.mark.integration
ACCOUNT = "123456789012"
OWN_ROLE = f"arn:aws:iam::{ACCOUNT}:role/ecr-governance-EnforceRepositoryFunctionRole"
CORE_API = {"RegistryApi": "core"}
CORE_API_ENVIRONMENT = {"REGISTRY_API": "core"}
STANDARD = EnforceSettings.from_environ({}).standard_lifecycle_policy
CUSTOM = {
    "rules": [
        {
            "rulePriority": 1,
            "selection": {"tagStatus": "untagged", "countType": "imageCountMoreThan", "countNumber": 5},
            "action": {"type": "expire"},
        }
    ]
}


def invoke(event: dict[str, Any], topic_arn: str = "", **overrides: str) -> dict[str, Any]:
    # What the deployed stack resolves: the function's own role and (with NotifyRemediations) its topic.
    deployed = {"GOVERNANCE_ROLE_ARN": OWN_ROLE, "REMEDIATION_TOPIC_ARN": topic_arn}
    # The emulator serves ECR's core API only (RegistryApi=core: no bulk tag reads through the tagging API).
    return invoke_function(str(TEMPLATE), "EnforceRepositoryFunction", event, {**CORE_API, **overrides}, deployed)


def event_for(name: str, repository: str | None = None) -> dict[str, Any]:
    event = copy.deepcopy(load_event(f"enforce/{name}"))
    if repository:
        event["detail"]["requestParameters"]["repositoryName"] = repository
    return event


@pytest.fixture
def handler_calls() -> Iterator[EcrCallCounter]:
    """Counts the ECR calls of every client created from here on (the handler builds its own at import)."""
    with counting_new_clients(EcrCallCounter()) as counter:
        yield counter


def describe(ecr, name: str) -> dict[str, Any]:
    return ecr.describe_repositories(repositoryNames=[name])["repositories"][0]


def lifecycle(ecr, name: str) -> dict[str, Any] | None:
    try:
        return json.loads(ecr.get_lifecycle_policy(repositoryName=name)["lifecyclePolicyText"])
    except ecr.exceptions.LifecyclePolicyNotFoundException:
        return None


@pytest.fixture
def mixed_registry(ecr):
    create_repository(ecr, "mlops/retail-api", "IMMUTABLE", True, lifecycle_policy=STANDARD)
    create_repository(ecr, "team-a/mutable")
    create_repository(ecr, "team-a/excluded-ok", "IMMUTABLE_WITH_EXCLUSION", True, ("sha256-*",))
    create_repository(ecr, "team-b/excluded-bad", "IMMUTABLE_WITH_EXCLUSION", True, ("latest",))
    create_repository(ecr, "team-b/custom", "MUTABLE_WITH_EXCLUSION", True, ("release-*",), lifecycle_policy=CUSTOM)
    create_repository(ecr, "sandbox/exempt", tags={"ecr-governance:exempt": "true"})
    ecr.put_registry_scanning_configuration(
        scanType="BASIC",
        rules=[
            {"scanFrequency": "SCAN_ON_PUSH", "repositoryFilters": [{"filter": "mlops/*", "filterType": "WILDCARD"}]}
        ],
    )
    return ecr


def test_create_repository_event_remediates_just_that_repository(mixed_registry, handler_calls):
    ecr = mixed_registry
    create_repository(ecr, "team-payments/ledger")
    result = invoke(event_for("create-repository.json", "team-payments/ledger"))
    assert result["status"] == "done"
    ledger = describe(ecr, "team-payments/ledger")
    assert ledger["imageTagMutability"] == "IMMUTABLE"
    assert ledger["imageScanningConfiguration"]["scanOnPush"] is True
    assert lifecycle(ecr, "team-payments/ledger") == STANDARD
    rules = ecr.get_registry_scanning_configuration()["scanningConfiguration"]["rules"]
    assert [f["filter"] for f in rules[0]["repositoryFilters"]] == ["mlops/*", "team-payments/ledger*"]
    assert describe(ecr, "team-a/mutable")["imageTagMutability"] == "MUTABLE"  # not in the event's scope
    assert "DescribeRepositories" in handler_calls.calls
    assert handler_calls.calls["ListTagsForResource"] == 1


def test_scheduled_reconcile_makes_every_non_exempt_repository_compliant_then_is_idempotent(
    mixed_registry, handler_calls
):
    ecr = mixed_registry
    summary = invoke(event_for("scheduled-reconcile.json"))["summary"]
    assert summary["nonCompliantAfter"] == 0 and summary["failed"] == 0 and summary["exemptRepositories"] == 1
    for name in ("team-a/mutable", "team-b/excluded-bad", "team-b/custom"):
        assert describe(ecr, name)["imageTagMutability"] == "IMMUTABLE"
    assert describe(ecr, "team-a/excluded-ok")["imageTagMutability"] == "IMMUTABLE_WITH_EXCLUSION"  # allowed
    assert lifecycle(ecr, "team-b/custom") == CUSTOM  # a custom policy is never overwritten
    assert lifecycle(ecr, "team-a/mutable") == STANDARD
    exempt = describe(ecr, "sandbox/exempt")
    assert exempt["imageTagMutability"] == "MUTABLE" and lifecycle(ecr, "sandbox/exempt") is None
    # Exempt means keeping its tags mutable and its images: scanning on push changes neither, so it is scanned.
    assert exempt["imageScanningConfiguration"]["scanOnPush"]

    handler_calls.calls.clear()
    summary = invoke(event_for("scheduled-reconcile.json"))["summary"]
    assert summary["remediated"] == 0
    assert handler_calls.writes == Counter()
    # Reads: one page of repositories, the registry scanning configuration and policy, tags per repository, and a
    # lifecycle policy read per non-exempt repository - nothing else.
    assert handler_calls.calls == Counter(
        DescribeRepositories=1,
        GetRegistryScanningConfiguration=1,
        GetRegistryPolicy=1,
        ListTagsForResource=6,
        GetLifecyclePolicy=5,
    )


def test_audit_mode_reports_and_changes_nothing(mixed_registry, handler_calls):
    summary = invoke(event_for("scheduled-reconcile.json"), EnforceMode="audit")["summary"]
    assert summary["wouldRemediate"] > 0 and summary["remediated"] == 0
    assert handler_calls.writes == Counter()
    assert describe(mixed_registry, "team-a/mutable")["imageTagMutability"] == "MUTABLE"


def test_enhanced_scanning_and_continuous_rules_are_kept(ecr, handler_calls):
    create_repository(ecr, "prod-payments", "IMMUTABLE", lifecycle_policy=STANDARD)
    create_repository(ecr, "team/app", "IMMUTABLE", lifecycle_policy=STANDARD)
    ecr.put_registry_scanning_configuration(
        scanType="ENHANCED",
        rules=[
            {"scanFrequency": "CONTINUOUS_SCAN", "repositoryFilters": [{"filter": "prod-*", "filterType": "WILDCARD"}]}
        ],
    )
    invoke(event_for("scheduled-reconcile.json"))
    config = ecr.get_registry_scanning_configuration()["scanningConfiguration"]
    assert config["scanType"] == "ENHANCED"
    assert {r["scanFrequency"]: [f["filter"] for f in r["repositoryFilters"]] for r in config["rules"]} == {
        "CONTINUOUS_SCAN": ["prod-*"],
        "SCAN_ON_PUSH": ["*"],
    }
    assert handler_calls.calls["PutImageScanningConfiguration"] == 0  # the deprecated flag only matters under BASIC


def test_own_remediation_event_is_skipped_without_any_ecr_call(mixed_registry, handler_calls):
    result = invoke(event_for("own-remediation.json", "team-a/mutable"))
    assert result == {"status": "skipped", "reason": "own remediation"}
    assert handler_calls.calls == Counter()


def test_malformed_event_is_rejected_not_raised(ecr, handler_calls, capsys):
    event = {"detail-type": "AWS API Call via CloudTrail", "source": "aws.ecr", "account": ACCOUNT, "region": REGION}
    result = invoke(event)
    assert result == {"status": "rejected", "reason": "detail is missing or not an object"}
    assert handler_calls.calls == Counter()
    logs = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
    rejected = [entry for entry in logs if entry.get("message") == "event rejected"]
    assert rejected and rejected[0]["level"] == "ERROR" and "detail" in rejected[0]["reason"]
    metrics = [entry for entry in logs if "_aws" in entry]
    assert metrics and metrics[-1]["EventsRejected"] == [1.0]


def test_event_for_a_deleted_repository_is_a_logged_no_op(ecr, capsys):
    result = invoke(event_for("put-image-tag-mutability.json", "team/deleted"))
    assert result["summary"]["repositoryGone"] == 1
    logs = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
    gone = [e for e in logs if e.get("message") == "enforcement decision" and e.get("action") == "repository_gone"]
    assert gone and gone[0]["repository"] == "team/deleted"


def test_every_decision_is_one_structured_log_line_and_metrics_are_emf(mixed_registry, capsys):
    invoke(event_for("create-repository.json", "team-a/mutable"))
    logs = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
    decisions = [e for e in logs if e.get("message") == "enforcement decision"]
    mutability = next(d for d in decisions if d["aspect"] == "tag_mutability")
    assert {k: mutability[k] for k in ("repository", "violation", "before", "after", "action")} == {
        "repository": "team-a/mutable",
        "violation": "tag_mutability",
        "before": "MUTABLE",
        "after": "IMMUTABLE",
        "action": "remediated",
    }
    assert mutability["service"] == "ecr-governance" and mutability["event_name"] == "CreateRepository"
    emf = next(e for e in logs if "_aws" in e and "SettingsRemediated" in e)
    assert emf["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "ECRGovernance"
    assert emf["SettingsRemediated"] == [4.0]  # mutability, scan flag, lifecycle, its registry scanning coverage


def test_cli_audit_json_and_ci_gate(mixed_registry, emulator_endpoint, capsys):
    code = main(["--endpoint-url", emulator_endpoint, "audit", "--output", "json", "--fail-on-violation"])
    report = json.loads(capsys.readouterr().out)
    assert code == 3
    # mutable, excluded-bad, custom (MUTABLE_WITH_EXCLUSION), and excluded-ok and the exempt one (not scanned on push)
    assert report["summary"]["nonCompliantAfter"] == 5
    rows = report["repositories"]
    assert [row["repositoryName"] for row in rows] == sorted(row["repositoryName"] for row in rows)
    assert {row["repositoryName"] for row in rows if row["compliance"] == "NON_COMPLIANT"} >= {"team-a/mutable"}
    assert describe(mixed_registry, "team-a/mutable")["imageTagMutability"] == "MUTABLE"


def test_cli_enforce_dry_run_then_enforce_one_repository(mixed_registry, emulator_endpoint, capsys):
    assert main(["--endpoint-url", emulator_endpoint, "enforce", "--dry-run", "--repository", "team-a/mutable"]) == 0
    table = capsys.readouterr().out
    assert "team-a/mutable" in table and "would_remediate" in table
    assert describe(mixed_registry, "team-a/mutable")["imageTagMutability"] == "MUTABLE"
    assert main(["--endpoint-url", emulator_endpoint, "enforce", "--repository", "team-a/mutable"]) == 0
    assert describe(mixed_registry, "team-a/mutable")["imageTagMutability"] == "IMMUTABLE"
    assert describe(mixed_registry, "team-b/excluded-bad")["imageTagMutability"] == "IMMUTABLE_WITH_EXCLUSION"


def test_cli_unknown_repository_is_an_error_row_and_exit_1(mixed_registry, emulator_endpoint, capsys):
    argv = ["--endpoint-url", emulator_endpoint, "audit", "--repository", "team/nope", "--repository", "team-a/mutable"]
    assert main([*argv, "--output", "json"]) == 1
    rows = json.loads(capsys.readouterr().out)["repositories"]
    assert [(row["repositoryName"], row["compliance"]) for row in rows] == [
        ("team-a/mutable", "NON_COMPLIANT"),  # the other one still printed
        ("team/nope", "ERROR"),
    ]
    assert rows[1]["error"] == {"code": "RepositoryNotFoundException", "message": "repository not found: team/nope"}


def test_cli_invoke_prints_the_handler_result(mixed_registry, emulator_endpoint, capsys):
    event = str(TEMPLATE.parent / "events" / "enforce" / "scheduled-reconcile.json")
    code = main(
        [
            "--endpoint-url",
            emulator_endpoint,
            "invoke",
            "EnforceRepositoryFunction",
            "--event",
            event,
            "--parameter-overrides",
            "EnforceMode=audit",
        ]
    )
    captured = capsys.readouterr()
    assert code == 0
    result = json.loads(captured.out)  # stdout carries only the result; logs went to stderr
    assert result["mode"] == "audit" and result["summary"]["wouldRemediate"] > 0
    assert "GOVERNANCE_ROLE_ARN" in captured.err  # told which variables need the deployed stack


def test_removing_the_exempt_tag_enforces_the_repository_at_once(mixed_registry):
    ecr = mixed_registry
    arn = describe(ecr, "sandbox/exempt")["repositoryArn"]
    assert invoke(event_for("untag-resource.json"))["summary"]["repositoryGone"] == 1  # sample names another repo
    ecr.untag_resource(resourceArn=arn, tagKeys=["ecr-governance:exempt"])
    event = event_for("untag-resource.json")
    event["detail"]["requestParameters"]["resourceArn"] = arn
    summary = invoke(event)["summary"]
    assert summary["exemptRepositories"] == 0 and summary["remediated"] >= 3
    assert describe(ecr, "sandbox/exempt")["imageTagMutability"] == "IMMUTABLE"


def test_remediations_reach_the_topic_as_one_readable_notification(mixed_registry, emulator_endpoint):
    sns = boto3.client("sns", endpoint_url=emulator_endpoint)
    sqs = boto3.client("sqs", endpoint_url=emulator_endpoint)
    topic_arn, queue_url = topic_with_sqs_subscriber(sns, sqs, "ecr-governance-remediations", "inbox")

    invoke(event_for("scheduled-reconcile.json"), topic_arn=topic_arn, NotifyRemediations="true")
    messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)["Messages"]
    assert len(messages) == 1  # one notification per run, not one per change
    notification = json.loads(messages[0]["Body"])
    assert notification["Subject"].startswith("ECR governance: ") and "remediated" in notification["Subject"]
    body = notification["Message"]
    assert "the scheduled reconcile" in body
    assert "team-a/mutable\n  - tag_mutability: MUTABLE -> IMMUTABLE [remediated]" in body
    # Exempt settings are left alone and not reported as changed; only its scan on push was.
    exempt_section = body.split("sandbox/exempt\n")[1].split("\n\n")[0]
    assert "registry_scanning" in exempt_section
    assert "tag_mutability" not in exempt_section and "lifecycle_policy" not in exempt_section

    invoke(event_for("scheduled-reconcile.json"), topic_arn=topic_arn, NotifyRemediations="true")
    assert "Messages" not in sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=0)  # nothing changed: silence


def test_a_person_changing_registry_scanning_during_a_reconcile_keeps_their_change(ecr):
    """The lost update: a reconcile plans on one read; a person writes ENHANCED / CONTINUOUS_SCAN prod/* before the
    reconcile writes. Their configuration survives and ours is merged in."""
    from ecr_governance.aws.clients import make_client
    from ecr_governance.aws.ecr import EcrRegistry
    from ecr_governance.enforce.service import Enforcer

    create_repository(ecr, "team/app", "IMMUTABLE", scan_on_push=True, lifecycle_policy=STANDARD)
    create_repository(ecr, "prod/api", "IMMUTABLE", scan_on_push=True, lifecycle_policy=STANDARD)
    enforcer = Enforcer(EcrRegistry(make_client("ecr")), EnforceSettings.from_environ(CORE_API_ENVIRONMENT))
    plan = enforcer.assess()
    ecr.put_registry_scanning_configuration(
        scanType="ENHANCED",
        rules=[
            {"scanFrequency": "CONTINUOUS_SCAN", "repositoryFilters": [{"filter": "prod/*", "filterType": "WILDCARD"}]}
        ],
    )
    enforcer.apply(plan)
    configuration = ecr.get_registry_scanning_configuration()["scanningConfiguration"]
    assert configuration["scanType"] == "ENHANCED"
    rules = {rule["scanFrequency"]: [f["filter"] for f in rule["repositoryFilters"]] for rule in configuration["rules"]}
    assert rules["CONTINUOUS_SCAN"] == ["prod/*"]
    assert rules["SCAN_ON_PUSH"] == ["*"]
    # And a second reconcile leaves it as it is.
    enforcer.apply(enforcer.assess())
    assert ecr.get_registry_scanning_configuration()["scanningConfiguration"] == configuration

"""The untagged sweep end to end on the embedded emulator (moto server over real HTTP): through the CLI, and through
the real handlers (`invoke_function`, the template's environment) - planner -> a real SQS queue -> worker, the runs
table and the summary topic included.

moto stamps imagePushedAt at push time (whole seconds) and cannot backdate it, so "old" here means seconds old: the
tests sweep with a minimum age and idle window of a few seconds (the CLI takes fractions of days, the functions'
settings too), or plan as of a later --now (never with --delete). Deletions are counted by reading the registry
back, never from moto's BatchDeleteImage answer (it leaves untagged deletions out of imageIds).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from ecr_governance.aws.clients import make_client
from ecr_governance.aws.dynamodb import DynamoRunLedger
from ecr_governance.aws.ecr import EcrRegistry
from ecr_governance.aws.inspector import InspectorUsage
from ecr_governance.aws.sqs import SqsQueue
from ecr_governance.exemptions import ExemptionSettings
from ecr_governance.registry_api import RegistryApi
from ecr_governance.sweep.ledger import RunStart, UnitRef
from ecr_governance.sweep.messages import DeadlineMessage, RepositoryMessage, body, parse_message
from ecr_governance.sweep.report import Outcome
from ecr_governance.sweep.settings import SweepMode, SweepRules
from ecr_governance.sweep.worker import SweepWorker
from ecr_governance_cli import demo
from ecr_governance_cli.local_invoke import invoke_function
from ecr_governance_cli.main import main
from registry_builders import REGION, TEMPLATE, load_event, push_image, push_index

pytestmark = pytest.mark.integration
REPO = "team-ml/feature-store"
# The emulator serves ECR's core API only: no pull-through cache rules to ask for.
CORE_API = {"RegistryApi": "core"}
SECONDS = 2  # "old" on the emulator: pushed (and, never pulled, idle) more than this many seconds ago
FEW_SECONDS = str(SECONDS / 86400)


def build_registry(ecr, wait_before_fresh: float) -> dict[str, str]:
    """A tagged multi-arch image (two untagged platform manifests), its signature, an orphan, an exempt repository
    with an orphan of its own - then, `wait_before_fresh` seconds later, a fresh untagged image."""
    ecr.create_repository(repositoryName=REPO)
    ecr.create_repository(repositoryName="sandbox/scratch", tags=[{"Key": "ecr-governance:exempt", "Value": "true"}])
    digests = {"amd64": push_image(ecr, REPO, "amd64"), "arm64": push_image(ecr, REPO, "arm64")}
    digests["index"] = push_index(ecr, REPO, [digests["amd64"], digests["arm64"]], tag="v1.4.2")
    digests["signature"] = push_image(ecr, REPO, "cosign-signature", subject=digests["index"])
    digests["orphan"] = push_image(ecr, REPO, "ci-build-1841")
    digests["exempt-orphan"] = push_image(ecr, "sandbox/scratch", "scratch-1")
    time.sleep(wait_before_fresh)
    digests["fresh"] = push_image(ecr, REPO, "ci-build-1842")
    return digests


@pytest.fixture
def registry(ecr) -> dict[str, str]:
    return build_registry(ecr, 0)


@pytest.fixture
def aged_registry(ecr) -> dict[str, str]:
    """The orphan more than SECONDS old when the fresh image is at most a second old (moto stores whole seconds)."""
    return build_registry(ecr, SECONDS + 0.5)


def remaining(ecr, repository: str = REPO) -> set[str]:
    return {d["imageDigest"] for d in ecr.describe_images(repositoryName=repository)["imageDetails"]}


def cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(["--region", REGION, *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


# ---- the CLI ------------------------------------------------------------------------------------------------------
def test_without_delete_the_cli_lists_every_digest_with_its_decision_and_deletes_nothing(ecr, registry, capsys):
    code, out, _ = cli(capsys, "sweep", "--repository", REPO)
    assert code == 0 and out.splitlines()[-1] == (
        f"Nothing was deleted. To delete for real: ecr-governance sweep --repository {REPO} --delete"
    )
    code, out, _ = cli(capsys, "sweep", "--repository", REPO, "--output", "json")
    assert code == 0
    (repository,) = json.loads(out)["repositories"]
    decisions = {row["imageDigest"]: (row["decision"], row["reason"]) for row in repository["images"]}
    assert decisions == {
        registry["index"]: ("keep", "tagged"),
        registry["amd64"]: ("keep", "index child"),
        registry["arm64"]: ("keep", "index child"),
        # Kept by its own age, so its manifest (which names the index as its subject) was not even read.
        registry["signature"]: ("keep", "too young"),
        registry["orphan"]: ("keep", "too young"),  # 14 days is the default minimum age
        registry["fresh"]: ("keep", "too young"),
    }
    in_a_month = (datetime.now(UTC) + timedelta(days=31)).isoformat()
    code, out, _ = cli(capsys, "sweep", "--repository", REPO, "--now", in_a_month, "--output", "json")
    (repository,) = json.loads(out)["repositories"]
    would = {row["imageDigest"] for row in repository["images"] if row.get("outcome") == "would delete"}
    assert code == 0 and would == {registry["orphan"], registry["fresh"]}
    signature = next(row for row in repository["images"] if row["imageDigest"] == registry["signature"])
    assert (signature["reason"], signature["keptWith"]) == ("referrer", registry["index"])
    assert remaining(ecr) == {registry[name] for name in ("index", "amd64", "arm64", "signature", "orphan", "fresh")}


def test_a_real_sweep_removes_only_the_orphan_and_leaves_exempt_repositories_alone(ecr, aged_registry, capsys):
    registry = aged_registry
    code, out, err = cli(
        capsys, "sweep", "--all-repositories", "--min-age-days", FEW_SECONDS, "--min-idle-days", FEW_SECONDS, "--delete"
    )
    assert code == 0, err
    assert remaining(ecr) == {registry[name] for name in ("index", "amd64", "arm64", "signature", "fresh")}
    assert remaining(ecr, "sandbox/scratch") == {registry["exempt-orphan"]}
    assert "[1/1] team-ml/feature-store: 1 deleted" in err  # progress on stderr
    assert "sandbox/scratch: exempt (tagged ecr-governance:exempt=true)" in out
    assert "1 repository swept: 1 image deleted" in out


def test_a_tag_pushed_between_the_plan_and_the_delete_keeps_the_image(ecr, aged_registry, capsys, monkeypatch):
    """A CI job tags the orphan while the sweep runs: the re-read right before BatchDeleteImage sees the tag."""
    registry = aged_registry
    manifest = ecr.batch_get_image(repositoryName=REPO, imageIds=[{"imageDigest": registry["orphan"]}])["images"][0]
    listings = []

    def tag_before_the_re_read(**_: Any) -> None:
        listings.append(True)
        if len(listings) == 2:  # the first listing plans; the second is the re-read right before the delete
            ecr.put_image(repositoryName=REPO, imageManifest=manifest["imageManifest"], imageTag="hotfix-7")

    original = boto3.session.Session.client

    def client_with_race(self, service, *args, **kwargs):
        client = original(self, service, *args, **kwargs)
        if service == "ecr":
            client.meta.events.register("before-call.ecr.DescribeImages", tag_before_the_re_read)
        return client

    monkeypatch.setattr(boto3.session.Session, "client", client_with_race)
    code, out, _ = cli(
        capsys, "sweep", "--repository", REPO, "--min-age-days", FEW_SECONDS, "--min-idle-days", FEW_SECONDS, "--delete"
    )
    assert code == 0
    assert registry["orphan"] in remaining(ecr)
    assert "kept (tagged since plan): now tagged hotfix-7" in out


def test_cli_mistakes_are_usage_errors_or_error_rows(ecr, registry, capsys):
    assert main(["sweep", "--repository", REPO, "--now", "2030-01-01T00:00:00Z", "--delete"]) == 2
    assert main(["sweep", "--repository", REPO, "--dry-run", "--delete"]) == 2
    assert main(["sweep", "--repository", REPO, "--min-age-days", "-1"]) == 2
    assert main(["sweep", "--repository", "Team/Not A Name"]) == 2  # refused before any call
    capsys.readouterr()  # the usage messages, one line each
    code, out, _ = cli(capsys, "sweep", "--repository", "team/nope", "--repository", REPO, "--output", "json")
    rows = json.loads(out)["repositories"]
    assert code == 1 and [(row["repositoryName"], row["status"]) for row in rows] == [
        (REPO, "SWEPT"),  # the other one is still swept
        ("team/nope", "ERROR"),
    ]


# ---- the functions, through invoke ------------------------------------------------------------------------------
@pytest.fixture
def stack(emulator_endpoint) -> Iterator[dict[str, str]]:
    """What a deployment creates and the template cannot name locally: the queue, the runs table, the topic (with a
    queue subscribed, to read the summary)."""
    sqs, ddb, sns = (boto3.client(s, region_name=REGION) for s in ("sqs", "dynamodb", "sns"))
    queue = sqs.create_queue(QueueName="sweep")["QueueUrl"]
    ddb.create_table(
        TableName="sweep-runs",
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": k, "AttributeType": "S"} for k in ("pk", "sk")],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
    )
    topic = sns.create_topic(Name="sweep-summary")["TopicArn"]
    inbox = sqs.create_queue(QueueName="summary-inbox")["QueueUrl"]
    inbox_arn = sqs.get_queue_attributes(QueueUrl=inbox, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=inbox_arn)
    yield {"SWEEP_QUEUE_URL": queue, "SWEEP_RUNS_TABLE": "sweep-runs", "SWEEP_TOPIC_ARN": topic, "inbox": inbox}


def environment(stack: dict[str, str]) -> dict[str, str]:
    return {name: value for name, value in stack.items() if name.startswith("SWEEP_")}


def sqs_event(messages: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": {"ApproximateReceiveCount": "1"},
                "messageAttributes": {},
                "md5OfBody": m["MD5OfBody"],
                "eventSource": "aws:sqs",
                "eventSourceARN": f"arn:aws:sqs:{REGION}:123456789012:sweep",
                "awsRegion": REGION,
            }
            for m in messages
        ]
    }


def delayed(queue_url: str) -> int:
    attributes = boto3.client("sqs", region_name=REGION).get_queue_attributes(
        QueueUrl=queue_url, AttributeNames=["ApproximateNumberOfMessagesDelayed"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessagesDelayed"])


def synthetic_message(message) -> dict[str, Any]:
    text = body(message)
    return {"MessageId": "synthetic", "ReceiptHandle": "synthetic", "Body": text, "MD5OfBody": "-"}


def receive_all(queue_url: str) -> list[dict[str, Any]]:
    sqs = boto3.client("sqs", region_name=REGION)
    received: list[dict[str, Any]] = []
    while batch := sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", []):
        received.extend(batch)
    return received


def summaries(stack: dict[str, str]) -> list[dict[str, str]]:
    return [json.loads(message["Body"]) for message in receive_all(stack["inbox"])]


@pytest.mark.parametrize("mode", ["dry-run", "delete"])
def test_planner_to_queue_to_worker_sweeps_the_registry_and_publishes_one_summary(ecr, registry, stack, mode):
    overrides = {"SweepMode": mode, "SweepMinAgeDays": "0", "SweepMinIdleDays": "0", "NotifySweep": "true", **CORE_API}
    planned = invoke_function(
        str(TEMPLATE), "SweepPlannerFunction", load_event("sweep/schedule.json"), overrides, environment(stack)
    )
    assert planned["status"] == "planned" and planned["repositories"] == [REPO] and planned["queued"] == 1
    assert list(planned["exempt"]) == ["sandbox/scratch"]
    messages = receive_all(stack["SWEEP_QUEUE_URL"])
    run_id = load_event("sweep/schedule.json")["id"]
    assert [parse_message(m["Body"]) for m in messages] == [RepositoryMessage(run_id, REPO)]
    assert delayed(stack["SWEEP_QUEUE_URL"]) == 1  # the run's deadline message, back in 15 minutes

    result = invoke_function(str(TEMPLATE), "SweepWorkerFunction", sqs_event(messages), overrides, environment(stack))
    assert result == {"batchItemFailures": []}
    kept = {registry[name] for name in ("index", "amd64", "arm64", "signature")}
    if mode == "delete":  # minimum age 0: the fresh image is old enough too (moto cannot backdate a push)
        assert remaining(ecr) == kept
    else:
        assert remaining(ecr) == kept | {registry["orphan"], registry["fresh"]}
    assert remaining(ecr, "sandbox/scratch") == {registry["exempt-orphan"]}
    (summary,) = summaries(stack)
    verb = "deleted" if mode == "delete" else "would delete"
    assert summary["Subject"].endswith(f"2 untagged images {verb}, 0.00 GiB")
    assert "Repositories swept: 1 (1 exempt when planned and 0 since, left alone" in summary["Message"]
    assert "In-use data: not available" in summary["Message"]  # the emulator's Inspector does not scan ECR
    deadline = sqs_event([synthetic_message(DeadlineMessage(run_id))])
    assert invoke_function(str(TEMPLATE), "SweepWorkerFunction", deadline, overrides, environment(stack)) == {
        "batchItemFailures": []
    }
    assert summaries(stack) == [] and delayed(stack["SWEEP_QUEUE_URL"]) == 1  # summary out: not sent again


def test_a_redelivered_message_is_not_counted_twice_and_a_rejected_one_is_dropped(ecr, registry, stack):
    overrides = {
        "SweepMode": "delete",
        "SweepMinAgeDays": "0",
        "SweepMinIdleDays": "0",
        "NotifySweep": "true",
        **CORE_API,
    }
    invoke_function(
        str(TEMPLATE), "SweepPlannerFunction", load_event("sweep/schedule.json"), overrides, environment(stack)
    )
    messages = receive_all(stack["SWEEP_QUEUE_URL"])
    malformed = {**messages[0], "MessageId": "malformed", "Body": '{"kind": "repository"}'}
    for _ in range(2):
        result = invoke_function(
            str(TEMPLATE), "SweepWorkerFunction", sqs_event([*messages, malformed]), overrides, environment(stack)
        )
        assert result == {"batchItemFailures": []}
    assert len(summaries(stack)) == 1
    run = boto3.client("dynamodb", region_name=REGION).get_item(
        TableName="sweep-runs", Key={"pk": {"S": f"run#{load_event('sweep/schedule.json')['id']}"}, "sk": {"S": "run"}}
    )["Item"]
    assert (run["expected"]["N"], run["reported"]["N"], run["c_deleted"]["N"]) == ("1", "1", "2")


def test_a_repository_too_big_for_one_invocation_finishes_in_its_next_part(ecr, registry, stack):
    """The worker stops at a call boundary when its time runs short and queues the repository's next part; that part
    goes through the real queue and the real handler, re-reads and re-plans, and its result publishes the summary."""
    for number in range(5):
        push_image(ecr, REPO, f"nightly-{number}")
    rules = SweepRules(SweepMode.DELETE, min_age=timedelta(0), min_idle=timedelta(0))  # every untagged image is old
    ledger = DynamoRunLedger(make_client("dynamodb"), "sweep-runs")
    first = RepositoryMessage("run-big", REPO)
    ledger.start_run(
        RunStart(
            "run-big",
            SweepMode.DELETE,
            datetime.now(UTC),
            datetime.now(UTC) + timedelta(hours=6),
            (UnitRef(first.unit_id, REPO),),
        )
    )
    registry_adapter = EcrRegistry(make_client("ecr"))
    worker = SweepWorker(
        registry_adapter,
        registry_adapter,
        rules,
        ExemptionSettings(),
        in_use=InspectorUsage(make_client("inspector2")),
        queue=SqsQueue(make_client("sqs"), stack["SWEEP_QUEUE_URL"]),
        ledger=ledger,
        batch_size=2,
        registry_api=RegistryApi.CORE,
    )
    calls = iter([900.0, 900.0])  # time to start and to make one delete call; then the invocation runs short
    report = worker.handle(first, lambda: next(calls, 10.0)).report
    assert report.count(Outcome.DELETED) == 2 and report.count(Outcome.CONTINUED) == 5
    assert len(remaining(ecr)) == 11 - 2
    following = receive_all(stack["SWEEP_QUEUE_URL"])
    assert [parse_message(m["Body"]) for m in following] == [first.next_part()]

    overrides = {
        "NotifySweep": "true",
        "SweepMode": "delete",
        "SweepMinAgeDays": "0",
        "SweepMinIdleDays": "0",
        **CORE_API,
    }
    result = invoke_function(str(TEMPLATE), "SweepWorkerFunction", sqs_event(following), overrides, environment(stack))
    assert result == {"batchItemFailures": []}
    # The orphan, the "fresh" image and the five nightlies went; the multi-arch image and its signature stayed.
    assert remaining(ecr) == {registry[name] for name in ("index", "amd64", "arm64", "signature")}
    (summary,) = summaries(stack)
    assert "7 untagged images deleted" in summary["Subject"]


def test_the_sample_events_run_through_the_cli_invoke_command(ecr, registry, capsys):
    code, out, _ = cli(capsys, "invoke", "SweepPlannerFunction", "--event", "events/sweep/schedule.json")
    assert code == 0
    planned = json.loads(out)
    assert planned["repositories"] == [REPO] and len(planned["wouldSend"]) == 1  # no queue locally: nothing sent
    for sample in ("repository-messages.json", "continuation-part.json", "deadline.json"):
        code, out, _ = cli(
            capsys,
            "invoke",
            "SweepWorkerFunction",
            "--event",
            f"events/sweep/{sample}",
            "--parameter-overrides",
            "RegistryApi=core",  # the emulator serves ECR's core API only
        )
        assert code == 0 and json.loads(out) == {"batchItemFailures": []}
    assert len(remaining(ecr)) == 6  # the functions' default mode is dry-run


def test_the_demos_sweep_removes_only_the_orphan_and_says_how(ecr, emulator_endpoint, capsys):
    ecr.create_repository(repositoryName=demo.SWEPT)
    demo.sweep_demo(ecr, emulator_endpoint)
    out = capsys.readouterr().out
    deleted = [line.split()[-2:] for line in out.splitlines() if line.startswith("  DELETED")]
    assert deleted == [["orphan", "ci-build-412"]]
    assert out.count("  kept   ") == 5
    assert "cannot backdate" in out and "A deployed sweep uses 14 and 30 days" in out

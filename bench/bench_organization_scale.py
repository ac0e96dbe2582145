"""An organization hub's daily reconcile of 500 accounts x 10 regions x 20 repositories, 30 ms a call: calls against
the minimum, wall time against the ideal for the Lambda concurrency the template sets.

Every AWS call is made by a real botocore client of the real code - the hub's router (EnforcementHub: ListAccounts,
one AssumeRole per member to check it is onboarded, SendMessageBatch to the FIFO work queue) and the member worker
(MemberWorker of EnforceMemberFunction: AssumeRole, then the single-account reconcile in the member) - and answered
in memory by a botocore `before-call` hook that sleeps `--latency-ms` first. Lambda is simulated: `MemberConcurrency`
containers (the template's default) poll the FIFO queue, each taking up to `BatchSize` messages of one message group
that is not in flight (FIFO's rule), each with its own MemberWorker, so credentials and clients are kept per container
as in Lambda. The containers start with the schedule: they work while the router still sends.

Minimum (the issue's): per account-region, the single-account steady-state minimum (DescribeRepositories pages, one
GetLifecyclePolicy per repository, tagging pages, the 5 registry reads), plus one AssumeRole per account-region.
Ideal wall time: minimum calls x latency / MemberConcurrency. Targets: calls <= 1.02 x; wall <= 1.3 x.

Run: .venv/bin/python bench/bench_organization_scale.py [--accounts 500] [--regions 10] [--repositories 20]
(about 4 minutes at the defaults on 2 cores; --accounts 50 gives a first look in about 20 s).
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any, NamedTuple

import boto3
from bench_enforce_scale import Response, SimulatedRegistry
from ecr_governance import SERVICE_NAME
from ecr_governance.aws.accounts import MemberSessions
from ecr_governance.aws.clients import make_client
from ecr_governance.aws.organizations import OrganizationsDirectory
from ecr_governance.aws.sqs import FifoWorkQueue
from ecr_governance.enforce.events import Provenance
from ecr_governance.enforce.hub import EnforcementHub
from ecr_governance.enforce.invocation import Invocation
from ecr_governance.enforce.settings import EnforceSettings
from ecr_governance.organization.membership import CachedMembership, Target
from ecr_governance.schedule import SCHEDULE_DETAIL_TYPE, SCHEDULE_SOURCE
from ecr_governance_cli.registry_stand_in import answer_in_memory
from ecr_governance_cli.template_env import load_template
from handlers import enforce_member
from handlers.enforce_member import MemberWorker

HUB_ACCOUNT = "999999999999"
HUB_REGION = "eu-west-1"
ROLE = "ecr-governance-member"
QUEUE_URL = f"https://sqs.{HUB_REGION}.amazonaws.com/{HUB_ACCOUNT}/ecr-governance-member-work.fifo"
ALL_REGIONS = [
    *("eu-west-1", "eu-west-2", "eu-central-1", "eu-north-1", "us-east-1", "us-east-2", "us-west-2", "ap-southeast-1"),
    *("ap-southeast-2", "ap-northeast-1", "ca-central-1", "sa-east-1", "ap-south-1", "eu-west-3", "us-west-1"),
]
ACCOUNTS_PER_PAGE = 20  # ListAccounts' largest MaxResults


class Organization:
    """Every AWS answer of the run, each after the round trip: the members' registries, STS, Organizations, SQS."""

    def __init__(self, accounts: int, regions: tuple[str, ...], repositories: int, latency: float):
        self.accounts = [f"{100000000000 + n:012d}" for n in range(accounts)]
        self.regions = regions
        self.repositories = repositories
        self.latency = latency
        self.calls: Counter[str] = Counter()
        self.queue: deque[dict[str, str]] = deque()
        self._registries: dict[tuple[str, str], SimulatedRegistry] = {}
        self._lock = threading.Lock()

    def _round_trip(self, operation: str) -> None:
        with self._lock:
            self.calls[operation] += 1
        time.sleep(self.latency)

    def member(self, account: str, region: str) -> Callable[[str, dict[str, Any]], tuple[Response, dict[str, Any]]]:
        def answer(operation: str, params: dict[str, Any]) -> tuple[Response, dict[str, Any]]:
            self._round_trip(operation)
            with self._lock:
                registry = self._registries.get((account, region))
                if registry is None:
                    registry = SimulatedRegistry(self.repositories, 0, account, region)
                    self._registries[(account, region)] = registry
            return Response(), registry.respond(operation, params)

        return answer

    def hub(self, operation: str, params: dict[str, Any]) -> tuple[Response, dict[str, Any]]:
        self._round_trip(operation)
        return Response(), getattr(self, f"_{operation}")(params)

    def _AssumeRole(self, params: dict[str, Any]) -> dict[str, Any]:
        account = params["RoleArn"].split(":")[4]
        expires = datetime.now(UTC) + timedelta(hours=1)
        credentials = {"AccessKeyId": f"ASIA{account}", "SecretAccessKey": "s", "SessionToken": "t"}
        return {"Credentials": {**credentials, "Expiration": expires}}

    def _ListAccounts(self, params: dict[str, Any]) -> dict[str, Any]:
        start = int(params.get("NextToken") or 0)
        end = start + min(params.get("MaxResults") or ACCOUNTS_PER_PAGE, ACCOUNTS_PER_PAGE)
        page = [{"Id": a, "Name": f"team-{a[-4:]}", "Status": "ACTIVE"} for a in self.accounts[start:end]]
        return {"Accounts": page, **({"NextToken": str(end)} if end < len(self.accounts) else {})}

    def _SendMessageBatch(self, params: dict[str, Any]) -> dict[str, Any]:
        entries = params["Entries"]
        with self._lock:
            self.queue.extend({"group": e["MessageGroupId"], "body": e["MessageBody"]} for e in entries)
        return {"Successful": [{"Id": e["Id"], "MessageId": e["Id"], "MD5OfMessageBody": "-"} for e in entries]}


class SimulatedMembers(MemberSessions):
    """The real MemberSessions (its AssumeRole, credential and client keeping) whose calls the organization answers."""

    def __init__(self, organization: Organization):
        base = boto3.session.Session(aws_access_key_id="hub", aws_secret_access_key="hub", region_name=HUB_REGION)
        super().__init__(base, ROLE)
        self._organization = organization
        self._sts = answer_in_memory(make_client("sts", session=base), organization.hub)

    def client(self, service: str, account_id: str, region: str) -> Any:
        return answer_in_memory(
            super().client(service, account_id, region), self._organization.member(account_id, region)
        )


def hub_client(organization: Organization, service: str) -> Any:
    session = boto3.session.Session(aws_access_key_id="hub", aws_secret_access_key="hub", region_name=HUB_REGION)
    return answer_in_memory(make_client(service, session=session), organization.hub)


def membership_of(organization: Organization, settings: EnforceSettings) -> CachedMembership:
    directory = OrganizationsDirectory(hub_client(organization, "organizations"))
    return CachedMembership(directory, organization.regions, (), ROLE, timedelta(minutes=10), lambda: datetime.now(UTC))


class Lambda:
    """SQS FIFO + Lambda's event source mapping: `containers` pollers, a batch of up to `batch_size` messages of one
    message group at a time, a group never worked on by two containers at once."""

    def __init__(self, organization: Organization, workers: list[MemberWorker], batch_size: int):
        self.organization = organization
        self.workers = workers
        self.batch_size = batch_size
        self.in_flight: set[str] = set()
        self.sending = True
        self.results: Counter[str] = Counter()
        self._lock = threading.Lock()

    def run(self) -> None:
        threads = [threading.Thread(target=self._poll, args=(worker,)) for worker in self.workers]
        for thread in threads:
            thread.start()
        self._threads = threads

    def join(self) -> None:
        self.sending = False
        for thread in self._threads:
            thread.join()

    def _take(self) -> tuple[str, list[dict[str, str]]] | None:
        with self._lock:
            queue = self.organization.queue
            for position, message in enumerate(queue):
                group = message["group"]
                if group in self.in_flight:
                    continue
                batch = [m for m in list(queue)[position:] if m["group"] == group][: self.batch_size]
                for taken in batch:
                    queue.remove(taken)
                self.in_flight.add(group)
                return group, batch
            return None

    def _poll(self, worker: MemberWorker) -> None:
        while True:
            taken = self._take()
            if taken is None:
                with self._lock:
                    done = not self.sending and not self.organization.queue and not self.in_flight
                if done:
                    return
                time.sleep(0.005)
                continue
            group, batch = taken
            for message in batch:
                result = worker.work(json.loads(message["body"]), invocation_for)
                summary = result.get("summary", {})
                with self._lock:
                    self.results[f"messages {result.get('status')}"] += 1
                    self.results["repositories"] += summary.get("repositories", 0)
                    self.results["non-compliant after"] += summary.get("non_compliant_after", 0)
                    self.results["failed"] += summary.get("failed", 0)
            with self._lock:
                self.in_flight.discard(group)


def invocation_for(target: Target) -> Invocation:
    return Invocation(
        function_arn=f"arn:aws:lambda:{HUB_REGION}:{HUB_ACCOUNT}:function:ecr-governance-EnforceMember",
        provenance=Provenance(target.account_id, target.region),
        out_of_time=lambda: False,
    )


def template_defaults() -> tuple[int, int, int]:
    """MemberConcurrency, the member queue's BatchSize, ReconcileConcurrency: as template.yaml sets them."""
    template = load_template(Path(__file__).resolve().parents[1] / "template.yaml")
    mapping = template["Resources"]["EnforceMemberEventSource"]["Properties"]
    parameters = template["Parameters"]
    return (
        int(parameters["MemberConcurrency"]["Default"]),
        int(mapping["BatchSize"]),
        int(parameters["ReconcileConcurrency"]["Default"]),
    )


def run(accounts: int, regions: int, repositories: int, latency: float) -> None:
    containers, batch_size, reconcile_concurrency = template_defaults()
    organization = Organization(accounts, tuple(ALL_REGIONS[:regions]), repositories, latency)
    settings = EnforceSettings.from_environ(
        {
            "GOVERNANCE_SCOPE": "organization",
            "MEMBER_ROLE_NAME": ROLE,
            "GOVERNED_REGIONS": ",".join(organization.regions),
            "WORK_QUEUE_URL": QUEUE_URL,
            "RECONCILE_CONCURRENCY": str(reconcile_concurrency),
            "MODE": "enforce",
        }
    )
    queue = FifoWorkQueue(hub_client(organization, "sqs"), QUEUE_URL)
    router = EnforcementHub(
        membership_of(organization, settings), SimulatedMembers(organization), queue, settings.organization
    )
    workers = [
        MemberWorker(settings, SimulatedMembers(organization), membership_of(organization, settings), queue, None)
        for _ in range(containers)
    ]
    service = Lambda(organization, workers, batch_size)
    schedule = {
        "version": "0",
        "id": "bench-schedule",
        "detail-type": SCHEDULE_DETAIL_TYPE,
        "source": SCHEDULE_SOURCE,
        "account": HUB_ACCOUNT,
        "region": HUB_REGION,
        "detail": {},
    }
    targets = accounts * regions
    print(
        f"organization reconcile: {accounts:,} accounts x {regions} regions x {repositories} repositories "
        f"({targets * repositories:,} repositories), {latency * 1000:g} ms a call; template: MemberConcurrency="
        f"{containers}, BatchSize={batch_size}, ReconcileConcurrency={reconcile_concurrency}"
    )
    started = time.perf_counter()
    service.run()
    outcome = router.route(schedule, Provenance(HUB_ACCOUNT, HUB_REGION))
    service.join()
    wall = time.perf_counter() - started
    report(organization, outcome.as_dict(), service.results, wall, Scale(containers, targets, repositories, latency))


class Scale(NamedTuple):
    concurrency: int  # member workers at once (the template's MemberConcurrency)
    targets: int  # account-regions
    repositories: int  # per account-region
    latency: float  # seconds a call


def report(
    organization: Organization, fan_out: dict[str, Any], results: Counter[str], wall: float, scale: Scale
) -> None:
    concurrency, targets, repositories, latency = scale
    exempt = len(SimulatedRegistry(repositories, 0).exempt)  # tagged exempt: no lifecycle policy read
    per_target = (
        math.ceil(repositories / 1000)  # DescribeRepositories pages
        + (repositories - exempt)  # one GetLifecyclePolicy per repository not exempt
        + max(1, math.ceil(exempt / 100))  # tagging pages
        + 5  # registry scanning, registry policy, cache rules, creation templates, pull-time update exclusions
    )
    minimum = targets * per_target + targets  # + one AssumeRole per account-region
    calls = organization.calls
    total = sum(calls.values())
    ideal = minimum * latency / concurrency
    print(f"  fan-out: {fan_out}")
    print(f"  work messages: {dict(results)}")
    print(f"  calls by operation: {dict(sorted(calls.items()))}")
    print(f"  calls {total:,} against the minimum {minimum:,}: {total / minimum:.3f} (target <= 1.02)")
    print(
        f"  wall {wall:.1f} s against the ideal {ideal:.1f} s (minimum calls x latency / {concurrency}): "
        f"{wall / ideal:.3f} (target <= 1.3)"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=500)
    parser.add_argument("--regions", type=int, default=10, choices=range(1, len(ALL_REGIONS) + 1))
    parser.add_argument("--repositories", type=int, default=20)
    parser.add_argument("--latency-ms", type=float, default=30.0)
    args = parser.parse_args()
    # Lambda flushes a container's metrics at the end of each invocation; Powertools keeps one metric set a process,
    # which ten simulated containers would share (and overflow). The metrics are not what is measured here.
    enforce_member.metrics = SimpleNamespace(add_metric=lambda **_: None)
    for name in list(logging.root.manager.loggerDict):  # one log line a decision: not what is measured here
        if name == SERVICE_NAME or name.startswith(f"{SERVICE_NAME}."):
            logging.getLogger(name).setLevel(logging.WARNING)
    run(args.accounts, args.regions, args.repositories, args.latency_ms / 1000)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""A steady-state reconcile of 10,000 compliant repositories with a 30 ms round trip per call: parallel vs sequential.

Against real ECR each call costs tens of milliseconds, not the emulator's 3 ms, so a sequential reconcile of a large
registry nears Lambda's 900 s limit. This bench answers every ECR and Resource Groups Tagging API call of real
botocore clients from an in-memory registry through a `before-call` hook (request validation, pagination and
response parsing are botocore's own; maxResults is honoured, unlike moto) and sleeps 30 ms per call, then times the
same reconcile with ReconcileConcurrency=8 (the default) and =1 (the baseline).

Targets (issue "Enforcement at registry scale"): wall time with 8 <= 1/6 of the time with 1; calls per reconcile
<= 1.05 x (DescribeRepositories pages + one GetLifecyclePolicy per repository + tagging pages + 5 registry reads).

Run: .venv/bin/python bench/bench_enforce_scale.py [--repositories 10000] [--latency-ms 30]
(about 5 minutes at the defaults, most of it the sequential baseline).
"""

from __future__ import annotations

import argparse
import json
import math
import threading
import time
from collections import Counter
from typing import Any

import boto3
from ecr_governance.aws.ecr import EcrRegistry
from ecr_governance.aws.tagging import TaggingApi
from ecr_governance.enforce.creation_templates import standard_template
from ecr_governance.enforce.service import Enforcer
from ecr_governance.enforce.settings import EnforceSettings
from ecr_governance_cli.registry_stand_in import answer_in_memory

REGION = "ap-southeast-1"
ACCOUNT = "123456789012"
EXEMPT_KEY = "ecr-governance:exempt"


class Response:
    status_code = 200
    headers: dict[str, str] = {}


class SimulatedRegistry:
    """A compliant registry answering botocore calls: every repository IMMUTABLE, scan on push, the standard policy;
    1% tagged exempt (tag-mutability and lifecycle); registry scanning BASIC with `*`."""

    def __init__(self, count: int, latency: float, account: str = ACCOUNT, region: str = REGION):
        self.latency = latency
        self.account, self.region = account, region
        self.names = [f"team-{i % 50:02}/service-{i:05}" for i in range(count)]
        self.exempt = {name for i, name in enumerate(self.names) if i % 100 == 7}
        self.policy = json.dumps(EnforceSettings.from_environ({}).standard_lifecycle_policy)
        self.calls: Counter[str] = Counter()
        self._lock = threading.Lock()

    def attach(self, client: Any) -> Any:
        return answer_in_memory(client, self.answer)

    def answer(self, operation_name: str, params: dict[str, Any]) -> tuple[Response, dict[str, Any]]:
        with self._lock:
            self.calls[operation_name] += 1
        time.sleep(self.latency)
        return Response(), self.respond(operation_name, params)

    def respond(self, operation_name: str, params: dict[str, Any]) -> dict[str, Any]:
        """The parsed answer to one call, at once."""
        return getattr(self, f"_{operation_name}")(params)

    def _page(self, items: list[Any], params: dict[str, Any], token_key: str, size_key: str, default: int):
        start = int(params.get(token_key) or 0)
        size = params.get(size_key) or default
        end = start + size
        return items[start:end], (str(end) if end < len(items) else None)

    def _DescribeRepositories(self, params: dict[str, Any]) -> dict[str, Any]:
        page, token = self._page(self.names, params, "nextToken", "maxResults", 100)
        repositories = [
            {
                "repositoryName": name,
                "repositoryArn": f"arn:aws:ecr:{self.region}:{self.account}:repository/{name}",
                "imageTagMutability": "IMMUTABLE",
                "imageScanningConfiguration": {"scanOnPush": True},
            }
            for name in page
        ]
        return {"repositories": repositories, **({"nextToken": token} if token else {})}

    def _GetLifecyclePolicy(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"repositoryName": params["repositoryName"], "lifecyclePolicyText": self.policy}

    # The registry settings ECR added in 2025-26: no cache rule, our ROOT template, no exclusion, no registry policy.
    def _DescribePullThroughCacheRules(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"pullThroughCacheRules": []}

    def _DescribeRepositoryCreationTemplates(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"repositoryCreationTemplates": [_root_template_of(EnforceSettings.from_environ({}))]}

    def _ListPullTimeUpdateExclusions(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"pullTimeUpdateExclusions": []}

    def _GetRegistryPolicy(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"registryId": self.account, "policyText": ""}

    def _GetRegistryScanningConfiguration(self, params: dict[str, Any]) -> dict[str, Any]:
        rule = {"scanFrequency": "SCAN_ON_PUSH", "repositoryFilters": [{"filter": "*", "filterType": "WILDCARD"}]}
        return {"registryId": self.account, "scanningConfiguration": {"scanType": "BASIC", "rules": [rule]}}

    def _GetResources(self, params: dict[str, Any]) -> dict[str, Any]:
        tagged = sorted(self.exempt)
        page, token = self._page(tagged, params, "PaginationToken", "ResourcesPerPage", 50)
        mappings = [
            {
                "ResourceARN": f"arn:aws:ecr:{self.region}:{self.account}:repository/{name}",
                "Tags": [{"Key": EXEMPT_KEY, "Value": "true"}],
            }
            for name in page
        ]
        return {"ResourceTagMappingList": mappings, "PaginationToken": token or ""}


def _root_template_of(settings: EnforceSettings) -> dict[str, Any]:
    template = standard_template(settings)
    return {
        "prefix": template.prefix,
        "description": template.description,
        "appliedFor": list(template.applied_for),
        "imageTagMutability": template.tag_mutability,
        "lifecyclePolicy": template.lifecycle_policy,
    }


def reconcile(count: int, latency: float, concurrency: int) -> tuple[float, Counter[str], dict[str, int], int]:
    registry = SimulatedRegistry(count, latency)
    session = boto3.session.Session(aws_access_key_id="x", aws_secret_access_key="x", region_name=REGION)
    ecr = registry.attach(session.client("ecr"))
    tagging = registry.attach(session.client("resourcegroupstaggingapi"))
    settings = EnforceSettings.from_environ({"RECONCILE_CONCURRENCY": str(concurrency)})
    enforcer = Enforcer(EcrRegistry(ecr), settings, TaggingApi(tagging))
    started = time.perf_counter()
    report = enforcer.apply(enforcer.assess())
    elapsed = time.perf_counter() - started
    return elapsed, registry.calls, report.summary(), len(registry.exempt)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repositories", type=int, default=10_000)
    parser.add_argument("--latency-ms", type=float, default=30.0)
    args = parser.parse_args()
    latency = args.latency_ms / 1000
    print(f"steady-state reconcile of {args.repositories:,} compliant repositories, {args.latency_ms:g} ms per call")
    parallel, calls, summary, exempt = reconcile(args.repositories, latency, 8)
    print(f"  ReconcileConcurrency=8: {parallel:7.1f} s  calls {dict(sorted(calls.items()))}")
    sequential, sequential_calls, _, _ = reconcile(args.repositories, latency, 1)
    print(f"  ReconcileConcurrency=1: {sequential:7.1f} s  (baseline)")
    ratio = parallel / sequential
    print(f"  wall time ratio 8 / 1 = {ratio:.3f} (target <= {1 / 6:.3f}, i.e. at least 6x faster)")
    bound = (
        math.ceil(args.repositories / 1000)  # DescribeRepositories pages
        + (args.repositories - exempt)  # one GetLifecyclePolicy per repository not exempt from lifecycle
        + max(1, math.ceil(exempt / 100))  # tagging pages
        + 2  # registry scanning, the registry policy
        + 3  # cache rules, creation templates, pull-time update exclusions
    )
    total = sum(calls.values())
    print(f"  calls {total:,} against the bound's base {bound:,}: {total / bound:.3f} (target <= 1.05)")
    print(
        f"  outcome: {summary['repositories']:,} repositories, {summary['non_compliant_after']} non-compliant, "
        f"{summary['failed']} failed; sequential made the same calls: {sequential_calls == calls}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

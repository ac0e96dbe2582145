"""ECR API calls of a full reconcile of 1,000 repositories, against the minimum the ECR API allows for that work.

Baseline ("minimal"): computed here from the seeded state alone, without reading the enforcer's own counters:
  ceil(N / 1000) DescribeRepositories pages
  + 1 GetRegistryScanningConfiguration, 1 GetRegistryPolicy (the registry policy aspect)
  + 1 ListTagsForResource per repository (tags are the only way to learn a tag exemption, and a name exemption
    covers tag mutability and lifecycle only: a tag may still exempt it from scan on push). The emulator does not
    serve the Resource Groups Tagging API for ECR, so this is the per-repository path; bench_enforce_scale.py
    measures the bulk one.
  + 1 GetLifecyclePolicy per repository not exempt from lifecycle (by name or tag)
  + 1 write per per-repository violation: PutImageTagMutability (not exempt; MUTABLE*, or exclusion filters outside
    the allowed set), PutImageScanningConfiguration (registry scanning is BASIC and scanOnPush is false: exempt
    repositories too, a plain exemption does not cover scanning), PutLifecyclePolicy (not exempt; no policy)
  + when any repository is not covered by a scan-on-push rule: 1 PutRegistryScanningConfiguration, with the
    GetRegistryScanningConfiguration right before it (the write is merged into what is there then, so a concurrent
    change is never lost) and one after it (read back and logged).
Target: ours / minimal = 1.0, and 0 writes on a second reconcile. Nothing here is timed.

Run: `make bench` (or .venv/bin/python bench/bench_enforce_api_calls.py). Runs on the embedded emulator (moto).
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import math
import sys
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

import boto3
from ecr_governance.aws.ecr import MAX_REPOSITORIES_PAGE, EcrRegistry
from ecr_governance.enforce.service import Enforcer
from ecr_governance.enforce.settings import EnforceSettings, load_standard_lifecycle_policy
from ecr_governance.wildcard import scanning_filter_matches
from ecr_governance_cli.callcount import EcrCallCounter
from ecr_governance_cli.emulator import emulator_environment, start_emulator

REGION = "ap-southeast-1"
REPOSITORY_COUNT = 1000
TEAMS = ("mlops", "team-search", "team-web", "team-data", "team-ml", "team-payments", "platform")
SCANNED_PREFIX = "mlops/*"  # the registry's one partial BASIC scan-on-push rule
EXEMPT_PATTERN = "sandbox/*"
EXEMPT_TAG = {"Key": "ecr-governance:exempt", "Value": "true"}
ALLOWED_FILTER = "sha256-*"
# The emulator serves ECR's core API only (RegistryApi=core): the registry settings ECR added in 2025 are not read.
SETTINGS = {
    "EXEMPT_REPOSITORY_PATTERNS": EXEMPT_PATTERN,
    "ALLOWED_EXCLUSION_FILTERS": ALLOWED_FILTER,
    "REGISTRY_API": "core",
}
CUSTOM_POLICY = {
    "rules": [
        {
            "rulePriority": 1,
            "selection": {"tagStatus": "untagged", "countType": "imageCountMoreThan", "countNumber": 50},
            "action": {"type": "expire"},
        }
    ]
}
WRITE_OPERATIONS = (
    "PutImageTagMutability",
    "PutImageScanningConfiguration",
    "PutLifecyclePolicy",
    "PutRegistryScanningConfiguration",
)
OPERATIONS = (
    "DescribeRepositories",
    "GetRegistryScanningConfiguration",
    "GetRegistryPolicy",
    "ListTagsForResource",
    "GetLifecyclePolicy",
    *WRITE_OPERATIONS,
)


@dataclass(frozen=True)
class SeededRepository:
    name: str
    mutability: str
    exclusion_filters: tuple[str, ...]
    scan_on_push: bool
    policy: str  # "standard" | "custom" | "none"
    exempt_tag: bool


def seed_plan(count: int) -> list[SeededRepository]:
    """A deterministic mix, by i % 20 (each step 5%): 40% compliant, 20% MUTABLE, 15% IMMUTABLE_WITH_EXCLUSION
    (allowed / disallowed filters), 15% without a lifecycle policy, 5% custom policy, 5% exempt by tag; every
    50th repository (2%) lives under sandbox/ and is exempt by name."""
    plan = []
    for i in range(count):
        team = "sandbox" if i % 50 == 7 else TEAMS[i % len(TEAMS)]
        name = f"{team}/service-{i:04d}"
        bucket = i % 20
        if bucket < 8:
            repository = ("IMMUTABLE", (), True, "standard", False)
        elif bucket < 12:
            repository = ("MUTABLE", (), bucket % 2 == 0, "standard", False)
        elif bucket == 12:
            repository = ("IMMUTABLE_WITH_EXCLUSION", (ALLOWED_FILTER,), True, "standard", False)
        elif bucket == 13:
            repository = ("IMMUTABLE_WITH_EXCLUSION", ("latest",), True, "none", False)
        elif bucket == 14:
            repository = ("IMMUTABLE_WITH_EXCLUSION", (ALLOWED_FILTER, "release-*"), False, "standard", False)
        elif bucket == 15:
            repository = ("MUTABLE_WITH_EXCLUSION", ("dev-*",), False, "none", False)
        elif bucket < 18:
            repository = ("IMMUTABLE", (), True, "none", False)
        elif bucket == 18:
            repository = ("MUTABLE", (), False, "custom", False)
        else:
            repository = ("MUTABLE", (), False, "none", True)
        plan.append(SeededRepository(name, *repository))
    return plan


def seed(ecr: Any, plan: list[SeededRepository], standard_policy: dict[str, Any]) -> None:
    for repository in plan:
        extra: dict[str, Any] = {}
        if repository.exclusion_filters:
            extra["imageTagMutabilityExclusionFilters"] = [
                {"filterType": "WILDCARD", "filter": f} for f in repository.exclusion_filters
            ]
        if repository.exempt_tag:
            extra["tags"] = [EXEMPT_TAG]
        ecr.create_repository(
            repositoryName=repository.name,
            imageTagMutability=repository.mutability,
            imageScanningConfiguration={"scanOnPush": repository.scan_on_push},
            **extra,
        )
        if repository.policy != "none":
            text = json.dumps(standard_policy if repository.policy == "standard" else CUSTOM_POLICY)
            ecr.put_lifecycle_policy(repositoryName=repository.name, lifecyclePolicyText=text)
    ecr.put_registry_scanning_configuration(
        scanType="BASIC",
        rules=[
            {
                "scanFrequency": "SCAN_ON_PUSH",
                "repositoryFilters": [{"filter": SCANNED_PREFIX, "filterType": "WILDCARD"}],
            }
        ],
    )


def minimal_calls(plan: list[SeededRepository]) -> Counter[str]:
    """The fewest ECR calls that can read and remediate the seeded state (see the module docstring)."""
    minimal: Counter[str] = Counter(
        DescribeRepositories=math.ceil(len(plan) / MAX_REPOSITORIES_PAGE),
        GetRegistryScanningConfiguration=1,
        GetRegistryPolicy=1,
    )
    uncovered = False
    for repository in plan:
        minimal["ListTagsForResource"] += 1
        if not repository.scan_on_push:
            minimal["PutImageScanningConfiguration"] += 1
        uncovered = uncovered or not fnmatch.fnmatchcase(repository.name, SCANNED_PREFIX)
        if repository.exempt_tag or fnmatch.fnmatchcase(repository.name, EXEMPT_PATTERN):
            continue  # exempt from tag mutability and lifecycle
        minimal["GetLifecyclePolicy"] += 1
        mutable = repository.mutability.startswith("MUTABLE")
        outside_allowed = any(f != ALLOWED_FILTER for f in repository.exclusion_filters)
        if mutable or (repository.mutability == "IMMUTABLE_WITH_EXCLUSION" and outside_allowed):
            minimal["PutImageTagMutability"] += 1
        if repository.policy == "none":
            minimal["PutLifecyclePolicy"] += 1
    minimal["PutRegistryScanningConfiguration"] = int(uncovered)
    minimal["GetRegistryScanningConfiguration"] += 2 * int(uncovered)  # read right before the write, read back
    return minimal


class CallCounter(EcrCallCounter):
    """The shared counter, also noting the page size our DescribeRepositories listings ask for."""

    def __init__(self) -> None:
        super().__init__()
        self.page_sizes: set[int | None] = set()  # maxResults our DescribeRepositories requests ask for

    def __call__(self, model: Any, params: dict[str, Any], **_: Any) -> None:
        super().__call__(model)
        if model.name == "DescribeRepositories":
            request = json.loads(params.get("body") or b"{}")  # the serialized request (awsJson1_1)
            if "repositoryNames" not in request:
                self.page_sizes.add(request.get("maxResults"))


def reconcile(client: Any, settings: EnforceSettings) -> tuple[CallCounter, dict[str, int]]:
    counter = CallCounter()
    counter.attach(client)
    try:
        enforcer = Enforcer(EcrRegistry(client), settings)
        report = enforcer.apply(enforcer.assess())
    finally:
        counter.detach(client)
    return counter, report.summary()


def _ratio(ours: int, minimal: int) -> str:
    if minimal == 0:
        return "-" if ours == 0 else "inf"
    return f"{ours / minimal:.2f}"


def print_table(ours: Counter[str], minimal: Counter[str]) -> float:
    names = [*OPERATIONS, *sorted(set(ours) - set(OPERATIONS))]
    print(f"  {'operation':<36}{'ours':>8}{'minimal':>9}{'ratio':>8}")
    for name in names:
        print(f"  {name:<36}{ours[name]:>8}{minimal[name]:>9}{_ratio(ours[name], minimal[name]):>8}")
    total_ours, total_minimal = sum(ours.values()), sum(minimal.values())
    print(f"  {'total':<36}{total_ours:>8}{total_minimal:>9}{_ratio(total_ours, total_minimal):>8}")
    return total_ours / total_minimal


def remaining_violations(ecr: Any, plan: list[SeededRepository], standard_policy: dict[str, Any]) -> Counter[str]:
    """Read the registry back (uncounted) and count what is still off the standard, by the bench's own rules."""
    remaining: Counter[str] = Counter()
    by_name = {r.name: r for r in plan}
    rules = ecr.get_registry_scanning_configuration()["scanningConfiguration"].get("rules", [])
    filters = [f["filter"] for rule in rules if rule["scanFrequency"] != "MANUAL" for f in rule["repositoryFilters"]]
    for page in ecr.get_paginator("describe_repositories").paginate():
        for raw in page["repositories"]:
            seeded = by_name[raw["repositoryName"]]
            remaining["repository scanOnPush"] += not raw["imageScanningConfiguration"]["scanOnPush"]
            remaining["registry scan-on-push coverage"] += not any(
                scanning_filter_matches(f, seeded.name) for f in filters
            )
            if seeded.exempt_tag or fnmatch.fnmatchcase(seeded.name, EXEMPT_PATTERN):
                continue
            exclusions = [f["filter"] for f in raw.get("imageTagMutabilityExclusionFilters") or []]
            mutability = raw["imageTagMutability"]
            allowed = mutability == "IMMUTABLE_WITH_EXCLUSION" and all(f == ALLOWED_FILTER for f in exclusions)
            remaining["tag mutability"] += not (mutability == "IMMUTABLE" or allowed)
            try:
                policy = json.loads(ecr.get_lifecycle_policy(repositoryName=seeded.name)["lifecyclePolicyText"])
                remaining["lifecycle policy"] += seeded.policy == "standard" and policy != standard_policy
            except ecr.exceptions.LifecyclePolicyNotFoundException:
                remaining["lifecycle policy"] += 1
    return remaining


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--repositories", type=int, default=REPOSITORY_COUNT, help=f"how many (default {REPOSITORY_COUNT})"
    )
    plan = seed_plan(parser.parse_args().repositories)
    standard_policy = load_standard_lifecycle_policy("")
    emulator = start_emulator()
    try:
        with emulator_environment(emulator.endpoint_url, REGION):
            started = time.perf_counter()
            seed(boto3.client("ecr", region_name=REGION), plan, standard_policy)
            print(f"seeded {len(plan)} repositories on the embedded emulator in {time.perf_counter() - started:.1f} s")
            print(
                f"mix: {dict(Counter(r.mutability for r in plan))}; policies {dict(Counter(r.policy for r in plan))}; "
                f"exempt by tag {sum(r.exempt_tag for r in plan)}, by name ({EXEMPT_PATTERN}) "
                f"{sum(fnmatch.fnmatchcase(r.name, EXEMPT_PATTERN) for r in plan)}; registry BASIC, {SCANNED_PREFIX}"
            )
            settings = EnforceSettings.from_environ(SETTINGS)
            client = boto3.client("ecr", region_name=REGION)
            minimal = minimal_calls(plan)

            print("\nfull reconcile #1 - baseline: minimal ECR calls for this work (computed from the seeded state)")
            first, first_summary = reconcile(client, settings)
            ratio = print_table(first.calls, minimal)
            print(f"  ratio ours/minimal = {ratio:.3f} (target 1.0)")
            print(f"  outcome: {first_summary}")
            remaining = remaining_violations(boto3.client("ecr", region_name=REGION), plan, standard_policy)
            print(f"  read back (uncounted), non-exempt repositories still off the standard: {dict(remaining)}")

            print("\nfull reconcile #2 - baseline: the same reads, 0 writes")
            second, second_summary = reconcile(client, settings)
            second_minimal = Counter({n: c for n, c in minimal.items() if n not in WRITE_OPERATIONS})
            second_minimal["GetRegistryScanningConfiguration"] = 1  # nothing to write: no read before or after it
            second_ratio = print_table(second.calls, second_minimal)
            writes = sum(n for name, n in second.calls.items() if name.startswith(("Put", "Delete", "Batch")))
            print(f"  ratio ours/minimal = {second_ratio:.3f} (target 1.0); writes = {writes} (target 0)")
            print(f"  outcome: {second_summary}")
            requested = first.page_sizes | second.page_sizes
            aws_pages = (
                math.ceil(len(plan) / min(requested))
                if requested and None not in requested
                else "unknown (default 100)"
            )
            print(
                "\nnote: moto ignores maxResults on DescribeRepositories (it returns every repository in one page), so"
                f" the page count above is moto's. Our client requests maxResults={sorted(requested, key=str)}; on AWS"
                f" that is {aws_pages} DescribeRepositories page(s) for {len(plan)} repositories"
                f" (minimal: ceil(N/{MAX_REPOSITORIES_PAGE}) = {minimal['DescribeRepositories']})."
            )
    finally:
        emulator.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())

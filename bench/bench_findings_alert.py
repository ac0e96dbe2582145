"""One alert for an image with 10,000 findings across every severity: size, memory and API calls against baselines;
then the worst cases issue 16 found (700 long tags, 12,000 findings of one package) and the largest advisories.

Baselines:
  - SNS's limit: 256 KB (262,144 bytes, UTF-8) for every protocol body and for the whole message (attributes and
    subject included), as SNS counts it;
  - the raw findings pages read: the bytes of the DescribeImageScanFindings answers (JSON), against the peak memory
    the run allocates (tracemalloc) - target <= 3x;
  - the fewest calls the API allows: ceil(findings / 1000) DescribeImageScanFindings pages - target ratio 1.00.
The findings are served page by page through a botocore `before-call` hook (moto neither pages findings nor keeps
10,000 of them realistically): each page is parsed from its JSON text when requested, as botocore parses a response,
so the parsed pages count in the run's memory. The threshold is UNDEFINED - every finding is alerted, the worst case
for the alert's size. Nothing is timed against a target (the time is printed for reference).

Run: `make bench` (or .venv/bin/python bench/bench_findings_alert.py).
"""

from __future__ import annotations

import json
import math
import sys
import time
import tracemalloc
from datetime import date
from typing import Any

import boto3
from botocore.awsrequest import AWSResponse
from ecr_governance.aws.ecr import MAX_SCAN_FINDINGS_PAGE, EcrRegistry
from ecr_governance.findings.advisories import Advisory, Occurrence
from ecr_governance.findings.events import parse_scan_event
from ecr_governance.findings.ledger import GuardedPublisher, UnrecordedAlerts
from ecr_governance.findings.normalize import Finding, ScannedImage, Severity, severity_of
from ecr_governance.findings.policy import AlertRules, FindingsReport, Suppressions, decide
from ecr_governance.findings.reader import FindingsReader, RulesReader
from ecr_governance.findings.render import alert_notice
from ecr_governance.findings.render_advisory import advisory_notice
from ecr_governance.findings.scan_alerts import ScanAlerter
from ecr_governance.findings.settings import FindingsSettings
from ecr_governance.location import Location
from ecr_governance.notice import SNS_MESSAGE_MAX_BYTES, Notice, message_size_bytes, protocol_message
from ecr_governance_cli.scan_samples import scan_findings_response, synthetic_basic_findings

FINDING_COUNT = 10_000
REGION = "ap-southeast-1"
ACCOUNT = "123456789012"
REPOSITORY = "mlops/retail-api"
DIGEST = "sha256:" + "7f5b2640fe6fb4f46592dfd3410c4a79dac4f89e4782432e0378abcd1234abcd"[:64]
MEMORY_TARGET = 3.0


class FindingsPages:
    """Answers DescribeImageScanFindings from prepared JSON pages; counts the calls and the page size asked."""

    def __init__(self, pages: list[str]):
        self.pages = pages
        self.calls = 0
        self.page_sizes: set[int | None] = set()

    def __call__(self, params: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        self.calls += 1
        request = json.loads(params.get("body") or b"{}")
        self.page_sizes.add(request.get("maxResults"))
        token = request.get("nextToken")
        index = int(token.removeprefix("page-")) if token else 0
        return AWSResponse("https://ecr.local", 200, {}, None), json.loads(self.pages[index])


class CapturingPublisher:
    def __init__(self) -> None:
        self.notices: list[Notice] = []

    def publish(self, notice: Notice) -> None:
        self.notices.append(notice)


def prepared_pages(findings: list[dict[str, Any]]) -> list[str]:
    """The JSON text of each page, as ECR would send it (the whole scan's counts on every page)."""
    counts: dict[str, int] = {}
    for finding in findings:
        counts[finding["severity"]] = counts.get(finding["severity"], 0) + 1
    pages = []
    for start in range(0, len(findings), MAX_SCAN_FINDINGS_PAGE):
        number = start // MAX_SCAN_FINDINGS_PAGE
        last = start + MAX_SCAN_FINDINGS_PAGE >= len(findings)
        response = scan_findings_response(
            REPOSITORY,
            DIGEST,
            findings[start : start + MAX_SCAN_FINDINGS_PAGE],
            registry_id=ACCOUNT,
            next_token=None if last else f"page-{number + 1}",
            severity_counts=counts,
        )
        pages.append(json.dumps(response))
    return pages


def scan_event(counts: dict[str, int]) -> Any:
    event = {
        "version": "0",
        "id": "bench",
        "detail-type": "ECR Image Scan",
        "source": "aws.ecr",
        "account": ACCOUNT,
        "time": "2026-11-20T02:36:48Z",
        "region": REGION,
        "resources": [f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/{REPOSITORY}"],
        "detail": {
            "scan-status": "COMPLETE",
            "repository-name": REPOSITORY,
            "finding-severity-counts": counts,
            "image-digest": DIGEST,
            "image-tags": ["1.4.2"],
        },
    }
    return parse_scan_event(event, Location("aws", ACCOUNT, REGION))


def main() -> int:
    raw_findings = synthetic_basic_findings(FINDING_COUNT)
    pages = prepared_pages(raw_findings)
    raw_bytes = sum(len(page.encode()) for page in pages)
    counts: dict[str, int] = {}
    for finding in raw_findings:
        counts[finding["severity"]] = counts.get(finding["severity"], 0) + 1
    event = scan_event(counts)
    severity_by_id = {finding["name"]: severity_of(finding["severity"]) for finding in raw_findings}
    del raw_findings  # only the pages' text stays: the "wire"

    session = boto3.session.Session(aws_access_key_id="bench", aws_secret_access_key="bench", region_name=REGION)
    client = session.client("ecr")
    server = FindingsPages(pages)
    client.meta.events.register("before-call.ecr.DescribeImageScanFindings", server)
    publisher = CapturingPublisher()
    rules = RulesReader(FindingsSettings(severity_threshold=Severity.UNDEFINED))
    alerter = ScanAlerter(FindingsReader(EcrRegistry(client), rules), GuardedPublisher(UnrecordedAlerts(), publisher))

    tracemalloc.start()
    started = time.perf_counter()
    outcome = alerter.handle(event)
    elapsed = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    (notice,) = publisher.notices
    machine = json.loads(notice.bodies["sqs"])
    listed = [vulnerability["cve"]["uid"] for vulnerability in machine["vulnerabilities"]]
    omitted = set(severity_by_id) - set(listed)
    least_severe_listed = min(severity_by_id[finding_id].rank for finding_id in listed)
    most_severe_omitted = max((severity_by_id[finding_id].rank for finding_id in omitted), default=0)
    minimal_calls = math.ceil(FINDING_COUNT / MAX_SCAN_FINDINGS_PAGE)

    print(f"image with {FINDING_COUNT:,} findings ({dict(sorted(counts.items()))}), threshold UNDEFINED")
    print(f"outcome: {outcome.status}, {outcome.findings_alerted:,} alerted; {elapsed:.2f} s (reference only)")
    print("\nbodies - baseline: SNS's 256 KB limit (262,144 bytes, UTF-8)")
    for protocol, body in (("default/email", notice.text), *notice.bodies.items()):
        size = len(body.encode())
        print(f"  {protocol:<14}{size:>9,} bytes  ratio {size / SNS_MESSAGE_MAX_BYTES:.3f}")
    whole = message_size_bytes(notice)
    print(f"  {'whole message':<14}{whole:>9,} bytes  ratio {whole / SNS_MESSAGE_MAX_BYTES:.3f} (target <= 1.000)")
    print(f"  (MessageStructure=json document alone: {len(protocol_message(notice).encode()):,} bytes)")
    print(f"  subject: {notice.subject!r} ({len(notice.subject)} characters, SNS allows 99)")
    print(
        f"  findings listed {len(listed):,}, omitted {len(omitted):,} ('... and {len(omitted):,} more');"
        f" most severe kept: {'yes' if least_severe_listed >= most_severe_omitted else 'NO'}"
    )
    print("\nmemory - baseline: the raw findings pages read")
    print(f"  raw pages {raw_bytes:,} bytes, peak allocated during the run {peak:,} bytes")
    print(f"  ratio peak/raw = {peak / raw_bytes:.2f} (target <= {MEMORY_TARGET:.1f})")
    print("\nAPI calls - baseline: ceil(findings / 1000) DescribeImageScanFindings pages")
    print(f"  ours {server.calls}, minimal {minimal_calls}, ratio {server.calls / minimal_calls:.2f} (target 1.00);")
    print(f"  maxResults requested: {sorted(server.page_sizes, key=str)}")
    worst_cases()
    return 0


def worst_cases() -> None:
    """The alerts issue 16 found too large to send, and the largest advisory a batch can make: each must fit."""
    image = ScannedImage(REPOSITORY, DIGEST, tuple(f"{i:03d}-" + "t" * 124 for i in range(700)), ACCOUNT, REGION)
    rules = AlertRules(Severity.HIGH, False, Suppressions(), date(2026, 11, 20))
    one_package = [
        Finding(f"CVE-2026-{i:05d}", Severity.CRITICAL, 9.0, "libfoo", "1.0", f"1.{i}.0", True, None, "")
        for i in range(12_000)
    ]
    cases = {
        "700 tags of 128 characters, 8 findings": alert_notice(
            FindingsReport(image, "basic", "2026-11-20T02:36:48Z", decide(one_package[:8], REPOSITORY, rules))
        ),
        "12,000 findings of one package, 700 tags": alert_notice(
            FindingsReport(image, "enhanced", "2026-11-20T02:36:48Z", decide(one_package, REPOSITORY, rules))
        ),
    }
    for images in (200, 1000):
        occurrences = tuple(
            Occurrence(
                ScannedImage(f"team-{i % 30:02d}/api", f"sha256:{i:064x}", (f"v{i}",), ACCOUNT, REGION),
                one_package[0],
                f"arn:aws:inspector2:{REGION}:{ACCOUNT}:finding/{i:032x}",
                "2026-11-21T06:02:30Z",
                (f"m{i}",),
            )
            for i in range(images)
        )
        advisory = Advisory("CVE-2026-00000", False, occurrences)
        cases[f"advisory over {images} images, 30 repositories"] = advisory_notice(advisory, rules)
    print("\nworst cases - baseline: SNS's 256 KB limit (each must fit, and be sent)")
    for name, notice in cases.items():
        size = message_size_bytes(notice)
        print(f"  {name:<42}{size:>9,} bytes  ratio {size / SNS_MESSAGE_MAX_BYTES:.3f} (target <= 1.000)")


if __name__ == "__main__":
    sys.exit(main())

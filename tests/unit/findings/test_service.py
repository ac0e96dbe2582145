"""The alerting use case against in-memory ports (no network): every page read, one notice per alert, the no-op
cases, suppressions, Security Hub for basic scans only, and a failed publish that fails the invocation."""

from __future__ import annotations

import copy
import inspect
import json
import typing
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from ecr_governance.aws.ecr import EcrRegistry
from ecr_governance.aws.securityhub import SecurityHubImporter
from ecr_governance.aws.ssm import SsmSuppressions
from ecr_governance.errors import AwsError, ImageNotFound, RepositoryNotFound, SettingsError
from ecr_governance.findings.asff import FailedImport, security_hub_findings
from ecr_governance.findings.events import parse_scan_event
from ecr_governance.findings.normalize import Finding, ImageScan, Severity
from ecr_governance.findings.service import (
    AlertStatus,
    FindingsImporter,
    ScanFindingsAlerter,
    ScanFindingsSource,
    SuppressionsSource,
)
from ecr_governance.findings.settings import FindingsSettings
from findings_builders import finding
from registry_builders import load_event

NOW = datetime(2026, 11, 20, 3, 0, tzinfo=UTC)
BASIC_EVENT = parse_scan_event(load_event("findings/basic-scan-complete.json"), "123456789012", "ap-southeast-1")
INSPECTOR_EVENT = parse_scan_event(
    load_event("findings/inspector2-scan-complete.json"), "123456789012", "ap-southeast-1"
)


class InMemoryScans:
    """Serves ScanFindingsSource from pages of findings, and counts the pages read."""

    def __init__(self, pages: list[list[Finding]], status: str = "COMPLETE", error: Exception | None = None):
        self.pages = pages
        self.status = status
        self.error = error
        self.calls = 0
        self.pages_read = 0

    def image_scan(self, repository_name: str, image_digest: str) -> ImageScan:
        self.calls += 1
        if self.error:
            raise self.error
        return ImageScan(status=self.status, findings=self._findings())

    def _findings(self) -> Iterator[Finding]:
        for page in self.pages:
            self.pages_read += 1
            yield from page


class RecordingPublisher:
    def __init__(self, error: Exception | None = None):
        self.notices = []
        self.error = error

    def publish(self, notice) -> None:
        if self.error:
            raise self.error
        self.notices.append(notice)


class FixedSuppressions:
    def __init__(self, document: str):
        self.document = document

    def suppressions_document(self) -> str:
        return self.document


class RecordingImporter:
    def __init__(self, refuse: int = 0):
        self.imported: list[dict] = []
        self.refuse = refuse

    def import_findings(self, findings):
        self.imported.extend(findings)
        return [FailedImport(f["Id"], "InvalidInput", "refused") for f in findings[: self.refuse]]


SETTINGS = FindingsSettings(suppressions_parameter_name="/ecr-governance/suppressions")


def alerter(source, publisher=None, settings=SETTINGS, suppressions=None, importer=None) -> ScanFindingsAlerter:
    return ScanFindingsAlerter(
        source, publisher or RecordingPublisher(), settings, suppressions, importer, clock=lambda: NOW
    )


def test_every_page_is_read_and_one_notice_is_published():
    pages = [
        [finding(f"CVE-A-{i}", Severity.MEDIUM) for i in range(1000)],
        [finding(f"CVE-B-{i}", Severity.LOW) for i in range(1000)],
        [finding("CVE-LAST-PAGE", Severity.CRITICAL, 9.9)],  # the worst finding is on the last page
    ]
    source, publisher = InMemoryScans(pages), RecordingPublisher()
    outcome = alerter(source, publisher).alert(BASIC_EVENT)
    assert source.pages_read == 3
    assert outcome.status is AlertStatus.ALERTED and outcome.findings_total == 2001
    assert outcome.highest_severity == "CRITICAL" and outcome.findings_alerted == 1
    (notice,) = publisher.notices
    assert notice.subject == "[CRITICAL] mlops/retail-api:1.4.2 - 1 critical"
    assert json.loads(notice.bodies["sqs"])["findings"][0]["id"] == "CVE-LAST-PAGE"
    assert outcome.as_dict()["status"] == "alerted"
    json.dumps(outcome.as_dict())  # Powertools Idempotency stores it


def test_an_event_that_states_no_findings_reads_nothing():
    event = copy.deepcopy(load_event("findings/basic-scan-complete.json"))
    event["detail"]["finding-severity-counts"] = {}
    source = InMemoryScans([[finding()]])
    outcome = alerter(source).alert(parse_scan_event(event, "123456789012", "ap-southeast-1"))
    assert outcome.status is AlertStatus.NOTHING_TO_ALERT and source.calls == 0


def test_nothing_at_or_above_the_threshold_publishes_nothing():
    source, publisher = InMemoryScans([[finding(severity=Severity.MEDIUM)]]), RecordingPublisher()
    outcome = alerter(source, publisher).alert(BASIC_EVENT)
    assert outcome.status is AlertStatus.NOTHING_TO_ALERT and outcome.findings_total == 1
    assert publisher.notices == []


@pytest.mark.parametrize(
    "error",
    [
        ImageNotFound("gone", operation="DescribeImageScanFindings", code="ImageNotFoundException"),
        ImageNotFound("never scanned", operation="DescribeImageScanFindings", code="ScanNotFoundException"),
        RepositoryNotFound("mlops/retail-api", "DescribeImageScanFindings"),
    ],
)
def test_an_image_gone_before_its_findings_are_read_is_a_no_op(error):
    publisher = RecordingPublisher()
    outcome = alerter(InMemoryScans([], error=error), publisher).alert(BASIC_EVENT)
    assert outcome.status is AlertStatus.IMAGE_GONE and outcome.detail == error.code
    assert publisher.notices == []


def test_a_scan_the_api_does_not_report_complete_is_not_alerted():
    outcome = alerter(InMemoryScans([[finding()]], status="FINDINGS_UNAVAILABLE")).alert(INSPECTOR_EVENT)
    assert outcome.status is AlertStatus.SCAN_NOT_READABLE and outcome.detail == "FINDINGS_UNAVAILABLE"


def test_suppressions_apply_and_a_suppressed_image_gets_no_alert():
    document = json.dumps([{"id": "CVE-2024-0001", "expires": "2026-12-31", "reason": "accepted"}])
    publisher = RecordingPublisher()
    outcome = alerter(InMemoryScans([[finding()]]), publisher, suppressions=FixedSuppressions(document)).alert(
        BASIC_EVENT
    )
    assert outcome.status is AlertStatus.NOTHING_TO_ALERT and outcome.findings_suppressed == 1
    assert publisher.notices == []


def test_an_invalid_suppressions_document_fails_loudly_before_anything_is_published():
    publisher = RecordingPublisher()
    broken = FixedSuppressions(json.dumps([{"id": "CVE-1", "expires": "soon", "reason": "x"}]))
    with pytest.raises(SettingsError, match=r"suppressions parameter /ecr-governance/suppressions: suppressions\[0\]"):
        alerter(InMemoryScans([[finding()]]), publisher, suppressions=broken).alert(BASIC_EVENT)
    assert publisher.notices == []


def test_a_failed_publish_fails_the_invocation_so_that_it_is_retried():
    publisher = RecordingPublisher(AwsError("Publish failed", operation="Publish", code="InternalError"))
    with pytest.raises(AwsError, match="Publish failed"):
        alerter(InMemoryScans([[finding()]]), publisher).alert(BASIC_EVENT)


def test_basic_findings_go_to_security_hub_with_ids_that_a_rescan_updates():
    importer = RecordingImporter(refuse=1)
    findings = [finding("CVE-1", Severity.CRITICAL), finding("CVE-2"), finding("CVE-3", Severity.LOW)]
    outcome = alerter(InMemoryScans([findings]), importer=importer).alert(BASIC_EVENT)
    assert outcome.security_hub_imported == 1 and outcome.security_hub_failed == 1
    assert [doc["GeneratorId"] for doc in importer.imported] == [
        "ecr-governance/basic-scan/CVE-1",
        "ecr-governance/basic-scan/CVE-2",
    ]
    first_ids = [doc["Id"] for doc in importer.imported]
    rescan = RecordingImporter()
    alerter(InMemoryScans([list(reversed(findings))]), importer=rescan).alert(BASIC_EVENT)
    assert [doc["Id"] for doc in rescan.imported] == first_ids
    assert len(set(first_ids)) == 2


def test_an_asff_finding_has_every_field_security_hub_requires():
    report = alerter(InMemoryScans([[finding("CVE-1", description="d" * 2000)]])).report(
        BASIC_EVENT.image, "basic", BASIC_EVENT.completed_at
    )
    (document,) = security_hub_findings(report)
    required = {"AwsAccountId", "CreatedAt", "Description", "GeneratorId", "Id", "ProductArn", "Resources"}
    required |= {"SchemaVersion", "Severity", "Title", "Types", "UpdatedAt"}
    assert required <= set(document) and document["SchemaVersion"] == "2018-10-08"
    assert document["ProductArn"] == "arn:aws:securityhub:ap-southeast-1:123456789012:product/123456789012/default"
    assert len(document["Description"]) == 1024 and document["Resources"][0]["Type"] == "AwsEcrContainerImage"


def test_enhanced_findings_never_go_to_security_hub():
    importer = RecordingImporter()
    outcome = alerter(InMemoryScans([[finding()]]), importer=importer).alert(INSPECTOR_EVENT)
    assert outcome.status is AlertStatus.ALERTED and importer.imported == []


@pytest.mark.parametrize(
    ("port", "adapter"),
    [
        (ScanFindingsSource, EcrRegistry),
        (ScanFindingsSource, InMemoryScans),
        (SuppressionsSource, SsmSuppressions),
        (FindingsImporter, SecurityHubImporter),
        (FindingsImporter, RecordingImporter),
    ],
)
def test_fakes_and_adapters_accept_what_the_ports_pass(port, adapter):
    for name in typing.get_protocol_members(port):
        expected = list(inspect.signature(getattr(port, name)).parameters)
        parameters = inspect.signature(getattr(adapter, name)).parameters
        assert list(parameters)[: len(expected)] == expected, (adapter.__name__, name)
        extra = list(parameters.values())[len(expected) :]
        assert all(p.default is not inspect.Parameter.empty for p in extra), (adapter.__name__, name)

"""The scan-findings adapters against botocore's Stubber: exact requests, every page, errors translated, and a
throttled read retried by the client the handler builds."""

from __future__ import annotations

import json

import boto3
import pytest
from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig
from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyPersistenceLayerError
from botocore.awsrequest import AWSResponse
from botocore.stub import Stubber
from ecr_governance.aws.alert_ledger import DynamoAlertLedger
from ecr_governance.aws.clients import make_client
from ecr_governance.aws.ecr import EcrRegistry
from ecr_governance.aws.idempotency import IdempotencyTable, Once
from ecr_governance.aws.securityhub import SecurityHubImporter
from ecr_governance.aws.ssm import SsmSuppressions
from ecr_governance.errors import AccessDenied, AwsError, ImageNotFound, RepositoryNotFound, ScanNotFound, SettingsError
from ecr_governance.findings.ledger import EntryState, LedgerEntry
from ecr_governance.findings.normalize import Severity
from ecr_governance_cli.local_invoke import LocalLambdaContext
from ecr_governance_cli.scan_samples import scan_findings_response, synthetic_basic_findings
from findings_builders import asff_documents

REPOSITORY = "mlops/retail-api"
DIGEST = "sha256:" + "c" * 64
REQUEST = {"repositoryName": REPOSITORY, "imageId": {"imageDigest": DIGEST}, "maxResults": 1000}


def test_more_than_a_thousand_findings_are_read_over_every_page(stubbed):
    registry, stubber = stubbed
    findings = synthetic_basic_findings(2500)
    pages = [findings[:1000], findings[1000:2000], findings[2000:]]
    for number, page in enumerate(pages):
        response = scan_findings_response(REPOSITORY, DIGEST, page, next_token=f"t{number + 1}" if number < 2 else None)
        expected = {**REQUEST, "nextToken": f"t{number}"} if number else REQUEST
        stubber.add_response("describe_image_scan_findings", response, expected)
    scan = registry.image_scan(REPOSITORY, DIGEST)
    read = [finding.id for finding in scan.findings]
    assert read == [raw["name"] for raw in findings]  # none dropped, none twice, in order
    assert scan.status == "COMPLETE" and scan.readable
    assert scan.completed_at is not None and scan.completed_at.year == 2026
    assert sum(scan.severity_counts.values()) == 1000  # the first page's counts (the whole scan's, on AWS)


def test_enhanced_findings_are_read_too(stubbed):
    registry, stubber = stubbed
    response = scan_findings_response(REPOSITORY, DIGEST, [])
    response["imageScanFindings"]["enhancedFindings"] = [
        {
            "severity": "HIGH",
            "score": 7.5,
            "fixAvailable": "YES",
            "packageVulnerabilityDetails": {
                "vulnerabilityId": "CVE-2024-1",
                "sourceUrl": "https://example.com/CVE-2024-1",
                "vulnerablePackages": [{"name": "zlib", "version": "1.2.13", "fixedInVersion": "1.3"}],
            },
        }
    ]
    response["imageScanStatus"]["status"] = "ACTIVE"
    stubber.add_response("describe_image_scan_findings", response, REQUEST)
    scan = registry.image_scan(REPOSITORY, DIGEST)
    (finding,) = list(scan.findings)
    assert scan.readable and finding.id == "CVE-2024-1" and finding.fixed_in_version == "1.3"
    assert finding.severity is Severity.HIGH


@pytest.mark.parametrize(
    ("code", "error_type"),
    [
        ("ImageNotFoundException", ImageNotFound),
        ("ScanNotFoundException", ScanNotFound),  # never scanned: an "image not scanned" notice, not a gone image
        ("RepositoryNotFoundException", RepositoryNotFound),
    ],
)
def test_an_image_gone_is_a_domain_error_raised_by_the_first_read(stubbed, code, error_type):
    registry, stubber = stubbed
    stubber.add_client_error("describe_image_scan_findings", code, "gone", expected_params=REQUEST)
    with pytest.raises(error_type) as raised:
        registry.image_scan(REPOSITORY, DIGEST)
    assert raised.value.code == code


def test_a_throttle_that_outlives_the_retries_on_a_later_page_is_transient(stubbed):
    registry, stubber = stubbed
    first = scan_findings_response(REPOSITORY, DIGEST, synthetic_basic_findings(3), next_token="t1")
    stubber.add_response("describe_image_scan_findings", first, REQUEST)
    stubber.add_client_error("describe_image_scan_findings", "ThrottlingException", "slow down", http_status_code=400)
    scan = registry.image_scan(REPOSITORY, DIGEST)
    with pytest.raises(AwsError) as raised:
        list(scan.findings)
    assert raised.value.code == "ThrottlingException" and raised.value.transient


def test_a_throttled_read_is_retried_by_the_handlers_client(monkeypatch):
    """make_client's adaptive retries: a ThrottlingException is retried, not reported."""
    client = make_client("ecr")
    answers = [
        (400, {"__type": "ThrottlingException", "message": "Rate exceeded"}),
        (200, scan_findings_response(REPOSITORY, DIGEST, synthetic_basic_findings(2))),
    ]
    sent = []

    def answer(request, **_):
        sent.append(request)
        status, body = answers.pop(0)
        return AWSResponse(request.url, status, {}, _RawBody(json.dumps(body, default=str).encode()))

    client.meta.events.register("before-send.ecr.DescribeImageScanFindings", answer)
    monkeypatch.setattr("time.sleep", lambda seconds: None)  # the back-off, not what is tested
    scan = EcrRegistry(client).image_scan(REPOSITORY, DIGEST)
    assert len(list(scan.findings)) == 2 and len(sent) == 2


class _RawBody:
    def __init__(self, content: bytes):
        self._content = content

    def stream(self, **_):
        yield self._content


def test_one_image_is_described_by_tag_with_all_its_tags(stubbed):
    registry, stubber = stubbed
    stubber.add_response(
        "describe_images",
        {
            "imageDetails": [
                {
                    "registryId": "123456789012",
                    "repositoryName": REPOSITORY,
                    "imageDigest": DIGEST,
                    "imageTags": ["1.4.2", "latest"],
                }
            ]
        },
        {"repositoryName": REPOSITORY, "imageIds": [{"imageTag": "latest"}]},
    )
    image = registry.scanned_image(REPOSITORY, tag="latest")
    assert (image.digest, image.tags, image.registry_id) == (DIGEST, ("1.4.2", "latest"), "123456789012")
    assert (image.region, image.partition) == ("ap-southeast-1", "aws")


# ---- SSM: the suppressions parameter through Powertools Parameters -------------------------------------------
PARAMETER = "/ecr-governance/suppressions"


@pytest.fixture
def ssm():
    client = boto3.client("ssm", region_name="ap-southeast-1")
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def test_the_suppressions_document_is_read_once_then_cached(ssm):
    client, stubber = ssm
    stubber.add_response(
        "get_parameter",
        {"Parameter": {"Name": PARAMETER, "Type": "String", "Value": "[]", "Version": 1}},
        {"Name": PARAMETER, "WithDecryption": False},
    )
    suppressions = SsmSuppressions(client, PARAMETER, max_age_seconds=300)
    assert suppressions.suppressions_document() == "[]"
    assert suppressions.suppressions_document() == "[]"  # no second request (the Stubber has none left)


def test_a_missing_parameter_is_a_settings_error_naming_it(ssm):
    client, stubber = ssm
    stubber.add_client_error("get_parameter", "ParameterNotFound", "not found")
    with pytest.raises(SettingsError, match=f"suppressions parameter {PARAMETER} does not exist"):
        SsmSuppressions(client, PARAMETER, max_age_seconds=0).suppressions_document()


def test_a_denied_read_names_the_permission(ssm):
    client, stubber = ssm
    stubber.add_client_error("get_parameter", "AccessDeniedException", "no")
    with pytest.raises(AccessDenied, match="ssm:GetParameter"):
        SsmSuppressions(client, PARAMETER, max_age_seconds=0).suppressions_document()


# ---- Security Hub ---------------------------------------------------------------------------------------------
def test_findings_are_imported_100_a_call_and_refusals_are_reported():
    client = boto3.client("securityhub", region_name="ap-southeast-1")
    documents = asff_documents(250)
    with Stubber(client) as stubber:
        for start, refused in (
            (0, []),
            (100, [{"Id": documents[150]["Id"], "ErrorCode": "InvalidInput", "ErrorMessage": "x"}]),
        ):
            stubber.add_response(
                "batch_import_findings",
                {"FailedCount": len(refused), "SuccessCount": 100 - len(refused), "FailedFindings": refused},
                {"Findings": documents[start : start + 100]},
            )
        stubber.add_response(
            "batch_import_findings", {"FailedCount": 0, "SuccessCount": 50}, {"Findings": documents[200:]}
        )
        failures = SecurityHubImporter(client).import_findings(documents)
        stubber.assert_no_pending_responses()
    assert [(f.finding_id, f.code) for f in failures] == [(documents[150]["Id"], "InvalidInput")]


@pytest.mark.parametrize(
    ("error", "exists"), [(None, True), ("ImageNotFoundException", False), ("RepositoryNotFoundException", False)]
)
def test_whether_an_image_still_exists_archived_or_not(stubbed, error, exists):
    registry, stubber = stubbed
    request = {"repositoryName": REPOSITORY, "imageIds": [{"imageDigest": DIGEST}], "filter": {"imageStatus": "ANY"}}
    if error:
        stubber.add_client_error("describe_images", error, "gone", expected_params=request)
    else:
        stubber.add_response("describe_images", {"imageDetails": [{"imageDigest": DIGEST}]}, request)
    assert registry.image_exists(REPOSITORY, DIGEST) is exists


def test_the_findings_imported_for_an_image_are_read_back_page_by_page():
    client = boto3.client("securityhub", region_name="ap-southeast-1")
    product = "arn:aws:securityhub:ap-southeast-1:123456789012:product/123456789012/default"
    resource = f"arn:aws:ecr:ap-southeast-1:123456789012:repository/{REPOSITORY}/{DIGEST}"
    filters = {
        "ProductArn": [{"Value": product, "Comparison": "EQUALS"}],
        "ResourceId": [{"Value": resource, "Comparison": "EQUALS"}],
        "GeneratorId": [{"Value": "ecr-governance/basic-scan/", "Comparison": "PREFIX"}],
        "RecordState": [{"Value": "ACTIVE", "Comparison": "EQUALS"}],
    }
    documents = asff_documents(3)
    with Stubber(client) as stubber:
        stubber.add_response(
            "get_findings", {"Findings": documents[:2], "NextToken": "t1"}, {"Filters": filters, "MaxResults": 100}
        )
        stubber.add_response(
            "get_findings", {"Findings": documents[2:]}, {"Filters": filters, "MaxResults": 100, "NextToken": "t1"}
        )
        found = SecurityHubImporter(client).active_findings(product, resource, "ecr-governance/basic-scan/")
    assert [f["Id"] for f in found] == [d["Id"] for d in documents]


# ---- the alert ledger (its conditions are evaluated by the emulator in tests/integration) ---------------------
ENTRY = LedgerEntry(f"{REPOSITORY}@{DIGEST}", "vulnerability#CVE-1", EntryState.ACTIVE, "2026-11-20T02:36:48Z")


@pytest.fixture
def dynamodb():
    client = boto3.client("dynamodb", region_name="ap-southeast-1")
    with Stubber(client) as stubber:
        yield DynamoAlertLedger(client, "ledger", retention_seconds=86400), stubber
        stubber.assert_no_pending_responses()


def test_an_entry_held_or_alerted_elsewhere_is_not_claimed(dynamodb):
    ledger, stubber = dynamodb
    stubber.add_client_error("update_item", "ConditionalCheckFailedException", "held")
    assert ledger.claim([ENTRY], "scan:event-1") == []


def test_a_claim_the_table_refuses_is_an_error_the_service_decides_on(dynamodb):
    ledger, stubber = dynamodb
    stubber.add_client_error("update_item", "AccessDeniedException", "no")
    with pytest.raises(AccessDenied, match="dynamodb:UpdateItem"):
        ledger.claim([ENTRY], "scan:event-1")


def test_a_record_sends_unprocessed_items_again_then_gives_up_loudly(dynamodb, monkeypatch):
    ledger, stubber = dynamodb
    monkeypatch.setattr("time.sleep", lambda seconds: None)
    unprocessed = {"ledger": [{"PutRequest": {"Item": {"image": {"S": ENTRY.image}}}}]}
    stubber.add_response("batch_write_item", {"UnprocessedItems": unprocessed})
    stubber.add_response("batch_write_item", {"UnprocessedItems": {}})
    ledger.confirm([ENTRY])  # the second call took the rest
    for _ in range(4):
        stubber.add_response("batch_write_item", {"UnprocessedItems": unprocessed})
    with pytest.raises(AwsError, match="1 item\\(s\\) still unprocessed"):
        ledger.confirm([ENTRY])


def test_releasing_a_claim_another_owner_holds_now_is_not_an_error(dynamodb):
    ledger, stubber = dynamodb
    stubber.add_client_error("update_item", "ConditionalCheckFailedException", "not yours")
    ledger.release([ENTRY], "scan:event-1")


# ---- Powertools Idempotency through its public API: an alert that went out is never a failed invocation ---------
def _once(stubber_client, ran: list, unsaved: list) -> Once:
    def alert(event: dict) -> dict:
        ran.append(event)
        return {"status": "alerted"}

    config = IdempotencyConfig(event_key_jmespath="key", raise_on_no_idempotency_key=True)
    config.register_lambda_context(LocalLambdaContext("ScanFindingsFunction"))
    return Once(alert, IdempotencyTable(stubber_client, "idempotency"), config, unsaved.append)


def test_a_record_not_saved_after_the_alert_returns_the_alerts_result_and_says_so():
    client = boto3.client("dynamodb", region_name="ap-southeast-1")
    ran, unsaved = [], []
    with Stubber(client) as stubber:
        stubber.add_response("put_item", {})  # the key claimed
        stubber.add_client_error("update_item", "ProvisionedThroughputExceededException", "throttled")  # not saved
        assert _once(client, ran, unsaved)(event={"key": "scan/1"}) == {"status": "alerted"}
    assert len(ran) == 1 and len(unsaved) == 1


def test_a_key_that_cannot_be_claimed_fails_before_anything_is_sent():
    client = boto3.client("dynamodb", region_name="ap-southeast-1")
    ran, unsaved = [], []
    with Stubber(client) as stubber:
        stubber.add_client_error("put_item", "InternalServerError", "down", http_status_code=500)
        with pytest.raises(IdempotencyPersistenceLayerError):
            _once(client, ran, unsaved)(event={"key": "scan/1"})
    assert ran == [] and unsaved == []  # retried as a whole: nothing went out

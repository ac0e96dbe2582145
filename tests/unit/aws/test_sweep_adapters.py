"""The sweep's AWS edge against botocore's Stubber: exact requests, every BatchDeleteImage failure code (moto reports
none of them), SendMessageBatch's limits and partial failures, and the runs table's conditional writes."""

from __future__ import annotations

from datetime import UTC, datetime

import boto3
import pytest
from botocore.stub import ANY, Stubber
from ecr_governance.aws.dynamodb import DynamoRunLedger
from ecr_governance.aws.ecr import EcrRegistry
from ecr_governance.aws.sqs import SqsQueue
from ecr_governance.errors import AccessDenied, AwsError, CredentialsMissing, ImageNotFound
from ecr_governance.sweep.deletion import BatchDeleteResult, DeleteFailure
from ecr_governance.sweep.report import COUNTERS, RunStart
from ecr_governance.sweep.settings import SweepMode

REGION = "ap-southeast-1"
A, B, C, D = ("sha256:" + c * 64 for c in "abcd")
QUEUE = "https://sqs.ap-southeast-1.amazonaws.com/123456789012/sweep"


def stubbed(service: str):
    client = boto3.client(service, region_name=REGION)
    return client, Stubber(client)


# ---- ECR ----------------------------------------------------------------------------------------------------------
def test_describe_images_by_digest_asks_for_every_status():
    client, stubber = stubbed("ecr")
    detail = {"imageDigest": A, "imagePushedAt": datetime(2026, 1, 1, tzinfo=UTC), "imageTags": ["hotfix"]}
    stubber.add_response(
        "describe_images",
        {"imageDetails": [detail]},
        {"repositoryName": "team/app", "imageIds": [{"imageDigest": A}], "filter": {"imageStatus": "ANY"}},
    )
    with stubber:
        (record,) = EcrRegistry(client).describe_images_by_digest("team/app", [A])
    assert record.digest == A and record.tags == ("hotfix",)


def test_describe_images_by_digest_reports_a_gone_image_as_image_not_found():
    client, stubber = stubbed("ecr")
    stubber.add_client_error("describe_images", "ImageNotFoundException", "The image with imageId ... does not exist")
    with stubber, pytest.raises(ImageNotFound):
        EcrRegistry(client).describe_images_by_digest("team/app", [A, B])


@pytest.mark.parametrize("count", [0, 101])
def test_by_digest_calls_refuse_more_than_ecr_takes(count):
    registry = EcrRegistry(boto3.client("ecr", region_name=REGION))
    digests = [f"sha256:{i:064x}" for i in range(count)]
    with pytest.raises(ValueError, match="1 to 100"):
        registry.describe_images_by_digest("team/app", digests)
    with pytest.raises(ValueError, match="1 to 100"):
        registry.batch_delete_images("team/app", digests)


def test_batch_delete_reads_every_failure_code_and_counts_the_rest_deleted():
    client, stubber = stubbed("ecr")
    failures = [
        {"imageId": {"imageDigest": A}, "failureCode": "ImageReferencedByManifestList", "failureReason": "in use"},
        {"imageId": {"imageDigest": B}, "failureCode": "ImageNotFound", "failureReason": "Requested image not found"},
        {"imageId": {"imageDigest": C}, "failureCode": "KmsError", "failureReason": "key disabled"},
    ]
    stubber.add_response(
        "batch_delete_image",
        # ECR lists what it deleted as digest+tag pairs; the adapter does not rely on them (moto leaves them out).
        {"failures": failures},
        {"repositoryName": "team/app", "imageIds": [{"imageDigest": d} for d in (A, B, C, D)]},
    )
    with stubber:
        result = EcrRegistry(client).batch_delete_images("team/app", [A, B, C, D])
    assert result == BatchDeleteResult(
        deleted=(D,),
        failures=(
            DeleteFailure(A, "ImageReferencedByManifestList", "in use"),
            DeleteFailure(B, "ImageNotFound", "Requested image not found"),
            DeleteFailure(C, "KmsError", "key disabled"),
        ),
    )


def test_a_refused_delete_call_is_a_domain_error_with_its_code():
    client, stubber = stubbed("ecr")
    stubber.add_client_error("batch_delete_image", "AccessDeniedException", "not allowed")
    with stubber, pytest.raises(AccessDenied, match="BatchDeleteImage"):
        EcrRegistry(client).batch_delete_images("team/app", [A])


# ---- SQS ----------------------------------------------------------------------------------------------------------
def test_send_messages_batches_by_ten_and_reports_failed_entries():
    client, stubber = stubbed("sqs")
    bodies = [f'{{"n":{i}}}' for i in range(12)]
    stubber.add_response(
        "send_message_batch",
        {
            "Successful": [{"Id": str(i), "MessageId": f"m{i}", "MD5OfMessageBody": "x"} for i in range(9)],
            "Failed": [{"Id": "9", "SenderFault": False, "Code": "InternalError", "Message": "try later"}],
        },
        {"QueueUrl": QUEUE, "Entries": [{"Id": str(i), "MessageBody": bodies[i]} for i in range(10)]},
    )
    stubber.add_response(
        "send_message_batch",
        {"Successful": [{"Id": str(i), "MessageId": f"m{i}", "MD5OfMessageBody": "x"} for i in (10, 11)], "Failed": []},
        {"QueueUrl": QUEUE, "Entries": [{"Id": str(i), "MessageBody": bodies[i]} for i in (10, 11)]},
    )
    with stubber:
        result = SqsQueue(client, QUEUE).send_messages(bodies)
    assert result.unsent == (9,) and result.errors == ("InternalError: try later",)


def test_send_messages_keeps_each_call_under_256_kib_and_refuses_an_oversized_body():
    client, stubber = stubbed("sqs")
    big = "x" * (100 * 1024)
    bodies = [big, big, big, "y" * (257 * 1024)]
    for positions in ([0, 1], [2]):
        stubber.add_response(
            "send_message_batch",
            {
                "Successful": [{"Id": str(i), "MessageId": "m", "MD5OfMessageBody": "x"} for i in positions],
                "Failed": [],
            },
            {"QueueUrl": QUEUE, "Entries": [{"Id": str(i), "MessageBody": bodies[i]} for i in positions]},
        )
    with stubber:
        result = SqsQueue(client, QUEUE).send_messages(bodies)
    assert result.unsent == (3,) and "larger than" in result.errors[0]


def test_a_failed_send_call_reports_its_bodies_unsent_but_missing_credentials_raise():
    client, stubber = stubbed("sqs")
    stubber.add_client_error("send_message_batch", "AccessDenied", "no", http_status_code=403)
    with stubber:
        result = SqsQueue(client, QUEUE).send_messages(["{}", "{}"])
    assert result.unsent == (0, 1) and "access denied" in result.errors[0]
    client, stubber = stubbed("sqs")
    stubber.add_client_error("send_message_batch", "InvalidClientTokenId", "bad token", http_status_code=403)
    with stubber, pytest.raises(CredentialsMissing):
        SqsQueue(client, QUEUE).send_messages(["{}"])


# ---- DynamoDB -----------------------------------------------------------------------------------------------------
RUN_KEY = {"pk": {"S": "run#run-1"}, "sk": {"S": "run"}}


def test_start_run_creates_the_run_once():
    client, stubber = stubbed("dynamodb")
    expected = {
        "TableName": "runs",
        "Item": {
            **RUN_KEY,
            "mode": {"S": "delete"},
            "startedAt": {"S": "2026-06-01T00:00:00Z"},
            "expected": {"N": "3"},
            "reported": {"N": "0"},
            "exempt": {"N": "1"},
            "expiresAt": ANY,
        },
        "ConditionExpression": "attribute_not_exists(pk)",
    }
    stubber.add_response("put_item", {}, expected)
    stubber.add_client_error("put_item", "ConditionalCheckFailedException", "exists", expected_params=expected)
    run = RunStart("run-1", SweepMode.DELETE, datetime(2026, 6, 1, tzinfo=UTC), expected=3, exempt=1)
    with stubber:
        ledger = DynamoRunLedger(client, "runs")
        assert ledger.start_run(run) is True
        assert ledger.start_run(run) is False


def test_record_unit_writes_the_result_and_adds_its_counters_in_one_transaction_once():
    client, stubber = stubbed("dynamodb")
    counts = dict.fromkeys(COUNTERS, 0) | {"repositories": 1, "deleted": 3, "bytes_reclaimed": 7000}
    expected = {
        "TransactItems": [
            {
                "Put": {
                    "TableName": "runs",
                    "Item": ANY,
                    "ConditionExpression": "attribute_not_exists(sk)",
                }
            },
            {
                "Update": {
                    "TableName": "runs",
                    "Key": RUN_KEY,
                    "UpdateExpression": "ADD reported :one, c_repositories :repositories, c_deleted :deleted, "
                    "c_bytes_reclaimed :bytes_reclaimed",
                    "ExpressionAttributeValues": {
                        ":one": {"N": "1"},
                        ":repositories": {"N": "1"},
                        ":deleted": {"N": "3"},
                        ":bytes_reclaimed": {"N": "7000"},
                    },
                }
            },
        ]
    }
    stubber.add_response("transact_write_items", {}, expected)
    stubber.add_client_error(
        "transact_write_items",
        "TransactionCanceledException",
        "cancelled",
        expected_params=expected,
        response_meta={},
        modeled_fields={"CancellationReasons": [{"Code": "ConditionalCheckFailed"}, {"Code": "None"}]},
    )
    stubber.add_client_error(
        "transact_write_items",
        "TransactionCanceledException",
        "cancelled",
        expected_params=expected,
        modeled_fields={"CancellationReasons": [{"Code": "None"}, {"Code": "ThrottlingError"}]},
    )
    with stubber:
        ledger = DynamoRunLedger(client, "runs")
        assert ledger.record_unit("run-1", "repository/team/app", "team/app", counts) is True
        assert ledger.record_unit("run-1", "repository/team/app", "team/app", counts) is False  # seen before
        with pytest.raises(AwsError, match="TransactionCanceledException"):
            ledger.record_unit("run-1", "repository/team/app", "team/app", counts)


def test_the_summary_is_claimed_once_and_only_when_every_result_is_in():
    client, stubber = stubbed("dynamodb")
    attributes = {
        **RUN_KEY,
        "mode": {"S": "delete"},
        "startedAt": {"S": "2026-06-01T00:00:00Z"},
        "expected": {"N": "2"},
        "reported": {"N": "2"},
        "exempt": {"N": "1"},
        "c_deleted": {"N": "5"},
    }
    expected = {
        "TableName": "runs",
        "Key": RUN_KEY,
        "UpdateExpression": "SET summarizedAt = :now",
        "ConditionExpression": (
            "attribute_exists(expected) AND reported >= expected AND attribute_not_exists(summarizedAt)"
        ),
        "ExpressionAttributeValues": {":now": ANY},
        "ReturnValues": "ALL_NEW",
    }
    stubber.add_response("update_item", {"Attributes": attributes}, expected)
    stubber.add_client_error("update_item", "ConditionalCheckFailedException", "not yet", expected_params=expected)
    with stubber:
        ledger = DynamoRunLedger(client, "runs")
        totals = ledger.claim_summary("run-1")
        assert ledger.claim_summary("run-1") is None
    assert (totals.expected, totals.reported, totals.exempt, totals.mode) == (2, 2, 1, "delete")
    assert totals.counts["deleted"] == 5 and totals.counts["failed"] == 0


def test_add_expected_adds_atomically():
    client, stubber = stubbed("dynamodb")
    stubber.add_response(
        "update_item",
        {},
        {
            "TableName": "runs",
            "Key": RUN_KEY,
            "UpdateExpression": "ADD expected :count",
            "ExpressionAttributeValues": {":count": {"N": "-2"}},
        },
    )
    with stubber:
        DynamoRunLedger(client, "runs").add_expected("run-1", -2)

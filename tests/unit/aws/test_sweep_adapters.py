"""The sweep's AWS edge against botocore's Stubber: exact requests, every BatchDeleteImage and BatchGetImage failure
(moto reports none of them), SendMessageBatch's limits and partial failures, Inspector's in-use data (moto has no
ListCoverage). The runs table is checked against the emulator, alongside its in-memory fake
(tests/integration/test_sweep_ledger.py)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import boto3
import pytest
from botocore.stub import Stubber
from ecr_governance.aws.ecr import EcrRegistry
from ecr_governance.aws.inspector import InspectorUsage
from ecr_governance.aws.sqs import SqsQueue
from ecr_governance.errors import AccessDenied, AwsError, CredentialsMissing, ImageNotFound
from ecr_governance.sweep.deletion import BatchDeleteResult, DeleteFailure

REGION = "ap-southeast-1"
A, B, C, D, E, F, G = ("sha256:" + c * 64 for c in "abcdef0")
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


# ---- BatchGetImage: what could not be read is reported, never decided ------------------------------------------
def test_get_manifests_reports_every_manifest_it_could_not_read_with_the_reason():
    client, stubber = stubbed("ecr")
    index = {"mediaType": "application/vnd.oci.image.index.v1+json", "manifests": [{"digest": B}]}
    no_digest = {"manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json"}]}
    null_subject = {"subject": {"digest": None}}
    response = {
        "images": [
            {"imageId": {"imageDigest": A}, "imageManifest": json.dumps(index)},
            {"imageId": {"imageDigest": B}, "imageManifest": "{not json"},
            {"imageId": {"imageDigest": C}, "imageManifest": json.dumps(no_digest)},
            {"imageId": {"imageDigest": D}, "imageManifest": json.dumps(null_subject)},
        ],
        "failures": [
            {"imageId": {"imageDigest": E}, "failureCode": "KmsError", "failureReason": "key disabled"},
            {"imageId": {"imageDigest": F}, "failureCode": "ImageNotFound", "failureReason": "gone"},
        ],
    }
    stubber.add_response("batch_get_image", response)
    with stubber:
        read = EcrRegistry(client).get_manifests("team/app", [A, B, C, D, E, F, G])
    assert read.manifests[A].child_digests == (B,) and set(read.manifests) == {A}
    assert read.gone == {F}
    assert set(read.unread) == {B, C, D, E, G}
    assert "not JSON" in read.unread[B] and "digest" in read.unread[C] and "subject" in read.unread[D]
    assert read.unread[E] == "KmsError: key disabled" and "neither" in read.unread[G]


# ---- SQS: a delay for the deadline message ------------------------------------------------------------------------
def test_send_messages_can_delay_every_body():
    client, stubber = stubbed("sqs")
    stubber.add_response(
        "send_message_batch",
        {"Successful": [], "Failed": []},
        {"QueueUrl": QUEUE, "Entries": [{"Id": "0", "MessageBody": "{}", "DelaySeconds": 900}]},
    )
    with stubber:
        assert SqsQueue(client, QUEUE).send_messages(["{}"], delay_seconds=900).unsent == ()


# ---- Inspector: in-use data ---------------------------------------------------------------------------------------
def test_inspector_says_whether_it_scans_the_registrys_images():
    client, stubber = stubbed("inspector2")
    for status in ("ENABLED", "DISABLED"):
        stubber.add_response(
            "batch_get_account_status",
            {"accounts": [{"accountId": ACCOUNT, "resourceState": _resource_state(status), "state": _state()}]},
            {"accountIds": [ACCOUNT]},
        )
    stubber.add_response("batch_get_account_status", {"accounts": [], "failedAccounts": []}, {"accountIds": [ACCOUNT]})
    failed = {"accountId": ACCOUNT, "errorCode": "ACCESS_DENIED", "errorMessage": "not a member"}
    stubber.add_response("batch_get_account_status", {"accounts": [], "failedAccounts": [failed]})
    with stubber:
        usage = InspectorUsage(client)
        assert [usage.covers_registry(ACCOUNT) for _ in range(3)] == [True, False, False]
        with pytest.raises(AwsError, match="ACCESS_DENIED"):
            usage.covers_registry(ACCOUNT)


def test_images_in_use_are_read_with_two_filtered_queries():
    client, stubber = stubbed("inspector2")
    since = datetime(2026, 5, 1, tzinfo=UTC)
    base = {
        "resourceType": [{"comparison": "EQUALS", "value": "AWS_ECR_CONTAINER_IMAGE"}],
        "ecrRepositoryName": [{"comparison": "EQUALS", "value": "team/app"}],
    }
    running = _covered(A, {"inUseCount": 2})
    stubber.add_response(
        "list_coverage",
        {"coveredResources": [running]},
        {"filterCriteria": {**base, "ecrImageInUseCount": [{"lowerInclusive": 1}]}, "maxResults": 200},
    )
    recently = _covered(B, {"lastInUseAt": datetime(2026, 5, 20, tzinfo=UTC)})
    other_repository = _covered(C, {"inUseCount": 1}, repository="team/other")
    stubber.add_response(
        "list_coverage",
        {"coveredResources": [recently, other_repository, _covered(A, {"lastInUseAt": since})]},
        {"filterCriteria": {**base, "ecrImageLastInUseAt": [{"startInclusive": since}]}, "maxResults": 200},
    )
    with stubber:
        in_use = InspectorUsage(client).images_in_use("team/app", since)
    assert in_use.available and in_use.last_in_use == {A: None, B: datetime(2026, 5, 20, tzinfo=UTC)}


ACCOUNT = "123456789012"


def _resource_state(ecr_status: str) -> dict:
    return {"ec2": _state(), "ecr": _state(ecr_status), "lambda": _state()}


def _state(status: str = "ENABLED") -> dict:
    return {"status": status, "errorCode": "ALREADY_ENABLED", "errorMessage": "-"}


def _covered(digest: str, image: dict, repository: str = "team/app") -> dict:
    return {
        "accountId": ACCOUNT,
        "resourceId": f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/{repository}/{digest}",
        "resourceType": "AWS_ECR_CONTAINER_IMAGE",
        "scanType": "PACKAGE",
        "resourceMetadata": {"ecrImage": image},
    }

"""The Resource Groups Tagging API adapter against botocore's Stubber (moto does not serve ECR through this API)."""

import boto3
import pytest
from botocore.stub import Stubber
from ecr_governance.aws.tagging import TaggingApi
from ecr_governance.errors import AccessDenied

KEY = "ecr-governance:exempt"


def arn(name: str) -> str:
    return f"arn:aws:ecr:ap-southeast-1:123456789012:repository/{name}"


@pytest.fixture
def stubbed():
    client = boto3.client("resourcegroupstaggingapi", region_name="ap-southeast-1")
    with Stubber(client) as stubber:
        yield TaggingApi(client), stubber
        stubber.assert_no_pending_responses()


def test_every_page_of_repositories_carrying_the_key_is_read_at_100_a_page(stubbed):
    tagging, stubber = stubbed
    request = {"ResourceTypeFilters": ["ecr:repository"], "TagFilters": [{"Key": KEY}], "ResourcesPerPage": 100}
    first = [
        {"ResourceARN": arn(f"team/r{i}"), "Tags": [{"Key": "owner", "Value": "x"}, {"Key": KEY, "Value": "true"}]}
        for i in range(100)
    ]
    stubber.add_response("get_resources", {"ResourceTagMappingList": first, "PaginationToken": "p2"}, request)
    last = [{"ResourceARN": arn("vendor/agent"), "Tags": [{"Key": KEY, "Value": "scan-on-push"}]}]
    stubber.add_response(
        "get_resources", {"ResourceTagMappingList": last, "PaginationToken": ""}, {**request, "PaginationToken": "p2"}
    )
    values = tagging.repository_tag_values(KEY)
    assert len(values) == 101
    assert values["team/r7"] == "true" and values["vendor/agent"] == "scan-on-push"


def test_access_denied_becomes_the_domain_error_the_fallback_catches(stubbed):
    tagging, stubber = stubbed
    stubber.add_client_error("get_resources", "AccessDeniedException", "no", http_status_code=400)
    with pytest.raises(AccessDenied, match="tag:GetResources"):
        tagging.repository_tag_values(KEY)

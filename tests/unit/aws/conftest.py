"""Fixtures of the adapter tests."""

import boto3
import pytest
from botocore.stub import Stubber
from ecr_governance.aws.ecr import EcrRegistry


@pytest.fixture
def stubbed():
    """The ECR adapter on a client answered by botocore's Stubber: (registry, stubber); every answer must be used."""
    client = boto3.client("ecr", region_name="ap-southeast-1")
    with Stubber(client) as stubber:
        yield EcrRegistry(client), stubber
        stubber.assert_no_pending_responses()

"""MemberSessions: one AssumeRole per account while its credentials last, member clients that share the hub's session
and are kept only for the last few account-region-services, an unassumable role reported as unreachable."""

from datetime import UTC, datetime, timedelta

import boto3
import pytest
from botocore.stub import Stubber
from ecr_governance.aws.accounts import DURATION_SECONDS, SESSION_NAME, MemberSessions
from ecr_governance.errors import EndpointUnreachable, MemberUnreachable
from local_ports import free_port

NOW = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)


class Clock:
    def __init__(self):
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def hub():
    base = boto3.session.Session(aws_access_key_id="hub", aws_secret_access_key="hub", region_name="eu-west-1")
    clock = Clock()
    sessions = MemberSessions(base, "ecr-governance-member", clock=clock, clients_kept=3)
    sessions._sts = base.client("sts")  # the adapter's own client, answered by the Stubber
    with Stubber(sessions._sts) as stubber:
        yield sessions, stubber, clock
        stubber.assert_no_pending_responses()


def expect_assume(stubber: Stubber, account: str, key: str, expires: datetime = NOW + timedelta(hours=1)) -> None:
    stubber.add_response(
        "assume_role",
        {
            "Credentials": {
                "AccessKeyId": key,
                "SecretAccessKey": "secret-" + key,
                "SessionToken": "token-" + key,
                "Expiration": expires,
            }
        },
        {
            "RoleArn": f"arn:aws:iam::{account}:role/ecr-governance-member",
            "RoleSessionName": SESSION_NAME,
            "DurationSeconds": DURATION_SECONDS,
        },
    )


def access_key(client) -> str:
    return client._request_signer._credentials.access_key


def test_one_assume_role_per_account_for_every_region_and_service(hub):
    sessions, stubber, _ = hub
    expect_assume(stubber, "111111111111", "ASIAMEMBER0000001")
    ecr = sessions.client("ecr", "111111111111", "eu-west-1")
    assert sessions.client("ecr", "111111111111", "eu-west-1") is ecr  # kept
    tagging = sessions.client("resourcegroupstaggingapi", "111111111111", "us-east-1")
    assert access_key(ecr) == access_key(tagging) == "ASIAMEMBER0000001"
    assert ecr.meta.region_name == "eu-west-1" and tagging.meta.region_name == "us-east-1"


def test_credentials_are_fetched_again_five_minutes_before_they_expire(hub):
    sessions, stubber, clock = hub
    expect_assume(stubber, "111111111111", "ASIAMEMBER0000001")
    first = sessions.client("ecr", "111111111111", "eu-west-1")
    clock.now = NOW + timedelta(minutes=54)
    assert sessions.client("ecr", "111111111111", "eu-west-1") is first
    clock.now = NOW + timedelta(minutes=56)
    expect_assume(stubber, "111111111111", "ASIAMEMBER0000002", expires=NOW + timedelta(hours=2))
    second = sessions.client("ecr", "111111111111", "eu-west-1")
    assert second is not first and access_key(second) == "ASIAMEMBER0000002"


def test_only_the_last_clients_are_kept(hub):
    sessions, stubber, _ = hub
    expect_assume(stubber, "111111111111", "ASIAMEMBER0000001")
    regions = ["eu-west-1", "us-east-1", "ap-southeast-1", "eu-central-1"]
    clients = [sessions.client("ecr", "111111111111", region) for region in regions]
    assert len(sessions._clients) == 3
    assert sessions.client("ecr", "111111111111", "eu-central-1") is clients[3]
    assert sessions.client("ecr", "111111111111", "eu-west-1") is not clients[0]  # evicted, built again, no AssumeRole


def test_member_clients_share_the_hub_sessions_loaded_models(hub):
    sessions, stubber, _ = hub
    expect_assume(stubber, "111111111111", "ASIAMEMBER0000001")
    expect_assume(stubber, "222222222222", "ASIAMEMBER0000002")
    one = sessions.client("ecr", "111111111111", "eu-west-1")
    two = sessions.client("ecr", "222222222222", "eu-west-1")
    assert access_key(one) == "ASIAMEMBER0000001" and access_key(two) == "ASIAMEMBER0000002"
    # The service model is loaded (read and parsed) once, not once an account.
    assert one.meta.service_model._service_description is two.meta.service_model._service_description


def test_a_role_that_cannot_be_assumed_is_unreachable_and_named(hub):
    sessions, stubber, _ = hub
    stubber.add_client_error("assume_role", "AccessDenied", "not authorized to perform sts:AssumeRole")
    with pytest.raises(MemberUnreachable) as raised:
        sessions.check("333333333333")
    assert "arn:aws:iam::333333333333:role/ecr-governance-member" in str(raised.value)
    assert raised.value.code == "AccessDenied"


def test_every_call_goes_to_the_endpoint_named_assume_role_included():
    base = boto3.session.Session(aws_access_key_id="hub", aws_secret_access_key="hub", region_name="eu-west-1")
    endpoint = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    sessions = MemberSessions(base, "ecr-governance-member", endpoint_url=endpoint)
    sessions.assume = lambda account_id: ({"AccessKeyId": "a", "SecretAccessKey": "s", "SessionToken": "t"}, NOW)
    sessions._clock = lambda: NOW - timedelta(hours=1)
    assert sessions.client("ecr", "111111111111", "us-east-1").meta.endpoint_url == endpoint
    del sessions.assume  # the real one builds its STS client on first use
    with pytest.raises(EndpointUnreachable, match=f'Could not connect to the endpoint URL: "{endpoint}/"'):
        sessions.check("222222222222")


def test_clients_are_built_one_at_a_time_when_asked_from_several_threads(monkeypatch):
    """A boto3 session is not thread-safe; the CLI asks for members' clients from its workers."""
    import threading
    import time
    from concurrent.futures import ThreadPoolExecutor

    from ecr_governance.aws import accounts

    base = boto3.session.Session(aws_access_key_id="hub", aws_secret_access_key="hub", region_name="eu-west-1")
    sessions = MemberSessions(base, "ecr-governance-member", clock=lambda: NOW)
    later = NOW + timedelta(hours=1)
    monkeypatch.setattr(
        sessions,
        "assume",
        lambda account_id: ({"AccessKeyId": account_id, "SecretAccessKey": "s", "SessionToken": "t"}, later),
    )
    building, most, guard, real = [0], [0], threading.Lock(), accounts.make_client

    def make_client(*args, **kwargs):
        with guard:
            building[0] += 1
            most[0] = max(most[0], building[0])
        time.sleep(0.02)
        try:
            return real(*args, **kwargs)
        finally:
            with guard:
                building[0] -= 1

    monkeypatch.setattr(accounts, "make_client", make_client)
    wanted = [(f"11111111111{n}", region) for n in range(4) for region in ("eu-west-1", "us-east-1")]
    with ThreadPoolExecutor(max_workers=8) as pool:
        clients = list(pool.map(lambda item: sessions.client("ecr", *item), wanted))
    assert most[0] == 1
    assert [access_key(client) for client in clients] == [account for account, _ in wanted]

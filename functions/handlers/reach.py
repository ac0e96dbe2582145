"""Where a handler's work is: the account it runs in, or - an organization hub (Scope=organization) - a member
account-region, reached through the member's governance role (one AssumeRole per account, clients kept). Only what
every capability shares lives here, so a handler's code never pulls in another capability's settings."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

from ecr_governance.aws.accounts import ASSUME_ROLE_ACTIONS, MemberSessions
from ecr_governance.aws.clients import make_client
from ecr_governance.aws.iam import actions_for
from ecr_governance.aws.organizations import OrganizationsDirectory
from ecr_governance.aws.sqs import FifoWorkQueue
from ecr_governance.organization.membership import CachedMembership, OrganizationDirectory
from ecr_governance.organization.settings import OrganizationSettings
from ecr_governance.organization.work import WorkQueue

# What an organization hub needs besides its own work: the members' roles, and (its planners) the account list.
REACH_IAM_ACTIONS = ASSUME_ROLE_ACTIONS
DIRECTORY_IAM_ACTIONS = actions_for(OrganizationDirectory, OrganizationsDirectory)
WORK_QUEUE_IAM_ACTIONS = actions_for(WorkQueue, FifoWorkQueue)
HUB_IAM_ACTIONS = REACH_IAM_ACTIONS | DIRECTORY_IAM_ACTIONS | WORK_QUEUE_IAM_ACTIONS
# How long the organization's account list is trusted before it is read again.
MEMBERSHIP_TTL = timedelta(minutes=10)


def member_sessions(settings: OrganizationSettings) -> MemberSessions | None:
    if not settings.organization_wide:
        return None
    return MemberSessions.from_default_session(settings.member_role_name)


def organization_directory(settings: OrganizationSettings) -> OrganizationsDirectory | None:
    if not settings.organization_wide:
        return None
    return OrganizationsDirectory(make_client("organizations"))


def cached_membership(settings: OrganizationSettings) -> CachedMembership:
    """The organization's governed accounts, in this hub's regions (its own when none are set), read every 10 min."""
    return CachedMembership(
        OrganizationsDirectory(make_client("organizations")),
        settings.regions_or(os.environ.get("AWS_REGION", "")),
        settings.organizational_units,
        settings.member_role_name,
        ttl=MEMBERSHIP_TTL,
        clock=lambda: datetime.now(UTC),
    )


def work_queue(queue_url: str) -> FifoWorkQueue:
    return FifoWorkQueue(make_client("sqs"), queue_url)

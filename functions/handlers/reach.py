"""Where a handler's work is: the account it runs in, or - an organization hub (Scope=organization) - a member
account-region, reached through the member's governance role (one AssumeRole per account, clients kept)."""

from __future__ import annotations

from ecr_governance.aws.accounts import ASSUME_ROLE_ACTIONS, MemberSessions
from ecr_governance.aws.clients import make_client
from ecr_governance.aws.ecr import EcrRegistry
from ecr_governance.aws.iam import actions_for
from ecr_governance.aws.inspector import InspectorUsage
from ecr_governance.aws.organizations import OrganizationsDirectory
from ecr_governance.organization.membership import OrganizationDirectory, Target
from ecr_governance.organization.settings import OrganizationSettings
from ecr_governance.sweep.ports import SweepAdapters

# What an organization hub needs besides its own work: the members' roles, and (its planners) the account list.
REACH_IAM_ACTIONS = ASSUME_ROLE_ACTIONS
DIRECTORY_IAM_ACTIONS = actions_for(OrganizationDirectory, OrganizationsDirectory)


def member_sessions(settings: OrganizationSettings) -> MemberSessions | None:
    if not settings.organization_wide:
        return None
    return MemberSessions.from_default_session(settings.member_role_name)


def organization_directory(settings: OrganizationSettings) -> OrganizationsDirectory | None:
    if not settings.organization_wide:
        return None
    return OrganizationsDirectory(make_client("organizations"))


def sweep_reach(sessions: MemberSessions):  # noqa: ANN201 - a Reach (sweep.ports)
    """A member account-region's sweep adapters (raises MemberUnreachable)."""

    def reach(target: Target) -> SweepAdapters:
        registry = EcrRegistry(sessions.client("ecr", target.account_id, target.region))
        in_use = InspectorUsage(sessions.client("inspector2", target.account_id, target.region))
        return SweepAdapters(registry, registry, in_use)

    return reach

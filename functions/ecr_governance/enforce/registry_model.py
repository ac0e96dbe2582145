"""What enforcement reads of the registry-level settings ECR added in 2025-26, and the writes that remedy them.

Plain records, importing nothing of the domain: the ECR adapter builds them (and every function that uses the
adapter imports this module).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CreationTemplate:
    """A repository creation template (DescribeRepositoryCreationTemplates): the settings ECR gives a repository it
    creates itself - for a pull-through cache rule, replication or a push to a missing repository."""

    prefix: str  # a namespace (`prod` applies to `prod/...`) or ROOT: every repository no other template covers
    applied_for: tuple[str, ...] = ()  # REPLICATION | PULL_THROUGH_CACHE | CREATE_ON_PUSH
    tag_mutability: str = "MUTABLE"  # ECR's default when the template names none
    exclusion_filters: tuple[str, ...] = ()
    lifecycle_policy: str = ""  # the policy's JSON text, "" for none
    encryption_type: str = ""  # "" when the template names none (ECR's AES256)
    kms_key: str = ""
    description: str = ""


@dataclass(frozen=True)
class RegistryPolicy:
    registry_id: str  # the account the registry belongs to
    text: str


# ---- the safe writes ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CreateTemplate:
    template: CreationTemplate


@dataclass(frozen=True)
class UpdateTemplate:
    template: CreationTemplate  # only ever our own (its description says so)


@dataclass(frozen=True)
class RegisterExclusion:
    principal_arn: str


RegistryWrite = CreateTemplate | UpdateTemplate | RegisterExclusion

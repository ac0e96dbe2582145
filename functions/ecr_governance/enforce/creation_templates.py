"""Repository creation templates against the standard (pure).

Repositories ECR creates itself (pull-through cache, replication, create on push) start from the template whose
prefix matches, else the ROOT template - not from our standard. The standard wants a ROOT template that carries it:
the target tag mutability with its exclusion filters, the standard lifecycle policy and, when RepositoryEncryption
asks, KMS encryption. A ROOT template we created says so in its description; only such a template is ever updated.
Any other template - ROOT made by someone else, or a prefix's - is checked for drift and reported, never overwritten
(the same rule as custom lifecycle policies).
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from ecr_governance.enforce.model import Aspect, Check, RegistryCheck, Status
from ecr_governance.enforce.registry_model import CreateTemplate, CreationTemplate, UpdateTemplate
from ecr_governance.enforce.settings import EnforceSettings
from ecr_governance.enforce.standard import (
    canonical_policy,
    describe_mutability,
    encryption_problem,
    mutability_problem,
)

ROOT = "ROOT"
APPLIED_FOR = ("CREATE_ON_PUSH", "PULL_THROUGH_CACHE", "REPLICATION")
MANAGED_DESCRIPTION = "Managed by ecr-governance: the standard for repositories ECR creates"
NOT_OURS = "not ours: reported, never overwritten"
NO_ROOT_DETAIL = "repositories ECR creates (pull-through cache, replication, create on push) start MUTABLE, no policy"


def standard_template(settings: EnforceSettings) -> CreationTemplate:
    """The ROOT template that carries the standard."""
    registry = settings.registry
    return CreationTemplate(
        prefix=ROOT,
        applied_for=APPLIED_FOR,
        tag_mutability=str(settings.tag_mutability),
        exclusion_filters=settings.remediation_exclusion_filters,
        lifecycle_policy=json.dumps(settings.standard_lifecycle_policy),
        encryption_type=str(registry.repository_encryption) if registry.requires_kms else "",
        kms_key=registry.repository_kms_key_arn,
        description=MANAGED_DESCRIPTION,
    )


def is_ours(template: CreationTemplate) -> bool:
    return template.prefix == ROOT and template.description == MANAGED_DESCRIPTION


def template_drift(template: CreationTemplate, settings: EnforceSettings) -> list[str]:
    """What in a template breaks the standard: the repositories ECR creates from it would break it too."""
    drift = []
    if mutability_problem(template.tag_mutability, template.exclusion_filters, settings):
        drift.append(f"tag mutability {describe_mutability(template.tag_mutability, template.exclusion_filters)}")
    if not template.lifecycle_policy:
        drift.append("no lifecycle policy")
    if settings.registry.requires_kms:
        problem = encryption_problem(template.encryption_type, template.kms_key, settings.registry)
        if problem:
            drift.append(f"encryption {problem}")
    return drift


def _differences(current: CreationTemplate, standard: CreationTemplate) -> list[str]:
    """How our own template differs from the standard now (the settings changed, or someone edited it)."""
    differences = []
    if (current.tag_mutability, current.exclusion_filters) != (standard.tag_mutability, standard.exclusion_filters):
        differences.append(f"tag mutability {describe_mutability(current.tag_mutability, current.exclusion_filters)}")
    if _policy(current.lifecycle_policy) != _policy(standard.lifecycle_policy):
        differences.append("lifecycle policy not the standard")
    if set(current.applied_for) != set(standard.applied_for):
        differences.append(f"applied for {', '.join(current.applied_for) or 'nothing'}")
    encryption = current.encryption_type or "AES256"
    if (encryption, current.kms_key) != (standard.encryption_type or "AES256", standard.kms_key):
        differences.append(f"encryption {encryption}")
    return differences


def _policy(text: str) -> str | None:
    try:
        return canonical_policy(json.loads(text)) if text else None
    except json.JSONDecodeError:
        return text


def check_creation_templates(templates: Sequence[CreationTemplate], settings: EnforceSettings) -> list[RegistryCheck]:
    """The ROOT template (created or kept the standard when ours), then every other template's drift."""
    standard = standard_template(settings)
    root = next((t for t in templates if t.prefix == ROOT), None)
    checks: list[RegistryCheck] = []
    if root is None:
        check = Check(Aspect.CREATION_TEMPLATE, Status.VIOLATION, "ROOT: none", "ROOT: the standard", NO_ROOT_DETAIL)
        checks.append(RegistryCheck(check, CreateTemplate(standard)))
    elif is_ours(root):
        differences = "; ".join(_differences(root, standard))
        if differences:
            check = Check(Aspect.CREATION_TEMPLATE, Status.VIOLATION, f"ROOT: {differences}", "ROOT: the standard")
            checks.append(RegistryCheck(check, UpdateTemplate(standard)))
        else:
            checks.append(RegistryCheck(Check(Aspect.CREATION_TEMPLATE, Status.COMPLIANT, "ROOT: the standard")))
    for template in templates:
        if template is not root or not is_ours(template):
            checks.append(_someone_elses(template, settings))
    return checks


def _someone_elses(template: CreationTemplate, settings: EnforceSettings) -> RegistryCheck:
    drift = template_drift(template, settings)
    if not drift:
        return RegistryCheck(Check(Aspect.CREATION_TEMPLATE, Status.COMPLIANT, f"{template.prefix}: compliant"))
    before = f"{template.prefix}: {'; '.join(drift)}"
    return RegistryCheck(Check(Aspect.CREATION_TEMPLATE, Status.VIOLATION, before, "the standard", NOT_OURS))

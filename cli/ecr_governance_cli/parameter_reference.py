"""The parameter reference, generated: every Parameter of template.yaml in its console group, each said once - by the
SettingDoc the code reads it through (functions/ecr_governance/**/settings.py), or, for a Parameter no code reads, by
one below.

`python -m ecr_governance_cli.parameter_reference` writes docs/parameters.md (`make docs` runs it first);
`--check` exits 1 when the file is stale. tests/contract/test_parameter_reference.py holds template.yaml's
Parameters (Default, AllowedValues, AllowedPattern, MinValue/MaxValue, Description) and its
AWS::CloudFormation::Interface groups to what is here, and the committed file to `render()`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

from ecr_governance.config import BOOLEAN, SettingDoc
from ecr_governance.enforce import settings as enforce_settings
from ecr_governance.enforce.registry_settings import REPOSITORY_KMS_KEY_ARN
from ecr_governance.findings import scan_settings
from ecr_governance.findings import settings as findings_settings
from ecr_governance.sweep import settings as sweep_settings

PROJECT_ROOT = Path(__file__).resolve().parents[2]
REFERENCE = PROJECT_ROOT / "docs" / "parameters.md"
RETENTION_DAYS = (
    1,
    3,
    5,
    7,
    14,
    30,
    60,
    90,
    120,
    150,
    180,
    365,
    400,
    545,
    731,
    1096,
    1827,
    2192,
    2557,
    2922,
    3288,
    3653,
)
EMAIL_NOTE = "the address confirms the subscription from the first message SNS sends"


def _template_only(parameter: str, default: str, doc: str, **limits: object) -> SettingDoc:
    return SettingDoc("", parameter, default, doc, **limits)  # type: ignore[arg-type]


def _deprecated(parameter: str, replacement: str, what: str) -> SettingDoc:
    return _template_only(
        parameter, "", f"Deprecated - use {replacement}. When set, it wins: {what}, as it did before the rename."
    )


# Parameters that no function reads: the template uses them itself (schedules, event sources, subscriptions, keys).
TEMPLATE_ONLY: tuple[SettingDoc, ...] = (
    _template_only(
        "ReconcileSchedule",
        "rate(1 day)",
        "EventBridge schedule expression of the full reconcile (CloudTrail delivery is best effort).",
    ),
    _template_only(
        "AlertNotificationEmail",
        "",
        "Optional e-mail address subscribed to the scan-findings alerts topic (`ALERTS_TOPIC_ARN`, always created). "
        "Apart from NotificationEmail on purpose: alerts go to the security team, and a burst of vulnerability "
        f"alerts must not bury the operators' alarms; {EMAIL_NOTE}.",
    ),
    _template_only(
        "InspectorFindingsBatchWindowSeconds",
        "60",
        "How long Inspector finding events are collected before they are alerted, one alert per vulnerability per "
        "batch (1-300, the SQS event source's `MaximumBatchingWindowInSeconds`; Lambda needs at least 1 s for a batch "
        "of more than 10).",
        minimum=1,
        maximum=300,
    ),
    _template_only("SweepSchedule", "rate(1 day)", "EventBridge schedule expression of the sweep planner."),
    _template_only(
        "SweepConcurrency",
        "5",
        "Most sweep workers at once (the queue's event source `MaximumConcurrency`, 2-1000): ECR's unpublished rate "
        "limits.",
        minimum=2,
        maximum=1000,
    ),
    _template_only(
        "OrganizationId",
        "",
        "The organization (`o-...`) whose accounts may put events on the hub's bus; required with "
        "`Scope=organization`.",
        pattern="^(o-[a-z0-9]{10,32})?$",
    ),
    _template_only(
        "HubEventBusName",
        "ecr-governance-hub",
        "The bus members forward their ECR events to (`org/member.yaml`'s `HubEventBusName`; Scope=organization).",
        pattern="^[A-Za-z0-9._-]{1,256}$",
    ),
    _template_only(
        "MemberConcurrency",
        "10",
        "Most member account-regions enforced at once (`Scope=organization`: the member work queue's "
        "`MaximumConcurrency`, 2-1000).",
        minimum=2,
        maximum=1000,
    ),
    _template_only(
        "NotificationEmail",
        "",
        "Optional e-mail address subscribed to the operations topic (always created: failures queues, rejected "
        "events, alerts SNS could not deliver, alert ledger, suppressions and Security Hub failures), and to the "
        f"remediation and sweep topics when NotifyRemediations / NotifySweep create them; {EMAIL_NOTE}.",
    ),
    SettingDoc(
        "POWERTOOLS_LOG_LEVEL",
        "LogLevel",
        "INFO",
        "Log level of the functions (`DEBUG` also logs every compliant decision).",
        allowed=("DEBUG", "INFO", "WARNING", "ERROR"),
    ),
    _template_only(
        "LogRetentionDays",
        "90",
        "Retention of the functions' CloudWatch log groups.",
        allowed=tuple(str(days) for days in RETENTION_DAYS),
    ),
    _template_only(
        "Architecture",
        "arm64",
        "Instruction set of every function (Graviton arm64 costs less per GB-second). `x86_64` is for `sam local "
        "invoke` on an x86_64 machine, where arm64 would need CPU emulation (`make sam-local` passes it: see "
        "[CLI](cli.md#the-real-sam-local-invoke)).",
        allowed=("arm64", "x86_64"),
    ),
    _template_only(
        "KmsKeyArn",
        "",
        "Optional customer managed KMS key that encrypts the stack's topics, queues, tables and log groups (empty = "
        "AWS-owned keys: SQS-managed SSE, DynamoDB's default, CloudWatch Logs' own). Its key policy must admit "
        "EventBridge, CloudWatch alarms, CloudWatch Logs and this account's use through SQS, SNS and DynamoDB (see "
        "[Operations](operations.md)).",
        pattern=REPOSITORY_KMS_KEY_ARN.pattern,  # a KMS key ARN, as RepositoryKmsKeyArn
    ),
    _template_only(
        "Mode",
        "",
        "Deprecated - use EnforceMode. When set, it wins over EnforceMode, so a stack deployed in audit mode stays in "
        "audit mode after an update that reuses its previous parameter values.",
        allowed=("", *enforce_settings.GOVERNANCE_MODE.allowed),
    ),
    _deprecated("RemediationNotificationEmail", "NotificationEmail", "it is subscribed to the remediation topic"),
    _deprecated("OperationsNotificationEmail", "NotificationEmail", "it is subscribed to the operations topic"),
    _deprecated("SweepNotificationEmail", "NotificationEmail", "it is subscribed to the sweep topic"),
)
# The console's form (template.yaml's AWS::CloudFormation::Interface) and this reference, group by group.
GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "Enforcement: tag immutability, scan on push and a lifecycle policy on every repository",
        ("EnforceMode", "TagMutability", "AllowedExclusionFilters", "StandardLifecyclePolicy", "ReconcileSchedule",
         "ReconcileConcurrency", "NotifyRemediations"),
    ),
    (
        "Exemptions: repositories left out of parts of the standard",
        ("ExemptTagKey", "ExemptTagValue", "ExemptRepositoryPatterns", "ScanExemptRepositoryPatterns"),
    ),
    (
        "Registry-wide settings: cache repositories, scanners, signing, encryption",
        ("CacheLifecyclePolicy", "ScannerRoleArns", "SignedRepositoryPatterns", "RepositoryEncryption",
         "RepositoryKmsKeyArn", "ExemptRegistryAspects"),
    ),
    (
        "Scan findings alerts",
        ("AlertSeverityThreshold", "AlertOnlyFixable", "SuppressionsParameterName", "AlertMemoryDays",
         "InspectorFindingsBatchWindowSeconds", "ImportBasicFindingsToSecurityHub", "AlertNotificationEmail"),
    ),
    (
        "Untagged sweep",
        ("SweepMode", "SweepSchedule", "SweepMinAgeDays", "SweepMinIdleDays", "SweepArchived", "SweepConcurrency",
         "SweepRunDeadlineHours", "StoragePricePerGbMonth", "ArchivePricePerGbMonth", "NotifySweep"),
    ),
    (
        "Organization hub (Scope=organization)",
        ("Scope", "OrganizationId", "OrganizationalUnits", "GovernedRegions", "MemberRoleName", "HubEventBusName",
         "AccountConcurrency", "MemberConcurrency", "ReconcileSummaryDeadlineHours"),
    ),
    (
        "Notifications, logs, architecture, encryption and the API endpoint",
        ("NotificationEmail", "LogLevel", "LogRetentionDays", "Architecture", "KmsKeyArn", "RegistryApi"),
    ),
    (
        "Deprecated: kept so that an update keeps what the stack had",
        ("Mode", "RemediationNotificationEmail", "OperationsNotificationEmail", "SweepNotificationEmail"),
    ),
)  # fmt: skip
# Each function's settings, by the module that reads them.
READ_BY: dict[tuple[str, ...], tuple[SettingDoc, ...]] = {
    ("EnforceRepositoryFunction", "EnforceMemberFunction"): enforce_settings.SETTINGS_DOCS,
    ("ScanFindingsFunction",): scan_settings.SETTINGS_DOCS,
    ("InspectorFindingsFunction",): findings_settings.SETTINGS_DOCS,
    ("SweepPlannerFunction", "SweepWorkerFunction"): sweep_settings.SETTINGS_DOCS,
}


def code_docs() -> tuple[SettingDoc, ...]:
    """Every setting the functions read, once (exemptions and the organization's are shared by several)."""
    return tuple(dict.fromkeys(doc for docs in READ_BY.values() for doc in docs))


def by_parameter() -> dict[str, SettingDoc]:
    """Parameter -> its one doc. A Parameter said twice is a fault this raises."""
    found: dict[str, SettingDoc] = {}
    for doc in (*code_docs(), *TEMPLATE_ONLY):
        if not doc.has_parameter:
            continue
        if doc.parameter in found:
            raise ValueError(f"{doc.parameter} is documented twice ({found[doc.parameter].env!r}, {doc.env!r})")
        found[doc.parameter] = doc
    return found


def _code(value: str) -> str:
    return f"`{value}`" if value else "empty"


def _limits(doc: SettingDoc) -> str:
    if doc.allowed and doc.allowed != BOOLEAN:
        return (
            ", ".join(_code(value) for value in doc.allowed)
            if len(doc.allowed) <= 8
            else "a retention CloudWatch Logs allows"
        )
    if doc.allowed:
        return "`true`, `false`"
    if doc.minimum is not None and doc.maximum is not None:
        return f"{doc.minimum:g} to {doc.maximum:g}"
    return "a pattern (see the template)" if doc.pattern else "any text"


def _variable(doc: SettingDoc) -> str:
    if not doc.env:
        return "- (template only)"
    return f"`{doc.env}`" + (f" ({doc.feeds})" if doc.feeds else "")


def _meaning(doc: SettingDoc) -> str:
    replaced = f" Replaces the deprecated `{doc.replaces}`, which still wins when set." if doc.replaces else ""
    return doc.doc.replace("|", "\\|") + replaced


def _table(rows: Iterable[str], header: str) -> list[str]:
    columns = header.count("|") - 1
    return [header, "|" + "---|" * columns, *rows]


def render() -> str:
    docs = by_parameter()
    lines = [
        "# Parameters (template.yaml)",
        "",
        "<!-- Generated by `python -m ecr_governance_cli.parameter_reference` (make docs) from the settings' own",
        "     SettingDocs; edit those, not this file. A contract test fails when it is stale. -->",
        "",
        "Each parameter is said once in the code (its `SettingDoc`: environment variable, default, allowed values,",
        "this text), and template.yaml's Parameters are checked against it. The groups are the console's. A bad value",
        "fails the cold start with a message naming the variable (e.g. `TAG_MUTABILITY='MUTABLE' is not valid:",
        "expected one of IMMUTABLE, IMMUTABLE_WITH_EXCLUSION`). The CLI's `audit`/`enforce` read the same variables",
        "from your shell.",
    ]
    for label, parameters in GROUPS:
        lines += ["", f"## {label}", ""]
        rows = (
            f"| `{name}` | {_code(docs[name].default)} | {_limits(docs[name])} | {_variable(docs[name])} | "
            f"{_meaning(docs[name])} |"
            for name in parameters
        )
        lines += _table(rows, "| Parameter | Default | Allowed | Environment variable | Meaning |")
    lines += [
        "",
        "## Set by the template from its own resources",
        "",
        "Also set: `POWERTOOLS_SERVICE_NAME=ecr-governance` and `POWERTOOLS_METRICS_NAMESPACE=ECRGovernance` (every",
        "function).",
        "",
    ]
    derived = [doc for doc in code_docs() if not doc.has_parameter]
    rows = (
        f"| `{doc.env}` | {functions} | {doc.parameter.strip('()')}: {_meaning(doc)} |"
        for doc in derived
        for functions in [", ".join(name for names, docs in READ_BY.items() if doc in docs for name in names)]
    )
    lines += _table(rows, "| Environment variable | Functions | Meaning |")
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="parameter_reference", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check", action="store_true", help="exit 1 when docs/parameters.md is not what render() gives"
    )
    arguments = parser.parse_args(argv)
    text = render()
    if arguments.check:
        if REFERENCE.read_text() != text:
            print(
                f"{REFERENCE.relative_to(PROJECT_ROOT)} is stale: run python -m ecr_governance_cli.parameter_reference"
            )
            return 1
        return 0
    REFERENCE.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())

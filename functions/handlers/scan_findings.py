"""ScanFindingsFunction: `ECR Image Scan` / `Inspector2 Scan` events -> one alert per scanned image (and, when
findings are imported into Security Hub, `ECR Image Action` DELETE events -> the image's findings archived).

The composition root: settings are parsed and clients built once per execution environment. Powertools Idempotency
(a DynamoDB table) makes a duplicate delivery of the same scan publish nothing; without a table (a local invoke)
idempotency is off and says so in a WARNING line. Without an alerts topic the alert is logged instead of sent.

An organization hub (Scope=organization) also alerts its members' scans: a member's event is admitted only when the
organization's membership admits its account and region (else it is rejected in one line, before any call in the
member), and its findings are read in the member's ECR through the member's governance role - the same alert, rules,
ledger and topic. A member whose role cannot be assumed is an ERROR line and `AccountsNotOnboarded`, and the
invocation fails: Lambda retries it twice, then keeps it in the failures queue (alarmed) for `findings redrive`.

In the repositories SignedRepositoryPatterns names, a completed scan also reads the image's managed-signing status
(in a member's account for a member's image): a FAILED signing is alerted (findings/signing_status.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig
from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import DataRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from ecr_governance import SERVICE_NAME
from ecr_governance.aws.accounts import MemberSessions
from ecr_governance.aws.alert_ledger import DynamoAlertLedger
from ecr_governance.aws.clients import client_maker
from ecr_governance.aws.ecr import EcrRegistry
from ecr_governance.aws.iam import actions_declared_by, actions_for
from ecr_governance.aws.idempotency import IdempotencyTable, Once
from ecr_governance.aws.securityhub import SecurityHubImporter
from ecr_governance.aws.sns import SnsPublisher
from ecr_governance.aws.ssm import SsmSuppressions
from ecr_governance.errors import InvalidEvent, MemberUnreachable
from ecr_governance.findings.events import ImageDeletedEvent, ScanEvent, ScanKind, parse_scan_event
from ecr_governance.findings.ledger import AlertLedger, GuardedPublisher
from ecr_governance.findings.normalize import Severity
from ecr_governance.findings.ports import FindingsImporter, ImageExistence, ScanFindingsSource, SuppressionsSource
from ecr_governance.findings.provenance import Registry, admitted_registry, scan_event_registry
from ecr_governance.findings.reader import FindingsReader, RulesReader
from ecr_governance.findings.scan_alerts import AlertStatus, ScanAlerter
from ecr_governance.findings.scan_settings import ScanFindingsSettings
from ecr_governance.findings.security_hub import SecurityHubSync
from ecr_governance.findings.signing_status import SigningStatusReader
from ecr_governance.location import Location
from ecr_governance.notice import NoticePublisher
from ecr_governance.organization.membership import CachedMembership
from ecr_governance.registry_api import RegistryApi
from ecr_governance.signing import SigningStatusSource

from handlers.edge import camel_case_response, log_rejected_event, own_location
from handlers.findings_wiring import ALERT_METRIC_BY_SEVERITY, guarded_publisher, rules_reader
from handlers.reach import DIRECTORY_IAM_ACTIONS, REACH_IAM_ACTIONS, cached_membership, member_sessions

# What this function needs from IAM (template.yaml grants exactly these; a contract test compares them). The
# conditional ones are granted only when the setting named as their key turns the feature on.
IAM_ACTIONS = (
    actions_for(ScanFindingsSource, EcrRegistry)
    | actions_for(NoticePublisher, SnsPublisher)
    | actions_for(AlertLedger, DynamoAlertLedger)
    | actions_declared_by(IdempotencyTable)
)
CONDITIONAL_IAM_ACTIONS = {
    "SUPPRESSIONS_PARAMETER_NAME": actions_for(SuppressionsSource, SsmSuppressions),
    "IMPORT_FINDINGS_TO_SECURITY_HUB": actions_for(FindingsImporter, SecurityHubImporter)
    | actions_for(ImageExistence, EcrRegistry),
    # An organization hub: the members' roles and the account list (MEMBER_ROLE_NAME is set only then).
    "MEMBER_ROLE_NAME": REACH_IAM_ACTIONS | DIRECTORY_IAM_ACTIONS,
    # Images in repositories that must be signed: their signing status.
    "SIGNED_REPOSITORY_PATTERNS": actions_for(SigningStatusSource, EcrRegistry),
}
# What it does in a member, through the member's governance role (org/member.yaml grants it; a contract test checks).
MEMBER_IAM_ACTIONS = actions_for(ScanFindingsSource, EcrRegistry) | actions_for(SigningStatusSource, EcrRegistry)
# Duplicate deliveries of a scan event arrive within minutes; Lambda retries async events for up to 6 hours.
IDEMPOTENCY_WINDOW_SECONDS = 24 * 3600
METRIC_BY_STATUS = {
    AlertStatus.ALERTED: "AlertsPublished",
    AlertStatus.NOTHING_TO_ALERT: "ScansWithoutAlert",
    AlertStatus.ALREADY_ALERTED: "ScansAlreadyAlerted",
    AlertStatus.IMAGE_GONE: "ImagesGone",
    AlertStatus.NOT_SCANNED: "ImagesNotScanned",
    AlertStatus.IMAGE_DELETED: "DeletedImagesHandled",
}
METRIC_BY_COUNT = {
    "findings_alerted": "FindingsAlerted",
    "findings_suppressed": "FindingsSuppressed",
    "expired_suppressions": "ExpiredSuppressionsMatched",
    "previously_alerted": "FindingsPreviouslyAlerted",
    "suppression_problems": "SuppressionProblems",
    "ledger_failures": "AlertLedgerFailures",
    "signing_failures_alerted": "SigningFailuresAlerted",
    "signing_unread": "SigningStatusUnread",
}
# Why a signing status is not read at all: the endpoint lacks the API (an emulator).
CORE_API_REASON = "the endpoint serves only ECR's core API (RegistryApi=core): managed signing is not read there"
SECURITY_HUB_METRICS = {
    "security_hub_imported": "SecurityHubFindingsImported",
    "security_hub_archived": "SecurityHubFindingsArchived",
    "security_hub_failed": "SecurityHubImportFailures",
}

logger = Logger(service=SERVICE_NAME)
metrics = Metrics(service=SERVICE_NAME)


@dataclass(frozen=True)
class MemberScanAlerts:
    """An organization hub's scan alerts for its members: which member registries it admits, and the alert composed
    for one - the same rules, ledger and topic, the member's ECR read through its governance role (clients kept)."""

    sessions: MemberSessions
    membership: CachedMembership
    rules: RulesReader
    guard: GuardedPublisher
    import_to_security_hub: bool
    signing_patterns: tuple[str, ...]

    def registry_of(self, event: Any, own: Location) -> Registry:
        """The registry the event is about, once admitted (InvalidEvent otherwise; no call in any member)."""
        return admitted_registry(scan_event_registry(event), own, self.membership.current)

    def alerter_for(self, registry: Registry, event: ScanEvent | ImageDeletedEvent) -> ScanAlerter:
        """The scan alert in the member's registry (raises MemberUnreachable when its role cannot be assumed)."""
        where = registry.location
        ecr = EcrRegistry(self.sessions.client("ecr", where.account, where.region))
        if self.import_to_security_hub and (isinstance(event, ImageDeletedEvent) or event.kind is ScanKind.BASIC):
            # BatchImportFindings with the default product imports only the calling account's findings.
            logger.info("Security Hub import skipped: a member's findings cannot be imported from the hub")
        signing = signing_reader(ecr, self.signing_patterns)  # the member's image: its status is in its account
        return ScanAlerter(FindingsReader(ecr, self.rules), self.guard, signing=signing)


def signing_reader(registry: EcrRegistry, patterns: tuple[str, ...]) -> SigningStatusReader | None:
    """The signing statuses of images that must be signed, read in `registry` (None: no repository must be)."""
    if not patterns:
        return None
    unavailable = CORE_API_REASON if settings.registry_api is RegistryApi.CORE else ""
    return SigningStatusReader(registry, patterns, unavailable)


settings = ScanFindingsSettings.from_environ()
make_client, make_lazy_client = client_maker(), client_maker(lazy=True)  # one session for every client
registry = EcrRegistry(make_client("ecr"))
rules = rules_reader(settings, make_client)
guard = guarded_publisher(settings, make_client)
alerter = ScanAlerter(
    FindingsReader(registry, rules),
    guard,
    security_hub=SecurityHubSync(SecurityHubImporter(make_lazy_client("securityhub")))
    if settings.import_to_security_hub
    else None,
    images=registry,
    signing=signing_reader(registry, settings.signed_repository_patterns),
)
# An organization hub's reach into its members (None in a single-account stack: its own registry only).
sessions = member_sessions(settings.organization)
members = (
    MemberScanAlerts(
        sessions,
        cached_membership(settings.organization),
        rules,
        guard,
        settings.import_to_security_hub,
        settings.signed_repository_patterns,
    )
    if sessions
    else None
)


def _duplicate_delivery(response: Any, idempotent_data: DataRecord) -> Any:
    """Powertools calls this instead of the function for a scan it already handled: nothing is published again."""
    logger.info("duplicate scan event: already handled, nothing published", extra={"first_outcome": response})
    metrics.add_metric(name="DuplicateScansSkipped", unit=MetricUnit.Count, value=1)
    return {**response, "duplicate": True} if isinstance(response, dict) else response


def _unsaved(error: Exception) -> None:
    logger.error("alert sent but its idempotency record not saved", extra={"reason": str(error)})
    metrics.add_metric(name="AlertLedgerFailures", unit=MetricUnit.Count, value=1)


idempotency_config = IdempotencyConfig(
    event_key_jmespath="key",
    raise_on_no_idempotency_key=True,
    expires_after_seconds=IDEMPOTENCY_WINDOW_SECONDS,
    response_hook=_duplicate_delivery,
)


def _alert(event: Any, alerter: ScanAlerter) -> dict[str, Any]:
    return alerter.handle(event).as_dict()


handle: Callable[..., dict[str, Any]] = _alert
if settings.idempotency_table_name:
    table = IdempotencyTable(make_client("dynamodb"), settings.idempotency_table_name)
    handle = Once(_alert, table, idempotency_config, _unsaved)
else:
    logger.warning(
        "idempotency disabled: IDEMPOTENCY_TABLE_NAME is empty (a local run); a duplicate event alerts twice",
        extra={"setting": "IDEMPOTENCY_TABLE_NAME"},
    )


@camel_case_response
@metrics.log_metrics(capture_cold_start_metric=True)
@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    own = own_location(context)
    try:
        where = members.registry_of(event, own) if members else Registry(own)
        parsed = parse_scan_event(event, where)
    except InvalidEvent as error:
        log_rejected_event(logger, metrics, str(error), event)
        return {"status": "rejected", "reason": str(error)}
    logger.append_keys(event_id=parsed.event_id, repository=parsed.image.repository_name, digest=parsed.image.digest)
    idempotency_config.register_lambda_context(context)
    outcome = handle(parsed, alerter=_alerter_for(where, parsed))
    if not outcome.get("duplicate"):
        _emit_metrics(outcome)
    return outcome


def _alerter_for(where: Registry, event: ScanEvent | ImageDeletedEvent) -> ScanAlerter:
    if members is None or not where.is_member:
        return alerter
    logger.append_keys(account=where.location.account, account_name=where.account_name, region=where.location.region)
    try:
        return members.alerter_for(where, event)
    except MemberUnreachable as error:  # raised: retried, then kept in the failures queue - never dropped silently
        logger.error(
            "account not onboarded: its scan is not alerted now; retried, then kept in the failures queue",
            extra={"reason": str(error)},
        )
        metrics.add_metric(name="AccountsNotOnboarded", unit=MetricUnit.Count, value=1)
        raise


def _emit_metrics(outcome: dict[str, Any]) -> None:
    metrics.add_metric(name=METRIC_BY_STATUS[AlertStatus(outcome["status"])], unit=MetricUnit.Count, value=1)
    if outcome["status"] == AlertStatus.ALERTED and outcome.get("highest_severity"):
        severity = Severity(outcome["highest_severity"])
        metrics.add_metric(name=ALERT_METRIC_BY_SEVERITY[severity], unit=MetricUnit.Count, value=1)
    counts = {**METRIC_BY_COUNT, **(SECURITY_HUB_METRICS if settings.import_to_security_hub else {})}
    for field, name in counts.items():
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=outcome[field])

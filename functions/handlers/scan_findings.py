"""ScanFindingsFunction: `ECR Image Scan` / `Inspector2 Scan` events -> one alert per scanned image.

The composition root: settings are parsed and clients built once per execution environment. Powertools Idempotency
(a DynamoDB table) makes a duplicate delivery of the same scan publish nothing; without a table (a local invoke)
idempotency is off and says so in a WARNING line. Without an alerts topic the alert is logged instead of sent.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig, idempotent_function
from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import DataRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from ecr_governance import SERVICE_NAME
from ecr_governance.aws.clients import client_maker
from ecr_governance.aws.ecr import EcrRegistry
from ecr_governance.aws.iam import actions_declared_by, actions_for
from ecr_governance.aws.idempotency import IdempotencyTable
from ecr_governance.aws.securityhub import SecurityHubImporter
from ecr_governance.aws.sns import SnsPublisher
from ecr_governance.aws.ssm import SsmSuppressions
from ecr_governance.errors import InvalidEvent
from ecr_governance.findings.events import ScanEvent, parse_scan_event
from ecr_governance.findings.service import (
    AlertOutcome,
    AlertStatus,
    FindingsImporter,
    LoggedAlerts,
    ScanFindingsAlerter,
    ScanFindingsSource,
    SuppressionsSource,
)
from ecr_governance.findings.settings import FindingsSettings
from ecr_governance.notice import NoticePublisher

from handlers.edge import camel_case_response, log_rejected_event, own_account_and_region

# What this function needs from IAM (template.yaml grants exactly these; a contract test compares them). The
# conditional ones are granted only when the setting named as their key turns the feature on.
IAM_ACTIONS = (
    actions_for(ScanFindingsSource, EcrRegistry)
    | actions_for(NoticePublisher, SnsPublisher)
    | actions_declared_by(IdempotencyTable)
)
CONDITIONAL_IAM_ACTIONS = {
    "SUPPRESSIONS_PARAMETER_NAME": actions_for(SuppressionsSource, SsmSuppressions),
    "IMPORT_FINDINGS_TO_SECURITY_HUB": actions_for(FindingsImporter, SecurityHubImporter),
}
SUPPRESSIONS_CACHE_SECONDS = 300
# Duplicate deliveries of a scan event arrive within minutes; Lambda retries async events for up to 6 hours.
IDEMPOTENCY_WINDOW_SECONDS = 24 * 3600

METRIC_BY_STATUS = {
    AlertStatus.ALERTED: "AlertsPublished",
    AlertStatus.NOTHING_TO_ALERT: "ScansWithoutAlert",
    AlertStatus.IMAGE_GONE: "ImagesGone",
    AlertStatus.SCAN_NOT_READABLE: "ScansNotReadable",
}

logger = Logger(service=SERVICE_NAME)
metrics = Metrics(service=SERVICE_NAME)

settings = FindingsSettings.from_environ()
make_client = client_maker()  # one session for every client this function builds
ecr_client = make_client("ecr")
alerter = ScanFindingsAlerter(
    EcrRegistry(ecr_client),
    SnsPublisher(make_client("sns"), settings.alerts_topic_arn) if settings.alerts_topic_arn else LoggedAlerts(),
    settings,
    suppressions=(
        SsmSuppressions(make_client("ssm"), settings.suppressions_parameter_name, SUPPRESSIONS_CACHE_SECONDS)
        if settings.suppressions_parameter_name
        else None
    ),
    importer=SecurityHubImporter(make_client("securityhub")) if settings.import_to_security_hub else None,
)


def _duplicate_delivery(response: Any, record: DataRecord) -> Any:
    """Powertools calls this instead of the function for a scan it already handled: nothing is published again."""
    logger.info("duplicate scan event: already handled, nothing published", extra={"first_outcome": response})
    metrics.add_metric(name="DuplicateScansSkipped", unit=MetricUnit.Count, value=1)
    return {**response, "duplicate": True} if isinstance(response, dict) else response


idempotency_config = IdempotencyConfig(
    event_key_jmespath="[kind, repository_name, image_digest, completed_at]",
    raise_on_no_idempotency_key=True,
    expires_after_seconds=IDEMPOTENCY_WINDOW_SECONDS,
    response_hook=_duplicate_delivery,
)


def _alert(scan: ScanEvent) -> dict[str, Any]:
    outcome = alerter.alert(scan)
    _emit_metrics(outcome)
    return outcome.as_dict()


if settings.idempotency_table_name:
    alert_once = idempotent_function(
        _alert,
        data_keyword_argument="scan",
        persistence_store=IdempotencyTable(make_client("dynamodb"), settings.idempotency_table_name),
        config=idempotency_config,
    )
else:
    logger.warning(
        "idempotency disabled: IDEMPOTENCY_TABLE_NAME is empty (a local run); a duplicate event alerts twice",
        extra={"setting": "IDEMPOTENCY_TABLE_NAME"},
    )
    alert_once = _alert


@camel_case_response
@metrics.log_metrics(capture_cold_start_metric=True)
@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    try:
        own_account, own_region = own_account_and_region(context)
        scan = parse_scan_event(event, own_account=own_account, own_region=own_region)
    except InvalidEvent as error:
        log_rejected_event(logger, metrics, str(error), event)
        return {"status": "rejected", "reason": str(error)}
    logger.append_keys(
        event_id=scan.event_id, scan_kind=str(scan.kind), repository=scan.repository_name, digest=scan.image_digest
    )
    if not scan.completed:
        logger.info("scan did not complete: nothing to read", extra={"scan_status": scan.scan_status})
        metrics.add_metric(name="ScansNotCompleted", unit=MetricUnit.Count, value=1)
        return {"status": "scan_not_completed", "scan_status": scan.scan_status}
    idempotency_config.register_lambda_context(context)
    return alert_once(scan=scan)


def _emit_metrics(outcome: AlertOutcome) -> None:
    metrics.add_metric(name=METRIC_BY_STATUS[outcome.status], unit=MetricUnit.Count, value=1)
    metrics.add_metric(name="FindingsAlerted", unit=MetricUnit.Count, value=outcome.findings_alerted)
    metrics.add_metric(name="FindingsSuppressed", unit=MetricUnit.Count, value=outcome.findings_suppressed)
    metrics.add_metric(name="ExpiredSuppressionsMatched", unit=MetricUnit.Count, value=outcome.expired_suppressions)
    if settings.import_to_security_hub:
        metrics.add_metric(
            name="SecurityHubFindingsImported", unit=MetricUnit.Count, value=outcome.security_hub_imported
        )
        metrics.add_metric(name="SecurityHubImportsRefused", unit=MetricUnit.Count, value=outcome.security_hub_failed)

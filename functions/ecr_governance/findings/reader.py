"""Reading what alerting decides on: the suppressions (as the rules both alert paths apply) and an image's latest
scan, decided into the report an alert carries (and `findings show` prints)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from aws_lambda_powertools import Logger

from ecr_governance import SERVICE_NAME
from ecr_governance.errors import FatalAwsError, GovernanceError
from ecr_governance.findings.normalize import ScannedImage, Severity
from ecr_governance.findings.policy import AlertRules, FindingsReport, Suppressions, decide, parse_suppressions
from ecr_governance.findings.ports import ScanFindingsSource, SuppressionsSource
from ecr_governance.findings.settings import FindingsSettings
from ecr_governance.images import iso8601

logger = Logger(service=SERVICE_NAME, child=True)


class RulesReader:
    """The rules as of now: the threshold, the only-fixable option and the suppressions document's valid entries."""

    def __init__(
        self,
        settings: FindingsSettings,
        suppressions: SuppressionsSource | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ):
        self._settings = settings
        self._suppressions = suppressions
        self.clock = clock

    @property
    def threshold(self) -> Severity:
        return self._settings.severity_threshold

    def _suppressions_read(self) -> Suppressions:
        if self._suppressions is None:
            return Suppressions()
        source = f"suppressions parameter {self._settings.suppressions_parameter_name}"
        try:
            return parse_suppressions(self._suppressions.suppressions_document(), source)
        except FatalAwsError:
            raise
        except GovernanceError as error:  # nothing is suppressed rather than nothing alerted
            return Suppressions(problems=(f"{source} could not be read, nothing is suppressed: {error}",))

    def rules(self) -> AlertRules:
        """Each invalid entry (or an unreadable document) is skipped with an ERROR line, and named in the alert."""
        suppressions = self._suppressions_read()
        for problem in suppressions.problems:
            logger.error("suppression skipped: the others still apply", extra={"reason": problem})
        return AlertRules(
            self._settings.severity_threshold, self._settings.only_fixable, suppressions, self.clock().date()
        )


class FindingsReader:
    def __init__(self, source: ScanFindingsSource, rules: RulesReader):
        self._source = source
        self.rules = rules

    def report(self, image: ScannedImage, scan_kind: str = "", completed_at: str = "") -> FindingsReport:
        """Read every finding of the image's latest scan and decide. Raises ImageNotFound / RepositoryNotFound when
        gone, ScanNotFound when never scanned. The scan kind and completion time default to what
        DescribeImageScanFindings says (an event's are exact)."""
        rules = self.rules.rules()  # read before the findings: a slow parameter read delays no page
        scan = self._source.image_scan(image.repository_name, image.digest)
        completed = completed_at or (iso8601(scan.completed_at) if scan.completed_at else "")
        scan_kind = scan_kind or scan.scan_kind
        findings = scan.findings if scan.readable else iter(())
        return FindingsReport(image, scan_kind, completed, decide(findings, image.repository_name, rules), scan.status)

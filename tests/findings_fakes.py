"""In-memory fakes of the findings ports (a conformance test holds them to the ports' signatures, as the adapters)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from ecr_governance.findings.asff import FailedImport
from ecr_governance.findings.ledger import LedgerEntry
from ecr_governance.findings.normalize import Finding, ImageScan
from ecr_governance.notice import Notice
from ecr_governance.signing import ImageSigningStatus


class InMemoryScans:
    """Serves ScanFindingsSource from pages of findings, and counts the pages read."""

    def __init__(self, pages: list[list[Finding]], status: str = "COMPLETE", error: Exception | None = None):
        self.pages = pages
        self.status = status
        self.error = error
        self.calls = 0
        self.pages_read = 0

    def image_scan(self, repository_name: str, image_digest: str) -> ImageScan:
        self.calls += 1
        if self.error:
            raise self.error
        return ImageScan(status=self.status, findings=self._findings())

    def _findings(self) -> Iterator[Finding]:
        for page in self.pages:
            self.pages_read += 1
            yield from page


class RecordingPublisher:
    def __init__(self, error: Exception | None = None):
        self.notices: list[Notice] = []
        self.error = error

    def publish(self, notice: Notice) -> None:
        if self.error:
            raise self.error
        self.notices.append(notice)


class FixedSuppressions:
    def __init__(self, document: str, error: Exception | None = None):
        self.document = document
        self.error = error

    def suppressions_document(self) -> str:
        if self.error:
            raise self.error
        return self.document


class RecordingImporter:
    """Security Hub in memory: imports by Id (the latest wins), or fails every call with `error`."""

    def __init__(self, refuse: int = 0, error: Exception | None = None):
        self.imported: list[dict] = []
        self.by_id: dict[str, dict] = {}
        self.refuse = refuse
        self.error = error

    def import_findings(self, findings: Sequence[Mapping[str, Any]]) -> list[FailedImport]:
        if self.error:
            raise self.error
        self.imported.extend(dict(f) for f in findings)
        self.by_id.update({f["Id"]: dict(f) for f in findings[self.refuse :]})
        return [FailedImport(f["Id"], "InvalidInput", "refused") for f in findings[: self.refuse]]

    def active_findings(self, product_arn: str, resource_id: str, generator_prefix: str) -> list[dict[str, Any]]:
        if self.error:
            raise self.error
        return [
            finding
            for finding in self.by_id.values()
            if finding.get("RecordState") == "ACTIVE"
            and finding["ProductArn"] == product_arn
            and finding["Resources"][0]["Id"] == resource_id
            and finding["GeneratorId"].startswith(generator_prefix)
        ]


class InMemoryLedger:
    """The alert ledger's rules (aws/alert_ledger.py's conditions) over a dict; `error` makes a call fail."""

    def __init__(self, error: Exception | None = None, failing: str = "claim"):
        self.items: dict[tuple[str, str], dict[str, Any]] = {}
        self.error = error
        self.failing = failing

    def _fail(self, call: str) -> None:
        if self.error and self.failing == call:
            raise self.error

    def claim(self, entries: Sequence[LedgerEntry], owner: str) -> list[LedgerEntry]:
        self._fail("claim")
        claimed = []
        for entry in entries:
            item = self.items.setdefault((entry.image, entry.subject), {})
            if item.get("state") == entry.state or item.get("at", "") > entry.at:
                continue
            if item.get("owner") not in (None, owner):
                continue
            item["owner"] = owner
            claimed.append(entry)
        return claimed

    def confirm(self, entries: Sequence[LedgerEntry]) -> None:
        self._fail("confirm")
        for entry in entries:
            self.items[(entry.image, entry.subject)] = {"state": entry.state, "at": entry.at}

    def release(self, entries: Sequence[LedgerEntry], owner: str) -> None:
        self._fail("release")
        for entry in entries:
            item = self.items.get((entry.image, entry.subject), {})
            if item.get("owner") == owner:
                del item["owner"]

    def states(self) -> dict[str, str]:
        return {subject: item.get("state", "") for (_, subject), item in self.items.items()}


class ExistingImages:
    def __init__(self, exists: bool):
        self.exists = exists

    def image_exists(self, repository_name: str, image_digest: str) -> bool:
        return self.exists


class InMemorySigningStatuses:
    """An image's managed-signing statuses (every image the same ones); `error` makes every read fail."""

    def __init__(self, statuses: Sequence[ImageSigningStatus] = (), error: Exception | None = None):
        self.statuses = tuple(statuses)
        self.error = error
        self.reads: list[tuple[str, str]] = []

    def image_signing_statuses(self, repository_name: str, digest: str) -> Sequence[ImageSigningStatus]:
        self.reads.append((repository_name, digest))
        if self.error:
            raise self.error
        return self.statuses

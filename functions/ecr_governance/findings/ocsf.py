"""The machine body of an alert: an OCSF Vulnerability Finding (class 2002), as Amazon Security Lake and Security
Hub's OCSF view carry vulnerability findings, instead of a home-made schema.

OCSF 1.4.0 is the first version with every attribute used here (`vulnerabilities[].is_exploit_available`). One
alert is one finding: a scan alert has one resource (the image) and a vulnerability per alerted finding; an
advisory alert (continuous scanning) has one vulnerability and a resource per affected image. What OCSF has no
attribute for - the alert policy, the counts, the suppressions, how many findings the 256 KB budget left out - goes in
`unmapped`, OCSF's place for a producer's own attributes. Scanner text is bounded and well-formed (normalize.py);
a link is included only when it is an advisory link (ecr_governance.text).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from ecr_governance import SERVICE_NAME, __version__
from ecr_governance.findings.normalize import ACCOUNT_NAME_CHARACTERS, Finding, ScannedImage, Severity
from ecr_governance.text import advisory_link, bounded, well_formed

OCSF_VERSION = "1.4.0"
CLASS_UID = 2002
CATEGORY_UID = 2
# activity_id and status_id of the finding: a new vulnerability, or one that is no longer found.
CREATE, CLOSE = 1, 3
NEW, RESOLVED = 1, 4
ACTIVITY_NAMES = {CREATE: "Create", CLOSE: "Close"}
STATUS_NAMES = {NEW: "New", RESOLVED: "Resolved"}
SEVERITY_IDS = {
    Severity.CRITICAL: 5,
    Severity.HIGH: 4,
    Severity.MEDIUM: 3,
    Severity.LOW: 2,
    Severity.INFORMATIONAL: 1,
    Severity.UNTRIAGED: 0,
    Severity.UNDEFINED: 0,
}
SEVERITY_NAMES = {5: "Critical", 4: "High", 3: "Medium", 2: "Low", 1: "Informational", 0: "Unknown"}
SCANNERS = {"basic": "Amazon ECR", "enhanced": "Amazon Inspector"}
MAX_DESCRIPTION = 1000
# An image can carry 1,000 tags of 128 characters: a machine body lists the first ones and says how many there are.
MAX_TAGS = 20


def epoch_milliseconds(iso_time: str) -> int | None:
    try:
        return int(datetime.fromisoformat(iso_time.replace("Z", "+00:00")).timestamp() * 1000)
    except ValueError:
        return None


def image_resource_uid(image: ScannedImage) -> str:
    """How Amazon Inspector names an image: the repository ARN, then the digest."""
    return f"{image.repository_arn}/{image.digest}"


def image_data(image: ScannedImage) -> dict[str, Any]:
    """The image's names for a machine body: repository, digest, its first MAX_TAGS tags and how many it has."""
    return {
        "repositoryName": image.repository_name,
        "imageDigest": image.digest,
        "imageTags": list(image.tags[:MAX_TAGS]),
        "imageTagCount": len(image.tags),
    }


def account_data(image: ScannedImage, field: str = "accountName") -> dict[str, str]:
    """`{field: the account's name}` for a member's image (an organization hub's alert; its id is in every ARN),
    else {}: a single-account body is unchanged. Bounded and well-formed, as all outside text in a machine body."""
    if not image.account_name:
        return {}
    return {field: bounded(well_formed(image.account_name), ACCOUNT_NAME_CHARACTERS)}


def resource(image: ScannedImage, name: str) -> dict[str, Any]:
    return {
        "uid": image_resource_uid(image),
        "name": name,
        "type": "AwsEcrContainerImage",
        "region": image.region,
        "cloud_partition": image.partition,
        "data": {**image_data(image), **account_data(image)},
    }


def vulnerability(finding: Finding, scan_kind: str) -> dict[str, Any]:
    package: dict[str, Any] = {"name": finding.package_name, "version": finding.package_version}
    if finding.fixed_in_version:
        package["fixed_in_version"] = finding.fixed_in_version
    document: dict[str, Any] = {
        "title": f"{finding.id} - {finding.package_name}" if finding.package_name else finding.id,
        "severity": str(finding.severity),
        "cve": {"uid": finding.id},
        "vendor_name": SCANNERS.get(scan_kind, scan_kind),
    }
    if finding.score is not None:
        # The scanner's score: Inspector's, or basic scanning's CVSS v3 (else v2) base score; no minor version.
        document["cve"]["cvss"] = [{"base_score": finding.score, "version": "3.x"}]
    if finding.description:
        document["desc"] = bounded(finding.description, MAX_DESCRIPTION)
    if finding.package_name or finding.package_version:
        document["affected_packages"] = [package]
    if finding.fix_available is not None:
        document["is_fix_available"] = finding.fix_available
    if finding.exploit_available is not None:
        document["is_exploit_available"] = finding.exploit_available
    link = advisory_link(finding.link)
    if link:
        document["references"] = [link]
    return document


def finding_document(  # noqa: PLR0913 - each keyword is one attribute of the OCSF finding it writes
    *,
    uid: str,
    title: str,
    severity: Severity | None,
    closed: bool,
    time: str,
    image: ScannedImage,
    console_url: str,
    resources: Sequence[Mapping[str, Any]],
    unmapped: Mapping[str, Any],
) -> dict[str, Any]:
    """Every attribute of the finding but `vulnerabilities` (the caller splices them in last, within its budget).
    `image` gives the cloud (account, region, partition) the finding is in. One literal of the whole envelope, over
    50 lines on purpose: it reads as the OCSF class it writes."""
    activity, status = (CLOSE, RESOLVED) if closed else (CREATE, NEW)
    severity_id = SEVERITY_IDS[severity] if severity is not None else 0
    milliseconds = epoch_milliseconds(time)
    return {
        "activity_id": activity,
        "activity_name": ACTIVITY_NAMES[activity],
        "category_uid": CATEGORY_UID,
        "category_name": "Findings",
        "class_uid": CLASS_UID,
        "class_name": "Vulnerability Finding",
        "type_uid": CLASS_UID * 100 + activity,
        "type_name": f"Vulnerability Finding: {ACTIVITY_NAMES[activity]}",
        "severity_id": severity_id,
        "severity": SEVERITY_NAMES[severity_id],
        "status_id": status,
        "status": STATUS_NAMES[status],
        **({"time": milliseconds} if milliseconds is not None else {}),
        "message": title,
        "metadata": {
            "version": OCSF_VERSION,
            "product": {"name": SERVICE_NAME, "vendor_name": SERVICE_NAME, "version": __version__},
            "profiles": ["cloud"],
        },
        "cloud": {
            "provider": "AWS",
            "region": image.region,
            "cloud_partition": image.partition,
            "account": {"uid": image.registry_id, "type": "AWS Account", "type_id": 10, **account_data(image, "name")},
        },
        "finding_info": {
            "uid": uid,
            "title": title,
            "types": ["Software Vulnerability"],
            **({"src_url": console_url} if console_url else {}),
        },
        "resources": list(resources),
        "unmapped": dict(unmapped),
    }

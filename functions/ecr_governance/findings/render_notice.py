"""The "image not scanned" notice (pure formatting): a scan that produced no findings to read - it FAILED, the image
is UNSUPPORTED_IMAGE, ECR has no scan of it, or the API disagrees with the event - so that an unscannable image is
visible instead of silently unknown. Sent once per image and reason (the alert ledger).

Its machine body is a small document of its own, not OCSF: the notice reports the absence of a scan result, and
OCSF's Scan Activity class (6007) describes a scan job by attributes this event does not carry (the job's uid, its
start and end, what was scanned).
"""

from __future__ import annotations

import json

from ecr_governance.findings.normalize import ScannedImage
from ecr_governance.findings.ocsf import account_data, image_data
from ecr_governance.findings.render_parts import (
    bounded_list,
    chat_message,
    console_url,
    image_reference,
    member_attributes,
    registry_chat,
    registry_text,
)
from ecr_governance.notice import Notice
from ecr_governance.text import chat, chat_code, plain

NOTICE_SCHEMA = "ecr-governance.image-not-scanned/v1"
CHAT_EVENT_TYPE = "ecr-governance.ImageNotScanned"
SCAN_NOT_FOUND = "SCAN_NOT_FOUND"
# What each reason means for the reader, and what to do about it.
MEANINGS = {
    "FAILED": "the scan failed",
    "UNSUPPORTED_IMAGE": "the scanner does not support this image (its operating system, or it is no image)",
    SCAN_NOT_FOUND: "ECR has no scan of this image: it was never scanned, or its scan is gone",
    "FINDINGS_UNAVAILABLE": "the scan's findings are not available (the image may be too old for them)",
    "SCAN_ELIGIBILITY_EXPIRED": "continuous scanning stopped for this image (not pushed or pulled recently)",
}
NEXT_STEP = (
    "Its vulnerabilities are unknown. Rescan it (aws ecr start-image-scan, basic scanning), check the scan status "
    "in the console, or accept it as unscannable."
)


def meaning(reason: str, from_event: bool) -> str:
    if reason in MEANINGS:
        return MEANINGS[reason]
    if from_event:
        return f"the scan event reports {reason}"
    return f"the event said the scan completed, but DescribeImageScanFindings reports {reason}"


def not_scanned_notice(image: ScannedImage, reason: str, from_event: bool, scan_kind: str, at: str) -> Notice:
    reason = plain(reason, 64)
    what = meaning(reason, from_event)
    reference = plain(image_reference(image), 300)
    link = console_url(image)
    text = [
        f"[NOT SCANNED] {reference} - {reason}",
        "",
        f"The image was not scanned: {what}.",
        NEXT_STEP,
        "",
        f"  Repository:  {plain(image.repository_name, 256)}",
        f"  Tags:        {bounded_list([plain(tag, 128) for tag in image.tags]) or '<untagged>'}",
        f"  Digest:      {plain(image.digest, 128)}",
        f"  Registry:    {registry_text(image)}",
        f"  Scan:        {scan_kind} scanning, {at}",
        *(["", "Scan results in the console:", f"  {link}"] if link else []),
        "",
        "-- ecr-governance",
    ]
    where = f" in {registry_chat(image)}" if image.account_name else ""
    description = f"*{chat(reference, 300)}* {chat_code(image.digest[:19], 19)}{where}: {chat(what, 300)}."
    machine = {
        "schema": NOTICE_SCHEMA,
        "reason": reason,
        "meaning": what,
        "image": {**image_data(image), "registryId": image.registry_id, "region": image.region, **account_data(image)},
        "scan": {"kind": scan_kind, "at": at},
        "consoleUrl": link or None,
    }
    machine_text = json.dumps(machine, ensure_ascii=False)
    return Notice(
        subject=f"[NOT SCANNED] {reference} - {reason}",
        text="\n".join(text),
        bodies={
            "https": chat_message(
                icon=":grey_question:",
                summary=f"[NOT SCANNED] {reference} - {reason}",
                description=description,
                next_steps=[NEXT_STEP, *([f"Review the image: {link}"] if link else [])],
                keywords=["NOT_SCANNED", image.repository_name, "ecr-governance"],
                event_type=CHAT_EVENT_TYPE,
            ),
            "sqs": machine_text,
            "lambda": machine_text,
        },
        attributes={
            "alert": "not-scanned",
            "severity": "NONE",
            "repository": image.repository_name,
            **member_attributes([image]),
        },
    )

"""`make demo`: the main job on the embedded emulator, end to end.

Starts moto in server mode on 127.0.0.1, seeds a realistic registry, prints compliance, drives the real
EnforceRepositoryFunction handler (through `invoke`, with template.yaml's environment) with CloudTrail-shaped events
and the scheduled reconcile, and prints compliance again. It then pushes a release whose scan completes with
findings, runs ScanFindingsFunction on the scan event and prints the e-mail the security team would read, and shows
a duplicate delivery publishing nothing. Nothing touches a real AWS account.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import io
import json
import os
import sys
import time
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

from ecr_governance.aws.clients import make_client
from ecr_governance.aws.ecr import EcrRegistry
from ecr_governance.enforce.model import EnforcementReport
from ecr_governance.enforce.reconcile import ReconcileScope
from ecr_governance.enforce.service import Enforcer
from ecr_governance.enforce.settings import STANDARD_LIFECYCLE_PACKAGE, STANDARD_LIFECYCLE_RESOURCE, EnforceSettings
from ecr_governance.images import OCI_INDEX, OCI_MANIFEST

from ecr_governance_cli.callcount import EcrCallCounter, counting_new_clients
from ecr_governance_cli.emulator import emulator_environment, start_emulator
from ecr_governance_cli.local_invoke import invoke_function, read_event
from ecr_governance_cli.main import main as cli_main
from ecr_governance_cli.registry_stand_in import RegistrySettingsStandIn
from ecr_governance_cli.render import enforcement_table
from ecr_governance_cli.sample_registry import image_manifest, push_images, seed_registry
from ecr_governance_cli.scan_samples import demo_basic_findings, queue_scan_findings, scan_findings_response

PROJECT_ROOT = Path(__file__).resolve().parents[2]
STANDARD_POLICY_FILE = resources.files(STANDARD_LIFECYCLE_PACKAGE).joinpath(STANDARD_LIFECYCLE_RESOURCE)
EVENTS = PROJECT_ROOT / "events" / "enforce"
FINDINGS_EVENTS = PROJECT_ROOT / "events" / "findings"
TEMPLATE = PROJECT_ROOT / "template.yaml"
REGION = "ap-southeast-1"
ACCOUNT = "123456789012"  # the emulator's account, and the sample events'
FUNCTION = "EnforceRepositoryFunction"
FINDINGS_FUNCTION = "ScanFindingsFunction"
RELEASE_TAG = "1.4.2"
# What the deployed stack would resolve !GetAtt EnforceRepositoryFunctionRole.Arn to (see own-remediation.json).
GOVERNANCE_ROLE_ARN = "arn:aws:iam::123456789012:role/ecr-governance-EnforceRepositoryFunctionRole"


def _event(name: str, repository: str | None = None) -> dict[str, Any]:
    event = copy.deepcopy(read_event(str(EVENTS / name)))
    if repository:
        event["detail"]["requestParameters"]["repositoryName"] = repository
    return event


def _heading(text: str) -> None:
    print(f"\n=== {text} ===")


def _invoke(event: dict[str, Any], log: io.StringIO) -> dict[str, Any]:
    with contextlib.redirect_stderr(log):
        # The emulator serves ECR's core API only: RegistryApi=core reads exemption tags one repository at a time.
        overrides = {"RegistryApi": "core"}
        return invoke_function(str(TEMPLATE), FUNCTION, event, overrides, {"GOVERNANCE_ROLE_ARN": GOVERNANCE_ROLE_ARN})


def scan_findings_demo(ecr: Any, endpoint_url: str, log: io.StringIO) -> None:
    """A release is pushed and scanned; the alert the security team reads; the same event again sends nothing."""
    digest = ecr.put_image(
        repositoryName="mlops/retail-api", imageManifest=image_manifest("retail-api-1.4.2"), imageTag=RELEASE_TAG
    )["image"]["imageId"]["imageDigest"]
    ecr.start_image_scan(repositoryName="mlops/retail-api", imageId={"imageDigest": digest})  # moto: no scan on push
    queue_scan_findings(endpoint_url, REGION, scan_findings_response("mlops/retail-api", digest, demo_basic_findings()))
    event = copy.deepcopy(read_event(str(FINDINGS_EVENTS / "basic-scan-complete.json")))
    event["detail"].update({"image-digest": digest, "image-tags": [RELEASE_TAG]})

    # As `ecr-governance invoke` runs it: no topic deployed, so the function logs the alert it would send.
    alert_log = io.StringIO()
    with contextlib.redirect_stderr(alert_log):
        result = invoke_function(str(TEMPLATE), FINDINGS_FUNCTION, event, {}, {})
    log.write(alert_log.getvalue())
    print(json.dumps({k: result[k] for k in ("status", "findingsTotal", "findingsAlerted", "highestSeverity")}))
    (alert,) = [json.loads(line) for line in alert_log.getvalue().splitlines() if '"alert not sent' in line]
    _heading("The e-mail the security team reads (Subject: " + alert["subject"] + ")")
    print(alert["text"])

    _heading("The same scan event delivered twice: Powertools Idempotency publishes one alert")
    make_client("dynamodb").create_table(
        TableName="demo-idempotency",
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    for delivery in ("first", "second"):
        with contextlib.redirect_stderr(log):
            result = invoke_function(
                str(TEMPLATE), FINDINGS_FUNCTION, event, {}, {"IDEMPOTENCY_TABLE_NAME": "demo-idempotency"}
            )
        duplicate = " (a duplicate: nothing published)" if result.get("duplicate") else ""
        print(f"{delivery} delivery: {result['status']}{duplicate}")


def _audit(settings: EnforceSettings) -> str:
    enforcer = Enforcer(EcrRegistry(make_client("ecr")), settings)
    return enforcement_table(enforcer.apply(enforcer.assess(), dry_run=True))


def enforcement_demo(ecr: Any, settings: EnforceSettings, log: io.StringIO) -> None:
    """Events reach the real handler: a remediation, its own echo, rejected events, a no-op, the daily reconcile."""
    _heading("Compliance before (audit, no writes)")
    print(_audit(settings))

    _heading("A user creates team-payments/ledger as MUTABLE; CloudTrail -> EventBridge -> the function")
    ecr.create_repository(repositoryName="team-payments/ledger", imageTagMutability="MUTABLE")
    result = _invoke(_event("create-repository.json", "team-payments/ledger"), log)
    print(json.dumps(result["summary"]))

    _heading("The function's own PutImageTagMutability comes back as an event: skipped, no loop")
    print(json.dumps(_invoke(_event("own-remediation.json", "team-payments/ledger"), log)))

    _heading("A malformed event (no detail): rejected with a log line, no retry")
    malformed = {"detail-type": "AWS API Call via CloudTrail", "source": "aws.ecr", "account": ACCOUNT}
    print(json.dumps(_invoke({**malformed, "region": REGION}, log)))

    _heading("The same call from another account: rejected before any AWS call")
    print(json.dumps(_invoke({**_event("tag-resource.json"), "account": "999999999999"}, log)))

    _heading("An event for a repository deleted before it was handled: a logged no-op")
    print(json.dumps(_invoke(_event("put-image-tag-mutability.json", "team-gone/old-service"), log)))

    _heading("The daily reconcile (scheduled event)")
    print(json.dumps(_invoke(_event("scheduled-reconcile.json"), log)["summary"]))

    _heading("Compliance after")
    print(_audit(settings))

    _heading("A second reconcile: compliant repositories get no write call")
    counter = EcrCallCounter()
    with counting_new_clients(counter):
        print(json.dumps(_invoke(_event("scheduled-reconcile.json"), log)["summary"]))
    print(f"ECR calls: {dict(sorted(counter.calls.items()))}; writes: {sum(counter.writes.values())}")


THEIR_TEMPLATE = {
    "prefix": "vendor",
    "description": "the platform team's template for vendor images",
    "appliedFor": ["PULL_THROUGH_CACHE"],
    "imageTagMutability": "MUTABLE",
}


def creation_template_demo(log: io.StringIO) -> None:
    """The ROOT creation template, end to end through the real adapter and service; moto lacks the API, so an
    in-memory stand-in answers it (and the other 2025 registry settings) while moto serves the rest."""
    stand_in = RegistrySettingsStandIn(cache_prefixes=("docker-hub",))
    stand_in.templates["vendor"] = THEIR_TEMPLATE
    settings = EnforceSettings.from_environ({**os.environ, "REGISTRY_API": "aws"})
    enforcer = Enforcer(EcrRegistry(stand_in.attach(make_client("ecr"))), settings)

    def templates(report: EnforcementReport) -> None:
        for decision in (d for d in report.decisions if d.aspect == "creation_template"):
            change = f"{decision.before} -> {decision.after}" if decision.after else decision.before
            print(f"  {change} ({decision.action}){': ' + decision.detail if decision.detail else ''}")

    _heading("Repository creation templates (moto lacks the API: an in-memory stand-in answers it, the rest is moto)")
    print("Audit: repositories ECR creates itself (pull-through cache, replication, create on push) start from them")
    with contextlib.redirect_stderr(log):
        templates(enforcer.apply(enforcer.assess(), dry_run=True))
    print("Enforce: the ROOT template is created with the standard; the platform team's is reported, never overwritten")
    with contextlib.redirect_stderr(log):
        templates(enforcer.reconcile(ReconcileScope()))
    root = stand_in.templates["ROOT"]
    print(
        f"  written: ROOT {root['imageTagMutability']}, applied for {', '.join(root['appliedFor'])}, the standard"
        f" lifecycle policy ({len(json.loads(root['lifecyclePolicy'])['rules'])} rules)"
    )
    print("A second audit: ROOT is compliant")
    with contextlib.redirect_stderr(log):
        templates(enforcer.apply(enforcer.assess(), dry_run=True))


def lifecycle_preview_demo(ecr: Any, endpoint_url: str) -> None:
    _heading("Blast radius of the standard lifecycle policy in 30 days (offline evaluation, no deletes)")
    push_images(ecr)
    in_30_days = (datetime.now(UTC) + timedelta(days=30)).isoformat()
    cli_main(
        [
            *("--endpoint-url", endpoint_url, "lifecycle", "preview"),
            *("--policy", str(STANDARD_POLICY_FILE), "--all-repositories", "--now", in_30_days),
        ]
    )


def decision_log_demo(log: io.StringIO) -> None:
    decisions = [json.loads(line) for line in log.getvalue().splitlines() if '"enforcement decision"' in line]
    _heading(f"Structured decision log: {len(decisions)} lines, e.g.")
    print(json.dumps({k: decisions[0].get(k) for k in ("repository", "violation", "before", "after", "action")}))


def main() -> int:
    emulator = start_emulator()
    print(f"embedded emulator (moto server) on {emulator.endpoint_url}, region {REGION}")
    log = io.StringIO()
    try:
        with emulator_environment(emulator.endpoint_url, REGION):
            settings = EnforceSettings.from_environ()  # the emulator's environment: REGISTRY_API=core
            ecr = make_client("ecr")
            seed_registry(ecr, settings.standard_lifecycle_policy)
            enforcement_demo(ecr, settings, log)
            creation_template_demo(log)
            lifecycle_preview_demo(ecr, emulator.endpoint_url)
            _heading("A release of mlops/retail-api is pushed; its scan completes with findings (ECR Image Scan)")
            scan_findings_demo(ecr, emulator.endpoint_url, log)
            decision_log_demo(log)
            sweep_demo(ecr, emulator.endpoint_url)
    finally:
        emulator.stop()
    return 0


# ---- the untagged sweep -------------------------------------------------------------------------------------------
SWEPT = "team-ml/feature-store"
# moto stamps imagePushedAt when an image is pushed (in whole seconds, so up to 1 s early) and cannot backdate it: to
# delete for real, the demo pushes the fresh build this long after the orphan, right before a sweep whose minimum age
# lies between the two - with seconds to spare either side, so a loaded machine cannot tip it.
ORPHAN_HEAD_START = 4.5
MIN_AGE_SECONDS = 3


def _oci_manifest(seed: str, subject: str | None = None) -> str:
    def digest(kind: str) -> str:
        return "sha256:" + hashlib.sha256(f"{kind}{seed}".encode()).hexdigest()

    manifest: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "size": 41_943_040, "digest": digest("c")},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "size": 1, "digest": digest("l")}],
    }
    if subject:
        manifest["subject"] = {"mediaType": OCI_INDEX, "digest": subject, "size": 512}
    return json.dumps(manifest)


def _push(ecr: Any, manifest: str, media_type: str, tag: str | None = None, digest: str | None = None) -> str:
    params: dict[str, Any] = {"repositoryName": SWEPT, "imageManifest": manifest, "imageManifestMediaType": media_type}
    if tag:
        params["imageTag"] = tag
    if digest:
        params["imageDigest"] = digest
    return ecr.put_image(**params)["image"]["imageId"]["imageDigest"]


def push_sweep_images(ecr: Any) -> dict[str, str]:
    """A tagged multi-arch release (index over two untagged platform manifests), a cosign-style signature of it
    (an untagged OCI referrer) and an orphaned CI build (the fresh one comes right before the real sweep)."""
    pushed = {name: _push(ecr, _oci_manifest(name), OCI_MANIFEST) for name in ("linux/amd64", "linux/arm64")}
    index = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_INDEX,
            "manifests": [
                {
                    "mediaType": OCI_MANIFEST,
                    "digest": pushed[name],
                    "size": 1024,
                    "platform": {"os": "linux", "architecture": name[6:]},
                }
                for name in ("linux/amd64", "linux/arm64")
            ],
        }
    )
    pushed["index v2.3.0"] = _push(
        ecr, index, OCI_INDEX, "v2.3.0", "sha256:" + hashlib.sha256(index.encode()).hexdigest()
    )
    pushed["signature"] = _push(ecr, _oci_manifest("signature", subject=pushed["index v2.3.0"]), OCI_MANIFEST)
    pushed["orphan ci-build-412"] = _push(ecr, _oci_manifest("ci-build-412"), OCI_MANIFEST)
    return pushed


def sweep_demo(ecr: Any, endpoint_url: str) -> None:
    _heading(f"Untagged sweep: a multi-arch release, its signature and CI leftovers in {SWEPT}")
    pushed = push_sweep_images(ecr)
    orphan_pushed = time.monotonic()
    for name, digest in pushed.items():
        print(f"  {digest[:19]}  {name}")
    sweep = ("--endpoint-url", endpoint_url, "sweep")

    log = io.StringIO()  # the sweep's structured log lines (its stderr)
    _heading("Dry run today (pushed > 14 days ago, not pulled for 30 days): nothing qualifies yet")
    with contextlib.redirect_stderr(log):
        cli_main([*sweep, "--repository", SWEPT])

    _heading("Dry run as of 31 days from now, registry-wide: the leftovers would go, the release stays whole")
    in_31_days = (datetime.now(UTC) + timedelta(days=31)).isoformat()
    with contextlib.redirect_stderr(log):
        cli_main([*sweep, "--all-repositories", "--now", in_31_days])

    time.sleep(max(0.0, ORPHAN_HEAD_START - (time.monotonic() - orphan_pushed)))
    pushed["fresh ci-build-413"] = _push(ecr, _oci_manifest("ci-build-413"), OCI_MANIFEST)
    minimum = f"{MIN_AGE_SECONDS / 86400:.10f}"
    _heading(f"Real sweep of {SWEPT} with a {MIN_AGE_SECONDS}-second minimum age and idle window")
    print(
        "(moto records a push at the moment it happens and cannot backdate it, and --now is for dry runs only;\n"
        f" so a fresh CI build was pushed just now, {ORPHAN_HEAD_START} s after the orphan, and this sweep treats"
        f" anything older than {MIN_AGE_SECONDS} s as old:\n --min-age-days {minimum} --min-idle-days {minimum}"
        " --delete."
        " A deployed sweep uses 14 and 30 days.)"
    )
    with contextlib.redirect_stderr(log):
        cli_main([*sweep, "--repository", SWEPT, "--min-age-days", minimum, "--min-idle-days", minimum, "--delete"])
    left = {d["imageDigest"] for d in ecr.describe_images(repositoryName=SWEPT)["imageDetails"]}
    names = {digest: name for name, digest in pushed.items()}
    print("Read back from the registry:")
    for digest, name in names.items():
        print(f"  {'kept   ' if digest in left else 'DELETED'}  {digest[:19]}  {name}")
    # The functions' Powertools logger (configured by the invokes above) writes them; a bare CLI run has none.
    reports = [json.loads(line) for line in log.getvalue().splitlines() if '"sweep report"' in line]
    if reports:
        _heading("The sweep's structured log: one line per repository, e.g. the real sweep's")
        fields = ("repository", "mode", "examined", "kept", "candidates", "deleted", "failed", "bytes")
        print(json.dumps({key: reports[-1].get(key) for key in fields}))


if __name__ == "__main__":
    sys.exit(main())

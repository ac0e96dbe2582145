"""What ECR would do to one repository's images under a lifecycle policy, evaluated offline (pure: no AWS calls).

Semantics (AWS "Lifecycle policy evaluation rules" and "Examples of lifecycle policies"):

- All rules are evaluated, then applied in priority order (lowest number first).
- Among the images a rule identifies (LifecycleRule.selects_tags, of its storage class) the count fires:
  imageCountMoreThan keeps the N youngest by push time (equal push times: the lower digest counts as younger) and marks
  the rest; the since* types mark images whose reference time is more than countNumber days before `now`
  (sinceImagePulled: last pull, else push; a restored image's lastActivatedAt stands in for older push/pull times;
  sinceImageTransitioned: lastArchivedAt).
- A rule never acts on an image identified by a higher-priority rule of the same storage class, whether or not that
  rule's count fired; but it still counts such images when sizing its own window.
- An image referenced by a manifest list (an index) is not expired unless every list that references it is expired
  in the same evaluation.
- A referrer (an image whose manifest names a `subject`: a signature, an SBOM, an attestation) goes with its subject:
  ECR deletes the referrers of a deleted image within 24 hours, so they are reported as expiring with it.

Storage classes: `standard` selects ACTIVE images, `archive` selects ARCHIVED ones; ACTIVATING images (mid-restore)
belong to neither and are left alone.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from operator import attrgetter

from ecr_governance.images import STORAGE_CLASS_BY_IMAGE_STATUS, ImageDetailError, ImageGraph, ImageRecord
from ecr_governance.lifecycle.policy import LifecyclePolicy, LifecycleRule


@dataclass(frozen=True)
class LifecycleDecision:
    image: ImageRecord
    action: str  # expire | transition
    target_storage_class: str | None
    rule_priority: int
    with_subject: str | None = None  # set when a referrer expires because its subject does


def _age_reference(rule: LifecycleRule, image: ImageRecord) -> datetime | None:
    """The moment a since* rule measures age from; None when the image has no such moment (never acted on)."""
    # A restored image behaves like a newly pushed one: its activation time stands in for older push/pull times.
    activated = image.last_activated_at
    if rule.count_type == "sinceImagePushed":
        reference = image.pushed_at
    elif rule.count_type == "sinceImagePulled":
        reference = image.last_pulled_at or image.pushed_at
    else:  # sinceImageTransitioned
        return image.last_archived_at
    if activated is None or reference is None:  # evaluate() refuses images without imagePushedAt
        return reference or activated
    return max(reference, activated)


def _cutoff(now: datetime, days: int) -> datetime | None:
    """`now` minus `days`, or None when that is before year 1: then no image can be old enough."""
    try:
        return now - timedelta(days=days)
    except OverflowError:
        return None


def _marked_by(rule: LifecycleRule, identified: list[ImageRecord], now: datetime) -> list[ImageRecord]:
    """The identified images (youngest first) whose count or age makes `rule` fire."""
    if rule.count_type == "imageCountMoreThan":
        return identified[rule.count_number :]
    cutoff = _cutoff(now, rule.count_number)
    if cutoff is None:
        return []
    marked = []
    for image in identified:
        reference = _age_reference(rule, image)
        if reference is not None and reference < cutoff:
            marked.append(image)
    return marked


def _youngest_first(images: Iterable[ImageRecord]) -> list[ImageRecord]:
    unique: dict[str, ImageRecord] = {}
    for image in images:
        known = unique.setdefault(image.digest, image)
        if known is not image and known != image:
            raise ImageDetailError(f"image {image.digest} is listed twice with different details")
        if image.pushed_at is None:  # ECR always knows; a policy cannot be evaluated without it
            raise ImageDetailError(f"imagePushedAt: is required to evaluate a lifecycle policy (image {image.digest})")
    # Among equal push times the lower digest counts as younger, so the result never depends on input order.
    by_digest = sorted(unique.values(), key=attrgetter("digest"))
    return sorted(by_digest, key=attrgetter("pushed_at"), reverse=True)


def evaluate(policy: LifecyclePolicy, images: Iterable[ImageRecord], now: datetime) -> list[LifecycleDecision]:
    """What ECR would do to these images (one repository) at `now`: at most one decision per image.

    Decisions come oldest push first (digest breaks ties), independent of the order of `images`.
    """
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    ordered = _youngest_first(images)
    # Per storage class, youngest first, each image with its tags joined once for the rules' regexes.
    candidates_by_class: dict[str | None, list[tuple[ImageRecord, str]]] = {}
    for image in ordered:
        storage_class = STORAGE_CLASS_BY_IMAGE_STATUS.get(image.status)
        candidates_by_class.setdefault(storage_class, []).append((image, "\n".join(image.tags)))
    claimed: set[str] = set()  # identified by a higher-priority rule: lower rules may not act on these
    decision_by_digest: dict[str, LifecycleDecision] = {}
    for rule in policy.rules:
        selects = rule.selects_tags
        identified = [
            image for image, tag_lines in candidates_by_class.get(rule.storage_class, []) if selects(tag_lines)
        ]
        for image in _marked_by(rule, identified, now):
            if image.digest not in claimed:
                decision_by_digest[image.digest] = LifecycleDecision(
                    image=image,
                    action=rule.action,
                    target_storage_class=rule.target_storage_class,
                    rule_priority=rule.priority,
                )
        claimed.update(image.digest for image in identified)
    graph = ImageGraph(ordered)
    _keep_images_their_manifest_lists_need(decision_by_digest, graph)
    _expire_referrers_with_their_subjects(decision_by_digest, graph)
    return sorted(decision_by_digest.values(), key=lambda d: (d.image.pushed_at, d.image.digest))


def _expires(decision: LifecycleDecision | None) -> bool:
    return decision is not None and decision.action == "expire"


def _keep_images_their_manifest_lists_need(decisions: dict[str, LifecycleDecision], graph: ImageGraph) -> None:
    """Drop expiry of any image still referenced by a manifest list that is not itself expired (to a fixpoint)."""
    changed = True
    while changed:
        changed = False
        for digest, decision in list(decisions.items()):
            if decision.action != "expire":
                continue
            if any(not _expires(decisions.get(parent)) for parent in graph.parents_of(digest)):
                del decisions[digest]
                changed = True


def _expire_referrers_with_their_subjects(decisions: dict[str, LifecycleDecision], graph: ImageGraph) -> None:
    """A referrer of an expiring image expires with it (transitively: a signature of an SBOM of an image)."""
    pending = [digest for digest, decision in decisions.items() if decision.action == "expire"]
    while pending:
        subject = pending.pop()
        for referrer in graph.referrers_of(subject):
            if _expires(decisions.get(referrer)) or referrer not in graph.images:
                continue
            decisions[referrer] = LifecycleDecision(
                image=graph.images[referrer],
                action="expire",
                target_storage_class=None,
                rule_priority=decisions[subject].rule_priority,
                with_subject=subject,
            )
            pending.append(referrer)

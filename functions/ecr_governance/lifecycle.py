"""ECR lifecycle policies evaluated offline: model, validator and an exact evaluator (pure: no AWS calls).

ECR evaluates a lifecycle policy server-side, up to 24 hours after images qualify, and its preview is asynchronous
and per repository. This module answers the same question locally and deterministically, so a policy can be checked
against every repository of a registry before it is rolled out.

Semantics (AWS "Lifecycle policy evaluation rules" and "Examples of lifecycle policies"):

- All rules are evaluated, then applied in priority order (lowest number first).
- A rule *identifies* the images of its storage class whose tags meet its tag requirements: `untagged` = no tags,
  `any` = every image, `tagged` = every entry of tagPrefixList / tagPatternList matches at least one of the image's
  tags (AND across entries — a rule listing `prod` and `dev` selects only images carrying both).
- Among the identified images the count fires: imageCountMoreThan keeps the N youngest by push time (equal push
  times: the lower digest counts as younger) and marks the rest; the since* types mark images whose reference time
  is more than countNumber days before `now` (sinceImagePulled: last pull, else push; a restored image's
  lastActivatedAt stands in for older push/pull times; sinceImageTransitioned: lastArchivedAt).
- A rule never acts on an image identified by a higher-priority rule of the same storage class, whether or not that
  rule's count fired; but it still counts such images when sizing its own window.
- An image referenced by a manifest list (an index) is not expired unless every list that references it is expired
  in the same evaluation.

Storage classes: `standard` selects ACTIVE images, `archive` selects ARCHIVED ones; ACTIVATING images (mid-restore)
belong to neither and are left alone. The priority-ordering rules (`any` last, one untagged rule, unique prefixes)
are checked per storage class, because standard and archive rules never select the same image.

Manifest-list input: ECR's DescribeImages does not say which images an index references. An image detail may carry
`childImageDigests` (a list of digests) or the index manifest itself as `imageManifest` (JSON text or object with
`manifests[].digest`, as BatchGetImage returns it); `image_from_detail` reads either.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cached_property
from operator import attrgetter
from typing import Any

from ecr_governance.wildcard import wildcard_match

TAG_STATUSES = ("tagged", "untagged", "any")
COUNT_TYPES = ("imageCountMoreThan", "sinceImagePushed", "sinceImagePulled", "sinceImageTransitioned")
AGE_COUNT_TYPES = frozenset({"sinceImagePushed", "sinceImagePulled", "sinceImageTransitioned"})
COUNT_UNITS = ("days",)
STORAGE_CLASSES = ("standard", "archive")
ACTION_TYPES = ("expire", "transition")
TARGET_STORAGE_CLASSES = ("archive",)
MAX_WILDCARDS_PER_PATTERN = 4
# "You cannot configure lifecycle policies that delete images that have been in archive for less than 90 days."
ARCHIVE_MINIMUM_DAYS = 90

POLICY_FIELDS = frozenset({"rules"})
RULE_FIELDS = frozenset({"rulePriority", "description", "selection", "action"})
SELECTION_FIELDS = frozenset(
    {"tagStatus", "tagPrefixList", "tagPatternList", "storageClass", "countType", "countUnit", "countNumber"}
)
ACTION_FIELDS = frozenset({"type", "targetStorageClass"})

STORAGE_CLASS_BY_IMAGE_STATUS = {"ACTIVE": "standard", "ARCHIVED": "archive"}
INDEX_MEDIA_TYPES = frozenset(
    {"application/vnd.oci.image.index.v1+json", "application/vnd.docker.distribution.manifest.list.v2+json"}
)


class LifecyclePolicyError(ValueError):
    """A policy document that cannot be parsed or has the wrong shape; the message names the rule and field."""


class ImageDetailError(ValueError):
    """An image detail without the fields the evaluator needs (digest, push time) or with unreadable values."""


# ---- findings -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    rule_priority: int | None
    field: str | None
    message: str

    def __str__(self) -> str:
        where = [f"rule {self.rule_priority}"] if self.rule_priority is not None else []
        if self.field:
            where.append(self.field)
        return ": ".join([*where, self.message])


@dataclass(frozen=True)
class ValidationReport:
    errors: list[Finding] = field(default_factory=list)
    warnings: list[Finding] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        return not self.errors


# ---- the model ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LifecycleRule:
    priority: int
    tag_status: str
    count_type: str
    count_number: int
    count_unit: str | None = None
    tag_prefixes: tuple[str, ...] = ()
    tag_patterns: tuple[str, ...] = ()
    storage_class: str = "standard"
    action: str = "expire"
    target_storage_class: str | None = None
    description: str = ""

    @cached_property
    def tag_entry_regexes(self) -> tuple[re.Pattern[str], ...]:
        """One regex per list entry, searched in the image's tags joined by newlines (a tag never holds one).

        Searching the joined tags is one C-level call per entry instead of a Python loop over the tags, which is
        what keeps a 10-rule preview of a 10,000-image repository fast.
        """
        prefixes = (re.compile("^" + re.escape(prefix), re.MULTILINE) for prefix in self.tag_prefixes)
        patterns = (
            re.compile("^" + "[^\n]*".join(map(re.escape, pattern.split("*"))) + "$", re.MULTILINE)
            for pattern in self.tag_patterns
        )
        return (*prefixes, *patterns)

    def matches_tags(self, tags: Sequence[str]) -> bool:
        """The rule's tag requirements (not its storage class): what protects an image from lower rules."""
        if self.tag_status == "any":
            return True
        if self.tag_status == "untagged":
            return not tags
        # AND across entries, each entry against any of the image's tags.
        tag_lines = "\n".join(tags)
        return bool(tags) and all(regex.search(tag_lines) for regex in self.tag_entry_regexes)

    def identifies(self, image: ImageRecord) -> bool:
        return image.storage_class == self.storage_class and self.matches_tags(image.tags)


@dataclass(frozen=True)
class LifecyclePolicy:
    rules: tuple[LifecycleRule, ...]  # in priority order


@dataclass(frozen=True)
class ImageRecord:
    digest: str
    pushed_at: datetime
    tags: tuple[str, ...] = ()
    last_pulled_at: datetime | None = None
    last_activated_at: datetime | None = None
    last_archived_at: datetime | None = None
    status: str = "ACTIVE"  # ACTIVE | ARCHIVED | ACTIVATING
    size_bytes: int = 0
    manifest_media_type: str | None = None
    child_digests: tuple[str, ...] = ()  # for an index: the manifests it references
    repository_name: str | None = None

    def __post_init__(self) -> None:
        # Tuples keep records hashable and comparable when callers pass lists.
        object.__setattr__(self, "tags", tuple(self.tags))
        object.__setattr__(self, "child_digests", tuple(self.child_digests))
        if any("\n" in tag for tag in self.tags):
            raise ImageDetailError(f"image {self.digest}: a tag cannot contain a line break")

    @property
    def storage_class(self) -> str | None:
        return STORAGE_CLASS_BY_IMAGE_STATUS.get(self.status)

    @property
    def is_index(self) -> bool:
        return bool(self.child_digests) or self.manifest_media_type in INDEX_MEDIA_TYPES


@dataclass(frozen=True)
class Decision:
    image: ImageRecord
    action: str  # expire | transition
    target_storage_class: str | None
    rule_priority: int


# ---- parsing --------------------------------------------------------------------------------------------------


def _load_document(policy: str | Mapping[str, Any]) -> Mapping[str, Any]:
    if isinstance(policy, str):
        try:
            policy = json.loads(policy)
        except json.JSONDecodeError as error:
            raise LifecyclePolicyError(f"policy is not valid JSON: {error}") from error
    if not isinstance(policy, Mapping):
        raise LifecyclePolicyError('policy must be a JSON object with a "rules" list')
    return policy


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


class _RuleReader:
    """Reads one raw rule into a LifecycleRule, collecting every finding instead of stopping at the first."""

    def __init__(self, raw_rule: Any, index: int):
        self.raw_rule = raw_rule
        self.index = index
        self.priority: int | None = None
        self.errors: list[Finding] = []
        # The rule as far as it could be read, so cross-rule checks still see a rule with a bad field.
        self.partial_rule: LifecycleRule | None = None

    def error(self, field_name: str, message: str) -> None:
        self.errors.append(Finding(self.priority, field_name, message))

    def read(self) -> LifecycleRule | None:
        raw = self.raw_rule
        if not isinstance(raw, Mapping):
            self.errors.append(Finding(None, f"rules[{self.index}]", "each rule must be a JSON object"))
            return None
        priority = raw.get("rulePriority")
        if _is_int(priority) and priority >= 1:
            self.priority = priority
        elif "rulePriority" not in raw:
            self.errors.append(Finding(None, f"rules[{self.index}].rulePriority", "is required"))
        else:
            self.errors.append(
                Finding(None, f"rules[{self.index}].rulePriority", f"must be an integer >= 1, got {priority!r}")
            )
        for unknown in sorted(set(raw) - RULE_FIELDS):
            self.error(unknown, f"unknown field (allowed: {', '.join(sorted(RULE_FIELDS))})")
        description = raw.get("description", "")
        if not isinstance(description, str):
            self.error("description", "must be a string")
            description = ""
        selection = self._section(raw, "selection", SELECTION_FIELDS)
        action = self._section(raw, "action", ACTION_FIELDS)
        if selection is None or action is None:
            return None
        self.partial_rule = self._rule(selection, action, description)
        return None if self.errors else self.partial_rule

    def _section(self, raw: Mapping[str, Any], name: str, allowed: frozenset[str]) -> Mapping[str, Any] | None:
        section = raw.get(name)
        if not isinstance(section, Mapping):
            self.error(name, "is required" if section is None else "must be a JSON object")
            return None
        for unknown in sorted(set(section) - allowed):
            self.error(f"{name}.{unknown}", f"unknown field (allowed: {', '.join(sorted(allowed))})")
        return section

    def _choice(self, section: Mapping[str, Any], path: str, key: str, choices: Sequence[str], default=None):
        value = section.get(key, default)
        if value is None:
            if default is None:
                self.error(path, f"is required (one of: {', '.join(choices)})")
            return None
        if value not in choices:
            self.error(path, f"must be one of {', '.join(choices)}; got {value!r}")
            return None
        return value

    def _tag_list(self, selection: Mapping[str, Any], key: str) -> tuple[str, ...]:
        if key not in selection:
            return ()
        entries = selection[key]
        path = f"selection.{key}"
        if not isinstance(entries, list) or not entries:
            self.error(path, "must be a non-empty list of strings")
            return ()
        if not all(isinstance(entry, str) and entry for entry in entries):
            self.error(path, "every entry must be a non-empty string")
            return ()
        if len(set(entries)) != len(entries):
            self.error(path, "lists the same entry twice")
        if key == "tagPatternList":
            for pattern in entries:
                if pattern.count("*") > MAX_WILDCARDS_PER_PATTERN:
                    self.error(
                        path,
                        f"pattern {pattern!r} has {pattern.count('*')} wildcards; ECR allows at most "
                        f"{MAX_WILDCARDS_PER_PATTERN} per pattern",
                    )
        return tuple(entries)

    def _rule(self, selection: Mapping[str, Any], action: Mapping[str, Any], description: str) -> LifecycleRule:
        tag_status = self._choice(selection, "selection.tagStatus", "tagStatus", TAG_STATUSES)
        prefixes = self._tag_list(selection, "tagPrefixList")
        patterns = self._tag_list(selection, "tagPatternList")
        if tag_status == "tagged":
            if "tagPrefixList" not in selection and "tagPatternList" not in selection:
                self.error("selection.tagStatus", "tagged needs a tagPrefixList or a tagPatternList")
            elif "tagPrefixList" in selection and "tagPatternList" in selection:
                self.error("selection.tagPatternList", "use either tagPrefixList or tagPatternList, not both")
        elif tag_status is not None:
            for key in ("tagPrefixList", "tagPatternList"):
                if key in selection:
                    self.error(f"selection.{key}", f"only allowed with tagStatus tagged, not {tag_status}")

        storage_class = self._choice(
            selection, "selection.storageClass", "storageClass", STORAGE_CLASSES, default="standard"
        )
        count_type = self._choice(selection, "selection.countType", "countType", COUNT_TYPES)
        count_number = selection.get("countNumber")
        if count_number is None:
            self.error("selection.countNumber", "is required")
        elif not _is_int(count_number) or count_number < 1:
            self.error("selection.countNumber", f"must be an integer >= 1, got {count_number!r}")
        count_unit = selection.get("countUnit")
        if count_type in AGE_COUNT_TYPES:
            if count_unit is None:
                self.error("selection.countUnit", f'is required with countType {count_type} (use "days")')
            elif count_unit not in COUNT_UNITS:
                self.error("selection.countUnit", f'must be "days", got {count_unit!r}')
        elif count_type is not None and count_unit is not None:
            self.error("selection.countUnit", f"only allowed with the since* count types, not {count_type}")
        if count_type == "sinceImageTransitioned" and storage_class != "archive":
            self.error("selection.storageClass", "sinceImageTransitioned selects archived images: set archive")
        if storage_class == "archive" and count_type not in (None, "sinceImageTransitioned"):
            self.error("selection.countType", "rules on archived images must use sinceImageTransitioned")
        if (
            count_type == "sinceImageTransitioned"
            and _is_int(count_number)
            and 1 <= count_number < ARCHIVE_MINIMUM_DAYS
        ):
            self.error(
                "selection.countNumber",
                f"archived images have a {ARCHIVE_MINIMUM_DAYS}-day minimum; ECR rejects expiring them sooner",
            )

        action_type = self._choice(action, "action.type", "type", ACTION_TYPES)
        target = action.get("targetStorageClass")
        if action_type == "transition":
            if target is None:
                self.error("action.targetStorageClass", 'is required with transition (use "archive")')
            elif target not in TARGET_STORAGE_CLASSES:
                self.error("action.targetStorageClass", f'must be "archive", got {target!r}')
            if storage_class == "archive":
                self.error("action.type", "archived images can only be expired, not transitioned")
        elif action_type == "expire" and target is not None:
            self.error("action.targetStorageClass", "only allowed with action type transition")

        return LifecycleRule(
            priority=self.priority or 0,
            tag_status=tag_status or "",
            count_type=count_type or "",
            count_number=count_number if _is_int(count_number) else 0,
            count_unit=count_unit if count_type in AGE_COUNT_TYPES else None,
            tag_prefixes=prefixes,
            tag_patterns=patterns,
            storage_class=storage_class or "standard",
            action=action_type or "",
            target_storage_class=target if action_type == "transition" else None,
            description=description,
        )


def _read_rules(document: Mapping[str, Any]) -> tuple[list[LifecycleRule], list[LifecycleRule], list[Finding]]:
    """(well-formed rules, rules read despite a bad field but with a known priority, findings)."""
    errors: list[Finding] = [
        Finding(None, name, 'unknown field (a policy has only "rules")')
        for name in sorted(set(document) - POLICY_FIELDS)
    ]
    raw_rules = document.get("rules")
    if not isinstance(raw_rules, list) or not raw_rules:
        errors.append(Finding(None, "rules", "must be a non-empty list of rules"))
        return [], [], errors
    rules: list[LifecycleRule] = []
    partial_rules: list[LifecycleRule] = []
    for index, raw_rule in enumerate(raw_rules):
        reader = _RuleReader(raw_rule, index)
        rule = reader.read()
        errors.extend(reader.errors)
        if rule is not None:
            rules.append(rule)
        elif reader.partial_rule is not None and reader.priority is not None:
            partial_rules.append(reader.partial_rule)
    return rules, partial_rules, errors


def parse_policy(policy: str | Mapping[str, Any]) -> LifecyclePolicy:
    """The policy model; raises LifecyclePolicyError when the document or any rule is malformed.

    Cross-rule acceptance rules (unique priorities, `any` last, ...) are reported by validate_policy, not here.
    """
    rules, _, errors = _read_rules(_load_document(policy))
    if errors:
        raise LifecyclePolicyError(str(errors[0]))
    return LifecyclePolicy(rules=tuple(sorted(rules, key=lambda rule: rule.priority)))


# ---- validation -----------------------------------------------------------------------------------------------


def validate_policy(policy: str | Mapping[str, Any]) -> ValidationReport:
    """Every reason ECR would reject the policy (errors) and every likely mistake it would accept (warnings)."""
    try:
        document = _load_document(policy)
    except LifecyclePolicyError as error:
        return ValidationReport(errors=[Finding(None, None, str(error))])
    rules, partial_rules, errors = _read_rules(document)
    errors.extend(_cross_rule_errors(rules + partial_rules))
    return ValidationReport(errors=errors, warnings=_warnings(sorted(rules, key=lambda rule: rule.priority)))


def _cross_rule_errors(rules: list[LifecycleRule]) -> list[Finding]:
    errors: list[Finding] = []
    seen_priorities: set[int] = set()
    for rule in rules:
        if rule.priority in seen_priorities:
            errors.append(Finding(rule.priority, "rulePriority", "is used by another rule; priorities must be unique"))
        seen_priorities.add(rule.priority)
    ordered = sorted(rules, key=lambda rule: rule.priority)
    for storage_class in STORAGE_CLASSES:
        in_class = [rule for rule in ordered if rule.storage_class == storage_class]
        for rule in in_class:
            if rule.tag_status == "any" and rule is not in_class[-1]:
                errors.append(
                    Finding(
                        rule.priority,
                        "selection.tagStatus",
                        f"a rule with tagStatus any must have the highest rulePriority ({storage_class} rules); "
                        f"rule {in_class[-1].priority} comes after it",
                    )
                )
        untagged = [rule for rule in in_class if rule.tag_status == "untagged"]
        for rule in untagged[1:]:
            errors.append(
                Finding(
                    rule.priority,
                    "selection.tagStatus",
                    f"only one rule may select untagged {storage_class} images; rule {untagged[0].priority} "
                    "already does",
                )
            )
        for key, attribute in (("tagPrefixList", "tag_prefixes"), ("tagPatternList", "tag_patterns")):
            owner_by_entry: dict[str, int] = {}
            for rule in in_class:
                for entry in getattr(rule, attribute):
                    if entry in owner_by_entry:
                        errors.append(
                            Finding(
                                rule.priority,
                                f"selection.{key}",
                                f"{entry!r} is already used by rule {owner_by_entry[entry]}; "
                                f"each entry may appear in only one {storage_class} rule",
                            )
                        )
                    else:
                        owner_by_entry[entry] = rule.priority
    return errors


def _warnings(rules: list[LifecycleRule]) -> list[Finding]:
    warnings: list[Finding] = []
    for rule in rules:
        for key, entries in (("tagPrefixList", rule.tag_prefixes), ("tagPatternList", rule.tag_patterns)):
            if len(entries) > 1:
                warnings.append(
                    Finding(
                        rule.priority,
                        f"selection.{key}",
                        f"lists {len(entries)} entries ({', '.join(entries)}): ECR selects only images carrying "
                        "tags that match ALL of them, not any one of them; to act on each separately, write one "
                        "rule per entry",
                    )
                )
        shadowing = next(
            (higher for higher in rules if higher.priority < rule.priority and _shadows(higher, rule)), None
        )
        if shadowing is not None:
            warnings.append(
                Finding(
                    rule.priority,
                    "selection",
                    f"can never act: every image it selects is first selected by rule {shadowing.priority}, "
                    "which takes precedence",
                )
            )
        if rule.tag_status == "any" and rule.action == "expire" and rule.storage_class == "standard":
            what = (
                f"all but the {rule.count_number} newest images"
                if rule.count_type == "imageCountMoreThan"
                else f"every image past {rule.count_number} days ({rule.count_type})"
            )
            warnings.append(
                Finding(
                    rule.priority,
                    "selection.tagStatus",
                    f"any expires {what}, tagged releases included unless a higher-priority tagged rule selects "
                    "them first; protect releases with such a rule or use tagStatus untagged",
                )
            )
    return warnings


def _entry_implies(narrow: tuple[str, str], broad: tuple[str, str]) -> bool:
    """Whether every tag matching `narrow` also matches `broad`; entries are (kind, text). Conservative."""
    narrow_kind, narrow_text = narrow
    broad_kind, broad_text = broad
    if narrow == broad:
        return True
    broad_prefix = _as_prefix(broad_kind, broad_text)
    narrow_prefix = _as_prefix(narrow_kind, narrow_text)
    if broad_prefix is not None and narrow_prefix is not None:
        return narrow_prefix.startswith(broad_prefix)
    if narrow_kind == "pattern" and "*" not in narrow_text:  # an exact tag
        if broad_kind == "prefix":
            return narrow_text.startswith(broad_text)
        return wildcard_match(broad_text, narrow_text)
    return False


def _as_prefix(kind: str, text: str) -> str | None:
    if kind == "prefix":
        return text
    if text.endswith("*") and "*" not in text[:-1]:
        return text[:-1]
    return None


def _shadows(higher: LifecycleRule, lower: LifecycleRule) -> bool:
    """Whether every image `lower` could identify is already identified by `higher` (so `lower` never acts)."""
    if higher.storage_class != lower.storage_class:
        return False
    if higher.tag_status == "any":
        return True
    if higher.tag_status != lower.tag_status:
        return False
    if higher.tag_status == "untagged":
        return True
    lower_entries = [("prefix", p) for p in lower.tag_prefixes] + [("pattern", p) for p in lower.tag_patterns]
    higher_entries = [("prefix", p) for p in higher.tag_prefixes] + [("pattern", p) for p in higher.tag_patterns]
    return all(any(_entry_implies(low, high) for low in lower_entries) for high in higher_entries)


# ---- images ---------------------------------------------------------------------------------------------------


def parse_timestamp(value: Any, field_name: str = "timestamp") -> datetime:
    """A timezone-aware UTC datetime from a datetime (naive = UTC), an ISO-8601 string or epoch seconds."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        moment = datetime.fromtimestamp(value, UTC)
    elif isinstance(value, str):
        text = value.strip()
        try:
            moment = datetime.fromtimestamp(float(text), UTC)
        except ValueError:
            try:
                moment = datetime.fromisoformat(text)
            except ValueError as error:
                raise ImageDetailError(f"{field_name}: not an ISO-8601 time or epoch seconds: {value!r}") from error
    else:
        raise ImageDetailError(f"{field_name}: expected a time, got {value!r}")
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _optional_time(detail: Mapping[str, Any], key: str) -> datetime | None:
    return None if detail.get(key) is None else parse_timestamp(detail[key], key)


def _child_digests(detail: Mapping[str, Any]) -> tuple[str, ...]:
    if detail.get("childImageDigests") is not None:
        children = detail["childImageDigests"]
        if not isinstance(children, list) or not all(isinstance(child, str) for child in children):
            raise ImageDetailError("childImageDigests: must be a list of digests")
        return tuple(children)
    manifest = detail.get("imageManifest")
    if manifest is None:
        return ()
    if isinstance(manifest, str):
        try:
            manifest = json.loads(manifest)
        except json.JSONDecodeError as error:
            raise ImageDetailError(f"imageManifest: not JSON: {error}") from error
    entries = manifest.get("manifests", []) if isinstance(manifest, Mapping) else []
    return tuple(entry["digest"] for entry in entries if isinstance(entry, Mapping) and "digest" in entry)


def image_from_detail(detail: Mapping[str, Any]) -> ImageRecord:
    """An ImageRecord from a DescribeImages image detail (boto3 datetimes, ISO-8601 strings or epoch seconds)."""
    if not isinstance(detail, Mapping):
        raise ImageDetailError("an image detail must be a JSON object")
    digest = detail.get("imageDigest")
    if not isinstance(digest, str) or not digest:
        raise ImageDetailError("imageDigest: is required")
    if detail.get("imagePushedAt") is None:
        raise ImageDetailError(f"imagePushedAt: is required (image {digest})")
    tags = detail.get("imageTags") or []
    if not isinstance(tags, list) or not all(isinstance(tag, str) for tag in tags):
        raise ImageDetailError(f"imageTags: must be a list of strings (image {digest})")
    size = detail.get("imageSizeInBytes") or 0
    if not _is_int(size):
        raise ImageDetailError(f"imageSizeInBytes: must be an integer (image {digest})")
    return ImageRecord(
        digest=digest,
        pushed_at=parse_timestamp(detail["imagePushedAt"], "imagePushedAt"),
        tags=tuple(tags),
        last_pulled_at=_optional_time(detail, "lastRecordedPullTime"),
        last_activated_at=_optional_time(detail, "lastActivatedAt"),
        last_archived_at=_optional_time(detail, "lastArchivedAt"),
        status=str(detail.get("imageStatus") or "ACTIVE"),
        size_bytes=size,
        manifest_media_type=detail.get("imageManifestMediaType"),
        child_digests=_child_digests(detail),
        repository_name=detail.get("repositoryName"),
    )


# ---- evaluation -----------------------------------------------------------------------------------------------


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
    return max(reference, activated) if activated is not None else reference


def _marked_by(rule: LifecycleRule, identified: list[ImageRecord], now: datetime) -> list[ImageRecord]:
    """The identified images (youngest first) whose count or age makes `rule` fire."""
    if rule.count_type == "imageCountMoreThan":
        return identified[rule.count_number :]
    cutoff = now - timedelta(days=rule.count_number)
    marked = []
    for image in identified:
        reference = _age_reference(rule, image)
        if reference is not None and reference < cutoff:
            marked.append(image)
    return marked


def _identified_by(rule: LifecycleRule, candidates: list[tuple[ImageRecord, str]]) -> list[ImageRecord]:
    """The candidates (already of the rule's storage class) whose tags meet the rule's tag requirements."""
    if rule.tag_status == "any":
        return [image for image, _ in candidates]
    if rule.tag_status == "untagged":
        return [image for image, tag_lines in candidates if not tag_lines]
    regexes = rule.tag_entry_regexes
    if len(regexes) == 1:
        search = regexes[0].search
        return [image for image, tag_lines in candidates if tag_lines and search(tag_lines)]
    return [image for image, tag_lines in candidates if tag_lines and all(r.search(tag_lines) for r in regexes)]


def _youngest_first(images: Iterable[ImageRecord]) -> list[ImageRecord]:
    unique: dict[str, ImageRecord] = {}
    for image in images:
        known = unique.setdefault(image.digest, image)
        if known is not image and known != image:
            raise ImageDetailError(f"image {image.digest} is listed twice with different details")
    # Among equal push times the lower digest counts as younger, so the result never depends on input order.
    by_digest = sorted(unique.values(), key=attrgetter("digest"))
    return sorted(by_digest, key=attrgetter("pushed_at"), reverse=True)


def evaluate(policy: LifecyclePolicy, images: Iterable[ImageRecord], now: datetime) -> list[Decision]:
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
    decision_by_digest: dict[str, Decision] = {}
    for rule in policy.rules:
        identified = _identified_by(rule, candidates_by_class.get(rule.storage_class, []))
        for image in _marked_by(rule, identified, now):
            if image.digest not in claimed:
                decision_by_digest[image.digest] = Decision(
                    image=image,
                    action=rule.action,
                    target_storage_class=rule.target_storage_class,
                    rule_priority=rule.priority,
                )
        claimed.update(image.digest for image in identified)
    _keep_images_their_manifest_lists_need(decision_by_digest, ordered)
    return sorted(decision_by_digest.values(), key=lambda d: (d.image.pushed_at, d.image.digest))


def _keep_images_their_manifest_lists_need(decision_by_digest: dict[str, Decision], images: list[ImageRecord]) -> None:
    """Drop expiry of any image still referenced by a manifest list that is not itself expired (to a fixpoint)."""
    parents_by_child: dict[str, list[str]] = {}
    for image in images:
        for child in image.child_digests:
            parents_by_child.setdefault(child, []).append(image.digest)
    if not parents_by_child:
        return
    changed = True
    while changed:
        changed = False
        for digest, decision in list(decision_by_digest.items()):
            if decision.action != "expire":
                continue
            parents = parents_by_child.get(digest, ())
            if any(
                parent not in decision_by_digest or decision_by_digest[parent].action != "expire" for parent in parents
            ):
                del decision_by_digest[digest]
                changed = True


# ---- preview output -------------------------------------------------------------------------------------------


def iso8601(moment: datetime) -> str:
    if moment.tzinfo is not UTC:
        moment = moment.astimezone(UTC)
    return moment.isoformat().replace("+00:00", "Z")


def preview_result(decisions: Iterable[Decision], images: Iterable[ImageRecord]) -> dict[str, Any]:
    """The decisions shaped like ECR's GetLifecyclePolicyPreview output (status COMPLETE).

    Beyond ECR's fields, `summary` carries `transitioningImageTotalCount` (one number), the evaluated image count and
    the bytes each action affects: the blast radius in storage, not just in images.
    """
    ordered = sorted(decisions, key=lambda d: (d.image.pushed_at, d.image.digest))
    expiring = [d for d in ordered if d.action == "expire"]
    transitioning = [d for d in ordered if d.action == "transition"]
    results = []
    for decision in ordered:
        action: dict[str, Any] = {"type": decision.action.upper()}
        if decision.target_storage_class:
            action["targetStorageClass"] = decision.target_storage_class.upper()
        results.append(
            {
                "imageDigest": decision.image.digest,
                "imageTags": list(decision.image.tags),
                "imagePushedAt": iso8601(decision.image.pushed_at),
                "action": action,
                "appliedRulePriority": decision.rule_priority,
                "storageClass": (decision.image.storage_class or "standard").upper(),
            }
        )
    transitioning_by_target: dict[str, int] = {}
    for decision in transitioning:
        target = (decision.target_storage_class or "archive").upper()
        transitioning_by_target[target] = transitioning_by_target.get(target, 0) + 1
    return {
        "status": "COMPLETE",
        "previewResults": results,
        "summary": {
            "expiringImageTotalCount": len(expiring),
            "transitioningImageTotalCount": len(transitioning),
            "transitioningImageTotalCounts": [
                {"targetStorageClass": target, "imageTotalCount": count}
                for target, count in sorted(transitioning_by_target.items())
            ],
            "evaluatedImageTotalCount": len({image.digest for image in images}),
            "expiringImageTotalBytes": sum(d.image.size_bytes for d in expiring),
            "transitioningImageTotalBytes": sum(d.image.size_bytes for d in transitioning),
        },
    }

"""ECR lifecycle policies: the model and its parser (pure: no AWS calls).

A rule *identifies* the images of its storage class whose tags meet its tag requirements: `untagged` = no tags,
`any` = every image, `tagged` = every entry of tagPrefixList / tagPatternList matches at least one of the image's
tags (AND across entries: a rule listing `prod` and `dev` selects only images carrying both). `LifecycleRule.selects`
is the one implementation of that requirement; the evaluator and the validator's reasoning both rest on it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any, TypeGuard

from ecr_governance.wildcard import tag_pattern_regex

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
# ECR's limits: lifecycle policy text 100-30,720 characters; integers are 32-bit.
MAX_POLICY_CHARACTERS = 30_720
MAX_INTEGER = 2**31 - 1


class LifecyclePolicyError(ValueError):
    """A policy document that cannot be parsed or has the wrong shape; the message names the rule and field."""


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
        patterns = (re.compile("^" + tag_pattern_regex(pattern) + "$", re.MULTILINE) for pattern in self.tag_patterns)
        return (*prefixes, *patterns)

    @cached_property
    def selects_tags(self) -> Callable[[str], bool]:
        """`selects_tags(tag_lines)`: whether an image whose tags, joined by newlines, are `tag_lines` ("" = untagged)
        meets the rule's tag requirements - its storage class aside. AND across list entries, each entry against any
        of the tags. Built once per rule as the cheapest function for its kind: the evaluator calls it per image."""
        if self.tag_status == "any":
            return lambda tag_lines: True
        if self.tag_status == "untagged":
            return lambda tag_lines: not tag_lines
        searches = tuple(regex.search for regex in self.tag_entry_regexes)
        if len(searches) == 1:
            (search,) = searches
            return lambda tag_lines: bool(tag_lines) and search(tag_lines) is not None
        return lambda tag_lines: bool(tag_lines) and all(search(tag_lines) for search in searches)


@dataclass(frozen=True)
class LifecyclePolicy:
    rules: tuple[LifecycleRule, ...]  # in priority order


# ---- parsing --------------------------------------------------------------------------------------------------


def load_document(policy: str | Mapping[str, Any]) -> Mapping[str, Any]:
    """The policy document as a mapping; its text (or, for a mapping, its compact JSON) must fit ECR's limit."""
    if isinstance(policy, str):
        length = len(policy)
        try:
            policy = json.loads(policy)
        except json.JSONDecodeError as error:
            raise LifecyclePolicyError(f"policy is not valid JSON: {error}") from error
        except RecursionError as error:
            raise LifecyclePolicyError("policy is not valid JSON: nested too deeply") from error
    else:
        try:
            length = len(json.dumps(policy, separators=(",", ":")))
        except (TypeError, ValueError, RecursionError) as error:
            raise LifecyclePolicyError(f"policy cannot be written as JSON: {error}") from error
    if not isinstance(policy, Mapping):
        raise LifecyclePolicyError('policy must be a JSON object with a "rules" list')
    if length > MAX_POLICY_CHARACTERS:
        raise LifecyclePolicyError(
            f"policy is {length:,} characters long; ECR accepts at most {MAX_POLICY_CHARACTERS:,}"
        )
    return policy


def _is_int(value: object) -> TypeGuard[int]:
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
        if _is_int(priority) and 1 <= priority <= MAX_INTEGER:
            self.priority = priority
        elif "rulePriority" not in raw:
            self.errors.append(Finding(None, f"rules[{self.index}].rulePriority", "is required"))
        else:
            self.errors.append(
                Finding(
                    None,
                    f"rules[{self.index}].rulePriority",
                    f"must be an integer from 1 to {MAX_INTEGER}, got {priority!r}",
                )
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

    def _choice(
        self, section: Mapping[str, Any], path: str, key: str, choices: Sequence[str], default: str | None = None
    ) -> str | None:
        value = section.get(key, default)
        if value is None:
            if default is None:
                self.error(path, f"is required (one of: {', '.join(choices)})")
            return None
        if not isinstance(value, str) or value not in choices:
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
        tag_status, prefixes, patterns = self._tag_selection(selection)
        storage_class, count_type, count_number, count_unit = self._count_selection(selection)
        action_type, target = self._action(action, storage_class)
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

    def _tag_selection(self, selection: Mapping[str, Any]) -> tuple[str | None, tuple[str, ...], tuple[str, ...]]:
        """(tagStatus, tagPrefixList, tagPatternList): the lists go only with `tagged`, and one of them must."""
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
        return tag_status, prefixes, patterns

    def _count_selection(self, selection: Mapping[str, Any]) -> tuple[str | None, str | None, Any, Any]:
        """(storageClass, countType, countNumber, countUnit), each checked alone and against the others."""
        storage_class = self._choice(
            selection, "selection.storageClass", "storageClass", STORAGE_CLASSES, default="standard"
        )
        count_type = self._choice(selection, "selection.countType", "countType", COUNT_TYPES)
        count_number = selection.get("countNumber")
        if count_number is None:
            self.error("selection.countNumber", "is required")
        elif not _is_int(count_number) or not 1 <= count_number <= MAX_INTEGER:
            self.error("selection.countNumber", f"must be an integer from 1 to {MAX_INTEGER}, got {count_number!r}")
        count_unit = selection.get("countUnit")
        if count_type in AGE_COUNT_TYPES:
            if count_unit is None:
                self.error("selection.countUnit", f'is required with countType {count_type} (use "days")')
            elif count_unit not in COUNT_UNITS:
                self.error("selection.countUnit", f'must be "days", got {count_unit!r}')
        elif count_type is not None and count_unit is not None:
            self.error("selection.countUnit", f"only allowed with the since* count types, not {count_type}")
        self._archive_selection(storage_class, count_type, count_number)
        return storage_class, count_type, count_number, count_unit

    def _archive_selection(self, storage_class: str | None, count_type: str | None, count_number: Any) -> None:
        """Rules on archived images select by time since their transition, no sooner than the archive minimum."""
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

    def _action(self, action: Mapping[str, Any], storage_class: str | None) -> tuple[str | None, Any]:
        """(type, targetStorageClass): a transition names its target; archived images can only expire."""
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
        return action_type, target


def read_rules(document: Mapping[str, Any]) -> tuple[list[LifecycleRule], list[LifecycleRule], list[Finding]]:
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
    rules, _, errors = read_rules(load_document(policy))
    if errors:
        raise LifecyclePolicyError(str(errors[0]))
    return LifecyclePolicy(rules=tuple(sorted(rules, key=lambda rule: rule.priority)))

"""Validation of a lifecycle policy: every reason ECR would reject it (errors) and likely mistakes it accepts
(warnings), each naming the rule priority and the field."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ecr_governance.lifecycle.policy import (
    STORAGE_CLASSES,
    Finding,
    LifecyclePolicyError,
    LifecycleRule,
    load_document,
    read_rules,
)
from ecr_governance.wildcard import wildcard_match


@dataclass(frozen=True)
class ValidationReport:
    errors: list[Finding] = field(default_factory=list)
    warnings: list[Finding] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        return not self.errors


# ---- validation -----------------------------------------------------------------------------------------------


def validate_policy(policy: str | Mapping[str, Any]) -> ValidationReport:
    """Every reason ECR would reject the policy (errors) and every likely mistake it would accept (warnings)."""
    try:
        document = load_document(policy)
    except LifecyclePolicyError as error:
        return ValidationReport(errors=[Finding(None, None, str(error))])
    rules, partial_rules, errors = read_rules(document)
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
        errors += _tag_status_errors(in_class, storage_class)
        errors += _shared_tag_entry_errors(in_class, storage_class)
    return errors


def _tag_status_errors(in_class: list[LifecycleRule], storage_class: str) -> list[Finding]:
    """`any` comes last, and one rule at most selects untagged images (per storage class, rules by priority)."""
    errors = [
        Finding(
            rule.priority,
            "selection.tagStatus",
            f"a rule with tagStatus any must have the highest rulePriority ({storage_class} rules); "
            f"rule {in_class[-1].priority} comes after it",
        )
        for rule in in_class
        if rule.tag_status == "any" and rule is not in_class[-1]
    ]
    untagged = [rule for rule in in_class if rule.tag_status == "untagged"]
    errors += [
        Finding(
            rule.priority,
            "selection.tagStatus",
            f"only one rule may select untagged {storage_class} images; rule {untagged[0].priority} already does",
        )
        for rule in untagged[1:]
    ]
    return errors


def _shared_tag_entry_errors(in_class: list[LifecycleRule], storage_class: str) -> list[Finding]:
    """Each tagPrefixList / tagPatternList entry belongs to one rule of a storage class."""
    errors: list[Finding] = []
    for key, attribute in (("tagPrefixList", "tag_prefixes"), ("tagPatternList", "tag_patterns")):
        owner_by_entry: dict[str, int] = {}
        for rule in in_class:
            for entry in getattr(rule, attribute):
                if entry not in owner_by_entry:
                    owner_by_entry[entry] = rule.priority
                    continue
                errors.append(
                    Finding(
                        rule.priority,
                        f"selection.{key}",
                        f"{entry!r} is already used by rule {owner_by_entry[entry]}; "
                        f"each entry may appear in only one {storage_class} rule",
                    )
                )
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

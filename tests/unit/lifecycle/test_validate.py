"""validate_policy: one case per ECR acceptance rule and per likely-mistake warning."""

from __future__ import annotations

import copy
import json

import pytest
from ecr_governance.lifecycle.policy import Finding
from ecr_governance.lifecycle.validate import validate_policy


def untagged_rule(priority: int = 1, **selection) -> dict:
    base = {"tagStatus": "untagged", "countType": "sinceImagePushed", "countUnit": "days", "countNumber": 14}
    return {"rulePriority": priority, "selection": {**base, **selection}, "action": {"type": "expire"}}


def tagged_rule(priority: int, prefixes=None, patterns=None, count: int = 10) -> dict:
    selection: dict = {"tagStatus": "tagged", "countType": "imageCountMoreThan", "countNumber": count}
    if prefixes is not None:
        selection["tagPrefixList"] = prefixes
    if patterns is not None:
        selection["tagPatternList"] = patterns
    return {"rulePriority": priority, "selection": selection, "action": {"type": "expire"}}


def any_rule(priority: int, **selection) -> dict:
    base = {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 100}
    return {"rulePriority": priority, "selection": {**base, **selection}, "action": {"type": "expire"}}


def archive_rule(priority: int, days: int = 180, tag_status: str = "any") -> dict:
    selection = {
        "tagStatus": tag_status,
        "storageClass": "archive",
        "countType": "sinceImageTransitioned",
        "countUnit": "days",
        "countNumber": days,
    }
    return {"rulePriority": priority, "selection": selection, "action": {"type": "expire"}}


def errors_of(policy) -> list[str]:
    return [str(finding) for finding in validate_policy(policy).errors]


def warnings_of(policy) -> list[str]:
    return [str(finding) for finding in validate_policy(policy).warnings]


def assert_single_error(policy, starts_with: str, contains: str = "") -> None:
    errors = errors_of(policy)
    assert len(errors) == 1, errors
    assert errors[0].startswith(starts_with), errors
    assert contains in errors[0], errors


def with_selection(rule: dict, **changes) -> dict:
    changed = copy.deepcopy(rule)
    for key, value in changes.items():
        if value is None:
            changed["selection"].pop(key, None)
        else:
            changed["selection"][key] = value
    return changed


CORRECTED = {
    "rules": [
        tagged_rule(1, prefixes=["prod"], count=20),
        tagged_rule(2, prefixes=["staging"], count=10),
        tagged_rule(3, prefixes=["dev"], count=5),
        untagged_rule(4),
    ]
}


def test_a_sound_policy_is_valid_without_warnings():
    report = validate_policy(json.dumps(CORRECTED))
    assert report.valid and report.errors == [] and report.warnings == []


def test_finding_prints_rule_field_and_message():
    assert (
        str(Finding(2, "selection.tagPrefixList", "lists 4 entries"))
        == "rule 2: selection.tagPrefixList: lists 4 entries"
    )
    assert str(Finding(None, "rules", "must be a non-empty list")) == "rules: must be a non-empty list"


# ---- document shape -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("policy", "starts_with"),
    [
        ("{not json", "policy is not valid JSON"),
        ("[1, 2]", "policy must be a JSON object"),
        ({}, "rules: must be a non-empty list"),
        ({"rules": []}, "rules: must be a non-empty list"),
        ({"rules": [untagged_rule()], "version": 1}, "version: unknown field"),
        ({"rules": ["expire everything"]}, "rules[0]: each rule must be a JSON object"),
    ],
)
def test_document_shape_errors(policy, starts_with):
    assert_single_error(policy, starts_with)


@pytest.mark.parametrize(
    ("priority", "expected"),
    [
        (None, "rules[0].rulePriority: is required"),
        (0, "rules[0].rulePriority: must be an integer from 1 to"),
        ("1", "rules[0].rulePriority: must be an integer from 1 to"),
        (True, "rules[0].rulePriority: must be an integer"),
    ],
)
def test_rule_priority_must_be_a_positive_integer(priority, expected):
    rule = untagged_rule()
    if priority is None:
        del rule["rulePriority"]
    else:
        rule["rulePriority"] = priority
    assert_single_error({"rules": [rule]}, expected)


def test_unknown_fields_are_rejected_at_every_level():
    rule = untagged_rule(3)
    rule["name"] = "cleanup"
    rule["selection"]["tagPrefix"] = ["v"]
    rule["action"]["dryRun"] = True
    assert errors_of({"rules": [rule]}) == [
        "rule 3: name: unknown field (allowed: action, description, rulePriority, selection)",
        "rule 3: selection.tagPrefix: unknown field (allowed: countNumber, countType, countUnit, storageClass, "
        "tagPatternList, tagPrefixList, tagStatus)",
        "rule 3: action.dryRun: unknown field (allowed: targetStorageClass, type)",
    ]


@pytest.mark.parametrize("section", ["selection", "action"])
def test_selection_and_action_are_required(section):
    rule = untagged_rule(2)
    del rule[section]
    assert_single_error({"rules": [rule]}, f"rule 2: {section}: is required")


@pytest.mark.parametrize(
    ("key", "value", "field"),
    [
        ("tagStatus", "some", "selection.tagStatus"),
        ("countType", "sinceImageCreated", "selection.countType"),
        ("storageClass", "glacier", "selection.storageClass"),
    ],
)
def test_unknown_values_are_rejected(key, value, field):
    assert_single_error(
        {"rules": [with_selection(untagged_rule(4), **{key: value})]}, f"rule 4: {field}: must be one of"
    )


def test_unknown_action_type_is_rejected():
    rule = untagged_rule(1)
    rule["action"]["type"] = "delete"
    assert_single_error({"rules": [rule]}, "rule 1: action.type: must be one of expire, transition")


# ---- one rule -------------------------------------------------------------------------------------------------


def test_tagged_needs_a_prefix_or_pattern_list():
    assert_single_error({"rules": [tagged_rule(1)]}, "rule 1: selection.tagStatus: tagged needs a tagPrefixList")


def test_tagged_may_not_have_both_lists():
    assert_single_error(
        {"rules": [tagged_rule(1, prefixes=["v"], patterns=["v*"])]}, "rule 1: selection.tagPatternList: use either"
    )


@pytest.mark.parametrize("key", ["tagPrefixList", "tagPatternList"])
@pytest.mark.parametrize("rule", [untagged_rule(1), any_rule(1)])
def test_untagged_and_any_forbid_tag_lists(rule, key):
    assert_single_error(
        {"rules": [with_selection(rule, **{key: ["v"]})]},
        f"rule 1: selection.{key}: only allowed with tagStatus tagged",
    )


@pytest.mark.parametrize("entries", [[], "prod", ["prod", ""], ["prod", 7]])
def test_tag_lists_hold_non_empty_strings(entries):
    assert_single_error({"rules": [tagged_rule(1, prefixes=entries)]}, "rule 1: selection.tagPrefixList: ")


def test_count_unit_is_required_by_the_since_types():
    assert_single_error(
        {"rules": [with_selection(untagged_rule(1), countUnit=None)]},
        "rule 1: selection.countUnit: is required with countType sinceImagePushed",
    )


def test_count_unit_must_be_days():
    assert_single_error(
        {"rules": [with_selection(untagged_rule(1), countUnit="hours")]}, "rule 1: selection.countUnit: must be"
    )


def test_count_unit_is_forbidden_with_image_count():
    rule = with_selection(untagged_rule(1), countType="imageCountMoreThan")
    assert_single_error({"rules": [rule]}, "rule 1: selection.countUnit: only allowed with the since* count types")


@pytest.mark.parametrize("number", [0, -3, "5", 1.5, True, None])
def test_count_number_is_an_integer_of_at_least_one(number):
    rule = with_selection(untagged_rule(1), countNumber=number)
    assert_single_error({"rules": [rule]}, "rule 1: selection.countNumber: ")


def test_transition_needs_target_storage_class_archive():
    rule = untagged_rule(1)
    rule["action"] = {"type": "transition"}
    assert_single_error({"rules": [rule]}, "rule 1: action.targetStorageClass: is required with transition")
    rule["action"]["targetStorageClass"] = "glacier"
    assert_single_error({"rules": [rule]}, 'rule 1: action.targetStorageClass: must be "archive"')
    rule["action"]["targetStorageClass"] = "archive"
    assert errors_of({"rules": [rule]}) == []


def test_expire_takes_no_target_storage_class():
    rule = untagged_rule(1)
    rule["action"]["targetStorageClass"] = "archive"
    assert_single_error(
        {"rules": [rule]}, "rule 1: action.targetStorageClass: only allowed with action type transition"
    )


def test_since_image_transitioned_needs_storage_class_archive():
    rule = with_selection(archive_rule(1), storageClass=None)
    assert_single_error({"rules": [rule]}, "rule 1: selection.storageClass: sinceImageTransitioned selects archived")


def test_archive_rules_count_time_in_archive():
    rule = with_selection(archive_rule(1), countType="sinceImagePushed")
    assert_single_error({"rules": [rule]}, "rule 1: selection.countType: rules on archived images must use")


def test_archived_images_cannot_be_transitioned_again():
    rule = archive_rule(1)
    rule["action"] = {"type": "transition", "targetStorageClass": "archive"}
    assert_single_error({"rules": [rule]}, "rule 1: action.type: archived images can only be expired")


def test_archived_images_keep_their_ninety_day_minimum():
    assert_single_error({"rules": [archive_rule(1, days=30)]}, "rule 1: selection.countNumber: ", "90-day minimum")
    assert errors_of({"rules": [archive_rule(1, days=90)]}) == []


def test_patterns_allow_at_most_four_wildcards():
    assert errors_of({"rules": [tagged_rule(1, patterns=["*test*1*2*3", "test*1*2*3*"])]}) == []
    assert_single_error(
        {"rules": [tagged_rule(1, patterns=["test*1*2*3*4*5*6"])]},
        "rule 1: selection.tagPatternList: pattern 'test*1*2*3*4*5*6' has 6 wildcards",
    )


# ---- across rules ---------------------------------------------------------------------------------------------


def test_priorities_are_unique():
    assert_single_error(
        {"rules": [tagged_rule(1, prefixes=["a"]), tagged_rule(1, prefixes=["b"])]},
        "rule 1: rulePriority: is used by another rule",
    )


def test_any_must_have_the_highest_priority():
    assert_single_error(
        {"rules": [any_rule(1), untagged_rule(2)]}, "rule 1: selection.tagStatus: a rule with tagStatus any must have"
    )


def test_any_is_last_within_its_storage_class():
    # A standard "archive what nobody pulls" rule and an archive expiry rule after it are both last in their class.
    transition_any = any_rule(1, countType="sinceImagePulled", countUnit="days", countNumber=90)
    transition_any["action"] = {"type": "transition", "targetStorageClass": "archive"}
    assert errors_of({"rules": [transition_any, archive_rule(2)]}) == []


def test_only_one_untagged_rule_per_storage_class():
    assert_single_error(
        {"rules": [untagged_rule(1), untagged_rule(2, countNumber=30)]},
        "rule 2: selection.tagStatus: only one rule may select untagged standard images; rule 1 already does",
    )
    assert errors_of({"rules": [untagged_rule(1), archive_rule(2, tag_status="untagged")]}) == []


def test_prefixes_are_unique_per_storage_class():
    assert_single_error(
        {"rules": [tagged_rule(1, prefixes=["prod"]), tagged_rule(2, prefixes=["prod", "eu"])]},
        "rule 2: selection.tagPrefixList: 'prod' is already used by rule 1",
    )


def test_every_error_is_reported_not_just_the_first():
    policy = {"rules": [any_rule(1), with_selection(untagged_rule(2), countNumber=0), untagged_rule(2)]}
    errors = errors_of(policy)
    assert [error.split(":")[0:2] for error in errors] == [
        ["rule 2", " selection.countNumber"],
        ["rule 2", " rulePriority"],  # the malformed rule still counts for the cross-rule checks
        ["rule 1", " selection.tagStatus"],  # any is not last
        ["rule 2", " selection.tagStatus"],  # a second untagged rule
    ], errors


# ---- warnings -------------------------------------------------------------------------------------------------


def test_warns_that_several_prefixes_select_only_images_with_all_of_them():
    seed_mistake = {"rules": [tagged_rule(1, prefixes=["prod", "dev", "staging", "latest"])]}
    report = validate_policy(seed_mistake)
    assert report.valid
    [warning] = report.warnings
    assert str(warning).startswith("rule 1: selection.tagPrefixList: lists 4 entries (prod, dev, staging, latest)")
    assert "ALL" in warning.message and "one rule per entry" in warning.message


def test_warns_about_several_patterns_too():
    [warning] = warnings_of({"rules": [tagged_rule(1, patterns=["prod-*", "*-arm64"])]})
    assert warning.startswith("rule 1: selection.tagPatternList: lists 2 entries") and "ALL" in warning


@pytest.mark.parametrize(
    ("higher", "lower"),
    [
        (tagged_rule(1, prefixes=["app"]), tagged_rule(2, prefixes=["app-web"])),
        (tagged_rule(1, patterns=["release-*"]), tagged_rule(2, prefixes=["release-1"])),
        (tagged_rule(1, patterns=["lat*"]), tagged_rule(2, patterns=["latest"])),
        (tagged_rule(1, prefixes=["v"]), tagged_rule(2, patterns=["v*", "*-arm64"])),
    ],
)
def test_warns_when_a_higher_rule_selects_everything_a_lower_one_could(higher, lower):
    warnings = warnings_of({"rules": [higher, lower]})
    assert any(w.startswith("rule 2: selection: can never act") and "rule 1" in w for w in warnings), warnings


@pytest.mark.parametrize(
    ("higher", "lower"),
    [
        (tagged_rule(1, prefixes=["app-web"]), tagged_rule(2, prefixes=["app"])),
        (tagged_rule(1, prefixes=["app", "eu"]), tagged_rule(2, prefixes=["app-web"])),
        (tagged_rule(1, patterns=["*-arm64"]), tagged_rule(2, prefixes=["release"])),
        (untagged_rule(1), tagged_rule(2, prefixes=["v"])),
    ],
)
def test_no_shadow_warning_when_the_lower_rule_can_still_act(higher, lower):
    assert not any("can never act" in w for w in warnings_of({"rules": [higher, lower]}))


def test_warns_that_an_expiring_any_rule_reaches_tagged_releases():
    [warning] = warnings_of({"rules": [any_rule(1, countNumber=30)]})
    assert warning.startswith("rule 1: selection.tagStatus: any expires all but the 30 newest images")
    assert "tagged releases" in warning


def test_no_any_warning_for_untagged_cleanup():
    assert warnings_of({"rules": [untagged_rule(1)]}) == []

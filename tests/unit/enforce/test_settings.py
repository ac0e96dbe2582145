"""Settings: defaults match the documented standard; every bad value fails fast naming the setting."""

import json

import pytest
from ecr_governance.enforce.settings import SETTINGS_DOCS, EnforceSettings, Mode, TagMutability
from ecr_governance.errors import SettingsError


def test_defaults_are_the_documented_standard():
    settings = EnforceSettings.from_environ({})
    assert settings.mode is Mode.ENFORCE
    assert settings.tag_mutability is TagMutability.IMMUTABLE
    assert settings.allowed_exclusion_filters == ("sha256-*",)
    assert settings.remediation_exclusion_filters == ()
    assert settings.exemptions.tag_key == "ecr-governance:exempt"
    assert settings.exemptions.tag_value == "true"
    # The shipped policy keeps the seed's intent with one rule per prefix (a multi-prefix rule would mean AND).
    rules = settings.standard_lifecycle_policy["rules"]
    assert rules[0]["selection"] == {
        "tagStatus": "untagged",
        "countType": "sinceImagePushed",
        "countUnit": "days",
        "countNumber": 7,
    }
    assert [r["selection"]["tagPrefixList"] for r in rules[1:]] == [["prod"], ["dev"], ["staging"], ["latest"]]
    assert all(r["selection"]["countNumber"] == 10 for r in rules[1:])


def test_documented_defaults_equal_the_parsed_defaults():
    docs = {doc.env: doc.default for doc in SETTINGS_DOCS}
    settings = EnforceSettings.from_environ({})
    assert docs["GOVERNANCE_MODE"] == settings.mode
    assert docs["TAG_MUTABILITY"] == settings.tag_mutability
    assert docs["ALLOWED_EXCLUSION_FILTERS"] == ",".join(settings.allowed_exclusion_filters)
    assert docs["EXEMPT_TAG_KEY"] == settings.exemptions.tag_key


@pytest.mark.parametrize(
    ("environ", "named"),
    [
        ({"GOVERNANCE_MODE": "enforcing"}, "GOVERNANCE_MODE"),
        ({"TAG_MUTABILITY": "SOMETIMES"}, "TAG_MUTABILITY"),
        ({"TAG_MUTABILITY": "MUTABLE"}, "TAG_MUTABILITY"),  # the standard never remediates *to* a mutable mode
        ({"ALLOWED_EXCLUSION_FILTERS": "sha256-*,bad/filter"}, "ALLOWED_EXCLUSION_FILTERS"),
        ({"ALLOWED_EXCLUSION_FILTERS": "a,b,c,d,e,f"}, "ALLOWED_EXCLUSION_FILTERS"),
        ({"ALLOWED_EXCLUSION_FILTERS": "x" * 129}, "ALLOWED_EXCLUSION_FILTERS"),
        ({"TAG_MUTABILITY": "IMMUTABLE_WITH_EXCLUSION", "ALLOWED_EXCLUSION_FILTERS": ""}, "ALLOWED_EXCLUSION_FILTERS"),
        ({"STANDARD_LIFECYCLE_POLICY": "{not json"}, "STANDARD_LIFECYCLE_POLICY"),
        ({"EXEMPT_TAG_KEY": " "}, "EXEMPT_TAG_KEY"),
        ({"REMEDIATION_TOPIC_ARN": "my-topic"}, "REMEDIATION_TOPIC_ARN"),
        ({"REGISTRY_API": "moto"}, "REGISTRY_API"),
    ],
)
def test_a_bad_setting_fails_fast_and_names_the_setting(environ, named):
    with pytest.raises(SettingsError, match=named):
        EnforceSettings.from_environ(environ)


def test_a_lifecycle_policy_ecr_would_reject_fails_at_start_up_naming_rule_and_field():
    untagged_with_prefix = {
        "rules": [
            {
                "rulePriority": 1,
                "selection": {
                    "tagStatus": "untagged",
                    "tagPrefixList": ["prod"],
                    "countType": "imageCountMoreThan",
                    "countNumber": 1,
                },
                "action": {"type": "expire"},
            }
        ]
    }
    with pytest.raises(SettingsError) as raised:
        EnforceSettings.from_environ({"STANDARD_LIFECYCLE_POLICY": json.dumps(untagged_with_prefix)})
    message = str(raised.value)
    assert "STANDARD_LIFECYCLE_POLICY" in message
    assert "rule 1" in message
    assert "tagPrefixList" in message


def test_immutable_with_exclusion_target_writes_the_allowed_filters():
    settings = EnforceSettings.from_environ(
        {"TAG_MUTABILITY": "IMMUTABLE_WITH_EXCLUSION", "ALLOWED_EXCLUSION_FILTERS": "sha256-*, cache-*"}
    )
    assert settings.remediation_exclusion_filters == ("sha256-*", "cache-*")


def test_audit_mode_disables_writes():
    assert not EnforceSettings.from_environ({"GOVERNANCE_MODE": "audit"}).writes_enabled
    assert EnforceSettings.from_environ({"GOVERNANCE_MODE": "enforce"}).writes_enabled


def test_exemption_tags_are_read_in_bulk_unless_the_endpoint_serves_only_the_core_api():
    assert EnforceSettings.from_environ({}).reads_tags_in_bulk
    assert not EnforceSettings.from_environ({"REGISTRY_API": "core"}).reads_tags_in_bulk

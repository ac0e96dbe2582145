"""Exemptions per aspect: what the plain exemption covers, what a tag can list, what a typo does."""

import pytest
from ecr_governance.errors import SettingsError
from ecr_governance.exemptions import (
    DEFAULT_EXEMPT_ASPECTS,
    ExemptAspect,
    ExemptionSettings,
    exemption_by_name,
    exemption_by_tags,
)

SETTINGS = ExemptionSettings.from_environ(
    {"EXEMPT_REPOSITORY_PATTERNS": "sandbox/*, legacy-*", "SCAN_EXEMPT_REPOSITORY_PATTERNS": "vendor/*"}
)
KEY = "ecr-governance:exempt"


def test_name_patterns_exempt_from_tag_mutability_and_lifecycle_not_from_scanning():
    assert exemption_by_name("sandbox/experiments", SETTINGS).aspects == DEFAULT_EXEMPT_ASPECTS
    assert exemption_by_name("legacy-billing", SETTINGS).aspects == DEFAULT_EXEMPT_ASPECTS
    assert not exemption_by_name("team/sandbox", SETTINGS)
    assert exemption_by_name("vendor/agent", SETTINGS).aspects == {ExemptAspect.SCAN_ON_PUSH}


@pytest.mark.parametrize(
    ("value", "aspects"),
    [
        ("true", DEFAULT_EXEMPT_ASPECTS),
        ("TRUE", DEFAULT_EXEMPT_ASPECTS),  # tag values are typed by people
        (" true ", DEFAULT_EXEMPT_ASPECTS),
        ("false", set()),
        ("", set()),
        ("lifecycle", {ExemptAspect.LIFECYCLE}),
        ("scan-on-push lifecycle", {ExemptAspect.SCAN_ON_PUSH, ExemptAspect.LIFECYCLE}),
        ("tag-mutability lifecycle scan-on-push encryption signing", set(ExemptAspect)),
    ],
)
def test_the_tag_value_is_the_exemption_word_or_a_list_of_aspects(value, aspects):
    assert exemption_by_tags({KEY: value}, SETTINGS).aspects == aspects


def test_an_unknown_word_exempts_from_nothing_and_is_reported():
    exemption = exemption_by_tags({KEY: "lifecyle scan-on-push"}, SETTINGS)
    assert exemption.aspects == {ExemptAspect.SCAN_ON_PUSH}
    assert exemption.unrecognized == ("lifecyle",)


def test_other_tags_exempt_nothing_and_exemptions_combine():
    assert not exemption_by_tags({"owner": "true"}, SETTINGS)
    combined = exemption_by_name("sandbox/x", SETTINGS) | exemption_by_tags({KEY: "scan-on-push signing"}, SETTINGS)
    assert not combined.complete and len(combined.reasons) == 2
    assert (combined | exemption_by_tags({KEY: "encryption"}, SETTINGS)).complete


@pytest.mark.parametrize("value", ["", "false", "lifecycle"])
def test_an_exemption_word_that_could_never_mean_true_is_refused(value):
    with pytest.raises(SettingsError, match="EXEMPT_TAG_VALUE"):
        ExemptionSettings.from_environ({"EXEMPT_TAG_VALUE": value})

"""The sweep's settings: documented defaults, and every bad value fails fast naming its variable."""

from datetime import timedelta

import pytest
from ecr_governance.errors import SettingsError
from ecr_governance.sweep.settings import SETTINGS_DOCS, SweepMode, SweepSettings


def test_defaults_are_the_documented_ones_and_safe():
    settings = SweepSettings.from_environ({})
    assert settings.rules.mode is SweepMode.DRY_RUN and not settings.rules.deletes
    assert settings.rules.min_age == timedelta(days=14)
    assert settings.rules.min_idle == timedelta(days=30)
    assert settings.rules.sweep_archived is False
    assert settings.storage_price_per_gb_month == 0.10
    assert (settings.queue_url, settings.runs_table, settings.topic_arn) == ("", "", "")
    docs = {doc.env: doc.default for doc in SETTINGS_DOCS}
    assert docs["SWEEP_MODE"] == settings.rules.mode
    assert int(docs["SWEEP_MIN_AGE_DAYS"]) == settings.rules.min_age.days
    assert int(docs["SWEEP_MIN_IDLE_DAYS"]) == settings.rules.min_idle.days
    assert float(docs["STORAGE_PRICE_PER_GB_MONTH"]) == settings.storage_price_per_gb_month


def test_the_exemptions_are_enforcements():
    settings = SweepSettings.from_environ({"EXEMPT_REPOSITORY_PATTERNS": "sandbox/*", "EXEMPT_TAG_KEY": "keep"})
    assert settings.exemptions.repository_patterns == ("sandbox/*",)
    assert settings.exemptions.tag_key == "keep"


@pytest.mark.parametrize(
    ("environ", "named"),
    [
        ({"SWEEP_MODE": "delete-everything"}, "SWEEP_MODE"),
        ({"SWEEP_MIN_AGE_DAYS": "-1"}, "SWEEP_MIN_AGE_DAYS"),
        ({"SWEEP_MIN_AGE_DAYS": "two weeks"}, "SWEEP_MIN_AGE_DAYS"),
        ({"SWEEP_MIN_IDLE_DAYS": "3651"}, "SWEEP_MIN_IDLE_DAYS"),
        ({"SWEEP_ARCHIVED": "yes"}, "SWEEP_ARCHIVED"),
        ({"STORAGE_PRICE_PER_GB_MONTH": "nan"}, "STORAGE_PRICE_PER_GB_MONTH"),
        ({"SWEEP_TOPIC_ARN": "arn:aws:sqs:ap-southeast-1:1:q"}, "SWEEP_TOPIC_ARN"),
        ({"SWEEP_QUEUE_URL": "sweep-queue"}, "SWEEP_QUEUE_URL"),
        ({"EXEMPT_TAG_VALUE": "false"}, "EXEMPT_TAG_VALUE"),
    ],
)
def test_bad_values_name_the_variable(environ, named):
    with pytest.raises(SettingsError, match=named):
        SweepSettings.from_environ(environ)


def test_fractions_of_days_and_the_new_settings_are_read():
    settings = SweepSettings.from_environ(
        {"SWEEP_MIN_AGE_DAYS": "1.5", "ARCHIVE_PRICE_PER_GB_MONTH": "0.07", "SWEEP_RUN_DEADLINE_HOURS": "12"}
    )
    assert settings.rules.min_age == timedelta(days=1.5)
    assert settings.archive_price_per_gb_month == 0.07 and settings.run_deadline == timedelta(hours=12)
    with pytest.raises(SettingsError, match="SWEEP_RUN_DEADLINE_HOURS"):
        SweepSettings.from_environ({"SWEEP_RUN_DEADLINE_HOURS": "24"})

"""One source of truth per setting: template.yaml's Parameters, its console groups and docs/parameters.md are all
held to the SettingDocs (the code's, and cli/ecr_governance_cli/parameter_reference.py's for template-only ones)."""

from __future__ import annotations

from typing import Any

import pytest
from ecr_governance.config import SettingDoc
from ecr_governance_cli import parameter_reference
from ecr_governance_cli.parameter_reference import GROUPS, READ_BY, REFERENCE, by_parameter, code_docs, render

DOCS = by_parameter()
FUNCTIONS_OF = {doc: [name for names, docs in READ_BY.items() if doc in docs for name in names] for doc in code_docs()}


def test_every_parameter_is_documented_once_and_nothing_else_is(template: dict[str, Any]) -> None:
    assert set(DOCS) == set(template["Parameters"])


@pytest.mark.parametrize("parameter", sorted(DOCS))
def test_the_parameter_is_what_its_doc_says(template: dict[str, Any], parameter: str) -> None:
    declared, doc = template["Parameters"][parameter], DOCS[parameter]
    assert str(declared.get("Default")) == doc.default, "Default"
    assert [str(value) for value in declared.get("AllowedValues", [])] == list(doc.allowed), "AllowedValues"
    assert declared.get("AllowedPattern", "") == doc.pattern, "AllowedPattern"
    if declared["Type"] == "Number" and "AllowedValues" not in declared:
        assert (declared["MinValue"], declared["MaxValue"]) == (doc.minimum, doc.maximum), "MinValue/MaxValue"
    assert declared["Description"] == doc.description, "Description (the doc without Markdown)"


def _feeds(doc: SettingDoc) -> dict[str, Any]:
    """What a function's environment holds for a setting fed by its Parameter (directly, or the deprecated one)."""
    if doc.replaces:
        condition = {"Fn::Not": [{"Fn::Equals": [{"Ref": doc.replaces}, ""]}]}
        return {"condition": condition, "value": {"Fn::If": [None, {"Ref": doc.replaces}, {"Ref": doc.parameter}]}}
    return {"value": {"Ref": doc.parameter}}


@pytest.mark.parametrize("doc", [doc for doc in code_docs() if doc.has_parameter], ids=lambda doc: doc.env)
def test_each_function_gets_the_setting_from_its_parameter(template: dict[str, Any], doc: SettingDoc) -> None:
    for function in FUNCTIONS_OF[doc]:
        variables = template["Resources"][function]["Properties"]["Environment"]["Variables"]
        value = variables[doc.env]
        if doc.feeds:  # derived from the Parameter through a condition (a topic created, a scope chosen)
            condition = template["Conditions"][value["Fn::If"][0]]
            assert doc.parameter in str(value) + str(condition), function
            continue
        expected = _feeds(doc)
        if "condition" in expected:
            condition_name = value["Fn::If"][0]
            assert template["Conditions"][condition_name] == expected["condition"], function
            expected["value"]["Fn::If"][0] = condition_name
        assert value == expected["value"], function


def test_the_console_groups_are_the_references(template: dict[str, Any]) -> None:
    interface = template["Metadata"]["AWS::CloudFormation::Interface"]["ParameterGroups"]
    assert [(group["Label"]["default"], tuple(group["Parameters"])) for group in interface] == list(GROUPS)
    grouped = [name for _, names in GROUPS for name in names]
    assert sorted(grouped) == sorted(set(grouped)) == sorted(template["Parameters"])


def test_the_committed_reference_is_the_generated_one() -> None:
    assert REFERENCE.read_text() == render(), "run: python -m ecr_governance_cli.parameter_reference"
    assert parameter_reference.main(["--check"]) == 0


def test_a_parameter_said_twice_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    twice = (*parameter_reference.TEMPLATE_ONLY, SettingDoc("", "SweepSchedule", "rate(2 days)", "again"))
    monkeypatch.setattr(parameter_reference, "TEMPLATE_ONLY", twice)
    with pytest.raises(ValueError, match="SweepSchedule is documented twice"):
        parameter_reference.by_parameter()

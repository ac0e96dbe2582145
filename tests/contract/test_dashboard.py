"""The stack's CloudWatch dashboard, held to the code: its body is valid JSON on CloudWatch's 24-column grid, every
placeholder resolves to something the template has, every ECRGovernance metric it shows is one the code emits, and
it shows what issue 19 asks of it (remediations, violations not remediable, alerts by severity, images not scanned,
sweep bytes and dollars, every failures queue, each function's errors and duration)."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path
from typing import Any

from ecr_governance import SERVICE_NAME
from ecr_governance.enforce.invocation import METRIC_BY_ACTION
from ecr_governance.findings.normalize import Severity
from handlers.findings_wiring import ALERT_METRIC_BY_SEVERITY

PROJECT_ROOT = Path(__file__).resolve().parents[2]
FUNCTIONS_DIR = PROJECT_ROOT / "functions"
PLACEHOLDER = re.compile(r"\$\{([^}]+)\}")
GRID_COLUMNS = 24
WIDGET_TYPES = {"metric", "text"}


def _dashboard(template: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    (dashboard,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::CloudWatch::Dashboard"]
    text, variables = dashboard["Properties"]["DashboardBody"]["Fn::Sub"]
    return text, variables


def _body(template: dict[str, Any]) -> dict[str, Any]:
    text, _ = _dashboard(template)
    return json.loads(PLACEHOLDER.sub(lambda match: f"resolved-{match.group(1)}", text))


def _metrics(body: dict[str, Any]) -> list[list[Any]]:
    return [
        metric for widget in body["widgets"] if widget["type"] == "metric" for metric in widget["properties"]["metrics"]
    ]


def emitted_metric_names() -> set[str]:
    """Every metric name the functions emit: literal `add_metric(name="...")` calls and the name tables they emit
    from (module-level dicts named *METRIC*), plus the two tables built from enums."""
    names = set(METRIC_BY_ACTION.values()) | set(ALERT_METRIC_BY_SEVERITY.values())
    for path in FUNCTIONS_DIR.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "add_metric":
                names |= {
                    keyword.value.value
                    for keyword in node.keywords
                    if keyword.arg == "name" and isinstance(keyword.value, ast.Constant)
                }
            elif isinstance(node, ast.Assign) and isinstance(node.value, ast.Dict) and _names_a_metric_table(node):
                names |= {v.value for v in node.value.values if isinstance(v, ast.Constant)}
    return names


def _names_a_metric_table(assignment: ast.Assign) -> bool:
    return any("METRIC" in getattr(target, "id", "") for target in assignment.targets)


def test_the_metric_name_collector_finds_literal_and_tabled_names() -> None:
    names = emitted_metric_names()
    assert {"BytesReclaimed", "AlertsPublished", "SettingsRemediated", "AdvisoriesPublished", "AlertsHigh"} <= names


def test_the_body_is_json_on_the_grid_and_every_placeholder_resolves(template: dict[str, Any]) -> None:
    text, variables = _dashboard(template)
    for name in PLACEHOLDER.findall(text):
        resource = name.split(".")[0]
        assert name.startswith("AWS::") or name in variables or resource in template["Resources"], name
    body = _body(template)
    assert body["widgets"]
    occupied: set[tuple[int, int]] = set()
    for widget in body["widgets"]:
        assert widget["type"] in WIDGET_TYPES
        assert widget["x"] >= 0 and widget["x"] + widget["width"] <= GRID_COLUMNS, widget
        cells = {
            (x, y)
            for x in range(widget["x"], widget["x"] + widget["width"])
            for y in range(widget["y"], widget["y"] + widget["height"])
        }
        assert not cells & occupied, f"widgets overlap at {sorted(cells & occupied)[:1]}"
        occupied |= cells
        if widget["type"] == "metric":
            properties = widget["properties"]
            assert properties["title"] and properties["region"] == "resolved-AWS::Region"
            assert properties["stat"] in {"Sum", "Maximum", "Average", "p99"} and properties["period"] % 60 == 0
            for metric in properties["metrics"]:
                namespace, name, *dimensions, options = metric
                assert isinstance(options, dict) and len(dimensions) % 2 == 0, metric


def test_every_governance_metric_shown_is_one_the_code_emits_with_powertools_service_dimension(
    template: dict[str, Any],
) -> None:
    namespace = template["Globals"]["Function"]["Environment"]["Variables"]["POWERTOOLS_METRICS_NAMESPACE"]
    shown = [metric for metric in _metrics(_body(template)) if metric[0] == namespace]
    assert shown
    assert {metric[1] for metric in shown} <= emitted_metric_names()
    assert all(metric[2:4] == ["service", SERVICE_NAME] for metric in shown)


def test_the_dashboard_shows_what_an_operator_asks_first(template: dict[str, Any]) -> None:
    metrics = _metrics(_body(template))
    governance = {metric[1] for metric in metrics if metric[0] == "ECRGovernance"}
    wanted = {
        "SettingsRemediated",
        "ViolationsNotRemediable",
        "ImagesNotScanned",
        "BytesReclaimed",
        "MonthlySavingsUsd",
    }
    assert wanted | {ALERT_METRIC_BY_SEVERITY[severity] for severity in Severity} <= governance
    resources = template["Resources"]
    _, variables = _dashboard(template)
    functions = {i for i, r in resources.items() if r["Type"] == "AWS::Serverless::Function"}
    for lambda_metric in ("Errors", "Duration"):
        shown = {metric[3] for metric in metrics if metric[:2] == ["AWS/Lambda", lambda_metric]}
        named = {value.removeprefix("resolved-") for value in shown}
        member = variables["MemberFunction"]["Fn::If"][1]["Ref"]  # the hub's member function, when it exists
        assert named == (functions - {member}) | {"MemberFunction"}, lambda_metric
    alarmed_queues = {
        r["Properties"]["Dimensions"][0]["Value"]["Fn::GetAtt"][0]
        for r in resources.values()
        if r["Type"] == "AWS::CloudWatch::Alarm"
        and r["Properties"]["MetricName"] == "ApproximateNumberOfMessagesVisible"
    }
    shown_queues = {
        metric[3].removeprefix("resolved-").removesuffix(".QueueName")
        for metric in metrics
        if metric[:2] == ["AWS/SQS", "ApproximateNumberOfMessagesVisible"]
    }
    member_queue = variables["MemberDeadLetters"]["Fn::If"][1]["Fn::GetAtt"][0]
    assert shown_queues == (alarmed_queues - {member_queue}) | {"MemberDeadLetters"}

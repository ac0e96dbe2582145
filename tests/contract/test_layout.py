"""The house rules, held by the source: a room per capability, one AWS edge, developer tools out of the Lambda
package, no import cycles."""

from __future__ import annotations

from import_graph import find_cycle, imported_modules, project_import_graph, project_modules

# Capabilities: pure domain packages that state their needs as Protocol ports and never reach for AWS themselves.
CAPABILITIES = ("enforce", "lifecycle", "findings", "sweep")
# What only developer tools may import; the Lambda package (functions/) must not.
DEVELOPER_ONLY = ("yaml", "moto", "argparse", "pytest", "hypothesis", "ecr_governance_cli")
AWS_SDK = ("boto3", "botocore")


def _top_level(name: str) -> str:
    return name.split(".")[0]


def _imports_by_module() -> dict[str, set[str]]:
    return {module: imported_modules(path, module) for module, path in project_modules().items()}


def test_the_lambda_package_imports_no_developer_tool():
    offenders = {
        module: sorted(name for name in imports if _top_level(name) in DEVELOPER_ONLY)
        for module, imports in _imports_by_module().items()
        if not module.startswith("ecr_governance_cli")
    }
    assert {module: names for module, names in offenders.items() if names} == {}


def test_only_the_aws_edge_imports_boto3_or_botocore():
    offenders = {
        module: sorted(name for name in imports if _top_level(name) in AWS_SDK)
        for module, imports in _imports_by_module().items()
        if module.startswith(("ecr_governance.", "handlers")) and not module.startswith("ecr_governance.aws")
    }
    assert {module: names for module, names in offenders.items() if names} == {}


def test_capabilities_never_import_the_aws_edge():
    offenders = {}
    for module, imports in _imports_by_module().items():
        if any(module.startswith(f"ecr_governance.{capability}") for capability in CAPABILITIES):
            reaching = sorted(name for name in imports if name.startswith("ecr_governance.aws"))
            if reaching:
                offenders[module] = reaching
    assert offenders == {}


def test_there_is_no_import_cycle():
    graph = project_import_graph()
    assert len(graph) > 20, "the import graph reader found too few modules"
    assert find_cycle(graph) is None


def test_the_cycle_finder_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None

"""The house rules, held by the source: a room per capability, one AWS edge, developer tools out of the Lambda
package, no import cycles, and which room may import which (the dependency matrix)."""

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


# ---- the dependency matrix ----------------------------------------------------------------------------------
# A room: a package under ecr_governance (enforce, aws, ...), a top-level module of it (errors, images, ...), the
# handlers, or the CLI. Shared rooms hold what several capabilities use; capabilities never import each other except
# the lifecycle engine, which enforcement and the sweep consult. Each room lists every room it may import.
SHARED_ROOMS_IMPORTS: dict[str, frozenset[str]] = {
    "ecr_governance": frozenset(),  # the package itself: SERVICE_NAME, __version__
    "errors": frozenset(),
    "config": frozenset({"errors"}),
    "wildcard": frozenset(),
    "images": frozenset(),
    "notice": frozenset(),
    "repositories": frozenset(),
    "schedule": frozenset(),
    "exemptions": frozenset({"config", "errors", "wildcard"}),
    # Outside text made safe for each medium (chat, e-mail, terminal); where a function runs (account, partition).
    "text": frozenset(),
    "location": frozenset({"errors"}),
    # camelCase keys, as AWS's APIs spell them: what the functions answer and the CLI prints.
    "casing": frozenset(),
    # Who an organization hub governs and how its settings read: every capability may work in a member account.
    "organization": frozenset({"config", "errors", "text"}),  # text: how a summary names an account, escaped
    # A run that fans out into units and adds up their counters once (the sweep's and the organization reconcile's).
    "runs": frozenset(),
    # What enforcement learns of ECR's newer settings and the sweep and findings need too (issue 15).
    "pull_through_cache": frozenset(),
    "registry_api": frozenset({"config"}),
    "signing": frozenset({"config", "wildcard"}),
}
SHARED_ROOMS = frozenset(SHARED_ROOMS_IMPORTS)
ALLOWED_IMPORTS: dict[str, frozenset[str]] = {
    **SHARED_ROOMS_IMPORTS,
    "lifecycle": SHARED_ROOMS,
    "findings": SHARED_ROOMS,
    # The lifecycle engine validates the standard policy and reports what a custom policy does.
    "enforce": SHARED_ROOMS | {"lifecycle"},
    # The sweep's graph and manifest rules live in the shared `images` room; it consults no other capability.
    "sweep": SHARED_ROOMS,
    # Adapters translate AWS's answers into the domain's types.
    "aws": SHARED_ROOMS | set(CAPABILITIES),
    "handlers": SHARED_ROOMS | set(CAPABILITIES) | {"aws"},
    "cli": SHARED_ROOMS | set(CAPABILITIES) | {"aws"},
}
# Module edges allowed for now, each with the reason and who removes it. An exception no longer used fails the test,
# so it goes with the fix.
TEMPORARY_EXCEPTIONS: set[tuple[str, str]] = set()


def room_of(module: str) -> str:
    parts = module.split(".")
    if parts[0] == "handlers":
        return "handlers"
    if parts[0] == "ecr_governance_cli":
        return "cli"
    return parts[1] if len(parts) > 1 else parts[0]


def test_every_room_imports_only_the_rooms_the_matrix_allows():
    graph = project_import_graph()
    unplaced = sorted({room_of(module) for module in graph} - set(ALLOWED_IMPORTS))
    assert unplaced == [], "a new room: place it in ALLOWED_IMPORTS"
    offending, used_exceptions = [], set()
    for module, imports in sorted(graph.items()):
        for imported in sorted(imports):
            source, target = room_of(module), room_of(imported)
            if source == target or target in ALLOWED_IMPORTS[source]:
                continue
            if (module, imported) in TEMPORARY_EXCEPTIONS:
                used_exceptions.add((module, imported))
            else:
                offending.append(f"{module} -> {imported}")
    assert offending == []
    assert used_exceptions == TEMPORARY_EXCEPTIONS, "an exception no longer needed: remove it from the matrix"


def test_the_matrix_keeps_capabilities_apart():
    for capability in CAPABILITIES:
        others = set(CAPABILITIES) - {capability, "lifecycle"}
        assert not ALLOWED_IMPORTS[capability] & others, capability
        assert "aws" not in ALLOWED_IMPORTS[capability] and "handlers" not in ALLOWED_IMPORTS[capability]
    assert ALLOWED_IMPORTS["lifecycle"] == SHARED_ROOMS  # the engine itself leans on no capability


def test_there_is_no_import_cycle():
    graph = project_import_graph()
    assert len(graph) > 20, "the import graph reader found too few modules"
    assert find_cycle(graph) is None


def test_the_cycle_finder_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None

"""The project's import graph, read from the source (module-level and lazy imports alike), for layout tests."""

from __future__ import annotations

import ast
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
# Where each top-level package lives.
SOURCE_ROOTS = {
    "ecr_governance": PROJECT_ROOT / "functions",
    "handlers": PROJECT_ROOT / "functions",
    "ecr_governance_cli": PROJECT_ROOT / "cli",
}


def project_modules() -> dict[str, Path]:
    """Every module of the project's packages: dotted name -> file."""
    modules: dict[str, Path] = {}
    for package, root in SOURCE_ROOTS.items():
        for path in (root / package).rglob("*.py"):
            modules[".".join(path.relative_to(root).with_suffix("").parts).removesuffix(".__init__")] = path
    return modules


def imported_modules(path: Path, module: str) -> set[str]:
    """Every module (absolute name) the file imports, at module level or lazily inside functions; `from pkg import
    name` counts both `pkg` and `pkg.name` (which may be a module)."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parts = parts[: len(parts) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def project_import_graph() -> dict[str, set[str]]:
    """module -> the project modules it imports (a package's own __init__ excluded from its children's edges)."""
    modules = project_modules()
    graph: dict[str, set[str]] = {}
    for module, path in modules.items():
        graph[module] = {name for name in imported_modules(path, module) if name in modules and name != module}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a list of modules, or None."""
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    path: list[str] = []

    def visit(module: str) -> list[str] | None:
        state[module] = 1
        path.append(module)
        for imported in sorted(graph.get(module, ())):
            if state.get(imported) == 1:
                return path[path.index(imported) :] + [imported]
            if imported not in state:
                cycle = visit(imported)
                if cycle:
                    return cycle
        path.pop()
        state[module] = 2
        return None

    for module in sorted(graph):
        if module not in state:
            cycle = visit(module)
            if cycle:
                return cycle
    return None

"""The shape the code keeps: services do not import each other, the gateway imports neither tools nor services,
and no module imports itself back through others (read with `ast`, no import executed)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("kernel", "services", "gateway", "tools", "deploy", "bench")


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def _imports(path: Path, modules: dict[str, Path], top_level_only: bool) -> set[str]:
    """Project modules `path` imports (at module level only, when asked: an import inside a function
    runs later and cannot make a cycle at import time, but it is still a dependency)."""
    tree = ast.parse(path.read_text())
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    names: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {name for name in names if name in modules}


def test_no_service_imports_another_service_and_the_gateway_imports_no_tools_or_services():
    modules = _modules()
    wrong = []
    for name, path in modules.items():
        for imported in _imports(path, modules, top_level_only=False):
            crosses_services = name.startswith("services.") and imported.startswith("services.")
            if crosses_services and name.split(".")[1] != imported.split(".")[1]:
                wrong.append(f"{name} -> {imported}")
            if name.startswith("gateway") and imported.startswith(("tools", "services")):
                wrong.append(f"{name} -> {imported}")
    assert not wrong, wrong


def test_no_import_cycle():
    modules = _modules()
    graph = {name: _imports(path, modules, top_level_only=False) - {name} for name, path in modules.items()}
    for name in list(graph):  # a package's import of its own submodule is not a cycle
        graph[name] = {m for m in graph[name] if not m.startswith(name + ".")}
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append([*stack[stack.index(nxt) :], nxt])
            elif nxt not in state:
                visit(nxt, [*stack, nxt])
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert not cycles, "\n".join(" -> ".join(cycle) for cycle in cycles)

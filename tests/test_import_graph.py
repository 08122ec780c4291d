"""No import cycles among the modules of write_service, read_indexer, search_api and shared, read
from the source tree (no server, nothing imported).

Every import counts, including those inside functions: a deferred import hides a cycle from the
interpreter, not from a reader. An edge goes to the module an import names (`from a.b import c`:
to a.b.c when c is a module, else to a.b); the parent packages' __init__ files are not edges, so
a package that imports its own submodules (read_indexer/tasks/__init__.py) is not a cycle.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

pytestmark = pytest.mark.fast
ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("write_service", "read_indexer", "search_api", "shared")


def _module_name(path: Path, root: Path) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imported(node: ast.ImportFrom, importer: str, is_package: bool) -> str:
    if not node.level:
        return node.module or ""
    base = importer.split(".") if is_package else importer.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def import_graph(root: Path = ROOT, packages: tuple[str, ...] = PACKAGES) -> dict[str, set[str]]:
    """module -> the project modules it imports."""
    files = {_module_name(path, root): path for package in packages for path in (root / package).rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for module, path in files.items():
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                targets.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = _imported(node, module, path.name == "__init__.py")
                submodules = {f"{base}.{alias.name}" for alias in node.names} & files.keys()
                targets.update(submodules or {base})
        graph[module] = {target for target in targets if target in files and target != module}
    return graph


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle per strongly connected component of more than one module, as a path that returns
    to its first module (Tarjan's algorithm, then a shortest way round inside the component)."""
    index: dict[str, int] = {}
    lowlink: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = lowlink[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                lowlink[node] = min(lowlink[node], lowlink[target])
            elif target in on_stack:
                lowlink[node] = min(lowlink[node], index[target])
        if lowlink[node] == index[node]:
            component = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.add(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(component)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return [_way_round(graph, component) for component in components]


def _way_round(graph: dict[str, set[str]], component: set[str]) -> list[str]:
    start = min(component)
    came_from: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for target in sorted(graph[node] & component):
                if target == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(came_from[path[-1]])
                    return [*reversed(path), start]
                if target not in came_from:
                    came_from[target] = node
                    following.append(target)
        frontier = following
    raise AssertionError(f"no way round the component {sorted(component)}")


def test_no_import_cycle_in_the_services():
    cycles = find_cycles(import_graph())
    assert cycles == [], "import cycles:\n" + "\n".join(" -> ".join(cycle) for cycle in cycles)


# read_indexer's parts by height: what the pipeline needs to run sits below what drives it, and the
# operator commands and screens sit on top, so the pipeline never depends on an operator screen.
READ_INDEXER_LOWER = ("task_names", "celery_config", "errors", "raw_sql", "observability", "projection", "lifecycle")
READ_INDEXER_DRIVERS = ("capture", "tasks", "celery_app")
READ_INDEXER_TOP = ("operations", "management", "apps")


def _part(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if parts[0] == "read_indexer" and len(parts) > 1 else None


def test_read_indexer_imports_point_down():
    upward = sorted(
        f"{module} -> {target}"
        for module, targets in import_graph().items()
        for target in targets
        if (_part(module) in READ_INDEXER_LOWER and _part(target) in READ_INDEXER_DRIVERS + READ_INDEXER_TOP)
        or (_part(module) in READ_INDEXER_DRIVERS and _part(target) in READ_INDEXER_TOP)
    )
    assert upward == [], "imports from a lower part of read_indexer into a higher one:\n" + "\n".join(upward)
    parts = {_part(module) for module in import_graph() if _part(module)}
    assert parts <= {*READ_INDEXER_LOWER, *READ_INDEXER_DRIVERS, *READ_INDEXER_TOP}, "place a new part in a layer"


SERVICES = ("write_service", "read_indexer", "search_api")


def test_shared_holds_only_what_two_services_use():
    """A module of shared/ that one service alone uses (directly or through another module of
    shared/) belongs in that service."""
    graph = import_graph()
    users: dict[str, set[str]] = {module: set() for module in graph if module.startswith("shared.")}
    for module, targets in graph.items():
        service = module.split(".")[0]
        if service in SERVICES:
            for target in targets & users.keys():
                users[target].add(service)
    changed = True
    while changed:  # what a shared module imports is used by that module's users too
        changed = False
        for module in users:
            for target in graph[module] & users.keys():
                if not users[module] <= users[target]:
                    users[target] |= users[module]
                    changed = True
    lonely = sorted(
        f"{module}: {sorted(services) or 'no service'}" for module, services in users.items() if len(services) < 2
    )
    assert lonely == [], "modules of shared/ used by fewer than two services:\n" + "\n".join(lonely)


def test_the_graph_sees_imports_inside_functions():
    graph = import_graph()
    assert "read_indexer.operations.pipeline_gauges" in graph["read_indexer.apps"]  # inside ready()
    assert "read_indexer.projection.drift" in graph["read_indexer.capture.drift_sweep"]
    assert "write_service.settings.base" in graph["write_service.settings.test"]  # a relative import


def test_the_cycle_finder_reports_each_cycle_as_a_path():
    graph = {"a": {"b"}, "b": {"c", "d"}, "c": {"a"}, "d": set(), "e": {"a", "f"}, "f": {"e"}}
    assert find_cycles(graph) == [["a", "b", "c", "a"], ["e", "f", "e"]]
    assert find_cycles({"a": {"b"}, "b": {"c"}, "c": set(), "d": {"a", "c"}}) == []


def test_the_cycle_finder_fails_on_a_cycle_written_to_disk(tmp_path):
    package = tmp_path / "service"
    (package / "inner").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "inner" / "__init__.py").write_text("")
    (package / "first.py").write_text("from service.inner import second\n")
    (package / "inner" / "second.py").write_text("def late():\n    from ..first import name\n")
    graph = import_graph(tmp_path, ("service",))
    assert find_cycles(graph) == [["service.first", "service.inner.second", "service.first"]]

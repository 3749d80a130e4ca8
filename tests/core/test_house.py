"""The shape of ci_ecs/ that issue 24 asked for, kept: no import cycle among its modules, no function above
cyclomatic complexity 30 (radon's grades E and F), no module over 600 lines.

These read the source only (ast and radon's Python API); nothing is imported or run.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

from radon.complexity import cc_visit
from radon.visitors import Class, Function

PACKAGE = Path(__file__).resolve().parents[2] / "ci_ecs"
MAX_COMPLEXITY = 30  # radon grade D ends at 30; E (31-40) and F (41+) are what issue 24 removed
MAX_LINES = 600


def _sources() -> dict[str, Path]:
    """Every module of ci_ecs by its dotted name (a package by its own name, for its __init__.py)."""
    modules: dict[str, Path] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules[".".join(parts)] = path
    return modules


def _is_type_checking(test: ast.expr) -> bool:
    """`if TYPE_CHECKING:` / `if typing.TYPE_CHECKING:`: imports only the type checker follows."""
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or \
        (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(node: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import statement under `node`, at module level and inside functions and classes alike (an import
    moved into a function still needs the other module at run time), except in `if TYPE_CHECKING:` bodies."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, (ast.Import, ast.ImportFrom)):
            yield child
        elif isinstance(child, ast.If) and _is_type_checking(child.test):
            for other in child.orelse:
                yield from _imports_in([other])
        else:
            yield from _imports(child)


def _imports_in(nodes: list[ast.stmt]) -> Iterator[ast.Import | ast.ImportFrom]:
    for node in nodes:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        else:
            yield from _imports(node)


def _target(name: str, modules: dict[str, Path]) -> str | None:
    """The ci_ecs module an imported dotted name loads (its longest prefix that is one), None outside ci_ecs."""
    parts = name.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in modules:
            return candidate
        parts.pop()
    return None


def import_graph() -> dict[str, dict[str, int]]:
    """module -> {imported ci_ecs module: line of the first such import}.

    An edge goes to the module an import names (`from ci_ecs.config import Config`: ci_ecs.config, the package's
    __init__; `from ci_ecs.preflight import rules`: ci_ecs.preflight.rules), not to the packages Python loads on
    the way, as pylint's cyclic-import counts them: a package whose __init__ re-exports its modules is no cycle.
    """
    modules = _sources()
    graph: dict[str, dict[str, int]] = {}
    for name, path in modules.items():
        is_package = path.name == "__init__.py"
        edges: dict[str, int] = {}
        for node in _imports(ast.parse(path.read_text(), filename=str(path))):
            targets: list[str | None] = []
            if isinstance(node, ast.Import):
                targets = [_target(alias.name, modules) for alias in node.names]
            else:
                base = node.module or ""
                if node.level:
                    package = name.split(".") if is_package else name.split(".")[:-1]
                    package = package[:len(package) - (node.level - 1)]
                    base = ".".join([*package, base] if base else package)
                # `from package import module` loads that module; `from module import name` the module itself.
                targets = [_target(f"{base}.{alias.name}", modules) if f"{base}.{alias.name}" in modules
                           else _target(base, modules) for alias in node.names]
            for target in targets:
                if target is not None and target != name:
                    edges.setdefault(target, node.lineno)
        graph[name] = edges
    return graph


def _cycles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """One cycle through each strongly connected component of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in graph.get(node, {}):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return [_one_cycle(graph, set(component), component[0]) for component in components]


def _one_cycle(graph: dict[str, dict[str, int]], component: set[str], start: str) -> list[str]:
    """The shortest path from `start` back to itself inside `component` (breadth first)."""
    paths = {start: [start]}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for other in sorted(graph[node]):
            if other == start:
                return [*paths[node], start]
            if other in component and other not in paths:
                paths[other] = [*paths[node], other]
                queue.append(other)
    raise AssertionError(f"no cycle through {start}")  # a strongly connected component always has one


def _describe(graph: dict[str, dict[str, int]], cycle: list[str]) -> str:
    modules = _sources()
    return " -> ".join(
        f"{a} ({modules[a].relative_to(PACKAGE.parent)}:{graph[a][b]})" for a, b in zip(cycle, cycle[1:], strict=False)
    ) + f" -> {cycle[-1]}"


def test_the_cycle_finder_finds_a_function_level_cycle() -> None:
    """The checker itself: a cycle hidden behind a function-level import is found; TYPE_CHECKING imports are not
    edges (a graph written here, since ci_ecs has, by the next test, none to find)."""
    source = ast.parse(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from ci_ecs.c import C\nelse:\n    import ci_ecs.d\n"
        "def f():\n    from ci_ecs import b\n"
    )
    found = {(n.module if isinstance(n, ast.ImportFrom) else n.names[0].name) for n in _imports(source)}
    assert found == {"typing", "ci_ecs", "ci_ecs.d"}
    graph = {"a": {"b": 7}, "b": {"c": 1}, "c": {"a": 3}, "d": {"a": 1}}
    assert _cycles(graph) == [["a", "b", "c", "a"]]


def test_no_import_cycle_among_ci_ecs_modules() -> None:
    graph = import_graph()
    assert "ci_ecs.aws" in graph["ci_ecs.deploy"]  # the graph is read (a module every run imports)
    cycles = _cycles(graph)
    assert not cycles, "import cycles (module (file:line of its import) -> ...):\n" + "\n".join(
        _describe(graph, cycle) for cycle in cycles)


def _functions(blocks: list[Function | Class]) -> Iterator[Function]:
    """Every function, method and closure radon measured, nested ones included."""
    for block in blocks:
        if isinstance(block, Class):
            yield from _functions([*block.methods, *block.inner_classes])
        else:
            yield block
            yield from _functions(block.closures)


def test_no_function_above_complexity_30() -> None:
    measured = []
    too_complex = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for function in _functions(cc_visit(path.read_text())):
            measured.append(function)
            if function.complexity > MAX_COMPLEXITY:
                too_complex.append(f"{path.relative_to(PACKAGE.parent)}:{function.lineno} {function.fullname} "
                                   f"({function.complexity})")
    assert len(measured) > 100  # radon read the package
    assert not too_complex, f"functions above cyclomatic complexity {MAX_COMPLEXITY} (radon):\n" + \
        "\n".join(too_complex)


def test_no_module_over_600_lines() -> None:
    lengths = {path: len(path.read_text().splitlines()) for path in sorted(PACKAGE.rglob("*.py"))}
    assert len(lengths) > 20
    too_long = [f"{path.relative_to(PACKAGE.parent)}: {lines} lines" for path, lines in lengths.items()
                if lines > MAX_LINES]
    assert not too_long, f"modules over {MAX_LINES} lines:\n" + "\n".join(too_long)

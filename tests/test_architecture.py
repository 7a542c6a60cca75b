"""The package map of docs/architecture.md, checked over the import graph.

servicekit is shared by the three services and imports none of them; the services import
servicekit and never each other; the demo may import what it demonstrates. Imports
inside functions count (a late import is still a dependency); imports under
TYPE_CHECKING are for annotations only and do not.
"""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import ROOT

PACKAGES = ("servicekit", "exporter", "enhancer", "reporter", "demo")
MAY_IMPORT = {
    "servicekit": set(),
    "exporter": {"servicekit"},
    "enhancer": {"servicekit"},
    "reporter": {"servicekit"},
    "demo": {"servicekit", "exporter", "enhancer", "reporter"},
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _type_checking_only(node: ast.If) -> bool:
    return isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"


def imports_of(path: Path) -> set[str]:
    """Every module this file imports, at any depth, except under `if TYPE_CHECKING:`."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _type_checking_only(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def graph() -> dict[str, set[str]]:
    modules = {module_name(p): p for package in PACKAGES for p in (ROOT / package).rglob("*.py")}
    return {name: {m for m in imports_of(path) if m in modules} for name, path in modules.items()}


def test_services_import_servicekit_and_never_each_other():
    wrong = sorted(
        f"{module} imports {target}"
        for module, targets in graph().items()
        for target in targets
        if target.split(".")[0] != module.split(".")[0] and target.split(".")[0] not in MAY_IMPORT[module.split(".")[0]]
    )
    assert wrong == []


def cycle_through(module: str, edges: dict[str, set[str]]) -> list[str] | None:
    """A chain of imports leading from `module` back to itself, or None."""
    parents: dict[str, str] = {}
    stack = [module]
    while stack:
        current = stack.pop()
        for target in sorted(edges.get(current, ())):
            if target == module:
                chain = [current]
                while chain[-1] != module:
                    chain.append(parents[chain[-1]])
                return [module, *reversed(chain[:-1]), module]
            if target not in parents:
                parents[target] = current
                stack.append(target)
    return None


def test_no_module_reaches_itself_through_its_imports():
    edges = graph()
    cycles = [cycle_through(m, edges) for m in sorted(edges)]
    assert [" -> ".join(c) for c in cycles if c] == []


def test_the_graph_sees_the_imports_the_rules_are_about():
    # the checks above pass on an empty graph: make sure it holds the edges they judge
    edges = graph()
    assert "servicekit.config" in edges["enhancer.config"]  # from servicekit.config import ...
    assert "exporter.check_database" in edges["exporter.cli"]  # imported inside a function
    assert "enhancer.lease" not in edges["enhancer.engine"]  # only under TYPE_CHECKING
    assert "enhancer.state" in edges["enhancer.lease"]
    assert cycle_through("a", {"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert cycle_through("a", {"a": {"b"}, "b": {"c"}}) is None

"""Imports point down: editor -> engine <- packs.

Every module of the engine (``nodegraph/``) and of the built-in packs (``nodes/``) is parsed with
``ast`` (nothing is imported or run); every import statement that can run counts, at module
level or inside a function, with relative imports resolved against the module's package. Imports
under ``if TYPE_CHECKING:`` never run (they only name types for a type checker) and are not
counted. ``from package import name`` is an import of the module ``package.name`` when that is a
module, else of ``package`` itself. A package's ``__init__`` is not counted as imported by its
submodules (Python runs it first, but that is how packages work, not a dependency one chose).
"""
from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx
import pytest

ROOT = Path(__file__).resolve().parent.parent
ENGINE, PACKS = "nodegraph", "nodes"
PUBLIC = "nodegraph"            # the one module a node pack may import from the engine


def _module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def project_modules(root: Path = ROOT) -> dict[str, Path]:
    out: dict[str, Path] = {}
    for top in (ENGINE, PACKS):
        for path in sorted((root / top).rglob("*.py")):
            if "__pycache__" not in path.parts:
                out[_module_name(path, root)] = path
    return out


def _shadowed(package: Path) -> set[str]:
    """Names a package's ``__init__`` binds to something other than its submodule of that name
    (``from .node import node`` makes ``from nodegraph import node`` the decorator, not the module)."""
    init = package / "__init__.py"
    if not init.is_file():
        return set()
    out: set[str] = set()
    for stmt in ast.parse(init.read_text(encoding="utf-8")).body:
        if isinstance(stmt, ast.ImportFrom):
            for alias in stmt.names:
                if not (stmt.level == 1 and stmt.module is None and alias.asname in (None, alias.name)):
                    out.add(alias.asname or alias.name)
        elif isinstance(stmt, (ast.FunctionDef, ast.ClassDef)):
            out.add(stmt.name)
        elif isinstance(stmt, ast.Assign):
            out.update(t.id for t in stmt.targets if isinstance(t, ast.Name))
    return out


def _type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or \
        (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _runnable(tree: ast.AST):
    """Every node of ``tree`` except what sits under ``if TYPE_CHECKING:`` (its ``else`` counts)."""
    stack = [tree]
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, ast.If) and _type_checking(node.test):
            stack.extend(node.orelse)
            stack.append(node.test)
        else:
            stack.extend(ast.iter_child_nodes(node))


def imports_of(name: str, path: Path, modules: dict[str, Path]) -> list[tuple[str, int]]:
    """The project modules ``name`` imports, with the line of each import."""
    is_package = path.name == "__init__.py"
    package = name if is_package else name.rpartition(".")[0]
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: list[tuple[str, int]] = []

    def add(target: str, line: int) -> None:
        # the longest prefix that is a project module (``import nodes.media.x`` -> nodes.media)
        while target and target not in modules:
            target = target.rpartition(".")[0]
        if target and target != name:
            found.append((target, line))

    for node in _runnable(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                add(alias.name, node.lineno)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                if node.level > 1:
                    base = base[:len(base) - (node.level - 1)]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            if source.split(".")[0] not in (ENGINE, PACKS):
                continue
            shadowed = _shadowed(modules[source].parent) if modules.get(source, Path()).name == "__init__.py" else set()
            for alias in node.names:
                sub = f"{source}.{alias.name}"
                add(sub if sub in modules and alias.name not in shadowed else source, node.lineno)
    return found


def import_graph(root: Path = ROOT) -> tuple[nx.DiGraph, dict[str, Path]]:
    modules = project_modules(root)
    g = nx.DiGraph()
    g.add_nodes_from(modules)
    for name, path in modules.items():
        for target, line in imports_of(name, path, modules):
            lines = g.edges[name, target]["lines"] if g.has_edge(name, target) else []
            g.add_edge(name, target, lines=sorted({*lines, line}))
    return g, modules


@pytest.fixture(scope="module")
def graph():
    return import_graph()


def _where(g: nx.DiGraph, modules: dict[str, Path], a: str, b: str) -> str:
    rel = modules[a].relative_to(ROOT)
    return f"{rel}:{','.join(map(str, g.edges[a, b]['lines']))} imports {b}"


def _in(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def test_the_parser_sees_every_kind_of_import(tmp_path):
    """The checker itself: relative, lazy and ``from package import module`` imports all count."""
    pkg = tmp_path / "nodegraph"
    (pkg / "editor").mkdir(parents=True)
    (tmp_path / "nodes").mkdir()
    (pkg / "__init__.py").write_text("from .node import node\nfrom . import hashing\n")
    (pkg / "hashing.py").write_text("")
    (pkg / "node.py").write_text("def node(): pass\n")
    (pkg / "cli.py").write_text("def main():\n    from nodes.media import x\n")
    (pkg / "editor" / "__init__.py").write_text("")
    (pkg / "editor" / "app.py").write_text("from .. import cli\nfrom . import view\n")
    (pkg / "editor" / "view.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .. import cli\n"
                                            "def f():\n    from .app import g\n")
    (tmp_path / "nodes" / "__init__.py").write_text("")
    (tmp_path / "nodes" / "media.py").write_text("from nodegraph import node, hashing\n"
                                                 "from nodegraph.node import node\n")
    modules = project_modules(tmp_path)
    edges = {name: sorted(t for t, _ in imports_of(name, path, modules)) for name, path in modules.items()}
    assert edges["nodegraph"] == ["nodegraph.hashing", "nodegraph.node"]
    assert edges["nodegraph.cli"] == ["nodes.media"]
    assert edges["nodegraph.editor.app"] == ["nodegraph.cli", "nodegraph.editor.view"]
    assert edges["nodegraph.editor.view"] == ["nodegraph.editor.app"]
    assert edges["nodes.media"] == ["nodegraph", "nodegraph.hashing", "nodegraph.node"]


def test_the_engine_imports_no_node_pack(graph):
    g, modules = graph
    bad = [_where(g, modules, a, b) for a, b in g.edges if _in(a, ENGINE) and _in(b, PACKS)]
    assert not bad, "the engine (nodegraph/) must not import a node pack:\n" + "\n".join(bad)


def test_the_cli_imports_no_node_pack(graph):
    g, modules = graph
    bad = [_where(g, modules, a, b) for a, b in g.edges if _in(a, "nodegraph.cli") and _in(b, PACKS)]
    assert not bad, "the CLI must not import a node pack:\n" + "\n".join(bad)


def test_the_editor_does_not_import_the_cli(graph):
    g, modules = graph
    bad = [_where(g, modules, a, b) for a, b in g.edges if _in(a, "nodegraph.editor") and _in(b, "nodegraph.cli")]
    assert not bad, "the editor must not import the CLI (shared code lives in the engine):\n" + "\n".join(bad)


def test_packs_import_only_the_public_module_of_the_engine(graph):
    g, modules = graph
    bad = [_where(g, modules, a, b) for a, b in g.edges if _in(a, PACKS) and _in(b, ENGINE) and b != PUBLIC]
    assert not bad, (f"node packs import from the engine only `{PUBLIC}` (from {PUBLIC} import ...):\n"
                     + "\n".join(bad))


def test_no_modules_import_each_other_in_a_circle(graph):
    g, modules = graph
    circles = [sorted(c) for c in nx.strongly_connected_components(g) if len(c) > 1]
    circles += [[a] for a, b in nx.selfloop_edges(g)]
    msg = []
    for c in sorted(circles):
        cycle = nx.find_cycle(g.subgraph(c))
        msg.append(f"{len(c)} modules in a circle: {', '.join(c)}\n  for example: "
                   + " -> ".join([cycle[0][0]] + [b for _, b in cycle]) + "\n  "
                   + "\n  ".join(_where(g, modules, a, b) for a, b in cycle))
    assert not circles, "\n".join(msg)

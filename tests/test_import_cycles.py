"""No import circles between statetrack's files, counting imports inside functions too.

A circle (a imports b, b imports a, perhaps through others) means neither file can be understood,
tested or moved alone; a lazy import inside a function only hides it until run time. The graph
is read from the source with ``ast``: ``import statetrack.x.y`` and ``from statetrack.x import y``
(an edge to the submodule when y is one, else to the package), relative imports resolved.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"


def module_files(root: Path) -> dict[str, Path]:
    """Dotted module name -> file, for every .py under root/statetrack."""
    out = {}
    for path in (root / "statetrack").rglob("*.py"):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def import_graph(root: Path) -> dict[str, set[str]]:
    """Module -> the statetrack modules it imports anywhere in its file."""
    files = module_files(root)
    graph = {name: set() for name in files}
    for name, path in files.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            targets = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")
                    anchor = anchor[:len(anchor) - (node.level - 1)]
                    base = ".".join(anchor + ([base] if base else []))
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in files else base for a in node.names]
            for t in targets:
                while t and t not in files:          # `import statetrack.a.b.name` -> the module part
                    t = t.rpartition(".")[0]
                if t and t != name:
                    graph[name].add(t)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), each sorted."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(out)


def test_statetrack_has_no_import_cycles():
    found = cycles(import_graph(SRC))
    assert found == [], "import circles: " + "; ".join(" <-> ".join(c) for c in found)


@pytest.mark.parametrize("files, expected", [
    pytest.param({"a.py": "from statetrack import b\n", "b.py": "def f():\n    import statetrack.a\n"},
                 [["statetrack.a", "statetrack.b"]], id="lazy-import-closes-a-circle"),
    pytest.param({"a.py": "from .b import x\n", "b.py": "from statetrack.c import y\n", "c.py": "from . import a\n"},
                 [["statetrack.a", "statetrack.b", "statetrack.c"]], id="relative-three-way"),
    pytest.param({"a.py": "from statetrack import b\n", "b.py": "import numpy\n"}, [], id="no-circle"),
])
def test_the_detector_finds_circles(tmp_path, files, expected):
    (tmp_path / "statetrack").mkdir()
    (tmp_path / "statetrack" / "__init__.py").write_text("")
    for name, text in files.items():
        (tmp_path / "statetrack" / name).write_text(text)
    assert cycles(import_graph(tmp_path)) == expected

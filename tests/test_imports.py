"""The package's import graph, read from the source: no cycles, no private names across modules.

Every import counts, including those inside functions (a deferred import still ties two
modules together). A package's ``__init__`` re-exporting its own submodules, and a submodule
importing its own package's public names, are not cycles. Same analysis as the project's
``tools/import_graph.py``, kept here so the test suite stands on its own.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "crm_research"


def _module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _resolve(mod: str, is_pkg: bool, node: ast.ImportFrom) -> str:
    if node.level == 0:
        return node.module or ""
    base = mod.split(".") if is_pkg else mod.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)] if node.level > 1 else base
    return ".".join(base + ([node.module] if node.module else []))


def import_graph(root: Path) -> tuple[dict[str, set[str]], list[str]]:
    """``({module: {imported package modules}}, ["a imports b._name", ...])`` of the package at ``root``."""
    top = root.name
    files = {_module_name(root, p): p for p in root.rglob("*.py")}
    edges: dict[str, set[str]] = {m: set() for m in files}
    private: set[str] = set()
    for mod, path in files.items():
        is_pkg = path.name == "__init__.py"
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        for node in ast.walk(tree):
            targets: list[tuple[str, str | None]] = []
            if isinstance(node, ast.ImportFrom):
                base = _resolve(mod, is_pkg, node)
                for a in node.names:
                    cand = f"{base}.{a.name}"
                    targets.append((cand, None) if cand in files else (base, a.name))
            elif isinstance(node, ast.Import):
                targets = [(a.name, None) for a in node.names]
            for tgt, name in targets:
                while tgt and tgt not in files and "." in tgt:
                    tgt = tgt.rsplit(".", 1)[0]
                if not tgt.startswith(top) or tgt not in files or tgt == mod:
                    continue
                if is_pkg and tgt.startswith(mod + "."):
                    continue  # a package re-exporting its own submodules
                if files[tgt].name == "__init__.py" and mod.startswith(tgt + "."):
                    continue  # a submodule importing its own package's public names
                edges[mod].add(tgt)
                if name and name.startswith("_") and not name.startswith("__"):
                    private.add(f"{mod} imports {tgt}.{name}")
    return edges, sorted(private)


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    counter = 0
    for start in edges:
        if start in index:
            continue
        work = [(start, iter(sorted(edges[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on.add(start)
        while work:
            v, it = work[-1]
            w = next(it, None)
            if w is not None:
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(sorted(edges[w]))))
                elif w in on:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    x = stack.pop()
                    on.discard(x)
                    comp.append(x)
                    if x == v:
                        break
                if len(comp) > 1:
                    out.append(sorted(comp))
    return out


# --------------------------------------------------------------------------- the analysis itself
def _write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")
    return root


def test_analysis_finds_a_cycle_hidden_in_a_function(tmp_path):
    root = _write(tmp_path / "pkg", {
        "__init__.py": "from . import a\n",
        "a.py": "from .b import g\n",
        "b.py": "def g():\n    from .c import h\n    return h()\n",
        "c.py": "def h():\n    from . import a\n",
    })
    edges, private = import_graph(root)
    assert cycles(edges) == [["pkg.a", "pkg.b", "pkg.c"]]
    assert private == []


def test_analysis_finds_private_names_and_ignores_own_package(tmp_path):
    root = _write(tmp_path / "pkg", {
        "__init__.py": "from .a import f\nfrom .sub import x\n",
        "a.py": "from .sub.x import _secret\nimport pkg.sub.x\nfrom . import __version__\n",
        "sub/__init__.py": "from .x import public\n",
        "sub/x.py": "from . import public\nfrom .. import a\n_secret = 1\npublic = 2\n",
    })
    edges, private = import_graph(root)
    assert private == ["pkg.a imports pkg.sub.x._secret"]
    assert "pkg" not in edges["pkg.a"]                   # dunder from the package: not an edge to itself
    assert cycles(edges) == [["pkg.a", "pkg.sub.x"]]     # a -> sub.x -> a
    assert "pkg.sub" not in edges["pkg.sub.x"]           # a submodule importing its package: no edge


def test_analysis_accepts_a_clean_tree(tmp_path):
    root = _write(tmp_path / "pkg", {
        "__init__.py": "from .a import f\n",
        "a.py": "from .core import g\n\ndef f():\n    from .core import h\n",
        "core.py": "def g(): ...\ndef h(): ...\n",
    })
    edges, private = import_graph(root)
    assert cycles(edges) == [] and private == []
    assert edges["pkg.a"] == {"pkg.core"}


# --------------------------------------------------------------------------- the package
@pytest.fixture(scope="module")
def package_graph():
    assert SRC.is_dir(), SRC
    return import_graph(SRC)


def test_no_import_cycles(package_graph):
    edges, _ = package_graph
    found = cycles(edges)
    assert not found, "import cycles:\n" + "\n".join(" <-> ".join(c) for c in found)


def test_no_private_names_across_modules(package_graph):
    _, private = package_graph
    assert not private, "private names imported across modules:\n" + "\n".join(private)


def test_formatting_layer_is_a_leaf(package_graph):
    edges, _ = package_graph
    assert edges["crm_research.reporting.format"] == set()


def test_privacy_gate_imports_its_detector(package_graph):
    edges, _ = package_graph
    assert "crm_research.privacy" in edges["crm_research.reporting.export"]

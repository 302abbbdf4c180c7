"""Thin notebooks: every notebook in notebooks/ is a narrative of package calls.

No ``def`` or ``class`` (and no lambda bound to a name, a ``def`` in disguise): logic lives in
tested package functions. No hard-coded normal quantile (1.96): intervals follow the
notebook's ``alpha`` through a package function.
"""
from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
ALL = sorted(p.name for p in NOTEBOOKS.glob("*.ipynb"))


def code_of(nb: dict) -> list[tuple[int, str]]:
    """``[(cell index, code)]`` of the code cells, IPython magics and shell lines blanked."""
    out = []
    for i, c in enumerate(nb["cells"]):
        if c["cell_type"] != "code":
            continue
        src = "".join(c["source"]) if isinstance(c["source"], list) else c["source"]
        out.append((i, "\n".join("" if ln.lstrip().startswith(("%", "!")) else ln for ln in src.split("\n"))))
    return out


def logic_in(code: str) -> list[str]:
    """What makes a cell more than a narrative of calls."""
    found = []
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            found.append(f"line {node.lineno}: def {node.name}")
        elif isinstance(node, ast.ClassDef):
            found.append(f"line {node.lineno}: class {node.name}")
        elif isinstance(node, (ast.Assign, ast.AnnAssign)) and isinstance(node.value, ast.Lambda):
            found.append(f"line {node.lineno}: a lambda bound to a name")
        elif isinstance(node, ast.Constant) and isinstance(node.value, float) and abs(node.value - 1.96) < 0.001:
            found.append(f"line {node.lineno}: hard-coded {node.value} (use the alpha parameter)")
    return found


def test_every_notebook_is_checked():
    assert len(ALL) >= 7, ALL


@pytest.mark.parametrize("name", ALL)
def test_notebook_is_thin(name):
    nb = json.loads((NOTEBOOKS / name).read_text(encoding="utf-8"))
    problems = [f"cell {i}, {p}" for i, code in code_of(nb) for p in logic_in(code)]
    assert not problems, f"{name} holds logic that belongs in the package:\n" + "\n".join(problems)


@pytest.mark.parametrize("code, expected", [
    ("def f(x):\n    return x", ["line 1: def f"]),
    ("class A:\n    pass", ["line 1: class A"]),
    ("pct = lambda x: 100 * x", ["line 1: a lambda bound to a name"]),
    ("lo = est - 1.96 * se", ["line 1: hard-coded 1.96 (use the alpha parameter)"]),
    ("t = df.assign(y=lambda d: d.x)\nz = 1.5 * se", []),
])
def test_the_check_itself(code, expected):
    assert logic_in(code) == expected

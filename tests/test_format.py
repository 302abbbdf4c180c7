"""The one formatting layer (crm_research.reporting.format): p values, stars, numbers,
intervals, Markdown and HTML tables. Expected texts follow APA 7th ed., written by hand."""
from __future__ import annotations

import ast
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from crm_research import reporting
from crm_research.reporting.format import (format_ci, format_number, format_p, html_table, is_missing,
                                           markdown_table, stars)

SRC = Path(__file__).resolve().parents[1] / "src" / "crm_research"


@pytest.mark.parametrize("p, expected", [
    (0.9999, "> .999"), (0.9995, "> .999"), (0.9994, ".999"), (1.0, "> .999"),
    (0.0004, "< .001"), (0.0, "< .001"), (0.001, ".001"), (0.0123, ".012"), (0.05, ".050"),
    (float("nan"), "\u2014"), (None, "\u2014"), (pd.NA, "\u2014"), (np.float64(0.5), ".500"),
])
def test_format_p_apa(p, expected):
    assert format_p(p) == expected


def test_format_p_plain_prefix_and_decimals():
    assert format_p(0.0123, "plain") == "0.012"
    assert format_p(0.0004, "plain") == "< 0.001"
    assert format_p(0.9999, style="plain") == "> 0.999"
    assert format_p(0.9999, prefix=True) == "p > .999"
    assert format_p(0.0004, prefix=True) == "p < .001"
    assert format_p(0.2, prefix=True) == "p = .200"
    assert format_p(0.00004, decimals=4) == "< .0001"
    assert format_p(float("nan"), missing="") == ""


@pytest.mark.parametrize("bad", [-0.01, 1.01, float("inf")])
def test_format_p_rejects_values_outside_unit_interval(bad):
    with pytest.raises(ValueError, match="outside"):
        format_p(bad)


def test_format_p_rejects_unknown_style():
    with pytest.raises(ValueError, match="style"):
        format_p(0.5, style="latex")


def test_stars_boundaries():
    assert [stars(p) for p in (0.0009, 0.001, 0.0099, 0.01, 0.049, 0.05, 0.5)] == ["***", "**", "**", "*", "*", "", ""]
    assert stars(None) == "" and stars(float("nan")) == ""
    assert stars(0.08, levels=((0.1, "\u2020"),)) == "\u2020"


@pytest.mark.parametrize("x, kw, expected", [
    (0.9712, dict(decimals=2, bounded=True), ".97"),
    (-0.234, dict(decimals=2, bounded=True), "\u2212.23"),
    (0.999, dict(decimals=2, bounded=True), "1.00"),       # rounds to 1: integer part kept
    (1.5, dict(decimals=2, bounded=True), "1.50"),         # HTMT may exceed 1
    (0.5, dict(decimals=2), "0.50"),
    (-0.001, dict(decimals=2), "0.00"),                    # no negative zero
    (-1234.5, dict(decimals=1), "\u22121,234.5"),
    (1500, dict(), "1,500"),
    (np.int64(-3), dict(), "\u22123"),
    (True, dict(), "yes"),
    (float("inf"), dict(), "\u221e"),
    (float("nan"), dict(missing=""), ""),
    ("n/a", dict(), "n/a"),
])
def test_format_number(x, kw, expected):
    assert format_number(x, **kw) == expected


def test_format_ci():
    assert format_ci(0.123, 0.456, bounded=True) == "[.12, .46]"
    assert format_ci(-1.5, 2.25, 2) == "[\u22121.50, 2.25]"
    assert format_ci(float("nan"), None) == "\u2014"
    assert format_ci(0.1, float("nan"), 1) == "[0.1, \u2014]"


def test_is_missing():
    assert [is_missing(v) for v in (None, pd.NA, pd.NaT, math.nan, np.float32("nan"))] == [True] * 5
    assert [is_missing(v) for v in (0, 0.0, "", "nan", [1])] == [False] * 5


def test_markdown_table_escapes_pipes_and_newlines():
    df = pd.DataFrame({"a|b": ["x|y", "two\nlines"], "v": [1.23456, None]})
    md = markdown_table(df, decimals=3)
    lines = md.split("\n")
    assert lines[0] == "| a\\|b | v |"
    assert lines[1] == "|---|---|"
    assert lines[2] == "| x\\|y | 1.235 |"
    assert lines[3] == "| two lines |  |"
    # every row has exactly as many unescaped separators as the header
    sep = [line.replace("\\|", "").count("|") for line in lines]
    assert len(set(sep)) == 1


def test_markdown_table_index_align_formatters():
    df = pd.DataFrame({"pvalue": [0.0004, 0.2]}, index=pd.Index(["H1", "H2"], name="hypothesis"))
    md = markdown_table(df, index=True, formatters={"pvalue": format_p}, align={"pvalue": "right"})
    assert md.split("\n") == ["| hypothesis | pvalue |", "|---|--:|", "| H1 | < .001 |", "| H2 | .200 |"]
    with pytest.raises(ValueError, match="align"):
        markdown_table(df, align={"pvalue": "middle"})
    with pytest.raises(TypeError, match="DataFrame"):
        markdown_table([1, 2])


def test_markdown_table_empty_frame_has_header_only():
    assert markdown_table(pd.DataFrame(columns=["x", "y"])) == "| x | y |\n|---|---|"


def test_html_table_escapes_and_classes():
    df = pd.DataFrame({"severity": ["error", "info"], "text": ["<script>", "a & b"], "n": [3, np.nan]})
    h = html_table(df, row_class="severity", cell_class=["severity"], table_class="t")
    assert h.startswith('<table class="t"><thead><tr><th>severity</th><th>text</th><th>n</th></tr></thead>')
    assert "&lt;script&gt;" in h and "<script>" not in h and "a &amp; b" in h
    assert '<tr class="error"><td class="error">error</td>' in h
    assert '<td class="num">3.0</td>' in h and "<td></td></tr>" in h     # NaN: empty, no num class
    with pytest.raises(KeyError, match="row_class"):
        html_table(df, row_class="nope")


def test_reexported_from_reporting():
    for name in ("format_p", "format_number", "format_ci", "stars", "markdown_table", "html_table"):
        assert getattr(reporting, name) is globals()[name]


def test_format_is_a_leaf_module():
    """Only stdlib, numpy and pandas: importable without matplotlib or any other package module."""
    tree = ast.parse((SRC / "reporting" / "format.py").read_text(encoding="utf-8"))
    roots = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, "format.py imports a package module"
            roots.add((node.module or "").split(".")[0])
    import sys
    third_party = roots - set(sys.stdlib_module_names)
    assert third_party <= {"numpy", "pandas"}, third_party

"""Stylesheet and the findings table of the response reports (tables come from
:mod:`crm_research.reporting.format`)."""
from __future__ import annotations

import pandas as pd

from ..reporting.format import html_table

CSS = """
body{font-family:"Noto Sans CJK SC","PingFang SC","Microsoft YaHei",Arial,sans-serif;max-width:72em;margin:2em auto;color:#222;line-height:1.4}
h1{font-size:1.5em} h2{font-size:1.15em;border-bottom:1px solid #999;margin-top:1.6em}
table{border-collapse:collapse;margin:.5em 0;font-size:.9em} th,td{border:1px solid #ccc;padding:.25em .5em;text-align:left;vertical-align:top}
th{background:#f0f0f0} td.num{text-align:right}
.error{color:#b00020;font-weight:bold} .warning{color:#a15c00} .info{color:#555}
tr.error td{background:#fdecee} tr.warning td{background:#fff6e5}
code{background:#f5f5f5;padding:0 .2em}
"""


def table_html(df: pd.DataFrame) -> str:
    """A report table; a ``severity`` cell carries its value as CSS class."""
    return html_table(df, cell_class=["severity"])


def findings_html(f: pd.DataFrame, max_rows: int | None) -> str:
    """The findings, one row per finding coloured by its severity, at most ``max_rows`` rows."""
    if f.empty:
        return "<p>None.</p>"
    shown = f if max_rows is None or len(f) <= max_rows else f.iloc[:max_rows]
    out = html_table(shown, row_class="severity", numeric_class=None)
    if len(shown) < len(f):
        out += f"<p>{len(f) - len(shown)} more are in the CSV of findings.</p>"
    return out

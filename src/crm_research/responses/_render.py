"""Markdown and HTML rendering helpers for response reports."""
from __future__ import annotations

import html

import numpy as np
import pandas as pd

CSS = """
body{font-family:"Noto Sans CJK SC","PingFang SC","Microsoft YaHei",Arial,sans-serif;max-width:72em;margin:2em auto;color:#222;line-height:1.4}
h1{font-size:1.5em} h2{font-size:1.15em;border-bottom:1px solid #999;margin-top:1.6em}
table{border-collapse:collapse;margin:.5em 0;font-size:.9em} th,td{border:1px solid #ccc;padding:.25em .5em;text-align:left;vertical-align:top}
th{background:#f0f0f0} td.num{text-align:right}
.error{color:#b00020;font-weight:bold} .warning{color:#a15c00} .info{color:#555}
tr.error td{background:#fdecee} tr.warning td{background:#fff6e5}
code{background:#f5f5f5;padding:0 .2em}
"""


def _cell(v) -> str:
    if v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v)):
        return ""
    return str(v)


def md_table(df: pd.DataFrame) -> str:
    cols = [str(c) for c in df.columns]
    out = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for row in df.itertuples(index=False):
        out.append("| " + " | ".join(_cell(v).replace("|", "\\|").replace("\n", " ") for v in row) + " |")
    return "\n".join(out)


def table_html(df: pd.DataFrame) -> str:
    esc = html.escape
    h = ["<table><thead><tr>" + "".join(f"<th>{esc(str(c))}</th>" for c in df.columns) + "</tr></thead><tbody>"]
    for row in df.itertuples(index=False):
        cells = []
        for c, v in zip(df.columns, row):
            cls = " class='num'" if isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool) else ""
            if c == "severity":
                cls = f" class='{esc(_cell(v))}'"
            cells.append(f"<td{cls}>{esc(_cell(v))}</td>")
        h.append("<tr>" + "".join(cells) + "</tr>")
    h.append("</tbody></table>")
    return "".join(h)


def findings_html(f: pd.DataFrame, max_rows: int | None) -> str:
    if f.empty:
        return "<p>None.</p>"
    esc = html.escape
    shown = f if max_rows is None or len(f) <= max_rows else f.iloc[:max_rows]
    h = ["<table><thead><tr>" + "".join(f"<th>{esc(str(c))}</th>" for c in shown.columns) + "</tr></thead><tbody>"]
    for row in shown.itertuples(index=False):
        d = dict(zip(shown.columns, row))
        sev = esc(_cell(d.get("severity")))
        h.append(f"<tr class='{sev}'>" + "".join(f"<td>{esc(_cell(v))}</td>" for v in row) + "</tr>")
    h.append("</tbody></table>")
    if len(shown) < len(f):
        h.append(f"<p>{len(f) - len(shown)} more are in the CSV of findings.</p>")
    return "".join(h)

"""The one formatting layer: p values, stars, numbers, intervals, Markdown and HTML tables.

Every text the package shows for a number goes through these functions, so a p value of
.9999 reads ``> .999`` in a table, a sentence, a path diagram and a Markdown report alike.
This is a leaf module: it imports only the standard library, numpy and pandas (no
matplotlib), so any module of the package may import it.

APA (7th ed.) conventions:

* quantities that cannot exceed 1 in absolute value (p, r, β, CFI, α ...) are written
  without a leading zero (``.97``) -- ``bounded=True``;
* p values are exact to three decimals, ``< .001`` below and ``> .999`` above that;
* numbers of 1,000 or more get thousands separators, negative numbers a true minus sign;
* a missing value is an em dash.

Examples
--------
>>> format_p(0.0123), format_p(0.0004), format_p(0.9999), stars(0.004)
('.012', '< .001', '> .999', '**')
>>> format_ci(-0.123, 0.456, bounded=True)
'[−.12, .46]'
"""
from __future__ import annotations

import html
import math
import numbers
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

__all__ = ["MINUS", "DASH", "is_missing", "format_number", "format_p", "stars", "format_ci", "format_percent",
           "format_cell", "markdown_table", "html_table"]

MINUS = "\u2212"
DASH = "\u2014"  # empty / not applicable cell

#: Conventional significance levels and their marks, strictest first.
STAR_LEVELS: tuple[tuple[float, str], ...] = ((0.001, "***"), (0.01, "**"), (0.05, "*"))

_P_STYLES = ("apa", "plain")


def is_missing(x: Any) -> bool:
    """True for ``None``, ``pd.NA``, ``pd.NaT`` and NaN; False for anything else.

    Parameters
    ----------
    x : object
        Any value (numbers, strings, ``None`` ...).

    Returns
    -------
    bool

    Examples
    --------
    >>> is_missing(float("nan")), is_missing(None), is_missing(0.0), is_missing("n/a")
    (True, True, False, False)
    """
    if x is None or x is pd.NA or x is pd.NaT:
        return True
    try:
        return bool(isinstance(x, numbers.Real) and math.isnan(x))
    except (TypeError, ValueError):
        return False


def format_number(x: Any, decimals: int = 2, *, bounded: bool = False, thousands: bool = True,
                  minus: str = MINUS, missing: str = DASH) -> str:
    """Format one number APA-style.

    Parameters
    ----------
    x : number or None
        The value; ``None``/NaN give ``missing``; booleans give ``yes``/``no``; integers are
        shown without decimals; anything that is not a number is returned as ``str(x)``.
    decimals : int
        Digits after the decimal point.
    bounded : bool
        The quantity cannot exceed 1 in absolute value (p, r, β, CFI, α ...): drop the
        leading zero (``.97``). Values of 1 or more keep their integer part.
    thousands : bool
        Group digits of numbers of 1,000 or more with commas.
    minus : str
        Character for negative numbers (a true minus sign by default).
    missing : str
        Text for missing values (an em dash by default).

    Returns
    -------
    str

    Examples
    --------
    >>> format_number(0.9712, 2, bounded=True)
    '.97'
    >>> format_number(-0.234, 2, bounded=True)
    '−.23'
    >>> format_number(12345.678, 1)
    '12,345.7'
    >>> format_number(-0.001, 2)
    '0.00'
    >>> format_number(float("nan"))
    '—'
    """
    if is_missing(x):
        return missing
    if isinstance(x, (bool, np.bool_)):
        return "yes" if x else "no"
    if isinstance(x, numbers.Integral):
        s = f"{int(x):,}" if thousands else str(int(x))
        return s.replace("-", minus)
    try:
        v = float(x)
    except (TypeError, ValueError):
        return str(x)
    if math.isinf(v):
        return ("" if v > 0 else minus) + "\u221e"
    s = f"{abs(v):,.{decimals}f}" if thousands else f"{abs(v):.{decimals}f}"
    negative = v < 0 and any(ch not in "0.," for ch in s)  # -0.001 -> "0.00", no minus
    if bounded and s.startswith("0.") and decimals > 0:
        s = s[1:]
    return (minus if negative else "") + s


def format_p(p: Any, style: str = "apa", *, decimals: int = 3, missing: str = DASH,
             prefix: bool = False) -> str:
    """Format a p value: exact to ``decimals``, ``< .001`` below and ``> .999`` above that.

    Parameters
    ----------
    p : float or None
        The p value, in [0, 1]; ``None``/NaN give ``missing``.
    style : {"apa", "plain"}
        ``"apa"``: no leading zero (``.012``); ``"plain"``: with it (``0.012``).
    decimals : int
        Digits shown (3 by default, so the floor is ``< .001``).
    missing : str
        Text for a missing p value (an em dash by default).
    prefix : bool
        The in-text form: ``p = .012``, ``p < .001``.

    Returns
    -------
    str

    Raises
    ------
    ValueError
        ``p`` outside [0, 1] or an unknown ``style``.

    Examples
    --------
    >>> format_p(0.0004), format_p(0.0123), format_p(0.9999), format_p(float("nan"))
    ('< .001', '.012', '> .999', '—')
    >>> format_p(0.05, prefix=True), format_p(0.0123, "plain")
    ('p = .050', '0.012')
    """
    if style not in _P_STYLES:
        raise ValueError(f"format_p: style must be one of {_P_STYLES}, got {style!r}")
    if is_missing(p):
        return missing
    p = float(p)
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"format_p: p value {p} outside [0, 1]")
    bounded = style == "apa"
    floor = 10.0 ** -decimals
    if p < floor:
        s = "< " + format_number(floor, decimals, bounded=bounded)
    elif p >= 1 - floor / 2:
        s = "> " + format_number(1 - floor, decimals, bounded=bounded)
    else:
        s = format_number(p, decimals, bounded=bounded)
    if prefix:
        return "p " + s if s[0] in "<>" else "p = " + s
    return s


def stars(p: Any, levels: Sequence[tuple[float, str]] = STAR_LEVELS) -> str:
    """Significance marks: ``***`` for p < .001, ``**`` for p < .01, ``*`` for p < .05.

    Parameters
    ----------
    p : float or None
        The p value; missing gives ``""``.
    levels : sequence of (cut, mark)
        Strictest first; the first ``cut`` that ``p`` is below gives its ``mark``.

    Returns
    -------
    str
        The mark, or ``""`` when ``p`` is not below any cut.

    Examples
    --------
    >>> stars(0.0004), stars(0.0099), stars(0.049), stars(0.05), stars(float("nan"))
    ('***', '**', '*', '', '')
    """
    if is_missing(p):
        return ""
    for cut, mark in levels:
        if float(p) < cut:
            return mark
    return ""


def format_ci(lower: Any, upper: Any, decimals: int = 2, *, bounded: bool = False,
              missing: str = DASH) -> str:
    """Format a confidence interval as ``[lower, upper]``.

    Parameters
    ----------
    lower, upper : float or None
        The limits (``ci.lower``, ``ci.upper``); both missing give ``missing``.
    decimals : int
        Digits after the decimal point.
    bounded : bool
        No leading zero (correlations, standardized coefficients ...).
    missing : str
        Text when both limits are missing.

    Returns
    -------
    str

    Examples
    --------
    >>> format_ci(0.123, 0.456, bounded=True)
    '[.12, .46]'
    >>> format_ci(-1.5, 2.25)
    '[−1.50, 2.25]'
    """
    if is_missing(lower) and is_missing(upper):
        return missing
    return (f"[{format_number(lower, decimals, bounded=bounded)}, "
            f"{format_number(upper, decimals, bounded=bounded)}]")


def format_percent(x: Any, decimals: int = 1, *, missing: str = "n/a") -> str:
    """Format a share (0.123) as a percentage (``12.3%``).

    Parameters
    ----------
    x : float or None
        The share; ``None``/NaN give ``missing``.
    decimals : int
        Digits after the decimal point.
    missing : str
        Text for a missing share.

    Returns
    -------
    str

    Examples
    --------
    >>> format_percent(0.1234), format_percent(1), format_percent(None), format_percent(-0.05, 0)
    ('12.3%', '100.0%', 'n/a', '−5%')
    """
    if is_missing(x):
        return missing
    return format_number(100.0 * float(x), decimals) + "%"


def format_cell(v: Any, *, decimals: int | None = None, missing: str = "") -> str:
    """Text of one table cell for :func:`markdown_table` and :func:`html_table`.

    Parameters
    ----------
    v : object
        The value.
    decimals : int, optional
        Floats are written with this many decimals (plain: ``-`` sign, no thousands
        separator, so the text stays machine-readable); ``None`` writes ``str(v)``.
    missing : str
        Text for ``None``/NaN/``pd.NA``.

    Returns
    -------
    str

    Examples
    --------
    >>> format_cell(0.12345, decimals=3), format_cell(None), format_cell(7, decimals=3)
    ('0.123', '', '7')
    """
    if is_missing(v):
        return missing
    if decimals is not None and isinstance(v, (float, np.floating)):
        return f"{float(v):.{decimals}f}"
    return str(v)


def _cells(df: pd.DataFrame, index: bool, decimals: int | None, missing: str,
           formatters: Mapping[Any, Callable[[Any], str]] | None) -> tuple[list[str], list[list[str]], list[list[Any]]]:
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"expected a pandas DataFrame, got {type(df).__name__}")
    formatters = dict(formatters or {})
    cols = list(df.columns)
    headers = ([str(df.index.name or "")] if index else []) + [str(c) for c in cols]
    rows, raw = [], []
    for idx, values in zip(df.index, df.itertuples(index=False, name=None)):
        texts = [format_cell(idx, missing=missing)] if index else []
        for c, v in zip(cols, values):
            f = formatters.get(c)
            texts.append(f(v) if f is not None else format_cell(v, decimals=decimals, missing=missing))
        rows.append(texts)
        raw.append(([idx] if index else []) + list(values))
    return headers, rows, raw


_MD_ALIGN = {None: "---", "left": ":--", "right": "--:", "center": ":-:"}


def _md_escape(s: str) -> str:
    return s.replace("|", "\\|").replace("\r\n", " ").replace("\n", " ")


def markdown_table(df: pd.DataFrame, *, index: bool = False, decimals: int | None = None,
                   missing: str = "", formatters: Mapping[Any, Callable[[Any], str]] | None = None,
                   align: Mapping[Any, str] | None = None) -> str:
    """A DataFrame as a GitHub-flavoured Markdown table.

    Parameters
    ----------
    df : pandas.DataFrame
        The table; column names become the header.
    index : bool
        Include the index as the first column (headed by the index name).
    decimals : int, optional
        Write floats with this many decimals; ``None`` writes ``str(value)``.
    missing : str
        Text for missing cells.
    formatters : dict, optional
        Column -> function giving the cell text (e.g. ``{"pvalue": format_p}``); wins over
        ``decimals``.
    align : dict, optional
        Column -> ``"left"``, ``"right"`` or ``"center"``.

    Returns
    -------
    str
        The table, one line per row, no trailing newline. ``|`` inside cells is escaped as
        ``\\|`` and line breaks become spaces, so a cell can never break the table.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"path": ["a|b", "c"], "est": [0.12345, float("nan")]})
    >>> print(markdown_table(df, decimals=2))
    | path | est |
    |---|---|
    | a\\|b | 0.12 |
    | c |  |
    >>> print(markdown_table(df.set_index("path"), index=True, formatters={"est": format_number},
    ...                      align={"est": "right"}, missing="—"))
    | path | est |
    |---|--:|
    | a\\|b | 0.12 |
    | c | — |
    """
    headers, rows, _ = _cells(df, index, decimals, missing, formatters)
    align = dict(align or {})
    bad = {k: v for k, v in align.items() if v not in ("left", "right", "center")}
    if bad:
        raise ValueError(f"markdown_table: align must be 'left', 'right' or 'center', got {bad}")
    keys = ([None] if index else []) + list(df.columns)
    out = ["| " + " | ".join(_md_escape(h) for h in headers) + " |",
           "|" + "|".join(_MD_ALIGN[align.get(k)] for k in keys) + "|"]
    for r in rows:
        out.append("| " + " | ".join(_md_escape(c) for c in r) + " |")
    return "\n".join(out)


def html_table(df: pd.DataFrame, *, index: bool = False, decimals: int | None = None,
               missing: str = "", formatters: Mapping[Any, Callable[[Any], str]] | None = None,
               numeric_class: str | None = "num", row_class: Any = None,
               cell_class: Iterable[Any] = (), table_class: str | None = None) -> str:
    """A DataFrame as an HTML ``<table>`` (escaped; no styles of its own).

    Parameters
    ----------
    df : pandas.DataFrame
        The table; column names become the header.
    index : bool
        Include the index as the first column.
    decimals, missing, formatters :
        As in :func:`markdown_table`.
    numeric_class : str or None
        CSS class of cells holding a number (right-aligned by the stylesheets); ``None``
        for none.
    row_class : column name, optional
        The value of this column becomes the CSS class of the row (e.g. ``"severity"`` ->
        ``<tr class="error">``).
    cell_class : iterable of column names
        Columns whose cell gets its own value as CSS class.
    table_class : str, optional
        CSS class of the ``<table>``.

    Returns
    -------
    str

    Examples
    --------
    >>> import pandas as pd
    >>> html_table(pd.DataFrame({"item": ["<b>"], "n": [3]}))
    '<table><thead><tr><th>item</th><th>n</th></tr></thead><tbody><tr><td>&lt;b&gt;</td><td class="num">3</td></tr></tbody></table>'
    >>> html_table(pd.DataFrame({"severity": ["error"], "x": [0.5]}), row_class="severity", numeric_class=None)
    '<table><thead><tr><th>severity</th><th>x</th></tr></thead><tbody><tr class="error"><td>error</td><td>0.5</td></tr></tbody></table>'
    """
    esc = html.escape
    headers, rows, raw = _cells(df, index, decimals, missing, formatters)
    keys = ([None] if index else []) + list(df.columns)
    cell_class = set(cell_class)
    if row_class is not None and row_class not in df.columns:
        raise KeyError(f"html_table: row_class column {row_class!r} not in the table (have {list(df.columns)})")
    tcls = f' class="{esc(table_class)}"' if table_class else ""
    out = [f"<table{tcls}><thead><tr>" + "".join(f"<th>{esc(h)}</th>" for h in headers) + "</tr></thead><tbody>"]
    for texts, values in zip(rows, raw):
        rc = ""
        if row_class is not None:
            v = values[keys.index(row_class)]
            rc = "" if is_missing(v) else f' class="{esc(str(v))}"'
        cells = []
        for k, t, v in zip(keys, texts, values):
            classes = []
            if numeric_class and isinstance(v, (numbers.Real, np.number)) and not isinstance(v, (bool, np.bool_)) \
                    and not is_missing(v):
                classes.append(numeric_class)
            if k in cell_class and not is_missing(v):
                classes.append(str(v))
            cls = f' class="{esc(" ".join(classes))}"' if classes else ""
            cells.append(f"<td{cls}>{esc(t)}</td>")
        out.append(f"<tr{rc}>" + "".join(cells) + "</tr>")
    out.append("</tbody></table>")
    return "".join(out)

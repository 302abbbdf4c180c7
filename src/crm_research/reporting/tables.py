"""APA-style tables from tidy DataFrames.

APA (7th ed.) conventions applied here:

* numbers that cannot exceed 1 in absolute value (p, r, β, CFI, TLI, RMSEA, SRMR, α, ω,
  CR, AVE, loadings) are written without a leading zero: ``.97``, ``−.23``;
* p values are exact to three decimals, ``< .001`` below that (never ``.000``);
* numbers of 1,000 or more get thousands separators; negative numbers a true minus sign;
* a table has a bold number line, an italic title above, horizontal rules only, and a
  ``Note.`` below; statistical symbols in headers are italic (Greek letters are not).

:func:`apa_table` formats any DataFrame; :func:`fit_table`, :func:`loadings_table`,
:func:`reliability_table`, :func:`hypotheses_table` and :func:`matrix_table` take the tidy
frames of the analysis modules (lavaan column names: ``lhs, op, rhs, est, se, z, pvalue,
ci.lower, ci.upper, std.all``; fit measures keyed ``chisq, df, pvalue, cfi, ...``) and
return an :class:`APATable`, which renders in a notebook (``_repr_html_``), as HTML
(:meth:`APATable.to_html`), Markdown and plain text. The numbers themselves are never
changed: :attr:`APATable.data` keeps the input values for export.

Examples
--------
>>> import pandas as pd
>>> t = apa_table(pd.DataFrame({"Construct": ["SAT"], "alpha": [0.912], "n": [1500]}),
...               title="Reliability", bounded_cols=["alpha"])
>>> t.rows[0]
['SAT', '.91', '1,500']
"""
from __future__ import annotations

import html
import math
import numbers
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

import pandas as pd

from .format import DASH, format_ci, format_number, format_p, is_missing, markdown_table

#: Column names (lower case) formatted as p values when ``p_cols`` is not given.
P_NAMES = {"p", "pvalue", "p-value", "p_value", "pval", "p-unc", "p-corr", "p_unc", "p_corr",
           "rmsea.pvalue", "p (χ²)", "sig", "sig."}
#: Column names (lower case) formatted without a leading zero when ``bounded_cols`` is not given.
BOUNDED_NAMES = {"r", "r2", "r²", "r-squared", "rho", "β", "beta", "std.all", "std.lv", "std",
                 "cfi", "tli", "nfi", "ifi", "rni", "gfi", "agfi", "rmsea", "rmsea.ci.lower",
                 "rmsea.ci.upper", "srmr", "alpha", "α", "omega", "ω", "cr", "ave", "msv", "asv",
                 "htmt", "loading", "λ", "icc", "kappa", "power", "eta2", "η²", "np2",
                 "cronbach_alpha", "cronbach's α", "mcdonald's ω", "composite reliability"}
#: Header texts set in italics (APA: statistical symbols in Latin letters are italic).
ITALIC_HEADERS = {"p", "z", "t", "F", "SE", "B", "b", "M", "SD", "N", "n", "df", "r", "R²", "d",
                  "U", "W", "H", "k", "Mdn", "CR", "AVE"}


# --------------------------------------------------------------------------- table object
@dataclass
class APATable:
    """A formatted table: header texts, rows of cell texts, title, note.

    Attributes
    ----------
    columns : list of str
        Header texts.
    rows : list of list of str
        Formatted cells (already APA-formatted strings).
    data : pandas.DataFrame
        The unformatted input (values unchanged), for export.
    title, note : str or None
    number : int or None
        ``Table <number>`` line above the title.
    text_cols : set of str
        Columns aligned left (text); the rest align right.
    groups : list of (row index, label)
        Optional group header rows inserted before the given row.
    """

    columns: list[str]
    rows: list[list[str]]
    data: pd.DataFrame
    title: str | None = None
    note: str | None = None
    number: int | None = None
    text_cols: set[str] = field(default_factory=set)
    groups: list[tuple[int, str]] = field(default_factory=list)

    # -- rendering
    def _header_html(self, text: str) -> str:
        esc = html.escape(text)
        if text in ITALIC_HEADERS:
            return f"<i>{esc}</i>"
        for sym in ("p", "z", "SE", "B", "df", "r", "n", "N", "M", "SD"):  # e.g. "p (χ²)"
            if text.startswith(sym + " ") and text[len(sym) + 1:][:1] in "([":
                return f"<i>{html.escape(sym)}</i>{esc[len(sym):]}"
        return esc

    def to_html(self, *, css: bool = True) -> str:
        """HTML fragment: ``<div class="apa">`` with number, title, table and note.

        ``css=True`` embeds the small stylesheet so the fragment looks right on its own.
        """
        from .style import TABLE_CSS

        out = ['<div class="apa">']
        if css:
            out.append(f"<style>{TABLE_CSS}</style>")
        if self.number is not None:
            out.append(f'<p class="apa-number">Table {self.number}</p>')
        if self.title:
            out.append(f'<p class="apa-title">{html.escape(self.title)}</p>')
        out.append("<table><thead><tr>")
        out += [f"<th>{self._header_html(c)}</th>" for c in self.columns]
        out.append("</tr></thead><tbody>")
        groups = dict(self.groups)
        for i, row in enumerate(self.rows):
            if i in groups:
                out.append(f'<tr class="group"><td colspan="{len(self.columns)}">'
                           f"{html.escape(groups[i])}</td></tr>")
            cells = []
            for c, v in zip(self.columns, row):
                cls = ' class="text"' if c in self.text_cols else ""
                cells.append(f"<td{cls}>{html.escape(v)}</td>")
            out.append("<tr>" + "".join(cells) + "</tr>")
        out.append("</tbody></table>")
        if self.note:
            out.append(f'<p class="apa-note"><i>Note.</i>{html.escape(self.note)}</p>')
        out.append("</div>")
        return "".join(out)

    def _repr_html_(self) -> str:
        return self.to_html()

    def to_markdown(self) -> str:
        """GitHub-flavoured Markdown (title in italics, note below)."""
        lines = []
        if self.number is not None:
            lines.append(f"**Table {self.number}**  ")
        if self.title:
            lines.append(f"*{self.title}*\n")
        body = pd.DataFrame(self.rows, columns=self.columns) if self.rows else pd.DataFrame(columns=self.columns)
        lines.append(markdown_table(body, align={c: "left" if c in self.text_cols else "right"
                                                 for c in self.columns}))
        if self.note:
            lines.append(f"\n*Note.* {self.note}")
        return "\n".join(lines)

    def to_frame(self) -> pd.DataFrame:
        """The formatted cells as a DataFrame of strings."""
        return pd.DataFrame(self.rows, columns=self.columns)

    def summary(self) -> str:
        """Plain text with aligned columns (what ``print`` shows)."""
        widths = [max([len(c)] + [len(r[i]) for r in self.rows]) for i, c in enumerate(self.columns)]

        def fmt(vals: list[str]) -> str:
            return "  ".join(v.ljust(w) if c in self.text_cols else v.rjust(w)
                             for v, w, c in zip(vals, widths, self.columns))

        rule = "-" * (sum(widths) + 2 * (len(widths) - 1))
        lines = []
        if self.number is not None:
            lines.append(f"Table {self.number}")
        if self.title:
            lines.append(self.title)
        lines += [rule, fmt(self.columns), rule]
        groups = dict(self.groups)
        for i, r in enumerate(self.rows):
            if i in groups:
                lines.append(groups[i])
            lines.append(fmt(r))
        lines.append(rule)
        if self.note:
            lines.append(f"Note. {self.note}")
        return "\n".join(lines)

    __str__ = summary

    def __repr__(self) -> str:
        return f"APATable({self.title or 'untitled'!r}, {len(self.rows)} rows x {len(self.columns)} columns)"


def _norm(name: Any) -> str:
    return str(name).strip().lower()


def apa_table(df: pd.DataFrame, *, title: str | None = None, note: str | None = None,
              number: int | None = None, decimals: int = 2,
              bounded_cols: Iterable[str] | None = None, p_cols: Iterable[str] | None = None,
              col_decimals: Mapping[str, int] | None = None, rename: Mapping[str, str] | None = None,
              index: bool = False, missing: str = DASH) -> APATable:
    """Format a DataFrame as an APA-style table.

    Parameters
    ----------
    df : pandas.DataFrame
        One row per table row; numbers stay numbers (formatting happens here).
    title, note : str, optional
        Italic title above the table; ``Note.`` text below it.
    number : int, optional
        Table number (``Table 2``).
    decimals : int
        Digits after the decimal point for non-integer numbers (default 2).
    bounded_cols : list of str, optional
        Columns whose values cannot exceed 1 in absolute value: written without a leading
        zero. Default: columns with a conventional name (``r``, ``cfi``, ``std.all``,
        ``alpha``, ``AVE`` ... see :data:`BOUNDED_NAMES`).
    p_cols : list of str, optional
        Columns formatted as p values (``< .001``). Default: columns named ``p``,
        ``pvalue``, ``p-unc`` ... (see :data:`P_NAMES`).
    col_decimals : dict, optional
        Per-column decimals overriding ``decimals``.
    rename : dict, optional
        Header texts for columns (applied after the column roles are decided).
    index : bool
        Include the index as the first column.
    missing : str
        Text for missing values (em dash).

    Returns
    -------
    APATable

    Examples
    --------
    >>> t = apa_table(pd.DataFrame({"Path": ["SAT ~ OPS"], "std.all": [0.41], "pvalue": [0.00002]}),
    ...               rename={"std.all": "β", "pvalue": "p"})
    >>> t.columns, t.rows
    (['Path', 'β', 'p'], [['SAT ~ OPS', '.41', '< .001']])
    """
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"apa_table needs a pandas DataFrame, got {type(df).__name__}")
    data = df.reset_index() if index else df
    cols = [str(c) for c in data.columns]
    if bounded_cols is None:
        bounded = {c for c in cols if _norm(c) in BOUNDED_NAMES}
    else:
        bounded = {str(c) for c in bounded_cols}
    if p_cols is None:
        pcols = {c for c in cols if _norm(c) in P_NAMES}
    else:
        pcols = {str(c) for c in p_cols}
    for c in (bounded | pcols) - set(cols):
        raise KeyError(f"apa_table: column {c!r} not in the table (columns: {cols})")
    col_decimals = {str(k): v for k, v in (col_decimals or {}).items()}
    rename = {str(k): v for k, v in (rename or {}).items()}

    text_orig: set[str] = set()
    formatted: list[list[str]] = [[] for _ in range(len(data))]
    for j, c in enumerate(cols):
        s = data.iloc[:, j]
        is_num = pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s)
        if not is_num:
            vals = [v for v in s if not is_missing(v)]
            is_num = bool(vals) and all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in vals)
        is_int = is_num and pd.api.types.is_integer_dtype(s)
        d = col_decimals.get(c, decimals)
        for i, v in enumerate(s.tolist()):
            if c in pcols:
                cell = format_p(v, decimals=max(d, 3) if c not in col_decimals else d, missing=missing)
            elif is_num:
                if is_int or (isinstance(v, numbers.Integral) and not isinstance(v, bool)):
                    cell = format_number(int(v), 0, missing=missing) if not is_missing(v) else missing
                else:
                    cell = format_number(v, d, bounded=c in bounded, missing=missing)
            else:
                cell = missing if is_missing(v) else str(v)
            formatted[i].append(cell)
        if not is_num and c not in pcols:
            text_orig.add(c)
    auto = {"pvalue": "p", "p-unc": "p", "p_value": "p", "p-value": "p", "pval": "p", "std.all": "β",
            "se": "SE", "est": "B"}
    headers = [rename.get(c, auto.get(c, c)) for c in cols]
    text_cols = {h for c, h in zip(cols, headers) if c in text_orig}
    return APATable(columns=headers, rows=formatted, data=df.copy(), title=title, note=note,
                    number=number, text_cols=text_cols)


# --------------------------------------------------------------------------- SEM/psychometric tables
_FIT_COLUMNS = [  # (lavaan key, header, kind)
    ("chisq", "χ²", "num"), ("df", "df", "int"), ("pvalue", "p", "p"), ("cfi", "CFI", "bounded"),
    ("tli", "TLI", "bounded"), ("rmsea", "RMSEA", "bounded"), ("rmsea.ci", "90% CI", "ci"),
    ("srmr", "SRMR", "bounded"), ("gfi", "GFI", "bounded"), ("agfi", "AGFI", "bounded"),
    ("aic", "AIC", "num"), ("bic", "BIC", "num"),
]
FIT_NOTE = ("χ² = chi-square test of model fit; CFI = comparative fit index; TLI = Tucker–Lewis "
            "index; RMSEA = root mean square error of approximation with its 90% confidence "
            "interval (CI); SRMR = standardized root mean square residual. Conventional cutoffs "
            "(Hu & Bentler, 1999): CFI and TLI ≥ .95, RMSEA ≤ .06, SRMR ≤ .08.")


def _fit_rows(fit: Any) -> pd.DataFrame:
    """Normalise fit measures (dict, Series, dict of dicts or DataFrame) to rows = models."""
    if isinstance(fit, pd.DataFrame):
        df = fit.copy()
        if "model" in df.columns:
            df = df.set_index("model")
        return df
    if isinstance(fit, pd.Series):
        return pd.DataFrame([fit.to_dict()], index=[fit.name if fit.name is not None else "Model"])
    if isinstance(fit, Mapping):
        vals = list(fit.values())
        if vals and all(isinstance(v, (Mapping, pd.Series)) for v in vals):
            return pd.DataFrame({k: dict(v) for k, v in fit.items()}).T
        return pd.DataFrame([dict(fit)], index=["Model"])
    raise TypeError(f"fit_table: expected fit measures as dict, Series or DataFrame, got {type(fit).__name__}")


def fit_table(fit: Any, *, measures: Sequence[str] | None = None, title: str | None = "Model fit",
              note: str | None = FIT_NOTE, number: int | None = None, decimals: int = 2,
              estimation: str = "") -> APATable:
    """Fit measures of one or several models (lavaan names) as an APA table.

    Parameters
    ----------
    fit : dict, Series, dict of dicts, or DataFrame
        ``{"chisq": ..., "df": ..., "pvalue": ..., "cfi": ..., "rmsea": ...,
        "rmsea.ci.lower": ..., "rmsea.ci.upper": ..., "srmr": ...}`` for one model;
        ``{"Model A": {...}, "Model B": {...}}`` or a DataFrame with one row per model
        (index or a ``model`` column naming it) for several.
    measures : list of str, optional
        Subset and order of ``chisq, df, pvalue, cfi, tli, rmsea, rmsea.ci, srmr, gfi,
        agfi, aic, bic``; default: all present.
    title, note, number, decimals :
        As in :func:`apa_table`; ``note`` defaults to the abbreviations and cutoffs.
    estimation : str
        ``sem.estimation_label`` of the fit(s), named in the note when not plain ML.

    A robust or ordinal fit (measures ``chisq.scaled``, ``cfi.robust``, ...) shows its scaled
    χ² and robust (else scaled) indices, headed as such, and the note says so
    (:mod:`crm_research.reporting.fitmeasures`).
    """
    from .fitmeasures import reported_keys, robust_note

    if hasattr(fit, "fit_measures") and not isinstance(fit, (Mapping, pd.DataFrame, pd.Series)):
        fit = dict(fit.fit_measures or {})
    rows = _fit_rows(fit)
    lower = {str(c).lower(): c for c in rows.columns}
    rkeys = reported_keys(rows.iloc[0].to_dict()) if len(rows) else {}
    if len(rows) > 1 and any(reported_keys(r.to_dict()) != rkeys for _, r in rows.iterrows()):
        rkeys = {}   # models of different kinds: standard measures for all
    if rkeys and any(k != v for k, v in rkeys.items()):
        lower = {**lower, **{base: lower[key.lower()] for base, key in rkeys.items() if key.lower() in lower}}
        extra = robust_note(rows.iloc[0].to_dict(), estimation)
        if note is not None and extra:
            note = f"{note} {extra}"
    elif estimation and estimation != "ML" and note is not None:
        note = f"{note} Estimation: {estimation}."
    wanted = list(measures) if measures is not None else [k for k, _, _ in _FIT_COLUMNS]
    spec = {k: (h, kind) for k, h, kind in _FIT_COLUMNS}
    unknown = [m for m in wanted if m not in spec]
    if unknown:
        raise KeyError(f"fit_table: unknown fit measure(s) {unknown}; known: {list(spec)}")
    headers = ["Model"]
    cells: list[list[str]] = [[str(ix)] for ix in rows.index]
    for key in wanted:
        header, kind = spec[key]
        base = "rmsea" if key == "rmsea.ci" else key
        shown = rkeys.get(base, base)
        if shown != base and key != "df":
            header = f"{header} ({'robust' if shown.endswith('.robust') else 'scaled'})"
        if key == "rmsea.ci":
            lo, hi = lower.get("rmsea.ci.lower"), lower.get("rmsea.ci.upper")
            if lo is None or hi is None:
                continue
            headers.append(header)
            for r, (_, row) in zip(cells, rows.iterrows()):
                r.append(format_ci(row[lo], row[hi], max(decimals, 3), bounded=True))
            continue
        col = lower.get(key)
        if col is None:
            if measures is not None:
                raise KeyError(f"fit_table: measure {key!r} not in the fit measures (have {list(rows.columns)})")
            continue
        headers.append(header)
        for r, v in zip(cells, rows[col].tolist()):
            if kind == "p":
                r.append(format_p(v))
            elif kind == "int":
                r.append(format_number(int(round(float(v))), 0) if not is_missing(v) else DASH)
            elif kind == "bounded":
                r.append(format_number(v, max(decimals, 3), bounded=True))  # fit indices: 3 decimals
            else:
                r.append(format_number(v, decimals))
    if len(rows) == 1 and str(rows.index[0]) == "Model":
        headers, cells = headers[1:], [r[1:] for r in cells]
        text_cols: set[str] = set()
    else:
        text_cols = {"Model"}
    return APATable(columns=headers, rows=cells, data=rows.reset_index(names="model"), title=title,
                    note=note, number=number, text_cols=text_cols)


def _require(df: pd.DataFrame, cols: Iterable[str], fn: str) -> None:
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise KeyError(f"{fn}: column(s) {missing} missing; got {list(df.columns)}")


def loadings_table(estimates: pd.DataFrame, *, title: str | None = "Factor loadings",
                   note: str | None = None, number: int | None = None, decimals: int = 2,
                   labels: Mapping[str, str] | None = None, std_col: str = "std.all") -> APATable:
    """Factor loadings (lavaan ``=~`` rows) as an APA table grouped by construct.

    Parameters
    ----------
    estimates : pandas.DataFrame
        lavaan-style estimates with at least ``lhs, op, rhs``; uses ``est, se, z, pvalue``
        and ``std_col`` where present.
    labels : dict, optional
        Display names for constructs and indicators (e.g. ``{"SAT": "Satisfaction"}``).
    std_col : str
        Column of standardized loadings (``std.all`` by default).
    """
    _require(estimates, ["lhs", "op", "rhs"], "loadings_table")
    lo = estimates[estimates["op"] == "=~"]
    if "group" in lo.columns and lo["group"].nunique() > 1:
        raise ValueError("loadings_table: estimates of several groups; pass one group's rows")
    labels = dict(labels or {})
    spec = [("est", "B", "num"), ("se", "SE", "num"), ("z", "z", "num"), ("pvalue", "p", "p"),
            (std_col, "β", "bounded")]
    spec = [s for s in spec if s[0] in lo.columns]
    headers = ["Indicator"] + [h for _, h, _ in spec]
    rows: list[list[str]] = []
    groups: list[tuple[int, str]] = []
    for construct, block in lo.groupby("lhs", sort=False):
        groups.append((len(rows), labels.get(construct, str(construct))))
        for _, r in block.iterrows():
            cells = [labels.get(r["rhs"], str(r["rhs"]))]
            fixed = "se" in block.columns and (is_missing(r["se"]) or float(r["se"]) == 0.0)
            for col, _, kind in spec:
                v = r[col]
                if fixed and col in ("se", "z", "pvalue"):
                    cells.append(DASH)
                elif kind == "p":
                    cells.append(format_p(v))
                else:
                    cells.append(format_number(v, decimals, bounded=kind == "bounded"))
            rows.append(cells)
    if note is None:
        note = ("B = unstandardized loading; β = standardized loading. A dash marks the "
                "loading fixed to 1 to set the construct's scale." if "se" in lo.columns else None)
    return APATable(columns=headers, rows=rows, data=lo.reset_index(drop=True), title=title, note=note,
                    number=number, text_cols={"Indicator"}, groups=groups)


_RELIABILITY_HEADERS = {
    "construct": "Construct", "factor": "Construct", "items": "Items", "n_items": "Items", "k": "Items",
    "alpha": "α", "cronbach_alpha": "α", "alpha.ci.lower": "α 95% CI lower", "omega": "ω",
    "cr": "CR", "composite_reliability": "CR", "ave": "AVE", "sqrt_ave": "√AVE", "msv": "MSV",
    "asv": "ASV", "rho_a": "ρA", "rhoa": "ρA",
}
RELIABILITY_NOTE = ("α = Cronbach's alpha; ω = McDonald's omega; CR = composite reliability; "
                    "AVE = average variance extracted. Conventional thresholds: α and CR ≥ .70, "
                    "AVE ≥ .50 (Fornell & Larcker, 1981; Hair et al., 2019).")


def reliability_table(df: pd.DataFrame, *, title: str | None = "Reliability and convergent validity",
                      note: str | None = RELIABILITY_NOTE, number: int | None = None,
                      decimals: int = 2, labels: Mapping[str, str] | None = None) -> APATable:
    """Reliability / convergent-validity statistics per construct as an APA table.

    ``df`` has one row per construct (a ``construct`` column or the index) and any of
    ``alpha, omega, cr, ave, sqrt_ave, msv, asv, rho_a, items``; all coefficients are
    bounded by 1 and written without a leading zero.
    """
    data = df.copy()
    if not any(_norm(c) in ("construct", "factor") for c in data.columns):
        data = data.reset_index().rename(columns={data.index.name or "index": "construct"})
    if labels:
        key = next(c for c in data.columns if _norm(c) in ("construct", "factor"))
        data[key] = data[key].map(lambda v: labels.get(v, v))
    rename = {c: _RELIABILITY_HEADERS.get(_norm(c), str(c)) for c in data.columns}
    bounded = [c for c in data.columns if _norm(c) not in ("construct", "factor", "items", "n_items", "k")
               and pd.api.types.is_float_dtype(data[c])]
    t = apa_table(data, title=title, note=note, number=number, decimals=decimals,
                  bounded_cols=bounded, rename=rename)
    return t


def _arrow_path(row: Mapping[str, Any]) -> str:
    if "path" in row and isinstance(row["path"], str):
        p = row["path"]
        if "~" in p and "=~" not in p:  # lavaan regression "SAT ~ OPS" reads OPS -> SAT
            lhs, rhs = (s.strip() for s in p.split("~", 1))
            return f"{rhs} \u2192 {lhs}"
        return p
    if {"lhs", "op", "rhs"} <= set(row):
        if row["op"] == "~":
            return f"{row['rhs']} \u2192 {row['lhs']}"
        if row["op"] == ":=":
            return str(row["lhs"])
        return f"{row['lhs']} {row['op']} {row['rhs']}"
    return DASH


def hypotheses_table(df: pd.DataFrame, *, title: str | None = "Hypothesis tests",
                     note: str | None = None, number: int | None = None, decimals: int = 2,
                     ci_level: int = 95) -> APATable:
    """Structural paths tested as hypotheses, as an APA table.

    Parameters
    ----------
    df : pandas.DataFrame
        One row per hypothesis with ``hypothesis`` (or ``id``), a ``path`` (lavaan
        ``"SAT ~ OPS"`` or text) or ``lhs, op, rhs``, and any of ``std.all`` (β), ``est``
        (B), ``se``, ``z``, ``pvalue``, ``ci.lower``/``ci.upper`` and ``supported``
        (bool or text). Decisions are shown as given, never recomputed here.
    ci_level : int
        Level of the ``ci.lower``/``ci.upper`` interval, for the header.
    """
    hyp_col = next((c for c in ("hypothesis", "id", "label") if c in df.columns), None)
    spec = [("std.all", "β", "bounded"), ("est", "B", "num"), ("se", "SE", "num"), ("z", "z", "num"),
            ("pvalue", "p", "p")]
    spec = [s for s in spec if s[0] in df.columns]
    has_ci = {"ci.lower", "ci.upper"} <= set(df.columns)
    headers = (["Hypothesis"] if hyp_col else []) + ["Path"] + [h for _, h, _ in spec]
    if has_ci:
        headers.append(f"{ci_level}% CI")
    if "supported" in df.columns:
        headers.append("Supported")
    rows = []
    for _, r in df.iterrows():
        rd = r.to_dict()
        cells = ([str(rd[hyp_col])] if hyp_col else []) + [_arrow_path(rd)]
        for col, _, kind in spec:
            cells.append(format_p(rd[col]) if kind == "p" else
                         format_number(rd[col], decimals, bounded=kind == "bounded"))
        if has_ci:
            cells.append(format_ci(rd["ci.lower"], rd["ci.upper"], decimals))
        if "supported" in df.columns:
            v = rd["supported"]
            cells.append(DASH if is_missing(v) else ("Yes" if v is True else "No" if v is False else str(v)))
        rows.append(cells)
    if note is None:
        parts = []
        if "std.all" in df.columns:
            parts.append("β = standardized path coefficient")
        if "est" in df.columns:
            parts.append("B = unstandardized coefficient")
        if has_ci:
            parts.append(f"CI = {ci_level}% confidence interval of B")
        note = ("; ".join(parts) + ".") if parts else None
    text = {"Path", "Supported"} | ({"Hypothesis"} if hyp_col else set())
    return APATable(columns=headers, rows=rows, data=df.reset_index(drop=True), title=title, note=note,
                    number=number, text_cols=text)


def matrix_table(matrix: pd.DataFrame, *, title: str | None = None, note: str | None = None,
                 number: int | None = None, decimals: int = 2, lower: bool = True,
                 diagonal: Mapping[str, float] | pd.Series | None = None,
                 bounded: bool = True) -> APATable:
    """A square matrix (correlations, HTMT, Fornell–Larcker) as an APA table.

    Parameters
    ----------
    matrix : pandas.DataFrame
        Square, same labels on rows and columns.
    lower : bool
        Show only the lower triangle (upper cells empty).
    diagonal : dict or Series, optional
        Values for the diagonal (e.g. √AVE for the Fornell–Larcker criterion); otherwise
        the matrix diagonal is shown (or an em dash when it is all ones).
    bounded : bool
        Values are bounded by 1 (correlations): no leading zero. HTMT can exceed 1; values
        ≥ 1 keep their integer part either way.
    """
    if list(matrix.index) != list(matrix.columns):
        raise ValueError("matrix_table: rows and columns must carry the same labels in the same order")
    labels = [str(c) for c in matrix.columns]
    numbered = [f"{i + 1}. {lab}" for i, lab in enumerate(labels)]
    headers = [""] + [str(i + 1) for i in range(len(labels))]
    vals = matrix.to_numpy(dtype=float)
    diag_all_one = all(abs(vals[i, i] - 1) < 1e-12 for i in range(len(labels)))
    rows = []
    for i, lab in enumerate(numbered):
        cells = [lab]
        for j in range(len(labels)):
            if i == j:
                if diagonal is not None:
                    cells.append(format_number(dict(diagonal).get(labels[i], float("nan")), decimals, bounded=bounded))
                else:
                    cells.append(DASH if diag_all_one or math.isnan(vals[i, j])
                                 else format_number(vals[i, j], decimals, bounded=bounded))
            elif lower and j > i:
                cells.append("")
            else:
                cells.append(format_number(vals[i, j], decimals, bounded=bounded))
        rows.append(cells)
    return APATable(columns=headers, rows=rows, data=matrix.copy(), title=title, note=note, number=number,
                    text_cols={""})

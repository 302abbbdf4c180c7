"""Validation of survey responses against an instrument.

:func:`validate_responses` codes every answer (Likert labels to points, demographic labels to
codes, durations to seconds) and runs the checks below. Every problem is one row of a tidy
findings table naming the check, its severity, the respondent, the spreadsheet row, the column
and the offending value.

=====================  ========  ==================================================================
check                  severity  rule
=====================  ========  ==================================================================
non_numeric            error     item answer neither a number nor a label of its scale (set missing)
out_of_range           error     item answer a number that is not a point of its scale (set missing);
                                 when a column's answers systematically fall outside the declared
                                 scale (a wrong declaration), validation stops with an error instead
label_converted        info      item or demographic answer given as a label and converted
value_labels_recoded   info      SPSS codes recoded to scale points through their value labels
missing                warning   item without an answer
duplicate_id           error     respondent id seen on an earlier row (the later rows are reported)
duplicate_row          warning   row identical to an earlier row in every column but the respondent
                                 id (or in ``duplicate_columns``); flagged, not dropped, by default
straight_lining        warning   the same answer on every answered item of each scale (at least
                                 ``straight_min_share`` of the items answered); optionally a run of
                                 ``longstring`` or more identical answers in questionnaire order
too_fast               warning   duration below ``min_seconds`` (default: the instrument's
                                 ``duration.min_seconds``) or below ``speed_ratio`` x the median
                                 duration of all rows (default 1/3)
duration_invalid       warning   duration cell that is not a number of seconds or a time
attention_failed       error     attention check not answered with its expected point
demographic_invalid    error     demographic answer not among the declared options (set missing)
screened_out           warning   demographic answer listed under ``screening.exclude``
missing_id             warning   empty respondent id (an id ``row<N>`` is generated)
respondent_id_generated warning  no respondent-id column: ids ``row<N>`` are generated from rows
unmapped_column        info      file column that is not an instrument variable (kept aside)
ambiguous_column       warning   file column matching several variables, or two columns one variable
missing_column         info      optional variable (attention check, demographic, duration) absent
pii_column             info      column dropped or pseudonymized as personal data
pii_redacted           info      phone / e-mail / IP / ID number removed from a free-text cell
=====================  ========  ==================================================================
"""
from __future__ import annotations

import html
import math
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

import numpy as np
import pandas as pd

from ..errors import InstrumentError
from ..instruments import Instrument, Scale
from ..privacy import truncate
from ..reporting.format import markdown_table
from .coding import (MISSING_TOKENS, Coded, cell_text, code_column, code_likert, code_option,
                     likert_lookup, normalize_ids, option_lookup, parse_seconds)
from .duplicates import DuplicatePatterns, duplicate_patterns

CHECKS: dict[str, tuple[str, str]] = {
    "non_numeric": ("error", "answer is neither a number nor a scale label; set to missing"),
    "out_of_range": ("error", "answer is not a point of the scale; set to missing"),
    "label_converted": ("info", "answer given as a label and converted to its value"),
    "value_labels_recoded": ("info", "SPSS codes recoded to scale points via value labels"),
    "missing": ("warning", "item not answered"),
    "duplicate_id": ("error", "respondent id already seen on an earlier row"),
    "duplicate_row": ("warning", "same answers as an earlier row under another id (real respondents can answer alike)"),
    "straight_lining": ("warning", "same answer on all items (or a long run of identical answers)"),
    "too_fast": ("warning", "completion time below the minimum"),
    "duration_invalid": ("warning", "duration is not a number of seconds"),
    "attention_failed": ("error", "attention check failed"),
    "demographic_invalid": ("error", "demographic answer is not a declared option; set to missing"),
    "screened_out": ("warning", "screening exclusion"),
    "missing_id": ("warning", "empty respondent id; generated from the row"),
    "respondent_id_generated": ("warning", "no respondent-id column; ids generated from rows"),
    "unmapped_column": ("info", "column is not an instrument variable; kept aside"),
    "ambiguous_column": ("warning", "column matches several variables; not used"),
    "missing_column": ("info", "optional variable absent from the file"),
    "pii_column": ("info", "personal-data column dropped or pseudonymized"),
    "pii_redacted": ("info", "personal data removed from a free-text cell"),
}
#: checks whose respondents a cleaning policy (drop / flag / keep) applies to
RESPONDENT_CHECKS = ("duplicate_id", "duplicate_row", "attention_failed", "screened_out", "too_fast",
                     "straight_lining", "non_numeric", "out_of_range", "demographic_invalid",
                     "duration_invalid", "missing", "missing_id")
FINDING_COLUMNS = ["check", "severity", "respondent", "row", "column", "value", "message"]


# --------------------------------------------------------------------------- report
@dataclass
class ValidationReport:
    """Findings of :func:`validate_responses` (and, after cleaning, what the policies did).

    Attributes
    ----------
    findings : DataFrame
        ``check, severity, respondent, row, column, value, message``; ``row`` is the
        spreadsheet row (header = 1), ``value`` the cell as found (never personal data).
    data : DataFrame
        The coded answers of every row (index ``row``), before any cleaning.
    settings : dict
        Parameters and thresholds the checks used (e.g. the median duration).
    policies : dict
        ``{check: drop | flag | keep}`` once cleaning has run.
    actions : DataFrame
        Per check: findings, respondents, policy, dropped, flagged (after cleaning).
    duplicates : DuplicatePatterns
        Answer patterns shared by several respondents and how many identical pairs chance
        alone would give on this instrument (:meth:`DuplicatePatterns.sentence`, ``.table()``).

    Examples
    --------
    >>> import pandas as pd
    >>> from crm_research.instruments import load_instrument
    >>> inst = load_instrument("surveys/ecommerce_crm.yaml")
    >>> df = pd.DataFrame({"respondent_id": [1, 2, 3], **{i: [4, 2, 3] for i in inst.item_ids}}).astype(object)
    >>> df.loc[1, "SAT1"], df.loc[2, "SAT2"] = "Strongly agree", 9
    >>> rep = validate_responses(df, inst)
    >>> "# Validation report" in rep.to_markdown() and rep.to_html().startswith("<!DOCTYPE html>")
    True
    """

    findings: pd.DataFrame
    data: pd.DataFrame = field(repr=False)
    n_rows: int = 0
    settings: dict[str, Any] = field(default_factory=dict)
    source: Any = None
    mapping: Any = None
    privacy: Any = None
    policies: dict[str, str] | None = None
    actions: pd.DataFrame | None = None
    n_kept: int | None = None
    duplicates: DuplicatePatterns | None = None

    # ---- queries
    def of(self, check: str) -> pd.DataFrame:
        """Findings of one check."""
        if check not in CHECKS:
            raise KeyError(f"unknown check {check!r}; checks: {', '.join(CHECKS)}")
        return self.findings[self.findings.check == check]

    def respondents(self, check: str) -> list[Any]:
        """Respondents with at least one finding of ``check``, in row order."""
        f = self.of(check)
        return list(dict.fromkeys(f.respondent.dropna().tolist()))

    @property
    def counts(self) -> pd.DataFrame:
        """Per check: severity, number of findings and of distinct respondents."""
        if self.actions is not None:
            return self.actions
        f = self.findings
        rows = []
        for check, (sev, desc) in CHECKS.items():
            part = f[f.check == check]
            if part.empty:
                continue
            rows.append(dict(check=check, severity=sev, findings=len(part),
                             respondents=int(part.respondent.dropna().nunique()), description=desc))
        return pd.DataFrame(rows, columns=["check", "severity", "findings", "respondents", "description"])

    @property
    def n_errors(self) -> int:
        return int((self.findings.severity == "error").sum())

    @property
    def n_warnings(self) -> int:
        return int((self.findings.severity == "warning").sum())

    # ---- rendering
    def summary(self) -> str:
        lines = ["Validation report"]
        if self.source is not None:
            lines.append(f"  source: {self.source.summary()}")
        kept = f", {self.n_kept} kept after cleaning" if self.n_kept is not None else ""
        lines.append(f"  rows: {self.n_rows}{kept}; findings: {self.n_errors} errors, "
                     f"{self.n_warnings} warnings, {int((self.findings.severity == 'info').sum())} info")
        c = self.counts
        if not c.empty:
            w = max(len(x) for x in c.check)
            for r in c.itertuples(index=False):
                extra = ""
                if "policy" in c.columns and isinstance(r.policy, str) and r.policy:
                    extra = f"  policy {r.policy}"
                    if r.dropped:
                        extra += f": {r.dropped} dropped"
                    elif r.flagged:
                        extra += f": {r.flagged} flagged"
                lines.append(f"  {r.check:<{w}}  {r.severity:<7} {r.findings:>6} findings, "
                             f"{r.respondents:>5} respondents{extra}")
        d = self.duplicates
        if d is not None and d.n_items:
            lines.append(f"  identical answer patterns: {d.observed_pairs} pairs observed, "
                         f"{d.expected_pairs:.3g} expected by chance ({d.straight_line_patterns} of "
                         f"{d.shared_patterns} shared patterns are straight lines)")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return self.summary()

    def _settings_lines(self) -> list[str]:
        s = self.settings
        out = []
        if s.get("duration_column"):
            bits = []
            if s.get("min_seconds") is not None:
                bits.append(f"absolute minimum {s['min_seconds']:g} s")
            if s.get("speed_ratio"):
                med = s.get("median_seconds")
                bits.append(f"{_ratio_text(s['speed_ratio'])} of the median duration"
                            + (f" ({med:g} s, threshold {s['relative_threshold']:g} s)" if med is not None else ""))
            out.append(f"Speed rule on `{s['duration_column']}`: " + (" or ".join(bits) if bits else "off"))
        if s.get("n_items"):
            rule = (f"same answer on all answered items{' of each scale' if s.get('straight_scales', 1) > 1 else ''}, "
                    f"with at least {s['straight_min_items']} of {s['n_items']} items answered")
            if s.get("longstring"):
                rule += f"; or {s['longstring']}+ identical answers in a row"
            out.append("Straight-lining: " + rule)
        if s.get("duplicate_columns"):
            out.append(f"Duplicate rows compared on: {s['duplicate_columns']}")
        return out

    def to_markdown(self, max_rows: int | None = 5000) -> str:
        """The report as Markdown: summary, thresholds, counts per check, findings."""
        out = ["# Validation report", ""]
        if self.source is not None:
            out += [f"Source: `{self.source.file}` ({self.source.format}"
                    + (f", {self.source.encoding}" if self.source.encoding else "")
                    + f"), {self.source.rows} rows, sha256 `{self.source.sha256}`" if self.source.sha256
                    else f"Source: {self.source.file}", ""]
        kept = f"; {self.n_kept} respondents kept after cleaning" if self.n_kept is not None else ""
        out += [f"{self.n_rows} rows validated: {self.n_errors} errors, {self.n_warnings} warnings{kept}.", ""]
        out += [f"- {x}" for x in self._settings_lines()] + [""]
        out += ["## Checks", "", markdown_table(self.counts) if not self.counts.empty else "No findings.", ""]
        if self.duplicates is not None and self.duplicates.n_items:
            out += ["## Identical answer patterns", "", self.duplicates.sentence(), "",
                    markdown_table(self.duplicates.table()), ""]
        if self.mapping is not None:
            out += ["## Column mapping", "", markdown_table(self.mapping.table), ""]
        if self.privacy is not None and not self.privacy.table.empty:
            out += ["## Personal data", "", markdown_table(self.privacy.table), ""]
        f = self.findings
        for title, part in (("Problems (errors and warnings)", f[f.severity != "info"]),
                            ("Notes (conversions, columns, personal data)", f[f.severity == "info"])):
            out += [f"## {title}", ""]
            if part.empty:
                out.append("None.")
            else:
                shown = part if max_rows is None or len(part) <= max_rows else part.iloc[:max_rows]
                out.append(markdown_table(shown))
                if len(shown) < len(part):
                    out.append(f"\n{len(part) - len(shown)} more are in the CSV of findings.")
            out.append("")
        return "\n".join(out)

    def to_html(self, max_rows: int | None = 5000, full_page: bool = True) -> str:
        """The report as HTML (a standalone page unless ``full_page=False``)."""
        from ._render import CSS, findings_html, table_html

        esc = html.escape
        h = ["<h1>Validation report</h1>"]
        if self.source is not None:
            h.append(f"<p class='src'>Source: <code>{esc(self.source.summary())}</code></p>")
        kept = f"; <b>{self.n_kept}</b> respondents kept after cleaning" if self.n_kept is not None else ""
        h.append(f"<p><b>{self.n_rows}</b> rows validated: <span class='error'>{self.n_errors} errors</span>, "
                 f"<span class='warning'>{self.n_warnings} warnings</span>{kept}.</p>")
        sl = self._settings_lines()
        if sl:
            h.append("<ul>" + "".join(f"<li>{esc(x).replace('`', '')}</li>" for x in sl) + "</ul>")
        h.append("<h2>Checks</h2>")
        h.append(table_html(self.counts) if not self.counts.empty else "<p>No findings.</p>")
        if self.duplicates is not None and self.duplicates.n_items:
            h.append("<h2>Identical answer patterns</h2>"
                     f"<p>{esc(self.duplicates.sentence())}</p>" + table_html(self.duplicates.table()))
        if self.mapping is not None:
            h.append("<h2>Column mapping</h2>" + table_html(self.mapping.table))
        if self.privacy is not None and not self.privacy.table.empty:
            h.append("<h2>Personal data</h2>" + table_html(self.privacy.table))
        f = self.findings
        h.append("<h2>Problems (errors and warnings)</h2>")
        h.append(findings_html(f[f.severity != "info"], max_rows))
        h.append("<h2>Notes (conversions, columns, personal data)</h2>")
        h.append(findings_html(f[f.severity == "info"], max_rows))
        body = "\n".join(h)
        if not full_page:
            return f"<div class='crm-validation'>{body}</div>"
        return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>Validation report</title>"
                f"<style>{CSS}</style></head><body>{body}</body></html>")

    def _repr_html_(self) -> str:
        return self.to_html(max_rows=50, full_page=False)


def _ratio_text(r: float) -> str:
    for d in range(2, 11):
        if math.isclose(r * d, 1.0):
            return f"1/{d}"
    return f"{r:g}"


# --------------------------------------------------------------------------- helpers
#: characters of a cell shown in findings and reports (:func:`crm_research.privacy.truncate`)
VALUE_LIMIT = 200


class _Findings:
    """Accumulates finding chunks; builds the tidy table once."""

    def __init__(self, ids: np.ndarray, rows: np.ndarray):
        self.ids, self.rows, self.chunks = ids, rows, []

    def cells(self, check: str, column: str, pos: np.ndarray, values: Iterable[Any], messages: Iterable[Any]) -> None:
        if len(pos) == 0:
            return
        self.chunks.append(pd.DataFrame({
            "check": check, "severity": CHECKS[check][0], "respondent": self.ids[pos],
            "row": self.rows[pos], "column": column,
            "value": np.asarray(list(values), dtype=object), "message": np.asarray(list(messages), dtype=object)}))

    def one(self, check: str, respondent: Any = None, row: Any = None, column: str | None = None,
            value: Any = None, message: str = "") -> None:
        self.chunks.append(pd.DataFrame([dict(check=check, severity=CHECKS[check][0], respondent=respondent,
                                              row=row, column=column, value=value, message=message)]))

    def table(self, column_order: Mapping[str, int]) -> pd.DataFrame:
        chunks = [c for c in self.chunks if len(c)]
        if not chunks:
            return pd.DataFrame({c: pd.Series(dtype=object) for c in FINDING_COLUMNS}).astype(
                {"row": "Int64"})
        f = pd.concat([c.astype(object) for c in chunks], ignore_index=True)
        order = {c: i for i, c in enumerate(CHECKS)}
        key_row = pd.to_numeric(f["row"], errors="coerce").fillna(-1)
        key_col = f["column"].map(lambda c: column_order.get(c, len(column_order)) if c is not None else -1)
        key_chk = f["check"].map(order)
        f = f.assign(_r=key_row, _c=key_col, _k=key_chk).sort_values(["_r", "_c", "_k"], kind="stable")
        f = f.drop(columns=["_r", "_c", "_k"]).reset_index(drop=True)
        f["row"] = pd.array([None if v is None or (isinstance(v, float) and np.isnan(v)) else int(v)
                             for v in f["row"]], dtype="Int64")
        for c in ("check", "severity", "message", "respondent", "column", "value"):
            f[c] = f[c].astype(object).where(f[c].notna(), None)
        # a long cell (a 200,000-character answer) is shown by its start and length only
        for c, limit in (("value", VALUE_LIMIT), ("message", 2 * VALUE_LIMIT), ("column", VALUE_LIMIT)):
            long = [isinstance(v, str) and len(v) > limit for v in f[c]]
            if any(long):
                f[c] = pd.Series([truncate(v, limit) if is_long else v for v, is_long in zip(f[c], long)],
                                 index=f.index, dtype=object)
        return f[FINDING_COLUMNS]


def _unique_positions(codes: np.ndarray, wanted: list[int]) -> np.ndarray:
    if not wanted:
        return np.empty(0, dtype=np.int64)
    return np.flatnonzero(np.isin(codes, wanted))


def _converted(F: _Findings, col: str, codes: np.ndarray, uniques: list[int], texts: np.ndarray,
               notes: np.ndarray, rows: np.ndarray) -> None:
    """label_converted findings: one per cell when a label occurs once in a column, else one per
    (column, label) naming the count and the first rows (a text export converts every cell)."""
    for j in uniques:
        pos = np.flatnonzero(codes == j)
        if len(pos) == 1:
            F.cells("label_converted", col, pos, [texts[j]], [notes[j]])
        elif len(pos) > 1:
            shown = ", ".join(str(r) for r in rows[pos[:5]]) + (", ..." if len(pos) > 5 else "")
            F.one("label_converted", column=col, value=texts[j], message=f"{notes[j]} in {len(pos)} cells (rows {shown})")


def _value_label_recode(labels: Mapping[Any, str], lookup: Mapping[str, Any], coder) -> dict[float, Any] | None:
    """``{code: value}`` when every SPSS value label names a scale point / option and some code
    differs from its value; None otherwise."""
    recode = {}
    for code, lab in labels.items():
        x = coder(lab)
        if x is None:
            return None
        try:
            recode[float(code)] = x
        except (TypeError, ValueError):
            return None
    if all(float(k) == (float(v) if isinstance(v, (int, float)) else math.nan) for k, v in recode.items()):
        return None
    return recode


# --------------------------------------------------------------------------- main entry
def validate_responses(df: pd.DataFrame, instrument: Instrument, *, min_seconds: float | None = None,
                       speed_ratio: float | None = 1 / 3, straight_min_share: float = 0.5,
                       longstring: int | None = None, duplicate_columns: str | list[str] | None = None,
                       missing_values: Iterable[str] = (), value_labels: Mapping[str, Mapping[Any, str]] | None = None,
                       mapping: Any = None, privacy: Any = None, source: Any = None,
                       max_out_of_range: float | None = 0.02) -> ValidationReport:
    """Code and check survey responses.

    Parameters
    ----------
    df : DataFrame
        Responses whose columns are named by instrument variable ids (see
        :func:`~crm_research.responses.map_columns`) and whose index is the spreadsheet row
        (index name ``row``; otherwise rows are numbered 2, 3, ... as under a header row).
        Personal data should already be removed (:func:`~crm_research.privacy.protect`);
        :func:`~crm_research.responses.prepare_responses` does all of this.
    instrument : Instrument
    min_seconds : float, optional
        Absolute speed threshold; default the instrument's ``duration.min_seconds``.
    speed_ratio : float or None
        Relative speed threshold as a share of the median duration (default 1/3); None turns
        the relative rule off.
    straight_min_share : float
        Share of items that must be answered before identical answers count as straight-lining.
    longstring : int, optional
        Also flag runs of this many identical consecutive answers (questionnaire order).
    duplicate_columns : None, "answers" or list of str
        Columns compared for duplicate rows: all but the respondent id (default), the
        instrument's answers (items, attention checks, demographics), or the given columns.
    missing_values : iterable of str
        Extra cell texts meaning "no answer" (e.g. ``"-3"``, ``"99"``), on top of empty cells,
        ``NA``, ``(跳过)``, ``(空)`` and the like.
    value_labels : mapping, optional
        SPSS value labels ``{variable: {code: label}}``; codes whose labels are scale labels
        are recoded to the scale points.
    mapping, privacy, source
        Column mapping, privacy report and source info to include in the report.
    max_out_of_range : float or None
        A column where more than this share of the numeric answers (and at least
        3 answers) are whole numbers outside the declared scale says the scale is declared
        wrongly (e.g. a 10-point item declared 1-7): validation stops with an
        :class:`~crm_research.errors.InstrumentError` naming the scale, its range, the
        columns, the values found and their counts, instead of blanking those answers.
        None turns the check off (out-of-range answers are then error findings, set to
        missing).

    Returns
    -------
    ValidationReport

    Raises
    ------
    InstrumentError
        When answers systematically fall outside a declared scale (see ``max_out_of_range``).

    Examples
    --------
    >>> import pandas as pd
    >>> from crm_research.instruments import load_instrument
    >>> inst = load_instrument("surveys/ecommerce_crm.yaml")
    >>> df = pd.DataFrame({"respondent_id": [1, 2, 3], **{i: [4, 2, 3] for i in inst.item_ids}}).astype(object)
    >>> df.loc[1, "SAT1"], df.loc[2, "SAT2"] = "Strongly agree", 9
    >>> rep = validate_responses(df, inst)
    >>> rep.n_rows, rep.n_errors, rep.n_warnings
    (3, 1, 2)
    >>> rep.counts[["check", "severity", "findings"]].values.tolist()[:3]
    [['out_of_range', 'error', 1], ['label_converted', 'info', 1], ['straight_lining', 'warning', 2]]
    """
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"validate_responses() needs a DataFrame, got {type(df).__name__}")
    if speed_ratio is not None and not 0 < speed_ratio < 1:
        raise ValueError(f"speed_ratio must be between 0 and 1 (e.g. 1/3) or None, got {speed_ratio!r}")
    if not 0 < straight_min_share <= 1:
        raise ValueError(f"straight_min_share must be in (0, 1], got {straight_min_share!r}")
    if max_out_of_range is not None and not 0 <= max_out_of_range < 1:
        raise ValueError(f"max_out_of_range must be a share between 0 and 1 or None, got {max_out_of_range!r}")
    if longstring is not None and (int(longstring) != longstring or longstring < 2):
        raise ValueError(f"longstring must be a whole number >= 2 or None, got {longstring!r}")
    tokens = MISSING_TOKENS | frozenset(str(t).strip().casefold() for t in missing_values)
    value_labels = dict(value_labels or {})
    inst = instrument
    n = len(df)
    rows = (np.asarray(df.index, dtype=np.int64) if df.index.name == "row"
            else np.arange(2, 2 + n, dtype=np.int64))
    rid = inst.respondent_id
    settings: dict[str, Any] = {}

    # ---- respondent ids
    generated = np.zeros(n, dtype=bool)
    if rid in df.columns:
        ids = normalize_ids(df[rid])
        blank = ids.isna().to_numpy()
        if blank.any():
            ids = ids.astype(object)
            ids[blank] = [f"row{r}" for r in rows[blank]]
            generated = blank
    else:
        ids = pd.Series([f"row{r}" for r in rows], index=df.index, dtype=object)
        generated[:] = True
    ids_arr = ids.to_numpy(dtype=object)
    F = _Findings(ids_arr, rows)
    if rid not in df.columns:
        F.one("respondent_id_generated", column=rid,
              message=f"no respondent-id column {rid!r} (or 序号/ResponseId ...): ids 'row<N>' are generated from "
                      f"the spreadsheet rows; duplicate ids cannot be checked")
    elif generated.any():
        pos = np.flatnonzero(generated)
        F.cells("missing_id", rid, pos, [None] * len(pos), [f"empty respondent id; id row{r} generated" for r in rows[pos]])

    coded: dict[str, np.ndarray] = {rid: ids.to_numpy()}  # built into a DataFrame once, at the end

    # ---- mapping and privacy context
    pii_cols = set(privacy.columns) if privacy is not None else set()
    if mapping is not None:
        for r in mapping.table.itertuples(index=False):
            if r.method == "unmapped" and r.column not in pii_cols:
                F.one("unmapped_column", column=r.column, message="not an instrument variable; kept aside, not validated")
            elif r.method == "ambiguous":
                F.one("ambiguous_column", column=r.column,
                      message=f"matches several variables ({r.candidates}); not used. Map it explicitly (--map)")
            elif r.method == "conflict":
                F.one("ambiguous_column", column=r.column,
                      message=f"{r.candidates.split(', ')[0]} is claimed by several columns ({r.candidates}); "
                              f"not used. Map it explicitly (--map)")
    if privacy is not None:
        for r in privacy.table.itertuples(index=False):
            if r.action != "redacted":
                F.one("pii_column", column=r.column,
                      message=f"{r.kind} column {r.action} ({r.reason}{' personal data' if r.reason == 'declared' else ' detected'}"
                              f"; {r.cells} cells)")
        red = privacy.redactions
        if len(red):
            pos = red.row_index.to_numpy(dtype=np.int64)
            for col in red.column.unique():
                sel = (red.column == col).to_numpy()
                F.cells("pii_redacted", col, pos[sel], [None] * int(sel.sum()),
                        [f"{k.replace(',', ', ')} removed from free text" for k in red.kinds[sel]])

    # ---- items and attention checks: Likert coding
    item_ids = [i for i in inst.item_ids if i in df.columns]
    for i in inst.item_ids:
        if i not in df.columns:
            F.one("missing_column", column=i, message=f"item {i!r} not in the file: it counts as unanswered "
                                                      f"in every score of {inst.item(i).construct}")
    ac_ids = [a.id for a in inst.attention_checks if a.id in df.columns]
    outside: dict[str, list[tuple[str, dict[int, int], int, int]]] = {}
    for col in item_ids + ac_ids:
        scale = inst.scale_of(col)
        lookup = likert_lookup(scale)
        recode = None
        if col in value_labels:
            def lab_point(lab: str, _s=scale, _l=lookup) -> Any:
                c = code_likert(lab, _s, _l)
                return c.value if c.status in ("ok", "converted") else None
            recode = _value_label_recode(value_labels[col], lookup, lab_point)
            if recode:
                F.one("value_labels_recoded", column=col,
                      message="codes " + ", ".join(f"{k:g}->{int(v)}" for k, v in sorted(recode.items()))
                              + " recoded through their SPSS value labels")

        def coder(u: Any, _s=scale, _l=lookup, _r=recode) -> Coded:
            if _r is not None:
                try:
                    x = float(u)
                except (TypeError, ValueError):
                    x = None
                if x is not None and x in _r:
                    return Coded(float(_r[x]), "ok")
            return code_likert(u, _s, _l, tokens)

        codes, uniques, res, texts = code_column(df[col], coder)
        vals = np.array([r.value for r in res] + [np.nan], dtype=float)
        coded[col] = vals[codes]
        texts_arr = np.array(texts + [None], dtype=object)
        notes = np.array([r.note for r in res] + [""], dtype=object)
        status = np.array([r.status for r in res] + ["missing"], dtype=object)
        _converted(F, col, codes, sorted((j for j, s_ in enumerate(status[:-1]) if s_ == "converted"),
                                         key=lambda j: vals[j]), texts_arr, notes, rows)
        for st, check in (("non_numeric", "non_numeric"), ("out_of_range", "out_of_range")):
            pos = _unique_positions(codes, [j for j, s in enumerate(status[:-1]) if s == st])
            F.cells(check, col, pos, texts_arr[codes[pos]], notes[codes[pos]])
        _tally_out_of_range(outside, scale, col, codes, res)
        if col in item_ids:
            miss = np.flatnonzero((codes == -1) | np.isin(codes, [j for j, s in enumerate(status[:-1]) if s == "missing"]))
            F.cells("missing", col, miss, texts_arr[codes[miss]], ["no answer"] * len(miss))

    _stop_on_wrong_scale(inst, outside, max_out_of_range, source)

    # ---- demographics
    for q in inst.demographics:
        if q.id not in df.columns:
            F.one("missing_column", column=q.id, message=f"demographic {q.id!r} ({inst.text_in(q.text, 'en')}) not in the file")
            continue
        lookup = option_lookup(q)
        recode = None
        if q.id in value_labels:
            def lab_opt(lab: str, _q=q, _l=lookup) -> Any:
                v, st, _ = code_option(lab, _q, _l)
                return v if st in ("ok", "converted") else None
            recode = _value_label_recode(value_labels[q.id], lookup, lab_opt)
            if recode:
                F.one("value_labels_recoded", column=q.id,
                      message="codes " + ", ".join(f"{k:g}->{v}" for k, v in sorted(recode.items()))
                              + " recoded through their SPSS value labels")

        def dcoder(u: Any, _q=q, _l=lookup, _r=recode) -> tuple[Any, str, str]:
            if _r is not None:
                try:
                    x = float(u)
                except (TypeError, ValueError):
                    x = None
                if x is not None and x in _r:
                    return _r[x], "ok", ""
            return code_option(u, _q, _l, tokens)

        codes, uniques, res, texts = code_column(df[q.id], dcoder)
        numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in q.values)
        vals = [r[0] for r in res] + [None]
        if numeric:
            arr = np.array([np.nan if v is None else float(v) for v in vals], dtype=float)
        else:
            arr = np.array(vals, dtype=object)
        coded[q.id] = arr[codes]
        texts_arr = np.array(texts + [None], dtype=object)
        notes = np.array([r[2] for r in res] + [""], dtype=object)
        status = [r[1] for r in res]
        _converted(F, q.id, codes, sorted((j for j, s in enumerate(status) if s == "converted"),
                                          key=lambda j: str(vals[j])), texts_arr, notes, rows)
        pos = _unique_positions(codes, [j for j, s in enumerate(status) if s == "invalid"])
        F.cells("demographic_invalid", q.id, pos, texts_arr[codes[pos]], notes[codes[pos]])
        if q.exclude:
            excl = [j for j, r in enumerate(res) if r[0] is not None and r[1] in ("ok", "converted")
                    and any(_same(r[0], e) for e in q.exclude)]
            pos = _unique_positions(codes, excl)
            opt = {o["value"]: o for o in q.options}
            msgs = []
            for p in pos:
                v = res[codes[p]][0]
                o = opt.get(v, {})
                msgs.append(f"{q.id} = {v} ({o.get('zh', '')}/{o.get('en', '')}) is a screening exclusion")
            F.cells("screened_out", q.id, pos, texts_arr[codes[pos]], msgs)

    # ---- duration
    dcol = inst.duration_column or "duration_sec"
    secs = None
    if dcol in df.columns:
        def scoder(u: Any) -> tuple[Any, str, str]:
            t = cell_text(u)
            if t is None or t.strip().casefold() in tokens:
                return None, "missing", ""
            x = parse_seconds(u)
            if x is None:
                return None, "invalid", f"{t!r} is not a duration (seconds, '253秒', '4分13秒', '00:04:13')"
            return x, "ok", ""

        codes, uniques, res, texts = code_column(df[dcol], scoder)
        arr = np.array([np.nan if r[0] is None else float(r[0]) for r in res] + [np.nan], dtype=float)
        secs = arr[codes]
        coded[dcol] = secs
        texts_arr = np.array(texts + [None], dtype=object)
        notes = np.array([r[2] for r in res] + [""], dtype=object)
        pos = _unique_positions(codes, [j for j, r in enumerate(res) if r[1] == "invalid"])
        F.cells("duration_invalid", dcol, pos, texts_arr[codes[pos]], notes[codes[pos]])
        abs_min = float(min_seconds) if min_seconds is not None else inst.min_seconds
        valid = secs[~np.isnan(secs)]
        med = float(np.median(valid)) if len(valid) else None
        rel = speed_ratio * med if (speed_ratio and med is not None) else None
        settings.update(duration_column=dcol, min_seconds=abs_min, speed_ratio=speed_ratio,
                        median_seconds=med, relative_threshold=rel)
        with np.errstate(invalid="ignore"):
            below_abs = secs < abs_min if abs_min is not None else np.zeros(n, bool)
            below_rel = secs < rel if rel is not None else np.zeros(n, bool)
        pos = np.flatnonzero(below_abs | below_rel)
        msgs = []
        for p in pos:
            why = []
            if below_abs[p]:
                why.append(f"below the minimum {abs_min:g} s")
            if below_rel[p]:
                why.append(f"below {_ratio_text(speed_ratio)} of the median {med:g} s (= {rel:.4g} s)")
            msgs.append(f"completed in {secs[p]:g} s, " + " and ".join(why))
        F.cells("too_fast", dcol, pos, texts_arr[codes[pos]], msgs)
    else:
        F.one("missing_column", column=dcol, message="no duration column: the speed check was skipped")

    # ---- attention checks
    for ac in inst.attention_checks:
        if ac.id not in df.columns:
            F.one("missing_column", column=ac.id, message=f"attention check {ac.id!r} not in the file: not checked")
            continue
        sc = inst.scales[ac.scale]
        v = np.asarray(coded[ac.id], dtype=float)
        pos = np.flatnonzero(np.isnan(v) | (v != ac.expected))
        raw_text = df[ac.id].to_numpy(dtype=object)
        exp = _point_text(sc, ac.expected)
        msgs, vals_ = [], []
        for p in pos:
            vals_.append(cell_text(raw_text[p]))
            if np.isnan(v[p]):
                msgs.append(f"no valid answer; the check asks for {exp}")
            else:
                msgs.append(f"answered {_point_text(sc, int(v[p]))}; the check asks for {exp}")
        F.cells("attention_failed", ac.id, pos, vals_, msgs)

    # ---- straight-lining
    if item_ids:
        X = np.column_stack([coded[i] for i in item_ids]).astype(float)
        k = len(item_ids)
        answered = (~np.isnan(X)).sum(axis=1)
        need = max(2, math.ceil(straight_min_share * k))
        # one group per scale range: a straight line is the same answer on every answered item
        # of each scale (with one scale: the same answer on every item)
        ranges = [(inst.scale_of(i).min, inst.scale_of(i).max) for i in item_ids]
        groups = list(dict.fromkeys(ranges))
        flat = answered >= need
        multi = np.zeros(n, dtype=bool)       # some scale with 2+ answered items
        lows = []
        import warnings
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            for g in groups:
                cols = [j for j, r in enumerate(ranges) if r == g]
                Xg = X[:, cols]
                lo, hi = np.nanmin(Xg, axis=1), np.nanmax(Xg, axis=1)
                flat &= np.isnan(lo) | (lo == hi)
                multi |= (~np.isnan(Xg)).sum(axis=1) >= 2
                lows.append(lo)
        flat &= multi
        settings.update(n_items=k, straight_min_items=need, longstring=longstring, straight_scales=len(groups))
        pos = np.flatnonzero(flat)
        if len(groups) == 1:
            vals_ = [str(int(lows[0][p])) for p in pos]
            msgs = [f"same answer {int(lows[0][p])} on all {answered[p]} answered items" for p in pos]
        else:
            def per_scale(p: int) -> list[tuple[int, tuple[int, int]]]:
                return [(int(lo[p]), g) for lo, g in zip(lows, groups) if not np.isnan(lo[p])]
            vals_ = ["/".join(str(v) for v, _ in per_scale(p)) for p in pos]
            msgs = [f"same answer on all {answered[p]} answered items of each scale: "
                    + ", ".join(f"{v} on {g[0]}-{g[1]}" for v, g in per_scale(p)) for p in pos]
        F.cells("straight_lining", None, pos, vals_, msgs)
        if longstring:
            run = np.ones(n, dtype=np.int64)
            best = np.where(np.isnan(X[:, 0]), 0, 1).astype(np.int64)
            best_end = np.zeros(n, dtype=np.int64)
            for j in range(1, k):
                same = (X[:, j] == X[:, j - 1])
                run = np.where(same, run + 1, np.where(np.isnan(X[:, j]), 0, 1))
                better = run > best
                best = np.where(better, run, best)
                best_end = np.where(better, j, best_end)
            pos = np.flatnonzero((best >= longstring) & ~flat)
            F.cells("straight_lining", None, pos, [str(int(X[p, best_end[p]])) for p in pos],
                    [f"{best[p]} identical answers ({int(X[p, best_end[p]])}) in a row, "
                     f"{item_ids[best_end[p] - best[p] + 1]}..{item_ids[best_end[p]]} (threshold {longstring})"
                     for p in pos])

    # ---- duplicates
    real = ~generated
    if rid in df.columns and real.any():
        s = pd.Series(ids_arr)
        dup = (s.duplicated(keep="first").to_numpy() & real)
        if dup.any():
            first_row: dict[Any, int] = {}
            for i in np.flatnonzero(real):
                first_row.setdefault(ids_arr[i], int(rows[i]))
            pos = np.flatnonzero(dup)
            F.cells("duplicate_id", rid, pos, [cell_text(ids_arr[p]) for p in pos],
                    [f"respondent id {ids_arr[p]} already on row {first_row[ids_arr[p]]}" for p in pos])
    if duplicate_columns is None:
        dcols = [c for c in df.columns if c != rid]
        desc = "all columns except the respondent id"
    elif duplicate_columns == "answers":
        dcols = item_ids + ac_ids + [q.id for q in inst.demographics if q.id in df.columns]
        desc = "the answers (items, attention checks, demographics)"
    else:
        dcols = [str(c) for c in duplicate_columns]
        missing = [c for c in dcols if c not in df.columns]
        if missing:
            raise ValueError(f"duplicate_columns not in the data: {', '.join(missing)}")
        desc = ", ".join(dcols)
    settings["duplicate_columns"] = desc
    if dcols and n > 1:
        key = df[dcols].astype(str)
        h = pd.util.hash_pandas_object(key, index=False).to_numpy()
        hs = pd.Series(h)
        dup = hs.duplicated(keep="first").to_numpy()
        if dup.any():
            first: dict[int, int] = {}
            for i, x in enumerate(h):
                first.setdefault(int(x), int(rows[i]))
            pos = np.flatnonzero(dup)
            F.cells("duplicate_row", None, pos, [None] * len(pos),
                    [f"identical to row {first[int(h[p])]} in {desc}" for p in pos])

    coded_df = pd.DataFrame(coded, index=pd.Index(rows, name="row"))
    dup_stats = duplicate_patterns(coded_df[item_ids], [inst.scale_of(i).points for i in item_ids],
                                   groups=[(inst.scale_of(i).min, inst.scale_of(i).max) for i in item_ids]) \
        if item_ids else None
    col_order = {c: i for i, c in enumerate(list(coded) + [c for c in df.columns if c not in coded])}
    if mapping is not None:
        for i, c in enumerate(mapping.table.column):
            col_order.setdefault(c, len(col_order) + i)
    findings = F.table(col_order)
    return ValidationReport(findings=findings, data=coded_df, n_rows=n, settings=settings,
                            source=source, mapping=mapping, privacy=privacy, duplicates=dup_stats)


def _point_text(sc: Scale, value: int) -> str:
    labs = [sc.labels[lg][value - sc.min] for lg in sc.labels
            if sc.min <= value <= sc.max and sc.labels[lg][value - sc.min] is not None]
    return f"{value} ({'/'.join(labs)})" if labs else str(value)


def _tally_out_of_range(outside: dict, scale: Scale, col: str, codes: np.ndarray, res: list[Coded]) -> None:
    """Record, per scale, the whole numbers outside the scale found in one column."""
    wrong = [j for j, r in enumerate(res) if r.status == "out_of_range" and math.isfinite(r.found)
             and float(r.found).is_integer()]
    if not wrong:
        return
    counts = np.bincount(codes[codes >= 0], minlength=len(res))
    found: dict[int, int] = {}
    for j in wrong:
        found[int(res[j].found)] = found.get(int(res[j].found), 0) + int(counts[j])
    numeric = int(sum(counts[j] for j, r in enumerate(res) if r.status in ("ok", "converted", "out_of_range")))
    outside.setdefault(scale.id, []).append((col, dict(sorted(found.items())), sum(found.values()), numeric))


def _stop_on_wrong_scale(inst: Instrument, outside: dict, share: float | None, source: Any) -> None:
    """InstrumentError when answers systematically fall outside a declared scale."""
    if share is None:
        return
    for sid, cols in outside.items():
        bad = [c for c in cols if c[2] >= 3 and c[2] > share * c[3]]
        if not bad:
            continue
        sc = inst.scales[sid]
        every: dict[int, int] = {}
        for _, found, _, _ in bad:
            for k, v in found.items():
                every[k] = every.get(k, 0) + v
        lo, hi = min([sc.min, *every]), max([sc.max, *every])
        shown = bad[:8]
        parts = [f"{col}: {', '.join(f'{k} ({v}x)' for k, v in found.items())} = {n_out} of {n_num} answers"
                 for col, found, n_out, n_num in shown]
        more = f"; and {len(bad) - len(shown)} more columns" if len(bad) > len(shown) else ""
        where = f" in {source.file}" if getattr(source, "file", None) else ""
        total = sum(c[2] for c in bad)
        raise InstrumentError(
            inst.path or inst.id, f"scales.{sid}",
            f"scale {sid!r} is declared {sc.range_text} ({sc.points} points), but {total} answers{where} lie outside "
            f"it in {len(bad)} column{'s' if len(bad) != 1 else ''}: " + "; ".join(parts) + more
            + "; these answers would be blanked",
            hint=f"if the items really run {lo}-{hi}, declare scales.{sid} with min: {lo} and max: {hi}; "
                 f"if a number is a code for 'no answer', pass it as a missing value (missing_values=[...])")


def _same(a: Any, b: Any) -> bool:
    try:
        return float(a) == float(b)
    except (TypeError, ValueError):
        return str(a) == str(b)

"""From a data file to analysis data, in one call.

* :func:`prepare_responses`: survey responses to an instrument -> clean, scored, PII-free data.
* :func:`read_model_data`: any data file -> the numeric variables a model needs (and a group
  column), nothing else (so no personal data goes further).
"""
from __future__ import annotations

import difflib
import html
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

import numpy as np
import pandas as pd

from ..errors import CRMResearchError, DataFileError
from ..instruments import Instrument, load_instrument
from ._text import soft
from .cleaning import apply_policies, reverse_code
from .coding import MISSING_TOKENS
from .mapping import ColumnMapping, map_columns, resolve_column_map
from .reading import SourceInfo, frame_responses, read_table
from .scoring import score_responses
from .validation import ValidationReport, validate_responses


@dataclass
class ResponseSet:
    """Validated, cleaned and scored survey responses, with personal data removed.

    Attributes
    ----------
    data : DataFrame
        Kept respondents (index ``row`` = spreadsheet row): respondent id, items
        (**reverse-coded** where the instrument says ``reverse: true``; ``data.attrs
        ["reverse_coded"]`` lists them), attention checks, demographics (codes), duration in
        seconds, and ``flag_<check>`` columns for flagged checks.
    scores : DataFrame
        Same rows: mean score per first-order dimension and per higher-order construct.
    report : ValidationReport
        Every finding, and what the cleaning policies did.
    mapping : ColumnMapping
        Which file column holds which variable.
    source : SourceInfo
        File, format, encoding, sha256, rows.
    privacy : PrivacyReport
        Personal-data columns dropped or pseudonymized, free-text cells redacted (no values).
    excluded : DataFrame
        Dropped respondents: ``row, respondent, checks``.
    other : DataFrame
        The file's other columns for the kept respondents (metadata, free text with PII
        redacted, pseudonyms of personal-data fields).

    Examples
    --------
    >>> rs = prepare_responses("surveys/examples/wjx_ecommerce_crm_gbk.csv", "surveys/ecommerce_crm.yaml",
    ...                        salt="my-project")
    >>> len(rs.data), rs.report.n_rows, rs.source.encoding
    (136, 143, 'gb18030')
    """

    data: pd.DataFrame
    scores: pd.DataFrame
    report: ValidationReport
    mapping: ColumnMapping
    source: SourceInfo
    privacy: Any
    excluded: pd.DataFrame
    other: pd.DataFrame
    instrument: str = ""
    options: dict[str, Any] = field(default_factory=dict)

    item_ids: list[str] = field(default_factory=list)

    @property
    def items(self) -> pd.DataFrame:
        """Item answers only (reverse-coded), for measurement and SEM."""
        return self.data[[c for c in self.item_ids if c in self.data.columns]]

    def describe_scores(self) -> pd.DataFrame:
        """n, mean, sd, min, max per score (sd with n - 1)."""
        s = self.scores.drop(columns=[c for c in self.scores.columns if not pd.api.types.is_float_dtype(self.scores[c])])
        return pd.DataFrame({"n": s.notna().sum(), "mean": s.mean(), "sd": s.std(ddof=1),
                             "min": s.min(), "max": s.max()}).rename_axis("score").reset_index()

    def summary(self) -> str:
        lines = [f"ResponseSet: {len(self.data)} of {self.report.n_rows} respondents kept "
                 f"({len(self.excluded)} excluded), {len(self.scores.columns) - 1} scores"]
        lines.append(self.mapping.summary())
        lines.append(self.privacy.summary())
        lines.append(self.report.summary())
        return "\n".join(lines)

    def __repr__(self) -> str:
        return (f"ResponseSet({len(self.data)} of {self.report.n_rows} respondents kept, "
                f"{self.report.n_errors} errors, {self.report.n_warnings} warnings; source {self.source.file})")

    def _repr_html_(self) -> str:
        from ._render import table_html

        return (f"<p><b>ResponseSet</b>: {len(self.data)} of {self.report.n_rows} respondents kept "
                f"({len(self.excluded)} excluded) from <code>{html.escape(self.source.summary())}</code></p>"
                + self.report.to_html(max_rows=50, full_page=False)
                + "<h2>Scores</h2>" + table_html(self.describe_scores().round(3)))


def _as_instrument(instrument: Instrument | str | Path) -> Instrument:
    if isinstance(instrument, Instrument):
        return instrument
    return load_instrument(instrument)


def prepare_responses(source: str | Path | pd.DataFrame, instrument: Instrument | str | Path, *,
                      column_map: Mapping[str, Any] | str | Path | list | None = None,
                      policies: Mapping[str, str] | Iterable[str] | None = None,
                      salt: str | bytes | None = None, pii_policy: str = "pseudonymize",
                      sheet: str | int | None = None, encoding: str | None = None, delimiter: str | None = None,
                      min_seconds: float | None = None, speed_ratio: float | None = 1 / 3,
                      straight_min_share: float = 0.5, longstring: int | None = None,
                      duplicate_columns: str | list[str] | None = None, missing_values: Iterable[str] = (),
                      min_valid: float | int = 0.5, require_all_items: bool = True,
                      map_label: str = "column_map") -> ResponseSet:
    """Read, map, protect, validate, clean and score a response file in one call.

    Order of work: read the file; map its columns (headers only); drop or pseudonymize
    personal data (:func:`~crm_research.privacy.protect`) -- from here on no step sees a raw
    phone number or e-mail; code and validate answers; apply cleaning policies; reverse-code;
    score. The raw cells are not kept on the result.

    Parameters
    ----------
    source : path or DataFrame
        CSV / Excel / SPSS / Parquet file (see :func:`~crm_research.responses.read_table`) or
        a DataFrame.
    instrument : Instrument or path to its YAML
    column_map : YAML path, dict or list of "COLUMN=ID" strings, optional
        ``{file column: variable id}`` for columns automatic matching cannot map (see
        :func:`~crm_research.responses.parse_column_map`).
    policies : mapping or iterable of "check=policy", optional
        Cleaning policies (drop / flag / keep) overriding
        :data:`~crm_research.responses.DEFAULT_POLICIES`.
    salt : str or bytes, optional
        Salt for pseudonyms (stable across runs); default random per run and discarded.
    pii_policy : {"pseudonymize", "drop"}
        What to do with detected, undeclared personal-data columns.
    sheet, encoding, delimiter
        Passed to :func:`~crm_research.responses.read_table`.
    min_seconds, speed_ratio, straight_min_share, longstring, duplicate_columns, missing_values
        Passed to :func:`validate_responses`.
    min_valid : float or int
        Minimum share / number of valid items per score (see :func:`score_responses`).
    require_all_items : bool
        Raise when an item has no column (default). With False, missing items are
        reported (``missing_column``) and count as unanswered in the ``min_valid`` rule.
    map_label : str
        How ``COLUMN=ID`` pairs are named in messages (the CLI passes ``"--map"``).

    Notes
    -----
    Without a respondent-id column (``instrument.respondent_id`` or a platform name such as
    ``序号`` / ``ResponseId``) ids ``row<N>`` are generated from the spreadsheet rows and a
    ``respondent_id_generated`` warning is reported (duplicate ids cannot be checked then);
    an empty id cell gets ``row<N>`` with a ``missing_id`` warning.

    Returns
    -------
    ResponseSet

    Raises
    ------
    DataFileError
        Unreadable file, or items without a column (listing them, with the unmapped and
        ambiguous columns to map).

    Examples
    --------
    >>> rs = prepare_responses("surveys/examples/wjx_ecommerce_crm_gbk.csv", "surveys/ecommerce_crm.yaml",
    ...                        salt="my-project")
    >>> rs
    ResponseSet(136 of 143 respondents kept, 9 errors, 14 warnings; source surveys/examples/wjx_ecommerce_crm_gbk.csv)
    >>> rs.scores[["OPS", "CRM", "SAT", "LOY"]].mean().round(2).to_dict()
    {'OPS': 3.6, 'CRM': 3.64, 'SAT': 3.56, 'LOY': 3.5}
    """
    from ..privacy import protect

    inst = _as_instrument(instrument)
    raw = frame_responses(source) if isinstance(source, pd.DataFrame) else \
        read_table(source, sheet=sheet, encoding=encoding, delimiter=delimiter)
    raw, column_map = _safe_headers(raw, salt, column_map, map_label)
    src = raw.source
    mapping = map_columns(raw.data.columns, inst, column_map, raw.labels, map_label=map_label)
    missing_items = mapping.missing_items
    if missing_items and (require_all_items or len(missing_items) == len(inst.item_ids)):
        amb = [f"{r.column!r} ({r.candidates})" for r in mapping.table.itertuples(index=False)
               if r.method in ("ambiguous", "conflict")]
        unm = mapping.unmapped
        bits = []
        if amb:
            bits.append("ambiguous columns: " + "; ".join(amb[:6]))
        if unm:
            bits.append("unmapped columns: " + ", ".join(repr(c) for c in unm[:8]) + (" ..." if len(unm) > 8 else ""))
        raise DataFileError(
            src.file, f"no column found for {len(missing_items)} of {len(inst.item_ids)} items: "
                      f"{', '.join(missing_items)}" + (f" ({'; '.join(bits)})" if bits else ""),
            hint="name the columns by item id, or map them: --map COLUMN=ID (e.g. --map Q1=PF1) or a column map "
                 "file --map MAP.yaml with lines like '\"1、您对商品搜索便捷性的评价\": PF1'")

    # headers only so far; now rename and protect before anything reads the cells
    rename = mapping.rename
    taken = set(rename.values())
    cols = []
    for c in raw.data.columns:
        if c in rename:
            cols.append(rename[c])
        elif c in taken:
            cols.append(f"{c} (unmapped)")
        else:
            cols.append(c)
    df = raw.data.set_axis(cols, axis=1)
    value_labels = {rename.get(k, k): v for k, v in raw.value_labels.items()}
    del raw
    declared = {p.id: p.policy for p in inst.personal_data if p.id in df.columns}
    kinds = {p.id: p.kind for p in inst.personal_data}
    answer_ids = set(inst.item_ids) | {a.id for a in inst.attention_checks} | {q.id for q in inst.demographics} \
        | {inst.duration_column or "duration_sec"}
    skip = [c for c in df.columns if c in answer_ids]
    # a declared field the mapping did not find keeps its policy for a column detected as its kind
    by_kind: dict[str, str] = {}
    for p in inst.personal_data:
        if p.id not in df.columns:
            by_kind[p.kind] = "drop" if by_kind.get(p.kind) == "drop" else p.policy
    protected, privacy = protect(df, declared=declared, policy=pii_policy, salt=salt, skip=skip, kinds=kinds,
                                 policy_by_kind=by_kind, ids=[inst.respondent_id])
    del df
    value_labels = {k: v for k, v in value_labels.items() if k in protected.columns and k not in declared}

    report = validate_responses(protected, inst, min_seconds=min_seconds, speed_ratio=speed_ratio,
                                straight_min_share=straight_min_share, longstring=longstring,
                                duplicate_columns=duplicate_columns, missing_values=missing_values,
                                value_labels=value_labels, mapping=mapping, privacy=privacy, source=src)
    inverse = {v: k for k, v in rename.items()}
    report.findings["file_column"] = pd.Series(
        [inverse.get(c, c) if c is not None else None for c in report.findings["column"]],
        index=report.findings.index, dtype=object)

    data, excluded, _ = apply_policies(report, policies)
    data = reverse_code(data, inst)
    scores = score_responses(data, inst, min_valid=min_valid, reverse=False)
    instrument_cols = set(report.data.columns)
    other_cols = [c for c in protected.columns if c not in instrument_cols]
    other = protected.loc[:, other_cols].copy()
    other.index = report.data.index
    other = other.loc[data.index]
    options = dict(instrument=inst.id, instrument_version=inst.version,
                   policies=report.policies, pii_policy=pii_policy, salt=privacy.salt_source,
                   min_seconds=report.settings.get("min_seconds"), speed_ratio=speed_ratio,
                   straight_min_share=straight_min_share, longstring=longstring,
                   duplicate_columns=report.settings.get("duplicate_columns"), min_valid=min_valid,
                   reverse_coded=list(data.attrs.get("reverse_coded", [])))
    return ResponseSet(data=data, scores=scores, report=report, mapping=mapping, source=src, privacy=privacy,
                       excluded=excluded, other=other, instrument=inst.id, options=options,
                       item_ids=list(inst.item_ids))


def _safe_headers(raw: Any, salt: Any, column_map: Any, map_label: str) -> tuple[Any, Any]:
    """Headers (and question and value labels, the file and sheet names) with the personal
    data in them replaced by pseudonyms.

    Done right after reading, so a phone number or e-mail typed into a header never reaches
    the mapping, findings, reports or the console. A column map naming such a header by its
    original text is translated to the new name.
    """
    import dataclasses

    from ..privacy import make_salt, redact_headers, redact_text
    from .mapping import parse_column_map

    key, _ = make_salt(salt)
    renames = redact_headers(raw.data.columns, key)
    labels = {}
    for k, v in raw.labels.items():
        labels[renames.get(k, k)] = redact_text(str(v), key)[0]
    source = raw.source
    changed = {}
    for attr in ("file", "sheet"):   # a file or sheet named after a person's phone number
        v = getattr(source, attr, None)
        if isinstance(v, str) and v:
            safe, kinds = redact_text(v, key)
            if kinds:
                changed[attr] = safe
    if changed:
        source = dataclasses.replace(source, **changed)
    vlabels = {renames.get(k, k): {code: redact_text(str(lab), key)[0] if isinstance(lab, str) else lab
                                   for code, lab in v.items()} for k, v in raw.value_labels.items()}
    if not renames and labels == raw.labels and not changed and vlabels == raw.value_labels:
        return raw, column_map
    data = raw.data.rename(columns=renames) if renames else raw.data
    if column_map is not None and renames:
        by_text = {str(k): v for k, v in renames.items()}
        entries = parse_column_map(column_map, label=map_label)
        if any(e.column in by_text or (e.pair and e.target in by_text) for e in entries):
            translated = {}
            for e in entries:
                if e.pair and e.target in by_text and e.column not in by_text:
                    translated[by_text[e.target]] = e.column   # ID=COLUMN, the older order
                else:
                    translated[by_text.get(e.column, e.column)] = e.target
            column_map = translated
    return type(raw)(data, source, labels, vlabels), column_map


# --------------------------------------------------------------------------- model data
@dataclass
class ModelData:
    """The variables a model needs, read from a data file (see :func:`read_model_data`).

    Attributes
    ----------
    data : DataFrame
        The variables as floats (NaN = no answer) and the group column as read; index
        ``row`` = spreadsheet row.
    source : SourceInfo
        File, format, encoding, delimiter, sheet, rows.
    notes : list of str
        Notes about the column map (pairs read the other way round).
    rows : int
        Data rows read.

    Examples
    --------
    >>> md = read_model_data("tests/reference/lavaan/HolzingerSwineford1939.csv", ["x1", "x2"], group="school")
    >>> md.data.shape, md.source.format
    ((301, 3), 'csv')
    """

    data: pd.DataFrame
    source: SourceInfo
    notes: list[str] = field(default_factory=list)
    rows: int = 0


def _shown(value: Any) -> str:
    """A cell as an error message may show it: personal data redacted, long text truncated."""
    from ..privacy import redact_text, truncate

    return truncate(redact_text(str(value))[0], 200)


def _numeric_column(col: pd.Series, name: str, file: str) -> pd.Series:
    if pd.api.types.is_bool_dtype(col):
        return col.astype(float)
    if pd.api.types.is_numeric_dtype(col):
        return col.astype(float)
    out = np.full(len(col), np.nan)
    for i, v in enumerate(col.to_numpy(dtype=object)):
        if v is None or v is pd.NA or v is pd.NaT or (isinstance(v, float) and np.isnan(v)):
            continue
        if isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_)):
            out[i] = float(v)
            continue
        t = soft(str(v)).strip()
        if t.casefold() in MISSING_TOKENS:
            continue
        try:
            x = float(t)
        except ValueError:
            x = float("nan")
        if not np.isfinite(x):
            row = col.index[i]
            raise DataFileError(file, "not a number", row=int(row) if isinstance(row, (int, np.integer)) else None,
                                column=name, value=_shown(v),
                                hint="model variables must be numeric; recode the answers or leave the cell blank "
                                     "(NA, '.', and empty cells count as missing)")
        out[i] = x
    return pd.Series(out, index=col.index, name=name)


def read_model_data(source: str | Path | pd.DataFrame, variables: Iterable[str], *, group: str | None = None,
                    column_map: Any = None, sheet: str | int | None = None, encoding: str | None = None,
                    delimiter: str | None = None, map_label: str = "column_map") -> ModelData:
    """The numeric variables of a model (and a group column) from a data file.

    The file is read by :func:`~crm_research.responses.read_table`; ``column_map`` renames
    file columns to model variables (``{file column: variable}``, any form of
    :func:`~crm_research.responses.parse_column_map`). Only the model's variables and the group
    column are kept, so no other column (names, phone numbers ...) goes further; a group
    column whose header names personal data is refused. Cells that are empty or a
    missing-value token (``NA``, ``.``, ``n/a`` ...) become NaN; any other cell that is not a
    number is an error naming its row and column.

    Parameters
    ----------
    source : path or DataFrame
    variables : iterable of str
        The model's observed variables.
    group : str, optional
        Column defining groups (kept as read).
    column_map, sheet, encoding, delimiter, map_label
        As for :func:`prepare_responses`.

    Returns
    -------
    ModelData

    Raises
    ------
    DataFileError
        Unreadable file, a variable or the group column without a column (listing the
        columns), a cell that is not a number.
    ConfigError
        A bad column map.

    Examples
    --------
    >>> from crm_research.responses import read_model_data
    >>> md = read_model_data("tests/reference/lavaan/hs_missing.csv", ["x1", "x2", "x3"], group="school")
    >>> md.data.shape, int(md.data["x2"].isna().sum()) > 0
    ((301, 4), True)
    """
    from ..privacy import header_kind

    raw = frame_responses(source) if isinstance(source, pd.DataFrame) else \
        read_table(source, sheet=sheet, encoding=encoding, delimiter=delimiter)
    raw, column_map = _safe_headers(raw, None, column_map, map_label)
    file = raw.source.file
    variables = list(dict.fromkeys(str(v) for v in variables))
    wanted = variables + ([group] if group is not None and group not in variables else [])
    cmap, notes = resolve_column_map(column_map, raw.data.columns, wanted, label=map_label,
                                     file_what="the data file", target_what="model variable",
                                     target_hint="map columns to the model's variables"
                                                 + (" or the group column" if group else ""))
    rename = {c: t for c, t in cmap.items() if t is not None}
    df = raw.data.drop(columns=[c for c, t in cmap.items() if t is None])
    clash = [c for c in df.columns if c in set(rename.values()) and c not in rename]
    df = df.drop(columns=clash).rename(columns=rename)
    cols = list(df.columns)
    absent = [v for v in wanted if v not in cols]
    if absent:
        lower = {c.casefold(): c for c in cols}
        near = [(v, lower.get(v.casefold()) or next(iter(difflib.get_close_matches(v, cols, n=1)), None)) for v in absent]
        sugg = "; ".join(f"{v} -> {c!r}?" for v, c in near if c)
        what = "group column not found" if absent == [group] else \
            f"no column for the model variable(s) {', '.join(absent)}"
        raise DataFileError(file, what, column=absent[0],
                            hint=(f"{sugg}; " if sugg else "") + "name the column in the model, or map a file column "
                                 f"with --map COLUMN={'GROUP' if absent == [group] else 'VARIABLE'}; columns in the "
                                 f"file: {', '.join(cols[:25])}" + (" ..." if len(cols) > 25 else ""))
    if group is not None and header_kind(group):
        raise DataFileError(file, f"the group column looks like personal data ({header_kind(group)})", column=group,
                            hint="group by a non-identifying column")
    out = df[wanted].copy()
    for v in variables:
        out[v] = _numeric_column(out[v], v, file)
    return ModelData(out, raw.source, notes, rows=raw.source.rows)


# --------------------------------------------------------------------------- writing
OUTPUT_FILES = {
    "report_html": "validation_report.html",
    "report_md": "validation_report.md",
    "findings": "findings.csv",
    "mapping": "mapping.csv",
    "data": "clean.csv",
    "scores": "scores.csv",
    "excluded": "excluded.csv",
    "provenance": "provenance.json",
}


def _csv_ready(df: pd.DataFrame) -> pd.DataFrame:
    """Whole-number float columns as nullable integers, so a Likert 4 is written ``4``."""
    out = df.copy()
    for c in out.columns:
        col = out[c]
        if pd.api.types.is_float_dtype(col):
            v = col.to_numpy(dtype=float)
            ok = v[~np.isnan(v)]
            if len(ok) and np.all(ok == np.round(ok)) and np.all(np.abs(ok) < 2 ** 53):
                out[c] = col.astype("Int64")
    return out


def write_outputs(rs: ResponseSet, out_dir: str | Path, *, force: bool = False) -> dict[str, Path]:
    """Write the report and the cleaned data of a prepared response set into ``out_dir``.

    The report (HTML, Markdown), findings, mapping, cleaned data, scores, excluded
    respondents and a provenance JSON. CSVs are UTF-8 with BOM (Excel opens them
    correctly).

    Parameters
    ----------
    rs : ResponseSet
        :func:`prepare_responses`.
    out_dir : path
        Folder to write into (created if needed).
    force : bool
        Overwrite existing files (otherwise they are an error).

    Returns
    -------
    dict of str to Path
        What was written, keyed as in :data:`OUTPUT_FILES`.

    Examples
    --------
    >>> import tempfile
    >>> rs = prepare_responses("surveys/examples/wjx_ecommerce_crm_gbk.csv", "surveys/ecommerce_crm.yaml",
    ...                        salt="my-project")
    >>> paths = write_outputs(rs, tempfile.mkdtemp())
    >>> all(p.is_file() for p in paths.values()), paths["report_md"].suffix
    (True, '.md')
    """
    from .. import __version__

    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise CRMResearchError(f"{out}: exists and is not a folder", hint="choose another output folder (-o)")
    paths = {k: out / v for k, v in OUTPUT_FILES.items()}
    existing = [p.name for p in paths.values() if p.exists()]
    if existing and not force:
        raise CRMResearchError(f"{out}: would overwrite existing outputs {', '.join(existing)}",
                               hint="pass --force to overwrite, or choose another output folder (-o)")
    out.mkdir(parents=True, exist_ok=True)
    paths["report_html"].write_text(rs.report.to_html(), encoding="utf-8")
    paths["report_md"].write_text(rs.report.to_markdown(), encoding="utf-8")
    rs.report.findings.to_csv(paths["findings"], index=False, encoding="utf-8-sig")
    rs.mapping.table.to_csv(paths["mapping"], index=False, encoding="utf-8-sig")
    _csv_ready(rs.data).to_csv(paths["data"], encoding="utf-8-sig")
    rs.scores.to_csv(paths["scores"], encoding="utf-8-sig")
    rs.excluded.to_csv(paths["excluded"], index=False, encoding="utf-8-sig")
    prov = dict(tool=f"crm-research {__version__}", source=rs.source.to_dict(), options=rs.options,
                rows=rs.report.n_rows, kept=len(rs.data), excluded=len(rs.excluded),
                findings={r.check: int(r.findings) for r in rs.report.counts.itertuples(index=False)},
                privacy=rs.privacy.table.to_dict(orient="records"))
    paths["provenance"].write_text(json.dumps(prov, ensure_ascii=False, indent=2, default=str), encoding="utf-8")
    return paths

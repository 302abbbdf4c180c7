"""Key results a notebook records for cross-run comparison.

Inside a notebook::

    from crm_research import reporting
    reporting.record("cfi", fit["cfi"], label="CFI", decimals=3, bounded=True)
    reporting.record("n_valid", len(scores), label="valid responses")
    reporting.record_table("hypotheses", hypotheses_df)

When the batch runner executes the notebook it sets ``CRM_RESEARCH_RUN_DIR`` for the
kernel; records are appended to ``$CRM_RESEARCH_RUN_DIR/results/records.jsonl`` and tables
written to ``results/<name>.parquet`` (+ ``.csv``). The runner collects them into the
batch's tidy ``results.csv`` / ``results.parquet`` (one row per run and key) and
``tables/<name>.csv`` (all runs stacked, with a ``run`` column). Run interactively (the
variable unset), :func:`record` only displays the value: the same notebook works both ways.
"""
from __future__ import annotations

import html
import json
import math
import numbers
import os
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Mapping

RUN_DIR_ENV = "CRM_RESEARCH_RUN_DIR"
RESULTS_DIR = "results"
RECORDS_FILE = "records.jsonl"
_KEY_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]{0,99}$")


@dataclass(frozen=True)
class Record:
    """One recorded key result.

    Attributes
    ----------
    key : str
        Machine name (``cfi``, ``h1_beta``), unique within a run.
    value : float, int, str, bool or None
    label : str
        Human label (defaults to ``key``).
    unit : str or None
        Appended to the formatted value (``"%"``, ``"s"``, ``"CNY"``).
    decimals : int or None
        Decimals for display (default: 3 for floats).
    bounded : bool
        Value cannot exceed 1 in absolute value: display without leading zero (APA).
    headline : bool
        Show on the batch index page.
    """

    key: str
    value: Any
    label: str
    unit: str | None = None
    decimals: int | None = None
    bounded: bool = False
    headline: bool = True

    @property
    def text(self) -> str:
        """The value formatted for display (APA number style)."""
        return format_value(self.value, self.decimals, self.bounded, self.unit)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def __repr__(self) -> str:
        return f"{self.label} = {self.text}"

    def _repr_html_(self) -> str:
        return (f'<div class="crm-record" style="display:inline-flex;gap:8px;align-items:baseline;'
                f'padding:4px 12px;border:1px solid #d9e2ec;border-radius:6px;margin:4px 0">'
                f'<span class="k" style="color:#616e7c;font-size:13px">{html.escape(self.label)}</span>'
                f'<span class="v" style="font-weight:650;font-size:16px">{html.escape(self.text)}</span></div>')


def format_value(value: Any, decimals: int | None = None, bounded: bool = False,
                 unit: str | None = None) -> str:
    """Format a recorded value: numbers APA-style (3 decimals by default), text as is."""
    from .format import format_number

    if value is None or (isinstance(value, float) and math.isnan(value)):
        s = "\u2014"
    elif isinstance(value, bool):
        s = "yes" if value else "no"
    elif isinstance(value, numbers.Integral):
        s = format_number(int(value), 0)
    elif isinstance(value, numbers.Real):
        s = format_number(float(value), 3 if decimals is None else decimals, bounded=bounded)
    else:
        s = str(value)
    if unit and s != "\u2014":
        s = f"{s}{unit}" if unit in ("%", "\u2030") else f"{s} {unit}"
    return s


def _clean_value(key: str, value: Any) -> Any:
    """Plain JSON-able Python value (numpy/pandas scalars unwrapped) or TypeError."""
    if hasattr(value, "item") and callable(value.item) and getattr(value, "shape", None) == ():
        value = value.item()  # numpy scalar / 0-d array
    try:
        import pandas as pd

        if value is pd.NA or value is pd.NaT:
            return None
    except ImportError:  # pragma: no cover
        pass
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        v = float(value)
        return None if math.isnan(v) else v
    raise TypeError(f"record({key!r}, ...): value must be a number, text, bool or None, got "
                    f"{type(value).__name__}; record tables with record_table()")


def _check_key(kind: str, key: Any) -> str:
    if not isinstance(key, str) or not _KEY_RE.match(key):
        raise ValueError(f"{kind} name {key!r}: use letters, digits, '_', '.', '-' "
                         "(starting with a letter or '_', at most 100 characters)")
    return key


_SESSION: dict[str, Record] = {}


class RecordSet(list):
    """Records of this session, displayed as one row of headline figures."""

    def __repr__(self) -> str:
        return "\n".join(repr(r) for r in self)

    def _repr_html_(self) -> str:
        cells = "".join(
            f'<div style="border:1px solid #d9e2ec;border-radius:6px;padding:6px 14px;min-width:7em">'
            f'<div style="color:#616e7c;font-size:12px">{html.escape(r.label)}</div>'
            f'<div style="font-weight:650;font-size:18px;font-variant-numeric:tabular-nums">{html.escape(r.text)}</div></div>'
            for r in self)
        return f'<div class="crm-records" style="display:flex;flex-wrap:wrap;gap:10px;margin:8px 0">{cells}</div>'


def recorded(headline_only: bool = False) -> RecordSet:
    """The values recorded so far in this session (display it to show them as one row)."""
    return RecordSet(r for r in _SESSION.values() if r.headline or not headline_only)


def run_dir() -> Path | None:
    """The current batch run's output folder, or None when not run by the batch runner."""
    d = os.environ.get(RUN_DIR_ENV)
    return Path(d) if d else None


def _display(obj: Any) -> None:
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:  # pragma: no cover
        return
    if get_ipython() is not None:
        display(obj)


def record(key: str, value: Any, *, label: str | None = None, unit: str | None = None,
           decimals: int | None = None, bounded: bool = False, headline: bool = True,
           display: bool = True) -> None:
    """Record a key result of this notebook run (and display it).

    Parameters
    ----------
    key : str
        Machine name, unique within the run (a later call with the same key replaces it).
    value : number, str, bool or None
        numpy / pandas scalars are accepted; NaN is stored as missing.
    label : str, optional
        Human label shown in reports and on the batch index (default: ``key``).
    unit : str, optional
        Unit appended for display (``"%"``, ``"s"``).
    decimals : int, optional
        Display decimals (default 3 for non-integers). The stored value is never rounded.
    bounded : bool
        The quantity cannot exceed 1 (CFI, p, r): display without leading zero.
    headline : bool
        List it among the run's headline figures on the batch index page.
    display : bool
        Show the recorded value in the notebook output (or pass False for several values
        and show them together with ``recorded()``).

    Examples
    --------
    >>> record("cfi", 0.9712, label="CFI", bounded=True, display=False)  # no-op outside a batch
    """
    key = _check_key("record key", key)
    rec = Record(key=key, value=_clean_value(key, value), label=label or key, unit=unit,
                 decimals=decimals, bounded=bool(bounded), headline=bool(headline))
    _SESSION[key] = rec
    d = run_dir()
    if d is not None:
        out = d / RESULTS_DIR
        out.mkdir(parents=True, exist_ok=True)
        with open(out / RECORDS_FILE, "a", encoding="utf-8") as f:
            f.write(json.dumps(rec.to_dict(), ensure_ascii=False, allow_nan=False) + "\n")
    if display:
        _display(rec)


def record_table(name: str, table: Any, *, display: bool = False) -> Path | None:
    """Record a table result (e.g. the hypothesis tests) for cross-run comparison.

    Parameters
    ----------
    name : str
        Table name; the batch writes all runs' tables of this name stacked into
        ``tables/<name>.csv`` / ``.parquet`` with a leading ``run`` column.
    table : pandas.DataFrame or APATable
        Tidy data (an :class:`~crm_research.reporting.tables.APATable` contributes its
        unformatted ``data``). The index is kept as columns if it is named.
    display : bool
        Also display the table.

    Returns
    -------
    Path or None
        The Parquet file written, or None outside a batch run.
    """
    import pandas as pd

    name = _check_key("table", name)
    df = getattr(table, "data", table)
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"record_table({name!r}, ...): expected a DataFrame, got {type(table).__name__}")
    if any(n is not None for n in df.index.names):
        df = df.reset_index()
    else:
        df = df.reset_index(drop=True)
    df = df.copy()
    # pandas writes DataFrame.attrs into Parquet metadata as JSON; attrs may hold arbitrary
    # objects (e.g. the fitted models behind invariance.compare_paths), which are not results.
    df.attrs = {}
    df.columns = [str(c) for c in df.columns]
    if display:
        _display(table)
    d = run_dir()
    if d is None:
        return None
    out = d / RESULTS_DIR
    out.mkdir(parents=True, exist_ok=True)
    for c in df.columns:  # mixed object columns -> text, so Parquet can store them
        if df[c].dtype == object:
            kinds = {type(v) for v in df[c].dropna()}
            if len(kinds) > 1 or (kinds and not kinds <= {str}):
                df[c] = df[c].map(lambda v: None if v is None or (isinstance(v, float) and math.isnan(v)) else str(v))
    path = out / f"{name}.parquet"
    df.to_parquet(path, index=False)
    df.to_csv(out / f"{name}.csv", index=False)
    return path


# --------------------------------------------------------------------------- runner side
def read_records(directory: str | os.PathLike) -> list[dict[str, Any]]:
    """Records written in ``directory`` (a run folder), last value per key, in first-seen order."""
    path = Path(directory) / RESULTS_DIR / RECORDS_FILE
    if not path.exists():
        return []
    recs: dict[str, dict[str, Any]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            r = json.loads(line)
            recs[r["key"]] = r  # a repeated key keeps its first position, takes the last value
    return list(recs.values())


def recorded_tables(directory: str | os.PathLike) -> dict[str, Path]:
    """Tables recorded in a run folder: name -> Parquet path."""
    d = Path(directory) / RESULTS_DIR
    return {p.stem: p for p in sorted(d.glob("*.parquet"))} if d.is_dir() else {}


# --------------------------------------------------------------------------- records of a study's runs
# Headline figures of the survey notebooks (sample, fit, hypotheses, mediation, relative
# effects, measurement, group comparison). Keys are generic: hypothesis ids and effect names
# come from the instrument (``h1_beta``, ``ind_X_Y``), never from a particular study.
def _rec(key: str, value: Any, *, headline: bool = True, **kw: Any) -> None:
    """record() shown in the notebook exactly when it is a headline figure."""
    record(key, value, headline=headline, display=headline, **kw)


def record_sample(sample: Any, missing: str | None = None, *, nobs: int | None = None,
                  items: Any = None) -> None:
    """Record the sample's size: rows, kept, excluded, complete cases, origin and the N analysed.

    Parameters
    ----------
    sample : StudySample
    missing : {"ml", "listwise"}, optional
        The run's missing-data treatment (recorded as ``missing``); ``n`` is then the number
        of respondents it uses (over ``items``), else the kept respondents.
    nobs : int, optional
        The N an estimation reported; recorded as ``n`` instead of the count.
    items : list of str, optional
        Items the analysis uses (default: all).

    Examples
    --------
    >>> record_sample(sample, "ml")            # doctest: +SKIP
    """
    _rec("n_rows", sample.n_rows, label="respondents (rows)", headline=False)
    _rec("n_kept", sample.n_kept, label="kept after cleaning", headline=False)
    _rec("n_excluded", sample.n_excluded, label="excluded", headline=False)
    _rec("n_complete", sample.n_complete, label="complete on all items", headline=False)
    _rec("data_origin", sample.origin, label="data", headline=False)
    if missing is not None:
        n = int(nobs) if nobs is not None else sample.n_analysed(missing, items)
        _rec("missing", missing, label="missing answers", headline=False)
        _rec("n", n, label={"ml": "N analysed (FIML)", "pairwise": "N analysed (pairwise)"}.get(missing,
                                                                                             "N analysed (listwise)"))
    else:
        _rec("n", int(nobs) if nobs is not None else sample.n_kept, label="N")


def record_fit(fit_measures: Any, prefix: str = "", *, label: str = "", headline: bool = True) -> None:
    """Record chi-square, df, p, CFI, TLI, RMSEA (with CI), SRMR, AIC, BIC and the fit rating
    (:func:`crm_research.reporting.narrative.fit_rating`), each key prefixed by ``prefix``.

    Examples
    --------
    >>> record_fit({"chisq": 10.0, "df": 8, "cfi": 0.99}, prefix="partial_", headline=False)  # no-op outside a batch
    """
    from .fitmeasures import measure_label, reported_keys
    from .narrative import fit_rating

    if hasattr(fit_measures, "fit_measures") and not isinstance(fit_measures, Mapping):
        fit_measures = fit_measures.fit_measures or {}
    fm = dict(fit_measures)
    rkeys = reported_keys(fm)   # a robust fit: scaled chi-square and robust indices too, as headlines
    lab = f"{label} " if label else ""
    spec = [("chisq", "χ²", 2, False, False), ("df", "df", 0, False, False), ("pvalue", "p (χ²)", 3, True, False),
            ("cfi", "CFI", 3, True, True), ("tli", "TLI", 3, True, False), ("rmsea", "RMSEA", 3, True, True),
            ("rmsea.ci.lower", "RMSEA 90% CI lower", 3, True, False),
            ("rmsea.ci.upper", "RMSEA 90% CI upper", 3, True, False), ("srmr", "SRMR", 3, True, True),
            ("aic", "AIC", 1, False, False), ("bic", "BIC", 1, False, False)]
    for k, name, dec, bounded, head in spec:
        if k not in fm or fm[k] is None:
            continue
        v = fm[k]
        if k == "df":
            v = int(round(float(v)))
        shown = rkeys.get(k, k)
        _rec(prefix + k.replace(".", "_"), v, label=lab + name, decimals=dec, bounded=bounded,
             headline=headline and head and shown == k)
        if shown != k and shown in fm and fm[shown] is not None:
            v = fm[shown]
            if k == "df":
                v = int(round(float(v)))
            _rec(prefix + shown.replace(".", "_"), v, label=lab + measure_label(shown), decimals=dec,
                 bounded=bounded, headline=headline and head)
    rating = fit_rating(fm).get("overall")
    if rating:
        _rec(prefix + "fit", rating, label=lab + "fit", headline=headline)


def record_hypotheses(table: Any) -> None:
    """Record β, p and the verdict of every hypothesis (``<id>_beta``, ``<id>_p``, ``<id>_supported``).

    Examples
    --------
    >>> record_hypotheses(test.hypotheses)          # doctest: +SKIP
    """
    for r in table.to_dict("records"):
        h = str(r["hypothesis"]).lower()
        _rec(f"{h}_beta", r["std.all"], label=f"{r['hypothesis']} β ({r['path']})", decimals=2, bounded=True)
        _rec(f"{h}_p", r["pvalue"], label=f"{r['hypothesis']} p", decimals=3, bounded=True, headline=False)
        _rec(f"{h}_supported", bool(r["supported"]), label=f"{r['hypothesis']} supported")


def record_mediation(test: Any) -> None:
    """Record each indirect effect with its CI, the mediation verdicts and, with an alternative
    model, the comparison and the preferred model.

    Examples
    --------
    >>> record_mediation(hypotheses.test_model(data, inst, "core"))      # doctest: +SKIP
    """
    from .narrative import preferred_model

    ind = test.indirect[test.indirect.kind == "indirect"] if "kind" in test.indirect.columns else test.indirect
    for r in ind.to_dict("records"):
        k = str(r["effect"])
        _rec(k, r["est"], label=f"indirect {r['path']}", decimals=3)
        _rec(f"{k}_ci_lower", r["ci.lower"], label=f"indirect {r['path']} CI lower", decimals=3, headline=False)
        _rec(f"{k}_ci_upper", r["ci.upper"], label=f"indirect {r['path']} CI upper", decimals=3, headline=False)
        _rec(f"{k}_std", r["std.all"], label=f"indirect {r['path']} (standardized)", decimals=3, bounded=True,
             headline=False)
        _rec(f"{k}_significant", bool(r["significant"]), label=f"indirect {r['path']} CI excludes 0",
             headline=False)
    for r in test.mediation.to_dict("records"):
        _rec(f"{r['effect']}_mediation", r["verdict"], label=f"mediation {r['path']}")
    comp = test.comparison
    if comp is not None:
        _rec("delta_chisq", comp.chisq_diff, label="Δχ² full vs partial", decimals=2, headline=False)
        _rec("delta_df", int(comp.df_diff), label="Δdf", headline=False)
        _rec("delta_chisq_p", comp.pvalue, label="p (Δχ²)", decimals=3, bounded=True, headline=False)
        _rec("delta_cfi", comp.delta_cfi, label="ΔCFI (full − partial)", decimals=3, headline=False)
        _rec("preferred_model", preferred_model(comp), label="preferred model")


def record_relative_effects(table: Any) -> None:
    """Record the standardized paths, indirect effects and their differences with CIs
    (:func:`crm_research.hypotheses.relative_effects`).

    Examples
    --------
    >>> record_relative_effects(test.relative_effects)     # doctest: +SKIP
    """
    for r in table.to_dict("records"):
        k = r["effect"]
        head = r["kind"] == "path difference"
        _rec(k, r["est"], label=f"β {r['description']}" if r["kind"] == "path" else r["description"],
             decimals=3, bounded=True, headline=head)
        _rec(f"{k}_ci_lower", r["ci.lower"], label=f"{r['description']} CI lower", decimals=3, bounded=True,
             headline=False)
        _rec(f"{k}_ci_upper", r["ci.upper"], label=f"{r['description']} CI upper", decimals=3, bounded=True,
             headline=False)
        if "difference" in r["kind"]:
            _rec(f"{k}_significant", bool(r["significant"]), label=f"{r['description']}: CI excludes 0")


def record_r_squared(r2: Any) -> None:
    """Record R² of every outcome (``r2_<outcome>``), not as headline figures.

    Examples
    --------
    >>> record_r_squared({"Y": 0.31})       # no-op outside a batch run
    """
    for y, v in dict(r2).items():
        _rec(f"r2_{y}", v, label=f"R² {y}", decimals=2, bounded=True, headline=False)


def record_measurement(report: Any) -> None:
    """Record the measurement model's headline figures: lowest α / CR / AVE / loading (over
    constructs with several items), largest HTMT, Harman's first factor, checks falling short.

    Examples
    --------
    >>> record_measurement(measurement.assess_measurement(data, inst))     # doctest: +SKIP
    """
    import pandas as pd

    R = report.reliability
    multi = R[R["n_items"] > 1] if "n_items" in R.columns else R
    L = report.loadings
    if "n_items" in R.columns:
        L = L[~L.construct.isin(set(R.loc[R["n_items"] <= 1, "construct"]))]

    def low(frame: Any, col: str) -> Any:
        v = pd.to_numeric(frame[col], errors="coerce").dropna() if col in frame.columns else []
        return float(v.min()) if len(v) else None

    _rec("alpha_min", low(multi, "alpha"), label="lowest α", decimals=2, bounded=True)
    _rec("cr_min", low(multi, "cr"), label="lowest CR", decimals=2, bounded=True, headline=False)
    _rec("ave_min", low(multi, "ave"), label="lowest AVE", decimals=2, bounded=True)
    _rec("loading_min", low(L, "loading"), label="lowest loading", decimals=2, bounded=True, headline=False)
    htmt = pd.to_numeric(report.htmt.stack(), errors="coerce").dropna() if report.htmt is not None else []
    _rec("htmt_max", float(htmt.max()) if len(htmt) else None, label="largest HTMT", decimals=2)
    if report.harman is not None:
        _rec("harman_first_factor", 100 * report.harman.first_factor_share, label="Harman first factor",
             unit="%", decimals=1, headline=False)
    _rec("measurement_flags", sum(len(v) for v in report.flagged.values()), label="checks falling short")


def record_group_comparison(split: Any, inv: Any, paths: Any, alpha: float) -> None:
    """Record a multiple-group analysis: groups, N, highest invariance level, ΔCFI per step,
    Holm-adjusted p per path and how many paths differ.

    Examples
    --------
    >>> record_group_comparison(split, inv, paths, alpha=0.05)     # doctest: +SKIP
    """
    _rec("groups", len(inv.group_labels), label=f"groups compared ({split.column})")
    _rec("n_analysed", int(sum(inv.nobs_groups)), label="respondents in the group comparison", headline=False)
    _rec("invariance_highest", inv.highest or "none", label="highest level of measurement invariance")
    for r in inv.table.to_dict("records"):
        if r["step"] != "configural":
            _rec(f"delta_cfi_{r['step']}", r["delta.cfi"], label=f"ΔCFI {r['step']}", decimals=3, headline=False)
    for r in paths.to_dict("records"):
        hyp = str(r.get("hypothesis") or "")
        key = re.sub(r"[^a-z0-9_]+", "_", (hyp.split(",")[0].strip() or str(r["path"])).lower()).strip("_")
        _rec(f"p_adj_{key}", r["pvalue.adj"], label=f"p (Holm) of equal {hyp or r['path']} across groups",
             decimals=3, bounded=True)
    _rec("paths_differing", int((paths["pvalue.adj"] < alpha).sum()), label="paths differing across groups")

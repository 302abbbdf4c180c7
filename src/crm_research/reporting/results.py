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
from typing import Any

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
    from .tables import format_number

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

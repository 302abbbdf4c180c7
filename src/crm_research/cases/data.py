"""A case's data: customers, orders, sessions and survey responses, read from files or simulated.

Columns (canonical names; map yours with ``data.columns`` in the case file, canonical -> yours):

========= ====================================== ================================================
table     required                               optional / needed by some KPIs
========= ====================================== ================================================
customers ``customer_id``                        ``signup_date``; the group columns strategies
                                                 name in ``arm_column`` (default ``group``)
orders    ``customer_id, timestamp, amount``     ``order_id``, ``session_id`` (conversion),
                                                 ``member_tier`` (high-tier share of sales)
sessions  ``customer_id, start``                 ``session_id`` or ``converted`` (conversion),
                                                 ``duration`` in seconds (dwell time),
                                                 ``rec_impressions, rec_clicks`` (click-through)
survey    ``customer_id, timestamp``             the satisfaction items (``SAT1..SAT3``) or one
                                                 ``satisfaction`` column
========= ====================================== ================================================

Only the columns a case needs are kept; every other column (names, phone numbers, e-mail
addresses ...) is dropped when the file is read, so personal data never reaches a result.
Customer ids are compared as text across files. Without a customers file the customers are
the ids seen in the other tables and a customer's signup date is her first activity.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import ConfigError, DataFileError
from .definition import check_start_in_range
from .tables import REQUIRED, TIME_COLUMNS, CaseData
from .vocabulary import KPIS

__all__ = ["CaseData", "REQUIRED", "TIME_COLUMNS", "load_case_data", "check_case_data"]

# --------------------------------------------------------------------------- reading
def _read(path: Path, table: str) -> pd.DataFrame:
    suffix = "".join(path.suffixes[-2:]).lower() if path.suffix.lower() == ".gz" else path.suffix.lower()
    try:
        if suffix in (".csv", ".csv.gz", ".txt"):
            return pd.read_csv(path, dtype=str, keep_default_na=True)
        if suffix in (".tsv", ".tab"):
            return pd.read_csv(path, sep="\t", dtype=str)
        if suffix in (".parquet", ".pq"):
            return pd.read_parquet(path)
        if suffix in (".xlsx", ".xls"):
            return pd.read_excel(path, dtype=str)
    except (ValueError, OSError, UnicodeDecodeError) as e:
        raise DataFileError(str(path), f"cannot read the {table} table: {e}") from None
    raise DataFileError(str(path), f"unknown file type {path.suffix!r}",
                        hint="use .csv, .tsv, .parquet or .xlsx")


def _rename(df: pd.DataFrame, mapping: dict[str, str], path: Path) -> pd.DataFrame:
    ren = {}
    for canon, theirs in mapping.items():
        if theirs in df.columns:
            ren[theirs] = canon
        elif canon in df.columns:  # given the other way round
            continue
        else:
            raise DataFileError(str(path), f"column {theirs!r} (mapped to {canon!r}) not found",
                                hint=f"columns in the file: {', '.join(map(str, df.columns))}")
    return df.rename(columns=ren)


def _times(df: pd.DataFrame, col: str, path: Path, *, required: bool = True) -> pd.Series:
    raw = df[col]
    t = pd.to_datetime(raw, errors="coerce", format="mixed")
    if getattr(t.dt, "tz", None) is not None:
        t = t.dt.tz_convert(None)
    bad = t.isna() & raw.notna() & (raw.astype(str).str.strip() != "")
    if bad.any() or (required and t.isna().any()):
        i = int(np.argmax(bad.to_numpy() | (t.isna().to_numpy() if required else False)))
        raise DataFileError(str(path), "not a date/time" if bad.iloc[i] else "missing date/time",
                            row=i + 2, column=col, value=None if pd.isna(raw.iloc[i]) else raw.iloc[i],
                            hint="write dates as YYYY-MM-DD or YYYY-MM-DD HH:MM:SS")
    return t.astype("datetime64[s]")


def _numbers(df: pd.DataFrame, col: str, path: Path, *, nonneg: bool = True) -> pd.Series:
    raw = df[col]
    x = pd.to_numeric(raw, errors="coerce")
    bad = x.isna() | (x < 0 if nonneg else False)
    if bad.any():
        i = int(np.argmax(bad.to_numpy()))
        raise DataFileError(str(path), "not a non-negative number" if nonneg else "not a number",
                            row=i + 2, column=col, value=None if pd.isna(raw.iloc[i]) else raw.iloc[i])
    return x.astype(float)


def _need_columns(case) -> dict[str, set[str]]:
    """Columns each table must have for the case's KPIs (besides ids and times)."""
    need: dict[str, set[str]] = {t: set(REQUIRED[t]) for t in REQUIRED}
    for k in case.kpis:
        if k == "dwell_time":
            need["sessions"].add("duration")
        elif k == "click_through_rate":
            need["sessions"] |= {"rec_impressions", "rec_clicks"}
        elif k == "high_tier_sales_share":
            need["orders"].add("member_tier")
        elif k == "satisfaction_score":
            need["survey"].add("<satisfaction>")
    return need


def load_case_data(case, *, seed: int | None = None, customers: int | None = None):
    """The case's data: read its files (``data:``) or simulate them (``simulate:``).

    Parameters
    ----------
    case : CaseDefinition
    seed, customers : int, optional
        Override ``simulate.seed`` / ``simulate.customers`` (simulated cases only).

    Returns
    -------
    (CaseData, CaseSimulation or None)

    Raises
    ------
    DataFileError
        A file cannot be read or lacks a column a KPI needs (names file, row, column).
    ConfigError
        A strategy starts outside the data's date range, or names groups the data lack.

    Examples
    --------
    >>> from crm_research.cases import load_case
    >>> data, sim = load_case_data(load_case("r2_retention_strategies"), customers=200)
    >>> len(data.customers), data.date_range, sim.spec.seed
    (200, (datetime.date(2019, 1, 1), datetime.date(2021, 12, 31)), 20240602)
    """
    if case.simulate is not None:
        from ..simulate.cases import simulate_case

        sim = simulate_case(case, seed=seed, customers=customers)
        check_case_data(case, sim.data)
        return sim.data, sim
    if seed is not None:
        raise ConfigError(str(case.path), "data", "--seed applies to simulated cases only; this case reads files")
    need = _need_columns(case)
    tables: dict[str, pd.DataFrame] = {}
    for t, path in (case.data or {}).items():
        df = _rename(_read(path, t), case.columns.get(t, {}), path)
        df.columns = [str(c).strip() for c in df.columns]
        keep = [c for c in REQUIRED[t] if c in df.columns]
        missing = [c for c in REQUIRED[t] if c not in df.columns]
        if missing:
            raise DataFileError(str(path), f"required column {missing[0]!r} is missing from the {t} table",
                                column=missing[0], hint=f"columns in the file: {', '.join(df.columns)}; "
                                f"map yours with data.columns.{t}")
        extra = need[t] - set(REQUIRED[t]) - {"<satisfaction>"}
        for c in sorted(extra):
            if c not in df.columns:
                users = [k for k in case.kpis if t in KPIS[k].data]
                raise DataFileError(str(path), f"column {c!r} is missing; the KPIs {', '.join(users)} need it",
                                    column=c, hint=f"map yours with data.columns.{t}.{c}")
        df["customer_id"] = df["customer_id"].astype(str).str.strip()
        if df["customer_id"].isin(["", "nan", "None"]).any():
            i = int(np.argmax(df["customer_id"].isin(["", "nan", "None"]).to_numpy()))
            raise DataFileError(str(path), "missing customer id", row=i + 2, column="customer_id")
        if t == "customers":
            cols = ["customer_id"] + (["signup_date"] if "signup_date" in df.columns else [])
            arms = sorted({s.arm_column for s in case.strategies if not s.targets_all})
            for a in arms:
                if a not in df.columns:
                    s = next(s for s in case.strategies if s.arm_column == a and not s.targets_all)
                    raise ConfigError(str(case.path), f"strategies[{s.index}].arm_column",
                                      f"column {a!r} is not in the customers file {path}",
                                      hint=f"columns there: {', '.join(df.columns)}")
            out = df[cols + arms].copy()
            for a in arms:
                out[a] = out[a].astype(str).str.strip()
            if "signup_date" in out:
                out["signup_date"] = _times(out, "signup_date", path, required=False)
            if out["customer_id"].duplicated().any():
                i = int(np.argmax(out["customer_id"].duplicated().to_numpy()))
                raise DataFileError(str(path), "customer id appears twice", row=i + 2, column="customer_id",
                                    value=out["customer_id"].iloc[i])
        elif t == "orders":
            keep += [c for c in ("order_id", "session_id", "member_tier") if c in df.columns]
            out = df[keep].copy()
            out["timestamp"] = _times(out, "timestamp", path)
            out["amount"] = _numbers(out, "amount", path)
            if "session_id" in out:
                out["session_id"] = out["session_id"].astype(str).str.strip()
            if "member_tier" in out:
                out["member_tier"] = out["member_tier"].astype(str).str.strip()
        elif t == "sessions":
            keep += [c for c in ("session_id", "duration", "rec_impressions", "rec_clicks", "converted")
                     if c in df.columns]
            out = df[keep].copy()
            out["start"] = _times(out, "start", path)
            for c in ("duration", "rec_impressions", "rec_clicks"):
                if c in out:
                    out[c] = _numbers(out, c, path)
            if "session_id" in out:
                out["session_id"] = out["session_id"].astype(str).str.strip()
            if "converted" in out:
                v = out["converted"].astype(str).str.strip().str.lower()
                ok = v.isin(["1", "0", "true", "false", "yes", "no", "1.0", "0.0"])
                if not ok.all():
                    i = int(np.argmax(~ok.to_numpy()))
                    raise DataFileError(str(path), "expected 1/0 or true/false", row=i + 2, column="converted",
                                        value=out["converted"].iloc[i])
                out["converted"] = v.isin(["1", "true", "yes", "1.0"])
            if ("rec_clicks" in out) and ("rec_impressions" in out):
                over = out["rec_clicks"] > out["rec_impressions"]
                if over.any():
                    i = int(np.argmax(over.to_numpy()))
                    raise DataFileError(str(path), "more clicks than impressions", row=i + 2, column="rec_clicks",
                                        value=out["rec_clicks"].iloc[i])
        else:  # survey
            items = [c for c in case.satisfaction_items if c in df.columns]
            if not items:
                if "satisfaction" in df.columns:
                    items = ["satisfaction"]
                elif "satisfaction_score" in case.kpis:
                    raise DataFileError(str(path), "no satisfaction items found", column=case.satisfaction_items[0],
                                        hint=f"expected columns {', '.join(case.satisfaction_items)} or "
                                             "'satisfaction'; set kpi_options.satisfaction_items")
            out = df[keep + items].copy()
            out["timestamp"] = _times(out, "timestamp", path)
            for c in items:
                x = pd.to_numeric(out[c], errors="coerce")
                bad = x.isna() & out[c].notna() & (out[c].astype(str).str.strip() != "")
                if bad.any():
                    i = int(np.argmax(bad.to_numpy()))
                    raise DataFileError(str(path), "not a number", row=i + 2, column=c, value=out[c].iloc[i])
                out[c] = x
            out.attrs["items"] = items
        tables[t] = out.reset_index(drop=True)

    # customers: from the file, or the ids seen
    if "customers" not in tables:
        ids = pd.unique(pd.concat([df["customer_id"] for df in tables.values()], ignore_index=True))
        tables["customers"] = pd.DataFrame({"customer_id": ids})
    data = CaseData(customers=tables["customers"], orders=tables.get("orders"), sessions=tables.get("sessions"),
                    survey=tables.get("survey"), source="files", files=dict(case.data or {}))
    check_case_data(case, data)
    return data, None


def check_case_data(case, data: CaseData) -> None:
    """ConfigError when the case does not fit its data (dates out of range, unknown groups).

    Parameters
    ----------
    case : CaseDefinition
    data : CaseData

    Returns
    -------
    None

    Raises
    ------
    ConfigError
        Naming the strategy's key (``strategies[0].target[0]``) and the values the data hold.

    Examples
    --------
    >>> import pandas as pd
    >>> from crm_research.cases import load_case
    >>> case = load_case("r2_retention_strategies")
    >>> orders = pd.DataFrame({"customer_id": ["a", "b"], "amount": [10.0, 20.0],
    ...                        "timestamp": pd.to_datetime(["2019-01-05", "2021-12-20"])})
    >>> data = CaseData(customers=pd.DataFrame({"customer_id": ["a", "b"], "group": ["rollout", "test"]}),
    ...                 orders=orders)
    >>> try:
    ...     check_case_data(case, data)
    ... except ConfigError as e:
    ...     print(e.key, "|", e.problem)
    strategies[0].control[0] | no customer has group = 'holdout'
    """
    if data.date_range is None:
        raise ConfigError(str(case.path), "data", "the data files contain no dated rows")
    lo, hi = data.date_range
    what = "the simulated period" if case.simulate is not None else "the data"
    for s in case.strategies:
        check_start_in_range(case.path, s, lo, hi, case.period, what=what)
        if s.targets_all and s.control is None:
            continue
        col = s.arm_column
        if col not in data.customers.columns:
            raise ConfigError(str(case.path), f"strategies[{s.index}].arm_column",
                              f"the customers table has no column {col!r}",
                              hint="add a customers file with the group column (data.customers)")
        values = set(data.customers[col].dropna().astype(str))
        for j, v in enumerate(() if s.targets_all else s.target):
            if v not in values:
                raise ConfigError(str(case.path), f"strategies[{s.index}].target[{j}]",
                                  f"no customer has {col} = {v!r}", hint=f"values: {', '.join(sorted(values))}")
        for j, v in enumerate(s.control or ()):
            if v not in values:
                raise ConfigError(str(case.path), f"strategies[{s.index}].control[{j}]",
                                  f"no customer has {col} = {v!r}", hint=f"values: {', '.join(sorted(values))}")

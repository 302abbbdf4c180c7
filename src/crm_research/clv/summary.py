"""Recency-frequency-monetary summaries built from raw transactions.

:func:`rfm_summary` turns an order log (one row per order) into the customer-by-sufficient-
statistic table that the BG/NBD, Pareto/NBD and Gamma-Gamma models are fitted to, with the
conventions of Fader, Hardie & Lee (2005) and their CDNOW data set:

* purchases are recorded at **day** granularity: several orders by one customer on one
  calendar day are one purchase (their amounts are summed);
* a customer's time origin is the day of the first purchase; ``frequency`` (``x``) is the
  number of **repeat** purchases (distinct purchase days minus one) up to and including
  ``calibration_end``; ``recency`` (``t_x``) is the time from the first to the last purchase
  day, ``T`` the time from the first purchase day to ``calibration_end``; both in units of
  ``freq`` (``"W"``: days / 7, ``"D"``: days), so a purchase on ``calibration_end`` has
  ``recency == T``;
* ``monetary_value`` is the mean value of the repeat purchases (the first purchase is
  excluded, as the Gamma-Gamma model requires); 0 when ``frequency == 0``;
* with ``observation_end``: ``frequency_holdout`` = purchase days in
  (``calibration_end``, ``observation_end``], ``monetary_holdout`` = their mean value (0 if
  none), ``duration_holdout`` = length of the holdout period in units of ``freq``.

Only customers whose first purchase falls on or before ``calibration_end`` form the
calibration cohort; later first-time buyers are left out (their number is reported in
``summary.attrs["n_customers_after_calibration"]``).

The aggregation runs in DuckDB (the project's KPI engine), so it scales to large logs;
only the per-customer result comes back to pandas. Input validation runs first, in pandas
for a DataFrame (so an error can name the 1-based row, header = row 1) and in SQL for a
DuckDB relation.
"""
from __future__ import annotations

import datetime as _dt
import importlib.util
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import ConfigError, DataFileError

#: days per time unit for the ``freq`` argument
FREQ_DAYS = {"D": 1.0, "W": 7.0}

SUMMARY_COLUMNS = ["customer_id", "frequency", "recency", "T", "monetary_value"]
_EXACT = "DECIMAL(38, 10)"     # the type amounts are summed in (as crm_research.kpi.sums.EXACT_SUM_TYPE)
_MAX_AMOUNT = 1e15             # beyond: no order amount (and the exact sums need the room)
HOLDOUT_COLUMNS = ["frequency_holdout", "monetary_holdout", "duration_holdout"]


# --------------------------------------------------------------------------- helpers
def as_day(value: Any, name: str) -> pd.Timestamp:
    """Parse a date argument; must be a calendar day (time of day is not allowed).

    Parameters
    ----------
    value : date-like
        The date.
    name : str
        Name of the argument, for the error message.

    Returns
    -------
    pandas.Timestamp
        Midnight of that day (time zone dropped).

    Raises
    ------
    ConfigError
        Not a date, missing, or with a time of day.

    Examples
    --------
    >>> as_day('1997-09-30', 'calibration_end')
    Timestamp('1997-09-30 00:00:00')
    >>> as_day('1997-09-30 18:00', 'calibration_end')
    Traceback (most recent call last):
    ...
    crm_research.errors.ConfigError: rfm_summary: calibration_end: '1997-09-30 18:00' has a time of day; purchases are counted per calendar day and the period ends at the end of that day (fix: give a date without time, e.g. 1997-09-30)
    """
    try:
        ts = pd.Timestamp(value)
    except (ValueError, TypeError) as e:
        raise ConfigError("rfm_summary", name, f"cannot parse {value!r} as a date ({e})",
                          hint="give an ISO date such as 1997-09-30") from None
    if ts is pd.NaT:
        raise ConfigError("rfm_summary", name, "is missing", hint="give an ISO date such as 1997-09-30")
    if ts.tzinfo is not None:
        ts = ts.tz_localize(None)
    if ts != ts.normalize():
        raise ConfigError("rfm_summary", name, f"{value!r} has a time of day; purchases are counted "
                          "per calendar day and the period ends at the end of that day",
                          hint="give a date without time, e.g. 1997-09-30")
    return ts


def freq_days(freq: str) -> float:
    """Days per model time unit.

    Parameters
    ----------
    freq : {"W", "D"}
        Weeks or days (case-insensitive).

    Returns
    -------
    float

    Raises
    ------
    ConfigError
        Another unit.

    Examples
    --------
    >>> freq_days('w'), freq_days('D')
    (7.0, 1.0)
    >>> freq_days('M')
    Traceback (most recent call last):
    ...
    crm_research.errors.ConfigError: rfm_summary: freq: unknown time unit 'M'; expected one of ['D', 'W'] (fix: use freq='W' (weeks, as Fader-Hardie) or 'D')
    """
    try:
        return FREQ_DAYS[str(freq).upper()]
    except KeyError:
        raise ConfigError("rfm_summary", "freq", f"unknown time unit {freq!r}; expected one of "
                          f"{sorted(FREQ_DAYS)}", hint="use freq='W' (weeks, as Fader-Hardie) or 'D'") from None


def py_scalar(v: Any) -> Any:
    """A numpy scalar as the plain Python value (so error messages print ``2``, not ``np.int64(2)``).

    Parameters
    ----------
    v : object
        Any value.

    Returns
    -------
    object
        ``v.item()`` for numpy scalars, else ``v``.

    Examples
    --------
    >>> import numpy as np
    >>> py_scalar(np.int64(2)), py_scalar('a')
    (2, 'a')
    """
    return v.item() if isinstance(v, np.generic) else v


def _row(pos: int) -> int:
    """1-based spreadsheet row of a 0-based data position (header = row 1)."""
    return int(pos) + 2


def summary_columns(data: pd.DataFrame, columns: list[str], what: str, *, hint: str,
                    see: str = "") -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Check the columns a model reads from an RFM summary (:func:`rfm_summary`).

    Returns the customer ids (the ``customer_id`` column when present, else the index) and
    each of ``columns`` as a float array; raises :class:`DataFileError` (naming ``what``) when
    ``data`` is not a DataFrame, a column is missing (with ``hint``) or a value is not a
    finite number >= 0. ``see`` is appended to the "expected a DataFrame" message.

    Parameters
    ----------
    data : DataFrame
        The summary.
    columns : list of str
        Columns the model reads.
    what : str
        Name of the input, for error messages.
    hint : str
        How to fix a missing column.
    see : str
        Appended to the "expected a DataFrame" message.

    Raises
    ------
    DataFileError
        Not a DataFrame, a column missing, or a value not a finite number >= 0 (naming row and column).

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({'customer_id': [7], 'frequency': [2]})
    >>> ids, cols = summary_columns(df, ['frequency'], 'summary', hint='')
    >>> ids, cols
    (array([7]), {'frequency': array([2.])})
    >>> summary_columns(pd.DataFrame({'frequency': [1, -2]}), ['frequency'], 'summary', hint='')
    Traceback (most recent call last):
    ...
    crm_research.errors.DataFileError: summary, row 3, column 'frequency', value -2: must be a finite number >= 0
    """
    if not isinstance(data, pd.DataFrame):
        raise DataFileError(what, f"expected a DataFrame with {', '.join(columns)}{see}, got "
                            f"{type(data).__name__}")
    missing = [c for c in columns if c not in data.columns]
    if missing:
        raise DataFileError(what, f"missing column(s) {missing}; it has {list(data.columns)}", hint=hint)
    ids = data["customer_id"].to_numpy() if "customer_id" in data.columns else data.index.to_numpy()
    cols = {}
    for name in columns:
        v = pd.to_numeric(data[name], errors="coerce").to_numpy(dtype=float)
        bad = ~np.isfinite(v) | (v < 0)
        if bad.any():
            i = int(np.argmax(bad))
            raise DataFileError(what, "must be a finite number >= 0", row=_row(i), column=name,
                                value=py_scalar(data[name].iloc[i]))
        cols[name] = v
    return ids, cols


def validate_orders_frame(orders: pd.DataFrame, customer_col: str, datetime_col: str,
                    monetary_col: str | None, source: str) -> pd.DataFrame:
    """Check an order DataFrame and return the standard three-column frame.

    Columns of the result: ``customer_id`` (as given), ``day`` (datetime64, midnight),
    ``amount`` (float64; 0.0 when ``monetary_col`` is None).

    Parameters
    ----------
    orders : DataFrame
        One row per order.
    customer_col, datetime_col : str
        Column names.
    monetary_col : str or None
        Amount column (None: amounts are 0).
    source : str
        Name of the input, for error messages.

    Returns
    -------
    DataFrame
        ``customer_id, day, amount``.

    Raises
    ------
    DataFileError
        Missing columns, ids or timestamps, numeric timestamps, non-numeric or negative
        amounts (naming row, column and value).

    Examples
    --------
    >>> import pandas as pd
    >>> orders = pd.DataFrame({'id': [1, 2], 'ts': ['2024-01-05 14:00', '2024-01-06'], 'amount': [10, 5]})
    >>> validate_orders_frame(orders, 'id', 'ts', 'amount', 'orders.csv')
       customer_id        day  amount
    0            1 2024-01-05    10.0
    1            2 2024-01-06     5.0
    >>> validate_orders_frame(orders.assign(amount=[10, -5]), 'id', 'ts', 'amount', 'orders.csv')
    Traceback (most recent call last):
    ...
    crm_research.errors.DataFileError: orders.csv, row 3, column 'amount', value -5.0: amount is negative; returns and refunds are not purchases (fix: drop refund rows or net them against their order before the CLV analysis)
    """
    if not isinstance(orders, pd.DataFrame):
        raise DataFileError(source, f"expected a pandas DataFrame of orders, got {type(orders).__name__}")
    wanted = [customer_col, datetime_col] + ([monetary_col] if monetary_col else [])
    missing = [c for c in wanted if c not in orders.columns]
    if missing:
        raise DataFileError(source, f"missing column(s) {missing}; the file has {list(orders.columns)}",
                            hint="name the columns with customer_col=, datetime_col=, monetary_col= "
                                 "(CLI: --map COLUMN=customer_id, --map COLUMN=timestamp, --map COLUMN=amount)")
    if len(orders) == 0:
        raise DataFileError(source, "contains no orders")

    cust = orders[customer_col]
    bad = cust.isna().to_numpy()
    if bad.any():
        i = int(np.argmax(bad))
        raise DataFileError(source, "customer id is missing", row=_row(i), column=customer_col,
                            hint="every order needs the id of the customer who placed it")

    raw_ts = orders[datetime_col]
    if isinstance(raw_ts.dtype, pd.DatetimeTZDtype):
        ts = raw_ts.dt.tz_localize(None)  # keep the local calendar day
    elif pd.api.types.is_datetime64_any_dtype(raw_ts.dtype):
        ts = raw_ts
    elif pd.api.types.is_numeric_dtype(raw_ts.dtype) or pd.api.types.is_bool_dtype(raw_ts.dtype):
        # pandas would read integers as nanoseconds since 1970: refuse instead of guessing
        raise DataFileError(source, f"timestamps are numbers (dtype {raw_ts.dtype}), not dates",
                            row=_row(0), column=datetime_col, value=py_scalar(raw_ts.iloc[0]),
                            hint="convert them first, e.g. pd.to_datetime(col.astype(str), format='%Y%m%d') "
                                 "for YYYYMMDD or pd.to_datetime(col, unit='s') for Unix seconds")
    else:
        try:
            ts = pd.to_datetime(raw_ts, errors="coerce", format="mixed")
        except (TypeError, ValueError):
            ts = pd.Series(pd.NaT, index=raw_ts.index)
        if isinstance(ts.dtype, pd.DatetimeTZDtype):
            ts = ts.dt.tz_localize(None)
    bad = ts.isna().to_numpy()
    if bad.any():
        i = int(np.argmax(bad))
        val = raw_ts.iloc[i]
        what = "timestamp is missing" if pd.isna(val) else "timestamp cannot be parsed as a date/time"
        raise DataFileError(source, what, row=_row(i), column=datetime_col,
                            value=None if pd.isna(val) else py_scalar(val),
                            hint="use ISO 8601, e.g. 2024-03-01 or 2024-03-01T14:30:00")

    if monetary_col:
        raw_amt = orders[monetary_col]
        amt = pd.to_numeric(raw_amt, errors="coerce").astype("float64")
        a = amt.to_numpy()
        with np.errstate(invalid="ignore"):
            bad = ~np.isfinite(a) | (np.abs(a) >= _MAX_AMOUNT)
        if bad.any():
            i = int(np.argmax(bad))
            val = raw_amt.iloc[i]
            raise DataFileError(source, "amount is missing or not a finite number below 1e15", row=_row(i),
                                column=monetary_col, value=None if pd.isna(val) else py_scalar(val),
                                hint="every order needs a numeric amount (0 for free orders)")
        bad = a < 0
        if bad.any():
            i = int(np.argmax(bad))
            raise DataFileError(source, "amount is negative; returns and refunds are not purchases",
                                row=_row(i), column=monetary_col, value=float(a[i]),
                                hint="drop refund rows or net them against their order before the CLV analysis")
    else:
        amt = pd.Series(0.0, index=orders.index)

    return pd.DataFrame({"customer_id": cust.to_numpy(),
                         "day": ts.dt.normalize().to_numpy(),
                         "amount": amt.to_numpy()})


def _validate_relation(query, customer_col: str, datetime_col: str, monetary_col: str | None,
                       source: str) -> str:
    """Validate a DuckDB relation with SQL; return a SELECT producing the standard columns.

    ``query(sql)`` runs ``sql`` with the relation visible as ``orders_in``.
    """
    cols = list(query("SELECT * FROM orders_in LIMIT 0").columns)
    wanted = [customer_col, datetime_col] + ([monetary_col] if monetary_col else [])
    missing = [c for c in wanted if c not in cols]
    if missing:
        raise DataFileError(source, f"missing column(s) {missing}; the relation has {cols}",
                            hint="name the columns with customer_col=, datetime_col=, monetary_col=")
    q = lambda c: '"' + c.replace('"', '""') + '"'  # noqa: E731
    c, t = q(customer_col), q(datetime_col)
    amount_sql = f"TRY_CAST({q(monetary_col)} AS DOUBLE)" if monetary_col else "0.0"
    raw_amount = f"CAST({q(monetary_col)} AS VARCHAR)" if monetary_col else "NULL"
    bad_amount = (f"({amount_sql} IS NULL OR isnan({amount_sql}) OR isinf({amount_sql}) "
                  f"OR abs({amount_sql}) >= {_MAX_AMOUNT:.0f})")
    row = query(f"""
        SELECT count(*) AS n,
               count(*) FILTER (WHERE {c} IS NULL) AS null_customer,
               count(*) FILTER (WHERE TRY_CAST({t} AS TIMESTAMP) IS NULL) AS n_bad_ts,
               any_value(CAST({t} AS VARCHAR)) FILTER (WHERE TRY_CAST({t} AS TIMESTAMP) IS NULL) AS bad_ts,
               count(*) FILTER (WHERE {bad_amount}) AS n_bad_amt,
               any_value({raw_amount}) FILTER (WHERE {bad_amount}) AS bad_amt,
               min({amount_sql}) AS min_amt
        FROM orders_in""").iloc[0]
    if row["n"] == 0:
        raise DataFileError(source, "contains no orders")
    if row["null_customer"]:
        raise DataFileError(source, f"customer id is missing in {int(row['null_customer'])} order(s)",
                            column=customer_col, hint="every order needs the id of the customer who placed it")
    if row["n_bad_ts"]:
        raise DataFileError(source, f"{int(row['n_bad_ts'])} timestamp(s) missing or not parseable",
                            column=datetime_col, value=None if pd.isna(row["bad_ts"]) else row["bad_ts"],
                            hint="use ISO 8601, e.g. 2024-03-01 or 2024-03-01T14:30:00")
    if row["n_bad_amt"]:
        raise DataFileError(source, f"{int(row['n_bad_amt'])} amount(s) missing or not a finite number below 1e15",
                            column=monetary_col, value=None if pd.isna(row["bad_amt"]) else row["bad_amt"],
                            hint="every order needs a numeric amount (0 for free orders)")
    if not pd.isna(row["min_amt"]) and row["min_amt"] < 0:
        raise DataFileError(source, "amount is negative; returns and refunds are not purchases",
                            column=monetary_col, value=float(row["min_amt"]),
                            hint="drop refund rows or net them against their order before the CLV analysis")
    return (f"SELECT {c} AS customer_id, CAST(TRY_CAST({t} AS TIMESTAMP) AS DATE) AS day, "
            f"CAST({amount_sql} AS DOUBLE) AS amount FROM orders_in")


# --------------------------------------------------------------------------- public API
def rfm_summary(orders, customer_col: str = "customer_id", datetime_col: str = "timestamp",
                monetary_col: str | None = "amount", *, calibration_end, observation_end=None,
                freq: str = "W", source: str = "orders") -> pd.DataFrame:
    """Per-customer frequency, recency, age and mean repeat spend from raw orders.

    Parameters
    ----------
    orders : pandas.DataFrame or duckdb.DuckDBPyRelation
        One row per order (transaction line). Several rows per customer and day are allowed.
        A DuckDB relation is aggregated inside its own connection (nothing but the
        per-customer result is materialized in pandas).
    customer_col, datetime_col, monetary_col : str
        Column names. ``monetary_col=None`` builds a frequency-only summary
        (``monetary_value`` is then 0).
    calibration_end : date-like
        Last day (inclusive) of the calibration period, e.g. ``"1997-09-30"``.
    observation_end : date-like, optional
        Last day (inclusive) of the holdout period; adds the holdout columns.
    freq : {"W", "D"}
        Time unit of ``recency``, ``T`` and ``duration_holdout``: weeks (days / 7) or days.
    source : str
        Name used in error messages (the CLI passes the file path).

    Returns
    -------
    pandas.DataFrame
        One row per customer of the calibration cohort, sorted by ``customer_id``, columns
        ``customer_id, first_purchase, frequency, recency, T, monetary_value`` and, with
        ``observation_end``, ``frequency_holdout, monetary_holdout, duration_holdout``.
        ``attrs`` records the arguments and the number of customers left out.

    Raises
    ------
    DataFileError
        Missing columns, missing ids, unparseable timestamps, negative or non-numeric
        amounts (naming row, column and value), or ``calibration_end`` /
        ``observation_end`` outside the span of the data.
    ConfigError
        An unknown ``freq`` or an unparseable date argument.

    Examples
    --------
    >>> import pandas as pd
    >>> orders = pd.DataFrame({"customer_id": [1, 1, 1, 2],
    ...     "timestamp": ["2024-01-01", "2024-01-08", "2024-01-15", "2024-01-08"],
    ...     "amount": [10.0, 20.0, 30.0, 5.0]})
    >>> s = rfm_summary(orders, calibration_end="2024-01-15", freq="D")
    >>> s[["customer_id", "frequency", "recency", "T", "monetary_value"]].values.tolist()
    [[1.0, 2.0, 14.0, 14.0, 25.0], [2.0, 0.0, 0.0, 7.0, 0.0]]
    """
    import duckdb

    unit = freq_days(freq)
    cal_end = as_day(calibration_end, "calibration_end")
    obs_end = as_day(observation_end, "observation_end") if observation_end is not None else None
    if obs_end is not None and obs_end <= cal_end:
        raise ConfigError("rfm_summary", "observation_end",
                          f"{obs_end.date()} is not after calibration_end {cal_end.date()}",
                          hint="the holdout period runs from the day after calibration_end to observation_end")

    con = None
    if isinstance(orders, duckdb.DuckDBPyRelation):
        rel = orders

        def query(sql: str) -> pd.DataFrame:
            return rel.query("orders_in", sql).fetchdf()

        std_sql = _validate_relation(query, customer_col, datetime_col, monetary_col, source)
    else:
        std = validate_orders_frame(orders, customer_col, datetime_col, monetary_col, source)
        con = duckdb.connect()
        con.register("orders_in", std)

        def query(sql: str) -> pd.DataFrame:
            return con.execute(sql).fetchdf()

        std_sql = "SELECT customer_id, CAST(day AS DATE) AS day, amount FROM orders_in"
    try:
        # amounts summed exactly (DECIMAL, as crm_research.kpi.sums): engines add doubles in whatever
        # order their threads meet the rows, so plain sums could differ in their last bits between runs
        days = (f"days AS (SELECT customer_id, day, sum(CAST(amount AS {_EXACT})) AS amount "
                f"FROM ({std_sql}) GROUP BY ALL)")
        cal, obs = f"DATE '{cal_end.date()}'", f"DATE '{(obs_end or cal_end).date()}'"
        span = query(f"""WITH {days}, firsts AS (SELECT customer_id, min(day) AS first_day FROM days GROUP BY ALL)
                         SELECT (SELECT min(day) FROM days) AS first_day, (SELECT max(day) FROM days) AS last_day,
                                (SELECT count(*) FROM firsts WHERE first_day > {cal}) AS n_after""").iloc[0]
        first_day, last_day = pd.Timestamp(span["first_day"]), pd.Timestamp(span["last_day"])
        if cal_end < first_day or cal_end > last_day:
            raise DataFileError(source, f"calibration_end {cal_end.date()} lies outside the orders, which "
                                f"run from {first_day.date()} to {last_day.date()}", column=datetime_col,
                                hint="choose a calibration_end between the first and the last order day")
        if obs_end is not None and obs_end > last_day:
            raise DataFileError(source, f"observation_end {obs_end.date()} is after the last order day "
                                f"{last_day.date()}; holdout purchases after it would be counted as zero",
                                column=datetime_col,
                                hint=f"set observation_end to the day the extract ends (at most {last_day.date()})")
        hold_cte = hold_cols = hold_join = ""
        if obs_end is not None:
            hold_cte = f""",
            hold AS (
                SELECT customer_id, count(*) AS frequency_holdout,
                       CAST(sum(amount) AS DOUBLE) / count(*) AS monetary_holdout
                FROM days WHERE day > {cal} AND day <= {obs} GROUP BY customer_id)"""
            hold_cols = """,
                   coalesce(h.frequency_holdout, 0) AS frequency_holdout,
                   coalesce(h.monetary_holdout, 0.0) AS monetary_holdout"""
            hold_join = "LEFT JOIN hold h USING (customer_id)"
        out = query(f"""
            WITH {days},
            firsts AS (SELECT customer_id, min(day) AS first_day FROM days GROUP BY customer_id
                       HAVING min(day) <= {cal}),
            cal AS (
                SELECT f.customer_id, f.first_day,
                       count(*) - 1 AS frequency,
                       date_diff('day', f.first_day, max(d.day)) AS recency_days,
                       date_diff('day', f.first_day, {cal}) AS age_days,
                       coalesce(CAST(sum(d.amount) FILTER (WHERE d.day > f.first_day) AS DOUBLE)
                                / nullif(count(*) - 1, 0), 0.0)
                           AS monetary_value
                FROM days d JOIN firsts f USING (customer_id)
                WHERE d.day <= {cal}
                GROUP BY f.customer_id, f.first_day){hold_cte}
            SELECT c.customer_id, c.first_day AS first_purchase, c.frequency,
                   c.recency_days, c.age_days, c.monetary_value{hold_cols}
            FROM cal c {hold_join}
            ORDER BY c.customer_id""")
    finally:
        if con is not None:
            con.close()

    out["first_purchase"] = pd.to_datetime(out["first_purchase"])
    out["frequency"] = out["frequency"].astype("int64")
    out["recency"] = out.pop("recency_days").astype("float64") / unit
    out["T"] = out.pop("age_days").astype("float64") / unit
    cols = ["customer_id", "first_purchase", "frequency", "recency", "T", "monetary_value"]
    if obs_end is not None:
        out["frequency_holdout"] = out["frequency_holdout"].astype("int64")
        out["duration_holdout"] = float((obs_end - cal_end).days) / unit
        cols += HOLDOUT_COLUMNS
    out = out[cols].reset_index(drop=True)
    out.attrs.update({
        "calibration_end": str(cal_end.date()),
        "observation_end": str(obs_end.date()) if obs_end is not None else None,
        "freq": str(freq).upper(),
        "first_order_day": str(first_day.date()),
        "last_order_day": str(last_day.date()),
        "n_customers_after_calibration": int(span["n_after"]),
        "source": source,
    })
    return out


def _timestamp(value: Any, name: str) -> pd.Timestamp:
    try:
        ts = pd.Timestamp(value)
    except (ValueError, TypeError):
        ts = pd.NaT
    if ts is pd.NaT:
        raise ConfigError("holdout_dates", name, f"cannot parse {value!r} as a date", hint="give an ISO date such as 1997-09-30")
    return ts


def holdout_dates(first, last, calibration_end=None, observation_end=None) -> tuple[str, str]:
    """Calibration and observation end dates: the given ones, else a split of the log in two.

    The holdout runs to ``observation_end`` (default: the last order day); the calibration
    period ends at ``calibration_end`` (default: half-way between the first order and the
    end of the holdout).

    Parameters
    ----------
    first, last : date-like
        First and last order (timestamps with a time of day are fine).
    calibration_end, observation_end : date-like, optional
        Given dates (kept as they are).

    Returns
    -------
    tuple of str
        ``(calibration_end, observation_end)`` as ``YYYY-MM-DD``.

    Examples
    --------
    >>> holdout_dates("2023-01-01", "2023-12-31")
    ('2023-07-02', '2023-12-31')
    >>> holdout_dates("2023-01-01", "2023-12-31", calibration_end="2023-09-30")
    ('2023-09-30', '2023-12-31')
    >>> holdout_dates("2023-01-01", "soon")
    Traceback (most recent call last):
    ...
    crm_research.errors.ConfigError: holdout_dates: last: cannot parse 'soon' as a date (fix: give an ISO date such as 1997-09-30)
    """
    first, last = _timestamp(first, "first"), _timestamp(last, "last")
    obs = _timestamp(observation_end, "observation_end") if observation_end is not None else last
    cal = _timestamp(calibration_end, "calibration_end") if calibration_end is not None else first + (obs - first) / 2
    return f"{cal:%Y-%m-%d}", f"{obs:%Y-%m-%d}"


# --------------------------------------------------------------------------- CDNOW data
def cdnow_sample_path() -> Path:
    """Path of ``CDNOW_sample.txt`` shipped inside the installed ``lifetimes`` package.

    The package is located without importing it (``lifetimes`` imports ``pkg_resources``
    and sets deprecated pandas options on import).

    Returns
    -------
    pathlib.Path

    Raises
    ------
    DataFileError
        lifetimes is not installed or does not ship the file.

    Examples
    --------
    >>> cdnow_sample_path().name
    'CDNOW_sample.txt'
    """
    spec = importlib.util.find_spec("lifetimes")
    if spec is None or not spec.submodule_search_locations:
        raise DataFileError("CDNOW_sample.txt", "the lifetimes package that ships the CDNOW sample is not installed",
                            hint="pip install lifetimes, or pass the path of CDNOW_sample.txt to read_cdnow()")
    path = Path(list(spec.submodule_search_locations)[0]) / "datasets" / "CDNOW_sample.txt"
    if not path.is_file():
        raise DataFileError(str(path), "file not found in the installed lifetimes package",
                            hint="pass the path of CDNOW_sample.txt to read_cdnow()")
    return path


def read_cdnow(path: str | Path | None = None) -> pd.DataFrame:
    """Read the raw CDNOW transaction file (Fader & Hardie's ``CDNOW_sample.txt`` format).

    The file is whitespace-separated without header: master customer id, sample customer id
    (1..2357), date (YYYYMMDD), number of CDs, dollar value; one line per transaction.

    Parameters
    ----------
    path : str or Path, optional
        Defaults to the copy inside the installed ``lifetimes`` package.

    Returns
    -------
    pandas.DataFrame
        Columns ``customer_id`` (int, the 1..2357 sample id), ``master_id`` (str),
        ``timestamp`` (datetime64), ``quantity`` (int), ``amount`` (float), in file order.

    Examples
    --------
    >>> cdnow = read_cdnow('tests/data/cdnow/CDNOW_sample.txt')
    >>> len(cdnow), cdnow['customer_id'].nunique()
    (6919, 2357)
    >>> cdnow.head(2)
       customer_id master_id  timestamp  quantity  amount
    0            1     00004 1997-01-01         2   29.33
    1            1     00004 1997-01-18         2   29.73
    """
    path = Path(path) if path is not None else cdnow_sample_path()
    try:
        raw = pd.read_csv(path, sep=r"\s+", header=None, engine="python",
                          names=["master_id", "customer_id", "date", "quantity", "amount"],
                          dtype={"master_id": str, "customer_id": "int64", "date": str,
                                 "quantity": "int64", "amount": "float64"})
    except (ValueError, pd.errors.ParserError) as e:
        raise DataFileError(str(path), f"not in the CDNOW format (5 whitespace-separated columns: "
                            f"master id, customer id, YYYYMMDD, quantity, amount): {e}") from None
    ts = pd.to_datetime(raw["date"], format="%Y%m%d", errors="coerce")
    if ts.isna().any():
        i = int(np.argmax(ts.isna().to_numpy()))
        raise DataFileError(str(path), "date is not YYYYMMDD", row=i + 1, column="date",
                            value=py_scalar(raw["date"].iloc[i]))
    return pd.DataFrame({"customer_id": raw["customer_id"], "master_id": raw["master_id"],
                         "timestamp": ts, "quantity": raw["quantity"], "amount": raw["amount"]})


CDNOW_CALIBRATION_END = _dt.date(1997, 9, 30)   # 39 weeks from 1997-01-01: days 0..272
CDNOW_OBSERVATION_END = _dt.date(1998, 6, 30)   # 78 weeks: the end of the data

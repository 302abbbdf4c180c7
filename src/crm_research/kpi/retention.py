"""Retention (留存率, R2 chapter 6): acquisition cohorts followed period by period.

Definitions
-----------
- A customer's **cohort** is the calendar period (month, or ISO week starting Monday) of their
  first order.
- A customer is **active** in a period when they placed at least one order in it.
- **Period** ``k`` of a cohort is the k-th calendar period after the acquisition period
  (``k = 0`` is the acquisition period itself, where every cohort member is active).
- **Retention rate** at ``k`` = active cohort members in period ``k`` / cohort size
  ("classic" or "return" retention).
- **Rolling retention** at ``k`` = share of the cohort active in period ``k`` *or any later
  observed period* ("unbounded" retention, always >= classic).
- Right censoring: a cell (cohort, ``k``) is reported only when period ``cohort + k`` has
  ended on or before ``as_of`` (a partly observed current period would understate
  retention). Pass ``include_partial=True`` to also see the running period.

Columns of :func:`cohort_retention`:
``cohort`` (first day of the acquisition period), ``period`` (k), ``period_start`` (first day
of period k), ``cohort_size``, ``active_customers``, ``retention_rate``, ``orders``,
``revenue``, ``revenue_per_customer`` (revenue in period k / cohort size), ``complete``
(period fully observed).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .engine import (KPIEngine, check_period, last_complete_index, period_index,
                     period_start_of_index)
from .sums import exact_sum
from .order_arrays import (array_plan, customer_period_parts, customer_period_rows, day_number, part_plan, store,
                           store_parts)

RETENTION_COLUMNS = ["cohort", "period", "period_start", "cohort_size", "active_customers",
                     "retention_rate", "orders", "revenue", "revenue_per_customer", "complete"]


def customer_periods(engine: KPIEngine, period: str = "month"):
    """Customer x period activity, stored in the engine (ibis Table).

    Columns: ``customer_id, cohort_idx, idx`` (period indices), ``orders, revenue,
    repeat_orders`` (orders that are not the customer's first).
    Valid for any ``as_of`` that is the last day of a period or later than the data; for other
    dates :func:`cohort_retention` filters the facts directly.

    Parameters
    ----------
    engine : KPIEngine
    period : {"month", "week"}

    Returns
    -------
    ibis.Table
        One row per customer and period with an order (columns above).

    Examples
    --------
    >>> from crm_research.kpi.examples import example_engine
    >>> eng = example_engine()
    >>> cp = eng.execute(customer_periods(eng))
    >>> len(cp), int(cp['orders'].sum())
    (20, 24)
    """
    check_period(period)

    def build():
        if array_plan(engine) is not None:   # by direct addressing (same table, a third of the CPU)
            return store(engine, f"_kpi_customer_{period}s", _period_rows(engine, period, None))
        if part_plan(engine) is not None:    # the same, one part of the customers at a time
            t = store_parts(engine, f"_kpi_customer_{period}s", customer_period_parts(engine, period))
            engine.compress_tables()       # read by several KPIs: kept compressed in DuckDB's memory
            return t
        f = engine.facts
        f = f.mutate(cohort_idx=period_index(f.first_date, period), idx=period_index(f.order_date, period))
        cp = f.group_by(["customer_id", "cohort_idx", "idx"]).aggregate(
            orders=f.count(), revenue=exact_sum(f.amount), repeat_orders=f.count(where=f.seq > 1))
        return engine.materialize(cp, f"_kpi_customer_{period}s")

    return engine.cached(("customer_periods", period), build)


def customer_periods_until(engine: KPIEngine, period: str, as_of):
    """Customer-period activity for orders on or before ``as_of``.

    Parameters
    ----------
    engine : KPIEngine
    period : {"month", "week"}
    as_of : date-like, optional
        Last order date counted (default: the date of the last order).

    Returns
    -------
    ibis.Table
        As :func:`customer_periods`, stored in the engine once per ``as_of``.

    Examples
    --------
    >>> from crm_research.kpi.examples import example_engine
    >>> eng = example_engine()
    >>> eng.execute(customer_periods_until(eng, 'month', '2024-02-29').count())
    5
    """
    a = engine.as_of(as_of)
    if a >= engine.max_date():
        return customer_periods(engine, period)

    def build():
        if array_plan(engine) is not None:
            return store(engine, f"_kpi_customer_{period}s_{a:%Y%m%d}", _period_rows(engine, period, a))
        if part_plan(engine) is not None:
            return store_parts(engine, f"_kpi_customer_{period}s_{a:%Y%m%d}",
                               customer_period_parts(engine, period, day_number(a)))
        f = engine.facts_until(a)
        f = f.mutate(cohort_idx=period_index(f.first_date, period), idx=period_index(f.order_date, period))
        cp = f.group_by(["customer_id", "cohort_idx", "idx"]).aggregate(
            orders=f.count(), revenue=exact_sum(f.amount), repeat_orders=f.count(where=f.seq > 1))
        return engine.materialize(cp, f"_kpi_customer_{period}s_{a:%Y%m%d}")

    return engine.cached(("customer_periods", period, a), build)


def _period_rows(engine: KPIEngine, period: str, a):
    """The array path's customer-period rows (pyarrow, customers in order, periods ascending),
    kept per ``(period, as_of)``; ``a`` None: the whole log."""
    return engine.cached(("customer_period_rows", period, a), lambda: customer_period_rows(
        engine, period, None if a is None else day_number(a)))


def _last_active_counts(rows, last_full: int) -> pd.DataFrame:
    """``cohort_idx, last_k, customers``: customers by cohort and by the last complete period
    (periods since acquisition) they were active in, from customer-period rows in customer
    order with ascending periods (numpy: no aggregation over the rows in the engine)."""
    idx = rows.column("idx").to_numpy()
    cust = rows.column("customer_id").to_numpy()
    keep = idx <= last_full
    # each customer's last kept row: kept, and the next row is another customer's or not kept
    # (a customer's periods ascend, so the kept rows come first)
    last = keep.copy()
    if len(last) > 1:
        last[:-1] &= (cust[1:] != cust[:-1]) | ~keep[1:]
    rows_last = np.flatnonzero(last)
    cohort = rows.column("cohort_idx").to_numpy()[rows_last]
    k = idx[rows_last] - cohort
    if not len(k):
        return pd.DataFrame({"cohort_idx": np.zeros(0, np.int64), "last_k": np.zeros(0, np.int64),
                             "customers": np.zeros(0, np.int64)})
    c0, width = int(cohort.min()), int(k.max()) + 1       # (cohort, k) as one small integer
    cells = np.bincount((cohort - c0) * width + k)
    at = np.flatnonzero(cells)
    return pd.DataFrame({"cohort_idx": (at // width + c0).astype(np.int64), "last_k": (at % width).astype(np.int64),
                         "customers": cells[at].astype(np.int64)})


def cohort_retention(engine: KPIEngine, period: str = "month", as_of=None, *,
                     include_partial: bool = False, max_periods: int | None = None) -> pd.DataFrame:
    """Cohort retention table, long format (one row per cohort and period since acquisition).

    Parameters
    ----------
    engine : KPIEngine
    period : {"month", "week"}
    as_of : date-like, optional
        Observation end (default: date of the last order).
    include_partial : bool
        Also report the period running at ``as_of`` (``complete`` is then False).
    max_periods : int, optional
        Keep periods ``0..max_periods`` only.

    Returns
    -------
    DataFrame
        Columns ``cohort, period, period_start, cohort_size, active_customers, retention_rate,
        orders, revenue, revenue_per_customer, complete`` (see module docstring), sorted by
        cohort and period. Cells with no active customer appear with 0.

    Examples
    --------
    >>> from crm_research.kpi.examples import example_engine
    >>> eng = example_engine()
    >>> ret = cohort_retention(eng, 'month')
    >>> ret[ret['cohort'] == '2024-01-01'][['period', 'cohort_size', 'active_customers', 'retention_rate']]
       period  cohort_size  active_customers  retention_rate
    0       0            3                 3        1.000000
    1       1            3                 1        0.333333
    2       2            3                 2        0.666667
    3       3            3                 1        0.333333
    4       4            3                 1        0.333333
    """
    check_period(period)
    a = engine.as_of(as_of)
    last_full = last_complete_index(a, period)
    cp = customer_periods_until(engine, period, a)
    cp = cp.mutate(k=cp.idx - cp.cohort_idx)
    agg = cp.group_by(["cohort_idx", "k"]).aggregate(
        active_customers=cp.count(), orders=cp.orders.sum(), revenue=exact_sum(cp.revenue))
    df = engine.execute(agg)
    return _retention_frame(df, period, last_full, include_partial, max_periods)


def _retention_frame(df: pd.DataFrame, period: str, last_full: int, include_partial: bool,
                     max_periods: int | None) -> pd.DataFrame:
    if df.empty:
        return pd.DataFrame(columns=RETENTION_COLUMNS)
    df = df.astype({"cohort_idx": "int64", "k": "int64", "active_customers": "int64", "orders": "int64"})
    sizes = df.loc[df["k"] == 0, ["cohort_idx", "active_customers"]].rename(columns={"active_customers": "cohort_size"})
    last_seen = int((df["cohort_idx"] + df["k"]).max())
    # complete grid: every cohort x every observable k (zero activity included)
    limit = last_seen if include_partial else min(last_seen, last_full)
    rows = []
    for c in sorted(sizes["cohort_idx"]):
        if c > limit:
            continue
        ks = np.arange(0, limit - c + 1)
        if max_periods is not None:
            ks = ks[ks <= max_periods]
        rows.append(pd.DataFrame({"cohort_idx": c, "k": ks}))
    if not rows:
        return pd.DataFrame(columns=RETENTION_COLUMNS)
    grid = pd.concat(rows, ignore_index=True)
    out = grid.merge(df, on=["cohort_idx", "k"], how="left").merge(sizes, on="cohort_idx")
    out[["active_customers", "orders"]] = out[["active_customers", "orders"]].fillna(0).astype("int64")
    out["revenue"] = out["revenue"].fillna(0.0).astype(float)
    out["retention_rate"] = out["active_customers"] / out["cohort_size"]
    out["revenue_per_customer"] = out["revenue"] / out["cohort_size"]
    out["complete"] = (out["cohort_idx"] + out["k"]) <= last_full
    out["cohort"] = period_start_of_index(out["cohort_idx"], period).values
    out["period_start"] = period_start_of_index(out["cohort_idx"] + out["k"], period).values
    out = out.rename(columns={"k": "period"}).sort_values(["cohort", "period"], kind="stable")
    return out[RETENTION_COLUMNS].reset_index(drop=True)


def retention_matrix(retention: pd.DataFrame, values: str = "retention_rate") -> pd.DataFrame:
    """Wide cohort x period matrix from :func:`cohort_retention` output.

    ``values``: any numeric column, e.g. ``"retention_rate"`` (default),
    ``"active_customers"``, ``"revenue_per_customer"``. Rows are cohorts (with the cohort size
    as a second index level), columns periods since acquisition; unobserved cells are NaN.

    Parameters
    ----------
    retention : DataFrame
        Output of :func:`cohort_retention`.
    values : str
        The column shown in the cells.

    Returns
    -------
    DataFrame
        Cohorts x periods.

    Raises
    ------
    KeyError
        ``values`` is not a column of ``retention``.

    Examples
    --------
    >>> from crm_research.kpi.examples import example_engine
    >>> ret = cohort_retention(example_engine(), 'month')
    >>> retention_matrix(ret).round(2)
    period                    0     1     2     3     4
    cohort     cohort_size
    2024-01-01 3            1.0  0.33  0.67  0.33  0.33
    2024-02-01 1            1.0  1.00  0.00  0.00   NaN
    2024-03-01 1            1.0  1.00  1.00   NaN   NaN
    2024-04-01 1            1.0  0.00   NaN   NaN   NaN
    2024-05-01 1            1.0   NaN   NaN   NaN   NaN
    """
    if values not in retention.columns:
        raise KeyError(f"{values!r} is not a column of the retention table; choose from {list(retention.columns)}")
    wide = retention.pivot_table(index=["cohort", "cohort_size"], columns="period", values=values,
                                 aggfunc="first", sort=True)
    wide.columns.name = "period"
    return wide


def n_period_retention(engine: KPIEngine, n=(1, 2, 3, 6, 12), period: str = "month", as_of=None, *,
                       retention: pd.DataFrame | None = None) -> pd.DataFrame:
    """N-period retention pooled over all cohorts observed for at least ``n`` full periods.

    Parameters
    ----------
    n : int or sequence of int
        Periods after acquisition.
    retention : DataFrame, optional
        A :func:`cohort_retention` result for the same ``period``/``as_of`` (saves a query).

    Returns
    -------
    DataFrame
        ``n, cohorts, customers, retained, retention_rate, rolling_retained,
        rolling_retention_rate``: customers = members of the eligible cohorts; retained =
        active in period n; rolling_retained = active in period n or any later complete
        period.

    Examples
    --------
    >>> from crm_research.kpi.examples import example_engine
    >>> n_period_retention(example_engine(), n=(1, 2, 3))[['n', 'cohorts', 'customers', 'retained', 'rolling_retained']]
       n  cohorts  customers  retained  rolling_retained
    0  1        4          6         3                 4
    1  2        3          5         3                 3
    2  3        2          4         1                 1
    """
    check_period(period)
    ns = [int(n)] if np.isscalar(n) else [int(x) for x in n]
    if any(x < 1 for x in ns):
        raise ValueError("n must be >= 1 (period 0 is the acquisition period)")
    a = engine.as_of(as_of)
    last_full = last_complete_index(a, period)
    if retention is None:
        retention = cohort_retention(engine, period, a)
    # last complete period in which each customer was active
    if array_plan(engine) is not None:
        dist = _last_active_counts(_period_rows(engine, period, None if a >= engine.max_date() else a), last_full)
    else:
        cp = customer_periods_until(engine, period, a)
        cp = cp.filter(cp.idx <= last_full)
        last = cp.group_by(["customer_id", "cohort_idx"]).aggregate(last_k=(cp.idx - cp.cohort_idx).max())
        dist = engine.execute(last.group_by(["cohort_idx", "last_k"]).aggregate(customers=last.count()))
    rows = []
    for k in ns:
        eligible = dist[dist["cohort_idx"] + k <= last_full]
        customers = int(eligible.groupby("cohort_idx")["customers"].sum().sum())
        rolling = int(eligible.loc[eligible["last_k"] >= k, "customers"].sum())
        r = retention[(retention["period"] == k) & retention["complete"]]
        retained = int(r["active_customers"].sum())
        cohorts = int(r["cohort"].nunique())
        rows.append(dict(n=k, cohorts=cohorts, customers=customers, retained=retained,
                         retention_rate=retained / customers if customers else np.nan,
                         rolling_retained=rolling,
                         rolling_retention_rate=rolling / customers if customers else np.nan))
    return pd.DataFrame(rows)

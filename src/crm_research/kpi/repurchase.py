"""Repurchase (复购率, R2 chapter 6).

Repurchase within a window
--------------------------
A customer **repurchases within w days** when they place an order on a day at least
``min_gap_days`` (default 1: a later calendar day; a second order the same day is usually a
split basket) and at most ``w`` days after the date of their first order.

Right censoring: a customer whose first order is less than ``w`` days before ``as_of`` has not
been observed for the whole window; counting them would understate the rate. Only customers
with ``first_order_date + w <= as_of`` are **eligible** for window ``w``; the others are
reported as ``censored_customers``. Rates for different windows therefore rest on different
(nested) sets of customers.

Repeat-customer share per period
--------------------------------
For every calendar period: ``customers`` active (at least one order), of whom
``new_customers`` placed their first order ever in the period and ``returning_customers``
had been acquired in an earlier period; ``returning_share`` = returning / customers.
``repeat_orders`` are orders that are not the customer's first order ever;
``repeat_order_share`` = repeat_orders / orders; ``multi_order_customers`` placed two or more
orders within the period. ``complete`` is False for the period running at ``as_of``.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .customer_summary import customer_summary
from .engine import (KPIEngine, date_literal, add_period_columns, check_period, period_index,
                     period_start_of_index)
from .sums import exact_sum
from .retention import customer_periods_until

REPURCHASE_COLUMNS = ["window_days", "eligible_customers", "repurchasers", "repurchase_rate",
                      "censored_customers"]
REPEAT_COLUMNS = ["period_start", "customers", "new_customers", "returning_customers",
                  "returning_share", "orders", "repeat_orders", "repeat_order_share",
                  "multi_order_customers", "multi_order_share", "revenue", "returning_revenue",
                  "returning_revenue_share", "complete"]


def first_repurchase(engine: KPIEngine, as_of=None, min_gap_days: int = 1):
    """Per customer (ibis Table): ``customer_id, first_date, repurchase_date, gap_days``.

    ``repurchase_date`` is the date of the first later order (not the first order itself)
    at least ``min_gap_days`` after the first order's date (NULL if none by ``as_of``); ``gap_days`` the days between the two dates.

    Parameters
    ----------
    engine : KPIEngine
    as_of : date-like, optional
        Last order date counted (default: the date of the last order).
    min_gap_days : int
        Minimum days between the first order and the repurchase.

    Returns
    -------
    ibis.Table
        ``customer_id, first_date, repurchase_date, gap_days``.

    Examples
    --------
    >>> from crm_research.kpi.examples import example_engine
    >>> eng = example_engine()
    >>> eng.execute(first_repurchase(eng).order_by('customer_id'))[['customer_id', 'gap_days']].head(4)
       customer_id  gap_days
    0            1      17.0
    1            2      65.0
    2            3       NaN
    3            4      20.0
    """
    if int(min_gap_days) == 1:   # the shared per-customer aggregates (no pass over the orders)
        s = customer_summary(engine, as_of)
        c = s.select("customer_id", first_date=s.first_order_date, repurchase_date=s.repurchase_date)
    else:
        f = engine.facts_until(as_of)
        later = (f.seq > 1) & (f.order_date.delta(f.first_date, unit="day") >= int(min_gap_days))
        c = f.group_by("customer_id").aggregate(
            first_date=f.first_date.min(),
            repurchase_date=f.order_date.min(where=later))
    return c.mutate(gap_days=c.repurchase_date.delta(c.first_date, unit="day"))


def repurchase_rates(engine: KPIEngine, windows=(30, 90, 180), as_of=None, *, min_gap_days: int = 1,
                     by_cohort: bool = False, period: str = "month") -> pd.DataFrame:
    """Share of customers who buy again within each window after their first order.

    Parameters
    ----------
    windows : sequence of int
        Window lengths in days.
    as_of : date-like, optional
    min_gap_days : int
        Minimum days between the first order and the repurchase (1 = a later day).
    by_cohort : bool
        One row per acquisition cohort (``period``) and window instead of pooled.

    Returns
    -------
    DataFrame
        ``window_days, eligible_customers, repurchasers, repurchase_rate,
        censored_customers`` (plus ``cohort`` first when ``by_cohort``).

    Examples
    --------
    >>> from crm_research.kpi.examples import example_engine
    >>> rr = repurchase_rates(example_engine(), windows=(30, 90))
    >>> rr[['window_days', 'eligible_customers', 'repurchasers', 'censored_customers']]
       window_days  eligible_customers  repurchasers  censored_customers
    0           30                   7             3                   1
    1           90                   5             4                   3
    """
    a = engine.as_of(as_of)
    ws = [int(w) for w in np.atleast_1d(windows)]
    if any(w < min_gap_days for w in ws):
        raise ValueError("every window must be at least min_gap_days long")
    c = first_repurchase(engine, a, min_gap_days)
    keys = []
    if by_cohort:
        check_period(period)
        c = c.mutate(cohort_idx=period_index(c.first_date, period))
        keys = ["cohort_idx"]
    observed = date_literal(a).delta(c.first_date, unit="day")
    aggs = {}
    for w in ws:
        elig = observed >= w
        aggs[f"e{w}"] = c.count(where=elig)
        aggs[f"r{w}"] = c.count(where=elig & c.gap_days.notnull() & (c.gap_days <= w))
    aggs["n"] = c.count()
    res = engine.execute(c.group_by(keys).aggregate(**aggs) if keys else c.aggregate(**aggs))
    rows = []
    for rec in res.to_dict("records"):
        for w in ws:
            e, r = int(rec[f"e{w}"] or 0), int(rec[f"r{w}"] or 0)
            row = dict(window_days=w, eligible_customers=e, repurchasers=r,
                       repurchase_rate=r / e if e else np.nan, censored_customers=int(rec["n"]) - e)
            if by_cohort:
                row = {"cohort": rec["cohort_idx"], **row}
            rows.append(row)
    out = pd.DataFrame(rows, columns=(["cohort"] if by_cohort else []) + REPURCHASE_COLUMNS)
    if by_cohort and not out.empty:
        out["cohort"] = period_start_of_index(out["cohort"], period).values
        out = out.sort_values(["cohort", "window_days"], kind="stable").reset_index(drop=True)
    return out


def repeat_customer_share(engine: KPIEngine, period: str = "month", as_of=None) -> pd.DataFrame:
    """New vs returning customers and repeat orders per calendar period.

    Parameters
    ----------
    engine : KPIEngine
    period : {"month", "week"}
    as_of : date-like, optional
        Last order date counted (default: the date of the last order).

    Returns
    -------
    DataFrame
        Columns as described in the module docstring, one row per period up to ``as_of``.

    Examples
    --------
    >>> from crm_research.kpi.examples import example_engine
    >>> share = repeat_customer_share(example_engine())
    >>> share[['period_start', 'customers', 'new_customers', 'returning_share']]
      period_start  customers  new_customers  returning_share
    0   2024-01-01          3              3         0.000000
    1   2024-02-01          2              1         0.500000
    2   2024-03-01          4              1         0.750000
    3   2024-04-01          3              1         0.666667
    4   2024-05-01          3              1         0.666667
    5   2024-06-01          5              1         0.800000
    """
    check_period(period)
    a = engine.as_of(as_of)
    cp = customer_periods_until(engine, period, a)
    new = cp.idx == cp.cohort_idx
    agg = cp.group_by("idx").aggregate(
        customers=cp.count(),
        new_customers=cp.count(where=new),
        orders=cp.orders.sum(),
        repeat_orders=cp.repeat_orders.sum(),
        multi_order_customers=cp.count(where=cp.orders >= 2),
        revenue=exact_sum(cp.revenue),
        returning_revenue=exact_sum(cp.revenue, where=~new))
    df = engine.execute(agg).sort_values("idx").reset_index(drop=True)
    for col in ("customers", "new_customers", "orders", "repeat_orders", "multi_order_customers"):
        df[col] = df[col].astype("int64")
    df["returning_revenue"] = df["returning_revenue"].fillna(0.0)
    df["returning_customers"] = df["customers"] - df["new_customers"]
    df["returning_share"] = df["returning_customers"] / df["customers"]
    df["repeat_order_share"] = df["repeat_orders"] / df["orders"]
    df["multi_order_share"] = df["multi_order_customers"] / df["customers"]
    df["returning_revenue_share"] = df["returning_revenue"] / df["revenue"]
    add_period_columns(df, a, period)
    return df[REPEAT_COLUMNS]

"""One row per customer at an as-of date, computed in one pass and shared by several KPIs.

Churn warnings (:mod:`.churn`), RFM (:mod:`.rfm`), the lifecycle stage at ``as_of``
(:mod:`.lifecycle`) and repurchase rates (:mod:`.repurchase`) all aggregate the same per-order
facts by customer. :func:`customer_summary` does that aggregation once per (as-of date, window
length) and stores it in the engine; each KPI then reads the small per-customer table instead
of scanning every order again.
"""
from __future__ import annotations

from .engine import KPIEngine, date_literal
from .sums import exact_sum
from .order_arrays import (array_plan, customer_summary_parts, customer_summary_rows, day_number, part_plan, store,
                           store_parts)

SUMMARY_COLUMNS = [
    "customer_id", "orders", "purchase_days", "total_spend", "first_order_date", "last_order_date",
    "typical_gap_days", "orders_recent", "orders_previous", "max_recent_gap_days", "repurchase_date"]


def customer_summary(engine: KPIEngine, as_of=None, window_days: int = 90):
    """Per-customer aggregates of the orders on or before ``as_of`` (stored in the engine).

    Parameters
    ----------
    engine : KPIEngine
    as_of : date-like, optional
        Last date counted (default: the date of the last order).
    window_days : int
        Length of the recent window ``(as_of - W, as_of]`` and of the previous window
        ``(as_of - 2W, as_of - W]`` (by date).

    Returns
    -------
    ibis.Table
        ``customer_id``; ``orders``; ``purchase_days`` (distinct order dates); ``total_spend``;
        ``first_order_date``, ``last_order_date``; ``typical_gap_days`` (median gap in days
        between consecutive purchase days, NULL with a single purchase day; exact where the
        backend has an exact median); ``orders_recent``, ``orders_previous`` (orders in the two
        windows); ``max_recent_gap_days`` (longest gap before an order in the recent window);
        ``repurchase_date`` (first order at least one day after the first order date, NULL if
        none). The same table is returned for the same ``as_of`` and ``window_days``. A KPI
        that reads ``typical_gap_days`` notes an approximate median itself
        (:meth:`KPIEngine.note_approximate_median`).

    Examples
    --------
    >>> from crm_research.kpi.examples import example_engine
    >>> eng = example_engine()
    >>> c = customer_summary(eng, '2024-06-28')
    >>> eng.execute(c.order_by('customer_id').limit(3))[['customer_id', 'orders', 'purchase_days', 'orders_recent']]
       customer_id  orders  purchase_days  orders_recent
    0            1       7              7              3
    1            2       2              2              0
    2            3       1              1              0
    """
    a = engine.as_of(as_of)
    W = int(window_days)

    def build():
        rows = summary_rows(engine, a, W)
        if rows is not None:   # by direct addressing (same table, about half the CPU)
            return store(engine, f"_kpi_customer_summary_{a:%Y%m%d}_{W}", rows)
        if part_plan(engine) is not None:   # the same, one part of the customers at a time
            return store_parts(engine, f"_kpi_customer_summary_{a:%Y%m%d}_{W}",
                               customer_summary_parts(engine, day_number(a), W))
        f = engine.facts_until(a)
        age = date_literal(a).delta(f.order_date, unit="day")
        recent = age < W
        previous = (age >= W) & (age < 2 * W)
        later = (f.seq > 1) & (f.order_date.delta(f.first_date, unit="day") >= 1)
        c = f.group_by("customer_id").aggregate(
            orders=f.count(),
            purchase_days=f.count(where=(f.gap_days > 0) | f.gap_days.isnull()),
            total_spend=exact_sum(f.amount),
            first_order_date=f.first_date.min(),
            last_order_date=f.order_date.max(),
            typical_gap_days=engine.median(f.gap_days, where=f.gap_days > 0, note=False).cast("float64"),
            orders_recent=f.count(where=recent),
            orders_previous=f.count(where=previous),
            max_recent_gap_days=f.gap_days.max(where=recent),
            repurchase_date=f.order_date.min(where=later))
        return engine.materialize(c, f"_kpi_customer_summary_{a:%Y%m%d}_{W}")

    return engine.cached(("customer_summary", a, W), build)


def summary_rows(engine: KPIEngine, as_of=None, window_days: int = 90):
    """The table of :func:`customer_summary` as Arrow columns in customer order, where the orders
    are held as arrays (:func:`~crm_research.kpi.order_arrays.array_plan`); else None.

    KPIs that read every customer (RFM, lifecycle stages, the churn list) compute from these
    columns directly on that path, instead of a query over the stored table.

    Parameters
    ----------
    engine : KPIEngine
    as_of : date-like, optional
    window_days : int

    Returns
    -------
    pyarrow.Table or None
        The columns of :data:`SUMMARY_COLUMNS`, sorted by ``customer_id`` (the same rows as
        :func:`customer_summary`, built once per ``as_of`` and ``window_days``).

    Examples
    --------
    >>> from crm_research.kpi.examples import example_engine
    >>> rows = summary_rows(example_engine(), '2024-06-28')
    >>> rows.num_rows, rows.column('customer_id').to_pylist()[:3]
    (8, [1, 2, 3])
    """
    if array_plan(engine) is None:
        return None
    a = engine.as_of(as_of)
    W = int(window_days)
    return engine.cached(("customer_summary_rows", a, W), lambda: customer_summary_rows(engine, day_number(a), W))


def day_numbers(dates) -> "np.ndarray":
    """A date column of :func:`summary_rows` (pyarrow ``date32``) as days since 1970-01-01 (int64).

    Parameters
    ----------
    dates : pyarrow.Array or pyarrow.ChunkedArray
        Without NULLs.

    Returns
    -------
    numpy.ndarray

    Examples
    --------
    >>> import datetime as dt
    >>> import pyarrow as pa
    >>> day_numbers(pa.array([dt.date(1970, 1, 2), dt.date(2024, 1, 1)])).tolist()
    [1, 19723]
    """
    import numpy as np
    import pyarrow as pa

    if isinstance(dates, pa.ChunkedArray):
        dates = dates.combine_chunks()
    return dates.cast(pa.int32()).to_numpy().astype(np.int64)

"""Distinct visitors per period and per day from one sort of packed (customer, day) keys.

Visitors per period (MAU for months) and the sum over days of distinct visitors (the numerator
of average DAU) are distinct counts over customer x period and customer x day pairs. In an
engine that is a hash aggregation with one group per customer and period (21M sessions: about
1.8 s of CPU on DuckDB). On DuckDB with integer customer ids, DuckDB computes one 64-bit key per
session, ``customer_id * 65536 + day`` (days since 1970-01-01), numpy sorts the keys, and equal
neighbours are the same customer-day: both counts are then ``bincount`` s over the distinct keys
(about 1.2 s of CPU, most of it a sort that releases the GIL, so the KPI suite runs it in the
background with :meth:`KPIEngine.prefetch_call`). Other engines, text ids, ids outside
``[0, 2**47)``, dates outside 1970-2149 and logs whose keys would not fit a quarter of DuckDB's
``memory_limit`` take the engine path of :mod:`.activity`; both give the same counts
(``tests/test_kpi_visitors.py``).
"""
from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from .distinct import memory_budget
from .engine import KPIEngine, timestamp_literal
from .order_arrays import period_index_of_days, small_pages

_DAY_BITS = 16
_BYTES_PER_SESSION = 20      # the key, its sorted distinct copy and a mask


def counted_by_sorting(engine: KPIEngine) -> bool:
    """Whether :func:`visitor_counts` applies: DuckDB, integer customer ids, keys within budget.

    (It may still find ids or dates beyond the key's range and return None.)

    Parameters
    ----------
    engine : KPIEngine

    Returns
    -------
    bool

    Examples
    --------
    >>> from crm_research.kpi.examples import example_engine
    >>> counted_by_sorting(example_engine())
    True
    """
    if getattr(engine.backend, "name", "") != "duckdb" or engine.con is None or not engine.has_sessions:
        return False
    if not str(engine.sessions.schema()["customer_id"]).lstrip("!").startswith(("int", "uint")):
        return False
    report = engine.reports.get("sessions")
    return report is not None and _BYTES_PER_SESSION * report.rows_kept <= memory_budget(engine.con)


def key_query(engine: KPIEngine, as_of: dt.date):
    """The sessions' packed keys ``customer_id * 65536 + day`` up to ``as_of`` (ibis Table, column ``k``).

    -1 for a session whose id is outside ``[0, 2**47)`` or whose date is outside 1970-2149 (the
    key cannot hold it).

    Parameters
    ----------
    engine : KPIEngine
    as_of : datetime.date

    Returns
    -------
    ibis.Table

    Examples
    --------
    >>> from crm_research.kpi.examples import example_engine
    >>> eng = example_engine()
    >>> k = eng.execute(key_query(eng, dt.date(2024, 6, 30)))['k']
    >>> int(k.min() // 65536), str(dt.date(1970, 1, 1) + dt.timedelta(days=int(k.min() % 65536)))
    (1, '2024-05-01')
    """
    import ibis

    s = engine.sessions
    a = timestamp_literal(as_of + dt.timedelta(days=1))
    d = s.start.date().delta(ibis.date(1970, 1, 1), unit="day")
    ok = (s.customer_id >= 0) & (s.customer_id < 2 ** 47) & (d >= 0) & (d < 2 ** _DAY_BITS)
    k = ibis.ifelse(ok, s.customer_id.cast("int64") * (1 << _DAY_BITS) + d, -1).cast("int64")
    return s.filter(s.start < a).select(k=k)


def count_keys(con, sql: str, period: str) -> pd.DataFrame | None:
    """Visitors and visitor-days per period from the keys a query returns (column ``k``).

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
    sql : str
        The SQL of :func:`key_query`.
    period : {"month", "week"}

    Returns
    -------
    DataFrame or None
        As :func:`visitor_counts`; None when a key is -1.

    Examples
    --------
    >>> import duckdb
    >>> keys = "SELECT unnest([65536 * 1 + 19800, 65536 * 1 + 19800, 65536 * 2 + 19801]) AS k"
    >>> count_keys(duckdb.connect(), keys, 'month').values.tolist()   # 2024-03-18 and -19
    [[24290, 2, 2]]
    """
    with small_pages():
        key = np.sort(np.asarray(con.execute(sql).fetchnumpy()["k"], dtype=np.int64))
        if len(key) and key[0] < 0:   # ids or dates beyond the key's range: the engine counts them
            return None
        if len(key) == 0:
            return pd.DataFrame({"idx": np.zeros(0, np.int64), "visitors": np.zeros(0, np.int64),
                                 "visitor_days": np.zeros(0, np.int64)})
        new = np.empty(len(key), dtype=bool)
        new[0] = True
        np.not_equal(key[1:], key[:-1], out=new[1:])
        key = key[new]                                     # each customer-day once, sorted
        day = key & ((1 << _DAY_BITS) - 1)
        d0, d1 = int(day.min()), int(day.max())
        lut = period_index_of_days(np.arange(d0, d1 + 1), period)
        p0 = int(lut[0])
        lut = (lut - p0).astype(np.int64)
        per_day = np.bincount(day - d0, minlength=d1 - d0 + 1)
        visitor_days = np.bincount(lut, weights=per_day).astype(np.int64)
        # customer-period pairs: the key with the day replaced by its period is still sorted
        p = lut[day - d0]
        cp = ((key >> _DAY_BITS) << 14) | p              # periods of 65536 days: < 2**14 weeks
        first = np.empty(len(cp), dtype=bool)
        first[0] = True
        np.not_equal(cp[1:], cp[:-1], out=first[1:])
        visitors = np.bincount(p[first], minlength=len(visitor_days))
    at = np.flatnonzero(visitor_days)
    return pd.DataFrame({"idx": (at + p0).astype(np.int64), "visitors": visitors[at].astype(np.int64),
                         "visitor_days": visitor_days[at]})


def start_visitor_counts(engine: KPIEngine, period: str, as_of: dt.date) -> bool:
    """Start :func:`visitor_counts` in the background (:meth:`KPIEngine.prefetch_call`).

    Parameters
    ----------
    engine : KPIEngine
    period : {"month", "week"}
    as_of : datetime.date

    Returns
    -------
    bool
        True when started.

    Examples
    --------
    >>> from crm_research.kpi.examples import example_engine
    >>> eng = example_engine()
    >>> start_visitor_counts(eng, 'month', dt.date(2024, 6, 30))
    True
    >>> visitor_counts(eng, 'month', dt.date(2024, 6, 30))['visitors'].tolist()
    [3, 4]
    """
    import ibis

    if not counted_by_sorting(engine):
        return False
    sql = str(ibis.to_sql(key_query(engine, as_of), dialect="duckdb"))
    return engine.prefetch_call(("visitor_counts", period, as_of), count_keys, sql, period)


def visitor_counts(engine: KPIEngine, period: str, as_of: dt.date) -> pd.DataFrame | None:
    """Visitors and visitor-days per period from the sessions starting on or before ``as_of``.

    Parameters
    ----------
    engine : KPIEngine
    period : {"month", "week"}
    as_of : datetime.date
        Last session date counted.

    Returns
    -------
    DataFrame or None
        Columns ``idx`` (:func:`~crm_research.kpi.engine.period_index`), ``visitors``
        (distinct customers with a session in the period), ``visitor_days`` (distinct customer
        x day pairs in the period), one row per period with a session; None where the engine
        path applies (see the module docstring). The result of :func:`start_visitor_counts`
        when it was started.

    Examples
    --------
    >>> from crm_research.kpi.examples import example_engine
    >>> visitor_counts(example_engine(), 'month', dt.date(2024, 6, 30)).values.tolist()
    [[24292, 3, 4], [24293, 4, 7]]
    """
    import ibis

    if not counted_by_sorting(engine):
        return None
    missing = object()
    started = engine.collect(("visitor_counts", period, as_of), default=missing)
    if started is not missing:
        return started
    return count_keys(engine.con, str(ibis.to_sql(key_query(engine, as_of), dialect="duckdb")), period)


__all__ = ["count_keys", "counted_by_sorting", "key_query", "start_visitor_counts", "visitor_counts"]

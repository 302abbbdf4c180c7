"""Distinct visitors per period and per day from the sorted session keys of :mod:`.session_arrays`.

Visitors per period (MAU for months) and the sum over days of distinct visitors (the numerator
of average DAU) are distinct counts over customer x period and customer x day pairs. In an
engine that is a hash aggregation with one group per customer and period (21M sessions: about
1.8 s of CPU on DuckDB). On DuckDB with integer customer ids the session log is fetched once as
keys ``customer_id * 65536 + day`` (days since 1970-01-01), sorted (:mod:`.session_arrays`);
with each session's gap in days to the same customer's previous session, a customer is a
visitor of a period from its first session there, the one whose gap reaches back before the
period's first day, and a visitor of a day from its first session that day (gap above 0). A
table of sessions per day and gap (0 .. 33 days) gives both counts for any period and as-of
date. The same fetch gives the per-period aggregate and the customer windows of
:mod:`.activity` (21M sessions: about 1.4 s of CPU for the three, against 2.8 s in the
engine); the KPI suite builds it in the background with :meth:`KPIEngine.prefetch_call`.
Other engines, text ids, ids outside ``[0, 2**47)``, dates outside 1970-2149 and logs whose
arrays would not fit a quarter of DuckDB's ``memory_limit`` take the engine path of
:mod:`.activity`; both give the same counts (``tests/test_kpi_visitors.py``).
"""
from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from .distinct import memory_budget
from .engine import KPIEngine
from .order_arrays import day_number
from .session_arrays import fetch_and_count, fetch_sql, id_dtype, session_arrays, visitor_table

# held: the key (8 bytes) and the duration (2 or 4); while building: the Arrow result and its
# copy (24), or the packed sort key, its temporaries and the gathered durations (up to 32)
_BYTES_PER_SESSION = 32


def counted_by_sorting(engine: KPIEngine) -> bool:
    """Whether :func:`visitor_counts` applies: DuckDB, integer customer ids, session arrays within budget.

    (It may still find ids or dates beyond the key's range and return None.) Where it holds,
    :mod:`.session_arrays` gives the per-period aggregate and customer windows of
    :mod:`.activity` too.

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


def start_visitor_counts(engine: KPIEngine, period: str, as_of: dt.date) -> bool:
    """Start building the session arrays in the background (:meth:`KPIEngine.prefetch_call`).

    With the visitor counts' inputs comes the per-period aggregate of
    :func:`~crm_research.kpi.activity.activity_summary` for ``period`` and ``as_of``
    (:func:`~crm_research.kpi.session_arrays.fetch_and_count`); :func:`visitor_counts`,
    ``activity_summary`` and ``customer_activity`` collect them.

    Parameters
    ----------
    engine : KPIEngine
    period : {"month", "week"}
    as_of : datetime.date

    Returns
    -------
    bool
        True when started (or built already).

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

    from .activity import session_queries

    if not counted_by_sorting(engine):
        return False
    state = engine.cached("session_arrays_started", dict)
    if state:
        return True
    state["started"] = True
    per_sql = str(ibis.to_sql(session_queries(engine, period, as_of)[1], dialect="duckdb"))
    return engine.prefetch_call(("session_arrays",), fetch_and_count, fetch_sql(engine), id_dtype(engine),
                                period, day_number(as_of), per_sql)


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
        path applies (see the module docstring).

    Examples
    --------
    >>> from crm_research.kpi.examples import example_engine
    >>> visitor_counts(example_engine(), 'month', dt.date(2024, 6, 30)).values.tolist()
    [[24292, 3, 4], [24293, 4, 7]]
    """
    a = session_arrays(engine)
    return None if a is None else visitor_table(a, period, day_number(as_of))


__all__ = ["counted_by_sorting", "start_visitor_counts", "visitor_counts"]

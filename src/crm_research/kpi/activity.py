"""Activity (活跃度, R2 chapter 6) from session logs: visit frequency, dwell time, stickiness.

Definitions (per calendar period, sessions with a start date on or before ``as_of``)
----------------------------------------------------------------------------------
``visitors``
    Distinct customers with at least one session in the period (MAU for months, WAU for
    weeks).
``sessions``, ``sessions_per_visitor``
    Visit frequency.
``mean_session_seconds``, ``median_session_seconds``
    Dwell time per visit (the median is the continuous median: mean of the two middle values
    for an even count).
``dwell_seconds_per_visitor``
    Total session time / visitors.
``page_views_per_session``
    NaN when sessions have no page views.
``days``
    Calendar days of the period observed (from the first session, up to ``as_of``).
``avg_daily_visitors``
    DAU averaged over those days: sum over days of distinct visitors that day / ``days``.
``stickiness``
    ``avg_daily_visitors / visitors`` (DAU/MAU for months, DAU/WAU for weeks): the share of
    the period's visitors who come back on an average day.
``buyers``, ``visitor_conversion``
    Customers with an order in the period, and buyers / visitors (buyers need not have a
    recorded session).
``complete``
    False for the period running at ``as_of``.

:func:`customer_activity` gives per-customer visits and visit time in a recent window and
the window before it, the input of the churn indicator "falling visit time".
"""
from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from ..errors import ConfigError
from .engine import (KPIEngine, date_literal, add_period_columns, check_period, period_end, period_index,
                     period_start_of_index, timestamp_literal)
from .sums import exact_sum
from .order_arrays import day_number
from .session_arrays import (counted_by_sorting, customer_windows, fetch_and_count, fetch_sql, id_dtype,
                             period_table, session_log)
from .visitors import visitor_counts

ACTIVITY_COLUMNS = ["period_start", "visitors", "sessions", "sessions_per_visitor",
                    "mean_session_seconds", "median_session_seconds", "dwell_seconds_per_visitor",
                    "page_views_per_session", "days", "avg_daily_visitors", "stickiness",
                    "buyers", "visitor_conversion", "complete"]


def need_sessions(engine: KPIEngine):
    """The engine's session table, or a clear error when no session log was loaded.

    Parameters
    ----------
    engine : KPIEngine

    Returns
    -------
    ibis.Table
        ``engine.sessions``.

    Raises
    ------
    ConfigError
        The engine has no session log.

    Examples
    --------
    >>> import pandas as pd
    >>> from crm_research import kpi
    >>> eng = kpi.load(pd.DataFrame({"customer_id": [1], "order_id": [1], "timestamp": ["2024-01-05"],
    ...                              "amount": [1.0]}))
    >>> need_sessions(eng)
    Traceback (most recent call last):
    ...
    crm_research.errors.ConfigError: ...
    """
    if not engine.has_sessions:
        raise ConfigError("<engine>", "sessions", "activity KPIs need a session log",
                          hint="load one: KPIEngine.load(orders, sessions=...) (CLI: --sessions FILE)")
    return engine.sessions


def activity_summary(engine: KPIEngine, period: str = "month", as_of=None) -> pd.DataFrame:
    """Visit frequency, dwell time and stickiness per calendar period.

    Parameters
    ----------
    engine : KPIEngine
        Loaded with a session log.
    period : {"month", "week"}
    as_of : date-like, optional
        Last session date counted (default: the date of the last order).

    Returns
    -------
    DataFrame
        Columns ``period_start, visitors, sessions, sessions_per_visitor,
        mean_session_seconds, median_session_seconds, dwell_seconds_per_visitor,
        page_views_per_session, days, avg_daily_visitors, stickiness, buyers,
        visitor_conversion, complete`` (module docstring).

    Raises
    ------
    ConfigError
        The engine has no session log.

    Examples
    --------
    >>> from crm_research.kpi.examples import example_engine
    >>> act = activity_summary(example_engine()).set_index('period_start')
    >>> act[['visitors', 'sessions', 'days', 'stickiness', 'buyers']].round(3)
                  visitors  sessions  days  stickiness  buyers
    period_start
    2024-05-01           3         4    31       0.043       3
    2024-06-01           4         7    28       0.062       5
    """
    from .retention import customer_periods_until

    check_period(period)
    a = engine.as_of(as_of)
    has_pv = "page_views" in need_sessions(engine).columns
    arrays = session_log(engine)       # the session log as arrays (whole or in parts) where they apply, else None
    vis = visitor_counts(engine, period, a)
    vis_query, per_query = session_queries(engine, period, a)
    per = period_table(arrays, period, day_number(a)) if arrays is not None else None
    if per is None:                                  # the engine's aggregate, maybe run in the background
        import ibis

        done = None if arrays is None else arrays.memo.pop(
            ("period_query", str(ibis.to_sql(per_query, dialect="duckdb"))), None)
        per = engine.execute(per_query) if done is None else per_query.__pyarrow_result__(done).to_pandas()
    if vis is None:
        vis = engine.execute(vis_query)
    bp = customer_periods_until(engine, period, a)
    buyers = bp.group_by("idx").aggregate(buyers=bp.count())
    df = (vis.merge(per, on="idx", how="left")
          .merge(engine.execute(buyers), on="idx", how="left").sort_values("idx").reset_index(drop=True))
    if df.empty:
        return pd.DataFrame(columns=ACTIVITY_COLUMNS)
    for col in ("visitors", "sessions", "visitor_days"):
        df[col] = df[col].astype("int64")
    df["buyers"] = df["buyers"].fillna(0).astype("int64")
    df["sessions_per_visitor"] = df["sessions"] / df["visitors"]
    df["mean_session_seconds"] = df["seconds"] / df["sessions"]
    df["dwell_seconds_per_visitor"] = df["seconds"] / df["visitors"]
    df["page_views_per_session"] = (df["page_views"] / df["sessions"]) if has_pv else np.nan
    first_day = (arrays.first_day if arrays is not None
                 else pd.Timestamp(engine.execute(engine.sessions.start.min())).date())
    days = []
    for i in df["idx"]:
        i = int(i)
        start = period_start_of_index([i], period)[0].date()
        start = max(start, first_day)
        end = min(period_end(i, period), a)
        days.append((end - start).days + 1)
    df["days"] = days
    df["avg_daily_visitors"] = df["visitor_days"] / df["days"]
    df["stickiness"] = df["avg_daily_visitors"] / df["visitors"]
    df["visitor_conversion"] = df["buyers"] / df["visitors"]
    add_period_columns(df, a, period)
    return df[ACTIVITY_COLUMNS]


def start_visitor_counts(engine: KPIEngine, period: str, as_of: dt.date) -> bool:
    """Start building the session arrays in the background (:meth:`KPIEngine.prefetch_call`).

    With the visitor counts' inputs comes the per-period aggregate of :func:`activity_summary`
    for ``period`` and ``as_of`` (:func:`~crm_research.kpi.session_arrays.fetch_and_count`);
    :func:`~crm_research.kpi.visitors.visitor_counts`, :func:`activity_summary` and
    :func:`customer_activity` collect them.

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
    >>> from crm_research.kpi.visitors import visitor_counts
    >>> eng = example_engine()
    >>> start_visitor_counts(eng, 'month', dt.date(2024, 6, 30))
    True
    >>> visitor_counts(eng, 'month', dt.date(2024, 6, 30))['visitors'].tolist()
    [3, 4]
    """
    import ibis

    if not counted_by_sorting(engine):
        return False
    state = engine.cached("session_arrays_started", dict)
    if state:
        return True
    state["started"] = True
    per_sql = str(ibis.to_sql(session_queries(engine, period, as_of)[1], dialect="duckdb"))
    return engine.prefetch_call(("session_arrays",), fetch_and_count, fetch_sql(engine), id_dtype(engine),
                                period, day_number(as_of), per_sql)


def activity_queries(engine: KPIEngine, period: str = "month", as_of=None, *, visitors: bool = True) -> list:
    """The passes over the session log :func:`activity_summary` runs in the engine (ibis Tables).

    Visitors and their active days need the customer x period grouping (only the day mask is
    kept per group); every other figure is a plain per-period aggregate. The KPI suite starts
    them early with :meth:`KPIEngine.prefetch`. Where :func:`.session_arrays.counted_by_sorting`
    holds, the summary takes visitors and the per-period aggregate from the session arrays
    (:mod:`.session_arrays`, built in the background by
    :func:`start_visitor_counts`): with ``visitors=False`` there is then no query to
    start (an empty list). :func:`session_queries` gives both queries always.

    Parameters
    ----------
    engine : KPIEngine
        Loaded with a session log.
    period : {"month", "week"}
    as_of : date-like, optional
        Last session date counted (default: the date of the last order).
    visitors : bool
        Include the visitor pass (False: the per-period aggregate only).

    Returns
    -------
    list of ibis.Table
        ``[idx, visitors, visitor_days]`` (when ``visitors``) and ``[idx, sessions, seconds,
        page_views, median_session_seconds]`` per period index (``page_views`` only when the log
        has it; not where the session arrays apply).

    Examples
    --------
    >>> from crm_research.kpi.examples import example_engine
    >>> eng = example_engine()
    >>> visitors, per = activity_queries(eng)
    >>> eng.execute(visitors.order_by('idx')).values.tolist()
    [[24292, 3, 4], [24293, 4, 7]]
    >>> activity_queries(eng, visitors=False)     # DuckDB, integer ids: the arrays' work
    []
    """
    vis, per = session_queries(engine, period, as_of)
    if not visitors:
        return [] if counted_by_sorting(engine) else [per]
    return [vis, per]


def session_queries(engine: KPIEngine, period: str = "month", as_of=None) -> tuple:
    """The engine's definitions of visitors and of the per-period aggregate (ibis Tables).

    Parameters
    ----------
    engine : KPIEngine
        Loaded with a session log.
    period : {"month", "week"}
    as_of : date-like, optional
        Last session date counted (default: the date of the last order).

    Returns
    -------
    tuple of ibis.Table
        ``([idx, visitors, visitor_days], [idx, sessions, seconds, page_views,
        median_session_seconds])`` per period index (``page_views`` only when the log has it).

    Examples
    --------
    >>> from crm_research.kpi.examples import example_engine
    >>> eng = example_engine()
    >>> visitors, per = session_queries(eng)
    >>> eng.execute(per.order_by('idx'))['median_session_seconds'].tolist()
    [270.0, 180.0]
    """
    import ibis

    check_period(period)
    s = need_sessions(engine)
    a = engine.as_of(as_of)
    s = s.filter(s.start < timestamp_literal(a + dt.timedelta(days=1)))
    has_pv = "page_views" in s.columns
    # day within the period (0..30): active days per customer and period are the set bits of
    # BIT_OR(1 << day), which avoids a distinct count over customer x day pairs
    if period == "month":
        idx = (s.start.year() * 12 + s.start.month() - 1).cast("int64")
        day_in = s.start.day() - 1
    else:
        d = s.start.date()
        idx = period_index(d, period)
        day_in = d.delta(ibis.date(1970, 1, 5), unit="day") % 7
    s = s.mutate(idx=idx, day_bit=ibis.literal(1, type="int64") << day_in.cast("int64"))
    # a wide aggregate state per customer x period costs about a third more than two passes
    cp = s.group_by(["customer_id", "idx"]).aggregate(days_mask=s.day_bit.bit_or())
    vis = cp.group_by("idx").aggregate(visitors=cp.count(), visitor_days=_popcount31(cp.days_mask).sum())
    extra = {"page_views": s.page_views.sum()} if has_pv else {}     # a log without page views has none
    per = s.group_by("idx").aggregate(
        sessions=s.count(), seconds=exact_sum(s.duration), **extra,
        median_session_seconds=engine.median(s.duration, what="median_session_seconds"))
    return vis, per


def _popcount31(x):
    """Number of set bits of a non-negative integer < 2**31 (SWAR, portable arithmetic)."""
    x = x - ((x >> 1) & 0x55555555)
    x = (x & 0x33333333) + ((x >> 2) & 0x33333333)
    x = (x + (x >> 4)) & 0x0F0F0F0F
    return ((x * 0x01010101) >> 24) & 0xFF


def customer_activity(engine: KPIEngine, as_of=None, window_days: int = 90):
    """Per customer (ibis Table) visits and visit time in two consecutive windows.

    Columns ``customer_id, visits_recent, visits_previous, visit_seconds_recent,
    visit_seconds_previous``: recent = sessions starting in ``(as_of - window_days, as_of]``,
    previous = in ``(as_of - 2 window_days, as_of - window_days]`` (by date); visit seconds
    are NULL for a window without sessions. Where the session arrays apply with whole-second
    durations (:func:`.session_arrays.customer_windows`) the table is computed from them and
    stored in the engine, else it is the engine's aggregation.

    Parameters
    ----------
    engine : KPIEngine
        Loaded with a session log.
    as_of : date-like, optional
        End of the recent window (default: the date of the last order).
    window_days : int
        Length of each window.

    Returns
    -------
    ibis.Table
        One row per customer with a session in either window (columns above).

    Examples
    --------
    >>> from crm_research.kpi.examples import example_engine
    >>> eng = example_engine()
    >>> t = customer_activity(eng, window_days=30)
    >>> eng.execute(t.order_by('customer_id'))[['customer_id', 'visits_recent', 'visits_previous', 'visit_seconds_recent']]
       customer_id  visits_recent  visits_previous  visit_seconds_recent
    0            1              1                2                 180.0
    1            4              2                1                 800.0
    2            5              1                1                 420.0
    3            8              3                0                 300.0
    >>> eng.execute(t.visit_seconds_previous.isnull().sum())   # customer 8: no session in the previous window
    1
    """
    s = need_sessions(engine)
    a = engine.as_of(as_of)
    stored = customer_windows(engine, a, window_days)
    if stored is not None:
        return stored
    d = s.start.date()
    age = date_literal(a).delta(d, unit="day")
    s = s.mutate(age=age).filter((age >= 0) & (age < 2 * window_days))
    recent = s.age < window_days
    return s.group_by("customer_id").aggregate(
        visits_recent=s.count(where=recent),
        visits_previous=s.count(where=~recent),
        visit_seconds_recent=exact_sum(s.duration, where=recent),
        visit_seconds_previous=exact_sum(s.duration, where=~recent))

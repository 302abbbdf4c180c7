"""The session log as numpy arrays: visitors, the per-period aggregate and per-customer windows from one fetch.

Three KPIs read the whole session log: visitors and visitor-days per period
(:func:`~crm_research.kpi.visitors.visitor_counts`), the per-period aggregate of
:func:`~crm_research.kpi.activity.activity_summary` (sessions, seconds, page views, exact median
session time) and the per-customer visit windows of
:func:`~crm_research.kpi.activity.customer_activity` (the churn indicator "falling visit time").
In an engine they are three scans and three hash aggregations (21M sessions on DuckDB: about
2.8 s of CPU together). On DuckDB with integer customer ids one query fetches per session the
packed key ``customer_id * 65536 + day`` (days since 1970-01-01), the duration (as int32 when
every duration is a whole number below 2**31, else -1) and the page views; numpy then keeps

* the keys sorted, and the durations in the same order (int16 where they fit): the durations
  are packed below the keys (``key << bits | duration``, ids less the least id where the bits
  need it) and carried by one sort, a merge (timsort) where the log is in customer-and-date
  order already, as logs exported per customer are (DuckDB returns such a log as sorted batches
  that overlap a little), else the quicksort; where the 63 bits do not suffice the keys are
  packed with the row number instead;
* per day, the sessions by days since the same customer's previous session (0: same day, 1..32,
  33: first session or 33 days and more). A customer is a visitor of a period from the session
  whose gap reaches back before the period's first day: visitors and visitor-days of any
  period (month or week, at most 31 days) and any as-of date are sums over this small table;
* per day, the page views and their non-NULL count.

The per-period aggregate is then one histogram of ``period * (max duration + 1) + duration``
over the sessions up to the as-of date: sessions, seconds (exact: integers) and the exact
median (the continuous median, mean of the two middle values for an even count, as DuckDB's
``median``) per period all come from the counts (a sort of ``(period, duration)`` keys where
the histogram would exceed the number of sessions). The per-customer windows are runs of the
sorted keys. Durations that are not whole numbers, and page views from 2**31 on, leave the
per-period aggregate and the customer windows to the engine; ids outside ``[0, 2**47)`` and
dates outside 1970-2149 leave everything to the engine. Both paths give the same tables
(``tests/test_kpi_session_arrays.py``).

A log whose arrays would not fit the memory budget is read in parts of its customers
(:func:`session_parts`, as :func:`~crm_research.kpi.order_arrays.part_plan` does for the orders):
the per-day tables and the duration counts are sums over the parts, the customer windows
concatenations; 209M sessions of a 100M-order log: activity 16.4 -> 8.8-9.8 s.

Measured at 10M orders / 20.9M sessions (2 cores, DuckDB ``memory_limit`` 3GB; visitor counts,
per-period aggregate and customer windows together, CPU = user + system of the process): engine
paths 2.8-2.9 s CPU; these arrays about 1.1 s CPU, of which DuckDB's fetch about 0.5 s
(:func:`fetch_session_arrays` 0.9-1.0 s; :func:`customer_window_rows` 0.3-0.35 s under cProfile in
session 7, its running sums over 3.4M windowed sessions included).
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import os
import sys

import numpy as np
import pandas as pd

from .distinct import memory_budget
from .engine import KPIEngine
from .order_arrays import (EPOCH, build_parts, cut_id_range, day_number, period_index_of_days, read_routed,
                           release_free_memory, route,
                           running_sums, scattered, small_pages, store, store_parts)

DAY_BITS = 16
_DAY_MASK = (1 << DAY_BITS) - 1
GAP_COLUMNS = 34          # days since the customer's previous session: 0..32, 33 = first or >= 33
CHUNK = 1 << 21           # sessions per numpy step (bounds temporaries; weights below 2**31 sum exactly)
_STEP = 1 << 18           # sessions per step where the per-step tables are small: temporaries stay in the cache
_INT_MAX = 2 ** 31 - 1
_MERGED_RUNS = 256        # sorted runs up to which a merge (timsort) beats a quicksort


@dataclasses.dataclass
class SessionArrays:
    """The session log as sorted keys, durations and per-day tables.

    Attributes
    ----------
    key : ndarray of int64
        ``customer_id * 65536 + day`` per session, sorted.
    duration : ndarray of int16 or int32, or None
        Session seconds in the order of ``key`` (sessions with equal keys in any order); None
        when a duration is not a whole number below 2**31.
    day0 : int
        First session date (days since 1970-01-01); day offsets below count from it.
    day_gaps : ndarray of int64, shape (days, 34)
        Sessions per day by days since the same customer's previous session (column 33: first
        session or 33 days and more).
    page_views : ndarray of int64 or None
        Page views per day (None: the log has none, or a value of 2**31 or more).
    page_view_rows : ndarray of int64 or None
        Sessions with page views (not NULL) per day.
    id_dtype : numpy dtype
        Dtype of the customer ids in the engine.
    has_page_views : bool
        The log has a page views column.
    memo : dict
        Results computed in the background (see :func:`fetch_and_count`).
    """

    key: np.ndarray
    duration: np.ndarray | None
    day0: int
    day_gaps: np.ndarray
    page_views: np.ndarray | None
    page_view_rows: np.ndarray | None
    id_dtype: np.dtype
    has_page_views: bool
    memo: dict = dataclasses.field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.key)

    @property
    def first_day(self) -> dt.date | None:
        """Date of the first session (None for an empty log)."""
        return EPOCH + dt.timedelta(days=self.day0) if len(self.key) else None

    @property
    def periodic(self) -> bool:
        """Whether :func:`period_table` applies (whole durations, page views below 2**31)."""
        return self.duration is not None and (self.page_views is not None or not self.has_page_views)


def fetch_sql(engine: KPIEngine) -> str:
    """The query behind :class:`SessionArrays` (DuckDB SQL: columns ``c, day, d`` and ``p`` if the log has page views).

    ``c`` is the customer id, ``day`` the session date, ``d`` the duration as int32 (-1 where
    it is not a whole number below 2**31), ``p`` the page views as int32 (-1 from 2**31 on;
    NULL stays NULL). (Written as SQL: the checks cost the scan a third more as ibis compiles
    them, and ibis' ``floor`` would cast to an integer that a huge duration overflows.)

    Parameters
    ----------
    engine : KPIEngine

    Returns
    -------
    str

    Examples
    --------
    >>> from crm_research.kpi.examples import example_engine
    >>> eng = example_engine()
    >>> r = eng.con.execute(fetch_sql(eng)).df()
    >>> list(r.columns), int(r['c'].min()), int(r['d'].min())
    (['c', 'day', 'd', 'p'], 1, 60)
    """
    import ibis

    s = engine.sessions
    pv = (", CASE WHEN page_views > 2147483647 THEN -1 ELSE CAST(page_views AS INTEGER) END AS p"
          if "page_views" in s.columns else "")
    return ("SELECT customer_id AS c, CAST(start AS DATE) AS day, CASE WHEN duration = floor(duration) "
            "AND duration <= 2147483647 THEN CAST(duration AS INTEGER) ELSE -1 END AS d" + pv +
            f" FROM ({ibis.to_sql(s, dialect='duckdb')}) AS s")


def fetch_session_arrays(con, sql: str, id_dtype=np.int64) -> SessionArrays | None:
    """Run :func:`fetch_sql` and build the :class:`SessionArrays`.

    DuckDB returns the rows in batches (in no particular order, as the engine does not keep
    insertion order). A first pass over the batches checks ids and dates, takes the ranges and
    adds up the page views per day; the second writes the keys, with the durations packed
    below them where the bits suffice, batches in order of their first key: a log stored in
    customer-and-date order comes back as sorted batches that overlap a little, which a merge
    (timsort) puts in order at a fraction of a sort.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
    sql : str
        The SQL of :func:`fetch_sql` (columns ``c, day, d[, p]``).
    id_dtype : numpy dtype
        Dtype of the customer ids in the engine.

    Returns
    -------
    SessionArrays or None
        None when an id is outside ``[0, 2**47)`` or NULL, or a date outside 1970-2149 (the
        key cannot hold it: the engine counts them).

    Examples
    --------
    >>> import duckdb
    >>> sql = ("SELECT unnest([2, 1, 1]) AS c, unnest([DATE '2024-03-19', DATE '2024-03-18', "
    ...        "DATE '2024-03-18']) AS day, 30 AS d")
    >>> a = fetch_session_arrays(duckdb.connect(), sql)
    >>> (a.key >> 16).tolist(), a.duration.tolist(), a.first_day
    ([1, 1, 2], [30, 30, 30], datetime.date(2024, 3, 18))
    >>> a.day_gaps[:, [0, 33]].tolist()    # the second session of customer 1 that day: gap 0
    [[1, 1], [0, 1]]
    """
    with small_pages():
        return arrays_of_table(con.sql(sql).to_arrow_table(), id_dtype)


def arrays_of_table(t, id_dtype=np.int64) -> SessionArrays | None:
    """:func:`fetch_session_arrays` of a fetched table (columns ``c, day, d[, p]``; consumed).

    Examples
    --------
    >>> import pyarrow as pa, datetime as dt
    >>> t = pa.table({'c': [3, 3], 'day': pa.array([dt.date(2024, 1, 2), dt.date(2024, 1, 1)]), 'd': [5, 7]})
    >>> a = arrays_of_table(t)
    >>> (a.key & 0xFFFF).tolist(), a.duration.tolist()
    ([19723, 19724], [7, 5])
    """
    import pyarrow as pa

    with small_pages():
        has_pv = "p" in t.column_names
        batches = [b for b in t.to_batches() if b.num_rows]
        del t
        n = sum(b.num_rows for b in batches)
        if n == 0:
            z = np.zeros(0, np.int64)
            return SessionArrays(z, np.zeros(0, np.int16), 0, np.zeros((0, GAP_COLUMNS), np.int64),
                                 z if has_pv else None, z if has_pv else None, np.dtype(id_dtype), has_pv)
        # pass 1: checks, ranges and the page views per day (any order)
        cols, firsts = [], []
        c_lo, c_hi, day_lo, day_hi, d_lo, d_hi = 2 ** 47, 0, _DAY_MASK, 0, 0, 0
        pv_sum = np.zeros(_DAY_MASK + 1, np.int64) if has_pv else None
        pv_nulls = np.zeros(_DAY_MASK + 1, np.int64) if has_pv else None
        pv_ok = has_pv
        for b in batches:
            c, day = b.column(0), b.column(1)
            if c.null_count or day.null_count:
                return None
            c = c.to_numpy()
            day = day.view(pa.int32()).to_numpy()
            dur = b.column(2).to_numpy()
            c_lo, c_hi = min(c_lo, int(c.min())), max(c_hi, int(c.max()))
            day_lo, day_hi = min(day_lo, int(day.min())), max(day_hi, int(day.max()))
            if c_lo < 0 or c_hi >= 2 ** 47 or day_lo < 0 or day_hi > _DAY_MASK:
                return None
            d_lo, d_hi = min(d_lo, int(dur.min())), max(d_hi, int(dur.max()))
            if pv_ok:
                col = b.column(3)
                pv = col.fill_null(0).to_numpy() if col.null_count else col.to_numpy()
                if int(pv.min()) < 0:
                    pv_ok = False
                else:
                    for i in range(0, len(day), CHUNK):
                        # float weights below 2**31, at most 2**21 of them: every partial sum is exact
                        s = np.bincount(day[i:i + CHUNK], weights=pv[i:i + CHUNK])
                        pv_sum[:len(s)] += s.astype(np.int64)
                    if col.null_count:              # sessions without page views, per day
                        s = np.bincount(day[col.is_null().to_numpy(zero_copy_only=False)])
                        pv_nulls[:len(s)] += s
            cols.append((c, day, dur))
            firsts.append((int(c[0]) << DAY_BITS) + int(day[0]))
        del batches
        whole = d_lo >= 0
        # durations packed below the keys (one sort carries them) where the bits suffice; the ids
        # as they are where they fit, else less the least
        d_bits = max(1, d_hi.bit_length()) if whole else 0
        c_base = 0 if c_hi.bit_length() + DAY_BITS + d_bits <= 63 else c_lo
        packed = whole and (c_hi - c_base).bit_length() + DAY_BITS + d_bits <= 63
        key = np.empty(n, np.int64)
        dur = np.empty(n, np.int16 if d_hi <= np.iinfo(np.int16).max else np.int32) if whole and not packed else None
        at = 0
        for j in np.argsort(np.asarray(firsts, np.int64), kind="stable"):
            c, day, d = cols[j]
            cols[j] = None                           # each batch's Arrow buffers go once copied
            m = len(c)
            k = key[at:at + m]
            if packed:
                np.subtract(c, c_base, out=k)
                k <<= DAY_BITS
                k |= day
                k <<= d_bits
                k |= d
            else:
                np.left_shift(c, DAY_BITS, out=k)
                k |= day
                if dur is not None:
                    dur[at:at + m] = d
            at += m
        del cols
        if packed:
            # sorted batches give few descents but for ties (same customer and day) in any
            # duration order: a merge (timsort) handles those in passing
            down = int(np.count_nonzero(key[1:] < key[:-1]))
            if down:
                key.sort(kind="stable" if down <= max(_MERGED_RUNS, n >> 3) else "quicksort")
            dur = np.empty(n, np.int16 if d_hi <= np.iinfo(np.int16).max else np.int32)
            np.bitwise_and(key, (1 << d_bits) - 1, out=dur, casting="unsafe")
            key >>= d_bits
            if c_base:
                key += c_base << DAY_BITS
        else:
            key, dur = _sorted(key, dur)
        gaps = _day_gaps(key, day_lo, day_hi - day_lo + 1)
        page_views = page_view_rows = None
        if pv_ok:
            page_views = pv_sum[day_lo:day_hi + 1].copy()
            page_view_rows = gaps.sum(axis=1) - pv_nulls[day_lo:day_hi + 1]
    return SessionArrays(key, dur, day_lo, gaps, page_views, page_view_rows, np.dtype(id_dtype), has_pv)


def _sorted(key: np.ndarray, dur: np.ndarray | None):
    """Keys sorted, durations carried along (ties in row order).

    A log stored in key order comes back from DuckDB as a few sorted runs (the engine does not
    keep insertion order): a merge of the runs (numpy's stable sort, a timsort) costs a tenth
    of a sort then (10M orders' sessions: 19 runs, 0.01 s against 0.13 s); a log in any other
    order gets the (SIMD) quicksort. The keys are packed with the row number, which carries
    the durations along.
    """
    n = len(key)
    runs = 1 + int(np.count_nonzero(key[1:] < key[:-1])) if n else 0
    if runs <= 1:
        return key, dur
    kind = "stable" if runs <= _MERGED_RUNS else "quicksort"
    if dur is None:
        key.sort(kind=kind)
        return key, None
    base = int(key.min()) & ~_DAY_MASK
    k_bits = max(1, (int(key.max()) - base).bit_length())
    r_bits = max(1, (n - 1).bit_length())
    if k_bits + r_bits > 63:   # pragma: no cover - ids far apart in a log of billions
        perm = np.argsort(key, kind="stable")
        return key[perm], dur[perm]
    # one sort of (key, row) packed in 63 bits: the row comes back from the key
    p = key
    p -= base
    p <<= r_bits
    p |= np.arange(n, dtype=np.int64)
    p.sort(kind=kind)
    dur = dur[p & ((1 << r_bits) - 1)]
    p >>= r_bits
    p += base
    return p, dur


def _days(key: np.ndarray) -> np.ndarray:
    """The day bits of packed keys: a strided uint16 view of the keys (little-endian), else a copy."""
    if sys.byteorder == "little" and key.flags.c_contiguous:
        return key.view(np.uint16)[::4]
    return (key & _DAY_MASK).astype(np.uint16)   # pragma: no cover - big-endian machines


def _day_gaps(key: np.ndarray, day_lo: int, days: int) -> np.ndarray:
    """Sessions per day by days since the customer's previous session (sorted keys).

    Between sessions of one customer the key difference is the gap in days; between customers
    it is at least ``65536 - (days - 1)``, which the cap of the gap at 33 cannot tell from a
    long gap while the log spans fewer than ``65536 - 33`` days (else customers are compared).
    """
    width = GAP_COLUMNS
    hist = np.zeros(days * width, np.int64)
    n = len(key)
    apart = days - 1 > _DAY_MASK + 1 - width         # a customer change could look like a short gap
    step = max(_STEP, len(hist))                    # the per-step table adds up to at most one per key
    for i in range(0, n, step):
        k = key[i:i + step]
        gap = np.empty(len(k), np.int64)
        if i:
            np.subtract(k, key[i - 1:i - 1 + len(k)], out=gap)
        else:
            np.subtract(k[1:], k[:-1], out=gap[1:])
            gap[0] = width - 1                       # the log's first session
        np.minimum(gap, width - 1, out=gap)
        if apart:
            prev = key[i - 1:i - 1 + len(k)] if i else np.r_[key[:1] ^ (1 << DAY_BITS), key[:len(k) - 1]]
            gap[(k >> DAY_BITS) != (prev >> DAY_BITS)] = width - 1
        day = k & _DAY_MASK
        day -= day_lo
        day *= width
        day += gap
        hist += np.bincount(day, minlength=len(hist))
    return hist.reshape(days, width)


# held: the key (8 bytes) and the duration (2 or 4); while building: the Arrow result and its
# copy (24), or the packed sort key, its temporaries and the gathered durations (up to 32)
BYTES_PER_SESSION = 32


def counted_by_sorting(engine: KPIEngine) -> bool:
    """Whether :func:`session_arrays` applies: DuckDB, integer customer ids, arrays within budget.

    (It may still find ids or dates beyond the key's range and return None.) Where it holds,
    the visitor counts (:mod:`.visitors`), the per-period aggregate and the customer windows of
    :mod:`.activity` come from the arrays.

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
    if not engine.sessions.schema()["customer_id"].is_integer():
        return False
    report = engine.reports.get("sessions")
    return report is not None and BYTES_PER_SESSION * report.rows_kept <= memory_budget(engine.con)


def session_arrays(engine: KPIEngine) -> SessionArrays | None:
    """The engine's sessions as :class:`SessionArrays` (fetched once per engine and kept), or None.

    None where :func:`counted_by_sorting` does not hold or ids or
    dates lie beyond the key (the engine path applies). Collects the arrays
    :func:`~crm_research.kpi.activity.start_visitor_counts` built in the background.

    Parameters
    ----------
    engine : KPIEngine

    Returns
    -------
    SessionArrays or None

    Examples
    --------
    >>> from crm_research.kpi.examples import example_engine
    >>> a = session_arrays(example_engine())
    >>> len(a), a.first_day, a.duration.dtype.name
    (11, datetime.date(2024, 5, 1), 'int16')
    """
    if not counted_by_sorting(engine):
        return None

    def build():
        missing = object()
        started = engine.collect(("session_arrays",), default=missing)
        if started is not missing:
            return started
        engine.cached("session_arrays_started", dict)["started"] = True    # none to start in the background now
        return fetch_session_arrays(engine.con, fetch_sql(engine), id_dtype(engine))

    return engine.cached("session_arrays", build)


def id_dtype(engine: KPIEngine) -> np.dtype:
    """The numpy dtype of the sessions' customer ids in the engine.

    Examples
    --------
    >>> from crm_research.kpi.examples import example_engine
    >>> id_dtype(example_engine())
    dtype('int64')
    """
    return np.dtype(engine.sessions.schema()["customer_id"].to_numpy())


def fetch_and_count(con, sql: str, id_type, period: str, last_day: int, per_sql: str | None = None):
    """Build the :class:`SessionArrays` and the suite's tables for one period and as-of date (background work).

    What :func:`~crm_research.kpi.activity.start_visitor_counts` runs with
    :meth:`KPIEngine.prefetch_call`: the arrays, with :func:`period_table` (or, where the
    arrays cannot give it, the result of ``per_sql`` as a pyarrow table) kept in their ``memo``.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
    sql : str
        :func:`fetch_sql`.
    id_type : numpy dtype
    period : {"month", "week"}
    last_day : int
        As-of date, days since 1970-01-01.
    per_sql : str, optional
        The engine's per-period aggregate, run here when the durations are not whole numbers.

    Returns
    -------
    SessionArrays or None

    Examples
    --------
    >>> import duckdb
    >>> sql = "SELECT 1 AS c, unnest([DATE '2024-03-18', DATE '2024-03-19']) AS day, unnest([10, 20]) AS d"
    >>> a = fetch_and_count(duckdb.connect(), sql, np.int64, 'month', 19801)
    >>> a.memo[('period_table', 'month', 19801)]['median_session_seconds'].tolist()
    [15.0]
    """
    a = fetch_session_arrays(con, sql, id_type)
    if a is None:
        return None
    if a.periodic:
        a.memo[("period_table", period, last_day)] = period_table(a, period, last_day)
    elif per_sql is not None:
        a.memo[("period_query", per_sql)] = con.sql(per_sql).to_arrow_table()
    return a


def _period_days(a: SessionArrays, period: str, last_day: int):
    """Days ``day0 .. min(last day of the log, last_day)`` and their period indexes."""
    m = min(len(a.day_gaps), last_day - a.day0 + 1)
    if m <= 0 or len(a) == 0:
        return None
    days = np.arange(a.day0, a.day0 + m, dtype=np.int64)
    return days, period_index_of_days(days, period).astype(np.int64)


def visitor_table(a: SessionArrays, period: str, last_day: int) -> pd.DataFrame:
    """Visitors and visitor-days per period from the sessions up to ``last_day``.

    Parameters
    ----------
    a : SessionArrays
    period : {"month", "week"}
    last_day : int
        Days since 1970-01-01.

    Returns
    -------
    DataFrame
        Columns ``idx, visitors, visitor_days`` (as :func:`~crm_research.kpi.visitors.visitor_counts`).

    Examples
    --------
    >>> from crm_research.kpi.examples import example_engine
    >>> visitor_table(session_arrays(example_engine()), 'month', day_number(dt.date(2024, 6, 30))).values.tolist()
    [[24292, 3, 4], [24293, 4, 7]]
    """
    got = _period_days(a, period, last_day)
    if got is None:
        z = np.zeros(0, np.int64)
        return pd.DataFrame({"idx": z, "visitors": z, "visitor_days": z})
    days, idx = got
    m = len(days)
    # sessions with gap >= g, per day: the column after the day's offset in its period counts
    # the customers whose previous session lies before the period
    reach = np.cumsum(a.day_gaps[:m, ::-1], axis=1)[:, ::-1]
    if period == "month":
        into = (days.astype("datetime64[D]") - days.astype("datetime64[D]").astype("datetime64[M]")).astype(np.int64)
    else:
        into = (days - 4) % 7
    first_visits = reach[np.arange(m), into + 1]
    visitor_days = reach[:, 1]
    starts = np.flatnonzero(np.r_[True, idx[1:] != idx[:-1]])
    visitors = np.add.reduceat(first_visits, starts)
    vdays = np.add.reduceat(visitor_days, starts)
    keep = vdays > 0
    return pd.DataFrame({"idx": idx[starts][keep], "visitors": visitors[keep].astype(np.int64),
                         "visitor_days": vdays[keep].astype(np.int64)})


def period_table(a: SessionArrays, period: str, last_day: int) -> pd.DataFrame | None:
    """Sessions, seconds, page views and the exact median session seconds per period.

    The engine's per-period aggregate of :func:`~crm_research.kpi.activity.activity_queries`
    (sessions up to ``last_day``), from a histogram of durations per period.

    Parameters
    ----------
    a : SessionArrays
    period : {"month", "week"}
    last_day : int
        Days since 1970-01-01.

    Returns
    -------
    DataFrame or None
        Columns ``idx, sessions, seconds, [page_views,] median_session_seconds``, one row per
        period with a session; None where :attr:`SessionArrays.periodic` is False.

    Examples
    --------
    >>> from crm_research.kpi.examples import example_engine
    >>> t = period_table(session_arrays(example_engine()), 'month', day_number(dt.date(2024, 6, 30)))
    >>> t.values.tolist()
    [[24292.0, 4.0, 1020.0, 17.0, 270.0], [24293.0, 7.0, 1700.0, 29.0, 180.0]]
    """
    if not a.periodic:
        return None
    key = ("period_table", period, last_day)
    if key in a.memo:
        return a.memo[key]
    got = _period_days(a, period, last_day)
    cols = ["idx", "sessions", "seconds"] + (["page_views"] if a.has_page_views else []) + ["median_session_seconds"]
    if got is None:
        return pd.DataFrame({c: np.zeros(0, np.float64 if c in ("seconds", "median_session_seconds") else np.int64)
                             for c in cols})
    days, idx = got
    m = len(days)
    starts = np.flatnonzero(np.r_[True, idx[1:] != idx[:-1]])
    sessions = np.add.reduceat(a.day_gaps[:m].sum(axis=1), starts)
    keep = np.flatnonzero(sessions > 0)
    period_of_day = np.cumsum(np.r_[False, idx[1:] != idx[:-1]])       # 0 .. periods - 1
    if isinstance(a, SessionParts) and len(starts) * _top(a) > max(len(a), 1 << 20):
        return None     # the sort of (period, duration) keys would hold every session at once
    with small_pages():
        seconds, lower, upper = _period_durations(a, period_of_day, len(starts), sessions, m)
    out = {"idx": idx[starts][keep], "sessions": sessions[keep].astype(np.int64),
           "seconds": seconds[keep].astype(np.float64)}
    if a.has_page_views:
        pv = np.add.reduceat(a.page_views[:m], starts)[keep]
        rows = np.add.reduceat(a.page_view_rows[:m], starts)[keep]
        out["page_views"] = np.where(rows > 0, pv, np.nan) if (rows == 0).any() else pv
    out["median_session_seconds"] = (lower[keep].astype(np.float64) + upper[keep]) / 2
    return pd.DataFrame(out)


def _period_durations(a: SessionArrays, period_of_day: np.ndarray, periods: int, sessions: np.ndarray, m: int):
    """Exact seconds and the two middle durations per period (sessions on days ``< m``)."""
    top = _top(a)
    lo_rank = np.maximum(sessions - 1, 0) // 2          # 0-based ranks of the middle values
    hi_rank = sessions // 2
    width = top
    if periods * width <= max(len(a), 1 << 20):          # histogram: one count per period and duration
        hist = np.zeros(periods * width, np.int64)
        lut = period_of_day.astype(np.int64) * width
        for key, dur in _chunks(a):
            d = key & _DAY_MASK
            d -= a.day0
            if m < len(a.day_gaps):
                inside = d < m
                d, dur = d[inside], dur[inside]
            b = lut[d]
            b += dur
            hist += np.bincount(b, minlength=len(hist))
        hist = hist.reshape(periods, width)
        seconds = hist @ np.arange(width, dtype=np.int64)
        cum = np.cumsum(hist, axis=1)
        lower = np.array([np.searchsorted(cum[p], lo_rank[p], side="right") for p in range(periods)], np.int64)
        upper = np.array([np.searchsorted(cum[p], hi_rank[p], side="right") for p in range(periods)], np.int64)
        return seconds, lower, upper
    # a sort of (period, duration) keys: each period's durations in order, periods one after another
    d_bits = max(1, (top - 1).bit_length())
    parts = []
    for key, dur in _chunks(a):
        d = key & _DAY_MASK
        d -= a.day0
        if m < len(a.day_gaps):
            inside = d < m
            d, dur = d[inside], dur[inside]
        b = period_of_day.astype(np.int64)[d] << d_bits
        b |= dur
        parts.append(b)
    v = np.sort(np.concatenate(parts)) & ((1 << d_bits) - 1) if parts else np.zeros(0, np.int64)
    off = np.r_[0, np.cumsum(sessions)[:-1]]
    has = sessions > 0
    lower = np.where(has, v[np.where(has, off + lo_rank, 0)] if len(v) else 0, 0)
    upper = np.where(has, v[np.where(has, off + hi_rank, 0)] if len(v) else 0, 0)
    seconds = np.add.reduceat(v, off[has]) if has.any() else np.zeros(0, np.int64)
    full = np.zeros(periods, np.int64)
    full[has] = seconds
    return full, lower, upper


def _top(a) -> int:
    """Largest duration + 1 of a session log (1 when empty)."""
    if isinstance(a, SessionParts):
        return a.top
    return int(a.duration.max()) + 1 if len(a) else 1


def _chunks(a):
    """``(keys, durations)`` of a session log in steps of :data:`CHUNK` (the parts one after another)."""
    for p in (a.each() if isinstance(a, SessionParts) else [a]):
        for i in range(0, len(p), CHUNK):
            yield p.key[i:i + CHUNK], p.duration[i:i + CHUNK]


def customer_window_rows(a: SessionArrays, last_day: int, window_days: int):
    """Per customer visits and visit seconds in the recent and the previous window.

    Recent: sessions ``0 .. window_days - 1`` days before ``last_day``; previous: the
    ``window_days`` days before those (:func:`~crm_research.kpi.activity.customer_activity`).

    Parameters
    ----------
    a : SessionArrays
        With whole durations (``a.duration`` not None).
    last_day : int
        Days since 1970-01-01.
    window_days : int

    Returns
    -------
    pyarrow.Table
        Columns ``customer_id, visits_recent, visits_previous, visit_seconds_recent,
        visit_seconds_previous`` (seconds NULL where the window has no session), by customer.

    Examples
    --------
    >>> from crm_research.kpi.examples import example_engine
    >>> a = session_arrays(example_engine())
    >>> t = customer_window_rows(a, day_number(dt.date(2024, 6, 28)), 30).to_pandas()
    >>> t[['customer_id', 'visits_recent', 'visits_previous', 'visit_seconds_recent']].values.tolist()
    [[1.0, 1.0, 2.0, 180.0], [4.0, 2.0, 1.0, 800.0], [5.0, 1.0, 1.0, 420.0], [8.0, 3.0, 0.0, 300.0]]
    """
    import pyarrow as pa

    if a.duration is None:
        raise ValueError("customer windows need whole durations (SessionArrays.duration is None)")
    W = int(window_days)
    parts = []
    with small_pages():
        day = _days(a.key)
        first = last_day - 2 * W + 1                 # first day of the previous window
        lo, hi = max(first, 0), min(last_day, _DAY_MASK)
        if lo <= hi:
            span, cut = np.uint16(hi - lo), last_day - W - lo      # recent: day - lo > cut
            buf = np.empty(min(_STEP, len(a)), np.uint16)
            for i in range(0, len(a), _STEP):
                off = buf[:len(day[i:i + _STEP])]
                np.subtract(day[i:i + _STEP], np.uint16(lo), out=off)   # days before lo wrap above span
                at = np.flatnonzero(off <= span)
                if len(at):
                    parts.append((a.key[i:i + _STEP][at], a.duration[i:i + _STEP][at],
                                  off[at] > np.uint16(cut) if 0 <= cut < span else np.full(len(at), cut < 0)))
    if parts:
        cust = np.concatenate([p[0] for p in parts])
        cust >>= DAY_BITS
        dur = np.concatenate([p[1] for p in parts])
        recent = np.concatenate([p[2] for p in parts])
    else:
        cust, dur, recent = np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, bool)
    ends = np.r_[np.flatnonzero(cust[1:] != cust[:-1]) + 1, len(cust)] if len(cust) else np.zeros(0, np.int64)
    n = np.diff(ends, prepend=0)
    bounds = np.r_[0, ends]

    def per_customer(x):         # sums over each customer's rows
        return np.diff(running_sums(x, bounds))

    v_recent = per_customer(recent)
    s_total = per_customer(dur)
    np.multiply(dur, recent, out=dur)
    s_recent = per_customer(dur)
    v_prev = n - v_recent
    return pa.table({
        "customer_id": cust[ends - 1].astype(a.id_dtype, copy=False),
        "visits_recent": v_recent, "visits_previous": v_prev,
        "visit_seconds_recent": pa.array(s_recent.astype(np.float64), mask=v_recent == 0),
        "visit_seconds_previous": pa.array((s_total - s_recent).astype(np.float64), mask=v_prev == 0)})


def customer_windows(engine: KPIEngine, as_of: dt.date, window_days: int):
    """:func:`customer_window_rows` of the engine's sessions, stored in the engine (ibis Table), or None.

    None where the arrays do not apply (see :func:`session_arrays`) or the durations are not
    whole numbers: the engine computes the table then. Kept per ``(as_of, window_days)``.

    Parameters
    ----------
    engine : KPIEngine
    as_of : datetime.date
    window_days : int

    Returns
    -------
    ibis.Table or None

    Examples
    --------
    >>> from crm_research.kpi.examples import example_engine
    >>> eng = example_engine()
    >>> t = customer_windows(eng, dt.date(2024, 6, 28), 30)
    >>> eng.execute(t.visits_recent.sum())
    7
    """
    a = session_log(engine)
    if a is None or a.duration is None:
        return None
    last_day, W = day_number(as_of), int(window_days)
    name = f"_kpi_customer_activity_{last_day}_{W}"
    if isinstance(a, SessionParts):      # part by part into the engine
        return engine.cached(("customer_windows", last_day, W), lambda: store_parts(
            engine, name, (customer_window_rows(p, last_day, W) for p in a.each())))
    return engine.cached(("customer_windows", last_day, W), lambda: store(
        engine, name, customer_window_rows(a, last_day, W)))


@dataclasses.dataclass
class SessionParts:
    """A session log read in parts of its customers (:func:`session_parts`).

    The per-day tables are those of the whole log (sums over the parts); the keys and durations
    of each part stay in ``.npy`` files and come back one part at a time (:meth:`each`).
    :func:`visitor_table`, :func:`period_table` and :func:`customer_window_rows` (per part)
    read it as they read :class:`SessionArrays`.

    Attributes
    ----------
    day0, day_gaps, page_views, page_view_rows, id_dtype, has_page_views, memo
        As :class:`SessionArrays`, for the whole log.
    sessions : int
        Sessions of the whole log.
    top : int
        Largest duration + 1 (1 for an empty log or durations that are not whole).
    whole : bool
        Every duration is a whole number below 2**31.
    files : list of tuple
        ``(keys, durations)`` file paths per part (durations None when not whole).
    """

    day0: int
    day_gaps: np.ndarray
    page_views: np.ndarray | None
    page_view_rows: np.ndarray | None
    id_dtype: np.dtype
    has_page_views: bool
    sessions: int
    top: int
    whole: bool
    files: list
    memo: dict = dataclasses.field(default_factory=dict)

    def __len__(self) -> int:
        return self.sessions

    @property
    def first_day(self) -> dt.date | None:
        """Date of the first session (None for an empty log)."""
        return EPOCH + dt.timedelta(days=self.day0) if self.sessions else None

    @property
    def duration(self):
        """Not held here (see :meth:`each`); None where the durations are not whole."""
        return True if self.whole else None

    @property
    def periodic(self) -> bool:
        """Whether :func:`period_table` applies (whole durations, page views below 2**31)."""
        return self.whole and (self.page_views is not None or not self.has_page_views)

    def each(self):
        """Each part as :class:`SessionArrays` (keys and durations mapped read-only from their
        files; the per-day tables empty), in order of customer id."""
        for kf, df in self.files:
            key = np.load(kf, mmap_mode="r")
            dur = None if df is None else np.load(df, mmap_mode="r")
            yield SessionArrays(key, dur, self.day0, np.zeros((0, GAP_COLUMNS), np.int64), None, None,
                                self.id_dtype, self.has_page_views)


def session_parts(engine: KPIEngine, budget: int | None = None) -> SessionParts | None:
    """The engine's sessions read in parts of their customers, where they are too many for
    :func:`session_arrays` (built once per engine and kept), or None.

    As :func:`~crm_research.kpi.order_arrays.part_plan` does for the orders: consecutive
    customer-id ranges of at most half the memory budget each (from one histogram of the ids),
    each read by one filtered query and sorted (two at a time), its keys and durations written to
    ``.npy`` files in DuckDB's ``temp_directory`` (removed with the engine). Visitors, visitor
    days, sessions, seconds, page views and the exact median per period are sums over the parts'
    per-day tables and duration counts; the customer windows are concatenations.

    Parameters
    ----------
    engine : KPIEngine
    budget : int, optional
        Bytes per part (default: half of :func:`~crm_research.kpi.distinct.memory_budget`);
        given, the sessions are read in parts even where they would fit whole.

    Returns
    -------
    SessionParts or None
        None where :func:`session_arrays` applies (unless ``budget`` is given), the engine is not
        DuckDB, the ids are not integers, an id or date lies beyond the key, or one bucket of
        ids alone would exceed twice the budget.

    Examples
    --------
    >>> from crm_research.kpi.examples import example_engine
    >>> eng = example_engine()
    >>> session_parts(eng) is None                  # the whole log fits: session_arrays applies
    True
    >>> p = session_parts(eng, budget=100)
    >>> len(p.files), len(p), int(p.day_gaps.sum()) == len(session_arrays(eng))
    (4, 11, True)
    >>> visitor_table(p, 'month', 19904).equals(visitor_table(session_arrays(eng), 'month', 19904))
    True
    """
    if budget is None:
        if not engine.is_cached("session_parts") and counted_by_sorting(engine):
            return None
        return engine.cached("session_parts", lambda: _read_parts(engine, memory_budget(engine.con) // 2))
    if engine.is_cached("session_parts"):
        raise ValueError("session_parts: the sessions of this engine were read already")
    return engine.cached("session_parts", lambda: _read_parts(engine, int(budget)))


def _read_parts(engine: KPIEngine, budget: int) -> SessionParts | None:
    import ibis

    if getattr(engine.backend, "name", "") != "duckdb" or engine.con is None or not engine.has_sessions:
        return None
    if not engine.sessions.schema()["customer_id"].is_integer():
        return None
    s = engine.sessions
    lo, hi = engine.con.sql(ibis.to_sql(s.aggregate(lo=s.customer_id.min(), hi=s.customer_id.max()),
                                        dialect="duckdb")).fetchall()[0]
    if lo is None or lo < 0 or hi >= 2 ** 47:
        return None
    ranges = cut_id_range(engine, s, int(lo), int(hi), BYTES_PER_SESSION, 0, budget)
    if ranges is None:
        return None
    n = sum(r[2] for r in ranges)
    sql, dtype = fetch_sql(engine), id_dtype(engine)
    got: list = [None] * len(ranges)
    # a log in time order: one scan routes the sessions to their parts (else one filtered scan each)
    routed = scattered(engine, [r[0] for r in ranges], n, table="sessions")

    def route_all(cons, folder):
        route(cons, sql, "c", [r[0] for r in ranges], [f"{folder}/part{k:05d}.arrow" for k in range(len(ranges))])

    def read(con, folder, k):
        if False in got:                 # a part beyond the key: the engine path for all
            return
        r0, r1 = ranges[k][:2]
        if routed:
            a = arrays_of_table(read_routed(f"{folder}/part{k:05d}.arrow"), dtype)
            os.remove(f"{folder}/part{k:05d}.arrow")
        else:
            a = fetch_session_arrays(con, f"{sql} WHERE s.customer_id BETWEEN {r0} AND {r1}", dtype)
        if a is None:
            got[k] = False
            return
        kf = f"{folder}/part{k:05d}_key.npy"
        np.save(kf, a.key)
        df = None
        if a.duration is not None:
            df = f"{folder}/part{k:05d}_duration.npy"
            np.save(df, a.duration)
        top = int(a.duration.max()) + 1 if a.duration is not None and len(a) else 1
        got[k] = (kf, df, len(a), top, a.day0, a.day_gaps, a.page_views, a.page_view_rows, a.has_page_views)

    build_parts(engine, "crm_kpi_sessions_", len(ranges), read, 10 * n, route_all if routed else None)
    if any(g is False or g is None for g in got):
        return None
    full = [g for g in got if g[2]]
    day0 = min((g[4] for g in full), default=0)
    days = max((g[4] + len(g[5]) for g in full), default=day0) - day0
    gaps = np.zeros((days, GAP_COLUMNS), np.int64)
    has_pv = bool(got[0][8])
    pv_ok = has_pv and all(g[6] is not None for g in full)
    pv = np.zeros(days, np.int64) if pv_ok else None
    pvr = np.zeros(days, np.int64) if pv_ok else None
    for g in full:
        at = slice(g[4] - day0, g[4] - day0 + len(g[5]))
        gaps[at] += g[5]
        if pv_ok:
            pv[at] += g[6]
            pvr[at] += g[7]
    whole = all(g[1] is not None for g in got)
    return SessionParts(day0, gaps, pv, pvr, dtype, has_pv, sum(g[2] for g in got),
                        max((g[3] for g in got), default=1) if whole else 1, whole,
                        [(g[0], g[1]) for g in got])


def session_log(engine: KPIEngine):
    """The engine's sessions as :class:`SessionArrays` where they fit, else as :class:`SessionParts`
    (:func:`session_parts`), else None (the engine path).

    Parameters
    ----------
    engine : KPIEngine

    Returns
    -------
    SessionArrays, SessionParts or None

    Examples
    --------
    >>> from crm_research.kpi.examples import example_engine
    >>> type(session_log(example_engine())).__name__
    'SessionArrays'
    """
    if engine.is_cached("session_parts") and session_parts(engine) is not None:     # read in parts already
        return session_parts(engine)
    a = session_arrays(engine)
    return a if a is not None else session_parts(engine)


__all__ = ["BYTES_PER_SESSION", "CHUNK", "counted_by_sorting", "DAY_BITS", "GAP_COLUMNS", "SessionArrays", "SessionParts",
           "arrays_of_table", "customer_window_rows", "customer_windows", "fetch_and_count", "fetch_session_arrays", "fetch_sql", "id_dtype",
           "period_table", "session_arrays", "session_log", "session_parts", "visitor_table"]

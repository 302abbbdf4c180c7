"""The session arrays (kpi.session_arrays) give the engine's tables: visitor counts, the per-period
aggregate of activity_summary (exact median) and customer_activity, for months and weeks, as-of
dates inside and beyond the log, ties and several sessions a day, ids with gaps, odd and even
counts per period, logs with and without page views (and with NULL page views), whole and
fractional durations, sorted and shuffled logs."""
from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from crm_research import kpi
from crm_research.kpi import activity as A
from crm_research.kpi import session_arrays as SA
from crm_research.kpi import visitors as V


def _logs(seed: int, n_sessions: int = 5000, *, page_views: bool = True, whole: bool = True,
          sort: bool = False, null_pv: bool = False):
    rng = np.random.default_rng(seed)
    n_cust = int(rng.integers(30, 300))
    t0 = pd.Timestamp("2023-03-01")
    ids = rng.integers(0, n_cust, 1500) * int(rng.choice([1, 7])) + int(rng.integers(0, 5000))
    orders = pd.DataFrame({
        "customer_id": ids, "order_id": np.arange(len(ids)),
        "timestamp": t0 + pd.to_timedelta(rng.integers(0, 400 * 24, len(ids)), unit="h"),
        "amount": np.round(rng.gamma(2.0, 20.0, len(ids)), 2)})
    # few distinct durations and start hours: ties within a period and several sessions a day
    dur = rng.integers(0, int(rng.choice([5, 60, 4000])), n_sessions).astype(float)
    if not whole:
        dur = dur + np.round(rng.random(n_sessions), 2)
    sessions = pd.DataFrame({
        "customer_id": rng.integers(-10, n_cust + 20, n_sessions) * int(rng.choice([1, 3])) + 5010,
        "start": t0 + pd.to_timedelta(rng.integers(-20, 420, n_sessions) * 24 + rng.integers(0, 3, n_sessions) * 7,
                                      unit="h"),
        "duration": dur})
    if page_views:
        sessions["page_views"] = rng.integers(0, 30, n_sessions)
        if null_pv:
            pv = sessions["page_views"].astype("float")
            pv[rng.random(n_sessions) < 0.3] = np.nan
            pv[sessions["start"] < t0 + pd.Timedelta(days=40)] = np.nan      # periods without page views
            sessions["page_views"] = pv.astype("Int64")
    if sort:
        sessions = sessions.sort_values(["customer_id", "start"]).reset_index(drop=True)
    return orders, sessions


def _engines(orders, sessions):
    fast = kpi.load(orders, sessions=sessions)
    assert SA.session_arrays(fast) is not None             # the array path is taken
    slow = kpi.load(orders, sessions=sessions)
    slow.cached("session_arrays", lambda: None)            # the engine's definitions
    assert V.visitor_counts(slow, "month", dt.date(2024, 1, 1)) is None
    return fast, slow


def _cases(orders, sessions):
    hi = orders["timestamp"].max().date()
    lo = sessions["start"].min().date()
    return [(period, as_of) for period in ("month", "week")
            for as_of in (hi, lo + dt.timedelta(days=45), hi + dt.timedelta(days=60), lo - dt.timedelta(days=3))]


def _same_activity(fast, slow, orders, sessions):
    parity = set()
    for period, as_of in _cases(orders, sessions):
        got = A.activity_summary(fast, period, as_of)
        want = A.activity_summary(slow, period, as_of)
        pd.testing.assert_frame_equal(got, want, check_exact=False, rtol=1e-12, atol=0)
        if as_of >= sessions["start"].min().date() + dt.timedelta(days=30):
            assert len(got) > 1
        parity |= set(got["sessions"] % 2)
    assert parity == {0, 1}           # odd and even session counts per period: both medians are checked


def _same_windows(fast, slow, orders):
    hi = orders["timestamp"].max().date()
    for as_of, W in ((hi, 90), (hi - dt.timedelta(days=100), 30), (hi + dt.timedelta(days=50), 45), (hi, 1)):
        t_fast, t_slow = A.customer_activity(fast, as_of, W), A.customer_activity(slow, as_of, W)
        a = fast.execute(t_fast).sort_values("customer_id").reset_index(drop=True)
        b = slow.execute(t_slow).sort_values("customer_id").reset_index(drop=True)
        assert len(a) == len(b) > 0
        pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-12, atol=0)
        assert t_fast.schema() == t_slow.schema()       # churn's join compiles against these types


@pytest.mark.parametrize("seed", range(6))
def test_arrays_equal_the_engine_definitions(seed):
    orders, sessions = _logs(seed, page_views=seed % 2 == 0, sort=seed % 3 == 0)
    fast, slow = _engines(orders, sessions)
    assert SA.session_arrays(fast).periodic
    _same_activity(fast, slow, orders, sessions)
    _same_windows(fast, slow, orders)
    for period, as_of in _cases(orders, sessions):
        got = V.visitor_counts(fast, period, as_of)
        want = slow.execute(A.session_queries(slow, period, as_of)[0])
        pd.testing.assert_frame_equal(got.sort_values("idx").reset_index(drop=True),
                                      want.sort_values("idx").reset_index(drop=True), check_dtype=False)


def test_null_page_views_are_skipped_as_in_the_engine():
    orders, sessions = _logs(11, null_pv=True)
    fast, slow = _engines(orders, sessions)
    _same_activity(fast, slow, orders, sessions)
    act = A.activity_summary(fast, "month")
    assert act["page_views_per_session"].isna().any() and act["page_views_per_session"].notna().any()


@pytest.mark.parametrize("sort", [False, True])
def test_fractional_durations_leave_the_aggregate_and_windows_to_the_engine(sort):
    orders, sessions = _logs(5, whole=False, sort=sort)
    fast, slow = _engines(orders, sessions)
    a = SA.session_arrays(fast)
    assert a.duration is None and not a.periodic
    assert SA.period_table(a, "month", 20000) is None
    assert SA.customer_windows(fast, dt.date(2024, 1, 1), 30) is None
    _same_activity(fast, slow, orders, sessions)              # visitors from the arrays, the rest the engine's
    _same_windows(fast, slow, orders)


def test_large_durations_take_the_sorted_median():
    """Durations spread so wide that a histogram per period would exceed the log: a sort instead."""
    orders, sessions = _logs(3)
    sessions["duration"] = (np.random.default_rng(3).integers(0, 3, len(sessions)) * 40_000_000
                            + np.arange(len(sessions)) % 5).astype(float)
    fast, slow = _engines(orders, sessions)
    a = SA.session_arrays(fast)
    assert a.duration.dtype == np.int32 and len(SA._period_days(a, "week", 20000)[0]) * int(a.duration.max()) > len(a)
    _same_activity(fast, slow, orders, sessions)


def test_huge_page_views_and_durations_leave_the_aggregate_to_the_engine():
    orders, sessions = _logs(4)
    sessions.loc[3, "page_views"] = 2 ** 40
    sessions.loc[5, "duration"] = 2.0 ** 33
    fast, slow = _engines(orders, sessions)
    a = SA.session_arrays(fast)
    assert a.page_views is None and a.duration is None
    _same_activity(fast, slow, orders, sessions)


def test_the_background_build_gives_the_same_tables():
    orders, sessions = _logs(8, whole=False)
    fast, slow = _engines(orders, sessions)
    fresh = kpi.load(orders, sessions=sessions)
    as_of = orders["timestamp"].max().date()
    assert A.start_visitor_counts(fresh, "week", as_of)
    assert A.start_visitor_counts(fresh, "week", as_of)                # once per engine
    pd.testing.assert_frame_equal(A.activity_summary(fresh, "week", as_of), A.activity_summary(slow, "week", as_of),
                                  check_exact=False, rtol=1e-12)
    orders, sessions = _logs(9)
    fresh = kpi.load(orders, sessions=sessions)
    _, slow = _engines(orders, sessions)
    assert A.start_visitor_counts(fresh, "month", as_of)
    got = A.activity_summary(fresh, "month", as_of)
    assert SA.session_arrays(fresh).memo                               # the aggregate came from the background
    pd.testing.assert_frame_equal(got, A.activity_summary(slow, "month", as_of), check_exact=False, rtol=1e-12)


def test_suite_tables_are_the_same_on_both_paths():
    orders, sessions = _logs(2)
    fast, slow = _engines(orders, sessions)
    a, b = kpi.kpi_suite(fast).tables, kpi.kpi_suite(slow).tables
    for name in ("activity", "churn_risk"):
        pd.testing.assert_frame_equal(a[name], b[name], check_exact=False, rtol=1e-12, atol=1e-9, obj=name)


def test_session_arrays_hold_every_session_once_sorted():
    orders, sessions = _logs(6, sort=False)
    a = SA.session_arrays(kpi.load(orders, sessions=sessions))
    assert len(a) == len(sessions) and bool(np.all(a.key[1:] >= a.key[:-1]))
    day = (sessions["start"].dt.normalize() - pd.Timestamp("1970-01-01")).dt.days.to_numpy()
    want = np.sort(sessions["customer_id"].to_numpy() * 65536 + day)
    assert np.array_equal(a.key, want)
    # durations travel with their keys: the multiset of (key, duration) pairs is the log's
    pairs = sorted(zip(sessions["customer_id"].to_numpy() * 65536 + day, sessions["duration"].astype(int)))
    assert sorted(zip(a.key.tolist(), a.duration.tolist())) == [(int(k), int(d)) for k, d in pairs]
    assert int(a.day_gaps.sum()) == len(sessions)


def _brute_gaps(key, day_lo, days):
    """Reference for SA._day_gaps: a loop over sorted keys."""
    hist = np.zeros((days, SA.GAP_COLUMNS), np.int64)
    prev = None
    for k in key.tolist():
        c, d = k >> 16, k & 0xFFFF
        gap = min(d - (prev & 0xFFFF), 33) if prev is not None and prev >> 16 == c else 33
        hist[d - day_lo, gap] += 1
        prev = k
    return hist


@pytest.mark.parametrize("span", [40, 900, 65503, 65504, 65536])
def test_day_gaps_from_key_differences(span, monkeypatch):
    """Gaps from key differences; logs spanning more than 65536 - 33 days compare customers."""
    monkeypatch.setattr(SA, "_STEP", 64)                       # several steps, each with the key before it
    rng = np.random.default_rng(span)
    day_lo = 65536 - span
    # neighbouring customers whose days go down by a little: the key difference is short there
    c = np.repeat(np.arange(5, 60), 9)
    d = np.where(rng.random(len(c)) < 0.5, rng.integers(day_lo, day_lo + 40, len(c)),
                 rng.integers(65536 - 40, 65536, len(c)))
    d[::7] = day_lo
    d[3::7] = 65535
    key = np.sort(c.astype(np.int64) * 65536 + d)
    got = SA._day_gaps(key, day_lo, span)
    assert np.array_equal(got, _brute_gaps(key, day_lo, span))


def _fetch(rows, pv=None):
    """fetch_session_arrays on literal rows (customer, day number, duration) in the given order."""
    import duckdb
    c, d, u = (list(map(int, x)) for x in zip(*rows))
    dates = ", ".join(f"DATE '{dt.date(1970, 1, 1) + dt.timedelta(days=x)}'" for x in d)
    sql = (f"SELECT unnest({c}::BIGINT[]) AS c, unnest([{dates}]) AS day, unnest({u}::INTEGER[]) AS d"
           + (f", unnest({pv}::INTEGER[]) AS p" if pv is not None else ""))
    con = duckdb.connect()
    con.execute("SET preserve_insertion_order = false")
    return SA.fetch_session_arrays(con, sql)


@pytest.mark.parametrize("ids", ["small", "far_but_close", "far_apart", "fractional"])
def test_fetch_packs_durations_with_the_keys_where_they_fit(ids, monkeypatch):
    """Durations packed below the keys (ids as they are or less the least), else carried by row number."""
    calls = []
    monkeypatch.setattr(SA, "_sorted", lambda k, d, f=SA._sorted: calls.append(d is not None) or f(k, d))
    rng = np.random.default_rng(len(ids))
    n = 3000
    base = {"small": 0, "far_but_close": 2 ** 47 - 500, "far_apart": 0, "fractional": 10}[ids]
    c = base + rng.integers(0, 300, n)
    if ids == "far_apart":
        c[::5] = 2 ** 47 - 1 - rng.integers(0, 3, len(c[::5]))
    day = rng.integers(19000, 19100, n)
    dur = rng.integers(0, 70000, n)
    if ids == "fractional":
        dur[7] = -1                                            # fetch_sql's mark of a fractional duration
    pv = rng.integers(0, 50, n).tolist()
    a = _fetch(list(zip(c, day, dur)), pv)
    key = c.astype(np.int64) * 65536 + day
    assert calls == {"far_apart": [True], "fractional": [False]}.get(ids, [])   # the row-number sort
    assert np.array_equal(a.key, np.sort(key))
    if ids == "fractional":
        assert a.duration is None
    else:
        assert a.duration.dtype == np.int32
        assert sorted(zip(a.key.tolist(), a.duration.tolist())) == sorted(zip(key.tolist(), dur.tolist()))
    assert np.array_equal(a.day_gaps, _brute_gaps(np.sort(key), int(day.min()), int(day.max() - day.min()) + 1))
    want_pv = np.bincount(day - day.min(), weights=pv).astype(np.int64)
    assert np.array_equal(a.page_views, want_pv)
    assert np.array_equal(a.page_view_rows, np.bincount(day - day.min()))


def test_customer_windows_at_the_edges_of_the_key():
    """Windows reaching before day 0 or beyond day 65535, and windows no session reaches."""
    rng = np.random.default_rng(1)
    n = 4000
    c = rng.integers(0, 40, n)
    day = np.where(rng.random(n) < 0.5, rng.integers(0, 50, n), rng.integers(65480, 65536, n))
    key = np.sort(c.astype(np.int64) * 65536 + day)
    dur = rng.integers(0, 300, n).astype(np.int16)
    a = SA.SessionArrays(key, dur, int(day.min()), np.zeros((0, 34), np.int64), None, None,
                         np.dtype(np.int64), False)
    for last, W in [(20, 30), (30, 7), (65530, 20), (65540, 10), (65560, 20), (65600, 40), (70000, 30), (-3, 5),
                    (65535, 40000)]:
        got = SA.customer_window_rows(a, last, W).to_pandas()
        d = key & 0xFFFF
        cust = key >> 16
        rec = (d > last - W) & (d <= last)
        prev = (d > last - 2 * W) & (d <= last - W)
        rows = []
        for cid in np.unique(cust[rec | prev]):
            r, p = rec & (cust == cid), prev & (cust == cid)
            rows.append((cid, r.sum(), p.sum(), dur[r].sum() if r.any() else np.nan,
                         dur[p].sum() if p.any() else np.nan))
        want = pd.DataFrame(rows, columns=got.columns)
        assert len(got) == len(want), (last, W)
        if len(want):
            pd.testing.assert_frame_equal(got, want, check_dtype=False)


# ---- the session log read in parts of its customers (logs too large for the arrays at once)

@pytest.mark.parametrize("seed", range(6))
def test_sessions_read_in_parts_give_the_engine_tables(seed, monkeypatch):
    from crm_research.kpi.order_arrays import route

    """Visitors, the per-period aggregate (exact median) and the customer windows from a log read
    in parts (sums and concatenations over the parts) equal the engine's definitions."""
    orders, sessions = _logs(seed, page_views=seed % 3 != 2, null_pv=seed % 3 == 1, sort=seed % 2 == 1)
    fast, slow = _engines(orders, sessions)
    parts = kpi.load(orders, sessions=sessions)
    routed = []
    monkeypatch.setattr(SA, "route", lambda *a, **k: routed.append(1) or route(*a, **k))
    p = SA.session_parts(parts, budget=32 * 700)
    assert p is not None and len(p.files) >= 4 and len(p) == parts.execute(parts.sessions.count())
    # a log in random order is routed by one scan; one stored by customer read by a scan per part
    assert bool(routed) == (seed % 2 == 0)
    assert SA.session_log(parts) is p
    for period, as_of in _cases(orders, sessions):
        pd.testing.assert_frame_equal(V.visitor_counts(parts, period, as_of), V.visitor_counts(fast, period, as_of))
        got = A.activity_summary(parts, period, as_of)
        pd.testing.assert_frame_equal(got, A.activity_summary(slow, period, as_of), check_exact=False, rtol=1e-12)
    for as_of, W in ((dt.date(2023, 9, 30), 30), (dt.date(2024, 4, 10), 90)):
        t = parts.execute(A.customer_activity(parts, as_of, W).order_by("customer_id"))
        want = slow.execute(A.customer_activity(slow, as_of, W).order_by("customer_id"))
        pd.testing.assert_frame_equal(t, want, check_dtype=False)
        assert len(t) > 0


def test_sessions_in_parts_with_fractional_durations_leave_those_tables_to_the_engine():
    orders, sessions = _logs(3, whole=False)
    _, slow = _engines(orders, sessions)
    parts = kpi.load(orders, sessions=sessions)
    p = SA.session_parts(parts, budget=32 * 700)
    assert not p.periodic and p.duration is None
    a = dt.date(2024, 1, 31)
    pd.testing.assert_frame_equal(A.activity_summary(parts, "month", a), A.activity_summary(slow, "month", a))
    assert SA.customer_windows(parts, a, 30) is None


def test_sessions_in_parts_with_an_id_beyond_the_key_take_the_engine_path():
    orders, sessions = _logs(4)
    sessions.loc[3, "customer_id"] = -7
    parts = kpi.load(orders, sessions=sessions)
    assert SA.session_parts(parts, budget=32 * 700) is None
    assert SA.session_log(parts) is None or isinstance(SA.session_log(parts), SA.SessionArrays)

"""Visitors counted by sorting packed (customer, day) keys (kpi.visitors) equal the engine's
definition (kpi.activity: customer x period groups with a day mask), for months and weeks, as-of
dates inside and beyond the log, visitors who never ordered, several sessions a day."""
from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from crm_research import kpi
from crm_research.kpi import activity as A
from crm_research.kpi import session_arrays as SA
from crm_research.kpi import visitors as V


def _logs(seed: int, n_orders: int = 2000, n_sessions: int = 6000):
    rng = np.random.default_rng(seed)
    n_cust = int(rng.integers(40, 400))
    t0 = pd.Timestamp("2023-03-01")
    orders = pd.DataFrame({
        "customer_id": rng.integers(0, n_cust, n_orders) + 500,
        "order_id": np.arange(n_orders),
        "timestamp": t0 + pd.to_timedelta(rng.integers(0, 500 * 24, n_orders), unit="h"),
        "amount": np.round(rng.gamma(2.0, 20.0, n_orders), 2)})
    # visitors beyond the buyers too (ids above and below the buyers' range), some before the first order
    sessions = pd.DataFrame({
        "customer_id": rng.integers(-20, n_cust + 50, n_sessions) + 500,
        "start": t0 + pd.to_timedelta(rng.integers(-30 * 24 * 60, 520 * 24 * 60, n_sessions), unit="min"),
        "duration": np.round(rng.exponential(300.0, n_sessions), 1),
        "page_views": rng.integers(1, 20, n_sessions)})
    return orders, sessions


@pytest.mark.parametrize("seed", range(5))
def test_activity_equals_the_engine_definition(seed, monkeypatch):
    orders, sessions = _logs(seed)
    eng = kpi.load(orders, sessions=sessions)
    hi = orders["timestamp"].max().date()
    assert V.visitor_counts(eng, "month", hi) is not None                   # the sorting path is taken
    cases = [(period, as_of) for period in ("month", "week")
             for as_of in (None, hi - dt.timedelta(days=77), hi + dt.timedelta(days=20))]
    fast = [A.activity_summary(eng, period, as_of) for period, as_of in cases]
    monkeypatch.setattr(A, "visitor_counts", lambda *args, **kw: None)      # the engine's definition
    for (period, as_of), got in zip(cases, fast):
        want = A.activity_summary(eng, period, as_of)
        assert len(got) > 3
        pd.testing.assert_frame_equal(got, want)


def test_visitor_counts_by_hand():
    orders = pd.DataFrame({"customer_id": [1], "order_id": [1], "timestamp": ["2024-01-05"], "amount": [1.0]})
    sessions = pd.DataFrame({
        "customer_id": [1, 1, 1, 2, 2, 3],
        "start": ["2024-01-05 10:00", "2024-01-05 18:00", "2024-01-20", "2024-01-31 23:59", "2024-02-01 00:01",
                  "2024-03-01"],
        "duration": [10.0, 20.0, 30.0, 40.0, 50.0, 60.0]})
    eng = kpi.load(orders, sessions=sessions)
    got = V.visitor_counts(eng, "month", dt.date(2024, 2, 29))
    # January: customers 1 (on 2 days) and 2 (1 day); February: customer 2 (1 day); March is after as_of
    assert got.values.tolist() == [[2024 * 12, 2, 3], [2024 * 12 + 1, 1, 1]]
    weeks = V.visitor_counts(eng, "week", dt.date(2024, 2, 29))
    # ISO weeks: Jan 5 (week 1) and Jan 20 (week 3) for customer 1; Jan 31 and Feb 1 share a week
    assert weeks["visitors"].tolist() == [1, 1, 1] and weeks["visitor_days"].tolist() == [1, 1, 2]


def test_ids_and_dates_beyond_the_key_and_text_ids_take_the_engine_path():
    orders, sessions = _logs(1, 300, 900)
    neg = sessions.assign(customer_id=sessions["customer_id"] - 600)        # negative ids
    eng = kpi.load(orders, sessions=neg)
    assert V.counted_by_sorting(eng) and V.visitor_counts(eng, "month", dt.date(2025, 1, 1)) is None
    assert len(A.activity_summary(eng)) > 0                                  # counted in the engine
    old = sessions.assign(start=sessions["start"] - pd.Timedelta(days=365 * 60))   # before 1970
    assert V.visitor_counts(kpi.load(orders, sessions=old), "month", dt.date(2025, 1, 1)) is None
    text = sessions.assign(customer_id="v" + sessions["customer_id"].astype(str))
    eng = kpi.load(orders, sessions=text)
    assert not V.counted_by_sorting(eng) and len(A.activity_summary(eng)) > 0


def test_a_log_beyond_the_memory_budget_is_counted_in_the_engine(monkeypatch):
    orders, sessions = _logs(2, 300, 3000)
    eng = kpi.load(orders, sessions=sessions)
    monkeypatch.setattr(SA, "BYTES_PER_SESSION", 10 ** 9)      # keys of 3,000 sessions beyond any budget
    assert not V.counted_by_sorting(eng)
    assert V.visitor_counts(eng, "month", dt.date(2025, 1, 1)) is None
    assert len(A.activity_summary(eng)) > 0


def test_the_suite_counts_visitors_in_the_background_and_gets_the_same_table(monkeypatch):
    orders, sessions = _logs(3)
    eng = kpi.load(orders, sessions=sessions)
    started = []
    real = eng.prefetch_call
    monkeypatch.setattr(eng, "prefetch_call", lambda key, *a: started.append(key) or real(key, *a))
    got = kpi.kpi_suite(eng).tables["activity"]
    assert ("session_arrays",) in started                         # started in the background
    monkeypatch.setattr(A, "visitor_counts", lambda *args, **kw: None)
    pd.testing.assert_frame_equal(got, A.activity_summary(kpi.load(orders, sessions=sessions)))

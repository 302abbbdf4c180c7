"""The customer-level tables built from sorted order arrays (kpi.order_arrays) equal the engine's
definitions (window over the orders, then a hash aggregation), on logs with ties, gaps in the ids,
several orders a day, as-of dates inside and beyond the data, months and weeks, any thread count."""
from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from _helpers import lifetimes_log, same_engine_tables
from crm_research import kpi
from crm_research.kpi import customer_summary as CS
from crm_research.kpi import lifecycle as L
from crm_research.kpi import order_arrays as OA
from crm_research.kpi import retention as R
from crm_research.kpi import rfm as F


def _log(seed: int, n: int = 4000) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n_cust = int(rng.integers(50, 600))
    ids = rng.integers(0, n_cust, n) * int(rng.choice([1, 3])) + int(rng.integers(-5, 10_000))
    # days: clustered so that several orders fall on one day; times of day make ties within a day
    day = rng.integers(0, int(rng.integers(30, 800)), n)
    ts = (pd.Timestamp("2023-01-01") + pd.to_timedelta(day, unit="D")
          + pd.to_timedelta(rng.integers(0, 4, n) * 3600, unit="s"))
    amount = np.round(rng.gamma(2.0, 30.0, n), 2)
    return pd.DataFrame({"customer_id": ids, "order_id": rng.permutation(n) + 1, "timestamp": ts, "amount": amount})


def _engines(orders: pd.DataFrame):
    fast = kpi.load(orders)
    assert OA.array_plan(fast) is not None           # the array path is taken
    slow = kpi.load(orders)
    OA.engine_path_only(slow)    # the engine's definitions
    return fast, slow


@pytest.mark.parametrize("seed", range(8))
def test_customer_tables_equal_the_engine_definitions(seed):
    orders = _log(seed)
    fast, slow = _engines(orders)
    lo = orders["timestamp"].min().date()
    hi = orders["timestamp"].max().date()
    mid = lo + (hi - lo) / 2
    for period in ("month", "week"):
        same_engine_tables(fast, slow, R.customer_periods(fast, period), R.customer_periods(slow, period),
              ["customer_id", "idx"])
        same_engine_tables(fast, slow, R.customer_periods_until(fast, period, mid), R.customer_periods_until(slow, period, mid),
              ["customer_id", "idx"])
    for as_of, W in ((hi, 90), (mid, 30), (hi + dt.timedelta(days=40), 7), (mid, 1)):
        same_engine_tables(fast, slow, CS.customer_summary(fast, as_of, W), CS.customer_summary(slow, as_of, W), ["customer_id"])
    same_engine_tables(fast, slow, L.customer_table(fast), L.customer_table(slow), ["customer_id"])
    for as_of in (mid, hi):
        assert F.purchase_cycle(fast, as_of) == F.purchase_cycle(slow, as_of)


@pytest.mark.parametrize("seed", [0, 1])
def test_kpi_suite_tables_are_the_same_on_both_paths(seed):
    orders = _log(seed, 3000)
    rng = np.random.default_rng(seed)
    orders["product_id"] = rng.integers(1, 40, len(orders))
    # ties of first orders: a customer's first two orders at the same time (the smaller id is first)
    orders.loc[1, ["customer_id", "timestamp"]] = orders.loc[0, ["customer_id", "timestamp"]].to_numpy()
    fast, slow = _engines(orders)
    a = kpi.kpi_suite(fast).tables
    b = kpi.kpi_suite(slow).tables
    assert a.keys() == b.keys()
    # the suite's tables come in a defined order: compared row by row as they are
    for name in a:
        x, y = a[name], b[name]
        if not isinstance(x, pd.DataFrame) or x.empty:
            continue
        pd.testing.assert_frame_equal(x, y, check_exact=False, rtol=1e-12, atol=1e-9, obj=name)


def test_the_sorted_arrays_hold_every_order_once():
    orders = _log(7)
    fast, _ = _engines(orders)
    a = OA.order_arrays(fast)
    key = a.code * 100_000 + a.day
    assert (np.diff(key) >= 0).all()                        # sorted by customer, then date
    got = pd.DataFrame({"customer_id": a.code + a.id_lo,
                        "day": a.day, "amount": a.amount}).sort_values(["customer_id", "day", "amount"])
    want = pd.DataFrame({"customer_id": orders["customer_id"],
                         "day": (orders["timestamp"].dt.normalize() - pd.Timestamp("1970-01-01")).dt.days,
                         "amount": orders["amount"]}).sort_values(["customer_id", "day", "amount"])
    np.testing.assert_array_equal(got.to_numpy(), want.to_numpy())


def test_text_ids_and_ids_spread_far_apart_take_the_engine_path():
    orders = _log(3, 500)
    text = orders.assign(customer_id="C" + orders["customer_id"].astype(str))
    assert OA.array_plan(kpi.load(text)) is None
    sparse = orders.assign(customer_id=orders["customer_id"] * 1_000_003)
    assert OA.array_plan(kpi.load(sparse)) is None
    # and the KPIs still run there
    eng = kpi.load(sparse)
    assert eng.execute(CS.customer_summary(eng).count()) == orders["customer_id"].nunique()


def test_a_log_beyond_the_memory_budget_takes_the_engine_path():
    orders = _log(5, 100_000)
    eng = kpi.load(orders)
    eng.con.execute("SET memory_limit = '8MB'")      # arrays may hold a quarter of it: 2 MB < 100,000 x 48 B
    assert OA.array_plan(eng) is None
    with pytest.raises(ValueError, match="array_plan"):
        OA.order_arrays(eng)
    eng.con.execute("SET memory_limit = '2GB'")
    assert eng.execute(CS.customer_summary(eng).count()) == orders["customer_id"].nunique()


@pytest.mark.parametrize("threads", [2, 3])
def test_the_tables_are_the_same_whatever_the_number_of_threads(threads, monkeypatch):
    orders = _log(11, 20_000)
    one = kpi.load(orders, threads=1)
    many = kpi.load(orders, threads=threads)
    monkeypatch.setattr(OA, "CHUNK_MIN_ROWS", 100)     # chunk even a small log
    assert OA.worker_threads(many) == threads
    as_of = orders["timestamp"].max().date() - dt.timedelta(days=50)
    for build, key in ((lambda e: R.customer_periods(e, "week"), ["customer_id", "idx"]),
                       (lambda e: CS.customer_summary(e, as_of, 60), ["customer_id"])):
        a = one.execute(build(one)).sort_values(key, ignore_index=True)
        b = many.execute(build(many)).sort_values(key, ignore_index=True)
        pd.testing.assert_frame_equal(a, b, check_exact=True)     # the same rows to the last bit


def test_chunks_split_between_customers():
    rng = np.random.default_rng(4)
    code = np.sort(rng.integers(0, 50, 1000))
    a = OA.OrderArrays(code, np.zeros(1000, dtype=np.int32), np.ones(1000), 0, np.dtype("int64"))
    chunks = OA.by_customer_chunks(a, lambda c: c, threads=4, min_rows=1)
    assert len(chunks) > 1
    assert sum(len(c) for c in chunks) == 1000
    assert all(x.code[-1] < y.code[0] for x, y in zip(chunks, chunks[1:]))   # no customer in two chunks


def test_product_stage_kpis_with_order_lines_equal_the_facts_path():
    """Orders of several lines (a repeated order id kept as lines): the first orders and the
    product x buyer pairs are the same on the array path and on the per-order facts."""
    from crm_research.kpi import product_lifecycle as P

    orders = _log(9, 3000)
    rng = np.random.default_rng(9)
    # customers acquired in the last months (the KPI window), two orders on their first day
    last = orders["timestamp"].max().normalize()
    new_ids = np.repeat(np.arange(50) + orders["customer_id"].max() + 1, 2)
    first = last - pd.to_timedelta(np.repeat(rng.integers(0, 80, 50), 2), unit="D") + pd.Timedelta(hours=9)
    late = pd.DataFrame({"customer_id": new_ids, "order_id": np.arange(100) + 10 ** 6,
                         "timestamp": first + pd.to_timedelta(np.tile([0, 1], 50) * rng.integers(0, 2, 100), unit="h"),
                         "amount": 10.0})
    orders = pd.concat([orders, late], ignore_index=True)
    orders["product_id"] = rng.integers(1, 30, len(orders))
    extra = orders.sample(600, random_state=9).assign(product_id=lambda d: d["product_id"] + 1,
                                                       amount=lambda d: d["amount"] / 2)
    lines = pd.concat([orders, extra], ignore_index=True)
    fast = kpi.load(lines, policy={"duplicate_order_id": "keep"})
    slow = kpi.load(lines, policy={"duplicate_order_id": "keep"})
    OA.engine_path_only(slow)
    assert OA.array_plan(fast) is not None
    assert fast.execute(fast.order_lines.count()) == len(lines) > fast.execute(fast.orders.count())
    got = [P.product_stage_kpis(e, P.product_lifecycle_stages(e, sales=P.product_sales(e))) for e in (fast, slow)]
    assert (got[0]["first_order_share"] > 0).any()
    pd.testing.assert_frame_equal(*got, check_exact=False, rtol=1e-12)


def test_small_pages_restores_numpy_setting_across_overlapping_threads():
    import threading

    core = getattr(np, "_core", None) or np.core
    setter = core.multiarray._set_madvise_hugepage
    before = setter(True)          # a known state: huge pages advised
    try:
        inside, leave = threading.Event(), threading.Event()

        def worker():
            with OA.small_pages():
                inside.set()
                leave.wait(5)

        t = threading.Thread(target=worker)
        with OA.small_pages():
            t.start()
            inside.wait(5)
            assert setter(False) is False      # off while both threads are inside
        assert setter(False) is False          # the worker is still inside: still off
        leave.set()
        t.join(5)
        assert setter(True) is True            # both left: the advice is back on
    finally:
        setter(before)


# ---- RFM, lifecycle stages and the churn list from the summary's columns (no query per table)


def _as_of_dates(orders):
    lo, hi = orders["timestamp"].min().date(), orders["timestamp"].max().date()
    return hi, lo + (hi - lo) * 2 // 3, hi + dt.timedelta(days=30)


@pytest.mark.parametrize("seed", range(4))
def test_lifecycle_stages_equal_the_engine_definitions(seed):
    orders = lifetimes_log(seed)
    fast, slow = _engines(orders)
    seen = set()
    for as_of in _as_of_dates(orders):
        for rules in (L.LifecycleRules(), L.LifecycleRules(window_days=30, churn_days=60, silent_days=20, new_days=10)):
            a, b = L.lifecycle_stages(fast, as_of, rules), L.lifecycle_stages(slow, as_of, rules)
            seen |= set(a["stage"])
            pd.testing.assert_frame_equal(a, b)
    assert seen == set(L.STAGES)        # every rule was exercised


@pytest.mark.parametrize("seed", range(4))
def test_rfm_scores_equal_the_engine_definitions(seed):
    """Scores and segments from the summary's columns equal rfm_table's on the same summary.
    (Between the two paths total spend may differ in the last bit: sums in another order; a
    tie in spend may then fall on either side of a class bound, so the paths are compared on
    one engine here, and across paths in the suite test above.)"""
    orders = _log(seed)
    fast, _ = _engines(orders)
    seen = set()
    for as_of in _as_of_dates(orders):
        for bins in (2, 3, 5, 7):
            got = F.rfm_scores(fast, as_of, bins=bins)
            want = fast.execute(F.rfm_table(fast, as_of, bins=bins).order_by("customer_id"))
            for col in ("recency_days", "frequency", "r_score", "f_score", "m_score", "rfm_score"):
                want[col] = want[col].astype("int64")
            seen |= set(got["segment"])
            pd.testing.assert_frame_equal(got, want)
    assert len(seen) >= 5
    assert F.rfm_scores(fast, monetary="mean").equals(
        F.rfm_scores(kpi.load(orders), monetary="mean"))        # the mean takes the engine path


def _engine_churn_list(eng, as_of, **kw):
    from crm_research.kpi import churn as C

    df = eng.execute(C.churn_risk_table(eng, as_of, **kw).order_by("rank"))
    for col in ("rank", "orders", "orders_recent", "orders_previous", "days_since_last", "n_warnings"):
        df[col] = df[col].astype("int64")
    for col in ("overdue", "frequency_falling", "visit_time_falling", "low_p_alive"):
        df[col] = df[col].astype(bool)
    df["reasons"] = df["reasons"].fillna("").astype(object)
    return df[C.CHURN_COLUMNS]


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("with_sessions", [True, False])
def test_churn_list_equals_the_engine_definitions(seed, with_sessions):
    from crm_research import clv
    from crm_research.kpi import churn as C

    from crm_research.simulate import simulate_transactions

    log = simulate_transactions(800, seed=seed, n_products=20)
    orders = log.orders
    eng = kpi.load(orders, sessions=log.sessions if with_sessions else None)
    assert CS.summary_rows(eng) is not None
    hi = orders["timestamp"].max().date()
    fitted = clv.fit_mbgnbd(clv.rfm_summary(orders, "customer_id", "timestamp", "amount", freq="W",
                                             calibration_end=orders["timestamp"].max().normalize()))
    cases = [{}, {"model": None}, {"model": "pareto_nbd", "top": 20}, {"all_customers": True},
             {"rules": C.ChurnRules(window_days=30, overdue_ratio=1.5, p_alive_threshold=0.8)},
             {"model": fitted, "freq": "W"}, {"top": 0}]
    for as_of in _as_of_dates(orders):
        for kw in cases:
            got = C.churn_risk(eng, as_of, **kw)
            want = _engine_churn_list(eng, as_of, **kw)
            assert len(got) == len(want)
            pd.testing.assert_frame_equal(got, want, check_exact=False, rtol=1e-12, atol=1e-12)
            assert got.attrs["p_alive_note"] == C.p_alive_note(want)
    lst = C.churn_risk(eng, hi)
    assert lst["n_warnings"].ge(1).all() and lst["reasons"].str.len().gt(0).all()
    assert lst["p_alive"].notna().any() and (lst["visit_time_falling"].any() if with_sessions else True)


@pytest.mark.parametrize("products", [False, True])
def test_orders_on_one_day_are_added_in_the_same_order_whatever_the_row_order(products):
    # DuckDB returns the rows in no fixed order; floating-point sums depend on the order. Orders
    # of one customer on one day (runs of 2 and longer, equal amounts too) come out ordered by
    # amount then product, so the arrays and every sum over them are the same to the last bit
    rng = np.random.default_rng(5)
    n = 6000
    orders = pd.DataFrame({
        "customer_id": rng.integers(1, 400, n), "order_id": np.arange(1, n + 1),
        "timestamp": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 40, n), unit="D")
        + pd.to_timedelta(rng.integers(0, 86400, n), unit="s"),
        "amount": rng.choice([0.1, 0.2, 0.3, 0.7, 1e8 + 0.01, 3.3], n), "product_id": rng.integers(1, 9, n)})
    arrays, sums = [], []
    for seed in range(4):
        shuffled = orders.sample(frac=1.0, random_state=seed).reset_index(drop=True)
        eng = kpi.load(shuffled)
        if products:
            assert OA.request_products(eng, int(orders["product_id"].min()))
        a = OA.order_arrays(eng)
        arrays.append((a.code.copy(), a.day.copy(), a.amount.copy(),
                       None if a.product is None else a.product.copy()))
        sums.append(eng.execute(CS.customer_summary(eng)).sort_values("customer_id")["total_spend"].to_numpy())
    code, day, amount, product = arrays[0]
    runs = (code[1:] == code[:-1]) & (day[1:] == day[:-1])
    assert runs.sum() > 500                                   # many orders share a customer and a day
    for c, d, am, p in arrays[1:]:
        assert np.array_equal(c, code) and np.array_equal(d, day)
        assert am.tobytes() == amount.tobytes()
        if products:
            assert np.array_equal(p, product)
    within = runs & (amount[1:] < amount[:-1])
    assert not within.any()                                  # ascending by amount within each run
    for s in sums[1:]:
        assert s.tobytes() == sums[0].tobytes()


@pytest.mark.parametrize("seed", [3, 8])
def test_n_period_retention_equals_the_engine_definitions(seed):
    # the last active period per customer counted with numpy on the array path
    orders = _log(seed, 3000)
    fast, slow = _engines(orders)
    end = fast.max_date()
    for as_of in (end, end - dt.timedelta(days=95), end - dt.timedelta(days=400)):
        for period in ("month", "week"):
            a = R.n_period_retention(fast, n=(1, 2, 3, 6), period=period, as_of=as_of)
            b = R.n_period_retention(slow, n=(1, 2, 3, 6), period=period, as_of=as_of)
            pd.testing.assert_frame_equal(a, b)
            assert a["customers"].sum() > 0


# ----------------------------------------------------------------------------- streamed fetch
@pytest.mark.parametrize("planned", [1, 7, 50, 5000])
def test_fetch_columns_streams_every_row_whatever_the_planned_count(planned, monkeypatch):
    """Fewer, as many or more rows than planned (the arrays grow, then are cut to the rows read),
    over many batches; NULLs as 0; timestamps of any unit or zone as UTC microseconds."""
    import duckdb

    from crm_research.kpi import order_arrays as oa

    monkeypatch.setattr(oa, "FETCH_BATCH", 8)
    con = duckdb.connect()
    sql = ("SELECT range AS k, CASE WHEN range % 5 = 0 THEN NULL ELSE range * 1.5 END AS a, "
           "CAST(TIMESTAMP '2024-03-01 10:00:00' + range * INTERVAL 1 HOUR AS TIMESTAMP_NS) AS tn, "
           "CAST(TIMESTAMP '2024-03-01 10:00:00' AS TIMESTAMPTZ) AS tz, "
           "TIMESTAMP '2024-03-01 10:00:00' + range * INTERVAL 1 DAY AS t FROM range(50) ORDER BY range")
    con.execute("SET TimeZone = 'UTC'")
    r = oa.fetch_columns(con, sql, {"k": np.int32, "a": np.float64, "tn": np.int64, "tz": np.int64, "t": np.int64},
                         planned)
    assert {k: v.dtype for k, v in r.items()} == {"k": np.int32, "a": np.float64, "tn": np.int64, "tz": np.int64,
                                                  "t": np.int64}
    assert r["k"].tolist() == list(range(50))
    assert r["a"].tolist() == [0.0 if i % 5 == 0 else i * 1.5 for i in range(50)]
    t0 = int(np.datetime64("2024-03-01T10:00:00", "us").astype(np.int64))
    assert r["t"].tolist() == [t0 + i * oa.US_PER_DAY for i in range(50)]
    assert r["tn"].tolist() == [t0 + i * 3_600_000_000 for i in range(50)]
    assert set(r["tz"].tolist()) == {t0}


def test_fetch_columns_of_no_rows():
    import duckdb

    from crm_research.kpi.order_arrays import fetch_columns

    r = fetch_columns(duckdb.connect(), "SELECT range AS k FROM range(0)", {"k": np.int64}, 10)
    assert r["k"].dtype == np.int64 and len(r["k"]) == 0

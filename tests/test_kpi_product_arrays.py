"""The product KPIs from the numpy stream (kpi.product_arrays) equal the engine's definitions
(kpi.product_lifecycle's queries), on random logs with ties of first orders at one timestamp,
orders of several lines, order ids shared by customers, text product ids, as-of dates inside and
beyond the data, months and weeks, windows of one to six periods."""
from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from crm_research import kpi
from crm_research.kpi import order_arrays as OA
from crm_research.kpi import product_arrays as PA
from crm_research.kpi import product_lifecycle as P

RULES = P.ProductLifecycleRules(smooth=2, lag=1, intro_periods=1, growth_threshold=0.1, decline_level=0.8)


def _log(seed: int, n: int = 5000) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n_cust = int(rng.integers(100, 700))
    cust = rng.integers(0, n_cust, n) * int(rng.choice([1, 2])) + int(rng.integers(-5, 5000))
    span = int(rng.integers(200, 500))
    # products appear over time (introductions) and some fade out (declines)
    p_lo = int(rng.integers(-3, 100))
    n_prod = int(rng.integers(8, 40))
    start = rng.integers(0, span * 3 // 4, n_prod)
    life = rng.integers(30, span, n_prod)
    prod = rng.integers(0, n_prod, n)
    day = np.minimum(start[prod] + rng.integers(0, 1, n) + (rng.random(n) ** 1.5 * life[prod]).astype(int), span)
    # half of the orders from customers acquired all along (ids by week of the first order): new
    # customers in every window, several orders on their first day
    late = rng.random(n) < 0.5
    cust = np.where(late, cust.max() + 1 + day // 7 * 3 + rng.integers(0, 3, n), cust)
    # few times of day: several orders of one customer at the same timestamp (ties of first orders)
    ts = (pd.Timestamp("2022-01-01") + pd.to_timedelta(day, unit="D")
          + pd.to_timedelta(rng.integers(0, 3, n) * 3600, unit="s"))
    return pd.DataFrame({"customer_id": cust, "order_id": rng.permutation(n) * 3 + 7, "timestamp": ts,
                         "amount": np.round(rng.gamma(2.0, 30.0, n), 2),
                         "product_id": (prod * int(rng.choice([1, 3])) + p_lo).astype(np.int32),
                         "category": np.array(["b", "a", "c", None], dtype=object)[prod % 4]})


def _engines(frame: pd.DataFrame, **load):
    """(stream, engine path with order arrays, engine path with per-order facts)."""
    fast = kpi.load(frame, **load)
    assert PA.product_plan(fast) is not None
    mid = kpi.load(frame, **load)
    mid.cached("product_array_plan", lambda: None)        # the engine's queries; order arrays still used
    slow = kpi.load(frame, **load)
    OA.engine_path_only(slow)         # the engine's queries on per-order facts
    assert PA.product_plan(slow) is None and OA.array_plan(mid) is not None
    return fast, mid, slow


def _as_of_dates(frame):
    lo, hi = frame["timestamp"].min().date(), frame["timestamp"].max().date()
    return [hi, lo + (hi - lo) * 2 / 3, hi + dt.timedelta(days=45)]


def _tables(eng, as_of, period, window):
    sales = P.product_sales(eng, period, as_of)
    stages = P.product_lifecycle_stages(eng, as_of, period, RULES, sales=sales)
    return sales, stages, P.product_stage_kpis(eng, stages, as_of, period, window)


def _same(got, want):
    for a, b, name in zip(got, want, ("sales", "stages", "stage kpis")):
        pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-12, atol=1e-9, obj=name)
        assert a.attrs == b.attrs


@pytest.mark.parametrize("seed", range(6))
def test_product_tables_equal_the_engine_definitions(seed):
    orders = _log(seed)
    # ties: a customer's first two orders at the same timestamp (the smaller order id is first)
    orders.loc[1, ["customer_id", "timestamp"]] = orders.loc[0, ["customer_id", "timestamp"]].to_numpy()
    engines = _engines(orders)
    nontrivial = {"first": 0, "repeat": 0, "stages": set()}
    for as_of in _as_of_dates(orders):
        for period, window in (("month", 3), ("week", 4), ("month", 1), ("week", 6)):
            got = [_tables(e, as_of, period, window) for e in engines]
            _same(got[0], got[1])
            _same(got[0], got[2])
            k = got[0][2]
            nontrivial["first"] += int(k["first_order_share"].fillna(0).gt(0).sum())
            nontrivial["repeat"] += int(k["repeat_buyer_share"].fillna(0).gt(0).sum())
            nontrivial["stages"] |= set(got[0][1]["stage"])
    # the comparisons exercised what they compare
    assert nontrivial["first"] and nontrivial["repeat"] and len(nontrivial["stages"]) >= 3


def test_ties_of_first_orders_at_one_timestamp_pick_the_smallest_order_id():
    base = pd.Timestamp("2024-03-05 10:00")
    orders = pd.DataFrame({
        "customer_id": [1, 1, 1, 2, 2, 3],
        "order_id": [30, 20, 40, 50, 60, 70],
        "timestamp": [base, base, base - pd.Timedelta(hours=1) + pd.Timedelta(days=1), base, base, base],
        "amount": [1.0, 2.0, 4.0, 8.0, 16.0, 32.0],
        "product_id": [5, 6, 5, 5, 6, 7]})
    # and a history before March, so that March is the third month of the log
    old = pd.DataFrame({"customer_id": [9, 9], "order_id": [1, 2], "amount": [1.0, 1.0], "product_id": [5, 6],
                        "timestamp": pd.to_datetime(["2024-01-02", "2024-02-02"])})
    orders = pd.concat([old, orders], ignore_index=True)
    stages = pd.DataFrame({"product_id": [5, 6, 7], "stage": ["growth", "maturity", "decline"]})
    got = []
    for e in _engines(orders):
        got.append(P.product_stage_kpis(e, stages, "2024-03-31", "month", 1).set_index("stage"))
    # customer 1: orders 20 and 30 at one time: 20 (product 6) is the first; customer 2: 50 (product 5)
    assert got[0].loc["maturity", "first_order_share"] == pytest.approx(1 / 2)
    assert got[0].loc["growth", "first_order_share"] == pytest.approx(1 / 3)
    assert got[0].loc["growth", "repeat_buyer_share"] == pytest.approx(1 / 2)
    for other in got[1:]:
        pd.testing.assert_frame_equal(got[0], other, check_exact=False, rtol=1e-12)


def _lines(seed: int) -> pd.DataFrame:
    """Orders of several lines: a repeated order id with other products (policy 'keep')."""
    orders = _log(seed, 3000)
    rng = np.random.default_rng(seed)
    extra = orders.sample(900, random_state=seed)
    extra = extra.assign(product_id=(extra["product_id"] + rng.integers(1, 3, len(extra))).astype(np.int32),
                         amount=extra["amount"] / 3,
                         # some lines later than the order's first line (same day or the next)
                         timestamp=extra["timestamp"] + pd.to_timedelta(rng.integers(0, 30, len(extra)), unit="h"))
    return pd.concat([orders, extra], ignore_index=True)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_order_lines_apart_from_orders(seed):
    lines = _lines(seed)
    engines = _engines(lines, policy={"duplicate_order_id": "keep"})
    e = engines[0]
    assert e.order_lines is not e.orders
    assert e.execute(e.order_lines.count()) == len(lines) > e.execute(e.orders.count())
    for as_of in _as_of_dates(lines):
        for period, window in (("month", 3), ("week", 5)):
            got = [_tables(x, as_of, period, window) for x in engines]
            _same(got[0], got[1])
            _same(got[0], got[2])


def _from_ibis(lines: pd.DataFrame):
    """An engine on tables given as they are (no validation): lines, and orders as the loader
    builds them (one per customer and order id: earliest timestamp, summed amount)."""
    import ibis

    con = ibis.duckdb.connect()
    ol = con.create_table("orders_lines", ibis.memtable(lines))
    o = con.create_table("orders", ol.group_by(["customer_id", "order_id"]).aggregate(
        timestamp=ol.timestamp.min(), amount=ol.amount.sum()))
    return kpi.KPIEngine.from_ibis(o, order_lines=ol)


def test_an_order_id_shared_by_two_customers_counts_as_the_engine_joins_it():
    """Tables given through from_ibis need not have an order id per customer: the engine's join
    of the lines with the first orders (on the order id) then repeats a line; the stream counts
    it the same way."""
    lines = _lines(4)
    last = lines["timestamp"].max()
    pid = lines["product_id"].iloc[:2].to_numpy()
    new = int(lines["customer_id"].max()) + 1
    mid_last_month = (last - pd.DateOffset(months=1)).replace(day=15, hour=9)     # in the window
    shared = pd.DataFrame({"customer_id": [new, new + 1, new + 1], "order_id": [2, 2, 2],      # ids are 3k + 7
                           "timestamp": [mid_last_month] * 3, "amount": [10.0, 20.0, 5.0],
                           "product_id": pid[[0, 0, 1]], "category": "a"})
    lines = pd.concat([lines, shared], ignore_index=True)
    engines = [_from_ibis(lines) for _ in range(3)]
    engines[1].cached("product_array_plan", lambda: None)
    OA.engine_path_only(engines[2])
    assert PA.product_plan(engines[0]) is not None and PA.product_plan(engines[2]) is None
    p = PA.product_pass(engines[0], "month", engines[0].as_of())
    assert p.first.max() == 2                   # order 2 is the first order of two customers
    for period in ("month", "week"):
        got = [_tables(x, None, period, 3) for x in engines]
        _same(got[0], got[1])
        _same(got[0], got[2])


def test_text_product_ids_take_the_engine_path_with_the_same_tables():
    orders = _log(7)
    fast = kpi.load(orders)
    text = kpi.load(orders.assign(product_id="P" + orders["product_id"].astype(str)))
    assert PA.product_plan(fast) is not None and PA.product_plan(text) is None
    assert len(P.product_queries(fast)) == 1 and len(P.product_queries(text)) == 2     # sales not queried
    for period in ("month", "week"):
        a, b = _tables(fast, None, period, 3), _tables(text, None, period, 3)
        for x, y in zip(a[:2], b[:2]):
            x = x.assign(product_id="P" + x["product_id"].astype(str))
            y = y.sort_values(["product_id"] + (["period_start"] if "period_start" in y else []), kind="stable")
            x = x.sort_values(["product_id"] + (["period_start"] if "period_start" in x else []), kind="stable")
            pd.testing.assert_frame_equal(x.reset_index(drop=True), y.reset_index(drop=True),
                                          check_exact=False, rtol=1e-12)
        pd.testing.assert_frame_equal(a[2], b[2], check_exact=False, rtol=1e-12)


def test_category_is_the_smallest_label_of_a_product():
    orders = _log(3, 2000)
    orders["category"] = np.where(orders.index % 5 == 0, "zeta", orders["category"].fillna("alpha"))
    orders.loc[orders["product_id"] == orders["product_id"].max(), "category"] = None       # no label at all
    want = orders.dropna(subset=["category"]).groupby("product_id")["category"].min()
    st = P.product_lifecycle_stages(kpi.load(orders))
    got = st.set_index("product_id")["category"]
    assert got.drop(want.index.intersection(got.index)).isna().all()
    assert got.loc[want.index.intersection(got.index)].tolist() == want.loc[want.index.intersection(got.index)].tolist()
    assert got.isna().sum() >= 1


def test_product_ids_spread_far_apart_take_the_engine_path():
    orders = _log(5, 2000)
    wide = orders.assign(product_id=orders["product_id"].astype(np.int64) * 10_000_019)
    eng = kpi.load(wide)
    assert OA.array_plan(eng) is not None and PA.product_plan(eng) is None
    k = P.product_stage_kpis(eng, P.product_lifecycle_stages(eng))
    assert k["orders"].sum() > 0


def test_a_window_beyond_the_memory_budget_takes_the_engine_path(monkeypatch):
    orders = _log(6, 3000)
    ref = kpi.load(orders)
    want = _tables(ref, None, "month", 3)
    assert PA.product_pass(ref, "month", ref.as_of()) is not None
    eng = kpi.load(orders)
    monkeypatch.setattr(PA, "BYTES_PER_WINDOW_LINE", 10 ** 8)     # the window's lines would need TBs
    assert PA.product_plan(eng) is not None and PA.product_pass(eng, "month", eng.as_of()) is None
    _same(_tables(eng, None, "month", 3), want)


def test_a_window_found_beyond_the_budget_during_the_stream_stops_it(monkeypatch):
    """The estimate (the window's share of the days) lets the stream start; the count of the
    window's lines stops it: the engine path gives the tables."""
    orders = _log(2, 3000)
    last = orders["timestamp"].max()
    # 100 lines over two years, then 2,900 in the last 50 days: the window holds far more than its share
    orders.loc[orders.index[:100], "timestamp"] = last - pd.to_timedelta(800 - np.arange(100) * 7, unit="D")
    orders.loc[orders.index[100:], "timestamp"] = last - pd.to_timedelta(np.arange(2900) % 50, unit="D")
    ref = kpi.load(orders)
    want = _tables(ref, None, "month", 3)
    eng = kpi.load(orders)
    a = eng.as_of()
    plan = PA.product_plan(eng)
    first = orders["timestamp"].min()
    cells = (plan.p_hi - plan.p_lo + 1) * (a.year * 12 + a.month - first.year * 12 - first.month + 1)
    monkeypatch.setattr(PA, "memory_budget", lambda con: PA.BYTES_PER_CELL * cells + PA.BYTES_PER_WINDOW_LINE * 1000)
    assert PA.start_product_pass(eng, "month", a)          # admitted by the estimate
    assert PA.product_pass(eng, "month", a) is None         # stopped: ~1,500 lines in the window
    _same(_tables(eng, None, "month", 3), want)


def test_the_pass_is_kept_for_the_stage_kpis_and_then_dropped():
    orders = _log(8, 2000)
    eng = kpi.load(orders)
    a = eng.as_of()
    P.product_sales(eng, "month", a)
    kept = eng.cached("product_passes", dict)
    assert (("month", a, 3) in kept) and len(kept[("month", a, 3)].p) > 0
    stages = P.product_lifecycle_stages(eng, a, "month", sales=P.product_sales(eng, "month", a))
    P.product_stage_kpis(eng, stages, a, "month")
    assert ("month", a, 3) not in kept


@pytest.mark.parametrize("keep", [False, True])
def test_the_stream_started_in_the_background_gives_the_same_tables(keep):
    frame = _lines(5) if keep else _log(5)
    load = {"policy": {"duplicate_order_id": "keep"}} if keep else {}
    early, plain = kpi.load(frame, **load), kpi.load(frame, **load)
    for period in ("month", "week"):
        a = early.as_of()
        assert PA.start_product_pass(early, period, a)
        assert not PA.start_product_pass(kpi.load(frame.assign(product_id="x"), **load), period, a)   # text ids
        _same(_tables(early, a, period, 3), _tables(plain, a, period, 3))
    assert not early._prefetched                 # collected


@pytest.mark.parametrize("seed", range(4))
def test_first_orders_of_the_window_match_a_pandas_reference(seed):
    """The lines flagged as first orders: each customer's earliest order (timestamp, then order
    id), when it falls in the window; counted per product."""
    from crm_research.kpi.engine import last_complete_index, period_end, period_start_of_index

    orders = _log(seed)
    orders.loc[1, ["customer_id", "timestamp"]] = orders.loc[0, ["customer_id", "timestamp"]].to_numpy()
    eng = kpi.load(orders)
    firsts = orders.sort_values(["customer_id", "timestamp", "order_id"]).drop_duplicates("customer_id")
    seen = 0
    for as_of in _as_of_dates(orders):
        for period, window in (("month", 3), ("week", 5)):
            T = last_complete_index(as_of, period)
            lo = period_start_of_index([T - window + 1], period)[0]
            hi = pd.Timestamp(period_end(T, period)) + pd.Timedelta(days=1)
            want = firsts[(firsts["timestamp"] >= lo) & (firsts["timestamp"] < hi)]
            r = PA.product_pass(eng, period, as_of, window)
            plan = PA.product_plan(eng)
            got = pd.Series(r.first, index=r.p + plan.p_lo).groupby(level=0).sum()
            got = got[got > 0].sort_index()
            ref = want.groupby("product_id").size().sort_index()
            assert got.tolist() == ref.tolist() and got.index.tolist() == ref.index.tolist()
            seen += len(want)
    assert seen > 50

def test_lines_without_a_product_id_take_the_engine_path():
    orders = _log(9, 2000)
    orders["product_id"] = orders["product_id"].astype("Int64")
    orders.loc[orders.index[::50], "product_id"] = pd.NA
    eng = kpi.load(orders)
    assert PA.product_plan(eng) is None and OA.array_plan(eng) is not None
    sales = P.product_sales(eng)
    missing = int(orders["product_id"].isna().sum())
    assert not sales["product_id"].isna().any() and sales["product_id"].dtype == np.int64
    assert sales.attrs["lines_without_product"] == missing > 0      # left out, and counted
    assert sales["orders"].sum() == len(orders) - missing


# -- the lines taken from the order arrays (lines are the orders: no scan of their own)


def _three_paths(frame: pd.DataFrame, **load):
    """(pass from the order arrays, the stream (arrays built before the pass asked for products),
    the engine's queries): the first two on the numpy path."""
    arrays = kpi.load(frame, **load)
    stream = kpi.load(frame, **load)
    OA.order_arrays(stream)                          # built first: without products
    slow = kpi.load(frame, **load)
    OA.engine_path_only(slow)
    return arrays, stream, slow


@pytest.mark.parametrize("seed", range(4))
def test_the_pass_from_the_order_arrays_equals_the_stream_and_the_engine(seed):
    orders = _log(seed)
    orders.loc[1, ["customer_id", "timestamp"]] = orders.loc[0, ["customer_id", "timestamp"]].to_numpy()
    engines = _three_paths(orders)
    lo = orders["timestamp"].min().date()
    dates = _as_of_dates(orders) + [lo + dt.timedelta(days=40), lo - dt.timedelta(days=3)]   # early, before the data
    for as_of in dates:
        for period, window in (("month", 3), ("week", 2)):
            got = [_tables(e, as_of, period, window) for e in engines]
            _same(got[0], got[1])
            _same(got[0], got[2])
            for a, b in zip(got[0], got[1]):          # counts equal exactly (sums: up to their order)
                ints = [c for c in a.columns if pd.api.types.is_integer_dtype(a[c])]
                assert a[ints].equals(b[ints])
    assert OA.order_arrays(engines[0]).product is not None          # the arrays path ran
    assert OA.order_arrays(engines[1]).product is None              # the stream ran


@pytest.mark.parametrize("seed", range(3))
def test_first_orders_from_the_arrays_break_ties_by_timestamp_then_order_id(seed):
    """Several orders on a customer's first date: the earliest timestamp; at one timestamp the
    smallest order id (found by a query), whichever row the fetch put first."""
    rng = np.random.default_rng(100 + seed)
    base = pd.Timestamp("2024-03-10 09:00")
    rows = []
    oid = 1000
    for c in range(60):
        n = int(rng.integers(1, 5))
        day = base + pd.Timedelta(days=int(rng.integers(0, 15)))
        hours = rng.integers(0, 3, n) if c % 3 else np.zeros(n, dtype=int)       # every third: one timestamp
        ids = rng.permutation(n) * 7 + oid                                      # order ids not in time order
        oid += 7 * n
        for h, o in zip(hours, ids):
            rows.append((c + 10, int(o), day + pd.Timedelta(hours=int(h)), float(rng.integers(1, 50)),
                         int(rng.integers(1, 6))))
        if c % 4 == 0:                                                          # and a later order
            rows.append((c + 10, oid, day + pd.Timedelta(days=3), 5.0, 1))
            oid += 7
    orders = pd.DataFrame(rows, columns=["customer_id", "order_id", "timestamp", "amount", "product_id"])
    old = pd.DataFrame({"customer_id": [1, 1], "order_id": [1, 2], "amount": [1.0, 1.0], "product_id": [1, 2],
                        "timestamp": pd.to_datetime(["2024-01-02", "2024-02-02"])})
    orders = pd.concat([old, orders.sample(frac=1, random_state=seed)], ignore_index=True)   # fetch order: shuffled
    engines = _three_paths(orders)
    r = PA.product_pass(engines[0], "month", dt.date(2024, 3, 31), 1)
    a = OA.order_arrays(engines[0])
    assert a.product is not None and len(a.tie_rows) > 0
    firsts = orders.sort_values(["customer_id", "timestamp", "order_id"]).drop_duplicates("customer_id")
    want = firsts[firsts["timestamp"] >= "2024-03-01"].groupby("product_id").size()
    got = pd.Series(r.first, index=r.p + PA.product_plan(engines[0]).p_lo).groupby(level=0).sum()
    assert got[got > 0].sort_index().to_dict() == want.sort_index().to_dict()
    stages = pd.DataFrame({"product_id": [1, 2, 3, 4, 5],
                           "stage": ["growth", "maturity", "decline", "growth", "introduction"]})
    k = [P.product_stage_kpis(e, stages, "2024-03-31", "month", 1) for e in engines]
    for other in k[1:]:
        pd.testing.assert_frame_equal(k[0], other, check_exact=False, rtol=1e-12)


def test_lines_apart_from_orders_take_the_stream():
    lines = _lines(1)
    engines = _three_paths(lines, policy={"duplicate_order_id": "keep"})
    e = engines[0]
    assert e.order_lines is not e.orders
    _same(_tables(e, None, "month", 3), _tables(engines[2], None, "month", 3))
    assert OA.order_arrays(e).product is None                        # not asked for: the lines streamed


def test_orders_given_through_ibis_take_the_stream():
    """Without the loader's validation an order id may be shared: the stream compares order ids."""
    import ibis

    orders = _log(4, 2000)
    engines = []
    for _ in range(2):
        con = ibis.duckdb.connect()
        engines.append(kpi.KPIEngine.from_ibis(con.create_table("orders", ibis.memtable(orders))))
    OA.engine_path_only(engines[1])
    assert PA.product_plan(engines[0]) is not None
    _same(_tables(engines[0], None, "month", 3), _tables(engines[1], None, "month", 3))
    assert OA.order_arrays(engines[0]).product is None


def test_products_beyond_the_memory_budget_of_the_arrays_take_the_stream(monkeypatch):
    orders = _log(2, 3000)
    ref = _tables(kpi.load(orders), None, "month", 3)
    eng = kpi.load(orders)
    plan = OA.array_plan(eng)
    ids = plan.id_hi - plan.id_lo + 1
    # room for the arrays, not for the products with them
    monkeypatch.setattr(OA, "memory_budget", lambda con: 50 * plan.orders + 8 * ids)
    assert not OA.request_products(eng, PA.product_plan(eng).p_lo)
    _same(_tables(eng, None, "month", 3), ref)
    assert OA.order_arrays(eng).product is None


def test_products_asked_for_after_the_arrays_were_built_are_not_carried():
    orders = _log(3, 1000)
    eng = kpi.load(orders)
    OA.order_arrays(eng)
    assert not OA.request_products(eng, int(orders["product_id"].min()))
    fresh = kpi.load(orders)
    assert OA.request_products(fresh, int(orders["product_id"].min()))
    a = OA.order_arrays(fresh)
    # the product codes follow the orders through the sort
    got = pd.DataFrame({"c": a.customer_ids(np.arange(len(a))), "d": a.day, "amount": a.amount,
                        "p": a.product + a.p_lo}).sort_values(["c", "d", "amount", "p"]).reset_index(drop=True)
    days = (orders["timestamp"].dt.normalize() - pd.Timestamp("1970-01-01")).dt.days
    want = pd.DataFrame({"c": orders["customer_id"], "d": days, "amount": orders["amount"], "p": orders["product_id"]})
    want = want.sort_values(["c", "d", "amount", "p"]).reset_index(drop=True)
    assert (got.to_numpy() == want.to_numpy()).all()
    # the first-date ties: every order on the first date of a customer with several there
    o = orders.assign(d=orders["timestamp"].dt.normalize())
    first_day = o.groupby("customer_id")["d"].transform("min")
    on_first = o[o["d"] == first_day]
    tied = on_first[on_first.groupby("customer_id")["d"].transform("size") > 1]
    us = (tied["timestamp"] - pd.Timestamp("1970-01-01")) // pd.Timedelta(microseconds=1)
    assert sorted(zip(tied["customer_id"], us)) == sorted(zip(a.customer_ids(a.tie_rows).tolist(), a.tie_time.tolist()))
    assert len(a.tie_rows) and (np.diff(a.tie_rows) > 0).all()

"""A log read in parts of its customers (kpi.order_arrays.part_plan: logs whose arrays do not fit
the memory budget at once) gives the tables of the engine's definitions and of the whole arrays:
customer tables, purchase cycle, lifecycle stages at many dates, transitions, the whole suite."""
from __future__ import annotations

import datetime as dt
import gc
import os

import numpy as np
import pandas as pd
import pytest

from _helpers import lifetimes_log, same_engine_tables
from crm_research import kpi
from crm_research.kpi import customer_summary as CS
from crm_research.kpi import lifecycle as L
from crm_research.kpi import order_arrays as OA
from crm_research.kpi import product_arrays as PA
from crm_research.kpi import retention as R
from crm_research.kpi import rfm as F
from crm_research.kpi import session_arrays as SA


def _log(seed: int, n: int = 4000) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n_cust = int(rng.integers(200, 600))
    ids = rng.integers(0, n_cust, n) * int(rng.choice([1, 3])) + int(rng.integers(-5, 10_000))
    day = rng.integers(0, int(rng.integers(30, 800)), n)
    ts = (pd.Timestamp("2023-01-01") + pd.to_timedelta(day, unit="D")
          + pd.to_timedelta(rng.integers(0, 4, n) * 3600, unit="s"))
    amount = np.round(rng.gamma(2.0, 30.0, n), 2)
    return pd.DataFrame({"customer_id": ids, "order_id": rng.permutation(n) + 1, "timestamp": ts, "amount": amount})


def _engines(orders: pd.DataFrame, budget: int = 48 * 500, sessions=None):
    """(read in parts, whole arrays, engine definitions)."""
    parts = kpi.load(orders, sessions=sessions)
    plan = OA.read_in_parts(parts, budget)
    assert plan is not None and len(plan.parts) >= 3         # several parts, really
    whole = kpi.load(orders, sessions=sessions)
    assert OA.array_plan(whole) is not None
    slow = kpi.load(orders, sessions=sessions)
    OA.engine_path_only(slow)
    if sessions is not None:
        slow.cached("session_arrays", lambda: None)         # the engine's session definitions
    return parts, whole, slow


@pytest.mark.parametrize("seed", range(6))
def test_the_plan_cuts_between_customers_within_the_budget(seed):
    orders = _log(seed)
    budget = 48 * int(np.random.default_rng(seed).integers(200, 900))
    eng = kpi.load(orders)
    plan = OA.part_plan(eng, budget=budget)
    ids = orders["customer_id"]
    assert plan.parts[0].id_lo == ids.min() and plan.parts[-1].id_hi == ids.max()
    for p, q in zip(plan.parts[:-1], plan.parts[1:]):
        assert q.id_lo == p.id_hi + 1                       # consecutive, disjoint ranges
    for p in plan.parts:
        n = int(ids.between(p.id_lo, p.id_hi).sum())
        assert p.orders == n
        # within the budget, unless one id bucket alone is larger (not here: one id per bucket)
        assert 48 * n + 8 * (p.id_hi - p.id_lo + 1) <= budget or ids[ids.between(p.id_lo, p.id_hi)].nunique() == 1
    assert plan.orders == len(orders)
    # the parts hold every order once, each part sorted by customer then date
    eng2 = kpi.load(orders)
    OA.read_in_parts(eng2, budget)
    got = []
    for a in OA.order_parts(eng2):
        assert (np.diff(a.code * 100_000 + a.day) >= 0).all()
        got.append(pd.DataFrame({"customer_id": a.customer_ids(np.arange(len(a))), "day": a.day, "amount": a.amount}))
    got = pd.concat(got).sort_values(["customer_id", "day", "amount"])
    want = pd.DataFrame({"customer_id": ids,
                         "day": (orders["timestamp"].dt.normalize() - pd.Timestamp("1970-01-01")).dt.days,
                         "amount": orders["amount"]}).sort_values(["customer_id", "day", "amount"])
    np.testing.assert_array_equal(got.to_numpy(), want.to_numpy())


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("stored", ["by_time", "by_customer"])
def test_customer_tables_in_parts_equal_the_engine_definitions(seed, stored):
    """A log stored in time order is routed to its parts by one scan, a log stored by customer
    read by one filtered scan per part: both give the engine's tables."""
    orders = _log(seed)
    if stored == "by_customer":
        orders = orders.sort_values(["customer_id", "timestamp"], kind="stable").reset_index(drop=True)
    else:
        orders = orders.sort_values("timestamp", kind="stable").reset_index(drop=True)
    parts, _, slow = _engines(orders)
    plan = OA.part_plan(parts)
    assert OA.scattered(parts, [p.id_lo for p in plan.parts], plan.orders) == (stored == "by_time")
    lo, hi = orders["timestamp"].min().date(), orders["timestamp"].max().date()
    mid = lo + (hi - lo) / 2
    for period in ("month", "week"):
        same_engine_tables(parts, slow, R.customer_periods(parts, period), R.customer_periods(slow, period), ["customer_id", "idx"])
        same_engine_tables(parts, slow, R.customer_periods_until(parts, period, mid), R.customer_periods_until(slow, period, mid),
              ["customer_id", "idx"])
    for as_of, W in ((hi, 90), (mid, 30), (hi + dt.timedelta(days=40), 7), (mid, 1)):
        same_engine_tables(parts, slow, CS.customer_summary(parts, as_of, W), CS.customer_summary(slow, as_of, W), ["customer_id"])
    same_engine_tables(parts, slow, L.customer_table(parts), L.customer_table(slow), ["customer_id"])
    for as_of in (mid, hi):
        assert F.purchase_cycle(parts, as_of) == F.purchase_cycle(slow, as_of)
    # and the KPIs from them
    for period in ("month", "week"):
        pd.testing.assert_frame_equal(R.cohort_retention(parts, period, mid), R.cohort_retention(slow, period, mid),
                                      check_exact=False, rtol=1e-12)


@pytest.mark.parametrize("seed", range(3))
def test_stage_shares_and_transitions_in_parts_equal_the_engine_definitions(seed):
    orders = lifetimes_log(seed)
    parts, whole, slow = _engines(orders, budget=48 * 300)
    hi = orders["timestamp"].max().date()
    for rules in (L.LifecycleRules(), L.LifecycleRules(window_days=30, churn_days=60, silent_days=20, new_days=10)):
        a = L.stage_shares(parts, rules=rules, as_of=hi)
        pd.testing.assert_frame_equal(a, L.stage_shares(slow, rules=rules, as_of=hi))
        pd.testing.assert_frame_equal(a, L.stage_shares(whole, rules=rules, as_of=hi))
        assert set(a.loc[a["customers"] > 0, "stage"]) == set(L.STAGES)
        for d0, d1 in ((hi - dt.timedelta(days=365), hi), (hi - dt.timedelta(days=90), hi + dt.timedelta(days=20))):
            t = L.stage_transitions(parts, d0, d1, rules)
            pd.testing.assert_frame_equal(t, L.stage_transitions(slow, d0, d1, rules))
            assert t["customers"].sum() == (orders["timestamp"].dt.date <= d1).groupby(orders["customer_id"]).any().sum()


@pytest.mark.parametrize("seed", [0, 1])
def test_the_suite_in_parts_equals_the_whole_arrays_and_the_engine(seed):
    orders = _log(seed, 3000)
    rng = np.random.default_rng(seed)
    orders["product_id"] = rng.integers(1, 40, len(orders))
    orders.loc[1, ["customer_id", "timestamp"]] = orders.loc[0, ["customer_id", "timestamp"]].to_numpy()
    n_s = 6000
    sessions = pd.DataFrame({
        "customer_id": rng.choice(orders["customer_id"].unique(), n_s),
        "start": orders["timestamp"].min() + pd.to_timedelta(rng.integers(0, 800 * 24, n_s), unit="h"),
        "duration": rng.integers(0, 900, n_s).astype(float), "page_views": rng.integers(0, 20, n_s)})
    parts, whole, slow = _engines(orders, sessions=sessions)
    assert SA.session_parts(parts, budget=32 * 500) is not None     # the sessions in parts too
    a = kpi.kpi_suite(parts).tables
    b = kpi.kpi_suite(whole).tables
    c = kpi.kpi_suite(slow).tables
    assert a.keys() == b.keys() == c.keys()
    compared = 0
    for name in a:
        if not isinstance(a[name], pd.DataFrame) or a[name].empty:
            continue
        pd.testing.assert_frame_equal(a[name], b[name], check_exact=False, rtol=1e-12, atol=1e-9, obj=name)
        pd.testing.assert_frame_equal(a[name], c[name], check_exact=False, rtol=1e-12, atol=1e-9, obj=name)
        compared += 1
    assert compared >= 12
    def tables(e):
        return {r[0] for r in e.con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}

    assert "_kpi_order_facts" in tables(slow)          # the engine path builds its per-order facts ...
    assert "_kpi_order_facts" not in tables(parts)     # ... the parts need none
    # the product KPIs come from the numpy stream there, its first orders from the parts
    assert PA.product_plan(parts) is not None


@pytest.mark.parametrize("seed", [0, 3])
def test_the_product_stream_finds_the_first_orders_in_the_parts(seed):
    orders = _log(seed, 3000)
    rng = np.random.default_rng(seed)
    orders["product_id"] = rng.integers(1, 40, len(orders))
    parts, whole, _ = _engines(orders)
    for as_of in (orders["timestamp"].max().date(), orders["timestamp"].quantile(0.6).date()):
        p, w = PA.product_pass(parts, "month", as_of, 3), PA.product_pass(whole, "month", as_of, 3)
        pd.testing.assert_frame_equal(p.sales, w.sales)
        # the same window lines (the stream in line order, the arrays in customer order) and first orders
        key = lambda r: sorted(zip(r.c.tolist(), r.p.tolist(), r.amount.tolist(), r.first.tolist()))  # noqa: E731
        assert key(p) == key(w) and p.first.sum() > 0


def test_a_log_beyond_the_memory_budget_is_read_in_parts():
    orders = _log(5, 100_000)
    eng = kpi.load(orders)
    eng.con.execute("SET memory_limit = '8MB'")      # parts may hold an eighth of it: 1 MB, not 100,000 x 48 B
    assert OA.array_plan(eng) is None
    plan = OA.part_plan(eng)
    assert plan is not None and len(plan.parts) >= 4
    with pytest.raises(ValueError, match="array_plan"):
        OA.order_arrays(eng)
    eng.con.execute("SET memory_limit = '2GB'")
    slow = kpi.load(orders)
    OA.engine_path_only(slow)
    same_engine_tables(eng, slow, CS.customer_summary(eng), CS.customer_summary(slow), ["customer_id"])


def test_text_ids_and_ids_spread_far_apart_are_not_read_in_parts():
    orders = _log(3, 500)
    text = kpi.load(orders.assign(customer_id="C" + orders["customer_id"].astype(str)))
    assert OA.part_plan(text, budget=4800) is None and not OA.has_arrays(text)
    sparse = kpi.load(orders.assign(customer_id=orders["customer_id"] * 1_000_003))
    assert OA.part_plan(sparse, budget=4800) is None


def test_the_parts_files_go_with_the_engine_and_calls_out_of_order_are_refused():
    orders = _log(2)
    eng = kpi.load(orders)
    OA.read_in_parts(eng, 48 * 500)
    folder = os.path.dirname(OA.order_parts(eng).__next__().code.filename)
    assert os.path.isdir(folder) and len(os.listdir(folder)) >= 9
    with pytest.raises(ValueError, match="before the first KPI"):
        OA.read_in_parts(eng, 48 * 800)
    with pytest.raises(ValueError, match="before the first KPI"):
        OA.engine_path_only(eng)
    eng.close()
    del eng
    gc.collect()
    assert not os.path.exists(folder)
    with pytest.raises(ValueError, match="part_plan"):
        next(OA.order_parts(kpi.load(orders)))       # fits whole: not read in parts


def test_the_tables_in_parts_are_the_same_whatever_the_number_of_threads():
    orders = _log(4, 6000)
    got = []
    for threads in (1, 2, 3):
        eng = kpi.load(orders, threads=threads)
        OA.read_in_parts(eng, 48 * 400)
        t = eng.execute(CS.customer_summary(eng).order_by("customer_id"))
        got.append(t.to_csv(index=False))
    assert got[0] == got[1] == got[2]


def test_transitions_planned_before_the_shares_need_no_pass_of_their_own(monkeypatch):
    orders = lifetimes_log(5)
    parts, _, slow = _engines(orders, budget=48 * 300)
    hi = orders["timestamp"].max().date()
    d0 = hi - dt.timedelta(days=365)
    L.plan_transitions(parts, d0, hi)
    shares = L.stage_shares(parts, as_of=hi)
    pd.testing.assert_frame_equal(shares, L.stage_shares(slow, as_of=hi))

    def no_pass(engine):
        raise AssertionError("a pass over the parts")
    monkeypatch.setattr(L, "order_parts", no_pass)
    got = L.stage_transitions(parts, d0, hi)              # from the stages kept at both dates
    pd.testing.assert_frame_equal(got, L.stage_transitions(slow, d0, hi))
    assert got["customers"].sum() > 0
    with pytest.raises(AssertionError, match="a pass"):  # dates not planned: a pass
        L.stage_transitions(parts, d0 + dt.timedelta(days=1), hi)


def test_a_full_disk_gives_a_clear_error_and_leaves_no_files(monkeypatch, tmp_path):
    from crm_research.errors import ConfigError

    orders = _log(6)
    eng = kpi.load(orders, temp_directory=str(tmp_path))
    OA.read_in_parts(eng, 48 * 500)

    def full(*args, **kwargs):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(OA.np, "save", full)
    with pytest.raises(ConfigError, match=r"temp_directory: .*No space left on device.*GB free"):
        CS.customer_summary(eng)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith("crm_kpi_orders_")]
    monkeypatch.undo()                                   # space again: the next call reads the parts
    slow = kpi.load(orders)
    OA.engine_path_only(slow)
    same_engine_tables(eng, slow, CS.customer_summary(eng), CS.customer_summary(slow), ["customer_id"])
    assert [p for p in tmp_path.iterdir() if p.name.startswith("crm_kpi_orders_")]   # written where DuckDB spills


def test_a_customer_beyond_the_budget_leaves_the_log_to_the_engine():
    orders = _log(8, 3000)
    orders.loc[:1999, "customer_id"] = orders["customer_id"].min()      # one customer with 2,000 orders
    eng = kpi.load(orders)
    assert OA.part_plan(eng, budget=48 * 500) is None                   # 96,000 B > twice the budget
    assert OA.part_plan(eng, budget=48 * 1100) is not None
    # and the KPIs run on the engine's definitions there
    assert OA.read_in_parts(eng, 48 * 500) is None and not OA.has_arrays(eng)
    slow = kpi.load(orders)
    OA.engine_path_only(slow)
    same_engine_tables(eng, slow, CS.customer_summary(eng), CS.customer_summary(slow), ["customer_id"])


@pytest.mark.parametrize("seed", [0, 2])
def test_the_churn_list_stored_range_by_range_equals_the_list_in_one_query(seed, monkeypatch):
    """A log in parts stores its churn indicators one customer range at a time (the joins hold one
    range's rows); the list is the one query's, customer for customer, with and without sessions."""
    from crm_research.kpi import churn as C

    # as under a memory limit too small for the joins of all customers at once: one range per part
    monkeypatch.setattr(C, "_JOIN_BYTES_PER_CUSTOMER", 1 << 40)

    orders = _log(seed, 3000)
    rng = np.random.default_rng(seed)
    sessions = pd.DataFrame({
        "customer_id": rng.choice(orders["customer_id"].unique(), 5000),
        "start": orders["timestamp"].min() + pd.to_timedelta(rng.integers(0, 800 * 24, 5000), unit="h"),
        "duration": rng.integers(0, 900, 5000).astype(float)})
    for s in (None, sessions):
        parts, _, slow = _engines(orders, sessions=s)
        rules = C.ChurnRules(window_days=60)
        ranges = C._customer_ranges(parts)
        assert len(ranges) == len(OA.part_plan(parts).parts) >= 3
        assert C._customer_ranges(slow) == [None]
        for everyone in (False, True):
            got = parts.execute(C.churn_risk_table(parts, rules=rules, stored_steps=True,
                                                   all_customers=everyone).order_by("rank"))
            one = parts.execute(C.churn_risk_table(parts, rules=rules, all_customers=everyone).order_by("rank"))
            assert len(got) > 20
            pd.testing.assert_frame_equal(got, one)
            top = parts.execute(C.churn_risk_table(parts, rules=rules, stored_steps=True, top=7,
                                                   all_customers=everyone).order_by("rank"))
            pd.testing.assert_frame_equal(top, one.head(7))
            if not everyone:    # (every customer: the engine's float sums may break ties of spend otherwise)
                want = slow.execute(C.churn_risk_table(slow, rules=rules).order_by("rank"))
                pd.testing.assert_frame_equal(got, want, check_exact=False, rtol=1e-12, atol=1e-12)
        # under a roomy limit the parts join into one range
        plan = OA.part_plan(parts).parts
        monkeypatch.setattr(C, "_JOIN_BYTES_PER_CUSTOMER", 400)
        assert C._customer_ranges(parts) == [(plan[0].id_lo, plan[-1].id_hi)]
        monkeypatch.setattr(C, "_JOIN_BYTES_PER_CUSTOMER", 1 << 40)
        stored = parts.execute(parts.backend.table("_kpi_churn_indicators").customer_id)
        assert stored.is_unique and len(stored) == parts.execute(C.churn_indicators(parts, rules=rules).count())

"""Same inputs -> the same KPI tables on every run, whatever the number of threads.

Engines add floating-point numbers in the order their threads meet the rows, and DuckDB returns
rows in no fixed order once the loader has validated them; a plain ``sum`` of amounts then
differs in its last bits from run to run. The suite sums amounts exactly
(:func:`crm_research.kpi.engine.exact_sum`) and puts orders of one customer on one day in a
fixed order before adding them; these tests run the whole suite several times on the engine
path (text ids) and on the array path (integer ids) and compare every table byte for byte.
"""
from __future__ import annotations

import hashlib

import pandas as pd
import pytest

from crm_research import kpi
from crm_research.kpi.customer_summary import customer_summary
from crm_research.simulate import simulate_transactions


@pytest.fixture(scope="module")
def log():
    # several of DuckDB's row groups (122,880 rows) per table, so two threads share every scan
    return simulate_transactions(n_orders=400_000, seed=11, n_products=60)


def _digests(orders, sessions, threads):
    with kpi.load(orders, sessions=sessions, threads=threads) as eng:
        suite = kpi.kpi_suite(eng)
        return {name: hashlib.sha256(df.to_csv(index=False).encode()).hexdigest()
                for name, df in suite.tables.items() if isinstance(df, pd.DataFrame)}


@pytest.mark.parametrize("ids", ["int", "text"])
def test_every_table_is_the_same_on_every_run(log, ids):
    orders, sessions = log.orders.copy(), log.sessions.copy()
    if ids == "text":          # text ids: every table on the engine path
        orders["customer_id"] = "c" + orders["customer_id"].astype(str)
        sessions["customer_id"] = "c" + sessions["customer_id"].astype(str)
    runs = [_digests(orders, sessions, threads) for threads in (2, 2, 2, 1)]
    assert len(runs[0]) >= 15
    for name in runs[0]:
        got = [r[name] for r in runs]
        assert len(set(got)) == 1, f"{name} differs between runs: {[g[:8] for g in got]}"


def test_revenue_is_the_exact_sum_of_the_amounts():
    # 0.1 + 0.2 + 0.3 in floating point is 0.6000000000000001; the exact sum is 0.6
    orders = pd.DataFrame({"customer_id": [1, 1, 1], "order_id": [1, 2, 3],
                           "timestamp": pd.to_datetime(["2024-01-03", "2024-01-05", "2024-01-09"]),
                           "amount": [0.1, 0.2, 0.3]})
    for ids in ("int", "text"):
        o = orders.assign(customer_id=orders["customer_id"].astype(str)) if ids == "text" else orders
        with kpi.load(o) as eng:
            r = kpi.cohort_retention(eng, "month", "2024-01-31")
            assert r["revenue"].tolist() == [0.6]
            assert eng.execute(customer_summary(eng, "2024-01-31"))["total_spend"].tolist() == [0.6]


@pytest.mark.parametrize("ids", ["int", "text"])
def test_order_lines_in_any_row_order_give_the_same_tables(log, ids):
    # an export of order lines (several products per order id), read in three row orders: the
    # orders (summed lines, the earliest line's product) and every table are the same
    o = log.orders.iloc[:120_000].copy()
    extra = o.sample(40_000, random_state=3).copy()
    extra["product_id"] = (extra["product_id"] + 7) % 60 + 1           # a second line of the same order
    extra["amount"] = (extra["amount"] * 0.37).round(2)
    lines = pd.concat([o, extra], ignore_index=True)
    if ids == "text":
        lines["customer_id"] = "c" + lines["customer_id"].astype(str)
    digests = []
    for seed in (0, 1, 2):
        shuffled = lines.sample(frac=1.0, random_state=seed).reset_index(drop=True)
        with kpi.load(shuffled, policy={"duplicate_order_id": "keep"}, threads=2) as eng:
            suite = kpi.kpi_suite(eng)
            digests.append({name: hashlib.sha256(df.to_csv(index=False).encode()).hexdigest()
                            for name, df in suite.tables.items() if isinstance(df, pd.DataFrame)})
    assert "product_stage_kpis" in digests[0]
    for name in digests[0]:
        got = [d[name] for d in digests]
        assert len(set(got)) == 1, f"{name} differs between row orders: {[g[:8] for g in got]}"

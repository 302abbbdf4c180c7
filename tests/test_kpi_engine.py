"""KPIEngine.order_relation (the orders as a DuckDB relation, e.g. for clv.rfm_summary) and the
example log behind the KPI docstrings, checked against pandas on the same rows."""
from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from crm_research import clv, kpi
from crm_research.errors import ConfigError


@pytest.fixture(scope="module")
def eng():
    return kpi.example_engine()


def test_order_relation_filters_by_date(eng):
    orders = kpi.example_orders()
    rel = eng.order_relation(as_of="2024-03-31").df()
    want = orders[orders["timestamp"].dt.date <= dt.date(2024, 3, 31)]
    assert list(rel.columns) == ["customer_id", "timestamp", "amount"]
    assert sorted(rel["amount"]) == sorted(want["amount"])
    assert len(eng.order_relation().df()) == len(orders)


def test_order_relation_feeds_rfm_summary_like_the_frame(eng):
    orders = kpi.example_orders()
    a = clv.rfm_summary(eng.order_relation(), calibration_end="2024-06-28", freq="D")
    b = clv.rfm_summary(orders, calibration_end="2024-06-28", freq="D")
    pd.testing.assert_frame_equal(a.reset_index(drop=True), b.reset_index(drop=True), check_dtype=False)


def test_order_relation_bad_column(eng):
    with pytest.raises(ConfigError, match="coupon"):
        eng.order_relation(columns=("customer_id", "coupon"))


def test_order_relation_needs_duckdb(eng):
    other = kpi.KPIEngine(eng.backend, eng.orders)      # tables without a raw DuckDB connection
    assert other.con is None
    with pytest.raises(ConfigError, match="DuckDB"):
        other.order_relation()


def test_example_log_is_what_its_docstring_says():
    o, s = kpi.example_orders(), kpi.example_sessions()
    assert (len(o), o["customer_id"].nunique(), len(s)) == (24, 8, 11)
    per = o.groupby("customer_id").size().to_dict()
    assert per == {1: 7, 2: 2, 3: 1, 4: 4, 5: 5, 6: 2, 7: 1, 8: 2}
    assert set(s["customer_id"]) == {1, 4, 5, 8}
    assert o["timestamp"].min().date() == dt.date(2024, 1, 3) and o["timestamp"].max().date() == dt.date(2024, 6, 28)


def test_facts_built_in_customer_parts_equal_one_window(monkeypatch):
    """Large logs build the per-order facts in customer-hash parts (each sorted and compressed on
    its own); the table must be the same as from one window over the whole log."""
    import numpy as np

    from crm_research.kpi import engine as E

    rng = np.random.default_rng(3)
    n = 5000
    orders = pd.DataFrame({"customer_id": rng.integers(1, 400, n), "order_id": rng.permutation(n) + 1,
                           "timestamp": pd.Timestamp("2023-01-01") + pd.to_timedelta(rng.integers(0, 50_000, n), unit="min"),
                           "amount": rng.gamma(2.0, 20.0, n)})
    keys = ["customer_id", "order_id"]
    one = E.KPIEngine.load(orders)
    want = one.execute(one.facts).sort_values(keys).reset_index(drop=True)
    monkeypatch.setattr(E, "FACTS_PART_ROWS", 1200)          # 5 parts
    eng = E.KPIEngine.load(orders)
    eng._compress = True
    got = eng.execute(eng.facts).sort_values(keys).reset_index(drop=True)
    assert eng.execute(eng.facts.count()) == n
    pd.testing.assert_frame_equal(got, want)


def test_materialize_pieces_stores_the_union_piece_by_piece():
    """Pieces that read in-memory tables are registered one by one; the stored rows are the
    union's; no piece is refused clearly."""
    import pandas as pd

    from crm_research.kpi.engine import memtable
    from crm_research.kpi.examples import example_engine

    eng = example_engine()
    o = eng.orders
    pieces = []
    for lo, hi in ((1, 3), (4, 6), (7, 8)):
        m = memtable(pd.DataFrame({"customer_id": list(range(lo, hi + 1)), "tag": [f"r{lo}"] * (hi - lo + 1)}))
        pieces.append(o.join(m, "customer_id").select("customer_id", "order_id", "tag"))
    t = eng.materialize_pieces(pieces, "_pieces")
    got = eng.execute(t).sort_values("order_id").reset_index(drop=True)
    want = eng.execute(o.select("customer_id", "order_id")).sort_values("order_id").reset_index(drop=True)
    pd.testing.assert_frame_equal(got[["customer_id", "order_id"]], want)
    assert set(got["tag"]) == {"r1", "r4", "r7"}
    with pytest.raises(ValueError, match="no piece"):
        eng.materialize_pieces([], "_none")

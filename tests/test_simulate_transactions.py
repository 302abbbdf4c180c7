"""Synthetic transaction logs: shape, determinism, and the behaviour the model promises."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from crm_research.simulate import simulate_transactions, write_transactions
from crm_research.simulate.transactions import CHUNK_CUSTOMERS, TransactionModel


@pytest.fixture(scope="module")
def log():
    return simulate_transactions(6000, seed=11)


def test_columns_and_types(log):
    o, s = log.orders, log.sessions
    assert list(o.columns) == ["customer_id", "order_id", "timestamp", "amount", "product_id", "category", "channel"]
    assert list(s.columns) == ["customer_id", "start", "duration", "page_views"]
    assert o["order_id"].is_unique and o["customer_id"].nunique() == 6000
    assert (o["amount"] > 0).all() and o["amount"].round(2).eq(o["amount"]).all()
    assert o["timestamp"].between("2021-01-01", "2024-01-01").all()
    assert set(o["channel"]) == {"app", "web", "mini_program"}
    assert (s["duration"] >= 0).all() and (s["page_views"] >= 1).all()
    assert "category" in log.products and len(log.products) == TransactionModel().n_products


def test_same_seed_same_log_other_seed_other_log(log):
    again = simulate_transactions(6000, seed=11)
    pd.testing.assert_frame_equal(log.orders, again.orders)
    pd.testing.assert_frame_equal(log.sessions, again.sessions)
    other = simulate_transactions(6000, seed=12)
    assert not log.orders["amount"].equals(other.orders["amount"])


def test_exact_order_count_across_chunks():
    n = 3 * CHUNK_CUSTOMERS // 10 + 17          # stops inside the first chunk
    log = simulate_transactions(n_orders=n, seed=3, sessions=False)
    assert len(log.orders) == n and log.sessions.empty
    with pytest.raises(ValueError):
        simulate_transactions(10, n_orders=10)


def test_heterogeneity_dropout_and_lifecycle_signals(log):
    o = log.orders
    per = o.groupby("customer_id").size()
    # heavy-tailed purchase counts (gamma-mixed rates): many one-time buyers, some heavy buyers
    assert 0.2 < (per == 1).mean() < 0.6 and per.max() > 20 * per.median()
    # dropout: a large share of customers acquired before 2023 have not bought in the last 180 days
    last = o.groupby("customer_id")["timestamp"].max()
    first = o.groupby("customer_id")["timestamp"].min()
    old = first < "2023-01-01"
    assert (last[old] < pd.Timestamp("2023-07-04")).mean() > 0.3
    # reactivation: some customers come back after a gap of more than 180 days
    gaps = o.sort_values(["customer_id", "timestamp"]).groupby("customer_id")["timestamp"].diff().dt.days
    assert (gaps > 180).sum() > 50
    # spend heterogeneity between customers (gamma-gamma): customer means differ a lot
    means = o.groupby("customer_id")["amount"].mean()
    assert means.quantile(0.9) / means.quantile(0.1) > 2.5


def test_seasonality(log):
    o = log.orders
    day = o["timestamp"].dt.normalize().value_counts()
    # 11.11 is the year's peak day; orders on Singles' Day far above a normal November day
    for y in (2022, 2023):
        nov = day[(day.index.month == 11) & (day.index.year == y)]
        assert nov.idxmax() == pd.Timestamp(y, 11, 11)
        assert nov.max() > 2.5 * nov.median()
    # weekly pattern: Saturday busier than Tuesday
    wd = o["timestamp"].dt.day_of_week.value_counts()
    assert wd[5] > 1.1 * wd[1]
    # acquisitions grow over time
    first = o.groupby("customer_id")["timestamp"].min().dt.year.value_counts()
    assert first[2023] > first[2021]


def test_sessions_linked_to_purchases(log):
    o, s = log.orders, log.sessions
    assert len(s) > len(o)                       # purchase sessions plus browsing
    # every customer with an order has sessions, and every order has a session ending at it
    assert set(o["customer_id"]) <= set(s["customer_id"])
    ends = s["start"] + pd.to_timedelta(s["duration"], unit="s")
    one = o.iloc[100]
    near = s[(s["customer_id"] == one["customer_id"]) & ((ends - one["timestamp"]).abs() < pd.Timedelta(seconds=2))]
    assert len(near) >= 1


def test_products_launch_and_decline(log):
    o, p = log.orders, log.products.set_index("product_id")
    # no product sells (much) before its launch
    launch = o["product_id"].map(p["launch"])
    assert (o["timestamp"] >= launch).mean() > 0.999
    # products past maturity sell less in 2023 than at their peak year
    m = o.assign(year=o["timestamp"].dt.year).groupby(["product_id", "year"]).size().unstack(fill_value=0)
    declined = p.index[(p["maturity_end"] < "2022-01-01") & (p["launch"] > "2020-06-01")]
    declined = [x for x in declined if x in m.index and m.loc[x].max() >= 10]
    assert declined and all(m.loc[x, 2023] < m.loc[x].max() for x in declined)


def test_write_parquet_streams_and_refuses_overwrite(tmp_path):
    import pyarrow.parquet as pq

    paths = write_transactions(tmp_path / "log", n_orders=12_345, seed=5)
    assert pq.ParquetFile(paths["orders"]).metadata.num_rows == 12_345
    got = pd.read_parquet(paths["orders"])
    mem = simulate_transactions(n_orders=12_345, seed=5)
    assert got["amount"].tolist() == mem.orders["amount"].tolist()
    assert got["category"].astype(str).tolist() == mem.orders["category"].tolist()
    with pytest.raises(FileExistsError):
        write_transactions(tmp_path / "log", n_orders=10, seed=5)
    write_transactions(tmp_path / "log", n_orders=10, seed=5, overwrite=True)
    assert pq.ParquetFile(paths["orders"]).metadata.num_rows == 10


def test_model_overrides_and_validation():
    log = simulate_transactions(300, seed=1, start="2022-01-01", end="2022-12-31", n_products=20)
    assert log.orders["timestamp"].dt.year.eq(2022).all() and log.orders["product_id"].max() <= 20
    with pytest.raises(ValueError):
        TransactionModel(start="2022-01-01", end="2021-01-01")
    with pytest.raises(ValueError):
        TransactionModel(alpha=0)
    assert "orders" in log.summary() and np.isfinite(log.customers["lambda_week"]).all()

"""Repurchase windows (with right censoring) and new/returning shares, hand-computed."""
from __future__ import annotations

import pandas as pd
import pytest

from crm_research import kpi

AS_OF = "2024-06-30"
ROWS = [
    ("A", "2024-01-01"), ("A", "2024-01-01"), ("A", "2024-01-31"),   # same-day 2nd order; next +30 days
    ("B", "2024-01-01"), ("B", "2024-02-01"),                        # +31 days
    ("C", "2024-01-10"),                                             # never again
    ("D", "2024-05-15"), ("D", "2024-05-20"),                        # +5 days; first order 46 days before as_of
    ("E", "2024-06-20"), ("E", "2024-06-22"),                        # first order 10 days before as_of
    ("F", "2024-01-05"), ("F", "2024-01-05"),                        # only a same-day second order
]


@pytest.fixture(scope="module")
def eng():
    df = pd.DataFrame(ROWS, columns=["customer_id", "timestamp"])
    df["order_id"] = range(1, len(df) + 1)
    df["timestamp"] = pd.to_datetime(df["timestamp"]) + pd.to_timedelta(df["order_id"], unit="min")
    df["amount"] = 10.0
    with kpi.load(df) as e:
        yield e


def test_windows_count_only_customers_observed_for_the_whole_window(eng):
    r = kpi.repurchase_rates(eng, (30, 90), as_of=AS_OF).set_index("window_days")
    # 30 days: eligible = first order by May 31 -> A B C D F (E censored); repurchased: A (30 d), D (5 d)
    assert r.loc[30, ["eligible_customers", "repurchasers", "censored_customers"]].tolist() == [5, 2, 1]
    assert r.loc[30, "repurchase_rate"] == pytest.approx(2 / 5)
    # 90 days: eligible = first order by April 1 -> A B C F (D, E censored); repurchased: A, B
    assert r.loc[90, ["eligible_customers", "repurchasers", "censored_customers"]].tolist() == [4, 2, 2]
    assert r.loc[90, "repurchase_rate"] == pytest.approx(0.5)


def test_same_day_orders_count_only_with_min_gap_zero(eng):
    r = kpi.repurchase_rates(eng, (30, 90), as_of=AS_OF, min_gap_days=0).set_index("window_days")
    # F's same-day second order now counts: 30 d -> A D F of 5; 90 d -> A B F of 4
    assert r.loc[30, "repurchase_rate"] == pytest.approx(3 / 5)
    assert r.loc[90, "repurchase_rate"] == pytest.approx(3 / 4)


def test_by_cohort(eng):
    r = kpi.repurchase_rates(eng, (30,), as_of=AS_OF, by_cohort=True)
    got = {(c.strftime("%Y-%m"), e, n) for c, e, n in zip(r["cohort"], r["eligible_customers"], r["repurchasers"])}
    # January cohort A B C F: 4 eligible, A repurchased; May: D; June: E censored
    assert got == {("2024-01", 4, 1), ("2024-05", 1, 1), ("2024-06", 0, 0)}
    assert pd.isna(r.loc[r["cohort"] == "2024-06-01", "repurchase_rate"]).all()


def test_repeat_customer_share_per_month(eng):
    r = kpi.repeat_customer_share(eng, "month", as_of=AS_OF).set_index("period_start")
    jan, feb = r.loc["2024-01-01"], r.loc["2024-02-01"]
    # January: A (3 orders), B, C, F (2 orders): all new; repeat orders = A's 2nd and 3rd + F's 2nd
    assert (jan["customers"], jan["new_customers"], jan["returning_customers"]) == (4, 4, 0)
    assert (jan["orders"], jan["repeat_orders"], jan["multi_order_customers"]) == (7, 3, 2)
    assert jan["repeat_order_share"] == pytest.approx(3 / 7)
    # February: only B, returning
    assert (feb["customers"], feb["returning_customers"], feb["returning_share"]) == (1, 1, 1.0)
    assert feb["returning_revenue_share"] == pytest.approx(1.0)
    assert list(r.index.strftime("%m")) == ["01", "02", "05", "06"]       # months with orders
    assert r["complete"].all()                                             # June 30 ends June


def test_window_shorter_than_gap_rejected(eng):
    with pytest.raises(ValueError):
        kpi.repurchase_rates(eng, (0,), as_of=AS_OF)

"""Product lifecycle stages and KPIs by stage, hand-computed."""
from __future__ import annotations

import pandas as pd
import pytest

from crm_research import kpi
from crm_research.errors import ConfigError
from crm_research.kpi import ProductLifecycleRules

AS_OF = "2024-04-30"   # April complete
# order lines per product and month (Jan, Feb, Mar, Apr)
SALES = {
    "P1": [1, 1, 2, 3],      # growth: 3 / 2 - 1 = +50 %
    "P2": [3, 3, 3, 3],      # maturity: at peak, flat
    "P3": [4, 2, 1, 1],      # decline: level 1 / 4
    "P4": [0, 0, 0, 2],      # introduction: first sale in April (age 1)
    "P5": [2, 2, 3, 2],      # decline: level 2/3 but -33 % in a month
    "P6": [0, 0, 1, 1],      # introduction: age 2
}
NO_SMOOTHING = ProductLifecycleRules(smooth=1, lag=1, intro_periods=2, growth_threshold=0.2, decline_level=0.5)


def _lines(loyal=False):
    rows, oid = [], 0
    for p, counts in SALES.items():
        for m, n in enumerate(counts, start=1):
            for i in range(n):
                oid += 1
                cust = f"c{oid}"
                if loyal and p == "P2":
                    cust = "loyal"
                rows.append((cust, oid, pd.Timestamp(2024, m, 10 + i, 12), 10.0, p, "cat_" + p[-1]))
    return pd.DataFrame(rows, columns=["customer_id", "order_id", "timestamp", "amount", "product_id", "category"])


@pytest.fixture(scope="module")
def eng():
    with kpi.load(_lines()) as e:
        yield e


def test_stages_without_smoothing(eng):
    st = kpi.product_lifecycle_stages(eng, AS_OF, rules=NO_SMOOTHING).set_index("product_id")
    assert st["stage"].to_dict() == {"P1": "growth", "P2": "maturity", "P3": "decline", "P4": "introduction",
                                     "P5": "decline", "P6": "introduction"}
    assert st.loc["P1", "growth"] == pytest.approx(0.5) and st.loc["P1", "level"] == 1
    assert st.loc["P3", "level"] == pytest.approx(0.25) and st.loc["P3", "peak_period"] == pd.Timestamp("2024-01-01")
    assert st.loc["P5", "growth"] == pytest.approx(-1 / 3)
    assert st.loc["P4", "age_periods"] == 1 and st.loc["P6", "age_periods"] == 2
    assert st.loc["P1", "category"] == "cat_1"


def test_three_period_moving_average(eng):
    st = kpi.product_lifecycle_stages(eng, AS_OF).set_index("product_id")   # smooth 3, lag 3
    # P1 smoothed: Jan 1, Feb (1+1)/2 = 1, Mar (1+1+2)/3 = 4/3, Apr (1+2+3)/3 = 2; growth vs Jan = 1.0
    assert st.loc["P1", "smoothed_sales"] == pytest.approx(2.0)
    assert st.loc["P1", "growth"] == pytest.approx(1.0) and st.loc["P1", "stage"] == "growth"
    # P3 smoothed: 4, 3, 7/3, 4/3 -> level 1/3, growth 4/3 / 4 - 1 = -2/3
    assert st.loc["P3", "level"] == pytest.approx(1 / 3) and st.loc["P3", "stage"] == "decline"
    # age <= 3 periods is introduction under the default rules (P4, P6)
    assert st.loc["P6", "stage"] == "introduction"


def test_product_sales_table(eng):
    s = kpi.product_sales(eng, "month", AS_OF)
    p1 = s[s["product_id"] == "P1"]
    assert p1["orders"].tolist() == [1, 1, 2, 3] and p1["revenue"].tolist() == [10, 10, 20, 30]


def test_kpis_by_stage_over_the_last_period(eng):
    st = kpi.product_lifecycle_stages(eng, AS_OF, rules=NO_SMOOTHING)
    k = kpi.product_stage_kpis(eng, st, AS_OF, window_periods=1).set_index("stage")
    # April lines: growth P1 3; maturity P2 3; decline P3 1 + P5 2; introduction P4 2 + P6 1
    assert k["orders"].to_dict() == {"introduction": 3, "growth": 3, "maturity": 3, "decline": 3}
    assert k["revenue_share"].tolist() == pytest.approx([0.25] * 4)
    assert k.loc["decline", "products"] == 2 and k.loc["introduction", "products"] == 2
    # every line is a different new customer's first order
    assert (k["first_order_share"] == 1).all() and (k["repeat_buyer_share"] == 0).all()
    assert k.loc["growth", "avg_line_value"] == 10


def test_loyal_buyer_changes_first_order_and_repeat_shares():
    with kpi.load(_lines(loyal=True)) as e:
        st = kpi.product_lifecycle_stages(e, AS_OF, rules=NO_SMOOTHING)
        k = kpi.product_stage_kpis(e, st, AS_OF, window_periods=1).set_index("stage")
        # all 12 P2 lines belong to one customer whose first order was in January
        m = k.loc["maturity"]
        assert (m["buyers"], m["first_order_share"], m["repeat_buyer_share"]) == (1, 0.0, 1.0)


def test_needs_product_ids():
    o = pd.DataFrame({"customer_id": [1], "order_id": [1], "timestamp": [pd.Timestamp("2024-01-01")], "amount": [1.0]})
    with kpi.load(o) as e:
        with pytest.raises(ConfigError, match="product_id"):
            kpi.product_lifecycle_stages(e)


@pytest.mark.parametrize("ids", ["text", "int"])
def test_lines_without_product_id_are_left_out_and_counted(ids):
    lines = _lines()
    if ids == "int":        # integer ids take the numpy stream where it applies
        lines["product_id"] = lines["product_id"].str[1:].astype(int)
        lines["customer_id"] = lines["customer_id"].str[1:].astype(int)
    n = len(lines)
    extra = lines.iloc[[0, 5, 9, 20]].copy()
    extra["order_id"] = range(n + 1, n + 5)
    extra["product_id"] = None                        # four lines sold without a product id
    extra["timestamp"] = [pd.Timestamp(2024, m, 20) for m in (1, 2, 3, 5)]   # the May line is after as-of
    both = pd.concat([lines, extra], ignore_index=True)
    if ids == "int":        # as read from a file: integers with empty cells
        both["product_id"] = both["product_id"].astype("Int64")
    with kpi.load(lines) as e, kpi.load(both) as e2:
        want = kpi.product_sales(e, as_of=AS_OF)
        got = kpi.product_sales(e2, as_of=AS_OF)
        pd.testing.assert_frame_equal(got, want)
        assert got.attrs["lines_without_product"] == 3 and want.attrs["lines_without_product"] == 0
        st = kpi.product_lifecycle_stages(e2, AS_OF, rules=NO_SMOOTHING)
        pd.testing.assert_frame_equal(st, kpi.product_lifecycle_stages(e, AS_OF, rules=NO_SMOOTHING))
        k2 = kpi.product_stage_kpis(e2, st, AS_OF, window_periods=2)
        k = kpi.product_stage_kpis(e, st, AS_OF, window_periods=2)
        cols = ["stage", "products", "orders", "revenue", "revenue_share", "buyers"]
        pd.testing.assert_frame_equal(k2[cols], k[cols])
        suite = kpi.kpi_suite(e2, as_of=AS_OF)
        assert "3 order lines without a product_id: not in the product KPIs" in suite.summary()
        assert "without a product_id" not in kpi.kpi_suite(e, as_of=AS_OF).summary()

"""RFM scores (quintiles, ties) and segments, hand-computed."""
from __future__ import annotations

import pandas as pd
import pytest

from crm_research import kpi
from crm_research.kpi import RFM_SEGMENTS

AS_OF = "2024-12-31"


def _engine(spec):
    rows, oid = [], 0
    for cust, dates, amount in spec:
        for d in dates:
            oid += 1
            rows.append((cust, oid, pd.Timestamp(d) + pd.Timedelta(hours=10), amount))
    return kpi.load(pd.DataFrame(rows, columns=["customer_id", "order_id", "timestamp", "amount"]))


SPEC = [  # customer, order dates, amount per order
    ("A", ["2024-12-31"], 10),                                                   # R 0 d, F 1, M 10
    ("B", ["2024-11-01", "2024-12-01"], 20),                                     # R 30, F 2, M 40
    ("C", ["2024-09-01", "2024-10-01", "2024-11-01"], 10),                       # R 60, F 3, M 30
    ("D", ["2024-03-01", "2024-04-01", "2024-05-01", "2024-06-01"], 25),         # R 213, F 4, M 100
    ("E", ["2023-09-01", "2023-10-01", "2023-11-01", "2023-12-01", "2024-01-01"], 1),  # R 365, F 5, M 5
]
# n = 5 distinct values per measure: score = 1 + floor(5 * (rank - 1) / 5) = rank.
# R by days descending: E 1, D 2, C 3, B 4, A 5.  F ascending: A 1 .. E 5.
# M ascending: E(5) 1, A(10) 2, C(30) 3, B(40) 4, D(100) 5.


@pytest.fixture(scope="module")
def scores():
    with _engine(SPEC) as e:
        yield kpi.rfm_scores(e, AS_OF)


def test_measures_and_scores(scores):
    s = scores.set_index("customer_id")
    assert s["recency_days"].tolist() == [0, 30, 60, 213, 365]
    assert s["frequency"].tolist() == [1, 2, 3, 4, 5]
    assert s["monetary"].tolist() == [10, 40, 30, 100, 5]
    assert s["rfm_cell"].tolist() == ["512", "424", "333", "245", "151"]
    assert s["rfm_score"].tolist() == [8, 10, 9, 11, 7]


def test_segments_follow_the_rule_table(scores):
    s = scores.set_index("customer_id")["segment"]
    # purchase cycle: gaps 30 (x5) and 31 (x5) -> median 30.5 days. A 0 d, B 30 d (0.98 cycles) keep
    # their R; C 60 d = 1.97 cycles -> R at most 3 (it is 3); D 213 d = 6.98 cycles -> R capped 2 -> 1,
    # so D (F 4) is "Can't lose them", not "At risk" (R 2 would claim it is only fading)
    assert s.to_dict() == {"A": "New", "B": "Potential loyalist", "C": "Loyal", "D": "Can't lose them",
                           "E": "Can't lose them"}
    assert scores.attrs["purchase_cycle_days"] == 30.5
    assert scores.set_index("customer_id")["recency_cycles"].round(4).to_dict() == {
        "A": 0.0, "B": round(30 / 30.5, 4), "C": round(60 / 30.5, 4), "D": round(213 / 30.5, 4),
        "E": round(365 / 30.5, 4)}
    assert scores["r_score"].tolist() == [5, 4, 3, 2, 1]     # the quantile scores are not changed


def test_ties_share_a_score():
    # frequencies 1, 1, 1, 2 (n = 4): the three ties rank 1 -> score 1; the 2 ranks 4 -> 1 + 15 // 4 = 4
    spec = [("a", ["2024-12-01"], 5), ("b", ["2024-12-02"], 5), ("c", ["2024-12-03"], 5),
            ("d", ["2024-11-01", "2024-12-04"], 5)]
    with _engine(spec) as e:
        s = kpi.rfm_scores(e, AS_OF).set_index("customer_id")
    assert s["f_score"].tolist() == [1, 1, 1, 4]
    # monetary 5, 5, 5, 10: same pattern; recency 30, 29, 28, 27 days -> ranks 1..4 -> 1, 2, 3, 4
    assert s["m_score"].tolist() == [1, 1, 1, 4]
    assert s["r_score"].tolist() == [1, 2, 3, 4]


def test_segment_summary(scores):
    summ = kpi.rfm_segment_summary(scores)
    assert summ["customers"].sum() == 5 and summ["share"].sum() == pytest.approx(1)
    row = summ.set_index("segment").loc["Can't lose them"]
    assert row["revenue"] == 105 and row["revenue_share"] == pytest.approx(105 / 185)
    # segments appear in rule-table order
    order = list(RFM_SEGMENTS["segment"])
    assert list(summ["segment"]) == sorted(summ["segment"], key=order.index)


def test_rule_table_covers_every_cell():
    covered = set()
    for r in RFM_SEGMENTS.itertuples():
        covered |= {(a, b) for a in range(r.r_min, r.r_max + 1) for b in range(r.f_min, r.f_max + 1)}
    assert covered == {(a, b) for a in range(1, 6) for b in range(1, 6)}


def test_no_repeat_purchases_cycle_is_period_over_bins():
    # nobody repeats: cycle = days from first order (Dec 1) to as_of (Dec 31) / 5 = 6
    spec = [("a", ["2024-12-01"], 5), ("b", ["2024-12-31"], 5)]
    with _engine(spec) as e:
        s = kpi.rfm_scores(e, AS_OF)
    assert s.attrs["purchase_cycle_days"] == 6.0
    # n = 2: b (0 days) ranks 1 -> R = 1 + 5 * 1 // 2 = 3, F 1 -> Promising; a (30 days = 5 cycles) -> Lost
    assert s.set_index("customer_id")["segment"].to_dict() == {"a": "Lost", "b": "Promising"}


# --------------------------------------------------------------------------- CDNOW: recency by the data's own cycle
@pytest.fixture(scope="module")
def cdnow_rfm():
    from crm_research import clv

    o = clv.read_cdnow("tests/data/cdnow/CDNOW_sample.txt").reset_index(drop=True)
    o["order_id"] = range(len(o))
    with kpi.load(o) as e:
        s = kpi.rfm_scores(e)
    # the cycle computed independently: median gap between consecutive distinct purchase days
    days = o.assign(d=o["timestamp"].dt.normalize())[["customer_id", "d"]].drop_duplicates()
    gaps = days.sort_values(["customer_id", "d"]).groupby("customer_id")["d"].diff().dt.days.dropna()
    return s, float(gaps.median()), o["timestamp"].max().normalize()


def test_cdnow_recent_segments_respect_their_rule(cdnow_rfm):
    s, cycle, last = cdnow_rfm
    assert s.attrs["purchase_cycle_days"] == cycle
    rules = RFM_SEGMENTS.set_index("segment")
    for seg, g in s.groupby("segment"):
        r_max_rule = int(rules.loc[seg, "r_max"]) if seg in rules.index else 1
        r_min_rule = int(rules.loc[seg, "r_min"]) if seg in rules.index else 1
        # a segment needing R >= 4 holds only customers within 1 cycle, R >= 3 within 2, R >= 2 within 4
        limit = {5: 1, 4: 1, 3: 2, 2: 4}.get(r_min_rule)
        if limit is not None:
            assert (g["recency_days"] <= limit * cycle).all(), (seg, g["recency_days"].max(), cycle)
    # the case: nobody last seen more than a year ago is "Promising: recent-ish"
    promising = s[s["segment"] == "Promising"]
    assert promising.empty or promising["recency_days"].max() <= 2 * cycle
    assert not s[(s["recency_days"] > 365) & s["segment"].isin(["Promising", "New", "Champions", "Loyal",
                                                               "Potential loyalist", "About to sleep"])].shape[0]
    assert "Promising: R 3-3" in s.attrs["segment_rules"]


@pytest.mark.parametrize("bins", [2, 3, 5, 7])
def test_scores_are_the_minimum_rank_formula_on_ties_and_awkward_floats(bins):
    """score = 1 + floor(bins * (min rank - 1) / n), written here with pandas' rank, on data with
    heavy ties (recency, frequency) and spends that are not short decimals (exact comparisons)."""
    import numpy as np

    rng = np.random.default_rng(7)
    n_orders = 3000
    cust = rng.integers(1, 700, n_orders)
    day = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 200, n_orders), unit="D")
    amount = np.round(rng.gamma(2.0, 30.0, n_orders) / 3.0, 12)      # e.g. 17.333333333333
    amount[:50] = 1 / 3                                              # tied non-terminating spends
    orders = pd.DataFrame({"customer_id": cust, "order_id": np.arange(1, n_orders + 1),
                           "timestamp": day, "amount": amount})
    s = kpi.rfm_scores(kpi.load(orders), bins=bins)
    n = len(s)
    for col, x in (("r_score", -s["recency_days"]), ("f_score", s["frequency"]), ("m_score", s["monetary"])):
        want = 1 + (bins * (x.rank(method="min") - 1) // n).astype("int64")
        assert (s[col].to_numpy() == want.to_numpy()).all(), col
        assert s[col].between(1, bins).all()

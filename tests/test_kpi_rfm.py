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
    assert s.to_dict() == {"A": "New", "B": "Potential loyalist", "C": "Loyal", "D": "At risk",
                           "E": "Can't lose them"}


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
    row = summ.set_index("segment").loc["At risk"]
    assert row["revenue"] == 100 and row["revenue_share"] == pytest.approx(100 / 185)
    # segments appear in rule-table order
    order = list(RFM_SEGMENTS["segment"])
    assert list(summ["segment"]) == sorted(summ["segment"], key=order.index)


def test_rule_table_covers_every_cell():
    covered = set()
    for r in RFM_SEGMENTS.itertuples():
        covered |= {(a, b) for a in range(r.r_min, r.r_max + 1) for b in range(r.f_min, r.f_max + 1)}
    assert covered == {(a, b) for a in range(1, 6) for b in range(1, 6)}

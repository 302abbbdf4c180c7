"""Survey scores joined to behaviour; attitudinal vs behavioural loyalty, hand-computed."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from crm_research import kpi
from crm_research.errors import DataFileError

AS_OF = "2024-06-30"
ORDERS = {  # customer id -> (order dates, amount per order)
    1: (["2024-01-01", "2024-01-20", "2024-03-01", "2024-06-01"], 10.0),   # 4 orders
    2: (["2024-02-01", "2024-02-01", "2024-05-01"], 20.0),                  # 3 orders, same-day 2nd
    3: (["2024-06-10"], 50.0),                                              # 1 order, 20 days ago
    4: (["2024-01-15", "2024-06-15"], 5.0),                                 # 2 orders, gap 152 days
}
SURVEY = pd.DataFrame({"respondent_id": ["r1", "r2", "r3", "r4", "r5", "r6"],
                       "SAT": [5, 4, 2, 1, 3, 4], "LOY": [5, 5, 1, 2, 3, 4]})
LINK = pd.DataFrame({"respondent_id": ["r1", "r2", "r3", "r4", "r6"], "customer_id": ["1", "2", "3", "4", "99"]})


@pytest.fixture(scope="module")
def eng():
    rows = [(c, d, a) for c, (ds, a) in ORDERS.items() for d in ds]
    df = pd.DataFrame(rows, columns=["customer_id", "timestamp", "amount"])
    df["timestamp"] = pd.to_datetime(df["timestamp"]) + pd.to_timedelta(range(len(df)), unit="min")
    df["order_id"] = range(1, len(df) + 1)
    with kpi.load(df) as e:
        yield e


@pytest.fixture(scope="module")
def linked(eng):
    return kpi.link_survey(eng, SURVEY, link=LINK, as_of=AS_OF)


def test_behaviour_per_respondent(linked):
    x = linked.set_index("respondent_id")
    assert x.loc["r1", ["orders", "repeat_orders", "purchase_days"]].tolist() == [4, 3, 4]
    assert x.loc["r2", ["orders", "purchase_days", "total_spend"]].tolist() == [3, 2, 60]
    assert x.loc["r1", "tenure_days"] == 181 and x.loc["r1", "recency_days"] == 29
    assert x.loc["r1", "avg_order_value"] == 10
    # repurchased = an order on a later day than the first
    assert x.loc[["r1", "r2", "r3", "r4"], "repurchased"].tolist() == [1, 1, 0, 1]
    # within 90 days: r1 (19 d) yes, r2 (90 d) yes, r4 (152 d) no, r3 acquired 20 days ago: censored
    assert x.loc["r1", "repurchased_within_90"] == 1 and x.loc["r2", "repurchased_within_90"] == 1
    assert x.loc["r4", "repurchased_within_90"] == 0 and np.isnan(x.loc["r3", "repurchased_within_90"])
    assert x.loc["r1", "orders_per_year"] == pytest.approx(3 / (181 / 365.25))
    assert np.isnan(x.loc["r3", "orders_per_year"])                       # tenure < 30 days


def test_unmatched_respondents(linked):
    # r5 has no link, r6 links to a customer without orders
    assert linked.attrs["unmatched"] == 2
    assert linked.set_index("respondent_id").loc[["r5", "r6"], "matched"].tolist() == [False, False]
    assert linked["customer_id"].dtype == "Int64"                       # survey ids cast to engine ids


def test_correlation_table(linked):
    c = kpi.loyalty_correlations(linked, ["SAT"], ["orders"], method="spearman")
    # SAT 5, 4, 2, 1 vs orders 4, 3, 1, 2: ranks differ by 0, 0, 1, 1 -> rho = 1 - 6*2 / (4*15) = 0.8
    row = c.iloc[0]
    assert (row["attitudinal"], row["behavioural"], row["n"]) == ("SAT", "orders", 4)
    assert row["r"] == pytest.approx(0.8)
    assert 0 <= row["pvalue"] <= 1 and row["ci.lower"] < 0.8 < row["ci.upper"]
    # the contract's vocabulary: lavaan's names, the level in attrs
    assert list(c.columns) == ["attitudinal", "behavioural", "method", "n", "r", "ci.lower", "ci.upper", "pvalue"]
    assert c.attrs["ci.level"] == 0.95
    from scipy import stats
    assert row["pvalue"] == pytest.approx(stats.spearmanr([5, 4, 2, 1], [4, 3, 1, 2]).pvalue)
    full = kpi.loyalty_correlations(linked)
    assert set(full["attitudinal"]) == {"SAT", "LOY"}
    assert "repurchased_within_90" in set(full["behavioural"])
    # 3 complete pairs for the censored measure (r3 has NaN)
    assert full.set_index(["attitudinal", "behavioural"]).loc[("SAT", "repurchased_within_90"), "n"] == 3


def test_survey_with_customer_column(eng):
    s = SURVEY.iloc[:2].assign(cust=[1, 2])
    out = kpi.link_survey(eng, s, customer="cust", scores=["SAT"], as_of=AS_OF)
    assert out["orders"].tolist() == [4, 3] and "LOY" not in out.columns


def test_link_errors(eng):
    with pytest.raises(DataFileError, match="link"):
        kpi.link_survey(eng, SURVEY)
    with pytest.raises(DataFileError, match="more than one customer"):
        kpi.link_survey(eng, SURVEY, link=pd.DataFrame({"respondent_id": ["r1", "r1"], "customer_id": [1, 2]}))
    with pytest.raises(DataFileError, match="respondent id"):
        kpi.link_survey(eng, SURVEY.rename(columns={"respondent_id": "rid"}), link=LINK)

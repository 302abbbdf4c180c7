"""Churn early-warning indicators and the ranked at-risk list, hand-computed."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from crm_research import kpi
from crm_research.kpi import ChurnRules

AS_OF = "2024-06-30"
RULES = ChurnRules(window_days=30)   # recent = Jun 1..30, previous = May 2..31
ORDERS = [
    # A: gaps 10, 10, 10 -> typical 10; last Jan 31 -> 151 days ago, 15.1x overdue; spend 40
    ("A", "2024-01-01", 10), ("A", "2024-01-11", 10), ("A", "2024-01-21", 10), ("A", "2024-01-31", 10),
    # B: gaps 25, 5, 10, 36 -> median 17.5; last Jun 25 (5 days); recent 1 vs previous 3 -> -2/3
    ("B", "2024-04-10", 5), ("B", "2024-05-05", 5), ("B", "2024-05-10", 5), ("B", "2024-05-20", 5),
    ("B", "2024-06-25", 5),
    # C: one order on Jun 1 -> platform gap = median of own gaps (10, 17.5, 10) = 10; 29 days -> 2.9x
    ("C", "2024-06-01", 100),
    # D: gap 10, last Jun 20 -> ratio 1.0, on schedule
    ("D", "2024-06-10", 1), ("D", "2024-06-20", 1),
    # E: last order 545 days ago -> lost, not on the early-warning list
    ("E", "2023-01-01", 1), ("E", "2023-01-02", 1),
]


def _orders():
    df = pd.DataFrame(ORDERS, columns=["customer_id", "timestamp", "amount"])
    df["order_id"] = range(1, len(df) + 1)
    df["timestamp"] = pd.to_datetime(df["timestamp"]) + pd.Timedelta(hours=9)
    return df


@pytest.fixture(scope="module")
def eng():
    with kpi.load(_orders()) as e:
        yield e


def test_ranked_list_without_sessions(eng):
    r = kpi.churn_risk(eng, AS_OF, RULES)
    # A and C both score 1.0 (only the overdue indicator is available); C spent more -> first
    assert r["customer_id"].tolist() == ["C", "A", "B"]
    assert r["rank"].tolist() == [1, 2, 3]
    x = r.set_index("customer_id")
    assert x.loc["A", "typical_gap_days"] == 10 and x.loc["A", "gap_ratio"] == pytest.approx(15.1)
    assert x.loc["A", "gap_reference"] == "own" and np.isnan(x.loc["A", "frequency_change"])
    assert x.loc["B", "typical_gap_days"] == pytest.approx(17.5)
    assert x.loc["B", "gap_ratio"] == pytest.approx(5 / 17.5)
    assert x.loc["B", ["orders_recent", "orders_previous"]].tolist() == [1, 3]
    assert x.loc["B", "frequency_change"] == pytest.approx(-2 / 3)
    # B: overdue score 0, frequency score min(1, (2/3)/0.5) = 1 -> mean 0.5, one warning
    assert x.loc["B", "risk_score"] == pytest.approx(0.5) and x.loc["B", "n_warnings"] == 1
    assert bool(x.loc["B", "frequency_falling"]) and not bool(x.loc["B", "overdue"])
    assert x.loc["C", "gap_reference"] == "population" and x.loc["C", "typical_gap_days"] == 10
    assert x.loc["C", "gap_ratio"] == pytest.approx(2.9) and x.loc["C", "risk_score"] == 1.0
    assert x.loc["A", "reasons"].startswith("overdue: 151 days since last order vs own typical gap 10 (15.1x)")
    assert x.loc["B", "reasons"] == "orders down 3 -> 1 (last 30 days vs the 30 before)"
    assert "platform-typical gap 10" in x.loc["C", "reasons"]


def test_all_customers_and_top(eng):
    allc = kpi.churn_risk(eng, AS_OF, RULES, all_customers=True).set_index("customer_id")
    assert set(allc.index) == {"A", "B", "C", "D", "E"}
    assert allc.loc["D", "risk_score"] == 0 and allc.loc["D", "n_warnings"] == 0
    assert allc.loc["E", "days_since_last"] == 545
    assert kpi.churn_risk(eng, AS_OF, RULES, top=1)["customer_id"].tolist() == ["C"]


def test_visit_time_falling_with_sessions():
    s = pd.DataFrame({"customer_id": ["B", "B", "B"],
                      "start": pd.to_datetime(["2024-05-10 10:00", "2024-05-20 10:00", "2024-06-25 10:00"]),
                      "duration": [200, 100, 60]})
    with kpi.load(_orders(), sessions=s) as e:
        x = kpi.churn_risk(e, AS_OF, RULES).set_index("customer_id")
        # B: visit time 300 s (previous) -> 60 s (recent): -80 % -> score 1; risk = mean(0, 1, 1)
        assert x.loc["B", "visit_time_change"] == pytest.approx(-0.8)
        assert x.loc["B", "risk_score"] == pytest.approx(2 / 3) and x.loc["B", "n_warnings"] == 2
        assert "visit time down 80% (5 -> 1 min)" in x.loc["B", "reasons"]
        # customers without sessions: no visit signal (NaN), never a warning
        assert np.isnan(x.loc["A", "visit_time_change"]) and not bool(x.loc["A", "visit_time_falling"])


class _Model:
    """Duck-typed fitted model: records what it is given."""

    def __init__(self):
        self.seen = None

    def p_alive(self, data):
        self.seen = data.set_index("customer_id")
        return 1.0 / (1.0 + data["T"] - data["recency"])


def test_p_alive_from_a_model_in_days_and_weeks(eng):
    m = _Model()
    x = kpi.churn_risk(eng, AS_OF, RULES, model=m, all_customers=True).set_index("customer_id")
    # A: 4 purchase days -> frequency 3; recency Jan 1 -> Jan 31 = 30; T = Jan 1 -> Jun 30 = 181
    assert m.seen.loc["A", ["frequency", "recency", "T"]].tolist() == [3, 30, 181]
    assert x.loc["A", "p_alive"] == pytest.approx(1 / 152)
    assert bool(x.loc["A", "low_p_alive"]) and "P(alive) 0.01" in x.loc["A", "reasons"]
    assert "E" not in m.seen.index                      # lost customers are not scored
    # A: scores overdue 1, P(alive) 1 - 1/152 -> mean
    assert x.loc["A", "risk_score"] == pytest.approx((1 + 1 - 1 / 152) / 2)
    mw = _Model()
    kpi.churn_risk(eng, AS_OF, RULES, model=mw, freq="W")
    assert mw.seen.loc["A", "T"] == pytest.approx(181 / 7)


def test_lifetimes_style_model():
    class LT:
        def conditional_probability_alive(self, frequency, recency, T):
            return np.full(len(frequency), 0.9)

    with kpi.load(_orders()) as e:
        x = kpi.churn_risk(e, AS_OF, RULES, model=LT(), all_customers=True)
        assert x["p_alive"].dropna().eq(0.9).all()


def test_rules_validated():
    with pytest.raises(ValueError):
        ChurnRules(overdue_ratio=1.0)
    with pytest.raises(ValueError):
        ChurnRules(frequency_drop=0)


# --------------------------------------------------------------------------- P(alive) without the BG/NBD artefact
@pytest.fixture(scope="module")
def cdnow_churn():
    from crm_research import clv

    o = clv.read_cdnow("tests/data/cdnow/CDNOW_sample.txt").reset_index(drop=True)
    o["order_id"] = range(len(o))
    cal = clv.rfm_summary(o, calibration_end="1997-09-30")
    with kpi.load(o) as e:
        default = kpi.churn_risk(e, "1997-09-30", all_customers=True)
        bg = kpi.churn_risk(e, "1997-09-30", all_customers=True, model=clv.fit_bgnbd(cal))
        pn = kpi.churn_risk(e, "1997-09-30", all_customers=True, model="pareto_nbd")
    return cal, default, bg, pn


def test_churn_default_p_alive_is_mbgnbd(cdnow_churn):
    from crm_research import clv

    cal, default, _, _ = cdnow_churn
    assert (default["p_alive_model"] == "MBG/NBD").all()
    assert "MBG/NBD" in default.attrs["p_alive_note"]
    # the same P(alive) as MBG/NBD fitted to clv.rfm_summary's calibration summary (weeks)
    ref = clv.fit_mbgnbd(cal).p_alive()
    got = default.set_index("customer_id")["p_alive"].reindex(ref.index)
    np.testing.assert_allclose(got.to_numpy(), ref.to_numpy(), rtol=1e-6, atol=1e-9)
    one = cal.set_index("customer_id")["frequency"].reindex(ref.index) == 0
    assert one.sum() == 1411 and (got[one] < 1).all()
    # one-time buyers who have gone quiet are flagged by P(alive): not possible with BG/NBD
    assert default.set_index("customer_id").loc[one[one].index, "low_p_alive"].any()


def test_churn_with_bgnbd_states_the_caveat(cdnow_churn):
    cal, _, bg, _ = cdnow_churn
    assert bg["p_alive_model"].str.startswith("BG/NBD (P(alive) = 1").all()
    assert "caveat" in bg.attrs["p_alive_note"] and "one-time buyers are never flagged" in bg.attrs["p_alive_note"]
    one = bg.merge(cal[["customer_id", "frequency"]], on="customer_id")
    one = one[one["frequency"] == 0]
    assert len(one) == 1411 and (one["p_alive"] == 1).all() and not one["low_p_alive"].any()


def test_churn_pareto_nbd_option(cdnow_churn):
    from crm_research import clv

    cal, _, _, pn = cdnow_churn
    assert (pn["p_alive_model"] == "Pareto/NBD").all()
    ref = clv.fit_pareto_nbd(cal).p_alive()
    got = pn.set_index("customer_id")["p_alive"].reindex(ref.index)
    np.testing.assert_allclose(got.to_numpy(), ref.to_numpy(), rtol=1e-6, atol=1e-9)


def test_churn_model_not_fitted_says_why(eng):
    x = kpi.churn_risk(eng, AS_OF, RULES, all_customers=True)
    assert x["p_alive"].isna().all()
    assert x["p_alive_model"].str.startswith("MBG/NBD not fitted").all()
    assert x.attrs["p_alive_note"].startswith("P(alive): MBG/NBD not fitted")
    none = kpi.churn_risk(eng, AS_OF, RULES, model=None, all_customers=True)
    assert none["p_alive_model"].isna().all() and none.attrs["p_alive_note"] == "P(alive): not computed."
    with pytest.raises(ValueError, match="model must be one of"):
        kpi.churn_risk(eng, AS_OF, RULES, model="bgnbd")


def test_frequency_is_not_scaled_to_weeks(eng):
    mw = _Model()
    kpi.churn_risk(eng, AS_OF, RULES, model=mw, freq="W")
    assert mw.seen.loc["A", "frequency"] == 3          # a count of repeat purchase days


def test_p_alive_note_from_the_engine_table():
    from crm_research import clv
    from crm_research.kpi.churn import churn_risk_table, p_alive_note

    o = clv.read_cdnow("tests/data/cdnow/CDNOW_sample.txt").reset_index(drop=True)
    o["order_id"] = range(len(o))
    with kpi.load(o) as e:
        t = churn_risk_table(e, "1997-09-30", top=50)
        assert p_alive_note(t).startswith("P(alive): MBG/NBD (no one-time-buyer artefact")
        df = e.execute(t.order_by("rank"))
    assert len(df) == 50 and (df["p_alive_model"] == "MBG/NBD").all() and df["p_alive"].notna().all()

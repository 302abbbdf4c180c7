"""Cohort retention on a hand-computed log."""
from __future__ import annotations

import pandas as pd
import pytest

from crm_research import kpi

# customer, date, amount
ROWS = [
    ("A", "2024-01-05", 10), ("A", "2024-02-10", 20), ("A", "2024-04-01", 30),
    ("B", "2024-01-20", 5), ("B", "2024-01-25", 5), ("B", "2024-03-03", 40),
    ("C", "2024-01-31", 7),
    ("D", "2024-02-01", 1), ("D", "2024-02-15", 2), ("D", "2024-03-20", 3),
    ("E", "2024-02-28", 100), ("E", "2024-04-30", 50),
]
# Cohorts: January = {A, B, C} (3), February = {D, E} (2).
# Jan cohort active: Jan {A,B,C}; Feb {A}; Mar {B}; Apr {A}      -> 3, 1, 1, 1
# Feb cohort active: Feb {D,E}; Mar {D}; Apr {E}                  -> 2, 1, 1
# Revenue Jan cohort: Jan 10+5+5+7 = 27 (4 orders); Feb 20; Mar 40; Apr 30
# Revenue Feb cohort: Feb 1+2+100 = 103 (3 orders); Mar 3; Apr 50


def _engine(rows=ROWS):
    df = pd.DataFrame(rows, columns=["customer_id", "timestamp", "amount"])
    df["order_id"] = range(1, len(df) + 1)
    df["timestamp"] = pd.to_datetime(df["timestamp"]) + pd.Timedelta(hours=12)
    return kpi.load(df)


@pytest.fixture(scope="module")
def eng():
    e = _engine()
    yield e
    e.close()


def test_monthly_cohort_table(eng):
    r = kpi.cohort_retention(eng, "month", as_of="2024-04-30")     # April is complete
    got = {(c.strftime("%Y-%m"), p): (n, a) for c, p, n, a in
           zip(r["cohort"], r["period"], r["cohort_size"], r["active_customers"])}
    assert got == {("2024-01", 0): (3, 3), ("2024-01", 1): (3, 1), ("2024-01", 2): (3, 1), ("2024-01", 3): (3, 1),
                   ("2024-02", 0): (2, 2), ("2024-02", 1): (2, 1), ("2024-02", 2): (2, 1)}
    jan = r[r["cohort"] == "2024-01-01"].set_index("period")
    assert jan["retention_rate"].tolist() == pytest.approx([1, 1 / 3, 1 / 3, 1 / 3])
    assert jan["revenue"].tolist() == pytest.approx([27, 20, 40, 30])
    assert jan["orders"].tolist() == [4, 1, 1, 1]
    assert jan.loc[0, "revenue_per_customer"] == pytest.approx(9.0)
    feb = r[r["cohort"] == "2024-02-01"].set_index("period")
    assert feb["revenue"].tolist() == pytest.approx([103, 3, 50])
    assert list(feb["period_start"].dt.strftime("%Y-%m")) == ["2024-02", "2024-03", "2024-04"]
    assert r["complete"].all()


def test_partial_period_is_censored_unless_asked(eng):
    # on April 29 April has not ended: Jan period 3 and Feb period 2 are not reported
    r = kpi.cohort_retention(eng, "month", as_of="2024-04-29")
    assert set(zip(r["cohort"].dt.month, r["period"])) == {(1, 0), (1, 1), (1, 2), (2, 0), (2, 1)}
    rp = kpi.cohort_retention(eng, "month", as_of="2024-04-29", include_partial=True)
    part = rp[~rp["complete"]]
    # A bought on April 1 (inside the window); E's April 30 order is after as_of
    assert set(zip(part["cohort"].dt.month, part["period"], part["active_customers"])) == {(1, 3, 1), (2, 2, 0)}


def test_wide_matrix(eng):
    r = kpi.cohort_retention(eng, "month", as_of="2024-04-30")
    m = kpi.retention_matrix(r)
    assert m.shape == (2, 4)
    assert m.loc[(pd.Timestamp("2024-02-01"), 2), 1] == pytest.approx(0.5)
    assert pd.isna(m.loc[(pd.Timestamp("2024-02-01"), 2), 3])         # not observable
    counts = kpi.retention_matrix(r, "active_customers")
    assert counts.loc[(pd.Timestamp("2024-01-01"), 3)].tolist() == [3, 1, 1, 1]


def test_n_period_retention(eng):
    n = kpi.n_period_retention(eng, (1, 2, 3), "month", as_of="2024-04-30").set_index("n")
    # n=1: cohorts Jan+Feb (5 customers), active in period 1: A and D -> 2/5;
    #      active in period 1 or later: A, B, D, E -> 4/5
    assert n.loc[1, ["customers", "retained"]].tolist() == [5, 2]
    assert n.loc[1, "retention_rate"] == pytest.approx(0.4)
    assert n.loc[1, "rolling_retention_rate"] == pytest.approx(0.8)
    # n=2: both cohorts; B (Jan+2) and E (Feb+2) -> 2/5; later-or-equal: A (k=3), B, E -> 3/5
    assert n.loc[2, "retention_rate"] == pytest.approx(0.4)
    assert n.loc[2, "rolling_retention_rate"] == pytest.approx(0.6)
    # n=3: only January is observed that long; A -> 1/3
    assert n.loc[3, ["cohorts", "customers", "retained"]].tolist() == [1, 3, 1]
    assert n.loc[3, "retention_rate"] == pytest.approx(1 / 3)


def test_weekly_cohorts_start_on_monday():
    # 2024-01-01 is a Monday. A: Tue Jan 2 and Tue Jan 9; B: Sun Jan 7 and Mon Jan 8.
    rows = [("A", "2024-01-02", 1), ("A", "2024-01-09", 1), ("B", "2024-01-07", 1), ("B", "2024-01-08", 1)]
    with _engine(rows) as e:
        r = kpi.cohort_retention(e, "week", as_of="2024-01-14")   # Sunday: week 2 complete
        assert r["cohort"].tolist() == [pd.Timestamp("2024-01-01")] * 2
        assert r["active_customers"].tolist() == [2, 2] and r["retention_rate"].tolist() == [1.0, 1.0]
        r13 = kpi.cohort_retention(e, "week", as_of="2024-01-13")   # Saturday: week 2 still running
        assert r13["period"].tolist() == [0]


def test_heatmap_returns_axes(eng):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ax = kpi.cohort_heatmap(kpi.cohort_retention(eng, "month", as_of="2024-04-30"))
    assert ax.get_ylabel() == "acquisition cohort"
    assert len(ax.get_yticklabels()) == 2 and "n=3" in ax.get_yticklabels()[0].get_text()
    plt.close(ax.figure)


def test_bad_period_is_a_config_error(eng):
    from crm_research.errors import ConfigError

    with pytest.raises(ConfigError, match="period"):
        kpi.cohort_retention(eng, "quarter")

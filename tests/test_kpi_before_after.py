"""Before/after windows and the before/after KPI comparison (kpi.before_after), the logic
notebook 07 used to carry in a cell: windows against hand-worked dates, per-customer measures
against pandas on the raw orders, tests against scipy / statsmodels."""
from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from crm_research import kpi
from crm_research.errors import ConfigError
from crm_research.kpi.before_after import BeforeAfter, before_after_kpis, before_after_periods, period_buyers


# --------------------------------------------------------------------------- windows
def test_default_windows_split_the_last_364_days():
    w = before_after_periods("2023-12-31")
    # after: 182 days ending 2023-12-31 -> starts 2023-07-03; before: the 182 days before
    assert (w.after_start, w.after_end) == (dt.date(2023, 7, 3), dt.date(2023, 12, 31))
    assert (w.before_start, w.before_end) == (dt.date(2023, 1, 2), dt.date(2023, 7, 2))
    assert w.days == (182, 182)


def test_given_bounds_win_and_the_rest_follow():
    w = before_after_periods("2023-12-31", after_start="2023-11-01", after_end="2023-11-30")
    assert (w.before_start, w.before_end) == (dt.date(2023, 10, 2), dt.date(2023, 10, 31))
    w = before_after_periods(dt.date(2023, 12, 31), before_start="2023-01-01", before_end="2023-03-31",
                             after_start="2023-10-01")
    assert w.label("before") == "2023-01-01 – 2023-03-31" and w.label("after") == "2023-10-01 – 2023-12-31"


def test_around_a_strategy_date():
    w = BeforeAfter.around("2024-03-01", days=29)          # leap year: February has 29 days
    assert (w.before_start, w.before_end, w.after_start, w.after_end) == (
        dt.date(2024, 2, 1), dt.date(2024, 2, 29), dt.date(2024, 3, 1), dt.date(2024, 3, 29))


@pytest.mark.parametrize("kwargs, field", [
    (dict(after_start="2023-12-01", after_end="2023-11-01"), "after_end"),
    (dict(before_start="2023-06-01", before_end="2023-05-01"), "before_end"),
    (dict(before_end="2023-08-01"), "before_end"),                 # overlaps the default after window
])
def test_bad_windows_name_the_bound(kwargs, field):
    with pytest.raises(ConfigError) as e:
        before_after_periods("2023-12-31", **kwargs)
    assert field in str(e.value)


@pytest.mark.parametrize("days", [0, -3, 2.5, "x", True])
def test_bad_days(days):
    with pytest.raises(ConfigError, match="days"):
        before_after_periods("2023-12-31", days=days)


def test_bad_date():
    with pytest.raises(ConfigError, match="after_start"):
        before_after_periods("2023-12-31", after_start="not a date")


# --------------------------------------------------------------------------- measures and tests
@pytest.fixture(scope="module")
def log():
    rng = np.random.default_rng(7)
    rows, oid = [], 0
    for c in range(300):
        first = dt.date(2023, 1, 1) + dt.timedelta(days=int(rng.integers(0, 300)))
        n = 1 + int(rng.poisson(2.0))
        for k in range(n):
            d = first + dt.timedelta(days=int(k * rng.integers(5, 60)))
            if d > dt.date(2023, 12, 31):
                break
            rows.append((c, oid, pd.Timestamp(d) + pd.Timedelta(hours=int(rng.integers(0, 23))),
                         float(np.round(rng.gamma(2.0, 20.0), 2))))
            oid += 1
    return pd.DataFrame(rows, columns=["customer_id", "order_id", "timestamp", "amount"])


@pytest.fixture(scope="module")
def eng(log):
    return kpi.load(log)


def _pandas_buyers(log, start, end):
    d = log["timestamp"].dt.date
    first = log.groupby("customer_id")["timestamp"].min().dt.date
    w = log[(d >= start) & (d <= end)]
    g = w.groupby("customer_id").agg(orders=("order_id", "nunique"), spend=("amount", "sum"))
    g["returning"] = (first.reindex(g.index) < start).astype(int)
    g["repeat"] = (g["orders"] >= 2).astype(int)
    g["aov"] = g["spend"] / g["orders"]
    return g


def test_period_buyers_match_pandas(eng, log):
    s, e = dt.date(2023, 7, 1), dt.date(2023, 9, 30)
    got = period_buyers(eng, s, e).set_index("customer_id")
    want = _pandas_buyers(log, s, e)
    assert list(got.index) == list(want.index)
    for col in ("orders", "returning", "repeat"):
        assert got[col].tolist() == want[col].tolist()
    np.testing.assert_allclose(got["spend"], want["spend"], rtol=1e-12)
    np.testing.assert_allclose(got["aov"], want["aov"], rtol=1e-12)


def test_before_after_against_scipy_and_statsmodels(eng, log):
    from scipy import stats

    w = before_after_periods("2023-12-31", days=91)
    t = before_after_kpis(eng, w, alpha=0.10)
    assert list(t.columns) == ["kpi", "before", "after", "diff", "ci.lower", "ci.upper", "test", "pvalue",
                               "effect_size", "effect"]
    assert t.attrs["ci.level"] == pytest.approx(0.90)
    B = _pandas_buyers(log, w.before_start, w.before_end)
    A = _pandas_buyers(log, w.after_start, w.after_end)
    assert (t.attrs["n_before"], t.attrs["n_after"]) == (len(B), len(A))
    rep = t.set_index("kpi").loc["Repeat buyers (2+ orders in the period)"]
    assert rep["before"] == pytest.approx(B["repeat"].mean()) and rep["after"] == pytest.approx(A["repeat"].mean())
    assert rep["diff"] == pytest.approx(A["repeat"].mean() - B["repeat"].mean())
    assert rep["ci.lower"] < rep["diff"] < rep["ci.upper"] and rep["effect"] == "lift"
    assert rep["effect_size"] == pytest.approx(A["repeat"].mean() / B["repeat"].mean() - 1)
    aov = t.set_index("kpi").loc["Average order value"]
    assert aov["diff"] == pytest.approx(A["aov"].mean() - B["aov"].mean())
    assert min(len(A), len(B)) >= 30 and aov["test"].startswith("Welch")     # n >= 30 per arm: Welch
    assert aov["pvalue"] == pytest.approx(stats.ttest_ind(A["aov"], B["aov"], equal_var=False).pvalue, rel=1e-6)
    assert aov["effect"] == "g"
    # no session log: no visit-time row
    assert "Visit time per visitor (s)" not in set(t["kpi"])
    assert t["pvalue"].between(0, 1).all()


def test_before_after_rejects_bad_arguments(eng):
    with pytest.raises(ConfigError, match="periods"):
        before_after_kpis(eng, ("2023-01-01", "2023-02-01"))
    with pytest.raises(ConfigError, match="alpha"):
        before_after_kpis(eng, before_after_periods("2023-12-31"), alpha=5)
    with pytest.raises(ConfigError, match="session"):
        before_after_kpis(eng, before_after_periods("2023-12-31"), sessions=True)

"""Tests for crm_research.clv: RFM summary from raw orders, BG/NBD, Pareto/NBD, Gamma-Gamma,
CLV, calibration/holdout, and the ``crm-research clv`` command.

The CDNOW replication starts from the raw transaction file tests/data/cdnow/CDNOW_sample.txt
(see its README) and checks the published estimates to their published decimals.
"""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from crm_research import clv
from crm_research.errors import ConfigError, CRMResearchError, DataFileError, ModelError

CDNOW = Path(__file__).parent / "data" / "cdnow" / "CDNOW_sample.txt"
CAL_END, OBS_END = "1997-09-30", "1998-06-30"


def close_to_published(value: float, published: str) -> bool:
    """True when ``value`` rounds to ``published`` (tolerance half a unit of its last digit)."""
    decimals = len(published.split(".")[1]) if "." in published else 0
    return abs(value - float(published)) <= 0.5 * 10.0 ** -decimals + 1e-12


# --------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def cdnow_orders():
    return clv.read_cdnow(CDNOW)


@pytest.fixture(scope="module")
def cdnow(cdnow_orders):
    return clv.rfm_summary(cdnow_orders, calibration_end=CAL_END, observation_end=OBS_END, freq="W")


@pytest.fixture(scope="module")
def bg(cdnow):
    return clv.fit_bgnbd(cdnow)


@pytest.fixture(scope="module")
def pn(cdnow):
    return clv.fit_pareto_nbd(cdnow)


@pytest.fixture(scope="module")
def gg(cdnow):
    return clv.fit_gamma_gamma(cdnow)


@pytest.fixture(scope="module")
def lifetimes():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import lifetimes as lt
        from lifetimes import datasets  # noqa: F401  (imports pkg_resources)
    return lt


def lifetimes_file(name: str) -> Path:
    from crm_research.clv import cdnow_sample_path

    p = cdnow_sample_path().parent / name
    if not p.exists():
        pytest.skip(f"{name} not shipped by this lifetimes version")
    return p


# --------------------------------------------------------------------------- rfm_summary
@pytest.fixture()
def tiny_orders():
    # hand-built log; calibration ends 2024-01-10, holdout ends 2024-01-15
    return pd.DataFrame({
        "cust": ["A", "A", "A", "A", "A", "A", "B", "B", "B", "C", "C", "D"],
        "when": ["2024-01-01 09:00", "2024-01-01 15:30", "2024-01-04 12:00", "2024-01-10 23:59",
                 "2024-01-12 08:00", "2024-01-15 20:00",
                 "2024-01-03 10:00", "2024-01-13 10:00", "2024-01-13 18:00",
                 "2024-01-05 10:00", "2024-01-05 11:00",
                 "2024-01-11 10:00"],
        "value": [10.0, 5.0, 20.0, 30.0, 8.0, 12.0, 7.0, 9.0, 9.0, 3.0, 4.0, 50.0],
    })


def test_rfm_summary_by_hand_days(tiny_orders):
    s = clv.rfm_summary(tiny_orders, "cust", "when", "value", calibration_end="2024-01-10",
                        observation_end="2024-01-15", freq="D")
    # D's first purchase is after the calibration end: not in the cohort
    assert s["customer_id"].tolist() == ["A", "B", "C"]
    # A: purchase days 01-01 (two orders, one purchase), 01-04, 01-10 -> 2 repeats
    assert s["frequency"].tolist() == [2, 0, 0]
    assert s["recency"].tolist() == [9.0, 0.0, 0.0]
    assert s["T"].tolist() == [9.0, 7.0, 5.0]
    # mean of the repeat purchases only: (20 + 30) / 2; C's two same-day orders are its first purchase
    assert s["monetary_value"].tolist() == [25.0, 0.0, 0.0]
    # holdout: A 01-12 and 01-15 (mean 10), B two orders on 01-13 = one purchase of 18
    assert s["frequency_holdout"].tolist() == [2, 1, 0]
    assert s["monetary_holdout"].tolist() == [10.0, 18.0, 0.0]
    assert s["duration_holdout"].tolist() == [5.0, 5.0, 5.0]
    assert s.attrs["n_customers_after_calibration"] == 1
    assert s["first_purchase"].dt.strftime("%Y-%m-%d").tolist() == ["2024-01-01", "2024-01-03", "2024-01-05"]


def test_rfm_summary_weeks_and_no_holdout(tiny_orders):
    s = clv.rfm_summary(tiny_orders, "cust", "when", "value", calibration_end="2024-01-10", freq="W")
    np.testing.assert_allclose(s["recency"], [9 / 7, 0, 0])
    np.testing.assert_allclose(s["T"], [9 / 7, 1.0, 5 / 7])
    assert "frequency_holdout" not in s.columns


def test_rfm_summary_duckdb_relation_matches_dataframe(tiny_orders):
    import duckdb

    con = duckdb.connect()
    rel = con.from_df(tiny_orders)
    a = clv.rfm_summary(tiny_orders, "cust", "when", "value", calibration_end="2024-01-10",
                        observation_end="2024-01-15", freq="D")
    b = clv.rfm_summary(rel, "cust", "when", "value", calibration_end="2024-01-10",
                        observation_end="2024-01-15", freq="D")
    pd.testing.assert_frame_equal(a, b)


def test_cdnow_summary_matches_fader_hardie_cbs(cdnow):
    """The summary built from the raw file equals Fader & Hardie's own CBS (as shipped by lifetimes,
    t_x and T rounded to 2 decimals there)."""
    assert len(cdnow) == 2357
    ref = pd.read_csv(lifetimes_file("cdnow_customers_summary_with_transactions.csv"))
    m = cdnow.merge(ref, left_on="customer_id", right_on="ID", validate="1:1")
    assert len(m) == 2357
    assert (m["frequency"] == m["x"]).all()
    np.testing.assert_allclose(m["recency"], m["t_x"], atol=0.005 + 1e-9)
    np.testing.assert_allclose(m["T_x"], m["T_y"], atol=0.005 + 1e-9)
    np.testing.assert_allclose(m["monetary_value"], m["zbar"], atol=0.005 + 1e-9)
    assert (cdnow["frequency"] > 0).sum() == 946
    assert (cdnow["duration_holdout"] == 39.0).all()


# --------------------------------------------------------------------------- CDNOW replication
def test_bgnbd_reproduces_fader_hardie_lee_2005(bg):
    published = {"r": "0.243", "alpha": "4.414", "a": "0.793", "b": "2.426"}
    for name, value in published.items():
        assert close_to_published(bg.params[name], value), (name, bg.params[name], value)
    assert close_to_published(bg.loglik, "-9582.4")
    assert bg.n == 2357 and bg.converged


def test_pareto_nbd_reproduces_published(pn):
    published = {"r": "0.553", "alpha": "10.578", "s": "0.606", "beta": "11.669"}
    for name, value in published.items():
        assert close_to_published(pn.params[name], value), (name, pn.params[name], value)
    assert pn.n == 2357 and pn.converged


def test_gamma_gamma_reproduces_fader_hardie_2013(gg):
    published = {"p": "6.25", "q": "3.74", "gamma": "15.44"}
    for name, value in published.items():
        assert close_to_published(gg.params[name], value), (name, gg.params[name], value)
    assert gg.n == 946 and gg.n_excluded == 2357 - 946 and gg.converged


def test_gamma_gamma_expected_spend_matches_hardie_spreadsheet(gg, cdnow):
    # first ten customers, from the spreadsheet accompanying Fader & Hardie (2013), note 025
    expected = [24.65, 18.91, 35.17, 35.17, 35.17, 71.46, 18.91, 35.17, 27.28, 35.17]
    got = gg.conditional_expected_spend(cdnow.head(10)).to_numpy()
    np.testing.assert_allclose(got, expected, atol=0.005)


def test_bgnbd_conditional_expectation_matches_excel_note(bg):
    # Fader, Hardie & Lee's Excel note (brucehardie.com/notes/004): customer with x=2,
    # t_x=30.43, T=38.86 is expected to make 1.226 purchases in the next 39 weeks
    params = (0.243, 4.414, 0.793, 2.426)
    assert abs(clv.bgnbd_conditional_expected(params, 39, 2, 30.43, 38.86) - 1.226) < 5e-4
    one = pd.DataFrame({"customer_id": [1], "frequency": [2], "recency": [30.43], "T": [38.86]})
    assert abs(bg.conditional_expected_purchases(39, one).iloc[0] - 1.226) < 5e-4


def test_bgnbd_expected_purchases_match_excel_sheet():
    # The Excel workbook is fitted to the CBS with t_x, T rounded to 2 decimals; fit to the same data.
    ref = pd.read_csv(lifetimes_file("cdnow_customers_summary.csv"))
    fit = clv.fit_bgnbd(ref.rename(columns={"ID": "customer_id"}))
    t = [1 / 7, 1.0, 3.0, 31 + 6 / 7, 32.0, 78.0]
    excel = [0.0078, 0.0532, 0.1506, 1.0405, 1.0437, 1.8576]
    # The last value differs by 4e-4: the workbook's series for 2F1 at z = 0.95 (t = 78) is
    # short of its limit; the closed form is checked against quadrature below.
    np.testing.assert_allclose(fit.expected_purchases(t), excel, atol=5e-4)


def test_bgnbd_expected_equals_quadrature():
    from scipy import integrate, stats

    r, alpha, a, b = params = (0.242593, 4.413532, 0.792886, 2.425752)
    for t in (1.0, 39.0, 78.0, 500.0):
        # E[X(t)] = E_p[(1 - (alpha/(alpha + p t))^r) / p], p ~ Beta(a, b)  (FHL 2005, eqs. 7-9)
        f = lambda p: (1 - (alpha / (alpha + p * t)) ** r) / p * stats.beta.pdf(p, a, b)  # noqa: E731
        ref = integrate.quad(f, 0, 1, epsabs=1e-13, epsrel=1e-12, limit=200)[0]
        assert clv.bgnbd_expected(params, t) == pytest.approx(ref, rel=1e-9)


def test_pareto_nbd_matches_btyd_walkthrough():
    # BTYD walkthrough (McCarthy & Wadsworth 2014), customer 1516: x=26, t_x=30.86, T=31
    params = (0.5534, 10.5802, 0.6061, 11.6562)
    assert abs(clv.pnbd_p_alive(params, 26, 30.86, 31) - 0.9979) < 5e-5
    assert abs(clv.pnbd_conditional_expected(params, 52, 26, 30.86, 31) - 25.46) < 0.01


def test_pareto_nbd_likelihood_equals_its_defining_integral():
    from scipy import integrate
    from scipy.special import gammaln

    def by_integral(p, x, tx, T):
        # L = Gamma(r+x) a^r b^s / Gamma(r) [ (a+T)^-(r+x) (b+T)^-s + s int_tx^T (a+y)^-(r+x) (b+y)^-(s+1) dy ]
        r, a, s, b = p
        I = integrate.quad(lambda y: (a + y) ** -(r + x) * (b + y) ** -(s + 1), tx, T,
                           epsabs=0, epsrel=1e-13, limit=200)[0]
        return gammaln(r + x) - gammaln(r) + r * np.log(a) + s * np.log(b) + np.log(
            (a + T) ** -(r + x) * (b + T) ** -s + s * I)

    for p in [(0.55, 10.58, 0.61, 11.67), (0.55, 10.58, 0.61, 2.0), (2.0, 1.0, 3.0, 40.0), (0.3, 50.0, 1.5, 0.5)]:
        for x, tx, T in [(0, 0, 38.86), (2, 30.43, 38.86), (10, 5.0, 38.0), (25, 37.9, 38.0)]:
            assert clv.pnbd_loglik(p, x, tx, T) == pytest.approx(by_integral(p, x, tx, T), abs=1e-10)


def test_pareto_nbd_stable_for_heavy_buyers():
    p = (0.55, 10.58, 0.61, 11.67)
    ll = clv.pnbd_loglik(p, [500, 2000], [70, 70], [78, 78])
    pa = clv.pnbd_p_alive(p, [500, 2000], [77.9, 70], [78, 78])
    assert np.all(np.isfinite(ll)) and np.all((pa >= 0) & (pa <= 1)) and pa[0] > 0.99
    # a small change of input must not jump (lifetimes issue: underflow at x ~ 130)
    a = clv.pnbd_conditional_expected(p, 10, 132, 200, 200)
    b = clv.pnbd_conditional_expected(p, 10, 133, 200, 200)
    assert np.isfinite(a) and abs(a - b) < 0.05
    big = clv.bgnbd_conditional_expected((0.243, 4.414, 0.793, 2.426), 52, 300, 38.0, 38.9)
    assert np.isfinite(big) and big > 100


def test_fits_do_not_depend_on_start_values(cdnow, bg, pn, gg):
    bg2 = clv.fit_bgnbd(cdnow, start=(0.5, 10.0, 2.0, 5.0))
    pn2 = clv.fit_pareto_nbd(cdnow, start=(0.2, 3.0, 2.0, 30.0))
    gg2 = clv.fit_gamma_gamma(cdnow, start=(2.0, 2.0, 50.0))
    for a, b in [(bg, bg2), (pn, pn2), (gg, gg2)]:
        np.testing.assert_allclose(a.params, b.params, rtol=1e-5)
        assert a.loglik == pytest.approx(b.loglik, abs=1e-8)


def test_fit_measures_and_printing(bg):
    fm = bg.fit_measures
    assert fm["npar"] == 4 and fm["ntotal"] == 2357
    assert fm["aic"] == pytest.approx(-2 * bg.loglik + 8)
    assert fm["bic"] == pytest.approx(-2 * bg.loglik + 4 * np.log(2357))
    est = bg.estimates
    assert list(est.columns) == ["model", "param", "est", "se", "ci.lower", "ci.upper"]
    assert (est["ci.lower"] < est["est"]).all() and (est["est"] < est["ci.upper"]).all()
    text = bg.summary()
    assert "BG/NBD" in text and "alpha" in text and "-9582.43" in text
    assert "<table>" in bg._repr_html_()


# --------------------------------------------------------------------------- cross-check with lifetimes
def test_agrees_with_lifetimes(lifetimes, cdnow, bg, pn, gg):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lbg = lifetimes.BetaGeoFitter().fit(cdnow["frequency"], cdnow["recency"], cdnow["T"])
        rep = cdnow[cdnow["frequency"] > 0]
        lgg = lifetimes.GammaGammaFitter().fit(rep["frequency"], rep["monetary_value"])
        # estimates: lifetimes stops its optimizer earlier; agree to 4 significant digits
        np.testing.assert_allclose(bg.params, lbg.params_[["r", "alpha", "a", "b"]], rtol=2e-4)
        np.testing.assert_allclose(gg.params, lgg.params_[["p", "q", "v"]], rtol=2e-4)
        # standard errors from the Hessian
        np.testing.assert_allclose(bg.se, lbg.summary["se(coef)"], rtol=2e-3)
        # predictions: identical formulas given identical parameters
        lbg.params_ = pd.Series(bg.params.to_dict())
        lpn = lifetimes.ParetoNBDFitter()
        lpn.params_ = pd.Series(pn.params.to_dict())
        f, r, T = cdnow["frequency"], cdnow["recency"], cdnow["T"]
        np.testing.assert_allclose(bg.p_alive(cdnow), lbg.conditional_probability_alive(f, r, T), atol=1e-12)
        np.testing.assert_allclose(bg.conditional_expected_purchases(39, cdnow),
                                   lbg.conditional_expected_number_of_purchases_up_to_time(39, f, r, T),
                                   rtol=1e-10)
        np.testing.assert_allclose(pn.p_alive(cdnow), lpn.conditional_probability_alive(f, r, T), atol=1e-12)
        np.testing.assert_allclose(pn.conditional_expected_purchases(39, cdnow),
                                   lpn.conditional_expected_number_of_purchases_up_to_time(39, f, r, T),
                                   rtol=1e-10)
        lbg.predict = lbg.conditional_expected_number_of_purchases_up_to_time
        lgg.params_ = pd.Series({"p": gg.params["p"], "q": gg.params["q"], "v": gg.params["gamma"]})
        ref = lgg.customer_lifetime_value(lbg, f, r, T, cdnow["monetary_value"], time=12,
                                          discount_rate=0.01, freq="W")
    ours = clv.customer_lifetime_value(bg, gg, cdnow, horizon=12, discount_rate=0.01)
    np.testing.assert_allclose(ours["clv"], ref.to_numpy(), rtol=1e-9)


# --------------------------------------------------------------------------- theory
def test_bgnbd_p_alive_is_one_without_repeat_purchases(bg):
    d = pd.DataFrame({"customer_id": [1, 2, 3], "frequency": [0, 0, 0], "recency": [0.0, 0.0, 0.0],
                      "T": [1.0, 20.0, 78.0]})
    assert (bg.p_alive(d) == 1.0).all()


def test_predictions_are_monotone_where_theory_says_so(bg, pn):
    ts = np.linspace(0, 200, 81)
    for m in (bg, pn):
        e = m.expected_purchases(ts)
        assert e[0] == 0 and np.all(np.diff(e) > 0)
        # more recent last purchase -> more likely alive and more future purchases
        d = pd.DataFrame({"customer_id": range(20), "frequency": 3, "recency": np.linspace(1, 38, 20), "T": 38.0})
        assert np.all(np.diff(m.p_alive(d)) > 0)
        assert np.all(np.diff(m.conditional_expected_purchases(39, d)) > 0)
        # longer silence since the last purchase -> less likely alive
        d = pd.DataFrame({"customer_id": range(20), "frequency": 3, "recency": 10.0, "T": np.linspace(11, 78, 20)})
        assert np.all(np.diff(m.p_alive(d)) < 0)
        # more purchases with the last one at the end of the period -> more future purchases
        d = pd.DataFrame({"customer_id": range(10), "frequency": range(10), "recency": [0.0] + [38.0] * 9, "T": 38.0})
        assert np.all(np.diff(m.conditional_expected_purchases(39, d)) > 0)
        # expected purchases grow with the horizon
        one = d.iloc[[3]]
        e = [m.conditional_expected_purchases(t, one).iloc[0] for t in (1, 10, 39, 100)]
        assert np.all(np.diff(e) > 0)
        pa = m.p_alive()
        assert ((pa >= 0) & (pa <= 1)).all()


def test_clv_by_hand_and_monotone(bg, gg, cdnow):
    v = clv.customer_lifetime_value(bg, gg, cdnow, horizon=3, discount_rate=0.1)
    one = cdnow.iloc[[0]]
    L = 4.345
    cum = [bg.conditional_expected_purchases(k * L, one).iloc[0] for k in (0, 1, 2, 3)]
    spend = gg.params["p"] * (gg.params["gamma"] + one["frequency"].iloc[0] * one["monetary_value"].iloc[0]) / (
        gg.params["p"] * one["frequency"].iloc[0] + gg.params["q"] - 1)
    by_hand = sum(spend * (cum[k] - cum[k - 1]) / 1.1 ** k for k in (1, 2, 3))
    assert v["clv"].iloc[0] == pytest.approx(by_hand, rel=1e-12)
    assert v["expected_purchases"].iloc[0] == pytest.approx(cum[3], rel=1e-12)
    lo = clv.customer_lifetime_value(bg, gg, cdnow, horizon=12, discount_rate=0.0)["clv"]
    hi = clv.customer_lifetime_value(bg, gg, cdnow, horizon=12, discount_rate=0.05)["clv"]
    longer = clv.customer_lifetime_value(bg, gg, cdnow, horizon=24, discount_rate=0.05)["clv"]
    assert (lo > hi).all() and (longer > hi).all()
    assert list(v.columns) == ["customer_id", "frequency", "recency", "T", "monetary_value", "p_alive",
                               "expected_purchases", "expected_spend", "clv"]


# --------------------------------------------------------------------------- holdout and tracking
def test_calibration_holdout_table_and_plot(bg, pn, cdnow):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = clv.calibration_holdout([bg, pn], cdnow)
    assert list(t["frequency_calibration"].cat.categories) == ["0", "1", "2", "3", "4", "5", "6", "7+"]
    actual = t[t["series"] == "actual"]
    assert actual["n_customers"].sum() == 2357
    # actual means recomputed directly from the summary
    x = np.minimum(cdnow["frequency"], 7)
    np.testing.assert_allclose(actual["holdout_purchases"],
                               cdnow.groupby(x)["frequency_holdout"].mean().to_numpy())
    pred = t[t["series"] == "BG/NBD"]["holdout_purchases"].to_numpy()
    assert np.all(np.diff(pred) > 0)
    ax = clv.plot_calibration_holdout(t)
    assert isinstance(ax, matplotlib.axes.Axes) and len(ax.get_lines()) == 3
    plt.close(ax.figure)


def test_tracking_is_consistent_with_summary(cdnow_orders, cdnow, bg):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tr = clv.repeat_purchase_tracking(cdnow_orders, bg, calibration_end=CAL_END, observation_end=OBS_END)
    assert tr.attrs["calibration_period"] == 39
    act = tr[tr["series"] == "actual"].set_index("period")
    exp = tr[tr["series"] == "BG/NBD"].set_index("period")
    assert len(act) == 78 and act.index.min() == 1
    # cumulative actual at the end of week 39 / 78 equals the summary's repeat purchases
    assert act.loc[39, "cumulative_repeat_purchases"] == cdnow["frequency"].sum()
    assert act.loc[78, "cumulative_repeat_purchases"] == cdnow["frequency"].sum() + cdnow["frequency_holdout"].sum()
    # expected cumulative at the calibration end is sum_i E[X(T_i)]: same time convention as the fit
    assert exp.loc[39, "cumulative_repeat_purchases"] == pytest.approx(
        bg.expected_purchases(cdnow["T"].to_numpy()).sum(), rel=1e-12)
    ax = clv.plot_tracking(tr)
    assert isinstance(ax, matplotlib.axes.Axes)
    plt.close(ax.figure)


# --------------------------------------------------------------------------- bad input
def test_negative_amount_names_row_and_value(tiny_orders):
    bad = tiny_orders.copy()
    bad.loc[2, "value"] = -20.0
    with pytest.raises(DataFileError) as e:
        clv.rfm_summary(bad, "cust", "when", "value", calibration_end="2024-01-10", source="orders.csv")
    msg = str(e.value)
    assert "orders.csv" in msg and "row 4" in msg and "'value'" in msg and "-20.0" in msg and "negative" in msg
    assert "\n" not in msg


def test_unparseable_timestamp_and_missing_column(tiny_orders):
    bad = tiny_orders.copy()
    bad.loc[5, "when"] = "not a date"
    with pytest.raises(DataFileError, match=r"row 7, column 'when', value 'not a date'"):
        clv.rfm_summary(bad, "cust", "when", "value", calibration_end="2024-01-10")
    with pytest.raises(DataFileError, match=r"missing column\(s\) \['amount'\]"):
        clv.rfm_summary(tiny_orders, "cust", "when", calibration_end="2024-01-10")


def test_calibration_end_outside_data(tiny_orders):
    kw = dict(customer_col="cust", datetime_col="when", monetary_col="value")
    with pytest.raises(DataFileError, match="calibration_end 2023-12-31 lies outside the orders"):
        clv.rfm_summary(tiny_orders, calibration_end="2023-12-31", **kw)
    with pytest.raises(DataFileError, match="lies outside the orders, which run from 2024-01-01 to 2024-01-15"):
        clv.rfm_summary(tiny_orders, calibration_end="2024-02-01", **kw)
    with pytest.raises(DataFileError, match="observation_end 2024-03-01 is after the last order day"):
        clv.rfm_summary(tiny_orders, calibration_end="2024-01-10", observation_end="2024-03-01", **kw)
    with pytest.raises(ConfigError, match="not after calibration_end"):
        clv.rfm_summary(tiny_orders, calibration_end="2024-01-10", observation_end="2024-01-05", **kw)
    with pytest.raises(ConfigError, match="unknown time unit"):
        clv.rfm_summary(tiny_orders, calibration_end="2024-01-10", freq="M", **kw)


def test_gamma_gamma_needs_repeat_customers_with_positive_spend(tiny_orders):
    s = clv.rfm_summary(tiny_orders, "cust", "when", "value", calibration_end="2024-01-10", freq="D")
    none = s.assign(frequency=0, recency=0.0, monetary_value=0.0)
    with pytest.raises(ModelError, match="no customer has a repeat purchase"):
        clv.fit_gamma_gamma(none)
    negative = pd.DataFrame({"customer_id": [1, 2, 3, 4], "frequency": [1, 2, 3, 1],
                             "monetary_value": [10.0, -1.0, 5.0, 7.0]})
    with pytest.raises(DataFileError, match=r"row 3, column .monetary_value., value -1.0: must be a finite number >= 0"):
        clv.fit_gamma_gamma(negative)
    all_zero = pd.DataFrame({"customer_id": [1, 2], "frequency": [1, 2], "monetary_value": [0.0, 0.0]})
    with pytest.raises(ModelError, match="all 2 customers with repeat purchases have mean repeat spend 0"):
        clv.fit_gamma_gamma(all_zero)


def test_gamma_gamma_leaves_out_zero_spend_customers_and_counts_them():
    rng = np.random.default_rng(7)
    n = 200
    d = pd.DataFrame({"customer_id": np.arange(n), "frequency": rng.integers(0, 6, n),
                      "monetary_value": rng.gamma(4.0, 10.0, n).round(2)})
    d.loc[d["frequency"] == 0, "monetary_value"] = 0.0
    zero_ids = d.index[d["frequency"] > 0][:3]
    with_zero = d.copy()
    with_zero.loc[zero_ids, "monetary_value"] = 0.0
    gg = clv.fit_gamma_gamma(with_zero)
    ref = clv.fit_gamma_gamma(d.drop(index=zero_ids))      # the same customers, the zero ones absent
    assert gg.n_zero_spend == 3 and ref.n_zero_spend == 0
    assert gg.n == ref.n and gg.n_excluded == ref.n_excluded
    np.testing.assert_allclose(gg.params.to_numpy(), ref.params.to_numpy(), rtol=1e-8)
    assert "mean repeat spend 0" in gg.summary()
    # their expected spend is still given (shrunk towards the population mean, finite)
    spend = gg.conditional_expected_spend(with_zero)
    assert spend.loc[zero_ids.to_numpy()].between(0, gg.population_mean_spend).all()


def test_inconsistent_summary_is_rejected():
    d = pd.DataFrame({"customer_id": [1, 2], "frequency": [1, 0], "recency": [5.0, 0.0], "T": [4.0, 3.0]})
    with pytest.raises(DataFileError, match="recency 5 is larger than T 4"):
        clv.fit_bgnbd(d)
    d = pd.DataFrame({"customer_id": [1], "frequency": [1.5], "recency": [2.0], "T": [4.0]})
    with pytest.raises(DataFileError, match="whole number"):
        clv.fit_pareto_nbd(d)


# --------------------------------------------------------------------------- CLI
def test_cli_clv_writes_results_and_refuses_to_overwrite(tmp_path, capsys):
    from crm_research.cli import main

    out = tmp_path / "clv"
    args = [str(CDNOW), "--calibration-end", CAL_END, "--observation-end", OBS_END, "-o", str(out)]
    assert main(["clv", *args]) == 0
    for name in ["rfm_summary.csv", "parameters.csv", "fit_measures.csv", "customers.csv", "summary.txt",
                 "calibration_holdout.csv", "calibration_holdout.png", "tracking.csv", "tracking.png"]:
        assert (out / name).stat().st_size > 0, name
    params = pd.read_csv(out / "parameters.csv").set_index(["model", "param"])["est"]
    assert close_to_published(params[("BG/NBD", "alpha")], "4.414")
    assert close_to_published(params[("Pareto/NBD", "beta")], "11.669")
    assert close_to_published(params[("Gamma-Gamma", "gamma")], "15.44")
    customers = pd.read_csv(out / "customers.csv")
    assert len(customers) == 2357 and {"clv_bgnbd", "p_alive_pnbd", "expected_spend"} <= set(customers.columns)
    capsys.readouterr()

    assert main(["clv", *args]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "refusing to overwrite" in err and "--force" in err and "\n" not in err
    assert main(["clv", *args, "--force", "--models", "bgnbd"]) == 0


def test_cli_clv_bad_file_is_one_line_error(tmp_path, capsys):
    from crm_research.cli import main

    f = tmp_path / "orders.csv"
    f.write_text("customer_id,timestamp,amount\n1,2024-01-01,10\n1,2024-01-05,-3\n2,2024-01-02,4\n")
    assert main(["clv", str(f), "--calibration-end", "2024-01-03", "-o", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert "orders.csv" in err and "row 3" in err and "negative" in err and "\n" not in err
    assert main(["clv", str(tmp_path / "missing.csv"), "--calibration-end", "2024-01-03",
                 "-o", str(tmp_path / "o")]) == 2
    assert "file not found" in capsys.readouterr().err


def test_errors_are_crm_research_errors():
    assert issubclass(DataFileError, CRMResearchError) and issubclass(ModelError, CRMResearchError)


# --------------------------------------------------------------------------- recovery on simulated data
def _simulate(model: str, params, n: int, seed: int) -> pd.DataFrame:
    """Draw (x, t_x, T) from the model's own story (not from its likelihood)."""
    rng = np.random.default_rng(seed)
    T = rng.uniform(20.0, 52.0, n)
    if model == "pnbd":
        r, alpha, s, beta = params
        lam = rng.gamma(r, 1.0 / alpha, n)
        mu = rng.gamma(s, 1.0 / beta, n)
        active = np.minimum(rng.exponential(1.0 / mu), T)
        x = rng.poisson(lam * active)
        tx = np.array([rng.uniform(0, a, k).max() if k else 0.0 for a, k in zip(active, x)])
    else:
        r, alpha, a, b = params
        lam = rng.gamma(r, 1.0 / alpha, n)
        p = rng.beta(a, b, n)
        x, tx = np.zeros(n, dtype=int), np.zeros(n)
        t, alive = np.zeros(n), np.ones(n, dtype=bool)
        while alive.any():
            t[alive] += rng.exponential(1.0 / lam[alive])
            alive &= t <= T
            x[alive] += 1
            tx[alive] = t[alive]
            alive &= rng.uniform(size=n) >= p  # drop out after a purchase with probability p
    return pd.DataFrame({"customer_id": np.arange(n), "frequency": x, "recency": tx, "T": T})


@pytest.mark.parametrize("model,truth", [("bgnbd", (0.5, 6.0, 0.8, 3.0)), ("pnbd", (0.6, 8.0, 0.8, 10.0))])
def test_estimates_recover_simulated_parameters(model, truth):
    data = _simulate(model, truth, 6000, seed=11)
    fit = clv.fit_bgnbd(data) if model == "bgnbd" else clv.fit_pareto_nbd(data)
    z = (fit.params.to_numpy() - np.array(truth)) / fit.se.to_numpy()
    assert fit.converged and np.all(np.abs(z) < 3.5), (fit.params.to_dict(), z)


def test_gamma_gamma_recovers_simulated_parameters():
    rng = np.random.default_rng(5)
    p, q, g = 4.0, 3.0, 20.0
    n = 4000
    x = rng.integers(1, 8, n)
    nu = rng.gamma(q, 1.0 / g, n)
    zbar = np.array([rng.gamma(p, 1.0 / v, k).mean() for v, k in zip(nu, x)])
    fit = clv.fit_gamma_gamma(pd.DataFrame({"customer_id": np.arange(n), "frequency": x, "monetary_value": zbar}))
    z = (fit.params.to_numpy() - np.array([p, q, g])) / fit.se.to_numpy()
    assert fit.converged and np.all(np.abs(z) < 3.5), (fit.params.to_dict(), z)


def test_timestamps_numbers_timezones_and_last_day(tiny_orders):
    bad = tiny_orders.assign(when=20240101)
    with pytest.raises(DataFileError, match="timestamps are numbers"):
        clv.rfm_summary(bad, "cust", "when", "value", calibration_end="2024-01-10")
    # tz-aware timestamps count on their local calendar day
    tz = tiny_orders.assign(when=pd.to_datetime(tiny_orders["when"]).dt.tz_localize("Asia/Shanghai"))
    a = clv.rfm_summary(tz, "cust", "when", "value", calibration_end="2024-01-10", freq="D")
    b = clv.rfm_summary(tiny_orders, "cust", "when", "value", calibration_end="2024-01-10", freq="D")
    pd.testing.assert_frame_equal(a, b)
    # calibrating on all the data (no holdout) is allowed
    s = clv.rfm_summary(tiny_orders, "cust", "when", "value", calibration_end="2024-01-15", freq="D")
    assert s["customer_id"].tolist() == ["A", "B", "C", "D"] and s["frequency"].tolist() == [4, 1, 0, 0]


def test_analytic_gradients_match_finite_differences():
    from crm_research.clv.bgnbd import bgnbd_loglik_gradient
    from crm_research.clv.gamma_gamma import gamma_gamma_loglik_gradient

    x, tx, T = np.array([0, 1, 3, 10.0]), np.array([0, 2, 20, 30.0]), np.array([10, 30, 38, 38.0])
    p, h = np.array([0.3, 4.0, 0.8, 2.5]), 1e-6
    num = np.column_stack([(clv.bgnbd_loglik(p + h * e, x, tx, T) - clv.bgnbd_loglik(p - h * e, x, tx, T)) / (2 * h)
                           for e in np.eye(4)])
    np.testing.assert_allclose(bgnbd_loglik_gradient(p, x, tx, T), num, atol=1e-6)
    x, z, p = np.array([1, 2, 5.0]), np.array([10.0, 30, 3]), np.array([6.0, 3.7, 15.0])
    num = np.column_stack([(clv.gamma_gamma_loglik(p + h * e, x, z) - clv.gamma_gamma_loglik(p - h * e, x, z)) / (2 * h)
                           for e in np.eye(3)])
    np.testing.assert_allclose(gamma_gamma_loglik_gradient(p, x, z), num, atol=1e-6)

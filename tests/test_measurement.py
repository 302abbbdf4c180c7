"""Tests for crm_research.measurement: every formula on hand-computed examples, the report
built from lavaan reference estimates, bad input, and (when sem.fit exists) the full
pipeline from an instrument."""
from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from crm_research import instruments
from crm_research import measurement as m
from crm_research.errors import ConfigError, DataFileError, ModelError

from _helpers import INSTRUMENT, REF, lav_row, lavaan_result


@pytest.fixture(scope="module")
def survey():
    return pd.read_csv(REF / "seed_survey_a.csv")


def exact_corr_data(R: np.ndarray, n: int = 200, seed: int = 0) -> pd.DataFrame:
    """Data whose sample correlation matrix is exactly R (whitened noise times chol(R))."""
    rng = np.random.default_rng(seed)
    Z = rng.normal(size=(n, R.shape[0]))
    Z -= Z.mean(0)
    Z = Z @ np.linalg.inv(np.linalg.cholesky(np.cov(Z, rowvar=False)).T)
    X = Z @ np.linalg.cholesky(R).T
    return pd.DataFrame(X, columns=[f"v{i}" for i in range(R.shape[0])])


# --------------------------------------------------------------------------- formulas
def test_composite_reliability_and_ave_hand_computed():
    # (.8+.7+.6)^2 = 4.41; residuals .36+.51+.64 = 1.51; CR = 4.41 / 5.92
    assert m.composite_reliability([0.8, 0.7, 0.6]) == pytest.approx(4.41 / 5.92, abs=1e-12)
    # AVE = (.64 + .49 + .36) / 3
    assert m.average_variance_extracted([0.8, 0.7, 0.6]) == pytest.approx(1.49 / 3, abs=1e-12)
    # given residual variances are used instead of 1 - l^2
    assert m.composite_reliability([0.8, 0.7], [0.5, 0.5]) == pytest.approx(2.25 / 3.25, abs=1e-12)


def test_omega_hand_computed():
    # (.9+.8+.7)^2 = 5.76; thetas 1.5 -> 5.76 / 7.26
    assert m.mcdonald_omega([0.9, 0.8, 0.7], [0.4, 0.5, 0.6]) == pytest.approx(5.76 / 7.26, abs=1e-12)


def test_cronbach_alpha_hand_computed():
    items = pd.DataFrame({"a": [1, 2, 3, 4, 5], "b": [2, 2, 3, 5, 4], "c": [1, 3, 3, 4, 5]})
    # item variances 2.5, 1.7, 2.2 (sum 6.4); total score [4,7,9,13,14] variance 17.3
    expected = 1.5 * (1 - 6.4 / 17.3)
    a, lo, hi = m.cronbach_alpha(items)
    assert a == pytest.approx(expected, abs=1e-12)
    assert lo < a < hi


def test_cronbach_alpha_too_few_cases_or_items_raises_a_clear_error():
    from crm_research.errors import CRMResearchError, InsufficientDataError

    items = pd.DataFrame({"a": [1, 2, 3, 4], "b": [2, None, 3, None], "c": [1, 3, None, 4]})
    with pytest.raises(InsufficientDataError, match=r"at least 3 complete cases.*4 row\(s\) in all.*got 1 \(items: 3\)"):
        m.cronbach_alpha(items)                     # only row 1 is complete
    with pytest.raises(ValueError, match="at least 2 items, got 1"):
        m.cronbach_alpha(items[["a"]])
    with pytest.raises(CRMResearchError, match="at least 3 respondents, got 2"):
        m.alpha_from_cov(items.cov(), 2)
    with pytest.raises(InsufficientDataError, match="at least 2 items, got 1"):
        m.alpha_from_cov(np.ones((1, 1)), 100)
    a, _, _ = m.cronbach_alpha(items.fillna(3).iloc[:3])   # 3 complete cases, 3 items: computed
    assert np.isfinite(a)


def test_reliability_table_names_the_construct_with_too_few_cases():
    from crm_research.errors import InsufficientDataError

    data = pd.DataFrame({"x1": [1, 2], "x2": [2, 3], "y1": [1, 2], "y2": [3, 1]})
    with pytest.raises(InsufficientDataError, match=r"construct 'X' \(x1, x2\).*at least 3 complete cases"):
        m.reliability_table(data, {"X": ["x1", "x2"], "Y": ["y1", "y2"]})


def test_cronbach_alpha_ci_agrees_with_pingouin_unrounded(survey):
    import pingouin as pg

    items = survey[["PF1", "PF2", "PF3"]]
    a, lo, hi = m.cronbach_alpha(items)
    pa, pci = pg.cronbach_alpha(items, ci=0.95)
    assert a == pytest.approx(pa, abs=1e-12)
    assert lo == pytest.approx(pci[0], abs=5e-4) and hi == pytest.approx(pci[1], abs=5e-4)
    assert lo != round(lo, 3) or hi != round(hi, 3)  # ours are not rounded to 3 decimals


def test_htmt_hand_computed_constructed_matrix():
    names = list("abcde")
    R = pd.DataFrame(np.eye(5), index=names, columns=names)

    def put(x, y, v):
        R.loc[x, y] = R.loc[y, x] = v

    put("a", "b", .7); put("a", "c", .6); put("b", "c", .5); put("d", "e", .4)
    for (x, y), v in {("a", "d"): .3, ("a", "e"): .2, ("b", "d"): .4, ("b", "e"): .3,
                      ("c", "d"): .1, ("c", "e"): .5}.items():
        put(x, y, v)
    blocks = {"F": ["a", "b", "c"], "G": ["d", "e"]}
    # monotrait means: F (.7+.6+.5)/3 = .6, G .4; heterotrait mean 1.8/6 = .3
    h = m.htmt(None, blocks, corr=R)
    assert h.loc["F", "G"] == pytest.approx(0.3 / math.sqrt(0.6 * 0.4), abs=1e-12)
    assert h.loc["G", "F"] == h.loc["F", "G"] and np.isnan(h.loc["F", "F"])
    # HTMT2: geometric means
    gF = (.7 * .6 * .5) ** (1 / 3)
    gH = (.3 * .2 * .4 * .3 * .1 * .5) ** (1 / 6)
    h2 = m.htmt(None, blocks, corr=R, method="htmt2")
    assert h2.loc["F", "G"] == pytest.approx(gH / math.sqrt(gF * 0.4), abs=1e-12)


def test_htmt_absolute_values_and_covariance_input():
    names = list("abcd")
    R = np.array([[1, .6, -.3, -.3], [.6, 1, -.3, -.3], [-.3, -.3, 1, .5], [-.3, -.3, .5, 1]])
    blocks = {"F": ["a", "b"], "G": ["c", "d"]}
    corr = pd.DataFrame(R, index=names, columns=names)
    assert m.htmt(None, blocks, corr=corr).loc["F", "G"] == pytest.approx(.3 / math.sqrt(.3), abs=1e-12)
    assert m.htmt(None, blocks, corr=corr, absolute=False).loc["F", "G"] == pytest.approx(-.3 / math.sqrt(.3))
    sd = np.array([1.0, 2.0, 0.5, 3.0])  # a covariance matrix gives the same HTMT
    cov = pd.DataFrame(R * np.outer(sd, sd), index=names, columns=names)
    assert m.htmt(None, blocks, corr=cov).loc["F", "G"] == pytest.approx(.3 / math.sqrt(.3), abs=1e-12)


def test_htmt_from_data_equals_htmt_from_its_correlations(survey, inst):
    items = [i for c in inst.first_order for i in (it.id for it in c.items)]
    a = m.htmt(survey, inst)
    b = m.htmt(None, inst, corr=survey[items].corr())
    pd.testing.assert_frame_equal(a, b)
    assert list(a.index) == [c.id for c in inst.first_order]


def test_htmt_single_item_construct_is_nan():
    R = pd.DataFrame(np.array([[1, .5, .3], [.5, 1, .3], [.3, .3, 1]]), index=list("abc"), columns=list("abc"))
    h = m.htmt(None, {"F": ["a", "b"], "S": ["c"]}, corr=R)
    assert np.isnan(h.loc["F", "S"])


def test_fornell_larcker_matrix_and_verdict():
    corr = pd.DataFrame([[1, .75], [.75, 1]], index=["F", "G"], columns=["F", "G"])
    fl = m.fornell_larcker({"F": 0.49, "G": 0.64}, corr)
    assert fl.loc["F", "F"] == pytest.approx(0.7) and fl.loc["G", "G"] == pytest.approx(0.8)
    assert fl.loc["F", "G"] == pytest.approx(0.75)
    ok = m._fl_ok(fl)
    assert not ok["F"] and ok["G"]


def test_latent_correlations_implied_by_higher_order_model():
    res = lavaan_result("seed_ops")
    R = m.latent_correlations(res)
    lam = {d: lav_row(res, "OPS", "=~", d)["std.all"] for d in ("PF", "SQ", "LE", "UI")}
    # first-order factors correlate only through OPS: r = product of standardized loadings
    assert R.loc["PF", "SQ"] == pytest.approx(lam["PF"] * lam["SQ"], abs=1e-6)
    assert R.loc["LE", "UI"] == pytest.approx(lam["LE"] * lam["UI"], abs=1e-6)
    b1 = lav_row(res, "SAT", "~", "OPS")["std.all"]
    b2 = lav_row(res, "LOY", "~", "SAT")["std.all"]
    assert R.loc["OPS", "SAT"] == pytest.approx(b1, abs=1e-6)
    assert R.loc["OPS", "LOY"] == pytest.approx(b1 * b2, abs=1e-6)
    assert np.allclose(np.diag(R), 1) and np.allclose(R, R.T)


def test_multi_group_estimates_are_refused():
    if not (REF / "hs_mg_config.json").exists():
        pytest.skip("multi-group reference not present")
    with pytest.raises(ModelError, match="several groups"):
        m.latent_correlations(lavaan_result("hs_mg_config"))


def test_latent_correlations_equal_std_all_in_cfa():
    res = lavaan_result("hs_cfa")
    R = m.latent_correlations(res)
    assert R.loc["visual", "textual"] == pytest.approx(lav_row(res, "visual", "~~", "textual")["std.all"], abs=1e-9)
    assert R.loc["textual", "speed"] == pytest.approx(lav_row(res, "textual", "~~", "speed")["std.all"], abs=1e-9)


def test_harman_pca_and_paf_on_equicorrelation():
    p, r = 4, 0.4
    R = np.full((p, p), r) + (1 - r) * np.eye(p)
    X = exact_corr_data(R)
    pca = m.harman_test(X, method="pca")
    # first eigenvalue of an equicorrelation matrix: 1 + (p-1) r
    assert pca.first_factor_share == pytest.approx((1 + (p - 1) * r) / p, abs=1e-9)
    assert pca.flag  # 55% > 50%
    assert pca.n_factors_kaiser == 1 and pca.n_obs == 200 and pca.n_items == 4
    paf = m.harman_test(X, method="paf")
    # exact one-factor structure: loadings sqrt(r), share r
    assert paf.first_factor_share == pytest.approx(r, abs=1e-6)
    assert not paf.flag
    assert "principal component" in pca.summary() and "principal-axis" in paf.summary()
    with pytest.raises(ValueError):
        m.harman_test(X, method="varimax")


def test_thresholds_validation():
    assert m.Thresholds(htmt=0.9).htmt == 0.9
    with pytest.raises(ConfigError, match="ave"):
        m.Thresholds(ave=-1)
    with pytest.raises(ConfigError, match="alpha"):
        m.Thresholds(alpha="high")


# --------------------------------------------------------------------------- tables from lavaan estimates
def test_standardized_loadings_table_and_flags():
    res = lavaan_result("seed_ops")
    L = m.standardized_loadings(res, m.Thresholds(loading=0.70))
    assert list(L.columns) == ["construct", "level", "item", "loading", "est", "se", "z", "pvalue", "single_item",
                               "flag"]
    assert not L.single_item.any()
    row = L[(L.construct == "SQ") & (L["item"] == "SQ3")].iloc[0]
    lav = lav_row(res, "SQ", "=~", "SQ3")
    assert row.loading == pytest.approx(lav["std.all"]) and row.z == pytest.approx(lav["z"])
    assert row.flag == (lav["std.all"] < 0.70)
    marker = L[(L.construct == "PF") & (L["item"] == "PF1")].iloc[0]
    assert np.isnan(marker.se) and np.isnan(marker.z)   # fixed parameter: no SE
    assert set(L[L.construct == "OPS"].level) == {"second-order"}
    assert int(L.flag.sum()) == int((res.estimates.query("op == '=~'")["std.all"] < .70).sum())


def test_reliability_table_cr_ave_from_lavaan_loadings(survey):
    res = lavaan_result("seed_ops")
    rel = m.reliability_table(survey, {"LE": ["LE1", "LE2", "LE3"]}, res)
    lam = [lav_row(res, "LE", "=~", i)["std.all"] for i in ("LE1", "LE2", "LE3")]
    theta = [lav_row(res, i, "~~", i)["std.all"] for i in ("LE1", "LE2", "LE3")]
    r = rel.iloc[0]
    assert r.cr == pytest.approx(sum(lam) ** 2 / (sum(lam) ** 2 + sum(theta)), abs=1e-12)
    assert r.ave == pytest.approx(np.mean(np.square(lam)), abs=1e-12)
    assert r.sqrt_ave == pytest.approx(math.sqrt(r.ave))
    assert r.n_items == 3 and r.level == "first-order"


@pytest.fixture(scope="module")
def ops_report(survey, inst):
    res = lavaan_result("seed_ops")
    return m.assess_measurement(survey, inst, constructs=["OPS", "SAT", "LOY"], result=res,
                                higher_order_result=res, omega="model")


def test_report_from_prefitted_result(ops_report):
    rep = ops_report
    res = lavaan_result("seed_ops")
    assert rep.n_obs == 400
    assert list(rep.reliability.construct) == ["PF", "SQ", "LE", "UI", "SAT", "LOY", "OPS"]
    ops = rep.reliability.set_index("construct").loc["OPS"]
    lam2 = [lav_row(res, "OPS", "=~", d)["std.all"] for d in ("PF", "SQ", "LE", "UI")]
    th2 = [lav_row(res, d, "~~", d)["std.all"] for d in ("PF", "SQ", "LE", "UI")]
    assert ops.level == "second-order" and ops.n_items == 12
    assert ops.cr == pytest.approx(sum(lam2) ** 2 / (sum(lam2) ** 2 + sum(th2)), abs=1e-12)
    assert ops.ave == pytest.approx(np.mean(np.square(lam2)), abs=1e-12)
    assert np.isnan(ops.omega)
    # omega="model": std.lv loadings and residual variances of the supplied model
    lam = [lav_row(res, "PF", "=~", i)["std.lv"] for i in ("PF1", "PF2", "PF3")]
    th = [lav_row(res, i, "~~", i)["est"] for i in ("PF1", "PF2", "PF3")]
    assert rep.reliability.set_index("construct").loc["PF", "omega"] == pytest.approx(
        sum(lam) ** 2 / (sum(lam) ** 2 + sum(th)), abs=1e-12)
    # flags: AVE of SQ (.487) and OPS (.466) are below .50
    assert rep.flagged["reliability"] == ["SQ", "OPS"]
    assert "AVE .49 < .50" in rep.reliability.set_index("construct").loc["SQ", "problems"]
    assert not rep.ok


def test_report_discriminant_validity(ops_report):
    rep = ops_report
    fl = rep.fornell_larcker
    assert list(fl.index) == ["PF", "SQ", "LE", "UI", "SAT", "LOY"]
    ave = rep.reliability.set_index("construct")["ave"]
    assert fl.loc["SAT", "SAT"] == pytest.approx(math.sqrt(ave["SAT"]))
    assert fl.loc["SAT", "LOY"] == pytest.approx(m.latent_correlations(lavaan_result("seed_ops")).loc["SAT", "LOY"])
    assert rep.fornell_larcker_higher_order is not None
    assert list(rep.fornell_larcker_higher_order.index) == ["OPS", "SAT", "LOY"]
    d = rep.discriminant
    assert len(d) == 15 and set(d.columns) >= {"construct_1", "construct_2", "r", "htmt", "htmt_ok", "flag"}
    row = d[(d.construct_1 == "SAT") & (d.construct_2 == "LOY")].iloc[0]
    assert row.htmt == pytest.approx(rep.htmt.loc["SAT", "LOY"]) and row.htmt_ok
    strict = m.assess_measurement(pd.read_csv(REF / "seed_survey_a.csv"), instruments.load_instrument(INSTRUMENT),
                                  constructs=["OPS", "SAT", "LOY"], result=lavaan_result("seed_ops"),
                                  higher_order_result=lavaan_result("seed_ops"), omega=None,
                                  thresholds=m.Thresholds(htmt=0.6), harman=None)
    assert strict.flagged["htmt"] == ["SAT-LOY"]   # HTMT .674 is not below .60
    assert strict.harman is None


def test_report_harman_and_outputs(ops_report):
    rep = ops_report
    assert rep.harman.method == "pca" and 0 < rep.harman.first_factor_share < 0.5 and not rep.harman.flag
    s = rep.summary()
    for part in ("N = 400", "Reliability and convergent validity", "Fornell-Larcker", "HTMT", "Harman", "SQ: AVE"):
        assert part in s
    html = rep._repr_html_()
    assert "<table" in html and "Fornell-Larcker" in html
    t = rep.apa_tables()
    assert set(t) == {"loadings", "reliability", "fornell_larcker", "htmt", "fit", "fornell_larcker_higher_order"}
    rel = t["reliability"].set_index("Construct")
    assert rel.loc["SQ", "AVE"] == ".49 \u2717" and rel.loc["LE", "AVE"].endswith("\u2713")
    assert t["loadings"].set_index("Indicator").loc["PF1", "SE"] == "fixed"
    assert t["fornell_larcker"].loc["PF", "SQ"] == "" and t["fornell_larcker"].loc["SQ", "PF"] != ""
    md = rep.to_markdown()
    assert md.count("|---|") >= 5 and "Harman" in md


# --------------------------------------------------------------------------- bad input
def test_missing_item_column_names_it(survey, inst):
    with pytest.raises(DataFileError, match="PF2"):
        m.assess_measurement(survey.drop(columns=["PF2"]), inst, result=lavaan_result("seed_ops"))


def test_non_numeric_response_names_row_column_value(survey, inst):
    bad = survey.copy()
    bad["SQ1"] = bad["SQ1"].astype(object)
    bad.loc[5, "SQ1"] = "very good"
    with pytest.raises(DataFileError) as ei:
        m.assess_measurement(bad, inst, constructs=["OPS", "SAT", "LOY"], result=lavaan_result("seed_ops"))
    msg = str(ei.value)
    assert "row 7" in msg and "'SQ1'" in msg and "very good" in msg


def test_constant_item_is_rejected(survey, inst):
    bad = survey.copy()
    bad["LE2"] = 3
    with pytest.raises(DataFileError, match="LE2.*no variance"):
        m.assess_measurement(bad, inst, constructs=["OPS"], result=lavaan_result("seed_ops"))


def test_missing_rows_are_deleted_listwise_with_warning(survey, inst):
    data = survey.copy()
    data.loc[[3, 10, 11], "UI2"] = np.nan
    res = lavaan_result("seed_ops")
    rep = m.assess_measurement(data, inst, constructs=["OPS", "SAT", "LOY"], result=res, higher_order_result=res,
                               omega=None, harman=None, missing="listwise")
    assert rep.n_obs == 397 and rep.n_input == 400 and rep.n_complete == 397 and rep.missing == "listwise"
    assert any("3 of 400" in w and "listwise" in w for w in rep.warnings)
    assert "listwise deletion: 397 of 400" in rep.summary()
    # missing="ml" keeps every respondent; alpha then comes from the EM covariance matrix
    ml = m.assess_measurement(data, inst, constructs=["OPS", "SAT", "LOY"], result=res, higher_order_result=res,
                              omega=None, harman=None, missing="ml")
    assert ml.n_obs == 400 and ml.n_complete == 397 and ml.missing == "ml"
    assert "full-information ML" in ml.summary() and not any("listwise" in w for w in ml.warnings)
    ui_lw = rep.reliability.set_index("construct").loc["UI", "alpha"]
    ui_ml = ml.reliability.set_index("construct").loc["UI", "alpha"]
    assert ui_ml != ui_lw and ui_ml == pytest.approx(ui_lw, abs=0.01)


def test_unknown_construct_and_too_few_rows(survey, inst):
    from crm_research.errors import InstrumentError

    with pytest.raises(InstrumentError, match="NOPE"):
        m.assess_measurement(survey, inst, constructs=["NOPE"])
    with pytest.raises(ModelError, match="only 4 respondents for 3 items"):
        m.assess_measurement(survey.head(4), inst, constructs=["SAT"], result=lavaan_result("seed_ops"))
    with pytest.raises(ModelError, match="only 4 complete respondents"):
        m.assess_measurement(survey.head(4), inst, constructs=["SAT"], result=lavaan_result("seed_ops"),
                             missing="listwise")
    with pytest.raises(ConfigError, match="missing"):
        m.assess_measurement(survey, inst, constructs=["SAT"], missing="casewise")
    holes = survey.copy()
    holes.loc[holes.index[:5], inst.items_of("SAT")[0]] = np.nan
    with pytest.raises(ConfigError, match="assess_measurement: missing: missing = 'pairwise' is not available "
                                          "with estimator ML"):
        m.assess_measurement(holes, inst, constructs=["SAT"], missing="pairwise")
    with pytest.raises(ConfigError, match="assess_measurement: estimator: .*got 'MLX'"):
        m.assess_measurement(survey, inst, constructs=["SAT"], estimator="MLX")
    with pytest.raises(ConfigError, match="assess_measurement: estimator: ML cannot fit ordered"):
        m.assess_measurement(survey, inst, constructs=["SAT"], estimator="ML", ordered=True)


def test_negative_loading_warns_about_reverse_keying(survey, inst):
    res = lavaan_result("seed_ops")
    est = res.estimates.copy()
    i = est.index[(est.lhs == "SAT") & (est.op == "=~") & (est.rhs == "SAT3")][0]
    est.loc[i, "std.all"] = -0.55
    neg = SimpleNamespace(estimates=est, fit_measures=res.fit_measures, warnings=["a Heywood case"], converged=True)
    rep = m.assess_measurement(survey, inst, constructs=["OPS", "SAT", "LOY"], result=neg, higher_order_result=neg,
                               omega=None, harman=None)
    assert any("SAT3 loads negatively on SAT" in w for w in rep.warnings)
    assert any("a Heywood case" in w for w in rep.warnings)   # SEM warnings are carried over
    assert "SAT=~SAT3" in rep.flagged["loadings"]


# --------------------------------------------------------------------------- through sem.fit
def test_assess_measurement_fits_from_instrument(survey, inst):
    rep = m.assess_measurement(survey, inst, constructs=["OPS", "SAT", "LOY"])
    assert {"first_order", "higher_order", "omega:PF"} <= set(rep.results)
    # the higher-order CFA of OPS, SAT, LOY reproduces lavaan's estimates of seed_ops
    # (a structural model with the same number of free parameters would differ; compare loadings)
    ref = lavaan_result("seed_ops")
    L = rep.loadings.set_index(["construct", "item"])
    for c, i in [("PF", "PF2"), ("SAT", "SAT3"), ("LOY", "LOY2")]:
        assert L.loc[(c, i), "loading"] == pytest.approx(lav_row(ref, c, "=~", i)["std.all"], abs=0.02)
    # congeneric omega equals the closed form for a just-identified 3-item model
    rel = rep.reliability.set_index("construct")
    assert 0.6 < rel.loc["PF", "omega"] < 0.9
    assert rep.fit.loc["first-order CFA", "df"] == 120   # 18 items: 171 moments - 51 parameters


def test_harman_single_factor_cfa_comparison(survey, inst):
    rep = m.assess_measurement(survey, inst, constructs=["SAT", "LOY"], omega=None, harman_cfa=True)
    h = rep.harman
    assert h.single_factor_fit is not None and h.comparison is not None
    assert h.single_factor_fit.loc["single factor", "df"] == h.single_factor_fit.loc["measurement model", "df"] + 1
    assert h.comparison.pvalue < 0.001   # SAT and LOY are distinct factors in the simulation


def test_congeneric_omega_equals_closed_form_of_just_identified_model(survey, inst):
    rep = m.assess_measurement(survey, inst, constructs=["CS", "SAT"], harman=None)
    for c in ("CS", "SAT"):
        S = survey[[f"{c}1", f"{c}2", f"{c}3"]].cov().to_numpy()
        # 3 indicators: ML reproduces S exactly, lambda_i^2 = s_ij s_ik / s_jk (factor variance 1)
        lam = np.array([math.sqrt(S[0, 1] * S[0, 2] / S[1, 2]), math.sqrt(S[0, 1] * S[1, 2] / S[0, 2]),
                        math.sqrt(S[0, 2] * S[1, 2] / S[0, 1])])
        theta = np.diag(S) - lam ** 2
        expected = lam.sum() ** 2 / (lam.sum() ** 2 + theta.sum())   # scale-free: N or N-1 divisor alike
        assert rep.reliability.set_index("construct").loc[c, "omega"] == pytest.approx(expected, abs=1e-5)


def test_assess_measurement_is_deterministic(survey, inst):
    a = m.assess_measurement(survey, inst, constructs=["CRM"], harman=None)
    b = m.assess_measurement(survey, inst, constructs=["CRM"], harman=None)
    pd.testing.assert_frame_equal(a.reliability, b.reliability)
    pd.testing.assert_frame_equal(a.fornell_larcker, b.fornell_larcker)
    assert a.summary() == b.summary()


# --------------------------------------------------------------------------- single-item constructs
@pytest.fixture(scope="module")
def abil():
    return instruments.load_instrument(REF / "hs_abilities.yaml")   # VIS, TXT (3 items), SPD (x7 alone)


def _with_reliability(inst, cid, r):
    import dataclasses

    c = dataclasses.replace(inst.construct(cid), reliability=r)
    return dataclasses.replace(inst, constructs=tuple(c if x.id == cid else x for x in inst.constructs))


_LAV = {"visual": "VIS", "textual": "TXT", "speed": "SPD"}


@pytest.mark.parametrize("reliability, ref", [(None, "hs_si_zero"), (0.8, "hs_si_rel80")])
def test_single_item_construct_in_the_measurement_tables(abil, reliability, ref):
    hs = pd.read_csv(REF / "HolzingerSwineford1939.csv")
    inst = abil if reliability is None else _with_reliability(abil, "SPD", reliability)
    rep = m.assess_measurement(hs, inst, missing="listwise", harman_cfa=True)
    lav = lavaan_result(ref)
    # the CFA of three correlated constructs is the just-identified structural model of the reference
    assert rep.fit.loc["first-order CFA", "chisq"] == pytest.approx(lav.fit_measures["chisq"], abs=1e-3)
    assert rep.fit.loc["first-order CFA", "df"] == lav.fit_measures["df"] == 12
    L = rep.loadings.set_index("item")
    for lhs, item in (("visual", "x2"), ("textual", "x6"), ("speed", "x7")):
        assert L.loc[item, "loading"] == pytest.approx(lav_row(lav, lhs, "=~", item)["std.all"], abs=1e-3)
    assert L.loc["x7", "single_item"] and not L.loc["x7", "flag"] and not L.loc["x2", "single_item"]
    # reliability row: no alpha/omega/CR/AVE, the declared (or assumed) reliability, never flagged
    R = rep.reliability.set_index("construct")
    spd = R.loc["SPD"]
    assert spd.single_item and spd.n_items == 1 and not spd.flag and spd.problems == ""
    assert all(np.isnan(spd[c]) for c in ("alpha", "omega", "cr", "ave", "sqrt_ave"))
    assert spd.reliability == (1.0 if reliability is None else 0.8)
    assert "single item" in spd.note and ("assumed 1" in spd.note if reliability is None else ".80 declared" in spd.note)
    assert not R.loc["VIS"].single_item and R.loc["VIS", "alpha"] > 0 and np.isnan(R.loc["VIS", "reliability"])
    assert rep.single_items == ["SPD"] and "reliability" not in rep.flagged or "SPD" not in rep.flagged["reliability"]
    # HTMT undefined for its pairs, said so; Fornell-Larcker judged by the other construct
    assert np.isnan(rep.htmt.loc["SPD", "VIS"]) and not np.isnan(rep.htmt.loc["VIS", "TXT"])
    d = rep.discriminant.set_index(["construct_1", "construct_2"])
    assert d.loc[("VIS", "SPD"), "htmt_ok"] is None and "SPD is a single item" in d.loc[("VIS", "SPD"), "note"]
    fl = rep.fornell_larcker
    assert np.isnan(fl.loc["SPD", "SPD"])
    r = abs(fl.loc["TXT", "SPD"])
    assert d.loc[("TXT", "SPD"), "fornell_larcker_ok"] == bool(fl.loc["TXT", "TXT"] > r)
    assert any("HTMT is undefined for a single-item construct" in n for n in rep.notes)
    assert any(n.startswith("SPD is measured by a single item (x7)") for n in rep.notes)
    # tables and text say "single item"
    t = rep.apa_tables()
    rel = t["reliability"].set_index("Construct")
    assert rel.loc["SPD"].iloc[2] == "single item" and rel.loc["SPD", "CR"] == "\u2014"
    assert "Note" in rel.columns and rel.loc["VIS", "Note"] == ""
    assert t["htmt"].loc["SPD", "VIS"] == "n/a" and t["fornell_larcker"].loc["SPD", "SPD"] == "\u2014"
    assert t["loadings"].set_index("Indicator").loc["x7"].iloc[-1] == "single item"
    s = rep.summary()
    assert "SPD: single item" in s and "HTMT is undefined for single-item constructs (SPD)" in s
    assert "omega of SPD" not in s          # no "needs 3 items" warning for a single item
    md = rep.to_markdown()
    assert "single item" in md and "Notes:" in md
    assert rep.harman.comparison is not None and rep.harman.comparison.df_diff == 3


def test_single_item_measurement_with_fiml(abil):
    d = pd.read_csv(REF / "hs_missing.csv")
    items = ["x1", "x2", "x3", "x4", "x5", "x6", "x7"]
    rep = m.assess_measurement(d, _with_reliability(abil, "SPD", 0.8), missing="ml", harman=None)
    assert rep.missing == "ml" and rep.n_obs == int(d[items].notna().any(axis=1).sum()) == 300
    assert rep.n_input == 301 and rep.n_complete == int(d[items].notna().all(axis=1).sum())
    assert rep.results["first_order"].missing == "ml" and rep.results["first_order"].nobs == 300
    # the error variance of x7 is fixed from its observed answers: (1 - .8) var(x7)
    est = rep.results["first_order"].estimates
    theta = est[(est.lhs == "x7") & (est.op == "~~") & (est.rhs == "x7")].iloc[0]
    assert theta["est"] == pytest.approx(0.2 * d["x7"].var(ddof=1), rel=1e-12) and theta["se"] == 0
    # alpha from the EM covariance matrix = alpha of the saturated ML moments
    from crm_research import sem

    C = sem.sample_moments(d, items, missing="ml").cov        # EM over all assessed items (lavaan's h1)
    a, _, _ = m.alpha_from_cov(C.loc[["x1", "x2", "x3"], ["x1", "x2", "x3"]], 300)
    assert rep.reliability.set_index("construct").loc["VIS", "alpha"] == pytest.approx(a, abs=1e-12)
    assert "full-information ML" in rep.summary()


def test_reliability_table_records_the_level_of_alphas_interval():
    rng = np.random.default_rng(3)
    f = rng.normal(size=200)
    data = pd.DataFrame({f"x{i}": f + rng.normal(size=200) for i in (1, 2, 3)})
    t90 = m.reliability_table(data, {"F": ["x1", "x2", "x3"]}, ci=0.90)
    t95 = m.reliability_table(data, {"F": ["x1", "x2", "x3"]})
    assert t90.attrs["ci.level"] == 0.90 and t95.attrs["ci.level"] == 0.95
    assert t90["alpha.ci.lower"].iloc[0] > t95["alpha.ci.lower"].iloc[0]   # narrower at 90%
    assert t90["alpha"].iloc[0] == t95["alpha"].iloc[0]

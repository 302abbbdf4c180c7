"""Tests for crm_research.hypotheses: hypothesis tables from lavaan reference estimates,
indirect effects and every mediation verdict, the chi-square difference test against a
hand computation, bad input, and (when sem.fit exists) the full run from an instrument."""
from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from crm_research import hypotheses as H
from crm_research.errors import InstrumentError, ModelError
from crm_research.instruments import Hypothesis

from _helpers import REF, lav_row, lavaan_result, needs_sem, sem_available


# --------------------------------------------------------------------------- hypothesis table
def test_hypothesis_table_ops_model_matches_lavaan(inst):
    res = lavaan_result("seed_ops")
    t = H.hypothesis_table(res, inst, "ops")
    assert list(t.columns) == ["hypothesis", "path", "expected", "std.all", "est", "se", "z", "pvalue",
                               "ci.lower", "ci.upper", "supported", "verdict"]
    assert list(t.hypothesis) == ["H1", "H2"]
    h1 = t.iloc[0]
    lav = lav_row(res, "SAT", "~", "OPS")
    assert h1.path == "OPS \u2192 SAT" and h1.expected == "+"
    for col in ("std.all", "est", "se", "z", "pvalue", "ci.lower", "ci.upper"):
        assert h1[col] == pytest.approx(lav[col])
    assert t.supported.all() and (t.verdict == "supported").all()


def test_instrument_without_model_attributes_shared_path_by_label(inst):
    # H2 and H4 are both LOY ~ SAT; in the CRM model the path is labelled h4
    t = H.hypothesis_table(lavaan_result("seed_crm"), inst)
    assert list(t.hypothesis) == ["H3", "H4"]
    t_ops = H.hypothesis_table(lavaan_result("seed_ops"), inst)
    assert list(t_ops.hypothesis) == ["H1", "H2"]


def test_unsupported_hypotheses_opposite_sign_and_not_significant():
    res = lavaan_result("hs_mediation")
    hyps = [Hypothesis("Ha", "textual", "visual", "negative"),   # significant but positive
            Hypothesis("Hb", "speed", "textual", "positive"),    # p = .318
            Hypothesis("Hc", "speed", "visual", "positive")]
    t = H.hypothesis_table(res, hyps).set_index("hypothesis")
    assert not t.loc["Ha", "supported"] and "opposite sign" in t.loc["Ha", "verdict"]
    assert not t.loc["Hb", "supported"] and "p = .318" in t.loc["Hb", "verdict"]
    assert t.loc["Hc", "supported"] and t.loc["Ha", "expected"] == "-"
    # a stricter alpha turns Hc down (p = .000144)
    t2 = H.hypothesis_table(res, hyps, alpha=0.0001).set_index("hypothesis")
    assert not t2.loc["Hc", "supported"]


def test_missing_hypothesis_path_is_an_error(inst):
    with pytest.raises(ModelError, match="H3"):
        H.hypothesis_table(lavaan_result("seed_ops"), [inst.hypothesis("H3")])
    with pytest.raises(ModelError, match="H3"):
        H.hypothesis_table(lavaan_result("seed_ops"), inst, "crm")
    with pytest.raises(InstrumentError, match="nope"):
        H.hypothesis_table(lavaan_result("seed_ops"), inst, "nope")
    with pytest.raises(ModelError):
        H.hypothesis_table(lavaan_result("hs_cfa"), inst)   # no hypothesis path at all


def test_format_hypothesis_table():
    t = H.hypothesis_table(lavaan_result("seed_ops"), [Hypothesis("H1", "SAT", "OPS")])
    f = H.format_hypothesis_table(t)
    r = f.iloc[0]
    assert r["\u03b2"] == ".60" and r["p"] == "< .001" and r["Supported"].startswith("Yes")
    assert r["95% CI"] == "[0.63, 1.08]"


# --------------------------------------------------------------------------- indirect effects / mediation
def test_indirect_effects_classified():
    res = lavaan_result("hs_mediation")
    ind = H.indirect_effects(res).set_index("effect")
    assert ind.loc["indirect", "kind"] == "indirect"
    assert ind.loc["indirect", "path"] == "visual \u2192 textual \u2192 speed"
    assert ind.loc["total", "kind"] == "total" and ind.loc["total", "path"] == "visual \u2192 speed"
    lav = lav_row(res, "indirect", ":=", "a*b")
    assert ind.loc["indirect", "est"] == pytest.approx(lav["est"])
    assert ind.loc["indirect", "ci.lower"] == pytest.approx(lav["ci.lower"])
    assert not ind.loc["indirect", "significant"]    # CI [-.025, .078] includes 0
    assert ind.loc["total", "significant"]
    assert (ind.ci == "delta").all()


def test_indirect_effect_ci_method_bootstrap():
    res = lavaan_result("seed_ops")
    res.se = "bootstrap"
    assert (H.indirect_effects(res).ci == "bootstrap").all()


def _mediation_estimates(direct: tuple[float, float] | None, ind_ci=(0.1, 0.3)) -> pd.DataFrame:
    rows = [dict(lhs="M", op="~", rhs="X", label="a", est=0.5, se=0.1, z=5, pvalue=1e-6),
            dict(lhs="Y", op="~", rhs="M", label="b", est=0.4, se=0.1, z=4, pvalue=1e-4)]
    if direct is not None:
        rows.append(dict(lhs="Y", op="~", rhs="X", label="c", est=direct[0], se=0.1, z=direct[0] / 0.1,
                         pvalue=direct[1]))
    rows.append(dict(lhs="ind", op=":=", rhs="a*b", label="ind", est=0.2, se=0.05, z=4, pvalue=1e-4,
                     **{"ci.lower": ind_ci[0], "ci.upper": ind_ci[1]}))
    return pd.DataFrame(rows)


@pytest.mark.parametrize("direct, ind_ci, typ, verdict", [
    ((0.3, 0.001), (0.1, 0.3), "complementary", "partial mediation (complementary)"),
    ((-0.3, 0.001), (0.1, 0.3), "competitive", "partial mediation (competitive)"),
    ((0.05, 0.6), (0.1, 0.3), "indirect-only", "full mediation"),
    ((0.3, 0.001), (-0.02, 0.3), "direct-only", "no mediation (direct effect only)"),
    ((0.05, 0.6), (-0.02, 0.3), "no-effect", "no mediation"),
])
def test_mediation_verdicts(direct, ind_ci, typ, verdict):
    t = H.mediation_table(_mediation_estimates(direct, ind_ci))
    r = t.iloc[0]
    assert r.path == "X \u2192 M \u2192 Y" and r["type"] == typ and r.verdict == verdict
    assert r.total == pytest.approx(0.2 + direct[0])


def test_mediation_without_direct_path():
    r = H.mediation_table(_mediation_estimates(None)).iloc[0]
    assert "direct path not estimated" in r.verdict and np.isnan(r.direct) and r["direct.significant"] is None
    r = H.mediation_table(lavaan_result("seed_ops")).iloc[0]
    assert r.path == "OPS \u2192 SAT \u2192 LOY" and r["indirect.significant"]


def test_non_chain_defined_parameters_are_left_alone():
    e = _mediation_estimates((0.3, 0.01))
    e = pd.concat([e, pd.DataFrame([dict(lhs="diff", op=":=", rhs="a-b", label="diff", est=0.1, se=0.1, z=1,
                                         pvalue=0.3)])], ignore_index=True)
    ind = H.indirect_effects(e).set_index("effect")
    assert ind.loc["diff", "kind"] == "defined" and ind.loc["ind", "kind"] == "indirect"
    assert len(H.mediation_table(e)) == 1


# --------------------------------------------------------------------------- model comparison
def _fit(chisq, df, n=400, cfi=0.95, rmsea=0.05, aic=1000.0, bic=1100.0):
    return SimpleNamespace(fit_measures=dict(chisq=chisq, df=df, ntotal=n, cfi=cfi, tli=cfi - 0.01, rmsea=rmsea,
                                             srmr=0.04, aic=aic, bic=bic), converged=True)


def test_compare_models_hand_computed():
    restricted = _fit(100.0, 50, cfi=0.950, rmsea=0.050, aic=1010.0, bic=1100.0)
    full = _fit(90.0, 49, cfi=0.958, rmsea=0.046, aic=1002.0, bic=1096.0)
    c = H.compare_models(restricted, full, names=("full mediation", "partial mediation"))
    assert c.chisq_diff == pytest.approx(10.0) and c.df_diff == 1
    # P(chi2_1 > 10) = erfc(sqrt(10 / 2))
    assert c.pvalue == pytest.approx(math.erfc(math.sqrt(5.0)), rel=1e-10)
    # lavaan's RMSEA of the difference: sqrt((10/400)/1 - 1/400) = .15
    assert c.rmsea_diff == pytest.approx(0.15, abs=1e-12)
    assert c.delta_cfi == pytest.approx(-0.008) and c.delta_rmsea == pytest.approx(0.004)
    assert c.delta_aic == pytest.approx(8.0) and c.delta_bic == pytest.approx(4.0)
    assert list(c.table.index) == ["full mediation", "partial mediation"]
    assert c.table.loc["partial mediation", "chisq.diff"] == pytest.approx(10.0)
    assert np.isnan(c.table.loc["full mediation", "pvalue.diff"])
    assert "partial mediation model fits significantly better than the full mediation model" in c.verdict
    assert "\u0394\u03c7\u00b2(1) = 10.00, p = .002" in c.verdict
    assert c.apa() == "\u0394\u03c7\u00b2(1) = 10.00, p = .002"
    assert "Chi-squared difference test" in c.summary() and "<table" in c._repr_html_()


def test_compare_models_not_significant_prefers_restricted():
    c = H.compare_models(_fit(100.0, 50), _fit(99.0, 49))
    assert c.pvalue > 0.05 and "prefer the more parsimonious restricted model" in c.verdict
    c2 = H.compare_models(_fit(100.0, 50), _fit(99.0, 49), names=("constrained model", "free model"))
    assert "parsimonious constrained model" in c2.verdict
    assert c.rmsea_diff == 0.0   # chi-square difference below its df


def test_compare_models_rejects_non_nested():
    hs, med = lavaan_result("hs_cfa"), lavaan_result("hs_mediation")   # equivalent models, df 24 both
    with pytest.raises(ModelError, match="same degrees of freedom"):
        H.compare_models(hs, med)
    with pytest.raises(ModelError, match="pass the model with more degrees of freedom first"):
        H.compare_models(_fit(90.0, 49), _fit(100.0, 50))
    with pytest.raises(ModelError, match="different samples"):
        H.compare_models(_fit(100.0, 50, n=400), _fit(90.0, 49, n=399))
    with pytest.raises(ModelError, match="chisq"):
        H.compare_models(SimpleNamespace(fit_measures={"df": 3}), _fit(1.0, 2))


def test_compare_models_warns_when_restricted_fits_better():
    c = H.compare_models(_fit(90.0, 50), _fit(95.0, 49))
    assert any("restricted model fits better" in w for w in c.warnings)
    assert c.pvalue == 1.0


def test_compare_models_warns_on_different_variables():
    a, b = lavaan_result("seed_ops"), lavaan_result("seed_crm")
    a.fit_measures = dict(a.fit_measures, df=130)
    c = H.compare_models(a, b)
    assert any("different observed variables" in w for w in c.warnings)


# --------------------------------------------------------------------------- through sem.fit
@needs_sem
def test_test_hypotheses_ops_model(inst):
    data = pd.read_csv(REF / "seed_survey_a.csv")
    t = H.test_hypotheses(data, inst, "ops")
    ref = lavaan_result("seed_ops")
    # the fitted model is the reference seed_ops.lav: same numbers as lavaan
    h1 = t.hypotheses.set_index("hypothesis").loc["H1"]
    assert h1["est"] == pytest.approx(lav_row(ref, "SAT", "~", "OPS")["est"], abs=1e-3)
    assert h1["std.all"] == pytest.approx(lav_row(ref, "SAT", "~", "OPS")["std.all"], abs=1e-3)
    assert t.supported == {"H1": True, "H2": True}
    assert t.partial_hypotheses is not None and t.comparison is not None
    assert t.comparison.df_diff == 1
    assert t.comparison.chisq_diff == pytest.approx(
        t.results["model"].fit_measures["chisq"] - t.results["partial"].fit_measures["chisq"])
    assert len(t.mediation) == 1 and t.mediation.iloc[0].verdict in (
        "full mediation", "partial mediation (complementary)", "partial mediation (competitive)")
    s = t.summary()
    assert "H1" in s and "Mediation" in s and "Chi-squared difference test" in s
    assert "<table" in t._repr_html_() and "**Mediation**" in t.to_markdown()


def test_combined_model_direct_path_and_complex_definitions(inst):
    res = lavaan_result("seed_combined")
    t = H.hypothesis_table(res, inst, "combined")
    assert list(t.hypothesis) == ["H1", "H2", "H3"] and t.supported.all()
    ind = H.indirect_effects(res).set_index("effect")
    assert ind.loc["ind_ops", "kind"] == "indirect" and ind.loc["total_ops", "kind"] == "total"
    assert ind.loc["prop_mediated", "kind"] == "defined" and ind.loc["ind_sq", "kind"] == "defined"
    med = H.mediation_table(res).iloc[0]
    # direct OPS -> LOY (d) is not significant (p = .313) while the indirect effect is: full mediation
    assert med.verdict == "full mediation" and med["type"] == "indirect-only"
    assert med.direct == pytest.approx(lav_row(res, "LOY", "~", "OPS")["est"])
    # total = direct + indirect, as lavaan's total_ops := d + h1*h2
    assert med.total == pytest.approx(lav_row(res, "total_ops", ":=", "d+h1*h2")["est"], abs=1e-9)


def test_multi_group_estimates_are_refused():
    with pytest.raises(ModelError, match="several groups"):
        H.hypothesis_table(lavaan_result("hs_mg_config"), [Hypothesis("H1", "textual", "visual")])


def _sem_bootstrap_available() -> bool:
    import importlib.util
    return sem_available() and importlib.util.find_spec("crm_research.sem.bootstrap") is not None


@pytest.mark.skipif(not _sem_bootstrap_available(), reason="sem bootstrap not available yet")
def test_test_hypotheses_with_bootstrap_is_reproducible(inst):
    data = pd.read_csv(REF / "seed_survey_a.csv")
    a = H.test_hypotheses(data, inst, "ops", bootstrap=200, seed=11)
    b = H.test_hypotheses(data, inst, "ops", bootstrap=200, seed=11)
    pd.testing.assert_frame_equal(a.indirect, b.indirect)
    assert a.indirect.ci.iloc[0].startswith("bootstrap")
    r = a.indirect.iloc[0]
    assert r["ci.lower"] < r["est"] < r["ci.upper"]
    assert "boot.perc.lower" in a.indirect.columns

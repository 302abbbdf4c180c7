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
from crm_research.errors import ConfigError, InstrumentError, ModelError
from crm_research.instruments import Hypothesis

from _helpers import REF, lav_row, lavaan_result


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
def test_compare_models_is_the_one_in_sem():
    from crm_research import sem

    assert H.compare_models is sem.compare_models and H.ModelComparison is sem.ModelComparison


def test_compare_models_two_models_as_hypotheses_uses_them():
    """The full- vs partial-mediation call of test_model: restricted first, named roles."""
    fm = lambda chisq, df, cfi: SimpleNamespace(fit_measures=dict(chisq=chisq, df=df, ntotal=400, cfi=cfi,  # noqa
                                                                  rmsea=0.05, aic=1000.0, bic=1100.0))
    c = H.compare_models(fm(100.0, 50, .950), fm(90.0, 49, .958), names=("full mediation", "partial mediation"))
    assert c.names == ("full mediation", "partial mediation")
    assert (c.restricted, c.full, c.preferred) == ("full mediation", "partial mediation", "partial mediation")
    assert list(c.table.index) == ["partial mediation", "full mediation"]      # lavaan's order
    assert c.table.loc["full mediation", "chisq.diff"] == pytest.approx(10.0)
    assert "partial mediation model fits significantly better than the full mediation model" in c.verdict
    c2 = H.compare_models(fm(100.0, 50, .95), fm(99.0, 49, .95), names=("constrained model", "free model"))
    assert c2.preferred == "constrained model" and "parsimonious constrained model" in c2.verdict


def test_compare_models_warns_on_different_variables():
    a, b = lavaan_result("seed_ops"), lavaan_result("seed_crm")
    a.fit_measures = dict(a.fit_measures, df=130)
    c = H.compare_models(a, b)
    assert any("different observed variables" in w for w in c.warnings)


# --------------------------------------------------------------------------- through sem.fit
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


def test_test_hypotheses_with_bootstrap_is_reproducible(inst):
    data = pd.read_csv(REF / "seed_survey_a.csv")
    a = H.test_hypotheses(data, inst, "ops", bootstrap=200, seed=11)
    b = H.test_hypotheses(data, inst, "ops", bootstrap=200, seed=11)
    pd.testing.assert_frame_equal(a.indirect, b.indirect)
    assert a.indirect.ci.iloc[0].startswith("bootstrap")
    r = a.indirect.iloc[0]
    assert r["ci.lower"] < r["est"] < r["ci.upper"]
    assert "boot.perc.lower" in a.indirect.columns


# --------------------------------------------------------------------------- any instrument
HS_INSTRUMENT = REF / "hs_abilities.yaml"     # VIS, TXT, single-item SPD; models direct/mediated/both/textual


@pytest.fixture(scope="module")
def abil():
    from crm_research.instruments import load_instrument

    return load_instrument(HS_INSTRUMENT)


@pytest.fixture(scope="module")
def hs():
    return pd.read_csv(REF / "HolzingerSwineford1939.csv")


_RENAME = {"visual": "VIS", "textual": "TXT", "speed": "SPD"}


def _lavaan(name):
    res = lavaan_result(name)
    e = res.estimates.copy()
    e["lhs"], e["rhs"] = e.lhs.replace(_RENAME), e.rhs.replace(_RENAME)
    res.estimates = e
    return res


@pytest.mark.parametrize("reliability, ref", [(None, "hs_si_zero"), (0.8, "hs_si_rel80")])
def test_model_with_single_item_outcome_matches_lavaan(abil, hs, reliability, ref):
    """Model "direct" is hs_si_zero.lav / hs_si_rel80.lav: the instrument writes the same fixed
    error variance, and the hypothesis table carries lavaan's numbers."""
    import dataclasses

    inst = abil
    if reliability is not None:
        spd = dataclasses.replace(abil.construct("SPD"), reliability=reliability)
        inst = dataclasses.replace(abil, constructs=tuple(spd if c.id == "SPD" else c for c in abil.constructs))
    t = H.test_model(hs, inst, "direct", missing="listwise")
    lav = _lavaan(ref)
    tab = t.hypotheses.set_index("hypothesis")
    for hid, x in (("Hb", "VIS"), ("Hc", "TXT")):
        row = lav_row(lav, "SPD", "~", x)
        for col in ("est", "se", "std.all", "pvalue"):
            assert tab.loc[hid, col] == pytest.approx(row[col], abs=1e-3), (hid, col)
    assert t.results["model"].fit_measures["chisq"] == pytest.approx(lav.fit_measures["chisq"], abs=1e-3)
    # R² of the single-item outcome (lavaan's inspect(fit, "r2"): .025 with error variance 0)
    assert H.r_squared(t.results["model"])["SPD"] == pytest.approx(H.r_squared(lav)["SPD"], abs=1e-3)
    assert t.comparison is None and t.partial_hypotheses is None      # no indirect effect declared
    assert (t.missing, t.n_used, t.n_input) == ("listwise", 301, 301)
    # the relative-effects parameters are the standardized paths lavaan reports
    rel = t.relative_effects.set_index("effect")
    assert rel.loc["std.SPD.VIS", "est"] == pytest.approx(lav_row(lav, "SPD", "~", "VIS")["std.all"], abs=1e-3)
    assert rel.loc["diff.SPD.VIS.TXT", "est"] == pytest.approx(
        rel.loc["std.SPD.VIS", "est"] - rel.loc["std.SPD.TXT", "est"], abs=1e-12)
    assert rel.loc["diff.SPD.VIS.TXT", "kind"] == "path difference"
    assert rel.loc["diff.SPD.VIS.TXT", "description"] == "(VIS \u2192 SPD) \u2212 (TXT \u2192 SPD)"
    d = rel.loc["diff.SPD.VIS.TXT"]
    assert d["ci.lower"] < d["est"] < d["ci.upper"] and d["ci"] == "delta"
    assert d["significant"] == (d["ci.lower"] > 0 or d["ci.upper"] < 0)


def test_relative_effects_with_an_endogenous_predictor(abil, hs):
    """Model "both": SPD ~ VIS + TXT with TXT ~ VIS.  The := standardized paths use the implied
    variances through TXT and must equal the std.all the standardization computes."""
    syntax = H.relative_effects_syntax(abil, "both")
    assert "var.TXT :=" in syntax and "var.SPD :=" in syntax and "cov.TXT.VIS :=" in syntax
    t = H.test_model(hs, abil, "both", missing="listwise")
    est = t.results["model"].estimates
    rel = t.relative_effects.set_index("effect")
    for x in ("VIS", "TXT"):
        std = est[(est.op == "~") & (est.lhs == "SPD") & (est.rhs == x)]["std.all"].iloc[0]
        assert rel.loc[f"std.SPD.{x}", "est"] == pytest.approx(std, abs=1e-9)
        assert rel.loc[f"std.SPD.{x}", "se"] > 0
    # same fit as the plain model: the labels only name parameters
    from crm_research import instruments, sem

    plain = sem.fit(instruments.structural_syntax(abil, "both"), hs)
    assert t.results["model"].fit_measures["chisq"] == pytest.approx(plain.fit_measures["chisq"], abs=1e-8)
    # the direct path of the declared indirect effect is in the model: no partial alternative
    assert t.comparison is None and len(t.mediation) == 1
    assert list(t.indirect.effect) == ["ind_VIS_SPD"]            # relative-effect helpers left out


def test_no_multi_predictor_outcome_gives_plain_syntax_and_empty_table(abil, hs):
    from crm_research import instruments

    assert H.relative_effects_syntax(abil, "textual") == instruments.structural_syntax(abil, "textual")
    t = H.test_model(hs, abil, "textual", missing="listwise")
    assert t.relative_effects.empty
    assert list(t.relative_effects.columns) == ["effect", "kind", "outcome", "predictor", "other", "mediator",
                                                "description", "est", "se", "ci.lower", "ci.upper",
                                                "significant", "ci"]
    assert H.relative_effects(lavaan_result("hs_cfa")).empty


def test_mediated_model_is_compared_with_its_partial_alternative(abil, hs):
    t = H.test_model(hs, abil, "mediated", missing="listwise")
    both = H.test_model(hs, abil, "both", missing="listwise")
    assert t.comparison is not None and t.comparison.df_diff == 1
    # the partial model of "mediated" is "both"
    assert t.results["partial"].fit_measures["chisq"] == pytest.approx(
        both.results["model"].fit_measures["chisq"], abs=1e-6)
    assert t.comparison.chisq_diff == pytest.approx(t.results["model"].fit_measures["chisq"]
                                                    - both.results["model"].fit_measures["chisq"], abs=1e-9)
    assert "Mediation" in t.summary() and t.mediation.iloc[0].path == "VIS \u2192 TXT \u2192 SPD"


def test_alone_vs_together_refits_one_model_per_predictor(abil, hs):
    from crm_research import sem

    t = H.test_model(hs, abil, "direct", missing="listwise")
    avt = H.alone_vs_together(hs, abil, t)
    assert list(avt.predictor) == ["VIS", "TXT"] and set(avt.outcome) == {"SPD"}
    a = avt.set_index("predictor")
    est = t.results["model"].estimates
    for x in ("VIS", "TXT"):
        assert a.loc[x, "beta_together"] == pytest.approx(
            est[(est.op == "~") & (est.rhs == x)]["std.all"].iloc[0], abs=1e-12)
    # TXT alone is the model "textual"; VIS alone is SPD ~ VIS
    alone_txt = H.test_model(hs, abil, "textual", missing="listwise").hypotheses.set_index("hypothesis")
    assert a.loc["TXT", "beta_alone"] == pytest.approx(alone_txt.loc["Hc", "std.all"], abs=1e-8)
    vis = sem.fit("VIS =~ x1 + x2 + x3\nSPD =~ x7\nx7 ~~ 0*x7\nSPD ~ VIS", hs)
    assert a.loc["VIS", "beta_alone"] == pytest.approx(vis.get("SPD", "~", "VIS")["std.all"], abs=1e-8)
    assert a.loc["TXT", "change"] == pytest.approx(a.loc["TXT", "beta_together"] - a.loc["TXT", "beta_alone"])
    assert set(avt.attrs["fits"]) == {"SPD ~ VIS", "SPD ~ TXT"} and (avt.n == 301).all()
    # from a plain SEMResult (paths read from its regressions) the same table
    again = H.alone_vs_together(hs, abil, t.results["model"], missing="listwise")
    pd.testing.assert_frame_equal(avt, again)
    assert H.alone_vs_together(hs, abil, H.test_model(hs, abil, "textual", missing="listwise")).empty


def test_missing_ml_uses_every_respondent_listwise_only_complete_ones(abil):
    d = pd.read_csv(REF / "hs_missing.csv")
    items = [f"x{i}" for i in range(1, 8)]
    ml = H.test_model(d, abil, "direct", missing="ml")
    lw = H.test_model(d, abil, "direct", missing="listwise")
    assert ml.n_input == lw.n_input == len(d) == 301
    assert ml.n_used == int(d[items].notna().any(axis=1).sum()) == 300       # row 8 is empty
    assert lw.n_used == int(d[items].notna().all(axis=1).sum()) < 260
    assert "full-information ML" in ml.summary() and "listwise deletion" in lw.summary()
    assert ml.results["model"].missing == "ml" and lw.results["model"].missing == "listwise"
    assert ml.hypotheses.loc[0, "est"] != pytest.approx(lw.hypotheses.loc[0, "est"], abs=1e-4)


def test_fiml_bootstrap_through_test_model(abil):
    d = pd.read_csv(REF / "hs_missing.csv")
    a = H.test_model(d, abil, "direct", missing="ml", bootstrap=60, seed=4)
    b = H.test_model(d, abil, "direct", missing="ml", bootstrap=60, seed=4)
    pd.testing.assert_frame_equal(a.relative_effects, b.relative_effects)
    assert a.bootstrap == 60 and a.relative_effects.ci.iloc[0].startswith("bootstrap")
    draws = H.bootstrap_draws(a.results["model"], "diff.SPD.VIS.TXT")
    assert len(draws) == a.results["model"].bootstrap.n_ok and draws.std() > 0
    r = a.relative_effects.set_index("effect").loc["diff.SPD.VIS.TXT"]
    assert r["ci.lower"] < r["est"] < r["ci.upper"]


def test_bad_arguments_are_named(abil, hs):
    with pytest.raises(InstrumentError, match="nope"):
        H.test_model(hs, abil, "nope")
    with pytest.raises(ModelError, match="casewise"):
        H.test_model(hs, abil, "direct", missing="casewise")
    holes = hs.copy()
    holes.loc[:9, "x1"] = np.nan
    with pytest.raises(ConfigError, match="missing = 'pairwise' is not available with estimator ML"):
        H.test_model(holes, abil, "direct", missing="pairwise")
    with pytest.raises(ConfigError, match="test_model: estimator: .*got 'MLX'"):
        H.test_model(hs, abil, "direct", estimator="MLX")
    with pytest.raises(ConfigError, match="test_model: se: expected one of"):
        H.test_model(hs, abil, "direct", estimator="MLR", se="sandwich")
    with pytest.raises(ModelError, match="bootstrap intervals need estimator ML"):
        H.test_model(hs, abil, "direct", estimator="MLR", bootstrap=100)
    with pytest.raises(ModelError, match="bootstrap"):
        H.fit_model("f =~ x1 + x2 + x3", hs, bootstrap=-5)
    with pytest.raises(InstrumentError, match="nope"):
        H.relative_effects_syntax(abil, "nope")
    with pytest.raises(ModelError, match="not fitted with a bootstrap"):
        H.bootstrap_draws(lavaan_result("hs_cfa"), "x")


def test_r_squared_is_one_minus_standardized_residual_variance():
    r2 = H.r_squared(lavaan_result("hs_si_zero"))
    # lavaan's inspect(fit, "r2") for speed: .025
    assert r2 == {"speed": pytest.approx(0.025, abs=5e-4)}


def test_compare_with_population_implied_betas():
    R = pd.DataFrame([[1, .5, .4], [.5, 1, .3], [.4, .3, 1]], index=["A", "B", "Y"], columns=["A", "B", "Y"])
    pop = SimpleNamespace(standardized_parameters=lambda: pd.DataFrame(
        {"lhs": ["A"], "op": ["=~"], "rhs": ["a1"], "std.all": [0.8]}), latent_correlations=lambda: R)
    est = pd.DataFrame({"lhs": ["A", "Y", "Y"], "op": ["=~", "~", "~"], "rhs": ["a1", "A", "B"],
                        "est": [1, .3, .2], "std.all": [.75, .35, .12]})
    out = H.compare_with_population(est, pop).set_index(["lhs", "op", "rhs"])
    # beta = R_xx^-1 r_xy: [[1, .5], [.5, 1]]^-1 [.4, .3] = [(.4 - .15), (.3 - .2)] / .75
    assert out.loc[("Y", "~", "A"), "population"] == pytest.approx(0.25 / 0.75)
    assert out.loc[("Y", "~", "B"), "population"] == pytest.approx(0.10 / 0.75)
    assert out.loc[("A", "=~", "a1"), "difference"] == pytest.approx(-0.05)


def test_instrument_single_item_outcome_by_fiml_matches_lavaan():
    """The bundled instrument with LOY measured by LOY1 alone (reliability .80), model "ops",
    on eco_missing.csv by FIML: test_model fits what lavaan fitted for eco_si_fiml.ml.json
    (the syntax written by the instrument, the error variance from the observed answers)."""
    import json

    import yaml

    from crm_research.instruments import instrument_from_dict

    raw = yaml.safe_load((REF.parents[2] / "surveys" / "ecommerce_crm.yaml").read_text(encoding="utf-8"))
    loy = next(c for c in raw["constructs"] if c["id"] == "LOY")
    loy["items"], loy["reliability"] = loy["items"][:1], 0.8
    inst = instrument_from_dict(raw, source="LOY single item")
    data = pd.read_csv(REF / "eco_missing.csv")
    t = H.test_model(data, inst, "ops", missing="ml", partial=False)
    assert (t.missing, t.n_used, t.n_input) == ("ml", 400, 400)
    ref = json.loads((REF / "eco_si_fiml.ml.json").read_text())
    lav = pd.DataFrame(ref["estimates"])
    tab = t.hypotheses.set_index("hypothesis")
    for hid, (lhs, rhs) in {"H1": ("SAT", "OPS"), "H2": ("LOY", "SAT")}.items():
        row = lav[(lav.lhs == lhs) & (lav.op == "~") & (lav.rhs == rhs)].iloc[0]
        for col in ("est", "se", "std.all"):
            assert tab.loc[hid, col] == pytest.approx(row[col], abs=1e-3), (hid, col)
    ind = lav[lav.lhs == "ind_OPS_LOY"].iloc[0]
    assert t.indirect.set_index("effect").loc["ind_OPS_LOY", "est"] == pytest.approx(ind["est"], abs=1e-3)
    assert t.results["model"].fit_measures["chisq"] == pytest.approx(ref["fit_measures"]["chisq"], abs=1e-3)


def test_full_vs_partial_mediation_by_fiml_matches_lavaan_lrt():
    """test_model's comparison of the single-item FIML model with its partial alternative is
    lavaan's lavTestLRT of eco_si_fiml vs eco_si_fiml_partial (lrt_eco_si_fiml.json)."""
    import json

    import yaml

    from crm_research.instruments import instrument_from_dict

    raw = yaml.safe_load((REF.parents[2] / "surveys" / "ecommerce_crm.yaml").read_text(encoding="utf-8"))
    loy = next(c for c in raw["constructs"] if c["id"] == "LOY")
    loy["items"], loy["reliability"] = loy["items"][:1], 0.8
    inst = instrument_from_dict(raw, source="LOY single item")
    t = H.test_model(pd.read_csv(REF / "eco_missing.csv"), inst, "ops", missing="ml")
    lrt = pd.DataFrame(json.loads((REF / "lrt_eco_si_fiml.json").read_text())["table"]).iloc[1]
    c = t.comparison
    assert c.chisq_diff == pytest.approx(lrt["Chisq.diff"], abs=1e-3) and c.df_diff == int(lrt["Df.diff"])
    assert c.pvalue == pytest.approx(lrt["p"], abs=1e-3) and c.rmsea_diff == pytest.approx(lrt["RMSEA"], abs=1e-6)
    assert c.preferred == "full mediation"
    assert t.results["partial"].missing == "ml" and t.results["partial"].nobs == 400


def test_tables_carry_the_confidence_level_of_their_intervals():
    from scipy.stats import norm

    from crm_research.instruments import load_instrument

    inst = load_instrument(HS_INSTRUMENT)
    hs = pd.read_csv(REF / "HolzingerSwineford1939.csv")
    res = H.fit_model(H.relative_effects_syntax(inst, "both"), hs, ci_level=0.90)
    assert res.estimates.attrs["ci.level"] == 0.90
    rel = H.relative_effects(res)
    ind = H.indirect_effects(res)
    hyp = H.hypothesis_table(res, inst, "both")
    med = H.mediation_table(res)
    for t in (rel, ind, hyp, med):
        assert t.attrs["ci.level"] == 0.90
    z = norm.ppf(0.95)   # the 90% Wald interval
    assert np.allclose(rel["ci.upper"] - rel["est"], z * rel["se"], rtol=1e-9)
    assert np.allclose(hyp["ci.upper"] - hyp["est"], z * hyp["se"], rtol=1e-9)
    assert H.hypothesis_table(H.fit_model(H.relative_effects_syntax(inst, "both"), hs), inst,
                              "both").attrs["ci.level"] == 0.95

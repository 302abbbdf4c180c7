"""CB-SEM and PLS-SEM on one instrument (crm_research.methods, issue 14).

* the PLS path model is written from any instrument (first-order constructs mode A, composites on
  request, second-order constructs by their dimensions, single items, one ``~`` line per outcome)
  and reproduces seminr's Python port (an independent PLS implementation) on the test instrument
  and on the bundled second-order model;
* the PLS verdict reads the bootstrap interval (excludes 0 on the expected side);
* the side-by-side table and the sentence that names where the methods disagree;
* bad input gets a clear error naming the option, model or column.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from crm_research import methods, pls, study
from crm_research.errors import ConfigError, DataFileError, InstrumentError, ModelError
from crm_research.instruments import Hypothesis, load_instrument

ROOT = Path(__file__).resolve().parents[1]
SQ_DIR = ROOT / "tests" / "data" / "service_quality"
SQ = load_instrument(SQ_DIR / "service_quality.yaml")
BUNDLED = load_instrument(ROOT / "surveys" / "ecommerce_crm.yaml")
HS = pd.read_csv(ROOT / "tests" / "reference" / "lavaan" / "HolzingerSwineford1939.csv")
HS_INST = load_instrument(ROOT / "tests" / "reference" / "lavaan" / "hs_abilities.yaml")


@pytest.fixture(scope="module")
def sq_sample():
    return study.load_study_sample(SQ_DIR / "responses.csv", SQ, None)


@pytest.fixture(scope="module")
def bundled_sample():
    return study.load_study_sample(None, BUNDLED, ROOT / "surveys" / "ecommerce_crm_population.yaml", n=400, seed=3)


# --------------------------------------------------------------------------- the PLS path model
@pytest.mark.parametrize("inst, model", [(SQ, "core"), (SQ, "extended"), (BUNDLED, "ops"), (BUNDLED, "crm"),
                                         (BUNDLED, "combined"), (HS_INST, "mediated")])
def test_syntax_holds_the_models_constructs_items_and_hypotheses(inst, model):
    spec = pls.parse_model(methods.pls_syntax(inst, model))
    assert sorted(spec.indicators) == sorted(study.model_items(inst, model))
    for hid in inst.models[model].hypotheses:
        h = inst.hypothesis(hid)
        assert h.rhs in spec.structural[h.lhs], hid
    assert set(spec.modes.values()) == {"A"}                  # reflective unless asked otherwise
    for c in inst.higher_order:
        if c.id in spec.constructs:
            assert spec.higher_order[c.id] == c.dimensions


def test_syntax_of_the_bundled_second_order_model():
    text = methods.pls_syntax(BUNDLED, "ops")
    assert "OPS =~ PF + SQ + LE + UI" in text.splitlines()
    assert "SAT ~ OPS" in text and "LOY ~ SAT" in text
    assert "~~" not in text and ":=" not in text and "*" not in text   # no fixed variances, labels, definitions


def test_single_items_have_no_fixed_error_variance():
    text = methods.pls_syntax(SQ, "core")            # REC states a reliability: CB-SEM fixes NPS ~~ v*NPS
    assert "REC =~ NPS" in text.splitlines() and "NPS ~~" not in text


def test_composites_on_request_and_bad_ones_refused():
    text = methods.pls_syntax(SQ, "core", composite=["FEES"])
    assert "FEES <~ FE1 + FE2 + FE3" in text.splitlines() and "STAFF =~ ST1 + ST2 + ST3" in text.splitlines()
    with pytest.raises(ConfigError, match="composite: TRUST: is not a first-order construct of model 'core'"):
        methods.pls_syntax(SQ, "core", composite=["TRUST"])        # not in model core
    with pytest.raises(ConfigError, match="OPS"):
        methods.pls_syntax(BUNDLED, "ops", composite=["OPS"])       # higher-order


def test_unknown_model_names_the_known_ones():
    with pytest.raises(InstrumentError, match="no model 'nope'.*core, extended"):
        methods.pls_syntax(SQ, "nope")


# --------------------------------------------------------------------------- against seminr's port
def test_paths_match_seminr_on_the_test_instrument(sq_sample):
    seminr = pytest.importorskip("seminr")
    t = methods.test_pls_model(sq_sample.items, SQ, "extended", bootstrap=0)
    d = sq_sample.items[study.model_items(SQ, "extended")].dropna().reset_index(drop=True)
    assert t.nobs == len(d) == sq_sample.n_analysed("listwise", study.model_items(SQ, "extended"))
    mm = seminr.constructs(*[seminr.composite(c, SQ.items_of(c)) for c in ("STAFF", "DIGI", "FEES", "TRUST", "OSAT", "REC")])
    sm = seminr.relationships(seminr.paths(["STAFF", "DIGI", "FEES", "TRUST"], "OSAT"), seminr.paths("OSAT", "REC"))
    ref = seminr.estimate_pls(d, mm, sm).path_coef
    rows, cols = list(ref.rows), list(ref.cols)
    for r in t.result.paths.itertuples(index=False):
        assert r.est == pytest.approx(ref.values[rows.index(r.rhs), cols.index(r.lhs)], abs=1e-6), (r.lhs, r.rhs)
    assert len(t.result.paths) == 5


def test_two_stage_second_order_matches_seminr(bundled_sample):
    seminr = pytest.importorskip("seminr")
    inst = BUNDLED
    t = methods.test_pls_model(bundled_sample.items, inst, "ops", bootstrap=0, higher_order="two_stage")
    d = bundled_sample.items[study.model_items(inst, "ops")].dropna().reset_index(drop=True)
    mm = seminr.constructs(*[seminr.composite(c, inst.items_of(c)) for c in ("PF", "SQ", "LE", "UI", "SAT", "LOY")],
                           seminr.higher_composite("OPS", ["PF", "SQ", "LE", "UI"]))
    ref = seminr.estimate_pls(d, mm, seminr.relationships(seminr.paths("OPS", "SAT"), seminr.paths("SAT", "LOY"))).path_coef
    rows, cols = list(ref.rows), list(ref.cols)
    got = t.hypotheses.set_index("hypothesis")["est"]
    assert got["H1"] == pytest.approx(ref.values[rows.index("OPS"), cols.index("SAT")], abs=1e-6)
    assert got["H2"] == pytest.approx(ref.values[rows.index("SAT"), cols.index("LOY")], abs=1e-6)
    assert t.second_order == {"OPS": ("PF", "SQ", "LE", "UI")}


def test_repeated_indicators_keep_the_dimensions_out_of_the_outcomes(bundled_sample):
    t = methods.test_pls_model(bundled_sample.items, BUNDLED, "combined", bootstrap=0)
    assert t.outcomes == ["SAT", "LOY"] and set(t.r2) == {"SAT", "LOY"}
    assert set(t.higher_order) == {"OPS", "CRM"}
    paths = t.result.paths
    assert len(paths[(paths.lhs == "PF") & (paths.rhs == "OPS")]) == 1   # second-order path of the repeated indicators
    so = t.second_order_paths
    assert list(zip(so.lhs, so.rhs)) == [("OPS", d) for d in ("PF", "SQ", "LE", "UI")] + [("CRM", d) for d in ("CS", "CC", "CM")]
    assert so.set_index("rhs").loc["SQ", "est"] == paths[(paths.lhs == "SQ") & (paths.rhs == "OPS")]["est"].iloc[0]
    assert not t.loadings["lhs"].isin(["OPS", "CRM"]).any() and not t.reliability["construct"].isin(["OPS", "CRM"]).any()
    assert not any({a, b} == {"OPS", "PF"} for a, b in zip(t.htmt.lhs, t.htmt.rhs))     # shares its items
    two = methods.test_pls_model(bundled_sample.items, BUNDLED, "combined", bootstrap=0, higher_order="two_stage")
    assert two.second_order_paths.empty and set(two.loadings.loc[two.loadings.lhs == "OPS", "rhs"]) == {"PF", "SQ", "LE", "UI"}


# --------------------------------------------------------------------------- verdicts
def _paths(est, lo, hi, lhs="Y", rhs="X"):
    return pd.DataFrame({"lhs": [lhs], "op": ["~"], "rhs": [rhs], "est": [est], "se": [0.1], "t": [est / 0.1],
                         "pvalue": [0.5], "ci.lower": [lo], "ci.upper": [hi]})


@pytest.mark.parametrize("sign, est, lo, hi, supported, verdict", [
    ("positive", 0.30, 0.10, 0.50, True, "supported"),
    ("positive", 0.05, -0.10, 0.20, False, "not supported (CI includes 0)"),
    ("positive", -0.30, -0.50, -0.10, False, "not supported (significant, opposite sign)"),
    ("negative", -0.30, -0.50, -0.10, True, "supported"),
    ("negative", 0.30, 0.10, 0.50, False, "not supported (significant, opposite sign)"),
    ("positive", 0.30, np.nan, np.nan, None, "not tested (no bootstrap)"),
])
def test_the_pls_verdict_reads_the_interval(sign, est, lo, hi, supported, verdict):
    t = methods.pls_hypothesis_table(_paths(est, lo, hi), [Hypothesis("Hx", "Y", "X", sign=sign)])
    assert t.loc[0, "supported"] is supported and t.loc[0, "verdict"] == verdict
    assert t.loc[0, "expected"] == {"positive": "+", "negative": "-"}[sign]
    assert list(t.columns) == ["hypothesis", "path", "expected", "est", "se", "t", "pvalue", "ci.lower", "ci.upper",
                               "supported", "verdict"]


def test_bad_hypothesis_tables_are_refused():
    with pytest.raises(ModelError, match="hypothesis Hz \\(Z → Y\\) is not a path of the PLS model"):
        methods.pls_hypothesis_table(_paths(0.3, 0.1, 0.5), [Hypothesis("Hz", "Y", "Z")])
    with pytest.raises(ConfigError, match="alpha"):
        methods.pls_hypothesis_table(_paths(0.3, 0.1, 0.5), [Hypothesis("Hx", "Y", "X")], alpha=1.5)
    with pytest.raises(ModelError, match="PLS result"):
        methods.pls_hypothesis_table(pd.DataFrame({"a": [1]}), [Hypothesis("Hx", "Y", "X")])


# --------------------------------------------------------------------------- fitting: bad input
def test_test_pls_model_refuses_bad_input(sq_sample):
    with pytest.raises(DataFileError, match="no column for item\\(s\\) NPS of model 'core'"):
        methods.test_pls_model(sq_sample.items.drop(columns=["NPS"]), SQ, "core", bootstrap=0)
    with pytest.raises(ConfigError, match="higher_order"):
        methods.test_pls_model(sq_sample.items, SQ, "core", bootstrap=0, higher_order="disjoint")
    with pytest.raises(ConfigError, match="bootstrap"):
        methods.test_pls_model(sq_sample.items, SQ, "core", bootstrap=1)
    with pytest.raises(ConfigError, match="alpha"):
        methods.test_pls_model(sq_sample.items, SQ, "core", bootstrap=0, alpha=0)
    with pytest.raises(InstrumentError, match="no model"):
        methods.test_pls_model(sq_sample.items, SQ, "nope", bootstrap=0)


def test_declared_indirect_effect_is_the_product_of_its_paths(sq_sample):
    t = methods.test_pls_model(sq_sample.items, SQ, "core", bootstrap=0)
    p = t.result.paths.set_index(["lhs", "rhs"])["est"]
    ind = t.indirect.set_index("name")
    assert ind.loc["ind_STAFF_REC", "est"] == pytest.approx(p[("OSAT", "STAFF")] * p[("REC", "OSAT")], abs=1e-12)
    assert ind.loc["ind_STAFF_REC", "path"] == "STAFF → OSAT → REC"
    assert ind.loc["ind_STAFF_REC", "significant"] is None                # no bootstrap, no verdict


@pytest.mark.slow
def test_with_a_bootstrap_verdicts_follow_the_intervals(sq_sample):
    t = methods.test_pls_model(sq_sample.items, SQ, "core", bootstrap=200, seed=11, alpha=0.10)
    h = t.hypotheses
    assert h.attrs["ci.level"] == pytest.approx(0.90)
    assert h["se"].notna().all() and (h["ci.lower"] < h["est"]).all() and (h["est"] < h["ci.upper"]).all()
    assert list(h["supported"]) == [bool(lo > 0) for lo in h["ci.lower"]]        # all hypotheses positive
    again = methods.test_pls_model(sq_sample.items, SQ, "core", bootstrap=200, seed=11, alpha=0.10)
    pd.testing.assert_frame_equal(again.hypotheses, h)                           # a seed gives the same run
    ind = t.indirect.iloc[0]
    assert ind["ci.lower"] < ind["est"] < ind["ci.upper"] and ind["significant"] == bool(ind["ci.lower"] > 0)


# --------------------------------------------------------------------------- side by side
CB = pd.DataFrame({"hypothesis": ["Ha", "Hb", "Hc"], "path": ["X → Y", "Z → Y", "Y → W"], "expected": ["+", "+", "+"],
                   "std.all": [0.45, 0.20, 0.05], "est": [0.9, 0.4, 0.1], "pvalue": [0.0001, 0.01, 0.40],
                   "ci.lower": [0.6, 0.1, -0.1], "ci.upper": [1.2, 0.7, 0.3], "supported": [True, True, False],
                   "verdict": ["supported", "supported", "not supported (p = .400 ≥ .05)"]})
PL = pd.DataFrame({"hypothesis": ["Ha", "Hb", "Hc"], "path": ["X → Y", "Z → Y", "Y → W"], "expected": ["+", "+", "+"],
                   "est": [0.40, 0.08, 0.15], "pvalue": [0.0, 0.21, 0.03], "ci.lower": [0.28, -0.04, 0.02],
                   "ci.upper": [0.52, 0.20, 0.27], "supported": [True, False, True],
                   "verdict": ["supported", "not supported (CI includes 0)", "supported"]})


def test_compare_methods_sets_the_verdicts_side_by_side():
    t = methods.compare_methods(CB, PL)
    assert list(t.columns) == methods.COMPARISON_COLUMNS
    assert list(t["hypothesis"]) == ["Ha", "Hb", "Hc"]
    assert list(t["est.cbsem"]) == [0.45, 0.20, 0.05]                         # the standardized CB-SEM path
    assert list(t["agree"]) == [True, False, False]
    assert t["difference"].round(6).tolist() == [-0.05, -0.12, 0.10]


def test_a_hypothesis_only_one_method_tested():
    pl = PL.astype({"supported": object})
    pl.loc[2, ["ci.lower", "ci.upper", "supported", "verdict"]] = [np.nan, np.nan, None, "not tested (no bootstrap)"]
    t = methods.compare_methods(CB, pl.iloc[[2, 0]])                          # order follows the CB-SEM table
    assert list(t["hypothesis"]) == ["Ha", "Hb", "Hc"] and t.loc[2, "agree"] is None
    assert pd.isna(t.loc[1, "est.pls"]) and t.loc[1, "agree"] is None          # Hb: not in the PLS table
    text = methods.describe_disagreements(t)
    assert "Hb and Hc could not be compared" in text and "disagree" not in text


def test_the_report_says_where_the_methods_disagree():
    text = methods.describe_disagreements(methods.compare_methods(CB, PL))
    assert ("**The methods disagree on Hb** (Z → Y): CB-SEM supports it (β = .20, p = .010), PLS-SEM does not "
            "(path = .08, 95% CI [−.04, .20]).") in text
    assert ("**The methods disagree on Hc** (Y → W): PLS-SEM supports it (path = .15, 95% CI [.02, .27]), "
            "CB-SEM does not (β = .05, p = .400).") in text
    assert "They agree on Ha (supported by both)." in text
    assert "The largest difference between the two estimates is .12 (Hb)." in text


def test_agreement_is_said_too():
    pl = PL.copy()
    pl.loc[1, ["supported", "verdict"]] = [True, "supported"]
    pl.loc[2, ["supported", "verdict"]] = [False, "not supported (CI includes 0)"]
    text = methods.describe_disagreements(methods.compare_methods(CB, pl))
    assert text.startswith("**CB-SEM and PLS-SEM agree on every hypothesis tested:** Ha and Hb (supported by both) "
                           "and on Hc (supported by neither).")


def test_side_by_side_refuses_other_tables():
    with pytest.raises(ModelError, match="CB-SEM hypothesis table"):
        methods.compare_methods(pd.DataFrame({"x": [1]}), PL)
    with pytest.raises(ModelError, match="compare_methods"):
        methods.describe_disagreements(CB)
    with pytest.raises(ModelError, match="compare_methods"):
        methods.methods_plot(CB)


def test_methods_plot_draws_both_estimates():
    import matplotlib

    matplotlib.use("Agg")
    fig = methods.methods_plot(methods.compare_methods(CB, PL))
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["Hc: Y → W", "Hb: Z → Y", "Ha: X → Y"]
    assert {t.get_text() for t in ax.get_legend().get_texts()} == {"PLS-SEM", "CB-SEM (β)"}


def test_records_of_a_run(tmp_path, monkeypatch, sq_sample):
    from crm_research.reporting.results import read_records

    monkeypatch.setenv("CRM_RESEARCH_RUN_DIR", str(tmp_path))
    t = methods.test_pls_model(sq_sample.items, SQ, "core", bootstrap=0)
    methods.record_pls(t)
    methods.record_comparison(methods.compare_methods(CB, PL))
    rec = {r["key"]: r for r in read_records(tmp_path)}
    assert rec["p1_pls_path"]["value"] == pytest.approx(t.hypotheses.set_index("hypothesis").loc["P1", "est"])
    assert rec["p1_pls_supported"]["value"] is None                          # no bootstrap: not tested
    assert rec["r2_OSAT"]["value"] == pytest.approx(t.r2["OSAT"]) and "r2_STAFF" not in rec
    assert rec["methods_disagree"]["value"] == 2 and rec["methods_disagree_on"]["value"] == "Hb, Hc"


def test_cbsem_intervals_are_those_of_the_standardized_path(sq_sample):
    """Given the CB-SEM test (not just its table), the CB-SEM interval beside β is β's own (lavaan's
    standardizedSolution, delta method without a bootstrap), matched to each hypothesis' path."""
    from crm_research import hypotheses, sem

    cb = hypotheses.test_model(sq_sample.items, SQ, "core", partial=False)
    pl = methods.test_pls_model(sq_sample.items, SQ, "core", bootstrap=0)
    t = methods.compare_methods(cb, pl)
    ss = sem.standardized_solution(cb.results["model"]).query("op == '~'").set_index(["lhs", "rhs"])
    for r in t.itertuples(index=False):
        rhs, lhs = r.path.split(" → ")
        assert r._5 == pytest.approx(ss.loc[(lhs, rhs), "ci.lower"]) and r._6 == pytest.approx(ss.loc[(lhs, rhs), "ci.upper"])
        assert r._5 < r._3 < r._6                                     # β inside its own interval
    assert t["agree"].map(lambda v: v is None).all()                  # PLS not bootstrapped: nothing compared
    plain = methods.compare_methods(cb.hypotheses, pl)                 # a table alone: no β interval
    assert plain["ci.lower.cbsem"].isna().all()


def test_the_table_states_the_level_of_the_fits_intervals():
    mobi = pd.read_csv(ROOT / "tests" / "data" / "ecsi" / "mobi.csv")
    res = pls.fit("IMAG =~ IMAG1 + IMAG2 + IMAG3\nCUSA =~ CUSA1 + CUSA2 + CUSA3\nCUSA ~ IMAG", mobi,
                  bootstrap=50, seed=1, ci_level=0.90)
    t = methods.pls_hypothesis_table(res, [Hypothesis("Ha", "CUSA", "IMAG")])
    assert t.attrs["ci.level"] == pytest.approx(0.90)
    assert t.loc[0, "ci.lower"] == res.paths.loc[0, "ci.lower"] and t.loc[0, "supported"] is True

"""Estimation options everywhere a user meets a model (issue 13, section 4).

* :mod:`crm_research.estimation`: lavaan's estimator/ordered/se/test checked up front with lavaan's
  rules (ordered items need a least-squares estimator, bootstrap needs ML, FIML needs ML/MLR),
  one clear line naming the parameter or option;
* the analyses (hypotheses.test_model, invariance, measurement) fitted by MLR or WLSMV give
  lavaan 0.6-14's numbers (references from tests/reference/lavaan/make_references_integration.R:
  int_*.json), name the estimation and judge fit by the scaled chi-square and robust indices;
* reports (fit tables, sentences, records, path diagrams) say which measures are robust;
* the ``fit``/``study``/``invariance`` commands take --estimator/--ordered/--se/--test.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from crm_research import estimation, hypotheses, instruments, measurement
from crm_research.cli import main
from crm_research.errors import ConfigError
from crm_research.invariance import measurement_invariance
from crm_research.reporting import fit_table
from crm_research.reporting.fitmeasures import is_robust, measure_label, reported_fit, reported_keys
from crm_research.reporting.narrative import describe_estimation, describe_fit, fit_rating

ROOT = Path(__file__).resolve().parents[1]
REF = ROOT / "tests" / "reference" / "lavaan"
HS = REF / "HolzingerSwineford1939.csv"
SQ_DIR = ROOT / "tests" / "data" / "service_quality"


def _ref(name: str) -> dict:
    return json.loads((REF / f"int_{name}.json").read_text())


def _row(est: pd.DataFrame, lhs: str, op: str, rhs: str) -> pd.Series:
    return est[(est.lhs == lhs) & (est.op == op) & (est.rhs == rhs)].iloc[0]


def _lav(ref_est: list, lhs: str, op: str, rhs: str) -> dict:
    return next(e for e in ref_est if (e["lhs"], e["op"], e["rhs"]) == (lhs, op, rhs))


@pytest.fixture(scope="module")
def hs():
    return pd.read_csv(HS)


@pytest.fixture(scope="module")
def abil():
    return instruments.load_instrument(REF / "hs_abilities.yaml")


# --------------------------------------------------------------------------- checking the options
@pytest.mark.parametrize("kw, match", [
    (dict(estimator="MLX"), "estimator: expected one of ML, MLM"),
    (dict(estimator=3), "estimator: expected one of"),
    (dict(estimator="ML", ordered=True), "estimator: ML cannot fit ordered .* WLSMV"),
    (dict(estimator="MLR", ordered="all"), "estimator: MLR cannot fit ordered"),
    (dict(estimator="MLR", se="bootstrap"), "se: bootstrap standard errors need estimator ML"),
    (dict(ordered=True, se="bootstrap"), "se: bootstrap standard errors need estimator ML"),
    (dict(estimator="MLR", se="sandwich"), "se: expected one of standard, robust.sem"),
    (dict(estimator="MLR", test="bollen.stine"), "test: expected one of standard, satorra.bentler"),
    (dict(ordered="A1,A1"), "ordered: item\\(s\\) named twice: A1"),
    (dict(ordered="A1,NOPE"), "ordered: not an item of the data: NOPE"),
    (dict(ordered=3.5), "ordered: expected 'all', True or a list"),
    (dict(estimator="auto"), "estimator: 'auto' must be resolved"),
    (dict(estimator="WLSMV"), "estimator: WLSMV .* no item is declared ordered"),
    (dict(estimator="dwls"), "estimator: DWLS .* no item is declared ordered"),
])
def test_bad_options_are_one_line_naming_the_parameter(kw, match):
    with pytest.raises(ConfigError, match=match) as e:
        estimation.check_estimation(items=["A1", "A2", "A3"], **kw)
    assert "\n" not in str(e.value) and str(e.value).startswith("parameters: ")


def test_options_are_normalised_as_lavaan_reads_them():
    e = estimation.check_estimation(" mlr ", se="Robust.Huber.White", test="YUAN.BENTLER")
    assert (e.estimator, e.se, e.test, e.robust) == ("MLR", "robust.huber.white", "yuan.bentler", True)
    assert estimation.check_estimation(None, ordered="all").estimator == "WLSMV"          # lavaan's default
    assert estimation.check_estimation("ulsmv", ordered=["A2"], items=["A1", "A2"]).ordered == ("A2",)
    plain = estimation.check_estimation("ML", se="standard", test="standard")
    assert plain.is_default and not plain.robust and plain.fit_kwargs() == {}
    assert estimation.parse_ordered("all") is True and estimation.parse_ordered(" a , b ") == ["a", "b"]
    assert estimation.parse_ordered("none") is None and estimation.parse_ordered(False) is None
    # CLI spelling: the option is named instead of "parameters"
    with pytest.raises(ConfigError, match=r"^--estimator: expected one of"):
        estimation.check_estimation("MLX", option_names={"estimator": "--estimator"})


def test_ordered_items_are_restricted_to_each_model():
    e = estimation.check_estimation(None, ordered="q1,q2,q3", items=["q1", "q2", "q3", "q4"])
    assert e.fit_kwargs(["q1", "q4"]) == {"estimator": "WLSMV", "ordered": ["q1"]}
    # no ordered item in this model: the default WLSMV came from `ordered` only, so plain ML
    assert e.fit_kwargs(["q4"]) == {}
    explicit = estimation.check_estimation("WLSMV", ordered="q1", items=["q1", "q4"])
    assert explicit.fit_kwargs(["q4"]) == {"estimator": "WLSMV"}
    assert estimation.check_estimation("MLR", ordered=None).fit_kwargs(["q4"]) == {"estimator": "MLR"}


@pytest.mark.parametrize("est, missing, has_missing, expected", [
    ("ML", "ml", True, "ml"), ("MLR", "ml", True, "ml"), ("MLR", "listwise", True, "listwise"),
    ("MLM", "ml", False, "listwise"), ("MLMV", "listwise", True, "listwise"),
    ("WLSMV", "pairwise", True, "pairwise"), ("WLSMV", "ml", False, "listwise"),
])
def test_missing_data_rules_of_lavaan(est, missing, has_missing, expected):
    """lavaan 0.6-14: missing = "ml" with ML/MLR only; ordinal data: listwise or pairwise.  Without
    missing values every treatment is the complete-data fit."""
    e = estimation.check_estimation(est, ordered="all" if est == "WLSMV" else None)
    assert estimation.resolve_missing(e, missing, has_missing)[0] == expected


@pytest.mark.parametrize("est, ordered, missing, words", [
    ("MLM", None, "ml", "missing = 'ml' is not available with estimator MLM .*use estimator MLR"),
    ("WLSMV", "all", "ml", "missing = 'ml' is not available with ordered .*pairwise"),
    ("ML", None, "pairwise", "missing = 'pairwise' is not available with estimator ML"),
])
def test_missing_data_a_estimator_cannot_use_is_an_error_when_answers_are_missing(est, ordered, missing, words):
    e = estimation.check_estimation(est, ordered=ordered)
    with pytest.raises(ConfigError, match=words):
        estimation.resolve_missing(e, missing, True)


def test_choice_without_a_missing_option_takes_the_estimators_own():
    d = pd.DataFrame({"a": [1, 2, np.nan, 4, 3], "b": [2, 3, 4, 5, 1]})
    c = estimation.choose_estimation(d, ["a", "b"], None, "all", missing="ml", missing_given=False)
    assert c.missing == "pairwise" and "pairwise" in c.notes[0]
    c = estimation.choose_estimation(d, ["a", "b"], "MLM", missing="ml", missing_given=False)
    assert c.missing == "listwise"
    with pytest.raises(ConfigError, match="--missing: missing = 'ml' is not available"):
        estimation.choose_estimation(d, ["a", "b"], "MLM", missing="ml", option_names={"missing": "--missing"})


def test_estimation_of_a_fit_refits_the_same_way(hs):
    from crm_research import sem

    res = sem.fit("visual =~ x1 + x2 + x3\ntextual =~ x4 + x5 + x6", hs, estimator="MLR")
    e = estimation.estimation_of(res)
    assert e.estimator == "MLR" and not e.is_default
    again = estimation.fit_model("visual =~ x1 + x2 + x3", hs, e, missing="listwise")
    assert again.estimator == "MLR" and again.se_type == res.se_type and again.test == res.test


# --------------------------------------------------------------------------- which measures a report shows
def test_reported_measures_prefer_robust_then_scaled_then_standard():
    fm = {"chisq": 10.0, "df": 5, "pvalue": 0.07, "chisq.scaled": 8.0, "df.scaled": 5, "pvalue.scaled": 0.16,
          "cfi": 0.90, "cfi.scaled": 0.92, "cfi.robust": np.nan, "tli": 0.8, "tli.robust": 0.85,
          "rmsea": 0.10, "rmsea.ci.lower": 0.05, "rmsea.ci.upper": 0.15, "rmsea.robust": 0.07,
          "rmsea.ci.lower.robust": 0.03, "rmsea.ci.upper.robust": 0.11, "srmr": 0.05}
    k = reported_keys(fm)
    assert (k["chisq"], k["pvalue"], k["cfi"], k["tli"], k["rmsea"], k["rmsea.ci.lower"], k["srmr"]) == (
        "chisq.scaled", "pvalue.scaled", "cfi.scaled", "tli.robust", "rmsea.robust", "rmsea.ci.lower.robust", "srmr")
    shown = reported_fit(fm)
    assert shown["cfi"] == 0.92 and shown["rmsea"] == 0.07 and shown["chisq"] == 8.0
    assert is_robust(fm) and not is_robust({"chisq": 1.0, "cfi": 0.99, "cfi.robust": None})
    assert measure_label("tli.robust") == "robust TLI" and measure_label("cfi.scaled") == "scaled CFI"
    # ratings follow the measures shown: robust TLI .85 is poor, standard TLI .80 would be too; CFI .92 acceptable
    assert fit_rating(fm)["cfi"] == "acceptable" and fit_rating({"cfi": 0.90, "cfi.robust": 0.96})["cfi"] == "good"


# --------------------------------------------------------------------------- analyses vs lavaan
def test_test_model_by_mlr_gives_lavaans_numbers(hs, abil):
    ref = _ref("mediated_mlr")
    t = hypotheses.test_model(hs, abil, "mediated", estimator="MLR", missing="listwise")
    res = t.results["model"]
    fm, lf = res.fit_measures, ref["fit_measures"]
    for k in ("chisq", "chisq.scaled", "pvalue.scaled", "cfi.robust", "tli.robust", "rmsea.robust",
              "rmsea.ci.lower.robust", "rmsea.ci.upper.robust", "cfi.scaled", "rmsea.scaled", "srmr"):
        assert fm[k] == pytest.approx(lf[k], abs=1e-3), k
    est = t.hypotheses.set_index("hypothesis")
    for hid, (lhs, rhs) in {"Ha": ("TXT", "VIS"), "Hc": ("SPD", "TXT")}.items():
        lav = _lav(ref["estimates"], lhs, "~", rhs)
        assert float(est.loc[hid, "se"]) == pytest.approx(lav["se"], abs=1e-3)          # Huber-White SE
        assert float(est.loc[hid, "pvalue"]) == pytest.approx(lav["pvalue"], abs=1e-3)
    ind = t.indirect.set_index("effect").loc["ind_VIS_SPD"]
    lav = _lav(ref["estimates"], "ind_VIS_SPD", ":=", "ha*hc")
    assert float(ind["est"]) == pytest.approx(lav["est"], abs=1e-3)
    assert float(ind["ci.lower"]) == pytest.approx(lav["ci.lower"], abs=1e-3)           # delta method, robust SE
    # full vs partial mediation: lavaan's scaled difference test (Satorra-Bentler 2001)
    assert t.comparison.chisq_diff == pytest.approx(ref["lrt"]["chisq.diff"], abs=1e-3)
    assert t.comparison.pvalue == pytest.approx(ref["lrt"]["pvalue"], abs=1e-3)
    assert t.estimation.startswith("MLR (") and "estimation: MLR" in t.summary()
    assert "robust CFI = .970" in t.summary()                                           # lavaan: .9698


def test_relative_effects_and_alone_vs_together_refit_by_the_same_estimator(hs, abil):
    t = hypotheses.test_model(hs, abil, "direct", estimator="MLR", missing="listwise")
    avt = hypotheses.alone_vs_together(hs, abil, t)
    assert len(avt) == 2
    assert all(f.estimator == "MLR" for f in avt.attrs["fits"].values())
    assert len(t.relative_effects) and t.results["model"].estimator == "MLR"


def test_bootstrap_with_a_robust_estimator_is_refused_as_lavaan_does(hs, abil):
    from crm_research.errors import ModelError

    with pytest.raises(ModelError, match="bootstrap intervals need estimator ML"):
        hypotheses.test_model(hs, abil, "mediated", estimator="MLR", bootstrap=50)


def test_invariance_by_mlr_judges_by_robust_indices_and_scaled_differences(hs):
    ref = _ref("inv_mlr")
    inv = measurement_invariance(ref["model"], hs, "school", steps=("configural", "metric", "scalar"),
                                 estimator="MLR")
    t = inv.table.set_index("step")
    for st in ("configural", "metric", "scalar"):
        lf = ref["steps"][st]["fit_measures"]
        for k in ("chisq.scaled", "cfi.robust", "rmsea.robust", "cfi"):
            assert float(t.loc[st, k]) == pytest.approx(lf[k], abs=1e-3), (st, k)
    for st, prev in (("metric", "configural"), ("scalar", "metric")):
        assert float(t.loc[st, "chisq.diff"]) == pytest.approx(ref["lrt"][st]["chisq.diff"], abs=1e-3)
        assert float(t.loc[st, "pvalue.diff"]) == pytest.approx(ref["lrt"][st]["pvalue"], abs=1e-3)
        want = ref["steps"][st]["fit_measures"]["cfi.robust"] - ref["steps"][prev]["fit_measures"]["cfi.robust"]
        assert float(t.loc[st, "delta.cfi"]) == pytest.approx(want, abs=1e-3)          # robust CFI changes
    assert inv.robust and inv.estimation.startswith("MLR")
    assert "Δ(robust CFI)" in t.loc["scalar", "verdict"] and "scaled Δχ²" in t.loc["scalar", "verdict"]
    assert inv.highest == "metric"           # robust ΔCFI of the scalar step: -.033, beyond -.01
    assert "cfi.robust" in inv.shown_columns() and "CFI (robust)" in inv._repr_html_()


def test_ordinal_cfa_in_the_measurement_report_gives_lavaans_numbers(abil):
    ref = _ref("cfa_wlsmv")
    cut = pd.read_csv(REF / "ord_hs_cut.csv")
    d = pd.DataFrame({x: cut[c] for x, c in ref["rename"].items()})
    rep = measurement.assess_measurement(d, abil, constructs=["VIS", "TXT"], ordered=True, missing="listwise",
                                         omega=None, harman=None)
    first = rep.results["first_order"]
    assert first.estimator == "WLSMV" and rep.estimation.startswith("WLSMV")
    fit = rep.fit.loc["first-order CFA"]
    for k in ("chisq.scaled", "df.scaled", "pvalue.scaled", "cfi.scaled", "rmsea.scaled"):
        assert float(fit[k]) == pytest.approx(ref["fit_measures"][k], abs=1e-3), k
    for r in rep.loadings.itertuples():
        assert r.loading == pytest.approx(_lav(ref["estimates"], r.construct, "=~", r.item)["std.all"], abs=1e-3)
    apa = rep.apa_tables()["fit"]
    assert any("(scaled)" in c or "(robust)" in c for c in apa.columns)
    assert any("Estimation: WLSMV" in n for n in rep.notes)


# --------------------------------------------------------------------------- words, tables, diagrams
@pytest.fixture(scope="module")
def mlr_fit(hs):
    from crm_research import sem

    return sem.fit("visual =~ x1 + x2 + x3\ntextual =~ x4 + x5 + x6\ntextual ~ visual", hs, estimator="MLR")


def test_sentences_tables_and_diagrams_name_the_estimation(mlr_fit):
    from crm_research.path_diagram import path_diagram

    fm = mlr_fit.fit_measures
    text = str(describe_fit(mlr_fit, "The model"))
    assert "The model, estimated by MLR (Huber-White robust SE, Yuan-Bentler scaled test):" in text
    assert f"scaled χ²({int(fm['df.scaled'])})" in text and "robust CFI" in text and "robust RMSEA" in text
    assert "robust maximum likelihood" in str(describe_estimation(mlr_fit, "listwise"))
    t = fit_table(fm, estimation="MLR (x)")
    assert t.columns[:1] == ["χ² (scaled)"] and "CFI (robust)" in t.columns
    assert t.rows[0][t.columns.index("CFI (robust)")] == f"{fm['cfi.robust']:.3f}".lstrip("0")
    assert "Estimation: MLR (x)" in t.note and "Brosseau-Liard" in t.note
    d = path_diagram(mlr_fit, engine="matplotlib", title="Model")
    assert "Estimation: MLR (Huber-White robust SE" in d.dot and "robust CFI = ." in d.dot
    plain = path_diagram(mlr_fit.estimates, engine="matplotlib")
    assert "Estimation" not in plain.dot                                   # a bare table has no estimation


def test_records_carry_the_robust_measures_as_headlines(tmp_path, monkeypatch, mlr_fit):
    from crm_research.reporting.results import read_records, record_fit

    monkeypatch.setenv("CRM_RESEARCH_RUN_DIR", str(tmp_path))
    record_fit(mlr_fit.fit_measures)
    rec = {r["key"]: r for r in read_records(tmp_path)}
    assert rec["cfi_robust"]["value"] == pytest.approx(mlr_fit.fit_measures["cfi.robust"])
    assert rec["cfi_robust"]["headline"] and not rec["cfi"]["headline"]
    assert rec["chisq_scaled"]["label"] == "scaled χ²"


# --------------------------------------------------------------------------- commands
def test_fit_command_with_mlr(tmp_path, capsys):
    model = tmp_path / "hs.lav"
    model.write_text("visual =~ x1 + x2 + x3\ntextual =~ x4 + x5 + x6\nspeed =~ x7 + x8 + x9\n")
    out = tmp_path / "est.csv"
    assert main(["fit", str(model), str(HS), "--estimator", "mlr", "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "Estimation: MLR (Huber-White robust SE, Yuan-Bentler scaled test)" in printed
    lav = json.loads((REF / "robust_hs_mlr.json").read_text())["fit_measures"]
    got = json.loads((tmp_path / "est_fit.json").read_text())
    assert got["estimator"] == "MLR" and got["fit_measures"]["cfi.robust"] == pytest.approx(lav["cfi.robust"],
                                                                                          abs=1e-3)


@pytest.mark.parametrize("argv, words", [
    (["--estimator", "WLSMVX"], "--estimator: expected one of"),
    (["--ordered", "x1,x99"], "--ordered: not an item of the data: x99"),
    (["--estimator", "MLR", "--bootstrap", "10"], "--bootstrap: bootstrap standard errors need --estimator ML"),
    (["--estimator", "MLR", "--test", "chisq"], "--test: expected one of"),
    (["--estimator", "ML", "--ordered", "all"], "ML cannot fit ordered"),
])
def test_fit_command_refuses_bad_estimation_options(tmp_path, capsys, argv, words):
    model = tmp_path / "hs.lav"
    model.write_text("visual =~ x1 + x2 + x3\n")
    assert main(["fit", str(model), str(HS), *argv]) == 2
    err = capsys.readouterr().err
    assert words in err and err.count("\n") == 1 and "Traceback" not in err


def test_invariance_command_with_mlr(tmp_path, capsys):
    model = tmp_path / "cfa.lav"
    model.write_text(_ref("inv_mlr")["model"] + "\n")
    out = tmp_path / "inv"
    assert main(["invariance", str(HS), "--group", "school", "--model", str(model), "--estimator", "MLR",
                 "--steps", "configural", "metric", "-o", str(out)]) == 0
    md = (out / "summary.md").read_text(encoding="utf-8")
    assert "Estimation: MLR (Huber-White robust SE" in md and "cfi.robust" in md
    tab = pd.read_csv(out / "invariance.csv").set_index("step")
    ref = _ref("inv_mlr")
    assert tab.loc["metric", "chisq.diff"] == pytest.approx(ref["lrt"]["metric"]["chisq.diff"], abs=1e-3)


def test_study_auto_takes_the_normality_advice(tmp_path):
    """``study --estimator auto``: the plan carries what recommend_estimator advises for the items."""
    from crm_research.commands.study import add_parser, check_inputs
    from crm_research.normality import recommend_estimator
    from crm_research.responses import prepare_responses

    p = argparse.ArgumentParser()
    add_parser(p.add_subparsers())
    args = p.parse_args(["study", str(SQ_DIR / "service_quality.yaml"), str(SQ_DIR / "responses.csv"),
                         "-o", str(tmp_path / "o"), "--estimator", "auto"])
    checked = check_inputs(args)
    inst = instruments.load_instrument(SQ_DIR / "service_quality.yaml")
    items = prepare_responses(SQ_DIR / "responses.csv", inst).items
    advice = recommend_estimator(items, list(items.columns))
    assert checked["plan"]["estimator"] == advice.estimator
    assert checked["missing"] in ("ml", "pairwise", "listwise")
    assert any("estimator auto:" in line for line in checked["summary"])
    assert checked["bootstrap_ok"] == (advice.estimator == "ML")


@pytest.mark.slow
def test_notebooks_report_a_robust_fit(tmp_path, monkeypatch):
    """Notebooks 01 and 03 on the test instrument with estimator="MLR": 01 shows Mardia's tests and
    the advice; 03 names the estimation, shows robust fit measures and records them, no bootstrap."""
    import nbformat
    import papermill as pm

    from crm_research.reporting.results import read_records

    sq = {"instrument": str(SQ_DIR / "service_quality.yaml"), "data_file": str(SQ_DIR / "responses.csv")}
    texts, recs = {}, {}
    for name, extra in (("01_instrument_and_data_quality.ipynb", {}),
                        ("03_structural_model.ipynb", {"model": "core"})):
        run_dir = tmp_path / name[:2]
        run_dir.mkdir()
        monkeypatch.setenv("CRM_RESEARCH_RUN_DIR", str(run_dir))
        out = run_dir / name
        pm.execute_notebook(str(ROOT / "notebooks" / name), str(out), kernel_name="python3", progress_bar=False,
                            cwd=str(ROOT / "notebooks"), parameters={**sq, **extra, "estimator": "MLR"})
        nb = nbformat.read(str(out), as_version=4)
        texts[name[:2]] = "\n".join(json.dumps(o.get("data", {}), ensure_ascii=False) + str(o.get("text", ""))
                                    for c in nb.cells for o in c.get("outputs", []))
        recs[name[:2]] = {r["key"]: r for r in read_records(run_dir)}
    assert "Mardia" in texts["01"] and "Advice:" in texts["01"]
    assert recs["01"]["estimator"]["value"] == "MLR" and recs["01"]["estimator_advice"]["value"] in ("ML", "MLR",
                                                                                                     "WLSMV")
    t3 = texts["03"]
    assert "MLR (Huber-White robust SE, Yuan-Bentler scaled test)" in t3
    assert "robust CFI" in t3 and "CFI (robust)" in t3 and "no bootstrap" in t3
    assert "cfi_robust" in recs["03"] and "MLR" in recs["03"]["estimator"]["value"]


def test_single_item_constructs_stay_continuous_when_all_items_are_ordered(abil):
    """A single item's error variance is fixed (x7 ~~ 0*x7): an ordinal item has no such parameter, so
    ordered=True keeps it continuous (said in the notes); naming it explicitly is an error."""
    from crm_research.errors import ModelError

    cut = pd.read_csv(REF / "ord_hs_cut.csv")
    d = pd.DataFrame({f"x{i}": cut[f"c{i}"] for i in range(1, 10)})
    t = hypotheses.test_model(d, abil, "mediated", ordered=True, missing="listwise")
    res = t.results["model"]
    assert res.estimator == "WLSMV" and sorted(res.ordered) == [f"x{i}" for i in range(1, 7)]
    assert any("x7 (single-item construct" in n for n in res.notes)
    with pytest.raises(ModelError, match="x7: an item with a fixed error variance .* cannot be declared ordered"):
        hypotheses.test_model(d, abil, "mediated", ordered="x1,x7", missing="listwise")


@pytest.mark.slow
def test_measurement_notebook_with_ordered_items(tmp_path, monkeypatch):
    """Notebook 02 with every item ordered on the test instrument (missing answers: pairwise): WLSMV
    CFAs, scaled fit measures headed as such, single items kept continuous (said)."""
    import nbformat
    import papermill as pm

    from crm_research.reporting.results import read_records

    run_dir = tmp_path / "02"
    run_dir.mkdir()
    monkeypatch.setenv("CRM_RESEARCH_RUN_DIR", str(run_dir))
    out = run_dir / "02.ipynb"
    pm.execute_notebook(str(ROOT / "notebooks" / "02_measurement_model.ipynb"), str(out), kernel_name="python3",
                        progress_bar=False, cwd=str(ROOT / "notebooks"),
                        parameters={"instrument": str(SQ_DIR / "service_quality.yaml"),
                                    "data_file": str(SQ_DIR / "responses.csv"), "ordered": "all",
                                    "missing": "pairwise", "harman_cfa": False})
    nb = nbformat.read(str(out), as_version=4)
    assert not [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    text = "\n".join(json.dumps(o.get("data", {}), ensure_ascii=False) + str(o.get("text", ""))
                     for c in nb.cells for o in c.get("outputs", []))
    rec = {r["key"]: r for r in read_records(run_dir)}
    assert rec["estimator"]["value_text" if "value_text" in rec["estimator"] else "value"].startswith("WLSMV")
    assert "pairwise deletion" in text and "(scaled)" in text and "treated as continuous" in text


def test_invariance_steps_compare_like_with_like():
    """lavaan 0.6-14 gives no robust CFI/RMSEA for an ordinal model with equal thresholds (NA): then
    every step is judged by the scaled indices, never a robust index against a standard one."""
    from crm_research.invariance import _common_reported

    steps = [{"chisq": 1.0, "chisq.scaled": 2.0, "cfi": 0.95, "cfi.scaled": 0.94, "cfi.robust": 0.90,
              "rmsea": 0.05, "rmsea.scaled": 0.06, "rmsea.robust": 0.08},
             {"chisq": 1.5, "chisq.scaled": 2.5, "cfi": 0.96, "cfi.scaled": 0.93, "cfi.robust": np.nan,
              "rmsea": 0.04, "rmsea.scaled": 0.05, "rmsea.robust": None}]
    k = _common_reported(steps)
    assert k["cfi"] == "cfi.scaled" and k["rmsea"] == "rmsea.scaled" and k["chisq"] == "chisq.scaled"
    assert _common_reported(steps[:1])["cfi"] == "cfi.robust"

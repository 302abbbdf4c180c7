"""Tests for crm_research.study, the glue of the replication notebooks: path resolution in and
out of batch runs, the sample (simulated or from a file, prepared alike, no personal data),
descriptives against hand-computed values, fit ratings at their cut-offs, the relative-effects
syntax against identities the standardized solution must satisfy, population values implied for
a sub-model, and the records a batch collects."""
from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from crm_research import study
from crm_research.errors import ConfigError, DataFileError, InstrumentError, ModelError
from crm_research.instruments import load_instrument, structural_syntax
from crm_research.simulate import load_population, simulate_survey

ROOT = Path(__file__).resolve().parents[1]
INSTRUMENT = ROOT / "surveys" / "ecommerce_crm.yaml"
POPULATION = ROOT / "surveys" / "ecommerce_crm_population.yaml"


@pytest.fixture(scope="module")
def inst():
    return load_instrument(INSTRUMENT)


@pytest.fixture(scope="module")
def sim_sample():
    """A small simulated sample with the population defaults (careless 5 %, MCAR 1 %)."""
    return study.load_study_sample(None, INSTRUMENT, POPULATION, n=240, seed=11)


# --------------------------------------------------------------------------- paths
def test_notebook_defaults_resolve_from_any_working_folder(tmp_path, monkeypatch):
    """'../surveys/x.yaml' is written against notebooks/; it must work from a batch work folder."""
    monkeypatch.delenv(study.PROJECT_DIR_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    assert study.resolve_path(study.DEFAULT_INSTRUMENT, what="instrument") == INSTRUMENT.resolve()
    assert study.resolve_path("surveys/ecommerce_crm_population.yaml") == POPULATION.resolve()


def test_project_dir_from_batch_runner_is_searched(tmp_path, monkeypatch):
    proj = tmp_path / "proj"
    (proj / "notebooks").mkdir(parents=True)
    (proj / "data").mkdir()
    target = proj / "data" / "answers.csv"
    target.write_text("respondent_id\n", encoding="utf-8")
    monkeypatch.setenv(study.PROJECT_DIR_ENV, str(proj))
    monkeypatch.chdir(tmp_path)
    assert study.resolve_path("../data/answers.csv") == target       # relative to proj/notebooks
    assert study.resolve_path("data/answers.csv") == target          # relative to proj


def test_working_folder_wins(tmp_path, monkeypatch):
    (tmp_path / "surveys").mkdir()
    local = tmp_path / "surveys" / "ecommerce_crm.yaml"
    local.write_text("id: x\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    assert study.resolve_path("surveys/ecommerce_crm.yaml") == local


def test_missing_files_name_what_and_where(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(DataFileError, match=r"no_such\.csv.*file not found \(looked in: .*") as e:
        study.resolve_path("no_such.csv")
    assert str(tmp_path) in str(e.value) and e.value.hint
    with pytest.raises(InstrumentError, match="nope.yaml"):
        study.resolve_path("nope.yaml", what="instrument")
    with pytest.raises(ConfigError, match="pop.yaml"):
        study.resolve_path("pop.yaml", what="population model")
    with pytest.raises(DataFileError, match="is a folder"):
        study.resolve_path(str(tmp_path))
    with pytest.raises(ConfigError, match="no file given"):
        study.resolve_path("")


# --------------------------------------------------------------------------- the sample
def test_simulated_sample_is_prepared_and_free_of_personal_data(sim_sample):
    s = sim_sample
    assert s.origin == "simulated" and s.n_rows == 240
    assert s.n_kept + s.n_excluded == 240
    assert list(s.items.columns) == s.instrument.item_ids
    for col in ("phone", "email"):
        assert col not in s.data.columns and col not in s.scores.columns
    assert set(s.truth.columns) == {"respondent_id", "careless", "n_missing"}
    assert (s.truth.careless != "none").sum() == round(0.05 * 240)
    assert s.n_complete == int(s.items.notna().all(axis=1).sum()) < s.n_kept   # MCAR blanks exist
    assert [p.name for p in s.input_files] == ["ecommerce_crm.yaml", "ecommerce_crm_population.yaml"]
    assert "seed 11" in s.label and "240" in s.label


def test_same_seed_same_sample_different_seed_different():
    a = study.load_study_sample(None, INSTRUMENT, POPULATION, n=120, seed=3)
    b = study.load_study_sample(None, INSTRUMENT, POPULATION, n=120, seed=3)
    c = study.load_study_sample(None, INSTRUMENT, POPULATION, n=120, seed=4)
    pd.testing.assert_frame_equal(a.items, b.items)
    assert not a.items.equals(c.items)


def test_clean_simulation_keeps_everyone_complete():
    s = study.load_study_sample(None, INSTRUMENT, POPULATION, n=150, seed=2, careless=0, missing="none")
    assert s.settings["missing"] == "none" and s.settings["missing_rate"] == 0.0
    assert (s.truth.careless == "none").all()
    assert s.n_complete == s.n_kept        # no blanks at all
    assert study.missingness_summary(s)["missing_cells"] == 0


def test_file_and_simulation_give_the_same_data(tmp_path, inst):
    """A user's file goes through exactly the preparation a simulated sample gets."""
    sim = simulate_survey(POPULATION, 150, seed=5)
    csv = tmp_path / "export.csv"
    sim.responses.to_csv(csv, index=False)
    from_file = study.load_study_sample(str(csv), INSTRUMENT, None, salt="s")
    simulated = study.load_study_sample(None, INSTRUMENT, POPULATION, n=150, seed=5, salt="s")
    assert from_file.origin == "file" and from_file.population is None and from_file.truth is None
    assert from_file.input_files[0] == csv.resolve()
    pd.testing.assert_frame_equal(from_file.items.reset_index(drop=True).astype(float),
                                  simulated.items.reset_index(drop=True).astype(float))
    # no phone number or e-mail reaches anything a notebook displays
    shown = pd.concat([from_file.data.astype(str), from_file.scores.astype(str)], axis=1).to_csv() \
        + from_file.report.findings.astype(str).to_csv() + from_file.report.to_html()
    secrets = [v for c in ("phone", "email") for v in sim.responses[c].dropna().astype(str)]
    assert secrets and not any(v in shown for v in secrets)


def test_column_map_as_mapping(tmp_path):
    sim = simulate_survey(POPULATION, 80, seed=9, include_pii=False)
    ren = {iid: f"question {i + 1}" for i, iid in enumerate(sim.item_columns)}
    csv = tmp_path / "renamed.csv"
    sim.responses.rename(columns=ren).to_csv(csv, index=False)
    with pytest.raises(DataFileError, match="no column found"):
        study.load_study_sample(str(csv), INSTRUMENT)
    s = study.load_study_sample(str(csv), INSTRUMENT, column_map={v: k for k, v in ren.items()})
    assert list(s.items.columns) == sim.item_columns and s.n_rows == 80


@pytest.mark.parametrize("kw, key", [({"n": 0}, "n"), ({"n": 12.5}, "n"), ({"seed": -1}, "seed"),
                                     ({"careless": 1.5}, "careless"), ({"missing": "sometimes"}, "missing"),
                                     ({"missing_rate": 0}, "missing_rate"), ({"population": None}, "population")])
def test_impossible_parameters_are_named(kw, key):
    with pytest.raises(ConfigError, match=key):
        study.load_study_sample(None, INSTRUMENT, **({"population": POPULATION} | kw))


# --------------------------------------------------------------------------- descriptives
def test_answer_shares_by_hand(inst):
    d = pd.DataFrame({"PF1": [1, 1, 2, 5, None], "PF2": [3, 3, 3, 3, 3]})
    sh = study.answer_shares(d, inst)
    pf1 = sh[sh.item == "PF1"].set_index("point")
    assert pf1.n.tolist() == [2, 1, 0, 0, 1]
    assert pf1.percent.tolist() == pytest.approx([50, 25, 0, 0, 25])
    assert pf1.loc[1, "answer"] == "Strongly disagree"
    assert sh[sh.item == "PF2"].percent.tolist() == pytest.approx([0, 0, 100, 0, 0])
    assert set(sh.item) == {"PF1", "PF2"}      # items absent from the data are skipped


def test_item_statistics_by_hand(inst):
    d = pd.DataFrame({"PF1": [1, 2, 3, 4, 5, 5, None, None]})
    st = study.item_statistics(d, inst).iloc[0]
    x = np.array([1, 2, 3, 4, 5, 5], float)
    assert st.n == 6 and st.missing_pct == pytest.approx(25.0)
    assert st["mean"] == pytest.approx(x.mean()) and st.sd == pytest.approx(x.std(ddof=1))
    n, m, s = len(x), x.mean(), x.std(ddof=1)
    g = (n / ((n - 1) * (n - 2))) * (((x - m) / s) ** 3).sum()       # adjusted Fisher-Pearson skewness
    assert st["skew"] == pytest.approx(g)
    assert st.floor_pct == pytest.approx(100 / 6) and st.ceiling_pct == pytest.approx(200 / 6)


def test_missingness_summary_by_hand():
    items = pd.DataFrame({"A": [1, None, 3, 4], "B": [1, 2, None, None], "C": [1, 2, 3, 4]})
    m = study.missingness_summary(SimpleNamespace(items=items))
    assert m["missing_cells"] == 3 and m["cells"] == 12 and m["missing_pct"] == pytest.approx(25.0)
    assert m["respondents_any"] == 3 and m["n_complete"] == 1 and m["lost_pct"] == pytest.approx(75.0)
    assert m["worst_item"] == "B" and m["worst_item_pct"] == pytest.approx(50.0)


def test_careless_detection_matches_the_simulator_design():
    """Speeders are always faster than the instrument minimum (simulated at most 0.9 x 120 s)
    and attention_fail respondents never give the expected answer, so both are always caught."""
    s = study.load_study_sample(None, INSTRUMENT, POPULATION, n=300, seed=21, careless=0.2,
                                missing="none")
    det = study.careless_detection(s).set_index("type")
    truth = s.truth.careless.value_counts()
    for t, row in det.iterrows():
        assert row.respondents == truth[t]
        assert row.dropped + row.flagged + row.unflagged == row.respondents
    assert det.loc["speeder", "caught_pct"] == 100
    assert det.loc["attention_fail", "dropped"] == det.loc["attention_fail", "respondents"]
    text = study.describe_careless(s, det.reset_index())
    caught = int((det.drop("none").dropped + det.drop("none").flagged).sum())
    assert f"caught {caught} of {int(det.drop('none').respondents.sum())} careless" in text
    assert study.careless_detection(SimpleNamespace(truth=None)) is None


# --------------------------------------------------------------------------- fit and narrative
@pytest.mark.parametrize("fm, expected", [
    ({"cfi": 0.95, "tli": 0.95, "rmsea": 0.06, "srmr": 0.08}, "good"),           # cut-offs are inclusive
    ({"cfi": 0.9499, "tli": 0.96, "rmsea": 0.05, "srmr": 0.05}, "acceptable"),
    ({"cfi": 0.97, "tli": 0.97, "rmsea": 0.0801, "srmr": 0.05}, "poor"),
    ({"cfi": 0.97, "tli": 0.97, "rmsea": 0.03, "srmr": 0.1001}, "poor"),
    ({"cfi": 0.89, "rmsea": 0.03}, "poor"),
])
def test_fit_rating_overall(fm, expected):
    assert study.fit_rating(fm)["overall"] == expected


def test_fit_rating_per_index():
    r = study.fit_rating({"cfi": 0.92, "tli": float("nan"), "rmsea": 0.07, "srmr": 0.09})
    assert r == {"cfi": "acceptable", "rmsea": "acceptable", "srmr": "acceptable", "overall": "acceptable"}


def test_describe_fit_reads_the_numbers():
    good = study.describe_fit({"chisq": 150.2, "df": 129, "pvalue": 0.1, "cfi": 0.97, "tli": 0.965,
                               "rmsea": 0.031, "rmsea.ci.lower": 0.0, "rmsea.ci.upper": 0.045, "srmr": 0.04})
    assert "χ²(129) = 150.20, p = .100 (exact fit not rejected)" in good
    assert "CFI = .970 (≥ .95: good)" in good and "RMSEA = .031, 90% CI [.000, .045] (≤ .06: good)" in good
    assert "fits the data well" in good
    bad = study.describe_fit({"chisq": 900.0, "df": 100, "pvalue": 1e-9, "cfi": 0.85, "rmsea": 0.12,
                              "srmr": 0.07})
    assert "p < .001 (exact fit rejected" in bad and "CFI = .850 (misses ≥ .90: poor)" in bad
    assert "does not fit the data well" in bad and "SRMR = .070 (≤ .08: good)" in bad
    assert bad._repr_markdown_() == str(bad)


def test_describe_hypotheses_counts_support():
    t = pd.DataFrame({"hypothesis": ["H1", "H2"], "path": ["OPS → SAT", "SAT → LOY"], "expected": ["+", "+"],
                      "std.all": [0.41, 0.05], "est": [0.5, 0.06], "se": [0.1, 0.08], "z": [5.0, 0.75],
                      "pvalue": [1e-6, 0.45], "ci.lower": [0.3, -0.1], "ci.upper": [0.7, 0.22],
                      "supported": [True, False], "verdict": ["supported", "not supported (p = .450 ≥ .05)"]})
    text = study.describe_hypotheses(t, "95% CI")
    assert text.startswith("1 of 2 hypotheses are supported") and "does not fully replicate" in text
    assert "**H1** (OPS → SAT, expected positive): β = .41" in text and "[0.30, 0.70]" in text


def test_warnings_box_dedupes_and_escapes():
    res = SimpleNamespace(warnings=["Heywood case: <LE3>", "x"])
    box = study.warnings_box(res, ["x", "y"], None)
    assert box.messages == ["Heywood case: <LE3>", "x", "y"] and bool(box)
    h = box._repr_html_()
    assert "&lt;LE3&gt;" in h and "(3)" in h and "role='alert'" in h
    empty = study.warnings_box(SimpleNamespace(warnings=[]))
    assert not empty and "No estimation warnings" in empty._repr_html_()


def test_r_squared_and_labels():
    est = pd.DataFrame({"lhs": ["SAT", "SAT", "LOY", "LOY", "OPS"], "op": ["~", "~~", "~", "~~", "~~"],
                        "rhs": ["OPS", "SAT", "SAT", "LOY", "OPS"], "std.all": [0.6, 0.64, 0.7, 0.51, 1.0]})
    assert study.r_squared(est) == pytest.approx({"SAT": 0.36, "LOY": 0.49})
    assert study.r2_labels(est) == {"SAT": "SAT\nR² = .36", "LOY": "LOY\nR² = .49"}


def test_questionnaire_frame_isolates_page_styles(inst):
    h = study.questionnaire_frame(inst, "en")._repr_html_()
    assert h.startswith("<iframe") and "srcdoc=" in h
    assert "<style" not in h and "&lt;style&gt;" in h     # the page's CSS stays inside the frame


# --------------------------------------------------------------------------- relative effects
def test_relative_effects_syntax_identities(sim_sample, inst):
    """The defined standardized paths must equal lavaan-style std.all, the fit must not change."""
    from crm_research import sem

    syn = study.relative_effects_syntax(inst, "combined")
    assert "beta_diff_OPS_CRM := beta_OPS - beta_CRM" in syn and "std_ind_OPS := beta_OPS*beta_SAT_LOY" in syn
    rel = sem.fit(syn, sim_sample.items)
    plain = sem.fit(structural_syntax(inst, "combined"), sim_sample.items)
    assert rel.fit_measures["chisq"] == pytest.approx(plain.fit_measures["chisq"], rel=1e-8)
    assert rel.fit_measures["df"] == plain.fit_measures["df"]
    e = rel.estimates.set_index("lhs")
    std = plain.get("SAT", "~", "OPS")["std.all"], plain.get("SAT", "~", "CRM")["std.all"]
    assert e.loc["beta_OPS", "est"] == pytest.approx(std[0], abs=1e-8)
    assert e.loc["beta_CRM", "est"] == pytest.approx(std[1], abs=1e-8)
    assert e.loc["beta_diff_OPS_CRM", "est"] == pytest.approx(std[0] - std[1], abs=1e-8)
    assert e.loc["beta_SAT_LOY", "est"] == pytest.approx(plain.get("LOY", "~", "SAT")["std.all"], abs=1e-8)
    ind_std = plain.estimates.set_index("lhs").loc["ind_OPS_LOY", "std.all"]
    assert e.loc["std_ind_OPS", "est"] == pytest.approx(ind_std, abs=1e-8)
    table = study.relative_effects(rel)
    assert table.set_index("effect").loc["beta_diff_OPS_CRM", "kind"] == "path difference"
    assert table.set_index("effect").loc["beta_diff_OPS_CRM", "description"] == "(OPS → SAT) − (CRM → SAT)"
    assert set(table.kind) == {"path", "path difference", "indirect", "indirect difference"}
    with pytest.raises(ModelError, match="two or more exogenous predictors"):
        study.relative_effects_syntax(inst, "ops")
    with pytest.raises(ModelError, match="bootstrap"):
        study.bootstrap_draws(rel, "beta_OPS")


def test_relative_effects_with_bootstrap(sim_sample, inst):
    test = study.test_relative_effects(sim_sample.items, inst, "combined", bootstrap=20, seed=1)
    res = test.results["model"]
    rel = study.relative_effects(res)
    row = rel.set_index("effect").loc["beta_diff_OPS_CRM"]
    draws = study.bootstrap_draws(res, "beta_diff_OPS_CRM")
    assert len(draws) == res.bootstrap.n_ok
    assert draws.min() <= row["ci.lower"] < row["ci.upper"] <= draws.max()      # a percentile interval
    assert row["significant"] == bool(row["ci.lower"] > 0 or row["ci.upper"] < 0)
    assert list(test.hypotheses.hypothesis) == ["H1", "H2", "H3"]
    assert test.comparison.df_diff == 2                      # two direct paths in the partial model
    text = study.describe_relative_effects(rel, res)
    assert "OPS − CRM" in text and "bootstrap percentile" in text


# --------------------------------------------------------------------------- population truth
def test_population_values_implied_for_a_sub_model():
    """Model A omits CRM: the population value of OPS -> SAT is .45 + .35 x .50 = .625."""
    pop = load_population(POPULATION)
    est = pd.DataFrame({"lhs": ["SAT", "LOY", "PF"], "op": ["~", "~", "=~"], "rhs": ["OPS", "SAT", "PF1"],
                        "std.all": [0.60, 0.66, 0.78]})
    t = study.compare_with_population(est, pop).set_index(["lhs", "op", "rhs"])
    assert t.loc[("SAT", "~", "OPS"), "population"] == pytest.approx(0.625)
    assert t.loc[("LOY", "~", "SAT"), "population"] == pytest.approx(0.70)
    assert t.loc[("PF", "=~", "PF1"), "population"] == pytest.approx(0.82)
    assert t.loc[("SAT", "~", "OPS"), "difference"] == pytest.approx(0.60 - 0.625)
    both = pd.DataFrame({"lhs": ["SAT", "SAT"], "op": ["~", "~"], "rhs": ["OPS", "CRM"], "std.all": [0.4, 0.3]})
    t2 = study.compare_with_population(both, pop, ops=("~",)).set_index("rhs")
    assert t2.population.to_dict() == pytest.approx({"OPS": 0.45, "CRM": 0.35})


# --------------------------------------------------------------------------- records
def test_records_reach_the_batch_run_folder(tmp_path, monkeypatch, sim_sample):
    from crm_research.reporting.results import read_records

    monkeypatch.setenv("CRM_RESEARCH_RUN_DIR", str(tmp_path))
    study.record_sample(sim_sample)
    study.record_fit({"chisq": 10.0, "df": 8, "pvalue": 0.27, "cfi": 0.99, "tli": 0.98, "rmsea": 0.02,
                      "rmsea.ci.lower": 0.0, "rmsea.ci.upper": 0.05, "srmr": 0.03}, prefix="partial_")
    hyp = pd.DataFrame({"hypothesis": ["H3"], "path": ["CRM → SAT"], "std.all": [0.4], "pvalue": [0.001],
                        "supported": [True]})
    study.record_hypotheses(hyp)
    recs = {r["key"]: r for r in read_records(tmp_path)}
    assert recs["n"]["value"] == sim_sample.n_complete and recs["n_rows"]["value"] == 240
    assert recs["partial_df"]["value"] == 8 and recs["partial_rmsea_ci_upper"]["value"] == 0.05
    assert recs["partial_fit"]["value"] == "good"
    assert recs["h3_beta"]["value"] == 0.4 and recs["h3_supported"]["value"] is True
    assert recs["h3_p"]["headline"] is False and recs["n"]["headline"] is True

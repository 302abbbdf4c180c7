"""Tests for crm_research.study: path resolution in and out of batch runs, the sample (simulated
or from a file, prepared alike, no personal data), how many respondents each missing-data
treatment uses, descriptives against hand-computed values on two instruments (5-point and
0-10 / 1-10 scales), models and their items, the groups of a multiple-group analysis, and the
plan of a study's runs."""
from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from crm_research import study
from crm_research.errors import ConfigError, DataFileError, InstrumentError
from crm_research.instruments import load_instrument
from crm_research.simulate import simulate_survey

ROOT = Path(__file__).resolve().parents[1]
INSTRUMENT = ROOT / "surveys" / "ecommerce_crm.yaml"
POPULATION = ROOT / "surveys" / "ecommerce_crm_population.yaml"
SQ_DIR = ROOT / "tests" / "data" / "service_quality"
SQ_INSTRUMENT = SQ_DIR / "service_quality.yaml"
SQ_RESPONSES = SQ_DIR / "responses.csv"


@pytest.fixture(scope="module")
def inst():
    return load_instrument(INSTRUMENT)


@pytest.fixture(scope="module")
def sq():
    return load_instrument(SQ_INSTRUMENT)


@pytest.fixture(scope="module")
def sim_sample():
    """A small simulated sample with the population defaults (careless 5 %, MCAR 1 %)."""
    return study.load_study_sample(None, INSTRUMENT, POPULATION, n=240, seed=11)


@pytest.fixture(scope="module")
def sq_sample():
    return study.load_study_sample(str(SQ_RESPONSES), SQ_INSTRUMENT, None)


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
    assert [p.name for p in s.input_files][:2] == ["ecommerce_crm.yaml", "ecommerce_crm_population.yaml"]
    assert s.input_files[2].path.startswith("simulated responses") and len(s.input_files[2].sha256) == 64
    assert "seed 11" in s.label and "240" in s.label and "MCAR missingness at rate 0.01" in s.label


def test_each_missing_data_treatment_counts_its_respondents():
    """FIML uses every respondent with at least one answer on the items, listwise only complete ones."""
    items = pd.DataFrame({"A": [1, None, 3, None, 5], "B": [1, 2, None, None, 5], "C": [1, 2, 3, None, None]})
    s = study.StudySample(responses=SimpleNamespace(items=items, data=items), instrument=None, origin="file")
    assert s.n_analysed("ml") == 4 and s.n_analysed("listwise") == 1
    assert s.n_analysed("ml", ["A"]) == 3 and s.n_analysed("listwise", ["A", "C"]) == 2
    assert s.n_analysed("FIML", ["B"]) == 3                      # alias of "ml"
    assert s.n_analysed("pairwise") == 4                         # ordinal items: any answer counts
    with pytest.raises(ConfigError, match="missing"):
        s.n_analysed("everything")


@pytest.mark.parametrize("value, expected", [("ml", "ml"), ("ML", "ml"), ("fiml", "ml"), (" listwise ", "listwise"),
                                             ("Pairwise", "pairwise")])
def test_check_missing(value, expected):
    assert study.check_missing(value) == expected


@pytest.mark.parametrize("value", ["available", "", None, 1])
def test_check_missing_rejects_others(value):
    with pytest.raises(ConfigError, match="'ml' .*'listwise' or 'pairwise'"):
        study.check_missing(value)


def test_same_seed_same_sample_different_seed_different():
    a = study.load_study_sample(None, INSTRUMENT, POPULATION, n=120, seed=3)
    b = study.load_study_sample(None, INSTRUMENT, POPULATION, n=120, seed=3)
    c = study.load_study_sample(None, INSTRUMENT, POPULATION, n=120, seed=4)
    pd.testing.assert_frame_equal(a.items, b.items)
    assert not a.items.equals(c.items)


def test_clean_simulation_keeps_everyone_complete():
    s = study.load_study_sample(None, INSTRUMENT, POPULATION, n=150, seed=2, careless=0, sim_missing="none")
    assert s.settings["sim_missing"] == "none" and s.settings["sim_missing_rate"] == 0.0
    assert (s.truth.careless == "none").all()
    assert s.n_complete == s.n_kept == s.n_analysed("ml")        # no blanks at all
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


def test_column_map_as_mapping_and_as_pairs(tmp_path):
    sim = simulate_survey(POPULATION, 80, seed=9, include_pii=False)
    ren = {iid: f"question {i + 1}" for i, iid in enumerate(sim.item_columns)}
    csv = tmp_path / "renamed.csv"
    sim.responses.rename(columns=ren).to_csv(csv, index=False)
    with pytest.raises(DataFileError, match="no column found"):
        study.load_study_sample(str(csv), INSTRUMENT)
    s = study.load_study_sample(str(csv), INSTRUMENT, column_map={v: k for k, v in ren.items()})
    assert list(s.items.columns) == sim.item_columns and s.n_rows == 80
    pairs = study.load_study_sample(str(csv), INSTRUMENT, column_map=[f"{v}={k}" for k, v in ren.items()])
    pd.testing.assert_frame_equal(pairs.items, s.items)


def test_a_file_of_another_instrument_loses_no_clean_respondent(sq_sample):
    """The test survey: 400 rows; only the attention-check failures and screened-out
    non-customers are dropped (the two identical answer patterns are flagged, not dropped)."""
    s = sq_sample
    assert s.n_rows == 400
    dropped = s.responses.excluded["checks"].astype(str)
    assert all(set(c.split("; ")) <= {"attention_failed", "screened_out"} for c in dropped)
    assert s.n_kept == 400 - len(dropped)
    assert s.n_analysed("ml") == s.n_kept > s.n_analysed("listwise")


@pytest.mark.parametrize("kw, key", [({"n": 0}, "n"), ({"n": 12.5}, "n"), ({"seed": -1}, "seed"),
                                     ({"careless": 1.5}, "careless"), ({"sim_missing": "sometimes"}, "sim_missing"),
                                     ({"sim_missing_rate": 0}, "sim_missing_rate"), ({"population": None}, "population")])
def test_impossible_parameters_are_named(kw, key):
    with pytest.raises(ConfigError, match=key):
        study.load_study_sample(None, INSTRUMENT, **({"population": POPULATION} | kw))


# --------------------------------------------------------------------------- models
def test_choose_model(inst, sq):
    assert study.choose_model(inst) == "ops" and study.choose_model(sq, None) == "core"
    assert study.choose_model(sq, "extended") == "extended"
    with pytest.raises(ConfigError, match="no model 'combined'") as e:
        study.choose_model(sq, "combined")
    assert "core, extended" in e.value.hint


def test_model_items_and_predictors(inst, sq):
    assert study.model_items(inst, "ops") == inst.items_of("OPS") + inst.items_of("SAT") + inst.items_of("LOY")
    assert len(study.model_items(inst, "combined")) == 27 and study.model_items(inst) == inst.item_ids
    assert study.model_items(sq, "core") == ["ST1", "ST2", "ST3", "DG1", "DG2", "DG3", "FE1", "FE2", "FE3", "OS1", "NPS"]
    assert study.model_predictors(sq, "extended") == {"OSAT": ["STAFF", "DIGI", "FEES", "TRUST"], "REC": ["OSAT"]}
    assert study.model_predictors(inst, "ops") == {"SAT": ["OPS"], "LOY": ["SAT"]}


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


def test_answer_shares_on_an_eleven_point_scale_with_end_labels(sq):
    """0-10 scale: eleven points starting at 0; unlabelled points show the number, the item's
    own anchors (DG3) replace the scale's end labels."""
    d = pd.DataFrame({"NPS": [0, 0, 10, 7], "DG3": [1, 10, 10, 5]})
    sh = study.answer_shares(d, sq)
    nps = sh[sh.item == "NPS"].set_index("point")
    assert list(nps.index) == list(range(0, 11))
    assert nps.loc[0, "n"] == 2 and nps.loc[10, "percent"] == pytest.approx(25)
    assert nps.loc[0, "answer"] == "Not at all likely" and nps.loc[5, "answer"] == "5"
    dg3 = sh[sh.item == "DG3"].set_index("point")
    assert list(dg3.index) == list(range(1, 11)) and dg3.loc[10, "answer"] == "All the time"


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


def test_floor_and_ceiling_use_the_items_own_scale(sq):
    """On a 0-10 scale the floor is 0 (an answer of 1 is not at the floor); on 1-10 it is 1."""
    d = pd.DataFrame({"NPS": [0, 1, 1, 10], "ST1": [1, 1, 10, 5]})
    st = study.item_statistics(d, sq).set_index("item")
    assert st.loc["NPS", "floor_pct"] == pytest.approx(25) and st.loc["NPS", "ceiling_pct"] == pytest.approx(25)
    assert st.loc["ST1", "floor_pct"] == pytest.approx(50) and st.loc["ST1", "ceiling_pct"] == pytest.approx(25)
    assert st.loc["NPS", "label"] == "likelihood to recommend"


def test_missingness_summary_by_hand():
    items = pd.DataFrame({"A": [1, None, 3, 4], "B": [1, 2, None, None], "C": [1, 2, 3, 4]})
    m = study.missingness_summary(SimpleNamespace(items=items))
    assert m["missing_cells"] == 3 and m["cells"] == 12 and m["missing_pct"] == pytest.approx(25.0)
    assert m["respondents_any"] == 3 and m["n_complete"] == 1 and m["lost_pct"] == pytest.approx(75.0)
    assert m["n_any"] == 4 and m["worst_item"] == "B" and m["worst_item_pct"] == pytest.approx(50.0)
    sub = study.missingness_summary(SimpleNamespace(items=items), ["A", "C"])
    assert sub["cells"] == 8 and sub["n_complete"] == 3


def test_careless_detection_matches_the_simulator_design():
    """Speeders are always faster than the instrument minimum (simulated at most 0.9 x 120 s)
    and attention_fail respondents never give the expected answer, so both are always caught."""
    from crm_research.reporting.narrative import describe_careless

    s = study.load_study_sample(None, INSTRUMENT, POPULATION, n=300, seed=21, careless=0.2, sim_missing="none")
    det = study.careless_detection(s).set_index("type")
    truth = s.truth.careless.value_counts()
    for t, row in det.iterrows():
        assert row.respondents == truth[t]
        assert row.dropped + row.flagged + row.unflagged == row.respondents
    assert det.loc["speeder", "caught_pct"] == 100
    assert det.loc["attention_fail", "dropped"] == det.loc["attention_fail", "respondents"]
    text = describe_careless(study.screening_table(s), s.data, det.reset_index())
    caught = int((det.drop("none").dropped + det.drop("none").flagged).sum())
    assert f"caught {caught} of {int(det.drop('none').respondents.sum())} careless" in text
    assert study.careless_detection(SimpleNamespace(truth=None)) is None


# --------------------------------------------------------------------------- groups
def test_group_columns_exclude_items_ids_and_personal_data(sq_sample):
    cols = study.group_columns(sq_sample)
    assert cols[:3] == ["customer_type", "region", "tenure"]
    for bad in ("email", "resp_id", "ST1", "ATT", "duration_sec"):
        assert bad not in cols


def test_split_groups_labels_with_the_options_and_counts_by_hand(sq_sample):
    s = sq_sample
    split = study.split_groups(s, "customer_type", "core", min_group_n=30, missing="listwise")
    items = study.model_items(s.instrument, "core")
    raw = s.data["customer_type"]
    complete = s.items[items].notna().all(axis=1)
    sizes = split.sizes.set_index("group")
    for code, label in ((1, "Personal accounts only"), (2, "Business accounts only"),
                        (3, "Both personal and business accounts")):
        assert sizes.loc[label, "kept"] == int((raw == code).sum())
        assert sizes.loc[label, "usable"] == int(((raw == code) & complete).sum())
    assert set(split.data[split.column]) == set(sizes.index[sizes.analysed])
    assert len(split.data) == int(sizes.loc[sizes.analysed, "usable"].sum())
    assert split.data[items].notna().all().all()
    fiml = study.split_groups(s, "customer_type", "core", min_group_n=30, missing="ml")
    assert fiml.sizes.set_index("group").loc["Personal accounts only", "usable"] == int((raw == 1).sum())


def test_split_groups_recode_merges_values(sq_sample):
    split = study.split_groups(sq_sample, "tenure", None, recode={1: "newer", "2": "newer", 3: "long-standing"},
                               min_group_n=20)
    assert split.column == "tenure_group" and split.source == "tenure"
    assert set(split.sizes.group) == {"newer", "long-standing"}
    raw = sq_sample.data["tenure"]
    assert split.sizes.set_index("group").loc["newer", "kept"] == int(raw.isin([1, 2]).sum())


def test_split_groups_errors_name_the_column(sq_sample):
    with pytest.raises(ConfigError, match="shoe_size") as e:
        study.split_groups(sq_sample, "shoe_size")
    assert "customer_type" in e.value.hint
    with pytest.raises(ConfigError, match="email"):
        study.split_groups(sq_sample, "email")                 # personal data never defines groups
    with pytest.raises(ConfigError, match="two are needed"):
        study.split_groups(sq_sample, "customer_type", min_group_n=10_000)


# --------------------------------------------------------------------------- a study's plan
def test_plan_study_runs_every_model_and_group(tmp_path, sq):
    cfg = study.plan_study(SQ_INSTRUMENT, SQ_RESPONSES, groups=["region", "tenure"], column_map=["Q1=ST1"],
                           sheet=None, encoding="utf-8", missing="listwise", bootstrap=0, seed=3)
    names = [r["name"] for r in cfg["runs"]]
    assert names == ["01-data-quality", "02-measurement", "03-model-core", "03-model-extended",
                     "09-groups-region-core", "09-groups-region-extended", "09-groups-tenure-core",
                     "09-groups-tenure-extended"]
    d = cfg["defaults"]
    assert d["data_file"] == str(SQ_RESPONSES.resolve()) and d["instrument"] == str(SQ_INSTRUMENT.resolve())
    assert d["missing"] == "listwise" and d["population"] is None and d["column_map"] == ["Q1=ST1"]
    assert d["encoding"] == "utf-8" and "sheet" not in d
    run03 = cfg["runs"][2]
    assert run03["parameters"] == {"model": "core", "bootstrap": 0, "seed": 3}
    assert Path(run03["notebook"]).name == "03_structural_model.ipynb" and Path(run03["notebook"]).is_file()
    assert "bootstrap" not in cfg["description"]


def test_plan_study_checks_its_options():
    with pytest.raises(ConfigError, match="missing"):
        study.plan_study(SQ_INSTRUMENT, SQ_RESPONSES, missing="casewise")
    with pytest.raises(ConfigError, match="estimator.*got 'MLX'"):
        study.plan_study(SQ_INSTRUMENT, SQ_RESPONSES, estimator="MLX", bootstrap=0)
    with pytest.raises(ConfigError, match="bootstrap.*ML"):
        study.plan_study(SQ_INSTRUMENT, SQ_RESPONSES, estimator="MLR", bootstrap=100)
    with pytest.raises(ConfigError, match="ordered.*not an item.*NOPE"):
        study.plan_study(SQ_INSTRUMENT, SQ_RESPONSES, ordered="NOPE", bootstrap=0)


def test_plan_study_passes_the_estimation_to_every_notebook(sq):
    cfg = study.plan_study(SQ_INSTRUMENT, SQ_RESPONSES, estimator="mlr", test="satorra.bentler", bootstrap=0)
    d = cfg["defaults"]
    assert d["estimator"] == "MLR" and d["test"] == "satorra.bentler" and "ordered" not in d and "se" not in d
    assert "estimation MLR" in cfg["description"]
    cfg = study.plan_study(SQ_INSTRUMENT, SQ_RESPONSES, ordered="all", missing="pairwise", bootstrap=0)
    assert cfg["defaults"]["estimator"] == "WLSMV" and cfg["defaults"]["ordered"] is True
    assert cfg["defaults"]["missing"] == "pairwise" and "pairwise deletion" in cfg["description"]
    plain = study.plan_study(SQ_INSTRUMENT, SQ_RESPONSES, estimator="ML", bootstrap=0)["defaults"]
    assert "estimator" not in plain                            # ML: the notebooks' defaults, configs unchanged


def test_a_robust_plan_is_a_valid_batch(tmp_path, sq):
    """Every estimation parameter the plan passes is declared by the notebooks (the batch loads)."""
    import yaml

    from crm_research.batch.config import load_batch_config

    cfg = study.plan_study(SQ_INSTRUMENT, SQ_RESPONSES, groups=["region"], estimator="WLSMV", ordered="all",
                           se="robust.sem", test="scaled.shifted", missing="pairwise", bootstrap=0)
    path = tmp_path / "study.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False, allow_unicode=True), encoding="utf-8")
    batch = load_batch_config(path)
    for run in batch.runs:
        if "03_" in str(run.notebook) or "09_" in str(run.notebook):
            assert run.parameters["estimator"] == "WLSMV" and run.parameters["ordered"] is True
            assert run.parameters["missing"] == "pairwise" and run.parameters["test"] == "scaled.shifted"


def test_choose_estimation_checks_parameters_against_the_sample(sim_sample):
    s = sim_sample
    c = study.choose_estimation(s, "mlr", missing="ml")
    assert c.estimation.estimator == "MLR" and c.missing == "ml" and "MLR" in c.summary()
    item = s.items.columns[0]
    c = study.choose_estimation(s, None, ordered=[item], missing="pairwise")
    assert c.estimation.estimator == "WLSMV" and c.estimation.ordered == (item,) and c.missing == "pairwise"
    with pytest.raises(ConfigError, match="parameters: ordered: not an item of the data: XYZ"):
        study.choose_estimation(s, "WLSMV", ordered="XYZ", missing="pairwise")
    with pytest.raises(ConfigError, match="parameters: estimator: ML cannot fit ordered"):
        study.choose_estimation(s, "ML", ordered=True, missing="listwise")
    with pytest.raises(ConfigError, match="parameters: se: expected one of"):
        study.choose_estimation(s, "MLR", se="sandwich")
    with pytest.raises(ConfigError, match="parameters: test: expected one of"):
        study.choose_estimation(s, "MLR", test="bollen.stine")
    assert s.items.isna().to_numpy().any()   # the simulated sample has missing answers, so:
    with pytest.raises(ConfigError, match="parameters: missing: missing = 'ml' is not available with estimator MLM"):
        study.choose_estimation(s, "MLM", missing="ml")
    with pytest.raises(ConfigError, match="missing = 'ml' is not available with ordered.*pairwise"):
        study.choose_estimation(s, "WLSMV", ordered="all", missing="ml")
    with pytest.raises(ConfigError, match="bootstrap"):
        study.plan_study(SQ_INSTRUMENT, SQ_RESPONSES, bootstrap=1)


def test_salt_from_the_environment_gives_stable_pseudonyms(monkeypatch):
    """`crm-research study --salt` reaches the notebooks through $CRM_RESEARCH_SALT (never a parameter)."""
    monkeypatch.setenv(study.SALT_ENV, "a-secret")
    a = study.load_study_sample(str(SQ_RESPONSES), SQ_INSTRUMENT, None)
    b = study.load_study_sample(str(SQ_RESPONSES), SQ_INSTRUMENT, None)
    c = study.load_study_sample(str(SQ_RESPONSES), SQ_INSTRUMENT, None, salt="another")
    pa, pb, pc = (s.responses.other["email"].dropna().tolist() for s in (a, b, c))
    assert pa and pa == pb and pa != pc
    raw = pd.read_csv(SQ_RESPONSES)["email"].dropna().tolist()
    assert not set(raw) & set(pa)

"""Tests for crm_research.simulate.survey and ``crm-research simulate``.

Expectations are computed by hand from the population model (tests/reference/lavaan/README.md
states the generating model of the lavaan reference sample, which the demo population must
reproduce). The recovery tests fit the true model to large simulated samples:

- continuous responses, N = 20000: every standardized parameter within 0.03 of the truth;
- 5-point Likert responses, N = 20000, fitted as continuous (ML on Pearson covariances,
  as AMOS/lavaan do by default): the structural part (paths, second-order loadings, factor
  correlation) within 0.03; item loadings are attenuated by discretization (a known
  property of Pearson correlations of ordinal data), so they must lie within 0.06 below
  the truth, on average between 0.01 and 0.05 below.
"""
from __future__ import annotations

import copy
import math
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from crm_research.errors import ConfigError
from crm_research.instruments import structural_syntax
from crm_research.simulate import PopulationModel, SurveySample, load_population, simulate_survey

ROOT = Path(__file__).resolve().parents[1]
POP_FILE = ROOT / "surveys" / "ecommerce_crm_population.yaml"
INST_FILE = ROOT / "surveys" / "ecommerce_crm.yaml"

# the questionnaire as printed: 7 OPS/CRM dimensions, attention check after CM3, SAT, LOY
ITEMS = [f"{c}{i}" for c in ("PF", "SQ", "LE", "UI", "CS", "CC", "CM", "SAT", "LOY") for i in (1, 2, 3)]
QUESTIONNAIRE = ITEMS[:21] + ["AC1"] + ITEMS[21:]
DEMOGRAPHICS = ["gender", "age_band", "platform", "years_customer", "purchase_frequency"]


@pytest.fixture(scope="module")
def pop() -> PopulationModel:
    return load_population(POP_FILE)


def _key(lhs, op, rhs):
    return (min(lhs, rhs), op, max(lhs, rhs)) if op == "~~" else (lhs, op, rhs)


# --------------------------------------------------------------------------- population model
def test_default_population_is_the_reference_generating_model(pop):
    truth = {_key(*r[:3]): r[3] for r in pop.standardized_parameters().itertuples(index=False)}
    for c in ("PF", "SQ", "LE", "UI", "CS", "CC", "CM", "SAT", "LOY"):
        assert [truth[(c, "=~", f"{c}{i}")] for i in (1, 2, 3)] == [0.82, 0.76, 0.71]
    for h, dims in {"OPS": {"PF": .80, "SQ": .75, "LE": .70, "UI": .65}, "CRM": {"CS": .80, "CC": .70, "CM": .75}}.items():
        for d, lam in dims.items():
            assert truth[(h, "=~", d)] == lam
    assert truth[("SAT", "~", "OPS")] == 0.45 and truth[("SAT", "~", "CRM")] == 0.35
    assert truth[("LOY", "~", "SAT")] == 0.70
    assert truth[_key("OPS", "~~", "CRM")] == 0.5
    assert ("LOY", "~", "OPS") not in truth  # full mediation in the reference model
    assert all(pop.thresholds[i] == (-1.6, -0.8, 0.2, 1.1) for i in ITEMS)



def test_default_population_reproduces_the_shipped_reference_sample(pop):
    """seed_survey_a.csv (400 respondents) was drawn from this model with another generator:
    its answer shares and item correlations must agree with ours up to sampling error."""
    ref = pd.read_csv(ROOT / "tests" / "reference" / "lavaan" / "seed_survey_a.csv")
    share = ref[ITEMS].stack().value_counts(normalize=True).sort_index().to_numpy()
    assert np.allclose(share, pop.thresholds_table().loc[0, ["p1", "p2", "p3", "p4", "p5"]].to_numpy(dtype=float),
                       atol=0.02)
    big = simulate_survey(pop, 50000, 99, careless=0, missing="none", include_pii=False, include_demographics=False)
    iu = np.triu_indices(len(ITEMS), 1)
    d = ref[ITEMS].corr().to_numpy()[iu] - big.responses[ITEMS].astype(float).corr().to_numpy()[iu]
    # SE of a correlation at N = 400 is about (1 - r^2) / 20 = .048: mean |diff| ~ .8 SE
    assert abs(d.mean()) < 0.03 and np.abs(d).mean() < 0.05

def test_residual_variances_give_unit_total_variance(pop):
    p = pop.standardized_parameters()
    var = {(r.lhs): r._3 for r in p[p.op.eq("~~") & p.lhs.eq(p.rhs)].itertuples(index=False)}
    # hand-computed: 1 - explained variance
    assert var["SAT"] == pytest.approx(1 - (.45**2 + .35**2 + 2 * .45 * .35 * .5), abs=1e-12)  # .5175
    assert var["LOY"] == pytest.approx(1 - .70**2, abs=1e-12)
    assert var["PF"] == pytest.approx(1 - .80**2, abs=1e-12)
    assert var["CM"] == pytest.approx(1 - .75**2, abs=1e-12)
    assert var["LOY3"] == pytest.approx(1 - .71**2, abs=1e-12)
    assert var["OPS"] == var["CRM"] == 1.0
    assert list(p.columns) == ["lhs", "op", "rhs", "std.all"]
    # 27 item loadings + 7 second-order + 3 paths + 27 item residuals + 11 latent variances + 1 covariance
    assert len(p) == 76
    lat = pop.latent_correlations()
    assert np.allclose(np.diag(lat), 1.0)
    assert lat.loc["OPS", "LOY"] == pytest.approx(.45 * .70 + .35 * .5 * .70, abs=1e-12)
    assert lat.loc["PF", "CS"] == pytest.approx(.80 * .5 * .80, abs=1e-12)
    ic = pop.implied_correlations()
    assert ic.loc["PF1", "CS2"] == pytest.approx(.82 * .80 * .5 * .80 * .76, abs=1e-12)


def test_effects_include_indirect_effects(pop):
    e = pop.effects().set_index(["from", "to"])
    assert e.loc[("OPS", "LOY"), "direct"] == 0
    assert e.loc[("OPS", "LOY"), "indirect"] == pytest.approx(.45 * .70)
    assert e.loc[("CRM", "LOY"), "total"] == pytest.approx(.35 * .70)
    assert e.loc[("SAT", "LOY"), "direct"] == pytest.approx(.70)


def test_population_syntax_is_the_instruments_combined_model(pop):
    inst = pop.instrument
    combined = structural_syntax(inst, "combined")
    strip = lambda s: {re.sub(r"\b\w+\*", "", ln).replace(" ", "") for ln in s.splitlines() if ln and ":=" not in ln}
    assert strip(pop.syntax()) == strip(combined)


# --------------------------------------------------------------------------- samples
def test_columns_follow_the_questionnaire(pop):
    s = simulate_survey(pop, 200, 1)
    assert isinstance(s, SurveySample)
    assert list(s.responses.columns) == ["respondent_id", "duration_sec", *QUESTIONNAIRE, *DEMOGRAPHICS,
                                         "phone", "email"]
    assert s.responses.shape[0] == 200 and s.responses["respondent_id"].is_unique
    s2 = simulate_survey(pop, 50, 1, include_pii=False, include_demographics=False)
    assert list(s2.responses.columns) == ["respondent_id", "duration_sec", *QUESTIONNAIRE]
    assert list(s.truth.columns[:2]) == ["respondent_id", "careless"]
    assert set(pop.latents) <= set(s.truth.columns)
    assert s.missing_mask.shape == (200, 27)


def test_likert_range_and_option_codes(pop):
    s = simulate_survey(pop, 3000, 5)
    r = s.responses
    vals = r[ITEMS + ["AC1"]].stack().dropna().astype(int)
    assert vals.between(1, 5).all() and set(vals.unique()) == {1, 2, 3, 4, 5}
    assert all(pd.api.types.is_integer_dtype(r[c]) for c in ITEMS)
    inst = pop.instrument
    for q in inst.demographics:
        assert set(r[q.id].unique()) <= set(q.values), q.id
    # age-band shares as declared (1%, 24%, 38%, 22%, 10%, 5%), binomial SE <= .009
    share = r["age_band"].value_counts(normalize=True)
    for code, p in {1: .01, 2: .24, 3: .38, 4: .22, 5: .10, 6: .05}.items():
        assert share.get(code, 0) == pytest.approx(p, abs=0.03)


def test_likert_marginals_follow_thresholds(pop):
    s = simulate_survey(pop, 20000, 2, careless=0, missing="none", include_pii=False)
    # P(point) from the thresholds: Phi differences (-1.6, -0.8, 0.2, 1.1)
    Phi = lambda x: 0.5 * (1 + math.erf(x / math.sqrt(2)))
    cut = [-math.inf, -1.6, -0.8, 0.2, 1.1, math.inf]
    expected = [Phi(cut[k + 1]) - Phi(cut[k]) for k in range(5)]
    got = s.responses["SAT2"].value_counts(normalize=True).sort_index().to_numpy()
    assert np.allclose(got, expected, atol=0.012)


def test_same_seed_same_data_and_different_seed_different(pop):
    kw = dict(missing="MAR", missing_rate=0.05, careless=0.1)
    a, b = simulate_survey(pop, 400, 42, **kw), simulate_survey(pop, 400, 42, **kw)
    pd.testing.assert_frame_equal(a.responses, b.responses, check_exact=True)
    pd.testing.assert_frame_equal(a.truth, b.truth, check_exact=True)
    assert (pd.util.hash_pandas_object(a.responses) == pd.util.hash_pandas_object(b.responses)).all()
    c = simulate_survey(pop, 400, 43, **kw)
    assert not a.responses[ITEMS].equals(c.responses[ITEMS])
    assert not np.array_equal(a.truth["SAT"].to_numpy(), c.truth["SAT"].to_numpy())
    # continuous output is reproducible bit for bit too
    x = simulate_survey(pop, 300, 7, likert=False).responses[ITEMS].to_numpy()
    y = simulate_survey(pop, 300, 7, likert=False).responses[ITEMS].to_numpy()
    assert np.array_equal(x, y, equal_nan=True)


def test_options_do_not_disturb_other_random_streams(pop):
    a = simulate_survey(pop, 300, 3, careless=0.1, missing="MCAR", missing_rate=0.05)
    b = simulate_survey(pop, 300, 3, careless=0.1, missing="MCAR", missing_rate=0.05, include_pii=False)
    pd.testing.assert_frame_equal(a.responses[["duration_sec", *QUESTIONNAIRE, *DEMOGRAPHICS]],
                                  b.responses[["duration_sec", *QUESTIONNAIRE, *DEMOGRAPHICS]], check_exact=True)
    # the latent scores do not depend on careless share or missingness
    c = simulate_survey(pop, 300, 3, careless=0, missing="none")
    assert np.array_equal(a.truth[pop.latents].to_numpy(), c.truth[pop.latents].to_numpy())


def test_likert_answers_are_the_cut_continuous_responses(pop):
    kw = dict(careless=0.1, missing="MCAR", missing_rate=0.05)
    lik = simulate_survey(pop, 1000, 9, **kw)
    con = simulate_survey(pop, 1000, 9, likert=False, **kw)
    ok = (lik.truth["careless"] == "none").to_numpy()
    for item in ("PF1", "CM2", "LOY3"):
        y = con.responses[item].to_numpy()[ok]
        expect = 1 + (y[:, None] > np.array([-1.6, -0.8, 0.2, 1.1])[None, :]).sum(axis=1)
        got = lik.responses[item].to_numpy(dtype=float, na_value=np.nan)[ok]
        keep = ~np.isnan(got)
        assert np.array_equal(np.isnan(got), np.isnan(y))
        assert np.array_equal(got[keep], expect[keep])


def test_sample_correlations_match_the_implied_ones(pop):
    s = simulate_survey(pop, 50000, 4, likert=False, careless=0, missing="none", include_pii=False)
    x = s.responses[ITEMS].to_numpy()
    assert np.allclose(x.var(axis=0), 1, atol=0.03)
    assert np.abs(np.corrcoef(x.T) - pop.implied_correlations().to_numpy()).max() < 0.02
    lat = s.truth[pop.latents].to_numpy()
    assert np.abs(np.corrcoef(lat.T) - pop.latent_correlations().to_numpy()).max() < 0.02


# --------------------------------------------------------------------------- missing data
def test_mcar_rate_and_independence(pop):
    s = simulate_survey(pop, 4000, 11, missing="MCAR", missing_rate=0.10, careless=0)
    r = s.responses
    miss = r[ITEMS].isna()
    assert miss.to_numpy().mean() == pytest.approx(0.10, abs=0.006)   # SE .0009
    assert (miss.to_numpy() == s.missing_mask.to_numpy()).all()
    by_age = miss.mean(axis=1).groupby(r["age_band"]).mean()
    assert by_age.loc[[2, 3, 4, 5]].max() - by_age.loc[[2, 3, 4, 5]].min() < 0.02
    assert r["AC1"].notna().all() and r["duration_sec"].notna().all()
    # truth lists the blanked cells
    row = int(np.flatnonzero(s.truth["n_missing"].to_numpy() > 0)[0])
    assert s.truth.loc[row, "missing_items"].split(";") == [c for c in ITEMS if miss.loc[row, c]]


def test_mar_depends_on_the_driver(pop):
    s = simulate_survey(pop, 6000, 12, missing="MAR", missing_rate=0.10, careless=0, mar_driver="age_band",
                        mar_strength=0.5)
    r = s.responses
    rate = r[ITEMS].isna().mean(axis=1)
    assert rate.mean() == pytest.approx(0.10, abs=0.006)
    by_age = rate.groupby(r["age_band"]).mean()
    assert by_age.loc[2] < by_age.loc[3] < by_age.loc[4] < by_age.loc[5] < by_age.loc[6]
    # p_i proportional to exp(0.5 * z_i): band 6 vs band 2 differ by factor exp(0.5 * 4 / sd(age))
    age = r["age_band"].to_numpy(dtype=float)
    ratio = math.exp(0.5 * 4 / age.std())
    assert by_age.loc[6] / by_age.loc[2] == pytest.approx(ratio, rel=0.2)


def test_mar_with_an_item_driver_keeps_the_driver_observed(pop):
    s = simulate_survey(pop, 4000, 13, missing="MAR", missing_rate=0.08, careless=0, mar_driver="LOY1")
    r = s.responses
    assert r["LOY1"].notna().all()
    rate = r[[c for c in ITEMS if c != "LOY1"]].isna().mean(axis=1)
    by = rate.groupby(r["LOY1"].astype(int)).mean()
    assert by.loc[5] > 2 * by.loc[1]


def test_mar_needs_an_observed_driver(pop):
    with pytest.raises(ValueError, match="MNAR"):
        simulate_survey(pop, 100, 1, missing="MAR", missing_rate=0.1, include_demographics=False,
                        mar_driver="age_band")
    with pytest.raises(ValueError, match="mar_driver"):
        simulate_survey(pop, 100, 1, missing="MAR", missing_rate=0.1, mar_driver="shoe_size")
    with pytest.raises(ValueError, match="mechanism"):
        simulate_survey(pop, 100, 1, missing="none", missing_rate=0.1)


# --------------------------------------------------------------------------- careless respondents
@pytest.fixture(scope="module")
def messy(pop):
    return simulate_survey(pop, 2000, 21, careless=0.2, missing="none")


def test_careless_counts_are_exact(messy):
    counts = messy.truth["careless"].value_counts()
    assert counts["none"] == 1600
    for t in ("straightline", "random", "speeder", "attention_fail"):
        assert counts[t] == 100
    assert messy.careless_table()["n"].sum() == 2000


def test_straightliners_straightline(messy):
    r, kind = messy.responses, messy.truth["careless"]
    sd = r[ITEMS].astype(float).std(axis=1)
    assert (sd[kind == "straightline"] == 0).all()
    assert (sd[kind == "none"] > 0).mean() > 0.99


def test_speeders_are_fast_and_others_are_not(messy, pop):
    d, kind = messy.responses["duration_sec"], messy.truth["careless"]
    assert (d[kind == "speeder"] < pop.instrument.min_seconds).all()
    assert d[kind == "none"].median() == pytest.approx(330, rel=0.08)
    assert (d[kind == "none"] < pop.instrument.min_seconds).mean() < 0.02


def test_attention_checks(messy):
    ac, kind = messy.responses["AC1"], messy.truth["careless"]
    assert (ac[kind == "attention_fail"] != 4).all()
    assert (ac[kind == "none"] == 4).mean() > 0.97
    assert (ac[kind == "random"] != 4).mean() > 0.6
    assert (ac[kind == "speeder"] != 4).mean() > 0.6


def test_random_responders_ignore_the_constructs(messy):
    r, kind = messy.responses, messy.truth["careless"]
    rnd = r.loc[kind == "random", ["PF1", "PF2"]].astype(float)
    att = r.loc[kind == "none", ["PF1", "PF2"]].astype(float)
    assert abs(rnd.corr().iloc[0, 1]) < 0.25 < att.corr().iloc[0, 1]
    # uniform over 1..5: 2700 answers, SE of a share = sqrt(.2 * .8 / 2700) = .0077; allow 4 SE
    share = r.loc[kind == "random", ITEMS].stack().value_counts(normalize=True)
    assert np.allclose(share.sort_index().to_numpy(dtype=float), 0.2, atol=0.031)


def test_careless_types_subset(pop):
    s = simulate_survey(pop, 500, 2, careless=0.1, careless_types=["speeder"])
    assert s.truth["careless"].value_counts().to_dict() == {"none": 450, "speeder": 50}
    s = simulate_survey(pop, 500, 2, careless=0.1, careless_types={"straightline": 3, "random": 1})
    assert s.truth["careless"].value_counts().to_dict() == {"none": 450, "straightline": 38, "random": 12}
    with pytest.raises(ValueError, match="unknown careless type"):
        simulate_survey(pop, 10, 1, careless=0.1, careless_types=["sleepy"])


# --------------------------------------------------------------------------- personal data, demographics
def test_fake_personal_data(pop):
    r = simulate_survey(pop, 2000, 8).responses
    phone, email = r["phone"].dropna(), r["email"].dropna()
    assert len(phone) / 2000 == pytest.approx(0.6, abs=0.04)
    assert phone.str.fullmatch(r"1[3-9]\d{9}").all()
    assert email.str.fullmatch(r"[a-z]{5,10}\d{0,3}@example\.(com|net|org|cn)").all()
    assert phone.is_unique


def test_demographic_related_to_loyalty(pop):
    s = simulate_survey(pop, 5000, 6, careless=0, missing="none")
    r = np.corrcoef(s.responses["years_customer"].astype(float), s.truth["LOY"])[0, 1]
    assert 0.2 < r < 0.3            # ordered-probit link r = .30, attenuated by 4 categories
    r0 = np.corrcoef(s.responses["gender"].astype(float), s.truth["LOY"])[0, 1]
    assert abs(r0) < 0.05


def test_reverse_coded_items_are_mirrored(tmp_path, pop):
    inst = yaml.safe_load(INST_FILE.read_text(encoding="utf-8"))
    for c in inst["constructs"]:
        for it in c.get("items", []):
            if it["id"] == "LOY3":
                it["reverse"] = True
    (tmp_path / "inst.yaml").write_text(yaml.safe_dump(inst, allow_unicode=True), encoding="utf-8")
    raw = yaml.safe_load(POP_FILE.read_text(encoding="utf-8"))
    raw["instrument"] = "inst.yaml"
    (tmp_path / "pop.yaml").write_text(yaml.safe_dump(raw), encoding="utf-8")
    rev = load_population(tmp_path / "pop.yaml")
    a = simulate_survey(pop, 500, 5, careless=0, missing="none").responses
    b = simulate_survey(rev, 500, 5, careless=0, missing="none").responses
    assert (b["LOY3"] == 6 - a["LOY3"]).all()
    assert (b["LOY1"] == a["LOY1"]).all()
    assert np.corrcoef(b["LOY1"].astype(float), b["LOY3"].astype(float))[0, 1] < -0.3


def test_summary_and_repr(pop):
    s = simulate_survey(pop, 300, 1, careless=0.1, missing="MCAR", missing_rate=0.05)
    text = s.summary()
    assert "300 respondents" in text and "seed 1" in text and "MCAR" in text
    # 30 careless respondents over 4 types: 7.5 each, ties go to the types listed first
    assert "none 270, straightline 8, random 8, speeder 7, attention_fail 7" in text
    assert "<pre>" in s._repr_html_() and "SAT ~" in pop.summary()
    assert "ecommerce_crm_demo" in repr(s)


def test_arguments_are_checked(pop):
    with pytest.raises(ValueError, match="seed"):
        simulate_survey(pop, 10, -1)
    with pytest.raises(ValueError, match="n must"):
        simulate_survey(pop, 0, 1)
    with pytest.raises(ValueError, match="missing must"):
        simulate_survey(pop, 10, 1, missing="NMAR")
    assert len(simulate_survey(POP_FILE, None, 1).responses) == 500  # path and default n


# --------------------------------------------------------------------------- bad population files
def _write(tmp_path: Path, raw: dict) -> Path:
    shutil.copy(INST_FILE, tmp_path / "ecommerce_crm.yaml")
    p = tmp_path / "pop.yaml"
    p.write_text(yaml.safe_dump(raw, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return p


def _base() -> dict:
    return yaml.safe_load(POP_FILE.read_text(encoding="utf-8"))


def _drop(d, *keys):
    d = copy.deepcopy(d)
    x = d
    for k in keys[:-1]:
        x = x[k]
    del x[keys[-1]]
    return d


def _set(d, value, *keys):
    d = copy.deepcopy(d)
    x = d
    for k in keys[:-1]:
        x = x[k]
    x[keys[-1]] = value
    return d


BAD = [
    ("missing loadings of a construct", lambda d: _drop(d, "loadings", "SQ"), "loadings.SQ", "required"),
    ("wrong number of loadings", lambda d: _set(d, [.8, .7], "loadings", "PF"), "loadings.PF", "expected 3 values"),
    ("loading above 1", lambda d: _set(d, {"LE1": 1.2, "LE2": .7, "LE3": .7}, "loadings", "LE"), "loadings.LE.LE1",
     "between -1 and 1"),
    ("loading of 1", lambda d: _set(d, 1.0, "loadings", "UI"), "loadings.UI", "residual variance"),
    ("loadings for a higher-order construct", lambda d: _set(d, .8, "loadings", "OPS"), "loadings.OPS", "second_order"),
    ("unknown item", lambda d: _set(d, {"CS1": .8, "CS2": .7, "CSX": .7}, "loadings", "CS"), "loadings.CS.CSX",
     "unknown item"),
    ("missing second-order loadings", lambda d: _drop(d, "second_order", "CRM"), "second_order.CRM", "required"),
    ("unknown predictor", lambda d: _set(d, {"OPS": .4, "FOO": .3}, "paths", "SAT"), "paths.SAT.FOO",
     "unknown construct"),
    ("paths explain more than all variance", lambda d: _set(d, {"OPS": .9, "CRM": .9}, "paths", "SAT"), "paths.SAT",
     "implied residual variance of SAT"),
    ("second-order loading too high with a path", lambda d: _set(d, {"SAT": .7, "OPS": .9}, "paths", "LOY"),
     "paths.LOY", "residual variance of LOY"),
    ("non-numeric path", lambda d: _set(d, {"OPS": "big"}, "paths", "SAT"), "paths.SAT.OPS", "expected a number"),
    ("bad path text", lambda d: _set(d, "0.7 SAT", "paths", "LOY"), "paths.LOY", "cannot read"),
    ("cycle", lambda d: _set(d, {"LOY": .3}, "paths", "CRM"), "paths", "cycle"),
    ("correlation with an endogenous factor", lambda d: _set(d, {"OPS ~~ SAT": .3}, "correlations"),
     "correlations.OPS ~~ SAT", "endogenous"),
    ("correlation out of range", lambda d: _set(d, {"OPS ~~ CRM": 1.5}, "correlations"), "correlations.OPS ~~ CRM",
     "between -1 and 1"),
    ("bad correlation key", lambda d: _set(d, {"OPS with CRM": .5}, "correlations"), "correlations.OPS with CRM",
     "OPS ~~ CRM"),
    ("thresholds not increasing", lambda d: _set(d, [-1.6, 0.2, -0.8, 1.1], "thresholds", "agree5"),
     "thresholds.agree5", "strictly increasing"),
    ("wrong number of thresholds", lambda d: _set(d, [-1, 0, 1], "thresholds", "agree5"), "thresholds.agree5",
     "4 cut points"),
    ("missing thresholds", lambda d: _set(d, {}, "thresholds"), "thresholds.agree5", "required"),
    ("unknown threshold key", lambda d: _set(d, [-1, 0, 1, 2], "thresholds", "agree7"), "thresholds.agree7", "unknown"),
    ("instrument not found", lambda d: _set(d, "nope.yaml", "instrument"), "instrument", "not found"),
    ("missing instrument", lambda d: _drop(d, "instrument"), "instrument", "required"),
    ("unknown top-level key", lambda d: _set(d, {}, "loading"), "loading", "unknown key"),
    ("bad default mechanism", lambda d: _set(d, "NMAR", "defaults", "missing"), "defaults.missing", "MCAR"),
    ("bad default n", lambda d: _set(d, -5, "defaults", "n"), "defaults.n", "positive"),
    ("bad careless type", lambda d: _set(d, ["lazy"], "defaults", "careless_types"), "defaults.careless_types",
     "unknown careless type"),
    ("bad MAR driver", lambda d: _set(d, "income", "defaults", "mar_driver"), "defaults.mar_driver", "age_band"),
    ("probabilities not summing to 1", lambda d: _set(d, {"probs": [.5, .2, .1]}, "demographics", "gender"),
     "demographics.gender.probs", "sum to 1"),
    ("unknown demographic", lambda d: _set(d, {"probs": [1]}, "demographics", "income"), "demographics.income",
     "unknown demographic"),
    ("negative duration", lambda d: _set(d, -3, "duration", "median_sec"), "duration.median_sec", "> 0"),
]


@pytest.mark.parametrize("case, mutate, key, words", BAD, ids=[b[0] for b in BAD])
def test_bad_population_files_name_file_and_key(tmp_path, case, mutate, key, words):
    p = _write(tmp_path, mutate(_base()))
    with pytest.raises(ConfigError) as e:
        load_population(p)
    assert e.value.file == str(p)
    assert e.value.key == key
    assert words in str(e.value) and str(p) in str(e.value)


def test_impossible_correlations(tmp_path):
    d = _base()
    d["paths"] = {}                      # SAT and LOY become exogenous too
    d["correlations"] = {"OPS ~~ CRM": .9, "OPS ~~ SAT": .9, "CRM ~~ SAT": -.9}
    with pytest.raises(ConfigError, match="not positive definite") as e:
        load_population(_write(tmp_path, d))
    assert e.value.key == "correlations"


def test_invalid_yaml_and_missing_file(tmp_path):
    p = tmp_path / "pop.yaml"
    p.write_text("loadings: [1, 2\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="invalid YAML") as e:
        load_population(p)
    assert e.value.key.startswith("line ")
    with pytest.raises(ConfigError, match="file not found"):
        load_population(tmp_path / "none.yaml")


def test_alternative_forms_are_accepted(tmp_path, pop):
    d = _base()
    d["loadings"]["PF"] = 0.8                                  # one value for all items
    d["loadings"]["SQ"] = {"SQ1": .82, "SQ2": .76, "SQ3": .71}  # mapping
    d["second_order"]["CRM"] = [.8, .7, .75]                  # list in dimension order
    d["paths"] = {"SAT": "0.45*OPS + 0.35*CRM", "LOY": "0.60*SAT + 0.15*OPS"}  # partial mediation
    d["thresholds"]["LOY3"] = [-1.2, -0.4, 0.5, 1.4]
    alt = load_population(_write(tmp_path, d))
    t = {_key(*r[:3]): r[3] for r in alt.standardized_parameters().itertuples(index=False)}
    assert t[("PF", "=~", "PF3")] == 0.8 and t[("SQ", "=~", "SQ2")] == 0.76 and t[("CRM", "=~", "CC")] == 0.7
    assert t[("LOY", "~", "OPS")] == 0.15
    # LOY residual: 1 - (.6^2 + .15^2 + 2*.6*.15*cor(SAT, OPS)); cor(SAT, OPS) = .45 + .35*.5
    assert t[("LOY", "~~", "LOY")] == pytest.approx(1 - (.36 + .0225 + 2 * .6 * .15 * (.45 + .175)), abs=1e-12)
    assert alt.thresholds["LOY3"] == (-1.2, -0.4, 0.5, 1.4) and alt.thresholds["LOY2"] == (-1.6, -0.8, 0.2, 1.1)
    e = alt.effects().set_index(["from", "to"])
    assert e.loc[("OPS", "LOY"), "total"] == pytest.approx(.15 + .45 * .60)


# --------------------------------------------------------------------------- recovery of the true model
def _fit_standardized(pop: PopulationModel, df: pd.DataFrame) -> tuple[dict, str]:
    """Standardized estimates keyed (lhs, op, rhs) from crm_research.sem if available, else semopy."""
    try:
        from crm_research.sem import fit as sem_fit  # the project's lavaan-parity layer
    except ImportError:
        sem_fit = None
    if sem_fit is not None:
        est = sem_fit(structural_syntax(pop.instrument, "combined"), df).estimates
        est = est[est.op.isin(["=~", "~", "~~"])]
        return {_key(r.lhs, r.op, r.rhs): float(r._3) for r in est[["lhs", "op", "rhs", "std.all"]].itertuples(index=False)}, \
            "crm_research.sem"
    import semopy

    m = semopy.Model(pop.syntax())
    m.fit(df.astype(float), options={"ftol": 1e-12})
    out = {}
    for r in m.inspect(std_est=True).itertuples(index=False):
        lhs, op, rhs, std = r[0], r[1], r[2], float(r[4])
        if op == "~" and (lhs in pop.items or lhs in pop.second_order.get(rhs, {})):
            lhs, op, rhs = rhs, "=~", lhs       # semopy writes loadings as item ~ factor
        out[_key(lhs, op, rhs)] = std
    return out, "semopy"


def _compare(pop, est):
    truth = {_key(*r[:3]): r[3] for r in pop.standardized_parameters().itertuples(index=False)}
    missing = set(truth) - set(est)
    assert not missing, f"fit lacks parameters {sorted(missing)[:5]}"
    return {k: est[k] - v for k, v in truth.items()}


def test_recovers_population_parameters_from_continuous_data(pop):
    s = simulate_survey(pop, 20000, 2024, likert=False, careless=0, missing="none",
                        include_demographics=False, include_pii=False)
    est, engine = _fit_standardized(pop, s.responses[ITEMS])
    diff = _compare(pop, est)
    worst = max(diff.items(), key=lambda kv: abs(kv[1]))
    assert abs(worst[1]) < 0.03, f"{engine}: {worst}"


def test_recovers_structure_from_likert_data(pop):
    s = simulate_survey(pop, 20000, 2025, careless=0, missing="none", include_demographics=False, include_pii=False)
    est, engine = _fit_standardized(pop, s.responses[ITEMS])
    diff = _compare(pop, est)
    structural = {k: d for k, d in diff.items()
                  if k[1] == "~" or (k[1] == "=~" and k[0] in ("OPS", "CRM")) or k == _key("OPS", "~~", "CRM")}
    assert len(structural) == 3 + 7 + 1
    assert max(abs(d) for d in structural.values()) < 0.03, (engine, structural)
    items = [d for k, d in diff.items() if k[1] == "=~" and k[2] in ITEMS]
    assert len(items) == 27
    assert all(-0.06 < d < 0.005 for d in items), (engine, items)   # attenuated, never inflated beyond noise
    assert -0.05 < float(np.mean(items)) < -0.01


# --------------------------------------------------------------------------- CLI
def _cli(*argv) -> int:
    from crm_research.cli import main

    return main([str(a) for a in argv])


def test_cli_writes_bom_csv_and_refuses_to_overwrite(tmp_path, pop, capsys):
    out = tmp_path / "sub" / "sample.csv"
    assert _cli("simulate", POP_FILE, "-n", 120, "--seed", 4, "--missing", "MCAR", "--missing-rate", ".05",
                "--careless", ".05", "-o", out) == 0
    assert out.read_bytes()[:3] == b"\xef\xbb\xbf"
    back = pd.read_csv(out, encoding="utf-8-sig", dtype={"phone": str})
    ref = simulate_survey(pop, 120, 4, missing="MCAR", missing_rate=0.05, careless=0.05).responses
    assert list(back.columns) == list(ref.columns)
    assert np.array_equal(back[ITEMS].to_numpy(dtype=float), ref[ITEMS].to_numpy(dtype=float, na_value=np.nan),
                          equal_nan=True)
    assert back["phone"].fillna("").tolist() == ref["phone"].fillna("").tolist()
    assert "120 respondents" in capsys.readouterr().out
    before = out.read_bytes()
    assert _cli("simulate", POP_FILE, "-n", 50, "--seed", 9, "-o", out) == 2
    assert "already exists" in capsys.readouterr().err
    assert out.read_bytes() == before
    assert _cli("simulate", POP_FILE, "-n", 50, "--seed", 9, "-o", out, "--force") == 0
    assert len(pd.read_csv(out, encoding="utf-8-sig")) == 50


def test_cli_parquet_xlsx_truth_and_no_pii(tmp_path, pop):
    pq, tr = tmp_path / "s.parquet", tmp_path / "truth.csv"
    assert _cli("simulate", POP_FILE, "-n", 80, "--seed", 2, "--no-pii", "-o", pq, "--truth", tr) == 0
    back = pd.read_parquet(pq)
    ref = simulate_survey(pop, 80, 2, include_pii=False)
    assert "phone" not in back.columns and "email" not in back.columns
    pd.testing.assert_frame_equal(back, ref.responses, check_dtype=False)
    assert pd.read_csv(tr, encoding="utf-8-sig")["careless"].tolist() == ref.truth["careless"].tolist()
    xl = tmp_path / "s.xlsx"
    assert _cli("simulate", POP_FILE, "-n", 30, "--seed", 2, "--continuous", "-o", xl) == 0
    assert pd.read_excel(xl)["PF1"].dtype == float


def test_cli_errors_are_one_line(tmp_path, capsys):
    assert _cli("simulate", POP_FILE, "-o", tmp_path / "x.txt") == 2
    assert "unknown output format" in capsys.readouterr().err
    assert _cli("simulate", tmp_path / "none.yaml", "-o", tmp_path / "x.csv") == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "file not found" in err
    assert _cli("simulate", POP_FILE, "--missing", "none", "--missing-rate", ".1", "-o", tmp_path / "x.csv") == 2
    assert "mechanism" in capsys.readouterr().err
    assert not (tmp_path / "x.csv").exists()


# --------------------------------------------------------------------------- lavaan itself
_LAVAAN_FIT = r"""
suppressMessages(library(lavaan))
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[1])
fit <- sem(paste(readLines(args[2]), collapse = "\n"), data = d)
pe <- parameterEstimates(fit, standardized = TRUE)
pe <- pe[pe$op %in% c("=~", "~", "~~"), c("lhs", "op", "rhs", "std.all")]
pe$converged <- lavInspect(fit, "converged")
write.csv(pe, args[3], row.names = FALSE)
"""


def _lavaan_available() -> bool:
    import subprocess

    if shutil.which("Rscript") is None:
        return False
    try:
        return subprocess.run(["Rscript", "-e", "library(lavaan)"], capture_output=True, timeout=60).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def test_lavaan_fits_generated_syntax_to_simulated_sample(tmp_path, pop):
    """The issue's check: the instrument's lavaan syntax, fitted in lavaan to simulated data,
    converges and matches the population (continuous responses, N = 20000, within 0.03)."""
    import subprocess

    if not _lavaan_available():
        pytest.skip("R with lavaan is not installed")

    from crm_research.instruments import measurement_syntax

    s = simulate_survey(pop, 20000, 31, likert=False, careless=0, missing="none",
                        include_demographics=False, include_pii=False)
    s.responses[ITEMS].to_csv(tmp_path / "data.csv", index=False)
    (tmp_path / "fit.R").write_text(_LAVAAN_FIT, encoding="utf-8")
    lat = pop.latent_correlations()
    truth = {_key(*r[:3]): r[3] for r in pop.standardized_parameters().itertuples(index=False)}
    first = [c.id for c in pop.instrument.first_order]
    for name, syntax in [("measurement", measurement_syntax(pop.instrument, higher_order=False)),
                         ("combined", structural_syntax(pop.instrument, "combined"))]:
        (tmp_path / f"{name}.lav").write_text(syntax, encoding="utf-8")
        subprocess.run(["Rscript", str(tmp_path / "fit.R"), str(tmp_path / "data.csv"), str(tmp_path / f"{name}.lav"),
                        str(tmp_path / f"{name}.csv")], check=True, capture_output=True, timeout=300)
        est = pd.read_csv(tmp_path / f"{name}.csv")
        assert est["converged"].all()
        got = {_key(r.lhs, r.op, r.rhs): r._3 for r in est.itertuples(index=False)}
        if name == "measurement":  # first-order CFA: loadings and the implied factor correlations
            want = {k: v for k, v in truth.items() if k[1] == "=~" and k[0] in first}
            want.update({_key(a, "~~", b): lat.loc[a, b] for i, a in enumerate(first) for b in first[i + 1:]})
        else:
            want = truth
        assert set(want) <= set(got)
        worst = max(want, key=lambda k: abs(got[k] - want[k]))
        assert abs(got[worst] - want[worst]) < 0.03, (name, worst, got[worst], want[worst])


# --------------------------------------------------------------------------- strict keys, any scale
TYPOS = [
    (lambda d: _set(d, {}, "loading"), "loading", "loadings"),
    (lambda d: _set(d, {}, "treshholds"), "treshholds", "thresholds"),
    (lambda d: _set(d, .7, "loadings", "SATT"), "loadings.SATT", "SAT"),
    (lambda d: _set(d, .5, "paths", "LOY", "SATT"), "paths.LOY.SATT", "SAT"),
    (lambda d: _set(d, 500, "defaults", "size"), "defaults.size", "known keys: n, missing, missing_rate, careless"),
    (lambda d: _set(d, .01, "defaults", "missing_rte"), "defaults.missing_rte", "missing_rate"),
    (lambda d: _set(d, .01, "behaviour", "attention_slp"), "behaviour.attention_slp", "attention_slip"),
    (lambda d: _set(d, 300, "duration", "median_secs"), "duration.median_secs", "median_sec"),
    (lambda d: _set(d, {"prob": [.5, .5, 0]}, "demographics", "gender"), "demographics.gender.prob", "probs"),
    (lambda d: _set(d, {"probs": [.5, .5, 0]}, "demographics", "gendr"), "demographics.gendr", "gender"),
    (lambda d: _set(d, {"construct": "LOY", "rho": .3}, "demographics", "years_customer", "related_to"),
     "demographics.years_customer.related_to.rho", "known keys: construct, r"),
    (lambda d: _set(d, .5, "personal_data", "fill"), "personal_data.fill", "fill_rate"),
    (lambda d: _set(d, {"prob": [.2] * 5}, "thresholds", "agree5"), "thresholds.agree5.prob", "probs"),
    (lambda d: _set(d, [-1, 0, 1, 2], "thresholds", "agre5"), "thresholds.agre5", "agree5"),
]


@pytest.mark.parametrize("mutate, key, near", TYPOS, ids=[t[1] for t in TYPOS])
def test_unknown_keys_in_population_files_suggest_the_known_one(tmp_path, mutate, key, near):
    p = _write(tmp_path, mutate(_base()))
    with pytest.raises(ConfigError) as e:
        load_population(p)
    assert e.value.key == key, str(e.value)
    if near.startswith("known keys:"):   # nothing close: the message lists the known keys
        assert f"unknown key; {near}" in str(e.value)
    else:
        assert f"did you mean {near!r}?" in str(e.value), str(e.value)


def test_thresholds_from_probabilities_hand_computed(tmp_path, pop):
    from statistics import NormalDist

    probs = [0.055, 0.157, 0.367, 0.285, 0.136]
    d = _set(_base(), {"probs": probs}, "thresholds", "agree5")
    p2 = load_population(_write(tmp_path, d))
    cuts = [NormalDist().inv_cdf(x) for x in (0.055, 0.212, 0.579, 0.864)]
    assert p2.thresholds["PF1"] == pytest.approx(tuple(cuts), abs=1e-12)
    assert p2.thresholds_table().loc[0, ["p1", "p2", "p3", "p4", "p5"]].tolist() == pytest.approx(probs, abs=1e-12)
    for bad, words in (({"probs": [.5, .5]}, "expected 5 probabilities"),
                       ({"probs": [.5, .2, .1, .1, .2]}, "sum to 1"), ({"probs": [.5, .3, .2, 0, 0]}, "> 0")):
        with pytest.raises(ConfigError, match=words) as e:
            load_population(_write(tmp_path, _set(_base(), bad, "thresholds", "agree5")))
        assert e.value.key == "thresholds.agree5.probs"


SQ_POP = ROOT / "tests" / "data" / "service_quality" / "service_quality_population.yaml"


@pytest.fixture(scope="module")
def sq_sample():
    return simulate_survey(SQ_POP, 20000, 11, careless=0, missing="none")


def test_any_scale_is_simulated_within_its_range(sq_sample):
    inst = sq_sample.population.instrument
    r = sq_sample.responses
    for it in inst.items:
        sc = inst.scale_of(it.id)
        assert r[it.id].min() == sc.min and r[it.id].max() == sc.max, it.id
    assert r["OS1"].min() == 0 and r["ST1"].min() == 1 and r["TR1"].max() == 6
    assert (r["ATT"] == 8).mean() == pytest.approx(0.99, abs=0.005)       # attention_slip .01
    assert set(r["ATT"].unique()) <= {7, 8, 9}                             # slips go to a neighbouring point


def test_point_shares_follow_the_declared_probabilities(sq_sample):
    pop = sq_sample.population
    r = sq_sample.responses
    table = pop.thresholds_table().set_index("item")
    for item, probs in (("OS1", [0.01, 0.01, 0.02, 0.03, 0.05, 0.08, 0.12, 0.20, 0.22, 0.14, 0.12]),
                        ("NPS", [0.03, 0.02, 0.03, 0.04, 0.05, 0.09, 0.10, 0.18, 0.20, 0.12, 0.14]),
                        ("ST2", [0.02, 0.02, 0.04, 0.06, 0.10, 0.14, 0.20, 0.20, 0.12, 0.10])):
        sc = pop.instrument.scale_of(item)
        assert table.loc[item, [f"p{v}" for v in sc.values]].tolist() == pytest.approx(probs, abs=1e-9)
        share = r[item].value_counts(normalize=True).reindex(sc.values, fill_value=0).to_numpy()
        assert share == pytest.approx(probs, abs=0.012)                    # binomial SE <= .0036 at N = 20000
    # the 6-point item: 1 + #{cut points below y*}, cut points -1.8 -1.1 -0.4 0.4 1.3
    cdf = [NormalDist_cdf(x) for x in (-1.8, -1.1, -0.4, 0.4, 1.3)]
    expect = np.diff([0.0, *cdf, 1.0])
    assert r["TR1"].value_counts(normalize=True).sort_index().to_numpy() == pytest.approx(expect, abs=0.012)


def NormalDist_cdf(x: float) -> float:
    return 0.5 * (1 + math.erf(x / math.sqrt(2)))


def test_reverse_item_on_a_ten_point_scale_is_mirrored(sq_sample):
    pop = sq_sample.population
    s = simulate_survey(pop, 3000, 5, careless=0, missing="none", likert=False)
    cont = s.responses["DG3"].to_numpy()                   # continuous output: -y*
    lik = simulate_survey(pop, 3000, 5, careless=0, missing="none").responses["DG3"].to_numpy()
    cuts = np.asarray(pop.thresholds["DG3"])
    # the Likert answer is min + max - (1 + #{cuts < y*}) = 11 - (1 + #{cuts < -cont}) on 1-10
    assert (lik == 11 - (1 + np.searchsorted(cuts, -cont, side="left"))).all()
    assert np.corrcoef(lik, s.responses["DG1"])[0, 1] < -0.3    # as answered, before reverse coding


def test_straightliners_on_mixed_scales_stay_within_each_scale():
    s = simulate_survey(SQ_POP, 400, 3, careless=0.05, careless_types=["straightline"], missing="none")
    inst = s.population.instrument
    sl = s.responses[s.truth.careless == "straightline"]
    assert len(sl) == 20
    for _, row in sl.iterrows():
        by_range = {}
        for it in inst.items:
            sc = inst.scale_of(it.id)
            by_range.setdefault((sc.min, sc.max), set()).add(int(row[it.id]))
        assert all(len(v) == 1 for v in by_range.values()), row

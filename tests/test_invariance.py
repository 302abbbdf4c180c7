"""Measurement invariance steps and cross-group path comparison (crm_research.invariance).

lavaan references (tests/reference/lavaan, made by make_references.R with lavaan 0.6-14):
hs_mg_config / hs_mg_metric / hs_mg_scalar / hs_mg_strict are the four invariance steps of the
Holzinger-Swineford CFA by school; eco_mg_metric / eco_mg_h1equal are the grouped e-commerce
model with SAT ~ OPS free / constrained equal across the two segments.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import chi2

from crm_research.errors import ConfigError, CRMResearchError, ModelError
from crm_research.instruments import load_instrument
from crm_research.invariance import (InvarianceRule, compare_paths, invariance_verdict, measurement_invariance,
                                     per_group_syntax)

ROOT = Path(__file__).resolve().parents[1]
REF = Path(__file__).parent / "reference" / "lavaan"
HS_MODEL = (REF / "hs_mg_config.lav").read_text()
STEP_REF = {"configural": "hs_mg_config", "metric": "hs_mg_metric", "scalar": "hs_mg_scalar",
            "strict": "hs_mg_strict"}


def _ref(name):
    return json.loads((REF / f"{name}.json").read_text())["fit_measures"]


@pytest.fixture(scope="module")
def hs():
    return pd.read_csv(REF / "HolzingerSwineford1939.csv")


@pytest.fixture(scope="module")
def inv(hs):
    return measurement_invariance(HS_MODEL, hs, "school", missing="listwise")   # as the references


@pytest.fixture(scope="module")
def eco():
    return pd.read_csv(REF / "seed_survey_groups.csv")


@pytest.fixture(scope="module")
def inst():
    return load_instrument(ROOT / "surveys" / "ecommerce_crm.yaml")


# ----------------------------------------------------------------- invariance table vs lavaan
def test_steps_match_lavaan(inv):
    t = inv.table.set_index("step")
    assert list(t.index) == ["configural", "metric", "scalar", "strict"]
    for step, name in STEP_REF.items():
        ref = _ref(name)
        for k in ("chisq", "df", "cfi", "tli", "rmsea", "srmr", "aic", "bic", "npar"):
            assert round(float(t.loc[step, k]), 3) == round(ref[k], 3), (step, k)
        assert t.loc[step, "rmsea.ci.lower"] == pytest.approx(ref["rmsea.ci.lower"], abs=5e-4)


def test_deltas_by_hand(inv):
    t = inv.table.set_index("step")
    steps = list(STEP_REF)
    for prev, cur in zip(steps, steps[1:]):
        a, b = _ref(STEP_REF[prev]), _ref(STEP_REF[cur])
        d = b["chisq"] - a["chisq"]
        ddf = int(b["df"] - a["df"])
        assert t.loc[cur, "chisq.diff"] == pytest.approx(d, abs=1e-3)
        assert t.loc[cur, "df.diff"] == ddf
        assert t.loc[cur, "pvalue.diff"] == pytest.approx(chi2.sf(d, ddf), abs=1e-4)
        assert t.loc[cur, "delta.cfi"] == pytest.approx(b["cfi"] - a["cfi"], abs=1e-4)
        assert t.loc[cur, "delta.rmsea"] == pytest.approx(b["rmsea"] - a["rmsea"], abs=1e-4)
    assert pd.isna(t.loc["configural", "chisq.diff"])
    # metric: 6 loadings equal (3 factors x 2 free loadings); scalar: 9 intercepts equal but 3
    # latent means freed in group 2; strict: 9 residual variances
    assert list(t["df.diff"].iloc[1:]) == [6, 6, 9]


def test_verdicts_and_highest_level(inv):
    t = inv.table.set_index("step")
    # HS by school (lavaan): metric dCFI ~ -.002 holds; scalar dCFI ~ -.038 fails
    assert bool(t.loc["metric", "holds"]) and not bool(t.loc["scalar", "holds"])
    assert inv.highest == "metric"
    assert "earlier step failed" in t.loc["strict", "verdict"]
    s = inv.summary()
    assert "Highest level supported: metric" in s and "Chen 2007" in s and "-0.010" in s
    assert "<table" in inv._repr_html_()


def test_steps_subset_and_thresholds(hs):
    r = measurement_invariance(HS_MODEL, hs, "school", steps=("configural", "scalar"), cfi_drop=-0.05,
                               rmsea_rise=0.02)
    t = r.table.set_index("step")
    ref_c, ref_s = _ref("hs_mg_config"), _ref("hs_mg_scalar")
    assert t.loc["scalar", "df.diff"] == int(ref_s["df"] - ref_c["df"])
    assert bool(t.loc["scalar", "holds"])        # dCFI ~ -.041 > -.05, dRMSEA ~ .011 < .02
    assert r.highest == "scalar"


@pytest.mark.parametrize("dcfi,drmsea,expected", [
    (-0.010, 0.015, True),          # both exactly at the thresholds
    (0.93 - 0.94, 0.065 - 0.05, True),   # the same, with floating-point noise
    (-0.0101, 0.0, False),
    (0.0, 0.0151, False),
    (0.004, -0.02, True),
    (float("nan"), 0.0, False),
])
def test_rule_boundaries(dcfi, drmsea, expected):
    assert invariance_verdict(dcfi, drmsea) is expected


def test_rule_configurable_and_validated():
    assert invariance_verdict(-0.015, 0.0, cfi_drop=-0.02)
    assert not invariance_verdict(-0.002, 0.011, rmsea_rise=0.010)
    with pytest.raises(ModelError):
        InvarianceRule(cfi_drop=0.01)
    with pytest.raises(ModelError):
        InvarianceRule(rmsea_rise=-0.01)


def test_instrument_and_model_name(eco, inst):
    a = measurement_invariance(inst, eco, "segment", steps=("configural", "metric"))
    b = measurement_invariance("measurement", eco, "segment", instrument=inst, steps=("configural", "metric"))
    assert a.table["chisq"].tolist() == pytest.approx(b.table["chisq"].tolist())
    assert a.highest == "metric"        # simulated with the same loadings in both groups


# ----------------------------------------------------------------- labels in multi-group syntax
def test_single_labels_become_group_specific():
    out = per_group_syntax("f =~ x1 + a*x2 + x3\ny ~ b*f\nab := a*b\nk := 2*a", 2)
    assert "c(a.g1, a.g2)*x2" in out and "c(b.g1, b.g2)*f" in out
    assert "ab.g1 := a.g1*b.g1" in out and "ab.g2 := a.g2*b.g2" in out and "k.g2 := 2*a.g2" in out
    shared = per_group_syntax("f =~ x1 + a*x2 + x3\ny ~ b*f\nab := a*b", 2, shared=[("y", "~", "f")])
    assert "c(b, b)*f" in shared and "ab.g1 := a.g1*b" in shared


def test_configural_with_labelled_instrument_syntax_is_free(eco, inst):
    """The instrument labels paths h1, h2 ...; a single label would constrain them equal across
    groups in lavaan: the configural model must have them free (lavaan: eco_mg_config)."""
    r = measurement_invariance("combined", eco, "segment", instrument=inst, steps=("configural", "metric"))
    t = r.table.set_index("step")
    for step, name in (("configural", "eco_mg_config"), ("metric", "eco_mg_metric")):
        ref = _ref(name)
        assert round(t.loc[step, "chisq"], 3) == round(ref["chisq"], 3)
        assert t.loc[step, "df"] == ref["df"]


# ----------------------------------------------------------------- structural paths
def test_compare_paths_matches_lavaan_lrt(eco, inst):
    t = compare_paths("combined", eco, "segment", instrument=inst, missing="listwise")
    assert list(t["path"]) == ["SAT ~ OPS", "SAT ~ CRM", "LOY ~ SAT"]
    row = t.set_index("path").loc["SAT ~ OPS"]
    free, equal = _ref("eco_mg_metric"), _ref("eco_mg_h1equal")
    assert row["chisq.diff"] == pytest.approx(equal["chisq"] - free["chisq"], abs=1e-3)
    assert row["df.diff"] == 1
    assert row["pvalue"] == pytest.approx(chi2.sf(equal["chisq"] - free["chisq"], 1), abs=1e-5)
    assert row["hypothesis"] == "H1" and t.set_index("path").loc["LOY ~ SAT", "hypothesis"] == "H2, H4"
    # per-group estimates are lavaan's (metric model)
    est = pd.DataFrame(json.loads((REF / "eco_mg_metric.json").read_text())["estimates"])
    e = est[(est.lhs == "SAT") & (est.op == "~") & (est.rhs == "OPS")].set_index("group")
    assert row["est.new"] == pytest.approx(e.loc[1, "est"], abs=1e-3)
    assert row["se.returning"] == pytest.approx(e.loc[2, "se"], abs=1e-3)
    assert row["std.all.returning"] == pytest.approx(e.loc[2, "std.all"], abs=1e-3)
    # Holm by hand
    p = np.sort(t["pvalue"].to_numpy())
    holm = np.minimum(1, np.maximum.accumulate(p * np.arange(len(p), 0, -1)))
    assert np.allclose(np.sort(t["pvalue.adj"].to_numpy()), holm)
    assert row["verdict"].startswith("differs")


def test_compare_paths_selection(eco, inst):
    a = compare_paths("combined", eco, "segment", instrument=inst, paths=["H3"])
    b = compare_paths("combined", eco, "segment", instrument=inst, paths=["SAT ~ CRM"])
    assert list(a["path"]) == list(b["path"]) == ["SAT ~ CRM"]
    assert a["pvalue.adj"].iloc[0] == pytest.approx(a["pvalue"].iloc[0])
    with pytest.raises(ModelError, match="LOY ~ OPS|LOY~OPS"):
        compare_paths("combined", eco, "segment", instrument=inst, paths=["LOY~OPS"])


def _simulate(h1_by_group, seed):
    import yaml

    from crm_research.simulate import simulate_survey
    from crm_research.simulate.survey import population_from_dict

    path = ROOT / "surveys" / "ecommerce_crm_population.yaml"
    parts = []
    for g, (label, h1) in enumerate(h1_by_group.items()):
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        raw["paths"]["SAT"]["OPS"] = h1
        pop = population_from_dict(raw, source=str(path), base_dir=path.parent)
        s = simulate_survey(pop, 350, seed * 10 + g, missing="none", careless=0.0, likert=False,
                            include_demographics=False, include_pii=False)
        parts.append(s.responses[s.item_columns].assign(grp=label))
    return pd.concat(parts, ignore_index=True)


OPS_MODEL = """PF =~ PF1 + PF2 + PF3
SQ =~ SQ1 + SQ2 + SQ3
LE =~ LE1 + LE2 + LE3
UI =~ UI1 + UI2 + UI3
SAT =~ SAT1 + SAT2 + SAT3
OPS =~ PF + SQ + LE + UI
SAT ~ h1*OPS
"""


@pytest.mark.parametrize("seed", [11, 12])
def test_simulated_difference_detected_and_absence_not(seed):
    diff = compare_paths(OPS_MODEL, _simulate({"A": 0.65, "B": 0.15}, seed), "grp")
    assert diff["pvalue.adj"].iloc[0] < 0.01 and diff["verdict"].iloc[0].startswith("differs")
    assert diff["est.A"].iloc[0] > diff["est.B"].iloc[0]
    same = compare_paths(OPS_MODEL, _simulate({"A": 0.45, "B": 0.45}, seed), "grp")
    assert same["pvalue.adj"].iloc[0] > 0.05 and same["verdict"].iloc[0].startswith("no evidence")


# ----------------------------------------------------------------- bad input
def test_bad_input(hs):
    with pytest.raises(ModelError, match="group column 'campus' not in the data"):
        measurement_invariance(HS_MODEL, hs, "campus")
    with pytest.raises(ModelError, match="1 group"):
        measurement_invariance(HS_MODEL, hs.assign(one="x"), "one")
    tiny = pd.concat([hs[hs.school == "Pasteur"], hs[hs.school == "Grant-White"].head(6)])
    with pytest.raises(ModelError, match="'Grant-White'.*6 respondent"):
        measurement_invariance(HS_MODEL, tiny, "school")
    with pytest.raises(ModelError, match="'Grant-White'.*6 complete case"):
        measurement_invariance(HS_MODEL, tiny, "school", missing="listwise")
    with pytest.raises(ModelError, match="unknown invariance step"):
        measurement_invariance(HS_MODEL, hs, "school", steps=("configural", "weak"))
    with pytest.raises(ModelError, match="nesting order"):
        measurement_invariance(HS_MODEL, hs, "school", steps=("scalar", "metric"))
    with pytest.raises(ModelError, match="invariance="):
        compare_paths(HS_MODEL, hs, "school", invariance="strict")
    with pytest.raises(ModelError, match="no structural path"):
        compare_paths(HS_MODEL, hs, "school")
    with pytest.raises(CRMResearchError) as e:
        measurement_invariance(HS_MODEL, hs, "campus")
    assert e.value.hint


def test_small_group_warns(hs):
    small = pd.concat([hs[hs.school == "Pasteur"], hs[hs.school == "Grant-White"].head(60)])
    r = measurement_invariance(HS_MODEL, small, "school", steps=("configural", "metric"))
    assert any("small group" in w and "Grant-White" in w for w in r.warnings)


# ----------------------------------------------------------------- missing answers
def test_missing_ml_uses_every_respondent_listwise_the_complete(hs):
    from crm_research import sem

    d = pd.read_csv(REF / "hs_missing.csv")
    xs = [f"x{i}" for i in range(1, 10)]
    ml = measurement_invariance(HS_MODEL, d, "school", steps=("configural", "metric"))      # default: ml
    lw = measurement_invariance(HS_MODEL, d, "school", steps=("configural", "metric"), missing="listwise")
    assert ml.missing == "ml" and lw.missing == "listwise"
    any_obs, complete = d[xs].notna().any(axis=1), d[xs].notna().all(axis=1)
    assert ml.nobs_groups == [int(any_obs[d.school == g].sum()) for g in ml.group_labels]
    assert lw.nobs_groups == [int(complete[d.school == g].sum()) for g in lw.group_labels]
    assert sum(ml.nobs_groups) == 300 and sum(lw.nobs_groups) < 260
    assert all(f.missing == "ml" and f.nobs == 300 for f in ml.fits.values())
    assert "full-information ML" in ml.summary() and "listwise deletion" in lw.summary()
    # the table's test is sem.compare_models of the two fits (multi-group, FIML)
    c = sem.compare_models(ml.fits["configural"], ml.fits["metric"])
    row = ml.table.set_index("step").loc["metric"]
    assert row["chisq.diff"] == pytest.approx(c.chisq_diff, abs=1e-12) and row["df.diff"] == c.df_diff == 6
    assert row["pvalue.diff"] == pytest.approx(c.pvalue, abs=1e-12)
    t = compare_paths("visual =~ x1 + x2 + x3\ntextual =~ x4 + x5 + x6\ntextual ~ visual", d, "school")
    assert t.attrs["missing"] == "ml" and sum(t.attrs["nobs_groups"].values()) == int(
        d[["x1", "x2", "x3", "x4", "x5", "x6"]].notna().any(axis=1).sum())
    with pytest.raises(ConfigError, match="measurement_invariance: missing: missing = 'pairwise' is not available "
                                          "with estimator ML"):
        measurement_invariance(HS_MODEL, d, "school", missing="pairwise")
    with pytest.raises(ModelError, match="casewise"):
        measurement_invariance(HS_MODEL, d, "school", missing="casewise")
    with pytest.raises(ConfigError, match="compare_paths: estimator: .*got 'MLX'"):
        compare_paths(HS_MODEL + "\ntextual ~ visual", d, "school", estimator="MLX")


def test_instrument_with_a_single_item_of_stated_reliability(hs):
    """hs_abilities.yaml with SPD (x7 alone) at reliability .8: the instrument's syntax needs the
    data to fix x7's error variance; the fixed value is the same in both groups."""
    import dataclasses

    inst = load_instrument(REF / "hs_abilities.yaml")
    spd = dataclasses.replace(inst.construct("SPD"), reliability=0.8)
    inst = dataclasses.replace(inst, constructs=tuple(spd if c.id == "SPD" else c for c in inst.constructs))
    r = measurement_invariance(inst, hs, "school", steps=("configural", "metric"), missing="listwise")
    v = 0.2 * hs["x7"].var(ddof=1)
    est = r.fits["metric"].estimates
    th = est[(est.lhs == "x7") & (est.op == "~~") & (est.rhs == "x7")]
    assert len(th) == 2 and np.allclose(th["est"], v, rtol=1e-12) and (th["se"] == 0).all()
    assert r.table.set_index("step").loc["metric", "df.diff"] == 4      # x2, x3, x5, x6 loadings
    t = compare_paths("direct", hs, "school", instrument=inst, missing="listwise")
    assert list(t.hypothesis) == ["Hb", "Hc"]

"""Robust ML (MLM, MLMV, MLMVS, MLR; se=/test= as lavaan) against lavaan 0.6-14.

Every tests/reference/lavaan/robust_<name>.json (made by make_references_robust.R, which
records the model, the data and the options) is refitted here: every est, se and std.all
within 0.001 of lavaan's (relative where lavaan's value exceeds 1), every fit measure lavaan's
fitMeasures() reports present (and none it does not report), equal when both are rounded to
three decimals.  Two documented tolerances:

* statistics are also accepted within a relative 5e-6: the third decimal of 4047.735 (bfi) or
  of 117.106 (a two-group MIMIC model) is below the precision of lavaan's own optimum (nlminb
  stops where its ML discrepancy is still ~1e-11 above ours) and of its finite-difference
  Hessian.  test_robust_formulas_at_lavaans_estimates shows that this is all there is: our
  scaling factors evaluated at lavaan's estimates equal lavaan's to 1e-9;
* the ECSI model (mobi) is empirically under-identified (SE of Value ~ Expectation about 24):
  lavaan's nlminb stops at a slightly higher ML discrepancy than ours (checked below), so its
  weakly determined paths differ by up to 0.3 % (SEs of 7-34); there we compare at a relative 5e-3 and check
  the issue's figures (ML chi-square 575.6, MLR scaled 444.9, robust CFI .899, robust RMSEA .066).
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from crm_research import sem
from crm_research.errors import ModelError

REF = Path(__file__).parent / "reference" / "lavaan"
CASES = sorted(p.stem[len("robust_"):] for p in REF.glob("robust_*.json") if not p.stem.startswith("robust_lrt_"))
WEAK = {"mobi_ml", "mobi_mlr", "mobi_mlm", "mobi_mlmv"}
_FITS: dict = {}


def fit_case(name):
    if name not in _FITS:
        ref = json.loads((REF / f"robust_{name}.json").read_text())
        data = pd.read_csv(REF / ref["data"])
        kw = {}
        for k, v in ref["options"].items():
            if k == "group.equal":
                kw["group_equal"] = [v] if isinstance(v, str) else list(v)
            else:
                kw[k] = v
        _FITS[name] = (sem.fit(ref["model"], data, **kw), ref)
    return _FITS[name]


def test_references_found():
    assert {"hs_mlm", "hs_mlmv", "hs_mlr", "mobi_mlr", "bfi_mlr_fiml", "hs_mg_mlr_metric", "poldem_mlr",
            "hs_ml_fiml", "hs_mimic_mlm"} <= set(CASES)


@pytest.mark.parametrize("name", CASES)
def test_estimates_match_lavaan(name):
    res, ref = fit_case(name)
    assert res.converged
    assert res.estimator == ref["options"].get("estimator", "ML")
    assert res.se_type == ref["resolved"]["se"]
    lav_tests = [t for t in ref["resolved"]["test"] if t != "standard"] or ["standard"]
    assert res.test == lav_tests[0]
    assert res.information == ref["resolved"]["information"][0]
    theirs = pd.DataFrame(ref["estimates"])
    keys = ["lhs", "op", "rhs"] + (["group"] if "group" in theirs.columns else [])
    m = res.estimates.merge(theirs, on=keys, how="outer", suffixes=("", "_lavaan"), indicator=True)
    assert (m["_merge"] == "both").all(), m.loc[m["_merge"] != "both", keys]
    tol = 5e-3 if name in WEAK else 1e-3
    for col in ("est", "se", "std.all"):
        lav = pd.to_numeric(m[f"{col}_lavaan"], errors="coerce")
        diff = (m[col] - lav).abs() / np.maximum(1.0, lav.abs())
        bad = m[~(m[col].isna() & lav.isna()) & ~(diff <= tol)]
        assert bad.empty, f"{col} differs from lavaan:\n{bad[keys + [col, col + '_lavaan']]}"


@pytest.mark.parametrize("name", CASES)
def test_fit_measures_match_lavaan(name):
    res, ref = fit_case(name)
    theirs = ref["fit_measures"]
    ours = res.fit_measures
    assert sorted(set(theirs) - set(ours)) == []
    # one key beyond lavaan's fitMeasures(): the scaled-shifted statistic's shift (lavaan has it in
    # lavInspect(fit, "test")), as the ordinal fits report it too
    assert sorted(set(ours) - set(theirs)) == (["shift.parameter"] if res.test == "scaled.shifted" else [])
    rel = 1e-4 if name in WEAK else 5e-6
    bad = []
    for key, b in theirs.items():
        a = ours[key]
        if b is None:
            if a is not None and math.isfinite(a):
                bad.append((key, a, b))
            continue
        b = float(b)
        if math.isinf(b):
            ok = a == b
        else:
            ok = round(a, 3) == round(b, 3) or abs(a - b) <= rel * abs(b)
        if not ok:
            bad.append((key, a, b))
    assert not bad, f"fit measures differ from lavaan at 3 decimals: {bad}"


AT_LAVAAN = [n for n in CASES if "fiml" not in n and "sat" not in n and n not in WEAK]


@pytest.mark.parametrize("name", AT_LAVAAN)
def test_robust_formulas_at_lavaans_estimates(name):
    """Gamma, Delta, the information matrices and the traces, evaluated at lavaan's own
    estimates, give lavaan's scaling factor and scaled statistic (to 1e-9): what remains in
    the comparisons above is the optimizers' precision, not the formulas."""
    from crm_research.sem.data import prepare
    from crm_research.sem.measures import compute_fit_measures
    from crm_research.sem.model import RAMModel
    from crm_research.sem.partable import build_partable, var_names
    from crm_research.sem.robust import RobustML, model_pieces
    from crm_research.sem.syntax import parse_syntax

    res, ref = fit_case(name)
    if not res.test_details:
        pytest.skip("no robust test")
    o = ref["options"]
    ge = o.get("group.equal", [])
    ge = [ge] if isinstance(ge, str) else list(ge)
    data = pd.read_csv(REF / ref["data"])
    parsed = parse_syntax(ref["model"])
    stats = prepare(data, var_names(parsed.rows).ov, group=o.get("group"))
    pt = build_partable(parsed, ngroups=stats.ngroups, group_equal=ge, group_partial=(),
                        meanstructure=o.get("meanstructure"), fixed_x=True)
    stats = prepare(data, pt.names.ov, group=o.get("group"))
    rm = RAMModel(pt)
    rm.use_sample(stats)
    est = pd.DataFrame(ref["estimates"])
    f = pt.frame
    theta = np.zeros(pt.npar)
    for lhs, op, rhs, g, fr in zip(f["lhs"], f["op"], f["rhs"], f["group"], f["free"]):
        if fr > 0:
            sel = (est["lhs"] == lhs) & (est["op"] == op) & (est["rhs"] == rhs)
            if "group" in est.columns:
                sel &= est["group"] == g
            theta[fr - 1] = est.loc[sel, "est"].iloc[0]
    x_idx = [pt.names.ov.index(v) for v in pt.names.ov_x]
    hess = 0.5 * rm.derivatives(theta, stats)[3]
    npar_raw = int(((f["free"] > 0) & (f["op"] != ":=")).sum())
    rob = RobustML(model_pieces(rm, stats, theta, fixed_x=True, x_idx=x_idx), meanstructure=pt.meanstructure,
                   x_idx=x_idx, hessian=hess, npar_raw=npar_raw)
    imp = [(rm.implied(theta, g)["Sigma"], rm.implied(theta, g)["mu"]) for g in range(stats.ngroups)]
    fm = compute_fit_measures(stats=stats, implied=imp, npar=pt.npar, meanstructure=pt.meanstructure, x_idx=x_idx,
                              fixed_x=True)
    T = rob.test(res.test, fm["chisq"], fm["df"], res.information)
    lav = ref["fit_measures"]
    assert T.scaling_factor == pytest.approx(lav["chisq.scaling.factor"], rel=1e-9)
    assert T.stat == pytest.approx(lav["chisq.scaled"], rel=1e-9)


def test_ecsi_figures_of_the_issue():
    ml, ref_ml = fit_case("mobi_ml")
    mlr, ref = fit_case("mobi_mlr")
    fm = mlr.fit_measures
    assert round(fm["chisq"], 1) == 575.6 and round(fm["chisq.scaled"], 1) == 444.9
    assert round(fm["cfi.robust"], 3) == 0.899 and round(fm["rmsea.robust"], 3) == 0.066
    assert round(ml.fit_measures["cfi"], 3) == 0.877
    # lavaan's optimizer stopped at a (slightly) higher discrepancy than ours on this weakly
    # identified model: that is why its weak paths differ in the fourth significant digit
    assert ml.fit_measures["fmin"] <= ref_ml["fit_measures"]["fmin"]
    assert sem.estimation_label(mlr) == "MLR (Huber-White robust SE, Yuan-Bentler scaled test)"


def test_scaled_equals_closed_forms():
    """Relations that hold whatever lavaan does: SB statistic = chisq / c, robust RMSEA =
    scaled RMSEA * sqrt(c) (lav_fit_rmsea.R), scaled-shifted = a * chisq + b."""
    res, _ = fit_case("hs_mlm")
    fm = res.fit_measures
    assert fm["chisq.scaled"] == pytest.approx(fm["chisq"] / fm["chisq.scaling.factor"], rel=1e-12)
    assert fm["rmsea.robust"] == pytest.approx(fm["rmsea.scaled"] * math.sqrt(fm["chisq.scaling.factor"]), rel=1e-9)
    mv, _ = fit_case("hs_mlmv")
    f2 = mv.fit_measures
    assert f2["df.scaled"] == f2["df"]      # scaled-shifted keeps the df ...
    assert f2["chisq.scaled"] == pytest.approx(f2["chisq"] / f2["chisq.scaling.factor"] + f2["shift.parameter"])
    mvs, _ = fit_case("hs_mlmvs")
    f3 = mvs.fit_measures                    # ... mean-and-variance adjusted estimates them
    assert f3["df.scaled"] != f3["df"]
    assert f3["chisq.scaled"] / f3["df.scaled"] == pytest.approx(f3["chisq"] / (f3["df.scaled"]
                                                                              * f3["chisq.scaling.factor"]))
    # same point estimates as ML, only SEs and tests change
    ml = sem.fit("visual =~ x1 + x2 + x3\ntextual =~ x4 + x5 + x6\nspeed =~ x7 + x8 + x9",
                 pd.read_csv(REF / "HolzingerSwineford1939.csv"))
    assert np.allclose(ml.estimates["est"], res.estimates["est"], atol=1e-9)
    assert not np.allclose(ml.estimates["se"], res.estimates["se"])


def test_robust_se_of_normal_data_close_to_standard():
    """With multivariate normal data the sandwich equals the inverse information in the limit."""
    rng = np.random.default_rng(3)
    n = 20000
    f = rng.normal(size=n)
    X = pd.DataFrame({f"y{i}": 0.8 * f + rng.normal(scale=0.6, size=n) for i in range(1, 5)})
    std = sem.fit("f =~ y1 + y2 + y3 + y4", X)
    for est in ("MLM", "MLR"):
        rob = sem.fit("f =~ y1 + y2 + y3 + y4", X, estimator=est)
        free = std.estimates["se"] > 0
        ratio = rob.estimates.loc[free, "se"] / std.estimates.loc[free, "se"]
        assert ratio.between(0.95, 1.05).all(), (est, ratio.tolist())
        assert rob.fit_measures["chisq.scaling.factor"] == pytest.approx(1.0, abs=0.06)


def test_bad_options():
    hs = pd.read_csv(REF / "HolzingerSwineford1939.csv")
    model = "visual =~ x1 + x2 + x3"
    with pytest.raises(ModelError, match="estimator='MLX'"):
        sem.fit(model, hs, estimator="MLX")
    with pytest.raises(ModelError, match="test='satorra'"):
        sem.fit(model, hs, estimator="MLM", test="satorra")
    with pytest.raises(ModelError, match="se='sandwich'"):
        sem.fit(model, hs, se="sandwich")
    with pytest.raises(ModelError, match="bootstrap"):
        sem.fit(model, hs, estimator="MLR", se="bootstrap")
    with pytest.raises(ModelError, match="missing='ml' is not allowed for estimator 'MLM'"):
        sem.fit(model, hs, estimator="MLM", missing="ml")
    with pytest.raises(ModelError, match="information="):
        sem.fit(model, hs, estimator="MLR", information="first.order")


def test_estimator_names_case_insensitive_and_labels():
    hs = pd.read_csv(REF / "HolzingerSwineford1939.csv")
    res = sem.fit("visual =~ x1 + x2 + x3\ntextual =~ x4 + x5 + x6", hs, estimator="mlm")
    assert res.estimator == "MLM" and res.se_type == "robust.sem" and res.test == "satorra.bentler"
    assert sem.estimation_label(res) == "MLM (robust SE, Satorra-Bentler scaled test)"
    assert "chisq.scaled" in res.fit_measures
    plain = sem.fit("visual =~ x1 + x2 + x3\ntextual =~ x4 + x5 + x6", hs)
    assert sem.estimation_label(plain) == "ML" and "chisq.scaled" not in plain.fit_measures
    none = sem.fit("visual =~ x1 + x2 + x3\ntextual =~ x4 + x5 + x6", hs, test="none")
    assert none.fit_measures == {}


def test_unidentified_model_warns_instead_of_inventing_numbers():
    hs = pd.read_csv(REF / "HolzingerSwineford1939.csv")
    for est in ("MLM", "MLR"):
        res = sem.fit("f =~ NA*x1 + x2 + x3 + x4", hs, estimator=est)    # scale not fixed: df = 1
        assert res.estimates.loc[res.estimates["op"] == "=~", "se"].isna().all()
        assert "chisq.scaled" not in res.fit_measures and "chisq" in res.fit_measures
        assert any("robust test statistic" in w and "singular" in w for w in res.warnings)

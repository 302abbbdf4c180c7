"""Full-information ML (missing="ml") in crm_research.sem: lavaan 0.6-14 parity on the
manifest's ``missing = ml`` references (<name>.ml.json, made by make_references.R from the
incomplete samples of make_missing_data.py), hand-checkable properties and clear errors."""
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
MANIFEST = pd.read_csv(REF / "manifest.csv", dtype=str).fillna("")
ML_CASES = sorted(MANIFEST.loc[MANIFEST["missing"] == "ml", "name"])
CONTRACT = ["npar", "ntotal", "chisq", "df", "pvalue", "baseline.chisq", "baseline.df", "baseline.pvalue", "cfi",
            "tli", "nfi", "rfi", "ifi", "rni", "rmsea", "rmsea.ci.lower", "rmsea.ci.upper", "rmsea.pvalue", "srmr",
            "rmr", "gfi", "agfi", "pgfi", "aic", "bic", "bic2", "logl", "unrestricted.logl"]
CFA = (REF / "hs_cfa.lav").read_text()
_FITS: dict = {}


def _fit(name):
    if name not in _FITS:
        row = MANIFEST[MANIFEST["name"] == name].iloc[0]
        data = pd.read_csv(REF / row["data"])
        ge = [g for g in row["group_equal"].split(";") if g]
        res = sem.fit((REF / f"{name}.lav").read_text(), data, missing="ml", group=row["group"] or None,
                      group_equal=ge)
        _FITS[name] = (res, json.loads((REF / f"{name}.ml.json").read_text()), data)
    return _FITS[name]


def test_ml_references_present():
    assert {"hs_fiml", "eco_fiml", "hs_mg_fiml"} <= set(ML_CASES)
    for name in ML_CASES:
        assert (REF / f"{name}.ml.json").exists()


@pytest.mark.parametrize("name", ML_CASES)
def test_fiml_estimates_match_lavaan(name):
    res, ref, _ = _fit(name)
    assert res.converged
    assert ref["missing"] == "ml" and ref["information"] == "observed"
    theirs = pd.DataFrame(ref["estimates"])
    keys = ["lhs", "op", "rhs"] + (["group"] if "group" in theirs.columns else [])
    m = res.estimates.merge(theirs, on=keys, how="outer", suffixes=("", "_lavaan"), indicator=True)
    assert (m["_merge"] == "both").all(), m.loc[m["_merge"] != "both", keys + ["_merge"]]
    for col in ("est", "se", "std.lv", "std.all"):
        theirs_c = pd.to_numeric(m[f"{col}_lavaan"], errors="coerce")
        diff = (m[col] - theirs_c).abs()
        bad = m[~(m[col].isna() & theirs_c.isna()) & ~(diff <= 1e-3)]
        assert bad.empty, f"{col} differs from lavaan:\n{bad[['lhs', 'op', 'rhs', col, col + '_lavaan']]}"


@pytest.mark.parametrize("name", ML_CASES)
def test_fiml_fit_measures_match_lavaan(name):
    res, ref, _ = _fit(name)
    theirs = ref["fit_measures"]
    bad = []
    # lavaan adds the Zhang-Savalei "robust" CFI/TLI/RNI/RMSEA for incomplete data; they are
    # not computed here (known gap), every other measure must match
    extra = sorted(k for k in theirs if k not in res.fit_measures)
    assert all(k.endswith(".robust") for k in extra), extra
    for key in CONTRACT + [k for k in theirs if k not in CONTRACT and k in res.fit_measures]:
        a, b = res.fit_measures[key], theirs.get(key)
        if b is None:
            if a is not None and math.isfinite(a):
                bad.append((key, a, b))
            continue
        if round(a, 3) != round(float(b), 3):
            bad.append((key, a, b))
    assert not bad, f"fit measures differ from lavaan at 3 decimals: {bad}"


def test_fiml_uses_every_case_with_an_observed_value():
    res, ref, data = _fit("hs_fiml")
    xs = [f"x{i}" for i in range(1, 10)]
    any_obs = int(data[xs].notna().any(axis=1).sum())
    assert data[xs].isna().all(axis=1).sum() == 1          # the empty row is dropped ...
    assert res.nobs == any_obs == len(data) - 1 == ref["nobs"][0]
    assert res.n_dropped == 1
    assert any("no observed value" in w for w in res.warnings)   # ... with a warning, as lavaan
    listwise = sem.fit(CFA, data)
    assert listwise.nobs == int(data[xs].notna().all(axis=1).sum()) < res.nobs


def test_listwise_and_ml_differ_with_missing_values():
    res, _, data = _fit("hs_fiml")
    lw = sem.fit(CFA, data, meanstructure=True)
    a = res.estimates.set_index(["lhs", "op", "rhs"])["est"]
    b = lw.estimates.set_index(["lhs", "op", "rhs"])["est"]
    assert (a - b.reindex(a.index)).abs().max() > 1e-3


def test_listwise_and_ml_agree_on_complete_data():
    d = pd.read_csv(REF / "HolzingerSwineford1939.csv")
    ml = sem.fit(CFA, d, missing="ml")
    lw = sem.fit(CFA, d, meanstructure=True)
    assert ml.nobs == lw.nobs == len(d)
    assert np.allclose(ml.estimates["est"], lw.estimates["est"], atol=1e-6)
    for k in ("chisq", "df", "npar", "cfi", "tli", "rmsea", "srmr", "logl", "unrestricted.logl", "baseline.chisq"):
        assert ml.fit_measures[k] == pytest.approx(lw.fit_measures[k], abs=1e-6), k


def test_saturated_fiml_by_hand():
    """x1 complete, x2 partly missing, saturated model: the ML mean and variance of x1 are
    its plain mean and N-divisor variance over all rows; chi-square is 0 with df 0; the
    implied covariance equals the EM estimate, whose x2 mean is the regression estimate
    mean(x2_obs) + b (mean(x1) - mean(x1 | x2 observed))."""
    rng = np.random.default_rng(5)
    n = 200
    x1 = rng.normal(size=n)
    x2 = 0.6 * x1 + rng.normal(scale=0.8, size=n)
    x2[rng.random(n) < 0.3] = np.nan
    d = pd.DataFrame({"x1": x1, "x2": x2})
    res = sem.fit("x1 ~~ x2", d, missing="ml")
    assert res.nobs == n
    assert res.get("x1", "~1")["est"] == pytest.approx(x1.mean(), abs=1e-7)
    assert res.get("x1", "~~", "x1")["est"] == pytest.approx(np.mean((x1 - x1.mean()) ** 2), abs=1e-7)
    obs = ~np.isnan(x2)
    b = np.cov(x1[obs], x2[obs], bias=True)[0, 1] / np.var(x1[obs])
    mu2 = x2[obs].mean() + b * (x1.mean() - x1[obs].mean())
    assert res.get("x2", "~1")["est"] == pytest.approx(mu2, abs=1e-6)
    assert res.fit_measures["df"] == 0
    assert res.fit_measures["chisq"] == pytest.approx(0.0, abs=1e-6)


# ------------------------------------------------------------------ bootstrap with missing="ml"
def test_fiml_bootstrap_equals_listwise_bootstrap_on_complete_data():
    """Complete data: FIML is ML, and the same seed draws the same rows, so every replicate
    must be the listwise bootstrap's replicate (the two use different optimizers)."""
    d = pd.read_csv(REF / "PoliticalDemocracy.csv")
    model = (REF / "poldem.lav").read_text()
    lw = sem.fit(model, d, se="bootstrap", bootstrap=250, seed=3, n_jobs=1)
    ml = sem.fit(model, d, se="bootstrap", bootstrap=250, seed=3, n_jobs=1, missing="ml")
    a, b = lw.bootstrap.replicates, ml.bootstrap.replicates
    assert (a.status == b.status).all() and (a.status == "ok").sum() > 150
    common = [c for c in a.columns if c in b.columns and c not in ("replicate", "status")]
    assert len(common) == len(a.columns) - 2       # every listwise parameter is in the FIML model
    ok = (a.status != "failed").to_numpy()
    assert np.abs(a.loc[ok, common].to_numpy() - b.loc[ok, common].to_numpy()).max() < 1e-4
    assert ml.se_type == "bootstrap" and ml.missing == "ml"


def test_fiml_bootstrap_replicate_equals_a_fiml_fit_of_the_resample():
    from crm_research.sem.bootstrap import _Size, draw_counts
    from types import SimpleNamespace

    d = pd.read_csv(REF / "hs_missing.csv")
    res = sem.fit(CFA, d, missing="ml", se="bootstrap", bootstrap=20, seed=17, n_jobs=1)
    assert res.bootstrap.n_ok == 20
    used = d[d[[f"x{i}" for i in range(1, 10)]].notna().any(axis=1)].reset_index(drop=True)
    counts = draw_counts(SimpleNamespace(data=[_Size(len(used))]), 17, np.array([0, 7]))[0]
    for r, W in zip((0, 7), counts):
        again = sem.fit(CFA, used.loc[np.repeat(np.arange(len(used)), W)], missing="ml")
        rep = res.bootstrap.replicates.iloc[r]
        for name, (lhs, op, rhs) in {"visual=~x2": ("visual", "=~", "x2"), "x5~~x5": ("x5", "~~", "x5"),
                                     "x7~1": ("x7", "~1", ""), "visual~~speed": ("visual", "~~", "speed")}.items():
            assert rep[name] == pytest.approx(again.get(lhs, op, rhs)["est"], abs=1e-4), (r, name)


def test_fiml_bootstrap_is_reproducible_and_independent_of_jobs():
    d = pd.read_csv(REF / "hs_missing.csv")
    a = sem.fit(CFA, d, missing="ml", se="bootstrap", bootstrap=130, seed=5, n_jobs=1)
    b = sem.fit(CFA, d, missing="ml", se="bootstrap", bootstrap=130, seed=5, n_jobs=2)
    pd.testing.assert_frame_equal(a.estimates, b.estimates)
    e = a.estimates.set_index(["lhs", "op", "rhs"])
    row = e.loc[("visual", "=~", "x2")]
    assert row["ci.lower"] < row["est"] < row["ci.upper"] and row["se"] > 0
    assert "boot.perc.lower" in a.estimates.columns


@pytest.mark.parametrize("kwargs, fragment", [
    ({"meanstructure": False}, "mean structure"),
])
def test_unsupported_options_with_ml_are_clear_errors(kwargs, fragment):
    d = pd.read_csv(REF / "hs_missing.csv")
    with pytest.raises(ModelError, match=fragment):
        sem.fit(CFA, d, missing="ml", **kwargs)


def test_fixed_exogenous_covariates_with_ml_as_lavaan():
    """lavaan (fixed.x = TRUE) deletes the rows with a missing covariate and fixes the
    covariates' moments; parity with lavaan in tests/test_sem_robust.py (hs_mimic_fiml_*)."""
    d = pd.read_csv(REF / "hs_missing.csv")
    d.loc[d.index[:3], "ageyr"] = np.nan
    res = sem.fit("visual =~ x1 + x2 + x3\nvisual ~ ageyr", d, missing="ml")
    assert res.converged and res.n_dropped >= 3
    assert any("ageyr" in w and "deleted" in w for w in res.warnings)
    with pytest.raises(ModelError, match="fixed_x"):
        sem.fit("visual =~ x1 + x2 + x3\nvisual ~ ageyr", d, missing="ml", se="bootstrap", bootstrap=10)


def test_unknown_missing_option_is_rejected():
    d = pd.read_csv(REF / "hs_missing.csv")
    with pytest.raises(ModelError, match="pairwise"):
        sem.fit(CFA, d, missing="pairwise")

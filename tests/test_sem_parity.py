"""Parity of crm_research.sem with lavaan 0.6-14 on every reference in tests/reference/lavaan/.

Each <name>.json there (made by make_references.R, data and options in manifest.csv) holds
lavaan's fitMeasures() and parameterEstimates(standardized = TRUE).  Adding a JSON (and its
manifest line) adds a test case.  Required: every est, se and std.all within 0.001 of
lavaan's (rows matched by lhs, op, rhs and group), every fit measure equal when both are
rounded to three decimals.  Plus closed-form checks that do not rely on lavaan at all.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from crm_research import sem

REF = Path(__file__).parent / "reference" / "lavaan"
MANIFEST = pd.read_csv(REF / "manifest.csv", dtype=str).fillna("")
CASES = sorted(p.stem for p in REF.glob("*.json") if (REF / f"{p.stem}.lav").exists())
CONTRACT = ["npar", "ntotal", "chisq", "df", "pvalue", "baseline.chisq", "baseline.df", "baseline.pvalue", "cfi",
            "tli", "nfi", "rfi", "ifi", "rni", "rmsea", "rmsea.ci.lower", "rmsea.ci.upper", "rmsea.pvalue", "srmr",
            "rmr", "gfi", "agfi", "pgfi", "aic", "bic", "bic2", "logl", "unrestricted.logl"]
_FITS: dict[str, tuple] = {}


def _fit(name: str):
    if name not in _FITS:
        row = MANIFEST[MANIFEST["name"] == name]
        assert len(row) == 1, f"{name}.json has no line in manifest.csv (name,data,group,group_equal,exercises)"
        row = row.iloc[0]
        data = pd.read_csv(REF / row["data"])
        ge = [g for g in row["group_equal"].split(";") if g]
        res = sem.fit((REF / f"{name}.lav").read_text(), data, group=row["group"] or None, group_equal=ge)
        ref = json.loads((REF / f"{name}.json").read_text())
        _FITS[name] = (res, ref)
    return _FITS[name]


def test_references_found():
    assert {"hs_cfa", "poldem", "hs_mediation", "seed_ops", "seed_crm"} <= set(CASES)
    assert len(CASES) >= 10


def _merged(res, ref):
    ours = res.estimates
    theirs = pd.DataFrame(ref["estimates"])
    keys = ["lhs", "op", "rhs"] + (["group"] if "group" in theirs.columns else [])
    m = ours.merge(theirs, on=keys, how="outer", suffixes=("", "_lavaan"), indicator=True)
    return m, keys


@pytest.mark.parametrize("name", CASES)
def test_estimates_match_lavaan(name):
    res, ref = _fit(name)
    assert res.converged
    m, keys = _merged(res, ref)
    missing = m[m["_merge"] != "both"]
    assert missing.empty, f"rows not in both tables:\n{missing[keys + ['_merge']]}"
    for col in ("est", "se", "std.lv", "std.all"):
        theirs = pd.to_numeric(m[f"{col}_lavaan"], errors="coerce")
        diff = (m[col] - theirs).abs()
        both_nan = m[col].isna() & theirs.isna()
        bad = m[~both_nan & ~(diff <= 1e-3)]
        assert bad.empty, f"{col} differs from lavaan by more than 0.001:\n{bad[keys + [col, col + '_lavaan']]}"
    # labels as lavaan prints them (user labels and lavaan's .pN. for group.equal)
    lab = m["label_lavaan"].fillna("") if "label_lavaan" in m else pd.Series("", index=m.index)
    assert (m["label"].fillna("") == lab).all()


@pytest.mark.parametrize("name", CASES)
def test_fit_measures_match_lavaan(name):
    res, ref = _fit(name)
    theirs = ref["fit_measures"]
    bad = []
    for key in CONTRACT + [k for k in theirs if k not in CONTRACT]:
        assert key in res.fit_measures, f"missing fit measure {key}"
        a, b = res.fit_measures[key], theirs.get(key)
        if b is None:  # lavaan NA / Inf (written as null)
            if a is not None and math.isfinite(a):
                bad.append((key, a, b))
            continue
        if round(a, 3) != round(float(b), 3):
            bad.append((key, a, b))
    assert not bad, f"fit measures differ from lavaan at 3 decimals: {bad}"


def test_fit_measure_names_are_lavaans():
    res, ref = _fit("hs_cfa")
    assert list(res.fit_measures) == list(ref["fit_measures"])


def test_heywood_reference_is_flagged():
    res, ref = _fit("heywood")
    assert ref["post_check"] is False  # lavaan itself calls it inadmissible
    assert any("Heywood" in w and "y1" in w for w in res.warnings)


# ---------------------------------------------------------------- closed-form checks
def _hs():
    return pd.read_csv(REF / "HolzingerSwineford1939.csv")


def test_regression_equals_ml_ols():
    """y ~ x with a fixed exogenous x: ML gives OLS slope and intercept, residual variance
    with divisor N, and SE(beta) = sqrt(sigma2 / (N var_x)) -- computed here by hand."""
    d = _hs()
    x, y = d["x1"].to_numpy(), d["x4"].to_numpy()
    n = len(x)
    vx = np.mean((x - x.mean()) ** 2)
    cxy = np.mean((x - x.mean()) * (y - y.mean()))
    beta = cxy / vx
    resid = np.mean((y - y.mean()) ** 2) - beta * cxy
    res = sem.fit("x4 ~ b*x1\nx4 ~ 1", d)
    b = res.get("x4", "~", "x1")
    assert b["est"] == pytest.approx(beta, abs=1e-9)
    assert b["se"] == pytest.approx(math.sqrt(resid / (n * vx)), rel=1e-7)
    assert res.get("x4", "~~", "x4")["est"] == pytest.approx(resid, abs=1e-9)
    assert res.get("x4", "~1")["est"] == pytest.approx(y.mean() - beta * x.mean(), abs=1e-9)
    assert res.fit_measures["df"] == 0 and res.fit_measures["chisq"] == pytest.approx(0, abs=1e-9)
    # standardized slope is the correlation
    assert b["std.all"] == pytest.approx(np.corrcoef(x, y)[0, 1], abs=1e-9)
    # exogenous variance reported at its sample value (N divisor), with no SE
    xx = res.get("x1", "~~", "x1")
    assert xx["est"] == pytest.approx(vx) and xx["se"] == 0


def test_three_indicator_factor_closed_form():
    """A just-identified one-factor model: lambda2 = s23/s13, lambda3 = s23/s12,
    psi = s12 s13 / s23, theta_i = s_ii - lambda_i^2 psi."""
    d = _hs()[["x1", "x2", "x3"]].to_numpy()
    S = np.cov(d.T, bias=True)
    res = sem.fit("f =~ x1 + x2 + x3", _hs())
    l2, l3 = S[1, 2] / S[0, 2], S[1, 2] / S[0, 1]
    psi = S[0, 1] * S[0, 2] / S[1, 2]
    assert res.get("f", "=~", "x2")["est"] == pytest.approx(l2, abs=1e-8)
    assert res.get("f", "=~", "x3")["est"] == pytest.approx(l3, abs=1e-8)
    assert res.get("f", "~~", "f")["est"] == pytest.approx(psi, abs=1e-8)
    assert res.get("x3", "~~", "x3")["est"] == pytest.approx(S[2, 2] - l3 ** 2 * psi, abs=1e-8)
    fm = res.fit_measures
    assert fm["df"] == 0 and fm["cfi"] == 1.0
    # lavaan 0.6-14 on this saturated model: pvalue NA, rmsea 0, tli 1, cn_05 1, pnfi 0
    assert math.isnan(fm["pvalue"]) and math.isnan(fm["rmsea.pvalue"])
    assert (fm["rmsea"], fm["tli"], fm["cn_05"], fm["pnfi"]) == (0.0, 1.0, 1.0, 0.0)


def test_defined_parameter_delta_method_by_hand():
    res, _ = _fit("hs_mediation")
    e = res.estimates.set_index("label")
    a, b = e.loc["a", "est"], e.loc["b", "est"]
    assert e.loc["indirect", "est"] == pytest.approx(a * b, rel=1e-12)
    V = res.vcov.loc[["a", "b"], ["a", "b"]].to_numpy()
    grad = np.array([b, a])
    assert e.loc["indirect", "se"] == pytest.approx(math.sqrt(grad @ V @ grad), rel=1e-10)
    # standardized defined parameter = function of the standardized paths
    assert e.loc["indirect", "std.all"] == pytest.approx(e.loc["a", "std.all"] * e.loc["b", "std.all"], rel=1e-10)


def test_semopy_engine_gives_the_same_optimum():
    d = pd.read_csv(REF / "PoliticalDemocracy.csv")
    model = (REF / "poldem.lav").read_text()
    a = sem.fit(model, d, engine="semopy")
    b = sem.fit(model, d)
    assert a.optimizer.startswith("semopy")
    assert np.allclose(a.estimates["est"], b.estimates["est"], atol=1e-8)
    assert a.fit_measures["chisq"] == pytest.approx(b.fit_measures["chisq"], abs=1e-8)


def test_extra_columns_and_column_order_do_not_matter():
    d = _hs()
    model = (REF / "hs_cfa.lav").read_text()
    a = sem.fit(model, d)
    shuffled = d[list(reversed(d.columns))].assign(extra=np.arange(len(d)))
    b = sem.fit(model, shuffled)
    assert np.allclose(a.estimates["est"], b.estimates["est"], atol=1e-10)

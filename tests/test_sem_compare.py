"""sem.compare_models against lavaan 0.6-14's lavTestLRT()/anova() (lrt_*.json, made by
make_references.R), for nested single-group and multi-group fits, plus hand computations and
bad input.  The models are fitted here by crm_research.sem, so this checks the whole chain."""
from __future__ import annotations

import json
import math
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from crm_research import sem
from crm_research.errors import ModelError

REF = Path(__file__).parent / "reference" / "lavaan"
MANIFEST = pd.read_csv(REF / "manifest.csv", dtype=str).fillna("").set_index("name")
_FITS: dict = {}


def _fit(name: str):
    if name not in _FITS:
        row = MANIFEST.loc[name]
        ge = [g for g in row["group_equal"].split(";") if g]
        _FITS[name] = sem.fit((REF / f"{name}.lav").read_text(), pd.read_csv(REF / row["data"]),
                              group=row["group"] or None, group_equal=ge, missing=row["missing"] or "listwise")
    return _FITS[name]


@pytest.mark.parametrize("case", ["lrt_hs_si", "lrt_hs_mg", "lrt_eco_si_fiml"])
def test_compare_models_matches_lavaan_lavTestLRT(case):
    ref = json.loads((REF / f"{case}.json").read_text())
    names = ref["models"]
    fits = [_fit(n) for n in names]
    # any order in, lavaan's order (fewest df first) out
    cmp = sem.compare_models(*reversed(fits), names=list(reversed(names)))
    theirs = pd.DataFrame(ref["table"]).set_index("model")
    assert list(cmp.table.index) == list(theirs.index)
    t = cmp.table
    for ours, lav in (("df", "Df"), ("aic", "AIC"), ("bic", "BIC"), ("chisq", "Chisq"), ("chisq.diff", "Chisq.diff"),
                      ("rmsea.diff", "RMSEA"), ("df.diff", "Df.diff"), ("pvalue.diff", "p")):
        a = pd.to_numeric(t[ours], errors="coerce").to_numpy(float)
        b = pd.to_numeric(theirs[lav], errors="coerce").to_numpy(float)
        assert np.array_equal(np.isnan(a), np.isnan(b)), ours
        ok = ~np.isnan(a)
        assert np.allclose(a[ok], b[ok], atol=1e-3, rtol=0), (ours, a, b)
    last = theirs.iloc[-1]
    assert cmp.chisq_diff == pytest.approx(last["Chisq.diff"], abs=1e-3)
    assert cmp.df_diff == int(last["Df.diff"]) and cmp.pvalue == pytest.approx(last["p"], abs=1e-4)
    assert (cmp.restricted, cmp.full) == (names[-1], names[-2])


def test_multigroup_rmsea_of_difference_uses_sqrt_of_groups():
    cfg, met = _fit("hs_mg_config"), _fit("hs_mg_metric")
    c = sem.compare_models(met, cfg, names=("metric", "configural"))
    d, ddf, n = c.chisq_diff, c.df_diff, cfg.nobs
    assert c.ngroups == 2
    assert c.rmsea_diff == pytest.approx(math.sqrt(max(d / n / ddf - 1 / n, 0)) * math.sqrt(2), rel=1e-12)
    assert c.delta_cfi == pytest.approx(met.fit_measures["cfi"] - cfg.fit_measures["cfi"], abs=1e-12)
    assert c.preferred == "metric"      # p = .224: the equal loadings hold


def test_chain_preferred_model_stops_at_first_significant_step():
    fits = [_fit(n) for n in ("hs_mg_config", "hs_mg_metric", "hs_mg_scalar", "hs_mg_strict")]
    c = sem.compare_models(*fits, names=("configural", "metric", "scalar", "strict"))
    # metric holds (p = .22), scalar is rejected (p < .001): strict's own step is not reached
    assert c.preferred == "metric"
    assert c.verdict.count(".") >= 3 and "scalar model" in c.verdict
    assert "Chi-squared difference test" in c.summary() and "<table" in c._repr_html_()


def test_single_and_multi_group_fits_are_not_compared():
    one = SimpleNamespace(fit_measures=dict(chisq=10.0, df=5, ntotal=301), group_labels=[])
    with pytest.raises(ModelError, match="different numbers of groups"):
        sem.compare_models(one, _fit("hs_mg_metric"))


# ------------------------------------------------------------------ by hand
def _fm(chisq, df, n=400, cfi=0.95, rmsea=0.05, aic=1000.0, bic=1100.0, **kw):
    return SimpleNamespace(fit_measures=dict(chisq=chisq, df=df, ntotal=n, cfi=cfi, tli=cfi - 0.01, rmsea=rmsea,
                                             srmr=0.04, aic=aic, bic=bic), converged=True, **kw)


def test_two_models_in_either_order_give_the_same_test():
    r, f = _fm(100.0, 50, cfi=0.950, aic=1010.0), _fm(90.0, 49, cfi=0.958, aic=1002.0)
    a = sem.compare_models(r, f)
    b = sem.compare_models(f, r)
    assert a.chisq_diff == b.chisq_diff == pytest.approx(10.0) and a.df_diff == b.df_diff == 1
    assert (a.restricted, a.full) == ("restricted", "full") == (b.restricted, b.full)
    assert a.pvalue == pytest.approx(math.erfc(math.sqrt(5.0)), rel=1e-10)
    assert a.delta_cfi == pytest.approx(-0.008) and a.delta_aic == pytest.approx(8.0)
    assert a.preferred == "full"
    assert a.apa() == "\u0394\u03c7\u00b2(1) = 10.00, p = .002"


def test_bad_input_is_named():
    with pytest.raises(ModelError, match="at least two"):
        sem.compare_models(_fm(1.0, 2))
    with pytest.raises(ModelError, match="same degrees of freedom"):
        sem.compare_models(_fm(1.0, 2), _fm(2.0, 2))
    with pytest.raises(ModelError, match="different samples"):
        sem.compare_models(_fm(100.0, 50, n=400), _fm(90.0, 49, n=399))
    with pytest.raises(ModelError, match="'b' has no 'chisq'"):
        sem.compare_models(_fm(1.0, 3), SimpleNamespace(fit_measures={"df": 2}), names=("a", "b"))
    with pytest.raises(ModelError, match="one name per model"):
        sem.compare_models(_fm(1.0, 3), _fm(0.5, 2), names=("a",))


def test_warnings_restricted_fits_better_and_other_missing_treatment():
    c = sem.compare_models(_fm(90.0, 50, missing="ml"), _fm(95.0, 49, missing="listwise"))
    assert c.pvalue == 1.0
    assert any("fits better" in w for w in c.warnings)
    assert any("missing-data treatments" in w for w in c.warnings)

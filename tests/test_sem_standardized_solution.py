"""sem.standardized_solution against lavaan 0.6-14's standardizedSolution() (delta-method
SEs; references std_*.json from make_references_diagnostics.R) and its bootstrap intervals."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from crm_research import sem
from crm_research.errors import ModelError

REF = Path(__file__).parent / "reference" / "lavaan"
HS = pd.read_csv(REF / "HolzingerSwineford1939.csv")
PD = pd.read_csv(REF / "PoliticalDemocracy.csv")
HSM = pd.read_csv(REF / "hs_missing.csv")
CASES = {"std_hs_cfa": (HS, {}), "std_poldem": (PD, {}), "std_pd_path": (PD, {}), "std_hs_mediation": (HS, {}),
         "std_hs_mg_metric": (HS, {"group": "school", "group_equal": ["loadings"]}),
         "std_hs_mediation_mlr": (HS, {"estimator": "MLR"}),   # Huber-White vcov in the delta method
         "std_poldem_mlm": (PD, {"estimator": "MLM"}),          # robust.sem vcov
         "std_hs_fiml": (HSM, {"missing": "ml"})}            # FIML: observed-information vcov


@pytest.mark.parametrize("name", list(CASES))
@pytest.mark.parametrize("kind", ["std.all", "std.lv", "std.nox"])
def test_delta_method_matches_lavaan(name, kind):
    ref = json.loads((REF / f"{name}.json").read_text())
    data, kw = CASES[name]
    try:
        res = sem.fit((REF / f"{ref['model']}.lav").read_text(), data, **kw)
    except ModelError as e:   # an estimator not available yet
        pytest.skip(str(e))
    ours = sem.standardized_solution(res, type=kind)
    lav = pd.DataFrame(ref[kind])
    key = ["lhs", "op", "rhs"] + (["group"] if "group" in lav.columns else [])
    assert ours[key].astype(str).values.tolist() == lav[key].astype(str).values.tolist()
    for ocol, lcol in ((kind, "est.std"), ("se", "se"), ("ci.lower", "ci.lower"), ("ci.upper", "ci.upper"),
                       ("z", "z"), ("pvalue", "pvalue")):
        a = ours[ocol].to_numpy(float)
        b = lav[lcol].to_numpy(float)
        assert np.array_equal(np.isnan(a), np.isnan(b)), ocol
        ok = ~np.isnan(b)
        dev = np.abs(a[ok] - b[ok]) / np.maximum(1.0, np.abs(b[ok]))
        assert dev.max() < 1e-3, (ocol, float(dev.max()))
    assert list(ours.columns[-6:]) == [kind, "se", "z", "pvalue", "ci.lower", "ci.upper"]


def test_std_all_equals_estimates_column():
    res = sem.fit((REF / "hs_mediation.lav").read_text(), HS)
    ss = sem.standardized_solution(res)
    assert np.allclose(ss["std.all"].to_numpy(float), res.estimates["std.all"].to_numpy(float), atol=1e-10)


@pytest.fixture(scope="module")
def boot():
    return sem.fit((REF / "hs_mediation.lav").read_text(), HS, se="bootstrap", bootstrap=500, seed=11, n_jobs=1,
                   boot_ci="bca")


def test_bootstrap_intervals_of_std_all(boot):
    ss = sem.standardized_solution(boot, ci="bootstrap")
    delta = sem.standardized_solution(boot, ci="delta")     # delta method on the bootstrap vcov, as lavaan
    free = ss["se"] > 0
    assert free.sum() >= 20
    assert (ss.loc[free, "ci.lower"] < ss.loc[free, "std.all"]).all()
    assert (ss.loc[free, "std.all"] < ss.loc[free, "ci.upper"]).all()
    # bootstrap and delta SEs of standardized values agree roughly (N = 301)
    ratio = ss.loc[free, "se"] / delta.loc[free, "se"]
    assert ratio.between(0.6, 1.6).all() and 0.9 < ratio.median() < 1.1, ratio.describe()
    # a marker loading is fixed, its standardized value is not (as lavaan)
    marker = ss[(ss["op"] == "=~") & (ss["rhs"] == "x1")].iloc[0]
    assert marker["se"] > 0
    ind = ss[ss["lhs"] == "indirect"].iloc[0]
    assert ind["ci.lower"] < ind["std.all"] < ind["ci.upper"]


def test_bootstrap_std_same_whatever_n_jobs(boot):
    other = sem.fit((REF / "hs_mediation.lav").read_text(), HS, se="bootstrap", bootstrap=500, seed=11, n_jobs=2,
                    boot_ci="bca")
    a = sem.standardized_solution(boot, ci="bootstrap")
    b = sem.standardized_solution(other, ci="bootstrap")
    assert np.array_equal(a["ci.lower"].to_numpy(), b["ci.lower"].to_numpy(), equal_nan=True)


def test_bad_input():
    res = sem.fit((REF / "hs_cfa.lav").read_text(), HS)
    with pytest.raises(ModelError, match="type="):
        sem.standardized_solution(res, type="std.xy")
    with pytest.raises(ModelError, match="ci="):
        sem.standardized_solution(res, ci="profile")
    with pytest.raises(ModelError, match="bootstrap"):
        sem.standardized_solution(res, ci="bootstrap")
    none = sem.fit((REF / "hs_cfa.lav").read_text(), HS, se="none")
    with pytest.raises(ModelError, match="se="):
        sem.standardized_solution(none)

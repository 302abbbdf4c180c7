"""Modification indices and score tests against lavaan 0.6-14 (references made by
tests/reference/lavaan/make_references_diagnostics.R: mi_*.json, score_*.json)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from crm_research import sem
from crm_research.errors import ModelError

REF = Path(__file__).parent / "reference" / "lavaan"
DATA = {"hs": REF / "HolzingerSwineford1939.csv", "pd": REF / "PoliticalDemocracy.csv",
        "seed": REF / "seed_survey_a.csv", "seedg": REF / "seed_survey_groups.csv", "hsm": REF / "hs_missing.csv",
        "mobi": Path(__file__).parent / "data" / "ecsi" / "mobi.csv"}
MI_CASES = {
    "mi_hs_cfa": ("hs", {}),
    "mi_poldem": ("pd", {}),
    "mi_pd_path": ("pd", {}),
    "mi_hs_mediation": ("hs", {}),
    "mi_hs_mg_metric": ("hs", {"group": "school", "group_equal": ["loadings"]}),
    "mi_hs_mg_config": ("hs", {"group": "school"}),
    "mi_mobi": ("mobi", {}),
    "mi_hs_means": ("hs", {}),                                     # mean structure, shared-label intercepts
    "mi_seed_combined": ("seed", {}),                              # second-order factors, := parameters
    "mi_eco_mg_metric": ("seedg", {"group": "segment", "group_equal": ["loadings"]}),
    "mi_hs_fiml": ("hsm", {"missing": "ml"}),                      # FIML: per-pattern information and score
    "mi_hs_mg_fiml": ("hsm", {"missing": "ml", "group": "school", "group_equal": ["loadings"]}),
}
COLS = ["mi", "epc", "sepc.lv", "sepc.all", "sepc.nox"]


def _data(key):
    return pd.read_csv(DATA[key])


def _ref(name):
    return json.loads((REF / f"{name}.json").read_text())


def _fit(name, **extra):
    ref = _ref(name)
    key, kw = MI_CASES[name]
    return sem.fit((REF / f"{ref['model']}.lav").read_text(), _data(key), **kw, **extra), ref


def _compare(ours: pd.DataFrame, ref: pd.DataFrame, tol_mi: float, tol_epc: float):
    key = ["lhs", "op", "rhs"] + (["group"] if "group" in ref.columns else [])
    assert list(ours.columns) == key + COLS
    # the same rows in lavaan's order (sort=False)
    assert ours[key].astype(str).values.tolist() == ref[key].astype(str).values.tolist()
    for col, tol in zip(COLS, (tol_mi, tol_epc, tol_epc, tol_epc, tol_epc)):
        a = ours[col].to_numpy(float)
        b = ref[col].to_numpy(float)
        assert np.array_equal(np.isnan(a), np.isnan(b)), col
        ok = ~np.isnan(b)
        # relative above 1, as the parity rule
        dev = np.abs(a[ok] - b[ok]) / np.maximum(1.0, np.abs(b[ok]))
        assert dev.max() < tol, (col, float(dev.max()))


@pytest.mark.parametrize("name", [n for n in MI_CASES if n != "mi_mobi"])
def test_modindices_match_lavaan(name):
    res, ref = _fit(name)
    mi = sem.modindices(res, sort=False)
    _compare(mi, pd.DataFrame(ref["modindices"]), 0.01, 1e-3)


def test_modindices_mobi_24_items_at_lavaan_estimates_and_ours():
    """lavaan stops its optimizer on the 24-item ECSI model about 3e-3 away from the optimum
    (our estimate has a smaller gradient), and the largest EPCs there are near-singular
    (|epc| > 10).  At lavaan's own estimates our indices are lavaan's to 1e-4; at ours the
    indices stay within 0.02 and the EPCs within 1% of lavaan's."""
    res, ref = _fit("mi_mobi")
    est = pd.DataFrame(ref["estimates"])
    f = res.state.partable.frame
    m = est.merge(f[["lhs", "op", "rhs", "free"]], on=["lhs", "op", "rhs"])
    m = m[m["free"] > 0]
    assert len(m) == res.state.model.q
    ours = sem.modindices(res, sort=False)
    rmi = pd.DataFrame(ref["modindices"])
    assert np.abs(ours["mi"].to_numpy() - rmi["mi"].to_numpy(float)).max() < 0.02
    theta = res.state.theta.copy()
    theta[m["free"].to_numpy() - 1] = m["est"].to_numpy()
    res.state.theta = theta
    _compare(sem.modindices(res, sort=False), rmi, 1e-4, 1e-4)


def test_modindices_mlr_fit_as_lavaan():
    """lavaan's modindices() of an MLR fit use the expected information and the ML score:
    the same numbers as for ML."""
    ref = _ref("mi_mobi_mlr")
    ml = _ref("mi_mobi")
    a = pd.DataFrame(ref["modindices"])
    b = pd.DataFrame(ml["modindices"])
    assert np.allclose(a["mi"].to_numpy(float), b["mi"].to_numpy(float), atol=1e-6)
    try:
        res = sem.fit((REF / "ecsi24.lav").read_text(), _data("mobi"), estimator="MLR")
    except ModelError:
        pytest.skip("estimator='MLR' not available yet")
    mi = sem.modindices(res, sort=False)
    assert np.abs(mi["mi"].to_numpy() - a["mi"].to_numpy(float)).max() < 0.02


def test_modindices_sort_filter_op():
    res, ref = _fit("mi_hs_cfa")
    full = sem.modindices(res)
    assert full["mi"].is_monotonic_decreasing
    top = full.iloc[0]
    assert (top["lhs"], top["op"], top["rhs"]) == ("visual", "=~", "x9")
    big = sem.modindices(res, minimum_value=10)
    assert (big["mi"] > 10).all() and len(big) == int((full["mi"] > 10).sum())
    only = sem.modindices(res, op="~~")
    assert set(only["op"]) == {"~~"}
    two = sem.modindices(res, op=["=~", "~~"], sort=False)
    assert set(two["op"]) == {"=~", "~~"}
    no_std = sem.modindices(res, standardized=False)
    assert list(no_std.columns) == ["lhs", "op", "rhs", "mi", "epc"]


def test_modindices_group_column_in_multigroup():
    res, _ = _fit("mi_hs_mg_metric")
    mi = sem.modindices(res)
    assert list(mi.columns[:4]) == ["lhs", "op", "rhs", "group"]
    assert set(mi["group"]) == {1, 2}


def test_modindices_of_24_items_is_fast():
    import time

    res, _ = _fit("mi_mobi")
    t0 = time.perf_counter()
    sem.modindices(res)
    assert time.perf_counter() - t0 < 1.0


def test_modindices_bad_input():
    res, _ = _fit("mi_hs_cfa")
    with pytest.raises(ModelError, match="op="):
        sem.modindices(res, op="=>")
    with pytest.raises(ModelError, match="minimum_value"):
        sem.modindices(res, minimum_value="big")
    bare = sem.SEMResult("", pd.DataFrame(), {}, [], True, 1, pd.DataFrame())
    with pytest.raises(ModelError, match="sem.fit"):
        sem.modindices(bare)


@pytest.mark.parametrize("name,model,kw", [
    ("score_hs_mg_metric", "hs_mg_metric", {"group": "school", "group_equal": ["loadings"]}),
    ("score_hs_mg_scalar", "hs_mg_scalar", {"group": "school", "group_equal": ["loadings", "intercepts"]}),
    ("score_hs_equal", "hs_equal", {}),
])
def test_score_test_matches_lavTestScore(name, model, kw):
    ref = _ref(name)
    res = sem.fit((REF / f"{model}.lav").read_text(), _data("hs"), **kw)
    st = sem.score_test(res, cumulative=True)
    tot = ref["test"][0]
    assert st.attrs["total"]["df"] == tot["df"]
    assert st.attrs["total"]["X2"] == pytest.approx(tot["X2"], abs=1e-3)
    assert st.attrs["total"]["pvalue"] == pytest.approx(tot["p.value"], abs=1e-4)
    uni = pd.DataFrame(ref["uni"])
    assert list(st.columns) == ["lhs", "op", "rhs", "X2", "df", "pvalue"]
    assert st[["lhs", "op", "rhs"]].values.tolist() == uni[["lhs", "op", "rhs"]].values.tolist()
    assert np.allclose(st["X2"], uni["X2"].astype(float), atol=1e-3)
    assert np.allclose(st["pvalue"], uni["p.value"].astype(float), atol=1e-4)
    cum = pd.DataFrame(ref["cumulative"])
    ours = st.attrs["cumulative"]
    assert ours[["lhs", "rhs"]].values.tolist() == cum[["lhs", "rhs"]].values.tolist()
    assert np.allclose(ours["X2"], cum["X2"].astype(float), atol=1e-3)
    assert ours["df"].tolist() == cum["df"].astype(int).tolist()
    rel = sem.score_test(res, release=[1, 2])
    rr = ref["release_1_2"]
    assert rel.attrs["total"]["X2"] == pytest.approx(rr["test"][0]["X2"], abs=1e-3)
    assert np.allclose(rel["X2"], pd.DataFrame(rr["uni"])["X2"].astype(float), atol=1e-3)


def test_score_test_bad_input():
    hs = _data("hs")
    res = sem.fit((REF / "hs_cfa.lav").read_text(), hs)
    with pytest.raises(ModelError, match="no equality constraints"):
        sem.score_test(res)
    res = sem.fit((REF / "hs_equal.lav").read_text(), hs)
    with pytest.raises(ModelError, match="release"):
        sem.score_test(res, release=[3])
    with pytest.raises(ModelError, match="release"):
        sem.score_test(res, release=["a"])


def test_ordinal_fit_is_refused_clearly():
    hs = _data("hs")
    cut = hs.assign(**{f"x{i}": pd.cut(hs[f"x{i}"], 4, labels=False) for i in range(1, 10)})
    try:
        res = sem.fit((REF / "hs_cfa.lav").read_text(), cut, ordered=True)
    except (ModelError, ImportError, NotImplementedError):
        pytest.skip("ordinal estimation not available")
    # modification indices and the standardized solution of an ordinal fit come from the
    # least-squares versions (checked against lavaan in test_sem_ordinal.py) ...
    mi = sem.modindices(res)
    assert list(mi.columns[:5]) == ["lhs", "op", "rhs", "mi", "epc"] and (mi["mi"] >= 0).all() and len(mi) > 0
    ss = sem.standardized_solution(res)
    assert "std.all" in ss.columns and ss["std.all"].notna().any()
    with pytest.raises(ModelError, match="ordinal"):
        sem.standardized_solution(res, ci="bootstrap")
    # ... the score test is not implemented for them and says so
    with pytest.raises(ModelError, match="ordinal"):
        sem.score_test(res)

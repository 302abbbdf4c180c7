"""Ordered categorical indicators (WLSMV and relatives) against lavaan 0.6-14.

References: tests/reference/lavaan/ord_*.json, made by make_references_ordinal.R (lavaan
0.6-14 ``sem(..., ordered = ...)``, ``parameterEstimates(standardized = TRUE)``,
``fitMeasures()``, ``lavInspect(fit, "sampstat" | "gamma" | "r2")``).  Data: psych's bfi
(tests/data/bfi), the ECSI mobile-phone survey (tests/data/ecsi) and HolzingerSwineford1939
cut into 2 and 3 categories as lavaan's documentation does (ord_hs_cut.csv, written by the R
script).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from crm_research import sem
from crm_research.errors import ModelError
from crm_research.sem.nacov import categorical_stats
from crm_research.sem.thresholds import ordered_item

ROOT = Path(__file__).resolve().parent
REF = ROOT / "reference" / "lavaan"

DATA = {
    "bfi": lambda: pd.read_csv(ROOT / "data" / "bfi" / "bfi.csv"),
    "mobi": lambda: pd.read_csv(ROOT / "data" / "ecsi" / "mobi.csv"),
    "hs": lambda: pd.read_csv(REF / "ord_hs_cut.csv"),
}

# the fit measures the issue lists, plus their relatives lavaan prints for categorical data
MEASURES = ["npar", "chisq", "df", "pvalue", "chisq.scaled", "df.scaled", "pvalue.scaled", "chisq.scaling.factor",
            "baseline.chisq", "baseline.df", "baseline.chisq.scaled", "baseline.df.scaled",
            "baseline.chisq.scaling.factor", "cfi", "tli", "cfi.scaled", "tli.scaled", "nfi", "ifi", "rni",
            "nfi.scaled", "rmsea", "rmsea.ci.lower", "rmsea.ci.upper", "rmsea.pvalue", "rmsea.scaled",
            "rmsea.ci.lower.scaled", "rmsea.ci.upper.scaled", "rmsea.pvalue.scaled", "srmr", "fmin",
            "cfi.robust", "tli.robust", "rni.robust", "rmsea.robust", "rmsea.ci.lower.robust",
            "rmsea.ci.upper.robust", "rmsea.pvalue.robust", "srmr_bentler", "crmr", "crmr_nomean", "rmr",
            "gfi", "agfi", "pgfi", "mfi", "wrmr", "cn_05", "cn_01", "rfi", "pnfi", "nnfi", "ifi.scaled",
            "rfi.scaled", "pnfi.scaled", "rni.scaled", "nnfi.robust"]

CASES = ["bfi", "bfi_pairwise", "bfi_mg", "bfi_mg_theta", "bfi_mg_partial", "mobi", "hs_binary", "hs3", "hs3_theta", "hs3_ulsmv", "hs3_wls",
         "hs3_dwls", "hs3_mv", "hs3_sem", "hs3_med", "hs3_mg", "hs3_uls", "hs3_wlsm", "hs_mixed"]

_cache: dict = {}


def _ref(name):
    return json.loads((REF / f"ord_{name}.json").read_text())


def _fit(name):
    if name not in _cache:
        d = _ref(name)
        model = (REF / d["model_file"]).read_text()
        test = d["test"][-1] if isinstance(d["test"], list) else d["test"]
        kw = dict(ordered=d["ordered"], estimator=d["estimator"], se=d["se"], test=test,
                  parameterization=d["parameterization"], missing=d["missing"])
        if d["group"]:
            kw.update(group=d["group"], group_equal=d["group_equal"], group_partial=d.get("group_partial", []))
        _cache[name] = (d, sem.fit(model, DATA[d["data"]](), **kw))
    return _cache[name]


def _close(ours, ref, tol):
    ours, ref = np.asarray(ours, float), np.asarray(ref, float)
    scale = np.maximum(1.0, np.abs(ref))
    both_nan = np.isnan(ours) & np.isnan(ref)
    return both_nan | (np.abs(ours - ref) <= tol * scale)


@pytest.mark.parametrize("name", CASES)
def test_estimates_match_lavaan(name):
    d, res = _fit(name)
    ref = pd.DataFrame(d["estimates"])
    keys = ["lhs", "op", "rhs"] + (["group"] if d["group"] else [])
    m = ref.merge(res.estimates, on=keys, how="outer", suffixes=("_r", "_o"), indicator=True)
    assert (m["_merge"] == "both").all(), m.loc[m["_merge"] != "both", keys + ["_merge"]]
    assert res.converged
    for col in ("est", "se", "std.all"):
        ok = _close(m[col + "_o"], m[col + "_r"], 1e-3)
        assert ok.all(), m.loc[~ok, keys + [col + "_r", col + "_o"]]
    assert {"|", "~*~"} <= set(res.estimates["op"])


@pytest.mark.parametrize("name", CASES)
def test_fit_measures_match_lavaan(name):
    d, res = _fit(name)
    fm = d["fit_measures"]
    checked = 0
    for k in MEASURES:
        if k not in fm:
            continue
        if fm[k] is None:        # lavaan reports NA: so must we
            assert k not in res.fit_measures or np.isnan(res.fit_measures[k]), (k, res.fit_measures[k])
            continue
        checked += 1
        ours, ref = res.fit_measures[k], fm[k]
        # three decimals; statistics in the thousands (chi-squares of bfi) to 5e-7 relative,
        # the precision of lavaan's own optimizers (nlminb for the polychorics and the model)
        assert abs(ours - ref) < 5e-4 or abs(ours - ref) < 5e-7 * abs(ref), (k, ours, ref)
    assert checked >= (20 if "chisq.scaled" in fm else 14)


@pytest.mark.parametrize("name", ["bfi", "hs3_sem", "hs_mixed", "bfi_mg"])
def test_r2_matches_lavaan(name):
    d, res = _fit(name)
    r2 = res.r2
    refs = list(d["r2"].values()) if isinstance(d["r2"], dict) else d["r2"]
    for g, ref in enumerate(refs):
        ours = r2 if isinstance(r2, pd.Series) else r2.iloc[:, g]
        for k, v in ref.items():
            assert abs(ours[k] - v) < 1e-3, (k, ours[k], v)


@pytest.mark.parametrize("name", ["hs3", "hs_binary", "bfi", "hs_mixed"])
def test_sample_statistics_and_nacov(name):
    d = _ref(name)
    data = DATA[d["data"]]()
    model = (REF / d["model_file"]).read_text()
    from crm_research.sem.partable import build_partable
    from crm_research.sem.polyserial import continuous_item

    ov = build_partable(model, meanstructure=True).names.ov
    data = data[ov].dropna()
    vs = [ordered_item(v, data[v]) if v in d["ordered"] else continuous_item(v, data[v].to_numpy(float)) for v in ov]
    st = categorical_stats(vs)
    ss = d["sampstat"][0]
    idx = [ov.index(v) for v in ss["names"]]
    sd = np.array([1.0 if o else np.sqrt(v.var) for v, o in zip(vs, st.ordered)])
    cov = (st.cor * np.outer(sd, sd))[np.ix_(idx, idx)]
    assert np.abs(cov - np.array(ss["cov"])).max() < 1e-6
    ref_th = {k: v for k, v in ss["th"].items()}
    ours_th = {}
    pos = 0
    for v, o, n in zip(ov, st.ordered, st.nth):
        if o:
            for t in range(n):
                ours_th[f"{v}|t{t + 1}"] = st.th[pos + t]
        pos += n
    for k, v in ours_th.items():
        assert abs(ref_th[k] - v) < 1e-8
    g = np.array(d["gamma_diag"][0])
    assert np.allclose(np.diag(st.nacov), g, rtol=1e-6, atol=1e-8)


def test_estimation_label_and_fields():
    _, res = _fit("hs3")
    assert res.estimator == "WLSMV" and res.test == "scaled.shifted" and res.se_type == "robust.sem"
    assert res.parameterization == "delta" and res.ordered == [f"c{i}" for i in range(1, 10)]
    assert sem.estimation_label(res) == "WLSMV (robust SE, scaled-shifted test; ordered: 9 items)"
    row = res.get("c1", "|", "t1")
    assert row["op"] == "|"


def test_bad_input_is_refused_clearly():
    hs = DATA["hs"]()
    m = "visual =~ c1 + c2 + c3\ntextual =~ c4 + c5 + c6"
    with pytest.raises(ModelError, match="estimator"):
        sem.fit(m, hs, ordered=True, estimator="GLS")
    with pytest.raises(ModelError, match="se="):
        sem.fit(m, hs, ordered=True, se="robust.huber.white")
    with pytest.raises(ModelError, match="test="):
        sem.fit(m, hs, ordered=True, test="yuan.bentler")
    with pytest.raises(ModelError, match="missing="):
        sem.fit(m, hs, ordered=True, missing="ml")
    with pytest.raises(ModelError, match="parameterization="):
        sem.fit(m, hs, ordered=True, parameterization="gamma")
    with pytest.raises(ModelError, match="nosuch"):
        sem.fit(m, hs, ordered=["c1", "nosuch"])
    with pytest.raises(ModelError, match="exogenous"):
        sem.fit(m + "\nvisual ~ x1", hs, ordered=["c1", "c2", "c3"])
    one = hs.assign(c1=1)
    with pytest.raises(ModelError, match="c1"):
        sem.fit(m, one, ordered=True)
    txt = hs.assign(c2=hs["c2"].map({1: "low", 2: "mid", 3: "high"}))
    with pytest.raises(ModelError, match="non-numeric"):
        sem.fit(m, txt, ordered=True)
    with pytest.raises(ModelError, match="not found"):
        sem.fit(m, hs.drop(columns=["c4"]), ordered=True)


def test_listwise_drops_and_counts_rows():
    hs = DATA["hs"]().copy()
    hs.loc[:9, "c1"] = np.nan
    res = sem.fit("visual =~ c1 + c2 + c3\ntextual =~ c4 + c5 + c6", hs, ordered=True)
    assert res.nobs == len(hs) - 10 and res.n_dropped == 10
    pw = sem.fit("visual =~ c1 + c2 + c3\ntextual =~ c4 + c5 + c6", hs, ordered=True, missing="pairwise")
    assert pw.nobs == len(hs)


def test_threshold_syntax():
    hs = DATA["hs"]()
    m = "visual =~ c1 + c2 + c3\ntextual =~ c4 + c5 + c6\nspeed =~ c7 + c8 + c9"
    base = sem.fit(m, hs, ordered=True)
    explicit = sem.fit(m + "\nc1 | t1 + t2", hs, ordered=True)
    assert abs(base.fit_measures["chisq"] - explicit.fit_measures["chisq"]) < 1e-6
    fixed = sem.fit(m + "\nc1 | -0.3*t1 + t2", hs, ordered=True)
    row = fixed.get("c1", "|", "t1")
    assert row["est"] == -0.3 and row["se"] == 0 and fixed.fit_measures["df"] == base.fit_measures["df"] + 1
    from crm_research.errors import ModelSyntaxError
    with pytest.raises(ModelSyntaxError, match="ordered"):
        sem.fit(m + "\nc1 | t1 + t2", hs)
    with pytest.raises(ModelSyntaxError, match="t1, t2"):
        sem.fit(m + "\nc1 | x1", hs, ordered=True)
    with pytest.raises(ModelError, match="t1..t2"):
        sem.fit(m + "\nc1 | t1 + t2 + t3", hs, ordered=True)
    with pytest.raises(ModelError, match="not an ordered item"):
        sem.fit(m + "\nc1 | t1", hs, ordered=["c2", "c3"])


def test_scaled_difference_test_matches_lavtestlrt():
    ref = json.loads((REF / "ord_lrt_hs3.json").read_text())
    hs = DATA["hs"]()
    full = sem.fit((REF / "ord_hs3.model.lav").read_text(), hs, ordered=True)
    restricted = sem.fit((REF / "ord_hs3_equal.model.lav").read_text(), hs, ordered=True)
    cmp = sem.compare_models(full, restricted)
    assert "satorra.2000" in cmp.method
    row = ref["table"][1]
    got = cmp.table.iloc[1]
    assert abs(got["chisq.diff"] - row["Chisq diff"]) < 1e-3
    assert got["df.diff"] == row["Df diff"]
    assert abs(got["pvalue.diff"] - row["Pr(>Chisq)"]) < 1e-3


def test_wls_with_a_singular_nacov_is_refused():
    hs = DATA["hs"]().head(40)
    with pytest.raises(ModelError, match="positive definite"):
        sem.fit("visual =~ c1 + c2 + c3\ntextual =~ c4 + c5 + c6\nspeed =~ c7 + c8 + c9", hs, ordered=True,
                estimator="WLS")


def test_pandas_ordered_categoricals_use_their_category_order():
    hs = DATA["hs"]()
    m = "visual =~ c1 + c2 + c3\ntextual =~ c4 + c5 + c6\nspeed =~ c7 + c8 + c9"
    base = sem.fit(m, hs, ordered=True)
    lab = hs.copy()
    for v in [f"c{i}" for i in range(1, 10)]:
        lab[v] = pd.Categorical(lab[v].map({1: "low", 2: "mid", 3: "high"}), categories=["low", "mid", "high"],
                                ordered=True)
    res = sem.fit(m, lab, ordered=True)
    assert abs(res.fit_measures["chisq"] - base.fit_measures["chisq"]) < 1e-8


def test_bivariate_normal_matches_pbivnorm():
    from crm_research.sem.bivnorm import bvn_cdf

    d = pd.read_csv(REF / "ord_pbivnorm.csv")
    assert np.abs(bvn_cdf(d["h"], d["k"], d["r"]) - d["p"]).max() < 1e-13
    assert bvn_cdf(np.inf, 0.3, 0.5) == pytest.approx(0.617911, abs=1e-6)
    assert bvn_cdf(-np.inf, 0.3, 0.5) == 0.0


def test_a_group_without_a_category_is_named():
    hs = DATA["hs"]()
    hs = hs[~((hs["school"] == "Pasteur") & (hs["c2"] == 3))]
    with pytest.raises(ModelError, match="group 'Pasteur'.*c2"):
        sem.fit("visual =~ c1 + c2 + c3\ntextual =~ c4 + c5 + c6", hs, ordered=True, group="school")
    res = sem.fit("visual =~ c1 + c2 + c3\ntextual =~ c4 + c5 + c6", DATA["hs"](), ordered="all")
    assert len(res.ordered) == 6


@pytest.mark.parametrize("name", ["hs3", "bfi_mg"])
def test_modification_indices_match_lavaan(name):
    from crm_research.sem.ls_modindices import modindices_ls

    ref = json.loads((REF / f"ord_mi_{name}.json").read_text())
    d = pd.DataFrame(ref["modindices"])
    kw = dict(ordered=ref["ordered"])
    if ref["group"]:
        kw.update(group=ref["group"], group_equal=ref["group_equal"])
    res = sem.fit((REF / ref["model_file"]).read_text(), DATA[ref["data"]](), **kw)
    ours = modindices_ls(res, sort=False)
    keys = ["lhs", "op", "rhs"] + (["group"] if ref["group"] else [])
    d["rhs"] = d["rhs"].fillna("")
    assert ours[keys].values.tolist() == d[keys].values.tolist()       # lavaan's rows, in its order
    assert np.abs(ours["mi"].to_numpy() - d["mi"].to_numpy()).max() < 0.01
    for c in ("epc", "sepc.lv", "sepc.all", "sepc.nox"):
        assert np.abs(ours[c].to_numpy() - d[c].to_numpy()).max() < 1e-3, c
    top = modindices_ls(res, minimum_value=10, op="~~")
    assert (top["mi"] >= 10).all() and set(top["op"]) <= {"~~"} and top["mi"].is_monotonic_decreasing
    with pytest.raises(ModelError, match="op="):
        modindices_ls(res, op="<-")


@pytest.mark.parametrize("name", ["hs3", "hs3_med", "hs3_theta", "hs_mixed", "bfi_mg"])
def test_standardized_solution_matches_lavaan(name):
    from crm_research.sem.ls_standardized import standardized_solution_ls

    ref = json.loads((REF / f"ord_std_{name}.json").read_text())
    kw = dict(ordered=ref["ordered"], parameterization=ref["parameterization"])
    if ref["group"]:
        kw.update(group=ref["group"], group_equal=ref["group_equal"])
    res = sem.fit((REF / ref["model_file"]).read_text(), DATA[ref["data"]](), **kw)
    keys = ["lhs", "op", "rhs"] + (["group"] if ref["group"] else [])
    for typ, key in (("std.all", "std_all"), ("std.lv", "std_lv")):
        d = pd.DataFrame(ref[key])
        m = d.merge(standardized_solution_ls(res, type=typ), on=keys, how="outer", indicator=True)
        assert (m["_merge"] == "both").all()
        assert _close(m[typ], m["est.std"], 1e-3).all()
        for c in ("se", "ci.lower", "ci.upper"):
            assert _close(m[c + "_y"], m[c + "_x"], 1e-3).all(), (typ, c)
    with pytest.raises(ModelError, match="type"):
        standardized_solution_ls(res, type="std.nox")


def test_summary_prints_thresholds_and_scales_as_lavaan():
    """The text summary has lavaan's 'Thresholds' and 'Scales y*' sections for ordered items,
    with the thresholds named x|t1, and says how the ordinal data were treated."""
    hs = pd.read_csv(REF / "ord_hs_cut.csv")
    res = sem.fit("visual =~ c1 + c2 + c3\ntextual =~ c4 + c5 + c6", hs, ordered=True)
    text = res.summary()
    assert "Thresholds:" in text and "Scales y*:" in text
    th = res.estimates[res.estimates["op"] == "|"]
    first = th.iloc[0]
    assert f"{first['lhs']}|{first['rhs']}" in text
    assert text.index("Intercepts:" if "Intercepts:" in text else "Thresholds:") <= text.index("Thresholds:") \
        < text.index("Variances:") < text.index("Scales y*:")
    assert "AIC" not in text            # least squares: no likelihood, no information criteria
    pw = sem.fit("visual =~ c1 + c2 + c3\ntextual =~ c4 + c5 + c6", hs, ordered=True, missing="pairwise")
    assert pw.missing_summary.startswith("pairwise deletion")

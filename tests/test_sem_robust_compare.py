"""Scaled chi-square difference tests of compare_models against lavaan 0.6-14's lavTestLRT().

References: tests/reference/lavaan/robust_lrt_hs_mg_{mlm,mlr,mlmv}.json (make_references_robust.R):
configural, metric and scalar two-group CFAs of HS by school with each estimator, and with MLR
by FIML on hs_missing.csv; lavaan's default method is Satorra-Bentler (2001) for MLM and MLR,
Satorra (2000) scaled-shifted for MLMV.
The scaled difference is compared to a relative 1e-4: the scaling factors of lavaan's fits carry
its optimizer's error (about 5e-7 relative: its ML discrepancy is ~1e-11 above ours), which the
2001 formula multiplies by df0 / (df0 - df1) = 10.
"""
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


@pytest.mark.parametrize("est", ["mlm", "mlr", "mlmv", "fiml_mlr"])
def test_scaled_difference_matches_lavaan(est):
    ref = json.loads((REF / f"robust_lrt_hs_mg_{est}.json").read_text())
    data = pd.read_csv(REF / ref["data"])
    opts = {k: v for k, v in ref["options"].items() if k != "group"}
    fits = [sem.fit(ref["model"], data, group="school", group_equal=[g for g in ge if g], **opts)
            for ge in ref["steps"].values()]
    # given in another order: sorted by df as lavaan does
    cmp = sem.compare_models(fits[2], fits[0], fits[1], names=["scalar", "config", "metric"])
    lav_method = "satorra.2000" if est == "mlmv" else "satorra.bentler.2001"
    assert np.allclose(t_chisq := [f.fit_measures["chisq"] for f in fits],
                       [r["Chisq"] for r in ref["table"]], atol=1e-4), t_chisq
    assert cmp.method == lav_method and lav_method in ref["method"]
    theirs = pd.DataFrame(ref["table"]).set_index("model")
    t = cmp.table.loc[list(theirs.index)]
    assert (t["df"].to_numpy() == theirs["Df"].to_numpy()).all()
    assert np.allclose(t["chisq"], theirs["Chisq"], atol=1e-6)
    assert np.allclose(t["aic"], theirs["AIC"], atol=1e-3)
    assert np.allclose(t["chisq.diff"].iloc[1:], theirs["Chisq.diff"].iloc[1:], rtol=1e-4)
    assert np.allclose(t["pvalue.diff"].iloc[1:], theirs["p"].iloc[1:], rtol=1e-3)
    assert t["rmsea.diff"].isna().all()           # lavaan reports no RMSEA column when scaled
    assert cmp.apa().startswith("scaled \u0394\u03c7\u00b2(6) = ")
    assert "Scaled chi-squared difference test" in cmp.summary()


def test_sb2001_closed_form_and_stored_measures():
    """Satorra-Bentler 2001 from stored fit measures alone (no refit needed)."""
    full = {"fit_measures": {"chisq": 100.0, "df": 40, "chisq.scaling.factor": 1.2, "ntotal": 300}}
    restr = {"fit_measures": {"chisq": 130.0, "df": 45, "chisq.scaling.factor": 1.3, "ntotal": 300}}
    cmp = sem.compare_models(restr, full)
    cd = (45 * 1.3 - 40 * 1.2) / 5
    assert cmp.method == "satorra.bentler.2001"
    assert cmp.chisq_diff == pytest.approx(30.0 / cd)


def test_mixed_robust_and_standard_is_an_error():
    model = "visual =~ x1 + x2 + x3\ntextual =~ x4 + x5 + x6"
    a = sem.fit(model, HS, estimator="MLR", group="school")
    b = sem.fit(model, HS, group="school", group_equal=["loadings"])
    with pytest.raises(ModelError, match="some models \\(but not all\\) have scaled test statistics"):
        sem.compare_models(a, b)


def test_stored_scaled_shifted_measures_need_the_fits():
    """lavaan JSON of MLMV fits (scaled-shifted statistics): the Satorra (2000) test needs Gamma
    and Delta, so stored fit measures alone are refused instead of using the wrong formula."""
    fits = [json.loads((REF / "robust_hs_mg_mlmv_config.json").read_text())]
    full = {"fit_measures": dict(fits[0]["fit_measures"])}
    fm0 = fits[0]["fit_measures"]
    restr = {"fit_measures": dict(fm0, df=fm0["df"] + 6, chisq=fm0["chisq"] + 10,
                                  **{"df.scaled": fm0["df"] + 6, "chisq.scaled": fm0["chisq.scaled"] + 9})}
    with pytest.raises(ModelError, match="Satorra 2000"):
        sem.compare_models(restr, full)


def test_satorra_2000_on_request_matches_lavaan():
    """lavTestLRT(method = "satorra.2000") for MLM and MLR fits (scaled-shifted difference with
    lavaan's WLS.V = expected h1 information and its own information matrix, observed for MLR)."""
    ref = json.loads((REF / "robust_lrt_hs_mg_s2000.json").read_text())
    for row in ref["table"]:
        a = sem.fit(ref["model"], HS, group="school", estimator=row["estimator"])
        b = sem.fit(ref["model"], HS, group="school", group_equal=["loadings"], estimator=row["estimator"])
        cmp = sem.compare_models(a, b, names=["config", "metric"], method="satorra.2000")
        assert cmp.method == "satorra.2000" and cmp.df_diff == row["Df.diff"]
        assert cmp.chisq_diff == pytest.approx(row["Chisq.diff"], rel=1e-4)
        assert cmp.pvalue == pytest.approx(row["p"], rel=1e-3)
    with pytest.raises(ModelError, match="method='satorra.2010'"):
        sem.compare_models(a, b, method="satorra.2010")

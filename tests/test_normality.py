"""Normality diagnostics against psych 2.x (mardia, skew, kurtosi; references
tests/reference/lavaan/mardia_*.json from make_references_diagnostics.R) and the
estimator recommendation rule."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from crm_research.errors import InsufficientDataError, ModelError
from crm_research.normality import EstimatorAdvice, item_distributions, mardia, recommend_estimator

ROOT = Path(__file__).parent
REF = ROOT / "reference" / "lavaan"
FILES = {"mardia_hs": REF / "HolzingerSwineford1939.csv", "mardia_mobi": ROOT / "data" / "ecsi" / "mobi.csv",
         "mardia_bfi": ROOT / "data" / "bfi" / "bfi.csv"}


@pytest.mark.parametrize("name", list(FILES))
def test_mardia_matches_psych(name):
    ref = json.loads((REF / f"{name}.json").read_text())
    d = pd.read_csv(FILES[name])
    m = mardia(d, ref["items"])
    assert m.attrs == {"n": ref["n_obs"], "p": ref["n_var"]}
    assert m["test"].tolist() == ["skewness", "skewness (small sample)", "kurtosis"]
    want = {"coefficient": [ref["b1p"], ref["b1p"], ref["b2p"]],
            "statistic": [ref["skew"], ref["small_skew"], ref["kurtosis"]],
            "pvalue": [ref["p_skew"], ref["p_small"], ref["p_kurt"]]}
    for col, vals in want.items():
        assert np.allclose(m[col].to_numpy(float), vals, rtol=1e-9, atol=1e-12), col
    p = ref["n_var"]
    assert m["df"].iat[0] == p * (p + 1) * (p + 2) / 6 and np.isnan(m["df"].iat[2])


@pytest.mark.parametrize("name", list(FILES))
@pytest.mark.parametrize("kind,suffix", [(3, ""), (2, "_type2")])
def test_item_skew_kurtosis_match_psych(name, kind, suffix):
    ref = json.loads((REF / f"{name}.json").read_text())
    it = item_distributions(pd.read_csv(FILES[name]), ref["items"], type=kind)
    assert np.allclose(it["skew"].to_numpy(), ref["item_skew" + suffix], atol=1e-10)
    assert np.allclose(it["kurtosis"].to_numpy(), ref["item_kurtosis" + suffix], atol=1e-10)


def test_item_distributions_counts():
    d = pd.DataFrame({"a": [1, 1, 1, 2, 3, np.nan], "b": [4, 5, 5, 5, 5, 5]})
    it = item_distributions(d).set_index("item")
    assert it.loc["a", "n"] == 5 and it.loc["a", "categories"] == 3
    assert it.loc["a", "floor"] == pytest.approx(0.6) and it.loc["a", "ceiling"] == pytest.approx(0.2)
    assert it.loc["b", "ceiling"] == pytest.approx(5 / 6)
    # a normal sample: excess kurtosis near 0 (not 3)
    x = np.random.default_rng(1).normal(size=20000)
    it = item_distributions(pd.DataFrame({"x": x}))
    assert abs(it["kurtosis"].iat[0]) < 0.1 and abs(it["skew"].iat[0]) < 0.05


def test_recommend_mobi_mlr_bfi_wlsmv():
    mobi = pd.read_csv(FILES["mardia_mobi"])
    a = recommend_estimator(mobi)
    assert isinstance(a, EstimatorAdvice)
    assert (a.estimator, a.ordered, a.missing) == ("MLR", [], "listwise")
    assert any("Mardia" in r for r in a.reasons)
    assert a.fit_options() == {"estimator": "MLR", "missing": "listwise"}
    bfi = pd.read_csv(FILES["mardia_bfi"])
    items = [c for c in bfi.columns if c[0] in "ACENO" and c[1:].isdigit()]
    b = recommend_estimator(bfi, items)
    assert b.estimator == "WLSMV" and b.ordered == items and b.missing == "pairwise"
    assert "Recommended estimator: WLSMV" in b.summary() and "<ul>" in b._repr_html_()


def test_recommend_rule_branches():
    rng = np.random.default_rng(5)
    z = rng.normal(size=(600, 4)) @ np.linalg.cholesky(np.full((4, 4), 0.5) + 0.5 * np.eye(4)).T
    cont = pd.DataFrame(z * 10 + 50, columns=list("abcd"))
    assert recommend_estimator(cont).estimator == "ML"
    # five categories -> WLSMV, whatever the distribution
    five = pd.DataFrame(np.clip(np.round(z + 3), 1, 5), columns=list("abcd"))
    adv = recommend_estimator(five)
    assert adv.estimator == "WLSMV" and adv.ordered == list("abcd")
    # many categories, heavy tails -> MLR; with missing answers FIML
    heavy = pd.DataFrame(rng.standard_t(3, size=(600, 4)) * 10, columns=list("abcd"))
    heavy.iloc[:30, 0] = np.nan
    adv = recommend_estimator(heavy)
    assert adv.estimator == "MLR" and adv.missing == "ml"
    assert recommend_estimator(heavy, missing="listwise").missing == "listwise"
    # the scale's stated points override the observed categories
    assert recommend_estimator(cont, points=4).estimator == "WLSMV"


def test_bad_input():
    d = pd.DataFrame({"a": [1.0, 2, 3], "b": ["x", "y", "z"]})
    with pytest.raises(ModelError, match="not in the data"):
        mardia(d, ["a", "zz"])
    with pytest.raises(ModelError, match="not numeric"):
        item_distributions(d)
    with pytest.raises(InsufficientDataError, match="complete rows"):
        mardia(pd.DataFrame({"a": [1.0, 2], "b": [2.0, 1], "c": [1.0, 1]}))
    with pytest.raises(InsufficientDataError, match="singular"):
        mardia(pd.DataFrame({"a": [1.0, 2, 3, 4, 5], "b": [2.0, 4, 6, 8, 10]}))
    with pytest.raises(ModelError, match="points"):
        recommend_estimator(pd.DataFrame({"a": [1.0, 2, 3]}), points=1)
    with pytest.raises(ModelError, match="missing"):
        recommend_estimator(pd.DataFrame({"a": [1.0, 2, 3]}), missing="mean")
    with pytest.raises(ModelError, match="DataFrame"):
        mardia([[1, 2], [3, 4]])
    with pytest.raises(ModelError, match="type"):
        item_distributions(pd.DataFrame({"a": [1.0, 2, 3]}), type=4)

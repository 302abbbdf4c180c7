"""PLSResult: tables under lavaan's names, effects against SmartPLS, summary and HTML, bad input."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from crm_research import pls
from crm_research.errors import ModelError

from _helpers import ECSI_MODEL, SMARTPLS_NAMES

DATA = Path(__file__).parent / "data" / "ecsi" / "mobi.csv"
SMARTPLS = Path(__file__).parent / "reference" / "pls" / "smartpls" / "ecsi"
ECSI = ECSI_MODEL   # tests/data/ecsi/ecsi.lav
NAMES = SMARTPLS_NAMES


def smartpls_matrix(path: Path) -> pd.DataFrame:
    """SmartPLS 2 text output (tab separated, decimal comma); rows = predictors, columns = dependents."""
    lines = [ln.rstrip("\n").rstrip("\t").split("\t") for ln in path.read_text(encoding="latin-1").splitlines()
             if ln.strip()]
    cols = [NAMES[c.strip()] for c in lines[0][1:]]
    rows = {NAMES[ln[0].strip()]: [float(v.strip().replace(",", ".")) for v in ln[1:]] for ln in lines[1:]}
    return pd.DataFrame.from_dict(rows, orient="index", columns=cols)


@pytest.fixture(scope="module")
def mobi():
    return pd.read_csv(DATA)


@pytest.fixture(scope="module")
def res(mobi):
    return pls.fit(ECSI, mobi)


@pytest.mark.parametrize("scheme,folder", [("path", "pathWeighting"), ("centroid", "centroid"),
                                           ("factorial", "factorial")])
def test_total_effects_match_smartpls(mobi, scheme, folder):
    r = pls.fit(ECSI, mobi, scheme=scheme)
    ref = smartpls_matrix(SMARTPLS / folder / "totalEffects.txt")
    tot = r.effects[r.effects.op == "total"]
    n = 0
    for row in tot.itertuples():
        assert row.est == pytest.approx(ref.loc[row.rhs, row.lhs], abs=1e-6)
        n += 1
    assert n == int((ref.values != 0).sum()) == 21


def test_tables_have_lavaan_names(res):
    assert list(res.paths.columns[:4]) == ["lhs", "op", "rhs", "est"]
    assert set(res.loadings.op) == {"=~"} and len(res.loadings) == 24
    assert list(res.r2.columns) == ["construct", "r2", "r2_adj"]
    assert list(res.reliability.columns) == ["construct", "mode", "items", "alpha", "rho_a", "rho_c", "ave"]
    assert list(res.effects.columns) == ["lhs", "op", "rhs", "via", "est"]
    assert set(res.effects.op) == {"total", "indirect", "specific"}
    assert list(res.f2.columns) == ["lhs", "op", "rhs", "f2"]
    assert list(res.vif_outer.columns) == ["lhs", "op", "rhs", "vif"]
    assert list(res.vif_inner.columns) == ["lhs", "op", "rhs", "vif"]
    assert list(res.htmt.columns) == ["lhs", "rhs", "est"] and len(res.htmt) == 21
    assert res.fornell_larcker.shape == (7, 7)
    assert res.cross_loadings.shape == (24, 7)
    fm = res.fit_measures
    assert list(fm.columns) == ["measure", "model", "value"] and len(fm) == 6
    assert res.bootstrap is None


def test_r2_adjusted_by_hand(res):
    r2 = res.r2.set_index("construct")
    # CUSA has 4 predictors, N = 250
    assert r2.loc["CUSA", "r2_adj"] == pytest.approx(1 - (1 - r2.loc["CUSA", "r2"]) * 249 / 245)


def test_get(res):
    p = res.paths
    want = float(p[(p.lhs == "CUSL") & (p.rhs == "CUSA")].est.iloc[0])
    assert res.get("CUSL", "~", "CUSA") == want
    assert res.get("CUSA", "=~", "CUSA1") == pytest.approx(float(res.cross_loadings.loc["CUSA1", "CUSA"]))
    # total effect = direct + indirect
    assert res.get("CUSL", "total", "CUSA") == pytest.approx(want + res.get("CUSL", "indirect", "CUSA"))
    with pytest.raises(ModelError, match="no parameter CUSA ~ CUSL"):
        res.get("CUSA", "~", "CUSL")
    with pytest.raises(ModelError, match="get\\(op='=>'\\)"):
        res.get("CUSA", "=>", "IMAG")
    with pytest.raises(ModelError, match="column='z'"):
        res.get("CUSL", "~", "CUSA", column="z")


def test_summary_is_paper_ready(res):
    s = res.summary()
    assert s.startswith("PLS path model: PLS, path weighting scheme, N = 250")
    for part in ("Measurement model", "Reliability and convergent validity", "heterotrait-monotrait",
                 "Structural model", "Explained variance and predictive relevance", "| Q² (D = 7) |", "Total indirect effects", "Overall model fit",
                 "| IMAG -> CUEX |", "| SRMR | estimated |"):
        assert part in s, part
    # numbers as APA: no leading zero for R2/alpha (bounded), minus sign for negatives
    r2 = res.r2.set_index("construct").loc["CUSA", "r2"]
    assert f"| CUSA | .{int(round(r2 * 1000)):03d} |" in s
    assert " nan " not in s.lower() and "| nan" not in s.lower()


def test_html_repr(res):
    h = res._repr_html_()
    assert h.count("<table>") == 7 and "<h4>Structural model</h4>" in h
    assert "PLSResult" in repr(res)


def test_composite_summary_notes_reflective_criteria(mobi):
    r = pls.fit("IMAG <~ IMAG1 + IMAG2 + IMAG3; CUSL =~ CUSL1 + CUSL2 + CUSL3; CUSL ~ IMAG", mobi)
    assert "shown for composites only for reference" in r.summary()
    assert r.htmt.empty                        # one reflective construct: no pair
    assert set(r.vif_outer[r.vif_outer.lhs == "IMAG"].op) == {"<~"}
    assert r.get("IMAG", "<~", "IMAG1") == pytest.approx(float(r.weights.est.iloc[0]))


def test_interaction_model_has_no_fit_measures(mobi):
    r = pls.fit("IMAG =~ IMAG1 + IMAG2; CUEX =~ CUEX1 + CUEX2; CUSL =~ CUSL1 + CUSL3; CUSL ~ IMAG + CUEX + IMAG:CUEX",
                mobi)
    assert r.fit_measures.empty
    assert "Overall model fit" not in r.summary()


def test_exact_fit_needs_data(res):
    from dataclasses import replace

    bare = replace(res, data=None)
    with pytest.raises(ModelError, match="keeps no data"):
        bare.exact_fit(n=50)


@pytest.fixture(scope="module")
def booted(mobi):
    return pls.fit(ECSI, mobi, bootstrap=300, seed=5)


def test_bootstrap_columns_for_effects_htmt_and_fit(booted):
    eff = booted.effects
    assert list(eff.columns) == ["lhs", "op", "rhs", "via", "est", "se", "t", "pvalue", "ci.lower", "ci.upper"]
    # a pair joined by the direct path only: its total effect's draws are the path's draws
    p = booted.paths.set_index(["lhs", "rhs"]).loc[("CUEX", "IMAG")]
    tot = eff[(eff.op == "total") & (eff.lhs == "CUEX") & (eff.rhs == "IMAG")].iloc[0]
    for k in ("est", "se", "ci.lower", "ci.upper", "pvalue"):
        assert tot[k] == pytest.approx(p[k], abs=1e-12), k
    h = booted.htmt
    assert list(h.columns) == ["lhs", "rhs", "est", "se", "ci.lower", "ci.upper", "q.upper"]
    assert (h["ci.lower"] < h["ci.upper"]).all() and (h["q.upper"] > h["ci.lower"]).all()
    fm = booted.fit_measures
    assert list(fm.columns) == ["measure", "model", "value", "HI95", "HI99"]
    assert (fm["HI95"] <= fm["HI99"]).all()
    assert booted.bootstrap["R"] == 300 and booted.bootstrap["seed"] == 5
    s = booted.summary()
    assert "Bootstrap: 300 of 300 resamples used (seed 5), 95% percentile confidence intervals" in s
    assert "| HI95 | HI99 |" in s and "| t | p | CI |" in s
    assert "| CUSCO | CUSCO | 1.000 | 1.000 | — | — | 1.00 |" in s      # single item: nothing to test


def test_htmt_bootstrap_is_the_htmt_of_each_resample(booted):
    from crm_research.pls.quality import htmt

    H = htmt(booted.model, booted.boot.S)
    names = [c for c in booted.model.constructs]
    i, j = names.index("CUSA"), names.index("IMAG")
    row = booted.htmt[(booted.htmt.lhs == "CUSA") & (booted.htmt.rhs == "IMAG")].iloc[0]
    assert row["se"] == pytest.approx(np.std(H[:, i, j], ddof=1))
    assert row["q.upper"] == pytest.approx(np.quantile(H[:, i, j], 0.95))


def test_bca_intervals_for_derived_tables(mobi):
    r = pls.fit("IMAG =~ IMAG1 + IMAG2 + IMAG3; CUEX =~ CUEX1 + CUEX2 + CUEX3; CUSL =~ CUSL1 + CUSL3; "
                "CUEX ~ IMAG; CUSL ~ CUEX + IMAG", mobi, bootstrap=200, seed=3, boot_ci="bca")
    perc = pls.fit("IMAG =~ IMAG1 + IMAG2 + IMAG3; CUEX =~ CUEX1 + CUEX2 + CUEX3; CUSL =~ CUSL1 + CUSL3; "
                   "CUEX ~ IMAG; CUSL ~ CUEX + IMAG", mobi, bootstrap=200, seed=3)
    a, b = r.effects, perc.effects
    np.testing.assert_allclose(a["se"], b["se"])                # same draws
    assert not np.allclose(a["ci.lower"], b["ci.lower"])        # other intervals
    assert not np.allclose(r.htmt["ci.lower"], perc.htmt["ci.lower"])
    assert "bias-corrected and accelerated (BCa)" in r.summary()


def test_blindfolding_from_the_result(res, mobi):
    from crm_research.pls.predict import blindfolding

    q = res.blindfolding()
    pd.testing.assert_frame_equal(q, blindfolding(ECSI, mobi))
    q2 = float(q.set_index("construct").loc["CUSA", "q2"])
    line = next(ln for ln in res.summary().splitlines() if ln.startswith("| CUSA | .") and ln.count("|") == 5)
    assert line.endswith(f"| .{int(round(q2 * 1000)):03d} |")


def test_higher_order_by_repeated_indicators(mobi):
    m = ("IMAG =~ IMAG1 + IMAG2 + IMAG3; CUEX =~ CUEX1 + CUEX2 + CUEX3; QUAL =~ IMAG + CUEX; "
         "CUSL =~ CUSL1 + CUSL2 + CUSL3; CUSL ~ QUAL")
    r = pls.fit(m, mobi)
    pairs = {frozenset(p) for p in zip(r.htmt.lhs, r.htmt.rhs)}
    assert frozenset(("QUAL", "IMAG")) not in pairs and frozenset(("QUAL", "CUSL")) in pairs and len(pairs) == 4
    fm = r.fit_measures.set_index(["model", "measure"])["value"]
    assert len(fm) == 6 and np.isfinite(fm).all() and fm[("estimated", "srmr")] < 0.2
    # the items load on their first-order constructs only: the implied matrix is a correlation matrix
    from crm_research.pls.fit_measures import implied_correlation

    e = r.estimates
    Sig = implied_correlation(r.model, r.S, e.loadings, e.construct_corr, e.paths, saturated=True)
    np.testing.assert_allclose(np.diag(Sig), 1.0)
    assert np.linalg.eigvalsh(Sig).min() > 0
    assert "share their indicators" in r.summary()

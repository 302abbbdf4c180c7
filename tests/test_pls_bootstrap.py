"""PLS bootstrap (crm_research.pls.bootstrap): reproducibility, draws, sign changes, intervals.

Independent checks: every resample's estimates equal a plain re-fit of the resampled rows
(pls.fit on data.iloc[rows]) and, with the same row draws, seminr's Python port's
bootstrap_model(indices=...) draws; BCa agrees with the lavaan-parity bc_ci of crm_research.sem
(boot::norm.inter quantiles) to within the spacing of neighbouring draws.
"""
from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from crm_research import pls
from crm_research.errors import ModelError
from crm_research.pls.bootstrap import apply_sign_change, interval, resample_indices

ROOT = Path(__file__).resolve().parents[1]
MOBI = ROOT / "tests" / "data" / "ecsi" / "mobi.csv"
SMALL = """
IMAG =~ IMAG1 + IMAG2 + IMAG3 + IMAG4 + IMAG5
CUEX =~ CUEX1 + CUEX2 + CUEX3
CUSA =~ CUSA1 + CUSA2 + CUSA3
CUSL =~ CUSL1 + CUSL2 + CUSL3
CUEX ~ IMAG
CUSA ~ IMAG + CUEX
CUSL ~ CUSA + IMAG
"""


@pytest.fixture(scope="module")
def mobi():
    return pd.read_csv(MOBI)


@pytest.fixture(scope="module")
def boot(mobi):
    return pls.fit(SMALL, mobi, bootstrap=300, seed=11)


def test_tables_have_bootstrap_columns(boot):
    p = boot.paths
    assert p.columns.tolist() == ["lhs", "op", "rhs", "est", "se", "t", "pvalue", "ci.lower", "ci.upper"]
    assert (p["se"] > 0).all() and (p["ci.lower"] < p["est"]).all() and (p["est"] < p["ci.upper"]).all()
    assert np.allclose(p["t"], p["est"] / p["se"])
    assert boot.boot.n_ok == 300 and boot.boot.estimates.paths.shape[0] == 300
    assert boot.boot.S.shape == (300, 14, 14)
    for what in ("weights", "loadings"):
        assert {"se", "ci.lower"} <= set(getattr(boot, what).columns)


def test_draws_equal_plain_refits(mobi, boot):
    rows = boot.settings["rows"]
    for b in (0, 17, 299):
        idx = boot.boot.indices[b]
        ref = pls.fit(SMALL, mobi.loc[rows].iloc[idx].reset_index(drop=True))
        np.testing.assert_allclose(boot.boot.estimates.paths[b], ref.estimates.paths, atol=1e-10)
        np.testing.assert_allclose(boot.boot.estimates.weights[b], ref.estimates.weights, atol=1e-10)
        np.testing.assert_allclose(boot.boot.S[b], ref.S, atol=1e-12)


def test_same_seed_same_draws_whatever_n_jobs(mobi):
    a = pls.fit(SMALL, mobi, bootstrap=520, seed=5, n_jobs=1)
    b = pls.fit(SMALL, mobi, bootstrap=520, seed=5, n_jobs=2)
    assert b.boot.n_jobs == 2
    np.testing.assert_array_equal(a.boot.estimates.paths, b.boot.estimates.paths)
    pd.testing.assert_frame_equal(a.paths, b.paths)
    c = pls.fit(SMALL, mobi, bootstrap=520, seed=6)
    assert not np.array_equal(a.boot.estimates.paths, c.boot.estimates.paths)
    np.testing.assert_array_equal(resample_indices(250, 520, 5), a.boot.indices)
    d = pls.fit(SMALL, mobi, bootstrap=30)                 # no seed: one is drawn and recorded
    again = pls.fit(SMALL, mobi, bootstrap=30, seed=d.boot.seed)
    np.testing.assert_array_equal(d.boot.estimates.paths, again.boot.estimates.paths)


def test_interaction_and_two_stage_resamples_refit(mobi):
    syn = "IMAG =~ IMAG1 + IMAG2 + IMAG3\nCUEX =~ CUEX1 + CUEX2 + CUEX3\nCUSA =~ CUSA1 + CUSA2\nCUSA ~ IMAG + CUEX + IMAG:CUEX"
    for method in ("two_stage", "product_indicator"):
        res = pls.fit(syn, mobi, bootstrap=30, seed=2, interaction=method)
        idx = res.boot.indices[4]
        ref = pls.fit(syn, mobi.iloc[idx].reset_index(drop=True), interaction=method)
        np.testing.assert_allclose(res.boot.estimates.paths[4], ref.estimates.paths, atol=1e-10)


def test_seminr_same_resamples(mobi):
    seminr = pytest.importorskip("seminr")
    blocks = {"IMAG": range(1, 6), "CUEX": range(1, 4), "CUSA": range(1, 4), "CUSL": range(1, 4)}
    mm = seminr.constructs(*[seminr.composite(c, seminr.multi_items(c, r)) for c, r in blocks.items()])
    sm = seminr.relationships(seminr.paths(from_="IMAG", to=["CUEX", "CUSA", "CUSL"]),
                              seminr.paths(from_="CUEX", to="CUSA"), seminr.paths(from_="CUSA", to="CUSL"))
    res = pls.fit(SMALL, mobi, bootstrap=40, seed=3)
    bm = seminr.bootstrap_model(seminr.estimate_pls(mobi, mm, sm), nboot=40, indices=res.boot.indices)
    cons = res.model.constructs
    for b, nm in enumerate(bm.boot_paths):
        P = pd.DataFrame(nm.values, index=nm.rows, columns=nm.cols)
        for r in res.paths.itertuples():
            assert res.boot.estimates.paths[b, cons.index(r.lhs), cons.index(r.rhs)] == \
                pytest.approx(P.loc[r.rhs, r.lhs], abs=1e-9)


def test_sign_change_options(mobi):
    base = pls.fit(SMALL, mobi, bootstrap=200, seed=8)
    e = base.boot.estimates
    # flip construct CUEX in resample 3 by hand: construct-level change must undo it
    assert apply_sign_change(e, base.estimates, "none") is e
    flipped = copy.deepcopy(e)
    j = base.model.constructs.index("CUEX")
    for a in ("weights", "loadings", "cross_loadings"):
        getattr(flipped, a)[3, :, j] *= -1
    for a in ("paths", "construct_corr", "score_corr"):
        getattr(flipped, a)[3, j, :] *= -1
        getattr(flipped, a)[3, :, j] *= -1
    fixed = apply_sign_change(flipped, base.estimates, "construct")
    np.testing.assert_allclose(fixed.paths, e.paths)
    np.testing.assert_allclose(fixed.weights, e.weights)
    assert fixed.meta["flipped"].sum() == 1
    ind = apply_sign_change(flipped, base.estimates, "individual")
    assert np.all(np.sign(ind.paths) * np.sign(base.estimates.paths)[None] >= 0)
    assert np.all(np.sign(ind.loadings) * np.sign(base.estimates.loadings)[None] >= 0)
    res = pls.fit(SMALL, mobi, bootstrap=200, seed=8, sign_change="individual")
    assert res.boot.sign_change == "individual"
    with pytest.raises(ModelError, match="sign_change='flip'"):
        pls.fit(SMALL, mobi, bootstrap=20, sign_change="flip")


def test_bca_matches_sem_bc_ci(mobi):
    from crm_research.sem.bootstrap import bc_ci

    res = pls.fit(SMALL, mobi, bootstrap=2000, seed=4, boot_ci="bca")
    p = res.paths
    B = res.boot
    est = B.values(B.original, p, "paths")
    draws = B.values(B.estimates, p, "paths")
    jack = B.values(B.jackknife(), p, "paths")
    assert jack.shape == (250, len(p))
    d = jack.mean(axis=0) - jack
    a = (d ** 3).sum(axis=0) / (6 * ((d ** 2).sum(axis=0)) ** 1.5)
    for k in range(len(p)):
        ref = bc_ci(draws[:, k], est[k], 0.95, a=a[k])
        srt = np.sort(draws[:, k])
        gap = np.max(np.diff(srt)[[20, 30, -30, -20]]) * 3 + 1e-12
        assert p["ci.lower"][k] == pytest.approx(ref[0], abs=max(gap, 2e-3))
        assert p["ci.upper"][k] == pytest.approx(ref[1], abs=max(gap, 2e-3))
    perc = pls.fit(SMALL, mobi, bootstrap=2000, seed=4).paths
    assert not np.allclose(perc["ci.lower"], p["ci.lower"])      # BCa is not the percentile interval


def test_interval_percentile_and_errors():
    d = np.arange(1, 101, dtype=float)[:, None]
    lo, hi = interval(np.array([50.5]), d, 0.90, "perc")
    assert (lo[0], hi[0]) == (pytest.approx(np.quantile(d, 0.05)), pytest.approx(np.quantile(d, 0.95)))
    # symmetric draws, estimate at the median, no skew in the jackknife: BCa = percentile
    jack = np.linspace(-1, 1, 11)[:, None]
    blo, bhi = interval(np.array([50.5]), d, 0.90, "bca", jack=jack)
    assert blo[0] == pytest.approx(lo[0]) and bhi[0] == pytest.approx(hi[0])
    with pytest.raises(ModelError, match="jackknife"):
        interval(np.array([1.0]), d, 0.9, "bca")


def test_bad_bootstrap_options(mobi):
    with pytest.raises(ModelError, match="boot_ci='basic'"):
        pls.fit(SMALL, mobi, bootstrap=10, boot_ci="basic")
    with pytest.raises(ModelError, match="ci_level=95"):
        pls.fit(SMALL, mobi, bootstrap=10, ci_level=95)
    with pytest.raises(ModelError, match="n_jobs=0"):
        pls.fit(SMALL, mobi, bootstrap=10, n_jobs=0)
    with pytest.raises(ModelError, match="seed='x'"):
        pls.fit(SMALL, mobi, bootstrap=10, seed="x")
    with pytest.raises(ModelError, match="consistent='yes'"):
        pls.fit(SMALL, mobi, consistent="yes")
    with pytest.raises(ModelError, match="bootstrap=1"):
        pls.fit(SMALL, mobi, bootstrap=1)


def test_degenerate_resamples_are_dropped():
    rng = np.random.default_rng(0)
    n = 12
    x = rng.normal(size=(n, 1))
    df = pd.DataFrame({"a1": x[:, 0] + rng.normal(size=n), "a2": x[:, 0] + rng.normal(size=n),
                       "b1": np.r_[1.0, np.zeros(n - 1)] + x[:, 0], "b2": x[:, 0] + rng.normal(size=n)})
    df["rare"] = np.r_[1.0, np.zeros(n - 1)]            # constant in every resample without row 0
    res = pls.fit("A =~ a1 + a2\nB =~ b1 + rare\nB ~ A", df, bootstrap=200, seed=1)
    assert 0 < res.boot.n_ok < 200
    assert res.boot.estimates.paths.shape[0] == res.boot.n_ok
    assert np.isfinite(res.paths["se"]).all()


def test_single_item_loading_has_no_t_or_p():
    """A single item's loading is 1 in every resample: SE 0, no t, no p (not t ~ 1e15)."""
    import pandas as pd
    from crm_research import pls
    mobi = pd.read_csv(Path(__file__).parent / "data" / "ecsi" / "mobi.csv")
    res = pls.fit("CUSA =~ CUSA1 + CUSA2 + CUSA3\nCUSCO =~ CUSCO\nCUSCO ~ CUSA", mobi, bootstrap=200, seed=3)
    row = res.loadings[(res.loadings["lhs"] == "CUSCO") & (res.loadings["rhs"] == "CUSCO")].iloc[0]
    assert row["est"] == pytest.approx(1.0) and row["se"] == 0.0
    assert np.isnan(row["t"]) and np.isnan(row["pvalue"])
    path = res.paths.iloc[0]
    assert path["se"] > 0 and np.isfinite(path["t"])

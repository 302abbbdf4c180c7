"""A summary of distinct purchase histories with their counts (weights_col) gives the same BG/NBD
and MBG/NBD fits as one row per customer: what a database's GROUP BY hands the fit at scale."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from crm_research import clv
from crm_research.errors import DataFileError


@pytest.fixture(scope="module")
def cal():
    cdnow = clv.read_cdnow("tests/data/cdnow/CDNOW_sample.txt")
    return clv.rfm_summary(cdnow, calibration_end="1997-09-30", observation_end="1998-06-30")


@pytest.mark.parametrize("fit", [clv.fit_mbgnbd, clv.fit_bgnbd])
def test_distinct_histories_with_counts_give_the_customers_fit(cal, fit):
    whole = fit(cal)
    h = cal.groupby(["frequency", "recency", "T"]).size().rename("customers").reset_index()
    h = h.sample(frac=1.0, random_state=3)                     # any row order
    got = fit(h, weights_col="customers")
    assert len(h) < len(cal)
    assert got.n == whole.n == len(cal)
    np.testing.assert_array_equal(got.params.to_numpy(), whole.params.to_numpy())
    np.testing.assert_allclose(got.se.to_numpy(), whole.se.to_numpy(), rtol=1e-9)
    assert got.loglik == pytest.approx(whole.loglik, rel=1e-12)
    assert got.aic == pytest.approx(whole.aic, rel=1e-12) and got.bic == pytest.approx(whole.bic, rel=1e-12)
    # the summary's means are per customer, not per distinct history
    line = [x for x in got._extra_lines() if x.startswith("Mean repeat")]
    assert line == [x for x in whole._extra_lines() if x.startswith("Mean repeat")]
    # P(alive) of a history is the customers'
    p_h = got.p_alive(h)
    m = cal.merge(h.assign(p=np.asarray(p_h)), on=["frequency", "recency", "T"])
    np.testing.assert_allclose(m["p"], np.asarray(whole.p_alive(m[["frequency", "recency", "T"]])), rtol=1e-12)


def test_split_counts_give_the_same_fit(cal):
    """Two rows of one history with counts 1 and 2 count as three customers."""
    h = cal.groupby(["frequency", "recency", "T"]).size().rename("n").reset_index()
    twice = pd.concat([h.assign(n=1), h.assign(n=h["n"] - 1).query("n > 0")], ignore_index=True)
    a, b = clv.fit_mbgnbd(h, weights_col="n"), clv.fit_mbgnbd(twice, weights_col="n")
    np.testing.assert_array_equal(a.params.to_numpy(), b.params.to_numpy())


@pytest.mark.parametrize("bad", [0, -1, 1.5, np.nan])
def test_weights_must_be_whole_numbers_of_customers(cal, bad):
    h = cal.groupby(["frequency", "recency", "T"]).size().rename("n").reset_index()
    h["n"] = h["n"].astype(float)
    h.loc[4, "n"] = bad
    with pytest.raises(DataFileError, match=r"row 6, column 'n'"):
        clv.fit_mbgnbd(h, weights_col="n")


def test_a_missing_weights_column_is_named(cal):
    with pytest.raises(DataFileError, match="customers"):
        clv.fit_mbgnbd(cal, weights_col="customers")


def test_the_likelihood_summed_in_slices_equals_the_likelihood_in_one(monkeypatch):
    """Many histories are summed slice by slice (bounded temporaries); the totals, gradient and
    Hessian are those of one sum, for both models."""
    from crm_research.clv import _purchase

    rng = np.random.default_rng(3)
    n = 20_000
    x = rng.integers(0, 12, n)
    T = rng.integers(1, 400, n) / 7.0
    t_x = np.where(x > 0, np.floor(rng.random(n) * T * 7) / 7.0, 0.0)
    h = _purchase.Histories.of(x, t_x, T)
    assert len(h) > 10_000
    for after in (True, False):
        whole = _purchase.beta_geometric_totals((0.5, 6.0, 0.9, 1.6), h, after_first=after, hessian=True)
        monkeypatch.setattr(_purchase, "_SLICE", 1000)
        sliced = _purchase.beta_geometric_totals((0.5, 6.0, 0.9, 1.6), h, after_first=after, hessian=True)
        monkeypatch.setattr(_purchase, "_SLICE", 1 << 19)
        for a, b in zip(whole, sliced):
            np.testing.assert_allclose(b, a, rtol=1e-11, atol=1e-9)
        assert whole[0] != 0 and np.abs(whole[2]).min() > 0


@pytest.mark.parametrize("weighted", [False, True])
def test_histories_hold_few_arrays_at_their_peak(weighted):
    """Coding the histories keeps at most nine doubles per history alive at once (the five kept
    arrays and the keys being unpacked): 2.9M weighted histories at 100M orders ran the churn list
    at the memory limit when the factorization and its hash table held twice as much."""
    import tracemalloc

    from crm_research.clv._purchase import Histories

    rng = np.random.default_rng(1)
    x = rng.integers(0, 40, 400_000).astype(float)
    T = rng.integers(0, 1100, 400_000).astype(float)
    tx = np.floor(rng.random(400_000) * T)
    tx[x == 0] = 0
    k = pd.DataFrame({"x": x, "tx": tx, "T": T}).drop_duplicates().head(200_000)
    cols = [k[c].to_numpy() for c in ("x", "tx", "T")]
    weights = rng.integers(1, 9, len(k)).astype(float) if weighted else None
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        h = Histories.of(*cols, weights=weights)
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    assert len(h) == len(k)
    assert peak <= 9 * 8 * len(k), f"{peak / len(k):.0f} bytes per history at the peak"

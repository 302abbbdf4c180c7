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

"""pls.multigroup: permutation test and Henseler's PLS-MGA against cSEM's testMGD(), bad input."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from crm_research.errors import ModelError
from crm_research.pls import fit as pls_fit
from crm_research.pls.mga import multigroup

CSEM = Path(__file__).parent / "reference" / "pls" / "csem"
MODEL = """
EXPE ~ IMAG
QUAL ~ EXPE
VAL  ~ EXPE + QUAL
SAT  ~ IMAG + EXPE + QUAL + VAL
LOY  ~ IMAG + SAT
IMAG =~ imag1 + imag2 + imag3 + imag4 + imag5
EXPE =~ expe1 + expe2 + expe3 + expe4 + expe5
QUAL =~ qual1 + qual2 + qual3 + qual4 + qual5
VAL  =~ val1  + val2  + val3  + val4
SAT  =~ sat1  + sat2  + sat3  + sat4
LOY  =~ loy1  + loy2  + loy3  + loy4
"""
SMALL = "IMAG =~ imag1 + imag2 + imag3; LOY =~ loy1 + loy2 + loy3; LOY ~ IMAG"


@pytest.fixture(scope="module")
def gender_data():
    return pd.read_csv(CSEM / "satisfaction_gender.csv")


@pytest.fixture(scope="module")
def both(gender_data):
    return multigroup(MODEL, gender_data, "gender", test="both", n=2000, seed=7, tol=1e-10, max_iter=1000,
                      stop="max")


def test_estimates_and_differences_match_csem(both):
    ref = pd.read_csv(CSEM / "mgd_gender_paths.csv")
    info = json.loads((CSEM / "mgd_gender_info.json").read_text())
    assert info["groups"] == ["female", "male"]
    assert both["group.1"].unique().tolist() == ["female"] and both["group.2"].unique().tolist() == ["male"]
    got = both.assign(parameter=both.lhs + " ~ " + both.rhs).set_index("parameter")
    assert len(ref) == len(got) == 10
    for r in ref.itertuples():
        assert got.loc[r.parameter, "est.1"] == pytest.approx(r.est_1, abs=1e-8)
        assert got.loc[r.parameter, "est.2"] == pytest.approx(r.est_2, abs=1e-8)
        assert got.loc[r.parameter, "diff"] == pytest.approx(r.diff, abs=1e-8)


def test_p_values_agree_with_csem_within_monte_carlo_error(both):
    """2,000 permutations/resamples each side: a p-value's Monte Carlo SE is at most ~.016."""
    ref = pd.read_csv(CSEM / "mgd_gender_paths.csv")
    got = both.assign(parameter=both.lhs + " ~ " + both.rhs).set_index("parameter")
    for r in ref.itertuples():
        assert got.loc[r.parameter, "pvalue.permutation"] == pytest.approx(r.p_chin, abs=0.06), r.parameter
        assert got.loc[r.parameter, "pvalue.henseler.onesided"] == pytest.approx(r.p_henseler, abs=0.06), r.parameter
    # the clear differences are found by both
    loy = got.loc["LOY ~ SAT"]
    assert loy["pvalue.permutation"] < 0.01 and loy["pvalue.henseler"] < 0.01
    assert (got["pvalue"] == got["pvalue.permutation"]).all()


def test_seeded(gender_data):
    a = multigroup(SMALL, gender_data, "gender", n=200, seed=1)
    b = multigroup(SMALL, gender_data, "gender", n=200, seed=1)
    pd.testing.assert_frame_equal(a, b)
    assert list(a.columns) == ["lhs", "op", "rhs", "group.1", "group.2", "est.1", "est.2", "diff",
                               "pvalue.permutation", "pvalue"]


def test_planted_difference_and_group_estimates(gender_data):
    """Flip the outcome's items in one group: the path changes sign there, both tests see it."""
    d = gender_data.copy()
    male = d.gender == "male"
    for c in ("loy1", "loy2", "loy3"):
        d.loc[male, c] = 11 - d.loc[male, c]
    t = multigroup(SMALL, d, "gender", test="henseler", n=300, seed=3)
    assert t["pvalue.henseler.onesided"].iloc[0] < 0.01 and t["pvalue"].iloc[0] < 0.02
    # each group's estimate is the single-group fit's
    fem = pls_fit(SMALL, d[~male])
    assert t["est.1"].iloc[0] == pytest.approx(fem.get("LOY", "~", "IMAG"), abs=1e-6)
    p = multigroup(SMALL, d, "gender", n=300, seed=3)
    assert p["pvalue"].iloc[0] < 0.01


def test_three_groups_all_pairs_and_all_parameters(gender_data):
    d = gender_data.assign(g=np.arange(len(gender_data)) % 3 + 1)
    t = multigroup(SMALL, d, "g", n=100, seed=2, parameters="all")
    assert sorted(set(zip(t["group.1"], t["group.2"]))) == [("1", "2"), ("1", "3"), ("2", "3")]
    assert set(t["parameter"]) == {"path", "loading", "weight"}
    assert len(t) == 3 * (1 + 2 * 6)
    assert ((t["pvalue"] >= 0) & (t["pvalue"] <= 1)).all()


def test_bad_input(gender_data):
    with pytest.raises(ModelError, match="test='chow'"):
        multigroup(SMALL, gender_data, "gender", test="chow")
    with pytest.raises(ModelError, match="'sex' is not in the data"):
        multigroup(SMALL, gender_data, "sex")
    with pytest.raises(ModelError, match="at least two"):
        multigroup(SMALL, gender_data.assign(one="a"), "one", n=100)
    tiny = gender_data.assign(g=["a"] * 245 + ["b"] * 5)
    with pytest.raises(ModelError, match="group 'b' of 'g' has 5 usable rows"):
        multigroup(SMALL, tiny, "g", n=100)
    with pytest.raises(ModelError, match="n=10"):
        multigroup(SMALL, gender_data, "gender", n=10)
    with pytest.raises(ModelError, match="parameters='loadings'"):
        multigroup(SMALL, gender_data, "gender", parameters="loadings")

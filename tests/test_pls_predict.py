"""PLSpredict and blindfolding Q² against cSEM's predict() and semPLS's qSquared().

References: tests/reference/pls/csem/ (make_references_csem.R; README there).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from crm_research import pls
from crm_research.errors import ModelError
from crm_research.pls.predict import blindfolding, predict

from _helpers import ECSI_MODEL

HERE = Path(__file__).parent
CSEM = HERE / "reference" / "pls" / "csem"
SATISFACTION = HERE / "reference" / "pls" / "adanco" / "satisfaction.csv"
MOBI = HERE / "data" / "ecsi" / "mobi.csv"
SAT_MODEL = """
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
# semPLS's ECSImobi (the CUSCO single item, CUSL3 included)
ECSI = ECSI_MODEL   # tests/data/ecsi/ecsi.lav
SMALL = "IMAG =~ IMAG1 + IMAG2 + IMAG3; CUSL =~ CUSL1 + CUSL2 + CUSL3; CUSL ~ IMAG"


@pytest.fixture(scope="module")
def satisfaction():
    return pd.read_csv(SATISFACTION)


@pytest.fixture(scope="module")
def mobi():
    return pd.read_csv(MOBI)


@pytest.mark.parametrize("kind,consistent", [("pls", False), ("plsc", True)])
def test_holdout_predictions_match_csem(satisfaction, kind, consistent):
    ref = pd.read_csv(CSEM / f"predict_test_{kind}.csv")
    p = predict(SAT_MODEL, satisfaction.iloc[:200], test=satisfaction.iloc[200:], consistent=consistent,
                tol=1e-10, max_iter=1000, stop="max")
    assert list(p.predictions.columns) == list(ref.columns)
    np.testing.assert_allclose(p.predictions[ref.columns].to_numpy(), ref.to_numpy(), atol=1e-8)
    assert "hold-out sample of 50 cases" in p.summary()


def test_metrics_follow_their_definitions(satisfaction):
    train, test = satisfaction.iloc[:200], satisfaction.iloc[200:]
    p = predict(SAT_MODEL, train, test=test)
    m = p.metrics.set_index("indicator")
    y = test["loy1"].to_numpy()
    e = y - p.predictions["loy1"].to_numpy()
    assert m.loc["loy1", "rmse"] == pytest.approx(np.sqrt(np.mean(e ** 2)))
    assert m.loc["loy1", "mae"] == pytest.approx(np.mean(np.abs(e)))
    assert m.loc["loy1", "q2_predict"] == pytest.approx(1 - (e ** 2).sum() / ((y - train["loy1"].mean()) ** 2).sum())
    # LM benchmark: loy1 on every exogenous (IMAG) indicator with an intercept, normal equations
    Xa = np.column_stack([np.ones(200), train[[f"imag{i}" for i in range(1, 6)]].to_numpy()])
    beta = np.linalg.solve(Xa.T @ Xa, Xa.T @ train["loy1"].to_numpy())
    Xt = np.column_stack([np.ones(50), test[[f"imag{i}" for i in range(1, 6)]].to_numpy()])
    np.testing.assert_allclose(p.lm_predictions["loy1"].to_numpy(), Xt @ beta, atol=1e-9)
    assert list(m.index[:5]) == ["expe1", "expe2", "expe3", "expe4", "expe5"]
    assert "imag1" not in m.index


def test_leave_one_out_equals_holdout_loop(mobi):
    """k = N: every case is predicted by the model estimated on the others (no randomness)."""
    d = mobi.iloc[:40]
    cv = predict(SMALL, d, k=40, repeats=1, seed=5)
    for i in (0, 17, 39):
        one = predict(SMALL, d.drop(index=d.index[i]), test=d.iloc[[i]])
        np.testing.assert_allclose(cv.predictions.iloc[i].to_numpy(), one.predictions.iloc[0].to_numpy(), atol=1e-10)
        np.testing.assert_allclose(cv.lm_predictions.iloc[i].to_numpy(), one.lm_predictions.iloc[0].to_numpy(),
                                   atol=1e-10)


def test_seeded_and_repeated(mobi):
    a = predict(ECSI, mobi, k=10, repeats=3, seed=11)
    b = predict(ECSI, mobi, k=10, repeats=3, seed=11)
    c = predict(ECSI, mobi, k=10, repeats=3, seed=12)
    pd.testing.assert_frame_equal(a.metrics, b.metrics)
    assert not np.allclose(a.metrics.rmse, c.metrics.rmse)
    assert len(a.metrics) == 19 and (a.metrics.q2_predict < 1).all()
    assert "10-fold cross-validation, 3 repetition(s) (seed 11)" in a.summary()
    assert "predictive power" in a.verdict


def test_predict_from_a_result_uses_its_settings(mobi):
    r = pls.fit(SMALL, mobi, scheme="factorial", consistent=True)
    a = predict(r, mobi, k=5, repeats=1, seed=2)
    b = predict(SMALL, mobi, k=5, repeats=1, seed=2, scheme="factorial", consistent=True)
    pd.testing.assert_frame_equal(a.metrics, b.metrics)
    c = predict(SMALL, mobi, k=5, repeats=1, seed=2)
    assert not np.allclose(a.metrics.rmse, c.metrics.rmse)


def test_blindfolding_matches_sempls(mobi):
    names = dict(Complaints="CUSCO", Expectation="CUEX", Image="IMAG", Loyalty="CUSL", Quality="PERQ",
                 Satisfaction="CUSA", Value="PERV")
    ref = pd.read_csv(CSEM / "sempls_qsquared_mobi_d7.csv").dropna()
    ref = ref.assign(construct=ref.construct.map(names)).set_index("construct")["q2"]
    q = blindfolding(ECSI, mobi, distance=7, tol=1e-10, max_iter=1000).set_index("construct")
    assert set(ref.index) == set(q.index) and len(ref) == 6
    for c, v in ref.items():
        assert q.loc[c, "q2"] == pytest.approx(v, abs=1e-6), c
    assert (q.sse < q.sso).all()


def test_bad_input(mobi):
    with pytest.raises(ModelError, match="k=1"):
        predict(SMALL, mobi, k=1)
    with pytest.raises(ModelError, match="repeats=0"):
        predict(SMALL, mobi, repeats=0)
    with pytest.raises(ModelError, match="k=300: 250 usable rows are too few"):
        predict(SMALL, mobi, k=300)
    with pytest.raises(ModelError, match="interaction"):
        predict("X =~ IMAG1 + IMAG2; Z =~ CUEX1 + CUEX2; Y =~ CUSL1 + CUSL3; Y ~ X + Z + X:Z", mobi)
    with pytest.raises(ModelError, match="not connected"):
        predict("X =~ IMAG1 + IMAG2; Y =~ CUSL1 + CUSL3", mobi)
    with pytest.raises(ModelError, match="distance=1"):
        blindfolding(SMALL, mobi, distance=1)
    with pytest.raises(ModelError, match="distance=300"):
        blindfolding(SMALL, mobi, distance=300)
    with pytest.raises(ModelError, match="PLS syntax"):
        predict(42, mobi)


def test_predictions_match_seminr_predict_pls(mobi):
    """seminr's Python port (dev dependency): predict_pls, earliest antecedents, its own folds."""
    seminr = pytest.importorskip("seminr")
    from seminr.predict import cut_folds, predict_EA, predict_pls

    blocks = {}
    for line in ECSI.strip().splitlines():
        if "=~" in line:
            c, items = line.split("=~")
            blocks[c.strip()] = [x.strip() for x in items.split("+")]
    paths = [(p.strip(), line.split("~")[0].strip()) for line in ECSI.strip().splitlines()
             if "~" in line and "=~" not in line for p in line.split("~")[1].split("+")]
    mm = seminr.constructs(*[seminr.composite(c, items) for c, items in blocks.items()])
    sm = seminr.relationships(*[seminr.paths(from_=a, to=b) for a, b in paths])
    model = seminr.estimate_pls(mobi, mm, sm)
    from seminr.predict import predict_DA

    for technique, theirs_fn in (("earliest", predict_EA), ("direct", predict_DA)):
        ref = predict_pls(model, technique=theirs_fn, no_folds=10, ordering=list(range(len(mobi)))).items
        ours = predict(ECSI, mobi, folds=cut_folds(len(mobi), 10), technique=technique)
        for mine, theirs in ((ours.predictions, ref.pls_out_of_sample), (ours.lm_predictions, ref.lm_out_of_sample)):
            theirs = pd.DataFrame(np.asarray(theirs.values), columns=list(theirs.cols))
            assert set(theirs.columns) == set(mine.columns)
            np.testing.assert_allclose(mine[theirs.columns].to_numpy(), theirs.to_numpy(), atol=1e-9)
    with pytest.raises(ModelError, match="technique='DA'"):
        predict(ECSI, mobi, technique="DA")
    with pytest.raises(ModelError, match="one fold per usable row"):
        predict(ECSI, mobi, folds=[1, 2, 3])

"""MBG/NBD (Batislam, Gursoy & Dogan 2007) against lifetimes' ModifiedBetaGeoFitter.

The reference JSON is made by tests/reference/clv/make_mbgnbd_reference.py from the raw CDNOW
1/10 file with lifetimes only (its own summary and fitter); these tests need neither lifetimes
nor the network.
"""
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from crm_research import clv
from crm_research.clv import mbgnbd
from crm_research.errors import DataFileError

REF = json.loads((Path(__file__).parent / "reference" / "clv" / "mbgnbd_cdnow_lifetimes.json").read_text())
PARAMS = ["r", "alpha", "a", "b"]


@pytest.fixture(scope="module")
def cal():
    cdnow = clv.read_cdnow("tests/data/cdnow/CDNOW_sample.txt")
    return clv.rfm_summary(cdnow, calibration_end="1997-09-30", observation_end="1998-06-30")


@pytest.fixture(scope="module")
def fit(cal):
    return clv.fit_mbgnbd(cal)


def test_reference_is_from_lifetimes():
    assert REF["lifetimes_version"] == "0.11.3"
    assert REF["n_customers"] == 2357 and REF["n_one_time_buyers"] == 1411


def test_estimates_match_lifetimes(fit):
    assert fit.converged
    assert fit.n == REF["n_customers"]
    # our optimum is at least as good as lifetimes' (which stops at tol 1e-7) ...
    assert fit.loglik >= REF["loglik"] - 1e-6
    # ... and it is the same optimum
    assert fit.loglik == pytest.approx(REF["loglik"], rel=1e-7)
    for k in PARAMS:
        assert fit.params[k] == pytest.approx(REF["params"][k], rel=1e-3), k


def test_loglik_equals_lifetimes_at_its_estimates(cal):
    d = cal
    P = [REF["params"][k] for k in PARAMS]
    total = mbgnbd.mbgnbd_loglik(P, d["frequency"], d["recency"], d["T"]).sum()
    assert total == pytest.approx(REF["loglik"], rel=1e-10)


def test_predictions_match_lifetimes_given_its_estimates():
    P = [REF["params"][k] for k in PARAMS]
    pr = REF["probe"]
    x, tx, T = (np.asarray(pr[k]) for k in ("frequency", "recency", "T"))
    np.testing.assert_allclose(mbgnbd.mbgnbd_p_alive(P, x, tx, T), REF["p_alive"], rtol=1e-10)
    np.testing.assert_allclose(mbgnbd.mbgnbd_conditional_expected(P, 39.0, x, tx, T),
                               REF["conditional_expected_39"], rtol=1e-10)
    np.testing.assert_allclose(mbgnbd.mbgnbd_expected(P, REF["expected_t"]), REF["expected"], rtol=1e-10)


def test_one_time_buyers_are_not_all_alive(cal, fit):
    one = cal["frequency"].to_numpy() == 0
    pa = fit.p_alive().to_numpy()
    assert one.sum() == 1411
    assert (pa[one] < 1).all()
    assert pa[one].mean() == pytest.approx(REF["mean_p_alive_one_time_buyers"], rel=1e-3)
    # whereas BG/NBD says 1 for every one of them
    bg = clv.fit_bgnbd(cal)
    assert (bg.p_alive().to_numpy()[one] == 1).all()


def test_p_alive_of_one_time_buyer_falls_with_time():
    P = [REF["params"][k] for k in PARAMS]
    pa = mbgnbd.mbgnbd_p_alive(P, [0, 0, 0], [0, 0, 0], [1.0, 10.0, 50.0])
    assert pa[0] > pa[1] > pa[2] > 0


def test_gradient_matches_finite_differences():
    P = np.array([0.5, 6.0, 0.9, 1.6])
    x, tx, T = np.array([0.0, 2.0, 30.0]), np.array([0.0, 30.4, 35.0]), np.array([38.9, 38.9, 36.0])
    g = mbgnbd.mbgnbd_loglik_gradient(P, x, tx, T)
    for j in range(4):
        e = np.zeros(4)
        e[j] = 1e-6
        num = (mbgnbd.mbgnbd_loglik(P + e, x, tx, T) - mbgnbd.mbgnbd_loglik(P - e, x, tx, T)) / 2e-6
        np.testing.assert_allclose(g[:, j], num, rtol=1e-6, atol=1e-8)


def test_expected_is_conditional_of_a_new_customer():
    P = [0.5, 6.0, 1.3, 1.6]
    t = np.array([5.0, 39.0])
    np.testing.assert_allclose(mbgnbd.mbgnbd_expected(P, t),
                               mbgnbd.mbgnbd_conditional_expected(P, t, 0.0, 0.0, 0.0), rtol=1e-12)
    # a = 1 is a removable singularity: both sides agree
    lo = mbgnbd.mbgnbd_expected([0.5, 6.0, 1.0 - 1e-4, 1.6], t)
    hi = mbgnbd.mbgnbd_expected([0.5, 6.0, 1.0 + 1e-4, 1.6], t)
    mid = mbgnbd.mbgnbd_expected([0.5, 6.0, 1.0, 1.6], t)
    np.testing.assert_allclose(mid, 0.5 * (lo + hi), rtol=1e-5)


def test_no_overflow_for_heavy_buyers():
    P = [0.5, 6.0, 0.9, 1.6]
    v = mbgnbd.mbgnbd_conditional_expected(P, 39.0, [300.0], [38.0], [38.9])
    assert np.isfinite(v).all()
    # with hundreds of purchases the extra drop-out chance at time 0 hardly matters: BG/NBD's value
    from crm_research.clv import bgnbd
    assert v[0] == pytest.approx(bgnbd.bgnbd_conditional_expected(P, 39.0, [300.0], [38.0], [38.9])[0], rel=0.01)


def test_bad_input_names_the_problem():
    bad = pd.DataFrame({"customer_id": [1], "frequency": [1], "recency": [12.0], "T": [10.0]})
    with pytest.raises(DataFileError, match="recency 12 is larger than T 10"):
        clv.fit_mbgnbd(bad)


def test_bgnbd_p_alive_outputs_carry_the_caveat(cal):
    bg = clv.fit_bgnbd(cal)
    for obj in (bg.p_alive(), bg.predict(39.0)):
        assert obj.attrs["caveat"].startswith("1,411 of 2,357 customers have no repeat purchase")
        assert "MBG/NBD" in obj.attrs["caveat"]
    assert "Caveat: 1,411 of 2,357" in bg.summary()
    # the count follows the data given
    sub = cal[cal["frequency"] > 0]
    assert bg.p_alive(sub).attrs["caveat"].startswith("0 of 946 ")

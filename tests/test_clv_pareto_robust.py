"""Pareto/NBD on data without dropout heterogeneity: accurate likelihood on the ridge, fast
and explicit failure instead of a minutes-long drift."""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import integrate
from scipy.special import gammaln

from crm_research import clv
from crm_research.clv import pareto_nbd as P


def _loglik_by_integral(p, x, tx, T):
    """Eq. (18) with the 'died in (t_x, T]' term as an adaptive-quadrature integral."""
    r, a, s, b = p
    alive = -(r + x) * np.log(a + T) - s * np.log1p(T / b)  # s log(beta) folded in
    if T > tx:
        f = lambda u: np.exp(-(r + x) * np.log((a + u) / (a + tx)) - (s + 1) * np.log((b + u) / (b + tx)))
        I = integrate.quad(f, tx, T, epsabs=0, epsrel=1e-13, limit=200)[0]
        died = np.log(s) + np.log(I) - (r + x) * np.log(a + tx) - (s + 1) * np.log(b + tx) + s * np.log(b)
    else:
        died = -np.inf
    return gammaln(r + x) - gammaln(r) + r * np.log(a) + np.logaddexp(alive, died)


CUSTOMERS = [(0, 0.0, 30.0), (1, 2.0, 40.0), (5, 10.0, 50.0), (3, 38.0, 39.0), (50, 20.0, 52.0),
             (500, 70.0, 78.0), (0, 0.0, 0.5), (2, 7.0, 7.0)]


@pytest.mark.parametrize("params", [(0.73, 6.47, 300.0, 300 / 0.015), (0.73, 6.47, 1e4, 1e4 / 0.015),
                                    (0.2, 1.0, 150.0, 50.0), (2.0, 3.0, 500.0, 6000.0), (0.5, 4.0, 60.0, 80.0)])
def test_loglik_is_accurate_for_large_s(params):
    # SciPy's hyp2f1 is off by whole log-likelihood units here (z -> 1 with large parameters)
    for x, tx, T in CUSTOMERS:
        assert clv.pnbd_loglik(params, x, tx, T) == pytest.approx(_loglik_by_integral(params, x, tx, T),
                                                                  rel=1e-9, abs=1e-7), (x, tx, T)


def test_quadrature_agrees_with_closed_form_where_both_hold():
    rng = np.random.default_rng(1)
    x = rng.integers(0, 30, 200).astype(float)
    T = rng.uniform(1, 60, 200)
    tx = np.where(x > 0, rng.uniform(0, 1, 200) * T, 0.0)
    for p in [(0.7, 6.5, 30.0, 2000.0), (2.0, 3.0, 50.0, 60.0), (0.5, 4.0, 5.0, 40.0)]:
        q = P._log_died_integral(p, x, tx, T)
        h = P._log_A0(p, x, tx, T) - np.log(p[0] + p[2] + x)
        np.testing.assert_allclose(q, h, rtol=0, atol=1e-8)


def test_loglik_is_continuous_along_the_ridge():
    # s -> inf with s/beta fixed: the likelihood tends to the exponential-lifetime limit
    x, tx, T = np.array([0.0, 3.0, 7.0]), np.array([0.0, 12.0, 30.0]), np.array([40.0, 40.0, 40.0])
    vals = [clv.pnbd_loglik((0.6, 5.0, s, s / 0.02), x, tx, T).sum() for s in (30, 49.9, 50.1, 300, 3e3, 3e4)]
    assert np.all(np.isfinite(vals))
    assert np.all(np.abs(np.diff(vals)) < 0.05), vals  # no jump where the evaluation switches method


def _homogeneous_dropout(n, seed):
    """Pareto/NBD story with one dropout rate for everybody (s = inf in the model)."""
    rng = np.random.default_rng(seed)
    T = rng.uniform(20.0, 52.0, n)
    lam = rng.gamma(0.7, 1.0 / 6.0, n)
    active = np.minimum(rng.exponential(1.0 / 0.015, n), T)
    x = rng.poisson(lam * active)
    tx = np.array([rng.uniform(0, a, k).max() if k else 0.0 for a, k in zip(active, x)])
    return pd.DataFrame({"customer_id": np.arange(n), "frequency": x, "recency": tx, "T": T})


def test_ridge_is_reported_not_chased():
    data = _homogeneous_dropout(800, seed=0)  # a sample whose MLE is at s = inf (not all are)
    with pytest.warns(RuntimeWarning, match="do not identify s and beta separately"):
        fit = clv.fit_pareto_nbd(data)
    assert not fit.converged
    assert "consider BG/NBD" in fit.message and "do not identify s and beta" in fit.summary()
    r, alpha, s, beta = fit.params
    assert s > 100  # on the ridge, not at a spurious interior point
    assert s / beta == pytest.approx(0.015, rel=0.35)  # the common dropout rate is identified
    assert np.isnan(fit.se["s"]) and np.isnan(fit.se["beta"])
    assert np.isfinite(fit.loglik) and fit.iterations < 400


def test_simulated_platform_sample_returns_flagged():
    from crm_research.simulate import simulate_transactions

    log = simulate_transactions(800, seed=3, sessions=False)
    o = log.orders[["customer_id", "timestamp", "amount"]]
    first, last = pd.Timestamp(o["timestamp"].min()), pd.Timestamp(o["timestamp"].max())
    cal = clv.rfm_summary(o, calibration_end=f"{first + (last - first) / 2:%Y-%m-%d}",
                          observation_end=f"{last:%Y-%m-%d}", freq="W")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit = clv.fit_pareto_nbd(cal)
    if fit.converged:  # a proper maximum is fine too, but then no ridge warning
        assert not any("do not identify" in str(w.message) for w in caught)
    else:
        assert any("do not identify s and beta" in str(w.message) for w in caught)
    assert np.all(np.isfinite(fit.params)) and np.isfinite(fit.loglik)
    # the purchase-rate part is well identified either way
    assert 0.1 < fit.params["r"] < 5 and 0.5 < fit.params["alpha"] < 50


def test_heterogeneous_dropout_still_converges():
    rng = np.random.default_rng(7)
    n = 3000
    T = rng.uniform(20.0, 52.0, n)
    lam, mu = rng.gamma(0.6, 1 / 8.0, n), rng.gamma(0.8, 1 / 10.0, n)
    active = np.minimum(rng.exponential(1.0 / mu), T)
    x = rng.poisson(lam * active)
    tx = np.array([rng.uniform(0, a, k).max() if k else 0.0 for a, k in zip(active, x)])
    data = pd.DataFrame({"frequency": x, "recency": tx, "T": T})
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        fit = clv.fit_pareto_nbd(data)
    assert fit.converged and fit.params["s"] < 100
    assert np.all(np.isfinite(fit.se))

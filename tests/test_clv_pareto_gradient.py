"""Pareto/NBD with an analytic gradient: the gradient is the derivative of the likelihood
everywhere (both expansions, the quadrature region, heavy buyers), the series behind it
equals its defining integral, and the fit lands on the same optimum as before: the
published CDNOW estimates, a finite-difference fit, and lifetimes' fitter."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import integrate

from crm_research import clv
from crm_research.clv import pareto_nbd as P

X = np.array([0, 1, 3, 10, 25, 500, 2, 7], dtype=float)
TX = np.array([0, 2, 20, 30, 37.9, 70, 7, 0.5])
T = np.array([10, 30, 38, 38, 38, 78, 7, 52])

PARAMS = [(0.553, 10.578, 0.606, 11.669),   # CDNOW optimum (alpha < beta)
          (0.55, 10.58, 0.61, 2.0),         # alpha > beta
          (2.0, 1.0, 3.0, 40.0),            # alpha << beta
          (0.3, 50.0, 1.5, 0.5),            # alpha >> beta: z near 1 at small y (quadrature for those)
          (1.0, 1.0, 1.0, 1.0),             # alpha = beta: z = 0 (the optimizer's start)
          (0.7, 6.5, 300.0, 2000.0),        # s > 50, beta > alpha: the quadrature region
          (0.73, 6.47, 49.0, 49.0 / 0.015)]  # just below it, z close to 1


def _numeric_gradient(p, x, tx, T, rel=1e-6):
    p = np.asarray(p, dtype=float)
    cols = []
    for i in range(4):
        h = rel * p[i]
        e = np.zeros(4)
        e[i] = h
        cols.append((clv.pnbd_loglik(p + e, x, tx, T) - clv.pnbd_loglik(p - e, x, tx, T)) / (2 * h))
    return np.column_stack(cols)


@pytest.mark.parametrize("params", PARAMS)
def test_gradient_matches_finite_differences(params):
    g = P.pnbd_loglik_gradient(params, X, TX, T)
    num = _numeric_gradient(params, X, TX, T)
    assert g.shape == (X.size, 4) and np.all(np.isfinite(g))
    np.testing.assert_allclose(g, num, rtol=2e-5, atol=2e-6 * np.abs(num).max())


def test_gradient_broadcasts_like_the_loglik():
    p = PARAMS[0]
    g = P.pnbd_loglik_gradient(p, 2, [30.0, 35.0], 38.0)
    assert g.shape == (2, 4)
    np.testing.assert_allclose(g[0], P.pnbd_loglik_gradient(p, [2], [30.0], [38.0])[0])


def _log_tail_by_quad(p, x, y):
    r, a, s, b = p
    f = lambda t: np.exp(-(r + x) * np.log((a + t) / (a + y)) - (s + 1) * np.log((b + t) / (b + y)))
    val = integrate.quad(f, y, np.inf, epsabs=0, epsrel=1e-13, limit=500)[0]
    return np.log(val) - (r + x) * np.log(a + y) - (s + 1) * np.log(b + y)


@pytest.mark.parametrize("params", [(0.553, 10.578, 0.606, 11.669), (0.55, 10.58, 0.61, 2.0), (2.0, 1.0, 3.0, 40.0),
                                    (0.5, 30.0, 2.0, 0.7), (0.8, 0.4, 20.0, 30.0)])
def test_series_equals_its_defining_integral(params):
    x = np.array([0, 0, 1, 5, 30, 200.0])
    y = np.array([0, 20, 3.0, 10, 38, 70])
    lg, _, ok = P._log_tail(params, x, y)
    for i in np.flatnonzero(ok):
        assert lg[i] == pytest.approx(_log_tail_by_quad(params, x[i], y[i]), abs=1e-10), (x[i], y[i])
    z = abs(params[1] - params[3]) / (max(params[1], params[3]) + y)
    assert np.array_equal(ok, z <= P._Z_SERIES)  # the rest goes to quadrature, not a truncated series


def test_no_jump_where_the_evaluation_switches_method():
    x, tx, T = np.array([0.0, 3.0, 7.0]), np.array([0.0, 12.0, 30.0]), np.array([40.0, 40.0, 40.0])
    lo = P.pnbd_loglik_gradient((0.6, 5.0, 49.999, 49.999 / 0.02), x, tx, T)   # series
    hi = P.pnbd_loglik_gradient((0.6, 5.0, 50.001, 50.001 / 0.02), x, tx, T)   # quadrature
    np.testing.assert_allclose(lo, hi, rtol=1e-3, atol=1e-6)


@pytest.fixture(scope="module")
def cdnow():
    return clv.rfm_summary(clv.read_cdnow(), calibration_end="1997-09-30", freq="W")


def test_fit_reproduces_the_published_cdnow_estimates(cdnow):
    fit = clv.fit_pareto_nbd(cdnow)
    table = clv.replication_table([fit])
    assert table.attrs["replicated"], table
    assert round(fit.loglik, 1) == -9595.0 and fit.converged
    # the optimum: the analytic gradient vanishes there
    g = P.pnbd_loglik_gradient(fit.params.to_numpy(), cdnow["frequency"], cdnow["recency"], cdnow["T"]).sum(axis=0)
    assert np.all(np.abs(g * fit.params.to_numpy()) < 1e-4), g


def _synthetic(n, seed):
    rng = np.random.default_rng(seed)
    Tn = rng.uniform(10.0, 60.0, n).round(1)
    lam, mu = rng.gamma(0.7, 1 / 6.0, n), rng.gamma(0.9, 1 / 25.0, n)
    active = np.minimum(rng.exponential(1.0 / mu), Tn)
    x = rng.poisson(lam * active)
    tx = np.array([rng.uniform(0, a, k).max() if k else 0.0 for a, k in zip(active, x)]).round(1)
    return pd.DataFrame({"frequency": x, "recency": tx, "T": Tn})


def test_same_optimum_as_a_finite_difference_fit():
    from crm_research.clv._mle import compress, maximize

    data = _synthetic(3000, seed=11)
    fit = clv.fit_pareto_nbd(data)
    (x, tx, T_), w = compress(data["frequency"], data["recency"], data["T"])
    fd = maximize(lambda th: float(np.dot(w, clv.pnbd_loglik(th, x, tx, T_))), np.ones(4), n=len(data),
                  model="Pareto/NBD")  # no gradient: finite differences, as before the analytic one
    assert fit.converged and fd.converged
    np.testing.assert_allclose(fit.params.to_numpy(), fd.params, rtol=1e-5)
    assert fit.loglik == pytest.approx(fd.loglik, abs=1e-6)


def test_at_least_as_good_as_lifetimes(cdnow):
    lifetimes = pytest.importorskip("lifetimes")
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lt = lifetimes.ParetoNBDFitter().fit(cdnow["frequency"], cdnow["recency"], cdnow["T"])
    q = lt.params_[["r", "alpha", "s", "beta"]].to_numpy()
    fit = clv.fit_pareto_nbd(cdnow)
    ll_lt = float(clv.pnbd_loglik(q, cdnow["frequency"], cdnow["recency"], cdnow["T"]).sum())
    assert fit.loglik >= ll_lt - 1e-6
    np.testing.assert_allclose(fit.params.to_numpy(), q, rtol=5e-3)  # lifetimes stops less precisely


@pytest.mark.slow
def test_100k_customers_need_few_evaluations(monkeypatch):
    """Deterministic proxy for the speed target (<= 3 s, see benchmarks/bench_clv.py): a few dozen
    value-and-gradient evaluations, each over the distinct (x, y) points only."""
    calls = []
    real = P._loglik_and_gradient

    def counting(*args):
        calls.append(args[5][0].size if args[5] is not None else None)
        return real(*args)

    monkeypatch.setattr(P, "_loglik_and_gradient", counting)
    data = _synthetic(100_000, seed=5)
    fit = clv.fit_pareto_nbd(data)
    assert fit.converged
    assert len(calls) <= 80, len(calls)
    assert calls[0] < 0.5 * len(data)  # G is evaluated at far fewer points than there are customers

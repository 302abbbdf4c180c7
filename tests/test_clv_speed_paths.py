"""The fast likelihood path of the BG/NBD and MBG/NBD fits (crm_research.clv._purchase) against
direct evaluations written here with scipy.special, and the fast fit against the per-customer fit.

The fast path evaluates every term that depends on x, t_x or T alone once per distinct value
and gathers it (``Histories``, ``alive_or_dropped_totals``, ``beta_geometric_totals``); these
tests recompute the log-likelihood, its gradient and Hessian customer by customer from the
published formulas (Fader, Hardie & Lee 2005 eq. 6; Batislam, Gursoy & Dogan 2007) and sum.
"""
import numpy as np
import pandas as pd
import pytest
from scipy.special import digamma, gammaln

from crm_research import clv
from crm_research.clv import _purchase
from crm_research.clv._purchase import Histories, beta_geometric_totals, fit_purchase_model
from crm_research.errors import ModelError


def histories(n, seed, max_x=400, weeks=160):
    """Daily-grained (x, t_x, T) in weeks, with the edge cases: x = 0, t_x = T, T = 0, huge x."""
    rng = np.random.default_rng(seed)
    T = rng.integers(0, weeks * 7, n) / 7.0
    x = np.where(rng.random(n) < 0.3, 0, rng.negative_binomial(0.7, 0.1, n)).astype(float)
    x[:3] = [max_x, 1, 0]
    tx = np.where(x > 0, np.floor(rng.random(n) * T * 7) / 7.0, 0.0)
    tx[1] = T[1]                           # last purchase at the end of the period
    T[2] = 0.0                             # bought today
    return x, tx, T


def direct(params, x, tx, T, after_first):
    """Per-customer log-likelihood and gradient, straight from the formulas."""
    r, alpha, a, b = params
    k = 1.0 if after_first else 0.0
    A1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    A2 = gammaln(a + b) + gammaln(b + x + k) - gammaln(b) - gammaln(a + b + x + k)
    A3 = -(r + x) * np.log(alpha + T)
    can = (x > 0) | after_first
    bx = np.where(can, b + x + k - 1.0, 1.0)
    A4 = np.where(can, np.log(a) - np.log(bx) - (r + x) * np.log(alpha + tx), -np.inf)
    ll = A1 + A2 + np.logaddexp(A3, A4)
    s = np.where(can, 1.0 / (1.0 + np.exp(np.clip(A3 - A4, -700, 700))), 0.0)
    g = np.column_stack([
        digamma(r + x) - digamma(r) + np.log(alpha) - (1 - s) * np.log(alpha + T) - s * np.log(alpha + tx),
        r / alpha - (1 - s) * (r + x) / (alpha + T) - s * (r + x) / (alpha + tx),
        digamma(a + b) - digamma(a + b + x + k) + s / a,
        digamma(a + b) + digamma(b + x + k) - digamma(b) - digamma(a + b + x + k) - s / bx])
    return ll, g


PARAMS = [(0.525, 6.183, 0.891, 1.614), (0.243, 4.414, 0.793, 2.426), (3.5, 0.02, 0.05, 40.0),
          (0.01, 150.0, 12.0, 0.3)]


@pytest.mark.parametrize("after_first", [True, False], ids=["MBG/NBD", "BG/NBD"])
@pytest.mark.parametrize("params", PARAMS)
def test_totals_equal_direct_sum(params, after_first):
    x, tx, T = histories(20_000, seed=len(str(params)))
    ll_i, g_i = direct(params, x, tx, T, after_first)
    ll, g = beta_geometric_totals(params, Histories.of(x, tx, T), after_first=after_first)
    assert np.isfinite(ll_i).all()
    assert ll == pytest.approx(ll_i.sum(), rel=1e-10, abs=0)
    # the gradient's sum cancels near an optimum: compare on the scale of its terms
    np.testing.assert_allclose(g, g_i.sum(axis=0), rtol=0, atol=1e-10 * np.abs(g_i).sum(axis=0).max())


@pytest.mark.parametrize("after_first", [True, False], ids=["MBG/NBD", "BG/NBD"])
def test_hessian_equals_differences_of_direct_gradient(after_first):
    x, tx, T = histories(5_000, seed=3)
    h = Histories.of(x, tx, T)
    for params in PARAMS[:3]:
        p = np.array(params)
        ll, g, H = beta_geometric_totals(p, h, after_first=after_first, hessian=True)
        steps = 1e-5 * p
        J = np.array([(direct(p + e, x, tx, T, after_first)[1].sum(0) - direct(p - e, x, tx, T, after_first)[1].sum(0))
                      / (2 * e[i]) for i, e in enumerate(np.diag(steps))])
        np.testing.assert_allclose(H, H.T, rtol=0, atol=1e-12 * np.abs(H).max())
        np.testing.assert_allclose(H, (J + J.T) / 2, rtol=1e-5, atol=1e-7 * np.abs(H).max())
        # the value and gradient do not depend on whether the Hessian was asked for
        assert (ll, g.tolist()) == (lambda r: (r[0], r[1].tolist()))(beta_geometric_totals(p, h, after_first=after_first))


def test_histories_are_the_distinct_rows_with_counts():
    x, tx, T = histories(30_000, seed=7, weeks=20)
    h = Histories.of(x, tx, T)
    got = pd.DataFrame({"x": h.x_values[h.x_code], "tx": h.t_x_values[h.t_x_code], "T": h.T_values[h.T_code],
                        "n": h.w}).sort_values(["x", "tx", "T"]).reset_index(drop=True)
    want = (pd.DataFrame({"x": x, "tx": tx, "T": T}).groupby(["x", "tx", "T"]).size().rename("n").reset_index()
            .astype({"n": float}))
    pd.testing.assert_frame_equal(got, want)
    assert len(h) < len(x) and h.w.sum() == len(x)
    np.testing.assert_array_equal(h.x, h.x_values[h.x_code])
    np.testing.assert_array_equal(h.w_by_x, pd.Series(1.0, index=x).groupby(level=0).sum().to_numpy())
    np.testing.assert_allclose(h.wx_by_T, pd.Series(x, index=T).groupby(level=0).sum().to_numpy())


def test_histories_two_step_key_gives_the_same(monkeypatch):
    x, tx, T = histories(5_000, seed=11)
    one = Histories.of(x, tx, T)
    monkeypatch.setattr(_purchase, "_ONE_KEY_LIMIT", 0)   # as if the codes did not fit one int64
    two = Histories.of(x, tx, T)
    for name in ("w", "x", "x_code", "t_x_code", "T_code", "w_by_T"):
        np.testing.assert_array_equal(getattr(one, name), getattr(two, name))


def test_histories_reject_missing_values_and_ragged_columns():
    with pytest.raises(ModelError, match="missing"):
        Histories.of([1.0, np.nan], [0.5, 0.0], [2.0, 3.0])
    with pytest.raises(ModelError, match="equally long"):
        Histories.of([1.0, 0.0], [0.5, 0.0], [2.0])


def _simulated(n, seed, after_first, params=(0.5, 6.0, 0.9, 1.6)):
    """Customers simulated from the (M)BG/NBD model (weeks), purchase times on whole days."""
    r, alpha, a, b = params
    rng = np.random.default_rng(seed)
    lam, p = rng.gamma(r, 1.0 / alpha, n), rng.beta(a, b, n)
    T = rng.integers(0, 80 * 7, n) / 7.0
    x, tx, t = np.zeros(n), np.zeros(n), np.zeros(n)
    alive = rng.random(n) >= p if after_first else np.ones(n, dtype=bool)
    while alive.any():
        t = t + rng.exponential(1.0, n) / np.maximum(lam, 1e-12)
        buys = alive & (t <= T)
        x[buys] += 1
        tx[buys] = np.floor(t[buys] * 7.0) / 7.0
        alive = buys & (rng.random(n) >= p)
    return pd.DataFrame({"customer_id": np.arange(n), "frequency": x, "recency": tx, "T": T})


@pytest.mark.parametrize("fit, loglik, gradient", [(clv.fit_mbgnbd, clv.mbgnbd_loglik, "mbgnbd"),
                                                    (clv.fit_bgnbd, clv.bgnbd_loglik, "bgnbd")],
                         ids=["MBG/NBD", "BG/NBD"])
def test_fast_fit_equals_per_customer_fit(fit, loglik, gradient):
    """The fit through distinct values, one evaluation per point and the analytic Hessian reaches the
    optimum of the per-customer path (per-customer log-likelihood and gradient, central-difference Hessian)."""
    import importlib

    mod = importlib.import_module(f"crm_research.clv.{gradient}")
    d = _simulated(40_000, seed=5, after_first=gradient == "mbgnbd")
    fast = fit(d)
    slow = fit_purchase_model(type(fast), d, loglik, ["r", "alpha", "a", "b"], (1.0, 1.0, 1.0, 1.0),
                              "frequency", "recency", "T", (), gradient=getattr(mod, f"{gradient}_loglik_gradient"))
    assert fast.converged and slow.converged
    np.testing.assert_allclose(fast.params, slow.params, rtol=1e-8)
    assert fast.loglik == pytest.approx(slow.loglik, rel=1e-9)
    assert fast.loglik == pytest.approx(loglik(fast.params.to_numpy(), d["frequency"], d["recency"], d["T"]).sum(),
                                        rel=1e-12)
    np.testing.assert_allclose(fast.se, slow.se, rtol=1e-6)

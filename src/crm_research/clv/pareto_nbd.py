"""Pareto/NBD model of repeat purchasing (Schmittlein, Morrison & Colombo 1987).

While active, a customer buys as a Poisson process with rate ``lambda`` and has an
exponentially distributed lifetime with rate ``mu``; across customers
``lambda ~ Gamma(r, alpha)`` and ``mu ~ Gamma(s, beta)`` independently.

Formulas follow Fader & Hardie (2005), "A note on deriving the Pareto/NBD model and related
expressions" (brucehardie.com/notes/009):

* log-likelihood, eqs. (18)-(20): ``L = Gamma(r+x) alpha^r beta^s / Gamma(r) *
  [ 1/((alpha+T)^(r+x) (beta+T)^s) + s/(r+s+x) * A0 ]`` where ``A0`` is a difference of two
  Gaussian hypergeometric terms;
* ``E[X(t)]``, eq. (17); ``P(alive | x, t_x, T)``, eq. (11); ``E[Y(t) | x, t_x, T]``, eq. (22).

Numerical stability and gradients. The 'died' term needs ``I = G(t_x) - G(T)`` with
``G(y) = int_y^inf (alpha+tau)^-(r+x) (beta+tau)^-(s+1) dtau``. ``G`` is summed as the series
of eqs. (19)-(20) after Euler's transformation, ``2F1(c-1, b; c; z) = (1-z)^(1-b)
2F1(1, c-b; c; z)``, whose terms are positive and decreasing (no cancellation, no special
function; :func:`_log_tail`), and everything is carried in logarithms:
``log I = log G(t_x) + log(1 - exp(log G(T) - log G(t_x)))``. This stays finite for customers
with hundreds of purchases, where the textbook expression overflows. The analytic gradient
(:func:`pnbd_loglik_gradient`) differentiates the same sums term by term. ``G`` is needed only at
the distinct ``(x, t_x)`` and ``(x, T)`` points, far fewer than customers, so 100,000 customers
are fitted in about 2 s. Where the series converges slowly (``z -> 1``: ``s > 50`` with
``beta > alpha``, the near-homogeneous-dropout region, or ``z > 0.98``) the
integral and its gradient are evaluated by panelled Gauss-Legendre quadrature
(:func:`_log_died_integral`, agreeing with adaptive quadrature to ~1e-8). The closed form
is checked against direct numerical integration of its defining integral in the tests.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ._purchase import PurchaseModelResult

PARAMS = ["r", "alpha", "s", "beta"]
REFERENCES = ("Schmittlein, Morrison & Colombo (1987), Counting your customers: who are they and what will "
              "they do next?, Management Science 33(1), 1-24",
              "Fader & Hardie (2005), A note on deriving the Pareto/NBD model and related expressions")


_SERIES_TOL = 1e-17     # relative size of the neglected tail
_SERIES_TERMS = (16, 32, 64, 128, 256, 512, 1024, 2048, 4096)  # series lengths tried; beyond: quadrature
_Z_SERIES = 0.98        # points with z beyond this go to quadrature (the series would need > 2,000 terms)


def _series(num0, c, xi, z, case1: bool, grad: bool):
    """``S = 2F1(1, num0; c; z) = sum_k P_k z^k``, ``P_k = prod_{j<k} (num0+j)/(c+j)``, and (with
    ``grad``) ``sum_k P_k z^k dlog P_k/dr``, ``.../ds`` and ``dS/dz``.

    Every term is positive and the terms decrease (``num0 < c``, ``0 <= z < 1``), so the sum
    has no cancellation. ``num0`` and ``c`` depend on the customer only through ``x``: they are
    given per distinct ``x`` and ``xi`` maps each point to its ``x``. The
    coefficients (``P_k`` and the harmonic sums of their log-derivatives) are tabulated once
    per distinct ``x``; each point then needs the powers of its ``z`` and four dot products,
    over the shortest of :data:`_SERIES_TERMS` for which the tail bound
    ``P_K z^K (K + 1/(1-z)) / (1-z) (1 + |H_K|)`` is below ``_SERIES_TOL`` (``S >= 1``). ``ok`` is
    False where even the longest does not suffice (``z`` close to 1).
    In case 1 (``alpha >= beta``) ``num0 = r + x`` and ``c = r + x + s + 1``, so
    ``dlog(ratio_j)/dr = 1/(num0+j) - 1/(c+j)`` and ``dlog(ratio_j)/ds = -1/(c+j)``; in case 2
    (``num0 = s + 1``) the roles of r and s swap.
    """
    n = z.size
    ok = np.zeros(n, dtype=bool)
    out = np.zeros((4 if grad else 1, n))
    out[0] = 1.0
    if n == 0:
        return (*out, ok) if grad else (out[0], None, None, None, ok)
    zmax = float(z.max())
    K = _SERIES_TERMS[-1]
    for b in _SERIES_TERMS:  # table length: the bound with P_K <= 1 and |H_K| <= 2 + 2 log(K+1)
        if zmax == 0.0 or (b * np.log(zmax) + np.log((b + 1.0 / (1.0 - zmax)) / (1.0 - zmax)
                                                     * (2.0 + 2.0 * np.log(b + 1.0)))) < np.log(_SERIES_TOL):
            K = b
            break
    j = np.arange(K + 1, dtype=float)
    nn = num0[:, None] + j
    cc = c[:, None] + j
    q = nn / cc
    P = np.ones_like(q)
    P[:, 1:] = np.cumprod(q[:, :-1], axis=1)
    Hr, Hs = np.zeros_like(q), np.zeros_like(q)
    tabs = [P]
    if grad:
        inv_c = 1.0 / cc
        both = 1.0 / nn - inv_c
        dr, ds = (both, -inv_c) if case1 else (-inv_c, both)
        np.cumsum(dr[:, :-1], axis=1, out=Hr[:, 1:])
        np.cumsum(ds[:, :-1], axis=1, out=Hs[:, 1:])
        D = np.zeros_like(q)
        D[:, :-1] = j[1:] * P[:, 1:]       # dS/dz = sum_m (m+1) P_{m+1} z^m
        tabs += [P * Hr, P * Hs, D]
    table = np.stack(tabs, axis=-1)        # (distinct x, K+1, 1 or 4)
    need = np.zeros(n, dtype=int)
    with np.errstate(divide="ignore", invalid="ignore"):
        lz = np.log(z)
        for b in reversed([b for b in _SERIES_TERMS if b <= K]):
            lb = (b * lz + np.log(P[xi, b]) + np.log((b + 1.0 / (1.0 - z)) / (1.0 - z)
                                                     * (1.0 + np.abs(Hr[xi, b]) + np.abs(Hs[xi, b]))))
            need = np.where(lb < np.log(_SERIES_TOL), b, need)
    ok = need > 0
    for b in _SERIES_TERMS:
        idx = np.flatnonzero(need == b)
        if not idx.size:
            continue
        pw = np.empty((idx.size, b))
        pw[:, 0] = 1.0
        pw[:, 1:] = z[idx, None]
        np.cumprod(pw[:, 1:], axis=1, out=pw[:, 1:])
        out[:, idx] = np.einsum("ik,ikm->mi", pw, table[xi[idx], :b])
    if grad:
        return out[0], out[1], out[2], out[3], ok
    return out[0], None, None, None, ok


def _log_tail(params, x, y, grad: bool = False, distinct=None):
    """``log G(y)``, ``G(y) = int_y^inf (alpha+tau)^-(r+x) (beta+tau)^-(s+1) dtau``, its
    gradient with respect to ``(r, alpha, s, beta)`` (shape (n, 4), with ``grad``) and where
    the series converged.

    Expanding the smaller of ``alpha + tau``, ``beta + tau`` around the larger one and
    integrating term by term (Fader & Hardie 2005, eqs. 19-20) gives a Gaussian
    hypergeometric function; after Euler's transformation its series has positive,
    decreasing terms and ``G`` needs no special function:

    * ``alpha >= beta``: ``log G = -(r+x) log(alpha+y) - s log(beta+y) - log(r+s+x) + log S``,
      ``S = 2F1(1, r+x; r+s+x+1; (alpha-beta)/(alpha+y))``;
    * ``alpha < beta``: ``log G = -(r+x-1) log(alpha+y) - (s+1) log(beta+y) - log(r+s+x) + log S``,
      ``S = 2F1(1, s+1; r+s+x+1; (beta-alpha)/(beta+y))``.

    The gradient differentiates these sums term by term (:func:`_series`): analytic, no
    finite differences and no derivative of a special function with respect to its parameters.
    ``distinct``: ``(distinct x values, index of each point's x)``, if already known.
    """
    r, alpha, s, beta = (float(v) for v in params)
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    rsx = r + s + x
    la, lb = np.log(alpha + y), np.log(beta + y)
    case1 = alpha >= beta
    if distinct is None:
        ux, xi = np.unique(x, return_inverse=True)
        xi = xi.ravel()
    else:
        ux, xi = distinct
    if case1:
        z, num0 = (alpha - beta) / (alpha + y), r + ux
    else:
        z, num0 = (beta - alpha) / (beta + y), np.full_like(ux, s + 1.0)
    c = r + s + ux + 1.0
    near = z <= _Z_SERIES        # beyond, the series needs thousands of terms: quadrature instead
    S, Sr, Ss, Sz = np.ones_like(z), np.zeros_like(z), np.zeros_like(z), np.zeros_like(z)
    ok = np.zeros(z.size, dtype=bool)
    if near.all():
        S, Sr, Ss, Sz, ok = _series(num0, c, xi, z, case1, grad)
    elif near.any():
        res = _series(num0, c, xi[near], z[near], case1, grad)
        S[near], ok[near] = res[0], res[4]
        if grad:
            Sr[near], Ss[near], Sz[near] = res[1:4]
    if case1:
        logG = -(r + x) * la - s * lb - np.log(rsx) + np.log(S)
    else:
        logG = -(r + x - 1.0) * la - (s + 1.0) * lb - np.log(rsx) + np.log(S)
    if not grad:
        return logG, None, ok
    ea, eb = 1.0 / (alpha + y), 1.0 / (beta + y)
    gz = Sz / S
    g = np.empty((x.size, 4))
    g[:, 0] = -la - 1.0 / rsx + Sr / S
    g[:, 2] = -lb - 1.0 / rsx + Ss / S
    if case1:   # z = (alpha-beta)/(alpha+y): dz/dalpha = (beta+y)/(alpha+y)^2, dz/dbeta = -1/(alpha+y)
        g[:, 1] = -(r + x) * ea + gz * (beta + y) * ea * ea
        g[:, 3] = -s * eb - gz * ea
    else:       # z = (beta-alpha)/(beta+y): dz/dalpha = -1/(beta+y), dz/dbeta = (alpha+y)/(beta+y)^2
        g[:, 1] = -(r + x - 1.0) * ea - gz * eb
        g[:, 3] = -(s + 1.0) * eb + gz * (alpha + y) * eb * eb
    return logG, g, ok


def _log_A0(params, x, t_x, T) -> np.ndarray:
    """``log A0`` of Fader & Hardie (2005), eq. (19): ``log(r+s+x) + log(G(t_x) - G(T))``."""
    r, alpha, s, beta = params
    x, t_x, T = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (x, t_x, T)))
    shape = x.shape
    x, t_x, T = x.ravel(), t_x.ravel(), T.ravel()
    n = x.size
    lg, _, ok = _log_tail(params, np.concatenate([x, x]), np.concatenate([t_x, T]))
    diff = lg[n:] - lg[:n]
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(diff < 0, lg[:n] + np.log(-np.expm1(np.minimum(diff, 0.0))), -np.inf)
    quad = ~(ok[:n] & ok[n:]) & (T > t_x)
    if quad.any():  # series too slow there (z -> 1)
        out[quad] = _log_died_integral(params, x[quad], t_x[quad], T[quad])
    return (np.log(r + s + x) + out).reshape(shape)


def _log_died_integral(params, x, t_x, T, grad: bool = False):
    """``log I``, ``I = int_{t_x}^T (alpha+tau)^-(r+x) (beta+tau)^-(s+1) dtau``, by quadrature.

    Used where the series converges too slowly: large ``s`` with ``beta > alpha`` (the
    near-homogeneous-dropout region, ``z -> 1`` with large parameters) and points whose
    series would need more than 4,096 terms. With ``u = log(alpha+tau)`` the
    log-integrand ``l(u)`` is smooth and convex. ``[u0, u1]`` is cut into panels; on each,
    ``l`` is split into the secant line through its end points (integrated exactly as an
    exponential) and a small smooth remainder, integrated by Gauss-Legendre after the
    substitution that makes the exponential weight uniform. Checked against adaptive
    quadrature in the tests. With ``grad`` also returns the gradient of ``log I`` with respect
    to ``(r, alpha, s, beta)`` (shape (n, 4)): the integrand-weighted means of
    ``d log f / d theta`` over the same nodes (differentiation under the integral sign).
    """
    from scipy.special import logsumexp

    r, alpha, s, beta = params
    x, t_x, T = (np.asarray(v, dtype=float) for v in (x, t_x, T))
    u0, u1 = np.log(alpha + t_x), np.log(alpha + T)

    def logint(u):  # log of the integrand in u (includes the Jacobian e^u)
        return -(r + x[..., None] - 1.0) * u - (s + 1.0) * np.log(beta - alpha + np.exp(u))

    edges = u0[:, None] + (u1 - u0)[:, None] * (np.linspace(0.0, 1.0, _PANELS + 1) ** 2)[None, :]
    la, lb = edges[:, :-1], edges[:, 1:]
    h = lb - la
    fa, fb = logint(la), logint(lb)
    with np.errstate(divide="ignore", invalid="ignore"):
        k = np.where(h > 0, (fa - fb) / np.where(h > 0, h, 1.0), 0.0)  # secant decay rate
    kh = k * h
    small = np.abs(kh) < 1e-8
    ks = np.where(small, 1.0, k)
    em = np.expm1(-kh)  # e^{-kh} - 1
    with np.errstate(divide="ignore", invalid="ignore"):
        log_jac = np.where(small, np.log(h), np.log(np.abs(em)) - np.log(np.abs(ks)))  # log (1-e^{-kh})/k
    nodes, weights = np.polynomial.legendre.leggauss(_GL_NODES)
    v = (nodes + 1.0) / 2.0
    logw = np.log(weights / 2.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        du = np.where(small[..., None], v * h[..., None], -np.log1p(v * em[..., None]) / ks[..., None])
        u = la[..., None] + du
        lbt = np.log(beta - alpha + np.exp(u))          # log(beta + tau) at the nodes
        lu = -(r + x[:, None, None] - 1.0) * u - (s + 1.0) * lbt
        rem = lu - (fa[..., None] - k[..., None] * du)  # remainder: 0 at both panel ends
        node = (fa + log_jac)[..., None] + rem + logw   # log of each node's share of I
        out = logsumexp(node.reshape(node.shape[0], -1), axis=-1)
    out = np.where(u1 > u0, out, -np.inf)
    if not grad:
        return out
    with np.errstate(invalid="ignore", over="ignore"):
        wt = np.exp(node - out[:, None, None])
        wt = np.where(np.isfinite(wt), wt, 0.0).reshape(x.size, -1)
    u, lbt = u.reshape(x.size, -1), lbt.reshape(x.size, -1)
    g = np.column_stack([-(wt * u).sum(1), -(r + x) * (wt * np.exp(-u)).sum(1),
                         -(wt * lbt).sum(1), -(s + 1.0) * (wt * np.exp(-lbt)).sum(1)])
    return out, g


_PANELS = 16
_GL_NODES = 8
S_MAX = 1e4  # upper bound on s: Gamma(s, beta) then has a coefficient of variation of 1%
_RIDGE_S = 100.0  # s beyond which a failed fit is diagnosed as the homogeneous-dropout ridge
_QUADRATURE_S = 50.0  # above this s (with beta > alpha) the series converges slowly: use quadrature


def _points(x, t_x, T):
    """The distinct ``(x, y)`` points at which ``G`` is needed (``y`` = ``t_x`` or ``T``) and,
    per customer, the index of its ``(x, t_x)`` and ``(x, T)`` point. Customers share far
    more of these than whole ``(x, t_x, T)`` triples (cohorts share ``T``; every customer
    without repeat purchases has ``t_x = 0``)."""
    n = x.size
    # (x, y) as one complex key: a 1-D sort (ordered by x, then y), ~10x faster than rows
    uniq, inv = np.unique(np.concatenate([x, x]) + 1j * np.concatenate([t_x, T]), return_inverse=True)
    inv = inv.ravel()
    px, py = uniq.real.copy(), uniq.imag.copy()
    ux, xi = np.unique(px, return_inverse=True)
    return px, py, inv[:n], inv[n:], ux, xi.ravel()


def _log_terms(params, x, t_x, T, grad: bool = False, points=None):
    """(log of the 'alive throughout' term, log of the 'died in (t_x, T]' term) of L/prefactor,
    and with ``grad`` their gradients with respect to ``(r, alpha, s, beta)`` (each (n, 4))."""
    r, alpha, s, beta = (float(v) for v in params)
    x, t_x, T = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (x, t_x, T)))
    shape = x.shape
    x, t_x, T = x.ravel(), t_x.ravel(), T.ravel()
    n = x.size
    alive = -(r + x) * np.log(alpha + T) - s * np.log(beta + T)
    died = np.full(n, -np.inf)
    gd = np.zeros((n, 4)) if grad else None
    if s > _QUADRATURE_S and beta > alpha:
        quad = T > t_x
    else:
        px, py, i_tx, i_T, ux, xi = points if points is not None else _points(x, t_x, T)
        lg, g, ok = _log_tail(params, px, py, grad, distinct=(ux, xi))
        l1, l2 = lg[i_tx], lg[i_T]
        rho = np.exp(np.minimum(l2 - l1, 0.0))
        fine = (l2 < l1) & ok[i_tx] & ok[i_T]
        with np.errstate(divide="ignore", invalid="ignore"):
            died = np.where(fine, np.log(s) + l1 + np.log1p(-rho), -np.inf)
            if grad:
                gd = np.where(fine[:, None], (g[i_tx] - rho[:, None] * g[i_T]) / (1.0 - rho[:, None]), 0.0)
                gd[:, 2] += np.where(fine, 1.0 / s, 0.0)
        quad = ~(ok[i_tx] & ok[i_T]) & (T > t_x)
    if quad.any():
        res = _log_died_integral(params, x[quad], t_x[quad], T[quad], grad=grad)
        if grad:
            died[quad] = np.log(s) + res[0]
            gd[quad] = res[1]
            gd[quad, 2] += 1.0 / s
        else:
            died[quad] = np.log(s) + res
    if not grad:
        return alive.reshape(shape), died.reshape(shape)
    ga = np.column_stack([-np.log(alpha + T), -(r + x) / (alpha + T), -np.log(beta + T), -s / (beta + T)])
    return alive.reshape(shape), died.reshape(shape), ga, gd


def pnbd_loglik(params, x, t_x, T) -> np.ndarray:
    """Per-customer Pareto/NBD log-likelihood (Fader & Hardie 2005, eq. 18).

    Parameters
    ----------
    params : sequence of 4 floats
        ``(r, alpha, s, beta)``.
    x : array-like
        Repeat purchases (frequency).
    t_x : array-like
        Time of the last purchase (recency).
    T : array-like
        Time since the first purchase (age).

    Returns
    -------
    numpy.ndarray
        One log-likelihood per customer.

    Examples
    --------
    >>> P = (0.553, 10.578, 0.606, 11.669)   # published CDNOW estimates
    >>> pnbd_loglik(P, [0, 2], [0.0, 30.43], [38.86, 38.86]).round(4)
    array([-0.521 , -9.5543])
    """
    from scipy.special import gammaln

    r, alpha, s, beta = params
    x, t_x, T = (np.asarray(v, dtype=float) for v in (x, t_x, T))
    alive, died = _log_terms(params, x, t_x, T)
    return gammaln(r + x) - gammaln(r) + r * np.log(alpha) + s * np.log(beta) + np.logaddexp(alive, died)


def pnbd_loglik_gradient(params, x, t_x, T) -> np.ndarray:
    """Per-customer gradient of :func:`pnbd_loglik` w.r.t. ``(r, alpha, s, beta)``; shape (n, 4).

    Analytic: the 'alive' term is differentiated directly, the 'died' integral term by
    differentiating its series (or, in the slow-convergence region, its quadrature) term by
    term; see :func:`_log_tail`.

    Parameters
    ----------
    params : sequence of 4 floats
        ``(r, alpha, s, beta)``.
    x : array-like
        Repeat purchases (frequency).
    t_x : array-like
        Time of the last purchase (recency).
    T : array-like
        Time since the first purchase (age).

    Returns
    -------
    numpy.ndarray
        Shape (n, 4).

    Examples
    --------
    >>> P = (0.553, 10.578, 0.606, 11.669)   # published CDNOW estimates
    >>> pnbd_loglik_gradient(P, [0], [0.0], [38.86]).round(4)
    array([[-0.8549,  0.0264,  0.3566, -0.0129]])
    """
    x, t_x, T = (v.ravel() for v in np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (x, t_x, T))))
    return _loglik_and_gradient(params, x, t_x, T, None, None)[1]


def _loglik_and_gradient(params, x, t_x, T, w, points):
    """Per-customer log-likelihood and (n, 4) gradient, or with weights ``w`` their weighted
    totals (a float and a 4-vector)."""
    from scipy.special import digamma, gammaln

    r, alpha, s, beta = (float(v) for v in params)
    alive, died, ga, gd = _log_terms(params, x, t_x, T, grad=True, points=points)
    tot = np.logaddexp(alive, died)
    pd_ = np.exp(died - tot)[:, None]
    g = ga + pd_ * (gd - ga)      # P(alive-term) ga + P(died-term) gd
    if points is not None:        # Gamma functions of r + x at the distinct x only
        ux, cx = points[4], points[5][points[2]]
        lg_rx, dg_rx = gammaln(r + ux)[cx], digamma(r + ux)[cx]
    else:
        lg_rx, dg_rx = gammaln(r + x), digamma(r + x)
    g[:, 0] += dg_rx - digamma(r) + np.log(alpha)
    g[:, 1] += r / alpha
    g[:, 2] += np.log(beta)
    g[:, 3] += s / beta
    ll = lg_rx - gammaln(r) + r * np.log(alpha) + s * np.log(beta) + tot
    if w is None:
        return ll, g
    return float(np.dot(w, ll)), w @ g


def pnbd_p_alive(params, x, t_x, T) -> np.ndarray:
    """P(alive | x, t_x, T) (Fader & Hardie 2005, eq. 11).

    Parameters
    ----------
    params : sequence of 4 floats
        ``(r, alpha, s, beta)``.
    x : array-like
        Repeat purchases (frequency).
    t_x : array-like
        Time of the last purchase (recency).
    T : array-like
        Time since the first purchase (age).

    Returns
    -------
    numpy.ndarray

    Examples
    --------
    >>> P = (0.553, 10.578, 0.606, 11.669)   # published CDNOW estimates
    >>> pnbd_p_alive(P, [0, 2, 2], [0.0, 30.43, 5.0], [38.86, 38.86, 38.86]).round(3)
    array([0.295, 0.869, 0.13 ])
    """
    x, t_x, T = (np.asarray(v, dtype=float) for v in (x, t_x, T))
    alive, died = _log_terms(params, x, t_x, T)
    return np.exp(alive - np.logaddexp(alive, died))


def _g(s, u):
    """[1 - (1+u)^-(s-1)] / (s-1), with its limit log(1+u) at s = 1."""
    if abs(s - 1.0) < 1e-10:
        return np.log1p(u)
    return -np.expm1(-(s - 1.0) * np.log1p(u)) / (s - 1.0)


def pnbd_expected(params, t) -> np.ndarray:
    """E[X(t)]: expected repeat purchases in (0, t] for a new customer (eq. 17).

    Parameters
    ----------
    params : sequence of 4 floats
        ``(r, alpha, s, beta)``.
    t : array-like
        Length of the period.

    Returns
    -------
    numpy.ndarray

    Examples
    --------
    >>> P = (0.553, 10.578, 0.606, 11.669)   # published CDNOW estimates
    >>> pnbd_expected(P, [39.0, 78.0]).round(4)
    array([1.213 , 1.9094])
    """
    r, alpha, s, beta = params
    t = np.asarray(t, dtype=float)
    return r * beta / alpha * _g(s, t / beta)


def pnbd_conditional_expected(params, t, x, t_x, T) -> np.ndarray:
    """E[Y(t) | x, t_x, T]: expected repeat purchases in (T, T+t] (eq. 22).

    Parameters
    ----------
    params : sequence of 4 floats
        ``(r, alpha, s, beta)``.
    t : array-like
        Length of the future period.
    x : array-like
        Repeat purchases (frequency).
    t_x : array-like
        Time of the last purchase (recency).
    T : array-like
        Time since the first purchase (age).

    Returns
    -------
    numpy.ndarray

    Examples
    --------
    >>> P = (0.553, 10.578, 0.606, 11.669)   # published CDNOW estimates
    >>> pnbd_conditional_expected(P, 39.0, [2], [30.43], [38.86]).round(4)
    array([1.4551])
    """
    r, alpha, s, beta = params
    t, x, t_x, T = (np.asarray(v, dtype=float) for v in (t, x, t_x, T))
    return pnbd_p_alive(params, x, t_x, T) * (r + x) * (beta + T) / (alpha + T) * _g(s, t / (beta + T))


@dataclass(repr=False)
class ParetoNBDResult(PurchaseModelResult):
    """Fitted Pareto/NBD model; see :class:`crm_research.clv.PurchaseModelResult`.

    Parameters
    ----------
    model, params, se, loglik, n, converged, iterations, message, references
        As in :class:`~crm_research.clv.FitResult`.
    data : DataFrame
        The checked summary the model was fitted to.

    Examples
    --------
    >>> from crm_research import clv
    >>> cdnow = clv.read_cdnow("tests/data/cdnow/CDNOW_sample.txt")
    >>> cal = clv.rfm_summary(cdnow, calibration_end="1997-09-30", observation_end="1998-06-30")
    >>> pn = clv.fit_pareto_nbd(cal)
    >>> pn.params.round(3).to_dict()
    {'r': 0.553, 'alpha': 10.578, 's': 0.606, 'beta': 11.669}
    """

    MODEL = "Pareto/NBD"
    _expected = staticmethod(pnbd_expected)
    _conditional = staticmethod(pnbd_conditional_expected)
    _p_alive = staticmethod(pnbd_p_alive)


def fit_pareto_nbd(data: pd.DataFrame, *, frequency_col: str = "frequency", recency_col: str = "recency",
                   T_col: str = "T", start=(1.0, 1.0, 1.0, 1.0)) -> ParetoNBDResult:
    """Fit the Pareto/NBD model by maximum likelihood.

    Parameters
    ----------
    data : pandas.DataFrame
        RFM summary (:func:`rfm_summary`): ``frequency``, ``recency``, ``T``, optionally
        ``customer_id``.
    frequency_col, recency_col, T_col : str
        Column names, if they differ from the defaults.
    start : sequence of 4 floats
        Start values for ``r, alpha, s, beta``.

    Returns
    -------
    ParetoNBDResult
        ``.params`` (``r, alpha, s, beta``), ``.se``, fit measures, ``.summary()`` and the
        prediction methods.

    Warns
    -----
    RuntimeWarning
        When the data carry no dropout heterogeneity the likelihood rises along a ridge
        ``s, beta -> inf`` with ``s/beta`` (the common dropout rate) fixed. The optimizer works
        on ``(r, alpha, s, s/beta)`` with ``s <= S_MAX`` and stops within seconds; the result
        is flagged ``converged=False``, ``se`` of ``s`` and ``beta`` is NaN, and the message
        suggests BG/NBD or reading ``s/beta`` as the common dropout rate.

    Examples
    --------
    >>> from crm_research import clv
    >>> cdnow = clv.read_cdnow("tests/data/cdnow/CDNOW_sample.txt")
    >>> cal = clv.rfm_summary(cdnow, calibration_end="1997-09-30", observation_end="1998-06-30")
    >>> pn = clv.fit_pareto_nbd(cal)
    >>> round(pn.loglik, 1), pn.converged
    (-9595.0, True)
    """
    import warnings

    from ._mle import compress, maximize, standard_errors
    from ._purchase import purchase_data

    d = purchase_data(data, frequency_col, recency_col, T_col)
    (x, tx, T), w = compress(d["frequency"], d["recency"], d["T"])
    n = len(d)

    # Optimise over (r, alpha, s, mu = s/beta): the ridge of data without dropout
    # heterogeneity (s, beta -> inf with s/beta fixed) then runs along one coordinate, which
    # is bounded by S_MAX so the fit stops quickly instead of drifting. Value and analytic
    # gradient come from one evaluation (cached for the optimizer's separate calls).
    points = _points(x, tx, T)
    cache: dict[tuple[float, ...], tuple[float, np.ndarray]] = {}

    def evaluate(th: np.ndarray) -> tuple[float, np.ndarray]:
        key = tuple(float(v) for v in th)
        if key not in cache:
            r, alpha, s, mu = th
            ll, g = _loglik_and_gradient((r, alpha, s, s / mu), x, tx, T, w, points)
            # chain rule for beta = s / mu: d/ds|mu = d/ds + d/dbeta / mu, d/dmu = -d/dbeta * s / mu^2
            cache.clear()
            cache[key] = (ll, np.array([g[0], g[1], g[2] + g[3] / mu, -g[3] * s / mu ** 2]))
        return cache[key]

    r0, a0, s0, b0 = (float(v) for v in start)
    opt = maximize(lambda th: evaluate(th)[0], np.array([r0, a0, s0, s0 / b0]), n=n, model=ParetoNBDResult.MODEL,
                   gradient=lambda th: evaluate(th)[1], upper=np.array([np.inf, np.inf, S_MAX, np.inf]))
    r, alpha, s, mu = opt.params
    # back to log(r, alpha, s, beta): log beta = log s - log mu, a linear map A of the log-parameters
    A_inv = np.array([[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 1, -1]], dtype=float)  # u' = A_inv u
    opt.hessian_log = A_inv.T @ opt.hessian_log @ A_inv
    opt.params = np.array([r, alpha, s, s / mu])
    se = standard_errors(opt)
    message = opt.message
    ridge = bool(opt.at_bound is not None and opt.at_bound[2]) or (not opt.converged and s > _RIDGE_S)
    if ridge:
        se[2:] = np.nan
        message = (f"the data do not identify s and beta separately: the likelihood keeps rising as s and beta "
                   f"grow together with s/beta = {mu:.4g} fixed (the limit in which every customer has the same "
                   f"dropout rate, exponential lifetimes); estimates are reported where the optimizer stopped (s = {s:.4g}). The dropout "
                   f"rate is nearly homogeneous in these data: consider BG/NBD, or read s/beta as the common "
                   f"dropout rate")
        warnings.warn(f"Pareto/NBD: {message}", RuntimeWarning, stacklevel=2)
    return ParetoNBDResult(model=ParetoNBDResult.MODEL, params=pd.Series(opt.params, index=PARAMS, name="est"),
                           se=pd.Series(se, index=PARAMS, name="se"), loglik=opt.loglik, n=n,
                           converged=opt.converged, iterations=opt.iterations, message=message,
                           references=REFERENCES, data=d)

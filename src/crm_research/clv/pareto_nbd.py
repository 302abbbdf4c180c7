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

Numerical stability. ``A0 = F(t_x) - F(T)`` with ``F(y) = 2F1(r+s+x, b2; r+s+x+1; z(y)) /
(m+y)^(r+s+x)``, ``m = max(alpha, beta)``, ``z(y) = |alpha-beta|/(m+y)`` and ``b2 = s+1``
(``alpha >= beta``) or ``r+x`` (``alpha < beta``). The hypergeometric function is evaluated
after Euler's transformation, ``2F1(c-1, b2; c; z) = (1-z)^(1-b2) 2F1(1, c-b2; c; z)``,
whose series has bounded terms, and everything is carried in logarithms; ``log A0`` is then
``log F(t_x) + log(1 - exp(log F(T) - log F(t_x)))``. This stays finite for customers
with hundreds of purchases, where the textbook expression overflows. The closed form is
checked against direct numerical integration of its defining integral in the tests.
For ``s > 50`` with ``beta > alpha`` (near-homogeneous dropout) SciPy's ``hyp2f1`` itself
becomes inaccurate (z -> 1 with large parameters; hundreds of log-likelihood units off at
s ~ 300), so the 'died' integral is then evaluated by panelled Gauss-Legendre quadrature
(:func:`_log_died_integral`, agreeing with adaptive quadrature to ~1e-8).
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


def _log_A0(params, x, t_x, T) -> np.ndarray:
    from scipy.special import hyp2f1

    r, alpha, s, beta = params
    rsx = r + s + x
    if alpha >= beta:
        m, b2 = alpha, s + 1.0 + 0.0 * x
    else:
        m, b2 = beta, r + x
    d = abs(alpha - beta)

    def log_F(y):
        z = d / (m + y)
        return ((1.0 - b2) * np.log1p(-z) + np.log(hyp2f1(1.0, rsx + 1.0 - b2, rsx + 1.0, z))
                - rsx * np.log(m + y))

    l1, l2 = log_F(t_x), log_F(T)
    diff = l2 - l1
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(diff < 0, l1 + np.log(-np.expm1(np.minimum(diff, 0.0))), -np.inf)


def _log_died_integral(params, x, t_x, T) -> np.ndarray:
    """``log I``, ``I = int_{t_x}^T (alpha+tau)^-(r+x) (beta+tau)^-(s+1) dtau``, by quadrature.

    Used where SciPy's ``hyp2f1`` is inaccurate: large ``s`` with ``beta > alpha`` (the
    near-homogeneous-dropout region, ``z -> 1`` with large parameters; there the closed form
    is off by hundreds of log-likelihood units for ``s`` of a few hundred). With
    ``u = log(alpha+tau)`` the log-integrand ``l(u)`` is smooth and convex. ``[u0, u1]`` is
    cut into panels; on each, ``l`` is split into the secant line through its end points
    (integrated exactly as an exponential) and a small smooth remainder, integrated by
    Gauss-Legendre after the substitution that makes the exponential weight uniform.
    Checked against adaptive quadrature in the tests.
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
        lu = -(r + x[:, None, None] - 1.0) * u - (s + 1.0) * np.log(beta - alpha + np.exp(u))
        rem = lu - (fa[..., None] - k[..., None] * du)  # remainder: 0 at both panel ends
        panel = fa + log_jac + logsumexp(rem + logw, axis=-1)
        out = logsumexp(panel, axis=-1)
    return np.where(u1 > u0, out, -np.inf)


_PANELS = 16
_GL_NODES = 8
S_MAX = 1e4  # upper bound on s: Gamma(s, beta) then has a coefficient of variation of 1%
_RIDGE_S = 100.0  # s beyond which a failed fit is diagnosed as the homogeneous-dropout ridge
_QUADRATURE_S = 50.0  # above this s (with beta > alpha) hyp2f1 can lose accuracy: use quadrature


def _log_terms(params, x, t_x, T):
    """(log of the 'alive throughout' term, log of the 'died in (t_x, T]' term) of L/prefactor."""
    r, alpha, s, beta = params
    alive = -(r + x) * np.log(alpha + T) - s * np.log(beta + T)
    if s > _QUADRATURE_S and beta > alpha:
        x_, tx_, T_ = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (x, t_x, T)))
        shape = x_.shape
        died = np.log(s) + _log_died_integral(params, x_.ravel(), tx_.ravel(), T_.ravel()).reshape(shape)
    else:
        died = np.log(s) - np.log(r + s + x) + _log_A0(params, x, t_x, T)
    return alive, died


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
    # is bounded by S_MAX so the fit stops quickly instead of drifting.
    def total(th: np.ndarray) -> float:
        r, alpha, s, mu = th
        return float(np.dot(w, pnbd_loglik((r, alpha, s, s / mu), x, tx, T)))

    r0, a0, s0, b0 = (float(v) for v in start)
    opt = maximize(total, np.array([r0, a0, s0, s0 / b0]), n=n, model=ParetoNBDResult.MODEL,
                   upper=np.array([np.inf, np.inf, S_MAX, np.inf]))
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

"""MBG/NBD model of repeat purchasing (Batislam, Gursoy & Dogan 2007).

The BG/NBD model lets a customer drop out only right after a *repeat* purchase, so every
customer without repeat purchases has P(alive) = 1 however long ago they bought (on the
CDNOW 1/10 sample: 1,411 of 2,357 customers). The modified BG/NBD (MBG/NBD) also allows a
drop-out right after the first purchase: while active, a customer buys as a Poisson process
with rate ``lambda``; at time zero and after every purchase the customer drops out with
probability ``p``. Across customers ``lambda ~ Gamma(r, alpha)`` (shape ``r``, rate
``alpha``) and ``p ~ Beta(a, b)``. P(alive) of a one-time buyer is then below 1 and falls
with the time since their purchase.

Formulas (Batislam, Gursoy & Dogan 2007, *International Journal of Research in Marketing*
24(3), 201-209; the same expressions as lifetimes' ``ModifiedBetaGeoFitter``):

* log-likelihood of ``(x, t_x, T)``::

      B(a, b+x+1)/B(a, b) * Gamma(r+x)/Gamma(r) * alpha^r
        * [ (alpha+T)^-(r+x) + a/(b+x) * (alpha+t_x)^-(r+x) ]

  computed in log space with ``logaddexp``;
* ``P(alive | x, t_x, T) = 1 / (1 + a/(b+x) * ((alpha+T)/(alpha+t_x))^(r+x))``;
* ``E[X(t)] = b/(a-1) * [1 - (alpha/(alpha+t))^r 2F1(r, b+1; a+b; t/(alpha+t))]``;
* ``E[Y(t) | x, t_x, T] = (a+b+x)/(a-1) * [1 - ((alpha+T)/(alpha+T+t))^(r+x)
  2F1(r+x, b+x+1; a+b+x; t/(alpha+T+t))] * P(alive | x, t_x, T)``.

As in :mod:`.bgnbd`, ``(1-z)^(r+x) 2F1(r+x, b+x+1; a+b+x; z)`` is evaluated after Euler's
transformation as ``(1-z)^(a-1) 2F1(a+b-r, a-1; a+b+x; z)``, which does not overflow for
large ``x``; ``E[X(t)]`` is the conditional expectation of a customer with ``x = t_x = T = 0``.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import numpy as np
import pandas as pd

from ._purchase import PurchaseModelResult, beta_geometric_totals, fit_purchase_model

PARAMS = ["r", "alpha", "a", "b"]
REFERENCE = ("Batislam, Gursoy & Dogan (2007), Empirical validation and comparison of models for customer "
             "base analysis, International Journal of Research in Marketing 24(3), 201-209")


def _terms(params, x, t_x, T):
    """The two log terms of the likelihood bracket and the parts they share."""
    r, alpha, a, b = params
    A3 = -(r + x) * np.log(alpha + T)
    A4 = np.log(a) - np.log(b + x) - (r + x) * np.log(alpha + t_x)
    return A3, A4


def mbgnbd_loglik(params, x, t_x, T) -> np.ndarray:
    """Per-customer MBG/NBD log-likelihood (Batislam, Gursoy & Dogan 2007).

    Parameters
    ----------
    params : sequence of 4 floats
        ``(r, alpha, a, b)``.
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
    >>> P = (0.525, 6.183, 0.891, 1.614)   # CDNOW 1/10 sample, weeks
    >>> mbgnbd_loglik(P, [0, 2], [0.0, 30.43], [38.86, 38.86]).round(4)
    array([-0.5398, -9.4856])
    """
    from scipy.special import gammaln

    r, alpha, a, b = params
    x, t_x, T = (np.asarray(v, dtype=float) for v in (x, t_x, T))
    A1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    A2 = gammaln(a + b) + gammaln(b + x + 1.0) - gammaln(b) - gammaln(a + b + x + 1.0)
    A3, A4 = _terms(params, x, t_x, T)
    return A1 + A2 + np.logaddexp(A3, A4)


def mbgnbd_loglik_gradient(params, x, t_x, T) -> np.ndarray:
    """Per-customer gradient of :func:`mbgnbd_loglik` w.r.t. ``(r, alpha, a, b)``; shape (n, 4).

    Parameters
    ----------
    params : sequence of 4 floats
        ``(r, alpha, a, b)``.
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
    >>> P = (0.525, 6.183, 0.891, 1.614)
    >>> mbgnbd_loglik_gradient(P, [0, 2], [0.0, 30.43], [38.86, 38.86]).shape
    (2, 4)
    """
    from scipy.special import digamma

    r, alpha, a, b = params
    x, t_x, T = (np.asarray(v, dtype=float) for v in (x, t_x, T))
    A3, A4 = _terms(params, x, t_x, T)
    w4 = 1.0 / (1.0 + np.exp(A3 - A4))  # share of the "dropped out after t_x" term
    w3 = 1.0 - w4
    d_r = (digamma(r + x) - digamma(r) + np.log(alpha)
           - w3 * np.log(alpha + T) - w4 * np.log(alpha + t_x))
    d_alpha = r / alpha - w3 * (r + x) / (alpha + T) - w4 * (r + x) / (alpha + t_x)
    d_a = digamma(a + b) - digamma(a + b + x + 1.0) + w4 / a
    d_b = digamma(a + b) + digamma(b + x + 1.0) - digamma(b) - digamma(a + b + x + 1.0) - w4 / (b + x)
    return np.column_stack([d_r, d_alpha, d_a, d_b])


def mbgnbd_p_alive(params, x, t_x, T) -> np.ndarray:
    """P(alive | x, t_x, T); below 1 also for customers without repeat purchases.

    Parameters
    ----------
    params : sequence of 4 floats
        ``(r, alpha, a, b)``.
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
    >>> P = (0.525, 6.183, 0.891, 1.614)
    >>> mbgnbd_p_alive(P, [0, 0, 2], [0.0, 0.0, 30.43], [38.86, 10.0, 38.86]).round(3)
    array([0.39 , 0.522, 0.706])
    """
    r, alpha, a, b = params
    x, t_x, T = (np.asarray(v, dtype=float) for v in (x, t_x, T))
    log_odds_dead = np.log(a) - np.log(b + x) + (r + x) * (np.log(alpha + T) - np.log(alpha + t_x))
    return 1.0 / (1.0 + np.exp(log_odds_dead))


def _bracket(params, t, x, T) -> np.ndarray:
    """(a+b+x)/(a-1) * [1 - (1-z)^(a-1) 2F1(a+b-r, a-1; a+b+x; z)], z = t/(alpha+T+t)."""
    from scipy.special import hyp2f1

    r, alpha, a, b = params

    def at(a_):
        z = t / (alpha + T + t)
        h = hyp2f1(a_ + b - r, a_ - 1.0, a_ + b + x, z)
        return (a_ + b + x) / (a_ - 1.0) * -np.expm1((a_ - 1.0) * np.log1p(-z) + np.log(h))

    if abs(a - 1.0) < 1e-6:  # removable singularity at a = 1: average the two sides
        return 0.5 * (at(1.0 - 1e-6) + at(1.0 + 1e-6))
    return at(a)


def mbgnbd_expected(params, t) -> np.ndarray:
    """E[X(t)]: expected repeat purchases in (0, t] for a new customer.

    Parameters
    ----------
    params : sequence of 4 floats
        ``(r, alpha, a, b)``.
    t : array-like
        Length of the period.

    Returns
    -------
    numpy.ndarray

    Examples
    --------
    >>> P = (0.525, 6.183, 0.891, 1.614)
    >>> mbgnbd_expected(P, [39.0, 78.0]).round(4)
    array([1.183 , 1.8048])
    """
    t = np.asarray(t, dtype=float)
    zero = np.zeros_like(t)
    return _bracket(params, t, zero, zero) * mbgnbd_p_alive(params, zero, zero, zero)


def mbgnbd_conditional_expected(params, t, x, t_x, T) -> np.ndarray:
    """E[Y(t) | x, t_x, T]: expected repeat purchases in (T, T+t].

    Parameters
    ----------
    params : sequence of 4 floats
        ``(r, alpha, a, b)``.
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
    >>> P = (0.525, 6.183, 0.891, 1.614)
    >>> mbgnbd_conditional_expected(P, 39.0, [0, 2], [0.0, 30.43], [38.86, 38.86]).round(4)
    array([0.154, 1.263])
    """
    t, x, t_x, T = (np.asarray(v, dtype=float) for v in (t, x, t_x, T))
    return _bracket(params, t, x, T) * mbgnbd_p_alive(params, x, t_x, T)


@dataclass(repr=False)
class MBGNBDResult(PurchaseModelResult):
    """Fitted MBG/NBD model; see :class:`crm_research.clv.PurchaseModelResult` for the methods.

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
    >>> mbg = clv.fit_mbgnbd(cal)
    >>> mbg.params.round(3).to_dict()
    {'r': 0.525, 'alpha': 6.183, 'a': 0.891, 'b': 1.614}
    >>> one_time = mbg.p_alive()[cal.set_index('customer_id')['frequency'] == 0]
    >>> len(one_time), bool(one_time.max() < 1)
    (1411, True)
    """

    MODEL = "MBG/NBD"
    _expected = staticmethod(mbgnbd_expected)
    _conditional = staticmethod(mbgnbd_conditional_expected)
    _p_alive = staticmethod(mbgnbd_p_alive)


def fit_mbgnbd(data: pd.DataFrame, *, frequency_col: str = "frequency", recency_col: str = "recency",
               T_col: str = "T", start=(1.0, 1.0, 1.0, 1.0),
               weights_col: str | None = None) -> MBGNBDResult:
    """Fit the MBG/NBD model by maximum likelihood.

    Parameters
    ----------
    data : pandas.DataFrame
        RFM summary (:func:`rfm_summary`): ``frequency`` (repeat purchases), ``recency`` and
        ``T`` in one time unit, optionally ``customer_id``.
    frequency_col, recency_col, T_col : str
        Column names, if they differ from the defaults.
    start : sequence of 4 floats
        Start values for ``r, alpha, a, b``.
    weights_col : str, optional
        Column of customers per row: a summary of distinct histories with their counts (e.g. a
        GROUP BY in a database) gives the same fit as one row per customer.

    Returns
    -------
    MBGNBDResult
        ``.params`` (``r, alpha, a, b``), ``.se``, ``.loglik``, ``.aic``, ``.bic``,
        ``.summary()``, and the prediction methods ``expected_purchases``,
        ``conditional_expected_purchases``, ``p_alive``, ``predict``.

    Examples
    --------
    >>> from crm_research import clv
    >>> cdnow = clv.read_cdnow("tests/data/cdnow/CDNOW_sample.txt")
    >>> cal = clv.rfm_summary(cdnow, calibration_end="1997-09-30", observation_end="1998-06-30")
    >>> mbg = clv.fit_mbgnbd(cal)
    >>> round(mbg.loglik, 2), mbg.converged
    (-9582.14, True)
    >>> h = cal.groupby(['frequency', 'recency', 'T']).size().rename('n').reset_index()   # distinct histories
    >>> w = clv.fit_mbgnbd(h, weights_col='n')
    >>> len(h) < len(cal), w.n == mbg.n, bool((w.params == mbg.params).all())
    (True, True, True)
    """
    return fit_purchase_model(MBGNBDResult, data, mbgnbd_loglik, PARAMS, start,
                              frequency_col, recency_col, T_col, (REFERENCE,), gradient=mbgnbd_loglik_gradient,
                              totals=partial(beta_geometric_totals, after_first=True), weights_col=weights_col)

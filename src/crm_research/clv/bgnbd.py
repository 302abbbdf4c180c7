"""BG/NBD model of repeat purchasing (Fader, Hardie & Lee 2005).

While active, a customer buys as a Poisson process with rate ``lambda``; after every purchase
the customer drops out with probability ``p``. Across customers ``lambda ~ Gamma(r, alpha)``
(shape ``r``, rate ``alpha``) and ``p ~ Beta(a, b)``.

Formulas (numbers refer to Fader, Hardie & Lee 2005, *Marketing Science* 24(2), 275-284):

* log-likelihood of ``(x, t_x, T)`` -- eq. (6), computed in log space with ``logaddexp``;
* ``E[X(t)]`` -- eq. (9);
* ``P(alive | x, t_x, T)`` -- eq. (13); equals 1 when ``x == 0`` (the model lets a customer
  drop out only right after a repeat purchase). This is an artefact, not a finding: a customer
  who bought once two years ago is "certainly alive" (on the CDNOW 1/10 sample 1,411 of 2,357
  customers). :meth:`BGNBDResult.p_alive`, ``predict`` and ``summary`` say so
  (:data:`P_ALIVE_CAVEAT`); :mod:`.mbgnbd` (MBG/NBD) and :mod:`.pareto_nbd` do not have it;
* ``E[Y(t) | x, t_x, T]`` -- eq. (10).

The Gaussian hypergeometric terms of (9) and (10), ``(1-z)^(r+x) 2F1(r+x, b+x; a+b+x-1; z)``
with ``z = t/(alpha+T+t)``, are evaluated after Euler's transformation as
``(1-z)^(a-1) 2F1(a+b-1-r, a-1; a+b+x-1; z)``: both forms are equal, but the second neither
overflows for large ``x`` nor loses precision as ``z -> 1`` (the "#NUM!" problem of the
original expression; cf. Fader & Hardie 2013, "Overcoming the BG/NBD model's #NUM! error
problem").
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import numpy as np
import pandas as pd

from ._purchase import PurchaseModelResult, beta_geometric_totals, fit_purchase_model

PARAMS = ["r", "alpha", "a", "b"]
P_ALIVE_CAVEAT = ("BG/NBD P(alive) is 1 for every customer without repeat purchases, however long ago they "
                  "bought (the model lets customers drop out only after a repeat purchase); use MBG/NBD "
                  "(fit_mbgnbd) or Pareto/NBD for their churn risk")
REFERENCE = ('Fader, Hardie & Lee (2005), "Counting your customers" the easy way: an alternative to '
             "the Pareto/NBD model, Marketing Science 24(2), 275-284")


def bgnbd_loglik(params, x, t_x, T) -> np.ndarray:
    """Per-customer BG/NBD log-likelihood (eq. 6 of Fader, Hardie & Lee 2005).

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
    >>> P = (0.243, 4.414, 0.793, 2.426)   # published CDNOW estimates
    >>> bgnbd_loglik(P, [0, 2], [0.0, 30.43], [38.86, 38.86]).round(4)
    array([-0.5547, -9.4586])
    """
    from scipy.special import gammaln

    r, alpha, a, b = params
    x, t_x, T = (np.asarray(v, dtype=float) for v in (x, t_x, T))
    A1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    A2 = gammaln(a + b) + gammaln(b + x) - gammaln(b) - gammaln(a + b + x)
    A3 = -(r + x) * np.log(alpha + T)
    with np.errstate(divide="ignore", invalid="ignore"):
        A4 = np.where(x > 0, np.log(a) - np.log(np.where(x > 0, b + x - 1.0, 1.0)) - (r + x) * np.log(alpha + t_x),
                      -np.inf)
    return A1 + A2 + np.logaddexp(A3, A4)


def bgnbd_loglik_gradient(params, x, t_x, T) -> np.ndarray:
    """Per-customer gradient of :func:`bgnbd_loglik` w.r.t. ``(r, alpha, a, b)``; shape (n, 4).

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
    >>> P = (0.243, 4.414, 0.793, 2.426)   # published CDNOW estimates
    >>> bgnbd_loglik_gradient(P, [2], [30.43], [38.86]).shape
    (1, 4)
    """
    from scipy.special import digamma

    r, alpha, a, b = params
    x, t_x, T = (np.asarray(v, dtype=float) for v in (x, t_x, T))
    pos = x > 0
    bx1 = np.where(pos, b + x - 1.0, 1.0)
    A3 = -(r + x) * np.log(alpha + T)
    with np.errstate(divide="ignore", invalid="ignore"):
        A4 = np.where(pos, np.log(a) - np.log(bx1) - (r + x) * np.log(alpha + t_x), -np.inf)
    w4 = np.where(pos, 1.0 / (1.0 + np.exp(A3 - A4)), 0.0)  # share of the "dropped out after t_x" term
    w3 = 1.0 - w4
    d_r = (digamma(r + x) - digamma(r) + np.log(alpha)
           - w3 * np.log(alpha + T) - w4 * np.log(alpha + t_x))
    d_alpha = r / alpha - w3 * (r + x) / (alpha + T) - w4 * (r + x) / (alpha + t_x)
    d_a = digamma(a + b) - digamma(a + b + x) + w4 / a
    d_b = digamma(a + b) + digamma(b + x) - digamma(b) - digamma(a + b + x) - w4 / bx1
    return np.column_stack([d_r, d_alpha, d_a, d_b])


def bgnbd_p_alive(params, x, t_x, T) -> np.ndarray:
    """P(alive | x, t_x, T) (eq. 13); 1 for customers without repeat purchases.

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
    >>> P = (0.243, 4.414, 0.793, 2.426)   # published CDNOW estimates
    >>> bgnbd_p_alive(P, [0, 2, 2], [0.0, 30.43, 5.0], [38.86, 38.86, 38.86]).round(3)
    array([1.   , 0.727, 0.124])
    """
    r, alpha, a, b = params
    x, t_x, T = (np.asarray(v, dtype=float) for v in (x, t_x, T))
    with np.errstate(divide="ignore", invalid="ignore"):
        log_odds_dead = (np.log(a) - np.log(np.where(x > 0, b + x - 1.0, 1.0))
                         + (r + x) * (np.log(alpha + T) - np.log(alpha + t_x)))
        p = 1.0 / (1.0 + np.exp(log_odds_dead))
    return np.where(x > 0, p, 1.0)


def _bracket(params, t, x, T) -> np.ndarray:
    """(a+b+x-1)/(a-1) * [1 - (1-z)^(a-1) 2F1(a+b-1-r, a-1; a+b+x-1; z)], z = t/(alpha+T+t)."""
    from scipy.special import hyp2f1

    r, alpha, a, b = params

    def at(a_):
        z = t / (alpha + T + t)
        h = hyp2f1(a_ + b - 1.0 - r, a_ - 1.0, a_ + b + x - 1.0, z)
        return (a_ + b + x - 1.0) / (a_ - 1.0) * -np.expm1((a_ - 1.0) * np.log1p(-z) + np.log(h))

    if abs(a - 1.0) < 1e-6:  # removable singularity at a = 1: average the two sides
        return 0.5 * (at(1.0 - 1e-6) + at(1.0 + 1e-6))
    return at(a)


def bgnbd_expected(params, t) -> np.ndarray:
    """E[X(t)]: expected repeat purchases in (0, t] for a new customer (eq. 9).

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
    >>> P = (0.243, 4.414, 0.793, 2.426)   # published CDNOW estimates
    >>> bgnbd_expected(P, [39.0, 78.0]).round(4)
    array([1.1967, 1.8605])
    """
    t = np.asarray(t, dtype=float)
    return _bracket(params, t, 0.0, 0.0)


def bgnbd_conditional_expected(params, t, x, t_x, T) -> np.ndarray:
    """E[Y(t) | x, t_x, T]: expected repeat purchases in (T, T+t] (eq. 10).

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
    >>> P = (0.243, 4.414, 0.793, 2.426)   # published CDNOW estimates
    >>> bgnbd_conditional_expected(P, 39.0, [2], [30.43], [38.86]).round(4)
    array([1.226])
    """
    t, x, t_x, T = (np.asarray(v, dtype=float) for v in (t, x, t_x, T))
    return _bracket(params, t, x, T) * bgnbd_p_alive(params, x, t_x, T)


@dataclass(repr=False)
class BGNBDResult(PurchaseModelResult):
    """Fitted BG/NBD model; see :class:`crm_research.clv.PurchaseModelResult` for the methods.

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
    >>> bg = clv.fit_bgnbd(cal)
    >>> bg.params.round(3).to_dict()
    {'r': 0.243, 'alpha': 4.414, 'a': 0.793, 'b': 2.426}
    """

    MODEL = "BG/NBD"
    _expected = staticmethod(bgnbd_expected)
    _conditional = staticmethod(bgnbd_conditional_expected)
    _p_alive = staticmethod(bgnbd_p_alive)

    def _caveat(self, x) -> str:
        n0 = int(np.sum(np.asarray(x) == 0))
        return f"{n0:,} of {len(x):,} customers have no repeat purchase: " + P_ALIVE_CAVEAT

    def p_alive(self, data: pd.DataFrame | None = None) -> pd.Series:
        """P(alive | x, t_x, T); ``attrs['caveat']`` states that it is 1 for one-time buyers.

        Parameters
        ----------
        data : DataFrame, optional
            RFM summary (default: the customers the model was fitted to).

        Returns
        -------
        pandas.Series
            Indexed by customer id; ``attrs['caveat']`` counts the customers without repeat
            purchases, whose P(alive) is 1 by construction.

        Examples
        --------
        >>> from crm_research import clv
        >>> cdnow = clv.read_cdnow("tests/data/cdnow/CDNOW_sample.txt")
        >>> cal = clv.rfm_summary(cdnow, calibration_end="1997-09-30", observation_end="1998-06-30")
        >>> pa = clv.fit_bgnbd(cal).p_alive()
        >>> print(pa.attrs['caveat'].split(':')[0])
        1,411 of 2,357 customers have no repeat purchase
        """
        out = super().p_alive(data)
        d, x, _, _ = self._arrays(data)
        out.attrs["caveat"] = self._caveat(x)
        return out

    def predict(self, t, data: pd.DataFrame | None = None) -> pd.DataFrame:
        """Per-customer table as in :meth:`PurchaseModelResult.predict`, with ``attrs['caveat']``.

        Parameters
        ----------
        t : float or array-like
            Length of the future period.
        data : DataFrame, optional
            RFM summary (default: the customers the model was fitted to).

        Returns
        -------
        DataFrame
            ``attrs['caveat']`` states that ``p_alive`` is 1 for customers without repeat purchases.

        Examples
        --------
        >>> from crm_research import clv
        >>> cdnow = clv.read_cdnow("tests/data/cdnow/CDNOW_sample.txt")
        >>> cal = clv.rfm_summary(cdnow, calibration_end="1997-09-30", observation_end="1998-06-30")
        >>> 'MBG/NBD' in clv.fit_bgnbd(cal).predict(39.0).attrs['caveat']
        True
        """
        out = super().predict(t, data)
        out.attrs["caveat"] = self._caveat(out["frequency"].to_numpy())
        return out

    def _extra_lines(self) -> list[str]:
        return super()._extra_lines() + ["Caveat: " + self._caveat(self.data["frequency"].to_numpy())]


def fit_bgnbd(data: pd.DataFrame, *, frequency_col: str = "frequency", recency_col: str = "recency",
              T_col: str = "T", start=(1.0, 1.0, 1.0, 1.0),
              weights_col: str | None = None) -> BGNBDResult:
    """Fit the BG/NBD model by maximum likelihood.

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
    BGNBDResult
        ``.params`` (``r, alpha, a, b``), ``.se``, ``.loglik``, ``.aic``, ``.bic``,
        ``.summary()``, and the prediction methods ``expected_purchases``,
        ``conditional_expected_purchases``, ``p_alive``, ``predict``.

    Examples
    --------
    >>> from crm_research import clv
    >>> cdnow = clv.read_cdnow("tests/data/cdnow/CDNOW_sample.txt")
    >>> cal = clv.rfm_summary(cdnow, calibration_end="1997-09-30", observation_end="1998-06-30")
    >>> bg = clv.fit_bgnbd(cal)
    >>> round(bg.loglik, 1), bg.converged
    (-9582.4, True)
    """
    return fit_purchase_model(BGNBDResult, data, bgnbd_loglik, PARAMS, start,
                              frequency_col, recency_col, T_col, (REFERENCE,), gradient=bgnbd_loglik_gradient,
                              totals=partial(beta_geometric_totals, after_first=False), weights_col=weights_col)

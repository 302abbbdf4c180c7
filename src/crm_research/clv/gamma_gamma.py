"""Gamma-Gamma model of spend per transaction (Fader, Hardie & Lee 2005; Fader & Hardie 2013).

A customer's transaction values are Gamma(p, nu) (shape ``p``, rate ``nu``); across
customers ``nu ~ Gamma(q, gamma)``. Only the ``x`` repeat transactions are modelled, through
their mean ``zbar`` (the first purchase is excluded, as in the CDNOW analyses), so the model
is fitted to the customers with at least one repeat purchase in the calibration period.
The model assumes spend is independent of purchase frequency; the fitted result reports
the Pearson correlation between ``frequency`` and ``monetary_value`` so this can be checked.

* density of ``zbar`` given ``x``: Fader & Hardie (2013), eq. (3)::

      f(zbar | p, q, gamma; x) = Gamma(px+q) / (Gamma(px) Gamma(q)) * gamma^q zbar^(px-1) x^(px)
                                 / (gamma + x zbar)^(px+q)

* conditional expected spend per transaction, eq. (5)::

      E[Z | p, q, gamma; x, zbar] = p (gamma + x zbar) / (p x + q - 1)

  a weighted mean of the population mean ``p gamma / (q - 1)`` and the customer's ``zbar``;
  for ``x = 0`` it is the population mean.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..errors import DataFileError, ModelError
from ._mle import FitResult, compress, maximize, standard_errors
from .summary import py_scalar, summary_columns

PARAMS = ["p", "q", "gamma"]
REFERENCES = ('Fader, Hardie & Lee (2005), RFM and CLV: using iso-value curves for customer base analysis, '
              "Journal of Marketing Research 42(4), 415-430",
              "Fader & Hardie (2013), The Gamma-Gamma model of monetary value")


def gamma_gamma_loglik(params, x, zbar) -> np.ndarray:
    """Per-customer log-density of the mean repeat spend ``zbar`` over ``x`` transactions.

    Parameters
    ----------
    params : sequence of 3 floats
        ``(p, q, gamma)``.
    x : array-like
        Repeat transactions (> 0).
    zbar : array-like
        Mean value of those transactions.

    Returns
    -------
    numpy.ndarray

    Examples
    --------
    >>> P = (6.25, 3.74, 15.44)   # published CDNOW estimates
    >>> gamma_gamma_loglik(P, [1, 5], [20.0, 35.0]).round(4)
    array([-3.5942, -4.0371])
    """
    from scipy.special import gammaln

    p, q, g = params
    x, zbar = np.asarray(x, dtype=float), np.asarray(zbar, dtype=float)
    px = p * x
    return (gammaln(px + q) - gammaln(px) - gammaln(q) + q * np.log(g) + (px - 1.0) * np.log(zbar)
            + px * np.log(x) - (px + q) * np.log(g + x * zbar))


def gamma_gamma_loglik_gradient(params, x, zbar) -> np.ndarray:
    """Per-customer gradient of :func:`gamma_gamma_loglik` w.r.t. ``(p, q, gamma)``; shape (n, 3).

    Parameters
    ----------
    params : sequence of 3 floats
        ``(p, q, gamma)``.
    x : array-like
        Repeat transactions (> 0).
    zbar : array-like
        Mean value of those transactions.

    Returns
    -------
    numpy.ndarray
        Shape (n, 3).

    Examples
    --------
    >>> P = (6.25, 3.74, 15.44)   # published CDNOW estimates
    >>> gamma_gamma_loglik_gradient(P, [1, 5], [20.0, 35.0]).shape
    (2, 3)
    """
    from scipy.special import digamma

    p, q, g = params
    x, zbar = np.asarray(x, dtype=float), np.asarray(zbar, dtype=float)
    px = p * x
    log_gxz = np.log(g + x * zbar)
    d_p = x * (digamma(px + q) - digamma(px) + np.log(zbar) + np.log(x) - log_gxz)
    d_q = digamma(px + q) - digamma(q) + np.log(g) - log_gxz
    d_g = q / g - (px + q) / (g + x * zbar)
    return np.column_stack([d_p, d_q, d_g])


def gamma_gamma_expected_spend(params, x, zbar) -> np.ndarray:
    """E[Z | x, zbar]: expected mean spend per future transaction (eq. 5).

    Parameters
    ----------
    params : sequence of 3 floats
        ``(p, q, gamma)``.
    x : array-like
        Repeat transactions (> 0).
    zbar : array-like
        Mean value of those transactions.

    Returns
    -------
    numpy.ndarray

    Examples
    --------
    >>> P = (6.25, 3.74, 15.44)   # published CDNOW estimates
    >>> gamma_gamma_expected_spend(P, [0, 1, 5], [0.0, 20.0, 35.0]).round(2)
    array([35.22, 24.64, 35.02])
    """
    p, q, g = params
    x, zbar = np.asarray(x, dtype=float), np.asarray(zbar, dtype=float)
    if q <= 1:
        raise ModelError(f"Gamma-Gamma: q = {q:.4g} <= 1, so the spend distribution has no finite mean "
                         "and expected spend is undefined",
                         hint="check for extreme transaction values (outliers) in the data")
    return p * (g + x * np.where(x > 0, zbar, 0.0)) / (p * x + q - 1.0)


def _spend_data(data: pd.DataFrame, frequency_col: str, monetary_col: str, what: str = "summary"):
    ids, cols = summary_columns(data, [frequency_col, monetary_col], what,
                                hint="build the summary with rfm_summary() (monetary_col must be given) or name "
                                     "the columns with frequency_col=, monetary_col=")
    return pd.DataFrame({"customer_id": ids, "frequency": cols[frequency_col], "monetary_value": cols[monetary_col]})


@dataclass(repr=False)
class GammaGammaResult(FitResult):
    """Fitted Gamma-Gamma spend model.

    Extra attributes: ``n_excluded`` (customers without repeat purchases, not used in the
    fit), ``n_zero_spend`` (customers with repeat purchases whose mean repeat spend is 0, e.g.
    only free orders: the model's spend is positive, so they are left out of the fit and counted
    here; their expected spend is still given) and ``corr_frequency_spend`` (Pearson correlation of ``frequency`` and
    ``monetary_value`` among the customers fitted; the model assumes independence).

    Parameters
    ----------
    model, params, se, loglik, n, converged, iterations, message, references
        As in :class:`~crm_research.clv.FitResult`.

    Examples
    --------
    >>> from crm_research import clv
    >>> cdnow = clv.read_cdnow("tests/data/cdnow/CDNOW_sample.txt")
    >>> cal = clv.rfm_summary(cdnow, calibration_end="1997-09-30", observation_end="1998-06-30")
    >>> gg = clv.fit_gamma_gamma(cal)
    >>> gg.params.round(2).to_dict()
    {'p': 6.25, 'q': 3.74, 'gamma': 15.44}
    """

    data: pd.DataFrame = field(default=None, repr=False)
    n_excluded: int = 0
    n_zero_spend: int = 0
    corr_frequency_spend: float = float("nan")
    MODEL = "Gamma-Gamma"

    @property
    def population_mean_spend(self) -> float:
        """E[Z] = p gamma / (q - 1): mean spend per transaction of a random customer.

        Returns
        -------
        float

        Examples
        --------
        >>> from crm_research import clv
        >>> cdnow = clv.read_cdnow("tests/data/cdnow/CDNOW_sample.txt")
        >>> cal = clv.rfm_summary(cdnow, calibration_end="1997-09-30", observation_end="1998-06-30")
        >>> round(clv.fit_gamma_gamma(cal).population_mean_spend, 2)
        35.17
        """
        p, q, g = self.params.to_numpy()
        return float(p * g / (q - 1.0)) if q > 1 else float("inf")

    def conditional_expected_spend(self, data: pd.DataFrame | None = None, *,
                                   frequency_col: str = "frequency",
                                   monetary_col: str = "monetary_value") -> pd.Series:
        """Expected spend per future transaction for each customer (eq. 5).

        ``data`` defaults to the customers the model was fitted to; customers with
        ``frequency == 0`` get the population mean.

        Parameters
        ----------
        data : DataFrame, optional
            RFM summary (default: the customers the model was fitted to).
        frequency_col, monetary_col : str
            Column names.

        Returns
        -------
        pandas.Series
            Indexed by customer id.

        Examples
        --------
        >>> from crm_research import clv
        >>> cdnow = clv.read_cdnow("tests/data/cdnow/CDNOW_sample.txt")
        >>> cal = clv.rfm_summary(cdnow, calibration_end="1997-09-30", observation_end="1998-06-30")
        >>> clv.fit_gamma_gamma(cal).conditional_expected_spend().head(3).round(2)
        customer_id
        1    24.65
        2    18.91
        6    71.46
        Name: expected_spend, dtype: float64
        """
        d = self.data if data is None else _spend_data(data, frequency_col, monetary_col)
        v = gamma_gamma_expected_spend(self.params.to_numpy(), d["frequency"], d["monetary_value"])
        return pd.Series(v, index=pd.Index(d["customer_id"], name="customer_id"), name="expected_spend")

    def _extra_lines(self) -> list[str]:
        lines = [f"Mean spend per transaction: observed {self.data['monetary_value'].mean():.2f}, "
                 f"population mean p*gamma/(q-1) = {self.population_mean_spend:.2f}"]
        if self.n_excluded:
            lines.append(f"{self.n_excluded:,} customers without repeat purchases were not used in the fit.")
        if self.n_zero_spend:
            lines.append(f"{self.n_zero_spend:,} customers with repeat purchases but mean repeat spend 0 "
                         "(free orders only) were left out of the fit.")
        lines.append(f"corr(frequency, monetary_value) = {self.corr_frequency_spend:.3f} "
                     "(the model assumes they are independent)")
        return lines


def fit_gamma_gamma(data: pd.DataFrame, *, frequency_col: str = "frequency",
                    monetary_col: str = "monetary_value", start=(1.0, 1.0, 1.0)) -> GammaGammaResult:
    """Fit the Gamma-Gamma spend model by maximum likelihood.

    Parameters
    ----------
    data : pandas.DataFrame
        RFM summary with ``frequency`` (repeat purchases) and ``monetary_value`` (mean value
        of the repeat purchases), as :func:`rfm_summary` returns. Customers with
        ``frequency == 0`` are left out of the fit (they carry no repeat-spend information).
    frequency_col, monetary_col : str
        Column names, if they differ from the defaults.
    start : sequence of 3 floats
        Start values for ``p, q, gamma``.

    Returns
    -------
    GammaGammaResult

    Raises
    ------
    ModelError
        No customer with a repeat purchase.
    DataFileError
        A repeat customer with ``monetary_value < 0``. Repeat customers with mean repeat spend
        exactly 0 ($0 orders only) are left out of the fit and counted in ``n_zero_spend``.

    Examples
    --------
    >>> from crm_research import clv
    >>> cdnow = clv.read_cdnow("tests/data/cdnow/CDNOW_sample.txt")
    >>> cal = clv.rfm_summary(cdnow, calibration_end="1997-09-30", observation_end="1998-06-30")
    >>> gg = clv.fit_gamma_gamma(cal)
    >>> round(gg.loglik, 1), gg.n
    (-4055.9, 946)
    """
    d = _spend_data(data, frequency_col, monetary_col)
    rep = d[d["frequency"] > 0].reset_index(drop=True)
    if len(rep) == 0:
        raise ModelError("Gamma-Gamma: no customer has a repeat purchase in the calibration period, so "
                         "there is no repeat spend to model",
                         hint="use a longer calibration period or a larger customer sample")
    bad = (rep["monetary_value"] < 0).to_numpy()
    if bad.any():
        i = int(np.argmax(bad))
        raise DataFileError("summary", f"customer {py_scalar(rep['customer_id'].iloc[i])!r} has a negative "
                            "mean repeat spend; the Gamma-Gamma model needs amounts >= 0",
                            column=monetary_col, value=float(rep["monetary_value"].iloc[i]),
                            hint="returns and refunds are not purchases: drop them before fitting")
    zero = (rep["monetary_value"] == 0).to_numpy()
    n_zero = int(zero.sum())
    rep = rep[~zero].reset_index(drop=True)
    if len(rep) == 0:
        raise ModelError(f"Gamma-Gamma: all {n_zero:,} customers with repeat purchases have mean repeat spend 0, "
                         "so there is no spend to model", hint="check the amount column")
    if len(rep) < 3:
        raise ModelError(f"Gamma-Gamma: only {len(rep)} customer(s) with repeat purchases; 3 parameters "
                         "cannot be estimated from so few", hint="use more customers")
    (x, z), w = compress(rep["frequency"], rep["monetary_value"])

    def total(theta):
        return float(np.dot(w, gamma_gamma_loglik(theta, x, z)))

    def total_gradient(theta):
        return w @ gamma_gamma_loglik_gradient(theta, x, z)

    opt = maximize(total, np.asarray(start, dtype=float), n=len(rep), model="Gamma-Gamma",
                   gradient=total_gradient)
    se = standard_errors(opt)
    corr = float(np.corrcoef(rep["frequency"], rep["monetary_value"])[0, 1]) if len(rep) > 2 else math.nan
    return GammaGammaResult(model="Gamma-Gamma", params=pd.Series(opt.params, index=PARAMS, name="est"),
                            se=pd.Series(se, index=PARAMS, name="se"), loglik=opt.loglik, n=len(rep),
                            converged=opt.converged, iterations=opt.iterations, message=opt.message,
                            references=REFERENCES, data=rep, n_excluded=int(len(d) - len(rep) - n_zero),
                            n_zero_spend=n_zero, corr_frequency_spend=corr)

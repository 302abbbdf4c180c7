"""Customer lifetime value: a purchase-count model times a spend model, discounted.

For customer ``i`` with history ``(x, t_x, T, zbar)``, horizon ``H`` periods of length ``L``
(model time units) and discount rate ``d`` per period::

    CLV_i = sum_{k=1..H} E[Z_i] * (E[Y_i(kL)] - E[Y_i((k-1)L)]) / (1 + d)^k

where ``E[Y_i(t)]`` is the purchase model's conditional expected number of purchases in
the next ``t`` time units and ``E[Z_i]`` the Gamma-Gamma conditional expected spend per
purchase. This is the discrete discounting scheme of ``lifetimes``'
``GammaGammaFitter.customer_lifetime_value`` (purchases of period ``k`` are discounted
as if they all happened at its end), including its default month lengths (4.345 weeks or
30 days), so results agree with lifetimes given the same parameters.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import ConfigError, DataFileError
from ._purchase import PurchaseModelResult, purchase_data
from .gamma_gamma import GammaGammaResult

#: length of one month in model time units, as lifetimes uses
MONTH_LENGTH = {"W": 4.345, "D": 30.0}


def customer_lifetime_value(purchase_model: PurchaseModelResult, spend_model: GammaGammaResult,
                            data: pd.DataFrame, *, horizon: int = 12, discount_rate: float = 0.01,
                            period_length: float | None = None, freq: str | None = None) -> pd.DataFrame:
    """Discounted expected value of each customer's purchases over the next ``horizon`` periods.

    Parameters
    ----------
    purchase_model : BGNBDResult or ParetoNBDResult
        Fitted purchase-count model.
    spend_model : GammaGammaResult
        Fitted spend model.
    data : pandas.DataFrame
        RFM summary (:func:`rfm_summary`): ``customer_id, frequency, recency, T,
        monetary_value``.
    horizon : int
        Number of discounting periods (months by default). Default 12.
    discount_rate : float
        Discount rate per period (0.01 = 1% a month, about 12.7% a year).
    period_length : float, optional
        Length of one period in the model's time unit. Defaults to a month:
        4.345 weeks (``freq="W"``) or 30 days (``freq="D"``).
    freq : {"W", "D"}, optional
        Time unit of the summary; read from ``data.attrs["freq"]`` (set by
        :func:`rfm_summary`) when not given.

    Returns
    -------
    pandas.DataFrame
        ``customer_id, frequency, recency, T, monetary_value, p_alive,
        expected_purchases`` (undiscounted, over the horizon), ``expected_spend`` (per
        purchase), ``clv``; one row per customer in the order of ``data``.

    Raises
    ------
    ConfigError
        A bad ``horizon``, ``discount_rate``, ``period_length`` or unknown time unit.
    DataFileError
        The summary lacks ``monetary_value``.

    Examples
    --------
    >>> from crm_research import clv
    >>> cdnow = clv.read_cdnow("tests/data/cdnow/CDNOW_sample.txt")
    >>> summary = clv.rfm_summary(cdnow, calibration_end="1998-06-30")
    >>> pn, gg = clv.fit_pareto_nbd(summary), clv.fit_gamma_gamma(summary)
    >>> value = customer_lifetime_value(pn, gg, summary, horizon=12, discount_rate=0.01)
    >>> value[['customer_id', 'frequency', 'p_alive', 'expected_purchases', 'clv']].head(3).round(3)
       customer_id  frequency  p_alive  expected_purchases     clv
    0            1        3.0    0.728               1.353  33.009
    1            2        1.0    0.102               0.083   1.683
    2            3        0.0    0.265               0.078   2.617
    >>> customer_lifetime_value(pn, gg, summary, horizon=0)
    Traceback (most recent call last):
    ...
    crm_research.errors.ConfigError: customer_lifetime_value: horizon: must be a whole number >= 1, got 0 (fix: e.g. horizon=12 for twelve months)
    """
    if not isinstance(horizon, (int, np.integer)) or horizon < 1:
        raise ConfigError("customer_lifetime_value", "horizon", f"must be a whole number >= 1, got {horizon!r}",
                          hint="e.g. horizon=12 for twelve months")
    if not np.isfinite(discount_rate) or discount_rate <= -1:
        raise ConfigError("customer_lifetime_value", "discount_rate", f"must be > -1, got {discount_rate!r}",
                          hint="e.g. 0.01 for 1% per month")
    if period_length is None:
        f = freq or (data.attrs.get("freq") if isinstance(data, pd.DataFrame) else None)
        if f is None:
            raise ConfigError("customer_lifetime_value", "freq",
                              "the time unit of the summary is unknown, so the month length cannot be chosen",
                              hint="pass freq='W' or 'D' (or period_length=) or build the summary with rfm_summary()")
        try:
            period_length = MONTH_LENGTH[str(f).upper()]
        except KeyError:
            raise ConfigError("customer_lifetime_value", "freq", f"unknown time unit {f!r}; expected "
                              f"{sorted(MONTH_LENGTH)}", hint="or pass period_length=") from None
    if not np.isfinite(period_length) or period_length <= 0:
        raise ConfigError("customer_lifetime_value", "period_length", f"must be > 0, got {period_length!r}")
    d = purchase_data(data)
    if "monetary_value" not in data.columns:
        raise DataFileError("summary", "missing column 'monetary_value'",
                            hint="build the summary with rfm_summary(..., monetary_col=...)")
    d["monetary_value"] = pd.to_numeric(data["monetary_value"], errors="coerce").to_numpy(dtype=float)
    spend = spend_model.conditional_expected_spend(d).to_numpy()
    cum = np.zeros(len(d))
    value = np.zeros(len(d))
    prev = np.zeros(len(d))
    for k in range(1, horizon + 1):
        cum = purchase_model.conditional_expected_purchases(k * period_length, d).to_numpy()
        value += spend * (cum - prev) / (1.0 + discount_rate) ** k
        prev = cum
    out = d.copy()
    out["p_alive"] = purchase_model.p_alive(d).to_numpy()
    out["expected_purchases"] = cum
    out["expected_spend"] = spend
    out["clv"] = value
    out.attrs.update({"horizon": int(horizon), "discount_rate": float(discount_rate),
                      "period_length": float(period_length), "purchase_model": purchase_model.model})
    return out

"""Continuous variables among ordered ones: their univariate normal fit and two-step
polyserial correlations with ordered variables (lavaan's ``lav_uvreg_fit`` and
``lav_bvmix_cor_twostep_fit``), with the case-wise scores Muthen's (1984) NACOV needs
(``lav_bvmix_cor_scores``).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import ndtr

from .thresholds import OrderedItem, norm_pdf


@dataclass
class ContinuousItem:
    """A continuous variable: values (NaN = missing), ML mean and variance (divisor N)."""

    name: str
    values: np.ndarray
    mean: float
    var: float

    def scores(self):
        """Case-wise scores of the normal log-likelihood for (mean, variance); 0 where missing."""
        ok = ~np.isnan(self.values)
        r = np.where(ok, np.nan_to_num(self.values) - self.mean, 0.0)
        s_mu = r / self.var
        s_var = np.where(ok, -1.0 / (2 * self.var) + r * r / (2 * self.var ** 2), 0.0)
        return s_mu, s_var


def continuous_item(name: str, values) -> ContinuousItem:
    """Mean and ML variance of a continuous variable (missing values skipped).

    Examples
    --------
    >>> c = continuous_item("x", [1.0, 2.0, 3.0, float("nan")])
    >>> c.mean, round(c.var, 4)
    (2.0, 0.6667)
    """
    v = np.asarray(values, float)
    ok = ~np.isnan(v)
    m = float(v[ok].mean())
    return ContinuousItem(name, v, m, float(((v[ok] - m) ** 2).mean()))


def _parts(c: ContinuousItem, o: OrderedItem, rho: float):
    ok = ~np.isnan(c.values) & (o.codes >= 0)
    z = (c.values[ok] - c.mean) / np.sqrt(c.var)
    ext = np.concatenate([[-np.inf], o.tau, [np.inf]])
    up = ext[o.codes[ok] + 1]
    lo = ext[o.codes[ok]]
    R = np.sqrt(1.0 - rho * rho)
    with np.errstate(invalid="ignore"):
        u1 = (up - rho * z) / R
        u2 = (lo - rho * z) / R
    u1 = np.where(np.isposinf(up), np.inf, u1)
    u2 = np.where(np.isneginf(lo), -np.inf, u2)
    P = np.maximum(ndtr(u1) - ndtr(u2), np.finfo(float).eps)
    return ok, z, up, lo, R, u1, u2, P


def polyserial(c: ContinuousItem, o: OrderedItem) -> tuple[float, bool]:
    """Two-step polyserial correlation of a continuous and an ordered variable.

    Returns
    -------
    rho : float
    converged : bool

    Examples
    --------
    >>> import numpy as np
    >>> from crm_research.sem.thresholds import ordered_item
    >>> rng = np.random.default_rng(1)
    >>> z = rng.multivariate_normal([0, 0], [[1, .5], [.5, 1]], size=3000)
    >>> r, ok = polyserial(continuous_item("x", z[:, 0]), ordered_item("y", np.digitize(z[:, 1], [-1, 0, 1])))
    >>> bool(abs(r - 0.5) < 0.05), ok
    (True, True)
    """
    def nll(r):
        return -np.log(_parts(c, o, r)[-1]).sum()

    res = minimize_scalar(nll, bounds=(-0.999, 0.999), method="bounded", options={"xatol": 1e-12})
    return float(res.x), bool(res.success)


def polyserial_scores(c: ContinuousItem, o: OrderedItem, rho: float):
    """Case-wise derivatives of the bivariate (continuous x ordered) log-likelihood with
    respect to rho, the mean and variance of the continuous variable and the thresholds of
    the ordered one; zero rows where either value is missing.

    Examples
    --------
    >>> import numpy as np
    >>> from crm_research.sem.thresholds import ordered_item
    >>> rng = np.random.default_rng(3)
    >>> z = rng.multivariate_normal([0, 0], [[1, .5], [.5, 1]], size=400)
    >>> c, o = continuous_item("x", z[:, 0]), ordered_item("y", np.digitize(z[:, 1], [0]))
    >>> r, _ = polyserial(c, o)
    >>> bool(abs(polyserial_scores(c, o, r)["rho"].sum()) < 1e-4)   # zero at the estimate
    True
    """
    ok, z, up, lo, R, u1, u2, P = _parts(c, o, rho)
    N = len(c.values)
    p1, p2 = norm_pdf(u1), norm_pdf(u2)
    inv = 1.0 / P
    sd = np.sqrt(c.var)
    d = p1 - p2
    out = {k: np.zeros(N) for k in ("rho", "mu", "var")}
    out["mu"][ok] = (z + inv * (rho / R) * d) / sd
    out["var"][ok] = ((z * z - 1.0) + inv * rho * z / R * d) / (2.0 * c.var)
    t1 = np.where(np.isfinite(up), p1 * (np.where(np.isfinite(up), up, 0.0) * rho - z), 0.0)
    t2 = np.where(np.isfinite(lo), p2 * (np.where(np.isfinite(lo), lo, 0.0) * rho - z), 0.0)
    out["rho"][ok] = inv * (t1 - t2) / R ** 3
    K = o.n_categories
    th = np.zeros((N, K - 1))
    codes = o.codes[ok]
    rows = np.where(ok)[0]
    has_up = codes < K - 1
    th[rows[has_up], codes[has_up]] += p1[has_up] / R * inv[has_up]
    has_lo = codes > 0
    th[rows[has_lo], codes[has_lo] - 1] -= p2[has_lo] / R * inv[has_lo]
    out["th"] = th
    return out

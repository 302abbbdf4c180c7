"""Thresholds of ordered categorical variables (the first step of lavaan's two-step method).

An ordered item with categories ``1..K`` is read as a cut-up standard normal latent response:
``y = k`` when ``tau_{k-1} < y* <= tau_k``.  Without covariates the maximum-likelihood
thresholds are the normal quantiles of the cumulative proportions (lavaan's
``lav_uvord_fit``); the case-wise scores of the univariate log-likelihood feed the
asymptotic covariance of the sample statistics (Muthen, 1984; lavaan's ``muthen1984``).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import ndtr, ndtri

from ..errors import ModelError

_SQRT2PI = np.sqrt(2.0 * np.pi)


def norm_pdf(x):
    """Standard normal density (0 at +-inf).

    Examples
    --------
    >>> [round(float(v), 6) for v in norm_pdf([0.0, float("inf")])]
    [0.398942, 0.0]
    """
    x = np.asarray(x, float)
    with np.errstate(over="ignore", invalid="ignore"):
        out = np.exp(-0.5 * x * x) / _SQRT2PI
    return np.where(np.isfinite(x), out, 0.0)


@dataclass
class OrderedItem:
    """One ordered variable: its category codes and estimated thresholds.

    Attributes
    ----------
    name : str
    levels : ndarray
        The distinct observed values, sorted (lavaan's ordered factor levels).
    codes : ndarray of int
        Category index 0..K-1 of every row, -1 where missing.
    counts : ndarray of int
        Frequencies of the K categories.
    tau : ndarray
        The K-1 thresholds.
    """

    name: str
    levels: np.ndarray
    codes: np.ndarray
    counts: np.ndarray
    tau: np.ndarray

    @property
    def n_categories(self) -> int:
        return len(self.levels)

    def scores(self) -> np.ndarray:
        """Case-wise derivatives of the univariate log-likelihood with respect to the
        thresholds, (N, K-1); zero rows for missing values (lavaan's ``lav_uvord_scores``).

        Examples
        --------
        >>> it = ordered_item("q", [1, 2, 2, 3, float("nan")])
        >>> it.scores().shape, float(abs(it.scores().sum(axis=0)).max()) < 1e-12   # zero at the MLE
        ((5, 2), True)
        """
        K = self.n_categories
        ext = np.concatenate([[-np.inf], self.tau, [np.inf]])
        prob = ndtr(ext[1:]) - ndtr(ext[:-1])                # (K,)
        dens = norm_pdf(self.tau)                            # (K-1,)
        # score of a case in category c for threshold k: (phi(tau_k)[c == k] - phi(tau_k)[c == k+1]) / P_c
        cell = np.zeros((K, K - 1))
        for c in range(K):
            if c < K - 1:
                cell[c, c] += dens[c] / prob[c]
            if c > 0:
                cell[c, c - 1] -= dens[c - 1] / prob[c]
        out = np.zeros((len(self.codes), K - 1))
        ok = self.codes >= 0
        out[ok] = cell[self.codes[ok]]
        return out


def ordered_item(name: str, values, levels=None) -> OrderedItem:
    """Thresholds of one ordered variable.

    Parameters
    ----------
    name : str
        Variable name (for messages).
    values : array-like
        The answers; NaN = missing.
    levels : array-like, optional
        The categories (default: the distinct observed values, sorted).

    Returns
    -------
    OrderedItem

    Raises
    ------
    ModelError
        Fewer than two categories, or non-numeric values.

    Examples
    --------
    >>> it = ordered_item("q1", [1, 1, 2, 2, 2, 3, 3, 3, 3, 3])
    >>> [round(float(t), 4) for t in it.tau]
    [-0.8416, 0.0]
    """
    v = pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(float)
    raw = pd.Series(values)
    bad = raw.notna() & np.isnan(v)
    if bad.any():
        raise ModelError(f"ordered variable {name!r} has non-numeric values, e.g. {raw[bad].iloc[0]!r}",
                         hint="code the categories as numbers (1, 2, 3, ...)")
    lev = np.unique(v[~np.isnan(v)]) if levels is None else np.asarray(levels, float)
    if len(lev) < 2:
        raise ModelError(f"ordered variable {name!r} has {len(lev)} observed category(ies); at least 2 are needed",
                         hint="drop the item or do not declare it ordered")
    codes = np.full(len(v), -1, dtype=np.int64)
    ok = ~np.isnan(v)
    codes[ok] = np.searchsorted(lev, v[ok])
    counts = np.bincount(codes[ok], minlength=len(lev))
    if (counts == 0).any():
        empty = [str(lev[k]) for k in np.where(counts == 0)[0]]
        raise ModelError(f"ordered variable {name!r}: no answers in category(ies) {', '.join(empty)}",
                         hint="all groups need every category of an ordered item; merge sparse categories")
    cum = np.cumsum(counts)[:-1] / counts.sum()
    return OrderedItem(name, lev, codes, counts, ndtri(cum))

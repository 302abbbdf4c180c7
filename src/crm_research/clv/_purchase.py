"""What the two purchase-count models (BG/NBD, Pareto/NBD) share: input checks, the fitted-
result class with its predictions, and the fitting driver."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pandas as pd

from ..errors import DataFileError, ModelError
from ._mle import FitResult, compress, maximize, standard_errors
from .summary import py_scalar, summary_columns


def purchase_data(data: pd.DataFrame, frequency_col: str = "frequency", recency_col: str = "recency",
                  T_col: str = "T", *, what: str = "summary") -> pd.DataFrame:
    """Check an RFM summary and return ``customer_id, frequency, recency, T`` (float).

    ``customer_id`` is taken from a ``customer_id`` column when present, else the index.

    Parameters
    ----------
    data : DataFrame
        RFM summary.
    frequency_col, recency_col, T_col : str
        Column names.
    what : str
        Name of the input, for error messages.

    Returns
    -------
    DataFrame

    Raises
    ------
    DataFileError
        A missing column, a value that is not a number >= 0, recency > T, or recency > 0
        without repeat purchases (naming the customer).

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({'customer_id': [1], 'frequency': [2], 'recency': [5.0], 'T': [10.0]})
    >>> purchase_data(df)
       customer_id  frequency  recency     T
    0            1        2.0      5.0  10.0
    >>> purchase_data(df.assign(recency=12.0))
    Traceback (most recent call last):
    ...
    crm_research.errors.DataFileError: summary, row 2, column 'recency', value 12.0: recency 12 is larger than T 10 (customer 1) (fix: recency is the time from the first to the last purchase, T the time from the first purchase to the end of the calibration period)
    """
    ids, cols = summary_columns(data, [frequency_col, recency_col, T_col], what, see=" (see rfm_summary)",
                                hint="build the summary with rfm_summary() or name the columns with "
                                     "frequency_col=, recency_col=, T_col=")
    if len(data) == 0:  # the column checks above pass trivially on an empty frame
        raise DataFileError(what, "has no customers")
    x, tx, T = cols[frequency_col], cols[recency_col], cols[T_col]
    bad = x != np.round(x)
    if bad.any():
        i = int(np.argmax(bad))
        raise DataFileError(what, "frequency (number of repeat purchases) must be a whole number",
                            row=i + 2, column=frequency_col, value=float(x[i]))
    tol = 1e-9 * np.maximum(1.0, T)
    bad = tx > T + tol
    if bad.any():
        i = int(np.argmax(bad))
        raise DataFileError(what, f"recency {float(tx[i]):g} is larger than T {float(T[i]):g} "
                            f"(customer {py_scalar(ids[i])!r})",
                            row=i + 2, column=recency_col, value=float(tx[i]),
                            hint="recency is the time from the first to the last purchase, T the time from the "
                                 "first purchase to the end of the calibration period")
    bad = (x == 0) & (tx != 0)
    if bad.any():
        i = int(np.argmax(bad))
        raise DataFileError(what, f"recency must be 0 when frequency is 0 (customer {py_scalar(ids[i])!r})",
                            row=i + 2, column=recency_col, value=float(tx[i]))
    return pd.DataFrame({"customer_id": ids, "frequency": x, "recency": np.minimum(tx, T), "T": T})


@dataclass(repr=False)
class PurchaseModelResult(FitResult):
    """A fitted purchase-count model (BG/NBD or Pareto/NBD).

    Every prediction method takes an optional summary DataFrame (columns ``frequency,
    recency, T`` and ``customer_id``, as returned by :func:`rfm_summary`); without it the
    customers the model was fitted to are used. Times are in the model's time unit (the
    ``freq`` of the summary, weeks for CDNOW).

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
    >>> pn.predict(39.0).head(3).round(3)
       customer_id  frequency  recency       T  p_alive  expected_purchases
    0            1        2.0   30.429  38.857    0.869               1.455
    1            2        1.0    1.714  38.857    0.168               0.171
    2            3        0.0    0.000  38.857    0.295               0.107
    """

    data: pd.DataFrame = field(default=None, repr=False)

    # subclasses set these to staticmethods: numpy functions of (params, ...)
    MODEL = ""
    _expected = None
    _conditional = None
    _p_alive = None

    def _arrays(self, data):
        d = self.data if data is None else purchase_data(data)
        return d, d["frequency"].to_numpy(), d["recency"].to_numpy(), d["T"].to_numpy()

    def expected_purchases(self, t):
        """E[X(t)]: expected repeat purchases in (0, t] of a customer just acquired.

        ``t`` may be a scalar or an array; returns the same shape.

        Parameters
        ----------
        t : float or array-like
            Length of the period (>= 0), in the model's time unit.

        Returns
        -------
        float or numpy.ndarray

        Raises
        ------
        ModelError
            ``t`` negative or not finite.

        Examples
        --------
        >>> from crm_research import clv
        >>> cdnow = clv.read_cdnow("tests/data/cdnow/CDNOW_sample.txt")
        >>> cal = clv.rfm_summary(cdnow, calibration_end="1997-09-30", observation_end="1998-06-30")
        >>> pn = clv.fit_pareto_nbd(cal)
        >>> round(pn.expected_purchases(39.0), 4)
        1.2134
        >>> pn.expected_purchases(-1)
        Traceback (most recent call last):
        ...
        crm_research.errors.ModelError: Pareto/NBD: t must be finite and >= 0, got -1
        """
        t_arr = np.asarray(t, dtype=float)
        if np.any(t_arr < 0) or not np.all(np.isfinite(t_arr)):
            raise ModelError(f"{self.model}: t must be finite and >= 0, got {t!r}")
        out = type(self)._expected(self.params.to_numpy(), t_arr)
        return float(out) if np.ndim(out) == 0 else out

    def conditional_expected_purchases(self, t, data: pd.DataFrame | None = None) -> pd.Series:
        """E[Y(t) | x, t_x, T]: expected repeat purchases in the next ``t`` time units.

        ``t`` is a scalar or one value per customer. Returns a Series indexed by customer.

        Parameters
        ----------
        t : float or array-like
            Length of the future period (>= 0), one value or one per customer.
        data : DataFrame, optional
            RFM summary (default: the customers the model was fitted to).

        Returns
        -------
        pandas.Series
            Indexed by customer id.

        Examples
        --------
        >>> from crm_research import clv
        >>> cdnow = clv.read_cdnow("tests/data/cdnow/CDNOW_sample.txt")
        >>> cal = clv.rfm_summary(cdnow, calibration_end="1997-09-30", observation_end="1998-06-30")
        >>> pn = clv.fit_pareto_nbd(cal)
        >>> pn.conditional_expected_purchases(39.0).head(3).round(4)
        customer_id
        1    1.4552
        2    0.1711
        3    0.1071
        Name: expected_purchases, dtype: float64
        """
        d, x, tx, T = self._arrays(data)
        t_arr = np.broadcast_to(np.asarray(t, dtype=float), x.shape)
        if np.any(t_arr < 0) or not np.all(np.isfinite(t_arr)):
            raise ModelError(f"{self.model}: t must be finite and >= 0")
        v = type(self)._conditional(self.params.to_numpy(), t_arr, x, tx, T)
        return pd.Series(v, index=pd.Index(d["customer_id"], name="customer_id"),
                         name="expected_purchases")

    def p_alive(self, data: pd.DataFrame | None = None) -> pd.Series:
        """P(alive | x, t_x, T): probability the customer is still active at the end of T.

        Parameters
        ----------
        data : DataFrame, optional
            RFM summary (default: the customers the model was fitted to).

        Returns
        -------
        pandas.Series
            Indexed by customer id.

        Examples
        --------
        >>> from crm_research import clv
        >>> cdnow = clv.read_cdnow("tests/data/cdnow/CDNOW_sample.txt")
        >>> cal = clv.rfm_summary(cdnow, calibration_end="1997-09-30", observation_end="1998-06-30")
        >>> pn = clv.fit_pareto_nbd(cal)
        >>> pn.p_alive().head(3).round(4)
        customer_id
        1    0.8691
        2    0.1680
        3    0.2951
        Name: p_alive, dtype: float64
        """
        d, x, tx, T = self._arrays(data)
        v = type(self)._p_alive(self.params.to_numpy(), x, tx, T)
        return pd.Series(v, index=pd.Index(d["customer_id"], name="customer_id"), name="p_alive")

    def predict(self, t, data: pd.DataFrame | None = None) -> pd.DataFrame:
        """Per-customer table: ``customer_id, frequency, recency, T, p_alive,
        expected_purchases`` (over the next ``t`` time units).

        Parameters
        ----------
        t : float or array-like
            Length of the future period.
        data : DataFrame, optional
            RFM summary (default: the customers the model was fitted to).

        Returns
        -------
        DataFrame

        Examples
        --------
        >>> from crm_research import clv
        >>> cdnow = clv.read_cdnow("tests/data/cdnow/CDNOW_sample.txt")
        >>> cal = clv.rfm_summary(cdnow, calibration_end="1997-09-30", observation_end="1998-06-30")
        >>> pn = clv.fit_pareto_nbd(cal)
        >>> pn.predict(52.0)[['customer_id', 'frequency', 'p_alive', 'expected_purchases']].head(2).round(3)
           customer_id  frequency  p_alive  expected_purchases
        0            1        2.0    0.869               1.851
        1            2        1.0    0.168               0.218
        """
        d, *_ = self._arrays(data)
        out = d.copy()
        out["p_alive"] = self.p_alive(d).to_numpy()
        out["expected_purchases"] = self.conditional_expected_purchases(t, d).to_numpy()
        return out

    def _extra_lines(self) -> list[str]:
        return [f"Mean repeat purchases per customer: observed {self.data['frequency'].mean():.4f}, "
                f"expected {np.mean(type(self)._expected(self.params.to_numpy(), self.data['T'].to_numpy())):.4f}"]


def fit_purchase_model(cls, data: pd.DataFrame, loglik: Callable, names: list[str], start,
                       frequency_col: str, recency_col: str, T_col: str, references: tuple[str, ...],
                       gradient: Callable | None = None):
    """Fit a purchase-count model by maximum likelihood (shared by :func:`fit_bgnbd` and :func:`fit_pareto_nbd`).

    Parameters
    ----------
    cls : type
        The result class (:class:`BGNBDResult` or :class:`ParetoNBDResult`).
    data : DataFrame
        RFM summary.
    loglik : callable
        Per-customer log-likelihood ``loglik(theta, x, t_x, T)``.
    names : list of str
        Parameter names.
    start : sequence of float
        Start values.
    frequency_col, recency_col, T_col : str
        Column names.
    references : tuple of str
        The papers of the model.
    gradient : callable, optional
        Per-customer gradient ``gradient(theta, x, t_x, T)``, shape (n, k).

    Returns
    -------
    PurchaseModelResult

    Examples
    --------
    >>> from crm_research import clv
    >>> cdnow = clv.read_cdnow("tests/data/cdnow/CDNOW_sample.txt")
    >>> cal = clv.rfm_summary(cdnow, calibration_end="1997-09-30", observation_end="1998-06-30")
    >>> from crm_research.clv.pareto_nbd import ParetoNBDResult, pnbd_loglik
    >>> pn = fit_purchase_model(ParetoNBDResult, cal, pnbd_loglik, ["r", "alpha", "s", "beta"], [1, 1, 1, 1],
    ...                         "frequency", "recency", "T", ())
    >>> pn.params.round(3).tolist()
    [0.553, 10.578, 0.606, 11.669]
    """
    d = purchase_data(data, frequency_col, recency_col, T_col)
    (x, tx, T), w = compress(d["frequency"], d["recency"], d["T"])
    n = len(d)

    def total(theta: np.ndarray) -> float:
        return float(np.dot(w, loglik(theta, x, tx, T)))

    total_gradient = None
    if gradient is not None:
        def total_gradient(theta: np.ndarray) -> np.ndarray:
            return w @ gradient(theta, x, tx, T)

    opt = maximize(total, np.asarray(start, dtype=float), n=n, model=cls.MODEL, gradient=total_gradient)
    se = standard_errors(opt)
    return cls(model=cls.MODEL, params=pd.Series(opt.params, index=names, name="est"),
               se=pd.Series(se, index=names, name="se"), loglik=opt.loglik, n=n,
               converged=opt.converged, iterations=opt.iterations, message=opt.message,
               references=references, data=d)

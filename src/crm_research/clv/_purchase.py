"""What the purchase-count models (BG/NBD, MBG/NBD, Pareto/NBD) share: input checks, the fitted-
result class with its predictions, the fitting driver, and the fast likelihood of the
BG/NBD-type models (:class:`Histories`, :func:`alive_or_dropped_totals`)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pandas as pd

from ..errors import DataFileError, ModelError
from ._mle import FitResult, compress, maximize, standard_errors
from .summary import py_scalar, summary_columns


def purchase_data(data: pd.DataFrame, frequency_col: str = "frequency", recency_col: str = "recency",
                  T_col: str = "T", *, what: str = "summary", weights_col: str | None = None) -> pd.DataFrame:
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
    names = [frequency_col, recency_col, T_col] + ([weights_col] if weights_col else [])
    ids, cols = summary_columns(data, names, what, see=" (see rfm_summary)",
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
    out = {"customer_id": ids, "frequency": x, "recency": np.minimum(tx, T), "T": T}
    if weights_col:        # customers per row: a whole number >= 1
        w = cols[weights_col]
        bad = (w != np.round(w)) | (w < 1)
        if bad.any():
            i = int(np.argmax(bad))
            raise DataFileError(what, "a weight (customers with this history) must be a whole number >= 1",
                                row=i + 2, column=weights_col, value=float(w[i]))
        out["weight"] = w.astype(np.int64)
    # copy=False: no 2-D block copy of the columns (copy-on-write keeps the caller's data safe)
    return pd.DataFrame(out, copy=False)


_ONE_KEY_LIMIT = 2 ** 62  # above it, (x, t_x, T) codes do not fit one int64 key
_SLICE = 1 << 19          # histories per slice of the likelihood's per-history terms


@dataclass(frozen=True, repr=False)
class Histories:
    """Distinct purchase histories ``(x, t_x, T)`` with their multiplicities ``w``, each column
    also coded by its distinct values.

    Every transcendental term of the BG/NBD-type likelihoods depends on one column only
    (``gammaln(r+x)``, ``log(b+x)`` on ``x``; ``log(alpha+t_x)`` on ``t_x``; ``log(alpha+T)`` on
    ``T``), and daily data have few distinct values per column (10M orders: 1.25M customers,
    668k distinct histories, 235 distinct ``x``, 1,095 distinct ``t_x`` and ``T``). The codes
    let :func:`alive_or_dropped_totals` evaluate those terms once per distinct value and
    gather them; the per-column weight sums let terms of one column be summed on the
    distinct values.

    Attributes
    ----------
    w : numpy.ndarray
        Multiplicity of each distinct history.
    x : numpy.ndarray
        ``x`` of each distinct history (float).
    x_values, t_x_values, T_values : numpy.ndarray
        Sorted distinct values of each column.
    x_code, t_x_code, T_code : numpy.ndarray
        Position of each history's value in those arrays.
    w_by_x, w_by_T, wx_by_T : numpy.ndarray
        Sums of ``w`` per distinct ``x`` and per distinct ``T``, and of ``w * x`` per distinct ``T``.

    Examples
    --------
    >>> h = Histories.of([0, 2, 2, 0], [0.0, 5.0, 5.0, 0.0], [10.0, 10.0, 10.0, 3.0])
    >>> len(h), h.w.tolist(), h.x_values.tolist(), h.T_values.tolist()
    (3, [1.0, 1.0, 2.0], [0.0, 2.0], [3.0, 10.0])
    >>> Histories.of([2, 0, 0, 2], [5.0, 0.0, 0.0, 5.0], [10.0, 3.0, 10.0, 10.0]).w.tolist()   # any order
    [1.0, 1.0, 2.0]
    """

    w: np.ndarray
    x: np.ndarray
    x_values: np.ndarray
    t_x_values: np.ndarray
    T_values: np.ndarray
    x_code: np.ndarray
    t_x_code: np.ndarray
    T_code: np.ndarray
    w_by_x: np.ndarray
    w_by_T: np.ndarray
    wx_by_T: np.ndarray

    def __len__(self) -> int:
        return self.w.size

    @classmethod
    def of(cls, x, t_x, T, weights=None) -> "Histories":
        """Code the columns (hashing, no sort of the rows) and keep each distinct history once.

        Parameters
        ----------
        x, t_x, T : array-like
            Equally long columns of finite numbers (frequency, recency, age).
        weights : array-like, optional
            Customers per row (default 1 each): a summary of distinct histories with their counts
            gives the same :class:`Histories` as the customers' rows.

        Returns
        -------
        Histories
        """
        cols = [np.asarray(c, dtype=float).ravel() for c in (x, t_x, T)]
        if len({c.size for c in cols}) > 1:
            raise ModelError(f"x, t_x and T must be equally long, got {[c.size for c in cols]}")
        codes, values = [], []
        for c in cols:
            k, u = pd.factorize(c, sort=True)
            codes.append(k.astype(np.int64, copy=False))
            values.append(np.asarray(u, dtype=float))
        if any((k < 0).any() for k in codes):
            raise ModelError("purchase histories must not contain missing values")
        n_tx, n_T = len(values[1]), len(values[2])
        # histories in sorted order, not in order of appearance: the likelihood adds them up in
        # the same order however the customers are ordered, so a fit is the same to the last bit
        w = None
        if len(values[0]) * n_tx * n_T < _ONE_KEY_LIMIT:  # one int64 key per history
            key = codes[0] * n_tx                        # built in place: one array, not three
            key += codes[1]
            key *= n_T
            key += codes[2]
            del codes
            # the sorted keys give the histories, and their counts or summed weights (10M orders,
            # 1.25M customers: 0.11 -> 0.03 s against a sorted factorization; 2.9M weighted
            # histories: no hash table, every temporary freed once used: 0.30 -> 0.17 GB at the peak)
            wts = None
            if weights is None:
                key.sort()
            else:
                order = np.argsort(key, kind="stable")
                key = key[order]
                wts = np.asarray(weights, dtype=float).ravel()[order]
                del order
            new = np.ones(len(key), dtype=bool)
            np.not_equal(key[1:], key[:-1], out=new[1:])
            if new.all():       # every history once (e.g. a summary of distinct histories)
                keys, w = key, (np.ones(len(key)) if wts is None else wts)
            else:
                at = np.flatnonzero(new)
                keys = key[at]
                w = np.diff(np.append(at, len(key))).astype(float) if wts is None else np.add.reduceat(wts, at)
                del at
            del key, wts, new
            xc, txc = np.divmod(keys // n_T, n_tx)
        else:  # distinct (x, t_x) pairs first, then (pair, T): keys stay below n^2
            pair, pairs = pd.factorize(codes[0] * n_tx + codes[1], sort=True)
            inv, keys = pd.factorize(pair.astype(np.int64) * n_T + codes[2], sort=True)
            xc, txc = np.divmod(np.asarray(pairs, dtype=np.int64)[keys // n_T], n_tx)
        if w is None:
            w = np.bincount(inv).astype(float) if weights is None else \
                np.bincount(inv, weights=np.asarray(weights, dtype=float).ravel(), minlength=len(keys))
        Tc = keys % n_T
        del keys
        xv, Tv = values[0][xc], values[2]
        return cls(w=w, x=xv, x_values=values[0], t_x_values=values[1], T_values=Tv,
                   x_code=xc, t_x_code=txc, T_code=Tc,
                   w_by_x=np.bincount(xc, weights=w, minlength=len(values[0])),
                   w_by_T=np.bincount(Tc, weights=w, minlength=len(Tv)),
                   wx_by_T=np.bincount(Tc, weights=w * xv, minlength=len(Tv)))


def alive_or_dropped_totals(h: Histories, r: float, alpha: float, K: np.ndarray, dK: np.ndarray,
                            c: np.ndarray, dc: np.ndarray, d2K: np.ndarray | None = None,
                            d2c: np.ndarray | None = None):
    """Total log-likelihood, gradient (and Hessian) of a BG/NBD-type model over weighted histories.

    The BG/NBD and MBG/NBD log-likelihoods of a history ``(x, t_x, T)`` are
    ``K(x) + logaddexp(A3, A4)`` with ``A3 = -(r+x) log(alpha+T)`` (alive at ``T``) and
    ``A4 = c(x) - (r+x) log(alpha+t_x)`` (dropped out right after ``t_x``; ``c = -inf`` where
    that cannot happen). The model gives ``K``, ``c`` and their derivatives on the distinct
    ``x`` values; the rest is shared: logs and reciprocals on the distinct ``t_x`` and ``T``
    values, per history only arithmetic and one ``exp`` and ``log1p``. With ``d = A4 - A3``
    and ``s = expit(d)`` the per-history gradient is ``dK + dA3 + s dd`` and the Hessian
    ``d2K + d2A3 + s d2d + s (1 - s) dd dd'``.

    Parameters
    ----------
    h : Histories
        The data.
    r, alpha : float
        Gamma shape and rate of the purchase rate.
    K : numpy.ndarray
        ``K`` at ``h.x_values``.
    dK : numpy.ndarray
        Shape ``(len(h.x_values), 4)``: derivatives of ``K`` w.r.t. ``(r, alpha, a, b)``.
    c : numpy.ndarray
        ``c`` at ``h.x_values`` (``-inf`` allowed).
    dc : numpy.ndarray
        Shape ``(len(h.x_values), 2)``: derivatives of ``c`` w.r.t. ``(a, b)`` (0 where ``c = -inf``).
    d2K : numpy.ndarray, optional
        Shape ``(len(h.x_values), 4, 4)``: second derivatives of ``K``; with ``d2c`` the
        Hessian is returned too.
    d2c : numpy.ndarray, optional
        Shape ``(len(h.x_values), 2, 2)``: second derivatives of ``c`` w.r.t. ``(a, b)``.

    Returns
    -------
    tuple
        ``(sum(w * loglik), gradient)`` w.r.t. ``(r, alpha, a, b)``, and the 4 x 4 Hessian
        as a third item when ``d2K`` is given.

    Examples
    --------
    >>> import numpy as np
    >>> h = Histories.of([0, 2], [0.0, 30.43], [38.86, 38.86])
    >>> r, alpha, a, b = 0.525, 6.183, 0.891, 1.614
    >>> x = h.x_values
    >>> c = np.log(a / (b + x))                                      # MBG/NBD
    >>> ll, g = alive_or_dropped_totals(h, r, alpha, np.zeros(2), np.zeros((2, 4)), c, np.zeros((2, 2)))
    >>> A3, A4 = -(r + x) * np.log(alpha + 38.86), c - (r + x) * np.log(alpha + h.t_x_values)
    >>> bool(np.isclose(ll, np.logaddexp(A3, A4).sum()))
    True
    """
    def dot(u, v):  # einsum: one thread, no BLAS start-up (a BLAS ddot costs 10x more here)
        return float(np.einsum("i,i", u, v))

    LT, Ltx = np.log(alpha + h.T_values), np.log(alpha + h.t_x_values)
    iT, itx = 1.0 / (alpha + h.T_values), 1.0 / (alpha + h.t_x_values)
    rw_by_T = r * h.w_by_T + h.wx_by_T           # sum of w*(r+x) per distinct T
    hessian = d2K is not None
    # the per-history terms, summed over consecutive slices of the histories: the temporaries
    # (a dozen arrays of one double per history) stay bounded however many histories there
    # are (100M orders: 2.9M distinct histories, 0.6 GiB at once); one slice holds them all
    # below _SLICE histories, so small fits sum in the same order as ever
    nx = len(h.x_values)
    ll_h = g_r = g_alpha = r_alpha = s_aa = h00 = h01 = h11 = 0.0
    U4x = np.zeros(nx)
    VD = np.zeros(nx)
    VP = np.zeros(nx)
    V = np.zeros(nx)
    for lo in range(0, max(len(h.w), 1), _SLICE):
        sl = slice(lo, lo + _SLICE)
        w, xc, Tc, txc = h.w[sl], h.x_code[sl], h.T_code[sl], h.t_x_code[sl]

        def by_x(v):
            return np.bincount(xc, weights=v, minlength=nx)

        rx = r + h.x[sl]
        D = np.take(LT, Tc)
        D -= np.take(Ltx, txc)                       # log((alpha+T)/(alpha+t_x)) >= 0
        d = rx * D
        d += np.take(c, xc)                          # A4 - A3 (-inf: no drop-out term)
        e = np.abs(d)
        np.negative(e, out=e)
        np.exp(e, out=e)                             # exp(-|d|) in [0, 1]
        # logaddexp(A3, A4) = A3 + max(d, 0) + log1p(exp(-|d|)); the A3 part summed per distinct T
        ll_h += dot(w, np.maximum(d, 0.0) + np.log1p(e))
        q = 1.0 / (1.0 + e)
        s = np.where(d >= 0.0, q, e * q)             # expit(d): the share of the A4 term
        u4 = w * s
        Q = np.take(itx, txc)
        Q -= np.take(iT, Tc)                         # 1/(alpha+t_x) - 1/(alpha+T); dd/dalpha = -(r+x) Q
        P = rx * Q
        U4x += by_x(u4)
        g_r += dot(u4, D)
        g_alpha += dot(u4, P)
        if not hessian:
            continue
        S = np.take(itx, txc)
        S += np.take(iT, Tc)
        r_alpha += dot(u4, Q)
        s_aa += dot(u4 * P, S)                       # (r+x)(1/(a+t_x)^2 - 1/(a+T)^2) = P S
        # s (1 - s) dd dd' with dd = (D, -P, dc_a(x), dc_b(x))
        v = u4 * (1.0 - s)
        vD, vP = v * D, v * P
        h00 += dot(vD, D)
        h01 += dot(vD, P)
        h11 += dot(vP, P)
        VD += by_x(vD)
        VP += by_x(vP)
        V += by_x(v)
    ll = float(K @ h.w_by_x) - float(rw_by_T @ LT) + ll_h
    g = dK.T @ h.w_by_x
    g[0] += -float(h.w_by_T @ LT) + g_r
    g[1] += -float(rw_by_T @ iT) - g_alpha
    g[2:] += dc.T @ U4x
    if not hessian:
        return ll, g
    H = np.einsum("k,kij->ij", h.w_by_x, d2K)
    H[2:, 2:] += np.einsum("k,kij->ij", U4x, d2c)
    # d2A3 and s * d2d: d2/dr dalpha, d2/dalpha2
    ra = -float(h.w_by_T @ iT) - r_alpha
    H[0, 1] += ra
    H[1, 0] += ra
    H[1, 1] += float(rw_by_T @ iT ** 2) + s_aa
    H[0, 0] += h00
    H[0, 1] -= h01
    H[1, 0] -= h01
    H[1, 1] += h11
    cross = np.column_stack([VD, -VP]).T @ dc    # (r, alpha) x (a, b)
    H[:2, 2:] += cross
    H[2:, :2] += cross.T
    H[2:, 2:] += dc.T @ (V[:, None] * dc)
    return ll, g, H


def beta_geometric_totals(params, h: Histories, *, after_first: bool, hessian: bool = False):
    """Total log-likelihood, gradient (and Hessian) of the BG/NBD or the MBG/NBD model.

    Both are :func:`alive_or_dropped_totals` with ``K(x) = log[Gamma(r+x)/Gamma(r) alpha^r]
    + log[B(a, b+x+k)/B(a, b)]`` and ``c(x) = log(a/(b+x+k-1))``: the MBG/NBD
    (``after_first=True``, drop-out possible right after every purchase) has ``k = 1``; the
    BG/NBD (drop-out only after a repeat purchase) has ``k = 0`` and no drop-out term at
    ``x = 0``. Only this function knows the x-only terms; they are evaluated on the distinct
    ``x`` values.

    Parameters
    ----------
    params : sequence of 4 floats
        ``(r, alpha, a, b)``.
    h : Histories
        The data.
    after_first : bool
        MBG/NBD (True) or BG/NBD (False).
    hessian : bool
        Also return the Hessian.

    Returns
    -------
    tuple
        ``(total log-likelihood, gradient)`` or ``(total, gradient, Hessian)``.

    Examples
    --------
    >>> from crm_research.clv import bgnbd_loglik, mbgnbd_loglik
    >>> P, x, t_x, T = (0.525, 6.183, 0.891, 1.614), [0, 2, 2], [0.0, 30.43, 30.43], [38.86, 38.86, 38.86]
    >>> h = Histories.of(x, t_x, T)
    >>> ll = beta_geometric_totals(P, h, after_first=True)[0]
    >>> bool(np.isclose(ll, mbgnbd_loglik(P, x, t_x, T).sum()))
    True
    >>> bool(np.isclose(beta_geometric_totals(P, h, after_first=False)[0], bgnbd_loglik(P, x, t_x, T).sum()))
    True
    """
    from scipy.special import digamma, gammaln, polygamma

    r, alpha, a, b = (float(v) for v in params)
    x = h.x_values
    k = 1.0 if after_first else 0.0
    K = (gammaln(r + x) - gammaln(r) + r * np.log(alpha)
         + gammaln(a + b) + gammaln(b + x + k) - gammaln(b) - gammaln(a + b + x + k))
    dab, dabx = digamma(a + b), digamma(a + b + x + k)
    dK = np.column_stack([digamma(r + x) - digamma(r) + np.log(alpha), np.full(x.size, r / alpha),
                          dab - dabx, dab + digamma(b + x + k) - digamma(b) - dabx])
    can_drop = (x > 0) | after_first          # a drop-out term exists
    bx = np.where(can_drop, b + x + k - 1.0, 1.0)
    c = np.where(can_drop, np.log(a) - np.log(bx), -np.inf)
    dc = np.column_stack([np.where(can_drop, 1.0 / a, 0.0), np.where(can_drop, -1.0 / bx, 0.0)])
    if not hessian:
        return alive_or_dropped_totals(h, r, alpha, K, dK, c, dc)
    tab, tabx = polygamma(1, a + b), polygamma(1, a + b + x + k)
    d2K = np.zeros((x.size, 4, 4))
    d2K[:, 0, 0] = polygamma(1, r + x) - polygamma(1, r)
    d2K[:, 0, 1] = d2K[:, 1, 0] = 1.0 / alpha
    d2K[:, 1, 1] = -r / alpha ** 2
    d2K[:, 2, 2] = d2K[:, 2, 3] = d2K[:, 3, 2] = tab - tabx
    d2K[:, 3, 3] = tab + polygamma(1, b + x + k) - polygamma(1, b) - tabx
    d2c = np.zeros((x.size, 2, 2))
    d2c[:, 0, 0] = -dc[:, 0] ** 2              # c = log a - log(b+x+k-1)
    d2c[:, 1, 1] = dc[:, 1] ** 2
    return alive_or_dropped_totals(h, r, alpha, K, dK, c, dc, d2K, d2c)


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
        w = self.data["weight"].to_numpy() if "weight" in self.data.columns else None   # a weighted fit
        expected = type(self)._expected(self.params.to_numpy(), self.data["T"].to_numpy())
        return [f"Mean repeat purchases per customer: observed {np.average(self.data['frequency'], weights=w):.4f}, "
                f"expected {np.average(expected, weights=w):.4f}"]


def fit_purchase_model(cls, data: pd.DataFrame, loglik: Callable, names: list[str], start,
                       frequency_col: str, recency_col: str, T_col: str, references: tuple[str, ...],
                       gradient: Callable | None = None, totals: Callable | None = None,
                       weights_col: str | None = None):
    """Fit a purchase-count model by maximum likelihood (shared by :func:`fit_bgnbd`, :func:`fit_mbgnbd`
    and :func:`fit_pareto_nbd`).

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
    totals : callable, optional
        ``totals(theta, histories, hessian=False) -> (total log-likelihood, gradient[, Hessian])``
        on :class:`Histories` (e.g. :func:`beta_geometric_totals`); when given, it replaces
        ``loglik`` and ``gradient`` in the fit (one evaluation serves the value, gradient and
        Hessian at a point).
    weights_col : str, optional
        Column of customers per row (whole numbers >= 1): the summary may hold each distinct
        history once with its count (the same fit as one row per customer; needs ``totals``).

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
    d = purchase_data(data, frequency_col, recency_col, T_col, weights_col=weights_col)
    n = len(d) if weights_col is None else int(d["weight"].sum())
    if weights_col is not None and totals is None:
        raise ValueError("weights_col needs a model fitted from distinct histories (totals=)")
    total_gradient = total_hessian = None
    if totals is not None:
        h = Histories.of(d["frequency"].to_numpy(), d["recency"].to_numpy(), d["T"].to_numpy(),
                         None if weights_col is None else d["weight"].to_numpy())
        last: dict = {}

        def at(theta: np.ndarray, hess: bool = False):
            key = np.asarray(theta, dtype=float).tobytes()
            if last.get("key") != key or (hess and len(last["value"]) < 3):
                # the optimizer asks for value, gradient (and Hessian) at the same points: one evaluation
                last["key"], last["value"] = key, totals(theta, h, hessian=hess)
            return last["value"]

        def total(theta: np.ndarray) -> float:
            return at(theta)[0]

        def total_gradient(theta: np.ndarray) -> np.ndarray:
            return at(theta)[1].copy()

        def total_hessian(theta: np.ndarray) -> np.ndarray:
            return at(theta, True)[2].copy()
    else:
        (x, tx, T), w = compress(d["frequency"], d["recency"], d["T"])

        def total(theta: np.ndarray) -> float:
            return float(np.dot(w, loglik(theta, x, tx, T)))

    if gradient is not None and totals is None:
        def total_gradient(theta: np.ndarray) -> np.ndarray:
            return w @ gradient(theta, x, tx, T)

    opt = maximize(total, np.asarray(start, dtype=float), n=n, model=cls.MODEL, gradient=total_gradient,
                   hessian=total_hessian)
    se = standard_errors(opt)
    return cls(model=cls.MODEL, params=pd.Series(opt.params, index=names, name="est"),
               se=pd.Series(se, index=names, name="se"), loglik=opt.loglik, n=n,
               converged=opt.converged, iterations=opt.iterations, message=opt.message,
               references=references, data=d)

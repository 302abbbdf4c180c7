"""Polychoric correlations of all pairs of ordered variables at once, by lavaan's two-step
method (thresholds fixed at their univariate estimates, then the correlation of each
bivariate table by maximum likelihood; lavaan's ``lav_bvord_cor_twostep_fit``), and the
cell-wise derivatives the asymptotic covariance (Muthen, 1984) needs.

All pairs are solved together: their tables are padded to a common size, the bivariate
normal probabilities of every table are computed on its threshold grid in one call, and
Newton's method updates every correlation at once.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .bivnorm import bvn_cdf, bvn_cdf_dh, bvn_pdf, bvn_pdf_drho
from .thresholds import OrderedItem


@dataclass
class PairTables:
    """Bivariate frequency tables of pairs of ordered variables, padded to ``K x K``."""

    pairs: np.ndarray          # (P, 2) variable indices (i, j)
    freq: np.ndarray           # (P, K, K) counts, pairwise complete rows
    ext_i: np.ndarray          # (P, K+1) thresholds of the first variable with -inf/+inf ends
    ext_j: np.ndarray          # (P, K+1)
    K: int


def _extended(item: OrderedItem, K: int) -> np.ndarray:
    e = np.full(K + 1, np.inf)
    e[0] = -np.inf
    e[1:item.n_categories] = item.tau
    return e


def pair_tables(items: list[OrderedItem], pairs) -> PairTables:
    """Frequency tables of the given pairs (rows missing on either variable are skipped).

    Examples
    --------
    >>> from crm_research.sem.thresholds import ordered_item
    >>> a, b = ordered_item("a", [1, 1, 2, 2]), ordered_item("b", [1, 2, 2, float("nan")])
    >>> pair_tables([a, b], [(0, 1)]).freq[0].tolist()
    [[1.0, 1.0], [0.0, 1.0]]
    """
    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    K = max(it.n_categories for it in items)
    P = len(pairs)
    codes = (np.stack([it.codes for it in items], axis=1) + 1).astype(np.int32)   # (N, p), 0 = missing
    K1 = K + 1
    flat = codes[:, pairs[:, 0]] * K1 + codes[:, pairs[:, 1]] + (np.arange(P, dtype=np.int32) * K1 * K1)[None, :]
    freq = np.bincount(flat.ravel(), minlength=P * K1 * K1).reshape(P, K1, K1)[:, 1:, 1:].astype(float)
    ext = np.stack([_extended(it, K) for it in items])
    return PairTables(pairs, freq, ext[pairs[:, 0]], ext[pairs[:, 1]], K)


def _corners(G):
    """Cell values from a grid of corner values: G[a+1,b+1] - G[a,b+1] - G[a+1,b] + G[a,b]."""
    return G[:, 1:, 1:] - G[:, :-1, 1:] - G[:, 1:, :-1] + G[:, :-1, :-1]


def _grid(fun, tab: PairTables, rho):
    h = tab.ext_i[:, :, None]
    k = tab.ext_j[:, None, :]
    return fun(h, k, rho[:, None, None])


def cell_probabilities(tab: PairTables, rho) -> np.ndarray:
    """(P, K, K) model probabilities of the cells (0 for padded categories).

    Examples
    --------
    >>> from crm_research.sem.thresholds import ordered_item
    >>> a, b = ordered_item("a", [1, 2] * 5), ordered_item("b", [1, 1, 2, 2, 2] * 2)
    >>> round(float(cell_probabilities(pair_tables([a, b], [(0, 1)]), [0.3]).sum()), 12)
    1.0
    """
    return np.maximum(_corners(_grid(bvn_cdf, tab, np.asarray(rho, float))), 0.0)


def _zero_add(tab: PairTables, n_cat) -> np.ndarray:
    """lavaan's ``zero.add = c(0.5, 0)`` with ``zero.keep.margins``: a 2 x 2 table with one
    empty cell gets 0.5 moved into it (keeping the margins); larger tables are left alone."""
    f = tab.freq.copy()
    for p, (i, j) in enumerate(tab.pairs):
        if n_cat[i] == 2 and n_cat[j] == 2:
            t = f[p, :2, :2]
            zero = np.argwhere(t == 0)
            if len(zero) == 1:
                a, b = zero[0]
                s = 0.5 if a == b else -0.5
                t[0, 0] += s
                t[1, 1] += s
                t[0, 1] -= s
                t[1, 0] -= s
    return f


def polychoric(items: list[OrderedItem], pairs, *, tol: float = 1e-10, max_iter: int = 100):
    """Two-step polychoric correlations of ``pairs`` of ordered variables.

    Parameters
    ----------
    items : list of OrderedItem
        The variables with their thresholds (:func:`~crm_research.sem.thresholds.ordered_item`).
    pairs : array-like of (i, j)
        Index pairs into ``items``.
    tol : float
        Convergence tolerance on the correlations.
    max_iter : int

    Returns
    -------
    rho : ndarray (P,)
    tables : PairTables
    converged : ndarray of bool (P,)

    Examples
    --------
    >>> import numpy as np
    >>> from crm_research.sem.thresholds import ordered_item
    >>> rng = np.random.default_rng(0)
    >>> z = rng.multivariate_normal([0, 0], [[1, .6], [.6, 1]], size=4000)
    >>> a = ordered_item("a", np.digitize(z[:, 0], [-1, 0, 1]))
    >>> b = ordered_item("b", np.digitize(z[:, 1], [-.5, .5]))
    >>> rho, _, ok = polychoric([a, b], [(0, 1)])
    >>> bool(abs(rho[0] - 0.6) < 0.03), bool(ok[0])
    (True, True)
    """
    tab = pair_tables(items, pairs)
    n_cat = np.array([it.n_categories for it in items])
    freq = _zero_add(tab, n_cat)
    P = len(tab.pairs)
    # start: the correlation of normal scores of the categories (all pairs at once)
    mid_i, mid_j = _mids(tab.ext_i), _mids(tab.ext_j)                  # (P, K)
    n = freq.sum(axis=(1, 2))
    nn = np.where(n > 0, n, 1.0)
    pi, pj = freq.sum(axis=2) / nn[:, None], freq.sum(axis=1) / nn[:, None]
    mi, mj = (pi * mid_i).sum(axis=1), (pj * mid_j).sum(axis=1)
    di, dj = mid_i - mi[:, None], mid_j - mj[:, None]
    vi, vj = (pi * di ** 2).sum(axis=1), (pj * dj ** 2).sum(axis=1)
    cov = (freq / nn[:, None, None] * di[:, :, None] * dj[:, None, :]).sum(axis=(1, 2))
    ok = (vi > 0) & (vj > 0) & (n > 0)
    rho = np.where(ok, np.clip(cov / np.sqrt(np.where(ok, vi * vj, 1.0)), -0.9, 0.9), 0.0)
    conv = np.zeros(P, dtype=bool)
    active = np.arange(P)
    for _ in range(max_iter):
        if not len(active):
            break
        sub = PairTables(tab.pairs[active], freq[active], tab.ext_i[active], tab.ext_j[active], tab.K)
        r = rho[active]
        prob = np.maximum(_corners(_grid(bvn_cdf, sub, r)), 1e-300)
        d1 = _corners(_grid(bvn_pdf, sub, r))
        d2 = _corners(_grid(bvn_pdf_drho, sub, r))
        f = sub.freq
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(f > 0, f / prob, 0.0)
        g = (ratio * d1).sum(axis=(1, 2))
        H = (ratio * d2).sum(axis=(1, 2)) - (np.where(f > 0, ratio / prob, 0.0) * d1 * d1).sum(axis=(1, 2))
        fisher = -(f.sum(axis=(1, 2)) * np.where(prob > 1e-300, d1 * d1 / prob, 0.0).sum(axis=(1, 2)))
        H = np.where(H < 0, H, fisher)
        step = -g / np.where(H < 0, H, -1.0)
        step = np.clip(step, -0.2, 0.2)
        new = np.clip(r + step, -0.999, 0.999)
        rho[active] = new
        done = np.abs(new - r) < tol
        conv[active[done]] = True
        active = active[~done]
    return rho, tab, conv


def _mids(ext):
    """Category midpoints on the latent scale from padded thresholds (P, K+1) -> (P, K)."""
    lo, hi = ext[:, :-1], ext[:, 1:]
    with np.errstate(invalid="ignore"):
        mid = 0.5 * (lo + hi)
    mid = np.where(np.isneginf(lo) & np.isfinite(hi), hi - 1.0, mid)
    mid = np.where(np.isposinf(hi) & np.isfinite(lo), lo + 1.0, mid)
    return np.where(np.isfinite(mid), mid, 0.0)


@dataclass
class PairScores:
    """Cell-wise derivatives of the bivariate log-likelihood of each pair at the estimate,
    padded like the tables: ``rho[p, a, b] = d log P_ab / d rho``; the threshold derivatives
    are held compactly (a cell depends only on the thresholds bounding it):
    ``d log P_ab / d tau_i,m = ([a == m] - [a == m + 1]) dh[p, m, b] inv[p, a, b]`` and
    ``d log P_ab / d tau_j,m = ([b == m] - [b == m + 1]) dk[p, a, m] inv[p, a, b]``."""

    rho: np.ndarray      # (P, K, K)
    inv: np.ndarray      # (P, K, K) 1 / P_ab (0 for empty model cells)
    dh: np.ndarray       # (P, K-1, K)
    dk: np.ndarray       # (P, K, K-1)

    def threshold_sums(self, weights: np.ndarray):
        """``sum_ab weights[p, a, b] d log P_ab / d tau_m`` for the first and the second
        variable of every pair: two (P, K-1) arrays."""
        u = weights * self.inv
        Ai = np.einsum("pmb,pmb->pm", self.dh, u[:, :-1, :] - u[:, 1:, :])
        Aj = np.einsum("pam,pam->pm", self.dk, u[:, :, :-1] - u[:, :, 1:])
        return Ai, Aj


def pair_scores(tab: PairTables, rho) -> PairScores:
    """Derivatives of ``log P_ab`` for every cell of every pair (lavaan's ``lav_bvord_cor_scores``).

    Examples
    --------
    >>> import numpy as np
    >>> from crm_research.sem.thresholds import ordered_item
    >>> rng = np.random.default_rng(2)
    >>> z = rng.multivariate_normal([0, 0], [[1, .4], [.4, 1]], size=500)
    >>> items = [ordered_item("a", np.digitize(z[:, 0], [0])), ordered_item("b", np.digitize(z[:, 1], [-1, 1]))]
    >>> rho, tab, _ = polychoric(items, [(0, 1)])
    >>> sc = pair_scores(tab, rho)
    >>> bool(abs((tab.freq * sc.rho).sum()) < 1e-6)       # the score is zero at the estimate
    True
    """
    rho = np.asarray(rho, float)
    prob = _corners(_grid(bvn_cdf, tab, rho))
    with np.errstate(divide="ignore", invalid="ignore"):
        inv = np.where(prob > 0, 1.0 / prob, 0.0)
    drho = _corners(_grid(bvn_pdf, tab, rho)) * inv
    # dF(h, k)/dh on the grid: dP_ab/dtau_i,m = ([a == m] - [a == m+1]) (D[m+1, b+1] - D[m+1, b])
    Dh = _grid(bvn_cdf_dh, tab, rho)                                          # (P, K+1, K+1)
    Dk = np.swapaxes(bvn_cdf_dh(tab.ext_j[:, :, None], tab.ext_i[:, None, :], rho[:, None, None]), 1, 2)
    dh = Dh[:, 1:-1, 1:] - Dh[:, 1:-1, :-1]          # (P, K-1, K): threshold m = row m+1 of the grid
    dk = Dk[:, 1:, 1:-1] - Dk[:, :-1, 1:-1]          # (P, K, K-1)
    return PairScores(drho, inv, dh, dk)

"""Sample statistics of ordered (and continuous) variables and their asymptotic covariance
matrix by Muthen's (1984) method, as lavaan's ``muthen1984``.

The statistics vector is lavaan's ``WLS.obs`` for categorical data: the thresholds of every
variable in turn (a continuous variable contributes its mean), then the variances of the
continuous variables, then the lower triangle of the correlation matrix (covariances for
pairs of continuous variables, correlation x standard deviation for mixed pairs), column by
column.  The asymptotic covariance ``NACOV`` (N times the covariance of the statistics)
comes from the case-wise scores of the univariate and bivariate log-likelihoods:
``B^-1 (scores' scores) B^-T`` with ``B`` lavaan's ``A11/A21/A22`` blocks.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .polychoric import pair_scores, polychoric
from .polyserial import ContinuousItem, polyserial, polyserial_scores
from .thresholds import OrderedItem


@dataclass
class CategoricalStats:
    """One group's sample statistics for least-squares estimation.

    Attributes
    ----------
    names : list of str
        Variables in model order.
    ordered : list of bool
    nth : list of int
        Thresholds per variable (1 "threshold" = the mean for a continuous variable).
    th : ndarray
        Thresholds (means for continuous variables), variable by variable.
    var : ndarray
        Variances of the continuous variables (ML, divisor N).
    cor : ndarray (p, p)
        Polychoric/polyserial/Pearson correlations.
    obs : ndarray
        lavaan's ``WLS.obs``.
    nacov : ndarray or None
        N x asymptotic covariance of ``obs`` (lavaan's ``NACOV``).
    N : int
    """

    names: list
    ordered: list
    nth: list
    th: np.ndarray
    var: np.ndarray
    cor: np.ndarray
    obs: np.ndarray
    nacov: np.ndarray | None
    N: int
    converged: bool = True
    levels: dict | None = None


def lower_pairs(p: int) -> np.ndarray:
    """Pairs (i, j), i > j, in the order of lavaan's ``vech(., diagonal = FALSE)``.

    Examples
    --------
    >>> lower_pairs(3).tolist()
    [[1, 0], [2, 0], [2, 1]]
    """
    return np.array([(i, j) for j in range(p - 1) for i in range(j + 1, p)], dtype=np.int64).reshape(-1, 2)


def categorical_stats(variables: list, *, nacov: bool = True) -> CategoricalStats:
    """Thresholds, correlations and (optionally) the NACOV of one group.

    Parameters
    ----------
    variables : list of OrderedItem or ContinuousItem
        The model's observed variables, in order.
    nacov : bool
        Compute the asymptotic covariance (needed for (D)WLS weights and robust statistics).

    Returns
    -------
    CategoricalStats

    Examples
    --------
    >>> import numpy as np
    >>> from crm_research.sem.thresholds import ordered_item
    >>> rng = np.random.default_rng(4)
    >>> z = rng.multivariate_normal([0, 0, 0], 0.5 + 0.5 * np.eye(3), size=300)
    >>> st = categorical_stats([ordered_item(f"q{i}", np.digitize(z[:, i], [-.5, .5])) for i in range(3)])
    >>> len(st.obs), st.nacov.shape       # 6 thresholds + 3 correlations
    (9, (9, 9))
    """
    p = len(variables)
    is_ord = [isinstance(v, OrderedItem) for v in variables]
    nth = [v.n_categories - 1 if o else 1 for v, o in zip(variables, is_ord)]
    N = len(variables[0].codes) if is_ord[0] else len(variables[0].values)
    th_start = np.concatenate([[0], np.cumsum(nth)])
    pairs = lower_pairs(p)
    cor = np.eye(p)
    kinds = np.array([(is_ord[i], is_ord[j]) for i, j in pairs]).reshape(-1, 2)
    oo = np.where(kinds[:, 0] & kinds[:, 1])[0] if len(pairs) else np.array([], int)
    converged = True
    ord_items = [v if o else None for v, o in zip(variables, is_ord)]
    pc_scores = None
    if len(oo):
        ord_idx = [i for i in range(p) if is_ord[i]]
        local = {v: k for k, v in enumerate(ord_idx)}
        sub = [variables[i] for i in ord_idx]
        lp = np.array([(local[i], local[j]) for i, j in pairs[oo]])
        rho, tab, conv = polychoric(sub, lp)
        converged = bool(conv.all())
        for (i, j), r in zip(pairs[oo], rho):
            cor[i, j] = cor[j, i] = r
        if nacov:
            pc_scores = (lp, tab, pair_scores(tab, rho))
    ps_fits = {}
    for k, (i, j) in enumerate(pairs):
        if is_ord[i] and is_ord[j]:
            continue
        if not is_ord[i] and not is_ord[j]:
            x, y = variables[i], variables[j]
            ok = ~np.isnan(x.values) & ~np.isnan(y.values)
            cor[i, j] = cor[j, i] = np.corrcoef(x.values[ok], y.values[ok])[0, 1]
        else:
            c, o = (variables[i], variables[j]) if not is_ord[i] else (variables[j], variables[i])
            r, okc = polyserial(c, o)
            converged &= okc
            cor[i, j] = cor[j, i] = r
            ps_fits[k] = (c, o, r)
    th = np.concatenate([v.tau if o else [v.mean] for v, o in zip(variables, is_ord)])
    var = np.array([v.var for v, o in zip(variables, is_ord) if not o])
    sd = np.array([1.0 if o else np.sqrt(v.var) for v, o in zip(variables, is_ord)])
    cov = cor * np.outer(sd, sd)
    obs = np.concatenate([th, var, cov[pairs[:, 0], pairs[:, 1]] if len(pairs) else []])
    out = CategoricalStats([v.name for v in variables], is_ord, nth, th, var, cor, obs, None, N, converged)
    if not nacov:
        return out
    # ---- Muthen (1984) ----
    T = int(th_start[-1])
    num_idx = [i for i in range(p) if not is_ord[i]]
    nv = len(num_idx)
    var_pos = {i: T + k for k, i in enumerate(num_idx)}
    A11n = T + nv
    Pn = len(pairs)
    SC1 = np.zeros((N, A11n))
    for i, v in enumerate(variables):
        if is_ord[i]:
            SC1[:, th_start[i]:th_start[i + 1]] = v.scores()
        else:
            s_mu, s_var = v.scores()
            SC1[:, th_start[i]] = s_mu
            SC1[:, var_pos[i]] = s_var
    SC2 = np.zeros((N, Pn))
    A21 = np.zeros((Pn, A11n))
    H21 = np.zeros((Pn, A11n))
    H22 = np.ones(Pn)
    if pc_scores is not None:
        lp, tab, sc = pc_scores
        K = tab.K
        # category codes shifted by one, 0 = missing: a padded (K+1) x (K+1) score table per pair
        # whose row and column 0 are zero gives missing answers a zero score without masks
        codes = np.stack([v.codes + 1 if o else np.zeros(N, np.int64) for v, o in zip(variables, is_ord)],
                         axis=1).astype(np.int32)
        ii, jj = pairs[oo, 0], pairs[oo, 1]
        K1 = K + 1
        padded = np.zeros((len(oo), K1, K1))
        padded[:, 1:, 1:] = sc.rho
        cell = codes[:, ii] * K1 + codes[:, jj] + (np.arange(len(oo), dtype=np.int32) * K1 * K1)[None, :]
        SC2[:, oo] = padded.ravel()[cell]
        Ai, Aj = sc.threshold_sums(tab.freq * sc.rho)                # (P, K-1) each
        for n_, k in enumerate(oo):
            i, j = pairs[k]
            A21[k, th_start[i]:th_start[i + 1]] = Ai[n_, :nth[i]]
            A21[k, th_start[j]:th_start[j + 1]] = Aj[n_, :nth[j]]
    for k, (i, j) in enumerate(pairs):
        if is_ord[i] and is_ord[j]:
            continue
        if not is_ord[i] and not is_ord[j]:
            x, y = variables[i], variables[j]
            r = cor[i, j]
            d = _pearson_scores(x, y, r)
            SC2[:, k] = d["rho"]
            for v, idx in ((x, i), (y, j)):
                A21[k, th_start[idx]] = SC2[:, k] @ d[("mu", idx == i)]
                A21[k, var_pos[idx]] = SC2[:, k] @ d[("var", idx == i)]
            H21[k, var_pos[i]] = np.sqrt(y.var) * r / (2 * np.sqrt(x.var))
            H21[k, var_pos[j]] = np.sqrt(x.var) * r / (2 * np.sqrt(y.var))
            H22[k] = np.sqrt(x.var) * np.sqrt(y.var)
        else:
            c, o, r = ps_fits[k]
            ic, io = (i, j) if not is_ord[i] else (j, i)
            d = polyserial_scores(c, o, r)
            SC2[:, k] = d["rho"]
            A21[k, th_start[ic]] = SC2[:, k] @ d["mu"]
            A21[k, var_pos[ic]] = SC2[:, k] @ d["var"]
            A21[k, th_start[io]:th_start[io + 1]] = SC2[:, k] @ d["th"]
            H21[k, var_pos[ic]] = r / (2 * np.sqrt(c.var))
            H22[k] = np.sqrt(c.var)
    SC = np.concatenate([SC1, SC2], axis=1)
    INNER = SC.T @ SC
    A11 = np.zeros((A11n, A11n))
    for i in range(p):
        idx = list(range(th_start[i], th_start[i + 1])) + ([var_pos[i]] if i in var_pos else [])
        A11[np.ix_(idx, idx)] = INNER[np.ix_(idx, idx)]
    a22 = (SC2 * SC2).sum(axis=0)
    A11inv = np.linalg.inv(A11)
    A22inv = np.where(a22 > 0, 1.0 / np.where(a22 > 0, a22, 1.0), 0.0)
    A21inv = -(A22inv[:, None] * A21) @ A11inv
    Binv = np.zeros((A11n + Pn, A11n + Pn))
    Binv[:A11n, :A11n] = A11inv
    Binv[A11n:, :A11n] = A21inv
    Binv[A11n:, A11n:] = np.diag(A22inv)
    W = Binv @ INNER @ Binv.T
    if nv:
        H = np.eye(A11n + Pn)
        H[A11n:, :A11n] = H21
        H[A11n:, A11n:] = np.diag(H22)
        W = H @ W @ H.T      # (lavaan flips the sign of the mean rows: its statistic is -mean)
    out.nacov = W * N
    return out


def _pearson_scores(x: ContinuousItem, y: ContinuousItem, r: float):
    """Case-wise scores of the bivariate normal log-likelihood of two continuous variables
    (lavaan's ``lav_bvreg_cor_scores``) with respect to the correlation, means and variances."""
    ok = ~np.isnan(x.values) & ~np.isnan(y.values)
    sx, sy = np.sqrt(x.var), np.sqrt(y.var)
    zx = np.where(ok, (np.nan_to_num(x.values) - x.mean) / sx, 0.0)
    zy = np.where(ok, (np.nan_to_num(y.values) - y.mean) / sy, 0.0)
    R = 1.0 - r * r
    d_rho = np.where(ok, (r * R + (1 + r * r) * zx * zy - r * (zx * zx + zy * zy)) / (R * R), 0.0)
    out = {"rho": d_rho}
    for z, zo, s, first in ((zx, zy, sx, True), (zy, zx, sy, False)):
        out[("mu", first)] = np.where(ok, (z - r * zo) / (R * s), 0.0)
        out[("var", first)] = np.where(ok, (-1.0 + (z * z - r * z * zo) / R) / (2.0 * s * s), 0.0)
    return out

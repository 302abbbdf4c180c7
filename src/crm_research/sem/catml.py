"""Robust CFI/TLI/RMSEA for ordered data (Savalei, 2021, "Improving fit indices in structural
equation modeling with categorical data", Multivariate Behavioral Research 56, 390-407), as
lavaan 0.6-14's ``lav_fit_catml_dwls``: the DWLS solution is evaluated by the normal-theory
ML discrepancy between the polychoric correlation matrix and the implied correlations
("catML", no refitting), and that statistic is mean-scaled with the DWLS Gamma.  Only for
models whose observed variables are all ordered (lavaan returns NA otherwise).
"""
from __future__ import annotations

import numpy as np

from .nacov import lower_pairs


def catml_statistics(stats, implied_cor, J, Einv, weights, fg, npar_catml):
    """Return dict XX3, df3, c.hat3, XX3.scaled, XX3.null, df3.null, c.hat3.null (NaN when
    not applicable: continuous variables, a non-positive-definite correlation matrix).

    Parameters
    ----------
    stats : list of CategoricalStats
    implied_cor : list of (p, p) implied correlation matrices
    J : list of Jacobians (nstat_g, q) of the DWLS model
    Einv : (q, q) inverted DWLS information
    weights : list of DWLS weights (vectors)
    fg : group fractions N_g / N
    npar_catml : int
        Free parameters of the model without thresholds and intercepts.
    """
    nan = {k: np.nan for k in ("XX3", "df3", "c.hat3", "XX3.scaled", "XX3.null", "df3.null", "c.hat3.null")}
    if not all(all(s.ordered) for s in stats) or Einv is None or any(w.ndim != 1 for w in weights):
        return nan
    XX3, XX3n = 0.0, 0.0
    Vs, Ws, Gs, Ds = [], [], [], []
    for g, s in enumerate(stats):
        p = len(s.names)
        R = s.cor
        ev = np.linalg.eigvalsh(R)
        if ev.min() < np.finfo(float).eps ** 0.5:
            return nan
        Sig = implied_cor[g]
        sign, ld = np.linalg.slogdet(Sig)
        if sign <= 0:
            return nan
        Si = np.linalg.inv(Sig)
        F = ld - np.linalg.slogdet(R)[1] + np.trace(R @ Si) - p
        XX3 += s.N * F
        XX3n += s.N * (-np.linalg.slogdet(R)[1])
        pairs = lower_pairs(p)
        i, j = pairs[:, 0], pairs[:, 1]
        V = Si[np.ix_(i, i)] * Si[np.ix_(j, j)] + Si[np.ix_(i, j)] * Si[np.ix_(j, i)]
        T = len(s.obs) - len(pairs)
        Vs.append(fg[g] * V)
        Ws.append(fg[g] * weights[g][T:])
        Gs.append(s.nacov[T:, T:] / fg[g])
        Ds.append(J[g][T:, :])
    n = sum(len(v) for v in Vs)
    Vall = np.zeros((n, n))
    Gall = np.zeros((n, n))
    o = 0
    for V, Gm in zip(Vs, Gs):
        k = len(V)
        Vall[o:o + k, o:o + k] = V
        Gall[o:o + k, o:o + k] = Gm
        o += k
    Wall = np.concatenate(Ws)
    Dall = np.concatenate(Ds, axis=0)
    WiU = np.eye(n) - Dall @ Einv @ (Dall.T * Wall[None, :])
    ks = float(np.trace(WiU.T @ Vall @ WiU @ Gall))
    df3 = float(n - npar_catml)
    c3 = ks / df3 if df3 > 0 else np.nan
    df3n = float(n)
    return {"XX3": float(XX3), "df3": df3, "c.hat3": c3, "XX3.scaled": float(XX3) / c3 if df3 > 0 else np.nan,
            "XX3.null": float(XX3n), "df3.null": df3n, "c.hat3.null": float(np.trace(Gall)) / df3n}

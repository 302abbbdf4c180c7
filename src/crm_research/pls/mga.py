"""Multi-group analysis of a PLS path model: permutation test and Henseler's PLS-MGA.

For every pair of groups and every path (optionally loadings and weights too):

* ``test="permutation"`` (Chin & Dibbern 2010): the group labels are permuted ``n`` times,
  the model is estimated in both pseudo-groups and the difference recorded;
  ``pvalue`` = share of permuted differences at least as far from zero as the observed one
  (both tails, as cSEM's ``testMGD(.approach_mgd = "Chin")``).
* ``test="henseler"`` (Henseler 2007; Henseler, Ringle & Sinkovics 2009): each group is
  bootstrapped ``n`` times, the draws are centred on the group's estimate (bias removed, as
  cSEM), and ``pvalue.henseler.onesided`` = P(θ₁ ≤ θ₂) over all pairs of draws (ties count one half): small
  values say group 1's parameter is larger, values near 1 that group 2's is. ``pvalue`` is the
  two-sided ``2·min(p, 1 − p)``.

All re-estimations run on stacks of correlation matrices (one call of
:func:`crm_research.pls.estimate` per chunk), seeded: the same seed gives the same table.

Examples
--------
>>> import pandas as pd
>>> from crm_research import pls
>>> bfi = pd.read_csv("tests/data/bfi/bfi.csv").dropna().iloc[:500]
>>> m = "A =~ A2 + A3 + A5; E =~ E3 + E4 + E5; E ~ A"
>>> t = multigroup(m, bfi, "gender", n=100, seed=1)
>>> t[["lhs", "op", "rhs", "group.1", "group.2"]].values.tolist()
[['E', '~', 'A', '1', '2']]
"""
from __future__ import annotations

from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd

from crm_research.errors import ModelError
from crm_research.pls.algorithm import estimate
from crm_research.pls.stages import prepare_data
from crm_research.pls.specification import PLSModel, parse_model

__all__ = ["TESTS", "multigroup"]

TESTS = ("permutation", "henseler", "both")
PARAMETERS = ("paths", "all")
_CHUNK = 500


def _corr_weighted(X: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Correlation matrices of ``X`` (n x p) under row weights ``w`` (b x n): counts or 0/1 masks."""
    tot = w.sum(axis=1)
    m = w @ X / tot[:, None]
    C = np.einsum("bn,np,nq->bpq", w, X, X, optimize=True) / tot[:, None, None] - m[:, :, None] * m[:, None, :]
    d = np.sqrt(np.einsum("bpp->bp", C))
    return C / d[:, :, None] / d[:, None, :]


def _selectors(model: PLSModel, parameters: str) -> list[tuple[str, str, str, str, int, int]]:
    """(lhs, op, rhs, array name, row, col) of the parameters compared."""
    ci = {c: j for j, c in enumerate(model.constructs)}
    out = [(dep, "~", p, "paths", ci[dep], ci[p]) for dep in model.constructs for p in model.structural.get(dep, ())]
    if parameters == "all":
        col = {x: k for k, x in enumerate(model.columns)}
        for c in model.constructs:
            op = "=~" if model.modes[c] == "A" else "<~"
            for x in model.blocks[c]:
                out.append((c, op, x, "loadings", col[x], ci[c]))
                out.append((c, op, x, "weights", col[x], ci[c]))
    return out


def _values(est: Any, sel: list) -> np.ndarray:
    """Selected parameters from (batched) estimates: (..., m)."""
    cols = [np.asarray(getattr(est, a))[..., r, c] for _, _, _, a, r, c in sel]
    return np.stack(cols, axis=-1)


def _estimate_weighted(model, Xc, weights, opts, sel):
    out = []
    for a in range(0, len(weights), _CHUNK):
        est = estimate(model, _corr_weighted(Xc, weights[a:a + _CHUNK]), **opts)
        v = _values(est, sel)
        v[~np.atleast_1d(np.asarray(est.converged, bool))] = np.nan
        out.append(v)
    return np.concatenate(out, axis=0)


def _p_less_equal(a: np.ndarray, b: np.ndarray) -> float:
    """P(A <= B) over all pairs of draws, ties counting one half (cSEM's calculatePr)."""
    a, b = np.sort(a[np.isfinite(a)]), np.sort(b[np.isfinite(b)])
    lt = np.searchsorted(b, a, side="right")          # b <= a
    le = np.searchsorted(b, a, side="left")           # b < a
    greater = len(b) - lt                             # b > a
    ties = lt - le
    return float((greater + 0.5 * ties).sum() / (len(a) * len(b)))


def multigroup(model: Any, data: pd.DataFrame, group: str, *, test: str = "permutation", n: int = 5000,
               seed: int | None = None, parameters: str = "paths", scheme: str | None = None,
               consistent: bool | None = None, missing: str = "listwise", tol: float | None = None,
               max_iter: int | None = None, stop: str | None = None) -> pd.DataFrame:
    """Compare the groups of ``data[group]``: path differences with p-values.

    Parameters
    ----------
    model : str, PLSModel or PLSResult
        The model (a fitted result brings its scheme and PLSc setting).
    data : DataFrame
        Raw data with the indicators and the grouping column.
    group : str
        The grouping column (two or more groups; with more, every pair is compared).
    test : {"permutation", "henseler", "both"}
    n : int
        Permutations / bootstrap resamples per group (5000 as SmartPLS recommends; at least 100).
    seed : int, optional
    parameters : {"paths", "all"}
        Paths only, or also loadings and weights.
    scheme, consistent, missing, tol, max_iter, stop
        Estimation options as in :func:`~crm_research.pls.fit`.

    Returns
    -------
    DataFrame
        ``lhs``, ``op``, ``rhs``, ``group.1``, ``group.2``, ``est.1``, ``est.2``, ``diff``
        (``est.1 - est.2``), then ``pvalue.permutation`` and/or ``pvalue.henseler.onesided`` (one-sided
        P(θ₁ ≤ θ₂)) and ``pvalue.henseler`` (two-sided), and ``pvalue``: the two-sided p-value
        of ``test`` (the permutation test's for ``"both"``).

    Raises
    ------
    ModelError
        Unknown ``test``/``parameters``, a missing grouping column, fewer than two groups, a
        group too small to estimate the model.
    """
    if test not in TESTS:
        raise ModelError(f"test={test!r}: expected one of {', '.join(TESTS)}")
    if parameters not in PARAMETERS:
        raise ModelError(f"parameters={parameters!r}: expected one of {', '.join(PARAMETERS)}")
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 100:
        raise ModelError(f"n={n!r}: expected a whole number of permutations/resamples, at least 100 (5000 recommended)")
    opts = {}
    if hasattr(model, "estimates") and hasattr(model, "settings"):
        opts = {k: model.settings[k] for k in ("tol", "max_iter", "stop") if k in model.settings}
        opts.update(scheme=model.scheme, consistent=model.consistent)
        model = model.settings.get("input_model", model.model)
    if isinstance(model, str):
        model = parse_model(model)
    if not isinstance(model, PLSModel):
        raise ModelError(f"model must be PLS syntax, a PLSModel or a PLSResult, got {type(model).__name__}")
    if model.interactions or model.higher_order:
        raise ModelError("multigroup() compares first-order linear models (no interaction terms or higher-order "
                         "constructs)")
    opts.update({k: v for k, v in dict(scheme=scheme, consistent=consistent, tol=tol, max_iter=max_iter,
                                       stop=stop).items() if v is not None})
    if not isinstance(data, pd.DataFrame):
        raise ModelError(f"data must be a pandas DataFrame, got {type(data).__name__}")
    if group not in data.columns:
        raise ModelError(f"grouping column {group!r} is not in the data; columns are {', '.join(map(str, data.columns[:12]))}"
                         + (" ..." if len(data.columns) > 12 else ""))
    data = data[data[group].notna()]
    X, rows = prepare_data(model, data, missing)
    labels = data.loc[rows, group].astype(str).to_numpy()
    raw = data.loc[rows, group]
    if pd.api.types.is_numeric_dtype(raw):                 # 1, 2, 10 in numeric order, shown as text
        if pd.api.types.is_float_dtype(raw) and (raw == raw.round()).all():
            raw = raw.astype("int64")
        levels = [str(v) for v in sorted(set(raw))]
        labels = raw.astype(str).to_numpy()
    else:
        levels = sorted(set(labels))
    if len(levels) < 2:
        raise ModelError(f"grouping column {group!r} has {len(levels)} group(s) among the usable rows; "
                         "multi-group analysis needs at least two")
    p = X.shape[1]
    for g in levels:
        ng = int((labels == g).sum())
        if ng < max(10, p // 2):
            raise ModelError(f"group {g!r} of {group!r} has {ng} usable rows; too few to estimate the model")
    pos = {x: i for i, x in enumerate(model.indicators)}
    Xc = X[:, [pos[x] for x in model.columns]]
    sel = _selectors(model, parameters)
    rng = np.random.default_rng(seed)
    est_g = {}
    for g in levels:
        e = estimate(model, _corr_weighted(Xc, (labels == g)[None, :].astype(float)), **opts)
        est_g[g] = _values(e, sel)[0]
    boot = {}
    if test in ("henseler", "both"):
        for g in levels:
            idx = np.flatnonzero(labels == g)
            draws = rng.integers(0, len(idx), size=(n, len(idx)))
            w = np.zeros((n, X.shape[0]))
            np.add.at(w, (np.repeat(np.arange(n), len(idx)), idx[draws].ravel()), 1.0)
            v = _estimate_weighted(model, Xc, w, opts, sel)
            boot[g] = v - (np.nanmean(v, axis=0) - est_g[g])          # centred on the estimate
    rows_out = []
    for g1, g2 in combinations(levels, 2):
        diff = est_g[g1] - est_g[g2]
        res = {}
        if test in ("permutation", "both"):
            pool = np.flatnonzero((labels == g1) | (labels == g2))
            n1 = int((labels == g1).sum())
            masks = np.zeros((n, X.shape[0]))
            for b in range(n):
                masks[b, pool[rng.permutation(len(pool))[:n1]]] = 1.0
            other = np.zeros_like(masks)
            other[:, pool] = 1.0 - masks[:, pool]
            d = _estimate_weighted(model, Xc, masks, opts, sel) - _estimate_weighted(model, Xc, other, opts, sel)
            ok = np.isfinite(d).all(axis=1)
            d = d[ok]
            res["pvalue.permutation"] = (np.mean(d >= np.abs(diff), axis=0) + np.mean(d <= -np.abs(diff), axis=0))
        if test in ("henseler", "both"):
            ph = np.array([_p_less_equal(boot[g1][:, j], boot[g2][:, j]) for j in range(len(sel))])
            res["pvalue.henseler.onesided"] = ph
            res["pvalue.henseler"] = np.minimum(1.0, 2 * np.minimum(ph, 1 - ph))
        for j, (lhs, op, rhs, arr, _, _) in enumerate(sel):
            row = {"lhs": lhs, "op": op, "rhs": rhs, "group.1": g1, "group.2": g2,
                   "est.1": float(est_g[g1][j]), "est.2": float(est_g[g2][j]), "diff": float(diff[j])}
            if parameters == "all":
                row["parameter"] = {"paths": "path", "loadings": "loading", "weights": "weight"}[arr]
            for k, v in res.items():
                row[k] = float(v[j])
            row["pvalue"] = row["pvalue.permutation" if test in ("permutation", "both") else "pvalue.henseler"]
            rows_out.append(row)
    return pd.DataFrame(rows_out)

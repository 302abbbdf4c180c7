"""Overall fit of a PLS path model: SRMR, d_ULS and d_G, with the bootstrap HI95/HI99 quantiles.

The model-implied indicator correlation matrix follows ADANCO (and cSEM's ``fit()``):
``Sigma = Lambda' V Lambda + Theta`` with ``Theta = I - diag(Lambda' Lambda)``; blocks of
composites (mode B) keep their empirical correlations; a higher-order construct measured by
repeated indicators enters through the construct correlations only (its items load on their
first-order constructs); ``V`` is the construct correlation
matrix for the *saturated* model, and the structural model's implied correlations for the
*estimated* model (exogenous constructs' correlations as estimated, structural error
variances ``1 - R2``).

``implied="adanco"`` (default) reproduces ADANCO's estimated-model matrix to the last digit;
``implied="csem"`` sets the implied construct variances to one first (cSEM's choice, which
its authors argue is the correct one; the two differ only in models where a construct's
implied variance is not 1).

* SRMR: root mean square of the lower triangle (diagonal included) of ``S - Sigma``;
* d_ULS: ``0.5 * sum((S - Sigma)^2)``;
* d_G: ``0.5 * sum(log(eig(S^-1 Sigma))^2)`` with base-10 logarithms, as ADANCO and cSEM
  compute it (``log_base=np.e`` gives the natural-log version of Dijkstra & Henseler 2015).

HI95/HI99 are the 95% and 99% quantiles of each discrepancy over bootstrap resamples of the
data transformed so that the model holds exactly (Beran & Srivastava 1985; Dijkstra &
Henseler 2015's test of exact fit, cSEM's ``testOMF``): a discrepancy above HI95 rejects the
model at the 5% level.

Examples
--------
>>> import numpy as np
>>> S = np.array([[1, .5], [.5, 1]]); Sigma = np.array([[1, .4], [.4, 1]])
>>> round(float(srmr(S, Sigma)), 4), round(float(d_uls(S, Sigma)), 4)
(0.0577, 0.01)
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..errors import ModelError
from .quality import layout_of

__all__ = ["IMPLIED", "implied_correlation", "srmr", "d_uls", "d_g", "discrepancies", "fit_measures_table",
           "admissible", "exact_fit_test"]

IMPLIED = ("adanco", "csem")


def _construct_vcv(lay, P: np.ndarray, B: np.ndarray, implied: str) -> np.ndarray:
    """Implied construct correlations of the estimated (structural) model; stacks allowed."""
    c = len(lay.constructs)
    endo = lay.structure.any(axis=1)
    exo = ~endo
    ie, ix = np.flatnonzero(endo), np.flatnonzero(exo)
    Be = B[..., ie[:, None], ie[None, :]]
    G = B[..., ie[:, None], ix[None, :]]
    Phi = P[..., ix[:, None], ix[None, :]]
    zeta = 1 - (B * P).sum(axis=-1)[..., ie]                       # 1 - R2
    inv = np.linalg.inv(np.eye(len(ie)) - Be)
    cxe = Phi @ np.swapaxes(G, -1, -2) @ np.swapaxes(inv, -1, -2)
    psi = np.zeros(zeta.shape + (len(ie),))
    idx = np.arange(len(ie))
    psi[..., idx, idx] = zeta
    ce = inv @ (G @ Phi @ np.swapaxes(G, -1, -2) + psi) @ np.swapaxes(inv, -1, -2)
    if implied == "csem":
        ce[..., idx, idx] = 1.0
    V = np.zeros(P.shape[:-2] + (c, c))
    V[..., ix[:, None], ix[None, :]] = Phi
    V[..., ix[:, None], ie[None, :]] = cxe
    V[..., ie[:, None], ix[None, :]] = np.swapaxes(cxe, -1, -2)
    V[..., ie[:, None], ie[None, :]] = ce
    return V


def implied_correlation(model: Any, S: np.ndarray, loadings: np.ndarray, construct_corr: np.ndarray,
                        paths: np.ndarray, *, saturated: bool = False, implied: str = "adanco") -> np.ndarray:
    """Model-implied indicator correlation matrix (ADANCO's "Impl_Cor" sheets).

    Parameters
    ----------
    model : PLSModel
    S : ndarray, (p, p) or (k, p, p)
        Empirical indicator correlations (``model.columns`` order).
    loadings, construct_corr, paths : ndarray
        From :class:`~crm_research.pls.algorithm.Estimates` (batched alike when ``S`` is a stack).
    saturated : bool
        Use the construct correlations as estimated (saturated structural model).
    implied : {"adanco", "csem"}
        See the module docstring.

    Returns
    -------
    ndarray, same shape as ``S``

    Examples
    --------
    >>> from crm_research.pls.quality import Layout
    >>> lay = Layout(("A", "B"), ("a1", "a2", "b1", "b2"), np.array([[1, 1, 0, 0], [0, 0, 1, 1]], bool),
    ...              np.zeros(2, bool), np.array([[0, 0], [1, 0]], bool))
    >>> L = np.array([[.8, 0], [.7, 0], [0, .9], [0, .6]])
    >>> P = np.array([[1, .5], [.5, 1]]); B = np.array([[0, 0], [.5, 0]])
    >>> float(implied_correlation(lay, np.eye(4), L, P, B)[0, 2].round(3))
    0.36
    """
    if implied not in IMPLIED:
        raise ModelError(f"implied={implied!r}: expected one of {', '.join(IMPLIED)}")
    lay = layout_of(model)
    S = np.asarray(S, dtype=float)
    member = lay.membership.copy()       # repeated indicators: items load on their first-order construct only (P3)
    member[[j for j, c in enumerate(lay.constructs) if c in (getattr(model, "higher_order", None) or {})]] = False
    L = np.where(member.T, np.asarray(loadings, dtype=float), 0.0)   # (..., p, c)
    P = np.asarray(construct_corr, dtype=float)
    B = np.asarray(paths, dtype=float)
    if saturated or not lay.structure.any():
        V = P
    else:
        V = _construct_vcv(lay, P, B, implied)
    Sigma = L @ V @ np.swapaxes(L, -1, -2)
    p = S.shape[-1]
    d = np.arange(p)
    comm = (L ** 2).sum(axis=-1)
    Sigma[..., d, d] += S[..., d, d] - comm
    if implied == "adanco" and not saturated:
        Sigma[..., d, d] = S[..., d, d]
    if lay.composite.any():
        m = lay.membership[lay.composite].astype(float)
        same = (m.T @ m) > 0
        Sigma = np.where(same, S, Sigma)
    return Sigma


def srmr(S: np.ndarray, Sigma: np.ndarray) -> np.ndarray:
    """Standardized root mean square residual (lower triangle with the diagonal); stacks too.

    Examples
    --------
    >>> round(float(srmr(np.eye(2), np.array([[1, .3], [.3, 1]]))), 4)
    0.1732
    """
    S, Sigma = np.asarray(S, float), np.asarray(Sigma, float)
    i, j = np.tril_indices(S.shape[-1])
    r = (S - Sigma)[..., i, j]
    return np.sqrt(np.mean(r ** 2, axis=-1))


def d_uls(S: np.ndarray, Sigma: np.ndarray) -> np.ndarray:
    """Squared Euclidean distance ``0.5 * sum((S - Sigma)^2)``; stacks too.

    Examples
    --------
    >>> round(float(d_uls(np.eye(2), np.array([[1, .3], [.3, 1]]))), 4)
    0.09
    """
    S, Sigma = np.asarray(S, float), np.asarray(Sigma, float)
    return 0.5 * ((S - Sigma) ** 2).sum(axis=(-1, -2))


def d_g(S: np.ndarray, Sigma: np.ndarray, *, log_base: float = 10.0) -> np.ndarray:
    """Geodesic distance ``0.5 * sum(log(eig(S^-1 Sigma))^2)`` (base 10 as ADANCO); stacks too.

    Examples
    --------
    >>> round(float(d_g(np.eye(2), np.array([[1, .3], [.3, 1]]), log_base=np.e)), 4)
    0.098
    """
    S, Sigma = np.asarray(S, float), np.asarray(Sigma, float)
    try:
        ev = np.linalg.eigvals(np.linalg.solve(S, Sigma)).real
    except np.linalg.LinAlgError:
        raise ModelError("d_G needs an invertible indicator correlation matrix; two indicators are "
                         "perfectly collinear") from None
    with np.errstate(divide="ignore", invalid="ignore"):
        lg = np.log(ev) / np.log(log_base)
    return 0.5 * (lg ** 2).sum(axis=-1)


def discrepancies(S: np.ndarray, Sigma: np.ndarray, *, log_base: float = 10.0) -> np.ndarray:
    """``[srmr, d_uls, d_g]`` along the last axis (``(3,)`` or ``(k, 3)``).

    Examples
    --------
    >>> discrepancies(np.eye(2), np.eye(2)).tolist()
    [0.0, 0.0, 0.0]
    """
    return np.stack([srmr(S, Sigma), d_uls(S, Sigma), d_g(S, Sigma, log_base=log_base)], axis=-1)


MEASURES = ("srmr", "d_uls", "d_g")


def fit_measures_table(model: Any, S: np.ndarray, estimates: Any, *, implied: str = "adanco",
                       log_base: float = 10.0, test: dict | None = None) -> pd.DataFrame:
    """SRMR, d_ULS and d_G of the estimated and the saturated model (ADANCO's two tables).

    Parameters
    ----------
    model : PLSModel
    S : ndarray, (p, p)
    estimates : Estimates
    test : dict, optional
        :func:`exact_fit_test` output: adds ``HI95``/``HI99`` columns.

    Returns
    -------
    DataFrame
        Columns ``measure``, ``model`` (``estimated``/``saturated``), ``value`` [, ``HI95``, ``HI99``].

    Examples
    --------
    >>> from crm_research.pls import parse_model, estimate
    >>> m = parse_model("X =~ x1 + x2; Y =~ y1 + y2; Y ~ X")
    >>> S = np.array([[1, .5, .3, .2], [.5, 1, .3, .3], [.3, .3, 1, .6], [.2, .3, .6, 1.]])
    >>> fit_measures_table(m, S, estimate(m, S))["measure"].tolist()
    ['srmr', 'd_uls', 'd_g', 'srmr', 'd_uls', 'd_g']
    """
    _check_linear(model)
    rows = []
    for kind, sat in (("estimated", False), ("saturated", True)):
        Sig = implied_correlation(model, S, estimates.loadings, estimates.construct_corr, estimates.paths,
                                  saturated=sat, implied=implied)
        vals = discrepancies(S, Sig, log_base=log_base)
        for name, v in zip(MEASURES, vals):
            row = {"measure": name, "model": kind, "value": float(v)}
            if test is not None:
                row["HI95"], row["HI99"] = (float(test[kind][q][MEASURES.index(name)]) for q in ("HI95", "HI99"))
            rows.append(row)
    return pd.DataFrame(rows)


def _check_linear(model: Any) -> None:
    if getattr(model, "interactions", None):
        raise ModelError("SRMR, d_ULS and d_G are not defined for models with interaction terms (the model-implied "
                         "correlation matrix of a nonlinear model is not available)")


def _sqrtm(A: np.ndarray, inverse: bool = False) -> np.ndarray:
    w, V = np.linalg.eigh((A + A.T) / 2)
    if w.min() <= 0:
        raise ModelError("the exact-fit bootstrap needs positive definite correlation matrices; an indicator "
                         "is a linear combination of others")
    return (V * (w ** (-0.5 if inverse else 0.5))) @ V.T


def _resampled_corr(X: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """Correlation matrices of the row resamples ``X[idx[b]]`` (k, p, p)."""
    n = X.shape[0]
    counts = np.zeros((idx.shape[0], n))
    np.add.at(counts, (np.arange(idx.shape[0])[:, None], idx), 1.0)
    m = counts @ X / n
    C = np.einsum("bn,np,nq->bpq", counts, X, X, optimize=True) / n - m[:, :, None] * m[:, None, :]
    sd = np.sqrt(np.einsum("bpp->bp", C))
    return C / sd[:, :, None] / sd[:, None, :]


def admissible(estimates: Any) -> np.ndarray:
    """Which (batched) estimates the exact-fit bootstrap keeps: converged, and no loading above 1
    in absolute value (a Heywood case of PLSc). :func:`exact_fit_test` also drops resamples
    whose model-implied matrix is not positive definite (d_G undefined).

    Resamples whose construct correlation matrix is not positive definite are kept: with
    them the HI95/HI99 quantiles reproduce ADANCO's (dropping them too, as cSEM's ``verify()``
    would, discards two thirds of the resamples of a model with a construct correlation near 1).

    Examples
    --------
    >>> from crm_research.pls import parse_model, estimate
    >>> m = parse_model("X =~ x1 + x2; Y =~ y1 + y2; Y ~ X")
    >>> S = np.array([[1, .5, .3, .2], [.5, 1, .3, .3], [.3, .3, 1, .6], [.2, .3, .6, 1.]])
    >>> admissible(estimate(m, np.stack([S, S]))).tolist()
    [True, True]
    """
    conv = np.asarray(estimates.converged, bool)
    L = np.asarray(estimates.loadings, float)
    ok = conv & (np.nan_to_num(np.abs(L), nan=2.0).max(axis=(-1, -2)) <= 1 + 1e-10)
    return np.atleast_1d(ok)


def exact_fit_test(model: Any, Z: np.ndarray, estimates: Any, *, n: int = 499, seed: int | None = None,
                   estimate_options: dict | None = None, implied: str = "adanco", log_base: float = 10.0,
                   chunk: int = 500) -> dict:
    """Bootstrap quantiles HI95/HI99 of SRMR, d_ULS and d_G under exact fit.

    The standardized data ``Z`` are transformed so that their correlation matrix equals the
    model-implied one (``Z S^-1/2 Sigma^1/2``), rows are resampled ``n`` times, the model is
    re-estimated on every resample (all at once, on the stack of correlation matrices) and the
    discrepancy between each resample's correlations and its own implied matrix is recorded.

    Parameters
    ----------
    model : PLSModel
        The (stage-2) model the estimates refer to.
    Z : ndarray, (N, p)
        Standardized data in ``model.columns`` order.
    estimates : Estimates
    n : int
        Bootstrap resamples (ADANCO and cSEM default to 499 / 999).
    seed : int, optional
        The same seed gives the same quantiles.
    estimate_options : dict
        ``scheme``, ``consistent``, ``tol``, ``max_iter``, ``stop`` for
        :func:`~crm_research.pls.estimate`.

    Returns
    -------
    dict
        ``{"estimated": {"HI95": array(3), "HI99": array(3), "n_ok": int}, "saturated": {...},
        "n": n, "draws": {"estimated": (n_ok, 3), "saturated": ...}}``; ``n_ok`` counts the resamples
        kept (see :func:`admissible`).

    Examples
    --------
    >>> from crm_research.pls import parse_model, estimate
    >>> rng = np.random.default_rng(0)
    >>> f = rng.normal(size=(200, 1)); Z = np.hstack([f + rng.normal(size=(200, 2)), f + rng.normal(size=(200, 2))])
    >>> Z = (Z - Z.mean(0)) / Z.std(0)
    >>> m = parse_model("X =~ x1 + x2; Y =~ y1 + y2; Y ~ X")
    >>> t = exact_fit_test(m, Z, estimate(m, np.corrcoef(Z.T)), n=50, seed=1)
    >>> sorted(t["estimated"])
    ['HI95', 'HI99', 'n_ok']
    """
    from .algorithm import estimate

    _check_linear(model)
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 20:
        raise ModelError(f"n={n!r}: the exact-fit bootstrap needs a whole number of resamples, at least 20 "
                         "(ADANCO uses 999)")
    Z = np.asarray(Z, dtype=float)
    N = Z.shape[0]
    S = np.corrcoef(Z, rowvar=False)
    opts = dict(estimate_options or {})
    rng = np.random.default_rng(seed)
    out: dict = {"n": int(n)}
    draws = {}
    for kind, sat in (("estimated", False), ("saturated", True)):
        Sig = implied_correlation(model, S, estimates.loadings, estimates.construct_corr, estimates.paths,
                                  saturated=sat, implied=implied)
        Xt = Z @ _sqrtm(S, inverse=True) @ _sqrtm(Sig)
        idx = rng.integers(0, N, size=(n, N))
        vals, ok = [], 0
        for a in range(0, n, chunk):
            Sb = _resampled_corr(Xt, idx[a:a + chunk])
            eb = estimate(model, Sb, **opts)
            Sig_b = implied_correlation(model, Sb, eb.loadings, eb.construct_corr, eb.paths,
                                        saturated=sat, implied=implied)
            d = discrepancies(Sb, Sig_b, log_base=log_base)
            # d_G is undefined where the implied matrix is not positive definite: drop those too
            good = admissible(eb) & np.isfinite(d).all(axis=-1)
            vals.append(d[good])
            ok += int(good.sum())
        D = np.concatenate(vals, axis=0)
        draws[kind] = D
        if ok < 10:
            raise ModelError(f"the exact-fit bootstrap kept only {ok} of {n} resamples (the others did not converge "
                             ", gave loadings above 1 or a model-implied matrix that is not positive definite); the "
                             "model's fit cannot be tested this way")
        out[kind] = {"HI95": np.quantile(D, 0.95, axis=0), "HI99": np.quantile(D, 0.99, axis=0), "n_ok": ok}
    out["draws"] = draws
    return out

"""The PLS path-modelling algorithm (Lohmoeller/Wold) on indicator correlation matrices.

Everything the algorithm needs from standardized data is the indicator correlation
matrix ``S``: construct scores ``Y = X W`` have correlations ``W' S W``, indicator-score
covariances are ``S W``, and a mode-B regression of a proxy on a block is
``S_bb^{-1} S_b. W e``. :func:`estimate` therefore takes ``S`` (p x p), or a stack of them
(k x p x p, e.g. bootstrap resamples), and runs the algorithm on all of them at once; each
matrix in a stack stops at its own convergence, so its result does not depend on the
others.

Inner weighting schemes: ``path`` (Lohmoeller's path weighting: regression weights from a
construct's predecessors, correlations to its successors), ``centroid`` (signs of the
correlations of adjacent constructs), ``factorial`` (the correlations). Stop criterion
``stop="smartpls"``: the sum of the absolute changes of all outer weights below ``tol``
(SmartPLS/seminr; ``tol=1e-7`` is SmartPLS's "stop criterion 7"); ``stop="max"``: the
largest absolute change below ``tol`` (cSEM's ``diff_absolute``). ``consistent=True``
applies Dijkstra-Henseler's PLSc correction to mode-A constructs (``rho_A``, consistent
loadings, disattenuated construct correlations, paths from them).

>>> import numpy as np
>>> from crm_research.pls import parse_model
>>> m = parse_model("X =~ x1 + x2; Y =~ y1 + y2; Y ~ X")
>>> S = np.array([[1, .5, .3, .3], [.5, 1, .3, .3], [.3, .3, 1, .6], [.3, .3, .6, 1.]])
>>> est = estimate(m, S)
>>> round(float(est.paths[1, 0]), 4), est.converged
(0.3873, True)
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from crm_research.errors import ModelError
from crm_research.pls.specification import PLSModel

__all__ = ["Estimates", "estimate", "SCHEMES", "STOP_RULES"]

SCHEMES = ("path", "centroid", "factorial")
STOP_RULES = ("smartpls", "max")


@dataclass
class Estimates:
    """What one run of the PLS algorithm gives (arrays with a leading batch axis when
    :func:`estimate` was given a stack of correlation matrices).

    Rows of the ``p x c`` arrays follow ``model.columns``, columns (and both axes of
    ``c x c`` arrays) ``model.constructs``.

    Attributes
    ----------
    weights : ndarray (p x c)
        Outer weights, scaled so that each construct score has unit variance (zero off-block).
    loadings : ndarray (p x c)
        Loadings in each construct's block (zero elsewhere): indicator-score correlations;
        with ``consistent`` the consistent loadings of mode-A constructs.
    cross_loadings : ndarray (p x c)
        Correlations of every indicator with every construct score (with ``consistent``,
        off-block correlations with mode-A constructs are divided by ``sqrt(rho_A)``, and the
        block itself holds the consistent loadings).
    construct_corr : ndarray (c x c)
        Construct correlations (with ``consistent``: disattenuated by ``rho_A``).
    score_corr : ndarray (c x c)
        Correlations of the construct scores (never corrected).
    paths : ndarray (c x c)
        ``paths[i, j]`` the effect of construct ``j`` on construct ``i`` (OLS on
        ``construct_corr``); zero where there is no path.
    r2 : ndarray (c)
        R-squared of each endogenous construct (NaN for exogenous ones).
    rho_a : ndarray (c)
        Dijkstra-Henseler's rho_A (1 for single-item constructs; computed for mode B too,
        but used in the PLSc correction only for mode A).
    iterations : ndarray of int or int
        Iterations until the stop criterion was met.
    converged : ndarray of bool or bool
        Whether the stop criterion was met within ``max_iter``.
    """

    model: PLSModel
    weights: np.ndarray
    loadings: np.ndarray
    cross_loadings: np.ndarray
    construct_corr: np.ndarray
    score_corr: np.ndarray
    paths: np.ndarray
    r2: np.ndarray
    rho_a: np.ndarray
    iterations: np.ndarray
    converged: np.ndarray
    scheme: str = "path"
    consistent: bool = False
    meta: dict = field(default_factory=dict)

    @property
    def batched(self) -> bool:
        """True when the arrays carry a leading batch axis."""
        return self.weights.ndim == 3

    def __getitem__(self, i) -> "Estimates":
        """The ``i``-th member of a batch (an unbatched :class:`Estimates`)."""
        if not self.batched:
            raise TypeError("an unbatched Estimates cannot be indexed")
        return Estimates(self.model, self.weights[i], self.loadings[i], self.cross_loadings[i],
                         self.construct_corr[i], self.score_corr[i], self.paths[i], self.r2[i],
                         self.rho_a[i], self.iterations[i], self.converged[i], self.scheme,
                         self.consistent, dict(self.meta))


def _check(model: PLSModel, S: np.ndarray, scheme: str, stop: str, tol: float, max_iter: int) -> np.ndarray:
    if not isinstance(model, PLSModel):
        raise ModelError(f"estimate() needs a PLSModel (from parse_model), got {type(model).__name__}")
    if scheme not in SCHEMES:
        raise ModelError(f"scheme={scheme!r}: expected one of {', '.join(SCHEMES)}")
    if stop not in STOP_RULES:
        raise ModelError(f"stop={stop!r}: expected one of {', '.join(STOP_RULES)}")
    if not (isinstance(tol, (int, float)) and tol > 0):
        raise ModelError(f"tol={tol!r}: expected a positive number such as 1e-7")
    if not (isinstance(max_iter, (int, np.integer)) and max_iter >= 1):
        raise ModelError(f"max_iter={max_iter!r}: expected a positive whole number such as 300")
    S = np.asarray(S, dtype=float)
    p = len(model.columns)
    if S.ndim not in (2, 3) or S.shape[-2:] != (p, p):
        raise ModelError(f"S has shape {S.shape}: expected ({p}, {p}) or (k, {p}, {p}) for the model's "
                         f"{p} indicator columns {list(model.columns)[:4]}...")
    if not np.all(np.isfinite(S)):
        raise ModelError("S (indicator correlation matrix) has missing or infinite entries")
    return S


def _scale(W: np.ndarray, S: np.ndarray) -> np.ndarray:
    """Scale each column of W (k, p, c) to unit score variance under S (k, p, p)."""
    var = (W * (S @ W)).sum(axis=1)
    if np.any(var <= 0):
        raise ModelError("a construct score has zero variance (an indicator block with constant or "
                         "perfectly opposed columns?)")
    return W / np.sqrt(var)[:, None, :]


def _inner(C: np.ndarray, D: np.ndarray, scheme: str, preds: list) -> np.ndarray:
    """Inner weights E (k, c, c): proxy_i = sum_j Y_j E[j, i]."""
    A = (D + D.T) > 0
    if scheme == "centroid":
        return np.sign(C) * A
    if scheme == "factorial":
        return C * A
    E = C * (D > 0)          # E[j, i] = C[j, i] where i predicts j (j a successor of i)
    for i, P in preds:
        if len(P) == 1:
            beta = C[:, P[0], i][:, None]
        else:
            beta = np.linalg.solve(C[:, P][:, :, P], C[:, P, i][:, :, None])[:, :, 0]
        E[:, P, i] = beta
    return E


def _ols(C: np.ndarray, preds: list, c: int):
    k = C.shape[0]
    B = np.zeros((k, c, c))
    r2 = np.full((k, c), np.nan)
    for i, P in preds:
        beta = np.linalg.solve(C[:, P][:, :, P], C[:, P, i][:, :, None])[:, :, 0]
        B[:, i, P] = beta
        r2[:, i] = np.einsum("kj,kj->k", beta, C[:, P, i])
    return B, r2


def estimate(model: PLSModel, S: np.ndarray, *, scheme: str = "path", consistent: bool = False,
             tol: float = 1e-7, max_iter: int = 300, stop: str = "smartpls") -> Estimates:
    """Run the PLS algorithm on an indicator correlation matrix or a stack of them.

    Parameters
    ----------
    model : PLSModel
        From :func:`~crm_research.pls.parse_model`; ``S`` is ordered as ``model.columns``.
    S : ndarray
        Indicator correlation matrix (p x p) or a stack (k x p x p).
    scheme : {"path", "centroid", "factorial"}
        Inner weighting scheme.
    consistent : bool
        Apply PLSc (Dijkstra & Henseler 2015) to mode-A constructs.
    tol, max_iter, stop
        Stop when the change of the outer weights is below ``tol`` (``stop="smartpls"``: sum of
        absolute changes, as SmartPLS; ``"max"``: largest absolute change, as cSEM), or after
        ``max_iter`` iterations (then ``converged`` is False).

    Returns
    -------
    Estimates

    Examples
    --------
    >>> import numpy as np
    >>> from crm_research.pls import parse_model
    >>> m = parse_model("X <~ x1 + x2; Y =~ y1 + y2; Y ~ X")
    >>> S = np.array([[1, .5, .3, .2], [.5, 1, .3, .3], [.3, .3, 1, .6], [.2, .3, .6, 1.]])
    >>> stack = np.stack([S, S])
    >>> est = estimate(m, stack, scheme="factorial", consistent=True)
    >>> est.paths.shape, bool(np.allclose(est.paths[0], est.paths[1]))
    ((2, 2, 2), True)
    """
    S = _check(model, S, scheme, stop, tol, max_iter)
    single = S.ndim == 2
    if single:
        S = S[None]
    k, p = S.shape[0], S.shape[1]
    cons = model.constructs
    c = len(cons)
    col = {x: i for i, x in enumerate(model.columns)}
    blocks = [np.array([col[x] for x in model.blocks[cn]]) for cn in cons]
    M = np.zeros((p, c))
    for j, b in enumerate(blocks):
        M[b, j] = 1.0
    D = model.adjacency()
    preds = [(i, np.flatnonzero(D[i])) for i in range(c) if D[i].any()]
    modeB = [j for j, cn in enumerate(cons) if model.modes[cn] == "B" and len(blocks[j]) > 1]
    invB = {}
    for j in modeB:
        b = blocks[j]
        Sbb = S[:, b][:, :, b]
        ev = np.linalg.eigvalsh(Sbb)
        if np.any(ev[:, 0] < 1e-10 * ev[:, -1]):
            raise ModelError(f"construct {cons[j]!r} (mode B): its indicators' correlation matrix is "
                             "singular (an indicator is a linear combination of others)",
                             hint="drop the redundant indicator or use mode A ('=~')")
        invB[j] = np.linalg.inv(Sbb)

    W = _scale(np.broadcast_to(M, (k, p, c)).copy(), S)
    iterations = np.zeros(k, dtype=int)
    converged = np.zeros(k, dtype=bool)
    active = np.arange(k)
    for it in range(1, max_iter + 1):
        Sa, Wa = S[active], W[active]
        C = np.swapaxes(Wa, 1, 2) @ (Sa @ Wa)
        E = _inner(C, D, scheme, preds)
        G = Sa @ (Wa @ E)                        # cov(indicators, inner proxies), (ka, p, c)
        Wn = G * M
        for j in modeB:
            b = blocks[j]
            Wn[:, b, j] = (invB[j][active] @ G[:, b, j][:, :, None])[:, :, 0]
        Wn = _scale(Wn, Sa)
        delta = np.abs(Wn - Wa)
        diff = delta.sum(axis=(1, 2)) if stop == "smartpls" else delta.max(axis=(1, 2))
        W[active] = Wn
        iterations[active] = it
        done = diff < tol
        converged[active[done]] = True
        active = active[~done]
        if active.size == 0:
            break

    SW = S @ W                                   # cov(indicator, score) = corr (unit variance)
    C = np.swapaxes(W, 1, 2) @ SW
    # rho_A (Dijkstra-Henseler 2015), per construct
    rho = np.ones((k, c))
    for j, b in enumerate(blocks):
        if len(b) < 2:
            continue
        w = W[:, b, j]
        Sbb = S[:, b][:, :, b]
        off = Sbb - np.eye(len(b)) * np.diagonal(Sbb, axis1=1, axis2=2)[:, None, :]
        num = np.einsum("ka,kab,kb->k", w, off, w)
        ww = (w * w).sum(axis=1)
        den = ww ** 2 - (w ** 4).sum(axis=1)                # w'(ww' - diag(ww'))w
        with np.errstate(divide="ignore", invalid="ignore"):
            rho[:, j] = np.where(den > 0, ww ** 2 * num / np.where(den > 0, den, 1.0), np.nan)
    loadings = SW * M
    cross = SW.copy()
    Cc = C.copy()
    if consistent:
        q = np.ones((k, c))
        for j, b in enumerate(blocks):
            if model.modes[cons[j]] != "A" or len(b) < 2:
                continue
            w = W[:, b, j]
            with np.errstate(invalid="ignore"):                     # rho_A <= 0: NaN, refused by fit
                qj = np.sqrt(rho[:, j])
            loadings[:, b, j] = w * (qj / (w * w).sum(axis=1))[:, None]     # c_hat * w
            q[:, j] = qj
        cross = np.where(M > 0, loadings, SW / q[:, None, :])
        Cc = C / (q[:, :, None] * q[:, None, :])
        Cc[:, np.arange(c), np.arange(c)] = 1.0
    bad = ~np.isfinite(Cc).all(axis=(1, 2))
    if bad.any():                      # keep the algebra finite; such members get NaN paths
        Cc[bad] = np.eye(c)
    paths, r2 = _ols(Cc, preds, c)
    paths[bad] = np.nan
    r2[bad] = np.nan
    if bad.any():
        Cc[bad] = np.nan
    out = Estimates(model=model, weights=W, loadings=loadings, cross_loadings=cross, construct_corr=Cc,
                    score_corr=C, paths=paths, r2=r2, rho_a=rho, iterations=iterations, converged=converged,
                    scheme=scheme, consistent=consistent,
                    meta={"tol": tol, "max_iter": max_iter, "stop": stop})
    if single:
        out = out[0]
        out.iterations = int(out.iterations)
        out.converged = bool(out.converged)
    return out

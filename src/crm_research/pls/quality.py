"""Quality criteria of a PLS path model, as SmartPLS and ADANCO report them.

Pure functions of the model, the indicator correlation matrix ``S`` and the estimates.
Those a bootstrap needs (HTMT, effects) take a stack ``(k, p, p)`` / ``(k, c, c)`` as well
as one matrix and return arrays with the same leading axis, so all resamples are computed
at once.

Formulas (indicators standardized, construct scores of unit variance):

* Cronbach's alpha (standardized): ``K r / (1 + (K - 1) r)``, ``r`` the mean correlation
  within the block.
* Joreskog's rho_c: ``(sum l)^2 / ((sum l)^2 + sum(1 - l^2))``; AVE ``mean(l^2)``
  (``l`` the loadings, for PLSc the consistent loadings).
* R2_adj ``1 - (1 - R2)(N - 1)/(N - k - 1)``; Cohen's f2 ``(R2 - R2_excl)/(1 - R2)``.
* HTMT (Henseler, Ringle & Sarstedt 2015): mean heterotrait-heteromethod correlation over
  the geometric mean of the two mean monotrait-heteromethod correlations (absolute value;
  a single-item block's monotrait correlation is 1).
* Fornell-Larcker: squared construct correlations with the AVE on the diagonal.
* Outer VIF: ``diag(R^-1)`` of each block's correlation matrix; inner VIF the same for the
  predictors of each endogenous construct.

Examples
--------
>>> import numpy as np
>>> S = np.array([[1.0, .5, .4], [.5, 1.0, .3], [.4, .3, 1.0]])
>>> round(float(alpha_of_block(S)), 4)
0.6667
"""
from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations
from typing import Any, Sequence

import numpy as np
import pandas as pd

from ..errors import ModelError

__all__ = ["Layout", "layout_of", "alpha_of_block", "cronbach_alpha", "rho_c", "ave", "r2_adjusted",
           "f_squared", "htmt", "htmt_table", "fornell_larcker", "vif_outer", "vif_inner",
           "total_effects", "indirect_effects", "specific_indirect_effects",
           "effects_table", "reliability_table"]


@dataclass(frozen=True)
class Layout:
    """The shape of a PLS model as arrays (what the quality functions need).

    Attributes
    ----------
    constructs, indicators : tuple of str
        Names in the order of the estimates' construct and indicator axes.
    membership : ndarray of bool, (c, p)
        ``membership[j, k]``: indicator ``k`` measures construct ``j``.
    composite : ndarray of bool, (c,)
        Construct ``j`` is a composite (mode B, ``<~``); otherwise reflective (``=~``).
    structure : ndarray of bool, (c, c)
        ``structure[i, j]``: construct ``j`` predicts construct ``i`` (``i ~ j``).
    """

    constructs: tuple
    indicators: tuple
    membership: np.ndarray
    composite: np.ndarray
    structure: np.ndarray

    @property
    def endogenous(self) -> list[int]:
        return [i for i in range(len(self.constructs)) if self.structure[i].any()]

    def block(self, j: int) -> np.ndarray:
        return np.flatnonzero(self.membership[j])


def _attr(obj: Any, *names: str) -> Any:
    for n in names:
        if hasattr(obj, n):
            return getattr(obj, n)
    return None


def layout_of(model: Any) -> Layout:
    """Arrays describing ``model`` (a parsed PLS model or a :class:`Layout`).

    Parameters
    ----------
    model : PLSModel or Layout
        What :func:`crm_research.pls.specification.parse_model` returns.

    Returns
    -------
    Layout

    Examples
    --------
    >>> lay = Layout(("A", "B"), ("a1", "b1"), np.eye(2, dtype=bool), np.zeros(2, bool),
    ...              np.array([[False, False], [True, False]]))
    >>> layout_of(lay).endogenous
    [1]
    """
    if isinstance(model, Layout):
        return model
    constructs = _attr(model, "constructs")
    indicators = _attr(model, "columns", "indicators")
    blocks = _attr(model, "blocks")
    modes = _attr(model, "modes")
    preds = _attr(model, "structural")
    if constructs is None or indicators is None or blocks is None:
        raise ModelError(f"cannot read the constructs and indicators of {type(model).__name__!r}; expected "
                         "a model from crm_research.pls.parse_model")
    constructs, indicators = tuple(constructs), tuple(indicators)
    c, p = len(constructs), len(indicators)
    ci = {n: j for j, n in enumerate(constructs)}
    ii = {n: k for k, n in enumerate(indicators)}
    membership = np.zeros((c, p), bool)
    for j, name in enumerate(constructs):
        for ind in blocks[name]:
            if ind in ii:
                membership[j, ii[ind]] = True
    composite = np.array([str(modes[n]).upper() == "B" for n in constructs], bool)
    structure = np.zeros((c, c), bool)
    for lhs, rhs in dict(preds or {}).items():
        for r in rhs:
            structure[ci[lhs], ci[r]] = True
    return Layout(constructs, indicators, membership, composite, structure)


def _check_square(S: np.ndarray, p: int, what: str = "S") -> np.ndarray:
    S = np.asarray(S, dtype=float)
    if S.ndim not in (2, 3) or S.shape[-1] != S.shape[-2] or S.shape[-1] != p:
        raise ModelError(f"{what} must be a ({p} x {p}) indicator correlation matrix or a (k x {p} x {p}) "
                         f"stack of them; got shape {S.shape}")
    return S


# --------------------------------------------------------------------------- reliability
def alpha_of_block(R: np.ndarray) -> np.ndarray:
    """Standardized Cronbach's alpha of one block's correlation matrix (or a stack).

    Parameters
    ----------
    R : ndarray, (..., K, K)

    Returns
    -------
    ndarray, (...)

    Examples
    --------
    >>> round(float(alpha_of_block(np.array([[1, .6], [.6, 1]]))), 4)
    0.75
    """
    R = np.asarray(R, dtype=float)
    K = R.shape[-1]
    if K == 1:
        return np.ones(R.shape[:-2])
    total = R.sum(axis=(-1, -2))
    tr = np.trace(R, axis1=-2, axis2=-1)
    rbar = (total - tr) / (K * (K - 1))
    return K * rbar / (1 + (K - 1) * rbar)


def cronbach_alpha(model: Any, S: np.ndarray) -> np.ndarray:
    """Cronbach's alpha of every construct from the indicator correlation matrix.

    Parameters
    ----------
    model : PLSModel or Layout
    S : ndarray, (p, p) or (k, p, p)

    Returns
    -------
    ndarray, (c,) or (k, c)

    Examples
    --------
    >>> lay = Layout(("A",), ("a1", "a2"), np.ones((1, 2), bool), np.zeros(1, bool), np.zeros((1, 1), bool))
    >>> cronbach_alpha(lay, np.array([[1, .6], [.6, 1]])).round(4)
    array([0.75])
    """
    lay = layout_of(model)
    S = _check_square(S, len(lay.indicators))
    out = [alpha_of_block(S[..., b[:, None], b[None, :]]) for b in map(lay.block, range(len(lay.constructs)))]
    return np.stack(out, axis=-1)


def _loadings_by_construct(lay: Layout, loadings: np.ndarray) -> np.ndarray:
    L = np.asarray(loadings, dtype=float)
    if L.shape[-2:] != lay.membership.T.shape:
        raise ModelError(f"loadings must be (p x c) = {lay.membership.T.shape}; got {L.shape}")
    return np.where(lay.membership.T, L, 0.0)


def rho_c(model: Any, loadings: np.ndarray) -> np.ndarray:
    """Joreskog's composite reliability rho_c per construct.

    Parameters
    ----------
    model : PLSModel or Layout
    loadings : ndarray, (..., p, c)

    Returns
    -------
    ndarray, (..., c)

    Examples
    --------
    >>> lay = Layout(("A",), ("a1", "a2"), np.ones((1, 2), bool), np.zeros(1, bool), np.zeros((1, 1), bool))
    >>> rho_c(lay, np.array([[.8], [.7]])).round(4)
    array([0.7212])
    """
    lay = layout_of(model)
    L = _loadings_by_construct(lay, loadings)
    s = L.sum(axis=-2) ** 2
    err = np.where(lay.membership.T, 1 - L ** 2, 0.0).sum(axis=-2)
    return s / (s + err)


def ave(model: Any, loadings: np.ndarray) -> np.ndarray:
    """Average variance extracted: the mean squared loading of each block.

    Examples
    --------
    >>> lay = Layout(("A",), ("a1", "a2"), np.ones((1, 2), bool), np.zeros(1, bool), np.zeros((1, 1), bool))
    >>> ave(lay, np.array([[.8], [.6]])).round(4)
    array([0.5])
    """
    lay = layout_of(model)
    L = _loadings_by_construct(lay, loadings)
    return (L ** 2).sum(axis=-2) / lay.membership.sum(axis=1)


def reliability_table(model: Any, S: np.ndarray, loadings: np.ndarray, rho_a: np.ndarray) -> pd.DataFrame:
    """Reliability and convergent validity per construct: alpha, rho_a, rho_c, ave.

    Examples
    --------
    >>> lay = Layout(("A",), ("a1", "a2"), np.ones((1, 2), bool), np.zeros(1, bool), np.zeros((1, 1), bool))
    >>> reliability_table(lay, np.array([[1, .56], [.56, 1]]), np.array([[.8], [.7]]), np.array([.72])).columns.tolist()
    ['construct', 'mode', 'items', 'alpha', 'rho_a', 'rho_c', 'ave']
    """
    lay = layout_of(model)
    return pd.DataFrame({
        "construct": list(lay.constructs),
        "mode": ["composite" if b else "reflective" for b in lay.composite],
        "items": lay.membership.sum(axis=1).astype(int),
        "alpha": cronbach_alpha(lay, S),
        "rho_a": np.asarray(rho_a, dtype=float),
        "rho_c": rho_c(lay, loadings),
        "ave": ave(lay, loadings),
    })


# --------------------------------------------------------------------------- structural
def r2_adjusted(model: Any, r2: np.ndarray, nobs: int) -> np.ndarray:
    """Adjusted R2 ``1 - (1 - R2)(N - 1)/(N - k - 1)`` (k predictors); NaN for exogenous constructs.

    Examples
    --------
    >>> lay = Layout(("A", "B"), ("a", "b"), np.eye(2, dtype=bool), np.zeros(2, bool),
    ...              np.array([[False, False], [True, False]]))
    >>> r2_adjusted(lay, np.array([np.nan, .5]), 101).round(4)
    array([   nan, 0.4949])
    """
    lay = layout_of(model)
    k = lay.structure.sum(axis=1)
    r2 = np.asarray(r2, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = 1 - (1 - r2) * (nobs - 1) / (nobs - k - 1)
    return np.where(k > 0, out, np.nan)


def _r2_from_corr(P: np.ndarray, y: int, xs: Sequence[int]) -> float:
    if len(xs) == 0:
        return 0.0
    xs = list(xs)
    r = P[xs, y]
    return float(r @ np.linalg.solve(P[np.ix_(xs, xs)], r))


def f_squared(model: Any, construct_corr: np.ndarray) -> pd.DataFrame:
    """Cohen's f2 of every structural path: ``(R2_incl - R2_excl)/(1 - R2_incl)``.

    R2 values are computed from the construct correlation matrix (disattenuated for PLSc),
    as SmartPLS and ADANCO do.

    Returns
    -------
    DataFrame with lhs (dependent), op ``~``, rhs (predictor), f2.

    Examples
    --------
    >>> lay = Layout(("A", "B"), ("a", "b"), np.eye(2, dtype=bool), np.zeros(2, bool),
    ...              np.array([[False, False], [True, False]]))
    >>> float(f_squared(lay, np.array([[1, .6], [.6, 1]]))["f2"].round(4).iloc[0])
    0.5625
    """
    lay = layout_of(model)
    P = np.asarray(construct_corr, dtype=float)
    rows = []
    for i in lay.endogenous:
        xs = list(np.flatnonzero(lay.structure[i]))
        r2 = _r2_from_corr(P, i, xs)
        for j in xs:
            r2x = _r2_from_corr(P, i, [x for x in xs if x != j])
            rows.append((lay.constructs[i], "~", lay.constructs[j], (r2 - r2x) / (1 - r2)))
    return pd.DataFrame(rows, columns=["lhs", "op", "rhs", "f2"])


def vif_inner(model: Any, construct_corr: np.ndarray) -> pd.DataFrame:
    """Inner (structural) VIF: ``diag(R^-1)`` of each endogenous construct's predictors.

    Examples
    --------
    >>> lay = Layout(("A", "B", "C"), ("a", "b", "c"), np.eye(3, dtype=bool), np.zeros(3, bool),
    ...              np.array([[0, 0, 0], [0, 0, 0], [1, 1, 0]], bool))
    >>> vif_inner(lay, np.array([[1, .6, .5], [.6, 1, .4], [.5, .4, 1]]))["vif"].round(4).tolist()
    [1.5625, 1.5625]
    """
    lay = layout_of(model)
    P = np.asarray(construct_corr, dtype=float)
    rows = []
    for i in lay.endogenous:
        xs = list(np.flatnonzero(lay.structure[i]))
        v = np.diag(np.linalg.inv(P[np.ix_(xs, xs)])) if len(xs) > 1 else np.ones(1)
        rows += [(lay.constructs[i], "~", lay.constructs[j], float(x)) for j, x in zip(xs, v)]
    return pd.DataFrame(rows, columns=["lhs", "op", "rhs", "vif"])


def vif_outer(model: Any, S: np.ndarray) -> pd.DataFrame:
    """Outer VIF of each indicator within its block (``diag`` of the block's inverse correlation).

    Examples
    --------
    >>> lay = Layout(("A",), ("a1", "a2"), np.ones((1, 2), bool), np.zeros(1, bool), np.zeros((1, 1), bool))
    >>> vif_outer(lay, np.array([[1, .6], [.6, 1]]))["vif"].round(4).tolist()
    [1.5625, 1.5625]
    """
    lay = layout_of(model)
    S = _check_square(S, len(lay.indicators))
    if S.ndim != 2:
        raise ModelError("vif_outer takes one correlation matrix, not a stack")
    rows = []
    for j, name in enumerate(lay.constructs):
        b = lay.block(j)
        op = "<~" if lay.composite[j] else "=~"
        try:
            v = np.diag(np.linalg.inv(S[np.ix_(b, b)])) if len(b) > 1 else np.ones(1)
        except np.linalg.LinAlgError:
            raise ModelError(f"the indicators of {name!r} are perfectly collinear (their correlation matrix is "
                             "singular); drop a redundant indicator") from None
        rows += [(name, op, lay.indicators[k], float(x)) for k, x in zip(b, v)]
    return pd.DataFrame(rows, columns=["lhs", "op", "rhs", "vif"])


# --------------------------------------------------------------------------- discriminant validity
def htmt(model: Any, S: np.ndarray, *, constructs: Sequence[str] | None = None,
         absolute_correlations: bool = False) -> np.ndarray:
    """Heterotrait-monotrait ratio of correlations (symmetric matrix, 1 on the diagonal).

    Parameters
    ----------
    model : PLSModel or Layout
    S : ndarray, (p, p) or (k, p, p)
        Indicator correlation matrix or a stack of bootstrap ones.
    constructs : sequence of str, optional
        Which constructs (default: the reflective ones, as ADANCO and cSEM).
    absolute_correlations : bool
        Average the absolute indicator correlations (seminr; SmartPLS 4) instead of the
        correlations themselves (ADANCO, cSEM, Henseler et al. 2015; default). The two differ
        only when some correlations are negative.

    Returns
    -------
    ndarray, (m, m) or (k, m, m)

    Examples
    --------
    >>> lay = Layout(("A", "B"), ("a1", "a2", "b1"), np.array([[1, 1, 0], [0, 0, 1]], bool),
    ...              np.zeros(2, bool), np.zeros((2, 2), bool))
    >>> S = np.array([[1, .64, .4], [.64, 1, .48], [.4, .48, 1]])
    >>> float(htmt(lay, S)[0, 1].round(4))
    0.55
    """
    lay = layout_of(model)
    S = _check_square(S, len(lay.indicators))
    if absolute_correlations:
        S = np.abs(S)
    names = list(constructs) if constructs is not None else [n for n, comp in zip(lay.constructs, lay.composite)
                                                                  if not comp]
    idx = []
    for n in names:
        if n not in lay.constructs:
            raise ModelError(f"htmt: {n!r} is not a construct of the model; expected one of {list(lay.constructs)}")
        idx.append(lay.constructs.index(n))
    m = len(idx)
    mono = []
    for j in idx:
        b = lay.block(j)
        if len(b) == 1:
            mono.append(np.ones(S.shape[:-2]))
        else:
            blk = S[..., b[:, None], b[None, :]]
            K = len(b)
            mono.append((blk.sum(axis=(-1, -2)) - np.trace(blk, axis1=-2, axis2=-1)) / (K * (K - 1)))
    out = np.ones(S.shape[:-2] + (m, m))
    for a, c in combinations(range(m), 2):
        ba, bc = lay.block(idx[a]), lay.block(idx[c])
        het = S[..., ba[:, None], bc[None, :]].mean(axis=(-1, -2))
        with np.errstate(invalid="ignore"):
            v = np.abs(het / np.sqrt(mono[a] * mono[c]))
        out[..., a, c] = v
        out[..., c, a] = v
    return out


def _percentile_ci(draws: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
    a = (1 - level) / 2
    return np.nanquantile(draws, a, axis=0), np.nanquantile(draws, 1 - a, axis=0)


def htmt_table(model: Any, S: np.ndarray, *, draws: np.ndarray | None = None, ci_level: float = 0.95,
               constructs: Sequence[str] | None = None, absolute_correlations: bool = False) -> pd.DataFrame:
    """HTMT per pair of constructs, with percentile bootstrap intervals when ``draws`` is given.

    Parameters
    ----------
    S : ndarray, (p, p)
        The sample's indicator correlation matrix.
    draws : ndarray, (k, p, p), optional
        Bootstrap resamples' correlation matrices.
    ci_level : float
        Coverage of the interval (also reported: the one-sided upper ``ci_level`` quantile
        as ``q.upper``, which Henseler et al. compare with 0.85/0.90).
    absolute_correlations : bool
        See :func:`htmt`.

    Examples
    --------
    >>> lay = Layout(("A", "B"), ("a1", "a2", "b1"), np.array([[1, 1, 0], [0, 0, 1]], bool),
    ...              np.zeros(2, bool), np.zeros((2, 2), bool))
    >>> S = np.array([[1, .64, .4], [.64, 1, .48], [.4, .48, 1]])
    >>> htmt_table(lay, S)[["lhs", "rhs", "est"]].round(2).values.tolist()
    [['B', 'A', 0.55]]
    """
    lay = layout_of(model)
    names = list(constructs) if constructs is not None else [n for n, comp in zip(lay.constructs, lay.composite)
                                                                  if not comp]
    H = htmt(lay, S, constructs=names, absolute_correlations=absolute_correlations)
    pairs = [(c, a) for a, c in combinations(range(len(names)), 2)]
    df = pd.DataFrame({"lhs": [names[c] for c, a in pairs], "rhs": [names[a] for c, a in pairs],
                       "est": [H[c, a] for c, a in pairs]})
    if draws is not None:
        Hb = htmt(lay, draws, constructs=names, absolute_correlations=absolute_correlations)
        vals = np.stack([Hb[:, c, a] for c, a in pairs], axis=1) if pairs else np.empty((len(Hb), 0))
        lo, hi = _percentile_ci(vals, ci_level)
        df["se"] = np.nanstd(vals, axis=0, ddof=1)
        df["ci.lower"], df["ci.upper"] = lo, hi
        df["q.upper"] = np.nanquantile(vals, ci_level, axis=0) if len(pairs) else []
    return df


def fornell_larcker(model: Any, construct_corr: np.ndarray, ave_values: np.ndarray) -> pd.DataFrame:
    """Fornell-Larcker matrix: squared construct correlations, AVE on the diagonal.

    A construct passes when its AVE exceeds every squared correlation in its row and column.

    Examples
    --------
    >>> lay = Layout(("A", "B"), ("a", "b"), np.eye(2, dtype=bool), np.zeros(2, bool), np.zeros((2, 2), bool))
    >>> fornell_larcker(lay, np.array([[1, .5], [.5, 1]]), np.array([.6, .7])).values.round(2).tolist()
    [[0.6, 0.25], [0.25, 0.7]]
    """
    lay = layout_of(model)
    F = np.asarray(construct_corr, dtype=float) ** 2
    np.fill_diagonal(F, np.asarray(ave_values, dtype=float))
    return pd.DataFrame(F, index=list(lay.constructs), columns=list(lay.constructs))


# --------------------------------------------------------------------------- effects
def total_effects(paths: np.ndarray) -> np.ndarray:
    """Total effects ``(I - B)^-1 - I`` of a path matrix (``B[i, j]`` effect of j on i); stacks too.

    Examples
    --------
    >>> B = np.array([[0, 0, 0], [.5, 0, 0], [.2, .4, 0]])
    >>> float(total_effects(B)[2, 0].round(4))
    0.4
    """
    B = np.asarray(paths, dtype=float)
    eye = np.eye(B.shape[-1])
    return np.linalg.solve(eye - B, np.broadcast_to(eye, B.shape)) - eye


def indirect_effects(paths: np.ndarray) -> np.ndarray:
    """Total indirect effects (total minus direct); stacks too.

    Examples
    --------
    >>> B = np.array([[0, 0, 0], [.5, 0, 0], [.2, .4, 0]])
    >>> float(indirect_effects(B)[2, 0].round(4))
    0.2
    """
    B = np.asarray(paths, dtype=float)
    return total_effects(B) - B


def _chains(structure: np.ndarray, max_chains: int = 10_000) -> list[tuple[int, ...]]:
    """Every directed chain (source, ..., target) of length >= 2 arrows in a recursive model."""
    c = structure.shape[0]
    succ = {j: [i for i in range(c) if structure[i, j]] for j in range(c)}
    out: list[tuple[int, ...]] = []

    def walk(chain: tuple[int, ...]) -> None:
        for nxt in succ[chain[-1]]:
            if nxt in chain:
                raise ModelError("specific indirect effects need a recursive structural model (no feedback loops); "
                                 f"{' -> '.join(str(x) for x in chain + (nxt,))} is a loop")
            new = chain + (nxt,)
            if len(new) >= 3:
                out.append(new)
                if len(out) > max_chains:
                    raise ModelError(f"the structural model has more than {max_chains} indirect chains")
            walk(new)

    for j in range(c):
        walk((j,))
    return out


def specific_indirect_effects(model: Any, paths: np.ndarray) -> tuple[list[tuple[int, ...]], np.ndarray]:
    """Every specific indirect effect (product of the paths along one chain).

    Returns
    -------
    chains : list of tuple of int
        Construct indices from the source to the target.
    values : ndarray, (n_chains,) or (k, n_chains)

    Examples
    --------
    >>> lay = Layout(("X", "M", "Y"), ("x", "m", "y"), np.eye(3, dtype=bool), np.zeros(3, bool),
    ...              np.array([[0, 0, 0], [1, 0, 0], [1, 1, 0]], bool))
    >>> ch, v = specific_indirect_effects(lay, np.array([[0, 0, 0], [.5, 0, 0], [.2, .4, 0]]))
    >>> ch, v.round(2).tolist()
    ([(0, 1, 2)], [0.2])
    """
    lay = layout_of(model)
    B = np.asarray(paths, dtype=float)
    chains = _chains(lay.structure)
    vals = [np.prod(np.stack([B[..., ch[t + 1], ch[t]] for t in range(len(ch) - 1)], axis=-1), axis=-1)
            for ch in chains]
    values = np.stack(vals, axis=-1) if vals else np.zeros(B.shape[:-2] + (0,))
    return chains, values


def effects_table(model: Any, paths: np.ndarray) -> pd.DataFrame:
    """Total, total indirect and specific indirect effects as a tidy table.

    Columns: lhs (the affected construct), op (``total``, ``indirect`` or
    ``specific``), rhs (the source construct), via (the mediators, ``M1 -> M2``; empty for
    total and total indirect effects), est. Only pairs with at least one indirect chain get
    ``indirect``/``specific`` rows; every connected pair gets a ``total`` row.

    Examples
    --------
    >>> lay = Layout(("X", "M", "Y"), ("x", "m", "y"), np.eye(3, dtype=bool), np.zeros(3, bool),
    ...              np.array([[0, 0, 0], [1, 0, 0], [1, 1, 0]], bool))
    >>> t = effects_table(lay, np.array([[0, 0, 0], [.5, 0, 0], [.2, .4, 0]]))
    >>> t[t.op == "specific"][["lhs", "rhs", "via", "est"]].values.tolist()
    [['Y', 'X', 'M', 0.2]]
    """
    lay = layout_of(model)
    B = np.asarray(paths, dtype=float)
    T = total_effects(B)
    I = T - B
    chains, vals = specific_indirect_effects(lay, B)
    names = lay.constructs
    reach = total_effects(lay.structure.astype(float)) != 0
    rows = []
    for j in range(len(names)):          # source
        for i in range(len(names)):      # target
            if i == j or not reach[i, j]:
                continue
            rows.append((names[i], "total", names[j], "", T[i, j]))
            mine = [(ch, v) for ch, v in zip(chains, vals) if ch[0] == j and ch[-1] == i]
            if mine:
                rows.append((names[i], "indirect", names[j], "", I[i, j]))
                for ch, v in mine:
                    rows.append((names[i], "specific", names[j], " -> ".join(names[t] for t in ch[1:-1]), float(v)))
    return pd.DataFrame(rows, columns=["lhs", "op", "rhs", "via", "est"])

"""Estimation stages from raw data: the model's columns, standardization, product indicators,
two-stage interactions and higher-order constructs, then :func:`~crm_research.pls.estimate`.

Used by :func:`crm_research.pls.fit` on the data and by :mod:`crm_research.pls.bootstrap` on
stacks of resamples (every array function here accepts a leading batch axis).

>>> import numpy as np
>>> from crm_research.pls import parse_model
>>> X = np.random.default_rng(1).normal(size=(40, 4)) + np.random.default_rng(2).normal(size=(40, 1))
>>> est, model, Z = estimate_data(parse_model("X =~ a + b; Y =~ c + d; Y ~ X"), X)
>>> model.columns, Z.shape
(('a', 'b', 'c', 'd'), (40, 4))
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from crm_research.errors import ModelError
from crm_research.pls.algorithm import estimate
from crm_research.pls.specification import PLSModel

__all__ = ["prepare_data", "standardize", "correlation", "estimate_data", "MISSING"]

MISSING = ("listwise", "mean")


def prepare_data(model: PLSModel, data: pd.DataFrame, missing: str = "listwise") -> tuple[np.ndarray, pd.Index]:
    """The model's indicator columns as a float array (rows used) and the index of those rows.

    Raises :class:`~crm_research.errors.ModelError` naming a column that is missing, not
    numeric or constant, or when too few rows remain.

    >>> import pandas as pd
    >>> from crm_research.pls import parse_model
    >>> m = parse_model("X =~ a + b; Y =~ c; Y ~ X")
    >>> X, rows = prepare_data(m, pd.DataFrame({"a": [1, 2, None, 4], "b": [2, 1, 3, 3], "c": [1, 1, 2, 5]}))
    >>> X.shape, list(rows)
    ((3, 3), [0, 1, 3])
    """
    if not isinstance(data, pd.DataFrame):
        raise ModelError(f"data must be a pandas DataFrame, got {type(data).__name__}")
    if missing not in MISSING:
        raise ModelError(f"missing={missing!r}: expected one of {', '.join(MISSING)}")
    owner = {x: c for c in model.constructs for x in model.blocks[c]}
    absent = [x for x in model.indicators if x not in data.columns]
    if absent:
        x = absent[0]
        raise ModelError(f"indicator {x!r} (construct {owner.get(x, '?')!r}) is not a column of the data"
                         + (f"; {len(absent) - 1} more missing" if len(absent) > 1 else ""),
                         hint=f"the data has {', '.join(map(str, list(data.columns)[:8]))}"
                              + (", ..." if len(data.columns) > 8 else ""))
    sub = data[list(model.indicators)]
    for x in model.indicators:
        if not pd.api.types.is_numeric_dtype(sub[x]) or pd.api.types.is_bool_dtype(sub[x]):
            bad = sub[x][pd.to_numeric(sub[x], errors="coerce").isna() & sub[x].notna()]
            ex = f" (e.g. {bad.iloc[0]!r} in row {bad.index[0]!r})" if len(bad) else ""
            raise ModelError(f"indicator {x!r} is not numeric{ex}", hint="recode answers as numbers")
    sub = sub.astype(float)
    if missing == "listwise":
        sub = sub.dropna()
    else:
        sub = sub.fillna(sub.mean())
    n = len(sub)
    need = max(3, max((len(v) for v in model.structural.values()), default=0) + 2)
    if n < need:
        raise ModelError(f"only {n} complete rows for the model's {len(model.indicators)} indicators; "
                         f"PLS needs at least {need}")
    sd = sub.std(ddof=1).to_numpy()
    if np.any(~(sd > 0)):
        x = model.indicators[int(np.flatnonzero(~(sd > 0))[0])]
        raise ModelError(f"indicator {x!r} is constant (all answers equal) in the rows used",
                         hint="drop it from the model")
    return sub.to_numpy(), sub.index


def standardize(X: np.ndarray) -> np.ndarray:
    """Columns centred and scaled to unit variance (ddof=1), along the last-but-one axis.

    >>> standardize(np.array([[1.0], [2.0], [3.0]])).ravel().tolist()
    [-1.0, 0.0, 1.0]
    """
    Xc = X - X.mean(axis=-2, keepdims=True)
    ss = np.einsum("...ij,...ij->...j", Xc, Xc)[..., None, :]
    with np.errstate(divide="ignore", invalid="ignore"):
        return Xc / np.sqrt(ss / (X.shape[-2] - 1))


def correlation(Z: np.ndarray) -> np.ndarray:
    """Correlation matrix (or stack of them) of standardized columns ``Z`` (``(k,) n x p``).

    >>> Z = standardize(np.array([[1.0, 2.0], [2.0, 1.0], [3.0, 3.5]]))
    >>> correlation(Z).round(3).tolist()
    [[1.0, 0.596], [0.596, 1.0]]
    """
    n = Z.shape[-2]
    return np.swapaxes(Z, -1, -2) @ Z / (n - 1)


def _stage_models(model: PLSModel, interaction: str, two_stage: bool):
    """(stage-1 model or None, how the stage-2 model is formed)."""
    stage1 = None
    if model.interactions and interaction == "two_stage":
        drop = set(model.interactions)
        structural = {}
        for c, ps in model.structural.items():
            keep = tuple(p for p in ps if p not in drop)
            if keep:
                structural[c] = keep
        cons = tuple(c for c in model.constructs if c not in drop)
        connected = set(structural) | {p for ps in structural.values() for p in ps}
        lonely = [c for c in cons if c not in connected]
        if lonely:
            raise ModelError(f"two-stage interaction: without the interaction term, construct {lonely[0]!r} is "
                             "not connected to the model in stage 1", hint="use interaction='product_indicator'")
        stage1 = model.replace(constructs=cons, structural=structural, interactions={},
                               blocks={c: model.blocks[c] for c in cons},
                               modes={c: model.modes[c] for c in cons})
    if model.higher_order and two_stage:
        if stage1 is not None:
            raise ModelError("two-stage higher-order constructs together with two-stage interactions are not supported",
                             hint="use interaction='product_indicator' or two_stage=False")
        stage1 = model if two_stage == "embedded" else _disjoint_stage1(model)
    return stage1


def _disjoint_stage1(model: PLSModel) -> PLSModel:
    """The model without its higher-order constructs, their lower-order constructs taking over
    their structural relations (seminr's / SmartPLS 4's disjoint two-stage first stage)."""
    hocs = model.higher_order
    def expand(c):
        return list(hocs[c]) if c in hocs else [c]
    structural: dict = {}
    for c, ps in model.structural.items():
        ps = [p for p in ps if c not in hocs.get(p, ()) and p not in hocs.get(c, ())]   # HOC-LOC links
        for d in expand(c):
            lst = structural.setdefault(d, [])
            lst.extend(q for p in ps for q in expand(p) if q not in lst and q != d)
    structural = {c: tuple(v) for c, v in structural.items() if v}
    cons = tuple(c for c in model.constructs if c not in hocs)
    return PLSModel(constructs=cons, indicators=model.indicators, blocks={c: model.blocks[c] for c in cons},
                    modes={c: model.modes[c] for c in cons}, structural=structural, higher_order={},
                    interactions=dict(model.interactions), syntax=model.syntax)


def _stage2_model(model: PLSModel, interaction: str, two_stage: bool) -> PLSModel:
    m = model
    if m.interactions and interaction == "two_stage":
        blocks = dict(m.blocks)
        for name in m.interactions:
            blocks[name] = (name,)
        m = m.replace(blocks=blocks)
    if m.higher_order and two_stage:
        los = {lo for v in m.higher_order.values() for lo in v}
        for h, v in m.higher_order.items():
            for lo in v:
                other = [p for p in m.structural.get(lo, ()) if p != h] + \
                        [c for c, ps in m.structural.items() if lo in ps and c != h]
                if other:
                    raise ModelError(f"two-stage higher-order construct {h!r}: lower-order construct {lo!r} has "
                                     f"structural relations of its own ({other[0]!r})",
                                     hint="use two_stage=False (repeated indicators)")
        cons = tuple(c for c in m.constructs if c not in los)
        structural = {}
        for c, ps in m.structural.items():
            if c in los:
                continue
            keep = tuple(p for p in ps if p not in los)
            if keep:
                structural[c] = keep
        blocks = {c: (m.higher_order[c] if c in m.higher_order else m.blocks[c]) for c in cons}
        indicators = tuple(x for x in m.indicators if any(x in blocks[c] for c in cons))
        m = PLSModel(
            constructs=cons, indicators=indicators, blocks=blocks, modes={c: m.modes[c] for c in cons},
            structural=structural, higher_order={}, interactions=dict(m.interactions), syntax=m.syntax)
    return m


def estimate_data(model: PLSModel, X: np.ndarray, *, scheme: str = "path", consistent: bool = False,
                  tol: float = 1e-7, max_iter: int = 300, stop: str = "smartpls",
                  interaction: str = "two_stage", two_stage: bool = False):
    """Estimate from raw indicator data ``X`` (n x p, or a stack k x n x p of resamples).

    Columns of ``X`` follow ``model.indicators``. Returns ``(estimates, stage2_model, Z)``:
    the estimates of the final stage, the model they refer to, and its standardized columns
    (``stage2_model.columns`` order).

    >>> import numpy as np
    >>> from crm_research.pls import parse_model
    >>> rng = np.random.default_rng(1)
    >>> X = rng.normal(size=(50, 4)) + rng.normal(size=(50, 1))
    >>> est, m2, Z = estimate_data(parse_model("X =~ a + b; Y =~ c + d; Y ~ X"), X)
    >>> Z.shape, est.weights.shape
    ((50, 4), (4, 2))
    """
    Z0 = standardize(np.asarray(X, dtype=float))
    pos = {x: i for i, x in enumerate(model.indicators)}
    stage1 = _stage_models(model, interaction, two_stage)
    final = _stage2_model(model, interaction, two_stage)
    extra = {}
    if stage1 is not None:
        cols1 = stage1.columns
        Z1 = _columns(stage1, cols1, Z0, pos, {})
        est1 = estimate(stage1, correlation(Z1), scheme=scheme, consistent=False, tol=tol, max_iter=max_iter, stop=stop)
        scores = Z1 @ est1.weights                         # (k,) n x c1, unit variance
        sidx = {c: j for j, c in enumerate(stage1.constructs)}
        if final.interactions and interaction == "two_stage":
            for name, (a, b) in final.interactions.items():
                extra[name] = scores[..., sidx[a]] * scores[..., sidx[b]]
        if model.higher_order and two_stage:
            for h, los in model.higher_order.items():
                for lo in los:
                    extra[lo] = scores[..., sidx[lo]]
    Z = _columns(final, final.columns, Z0, pos, extra)
    est = estimate(final, correlation(Z), scheme=scheme, consistent=consistent, tol=tol, max_iter=max_iter, stop=stop)
    return est, final, Z


def _columns(model: PLSModel, cols, Z0, pos, extra) -> np.ndarray:
    out = []
    for x in cols:
        if x in extra:
            v = extra[x]
        elif x in pos:
            v = Z0[..., pos[x]]
        else:                                # product indicator "x:z"
            a, b = x.split(":", 1)
            v = Z0[..., pos[a]] * Z0[..., pos[b]]
        out.append(v)
    return standardize(np.stack(out, axis=-1))

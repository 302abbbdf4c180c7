"""Modification indices and score tests of a fitted model, as lavaan 0.6-14's
``modindices()`` (``R/lav_modification.R``) and ``lavTestScore()`` (``R/lav_test_score.R``).

Modification indices (Sorbom 1989): every parameter that could be freed -- the model's fixed
rows (marker loadings, fixed covariances, fixed.x moments, ...) and the rows of lavaan's
"full" parameter table (``lav_partable_full``: every loading of a latent variable on an
observed variable not in a regression, every (residual) covariance among indicators and
among latent variables, every regression among the variables in regressions, intercepts
under a mean structure) -- is added to the model at its current value (0 for new rows) and
gets the score (Lagrange multiplier) statistic with one degree of freedom,

    mi = N g1^2 / (I11 - I12 I22^-1 I21),     epc = g1 / (I11 - I12 I22^-1 I21),

with ``g1`` its score (``Delta' W (s - sigma)``) and ``I`` the unit expected information of
the extended model at the estimate (``I22``: the model's own free parameters, equality
constraints respected).  ``sepc.lv``, ``sepc.all`` and ``sepc.nox`` standardize the
expected change as lavaan does (covariances by the residual variances, ``cov.std = TRUE``).
Rows whose conditional information is below ``eps^(1/3)`` (freeing them would not be
identified) are dropped, as lavaan drops their NA index.

The score test of equality constraints (``lavTestScore``) releases them: with ``x`` one
parameter per free row (lavaan's unconstrained parameter vector) and ``R`` the constraint
Jacobian, ``X2 = N g' Z+ g`` where ``Z+`` is the upper-left block of the Moore-Penrose
inverse of ``[[I, R1'], [R1, 0]]`` and ``R1`` the constraints kept.

Robust fits (MLR, MLM): lavaan computes modification indices from the expected information
and the normal-theory score whatever the estimator, so they equal those of the ML fit with
the same estimates; we do the same.  FIML fits (``missing="ml"``): the expected information
of each missing pattern's observed part and the casewise score, weighted by the patterns'
shares, as lavaan.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import ModelError
from .estimate import one_blas_thread
from .model import KIND_A, KIND_M, KIND_S
from .standardized import standardize

MI_COLUMNS = ["lhs", "op", "rhs", "mi", "epc", "sepc.lv", "sepc.all", "sepc.nox"]
EPS13 = np.finfo(float).eps ** (1 / 3)


# ------------------------------------------------------------------ fit state
def _state(res, what: str):
    if getattr(res, "ordered", None):
        raise ModelError(f"{what} is not available for ordinal (categorical) fits yet",
                         hint="use an ML-family estimator without ordered= for modification indices")
    st = getattr(res, "state", None)
    if st is None:
        raise ModelError(f"{what} needs a model fitted by sem.fit() in this session (the result carries no "
                         "model state)", hint="refit the model with sem.fit(model, data)")
    if not res.converged:
        raise ModelError(f"{what}: the model did not converge", hint="fix the model first (see res.warnings)")
    return st


# ------------------------------------------------------------------ lavaan's full table
def _eqs_names(frame: pd.DataFrame, g: int) -> list[str]:
    f = frame[(frame["op"] == "~") & (frame["group"] == g)]
    out = []
    for v in list(f["lhs"]) + list(f["rhs"]):
        if v not in out:
            out.append(v)
    return out


def _full_rows(pt, g: int) -> list[tuple[str, str, str]]:
    """lavaan's ``lav_partable_full(strict.exo = FALSE)`` rows of group ``g`` (1-based):
    loadings, observed (co)variances, latent (co)variances, regressions, intercepts."""
    nm = pt.names
    frame = pt.frame[pt.frame["op"] != ":="]
    lv, ov, ov_nox, ov_x, ov_ind = list(nm.lv), list(nm.ov), list(nm.ov_nox), list(nm.ov_x), list(nm.ov_ind)
    eqs = _eqs_names(frame, g)
    eqs_set = set(eqs)
    rows = [(a, "=~", b) for a in lv for b in ov_nox if b not in eqs_set]
    other = set(v for v in ov if v not in set(ov_ind))
    for j, a in enumerate(ov_nox):
        for b in ov_nox[j:]:
            if a in other or b in other:
                continue
            rows.append((a, "~~", b))
    for j, a in enumerate(ov_x):
        for b in ov_x[j:]:
            rows.append((a, "~~", b))
    for j, a in enumerate(lv):
        for b in lv[j:]:
            rows.append((a, "~~", b))
    lvs, inds = set(lv), set(ov_ind)
    for a in eqs:
        for b in eqs:
            if a == b or (a in inds and b in lvs):
                continue
            rows.append((a, "~", b))
    if pt.meanstructure:
        rows += [(v, "~1", "") for v in ov + lv]
    return rows


def _candidates(pt) -> pd.DataFrame:
    """The rows modindices() considers freeing, in lavaan's order: the model's fixed rows,
    then the full table's rows the model does not have (per group)."""
    f = pt.frame[pt.frame["op"] != ":="]
    have = set(zip(f["lhs"], f["op"], f["rhs"], f["group"]))
    fixed = f[f["free"] == 0]
    out = [(a, o, b, int(g), int(x)) for a, o, b, g, x in zip(fixed["lhs"], fixed["op"], fixed["rhs"],
                                                                 fixed["group"], fixed["exo"])]
    for g in range(1, pt.ngroups + 1):
        for a, o, b in _full_rows(pt, g):
            key = (a, o, b, g)
            if key in have:
                continue
            have.add(key)
            out.append((a, o, b, g, 0))
    return pd.DataFrame(out, columns=["lhs", "op", "rhs", "group", "exo"])


# ------------------------------------------------------------------ derivatives
def _entry(model, op: str, lhs: str, rhs: str):
    pos = model.pos
    if op == "=~":
        return KIND_A, pos[rhs], pos[lhs]
    if op == "~":
        return KIND_A, pos[lhs], pos[rhs]
    if op == "~~":
        return KIND_S, pos[lhs], pos[rhs]
    return KIND_M, pos[lhs], 0


def _group_terms(model, theta, g, mom, kind, row, col, x_idx=()):
    """Unit expected information (r x r) and score (r,) of arbitrary RAM entries of group g
    (the same algebra as :meth:`RAMModel.batch_derivatives`, for one parameter vector).

    ``x_idx``: fixed.x covariates; as lavaan (``lav_mvnorm_information_expected`` with
    ``x.idx``) the moments among them carry no information (their rows and columns of the
    h1 information are zero), which matters for entries that move them (``x ~ y``)."""
    p = model.p
    imp = model.implied(theta, g)
    Bi, C, Bm = imp["B"], imp["C"], imp["Bm"]
    Sigma = C[:p, :p]
    Om = np.linalg.inv(Sigma)
    Om = 0.5 * (Om + Om.T)
    Bp = Bi[:p, :]
    r = len(kind)
    U = np.zeros((r, p)); V = np.zeros((r, p)); D = np.zeros((r, p))
    a, s, m = kind == KIND_A, kind == KIND_S, kind == KIND_M
    ms = model.meanstructure
    U[a] = Bp[:, row[a]].T
    V[a] = C[col[a], :p]
    U[s] = Bp[:, row[s]].T
    V[s] = Bp[:, col[s]].T * np.where(row[s] == col[s], 0.5, 1.0)[:, None]
    if ms:
        D[a] = U[a] * Bm[col[a]][:, None]
        D[m] = Bp[:, row[m]].T
    if len(x_idx):
        x = np.asarray(x_idx, dtype=int)
        dS = U[:, :, None] * V[:, None, :]
        dS = dS + np.swapaxes(dS, 1, 2)
        dS[:, x[:, None], x[None, :]] = 0.0
        D[:, x] = 0.0
        G = Om @ dS @ Om
        info = 0.5 * np.einsum("kij,lij->kl", G, dS)
    else:
        UO, VO = U @ Om, V @ Om
        Muu, Mvu, Mvv = UO @ U.T, VO @ U.T, VO @ V.T
        info = Mvu * Mvu.T + Mvv * Muu
    E = mom[1][0] - Sigma
    if ms:
        d = mom[0][0] - Bm[:p]
        DO = D @ Om
        info = info + DO @ D.T
        score_m = DO @ d
        E = E + np.outer(d, d)
    R = Om @ E @ Om
    score = np.einsum("rp,rp->r", U @ R, V)
    if ms:
        score = score + score_m
    return info, score


def _entry_vectors(model, imp, kind, row, col):
    p = model.p
    Bi, C, Bm = imp["B"], imp["C"], imp["Bm"]
    Bp = Bi[:p, :]
    r = len(kind)
    U = np.zeros((r, p)); V = np.zeros((r, p)); D = np.zeros((r, p))
    a, s, m = kind == KIND_A, kind == KIND_S, kind == KIND_M
    U[a] = Bp[:, row[a]].T
    V[a] = C[col[a], :p]
    U[s] = Bp[:, row[s]].T
    V[s] = Bp[:, col[s]].T * np.where(row[s] == col[s], 0.5, 1.0)[:, None]
    if model.meanstructure:
        D[a] = U[a] * Bm[col[a]][:, None]
        D[m] = Bp[:, row[m]].T
    return U, V, D


def _group_terms_fiml(model, theta, g, X, kind, row, col):
    """Unit expected information and score of the FIML log-likelihood (missing="ml") for
    arbitrary RAM entries of group g: per missing pattern the observed part's expected
    information (lavaan's ``lav_mvnorm_missing_information_expected``, structured) and the
    casewise score, weighted by the pattern's share of the group."""
    from .fiml import pattern_rows

    p = model.p
    imp = model.implied(theta, g)
    Sigma, mu = imp["Sigma"], imp["mu"]
    U, V, D = _entry_vectors(model, imp, kind, row, col)
    r = len(kind)
    info = np.zeros((r, r))
    score = np.zeros(r)
    n = 0
    for pat in pattern_rows(X):
        o = pat.obs
        k = len(pat.idx)
        n += k
        Om = np.zeros((p, p))
        Oo = np.linalg.inv(Sigma[np.ix_(o, o)])
        Om[np.ix_(o, o)] = 0.5 * (Oo + Oo.T)
        ybar = pat.X.mean(axis=0)
        Sp = (pat.X - ybar).T @ (pat.X - ybar) / k
        d = np.zeros(p)
        d[o] = ybar - mu[o]
        E = np.zeros((p, p))
        E[np.ix_(o, o)] = Sp - Sigma[np.ix_(o, o)]
        E = E + np.outer(d, d)
        UO, VO, DO = U @ Om, V @ Om, D @ Om
        Muu, Mvu, Mvv = UO @ U.T, VO @ U.T, VO @ V.T
        info += k * (Mvu * Mvu.T + Mvv * Muu + DO @ D.T)
        R = Om @ E @ Om
        score += k * (np.einsum("rp,rp->r", U @ R, V) + DO @ d)
    return info / n, score / n


def _extended_information(st, extra: pd.DataFrame):
    """Unit expected information and score of the model's free parameters (first q) and
    the ``extra`` rows (each its own parameter), summed over groups with weights N_g / N."""
    model, theta = st.model, st.theta
    q, k = model.q, len(extra)
    info = np.zeros((q + k, q + k))
    score = np.zeros(q + k)
    fiml = getattr(st.stats, "missing", "listwise") == "ml"
    moms = None if fiml else model.group_moments(st.stats)
    pt = st.partable
    x_idx = [model.ov.index(v) for v in pt.names.ov_x] if pt.fixed_x else []
    eg = extra["group"].to_numpy()
    for g in range(model.G):
        gs = model.groups[g]
        sel = np.where(eg == g + 1)[0]
        ent = [_entry(model, o, a, b) for a, o, b in zip(extra["lhs"].to_numpy()[sel], extra["op"].to_numpy()[sel],
                                                          extra["rhs"].to_numpy()[sel])]
        kind = np.concatenate([gs.kind, np.array([e[0] for e in ent], dtype=int)])
        row = np.concatenate([gs.row, np.array([e[1] for e in ent], dtype=int)])
        col = np.concatenate([gs.col, np.array([e[2] for e in ent], dtype=int)])
        if fiml:
            Ig, sg = _group_terms_fiml(model, theta, g, st.stats.groups[g].X, kind, row, col)
        else:
            Ig, sg = _group_terms(model, theta, g, moms[g], kind, row, col, x_idx)
        cols = np.concatenate([gs.par, q + sel]).astype(int)     # entry -> parameter column
        w = model.weights[g]
        rows_sum = np.zeros((q + k, len(kind)))
        np.add.at(rows_sum, cols, Ig)                              # P' Ig
        both = np.zeros((q + k, q + k))
        np.add.at(both.T, cols, rows_sum.T)                        # (P' Ig) P
        info += w * both
        np.add.at(score, cols, w * sg)
    return 0.5 * (info + info.T), score


# ------------------------------------------------------------------ modindices
def modindices(res, *, minimum_value: float = 0.0, op=None, sort: bool = True,
               standardized: bool = True) -> pd.DataFrame:
    """Modification indices of a fitted model, as lavaan's ``modindices()``.

    Parameters
    ----------
    res : SEMResult
        A model fitted by :func:`~crm_research.sem.fit` (ML, MLR, MLM, ...; complete data or
        ``missing="ml"``).
    minimum_value : float
        Keep only rows with ``mi`` above this value (lavaan's ``minimum.value``).
    op : str or list of str, optional
        Keep only these operators, e.g. ``"=~"`` or ``["~~", "~"]``.
    sort : bool
        Largest index first (lavaan's ``sort. = TRUE``); False keeps lavaan's row order.
    standardized : bool
        Add ``sepc.lv``, ``sepc.all`` and ``sepc.nox``.

    Returns
    -------
    DataFrame
        ``lhs, op, rhs, [group], mi, epc, sepc.lv, sepc.all, sepc.nox``: one row per
        parameter that could be freed, with its modification index (chi-square, 1 df) and
        expected parameter change.

    Raises
    ------
    ModelError
        Not a fit of :func:`~crm_research.sem.fit`, an ordinal fit, a model that did not
        converge, a singular information matrix, or a bad ``op``/``minimum_value``.

    Examples
    --------
    >>> import pandas as pd
    >>> from crm_research import sem
    >>> hs = pd.read_csv("tests/reference/lavaan/HolzingerSwineford1939.csv")
    >>> res = sem.fit("visual =~ x1 + x2 + x3\\ntextual =~ x4 + x5 + x6\\nspeed =~ x7 + x8 + x9", hs)
    >>> mi = sem.modindices(res, minimum_value=10)
    >>> mi[["lhs", "op", "rhs"]].iloc[0].tolist(), round(float(mi["mi"].iloc[0]), 2)
    (['visual', '=~', 'x9'], 36.41)
    """
    st = _state(res, "modindices")
    try:
        minimum_value = float(minimum_value)
    except (TypeError, ValueError):
        raise ModelError(f"minimum_value={minimum_value!r} must be a number", hint="e.g. minimum_value=3.84")
    ops = None
    if op is not None:
        ops = [op] if isinstance(op, str) else list(op)
        bad = [o for o in ops if o not in ("=~", "~", "~~", "~1")]
        if bad:
            raise ModelError(f"op={bad[0]!r} is not an operator modindices() reports",
                             hint="use '=~', '~', '~~' or '~1' (or a list of them)")
    pt, model = st.partable, st.model
    extra = _candidates(pt)
    q = model.q
    with one_blas_thread():     # small matrices: one BLAS thread is faster (and not slowed by a busy machine)
        info, score = _extended_information(st, extra)
    I22 = info[:q, :q]
    try:
        I22inv = np.linalg.inv(I22) if q else np.zeros((0, 0))
    except np.linalg.LinAlgError:
        raise ModelError("could not compute modification indices: the information matrix is singular",
                         hint="the model is probably not identified; see res.warnings")
    I12 = info[q:, :q]
    V = np.diag(info[q:, q:]) - np.einsum("ij,jk,ik->i", I12, I22inv, I12)
    V = np.where(V < EPS13, np.nan, V)
    N = float(st.stats.ntotal)
    g1 = score[q:]
    mi = N * g1 ** 2 / V
    d = N * g1            # lavaan: epc = mi / d, d = -N * (-gradient) (1 where |d| < 1e-15)
    d = np.where(np.abs(d) < 1e-15, 1.0, d)
    epc = mi / d
    out = extra[["lhs", "op", "rhs", "group"]].copy()
    out["mi"] = mi
    out["epc"] = epc
    if standardized:
        out = pd.concat([out, _sepc(st, extra, epc)], axis=1)
    out = out[np.isfinite(out["mi"].to_numpy())]
    if sort:
        out = out.sort_values("mi", ascending=False, kind="stable")
    if minimum_value > 0:
        out = out[out["mi"] > minimum_value]
    if ops is not None:
        out = out[out["op"].isin(ops)]
    if pt.ngroups == 1:
        out = out.drop(columns="group")
    return out.reset_index(drop=True)


def _sepc(st, extra: pd.DataFrame, epc: np.ndarray) -> pd.DataFrame:
    """sepc.lv/all/nox as lavaan: the extended table (model rows at their estimates, extra
    rows at their EPC; variance rows of non-exogenous variables at their estimates)."""
    pt, model, theta = st.partable, st.model, st.theta
    f = pt.frame[pt.frame["op"] != ":="]
    free = f["free"].to_numpy()
    est_model = np.where(free > 0, theta[np.maximum(free, 1) - 1], 0.0)
    fixed = free == 0
    # model rows: free ones at their estimate; their epc is ~0 (score 0) and only variance rows matter
    lhs = np.concatenate([f["lhs"].to_numpy()[~fixed], extra["lhs"].to_numpy()])
    op = np.concatenate([f["op"].to_numpy()[~fixed], extra["op"].to_numpy()])
    rhs = np.concatenate([f["rhs"].to_numpy()[~fixed], extra["rhs"].to_numpy()])
    grp = np.concatenate([f["group"].to_numpy()[~fixed], extra["group"].to_numpy()])
    exo = np.concatenate([f["exo"].to_numpy()[~fixed], extra["exo"].to_numpy()])
    # estimates of the extra rows: fixed model rows keep their value, new rows 0
    fixed_val = _fixed_values(st, f[fixed])
    est = np.concatenate([est_model[~fixed], fixed_val, np.zeros(len(extra) - len(fixed_val))])
    EPC = np.concatenate([np.zeros((~fixed).sum()), epc])
    sign = np.sign(EPC)
    var = (op == "~~") & (lhs == rhs)
    EPC = np.where(var & (exo == 0), est, EPC)
    small = var & (np.abs(EPC) < np.sqrt(np.finfo(float).eps))
    EPC = np.where(small, np.nan, EPC)
    frame = pd.DataFrame({"lhs": lhs, "op": op, "rhs": rhs, "group": grp})
    absE = np.abs(EPC)
    s_lv, s_all = standardize(frame, absE, model, theta)
    _, s_nox = standardize(frame, absE, model, theta, nox=pt.names.ov_x)
    n0 = int((~fixed).sum())
    outs = {}
    for name, v in (("sepc.lv", s_lv), ("sepc.all", s_all), ("sepc.nox", s_nox)):
        v = sign * v
        v = np.where(small, 0.0, v)
        outs[name] = v[n0:]
    return pd.DataFrame(outs, index=extra.index)


def _fixed_values(st, fixed: pd.DataFrame) -> np.ndarray:
    """Values of the model's fixed rows (fixed.x rows at their sample moments)."""
    model = st.model
    out = np.zeros(len(fixed))
    for i, (a, o, b, g, us, ex) in enumerate(zip(fixed["lhs"], fixed["op"], fixed["rhs"], fixed["group"],
                                                fixed["ustart"], fixed["exo"])):
        if ex:
            A, S, m = model.matrices(st.theta, int(g) - 1)
            out[i] = S[model.pos[a], model.pos[b]] if o == "~~" else m[model.pos[a]]
        else:
            out[i] = 0.0 if np.isnan(us) else float(us)
    return out


# ------------------------------------------------------------------ score test
def _constraint_matrix(pt, equalities):
    f = pt.frame[(pt.frame["op"] != ":=") & (pt.frame["free"] > 0)].reset_index(drop=True)
    n = len(f)
    free = f["free"].to_numpy()
    labels = f["label"].to_numpy()
    plabels = f["plabel"].to_numpy()
    parent = list(range(n))

    def find(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    rows = []
    for eq in equalities:
        ia = next((i for i in range(n) if labels[i] == eq.lhs), None)
        ib = next((i for i in range(n) if labels[i] == eq.rhs), None)
        if ia is None or ib is None or find(ia) == find(ib):
            continue
        parent[find(ib)] = find(ia)
        rows.append((ia, ib, eq.lhs, eq.rhs))
    first = {}
    for i in range(n):
        fr = free[i]
        if fr not in first:
            first[fr] = i
            continue
        j = first[fr]
        if find(i) == find(j):
            continue
        parent[find(i)] = find(j)
        rows.append((j, i, plabels[j], plabels[i]))
    R = np.zeros((len(rows), n))
    for r, (i, j, _, _) in enumerate(rows):
        R[r, i] = 1.0
        R[r, j] = -1.0
    names = [(a, b) for _, _, a, b in rows]
    return f, R, names


def _unconstrained_terms(st, f: pd.DataFrame):
    """Unit expected information and score over one parameter per free row."""
    extra = pd.DataFrame({"lhs": f["lhs"], "op": f["op"], "rhs": f["rhs"], "group": f["group"],
                          "exo": f["exo"]})
    info, score = _extended_information(st, extra)
    q = st.model.q
    return info[q:, q:], score[q:]


def _released_stat(info, R1, score, N):
    m = R1.shape[0]
    n = info.shape[0]
    Z = np.zeros((n + m, n + m))
    Z[:n, :n] = info
    Z[:n, n:] = R1.T
    Z[n:, :n] = R1
    Zp = np.linalg.pinv(Z)[:n, :n]
    return float(N * score @ Zp @ score)


def score_test(res, *, release=None, cumulative: bool = False) -> pd.DataFrame:
    """Score (Lagrange multiplier) tests for releasing equality constraints, as lavaan's
    ``lavTestScore()``.

    Parameters
    ----------
    res : SEMResult
        A model with equality constraints (``group_equal``, shared labels, ``a == b``).
    release : sequence of int, optional
        1-based numbers of the constraints to release together (lavaan's ``release``);
        default all.
    cumulative : bool
        Add lavaan's cumulative tests (constraints released one after another, largest
        univariate statistic first) in ``attrs["cumulative"]``.

    Returns
    -------
    DataFrame
        Univariate tests: ``lhs, op, rhs, X2, df, pvalue`` (one row per released
        constraint, named by lavaan's labels, e.g. ``.p2. == .p38.``).  The total test is
        in ``attrs["total"]`` (a dict with ``X2``, ``df``, ``pvalue``), the cumulative table
        in ``attrs["cumulative"]`` when asked for.

    Raises
    ------
    ModelError
        No equality constraints, a bad ``release``, or a fit modindices() cannot use.

    Examples
    --------
    >>> import pandas as pd
    >>> from crm_research import sem
    >>> hs = pd.read_csv("tests/reference/lavaan/HolzingerSwineford1939.csv")
    >>> res = sem.fit("visual =~ x1 + x2 + x3\\ntextual =~ x4 + x5 + x6\\nspeed =~ x7 + x8 + x9", hs,
    ...               group="school", group_equal=["loadings"])
    >>> st = sem.score_test(res)
    >>> round(st.attrs["total"]["X2"], 3), st.attrs["total"]["df"]
    (7.256, 6)
    """
    from scipy.stats import chi2

    from .syntax import parse_syntax

    st = _state(res, "score_test")
    pt = st.partable
    eqs = parse_syntax(res.model).equalities
    f, R, names = _constraint_matrix(pt, eqs)
    if R.shape[0] == 0:
        raise ModelError("score_test: the model has no equality constraints to release",
                         hint="use group_equal=[...], shared labels or 'a == b' lines; for fixed parameters "
                              "see sem.modindices()")
    nR = R.shape[0]
    if release is None:
        ridx = list(range(nR))
    else:
        try:
            ridx = [int(r) - 1 for r in ([release] if np.isscalar(release) else release)]
        except (TypeError, ValueError):
            raise ModelError(f"release={release!r} must be constraint numbers (1-based integers)",
                             hint=f"numbers between 1 and {nR}")
        if not ridx or min(ridx) < 0 or max(ridx) >= nR:
            raise ModelError(f"release={release!r}: the model has {nR} equality constraints",
                             hint=f"numbers between 1 and {nR}")
    with one_blas_thread():
        info, score = _unconstrained_terms(st, f)
    N = float(st.stats.ntotal)
    keep = [r for r in range(nR) if r not in ridx]
    total = _released_stat(info, R[keep], score, N)
    df = len(ridx)
    uni = []
    for r in ridx:
        others = [k for k in range(nR) if k != r]
        uni.append(_released_stat(info, R[others], score, N))
    uni = np.array(uni)
    out = pd.DataFrame({"lhs": [names[r][0] for r in ridx], "op": "==", "rhs": [names[r][1] for r in ridx],
                        "X2": uni, "df": 1, "pvalue": chi2.sf(uni, 1)})
    out.attrs["total"] = {"test": "score", "X2": total, "df": df, "pvalue": float(chi2.sf(total, df))}
    if cumulative:
        order = np.argsort(-uni, kind="stable")
        TS = []
        for k in range(len(ridx)):
            rel = {ridx[i] for i in order[:k + 1]}
            TS.append(_released_stat(info, R[[j for j in range(nR) if j not in rel]], score, N))
        TS = np.array(TS)
        cum = out.iloc[order][["lhs", "op", "rhs"]].reset_index(drop=True)
        cum["X2"] = TS
        cum["df"] = np.arange(1, len(TS) + 1)
        cum["pvalue"] = chi2.sf(TS, cum["df"].to_numpy())
        out.attrs["cumulative"] = cum
    return out

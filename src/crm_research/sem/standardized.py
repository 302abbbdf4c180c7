"""Standardized solutions ``std.lv`` and ``std.all`` as lavaan 0.6-14 computes them
(``lav_standardize_lv`` / ``lav_standardize_all``).

* ``std.lv`` scales by the model-implied standard deviations of the latent variables.
* ``std.all`` additionally scales by the model-implied standard deviations of the observed
  variables.
* Covariances are divided by the square roots of the two *variance parameters* of the
  rows' variables (residual variances for dependent variables), so a residual covariance
  becomes a residual correlation (semopy divides by total variances instead).
* ``:=`` parameters are the defining function applied to the standardized values.
"""
from __future__ import annotations

import numpy as np
import pandas as pd


def standardize(frame: pd.DataFrame, est: np.ndarray, model, theta: np.ndarray, defined=None,
                lv_var: list | None = None, ov_var: list | None = None, nox=()) -> tuple[np.ndarray, np.ndarray]:
    """Return (std.lv, std.all) for the rows of ``frame`` (``:=`` rows included).

    Parameters
    ----------
    frame : DataFrame
        Parameter table.
    est : array
        Unstandardized values of every row (``:=`` rows ignored).
    model : RAMModel
    theta : array
        Free parameters (for the implied variances).
    defined : DefinedParameters, optional
    nox : iterable of str
        Exogenous covariates left unstandardized (lavaan's ``std.nox``); default none
        (``std.all``).
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        return _standardize(frame, est, model, theta, defined, lv_var, ov_var, set(nox))


def _standardize(frame, est, model, theta, defined, lv_var, ov_var, nox=frozenset()):
    lhs = frame["lhs"].to_numpy()
    op = frame["op"].to_numpy()
    rhs = frame["rhs"].to_numpy()
    grp = frame["group"].to_numpy()
    n = len(frame)
    out_lv = est.astype(float).copy()
    lvs = set(model.lv)
    ovs = set(model.ov)
    lv_pos = {v: i for i, v in enumerate(model.lv)}
    ov_pos = {v: i for i, v in enumerate(model.ov)}
    for g in range(model.G):
        imp = model.implied(theta, g)
        dC = np.diag(imp["C"])
        ETA2 = dC[model.p:].copy() if lv_var is None else np.asarray(lv_var[g], float)
        ETA2 = np.where(ETA2 < 0, np.nan, ETA2)
        ETA = np.sqrt(ETA2)
        sel = grp == g + 1
        idx = np.where(sel)[0]
        # variance-row values of latent variables (for covariances)
        rv = {}
        for k in idx:
            if op[k] == "~~" and lhs[k] == rhs[k] and lhs[k] in lvs:
                rv[lhs[k]] = np.sqrt(abs(est[k]))
        for k in idx:
            o, a, b = op[k], lhs[k], rhs[k]
            x = out_lv[k]
            if o == "=~":
                if b not in lvs:
                    x = x * ETA[lv_pos[a]]
                else:
                    x = x * ETA[lv_pos[a]] / ETA[lv_pos[b]]
            elif o == "~":
                if a in lvs:
                    x = x / ETA[lv_pos[a]]
                if b in lvs:
                    x = x * ETA[lv_pos[b]]
            elif o == "~~":
                if a == b and a in lvs:
                    x = x / ETA[lv_pos[a]] / ETA[lv_pos[b]]
                elif a != b:
                    if a in lvs:
                        x = x / rv.get(a, np.nan)
                    if b in lvs:
                        x = x / rv.get(b, np.nan)
            elif o == "~1":
                if a in lvs:
                    x = x / ETA[lv_pos[a]]
            out_lv[k] = x
    out_all = out_lv.copy()
    for g in range(model.G):
        imp = model.implied(theta, g)
        OV2 = np.diag(imp["C"])[:model.p].copy() if ov_var is None else np.asarray(ov_var[g], float)
        OV2 = np.where(np.abs(OV2) < np.finfo(float).eps, np.nan, OV2)
        OV = np.sqrt(np.where(OV2 < 0, np.nan, OV2))
        sel = grp == g + 1
        idx = np.where(sel)[0]
        rv = {}
        for k in idx:
            if op[k] == "~~" and lhs[k] == rhs[k] and lhs[k] not in lvs:
                rv[lhs[k]] = np.sqrt(abs(est[k]))
        for k in idx:
            o, a, b = op[k], lhs[k], rhs[k]
            x = out_all[k]
            if o == "=~" and b not in lvs:
                x = x / OV[ov_pos[b]]
            elif o == "~":
                if a in ovs:
                    x = x / OV[ov_pos[a]]
                if b in ovs and b not in nox:
                    x = x * OV[ov_pos[b]]
            elif o == "~~":
                if a == b and a not in lvs:
                    if a not in nox:
                        x = x / OV2[ov_pos[a]]
                elif a != b:
                    if a not in lvs and a not in nox:
                        x = x / rv.get(a, np.nan)
                    if b not in lvs and b not in nox:
                        x = x / rv.get(b, np.nan)
            elif o == "~1" and a not in lvs and a not in nox:
                x = x / OV[ov_pos[a]]
            out_all[k] = x
    if defined is not None and len(defined):
        dmask = op == ":="
        for out in (out_lv, out_all):
            env = {}
            for k in range(n):
                if op[k] == ":=":
                    continue
                lab = frame["label"].iat[k]
                pl = frame["plabel"].iat[k]
                fr = frame["free"].iat[k]
                if fr > 0:
                    if lab and lab not in env:
                        env[lab] = out[k]
                    env.setdefault(pl, out[k])
            out[dmask] = defined.values_from_env(env)
    return out_lv, out_all


# ------------------------------------------------------------------ standardized solution
STD_TYPES = ("std.all", "std.lv", "std.nox")


def _row_factors(st, kind: str):
    """Per partable row, the factors its value is multiplied by when standardized, as
    (source, index, power) with source "eta" (latent SD), "ov" (observed SD) or "rv"
    (square root of |value| of the variance row ``index``, lavaan's cov.std) -- the rules
    of :func:`_standardize`, precomputed once for a whole stack of parameter vectors."""
    pt, model = st.partable, st.model
    f = pt.frame
    lhs, op, rhs, grp = f["lhs"].to_numpy(), f["op"].to_numpy(), f["rhs"].to_numpy(), f["group"].to_numpy()
    lvs, ovs = set(model.lv), set(model.ov)
    lv_pos = {v: i for i, v in enumerate(model.lv)}
    ov_pos = {v: i for i, v in enumerate(model.ov)}
    nox = set(pt.names.ov_x) if kind == "std.nox" else set()
    var_row = {}
    for k in range(len(f)):
        if op[k] == "~~" and lhs[k] == rhs[k]:
            var_row.setdefault((grp[k], lhs[k]), k)
    out = []
    for k in range(len(f)):
        o, a, b, g = op[k], lhs[k], rhs[k], grp[k] - 1 if op[k] != ":=" else 0
        fac = []
        # std.lv part
        if o == "=~":
            fac.append(("eta", g, lv_pos[a], 1))
            if b in lvs:
                fac.append(("eta", g, lv_pos[b], -1))
        elif o == "~":
            if a in lvs:
                fac.append(("eta", g, lv_pos[a], -1))
            if b in lvs:
                fac.append(("eta", g, lv_pos[b], 1))
        elif o == "~~":
            if a == b and a in lvs:
                fac.append(("eta", g, lv_pos[a], -2))
            elif a != b:
                for v in (a, b):
                    if v in lvs:
                        fac.append(("rv", g, var_row.get((g + 1, v), -1), -1))
        elif o == "~1" and a in lvs:
            fac.append(("eta", g, lv_pos[a], -1))
        if kind != "std.lv":
            if o == "=~" and b not in lvs:
                fac.append(("ov", g, ov_pos[b], -1))
            elif o == "~":
                if a in ovs:
                    fac.append(("ov", g, ov_pos[a], -1))
                if b in ovs and b not in nox:
                    fac.append(("ov", g, ov_pos[b], 1))
            elif o == "~~":
                if a == b and a not in lvs:
                    if a not in nox:
                        fac.append(("ov2", g, ov_pos[a], -1))
                elif a != b:
                    for v in (a, b):
                        if v not in lvs and v not in nox:
                            fac.append(("rv", g, var_row.get((g + 1, v), -1), -1))
            elif o == "~1" and a not in lvs and a not in nox:
                fac.append(("ov", g, ov_pos[a], -1))
        out.append(fac)
    return out


def _std_values_stack(st, T: np.ndarray, kind: str, base: np.ndarray, factors=None) -> np.ndarray:
    """Standardized values (R, rows) of every partable row for a stack of parameter vectors
    ``T`` (R, q): the vectorized :func:`standardize` (implied variances per vector; fixed.x
    moments of the full sample).  ``:=`` rows are the definitions applied to the
    standardized values, as lavaan."""
    pt, model = st.partable, st.model
    f = pt.frame
    T = np.atleast_2d(np.asarray(T, float))
    R = len(T)
    free = f["free"].to_numpy()
    E = np.where(free[None, :] > 0, T[:, np.maximum(free, 1) - 1], base[None, :])
    factors = _row_factors(st, kind) if factors is None else factors
    moms = model.group_moments(st.stats)
    eta, ov, ov2 = [], [], []
    with np.errstate(invalid="ignore", divide="ignore"):
        for g in range(model.G):
            _, C, _, _ = model.batch_implied(T, g, moms[g])
            dC = np.diagonal(C, axis1=1, axis2=2)
            e2 = dC[:, model.p:]
            eta.append(np.sqrt(np.where(e2 < 0, np.nan, e2)))
            o2 = dC[:, :model.p].copy()
            o2 = np.where(np.abs(o2) < np.finfo(float).eps, np.nan, o2)
            ov2.append(o2)
            ov.append(np.sqrt(np.where(o2 < 0, np.nan, o2)))
        out = E.copy()
        dmask = (f["op"] == ":=").to_numpy()
        for k, fac in enumerate(factors):
            if dmask[k]:
                continue
            x = out[:, k]
            for src, g, i, pw in fac:
                if src == "eta":
                    v = eta[g][:, i]
                elif src == "ov":
                    v = ov[g][:, i]
                elif src == "ov2":
                    v = ov2[g][:, i]
                else:
                    v = np.sqrt(np.abs(E[:, i])) if i >= 0 else np.full(R, np.nan)
                x = x * v ** pw
            out[:, k] = x
        defined = pt.defined()
        if len(defined):
            env = dict(defined.label_fixed)
            lab, pl = f["label"].to_numpy(), f["plabel"].to_numpy()
            for k in range(len(f)):
                if dmask[k] or free[k] <= 0:
                    continue
                if lab[k] and lab[k] not in env:
                    env[lab[k]] = out[:, k]
                env.setdefault(pl[k], out[:, k])
            for name, e in defined.definitions:
                v = np.broadcast_to(np.asarray(e.value(env), dtype=float), (R,))
                env[name] = v
                out[:, np.where((f["op"] == ":=").to_numpy() & (f["lhs"].to_numpy() == name))[0]] = v[:, None]
    return out


def _jacobian_stack(st, theta: np.ndarray, kind: str, base: np.ndarray) -> np.ndarray:
    """Central-difference Jacobian (rows x q) of the standardized values, step
    1e-6 (1 + |theta|), all 2q evaluations in one stack."""
    q = len(theta)
    h = 1e-6 * (1.0 + np.abs(theta))
    T = np.vstack([theta + np.diag(h), theta - np.diag(h)])
    V = _std_values_stack(st, T, kind, base)
    return ((V[:q] - V[q:]) / (2 * h[:, None])).T


def standardized_solution(res, *, type: str = "std.all", ci: str = "delta", level: float | None = None) -> pd.DataFrame:
    """The standardized solution with standard errors, as lavaan's ``standardizedSolution()``.

    Parameters
    ----------
    res : SEMResult
        A model fitted by :func:`~crm_research.sem.fit`.
    type : {"std.all", "std.lv", "std.nox"}
        Which standardization (lavaan's ``type``).
    ci : {"delta", "bootstrap"}
        "delta" (default, as lavaan): SEs by the delta method from the estimates'
        variance-covariance matrix (the bootstrap one after ``se="bootstrap"``, as lavaan)
        and normal-theory intervals.  "bootstrap": SEs and intervals from the standardized
        values of the bootstrap replicates (interval type of the fit's ``boot_ci``: perc,
        bca.simple, bca, norm or basic); needs a fit with ``se="bootstrap"``.
    level : float, optional
        Confidence level; default the fit's ``ci_level``.

    Returns
    -------
    DataFrame
        ``lhs, op, rhs, [group], [label], <type>, se, z, pvalue, ci.lower, ci.upper``, one
        row per parameter (``:=`` rows included), fixed values with se 0.

    Raises
    ------
    ModelError
        Unknown ``type``/``ci``, ``ci="bootstrap"`` without a bootstrap, no standard errors.

    Examples
    --------
    >>> import pandas as pd
    >>> from crm_research import sem
    >>> hs = pd.read_csv("tests/reference/lavaan/HolzingerSwineford1939.csv")
    >>> res = sem.fit("visual =~ x1 + x2 + x3\\ntextual =~ x4 + x5 + x6", hs)
    >>> ss = sem.standardized_solution(res)
    >>> row = ss[(ss["lhs"] == "visual") & (ss["rhs"] == "x2")].iloc[0]
    >>> round(float(row["std.all"]), 3), round(float(row["se"]), 3)
    (0.431, 0.061)
    """
    from scipy.stats import norm

    from ..errors import ModelError
    from .partable import row_names

    if type not in STD_TYPES:
        raise ModelError(f"type={type!r} is not a standardization", hint=f"use one of {', '.join(STD_TYPES)}")
    if ci not in ("delta", "bootstrap"):
        raise ModelError(f"ci={ci!r} is not supported", hint="use 'delta' or 'bootstrap'")
    if getattr(res, "ordered", None):
        raise ModelError("standardized_solution is not available for ordinal (categorical) fits yet",
                         hint="see the std.all column of res.estimates")
    st = getattr(res, "state", None)
    if st is None:
        raise ModelError("standardized_solution needs a model fitted by sem.fit() in this session",
                         hint="refit the model with sem.fit(model, data)")
    level = float(res.ci_level if level is None else level)
    if not 0 < level < 1:
        raise ModelError(f"level={level!r} must be between 0 and 1", hint="e.g. level=0.95")
    pt = st.partable
    f = pt.frame
    theta = np.asarray(st.theta, float)
    base = res.partable["est"].to_numpy(float) if "est" in res.partable else np.zeros(len(f))
    base = np.where(np.isnan(base), 0.0, base)
    val = _std_values_stack(st, theta, type, base)[0]
    free = f["free"].to_numpy()
    if ci == "delta":
        if res.vcov is None:
            raise ModelError("standardized_solution: the fit has no variance-covariance matrix of the estimates "
                             "(se='none' or failed standard errors)", hint="fit with se='standard'")
        V = res.vcov.to_numpy(float)
        J = _jacobian_stack(st, theta, type, base)
        with np.errstate(invalid="ignore"):
            var = np.einsum("ij,jk,ik->i", J, V, J)
            var = np.where(var < 0, np.nan, var)
            se = np.sqrt(var)
        se = np.where(se < np.finfo(float).eps ** 0.25, 0.0, se)
        fac = norm.ppf((1 + level) / 2)
        lo, hi = val - fac * se, val + fac * se
    else:
        lo, hi, se = _bootstrap_std(res, st, type, base, val, level)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(se > 0, val / np.where(se > 0, se, 1.0), np.nan)
    out = pd.DataFrame({"lhs": f["lhs"].to_numpy(), "op": f["op"].to_numpy(), "rhs": f["rhs"].to_numpy()})
    if pt.ngroups > 1:
        out["group"] = np.where(f["op"].to_numpy() == ":=", 0, f["group"].to_numpy())
    labels = f["label"].fillna("").to_numpy()
    if any(lab for lab in labels):
        out["label"] = labels
    out[type] = val
    out["se"] = se
    out["z"] = z
    out["pvalue"] = 2 * norm.sf(np.abs(z))
    out["ci.lower"] = lo
    out["ci.upper"] = hi
    _ = row_names, free
    return out


def _bootstrap_std(res, st, type, base, val, level):
    """Bootstrap SEs and intervals of the standardized values (interval type of the fit)."""
    from ..errors import ModelError
    from .bootstrap import acceleration, draw_counts, interval, make_kernel, reduced_frequencies

    b = getattr(res, "bootstrap", None)
    if b is None:
        raise ModelError("ci='bootstrap' needs a fit with se='bootstrap'",
                         hint="fit with sem.fit(..., se='bootstrap', bootstrap=1000) or use ci='delta'")
    reps = b.replicates
    status = reps["status"].to_numpy()
    keep_nonadm = b.n_ok > int((status == "ok").sum())
    use = (status == "ok") | ((status == "nonadmissible") & keep_nonadm)
    model = st.model
    f = st.partable.frame
    free = f["free"].to_numpy()
    order = sorted({int(x) for x in free if x > 0})
    # replicate parameter vectors (columns of the replicates table in free-parameter order)
    first = {}
    for k, fr in enumerate(free):
        if fr > 0 and fr not in first:
            first[fr] = k
    from .partable import row_names

    names = row_names(f, st.partable.ngroups > 1)
    T = np.column_stack([reps[names[first[fr]]].to_numpy(float) for fr in order])[use]
    S = _std_values_stack(st, T, type, base)
    n = len(T)
    se = np.full(len(val), np.nan)
    lo = np.full(len(val), np.nan)
    hi = np.full(len(val), np.nan)
    if n < 2:
        return lo, hi, se
    kind = b.ci_type
    acc = np.zeros(S.shape[1])
    if kind == "bca":
        kern = make_kernel(model, st.stats)
        counts = draw_counts(kern, int(b.seed), np.arange(b.R))
        acc = acceleration(np.nan_to_num(S), reduced_frequencies([c[use] for c in counts]))
        acc = np.nan_to_num(acc)
    center = _std_values_stack(st, T.mean(axis=0), type, base)[0] if kind == "norm" else None
    for k in range(len(val)):
        col = S[:, k]
        if np.nanstd(col) < np.finfo(float).eps ** 0.5:     # fixed (e.g. exogenous moments, markers)
            se[k] = 0.0
            lo[k] = hi[k] = val[k]
            continue
        se[k] = np.std(col[np.isfinite(col)], ddof=1)
        lo[k], hi[k] = interval(kind, col, val[k], level, a=float(acc[k]),
                                center=None if center is None else float(center[k]), ddof=1)
    _ = free
    return lo, hi, se

"""Modification indices of least-squares fits to ordered data (WLSMV and relatives), as
lavaan 0.6-14's ``modindices()`` computes them for DWLS/WLS/ULS: the model is extended by the
parameters that could be freed (fixed at 0), and for each

    mi = N s^2 / V,   s = sum_g (N_g - 1) / N  Delta_g' W_g (s_g - sigma_g),
    V = I_11 - I_12 I_22^-1 I_21,  I = sum_g f_g Delta_g' W_g Delta_g,

with the expected parameter change ``epc = s / V`` and its standardized versions (``sepc.lv``,
``sepc.all``; covariances standardized by the residual variances, as lavaan's ``cov.std``).
Candidates: the model's fixed loadings and intercepts of observed items, cross-loadings of
every observed item on every factor and residual covariances of every pair of observed items
the model does not have (rows whose index does not exist are left out, as lavaan's
``na.remove``).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import ModelError
from .estimate import one_blas_thread
from .model import RAMModel
from .partable import ParTable
from .standardized import standardize
from .wls import LSModel, information

MI_COLUMNS = ["lhs", "op", "rhs", "mi", "epc", "sepc.lv", "sepc.all", "sepc.nox"]


def _candidates(f: pd.DataFrame, ov, lv, G):
    have = set(zip(f["lhs"], f["op"], f["rhs"], f["group"]))
    have |= {(b, o, a, g) for a, o, b, g in have if o == "~~"}
    out = []
    for g in range(1, G + 1):
        for l in lv:
            for v in ov:
                if (l, "=~", v, g) not in have:
                    out.append((l, "=~", v, g))
        for i in range(len(ov)):
            for j in range(i + 1, len(ov)):
                if (ov[i], "~~", ov[j], g) not in have:
                    out.append((ov[i], "~~", ov[j], g))
    return out


def modindices_ls(res, *, minimum_value: float = 0.0, op=None, sort: bool = True,
                  standardized: bool = True) -> pd.DataFrame:
    """Modification indices of an ordinal (least-squares) fit, as lavaan's ``modindices()``.

    Parameters
    ----------
    res : SEMResult
        A fit of :func:`~crm_research.sem.fit` with ``ordered=`` (WLSMV, DWLS, WLS, ULS ...).
    minimum_value : float
        Keep rows with ``mi`` above this value.
    op : str or list of str, optional
        ``"=~"`` and/or ``"~~"``.
    sort : bool
        Largest index first.
    standardized : bool
        Add ``sepc.lv``, ``sepc.all``, ``sepc.nox``.

    Returns
    -------
    DataFrame
        ``lhs, op, rhs, [group], mi, epc, sepc.lv, sepc.all, sepc.nox``.

    Raises
    ------
    ModelError
        Not an ordinal fit of this session, a model that did not converge, a bad ``op``.

    Examples
    --------
    >>> import pandas as pd
    >>> from crm_research import sem
    >>> hs = pd.read_csv("tests/reference/lavaan/ord_hs_cut.csv")
    >>> res = sem.fit("visual =~ c1 + c2 + c3\\ntextual =~ c4 + c5 + c6\\nspeed =~ c7 + c8 + c9", hs,
    ...               ordered=True)
    >>> mi = modindices_ls(res)
    >>> mi[["lhs", "op", "rhs"]].iloc[0].tolist(), round(float(mi["mi"].iloc[0]), 2)
    (['visual', '=~', 'c9'], 28.42)
    """
    st = getattr(res, "ls_state", None)
    if st is None:
        raise ModelError("modification indices need an ordinal fit of sem.fit() in this session (the result "
                         "carries no model state)", hint="refit the model with sem.fit(model, data, ordered=...)")
    if not res.converged:
        raise ModelError("modindices: the model did not converge", hint="fix the model first (see res.warnings)")
    try:
        minimum_value = float(minimum_value)
    except (TypeError, ValueError):
        raise ModelError(f"minimum_value={minimum_value!r} must be a number", hint="e.g. minimum_value=3.84") from None
    ops = None
    if op is not None:
        ops = [op] if isinstance(op, str) else list(op)
        bad = [o for o in ops if o not in ("=~", "~", "~~", "~1")]
        if bad:
            raise ModelError(f"op={bad[0]!r} is not an operator modindices() reports",
                             hint="use '=~' or '~~' (or a list of them)")
    with one_blas_thread():
        return _modindices(res, st, minimum_value, ops, sort, standardized)


def _modindices(res, st, minimum_value, ops, sort, standardized):
    lsm: LSModel = st.model
    pt = lsm.ram.pt
    f = pt.frame[pt.frame["op"] != ":="]
    ov, lv, G = list(pt.names.ov), list(pt.names.lv), pt.ngroups
    cand = _candidates(f, ov, lv, G)
    grouped = G > 1
    cols = MI_COLUMNS[:3] + (["group"] if grouped else []) + MI_COLUMNS[3:]
    q = lsm.q
    # the model's fixed loadings and observed intercepts are freed too (lavaan lists them when
    # their index exists, e.g. intercepts of ordered items across groups)
    fe = f.copy()
    fixed = np.where((fe["free"].to_numpy() == 0) & ((fe["op"] == "=~") | ((fe["op"] == "~1")
                                                                           & fe["lhs"].isin(ov))).to_numpy())[0]
    k0 = len(fixed)
    fe.loc[fe.index[fixed], "free"] = q + 1 + np.arange(k0)
    k = k0 + len(cand)
    add = pd.DataFrame({"id": 0, "lhs": [c[0] for c in cand], "op": [c[1] for c in cand],
                        "rhs": [c[2] for c in cand], "user": 10, "block": [c[3] for c in cand],
                        "group": [c[3] for c in cand], "free": q + 1 + k0 + np.arange(len(cand)), "ustart": np.nan,
                        "start": np.nan, "exo": 0, "label": "", "plabel": "", "line": 0})
    fe = pd.concat([fe, add], ignore_index=True)
    pte = ParTable(frame=fe, names=pt.names, ngroups=G, meanstructure=True, fixed_x=pt.fixed_x)
    lse = LSModel(RAMModel(pte), lsm.layouts, lsm.parameterization)
    th = np.r_[st.theta, np.nan_to_num(f["ustart"].to_numpy(float)[fixed]), np.zeros(len(cand))]
    E, J = information(lse, th, st.weights, st.fg)
    N = float(np.sum(st.nobs))
    s = np.zeros(q + k)
    for g in range(G):
        r = st.obs[g] - lse.implied(th, g)[0]
        W = st.weights[g]
        s += (st.nobs[g] - 1.0) / N * (J[g].T @ (W * r if W.ndim == 1 else W @ r))
    ext, mod = np.arange(q, q + k), np.arange(q)
    try:
        I22inv = np.linalg.inv(E[np.ix_(mod, mod)])
    except np.linalg.LinAlgError:
        raise ModelError("could not compute modification indices: the information matrix is singular",
                         hint="check that the model is identified") from None
    V = np.diag(E[np.ix_(ext, ext)] - E[np.ix_(ext, mod)] @ I22inv @ E[np.ix_(mod, ext)]).copy()
    V[V < np.finfo(float).eps ** (1 / 3)] = np.nan
    mi = N * s[ext] ** 2 / V
    epc = s[ext] / V
    rows = pd.concat([f.iloc[fixed][["lhs", "op", "rhs", "group"]], add[["lhs", "op", "rhs", "group"]]],
                     ignore_index=True)
    out = pd.DataFrame({"lhs": rows["lhs"], "op": rows["op"], "rhs": rows["rhs"]})
    if grouped:
        out["group"] = rows["group"].to_numpy()
    out["mi"] = mi
    out["epc"] = epc
    if standardized:
        est = np.r_[res.partable["est"].to_numpy(float)[:len(f)], np.abs(epc[k0:])]
        est[fixed] = np.abs(epc[:k0])
        ov_var = [np.diag(lsm.parts(st.theta, g)[0][0]).copy() for g in range(G)]
        slv, sall = standardize(fe, est, lse.ram, th, None, ov_var=ov_var)
        sign = np.sign(epc)
        out["sepc.lv"] = sign * np.r_[slv[fixed], slv[len(f):]]
        out["sepc.all"] = sign * np.r_[sall[fixed], sall[len(f):]]
        out["sepc.nox"] = out["sepc.all"]
    else:
        for c in ("sepc.lv", "sepc.all", "sepc.nox"):
            out[c] = np.nan
    out = out[out["mi"].notna()]
    if ops is not None:
        out = out[out["op"].isin(ops)]
    out = out[out["mi"] >= minimum_value] if minimum_value > 0 else out
    if sort:
        out = out.sort_values("mi", ascending=False, kind="stable")
    return out.reset_index(drop=True)[cols]

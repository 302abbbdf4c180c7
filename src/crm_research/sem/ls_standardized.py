"""Standardized solutions of least-squares fits to ordered data, as lavaan 0.6-14 prints
them (``parameterEstimates(standardized = TRUE)``, ``standardizedSolution()``): the usual
standardization with the latent response variances of ordered items (1 / scale^2 in the delta
parameterization), thresholds divided by their item's standard deviation, scale factors 1 in
``std.all``; the standardized solution's standard errors by the delta method (numerical
Jacobian of the standardization, the fit's robust or standard vcov).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import norm

from ..errors import ModelError
from .standardized import standardize
from .wls import LSModel


def row_values(lsm: LSModel, theta) -> np.ndarray:
    """Estimates of every row of the parameter table: free parameters, fixed values,
    computed residual variances (delta) and scale factors (theta) of ordered items.

    Examples
    --------
    >>> import numpy as np
    >>> from crm_research.sem.examples import ordinal_example
    >>> ex = ordinal_example()           # one factor, three 3-category items, N = 500
    >>> st, pt, lsm = ex.stats, ex.partable, ex.model
    >>> est = row_values(lsm, np.r_[1.0, 1.0, st.th, 0.5])
    >>> f = pt.frame
    >>> float(est[((f["lhs"] == "y0") & (f["op"] == "~~")).to_numpy()][0])   # 1 - 1 * 0.5
    0.5
    """
    pt2 = lsm.ram.pt
    f = pt2.frame
    ov = list(pt2.names.ov)
    free_a = f["free"].to_numpy()
    est = np.where(free_a > 0, theta[np.maximum(free_a, 1) - 1], np.nan_to_num(f["ustart"].to_numpy(float)))
    ordset = {v for v, o in zip(ov, lsm.layouts[0].ordered) if o}
    pos = {v: i for i, v in enumerate(ov)}
    lhs_a, op_a, rhs_a = f["lhs"].to_numpy(), f["op"].to_numpy(), f["rhs"].to_numpy()
    grp_a = f["group"].to_numpy()
    for g in range(lsm.G):
        Sigma, mu, D, C = lsm.parts(theta, g)
        Dg = D[0]
        A, S, m = lsm.ram.matrices(theta, g)
        for k in np.where(grp_a == g + 1)[0]:
            lhs, op, rhs = lhs_a[k], op_a[k], rhs_a[k]
            if lsm.parameterization == "delta" and op == "~~" and lhs == rhs and lhs in ordset and free_a[k] == 0:
                i = pos[lhs]
                # residual variance = Var(y*) - common part
                est[k] = 1.0 / Dg[i] ** 2 - (C[0][i, i] - S[i, i])
            elif lsm.parameterization == "theta" and op == "~*~":
                est[k] = Dg[pos[lhs]]
    return est


def standardized_rows(lsm: LSModel, est, theta, defined=None):
    """(std.lv, std.all) of every row, as lavaan: the usual standardization with the latent
    response variances of ordered items; thresholds divided by their item's standard
    deviation; scale factors 1 in std.all; ``:=`` rows from ``defined``.

    Examples
    --------
    >>> import numpy as np
    >>> from crm_research.sem.examples import ordinal_example
    >>> ex = ordinal_example()           # one factor, three 3-category items, N = 500
    >>> st, pt, lsm = ex.stats, ex.partable, ex.model
    >>> theta = np.r_[1.0, 1.0, st.th, 0.49]
    >>> slv, sall = standardized_rows(lsm, row_values(lsm, theta), theta)
    >>> round(float(sall[0]), 6)                      # marker loading: sqrt(0.49) / 1
    0.7
    """
    f = lsm.ram.pt.frame
    ov = list(lsm.ram.pt.names.ov)
    ov_var = [np.diag(lsm.parts(theta, g)[0][0]).copy() for g in range(lsm.G)]   # latent response variances
    std_lv, std_all = standardize(f, est, lsm.ram, theta, defined, ov_var=ov_var)
    pos = {v: i for i, v in enumerate(ov)}
    for k, (lhs, op, g) in enumerate(zip(f["lhs"], f["op"], f["group"])):
        if op == "|":
            std_lv[k] = est[k]
            std_all[k] = est[k] / np.sqrt(ov_var[g - 1][pos[lhs]])
        elif op == "~*~":
            std_lv[k] = est[k]
            std_all[k] = 1.0
    return std_lv, std_all


def standardized_solution_ls(res, *, type: str = "std.all", ci_level: float | None = None) -> pd.DataFrame:
    """lavaan's ``standardizedSolution()`` of an ordinal (least-squares) fit: the standardized
    estimates with delta-method standard errors, z, p values and confidence intervals.

    Parameters
    ----------
    res : SEMResult
        A fit of :func:`~crm_research.sem.fit` with ``ordered=``.
    type : {"std.all", "std.lv"}
    ci_level : float, optional
        Default: the fit's.

    Returns
    -------
    DataFrame
        ``lhs, op, rhs, [group], <type>, se, z, pvalue, ci.lower, ci.upper``.

    Examples
    --------
    >>> import pandas as pd
    >>> from crm_research import sem
    >>> hs = pd.read_csv("tests/reference/lavaan/ord_hs_cut.csv")
    >>> res = sem.fit("visual =~ c1 + c2 + c3\\ntextual =~ c4 + c5 + c6\\nspeed =~ c7 + c8 + c9", hs,
    ...               ordered=True)
    >>> ss = standardized_solution_ls(res)
    >>> row = ss[(ss["lhs"] == "visual") & (ss["rhs"] == "c2")].iloc[0]
    >>> round(float(row["std.all"]), 3), round(float(row["se"]), 3)
    (0.474, 0.075)
    """
    st = getattr(res, "ls_state", None)
    if st is None:
        raise ModelError("standardized_solution needs an ordinal fit of sem.fit() in this session",
                         hint="refit the model with sem.fit(model, data, ordered=...)")
    if type not in ("std.all", "std.lv"):
        raise ModelError(f"type={type!r} is not supported", hint="use 'std.all' or 'std.lv'")
    level = float(res.ci_level if ci_level is None else ci_level)
    if not (0 < level < 1):
        raise ModelError(f"ci_level={ci_level!r} must be between 0 and 1", hint="e.g. ci_level=0.95")
    lsm: LSModel = st.model
    pt = lsm.ram.pt
    f = pt.frame
    defined = pt.defined()
    dmask = (f["op"] == ":=").to_numpy()
    col = 1 if type == "std.all" else 0

    def fun(theta):
        est = row_values(lsm, theta)
        if len(defined):
            est[dmask] = defined.values(theta)
        return standardized_rows(lsm, est, theta, defined if len(defined) else None)[col]

    theta = st.theta
    val = fun(theta)
    V = None if res.vcov is None else res.vcov.to_numpy()
    se = np.full(len(f), np.nan)
    if V is not None:
        h = 1e-6 * np.maximum(1.0, np.abs(theta))
        Jac = np.empty((len(f), len(theta)))
        for k in range(len(theta)):
            e = np.zeros_like(theta)
            e[k] = h[k]
            Jac[:, k] = (fun(theta + e) - fun(theta - e)) / (2 * h[k])
        v = np.einsum("ij,jk,ik->i", Jac, V, Jac)
        se = np.sqrt(np.where(v < 0, np.nan, np.abs(v)))
        se = np.where(np.abs(se) < np.sqrt(np.finfo(float).eps), 0.0, se)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(se > 0, val / np.where(se > 0, se, 1.0), np.nan)
    crit = norm.ppf(1 - (1 - level) / 2)
    out = pd.DataFrame({"lhs": f["lhs"].to_numpy(), "op": f["op"].to_numpy(), "rhs": f["rhs"].to_numpy()})
    if pt.ngroups > 1:
        out["group"] = f["group"].to_numpy()
    out[type] = val
    out["se"] = se
    out["z"] = z
    out["pvalue"] = 2 * norm.sf(np.abs(z))
    out["ci.lower"] = val - crit * se
    out["ci.upper"] = val + crit * se
    out.attrs["ci.level"] = level
    return out

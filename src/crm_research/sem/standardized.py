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

"""Problems of a fitted model, as readable warnings (lavaan's post-estimation checks and more).

Checked: convergence; negative variances of observed or latent variables (Heywood cases);
standardized loadings beyond +/-1; the model-implied covariance matrix of the latent
variables and the residual covariance matrix of the observed variables not positive
definite; a singular information matrix (model probably not identified) and a
variance-covariance matrix of the estimates that is not positive definite.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

EPS34 = np.finfo(float).eps ** 0.75


def _grp(G, g, labels):
    if G <= 1:
        return ""
    lab = labels[g] if labels is not None else g + 1
    return f" in group {lab}"


def post_check(estimates: pd.DataFrame, model, theta, *, group_labels=None) -> list[str]:
    """Warnings about the estimates (Heywood cases, non-positive-definite matrices)."""
    out = []
    G = model.G
    lvs = set(model.lv)
    est = estimates
    for g in range(G):
        e = est[est["group"] == g + 1] if "group" in est.columns else est
        where = _grp(G, g, group_labels)
        var = e[(e["op"] == "~~") & (e["lhs"] == e["rhs"])]
        neg_ov = var[(~var["lhs"].isin(lvs)) & (var["est"] < 0)]
        if len(neg_ov):
            items = ", ".join(f"{r.lhs} ({r.est:.3f})" for r in neg_ov.itertuples())
            out.append(f"Heywood case{where}: negative residual variance(s) of observed variable(s): {items}; "
                       "the solution is not admissible (check for too few indicators, outliers or a misspecified model)")
        neg_lv = var[(var["lhs"].isin(lvs)) & (var["est"] < 0)]
        if len(neg_lv):
            items = ", ".join(f"{r.lhs} ({r.est:.3f})" for r in neg_lv.itertuples())
            out.append(f"Heywood case{where}: negative (residual) variance(s) of latent variable(s): {items}; "
                       "the solution is not admissible")
        lo = e[(e["op"] == "=~") & (e["std.all"].abs() > 1)]
        if len(lo):
            items = ", ".join(f"{a} =~ {b} ({v:.3f})" for a, b, v in zip(lo["lhs"], lo["rhs"], lo["std.all"]))
            out.append(f"Heywood case{where}: standardized loading(s) beyond +/-1: {items}")
        imp = model.implied(theta, g)
        if model.lv and len(neg_lv) == 0:
            C = imp["C"][model.p:, model.p:]
            ev = np.linalg.eigvalsh(C)
            if ev.min() < -EPS34:
                out.append(f"the model-implied covariance matrix of the latent variables{where} is not positive "
                           f"definite (smallest eigenvalue {ev.min():.3g}): the solution is not admissible")
        if len(neg_ov) == 0:
            S = imp["S"][:model.p, :model.p]
            xs = set(model.pt.names.ov_x) if model.pt.fixed_x else set()
            keep = [i for i, v in enumerate(model.ov) if v not in xs]
            if keep:
                ev = np.linalg.eigvalsh(S[np.ix_(keep, keep)])
                if ev.min() < -EPS34:
                    out.append(f"the residual covariance matrix of the observed variables (theta){where} is not "
                               f"positive definite (smallest eigenvalue {ev.min():.3g}): the solution is not admissible")
    return out


def information_check(info: np.ndarray) -> tuple[bool, float]:
    """Is the (unit) information matrix invertible?  Scale-free check: eigenvalues of the
    information rescaled to unit diagonal.  Returns (ok, smallest scaled eigenvalue)."""
    if info.size == 0:
        return True, np.inf
    d = np.diag(info).copy()
    if np.any(~np.isfinite(info)) or np.any(d <= 0):
        return False, 0.0
    s = 1.0 / np.sqrt(d)
    R = info * np.outer(s, s)
    ev = np.linalg.eigvalsh(R)
    return bool(ev.min() > 1e-10), float(ev.min())



@dataclass
class FitState:
    """What post-estimation diagnostics (modification indices, score tests, standardized
    solutions with delta-method SEs) need from a complete-data ML fit: the RAM model (its
    sample-filled fixed.x entries included), the parameter table, the sample moments and
    the estimate.  :func:`~crm_research.sem.fit` attaches one as ``result.state``."""

    model: object
    partable: object
    stats: object
    theta: np.ndarray

"""``sem.fit(..., ordered=...)``: structural equation models with ordered categorical
indicators by lavaan's three-stage method (lavaan 0.6-14 ``estimator = "WLSMV"`` and
relatives):

1. thresholds of every ordered variable (:mod:`.thresholds`), means and variances of
   continuous ones;
2. polychoric / polyserial / Pearson correlations of every pair, two-step
   (:mod:`.polychoric`, :mod:`.polyserial`) and their asymptotic covariance (Muthen, 1984;
   :mod:`.nacov`);
3. the model fitted to these statistics by diagonally weighted (DWLS), fully weighted
   (WLS) or unweighted (ULS) least squares (:mod:`.wls`), with robust standard errors and
   the scaled-shifted (WLSMV, ULSMV), mean-and-variance adjusted or Satorra-Bentler test.

The result is an ordinary :class:`~crm_research.sem.result.SEMResult`: ``estimates`` hold
lavaan's rows (thresholds ``x | t1``, computed residual variances, scale factors
``x ~*~ x``, intercepts fixed at 0) with ``std.lv``/``std.all`` as lavaan prints them;
``fit_measures`` hold lavaan's names (``chisq.scaled``, ``cfi.scaled``, ``rmsea.scaled``,
``srmr`` ...).
"""
from __future__ import annotations


import numpy as np
import pandas as pd

from ..errors import ModelError
from .estimate import one_blas_thread, start_values
from .ls_measures import baseline_fit, ls_fit_measures, robust_fit_measures
from .ls_standardized import row_values, standardized_rows
from .model import RAMModel
from .nacov import categorical_stats
from .partable import build_partable, categorical_partable, row_names, var_names
from .polyserial import continuous_item
from .result import SEMResult, estimates_table
from .syntax import parse_syntax
from .thresholds import ordered_item
from .wls import (LSFitState, LSModel, LSRobust, group_layouts, gauss_newton, information, robust_vcov, scaled_test,
                  ugamma_traces, weight_diag_or_full)

#: lavaan's least-squares estimators: name -> (estimator, se, test) defaults (lavaan 0.6-14)
LS_DEFAULTS = {
    "WLSMV": ("DWLS", "robust.sem", "scaled.shifted"),
    "WLSMVS": ("DWLS", "robust.sem", "mean.var.adjusted"),
    "WLSM": ("DWLS", "robust.sem", "satorra.bentler"),
    "DWLS": ("DWLS", "standard", "standard"),
    "WLS": ("WLS", "standard", "standard"),
    "ULSMV": ("ULS", "robust.sem", "scaled.shifted"),
    "ULSM": ("ULS", "robust.sem", "satorra.bentler"),
    "ULS": ("ULS", "standard", "standard"),
}
CAT_SE = ("standard", "robust.sem", "none")
CAT_TESTS = ("standard", "scaled.shifted", "mean.var.adjusted", "satorra.bentler", "none")
CAT_MISSING = ("listwise", "pairwise")


def _choose(value, what, allowed, aliases=None):
    v = str(value).strip()
    v = (aliases or {}).get(v.lower(), v)
    for a in allowed:
        if v.lower() == a.lower():
            return a
    raise ModelError(f"{what}={value!r} is not supported with ordered (categorical) data",
                     hint=f"use one of {', '.join(allowed)}")


def fit_categorical(model: str, data: pd.DataFrame, *, estimator: str = "WLSMV", se: str | None = None,
                    test: str | None = None, ordered=True, parameterization: str = "delta",
                    missing: str = "listwise", group: str | None = None, group_equal=(), group_partial=(),
                    ci_level: float = 0.95, meanstructure=None) -> SEMResult:
    """Fit a model with ordered categorical indicators, as lavaan's ``sem(..., ordered = ...)``.

    Usually reached through :func:`crm_research.sem.fit` with ``ordered=`` or a
    least-squares ``estimator=``.

    Parameters
    ----------
    model : str
        lavaan syntax; ``:=`` defined parameters (delta-method SEs), labels, equality
        constraints and thresholds written as ``x1 | t1 + a*t2`` are understood.
    data : DataFrame
        Raw data; ordered items coded as numbers (their distinct values are the categories,
        in numeric order) or as pandas ordered categoricals (their category order).
    estimator : str
        "WLSMV" (default: DWLS, robust SEs, scaled-shifted test), "WLSM", "WLSMVS", "DWLS",
        "WLS", "ULSMV", "ULSM", "ULS" (case-insensitive); "ML" with ordered items means
        lavaan's default, "WLSMV".
    se : {"standard", "robust.sem", "none"}, optional
        Default: the estimator's.
    test : {"standard", "scaled.shifted", "mean.var.adjusted", "satorra.bentler", "none"}, optional
        Default: the estimator's.
    ordered : True, str or list of str
        ``True``: every observed variable of the model; else the ordered items (the other
        model variables are continuous).
    parameterization : {"delta", "theta"}
    missing : {"listwise", "pairwise"}
        Rows with a missing answer dropped, or every available pair used (lavaan's
        ``missing = "pairwise"`` for categorical data).
    group : str, optional
        Grouping column.
    group_equal : sequence of str
        lavaan's ``group.equal``, plus ``"thresholds"``.
    group_partial : sequence of str
        Exceptions, e.g. ``["x1|t2", "f=~x3"]``.
    ci_level : float
    meanstructure : ignored
        Categorical models always have one (as lavaan).

    Returns
    -------
    SEMResult

    Raises
    ------
    ModelError
        Unknown option values, ordered items missing from the model or the data, items with
        a single category, exogenous observed covariates (not supported), a model that is
        not identified.

    Examples
    --------
    >>> import pandas as pd
    >>> from crm_research import sem
    >>> hs = pd.read_csv("tests/reference/lavaan/ord_hs_cut.csv")
    >>> res = sem.fit("visual =~ c1 + c2 + c3\\ntextual =~ c4 + c5 + c6\\nspeed =~ c7 + c8 + c9", hs,
    ...               ordered=True)
    >>> round(float(res.fit_measures["chisq.scaled"]), 3), int(res.fit_measures["df"])
    (63.573, 24)
    >>> round(float(res.get("c1", "|", "t1")["est"]), 3)
    -1.363
    """
    with one_blas_thread():
        return _fit_categorical(model, data, estimator=estimator, se=se, test=test, ordered=ordered,
                                parameterization=parameterization, missing=missing, group=group,
                                group_equal=group_equal, group_partial=group_partial, ci_level=ci_level)


def _fit_categorical(model, data, *, estimator, se, test, ordered, parameterization, missing, group, group_equal,
                     group_partial, ci_level) -> SEMResult:
    est_in = str(estimator).strip().upper()
    if est_in in ("ML", "DEFAULT"):
        est_in = "WLSMV"
    if est_in not in LS_DEFAULTS:
        raise ModelError(f"estimator={estimator!r} is not available for ordered (categorical) data",
                         hint=f"use one of {', '.join(LS_DEFAULTS)}")
    est_kind, se_def, test_def = LS_DEFAULTS[est_in]
    se = se_def if se is None else _choose(se, "se", CAT_SE, {"robust": "robust.sem"})
    test = test_def if test is None else _choose(test, "test", CAT_TESTS,
                                                 {"default": test_def, "scaled": "scaled.shifted"})
    parameterization = _choose(parameterization, "parameterization", ("delta", "theta"))
    missing = _choose(missing, "missing", CAT_MISSING, {"available.cases": "pairwise", "listwise": "listwise"})
    if not (0 < float(ci_level) < 1):
        raise ModelError(f"ci_level={ci_level!r} must be between 0 and 1", hint="e.g. ci_level=0.95")
    if not isinstance(data, pd.DataFrame):
        raise ModelError(f"data must be a pandas DataFrame, got {type(data).__name__}", hint="pass a DataFrame")
    group_equal = [group_equal] if isinstance(group_equal, str) else list(group_equal or [])
    group_partial = [group_partial] if isinstance(group_partial, str) else [
        str(x).replace(" ", "") for x in (group_partial or [])]
    th_equal = "thresholds" in group_equal
    ge_ram = [x for x in group_equal if x != "thresholds"]

    parsed = parse_syntax(model, categorical=True)
    names0 = var_names(parsed.rows)
    ov_model = list(names0.ov)
    if ordered is None or ordered is False or (isinstance(ordered, (list, tuple)) and not ordered):
        raise ModelError(f"estimator={estimator!r} is fitted here to ordered (categorical) items, but ordered= "
                         "names none", hint="pass ordered=True (all items) or a list of ordered items; for "
                                            "continuous data use estimator='ML' or 'MLR'")
    if isinstance(ordered, str) and ordered.strip().lower() == "all" and "all" not in data.columns:
        ordered = True
    if ordered is True:
        ord_names = list(ov_model)
    else:
        ord_names = [ordered] if isinstance(ordered, str) else list(ordered or [])
        # names of data columns outside the model are ignored (as lavaan); others are typos
        unknown = [v for v in ord_names if v not in ov_model and v not in data.columns]
        if unknown:
            raise ModelError(f"ordered: {', '.join(map(str, unknown))} not found in the model or the data",
                             hint=f"the model's observed variables are {', '.join(ov_model)}")
        ord_names = [v for v in ord_names if v in ov_model]
    if not ord_names:
        raise ModelError("ordered names no observed variable of the model", hint="pass ordered=True or a list of item names")
    missing_cols = [v for v in ov_model + ([group] if group else []) if v not in data.columns]
    if missing_cols:
        raise ModelError(f"column(s) {', '.join(missing_cols)} not found in the data",
                         hint=f"the data have {', '.join(map(str, data.columns[:30]))}")
    for v in ov_model:
        if v not in ord_names and not pd.api.types.is_numeric_dtype(data[v]):
            raise ModelError(f"continuous variable {v!r} is not numeric",
                             hint="declare it ordered or recode it as numbers")
    # ---- rows, groups ----
    df = data[ov_model + ([group] if group else [])].copy()
    for v in ord_names:       # pandas ordered categoricals: their category order, as R's ordered factors
        if isinstance(df[v].dtype, pd.CategoricalDtype) and df[v].cat.ordered:
            codes = df[v].cat.codes.astype(float)
            df[v] = codes.where(codes >= 0) + 1.0
    n_input = len(df)
    if group:
        df = df[df[group].notna()]
    if missing == "listwise":
        df = df.dropna(subset=ov_model)
    else:
        df = df[df[ov_model].notna().any(axis=1)]
    n_dropped = n_input - len(df)
    if group:
        labels = list(pd.unique(df[group]))          # order of appearance, as lavaan
        frames = [df[df[group] == lab] for lab in labels]
    else:
        labels = []
        frames = [df]
    G = len(frames)
    if G == 1 and (group_equal or group_partial) and not group:
        raise ModelError("group_equal/group_partial need a multiple-group model", hint="pass group='column'")
    for lab, fr in zip(labels or [None], frames):
        if len(fr) < 2:
            raise ModelError(f"too few observations ({len(fr)})" + (f" in group {lab!r}" if lab is not None else ""),
                             hint="ordinal models need many more rows than items")
    pt = build_partable(parsed, ngroups=G, group_equal=ge_ram, group_partial=group_partial, meanstructure=True,
                        fixed_x=True)
    names = pt.names
    if names.ov_x:
        raise ModelError("exogenous observed covariates with ordered data are not supported: "
                         f"{', '.join(names.ov_x)}",
                         hint="model the covariate as a single-indicator latent variable or drop it")
    ov = list(names.ov)
    is_ord = np.array([v in ord_names for v in ov])
    # levels over all groups (lavaan's ordered factor levels)
    levels = {}
    for v in ov:
        if v in ord_names:
            vals = pd.to_numeric(df[v], errors="coerce")
            bad = df[v].notna() & vals.isna()
            if bad.any():
                raise ModelError(f"ordered variable {v!r} has non-numeric values, e.g. {df[v][bad].iloc[0]!r}",
                                 hint="code the categories as numbers (1, 2, 3, ...)")
            levels[v] = np.unique(vals.dropna().to_numpy(float))
    stats = []
    for lab, fr in zip(labels or [None], frames):
        try:
            vs = [ordered_item(v, fr[v].to_numpy(), levels=levels[v]) if v in levels
                  else continuous_item(v, fr[v].to_numpy(float)) for v in ov]
        except ModelError as e:
            if lab is None:
                raise
            raise ModelError(f"group {lab!r}: {e.message}", hint=e.hint) from None
        stats.append(categorical_stats(vs, nacov=not (est_kind == "ULS" and se != "robust.sem"
                                                       and test == "standard")))
    warnings: list[str] = list(pt.notes)
    if not all(s.converged for s in stats):
        warnings.append("the estimation of some polychoric/polyserial correlations did not converge")
    pt2 = categorical_partable(pt, is_ord, stats[0].nth, parameterization=parameterization, th_equal=th_equal,
                               group_partial=group_partial)
    layouts = group_layouts(pt2, [s.nth for s in stats])
    ram = RAMModel(pt2)
    lsm = LSModel(ram, layouts, parameterization)
    q = lsm.q
    Ng = np.array([s.N for s in stats], float)
    N = float(Ng.sum())
    fg = Ng / N
    nstat = [len(s.obs) for s in stats]
    dfm = int(sum(nstat) - q)
    if dfm < 0:
        raise ModelError(f"the model is not identified: {q} free parameters but only {sum(nstat)} sample statistics "
                         f"(df = {dfm})", hint="fix more parameters or add indicators")
    if est_kind == "ULS" and any(s.nacov is None for s in stats):
        weights = [np.ones(n) for n in nstat]
    else:
        try:
            weights = [weight_diag_or_full(s.nacov, len(s.obs), est_kind) for s in stats]
        except np.linalg.LinAlgError:
            raise ModelError("estimator='WLS' needs an invertible asymptotic covariance matrix (NACOV) of the "
                             "thresholds and correlations, and this one is not positive definite (too few respondents for "
                             f"{len(stats[0].obs)} sample statistics, or empty categories)",
                             hint="use estimator='WLSMV' (diagonal weights), as lavaan's default") from None
    obs = [s.obs for s in stats]
    cg = Ng - 1.0
    theta0 = _start(pt2, ram, lsm, stats, ov, is_ord)
    opt = gauss_newton(lsm, theta0, obs, weights, cg)
    theta = opt.theta
    if not opt.converged:
        warnings.append(f"the optimizer did not converge ({opt.message}); estimates, standard errors and fit are "
                        "NOT reliable")
    # ---- standard errors ----
    E, J = information(lsm, theta, weights, fg)
    try:
        Einv = np.linalg.inv(E)
    except np.linalg.LinAlgError:
        Einv = None
        warnings.append("could not compute standard errors: the information matrix is singular; the model is "
                        "probably not identified")
    vcov = None
    if Einv is not None and se != "none":
        if se == "robust.sem":
            vcov = robust_vcov(Einv, J, weights, [s.nacov for s in stats], fg, N - G)
        else:   # lavaan divides by ntotal - ngroups for least-squares estimators
            vcov = 0.5 * (Einv + Einv.T) / (N - G)
    # ---- table ----
    f = pt2.frame
    est = row_values(lsm, theta)
    defined = pt2.defined()
    dmask = (f["op"] == ":=").to_numpy()
    if len(defined):
        est[dmask] = defined.values(theta)
    fr = f["free"].to_numpy()
    if vcov is not None:
        dv = np.diag(vcov)
        se_free = np.where(dv < 0, np.nan, np.sqrt(np.abs(dv)))
        se_vec = np.where(fr > 0, se_free[np.maximum(fr, 1) - 1], 0.0)
        if len(defined):       # delta method, as lavaan
            Jd = defined.jacobian(theta)
            vd = np.diag(Jd @ vcov @ Jd.T)
            se_vec[dmask] = np.where(vd < 0, np.nan, np.sqrt(np.abs(vd)))
        bad = [nm for nm, b in zip(row_names(f, G > 1), (fr > 0) & np.isnan(se_vec)) if b]
        if bad:
            warnings.append(f"the estimated sampling variance of {len(bad)} parameter(s) is negative "
                            f"({', '.join(bad[:8])}); their standard errors are NaN; the model may not be identified")
    else:
        se_vec = np.full(len(f), np.nan)
    std_lv, std_all = standardized_rows(lsm, est, theta, defined if len(defined) else None)
    grouped = G > 1
    tab = estimates_table(f, est, se_vec, std_lv, std_all, ci_level, grouped)
    # ---- test statistics and fit ----
    chisq_g = np.array([cg[g] * _quad(weights[g], obs[g] - lsm.implied(theta, g)[0]) for g in range(G)])
    chisq = float(chisq_g.sum())
    res_test = None
    tr = (np.nan, np.nan)
    if test in ("scaled.shifted", "mean.var.adjusted", "satorra.bentler") and Einv is not None and dfm > 0:
        tr = ugamma_traces(Einv, J, weights, [s.nacov for s in stats], fg)
        res_test = scaled_test(chisq, dfm, test, tr[0], tr[1], fg)
    base = baseline_fit(stats, weights, obs, cg, fg, test)
    fm = ls_fit_measures(chisq=chisq, df=dfm, npar=q, N=N, G=G, test=test, scaled=res_test, tr=tr, base=base,
                       est_kind=est_kind, stats=stats, lsm=lsm, theta=theta, weights=weights)
    if test in ("scaled.shifted", "satorra.bentler") and est_kind in ("DWLS", "ULS") and dfm > 0:
        fm.update(robust_fit_measures(stats, lsm, theta, J, Einv, weights, fg, f, N - G, G))
    # ---- post checks ----
    for g in range(G):
        rows = f[(f["group"] == g + 1) & (f["op"] == "~~") & (f["lhs"] == f["rhs"])]
        bad = [r for r, e in zip(rows["lhs"], est[rows.index.to_numpy()]) if e < 0]
        if bad:
            where = f" in group {labels[g]!r}" if grouped else ""
            warnings.append(f"negative variance estimate(s){where}: {', '.join(bad)} (Heywood case); the solution is "
                            "not admissible")
    endo = set(names.ov_ind) | set(f.loc[f["op"] == "=~", "rhs"]) | set(f.loc[f["op"] == "~", "lhs"])
    partable = f.copy()
    partable["est"] = est
    partable["se"] = se_vec
    res = SEMResult(
        model=model, estimates=tab, fit_measures=fm, warnings=warnings, converged=opt.converged, nobs=int(N),
        partable=partable, se_type=se, ci_level=float(ci_level), group=group,
        group_labels=list(labels) if grouped else [], nobs_groups=[int(n) for n in Ng], n_dropped=int(n_dropped),
        iterations=opt.iterations, optimizer="gauss-newton", vcov=None,
        notes=[f"{len(ord_names)} ordered item(s): thresholds and polychoric correlations (two-step), "
               f"{est_kind} estimation, {parameterization} parameterization"],
        endogenous=endo, latent=list(names.lv), missing=missing, estimator=est_in, test=test,
        ordered=[v for v in ov if v in ord_names], parameterization=parameterization, information="expected",
    )
    if vcov is not None:
        nm = {}
        for name, frr, lab in zip(row_names(f, grouped), f["free"], f["label"]):
            if frr > 0 and frr not in nm:
                nm[frr] = lab if lab and not str(lab).startswith(".p") else name
        names_free = [nm[k] for k in sorted(nm)]
        res.vcov = pd.DataFrame(vcov, index=names_free, columns=names_free)
    res.r2 = _r2(f, est, std_all, ov, names.lv, G, grouped)
    if all(s.nacov is not None for s in stats):
        res.robust = LSRobust(J, weights, [s.nacov for s in stats], fg)
    res.ls_state = LSFitState(lsm, theta, obs, weights, fg, Ng)
    return res


# ---------------------------------------------------------------------------------------------
class _Moments:
    def __init__(self, S, mean):
        self.S, self.mean = S, mean


class _StatsView:
    def __init__(self, groups):
        self.groups = groups


def _start(pt2, ram, lsm, stats, ov, is_ord):
    """Start values: the RAM model's (loadings from the first principal component of each
    factor's correlation block), thresholds at their sample values, scale factors 1."""
    groups = []
    for st in stats:
        sd = np.array([1.0] * len(ov))
        k = 0
        for i, o in enumerate(is_ord):
            if not o:
                sd[i] = np.sqrt(st.var[k])
                k += 1
        S = st.cor * np.outer(sd, sd)
        mean = np.zeros(len(ov))
        pos = 0
        for i, (o, nth) in enumerate(zip(is_ord, st.nth)):
            if not o:
                mean[i] = st.th[pos]
            pos += nth
        groups.append(_Moments(S, mean))
    theta = start_values(ram, _StatsView(groups))
    f = pt2.frame
    for g, st in enumerate(stats):
        fg = f[f["group"] == g + 1]
        pos = {}
        p0 = 0
        for v, nth in zip(ov, st.nth):
            pos[v] = p0
            p0 += nth
        for lhs, op, rhs, fr in zip(fg["lhs"], fg["op"], fg["rhs"], fg["free"]):
            if fr <= 0:
                continue
            if op == "|" and g == 0 or (op == "|" and not np.isfinite(theta[fr - 1])):
                theta[fr - 1] = st.th[pos[lhs] + int(rhs[1:]) - 1]
            elif op == "|" and theta[fr - 1] == 0.0 and g > 0:
                theta[fr - 1] = st.th[pos[lhs] + int(rhs[1:]) - 1]
            elif op == "~*~":
                theta[fr - 1] = 1.0
            elif op == "~~" and lhs == rhs and lhs in ov and is_ord[ov.index(lhs)]:
                theta[fr - 1] = 1.0
            elif op == "~1" and lhs not in ov:
                theta[fr - 1] = 0.0
    return theta


def _quad(W, r):
    return float(r @ (W * r)) if W.ndim == 1 else float(r @ W @ r)



def _r2(f, est, std_all, ov, lv, G, grouped):
    """lavaan's ``lavInspect(fit, "r2")``: 1 - standardized residual variance of every
    endogenous variable (indicators and dependent latent variables)."""
    dep = set(f.loc[f["op"] == "=~", "rhs"]) | set(f.loc[f["op"] == "~", "lhs"])
    out = []
    for g in range(1, G + 1):
        d = {}
        sel = (f["group"] == g) & (f["op"] == "~~") & (f["lhs"] == f["rhs"])
        for lhs, sa in zip(f.loc[sel, "lhs"], std_all[sel.to_numpy()]):
            if lhs in dep:
                d[lhs] = 1.0 - sa
        out.append(d)
    if not grouped:
        return pd.Series(out[0], name="r2")
    return pd.DataFrame(out).T

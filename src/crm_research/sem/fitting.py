"""``sem.fit``: lavaan-syntax model + data -> :class:`~crm_research.sem.result.SEMResult`."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ..errors import ModelError
from .data import prepare
from .diagnostics import FitState, information_check, post_check
from .estimate import estimate, fisher_scoring, one_blas_thread, semopy_start
from .measures import compute_fit_measures
from .model import RAMModel
from .partable import build_partable, row_names, var_names
from .result import SEMResult, estimates_table
from .robust import ROBUST_TESTS, RobustML, baseline_pieces, fiml_corrected, model_pieces, scaled_fit_measures
from .standardized import standardize
from .syntax import parse_syntax

#: lavaan's ``estimator=`` values we accept (case-insensitive).
ESTIMATORS = ("ML", "MLM", "MLMV", "MLMVS", "MLR", "WLSMV", "WLSM", "DWLS", "WLS", "ULSMV", "ULSM", "ULS")
#: estimators of the least-squares family (fitted by :mod:`.categorical`).
LS_ESTIMATORS = ("WLSMV", "WLSM", "DWLS", "WLS", "ULSMV", "ULSM", "ULS")
#: lavaan's ``se=`` values.
SE_TYPES = ("standard", "robust.sem", "robust.huber.white", "robust", "bootstrap", "none")
#: lavaan's ``test=`` values.
TEST_TYPES = ("standard", "satorra.bentler", "scaled.shifted", "mean.var.adjusted", "yuan.bentler",
              "yuan.bentler.mplus", "none")
#: lavaan 0.6-14 defaults per ML-family estimator: (se, test)
ML_DEFAULTS = {"ML": ("standard", "standard"), "MLM": ("robust.sem", "satorra.bentler"),
               "MLMV": ("robust.sem", "scaled.shifted"), "MLMVS": ("robust.sem", "mean.var.adjusted"),
               "MLR": ("robust.huber.white", "yuan.bentler.mplus")}


def _choice(value, name: str, allowed) -> str:
    if not isinstance(value, str) or value.lower() not in {a.lower() for a in allowed}:
        raise ModelError(f"{name}={value!r} is not supported", hint=f"use one of {', '.join(allowed)}")
    return next(a for a in allowed if a.lower() == value.lower())


def _ordered_requested(ordered) -> bool:
    if ordered is None or ordered is False:
        return False
    if isinstance(ordered, (list, tuple)) and len(ordered) == 0:
        return False
    return True


def _est_all_rows(pt, model, theta, stats) -> np.ndarray:
    f = pt.frame
    est = np.full(len(f), np.nan)
    pos = {v: i for i, v in enumerate(model.ov)}
    for k, (lhs, op, rhs, fr, us, ex, g) in enumerate(zip(f["lhs"], f["op"], f["rhs"], f["free"], f["ustart"],
                                                          f["exo"], f["group"])):
        if op == ":=":
            continue
        if fr > 0:
            est[k] = theta[fr - 1]
        elif ex:
            st = stats.groups[g - 1]
            est[k] = st.S[pos[lhs], pos[rhs]] if op == "~~" else st.mean[pos[lhs]]
        else:
            est[k] = 0.0 if math.isnan(us) else us
    return est


def fit(model: str, data: pd.DataFrame, *, estimator: str = "ML", se: str | None = None, test: str | None = None,
        ordered=None, parameterization: str = "delta", information: str | None = None, bootstrap: int = 1000,
        seed: int | None = None, n_jobs: int | None = None, ci_level: float = 0.95, missing: str = "listwise",
        group: str | None = None, group_equal=(), group_partial=(), fixed_x: bool = True,
        meanstructure: bool | None = None, boot_ci: str = "perc", keep_nonadmissible: bool = False,
        engine: str = "native") -> SEMResult:
    """Fit a structural equation model, as lavaan's ``sem()``.

    Parameters
    ----------
    model : str
        lavaan syntax (``=~ ~ ~~ ~1 :=``, labels, fixed values, ``NA*``, ``start()``).
    data : DataFrame
        Raw data; extra columns are ignored.
    estimator : str
        lavaan's ``estimator`` (case-insensitive): "ML" (default), "MLM" (robust SEs,
        Satorra-Bentler scaled test), "MLMV" (robust SEs, scaled-shifted test), "MLMVS"
        (mean-and-variance adjusted test), "MLR" (Huber-White SEs, Yuan-Bentler scaled test,
        also with ``missing="ml"``); the least-squares family "WLSMV", "WLSM", "DWLS", "WLS",
        "ULSMV", "ULSM", "ULS" fits ordinal data (see ``ordered``).
    se : str, optional
        lavaan's ``se``: "standard", "robust.sem", "robust.huber.white", "robust",
        "bootstrap" or "none"; default: the estimator's (as lavaan 0.6-14).
    test : str, optional
        lavaan's ``test``: "standard", "satorra.bentler", "scaled.shifted",
        "mean.var.adjusted", "yuan.bentler", "yuan.bentler.mplus" or "none"; default: the
        estimator's.  A robust test adds lavaan's ``*.scaled`` and ``*.robust`` fit measures.
        It replaces the estimator's test (lavaan adds it as a second test, and its
        ``fitMeasures()`` keep reporting the estimator's own).
    ordered : True or list of str, optional
        Declare items ordinal (``True``: every observed model variable): thresholds,
        polychoric correlations and a least-squares estimator (default "WLSMV"), as lavaan.
    parameterization : {"delta", "theta"}
        Parameterization of ordinal models (lavaan's default "delta").
    information : {"expected", "observed"}, optional
        Information matrix of the standard errors and robust tests; default as lavaan 0.6-14
        (observed with ``missing="ml"`` or Huber-White SEs, expected otherwise).
    bootstrap : int
        Number of bootstrap replicates when ``se="bootstrap"``.
    seed : int, optional
        Seed of the bootstrap; the result is identical for a given seed whatever ``n_jobs``.
    n_jobs : int, optional
        Worker processes for the bootstrap.  Default: all cores when the work (timed on
        the first 125 replicates) is worth a process pool, else one.
    ci_level : float
        Level of the confidence intervals.
    missing : {"listwise", "ml"}
        "listwise" (default): rows with a missing value in a model variable (or the group
        column) are dropped.  "ml" (aliases "fiml", "direct"): full-information ML as
        lavaan's ``missing = "ml"``: every row with at least one observed model variable is
        used, a mean structure is implied, the unrestricted (h1) moments come from EM and
        standard errors from the observed information; with ``se="bootstrap"`` every
        replicate is refitted by FIML (batched BFGS from the full-sample estimate).  With
        fixed exogenous covariates (fixed_x=True) rows with a missing covariate are deleted
        (with a warning) as lavaan does; the bootstrap is then not available.
    group : str, optional
        Column defining groups for a multiple-group model.
    group_equal : sequence of str
        lavaan's ``group.equal``: ``loadings``, ``intercepts``, ``means``, ``regressions``,
        ``residuals``, ``residual.covariances``, ``lv.variances``, ``lv.covariances``.
    group_partial : sequence of str
        Exceptions to ``group_equal``, e.g. ``["visual=~x2", "x3~1"]``.
    fixed_x : bool
        Exogenous observed covariates fixed at their sample moments (lavaan default).
    meanstructure : bool, optional
        Default: only with ``~ 1`` in the syntax or with groups (lavaan's default).
    boot_ci : str
        Which bootstrap interval fills ``ci.lower``/``ci.upper``: one of
        ``bootstrap.BOOT_CI_TYPES`` ("perc", "bca.simple", "bca", "norm", "basic", as lavaan's
        ``boot.ci.type``).
    keep_nonadmissible : bool
        Keep bootstrap replicates with negative variances (lavaan keeps them; by default
        they are excluded and counted).
    engine : {"native", "semopy"}
        Optimizer for the point estimate.  "native" (default): our Fisher scoring/Newton
        on lavaan's ML objective.  "semopy": semopy's estimate (ftol 1e-12) polished by the
        same Newton steps, where semopy can express the model (single group, no mean
        structure, no fixed.x covariates); otherwise "native" with a note.

    Returns
    -------
    SEMResult

    Raises
    ------
    ModelSyntaxError
        Syntax that is invalid or not supported (names the line).
    ModelError
        Variables missing from the data or not numeric, too few observations, a model with
        negative degrees of freedom, a non-positive-definite sample covariance matrix.

    Examples
    --------
    >>> import pandas as pd
    >>> from crm_research import sem
    >>> hs = pd.read_csv("tests/reference/lavaan/HolzingerSwineford1939.csv")
    >>> res = sem.fit("visual =~ x1 + x2 + x3\\ntextual =~ x4 + x5 + x6\\nspeed =~ x7 + x8 + x9", hs)
    >>> round(float(res.fit_measures["cfi"]), 3), int(res.fit_measures["df"])
    (0.931, 24)
    >>> row = res.get("visual", "=~", "x2")
    >>> round(float(row["est"]), 3), round(float(row["se"]), 3)
    (0.554, 0.1)
    >>> mlr = sem.fit("visual =~ x1 + x2 + x3\\ntextual =~ x4 + x5 + x6\\nspeed =~ x7 + x8 + x9", hs, estimator="MLR")
    >>> round(float(mlr.fit_measures["chisq.scaled"]), 3), round(float(mlr.fit_measures["cfi.robust"]), 3)
    (87.132, 0.93)
    >>> sem.estimation_label(mlr)
    'MLR (Huber-White robust SE, Yuan-Bentler scaled test)'
    """
    est_name = _choice(estimator, "estimator", ESTIMATORS)
    if _ordered_requested(ordered) or est_name in LS_ESTIMATORS:
        from .categorical import fit_categorical

        return fit_categorical(model, data, estimator=estimator, se=se, test=test, ordered=ordered,
                               parameterization=parameterization, missing=missing, group=group,
                               group_equal=group_equal, group_partial=group_partial, ci_level=ci_level,
                               meanstructure=meanstructure)
    se_default, test_default = ML_DEFAULTS[est_name]
    se = se_default if se is None else _choice(se, "se", SE_TYPES)
    test = test_default if test is None else _choice(test, "test", TEST_TYPES)
    if se == "robust":
        se = "robust.huber.white" if str(missing).lower() in ("ml", "fiml", "direct") else "robust.sem"
    if se == "bootstrap" and est_name != "ML":
        raise ModelError(f"se='bootstrap' is not combined with estimator={estimator!r}",
                         hint="use estimator='ML' for a bootstrap (as lavaan)")
    if information is not None:
        information = _choice(information, "information", ("expected", "observed"))
    fiml_requested = str(missing).lower() in ("ml", "fiml", "direct")
    if fiml_requested and est_name in ("MLM", "MLMV", "MLMVS"):
        raise ModelError(f"missing='ml' is not allowed for estimator {est_name!r} (as lavaan)",
                         hint="use estimator='MLR' for robust ML with incomplete data, or missing='listwise'")
    if fiml_requested and (se == "robust.sem" or test in ("satorra.bentler", "mean.var.adjusted", "scaled.shifted")):
        raise ModelError(f"se={se!r}/test={test!r} need complete data (Gamma); missing='ml' cannot use them",
                         hint="use estimator='MLR' (se='robust.huber.white', test='yuan.bentler.mplus') with "
                              "missing='ml', or missing='listwise'")
    with one_blas_thread():
        return _fit(model, data, estimator=est_name, test=test, information=information, se=se, bootstrap=bootstrap,
                    seed=seed, n_jobs=n_jobs, ci_level=ci_level, missing=missing, group=group, group_equal=group_equal, group_partial=group_partial,
                    fixed_x=fixed_x, meanstructure=meanstructure, boot_ci=boot_ci,
                    keep_nonadmissible=keep_nonadmissible, engine=engine)


def _fit(model, data, *, estimator, test, information, se, bootstrap, seed, n_jobs, ci_level, missing, group,
         group_equal, group_partial, fixed_x, meanstructure, boot_ci, keep_nonadmissible, engine) -> SEMResult:
    from .bootstrap import BOOT_CI_TYPES

    if not (0 < float(ci_level) < 1):
        raise ModelError(f"ci_level={ci_level!r} must be between 0 and 1", hint="e.g. ci_level=0.95")
    if boot_ci not in BOOT_CI_TYPES:
        raise ModelError(f"boot_ci={boot_ci!r} is not supported", hint=f"use one of {', '.join(BOOT_CI_TYPES)}")
    if engine not in ("native", "semopy"):
        raise ModelError(f"engine={engine!r} is not supported", hint="use 'native' or 'semopy'")
    if se == "bootstrap" and (not isinstance(bootstrap, (int, np.integer)) or bootstrap < 2):
        raise ModelError(f"bootstrap={bootstrap!r}: need an integer number of replicates >= 2",
                         hint="e.g. bootstrap=1000")
    parsed = parse_syntax(model)
    stats = prepare(data, var_names(parsed.rows).ov, group=group, missing=missing)
    fiml = stats.missing == "ml"
    if fiml:
        if meanstructure is False:
            raise ModelError("missing='ml' needs a mean structure; meanstructure=False is not possible",
                             hint="leave meanstructure unset (FIML always estimates means, as lavaan)")
        meanstructure = True
    G = stats.ngroups
    if G == 1 and (group_equal or group_partial):
        raise ModelError("group_equal/group_partial need a multiple-group model", hint="pass group='column'")
    pt = build_partable(parsed, ngroups=G, group_equal=group_equal, group_partial=group_partial,
                        meanstructure=meanstructure, fixed_x=fixed_x)
    if list(pt.names.ov) != list(stats.ov):   # variable order after lavaan's covariance reordering
        stats = prepare(data, pt.names.ov, group=group, missing=missing)
    rm = RAMModel(pt)
    rm.use_sample(stats)
    x_idx = [pt.names.ov.index(v) for v in pt.names.ov_x] if fixed_x else []
    x_dropped = 0
    if fiml and x_idx and se == "bootstrap":
        raise ModelError("se='bootstrap' with missing='ml' and fixed exogenous covariates "
                         f"({', '.join(pt.names.ov_x)}) is not supported",
                         hint="pass fixed_x=False, or use standard/robust (estimator='MLR') standard errors")
    if fiml and x_idx:
        # lavaan (fixed.x = TRUE): rows with a missing exogenous covariate are deleted, the
        # covariates' moments are fixed at their sample values
        xcols = [str(v) for v in pt.names.ov_x]
        dd = data.copy()
        dd.columns = [str(c) for c in dd.columns]
        keep = dd[xcols].notna().all(axis=1)
        x_dropped = int((~keep).sum())
        if x_dropped:
            stats = prepare(dd.loc[keep], pt.names.ov, group=group, missing=missing)
            stats.n_dropped += x_dropped
            stats.notes.append(f"{x_dropped} case(s) with a missing exogenous covariate ({', '.join(xcols)}) were "
                               "deleted (fixed_x=True, as lavaan); pass fixed_x=False to keep them")
            rm.use_sample(stats)
    p = len(pt.names.ov)
    px = len(x_idx)
    ms = pt.meanstructure
    ndat = G * (p * (p + 1) // 2 + (p if ms else 0) - (px * (px + 1) // 2 + (px if ms else 0)))
    df = ndat - pt.npar
    if df < 0:
        raise ModelError(f"the model is not identified: {pt.npar} free parameters but only {ndat} sample moments "
                         f"(df = {df})",
                         hint="fix more parameters (e.g. a marker loading or a latent variance), add indicators, "
                              "or drop paths/covariances")
    warnings: list[str] = []
    warnings.extend(list(pt.notes) + list(stats.notes))
    notes: list[str] = []
    # ---- estimation ----
    theta0 = None
    optimizer_note = ""
    info_fiml = None
    if fiml:
        from .estimate import start_values
        from .fiml import estimate_fiml

        if engine == "semopy":
            optimizer_note = "engine='semopy' cannot fit missing='ml'; native FIML optimizer used"
        # start from the ML fit to the EM (h1) moments (two-stage ML): with complete data it
        # is the FIML estimate itself, with incomplete data a close start for the FIML optimizer
        start = start_values(rm, stats)
        two_stage = estimate(rm, stats, start)
        if two_stage.converged and np.all(np.isfinite(two_stage.theta)):
            start = two_stage.theta
        opt, info_fiml = estimate_fiml(rm, stats, start)
    elif engine == "semopy":
        theta0 = semopy_start(rm, stats, data)
        if theta0 is None:
            optimizer_note = ("engine='semopy': semopy cannot express this model (groups, mean structure, "
                              "fixed.x covariates, start values or a latent without a fixed loading) "
                              "or failed; native optimizer used")
    if fiml:
        pass
    elif theta0 is not None:
        opt = fisher_scoring(rm, stats, theta0)
        opt.method = "semopy+" + opt.method
        if not opt.converged:
            opt = estimate(rm, stats)
    else:
        opt = estimate(rm, stats)
    if optimizer_note:
        notes.append(optimizer_note)
    theta = opt.theta
    if not opt.converged:
        warnings.append(f"the optimizer did not converge ({'; '.join(opt.messages) or 'unknown reason'}; largest "
                        f"gradient {opt.grad_max:.2g}); estimates, standard errors and fit are NOT reliable")
    f = pt.frame
    grouped = G > 1
    est = _est_all_rows(pt, rm, theta, stats)
    defined = pt.defined()
    dmask = (f["op"] == ":=").to_numpy()
    if len(defined):
        est[dmask] = defined.values(theta)
    # ---- standard errors ----
    N = stats.ntotal
    q = pt.npar
    se_vec = np.full(len(f), np.nan)
    vcov = None
    info1 = information or ("observed" if fiml or se == "robust.huber.white" else "expected")
    rob = None
    hess = None
    if q > 0 and (se in ("robust.sem", "robust.huber.white") or test in ROBUST_TESTS or fiml
                  or info1 == "observed"):
        if fiml:
            hess = info_fiml
        else:
            dv = rm.derivatives(theta, stats)
            hess = None if dv[3] is None else 0.5 * dv[3]
        rob = RobustML(model_pieces(rm, stats, theta, fixed_x=fixed_x, x_idx=x_idx), meanstructure=ms,
                       x_idx=x_idx, fixed_x=fixed_x, fiml=fiml, hessian=hess,
                       npar_raw=int(((f["free"] > 0) & (f["op"] != ":=")).sum()))
    if se in ("standard", "robust.sem", "robust.huber.white") and q > 0:
        if info1 == "observed":   # Hessian (observed information), as lavaan for FIML / MLR
            info = hess
        elif fiml:
            info = rob.information("expected")
        else:
            _, info, _ = rm.score_information(theta, stats, need_grad=False)
        ok, mineig = (False, 0.0) if info is None else information_check(info)
        if ok and se != "standard":
            try:
                vcov = rob.vcov(se, info1)
            except np.linalg.LinAlgError:
                ok, mineig = False, 0.0
        elif ok:
            V = np.linalg.inv(info) / N
            V = 0.5 * (V + V.T)
            vcov = V
        if vcov is not None:
            V = vcov
            ev = np.linalg.eigvalsh(V)
            if ev.min() < np.finfo(float).eps ** 0.75:
                warnings.append("the variance-covariance matrix of the estimates is not positive definite "
                                f"(smallest eigenvalue {ev.min():.3g}); the model may not be identified")
        else:
            warnings.append("could not compute standard errors: the information matrix is singular "
                            f"(smallest scaled eigenvalue {mineig:.2g}); the model is probably not identified "
                            "(e.g. a latent variable without a fixed loading or variance)")
    if vcov is not None:
        fr = f["free"].to_numpy()
        se_vec = np.where(fr > 0, _sqrt_variances(np.diag(vcov))[np.maximum(fr, 1) - 1], 0.0)
        if len(defined):
            J = defined.jacobian(theta)
            Vd = J @ vcov @ J.T
            se_vec[dmask] = _sqrt_variances(np.diag(Vd))
        bad = [nm for nm, neg in zip(row_names(f, grouped), np.isnan(se_vec) & ((fr > 0) | dmask)) if neg]
        if bad:
            shown = ", ".join(bad[:8]) + (f" and {len(bad) - 8} more" if len(bad) > 8 else "")
            warnings.append(f"the estimated sampling variance of {len(bad)} parameter(s) is negative ({shown}); "
                            "their standard errors, z, p values and confidence intervals are NaN; the model may "
                            "be empirically under-identified or the estimates may be at a boundary")
    elif se == "none":
        se_vec = np.full(len(f), np.nan)
    # ---- standardized ----
    std_lv, std_all = standardize(f, est, rm, theta, defined)
    # ---- table ----
    tab = estimates_table(f, est, se_vec, std_lv, std_all, ci_level, grouped)
    # ---- fit ----
    implied = [(rm.implied(theta, g)["Sigma"], rm.implied(theta, g)["mu"]) for g in range(G)]
    try:
        fm = compute_fit_measures(stats=stats, implied=implied, npar=q, meanstructure=ms, x_idx=x_idx,
                                  fixed_x=fixed_x)
    except np.linalg.LinAlgError:
        fm = {}
        warnings.append("fit measures unavailable: the implied covariance matrix is singular")
    if fm and test == "none":
        fm = {}
    test_details = {}
    if fm and rob is not None and (test in ROBUST_TESTS or fiml):
        try:
            fm, T = _robust_measures(fm, rob, stats, test=test, information=info1, ms=ms, x_idx=x_idx,
                                     fixed_x=fixed_x, fiml=fiml)
            if T is not None:
                test_details = T.as_dict()
        except np.linalg.LinAlgError:
            warnings.append(f"the robust test statistic ({test}) could not be computed: a singular information "
                            "matrix; only the standard (not robust) fit measures are reported")
    warnings.extend(post_check(tab, rm, theta, group_labels=[g.label for g in stats.groups] if grouped else None))
    endo = set(pt.names.ov_ind) | {r for r in f.loc[f["op"] == "=~", "rhs"]} | set(f.loc[f["op"] == "~", "lhs"])
    res = SEMResult(
        model=model, estimates=tab, fit_measures=fm, warnings=warnings, converged=opt.converged,
        nobs=N, partable=_public_partable(f, est, se_vec), se_type=se, ci_level=float(ci_level),
        group=group, group_labels=[g.label for g in stats.groups] if grouped else [],
        nobs_groups=[g.N for g in stats.groups], n_dropped=stats.n_dropped, iterations=opt.iterations,
        optimizer=opt.method, vcov=None, notes=notes, endogenous=endo, latent=list(pt.names.lv),
        missing=stats.missing, estimator=estimator, test=test,
        information=info1, test_details=test_details, robust=rob if test_details else None,
    )
    res.state = FitState(rm, pt, stats, theta)   # for modindices/score_test/standardized_solution
    if vcov is not None:
        names = _free_names(f, grouped)
        res.vcov = pd.DataFrame(vcov, index=names, columns=names)
    if se == "bootstrap":
        from .bootstrap import run_bootstrap

        if not opt.converged:
            raise ModelError("cannot bootstrap a model that did not converge on the full sample",
                             hint="fix the model first (see the warnings of a fit with se='standard')")
        run_bootstrap(res, rm, pt, stats, theta, R=int(bootstrap), seed=seed, n_jobs=n_jobs, ci_level=ci_level,
                      boot_ci=boot_ci, keep_nonadmissible=keep_nonadmissible, info=info_fiml)
    return res


def _robust_measures(fm, rob, stats, *, test, information, ms, x_idx, fixed_x, fiml) -> dict:
    """The standard fit measures plus lavaan's scaled/robust ones for a robust ``test``
    (and, with missing="ml", the FIML-corrected robust CFI/TLI/RMSEA)."""
    base = RobustML(baseline_pieces(stats, meanstructure=ms, x_idx=x_idx, fixed_x=fixed_x), meanstructure=ms,
                    x_idx=x_idx, fixed_x=fixed_x, fiml=fiml)
    T = Tb = None
    if test in ROBUST_TESTS:
        T = rob.test(test, fm["chisq"], fm["df"], information)
        Tb = base.test(test, fm["baseline.chisq"], fm["baseline.df"], information)
    corr = None
    if fiml:
        corr = fiml_corrected(rob, base, fm["df"], fm["baseline.df"], "V3" if T is not None else "V6",
                              information)
    return scaled_fit_measures(fm, T, Tb, N=stats.ntotal, G=stats.ngroups, fiml_corr=corr), T


def _sqrt_variances(v: np.ndarray) -> np.ndarray:
    """Standard errors from sampling variances: NaN (never 0, the SE of a fixed parameter)
    where a variance is negative, as lavaan does."""
    v = np.asarray(v, dtype=float)
    with np.errstate(invalid="ignore"):
        return np.where(v < 0, np.nan, np.sqrt(np.abs(v)))


def _free_names(f: pd.DataFrame, grouped: bool) -> list[str]:
    names = {}
    for nm, fr, lab in zip(row_names(f, grouped), f["free"], f["label"]):
        if fr > 0 and fr not in names:
            names[fr] = lab if lab and not lab.startswith(".p") else nm
    return [names[k] for k in sorted(names)]


def _public_partable(f, est, se_vec):
    out = f.copy()
    out["est"] = est
    out["se"] = se_vec
    return out


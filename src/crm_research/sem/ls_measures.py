"""Fit measures of least-squares fits to thresholds and polychoric correlations, with
lavaan 0.6-14's names and rules (``lav_fit_measures``, ``lav_fit_cfi_lavobject``,
``lav_fit_rmsea_lavobject``, ``lav_fit_srmr_lavobject``, ``lav_fit_gfi_lavobject``): the baseline
(independence) model, chi-square and its scaled versions, CFI/TLI/NFI/RFI/IFI/RNI, RMSEA with
its interval and close-fit tests, the robust (catML) CFI/TLI/RMSEA, SRMR/CRMR/RMR, GFI/AGFI/PGFI,
MFI, WRMR, CN.
"""
from __future__ import annotations

import math

import numpy as np
from scipy.optimize import brentq
from scipy.stats import chi2, ncx2

from .catml import catml_statistics
from .nacov import lower_pairs
from .wls import LSModel, scaled_test, ugamma_traces


def _quad(W, r):
    return float(r @ (W * r)) if W.ndim == 1 else float(r @ W @ r)


def baseline_fit(stats, weights, obs, cg, fg, test):
    """The independence (baseline) model of categorical data: thresholds, means and variances
    free per group, correlations zero, fitted with the same weights; its chi-square, df and,
    for a robust test, scaled statistics.

    Parameters
    ----------
    stats : list of CategoricalStats
    weights : list of weight vectors (DWLS/ULS) or matrices (WLS)
    obs : list of the groups' statistics vectors
    cg : group factors N_g - 1 of the statistic
    fg : group fractions N_g / N
    test : str
        The model's test ("scaled.shifted", ... or "standard").

    Returns
    -------
    dict
        ``chisq``, ``df``, ``scaled`` (dict of :func:`~crm_research.sem.wls.scaled_test` or None).

    Examples
    --------
    >>> import numpy as np
    >>> from crm_research.sem.nacov import categorical_stats
    >>> from crm_research.sem.thresholds import ordered_item
    >>> rng = np.random.default_rng(5)
    >>> z = rng.multivariate_normal([0, 0, 0], 0.5 + 0.5 * np.eye(3), size=300)
    >>> st = categorical_stats([ordered_item(f"q{i}", np.digitize(z[:, i], [0])) for i in range(3)])
    >>> w = [1 / np.diag(st.nacov)]
    >>> b = baseline_fit([st], w, [st.obs], [299.0], [1.0], "standard")
    >>> b["df"], round(b["chisq"], 6) == round(299 * float(np.sum(w[0][3:] * st.obs[3:] ** 2)), 6)
    (3, True)
    """
    G = len(stats)
    sizes = [len(s.th) + len(s.var) for s in stats]
    qb = sum(sizes)
    J, chis = [], 0.0
    off = 0
    for g, s in enumerate(stats):
        n = len(s.obs)
        Jg = np.zeros((n, qb))
        Jg[np.arange(sizes[g]), off + np.arange(sizes[g])] = 1.0
        off += sizes[g]
        J.append(Jg)
        W = weights[g]
        Js = Jg[:, Jg.any(axis=0)]
        WJ = W[:, None] * Js if W.ndim == 1 else W @ Js
        th = np.linalg.solve(Js.T @ WJ, WJ.T @ obs[g])
        r = obs[g] - Js @ th
        chis += cg[g] * _quad(W, r)
    dfb = int(sum(len(s.obs) for s in stats) - qb)
    out = {"chisq": float(chis), "df": dfb, "scaled": None}
    if test in ("scaled.shifted", "mean.var.adjusted", "satorra.bentler") and all(s.nacov is not None for s in stats):
        E = sum(fg[g] * J[g].T @ (weights[g][:, None] * J[g] if weights[g].ndim == 1 else weights[g] @ J[g])
                for g in range(G))
        Einv = np.linalg.inv(E)
        tr = ugamma_traces(Einv, J, weights, [s.nacov for s in stats], fg)
        out["scaled"] = scaled_test(chis, dfb, test, tr[0], tr[1], fg)
        out["tr"] = tr
    return out


def _rmsea(X2, df, N, G):
    if not (df > 0) or not np.isfinite(X2):
        return 0.0 if df == 0 else np.nan
    return math.sqrt(max(X2 / N / df - 1.0 / N, 0.0)) * math.sqrt(G)


def _rmsea_ci(X2, df, N, G, level=0.90):
    if not np.isfinite(X2) or not np.isfinite(df) or df < 1:
        return 0.0, 0.0
    up, lo = 1 - (1 - level) / 2, (1 - level) / 2

    def cdf(lam):
        return chi2.cdf(X2, df) if lam <= 0 else ncx2.cdf(X2, df, lam)

    if cdf(0) - up < 0:
        lower = 0.0
    else:
        try:
            lower = math.sqrt(brentq(lambda l: cdf(l) - up, 0, X2) / (N * df)) * (math.sqrt(G) if G > 1 else 1)
        except ValueError:
            lower = np.nan
    NR = max(N, 4 * X2)
    if cdf(NR) - lo > 0 or cdf(0) - lo < 0:
        upper = 0.0
    else:
        try:
            upper = math.sqrt(brentq(lambda l: cdf(l) - lo, 0, NR) / (N * df)) * (math.sqrt(G) if G > 1 else 1)
        except ValueError:
            upper = np.nan
    return lower, upper


def _rmsea_p(X2, df, N, G, h0, close=True):
    if not (df > 0) or not np.isfinite(X2):
        return np.nan
    ncp = N * df * h0 ** 2 / G
    c = ncx2.cdf(X2, df, ncp)
    return float(1 - c) if close else float(c)


def _incremental(prefix, X2, df, B2, Bdf, out):
    t1 = max(X2 - df, 0.0)
    t2 = max(X2 - df, B2 - Bdf, 0.0)
    out["cfi" + prefix] = 1.0 if (abs(t1) < 1e-12 and abs(t2) < 1e-12) else 1 - t1 / t2
    tt1, tt2 = (X2 - df) * Bdf, (B2 - Bdf) * df
    out["tli" + prefix] = 1 - tt1 / tt2 if df > 0 and abs(tt2) > 0 else 1.0
    return out


def _other_incremental(prefix, X2, df, B2, Bdf, out):
    """lavaan's nnfi, rfi, nfi, pnfi, ifi, rni (lav_fit_nnfi ... lav_fit_rni)."""
    out["nnfi" + prefix] = out["tli" + prefix]
    if df > Bdf:
        rfi = np.nan
    elif df > 0 and Bdf > 0:
        t1, t2 = B2 / Bdf - X2 / df, B2 / Bdf
        rfi = 1.0 if (t1 < 0 or t2 < 0) else t1 / t2
    else:
        rfi = 1.0
    out["rfi" + prefix] = rfi
    if df > Bdf or B2 == 0:
        nfi = np.nan
    else:
        nfi = (B2 - X2) / B2 if df > 0 else 1.0
    out["nfi" + prefix] = nfi
    out["pnfi" + prefix] = (df / Bdf) * (B2 - X2) / B2 if (Bdf > 0 and B2 > 0) else np.nan
    t1, t2 = B2 - X2, B2 - df
    out["ifi" + prefix] = 1.0 if t2 < 0 else (np.nan if t2 == 0 else t1 / t2)
    t2 = B2 - Bdf
    out["rni" + prefix] = np.nan if t2 == 0 else 1 - (X2 - df) / t2
    return out


def ls_fit_measures(*, chisq, df, npar, N, G, test, scaled, tr, base, est_kind, stats, lsm, theta, weights):
    """lavaan's ``fitMeasures()`` of a least-squares fit to categorical statistics.

    ``chisq`` (``(N_g - 1)`` times the weighted discrepancy, summed), the scaled statistics of
    ``scaled`` (:func:`~crm_research.sem.wls.scaled_test`), the baseline's (:func:`baseline_fit`),
    CFI/TLI and relatives (``lav_fit_cfi`` ...), RMSEA with N = ntotal - ngroups (lavaan for
    least squares; ``.scaled`` from the scaled-shifted statistic, or from the unscaled one with
    df = tr(U Gamma) for mean-scaled tests), SRMR on the correlation residuals, GFI/AGFI on the
    weighted statistics, MFI, WRMR, CN.  Returns a dict with lavaan's names.
    """
    out = {"npar": float(npar), "fmin": chisq / (2 * N), "chisq": chisq, "df": float(df)}
    out["pvalue"] = float(chi2.sf(chisq, df)) if df > 0 and est_kind != "ULS" else np.nan
    sc = scaled is not None
    if sc:
        out["chisq.scaled"] = scaled["stat"]
        out["df.scaled"] = float(scaled["df"])
        out["pvalue.scaled"] = scaled["pvalue"]
        out["chisq.scaling.factor"] = scaled["scaling.factor"]
        if "shift.parameter" in scaled:
            out["shift.parameter"] = scaled["shift.parameter"]
    B2, Bdf = base["chisq"], float(base["df"])
    out["baseline.chisq"] = B2
    out["baseline.df"] = Bdf
    out["baseline.pvalue"] = float(chi2.sf(B2, Bdf)) if Bdf > 0 else np.nan
    bs = base.get("scaled")
    if sc and bs is not None:
        out["baseline.chisq.scaled"] = bs["stat"]
        out["baseline.df.scaled"] = float(bs["df"])
        out["baseline.pvalue.scaled"] = bs["pvalue"]
        out["baseline.chisq.scaling.factor"] = bs["scaling.factor"]
    _incremental("", chisq, df, B2, Bdf, out)
    if sc and bs is not None:
        _incremental(".scaled", scaled["stat"], scaled["df"], bs["stat"], bs["df"], out)
    _other_incremental("", chisq, df, B2, Bdf, out)
    if sc and bs is not None:
        _other_incremental(".scaled", scaled["stat"], scaled["df"], bs["stat"], bs["df"], out)
    Nr = N - G          # lavaan: ntotal - ngroups for least-squares estimators
    out["rmsea"] = _rmsea(chisq, df, Nr, G)
    lo, hi = _rmsea_ci(chisq, df, Nr, G)
    out["rmsea.ci.lower"], out["rmsea.ci.upper"], out["rmsea.ci.level"] = lo, hi, 0.90
    out["rmsea.pvalue"] = _rmsea_p(chisq, df, Nr, G, 0.05)
    out["rmsea.close.h0"] = 0.05
    out["rmsea.notclose.pvalue"] = _rmsea_p(chisq, df, Nr, G, 0.08, close=False)
    out["rmsea.notclose.h0"] = 0.08
    if sc:
        if test == "scaled.shifted":
            XX2, df2 = scaled["stat"], float(df)
        else:
            XX2, df2 = chisq, tr[0]
        out["rmsea.scaled"] = _rmsea(XX2, df2, Nr, G)
        lo, hi = _rmsea_ci(XX2, df2, Nr, G)
        out["rmsea.ci.lower.scaled"], out["rmsea.ci.upper.scaled"] = lo, hi
        out["rmsea.pvalue.scaled"] = _rmsea_p(XX2, df2, Nr, G, 0.05)
        out["rmsea.notclose.pvalue.scaled"] = _rmsea_p(XX2, df2, Nr, G, 0.08, close=False)
    out.update(_srmr(stats, lsm, theta, N))
    # lavaan's "other" measures (lav_fit_measures, lav_fit_gfi_lavobject)
    if df > 0 and chisq > 0:
        out["cn_05"] = float(chi2.ppf(0.95, df) / (chisq / Nr) + 1)
        out["cn_01"] = float(chi2.ppf(0.99, df) / (chisq / Nr) + 1)
    gfi_g = []
    for g, s in enumerate(stats):
        r = s.obs - lsm.implied(theta, g)[0]
        W = weights[g]
        gfi_g.append(1 - _quad(W, r) / _quad(W, s.obs))
    gfi = float(np.dot([s.N for s in stats], gfi_g) / N)
    nel = sum(len(s.obs) for s in stats)
    out["gfi"] = gfi
    out["agfi"] = 1 - (nel / df) * (1 - gfi) if df > 0 else 1.0
    out["pgfi"] = df / nel * gfi if nel else np.nan
    with np.errstate(over="ignore"):
        out["mfi"] = float(np.exp(-0.5 * (chisq - df) / Nr))
    out["wrmr"] = math.sqrt(chisq / len(stats[0].obs))
    # no likelihood behind least-squares estimates: lavaan prints no AIC/BIC/logl; kept as NaN
    # so that code reading them (result.summary) sees "not available"
    out.update({"logl": np.nan, "aic": np.nan, "bic": np.nan})
    return out


def robust_fit_measures(stats, lsm, theta, J, Einv, weights, fg, f, Nr, G):
    """cfi/tli/rmsea ``.robust`` for ordered data (lavaan's catML approach, :mod:`.catml`);
    ``f`` is the parameter table frame, ``Nr`` = ntotal - ngroups.  NaN where lavaan 0.6-14
    gives NA."""
    imp = []
    for g, s in enumerate(stats):
        p = len(s.names)
        pairs = lower_pairs(p)
        R = np.eye(p)
        v = lsm.implied(theta, g)[0][len(s.th) + len(s.var):]
        R[pairs[:, 0], pairs[:, 1]] = v
        R[pairs[:, 1], pairs[:, 0]] = v
        imp.append(R)
    keep = ~f["op"].isin(["|", "~1", ":="])
    npar = len({int(x) for x in f.loc[keep, "free"] if x > 0})
    dropped = f.loc[f["op"].isin(["|", "~1"]), "free"]
    shared = dropped[dropped > 0].duplicated().any() or bool(set(dropped[dropped > 0]) & set(f.loc[keep, "free"]))
    if shared:
        # lavaan 0.6-14 refits the model without thresholds and intercepts ("catML"); equality
        # constraints on those rows make that refit fail and the robust measures NA
        c = {k: np.nan for k in ("XX3", "df3", "c.hat3", "XX3.scaled", "XX3.null", "df3.null", "c.hat3.null")}
    else:
        c = catml_statistics(stats, imp, J, Einv, weights, fg, npar)
    out = {}
    X2, df, ch, X2n, dfn, chn = c["XX3"], c["df3"], c["c.hat3"], c["XX3.null"], c["df3.null"], c["c.hat3.null"]
    if not np.isfinite(X2):
        for k in ("cfi", "tli", "nnfi", "rni", "rmsea", "rmsea.ci.lower", "rmsea.ci.upper", "rmsea.pvalue",
                  "rmsea.notclose.pvalue"):
            out[k + ".robust"] = np.nan
        return out
    t1 = max(X2 - ch * df, 0.0)
    t2 = max(X2 - ch * df, X2n - chn * dfn, 0.0)
    out["cfi.robust"] = 1.0 if (t1 == 0 and t2 == 0) else 1 - t1 / t2
    tt1, tt2 = (X2 - ch * df) * dfn, (X2n - chn * dfn) * df
    out["tli.robust"] = 1 - tt1 / tt2 if df > 0 and tt2 != 0 else 1.0
    out["nnfi.robust"] = out["tli.robust"]
    out["rni.robust"] = 1 - (X2 - ch * df) / (X2n - chn * dfn) if (X2n - chn * dfn) != 0 else np.nan
    out["rmsea.robust"] = math.sqrt(max(X2 / Nr / df - ch / Nr, 0.0)) * math.sqrt(G) if df > 0 else 0.0
    XS = c["XX3.scaled"]
    lo, hi = _rmsea_ci(XS, df, Nr / ch, G)
    out["rmsea.ci.lower.robust"], out["rmsea.ci.upper.robust"] = lo, hi
    out["rmsea.pvalue.robust"] = _rmsea_p(XS, df, Nr / ch, G, 0.05)
    out["rmsea.notclose.pvalue.robust"] = _rmsea_p(XS, df, Nr / ch, G, 0.08, close=False)
    return out


def _srmr(stats, lsm: LSModel, theta, N):
    """lavaan's srmr for categorical data (``srmr_bentler_nomean``: root mean square of the
    correlation residuals over the p(p+1)/2 elements, the zero diagonal included) and
    ``srmr_bentler``/``rmr`` with the threshold residuals too; groups weighted by N_g."""
    nom, wm, cr, crn, rmr, rmrn = 0.0, 0.0, 0.0, 0.0, 0.0, 0.0
    for g, s in enumerate(stats):
        p = len(s.names)
        imp = lsm.implied(theta, g)[0]
        T = len(s.th) + len(s.var)
        rc = (s.obs - imp)[T:]
        # continuous variables: residual correlations
        sd_obs = np.ones(p)
        k = 0
        for i, o in enumerate(s.ordered):
            if not o:
                sd_obs[i] = np.sqrt(s.var[k])
                k += 1
        pairs = lower_pairs(p)
        Sigma, mu, D, C = lsm.parts(theta, g)
        sd_imp = np.sqrt(np.where(s.ordered, 1.0, np.diag(Sigma[0])))
        obs_c = s.obs[T:] / (sd_obs[pairs[:, 0]] * sd_obs[pairs[:, 1]])
        imp_c = imp[T:] / (sd_imp[pairs[:, 0]] * sd_imp[pairs[:, 1]])
        rc = obs_c - imp_c
        nomean = math.sqrt(float(np.sum(rc ** 2)) / (p * (p + 1) / 2))
        th_r = (s.obs - imp)[:len(s.th)][np.repeat(np.asarray(s.ordered, bool), s.nth)]
        wmean = math.sqrt((float(np.sum(rc ** 2)) + float(np.sum(th_r ** 2))) / (p * (p + 1) / 2 + len(th_r)))
        nom += s.N / N * nomean
        wm += s.N / N * wmean
        raw = s.obs - imp          # unstandardized: covariances, variances, thresholds
        ss_raw = float(np.sum(raw[T:] ** 2) + np.sum(raw[len(s.th):T] ** 2))
        rmrn += s.N / N * math.sqrt(ss_raw / (p * (p + 1) / 2))
        rmr += s.N / N * math.sqrt((ss_raw + float(np.sum(th_r ** 2))) / (p * (p + 1) / 2 + len(th_r)))
        npair = p * (p - 1) / 2
        crn += s.N / N * (math.sqrt(float(np.sum(rc ** 2)) / npair) if npair else 0.0)
        cr += s.N / N * math.sqrt((float(np.sum(rc ** 2)) + float(np.sum(th_r ** 2))) / (npair + len(th_r)))
    return {"srmr": nom, "srmr_bentler": wm, "srmr_bentler_nomean": nom, "crmr": cr, "crmr_nomean": crn,
            "rmr": rmr, "rmr_nomean": rmrn}

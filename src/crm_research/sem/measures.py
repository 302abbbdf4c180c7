"""Fit measures exactly as lavaan 0.6-14 ``fitMeasures()`` computes them for ML.

Formulas follow lavaan's ``lav_fit_*.R`` sources (normal likelihood: N, not N - 1):
chi-square = 2 (logl_H1 - logl_H0) = sum_g N_g F_g; the baseline is the independence
model (free variances, and free means with a mean structure; exogenous covariates keep
their sample covariances under fixed.x); RMSEA uses N and sqrt(G); its CI inverts the
noncentral chi-square; SRMR is Bentler's (residuals scaled by sample standard deviations,
lower triangle including the diagonal, plus means when there is a mean structure); GFI
weights residuals by the normal-theory weight matrix at the implied covariance (the
exogenous block excluded).
"""
from __future__ import annotations

import math

import numpy as np

FIT_MEASURE_NAMES = [
    "npar", "fmin", "chisq", "df", "pvalue", "baseline.chisq", "baseline.df", "baseline.pvalue", "cfi", "tli",
    "nnfi", "rfi", "nfi", "pnfi", "ifi", "rni", "logl", "unrestricted.logl", "aic", "bic", "ntotal", "bic2",
    "rmsea", "rmsea.ci.lower", "rmsea.ci.upper", "rmsea.ci.level", "rmsea.pvalue", "rmsea.close.h0",
    "rmsea.notclose.pvalue", "rmsea.notclose.h0", "rmr", "rmr_nomean", "srmr", "srmr_bentler",
    "srmr_bentler_nomean", "crmr", "crmr_nomean", "srmr_mplus", "srmr_mplus_nomean", "cn_05", "cn_01", "gfi",
    "agfi", "pgfi", "mfi", "ecvi",
]
NAN = float("nan")


def _all_equal0(x):
    return abs(x) < 1.5e-8   # R's isTRUE(all.equal(x, 0)) (absolute tolerance when the target is 0)


def cfi(X2, df, X2n, dfn):
    if any(map(math.isnan, (X2, df, X2n, dfn))):
        return NAN
    t1 = max(X2 - df, 0.0)
    t2 = max(X2 - df, X2n - dfn, 0.0)
    if _all_equal0(t1) and _all_equal0(t2):
        return 1.0
    return 1.0 - t1 / t2


def tli(X2, df, X2n, dfn):
    t1 = (X2 - df) * dfn
    t2 = (X2n - dfn) * df
    if df > 0 and abs(t2) > 0:
        return 1.0 - t1 / t2
    if not (math.isfinite(t1) and math.isfinite(t2)):
        return NAN
    return 1.0


def rfi(X2, df, X2n, dfn):
    if df > dfn:
        return NAN
    if df > 0 and dfn > 0:
        t1 = X2n / dfn - X2 / df
        t2 = X2n / dfn
        if not (math.isfinite(t1) and math.isfinite(t2)):
            return NAN
        if t1 < 0 or t2 < 0:
            return 1.0
        return t1 / t2
    return 1.0


def nfi(X2, df, X2n, dfn):
    if df > dfn or _all_equal0(X2n):
        return NAN
    if df > 0:
        return (X2n - X2) / X2n
    return 1.0


def pnfi(X2, df, X2n, dfn):
    if dfn > 0 and X2n > 0:
        return (df / dfn) * ((X2n - X2) / X2n)
    return NAN


def ifi(X2, df, X2n, dfn):
    t1 = X2n - X2
    t2 = X2n - df
    if not (math.isfinite(t1) and math.isfinite(t2)):
        return NAN
    if t2 < 0:
        return 1.0
    if _all_equal0(t2):
        return NAN
    return t1 / t2


def rni(X2, df, X2n, dfn):
    t1 = X2 - df
    t2 = X2n - dfn
    if _all_equal0(t2) or not (math.isfinite(t1) and math.isfinite(t2)):
        return NAN
    return 1.0 - t1 / t2


def rmsea(X2, df, N, G=1):
    if df > 0:
        return math.sqrt(max(X2 / N / df - 1.0 / N, 0.0)) * math.sqrt(G)
    return 0.0


def rmsea_ci(X2, df, N, G=1, level=0.90):
    from scipy.optimize import brentq
    from scipy.stats import ncx2, chi2

    if not (math.isfinite(X2) and math.isfinite(df) and math.isfinite(N)):
        return NAN, NAN

    def pch(lam):
        return chi2.cdf(X2, df) if lam <= 0 else ncx2.cdf(X2, df, lam)

    upper_perc = 1 - (1 - level) / 2
    lower_perc = (1 - level) / 2
    if df < 1 or pch(0) - upper_perc < 0:
        lo = 0.0
    else:
        try:
            lam = brentq(lambda l: pch(l) - upper_perc, 0.0, X2, xtol=1e-12)
            lo = math.sqrt(lam / (N * df)) * (math.sqrt(G) if G > 1 else 1.0)
        except ValueError:
            lo = NAN
    n_rmsea = max(N, X2 * 4)
    if df < 1 or pch(n_rmsea) - lower_perc > 0 or pch(0) - lower_perc < 0:
        hi = 0.0
    else:
        try:
            lam = brentq(lambda l: pch(l) - lower_perc, 0.0, n_rmsea, xtol=1e-12)
            hi = math.sqrt(lam / (N * df)) * (math.sqrt(G) if G > 1 else 1.0)
        except ValueError:
            hi = NAN
    return lo, hi


def rmsea_pvalue(X2, df, N, G=1, h0=0.05, close=True):
    from scipy.stats import ncx2

    if not (df > 0):
        return NAN
    ncp = (N * df * h0 ** 2) / G
    p = ncx2.cdf(X2, df, ncp)
    return float(1 - p) if close else float(p)


def _rescale(x, d):
    """lavaan's lav_residuals_rescale for a covariance matrix: divide by sqrt(d_i d_j),
    except entries whose absolute value is below 1e-5 (left unscaled)."""
    sc = 1.0 / np.sqrt(np.outer(d, d))
    sc = np.where(np.abs(x) < 1e-5, 1.0, sc)
    return x * sc


def _rescale_mean(x, d):
    sc = 1.0 / np.sqrt(d)
    sc = np.where(np.abs(x) < 1e-5, 1.0, sc)
    return x * sc


def _vech(M):
    return M[np.tril_indices(M.shape[0])]


def residual_summaries(S, Sig, mean, mu, meanstructure):
    """rmr, srmr (Bentler), crmr and srmr_mplus for one group, with and without means."""
    p = S.shape[0]
    dobs, dest = np.diag(S).copy(), np.diag(Sig).copy()
    out = {}
    # raw
    R = _vech(S - Sig)
    out["rmr_nomean"] = math.sqrt(np.sum(R * R) / len(R))
    # cor.bentler: both scaled by the observed variances
    Rb = _vech(_rescale(S, dobs) - _rescale(Sig, dobs))
    out["srmr_nomean"] = math.sqrt(np.sum(Rb * Rb) / len(Rb))
    # cor.bollen: observed by observed, implied by implied variances (diagonal is 0)
    Rc = _vech(_rescale(S, dobs) - _rescale(Sig, dest))
    pc = len(Rc) - p
    out["crmr_nomean"] = math.sqrt(np.sum(Rc * Rc) / pc) if pc > 0 else 0.0
    if meanstructure:
        rm = mean - mu
        out["rmr"] = math.sqrt((np.sum(R * R) + np.sum(rm * rm)) / (len(R) + p))
        rbm = _rescale_mean(mean, dobs) - _rescale_mean(mu, dobs)
        out["srmr"] = math.sqrt((np.sum(Rb * Rb) + np.sum(rbm * rbm)) / (len(Rb) + p))
        out["crmr"] = math.sqrt((np.sum(Rc * Rc) + np.sum(rbm * rbm)) / (len(Rc) + p - p)) if pc > 0 else 0.0
    else:
        out["rmr"], out["srmr"], out["crmr"] = out["rmr_nomean"], out["srmr_nomean"], out["crmr_nomean"]
    # Mplus
    Sc = S / np.sqrt(np.outer(dobs, dobs))
    Sigc = Sig / np.sqrt(np.outer(dest, dest))
    Rm = Sc - Sigc
    off = np.sum(Rm[np.tril_indices(p, -1)] ** 2)
    dg = np.sum(((dobs - dest) / dobs) ** 2)
    e = p * (p + 1) / 2
    out["srmr_mplus_nomean"] = math.sqrt((off + dg) / e)
    if meanstructure:
        rmm = mean / np.sqrt(dobs) - mu / np.sqrt(dest)
        out["srmr_mplus"] = math.sqrt((off + np.sum(rmm ** 2) + dg) / (e + p))
    else:
        out["srmr_mplus"] = out["srmr_mplus_nomean"]
    return out


def gfi_terms(S, Sig, mean, mu, meanstructure, x_idx):
    """(t1, t2) of lavaan's GFI for one group: e'We and s'Ws with W the ML weight matrix at
    the implied covariance, the rows of exogenous (fixed.x) moments set to zero."""
    Om = np.linalg.inv(Sig)
    E = S - Sig
    Sm = S.copy()
    if len(x_idx):
        xi = np.asarray(x_idx)
        E = E.copy()
        E[np.ix_(xi, xi)] = 0.0
        Sm[np.ix_(xi, xi)] = 0.0
    t1 = 0.5 * np.sum((Om @ E) * (Om @ E).T)
    t2 = 0.5 * np.sum((Om @ Sm) * (Om @ Sm).T)
    if meanstructure:
        d = mean - mu
        m = mean.copy()
        if len(x_idx):
            d = d.copy()
            d[np.asarray(x_idx)] = 0.0
            m[np.asarray(x_idx)] = 0.0
        t1 += d @ Om @ d
        t2 += m @ Om @ m
    return t1, t2


def gfi_terms_missing(X, Sig, mu, patterns, x_idx=()):
    """(t1, t2) of lavaan's GFI with missing='ml': the weight matrix is the expected h1
    information under the missing patterns (lavaan's lav_mvnorm_missing_information_expected
    at the implied moments): sum_k (n_k / N) blockdiag(Om_k, 1/2 D'(Om_k (x) Om_k) D), with
    Om_k the inverse implied covariance of pattern k's observed block embedded in p x p.
    The "observed" moments are lavaan's ``wls.obs`` for incomplete data (not the EM ones):
    available-case means and pairwise-complete covariances (divisor n_ij - 1) times
    (N - 1) / N, N the number of non-empty rows."""
    import pandas as pd

    p = X.shape[1]
    N = sum(pt.n for pt in patterns)
    mean = np.nanmean(X, axis=0)
    S = pd.DataFrame(X).cov().to_numpy() * (N - 1) / N
    E = S - Sig
    d = mean - mu
    if len(x_idx):   # fixed.x: the covariates' own moments are left out (masked weight matrix)
        xi = np.asarray(x_idx)
        E, S, d, mean = E.copy(), S.copy(), d.copy(), mean.copy()
        E[np.ix_(xi, xi)] = 0.0
        S[np.ix_(xi, xi)] = 0.0
        d[xi] = 0.0
        mean[xi] = 0.0
    t1 = t2 = 0.0
    for pt in patterns:
        o = pt.obs
        Om = np.zeros((p, p))
        Om[np.ix_(o, o)] = np.linalg.inv(Sig[np.ix_(o, o)])
        w = pt.n / N
        OE, OS = Om @ E, Om @ S
        t1 += w * (0.5 * np.sum(OE * OE.T) + d @ Om @ d)
        t2 += w * (0.5 * np.sum(OS * OS.T) + mean @ Om @ mean)
    return t1, t2


def compute_fit_measures(*, stats, implied, npar: int, meanstructure: bool, x_idx: list[int],
                         fixed_x: bool) -> dict:
    """All lavaan fit measures.

    Parameters
    ----------
    stats : SampleStats
    implied : list of (Sigma, mu) per group
    npar : int
        Number of free parameters.
    meanstructure : bool
    x_idx : list of int
        Positions of fixed exogenous covariates among the observed variables.
    fixed_x : bool
    """
    from scipy.stats import chi2 as chi2_dist

    G = stats.ngroups
    N = stats.ntotal
    p = len(stats.ov)
    px = len(x_idx) if fixed_x else 0
    nox = [i for i in range(p) if i not in set(x_idx)] if fixed_x else list(range(p))
    ndat_g = p * (p + 1) // 2 + (p if meanstructure else 0) - (px * (px + 1) // 2 + (px if meanstructure else 0))
    ndat = G * ndat_g
    df = ndat - npar
    logl = 0.0
    logl_h1 = 0.0
    X2b = 0.0
    gfi_num = 0.0
    res_g = []
    for st, (Sig, mu) in zip(stats.groups, implied):
        sign, logdet = np.linalg.slogdet(Sig)
        Om = np.linalg.inv(Sig)
        tr = np.sum(st.S * Om)
        q = 0.0
        if meanstructure:
            d = st.mean - mu
            q = d @ Om @ d
        if st.patterns is not None:
            # missing="ml": casewise likelihoods; h1 = EM moments; the baseline (independence)
            # likelihood factorizes into univariate ML fits on each variable's observed values
            from .fiml import loglik

            logl += loglik(st.patterns, Sig, mu)
            logl_h1 += st.logl_h1
            llb = 0.0
            for j in nox:
                xj = st.X[:, j]
                xj = xj[~np.isnan(xj)]
                llb += -len(xj) / 2 * (math.log(2 * math.pi) + math.log(np.mean((xj - xj.mean()) ** 2)) + 1)
            if px:   # fixed.x: the (complete) covariates keep their joint sample moments
                xi = np.asarray(x_idx)
                llb += -st.N / 2 * (px * math.log(2 * math.pi) + np.linalg.slogdet(st.S[np.ix_(xi, xi)])[1] + px)
            X2b += 2 * (st.logl_h1 - llb)
        else:
            logl += -st.N / 2 * (p * math.log(2 * math.pi) + logdet + tr + q)
            logl_h1 += -st.N / 2 * (p * math.log(2 * math.pi) + st.logdetS + p)
        if px:
            # fixed.x: lavaan reports the likelihood conditional on the exogenous covariates,
            # i.e. minus their (saturated) marginal log-likelihood
            xi = np.asarray(x_idx)
            lx = -st.N / 2 * (px * math.log(2 * math.pi) + np.linalg.slogdet(st.S[np.ix_(xi, xi)])[1] + px)
            logl -= lx
            logl_h1 -= lx
        # independence model
        dS = np.diag(st.S)
        ll_b = np.sum(np.log(dS[nox]))
        if px:
            xi = np.asarray(x_idx)
            ll_b += np.linalg.slogdet(st.S[np.ix_(xi, xi)])[1]
        if st.patterns is None:
            X2b += st.N * (ll_b - st.logdetS)
        if st.patterns is not None:
            t1, t2 = gfi_terms_missing(st.X, Sig, mu, st.patterns, x_idx if fixed_x else [])
        else:
            t1, t2 = gfi_terms(st.S, Sig, st.mean, mu, meanstructure, x_idx if fixed_x else [])
        gfi_num += st.N * (1 - t1 / t2)
        res_g.append((st.N, residual_summaries(st.S, Sig, st.mean, mu, meanstructure)))
    X2 = 2 * (logl_h1 - logl)
    X2 = max(X2, 0.0) if X2 > -1e-8 else X2
    # a perfect fit (e.g. exact sample moments) leaves rounding noise of the log-likelihoods
    # (~1e-13 relative); lavaan's X2 is exactly 0 there, so are its Inf Hoelter Ns
    if 0 < X2 < 1e-10 * max(1.0, abs(logl_h1)):
        X2 = 0.0
    npar_b = G * (len(nox) * (2 if meanstructure else 1))
    dfb = ndat - npar_b
    pvalue = float(chi2_dist.sf(X2, df)) if df > 0 else NAN
    pvalue_b = float(chi2_dist.sf(X2b, dfb)) if dfb > 0 else NAN
    fm = {}
    fm["npar"] = float(npar)
    fm["fmin"] = X2 / (2 * N)
    fm["chisq"] = X2
    fm["df"] = float(df)
    fm["pvalue"] = pvalue
    fm["baseline.chisq"] = X2b
    fm["baseline.df"] = float(dfb)
    fm["baseline.pvalue"] = pvalue_b
    fm["cfi"] = cfi(X2, df, X2b, dfb)
    fm["tli"] = tli(X2, df, X2b, dfb)
    fm["nnfi"] = fm["tli"]
    fm["rfi"] = rfi(X2, df, X2b, dfb)
    fm["nfi"] = nfi(X2, df, X2b, dfb)
    fm["pnfi"] = pnfi(X2, df, X2b, dfb)
    fm["ifi"] = ifi(X2, df, X2b, dfb)
    fm["rni"] = rni(X2, df, X2b, dfb)
    fm["logl"] = logl
    fm["unrestricted.logl"] = logl_h1
    fm["aic"] = -2 * logl + 2 * npar
    fm["bic"] = -2 * logl + npar * math.log(N)
    fm["ntotal"] = float(N)
    fm["bic2"] = -2 * logl + npar * math.log((N + 2) / 24)
    fm["rmsea"] = rmsea(X2, df, N, G)
    lo, hi = rmsea_ci(X2, df, N, G)
    fm["rmsea.ci.lower"], fm["rmsea.ci.upper"] = lo, hi
    fm["rmsea.ci.level"] = 0.90
    fm["rmsea.pvalue"] = rmsea_pvalue(X2, df, N, G, 0.05, close=True)
    fm["rmsea.close.h0"] = 0.05
    fm["rmsea.notclose.pvalue"] = rmsea_pvalue(X2, df, N, G, 0.08, close=False)
    fm["rmsea.notclose.h0"] = 0.08
    w = np.array([n for n, _ in res_g]) / N

    def wsum(key):
        return float(sum(wi * r[key] for wi, (_, r) in zip(w, res_g)))

    fm["rmr"] = wsum("rmr")
    fm["rmr_nomean"] = wsum("rmr_nomean")
    fm["srmr"] = wsum("srmr")
    fm["srmr_bentler"] = wsum("srmr")
    fm["srmr_bentler_nomean"] = wsum("srmr_nomean")
    fm["crmr"] = wsum("crmr")
    fm["crmr_nomean"] = wsum("crmr_nomean")
    fm["srmr_mplus"] = wsum("srmr_mplus")
    fm["srmr_mplus_nomean"] = wsum("srmr_mplus_nomean")
    for key, a in (("cn_05", 0.05), ("cn_01", 0.01)):
        # Hoelter's critical N = qchisq(1 - a, df) / (X2 / N) + 1.  With df = 0 the quantile is
        # 0, so lavaan reports 1 (its X2 is never exactly 0 there); with df > 0 and a perfect
        # fit (X2 = 0) it is infinite.
        if df == 0:
            fm[key] = 1.0
        elif X2 > 0:
            fm[key] = float(chi2_dist.ppf(1 - a, df)) / (X2 / N) + 1
        else:
            fm[key] = math.inf
    gfi = gfi_num / N
    nel = G * (p * (p + 1) // 2 + (p if meanstructure else 0))
    fm["gfi"] = gfi
    fm["agfi"] = (1 - (nel / df) * (1 - gfi)) if df > 0 else 1.0
    fm["pgfi"] = (df / nel) * gfi if nel else NAN
    fm["mfi"] = math.exp(-0.5 * (X2 - df) / N)
    fm["ecvi"] = X2 / N + (2 * npar) / N
    return {k: fm[k] for k in FIT_MEASURE_NAMES}

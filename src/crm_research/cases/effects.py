"""Two-sample comparisons of a KPI with the test that fits the measure, and trend tests.

Rule (stated once, applied everywhere):

- **Rates and shares** (``kind`` rate/ratio) -> two-proportion z test of the risk difference
  ``p1 - p0``, with the relative lift ``p1 / p0 - 1`` as effect size.
  When every customer contributes at most one trial per arm and no customer is in both arms,
  the trials are independent and :func:`statsmodels.stats.proportion.proportions_ztest`
  (pooled z) and ``confint_proportions_2indep`` (Newcombe interval for the difference,
  log interval for the ratio) are used as they are. Otherwise (several periods, sessions or
  impressions per customer; the same customers before and after) the trials are clustered
  in customers, which those functions ignore and would give too-narrow intervals; the
  variance then comes from the customers' linearized contributions (cluster-robust delta
  method for a ratio of sums, with the covariance of customers seen in both arms).
- **Scores, spend, visits, minutes** (``kind`` mean) -> each customer's own value in the window
  (so customers, not orders, are the independent units), then
  Welch's t test (:func:`pingouin.ttest`, ``correction=True``) unless the data are ordinal
  (a single Likert item) or an arm is small (n < 30) and skewed (|skewness| > 1): then the
  Mann-Whitney U test (:func:`pingouin.mwu`). A ``tests:`` override in the case file wins.
  The estimate and its interval are always the difference in means (Welch), the quantity a
  manager acts on; the effect size is Hedges' g with its interval
  (:func:`pingouin.compute_effsize`, :func:`pingouin.compute_esci`).
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

SMALL_N = 30
SKEW_LIMIT = 1.0


# --------------------------------------------------------------------------- helpers
def _per_customer(rows: pd.DataFrame) -> pd.DataFrame:
    g = rows.groupby("customer_id", sort=True)[["num", "den"]].sum()
    return g[g["den"] > 0]


def _z_crit(alpha: float) -> float:
    from scipy.stats import norm
    return float(norm.ppf(1 - alpha / 2))


def no_result(test: str, note: str, **extra) -> dict[str, Any]:
    """The result of a comparison that could not be made: every number NaN, ``note`` says why.

    Parameters
    ----------
    test : str
        The test that would have been used.
    note : str
        Why there is no result.
    **extra
        Further keys (e.g. ``n1``, ``n0``).

    Returns
    -------
    dict
        The keys of :func:`compare_rates` / :func:`compare_means`.

    Examples
    --------
    >>> r = no_result("Welch t test", "insufficient data", n1=1)
    >>> r["est"], r["pvalue"], r["n1"]
    (nan, nan, 1)
    """
    out = {"test": test, "est": np.nan, "ci.lower": np.nan, "ci.upper": np.nan, "statistic": np.nan,
           "pvalue": np.nan, "baseline": np.nan, "value": np.nan, "lift": np.nan, "effect_size": np.nan,
           "effect_size.ci.lower": np.nan, "effect_size.ci.upper": np.nan, "effect_size_type": "", "n1": 0,
           "n0": 0, "note": note}
    out.update(extra)
    return out


# --------------------------------------------------------------------------- rates
def compare_rates(rows1: pd.DataFrame, rows0: pd.DataFrame, *, alpha: float = 0.05,
                  kind: str = "rate") -> dict[str, Any]:
    """Compare a rate (or share of an amount) between two sets of panel rows.

    Parameters
    ----------
    rows1, rows0 : DataFrame
        Panel rows ``customer_id, num, den`` of arm 1 (treated / after) and arm 0
        (control / before). The same customer may appear in both (before/after).
    alpha : float
        1 - confidence level of the intervals.
    kind : {"rate", "ratio"}
        ``ratio`` for shares of an amount (always the delta-method test).

    Returns
    -------
    dict
        ``est`` (risk difference p1 - p0), ``ci.lower``, ``ci.upper``, ``statistic`` (z),
        ``pvalue``, ``baseline`` (p0), ``value`` (p1), ``lift`` (p1/p0 - 1) as ``effect_size`` with
        ``effect_size.ci.lower``/``effect_size.ci.upper``, ``n1``/``n0`` (customers), ``test``.

    Examples
    --------
    One trial per customer: the classical two-proportion z test.

    >>> import pandas as pd
    >>> a = pd.DataFrame({"customer_id": range(100), "num": [1] * 30 + [0] * 70, "den": 1})
    >>> b = pd.DataFrame({"customer_id": range(100, 200), "num": [1] * 20 + [0] * 80, "den": 1})
    >>> r = compare_rates(a, b)
    >>> round(r["est"], 2), r["test"]
    (0.1, 'two-proportion z test')
    """
    c1, c0 = _per_customer(rows1), _per_customer(rows0)
    n1, n0 = len(c1), len(c0)
    if n1 < 2 or n0 < 2:
        return no_result("two-proportion z test", "insufficient data: fewer than 2 customers in an arm",
                           n1=n1, n0=n0)
    y1, t1, y0, t0 = c1["num"].sum(), c1["den"].sum(), c0["num"].sum(), c0["den"].sum()
    p1, p0 = y1 / t1, y0 / t0
    est = p1 - p0
    overlap = c1.index.intersection(c0.index)
    simple = (kind == "rate" and len(overlap) == 0 and (c1["den"] <= 1).all() and (c0["den"] <= 1).all()
              and np.allclose(c1["num"] % 1, 0) and np.allclose(c0["num"] % 1, 0))
    zc = _z_crit(alpha)
    if simple:
        from statsmodels.stats.proportion import confint_proportions_2indep, proportions_ztest

        x1, x0, m1, m0 = int(round(y1)), int(round(y0)), int(round(t1)), int(round(t0))
        if 0 < x1 + x0 < m1 + m0:
            z, p = proportions_ztest([x1, x0], [m1, m0])
        else:  # no variation at all: no evidence of a difference
            z, p = 0.0, 1.0
        lo, hi = confint_proportions_2indep(x1, m1, x0, m0, method="newcomb", compare="diff", alpha=alpha)
        if x0 > 0 and x1 > 0:
            rlo, rhi = confint_proportions_2indep(x1, m1, x0, m0, method="log", compare="ratio", alpha=alpha)
            es_lo, es_hi = rlo - 1.0, rhi - 1.0
        else:
            es_lo = es_hi = np.nan
        test = "two-proportion z test"
    else:
        # cluster-robust delta method for the difference of two ratios of sums: each customer's
        # linearized contribution u_i = (y_i - p n_i) / N; customers in both arms contribute the
        # difference of their two terms, so their covariance enters.
        u1 = (c1["num"] - p1 * c1["den"]) / t1
        u0 = (c0["num"] - p0 * c0["den"]) / t0
        v = u1.sub(u0, fill_value=0.0)
        g = len(v)
        var = g / (g - 1) * float(np.sum(v.to_numpy() ** 2))
        se = math.sqrt(var)
        z = est / se if se > 0 else (0.0 if est == 0 else math.copysign(np.inf, est))
        from scipy.stats import norm
        p = float(2 * norm.sf(abs(z)))
        lo, hi = est - zc * se, est + zc * se
        if p0 > 0 and p1 > 0:
            w = (u1 / p1).sub(u0 / p0, fill_value=0.0)
            se_log = math.sqrt(g / (g - 1) * float(np.sum(w.to_numpy() ** 2)))
            lr = math.log(p1 / p0)
            es_lo, es_hi = math.exp(lr - zc * se_log) - 1.0, math.exp(lr + zc * se_log) - 1.0
        else:
            es_lo = es_hi = np.nan
        test = ("ratio z test (delta method, customer-clustered)" if kind == "ratio"
                else "two-proportion z test (customer-clustered SE)")
    lift = p1 / p0 - 1.0 if p0 > 0 else np.nan
    return {"test": test, "est": float(est), "ci.lower": float(lo), "ci.upper": float(hi), "statistic": float(z),
            "pvalue": float(p), "baseline": float(p0), "value": float(p1), "lift": float(lift),
            "effect_size": float(lift), "effect_size.ci.lower": float(es_lo), "effect_size.ci.upper": float(es_hi),
            "effect_size_type": "relative lift", "n1": n1, "n0": n0, "trials1": float(t1), "trials0": float(t0),
            "note": ""}


# --------------------------------------------------------------------------- means
def choose_test(x1, x0, *, ordinal: bool = False, override: str | None = None) -> tuple[str, str]:
    """Pick Welch's t or Mann-Whitney U for two samples of per-customer values.

    Parameters
    ----------
    x1, x0 : array-like
        One value per customer in each arm.
    ordinal : bool
        The values are ordered categories (a single Likert item): Mann-Whitney U.
    override : {"welch", "mwu"}, optional
        A choice made in the case file (``kpi_options.tests``); wins over the rule.

    Returns
    -------
    (test, reason)
        ``test`` is ``"welch"`` or ``"mwu"``; ``reason`` says which part of the rule applied.

    Examples
    --------
    >>> choose_test([1, 2, 3] * 20, [2, 3, 4] * 20)[0]
    'welch'
    >>> choose_test([1, 2, 3] * 20, [2, 3, 4] * 20, ordinal=True)[0]
    'mwu'
    """
    from scipy.stats import skew

    if override in ("welch", "mwu"):
        return override, "set in the case file (kpi_options.tests)"
    if ordinal:
        return "mwu", "ordinal scores (a single Likert item)"
    x1, x0 = np.asarray(x1, dtype=float), np.asarray(x0, dtype=float)
    n = min(len(x1), len(x0))
    sk = max(abs(float(skew(x, bias=False))) if len(x) > 2 and np.ptp(x) > 0 else 0.0 for x in (x1, x0))
    if n < SMALL_N and sk > SKEW_LIMIT:
        return "mwu", f"small sample (n = {n} < {SMALL_N}) and skewed (|skewness| = {sk:.2f} > {SKEW_LIMIT:g})"
    if n < SMALL_N:
        return "welch", f"small sample but roughly symmetric (|skewness| = {sk:.2f} <= {SKEW_LIMIT:g})"
    return "welch", f"n >= {SMALL_N} per arm: the mean difference is close to normal"


def compare_means(x1, x0, *, alpha: float = 0.05, ordinal: bool = False,
                  override: str | None = None) -> dict[str, Any]:
    """Compare per-customer values of a score, spend or activity KPI between two arms.

    Parameters
    ----------
    x1, x0 : array-like
        One value per customer (arm 1 = treated / after, arm 0 = control / before).
    alpha : float
    ordinal : bool
        The values are ordered categories (chooses Mann-Whitney U).
    override : {"welch", "mwu", "auto"}, optional

    Returns
    -------
    dict
        ``est`` (mean difference) with Welch ``ci.lower``/``ci.upper``; ``pvalue`` and
        ``statistic`` of the chosen test; Hedges' g as ``effect_size`` with its interval
        ``effect_size.ci.lower``/``effect_size.ci.upper``;
        ``lift`` (relative to the arm-0 mean); ``test`` and ``reason``.

    Examples
    --------
    >>> r = compare_means([5.0, 6.0, 7.0, 8.0] * 10, [4.0, 5.0, 6.0, 7.0] * 10)
    >>> r["test"], round(r["est"], 3), round(r["ci.lower"], 3), round(r["pvalue"], 4)
    ('Welch t test', 1.0, 0.496, 0.0002)
    """
    import pingouin as pg
    from scipy.stats import t as tdist

    x1 = np.asarray(x1, dtype=float)
    x0 = np.asarray(x0, dtype=float)
    x1, x0 = x1[~np.isnan(x1)], x0[~np.isnan(x0)]
    n1, n0 = len(x1), len(x0)
    if n1 < 2 or n0 < 2:
        return no_result("Welch t test", "insufficient data: fewer than 2 customers in an arm", n1=n1, n0=n0)
    which, reason = choose_test(x1, x0, ordinal=ordinal, override=None if override == "auto" else override)
    m1, m0 = float(x1.mean()), float(x0.mean())
    est = m1 - m0
    v1, v0 = float(x1.var(ddof=1)), float(x0.var(ddof=1))
    se = math.sqrt(v1 / n1 + v0 / n0)
    if se > 0:
        tt = pg.ttest(x1, x0, correction=True)
        dof = float(tt["dof"].iloc[0])
        crit = float(tdist.ppf(1 - alpha / 2, dof))
        lo, hi = est - crit * se, est + crit * se
        stat, p = float(tt["T"].iloc[0]), float(tt["p_val"].iloc[0])
        g = float(pg.compute_effsize(x1, x0, eftype="hedges"))
        glo, ghi = (float(v) for v in pg.compute_esci(stat=g, nx=n1, ny=n0, eftype="hedges",
                                                        confidence=1 - alpha, decimals=12))
    else:  # both arms constant
        lo = hi = est
        stat, p = (0.0, 1.0) if est == 0 else (math.copysign(np.inf, est), 0.0)
        g, glo, ghi = np.nan, np.nan, np.nan
    test, note = "Welch t test", ""
    if which == "mwu":
        mw = pg.mwu(x1, x0)
        stat, p = float(mw["U_val"].iloc[0]), float(mw["p_val"].iloc[0])
        test = "Mann-Whitney U test"
        note = f"rank-biserial r = {float(mw['RBC'].iloc[0]):+.3f}; estimate and CI: mean difference (Welch)"
    return {"test": test, "reason": reason, "est": est, "ci.lower": lo, "ci.upper": hi, "statistic": stat,
            "pvalue": p, "baseline": m0, "value": m1, "lift": est / m0 if m0 else np.nan, "effect_size": g,
            "effect_size.ci.lower": glo, "effect_size.ci.upper": ghi, "effect_size_type": "Hedges g", "n1": n1,
            "n0": n0, "note": note}


# --------------------------------------------------------------------------- trends
def trend_test(rows: pd.DataFrame) -> dict[str, Any]:
    """Linear trend of a KPI over periods: WLS of num/den on period, SE clustered by customer.

    Parameters
    ----------
    rows : DataFrame
        Panel rows ``customer_id, period, num, den``.

    Returns
    -------
    dict
        ``slope`` (change per period), ``se``, ``pvalue``, its 95% interval ``ci.lower``/``ci.upper``,
        ``periods`` (number of distinct periods).

    Examples
    --------
    >>> import pandas as pd
    >>> rows = pd.DataFrame({"customer_id": [1, 2, 3] * 4, "period": [0] * 3 + [1] * 3 + [2] * 3 + [3] * 3,
    ...                      "num": [0.10, 0.12, 0.11, 0.13, 0.14, 0.12, 0.15, 0.17, 0.16, 0.19, 0.18, 0.20],
    ...                      "den": 1.0})
    >>> t = trend_test(rows)                      # the OLS slope of these points is 0.027
    >>> round(t["slope"], 4), t["periods"], round(t["pvalue"], 3)
    (0.027, 4, 0.014)
    """
    from .did import wls_cluster

    periods = rows["period"].nunique()
    if periods < 3 or rows["customer_id"].nunique() < 3:
        return {"slope": np.nan, "se": np.nan, "pvalue": np.nan, "periods": periods, "ci.lower": np.nan,
                "ci.upper": np.nan}
    y = (rows["num"] / rows["den"]).to_numpy(dtype=float)
    t = rows["period"].to_numpy(dtype=float)
    X = np.column_stack([np.ones_like(t), t - t.mean()])
    groups = pd.factorize(rows["customer_id"])[0]
    fit = wls_cluster(y, X, rows["den"].to_numpy(dtype=float), groups)
    from scipy.stats import t as tdist

    crit = float(tdist.ppf(0.975, fit.df))
    b, se = float(fit.params[1]), float(fit.bse[1])
    return {"slope": b, "se": se, "pvalue": float(fit.pvalues[1]), "periods": periods, "ci.lower": b - crit * se,
            "ci.upper": b + crit * se}


def sample_ratio_test(n_target: int, n_control: int, allocation: float) -> float:
    """p-value of the chi-square test that arms were filled at the planned ``allocation``.

    Parameters
    ----------
    n_target, n_control : int
        Customers in each arm.
    allocation : float
        Planned share of the target arm.

    Returns
    -------
    float
        NaN without customers.

    Examples
    --------
    >>> sample_ratio_test(500, 500, 0.5), sample_ratio_test(560, 440, 0.5) < 0.001
    (1.0, True)
    """
    from scipy.stats import chisquare

    tot = n_target + n_control
    if tot == 0:
        return float("nan")
    return float(chisquare([n_target, n_control], [tot * allocation, tot * (1 - allocation)]).pvalue)

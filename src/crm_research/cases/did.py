"""Difference-in-differences with a control group, on the customer x period KPI panel.

Model (weighted least squares, one row per customer and period; :func:`wls_cluster`)::

    y_it = a + b * treated_i + sum_t c_t * [period = t] + delta * treated_i * post_t + e_it

with ``y = num / den`` and weights ``den`` (so the estimate is the difference of the KPI as a
ratio of sums: sessions weight the conversion rate, orders the order value ...). Period
fixed effects absorb the common trend and seasonality; ``delta`` is the effect. Standard
errors are clustered by customer (statsmodels ``cov_type="cluster"``; t with G - 1 degrees of
freedom), because a customer's periods are not independent.

Identification rests on parallel trends: :func:`parallel_trends_test` tests a differential
linear trend of the treated group in the pre-period, and :func:`event_study` gives the
treated-control gap per period relative to the last pre-period.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import pandas as pd

from ..reporting.format import format_ci, format_number, format_p


@dataclass(frozen=True)
class DiDResult:
    """A difference-in-differences estimate.

    Attributes
    ----------
    est, se, ci_lower, ci_upper, t, pvalue, df : float
        ``delta`` with its cluster-robust standard error, interval and test (df = clusters - 1);
        :meth:`to_frame` gives them as one row with lavaan's column names (``ci.lower`` ...).
    n_treated, n_control : int
        Customers in each group.
    n_obs : int
        Customer-period rows.
    means : dict
        KPI (ratio of sums) per ``(group, phase)``: ``treated_pre``, ``treated_post``,
        ``control_pre``, ``control_post``.
    counterfactual : float
        ``treated_pre + (control_post - control_pre)``: the treated post level without the strategy.
    level : float
        Confidence level of the interval (``1 - alpha``).

    Examples
    --------
    >>> import pandas as pd
    >>> rows = lambda ids, per, y: pd.DataFrame({"customer_id": ids, "period": per, "num": y, "den": 1.0})
    >>> t = pd.concat([rows([1, 2], 0, [1.0, 2.0]), rows([1, 2], 1, [4.0, 5.0])])
    >>> c = pd.concat([rows([3, 4], 0, [1.0, 2.0]), rows([3, 4], 1, [2.0, 3.0])])
    >>> r = did_estimate(t, c, [0], [1])
    >>> r.est, r.counterfactual, r.n_treated   # (4.5 - 1.5) - (2.5 - 1.5) = 2; 1.5 + 1 = 2.5
    (2.0, 2.5, 2)
    """

    est: float
    se: float
    ci_lower: float
    ci_upper: float
    t: float
    pvalue: float
    df: float
    n_treated: int
    n_control: int
    n_obs: int
    means: dict[str, float]
    counterfactual: float
    level: float = 0.95

    def to_frame(self) -> pd.DataFrame:
        """The estimate as one row: ``est, se, t, df, pvalue, ci.lower, ci.upper, n_treated, n_control, n_obs``.

        The confidence level is in ``attrs["ci.level"]``.

        Returns
        -------
        DataFrame

        Examples
        --------
        >>> import pandas as pd
        >>> rows = lambda ids, per, y: pd.DataFrame({"customer_id": ids, "period": per, "num": y, "den": 1.0})
        >>> t = pd.concat([rows([1, 2], 0, [1.0, 2.0]), rows([1, 2], 1, [4.0, 5.0])])
        >>> c = pd.concat([rows([3, 4], 0, [1.0, 2.0]), rows([3, 4], 1, [2.0, 3.0])])
        >>> list(did_estimate(t, c, [0], [1]).to_frame().columns[:7])
        ['est', 'se', 't', 'df', 'pvalue', 'ci.lower', 'ci.upper']
        """
        out = pd.DataFrame([{"est": self.est, "se": self.se, "t": self.t, "df": self.df, "pvalue": self.pvalue,
                             "ci.lower": self.ci_lower, "ci.upper": self.ci_upper, "n_treated": self.n_treated,
                             "n_control": self.n_control, "n_obs": self.n_obs}])
        out.attrs["ci.level"] = self.level
        return out

    def summary(self) -> str:
        """The estimate in four lines of text.

        Returns
        -------
        str

        Examples
        --------
        >>> import pandas as pd
        >>> rows = lambda ids, per, y: pd.DataFrame({"customer_id": ids, "period": per, "num": y, "den": 1.0})
        >>> t = pd.concat([rows([1, 2], 0, [1.0, 2.0]), rows([1, 2], 1, [4.0, 5.0])])
        >>> c = pd.concat([rows([3, 4], 0, [1.0, 2.0]), rows([3, 4], 1, [2.0, 3.0])])
        >>> print(did_estimate(t, c, [0], [1]).summary().splitlines()[1])
          treated: 1.500 -> 4.500   control: 1.500 -> 2.500
        """
        m = self.means
        n = format_number
        return "\n".join([
            "Difference-in-differences (WLS, SE clustered by customer)",
            f"  treated: {n(m['treated_pre'], 3)} -> {n(m['treated_post'], 3)}   "
            f"control: {n(m['control_pre'], 3)} -> {n(m['control_post'], 3)}",
            f"  effect {'+' if self.est > 0 else ''}{n(self.est, 3)}  {self.level:.0%} CI "
            f"{format_ci(self.ci_lower, self.ci_upper, 3)}  t({n(self.df, 0)}) = {n(self.t, 2)}, "
            f"{format_p(self.pvalue, prefix=True)}",
            f"  customers: treated {self.n_treated:,}, control {self.n_control:,}; rows {self.n_obs:,}"])


def _stack(treated: pd.DataFrame, control: pd.DataFrame) -> pd.DataFrame:
    a = treated[["customer_id", "period", "num", "den"]].assign(treated=1.0)
    b = control[["customer_id", "period", "num", "den"]].assign(treated=0.0)
    d = pd.concat([a, b], ignore_index=True)
    d = d[d["den"] > 0]
    # customers in both groups would be double-counted: make them distinct clusters per group
    d["cluster"] = pd.factorize(d["customer_id"])[0] * 2 + (d["treated"].to_numpy() > 0)
    return d


def _period_dummies(period: np.ndarray) -> np.ndarray:
    levels = np.unique(period)
    return (period[:, None] == levels[None, 1:]).astype(float)


@dataclass(frozen=True)
class WLSFit:
    """Coefficients of :func:`wls_cluster` with cluster-robust standard errors.

    Parameters
    ----------
    params, bse, tvalues, pvalues : numpy.ndarray
        Estimates, standard errors, t values and two-sided p values (t with ``df``).
    df : float
        Clusters - 1.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.column_stack([np.ones(4), [0, 1, 0, 1]])
    >>> wls_cluster([1.0, 2.0, 1.5, 2.5], X, np.ones(4), [1, 1, 2, 2]).params
    array([1.25, 1.  ])
    """
    params: np.ndarray
    bse: np.ndarray
    tvalues: np.ndarray
    pvalues: np.ndarray
    df: float


def wls_cluster(y, X, w, groups) -> WLSFit:
    """WLS with cluster-robust (CR1) standard errors, exactly as statsmodels computes them.

    Parameters
    ----------
    y : array-like, shape (n,)
    X : array-like, shape (n, k)
        Design matrix (with the intercept column).
    w : array-like, shape (n,)
        Weights.
    groups : array-like, shape (n,)
        Cluster of each row.

    Returns
    -------
    WLSFit
        ``params``, ``bse``, ``tvalues``, ``pvalues`` (arrays of length k) and ``df``
        (clusters - 1).

    Same numbers as ``statsmodels.api.WLS(y, X, weights=w).fit(cov_type="cluster",
    cov_kwds={"groups": groups}, use_t=True)`` (small-sample factor
    ``G/(G-1) * (N-1)/(N-K)``, t with ``G - 1`` degrees of freedom; tests check the match).
    Written here because statsmodels takes an SVD of the full N x K design (pseudo-inverse
    and rank) on every fit: 0.1-1 s per fit on a 50,000-row panel, and a case needs a hundred
    fits, while the normal equations (K x K) take milliseconds.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.column_stack([np.ones(6), [0, 1, 2, 0, 1, 2]])
    >>> fit = wls_cluster([1.0, 2.1, 2.9, 1.2, 2.0, 3.1], X, np.ones(6), [1, 1, 1, 2, 2, 2])
    >>> np.round(fit.params, 3), fit.df      # the OLS line: intercept 1.1, slope 0.95
    (array([1.1 , 0.95]), 1.0)
    """
    from scipy.stats import t as tdist

    y = np.asarray(y, dtype=float)
    X = np.asarray(X, dtype=float)
    w = np.asarray(w, dtype=float)
    g = pd.factorize(np.asarray(groups))[0]
    n, k = X.shape
    Xw = X * w[:, None]
    xtx = X.T @ Xw
    bread = np.linalg.pinv(xtx)
    beta = bread @ (Xw.T @ y)
    resid = y - X @ beta
    scores = Xw * resid[:, None]
    n_g = int(g.max()) + 1 if n else 0
    summed = np.zeros((n_g, k))
    np.add.at(summed, g, scores)
    meat = summed.T @ summed
    factor = n_g / (n_g - 1) * (n - 1) / (n - k) if n_g > 1 and n > k else np.nan
    cov = factor * bread @ meat @ bread
    bse = np.sqrt(np.maximum(np.diag(cov), 0.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        tv = beta / bse
    df = float(n_g - 1)
    pv = 2 * tdist.sf(np.abs(tv), df)
    return WLSFit(params=beta, bse=bse, tvalues=tv, pvalues=pv, df=df)


def _fit(y, X, w, groups) -> WLSFit:
    return wls_cluster(y, X, w, groups)


def _ratio(d: pd.DataFrame) -> float:
    s = d["den"].sum()
    return float(d["num"].sum() / s) if s > 0 else float("nan")


def did_estimate(treated: pd.DataFrame, control: pd.DataFrame, pre: Sequence[int], post: Sequence[int],
                 *, alpha: float = 0.05) -> DiDResult:
    """Difference-in-differences of a KPI panel.

    Parameters
    ----------
    treated, control : DataFrame
        Panel rows ``customer_id, period, num, den`` of the exposed and the control customers.
    pre, post : sequence of int
        Period codes before and after the start.
    alpha : float

    Returns
    -------
    DiDResult

    Examples
    --------
    >>> import pandas as pd
    >>> rows = lambda ids, per, y: pd.DataFrame({"customer_id": ids, "period": per, "num": y, "den": 1.0})
    >>> t = pd.concat([rows([1, 2], 0, [1.0, 2.0]), rows([1, 2], 1, [4.0, 5.0])])
    >>> c = pd.concat([rows([3, 4], 0, [1.0, 2.0]), rows([3, 4], 1, [2.0, 3.0])])
    >>> round(did_estimate(t, c, [0], [1]).est, 6)
    2.0
    """
    from scipy.stats import t as tdist

    pre, post = list(pre), list(post)
    d = _stack(treated, control)
    d = d[d["period"].isin(pre + post)].reset_index(drop=True)
    per = d["period"].to_numpy()
    is_post = np.isin(per, post).astype(float)
    tr = d["treated"].to_numpy()
    means = {
        "treated_pre": _ratio(d[(tr == 1) & (is_post == 0)]), "treated_post": _ratio(d[(tr == 1) & (is_post == 1)]),
        "control_pre": _ratio(d[(tr == 0) & (is_post == 0)]), "control_post": _ratio(d[(tr == 0) & (is_post == 1)]),
    }
    cf = means["treated_pre"] + means["control_post"] - means["control_pre"]
    n_t = int(d.loc[tr == 1, "customer_id"].nunique())
    n_c = int(d.loc[tr == 0, "customer_id"].nunique())
    if min(n_t, n_c) < 2 or np.isnan(list(means.values())).any():
        nan = float("nan")
        return DiDResult(nan, nan, nan, nan, nan, nan, nan, n_t, n_c, len(d), means, cf, 1 - alpha)
    y = (d["num"] / d["den"]).to_numpy(dtype=float)
    X = np.column_stack([np.ones(len(d)), tr, _period_dummies(per), tr * is_post])
    fit = _fit(y, X, d["den"].to_numpy(dtype=float), d["cluster"].to_numpy())
    est, se = float(fit.params[-1]), float(fit.bse[-1])
    df = float(d["cluster"].nunique() - 1)
    crit = float(tdist.ppf(1 - alpha / 2, df))
    return DiDResult(est=est, se=se, ci_lower=est - crit * se, ci_upper=est + crit * se,
                     t=float(fit.tvalues[-1]), pvalue=float(fit.pvalues[-1]), df=df, n_treated=n_t, n_control=n_c,
                     n_obs=len(d), means=means, counterfactual=cf, level=1 - alpha)


def parallel_trends_test(treated: pd.DataFrame, control: pd.DataFrame, pre: Sequence[int]) -> dict[str, Any]:
    """Test for a differential linear trend of the treated group before the start.

    WLS of ``num/den`` on group, period fixed effects and ``treated x (period - mean)`` over the
    pre-periods, SE clustered by customer.

    Parameters
    ----------
    treated, control : DataFrame
        Panel rows ``customer_id, period, num, den``.
    pre : sequence of int
        The pre-period codes.

    Returns
    -------
    dict
        ``slope`` (treated minus control trend per period), ``se``, ``pvalue``, ``periods``.
        With fewer than 3 pre-periods the test is not possible (NaN).

    Examples
    --------
    >>> import pandas as pd
    >>> rows = lambda ids, per, y: pd.DataFrame({"customer_id": ids, "period": per, "num": y, "den": 1.0})
    >>> t = pd.concat([rows([1, 2, 3], p, [1.0 + 0.5 * p, 1.2 + 0.5 * p, 0.9 + 0.5 * p]) for p in range(4)])
    >>> c = pd.concat([rows([4, 5, 6], p, [1.0, 1.1, 0.8]) for p in range(4)])
    >>> round(parallel_trends_test(t, c, [0, 1, 2, 3])["slope"], 6)   # treated rise 0.5 per period more
    0.5
    >>> parallel_trends_test(t, c, [0, 1])["periods"]                  # too few: NaN
    2
    """
    pre = list(pre)
    d = _stack(treated, control)
    d = d[d["period"].isin(pre)].reset_index(drop=True)
    periods = int(d["period"].nunique())
    if periods < 3 or d["treated"].nunique() < 2:
        return {"slope": np.nan, "se": np.nan, "pvalue": np.nan, "periods": periods}
    per = d["period"].to_numpy()
    tr = d["treated"].to_numpy()
    X = np.column_stack([np.ones(len(d)), tr, _period_dummies(per), tr * (per - per.mean())])
    y = (d["num"] / d["den"]).to_numpy(dtype=float)
    fit = _fit(y, X, d["den"].to_numpy(dtype=float), d["cluster"].to_numpy())
    return {"slope": float(fit.params[-1]), "se": float(fit.bse[-1]), "pvalue": float(fit.pvalues[-1]),
            "periods": periods}


def event_study(treated: pd.DataFrame, control: pd.DataFrame, pre: Sequence[int], post: Sequence[int],
                *, alpha: float = 0.05) -> pd.DataFrame:
    """Treated-control gap per period relative to the last pre-period (leads and lags).

    Parameters
    ----------
    treated, control : DataFrame
        Panel rows ``customer_id, period, num, den``.
    pre, post : sequence of int
        Period codes before and after the start.
    alpha : float
        1 - confidence level.

    Returns
    -------
    DataFrame
        ``period, rel`` (periods since the start; -1 = last pre-period, the reference),
        ``est, ci.lower, ci.upper`` (cluster-robust), one row per period incl. the reference (0);
        the confidence level is in ``attrs["ci.level"]``.

    Examples
    --------
    >>> import pandas as pd
    >>> rows = lambda ids, per, y: pd.DataFrame({"customer_id": ids, "period": per, "num": y, "den": 1.0})
    >>> t = pd.concat([rows([1, 2], p, [1.0 + 2 * (p >= 2), 2.0 + 2 * (p >= 2)]) for p in range(4)])
    >>> c = pd.concat([rows([3, 4], p, [1.0, 2.0]) for p in range(4)])
    >>> es = event_study(t, c, [0, 1], [2, 3])
    >>> list(es["rel"]), [round(abs(x), 6) for x in es["est"]]
    ([-2, -1, 0, 1], [0.0, 0.0, 2.0, 2.0])
    """
    from scipy.stats import t as tdist

    pre, post = sorted(pre), sorted(post)
    d = _stack(treated, control)
    d = d[d["period"].isin(pre + post)].reset_index(drop=True)
    cols = ["period", "rel", "est", "ci.lower", "ci.upper"]
    if not pre or not post or d["treated"].nunique() < 2:
        out = pd.DataFrame(columns=cols)
        out.attrs["ci.level"] = 1 - alpha
        return out
    ref = pre[-1]
    others = [p for p in pre + post if p != ref]
    per = d["period"].to_numpy()
    tr = d["treated"].to_numpy()
    inter = np.column_stack([tr * (per == p) for p in others]) if others else np.zeros((len(d), 0))
    X = np.column_stack([np.ones(len(d)), tr, _period_dummies(per), inter])
    y = (d["num"] / d["den"]).to_numpy(dtype=float)
    fit = _fit(y, X, d["den"].to_numpy(dtype=float), d["cluster"].to_numpy())
    k = len(others)
    est = np.asarray(fit.params)[-k:] if k else np.zeros(0)
    se = np.asarray(fit.bse)[-k:] if k else np.zeros(0)
    crit = float(tdist.ppf(1 - alpha / 2, d["cluster"].nunique() - 1))
    first_post = post[0]
    rows = [{"period": ref, "rel": -1, "est": 0.0, "ci.lower": 0.0, "ci.upper": 0.0}]
    for p, e, s in zip(others, est, se):
        rel = (p - first_post) if p >= first_post else (p - ref - 1)
        rows.append({"period": p, "rel": int(rel), "est": float(e), "ci.lower": float(e - crit * s),
                     "ci.upper": float(e + crit * s)})
    out = pd.DataFrame(rows, columns=cols).sort_values("period", ignore_index=True)
    out.attrs["ci.level"] = 1 - alpha
    return out

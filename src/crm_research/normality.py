"""Normality diagnostics that justify an estimator: Mardia's multivariate skewness and
kurtosis, per-item distributions, and a plain recommendation (ML, MLR or WLSMV).

* :func:`mardia` -- Mardia's (1970) multivariate skewness ``b1p`` and kurtosis ``b2p`` with
  their tests, exactly as ``psych::mardia`` (complete cases, covariance with ``n - 1``).
* :func:`item_distributions` -- per item: n, mean, SD, skewness and excess kurtosis
  (``psych::skew``/``psych::kurtosi``, type 3 by default), number of answer categories
  and the shares of answers at the lowest and highest observed point (floor/ceiling).
* :func:`recommend_estimator` -- which estimator suits these items and why
  (:class:`EstimatorAdvice`).

The recommendation rule (documented in :func:`recommend_estimator`):

1. **Few categories, or many but piled at one end -> WLSMV with the items ordered.**  With
   five or fewer answer categories the items are ordinal rather than continuous, and
   categorical least squares (polychoric correlations, WLSMV) estimates loadings and their
   SEs better than normal-theory or robust ML (Rhemtulla, Brosseau-Liard & Savalei, 2012;
   Beauducel & Herzberg, 2006).  With six or seven categories robust ML does as well,
   except when the answers are strongly asymmetric (Rhemtulla et al., 2012): we call that
   more than 25% of an item's answers at its lowest or highest point (well beyond the 15%
   that Terwee et al., 2007, call a floor/ceiling effect).
2. **Otherwise treat the items as continuous.**  If they are not multivariate normal --
   Mardia's skewness or kurtosis test at p < .05 (Mardia, 1970), or an item with
   |skewness| > 2 or excess kurtosis > 7 (West, Finch & Curran, 1995) -- use **MLR**
   (ML estimates with Huber-White robust SEs and the Yuan-Bentler scaled test; Yuan &
   Bentler, 2000), else **ML**.
3. **Missing answers**: full-information ML (``missing="ml"``) with ML/MLR (Enders &
   Bandalos, 2001); pairwise polychorics (``missing="pairwise"``) with WLSMV, as lavaan
   allows for categorical data.

References: Beauducel, A., & Herzberg, P. Y. (2006). Structural Equation Modeling, 13, 186-203.
Enders, C. K., & Bandalos, D. L. (2001). Structural Equation Modeling, 8, 430-457.
Mardia, K. V. (1970). Biometrika, 57, 519-530.  Rhemtulla, M., Brosseau-Liard, P. E., &
Savalei, V. (2012). Psychological Methods, 17, 354-373.  Terwee, C. B., et al. (2007). Journal
of Clinical Epidemiology, 60, 34-42.  West, S. G., Finch, J. F., & Curran, P. J. (1995). In R. H.
Hoyle (Ed.), Structural equation modeling (pp. 56-75). Sage.  Yuan, K.-H., & Bentler, P. M.
(2000). Sociological Methodology, 30, 165-200.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import pandas as pd

from .errors import InsufficientDataError, ModelError
from .reporting.format import format_number, format_p, format_percent, html_table

#: thresholds of the recommendation rule (see the module docstring)
MAX_ORDINAL_CATEGORIES = 5
ASYMMETRIC_CATEGORIES = 7
STRONG_FLOOR_CEILING = 0.25
SKEW_LIMIT = 2.0
KURTOSIS_LIMIT = 7.0
ALPHA = 0.05


def _items(data, items, what: str) -> pd.DataFrame:
    if not isinstance(data, pd.DataFrame):
        raise ModelError(f"{what}: data must be a pandas DataFrame, got {type(data).__name__}",
                         hint="pass the answers as a DataFrame, one column per item")
    items = list(data.columns) if items is None else ([items] if isinstance(items, str) else list(items))
    if not items:
        raise ModelError(f"{what}: no items given", hint="pass items=['q1', 'q2', ...]")
    missing = [c for c in items if c not in data.columns]
    if missing:
        raise ModelError(f"{what}: column(s) not in the data: {', '.join(map(str, missing))}",
                         hint="check the item names against data.columns")
    X = data[items]
    bad = [c for c in items if not pd.api.types.is_numeric_dtype(X[c])]
    if bad:
        raise ModelError(f"{what}: column(s) not numeric: {', '.join(map(str, bad))}",
                         hint="recode the answers as numbers (e.g. 1-5) first")
    return X.astype(float)


# ------------------------------------------------------------------ Mardia
def mardia(data: pd.DataFrame, items: Sequence[str] | None = None) -> pd.DataFrame:
    """Mardia's multivariate skewness and kurtosis tests, as ``psych::mardia``.

    Parameters
    ----------
    data : DataFrame
    items : list of str, optional
        Columns to test (default: all); rows with a missing value are left out.

    Returns
    -------
    DataFrame
        Rows ``skewness``, ``skewness (small sample)``, ``kurtosis``; columns ``test``,
        ``coefficient`` (b1p, b1p, b2p), ``statistic`` (chi-square, chi-square, z), ``df``
        (``p(p+1)(p+2)/6``; none for the z test) and ``pvalue``.  ``attrs``: ``n``, ``p``.

    Raises
    ------
    ModelError
        Unknown or non-numeric columns.
    InsufficientDataError
        Fewer complete rows than items + 1, or a singular covariance matrix.

    Examples
    --------
    >>> import pandas as pd
    >>> hs = pd.read_csv("tests/reference/lavaan/HolzingerSwineford1939.csv")
    >>> m = mardia(hs, [f"x{i}" for i in range(1, 10)])
    >>> m[["test", "coefficient", "pvalue"]].round(3).values.tolist()[0]
    ['skewness', 6.807, 0.0]
    """
    X = _items(data, items, "mardia").dropna().to_numpy()
    n, p = X.shape
    if n <= p:
        raise InsufficientDataError(f"mardia: {n} complete rows for {p} items; need at least {p + 1}",
                                    hint="use fewer items or more respondents")
    Xc = X - X.mean(axis=0)
    S = np.cov(Xc, rowvar=False, ddof=1)
    try:
        Sinv = np.linalg.inv(S)
    except np.linalg.LinAlgError:
        raise InsufficientDataError("mardia: the items' covariance matrix is singular (an item is constant or a "
                                    "linear combination of others)", hint="drop constant or duplicated items")
    from scipy.stats import chi2, norm

    D = Xc @ Sinv @ Xc.T
    b1p = float(np.sum(D ** 3) / n ** 2)
    b2p = float(np.sum(np.diag(D) ** 2) / n)     # psych: tr(D^2) with D^2 elementwise
    df = p * (p + 1) * (p + 2) / 6
    k = (p + 1) * (n + 1) * (n + 3) / (n * ((n + 1) * (p + 1) - 6))
    skew = n * b1p / 6
    small = n * k * b1p / 6
    kurt = (b2p - p * (p + 2)) * np.sqrt(n / (8 * p * (p + 2)))
    out = pd.DataFrame({"test": ["skewness", "skewness (small sample)", "kurtosis"],
                        "coefficient": [b1p, b1p, b2p], "statistic": [skew, small, kurt],
                        "df": [df, df, np.nan],
                        "pvalue": [chi2.sf(skew, df), chi2.sf(small, df), 2 * norm.sf(abs(kurt))]})
    out.attrs.update({"n": int(n), "p": int(p)})
    return out


# ------------------------------------------------------------------ items
def _skew_kurt(x: np.ndarray, type: int):
    n = len(x)
    d = x - x.mean()
    m2 = np.mean(d ** 2)
    g1 = np.mean(d ** 3) / m2 ** 1.5
    g2 = np.mean(d ** 4) / m2 ** 2 - 3
    if type == 1:
        return g1, g2
    if type == 2:
        G1 = g1 * np.sqrt(n * (n - 1)) / (n - 2) if n > 2 else np.nan
        G2 = ((n + 1) * g2 + 6) * (n - 1) / ((n - 2) * (n - 3)) if n > 3 else np.nan
        return G1, G2
    return g1 * ((n - 1) / n) ** 1.5, (g2 + 3) * (1 - 1 / n) ** 2 - 3


def item_distributions(data: pd.DataFrame, items: Sequence[str] | None = None, *, type: int = 3) -> pd.DataFrame:
    """Per-item distribution: n, mean, SD, skewness, excess kurtosis, categories, floor/ceiling.

    Parameters
    ----------
    data : DataFrame
    items : list of str, optional
        Default: all columns.
    type : {1, 2, 3}
        Skewness/kurtosis estimator as ``psych::skew``/``psych::kurtosi`` (and
        ``e1071``): 1 = moment (g1, g2), 2 = SAS/SPSS (G1, G2), 3 = psych's default.

    Returns
    -------
    DataFrame
        One row per item: ``item, n, mean, sd, skew, kurtosis`` (excess, 0 for a normal
        distribution), ``categories`` (distinct answers), ``floor``, ``ceiling`` (shares
        of answers at the lowest / highest observed value).

    Examples
    --------
    >>> import pandas as pd
    >>> d = pd.DataFrame({"q1": [1, 2, 2, 3, 5, 5, 5, 5], "q2": [1, 2, 3, 4, 5, 4, 3, 2]})
    >>> item_distributions(d)[["item", "categories", "ceiling"]].values.tolist()
    [['q1', 4, 0.5], ['q2', 5, 0.125]]
    """
    if type not in (1, 2, 3):
        raise ModelError(f"type={type!r} is not a skewness/kurtosis type", hint="use 1, 2 or 3 (psych's default)")
    X = _items(data, items, "item_distributions")
    rows = []
    for c in X.columns:
        x = X[c].dropna().to_numpy()
        n = len(x)
        if n >= 2 and np.std(x) > 0:
            sk, ku = _skew_kurt(x, type)
        else:
            sk = ku = np.nan
        rows.append({"item": c, "n": n, "mean": x.mean() if n else np.nan,
                     "sd": x.std(ddof=1) if n > 1 else np.nan, "skew": sk, "kurtosis": ku,
                     "categories": int(len(np.unique(x))),
                     "floor": float(np.mean(x == x.min())) if n else np.nan,
                     "ceiling": float(np.mean(x == x.max())) if n else np.nan})
    return pd.DataFrame(rows)


# ------------------------------------------------------------------ advice
@dataclass
class EstimatorAdvice:
    """Which estimator suits the items, and why (see :func:`recommend_estimator`).

    Attributes
    ----------
    estimator : str
        "ML", "MLR" or "WLSMV" (lavaan's names; pass to ``sem.fit(estimator=...)``).
    ordered : list of str
        Items to declare ordinal (``sem.fit(ordered=...)``); empty unless WLSMV.
    missing : str
        ``sem.fit(missing=...)``: "listwise" (no missing answers), "ml" (FIML with ML/MLR)
        or "pairwise" (WLSMV).
    reasons : list of str
        The rule's steps that decided, in plain words with the numbers.
    items : DataFrame
        :func:`item_distributions` of the items.
    mardia : DataFrame or None
        :func:`mardia` (None when it could not be computed).

    Examples
    --------
    >>> import pandas as pd
    >>> advice = recommend_estimator(pd.read_csv("tests/data/ecsi/mobi.csv"))
    >>> advice.fit_options()
    {'estimator': 'MLR', 'missing': 'listwise'}
    >>> print(advice.summary().splitlines()[0])
    Recommended estimator: MLR; missing answers: listwise
    """

    estimator: str
    ordered: list = field(default_factory=list)
    missing: str = "listwise"
    reasons: list = field(default_factory=list)
    items: pd.DataFrame | None = None
    mardia: pd.DataFrame | None = None

    def fit_options(self) -> dict:
        """Keyword arguments for :func:`crm_research.sem.fit`."""
        out = {"estimator": self.estimator, "missing": self.missing}
        if self.ordered:
            out["ordered"] = list(self.ordered)
        return out

    def summary(self) -> str:
        head = f"Recommended estimator: {self.estimator}"
        if self.ordered:
            head += f" with {len(self.ordered)} item(s) declared ordinal"
        head += f"; missing answers: {self.missing}"
        return "\n".join([head] + [f"  - {r}" for r in self.reasons])

    def __repr__(self) -> str:
        return f"<EstimatorAdvice {self.estimator}, ordered={len(self.ordered)} items, missing={self.missing!r}>"

    def _repr_html_(self) -> str:
        import html

        lis = "".join(f"<li>{html.escape(r)}</li>" for r in self.reasons)
        tab = ""
        if self.items is not None:
            show = self.items[["item", "n", "skew", "kurtosis", "categories", "floor", "ceiling"]]
            tab = html_table(show, decimals=2)
        return (f"<div><p><b>Recommended estimator: {html.escape(self.estimator)}</b>"
                f"{' (ordered items: ' + str(len(self.ordered)) + ')' if self.ordered else ''}; "
                f"missing answers: {html.escape(self.missing)}</p><ul>{lis}</ul>{tab}</div>")


def recommend_estimator(data: pd.DataFrame, items: Sequence[str] | None = None, *, points: int | None = None,
                        missing: str | None = None) -> EstimatorAdvice:
    """Recommend ML, MLR or WLSMV for these items, with reasons.

    The rule (sources in the module docstring):

    1. an item with at most 5 answer categories, or with 6-7 categories and more than 25%
       of its answers at the lowest or highest point -> **WLSMV**, all items ordered;
    2. otherwise, not multivariate normal (Mardia skewness or kurtosis p < .05, or some
       |skew| > 2 or excess kurtosis > 7) -> **MLR**;
    3. otherwise **ML**.

    Missing answers: FIML (``missing="ml"``) with ML/MLR, pairwise with WLSMV.

    Parameters
    ----------
    data : DataFrame
    items : list of str, optional
        The model's items (default: all columns).
    points : int, optional
        Number of answer categories of the scale (e.g. 5 for a 5-point Likert scale);
        default: the distinct answers observed per item.
    missing : {"listwise", "ml", "pairwise"}, optional
        Force a missing-data treatment; default: from the data (see above).

    Returns
    -------
    EstimatorAdvice

    Examples
    --------
    >>> import pandas as pd
    >>> mobi = pd.read_csv("tests/data/ecsi/mobi.csv")
    >>> advice = recommend_estimator(mobi)
    >>> advice.estimator, advice.missing
    ('MLR', 'listwise')
    >>> recommend_estimator(mobi, points=5).estimator
    'WLSMV'
    """
    X = _items(data, items, "recommend_estimator")
    if points is not None and (not isinstance(points, (int, np.integer)) or isinstance(points, bool) or points < 2):
        raise ModelError(f"points={points!r} must be the number of answer categories (an integer >= 2)",
                         hint="e.g. points=5 for a 5-point scale")
    if missing is not None and missing not in ("listwise", "ml", "pairwise"):
        raise ModelError(f"missing={missing!r} is not supported", hint="use 'listwise', 'ml' or 'pairwise'")
    dist = item_distributions(X)
    cats = dist["categories"].to_numpy() if points is None else np.full(len(dist), int(points))
    reasons = []
    few = dist["item"][cats <= MAX_ORDINAL_CATEGORIES].tolist()
    piled = dist[(cats <= ASYMMETRIC_CATEGORIES) & (cats > MAX_ORDINAL_CATEGORIES)
                 & (dist[["floor", "ceiling"]].max(axis=1) > STRONG_FLOOR_CEILING)]
    has_missing = bool(X.isna().any().any())
    mard = None
    try:
        mard = mardia(X)
    except InsufficientDataError:
        mard = None
    if few or len(piled):
        est = "WLSMV"
        ordered = list(X.columns)
        if few:
            src = f"the scale has {int(points)} points" if points is not None else \
                f"{len(few)} item(s) have {int(cats.min())} to {MAX_ORDINAL_CATEGORIES} answer categories"
            reasons.append(f"{src}: answers with so few categories are ordinal, and WLSMV on polychoric "
                           "correlations estimates them better than (robust) ML (Rhemtulla et al., 2012)")
        if len(piled):
            worst = piled.assign(end=piled[["floor", "ceiling"]].max(axis=1)).sort_values("end").iloc[-1]
            reasons.append(f"{len(piled)} item(s) with 6-7 categories pile up at one end (e.g. {worst['item']}: "
                           f"{format_percent(worst['end'], 0)} of answers at the lowest or highest point, "
                           f"more than {format_percent(STRONG_FLOOR_CEILING, 0)}): strongly asymmetric answers "
                           "favour WLSMV (Rhemtulla et al., 2012)")
        miss = missing or ("pairwise" if has_missing else "listwise")
    else:
        ordered = []
        reasons.append(f"every item has at least {int(cats.min())} answer categories: treated as continuous")
        nonnormal = []
        if mard is not None:
            ps, pk = float(mard["pvalue"].iat[0]), float(mard["pvalue"].iat[2])
            if ps < ALPHA:
                nonnormal.append(f"Mardia's multivariate skewness b1p = {format_number(mard['coefficient'].iat[0])}, "
                                 f"p {_p(ps)}")
            if pk < ALPHA:
                nonnormal.append(f"Mardia's multivariate kurtosis b2p = {format_number(mard['coefficient'].iat[2])}, "
                                 f"z = {format_number(mard['statistic'].iat[2])}, p {_p(pk)}")
        sk = dist[dist["skew"].abs() > SKEW_LIMIT]
        ku = dist[dist["kurtosis"] > KURTOSIS_LIMIT]
        if len(sk):
            nonnormal.append(f"{len(sk)} item(s) with |skewness| > {format_number(SKEW_LIMIT, 0)} "
                             f"(e.g. {sk['item'].iat[0]}: {format_number(sk['skew'].iat[0])})")
        if len(ku):
            nonnormal.append(f"{len(ku)} item(s) with excess kurtosis > {format_number(KURTOSIS_LIMIT, 0)} "
                             f"(e.g. {ku['item'].iat[0]}: {format_number(ku['kurtosis'].iat[0])})")
        if nonnormal:
            est = "MLR"
            reasons.append("the answers are not multivariate normal (" + "; ".join(nonnormal) + "): MLR keeps the "
                           "ML estimates but gives robust standard errors and a scaled test (Yuan & Bentler, 2000; "
                           "West, Finch & Curran, 1995)")
        else:
            est = "ML"
            reasons.append("no sign of non-normality (Mardia's tests p >= .05, |skewness| <= 2, excess kurtosis "
                           "<= 7): normal-theory ML")
        miss = missing or ("ml" if has_missing else "listwise")
    if has_missing:
        share = float(X.isna().any(axis=1).mean())
        how = {"ml": "full-information ML uses every answer given (Enders & Bandalos, 2001)",
               "pairwise": "pairwise polychoric correlations use every pair of answers given (as lavaan)",
               "listwise": "listwise deletion drops them (as requested)"}[miss]
        reasons.append(f"{format_percent(share, 0)} of respondents skipped at least one item: {how}")
    return EstimatorAdvice(est, ordered, miss, reasons, dist, mard)


def _p(p: float) -> str:
    s = format_p(p)
    return s if s.startswith(("<", ">")) else f"= {s}"

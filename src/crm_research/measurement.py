"""Measurement quality of survey constructs: reliability, convergent and discriminant
validity, common-method bias.

One call does what a methods section needs, straight from an instrument::

    >>> import pandas as pd
    >>> from crm_research import instruments, measurement
    >>> data = pd.read_csv("tests/reference/lavaan/HolzingerSwineford1939.csv")
    >>> inst = instruments.load_instrument("tests/reference/lavaan/hs_abilities.yaml")
    >>> rep = measurement.assess_measurement(data, inst)
    >>> rep.reliability[["construct", "cr", "ave"]].round(2).to_dict("list")
    {'construct': ['VIS', 'TXT', 'SPD'], 'cr': [0.63, 0.88, nan], 'ave': [0.37, 0.72, nan]}

It fits the CFA itself (:func:`crm_research.sem.fit` on
:func:`crm_research.instruments.measurement_syntax`) and returns a :class:`MeasurementReport`
with tidy tables:

``loadings``
    standardized loadings (lavaan's ``std.all``) of items on first-order constructs and of
    dimensions on higher-order constructs, with the unstandardized estimate's SE, z and p.
``reliability``
    Cronbach's alpha with its Feldt confidence interval, McDonald's omega (congeneric
    one-factor model per construct), composite reliability (CR) and average variance
    extracted (AVE); for higher-order constructs CR and AVE of the second-order loadings.
``fornell_larcker``
    sqrt(AVE) on the diagonal, latent correlations off the diagonal.
``htmt``
    heterotrait-monotrait ratio of item correlations (Henseler, Ringle & Sarstedt 2015).
``harman``
    Harman's single-factor test (unrotated principal components by default).

Every statistic is flagged against :class:`Thresholds` (alpha, omega and CR >= .70,
AVE >= .50, HTMT < .85, loadings >= .60, Harman first factor <= 50 %). A ``flag`` column is
True where a value *falls short* of its threshold; ``problems`` says which and by how much.

Single-item constructs (``F =~ x`` with x's error variance fixed to 0, or to (1 - reliability)
x var(x)) are reported as the literature does: their row says "single item" with the declared
(or assumed, 1) reliability; no alpha, omega, CR or AVE is computed and nothing is flagged;
HTMT is undefined for their pairs; Fornell-Larcker rests on the other construct's sqrt(AVE).

Missing answers: ``missing="ml"`` (default) fits the CFAs by full-information ML and takes
alpha, HTMT and Harman's test from the EM estimate of the item covariances;
``missing="listwise"`` uses the respondents who answered every item.  The report says which
and how many respondents were used.

The formulas are also available one by one (:func:`composite_reliability`,
:func:`average_variance_extracted`, :func:`mcdonald_omega`, :func:`cronbach_alpha`,
:func:`htmt`, :func:`fornell_larcker`, :func:`latent_correlations`, :func:`harman_test`) for
use with any fitted model or correlation matrix.
"""
from __future__ import annotations

import html
import math
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from .errors import ConfigError, DataFileError, InsufficientDataError, ModelError
from .reporting.format import format_number, format_p, html_table, markdown_table
from .sem.result import estimates_of, fit_measures_of, fit_sentence, warnings_of

if TYPE_CHECKING:  # pragma: no cover
    from .instruments import Instrument

__all__ = [
    "Thresholds", "MeasurementReport", "HarmanResult", "assess_measurement",
    "standardized_loadings", "reliability_table", "composite_reliability",
    "average_variance_extracted", "mcdonald_omega", "cronbach_alpha", "latent_correlations",
    "fornell_larcker", "htmt", "harman_test", "alpha_from_cov", "single_item_constructs",
]

CHECK, CROSS = "\u2713", "\u2717"


# --------------------------------------------------------------------------- thresholds
@dataclass(frozen=True)
class Thresholds:
    """Cut-offs used to flag measurement statistics.

    Defaults are the conventional ones (Hair et al.; Fornell & Larcker 1981; Henseler et al.
    2015; Podsakoff et al. 2003). Use ``Thresholds(htmt=0.90)`` for the liberal HTMT cut-off
    of conceptually close constructs.

    Parameters
    ----------
    loading : float
        Minimum standardized loading (default .60).
    alpha, omega, cr : float
        Minimum Cronbach's alpha, McDonald's omega and composite reliability (default .70).
    ave : float
        Minimum average variance extracted (default .50).
    htmt : float
        HTMT must be *below* this (default .85).
    harman : float
        Harman's first unrotated factor may explain at most this share of variance (.50).

    Examples
    --------
    >>> th = Thresholds(htmt=0.90)
    >>> th.htmt, th.loading
    (0.9, 0.6)
    >>> Thresholds(ave=1.5)
    Traceback (most recent call last):
    ...
    crm_research.errors.ConfigError: Thresholds: ave: must be a number in (0, 1], got 1.5 (fix: e.g. Thresholds(ave=0.5))
    """

    loading: float = 0.60
    alpha: float = 0.70
    omega: float = 0.70
    cr: float = 0.70
    ave: float = 0.50
    htmt: float = 0.85
    harman: float = 0.50

    def __post_init__(self) -> None:
        for f in fields(self):
            v = getattr(self, f.name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not (0 < float(v) <= 1):
                raise ConfigError("Thresholds", f.name, f"must be a number in (0, 1], got {v!r}",
                                  hint=f"e.g. Thresholds({f.name}={getattr(Thresholds, f.name)})")


# --------------------------------------------------------------------------- formatting
def _mark(ok: Any) -> str:
    if ok is None or (isinstance(ok, float) and math.isnan(ok)):
        return ""
    return CHECK if bool(ok) else CROSS


def _latents(est: pd.DataFrame) -> list[str]:
    return list(dict.fromkeys(est.loc[est.op == "=~", "lhs"]))


# --------------------------------------------------------------------------- formulas
def composite_reliability(loadings: Sequence[float], residuals: Sequence[float] | None = None) -> float:
    """Composite reliability (Jöreskog's rho; Fornell & Larcker 1981) from standardized loadings.

    ``CR = (sum l)^2 / ((sum l)^2 + sum theta)`` with ``theta = 1 - l^2`` unless the
    standardized residual variances are given.

    Parameters
    ----------
    loadings : sequence of float
        Standardized loadings of one construct.
    residuals : sequence of float, optional
        Standardized residual variances (default ``1 - loading**2``).

    Returns
    -------
    float

    Examples
    --------
    >>> round(composite_reliability([0.8, 0.7, 0.6]), 4)
    0.7449
    """
    lam = np.asarray(loadings, dtype=float)
    theta = 1 - lam ** 2 if residuals is None else np.asarray(residuals, dtype=float)
    num = lam.sum() ** 2
    return float(num / (num + theta.sum()))


def average_variance_extracted(loadings: Sequence[float]) -> float:
    """Average variance extracted: the mean squared standardized loading.

    Parameters
    ----------
    loadings : sequence of float
        Standardized loadings of one construct.

    Returns
    -------
    float

    Examples
    --------
    >>> round(average_variance_extracted([0.8, 0.7, 0.6]), 4)
    0.4967
    """
    lam = np.asarray(loadings, dtype=float)
    return float(np.mean(lam ** 2))


def mcdonald_omega(loadings: Sequence[float], residual_variances: Sequence[float]) -> float:
    """McDonald's omega of a congeneric one-factor model:
    ``(sum lambda)^2 / ((sum lambda)^2 + sum theta)``, loadings on the metric of a factor with
    variance 1 (lavaan's ``std.lv``), residual variances unstandardized.

    Parameters
    ----------
    loadings : sequence of float
        Loadings with the factor variance fixed to 1.
    residual_variances : sequence of float
        The items' residual variances.

    Returns
    -------
    float

    Examples
    --------
    >>> round(mcdonald_omega([0.9, 0.8, 0.7], [0.4, 0.5, 0.6]), 4)
    0.7934
    """
    lam = np.asarray(loadings, dtype=float)
    th = np.asarray(residual_variances, dtype=float)
    num = lam.sum() ** 2
    return float(num / (num + th.sum()))


def _require_alpha_size(n: int, k: int, cases: str) -> None:
    if k < 2:
        raise InsufficientDataError(f"Cronbach's alpha needs at least 2 items, got {k}",
                                    hint="a single item has no internal consistency; declare it as a single "
                                         "item with a stated reliability instead")
    if n < 3:
        raise InsufficientDataError(f"Cronbach's alpha needs at least 3 {cases}, got {n} (items: {k})",
                                    hint="collect more responses or check that the item columns are not mostly empty")


def cronbach_alpha(items: pd.DataFrame, ci: float = 0.95) -> tuple[float, float, float]:
    """Cronbach's alpha of the columns of ``items`` (complete rows) with Feldt's CI.

    Alpha comes from :func:`pingouin.cronbach_alpha`; the interval uses pingouin's own Feldt
    F-distribution formula but is computed here unrounded (pingouin rounds it to 3 decimals).

    Parameters
    ----------
    items : DataFrame
        One column per item; rows with a missing item are dropped.
    ci : float
        Confidence level of Feldt's interval.

    Returns
    -------
    (alpha, ci.lower, ci.upper) : tuple of float

    Raises
    ------
    InsufficientDataError
        Fewer than 2 items or fewer than 3 complete cases (a ``ValueError``).

    Examples
    --------
    >>> import pandas as pd
    >>> items = pd.DataFrame({"a": [1, 2, 3, 4, 5], "b": [2, 2, 3, 5, 4], "c": [1, 3, 3, 4, 5]})
    >>> [round(x, 3) for x in cronbach_alpha(items)]
    [0.945, 0.723, 0.994]
    >>> cronbach_alpha(items.iloc[:2])
    Traceback (most recent call last):
    ...
    crm_research.errors.InsufficientDataError: Cronbach's alpha needs at least 3 complete cases (rows without a missing item; 2 row(s) in all), got 2 (items: 3) (fix: collect more responses or check that the item columns are not mostly empty)
    """
    import pingouin as pg
    from scipy.stats import f as f_dist

    n_rows = len(items)
    items = items.dropna()
    n, k = items.shape
    _require_alpha_size(n, k, f"complete cases (rows without a missing item; {n_rows} row(s) in all)")
    a, _ = pg.cronbach_alpha(data=items.astype(float), ci=ci, nan_policy="listwise")
    a = float(a)
    lev = 1 - ci
    df1, df2 = n - 1, (n - 1) * (k - 1)
    lo = 1 - (1 - a) * f_dist.isf(lev / 2, df1, df2)
    hi = 1 - (1 - a) * f_dist.isf(1 - lev / 2, df1, df2)
    return a, float(lo), float(hi)


def alpha_from_cov(cov: pd.DataFrame | np.ndarray, n: int, ci: float = 0.95) -> tuple[float, float, float]:
    """Cronbach's alpha of items with covariance matrix ``cov`` and Feldt's CI for ``n`` respondents.

    ``alpha = k / (k - 1) * (1 - trace(C) / sum(C))``, the formula :func:`cronbach_alpha` applies
    to complete rows (any covariance divisor gives the same alpha).  Used with the EM
    (saturated ML) covariance matrix of incomplete data under ``missing="ml"``.

    Parameters
    ----------
    cov : DataFrame or ndarray
        Item covariance matrix (k x k).
    n : int
        Respondents behind ``cov`` (for the interval).
    ci : float
        Confidence level of Feldt's interval.

    Returns
    -------
    (alpha, ci.lower, ci.upper) : tuple of float

    Raises
    ------
    InsufficientDataError
        Fewer than 2 items or fewer than 3 respondents.

    Examples
    --------
    >>> import pandas as pd
    >>> items = pd.DataFrame({"a": [1, 2, 3, 4, 5], "b": [2, 2, 3, 5, 4], "c": [1, 3, 3, 4, 5]})
    >>> alpha_from_cov(items.cov(), len(items)) == cronbach_alpha(items)
    True
    """
    from scipy.stats import f as f_dist

    C = np.asarray(cov, dtype=float)
    k = C.shape[0]
    _require_alpha_size(n, k, "respondents")
    a = k / (k - 1) * (1 - np.trace(C) / C.sum())
    lev = 1 - ci
    df1, df2 = n - 1, (n - 1) * (k - 1)
    lo = 1 - (1 - a) * f_dist.isf(lev / 2, df1, df2)
    hi = 1 - (1 - a) * f_dist.isf(1 - lev / 2, df1, df2)
    return float(a), float(lo), float(hi)


def latent_correlations(result: Any) -> pd.DataFrame:
    """Model-implied correlations among all latent variables of a fitted model.

    Built from the unstandardized estimates: ``Cov(eta) = (I - B)^-1 Psi (I - B)^-T`` where
    ``B`` holds regressions among latents and higher-order loadings, ``Psi`` the latent
    (residual) variances and covariances. In a first-order CFA with correlated factors this
    equals lavaan's ``std.all`` of the factor covariances; under a higher-order model it gives
    the correlations the second-order factor implies.

    Parameters
    ----------
    result : SEMResult or estimates DataFrame

    Returns
    -------
    DataFrame
        Square, latent x latent, in order of definition.

    Examples
    --------
    >>> import pandas as pd
    >>> from crm_research import sem
    >>> hs = pd.read_csv("tests/reference/lavaan/HolzingerSwineford1939.csv")
    >>> res = sem.fit("visual =~ x1 + x2 + x3\\ntextual =~ x4 + x5 + x6", hs)
    >>> latent_correlations(res).round(3)
             visual  textual
    visual    1.000    0.461
    textual   0.461    1.000
    """
    est = estimates_of(result)
    lv = _latents(est)
    if not lv:
        raise ModelError("the model has no latent variables (no '=~' rows), so there are no latent correlations")
    ix = {v: i for i, v in enumerate(lv)}
    m = len(lv)
    B = np.zeros((m, m))
    Psi = np.zeros((m, m))
    for r in est.itertuples(index=False):
        if r.op == "=~" and r.rhs in ix:
            B[ix[r.rhs], ix[r.lhs]] = r.est
        elif r.op == "~" and r.lhs in ix and r.rhs in ix:
            B[ix[r.lhs], ix[r.rhs]] = r.est
        elif r.op == "~~" and r.lhs in ix and r.rhs in ix:
            Psi[ix[r.lhs], ix[r.rhs]] = Psi[ix[r.rhs], ix[r.lhs]] = r.est
    inv = np.linalg.inv(np.eye(m) - B)
    cov = inv @ Psi @ inv.T
    sd = np.sqrt(np.clip(np.diag(cov), 0, None))
    with np.errstate(divide="ignore", invalid="ignore"):
        cor = cov / np.outer(sd, sd)
    np.fill_diagonal(cor, 1.0)
    return pd.DataFrame(cor, index=lv, columns=lv)


def fornell_larcker(ave: Mapping[str, float] | pd.Series, correlations: pd.DataFrame) -> pd.DataFrame:
    """Fornell-Larcker matrix: sqrt(AVE) on the diagonal, latent correlations off it.

    Parameters
    ----------
    ave : mapping construct -> AVE
    correlations : DataFrame
        Latent correlations (e.g. from :func:`latent_correlations`), containing the constructs.

    Returns
    -------
    DataFrame
        Symmetric, in the order of ``ave``. Discriminant validity holds for construct *i* when
        its diagonal exceeds every absolute correlation in its row.

    Examples
    --------
    >>> import pandas as pd
    >>> r = pd.DataFrame([[1, .46], [.46, 1]], index=["V", "T"], columns=["V", "T"])
    >>> fornell_larcker({"V": 0.36, "T": 0.64}, r)
          V     T
    V  0.60  0.46
    T  0.46  0.80
    """
    names = list(ave.keys() if isinstance(ave, Mapping) else ave.index)
    missing = [c for c in names if c not in correlations.index]
    if missing:
        raise ModelError(f"no latent correlation for construct(s) {', '.join(missing)}")
    out = correlations.loc[names, names].astype(float).copy()
    for c in names:
        out.loc[c, c] = math.sqrt(ave[c]) if pd.notna(ave[c]) and ave[c] >= 0 else float("nan")
    return out


def _fl_ok(fl: pd.DataFrame) -> pd.Series:
    """Per construct: sqrt(AVE) above every |r| in its row (None without an AVE: single item)."""
    ok = {}
    for c in fl.index:
        others = fl.loc[c].drop(c).abs()
        if pd.isna(fl.loc[c, c]):
            ok[c] = None
        else:
            ok[c] = bool(fl.loc[c, c] > others.max()) if len(others) else True
    return pd.Series(ok, dtype=object)


def _fl_pair_ok(fl: pd.DataFrame, a: str, b: str) -> bool | None:
    """Fornell-Larcker for one pair: each sqrt(AVE) that exists exceeds |r|; None when neither
    construct has an AVE (two single items)."""
    r = abs(float(fl.loc[a, b]))
    roots = [float(fl.loc[c, c]) for c in (a, b) if pd.notna(fl.loc[c, c])]
    if not roots:
        return None
    return bool(all(x > r for x in roots))


def htmt(data: pd.DataFrame | None, blocks: "Mapping[str, Sequence[str]] | Instrument", *,
         corr: pd.DataFrame | None = None, method: str = "htmt", absolute: bool = True) -> pd.DataFrame:
    """Heterotrait-monotrait ratio of correlations (Henseler, Ringle & Sarstedt 2015).

    ``HTMT_ij = mean(r between items of i and j) / sqrt(mean(r among i's items) *
    mean(r among j's items))``; monotrait means over distinct item pairs. ``method="htmt2"``
    uses geometric instead of arithmetic means (Roemer, Schuberth & Henseler 2021). As in
    semTools' ``htmt()``, correlations are taken in absolute value by default.

    Parameters
    ----------
    data : DataFrame or None
        Item responses; Pearson correlations of complete rows are used.
    blocks : mapping construct -> item names, or an Instrument (its first-order constructs)
    corr : DataFrame, optional
        An item correlation (or covariance) matrix to use instead of ``data``.
    method : {"htmt", "htmt2"}
    absolute : bool

    Returns
    -------
    DataFrame
        Square, construct x construct, NaN on the diagonal; NaN where a construct has a
        single item (no monotrait correlation).

    Examples
    --------
    >>> R = pd.DataFrame([[1, .6, .3, .3], [.6, 1, .3, .3], [.3, .3, 1, .5], [.3, .3, .5, 1]],
    ...                  index=list("abcd"), columns=list("abcd"))
    >>> round(float(htmt(None, {"F": ["a", "b"], "G": ["c", "d"]}, corr=R).loc["F", "G"]), 4)
    0.5477
    """
    if method not in ("htmt", "htmt2"):
        raise ValueError(f"method must be 'htmt' or 'htmt2', got {method!r}")
    if not isinstance(blocks, Mapping):  # an Instrument
        blocks = {c.id: [it.id for it in c.items] for c in blocks.first_order}
    blocks = {k: list(v) for k, v in blocks.items()}
    items = [i for v in blocks.values() for i in v]
    if corr is None:
        if data is None:
            raise ValueError("give either data or corr")
        _require_columns(data, items, what="HTMT")
        R = data[items].astype(float).dropna().corr().to_numpy()
    else:
        miss = [i for i in items if i not in corr.index or i not in corr.columns]
        if miss:
            raise ModelError(f"correlation matrix lacks item(s) {', '.join(miss)}")
        R = corr.loc[items, items].to_numpy(dtype=float)
        d = np.sqrt(np.diag(R))
        R = R / np.outer(d, d)  # a covariance matrix becomes a correlation matrix
    pos = {it: i for i, it in enumerate(items)}
    if absolute or method == "htmt2":
        R = np.abs(R)

    def mean(vals: np.ndarray) -> float:
        if vals.size == 0:
            return float("nan")
        if method == "htmt2":
            with np.errstate(divide="ignore"):
                return float(np.exp(np.mean(np.log(vals))))
        return float(np.mean(vals))

    mono = {}
    for c, its in blocks.items():
        ix = [pos[i] for i in its]
        sub = R[np.ix_(ix, ix)]
        mono[c] = mean(sub[np.triu_indices(len(ix), k=1)])
    names = list(blocks)
    out = pd.DataFrame(np.nan, index=names, columns=names)
    for a_i, a in enumerate(names):
        for b in names[a_i + 1:]:
            het = mean(R[np.ix_([pos[i] for i in blocks[a]], [pos[i] for i in blocks[b]])].ravel())
            val = het / math.sqrt(mono[a] * mono[b]) if mono[a] > 0 and mono[b] > 0 else float("nan")
            out.loc[a, b] = out.loc[b, a] = val
    return out


# --------------------------------------------------------------------------- Harman
@dataclass
class HarmanResult:
    """Harman's single-factor test for common-method variance.

    Attributes
    ----------
    method : str
        ``"pca"`` (unrotated principal components of the item correlation matrix, the
        classic SPSS procedure) or ``"paf"`` (one principal-axis factor, iterated communalities).
    first_factor_share : float
        Share of the total item variance explained by the first unrotated factor.
    eigenvalues : Series
        Eigenvalues of the item correlation matrix (descending).
    n_factors_kaiser : int
        Number of eigenvalues above 1.
    flag : bool
        True when the first factor explains more than ``threshold``.
    single_factor_fit : DataFrame or None
        Optional: fit of a one-factor CFA over all items against the measurement model.
    comparison : object or None
        Chi-square difference test (:class:`crm_research.sem.ModelComparison`).

    Examples
    --------
    >>> import pandas as pd
    >>> hs = pd.read_csv("tests/reference/lavaan/HolzingerSwineford1939.csv")
    >>> h = harman_test(hs, [f"x{i}" for i in range(1, 10)])
    >>> round(h.first_factor_share, 3), h.n_factors_kaiser, h.flag
    (0.357, 3, False)
    """

    method: str
    n_items: int
    n_obs: int
    first_factor_share: float
    eigenvalues: pd.Series
    n_factors_kaiser: int
    threshold: float
    flag: bool
    single_factor_fit: pd.DataFrame | None = None
    comparison: Any = None

    @property
    def method_name(self) -> str:
        return ("unrotated principal component analysis" if self.method == "pca"
                else "unrotated principal-axis factoring (one factor)")

    def summary(self) -> str:
        pct = 100 * self.first_factor_share
        verdict = ("exceeds" if self.flag else "stays below") + f" {100 * self.threshold:.0f}%"
        s = (f"Harman's single-factor test ({self.method_name} of {self.n_items} items, N = {self.n_obs}): "
             f"the first factor explains {pct:.1f}% of the variance, which {verdict}"
             f"{' - common-method variance may be a concern' if self.flag else ''}; "
             f"{self.n_factors_kaiser} factor(s) have eigenvalues > 1.")
        if self.single_factor_fit is not None:
            t = self.single_factor_fit.copy()
            t["df"] = t["df"].astype("Int64")
            s += "\n  One-factor CFA vs measurement model:\n" + _indent(
                t.to_string(float_format=lambda v: f"{v:.3f}"), 4)
        if self.comparison is not None:
            s += "\n  " + self.comparison.verdict
        return s

    def _repr_html_(self) -> str:
        out = f"<p>{html.escape(self.summary().splitlines()[0])}</p>"
        if self.single_factor_fit is not None:
            out += html_table(self.single_factor_fit, index=True, decimals=3)
        return out

    def __repr__(self) -> str:
        return (f"HarmanResult(method={self.method!r}, first_factor_share={self.first_factor_share:.4f}, "
                f"flag={self.flag})")


def harman_test(data: pd.DataFrame | None, items: Sequence[str] | None = None, *, method: str = "pca",
                threshold: float = 0.50, corr: pd.DataFrame | None = None, n: int | None = None) -> HarmanResult:
    """Harman's single-factor test: the share of all items' variance explained by the first
    unrotated factor (Podsakoff et al. 2003). More than ``threshold`` (50 %) suggests a
    dominant common-method factor.

    Parameters
    ----------
    data : DataFrame
    items : list of str, optional
        Item columns (default: all numeric columns).
    method : {"pca", "paf"}
        ``"pca"``: first eigenvalue of the correlation matrix / number of items (the common
        SPSS "principal components, unrotated" procedure). ``"paf"``: one principal-axis
        factor with iterated communalities (starting from squared multiple correlations);
        share = sum of its squared loadings / number of items.
    corr : DataFrame, optional
        Item correlation matrix to use instead of the complete rows of ``data`` (e.g. the EM
        estimate under ``missing="ml"``, :func:`crm_research.sem.sample_moments`).
    n : int, optional
        Respondents behind ``corr`` (reported only).

    Returns
    -------
    HarmanResult

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> f = rng.normal(size=(500, 1))
    >>> df = pd.DataFrame(f + rng.normal(size=(500, 4)), columns=list("abcd"))
    >>> harman_test(df).first_factor_share > 0.5
    True
    """
    if method not in ("pca", "paf"):
        raise ValueError(f"method must be 'pca' or 'paf', got {method!r}")
    if corr is not None:
        items = list(corr.index) if items is None else list(items)
        miss = [i for i in items if i not in corr.index]
        if miss:
            raise ModelError(f"correlation matrix lacks item(s) {', '.join(miss)}")
        R = corr.loc[items, items].to_numpy(dtype=float)
        d = np.sqrt(np.diag(R))
        R = R / np.outer(d, d)
        p, n_obs = len(items), int(n) if n is not None else 0
    else:
        if data is None:
            raise ValueError("give either data or corr")
        if items is None:
            items = [c for c in data.columns if pd.api.types.is_numeric_dtype(data[c])]
        _require_columns(data, items, what="Harman's test")
        X = data[list(items)].astype(float).dropna()
        p, n_obs = X.shape[1], int(X.shape[0])
        R = X.corr().to_numpy() if p >= 2 else None
    if p < 2:
        raise ModelError(f"Harman's test needs at least 2 items, got {p}")
    ev = np.sort(np.linalg.eigvalsh(R))[::-1]
    if method == "pca":
        share = ev[0] / p
    else:
        try:
            h = 1 - 1 / np.diag(np.linalg.inv(R))
        except np.linalg.LinAlgError:
            h = np.max(np.abs(R - np.eye(p)), axis=1)
        for _ in range(1000):
            Rh = R.copy()
            np.fill_diagonal(Rh, h)
            w, V = np.linalg.eigh(Rh)
            lam = V[:, -1] * math.sqrt(max(w[-1], 0.0))
            h_new = lam ** 2
            if np.max(np.abs(h_new - h)) < 1e-9:
                h = h_new
                break
            h = h_new
        share = float(np.sum(lam ** 2)) / p
    return HarmanResult(method=method, n_items=p, n_obs=n_obs, first_factor_share=float(share),
                        eigenvalues=pd.Series(ev, index=range(1, p + 1), name="eigenvalue"),
                        n_factors_kaiser=int(np.sum(ev > 1)), threshold=threshold,
                        flag=bool(share > threshold))


# --------------------------------------------------------------------------- tables from a fit
SINGLE_ITEM = "single item"


def single_item_constructs(result: Any) -> list[str]:
    """Constructs measured by exactly one observed indicator in a fitted model (``F =~ x``).

    Such a construct is identified only because the indicator's error variance is fixed
    (``x ~~ 0*x``, or ``x ~~ v*x`` with v = (1 - reliability) var(x)), so its loading,
    reliability and AVE are declared, not estimated.

    Parameters
    ----------
    result : SEMResult or estimates DataFrame
        With ``lhs, op, rhs`` columns.

    Returns
    -------
    list of str
        In order of definition.

    Examples
    --------
    >>> est = pd.DataFrame({"lhs": ["F", "F", "G", "y"], "op": ["=~", "=~", "=~", "~~"],
    ...                     "rhs": ["a", "b", "y", "y"], "est": [1, .8, 1, 0]})
    >>> single_item_constructs(est)
    ['G']
    """
    est = estimates_of(result)
    lv = set(_latents(est))
    ld = est[(est.op == "=~") & ~est.rhs.isin(lv)]
    counts = ld.groupby("lhs", sort=False).size()
    return [str(c) for c, k in counts.items() if k == 1 and not (est[(est.op == "=~") & (est.lhs == c)].rhs
                                                                 .isin(lv).any())]


def standardized_loadings(result: Any, thresholds: Thresholds | None = None) -> pd.DataFrame:
    """Standardized loadings of a fitted model as a tidy table.

    Columns: ``construct, level, item, loading`` (lavaan ``std.all``), ``est, se, z, pvalue``
    (of the unstandardized loading; the marker's are missing because it is fixed),
    ``single_item`` (the construct has this one indicator: its loading follows from the fixed
    error variance and is not judged) and ``flag`` (True when an estimated loading is below
    ``thresholds.loading``). ``level`` is ``first-order`` for items and ``second-order`` for
    dimensions of a higher-order construct.

    Parameters
    ----------
    result : SEMResult or estimates DataFrame
        A fitted CFA (lavaan-style estimates with ``std.all``).
    thresholds : Thresholds, optional
        ``thresholds.loading`` decides ``flag``.

    Returns
    -------
    DataFrame
        One row per loading (the columns above).

    Examples
    --------
    >>> import pandas as pd
    >>> from crm_research import sem
    >>> hs = pd.read_csv("tests/reference/lavaan/HolzingerSwineford1939.csv")
    >>> res = sem.fit("visual =~ x1 + x2 + x3\\ntextual =~ x4 + x5 + x6", hs)
    >>> standardized_loadings(res)[["construct", "item", "loading", "flag"]].round(3).head(3)
      construct   item  loading   flag
    0    visual     x1    0.778  False
    1    visual     x2    0.431   True
    2    visual     x3    0.568   True
    """
    th = thresholds or Thresholds()
    est = estimates_of(result)
    lv = set(_latents(est))
    single = set(single_item_constructs(est))
    rows = est[est.op == "=~"]
    out = pd.DataFrame({
        "construct": rows.lhs.values,
        "level": np.where(rows.rhs.isin(lv), "second-order", "first-order"),
        "item": rows.rhs.values,
        "loading": rows["std.all"].values,
        "est": rows.est.values,
        "se": np.where(rows.z.isna(), np.nan, rows.se.values),
        "z": rows.z.values,
        "pvalue": rows.pvalue.values,
    })
    out["single_item"] = out.construct.isin(single).to_numpy(bool)
    out["flag"] = ~(out["loading"] >= th.loading) & ~out["single_item"]
    return out


def _single_item_note(reliability: float | None) -> str:
    if reliability is None or pd.isna(reliability) or reliability >= 1:
        return "single item: error variance fixed to 0 (reliability assumed 1); no alpha, omega, CR or AVE"
    return (f"single item: error variance fixed to (1 - {format_number(reliability, 2, bounded=True)}) x its variance "
            f"(reliability {format_number(reliability, 2, bounded=True)} declared); no alpha, omega, CR or AVE")


def reliability_table(data: pd.DataFrame | None, blocks: Mapping[str, Sequence[str]], result: Any = None, *,
                      thresholds: Thresholds | None = None, omega: Mapping[str, float] | None = None,
                      levels: Mapping[str, str] | None = None, ci: float = 0.95,
                      cov: pd.DataFrame | None = None, n: int | None = None,
                      reliability: Mapping[str, float | None] | None = None) -> pd.DataFrame:
    """Reliability and convergent validity per construct.

    Parameters
    ----------
    data : DataFrame or None
        Item responses (for Cronbach's alpha, complete rows per construct); not needed with
        ``cov``.
    blocks : mapping construct -> item names
        Items whose alpha is computed (for a higher-order construct: all its items).
    result : SEMResult or estimates table, optional
        Fitted CFA; CR and AVE come from its standardized loadings of each construct
        (items for first-order, dimensions for higher-order constructs).
    omega : mapping construct -> omega, optional
    levels : mapping construct -> "first-order" | "second-order"
    cov : DataFrame, optional
        Item covariance matrix for alpha (e.g. the EM estimate under ``missing="ml"``), with
        ``n`` respondents for its confidence interval.
    reliability : mapping construct -> float or None, optional
        Declared reliability of single-item constructs (None or 1: error variance fixed to 0).

    Returns
    -------
    DataFrame
        ``construct, level, n_items, alpha, alpha.ci.lower, alpha.ci.upper, omega, cr, ave,
        sqrt_ave, single_item, reliability, flag, problems, note``.  A construct with one
        item gets no alpha, omega, CR or AVE (NaN), ``single_item`` True, ``reliability`` its
        declared (or assumed, 1) reliability, a ``note`` saying so, and is never flagged.

    Raises
    ------
    InsufficientDataError
        A construct with fewer than 3 complete cases for its alpha (names the construct).

    Examples
    --------
    >>> import pandas as pd
    >>> from crm_research import sem
    >>> hs = pd.read_csv("tests/reference/lavaan/HolzingerSwineford1939.csv")
    >>> res = sem.fit("visual =~ x1 + x2 + x3\\ntextual =~ x4 + x5 + x6", hs)
    >>> blocks = {"visual": ["x1", "x2", "x3"], "textual": ["x4", "x5", "x6"]}
    >>> reliability_table(hs, blocks, res)[["construct", "alpha", "cr", "ave", "flag"]].round(3)
      construct  alpha     cr    ave   flag
    0    visual  0.626  0.626  0.371   True
    1   textual  0.883  0.885  0.720  False
    """
    th = thresholds or Thresholds()
    est = estimates_of(result) if result is not None else None
    rel = dict(reliability or {})
    rows = []
    for c, its in blocks.items():
        its = list(its)
        single = len(its) == 1 and (levels or {}).get(c, "first-order") == "first-order"
        if single:
            r = rel.get(c)
            r = 1.0 if r is None or pd.isna(r) else float(r)
            rows.append(dict(construct=c, level=(levels or {}).get(c, "first-order"), n_items=1, alpha=np.nan,
                             **{"alpha.ci.lower": np.nan, "alpha.ci.upper": np.nan}, omega=np.nan, cr=np.nan,
                             ave=np.nan, sqrt_ave=np.nan, single_item=True, reliability=r,
                             note=_single_item_note(r)))
            continue
        try:
            if cov is not None:
                a, lo, hi = alpha_from_cov(cov.loc[its, its], int(n or 0), ci=ci)
            else:
                a, lo, hi = cronbach_alpha(data[its], ci=ci)
        except InsufficientDataError as e:
            raise InsufficientDataError(f"construct {c!r} ({', '.join(map(str, its))}): {e.message}",
                                        hint=e.hint) from None
        cr = ave = float("nan")
        if est is not None:
            ld = est[(est.op == "=~") & (est.lhs == c)]
            if len(ld):
                lam = ld["std.all"].to_numpy(float)
                res = []
                for ind in ld.rhs:
                    r = est[(est.op == "~~") & (est.lhs == ind) & (est.rhs == ind)]
                    res.append(float(r["std.all"].iloc[0]) if len(r) and pd.notna(r["std.all"].iloc[0]) else np.nan)
                res_arr = np.array(res)
                if np.isnan(res_arr).any():
                    res_arr = None
                cr = composite_reliability(lam, res_arr)
                ave = average_variance_extracted(lam)
        om = float(omega.get(c, np.nan)) if omega else float("nan")
        rows.append(dict(construct=c, level=(levels or {}).get(c, "first-order"), n_items=len(its), alpha=a,
                         **{"alpha.ci.lower": lo, "alpha.ci.upper": hi}, omega=om, cr=cr, ave=ave,
                         sqrt_ave=math.sqrt(ave) if ave >= 0 else float("nan"), single_item=False,
                         reliability=np.nan, note=""))
    cols = ["construct", "level", "n_items", "alpha", "alpha.ci.lower", "alpha.ci.upper", "omega", "cr", "ave",
            "sqrt_ave", "single_item", "reliability", "note"]
    out = pd.DataFrame(rows, columns=cols)
    flags, probs = [], []
    for r in out.itertuples(index=False):
        p = []
        if not r.single_item:
            for name, val, cut in (("alpha", r.alpha, th.alpha), ("omega", r.omega, th.omega),
                                   ("CR", r.cr, th.cr), ("AVE", r.ave, th.ave)):
                if pd.notna(val) and val < cut:
                    p.append(f"{name} {format_number(val, 2, bounded=True)} < {format_number(cut, 2, bounded=True)}")
        flags.append(bool(p))
        probs.append("; ".join(p))
    out["single_item"] = out["single_item"].astype(bool)
    out["flag"] = flags
    out["problems"] = probs
    out = out[cols[:-1] + ["flag", "problems", "note"]]
    out.attrs["ci.level"] = float(ci)
    return out


# --------------------------------------------------------------------------- the report
@dataclass
class MeasurementReport:
    """Everything about the measurement model a paper reports. Build with
    :func:`assess_measurement`.

    Attributes
    ----------
    loadings, reliability : DataFrame
        See :func:`standardized_loadings`, :func:`reliability_table`.
    fornell_larcker : DataFrame
        First-order constructs; sqrt(AVE) on the diagonal, latent correlations off it.
    fornell_larcker_higher_order : DataFrame or None
        The same at the top level (higher-order constructs with the remaining first-order
        ones), from the higher-order CFA.
    htmt : DataFrame
        HTMT of the first-order constructs (NaN on the diagonal).
    discriminant : DataFrame
        One row per pair of first-order constructs: ``construct_1, construct_2, r,
        sqrt_ave_1, sqrt_ave_2, fornell_larcker_ok, htmt, htmt_ok, flag, note``
        (``fornell_larcker_ok`` judged by the sqrt(AVE)s that exist, None for two single
        items; ``htmt_ok`` None where HTMT is undefined, i.e. a single-item construct).
    harman : HarmanResult
    fit : DataFrame
        Fit measures of the CFA(s) fitted (lavaan names as columns).
    n_obs : int
        Respondents used (all with at least one answer under ``missing="ml"``; complete
        cases under ``"listwise"``).
    n_input, n_complete : int
        Respondents given, and those who answered every item assessed.
    missing : {"ml", "listwise"}
        Missing-data treatment of the CFAs and of alpha/HTMT/Harman.
    warnings : list of str
        Problems found (SEM warnings, negative or Heywood loadings, deleted rows, ...).
    notes : list of str
        Sentences a report should print: single-item constructs, undefined HTMT, missing data.
    results : dict
        The fitted models (``first_order``, ``higher_order``, ``single_factor``, ``omega:<c>``).
    estimation : str
        The first-order CFA's estimation in words (``sem.estimation_label``), e.g. ``ML`` or
        ``MLR (Huber-White robust SE, Yuan-Bentler scaled test)``.

    Examples
    --------
    >>> import pandas as pd
    >>> from crm_research import instruments
    >>> hs = pd.read_csv("tests/reference/lavaan/HolzingerSwineford1939.csv")
    >>> inst = instruments.load_instrument("tests/reference/lavaan/hs_abilities.yaml")
    >>> rep = assess_measurement(hs, inst)
    >>> rep.n_obs, rep.missing, rep.flagged["reliability"]
    (301, 'ml', ['VIS'])
    >>> rep.fornell_larcker.round(3)
           VIS    TXT    SPD
    VIS  0.609  0.461  0.068
    TXT  0.461  0.848  0.157
    SPD  0.068  0.157    NaN
    >>> sorted(rep.apa_tables())[:3]
    ['fit', 'fornell_larcker', 'htmt']
    """

    loadings: pd.DataFrame
    reliability: pd.DataFrame
    fornell_larcker: pd.DataFrame
    htmt: pd.DataFrame
    discriminant: pd.DataFrame
    harman: HarmanResult | None
    fit: pd.DataFrame
    thresholds: Thresholds
    n_obs: int
    warnings: list[str] = field(default_factory=list)
    fornell_larcker_higher_order: pd.DataFrame | None = None
    results: dict[str, Any] = field(default_factory=dict)
    omega_method: str = "congeneric"
    htmt_method: str = "htmt"
    ci: float = 0.95
    missing: str = "listwise"
    n_input: int | None = None
    n_complete: int | None = None
    notes: list[str] = field(default_factory=list)
    estimation: str = "ML"

    @property
    def single_items(self) -> list[str]:
        """Constructs measured by a single item."""
        if "single_item" not in self.reliability.columns:
            return []
        return list(self.reliability.loc[self.reliability.single_item.astype(bool), "construct"])

    @property
    def missing_summary(self) -> str:
        """Which missing-data treatment, how many respondents it used."""
        n_in = self.n_input if self.n_input is not None else self.n_obs
        if self.missing in ("ml", "pairwise"):
            how = "full-information ML (missing = \"ml\")" if self.missing == "ml" else \
                "pairwise deletion (missing = \"pairwise\")"
            return (f"{how}: {self.n_obs} of {n_in} respondents used"
                    + (f", {self.n_complete} of them with every item answered" if self.n_complete is not None else ""))
        return f"listwise deletion: {self.n_obs} of {n_in} respondents with complete answers used"

    # ---- verdicts
    @property
    def flagged(self) -> dict[str, list[str]]:
        """Names of what fails its threshold, by table."""
        d = self.discriminant
        return {
            "loadings": [f"{r.construct}=~{r.item}" for r in self.loadings.itertuples() if r.flag],
            "reliability": [r.construct for r in self.reliability.itertuples() if r.flag],
            "fornell_larcker": [f"{r.construct_1}-{r.construct_2}" for r in d.itertuples()
                                if r.fornell_larcker_ok is False or r.fornell_larcker_ok == False],  # noqa: E712
            "htmt": [f"{r.construct_1}-{r.construct_2}" for r in d.itertuples() if r.htmt_ok is False],
            "harman": ["first factor"] if self.harman is not None and self.harman.flag else [],
        }

    @property
    def ok(self) -> bool:
        """True when nothing is flagged."""
        return not any(self.flagged.values())

    # ---- APA tables
    def apa_tables(self, digits: int = 2) -> dict[str, pd.DataFrame]:
        """Tables ready for a paper: rounded, APA number style, check marks for thresholds.

        Returns a dict with ``loadings``, ``reliability``, ``fornell_larcker``, ``htmt``
        (lower triangles), ``fit`` and, with higher-order constructs,
        ``fornell_larcker_higher_order``.
        """
        th = self.thresholds
        L = self.loadings
        loadings = pd.DataFrame({
            "Construct": L.construct, "Indicator": L["item"],
            "\u03bb (std.)": [format_number(x, digits, bounded=True) for x in L.loading],
            "B": [format_number(x, digits) for x in L.est],
            "SE": [format_number(s, digits) if pd.notna(z) else "fixed" for s, z in zip(L.se, L.z)],
            "z": [format_number(x, digits) for x in L.z],
            "p": [format_p(x) for x in L.pvalue],
            f"\u2265 {format_number(th.loading, 2, bounded=True)}": [
                SINGLE_ITEM if si else _mark(not f)
                for f, si in zip(L.flag, L.get("single_item", pd.Series(False, index=L.index)))],
        })
        R = self.reliability
        single = R.get("single_item", pd.Series(False, index=R.index)).astype(bool)

        def cell(v: float, cut: float) -> str:
            return "" if pd.isna(v) else f"{format_number(v, digits, bounded=True)} {_mark(v >= cut)}"

        rel = pd.DataFrame({
            "Construct": R.construct, "Level": R.level, "Items": R.n_items,
            f"\u03b1 [{100 * self.ci:g}% CI]": [
                SINGLE_ITEM if si else
                f"{format_number(a, digits, bounded=True)} [{format_number(lo, digits, bounded=True)}, {format_number(hi, digits, bounded=True)}] {_mark(a >= th.alpha)}"
                if pd.notna(a) else "" for a, lo, hi, si in
                zip(R.alpha, R["alpha.ci.lower"], R["alpha.ci.upper"], single)],
            "\u03c9": ["\u2014" if si else cell(v, th.omega) for v, si in zip(R.omega, single)],
            "CR": ["\u2014" if si else cell(v, th.cr) for v, si in zip(R.cr, single)],
            "AVE": ["\u2014" if si else cell(v, th.ave) for v, si in zip(R.ave, single)],
        })
        if single.any():
            rel["Note"] = [
                (f"reliability {format_number(r, digits, bounded=True)} declared" if pd.notna(r) and r < 1 else
                 "reliability 1 assumed (error variance 0)") if si else ""
                for r, si in zip(R["reliability"], single)]
        out = {"loadings": loadings, "reliability": rel,
               "fornell_larcker": _lower_triangle(self.fornell_larcker, digits, diag_ok=_fl_ok(self.fornell_larcker)),
               "htmt": _lower_triangle(self.htmt, digits, cut=th.htmt),
               "fit": _apa_fit(self.fit)}
        if self.fornell_larcker_higher_order is not None:
            fl2 = self.fornell_larcker_higher_order
            out["fornell_larcker_higher_order"] = _lower_triangle(fl2, digits, diag_ok=_fl_ok(fl2))
        return out

    def to_markdown(self, digits: int = 2) -> str:
        """All APA tables and the verdicts as a Markdown document section."""
        t = self.apa_tables(digits)
        titles = {"fit": "Fit of the measurement model", "loadings": "Standardized factor loadings",
                  "reliability": "Reliability and convergent validity",
                  "fornell_larcker": "Fornell-Larcker criterion (diagonal: \u221aAVE)",
                  "fornell_larcker_higher_order": "Fornell-Larcker criterion, higher-order level",
                  "htmt": f"Heterotrait-monotrait ratio ({self.htmt_method.upper()}; {CROSS} = not below "
                          f"{format_number(self.thresholds.htmt, 2, bounded=True)})"}
        parts = []
        for k in ("fit", "loadings", "reliability", "fornell_larcker", "fornell_larcker_higher_order", "htmt"):
            if k in t:
                parts += [f"**{titles[k]}**", "", markdown_table(t[k], index=k in ("fornell_larcker", "htmt",
                                                                               "fornell_larcker_higher_order", "fit")), ""]
        if self.harman is not None:
            parts += [self.harman.summary().splitlines()[0], ""]
        parts += [f"Missing data: {self.missing_summary}.", ""]
        if self.notes:
            parts += ["Notes:", ""] + [f"- {w}" for w in self.notes] + [""]
        if self.warnings:
            parts += ["Warnings:", ""] + [f"- {w}" for w in self.warnings] + [""]
        return "\n".join(parts)

    def summary(self) -> str:
        """A plain-text summary to read or paste into a methods section."""
        th = self.thresholds
        n_first = int((self.reliability.level == "first-order").sum())
        n_high = int((self.reliability.level == "second-order").sum())
        n_items = int((self.loadings.level == "first-order").sum())
        lines = [f"Measurement model assessment (N = {self.n_obs}; {n_items} items, {n_first} first-order"
                 + (f" and {n_high} higher-order" if n_high else "") + " constructs)",
                 f"  Missing data: {self.missing_summary}", f"  Estimation: {self.estimation}"]
        for name, row in self.fit.iterrows():
            lines.append(f"  {name}: {fit_sentence(row)}")
        lines.append("")
        lines.append("Reliability and convergent validity")
        R = self.reliability
        single = R.get("single_item", pd.Series(False, index=R.index)).astype(bool)
        tab = pd.DataFrame({
            "construct": R.construct, "level": R.level.str.replace("-order", ""), "k": R.n_items,
            "alpha [95% CI]": [SINGLE_ITEM if si else f"{a:.3f} [{lo:.3f}, {hi:.3f}]" if pd.notna(a) else ""
                               for a, lo, hi, si in zip(R.alpha, R["alpha.ci.lower"], R["alpha.ci.upper"], single)],
            "omega": [f"{x:.3f}" if pd.notna(x) else "" for x in R.omega],
            "CR": [f"{x:.3f}" if pd.notna(x) else "" for x in R.cr],
            "AVE": [f"{x:.3f}" if pd.notna(x) else "" for x in R.ave],
            "ok": ["" if si else _mark(not f) for f, si in zip(R.flag, single)],
        })
        lines.append(_indent(tab.to_string(index=False), 2))
        fl = self.flagged
        bad_l = self.loadings[self.loadings.flag]
        lines.append("")
        lines.append(f"Loadings below {format_number(th.loading, 2, bounded=True)}: " + (", ".join(
            f"{r.item} on {r.construct} ({r.loading:.3f})" for r in bad_l.itertuples()) or "none")
                     + f" (range {self.loadings.loading.min():.3f} to {self.loadings.loading.max():.3f})")
        for r in R[R.flag].itertuples():
            lines.append(f"  {r.construct}: {r.problems}")
        for r in R[single].itertuples():
            lines.append(f"  {r.construct}: {r.note}")
        lines.append("")
        lines.append("Discriminant validity")
        if len(self.fornell_larcker) < 2:
            lines.append("  not assessed: it needs at least two first-order constructs")
        elif fl["fornell_larcker"]:
            lines.append("  Fornell-Larcker: violated for " + ", ".join(fl["fornell_larcker"])
                         + " (latent correlation exceeds a \u221aAVE)")
        else:
            lines.append("  Fornell-Larcker: every \u221aAVE exceeds the construct's latent correlations")
        d = self.discriminant.dropna(subset=["htmt"])
        if len(d):
            top = d.loc[d.htmt.idxmax()]
            hdr = f"  {self.htmt_method.upper()}: max {top.htmt:.3f} ({top.construct_1}-{top.construct_2})"
            lines.append(hdr + (f"; not below {format_number(th.htmt, 2, bounded=True)}: " + ", ".join(fl["htmt"]) if fl["htmt"]
                                else f"; all below {format_number(th.htmt, 2, bounded=True)}"))
        if self.single_items and len(self.fornell_larcker) >= 2:
            lines.append(f"  {self.htmt_method.upper()} is undefined for single-item constructs ("
                         + ", ".join(self.single_items) + "): a construct with one item has no monotrait correlation")
        if self.notes:
            lines.append("")
            lines.append("Notes")
            lines += [f"  - {w}" for w in self.notes]
        if self.harman is not None:
            lines.append("")
            lines.append(self.harman.summary())
        if self.warnings:
            lines.append("")
            lines.append("Warnings")
            lines += [f"  - {w}" for w in self.warnings]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return (f"MeasurementReport(N={self.n_obs}, constructs={len(self.reliability)}, "
                f"flagged={sum(len(v) for v in self.flagged.values())}, warnings={len(self.warnings)})")

    def _repr_html_(self) -> str:
        t = self.apa_tables()
        esc = html.escape
        h = [f"<h4>Measurement model (N = {self.n_obs})</h4>", f"<p>Missing data: {esc(self.missing_summary)}</p>"]
        if self.notes:
            h.append("<ul>" + "".join(f"<li>{esc(w)}</li>" for w in self.notes) + "</ul>")
        if self.warnings:
            h.append("<div style='color:#a40'><b>Warnings</b><ul>" +
                     "".join(f"<li>{esc(w)}</li>" for w in self.warnings) + "</ul></div>")
        for k, title in (("fit", "Fit"), ("reliability", "Reliability and convergent validity"),
                         ("loadings", "Standardized loadings"),
                         ("fornell_larcker", "Fornell-Larcker (diagonal: \u221aAVE)"),
                         ("fornell_larcker_higher_order", "Fornell-Larcker, higher-order level"),
                         ("htmt", self.htmt_method.upper())):
            if k in t:
                h.append(f"<h5>{esc(title)}</h5>" + html_table(t[k], index=k in ("fit", "fornell_larcker", "htmt",
                                                                                    "fornell_larcker_higher_order")))
        if self.harman is not None:
            h.append(f"<p>{esc(self.harman.summary().splitlines()[0])}</p>")
        return "\n".join(h)


def _lower_triangle(m: pd.DataFrame, digits: int, *, diag_ok: pd.Series | None = None,
                    cut: float | None = None) -> pd.DataFrame:
    names = list(m.index)
    out = pd.DataFrame("", index=names, columns=names)
    for i, a in enumerate(names):
        for j, b in enumerate(names[: i + 1]):
            v = m.loc[a, b]
            if i == j:
                if diag_ok is not None and pd.notna(v):
                    out.loc[a, b] = f"{format_number(v, digits, bounded=True)}{' ' + CROSS if diag_ok.get(a) is False else ''}"
                else:   # HTMT diagonal, or no sqrt(AVE) (single item)
                    out.loc[a, b] = "\u2014"
            else:
                s = format_number(v, digits, bounded=True) if pd.notna(v) else ("n/a" if cut is not None else "")
                if cut is not None and pd.notna(v) and v >= cut:
                    s += " " + CROSS
                out.loc[a, b] = s
    return out


_FIT_COLS = ("npar", "chisq", "df", "pvalue", "cfi", "tli", "rmsea", "rmsea.ci.lower", "rmsea.ci.upper",
             "srmr", "aic", "bic")
#: lavaan's scaled/robust measures, kept in ``fit`` when a robust or ordinal fit has them.
_ROBUST_FIT_COLS = ("chisq.scaled", "df.scaled", "pvalue.scaled", "chisq.scaling.factor", "cfi.scaled", "tli.scaled",
                    "rmsea.scaled", "rmsea.ci.lower.scaled", "rmsea.ci.upper.scaled", "cfi.robust", "tli.robust",
                    "rmsea.robust", "rmsea.ci.lower.robust", "rmsea.ci.upper.robust")


def _apa_fit(fit: pd.DataFrame) -> pd.DataFrame:
    from .reporting.fitmeasures import reported_keys

    keys = reported_keys(fit.iloc[0].to_dict()) if len(fit) else {}
    if keys and any(k != v for k, v in keys.items()) and all(
            reported_keys(r.to_dict()) == keys for _, r in fit.iterrows()):
        # a robust or ordinal fit: its scaled chi-square and robust indices, headed as such
        shown = fit.copy()
        for base, key in keys.items():
            if key in shown.columns:
                shown[base] = shown[key]
        out = _apa_fit(shown[[c for c in _FIT_COLS if c in shown.columns]])
        kinds = {b: ("robust" if k.endswith(".robust") else "scaled") for b, k in keys.items() if k != b}
        names = {"\u03c7\u00b2": "chisq", "p": "pvalue", "CFI": "cfi", "TLI": "tli", "RMSEA [90% CI]": "rmsea"}
        return out.rename(columns={h: f"{h} ({kinds[b]})" for h, b in names.items() if b in kinds})
    out = pd.DataFrame(index=fit.index)
    g = fit.get
    out["\u03c7\u00b2"] = [format_number(x, 2) for x in g("chisq", pd.Series(np.nan, index=fit.index))]
    out["df"] = [("" if pd.isna(x) else f"{int(x)}") for x in g("df", pd.Series(np.nan, index=fit.index))]
    out["p"] = [format_p(x) for x in g("pvalue", pd.Series(np.nan, index=fit.index))]
    for k, lab in (("cfi", "CFI"), ("tli", "TLI"), ("srmr", "SRMR")):
        out[lab] = [format_number(x, 3, bounded=True) for x in g(k, pd.Series(np.nan, index=fit.index))]
    out["RMSEA [90% CI]"] = [
        "" if pd.isna(r) else f"{format_number(r, 3, bounded=True)} [{format_number(lo, 3, bounded=True)}, {format_number(hi, 3, bounded=True)}]"
        for r, lo, hi in zip(g("rmsea", pd.Series(np.nan, index=fit.index)),
                             g("rmsea.ci.lower", pd.Series(np.nan, index=fit.index)),
                             g("rmsea.ci.upper", pd.Series(np.nan, index=fit.index)))]
    return out


def _indent(s: str, n: int) -> str:
    pad = " " * n
    return "\n".join(pad + line for line in s.splitlines())


# --------------------------------------------------------------------------- data checks
def _require_columns(data: pd.DataFrame, cols: Iterable[str], *, what: str) -> None:
    if not isinstance(data, pd.DataFrame):
        raise TypeError(f"data must be a pandas DataFrame, got {type(data).__name__}")
    missing = [c for c in cols if c not in data.columns]
    if missing:
        raise DataFileError(_source(data), f"{what} needs item column(s) that are missing: {', '.join(missing)}",
                            column=missing[0],
                            hint="load responses with the instrument's item ids as column names "
                                 "(crm_research.responses), or pass constructs=[...] to assess fewer constructs")


def _source(data: pd.DataFrame) -> str:
    return str(getattr(data, "attrs", {}).get("source", "data frame"))


MISSING = ("ml", "listwise", "pairwise")


def _check_missing(missing: str) -> str:
    m = {"fiml": "ml", "direct": "ml", "listwise.deletion": "listwise"}.get(str(missing), str(missing))
    if m not in MISSING:
        raise ConfigError("assess_measurement", "missing", f"must be 'ml' (full-information ML), 'listwise' or "
                          f"'pairwise' (ordered items), got {missing!r}",
                          hint="missing='ml' uses every respondent with at least one answer")
    return m


def _item_data(data: pd.DataFrame, items: list[str], missing: str = "listwise"
               ) -> tuple[pd.DataFrame, list[str], dict[str, int]]:
    """Numeric item columns of the respondents a missing-data treatment uses.

    ``"listwise"``: complete rows only (lavaan's default); ``"ml"``: every row with at least one
    item answered (full-information ML).  Returns the data, warnings and counts
    ``{"input", "used", "complete"}``.
    """
    _require_columns(data, items, what="the measurement model")
    warnings = []
    X = pd.DataFrame(index=data.index)
    for c in items:
        col = data[c]
        num = pd.to_numeric(col, errors="coerce")
        bad = num.isna() & col.notna()
        if bad.any():
            pos = int(np.flatnonzero(bad.to_numpy())[0])
            raise DataFileError(_source(data), "item responses must be numbers (scale points)",
                                row=pos + 2, column=c, value=col.iloc[pos],
                                hint="recode text labels to scale points first (crm_research.responses)")
        X[c] = num.astype(float)
    n0 = len(X)
    complete = int(X.notna().all(axis=1).sum())
    if missing == "listwise":
        X = X.dropna()
        if len(X) < n0:
            warnings.append(f"{n0 - len(X)} of {n0} respondents with missing item responses were left out "
                            "(listwise deletion)")
    else:
        X = X[X.notna().any(axis=1)]
        if len(X) < n0:
            warnings.append(f"{n0 - len(X)} of {n0} respondents answered none of the items and were left out")
    for c in items:
        obs = X[c].dropna()
        if len(obs) and obs.std() == 0:
            raise DataFileError(_source(data), f"item has no variance (every answer is {obs.iloc[0]:g})",
                                column=c, hint="drop the item from the instrument or check the data")
        if missing != "listwise" and len(obs) < 2:
            raise DataFileError(_source(data), f"item has {len(obs)} answer(s)", column=c,
                                hint="drop the item from the instrument or check the data")
    if len(X) < len(items) + 2:
        what = "complete respondents" if missing == "listwise" else "respondents"
        raise ModelError(f"only {len(X)} {what} for {len(items)} items; a CFA needs more "
                         "respondents than items (and 200+ for stable ML estimates)")
    return X, warnings, {"input": n0, "used": len(X), "complete": complete}


def _wanted(inst: "Instrument", constructs: Iterable[str] | None) -> list[str]:
    if constructs is None:
        return [c.id for c in inst.constructs]
    out: list[str] = []

    def add(cid: str) -> None:
        try:
            c = inst.construct(cid)
        except KeyError:
            from .errors import InstrumentError
            raise InstrumentError(inst.path or inst.id, "constructs", f"unknown construct {cid!r}",
                                  hint="known: " + ", ".join(x.id for x in inst.constructs)) from None
        if cid not in out:
            out.append(cid)
        for d in c.dimensions:
            add(d)

    for cid in constructs:
        add(cid)
    return [c.id for c in inst.constructs if c.id in out]  # instrument order


# --------------------------------------------------------------------------- main entry
def assess_measurement(data: pd.DataFrame, instrument: "Instrument", *, thresholds: Thresholds | None = None,
                       constructs: Iterable[str] | None = None, result: Any = None,
                       higher_order_result: Any = None, omega: str | None = "congeneric",
                       htmt_method: str = "htmt", harman: str | None = "pca", harman_cfa: bool = False,
                       ci: float = 0.95, missing: str = "ml", estimator: Any = None, ordered: Any = None,
                       se: str | None = None, test: str | None = None) -> MeasurementReport:
    """Assess reliability and validity of an instrument's constructs in one call.

    Fits, with :func:`crm_research.sem.fit` (ML, lavaan defaults, ``missing`` as given):

    1. the first-order CFA with all first-order constructs correlating freely — loadings,
       CR/AVE of first-order constructs, Fornell-Larcker;
    2. when the instrument has higher-order constructs, the higher-order CFA — CR/AVE of the
       second-order loadings and the Fornell-Larcker matrix at the top level;
    3. with ``omega="congeneric"``, a one-factor model per first-order construct of three or
       more items for McDonald's omega;
    4. with ``harman_cfa=True``, a single-factor CFA over all items, compared with (1) by
       :func:`crm_research.sem.compare_models`.

    Single-item constructs (one item; :attr:`Construct.is_single_item`) are handled as the
    literature does: the item's error variance is fixed (to 0, or to (1 - reliability) x its
    variance when the instrument states a reliability), so the loading is not estimated
    freely; no alpha, omega, CR or AVE is computed and nothing about them is flagged (the
    reliability table says "single item" and gives the declared or assumed reliability); HTMT
    is undefined for their pairs (NaN, ``htmt_ok`` None, a note says so); Fornell-Larcker
    is judged by the other construct's sqrt(AVE).

    Parameters
    ----------
    data : DataFrame
        Scored responses (reverse-keyed items already recoded), one column per item id.
        Extra columns are ignored.
    instrument : Instrument
    thresholds : Thresholds, optional
    constructs : list of str, optional
        Assess only these constructs (higher-order ones bring their dimensions).
    result : SEMResult, optional
        A pre-fitted first-order (or any) model of these items to use instead of fitting (1);
        with a higher-order or structural model the latent correlations are the ones it implies.
    higher_order_result : SEMResult, optional
        A pre-fitted model with the second-order loadings to use instead of fitting (2).
    omega : {"congeneric", "model", None}
        ``"congeneric"``: one-factor model per construct; ``"model"``: loadings and residual
        variances of the first-order CFA (semTools' ``compRelSEM`` approach); None: skip.
    htmt_method : {"htmt", "htmt2"}
    harman : {"pca", "paf", None}
    harman_cfa : bool
        Also fit the single-factor CFA (one more model fit).
    ci : float
        Confidence level of alpha's interval.
    missing : {"ml", "listwise"}
        ``"ml"`` (default): every respondent with at least one answer; the CFAs by
        full-information ML, alpha, HTMT and Harman's test from the EM (saturated ML) item
        covariance matrix (as semTools' ``htmt(missing = "ml")``).  ``"listwise"``: respondents
        who answered every assessed item; ``"pairwise"``: ordered items (the CFAs by pairwise
        polychoric correlations as lavaan; alpha, HTMT and Harman's test from the EM item
        covariances of every respondent with an answer).  The report records which, and the counts.
    estimator, ordered, se, test : optional
        lavaan's estimation options of every CFA (:func:`crm_research.estimation.check_estimation`),
        e.g. ``estimator="MLR"`` or ``ordered=True`` (WLSMV); the fit table then shows the
        scaled χ² and robust indices and the report names the estimation.

    Returns
    -------
    MeasurementReport

    Raises
    ------
    DataFileError
        Item columns missing, non-numeric or constant.
    ModelError
        Too few respondents.
    ConfigError
        An unknown ``missing``.

    Examples
    --------
    >>> import pandas as pd
    >>> from crm_research import instruments
    >>> hs = pd.read_csv("tests/reference/lavaan/HolzingerSwineford1939.csv")
    >>> inst = instruments.load_instrument("tests/reference/lavaan/hs_abilities.yaml")
    >>> rep = assess_measurement(hs, inst)
    >>> rep.reliability[["construct", "alpha", "cr", "ave", "single_item"]].round(3)
      construct  alpha     cr    ave  single_item
    0       VIS  0.626  0.626  0.371        False
    1       TXT  0.883  0.885  0.719        False
    2       SPD    NaN    NaN    NaN         True
    >>> rep.ok, rep.flagged["loadings"]
    (False, ['VIS=~x2', 'VIS=~x3'])
    """
    if omega not in ("congeneric", "model", None):
        raise ValueError(f"omega must be 'congeneric', 'model' or None, got {omega!r}")
    if harman not in ("pca", "paf", None):
        raise ValueError(f"harman must be 'pca', 'paf' or None, got {harman!r}")
    missing = _check_missing(missing)
    from .estimation import Estimation, check_estimation
    from .estimation import fit_model as fit_with

    est_opt = estimator if isinstance(estimator, Estimation) else check_estimation(
        estimator, ordered, se, test, where="assess_measurement")
    th = thresholds or Thresholds()
    from .instruments import measurement_syntax
    from .sem import compare_models, sample_moments

    wanted = _wanted(instrument, constructs)
    first = [c for c in instrument.first_order if c.id in wanted]
    higher = [c for c in instrument.higher_order if c.id in wanted]
    singles = [c for c in first if len(c.items) == 1]
    items = [it.id for c in first for it in c.items]
    X, warnings, counts = _item_data(data, items, missing)
    from .estimation import resolve_missing

    missing, mnote = resolve_missing(est_opt, missing, counts["complete"] < len(X), where="assess_measurement")
    if mnote:
        warnings.append(mnote)
    n = len(X)
    moments = sample_moments(X, items, missing="ml" if missing == "pairwise" else missing, source=_source(data))
    notes: list[str] = []
    if missing == "ml":
        notes.append(f"Missing answers: full-information ML (missing = \"ml\") uses all {n} respondents with at "
                     f"least one answer ({counts['complete']} answered every item); alpha, HTMT and Harman's test "
                     "use the EM estimate of the item covariances.")
    elif missing == "pairwise":
        notes.append(f"Missing answers: pairwise deletion (ordered items, as lavaan) uses all {n} respondents with "
                     f"at least one answer ({counts['complete']} answered every item); alpha, HTMT and Harman's "
                     "test use the EM estimate of the item covariances.")
    else:
        notes.append(f"Missing answers: listwise deletion uses the {n} of {counts['input']} respondents who "
                     "answered every item.")
    if not est_opt.is_default:
        notes.append(f"Estimation: {est_opt.describe()}. Fit is judged by the scaled chi-square and the robust "
                     "(or scaled) CFI, TLI and RMSEA" + ("; loadings are on the items' latent response scales "
                     "(polychoric), while alpha, HTMT and Harman's test use the items' Pearson covariances"
                     if est_opt.ordered else "") + ".")
    results: dict[str, Any] = {}
    fit_rows: dict[str, dict] = {}

    def run(name: str, syntax: str, label: str) -> Any:
        try:
            res = fit_with(syntax, X, est_opt, missing=missing, where="assess_measurement")
        except Exception as e:  # keep the user's error type, add where it happened
            if hasattr(e, "message"):
                e.message = f"{label}: {e.message}"
                e.args = (str(e),)
            raise
        results[name] = res
        warnings.extend(f"{label}: {w}" for w in warnings_of(res))
        return res

    # (1) first-order CFA
    if result is None:
        syntax1 = measurement_syntax(instrument, [c.id for c in first], higher_order=False, data=X)
        result = run("first_order", syntax1, "first-order CFA")
        fit_rows["first-order CFA"] = fit_measures_of(result)
        if not est_opt.is_default:   # what the estimation decided (ordered items, single items kept continuous)
            notes.extend(f"First-order CFA: {n}" for n in getattr(result, "notes", []) or [])
    else:
        results["first_order"] = result
        warnings.extend(f"supplied model: {w}" for w in warnings_of(result))
        fit_rows["supplied model"] = fit_measures_of(result)
    est1 = estimates_of(result)

    # (2) higher-order CFA
    if higher and higher_order_result is None:
        syntax2 = measurement_syntax(instrument, wanted, higher_order=True, data=X)
        higher_order_result = run("higher_order", syntax2, "higher-order CFA")
        fit_rows["higher-order CFA"] = fit_measures_of(higher_order_result)
    elif higher_order_result is not None and higher_order_result is not result:
        results["higher_order"] = higher_order_result
        fit_rows["higher-order CFA"] = fit_measures_of(higher_order_result)
        warnings.extend(f"supplied higher-order model: {w}" for w in warnings_of(higher_order_result))

    # loadings: items from (1), second-order loadings from (2) (or from (1) if it has them)
    L1 = standardized_loadings(est1, th)
    L1 = L1[L1.construct.isin([c.id for c in first]) & (L1.level == "first-order")]
    parts = [L1]
    src2 = higher_order_result if higher_order_result is not None else (est1 if higher else None)
    if src2 is not None and higher:
        L2 = standardized_loadings(src2, th)
        parts.append(L2[L2.construct.isin([c.id for c in higher]) & (L2.level == "second-order")])
    loadings = pd.concat(parts, ignore_index=True)
    for c in higher:
        if c.id not in set(loadings.construct):
            warnings.append(f"the fitted model has no second-order loadings of {c.id}: its CR and AVE are missing "
                            "(pass higher_order_result=, or let assess_measurement fit the higher-order CFA)")
    missing_l = [c.id for c in first if c.id not in set(L1.construct)]
    if missing_l:
        raise ModelError(f"the fitted model has no loadings for construct(s) {', '.join(missing_l)}",
                         hint="fit the instrument's measurement model, or let assess_measurement fit it")
    for r in loadings.itertuples():
        if r.loading < 0:
            rev = " (it is reverse-keyed: recode it before analysis)" if r.level == "first-order" and \
                r.item in instrument.reverse_items else ""
            warnings.append(f"{r.item} loads negatively on {r.construct} ({r.loading:.3f}){rev}")
        elif r.loading > 1 + 1e-9:
            warnings.append(f"Heywood case: standardized loading of {r.item} on {r.construct} is "
                            f"{r.loading:.3f} (> 1)")

    # omega
    omegas: dict[str, float] = {}
    if omega == "congeneric":
        for c in first:
            its = [it.id for it in c.items]
            if len(its) == 1:
                omegas[c.id] = float("nan")
                continue
            if len(its) < 3:
                omegas[c.id] = float("nan")
                warnings.append(f"omega of {c.id} not computed: a one-factor model needs at least 3 items")
                continue
            r1 = run(f"omega:{c.id}", f"{c.id} =~ " + " + ".join(its) + "\n", f"one-factor model {c.id}")
            omegas[c.id] = _omega_from(r1, c.id)
    elif omega == "model":
        for c in first:
            omegas[c.id] = float("nan") if len(c.items) == 1 else _omega_from(est1, c.id)

    # reliability table
    blocks = {c.id: [it.id for it in c.items] for c in first}
    blocks.update({c.id: instrument.items_of(c.id) for c in higher})
    levels = {c.id: "first-order" for c in first} | {c.id: "second-order" for c in higher}
    declared = {c.id: getattr(c, "reliability", None) for c in singles}
    rel1 = reliability_table(None, {k: blocks[k] for k in blocks if levels[k] == "first-order"}, est1,
                             thresholds=th, omega=omegas, levels=levels, ci=ci, cov=moments.cov, n=n,
                             reliability=declared)
    rels = [rel1]
    if higher:
        rels.append(reliability_table(None, {c.id: blocks[c.id] for c in higher}, src2, thresholds=th,
                                      omega=None, levels=levels, ci=ci, cov=moments.cov, n=n))
    reliability = pd.concat(rels, ignore_index=True)
    for c in singles:
        notes.append(f"{c.id} is measured by a single item ({c.items[0].id}): "
                     + rel1.set_index("construct").loc[c.id, "note"].split(": ", 1)[1] + ".")

    # Fornell-Larcker (first-order)
    ave1 = rel1.set_index("construct")["ave"]
    corr1 = latent_correlations(est1)
    fl = fornell_larcker(ave1, corr1)
    fl2 = None
    if higher and src2 is not None:
        est2 = estimates_of(src2)
        dims = {d for c in higher for d in c.dimensions}
        top = [c for c in wanted if c not in dims]
        ld2 = est2[est2.op == "=~"]
        single_ids = {c.id for c in singles}
        ave_top = {}
        for c in top:
            lam = ld2.loc[ld2.lhs == c, "std.all"].to_numpy(float)
            if c in single_ids:
                ave_top[c] = float("nan")
            elif lam.size:
                ave_top[c] = average_variance_extracted(lam)
        if len(ave_top) >= 2:
            fl2 = fornell_larcker(pd.Series(ave_top), latent_correlations(est2))

    # HTMT (from the item correlations of the respondents used: EM under missing="ml")
    H = htmt(None, blocks={c.id: [it.id for it in c.items] for c in first}, corr=moments.cov, method=htmt_method)
    if singles and len(first) >= 2:
        notes.append(f"{htmt_method.upper()} is undefined for a single-item construct (a construct with one item has "
                     "no correlations among its own items): the pairs with " + ", ".join(c.id for c in singles)
                     + " have no HTMT; their discriminant validity rests on the Fornell-Larcker criterion.")

    # discriminant pairs
    names = list(fl.index)
    single_ids = {c.id for c in singles}
    pairs = []
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            r = float(fl.loc[a, b])
            fl_pair = _fl_pair_ok(fl, a, b)
            hv = float(H.loc[a, b]) if a in H.index and b in H.columns else float("nan")
            h_ok = None if math.isnan(hv) else bool(hv < th.htmt)
            why = [f"{x} is a single item" for x in (a, b) if x in single_ids]
            note = ("HTMT undefined: " + " and ".join(why)) if why else ""
            pairs.append(dict(construct_1=a, construct_2=b, r=r, sqrt_ave_1=fl.loc[a, a], sqrt_ave_2=fl.loc[b, b],
                              fornell_larcker_ok=fl_pair, htmt=hv, htmt_ok=h_ok,
                              flag=(fl_pair is False) or (h_ok is False), note=note))
    discriminant = pd.DataFrame(pairs, columns=["construct_1", "construct_2", "r", "sqrt_ave_1", "sqrt_ave_2",
                                                "fornell_larcker_ok", "htmt", "htmt_ok", "flag", "note"])

    # Harman
    hres = None
    if harman is not None:
        if len(first) < 2:
            warnings.append("Harman's test over the items of a single construct says nothing about "
                            "common-method variance; assess all constructs together")
        hres = harman_test(None, items, method=harman, threshold=th.harman, corr=moments.cov, n=n)
        if harman_cfa:
            # single items keep their fixed error variances, so the one-factor model is the
            # measurement model with every latent correlation 1 (nested in it)
            from .instruments import single_item_error_variance

            fixes = "".join(f"{c.items[0].id} ~~ {single_item_error_variance(instrument, c.id, X)!r}*"
                            f"{c.items[0].id}\n" for c in singles)
            r_sf = run("single_factor", "CMV =~ " + " + ".join(items) + "\n" + fixes, "single-factor CFA")
            fit_rows["single-factor CFA"] = fit_measures_of(r_sf)
            hres.single_factor_fit = pd.DataFrame(
                {k: {kk: v.get(kk, np.nan) for kk in ("chisq", "df", "cfi", "tli", "rmsea", "srmr", "aic", "bic")}
                 for k, v in (("single factor", fit_measures_of(r_sf)),
                              ("measurement model", fit_measures_of(result)))}).T
            try:
                hres.comparison = compare_models(r_sf, result, names=("single factor", "measurement model"))
            except Exception as e:  # e.g. degenerate df; the fit table is still informative
                warnings.append(f"single-factor comparison not possible: {e}")

    cols = list(_FIT_COLS) + [c for c in _ROBUST_FIT_COLS if any(v.get(c) is not None for v in fit_rows.values())]
    fit = pd.DataFrame({k: {c: v.get(c, np.nan) for c in cols} for k, v in fit_rows.items()}).T
    fit = fit.apply(pd.to_numeric, errors="coerce")
    return MeasurementReport(loadings=loadings, reliability=reliability, fornell_larcker=fl, htmt=H,
                             discriminant=discriminant, harman=hres, fit=fit, thresholds=th, n_obs=n,
                             warnings=list(dict.fromkeys(warnings)), fornell_larcker_higher_order=fl2,
                             results=results, omega_method=omega or "none", htmt_method=htmt_method, ci=ci,
                             missing=missing, n_input=counts["input"], n_complete=counts["complete"],
                             notes=list(dict.fromkeys(notes)), estimation=_label_of(result))


def _label_of(result: Any) -> str:
    from .sem import estimation_label

    return estimation_label(result)


def _omega_from(result: Any, construct: str) -> float:
    est = estimates_of(result)
    ld = est[(est.op == "=~") & (est.lhs == construct)]
    if ld.empty:
        return float("nan")
    lam = ld["std.lv"].to_numpy(float)
    th = []
    for it in ld.rhs:
        r = est[(est.op == "~~") & (est.lhs == it) & (est.rhs == it)]
        th.append(float(r.est.iloc[0]) if len(r) else np.nan)
    return mcdonald_omega(lam, th)

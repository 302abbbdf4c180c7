"""Nested model comparison: the chi-square difference (likelihood-ratio) test as lavaan's
``lavTestLRT()`` / ``anova()`` for standard ML, one- or multi-group, with the changes in CFI,
RMSEA, AIC and BIC that a paper reports next to it.

>>> from crm_research import sem
>>> cmp = sem.compare_models(metric_fit, configural_fit, names=("metric", "configural"))  # doctest: +SKIP
>>> cmp.table, cmp.pvalue, print(cmp.summary())                                           # doctest: +SKIP

Used by :mod:`crm_research.measurement` (single-factor vs measurement model),
:mod:`crm_research.hypotheses` (full vs partial mediation) and
:mod:`crm_research.invariance` (configural / metric / scalar / strict).
"""
from __future__ import annotations

import html
import math
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import pandas as pd

from ..errors import ModelError
from ..reporting.format import format_p, html_table
from .result import estimates_of, fit_measures_of
from .robust import ROBUST_TESTS, satorra_2000, satorra_bentler_2001

__all__ = ["compare_models", "ModelComparison"]

_COLS = ["df", "npar", "aic", "bic", "chisq", "cfi", "tli", "rmsea", "srmr"]
_DIFF = ["chisq.diff", "df.diff", "pvalue.diff", "rmsea.diff", "delta.cfi", "delta.rmsea"]


def _model(name: str) -> str:
    return name if name.lower().endswith("model") else f"{name} model"


@dataclass
class ModelComparison:
    """Result of :func:`compare_models`.

    Attributes
    ----------
    names : tuple of str
        Model names in the order the models were given (the table's index is in lavaan's
        order: least restricted, fewest df, first).
    table : DataFrame
        One row per model (index: ``names``): ``df, npar, aic, bic, chisq, cfi, tli, rmsea,
        srmr`` and, from the second row on, the test against the row above: ``chisq.diff,
        df.diff, pvalue.diff`` (lavaan's ``Chisq diff, Df diff, Pr(>Chisq)``), ``rmsea.diff``
        (lavaan's ``RMSEA`` column: RMSEA of the difference) and ``delta.cfi``, ``delta.rmsea``
        (this row minus the row above).
    method : str
        ``"standard"`` or, when every model has a robust test statistic, lavaan's scaled
        difference method: ``"satorra.bentler.2001"`` (Satorra-Bentler and Yuan-Bentler tests:
        MLM, MLR) or ``"satorra.2000"`` (scaled-shifted / mean-and-variance adjusted: MLMV,
        WLSMV), as ``lavTestLRT()`` chooses.
    restricted, full : str
        The last step: the most restricted model and the one it is tested against.
    chisq_diff, df_diff, pvalue, rmsea_diff : float, int, float, float
        That test.
    delta_cfi, delta_rmsea, delta_aic, delta_bic : float
        Restricted minus full (delta CFI < -.01 signals a meaningful loss of fit).
    preferred : str
        Walking from the least restricted model, the most restricted model reached before
        the first significant loss of fit (with two models: ``full`` when p < alpha, else
        ``restricted``).
    verdict : str
        One sentence per step.
    warnings : list of str

    Examples
    --------
    >>> import pandas as pd
    >>> from crm_research import sem
    >>> hs = pd.read_csv("tests/reference/lavaan/HolzingerSwineford1939.csv")
    >>> model = "visual =~ x1 + x2 + x3\\ntextual =~ x4 + x5 + x6"
    >>> free = sem.fit(model, hs, group="school")
    >>> equal = sem.fit(model, hs, group="school", group_equal=["loadings"])
    >>> cmp = sem.compare_models(free, equal, names=["configural", "metric"])
    >>> cmp.apa(), cmp.preferred
    ('Δχ²(4) = 10.38, p = .034', 'configural')
    """

    names: tuple
    table: pd.DataFrame
    restricted: str
    full: str
    chisq_diff: float
    df_diff: int
    pvalue: float
    rmsea_diff: float
    delta_cfi: float
    delta_rmsea: float
    delta_aic: float
    delta_bic: float
    alpha: float
    preferred: str
    verdict: str
    warnings: list[str] = field(default_factory=list)
    ngroups: int = 1
    method: str = "standard"

    @property
    def heading(self) -> str:
        """What the difference test is, in words (lavaan's heading)."""
        if self.method == "standard":
            return "Chi-squared difference test (standard ML)"
        return (f"Scaled chi-squared difference test (method = {self.method}); the chisq column holds the "
                "standard statistics, the difference is scaled")

    def summary(self) -> str:
        t = self.table.astype(object).where(self.table.notna(), "")
        txt = t.to_string(float_format=lambda v: f"{v:.3f}")
        s = [self.heading, "", "\n".join("  " + ln for ln in txt.splitlines()),
             "", self.verdict]
        if self.warnings:
            s += [""] + [f"Warning: {w}" for w in self.warnings]
        return "\n".join(s)

    def apa(self) -> str:
        """The last step's test as an APA fragment, e.g. 'Δχ²(1) = 5.32, p = .021' (a scaled
        difference reads 'scaled Δχ²(1) = ...')."""
        pre = "" if self.method == "standard" else "scaled "
        return f"{pre}\u0394\u03c7\u00b2({self.df_diff}) = {self.chisq_diff:.2f}, {format_p(self.pvalue, prefix=True)}"

    def __repr__(self) -> str:
        return (f"ModelComparison({self.restricted!r} vs {self.full!r}: chisq_diff={self.chisq_diff:.3f}, "
                f"df_diff={self.df_diff}, pvalue={self.pvalue:.4g})")

    def _repr_html_(self) -> str:
        return (html_table(self.table, index=True, decimals=3)
                + f"<p>{html.escape(self.verdict)}</p>"
                + "".join(f"<p style='color:#a40'>Warning: {html.escape(w)}</p>" for w in self.warnings))


def _observed(est: pd.DataFrame) -> set[str]:
    lv = set(est.loc[est.op == "=~", "lhs"])
    defined = set(est.loc[est.op == ":=", "lhs"])
    names = set(est.loc[est.op.isin(["=~", "~", "~~"]), "rhs"]) | set(est.loc[est.op.isin(["~", "~~", "~1"]), "lhs"])
    return names - lv - defined


def _ngroups(res: Any) -> int | None:
    labels = getattr(res, "group_labels", None)
    if labels is not None:      # a SEMResult: [] for one group
        return max(len(labels), 1)
    try:
        est = estimates_of(res, groups_ok=True)
    except TypeError:
        return None
    if "group" in est.columns:
        g = pd.to_numeric(est["group"], errors="coerce")
        return int(g[g > 0].nunique()) or 1
    return 1


def _num(fm: dict, k: str) -> float:
    v = fm.get(k)
    try:
        return float(v) if v is not None and pd.notna(v) else float("nan")
    except (TypeError, ValueError):
        return float("nan")


def _robust_test(r: Any, fm: dict) -> str | None:
    """The robust test of a fit (SEMResult.test, or a lavaan JSON with chisq.scaling.factor)."""
    t = getattr(r, "test", None)
    if isinstance(t, str):
        return t if t in ROBUST_TESTS or t == "mean.var.adjusted" else None
    if "chisq.scaling.factor" in fm:
        # stored fit measures: tell the Satorra-Bentler type (chisq / c) from scaled-shifted
        # (a chisq + b, same df) and mean-and-variance adjusted (other df) statistics
        X2, c, Xs = _num(fm, "chisq"), _num(fm, "chisq.scaling.factor"), _num(fm, "chisq.scaled")
        if _num(fm, "df.scaled") != _num(fm, "df") and not math.isnan(_num(fm, "df.scaled")):
            return "mean.var.adjusted"
        if c > 0 and not math.isnan(Xs) and abs(Xs - X2 / c) > 1e-6 * max(1.0, abs(Xs)):
            return "scaled.shifted"
        return "satorra.bentler"
    return None


METHODS = ("default", "satorra.bentler.2001", "satorra.2000")


def compare_models(*results: Any, names: Sequence[str] | None = None, alpha: float = 0.05,
                   method: str = "default") -> ModelComparison:
    """Compare nested models by the chi-square difference test (lavaan ``lavTestLRT``), scaled
    when the models have robust test statistics.

    Parameters
    ----------
    *results : SEMResult
        Two or more models fitted to the same data (same rows, same observed variables, same
        groups), in any order: they are sorted by degrees of freedom as lavaan does, and each
        is tested against the next less restricted one.  Also objects with ``fit_measures``
        (and ``estimates``), e.g. lavaan JSON references.
    names : sequence of str, optional
        One name per model, in the order given.  Default with two models: ``"restricted"``
        and ``"full"``; otherwise ``"model 1"``, ``"model 2"``, ...
    alpha : float
        Level of the test (verdicts and ``preferred``).
    method : {"default", "satorra.bentler.2001", "satorra.2000"}
        lavTestLRT's ``method`` for robust fits: "default" as lavaan chooses (see Notes);
        "satorra.2000" the scaled-shifted difference of Satorra (2000) for any robust test
        (needs the fits themselves, not stored fit measures).  Ignored for standard fits.

    Returns
    -------
    ModelComparison

    Raises
    ------
    ModelError
        Fewer than two models, a model without ``chisq``/``df``, two models with the same
        degrees of freedom (not nested), different sample sizes or numbers of groups.

    Notes
    -----
    ``chisq.diff = chisq_r - chisq_f`` on ``df_r - df_f`` degrees of freedom, ``p = P(chi2 >
    chisq.diff)`` (1 when the difference is negative); the RMSEA of the difference is
    ``sqrt(max(0, chisq.diff / (N df.diff) - 1 / N)) * sqrt(G)`` as lavaan's
    ``lav_fit_rmsea`` computes the ``RMSEA`` column of ``lavTestLRT`` (``G`` groups).  The
    same test holds for models fitted by full-information ML (``missing="ml"``).

    Robust fits (every model with a scaled test; some robust and some not is an error, as in
    lavaan): the difference is scaled by lavaan's default method, Satorra & Bentler (2001)
    ``(T0 - T1) / cd`` with ``cd = (df0 c0 - df1 c1) / (df0 - df1)`` for Satorra-Bentler and
    Yuan-Bentler statistics (MLM, MLR), Satorra (2000) scaled-shifted for scaled-shifted and
    mean-and-variance adjusted ones (MLMV, MLMVS); ``rmsea.diff`` is then not reported (as
    lavaan).

    Examples
    --------
    >>> from types import SimpleNamespace as NS
    >>> full = NS(fit_measures=dict(chisq=90.0, df=49, ntotal=400, cfi=.958, rmsea=.046, aic=1002., bic=1096.))
    >>> restricted = NS(fit_measures=dict(chisq=100.0, df=50, ntotal=400, cfi=.950, rmsea=.050, aic=1010., bic=1100.))
    >>> c = compare_models(restricted, full)
    >>> c.apa(), c.preferred, round(c.rmsea_diff, 3)
    ('Δχ²(1) = 10.00, p = .002', 'full', 0.15)
    """
    from scipy.stats import chi2

    if len(results) == 1 and isinstance(results[0], (list, tuple)):
        results = tuple(results[0])
    k = len(results)
    if k < 2:
        raise ModelError(f"compare_models needs at least two fitted models, got {k}",
                         hint="pass the nested models, e.g. compare_models(restricted, full)")
    if names is None:
        names = ("restricted", "full") if k == 2 else tuple(f"model {i + 1}" for i in range(k))
    names = tuple(str(n) for n in names)
    if len(names) != k:
        raise ModelError(f"names: {len(names)} name(s) for {k} models", hint="give one name per model")
    if len(set(names)) != k:
        raise ModelError(f"names: duplicated model names {list(names)}", hint="give each model its own name")
    fms = [fit_measures_of(r) for r in results]
    for nm, fm in zip(names, fms):
        for key in ("chisq", "df"):
            if fm.get(key) is None or pd.isna(fm.get(key)):
                raise ModelError(f"model {nm!r} has no {key!r} fit measure; compare fitted models (sem.fit results)")
    dfs = [int(round(float(fm["df"]))) for fm in fms]
    if k == 2 and names == ("restricted", "full") and dfs[0] < dfs[1]:
        names = ("full", "restricted")      # default names follow the roles
    order = sorted(range(k), key=lambda i: dfs[i])      # least restricted first (lavaan)
    for a, b in zip(order, order[1:]):
        if dfs[a] == dfs[b]:
            raise ModelError(f"models {names[a]!r} and {names[b]!r} have the same degrees of freedom ({dfs[a]}), so "
                             "they are not nested and cannot be compared by a chi-square difference test",
                             hint="compare non-nested models by AIC/BIC instead")
    ns = [fm.get("ntotal") for fm in fms]
    known = [(nm, int(n)) for nm, n in zip(names, ns) if n is not None and pd.notna(n)]
    if len({n for _, n in known}) > 1:
        raise ModelError("the models were fitted to different samples (" +
                         ", ".join(f"{nm}: N = {n}" for nm, n in known) + ")",
                         hint="fit every model to the same data (the same rows and missing-data treatment)")
    gs = [_ngroups(r) for r in results]
    if len({g for g in gs if g is not None}) > 1:
        raise ModelError("the models have different numbers of groups (" +
                         ", ".join(f"{nm}: {g}" for nm, g in zip(names, gs)) + ")",
                         hint="compare multi-group models only with multi-group models of the same groups")
    G = next((g for g in gs if g is not None), 1) or 1
    warnings: list[str] = []
    obs = []
    for r in results:
        try:
            obs.append(_observed(estimates_of(r, groups_ok=True)))
        except TypeError:
            obs.append(None)
    known_obs = [o for o in obs if o is not None]
    if len(known_obs) > 1 and any(o != known_obs[0] for o in known_obs[1:]):
        diff = set().union(*known_obs) - set.intersection(*known_obs)
        warnings.append("the models use different observed variables (" + ", ".join(sorted(diff)) +
                        "): the difference test is not valid")
    miss = {str(getattr(r, "missing", "")) for r in results} - {""}
    if len(miss) > 1:
        warnings.append("the models were fitted with different missing-data treatments (" + ", ".join(sorted(miss))
                        + "): the difference test is valid only if they used the same rows")
    for nm, r in zip(names, results):
        if getattr(r, "converged", True) is False:
            warnings.append(f"model {nm!r} did not converge")
    N = float(known[0][1]) if known else float("nan")
    if method not in METHODS:
        raise ModelError(f"method={method!r} is not supported", hint=f"use one of {', '.join(METHODS)}")
    requested = method
    rtests = [_robust_test(r, fm) for r, fm in zip(results, fms)]
    scaled_ok = [t is not None or d == 0 for t, d in zip(rtests, dfs)]
    method = "standard"
    if any(t is not None for t in rtests):
        method = requested
        if not all(scaled_ok):
            plain = [nm for nm, t, d in zip(names, rtests, dfs) if t is None and d > 0]
            raise ModelError("some models (but not all) have scaled test statistics: " + ", ".join(plain)
                             + " without", hint="fit every model with the same estimator (e.g. estimator='MLR')")
        first = next(t for t in rtests if t is not None)
        if method == "default":
            method = "satorra.bentler.2001" if first in ("satorra.bentler", "yuan.bentler", "yuan.bentler.mplus") \
                else "satorra.2000"
        if method == "satorra.2000" and any(getattr(r, "robust", None) is None for r in results):
            raise ModelError("the scaled-shifted difference test (Satorra 2000) needs the fitted models' robust "
                             "ingredients (Gamma, Delta)", hint="pass sem.fit results, not stored fit measures")
    rows = []
    verdicts = []
    preferred = names[order[0]]
    stopped = False
    last = {}
    for pos, i in enumerate(order):
        fm = fms[i]
        row = {c: _num(fm, c) for c in _COLS}
        row["df"] = dfs[i]
        row.update({c: np.nan for c in _DIFF})
        if pos > 0:
            j = order[pos - 1]
            d = float(fm["chisq"]) - float(fms[j]["chisq"])
            ddf = dfs[i] - dfs[j]
            if d < -np.finfo(float).eps ** (1 / 3):
                warnings.append(f"the more restricted model {names[i]!r} fits better than {names[j]!r} (chi-square "
                                f"difference {d:.4f}); either the models are not nested, or {names[j]!r} missed the "
                                "global optimum")
            rd = math.sqrt(max((d / N) / ddf - 1 / N, 0.0)) * math.sqrt(G) if N > 0 else float("nan")
            if method == "satorra.bentler.2001":
                out = satorra_bentler_2001(float(fms[j]["chisq"]), dfs[j], _num(fms[j], "chisq.scaling.factor"),
                                           float(fm["chisq"]), dfs[i], _num(fm, "chisq.scaling.factor"))
                d, rd = out["T.delta"], float("nan")
            elif method == "satorra.2000":
                out = satorra_2000(results[j].robust, results[i].robust, float(fms[j]["chisq"]), dfs[j],
                                   float(fm["chisq"]), dfs[i], getattr(results[j], "information", "expected"))
                d, rd = out["T.delta"], float("nan")
            p = float(chi2.sf(d, ddf)) if d >= 0 else 1.0
            row.update({"chisq.diff": d, "df.diff": ddf, "pvalue.diff": p, "rmsea.diff": rd,
                        "delta.cfi": row["cfi"] - rows[-1]["cfi"], "delta.rmsea": row["rmsea"] - rows[-1]["rmsea"]})
            daic, dbic = row["aic"] - rows[-1]["aic"], row["bic"] - rows[-1]["bic"]
            test = f"\u0394\u03c7\u00b2({ddf}) = {d:.2f}, {format_p(p, prefix=True)}"
            extra = []
            if not math.isnan(row["delta.cfi"]):
                dc = row["delta.cfi"]
                extra.append(f"\u0394CFI = {dc:+.3f}" if abs(dc) >= 0.0005 else "\u0394CFI = 0.000")
            if not math.isnan(daic):
                extra.append(f"AIC favours {names[i] if daic < 0 else names[j]} by {abs(daic):.1f}")
            if not math.isnan(dbic):
                extra.append(f"BIC favours {names[i] if dbic < 0 else names[j]} by {abs(dbic):.1f}")
            if p < alpha:
                v = (f"The {_model(names[j])} fits significantly better than the {_model(names[i])} ({test}): "
                     f"its {ddf} restriction(s) are rejected")
                stopped = True
            else:
                v = (f"No significant loss of fit from the {ddf} restriction(s) of the {_model(names[i])} ({test}): "
                     f"prefer the more parsimonious {_model(names[i])}" if k > 2 else
                     f"No significant loss of fit from the {ddf} restriction(s) ({test}): prefer the more "
                     f"parsimonious {_model(names[i])}")
                if not stopped:
                    preferred = names[i]
            verdicts.append(v + ("; " + "; ".join(extra) if extra else "") + ".")
            last = dict(restricted=names[i], full=names[j], chisq_diff=d, df_diff=ddf, pvalue=p, rmsea_diff=rd,
                        delta_cfi=row["delta.cfi"], delta_rmsea=row["delta.rmsea"], delta_aic=daic, delta_bic=dbic)
        rows.append(row)
    table = pd.DataFrame(rows, index=[names[i] for i in order], columns=_COLS + _DIFF)
    table["df"] = table["df"].astype(int)
    table["npar"] = table["npar"].astype("Int64") if table["npar"].notna().all() else table["npar"]
    table["df.diff"] = pd.array([pd.NA if pd.isna(x) else int(x) for x in table["df.diff"]], dtype="Int64")
    return ModelComparison(names=tuple(names), table=table, alpha=alpha, preferred=preferred,
                           verdict=" ".join(verdicts), warnings=warnings, ngroups=int(G), method=method, **last)

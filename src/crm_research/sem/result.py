"""Result objects of :func:`crm_research.sem.fit` (:class:`SEMResult`, :class:`BootstrapResult`)
and the public accessors other modules use to read any fitted model: :func:`estimates_of`,
:func:`fit_measures_of`, :func:`warnings_of` and :func:`fit_sentence`.

The accessors take a :class:`SEMResult`, a lavaan-style estimates DataFrame, a lavaan JSON
dict (``{"estimates": [...], "fit_measures": {...}}``) or anything with ``.estimates`` /
``.fit_measures`` / ``.warnings`` attributes, so tables can be built from lavaan's own output.
"""
from __future__ import annotations

import html
import math
from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np
import pandas as pd

from ..errors import ModelError
from ..reporting.format import format_number, format_p, html_table

SECTIONS = [
    ("=~", "Latent Variables"),
    ("~", "Regressions"),
    ("~~cov", "Covariances"),
    ("~1", "Intercepts"),
    ("|", "Thresholds"),
    ("~~var", "Variances"),
    ("~*~", "Scales y*"),
    (":=", "Defined Parameters"),
]


@dataclass
class BootstrapResult:
    """Nonparametric bootstrap of rows (lavaan ``se = "bootstrap"``).

    Attributes
    ----------
    R : int
        Replicates requested.
    n_ok : int
        Replicates used for SEs and CIs (converged and admissible).
    n_failed : int
        Replicates whose refit did not converge or whose sample covariance matrix was not
        positive definite; excluded.
    n_nonadmissible : int
        Converged replicates with a negative variance estimate (Heywood case) or a
        non-positive-definite latent/residual covariance matrix; excluded unless
        ``keep_nonadmissible=True`` was passed to :func:`~crm_research.sem.fit`.
    seed : int or None
    replicates : DataFrame
        One row per replicate: ``replicate``, ``status`` (``ok``, ``failed``,
        ``nonadmissible``) and one column per free and defined parameter (named like the
        ``estimates`` rows, e.g. ``visual=~x2``, ``indirect``).
    seconds : float
        Wall time of the bootstrap.
    n_jobs : int
        Worker processes used (results do not depend on it).
    ci_type : str
        The interval in ``ci.lower``/``ci.upper``: ``"perc"`` or ``"bca.simple"``.

    Examples
    --------
    >>> import pandas as pd
    >>> from crm_research import sem
    >>> hs = pd.read_csv("tests/reference/lavaan/HolzingerSwineford1939.csv")
    >>> res = sem.fit("visual =~ x1 + x2 + x3\\ntextual =~ x4 + x5 + x6\\ntextual ~ visual", hs,
    ...               se="bootstrap", bootstrap=50, seed=1, n_jobs=1)
    >>> b = res.bootstrap
    >>> b.R, b.n_ok, b.n_failed, b.replicates.shape
    (50, 50, 0, (50, 15))
    """

    R: int
    n_ok: int
    n_failed: int
    n_nonadmissible: int
    seed: int | None
    replicates: pd.DataFrame
    seconds: float = 0.0
    n_jobs: int = 1
    ci_type: str = "perc"

    def summary(self) -> str:
        return (f"bootstrap: R = {self.R}, used {self.n_ok}, failed {self.n_failed}, "
                f"nonadmissible {self.n_nonadmissible} (seed {self.seed}, {self.seconds:.2f} s, {self.n_jobs} job(s))")

    def __repr__(self) -> str:
        return f"<BootstrapResult {self.summary()}>"


def _fmt(x, width=9, digits=3):
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return " " * width
    return f"{x:{width}.{digits}f}"


@dataclass
class SEMResult:
    """A fitted structural equation model.

    Attributes
    ----------
    model : str
        The lavaan syntax as given.
    estimates : DataFrame
        lavaan's ``parameterEstimates(fit, standardized = TRUE)``: ``lhs, op, rhs, label,
        est, se, z, pvalue, ci.lower, ci.upper, std.lv, std.all`` (``group`` after ``rhs``
        for multiple groups; with a bootstrap also ``boot.perc.lower/upper`` and
        ``boot.bc.lower/upper``, ``ci.lower/upper`` then being the interval chosen by
        ``boot_ci``).
    fit_measures : dict
        lavaan ``fitMeasures()`` names and values.
    warnings : list of str
        Problems found (never silently dropped): non-convergence, Heywood cases,
        non-positive-definite matrices, identification, failed standard errors.
    converged : bool
    nobs : int
        Observations used (all groups).
    partable : DataFrame
        The parameter table (lavaan layout).
    bootstrap : BootstrapResult or None
    estimator, se_type, test, information : str
        lavaan's resolved ``estimator``, ``se``, ``test`` and ``information`` (see
        :func:`estimation_label` for words).
    ordered : list of str
        Items treated as ordinal (categorical fits).
    test_details : dict
        The robust test statistic as lavaan's ``lavInspect(fit, "test")`` holds it (``test,
        stat, df, pvalue, scaling.factor, shift.parameter, trace.UGamma, trace.UGamma2``,
        ``scaling.factor.h1/h0`` for Yuan-Bentler); empty for a standard test.
    robust : object or None
        The robust ingredients of the fit (:class:`~crm_research.sem.robust.RobustML`: Gamma,
        Delta, information), kept for scaled difference tests (:func:`compare_models`).

    Examples
    --------
    >>> import pandas as pd
    >>> from crm_research import sem
    >>> hs = pd.read_csv("tests/reference/lavaan/HolzingerSwineford1939.csv")
    >>> res = sem.fit("visual =~ x1 + x2 + x3\\ntextual =~ x4 + x5 + x6", hs)
    >>> res.converged, res.nobs, int(res.fit_measures["npar"])
    (True, 301, 13)
    >>> round(float(res.get("visual", "~~", "textual")["std.all"]), 3)
    0.461
    >>> print(res.summary().splitlines()[2])
      Observations: 301
    """

    model: str
    estimates: pd.DataFrame
    fit_measures: dict
    warnings: list
    converged: bool
    nobs: int
    partable: pd.DataFrame
    bootstrap: BootstrapResult | None = None
    se_type: str = "standard"
    ci_level: float = 0.95
    group: str | None = None
    group_labels: list = field(default_factory=list)
    nobs_groups: list = field(default_factory=list)
    n_dropped: int = 0
    iterations: int = 0
    optimizer: str = ""
    vcov: pd.DataFrame | None = None
    notes: list = field(default_factory=list)
    endogenous: set = field(default_factory=set)
    latent: list = field(default_factory=list)
    missing: str = "listwise"
    estimator: str = "ML"
    test: str = "standard"
    ordered: list = field(default_factory=list)
    parameterization: str = ""
    information: str = "expected"
    test_details: dict = field(default_factory=dict)
    robust: Any = field(default=None, repr=False)

    # ------------------------------------------------------------------ sample
    @property
    def n_input(self) -> int:
        """Rows in the data given to :func:`~crm_research.sem.fit` (used plus dropped)."""
        return int(self.nobs) + int(self.n_dropped)

    @property
    def missing_summary(self) -> str:
        """One sentence: which missing-data treatment, how many respondents it used.

        >>> SEMResult("", pd.DataFrame(), {}, [], True, 353, pd.DataFrame(), n_dropped=147).missing_summary
        'listwise deletion: 353 of 500 respondents with complete answers used'
        """
        if self.missing == "ml":
            txt = f"full-information ML (missing = \"ml\"): {self.nobs} of {self.n_input} respondents used"
            if self.n_dropped:
                txt += f" ({self.n_dropped} without any answer to the model's items left out)"
            return txt
        if self.missing == "pairwise":
            return (f"pairwise deletion (missing = \"pairwise\"): each correlation from the respondents who "
                    f"answered both items; {self.nobs} of {self.n_input} respondents used")
        return (f"listwise deletion: {self.nobs} of {self.n_input} respondents with complete answers used")

    # ------------------------------------------------------------------ text
    def fit_lines(self) -> list[str]:
        fm = self.fit_measures
        if not fm:
            return ["  (fit measures unavailable)"]
        chisq, df = fm.get("chisq", float("nan")), fm.get("df", float("nan"))
        lines = [
            f"  chi2({int(df)}) = {chisq:.3f}, {format_p(fm.get('pvalue'), prefix=True)}",
            f"  CFI = {fm['cfi']:.3f}, TLI = {fm['tli']:.3f}",
            f"  RMSEA = {fm['rmsea']:.3f}, 90% CI [{fm['rmsea.ci.lower']:.3f}, {fm['rmsea.ci.upper']:.3f}], "
            f"p(RMSEA <= .05) = {fm['rmsea.pvalue']:.3f}" if math.isfinite(fm.get("rmsea.pvalue", float("nan")))
            else f"  RMSEA = {fm['rmsea']:.3f}, 90% CI [{fm['rmsea.ci.lower']:.3f}, {fm['rmsea.ci.upper']:.3f}]",
            f"  SRMR = {fm['srmr']:.3f}",
            f"  GFI = {fm['gfi']:.3f}, AGFI = {fm['agfi']:.3f}",
            f"  AIC = {fm['aic']:.3f}, BIC = {fm['bic']:.3f}, log-likelihood = {fm['logl']:.3f}",
            f"  baseline chi2({int(fm['baseline.df'])}) = {fm['baseline.chisq']:.3f}",
        ]
        if not math.isfinite(fm.get("logl", float("nan"))):   # least-squares estimators: no likelihood
            lines = [ln for ln in lines if not ln.startswith("  AIC = ")]
        if "chisq.scaled" in fm:
            c = fm.get("chisq.scaling.factor", float("nan"))
            dfs = fm.get("df.scaled", float("nan"))
            dtxt = f"{int(dfs)}" if math.isfinite(dfs) and float(dfs).is_integer() else f"{dfs:.3f}"
            word = {"satorra.bentler": "Satorra-Bentler", "yuan.bentler.mplus": "Yuan-Bentler",
                    "scaled.shifted": "scaled-shifted", "mean.var.adjusted": "mean-and-variance adjusted"}.get(
                        self.test, self.test)
            extra = [f"  scaled chi2({dtxt}) = {fm['chisq.scaled']:.3f}, {format_p(fm.get('pvalue.scaled'), prefix=True)}"
                     f" ({word}; scaling factor {c:.3f})"]
            if "cfi.robust" in fm:
                extra.append(f"  robust CFI = {fm['cfi.robust']:.3f}, robust TLI = {fm['tli.robust']:.3f}")
                extra.append(f"  robust RMSEA = {fm['rmsea.robust']:.3f}, 90% CI [{fm['rmsea.ci.lower.robust']:.3f}, "
                             f"{fm['rmsea.ci.upper.robust']:.3f}]")
            else:
                extra.append(f"  scaled CFI = {fm['cfi.scaled']:.3f}, scaled TLI = {fm['tli.scaled']:.3f}")
                extra.append(f"  scaled RMSEA = {fm['rmsea.scaled']:.3f}")
            bdf = fm.get("baseline.df.scaled", float("nan"))
            btxt = f"{int(bdf)}" if math.isfinite(bdf) and float(bdf).is_integer() else f"{bdf:.3f}"
            extra.append(f"  baseline scaled chi2({btxt}) = {fm['baseline.chisq.scaled']:.3f}")
            lines = lines[:1] + extra[:1] + lines[1:3] + extra[1:3] + lines[3:] + extra[3:]
        elif "cfi.robust" in fm:
            lines.insert(3, f"  robust CFI = {fm['cfi.robust']:.3f}, robust TLI = {fm['tli.robust']:.3f}, robust RMSEA = "
                            f"{fm['rmsea.robust']:.3f} (corrected for incomplete data, Zhang & Savalei)")
        return lines

    def _section_rows(self, est: pd.DataFrame):
        out = []
        for key, title in SECTIONS:
            if key == "~~cov":
                sub = est[(est["op"] == "~~") & (est["lhs"] != est["rhs"])]
            elif key == "~~var":
                sub = est[(est["op"] == "~~") & (est["lhs"] == est["rhs"])]
            else:
                sub = est[est["op"] == key]
            if len(sub):
                out.append((key, title, sub))
        return out

    def _estimate_block(self, est: pd.DataFrame) -> list[str]:
        lines = []
        boot = self.bootstrap is not None
        ci_name = f"{int(round(self.ci_level * 100))}% CI"
        head = f"{'':<22}{'Estimate':>9}{'Std.Err':>9}{'z-value':>9}{'P(>|z|)':>9}{ci_name:>19}{'Std.lv':>9}{'Std.all':>9}"
        for key, title, sub in self._section_rows(est):
            lines.append("")
            lines.append(f"{title}:")
            lines.append(head)
            prev = None
            for d in sub.to_dict("records"):
                lhs, op, rhs = d["lhs"], d["op"], d["rhs"]
                label = d.get("label", "") or ""
                if key in ("=~", "~", "~~cov"):
                    if lhs != prev:
                        lines.append(f"  {lhs} {op.replace('cov', '')}")
                        prev = lhs
                    name = rhs
                    indent = "    "
                elif key == ":=":
                    name, indent = lhs, "    "
                elif key == "|":
                    name, indent = f"{lhs}|{rhs}", "    "
                else:
                    dot = "." if lhs in self.endogenous and key != "~*~" else " "
                    name, indent = lhs, "   " + dot
                if label and key != ":=" and not label.startswith(".p"):
                    name = f"{name} ({label})"
                se = d["se"]
                fixed = (se == 0) if se is not None and math.isfinite(se) else False
                ci = ""
                lo, hi = d.get("ci.lower"), d.get("ci.upper")
                if not fixed and lo is not None and math.isfinite(lo) and math.isfinite(hi):
                    ci = f"[{lo:7.3f}, {hi:7.3f}]"
                line = (f"{indent}{name:<18.18}{_fmt(d['est'])}"
                        f"{'' if fixed else _fmt(se)}{'' if fixed else _fmt(d['z'])}{'' if fixed else _fmt(d['pvalue'])}")
                if fixed:
                    line = line + " " * 27
                line += f"{ci:>19}{_fmt(d.get('std.lv'))}{_fmt(d.get('std.all'))}"
                lines.append(line.rstrip())
        return lines

    def summary(self) -> str:
        """A report a reader can paste into a paper: fit, problems, then the estimates grouped
        as lavaan's ``summary()`` prints them, with standardized solutions."""
        from .. import __version__

        how = "maximum likelihood" if estimation_label(self) == "ML" else estimation_label(self)
        out = [f"Structural equation model, {how} (crm-research {__version__}, lavaan 0.6 parity)"]
        conv = "converged" if self.converged else "DID NOT CONVERGE"
        out.append(f"  Optimizer: {self.optimizer}, {conv} after {self.iterations} iterations")
        if self.group_labels:
            grp = ", ".join(f"{lab}: {n}" for lab, n in zip(self.group_labels, self.nobs_groups))
            out.append(f"  Observations: {self.nobs} ({grp}); groups from column {self.group!r}")
        else:
            out.append(f"  Observations: {self.nobs}")
        if self.missing == "ml":
            out.append(f"  Missing data: {self.missing_summary}")
        elif self.n_dropped:
            out.append(f"  Listwise deletion dropped {self.n_dropped} incomplete row(s)")
        out.append(f"  Free parameters: {int(self.fit_measures.get('npar', 0)) if self.fit_measures else '?'}")
        if self.bootstrap is not None:
            b = self.bootstrap
            ci = {"perc": "percentile", "bca.simple": "bias-corrected (BC)"}.get(b.ci_type, b.ci_type)
            out.append(f"  Standard errors: bootstrap (R = {b.R}: {b.n_ok} used, {b.n_failed} failed, "
                       f"{b.n_nonadmissible} nonadmissible; seed {b.seed}); CIs: {ci}")
        elif self.se_type == "none":
            out.append("  Standard errors: none")
        elif self.se_type == "robust.sem":
            out.append(f"  Standard errors: robust (sandwich, {self.information} information and Gamma); CIs: Wald")
        elif self.se_type == "robust.huber.white":
            out.append(f"  Standard errors: robust Huber-White (sandwich, {self.information} information); CIs: Wald")
        else:
            out.append(f"  Standard errors: {self.information} information (normal ML); CIs: Wald")
        out.append("")
        out.append("Model fit:")
        out.extend(self.fit_lines())
        if self.warnings:
            out.append("")
            out.append("Warnings:")
            out.extend(f"  ! {w}" for w in self.warnings)
        if self.notes:
            out.append("")
            out.append("Notes:")
            out.extend(f"  - {n}" for n in self.notes)
        est = self.estimates
        if "group" in est.columns and self.group_labels:
            for g, lab in enumerate(self.group_labels, start=1):
                out.append("")
                out.append(f"Group {g} [{lab}]:")
                out.extend(self._estimate_block(est[est["group"] == g]))
            rest = est[est["group"] == 0]
            if len(rest):
                out.extend(self._estimate_block(rest))
        else:
            out.extend(self._estimate_block(est))
        return "\n".join(out)

    def __str__(self) -> str:
        return self.summary()

    def __repr__(self) -> str:
        fm = self.fit_measures or {}
        chi = f"chi2({int(fm['df'])}) = {fm['chisq']:.3f}" if fm else "no fit"
        return (f"<SEMResult N={self.nobs}, npar={int(fm.get('npar', 0))}, {chi}, "
                f"{'converged' if self.converged else 'NOT converged'}, {len(self.warnings)} warning(s)>")

    # ------------------------------------------------------------------ html
    def _repr_html_(self) -> str:
        esc = html.escape
        fm = self.fit_measures or {}
        status = "converged" if self.converged else "<span style='color:#b00'>did not converge</span>"
        parts = ["<div class='crm-sem'>",
                 f"<p><b>SEM ({esc(estimation_label(self))})</b>: N = {self.nobs}, {int(fm.get('npar', 0))} free parameters, {status}</p>"]
        if fm:
            rows = [("\u03c7\u00b2(df)", f"{fm['chisq']:.3f} ({int(fm['df'])}), {format_p(fm['pvalue'], prefix=True)}"),
                    ("CFI / TLI", f"{fm['cfi']:.3f} / {fm['tli']:.3f}"),
                    ("RMSEA [90% CI]", f"{fm['rmsea']:.3f} [{fm['rmsea.ci.lower']:.3f}, {fm['rmsea.ci.upper']:.3f}]"),
                    ("SRMR", f"{fm['srmr']:.3f}"),
                    *([("scaled \u03c7\u00b2 (scaling factor)",
                        f"{fm['chisq.scaled']:.3f} ({fm['chisq.scaling.factor']:.3f}), "
                        f"{format_p(fm.get('pvalue.scaled'), prefix=True)}")] if "chisq.scaled" in fm else []),
                    *([("robust CFI / TLI", f"{fm['cfi.robust']:.3f} / {fm['tli.robust']:.3f}"),
                       ("robust RMSEA [90% CI]", f"{fm['rmsea.robust']:.3f} [{fm['rmsea.ci.lower.robust']:.3f}, "
                                                 f"{fm['rmsea.ci.upper.robust']:.3f}]")]
                      if "chisq.scaled" in fm and "cfi.robust" in fm else []),
                    ("AIC / BIC", f"{fm['aic']:.3f} / {fm['bic']:.3f}")]
            parts.append(html_table(pd.DataFrame(rows, columns=["Fit", "Value"]), numeric_class=None))
        if self.bootstrap is not None:
            parts.append(f"<p>{esc(self.bootstrap.summary())}</p>")
        if self.warnings:
            parts.append("<ul style='color:#b00'>" + "".join(f"<li>{esc(w)}</li>" for w in self.warnings) + "</ul>")
        parts.append(html_table(self.estimates, decimals=3))
        parts.append("</div>")
        return "\n".join(parts)

    # ------------------------------------------------------------------ helpers
    def get(self, lhs: str, op: str, rhs: str = "", group: int | None = None) -> pd.Series:
        """The estimates row ``lhs op rhs`` (e.g. ``res.get("SAT", "~", "OPS")``)."""
        e = self.estimates
        sel = (e["lhs"] == lhs) & (e["op"] == op) & (e["rhs"] == rhs)
        if group is not None and "group" in e.columns:
            sel &= e["group"] == group
        rows = e[sel]
        if len(rows) == 0:
            raise KeyError(f"no parameter {lhs} {op} {rhs}".rstrip())
        return rows.iloc[0]


# ============================================================================ accessors
_NUM_COLS = ("est", "se", "z", "pvalue", "ci.lower", "ci.upper", "std.lv", "std.all")


def estimates_of(obj: Any, *, groups_ok: bool = False) -> pd.DataFrame:
    """The lavaan-style estimates table of any fitted model, cleaned for analysis.

    Parameters
    ----------
    obj : SEMResult, DataFrame, dict or object with ``.estimates``
        A :func:`~crm_research.sem.fit` result, its ``estimates`` table, a lavaan JSON dict
        (``{"estimates": [...]}``) or a list of records with ``lhs, op, rhs, est, ...``.
    groups_ok : bool
        Accept a multi-group table (several values in ``group``); by default such a table
        is refused, because most analyses take one group.

    Returns
    -------
    DataFrame
        A copy with ``label`` filled ("" when none), lavaan's numeric columns present (NaN
        when absent) and as floats, ``lhs, op, rhs`` as strings, a fresh index.

    Raises
    ------
    TypeError
        ``obj`` holds no estimates table.
    ModelError
        Several groups and ``groups_ok=False``.

    Examples
    --------
    >>> est = estimates_of(pd.DataFrame({"lhs": ["f"], "op": ["=~"], "rhs": ["x1"], "est": [1.0]}))
    >>> list(est.columns[:5]), est.loc[0, "label"]
    (['lhs', 'op', 'rhs', 'est', 'label'], '')
    """
    est = getattr(obj, "estimates", None)
    if est is None and isinstance(obj, Mapping):
        est = obj.get("estimates")
    if est is None:
        est = obj
    if isinstance(est, list):
        est = pd.DataFrame.from_records(est)
    if not isinstance(est, pd.DataFrame) or not {"lhs", "op", "rhs"} <= set(est.columns):
        raise TypeError("expected a fitted model (sem.fit result), or its estimates table with "
                        f"columns lhs, op, rhs, est, ...; got {type(obj).__name__}")
    est = est.copy()
    if "label" not in est.columns:
        est["label"] = ""
    est["label"] = est["label"].fillna("").astype(str)
    for c in _NUM_COLS:
        if c in est.columns:
            est[c] = pd.to_numeric(est[c], errors="coerce").astype(float)
        else:
            est[c] = np.nan
    for c in ("lhs", "op", "rhs"):
        est[c] = est[c].astype(str)
    if not groups_ok and "group" in est.columns and est["group"].nunique() > 1:
        groups = ", ".join(map(str, est["group"].unique()))
        raise ModelError(f"the estimates hold several groups ({groups}); this analysis takes one group",
                         hint="select one group's rows, e.g. result.estimates.query('group == 1')")
    return est.reset_index(drop=True)


def fit_measures_of(obj: Any) -> dict[str, Any]:
    """lavaan ``fitMeasures()`` of a fitted model (a copy; ``{}`` when it has none).

    Parameters
    ----------
    obj : SEMResult, mapping or object
        Anything with a ``fit_measures`` attribute or key.

    Returns
    -------
    dict
        Fit measure name -> value.

    Examples
    --------
    >>> fit_measures_of({"fit_measures": {"cfi": 0.95}})
    {'cfi': 0.95}
    """
    fm = getattr(obj, "fit_measures", None)
    if fm is None and isinstance(obj, Mapping):
        fm = obj.get("fit_measures")
    return dict(fm or {})


def warnings_of(obj: Any) -> list[str]:
    """Estimation warnings of a fitted model, with a non-convergence warning added when the
    object says it did not converge but its warnings do not mention it.

    Parameters
    ----------
    obj : SEMResult or object
        Anything with ``warnings`` (list of str) and, optionally, ``converged`` attributes.

    Returns
    -------
    list of str

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> warnings_of(SimpleNamespace(warnings=[], converged=False))
    ['the model did not converge; its estimates are not trustworthy']
    """
    w = list(getattr(obj, "warnings", None) or [])
    if getattr(obj, "converged", True) is False and not any("converge" in str(x).lower() for x in w):
        w.append("the model did not converge; its estimates are not trustworthy")
    return [str(x) for x in w]


_SE_WORDS = {"robust.sem": "robust SE", "robust.huber.white": "Huber-White robust SE", "bootstrap": "bootstrap SE",
             "none": "no SE", "robust.cluster": "cluster-robust SE", "robust.cluster.sem": "cluster-robust SE"}
_TEST_WORDS = {"satorra.bentler": "Satorra-Bentler scaled test", "yuan.bentler": "Yuan-Bentler scaled test",
               "yuan.bentler.mplus": "Yuan-Bentler scaled test", "scaled.shifted": "scaled-shifted test",
               "mean.var.adjusted": "mean-and-variance adjusted test", "none": "no test"}


def estimation_label(res: Any) -> str:
    """The estimation of a fitted model in words: estimator, standard errors, test statistic,
    ordinal items (the one place that names an estimation; reports use it).

    Parameters
    ----------
    res : SEMResult or object
        Anything with ``estimator``, ``se_type``, ``test`` and ``ordered`` attributes
        (missing ones read as lavaan's ML defaults).

    Returns
    -------
    str
        e.g. ``"ML"``, ``"MLR (Huber-White robust SE, Yuan-Bentler scaled test)"``,
        ``"WLSMV (robust SE, scaled-shifted test; ordered: 25 items)"``.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> estimation_label(SimpleNamespace(estimator="ML", se_type="standard", test="standard"))
    'ML'
    >>> estimation_label(SimpleNamespace(estimator="MLR", se_type="robust.huber.white", test="yuan.bentler.mplus"))
    'MLR (Huber-White robust SE, Yuan-Bentler scaled test)'
    >>> estimation_label(SimpleNamespace(estimator="WLSMV", se_type="robust.sem", test="scaled.shifted",
    ...                                  ordered=["x1", "x2", "x3"]))
    'WLSMV (robust SE, scaled-shifted test; ordered: 3 items)'
    """
    est = str(getattr(res, "estimator", None) or "ML")
    se = str(getattr(res, "se_type", None) or "standard")
    test = str(getattr(res, "test", None) or "standard")
    ordered = list(getattr(res, "ordered", None) or [])
    words = [w for w in (_SE_WORDS.get(se, "" if se == "standard" else se),
                         _TEST_WORDS.get(test, "" if test == "standard" else test)) if w]
    inner = ", ".join(words)
    if ordered:
        n = len(ordered)
        inner += ("; " if inner else "") + f"ordered: {n} item{'s' if n != 1 else ''}"
    return f"{est} ({inner})" if inner else est


def fit_sentence(fit_measures: Mapping[str, Any] | pd.Series | Any) -> str:
    """The fit of a model in one line, APA style.

    Parameters
    ----------
    fit_measures : mapping, Series, or a fitted model

    Returns
    -------
    str
        ``chi2(df) = ..., p ...; CFI = ...; TLI = ...; RMSEA = ... [90% CI]; SRMR = ...`` with
        the measures present; ``"no fit measures"`` when there are none.  A robust fit (with
        ``chisq.scaled``) reads ``scaled chi2(df) = ..., p ...; robust CFI = ...; robust TLI =
        ...; robust RMSEA = ... [CI]; SRMR = ...`` (the scaled versions where lavaan reports no
        robust ones, as for the mean-and-variance adjusted test).

    Examples
    --------
    >>> fit_sentence({"chisq": 85.306, "df": 24, "pvalue": 1e-8, "cfi": 0.931, "tli": 0.896,
    ...               "rmsea": 0.092, "rmsea.ci.lower": 0.071, "rmsea.ci.upper": 0.114, "srmr": 0.065})
    'chi2(24) = 85.31, p < .001; CFI = .931; TLI = .896; RMSEA = .092 [.071, .114]; SRMR = .065'
    >>> fit_sentence({"chisq": 85.306, "df": 24, "chisq.scaled": 80.872, "df.scaled": 24, "pvalue.scaled": 1e-7,
    ...               "cfi.robust": 0.930, "tli.robust": 0.895, "rmsea.robust": 0.092, "rmsea.ci.lower.robust": 0.071,
    ...               "rmsea.ci.upper.robust": 0.114, "srmr": 0.065})
    'scaled chi2(24) = 80.87, p < .001; robust CFI = .930; robust TLI = .895; robust RMSEA = .092 [.071, .114]; SRMR = .065'
    """
    if not isinstance(fit_measures, (Mapping, pd.Series)):
        fit_measures = fit_measures_of(fit_measures)

    def g(k: str) -> float:
        v = fit_measures.get(k, np.nan)
        try:
            return float(v) if v is not None and pd.notna(v) else float("nan")
        except (TypeError, ValueError):
            return float("nan")

    parts = []
    if not math.isnan(g("chisq.scaled")):
        # a robust test: the scaled chi-square and the robust (else scaled) indices, named so
        dfs = g("df.scaled")
        dtxt = "?" if math.isnan(dfs) else (f"{int(dfs)}" if float(dfs).is_integer() else f"{dfs:.2f}")
        p = g("pvalue.scaled")
        parts.append(f"scaled chi2({dtxt}) = {g('chisq.scaled'):.2f}" + ("" if math.isnan(p) else ", " + format_p(p, prefix=True)))
        for k, lab in (("cfi", "CFI"), ("tli", "TLI")):
            for kind in ("robust", "scaled"):
                if not math.isnan(g(f"{k}.{kind}")):
                    parts.append(f"{kind} {lab} = {format_number(g(f'{k}.{kind}'), 3, bounded=True)}")
                    break
        for kind in ("robust", "scaled"):
            if not math.isnan(g(f"rmsea.{kind}")):
                lo, hi = g(f"rmsea.ci.lower.{kind}"), g(f"rmsea.ci.upper.{kind}")
                parts.append(f"{kind} RMSEA = {format_number(g(f'rmsea.{kind}'), 3, bounded=True)} "
                             f"[{format_number(lo, 3, bounded=True)}, {format_number(hi, 3, bounded=True)}]")
                break
        if not math.isnan(g("srmr")):
            parts.append(f"SRMR = {format_number(g('srmr'), 3, bounded=True)}")
        return "; ".join(parts)
    if not math.isnan(g("chisq")):
        p = g("pvalue")
        ptxt = "" if math.isnan(p) else ", " + format_p(p, prefix=True)
        parts.append(f"chi2({int(g('df')) if not math.isnan(g('df')) else '?'}) = {g('chisq'):.2f}{ptxt}"
                     + (" (saturated)" if g("df") == 0 else ""))
    for k, lab in (("cfi", "CFI"), ("tli", "TLI")):
        if not math.isnan(g(k)):
            parts.append(f"{lab} = {format_number(g(k), 3, bounded=True)}")
    if not math.isnan(g("rmsea")):
        parts.append(f"RMSEA = {format_number(g('rmsea'), 3, bounded=True)} [{format_number(g('rmsea.ci.lower'), 3, bounded=True)}, {format_number(g('rmsea.ci.upper'), 3, bounded=True)}]")
    if not math.isnan(g("srmr")):
        parts.append(f"SRMR = {format_number(g('srmr'), 3, bounded=True)}")
    return "; ".join(parts) or "no fit measures"


def estimates_table(f: pd.DataFrame, est, se_vec, std_lv, std_all, ci_level: float, grouped: bool) -> pd.DataFrame:
    """lavaan's ``parameterEstimates(fit, standardized = TRUE)`` layout from a parameter table and
    its vectors: Wald z, p and confidence intervals; SEs below sqrt(machine epsilon) (fixed
    parameters) are 0 with no z, p or interval; NaN SEs stay NaN.

    >>> f = pd.DataFrame({"lhs": ["f"], "op": ["=~"], "rhs": ["x"], "label": [""]})
    >>> t = estimates_table(f, np.array([0.5]), np.array([0.1]), [0.4], [0.3], 0.95, False)
    >>> round(float(t["z"][0]), 1), round(float(t["ci.lower"][0]), 3), t.attrs["ci.level"]
    (5.0, 0.304, 0.95)
    """
    from scipy.stats import norm

    se_clean = np.where(se_vec < np.sqrt(np.finfo(float).eps), 0.0, se_vec)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(se_clean > 0, est / np.where(se_clean > 0, se_clean, 1.0), np.nan)
    pval = 2 * norm.sf(np.abs(z))
    crit = norm.ppf(1 - (1 - ci_level) / 2)
    lo = np.where(np.isnan(se_clean), np.nan, est - crit * np.nan_to_num(se_clean))
    hi = np.where(np.isnan(se_clean), np.nan, est + crit * np.nan_to_num(se_clean))
    cols = {"lhs": f["lhs"].to_numpy(), "op": f["op"].to_numpy(), "rhs": f["rhs"].to_numpy()}
    if grouped:
        cols["group"] = f["group"].to_numpy()
    cols.update({"label": f["label"].to_numpy(), "est": est, "se": se_clean, "z": z, "pvalue": pval,
                 "ci.lower": lo, "ci.upper": hi, "std.lv": std_lv, "std.all": std_all})
    out = pd.DataFrame(cols)
    out.attrs["ci.level"] = float(ci_level)
    return out

"""The study's hypotheses: the table a paper prints, indirect effects and mediation
verdicts, and nested model comparison (full vs partial mediation).

    >>> from crm_research import hypotheses, instruments                      # doctest: +SKIP
    >>> inst = instruments.load_instrument("surveys/ecommerce_crm.yaml")        # doctest: +SKIP
    >>> t = hypotheses.test_hypotheses(data, inst, "ops", bootstrap=1000, seed=1)  # doctest: +SKIP
    >>> print(t.summary())                                                      # doctest: +SKIP

Working from any fitted model (a :func:`crm_research.sem.fit` result, or its lavaan-style
estimates table):

- :func:`hypothesis_table` — per hypothesis: path, expected sign, standardized (``std.all``)
  and unstandardized estimate, SE, z, p, CI, and whether it is supported (p < alpha *and*
  the sign as expected).
- :func:`indirect_effects` — the ``:=`` defined parameters with their CIs (bootstrap when
  the model was fitted with ``se="bootstrap"``).
- :func:`mediation_table` — per indirect effect the direct path and a verdict: full,
  partial or no mediation (Zhao, Lynch & Chen 2010 types).
- :func:`compare_models` — chi-square difference test as lavaan's ``lavTestLRT`` (standard
  ML), with RMSEA of the difference, delta CFI / RMSEA, AIC and BIC.
"""
from __future__ import annotations

import html
import math
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterable, Sequence

import numpy as np
import pandas as pd

from .errors import ModelError
from .measurement import _estimates, _fit_measures, _indent, _markdown, _sem_warnings, apa_number, apa_p

if TYPE_CHECKING:  # pragma: no cover
    from .instruments import Hypothesis, Instrument

__all__ = ["hypothesis_table", "indirect_effects", "mediation_table", "compare_models", "ModelComparison",
           "test_hypotheses", "HypothesisTest", "format_hypothesis_table"]

ARROW = "\u2192"
_SIGN = {"positive": "+", "negative": "-"}


# --------------------------------------------------------------------------- helpers
_BOOT_CI = {"perc": "percentile", "bca.simple": "bias-corrected", "bc": "bias-corrected"}


def _ci_method(result: Any) -> str:
    """How the CIs of ``result`` were made: ``bootstrap percentile (R = 1000)``,
    ``bootstrap`` or ``delta`` (normal theory, delta method for defined parameters)."""
    boot = getattr(result, "bootstrap", None)
    if boot is not None and hasattr(boot, "R"):
        kind = _BOOT_CI.get(str(getattr(boot, "ci_type", "perc")), str(getattr(boot, "ci_type", "")))
        return f"bootstrap {kind} (R = {boot.R})".replace("  ", " ")
    for attr in ("se_type", "se", "se_method"):
        v = getattr(result, attr, None)
        if isinstance(v, str) and "boot" in v.lower():
            return "bootstrap"
    return "delta" if not isinstance(result, (pd.DataFrame, list)) else "as given"


def _ci_level(result: Any) -> float:
    v = getattr(result, "ci_level", None) or getattr(result, "level", None)
    try:
        return float(v) if v else 0.95
    except (TypeError, ValueError):
        return 0.95


def _hyps(hypotheses: "Instrument | Iterable[Hypothesis]", model: str | None) -> tuple[list, bool]:
    """Resolve the hypotheses to test; second value: strict (all must be in the model)."""
    if hasattr(hypotheses, "models") and hasattr(hypotheses, "hypotheses"):
        inst = hypotheses
        if model is not None and model != "measurement":
            if model not in inst.models:
                from .errors import InstrumentError
                raise InstrumentError(inst.path or inst.id, "models", f"no model {model!r}",
                                      hint="known: " + ", ".join(inst.models))
            return [inst.hypothesis(h) for h in inst.models[model].hypotheses], True
        return list(inst.hypotheses), False
    return list(hypotheses), True


def _path_row(est: pd.DataFrame, lhs: str, rhs: str) -> pd.DataFrame:
    return est[(est.op == "~") & (est.lhs == lhs) & (est.rhs == rhs)]


# --------------------------------------------------------------------------- hypothesis table
def hypothesis_table(result: Any, hypotheses: "Instrument | Iterable[Hypothesis]", model: str | None = None, *,
                     alpha: float = 0.05) -> pd.DataFrame:
    """The hypothesis table a paper prints.

    Parameters
    ----------
    result : SEMResult or estimates DataFrame
        A fitted structural model.
    hypotheses : Instrument or list of Hypothesis
        With an instrument and ``model``, that model's hypotheses; with an instrument and no
        model, every instrument hypothesis whose path the result contains (a path labelled
        with another hypothesis' id is attributed to that one); with a list, each hypothesis
        must be in the model.
    model : str, optional
        Name of a model in the instrument (``ops``, ``crm``, ``combined``).
    alpha : float
        Significance level.

    Returns
    -------
    DataFrame
        ``hypothesis, path, expected, std.all, est, se, z, pvalue, ci.lower, ci.upper,
        supported, verdict``. ``supported`` is True when p < alpha and the estimate has the
        expected sign. The CI is the one the fit produced (bootstrap percentile when fitted
        with ``se="bootstrap"``).

    Raises
    ------
    ModelError
        A hypothesis' path is not in the model.
    """
    est = _estimates(result)
    hyps, strict = _hyps(hypotheses, model)
    labels = {h.label for h in hyps}
    rows = []
    for h in hyps:
        r = _path_row(est, h.lhs, h.rhs)
        if r.empty:
            if strict:
                raise ModelError(f"hypothesis {h.id} ({h.rhs} {ARROW} {h.lhs}) is not a path of the fitted model",
                                 hint=f"add '{h.lhs} ~ {h.rhs}' to the model syntax, or test the hypotheses of "
                                      "the model that contains it")
            continue
        r = r.iloc[0]
        if not strict and r.label and r.label != h.label and r.label in labels:
            continue  # path belongs to another hypothesis (e.g. H2 vs H4: both LOY ~ SAT)
        sign_ok = (r.est > 0) if h.sign == "positive" else (r.est < 0)
        sig = bool(pd.notna(r.pvalue) and r.pvalue < alpha)
        if pd.isna(r.pvalue):
            verdict = "not tested (fixed parameter)"
        elif sig and sign_ok:
            verdict = "supported"
        elif sig:
            verdict = "not supported (significant, opposite sign)"
        else:
            verdict = f"not supported (p = {apa_p(r.pvalue).replace('< ', '')} \u2265 {apa_number(alpha)})" \
                if r.pvalue >= 0.001 else "not supported"
        rows.append({"hypothesis": h.id, "path": f"{h.rhs} {ARROW} {h.lhs}", "expected": _SIGN.get(h.sign, h.sign),
                     "std.all": r["std.all"], "est": r.est, "se": r.se, "z": r.z, "pvalue": r.pvalue,
                     "ci.lower": r["ci.lower"], "ci.upper": r["ci.upper"],
                     "supported": bool(sig and sign_ok), "verdict": verdict})
    if not rows:
        raise ModelError("none of the hypotheses is a path of the fitted model",
                         hint="pass the model name (e.g. model='ops') matching the fitted syntax")
    return pd.DataFrame(rows, columns=["hypothesis", "path", "expected", "std.all", "est", "se", "z", "pvalue",
                                       "ci.lower", "ci.upper", "supported", "verdict"])


def format_hypothesis_table(table: pd.DataFrame, digits: int = 2, ci_level: float = 0.95) -> pd.DataFrame:
    """APA-style version of :func:`hypothesis_table` output (strings; check marks)."""
    return pd.DataFrame({
        "Hypothesis": table.hypothesis, "Path": table.path, "Expected": table.expected,
        "\u03b2": [apa_number(x, digits) for x in table["std.all"]],
        "B": [apa_number(x, digits, True) for x in table.est],
        "SE": [apa_number(x, digits, True) for x in table.se],
        "z": [apa_number(x, digits, True) for x in table.z],
        "p": [apa_p(x) for x in table.pvalue],
        f"{100 * ci_level:g}% CI": [f"[{apa_number(lo, digits, True)}, {apa_number(hi, digits, True)}]"
                                    for lo, hi in zip(table["ci.lower"], table["ci.upper"])],
        "Supported": ["Yes \u2713" if s else "No \u2717" for s in table.supported],
    })


# --------------------------------------------------------------------------- indirect effects
_TERM = re.compile(r"^\s*([A-Za-z_.][\w.]*(?:\s*\*\s*[A-Za-z_.][\w.]*)*)\s*$")


def _terms(defn: str) -> list[list[str]] | None:
    """'c + a*b' -> [['c'], ['a', 'b']]; None if not a sum of products of labels."""
    out = []
    for t in defn.split("+"):
        m = _TERM.match(t)
        if not m:
            return None
        out.append([x.strip() for x in m.group(1).split("*")])
    return out


def _chain(est: pd.DataFrame, labels: Sequence[str]) -> list[str] | None:
    """Variables along the path of a product of path labels, e.g. ['OPS', 'SAT', 'LOY']."""
    edges = []
    for lab in labels:
        r = est[(est.op == "~") & (est.label == lab)]
        if r.empty:
            return None
        edges.append((r.iloc[0].rhs, r.iloc[0].lhs))
    if len(edges) < 2:
        return None
    targets = {b for _, b in edges}
    starts = [a for a, _ in edges if a not in targets]
    if len(starts) != 1:
        return None
    nxt = dict(edges)
    if len(nxt) != len(edges):
        return None
    path = [starts[0]]
    while path[-1] in nxt and len(path) <= len(edges):
        path.append(nxt[path[-1]])
    return path if len(path) == len(edges) + 1 else None


def indirect_effects(result: Any, *, alpha: float = 0.05) -> pd.DataFrame:
    """The defined parameters (``:=``) of a fitted model, classified.

    Returns
    -------
    DataFrame
        ``effect, definition, kind`` (``indirect`` for a product of path labels along a
        chain, ``total`` for a direct path plus such products, else ``defined``), ``path``
        (e.g. ``OPS → SAT → LOY``), ``est, se, z, pvalue, ci.lower, ci.upper, std.all``,
        ``significant`` (the CI excludes 0; p < alpha when there is no CI) and ``ci``
        (how the interval was made, e.g. ``bootstrap percentile (R = 1000)`` or ``delta``);
        with a bootstrap also ``boot.perc.lower/upper`` and ``boot.bc.lower/upper``.
    """
    est = _estimates(result)
    method = _ci_method(result)
    rows = []
    for r in est[est.op == ":="].itertuples(index=False):
        terms = _terms(r.rhs)
        kind, path = "defined", ""
        if terms:
            chains = [_chain(est, t) for t in terms if len(t) > 1]
            singles = [t[0] for t in terms if len(t) == 1]
            if len(terms) == 1 and chains and chains[0]:
                kind, path = "indirect", f" {ARROW} ".join(chains[0])
            elif chains and all(chains) and singles:
                d = est[(est.op == "~") & est.label.isin(singles)]
                ends = {(c[0], c[-1]) for c in chains}
                if len(ends) == 1 and len(d) == len(singles) and all((x.rhs, x.lhs) in ends for x in d.itertuples()):
                    a, b = next(iter(ends))
                    kind, path = "total", f"{a} {ARROW} {b}"
        rows.append({"effect": r.lhs, "definition": r.rhs, "kind": kind, "path": path})
    sub = est[est.op == ":="].reset_index(drop=True)
    out = pd.DataFrame(rows, columns=["effect", "definition", "kind", "path"])
    for c in ("est", "se", "z", "pvalue", "ci.lower", "ci.upper", "std.all"):
        out[c] = sub[c].to_numpy(float) if len(sub) else []
    has_ci = out["ci.lower"].notna() & out["ci.upper"].notna()
    out["significant"] = np.where(has_ci, (out["ci.lower"] > 0) | (out["ci.upper"] < 0),
                                  out.pvalue < alpha).astype(bool)
    out["ci"] = method
    for c in ("boot.perc.lower", "boot.perc.upper", "boot.bc.lower", "boot.bc.upper"):
        if c in sub.columns:
            out[c] = pd.to_numeric(sub[c], errors="coerce").to_numpy(float)
    return out


# --------------------------------------------------------------------------- mediation
def mediation_table(result: Any, *, alpha: float = 0.05) -> pd.DataFrame:
    """Mediation verdict for every indirect effect of a fitted model.

    The indirect effect counts as significant when its CI excludes 0 (use
    ``se="bootstrap"`` for the recommended percentile interval); the direct path ``Y ~ X``
    when p < alpha. Types after Zhao, Lynch & Chen (2010):

    ==================  ====================  ===================
    indirect            direct                verdict
    ==================  ====================  ===================
    significant         significant, same     partial (complementary)
    significant         significant, opposite partial (competitive)
    significant         not significant       full (indirect-only)
    significant         not in the model      indirect effect; direct path not estimated
    not significant     significant           none (direct-only)
    not significant     not significant       none (no effect)
    ==================  ====================  ===================

    Returns
    -------
    DataFrame
        ``effect, path, indirect, indirect.ci.lower, indirect.ci.upper, indirect.significant,
        direct, direct.pvalue, direct.significant, total, type, verdict``.
    """
    est = _estimates(result)
    ind = indirect_effects(result, alpha=alpha)
    ind = ind[ind.kind == "indirect"]
    rows = []
    for r in ind.to_dict("records"):
        nodes = r["path"].split(f" {ARROW} ")
        x, y = nodes[0], nodes[-1]
        d = _path_row(est, y, x)
        ind_sig = bool(r["significant"])
        if d.empty:
            direct = dp = float("nan")
            dsig = None
            typ = "indirect-only (direct fixed at 0)" if ind_sig else "no effect (direct fixed at 0)"
            verdict = ("indirect effect; direct path not estimated (fit the partial model to tell full from "
                       "partial mediation)") if ind_sig else "no mediation"
        else:
            direct, dp = float(d.iloc[0].est), float(d.iloc[0].pvalue)
            dsig = bool(pd.notna(dp) and dp < alpha)
            if ind_sig and dsig:
                same = np.sign(direct) == np.sign(r["est"])
                typ = "complementary" if same else "competitive"
                verdict = f"partial mediation ({typ})"
            elif ind_sig:
                typ, verdict = "indirect-only", "full mediation"
            elif dsig:
                typ, verdict = "direct-only", "no mediation (direct effect only)"
            else:
                typ, verdict = "no-effect", "no mediation"
        tot = r["est"] + (0.0 if math.isnan(direct) else direct)
        rows.append({"effect": r["effect"], "path": r["path"], "indirect": r["est"],
                     "indirect.ci.lower": r["ci.lower"], "indirect.ci.upper": r["ci.upper"],
                     "indirect.significant": ind_sig, "direct": direct,
                     "direct.pvalue": dp, "direct.significant": dsig, "total": tot, "type": typ,
                     "verdict": verdict})
    return pd.DataFrame(rows, columns=["effect", "path", "indirect", "indirect.ci.lower", "indirect.ci.upper",
                                       "indirect.significant", "direct", "direct.pvalue", "direct.significant",
                                       "total", "type", "verdict"])


# --------------------------------------------------------------------------- model comparison
@dataclass
class ModelComparison:
    """Chi-square difference test of two nested models (lavaan's ``lavTestLRT``, standard ML).

    Attributes
    ----------
    table : DataFrame
        One row per model (restricted first, as lavaan orders by df): ``df, aic, bic, chisq,
        cfi, tli, rmsea, srmr``, and on the second row ``chisq.diff, rmsea.diff`` (RMSEA of
        the difference, lavaan 0.6-13+), ``df.diff, pvalue.diff``.
    chisq_diff, df_diff, pvalue : float
    rmsea_diff : float
        RMSEA_D of the difference test (Savalei et al.), lavaan's ``RMSEA`` column.
    delta_cfi, delta_rmsea, delta_aic, delta_bic : float
        Restricted minus full (delta CFI < -.01 signals a meaningful loss of fit).
    verdict : str
    """

    names: tuple[str, str]
    table: pd.DataFrame
    chisq_diff: float
    df_diff: int
    pvalue: float
    rmsea_diff: float
    delta_cfi: float
    delta_rmsea: float
    delta_aic: float
    delta_bic: float
    alpha: float
    verdict: str
    warnings: list[str] = field(default_factory=list)

    def summary(self) -> str:
        t = self.table.copy()
        s = ["Chi-squared difference test (standard ML)", "",
             _indent(t.to_string(float_format=lambda v: f"{v:.3f}", na_rep=""), 2), "", self.verdict]
        if self.warnings:
            s += [""] + [f"Warning: {w}" for w in self.warnings]
        return "\n".join(s)

    def apa(self) -> str:
        """One APA sentence fragment, e.g. 'Δχ²(1) = 5.32, p = .021'."""
        return f"\u0394\u03c7\u00b2({self.df_diff}) = {self.chisq_diff:.2f}, p {_p_eq(self.pvalue)}"

    def __repr__(self) -> str:
        return (f"ModelComparison({self.names[0]!r} vs {self.names[1]!r}: chisq_diff={self.chisq_diff:.3f}, "
                f"df_diff={self.df_diff}, pvalue={self.pvalue:.4g})")

    def _repr_html_(self) -> str:
        return (self.table.to_html(float_format=lambda v: f"{v:.3f}", na_rep="")
                + f"<p>{html.escape(self.verdict)}</p>"
                + "".join(f"<p style='color:#a40'>Warning: {html.escape(w)}</p>" for w in self.warnings))


def _model(name: str) -> str:
    return name if name.lower().endswith("model") else f"{name} model"


def _p_eq(p: float) -> str:
    s = apa_p(p)
    return s if s.startswith("<") else f"= {s}"


def _observed(est: pd.DataFrame) -> set[str]:
    lv = set(est.loc[est.op == "=~", "lhs"])
    defined = set(est.loc[est.op == ":=", "lhs"])
    names = set(est.loc[est.op.isin(["=~", "~", "~~"]), "rhs"]) | set(est.loc[est.op.isin(["~", "~~"]), "lhs"])
    return names - lv - defined


def compare_models(restricted: Any, full: Any, *, names: tuple[str, str] = ("restricted", "full"),
                   alpha: float = 0.05) -> ModelComparison:
    """Compare two nested models by chi-square difference (as ``lavTestLRT``, standard ML).

    Parameters
    ----------
    restricted : SEMResult
        The model with more degrees of freedom (e.g. full mediation: no direct path).
    full : SEMResult
        The less restricted model (e.g. partial mediation: direct path added).
    names : (str, str)
        Row names for the table.
    alpha : float

    Returns
    -------
    ModelComparison

    Raises
    ------
    ModelError
        The models are not nested by degrees of freedom (restricted df not larger than the
        full model's), or fitted to different sample sizes.

    Notes
    -----
    ``chisq.diff = chisq_r - chisq_f`` on ``df_r - df_f`` degrees of freedom, ``p =
    P(chi2 > chisq.diff)``; ``RMSEA_D = sqrt(max(0, (chisq.diff / N) / df.diff - 1 / N))`` as
    lavaan's ``lav_fit_rmsea`` computes the ``RMSEA`` column of ``lavTestLRT``.
    """
    from scipy.stats import chi2

    fr, ff = _fit_measures(restricted), _fit_measures(full)
    for nm, fm in zip(names, (fr, ff)):
        for k in ("chisq", "df"):
            if fm.get(k) is None or pd.isna(fm.get(k)):
                raise ModelError(f"model {nm!r} has no {k!r} fit measure; compare fitted models (sem.fit results)")
    df_r, df_f = int(round(float(fr["df"]))), int(round(float(ff["df"])))
    if df_r == df_f:
        raise ModelError(f"models {names[0]!r} and {names[1]!r} have the same degrees of freedom ({df_r}), so they "
                         "are not nested and cannot be compared by a chi-square difference test",
                         hint="compare non-nested models by AIC/BIC instead")
    if df_r < df_f:
        raise ModelError(f"model {names[0]!r} (df = {df_r}) is less restricted than {names[1]!r} (df = {df_f})",
                         hint="pass the model with more degrees of freedom first: compare_models(restricted, full)")
    n_r, n_f = fr.get("ntotal"), ff.get("ntotal")
    if n_r is not None and n_f is not None and pd.notna(n_r) and pd.notna(n_f) and int(n_r) != int(n_f):
        raise ModelError(f"the models were fitted to different samples (N = {int(n_r)} vs {int(n_f)})",
                         hint="fit both models to the same data")
    warnings = []
    try:
        o_r, o_f = _observed(_estimates(restricted)), _observed(_estimates(full))
        if o_r != o_f:
            warnings.append("the models use different observed variables (" +
                            ", ".join(sorted(o_r ^ o_f)) + "): the difference test is not valid")
    except TypeError:
        pass
    for nm, m in zip(names, (restricted, full)):
        if getattr(m, "converged", True) is False:
            warnings.append(f"model {nm!r} did not converge")
    d = float(fr["chisq"]) - float(ff["chisq"])
    ddf = df_r - df_f
    if d < -np.finfo(float).eps ** (1 / 3):
        warnings.append(f"the restricted model fits better than the full one (chi-square difference {d:.4f}); "
                        "either the models are not nested, or the full model missed the global optimum")
    p = float(chi2.sf(d, ddf)) if d >= 0 else 1.0
    n = float(n_f) if n_f is not None and pd.notna(n_f) else float("nan")
    rmsea_d = math.sqrt(max((d / n) / ddf - 1 / n, 0.0)) if n > 0 else float("nan")

    def g(fm: dict, k: str) -> float:
        v = fm.get(k)
        return float(v) if v is not None and pd.notna(v) else float("nan")

    cols = ["df", "aic", "bic", "chisq", "cfi", "tli", "rmsea", "srmr"]
    table = pd.DataFrame([{c: g(fm, c) for c in cols} for fm in (fr, ff)], index=list(names))
    table["df"] = table["df"].astype(int)
    table["chisq.diff"] = [np.nan, d]
    table["rmsea.diff"] = [np.nan, rmsea_d]
    table["df.diff"] = pd.array([pd.NA, ddf], dtype="Int64")
    table["pvalue.diff"] = [np.nan, p]
    dcfi = g(fr, "cfi") - g(ff, "cfi")
    drmsea = g(fr, "rmsea") - g(ff, "rmsea")
    daic = g(fr, "aic") - g(ff, "aic")
    dbic = g(fr, "bic") - g(ff, "bic")
    test = f"\u0394\u03c7\u00b2({ddf}) = {d:.2f}, p {_p_eq(p)}"
    extra = []
    if not math.isnan(dcfi):
        extra.append(f"\u0394CFI = {dcfi:+.3f}" if abs(dcfi) >= 0.0005 else "\u0394CFI = 0.000")
    if not math.isnan(daic):
        extra.append(f"AIC favours {names[0] if daic < 0 else names[1]} by {abs(daic):.1f}")
    if not math.isnan(dbic):
        extra.append(f"BIC favours {names[0] if dbic < 0 else names[1]} by {abs(dbic):.1f}")
    if p < alpha:
        verdict = (f"The {_model(names[1])} fits significantly better than the {_model(names[0])} ({test}): "
                   f"its {ddf} restriction(s) are rejected")
    else:
        verdict = (f"No significant loss of fit from the {ddf} restriction(s) ({test}): prefer the more "
                   f"parsimonious {_model(names[0])}")
    verdict += ("; " + "; ".join(extra) if extra else "") + "."
    return ModelComparison(names=tuple(names), table=table, chisq_diff=d, df_diff=ddf, pvalue=p,
                           rmsea_diff=rmsea_d, delta_cfi=dcfi, delta_rmsea=drmsea, delta_aic=daic,
                           delta_bic=dbic, alpha=alpha, verdict=verdict, warnings=warnings)


# --------------------------------------------------------------------------- convenience
@dataclass
class HypothesisTest:
    """Result of :func:`test_hypotheses`: the model as specified and its partial-mediation
    alternative, with hypothesis tables, indirect effects, mediation verdicts and their
    comparison."""

    model: str
    hypotheses: pd.DataFrame
    indirect: pd.DataFrame
    mediation: pd.DataFrame
    partial_hypotheses: pd.DataFrame | None
    partial_indirect: pd.DataFrame | None
    comparison: ModelComparison | None
    results: dict[str, Any]
    alpha: float = 0.05
    warnings: list[str] = field(default_factory=list)

    @property
    def supported(self) -> dict[str, bool]:
        return dict(zip(self.hypotheses.hypothesis, self.hypotheses.supported))

    def summary(self) -> str:
        res = self.results.get("model")
        fm = _fit_measures(res) if res is not None else {}
        from .measurement import _fit_sentence
        level = _ci_level(res) if res is not None else 0.95
        out = [f"Hypothesis tests: model {self.model!r}", f"  fit: {_fit_sentence(pd.Series(fm))}", ""]
        out.append(_indent(format_hypothesis_table(self.hypotheses, ci_level=level).to_string(index=False), 2))
        if len(self.indirect):
            out += ["", "Indirect effects (CI: " + ", ".join(sorted(set(self.indirect.ci))) + ")"]
            for r in self.indirect.to_dict("records"):
                out.append(f"  {r['effect']} ({r['path'] or r['definition']}): {r['est']:.3f} "
                           f"[{r['ci.lower']:.3f}, {r['ci.upper']:.3f}], std.all = {r['std.all']:.3f}"
                           f"{'' if r['significant'] else ' (CI includes 0)'}")
        if self.partial_hypotheses is not None:
            out += ["", "Partial-mediation alternative (direct paths added)"]
            out.append(_indent(format_hypothesis_table(self.partial_hypotheses, ci_level=level)
                               .to_string(index=False), 2))
        if len(self.mediation):
            out += ["", "Mediation"]
            for r in self.mediation.to_dict("records"):
                out.append(f"  {r['path']}: {r['verdict']} (indirect {r['indirect']:.3f} "
                           f"[{r['indirect.ci.lower']:.3f}, {r['indirect.ci.upper']:.3f}]"
                           + ("" if math.isnan(r["direct"]) else
                              f"; direct {r['direct']:.3f}, p {_p_eq(r['direct.pvalue'])}") + ")")
        if self.comparison is not None:
            out += ["", self.comparison.summary()]
        if self.warnings:
            out += ["", "Warnings"] + [f"  - {w}" for w in self.warnings]
        return "\n".join(out)

    def __repr__(self) -> str:
        sup = ", ".join(f"{k}: {'supported' if v else 'not supported'}" for k, v in self.supported.items())
        return f"HypothesisTest(model={self.model!r}, {sup})"

    def _repr_html_(self) -> str:
        esc = html.escape
        h = [f"<h4>Hypothesis tests: model {esc(self.model)}</h4>",
             format_hypothesis_table(self.hypotheses).to_html(index=False)]
        if len(self.indirect):
            h += ["<h5>Indirect effects</h5>", self.indirect.drop(columns=["definition"]).to_html(
                index=False, float_format=lambda v: f"{v:.3f}")]
        if len(self.mediation):
            h += ["<h5>Mediation</h5>", self.mediation[["path", "indirect", "direct", "verdict"]].to_html(
                index=False, float_format=lambda v: f"{v:.3f}")]
        if self.comparison is not None:
            h += ["<h5>Full vs partial mediation</h5>", self.comparison._repr_html_()]
        if self.warnings:
            h.append("<ul style='color:#a40'>" + "".join(f"<li>{esc(w)}</li>" for w in self.warnings) + "</ul>")
        return "\n".join(h)

    def to_markdown(self) -> str:
        parts = [f"**Hypothesis tests (model {self.model})**", "",
                 _markdown(format_hypothesis_table(self.hypotheses)), ""]
        if len(self.mediation):
            m = pd.DataFrame({"Path": self.mediation.path,
                              "Indirect [CI]": [f"{apa_number(a, 3, True)} [{apa_number(lo, 3, True)}, "
                                                f"{apa_number(hi, 3, True)}]" for a, lo, hi in
                                                zip(self.mediation.indirect, self.mediation["indirect.ci.lower"],
                                                    self.mediation["indirect.ci.upper"])],
                              "Direct": [apa_number(x, 3, True) for x in self.mediation.direct],
                              "p (direct)": [apa_p(x) for x in self.mediation["direct.pvalue"]],
                              "Verdict": self.mediation.verdict})
            parts += ["**Mediation**", "", _markdown(m), ""]
        if self.comparison is not None:
            parts += [self.comparison.verdict, ""]
        return "\n".join(parts)


def test_hypotheses(data: pd.DataFrame, instrument: "Instrument", model: str, *, bootstrap: int | None = None,
                    seed: int | None = None, alpha: float = 0.05, partial: bool = True) -> HypothesisTest:
    """Fit one of the instrument's structural models and its partial-mediation alternative,
    and return the hypothesis tables, indirect effects, mediation verdicts and the chi-square
    difference test between them.

    Parameters
    ----------
    data : DataFrame
        Scored responses with the instrument's item columns.
    instrument : Instrument
    model : str
        A model of the instrument (``ops``, ``crm``, ``combined``).
    bootstrap : int, optional
        Number of bootstrap replicates (``se="bootstrap"``); None: standard (delta) SEs.
    seed : int, optional
        Bootstrap seed (same seed, same result).
    alpha : float
    partial : bool
        Also fit the partial-mediation model when the model declares an indirect effect.

    Returns
    -------
    HypothesisTest
    """
    from . import sem
    from .instruments import structural_syntax

    if model not in instrument.models:
        from .errors import InstrumentError
        raise InstrumentError(instrument.path or instrument.id, "models", f"no model {model!r}",
                              hint="known: " + ", ".join(instrument.models))
    kw: dict[str, Any] = {}
    if bootstrap:
        kw = {"se": "bootstrap", "bootstrap": int(bootstrap), "seed": seed}
    warnings: list[str] = []
    res = sem.fit(structural_syntax(instrument, model), data, **kw)
    results = {"model": res}
    warnings += [f"model {model}: {w}" for w in _sem_warnings(res)]
    table = hypothesis_table(res, instrument, model, alpha=alpha)
    ind = indirect_effects(res, alpha=alpha)
    p_table = p_ind = comp = None
    med_src = res
    if partial and instrument.models[model].indirect:
        res_p = sem.fit(structural_syntax(instrument, model, partial=True), data, **kw)
        results["partial"] = res_p
        warnings += [f"partial model {model}: {w}" for w in _sem_warnings(res_p)]
        p_table = hypothesis_table(res_p, instrument, model, alpha=alpha)
        p_ind = indirect_effects(res_p, alpha=alpha)
        comp = compare_models(res, res_p, names=("full mediation", "partial mediation"), alpha=alpha)
        warnings += comp.warnings
        med_src = res_p
    med = mediation_table(med_src, alpha=alpha)
    return HypothesisTest(model=model, hypotheses=table, indirect=ind, mediation=med, partial_hypotheses=p_table,
                          partial_indirect=p_ind, comparison=comp, results=results, alpha=alpha,
                          warnings=list(dict.fromkeys(warnings)))


test_hypotheses.__test__ = False  # not a pytest test despite its name

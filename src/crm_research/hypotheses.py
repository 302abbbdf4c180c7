"""The study's hypotheses, tested for any instrument and any declared model: the table a
paper prints, indirect effects and mediation verdicts, full vs partial mediation, relative
effects of several predictors of one outcome, and the refits that show each predictor alone.

    >>> import pandas as pd
    >>> from crm_research import hypotheses, instruments
    >>> data = pd.read_csv("tests/reference/lavaan/HolzingerSwineford1939.csv")
    >>> inst = instruments.load_instrument("tests/reference/lavaan/hs_abilities.yaml")
    >>> t = hypotheses.test_model(data, inst, "mediated")
    >>> t
    HypothesisTest(model='mediated', Ha: supported, Hc: supported)

Fitting (every function takes ``missing="ml"`` (full-information ML, the default),
``"listwise"`` or ``"pairwise"`` (ordered items), and records which on its result, with the
number of respondents used; and lavaan's ``estimator``, ``ordered``, ``se`` and ``test``
(:func:`crm_research.estimation.check_estimation`: MLR, WLSMV with ordered items, ...), the
comparisons then being lavaan's scaled difference tests):

- :func:`fit_model` — :func:`crm_research.sem.fit` with a bootstrap of ``bootstrap`` replicates.
- :func:`test_model` — one declared model (its relative-effects syntax, which fits exactly as
  the plain model) and, when it declares indirect effects, its partial-mediation alternative:
  hypothesis tables, indirect effects, mediation verdicts, relative effects and the
  chi-square difference test between the two (:func:`crm_research.sem.compare_models`).
- :func:`alone_vs_together` — each predictor of a multi-predictor outcome refitted alone.

Working from any fitted model (a :func:`crm_research.sem.fit` result, or its lavaan-style
estimates table):

- :func:`hypothesis_table` — per hypothesis: path, expected sign, standardized (``std.all``)
  and unstandardized estimate, SE, z, p, CI, and whether it is supported (p < alpha *and*
  the sign as expected).
- :func:`indirect_effects` — the ``:=`` defined parameters with their CIs (bootstrap when
  the model was fitted with ``se="bootstrap"``).
- :func:`mediation_table` — per indirect effect the direct path and a verdict: full,
  partial or no mediation (Zhao, Lynch & Chen 2010 types).
- :func:`relative_effects_syntax` / :func:`relative_effects` — standardized paths of every
  outcome with two or more predictors as ``:=`` parameters, with their pairwise differences,
  so that one bootstrap gives the CI of "which predictor matters more".
- :func:`r_squared`, :func:`bootstrap_draws`, :func:`compare_with_population`.

Nothing here knows the bundled study's construct or model names: everything comes from the
instrument's hypotheses and models.
"""
from __future__ import annotations

import html
import math
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterable, Sequence

import numpy as np
import pandas as pd

from .errors import InstrumentError, ModelError
from .reporting.format import MINUS, format_number, format_p, html_table, markdown_table
from .sem.compare import ModelComparison, compare_models
from .sem.result import estimates_of, fit_measures_of, fit_sentence, warnings_of

if TYPE_CHECKING:  # pragma: no cover
    from .instruments import Hypothesis, Instrument

__all__ = ["hypothesis_table", "indirect_effects", "mediation_table", "format_hypothesis_table",
           "fit_model", "test_model", "HypothesisTest", "relative_effects_syntax", "relative_effects",
           "alone_vs_together", "r_squared", "bootstrap_draws", "compare_with_population",
           "compare_models", "ModelComparison", "test_hypotheses"]

ARROW = "\u2192"
_SIGN = {"positive": "+", "negative": "-"}
MISSING = ("ml", "listwise", "pairwise")


def _indent(s: str, n: int) -> str:
    pad = " " * n
    return "\n".join(pad + line for line in s.splitlines())


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
    if v is None and isinstance(result, pd.DataFrame):
        v = result.attrs.get("ci.level")
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

    Examples
    --------
    >>> import pandas as pd
    >>> from crm_research import instruments
    >>> hs = pd.read_csv("tests/reference/lavaan/HolzingerSwineford1939.csv")
    >>> inst = instruments.load_instrument("tests/reference/lavaan/hs_abilities.yaml")
    >>> res = fit_model(instruments.structural_syntax(inst, "mediated"), hs)
    >>> hypothesis_table(res, inst, "mediated")[["hypothesis", "path", "std.all", "supported"]].round(3)
      hypothesis       path  std.all  supported
    0         Ha  VIS → TXT    0.461       True
    1         Hc  TXT → SPD    0.157       True
    """
    est = estimates_of(result)
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
            verdict = f"not supported (p = {format_p(r.pvalue).replace('< ', '')} \u2265 {format_number(alpha, 2, bounded=True)})" \
                if r.pvalue >= 0.001 else "not supported"
        rows.append({"hypothesis": h.id, "path": f"{h.rhs} {ARROW} {h.lhs}", "expected": _SIGN.get(h.sign, h.sign),
                     "std.all": r["std.all"], "est": r.est, "se": r.se, "z": r.z, "pvalue": r.pvalue,
                     "ci.lower": r["ci.lower"], "ci.upper": r["ci.upper"],
                     "supported": bool(sig and sign_ok), "verdict": verdict})
    if not rows:
        raise ModelError("none of the hypotheses is a path of the fitted model",
                         hint="pass the model name (e.g. model='ops') matching the fitted syntax")
    out = pd.DataFrame(rows, columns=["hypothesis", "path", "expected", "std.all", "est", "se", "z", "pvalue",
                                      "ci.lower", "ci.upper", "supported", "verdict"])
    out.attrs["ci.level"] = _ci_level(result)
    return out


def format_hypothesis_table(table: pd.DataFrame, digits: int = 2, ci_level: float = 0.95) -> pd.DataFrame:
    """APA-style version of :func:`hypothesis_table` output (strings; check marks).

    A display table: its column labels (``β``, ``B``, ``SE``, ``p``, ``95% CI``) are for
    print, the numbers are formatted by :mod:`crm_research.reporting.format`.

    Parameters
    ----------
    table : DataFrame
        :func:`hypothesis_table` output.
    digits : int
        Decimals of the coefficients.
    ci_level : float
        Confidence level named in the CI column's label.

    Returns
    -------
    DataFrame
        ``Hypothesis, Path, Expected, β, B, SE, z, p, <level>% CI, Supported`` (strings).

    Examples
    --------
    >>> import pandas as pd
    >>> from crm_research import instruments
    >>> hs = pd.read_csv("tests/reference/lavaan/HolzingerSwineford1939.csv")
    >>> inst = instruments.load_instrument("tests/reference/lavaan/hs_abilities.yaml")
    >>> t = test_model(hs, inst, "mediated")
    >>> format_hypothesis_table(t.hypotheses)[["Hypothesis", "β", "p", "Supported"]]
      Hypothesis    β       p Supported
    0         Ha  .46  < .001     Yes ✓
    1         Hc  .16    .010     Yes ✓
    """
    return pd.DataFrame({
        "Hypothesis": table.hypothesis, "Path": table.path, "Expected": table.expected,
        "\u03b2": [format_number(x, digits, bounded=True) for x in table["std.all"]],
        "B": [format_number(x, digits) for x in table.est],
        "SE": [format_number(x, digits) for x in table.se],
        "z": [format_number(x, digits) for x in table.z],
        "p": [format_p(x) for x in table.pvalue],
        f"{100 * ci_level:g}% CI": [f"[{format_number(lo, digits)}, {format_number(hi, digits)}]"
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


_RELATIVE_PREFIXES = ("std", "diff", "ind", "inddiff", "var", "cov")


def _is_relative_name(name: str) -> bool:
    """A defined parameter written by :func:`relative_effects_syntax` (``std.SAT.OPS``, ``var.SAT``)."""
    head, dot, _ = str(name).partition(".")
    return bool(dot) and head in _RELATIVE_PREFIXES


def indirect_effects(result: Any, *, alpha: float = 0.05) -> pd.DataFrame:
    """The defined parameters (``:=``) of a fitted model, classified (the standardized
    effects of :func:`relative_effects_syntax` are left to :func:`relative_effects`).

    Parameters
    ----------
    result : SEMResult or estimates DataFrame
        A fitted model with ``:=`` parameters.
    alpha : float
        Significance level when there is no CI.

    Returns
    -------
    DataFrame
        ``effect, definition, kind`` (``indirect`` for a product of path labels along a
        chain, ``total`` for a direct path plus such products, else ``defined``), ``path``
        (e.g. ``OPS → SAT → LOY``), ``est, se, z, pvalue, ci.lower, ci.upper, std.all``,
        ``significant`` (the CI excludes 0; p < alpha when there is no CI) and ``ci``
        (how the interval was made, e.g. ``bootstrap percentile (R = 1000)`` or ``delta``);
        with a bootstrap also ``boot.perc.lower/upper`` and ``boot.bc.lower/upper``.

    Examples
    --------
    >>> import pandas as pd
    >>> from crm_research import instruments
    >>> hs = pd.read_csv("tests/reference/lavaan/HolzingerSwineford1939.csv")
    >>> inst = instruments.load_instrument("tests/reference/lavaan/hs_abilities.yaml")
    >>> t = test_model(hs, inst, "mediated")
    >>> indirect_effects(t.results["model"])[["effect", "kind", "path", "est", "significant"]].round(3)
            effect      kind             path    est  significant
    0  ind_VIS_SPD  indirect  VIS → TXT → SPD  0.087         True
    """
    est = estimates_of(result)
    est = est[~((est.op == ":=") & est.lhs.map(_is_relative_name))].reset_index(drop=True)
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
    out.attrs["ci.level"] = _ci_level(result)
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

    Parameters
    ----------
    result : SEMResult or estimates DataFrame
        A fitted model with ``:=`` indirect effects (products of path labels).
    alpha : float
        Significance level of the direct path (and of the indirect effect without a CI).

    Returns
    -------
    DataFrame
        ``effect, path, indirect, indirect.ci.lower, indirect.ci.upper, indirect.significant,
        direct, direct.pvalue, direct.significant, total, type, verdict``.

    Examples
    --------
    >>> import pandas as pd
    >>> from crm_research import instruments
    >>> hs = pd.read_csv("tests/reference/lavaan/HolzingerSwineford1939.csv")
    >>> inst = instruments.load_instrument("tests/reference/lavaan/hs_abilities.yaml")
    >>> t = test_model(hs, inst, "mediated")
    >>> r = mediation_table(t.results["model"]).iloc[0]
    >>> r["path"], bool(r["indirect.significant"]), r["type"]
    ('VIS → TXT → SPD', True, 'indirect-only (direct fixed at 0)')
    """
    est = estimates_of(result)
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
    out = pd.DataFrame(rows, columns=["effect", "path", "indirect", "indirect.ci.lower", "indirect.ci.upper",
                                      "indirect.significant", "direct", "direct.pvalue", "direct.significant",
                                      "total", "type", "verdict"])
    out.attrs["ci.level"] = _ci_level(result)
    return out


# --------------------------------------------------------------------------- fitting
def _check_missing(missing: str) -> str:
    m = {"fiml": "ml", "direct": "ml", "listwise.deletion": "listwise"}.get(str(missing), str(missing))
    if m not in MISSING:
        raise ModelError(f"missing={missing!r} is not supported",
                         hint="use missing='ml' (full-information ML, every respondent with an answer), "
                              "'listwise' (complete cases only) or 'pairwise' (ordered items)")
    return m


def _estimation(estimator: Any, ordered: Any, se: Any, test: Any, where: str) -> Any:
    from .estimation import Estimation, check_estimation

    if isinstance(estimator, Estimation):
        return estimator
    return check_estimation(estimator, ordered, se, test, where=where)


def fit_model(syntax: str, data: pd.DataFrame, *, missing: str = "ml", bootstrap: int = 0,
              seed: int | None = None, ci_level: float = 0.95, estimator: Any = None, ordered: Any = None,
              se: str | None = None, test: str | None = None) -> Any:
    """Fit lavaan syntax with the chosen estimator and missing-data treatment, optionally bootstrapped.

    Parameters
    ----------
    syntax : str
        lavaan model syntax (e.g. :func:`crm_research.instruments.structural_syntax`).
    data : DataFrame
    missing : {"ml", "listwise", "pairwise"}
        ``"ml"`` (default): full-information ML, every respondent with at least one answer to
        the model's items; ``"listwise"``: complete cases only; ``"pairwise"``: ordered items
        (lavaan's rules, see :func:`crm_research.estimation.resolve_missing`).
    bootstrap : int
        Nonparametric bootstrap replicates (0: normal-theory SEs; with ``missing="ml"`` the
        observed information, as lavaan).  ML only, as lavaan.
    seed : int, optional
        Bootstrap seed (same seed, same intervals).
    estimator, ordered, se, test : optional
        lavaan's estimation options (:func:`crm_research.estimation.check_estimation`): e.g.
        ``estimator="MLR"`` (robust SEs, scaled test, robust fit indices) or
        ``ordered=True`` (WLSMV on the items' thresholds and polychoric correlations);
        ``ordered`` items not in the model are ignored.

    Returns
    -------
    SEMResult
        ``missing``, ``nobs`` (respondents used), ``n_input`` and ``missing_summary`` say
        what was done.

    Examples
    --------
    A single-item outcome (error variance fixed to 0) and one blank answer in ten:

    >>> rng = np.random.default_rng(1)
    >>> f = rng.normal(size=300)
    >>> d = pd.DataFrame({f"x{i}": f + rng.normal(scale=0.7, size=300) for i in (1, 2, 3)})
    >>> d["y"] = 0.5 * f + rng.normal(size=300)
    >>> d.loc[::10, "x1"] = np.nan
    >>> res = fit_model("F =~ x1 + x2 + x3\\nY =~ y\\ny ~~ 0*y\\nY ~ F", d)
    >>> res.missing_summary
    'full-information ML (missing = "ml"): 300 of 300 respondents used'
    >>> fit_model("F =~ x1 + x2 + x3\\nY =~ y\\ny ~~ 0*y\\nY ~ F", d, missing="listwise").nobs
    270
    """
    from .estimation import fit_model as fit_with

    missing = _check_missing(missing)
    est = _estimation(estimator, ordered, se, test, "fit_model")
    if bootstrap is None:
        bootstrap = 0
    if isinstance(bootstrap, bool) or not isinstance(bootstrap, (int, np.integer)) or bootstrap < 0:
        raise ModelError(f"bootstrap={bootstrap!r}: expected 0 (no bootstrap) or a number of replicates",
                         hint="e.g. bootstrap=1000")
    if bootstrap and not est.allows_bootstrap:
        raise ModelError(f"bootstrap={bootstrap}: bootstrap intervals need estimator ML (as lavaan), not "
                         f"{est.estimator}", hint="pass bootstrap=0 (intervals from the robust standard errors)")
    if bootstrap:
        return fit_with(syntax, data, est, missing=missing, se="bootstrap", bootstrap=int(bootstrap), seed=seed,
                        ci_level=ci_level)
    return fit_with(syntax, data, est, missing=missing, ci_level=ci_level)


# --------------------------------------------------------------------------- model structure
def _model_paths(instrument: "Instrument", model: str) -> list[tuple[str, str, str]]:
    """(outcome, predictor, label) of every hypothesis of ``model``, one per path."""
    spec = instrument.models[model]
    out: dict[tuple[str, str], str] = {}
    for hid in spec.hypotheses:
        h = instrument.hypothesis(hid)
        out.setdefault((h.lhs, h.rhs), h.label)
    return [(y, x, lab) for (y, x), lab in out.items()]


def _predictors(paths: Sequence[tuple[str, str, str]]) -> dict[str, dict[str, str]]:
    preds: dict[str, dict[str, str]] = {}
    for y, x, lab in paths:
        preds.setdefault(y, {}).setdefault(x, lab)
    return preds


def _topological(paths: Sequence[tuple[str, str, str]]) -> list[str]:
    """Variables of a structural model, causes before effects; ModelError if not recursive."""
    preds = _predictors(paths)
    nodes = list(dict.fromkeys([v for y, x, _ in paths for v in (x, y)]))
    order: list[str] = []
    state: dict[str, int] = {}

    def visit(v: str) -> None:
        if state.get(v) == 2:
            return
        if state.get(v) == 1:
            raise ModelError(f"the structural model is not recursive (a feedback loop through {v})",
                             hint="relative effects need a model without feedback loops")
        state[v] = 1
        for x in preds.get(v, {}):
            visit(x)
        state[v] = 2
        order.append(v)

    for v in nodes:
        visit(v)
    return order


def _model_items(instrument: "Instrument", constructs: Iterable[str]) -> list[str]:
    out: list[str] = []
    for c in constructs:
        out += [i for i in instrument.items_of(c) if i not in out]
    return out


def _analysis_rows(data: pd.DataFrame, items: list[str], missing: str) -> pd.DataFrame:
    """The rows a fit with this missing-data treatment uses (to fix single items' error variances)."""
    cols = [i for i in items if i in data.columns]
    if not cols:
        return data
    sub = data[cols].apply(pd.to_numeric, errors="coerce")
    keep = sub.notna().all(axis=1) if missing == "listwise" else sub.notna().any(axis=1)
    return data.loc[keep]


def _model_constructs(instrument: "Instrument", model: str) -> list[str]:
    spec = instrument.models[model]
    used = [v for y, x, _ in _model_paths(instrument, model) for v in (x, y)]
    for ind in spec.indirect:
        used += [ind["from"], ind["via"], ind["to"]]
    return list(dict.fromkeys(used))


def _first_model(instrument: "Instrument") -> str:
    if not instrument.models:
        raise InstrumentError(instrument.path or instrument.id, "models", "the instrument declares no model",
                              hint="declare a structural model under models: with its hypotheses")
    return next(iter(instrument.models))


def _check_model(instrument: "Instrument", model: str) -> None:
    if model not in instrument.models:
        raise InstrumentError(instrument.path or instrument.id, "models", f"no model {model!r}",
                              hint="known: " + ", ".join(instrument.models))


# --------------------------------------------------------------------------- relative effects
def relative_effects_syntax(instrument: "Instrument", model: str, *, data: pd.DataFrame | None = None) -> str:
    """A model's syntax plus ``:=`` standardized paths of every outcome with several predictors.

    For each outcome ``Y`` with two or more predictors, the standardized path of predictor
    ``X`` is ``b * sd(X) / sd(Y)``, with the model-implied variances written as defined
    parameters (exogenous constructs: their variance ``v.X`` and covariances ``c.A.B``;
    endogenous ones: ``var.Y`` from their predictors and residual variance ``z.Y``; implied
    covariances ``cov.A.B``).  As defined parameters they get delta-method or bootstrap CIs,
    and so do their pairwise differences: "which predictor matters more" answered with an
    interval.  For a declared indirect effect ``X -> M -> Z`` through such an outcome ``M``
    the standardized indirect effect and the differences between those sharing ``M`` and
    ``Z`` are added too.

    The added labels only name parameters the model estimates anyway, so the fit (chi-square,
    estimates, SEs) is identical to :func:`~crm_research.instruments.structural_syntax`.
    A model without an outcome of two or more predictors gets the plain syntax.

    Defined parameters (construct ids never contain a dot):

    ============================  ============================================
    ``std.Y.X``                   standardized path X -> Y
    ``diff.Y.A.B``                ``std.Y.A - std.Y.B``
    ``ind.Z.M.X``                 standardized indirect effect X -> M -> Z
    ``inddiff.Z.M.A.B``           ``ind.Z.M.A - ind.Z.M.B``
    ============================  ============================================

    Parameters
    ----------
    instrument : Instrument
    model : str
        A model declared in the instrument.
    data : DataFrame, optional
        The answers; needed when a single-item construct states a reliability (its error
        variance is fixed from the item's variance).

    Returns
    -------
    str
        lavaan syntax: the structural model with labelled paths, (co)variances and the ``:=``
        definitions ``var.Y``, ``std.Y.X``, ``diff.Y.X1.X2`` (and ``ind``/``inddiff`` for
        indirect effects through a mediator with several predictors).

    Raises
    ------
    InstrumentError
        Unknown model.
    ModelError
        A feedback loop among the paths, or a predictor that is also a dimension of a
        higher-order construct in the model (its variance is not a model parameter).

    Examples
    --------
    >>> import pandas as pd
    >>> from crm_research import instruments
    >>> hs = pd.read_csv("tests/reference/lavaan/HolzingerSwineford1939.csv")
    >>> inst = instruments.load_instrument("tests/reference/lavaan/hs_abilities.yaml")
    >>> print(relative_effects_syntax(inst, "direct"))
    VIS =~ x1 + x2 + x3
    TXT =~ x4 + x5 + x6
    SPD =~ x7
    x7 ~~ 0*x7
    SPD ~ hb*VIS + hc*TXT
    VIS ~~ v.VIS*VIS
    VIS ~~ c.VIS.TXT*TXT
    TXT ~~ v.TXT*TXT
    SPD ~~ z.SPD*SPD
    var.SPD := hb^2*v.VIS + 2*hb*hc*c.VIS.TXT + hc^2*v.TXT + z.SPD
    std.SPD.VIS := hb*sqrt(v.VIS)/sqrt(var.SPD)
    std.SPD.TXT := hc*sqrt(v.TXT)/sqrt(var.SPD)
    diff.SPD.VIS.TXT := std.SPD.VIS - std.SPD.TXT
    <BLANKLINE>
    """
    from .instruments import structural_syntax

    _check_model(instrument, model)
    syntax = structural_syntax(instrument, model, data=data)
    paths = _model_paths(instrument, model)
    preds = _predictors(paths)
    multi = [y for y, p in preds.items() if len(p) >= 2]
    if not multi:
        return syntax
    order = _topological(paths)
    rank = {v: i for i, v in enumerate(order)}
    endo = set(preds)
    exo = [v for v in order if v not in endo]
    used = set(_model_constructs(instrument, model))
    dims = {d for c in instrument.higher_order if c.id in used for d in c.dimensions}
    for v in order:
        if v in dims:
            raise ModelError(f"{v} is a dimension of a higher-order construct in model {model!r}, so its variance is "
                             "not a parameter of the model; its standardized paths cannot be written as := parameters",
                             hint="read the standardized paths (std.all) of the hypothesis table instead")
    labels: list[str] = []
    defs: list[str] = []
    have: dict[tuple[str, str], str] = {}

    def cov(a: str, b: str) -> str:
        """Name of the parameter or defined parameter holding cov(a, b)."""
        if rank[a] < rank[b]:
            a, b = b, a            # expand the later variable (never an ancestor of the other)
        if (a, b) in have:
            return have[(a, b)]
        if a == b and a not in endo:
            name = f"v.{a}"
            labels.append(f"{a} ~~ {name}*{a}")
        elif a not in endo and b not in endo:
            x, y = sorted((a, b), key=exo.index)
            name = f"c.{x}.{y}"
            if (y, x) not in have:
                labels.append(f"{x} ~~ {name}*{y}")
            have[(y, x)] = name
        elif a == b:
            ps = list(preds[a].items())
            terms = []
            for i, (k, bk) in enumerate(ps):
                terms.append(f"{bk}^2*{cov(k, k)}")
                for m_, bm in ps[i + 1:]:
                    terms.append(f"2*{bk}*{bm}*{cov(k, m_)}")
            labels.append(f"{a} ~~ z.{a}*{a}")
            name = f"var.{a}"
            defs.append(f"{name} := " + " + ".join(terms) + f" + z.{a}")
        else:
            terms = [f"{bk}*{cov(k, b)}" for k, bk in preds[a].items()]
            name = f"cov.{a}.{b}"
            defs.append(f"{name} := " + " + ".join(terms))
        have[(a, b)] = name
        return name

    def std_path(y: str, x: str) -> str:
        name = f"std.{y}.{x}"
        if name not in done:
            vx, vy = cov(x, x), cov(y, y)
            defs.append(f"{name} := {preds[y][x]}*sqrt({vx})/sqrt({vy})")
            done.add(name)
        return name

    done: set[str] = set()
    for y in multi:
        xs = list(preds[y])
        for x in xs:
            std_path(y, x)
        for i, a in enumerate(xs):
            for b in xs[i + 1:]:
                defs.append(f"diff.{y}.{a}.{b} := std.{y}.{a} - std.{y}.{b}")
    spec = instrument.models[model]
    by_route: dict[tuple[str, str], list[str]] = {}
    for ind in spec.indirect:
        x, m_, z = ind["from"], ind["via"], ind["to"]
        if m_ in multi and x in preds.get(m_, {}) and m_ in preds.get(z, {}):
            std_path(z, m_)
            defs.append(f"ind.{z}.{m_}.{x} := std.{m_}.{x}*std.{z}.{m_}")
            by_route.setdefault((z, m_), []).append(x)
    for (z, m_), xs in by_route.items():
        for i, a in enumerate(xs):
            for b in xs[i + 1:]:
                defs.append(f"inddiff.{z}.{m_}.{a}.{b} := ind.{z}.{m_}.{a} - ind.{z}.{m_}.{b}")
    return syntax + "\n".join(labels + defs) + "\n"


_REL_KINDS = {"std": "path", "diff": "path difference", "ind": "indirect", "inddiff": "indirect difference"}
_REL_COLS = ["effect", "kind", "outcome", "predictor", "other", "mediator", "description", "est", "se",
             "ci.lower", "ci.upper"]


def _empty_relative() -> pd.DataFrame:
    out = pd.DataFrame(columns=_REL_COLS + ["significant", "ci"])
    return out.astype({"est": float, "se": float, "ci.lower": float, "ci.upper": float, "significant": bool})


def relative_effects(result: Any) -> pd.DataFrame:
    """Standardized paths, their differences and standardized indirect effects of a model
    fitted with :func:`relative_effects_syntax`.

    Parameters
    ----------
    result : SEMResult or estimates DataFrame
        A model fitted with :func:`relative_effects_syntax` (as :func:`test_model` does).

    Examples
    --------
    >>> import pandas as pd
    >>> from crm_research import instruments
    >>> hs = pd.read_csv("tests/reference/lavaan/HolzingerSwineford1939.csv")
    >>> inst = instruments.load_instrument("tests/reference/lavaan/hs_abilities.yaml")
    >>> t = test_model(hs, inst, "direct")
    >>> relative_effects(t.results["model"])[["effect", "kind", "est", "ci.lower", "ci.upper"]].round(3)
                 effect             kind    est  ci.lower  ci.upper
    0       std.SPD.VIS             path -0.005    -0.166     0.155
    1       std.SPD.TXT             path  0.159     0.017     0.301
    2  diff.SPD.VIS.TXT  path difference -0.165    -0.432     0.103

    Returns
    -------
    DataFrame
        ``effect`` (the defined parameter), ``kind`` (``path``, ``path difference``,
        ``indirect``, ``indirect difference``), ``outcome``, ``predictor``, ``other`` (the
        second predictor of a difference), ``mediator`` (ids; "" where not applicable),
        ``description`` (``OPS → SAT``, ``(OPS → SAT) − (CRM → SAT)``, ``OPS → SAT → LOY``),
        ``est`` (standardized), ``se``, ``ci.lower``, ``ci.upper`` (bootstrap when the
        model was fitted with one), ``significant`` (the CI excludes 0) and ``ci`` (how the
        interval was made).  Empty (same columns) for a model without such parameters.
    """
    est = estimates_of(result)
    method = _ci_method(result)
    rows = []
    for r in est[est.op == ":="].to_dict("records"):
        parts = str(r["lhs"]).split(".")
        kind = _REL_KINDS.get(parts[0])
        if kind is None:
            continue
        n_ids = {"path": 2, "path difference": 3, "indirect": 3, "indirect difference": 4}[kind]
        if len(parts) != n_ids + 1:
            continue
        ids = parts[1:]
        row = {"effect": str(r["lhs"]), "kind": kind, "outcome": ids[0], "predictor": "", "other": "", "mediator": ""}
        if kind == "path":
            row["predictor"] = ids[1]
            desc = f"{ids[1]} {ARROW} {ids[0]}"
        elif kind == "path difference":
            row.update(predictor=ids[1], other=ids[2])
            desc = f"({ids[1]} {ARROW} {ids[0]}) {MINUS} ({ids[2]} {ARROW} {ids[0]})"
        elif kind == "indirect":
            row.update(mediator=ids[1], predictor=ids[2])
            desc = f"{ids[2]} {ARROW} {ids[1]} {ARROW} {ids[0]}"
        else:
            row.update(mediator=ids[1], predictor=ids[2], other=ids[3])
            desc = (f"({ids[2]} {ARROW} {ids[1]} {ARROW} {ids[0]}) {MINUS} "
                    f"({ids[3]} {ARROW} {ids[1]} {ARROW} {ids[0]})")
        row.update(description=desc, est=float(r["est"]), se=float(r["se"]),
                   **{"ci.lower": float(r["ci.lower"]), "ci.upper": float(r["ci.upper"])})
        rows.append(row)
    out = pd.DataFrame(rows, columns=_REL_COLS)
    out["significant"] = ((out["ci.lower"] > 0) | (out["ci.upper"] < 0)).astype(bool)
    out["ci"] = method
    out.attrs["ci.level"] = _ci_level(result)
    return out


# --------------------------------------------------------------------------- results of a model
@dataclass
class HypothesisTest:
    """Result of :func:`test_model`: one declared model and, when it declares indirect effects,
    its partial-mediation alternative.

    Attributes
    ----------
    model : str
        The instrument's model name.
    hypotheses, indirect, mediation : DataFrame
        :func:`hypothesis_table`, :func:`indirect_effects`, :func:`mediation_table`
        (mediation verdicts from the partial model when there is one).
    partial_hypotheses, partial_indirect : DataFrame or None
    comparison : crm_research.sem.ModelComparison or None
        Full vs partial mediation (chi-square difference test).
    relative_effects : DataFrame
        :func:`relative_effects` (empty when no outcome has two or more predictors).
    results : dict
        ``"model"`` (the fit of the model as declared) and ``"partial"``.
    missing : {"ml", "listwise", "pairwise"}
    n_used, n_input : int
        Respondents the fits used, and given.
    bootstrap : int
        Bootstrap replicates (0: none).

    Examples
    --------
    >>> import pandas as pd
    >>> from crm_research import instruments
    >>> hs = pd.read_csv("tests/reference/lavaan/HolzingerSwineford1939.csv")
    >>> inst = instruments.load_instrument("tests/reference/lavaan/hs_abilities.yaml")
    >>> t = test_model(hs, inst, "mediated")
    >>> t.model, t.supported, t.n_used, sorted(t.results)
    ('mediated', {'Ha': True, 'Hc': True}, 301, ['model', 'partial'])
    >>> print(t.to_markdown().splitlines()[0])
    **Hypothesis tests (model mediated)**
    """

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
    relative_effects: pd.DataFrame = field(default_factory=_empty_relative)
    missing: str = "ml"
    n_used: int | None = None
    n_input: int | None = None
    bootstrap: int = 0

    @property
    def estimation(self) -> str:
        """The estimation in words (``sem.estimation_label`` of the model's fit)."""
        from .sem import estimation_label

        res = self.results.get("model")
        return estimation_label(res) if res is not None else "ML"

    @property
    def supported(self) -> dict[str, bool]:
        return dict(zip(self.hypotheses.hypothesis, self.hypotheses.supported))

    @property
    def missing_summary(self) -> str:
        res = self.results.get("model")
        if res is not None and hasattr(res, "missing_summary"):
            return res.missing_summary
        return f"missing = {self.missing!r}"

    def summary(self) -> str:
        res = self.results.get("model")
        fm = fit_measures_of(res) if res is not None else {}
        level = _ci_level(res) if res is not None else 0.95
        out = [f"Hypothesis tests: model {self.model!r}", f"  data: {self.missing_summary}",
               f"  estimation: {self.estimation}", f"  fit: {fit_sentence(fm)}", ""]
        out.append(_indent(format_hypothesis_table(self.hypotheses, ci_level=level).to_string(index=False), 2))
        if len(self.indirect):
            out += ["", "Indirect effects (CI: " + ", ".join(sorted(set(self.indirect.ci))) + ")"]
            for r in self.indirect.to_dict("records"):
                out.append(f"  {r['effect']} ({r['path'] or r['definition']}): {r['est']:.3f} "
                           f"[{r['ci.lower']:.3f}, {r['ci.upper']:.3f}], std.all = {r['std.all']:.3f}"
                           f"{'' if r['significant'] else ' (CI includes 0)'}")
        if len(self.relative_effects):
            out += ["", "Relative effects (standardized; CI: " + ", ".join(sorted(set(self.relative_effects.ci)))
                    + ")"]
            for r in self.relative_effects.to_dict("records"):
                out.append(f"  {r['description']}: {r['est']:.3f} [{r['ci.lower']:.3f}, {r['ci.upper']:.3f}]"
                           + ("" if r["significant"] or r["kind"] in ("path", "indirect") else " (CI includes 0)"))
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
                              f"; direct {r['direct']:.3f}, {format_p(r['direct.pvalue'], prefix=True)}") + ")")
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
        h = [f"<h4>Hypothesis tests: model {esc(self.model)}</h4>", f"<p>Data: {esc(self.missing_summary)}; "
             f"estimation: {esc(self.estimation)}</p>",
             html_table(format_hypothesis_table(self.hypotheses))]
        if len(self.indirect):
            h += ["<h5>Indirect effects</h5>", html_table(self.indirect.drop(columns=["definition"]), decimals=3)]
        if len(self.relative_effects):
            h += ["<h5>Relative effects (standardized)</h5>",
                  html_table(self.relative_effects[["description", "est", "ci.lower", "ci.upper", "significant"]],
                             decimals=3)]
        if len(self.mediation):
            h += ["<h5>Mediation</h5>", html_table(self.mediation[["path", "indirect", "direct", "verdict"]], decimals=3)]
        if self.comparison is not None:
            h += ["<h5>Full vs partial mediation</h5>", self.comparison._repr_html_()]
        if self.warnings:
            h.append("<ul style='color:#a40'>" + "".join(f"<li>{esc(w)}</li>" for w in self.warnings) + "</ul>")
        return "\n".join(h)

    def to_markdown(self) -> str:
        parts = [f"**Hypothesis tests (model {self.model})**", "",
                 f"Data: {self.missing_summary}. Estimation: {self.estimation}.", "",
                 markdown_table(format_hypothesis_table(self.hypotheses)), ""]
        if len(self.mediation):
            m = pd.DataFrame({"Path": self.mediation.path,
                              "Indirect [CI]": [f"{format_number(a, 3)} [{format_number(lo, 3)}, "
                                                f"{format_number(hi, 3)}]" for a, lo, hi in
                                                zip(self.mediation.indirect, self.mediation["indirect.ci.lower"],
                                                    self.mediation["indirect.ci.upper"])],
                              "Direct": [format_number(x, 3) for x in self.mediation.direct],
                              "p (direct)": [format_p(x) for x in self.mediation["direct.pvalue"]],
                              "Verdict": self.mediation.verdict})
            parts += ["**Mediation**", "", markdown_table(m), ""]
        if len(self.relative_effects):
            r = self.relative_effects
            t = pd.DataFrame({"Effect": r.description, "Estimate": [format_number(x, 3, bounded=True) for x in r.est],
                              "CI": [f"[{format_number(lo, 3, bounded=True)}, {format_number(hi, 3, bounded=True)}]"
                                     for lo, hi in zip(r["ci.lower"], r["ci.upper"])]})
            parts += ["**Relative effects (standardized)**", "", markdown_table(t), ""]
        if self.comparison is not None:
            parts += [self.comparison.verdict, ""]
        return "\n".join(parts)


def test_model(data: pd.DataFrame, instrument: "Instrument", model: str | None = None, *, missing: str = "ml",
               bootstrap: int = 0, seed: int | None = None, alpha: float = 0.05,
               partial: bool = True, estimator: Any = None, ordered: Any = None, se: str | None = None,
               test: str | None = None) -> HypothesisTest:
    """Test the hypotheses of one declared model, with its partial-mediation alternative.

    Fits :func:`relative_effects_syntax` of the model (the model as declared, with its
    standardized paths and their differences as defined parameters: the same fit), and,
    when the model declares indirect effects and ``partial`` is True, the model with the
    direct paths added (only when a declared indirect effect has no direct path in the
    model); returns hypothesis tables, indirect effects, mediation verdicts,
    relative effects and the chi-square difference test between the two models.

    Parameters
    ----------
    data : DataFrame
        Scored responses with the instrument's item columns.
    instrument : Instrument
    model : str, optional
        A model declared in the instrument; default the first one.
    missing : {"ml", "listwise"}
        Full-information ML (default) or complete cases only.
    bootstrap : int
        Bootstrap replicates for SEs and percentile CIs (0: normal-theory).
    seed : int, optional
        Bootstrap seed (same seed, same result).
    alpha : float
    partial : bool
        Also fit the partial-mediation model when the model declares an indirect effect.
    estimator, ordered, se, test : optional
        lavaan's estimation options for every fit (see :func:`fit_model`); with a robust
        estimator the full-vs-partial comparison is the scaled chi-square difference test
        (:func:`crm_research.sem.compare_models`) and intervals come from the robust SEs.

    Returns
    -------
    HypothesisTest

    Raises
    ------
    InstrumentError
        Unknown model, or an instrument without models.
    ModelError
        Bad ``missing`` or ``bootstrap``, or a model that cannot be fitted.

    Examples
    --------
    >>> import pandas as pd
    >>> from crm_research import instruments
    >>> hs = pd.read_csv("tests/reference/lavaan/HolzingerSwineford1939.csv")
    >>> inst = instruments.load_instrument("tests/reference/lavaan/hs_abilities.yaml")
    >>> t = test_model(hs, inst, "mediated", bootstrap=50, seed=1)
    >>> t.supported
    {'Ha': True, 'Hc': True}
    >>> t.mediation["verdict"].tolist(), t.comparison.preferred
    (['full mediation'], 'full mediation')
    """
    from .instruments import structural_syntax

    model = _first_model(instrument) if model is None else model
    _check_model(instrument, model)
    missing = _check_missing(missing)
    est = _estimation(estimator, ordered, se, test, "test_model")
    rows = _analysis_rows(data, _model_items(instrument, _model_constructs(instrument, model)), missing)
    warnings: list[str] = []
    try:
        syntax = relative_effects_syntax(instrument, model, data=rows)
    except ModelError as e:
        warnings.append(f"relative effects not estimated: {e}")
        syntax = structural_syntax(instrument, model, data=rows)
    res = fit_model(syntax, data, missing=missing, bootstrap=bootstrap, seed=seed, estimator=est)
    results = {"model": res}
    warnings += [f"model {model}: {w}" for w in warnings_of(res)]
    table = hypothesis_table(res, instrument, model, alpha=alpha)
    ind = indirect_effects(res, alpha=alpha)
    rel = relative_effects(res)
    p_table = p_ind = comp = None
    med_src = res
    have = {(y, x) for y, x, _ in _model_paths(instrument, model)}
    missing_direct = [ind for ind in instrument.models[model].indirect if (ind["to"], ind["from"]) not in have]
    if partial and missing_direct:
        res_p = fit_model(structural_syntax(instrument, model, partial=True, data=rows), data, missing=missing,
                          bootstrap=bootstrap, seed=seed, estimator=est)
        results["partial"] = res_p
        warnings += [f"partial model {model}: {w}" for w in warnings_of(res_p)]
        p_table = hypothesis_table(res_p, instrument, model, alpha=alpha)
        p_ind = indirect_effects(res_p, alpha=alpha)
        comp = compare_models(res, res_p, names=("full mediation", "partial mediation"), alpha=alpha)
        warnings += comp.warnings
        med_src = res_p
    med = mediation_table(med_src, alpha=alpha)
    return HypothesisTest(model=model, hypotheses=table, indirect=ind, mediation=med, partial_hypotheses=p_table,
                          partial_indirect=p_ind, comparison=comp, results=results, alpha=alpha,
                          warnings=list(dict.fromkeys(warnings)), relative_effects=rel,
                          missing=str(getattr(res, "missing", missing) or missing),
                          n_used=int(res.nobs), n_input=int(res.n_input), bootstrap=int(bootstrap or 0))


test_model.__test__ = False  # not a pytest test despite its name


def test_hypotheses(data: pd.DataFrame, instrument: "Instrument", model: str | None = None, *,
                    bootstrap: int | None = None, seed: int | None = None, alpha: float = 0.05,
                    partial: bool = True, missing: str = "ml") -> HypothesisTest:
    """Deprecated name of :func:`test_model` (same arguments, same result).

    Parameters
    ----------
    data, instrument, model, bootstrap, seed, alpha, partial, missing :
        As in :func:`test_model` (``bootstrap=None`` means 0).

    Returns
    -------
    HypothesisTest

    Examples
    --------
    >>> import pandas as pd
    >>> from crm_research import instruments
    >>> hs = pd.read_csv("tests/reference/lavaan/HolzingerSwineford1939.csv")
    >>> inst = instruments.load_instrument("tests/reference/lavaan/hs_abilities.yaml")
    >>> test_hypotheses(hs, inst, "textual").supported
    {'Hc': True}
    """
    return test_model(data, instrument, model, missing=missing, bootstrap=bootstrap or 0, seed=seed, alpha=alpha,
                      partial=partial)


test_hypotheses.__test__ = False


# --------------------------------------------------------------------------- alone vs together
def _paths_syntax(instrument: "Instrument", paths: Sequence[tuple[str, str, str]], data: pd.DataFrame) -> str:
    from .instruments import measurement_syntax

    used = list(dict.fromkeys(v for y, x, _ in paths for v in (x, y)))
    lines = [measurement_syntax(instrument, used, data=data).rstrip("\n")]
    for y, xs in _predictors(paths).items():
        lines.append(f"{y} ~ " + " + ".join(f"{lab}*{x}" if lab else x for x, lab in xs.items()))
    return "\n".join(lines) + "\n"


def alone_vs_together(data: pd.DataFrame, instrument: "Instrument", fitted: Any, *, model: str | None = None,
                      missing: str | None = None) -> pd.DataFrame:
    """Each predictor of a multi-predictor outcome alone, next to its path among the others.

    For every outcome with two or more predictors in the fitted model, one model per
    predictor is refitted in which that outcome keeps only this predictor (every other path
    of the model stays), built from the instrument's hypotheses.  A path that shrinks once
    the other predictors are in the model carried variance it shares with them.

    Parameters
    ----------
    data : DataFrame
    instrument : Instrument
    fitted : HypothesisTest or SEMResult
        The model with all predictors (its ``std.all`` are the "together" paths).
    model : str, optional
        The instrument's model name; taken from a HypothesisTest; without it the paths are
        read from the fitted regressions.
    missing : {"ml", "listwise", "pairwise"}, optional
        Default: the fitted model's treatment.  Every refit uses the fitted model's
        estimation (estimator, ordered items, se, test).

    Returns
    -------
    DataFrame
        ``outcome, predictor, beta_alone, beta_together, change`` (together minus alone),
        ``n`` (respondents of the refit); empty when no outcome has two or more predictors.
        ``attrs["fits"]``: ``{"Y ~ X": SEMResult}``.

    Examples
    --------
    >>> import pandas as pd
    >>> from crm_research import instruments
    >>> hs = pd.read_csv("tests/reference/lavaan/HolzingerSwineford1939.csv")
    >>> inst = instruments.load_instrument("tests/reference/lavaan/hs_abilities.yaml")
    >>> t = test_model(hs, inst, "direct")
    >>> alone_vs_together(hs, inst, t.results["model"], model="direct").round(3)
      outcome predictor  beta_alone  beta_together  change    n
    0     SPD       VIS       0.065         -0.005  -0.070  301
    1     SPD       TXT       0.155          0.159   0.004  301
    """
    if isinstance(fitted, HypothesisTest):
        model = model or fitted.model
        missing = missing or fitted.missing
        res = fitted.results["model"]
    else:
        res = fitted
    from .estimation import estimation_of

    missing = _check_missing(missing or getattr(res, "missing", None) or "ml")
    est = estimates_of(res)
    if model is not None:
        _check_model(instrument, model)
        paths = _model_paths(instrument, model)
    else:
        ids = {c.id for c in instrument.constructs}
        reg = est[(est.op == "~") & est.lhs.isin(ids) & est.rhs.isin(ids)]
        paths = [(str(r.lhs), str(r.rhs), str(r.label)) for r in reg.itertuples(index=False)]
    preds = _predictors(paths)
    cols = ["outcome", "predictor", "beta_alone", "beta_together", "change", "n"]
    rows, fits = [], {}
    for y, xs in preds.items():
        if len(xs) < 2:
            continue
        for x in xs:
            keep = [(yy, xx, lab) for yy, xx, lab in paths if yy != y or xx == x]
            used = list(dict.fromkeys(v for a, b, _ in keep for v in (a, b)))
            sub = _analysis_rows(data, _model_items(instrument, used), missing)
            r = fit_model(_paths_syntax(instrument, keep, sub), data, missing=missing, estimator=estimation_of(res))
            e = estimates_of(r)
            alone = e.loc[(e.op == "~") & (e.lhs == y) & (e.rhs == x), "std.all"]
            together = est.loc[(est.op == "~") & (est.lhs == y) & (est.rhs == x), "std.all"]
            a = float(alone.iloc[0]) if len(alone) else np.nan
            t = float(together.iloc[0]) if len(together) else np.nan
            rows.append({"outcome": y, "predictor": x, "beta_alone": a, "beta_together": t, "change": t - a,
                         "n": int(r.nobs)})
            fits[f"{y} ~ {x}"] = r
    out = pd.DataFrame(rows, columns=cols)
    out.attrs["fits"] = fits
    return out


# --------------------------------------------------------------------------- more from a fit
def r_squared(result: Any) -> dict[str, float]:
    """R² of every regression outcome: 1 minus its standardized residual variance.

    Parameters
    ----------
    result : SEMResult or estimates DataFrame
        With ``std.all``.

    Returns
    -------
    dict
        Outcome -> R², in order of the regressions.

    Examples
    --------
    >>> import pandas as pd
    >>> est = pd.DataFrame({"lhs": ["Y", "Y"], "op": ["~", "~~"], "rhs": ["X", "Y"], "est": [.5, .75],
    ...                     "std.all": [.5, .75]})
    >>> r_squared(est)
    {'Y': 0.25}
    """
    est = estimates_of(result)
    out: dict[str, float] = {}
    for y in dict.fromkeys(est.loc[est.op == "~", "lhs"]):
        r = est[(est.op == "~~") & (est.lhs == y) & (est.rhs == y)]
        if len(r) and pd.notna(r["std.all"].iloc[0]):
            out[str(y)] = 1.0 - float(r["std.all"].iloc[0])
    return out


def bootstrap_draws(result: Any, parameter: str) -> pd.Series:
    """Usable bootstrap replicates of one parameter (a ``:=`` name such as ``std.SAT.OPS``, or
    ``SAT~OPS``), e.g. to plot the bootstrap distribution of a difference.

    Parameters
    ----------
    result : SEMResult
        Fitted with a bootstrap.
    parameter : str
        A column of ``result.bootstrap.replicates``.

    Returns
    -------
    Series
        The replicates with status ``ok``.

    Raises
    ------
    ModelError
        The model was not bootstrapped.
    KeyError
        No such parameter (the message lists them).

    Examples
    --------
    >>> import pandas as pd
    >>> from crm_research import instruments
    >>> hs = pd.read_csv("tests/reference/lavaan/HolzingerSwineford1939.csv")
    >>> inst = instruments.load_instrument("tests/reference/lavaan/hs_abilities.yaml")
    >>> t = test_model(hs, inst, "direct", bootstrap=50, seed=1)
    >>> draws = bootstrap_draws(t.results["model"], "diff.SPD.VIS.TXT")
    >>> len(draws), bool(draws.std() > 0)
    (50, True)
    """
    b = getattr(result, "bootstrap", None)
    if b is None:
        raise ModelError("the model was not fitted with a bootstrap", hint="fit with bootstrap=1000 (or se='bootstrap')")
    reps = b.replicates
    if parameter not in reps.columns:
        raise KeyError(f"no bootstrap replicates of {parameter!r}; have: "
                       + ", ".join(c for c in reps.columns if c not in ("replicate", "status")))
    return reps.loc[reps.status == "ok", parameter].astype(float).reset_index(drop=True)


def compare_with_population(result: Any, population: Any, ops: Sequence[str] = ("=~", "~")) -> pd.DataFrame:
    """Estimated standardized parameters next to the population values they estimate
    (simulated samples).

    Loadings (``=~``) are compared with the population's standardized loadings.  A regression
    (``~``) is compared with the standardized coefficient the *population implies for the
    fitted model's predictors* (``beta = R_xx^-1 r_xy`` from the population's latent
    correlations), which differs from the population path when the fitted model leaves out a
    correlated predictor.

    Parameters
    ----------
    result : SEMResult or estimates table
    population : PopulationModel
        With ``standardized_parameters()`` and ``latent_correlations()``.

    Returns
    -------
    DataFrame
        ``lhs, op, rhs, population, est`` (``std.all``), ``difference``.

    Examples
    --------
    A stand-in population with one factor (any object with ``standardized_parameters()`` and
    ``latent_correlations()``, such as :class:`crm_research.simulate.survey.PopulationModel`):

    >>> from types import SimpleNamespace
    >>> import pandas as pd
    >>> hs = pd.read_csv("tests/reference/lavaan/HolzingerSwineford1939.csv")
    >>> res = fit_model("visual =~ x1 + x2 + x3", hs)
    >>> truth = pd.DataFrame({"lhs": ["visual"] * 3, "op": ["=~"] * 3, "rhs": ["x1", "x2", "x3"],
    ...                       "std.all": [0.7, 0.5, 0.6]})
    >>> pop = SimpleNamespace(standardized_parameters=lambda: truth,
    ...                       latent_correlations=lambda: pd.DataFrame([[1.0]], ["visual"], ["visual"]))
    >>> compare_with_population(res, pop).round(2)
          lhs  op rhs  population   est  difference
    0  visual  =~  x1         0.7  0.62       -0.08
    1  visual  =~  x2         0.5  0.48       -0.02
    2  visual  =~  x3         0.6  0.71        0.11
    """
    est = estimates_of(result)
    truth = population.standardized_parameters()
    tl = {(a, b): float(v) for a, b, v in zip(truth.lhs[truth.op == "=~"], truth.rhs[truth.op == "=~"],
                                                  truth["std.all"][truth.op == "=~"])}
    R = population.latent_correlations()
    rows = []
    if "=~" in ops:
        for r in est[est.op == "=~"].itertuples(index=False):
            if (r.lhs, r.rhs) in tl:
                rows.append((r.lhs, "=~", r.rhs, tl[(r.lhs, r.rhs)], np.nan))
    if "~" in ops:
        reg = est[est.op == "~"]
        for y, block in reg.groupby("lhs", sort=False):
            xs = [str(x) for x in block.rhs]
            if y not in R.index or any(x not in R.index for x in xs):
                continue
            Rxx = R.loc[xs, xs].to_numpy(float)
            rxy = R.loc[xs, y].to_numpy(float)
            beta = np.linalg.solve(Rxx, rxy)
            for x, b in zip(xs, beta):
                rows.append((y, "~", x, float(b), np.nan))
    out = pd.DataFrame(rows, columns=["lhs", "op", "rhs", "population", "est"])
    std = est.set_index(["lhs", "op", "rhs"])["std.all"]
    out["est"] = [float(std.get((a, o, b), np.nan)) for a, o, b in zip(out.lhs, out.op, out.rhs)]
    out["difference"] = out.est - out.population
    return out

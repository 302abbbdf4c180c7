"""Narrative sentences of the study reports, written from the instrument and the numbers of a run.

Every sentence here takes its words from its arguments: construct ids and names, hypothesis
ids and texts, model names and titles, paths and indirect effects come from the instrument;
numbers, verdicts and choices (estimator, missing-data treatment, bootstrap or not) come
from the run. Nothing here knows the source study: text about it appears only through
:func:`describe_context`, which prints an instrument's optional ``context:`` block.

Each ``describe_*`` function returns a :class:`~crm_research.reporting.display.Narrative`
(a ``str`` that a notebook shows as Markdown).

Examples
--------
>>> from crm_research.reporting.narrative import describe_fit
>>> print(describe_fit({"chisq": 52.3, "df": 41, "pvalue": 0.11, "cfi": 0.991, "rmsea": 0.024,
...                     "srmr": 0.031}, "The measurement model"))  # doctest: +ELLIPSIS
The measurement model: χ²(41) = 52.30, p = .110 (exact fit not rejected); CFI = .991 (≥ .95: good); ...
"""
from __future__ import annotations

import math
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from .display import Narrative
from .fitmeasures import measure_label, reported_fit, reported_keys
from .format import format_ci, format_number, format_p

__all__ = [
    "FIT_CUTOFFS", "MEASUREMENT_PARTS", "MISSING_TREATMENTS", "text_of", "fit_rating", "preferred_model",
    "ci_label", "describe_context", "describe_instrument", "describe_model", "describe_sample",
    "describe_missing_data", "describe_missingness", "describe_items", "describe_careless", "describe_fit",
    "describe_fit_change", "describe_estimation", "describe_r_squared", "describe_measurement",
    "describe_hypotheses", "describe_mediation", "describe_comparison", "describe_relative_effects",
    "describe_alone_vs_together", "describe_recovery", "describe_groups", "describe_invariance",
    "describe_path_comparison", "not_applicable", "describe_normality",
]

#: Hu & Bentler (1999) style cut-offs: (good, acceptable). CFI/TLI: at least; RMSEA/SRMR: at most.
FIT_CUTOFFS: dict[str, tuple[float, float]] = {
    "cfi": (0.95, 0.90), "tli": (0.95, 0.90), "rmsea": (0.06, 0.08), "srmr": (0.08, 0.10),
}
_HIGHER_IS_BETTER = {"cfi": True, "tli": True, "rmsea": False, "srmr": False}

#: The analysis' missing-data treatments: name -> (short name, what it does).
MISSING_TREATMENTS: dict[str, tuple[str, str]] = {
    "ml": ("full-information maximum likelihood (FIML)",
           "every respondent contributes the answers they gave"),
    "listwise": ("listwise deletion", "only respondents who answered every item of the model are used"),
    "pairwise": ("pairwise deletion", "each polychoric correlation uses every respondent who answered both items, "
                 "as lavaan does for ordinal items"),
}

MEASUREMENT_PARTS = ("loadings", "reliability", "discriminant", "method", "verdict")


# =========================================================================== small helpers
def text_of(texts: Any, lang: str = "en") -> str:
    """The text of a ``{language: text}`` mapping in ``lang``, else in its first language.

    Parameters
    ----------
    texts : str, mapping or None
        A plain text, or texts keyed by language code.
    lang : str
        The language wanted.

    Returns
    -------
    str
        ``""`` for None or an empty mapping.

    Examples
    --------
    >>> text_of({"zh": "满意度", "en": "Satisfaction"}), text_of({"zh": "满意度"}), text_of("plain")
    ('Satisfaction', '满意度', 'plain')
    """
    if texts is None:
        return ""
    if isinstance(texts, str):
        return texts
    if isinstance(texts, Mapping):
        v = texts.get(lang)
        if v:
            return str(v)
        for v in texts.values():
            if v:
                return str(v)
    return ""


def _n(x: Any, d: int = 2, bounded: bool = False) -> str:
    return format_number(x, d, bounded=bounded)


def _p(p: Any) -> str:
    return format_p(p, prefix=True)


def _ci(lo: Any, hi: Any, d: int = 2, bounded: bool = False) -> str:
    return format_ci(lo, hi, d, bounded=bounded)


def _near(v: Any, cut: float, bounded: bool = True) -> str:
    """``v`` to 2 decimals, or 3 when 2 would print it equal to ``cut`` (.497 vs .50)."""
    s2 = _n(v, 2, bounded)
    return _n(v, 3, bounded) if s2 == _n(cut, 2, bounded) and not math.isclose(float(v), cut) else s2


def _pct(x: float, d: int = 1) -> str:
    return f"{x:.{d}f}%"


def _list(words: Sequence[str], conj: str = "and", sep: str = ", ") -> str:
    """``a``, ``a and b``, ``a, b and c`` (``sep="; "``: ``a; b; and c``)."""
    words = [str(w) for w in words if str(w)]
    if len(words) <= 1:
        return "".join(words)
    if sep != ", ":
        return sep.join(words[:-1]) + f"{sep}{conj} " + words[-1]
    return ", ".join(words[:-1]) + f" {conj} " + words[-1]


def _plural(k: int, one: str, many: str | None = None) -> str:
    return f"{k:,} {one if k == 1 else (many or one + 's')}"


def _missing_name(missing: str) -> str:
    key = str(missing).strip().lower()
    key = {"fiml": "ml", "direct": "ml", "available.cases": "pairwise"}.get(key, key)
    if key not in MISSING_TREATMENTS:
        raise ValueError(f"unknown missing-data treatment {missing!r}; choose from {', '.join(MISSING_TREATMENTS)}")
    return key


def not_applicable(what: str, why: str) -> Narrative:
    """A section that does not apply to this run, and why.

    Parameters
    ----------
    what : str
        The section's subject.
    why : str
        The reason, as a clause.

    Returns
    -------
    Narrative

    Examples
    --------
    >>> not_applicable("Mediation", "model m1 declares no indirect effect")
    *Mediation: not applicable here: model m1 declares no indirect effect.*
    """
    return Narrative(f"*{what}: not applicable here: {why}.*")


# =========================================================================== rules used in words
def fit_rating(fit_measures: Mapping[str, Any]) -> dict[str, str]:
    """Rate CFI, TLI, RMSEA and SRMR against :data:`FIT_CUTOFFS`.

    Parameters
    ----------
    fit_measures : mapping
        lavaan-named fit measures (``cfi``, ``tli``, ``rmsea``, ``srmr``; others are ignored).
        A robust fit is rated by its robust (else scaled) CFI, TLI and RMSEA
        (:func:`crm_research.reporting.fitmeasures.reported_keys`).

    Returns
    -------
    dict of str to str
        ``good``, ``acceptable`` or ``poor`` per available index (missing or NaN measures
        are left out) plus ``overall``: poor if any is poor, good if all are good, else
        acceptable. Cut-offs are inclusive.

    Examples
    --------
    >>> fit_rating({"cfi": 0.95, "rmsea": 0.07})
    {'cfi': 'good', 'rmsea': 'acceptable', 'overall': 'acceptable'}
    >>> fit_rating({"cfi": float("nan")})
    {}
    """
    out: dict[str, str] = {}
    fit_measures = reported_fit(fit_measures)
    for k, (good, ok) in FIT_CUTOFFS.items():
        v = fit_measures.get(k)
        if v is None or not np.isfinite(float(v)):
            continue
        v = float(v)
        if _HIGHER_IS_BETTER[k]:
            out[k] = "good" if v >= good else "acceptable" if v >= ok else "poor"
        else:
            out[k] = "good" if v <= good else "acceptable" if v <= ok else "poor"
    vals = list(out.values())
    if vals:
        out["overall"] = "poor" if "poor" in vals else "good" if all(v == "good" for v in vals) else "acceptable"
    return out


def preferred_model(comp: Any) -> str | None:
    """Name of the model a nested comparison prefers.

    The larger model only when the chi-square difference test rejects the restricted one
    (or the comparison's own ``preferred``).

    Parameters
    ----------
    comp : ModelComparison or None
        ``restricted``, ``full`` (or ``names``), ``pvalue`` and ``alpha``.

    Returns
    -------
    str or None
        None without a comparison.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> preferred_model(SimpleNamespace(restricted="full", full="partial", pvalue=0.2, alpha=0.05))
    'full'
    >>> preferred_model(SimpleNamespace(restricted="full", full="partial", pvalue=0.01, alpha=0.05))
    'partial'
    """
    if comp is None:
        return None
    if getattr(comp, "preferred", None):
        return str(comp.preferred)
    restricted, full = _comparison_names(comp)
    return full if comp.pvalue < comp.alpha else restricted


def _comparison_names(comp: Any) -> tuple[str, str]:
    """(restricted, full) names of a two-model comparison."""
    r, f = getattr(comp, "restricted", None), getattr(comp, "full", None)
    if r and f:
        return str(r), str(f)
    return str(comp.names[0]), str(comp.names[1])


def ci_label(result: Any) -> str:
    """How a fit's confidence intervals were made.

    Parameters
    ----------
    result : SEMResult
        A fit (``bootstrap``, ``ci_level``).

    Returns
    -------
    str
        ``95% bootstrap percentile CI (R = 1,000, 998 used)`` for a bootstrapped fit, else
        ``95% normal-theory CI`` (the delta method for defined parameters); with robust
        standard errors (MLR, MLM, WLSMV, ...) ``95% CI from robust SEs``.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> ci_label(SimpleNamespace(bootstrap=None, ci_level=0.9))
    '90% normal-theory CI'
    >>> ci_label(SimpleNamespace(bootstrap=SimpleNamespace(ci_type="perc", R=1000, n_ok=998), ci_level=0.95))
    '95% bootstrap percentile CI (R = 1,000, 998 used)'
    >>> ci_label(SimpleNamespace(bootstrap=None, ci_level=0.95, se_type="robust.huber.white"))
    '95% CI from robust SEs'
    """
    b = getattr(result, "bootstrap", None)
    lvl = int(round(100 * float(getattr(result, "ci_level", 0.95) or 0.95)))
    if b is not None:
        kind = {"perc": "percentile", "bca.simple": "bias-corrected"}.get(b.ci_type, b.ci_type)
        return f"{lvl}% bootstrap {kind} CI (R = {b.R:,}, {b.n_ok:,} used)"
    if str(getattr(result, "se_type", "standard") or "standard") not in ("standard", "none", "bootstrap"):
        return f"{lvl}% CI from robust SEs"
    return f"{lvl}% normal-theory CI"


# =========================================================================== the instrument
def _context_parts(ctx: Any) -> dict[str, Any]:
    if ctx is None:
        return {}
    if isinstance(ctx, Mapping):
        return dict(ctx)
    if hasattr(ctx, "__dataclass_fields__"):
        return {k: getattr(ctx, k) for k in ctx.__dataclass_fields__}
    return {k: v for k, v in vars(ctx).items() if not k.startswith("_")}


def describe_context(instrument: Any, lang: str = "en") -> Narrative:
    """The instrument's ``context:`` block (text about the study it comes from), or nothing.

    Generic reports describe only the run; an instrument may add what its source study was
    (``summary``, ``background``), what it reported (``reported``), ``notes`` and a
    ``reference``.

    Parameters
    ----------
    instrument : Instrument
        Anything with a ``context`` attribute (mapping, dataclass or None).
    lang : str
        Language of the texts.

    Returns
    -------
    Narrative
        Empty without a ``context`` block.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> describe_context(SimpleNamespace(context=None)) == ""
    True
    >>> print(describe_context(SimpleNamespace(context={"summary": {"en": "A replication."},
    ...                                                 "reference": "Doe (2020)"})))
    **About this study.** A replication. *Source:* Doe (2020).
    """
    parts = _context_parts(getattr(instrument, "context", None))
    if not parts:
        return Narrative("")
    heads = {"summary": "**About this study.**", "background": "**Background.**",
             "reported": "**What the source study reports.**", "notes": "**Notes.**"}
    out = []
    for key in [*heads, *[k for k in parts if k not in heads and k != "reference"]]:
        txt = text_of(parts.get(key), lang).strip()
        if txt:
            out.append(f"{heads.get(key, f'**{key.replace(chr(95), chr(32)).capitalize()}.**')} {txt}")
    ref = text_of(parts.get("reference"), lang).strip()
    if ref:
        out.append(f"*Source:* {ref}" + ("" if ref.endswith((".", "!", "?")) else "."))
    return Narrative(" ".join(out))


def _construct_name(instrument: Any, cid: str, lang: str = "en") -> str:
    try:
        return text_of(instrument.construct(cid).name, lang)
    except (KeyError, AttributeError):
        return ""


def _named(instrument: Any, cid: str, lang: str = "en") -> str:
    """``ID (name)`` or the id alone when the construct has no name."""
    name = _construct_name(instrument, cid, lang)
    return f"{cid} ({name})" if name and name != cid else cid


def describe_instrument(instrument: Any, lang: str = "en") -> Narrative:
    """What the instrument measures and tests: items, scales, constructs, hypotheses, models.

    Parameters
    ----------
    instrument : Instrument
    lang : str
        Language of construct names and model titles.

    Returns
    -------
    Narrative

    Examples
    --------
    >>> from crm_research.instruments import load_instrument
    >>> print(describe_instrument(load_instrument("tests/reference/lavaan/hs_abilities.yaml")))  # doctest: +ELLIPSIS
    The instrument `hs_abilities` has 7 items answered on 10-point (0 to 9) scale, measuring 3 first-order constructs: ...
    """
    inst = instrument
    items = list(inst.items)
    scales = {it.scale for it in items}
    first = list(inst.first_order)
    higher = list(inst.higher_order)
    single = [c.id for c in first if len(c.items) == 1]
    sc_txt: list[str] = []
    for sid in sorted(scales, key=lambda s: (inst.scales[s].points, inst.scales[s].values[0])):
        sc = inst.scales[sid]
        vals = list(sc.values)
        txt = f"{sc.points}-point ({vals[0]} to {vals[-1]})"
        if txt not in sc_txt:
            sc_txt.append(txt)
    out = [f"The instrument `{inst.id}` has {_plural(len(items), 'item')} answered on "
           f"{_list(sc_txt)} {'scales' if len(sc_txt) > 1 else 'scale'}, measuring "
           f"{_plural(len(first), 'first-order construct')}: "
           + _list([f"{_named(inst, c.id, lang)}, {_plural(len(c.items), 'item')}" for c in first], sep="; ") + "."]
    if higher:
        out.append(_list([f"{_named(inst, c.id, lang)} is a higher-order construct over {_list(list(c.dimensions))}"
                          for c in higher], sep="; ") + ".")
    if single:
        out.append(f"{_list(single)} {'is a single-item construct' if len(single) == 1 else 'are single-item constructs'}"
                   + (": its indicator's error variance is fixed" if len(single) == 1 else
                      ": their indicators' error variances are fixed")
                   + " (to 0, or from a stated reliability), so " + ("it has" if len(single) == 1 else "they have")
                   + " no α, CR or AVE.")
    hyps = list(inst.hypotheses)
    if hyps:
        out.append(f"It states {_plural(len(hyps), 'hypothesis', 'hypotheses')}, tested in "
                   f"{_plural(len(inst.models), 'structural model')}: "
                   + "; ".join(f"`{name}` ({text_of(spec.title, lang) or 'untitled'}: {', '.join(spec.hypotheses)})"
                               for name, spec in inst.models.items()) + ".")
    return Narrative(" ".join(out))


def _paths_of(instrument: Any, model: str) -> list[Any]:
    spec = instrument.models[model]
    return [instrument.hypothesis(h) for h in spec.hypotheses]


def _indirect_path(ind: Mapping[str, str]) -> str:
    return f"{ind['from']} → {ind['via']} → {ind['to']}"


def describe_model(instrument: Any, model: str, lang: str = "en") -> Narrative:
    """One structural model in words.

    Its title, hypotheses (paths and statements), the constructs it uses, its indirect
    effects and, if it declares any, the partial-mediation alternative.

    Parameters
    ----------
    instrument : Instrument
    model : str
        A model the instrument declares.
    lang : str
        Language of titles and statements.

    Returns
    -------
    Narrative

    Examples
    --------
    >>> from crm_research.instruments import load_instrument
    >>> print(describe_model(load_instrument("tests/reference/lavaan/hs_abilities.yaml"), "mediated"))  # doctest: +ELLIPSIS
    **Model `mediated`** (Visual ability acts on speed through textual ability) tests **Ha** VIS → TXT ... The model implies 1 indirect effect: VIS → TXT → SPD. ...
    """
    inst = instrument
    spec = inst.models[model]
    hyps = _paths_of(inst, model)
    title = text_of(spec.title, lang)
    out = [f"**Model `{model}`**" + (f" ({title})" if title else "") + " tests "
           + _list([f"**{h.id}** {h.rhs} → {h.lhs}" + (f" (“{text_of(h.text, lang)}”)" if text_of(h.text, lang) else "")
                    + ("" if h.sign == "positive" else ", expected negative") for h in hyps]) + "."]
    used = list(dict.fromkeys([h.rhs for h in hyps] + [h.lhs for h in hyps]))
    higher = [c for c in used if inst.construct(c).is_higher_order]
    if higher:
        out.append(_list([f"{c} is a higher-order construct over {_list(list(inst.construct(c).dimensions))}"
                          for c in higher], sep="; ") + ".")
    single = [c for c in used if not inst.construct(c).is_higher_order and len(inst.construct(c).items) == 1]
    if single:
        out.append(f"{_list(single)} {'is' if len(single) == 1 else 'are'} measured by a single item.")
    if spec.indirect:
        ind = list(spec.indirect)
        out.append(f"The model implies {_plural(len(ind), 'indirect effect')}: "
                   + _list([f"{_indirect_path(i)}" for i in ind]) + ". As hypothesized it has no direct "
                   + ("path " if len(ind) == 1 else "paths ") + _list([f"{i['from']} → {i['to']}" for i in ind])
                   + " (full mediation); the alternative adds " + ("it" if len(ind) == 1 else "them")
                   + " (partial mediation).")
    else:
        out.append("It declares no indirect effect, so there is no mediation analysis and no "
                   "partial-mediation alternative.")
    return Narrative(" ".join(out))


# =========================================================================== the sample
def describe_sample(sample: Any) -> Narrative:
    """Where the data come from and how many respondents survived cleaning (and why not).

    Parameters
    ----------
    sample : StudySample

    Returns
    -------
    Narrative

    Examples
    --------
    >>> from crm_research.study import load_study_sample
    >>> s = load_study_sample(None, "surveys/ecommerce_crm.yaml", "surveys/ecommerce_crm_population.yaml",
    ...                       n=200, seed=1)
    >>> print(describe_sample(s))  # doctest: +ELLIPSIS
    **Data:** simulated sample of 200 respondents ... Of **200** respondents, **186** were kept after cleaning and **14** excluded: ...
    """
    out = [f"**Data:** {sample.label}."]
    out.append(f"Of **{sample.n_rows:,}** respondents, **{sample.n_kept:,}** were kept after cleaning "
               f"and **{sample.n_excluded:,}** excluded" + ("." if not sample.n_excluded else ":"))
    if sample.n_excluded:
        reasons: dict[str, int] = {}
        for s in sample.responses.excluded["checks"].astype(str):
            for c in s.split("; "):
                reasons[c] = reasons.get(c, 0) + 1
        out.append(", ".join(f"{k.replace('_', ' ')} {v}" for k, v in sorted(reasons.items(), key=lambda kv: -kv[1]))
                   + " (a respondent can fail several checks).")
    return Narrative(" ".join(out))


def describe_missing_data(sample: Any, missing: str, items: Sequence[str] | None = None, *,
                          nobs: int | None = None, what: str = "the analysis") -> Narrative:
    """How many respondents each missing-data treatment uses, and which one this run uses.

    Parameters
    ----------
    sample : StudySample
    missing : {"ml", "listwise"}
        The run's treatment.
    items : list of str, optional
        Items of the analysis (default: all items of the instrument).
    nobs : int, optional
        N the fit reports; a mismatch with the expected N is said.
    what : str
        The analysis, for the sentence.

    Returns
    -------
    Narrative

    Examples
    --------
    >>> from crm_research.study import load_study_sample
    >>> s = load_study_sample(None, "surveys/ecommerce_crm.yaml", "surveys/ecommerce_crm_population.yaml",
    ...                       n=200, seed=1)
    >>> print(describe_missing_data(s, "ml"))  # doctest: +ELLIPSIS
    Missing answers: full-information ML (...) uses **186** respondents; listwise deletion (...) would use **149**, 37 fewer (19.9%). **This run uses full-information maximum likelihood (FIML): N = 186.**
    """
    key = _missing_name(missing)
    n_ml = int(sample.n_analysed("ml", items))
    n_lw = int(sample.n_analysed("listwise", items))
    k = len(items) if items is not None else len(sample.instrument.item_ids)
    used_name = MISSING_TREATMENTS[key][0]
    if n_ml == n_lw:
        txt = (f"Every kept respondent answered all {k} items of {what}, so full-information ML and listwise "
               f"deletion both use **N = {n_ml:,}**. This run uses {used_name} (`missing = \"{key}\"`).")
    else:
        lost = n_ml - n_lw
        txt = (f"Missing answers: full-information ML (`missing = \"ml\"`, every respondent contributes the answers "
               f"they gave) uses **{n_ml:,}** respondents; listwise deletion (`missing = \"listwise\"`, complete "
               f"cases on the {k} items of {what}) would use **{n_lw:,}**, {lost:,} fewer "
               f"({_pct(100 * lost / n_ml if n_ml else 0)}). **This run uses {used_name}: "
               f"N = {n_lw if key == 'listwise' else n_ml:,}.**")
        if key == "listwise":
            txt += (" Listwise deletion is unbiased only if answers are missing completely at random; FIML also "
                    "under the weaker missing-at-random assumption.")
    if n_ml < sample.n_kept:
        txt += (f" {sample.n_kept - n_ml:,} kept respondent(s) answered none of these items and cannot be "
                "used by either treatment.")
    expected = n_lw if key == "listwise" else n_ml
    if nobs is not None and int(nobs) != expected:
        txt += f" The estimation reports N = {int(nobs):,}."
    return Narrative(txt)


def describe_missingness(summary: Mapping[str, Any]) -> Narrative:
    """Missing answers in words: how many, where, and what each treatment of them would cost.

    Parameters
    ----------
    summary : mapping
        :func:`crm_research.study.missingness_summary`.

    Returns
    -------
    Narrative

    Examples
    --------
    >>> m = {"missing_cells": 0, "cells": 100}
    >>> print(describe_missingness(m))
    No item answer is missing among the kept respondents: every analysis uses all of them.
    """
    m = summary
    if not m["missing_cells"]:
        return Narrative("No item answer is missing among the kept respondents: every analysis uses all of them.")
    txt = (f"{m['missing_cells']:,} of {m['cells']:,} item answers are missing ({_pct(m['missing_pct'], 2)}). "
           f"They are spread over {m['respondents_any']:,} respondents ({_pct(m['lost_pct'])} of the kept "
           f"sample); the item skipped most often is {m['worst_item']} ({_pct(m['worst_item_pct'])}). "
           f"Listwise deletion over all items would keep only **{m['n_complete']:,}** complete respondents; "
           "full-information ML keeps everyone who answered. ")
    if m["lost_pct"] > 20:
        txt += ("Losing more than a fifth of the sample to listwise deletion costs power and, unless answers are "
                "missing completely at random, can bias the estimates: prefer full-information ML.")
    elif m["lost_pct"] > 5:
        txt += "A listwise loss of this size is tolerable if answers are missing completely at random."
    else:
        txt += "A listwise loss this small hardly matters."
    return Narrative(txt)


def describe_items(stats: pd.DataFrame, instrument: Any = None) -> Narrative:
    """Item distributions in words: range of means (against the scale midpoint), skewness,
    kurtosis, floor and ceiling effects.

    Parameters
    ----------
    stats : pandas.DataFrame
        :func:`crm_research.study.item_statistics`.
    instrument : Instrument, optional
        Gives the scale midpoint.

    Returns
    -------
    Narrative

    Examples
    --------
    >>> import pandas as pd
    >>> stats = pd.DataFrame({"item": ["A", "B"], "mean": [2.5, 3.4], "sd": [1.0, 1.2], "skew": [0.1, -2.5],
    ...                       "kurtosis": [0.2, 8.0], "floor_pct": [3.0, 1.0], "ceiling_pct": [4.0, 40.0]})
    >>> print(describe_items(stats))  # doctest: +ELLIPSIS
    Item means range from 2.50 to 3.40; SDs from 1.00 to 1.20. ...B... ceiling or floor effect ...
    """
    if stats.empty:
        return Narrative("No item answers to describe.")
    lo, hi = stats["mean"].min(), stats["mean"].max()
    mid = ""
    if instrument is not None:
        mids = {(inst_sc.values[0] + inst_sc.values[-1]) / 2 for inst_sc in
                (instrument.scale_of(i) for i in stats["item"])}
        if len(mids) == 1:
            mid = f" (scale midpoint {_n(next(iter(mids)), 1).rstrip('0').rstrip('.')})"
    parts = [f"Item means range from {_n(lo)} to {_n(hi)}{mid}; SDs from "
             f"{_n(stats.sd.min())} to {_n(stats.sd.max())}."]
    bad = stats[(stats["skew"].abs() >= 2) | (stats["kurtosis"].abs() >= 7)]
    if len(bad):
        parts.append("Strongly non-normal items (|skew| ≥ 2 or |kurtosis| ≥ 7): " +
                     ", ".join(f"{r.item} (skew {_n(r.skew)}, kurtosis {_n(r.kurtosis)})" for r in bad.itertuples())
                     + "; normal-theory ML standard errors may be too small for models using them.")
    else:
        parts.append(f"No item is strongly non-normal (largest |skew| {_n(stats['skew'].abs().max())}, "
                     f"largest |kurtosis| {_n(stats['kurtosis'].abs().max())}; limits 2 and 7).")
    ceil = stats[stats.ceiling_pct > 15]
    floor = stats[stats.floor_pct > 15]
    if len(ceil) or len(floor):
        parts.append("More than 15% of answers sit at an end of the scale for " +
                     ", ".join([f"{r.item} (top {_pct(r.ceiling_pct, 0)})" for r in ceil.itertuples()] +
                               [f"{r.item} (bottom {_pct(r.floor_pct, 0)})" for r in floor.itertuples()]) +
                     ": a ceiling or floor effect limits how well these items separate respondents.")
    else:
        parts.append("No item has more than 15% of its answers at either end of the scale (no floor or "
                     "ceiling effect).")
    return Narrative(" ".join(parts))


def describe_careless(screening: pd.DataFrame, data: pd.DataFrame,
                      detection: pd.DataFrame | None = None) -> Narrative:
    """The screening for careless responding and (simulated samples) how well it worked.

    Parameters
    ----------
    screening : DataFrame
        :func:`crm_research.study.screening_table`.
    data : DataFrame
        The kept respondents (their ``flag_<check>`` columns).
    detection : DataFrame, optional
        :func:`crm_research.study.careless_detection` (simulated samples only).

    Returns
    -------
    Narrative

    Examples
    --------
    >>> from crm_research.study import load_study_sample
    >>> s = load_study_sample(None, "surveys/ecommerce_crm.yaml", "surveys/ecommerce_crm_population.yaml",
    ...                       n=200, seed=1)
    >>> from crm_research.study import careless_detection, screening_table
    >>> print(describe_careless(screening_table(s), s.data, careless_detection(s)))  # doctest: +ELLIPSIS
    Respondent checks: ... the checks caught 10 of 10 careless respondents (100%). ...
    """
    sc = screening
    if sc.empty:
        txt = "No respondent-level check found anything."
    else:
        bits = [f"{r.check.replace('_', ' ')}: {r.respondents} ({r.policy}"
                + (f", {r.dropped} dropped" if r.dropped else "") + (f", {r.flagged} flagged" if r.flagged else "")
                + ")" for r in sc.itertuples()]
        txt = "Respondent checks: " + "; ".join(bits) + "."
    flag_cols = [c for c in data.columns if c.startswith("flag_") and data[c].any()]
    if flag_cols:
        nflag = int(data[flag_cols].any(axis=1).sum())
        example = ", ".join(f"'{c[len('flag_'):]}': 'drop'" for c in flag_cols[:2])
        txt += (f" {nflag} flagged respondents remain in the analysis sample; set the `policies` parameter "
                f"(e.g. `{{{example}}}`) to drop them instead.")
    if detection is not None and len(detection):
        care = detection[detection.type != "none"]
        att = detection[detection.type == "none"]
        if len(care):
            tot = int(care.respondents.sum())
            caught = int((care.dropped + care.flagged).sum())
            txt += (f" Because this sample is simulated, we know who answered carelessly: the checks caught "
                    f"{caught} of {tot} careless respondents ({_pct(100 * caught / tot, 0)})")
            missed = care[care.unflagged > 0]
            if len(missed):
                txt += "; missed: " + ", ".join(f"{r.unflagged} {r.type.replace('_', ' ')}" for r in missed.itertuples())
            txt += "."
        if len(att):
            a = att.iloc[0]
            fp = int(a.dropped + a.flagged)
            txt += (f" Of {int(a.respondents)} attentive respondents, {fp} were dropped or flagged anyway "
                    f"({_pct(100 * fp / a.respondents)}).")
    return Narrative(txt)


# =========================================================================== fit and estimation
def describe_normality(advice: Any, choice: Any = None) -> Narrative:
    """The normality diagnostics and the estimator they call for, in plain words.

    Parameters
    ----------
    advice : EstimatorAdvice
        :func:`crm_research.normality.recommend_estimator` (``estimator``, ``ordered``,
        ``missing``, ``reasons``, ``items``, ``mardia``).
    choice : EstimationChoice, optional
        The estimation the analyses use (:func:`crm_research.study.choose_estimation`): the
        text says whether it follows the advice and, if not, how to.

    Returns
    -------
    Narrative

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> adv = SimpleNamespace(estimator="MLR", ordered=[], missing="ml", mardia=None, items=None,
    ...                       reasons=["the answers are not multivariate normal: MLR gives robust SEs"])
    >>> ch = SimpleNamespace(estimation=SimpleNamespace(estimator="ML", ordered=()), missing="ml", advice=None)
    >>> t = str(describe_normality(adv, ch))
    >>> "**Advice: MLR**" in t and 'estimator = "MLR"' in t
    True
    """
    words = {"ML": "maximum likelihood (ML), which assumes roughly normal answers",
             "MLR": "robust maximum likelihood (MLR): the ML estimates with Huber-White robust standard errors, "
                    "the Yuan-Bentler scaled χ² and robust CFI/TLI/RMSEA",
             "WLSMV": "WLSMV with the items declared ordinal: thresholds and polychoric correlations instead of "
                      "means and covariances, robust standard errors and a scaled-shifted χ²"}
    parts = []
    m = getattr(advice, "mardia", None)
    if m is not None and len(m) >= 3:
        ps, pk = float(m["pvalue"].iat[0]), float(m["pvalue"].iat[2])
        parts.append(f"Mardia's test of multivariate normality: skewness b1p = {_n(m['coefficient'].iat[0])} "
                     f"({_p(ps)}), kurtosis b2p = {_n(m['coefficient'].iat[2])} (z = {_n(m['statistic'].iat[2])}, "
                     f"{_p(pk)}): the answers are "
                     + ("not multivariate normal." if min(ps, pk) < 0.05 else "compatible with multivariate normality."))
    it = getattr(advice, "items", None)
    if it is not None and len(it):
        cats = it["categories"]
        parts.append(f"The items have {int(cats.min())}" + (f" to {int(cats.max())}" if cats.max() != cats.min() else "")
                     + " distinct answers; "
                     + f"{int((it['skew'].abs() > 2).sum())} of {len(it)} have |skewness| > 2 and "
                     f"{int((it['kurtosis'] > 7).sum())} excess kurtosis > 7 (West, Finch & Curran, 1995).")
    est = str(getattr(advice, "estimator", "ML"))
    parts.append(f"**Advice: {est}** — {words.get(est, est)}. Why: "
                 + "; ".join(str(r) for r in getattr(advice, "reasons", []) or []) + ".")
    if choice is not None:
        used = choice.estimation.estimator
        ordered = bool(choice.estimation.ordered)
        follows = used == est and ordered == bool(getattr(advice, "ordered", None))
        if getattr(choice, "advice", None) is not None:
            parts.append(f"The analyses follow it (`estimator = \"auto\"`): {used}, missing answers: "
                         f"{MISSING_TREATMENTS[_missing_name(choice.missing)][0]}.")
        elif follows:
            parts.append(f"The analyses use {used}, as advised.")
        else:
            hint = 'ordered = True (WLSMV)' if est == "WLSMV" else f'estimator = "{est}"'
            parts.append(f"The analyses of this run use **{used}**" + (" with ordered items" if ordered else "")
                         + f" (the `estimator` parameter); to follow the advice, run them with `{hint}` "
                         "or `estimator = \"auto\"`.")
    return Narrative(" ".join(parts))


def describe_fit(fit_measures: Mapping[str, Any], what: str = "The model") -> Narrative:
    """Fit in one paragraph: each index with its cut-off and rating, then an overall verdict.

    Parameters
    ----------
    fit_measures : mapping or fitted model
        lavaan-named fit measures (``chisq``, ``df``, ``pvalue``, ``cfi``, ``tli``,
        ``rmsea``, ``srmr``; those present are described).  A robust or ordinal fit
        (MLM, MLR, WLSMV, ...) is described by its scaled χ² and robust (else scaled) CFI,
        TLI and RMSEA, named as such; given a fitted model, the sentence also names the
        estimation (``sem.estimation_label``).
    what : str
        Subject of the sentence.

    Returns
    -------
    Narrative

    Examples
    --------
    >>> t = describe_fit({"chisq": 900.0, "df": 100, "pvalue": 1e-9, "cfi": 0.85, "rmsea": 0.12})
    >>> "CFI = .850 (misses ≥ .90: poor)" in t and "does not fit the data well" in t
    True
    >>> t = describe_fit({"chisq": 575.6, "df": 237, "pvalue": 0.0, "chisq.scaled": 444.9, "df.scaled": 237,
    ...                   "pvalue.scaled": 0.0, "cfi": 0.877, "cfi.robust": 0.899, "rmsea": 0.076,
    ...                   "rmsea.robust": 0.066})
    >>> "scaled χ²(237) = 444.90" in t and "robust CFI = .899" in t and "robust RMSEA = .066" in t
    True
    """
    label = ""
    if not isinstance(fit_measures, (Mapping, pd.Series)):
        label = _estimation_label(fit_measures)
        fit_measures = getattr(fit_measures, "fit_measures", None) or {}
    keys = reported_keys(fit_measures)
    fm = reported_fit(fit_measures)
    rating = fit_rating(fm)
    parts = []
    if fm.get("chisq") is not None and fm.get("df") is not None:
        chi_name = "scaled χ²" if keys["chisq"] != "chisq" else "χ²"
        chi = f"{chi_name}({int(round(float(fm['df'])))}) = {_n(fm['chisq'])}, {_p(fm.get('pvalue'))}"
        pv = fm.get("pvalue")
        if pv is not None and np.isfinite(pv):
            chi += (" (exact fit not rejected)" if pv >= 0.05 else
                    " (exact fit rejected, as is usual with samples in the hundreds; judge by the indices)")
        parts.append(chi)
    for k in ("cfi", "tli", "rmsea", "srmr"):
        if k not in rating:
            continue
        name = measure_label(keys[k])
        good, ok = FIT_CUTOFFS[k]
        sign = "≥" if _HIGHER_IS_BETTER[k] else "≤"
        cut = good if rating[k] == "good" else ok
        val = _n(fm[k], 3, bounded=True)
        if k == "rmsea" and fm.get("rmsea.ci.lower") is not None:
            val += f", 90% CI {_ci(fm['rmsea.ci.lower'], fm['rmsea.ci.upper'], 3, bounded=True)}"
        if rating[k] == "poor":
            parts.append(f"{name} = {val} (misses {sign} {_n(ok, 2, True)}: poor)")
        else:
            parts.append(f"{name} = {val} ({sign} {_n(cut, 2, True)}: {rating[k]})")
    overall = rating.get("overall")
    verdict = {"good": "fits the data well", "acceptable": "fits the data acceptably",
               "poor": "does not fit the data well: interpret its estimates with caution"}.get(overall, "")
    txt = f"{what}: " + "; ".join(parts) + "."
    if label and label != "ML":
        txt = f"{what}, estimated by {label}: " + "; ".join(parts) + "."
    if verdict:
        first = what.split(" ")[0]
        subject = what if first.isupper() else what[:1].lower() + what[1:]
        txt += f" Overall, {subject} {verdict} (cut-offs after Hu & Bentler, 1999)."
    return Narrative(txt)


def _estimation_label(result: Any) -> str:
    """``sem.estimation_label`` of a fitted model ("" for anything else)."""
    if getattr(result, "estimates", None) is None or not hasattr(result, "fit_measures"):
        return ""
    from ..sem import estimation_label

    return estimation_label(result)


def describe_fit_change(restricted: Mapping[str, Any], free: Mapping[str, Any], what: str) -> Narrative:
    """What imposing a restriction (e.g. the higher-order structure) costs in χ² and fit.

    Parameters
    ----------
    restricted, free : mapping
        Fit measures of the restricted and the free model (``chisq``, ``df``; the
        restricted model's fit indices are rated).
    what : str
        The restriction, for the sentence.

    Returns
    -------
    Narrative

    Examples
    --------
    >>> print(describe_fit_change({"chisq": 130.0, "df": 60, "cfi": 0.97, "rmsea": 0.04, "srmr": 0.05},
    ...                           {"chisq": 120.5, "df": 57}, "the higher-order structure"))
    Imposing the higher-order structure costs Δχ²(3) = 9.50; the restricted model's fit is good: the restriction describes the data well.
    """
    d_chi = float(restricted["chisq"]) - float(free["chisq"])
    d_df = int(round(float(restricted["df"]) - float(free["df"])))
    if d_df == 0:
        return Narrative(f"Imposing {what} costs no degrees of freedom: the two models are equivalent "
                         f"(Δχ² = {d_chi:.2f}).")
    rating = fit_rating(restricted).get("overall")
    std_note = " (of the standard χ² statistics; fit rated by the robust indices)" if any(
        k != v for k, v in reported_keys(restricted).items()) else ""
    return Narrative(f"Imposing {what} costs Δχ²({d_df}) = {d_chi:.2f}{std_note}; the restricted model's fit is "
                     f"{rating or 'not rated'}" + (": the restriction describes the data well." if rating == "good" else
                                                   ": acceptable." if rating == "acceptable" else
                                                   ": the restriction does not describe the data well."))


def describe_estimation(result: Any, missing: str, *, n_available: int | None = None,
                        what: str = "The model") -> Narrative:
    """Which estimator, missing-data treatment, N and kind of confidence interval a fit used.

    Parameters
    ----------
    result : SEMResult
        The fit (``nobs``, ``bootstrap``, ``ci_level``).
    missing : {"ml", "listwise"}
        The treatment the fit was asked for.
    n_available : int, optional
        Respondents kept after cleaning (to say how many the fit left out).
    what : str
        Subject of the sentence.

    Returns
    -------
    Narrative

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> print(describe_estimation(SimpleNamespace(nobs=480, bootstrap=None, ci_level=0.95), "ml"))
    The model was estimated by maximum likelihood (ML) with full-information maximum likelihood (FIML) for missing answers (every respondent contributes the answers they gave), on N = 480 respondents. Confidence intervals are 95% normal-theory intervals.
    """
    key = _missing_name(missing)
    name, how = MISSING_TREATMENTS[key]
    nobs = getattr(result, "nobs", None)
    label = _estimation_label(result)
    est_words = "maximum likelihood (ML)" if label in ("", "ML") else _ESTIMATOR_WORDS.get(
        str(getattr(result, "estimator", "")).upper(), "") + f"{label}"
    txt = (f"{what} was estimated by {est_words} with {name} for missing answers ({how})"
           + (f", on N = {int(nobs):,} respondents" if nobs is not None else "")
           + (f" of the {int(n_available):,} kept" if n_available is not None and nobs is not None
              and int(nobs) != int(n_available) else "") + ".")
    b = getattr(result, "bootstrap", None)
    lvl = int(round(100 * float(getattr(result, "ci_level", 0.95) or 0.95)))
    if b is not None:
        kind = {"perc": "percentile", "bca.simple": "bias-corrected"}.get(b.ci_type, b.ci_type)
        txt += (f" Confidence intervals are {lvl}% nonparametric bootstrap {kind} intervals from R = {b.R:,} "
                f"resamples of respondents ({b.n_ok:,} usable), refitting the model each time; a product of "
                "paths is not normally distributed, and the bootstrap does not assume it is.")
        if b.n_ok < b.R:
            txt += f" {b.R - b.n_ok:,} resample(s) failed or gave inadmissible estimates and were left out."
    else:
        est = getattr(result, "estimates", None)
        defined = est is not None and hasattr(est, "op") and bool((est.op == ":=").any())
        robust = str(getattr(result, "se_type", "standard") or "standard") not in ("standard", "none")
        kind = "Wald intervals from the robust standard errors" if robust else "normal-theory intervals"
        txt += (f" Confidence intervals are {lvl}% {kind}"
                + (" (the delta method for defined parameters such as indirect effects)." if defined else "."))
    ordered = list(getattr(result, "ordered", None) or [])
    if ordered:
        txt += (f" {len(ordered)} item(s) were treated as ordinal: their thresholds and polychoric correlations are "
                "estimated first and the model is fitted to them, so no item is assumed to be interval-scaled or "
                "normal.")
    fm = getattr(result, "fit_measures", None) or {}
    if label not in ("", "ML") and reported_keys(fm)["chisq"] != "chisq":
        txt += (" Fit is judged by the scaled χ² and the robust (or, where lavaan gives none, scaled) CFI, TLI "
                "and RMSEA, which correct for non-normal data.")
    return Narrative(txt)


#: Plain words before an estimation label (``sem.estimation_label`` names the details).
_ESTIMATOR_WORDS = {"MLM": "robust maximum likelihood, ", "MLMV": "robust maximum likelihood, ",
                    "MLMVS": "robust maximum likelihood, ", "MLR": "robust maximum likelihood, ",
                    "WLSMV": "diagonally weighted least squares, ", "DWLS": "diagonally weighted least squares, ",
                    "WLS": "weighted least squares, ", "ULSMV": "unweighted least squares, ",
                    "ULS": "unweighted least squares, ", "WLSM": "diagonally weighted least squares, ",
                    "ULSM": "unweighted least squares, "}


def describe_r_squared(r2: Mapping[str, float], predictors: Mapping[str, Sequence[str]] | None = None) -> Narrative:
    """Variance explained of every outcome, with Cohen's (1988) labels (.02 small, .13 medium, .26 large).

    Parameters
    ----------
    r2 : mapping
        Outcome -> R² (:func:`crm_research.hypotheses.r_squared`).
    predictors : mapping, optional
        Outcome -> its predictors, named in the sentence.

    Returns
    -------
    Narrative

    Examples
    --------
    >>> print(describe_r_squared({"Y": 0.3}, {"Y": ["X1", "X2"]}))
    X1 and X2 explain 30% of the variance of Y (R² = .30, large by Cohen's benchmarks).
    """
    if not r2:
        return Narrative("")

    def size(v: float) -> str:
        return "large" if v >= 0.26 else "medium" if v >= 0.13 else "small" if v >= 0.02 else "negligible"

    bits = []
    for y, v in r2.items():
        xs = list((predictors or {}).get(y, []))
        who = f"{_list(xs)} explain{'s' if len(xs) == 1 else ''}" if xs else "The model explains"
        bits.append(f"{who} {_pct(100 * v, 0)} of the variance of {y} (R² = {_n(v, 2, True)}, {size(v)} by "
                    "Cohen's benchmarks)")
    txt = "; ".join(bits) + "."
    return Narrative(txt[0].upper() + txt[1:])


# =========================================================================== measurement
def describe_measurement(report: Any, part: str | Sequence[str] | None = None) -> Narrative:
    """Loadings, reliability and convergent validity, discriminant validity, common-method
    variance and an overall verdict, in words.

    Parameters
    ----------
    report : MeasurementReport
        :func:`crm_research.measurement.assess_measurement`.
    part : str or list of str, optional
        Some of :data:`MEASUREMENT_PARTS` (default: all, in that order).

    Returns
    -------
    Narrative
        One paragraph per part.

    Raises
    ------
    ValueError
        An unknown part.

    Examples
    --------
    >>> import pandas as pd
    >>> from crm_research.instruments import load_instrument
    >>> from crm_research.measurement import assess_measurement
    >>> rep = assess_measurement(pd.read_csv("tests/reference/lavaan/HolzingerSwineford1939.csv"), load_instrument("tests/reference/lavaan/hs_abilities.yaml"),
    ...                          missing="listwise", harman=None)
    >>> print(describe_measurement(rep, "reliability"))  # doctest: +ELLIPSIS
    **Reliability and convergent validity.** Cronbach's α ranges from .63 to .88, ... SPD: single item, so no α, ω, CR or AVE; ...
    """
    wanted = list(MEASUREMENT_PARTS) if part is None else ([part] if isinstance(part, str) else list(part))
    unknown = [p for p in wanted if p not in MEASUREMENT_PARTS]
    if unknown:
        raise ValueError(f"unknown part(s) {unknown}; choose from {', '.join(MEASUREMENT_PARTS)}")
    th = report.thresholds
    R = report.reliability
    single_mask = R["n_items"].eq(1) if "n_items" in R.columns else pd.Series(False, index=R.index)
    if "single_item" in R.columns:
        single_mask = single_mask | R["single_item"].fillna(False).astype(bool)
    single = list(R.loc[single_mask, "construct"])
    multi = R[~single_mask]
    first = multi[multi.level == "first-order"] if "level" in multi.columns else multi
    fl = report.flagged
    out: dict[str, str] = {}

    L = report.loadings
    L_multi = L[~L.construct.isin(single)] if len(single) else L
    bad_l = L_multi[L_multi.flag]
    if len(L_multi):
        out["loadings"] = (
            f"**Loadings.** Standardized loadings range from {_n(L_multi.loading.min(), 2, True)} to "
            f"{_n(L_multi.loading.max(), 2, True)}"
            + (("; below " + _n(th.loading, 2, True) + ": " + ", ".join(
                f"{r.item} on {r.construct} ({_near(r.loading, th.loading)})" for r in bad_l.itertuples())
                + ". A weak indicator shares little variance with its construct; drop it only if theory allows "
                  "and reliability does not suffer")
               if len(bad_l) else f": every indicator reaches {_n(th.loading, 2, True)}") + ".")
    else:
        out["loadings"] = "**Loadings.** No construct has more than one indicator."
    if single:
        out["loadings"] += (f" {_list(single)} {'is' if len(single) == 1 else 'are'} measured by a single item whose "
                            "loading follows from its fixed error variance, so "
                            + ("it is" if len(single) == 1 else "these loadings are") + " not evaluated.")

    def rng(col: str, frame: pd.DataFrame) -> tuple[str, str] | None:
        v = pd.to_numeric(frame[col], errors="coerce").dropna() if col in frame.columns else pd.Series(dtype=float)
        return (_n(v.min(), 2, True), _n(v.max(), 2, True)) if len(v) else None

    if len(multi):
        a, o, c, v = rng("alpha", first), rng("omega", first), rng("cr", multi), rng("ave", multi)
        bits = []
        if a:
            bits.append(f"Cronbach's α ranges from {a[0]} to {a[1]}")
        if o:
            bits.append(f"McDonald's ω from {o[0]} to {o[1]}")
        if c:
            bits.append(f"composite reliability (CR) from {c[0]} to {c[1]}")
        if v:
            bits.append(f"the average variance extracted (AVE) from {v[0]} to {v[1]}")
        rel = "**Reliability and convergent validity.** " + (_list(bits) + ". " if bits else "")
        rel_bad = multi[multi.flag]
        if len(rel_bad):
            probs = []
            for r in rel_bad.to_dict("records"):
                pb = [f"{name} {_near(r[k], cut)} < {_n(cut, 2, True)}"
                      for k, name, cut in (("alpha", "α", th.alpha), ("omega", "ω", th.omega), ("cr", "CR", th.cr),
                                           ("ave", "AVE", th.ave)) if pd.notna(r.get(k)) and r[k] < cut]
                probs.append((r["construct"], pb))
            rel += ("Below threshold (α, ω, CR ≥ " + _n(th.alpha, 2, True) + ", AVE ≥ " + _n(th.ave, 2, True) + "): "
                    + "; ".join(f"{cid} ({', '.join(pb)})" for cid, pb in probs) + ".")
            if all(pb and all(p.startswith("AVE") for p in pb) for _, pb in probs):
                rel += (" Only AVE falls short while CR is adequate: by Fornell and Larcker's (1981) own argument "
                        "convergent validity is then still acceptable.")
        else:
            rel += f"Every construct meets α, ω and CR ≥ {_n(th.alpha, 2, True)} and AVE ≥ {_n(th.ave, 2, True)}."
    else:
        rel = "**Reliability and convergent validity.** No construct has more than one item."
    if single:
        rel += (f" {_list(single)}: single item, so no α, ω, CR or AVE; "
                + ("its reliability is" if len(single) == 1 else "their reliabilities are")
                + " assumed through the fixed error variance, not estimated.")
    out["reliability"] = rel

    d = report.discriminant
    disc = "**Discriminant validity.** "
    if len(d) == 0:
        disc += "Not assessed (fewer than two first-order constructs)."
    else:
        if fl["fornell_larcker"]:
            disc += ("Fornell-Larcker is violated for " + ", ".join(fl["fornell_larcker"]) +
                     " (their latent correlation exceeds a √AVE)")
        else:
            disc += "Every √AVE exceeds the construct's correlations with the others (Fornell-Larcker met)"
        dh = d.dropna(subset=["htmt"])
        if len(dh):
            top = dh.loc[dh.htmt.idxmax()]
            disc += (f"; the largest HTMT is {_n(top.htmt, 2)} ({top.construct_1}-{top.construct_2})"
                     + (f", and {len(fl['htmt'])} pair(s) reach the {_n(th.htmt, 2, True)} cut-off: "
                        + ", ".join(fl["htmt"]) if fl["htmt"] else f", below the {_n(th.htmt, 2, True)} cut-off"))
        disc += "."
        if fl["fornell_larcker"] and not fl["htmt"]:
            disc += (" HTMT, the more sensitive criterion (Henseler et al., 2015), does not confirm the "
                     "problem; theoretically close constructs often fail Fornell-Larcker narrowly.")
    out["discriminant"] = disc

    if report.harman is not None:
        h = report.harman
        cm = (f"**Common-method variance.** The first unrotated factor explains "
              f"{_pct(100 * h.first_factor_share)} of the item variance "
              + ("(more than " if h.flag else "(below ") + f"{_pct(100 * h.threshold, 0)})")
        if h.comparison is not None:
            cm += (f", and a single-factor CFA fits far worse than the measurement model ({h.comparison.apa()}, "
                   f"ΔCFI = {h.comparison.delta_cfi:+.3f})" if h.comparison.pvalue < 0.05 else
                   f"; a single-factor CFA does not fit significantly worse ({h.comparison.apa()})")
        cm += (": a single method factor does not dominate the data (Harman's test is a weak check, "
               "though: it rules out only gross common-method bias)." if not h.flag and
               (h.comparison is None or h.comparison.pvalue < 0.05) else
               ": common-method variance may inflate the relations; consider a marker variable or a "
               "method factor.")
        out["method"] = cm
    else:
        out["method"] = "**Common-method variance.** Not assessed."

    n_bad = sum(len(v) for v in fl.values())
    out["verdict"] = "**Verdict.** " + ("The measurement model passes every check." if report.ok else
                                         f"{n_bad} check(s) fall short (see above); read the structural results "
                                         "with that in mind.")
    return Narrative("\n\n".join(out[p] for p in wanted))


# =========================================================================== hypotheses and mediation
def describe_hypotheses(table: pd.DataFrame, ci: str = "95% CI", alpha: float | None = None) -> Narrative:
    """How many hypotheses are supported, then one line per hypothesis: β, B, p, CI, verdict.

    Parameters
    ----------
    table : pandas.DataFrame
        :func:`crm_research.hypotheses.hypothesis_table` (``hypothesis, path, expected,
        std.all, est, pvalue, ci.lower, ci.upper, supported, verdict``).
    ci : str
        How the intervals were made (:func:`ci_label`).
    alpha : float, optional
        Significance level, for the sentence.

    Returns
    -------
    Narrative

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"hypothesis": ["P1"], "path": ["X → Y"], "expected": ["+"], "std.all": [0.41],
    ...                   "est": [0.5], "pvalue": [1e-6], "ci.lower": [0.3], "ci.upper": [0.7],
    ...                   "supported": [True], "verdict": ["supported"]})
    >>> print(describe_hypotheses(t, "95% normal-theory CI", 0.05))
    1 of 1 hypotheses is supported at α = .05 (a hypothesis is supported when its path is significant and has the expected sign).
    <BLANKLINE>
    - **P1** (X → Y, expected positive): β = .41, B = 0.50, p < .001, 95% normal-theory CI of B [0.30, 0.70] → **supported**.
    """
    lines = []
    for d in table.to_dict("records"):
        sign = "positive" if d["expected"] == "+" else "negative"
        lines.append(f"- **{d['hypothesis']}** ({d['path']}, expected {sign}): β = {_n(d['std.all'], 2, True)}, "
                     f"B = {_n(d['est'])}, {_p(d['pvalue'])}, {ci} of B {_ci(d['ci.lower'], d['ci.upper'])} "
                     f"→ **{d['verdict']}**.")
    n_sup = int(table.supported.sum())
    at = f" at α = {_n(alpha, 2, True)}" if alpha is not None else ""
    head = (f"{n_sup} of {len(table)} hypotheses {'is' if n_sup == 1 else 'are'} supported{at} (a hypothesis is "
            "supported when its path is significant and has the expected sign).")
    return Narrative(head + "\n\n" + "\n".join(lines))


_ZLC = {"indirect-only": "only the indirect effect is significant",
        "complementary": "indirect and direct effects are significant and point the same way",
        "competitive": "indirect and direct effects are significant but point in opposite ways",
        "direct-only": "only the direct effect is significant",
        "no-effect": "neither effect is significant"}


def describe_mediation(test: Any) -> Narrative:
    """Indirect effects, their CIs and the mediation verdicts (Zhao, Lynch & Chen, 2010).

    Parameters
    ----------
    test : HypothesisTest
        :func:`crm_research.hypotheses.test_model` of a model with indirect effects.

    Returns
    -------
    Narrative
        One line per indirect effect and per mediation verdict.

    Examples
    --------
    >>> import pandas as pd
    >>> from crm_research.instruments import load_instrument
    >>> from crm_research.hypotheses import test_model
    >>> t = test_model(pd.read_csv("tests/reference/lavaan/HolzingerSwineford1939.csv"), load_instrument("tests/reference/lavaan/hs_abilities.yaml"), "mediated",
    ...                missing="listwise")
    >>> print(describe_mediation(t))  # doctest: +ELLIPSIS
    - **VIS → TXT → SPD**: indirect effect 0.087 (standardized .072), 95% normal-theory CI [0.014, 0.159], which excludes 0: ...
    - With the direct path VIS → SPD added ... → **full mediation** (...).
    """
    res = test.results["model"]
    ind = test.indirect[test.indirect.kind == "indirect"] if "kind" in test.indirect.columns else test.indirect
    if not len(ind):
        return Narrative("The model has no indirect effect.")
    lines = []
    for r in ind.to_dict("records"):
        sig = "excludes 0: the indirect effect is significant" if r["significant"] else \
            "includes 0: no evidence of an indirect effect"
        lines.append(f"- **{r['path']}**: indirect effect {_n(r['est'], 3)} (standardized {_n(r['std.all'], 3, True)}), "
                     f"{ci_label(res)} {_ci(r['ci.lower'], r['ci.upper'], 3)}, which {sig}.")
    med = test.mediation
    res_p = test.results.get("partial")
    for r in med.to_dict("records"):
        if math.isnan(r["direct"]):
            lines.append(f"- {r['path']}: {r['verdict']}.")
            continue
        x, y = r["path"].split(" → ")[0], r["path"].split(" → ")[-1]
        sig = "excludes" if r["indirect.significant"] else "includes"
        lines.append(f"- With the direct path {x} → {y} added (partial-mediation model) the indirect effect is "
                     f"{_n(r['indirect'], 3)}, CI {_ci(r['indirect.ci.lower'], r['indirect.ci.upper'], 3)} ({sig} 0), "
                     f"and the direct effect {_n(r['direct'], 3)} ({_p(r['direct.pvalue'])}) → **{r['verdict']}** "
                     "(Zhao, Lynch & Chen, 2010: " + _ZLC.get(r["type"], str(r["type"])) + ").")
    if res_p is not None and len(ind) and len(med):
        full_sig = dict(zip(ind.path, ind.significant))
        for r in med.to_dict("records"):
            if full_sig.get(r["path"]) is not None and bool(full_sig[r["path"]]) != bool(r["indirect.significant"]):
                lines.append(f"- Note: for {r['path']} the two models disagree on whether the indirect effect's "
                             "interval excludes 0, so the evidence for this indirect effect is borderline.")
    return Narrative("\n".join(lines))


def describe_comparison(comp: Any, indirect: Iterable[Mapping[str, str]] = ()) -> Narrative:
    """Full vs partial mediation: the chi-square difference test, ΔCFI and information criteria.

    Parameters
    ----------
    comp : ModelComparison or None
        ``names`` = (restricted, full).
    indirect : list of dict
        The model's declared indirect effects (``from``, ``via``, ``to``), for the conclusion.

    Returns
    -------
    Narrative

    Examples
    --------
    >>> import pandas as pd
    >>> from crm_research.instruments import load_instrument
    >>> from crm_research.hypotheses import test_model
    >>> abil = load_instrument("tests/reference/lavaan/hs_abilities.yaml")
    >>> t = test_model(pd.read_csv("tests/reference/lavaan/HolzingerSwineford1939.csv"), abil, "mediated", missing="listwise")
    >>> print(describe_comparison(t.comparison, abil.models["mediated"].indirect))  # doctest: +ELLIPSIS
    Comparing the full mediation model (restricted) with the partial mediation model: Δχ²(1) = 0.00, p = .947 ... **Preferred: full mediation** ...
    >>> describe_comparison(None)
    No alternative model was compared.
    """
    if comp is None:
        return Narrative("No alternative model was compared.")
    r_name, f_name = _comparison_names(comp)
    better = preferred_model(comp)
    crit = [f"{comp.apa()} ({'significant' if comp.pvalue < comp.alpha else 'not significant'} at "
            f"α = {_n(comp.alpha, 2, True)})",
            f"ΔCFI{' (of the standard CFIs)' if getattr(comp, 'method', 'standard') != 'standard' else ''} = "
            f"{comp.delta_cfi:+.3f} ({'a loss larger than .01' if comp.delta_cfi < -0.01 else 'within .01'})",
            f"ΔAIC = {comp.delta_aic:+.1f} (favours {r_name if comp.delta_aic < 0 else f_name})",
            f"ΔBIC = {comp.delta_bic:+.1f} (favours {r_name if comp.delta_bic < 0 else f_name})"]
    agree = sum([True, (comp.delta_aic > 0) == (better == f_name), (comp.delta_bic > 0) == (better == f_name)])
    txt = (f"Comparing the {r_name} model (restricted) with the {f_name} model: "
           + "; ".join(crit) + f". Differences are {r_name} minus {f_name}. "
           f"**Preferred: {better}** ({agree} of 3 criteria agree).")
    ind = list(indirect)
    if ind:
        direct = _list([f"{i['from']} → {i['to']}" for i in ind])
        carried = _list([f"{i['via']} carries the effect of {i['from']} on {i['to']}" for i in ind], sep="; ")
        if better == r_name:
            txt += f" The direct path{'s' if len(ind) > 1 else ''} {direct} add{'' if len(ind) > 1 else 's'} nothing the data need: {carried}."
        else:
            txt += (f" The direct path{'s are' if len(ind) > 1 else ' is'} needed: the mediator carries only part "
                    f"of the effect ({direct}).")
    return Narrative(txt)


def describe_relative_effects(table: pd.DataFrame, result: Any = None) -> Narrative:
    """Which predictor matters more, judged by the CI of the difference of standardized effects.

    Parameters
    ----------
    table : pandas.DataFrame
        :func:`crm_research.hypotheses.relative_effects` (``effect, kind, outcome,
        predictor, other, mediator, description, est, ci.lower, ci.upper, significant``).
    result : SEMResult, optional
        The fit, for the kind of interval (:func:`ci_label`).

    Returns
    -------
    Narrative

    Examples
    --------
    >>> import pandas as pd
    >>> from crm_research.instruments import load_instrument
    >>> from crm_research.hypotheses import test_model
    >>> t = test_model(pd.read_csv("tests/reference/lavaan/HolzingerSwineford1939.csv"), load_instrument("tests/reference/lavaan/hs_abilities.yaml"), "both",
    ...                missing="listwise")
    >>> print(describe_relative_effects(t.relative_effects, t.results["model"]))  # doctest: +ELLIPSIS
    - Standardized paths to SPD: VIS β = −.01, TXT β = .16. The difference VIS − TXT = −.16, 95% normal-theory CI [−.43, .10]: ... **do not tell which is stronger** ...
    """
    if table.empty:
        return Narrative("No relative effects were estimated.")
    ci = ci_label(result) if result is not None else "95% CI"
    paths = table[table.kind == "path"]

    def beta(y: str, x: str) -> float:
        hit = paths[(paths.outcome == y) & (paths.predictor == x)]
        return float(hit.est.iloc[0]) if len(hit) else float("nan")

    lines = []
    for r in table[table.kind == "path difference"].to_dict("records"):
        y, a, b = r["outcome"], r["predictor"], r["other"]
        ba, bb = beta(y, a), beta(y, b)
        big = a if ba >= bb else b
        lines.append(f"- Standardized paths to {y}: {a} β = {_n(ba, 2, True)}, {b} β = {_n(bb, 2, True)}. "
                     f"The difference {a} − {b} = {_n(r['est'], 2, True)}, {ci} "
                     f"{_ci(r['ci.lower'], r['ci.upper'], 2, True)}"
                     + (f": **{big} has the stronger effect on {y}**." if r["significant"] else
                        f": the interval includes 0, so the data **do not tell which is stronger** "
                        f"({big}'s larger point estimate may be chance)."))
    for r in table[table.kind == "indirect difference"].to_dict("records"):
        lines.append(f"- The standardized indirect effects of {r['predictor']} and {r['other']} on {r['outcome']} "
                     f"through {r['mediator']} differ by {_n(r['est'], 3, True)}, {ci} "
                     f"{_ci(r['ci.lower'], r['ci.upper'], 3, True)}"
                     + (": a reliable difference." if r["significant"] else
                        ": the interval includes 0, no reliable difference."))
    if not lines and len(paths):
        lines.append("- " + "; ".join(f"{r.description}: β = {_n(r.est, 2, True)}" for r in paths.itertuples()))
    return Narrative("\n".join(lines))


def describe_alone_vs_together(table: pd.DataFrame, result: Any = None) -> Narrative:
    """Why predictors' paths shrink when they compete for the same outcome.

    Parameters
    ----------
    table : pandas.DataFrame
        :func:`crm_research.hypotheses.alone_vs_together` (``outcome, predictor,
        beta_alone, beta_together, change``).
    result : SEMResult, optional
        The joint model's fit, whose standardized covariances of the predictors are quoted.

    Returns
    -------
    Narrative

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"outcome": ["Y", "Y"], "predictor": ["A", "B"], "beta_alone": [0.5, 0.4],
    ...                   "beta_together": [0.35, 0.2], "change": [-0.15, -0.2]})
    >>> print(describe_alone_vs_together(t))  # doctest: +ELLIPSIS
    A → Y: β = .50 alone, .35 together; B → Y: β = .40 alone, .20 together. Each path shrinks once the other predictors are in the model: ...
    """
    if table.empty:
        return Narrative("")
    xs = list(dict.fromkeys(table.predictor))
    r_txt = ""
    if result is not None:
        est = getattr(result, "estimates", result)
        cov = est[(est.op == "~~") & est.lhs.isin(xs) & est.rhs.isin(xs) & (est.lhs != est.rhs)]
        if len(cov):
            r_txt = ("The predictors correlate " + ", ".join(
                f"r({c.lhs}, {c.rhs}) = {_n(float(c.std_all), 2, True)}"
                for c in cov.rename(columns={"std.all": "std_all"}).itertuples()) + ". ")
    bits = [f"{r.predictor} → {r.outcome}: β = {_n(r.beta_alone, 2, True)} alone, "
            f"{_n(r.beta_together, 2, True)} together" for r in table.itertuples()]
    txt = "; ".join(bits) + ". " + r_txt
    outcomes = _list(list(dict.fromkeys(table.outcome)))
    if bool((table.change < 0).all()):
        txt += (f"Each path shrinks once the other predictors are in the model: alone, a predictor also carries the "
                f"part of {outcomes} it shares with them. The joint model separates the unique contributions, "
                "which is what \"relative effect\" means.")
    else:
        txt += "The paths do not all shrink together; check for suppression (a path growing or changing sign)."
    return Narrative(txt)


def describe_recovery(table: pd.DataFrame, instrument: Any = None) -> Narrative:
    """How close the estimates come to the population values (simulated samples).

    Parameters
    ----------
    table : pandas.DataFrame
        :func:`crm_research.hypotheses.compare_with_population` (``lhs, op, rhs,
        population, est, difference``).
    instrument : Instrument, optional
        Gives the items' numbers of answer categories.

    Returns
    -------
    Narrative

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"lhs": ["Y", "F", "F"], "op": ["~", "=~", "=~"], "rhs": ["X", "i1", "i2"],
    ...                   "population": [0.5, 0.8, 0.7], "est": [0.47, 0.74, 0.66], "difference": [-0.03, -0.06, -0.04]})
    >>> print(describe_recovery(t))  # doctest: +ELLIPSIS
    Structural paths (estimate vs population): X → Y .47 vs .50. Item loadings deviate from their population values by −0.050 on average ...
    """
    if table.empty:
        return Narrative("")
    parts = []
    reg = table[table.op == "~"]
    if len(reg):
        parts.append("Structural paths (estimate vs population): " + "; ".join(
            f"{r.rhs} → {r.lhs} {_n(r.est, 2, True)} vs {_n(r.population, 2, True)}" for r in reg.itertuples()) + ".")
    ld = table[table.op == "=~"]
    if len(ld):
        items = ld[~ld.rhs.isin(set(table.lhs))]
        if len(items):
            cats = "a few answer categories"
            if instrument is not None:
                pts = sorted({instrument.scale_of(i).points for i in items.rhs if i in instrument.item_ids})
                if pts:
                    cats = f"{_list([str(p) for p in pts], 'or')} answer categories"
            parts.append(f"Item loadings deviate from their population values by {_n(items.difference.mean(), 3)} "
                         f"on average (the population loadings describe continuous responses; cutting them into "
                         f"{cats} attenuates correlations, so estimated loadings tend to be lower).")
    return Narrative(" ".join(parts))


# =========================================================================== group comparison
def describe_groups(split: Any) -> Narrative:
    """The groups a multiple-group analysis compares, those left out, and caveats.

    Parameters
    ----------
    split : GroupSplit
        :func:`crm_research.study.split_groups`.

    Returns
    -------
    Narrative

    Examples
    --------
    >>> from crm_research.study import load_study_sample
    >>> s = load_study_sample(None, "surveys/ecommerce_crm.yaml", "surveys/ecommerce_crm_population.yaml",
    ...                       n=200, seed=1)
    >>> from crm_research.study import split_groups
    >>> print(describe_groups(split_groups(s, "gender", "ops", min_group_n=20)))  # doctest: +ELLIPSIS
    The analysis compares **2 groups** of `gender`: Female (n = 94), Male (n = 65), 159 respondents in all. Left out for fewer than 20 usable respondents: Prefer not to say (n = 4). ...
    """
    used = split.sizes[split.sizes["analysed"]]
    left = split.sizes[~split.sizes["analysed"]]
    text = (f"The analysis compares **{len(used)} groups** of `{split.column}`: "
            + ", ".join(f"{g} (n = {c:,})" for g, c in zip(used["group"], used["usable"]))
            + f", {len(split.data):,} respondents in all.")
    if len(left):
        text += (f" Left out for fewer than {split.min_group_n} usable respondents: "
                 + ", ".join(f"{g} (n = {c})" for g, c in zip(left["group"], left["usable"])) + ".")
    if split.n_unknown:
        text += f" {split.n_unknown} respondent(s) did not answer `{split.source}` and cannot be assigned to a group."
    if len(used) and used["usable"].min() < 100:
        text += " At least one group has fewer than 100 respondents: read the fit-index changes below with caution."
    return Narrative(text)


_LEVELS = ("configural", "metric", "scalar", "strict")


def describe_invariance(inv: Any) -> Narrative:
    """The highest level of measurement invariance the data support and what it allows.

    Parameters
    ----------
    inv : InvarianceResult
        :func:`crm_research.invariance.measurement_invariance`.

    Returns
    -------
    Narrative

    Examples
    --------
    >>> import pandas as pd
    >>> from crm_research.invariance import measurement_invariance
    >>> inv = measurement_invariance("visual =~ x1 + x2 + x3\\ntextual =~ x4 + x5 + x6",
    ...                              pd.read_csv("tests/reference/lavaan/HolzingerSwineford1939.csv"), "school", missing="listwise")
    >>> print(describe_invariance(inv))  # doctest: +ELLIPSIS
    The highest level of invariance the data support is **metric**. The scalar step fails (ΔCFI = -0.033, ΔRMSEA = +0.026). ...
    """
    top = inv.highest
    est = getattr(inv, "estimation", "ML") or "ML"
    lead = "" if est == "ML" or top is None else (
        f"Estimation: {est}; every step is judged by the robust (or scaled) CFI and RMSEA and tested by the "
        "scaled χ² difference. ")
    if top is None:
        return Narrative("**Even the configural model is not acceptable**: the factor structure does not hold (or "
                         "fit) in every group, so the groups cannot be compared on this model.")
    rows = inv.table.set_index("step")
    text = lead + f"The highest level of invariance the data support is **{top}**. "
    failed = [s for s in _LEVELS[_LEVELS.index(top) + 1:] if s in rows.index]
    if failed:
        r = rows.loc[failed[0]]
        rk = getattr(inv, "reported", None) or {}
        d_cfi = "ΔCFI" if rk.get("cfi", "cfi") == "cfi" else f"Δ({measure_label(rk['cfi'])})"
        d_rmsea = "ΔRMSEA" if rk.get("rmsea", "rmsea") == "rmsea" else f"Δ({measure_label(rk['rmsea'])})"
        text += f"The {failed[0]} step fails ({d_cfi} = {r['delta.cfi']:+.3f}, {d_rmsea} = {r['delta.rmsea']:+.3f}). "
    if _LEVELS.index(top) >= 1:
        text += "Loadings are equal across groups, so the structural paths below can be compared directly"
        text += (" and, with equal intercepts, so could the construct means." if _LEVELS.index(top) >= 2 else
                 "; construct means should not be compared (unequal intercepts).")
    else:
        text += ("Loadings differ between groups: the paths below are compared on the configural model, and a "
                 "difference may reflect how the groups read the items rather than how the constructs relate.")
    return Narrative(text)


def describe_path_comparison(paths: pd.DataFrame, labels: Sequence[str], alpha: float, level: str) -> Narrative:
    """Which structural paths differ across groups (Holm-adjusted), one line per path.

    Parameters
    ----------
    paths : pandas.DataFrame
        :func:`crm_research.invariance.compare_paths`.
    labels : sequence of str
        The group labels.
    alpha : float
        Significance level of the Holm-adjusted p values.
    level : {"metric", "configural"}
        The measurement constraints kept.

    Returns
    -------
    Narrative

    Examples
    --------
    >>> import pandas as pd
    >>> from crm_research.instruments import load_instrument
    >>> from crm_research.invariance import compare_paths
    >>> paths = compare_paths("both", pd.read_csv("tests/reference/lavaan/HolzingerSwineford1939.csv"), "school",
    ...                       instrument=load_instrument("tests/reference/lavaan/hs_abilities.yaml"), missing="listwise")
    >>> print(describe_path_comparison(paths, ["Pasteur", "Grant-White"], 0.05, "metric"))  # doctest: +ELLIPSIS
    **No path differs significantly** between the groups (all Holm-adjusted p ≥ .05): ...
    * **Ha (TXT ~ VIS)**: β = .48 among Pasteur, β = .54 among Grant-White; ...
    """
    lines = []
    for r in paths.to_dict("records"):
        betas = ", ".join(f"β = {_n(r[f'std.all.{g}'], 2, True)} among {g}" for g in labels)
        name = f"{r['hypothesis']} ({r['path']})" if r["hypothesis"] else r["path"]
        lines.append(f"* **{name}**: {betas}; {r['verdict']}.")
    differ = paths[paths["pvalue.adj"] < alpha]
    if len(differ):
        summary = ("**The groups differ** in " + ", ".join(differ["hypothesis"].where(differ["hypothesis"] != "",
                                                                                      differ["path"]))
                   + f" (Holm-adjusted p < {_n(alpha, 2, True)}): a single-sample estimate averages over groups in which the "
                   "effect is not the same, and conclusions should be drawn per group.")
    else:
        summary = (f"**No path differs significantly** between the groups (all Holm-adjusted p ≥ {_n(alpha, 2, True)}): the "
                   "paths hold alike for these groups, within the precision this sample allows.")
    if level == "configural":
        summary += " Metric invariance is not supported, so these comparisons are tentative."
    return Narrative(summary + "\n\n" + "\n".join(lines))

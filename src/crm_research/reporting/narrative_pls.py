"""Sentences about a PLS-SEM model, written from a run's numbers (the PLS model notebook).

The thresholds are the ones PLS papers cite (Hair, Risher, Sarstedt & Ringle 2019, "When to use
and how to report the results of PLS-SEM", European Business Review 31(1)): indicator loadings
of at least .708; Cronbach's α, ρ_A and composite reliability ρ_c of at least .70 (above .95
suggests redundant items); AVE of at least .50; HTMT below .85 for conceptually distinct
constructs (.90 for similar ones; Henseler, Ringle & Sarstedt 2015). Nothing here knows an
instrument's constructs: names come from the tables.

Examples
--------
>>> import pandas as pd
>>> rel = pd.DataFrame({"construct": ["A", "B"], "mode": ["reflective"] * 2, "items": [3, 3],
...                     "alpha": [0.81, 0.77], "rho_a": [0.82, 0.78], "rho_c": [0.89, 0.86], "ave": [0.72, 0.55]})
>>> print(describe_reliability(rel))
Internal consistency: Cronbach's α from .77 to .81, ρ_A from .78 to .82 and composite reliability ρ_c from .86 to .89; all within .70 to .95. Convergent validity: every AVE is at least .50 (lowest .55, B).
"""
from __future__ import annotations

from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from .display import Narrative
from .format import format_ci, format_number

__all__ = ["LOADING_MIN", "RELIABILITY_RANGE", "AVE_MIN", "HTMT_MAX", "SRMR_MAX", "ci_label", "describe_pls_estimation",
           "describe_loadings", "describe_reliability", "describe_htmt", "describe_pls_hypotheses", "describe_pls_fit",
           "describe_second_order", "describe_effect_sizes"]

LOADING_MIN = 0.708
RELIABILITY_RANGE = (0.70, 0.95)
AVE_MIN = 0.50
HTMT_MAX = (0.85, 0.90)
SRMR_MAX = 0.08


def _b(x: Any, d: int = 2) -> str:
    return format_number(x, d, bounded=True)


def _list(words: Sequence[str]) -> str:
    words = list(words)
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + " and " + words[-1]


def ci_label(test: Any) -> str:
    """How the PLS intervals were made, e.g. ``95% bootstrap percentile CI (R = 1,000)``.

    Parameters
    ----------
    test : PLSModelTest
        :func:`crm_research.methods.test_pls_model` (its ``settings`` and ``alpha``).

    Returns
    -------
    str

    Examples
    --------
    >>> from types import SimpleNamespace as NS
    >>> ci_label(NS(settings={"bootstrap": 1000, "boot_ci": "perc"}, alpha=0.05))
    '95% bootstrap percentile CI (R = 1,000)'
    >>> ci_label(NS(settings={"bootstrap": 0}, alpha=0.05))
    'no intervals (no bootstrap)'
    """
    s = dict(getattr(test, "settings", {}) or {})
    B = int(s.get("bootstrap") or 0)
    if not B:
        return "no intervals (no bootstrap)"
    kind = {"perc": "percentile", "bca": "BCa"}.get(str(s.get("boot_ci", "perc")), str(s.get("boot_ci")))
    return f"{100 * (1 - float(getattr(test, 'alpha', 0.05))):g}% bootstrap {kind} CI (R = {B:,})"


def describe_pls_estimation(test: Any) -> Narrative:
    """How the PLS model was estimated: scheme, modes, higher-order constructs, N, convergence,
    bootstrap.

    Parameters
    ----------
    test : PLSModelTest
        :func:`crm_research.methods.test_pls_model`.

    Returns
    -------
    Narrative

    Examples
    --------
    >>> from types import SimpleNamespace as NS
    >>> m = NS(constructs=("X", "Y"), modes={"X": "A", "Y": "A"}, higher_order={})
    >>> res = NS(model=m, nobs=240, iterations=4, estimates=NS(converged=True))
    >>> t = NS(result=res, model="m1", settings=dict(scheme="path", consistent=False, bootstrap=500,
    ...        higher_order="repeated_indicators", boot_ci="perc"), hypotheses=None, alpha=0.05)
    >>> print(describe_pls_estimation(t))
    Model `m1` was estimated by PLS-SEM (the PLS path-modelling algorithm as SmartPLS computes it) with the path weighting scheme; every construct is reflective (mode A weights). N = 240 respondents with complete answers to the model's items; the algorithm converged after 4 iterations. Standard errors and 95% percentile intervals come from 500 bootstrap resamples.
    """
    res, s = test.result, dict(test.settings)
    m = res.model
    modes = dict(getattr(m, "modes", {}) or {})
    comp = [c for c in m.constructs if modes.get(c) == "B"]
    parts = [f"Model `{test.model}` was estimated by "
             + ("consistent PLS (PLSc, which corrects the paths between reflective constructs for measurement "
                "error)" if s.get("consistent") else "PLS-SEM (the PLS path-modelling algorithm as SmartPLS computes it)")
             + f" with the {s.get('scheme', 'path')} weighting scheme; "
             + (f"{_list(comp)} {'is a composite' if len(comp) == 1 else 'are composites'} (mode B weights), "
                "the other constructs reflective (mode A)." if comp
                else "every construct is reflective (mode A weights).")]
    higher = dict(getattr(test, "second_order", None) or getattr(m, "higher_order", {}) or {})
    if higher:
        how = {"two_stage": "in two stages (disjoint: the dimensions' first-stage scores measure it)",
               "embedded_two_stage": "in two stages (embedded: the dimensions' scores from a first stage with "
                                     "repeated indicators measure it)"}.get(
            str(s.get("higher_order")), "by repeated indicators (all items of its dimensions measure it)")
        parts.append(" ".join(f"Second-order construct {h} ({', '.join(d)}) was estimated {how}."
                              for h, d in higher.items()))
    conv = bool(getattr(getattr(res, "estimates", None), "converged", True))
    it = int(getattr(res, "iterations", 0) or 0)
    parts.append(f"N = {int(res.nobs):,} respondents with complete answers to the model's items; "
                 + (f"the algorithm converged after {it} iterations." if conv
                    else f"**the algorithm did not converge** within {it} iterations: read the estimates with care."))
    B = int(s.get("bootstrap") or 0)
    lvl = 100 * (1 - float(getattr(test, "alpha", 0.05)))
    kind = {"perc": "percentile", "bca": "BCa"}.get(str(s.get("boot_ci", "perc")), str(s.get("boot_ci")))
    parts.append(f"Standard errors and {lvl:g}% {kind} intervals come from {B:,} bootstrap resamples." if B
                 else "No bootstrap was run, so the paths have no standard errors or intervals and the "
                      "hypotheses are not tested (set `bootstrap`; PLS papers report 5,000 resamples).")
    return Narrative(" ".join(parts))


def describe_loadings(loadings: pd.DataFrame, exclude: Iterable[str] = ()) -> Narrative:
    """Indicator reliability: which loadings of reflective constructs fall below .708.

    Parameters
    ----------
    loadings : DataFrame
        ``lhs`` construct, ``op`` (``=~`` reflective, ``<~`` composite), ``rhs`` item, ``est``.
    exclude : iterable of str
        Constructs to leave out (e.g. second-order constructs measured by repeated indicators).

    Returns
    -------
    Narrative

    Examples
    --------
    >>> import pandas as pd
    >>> L = pd.DataFrame({"lhs": ["A", "A", "B"], "op": ["=~", "=~", "=~"], "rhs": ["a1", "a2", "b1"],
    ...                   "est": [0.85, 0.64, 1.0]})
    >>> print(describe_loadings(L))
    Indicator reliability: 1 of 2 loadings of multi-item reflective constructs is below .708: a2 (.64, A). Hair et al. (2019) keep an item loading between .40 and .708 when dropping it does not raise the construct's reliability or AVE.
    """
    skip = set(exclude)
    L = loadings[(loadings["op"] == "=~") & ~loadings["lhs"].isin(skip)]
    sizes = L.groupby("lhs")["rhs"].transform("size")
    L = L[sizes > 1]
    if L.empty:
        return Narrative("")
    low = L[L["est"] < LOADING_MIN]
    if low.empty:
        return Narrative(f"Indicator reliability: all {len(L)} loadings of multi-item reflective constructs are "
                         f"at least .708 (lowest {_b(L['est'].min())}, {L.loc[L['est'].idxmin(), 'rhs']}).")
    items = [f"{r.rhs} ({_b(r.est)}, {r.lhs})" for r in low.itertuples(index=False)]
    verb = "is" if len(low) == 1 else "are"
    return Narrative(f"Indicator reliability: {len(low)} of {len(L)} loadings of multi-item reflective constructs "
                     f"{verb} below .708: {_list(items)}. Hair et al. (2019) keep an item loading between .40 and "
                     ".708 when dropping it does not raise the construct's reliability or AVE.")


def describe_reliability(reliability: pd.DataFrame, exclude: Iterable[str] = (),
                         single_items: Sequence[str] = ()) -> Narrative:
    """Internal consistency (α, ρ_A, ρ_c within .70-.95) and convergent validity (AVE ≥ .50) of
    the multi-item reflective constructs.

    Parameters
    ----------
    reliability : DataFrame
        ``construct, mode, items, alpha, rho_a, rho_c, ave``.
    exclude : iterable of str
        Constructs to leave out.
    single_items : sequence of str
        Single-item constructs (named as having no reliability to assess).

    Returns
    -------
    Narrative

    Examples
    --------
    >>> import pandas as pd
    >>> rel = pd.DataFrame({"construct": ["A", "B"], "mode": ["reflective"] * 2, "items": [3, 4],
    ...                     "alpha": [0.66, 0.97], "rho_a": [0.71, 0.97], "rho_c": [0.80, 0.98], "ave": [0.45, 0.9]})
    >>> print(describe_reliability(rel, single_items=["C"]))  # doctest: +NORMALIZE_WHITESPACE
    Internal consistency: Cronbach's α from .66 to .97, ρ_A from .71 to .97 and composite reliability ρ_c from .80 to
    .98; below .70: A (α = .66); above .95 (redundant items?): B (α = .97, ρ_A = .97, ρ_c = .98).
    Convergent validity: AVE below .50 for A (.45): the construct explains less than half of its items' variance.
    C is a single item: reliability 1 by definition, nothing to assess.
    """
    singles = list(single_items)
    note = (f" {_list(singles)} {'is a single item' if len(singles) == 1 else 'are single items'}: "
            "reliability 1 by definition, nothing to assess.") if singles else ""
    R = reliability[~reliability["construct"].isin(set(exclude))]
    if "items" in R.columns:
        R = R[R["items"] > 1]
    if "mode" in R.columns:
        R = R[R["mode"] != "composite"]
    if R.empty:
        return Narrative(note.strip())
    lo, hi = RELIABILITY_RANGE
    names = {"alpha": "Cronbach's α", "rho_a": "ρ_A", "rho_c": "composite reliability ρ_c"}
    ranges = [f"{names[k]} from {_b(R[k].min())} to {_b(R[k].max())}" for k in names]
    def outside(test: Any) -> list[str]:
        """'A (α = .66, ρ_A = .69)' per construct with a value outside the range."""
        out = []
        for r in R.to_dict("records"):
            bad = [f"{names[k].split()[-1]} = {_b(r[k])}" for k in names if test(r[k])]
            if bad:
                out.append(f"{r['construct']} ({', '.join(bad)})")
        return out

    out_low, out_high = outside(lambda v: v < lo), outside(lambda v: v > hi)
    text = "Internal consistency: " + ", ".join(ranges[:-1]) + " and " + ranges[-1] + "; "
    if not out_low and not out_high:
        text += "all within .70 to .95."
    else:
        bits = []
        if out_low:
            bits.append("below .70: " + _list(out_low))
        if out_high:
            bits.append("above .95 (redundant items?): " + _list(out_high))
        text += "; ".join(bits) + "."
    low_ave = R[R["ave"] < AVE_MIN]
    i = R["ave"].idxmin()
    if low_ave.empty:
        text += (f" Convergent validity: every AVE is at least .50 (lowest {_b(R.loc[i, 'ave'])}, "
                 f"{R.loc[i, 'construct']}).")
    else:
        text += (" Convergent validity: AVE below .50 for "
                 + _list([f"{c} ({_b(v)})" for c, v in zip(low_ave["construct"], low_ave["ave"])])
                 + ": the construct explains less than half of its items' variance.")
    return Narrative(text + note)


def describe_htmt(htmt: pd.DataFrame, higher_order: Mapping[str, Sequence[str]] | None = None) -> Narrative:
    """Discriminant validity by the heterotrait-monotrait ratio (HTMT < .85, or .90).

    Parameters
    ----------
    htmt : DataFrame
        ``lhs, rhs, est`` and, with a bootstrap, ``ci.upper`` (or ``q.upper``).
    higher_order : mapping, optional
        Second-order construct -> its dimensions: the pairs of a second-order construct and its
        own dimensions are left out (they share items or are meant to be related).

    Returns
    -------
    Narrative

    Examples
    --------
    >>> import pandas as pd
    >>> H = pd.DataFrame({"lhs": ["B", "C", "C"], "rhs": ["A", "A", "B"], "est": [0.52, 0.88, 0.61]})
    >>> print(describe_htmt(H))
    Discriminant validity (HTMT): 1 of 3 pairs reaches .85: C–A (.88); it stays below .90, the limit for conceptually similar constructs.
    """
    skip = {frozenset((h, d)) for h, dims in dict(higher_order or {}).items() for d in dims}
    H = htmt[[frozenset((a, b)) not in skip for a, b in zip(htmt["lhs"], htmt["rhs"])]]
    if H.empty:
        return Narrative("")
    strict, loose = HTMT_MAX
    hi = H[H["est"] >= strict]
    if hi.empty:
        i = H["est"].idxmax()
        text = (f"Discriminant validity (HTMT): every pair is below .85 (highest {_b(H.loc[i, 'est'])}, "
                f"{H.loc[i, 'lhs']}–{H.loc[i, 'rhs']}).")
    else:
        pairs = [f"{r.lhs}–{r.rhs} ({_b(r.est)})" for r in hi.itertuples(index=False)]
        over = hi[hi["est"] >= loose]
        text = (f"Discriminant validity (HTMT): {len(hi)} of {len(H)} pairs {'reaches' if len(hi) == 1 else 'reach'} "
                f".85: {_list(pairs)}; "
                + ("it stays below .90, the limit for conceptually similar constructs." if over.empty
                   else f"{len(over)} {'is' if len(over) == 1 else 'are'} at or above .90 as well: these constructs "
                        "may not be empirically distinct."))
    up = "q.upper" if "q.upper" in H.columns else "ci.upper" if "ci.upper" in H.columns else None
    if up is not None and H[up].notna().any():
        bad = H[H[up] >= loose]
        text += (" The bootstrap's upper bound stays below .90 for every pair." if bad.empty else
                 " The bootstrap's upper bound reaches .90 for " + _list([f"{a}–{b}" for a, b in zip(bad['lhs'], bad['rhs'])])
                 + ".")
    return Narrative(text)


def describe_pls_hypotheses(table: pd.DataFrame) -> Narrative:
    """One sentence per hypothesis from :func:`crm_research.methods.pls_hypothesis_table`.

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"hypothesis": ["Ha"], "path": ["X → Y"], "est": [0.42], "ci.lower": [0.30],
    ...                   "ci.upper": [0.53], "supported": [True], "verdict": ["supported"]})
    >>> t.attrs["ci.level"] = 0.95
    >>> print(describe_pls_hypotheses(t))
    **Ha** (X → Y) is supported: path = .42, 95% CI [.30, .53].
    """
    lvl = float(table.attrs.get("ci.level", 0.95))
    out = []
    for r in table.to_dict("records"):
        ci = format_ci(r.get("ci.lower"), r.get("ci.upper"), 2, bounded=True)
        est = f"path = {_b(r['est'])}" + (f", {100 * lvl:g}% CI {ci}" if not pd.isna(r.get("ci.lower", np.nan)) else "")
        verdict = str(r["verdict"])
        head = "is supported" if verdict == "supported" else f"is {verdict}" if verdict.startswith("not") else verdict
        out.append(f"**{r['hypothesis']}** ({r['path']}) {head}: {est}.")
    return Narrative(" ".join(out))


def describe_pls_fit(fit_measures: pd.DataFrame) -> Narrative:
    """The PLS model's fit: SRMR against .08 (Henseler et al. 2014) and, when the fit was
    bootstrapped, the exact-fit test (d_ULS and d_G against their HI95 quantiles; Dijkstra &
    Henseler 2015), for the estimated model.

    Parameters
    ----------
    fit_measures : DataFrame
        ``measure`` (srmr, d_uls, d_g), ``model`` (estimated, saturated), ``value`` and
        optionally ``HI95``, ``HI99`` (:attr:`crm_research.pls.PLSResult.fit_measures`).

    Returns
    -------
    Narrative

    Examples
    --------
    >>> import pandas as pd
    >>> fm = pd.DataFrame({"measure": ["srmr", "d_uls", "d_g"], "model": ["estimated"] * 3,
    ...                    "value": [0.056, 0.333, 0.162], "HI95": [0.047, 0.229, 0.169], "HI99": [0.049, 0.254, 0.176]})
    >>> print(describe_pls_fit(fit_measures=fm))
    SRMR = .056 for the estimated model, below .08. Exact fit (bootstrap): d_ULS = 0.333 exceeds its HI95 of 0.229, d_G = 0.162 stays below its HI95 of 0.169; a discrepancy above HI95 rejects exact fit at the 5% level (above HI99: at 1%), a strict test that large samples rarely pass.
    """
    if not isinstance(fit_measures, pd.DataFrame) or fit_measures.empty:
        return Narrative("No fit measures: a model with interaction terms has no model-implied correlation matrix.")
    fm = fit_measures[fit_measures["model"] == "estimated"] if "model" in fit_measures.columns else fit_measures
    rows = {str(r["measure"]): r for r in fm.to_dict("records")}
    parts = []
    if "srmr" in rows:
        v = float(rows["srmr"]["value"])
        parts.append(f"SRMR = {_b(v, 3)} for the estimated model, " + ("below .08." if v < SRMR_MAX
                                                                      else "**at or above .08**: a poor approximate fit."))
    bits = []
    for key, name in (("d_uls", "d_ULS"), ("d_g", "d_G")):
        r = rows.get(key)
        if r is not None and not pd.isna(r.get("HI95", np.nan)):
            v, q = float(r["value"]), float(r["HI95"])
            bits.append(f"{name} = {format_number(v, 3)} " + (f"exceeds its HI95 of {format_number(q, 3)}" if v > q
                                                               else f"stays below its HI95 of {format_number(q, 3)}"))
    if bits:
        parts.append("Exact fit (bootstrap): " + ", ".join(bits) + "; a discrepancy above HI95 rejects exact fit at "
                     "the 5% level (above HI99: at 1%), a strict test that large samples rarely pass.")
    return Narrative(" ".join(parts))


def describe_second_order(paths: pd.DataFrame) -> Narrative:
    """Second-order constructs (repeated indicators): how strongly each dimension reflects its
    second-order construct.

    Parameters
    ----------
    paths : DataFrame
        ``lhs`` second-order construct, ``rhs`` dimension, ``est`` and optionally ``ci.lower``
        (:attr:`crm_research.methods.PLSModelTest.second_order_paths`).

    Returns
    -------
    Narrative

    Examples
    --------
    >>> import pandas as pd
    >>> P = pd.DataFrame({"lhs": ["H", "H"], "op": ["=~", "=~"], "rhs": ["A", "B"], "est": [0.86, 0.64]})
    >>> print(describe_second_order(P))
    Second-order construct H: its dimensions' paths range from .64 (B) to .86 (A); below .708: B.
    """
    if paths is None or paths.empty:
        return Narrative("")
    parts = []
    for h, g in paths.groupby("lhs", sort=False):
        lo, hi = g["est"].idxmin(), g["est"].idxmax()
        text = (f"Second-order construct {h}: its dimensions' paths range from {_b(g.loc[lo, 'est'])} "
                f"({g.loc[lo, 'rhs']}) to {_b(g.loc[hi, 'est'])} ({g.loc[hi, 'rhs']})")
        weak = list(g.loc[g["est"] < LOADING_MIN, "rhs"])
        text += f"; below .708: {_list(weak)}." if weak else ", all at least .708."
        parts.append(text)
    return Narrative(" ".join(parts))


def _f2_size(v: float) -> str:
    return "large" if v >= 0.35 else "medium" if v >= 0.15 else "small" if v >= 0.02 else "negligible"


def describe_effect_sizes(structural: pd.DataFrame) -> Narrative:
    """Each hypothesized predictor's f² in words (Cohen 1988: .02 small, .15 medium, .35 large)
    and the predictors' collinearity (inner VIF: above 3 worth a look, above 5 a problem).

    Parameters
    ----------
    structural : DataFrame
        ``lhs`` outcome, ``rhs`` predictor, ``f2`` and ``vif``
        (:attr:`crm_research.methods.PLSModelTest.structural`).

    Returns
    -------
    Narrative

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"lhs": ["Y", "Y"], "op": ["~", "~"], "rhs": ["A", "B"], "f2": [0.17, 0.01],
    ...                   "vif": [1.2, 3.4]})
    >>> print(describe_effect_sizes(t))
    Effect sizes f²: A → Y .17 (medium), B → Y .01 (negligible). Collinearity: inner VIF above 3 for B → Y (3.40): the predictors of Y overlap.
    """
    if structural is None or structural.empty:
        return Narrative("")
    f2 = [f"{r.rhs} → {r.lhs} {_b(r.f2)} ({_f2_size(r.f2)})" for r in structural.itertuples(index=False)
          if not pd.isna(r.f2)]
    text = ("Effect sizes f²: " + ", ".join(f2) + ".") if f2 else ""
    if "vif" in structural.columns and structural["vif"].notna().any():
        hi = structural[structural["vif"] > 3]
        if hi.empty:
            text += f" Collinearity: every inner VIF is below 3 (highest {format_number(structural['vif'].max(), 2)})."
        else:
            text += (" Collinearity: inner VIF above 3 for "
                     + _list([f"{r.rhs} → {r.lhs} ({format_number(r.vif, 2)})" for r in hi.itertuples(index=False)])
                     + ": the predictors of " + _list(list(dict.fromkeys(hi["lhs"]))) + " overlap"
                     + (" strongly (above 5)." if (hi["vif"] > 5).any() else "."))
    return Narrative(text.strip())

"""Evaluate a case: every strategy x KPI x design, with identification checks and verdicts.

Windows
    For each strategy and KPI the *post* window is the ``window.post`` full periods from the
    start (the period a mid-period start falls in is left out of both windows), the *pre*
    window the ``window.pre`` full periods before it. Windows stop at the data's edges, at the
    strategy's end, and at the start (or end) of any other strategy judged by the same KPI,
    so a window never mixes two strategies' changes.

Designs and what identifies them
    ``before_after``  exposed customers after vs before. Identified only if (1) the KPI had no
                      trend over the pre window (linear trend, SE clustered by customer),
                      (2) the same comparison made one window earlier (the pre window vs the
                      window before it: a placebo in time, as precise as the estimate itself)
                      shows no change, and (3) where the data reach a year back, the same
                      calendar windows one year earlier show no change (placebo: seasonality);
                      each at ``pretrend_alpha``. Otherwise "not identified: pre-existing
                      trend" (or "pre-existing change", "seasonal change") and no causal
                      claim; with none of the checks possible, also not identified.
    ``treated_control`` exposed vs control customers after the start; identified only if the
                      groups did not differ on the KPI in the pre window (same test).
    ``ab_test``       randomized arms after the start; identified unless the arms' sizes
                      contradict the planned ``allocation`` (sample-ratio mismatch,
                      chi-square p < 0.001).
    ``did``           difference-in-differences (:mod:`crm_research.cases.did`); identified
                      unless the treated group's pre-period trend differs from the
                      control's (parallel-trends test).

Multiple testing
    p-values are adjusted across the case's KPIs and strategies within each design
    (``correction``: Holm by default, or Bonferroni, Benjamini-Hochberg) with
    :func:`pingouin.multicomp`; rows that are not identified are not tested.

Verdicts
    ``worked`` (identified, adjusted p < alpha, in the KPI's good direction), ``harmful``
    (identified, adjusted p < alpha, the other way), ``no evidence`` (identified, not
    significant) and ``not identified``.
"""
from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..reporting.format import format_ci, format_number, format_p, html_table
from . import periods as _periods
from .definition import CORRECTIONS, CaseDefinition, Strategy, load_case
from .vocabulary import DESIGN_LABELS, KPIS

RESULT_COLUMNS = [
    "case", "strategy", "stage", "kpi", "kpi_kind", "design", "comparison", "test",
    "n_treated", "n_comparison", "baseline", "value", "est", "ci.lower", "ci.upper", "lift",
    "effect_size", "effect_size_type", "effect_size.ci.lower", "effect_size.ci.upper", "statistic", "pvalue",
    "pvalue.adj", "identified", "verdict", "check", "check.est", "check.pvalue", "note",
    "pre_start", "pre_end", "post_start", "post_end",
]
COMPARISON = {
    "before_after": "exposed customers after vs before the start",
    "treated_control": "exposed vs control customers after the start",
    "ab_test": "treatment vs control arm after the start",
    "did": "(exposed after - before) - (control after - before)",
}


# --------------------------------------------------------------------------- result object
@dataclass
class CaseEvaluation:
    """The evaluation of one case. Build with :func:`evaluate_case`.

    Parameters
    ----------
    case : CaseDefinition
    table : DataFrame
        Tidy results, one row per strategy, KPI and design (:data:`RESULT_COLUMNS`).
    series : DataFrame
        KPI per period for each strategy's exposed and control customers (for figures):
        ``strategy, kpi, group, period, period_start, value, customers``.
    event_study : DataFrame
        Difference-in-differences leads and lags per strategy and KPI.
    data : CaseData
    simulation : CaseSimulation or None
        For simulated cases: the true effects (:meth:`with_truth`).
    settings : dict
        alpha, correction, seed and the other choices made.

    Examples
    --------
    A simulated case whose recommendations raise the click-through rate by 3 points and
    leave dwell time alone:

    >>> from crm_research.cases import example_case
    >>> ev = evaluate_case(example_case())
    >>> ev
    CaseEvaluation('mini': 1 strategies, 4 rows; worked 1, no evidence 1, harmful 0, not identified 0)
    >>> ev.verdicts()
    kpi      click_through_rate   dwell_time
    strategy
    recs                 worked  no evidence
    >>> ev.with_truth()[["kpi", "design", "true_effect", "covered"]]
                      kpi        design  true_effect  covered
    0  click_through_rate           did         0.03     True
    1  click_through_rate  before_after         0.03     True
    2          dwell_time           did         0.00     True
    3          dwell_time  before_after         0.00     True
    >>> list(ev.worked()["kpi"]), ev.table.attrs["p.adjust"]
    (['click_through_rate'], 'holm')
    >>> ev.sentences()[1][:40]
    'dwell time (activity): −0.33 min (95% CI'
    """

    case: CaseDefinition
    table: pd.DataFrame
    series: pd.DataFrame
    event_study: pd.DataFrame
    data: Any = field(repr=False, default=None)
    simulation: Any = field(repr=False, default=None)
    settings: dict = field(default_factory=dict)

    # ---------------------------------------------------------------- views
    def primary(self) -> pd.DataFrame:
        """The rows of each strategy's own design (without the comparison designs).

        Returns
        -------
        DataFrame
            Rows of :attr:`table`.

        Examples
        --------
        >>> from crm_research.cases import example_case
        >>> ev = evaluate_case(example_case())
        >>> ev.primary()[["kpi", "design", "verdict"]]
                          kpi design      verdict
        0  click_through_rate    did       worked
        1          dwell_time    did  no evidence
        """
        prim = {s.id: s.design for s in self.case.strategies}
        t = self.table
        return t[t["design"] == t["strategy"].map(prim)].reset_index(drop=True)

    def verdicts(self, design: str | None = None) -> pd.DataFrame:
        """Strategy x KPI table of verdicts (primary designs unless ``design`` is given).

        Parameters
        ----------
        design : str, optional

        Returns
        -------
        DataFrame
            Index: strategies in the case's order; columns: KPIs; cells: verdicts.

        Examples
        --------
        >>> from crm_research.cases import example_case
        >>> ev = evaluate_case(example_case())
        >>> ev.verdicts("before_after").to_dict("records")
        [{'click_through_rate': 'worked', 'dwell_time': 'no evidence'}]
        """
        t = self.primary() if design is None else self.table[self.table["design"] == design]
        order = [s.id for s in self.case.strategies]
        v = t.pivot(index="strategy", columns="kpi", values="verdict")
        return v.reindex([s for s in order if s in v.index])

    def with_truth(self) -> pd.DataFrame:
        """For simulated cases: the table with ``true_effect``, ``declared_effect`` and ``covered``.

        Returns
        -------
        DataFrame
            :attr:`table` plus the true effect over each row's post window, the effect
            declared in the case file, and whether ``[ci.lower, ci.upper]`` covers the truth.

        Raises
        ------
        ValueError
            For cases that read data files.

        Examples
        --------
        >>> from crm_research.cases import example_case
        >>> ev = evaluate_case(example_case())
        >>> ev.with_truth()[["kpi", "design", "declared_effect", "covered"]].head(2)
                          kpi        design  declared_effect  covered
        0  click_through_rate           did             0.03     True
        1  click_through_rate  before_after             0.03     True
        """
        if self.simulation is None:
            raise ValueError("true effects are known only for simulated cases")
        t = self.table.copy()
        t["true_effect"] = self.simulation.true_effects(t)
        t["declared_effect"] = [self.simulation.spec.declared_effect(s, k) for s, k in zip(t["strategy"], t["kpi"])]
        t["covered"] = (t["ci.lower"] <= t["true_effect"]) & (t["true_effect"] <= t["ci.upper"])
        return t

    def caveats(self) -> list[str]:
        """Plain statements of what the designs cannot show, case-specific first.

        Returns
        -------
        list of str

        Examples
        --------
        >>> from crm_research.cases import example_case
        >>> ev = evaluate_case(example_case())
        >>> ev.caveats()[0].split(":")[0]
        'Before/after comparisons assume that nothing but the strategy changed at its start'
        """
        out = []
        for _, r in self.table[~self.table["identified"]].iterrows():
            out.append(f"{self.case.strategy(r['strategy']).label}, {self.case.kpi(r['kpi']).en} "
                       f"[{DESIGN_LABELS[r['design']]}]: not identified: {r['note']}")
        designs = set(self.table["design"])
        if "before_after" in designs:
            out.append("Before/after comparisons assume that nothing but the strategy changed at its start: no trend, "
                       "no season, no other campaign. The checks (pre-period trend, placebo a year earlier) can reject "
                       "that assumption but never prove it; an identified before/after estimate is weaker evidence than "
                       "one with a control group.")
        if "treated_control" in designs:
            out.append("Treated vs control comparisons without randomization assume the groups would have moved alike; "
                       "balance before the start is necessary, not sufficient.")
        if "did" in designs:
            out.append("Difference-in-differences assumes parallel trends without the strategy (tested on the "
                       "pre-period, where a test can only fail to reject) and that the control customers were "
                       "not reached by the strategy (no spill-over).")
        if "ab_test" in designs:
            out.append("A/B tests identify the effect of the assignment during the test window; effects may fade "
                       "or grow later (novelty), and customers in several tests at once are assumed not to interact.")
        out.append(f"p-values are {self.settings.get('correction')}-adjusted across the KPIs within each design; "
                   "\"no evidence\" is not evidence of no effect: read the confidence interval.")
        return out

    def results_table(self, *, design: str | None = None) -> pd.DataFrame:
        """A readable version of the results: shares in percentage points, the interval as text.

        Parameters
        ----------
        design : str, optional
            Only this design's rows (default: every row).

        Returns
        -------
        DataFrame
            ``Strategy, KPI, Design, Test, Estimate, <level>% CI, Unit, Lift, p (adj.), Verdict``
            (display labels; the numbers stay numbers except the interval).

        Examples
        --------
        >>> from crm_research.cases import example_case
        >>> ev = evaluate_case(example_case())
        >>> ev.results_table(design="did")[["KPI", "95% CI", "Unit", "Verdict"]]
                             KPI         95% CI Unit      Verdict
        0     click-through rate   [1.76, 4.09]   pp       worked
        1  dwell time (activity)  [−0.82, 0.17]  min  no evidence
        """
        t = self.table if design is None else self.table[self.table["design"] == design]
        names = {s.id: s.label for s in self.case.strategies}
        ci_label = f"{_ci_percent(self.table)}% CI"
        rows = []
        for _, r in t.iterrows():
            k = self.case.kpi(r["kpi"])
            rows.append({"Strategy": names.get(r["strategy"], r["strategy"]), "KPI": k.en,
                         "Design": DESIGN_LABELS[r["design"]], "Test": r["test"],
                         "Estimate": r["est"] * k.scale,
                         ci_label: format_ci(r["ci.lower"] * k.scale, r["ci.upper"] * k.scale, 2, missing=""),
                         "Unit": k.difference_unit, "Lift": r["lift"], "p (adj.)": r["pvalue.adj"],
                         "Verdict": r["verdict"]})
        return pd.DataFrame(rows)

    def worked(self) -> pd.DataFrame:
        """Primary-design rows whose verdict is ``worked``.

        Returns
        -------
        DataFrame

        Examples
        --------
        >>> from crm_research.cases import example_case
        >>> ev = evaluate_case(example_case())
        >>> ev.worked()[["strategy", "kpi"]].to_dict("records")
        [{'strategy': 'recs', 'kpi': 'click_through_rate'}]
        """
        p = self.primary()
        return p[p["verdict"] == "worked"].reset_index(drop=True)

    # ---------------------------------------------------------------- text
    def sentences(self, design: str | None = None) -> list[str]:
        """One plain sentence per row: what changed, by how much, and the verdict.

        Parameters
        ----------
        design : str, optional
            This design's rows (default: each strategy's own design).

        Returns
        -------
        list of str

        Examples
        --------
        >>> from crm_research.cases import example_case
        >>> ev = evaluate_case(example_case())
        >>> print(ev.sentences()[0])
        click-through rate: +2.93 pp (95% CI +1.76 pp to +4.09 pp, +47.5% relative; DiD (WLS, period effects, customer-clustered SE), adjusted p < .001): worked
        """
        t = self.primary() if design is None else self.table[self.table["design"] == design]
        return [_sentence(r, self.case, _ci_percent(self.table)) for _, r in t.iterrows()]

    def summary(self) -> str:
        """The evaluation as text: settings, one sentence per row, the verdict counts.

        Returns
        -------
        str

        Examples
        --------
        >>> from crm_research.cases import example_case
        >>> ev = evaluate_case(example_case())
        >>> print(ev.summary().splitlines()[-1])
        Verdicts (own designs): worked 1, no evidence 1, harmful 0, not identified 0
        """
        c = self.case
        s = self.settings
        lines = [f"{c.name('en')}  [{c.id}]",
                 f"{c.subject['kind']}: {c.subject['name'].get('en', '')} ({c.subject['name'].get('zh', '')}); "
                 f"data: {s.get('source', '')}; {c.period}ly periods",
                 f"alpha = {s.get('alpha')}, {s.get('correction')} correction across KPIs within each design",
                 (f"amounts in {c.currency}" if c.currency else
                  "amounts without a currency unit (none given: set currency: in the case file or pass --currency)"),
                 ""]
        for st in c.strategies:
            stage = f" [{st.stage}]" if st.stage else ""
            lines.append(f"{st.name.get('en', st.id)} ({st.name.get('zh', '')}){stage}, from {st.start}, "
                         f"design {DESIGN_LABELS[st.design]}")
            rows = self.table[self.table["strategy"] == st.id]
            for _, r in rows.iterrows():
                tag = "" if r["design"] == st.design else f"  [{DESIGN_LABELS[r['design']]}]"
                lines.append(f"  - {_sentence(r, c, _ci_percent(self.table))}{tag}")
            lines.append("")
        prim = self.primary()
        counts = prim["verdict"].value_counts()
        lines.append("Verdicts (own designs): " + ", ".join(f"{v} {counts.get(v, 0)}" for v in
                                                           ("worked", "no evidence", "harmful", "not identified")))
        return "\n".join(lines)

    def __repr__(self) -> str:
        prim = self.primary()
        counts = prim["verdict"].value_counts()
        return (f"CaseEvaluation({self.case.id!r}: {len(self.case.strategies)} strategies, {len(self.table)} rows; "
                + ", ".join(f"{v} {counts.get(v, 0)}" for v in ("worked", "no evidence", "harmful", "not identified"))
                + ")")

    def _repr_html_(self) -> str:
        c = self.case
        head = (f"<h4 style='margin:4px 0'>{html.escape(c.name('en'))} "
                f"<span style='color:#616e7c;font-weight:400'>{html.escape(c.name('zh'))}</span></h4>")
        t = self.table
        shown = pd.DataFrame({
            "strategy": t["strategy"], "kpi": t["kpi"], "design": t["design"], "test": t["test"],
            "est": [self.case.kpi(k).format(v) for k, v in zip(t["kpi"], t["est"])],
            f"{_ci_percent(t)}% CI": [format_ci(lo * KPIS[k].scale, hi * KPIS[k].scale, 2, missing="")
                                      for k, lo, hi in zip(t["kpi"], t["ci.lower"], t["ci.upper"])],
            "lift": ["" if pd.isna(v) else f"{v:+.1%}" for v in t["lift"]],
            "p (adj.)": [format_p(v, missing="") for v in t["pvalue.adj"]],
            "verdict": t["verdict"]})
        style = ("<style>.crm-case td.worked{color:#2f855a}.crm-case td.harmful{color:#c53030}"
                 ".crm-case td.evidence{color:#616e7c}.crm-case td.identified{color:#b7791f}"
                 ".crm-case td.num{text-align:right}</style>")
        return head + style + html_table(shown, cell_class=["verdict"], table_class="crm-case")


def _ci_percent(table: pd.DataFrame) -> str:
    """The confidence level of a results table in percent (``95``)."""
    return format_number(100 * float(table.attrs.get("ci.level", 0.95)), 0)


def _sentence(r, case, level: str = "95") -> str:
    k = case.kpi(r["kpi"])
    name = k.en
    if r["verdict"] == "not identified":
        change = "" if pd.isna(r["est"]) else f" (observed change {k.format(r['est'])}, not an effect estimate)"
        return f"{name}: not identified: {r['note']}{change}"
    ci = f"{level}% CI {k.format(r['ci.lower'])} to {k.format(r['ci.upper'])}"
    lift = "" if pd.isna(r["lift"]) else f", {r['lift']:+.1%} relative"
    p = "adjusted " + format_p(r["pvalue.adj"], prefix=True)
    return f"{name}: {k.format(r['est'])} ({ci}{lift}; {r['test']}, {p}): {r['verdict']}"


# --------------------------------------------------------------------------- windows
def _data_periods(data, unit: str) -> tuple[int, int]:
    """First and last *full* period covered by the data."""
    lo, hi = data.date_range
    first = _periods.code(lo, unit)
    if _periods.start(first, unit).date() < lo:
        first += 1
    last = _periods.code(hi, unit)
    if (_periods.end(last, unit) - pd.Timedelta(days=1)).date() > hi:
        last -= 1
    return first, last


def _last_full_before(day, unit: str) -> int:
    """Last period that ends before ``day`` (day exclusive)."""
    return _periods.code(day, unit) - 1


def _change_points(o: Strategy) -> list:
    pts = [o.start]
    if o.end is not None:
        pts.append(o.end + pd.Timedelta(days=1).to_pytimedelta())
    return pts


def _overlap(s: Strategy, o: Strategy) -> bool:
    """Could strategy ``o`` reach customers that ``s`` compares (its target or its control)?"""
    if s.targets_all or o.targets_all or s.arm_column != o.arm_column:
        return True
    mine = set(s.target) | set(s.control or ())
    if s.control is None:  # control = everybody else in the column
        return True
    return bool(set(o.target) & mine)


def strategy_windows(case: CaseDefinition, s: Strategy, kpi: str, data_first: int, data_last: int) -> dict:
    """Pre and post periods of strategy ``s`` for ``kpi`` (see module docstring).

    Parameters
    ----------
    case : CaseDefinition
    s : Strategy
    kpi : str
    data_first, data_last : int
        First and last full period code of the data.

    Returns
    -------
    dict
        ``pre``, ``post`` (lists of period codes), ``bounded_by`` (strategies that shortened
        them), ``floor`` (earliest period before the start not crossing another strategy's
        change: the limit for placebo windows) and ``changes`` (first periods touched by the
        other strategies' starts/ends).

    Examples
    --------
    Tiered membership (R2 case) starts in November 2020; promotions, judged by the same KPI
    (repurchase rate), started in May 2020, so no window of tiered membership (its placebo
    windows included) reaches back before May 2020 (``floor``):

    >>> from crm_research.cases import periods
    >>> case = load_case("r2_retention_strategies")
    >>> first, last = periods.code("2019-01-01", "month"), periods.code("2021-12-01", "month")
    >>> w = strategy_windows(case, case.strategy("tiered_membership"), "repurchase_rate", first, last)
    >>> [periods.label(p, "month") for p in (w["pre"][0], w["pre"][-1], w["post"][0], w["post"][-1])]
    ['2020-05', '2020-10', '2020-11', '2021-04']
    >>> periods.label(w["floor"], "month"), w["bounded_by"]
    ('2020-05', [])
    """
    unit = case.period
    post_first = _periods.first_full_period(s.start, unit)
    pre_last = _last_full_before(s.start, unit)
    post_last = min(post_first + s.window_post - 1, data_last)
    if s.end is not None:
        post_last = min(post_last, _last_full_before(s.end + pd.Timedelta(days=1).to_pytimedelta(), unit))
    floor = data_first
    changes: list[int] = []
    bounded_by = []
    pre_first = max(pre_last - s.window_pre + 1, data_first)
    for o in case.strategies:
        if o.id == s.id or kpi not in o.kpis or not _overlap(s, o):
            continue
        for cp in _change_points(o):
            changes.append(_periods.code(cp, unit))
            if cp <= s.start:
                f = _periods.first_full_period(cp, unit)
                floor = max(floor, f)
                if f > pre_first:
                    pre_first = f
                    bounded_by.append(o.id)
            else:
                l_ = _last_full_before(cp, unit)
                if l_ < post_last:
                    post_last = l_
                    bounded_by.append(o.id)
    return dict(pre=list(range(pre_first, pre_last + 1)), post=list(range(post_first, post_last + 1)),
                bounded_by=sorted(set(bounded_by)), floor=floor, changes=sorted(set(changes)))


# --------------------------------------------------------------------------- evaluation
def _members(customers: pd.DataFrame, s: Strategy) -> tuple[np.ndarray, np.ndarray]:
    ids = customers["customer_id"].to_numpy()
    if s.targets_all:
        return ids, np.array([], dtype=ids.dtype)
    col = customers[s.arm_column].astype(str)
    target = col.isin(s.target).to_numpy()
    if s.control is not None:
        control = col.isin(s.control).to_numpy()
    else:
        control = ~target & customers[s.arm_column].notna().to_numpy()
    return ids[target], ids[control]


def _compare(kind: str, rows1: pd.DataFrame, rows0: pd.DataFrame, alpha: float, ordinal: bool,
             override: str | None) -> dict[str, Any]:
    from .effects import compare_means, compare_rates
    from .panel import customer_values

    if kind in ("rate", "ratio"):
        return compare_rates(rows1, rows0, alpha=alpha, kind=kind)
    x1 = customer_values(rows1)["value"].to_numpy() if len(rows1) else np.zeros(0)
    x0 = customer_values(rows0)["value"].to_numpy() if len(rows0) else np.zeros(0)
    return compare_means(x1, x0, alpha=alpha, ordinal=ordinal, override=override)


def _row_base(case, s, kpi, design, win) -> dict[str, Any]:
    unit = case.period
    pre, post = win["pre"], win["post"]

    def span(ps):
        if not ps:
            return (pd.NaT, pd.NaT)
        return (_periods.start(ps[0], unit).date(), (_periods.end(ps[-1], unit) - pd.Timedelta(days=1)).date())

    (a, b), (c, d) = span(pre), span(post)
    return dict(case=case.id, strategy=s.id, stage=s.stage or "", kpi=kpi, kpi_kind=KPIS[kpi].kind, design=design,
                comparison=COMPARISON[design], pre_start=a, pre_end=b, post_start=c, post_end=d)


def _evaluate_row(case, s, kpi, design, win, panel, target, control, alpha, data_first) -> tuple[dict, pd.DataFrame | None]:
    from .did import did_estimate, event_study, parallel_trends_test
    from .effects import no_result, sample_ratio_test, trend_test

    k = case.kpi(kpi)
    row = _row_base(case, s, kpi, design, win)
    pre, post = win["pre"], win["post"]
    # a single Likert item is ordinal data (several items averaged are treated as a scale score)
    ordinal = k.ordinal or (kpi == "satisfaction_score" and len(case.satisfaction_items) == 1)
    override = case.test_overrides.get(kpi)
    pa = case.pretrend_alpha
    notes: list[str] = []
    if win["bounded_by"]:
        notes.append("window shortened by " + ", ".join(win["bounded_by"]))
    es = None
    identified, reason = True, ""
    check, check_est, check_p = "", np.nan, np.nan
    in_t = panel["customer_id"].isin(target)
    in_c = panel["customer_id"].isin(control)
    per = panel["period"]
    if not post or not pre:
        res = no_result("", "")
        identified, reason = False, ("no full period after the start in the data" if not post
                                     else "no full period before the start in the data")
    elif design == "did":
        t_rows, c_rows = panel[in_t], panel[in_c]
        r = did_estimate(t_rows, c_rows, pre, post, alpha=alpha)
        res = {"test": "DiD (WLS, period effects, customer-clustered SE)", "est": r.est, "ci.lower": r.ci_lower,
               "ci.upper": r.ci_upper, "statistic": r.t, "pvalue": r.pvalue, "baseline": r.counterfactual,
               "value": r.means["treated_post"], "n1": r.n_treated, "n0": r.n_control, "note": ""}
        if k.is_share:
            cf = r.counterfactual
            res.update({"lift": r.est / cf if cf else np.nan, "effect_size": r.est / cf if cf else np.nan,
                        "effect_size.ci.lower": r.ci_lower / cf if cf else np.nan,
                        "effect_size.ci.upper": r.ci_upper / cf if cf else np.nan,
                        "effect_size_type": "relative lift (vs counterfactual)"})
        else:
            from .panel import customer_values
            pre_vals = customer_values(panel[(in_t | in_c) & per.isin(pre)])["value"]
            sd = float(pre_vals.std(ddof=1)) if len(pre_vals) > 1 else np.nan
            cf = r.counterfactual
            res.update({"lift": r.est / cf if cf else np.nan,
                        "effect_size": r.est / sd if sd else np.nan,
                        "effect_size.ci.lower": r.ci_lower / sd if sd else np.nan,
                        "effect_size.ci.upper": r.ci_upper / sd if sd else np.nan,
                        "effect_size_type": "standardized DiD (d, pre-period SD)"})
        if np.isnan(r.est):
            identified, reason = False, "insufficient data in one of the four cells"
        pt = parallel_trends_test(t_rows, c_rows, pre)
        check = "parallel pre-trends (treated - control slope per period)"
        check_est, check_p = pt["slope"], pt["pvalue"]
        if identified and not np.isnan(pt["pvalue"]) and pt["pvalue"] < pa:
            identified = False
            reason = (f"pre-trends differ: the exposed group's {k.en} trended {k.format(pt['slope'])} per "
                      f"{case.period} relative to the control before the start ({format_p(pt['pvalue'], prefix=True)})")
        elif np.isnan(pt["pvalue"]):
            notes.append(f"parallel trends not testable ({pt['periods']} pre-periods)")
        if not np.isnan(r.est):  # also when not identified: the leads show the diverging trends
            es = event_study(t_rows, c_rows, pre, post, alpha=alpha)
    elif design == "before_after":
        rows1 = panel[in_t & per.isin(post)]
        rows0 = panel[in_t & per.isin(pre)]
        res = _compare(k.kind, rows1, rows0, alpha, ordinal, override)
        if np.isnan(res["est"]):
            identified, reason = False, res.get("note") or "insufficient data"
        # (1) trend over the pre window
        tt = trend_test(panel[in_t & per.isin(pre)])
        check = "pre-period trend (slope per period)"
        check_est, check_p = tt["slope"], tt["pvalue"]
        # (2) placebo in time: the same comparison between the pre window and the window before it
        fake_pre = list(range(pre[0] - len(pre), pre[0])) if pre else []
        ptime = None
        if fake_pre and fake_pre[0] >= win["floor"]:
            ptime = _compare(k.kind, rows0, panel[in_t & per.isin(fake_pre)], alpha, ordinal, override)
        # (3) placebo a year earlier (seasonality), where the data reach back and no other
        #     strategy judged by this KPI changed in between
        lag = _periods.PER_YEAR[case.period]
        pyear = None
        if case.placebo and pre and pre[0] - lag >= data_first:
            y_pre, y_post = [p - lag for p in pre], [p - lag for p in post]
            if not any(y_pre[0] < c <= y_post[-1] for c in win["changes"]):
                pyear = _compare(k.kind, panel[in_t & per.isin(y_post)], panel[in_t & per.isin(y_pre)], alpha,
                                 ordinal, override)
        if identified:
            if not np.isnan(tt["pvalue"]) and tt["pvalue"] < pa:
                identified = False
                reason = (f"pre-existing trend: {k.en} was already changing by {k.format(tt['slope'])} per "
                          f"{case.period} before the start ({format_p(tt['pvalue'], prefix=True)}); a before/after difference mixes "
                          "that trend with the strategy")
            elif ptime is not None and not np.isnan(ptime["pvalue"]) and ptime["pvalue"] < pa:
                identified = False
                check = "placebo: the same comparison one window earlier"
                check_est, check_p = ptime["est"], ptime["pvalue"]
                reason = (f"pre-existing change: before the start {k.en} already moved by "
                          f"{k.format(ptime['est'])} between two windows of the same length "
                          f"({format_p(ptime['pvalue'], prefix=True)}); the before/after change need not be the strategy's")
            elif pyear is not None and not np.isnan(pyear["pvalue"]) and pyear["pvalue"] < pa:
                identified = False
                check = "placebo: same calendar windows one year earlier"
                check_est, check_p = pyear["est"], pyear["pvalue"]
                reason = (f"seasonal or other change: the same calendar windows one year earlier already differ by "
                          f"{k.format(pyear['est'])} ({format_p(pyear['pvalue'], prefix=True)})")
            elif np.isnan(tt["pvalue"]) and ptime is None and pyear is None:
                identified = False
                reason = (f"cannot check for a trend: only {tt['periods']} pre-periods and no earlier data; "
                          "use a control group")
            else:
                done = ["no pre-period trend"] + (["no change one window earlier"] if ptime is not None else []) \
                    + (["no change a year earlier"] if pyear is not None else [])
                notes.append(", ".join(done) + "; before/after still assumes nothing else changed at the start")
    else:  # treated_control / ab_test
        rows1 = panel[in_t & per.isin(post)]
        rows0 = panel[in_c & per.isin(post)]
        res = _compare(k.kind, rows1, rows0, alpha, ordinal, override)
        if np.isnan(res["est"]):
            identified, reason = False, res.get("note") or "insufficient data"
        bal = _compare(k.kind, panel[in_t & per.isin(pre)], panel[in_c & per.isin(pre)], alpha, ordinal, override) \
            if pre else None
        if design == "treated_control":
            check = "pre-period balance (exposed - control before the start)"
            if bal is not None:
                check_est, check_p = bal["est"], bal["pvalue"]
            if identified and bal is not None and not np.isnan(bal["pvalue"]) and bal["pvalue"] < pa:
                identified = False
                reason = (f"groups not comparable: before the start the exposed customers' {k.en} already differed "
                          f"by {k.format(bal['est'])} ({format_p(bal['pvalue'], prefix=True)}); use did")
            elif bal is None or np.isnan(bal.get("pvalue", np.nan)):
                notes.append("balance before the start not checkable")
        else:
            if s.allocation is not None:
                p_srm = sample_ratio_test(len(target), len(control), s.allocation)
                check, check_est, check_p = "sample ratio (chi-square vs planned allocation)", \
                    len(target) / max(len(target) + len(control), 1), p_srm
                if identified and p_srm < 0.001:
                    identified = False
                    reason = (f"sample ratio mismatch: {len(target):,} vs {len(control):,} customers for a planned "
                              f"{s.allocation:.0%} allocation ({format_p(p_srm, prefix=True)}); the randomization failed")
            elif bal is not None:
                check, check_est, check_p = "pre-period difference (informational)", bal["est"], bal["pvalue"]
            if bal is not None and not np.isnan(bal.get("pvalue", np.nan)) and bal["pvalue"] < pa:
                notes.append(f"arms differed before the start by {k.format(bal['est'])} "
                             f"({format_p(bal['pvalue'], prefix=True)}); chance or a flawed randomization")
    if res.get("note") and res["note"] != reason:
        notes.append(res["note"])
    if res.get("reason") and (res["test"].startswith("Mann") or min(res.get("n1", 0), res.get("n0", 0)) < 30):
        notes.append(f"test chosen: {res['reason']}")
    row.update({"test": res["test"], "n_treated": int(res.get("n1", 0)), "n_comparison": int(res.get("n0", 0)),
                **{c: res[c] for c in ("baseline", "value", "est", "ci.lower", "ci.upper", "lift", "effect_size",
                                       "effect_size_type", "effect_size.ci.lower", "effect_size.ci.upper",
                                       "statistic", "pvalue")},
                "identified": bool(identified), "check": check, "check.est": check_est, "check.pvalue": check_p,
                "note": "; ".join(([reason] if reason else []) + notes)})
    if es is not None and len(es):
        es = es.assign(strategy=s.id, kpi=kpi, period_start=[_periods.start(p, case.period).date() for p in es["period"]])
    return row, es


def _adjust(table: pd.DataFrame, alpha: float, method: str) -> pd.DataFrame:
    import pingouin as pg

    t = table.copy()
    t["pvalue.adj"] = np.nan
    for design, idx in t.groupby("design").groups.items():
        sub = t.loc[idx]
        ok = sub["identified"] & sub["pvalue"].notna()
        if not ok.any():
            continue
        ps = sub.loc[ok, "pvalue"].to_numpy(dtype=float)
        if method == "none":
            adj = ps
        else:
            _, adj = pg.multicomp(ps, alpha=alpha, method=method)
        t.loc[sub.index[ok], "pvalue.adj"] = np.asarray(adj, dtype=float)
    return t


def _verdict(r, alpha: float) -> str:
    if not r["identified"] or pd.isna(r["est"]):
        return "not identified"
    if pd.isna(r["pvalue.adj"]) or r["pvalue.adj"] >= alpha or r["est"] == 0:
        return "no evidence"
    good = np.sign(r["est"]) == KPIS[r["kpi"]].direction
    return "worked" if good else "harmful"


def _series(case, panels, members) -> pd.DataFrame:
    rows = []
    for s in case.strategies:
        target, control = members[s.id]
        for kpi in s.kpis:
            p = panels[kpi]
            for name, ids in (("exposed", target), ("control", control)):
                if len(ids) == 0:
                    continue
                sub = p[p["customer_id"].isin(ids)]
                g = sub.groupby("period").agg(num=("num", "sum"), den=("den", "sum"), customers=("customer_id", "nunique"))
                for per, r in g.iterrows():
                    rows.append(dict(strategy=s.id, kpi=kpi, group=name, period=int(per),
                                     period_start=_periods.start(per, case.period),
                                     value=r["num"] / r["den"] if r["den"] > 0 else np.nan,
                                     customers=int(r["customers"])))
    return pd.DataFrame(rows, columns=["strategy", "kpi", "group", "period", "period_start", "value", "customers"])


def evaluate_case(case, *, data=None, seed: int | None = None, customers: int | None = None,
                  alpha: float | None = None, correction: str | None = None) -> CaseEvaluation:
    """Evaluate every strategy of a case on its KPIs with the case's designs.

    Parameters
    ----------
    case : CaseDefinition, path or bundled case id
    data : CaseData, optional
        Use these tables instead of reading/simulating the case's data.
    seed, customers : int, optional
        Override the simulation's seed / size (simulated cases).
    alpha : float, optional
        Significance level (default: the case's ``alpha``).
    correction : str, optional
        ``holm``, ``bonferroni``, ``fdr_bh`` or ``none`` (default: the case's).

    Returns
    -------
    CaseEvaluation
        ``.table`` (tidy results), ``.summary()``, ``.verdicts()``, ``.with_truth()``.

    Examples
    --------
    >>> from crm_research.cases import example_case
    >>> ev = evaluate_case(example_case(), correction="bonferroni")
    >>> ev.table[["kpi", "design", "verdict"]]
                      kpi        design      verdict
    0  click_through_rate           did       worked
    1  click_through_rate  before_after       worked
    2          dwell_time           did  no evidence
    3          dwell_time  before_after  no evidence
    >>> ev.table.attrs
    {'ci.level': 0.95, 'p.adjust': 'bonferroni'}

    A bundled case: ``evaluate_case("r2_retention_strategies")`` (about a second per 1,000
    simulated customers).
    """
    from .data import check_case_data, load_case_data
    from .panel import kpi_panels

    if not isinstance(case, CaseDefinition):
        case = load_case(case)
    sim = None
    if data is None:
        data, sim = load_case_data(case, seed=seed, customers=customers)
    else:
        check_case_data(case, data)
    alpha = case.alpha if alpha is None else float(alpha)
    corr = case.correction if correction is None else str(correction).lower()
    if corr not in CORRECTIONS:
        from ..errors import ConfigError
        raise ConfigError(str(case.path), "correction", f"unknown correction {corr!r}",
                          hint="use holm, bonferroni, fdr_bh or none")
    panels = kpi_panels(data, case.kpis, unit=case.period, high_tiers=case.high_tiers,
                        satisfaction_items=case.satisfaction_items)
    first, last = _data_periods(data, case.period)
    members = {s.id: _members(data.customers, s) for s in case.strategies}
    rows, studies = [], []
    for s in case.strategies:
        target, control = members[s.id]
        for kpi in s.kpis:
            win = strategy_windows(case, s, kpi, first, last)
            for design in s.designs:
                row, es = _evaluate_row(case, s, kpi, design, win, panels[kpi], target, control, alpha, first)
                rows.append(row)
                if es is not None:
                    studies.append(es)
    table = pd.DataFrame(rows)
    for c in RESULT_COLUMNS:
        if c not in table:
            table[c] = np.nan
    table = _adjust(table, alpha, CORRECTIONS[corr])
    table["verdict"] = [_verdict(r, alpha) for _, r in table.iterrows()]
    table = table[RESULT_COLUMNS].copy()
    table.attrs.update({"ci.level": 1 - alpha, "p.adjust": corr})
    es_cols = ["strategy", "kpi", "period", "period_start", "rel", "est", "ci.lower", "ci.upper"]
    event = pd.concat(studies, ignore_index=True)[es_cols] if studies else pd.DataFrame(columns=es_cols)
    event.attrs["ci.level"] = 1 - alpha
    settings = dict(alpha=alpha, correction=corr, pretrend_alpha=case.pretrend_alpha,
                    seed=(sim.spec.seed if sim is not None else None),
                    customers=(sim.spec.customers if sim is not None else len(data.customers)),
                    source=(data.source if sim is None else f"simulated, seed {sim.spec.seed}"),
                    data_periods=(_periods.label(first, case.period), _periods.label(last, case.period)))
    return CaseEvaluation(case=case, table=table, series=_series(case, panels, members), event_study=event,
                          data=data, simulation=sim, settings=settings)

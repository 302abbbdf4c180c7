"""Cases side by side: KPI frameworks and strategy verdicts across cases.

- :func:`kpi_framework`: one row per case, stage, strategy and KPI (long, tidy);
- :func:`kpi_framework_matrix`: KPIs x cases, each cell naming the strategies (and stages)
  a case judges by that KPI: the reports' KPI systems side by side;
- :func:`compare_cases`: the evaluated effects of several cases stacked, with a
  relative effect comparable across KPIs;
- :func:`verdict_matrix`: (case, strategy) x KPI table of verdicts.
"""
from __future__ import annotations

from typing import Iterable

import pandas as pd

from .definition import CaseDefinition, load_case
from .evaluate import CaseEvaluation
from .vocabulary import DESIGN_LABELS, KPIS, STAGES

FRAMEWORK_COLUMNS = ["case", "case_title", "subject", "stage", "stage_zh", "strategy", "strategy_name",
                     "strategy_zh", "start", "design", "kpi", "kpi_en", "kpi_zh", "kpi_kind"]


def _as_cases(cases) -> list:
    if isinstance(cases, (CaseDefinition, CaseEvaluation, str)):
        cases = [cases]
    out = []
    for c in cases:
        if isinstance(c, CaseEvaluation):
            out.append(c.case)
        elif isinstance(c, CaseDefinition):
            out.append(c)
        else:
            out.append(load_case(c))
    return out


def kpi_framework(cases) -> pd.DataFrame:
    """The KPI framework of one or more cases, one row per case x strategy x KPI.

    Parameters
    ----------
    cases : CaseDefinition, CaseEvaluation, path, or an iterable of them

    Returns
    -------
    DataFrame
        :data:`FRAMEWORK_COLUMNS`.

    Examples
    --------
    >>> fw = kpi_framework(["r0_yuexuan_platform", "r2_retention_strategies"])
    >>> fw.groupby("case")["kpi"].nunique().to_dict()
    {'r0_yuexuan_platform': 9, 'r2_retention_strategies': 9}
    """
    rows = []
    for c in _as_cases(cases):
        for s in c.strategies:
            for k in s.kpis:
                rows.append(dict(case=c.id, case_title=c.name("en"), subject=c.subject["kind"],
                                 stage=s.stage or "", stage_zh=STAGES[s.stage][0] if s.stage else "",
                                 strategy=s.id, strategy_name=s.name.get("en", s.id), strategy_zh=s.name.get("zh", ""),
                                 start=s.start, design=DESIGN_LABELS[s.design], kpi=k, kpi_en=KPIS[k].en,
                                 kpi_zh=KPIS[k].zh, kpi_kind=KPIS[k].kind))
    return pd.DataFrame(rows, columns=FRAMEWORK_COLUMNS)


def kpi_framework_matrix(cases, *, lang: str = "en", show_stage: bool = True) -> pd.DataFrame:
    """KPIs x cases: which strategies each case judges by each KPI.

    Parameters
    ----------
    cases : iterable of CaseDefinition / CaseEvaluation / paths
    lang : {"en", "zh"}
        Language of KPI and strategy names.
    show_stage : bool
        Append the lifecycle stage to each strategy.

    Returns
    -------
    DataFrame
        Index: KPI names (vocabulary order, KPIs used by at least one case); columns: case
        ids; cells: strategies separated by "; " (empty when the case does not use the KPI).

    Examples
    --------
    >>> m = kpi_framework_matrix(["r2_retention_strategies"])
    >>> m.loc["repurchase rate", "r2_retention_strategies"]
    'Promotions and coupons (maturity); Tiered membership (maturity)'
    """
    fw = kpi_framework(cases)
    order = [k for k in KPIS if k in set(fw["kpi"])]
    case_ids = list(dict.fromkeys(fw["case"]))
    data = {}
    for cid in case_ids:
        col = []
        for k in order:
            sub = fw[(fw["case"] == cid) & (fw["kpi"] == k)]
            names = []
            for _, r in sub.iterrows():
                nm = r["strategy_zh"] if lang == "zh" and r["strategy_zh"] else r["strategy_name"]
                if show_stage and r["stage"]:
                    nm += f" ({r['stage_zh'] if lang == 'zh' else r['stage']})"
                names.append(nm)
            col.append("; ".join(names))
        data[cid] = col
    idx = [(KPIS[k].zh if lang == "zh" else KPIS[k].en) for k in order]
    out = pd.DataFrame(data, index=pd.Index(idx, name="KPI"))
    return out


def compare_cases(evaluations: Iterable, *, primary: bool = True) -> pd.DataFrame:
    """Stack the results of several evaluated cases.

    Parameters
    ----------
    evaluations : iterable of CaseEvaluation
    primary : bool
        Keep only each strategy's own design (default) or every design.

    Returns
    -------
    DataFrame
        The results columns plus ``case_title``, ``relative_effect`` (est / baseline,
        comparable across KPIs and cases) and its approximate interval
        ``relative_effect.ci.lower``, ``relative_effect.ci.upper``.

    Examples
    --------
    >>> from crm_research.cases import evaluate_case, example_case
    >>> ev = evaluate_case(example_case())
    >>> t = compare_cases([ev])
    >>> bool((t["relative_effect"] == t["est"] / t["baseline"]).all()), list(t["kpi"])
    (True, ['click_through_rate', 'dwell_time'])
    """
    parts = []
    for ev in evaluations:
        t = ev.primary() if primary else ev.table
        parts.append(t.assign(case_title=ev.case.name("en")))
    if not parts:
        return pd.DataFrame()
    t = pd.concat(parts, ignore_index=True)
    base = t["baseline"].where(t["baseline"] != 0)
    t["relative_effect"] = t["est"] / base
    t["relative_effect.ci.lower"] = t["ci.lower"] / base
    t["relative_effect.ci.upper"] = t["ci.upper"] / base
    return t


def verdict_matrix(evaluations: Iterable, *, lang: str = "en") -> pd.DataFrame:
    """(case, strategy) x KPI table of verdicts of each strategy's own design.

    Parameters
    ----------
    evaluations : iterable of CaseEvaluation
    lang : {"en", "zh"}
        Language of the KPI names.

    Returns
    -------
    DataFrame
        Index ``(case, strategy)``; columns: KPI names; cells: verdicts ("" where a case does
        not judge a strategy by the KPI).

    Examples
    --------
    >>> from crm_research.cases import evaluate_case, example_case
    >>> ev = evaluate_case(example_case())
    >>> verdict_matrix([ev])
    kpi_name      click-through rate dwell time (activity)
    case strategy
    mini recs                 worked           no evidence
    """
    t = compare_cases(evaluations)
    if t.empty:
        return t
    t = t.assign(kpi_name=[KPIS[k].zh if lang == "zh" else KPIS[k].en for k in t["kpi"]])
    order = [KPIS[k].zh if lang == "zh" else KPIS[k].en for k in KPIS if k in set(t["kpi"])]
    v = t.pivot_table(index=["case", "strategy"], columns="kpi_name", values="verdict", aggfunc="first", sort=False)
    return v.reindex(columns=order).fillna("")

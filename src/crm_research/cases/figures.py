"""Figures for cases (seaborn on matplotlib; every function returns the figure or FacetGrid).

- :func:`plot_kpi_framework`: small multiples, one panel per case: lifecycle stage x KPI,
  a mark where a strategy of that stage is judged by the KPI;
- :func:`plot_kpi_series`: small multiples, one panel per strategy x KPI: the KPI per period
  for exposed and control customers, the start date and the evaluation windows;
- :func:`plot_effects`: forest plots, one panel per KPI (or per case with ``scale="relative"``),
  estimate and interval per strategy, coloured by verdict;
- :func:`plot_event_study`: difference-in-differences leads and lags per strategy x KPI.
"""
from __future__ import annotations

import math
import re
from typing import Sequence

import numpy as np
import pandas as pd

from .compare import kpi_framework
from .evaluate import CaseEvaluation
from .vocabulary import DESIGN_LABELS, KPIS, STAGES

VERDICT_COLORS = {"worked": "#2f855a", "harmful": "#c53030", "no evidence": "#7b8794",
                  "not identified": "#d69e2e"}
GROUP_COLORS = {"exposed": "#2b6cb0", "control": "#a0aec0"}


_CJK = re.compile(r"\s*\(?[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]+\)?")


def _title(text: str) -> str:
    """An English title without Chinese characters (the default fonts lack CJK glyphs)."""
    return re.sub(r"\s{2,}", " ", _CJK.sub("", text)).strip()


def _sns():
    import matplotlib
    import seaborn as sns
    return sns, matplotlib


def plot_kpi_framework(cases, *, lang: str = "en", height: float = 3.2):
    """Small multiples of the cases' KPI frameworks (stage x KPI; one panel per case).

    Parameters
    ----------
    cases : iterable of CaseDefinition / CaseEvaluation / paths
    lang : {"en", "zh"}
        Language of the labels (Chinese needs a CJK font installed).
    height : float
        Height of the figure in inches before the rows for KPIs are added.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> from crm_research.cases import bundled_cases
    >>> fig = plot_kpi_framework(bundled_cases())
    >>> len(fig.axes)                                          # one panel per case
    3
    >>> fig.savefig("kpi_frameworks.png")                      # doctest: +SKIP
    >>> plt.close(fig)
    """
    sns, _ = _sns()
    import matplotlib.pyplot as plt

    fw = kpi_framework(cases)
    case_ids = list(dict.fromkeys(fw["case"]))
    kpis = [k for k in KPIS if k in set(fw["kpi"])]
    stages = [s for s in STAGES if s in set(fw["stage"])] + ([""] if (fw["stage"] == "").any() else [])
    n = len(case_ids)
    fig, axes = plt.subplots(1, n, figsize=(max(3.0, 1.1 * len(stages) + 2.2) * n, height + 0.25 * len(kpis)),
                             sharey=True, squeeze=False)
    palette = sns.color_palette("deep", len(stages))
    ylab = [KPIS[k].zh if lang == "zh" else KPIS[k].en for k in kpis]
    for ax, cid in zip(axes[0], case_ids):
        sub = fw[fw["case"] == cid]
        for si, st in enumerate(stages):
            for ki, k in enumerate(kpis):
                m = sub[(sub["stage"] == st) & (sub["kpi"] == k)]
                if len(m):
                    ax.scatter(si, ki, s=90 + 60 * (len(m) - 1), color=palette[si], zorder=3)
                    if len(m) > 1:
                        ax.annotate(str(len(m)), (si, ki), ha="center", va="center", fontsize=8, color="white",
                                    zorder=4)
        ax.set_xticks(range(len(stages)))
        ax.set_xticklabels([(STAGES[s][0] if lang == "zh" else s) if s else "-" for s in stages], rotation=30,
                           ha="right")
        ax.set_yticks(range(len(kpis)))
        ax.set_yticklabels(ylab)
        ax.set_xlim(-0.6, len(stages) - 0.4)
        ax.set_ylim(len(kpis) - 0.5, -0.5)
        ax.grid(True, alpha=0.3)
        title = _title(sub["case_title"].iloc[0]) if lang == "en" else sub["case_title"].iloc[0]
        ax.set_title(title if len(title) < 60 else cid, fontsize=9)
    fig.suptitle("KPI frameworks: which KPIs judge the strategies of each lifecycle stage", fontsize=11)
    fig.tight_layout()
    return fig


def plot_kpi_series(ev, *, strategies: Sequence[str] | None = None, col_wrap: int = 3, height: float = 2.6):
    """KPI per period for exposed and control customers (one panel per strategy x KPI).

    The vertical line marks the start; shaded spans are the pre (light) and post (darker)
    windows the evaluation used. Shares are in percent.

    Parameters
    ----------
    ev : CaseEvaluation
    strategies : sequence of str, optional
        Only these strategies.
    col_wrap : int
        Panels per row.
    height : float
        Height of a panel in inches.

    Returns
    -------
    seaborn.FacetGrid, or None when there is nothing to draw.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> from crm_research.cases import evaluate_case, example_case
    >>> ev = evaluate_case(example_case())
    >>> g = plot_kpi_series(ev)
    >>> [ax.get_title().splitlines() for ax in g.axes.flat]
    [['Recommendations', 'click-through rate'], ['Recommendations', 'dwell time (activity)']]
    >>> plt.close(g.figure)
    """
    sns, _ = _sns()
    s = ev.series.copy()
    if strategies is not None:
        s = s[s["strategy"].isin(strategies)]
    if s.empty:
        return None
    names = {st.id: st.name.get("en", st.id) for st in ev.case.strategies}
    s["panel"] = [f"{names.get(a, a)}\n{KPIS[k].en}" for a, k in zip(s["strategy"], s["kpi"])]
    s["value_plot"] = s["value"] * [KPIS[k].scale for k in s["kpi"]]
    order = list(dict.fromkeys(s["panel"]))
    g = sns.relplot(data=s, x="period_start", y="value_plot", hue="group", col="panel", col_order=order,
                    col_wrap=min(col_wrap, len(order)), kind="line", height=height, aspect=1.5,
                    palette=GROUP_COLORS, facet_kws={"sharey": False, "sharex": True}, marker="o", markersize=3)
    prim = ev.table.drop_duplicates(["strategy", "kpi"])
    for (strategy, kpi), r in prim.set_index(["strategy", "kpi"]).iterrows():
        key = f"{names.get(strategy, strategy)}\n{KPIS[kpi].en}"
        if key not in g.axes_dict:
            continue
        ax = g.axes_dict[key]
        st = ev.case.strategy(strategy)
        ax.axvline(pd.Timestamp(st.start), color="#c53030", lw=1, ls="--")
        if pd.notna(r["pre_start"]):
            ax.axvspan(pd.Timestamp(r["pre_start"]), pd.Timestamp(r["pre_end"]), color="#edf2f7", zorder=0)
        if pd.notna(r["post_start"]):
            ax.axvspan(pd.Timestamp(r["post_start"]), pd.Timestamp(r["post_end"]), color="#e2e8f0", zorder=0)
        ax.set_ylabel(ev.case.kpi(kpi).unit_label)
    g.set_titles("{col_name}", size=9)
    g.set_xlabels("")
    for ax in g.axes.flat:
        for lab in ax.get_xticklabels():
            lab.set_rotation(30)
            lab.set_ha("right")
    g.figure.suptitle(f"{_title(ev.case.name('en'))}: KPIs per {ev.case.period}", y=1.02, fontsize=11)
    return g


def _effect_frame(obj) -> pd.DataFrame:
    if isinstance(obj, CaseEvaluation):
        return obj.table.assign(case_title=obj.case.name("en"),
                                strategy_name=obj.table["strategy"].map(
                                    {s.id: s.name.get("en", s.id) for s in obj.case.strategies}))
    if isinstance(obj, pd.DataFrame):
        t = obj.copy()
        if "strategy_name" not in t:
            t["strategy_name"] = t["strategy"]
        if "case_title" not in t:
            t["case_title"] = t.get("case", "")
        return t
    return pd.concat([_effect_frame(o) for o in obj], ignore_index=True)


def plot_effects(obj, *, scale: str = "estimate", designs: Sequence[str] | None = None, col_wrap: int = 3,
                 height: float = 2.4):
    """Forest plots of the effects, coloured by verdict.

    Parameters
    ----------
    obj : CaseEvaluation, results DataFrame, or a list of CaseEvaluation
    scale : {"estimate", "relative"}
        ``estimate``: one panel per KPI on the KPI's own scale (shares in percentage
        points). ``relative``: estimate / baseline, one panel per case (comparable across KPIs
        and cases).
    designs : sequence of str, optional
        Designs to show (default: all).
    col_wrap : int
        Panels per row.
    height : float
        Height of a row of panels in inches (grows with the number of estimates).

    Returns
    -------
    matplotlib.figure.Figure, or None when there is nothing to draw.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> from crm_research.cases import evaluate_case, example_case
    >>> ev = evaluate_case(example_case())
    >>> fig = plot_effects(ev, designs=["did"])
    >>> fig.axes[0].get_title(), fig.axes[0].get_xlabel()
    ('click-through rate', 'percentage points')
    >>> plt.close(fig)
    """
    sns, _ = _sns()
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    t = _effect_frame(obj)
    if designs is not None:
        t = t[t["design"].isin(designs)]
    if t.empty:
        return None
    t = t.assign(label=[f"{n} [{DESIGN_LABELS.get(d, d)}]" if t["design"].nunique() > 1 else n
                        for n, d in zip(t["strategy_name"], t["design"])])
    if scale == "relative":
        base = t["baseline"].where(t["baseline"] != 0)
        t = t.assign(x=t["est"] / base * 100, lo=t["ci.lower"] / base * 100, hi=t["ci.upper"] / base * 100,
                     panel=[_title(x) for x in t["case_title"]], label=[f"{l}: {KPIS[k].en}" for l, k in zip(t["label"], t["kpi"])])
        xlabel = {p: "effect relative to baseline (%)" for p in t["panel"]}
    else:
        sc = np.array([KPIS[k].scale for k in t["kpi"]])
        t = t.assign(x=t["est"] * sc, lo=t["ci.lower"] * sc, hi=t["ci.upper"] * sc,
                     panel=[KPIS[k].en for k in t["kpi"]])
        xlabel = {KPIS[k].en: ("percentage points" if KPIS[k].is_share else KPIS[k].unit_label) for k in t["kpi"]}
    panels = list(dict.fromkeys(t["panel"]))
    ncol = min(col_wrap, len(panels))
    nrow = math.ceil(len(panels) / ncol)
    rows_per = max(t.groupby("panel").size())
    fig, axes = plt.subplots(nrow, ncol, figsize=(4.6 * ncol, (0.45 * rows_per + 1.2) * nrow), squeeze=False)
    for ax, p in zip(axes.flat, panels):
        sub = t[t["panel"] == p].reset_index(drop=True)
        y = np.arange(len(sub))
        for i, r in sub.iterrows():
            col = VERDICT_COLORS.get(r["verdict"], "#000")
            if pd.notna(r["lo"]):
                ax.plot([r["lo"], r["hi"]], [i, i], color=col, lw=2)
            ax.plot([r["x"]], [i], "o", color=col, ms=6, mfc=col if r["verdict"] != "not identified" else "white")
        ax.axvline(0, color="#4a5568", lw=0.8)
        ax.set_yticks(y)
        ax.set_yticklabels(sub["label"], fontsize=8)
        ax.set_ylim(len(sub) - 0.5, -0.5)
        ax.set_title(p, fontsize=10)
        ax.set_xlabel(xlabel.get(p, ""), fontsize=8)
        ax.grid(True, axis="x", alpha=0.3)
    for ax in list(axes.flat)[len(panels):]:
        ax.set_visible(False)
    handles = [Line2D([0], [0], marker="o", color=c, mfc=c if v != "not identified" else "white", label=v)
               for v, c in VERDICT_COLORS.items()]
    fig.legend(handles=handles, loc="lower center", ncol=4, frameon=False, bbox_to_anchor=(0.5, -0.02))
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    return fig


def plot_event_study(ev, *, col_wrap: int = 3, height: float = 2.4):
    """Difference-in-differences leads and lags (treated - control gap per period, with its CI).

    Parameters
    ----------
    ev : CaseEvaluation
    col_wrap : int
        Panels per row.
    height : float
        Height of a panel in inches.

    Returns
    -------
    seaborn.FacetGrid, or None when the case has no difference-in-differences rows.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> from crm_research.cases import evaluate_case, example_case
    >>> ev = evaluate_case(example_case())
    >>> g = plot_event_study(ev)
    >>> g.axes.flat[0].get_xlabel()
    'months since the start'
    >>> plt.close(g.figure)
    """
    sns, _ = _sns()
    es = ev.event_study.copy()
    if es.empty:
        return None
    names = {s.id: s.name.get("en", s.id) for s in ev.case.strategies}
    es["panel"] = [f"{names.get(a, a)}\n{KPIS[k].en}" for a, k in zip(es["strategy"], es["kpi"])]
    sc = np.array([KPIS[k].scale for k in es["kpi"]])
    es["y"], es["lo"], es["hi"] = es["est"] * sc, es["ci.lower"] * sc, es["ci.upper"] * sc
    order = list(dict.fromkeys(es["panel"]))
    g = sns.FacetGrid(es, col="panel", col_order=order, col_wrap=min(col_wrap, len(order)), height=height,
                      aspect=1.5, sharey=False)

    def _draw(data, **kw):
        import matplotlib.pyplot as plt
        ax = plt.gca()
        ax.fill_between(data["rel"], data["lo"], data["hi"], color="#bee3f8", alpha=0.8)
        ax.plot(data["rel"], data["y"], "o-", color="#2b6cb0", ms=3)
        ax.axhline(0, color="#4a5568", lw=0.8)
        ax.axvline(-0.5, color="#c53030", lw=1, ls="--")

    g.map_dataframe(_draw)
    g.set_titles("{col_name}", size=9)
    g.set_axis_labels(f"{ev.case.period}s since the start", "exposed - control (pp for shares)")
    g.figure.suptitle(f"{_title(ev.case.name('en'))}: event study (difference-in-differences)", y=1.02, fontsize=11)
    return g

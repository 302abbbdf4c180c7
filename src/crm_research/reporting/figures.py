"""Figures for reports: one seaborn theme, Likert item distributions, missingness.

Every function returns the matplotlib ``Axes`` it drew on (seaborn style), so callers can
compose figures; pass ``ax=`` to draw into an existing one. matplotlib and seaborn are
imported inside the functions. Path diagrams of SEM models live in
:mod:`crm_research.path_diagram` (also reachable as ``reporting.path_diagram``).
"""
from __future__ import annotations

from typing import Any, Mapping, Sequence  # noqa: F401

import pandas as pd

PALETTE = ["#2f5d8a", "#c2703d", "#3f8f6b", "#8c5aa8", "#b5485d", "#5f6b7a", "#c9a227"]
#: Diverging colours for 5/7-point agreement scales (disagree -> agree).
LIKERT_COLORS = {5: ["#b5485d", "#e3a3ad", "#d9dde3", "#9cc3e0", "#2f5d8a"],
                 7: ["#9e3348", "#c9707f", "#ebb9c1", "#d9dde3", "#b5d3ea", "#6a9fcb", "#2f5d8a"]}


def set_theme(context: str = "notebook", font_scale: float = 1.0) -> None:
    """Apply the report theme (white grid, muted palette, CJK-capable fonts, crisp PNGs)."""
    import matplotlib as mpl
    import seaborn as sns

    sns.set_theme(context=context, style="whitegrid", palette=PALETTE, font_scale=font_scale)
    fonts = ["DejaVu Sans", "Noto Sans CJK SC", "Source Han Sans SC", "SimHei", "Microsoft YaHei",
             "PingFang SC", "Arial Unicode MS", "sans-serif"]
    mpl.rcParams.update({
        "font.sans-serif": fonts, "axes.unicode_minus": False, "figure.dpi": 110,
        "savefig.dpi": 150, "axes.titleweight": "bold", "axes.titlesize": "medium",
        "axes.spines.top": False, "axes.spines.right": False, "grid.color": "#e6e9ee",
        "figure.autolayout": False,
    })


def likert_distribution(responses: pd.DataFrame, items: Sequence[str] | None = None, *,
                        points: int | None = None, labels: Sequence[str | None] | None = None,
                        values: Sequence[int] | None = None,
                        item_labels: Mapping[str, str] | None = None, ax: Any = None,
                        title: str | None = None):
    """Diverging stacked bars: share of each answer per rating-scale item, centred on the midpoint.

    Parameters
    ----------
    responses : pandas.DataFrame
        Item columns holding scale points (missing allowed, not counted).
    items : list of str, optional
        Items to plot (default: all numeric columns), top to bottom.
    points : int, optional
        Scale points 1..points (default: the largest value observed); ignored with ``values``.
    labels : list of str, optional
        Category labels for the legend, one per point (``None`` entries show the point).
    values : list of int, optional
        The scale's points when they do not run 1..points (e.g. 0..10).
    item_labels : dict, optional
        Display names for items (e.g. ``{"PF1": "PF1 search convenience"}``).
    ax : matplotlib Axes, optional
    title : str, optional

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> ax = likert_distribution(df, ["Q1", "Q2"], values=range(0, 11))   # doctest: +SKIP
    """
    import matplotlib.pyplot as plt
    import numpy as np

    items = list(items) if items is not None else [c for c in responses.columns
                                                     if pd.api.types.is_numeric_dtype(responses[c])]
    if not items:
        raise ValueError("likert_distribution: no item columns to plot")
    missing = [c for c in items if c not in responses.columns]
    if missing:
        raise KeyError(f"likert_distribution: columns {missing} not in the responses")
    data = responses[items].apply(pd.to_numeric, errors="coerce")
    if values is None:
        values = list(range(1, int(points or np.nanmax(data.to_numpy(dtype=float))) + 1))
    values = [int(v) for v in values]
    k = len(values)
    shares = np.vstack([[(data[c] == v).sum() for v in values] for c in items]).astype(float)
    totals = shares.sum(axis=1, keepdims=True)
    shares = np.divide(shares, totals, out=np.zeros_like(shares), where=totals > 0) * 100
    colors = LIKERT_COLORS.get(k) or [plt.get_cmap("RdBu")(x) for x in np.linspace(0.1, 0.9, k)]
    if ax is None:
        _, ax = plt.subplots(figsize=(8.5, 0.36 * len(items) + 1.4))
    # offset so the middle of the neutral category (or the boundary for even k) sits at 0
    mid = k / 2
    left = -(shares[:, : int(mid)].sum(axis=1) + (shares[:, int(mid)] / 2 if k % 2 else 0))
    y = np.arange(len(items))[::-1]
    names = [str(lab) if lab else str(v) for v, lab in zip(values, list(labels or []) + [None] * k)]
    for j in range(k):
        ax.barh(y, shares[:, j], left=left, color=colors[j], height=0.72, label=names[j],
                edgecolor="white", linewidth=0.6)
        left = left + shares[:, j]
    ax.axvline(0, color="#52606d", linewidth=0.8)
    ax.set_yticks(y)
    ax.set_yticklabels([(item_labels or {}).get(c, c) for c in items])
    lim = max(100 - 0, float(np.abs(ax.get_xlim()).max()))
    ax.set_xlim(-lim, lim)
    ax.xaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{abs(v):.0f}%"))
    ax.set_xlabel("share of responses")
    ax.grid(axis="y", visible=False)
    ax.legend(ncol=min(k, 6), loc="lower center", bbox_to_anchor=(0.5, 1.0), frameon=False, fontsize="small",
              handlelength=1.0, columnspacing=1.0)
    if title:
        ax.set_title(title, pad=28 if k <= 6 else 44)
    return ax


def item_distributions(responses: pd.DataFrame, instrument: Any, *, lang: str = "en",
                       title: str = "Answers per item") -> list:
    """One :func:`likert_distribution` figure per response scale of an instrument's items
    (items answered on different scales are not mixed in one figure).

    Returns
    -------
    list of matplotlib.axes.Axes
    """
    from .narrative import text_of

    groups: dict[tuple, list[str]] = {}
    scales: dict[tuple, Any] = {}
    for it in instrument.items:
        if it.id not in responses.columns:
            continue
        sc = instrument.scale_of(it.id)
        key = (tuple(sc.values), tuple(sc.label(v, lang) or "" for v in sc.values))
        groups.setdefault(key, []).append(it.id)
        scales[key] = sc
    axes = []
    for key, ids in groups.items():
        sc = scales[key]
        labels = [sc.label(v, lang) or next((sc.label(v, lg) for lg in sc.labels if sc.label(v, lg)), None)
                  for v in sc.values]
        head = title if len(groups) == 1 else f"{title}: scale {sc.range_text} ({len(ids)} items)"
        axes.append(likert_distribution(responses, ids, values=list(sc.values), labels=labels,
                                        item_labels={i: f"{i} {text_of(instrument.item(i).label, lang)}".strip()
                                                     for i in ids}, title=head))
    return axes


def missingness_plot(df: pd.DataFrame, *, columns: Sequence[str] | None = None, ax: Any = None,
                     title: str | None = "Missing values per item"):
    """Horizontal bars: percentage of missing values per column (largest first).

    Returns
    -------
    matplotlib.axes.Axes
    """
    import matplotlib.pyplot as plt

    cols = list(columns) if columns is not None else list(df.columns)
    pct = (df[cols].isna().mean() * 100).sort_values(ascending=True)
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 0.2 * len(cols) + 1.0))
    ax.barh(range(len(pct)), pct.to_numpy(), color=PALETTE[0], height=0.7)
    ax.set_yticks(range(len(pct)))
    ax.set_yticklabels(pct.index)
    ax.set_xlabel("% missing")
    ax.set_xlim(0, max(5.0, float(pct.max()) * 1.15))
    ax.grid(axis="y", visible=False)
    for i, v in enumerate(pct.to_numpy()):
        ax.text(v + ax.get_xlim()[1] * 0.01, i, f"{v:.1f}%", va="center", fontsize="x-small", color="#52606d")
    if title:
        ax.set_title(title)
    return ax


def group_paths_plot(intervals: pd.DataFrame, *, ax: Any = None, title: str | None = "Paths by group") -> Any:
    """Forest plot of structural paths by group: each path's estimate in each group with its interval.

    Parameters
    ----------
    intervals : pandas.DataFrame
        The tidy table of :func:`crm_research.study.group_path_intervals`: ``hypothesis, path,
        group, est, ci.lower, ci.upper``; the level in ``attrs["ci.level"]`` labels the axis.
    ax : matplotlib Axes, optional
        Draw into this Axes; default: a new figure sized to the number of rows.
    title : str or None
        Title of the Axes.

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import pandas as pd
    >>> from crm_research.study import group_path_intervals
    >>> paths = pd.DataFrame({"hypothesis": ["H1"], "path": ["Y ~ X"], "est.a": [0.5], "se.a": [0.1],
    ...                       "est.b": [0.2], "se.b": [0.1]})
    >>> ax = group_paths_plot(group_path_intervals(paths))
    >>> ax.get_xlabel(), [t.get_text() for t in ax.get_yticklabels()]
    ('unstandardized path B with 95% CI', ['H1: a', 'H1: b'])
    """
    import matplotlib.pyplot as plt

    need = ["group", "est", "ci.lower", "ci.upper"]
    missing = [c for c in need if c not in intervals.columns]
    if missing:
        raise KeyError(f"group_paths_plot: column(s) {missing} missing; pass study.group_path_intervals(...)")
    groups = list(dict.fromkeys(intervals["group"]))
    key = [c for c in ("hypothesis", "path") if c in intervals.columns]
    n_paths = intervals.groupby(key, sort=False, dropna=False).ngroups if key else 1
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 0.7 + 0.55 * len(intervals)))
    ypos, ticks, seen = 0.0, [], set()
    previous = None
    for r in intervals.to_dict("records"):
        ident = tuple(r.get(k) for k in key)
        if previous is not None and ident != previous:
            ypos += 0.6
        previous = ident
        k = groups.index(r["group"])
        ax.errorbar(r["est"], ypos, xerr=[[r["est"] - r["ci.lower"]], [r["ci.upper"] - r["est"]]], fmt="o",
                    color=f"C{k}", label=None if r["group"] in seen else str(r["group"]), capsize=3)
        seen.add(r["group"])
        name = r.get("hypothesis") or r.get("path") or ""
        ticks.append((ypos, f"{name}: {r['group']}"))
        ypos += 1
    ax.set_yticks([y for y, _ in ticks], [t for _, t in ticks])
    ax.invert_yaxis()
    ax.axvline(0, color="#b42318", linewidth=1)
    level = intervals.attrs.get("ci.level")
    ci = f"{100 * level:g}% CI" if level is not None else "CI"
    ax.set(xlabel=f"unstandardized path B with {ci}", title=title)
    if n_paths and len(groups) > 1:
        ax.legend(title="group", loc="best", fontsize="small")
    return ax

"""Figures for KPI tables (seaborn/matplotlib). Every function returns the matplotlib Axes so
callers can compose and restyle figures; pass ``ax=`` to draw into an existing one."""
from __future__ import annotations

import pandas as pd


def _axes(ax, figsize):
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=figsize)
    return ax


def _bar_width(x: pd.Series) -> float:
    """Width in days of bars on a period_start axis: 80% of the period, 20 with one period."""
    return 20 if len(x) < 2 else max(1, (x.iloc[1] - x.iloc[0]).days * 0.8)


def cohort_heatmap(retention: pd.DataFrame, values: str = "retention_rate", *, max_periods: int | None = 12,
                   annot: bool | None = None, ax=None, cmap: str = "YlGnBu", title: str | None = None):
    """Heatmap of a cohort retention table (:func:`~crm_research.kpi.retention.cohort_retention`).

    Rows are acquisition cohorts (labelled with their size), columns periods since
    acquisition; rates are shown as percentages. Returns the Axes.

    Parameters
    ----------
    retention : DataFrame
        :func:`~crm_research.kpi.retention.cohort_retention` output.
    values : str
        The column shown in the cells.
    max_periods : int, optional
        Periods shown.
    annot : bool, optional
        Print the values in the cells (default: when the matrix is small).
    ax : matplotlib Axes, optional
        Draw into this Axes (default: a new figure).
    cmap : str
        Colour map.
    title : str, optional
        Figure title.

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> from crm_research.kpi.examples import example_engine
    >>> from crm_research import kpi
    >>> ax = cohort_heatmap(kpi.cohort_retention(example_engine()))
    >>> ax.get_ylabel()
    'acquisition cohort'
    """
    import seaborn as sns

    from .retention import retention_matrix

    r = retention[retention["complete"]] if "complete" in retention else retention
    if max_periods is not None:
        r = r[r["period"] <= max_periods]
    wide = retention_matrix(r, values)
    period = "week" if len(wide) > 1 and (wide.index.get_level_values(0)[1] - wide.index.get_level_values(0)[0]).days == 7 else "month"
    labels = [f"{c:%Y-%m-%d} (n={n:,})" if period == "week" else f"{c:%Y-%m} (n={n:,})" for c, n in wide.index]
    ax = _axes(ax, (1.0 + 0.55 * max(wide.shape[1], 4), 1.0 + 0.32 * max(len(wide), 4)))
    rate = values.endswith("rate")
    if annot is None:
        annot = wide.shape[1] <= 16 and len(wide) <= 40
    sns.heatmap(wide.to_numpy(dtype=float) * (100 if rate else 1), ax=ax, cmap=cmap, annot=annot,
                fmt=".0f" if rate else ".3g", cbar_kws={"label": ("%" if rate else values)},
                xticklabels=list(wide.columns), yticklabels=labels, linewidths=0.3, annot_kws={"size": 7})
    ax.set_xlabel(f"{period}s since acquisition")
    ax.set_ylabel("acquisition cohort")
    ax.set_title(title or ("Cohort retention (%)" if values == "retention_rate" else values.replace("_", " ")))
    return ax


def stage_shares_plot(shares: pd.DataFrame, *, ax=None, title: str = "Customer lifecycle stages"):
    """Stacked area chart of :func:`~crm_research.kpi.lifecycle.stage_shares` (shares over time).

    Parameters
    ----------
    shares : DataFrame
        :func:`~crm_research.kpi.lifecycle.stage_shares` output.
    ax : matplotlib Axes, optional
        Draw into this Axes (default: a new figure).
    title : str
        Figure title.

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> from crm_research.kpi.examples import example_engine
    >>> from crm_research import kpi
    >>> ax = stage_shares_plot(kpi.stage_shares(example_engine(), ['2024-05-31', '2024-06-28']))
    >>> ax.get_title()
    'Customer lifecycle stages'
    """
    from .lifecycle import STAGES

    ax = _axes(ax, (8, 4))
    wide = shares.pivot_table(index="date", columns="stage", values="share", observed=False).reindex(columns=list(STAGES))
    colors = {"new": "#4C9BE8", "growing": "#5CB85C", "mature": "#2E7D32", "declining": "#F0AD4E",
              "churned": "#B0B0B0", "reactivated": "#9467BD"}
    ax.stackplot(wide.index, *(wide[c].fillna(0).to_numpy() * 100 for c in wide.columns),
                 labels=list(wide.columns), colors=[colors[c] for c in wide.columns], alpha=0.9)
    ax.set_ylabel("% of acquired customers")
    ax.set_ylim(0, 100)
    ax.set_title(title)
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    return ax


def rfm_segments_plot(summary: pd.DataFrame, *, ax=None, title: str = "RFM segments"):
    """Bar chart of customers and revenue share per RFM segment (:func:`rfm_segment_summary`).

    Parameters
    ----------
    summary : DataFrame
        :func:`~crm_research.kpi.rfm.rfm_segment_summary` output.
    ax : matplotlib Axes, optional
        Draw into this Axes (default: a new figure).
    title : str
        Figure title.

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> from crm_research.kpi.examples import example_engine
    >>> from crm_research import kpi
    >>> ax = rfm_segments_plot(kpi.rfm_segment_summary(kpi.rfm_scores(example_engine())))
    >>> ax.get_title()
    'RFM segments'
    """
    ax = _axes(ax, (8, 4))
    s = summary.set_index("segment")
    y = range(len(s))
    ax.barh([i + 0.2 for i in y], s["share"] * 100, height=0.4, label="customers", color="#4C9BE8")
    ax.barh([i - 0.2 for i in y], s["revenue_share"] * 100, height=0.4, label="revenue", color="#F0AD4E")
    ax.set_yticks(list(y))
    ax.set_yticklabels(s.index)
    ax.invert_yaxis()
    ax.set_xlabel("% of total")
    ax.set_title(title)
    ax.legend(frameon=False)
    return ax


def repurchase_plot(repeat: pd.DataFrame, *, ax=None, title: str = "New and returning customers"):
    """Active customers per period split into new and returning, with the returning share.

    Parameters
    ----------
    repeat : DataFrame
        :func:`~crm_research.kpi.repurchase.repeat_customer_share` output.
    ax : matplotlib Axes, optional
        Draw into this Axes (default: a new figure).
    title : str
        Figure title.

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> from crm_research.kpi.examples import example_engine
    >>> from crm_research import kpi
    >>> ax = repurchase_plot(kpi.repeat_customer_share(example_engine()))
    >>> ax.get_title()
    'New and returning customers'
    """
    ax = _axes(ax, (8, 4))
    x = repeat["period_start"]
    width = _bar_width(x)
    ax.bar(x, repeat["new_customers"], width=width, label="new", color="#4C9BE8")
    ax.bar(x, repeat["returning_customers"], width=width, bottom=repeat["new_customers"], label="returning",
           color="#2E7D32")
    ax.set_ylabel("active customers")
    ax2 = ax.twinx()
    ax2.plot(x, repeat["returning_share"] * 100, color="#F0AD4E", marker=".", label="returning share")
    ax2.set_ylabel("returning share (%)")
    ax2.set_ylim(0, 100)
    ax.set_title(title)
    ax.legend(loc="upper left", frameon=False)
    return ax


def product_lifecycle_plot(sales: pd.DataFrame, stages: pd.DataFrame, *, products: int = 12,
                           measure: str = "orders", ax=None, title: str = "Product sales by lifecycle stage"):
    """Sales curves of the top ``products`` (by total sales), coloured by current stage.

    Parameters
    ----------
    sales : DataFrame
        :func:`~crm_research.kpi.product_lifecycle.product_sales` output.
    stages : DataFrame
        :func:`~crm_research.kpi.product_lifecycle.product_lifecycle_stages` output.
    products : int
        Number of products drawn (the best-selling).
    measure : {"orders", "revenue"}
        The sales series.
    ax : matplotlib Axes, optional
        Draw into this Axes (default: a new figure).
    title : str
        Figure title.

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> from crm_research.kpi.examples import example_engine
    >>> from crm_research import kpi
    >>> eng = example_engine()
    >>> ax = product_lifecycle_plot(kpi.product_sales(eng), kpi.product_lifecycle_stages(eng))
    >>> len(ax.get_lines())
    2
    """
    ax = _axes(ax, (9, 4.5))
    top = sales.groupby("product_id")[measure].sum().nlargest(products).index
    stage = stages.set_index("product_id")["stage"]
    colors = {"introduction": "#4C9BE8", "growth": "#5CB85C", "maturity": "#2E7D32", "decline": "#D9534F"}
    seen = set()
    for pid in top:
        s = sales[sales["product_id"] == pid].sort_values("period_start")
        st = stage.get(pid, "n/a")
        lab = st if st not in seen else None
        seen.add(st)
        ax.plot(s["period_start"], s[measure], color=colors.get(st, "#888888"), alpha=0.8, label=lab)
    ax.set_ylabel(measure)
    ax.set_title(title)
    ax.legend(title="stage now", frameon=False)
    return ax


def activity_plot(act: pd.DataFrame, *, ax=None, title: str = "Activity: visitors and stickiness"):
    """Visitors per period (bars) and DAU/MAU stickiness (line).

    Parameters
    ----------
    act : DataFrame
        :func:`~crm_research.kpi.activity.activity_summary` output.
    ax : matplotlib Axes, optional
        Draw into this Axes (default: a new figure).
    title : str
        Figure title.

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> from crm_research.kpi.examples import example_engine
    >>> from crm_research import kpi
    >>> ax = activity_plot(kpi.activity_summary(example_engine()))
    >>> ax.get_title()
    'Activity: visitors and stickiness'
    """
    ax = _axes(ax, (8, 4))
    x = act["period_start"]
    width = _bar_width(x)
    ax.bar(x, act["visitors"], width=width, color="#4C9BE8", label="visitors")
    ax.set_ylabel("visitors")
    ax2 = ax.twinx()
    ax2.plot(x, act["stickiness"] * 100, color="#D9534F", marker=".", label="stickiness (DAU/MAU)")
    ax2.set_ylabel("stickiness (%)")
    ax.set_title(title)
    return ax

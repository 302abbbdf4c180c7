"""Model checks against data the model did not see: calibration/holdout and tracking.

* :func:`calibration_holdout` -- mean repeat purchases in the holdout period, actual vs.
  each model's conditional expectation, by number of repeat purchases in the calibration
  period (0, 1, ..., ``max_frequency``+); Figure 4 of Fader, Hardie & Lee (2005).
* :func:`repeat_purchase_tracking` -- total repeat purchases of the calibration cohort per
  period (week), actual vs. each model's expectation, also cumulated; Figures 2-3 of the
  same paper.

Both return long (tidy) tables; :func:`plot_calibration_holdout` and :func:`plot_tracking`
draw them and return the matplotlib Axes.
"""
from __future__ import annotations


import numpy as np
import pandas as pd

from ..errors import DataFileError, ModelError
from ._purchase import PurchaseModelResult, purchase_data
from .summary import as_day, freq_days, validate_orders_frame

ACTUAL = "actual"


def _models(models) -> list[PurchaseModelResult]:
    ms = [models] if isinstance(models, PurchaseModelResult) else list(models)
    if not ms or not all(isinstance(m, PurchaseModelResult) for m in ms):
        raise ModelError("expected a fitted BG/NBD or Pareto/NBD result (or a list of them)")
    names = [m.model for m in ms]
    if len(set(names)) != len(names):
        raise ModelError(f"models must have distinct names, got {names}")
    return ms


def calibration_holdout(models, data: pd.DataFrame, *, max_frequency: int = 7) -> pd.DataFrame:
    """Conditional expectations vs. holdout purchases by calibration-period frequency.

    Parameters
    ----------
    models : PurchaseModelResult or sequence of them
        Fitted BG/NBD and/or Pareto/NBD models.
    data : pandas.DataFrame
        RFM summary with holdout columns (``rfm_summary(..., observation_end=...)``).
    max_frequency : int
        Customers with this many or more calibration repeat purchases form the last group
        (labelled ``"7+"`` by default).

    Returns
    -------
    pandas.DataFrame
        Long table, one row per (group, series): ``frequency_calibration`` (label),
        ``n_customers``, ``series`` (``"actual"`` or the model name), ``holdout_purchases``
        (mean per customer in the group).

    Examples
    --------
    >>> from crm_research import clv
    >>> cdnow = clv.read_cdnow("tests/data/cdnow/CDNOW_sample.txt")
    >>> cal = clv.rfm_summary(cdnow, calibration_end="1997-09-30", observation_end="1998-06-30")
    >>> pn = clv.fit_pareto_nbd(cal)
    >>> check = calibration_holdout(pn, cal)
    >>> wide = check.pivot_table(index="frequency_calibration", columns="series",
    ...                          values="holdout_purchases", observed=True)
    >>> wide.head(3).round(3)
    series                 Pareto/NBD  actual
    frequency_calibration
    0                           0.138   0.237
    1                           0.599   0.697
    2                           1.196   1.393
    """
    ms = _models(models)
    need = ["frequency_holdout", "duration_holdout"]
    missing = [c for c in need if c not in data.columns]
    if missing:
        raise DataFileError("summary", f"missing holdout column(s) {missing}",
                            hint="build the summary with rfm_summary(..., observation_end=...)")
    if max_frequency < 1:
        raise ModelError(f"max_frequency must be >= 1, got {max_frequency}")
    d = purchase_data(data)
    x = d["frequency"].to_numpy().astype(int)
    group = np.minimum(x, max_frequency)
    labels = [str(k) for k in range(max_frequency)] + [f"{max_frequency}+"]
    frame = pd.DataFrame({"group": group, ACTUAL: data["frequency_holdout"].to_numpy(dtype=float)})
    for m in ms:
        frame[m.model] = m.conditional_expected_purchases(data["duration_holdout"].to_numpy(dtype=float),
                                                          d).to_numpy()
    agg = frame.groupby("group").agg(["mean", "size"])
    rows = []
    for g in sorted(agg.index):
        n = int(agg.loc[g, (ACTUAL, "size")])
        for series in [ACTUAL] + [m.model for m in ms]:
            rows.append({"frequency_calibration": labels[g], "n_customers": n, "series": series,
                         "holdout_purchases": float(agg.loc[g, (series, "mean")])})
    out = pd.DataFrame(rows)
    out["frequency_calibration"] = pd.Categorical(out["frequency_calibration"], categories=labels, ordered=True)
    out.attrs["duration_holdout"] = float(data["duration_holdout"].iloc[0])
    out.attrs["freq"] = data.attrs.get("freq")
    return out


def plot_calibration_holdout(table: pd.DataFrame, ax=None):
    """Line plot of :func:`calibration_holdout`: actual (solid) vs. models (dashed). Returns the Axes.

    Parameters
    ----------
    table : DataFrame
        :func:`calibration_holdout` output.
    ax : matplotlib Axes, optional
        Draw into this Axes (default: a new figure).

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> from crm_research import clv
    >>> cdnow = clv.read_cdnow("tests/data/cdnow/CDNOW_sample.txt")
    >>> cal = clv.rfm_summary(cdnow, calibration_end="1997-09-30", observation_end="1998-06-30")
    >>> pn = clv.fit_pareto_nbd(cal)
    >>> ax = plot_calibration_holdout(calibration_holdout(pn, cal))
    >>> [t.get_text() for t in ax.get_legend().get_texts()]
    ['actual', 'Pareto/NBD']
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6.4, 4.2))
    wide = table.pivot_table(index="frequency_calibration", columns="series", values="holdout_purchases",
                             observed=True, sort=True)
    wide = wide[[ACTUAL] + [c for c in wide.columns if c != ACTUAL]]
    xs = np.arange(len(wide))
    for series in wide.columns:
        style = dict(color="black", lw=2, marker="o") if series == ACTUAL else dict(ls="--", marker="s", ms=4)
        ax.plot(xs, wide[series].to_numpy(), label=series, **style)
    ax.set_xticks(xs, [str(i) for i in wide.index])
    dur = table.attrs.get("duration_holdout")
    unit = {"W": "weeks", "D": "days"}.get(table.attrs.get("freq") or "", "time units")
    ax.set_xlabel("Repeat purchases in the calibration period")
    ax.set_ylabel("Mean repeat purchases in the holdout" + (f" ({dur:g} {unit})" if dur else ""))
    ax.set_title("Conditional expectations: calibration vs. holdout")
    ax.legend(frameon=False)
    ax.grid(alpha=0.3)
    return ax


def repeat_purchase_tracking(orders: pd.DataFrame, models, customer_col: str = "customer_id",
                             datetime_col: str = "timestamp", *, calibration_end, observation_end,
                             freq: str = "W", start=None, source: str = "orders") -> pd.DataFrame:
    """Total repeat purchases per period of the calibration cohort, actual vs. expected.

    Period ``k`` (``k = 1, 2, ...``) covers the days ``start + (k-1)u`` to ``start + ku - 1``
    (``u`` = 7 days for ``freq="W"``, 1 for ``"D"``). A customer's expected cumulative repeat
    purchases by the end of day ``D`` is ``E[X((D - first purchase day) / u)]``, the same time
    convention as :func:`rfm_summary` (so the period ending on ``calibration_end`` matches
    the fitted ``T``). Orders are collapsed to purchase days as in :func:`rfm_summary`.

    Parameters
    ----------
    orders : pandas.DataFrame
        Raw orders.
    models : PurchaseModelResult or sequence of them
    customer_col, datetime_col : str
        Column names.
    calibration_end, observation_end : date-like
        Inclusive; the cohort is the customers whose first purchase is on or before
        ``calibration_end``; tracking runs to ``observation_end``.
    freq : {"W", "D"}
        Period length and model time unit (must be the unit the models were fitted in).
    start : date-like, optional
        First day of period 1; defaults to the first order day.

    Returns
    -------
    pandas.DataFrame
        Long table: ``period, period_end, series`` (``"actual"`` or model name),
        ``repeat_purchases``, ``cumulative_repeat_purchases``; ``attrs["calibration_period"]``
        is the last period of the calibration.

    Examples
    --------
    >>> from crm_research import clv
    >>> cdnow = clv.read_cdnow("tests/data/cdnow/CDNOW_sample.txt")
    >>> cal = clv.rfm_summary(cdnow, calibration_end="1997-09-30", observation_end="1998-06-30")
    >>> pn = clv.fit_pareto_nbd(cal)
    >>> track = repeat_purchase_tracking(cdnow, pn, calibration_end="1997-09-30",
    ...                                  observation_end="1998-06-30")
    >>> track.attrs['calibration_period'], track['period'].max()
    (39, np.int64(78))
    >>> track[track['period'] == 78][['series', 'cumulative_repeat_purchases']].round(0)
             series  cumulative_repeat_purchases
    77       actual                       4339.0
    155  Pareto/NBD                       4270.0
    """
    import duckdb

    ms = _models(models)
    unit = freq_days(freq)
    cal_end = as_day(calibration_end, "calibration_end")
    obs_end = as_day(observation_end, "observation_end")
    if obs_end <= cal_end:
        raise ModelError(f"observation_end {obs_end.date()} must be after calibration_end {cal_end.date()}")
    std = validate_orders_frame(orders, customer_col, datetime_col, None, source)
    con = duckdb.connect()
    try:
        con.register("orders_in", std)
        days = con.execute(f"""
            WITH days AS (SELECT DISTINCT customer_id, CAST(day AS DATE) AS day FROM orders_in),
            firsts AS (SELECT customer_id, min(day) AS first_day FROM days GROUP BY customer_id
                       HAVING min(day) <= DATE '{cal_end.date()}')
            SELECT f.first_day, d.day, count(*) AS n
            FROM days d JOIN firsts f USING (customer_id)
            WHERE d.day <= DATE '{obs_end.date()}'
            GROUP BY ALL""").fetchdf()
    finally:
        con.close()
    if days.empty:
        raise DataFileError(source, f"no customer made a first purchase on or before {cal_end.date()}",
                            column=datetime_col)
    days["first_day"] = pd.to_datetime(days["first_day"])
    days["day"] = pd.to_datetime(days["day"])
    start_day = as_day(start, "start") if start is not None else days["first_day"].min()
    n_days = (obs_end - start_day).days + 1
    n_periods = int(np.ceil(n_days / unit))
    period_end = start_day + pd.to_timedelta(np.arange(1, n_periods + 1) * unit - 1, unit="D")
    period_end = period_end.where(period_end <= obs_end, obs_end)

    # actual: repeat purchase days (not the first day) per period
    rep = days[days["day"] > days["first_day"]]
    k = ((rep["day"] - start_day).dt.days // unit).astype(int).to_numpy()
    actual = np.bincount(k[k >= 0], weights=rep["n"].to_numpy()[k >= 0], minlength=n_periods)[:n_periods]

    # expected: sum over first-purchase-day cohorts of E[X(age at period end)]
    cohorts = days[days["day"] == days["first_day"]].groupby("first_day")["n"].sum()
    ages = ((period_end.to_numpy()[None, :] - cohorts.index.to_numpy()[:, None])
            / np.timedelta64(1, "D")) / unit
    rows = []
    for name, per in [(ACTUAL, actual)] + [
            (m.model, np.diff(np.concatenate([[0.0], (cohorts.to_numpy()[:, None]
                                                      * m.expected_purchases(np.maximum(ages, 0.0))).sum(axis=0)])))
            for m in ms]:
        rows.append(pd.DataFrame({"period": np.arange(1, n_periods + 1), "period_end": period_end,
                                  "series": name, "repeat_purchases": per,
                                  "cumulative_repeat_purchases": np.cumsum(per)}))
    out = pd.concat(rows, ignore_index=True)
    cal_period = int(np.searchsorted(period_end.to_numpy(), np.datetime64(cal_end), side="left")) + 1
    out.attrs.update({"calibration_period": cal_period, "freq": str(freq).upper(),
                      "calibration_end": str(cal_end.date())})
    return out


def plot_tracking(table: pd.DataFrame, *, cumulative: bool = True, ax=None):
    """Plot :func:`repeat_purchase_tracking` (cumulative or per period). Returns the Axes.

    Parameters
    ----------
    table : DataFrame
        :func:`repeat_purchase_tracking` output.
    cumulative : bool
        Plot the cumulative repeat purchases (else per period).
    ax : matplotlib Axes, optional
        Draw into this Axes (default: a new figure).

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> from crm_research import clv
    >>> cdnow = clv.read_cdnow("tests/data/cdnow/CDNOW_sample.txt")
    >>> cal = clv.rfm_summary(cdnow, calibration_end="1997-09-30", observation_end="1998-06-30")
    >>> pn = clv.fit_pareto_nbd(cal)
    >>> track = repeat_purchase_tracking(cdnow, pn, calibration_end="1997-09-30",
    ...                                  observation_end="1998-06-30")
    >>> plot_tracking(track).get_xlabel()
    'Week'
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(7.2, 4.2))
    col = "cumulative_repeat_purchases" if cumulative else "repeat_purchases"
    for series, g in table.groupby("series", sort=False):
        style = dict(color="black", lw=1.8) if series == ACTUAL else dict(ls="--", lw=1.5)
        ax.plot(g["period"], g[col], label=series, **style)
    cp = table.attrs.get("calibration_period")
    if cp:
        ax.axvline(cp, color="grey", lw=1, ls=":")
        ax.annotate("end of calibration", (cp, ax.get_ylim()[1]), xytext=(3, -12), textcoords="offset points",
                    fontsize=8, color="grey")
    unit = {"W": "Week", "D": "Day"}.get(table.attrs.get("freq", ""), "Period")
    ax.set_xlabel(unit)
    ax.set_ylabel(("Cumulative r" if cumulative else "R") + "epeat purchases")
    ax.set_title("Tracking repeat purchases: actual vs. model")
    ax.legend(frameon=False)
    ax.grid(alpha=0.3)
    return ax

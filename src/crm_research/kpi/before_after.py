"""Before and after: KPIs of two date windows around a strategy (R2 chapter 6, "track the effect").

R2's retention method ends with comparing the KPIs *before* and *after* a strategy. This module
fixes the two windows (:class:`BeforeAfter`, :func:`before_after_periods`,
:meth:`BeforeAfter.around`), computes the per-customer measures of each window in the engine
(:func:`period_buyers`, :func:`period_visit_time`) and compares them with the test that fits
each measure (:func:`before_after_kpis`):

=========================================== ====================================================
KPI                                         comparison (:mod:`crm_research.cases.effects`)
=========================================== ====================================================
Repeat buyers (2+ orders in the period)     two-proportion test; customers buying in both
                                            windows are accounted for (clustered SE)
Returning buyers (bought before the period) the same
Orders per buyer                            Welch's t test or, small and skewed, Mann-Whitney U
Average order value                         the same (per buyer: spend / orders)
Visit time per visitor (s)                  the same (only with a session log)
=========================================== ====================================================

Windows are inclusive calendar dates. A before/after comparison without a control group is
descriptive: it cannot separate a strategy's effect from seasonality, trend or a changing
customer mix (difference-in-differences in :mod:`crm_research.cases` can).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import pandas as pd

from ..errors import ConfigError
from .engine import KPIEngine, as_date, date_literal
from .sums import exact_sum

#: default length of each window in days (two halves of the last 364 days)
DEFAULT_DAYS = 182

BEFORE_AFTER_COLUMNS = ["kpi", "before", "after", "diff", "ci.lower", "ci.upper", "test", "pvalue",
                        "effect_size", "effect"]
BUYER_COLUMNS = ["customer_id", "orders", "spend", "first_date", "returning", "repeat", "aov"]


@dataclass(frozen=True)
class BeforeAfter:
    """Two inclusive date windows: before and after a strategy.

    Parameters
    ----------
    before_start, before_end, after_start, after_end : datetime.date
        First and last day of each window.

    Examples
    --------
    >>> import datetime as dt
    >>> w = BeforeAfter.around("2024-07-01", days=30)
    >>> w.before_start, w.before_end, w.after_start, w.after_end
    (datetime.date(2024, 6, 1), datetime.date(2024, 6, 30), datetime.date(2024, 7, 1), datetime.date(2024, 7, 30))
    >>> w.days
    (30, 30)
    """

    before_start: dt.date
    before_end: dt.date
    after_start: dt.date
    after_end: dt.date

    def __post_init__(self):
        for name in ("after", "before"):
            _check_window(name, getattr(self, f"{name}_start"), getattr(self, f"{name}_end"))
        if self.before_end >= self.after_start:
            raise ConfigError("<argument>", "before_end",
                              f"the before period ({self.before_start} to {self.before_end}) does not end "
                              f"before the after period starts ({self.after_start})",
                              hint="the two periods must not overlap")

    @classmethod
    def around(cls, start, days: int = DEFAULT_DAYS) -> "BeforeAfter":
        """Windows of ``days`` days each side of a strategy's first day.

        Parameters
        ----------
        start : date-like
            First day of the strategy (the first day of the after window).
        days : int
            Length of each window in days.

        Returns
        -------
        BeforeAfter
            Before: ``start - days`` to ``start - 1``; after: ``start`` to ``start + days - 1``.

        Examples
        --------
        >>> BeforeAfter.around("2024-03-01", days=7).before_start
        datetime.date(2024, 2, 23)
        """
        days = _positive_days(days)
        s = as_date(start, "start")
        return cls(s - dt.timedelta(days=days), s - dt.timedelta(days=1), s, s + dt.timedelta(days=days - 1))

    @property
    def days(self) -> tuple[int, int]:
        """Length in days of the before and the after window.

        Returns
        -------
        tuple of int
            ``(before, after)``.

        Examples
        --------
        >>> BeforeAfter.around('2024-03-01', days=7).days
        (7, 7)
        """
        return ((self.before_end - self.before_start).days + 1, (self.after_end - self.after_start).days + 1)

    def label(self, which: str) -> str:
        """``"YYYY-MM-DD – YYYY-MM-DD"`` of the ``"before"`` or ``"after"`` window.

        Parameters
        ----------
        which : {"before", "after"}

        Returns
        -------
        str

        Examples
        --------
        >>> BeforeAfter.around("2024-03-01", days=7).label("after")
        '2024-03-01 – 2024-03-07'
        """
        if which not in ("before", "after"):
            raise ValueError(f"which must be 'before' or 'after', got {which!r}")
        return f"{getattr(self, which + '_start'):%Y-%m-%d} – {getattr(self, which + '_end'):%Y-%m-%d}"


def before_after_periods(as_of, *, before_start=None, before_end=None, after_start=None, after_end=None,
                         days: int = DEFAULT_DAYS) -> BeforeAfter:
    """Before and after windows, each bound given or derived from the others.

    Defaults: the after window ends at ``as_of`` and lasts ``days`` days; the before window
    ends the day before the after window starts and lasts as long as the after window. With
    ``days=182`` (the default) the last 364 days are split into two halves.

    Parameters
    ----------
    as_of : date-like
        Analysis date: the default end of the after window.
    before_start, before_end, after_start, after_end : date-like, optional
        Inclusive bounds; ``None`` derives them as above.
    days : int
        Default length of the after window.

    Returns
    -------
    BeforeAfter

    Raises
    ------
    ConfigError
        A window that ends before it starts, overlapping windows, or a bound that is not a date.

    Examples
    --------
    >>> w = before_after_periods("2024-12-31")
    >>> w.label("before"), w.label("after"), w.days
    ('2024-01-03 – 2024-07-02', '2024-07-03 – 2024-12-31', (182, 182))
    >>> before_after_periods("2024-12-31", after_start="2024-11-11", before_start="2024-06-18").label("before")
    '2024-06-18 – 2024-11-10'
    """
    days = _positive_days(days)
    a1 = _date_or(after_end, as_date(as_of, "as_of"), "after_end")
    a0 = _date_or(after_start, a1 - dt.timedelta(days=days - 1), "after_start")
    _check_window("after", a0, a1)   # before the before window is derived from it
    b1 = _date_or(before_end, a0 - dt.timedelta(days=1), "before_end")
    b0 = _date_or(before_start, b1 - (a1 - a0), "before_start")
    return BeforeAfter(b0, b1, a0, a1)


def period_buyers(engine: KPIEngine, start, end) -> pd.DataFrame:
    """Per customer with an order in a window: orders, spend and whether they had bought before.

    Parameters
    ----------
    engine : KPIEngine
    start, end : date-like
        Inclusive window.

    Returns
    -------
    DataFrame
        ``customer_id, orders`` (distinct orders in the window), ``spend``, ``first_date``
        (the customer's first order ever), ``returning`` (1: first order before ``start``),
        ``repeat`` (1: 2+ orders in the window), ``aov`` (spend / orders).

    Examples
    --------
    >>> import pandas as pd
    >>> from crm_research import kpi
    >>> orders = pd.DataFrame({"customer_id": [1, 1, 1, 2], "order_id": [1, 2, 3, 4],
    ...     "timestamp": ["2024-01-05", "2024-02-03", "2024-02-20", "2024-02-10"],
    ...     "amount": [10.0, 20.0, 40.0, 5.0]})
    >>> eng = kpi.load(orders)
    >>> period_buyers(eng, "2024-02-01", "2024-02-29")[["customer_id", "orders", "returning", "repeat", "aov"]]
       customer_id  orders  returning  repeat   aov
    0            1       2          1       1  30.0
    1            2       1          0       0   5.0
    """
    s, e = as_date(start, "start"), as_date(end, "end")
    f = engine.facts
    w = f.filter((f.order_date >= date_literal(s)) & (f.order_date <= date_literal(e)))
    g = w.group_by("customer_id").aggregate(orders=w.order_id.nunique(), spend=exact_sum(w.amount),
                                            first_date=w.first_date.min())
    out = engine.execute(g).sort_values("customer_id", kind="stable").reset_index(drop=True)
    out["orders"] = out["orders"].astype("int64")
    out["returning"] = (pd.to_datetime(out["first_date"]).dt.date < s).astype("int64")
    out["repeat"] = (out["orders"] >= 2).astype("int64")
    out["aov"] = out["spend"] / out["orders"]
    return out[BUYER_COLUMNS]


def period_visit_time(engine: KPIEngine, start, end) -> pd.DataFrame:
    """Per visitor: total session time (seconds) in an inclusive window.

    Parameters
    ----------
    engine : KPIEngine
        Loaded with a session log.
    start, end : date-like
        Inclusive window (by session start date).

    Returns
    -------
    DataFrame
        ``customer_id, seconds``.

    Examples
    --------
    >>> import pandas as pd
    >>> from crm_research import kpi
    >>> orders = pd.DataFrame({"customer_id": [1], "order_id": [1], "timestamp": ["2024-01-05"], "amount": [1.0]})
    >>> sessions = pd.DataFrame({"customer_id": [1, 1, 2], "start": ["2024-01-02", "2024-01-09", "2024-01-03"],
    ...     "duration": [60, 30, 10]})
    >>> period_visit_time(kpi.load(orders, sessions=sessions), "2024-01-01", "2024-01-07")
       customer_id  seconds
    0            1     60.0
    1            2     10.0
    """
    from .activity import need_sessions

    sess = need_sessions(engine)
    s, e = as_date(start, "start"), as_date(end, "end")
    d = sess.start.date()
    w = sess.filter((d >= date_literal(s)) & (d <= date_literal(e)))
    out = engine.execute(w.group_by("customer_id").aggregate(seconds=w.duration.sum()))
    return out.sort_values("customer_id", kind="stable").reset_index(drop=True)[["customer_id", "seconds"]]


def before_after_kpis(engine: KPIEngine, periods: BeforeAfter, *, alpha: float = 0.05,
                      sessions: bool | None = None) -> pd.DataFrame:
    """Compare the KPIs of the before and the after window (module docstring for the tests).

    Parameters
    ----------
    engine : KPIEngine
    periods : BeforeAfter
        The two windows (:func:`before_after_periods`, :meth:`BeforeAfter.around`).
    alpha : float
        1 - confidence level of the intervals.
    sessions : bool, optional
        Include visit time per visitor (default: when the engine has a session log).

    Returns
    -------
    DataFrame
        One row per KPI: ``kpi, before, after, diff`` (after - before), ``ci.lower, ci.upper``
        (its interval), ``test, pvalue, effect_size`` (relative lift for rates, Hedges' g for
        means) and ``effect`` (its name: ``"lift"`` or ``"g"``). ``attrs``: ``ci.level``,
        ``periods`` (the windows), ``n_before``, ``n_after`` (buyers).

    Examples
    --------
    >>> import pandas as pd
    >>> from crm_research import kpi
    >>> orders = pd.DataFrame({"customer_id": [1, 1, 2, 2, 2, 3, 3, 4],
    ...     "order_id": range(8),
    ...     "timestamp": ["2024-01-03", "2024-01-20", "2024-01-05", "2024-02-03", "2024-02-10",
    ...                   "2024-02-04", "2024-02-15", "2024-02-20"],
    ...     "amount": [10.0, 12.0, 20.0, 25.0, 30.0, 8.0, 9.0, 15.0]})
    >>> w = BeforeAfter.around("2024-02-01", days=31)
    >>> t = before_after_kpis(kpi.load(orders), w)
    >>> t[["kpi", "before", "after"]].round(3)
                                               kpi  before   after
    0      Repeat buyers (2+ orders in the period)     0.5   0.667
    1  Returning buyers (bought before the period)     0.0   0.333
    2                             Orders per buyer     1.5   1.667
    3                          Average order value    15.5  17.000
    >>> t.attrs["ci.level"], t.attrs["n_before"], t.attrs["n_after"]
    (0.95, 2, 3)
    """
    from ..cases.effects import compare_means, compare_rates

    if not isinstance(periods, BeforeAfter):
        raise ConfigError("<argument>", "periods", f"expected a BeforeAfter, got {type(periods).__name__}",
                          hint="build one with kpi.before_after_periods(as_of, ...) or BeforeAfter.around(date)")
    if not 0 < alpha < 1:
        raise ConfigError("<argument>", "alpha", f"{alpha!r} is not between 0 and 1", hint="e.g. 0.05")
    B = period_buyers(engine, periods.before_start, periods.before_end)
    A = period_buyers(engine, periods.after_start, periods.after_end)
    rows = []

    def rows_of(df, col):
        return pd.DataFrame({"customer_id": df["customer_id"], "num": df[col], "den": 1})

    for label, col in (("Repeat buyers (2+ orders in the period)", "repeat"),
                       ("Returning buyers (bought before the period)", "returning")):
        r = compare_rates(rows_of(A, col), rows_of(B, col), alpha=alpha)
        rows.append(_row(label, float(r["baseline"]), float(r["value"]), r, "lift"))
    means = [("Orders per buyer", A["orders"], B["orders"]), ("Average order value", A["aov"], B["aov"])]
    if engine.has_sessions if sessions is None else sessions:
        va = period_visit_time(engine, periods.after_start, periods.after_end)["seconds"]
        vb = period_visit_time(engine, periods.before_start, periods.before_end)["seconds"]
        means.append(("Visit time per visitor (s)", va, vb))
    for label, a, b in means:
        r = compare_means(a, b, alpha=alpha)
        rows.append(_row(label, float(pd.Series(b, dtype=float).mean()), float(pd.Series(a, dtype=float).mean()),
                         r, "g"))
    out = pd.DataFrame(rows, columns=BEFORE_AFTER_COLUMNS)
    out.attrs.update({"ci.level": 1 - alpha, "periods": periods, "n_before": len(B), "n_after": len(A)})
    return out


# ---------------------------------------------------------------------- helpers
def _row(label: str, before: float, after: float, r: dict[str, Any], effect: str) -> dict[str, Any]:
    """One output row from a :mod:`crm_research.cases.effects` comparison result."""
    return {"kpi": label, "before": before, "after": after, "diff": float(r["est"]),
            "ci.lower": float(r["ci.lower"]), "ci.upper": float(r["ci.upper"]), "test": r["test"],
            "pvalue": float(r["pvalue"]), "effect_size": float(r["effect_size"]), "effect": effect}


def _check_window(name: str, start: dt.date, end: dt.date) -> None:
    if end < start:
        raise ConfigError("<argument>", f"{name}_end", f"the {name} period ends ({end}) before it starts ({start})",
                          hint=f"check {name}_start / {name}_end")


def _date_or(value, default: dt.date, what: str) -> dt.date:
    return default if value is None else as_date(value, what)


def _positive_days(days) -> int:
    try:
        ok = not isinstance(days, bool) and int(days) == days and int(days) >= 1
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ConfigError("<argument>", "days", f"{days!r} is not a whole number of days >= 1", hint="e.g. days=182")
    return int(days)

"""Customer lifecycle stage at any as-of date (R3 relationship stages; R2 customer groups).

Stages and rules
----------------
Evaluated per customer with at least one order on or before the as-of date ``A``, in this
order (the first rule that holds wins); ``W = window_days``, recent window ``(A - W, A]``,
previous window ``(A - 2W, A - W]``, all by calendar date:

=============== ========================================================================== ==========
stage           rule (thresholds are fields of :class:`LifecycleRules`)                    R2 group
=============== ========================================================================== ==========
``churned``     no order for more than ``churn_days`` (days since last order > churn_days)  流失 churned
``new``         first order less than ``new_days`` days before A                            新 new
``reactivated`` an order in the recent window came after a gap of more than ``churn_days``  活跃 active
                since the previous purchase (the customer had churned and came back)
``declining``   no order for more than ``silent_days``, or recent orders fell below         沉默 silent
                ``decline_ratio`` x previous orders (previous > 0)
``growing``     relationship younger than ``growth_days``, or recent orders >=              活跃 active
                ``min_growth_orders`` and >= ``growth_ratio`` x previous orders
``mature``      everything else: an established customer buying at a steady rate            活跃 active
=============== ========================================================================== ==========

R3's stages map as: acquisition/introduction = new, growth/cultivation = growing, maturity =
mature, decline = declining (at risk), churn = churned, plus reactivation. The ``group`` column
gives R2's four customer groups (new / active / silent / churned).

:func:`lifecycle_stages` gives the stage per customer at one date, :func:`stage_shares` the
stage distribution over a series of dates, :func:`stage_transitions` the transition matrix
between two dates (customers not yet acquired at the first date appear as ``prospect``).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from .customer_summary import customer_summary, day_numbers, summary_rows
from .engine import KPIEngine, date_literal, as_date, check_period, period_end
from .order_arrays import (OrderArrays, array_plan, customer_first_parts, customer_first_rows, day_number,
                           order_arrays, order_parts, part_plan, release_free_memory, small_pages, store, store_parts,
                           worker_threads)

STAGES = ("new", "growing", "mature", "declining", "churned", "reactivated")
STAGE_LABELS = pd.DataFrame(
    [("new", "新客户 / 获取期", "acquisition", "new"),
     ("growing", "成长期", "growth / cultivation", "active"),
     ("mature", "成熟期", "maturity", "active"),
     ("declining", "衰退期 (风险)", "decline (at risk)", "silent"),
     ("churned", "流失期", "churn", "churned"),
     ("reactivated", "再激活", "reactivation", "active")],
    columns=["stage", "stage_zh", "r3_stage", "group"])
GROUPS = dict(zip(STAGE_LABELS["stage"], STAGE_LABELS["group"]))
LIFECYCLE_COLUMNS = ["customer_id", "stage", "group", "first_order_date", "last_order_date",
                     "tenure_days", "days_since_last", "orders", "orders_recent", "orders_previous",
                     "max_recent_gap_days"]


@dataclass(frozen=True)
class LifecycleRules:
    """Thresholds of the lifecycle rules (days unless said otherwise).

    Parameters
    ----------
    new_days : int
        New: first order fewer than this many days ago.
    window_days : int
        Length of the recent window and of the window before it.
    silent_days : int
        Declining: no order for more than this many days.
    churn_days : int
        Churned: no order for more than this many days (>= ``new_days`` and ``silent_days``).
    decline_ratio : float
        Declining: recent orders below this share of the previous window's (0, 1].
    growth_days : int
        Growing: acquired fewer than this many days ago ...
    growth_ratio : float
        ... or recent orders at least this multiple of the previous window's (>= 1) ...
    min_growth_orders : int
        ... and at least this many recent orders.

    Raises
    ------
    ValueError
        Inconsistent thresholds.

    Examples
    --------
    >>> LifecycleRules(churn_days=60, growth_days=60).churn_days
    Traceback (most recent call last):
    ...
    ValueError: need 0 < new_days <= churn_days and 0 < silent_days <= churn_days
    >>> LifecycleRules(new_days=400)
    Traceback (most recent call last):
    ...
    ValueError: need 0 < new_days <= churn_days and 0 < silent_days <= churn_days
    """

    new_days: int = 30
    window_days: int = 90
    silent_days: int = 90
    churn_days: int = 180
    decline_ratio: float = 0.5
    growth_days: int = 180
    growth_ratio: float = 1.5
    min_growth_orders: int = 2

    def __post_init__(self):
        if not (0 < self.new_days <= self.churn_days and 0 < self.silent_days <= self.churn_days):
            raise ValueError("need 0 < new_days <= churn_days and 0 < silent_days <= churn_days")
        if self.window_days < 1 or not 0 < self.decline_ratio <= 1 or self.growth_ratio < 1:
            raise ValueError("need window_days >= 1, 0 < decline_ratio <= 1, growth_ratio >= 1")

    def to_dict(self) -> dict:
        """The thresholds as a plain dict (for reports and provenance).

        Returns
        -------
        dict

        Examples
        --------
        >>> LifecycleRules().to_dict()['churn_days']
        180
        """
        return asdict(self)


def lookback_days(rules: "LifecycleRules") -> int:
    """Days of history that decide every stage except "churned" (see :func:`lifecycle_table`).

    Parameters
    ----------
    rules : LifecycleRules

    Returns
    -------
    int
        ``max(2 * window_days, churn_days + 1)``.

    Examples
    --------
    >>> lookback_days(LifecycleRules())
    181
    """
    return max(2 * int(rules.window_days), int(rules.churn_days) + 1)


def lifecycle_table(engine: KPIEngine, as_of=None, rules: LifecycleRules = LifecycleRules(), *,
                    recent_only: bool = False):
    """Stage per customer at ``as_of`` as an ibis Table (runs in the engine).

    With ``recent_only`` only customers with an order in the last :func:`lookback_days` days
    are evaluated (reading only those orders). Everyone else acquired by ``as_of`` is churned
    by the first rule, since their last order is more than ``churn_days`` old; the counting
    functions add them back from the customer table. This makes stage shares over many dates
    cheap.

    Parameters
    ----------
    engine : KPIEngine
    as_of : date-like, optional
        Date of the assessment (default: the date of the last order).
    rules : LifecycleRules
    recent_only : bool
        Evaluate only customers with an order in the last :func:`lookback_days` days.

    Returns
    -------
    ibis.Table
        The columns of :func:`lifecycle_stages`.

    Examples
    --------
    >>> from crm_research.kpi.examples import example_engine
    >>> eng = example_engine()
    >>> rules = LifecycleRules(new_days=14, window_days=30, silent_days=30, churn_days=60, growth_days=60)
    >>> eng.execute(lifecycle_table(eng, rules=rules).count())
    8
    """
    import ibis

    a = engine.as_of(as_of)
    A = date_literal(a)
    W = int(rules.window_days)
    if recent_only:
        f = engine.facts_until(a)
        # age < lookback as a plain date bound (lets the engine skip older row groups)
        f = f.filter(f.order_date > date_literal(a - dt.timedelta(days=lookback_days(rules))))
        age = A.delta(f.order_date, unit="day")
        recent = age < W
        previous = (age >= W) & (age < 2 * W)
        c = f.group_by("customer_id").aggregate(
            first_order_date=f.first_date.min(), last_order_date=f.order_date.max(), orders=f.count(),
            orders_recent=f.count(where=recent), orders_previous=f.count(where=previous),
            max_recent_gap_days=f.gap_days.max(where=recent))
    else:   # every customer: the shared per-customer aggregates (no pass over the orders)
        c = customer_summary(engine, a, W).select(
            "customer_id", "first_order_date", "last_order_date", "orders", "orders_recent", "orders_previous",
            "max_recent_gap_days")
    tenure = A.delta(c.first_order_date, unit="day")
    since = A.delta(c.last_order_date, unit="day")
    c = c.mutate(tenure_days=tenure, days_since_last=since)
    r = rules
    stage = ibis.cases(
        (c.days_since_last > r.churn_days, "churned"),
        (c.tenure_days < r.new_days, "new"),
        (c.max_recent_gap_days.fill_null(0) > r.churn_days, "reactivated"),
        ((c.days_since_last > r.silent_days)
         | ((c.orders_previous > 0) & (c.orders_recent.cast("float64") < r.decline_ratio * c.orders_previous)),
         "declining"),
        ((c.tenure_days < r.growth_days)
         | ((c.orders_recent >= r.min_growth_orders) & (c.orders_recent.cast("float64") >= r.growth_ratio * c.orders_previous)),
         "growing"),
        else_="mature")
    group = ibis.cases(*[(stage == s, g) for s, g in GROUPS.items()], else_="active")
    return c.mutate(stage=stage, group=group).select(*LIFECYCLE_COLUMNS)


def lifecycle_stages(engine: KPIEngine, as_of=None, rules: LifecycleRules = LifecycleRules()) -> pd.DataFrame:
    """Lifecycle stage of every customer at ``as_of``.

    Parameters
    ----------
    engine : KPIEngine
    as_of : date-like, optional
        Date of the assessment (default: the date of the last order).
    rules : LifecycleRules

    Returns
    -------
    DataFrame
        ``customer_id, stage, group, first_order_date, last_order_date, tenure_days,
        days_since_last, orders, orders_recent, orders_previous, max_recent_gap_days`` (the
        longest gap before an order in the recent window, NaN if none), sorted by customer.

    Examples
    --------
    >>> from crm_research.kpi.examples import example_engine
    >>> rules = LifecycleRules(new_days=14, window_days=30, silent_days=30, churn_days=60, growth_days=60)
    >>> lifecycle_stages(example_engine(), rules=rules)[['customer_id', 'stage', 'days_since_last']]
       customer_id        stage  days_since_last
    0            1       mature               27
    1            2      churned              105
    2            3      churned              155
    3            4  reactivated                8
    4            5       mature                3
    5            6  reactivated               13
    6            7    declining               54
    7            8      growing                0
    """
    rows = summary_rows(engine, as_of, rules.window_days)
    if rows is not None:      # the orders are held as arrays: the same rules on the summary's columns
        df = _stages_of_summary(rows, engine.as_of(as_of), rules)
    else:
        df = engine.execute(lifecycle_table(engine, as_of, rules).order_by("customer_id"))
    for col in ("tenure_days", "days_since_last", "orders", "orders_recent", "orders_previous"):
        df[col] = df[col].astype("int64")
    return df.reset_index(drop=True)


def _stages_of_summary(rows, a: dt.date, rules: LifecycleRules) -> pd.DataFrame:
    """:func:`lifecycle_table`'s rules on the columns of :func:`~.customer_summary.summary_rows`
    (customer order), as a DataFrame of the engine path's types."""
    import pyarrow as pa

    A = day_number(a)
    first = rows.column("first_order_date").combine_chunks()
    last = rows.column("last_order_date").combine_chunks()
    tenure, since = A - day_numbers(first), A - day_numbers(last)
    rec = rows.column("orders_recent").to_numpy()
    prev = rows.column("orders_previous").to_numpy()
    gap = rows.column("max_recent_gap_days").combine_chunks()
    gap0 = gap.fill_null(0).to_numpy()
    r = rules
    rf, pf = rec.astype(np.float64), prev.astype(np.float64)
    code = _first_rule(
        [since > r.churn_days, tenure < r.new_days, gap0 > r.churn_days,
         (since > r.silent_days) | ((prev > 0) & (rf < r.decline_ratio * pf)),
         (tenure < r.growth_days) | ((rec >= r.min_growth_orders) & (rf >= r.growth_ratio * pf))],
        [STAGES.index(s) for s in ("churned", "new", "reactivated", "declining", "growing")], STAGES.index("mature"))
    stage = pa.array(STAGES).take(pa.array(code))
    group = pa.array([GROUPS.get(s, "active") for s in STAGES]).take(pa.array(code))
    return pa.table({
        "customer_id": rows.column("customer_id"), "stage": stage, "group": group, "first_order_date": first,
        "last_order_date": last, "tenure_days": tenure, "days_since_last": since, "orders": rows.column("orders"),
        "orders_recent": rec, "orders_previous": prev, "max_recent_gap_days": gap}).to_pandas()


def default_dates(engine: KPIEngine, as_of=None, period: str = "month", n: int | None = 12) -> list[dt.date]:
    """Period ends (last day of each month/week) up to ``as_of``, the last ``n`` of them
    (all when ``n`` is None), plus ``as_of`` itself when it is not a period end.

    Parameters
    ----------
    engine : KPIEngine
    as_of : date-like, optional
        Last date (default: the date of the last order).
    period : {"month", "week"}
    n : int or None
        Number of period ends kept.

    Returns
    -------
    list of datetime.date

    Examples
    --------
    >>> from crm_research.kpi.examples import example_engine
    >>> default_dates(example_engine(), n=3)
    [datetime.date(2024, 3, 31), datetime.date(2024, 4, 30), datetime.date(2024, 5, 31), datetime.date(2024, 6, 28)]
    """
    from .engine import index_of_date, last_complete_index

    check_period(period)
    a = engine.as_of(as_of)
    first = index_of_date(engine.min_date(), period)
    last = last_complete_index(a, period)
    dates = [period_end(i, period) for i in range(first, last + 1)]
    if n is not None:
        dates = dates[-n:]
    if not dates or dates[-1] != a:
        dates.append(a)
    return dates


def customer_table(engine: KPIEngine):
    """Every customer with their first order date, stored in the engine (ibis Table).

    Parameters
    ----------
    engine : KPIEngine

    Returns
    -------
    ibis.Table
        ``customer_id, first_date``.

    Examples
    --------
    >>> from crm_research.kpi.examples import example_engine
    >>> eng = example_engine()
    >>> eng.execute(customer_table(eng).count())
    8
    """

    def build():
        if array_plan(engine) is not None:
            return store(engine, "_kpi_customers", customer_first_rows(engine))
        if part_plan(engine) is not None:
            return store_parts(engine, "_kpi_customers", customer_first_parts(engine))
        f = engine.facts
        return engine.materialize(f.filter(f.seq == 1).select("customer_id", "first_date"), "_kpi_customers")

    return engine.cached("customers", build)


def stage_counts(engine: KPIEngine, as_of=None, rules: LifecycleRules = LifecycleRules()) -> dict[str, int]:
    """Customers per stage at one date (reads only the last :func:`lookback_days` of orders).

    Parameters
    ----------
    engine : KPIEngine
    as_of : date-like, optional
        Date of the assessment (default: the date of the last order).
    rules : LifecycleRules

    Returns
    -------
    dict
        Stage -> number of customers (every stage of :data:`STAGES`, zeros included).

    Examples
    --------
    >>> from crm_research.kpi.examples import example_engine
    >>> rules = LifecycleRules(new_days=14, window_days=30, silent_days=30, churn_days=60, growth_days=60)
    >>> stage_counts(example_engine(), rules=rules)
    {'new': 0, 'growing': 1, 'mature': 2, 'declining': 1, 'churned': 2, 'reactivated': 2}
    """
    a = engine.as_of(as_of)
    return _stage_counts(engine, a, rules, _acquired(engine, [a])[0])


def _acquired(engine: KPIEngine, dates) -> list[int]:
    """Customers with a first order on or before each date (one query for all dates)."""
    cust = customer_table(engine)
    res = engine.execute(cust.aggregate(**{f"d{i}": cust.count(where=cust.first_date <= date_literal(d))
                                           for i, d in enumerate(dates)}))
    return [int(res[f"d{i}"].iloc[0]) for i in range(len(dates))]


def _stage_counts(engine: KPIEngine, a: dt.date, rules: LifecycleRules, acquired: int) -> dict[str, int]:
    t = lifecycle_table(engine, a, rules, recent_only=True)
    res = engine.execute(t.group_by("stage").aggregate(customers=t.count()))
    counts = {s: 0 for s in STAGES}
    counts.update({k: int(v) for k, v in zip(res["stage"], res["customers"])})
    counts["churned"] += acquired - sum(counts.values())
    return counts


def stage_shares(engine: KPIEngine, dates=None, rules: LifecycleRules = LifecycleRules(), *,
                 period: str = "month", n: int | None = 12, as_of=None) -> pd.DataFrame:
    """Customers per lifecycle stage at each date.

    Parameters
    ----------
    dates : sequence of date-like, optional
        As-of dates; default :func:`default_dates` (the last ``n`` period ends up to ``as_of``,
        and ``as_of``).

    Returns
    -------
    DataFrame
        ``date, stage, customers, share`` (share of customers acquired by that date); every
        stage appears at every date (0 when empty), stages in lifecycle order.

    Examples
    --------
    >>> from crm_research.kpi.examples import example_engine
    >>> rules = LifecycleRules(new_days=14, window_days=30, silent_days=30, churn_days=60, growth_days=60)
    >>> stage_shares(example_engine(), ['2024-03-31', '2024-06-28'], rules=rules)[['date', 'stage', 'customers', 'share']].head(6)
            date        stage  customers  share
    0 2024-03-31          new          0    0.0
    1 2024-03-31      growing          2    0.4
    2 2024-03-31       mature          1    0.2
    3 2024-03-31    declining          0    0.0
    4 2024-03-31      churned          1    0.2
    5 2024-03-31  reactivated          1    0.2
    """
    dates = _share_dates(engine, dates, period, n, as_of)
    rows = []
    cs = _stage_codes(engine, dates, rules)
    if cs is not None:
        totals = np.zeros((len(dates), len(STAGES)), dtype=np.int64)
        for codes in cs:        # the whole log, or one part of the customers at a time
            counts = _map_dates(engine, lambda k: np.bincount(k[k >= 0], minlength=len(STAGES)), codes)
            totals += np.array(counts, dtype=np.int64).reshape(len(dates), len(STAGES))
        by_date = [dict(zip(STAGES, t.tolist())) for t in totals]
    else:
        by_date = [_stage_counts(engine, d, rules, n) for d, n in zip(dates, _acquired(engine, dates) if dates else [])]
    for d, counts in zip(dates, by_date):
        total = sum(counts.values())
        for s in STAGES:
            k = counts[s]
            rows.append(dict(date=pd.Timestamp(d), stage=s, customers=k, share=k / total if total else np.nan))
    out = pd.DataFrame(rows, columns=["date", "stage", "customers", "share"])
    out["stage"] = pd.Categorical(out["stage"], categories=list(STAGES), ordered=True)
    return out


def stage_transitions(engine: KPIEngine, date_from, date_to, rules: LifecycleRules = LifecycleRules(), *,
                      wide: bool = False) -> pd.DataFrame:
    """Stage transition matrix between two dates.

    Parameters
    ----------
    date_from, date_to : date-like
        ``date_from`` < ``date_to``.
    wide : bool
        Return the crosstab of counts (rows: from stage incl. ``prospect``, columns: to stage).

    Returns
    -------
    DataFrame
        Long: ``from_stage, to_stage, customers, share`` where share = customers / all
        customers in ``from_stage`` (row-normalized transition probabilities). Customers
        acquired after ``date_from`` have ``from_stage = "prospect"``.

    Examples
    --------
    >>> from crm_research.kpi.examples import example_engine
    >>> rules = LifecycleRules(new_days=14, window_days=30, silent_days=30, churn_days=60, growth_days=60)
    >>> stage_transitions(example_engine(), '2024-03-31', '2024-06-28', rules=rules, wide=True)
    to_stage     new  growing  mature  declining  churned  reactivated
    from_stage
    prospect       0        1       0          1        0            1
    new            0        0       0          0        0            0
    growing        0        0       1          0        0            1
    mature         0        0       1          0        0            0
    declining      0        0       0          0        0            0
    churned        0        0       0          0        1            0
    reactivated    0        0       0          0        1            0
    """
    d0, d1 = as_date(date_from, "date_from"), as_date(date_to, "date_to")
    if d1 <= d0:
        raise ValueError("date_to must be after date_from")
    import ibis

    cs = _stage_codes(engine, [d0, d1], rules)
    if cs is not None:
        k = len(STAGES) + 1
        cells = np.zeros((k, len(STAGES)), dtype=np.int64)
        for s0, s1 in cs:        # the whole log, or one part of the customers at a time
            keep = s1 >= 0
            # before the first order at d0: prospect (code len(STAGES)); every stage at d0 else
            f = np.where(s0[keep] >= 0, s0[keep], len(STAGES)).astype(np.intp)   # codes kept as int8: widened
            f *= len(STAGES)
            f += s1[keep]
            cells += np.bincount(f, minlength=k * len(STAGES)).reshape(k, len(STAGES))
        names = list(STAGES) + ["prospect"]
        res = pd.DataFrame([(names[i], STAGES[j], int(cells[i, j])) for i in range(k) for j in range(len(STAGES))
                            if cells[i, j]], columns=["from_stage", "to_stage", "customers"])
        return _transition_table(res, wide)
    t0 = lifecycle_table(engine, d0, rules, recent_only=True).select("customer_id", from_stage="stage")
    t1 = lifecycle_table(engine, d1, rules, recent_only=True).select("customer_id", to_stage="stage")
    cust = customer_table(engine)
    cust = cust.filter(cust.first_date <= date_literal(d1))
    j = cust.left_join(t0, "customer_id").select(cust.customer_id, cust.first_date, t0.from_stage)
    j = j.left_join(t1, "customer_id").select(j.customer_id, j.first_date, j.from_stage, t1.to_stage)
    j = j.mutate(
        from_stage=ibis.cases((j.from_stage.notnull(), j.from_stage),
                              (j.first_date <= date_literal(d0), "churned"), else_="prospect"),
        to_stage=j.to_stage.fill_null("churned"))
    res = engine.execute(j.group_by(["from_stage", "to_stage"]).aggregate(customers=j.count()))
    return _transition_table(res, wide)


def _transition_table(res: pd.DataFrame, wide: bool) -> pd.DataFrame:
    """Counts per (from_stage, to_stage) -> every cell, row shares (or the crosstab)."""
    order_from = ["prospect"] + list(STAGES)
    grid = pd.MultiIndex.from_product([order_from, list(STAGES)], names=["from_stage", "to_stage"])
    res = res.set_index(["from_stage", "to_stage"])["customers"].reindex(grid, fill_value=0).astype("int64")
    out = res.reset_index()
    tot = out.groupby("from_stage")["customers"].transform("sum")
    out["share"] = np.where(tot > 0, out["customers"] / tot.where(tot > 0, 1), np.nan)
    if wide:
        return out.pivot(index="from_stage", columns="to_stage", values="customers").reindex(
            index=order_from, columns=list(STAGES))
    return out


# ---------------------------------------------------------------- many dates by direct addressing
_DIRECT_ID_SPAN = 8          # customer ids used as array positions when max - min < this x customers


@dataclass
class _History:
    """Orders of the window span in date order, customers coded 0..n-1 (see :func:`_history`)."""
    lo: dt.date              # day 0 of ``day``
    code: np.ndarray         # customer code per order, in date order
    day: np.ndarray          # order date (days after ``lo``), sorted
    react: np.ndarray        # the order came more than churn_days after the customer's previous one
    first: np.ndarray        # first order date per customer code (days after ``lo``; may be negative)
    acquired: np.ndarray     # customer code has a first order (every code that is a customer)
    stages: dict = field(default_factory=dict, repr=False)   # date -> stage codes (int8) already computed


def _share_dates(engine: KPIEngine, dates, period: str, n, as_of) -> list:
    dates = default_dates(engine, as_of, period, n) if dates is None else [as_date(d, "dates") for d in dates]
    return [engine.as_of(d) for d in dates]


def _history_key(dates, rules: LifecycleRules):
    lb = lookback_days(rules)
    hi = max(dates)
    # from a year before the last date on, so that stage shares and the default transition matrix
    # (one year back) read the same arrays
    lo = min(min(dates), hi - dt.timedelta(days=366)) - dt.timedelta(days=lb)
    return lo, hi, ("stage_history", lo, hi, lb, int(rules.churn_days))


def prefetch_stage_history(engine: KPIEngine, dates=None, rules: LifecycleRules = LifecycleRules(), *,
                           period: str = "month", n: int | None = 12, as_of=None) -> bool:
    """Start building the arrays :func:`stage_shares` (same arguments) counts stages from, in the background.

    Only on the array path (:mod:`.order_arrays`): the build is numpy work on the order arrays
    (a radix sort by date and gathers, about 0.5 s at 10M orders) that the KPI suite overlaps with
    the churn list's queries (:meth:`KPIEngine.prefetch_call`).

    Parameters
    ----------
    engine : KPIEngine
    dates, rules, period, n, as_of
        As :func:`stage_shares`.

    Returns
    -------
    bool
        True when started.

    Examples
    --------
    >>> from crm_research.kpi.examples import example_engine
    >>> eng = example_engine()
    >>> prefetch_stage_history(eng, ['2024-06-28'])
    True
    >>> int(stage_shares(eng, ['2024-06-28'])['customers'].sum())
    8
    """
    if array_plan(engine) is None:
        return False
    dates = _share_dates(engine, dates, period, n, as_of)
    if not dates:
        return False
    lo, hi, key = _history_key(dates, rules)

    return engine.prefetch_call(key, lambda con, arrays: _history_from_arrays(arrays, lo, hi, rules),
                                order_arrays(engine))


def plan_transitions(engine: KPIEngine, date_from, date_to, rules: LifecycleRules = LifecycleRules()) -> None:
    """Say that :func:`stage_transitions` between these dates will follow :func:`stage_shares`.

    On a log read in parts of its customers (:func:`.order_arrays.part_plan`) every count of
    stages is a pass over the parts; the next such pass then also keeps each customer's stage at
    these two dates (one byte each), and the transitions need no pass of their own. Elsewhere it
    changes nothing.

    Parameters
    ----------
    engine : KPIEngine
    date_from, date_to : date-like
    rules : LifecycleRules

    Examples
    --------
    >>> from crm_research.kpi.examples import example_engine
    >>> from crm_research.kpi.order_arrays import read_in_parts
    >>> eng = example_engine()
    >>> _ = read_in_parts(eng, budget=500)
    >>> plan_transitions(eng, '2024-03-31', '2024-06-28')
    >>> int(stage_shares(eng, ['2024-06-28'])['customers'].sum())
    8
    >>> int(stage_transitions(eng, '2024-03-31', '2024-06-28')['customers'].sum())   # from the kept stages
    8
    """
    wanted = engine.cached(("stage_codes_wanted", rules), set)
    wanted.update((as_date(date_from, "date_from"), as_date(date_to, "date_to")))


def _stage_codes(engine: KPIEngine, dates, rules: LifecycleRules):
    """Stage codes per customer at each date (:func:`_stages_at`): an iterable of lists of arrays
    (one list for the whole log, or one per part of the customers where the orders are read in
    parts: counts are sums over the parts), or None where the engine runs the rules."""
    if not dates:
        return None
    if part_plan(engine) is None:
        h = _history(engine, dates, rules)
        if h is None:
            return None
        # each date once (the stage shares end at as_of, where the default transitions end too)
        todo = [d for d in dict.fromkeys(dates) if d not in h.stages]
        h.stages.update(zip(todo, _map_dates(engine, lambda d: _stages_at(h, d, rules), todo)))
        return [[h.stages[d] for d in dates]]
    return _part_stage_codes(engine, list(dates), rules)


def _part_stage_codes(engine: KPIEngine, dates: list, rules: LifecycleRules):
    kept = engine.cached(("stage_codes", rules), dict)       # (part, date) -> int8 codes
    wanted = engine.cached(("stage_codes_wanted", rules), set)
    n_parts = len(part_plan(engine).parts)
    if all((k, d) in kept for k in range(n_parts) for d in dates):
        for k in range(n_parts):
            yield [kept[(k, d)] for d in dates]
        return
    every = dates + sorted(wanted - set(dates) - {d for k_d in kept for d in k_d[1:]})
    lo, hi, _ = _history_key(every, rules)
    for k, a in enumerate(order_parts(engine)):
        h = _history_from_arrays(a, lo, hi, rules)
        codes = _map_dates(engine, lambda d, h=h: _stages_at(h, d, rules), every)
        for d, c in zip(every, codes):
            if d in wanted:
                kept[(k, d)] = c.astype(np.int8, copy=False)
        del h
        yield codes[:len(dates)]
        # the part's history and its per-date temporaries, freed on two threads' heaps: back to
        # the system before the next part's (100M orders in time order: the stage shares' peak
        # RSS 2.85 -> 2.52 GiB for ~0.9 s; trimming between the parts of every pass cost ~7 s)
        release_free_memory()


def _history(engine: KPIEngine, dates, rules: LifecycleRules) -> "_History | None":
    """The orders that decide the stages at ``dates``, as numpy arrays (DuckDB, integer customer ids).

    Stages at many dates are customer-level counts over windows of the order history; with the
    orders in date order every window is a contiguous slice, and with customers numbered 0..n-1
    each count is one ``bincount``: no hash table per date (12 dates of a 10M-order log: about a
    third of the engine's time). None when the engine is not DuckDB, customer ids are not
    integers, or the arrays would not fit a quarter of the memory limit: the callers then run
    the same rules in the engine.
    """
    if getattr(engine.backend, "name", "") != "duckdb" or engine.con is None or not dates:
        return None
    if not customer_table(engine).schema()["customer_id"].is_integer():
        return None
    lo, hi, key = _history_key(dates, rules)
    # started in the background by prefetch_stage_history, or built now
    return engine.cached(key, lambda: engine.collect(key) or _fetch_history(engine, lo, hi, rules))


def _fetch_history(engine: KPIEngine, lo: dt.date, hi: dt.date, rules: LifecycleRules) -> "_History | None":
    import ibis

    from .distinct import memory_budget

    plan = array_plan(engine)
    if plan is not None:      # from the customer-sorted arrays: no pass over the facts
        return _history_from_arrays(order_arrays(engine), lo, hi, rules)
    cust = customer_table(engine)
    con = engine.con
    D0 = f"DATE '{lo.isoformat()}'"
    csql = ibis.to_sql(cust, dialect="duckdb")
    n_cust, id_lo, id_hi = con.execute(f"SELECT count(*), min(customer_id), max(customer_id) FROM ({csql})").fetchone()
    fsql = ibis.to_sql(engine.facts, dialect="duckdb")
    where = f"order_date > {D0} AND order_date <= DATE '{hi.isoformat()}'"
    n_rows = con.execute(f"SELECT count(*) FROM ({fsql}) WHERE {where}").fetchone()[0]
    if not n_cust or id_lo is None:
        return None
    span = int(id_hi) - int(id_lo) + 1
    direct = span <= _DIRECT_ID_SPAN * n_cust
    n_codes = span if direct else n_cust
    if 24 * n_rows + 40 * n_codes + 24 * n_cust > memory_budget(con):
        return None
    c = con.sql(f"SELECT customer_id, CAST(first_date - {D0} AS INTEGER) AS f FROM ({csql})").fetchnumpy()
    ids = np.asarray(c["customer_id"], dtype=np.int64)
    if direct:
        ccode = ids - int(id_lo)
    else:
        index = pd.Index(ids)
        ccode = np.arange(len(ids))
    first = np.zeros(n_codes, dtype=np.int64)
    first[ccode] = np.asarray(c["f"], dtype=np.int64)
    acquired = np.zeros(n_codes, dtype=bool)
    acquired[ccode] = True
    # small types and DuckDB's parallel sort: the arrays arrive in date order
    cid = f"CAST(customer_id - {int(id_lo)} AS INTEGER)" if direct and n_codes < 2 ** 31 else "customer_id"
    dtype = "USMALLINT" if (hi - lo).days < 65536 else "INTEGER"
    o = con.sql(f"SELECT {cid} AS c, CAST(order_date - {D0} AS {dtype}) AS d, "
                    f"coalesce(gap_days > {int(rules.churn_days)}, false) AS g FROM ({fsql}) WHERE {where} "
                    f"ORDER BY d").fetchnumpy()
    code = np.asarray(o["c"])
    if cid == "customer_id":
        code = (code - int(id_lo)) if direct else index.get_indexer(code)
    code = code.astype(np.intp, copy=False)       # bincount's index type: no conversion per window
    return _History(lo=lo, code=code, day=np.asarray(o["d"]).astype(np.int64), react=np.asarray(o["g"], dtype=bool),
                    first=first, acquired=acquired)


def _history_from_arrays(a: OrderArrays, lo: dt.date, hi: dt.date, rules: LifecycleRules) -> _History:
    with small_pages():
        L = day_number(lo)
        starts = a.starts()
        n_codes = int(a.code[-1]) + 1
        first = np.zeros(n_codes, dtype=np.int64)
        first[a.code[starts]] = a.day[starts].astype(np.int64) - L
        acquired = np.zeros(n_codes, dtype=bool)
        acquired[a.code[starts]] = True
        react = a.gaps() > int(rules.churn_days)        # a first order (gap -1) has no previous one
        inside = (a.day > L) & (a.day <= day_number(hi))
        c_bits = max(1, (n_codes - 1).bit_length())
        shift = c_bits + 1
        if shift + max(1, (hi - lo).days.bit_length()) > 63:   # pragma: no cover - ids beyond 2**50
            sel = np.flatnonzero(inside)
            day = a.day[inside] - L
            order = np.argsort(day, kind="stable")
            sel = sel[order]
            return _History(lo=lo, code=a.code[sel].astype(np.intp, copy=False), day=day[order].astype(np.int64),
                            react=react[sel], first=first, acquired=acquired)
        # one sort of packed keys (day, customer code, reactivation flag) instead of an argsort and
        # four gathers by its permutation (random reads: 10M orders 0.63 -> 0.2 s); the order of a
        # day's orders is free (every count over them is a bincount)
        key = np.subtract(a.day[inside], L, dtype=np.int64)
        key <<= shift
        code = a.code[inside].astype(np.int64, copy=False)
        code <<= 1
        key |= code
        key |= react[inside]
        key.sort()
        np.right_shift(key, 1, out=code)
        code &= (1 << c_bits) - 1
        flag = np.empty(len(key), dtype=bool)
        np.bitwise_and(key, 1, out=flag, casting="unsafe")
        key >>= shift
        return _History(lo=lo, code=code.astype(np.intp, copy=False), day=key, react=flag,
                        first=first, acquired=acquired)


def _map_dates(engine: KPIEngine, fn, dates) -> list:
    """``fn`` of each date, on DuckDB's thread count (the dates are independent; numpy releases
    the GIL in most of the work: 12 dates of a 10M-order log 0.49 -> 0.36 s on two cores)."""
    from concurrent.futures import ThreadPoolExecutor

    threads = min(worker_threads(engine), len(dates))
    with small_pages():
        if threads <= 1:
            return [fn(d) for d in dates]
        with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="kpi-stages") as ex:
            return list(ex.map(fn, dates))


def _stages_at(h: _History, a: dt.date, rules: LifecycleRules) -> np.ndarray:
    """Stage code (index into :data:`STAGES`, int8) per customer code at ``a``; -1 before the first order.

    The rules of :func:`lifecycle_table`: days since the last order above a threshold X is "no
    order in the last X + 1 days", so every quantity is an order count over a window ``(a - X, a]``.
    """
    n = len(h.first)
    A = (a - h.lo).days

    def since(days):          # orders on days (A - days, A] -> index range of the date-sorted arrays
        return np.searchsorted(h.day, A - days, side="right")

    end = np.searchsorted(h.day, A, side="right")
    W = int(rules.window_days)
    seen = np.bincount(h.code[since(lookback_days(rules)):end], minlength=n)
    p = np.flatnonzero(seen > 0)       # customers with an order in the lookback (a bool scan: 8x faster than of the counts)

    def count(start, stop=end, mask=None):
        c = h.code[start:stop] if mask is None else h.code[start:stop][mask[start:stop]]
        return np.bincount(c, minlength=n)[p]

    rec = count(since(W))
    prev = count(since(2 * W), since(W))
    silent = count(since(int(rules.silent_days) + 1)) == 0     # last order more than X days ago:
    if lookback_days(rules) == int(rules.churn_days) + 1:      # the lookback is that window: every p has an order
        churned = np.zeros(len(p), dtype=bool)
    else:
        churned = count(since(int(rules.churn_days) + 1)) == 0     # none in (a - X - 1, a]
    react = count(since(W), mask=h.react) > 0
    tenure = A - h.first[p]
    rf, pf = rec.astype(np.float64), prev.astype(np.float64)
    out = np.full(n, STAGES.index("churned"), dtype=np.int8)
    out[p] = _first_rule(
        [churned, tenure < rules.new_days, react,
         silent | ((prev > 0) & (rf < rules.decline_ratio * pf)),
         (tenure < rules.growth_days) | ((rec >= rules.min_growth_orders) & (rf >= rules.growth_ratio * pf))],
        [STAGES.index("churned"), STAGES.index("new"), STAGES.index("reactivated"), STAGES.index("declining"),
         STAGES.index("growing")], STAGES.index("mature"))
    return np.where(h.acquired & (h.first <= A), out, np.int8(-1))


def _first_rule(holds: list, codes: list, default: int) -> np.ndarray:
    """``np.select(holds, codes, default)`` as int8: the code of the first rule that holds.

    The rules that hold form a small bit pattern per customer, and one lookup in a table of
    every pattern gives the code (five rules over 600K customers: 6.1 -> 1.0 ms; np.select copies
    each code into a full array under its mask).

    >>> _first_rule([np.array([True, False, False]), np.array([True, True, False])], [7, 8], 9).tolist()
    [7, 8, 9]
    """
    table = np.array([next((c for j, c in enumerate(codes) if i >> j & 1), default) for i in range(1 << len(holds))],
                     dtype=np.int8)
    pattern = holds[0].astype(np.uint8)
    bit = np.empty(len(pattern), np.uint8)
    for j, hold in enumerate(holds[1:], start=1):
        np.left_shift(hold.view(np.uint8), j, out=bit)
        pattern |= bit
    return np.take(table, pattern)

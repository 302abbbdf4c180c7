"""RFM scores and named segments (R1 customer classification, R3 customer value).

Measures per customer, orders on or before ``as_of``:
``recency_days`` (days from the last order to ``as_of``), ``frequency`` (orders),
``monetary`` (total spend; ``monetary="mean"`` for the mean order value).

Scores (quintiles for ``bins=5``; 5 is best)
--------------------------------------------
``score = 1 + floor(bins * (rank - 1) / n)`` where ``n`` is the number of customers and ``rank``
the 1-based *minimum* rank (SQL ``RANK()``) of the customer's value, ordered so that better
values rank higher: recency by days *descending* (the most recent customers get the top
score), frequency and monetary ascending. Ties share one rank and therefore one score, so the
result is deterministic and never splits equal customers; with many ties (most customers have
one order) the classes are unequal and some scores may be unused (all one-order customers
get ``F = 1``).

Recency judged by the data's own purchase cycle
-----------------------------------------------
Quantile scores alone say nothing about how long ago "recent" is: where most customers buy
once (CDNOW: 1,411 of 2,357), the middle recency quintile can be customers last seen well
over a year ago. So before the segment rules are applied, the R score is capped by
``recency_cycles`` = ``recency_days`` / the data's **purchase cycle**, the median gap in days
between consecutive purchase days of the same customer over all customers (orders up to
``as_of``; without any repeat purchase: the days from the first order to ``as_of`` divided by
``bins``). :data:`RECENCY_CAPS`:

================================ =========================================
recency_cycles                   R used for the segment at most
================================ =========================================
<= 1 (within one cycle)          5 ("recent": Champions, New, ...)
<= 2                             3 ("recent-ish": Promising, Loyal)
<= 4                             2 ("fading": About to sleep, At risk)
> 4                              1 (Lost, Hibernating, Can't lose them)
================================ =========================================

So a segment that claims recency never holds a customer older than its rule: R 4-5 segments
have ``recency_cycles <= 1``, R >= 3 segments ``<= 2``, R >= 2 segments ``<= 4``.
``r_score`` and ``rfm_cell`` stay the plain quantile scores. The rules and the cycle are in
``attrs['segment_rules']`` and ``attrs['purchase_cycle_days']`` of :func:`rfm_scores`.

Segments (:data:`RFM_SEGMENTS`, first matching rule wins; capped R and F scores)
--------------------------------------------------------------------------------
================== ======= ======= =========================================================
segment            R       F       reading / typical CRM action
================== ======= ======= =========================================================
Champions          4-5     4-5     bought recently, buy often: reward, early access
Loyal              3-5     3-5     regular buyers: membership tiers, cross-sell
Potential loyalist 4-5     2-3     recent, second purchases: loyalty programme offers
New                4-5     1       first purchase recently: onboarding, second-order coupon
Promising          3       1-2     recent-ish, few orders: personalised recommendations
Can't lose them    1       4-5     used to buy often, gone quiet: win-back, contact
At risk            1-2     3-5     frequent before, slipping: reactivation offers
About to sleep     2       1-2     few orders, fading: reminders
Hibernating        1       2       long inactive, few orders: low-cost campaigns
Lost               1       1       one order long ago: exclude or last-chance offer
================== ======= ======= =========================================================

The grid covers all 25 R x F cells. The monetary score is reported (and ``rfm_cell``/
``rfm_score`` use it) but segment names follow the classic R x F grid, so that "New" means a
single recent order whatever its size. Thresholds refer to scores on a 1-5 scale; with
another ``bins`` they apply after rescaling ``ceil(score * 5 / bins)``.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .customer_summary import customer_summary, day_numbers, summary_rows
from .engine import KPIEngine, date_literal, quiet_ibis
from .sums import exact_mean, exact_sum
from .order_arrays import day_number, has_arrays, positive_gap_histogram

RFM_SEGMENTS = pd.DataFrame(
    [("Champions", 4, 5, 4, 5, "bought recently, buy often: reward, early access"),
     ("Loyal", 3, 5, 3, 5, "regular buyers: membership tiers, cross-sell"),
     ("Potential loyalist", 4, 5, 2, 3, "recent, second purchases: loyalty programme offers"),
     ("New", 4, 5, 1, 1, "first purchase recently: onboarding, second-order coupon"),
     ("Promising", 3, 3, 1, 2, "recent-ish, few orders: personalised recommendations"),
     ("Can't lose them", 1, 1, 4, 5, "used to buy often, gone quiet: win-back, contact"),
     ("At risk", 1, 2, 3, 5, "frequent before, slipping: reactivation offers"),
     ("About to sleep", 2, 2, 1, 2, "few orders, fading: reminders"),
     ("Hibernating", 1, 1, 2, 2, "long inactive, few orders: low-cost campaigns"),
     ("Lost", 1, 1, 1, 1, "one order long ago: exclude or last-chance offer")],
    columns=["segment", "r_min", "r_max", "f_min", "f_max", "description"])

RECENCY_CAPS = ((1.0, 5), (2.0, 3), (4.0, 2))   # (max recency_cycles, max R for the segment); beyond: 1

RFM_COLUMNS = ["customer_id", "recency_days", "frequency", "monetary", "r_score", "f_score",
               "m_score", "rfm_cell", "rfm_score", "recency_cycles", "segment"]
SEGMENT_SUMMARY_COLUMNS = ["segment", "customers", "share", "mean_recency_days", "mean_frequency",
                           "mean_monetary", "revenue", "revenue_share", "description"]


def purchase_cycle(engine: KPIEngine, as_of=None, *, bins: int = 5) -> float:
    """The data's purchase cycle in days: median gap between a customer's consecutive purchase days.

    Parameters
    ----------
    engine : KPIEngine
    as_of : date-like, optional
        Orders up to this date (default: the last order date).
    bins : int
        Without any repeat purchase the cycle is the days from the first order to ``as_of``
        divided by ``bins`` (at least 1).

    Returns
    -------
    float

    Examples
    --------
    >>> from crm_research.kpi.examples import example_engine
    >>> purchase_cycle(example_engine())
    27.5
    """
    a = engine.as_of(as_of)

    def median_gap():
        # gaps are whole days: the exact median from their histogram (a few hundred rows), one
        # hash aggregation instead of sorting every gap, and exact on every backend
        if has_arrays(engine):
            return histogram_median(*positive_gap_histogram(engine, day_number(a)))
        f = engine.facts_until(a)
        f = f.filter(f.gap_days > 0)
        h = engine.execute(f.group_by("gap_days").aggregate(n=f.count()))
        return histogram_median(h["gap_days"].to_numpy(), h["n"].to_numpy())

    v = engine.cached(("purchase_cycle", a), median_gap)
    if v is not None and not pd.isna(v) and float(v) > 0:
        return float(v)
    span = (a - engine.min_date()).days
    return max(1.0, span / bins)


def order_statistics(engine: KPIEngine, col, positions, *, descending: bool = False) -> list:
    """Values at 1-based positions of a column sorted ascending (or descending), computed in the engine.

    Parameters
    ----------
    engine : KPIEngine
    col : ibis column
        A column of one table; NULLs are not counted.
    positions : sequence of int
        1-based positions in sort order (ties in any order: the value is the same).
    descending : bool
        Sort descending.

    Returns
    -------
    list
        One value per position (NaN/None beyond the number of values).

    Examples
    --------
    >>> from crm_research.kpi.examples import example_engine
    >>> eng = example_engine()
    >>> order_statistics(eng, eng.orders.amount, [1, 2, 24])
    [10.0, 11.0, 80.0]
    >>> v = sorted(eng.execute(eng.orders.amount))
    >>> [v[0], v[1], v[23]], order_statistics(eng, eng.orders.amount, [1], descending=True) == [max(v)]
    ([10.0, 11.0, 80.0], True)
    """
    import ibis

    positions = [int(p) for p in positions]
    if not positions:
        return []
    t = col.name("v").as_table()
    t = t.filter(t.v.notnull())
    t = t.mutate(pos=ibis.row_number().over(ibis.window(order_by=t.v.desc() if descending else t.v.asc())) + 1)
    got = engine.execute(t.filter(t.pos.isin(sorted(set(positions)))).select("pos", "v"))
    at = dict(zip(got["pos"].astype("int64"), got["v"]))
    return [at.get(p, np.nan) for p in positions]


def histogram_median(values, counts) -> float:
    """The median (mean of the two middle values for an even count) from a histogram.

    Parameters
    ----------
    values : array-like
        Distinct values.
    counts : array-like
        How often each occurs.

    Returns
    -------
    float
        NaN for an empty histogram.

    Examples
    --------
    >>> histogram_median([3, 1, 2], [1, 2, 1])      # 1, 1, 2, 3
    1.5
    >>> histogram_median([5, 1], [3, 1])            # 1, 5, 5, 5
    5.0
    """
    v = np.asarray(values, dtype=float)
    k = np.asarray(counts, dtype=np.int64)
    if len(v) == 0 or k.sum() == 0:
        return float("nan")
    order = np.argsort(v, kind="stable")
    v, cum = v[order], np.cumsum(k[order])
    n = int(cum[-1])
    lo = v[np.searchsorted(cum, (n - 1) // 2, side="right")]
    hi = v[np.searchsorted(cum, n // 2, side="right")]
    return float((lo + hi) / 2.0)


def segment_rules_text(cycle_days: float, segments: pd.DataFrame = None) -> str:
    """The segment rules in words, with the purchase cycle (for ``attrs`` and reports).

    Parameters
    ----------
    cycle_days : float
        :func:`purchase_cycle`.
    segments : DataFrame, optional
        Segment rules (default :data:`RFM_SEGMENTS`).

    Returns
    -------
    str

    Examples
    --------
    >>> print(segment_rules_text(30.0).splitlines()[0])
    R and F are quantile scores 1-5 (5 = most recent / most orders); purchase cycle 30 days (median gap between repeat purchases).
    """
    segments = RFM_SEGMENTS if segments is None else segments
    lines = [f"R and F are quantile scores 1-5 (5 = most recent / most orders); purchase cycle {cycle_days:g} days "
             "(median gap between repeat purchases).",
             "R is capped before segmenting: " + "; ".join(
                 f"last order within {lim:g} cycle{'s' if lim != 1 else ''} ({lim * cycle_days:g} days) -> R at most {r}"
                 for lim, r in RECENCY_CAPS) + f"; older -> R 1."]
    for r in segments.itertuples():
        lines.append(f"{r.segment}: R {r.r_min}-{r.r_max}, F {r.f_min}-{r.f_max} ({r.description})")
    return "\n".join(lines)


def rfm_table(engine: KPIEngine, as_of=None, *, bins: int = 5, monetary: str = "total",
              segments: pd.DataFrame = RFM_SEGMENTS):
    """RFM measures, scores and segment per customer as an ibis Table (runs in the engine).

    Parameters
    ----------
    engine, as_of, bins, monetary, segments
        As in :func:`rfm_scores`.

    Returns
    -------
    ibis.Table
        The columns of :func:`rfm_scores`.

    Raises
    ------
    ValueError
        ``bins`` < 2 or an unknown ``monetary``.

    Examples
    --------
    >>> from crm_research.kpi.examples import example_engine
    >>> eng = example_engine()
    >>> eng.execute(rfm_table(eng).count())
    8
    >>> rfm_table(eng, bins=1)
    Traceback (most recent call last):
    ...
    ValueError: bins must be >= 2
    """
    import ibis

    if bins < 2:
        raise ValueError("bins must be >= 2")
    if monetary not in ("total", "mean"):
        raise ValueError("monetary must be 'total' or 'mean'")
    a = engine.as_of(as_of)
    if monetary == "total":   # from the shared per-customer aggregates (no pass over the orders)
        s = customer_summary(engine, a)
        c = s.select("customer_id", last_date=s.last_order_date, frequency=s.orders, monetary=s.total_spend)
    else:
        f = engine.facts_until(a)
        c = f.group_by("customer_id").aggregate(
            last_date=f.order_date.max(), frequency=f.count(), monetary=exact_mean(f.amount))
    c = c.mutate(recency_days=date_literal(a).delta(c.last_date, unit="day"))
    cycle = purchase_cycle(engine, a, bins=bins)
    c = c.mutate(recency_cycles=c.recency_days.cast("float64") / cycle)
    if monetary == "mean":   # scores read the measures several times: compute them once
        c = engine.materialize(c, f"_kpi_rfm_measures_{a:%Y%m%d}")
    n = int(engine.execute(c.count()))

    def score(col, descending=False):
        # 1 + floor(bins * r / n), r the 0-based minimum rank, is 1 + the number of class
        # bounds the value passes, the bounds being order statistics: r >= ceil(k n / bins)
        # exactly when the value lies beyond the ceil(k n / bins)-th value in rank order. One
        # sort of one column finds them, instead of a ranking window over whole rows per score
        bounds = order_statistics(engine, c[col], [(k * n + bins - 1) // bins for k in range(1, bins)],
                                  descending=descending)
        passed = [(c[col] < x) if descending else (c[col] > x) for x in bounds]
        return (1 + sum(p.cast("int64") for p in passed)).cast("int64") if passed else ibis.literal(1)

    c = c.mutate(r_score=score("recency_days", descending=True), f_score=score("frequency"),
                 m_score=score("monetary"))
    r5 = c.r_score if bins == 5 else ((c.r_score * 5 + bins - 1) // bins)
    cap = ibis.cases(*[(c.recency_cycles <= lim, r) for lim, r in RECENCY_CAPS], else_=1)
    r5 = ibis.least(r5, cap)
    f5 = c.f_score if bins == 5 else ((c.f_score * 5 + bins - 1) // bins)
    branches = [((r5 >= int(s.r_min)) & (r5 <= int(s.r_max)) & (f5 >= int(s.f_min)) & (f5 <= int(s.f_max)), s.segment)
                for s in segments.itertuples()]
    seg = ibis.cases(*branches, else_="Unclassified")
    c = c.mutate(segment=seg, rfm_score=c.r_score + c.f_score + c.m_score,
                 rfm_cell=c.r_score.cast("string") + c.f_score.cast("string") + c.m_score.cast("string"))
    return c.select(*RFM_COLUMNS)


def _rfm_of_summary(rows, a, cycle: float, bins: int, segments: pd.DataFrame) -> pd.DataFrame:
    """:func:`rfm_table` (total spend) on the columns of :func:`~.customer_summary.summary_rows`."""
    import pyarrow as pa

    recency = day_number(a) - day_numbers(rows.column("last_order_date"))
    frequency = rows.column("orders").to_numpy()
    monetary = rows.column("total_spend").to_numpy()
    n = len(recency)

    def score(v, descending=False):
        # as in rfm_table: 1 + the number of class bounds passed, the bounds being the values at
        # 1-based positions ceil(k n / bins) in sort order (one partial sort finds them all)
        pos = [(k * n + bins - 1) // bins - 1 for k in range(1, bins)]
        w = -v if descending else v
        bounds = np.partition(w, pos)[pos] if n else []
        out = np.ones(n, dtype=np.int64)
        for b in bounds:
            out += w > b
        return out

    r, f, m = score(recency, descending=True), score(frequency), score(monetary)
    cycles = recency.astype(np.float64) / cycle
    r5 = r if bins == 5 else (r * 5 + bins - 1) // bins
    cap = np.select([cycles <= lim for lim, _ in RECENCY_CAPS], [rr for _, rr in RECENCY_CAPS], 1)
    r5 = np.minimum(r5, cap)
    f5 = f if bins == 5 else (f * 5 + bins - 1) // bins
    # the segment of every (R, F) pair (scores 1-5: a small table), then one lookup per customer
    # instead of four comparisons per segment and customer (1.25M customers: ~60 -> ~5 ms)
    hi = int(max(r5.max(), f5.max())) + 1 if n else 1
    R, F = np.meshgrid(np.arange(hi), np.arange(hi), indexing="ij")
    table = np.select([(R >= int(x.r_min)) & (R <= int(x.r_max)) & (F >= int(x.f_min)) & (F <= int(x.f_max))
                       for x in segments.itertuples()], np.arange(len(segments)), len(segments))
    seg = table[r5, f5]
    labels = pa.array([str(x) for x in segments["segment"]] + ["Unclassified"])
    # the cell "RFM" as text: one label per combination of scores (bins**3 of them)
    cells = pa.array([f"{i}{j}{k}" for i in range(bins + 1) for j in range(bins + 1) for k in range(bins + 1)])
    cell = cells.take(pa.array((r * (bins + 1) + f) * (bins + 1) + m))
    return pa.table({
        "customer_id": rows.column("customer_id"), "recency_days": recency, "frequency": frequency,
        "monetary": monetary, "r_score": r, "f_score": f, "m_score": m, "rfm_cell": cell, "rfm_score": r + f + m,
        "recency_cycles": cycles, "segment": labels.take(pa.array(seg))}).to_pandas()


def rfm_scores(engine: KPIEngine, as_of=None, *, bins: int = 5, monetary: str = "total",
               segments: pd.DataFrame = RFM_SEGMENTS) -> pd.DataFrame:
    """RFM measures, scores (1..bins) and segment for every customer.

    Parameters
    ----------
    engine : KPIEngine
    as_of : date-like, optional
        Date of the assessment (default: the date of the last order).
    bins : int
        Number of score classes (quantile ranks; 5 = quintiles, 5 = best).
    monetary : {"total", "mean"}
        Total spend or mean order value.
    segments : DataFrame
        Segment rules (:data:`RFM_SEGMENTS`).

    Returns
    -------
    DataFrame
        ``customer_id, recency_days, frequency, monetary, r_score, f_score, m_score,
        rfm_cell`` (e.g. ``"545"``), ``rfm_score`` (R + F + M), ``recency_cycles`` (recency in
        purchase cycles), ``segment``; sorted by customer. ``attrs['purchase_cycle_days']`` and
        ``attrs['segment_rules']`` document the rules.

    Examples
    --------
    >>> from crm_research.kpi.examples import example_engine
    >>> rfm_scores(example_engine())[['customer_id', 'recency_days', 'frequency', 'monetary', 'rfm_cell', 'segment']]
       customer_id  recency_days  frequency  monetary rfm_cell             segment
    0            1            27          7     200.0      254             At risk
    1            2           105          2      33.0      121         Hibernating
    2            3           155          1      60.0      112                Lost
    3            4             8          4      72.0      443           Champions
    4            5             3          5     250.0      445           Champions
    5            6            13          2      52.0      322           Promising
    6            7            54          1      80.0      214      About to sleep
    7            8             0          2      21.0      521  Potential loyalist
    """
    rows = summary_rows(engine, as_of) if monetary == "total" and bins >= 2 else None
    if rows is not None:     # the orders are held as arrays: the same scores from the summary's columns
        df = _rfm_of_summary(rows, engine.as_of(as_of), purchase_cycle(engine, as_of, bins=bins), bins, segments)
    else:
        t = rfm_table(engine, as_of, bins=bins, monetary=monetary, segments=segments)
        df = engine.execute(t.order_by("customer_id"))
    for col in ("recency_days", "frequency", "r_score", "f_score", "m_score", "rfm_score"):
        df[col] = df[col].astype("int64")
    df = df.reset_index(drop=True)
    cycle = purchase_cycle(engine, as_of, bins=bins)
    df.attrs["purchase_cycle_days"] = cycle
    df.attrs["segment_rules"] = segment_rules_text(cycle, segments)
    return df


def rfm_segment_summary(scores, segments: pd.DataFrame = RFM_SEGMENTS) -> pd.DataFrame:
    """Customers, means and revenue per segment, in the order of the rule table.

    ``scores`` is the :func:`rfm_scores` DataFrame or the :func:`rfm_table` ibis Table (then
    the aggregation runs in the engine).

    Parameters
    ----------
    scores : DataFrame or ibis.Table
        :func:`rfm_scores` or :func:`rfm_table` output.
    segments : DataFrame
        Segment rules (:data:`RFM_SEGMENTS`): their order is the row order.

    Returns
    -------
    DataFrame
        ``segment, customers, share, mean_recency_days, mean_frequency, mean_monetary, revenue,
        revenue_share, description`` (``revenue`` = sum of ``monetary``; with
        ``monetary="mean"`` it is a sum of means, so read the shares only for totals).

    Examples
    --------
    >>> from crm_research.kpi.examples import example_engine
    >>> rfm_segment_summary(rfm_scores(example_engine()))[['segment', 'customers', 'share', 'revenue_share']].round(3)
                  segment  customers  share  revenue_share
    0           Champions          2  0.250          0.419
    1  Potential loyalist          1  0.125          0.027
    2           Promising          1  0.125          0.068
    3             At risk          1  0.125          0.260
    4      About to sleep          1  0.125          0.104
    5         Hibernating          1  0.125          0.043
    6                Lost          1  0.125          0.078
    """
    if isinstance(scores, pd.DataFrame):
        g = scores.groupby("segment", sort=False)
        out = pd.DataFrame({
            "customers": g.size(),
            "mean_recency_days": g["recency_days"].mean(),
            "mean_frequency": g["frequency"].mean(),
            "mean_monetary": g["monetary"].mean(),
            "revenue": g["monetary"].sum()})
    else:   # an ibis table (rfm_table) kept in the engine: aggregate there
        t = scores
        out = t.group_by("segment").aggregate(
            customers=t.count(), mean_recency_days=t.recency_days.mean(), mean_frequency=t.frequency.mean(),
            mean_monetary=exact_mean(t.monetary), revenue=exact_sum(t.monetary))

        with quiet_ibis():
            out = out.to_pyarrow().to_pandas().set_index("segment")
    order = list(segments["segment"]) + [s for s in out.index if s not in set(segments["segment"])]
    out = out.reindex(order).dropna(how="all", subset=["customers"]) if len(out) else out
    out.index.name = "segment"
    out = out.reset_index()
    if out.empty:
        return pd.DataFrame(columns=SEGMENT_SUMMARY_COLUMNS)
    out["customers"] = out["customers"].astype("int64")
    out["share"] = out["customers"] / out["customers"].sum()
    out["revenue_share"] = out["revenue"] / out["revenue"].sum()
    out = out.merge(segments[["segment", "description"]], on="segment", how="left")
    return out[SEGMENT_SUMMARY_COLUMNS]

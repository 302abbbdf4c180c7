"""Product lifecycle stage (R0: 引入期 introduction, 成长期 growth, 成熟期 maturity, 衰退期 decline).

Method
------
1. Sales series: per product and calendar period, ``orders`` (order lines; the default
   measure) or ``revenue``, from the product's first sale period to the last complete period
   at ``as_of``; periods without sales count as 0.
2. Smoothing: trailing moving average over ``smooth`` periods (``s_t``); the first periods
   average what exists.
3. ``level`` = s_T / max(s_1..s_T): the current smoothed sales relative to the product's peak so
   far. ``growth`` = s_T / s_{T-lag} - 1 over ``lag`` periods (+inf when s_{T-lag} = 0 < s_T;
   NaN when the product is younger than ``lag + 1`` periods).
4. Stage, first rule that holds (thresholds are fields of :class:`ProductLifecycleRules`):

   ================ =======================================================================
   ``introduction`` ``age_periods`` (periods since first sale, counting both ends) <=
                    ``intro_periods``
   ``growth``       growth >= ``growth_threshold``
   ``decline``      level < ``decline_level``, or growth <= -``growth_threshold``
   ``maturity``     otherwise: near its peak and flat
   ================ =======================================================================

So a product far below its peak but rebounding counts as growing again, one near its peak
but falling fast as declining.

:func:`product_stage_kpis` then compares the stages over the last ``window_periods`` complete
periods: products, orders, revenue and its share, buyers, the share of order lines that were
a customer's first order ever (the stage's role in acquisition), the share of buyers who bought
the same product more than once, and the average line value.

On DuckDB with integer ids the sales and the window's aggregates come from one numpy stream over
the order lines (:mod:`~crm_research.kpi.product_arrays`) instead of the engine's queries below;
the tables are the same.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from ..errors import ConfigError
from .lifecycle import customer_table
from .order_arrays import has_arrays
from .product_arrays import drop_pass, product_pass, product_plan, stage_rows
from .engine import (KPIEngine, date_literal, add_period_columns, check_period, last_complete_index, memtable,
                     period_end, period_index, period_start_of_index, timestamp_literal)
from .sums import exact_sum

PRODUCT_STAGES = ("introduction", "growth", "maturity", "decline")
PRODUCT_STAGE_ZH = {"introduction": "引入期", "growth": "成长期", "maturity": "成熟期", "decline": "衰退期"}
PRODUCT_COLUMNS = ["product_id", "category", "first_period", "age_periods", "last_period_sales",
                   "smoothed_sales", "peak_smoothed_sales", "peak_period", "level", "growth", "stage"]
STAGE_KPI_COLUMNS = ["stage", "products", "orders", "revenue", "revenue_share", "buyers",
                     "first_order_share", "repeat_buyer_share", "avg_line_value"]


@dataclass(frozen=True)
class ProductLifecycleRules:
    """Thresholds of the product lifecycle rules (periods are calendar periods).

    Parameters
    ----------
    measure : {"orders", "revenue"}
        The sales series.
    smooth : int
        Periods of the moving average.
    lag : int
        Growth is measured over this many periods of the smoothed series.
    intro_periods : int
        Introduction: the product's first this many periods.
    growth_threshold : float
        Growth: smoothed growth above this (> 0).
    decline_level : float
        Decline: smoothed sales below this share of the product's own peak (0, 1).

    Raises
    ------
    ValueError
        A threshold outside its range.

    Examples
    --------
    >>> ProductLifecycleRules(measure='revenue').measure
    'revenue'
    >>> ProductLifecycleRules(measure='units')
    Traceback (most recent call last):
    ...
    ValueError: measure must be 'orders' or 'revenue'
    """

    measure: str = "orders"
    smooth: int = 3
    lag: int = 3
    intro_periods: int = 3
    growth_threshold: float = 0.2
    decline_level: float = 0.5

    def __post_init__(self):
        if self.measure not in ("orders", "revenue"):
            raise ValueError("measure must be 'orders' or 'revenue'")
        if self.smooth < 1 or self.lag < 1 or self.intro_periods < 0:
            raise ValueError("need smooth >= 1, lag >= 1, intro_periods >= 0")
        if not 0 < self.decline_level < 1 or self.growth_threshold <= 0:
            raise ValueError("need 0 < decline_level < 1 and growth_threshold > 0")

    def to_dict(self) -> dict:
        """The thresholds as a plain dict (for reports and provenance).

        Returns
        -------
        dict

        Examples
        --------
        >>> ProductLifecycleRules().to_dict()['smooth']
        3
        """
        return asdict(self)


def _need_products(engine: KPIEngine):
    if not engine.has_products:
        raise ConfigError("<engine>", "product_id", "product KPIs need a product_id column in the orders",
                          hint="load orders with a product_id column (or map one: columns={'product_id': ...})")


def product_sales(engine: KPIEngine, period: str = "month", as_of=None) -> pd.DataFrame:
    """Sales per product and period (order lines on or before ``as_of``).

    Parameters
    ----------
    engine : KPIEngine
        Orders with ``product_id``.
    period : {"month", "week"}
    as_of : date-like, optional
        Last order date counted (default: the date of the last order).

    Returns
    -------
    DataFrame
        ``product_id, period_start, orders, revenue, complete`` (only periods with sales;
        ``orders`` counts order lines). Lines without a ``product_id`` belong to no product:
        they are left out, and ``attrs['lines_without_product']`` counts them.

    Raises
    ------
    ConfigError
        The orders have no ``product_id``.

    Examples
    --------
    >>> from crm_research.kpi.examples import example_engine
    >>> product_sales(example_engine())[['product_id', 'period_start', 'orders', 'revenue']].head(3)
      product_id period_start  orders  revenue
    0         p1   2024-01-01       2     35.0
    1         p1   2024-02-01       3     56.0
    2         p1   2024-03-01       2     40.0
    """
    _need_products(engine)
    check_period(period)
    a = engine.as_of(as_of)
    fast = product_pass(engine, period, a)
    if fast is not None:      # one numpy stream over the lines (kept for product_stage_kpis' window)
        res = fast.sales.copy()
    else:
        res = engine.execute(_sales_query(engine, period, a))
        res = res.sort_values(["product_id", "idx"]).reset_index(drop=True)
    # lines without a product id belong to no product: left out, and counted
    none = res["product_id"].isna()
    unattributed = int(res.loc[none, "orders"].sum())
    if unattributed:
        res = res[~none].reset_index(drop=True)
        if engine.order_lines.product_id.type().is_integer():    # NULLs had made the ids floats
            res["product_id"] = res["product_id"].astype("int64")
    add_period_columns(res, a, period)
    res["orders"] = res["orders"].astype("int64")
    res = res[["product_id", "period_start", "orders", "revenue", "complete", "idx"]]
    res.attrs["lines_without_product"] = unattributed
    return res


def product_lifecycle_stages(engine: KPIEngine, as_of=None, period: str = "month",
                      rules: ProductLifecycleRules = ProductLifecycleRules(), *,
                      sales: pd.DataFrame | None = None) -> pd.DataFrame:
    """Lifecycle stage of every product at ``as_of`` (method in the module docstring).

    Parameters
    ----------
    engine : KPIEngine
        Orders with ``product_id``.
    as_of : date-like, optional
        Date of the assessment (default: the date of the last order).
    period : {"month", "week"}
    rules : ProductLifecycleRules
    sales : DataFrame, optional
        A :func:`product_sales` result for the same ``period`` and ``as_of`` (saves a query).

    Returns
    -------
    DataFrame
        ``product_id, category, first_period, age_periods, last_period_sales,
        smoothed_sales, peak_smoothed_sales, peak_period, level, growth, stage``; products
        whose first sale falls in the running (incomplete) period are left out.

    Examples
    --------
    >>> from crm_research.kpi.examples import example_engine
    >>> rules = ProductLifecycleRules(smooth=2, lag=2, intro_periods=1)
    >>> product_lifecycle_stages(example_engine(), rules=rules)[['product_id', 'age_periods', 'level', 'stage']]
      product_id  age_periods  level     stage
    0         p1            5   0.60   decline
    1         p2            5   0.75  maturity
    """
    a = engine.as_of(as_of)
    if sales is None:
        sales = product_sales(engine, period, a)
    T = last_complete_index(a, period)
    s = sales[(sales["idx"] <= T) & sales["product_id"].notna()]
    if s.empty:
        return pd.DataFrame(columns=PRODUCT_COLUMNS)
    ms = rules.measure
    first = s.groupby("product_id")["idx"].min()
    # dense product x period matrix from each product's first period to T (small: products x periods)
    pids = first.index.to_numpy()
    n_per = T - int(first.min()) + 1
    base = int(first.min())
    mat = np.zeros((len(pids), n_per))
    pos = pd.Series(np.arange(len(pids)), index=pids)
    mat[pos[s["product_id"]].to_numpy(), (s["idx"] - base).to_numpy()] = s[ms].to_numpy(float)
    start = (first.to_numpy() - base)
    cols = np.arange(n_per)[None, :]
    alive = cols >= start[:, None]
    # trailing moving average over the observed part of each series
    csum = np.cumsum(np.where(alive, mat, 0.0), axis=1)
    k = rules.smooth
    lagged = np.zeros_like(csum)
    if k < n_per:
        lagged[:, k:] = csum[:, :-k]
    nobs = np.minimum(cols - start[:, None] + 1, k)
    smooth = np.where(alive, (csum - lagged) / np.maximum(nobs, 1), np.nan)
    peak = np.nanmax(smooth, axis=1)
    peak_pos = np.nanargmax(np.where(np.isnan(smooth), -np.inf, smooth), axis=1)
    cur = smooth[:, -1]
    age = (T - first.to_numpy() + 1).astype(int)
    prev = np.where(age > rules.lag, smooth[:, -1 - rules.lag] if n_per > rules.lag else np.nan, np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        level = np.where(peak > 0, cur / peak, 0.0)
        growth = np.where(np.isnan(prev), np.nan,
                          np.where(prev > 0, cur / prev - 1.0, np.where(cur > 0, np.inf, 0.0)))
    stage = np.where(age <= rules.intro_periods, "introduction",
                     np.where(growth >= rules.growth_threshold, "growth",
                              np.where((level < rules.decline_level) | (growth <= -rules.growth_threshold),
                                       "decline", "maturity")))
    out = pd.DataFrame({
        "product_id": pids,
        "first_period": period_start_of_index(first.to_numpy(), period).values,
        "age_periods": age,
        "last_period_sales": mat[:, -1],
        "smoothed_sales": cur,
        "peak_smoothed_sales": peak,
        "peak_period": period_start_of_index(peak_pos + base, period).values,
        "level": level,
        "growth": growth,
        "stage": stage,
    })
    out["category"] = _categories(engine, out["product_id"])
    out.attrs.update(rules.to_dict())
    out.attrs["as_of_period"] = str(period_start_of_index([T], period)[0].date())
    return out[PRODUCT_COLUMNS]


def _categories(engine: KPIEngine, pids: pd.Series) -> pd.Series:
    if "category" not in engine.order_lines.columns:
        return pd.Series([None] * len(pids), index=pids.index, dtype=object)
    cat = engine.execute(_category_query(engine))
    # the smallest label per product (NULL labels only where a product has no other)
    cat = cat.sort_values(["product_id", "category"], na_position="last", kind="stable")
    cat = cat.drop_duplicates("product_id")
    return pids.map(dict(zip(cat["product_id"], cat["category"].astype(object).where(cat["category"].notna(), None))))


def _sales_query(engine: KPIEngine, period: str, a: dt.date):
    ol = engine.order_lines
    d = ol.timestamp.date()
    f = ol.filter(d <= date_literal(a)).mutate(idx=period_index(d, period))
    return f.group_by(["product_id", "idx"]).aggregate(orders=f.count(), revenue=exact_sum(f.amount))


def _category_query(engine: KPIEngine):
    # product x label pairs, the smallest label picked in pandas: cheaper than min() over strings
    ol = engine.order_lines
    return ol.select("product_id", "category").distinct()


def product_queries(engine: KPIEngine, period: str = "month", as_of=None) -> list:
    """The passes over the order lines behind :func:`product_sales` and the products' categories.

    The KPI suite starts them early with :meth:`KPIEngine.prefetch`.

    Parameters
    ----------
    engine : KPIEngine
        Orders with a ``product_id`` column.
    period : {"month", "week"}
    as_of : date-like, optional
        Last order date counted by the sales (default: the date of the last order).

    Returns
    -------
    list of ibis.Table
        Sales per ``product_id`` and period index (``orders``, ``revenue``), unless the sales
        come from the numpy stream of :mod:`~crm_research.kpi.product_arrays` (integer ids on
        DuckDB), and, when the orders have a ``category`` column, the distinct product x
        category pairs (a product's category is its smallest label: deterministic).

    Examples
    --------
    >>> from crm_research.kpi.examples import example_engine
    >>> eng = example_engine()
    >>> queries = product_queries(eng)
    >>> len(queries), int(eng.execute(queries[0].orders.sum()))      # the example log has no category
    (1, 24)
    """
    a = engine.as_of(as_of)
    out = [] if product_plan(engine) is not None else [_sales_query(engine, period, a)]
    if "category" in engine.order_lines.columns:
        out.append(_category_query(engine))
    return out


def product_stage_kpis(engine: KPIEngine, stages: pd.DataFrame, as_of=None, period: str = "month",
                       window_periods: int = 3) -> pd.DataFrame:
    """KPIs by product lifecycle stage over the last ``window_periods`` complete periods.

    Parameters
    ----------
    stages : DataFrame
        :func:`product_lifecycle_stages` output (``product_id, stage``).

    Returns
    -------
    DataFrame
        ``stage, products, orders, revenue, revenue_share, buyers, first_order_share,
        repeat_buyer_share, avg_line_value``, one row per stage in lifecycle order.

    Examples
    --------
    >>> from crm_research.kpi.examples import example_engine
    >>> rules = ProductLifecycleRules(smooth=2, lag=2, intro_periods=1)
    >>> eng = example_engine()
    >>> stages = product_lifecycle_stages(eng, rules=rules)
    >>> product_stage_kpis(eng, stages)[['stage', 'products', 'orders', 'revenue', 'buyers']]
              stage  products  orders  revenue  buyers
    0  introduction         0       0      0.0       0
    1        growth         0       0      0.0       0
    2      maturity         1       6    274.0       4
    3       decline         1       5    160.0       4
    """
    _need_products(engine)
    a = engine.as_of(as_of)
    T = last_complete_index(a, period)
    lo_idx = T - int(window_periods) + 1
    end = period_end(T, period)
    fast = product_pass(engine, period, a, window_periods)
    df = None if fast is None else stage_rows(engine, fast, stages[["product_id", "stage"]])
    if fast is not None:
        drop_pass(engine, period, a, window_periods)
    if df is None:
        df = _stage_rows(engine, stages, period, lo_idx, end)
    df = df.set_index("stage").reindex(list(PRODUCT_STAGES)).reset_index()
    for col in ("products", "orders", "buyers", "product_buyers", "repeat_pairs", "first_orders"):
        df[col] = df[col].fillna(0).astype("int64")
    df["revenue"] = df["revenue"].fillna(0.0)
    total = df["revenue"].sum()
    df["revenue_share"] = df["revenue"] / total if total else np.nan
    df["first_order_share"] = np.where(df["orders"] > 0, df["first_orders"] / df["orders"].where(df["orders"] > 0, 1), np.nan)
    df["repeat_buyer_share"] = np.where(df["product_buyers"] > 0,
                                        df["repeat_pairs"] / df["product_buyers"].where(df["product_buyers"] > 0, 1), np.nan)
    df["avg_line_value"] = np.where(df["orders"] > 0, df["revenue"] / df["orders"].where(df["orders"] > 0, 1), np.nan)
    # products per stage as classified (also those without sales in the window)
    df["products"] = df["stage"].map(stages["stage"].value_counts()).fillna(0).astype("int64")
    df.attrs["window"] = (str(period_start_of_index([lo_idx], period)[0].date()), str(end))
    return df[STAGE_KPI_COLUMNS]


def _stage_rows(engine: KPIEngine, stages: pd.DataFrame, period: str, lo_idx: int, end: dt.date) -> pd.DataFrame:
    """The engine's per-stage aggregates of the window (``stage, products, orders, revenue,
    product_buyers, repeat_pairs, first_orders, buyers``)."""
    m = memtable(stages[["product_id", "stage"]].astype({"stage": str}))
    start = period_start_of_index([lo_idx], period)[0].date()
    t0, t1 = timestamp_literal(start), timestamp_literal(end + dt.timedelta(days=1))     # the window [t0, t1)
    o = engine.orders
    in_window = (o.timestamp >= t0) & (o.timestamp < t1)
    if has_arrays(engine):
        # the array path (whole or in parts) builds no per-order facts. A customer's first order (earliest timestamp,
        # then smallest order id) lies on their first order date: only the window's orders on
        # the first date of a customer acquired in the window are candidates. The window's
        # orders are stored once (read three times below, instead of the log three times)
        # only the columns read below (not the log's other columns: 100M orders, 2.4 -> 1.0 s)
        cols = ["customer_id", "order_id", "timestamp"] + (
            ["product_id", "amount"] if engine.order_lines is engine.orders else [])
        o = engine.materialize(o.filter(in_window).select(*cols), "_kpi_window_orders", compress=False)
        cust = customer_table(engine)
        cust = cust.filter((cust.first_date >= date_literal(start)) & (cust.first_date <= date_literal(end)))
        c = o.join(cust, ["customer_id", o.timestamp.date() == cust.first_date])
        ft = c.group_by("customer_id").aggregate(ft=c.timestamp.min())
        c = c.join(ft, ["customer_id", c.timestamp == ft.ft])
        firsts = c.group_by("customer_id").aggregate(first_order_id=c.order_id.min()).select("first_order_id")
    else:
        f = engine.facts
        firsts = f.filter((f.seq == 1) & (f.order_date >= date_literal(start)) & (f.order_date <= date_literal(end)))
        firsts = firsts.select(first_order_id="order_id")
        o = o.filter(in_window)
    if engine.order_lines is engine.orders:
        ol = o                               # the window's orders
    else:
        ol = engine.order_lines
        ol = ol.filter((ol.timestamp >= t0) & (ol.timestamp < t1))
    d = ol.timestamp.date()
    ol = ol.mutate(idx=period_index(d, period), order_date=d)
    j = ol.join(m, "product_id").left_join(firsts, ol.order_id == firsts.first_order_id)
    # product x buyer pairs in the window (stored once, read twice)
    pb = j.group_by(["stage", "product_id", "customer_id"]).aggregate(
        n=j.count(), revenue=exact_sum(j.amount), first=j.count(where=j.first_order_id.notnull()))
    pb = engine.materialize(pb, "_kpi_product_buyers", compress=False)
    per_stage = pb.group_by("stage").aggregate(
        products=pb.product_id.nunique(), orders=pb.n.sum(), revenue=exact_sum(pb.revenue),
        product_buyers=pb.count(), repeat_pairs=pb.count(where=pb.n >= 2),
        first_orders=pb.first.sum())
    buyers = pb.group_by("stage").aggregate(buyers=pb.customer_id.nunique())
    return engine.execute(per_stage).merge(engine.execute(buyers), on="stage", how="left")

"""The product KPIs' passes over the order lines as one numpy stream (DuckDB, integer ids).

On an engine, :func:`~crm_research.kpi.product_lifecycle.product_sales` and
:func:`~crm_research.kpi.product_lifecycle.product_stage_kpis` cost four passes: a hash
aggregation of the lines per product and period, a stored copy of the window's orders (a filter
over the whole log), a join and aggregation into product x buyer pairs (stored), and two
aggregations of those pairs. With integer product, customer and order ids they come from one
stream of five plain columns instead (the lines up to ``as_of``, in batches): the sales per
product and period are ``bincount`` s of ``product x period`` cells, and the window's lines (a few
months of the log) are kept to find the customers' first orders (their first order dates come
from :mod:`~crm_research.kpi.order_arrays`) and the product x buyer pairs by sorting packed keys.
10M lines: about 0.75 s of CPU for sales, stages and stage KPIs against about 1.5 s for the
engine's passes (the product categories are still one engine query on both paths).
:func:`start_product_pass` runs the stream in the background, as the suite does with its early
queries.

Where the lines are the orders as the loader validated them (one line per order, order ids unique),
the pass needs no stream: asked for before they are built
(:func:`~crm_research.kpi.order_arrays.request_products`), the order arrays carry each order's
product code, and the timestamps of the orders on a customer's first date where there are several
(the first order's tie-break). Sales are then ``bincount`` s over the arrays, the window's lines a
selection of them, and a query runs only for first orders that tie at one timestamp (the smallest
order id decides). 10M orders: the larger fetch costs about 0.2 s of CPU and the pass 0.15 s,
against 0.65 s for the stream and its first orders (measured, 6 runs on 2 shared cores: 1.58-1.71 s
against 1.89-2.10 s of CPU for the arrays, sales, stages and stage KPIs). Lines apart from the orders, engines from
:meth:`~crm_research.kpi.engine.KPIEngine.from_ibis` (order ids unchecked) and arrays built before
the products were asked for take the stream.

The definitions are those of :mod:`~crm_research.kpi.product_lifecycle`; both paths give the same
tables (``tests/test_kpi_product_arrays.py``). The stream applies where the order arrays apply,
product ids span at most 4x the number of lines, no id is NULL, timestamps carry no time zone,
and the stream's arrays (the window's lines and the product x period cells) fit the memory budget
of :func:`~crm_research.kpi.distinct.memory_budget`; everywhere else (other engines, text ids)
the engine path runs.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import threading

import numpy as np
import pandas as pd

from .distinct import memory_budget
from .engine import KPIEngine, last_complete_index, period_end, period_start_of_index, quiet_ibis, timestamp_literal
from .order_arrays import (ArrayPlan, OrderArrays, array_parts, array_plan, day_number, naive_timestamp, order_arrays, part_plan,
                           period_index_of_days, request_products, small_pages)
from .sums import ExactSums

US_PER_DAY = 86_400_000_000
BYTES_PER_WINDOW_LINE = 96   # per line in the window: kept columns, their concatenation, the pair sort
BYTES_PER_CELL = 32          # per product x period cell: counts, revenue and the buffered keys
MAX_ID_SPREAD = 4            # product ids used as array positions when max - min < this x lines
BATCH_ROWS = 1 << 17         # lines per streamed batch (smaller batches cost DuckDB and numpy less: cache-sized)
_LOCK = threading.Lock()


@dataclasses.dataclass(frozen=True)
class ProductPlan:
    """What the product stream reads: the product id range, the lines and their days.

    Attributes
    ----------
    p_lo, p_hi : int
        Smallest and largest product id (product code = ``product_id - p_lo``).
    lines : int
        Order lines.
    day_lo, day_hi : int
        First and last order line date, as days since 1970-01-01.
    c_lo, c_hi : int
        Smallest and largest customer id (customer code = ``customer_id - c_lo``).
    p_dtype : numpy dtype
        Dtype of the product ids in the engine.
    """

    p_lo: int
    p_hi: int
    lines: int
    day_lo: int
    day_hi: int
    c_lo: int
    c_hi: int
    p_dtype: np.dtype


@dataclasses.dataclass
class ProductPass:
    """Result of one stream over the order lines for a period, ``as_of`` and window.

    Attributes
    ----------
    sales : DataFrame
        ``product_id, idx, orders, revenue`` (cells with sales, by product then period).
    p, c : ndarray of int64
        Product and customer code of each line in the window.
    amount : ndarray of float64
        Amount of each line in the window.
    first : ndarray of int64
        Per window line: how many customers' first orders carry its order id (0 or, almost
        always, 1; a line is counted once per matching first order, as the engine's join does).
        From the order arrays, where orders of one customer share a timestamp and a product,
        one of them carries the flag (the tables cannot tell them apart).
    """

    sales: pd.DataFrame
    p: np.ndarray
    c: np.ndarray
    amount: np.ndarray
    first: np.ndarray


def product_plan(engine: KPIEngine) -> ProductPlan | None:
    """The plan of the product stream, or None where the engine path applies.

    None unless :func:`~crm_research.kpi.order_arrays.array_plan` or
    :func:`~crm_research.kpi.order_arrays.part_plan` applies, product and order ids
    are integers without NULLs, timestamps carry no time zone and the product ids span at most
    4x the number of lines. (Whether a window's arrays fit the memory budget is decided per
    pass: see :func:`product_pass`.)

    Parameters
    ----------
    engine : KPIEngine

    Returns
    -------
    ProductPlan or None

    Examples
    --------
    >>> import pandas as pd
    >>> from crm_research import kpi
    >>> o = pd.DataFrame({'customer_id': [1, 2], 'order_id': [1, 2], 'amount': [5.0, 7.0],
    ...                   'timestamp': pd.to_datetime(['2024-01-05', '2024-02-03']), 'product_id': [7, 9]})
    >>> p = product_plan(kpi.load(o))
    >>> p.p_lo, p.p_hi, p.lines
    (7, 9, 2)
    >>> from crm_research.kpi.examples import example_engine
    >>> product_plan(example_engine()) is None          # text product ids: the engine path
    True
    """
    def build():
        import ibis

        plan = array_plan(engine)
        if plan is None:        # a log read in parts of its customers: the stream, with their range
            parts = part_plan(engine)
            plan = None if parts is None else ArrayPlan(parts.parts[0].id_lo, parts.parts[-1].id_hi, parts.orders,
                                                        parts.parts[0].id_dtype)
        if plan is None or not engine.has_products:
            return None
        ol = engine.order_lines
        s = ol.schema()
        if not all(s[c].is_integer() for c in ("product_id", "order_id", "customer_id")):
            return None
        if not naive_timestamp(s["timestamp"]):
            return None          # a time zone (or another precision): dates are the engine's business
        if ol is engine.orders:
            # the orders' count and dates are known (array plan, engine): one column to read.
            # NULL order ids show in the stream (then the engine path runs)
            q = ol.aggregate(n_p=ol.product_id.count(), p_lo=ol.product_id.min(), p_hi=ol.product_id.max())
            with quiet_ibis():
                sql = ibis.to_sql(q, dialect="duckdb")
            n_p, p_lo, p_hi = engine.con.execute(sql).fetchall()[0]
            n = n_o = plan.orders
            d_lo, d_hi = engine.min_date(), engine.max_date()
        else:
            q = ol.aggregate(n=ol.count(), n_p=ol.product_id.count(), n_o=ol.order_id.count(),
                             p_lo=ol.product_id.min(), p_hi=ol.product_id.max(),
                             t_lo=ol.timestamp.min(), t_hi=ol.timestamp.max())
            with quiet_ibis():
                sql = ibis.to_sql(q, dialect="duckdb")
            n, n_p, n_o, p_lo, p_hi, t_lo, t_hi = engine.con.execute(sql).fetchall()[0]
            if t_lo is None:
                return None
            d_lo, d_hi = t_lo.date(), t_hi.date()
        if not n or n_p < n or n_o < n:
            return None
        p_lo, p_hi, n = int(p_lo), int(p_hi), int(n)
        if p_hi - p_lo + 1 > MAX_ID_SPREAD * n or p_hi - p_lo >= 2 ** 31:
            return None
        return ProductPlan(p_lo, p_hi, n, day_number(d_lo), day_number(d_hi),
                           plan.id_lo, plan.id_hi, np.dtype(s["product_id"].to_numpy()))

    return engine.cached("product_array_plan", build)


def product_pass(engine: KPIEngine, period: str, as_of: dt.date, window_periods: int = 3) -> ProductPass | None:
    """Sales per product and period and the window's lines, from one stream (kept per engine).

    The window is the last ``window_periods`` complete periods at ``as_of``, as in
    :func:`~crm_research.kpi.product_lifecycle.product_stage_kpis`.

    Parameters
    ----------
    engine : KPIEngine
    period : {"month", "week"}
    as_of : datetime.date
    window_periods : int

    Returns
    -------
    ProductPass or None
        None where :func:`product_plan` is None, or the arrays would not fit the memory budget
        (:func:`~crm_research.kpi.distinct.memory_budget`): the product x period cells and the
        window's lines, estimated from the window's share of the log's days before the stream
        and counted during it (a window beyond the budget stops the stream: the engine path runs).

    Examples
    --------
    >>> import datetime as dt, pandas as pd
    >>> from crm_research import kpi
    >>> o = pd.DataFrame({'customer_id': [1, 2, 2], 'order_id': [1, 2, 3], 'amount': [5.0, 7.0, 1.0],
    ...                   'timestamp': pd.to_datetime(['2024-01-05', '2024-02-03', '2024-02-04']),
    ...                   'product_id': [7, 9, 9]})
    >>> r = product_pass(kpi.load(o), 'month', dt.date(2024, 2, 29), 1)
    >>> r.sales
       product_id    idx  orders  revenue
    0           7  24288       1      5.0
    1           9  24289       2      8.0
    >>> r.p.tolist(), r.first.tolist()           # February's lines; order 2 is customer 2's first
    ([2, 2], [1, 0])
    """
    plan = product_plan(engine)
    if plan is None:
        return None
    key = (period, as_of, int(window_periods))
    with _LOCK:
        store = engine.cached("product_passes", dict)
        if key in store:
            return store[key]
    spec = _spec(engine, plan, period, as_of, int(window_periods))
    if spec is None:
        return None
    read = engine.collect(("product_pass", key))       # started by start_product_pass
    if read is None:
        oa = _arrays(engine, plan)
        read = _read(engine.con, spec) if oa is None else _read_arrays(engine.con, oa, plan, spec)
    res = read if read is None or isinstance(read, ProductPass) else _finish(engine, plan, spec, read)
    with _LOCK:
        store[key] = res
    return res


def start_product_pass(engine: KPIEngine, period: str, as_of: dt.date, window_periods: int = 3) -> bool:
    """Start the stream of :func:`product_pass` in the background (DuckDB's second connection).

    :func:`product_pass` (and so :func:`~crm_research.kpi.product_lifecycle.product_sales`)
    collects it later; the KPI suite starts it with the other early queries, so that the stream
    runs while the order KPIs' Python work leaves the cores idle. Where the lines are the orders
    (see the module docstring), the order arrays are built now, with the products, and the pass
    over them runs in the background instead.

    Parameters
    ----------
    engine : KPIEngine
    period : {"month", "week"}
    as_of : datetime.date
    window_periods : int

    Returns
    -------
    bool
        True when started (the stream applies to this engine).

    Examples
    --------
    >>> import datetime as dt, pandas as pd
    >>> from crm_research import kpi
    >>> o = pd.DataFrame({'customer_id': [1, 2, 2], 'order_id': [1, 2, 3], 'amount': [5.0, 7.0, 1.0],
    ...                   'timestamp': pd.to_datetime(['2024-01-05', '2024-02-03', '2024-02-04']),
    ...                   'product_id': [7, 9, 9]})
    >>> eng = kpi.load(o)
    >>> start_product_pass(eng, 'month', dt.date(2024, 2, 29))
    True
    >>> product_pass(eng, 'month', dt.date(2024, 2, 29)).sales['orders'].tolist()
    [1, 2]
    """
    plan = product_plan(engine)
    if plan is None:
        return False
    key = (period, as_of, int(window_periods))
    with _LOCK:
        if key in engine.cached("product_passes", dict):
            return False
    spec = _spec(engine, plan, period, as_of, int(window_periods))
    if spec is None:
        return False
    oa = _arrays(engine, plan)          # the order arrays (built now, with the products, where they apply)
    if oa is not None:
        return engine.prefetch_call(("product_pass", key), _read_arrays, oa, plan, spec)
    return engine.prefetch_call(("product_pass", key), _read, spec)


def drop_pass(engine: KPIEngine, period: str, as_of: dt.date, window_periods: int = 3) -> None:
    """Forget the :func:`product_pass` kept for these arguments (frees the window's arrays).

    Parameters
    ----------
    engine : KPIEngine
    period : {"month", "week"}
    as_of : datetime.date
    window_periods : int

    Examples
    --------
    >>> from crm_research.kpi.examples import example_engine
    >>> drop_pass(example_engine(), 'month', dt.date(2024, 6, 28))     # nothing kept: nothing to do
    """
    with _LOCK:
        engine.cached("product_passes", dict).pop((period, as_of, int(window_periods)), None)


@dataclasses.dataclass(frozen=True)
class _Spec:
    sql: str
    lut: np.ndarray        # per day since plan.day_lo: period index - i0 - p_lo * n_per
    i0: int
    n_per: int
    cells: int
    day_lo: int
    p_lo: int
    w0: int
    w1: int
    keep_t: bool           # keep the window lines' timestamps (the lines are the orders)
    max_window: int        # window lines the memory budget holds
    last_day: int          # lines on or before this day
    ties_sql: str          # first orders at one timestamp: the product of the smallest order id (arrays path)


def _spec(engine: KPIEngine, plan: ProductPlan, period: str, a: dt.date, w: int) -> _Spec | None:
    import ibis

    last_day = min(day_number(a), plan.day_hi)
    T = last_complete_index(a, period)
    w0 = day_number(period_start_of_index([T - w + 1], period)[0].date())
    w1 = day_number(period_end(T, period))          # the window [w0, w1], whole days
    if last_day >= plan.day_lo:
        lut = period_index_of_days(np.arange(plan.day_lo, last_day + 1), period).astype(np.int64)
        i0 = int(lut[0])
        n_per = int(lut[-1]) - i0 + 1
        lut -= i0 + plan.p_lo * n_per
    else:
        lut, i0, n_per = np.zeros(0, np.int64), 0, 1
    cells = (plan.p_hi - plan.p_lo + 1) * n_per
    # the window's lines must fit what the cells leave of the budget: estimated from its share
    # of the days now (a window far beyond it: no stream), counted during the stream
    room = memory_budget(engine.con) - BYTES_PER_CELL * cells
    days = max(1, last_day - plan.day_lo + 1)
    in_window = max(0, min(w1, last_day) - max(w0, plan.day_lo) + 1)
    if room <= 0 or BYTES_PER_WINDOW_LINE * plan.lines * in_window / days > room:
        return None          # many products x many periods, or a long window: the engine's passes
    ol = engine.order_lines
    e = ol
    if last_day < plan.day_hi:
        e = e.filter(ol.timestamp < timestamp_literal(a + dt.timedelta(days=1)))
    if last_day < plan.day_lo:
        e = e.filter(ibis.literal(False))
    e = e.select(p=ol.product_id, t=ol.timestamp, a=ol.amount, c=ol.customer_id, o=ol.order_id)
    with quiet_ibis():
        sql = str(ibis.to_sql(e, dialect="duckdb"))
        every = str(ibis.to_sql(ol.select(c=ol.customer_id, t=ol.timestamp, p=ol.product_id, o=ol.order_id),
                                dialect="duckdb"))
    ties = (f'SELECT q.c AS c, arg_min(q.p, q.o) AS p FROM ({every}) AS q JOIN "{_TIES}" AS x '
            f'ON q.c = x.c AND q.t = x.t GROUP BY q.c')
    return _Spec(sql, lut, i0, n_per, cells, plan.day_lo, plan.p_lo, w0, w1, engine.order_lines is engine.orders,
                 room // BYTES_PER_WINDOW_LINE, last_day, ties)


def _read(con, spec: _Spec):
    """The stream: product x period counts and revenue, and the window's lines (None: fall back)."""
    import pyarrow as pa

    cnt = np.zeros(spec.cells, dtype=np.int64)
    rev = ExactSums(spec.cells)          # the lines arrive in no fixed order: sums that do not mind
    parts = []
    keys, amounts, held = [], [], 0
    n_window = 0

    def count():      # one bincount per at least `cells` lines: its cost stays that of the lines
        nonlocal cnt, rev, keys, amounts, held
        if held:
            k, a = (keys[0], amounts[0]) if len(keys) == 1 else (np.concatenate(keys), np.concatenate(amounts))
            cnt += np.bincount(k, minlength=spec.cells)
            rev.add(k, a)
        keys, amounts, held = [], [], 0
    n_window = 0

    with small_pages():
        for batch in con.sql(spec.sql).to_arrow_reader(BATCH_ROWS):
            cols = [batch.column(i) for i in range(5)]
            if any(col.null_count for col in cols) or getattr(cols[1].type, "unit", None) != "us":
                return None          # pragma: no cover - the plan counted no NULL ids, checked the type
            p = cols[0].to_numpy().astype(np.int64, copy=False)
            t = cols[1].cast(pa.int64()).to_numpy()
            amount = cols[2].to_numpy()
            day = t // US_PER_DAY
            day -= spec.day_lo                         # days since the first line: positions in lut
            k = spec.lut[day]
            k += p * spec.n_per                        # cell: product code x period (p_lo folded in lut)
            keys.append(k)
            amounts.append(amount)
            held += len(k)
            if held >= spec.cells:
                count()
            day -= spec.w0 - spec.day_lo
            rows = np.flatnonzero(day.view(np.uint64) <= np.uint64(spec.w1 - spec.w0))    # w0 <= day <= w1
            n_window += len(rows)
            if n_window > spec.max_window:
                return None          # the window's lines beyond the memory budget: the engine path
            if len(rows):
                parts.append((p[rows] - spec.p_lo, cols[3].to_numpy()[rows].astype(np.int64, copy=False),
                              amount[rows], cols[4].to_numpy()[rows].astype(np.int64, copy=False),
                              t[rows] if spec.keep_t else None))
        count()
    return cnt, rev.values(), parts


def _finish(engine: KPIEngine, plan: ProductPlan, spec: _Spec, read) -> ProductPass:
    """The sales table, and the window's first orders (these need the order arrays: in the foreground)."""
    import ibis
    import pyarrow as pa

    cnt, rev, parts = read
    sales = _sales(plan, spec, cnt, rev)
    del cnt, rev

    def cat(i, dtype):
        return np.concatenate([x[i] for x in parts]) if parts else np.zeros(0, dtype)

    with small_pages():
        p, c, amount, oid = cat(0, np.int64), cat(1, np.int64) - plan.c_lo, cat(2, np.float64), cat(3, np.int64)
        if spec.keep_t:
            oc, oo, ot = c, oid, cat(4, np.int64)
        else:   # the first orders are the orders' (one row per order), not the lines'
            o = engine.orders
            q = o.filter((o.timestamp >= timestamp_literal(_date(spec.w0)))
                         & (o.timestamp < timestamp_literal(_date(spec.w1 + 1))))
            q = q.select(c=o.customer_id, o=o.order_id, t=o.timestamp)
            with quiet_ibis():
                r = engine.con.sql(ibis.to_sql(q, dialect="duckdb")).to_arrow_table()
            oc = r.column("c").to_numpy().astype(np.int64, copy=False) - plan.c_lo
            oo = r.column("o").to_numpy().astype(np.int64, copy=False)
            ot = r.column("t").cast(pa.int64()).to_numpy()
        first_ids = _first_order_ids(engine, plan, oc, oo, ot)
        return ProductPass(sales, p, c, amount, _matches(first_ids, oid, plan.lines))


def _sales(plan: ProductPlan, spec: _Spec, cnt: np.ndarray, rev: np.ndarray) -> pd.DataFrame:
    """The sales table of the cells with lines (by product, then period)."""
    cell = np.flatnonzero(cnt)
    return pd.DataFrame({"product_id": (cell // spec.n_per + plan.p_lo).astype(plan.p_dtype),
                         "idx": (cell % spec.n_per + spec.i0).astype(np.int64),
                         "orders": cnt[cell], "revenue": rev[cell]})


_TIES = "_kpi_first_order_ties"
ARRAY_CHUNK = 1 << 17      # orders per step of the arrays path (its temporaries stay small, in cache)


def _arrays(engine: KPIEngine, plan: ProductPlan) -> OrderArrays | None:
    """The order arrays with the product codes, where the product pass may take the lines from
    them: the lines are the orders, as the loader validated them (order ids unique and not NULL,
    so a customer's first order is one line) and the arrays carry the products (asked for before
    they were built: :func:`~crm_research.kpi.order_arrays.request_products`). Else None."""
    if engine.order_lines is not engine.orders or engine.reports.get("orders") is None:
        return None
    if not request_products(engine, plan.p_lo):
        return None
    oa = order_arrays(engine)
    return oa if oa.product is not None and oa.p_lo == plan.p_lo else None


def _read_arrays(con, oa: OrderArrays, plan: ProductPlan, spec: _Spec) -> ProductPass | None:
    """The pass from the order arrays (the lines are the orders): no scan of the lines.

    Sales: ``bincount`` s of the product x period cells in steps of :data:`ARRAY_CHUNK` orders.
    The window's lines in customer order; a customer acquired in the window has one first order:
    the first row of the customer when it is the only order on the first date; else the earliest
    timestamp of the first date's orders (``tie_rows``), and at equal timestamps the smallest order
    id: a query of those few orders (``con``) names the product, and one of the customer's lines
    at that timestamp with that product is flagged (such lines are alike for every table).
    """
    cnt = np.zeros(spec.cells, dtype=np.int64)
    rev = np.zeros(spec.cells, dtype=np.float64)
    hi = min(spec.w1, spec.last_day)                  # the window's last day with lines
    lut = spec.lut + spec.p_lo * spec.n_per           # per day: period - i0 (product codes, not ids)
    clip = spec.last_day < plan.day_hi
    rows, n_window = [], 0
    n = len(oa)
    with small_pages():
        for i in range(0, n, ARRAY_CHUNK):
            day, p, amount = oa.day[i:i + ARRAY_CHUNK], oa.product[i:i + ARRAY_CHUNK], oa.amount[i:i + ARRAY_CHUNK]
            if clip:
                keep = np.flatnonzero(day <= spec.last_day)
                day, p, amount = day[keep], p[keep], amount[keep]
            else:
                keep = None
            if len(day):
                k = lut[day - spec.day_lo]
                k += p * np.int64(spec.n_per)
                cnt += np.bincount(k, minlength=spec.cells)
                rev += np.bincount(k, weights=amount, minlength=spec.cells)
            if hi < spec.w0:
                continue
            # w0 <= day <= hi
            w = np.flatnonzero((day - np.int32(spec.w0)).view(np.uint32) <= np.uint32(hi - spec.w0))
            if len(w):
                w = (w if keep is None else keep[w]) + i
                n_window += len(w)
                if n_window > spec.max_window:
                    return None      # the window's lines beyond the memory budget: the engine path
                rows.append(w)
        rows = np.concatenate(rows) if rows else np.zeros(0, dtype=np.int64)
        p = oa.product[rows].astype(np.int64)
        c = oa.code[rows]
        amount = oa.amount[rows]
        first = np.zeros(len(rows), dtype=np.int64)
        if len(rows):
            flagged = _first_rows(con, oa, spec, hi)
            at = np.searchsorted(rows, flagged)
            first[at] = 1
    return ProductPass(_sales(plan, spec, cnt, rev), p, c, amount, first)


def _first_rows(con, oa: OrderArrays, spec: _Spec, hi: int) -> np.ndarray:
    """Rows of the first orders of the customers whose first order date is in ``[w0, hi]``."""
    import pyarrow as pa

    s = oa.starts()
    fd = oa.day[s]
    s = s[(fd >= spec.w0) & (fd <= hi)]
    tr, tt = oa.tie_rows, oa.tie_time
    if len(tr):
        td = oa.day[tr]
        inside = (td >= spec.w0) & (td <= hi)
        tr, tt = tr[inside], tt[inside]
    if len(tr) == 0:
        return s
    tc = oa.code[tr]
    head = np.ones(len(tr), dtype=bool)
    head[1:] = tc[1:] != tc[:-1]
    heads = np.flatnonzero(head)                      # each tied customer's run (rows ascending)
    g = np.cumsum(head) - 1
    earliest = np.minimum.reduceat(tt, heads)
    at_min = tt == earliest[g]
    n_min = np.add.reduceat(at_min.astype(np.int64), heads)
    picks = [tr[at_min & (n_min[g] == 1)]]
    same = n_min > 1                                  # orders at one timestamp: the smallest order id
    if same.any():
        x = pa.table({"c": oa.customer_ids(tr[heads[same]]),
                      "t": pa.array(earliest[same], type=pa.timestamp("us"))})
        con.register(_TIES, x)
        try:
            r = con.sql(spec.ties_sql).fetchnumpy()
        finally:
            con.unregister(_TIES)
        by_code = np.full(int(oa.code[-1]) + 1, -1, dtype=np.int64)
        by_code[np.asarray(r["c"]).astype(np.int64) - oa.id_lo] = np.asarray(r["p"]).astype(np.int64) - oa.p_lo
        cand = np.flatnonzero(at_min & same[g] & (oa.product[tr] == by_code[tc]))
        first_of = np.ones(len(cand), dtype=bool)     # one line per customer
        first_of[1:] = tc[cand[1:]] != tc[cand[:-1]]
        picks.append(tr[cand[first_of]])
    tied = np.isin(s, tr[heads], assume_unique=True)
    return np.sort(np.concatenate([s[~tied]] + picks))


def _date(day: int) -> dt.date:
    return dt.date(1970, 1, 1) + dt.timedelta(days=int(day))


def _first_order_ids(engine: KPIEngine, plan: ProductPlan, c: np.ndarray, o: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Sorted order ids of the first orders (earliest timestamp, then smallest order id) among
    the window's orders ``(customer code, order id, timestamp)``: an order is a candidate when it
    lies on its customer's first order date."""
    if len(c) == 0:
        return np.zeros(0, dtype=np.int64)
    # each customer's first order date by customer code (the order arrays' budget counts 8 bytes a
    # code), from the whole arrays or part by part
    first_day = np.full(plan.c_hi - plan.c_lo + 1, np.iinfo(np.int32).min, dtype=np.int32)
    for oa in array_parts(engine):
        s = oa.starts()
        first_day[oa.code[s] + (oa.id_lo - plan.c_lo)] = oa.day[s]
    cand = np.flatnonzero(first_day[c] == t // US_PER_DAY)
    if len(cand) == 0:
        return np.zeros(0, dtype=np.int64)
    c, o, t = c[cand], o[cand], t[cand]
    # most customers have one order on their first date: only the others need the tie-break
    n = np.bincount(c, minlength=len(first_day))[c]
    one = n == 1
    ids = [o[one]]
    if not one.all():
        many = np.flatnonzero(~one)
        c, o, t = c[many], o[many], t[many]
        order = np.lexsort((o, t, c))
        c = c[order]
        head = np.ones(len(c), dtype=bool)
        head[1:] = c[1:] != c[:-1]
        ids.append(o[order][head])
    return np.sort(np.concatenate(ids))


def _matches(sorted_ids: np.ndarray, x: np.ndarray, lines: int) -> np.ndarray:
    """How often each value of ``x`` occurs in ``sorted_ids`` (int64)."""
    if len(sorted_ids) == 0 or len(x) == 0:
        return np.zeros(len(x), dtype=np.int64)
    if not (sorted_ids[1:] == sorted_ids[:-1]).any():     # distinct ids (the rule): membership
        lo, hi = int(sorted_ids[0]), int(sorted_ids[-1])
        if hi - lo <= 2 * max(lines, len(x)):             # a byte map over the ids' range
            return np.isin(x, sorted_ids, kind="table").astype(np.int64)
        i = np.minimum(np.searchsorted(sorted_ids, x), len(sorted_ids) - 1)
        return (sorted_ids[i] == x).astype(np.int64)
    return (np.searchsorted(sorted_ids, x, side="right") - np.searchsorted(sorted_ids, x, side="left")).astype(np.int64)


def stage_rows(engine: KPIEngine, res: ProductPass, stages: pd.DataFrame) -> pd.DataFrame | None:
    """Per stage: ``products, orders, revenue, product_buyers, repeat_pairs, first_orders, buyers`` of the window.

    Parameters
    ----------
    engine : KPIEngine
    res : ProductPass
        The pass of the window.
    stages : DataFrame
        ``product_id, stage`` (one row per product).

    Returns
    -------
    DataFrame or None
        One row per stage with lines in the window (``stage, products, ...``); None when the
        stages' product ids are not distinct integers (then the engine path decides).

    Examples
    --------
    >>> import datetime as dt, pandas as pd
    >>> from crm_research import kpi
    >>> o = pd.DataFrame({'customer_id': [1, 2, 2], 'order_id': [1, 2, 3], 'amount': [5.0, 7.0, 1.0],
    ...                   'timestamp': pd.to_datetime(['2024-01-05', '2024-02-03', '2024-02-04']),
    ...                   'product_id': [7, 9, 9]})
    >>> eng = kpi.load(o)
    >>> r = product_pass(eng, 'month', dt.date(2024, 2, 29), 1)
    >>> t = stage_rows(eng, r, pd.DataFrame({'product_id': [7, 9], 'stage': ['decline', 'growth']}))
    >>> t[['stage', 'orders', 'revenue', 'repeat_pairs', 'first_orders', 'buyers']]
        stage  orders  revenue  repeat_pairs  first_orders  buyers
    0  growth       2      8.0             1             1       1
    """
    plan = product_plan(engine)
    pid = stages["product_id"]
    if not pd.api.types.is_integer_dtype(pid.dtype) or pid.duplicated().any():
        return None
    codes, labels = pd.factorize(stages["stage"].astype(str), sort=True)
    labels = np.asarray(labels, dtype=object)
    pid = pid.to_numpy().astype(np.int64) - plan.p_lo
    n_prod = plan.p_hi - plan.p_lo + 1
    inside = (pid >= 0) & (pid < n_prod)
    stage_of = np.full(n_prod, -1, dtype=np.int64)
    stage_of[pid[inside]] = codes[inside]
    k = len(labels)
    n_c = plan.c_hi - plan.c_lo + 1
    with small_pages():
        sl = stage_of[res.p] if len(res.p) else np.zeros(0, dtype=np.int64)
        # per line: orders, revenue and first orders by stage need no pairs. A line joined to
        # m > 1 first orders (an order id shared by customers) counts m times, as in the engine's join
        wgt = np.maximum(res.first, 1) if res.first.max(initial=0) > 1 else None

        def by_stage(weights=None):
            return np.bincount(sl + 1, weights=weights, minlength=k + 1)[1:]

        orders = by_stage(wgt) if wgt is not None else by_stage()
        exact = ExactSums(k + 1)         # the window's lines may come in no fixed order
        exact.add(sl + 1, res.amount if wgt is None else res.amount * wgt)
        revenue = exact.values()[1:]
        firsts = by_stage(res.first) if len(sl) else np.zeros(k)
        # product x buyer pairs: one sort of packed keys (stage, product, customer)
        keep = sl >= 0
        c_bits = max(1, (n_c - 1).bit_length())
        p_bits = max(1, (n_prod - 1).bit_length())
        s_bits = max(1, (k - 1).bit_length())
        if keep.all():
            p, c, n_line = res.p, res.c, wgt
        else:
            rows = np.flatnonzero(keep)
            p, c, n_line, sl = res.p[rows], res.c[rows], None if wgt is None else wgt[rows], sl[rows]
        if c_bits + p_bits + s_bits <= 63:
            key = (sl << (p_bits + c_bits)) | (p << c_bits) | c
            if n_line is None:
                key.sort()
                n = None
            else:       # order ids shared by customers' first orders: carry the weights
                order = np.argsort(key, kind="stable")
                key, n_line = key[order], n_line[order]
            head = np.ones(len(key), dtype=bool)
            head[1:] = key[1:] != key[:-1]
            st = np.flatnonzero(head)
            n = np.diff(np.append(st, len(key))) if n_line is None else \
                (np.add.reduceat(n_line, st) if len(st) else np.zeros(0, np.int64))
            pk = key[st]
            del key
            pair_stage = pk >> (p_bits + c_bits)
            pair_p = (pk >> c_bits) & ((1 << p_bits) - 1)
            pair_c = pk & ((1 << c_bits) - 1)
        else:   # pragma: no cover - ids too wide to pack (logs of billions of lines)
            df = pd.DataFrame({"s": sl, "p": p, "c": c, "n": 1 if n_line is None else n_line})
            g = df.groupby(["s", "p", "c"], sort=False)["n"].sum().reset_index()
            pair_stage, pair_p, pair_c, n = (g[x].to_numpy() for x in ("s", "p", "c", "n"))
        if k * n_prod <= (1 << 26):
            sold = np.zeros((k, n_prod), dtype=bool)
            sold[pair_stage, pair_p] = True
            products = sold.sum(axis=1)
        else:   # pragma: no cover - many stage labels and a wide product id range
            sp = np.sort(pair_stage * n_prod + pair_p)
            products = np.bincount(sp[np.r_[True, sp[1:] != sp[:-1]]] // n_prod, minlength=k) if len(sp) \
                else np.zeros(k, np.int64)
        # distinct buyers per stage: a byte map of stage x customer (or a sort of the packed pairs)
        if k * n_c <= (1 << 26):
            seen = np.zeros((k, n_c), dtype=bool)
            seen[pair_stage, pair_c] = True
            buyers = seen.sum(axis=1)
            del seen
        else:   # pragma: no cover - many stage labels and a wide customer id range
            sc = np.sort(pair_stage * n_c + pair_c)
            buyers = np.bincount(sc[np.r_[True, sc[1:] != sc[:-1]]] // n_c, minlength=k) if len(sc) \
                else np.zeros(k, np.int64)
        out = pd.DataFrame({
            "stage": labels,
            "products": np.asarray(products, dtype=np.int64),
            "orders": np.asarray(orders).astype(np.int64),
            "revenue": np.asarray(revenue, dtype=np.float64),
            "product_buyers": np.bincount(pair_stage, minlength=k).astype(np.int64),
            "repeat_pairs": np.bincount(pair_stage[n >= 2], minlength=k).astype(np.int64),
            "first_orders": np.asarray(firsts).astype(np.int64),
            "buyers": np.asarray(buyers, dtype=np.int64),
        })
    return out[out["product_buyers"] > 0].reset_index(drop=True)


__all__ = ["ProductPass", "ProductPlan", "drop_pass", "product_pass", "product_plan", "stage_rows",
           "start_product_pass"]

"""The order log as numpy arrays sorted by customer and date: customer-level tables by direct addressing.

Most KPIs start from a per-customer or per-customer-and-period aggregate of the orders
(:func:`~crm_research.kpi.customer_summary.customer_summary`,
:func:`~crm_research.kpi.retention.customer_periods`, the customer list of
:mod:`~crm_research.kpi.lifecycle`). An engine computes them with a window over the orders (the
per-order facts) and a hash aggregation per table: three sorts or hash tables of the whole log.
On DuckDB with integer customer ids the same tables come cheaper from one fetch of three small
columns and one numpy sort: with the orders in (customer, date) order every customer is a
contiguous block, every customer-period is a run, and each aggregate is one ``reduceat`` or
``bincount`` (10M orders: about 1 s of one core for all three tables, against about 4 s of CPU).

A log whose arrays would not fit a quarter of the ``memory_limit`` is read in parts
(:func:`part_plan`, :func:`order_parts`): consecutive customer-id ranges of at most half that
budget, each fetched by one filtered query and sorted once (two parts at a time), written as
``.npy`` files to DuckDB's ``temp_directory`` and mapped back for each later pass. Every
customer-level table is a concatenation of per-customer rows, stored part by part in the engine
(:func:`store_parts`), and every count over customers a sum over the parts, so the parts give the
tables of the whole log without any per-order facts in the engine (100M orders: the suite's KPIs
124 -> 75-77 s; ``tests/test_kpi_order_parts.py``). (An earlier attempt fetched each range once per
table, not once per log, and lost to the engine path: 199 s against 141 s.) Other engines, text
ids and ids spread far beyond the number of orders take the engine path; all paths give the same
tables (``tests/test_kpi_order_arrays.py``).

Orders of one customer on one day are in order of amount (then product code): DuckDB returns
the rows in no fixed order, and floating-point sums depend on the order of the additions, so this
fixed order makes every sum over the arrays the same on every run. No table depends otherwise on
the order within a day (counts, first and last dates, gaps in days).

Where the order lines are the orders, the product KPIs (:mod:`~crm_research.kpi.product_arrays`)
may ask for more before the arrays are built (:func:`request_products`): the fetch then also
reads each order's product code and its timestamp (instead of its date), and keeps the product
code and, for the few customers with several orders on their first order date, those orders'
timestamps (their first order is a tie-break by timestamp). The product pass then needs no scan of
its own (10M orders: about 0.2 s of CPU more for the fetch, against 0.5 s for the scan).
"""
from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import os
import threading
from collections.abc import Mapping
from typing import Any

import numpy as np

from .distinct import memory_budget
from .engine import KPIEngine, quiet_ibis

EPOCH = dt.date(1970, 1, 1)
US_PER_DAY = 86_400_000_000
_BYTES_PER_ORDER = 48        # fetched columns, sort key and the gathered copies while the arrays are built
_BYTES_PER_PRODUCT = 16      # more with products: timestamps for dates, the day from them, product codes and their copy
_MAX_ID_SPREAD = 8           # ids used as array positions when max - min < this x orders (else: engine path)
CHUNK_MIN_ROWS = 1_000_000   # orders per thread below which the array work stays on one thread


@dataclasses.dataclass
class OrderArrays:
    """Orders of a range of customers, sorted by customer code then date.

    Attributes
    ----------
    code : ndarray of int64
        Customer code: ``customer_id - id_lo``.
    day : ndarray of int32
        Order date as days since 1970-01-01.
    amount : ndarray of float64
        Order amount.
    id_lo : int
        Smallest customer id of the log (code 0).
    id_dtype : numpy dtype
        Dtype of the customer ids in the engine.
    product : ndarray of int32 or None
        Product code of each order (``product_id - p_lo``) where :func:`request_products` asked
        for it before the fetch; else None. (Not carried by :meth:`until` and chunks.)
    p_lo : int
        Smallest product id (product code 0), with ``product``.
    tie_rows : ndarray of int64 or None
        With ``product``: the rows of the orders on their customer's first order date, for the
        customers with more than one such order (ascending).
    tie_time : ndarray of int64 or None
        The timestamps of those rows, as microseconds since 1970-01-01.
    """

    code: np.ndarray
    day: np.ndarray
    amount: np.ndarray
    id_lo: int
    id_dtype: np.dtype
    product: np.ndarray | None = None
    p_lo: int = 0
    tie_rows: np.ndarray | None = None
    tie_time: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.code)

    @property
    def first_row(self) -> np.ndarray:
        """True at each customer's first order (by date)."""
        m = np.empty(len(self.code), dtype=bool)
        if len(m):
            m[0] = True
            np.not_equal(self.code[1:], self.code[:-1], out=m[1:])
        return m

    def starts(self) -> np.ndarray:
        """Index of each customer's first row (customers in code order)."""
        return np.flatnonzero(self.first_row)

    def gaps(self, first_row: np.ndarray | None = None) -> np.ndarray:
        """Days since the customer's previous order (int32); -1 at each customer's first order.

        ``first_row``: :attr:`first_row`, when the caller has it already.
        """
        gap = np.empty(len(self.code), dtype=np.int32)
        if len(gap):
            gap[0] = -1
            np.subtract(self.day[1:], self.day[:-1], out=gap[1:])
            gap[self.first_row if first_row is None else first_row] = -1
        return gap

    def until(self, last_day: int) -> "OrderArrays":
        """The orders on or before ``last_day`` (days since 1970-01-01), still sorted."""
        keep = self.day <= last_day
        if keep.all():
            return self
        return OrderArrays(self.code[keep], self.day[keep], self.amount[keep], self.id_lo, self.id_dtype)

    def customer_ids(self, rows: np.ndarray) -> np.ndarray:
        """Customer ids of the given rows, in the engine's dtype."""
        ids = self.code[rows]
        ids += self.id_lo
        return ids.astype(self.id_dtype, copy=False)


@dataclasses.dataclass(frozen=True)
class ArrayPlan:
    """What the orders' arrays hold: customer id range and number of orders."""

    id_lo: int
    id_hi: int
    orders: int
    id_dtype: np.dtype


def array_plan(engine: KPIEngine) -> ArrayPlan | None:
    """The plan for fetching the orders as arrays, or None where the engine path applies.

    None unless the engine runs on DuckDB, customer ids are integers, the id range is at most
    8x the number of orders (ids that are positions, not hashes) and the arrays fit a quarter of
    the ``memory_limit``.

    Parameters
    ----------
    engine : KPIEngine

    Returns
    -------
    ArrayPlan or None

    Examples
    --------
    >>> from crm_research.kpi.examples import example_engine
    >>> p = array_plan(example_engine())
    >>> p.orders, p.id_hi - p.id_lo + 1
    (24, 8)
    """
    def build():
        r = _id_range(engine)
        if r is None:
            return None
        n, lo, hi, dtype = r
        if _BYTES_PER_ORDER * n + 8 * (hi - lo + 1) > memory_budget(engine.con):
            return None
        return ArrayPlan(lo, hi, n, dtype)

    return engine.cached("order_array_plan", build)


def _id_range(engine: KPIEngine):
    """``(orders, smallest id, largest id, id dtype)`` where customer-sorted arrays apply at all
    (DuckDB, integer ids, ids that are positions rather than hashes), else None."""
    def build():
        import ibis

        if getattr(engine.backend, "name", "") != "duckdb" or engine.con is None:
            return None
        t = engine.orders.schema()["customer_id"]
        if not t.is_integer():
            return None
        o = engine.orders
        sql = ibis.to_sql(o.aggregate(n=o.count(), lo=o.customer_id.min(), hi=o.customer_id.max()), dialect="duckdb")
        n, lo, hi = engine.con.execute(sql).fetchall()[0]
        if not n or lo is None:
            return None
        lo, hi, n = int(lo), int(hi), int(n)
        if hi - lo + 1 > _MAX_ID_SPREAD * n or hi - lo >= 2 ** 40:
            return None
        return n, lo, hi, np.dtype(t.to_numpy())

    return engine.cached("order_id_range", build)


@contextlib.contextmanager
def small_pages():
    """Build large numpy arrays without asking Linux for huge pages.

    numpy advises the kernel to back large arrays with transparent huge pages. Where the kernel's
    defrag setting is ``madvise`` (the default of many distributions), each page fault in such an
    array may compact memory synchronously: on a machine that has run for a while, writing a fresh
    10M-element array then takes several times longer than the arithmetic (measured here: a
    ``repeat`` of 10M integers 0.20 s with huge pages advised, 0.06 s without). The setting is
    process-wide in numpy: it is off while any thread is inside such a block, and restored when
    the last one leaves (blocks nest and may overlap across threads).

    Examples
    --------
    >>> with small_pages():
    ...     x = np.zeros(10)
    >>> len(x)
    10
    """
    core = getattr(np, "_core", None) or getattr(np, "core", None)
    setter = getattr(getattr(core, "multiarray", None), "_set_madvise_hugepage", None)
    if setter is None:                         # pragma: no cover - a numpy without the switch
        yield
        return
    with _PAGES_LOCK:
        if _PAGES_STATE["inside"] == 0:
            _PAGES_STATE["previous"] = setter(False)
        _PAGES_STATE["inside"] += 1
    try:
        yield
    finally:
        with _PAGES_LOCK:
            _PAGES_STATE["inside"] -= 1
            if _PAGES_STATE["inside"] == 0:
                setter(_PAGES_STATE["previous"])


_PAGES_LOCK = threading.Lock()
_PAGES_STATE = {"inside": 0, "previous": True}


def release_free_memory() -> None:
    """Hand memory that is free inside the C allocator back to the system (glibc's
    ``malloc_trim``; nothing elsewhere).

    glibc keeps freed blocks below its (self-raising) mmap threshold of up to 32 MB in its heaps,
    one heap per thread that allocated: the arrays of one part of a log read in parts, freed,
    then stay in the process' resident memory next to the next part's. A log beyond memory calls
    this between KPI tables and between the parts of the stage shares' pass (the one with
    temporaries on two threads), so the process' peak is closer to what is in use (100M orders:
    0.2-0.3 GiB less at the peak). Not between the parts of every pass: the memory handed back
    is faulted in again by the next part (~7 s more at 100M). The allocator's settings are left
    as they are.

    Examples
    --------
    >>> release_free_memory()        # returns nothing; safe anywhere
    """
    trim = _MALLOC_TRIM.get("fn", False)
    if trim is False:
        trim = None
        try:
            import ctypes
            import ctypes.util

            name = ctypes.util.find_library("c")
            lib = ctypes.CDLL(name) if name else None
            trim = getattr(lib, "malloc_trim", None)
        except OSError:           # pragma: no cover - no C library to load
            trim = None
        _MALLOC_TRIM["fn"] = trim
    if trim is not None:
        trim(0)


_MALLOC_TRIM: dict = {}


def worker_threads(engine: KPIEngine) -> int:
    """Threads for the array work: DuckDB's ``threads`` setting (the engine's ``threads=``).

    Examples
    --------
    >>> from crm_research.kpi.examples import example_engine
    >>> worker_threads(example_engine()) >= 1
    True
    """
    try:
        return max(1, int(engine.con.execute("SELECT current_setting('threads')").fetchall()[0][0]))
    except Exception:  # pragma: no cover - an engine without the setting
        return 1


def by_customer_chunks(a: OrderArrays, fn, threads: int, min_rows: int | None = None) -> list:
    """``fn`` applied to consecutive chunks of whole customers, on up to ``threads`` threads.

    Every table built here is a concatenation of per-customer rows, so the chunks' results in
    chunk order are the result for all customers: the same whatever the number of threads (each
    customer's sums run in the same order). numpy releases the GIL in the sorts, reductions and
    gathers, so two chunks on two cores take about half the time of one (10M orders: customer
    summary 0.63 -> 0.29 s).

    Parameters
    ----------
    a : OrderArrays
    fn : callable
        OrderArrays -> result.
    threads : int
    min_rows : int, optional
        Fewer orders than this per thread: one chunk (default :data:`CHUNK_MIN_ROWS`).

    Returns
    -------
    list
        ``fn`` of each chunk, in customer order.

    Examples
    --------
    >>> a = OrderArrays(np.array([0, 0, 1, 2, 2]), np.array([1, 2, 1, 1, 1], dtype=np.int32),
    ...                 np.ones(5), 10, np.dtype('int64'))
    >>> [c.code.tolist() for c in by_customer_chunks(a, lambda c: c, threads=2, min_rows=1)]
    [[0, 0], [1, 2, 2]]
    """
    k = max(1, min(int(threads), len(a) // max(1, int(CHUNK_MIN_ROWS if min_rows is None else min_rows))))
    if k == 1:
        with small_pages():
            return [fn(a)]
    cuts = np.searchsorted(a.code, a.code[(np.arange(1, k) * len(a)) // k], side="left")
    bounds = np.unique(np.concatenate(([0], cuts, [len(a)])))
    chunks = [OrderArrays(a.code[i:j], a.day[i:j], a.amount[i:j], a.id_lo, a.id_dtype)
              for i, j in zip(bounds[:-1], bounds[1:])]
    from concurrent.futures import ThreadPoolExecutor

    with small_pages(), ThreadPoolExecutor(max_workers=len(chunks), thread_name_prefix="kpi-arrays") as ex:
        return list(ex.map(fn, chunks))


def _fetch(engine: KPIEngine, plan: ArrayPlan, p_lo: int | None = None, con=None,
           part: bool = False) -> OrderArrays:
    """The arrays; with ``p_lo``: also the product codes and the first-date ties (see :class:`OrderArrays`).

    ``part``: only the customers from ``plan.id_lo`` to ``plan.id_hi`` (a part of :func:`part_plan`),
    read on ``con`` (default: the engine's connection).
    """
    import ibis

    o = engine.orders
    if part:
        o = o.filter(o.customer_id.between(plan.id_lo, plan.id_hi))
    cols = dict(c=(o.customer_id - plan.id_lo).cast("int64"),
                d=o.timestamp.date().delta(ibis.date(1970, 1, 1), unit="day").cast("int32"),
                a=o.amount.cast("float64"))
    if p_lo is not None:     # the timestamp (a plain column: cheaper than its date) and the product code
        cols["d"] = o.timestamp
        cols["p"] = (o.product_id - p_lo).cast("int32")
    sql = ibis.to_sql(o.select(**cols), dialect="duckdb")
    r = fetch_columns(engine.con if con is None else con, sql,
                      dict(c=np.int64, d=np.int64 if p_lo is not None else np.int32, a=np.float64,
                           **({"p": np.int32} if p_lo is not None else {})), plan.orders)
    code, day, amount = r["c"], r["d"], r["a"]
    product = t = None
    if p_lo is not None:
        product, t = r["p"], day                         # the timestamps, in microseconds
        day = np.empty(len(t), np.int32)                # straight into int32: no 64-bit temporary
        np.floor_divide(t, US_PER_DAY, out=day, casting="unsafe")
    del r
    return _arrange(plan, code, day, amount, product, t, p_lo)


FETCH_BATCH = 1 << 17    # rows per streamed batch of a fetch (its Arrow buffers are reused: cache-sized)


def fetch_columns(con, sql: str, dtypes: Mapping[str, Any], rows: int) -> dict[str, np.ndarray]:
    """The columns of ``sql`` as numpy arrays, streamed batch by batch into arrays made once.

    DuckDB's ``fetchnumpy`` first collects the whole result in its own memory and then copies it
    into fresh arrays: at 10M orders 0.5 GB of pages that the kernel zeroes on first touch
    (about 130K page faults against 70K streamed; the fetch's CPU 0.45 -> 0.35 s). Timestamps
    come as int64 microseconds since 1970, NULLs as 0 (the loader has rejected them).

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
    sql : str
    dtypes : mapping
        Column name -> numpy dtype of its array.
    rows : int
        Expected number of rows (the arrays are made this long, grown when more arrive and cut
        to the rows read).

    Returns
    -------
    dict
        Column name -> numpy array.

    Examples
    --------
    >>> import duckdb
    >>> r = fetch_columns(duckdb.connect(), "SELECT range AS k, TIMESTAMP '1970-01-02' AS t FROM range(3)",
    ...                   {"k": np.int32, "t": np.int64}, rows=2)
    >>> r["k"].tolist(), int(r["t"][0]) == US_PER_DAY
    ([0, 1, 2], True)
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    cap = max(int(rows), 1)
    out = {k: np.empty(cap, dt) for k, dt in dtypes.items()}
    at = 0
    for b in con.sql(sql).to_arrow_reader(FETCH_BATCH):
        m = b.num_rows
        if at + m > cap:                     # more rows than planned
            cap = max(2 * cap, at + m)
            for k, v in out.items():
                out[k] = np.empty(cap, v.dtype)
                out[k][:at] = v[:at]
        for k in dtypes:
            col = b.column(k)
            if col.null_count:
                col = col.fill_null(0)
            if pa.types.is_timestamp(col.type):
                if col.type.unit != "us" or col.type.tz is not None:
                    col = pc.cast(col, pa.timestamp("us"), safe=False)
                col = col.view(pa.int64())
            out[k][at:at + m] = col.to_numpy(zero_copy_only=False)
        at += m
    return {k: v[:at] for k, v in out.items()}


def _arrange(plan: ArrayPlan, code: np.ndarray, day: np.ndarray, amount: np.ndarray, product, t, p_lo) -> OrderArrays:
    """Sort fetched orders by (customer code, day), ties canonical (the arrays of :func:`_fetch`);
    ``code`` counts from ``plan.id_lo`` (may be modified in place)."""
    start, stop = 0, plan.id_hi - plan.id_lo + 1
    n = len(code)
    if n == 0:
        z = np.zeros(0, dtype=np.int64)
        return OrderArrays(code.astype(np.int64), day.astype(np.int32), amount.astype(np.float64), plan.id_lo,
                           plan.id_dtype, *(() if p_lo is None else (product.astype(np.int32), p_lo, z, z)))
    d0 = int(day.min())
    c_bits = max(1, int(stop - start - 1).bit_length())
    d_bits = max(1, int(day.max() - d0).bit_length())
    r_bits = max(1, int(n - 1).bit_length())
    if c_bits + d_bits + r_bits <= 63:
        # one sort of packed keys (customer, day, row): the row index comes back from the key.
        # Built and unpacked in place: every fresh 80 MB array at 10M orders costs its page
        # faults (the kernel zeroes each page), which were a third of this step's CPU
        key = code.astype(np.int64, copy=not (code.dtype == np.int64 and code.flags.writeable))
        if start:
            key -= start
        key <<= d_bits + r_bits
        tmp = day.astype(np.int64)
        tmp -= d0
        tmp <<= r_bits
        key |= tmp
        tmp.fill(1)                     # the row numbers 0 .. n-1, written into tmp (no fresh array)
        tmp[0] = 0
        np.cumsum(tmp, out=tmp)
        key |= tmp
        key.sort()
        perm = np.bitwise_and(key, (1 << r_bits) - 1, out=tmp)
        code = np.right_shift(key, d_bits + r_bits)
        if start:
            code += start
        dk = np.right_shift(key, r_bits, out=key)      # (customer, day) keys, sorted, in place
        _canonical_ties(dk, perm, amount, product)
        ties = None
        if t is not None:    # runs of (customer, first day): their ends by a binary search of the keys
            cand = _tie_candidates(code, dk)           # equal keys: same customer and day
            ties = _runs(cand, np.searchsorted(dk, dk[cand] + 1, side="left"))
        dk &= (1 << d_bits) - 1
        # the days into the fetched day column where it is ours to overwrite (no fresh array)
        out = day if day.dtype == np.int32 and day.flags.writeable and len(day) == n else np.empty(n, np.int32)
        day = np.add(dk, d0, out=out, casting="unsafe")
        del dk, key, tmp
    else:   # pragma: no cover - beyond 63 bits (ids far apart and a log of billions)
        perm = np.lexsort((amount, day, code))
        code, day = code[perm], day[perm]
        ties = None
        if t is not None:
            cand = _tie_candidates(code, day)
            change = np.append(np.flatnonzero((code[1:] != code[:-1]) | (day[1:] != day[:-1])) + 1, n)
            ties = _runs(cand, change[np.searchsorted(change, cand, side="right")])
    a = OrderArrays(code, day.astype(np.int32, copy=False), amount[perm], plan.id_lo, plan.id_dtype)
    if t is not None:
        a.product, a.p_lo = product[perm], int(p_lo)
        a.tie_rows, a.tie_time = ties, t[perm[ties]]
    return a


def _canonical_ties(group: np.ndarray, perm: np.ndarray, amount: np.ndarray, product: np.ndarray | None) -> None:
    """Put the rows of each run of equal ``group`` values (one customer's orders on one day) in
    order of amount, then product code, in place in ``perm``.

    The rows arrive in whatever order DuckDB's threads return them, and the sums over a customer
    or a product add them in ``perm`` order: with ties ordered by value, rows that could still
    swap are equal in every column a sum reads, so every sum is the same on every run.

    >>> perm = np.array([0, 1, 2, 3, 4, 5])
    >>> group = np.array([5, 7, 7, 7, 8, 8])
    >>> _canonical_ties(group, perm, np.array([1.0, 3.0, 2.0, 3.0, 9.0, 4.0]), np.array([0, 2, 0, 1, 0, 0]))
    >>> perm.tolist()
    [0, 2, 3, 1, 5, 4]
    """
    n = len(group)
    if n < 2:
        return
    tie = np.empty(n, dtype=bool)         # row i and row i + 1 are in one run
    np.equal(group[1:], group[:-1], out=tie[:-1])
    tie[-1] = False
    at = np.flatnonzero(tie)
    if not len(at):
        return
    starts = at[np.r_[True, at[1:] != at[:-1] + 1]]       # first row of each run of ties
    lengths = np.diff(np.r_[np.flatnonzero(np.r_[True, at[1:] != at[:-1] + 1]), len(at)]) + 1

    def later(i, j):         # row perm[i] comes after row perm[j] in the canonical order
        ai, aj = amount[perm[i]], amount[perm[j]]
        if product is None:
            return ai > aj
        return (ai > aj) | ((ai == aj) & (product[perm[i]] > product[perm[j]]))

    pairs = starts[lengths == 2]          # most runs: two orders on one day, one swap each
    swap = pairs[later(pairs, pairs + 1)]
    perm[swap], perm[swap + 1] = perm[swap + 1], perm[swap].copy()
    big = lengths > 2
    if big.any():                         # longer runs: sorted together (few rows)
        rows = _runs(starts[big], starts[big] + lengths[big])
        p = perm[rows]
        keys = (amount[p], group[rows]) if product is None else (product[p], amount[p], group[rows])
        perm[rows] = p[np.lexsort(keys)]


def _tie_candidates(code: np.ndarray, day: np.ndarray):
    """The first rows of the customers with more than one order on their first order date."""
    first = np.empty(len(code), dtype=bool)
    first[0] = True
    np.not_equal(code[1:], code[:-1], out=first[1:])
    s = np.flatnonzero(first)
    nxt = np.minimum(s + 1, len(code) - 1)
    return s[(nxt > s) & (code[nxt] == code[s]) & (day[nxt] == day[s])]


def _runs(starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """The rows of the runs ``[starts[i], ends[i])``, concatenated (int64)."""
    n = (ends - starts).astype(np.int64)
    if n.sum() == 0:
        return np.zeros(0, dtype=np.int64)
    off = np.repeat(starts.astype(np.int64) - np.concatenate(([0], np.cumsum(n)[:-1])), n)
    return off + np.arange(int(n.sum()), dtype=np.int64)


def naive_timestamp(t) -> bool:
    """Whether an ibis type is a timestamp without time zone, in microseconds or unscaled (the
    timestamps the arrays read as microseconds since 1970-01-01 UTC).

    Examples
    --------
    >>> import ibis
    >>> naive_timestamp(ibis.dtype("timestamp")), naive_timestamp(ibis.dtype("timestamp('UTC')"))
    (True, False)
    """
    return t.is_timestamp() and t.timezone is None and t.scale in (None, 6)


def request_products(engine: KPIEngine, p_lo: int) -> bool:
    """Ask the order arrays to carry each order's product code (``product_id - p_lo``) and the
    timestamps of the first-date ties (:class:`OrderArrays`).

    Only before the arrays are built (once built, they are kept as they are), where the orders
    have integer product ids, timestamps without time zone, and the larger fetch fits the memory
    budget. The caller checks the rest (as
    :func:`~crm_research.kpi.product_arrays.product_plan` does): no product id is NULL, the codes
    from ``p_lo`` fit int32, and the lines are the orders.

    Parameters
    ----------
    engine : KPIEngine
    p_lo : int
        Smallest product id of the orders.

    Returns
    -------
    bool
        True when :func:`order_arrays` carries (or will carry) the products from ``p_lo``.

    Examples
    --------
    >>> import pandas as pd
    >>> from crm_research import kpi
    >>> o = pd.DataFrame({'customer_id': [1, 2], 'order_id': [1, 2], 'amount': [5.0, 7.0],
    ...                   'timestamp': pd.to_datetime(['2024-01-05', '2024-02-03']), 'product_id': [7, 9]})
    >>> eng = kpi.load(o)
    >>> request_products(eng, 7)
    True
    >>> order_arrays(eng).product.tolist()
    [0, 2]
    >>> request_products(kpi.load(o.drop(columns='product_id')), 7)      # no products to carry
    False
    """
    plan = array_plan(engine)
    state = engine.cached("order_array_products", dict)
    if "built" in state:
        return state.get("p_lo") == int(p_lo)
    if plan is None or "product_id" not in engine.orders.columns:
        return False
    s = engine.orders.schema()
    if not s["product_id"].is_integer() \
            or not naive_timestamp(s["timestamp"]):
        return False
    if (_BYTES_PER_ORDER + _BYTES_PER_PRODUCT) * plan.orders + 8 * (plan.id_hi - plan.id_lo + 1) \
            > memory_budget(engine.con):
        return False
    state["p_lo"] = int(p_lo)
    return True


def order_arrays(engine: KPIEngine) -> OrderArrays:
    """The orders as customer-sorted arrays (fetched once per engine and kept).

    Parameters
    ----------
    engine : KPIEngine

    Returns
    -------
    OrderArrays

    Raises
    ------
    ValueError
        :func:`array_plan` is None for this engine.

    Examples
    --------
    >>> from crm_research.kpi.examples import example_engine
    >>> a = order_arrays(example_engine())
    >>> len(a), bool((a.code[1:] >= a.code[:-1]).all())
    (24, True)
    """
    plan = array_plan(engine)
    if plan is None:
        raise ValueError("the orders of this engine are not fetched as arrays (see array_plan)")

    def build():
        state = engine.cached("order_array_products", dict)
        state["built"] = True           # products asked for later: too late (see request_products)
        with small_pages():
            return _fetch(engine, plan, state.get("p_lo"))

    return engine.cached("order_arrays", build)


@dataclasses.dataclass(frozen=True)
class PartPlan:
    """Customer-id ranges whose arrays each fit the memory budget, for a log whose arrays do not.

    Attributes
    ----------
    parts : tuple of ArrayPlan
        One plan per range of customer ids (ascending, disjoint, covering every customer).
    """

    parts: tuple

    @property
    def orders(self) -> int:
        """Orders of the whole log."""
        return sum(p.orders for p in self.parts)


PART_BUCKETS = 4096     # the id range is cut into parts at multiples of 1/PART_BUCKETS of its span


def part_plan(engine: KPIEngine, budget: int | None = None) -> PartPlan | None:
    """Customer-id ranges for reading a log too large for :func:`array_plan` in parts.

    Where the whole log's arrays would not fit the memory budget (a quarter of the
    ``memory_limit``) but the arrays apply otherwise (DuckDB, integer customer ids that are
    positions), the customers are cut into consecutive id ranges of at most half the budget each
    (two parts are built at a time), from one histogram of the ids. Every customer-level table is
    a concatenation of per-customer rows and every count over customers is a sum over the parts,
    so the parts give the tables of the whole log (:func:`order_parts`, :func:`store_parts`).

    Parameters
    ----------
    engine : KPIEngine
    budget : int, optional
        Bytes per part (default: half of :func:`~crm_research.kpi.distinct.memory_budget`).

    Returns
    -------
    PartPlan or None
        None where :func:`array_plan` applies (the whole log fits), where the arrays do not apply,
        or where one bucket of ids alone would exceed twice the budget (then the engine path).

    Examples
    --------
    >>> from crm_research.kpi.examples import example_engine
    >>> eng = example_engine()
    >>> part_plan(eng) is None                       # the whole log fits: array_plan applies
    True
    >>> p = part_plan(eng, budget=500)
    >>> [(q.id_lo, q.id_hi, q.orders) for q in p.parts][:3], p.orders
    ([(1, 2, 9), (3, 4, 5), (5, 7, 8)], 24)
    """
    def build(budget):
        if budget is None and array_plan(engine) is not None:
            return None
        r = _id_range(engine)
        if r is None:
            return None
        n, lo, hi, dtype = r
        budget = memory_budget(engine.con) // 4 if budget is None else int(budget)
        # ids take array positions (8 bytes each), empty ones too
        cuts = cut_id_range(engine, engine.orders, lo, hi, _BYTES_PER_ORDER, 8, budget)
        return None if cuts is None else PartPlan(tuple(ArrayPlan(a, b, m, dtype) for a, b, m in cuts))

    if budget is not None:
        return build(budget)
    return engine.cached("order_part_plan", lambda: build(None))


def cut_id_range(engine: KPIEngine, table, lo: int, hi: int, row_bytes: int, id_bytes: int, budget: int):
    """Consecutive customer-id ranges of ``table`` (ibis, on the engine), each costing at most
    ``budget`` bytes: ``row_bytes`` per row and ``id_bytes`` per id it spans. The ids ``lo .. hi``
    are cut at multiples of 1/:data:`PART_BUCKETS` of their span, from one histogram of the ids
    (empty buckets belong to the next range).

    Returns
    -------
    list of (int, int, int) or None
        ``(first id, last id, rows)`` per range, covering ``lo .. hi``; None where one bucket (or
        the gap before it) alone would cost more than twice the budget.

    Examples
    --------
    >>> from crm_research.kpi.examples import example_engine
    >>> eng = example_engine()
    >>> cut_id_range(eng, eng.orders, 1, 8, 48, 8, 500)
    [(1, 2, 9), (3, 4, 5), (5, 7, 8), (8, 8, 2)]
    >>> cut_id_range(eng, eng.orders, 1, 8, 48, 8, 100) is None     # customer 1 alone: 7 orders
    True
    """
    import ibis

    step = max(1, -(-(hi - lo + 1) // PART_BUCKETS))
    b = ((table.customer_id - lo) // step).cast("int64").name("b")
    h = engine.con.sql(ibis.to_sql(table.group_by(b).aggregate(n=table.count()).order_by("b"),
                                   dialect="duckdb")).fetchnumpy()
    cuts, start, m, end = [], 0, 0, 0
    for bk, c in zip(np.asarray(h["b"]).tolist(), np.asarray(h["n"]).tolist()):
        if m and row_bytes * (m + c) + id_bytes * step * (bk + 1 - start) > budget:
            cuts.append((start, end, m))
            start, m = end, 0
        if row_bytes * c + id_bytes * step * (bk + 1 - start) > 2 * budget:
            return None
        m += c
        end = bk + 1
    cuts.append((start, end, m))
    return [(lo + s0 * step, hi if j == len(cuts) - 1 else lo + s1 * step - 1, m)
            for j, (s0, s1, m) in enumerate(cuts)]


def build_parts(engine: KPIEngine, prefix: str, n: int, work, size: int, first=None) -> str:
    """Run ``work(connection, folder, k)`` for the parts ``k = 0 .. n - 1`` on up to two threads
    (part ``k`` on thread ``k % threads``), each thread with a DuckDB connection of its own, in a
    new folder in DuckDB's ``temp_directory`` (else the system's) that goes with the engine.
    ``first(connections, folder)`` runs before (the routing scan). A folder that cannot take the
    parts (``size`` bytes, about) gives :func:`parts_error`, and is removed.

    Returns
    -------
    str
        The folder.

    Examples
    --------
    >>> import os
    >>> from crm_research.kpi.examples import example_engine
    >>> eng = example_engine()
    >>> d = build_parts(eng, "crm_doc_", 3, lambda con, folder, k: open(f"{folder}/{k}", "w").close(), 0)
    >>> sorted(os.listdir(d))
    ['0', '1', '2']
    """
    import shutil
    import tempfile
    import weakref
    from concurrent.futures import ThreadPoolExecutor

    from .distinct import spill_dir

    folder = tempfile.mkdtemp(prefix=prefix, dir=spill_dir(engine.con))
    weakref.finalize(engine, shutil.rmtree, folder, ignore_errors=True)
    threads = max(1, min(2, worker_threads(engine), n))
    cons = [engine.cursor() for _ in range(threads)]     # opened here: the engine's connection serves one call at a time

    def run(j):
        for k in range(j, n, threads):
            work(cons[j], folder, k)

    try:
        if first is not None:
            first(cons, folder)
        with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="kpi-parts") as ex:
            list(ex.map(run, range(threads)))
    except OSError as e:             # a full disk, say
        shutil.rmtree(folder, ignore_errors=True)
        raise parts_error(folder, e, size) from None
    finally:
        for c in cons:
            c.close()
    return folder


def order_parts(engine: KPIEngine):
    """The orders of :func:`part_plan`'s parts as customer-sorted arrays, one part at a time.

    The parts are read once per engine (one filtered scan and one sort each, two parts at a time
    on two threads) and kept as ``.npy`` files in DuckDB's ``temp_directory`` (else the system's
    temporary folder), removed with the engine; each later pass maps them back from there. Each
    part is an :class:`OrderArrays` of its own customers, coded from the part's smallest id
    (``id_lo``), so ``customer_ids`` gives the customers' ids.

    Parameters
    ----------
    engine : KPIEngine

    Yields
    ------
    OrderArrays
        The parts in order of customer id (read-only arrays).

    Raises
    ------
    ValueError
        :func:`part_plan` is None for this engine.

    Examples
    --------
    >>> from crm_research.kpi.examples import example_engine
    >>> eng = example_engine()
    >>> read_in_parts(eng, budget=500).orders
    24
    >>> [a.customer_ids(a.starts()).tolist() for a in order_parts(eng)]
    [[1, 2], [3, 4], [5, 6, 7], [8]]
    """
    plan = part_plan(engine)
    if plan is None:
        raise ValueError("the orders of this engine are not read in parts (see part_plan)")
    folder, names = engine.cached("order_parts", lambda: _write_parts(engine, plan))
    for p, name in zip(plan.parts, names):
        code, day, amount = (np.load(f"{folder}/{name}_{k}.npy", mmap_mode="r") for k in ("code", "day", "amount"))
        yield OrderArrays(code, day, amount, p.id_lo, p.id_dtype)


def read_in_parts(engine: KPIEngine, budget: int) -> PartPlan | None:
    """Have an engine read its orders in parts of at most ``budget`` bytes, even where they fit whole.

    For a tighter memory budget than :func:`part_plan`'s default, and for checking that the parts
    give the tables of the whole log. Call it before the first KPI (the choice is kept per engine).

    Parameters
    ----------
    engine : KPIEngine
    budget : int
        Bytes per part.

    Returns
    -------
    PartPlan or None
        The plan (None where the arrays do not apply: the engine path stays).

    Raises
    ------
    ValueError
        The engine has read its orders already.

    Examples
    --------
    >>> from crm_research.kpi.examples import example_engine
    >>> eng = example_engine()
    >>> len(read_in_parts(eng, budget=500).parts), array_plan(eng) is None, has_arrays(eng)
    (4, True, True)
    """
    if engine.is_cached("order_array_plan") or engine.is_cached("order_part_plan"):
        raise ValueError("read_in_parts: call it before the first KPI of this engine")
    plan = part_plan(engine, budget=budget)
    engine.cached("order_part_plan", lambda: plan)
    engine.cached("order_array_plan", lambda: None)
    return plan


def engine_path_only(engine: KPIEngine) -> None:
    """Have an engine compute every KPI with the engine's own definitions: no order arrays, whole
    or in parts (for comparing the paths; call it before the first KPI).

    Raises
    ------
    ValueError
        The engine has read its orders already.

    Examples
    --------
    >>> from crm_research.kpi.examples import example_engine
    >>> eng = example_engine()
    >>> engine_path_only(eng)
    >>> has_arrays(eng)
    False
    """
    if engine.is_cached("order_array_plan") or engine.is_cached("order_part_plan"):
        raise ValueError("engine_path_only: call it before the first KPI of this engine")
    engine.cached("order_array_plan", lambda: None)
    engine.cached("order_part_plan", lambda: None)


def _write_parts(engine: KPIEngine, plan: PartPlan):
    names = [f"part{k:05d}" for k in range(len(plan.parts))]
    lo0 = plan.parts[0].id_lo
    routed = scattered(engine, [p.id_lo for p in plan.parts], plan.orders)
    if routed:        # one scan sends every order to its part's file (no scan of the whole log per part)
        import ibis

        o = engine.orders
        sql = ibis.to_sql(o.select(c=(o.customer_id - lo0).cast("int64"),
                                   d=o.timestamp.date().delta(ibis.date(1970, 1, 1), unit="day").cast("int32"),
                                   a=o.amount.cast("float64")), dialect="duckdb")

    def route_all(cons, folder):
        route(cons, sql, "c", [p.id_lo - lo0 for p in plan.parts], [f"{folder}/{n}.arrow" for n in names])

    def write(con, folder, k):
        p = plan.parts[k]
        with small_pages():
            if routed:
                t = read_routed(f"{folder}/{names[k]}.arrow")
                code = t.column("c").to_numpy()
                if not code.flags.writeable:                 # sorted in place
                    code = code.copy()
                if p.id_lo != lo0:
                    code -= p.id_lo - lo0
                a = _arrange(p, code, t.column("d").to_numpy(), t.column("a").to_numpy(), None, None, None)
                del t
                os.remove(f"{folder}/{names[k]}.arrow")
            else:
                a = _fetch(engine, p, con=con, part=True)
            for key, x in (("code", a.code), ("day", a.day), ("amount", a.amount)):
                np.save(f"{folder}/{names[k]}_{key}.npy", x)

    folder = build_parts(engine, "crm_kpi_orders_", len(plan.parts), write, 20 * plan.orders,
                         route_all if routed else None)
    return folder, names


ROUTE_ROWS = 1 << 20        # rows per batch of the routing scan


def scattered(engine: KPIEngine, starts, n: int, table: str = "orders") -> bool:
    """Whether the customers of the parts beginning at ids ``starts`` lie all over the stored
    ``table`` of ``n`` rows (a log in time order, say), judged from its first rows in storage order
    (half a part's worth, at most 2**20): rows of more than half of the parts (at least three)
    there. Then one scan routing each row to its
    part (:func:`route`) beats a filtered scan per part, which reads the whole table each time
    (100M orders in time order: 14 scans 24 s); in a log stored by customer each filtered scan
    skips the other parts' row groups.

    Examples
    --------
    >>> from crm_research.kpi.examples import example_engine
    >>> eng = example_engine()
    >>> scattered(eng, [1, 3, 5, 7], 24), scattered(eng, [1, 3, 5, 7], 24 * 1000)
    (False, True)
    """
    import ibis

    rows = max(1, min(1 << 20, int(n) // (2 * max(1, len(starts)))))
    t = engine.orders if table == "orders" else engine.sessions
    sql = ibis.to_sql(t.select("customer_id").limit(rows), dialect="duckdb")
    ids = np.asarray(engine.con.sql(sql).fetchnumpy()["customer_id"])
    k = np.searchsorted(np.asarray(starts, dtype=np.int64), ids, side="right")
    return len(np.unique(k)) > max(2, len(starts) // 2)


def route(con, sql: str, column: str, starts, paths) -> list:
    """Stream a query's rows into Arrow IPC files, one per part: a row goes to the last part whose
    start is at most its ``column`` value (starts ascending). One scan of the query, in batches;
    within a part the rows keep their order. Given several connections, each thread routes the
    rows of a consecutive group of parts (its own scan, filtered by DuckDB): the routing's numpy
    work runs on as many cores.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection or list of them
    sql : str
    column : str
    starts : sequence of int
        The first value of each part (ascending; values below the first go to part 0).
    paths : sequence of str
        One file per part.

    Returns
    -------
    list of int
        Rows per part.

    Examples
    --------
    >>> import duckdb, tempfile
    >>> d = tempfile.mkdtemp()
    >>> paths = [f"{d}/a.arrow", f"{d}/b.arrow", f"{d}/c.arrow"]
    >>> route(duckdb.connect(), "SELECT range AS c, range * 10 AS x FROM range(5)", "c", [0, 3, 4], paths)
    [3, 1, 1]
    >>> read_routed(paths[1]).column("x").to_pylist()
    [30]
    >>> c = duckdb.connect()
    >>> route([c.cursor(), c.cursor()], "SELECT range AS c FROM range(5)", "c", [0, 3, 4], paths)
    [3, 1, 1]
    """
    cons = list(con) if isinstance(con, (list, tuple)) else [con]
    n = len(paths)
    groups = min(len(cons), n)
    if groups <= 1:
        return _route(cons[0], sql, column, starts, paths)
    from concurrent.futures import ThreadPoolExecutor

    cut = [round(i * n / groups) for i in range(groups + 1)]

    def one(g):
        i0, i1 = cut[g], cut[g + 1]
        where = ([f'q."{column}" >= {int(starts[i0])}'] if i0 else []) + \
                ([f'q."{column}" < {int(starts[i1])}'] if i1 < n else [])
        return _route(cons[g], f"SELECT * FROM ({sql}) AS q WHERE {' AND '.join(where)}", column,
                      starts[i0:i1], paths[i0:i1])

    with ThreadPoolExecutor(max_workers=groups, thread_name_prefix="kpi-route") as ex:
        return [c for part in ex.map(one, range(groups)) for c in part]


def _route(con, sql: str, column: str, starts, paths) -> list:
    import pyarrow as pa
    import pyarrow.ipc

    rel = con.sql(sql)
    reader = rel.to_arrow_reader(ROUTE_ROWS) if hasattr(rel, "to_arrow_reader") else rel.fetch_record_batch(ROUTE_ROWS)
    s = np.asarray(starts, dtype=np.int64)[1:]
    writers = [pa.ipc.new_file(p, reader.schema) for p in paths]
    counts = [0] * len(paths)
    try:
        for b in reader:
            if not b.num_rows:
                continue
            k = np.searchsorted(s, b.column(column).to_numpy(), side="right").astype(np.int16)
            order = np.argsort(k, kind="stable")
            bounds = np.r_[0, np.cumsum(np.bincount(k, minlength=len(paths)))]
            b = b.take(pa.array(order))
            for j in range(len(paths)):
                if bounds[j + 1] > bounds[j]:
                    writers[j].write_batch(b.slice(bounds[j], bounds[j + 1] - bounds[j]))
                    counts[j] += int(bounds[j + 1] - bounds[j])
    finally:
        for w in writers:
            w.close()
    return counts


def read_routed(path: str):
    """A part written by :func:`route`, as a pyarrow Table (mapped from its file).

    Examples
    --------
    >>> import duckdb, tempfile
    >>> p = f"{tempfile.mkdtemp()}/x.arrow"
    >>> route(duckdb.connect(), "SELECT 1 AS c", "c", [0], [p])
    [1]
    >>> read_routed(p).num_rows
    1
    """
    import pyarrow as pa
    import pyarrow.ipc

    with pa.memory_map(path) as src:
        return pa.ipc.open_file(src).read_all()


def parts_error(folder: str, err: OSError, size: int):
    """The clear error for parts that could not be written to ``folder`` (about ``size`` bytes).

    Examples
    --------
    >>> print(parts_error('/tmp/x', OSError(28, 'No space left on device'), 2 * 10**9))
    temp_directory: /tmp/x: cannot write the log's parts there: No space left on device (fix: give kpi.load(..., temp_directory=...) a folder with about 2.0 GB free, or a larger memory_limit)
    """
    from ..errors import ConfigError

    return ConfigError("temp_directory", folder, f"cannot write the log's parts there: {err.strerror or err}",
                       hint=f"give kpi.load(..., temp_directory=...) a folder with about {size / 1e9:.1f} GB free, "
                            "or a larger memory_limit")


def array_parts(engine: KPIEngine, last_day: int | None = None):
    """The order arrays, whole or in parts: ``[order_arrays(engine)]`` where :func:`array_plan`
    applies, else :func:`order_parts`; each restricted to orders on or before ``last_day``.

    Parameters
    ----------
    engine : KPIEngine
    last_day : int, optional
        Days since 1970-01-01.

    Yields
    ------
    OrderArrays

    Examples
    --------
    >>> from crm_research.kpi.examples import example_engine
    >>> sum(len(a) for a in array_parts(example_engine(), day_number(dt.date(2024, 1, 31))))
    4
    """
    parts = [order_arrays(engine)] if array_plan(engine) is not None else order_parts(engine)
    for a in parts:
        if last_day is not None:
            with small_pages():
                a = a.until(last_day)
        yield a


def has_arrays(engine: KPIEngine) -> bool:
    """True where the orders are read as arrays, whole (:func:`array_plan`) or in parts
    (:func:`part_plan`).

    Examples
    --------
    >>> from crm_research.kpi.examples import example_engine
    >>> has_arrays(example_engine())
    True
    """
    return array_plan(engine) is not None or part_plan(engine) is not None


def _concat(tables):
    import pyarrow as pa

    return tables[0] if len(tables) == 1 else pa.concat_tables(tables)


def _days_to_date(days: np.ndarray, valid: np.ndarray | None = None):
    import pyarrow as pa

    return pa.array(np.asarray(days, dtype=np.int32), type=pa.date32(),
                    mask=None if valid is None else ~valid)


def period_index_of_days(day: np.ndarray, period: str) -> np.ndarray:
    """:func:`~crm_research.kpi.engine.period_index` of dates given as days since 1970-01-01.

    Parameters
    ----------
    day : ndarray of int
    period : {"month", "week"}

    Returns
    -------
    ndarray of int64

    Examples
    --------
    >>> d = np.array([(dt.date(2024, 3, 15) - EPOCH).days, 0])
    >>> period_index_of_days(d, 'month').tolist(), period_index_of_days(d, 'week').tolist()
    ([24290, 23640], [2827, -1])
    """
    day = np.asarray(day)
    if period == "month":
        return day.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64) + 1970 * 12
    return np.floor_divide(day.astype(np.int64) - 4, 7)


def customer_period_rows(engine: KPIEngine, period: str, last_day: int | None = None):
    """Customer x period rows (:func:`~crm_research.kpi.retention.customer_periods`).

    Parameters
    ----------
    engine : KPIEngine
    period : {"month", "week"}
    last_day : int, optional
        Count orders on or before this day (days since 1970-01-01) only.

    Returns
    -------
    pyarrow.Table
        Columns ``customer_id, cohort_idx, idx, orders, revenue, repeat_orders``.

    Examples
    --------
    >>> from crm_research.kpi.examples import example_engine
    >>> t = customer_period_rows(example_engine(), 'month')
    >>> t.num_rows, sum(t.column('orders').to_pylist())
    (20, 24)
    """
    return _concat(list(customer_period_parts(engine, period, last_day)))


def customer_period_parts(engine: KPIEngine, period: str, last_day: int | None = None):
    """:func:`customer_period_rows` in consecutive pieces of whole customers (whole log or parts).

    Parameters
    ----------
    engine : KPIEngine
    period : {"month", "week"}
    last_day : int, optional
        Count orders on or before this day (days since 1970-01-01) only.

    Yields
    ------
    pyarrow.Table

    Examples
    --------
    >>> from crm_research.kpi.examples import example_engine
    >>> eng = example_engine()
    >>> _ = read_in_parts(eng, budget=500)
    >>> [t.num_rows for t in customer_period_parts(eng, 'month')]
    [8, 4, 7, 1]
    """
    threads = worker_threads(engine)
    for a in array_parts(engine, last_day):
        yield from by_customer_chunks(a, lambda c: _customer_periods(c, period), threads)


def _customer_periods(a: OrderArrays, period: str):
    import pyarrow as pa

    first = a.first_row
    if len(a):   # period of each row from a table over the days of the log (a small gather)
        d0 = int(a.day.min())
        lut = period_index_of_days(np.arange(d0, int(a.day.max()) + 1), period).astype(np.int32)
        # indexed by the day itself where the days are not before 1970 (no shifted copy of the column)
        idx = np.concatenate([np.zeros(d0, np.int32), lut])[a.day] if d0 >= 0 else lut[a.day - d0]
    else:
        idx = np.zeros(0, dtype=np.int32)
    run = first.copy()
    run[1:] |= idx[1:] != idx[:-1]
    rs = np.flatnonzero(run)
    first_of_run = first[rs]
    run_idx = idx[rs]
    # each customer's first period, repeated over the customer's runs (consecutive: no gather)
    starts = np.flatnonzero(first_of_run)
    runs = np.empty(len(starts), np.int64)
    np.subtract(starts[1:], starts[:-1], out=runs[:-1])
    runs[-1:] = len(rs) - starts[-1:]
    cohort = np.repeat(run_idx[starts], runs)
    n = np.empty(len(rs), np.int64)                      # orders per run
    np.subtract(rs[1:], rs[:-1], out=n[:-1])
    n[-1:] = len(a) - rs[-1:]
    repeat = n - first_of_run
    return pa.table({
        "customer_id": a.customer_ids(rs), "cohort_idx": cohort.astype(np.int64),
        "idx": run_idx.astype(np.int64), "orders": n.astype(np.int64, copy=False),
        "revenue": np.add.reduceat(a.amount, rs) if len(rs) else np.zeros(0),
        "repeat_orders": repeat.astype(np.int64, copy=False)})


def customer_summary_rows(engine: KPIEngine, last_day: int, window_days: int):
    """Per-customer aggregates (:func:`~crm_research.kpi.customer_summary.customer_summary`).

    Parameters
    ----------
    engine : KPIEngine
    last_day : int
        The as-of date, as days since 1970-01-01.
    window_days : int
        Length of the recent and previous windows.

    Returns
    -------
    pyarrow.Table
        The columns of :data:`~crm_research.kpi.customer_summary.SUMMARY_COLUMNS`.

    Examples
    --------
    >>> from crm_research.kpi.examples import example_engine
    >>> A = (dt.date(2024, 6, 28) - EPOCH).days
    >>> t = customer_summary_rows(example_engine(), A, 90).to_pandas()
    >>> t[['customer_id', 'orders', 'purchase_days', 'orders_recent']].head(3)
       customer_id  orders  purchase_days  orders_recent
    0            1       7              7              3
    1            2       2              2              0
    2            3       1              1              0
    """
    return _concat(list(customer_summary_parts(engine, last_day, window_days)))


def customer_summary_parts(engine: KPIEngine, last_day: int, window_days: int):
    """:func:`customer_summary_rows` in consecutive pieces of whole customers (whole log or parts).

    Parameters
    ----------
    engine : KPIEngine
    last_day : int
        The as-of date, as days since 1970-01-01.
    window_days : int
        Length of the recent and previous windows.

    Yields
    ------
    pyarrow.Table

    Examples
    --------
    >>> from crm_research.kpi.examples import example_engine
    >>> eng = example_engine()
    >>> _ = read_in_parts(eng, budget=500)
    >>> A = (dt.date(2024, 6, 28) - EPOCH).days
    >>> [t.column('customer_id').to_pylist() for t in customer_summary_parts(eng, A, 90)]
    [[1, 2], [3, 4], [5, 6, 7], [8]]
    """
    threads = worker_threads(engine)
    for a in array_parts(engine, last_day):
        yield from by_customer_chunks(a, lambda c: _customer_summary(c, last_day, int(window_days)), threads)


def _customer_summary(a: OrderArrays, last_day: int, W: int):
    import pyarrow as pa

    m = len(a)
    first = a.first_row
    starts = np.flatnonzero(first)
    k = len(starts)
    if k == 0:
        return _empty_summary(a)
    ends = np.append(starts[1:], m)
    gap = a.gaps(first)                         # -1 at a first order: NULL
    recent = a.day > last_day - W                   # age in days below W
    previous = (a.day > last_day - 2 * W) & ~recent  # W <= age < 2W

    bounds = np.append(starts, m)

    def per_customer(mask):          # rows where mask holds before each bound: a running count
        return running_sums(mask, bounds)

    # typical gap: median of the positive gaps per customer, from one sort of (customer, gap)
    pos = gap > 0
    cpos = per_customer(pos)         # positive gaps before each customer's first row
    npos = np.diff(cpos)
    has = npos > 0
    if cpos[-1]:
        at = np.flatnonzero(pos)     # rows of positive gaps, in customer order
        g_bits = int(gap.max()).bit_length()
        # the owner (customer code: ascending with the customers), then (owner, gap) packed in place;
        # a gather of the codes is 3x faster than a repeat of 0..k-1 by the counts
        if int(a.code[-1]).bit_length() + g_bits <= 63 and int(a.code[0]) >= 0:
            v = a.code[at].astype(np.int64, copy=False)
        else:   # pragma: no cover - codes beyond 2**52
            v = np.repeat(np.arange(k, dtype=np.int64), npos)
        v <<= g_bits
        v |= gap[at]
        v.sort()
        v &= (1 << g_bits) - 1
        off = cpos[:-1]
        med = (v[np.where(has, off + (npos - 1) // 2, 0)].astype(np.float64) + v[np.where(has, off + npos // 2, 0)]) / 2
        # first order at least one day after the first order date: the customer's first positive gap
        has_rep = has
        rep = np.where(has, a.day[at[np.minimum(off, len(at) - 1)]], 0)
    else:
        med = np.zeros(k)
        has_rep = np.zeros(k, dtype=bool)
        rep = np.zeros(k, dtype=np.int32)
    purchase_days = np.diff(per_customer(gap != 0))
    np.putmask(gap, ~recent, -1)                # the gaps are not needed after this: reused in place
    mx = np.maximum.reduceat(gap, starts)
    return pa.table({
        "customer_id": a.customer_ids(starts),
        "orders": (ends - starts).astype(np.int64),
        "purchase_days": purchase_days,
        "total_spend": np.add.reduceat(a.amount, starts),
        "first_order_date": _days_to_date(a.day[starts]),
        "last_order_date": _days_to_date(a.day[ends - 1]),
        "typical_gap_days": pa.array(med, type=pa.float64(), mask=~has),
        "orders_recent": np.diff(per_customer(recent)),
        "orders_previous": np.diff(per_customer(previous)),
        "max_recent_gap_days": pa.array(mx.astype(np.int64), type=pa.int64(), mask=mx < 0),
        "repurchase_date": _days_to_date(rep, has_rep),
    })


_COUNT_STEP = 1 << 18       # rows per step of a running sum: a small buffer, reused, not faulted in


def running_sums(values: np.ndarray, bounds: np.ndarray) -> np.ndarray:
    """Sum of ``values`` before each of the ascending ``bounds`` (int64; booleans count).

    A cumulative sum read at the bounds, in steps of :data:`_COUNT_STEP` rows: a cumulative sum
    of the whole column would be a fresh 40-80 MB array at 10M orders, whose pages the kernel
    zeroes on first touch. Sums over consecutive segments are its differences.

    Parameters
    ----------
    values : numpy.ndarray
        Booleans or integers.
    bounds : numpy.ndarray
        Ascending positions ``0 .. len(values)``.

    Returns
    -------
    numpy.ndarray

    Examples
    --------
    >>> running_sums(np.array([True, False, True, True, False]), np.array([0, 2, 3, 5])).tolist()
    [0, 1, 2, 3]
    >>> np.diff(running_sums(np.array([1, 2, 3, 4], np.int16), np.array([0, 1, 4]))).tolist()
    [1, 9]
    """
    out = np.zeros(len(bounds), dtype=np.int64)
    x = values.view(np.int8) if values.dtype == np.bool_ else values
    total = 0
    lo = int(np.searchsorted(bounds, 1, side="left"))       # bounds of 0: nothing before them
    for s in range(0, len(x), _COUNT_STEP):
        e = min(s + _COUNT_STEP, len(x))
        hi = int(np.searchsorted(bounds, e, side="right"))   # bounds b with s < b <= e
        c = np.cumsum(x[s:e], dtype=np.int64)
        if hi > lo:
            out[lo:hi] = c[bounds[lo:hi] - 1 - s] + total
        total += int(c[-1])
        lo = hi
    return out


def _empty_summary(a: OrderArrays):
    import pyarrow as pa

    z = np.zeros(0, dtype=np.int64)
    return pa.table({
        "customer_id": a.customer_ids(z), "orders": z, "purchase_days": z, "total_spend": np.zeros(0),
        "first_order_date": _days_to_date(z), "last_order_date": _days_to_date(z),
        "typical_gap_days": pa.array([], type=pa.float64()), "orders_recent": z, "orders_previous": z,
        "max_recent_gap_days": pa.array([], type=pa.int64()), "repurchase_date": _days_to_date(z)})


def customer_first_rows(engine: KPIEngine):
    """Each customer's first order date (columns ``customer_id, first_date``).

    Parameters
    ----------
    engine : KPIEngine

    Returns
    -------
    pyarrow.Table

    Examples
    --------
    >>> from crm_research.kpi.examples import example_engine
    >>> customer_first_rows(example_engine()).num_rows
    8
    """
    return _concat(list(customer_first_parts(engine)))


def customer_first_parts(engine: KPIEngine):
    """:func:`customer_first_rows` in consecutive pieces of whole customers (whole log or parts).

    Parameters
    ----------
    engine : KPIEngine

    Yields
    ------
    pyarrow.Table

    Examples
    --------
    >>> from crm_research.kpi.examples import example_engine
    >>> eng = example_engine()
    >>> _ = read_in_parts(eng, budget=500)
    >>> [t.num_rows for t in customer_first_parts(eng)]
    [2, 2, 3, 1]
    """
    import pyarrow as pa

    for a in array_parts(engine):
        s = a.starts()
        yield pa.table({"customer_id": a.customer_ids(s), "first_date": _days_to_date(a.day[s])})


def positive_gap_histogram(engine: KPIEngine, last_day: int) -> tuple[np.ndarray, np.ndarray]:
    """Days between consecutive purchases (gaps > 0) of orders on or before ``last_day``, as a histogram.

    Parameters
    ----------
    engine : KPIEngine
    last_day : int
        Days since 1970-01-01.

    Returns
    -------
    (values, counts) : tuple of ndarray
        The gap lengths that occur and how often.

    Examples
    --------
    >>> from crm_research.kpi.examples import example_engine
    >>> v, n = positive_gap_histogram(example_engine(), 20000)
    >>> int(n.sum())
    16
    """
    total = np.zeros(1, dtype=np.int64)
    with small_pages():
        for a in array_parts(engine, last_day):
            g = a.gaps()
            c = np.bincount(g[g > 0]) if len(g) else total[:1]
            if len(c) > len(total):
                c, total = total, c
            total[:len(c)] += c
    v = np.flatnonzero(total)
    return v, total[v]


def store(engine: KPIEngine, name: str, table) -> "object":
    """Register a pyarrow table in the engine as ``name`` (replacing it) and return it as an ibis Table.

    The engine keeps a reference to the table and reads it in place (a view on this engine's
    connection).

    Parameters
    ----------
    engine : KPIEngine
        A DuckDB engine.
    name : str
        Table name (replaced).
    table : pyarrow.Table

    Returns
    -------
    ibis.Table

    Examples
    --------
    >>> import pyarrow as pa
    >>> from crm_research.kpi.examples import example_engine
    >>> eng = example_engine()
    >>> t = store(eng, 'numbers', pa.table({'x': [1, 2, 3]}))
    >>> eng.execute(t.x.sum())
    6
    >>> eng.execute(store(eng, 'numbers', pa.table({'x': [4]})).x.sum())     # replaced
    4
    """
    # registered, not copied: DuckDB scans the Arrow columns where they are (copying 5.6M
    # customer-months into a table cost about 0.2 s at 10M orders, for tables read a few times)
    engine.con.unregister(name)          # an earlier registration under the name (a view) ...
    engine.con.execute(f'DROP TABLE IF EXISTS "{name}"')     # ... or a stored table
    engine.con.register(name, table)
    with quiet_ibis():
        return engine.backend.table(name)


def store_parts(engine: KPIEngine, name: str, tables) -> "object":
    """Store pyarrow tables, one after the other, as one DuckDB table ``name`` (replacing it).

    For the customer tables of a log read in parts (:func:`part_plan`): each piece goes into
    the engine's table as it comes, so no more than one piece is held in Python at a time, and
    DuckDB compresses the table and spills it to ``temp_directory`` under its memory limit.

    Parameters
    ----------
    engine : KPIEngine
        A DuckDB engine.
    name : str
        Table name (replaced).
    tables : iterable of pyarrow.Table
        Pieces with the same columns; at least one.

    Returns
    -------
    ibis.Table

    Examples
    --------
    >>> import pyarrow as pa
    >>> from crm_research.kpi.examples import example_engine
    >>> eng = example_engine()
    >>> t = store_parts(eng, 'numbers', (pa.table({'x': [i, i + 1]}) for i in (1, 3)))
    >>> eng.execute(t.x.sum())
    10
    """
    con = engine.con
    con.unregister(name)
    con.execute(f'DROP TABLE IF EXISTS "{name}"')
    piece = f"_kpi_piece_{threading.get_ident()}"
    first = True
    for t in tables:
        con.register(piece, t)
        try:
            con.execute(f'CREATE TABLE "{name}" AS SELECT * FROM "{piece}"' if first
                        else f'INSERT INTO "{name}" SELECT * FROM "{piece}"')
        finally:
            con.unregister(piece)
        first = False
    if first:
        raise ValueError(f"store_parts: no table to store as {name!r}")
    with quiet_ibis():
        return engine.backend.table(name)


def day_number(d: dt.date) -> int:
    """Days since 1970-01-01.

    Examples
    --------
    >>> day_number(dt.date(1970, 1, 31))
    30
    """
    return (d - EPOCH).days


__all__ = ["ArrayPlan", "OrderArrays", "PartPlan", "array_parts", "array_plan", "by_customer_chunks", "fetch_columns", "customer_first_rows",
           "customer_first_parts", "customer_period_parts", "release_free_memory", "customer_period_rows", "customer_summary_parts",
           "customer_summary_rows", "build_parts", "cut_id_range", "day_number", "engine_path_only", "order_arrays", "parts_error",
           "has_arrays", "order_parts", "part_plan", "period_index_of_days", "naive_timestamp", "positive_gap_histogram",
           "read_in_parts", "read_routed", "request_products", "route", "running_sums", "scattered", "small_pages", "store",
           "store_parts",
           "worker_threads"]

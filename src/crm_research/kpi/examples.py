"""A tiny, hand-readable order and session log for the examples in the KPI docstrings.

Eight customers buy two products between January and June 2024 (as of 2024-06-30):

======== =====================================================================
customer orders (month-day, amount)
======== =====================================================================
1        a steady buyer: every month (01-03 ... 06-01)
2        two orders (01-10, 03-15), then silent
3        one order (01-25)
4        02-05, 02-25, 03-20, back on 06-20 after three months
5        every month from March (03-02 ... 06-25)
6        04-10, 06-15
7        one order (05-05)
8        two orders in June (06-10, 06-28)
======== =====================================================================

Sessions: customers 1, 4, 5 and 8 visit in May and June. Every number the examples show can
be checked by hand against these rows.
"""
from __future__ import annotations

import pandas as pd

_ORDERS = [
    (1, "2024-01-03", 20.0, "p1"), (1, "2024-01-20", 25.0, "p2"), (1, "2024-02-14", 30.0, "p1"),
    (1, "2024-03-10", 22.0, "p1"), (1, "2024-04-05", 35.0, "p2"), (1, "2024-05-02", 40.0, "p1"),
    (1, "2024-06-01", 28.0, "p2"),
    (2, "2024-01-10", 15.0, "p1"), (2, "2024-03-15", 18.0, "p1"),
    (3, "2024-01-25", 60.0, "p2"),
    (4, "2024-02-05", 12.0, "p1"), (4, "2024-02-25", 14.0, "p1"), (4, "2024-03-20", 16.0, "p2"),
    (4, "2024-06-20", 30.0, "p2"),
    (5, "2024-03-02", 50.0, "p2"), (5, "2024-03-30", 45.0, "p2"), (5, "2024-04-28", 55.0, "p1"),
    (5, "2024-05-27", 48.0, "p2"), (5, "2024-06-25", 52.0, "p2"),
    (6, "2024-04-10", 25.0, "p1"), (6, "2024-06-15", 27.0, "p1"),
    (7, "2024-05-05", 80.0, "p2"),
    (8, "2024-06-10", 10.0, "p1"), (8, "2024-06-28", 11.0, "p2"),
]

_SESSIONS = [
    (1, "2024-05-01 10:00", 300, 5), (1, "2024-05-02 11:00", 240, 4), (1, "2024-06-01 09:30", 180, 3),
    (4, "2024-05-15 20:00", 120, 2), (4, "2024-06-19 21:00", 600, 9), (4, "2024-06-20 08:00", 200, 4),
    (5, "2024-05-27 12:00", 360, 6), (5, "2024-06-25 12:30", 420, 7),
    (8, "2024-06-09 18:00", 90, 2), (8, "2024-06-10 18:10", 150, 3), (8, "2024-06-28 19:00", 60, 1),
]


def example_orders() -> pd.DataFrame:
    """The example order log (module docstring).

    Returns
    -------
    DataFrame
        ``customer_id, order_id, timestamp, amount, product_id``; 24 orders of 8 customers,
        2024-01-03 to 2024-06-28.

    Examples
    --------
    >>> o = example_orders()
    >>> len(o), o["customer_id"].nunique(), o["timestamp"].max()
    (24, 8, Timestamp('2024-06-28 12:00:00'))
    """
    df = pd.DataFrame(_ORDERS, columns=["customer_id", "day", "amount", "product_id"])
    return pd.DataFrame({"customer_id": df["customer_id"], "order_id": range(1, len(df) + 1),
                         "timestamp": pd.to_datetime(df["day"]) + pd.Timedelta(hours=12),
                         "amount": df["amount"], "product_id": df["product_id"]})


def example_sessions() -> pd.DataFrame:
    """The example session log (module docstring).

    Returns
    -------
    DataFrame
        ``customer_id, start, duration`` (seconds), ``page_views``; 11 sessions in May and June 2024.

    Examples
    --------
    >>> s = example_sessions()
    >>> len(s), int(s["duration"].sum())
    (11, 2720)
    """
    df = pd.DataFrame(_SESSIONS, columns=["customer_id", "start", "duration", "page_views"])
    df["start"] = pd.to_datetime(df["start"])
    return df


def example_engine():
    """A :class:`~crm_research.kpi.engine.KPIEngine` (DuckDB in memory) holding the example logs.

    Returns
    -------
    KPIEngine
        Orders, sessions and products; the last order is on 2024-06-28.

    Examples
    --------
    >>> eng = example_engine()
    >>> eng.has_sessions, eng.has_products, eng.max_date()
    (True, True, datetime.date(2024, 6, 28))
    """
    from .engine import KPIEngine

    return KPIEngine.load(example_orders(), sessions=example_sessions())

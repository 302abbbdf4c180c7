"""Calendar periods (week, month, quarter) as integer codes.

A case is analysed per customer and period. Periods are coded as consecutive integers so
windows are ranges and trends are slopes per period:

- ``month``: ``year * 12 + month - 1``
- ``quarter``: ``year * 4 + (month - 1) // 3``
- ``week``: ISO weeks (Monday first), counted from Monday 1970-01-05.
"""
from __future__ import annotations

import datetime as _dt

import numpy as np
import pandas as pd

UNITS = ("week", "month", "quarter")
PER_YEAR = {"week": 52, "month": 12, "quarter": 4}
_MONDAY0 = np.datetime64("1970-01-05", "D")


def to_date(value) -> _dt.date:
    """A date from a ``date``, ``datetime``, pandas Timestamp or ISO text (``2020-03`` = 1 March).

    Parameters
    ----------
    value : date, datetime, Timestamp or str

    Returns
    -------
    datetime.date

    Raises
    ------
    ValueError
        Text that is not an ISO date.

    Examples
    --------
    >>> to_date("2020-03"), to_date("2020-03-17")
    (datetime.date(2020, 3, 1), datetime.date(2020, 3, 17))
    """
    if isinstance(value, _dt.datetime):
        return value.date()
    if isinstance(value, _dt.date):
        return value
    if isinstance(value, pd.Timestamp):
        return value.date()
    s = str(value).strip()
    if len(s) == 7 and s[4] == "-":  # YYYY-MM
        s += "-01"
    return _dt.date.fromisoformat(s)


def codes(dates, unit: str) -> np.ndarray:
    """Integer period codes of an array-like of dates/timestamps.

    Parameters
    ----------
    dates : array-like of dates, timestamps or ISO text
    unit : {"week", "month", "quarter"}

    Returns
    -------
    numpy.ndarray of int64

    Examples
    --------
    >>> codes(["2020-01-15", "2020-02-01"], "month") - code("2020-01-01", "month")
    array([0, 1])
    """
    d = pd.DatetimeIndex(pd.to_datetime(pd.Series(dates).to_numpy()))
    if unit == "month":
        return (d.year.to_numpy() * 12 + d.month.to_numpy() - 1).astype(np.int64)
    if unit == "quarter":
        return (d.year.to_numpy() * 4 + (d.month.to_numpy() - 1) // 3).astype(np.int64)
    if unit == "week":
        days = d.to_numpy().astype("datetime64[D]")
        return ((days - _MONDAY0).astype(np.int64) // 7).astype(np.int64)
    raise ValueError(f"unknown period unit {unit!r}; expected one of {UNITS}")


def code(date, unit: str) -> int:
    """Period code of one date.

    Parameters
    ----------
    date : date or str
    unit : {"week", "month", "quarter"}

    Returns
    -------
    int

    Examples
    --------
    >>> code("2020-03-17", "month"), code("2020-03-17", "quarter")
    (24242, 8080)
    """
    return int(codes([pd.Timestamp(to_date(date))], unit)[0])


def start(code_: int, unit: str) -> pd.Timestamp:
    """First day of the period ``code_``.

    Parameters
    ----------
    code_ : int
    unit : {"week", "month", "quarter"}

    Returns
    -------
    pandas.Timestamp

    Examples
    --------
    >>> start(code("2020-03-17", "quarter"), "quarter")
    Timestamp('2020-01-01 00:00:00')
    """
    c = int(code_)
    if unit == "month":
        return pd.Timestamp(year=c // 12, month=c % 12 + 1, day=1)
    if unit == "quarter":
        return pd.Timestamp(year=c // 4, month=(c % 4) * 3 + 1, day=1)
    if unit == "week":
        return pd.Timestamp(_MONDAY0 + np.timedelta64(7 * c, "D"))
    raise ValueError(f"unknown period unit {unit!r}")


def end(code_: int, unit: str) -> pd.Timestamp:
    """First day after the period ``code_`` (exclusive end).

    Parameters
    ----------
    code_ : int
    unit : {"week", "month", "quarter"}

    Returns
    -------
    pandas.Timestamp

    Examples
    --------
    >>> end(code("2020-02-10", "month"), "month")
    Timestamp('2020-03-01 00:00:00')
    """
    return start(int(code_) + 1, unit)


def label(code_: int, unit: str) -> str:
    """``2020-03``, ``2020Q1`` or ``2020-W10`` style label.

    Parameters
    ----------
    code_ : int
    unit : {"week", "month", "quarter"}

    Returns
    -------
    str

    Examples
    --------
    >>> [label(code("2021-01-06", u), u) for u in UNITS]
    ['2021-W01', '2021-01', '2021Q1']
    """
    s = start(code_, unit)
    if unit == "month":
        return f"{s.year:04d}-{s.month:02d}"
    if unit == "quarter":
        return f"{s.year:04d}Q{(s.month - 1) // 3 + 1}"
    iso = s.isocalendar()
    return f"{iso[0]:04d}-W{iso[1]:02d}"


def first_full_period(date, unit: str) -> int:
    """The first period that starts on or after ``date`` (a strategy's first fully exposed period).

    Parameters
    ----------
    date : date or str
    unit : {"week", "month", "quarter"}

    Returns
    -------
    int

    Examples
    --------
    >>> label(first_full_period("2020-03-01", "month"), "month"), label(first_full_period("2020-03-02", "month"), "month")
    ('2020-03', '2020-04')
    """
    c = code(date, unit)
    return c if start(c, unit).date() == to_date(date) else c + 1


def season_index(code_: np.ndarray | int, unit: str) -> np.ndarray:
    """Position within the year in [0, 1): month 1 -> 0, month 12 -> 11/12 (weeks approximately).

    Parameters
    ----------
    code_ : int or array of int
    unit : {"week", "month", "quarter"}

    Returns
    -------
    numpy.ndarray of float

    Examples
    --------
    >>> float(season_index(code("2020-07-01", "month"), "month"))
    0.5
    """
    c = np.asarray(code_)
    if unit == "month":
        return (c % 12) / 12.0
    if unit == "quarter":
        return (c % 4) / 4.0
    # weeks: use the calendar month of the week's Monday
    ts = pd.DatetimeIndex(_MONDAY0 + (7 * c.astype(np.int64)).astype("timedelta64[D]"))
    return ((ts.month.to_numpy() - 1) + (ts.day.to_numpy() - 1) / 31.0) / 12.0

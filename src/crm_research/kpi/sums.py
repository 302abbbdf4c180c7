"""Sums that are the same on every run: exact at 1e-10, whatever order the rows are added in.

Floating-point addition is not associative, and engines add in the order their threads meet the
rows (DuckDB also returns rows in no fixed order once the loader has validated them), so a plain
``sum`` of doubles can differ in its last bits from one run to the next (10M orders:
1405980126.649849, then .649825). The KPI definitions sum amounts and durations with
:func:`exact_sum` (``DECIMAL(38, 10)`` in the engine) and the numpy paths with
:class:`ExactSums` or in a fixed row order, so the same inputs give the same tables on every
run, whatever the number of threads (``tests/test_kpi_reproducible.py``).
"""
from __future__ import annotations

import numpy as np

EXACT_SUM_TYPE = "decimal(38, 10)"


def exact_sum(x, where=None):
    """Sum of a numeric column, exact at 1e-10 and independent of the order of the rows.

    Engines add floating-point numbers in whatever order their threads meet the rows, so a
    plain ``sum`` of doubles can differ in its last bits from one run to the next (10M orders:
    1405980126.649849, then .649825). Every amount is rounded to 10 decimals, summed exactly as
    ``DECIMAL(38, 10)`` and the sum returned as a double: the same inputs give the same tables
    on every run, whatever the number of threads (values up to 1e28).

    Parameters
    ----------
    x : ibis.expr.types.NumericColumn
    where : ibis.expr.types.BooleanColumn, optional
        Rows to sum.

    Returns
    -------
    ibis.expr.types.FloatingScalar

    Examples
    --------
    >>> import ibis
    >>> t = ibis.memtable({"x": [0.1, 0.2, 0.3]})
    >>> con = ibis.duckdb.connect()
    >>> con.execute(exact_sum(t.x)), 0.1 + 0.2 + 0.3      # the decimal sum, as a double
    (0.6, 0.6000000000000001)
    >>> con.execute(exact_sum(t.x, where=t.x > 0.15))
    0.5
    """
    return x.cast(EXACT_SUM_TYPE).sum(where=where).cast("float64")


def exact_mean(x):
    """Mean of a numeric column from :func:`exact_sum` (the same on every run).

    Examples
    --------
    >>> import ibis
    >>> t = ibis.memtable({"x": [0.1, 0.2, 0.3, 0.4]})
    >>> float(ibis.duckdb.connect().execute(exact_mean(t.x)))
    0.25
    """
    return exact_sum(x) / x.count().cast("float64")


class ExactSums:
    """Per-cell sums of amounts that do not depend on the order of the additions.

    Each amount is split into its integer part and its fraction in units of 1e-10 (two parts of
    five digits); the parts are whole numbers, so ``bincount`` adds them exactly (below 2**53 per
    cell: sums up to 9e15 and 9e10 lines per cell) in any order. :meth:`values` combines them.

    Parameters
    ----------
    cells : int
        Number of cells.

    Examples
    --------
    >>> s = ExactSums(2)
    >>> s.add(np.array([0, 0, 1]), np.array([0.1, 0.2, 5.0]))
    >>> s.add(np.array([0]), np.array([0.3]))
    >>> s.values().tolist(), 0.1 + 0.2 + 0.3
    ([0.6, 5.0], 0.6000000000000001)
    """

    def __init__(self, cells: int):
        self.cells = int(cells)
        self._parts = np.zeros((3, self.cells))

    def add(self, cell: np.ndarray, amount: np.ndarray) -> None:
        """Add ``amount[i]`` to cell ``cell[i]`` for every ``i``."""
        whole = np.floor(amount)
        frac = np.rint((amount - whole) * 1e10)       # 0 .. 1e10, a whole number
        high = np.floor(frac * 1e-5)
        low = frac - high * 1e5
        for part, x in zip(self._parts, (whole, high, low)):
            part += np.bincount(cell, weights=x, minlength=self.cells)

    def values(self) -> np.ndarray:
        """The sums (float64), one per cell."""
        whole, high, low = self._parts
        return whole + (high * 1e5 + low) / 1e10     # exact fractions up to 2**53 units of 1e-10


__all__ = ["EXACT_SUM_TYPE", "ExactSums", "exact_mean", "exact_sum"]

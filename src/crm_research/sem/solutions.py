"""Post-estimation tables of any fit: one entry point whatever the estimation family.

:func:`modindices` and :func:`standardized_solution` accept fits of continuous data (ML, MLM,
MLR, FIML: :mod:`.modindices`, :mod:`.standardized`) and of ordered items (WLSMV, DWLS, WLS,
ULS: :mod:`.ls_modindices`, :mod:`.ls_standardized`) and give lavaan's columns for both, as
lavaan's ``modindices()`` and ``standardizedSolution()`` do.

>>> import pandas as pd
>>> from crm_research import sem
>>> hs = pd.read_csv("tests/reference/lavaan/ord_hs_cut.csv")
>>> res = sem.fit("visual =~ c1 + c2 + c3\\ntextual =~ c4 + c5 + c6", hs, ordered=True)
>>> mi = sem.modindices(res)
>>> mi.columns[:5].tolist()
['lhs', 'op', 'rhs', 'mi', 'epc']
>>> sem.standardized_solution(res).columns[3]
'std.all'
"""
from __future__ import annotations

import pandas as pd

from ..errors import ModelError
from . import modindices as ml_modindices
from . import standardized as ml_standardized

# the least-squares versions (and scipy.stats behind them) are imported only for an ordinal fit,
# so `import crm_research.sem` stays as quick as before


def _ordinal(res) -> bool:
    return bool(getattr(res, "ordered", None))


def modindices(res, *, minimum_value: float = 0.0, op=None, sort: bool = True,
               standardized: bool = True) -> pd.DataFrame:
    """Modification indices, as lavaan's ``modindices()``, for ML-family and ordinal fits.

    Parameters
    ----------
    res : SEMResult
        A converged fit of :func:`~crm_research.sem.fit`.
    minimum_value : float
        Keep rows whose ``mi`` is at least this value.
    op : str or list of str, optional
        Only these operators (``"=~"``, ``"~~"``, ``"~"``).
    sort : bool
        Largest index first (else lavaan's order).
    standardized : bool
        Add ``sepc.lv``, ``sepc.all``, ``sepc.nox``.

    Returns
    -------
    DataFrame
        ``lhs, op, rhs, [group], mi, epc, sepc.lv, sepc.all, sepc.nox``.

    Examples
    --------
    >>> import pandas as pd
    >>> from crm_research import sem
    >>> hs = pd.read_csv("tests/reference/lavaan/HolzingerSwineford1939.csv")
    >>> res = sem.fit("visual =~ x1 + x2 + x3\\ntextual =~ x4 + x5 + x6", hs)
    >>> top = sem.modindices(res).iloc[0]   # lavaan 0.6-14: x2 ~~ x3, mi 10.433
    >>> top["lhs"], top["op"], top["rhs"], round(float(top["mi"]), 2)
    ('x2', '~~', 'x3', 10.43)
    """
    if _ordinal(res):
        from .ls_modindices import modindices_ls as fn
    else:
        fn = ml_modindices.modindices
    return fn(res, minimum_value=minimum_value, op=op, sort=sort, standardized=standardized)


def standardized_solution(res, *, type: str = "std.all", ci: str = "delta",
                          level: float | None = None) -> pd.DataFrame:
    """The standardized solution with standard errors, as lavaan's ``standardizedSolution()``.

    Parameters
    ----------
    res : SEMResult
        A fit of :func:`~crm_research.sem.fit`.
    type : {"std.all", "std.lv", "std.nox"}
        Which standardization (``std.nox`` only for continuous data).
    ci : {"delta", "bootstrap"}
        Delta-method intervals (lavaan's), or percentile/BCa intervals from the fit's bootstrap
        replicates (continuous data fitted with ``se="bootstrap"``).
    level : float, optional
        Confidence level; default the fit's.

    Returns
    -------
    DataFrame
        ``lhs, op, rhs, [group], <type>, se, z, pvalue, ci.lower, ci.upper``.

    Examples
    --------
    >>> import pandas as pd
    >>> from crm_research import sem
    >>> hs = pd.read_csv("tests/reference/lavaan/HolzingerSwineford1939.csv")
    >>> res = sem.fit("visual =~ x1 + x2 + x3\\ntextual =~ x4 + x5 + x6", hs)
    >>> ss = sem.standardized_solution(res)
    >>> round(float(ss[(ss["lhs"] == "visual") & (ss["rhs"] == "x2")]["std.all"].iloc[0]), 3)
    0.431
    """
    if not _ordinal(res):
        return ml_standardized.standardized_solution(res, type=type, ci=ci, level=level)
    if ci != "delta":
        raise ModelError(f"ci={ci!r}: only delta-method intervals exist for an ordinal fit",
                         hint="use ci='delta' (lavaan's standardizedSolution() of a WLSMV fit)")
    from .ls_standardized import standardized_solution_ls

    return standardized_solution_ls(res, type=type, ci_level=level)

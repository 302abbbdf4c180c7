"""KPI panels: each KPI per customer and period as a numerator and a denominator.

Every KPI of the vocabulary (:mod:`crm_research.cases.vocabulary`) is computed here, in
pandas, from the case's tables, as rows ``customer_id, period, num, den``:

======================= =================================================== ==================
KPI                     numerator / denominator per customer and period     rows
======================= =================================================== ==================
retention_rate          active (a session or an order) / 1                  customers acquired
                                                                            before the period
repurchase_rate         ordered / 1                                         customers with an
                                                                            earlier order
conversion_rate         sessions with an order / sessions                   customers with
                                                                            sessions
click_through_rate      recommendation clicks / impressions                 impressions > 0
average_order_value     order amounts / orders                              customers who order
spend_per_customer      spend / 1                                           active customers
high_tier_sales_share   sales to high-tier members / sales                  sales > 0
satisfaction_score      sum of response scores / responses                  respondents
visit_frequency         sessions / 1                                        active customers
dwell_time              session minutes / sessions                          customers with
                                                                            sessions
======================= =================================================== ==================

The KPI of a set of rows (a group in a window, a period) is ``sum(num) / sum(den)``: the
share of trials for rates, the mean per order/session/response for means. A customer's
value in a window is her own ``sum(num) / sum(den)``. A response's satisfaction score is the
mean of its answered satisfaction items.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from . import periods as _periods
from .vocabulary import KPIS

PANEL_COLUMNS = ["customer_id", "period", "num", "den"]


def _period_range(data, unit: str) -> tuple[int, int]:
    lo, hi = data.date_range
    return _periods.code(lo, unit), _periods.code(hi, unit)


def _activity(data, unit: str) -> pd.DataFrame:
    """Distinct (customer_id, period) with a session or an order."""
    parts = []
    if data.sessions is not None:
        parts.append(pd.DataFrame({"customer_id": data.sessions["customer_id"].to_numpy(),
                                   "period": _periods.codes(data.sessions["start"], unit)}))
    if data.orders is not None:
        parts.append(pd.DataFrame({"customer_id": data.orders["customer_id"].to_numpy(),
                                   "period": _periods.codes(data.orders["timestamp"], unit)}))
    if not parts:
        return pd.DataFrame({"customer_id": [], "period": []})
    return pd.concat(parts, ignore_index=True).drop_duplicates(ignore_index=True)


def _expand(ids: np.ndarray, first: np.ndarray, last: int) -> pd.DataFrame:
    """Rows (customer, period) for periods first..last of each customer."""
    n = np.maximum(last - first + 1, 0)
    cust = np.repeat(ids, n)
    offs = np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n)
    return pd.DataFrame({"customer_id": cust, "period": np.repeat(first, n) + offs})


def _flag(rows: pd.DataFrame, events: pd.DataFrame) -> np.ndarray:
    """1.0 where (customer_id, period) of ``rows`` occurs in ``events``."""
    if rows.empty:
        return np.zeros(0)
    key = pd.MultiIndex.from_frame(rows[["customer_id", "period"]])
    ev = pd.MultiIndex.from_frame(events[["customer_id", "period"]].drop_duplicates())
    return key.isin(ev).astype(float)


def _grouped(cust, period, num, den) -> pd.DataFrame:
    df = pd.DataFrame({"customer_id": cust, "period": period, "num": num, "den": den})
    g = df.groupby(["customer_id", "period"], sort=True, observed=True)[["num", "den"]].sum().reset_index()
    return g[g["den"] > 0].reset_index(drop=True)



def _per_active_period(act: pd.DataFrame, totals: pd.DataFrame) -> pd.DataFrame:
    """Panel rows for every active (customer, period) of ``act``: ``num`` from the per-period
    ``totals`` (:func:`_grouped`), 0 where the customer had none, ``den`` = 1."""
    rows = act.sort_values(["customer_id", "period"], ignore_index=True)
    rows = rows.merge(totals[["customer_id", "period", "num"]], on=["customer_id", "period"], how="left")
    rows["num"] = rows["num"].fillna(0.0)
    rows["den"] = 1.0
    return rows[PANEL_COLUMNS]

def kpi_panel(data, kpi: str, *, unit: str = "month", high_tiers=("gold", "platinum"),
              satisfaction_items=("SAT1", "SAT2", "SAT3")) -> pd.DataFrame:
    """One KPI per customer and period.

    Parameters
    ----------
    data : CaseData
    kpi : str
        KPI id of the vocabulary.
    unit : {"week", "month", "quarter"}
    high_tiers : sequence of str
        ``member_tier`` values counted as high tier.
    satisfaction_items : sequence of str
        Survey columns averaged into a response's satisfaction score.

    Returns
    -------
    DataFrame
        ``customer_id, period, num, den`` (``den > 0``), sorted by customer and period.

    Examples
    --------
    >>> import pandas as pd
    >>> from crm_research.cases.tables import CaseData
    >>> data = CaseData(customers=pd.DataFrame({"customer_id": ["a", "b"]}),
    ...                 sessions=pd.DataFrame({"customer_id": ["a", "a", "b"], "converted": [True, False, False],
    ...                                        "start": pd.to_datetime(["2020-01-03", "2020-01-20", "2020-02-02"])}))
    >>> p = kpi_panel(data, "conversion_rate")
    >>> p.assign(period=p["period"] - p["period"].min())
      customer_id  period  num  den
    0           a       0  1.0  2.0
    1           b       1  0.0  1.0
    """
    k = KPIS[kpi]
    first, last = _period_range(data, unit)
    if kpi in ("retention_rate", "repurchase_rate", "spend_per_customer", "visit_frequency"):
        act = _activity(data, unit)
    if kpi == "retention_rate":
        cust = data.customers
        if "signup_date" in cust.columns and cust["signup_date"].notna().any():
            sp = pd.Series(_periods.codes(cust["signup_date"].fillna(pd.Timestamp("2262-01-01")), unit),
                           index=cust["customer_id"].to_numpy())
            missing = cust["signup_date"].isna().to_numpy()
        else:
            sp = pd.Series(np.iinfo(np.int64).max, index=cust["customer_id"].to_numpy())
            missing = np.ones(len(cust), dtype=bool)
        if missing.any():  # signup = first activity
            fa = act.groupby("customer_id")["period"].min()
            ids = cust["customer_id"].to_numpy()[missing]
            sp.loc[ids] = fa.reindex(ids).fillna(np.iinfo(np.int32).max).astype(np.int64).to_numpy()
        ids = sp.index.to_numpy()
        start = np.maximum(sp.to_numpy(dtype=np.int64) + 1, first)
        rows = _expand(ids, start, last)
        rows["num"] = _flag(rows, act)
        rows["den"] = 1.0
        return rows[PANEL_COLUMNS]
    if kpi == "repurchase_rate":
        o = data.orders
        op = pd.DataFrame({"customer_id": o["customer_id"].to_numpy(), "period": _periods.codes(o["timestamp"], unit)})
        fo = op.groupby("customer_id")["period"].min()
        rows = _expand(fo.index.to_numpy(), np.maximum(fo.to_numpy() + 1, first), last)
        rows["num"] = _flag(rows, op)
        rows["den"] = 1.0
        return rows[PANEL_COLUMNS]
    if kpi == "spend_per_customer":
        o = data.orders
        spend = _grouped(o["customer_id"].to_numpy(), _periods.codes(o["timestamp"], unit),
                         o["amount"].to_numpy(), np.ones(len(o)))
        return _per_active_period(act, spend)
    if kpi == "visit_frequency":
        s = data.sessions
        cnt = _grouped(s["customer_id"].to_numpy(), _periods.codes(s["start"], unit),
                       np.ones(len(s)), np.ones(len(s)))
        return _per_active_period(act, cnt)
    if kpi == "conversion_rate":
        s = data.sessions
        if "converted" in s.columns:
            conv = s["converted"].astype(bool).to_numpy()
        elif data.orders is not None and "session_id" in data.orders.columns and "session_id" in s.columns:
            conv = s["session_id"].astype(str).isin(set(data.orders["session_id"].astype(str))).to_numpy()
        else:
            from ..errors import DataFileError
            raise DataFileError(str(data.files.get("sessions", "sessions")),
                                "conversion rate needs sessions.converted or orders.session_id + sessions.session_id",
                                column="converted")
        return _grouped(s["customer_id"].to_numpy(), _periods.codes(s["start"], unit),
                        conv.astype(float), np.ones(len(s)))
    if kpi == "click_through_rate":
        s = data.sessions
        return _grouped(s["customer_id"].to_numpy(), _periods.codes(s["start"], unit),
                        s["rec_clicks"].to_numpy(dtype=float), s["rec_impressions"].to_numpy(dtype=float))
    if kpi == "dwell_time":
        s = data.sessions
        return _grouped(s["customer_id"].to_numpy(), _periods.codes(s["start"], unit),
                        s["duration"].to_numpy(dtype=float) / 60.0, np.ones(len(s)))
    if kpi == "average_order_value":
        o = data.orders
        return _grouped(o["customer_id"].to_numpy(), _periods.codes(o["timestamp"], unit),
                        o["amount"].to_numpy(dtype=float), np.ones(len(o)))
    if kpi == "high_tier_sales_share":
        o = data.orders
        amt = o["amount"].to_numpy(dtype=float)
        high = o["member_tier"].astype(str).isin([str(t) for t in high_tiers]).to_numpy()
        return _grouped(o["customer_id"].to_numpy(), _periods.codes(o["timestamp"], unit), amt * high, amt)
    if kpi == "satisfaction_score":
        v = data.survey
        items = [c for c in satisfaction_items if c in v.columns] or (
            ["satisfaction"] if "satisfaction" in v.columns else [])
        score = v[items].mean(axis=1, skipna=True).to_numpy(dtype=float)
        ok = ~np.isnan(score)
        return _grouped(v["customer_id"].to_numpy()[ok], _periods.codes(v["timestamp"], unit)[ok],
                        score[ok], np.ones(int(ok.sum())))
    raise KeyError(f"no panel for KPI {k.id!r}")


def kpi_panels(data, kpis, *, unit: str = "month", high_tiers=("gold", "platinum"),
               satisfaction_items=("SAT1", "SAT2", "SAT3")) -> dict[str, pd.DataFrame]:
    """:func:`kpi_panel` for several KPIs.

    Parameters
    ----------
    data : CaseData
    kpis : iterable of str
    unit, high_tiers, satisfaction_items
        As in :func:`kpi_panel`.

    Returns
    -------
    dict of DataFrame
        KPI id -> panel.

    Examples
    --------
    >>> import pandas as pd
    >>> from crm_research.cases.tables import CaseData
    >>> data = CaseData(customers=pd.DataFrame({"customer_id": ["a", "b"]}),
    ...                 sessions=pd.DataFrame({"customer_id": ["a", "a", "b"], "converted": [True, False, False],
    ...                                        "start": pd.to_datetime(["2020-01-03", "2020-01-20", "2020-02-02"])}))
    >>> {k: len(p) for k, p in kpi_panels(data, ["conversion_rate", "visit_frequency"]).items()}
    {'conversion_rate': 2, 'visit_frequency': 2}
    """
    return {k: kpi_panel(data, k, unit=unit, high_tiers=high_tiers, satisfaction_items=satisfaction_items)
            for k in kpis}


def kpi_value(panel: pd.DataFrame) -> float:
    """The KPI of a set of panel rows: ``sum(num) / sum(den)``.

    Parameters
    ----------
    panel : DataFrame
        Rows ``num, den``.

    Returns
    -------
    float
        NaN when ``sum(den)`` is 0.

    Examples
    --------
    >>> import pandas as pd
    >>> kpi_value(pd.DataFrame({"num": [1.0, 0.0], "den": [2.0, 1.0]}))
    0.3333333333333333
    """
    d = panel["den"].sum()
    return float(panel["num"].sum() / d) if d > 0 else float("nan")


def customer_values(panel: pd.DataFrame) -> pd.DataFrame:
    """Per customer: ``num``, ``den`` summed over the rows and ``value = num / den``.

    Parameters
    ----------
    panel : DataFrame
        Rows ``customer_id, num, den``.

    Returns
    -------
    DataFrame
        ``customer_id, num, den, value``, one row per customer.

    Examples
    --------
    >>> import pandas as pd
    >>> customer_values(pd.DataFrame({"customer_id": ["a", "a", "b"], "num": [1.0, 3.0, 2.0], "den": 1.0}))
      customer_id  num  den  value
    0           a  4.0  2.0    2.0
    1           b  2.0  1.0    2.0
    """
    g = panel.groupby("customer_id", sort=True)[["num", "den"]].sum()
    g["value"] = g["num"] / g["den"]
    return g.reset_index()

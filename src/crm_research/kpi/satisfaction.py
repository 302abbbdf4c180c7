"""Satisfaction (客户满意度, R2 chapter 6): survey scores joined to purchase behaviour.

Attitudinal loyalty (what customers say in a survey: satisfaction, repurchase intention,
willingness to recommend) is set against behavioural loyalty (what they do: repurchase,
frequency, spend) for the respondents whose ids link to customer ids.

Linking: either the survey has a customer-id column (``customer=``), or a separate link table
maps respondent ids to customer ids (``link=``, columns ``respondent`` and ``customer_id``).
When customer ids were pseudonymized at load time, pseudonymize the survey's ids with the
same salt (:func:`crm_research.privacy.pseudonymize`) before linking.

Behavioural measures per linked customer (orders on or before ``as_of``):

=========================== ===================================================================
``orders``                  number of orders
``repeat_orders``           orders - 1
``purchase_days``           distinct days with an order
``total_spend``             sum of order amounts
``avg_order_value``         total_spend / orders
``tenure_days``             days from first order to ``as_of``
``recency_days``            days from last order to ``as_of``
``repurchased``             1 if an order falls on a later day than the first order, else 0
``repurchased_within_<w>``  1/0 repurchase within ``w`` days of the first order; NaN when the
                            customer was acquired less than ``w`` days before ``as_of``
``orders_per_year``         repeat_orders / tenure in years (NaN for tenure < 30 days)
=========================== ===================================================================
"""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from ..errors import DataFileError
from .engine import KPIEngine, memtable
from .sums import exact_sum

BEHAVIOURAL = ["orders", "repeat_orders", "purchase_days", "total_spend", "avg_order_value",
               "tenure_days", "recency_days", "repurchased", "orders_per_year"]
CORRELATION_COLUMNS = ["attitudinal", "behavioural", "method", "n", "r", "ci.lower", "ci.upper", "pvalue"]


def link_survey(engine: KPIEngine, survey: pd.DataFrame, *, respondent: str = "respondent_id",
                customer: str | None = None, link: pd.DataFrame | None = None,
                scores: list[str] | None = None, as_of=None, window_days: int = 90,
                label: str = "<survey>") -> pd.DataFrame:
    """Join survey scores to each respondent's purchase behaviour.

    Parameters
    ----------
    survey : DataFrame
        One row per respondent, with ``respondent`` and score columns.
    customer : str, optional
        Column of ``survey`` holding the customer id.
    link : DataFrame, optional
        Respondent-to-customer link with columns ``respondent`` and ``customer_id``.
    scores : list of str, optional
        Attitudinal columns to keep (default: every numeric column except ids).
    window_days : int
        Window for ``repurchased_within_<w>``.

    Returns
    -------
    DataFrame
        ``respondent, customer_id``, the scores, the behavioural measures (module docstring)
        and ``matched`` (customer found with at least one order). ``attrs['unmatched']``
        counts respondents without a customer id or without orders.

    Examples
    --------
    >>> from crm_research.kpi.examples import example_engine
    >>> import pandas as pd
    >>> survey = pd.DataFrame({"respondent_id": ["r1", "r2", "r3", "r4", "r5"],
    ...     "customer_id": [1, 2, 3, 5, 99], "SAT": [5, 3, 2, 5, 4]})
    >>> linked = link_survey(example_engine(), survey, customer='customer_id', scores=['SAT'])
    >>> linked[['respondent_id', 'customer_id', 'SAT', 'orders', 'matched']]
      respondent_id  customer_id  SAT  orders  matched
    0            r1            1    5     7.0     True
    1            r2            2    3     2.0     True
    2            r3            3    2     1.0     True
    3            r4            5    5     5.0     True
    4            r5           99    4     NaN    False
    >>> linked.attrs['unmatched']
    1
    """
    if respondent not in survey.columns:
        raise DataFileError(label, "respondent id column missing", column=respondent,
                            hint="pass respondent='your_id_column'")
    if customer is None and link is None:
        raise DataFileError(label, "no way to link respondents to customers",
                            hint="pass customer='customer_id_column' or link=DataFrame(respondent, customer_id)")
    if customer is not None:
        if customer not in survey.columns:
            raise DataFileError(label, "customer id column missing", column=customer)
        ids = survey[[respondent, customer]].rename(columns={customer: "customer_id"})
    else:
        need = {respondent, "customer_id"} - set(link.columns)
        if need:
            raise DataFileError("<link table>", f"missing column(s) {sorted(need)}",
                                hint=f"the link table needs columns {respondent!r} and 'customer_id'")
        ids = link[[respondent, "customer_id"]]
        dup = ids[respondent].duplicated()
        if dup.any():
            raise DataFileError("<link table>", "respondent linked to more than one customer",
                                row=int(np.flatnonzero(dup.to_numpy())[0]), column=respondent,
                                value=ids[respondent][dup].iloc[0], hint="keep one customer per respondent")
    if scores is None:
        skip = {respondent, customer, "customer_id"}
        scores = [c for c in survey.columns if c not in skip and pd.api.types.is_numeric_dtype(survey[c])]
    missing = [c for c in scores if c not in survey.columns]
    if missing:
        raise DataFileError(label, "score column(s) missing", column=missing[0])
    base = survey[[respondent] + [c for c in scores if c != respondent]]
    if customer is None:
        base = base.merge(ids, on=respondent, how="left")
    else:
        base = base.join(ids["customer_id"])
    base = base.copy()
    base["customer_id"] = _coerce_ids(engine, base["customer_id"])

    a = engine.as_of(as_of)
    want = base.loc[base["customer_id"].notna(), ["customer_id"]].drop_duplicates()
    beh = _behaviour(engine, want, a, window_days) if len(want) else pd.DataFrame(columns=["customer_id"])
    out = base.merge(beh, on="customer_id", how="left")
    out["matched"] = out["orders"].notna()
    out.attrs["unmatched"] = int((~out["matched"]).sum())
    out.attrs["scores"] = [c for c in scores if c != respondent]
    out.attrs["respondent"] = respondent
    return out


def _coerce_ids(engine: KPIEngine, ids: pd.Series) -> pd.Series:
    dtype = engine.orders.schema()["customer_id"]
    if dtype.is_integer():
        num = pd.to_numeric(ids, errors="coerce")
        ok = num.notna() & (num == np.round(num))
        return num.where(ok).astype("Int64")
    return ids.where(ids.isna(), ids.astype(str))


def _behaviour(engine: KPIEngine, want: pd.DataFrame, a, window_days: int) -> pd.DataFrame:
    t = memtable(want.astype({"customer_id": "int64"} if str(want["customer_id"].dtype) == "Int64" else {}))
    f = engine.facts_until(a)
    f = f.join(t, "customer_id")
    later = (f.seq > 1) & (f.order_date.delta(f.first_date, unit="day") >= 1)
    c = f.group_by("customer_id").aggregate(
        orders=f.count(), purchase_days=f.count(where=(f.gap_days > 0) | f.gap_days.isnull()),
        total_spend=exact_sum(f.amount), first_date=f.first_date.min(), last_date=f.order_date.max(),
        repurchase_date=f.order_date.min(where=later))
    df = engine.execute(c)
    asof = pd.Timestamp(a)
    df["orders"] = df["orders"].astype("int64")
    df["repeat_orders"] = df["orders"] - 1
    df["avg_order_value"] = df["total_spend"] / df["orders"]
    df["tenure_days"] = (asof - pd.to_datetime(df["first_date"])).dt.days
    df["recency_days"] = (asof - pd.to_datetime(df["last_date"])).dt.days
    rep_gap = (pd.to_datetime(df["repurchase_date"]) - pd.to_datetime(df["first_date"])).dt.days
    df["repurchased"] = rep_gap.notna().astype("int64")
    within = f"repurchased_within_{int(window_days)}"
    df[within] = np.where(df["tenure_days"] >= window_days, (rep_gap <= window_days).astype(float), np.nan)
    years = df["tenure_days"] / 365.25
    df["orders_per_year"] = np.where(df["tenure_days"] >= 30, df["repeat_orders"] / years, np.nan)
    if str(want["customer_id"].dtype) == "Int64":
        df["customer_id"] = df["customer_id"].astype("Int64")
    return df[["customer_id", "orders", "repeat_orders", "purchase_days", "total_spend", "avg_order_value",
               "tenure_days", "recency_days", "repurchased", within, "orders_per_year"]]


def loyalty_correlations(linked: pd.DataFrame, attitudinal: list[str] | None = None,
                         behavioural: list[str] | None = None, method: str = "spearman") -> pd.DataFrame:
    """Correlations between attitudinal scores and behavioural loyalty (pairwise complete).

    Parameters
    ----------
    linked : DataFrame
        Output of :func:`link_survey`.
    attitudinal : list of str, optional
        Survey columns (default: all score columns of ``linked``).
    behavioural : list of str, optional
        Behaviour columns (default: ``repurchased``, ``repurchased_within_<w>``,
        ``repeat_orders``, ``orders_per_year``, ``total_spend``, ``recency_days``).
    method : {"spearman", "pearson", "kendall"}
        Passed to :func:`pingouin.corr`.

    Returns
    -------
    DataFrame
        ``attitudinal, behavioural, method, n, r, ci.lower, ci.upper, pvalue`` (the 95%
        interval of r; ``attrs["ci.level"] = 0.95``); r is NaN when fewer than 3 complete
        pairs or a constant column.

    Examples
    --------
    >>> from crm_research.kpi.examples import example_engine
    >>> import pandas as pd
    >>> survey = pd.DataFrame({"respondent_id": ["r1", "r2", "r3", "r4", "r5"],
    ...     "customer_id": [1, 2, 3, 5, 99], "SAT": [5, 3, 2, 5, 4]})
    >>> linked = link_survey(example_engine(), survey, customer='customer_id', scores=['SAT'])
    >>> loyalty_correlations(linked, behavioural=['orders'])[['attitudinal', 'behavioural', 'n', 'r']]
      attitudinal behavioural  n         r
    0         SAT      orders  4  0.948683
    """
    import pingouin as pg

    within = [c for c in linked.columns if c.startswith("repurchased_within_")]
    if behavioural is None:
        behavioural = ["repurchased"] + within + ["repeat_orders", "orders_per_year", "total_spend", "recency_days"]
    beh_all = set(BEHAVIOURAL) | set(within) | {"customer_id", "matched", "first_date", "last_date"}
    if attitudinal is None:
        attitudinal = linked.attrs.get("scores") or [
            c for c in linked.columns if c not in beh_all and c != linked.attrs.get("respondent", "respondent_id")
            and pd.api.types.is_numeric_dtype(linked[c])]
    data = linked[linked.get("matched", True) == True] if "matched" in linked else linked  # noqa: E712
    rows = []
    for att in attitudinal:
        for beh in behavioural:
            pair = data[[att, beh]].apply(pd.to_numeric, errors="coerce").dropna()
            n = len(pair)
            r = lo = hi = p = np.nan
            if n >= 3 and pair[att].nunique() > 1 and pair[beh].nunique() > 1:
                with warnings.catch_warnings():   # power / CI notes for tiny n: not reported here
                    warnings.simplefilter("ignore")
                    res = pg.corr(pair[att], pair[beh], method=method)
                r = float(res["r"].iloc[0])
                ci = res["CI95"].iloc[0] if "CI95" in res else res["CI95%"].iloc[0]
                lo, hi = (float(ci[0]), float(ci[1])) if ci is not None and len(ci) == 2 else (np.nan, np.nan)
                pcol = "p_val" if "p_val" in res else "p-val"
                p = float(res[pcol].iloc[0])
            rows.append(dict(attitudinal=att, behavioural=beh, method=method, n=n, r=r,
                             **{"ci.lower": lo, "ci.upper": hi, "pvalue": p}))
    out = pd.DataFrame(rows, columns=CORRELATION_COLUMNS)
    out.attrs["ci.level"] = 0.95
    return out

"""Churn early-warning indicators (流失预警指标, R2 chapter 6; R3 churn prediction).

For every customer with an order on or before ``as_of`` (windows of ``window_days``; recent =
``(as_of - W, as_of]``, previous = ``(as_of - 2W, as_of - W]``, by date):

=========================== ===================================================================
``days_since_last``         days from the last order to ``as_of``
``typical_gap_days``        the customer's own median gap between consecutive purchase days
                            (continuous median); for customers with a single purchase day the
                            median of all customers' typical gaps (``gap_reference`` says
                            ``own`` or ``population``)
``gap_ratio``               days_since_last / typical gap
``orders_recent``,          orders in the recent and the previous window;
``orders_previous``,        ``frequency_change`` = (recent - previous) / previous (NaN when
``frequency_change``        previous = 0)
``visit_seconds_recent``,   session time in the two windows (sessions given);
``visit_seconds_previous``, ``visit_time_change`` likewise
``visit_time_change``
``p_alive``                 P(alive) from a purchase-count model (see below)
``p_alive_model``           which model gave ``p_alive``
=========================== ===================================================================

Warnings (:class:`ChurnRules` holds the thresholds) and the risk score
----------------------------------------------------------------------
Each indicator is mapped to a score in [0, 1]; a warning is raised when its score reaches 1:

- overdue: ``clip((gap_ratio - 1) / (overdue_ratio - 1), 0, 1)``: 0 while on schedule, 1 once
  the customer is ``overdue_ratio`` times their typical gap late;
- falling purchase frequency: ``clip(-frequency_change / frequency_drop, 0, 1)``;
- falling visit time: ``clip(-visit_time_change / visit_drop, 0, 1)``;
- low P(alive): score ``1 - p_alive``; warning when ``p_alive < p_alive_threshold``.

``risk_score`` is the mean of the available scores. The **at-risk list** holds customers with
at least one warning who are not yet lost (``days_since_last <= churned_after_days``), ranked by
risk score, then total spend (value at stake), then customer id; ``reasons`` spells the
warnings out.

Which P(alive)
--------------
``model="mbgnbd"`` (the default) fits the MBG/NBD model (Batislam, Gursoy & Dogan 2007;
:func:`crm_research.clv.fit_mbgnbd`) in weeks to every customer's purchase history up to
``as_of``; ``model="pareto_nbd"`` fits Pareto/NBD instead; ``model=None`` leaves P(alive) out.
Neither model has BG/NBD's artefact of P(alive) = 1 for every customer without a repeat
purchase (on the CDNOW 1/10 sample 1,411 of 2,357 customers), which would hide exactly the
one-time buyers who have gone quiet. A fitted model object may be passed instead; a BG/NBD
model is used as given, but ``p_alive_model`` and :func:`p_alive_note` then state its caveat.
When the model cannot be fitted (too few customers, no repeat purchases), ``p_alive`` is
empty and :func:`p_alive_note` says why.

P(alive) uses the conventions of :func:`crm_research.clv.rfm_summary`: ``frequency`` = distinct
purchase days - 1, ``recency`` = days from first to last purchase day, ``T`` = days from the
first purchase day to ``as_of``, divided by 7 for ``freq="W"``. Any object with
``p_alive(summary_df)`` (crm_research.clv), ``p_alive(frequency, recency, T)`` or lifetimes'
``conditional_probability_alive(frequency, recency, T)`` works.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from .customer_summary import customer_summary, day_numbers, summary_rows
from .engine import KPIEngine, date_literal, memtable
from .distinct import duckdb_memory_limit
from .order_arrays import day_number, part_plan, store

CHURN_COLUMNS = [
    "rank", "customer_id", "risk_score", "n_warnings", "reasons", "orders", "total_spend",
    "first_order_date", "last_order_date", "days_since_last", "typical_gap_days", "gap_reference",
    "gap_ratio", "orders_recent", "orders_previous", "frequency_change", "visit_seconds_recent",
    "visit_seconds_previous", "visit_time_change", "p_alive", "p_alive_model", "overdue", "frequency_falling",
    "visit_time_falling", "low_p_alive"]

MODEL_CHOICES = {"mbgnbd": "MBG/NBD", "pareto_nbd": "Pareto/NBD"}
BGNBD_LABEL = "BG/NBD (P(alive) = 1 for customers without repeat purchases)"


@dataclass(frozen=True)
class ChurnRules:
    """Thresholds of the churn early-warning indicators (see module docstring).

    Parameters
    ----------
    window_days : int
        Length of the recent window and of the window before it (days).
    overdue_ratio : float
        Overdue when days since the last order exceed this multiple of the typical gap (> 1).
    frequency_drop : float
        Falling frequency when recent orders < this share of the previous window's (0, 1].
    visit_drop : float
        Falling visit time when recent visit time < this share of the previous window's (0, 1].
    p_alive_threshold : float
        Low P(alive) below this value (0, 1].
    churned_after_days : int
        Customers silent for longer are lost and left off the list.

    Raises
    ------
    ValueError
        A threshold outside its range.

    Examples
    --------
    >>> ChurnRules(window_days=30).window_days
    30
    >>> ChurnRules(overdue_ratio=0.5)
    Traceback (most recent call last):
    ...
    ValueError: overdue_ratio must be > 1
    """

    window_days: int = 90
    overdue_ratio: float = 2.0
    frequency_drop: float = 0.5
    visit_drop: float = 0.5
    p_alive_threshold: float = 0.5
    churned_after_days: int = 365

    def __post_init__(self):
        if self.window_days < 1:
            raise ValueError("window_days must be >= 1")
        if self.overdue_ratio <= 1:
            raise ValueError("overdue_ratio must be > 1")
        for name in ("frequency_drop", "visit_drop", "p_alive_threshold"):
            v = getattr(self, name)
            if not 0 < v <= 1:
                raise ValueError(f"{name} must be in (0, 1], got {v}")

    def to_dict(self) -> dict:
        """The thresholds as a plain dict (for reports and provenance).

        Returns
        -------
        dict

        Examples
        --------
        >>> ChurnRules().to_dict()['window_days']
        90
        """
        return asdict(self)


def churn_indicators(engine: KPIEngine, as_of=None, rules: ChurnRules = ChurnRules(), *,
                     model="mbgnbd", freq: str | None = None):
    """Per-customer indicators, warnings and risk score (ibis Table stored in the engine).

    See :func:`churn_risk` for the ranked list; this returns every customer.

    Parameters
    ----------
    engine : KPIEngine
    as_of : date-like, optional
        Date of the assessment (default: the date of the last order).
    rules : ChurnRules
        Window length and thresholds.
    model : {"mbgnbd", "pareto_nbd"}, fitted model or None
        Source of ``p_alive`` (see "Which P(alive)" in the module docstring).
    freq : {"D", "W"}, optional
        Time unit of a fitted model.

    Returns
    -------
    ibis.Table
        The columns of :func:`churn_risk` except ``rank`` and ``reasons``, for every customer.

    Examples
    --------
    >>> from crm_research.kpi.examples import example_engine
    >>> eng = example_engine()
    >>> t = churn_indicators(eng, rules=ChurnRules(window_days=30))
    >>> eng.execute(t.order_by('customer_id'))[['customer_id', 'orders_recent', 'orders_previous', 'overdue', 'n_warnings']]
       customer_id orders_recent orders_previous  overdue  n_warnings
    0            1             1               1    False           1
    1            2             0               0    False           0
    2            3             0               0     True           1
    3            4             1               0    False           0
    4            5             1               1    False           0
    5            6             1               0    False           0
    6            7             0               1    False           1
    7            8             2               0    False           0
    """
    a = engine.as_of(as_of)
    return _indicators(_indicator_inputs(engine, a, rules, model, freq), rules)


def _indicator_inputs(engine: KPIEngine, a, rules: ChurnRules, model, freq, stored: bool = False) -> dict:
    """The inputs of :func:`_indicators`: the customer summary with its gap reference, the
    platform-typical gap, P(alive) (fitted once, on every customer) and the visit windows.
    ``stored``: P(alive) per customer is stored, so that ranges of customers read their rows of it
    (not each a join with every history)."""
    import ibis

    W = int(rules.window_days)
    # the per-customer aggregates (one pass over the orders, shared with RFM, lifecycle, repurchase)
    c = customer_summary(engine, a, W).select(
        "customer_id", "orders", "purchase_days", "total_spend", "first_order_date", "last_order_date",
        "typical_gap_days", "orders_recent", "orders_previous")
    if not engine.exact_median:
        engine.note_approximate_median("typical_gap_days")
    pop_gap = engine.execute(engine.median(c.typical_gap_days, what="platform-typical gap"))
    pop_gap = float(pop_gap) if pop_gap is not None and not pd.isna(pop_gap) else float(W)

    ref_gap = c.typical_gap_days.fill_null(pop_gap)
    days_since = date_literal(a).delta(c.last_order_date, unit="day")
    t = c.mutate(
        typical_gap_days=ref_gap,
        days_since_last=days_since,
        gap_reference=ibis.ifelse(c.typical_gap_days.isnull(), "population", "own"),
        gap_ratio=days_since.cast("float64") / ref_gap,
        frequency_change=ibis.ifelse(c.orders_previous > 0,
                                     (c.orders_recent - c.orders_previous).cast("float64") / c.orders_previous,
                                     ibis.null("float64")))
    # P(alive) from the per-customer aggregates alone (before the visit join: no session scan)
    pa = label = None
    if model is not None:
        pa, label = _p_alive_table(engine, t, a, model, freq, rules)
        if stored and pa is not None:
            pa = engine.materialize(pa, "_kpi_churn_p_alive", compress=False)
    v = None
    if engine.has_sessions:
        from .activity import customer_activity

        v = customer_activity(engine, a, W)
    return {"t": t, "pa": pa, "label": label, "v": v, "model": model is not None}


def _indicators(inputs: dict, rules: ChurnRules, ids: tuple | None = None):
    """The indicators of :func:`churn_indicators` from :func:`_indicator_inputs`, for the customers
    with ids in ``ids = (lo, hi)`` (inclusive; all where None). Each input is restricted before
    the joins, so a range joins only its own rows."""
    import ibis

    def only(x):
        return x if x is None or ids is None else x.filter(x.customer_id.between(*ids))

    t, pa, v = only(inputs["t"]), only(inputs["pa"]), only(inputs["v"])
    label = inputs["label"]
    if v is not None:
        t = t.left_join(v, "customer_id").drop("customer_id_right")
        vr = t.visit_seconds_recent.fill_null(0).cast("float64")
        vp = t.visit_seconds_previous.fill_null(0).cast("float64")
        t = t.mutate(visit_seconds_recent=vr, visit_seconds_previous=vp,
                     visit_time_change=ibis.ifelse(vp > 0, (vr - vp) / vp, ibis.null("float64")))
        t = t.drop("visits_recent", "visits_previous")
    else:
        t = t.mutate(visit_seconds_recent=ibis.null("float64"), visit_seconds_previous=ibis.null("float64"),
                     visit_time_change=ibis.null("float64"))

    if inputs["model"]:
        if pa is None:  # not fitted: the column says why
            t = t.mutate(p_alive=ibis.null("float64"), p_alive_model=ibis.literal(label))
        else:
            t = t.left_join(pa, "customer_id").drop("customer_id_right")
            t = t.mutate(p_alive_model=ibis.ifelse(t.p_alive.isnull(), ibis.null("string"), label))
    else:
        t = t.mutate(p_alive=ibis.null("float64"), p_alive_model=ibis.null("string"))

    def clip01(x):
        # explicit NULL handling: GREATEST/LEAST skip NULLs on some engines (DuckDB, PostgreSQL)
        return ibis.cases((x.isnull(), ibis.null("float64")), (x >= 1.0, 1.0), (x <= 0.0, 0.0),
                          else_=x.cast("float64"))

    s_over = clip01((t.gap_ratio - 1.0) / (rules.overdue_ratio - 1.0))
    s_freq = clip01(-t.frequency_change / rules.frequency_drop)
    s_visit = clip01(-t.visit_time_change / rules.visit_drop)
    s_alive = 1.0 - t.p_alive
    scores = [s_over, s_freq, s_visit, s_alive]
    total = sum(sc.fill_null(0.0) for sc in scores)
    count = sum(sc.notnull().cast("float64") for sc in scores)
    t = t.mutate(
        overdue=(s_over >= 1.0).fill_null(False),
        frequency_falling=(s_freq >= 1.0).fill_null(False),
        visit_time_falling=(s_visit >= 1.0).fill_null(False),
        low_p_alive=(t.p_alive < rules.p_alive_threshold).fill_null(False),
        risk_score=total / count)
    t = t.mutate(n_warnings=t.overdue.cast("int64") + t.frequency_falling.cast("int64")
                 + t.visit_time_falling.cast("int64") + t.low_p_alive.cast("int64"))
    return t


def _model_label(model) -> str:
    name = getattr(model, "model", None) or type(model).__name__
    if name in ("BG/NBD", "BetaGeoFitter"):
        return BGNBD_LABEL
    return {"ModifiedBetaGeoFitter": "MBG/NBD", "ParetoNBDFitter": "Pareto/NBD"}.get(name, str(name))


def _summary_frame(engine: KPIEngine, t, a, unit: float = 1.0, live_days: int | None = None):
    """``customer_id, frequency, recency, T`` (in ``unit`` days) from the per-customer table, fetched once."""
    if live_days is not None:
        t = t.filter(t.days_since_last <= int(live_days))
    q = t.select(
        "customer_id",
        frequency=(t.purchase_days - 1).cast("float64"),   # a count: not scaled by the time unit
        recency=t.last_order_date.delta(t.first_order_date, unit="day").cast("float64") / unit,
        T=date_literal(a).delta(t.first_order_date, unit="day").cast("float64") / unit,
        days_since_last=t.days_since_last)
    return engine.execute(q)


def _fit_model(engine: KPIEngine, t, a, name: str, d=None, weights_col: str | None = None):
    """Fit MBG/NBD or Pareto/NBD (weeks) to every customer's history up to ``a`` (``d``: one row
    per customer, or per distinct history with its customers in ``weights_col``, MBG/NBD only)."""
    from .. import clv
    from ..errors import DataFileError, ModelError

    if d is None:
        d = _summary_frame(engine, t, a, 7.0)
    d = d[["customer_id", "frequency", "recency", "T"] + ([weights_col] if weights_col else [])]
    fit = clv.fit_mbgnbd if name == "mbgnbd" else clv.fit_pareto_nbd
    w = d[weights_col].to_numpy() if weights_col else np.ones(len(d), dtype=np.int64)
    n, repeat = int(w.sum()), int(w[d["frequency"].to_numpy() > 0].sum())
    if n < 4 or not repeat:
        return None, f"{MODEL_CHOICES[name]} not fitted: {n} customers, {repeat} with repeat purchases"
    try:
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            m = fit(d) if weights_col is None else fit(d, weights_col=weights_col)
    except (ModelError, DataFileError, FloatingPointError) as e:
        return None, f"{MODEL_CHOICES[name]} not fitted: {e}"
    if not m.converged:
        return None, f"{MODEL_CHOICES[name]} not fitted: did not converge ({m.message})"
    return m, None


def _p_alive_table(engine: KPIEngine, t, a, model, freq, rules: ChurnRules):
    if _model_key(model) == "mbgnbd":
        return _p_alive_by_history(engine, t, a, rules)
    pa, label = _p_alive(engine, lambda unit, live: _summary_frame(engine, t, a, unit, live), model, freq, rules)
    return (None if pa is None else memtable(pa)), label


def _p_alive_by_history(engine: KPIEngine, t, a, rules: ChurnRules):
    """MBG/NBD fitted on the distinct purchase histories counted in the engine (weights), and
    P(alive) per history joined back to the customers there: the same fit and values as one row
    per customer, without every customer's row in Python (100M orders: 12.5M customers, a frame
    of 0.8 GiB and the fit's codes of 1 GiB more)."""
    A = date_literal(a)
    k = t.select("customer_id", hx=(t.purchase_days - 1).cast("int64"),
                 htx=t.last_order_date.delta(t.first_order_date, unit="day").cast("int64"),
                 hT=A.delta(t.first_order_date, unit="day").cast("int64"))
    h = engine.execute(k.group_by(["hx", "htx", "hT"]).aggregate(n=k.count()))
    hx, htx, hT = (h[c].to_numpy(np.int64) for c in ("hx", "htx", "hT"))
    # the units of _summary_frame: whole days / 7.0 (the same doubles as the engine's division)
    d = pd.DataFrame({"customer_id": np.arange(len(h)), "frequency": hx.astype(np.float64),
                      "recency": htx.astype(np.float64) / 7.0, "T": hT.astype(np.float64) / 7.0,
                      "n": h["n"].to_numpy(np.int64)})
    model, why = _fit_model(engine, None, None, "mbgnbd", d, weights_col="n")
    if model is None:
        return None, why
    live = np.flatnonzero(hT - htx <= rules.churned_after_days)
    p = _call_p_alive(model, d.iloc[live].reset_index(drop=True))
    ph = memtable(pd.DataFrame({"hx": hx[live], "htx": htx[live], "hT": hT[live], "p_alive": p}))
    j = k.join(ph, ["hx", "htx", "hT"])
    return j.select("customer_id", "p_alive"), _model_label(model)


def _model_key(model) -> str | None:
    """``"mbgnbd"`` or ``"pareto_nbd"`` for a model name (None for a fitted model or None)."""
    if not isinstance(model, str):
        return None
    key = model.lower().replace("/", "").replace("-", "_")
    key = {"mbgnbd": "mbgnbd", "pareto_nbd": "pareto_nbd", "paretonbd": "pareto_nbd", "pnbd": "pareto_nbd"}.get(key)
    if key is None:
        raise ValueError(f"model must be one of {sorted(MODEL_CHOICES)}, a fitted model or None, got {model!r}")
    return key


def _p_alive(engine: KPIEngine, frame, model, freq, rules: ChurnRules):
    """``(DataFrame customer_id, p_alive or None, label)`` of the customers not yet lost.

    ``frame(unit, live_days)`` gives ``customer_id, frequency, recency, T, days_since_last`` (time
    in ``unit`` days; only customers with ``days_since_last <= live_days`` unless None).
    """
    if isinstance(model, str):
        key = _model_key(model)
        d_all = frame(7.0, None)     # one fetch: fit on everyone, P(alive) of the live ones
        model, why = _fit_model(engine, None, None, key, d_all)
        if model is None:
            return None, why
        d = d_all[d_all["days_since_last"] <= rules.churned_after_days].drop(columns="days_since_last")
        d = d.reset_index(drop=True)
        d["p_alive"] = _call_p_alive(model, d)
        return d[["customer_id", "p_alive"]], _model_label(model)
    label = _model_label(model)
    if freq is None:
        data = getattr(model, "data", None)
        freq = (getattr(data, "attrs", {}) or {}).get("freq") or "D"
    unit = {"D": 1.0, "W": 7.0}.get(str(freq).upper())
    if unit is None:
        raise ValueError(f"freq must be 'D' or 'W', got {freq!r}")
    d = frame(unit, rules.churned_after_days).drop(columns="days_since_last")
    d["p_alive"] = _call_p_alive(model, d)
    return d[["customer_id", "p_alive"]], label


def _call_p_alive(model, d: pd.DataFrame) -> np.ndarray:
    """P(alive) from any model object (duck typing, see module docstring)."""
    if hasattr(model, "conditional_probability_alive"):          # lifetimes
        return np.asarray(model.conditional_probability_alive(d["frequency"], d["recency"], d["T"]), float)
    fn = getattr(model, "p_alive", None)
    if fn is None:
        raise TypeError("model needs a p_alive(...) or conditional_probability_alive(...) method")
    try:
        out = fn(d[["customer_id", "frequency", "recency", "T"]])
    except TypeError:
        out = fn(d["frequency"].to_numpy(), d["recency"].to_numpy(), d["T"].to_numpy())
    out = np.asarray(out, dtype=float)
    if out.shape != (len(d),):
        raise ValueError(f"model.p_alive returned shape {out.shape}, expected ({len(d)},)")
    return out


def churn_risk_table(engine: KPIEngine, as_of=None, rules: ChurnRules = ChurnRules(), *, model="mbgnbd",
                     freq: str | None = None, top: int | None = None, all_customers: bool = False,
                     stored_steps: bool = False):
    """The ranked at-risk list as an ibis Table (stays in the engine; see :func:`churn_risk`).

    Parameters
    ----------
    engine, as_of, rules, model, freq, top, all_customers
        As in :func:`churn_risk`.
    stored_steps : bool
        Store the indicators (joins with the visits and P(alive)) before ranking them, so the
        joins and the ranking never hold memory at the same time (for logs larger than memory;
        :func:`~crm_research.kpi.suite.kpi_suite` does this when it keeps the per-customer
        tables in the engine).

    Returns
    -------
    ibis.Table
        The columns of :func:`churn_risk`.

    Examples
    --------
    >>> from crm_research.kpi.examples import example_engine
    >>> eng = example_engine()
    >>> eng.execute(churn_risk_table(eng, rules=ChurnRules(window_days=30)).count())
    3
    """
    inputs = _indicator_inputs(engine, engine.as_of(as_of), rules, model, freq, stored=stored_steps)

    def listed(ids=None):
        t = _indicators(inputs, rules, ids)
        if not all_customers:
            t = t.filter((t.n_warnings >= 1) & (t.days_since_last <= rules.churned_after_days))
        return t

    if stored_steps:
        # a log read in parts: one range of customers at a time, so that the joins hold one
        # range's rows, not every customer's (100M orders: 12.5M customers x 25 columns failed
        # under DuckDB's 1.5 GB share of a 3 GB limit; 4 ranges of 3.1M ran)
        t = engine.materialize_pieces([listed(r) for r in _customer_ranges(engine)], "_kpi_churn_indicators")
        # the ranking sorts three columns, not the whole rows (100M orders, 4.9M listed: 5.0 ->
        # 1.1 s), and the ranks are joined back
        k = _ranked(t.select("customer_id", "risk_score", "total_spend"), top)
        k = engine.materialize(k.select("customer_id", "rank"), "_kpi_churn_ranks", compress=False)
        t = t.join(k, "customer_id")
    else:
        t = _ranked(listed(), top)
    t = t.mutate(reasons=_reasons_expr(t, rules))
    return t.select(*CHURN_COLUMNS)


#: Bytes of DuckDB's memory one customer takes in the joins of the churn indicators (measured at
#: 100M orders: 12.5M customers failed under 1.4 GB, ranges of 0.5-0.9M ran in 0.1-0.2 s each)
_JOIN_BYTES_PER_CUSTOMER = 400


def _customer_ranges(engine: KPIEngine) -> list:
    """Inclusive customer-id ranges, ``[None]`` (all at once) unless the log is read in parts:
    then consecutive parts joined into ranges of at most DuckDB's memory limit /
    ``_JOIN_BYTES_PER_CUSTOMER`` ids (ids are positions there: a span counts its customers)."""
    plan = part_plan(engine)
    if plan is None:
        return [None]
    cap = max(1, (duckdb_memory_limit(engine.con) or 1 << 30) // _JOIN_BYTES_PER_CUSTOMER)
    ranges = []
    for p in plan.parts:
        if ranges and p.id_hi - ranges[-1][0] + 1 <= cap:
            ranges[-1] = (ranges[-1][0], p.id_hi)
        else:
            ranges.append((p.id_lo, p.id_hi))
    return ranges


def _ranked(t, top: int | None):
    """``t`` with its ``rank``: risk score (descending), total spend (descending), customer id;
    the first ``top`` only where given."""
    import ibis

    order = [t.risk_score.desc(), t.total_spend.desc(), t.customer_id.asc()]
    t = t.mutate(rank=(ibis.row_number().over(ibis.window(order_by=order)) + 1).cast("int64"))
    return t if top is None else t.filter(t.rank <= int(top))


def churn_risk(engine: KPIEngine, as_of=None, rules: ChurnRules = ChurnRules(), *, model="mbgnbd",
               freq: str | None = None, top: int | None = None, all_customers: bool = False) -> pd.DataFrame:
    """Ranked at-risk list of customers with the reasons.

    Parameters
    ----------
    engine : KPIEngine
    as_of : date-like, optional
    rules : ChurnRules
        Window length and thresholds.
    model : {"mbgnbd", "pareto_nbd"}, fitted model or None
        Source of ``p_alive``: the model to fit (default MBG/NBD), a model fitted with
        :mod:`crm_research.clv` (or lifetimes), or None for no P(alive); see the module docstring.
    freq : {"D", "W"}, optional
        Time unit a fitted model was fitted in (default: the model's summary ``freq``, else days).
    top : int, optional
        Return the first ``top`` customers only.
    all_customers : bool
        Return every customer (warnings or not, lost or not), ranked the same way.

    Returns
    -------
    DataFrame
        Columns ``rank, customer_id, risk_score, n_warnings, reasons, orders, total_spend,
        first_order_date, last_order_date, days_since_last, typical_gap_days, gap_reference,
        gap_ratio, orders_recent, orders_previous, frequency_change, visit_seconds_recent,
        visit_seconds_previous, visit_time_change, p_alive, p_alive_model, overdue,
        frequency_falling, visit_time_falling, low_p_alive``; ``attrs['p_alive_note']`` is
        :func:`p_alive_note` of the table.

    Examples
    --------
    >>> from crm_research.kpi.examples import example_engine
    >>> risk = churn_risk(example_engine(), rules=ChurnRules(window_days=30))
    >>> risk[['rank', 'customer_id', 'n_warnings', 'days_since_last']]
       rank  customer_id  n_warnings  days_since_last
    0     1            3           1              155
    1     2            7           1               54
    2     3            1           1               27
    >>> print(risk['reasons'].iloc[0])
    overdue: 155 days since last order vs platform-typical gap 27 (5.7x)
    """
    rows = summary_rows(engine, as_of, rules.window_days)
    if rows is not None:      # the orders are held as arrays: the indicators from the summary's columns
        df = _churn_list_of_summary(engine, rows, engine.as_of(as_of), rules, model, freq, top, all_customers)
    else:
        t = churn_risk_table(engine, as_of, rules, model=model, freq=freq, top=top, all_customers=all_customers)
        df = engine.execute(t.order_by("rank"))
    for col in ("rank", "orders", "orders_recent", "orders_previous", "days_since_last", "n_warnings"):
        df[col] = df[col].astype("int64")
    for col in ("overdue", "frequency_falling", "visit_time_falling", "low_p_alive"):
        df[col] = df[col].astype(bool)
    df["reasons"] = df["reasons"].fillna("").astype(object)
    df = df[CHURN_COLUMNS]
    df.attrs["p_alive_note"] = p_alive_note(df)
    return df


def _churn_list_of_summary(engine: KPIEngine, rows, a, rules: ChurnRules, model, freq, top, all_customers):
    """:func:`churn_risk_table`'s indicators, warnings and ranking on the columns of
    :func:`~.customer_summary.summary_rows` (customer order); the reasons are spelled out by the
    engine's own expression over the ranked rows, so the text is the engine path's to the letter."""
    import ibis
    import pyarrow as pa

    W = int(rules.window_days)
    A = day_number(a)
    ids = rows.column("customer_id").to_numpy()
    first = rows.column("first_order_date").combine_chunks()
    last = rows.column("last_order_date").combine_chunks()
    first_day, last_day = day_numbers(first), day_numbers(last)
    rec = rows.column("orders_recent").to_numpy()
    prev = rows.column("orders_previous").to_numpy()
    typical = rows.column("typical_gap_days").combine_chunks().to_numpy(zero_copy_only=False)   # NaN: NULL
    own = ~np.isnan(typical)
    pop_gap = float(np.median(typical[own])) if own.any() else float(W)
    ref_gap = np.where(own, typical, pop_gap)
    days_since = A - last_day
    gap_ratio = days_since.astype(np.float64) / ref_gap
    with np.errstate(divide="ignore", invalid="ignore"):
        freq_change = np.where(prev > 0, (rec - prev).astype(np.float64) / prev, np.nan)

    def frame(unit, live_days):
        d = pd.DataFrame({"customer_id": ids,
                          "frequency": (rows.column("purchase_days").to_numpy() - 1).astype(np.float64),
                          "recency": (last_day - first_day).astype(np.float64) / unit,
                          "T": (A - first_day).astype(np.float64) / unit, "days_since_last": days_since},
                         copy=False)     # fresh arrays: one block each, no 2-D copy (pandas' consolidation)
        return d if live_days is None else d[days_since <= int(live_days)].reset_index(drop=True)

    p_alive = np.full(len(ids), np.nan)
    got = p_label = None
    if model is not None:
        got, p_label = _p_alive(engine, frame, model, freq, rules)
        if got is not None:
            p_alive[np.searchsorted(ids, got["customer_id"].to_numpy())] = got["p_alive"].to_numpy(float)
    if engine.has_sessions:
        vid, v_recent, v_previous = _visit_windows(engine, a, W)
        at = np.searchsorted(ids, vid)
        ok = at < len(ids)
        ok[ok] = ids[at[ok]] == vid[ok]             # customers with sessions but no order: not listed
        vr, vp = np.zeros(len(ids)), np.zeros(len(ids))
        vr[at[ok]] = v_recent[ok]
        vp[at[ok]] = v_previous[ok]
        with np.errstate(divide="ignore", invalid="ignore"):
            visit_change = np.where(vp > 0, (vr - vp) / vp, np.nan)
    else:
        vr = vp = visit_change = np.full(len(ids), np.nan)

    def clip01(x):      # NaN stands for NULL throughout (as in the engine path: NULL stays NULL)
        return np.where(np.isnan(x), np.nan, np.where(x >= 1.0, 1.0, np.where(x <= 0.0, 0.0, x)))

    with np.errstate(invalid="ignore"):
        s_over = clip01((gap_ratio - 1.0) / (rules.overdue_ratio - 1.0))
        s_freq = clip01(-freq_change / rules.frequency_drop)
        s_visit = clip01(-visit_change / rules.visit_drop)
        s_alive = 1.0 - p_alive
        scores = [s_over, s_freq, s_visit, s_alive]
        total = sum(np.where(np.isnan(x), 0.0, x) for x in scores)
        count = sum((~np.isnan(x)).astype(np.float64) for x in scores)
        risk = total / count
        flags = [s_over >= 1.0, s_freq >= 1.0, s_visit >= 1.0, p_alive < rules.p_alive_threshold]
    n_warn = sum(f.astype(np.int64) for f in flags)
    keep = np.arange(len(ids)) if all_customers else \
        np.flatnonzero((n_warn >= 1) & (days_since <= rules.churned_after_days))
    # rank: risk score (desc), total spend (desc), customer id; NaN scores last as in the engine
    spend = rows.column("total_spend").to_numpy()
    order = keep[np.lexsort((ids[keep], -spend[keep], np.where(np.isnan(risk[keep]), np.inf, -risk[keep])))]
    if top is not None:
        order = order[:max(int(top), 0)]
    if model is None:
        model_col = pa.nulls(len(order), pa.string())
    elif got is None:                       # not fitted: the column says why
        model_col = pa.array(np.full(len(order), p_label, dtype=object), pa.string())
    else:
        # the label where P(alive) is known, else NULL: a take from a one-label array (no Python strings)
        model_col = pa.array([p_label], pa.string()).take(
            pa.array(np.zeros(len(order), np.int8), mask=np.isnan(p_alive[order])))

    def col(x, typ=None):
        x = x[order]
        return pa.array(x, typ, mask=np.isnan(x)) if x.dtype.kind == "f" else pa.array(x, typ)

    t = pa.table({
        "rank": np.arange(1, len(order) + 1, dtype=np.int64), "customer_id": rows.column("customer_id").take(order),
        "risk_score": col(risk), "n_warnings": n_warn[order], "orders": rows.column("orders").take(order),
        "total_spend": spend[order], "first_order_date": first.take(order), "last_order_date": last.take(order),
        "days_since_last": days_since[order], "typical_gap_days": ref_gap[order],
        "gap_reference": pa.array(["population", "own"]).take(pa.array(own[order].astype(np.int8))),
        "gap_ratio": gap_ratio[order], "orders_recent": rec[order], "orders_previous": prev[order],
        "frequency_change": col(freq_change), "visit_seconds_recent": col(vr), "visit_seconds_previous": col(vp),
        "visit_time_change": col(visit_change), "p_alive": col(p_alive), "p_alive_model": model_col,
        "overdue": flags[0][order], "frequency_falling": flags[1][order], "visit_time_falling": flags[2][order],
        "low_p_alive": flags[3][order]})
    # the reasons: the engine's expression over the ranked rows, put back in rank order
    st = store(engine, "_kpi_churn_ranked", t)
    try:
        text = engine.con.execute(str(ibis.to_sql(st.select("rank", reasons=_reasons_expr(st, rules)),
                                                  dialect="duckdb"))).fetchnumpy()
    finally:
        engine.con.unregister("_kpi_churn_ranked")
    reasons = np.empty(len(order), dtype=object)
    reasons[np.asarray(text["rank"]) - 1] = np.asarray(text["reasons"], dtype=object)
    df = t.to_pandas()
    df["reasons"] = pd.Series(reasons, index=df.index, dtype=object)    # as the engine path: Python strings
    return df


def _visit_windows(engine: KPIEngine, a, W: int):
    """``(customer ids, visit seconds recent, previous)`` (0 for no session) of
    :func:`~.activity.customer_activity`: from the session arrays where they apply (no round trip
    through the engine), else the engine's table."""
    from .activity import customer_activity
    from .session_arrays import customer_window_rows, session_arrays

    arrays = session_arrays(engine)
    if arrays is not None and arrays.duration is not None:
        t = customer_window_rows(arrays, day_number(a), W)

        def seconds(name):
            return np.nan_to_num(t.column(name).to_numpy(zero_copy_only=False), nan=0.0)
        ids = t.column("customer_id").to_numpy()
        return ids, seconds("visit_seconds_recent"), seconds("visit_seconds_previous")
    v = engine.execute(customer_activity(engine, a, W))
    return (v["customer_id"].to_numpy(), v["visit_seconds_recent"].to_numpy(float, na_value=0.0),
            v["visit_seconds_previous"].to_numpy(float, na_value=0.0))


def p_alive_note(table) -> str:
    """One sentence for reports: which model gave the churn list's P(alive), and its caveat.

    Parameters
    ----------
    table : DataFrame or ibis.Table
        A churn list (:func:`churn_risk`, :func:`churn_risk_table`) with ``p_alive_model``.

    Returns
    -------
    str

    Examples
    --------
    >>> import pandas as pd
    >>> print(p_alive_note(pd.DataFrame({'p_alive_model': ['MBG/NBD', 'MBG/NBD', None]})))
    P(alive): MBG/NBD (no one-time-buyer artefact: customers without repeat purchases can be inactive).
    >>> print(p_alive_note(pd.DataFrame({'p_alive_model': [None]})))
    P(alive): not computed.
    """
    if isinstance(table, pd.DataFrame):
        col = table["p_alive_model"]
    else:                                   # ibis Table: only the distinct labels leave the engine
        col = table.select("p_alive_model").distinct().execute()["p_alive_model"]
    labels = [v for v in pd.unique(pd.Series(col).dropna()) if str(v)]
    if not labels:
        return "P(alive): not computed."
    parts = []
    for v in labels:
        if v == BGNBD_LABEL:
            parts.append("BG/NBD -- caveat: P(alive) is 1 for every customer without repeat purchases however "
                         "long ago they bought, so one-time buyers are never flagged; fit MBG/NBD or "
                         "Pareto/NBD instead")
        elif v in MODEL_CHOICES.values():
            parts.append(f"{v} (no one-time-buyer artefact: customers without repeat purchases can be inactive)")
        else:
            parts.append(str(v))
    return "P(alive): " + "; ".join(parts) + "."


def _reasons_expr(t, rules: ChurnRules):
    """The warnings spelled out, as a string expression computed in the engine."""
    import ibis

    W = rules.window_days

    def num0(x):
        return ibis.ifelse(x.isnull(), "?", x.round(0).cast("int64").cast("string"))

    def num1(x):
        # ROUND(x, 1) of a double differs between engines at ties (DuckDB rounds the binary value,
        # 9.95 -> 9.9; Spark the shortest decimal, 9.95 -> 10.0); a tie of x * 10 is exact in
        # binary, so rounding that to an integer gives the same text everywhere (half away from 0)
        return ibis.ifelse(x.isnull(), "?", ((x * 10).round(0) / 10).cast("string"))

    ref = ibis.ifelse(t.gap_reference == "own", "own typical", "platform-typical")
    over = ("overdue: " + t.days_since_last.cast("string") + " days since last order vs " + ref + " gap "
            + num0(t.typical_gap_days) + " (" + num1(t.gap_ratio) + "x)")
    freq = ("orders down " + t.orders_previous.cast("string") + " -> " + t.orders_recent.cast("string")
            + f" (last {W} days vs the {W} before)")
    visit = ("visit time down " + num0(-100 * t.visit_time_change) + "% ("
             + num0(t.visit_seconds_previous / 60) + " -> " + num0(t.visit_seconds_recent / 60) + " min)")
    alive = "P(alive) " + ibis.ifelse(t.p_alive.isnull(), "?", ((t.p_alive * 100).round(0) / 100).cast("string"))
    parts = [ibis.ifelse(flag, text, ibis.null("string")) for flag, text in
             ((t.overdue, over), (t.frequency_falling, freq), (t.visit_time_falling, visit), (t.low_p_alive, alive))]
    # concat_ws skips NULLs
    return ibis.literal("; ").join(parts)

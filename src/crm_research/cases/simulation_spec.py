"""The ``simulate:`` block of a case file, validated into a :class:`SimulationSpec`.

A case either reads data files (``data:``) or declares a synthetic data set (``simulate:``);
:func:`crm_research.cases.definition.load_case` validates the block here, so a broken block
is reported when the case is loaded, with the file and key path. The generator that turns a
spec into customers, orders, sessions and survey responses, and the population model behind
it, are in :mod:`crm_research.simulate.cases`.

The block (all keys optional except ``seed``)::

    simulate:
      seed: 20240301
      customers: 3000
      start: 2019-01-01
      end: 2021-12-31
      initial_share: 0.5
      assignments: {group: {shares: {rollout: 0.7, holdout: 0.3},
                            offsets: {rollout: {retention_rate: 0.03}}}}
      kpis: {retention_rate: {level: 0.55, sd: 0.10, trend: 0.004, seasonal: 0.03, peak_month: 11}}
      effects: {personalized_recommendation: {click_through_rate: 0.015}}
      survey_rate: 0.08
      satisfaction_item_sd: 0.8
      impressions_per_session: 6
      order_value_spread: 0.5
      dwell_spread: 0.6
"""
from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from . import periods as P
from .reader import CaseReader
from .vocabulary import KPIS, suggest

PRIMITIVES = ("retention_rate", "visit_frequency", "dwell_time", "click_through_rate", "conversion_rate",
              "repurchase_rate", "average_order_value", "satisfaction_score", "high_tier_sales_share")
DEFAULTS: dict[str, dict[str, float]] = {
    "retention_rate": dict(level=0.55, sd=0.10),
    "visit_frequency": dict(level=3.5, sd=0.8),
    "dwell_time": dict(level=6.0, sd=1.5),
    "click_through_rate": dict(level=0.06, sd=0.015),
    "conversion_rate": dict(level=0.08, sd=0.015),
    "repurchase_rate": dict(level=0.10, sd=0.03),
    "average_order_value": dict(level=180.0, sd=40.0),
    "satisfaction_score": dict(level=3.6, sd=0.4),
    "high_tier_sales_share": dict(level=0.20, sd=0.05),
}
BOUNDS: dict[str, tuple[float, float]] = {
    "retention_rate": (0.001, 0.999), "visit_frequency": (1.0, np.inf), "dwell_time": (0.5, np.inf),
    "click_through_rate": (0.001, 0.999), "conversion_rate": (0.001, 0.999),
    "repurchase_rate": (0.001, 0.999), "average_order_value": (5.0, np.inf),
    "satisfaction_score": (1.05, 4.95), "high_tier_sales_share": (0.0, 1.0),
}
_KPI_KEYS = {"level", "sd", "trend", "seasonal", "peak_month", "curvature", "peak"}
_TOP_KEYS = {"seed", "customers", "start", "end", "initial_share", "assignments", "kpis", "effects",
             "survey_rate", "satisfaction_item_sd", "impressions_per_session", "order_value_spread",
             "dwell_spread"}


# --------------------------------------------------------------------------- specification
@dataclass(frozen=True)
class KPIModel:
    """Baseline of one KPI: level, customer heterogeneity, trend, seasonality, curvature.

    Parameters
    ----------
    level : float
        Mean on the KPI's own scale.
    sd : float
        Standard deviation across customers.
    trend : float
        Change per period.
    seasonal, peak_month : float, int
        Amplitude of the yearly cosine and its peak month.
    curvature, peak : float, date
        Quadratic term around ``peak`` (a product lifecycle's hump).

    Examples
    --------
    >>> KPIModel(0.55, sd=0.1).trend
    0.0
    """

    level: float
    sd: float = 0.0
    trend: float = 0.0
    seasonal: float = 0.0
    peak_month: int = 11
    curvature: float = 0.0
    peak: _dt.date | None = None


@dataclass(frozen=True)
class Assignment:
    """A customers' group column: the share of each value and baseline offsets per value.

    Parameters
    ----------
    column : str
        Column of the customers table (``group``).
    shares : dict
        Value -> share of customers (adding up to 1).
    offsets : dict
        Value -> {KPI: baseline difference} (selection into the groups).

    Examples
    --------
    >>> Assignment("group", {"rollout": 0.7, "holdout": 0.3}).shares["holdout"]
    0.3
    """

    column: str
    shares: dict[str, float]
    offsets: dict[str, dict[str, float]] = field(default_factory=dict)


@dataclass(frozen=True)
class Exposure:
    """Who a strategy reaches and when (copied from the case's strategies).

    Parameters
    ----------
    id : str
        Strategy id.
    start, end : date, date or None
    column : str
        The customers' group column.
    target : tuple of str
        Exposed values of ``column`` (``("all",)``: everybody).

    Examples
    --------
    >>> import datetime as dt
    >>> Exposure("recs", dt.date(2020, 7, 1), None, "group", ("pilot",)).target
    ('pilot',)
    """

    id: str
    start: _dt.date
    end: _dt.date | None
    column: str
    target: tuple[str, ...]


@dataclass(frozen=True)
class SimulationSpec:
    """A parsed ``simulate:`` block. Build with :func:`parse_simulation`.

    Parameters
    ----------
    seed, customers : int
    start, end : datetime.date
        First and last simulated day.
    unit : {"week", "month", "quarter"}
    initial_share : float
        Share of customers acquired before ``start``.
    assignments : tuple of Assignment
    kpis : dict
        KPI id -> :class:`KPIModel` for every primitive KPI (:data:`PRIMITIVES`).
    effects : dict
        Strategy id -> {KPI: additive effect}.
    exposures : tuple of Exposure
    survey_rate, satisfaction_item_sd, impressions_per_session, order_value_spread, dwell_spread : float
    satisfaction_items, high_tiers : tuple of str
    file : str
        The case file.

    Examples
    --------
    >>> spec = parse_simulation({"seed": 7, "effects": {}}, unit="month")
    >>> spec.seed, spec.customers, spec.kpis["retention_rate"].level
    (7, 3000, 0.55)
    """

    seed: int
    customers: int
    start: _dt.date
    end: _dt.date
    unit: str
    initial_share: float
    assignments: tuple[Assignment, ...]
    kpis: dict[str, KPIModel]
    effects: dict[str, dict[str, float]]
    exposures: tuple[Exposure, ...]
    survey_rate: float = 0.08
    satisfaction_item_sd: float = 0.8
    impressions_per_session: float = 6.0
    order_value_spread: float = 0.5
    dwell_spread: float = 0.6
    satisfaction_items: tuple[str, ...] = ("SAT1", "SAT2", "SAT3")
    high_tiers: tuple[str, ...] = ("gold", "platinum")
    file: str = ""

    def declared_effect(self, strategy: str, kpi: str) -> float:
        """The effect written in the case file (0 when none is declared).

        Parameters
        ----------
        strategy, kpi : str

        Returns
        -------
        float
        """
        return float(self.effects.get(strategy, {}).get(kpi, 0.0))


def parse_simulation(raw: Any, *, file: str | Path = "<case>", key: str = "simulate",
                     strategies: Sequence[Any] = (), unit: str = "month",
                     satisfaction_items: Sequence[str] = ("SAT1", "SAT2", "SAT3"),
                     high_tiers: Sequence[str] = ("gold", "platinum")) -> SimulationSpec:
    """Validate a ``simulate:`` block; errors are ConfigError naming ``file`` and the key path.

    Parameters
    ----------
    raw : mapping
        The block as parsed from YAML.
    file : str or Path
        The case file (for messages).
    key : str
        Key path of the block.
    strategies : sequence of Strategy
        The case's strategies (their exposures are simulated).
    unit : {"week", "month", "quarter"}
    satisfaction_items, high_tiers : sequence of str
        From the case's ``kpi_options``.

    Returns
    -------
    SimulationSpec

    Raises
    ------
    ConfigError
        Naming the file and key path.

    Examples
    --------
    >>> spec = parse_simulation({"seed": 1, "customers": 500, "start": "2020-01-01", "end": "2020-12-31",
    ...                          "kpis": {"conversion": {"level": 0.1}}})
    >>> spec.customers, spec.kpis["conversion_rate"].level
    (500, 0.1)
    >>> from crm_research.errors import ConfigError
    >>> try:
    ...     parse_simulation({"seed": 1, "kpis": {"spend": {"level": 90}}}, file="case.yaml")
    ... except ConfigError as e:
    ...     print(e.key, "|", e.problem)
    simulate.kpis.spend | spend_per_customer (spend per active customer) is derived in the simulation and cannot be set directly
    """
    r = CaseReader(Path(file))
    d = r.mapping(raw, key)
    r.keys(d, _TOP_KEYS, key)
    seed = r.number(r.require(d, "seed", key), f"{key}.seed", lo=0, integer=True)
    n = r.number(d.get("customers", 3000), f"{key}.customers", lo=20, hi=5_000_000, integer=True)
    starts = [s.start for s in strategies]
    start = r.date(d["start"], f"{key}.start") if d.get("start") is not None else (
        _dt.date(min(starts).year - 1, 1, 1) if starts else _dt.date(2019, 1, 1))
    end = r.date(d["end"], f"{key}.end") if d.get("end") is not None else (
        _dt.date(max(starts).year + 1, 12, 31) if starts else _dt.date(2021, 12, 31))
    if end <= start:
        raise r.err(f"{key}.end", f"{end} is not after the start {start}")
    n_periods = P.code(end, unit) - P.code(start, unit) + 1
    if n_periods < 3:
        raise r.err(f"{key}.end", f"the simulated period covers {n_periods} {unit}s; need at least 3")
    init = r.number(d.get("initial_share", 0.5), f"{key}.initial_share", lo=0.0, hi=1.0)

    # assignments
    assigns: list[Assignment] = []
    for col, spec in r.mapping(d.get("assignments") or {}, f"{key}.assignments").items():
        k2 = f"{key}.assignments.{col}"
        spec = r.mapping(spec, k2)
        r.keys(spec, {"shares", "offsets"}, k2)
        shares = {str(v): r.number(x, f"{k2}.shares.{v}", lo=0.0, hi=1.0)
                  for v, x in r.mapping(r.require(spec, "shares", k2), f"{k2}.shares").items()}
        tot = sum(shares.values())
        if abs(tot - 1.0) > 1e-6:
            raise r.err(f"{k2}.shares", f"shares add up to {tot:g}, expected 1")
        offsets: dict[str, dict[str, float]] = {}
        for v, off in r.mapping(spec.get("offsets") or {}, f"{k2}.offsets").items():
            if str(v) not in shares:
                raise r.err(f"{k2}.offsets.{v}", f"{v!r} is not a value of {col}", hint=f"values: {', '.join(shares)}")
            offsets[str(v)] = {}
            for kk, x in r.mapping(off, f"{k2}.offsets.{v}").items():
                kid = _primitive(r, kk, f"{k2}.offsets.{v}.{kk}")
                offsets[str(v)][kid] = r.number(x, f"{k2}.offsets.{v}.{kk}")
        assigns.append(Assignment(str(col), shares, offsets))
    by_col = {a.column: a for a in assigns}

    # exposures follow the case's strategies
    exposures = []
    for s in strategies:
        if not s.targets_all:
            a = by_col.get(s.arm_column)
            k2 = f"strategies[{s.index}].arm_column"
            if a is None:
                raise r.err(k2, f"column {s.arm_column!r} is not simulated",
                            hint=f"add simulate.assignments.{s.arm_column} with the shares of its values")
            for j, v in enumerate(s.target):
                if v not in a.shares:
                    raise r.err(f"strategies[{s.index}].target[{j}]", f"{v!r} is not a value of {s.arm_column}",
                                hint=f"values: {', '.join(a.shares)}")
            for j, v in enumerate(s.control or ()):
                if v not in a.shares:
                    raise r.err(f"strategies[{s.index}].control[{j}]", f"{v!r} is not a value of {s.arm_column}",
                                hint=f"values: {', '.join(a.shares)}")
        exposures.append(Exposure(s.id, s.start, s.end, s.arm_column, s.target))

    # KPI baselines
    kpis: dict[str, KPIModel] = {}
    raw_k = r.mapping(d.get("kpis") or {}, f"{key}.kpis")
    given = {}
    for kk, spec in raw_k.items():
        kid = _primitive(r, kk, f"{key}.kpis.{kk}")
        given[kid] = (kk, spec)
    for kid in PRIMITIVES:
        base = dict(DEFAULTS[kid])
        if kid in given:
            kk, spec = given[kid]
            k2 = f"{key}.kpis.{kk}"
            spec = r.mapping(spec, k2)
            r.keys(spec, _KPI_KEYS, k2)
            for f_ in ("level", "sd", "trend", "seasonal", "curvature"):
                if f_ in spec:
                    base[f_] = r.number(spec[f_], f"{k2}.{f_}", lo=0.0 if f_ == "sd" else None)
            if "peak_month" in spec:
                base["peak_month"] = r.number(spec["peak_month"], f"{k2}.peak_month", lo=1, hi=12, integer=True)
            if "peak" in spec:
                base["peak"] = r.date(spec["peak"], f"{k2}.peak")
            lo, hi = BOUNDS[kid]
            if not (lo <= base["level"] <= hi):
                raise r.err(f"{k2}.level", f"{base['level']!r} is outside the range of {kid} [{lo}, {hi}]")
        kpis[kid] = KPIModel(**base)

    # effects
    ids = [s.id for s in strategies]
    effects: dict[str, dict[str, float]] = {}
    for sid, eff in r.mapping(d.get("effects") or {}, f"{key}.effects").items():
        k2 = f"{key}.effects.{sid}"
        if str(sid) not in ids:
            near = suggest(str(sid), ids)
            raise r.err(k2, f"{sid!r} is not a strategy of this case",
                        hint=f"did you mean {near!r}?" if near else f"strategies: {', '.join(ids)}")
        effects[str(sid)] = {}
        for kk, x in r.mapping(eff, k2).items():
            kid = _primitive(r, kk, f"{k2}.{kk}")
            effects[str(sid)][kid] = r.number(x, f"{k2}.{kk}")

    def num(name, default, lo, hi):
        return r.number(d.get(name, default), f"{key}.{name}", lo=lo, hi=hi)

    spec = SimulationSpec(
        seed=int(seed), customers=int(n), start=start, end=end, unit=unit, initial_share=init,
        assignments=tuple(assigns), kpis=kpis, effects=effects, exposures=tuple(exposures),
        survey_rate=num("survey_rate", 0.08, 0.0, 1.0),
        satisfaction_item_sd=num("satisfaction_item_sd", 0.8, 0.05, 5.0),
        impressions_per_session=num("impressions_per_session", 6.0, 0.0, 1000.0),
        order_value_spread=num("order_value_spread", 0.5, 0.0, 3.0),
        dwell_spread=num("dwell_spread", 0.6, 0.0, 3.0),
        satisfaction_items=tuple(satisfaction_items), high_tiers=tuple(high_tiers), file=str(file))
    return spec


def _primitive(r: CaseReader, name: Any, key: str) -> str:
    kid = r.kpi(name, key)
    if kid not in PRIMITIVES:
        raise r.err(key, f"{kid} ({KPIS[kid].en}) is derived in the simulation and cannot be set directly",
                    hint="set conversion_rate, visit_frequency or average_order_value instead")
    return kid

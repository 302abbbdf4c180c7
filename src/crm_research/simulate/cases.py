"""Case panels: synthetic customers exposed (or not) to strategies, with known true effects.

:func:`simulate_case` turns a case file's ``simulate:`` block into the four tables a real
case would bring (customers, orders, sessions, satisfaction survey) and keeps, for every
customer and period, the expected value of each KPI with and without every strategy, so the
true effect of a strategy on a KPI over any window is known exactly
(:meth:`CaseSimulation.true_effect`).

The ``simulate:`` block (all keys optional except ``seed``)::

    simulate:
      seed: 20240301
      customers: 3000             # number of customers
      start: 2019-01-01           # first and last day of the data
      end: 2021-12-31
      initial_share: 0.5          # share of customers acquired before ``start``; the rest join
                                  # uniformly over the periods (and are active when they join)
      assignments:                # customers' group columns (who is exposed to what)
        group:
          shares: {rollout: 0.7, holdout: 0.3}
          offsets: {rollout: {retention_rate: 0.03}}   # baseline differences (selection)
      kpis:                       # baseline of each KPI on its own scale (defaults below)
        retention_rate: {level: 0.55, sd: 0.10, trend: 0.004, seasonal: 0.03, peak_month: 11}
        conversion_rate: {level: 0.08, curvature: -0.0002, peak: 2020-06-01}
      effects:                    # strategy -> KPI -> additive effect on the KPI's own scale,
        personalized_recommendation: {click_through_rate: 0.015, conversion_rate: 0.01}
      survey_rate: 0.08           # share of active customer-periods answering the survey
      satisfaction_item_sd: 0.8   # item noise of the 1-5 satisfaction items
      impressions_per_session: 6  # recommendation impressions per session (Poisson mean)
      order_value_spread: 0.5     # log-normal sigma of order amounts
      dwell_spread: 0.6           # log-normal sigma of session durations

The population model, per customer ``i`` and period ``t`` (each KPI on its own scale)::

    value_k(i, t) = level_k + sd_k * z_ik + offset_k(groups of i) + trend_k * t
                    + seasonal_k * cos(2 pi (month - peak_month) / 12) + curvature_k * (t - peak)^2
                    + sum over strategies s of effect_sk * exposure_s(i, t)

``exposure_s`` is 1 in the periods fully after the start (and up to the end) for customers in
the strategy's target groups, the covered fraction in the start period, else 0. Values are
clipped to their range (shares to [0.001, 0.999], satisfaction to [1.05, 4.95]). Then:

- active in the period with probability ``retention_rate`` (always in the period it joins);
- an active customer who has not bought before has ``1 + Poisson(visit_frequency - 1)``
  sessions, each converting with probability ``conversion_rate``;
- an active customer who has bought before buys in the period with probability
  ``repurchase_rate / retention_rate`` (so that P(buy | earlier buyer) = ``repurchase_rate``);
  buyers have ``1 + Poisson(mu)`` converting sessions and ``Poisson(nu)`` others, non-buyers
  ``1 + Poisson(nu)`` sessions, with ``mu`` and ``nu`` chosen so that sessions per active
  customer average ``visit_frequency`` and sessions convert at ``conversion_rate``;
- each session lasts ``dwell_time`` minutes on average (log-normal), shows
  ``Poisson(impressions_per_session)`` recommendations, each clicked with probability
  ``click_through_rate``; each converting session places one order of mean
  ``average_order_value`` (log-normal);
- the customer is a high-tier member in the period when a per-customer uniform is below
  ``high_tier_sales_share`` (so in expectation that is the high tiers' share of sales);
- active customers answer the survey with probability ``survey_rate``; the satisfaction items
  are ``clip(round(q + noise), 1, 5)`` with ``q`` chosen so their mean is ``satisfaction_score``.

So every declared effect is an additive effect on its KPI exactly as
:mod:`crm_research.cases.panel` computes it (``spend_per_customer`` is derived: conversion x
visits x order value). Trends and seasonality make naive before/after comparisons biased.
The true effect of strategy ``s`` on KPI ``k`` over a window is the mean, over the exposed
customers' units in the window weighted as the KPI weights them, of the expected KPI with all
effects minus the expected KPI without ``s``'s effects; it equals the declared effect except
where clipping binds or the KPI is derived.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Iterable

import numpy as np
import pandas as pd

from ..cases import periods as P
from ..cases.definition import CaseDefinition, load_case
from ..cases.simulation_spec import (BOUNDS, DEFAULTS, PRIMITIVES, Assignment, Exposure, KPIModel,
                                     SimulationSpec, parse_simulation)
from ..cases.tables import CaseData
from ..errors import ConfigError

LOW_TIERS = ("regular", "silver")


# --------------------------------------------------------------------------- satisfaction items
_Q_GRID = np.linspace(-6.0, 12.0, 3601)


def _item_mean(q: np.ndarray, sd: float) -> np.ndarray:
    """E[clip(floor(q + e + 0.5), 1, 5)] for e ~ N(0, sd)."""
    from scipy.special import ndtr

    q = np.asarray(q, dtype=float)
    out = np.ones_like(q)
    for k in (1, 2, 3, 4):
        out += 1.0 - ndtr((k + 0.5 - q) / sd)
    return out


def _item_latent(score: np.ndarray, sd: float) -> np.ndarray:
    """The latent q whose expected item score is ``score`` (inverse of :func:`_item_mean`)."""
    grid = _item_mean(_Q_GRID, sd)
    return np.interp(score, grid, _Q_GRID)


# --------------------------------------------------------------------------- simulation result
@dataclass
class CaseSimulation:
    """A simulated case data set plus what is needed to compute true effects.

    Build with :func:`simulate_case`.

    Parameters
    ----------
    spec : SimulationSpec
    data : crm_research.cases.data.CaseData
        ``customers``, ``orders``, ``sessions``, ``survey`` as a real case would bring them.
    units : DataFrame
        One row per customer and period since the customer joined: the KPI baselines on
        their own scale (before effects), and the observed counts that weight each KPI.
    groups : DataFrame
        ``customer_id`` and the simulated group columns.
    clipped : dict
        Share of units where a KPI's value was clipped to its range.

    Examples
    --------
    >>> sim = simulate_case("r2_retention_strategies", seed=3, customers=300)
    >>> sim
    CaseSimulation(seed=3, customers=300, sessions=20437, orders=2421, responses=526)
    >>> round(sim.true_effect("personalized_recommendation", "click_through_rate"), 6)   # declared: 0.015
    0.015
    >>> sim.declared_effects().head(2)
                          strategy                 kpi  declared_effect
    0  personalized_recommendation  click_through_rate            0.015
    1  personalized_recommendation     conversion_rate            0.010
    >>> print(sim.summary().splitlines()[2])
      group: rollout 210, holdout 90
    """

    spec: SimulationSpec
    data: Any
    units: pd.DataFrame
    groups: pd.DataFrame
    clipped: dict[str, float]

    # ---------------------------------------------------------------- effects
    def _exposure(self, s: Exposure, codes: np.ndarray, cust: np.ndarray) -> np.ndarray:
        frac = _exposure_fraction(s, codes, self.spec.unit)
        if s.target == ("all",):
            return frac
        member = self.groups[s.column].isin(s.target).to_numpy()[cust]
        return frac * member

    def _values(self, rows: pd.DataFrame, without: str | None = None) -> dict[str, np.ndarray]:
        """KPI values on their own scale for ``rows`` of :attr:`units` (all effects, or all but one strategy)."""
        codes = rows["period"].to_numpy()
        cust = rows["cust"].to_numpy()
        vals = {k: rows[f"base_{k}"].to_numpy().copy() for k in PRIMITIVES}
        for s in self.spec.exposures:
            if s.id == without or s.id not in self.spec.effects:
                continue
            x = self._exposure(s, codes, cust)
            for k, delta in self.spec.effects[s.id].items():
                vals[k] = vals[k] + delta * x
        return _clip_values(vals)

    def true_effect(self, strategy: str, kpi: str, periods: Iterable[int] | None = None, *,
                    customers: Iterable[Any] | None = None) -> float:
        """The true effect of ``strategy`` on ``kpi`` over ``periods`` for its exposed customers.

        Parameters
        ----------
        strategy : str
            Strategy id.
        kpi : str
            KPI id of the vocabulary.
        periods : iterable of int, optional
            Period codes (:mod:`crm_research.cases.periods`); default: every period fully
            after the start (and before the end).
        customers : iterable, optional
            Customer ids to average over; default: the strategy's target customers.

        Returns
        -------
        float
            Expected KPI with every effect minus expected KPI without this strategy's
            effects, over the units in the window weighted as the KPI weights them.

        Examples
        --------
        >>> sim = simulate_case("r2_retention_strategies", seed=3, customers=300)
        >>> round(sim.true_effect("promotions_coupons", "average_order_value"), 6)   # declared: -12
        -12.0
        """
        exp = next((s for s in self.spec.exposures if s.id == strategy), None)
        if exp is None:
            raise KeyError(f"unknown strategy {strategy!r}")
        u = self.units
        if periods is None:
            c0 = P.first_full_period(exp.start, self.spec.unit)
            c1 = P.code(exp.end, self.spec.unit) if exp.end else int(u["period"].max())
            periods = range(c0, c1 + 1)
        mask = u["period"].isin(list(periods)).to_numpy()
        if customers is not None:
            ids = self.groups["customer_id"].to_numpy()
            keep = np.isin(ids, np.asarray(list(customers)))
            mask = mask & keep[u["cust"].to_numpy()]
        elif exp.target != ("all",):
            mask = mask & self.groups[exp.column].isin(exp.target).to_numpy()[u["cust"].to_numpy()]
        rows = u.loc[mask]
        if rows.empty:
            return float("nan")
        v1 = self._values(rows)
        v0 = self._values(rows, without=strategy)
        return _expected_kpi(kpi, rows, v1) - _expected_kpi(kpi, rows, v0)

    def true_effects(self, table: pd.DataFrame) -> pd.Series:
        """True effects for the rows of an evaluation table (its ``strategy``, ``kpi`` and post window).

        Parameters
        ----------
        table : DataFrame
            Rows with ``strategy``, ``kpi``, ``post_start``, ``post_end``
            (:attr:`CaseEvaluation.table <crm_research.cases.evaluate.CaseEvaluation>`).

        Returns
        -------
        Series
            ``true_effect`` (NaN where a row has no post window).

        Examples
        --------
        >>> import datetime as dt
        >>> import pandas as pd
        >>> sim = simulate_case("r2_retention_strategies", seed=3, customers=300)
        >>> rows = pd.DataFrame({"strategy": ["personalized_recommendation"], "kpi": ["conversion_rate"],
        ...                      "post_start": [dt.date(2020, 1, 1)], "post_end": [dt.date(2020, 6, 30)]})
        >>> sim.true_effects(rows).round(6).tolist()           # declared: 0.01
        [0.01]
        """
        out = []
        for _, row in table.iterrows():
            if pd.isna(row["post_start"]) or pd.isna(row["post_end"]):
                out.append(float("nan"))
                continue
            c0 = P.code(row["post_start"], self.spec.unit)
            c1 = P.code(row["post_end"], self.spec.unit)
            out.append(self.true_effect(row["strategy"], row["kpi"], range(c0, c1 + 1)))
        return pd.Series(out, index=table.index, name="true_effect")

    def declared_effects(self) -> pd.DataFrame:
        """The effects written in the case file, one row per strategy and KPI.

        Returns
        -------
        DataFrame
            ``strategy, kpi, declared_effect``.
        """
        rows = [{"strategy": s, "kpi": k, "declared_effect": v}
                for s, eff in self.spec.effects.items() for k, v in eff.items()]
        return pd.DataFrame(rows, columns=["strategy", "kpi", "declared_effect"])

    # ---------------------------------------------------------------- output
    def write(self, folder: str | Path, *, fmt: str = "csv", overwrite: bool = False) -> dict[str, Path]:
        """Write ``customers``, ``orders``, ``sessions``, ``survey`` (CSV or Parquet) into ``folder``.

        Parameters
        ----------
        folder : str or Path
        fmt : {"csv", "parquet"}
        overwrite : bool
            Replace existing files (otherwise CRMResearchError).

        Returns
        -------
        dict of Path

        Examples
        --------
        >>> import tempfile
        >>> sim = simulate_case("r2_retention_strategies", customers=300)
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     print(sorted(p.name for p in sim.write(folder).values()))
        ['customers.csv', 'orders.csv', 'sessions.csv', 'survey.csv']
        """
        return self.data.write(folder, fmt=fmt, overwrite=overwrite)

    def summary(self) -> str:
        """The simulated data in a few lines: sizes, groups, declared effects, clipping.

        Returns
        -------
        str
        """
        d = self.data
        lines = [f"Simulated case data (seed {self.spec.seed}, {self.spec.start} to {self.spec.end}, "
                 f"{self.spec.unit}ly periods)",
                 f"  customers {len(d.customers):,}   sessions {len(d.sessions):,}   orders {len(d.orders):,}   "
                 f"survey responses {len(d.survey):,}"]
        for a in self.spec.assignments:
            counts = self.groups[a.column].value_counts()
            lines.append(f"  {a.column}: " + ", ".join(f"{v} {counts.get(v, 0):,}" for v in a.shares))
        if self.spec.effects:
            lines.append("  declared effects:")
            for s, eff in self.spec.effects.items():
                lines.append(f"    {s}: " + ", ".join(f"{k} {v:+g}" for k, v in eff.items()))
        bad = {k: v for k, v in self.clipped.items() if v > 0.001}
        if bad:
            lines.append("  clipped to range: " + ", ".join(f"{k} {v:.1%}" for k, v in bad.items()))
        return "\n".join(lines)

    def __repr__(self) -> str:
        d = self.data
        return (f"CaseSimulation(seed={self.spec.seed}, customers={len(d.customers)}, sessions={len(d.sessions)}, "
                f"orders={len(d.orders)}, responses={len(d.survey)})")

    def _repr_html_(self) -> str:
        import html
        return f"<pre>{html.escape(self.summary())}</pre>"


def _exposure_fraction(s: Exposure, codes: np.ndarray, unit: str) -> np.ndarray:
    """Share of each period (by days) on or after ``s.start`` and on or before ``s.end``."""
    uniq = np.unique(codes)
    frac = {}
    lo = pd.Timestamp(s.start)
    hi = pd.Timestamp(s.end) + pd.Timedelta(days=1) if s.end else pd.Timestamp.max
    for c in uniq:
        a, b = P.start(c, unit), P.end(c, unit)
        days = (b - a).days
        cover = (min(b, hi) - max(a, lo)).days
        frac[int(c)] = max(0.0, min(1.0, cover / days))
    return np.array([frac[int(c)] for c in codes]) if len(codes) else np.zeros(0)


def _clip_values(vals: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    out = {}
    for k, v in vals.items():
        lo, hi = BOUNDS[k]
        out[k] = np.clip(v, lo, hi)
    # a customer cannot buy again more often than she is active, nor (given her sessions and
    # their conversion) more often than one converting session per active period allows
    cap = np.minimum(0.98 * out["retention_rate"],
                     0.98 * out["conversion_rate"] * out["visit_frequency"] * out["retention_rate"])
    out["repurchase_rate"] = np.minimum(out["repurchase_rate"], cap)
    return out


# ratio KPIs: the column of the expectation rows that weights the per-customer value (the
# denominator of the ratio in crm_research.cases.panel)
_KPI_WEIGHTS = {"repurchase_rate": "prior", "conversion_rate": "sessions", "click_through_rate": "impressions",
                "average_order_value": "orders", "satisfaction_score": "responses", "visit_frequency": "active",
                "dwell_time": "sessions"}


def _expected_kpi(kpi: str, rows: pd.DataFrame, v: dict[str, np.ndarray]) -> float:
    """Expected KPI over ``rows`` as :mod:`crm_research.cases.panel` computes it (ratio of sums)."""
    def wmean(x, w):
        w = np.asarray(w, dtype=float)
        return float(np.sum(x * w) / np.sum(w)) if np.sum(w) > 0 else float("nan")

    joined = rows["joined"].to_numpy()
    pa = np.where(joined, 1.0, v["retention_rate"])
    if kpi == "retention_rate":
        return wmean(v["retention_rate"], ~joined)
    if kpi in _KPI_WEIGHTS:
        return wmean(v[kpi], rows[_KPI_WEIGHTS[kpi]].to_numpy())
    if kpi == "spend_per_customer":
        # E[spend | active]: converting sessions per active period x order value
        prior = rows["prior"].to_numpy()
        spend = v["conversion_rate"] * v["visit_frequency"] * v["average_order_value"]
        return wmean(spend, rows["active"].to_numpy()) if len(prior) else float("nan")
    if kpi == "high_tier_sales_share":
        rev = pa * v["conversion_rate"] * v["visit_frequency"] * v["average_order_value"]
        return float(np.sum(rev * v["high_tier_sales_share"]) / np.sum(rev))
    raise KeyError(kpi)


# --------------------------------------------------------------------------- generator
def simulate_case(case: Any, *, seed: int | None = None, customers: int | None = None) -> CaseSimulation:
    """Simulate a case's data set from its ``simulate:`` block.

    Parameters
    ----------
    case : CaseDefinition, path or bundled case id
        A case whose file has a ``simulate:`` block.
    seed : int, optional
        Overrides ``simulate.seed`` (e.g. to check recovery on fresh seeds).
    customers : int, optional
        Overrides ``simulate.customers``.

    Returns
    -------
    CaseSimulation
        ``.data`` holds the tables; ``.true_effect(strategy, kpi, periods)`` the truth.

    Examples
    --------
    >>> sim = simulate_case("r2_retention_strategies", seed=3, customers=300)
    >>> sim.data
    CaseData(customers=300, orders=2,421, sessions=20,437, survey=526; simulated (seed 3))
    >>> list(sim.data.orders.columns)
    ['order_id', 'customer_id', 'timestamp', 'amount', 'session_id', 'member_tier']
    >>> simulate_case("r2_retention_strategies", seed=3, customers=300).data.orders.equals(sim.data.orders)
    True
    """
    if not isinstance(case, CaseDefinition):
        case = load_case(case)
    spec: SimulationSpec = case.simulate
    if spec is None:
        raise ConfigError(str(case.path), "simulate", "this case reads data files; it has no simulate: block",
                          hint="add a simulate: block or evaluate the data files directly")
    if seed is not None:
        spec = replace(spec, seed=int(seed))
    if customers is not None:
        spec = replace(spec, customers=int(customers))
    return _simulate(spec)


def _simulate(spec: SimulationSpec) -> CaseSimulation:
    rng = np.random.default_rng(spec.seed)
    unit = spec.unit
    n = spec.customers
    c_first, c_last = P.code(spec.start, unit), P.code(spec.end, unit)
    codes = np.arange(c_first, c_last + 1)
    n_per = len(codes)
    p_start = np.array([P.start(c, unit).value for c in codes], dtype=np.int64)  # ns
    p_end = np.array([P.end(c, unit).value for c in codes], dtype=np.int64)
    p_start[0] = max(p_start[0], pd.Timestamp(spec.start).value)
    p_end[-1] = min(p_end[-1], (pd.Timestamp(spec.end) + pd.Timedelta(days=1)).value)

    # customers, groups, join period
    groups = pd.DataFrame({"customer_id": np.arange(1, n + 1, dtype=np.int64)})
    for a in spec.assignments:
        vals = list(a.shares)
        counts = np.floor(np.array([a.shares[v] for v in vals]) * n).astype(int)
        rest = n - counts.sum()
        order = np.argsort(-(np.array([a.shares[v] for v in vals]) * n - counts), kind="stable")
        counts[order[:rest]] += 1
        labels = np.repeat(np.array(vals, dtype=object), counts)
        groups[a.column] = labels[rng.permutation(n)]
    n_init = int(round(spec.initial_share * n))
    join_idx = np.zeros(n, dtype=np.int64)
    join_idx[n_init:] = rng.integers(1 if n_init else 0, n_per, n - n_init) if n_per > 1 else 0
    join_idx = join_idx[rng.permutation(n)]
    initial = join_idx == 0
    # signup dates: initial customers up to a year before the start; others within their period
    signup_ns = np.where(
        initial & (n_init > 0),
        pd.Timestamp(spec.start).value - rng.integers(1, 366, n) * 86_400 * 10**9,
        p_start[join_idx] + (rng.random(n) * (p_end[join_idx] - p_start[join_idx])).astype(np.int64))
    if n_init == 0:
        initial = np.zeros(n, dtype=bool)

    # latent heterogeneity and offsets per KPI
    z = rng.standard_normal((len(PRIMITIVES), n))
    u_tier = rng.random(n)
    base_cust = {}
    for j, k in enumerate(PRIMITIVES):
        m = spec.kpis[k]
        b = m.level + m.sd * z[j]
        for a in spec.assignments:
            for v, off in a.offsets.items():
                if k in off:
                    b = b + off[k] * (groups[a.column].to_numpy() == v)
        base_cust[k] = b
    # time effects
    t_idx = np.arange(n_per, dtype=float)
    season = P.season_index(codes, unit)
    time_eff = {}
    for k in PRIMITIVES:
        m = spec.kpis[k]
        te = m.trend * t_idx + m.seasonal * np.cos(2 * np.pi * (season - (m.peak_month - 1) / 12.0))
        if m.curvature:
            tp = (P.code(m.peak, unit) - c_first) if m.peak else (n_per - 1) / 2.0
            te = te + m.curvature * (t_idx - tp) ** 2
        time_eff[k] = te
    # exposures per strategy (fraction of period) and membership
    members = {}
    fracs = {}
    for s in spec.exposures:
        fracs[s.id] = _exposure_fraction(s, codes, unit)
        members[s.id] = (np.ones(n, dtype=bool) if s.target == ("all",)
                         else groups[s.column].isin(s.target).to_numpy())

    first_order = np.full(n, np.iinfo(np.int64).max)  # period index of first order
    unit_parts, sess_parts, order_parts, survey_parts = [], [], [], []
    clip_count = {k: 0 for k in PRIMITIVES}
    n_units = 0
    sd_item = spec.satisfaction_item_sd
    tiers_high = np.array(spec.high_tiers, dtype=object)
    tiers_low = np.array([t for t in LOW_TIERS if t not in spec.high_tiers] or ["regular"], dtype=object)
    ov_s, dw_s = spec.order_value_spread, spec.dwell_spread

    for j in range(n_per):
        cust = np.nonzero(join_idx <= j)[0]
        joined = (join_idx[cust] == j) & ~initial[cust]
        m_units = len(cust)
        base = {k: base_cust[k][cust] + time_eff[k][j] for k in PRIMITIVES}
        vals = {k: v.copy() for k, v in base.items()}
        for s in spec.exposures:
            eff = spec.effects.get(s.id)
            if not eff or fracs[s.id][j] == 0:
                continue
            x = fracs[s.id][j] * members[s.id][cust]
            for k, delta in eff.items():
                vals[k] = vals[k] + delta * x
        raw_vals = vals
        vals = _clip_values(vals)
        for k in PRIMITIVES:
            clip_count[k] += int(np.sum(np.abs(vals[k] - raw_vals[k]) > 1e-12))
        n_units += m_units

        pa, lam = vals["retention_rate"], vals["visit_frequency"] - 1.0
        conv, rep = vals["conversion_rate"], vals["repurchase_rate"]
        prior = first_order[cust] < j
        active = joined | (rng.random(m_units) < pa)
        # sessions and converting sessions
        n_sess = np.zeros(m_units, dtype=np.int64)
        n_conv = np.zeros(m_units, dtype=np.int64)
        new = active & ~prior
        n_sess[new] = 1 + rng.poisson(lam[new])
        n_conv[new] = rng.binomial(n_sess[new], conv[new])
        old = active & prior
        if old.any():
            rho = rep[old] / pa[old]  # P(buy | active, earlier buyer)
            buy = rng.random(old.sum()) < rho
            mu = np.maximum(conv[old] * (1.0 + lam[old]) / rho - 1.0, 0.0)
            nu = np.maximum(lam[old] - conv[old] * (1.0 + lam[old]) + rho, 0.0)
            k_ = np.where(buy, 1 + rng.poisson(mu), 0)
            s_ = np.where(buy, k_ + rng.poisson(nu), 1 + rng.poisson(nu))
            n_sess[old], n_conv[old] = s_, k_
        high = u_tier[cust] < vals["high_tier_sales_share"]

        # session rows
        tot = int(n_sess.sum())
        sc = np.repeat(np.arange(m_units), n_sess)
        # which sessions convert: the first n_conv of each customer's (shuffled) sessions
        pos = np.arange(tot) - np.repeat(np.cumsum(n_sess) - n_sess, n_sess)
        converts = pos < n_conv[sc]
        s_start = p_start[j] + (rng.random(tot) * (p_end[j] - p_start[j])).astype(np.int64)
        dur_min = vals["dwell_time"][sc] * rng.lognormal(-dw_s ** 2 / 2, dw_s, tot) if dw_s > 0 \
            else vals["dwell_time"][sc]
        dur = np.maximum(np.round(dur_min * 60.0), 1).astype(np.int64)
        imp = rng.poisson(spec.impressions_per_session, tot)
        clicks = rng.binomial(imp, vals["click_through_rate"][sc])
        sess_parts.append(pd.DataFrame({
            "customer_id": groups["customer_id"].to_numpy()[cust[sc]], "start_ns": s_start,
            "duration": dur, "rec_impressions": imp, "rec_clicks": clicks, "converts": converts}))
        # orders from converting sessions
        oc = sc[converts]
        n_ord = len(oc)
        amount = vals["average_order_value"][oc] * (rng.lognormal(-ov_s ** 2 / 2, ov_s, n_ord) if ov_s > 0 else 1.0)
        amount = np.maximum(np.round(amount, 2), 0.01)
        tier_u = u_tier[cust[oc]]
        h = vals["high_tier_sales_share"][oc]
        hi_idx = np.minimum((tier_u / np.maximum(h, 1e-12) * len(tiers_high)).astype(int), len(tiers_high) - 1)
        lo_idx = np.minimum(((tier_u - h) / np.maximum(1 - h, 1e-12) * len(tiers_low)).astype(int), len(tiers_low) - 1)
        tier = np.where(high[oc], tiers_high[np.clip(hi_idx, 0, None)], tiers_low[np.clip(lo_idx, 0, None)])
        order_parts.append(pd.DataFrame({
            "customer_id": groups["customer_id"].to_numpy()[cust[oc]],
            "ts_ns": s_start[converts] + dur[converts] * 10**9, "amount": amount, "member_tier": tier,
            "session_row": np.nonzero(converts)[0] + sum(len(p) for p in sess_parts[:-1])}))
        # survey
        resp = active & (rng.random(m_units) < spec.survey_rate)
        nr = int(resp.sum())
        q = _item_latent(vals["satisfaction_score"][resp], sd_item)
        items = np.clip(np.floor(q[:, None] + rng.normal(0, sd_item, (nr, len(spec.satisfaction_items))) + 0.5), 1, 5)
        surv = pd.DataFrame(items.astype(np.int64), columns=list(spec.satisfaction_items))
        surv.insert(0, "customer_id", groups["customer_id"].to_numpy()[cust[resp]])
        surv.insert(1, "ts_ns", p_start[j] + (rng.random(nr) * (p_end[j] - p_start[j])).astype(np.int64))
        survey_parts.append(surv)
        # first orders
        bought = n_conv > 0
        first_order[cust[bought & ~prior]] = np.minimum(first_order[cust[bought & ~prior]], j)

        rev = np.bincount(sc[converts], weights=amount, minlength=m_units)
        part = pd.DataFrame({"cust": cust, "period": codes[j], "joined": joined, "prior": prior,
                             "active": active, "sessions": n_sess, "orders": n_conv,
                             "impressions": np.bincount(sc, weights=imp, minlength=m_units).astype(np.int64),
                             "responses": resp.astype(np.int64), "revenue": rev})
        for k in PRIMITIVES:
            part[f"base_{k}"] = base[k]
        unit_parts.append(part)

    sessions = pd.concat(sess_parts, ignore_index=True)
    sessions.insert(0, "session_id", np.arange(1, len(sessions) + 1, dtype=np.int64))
    sessions["start"] = pd.to_datetime(sessions.pop("start_ns")).astype("datetime64[s]")
    conv_sid = sessions["session_id"].to_numpy()[sessions.pop("converts").to_numpy()]
    orders = pd.concat(order_parts, ignore_index=True)
    orders["session_id"] = sessions["session_id"].to_numpy()[orders.pop("session_row").to_numpy()]
    orders["timestamp"] = pd.to_datetime(orders.pop("ts_ns")).astype("datetime64[s]")
    orders = orders.sort_values(["timestamp", "customer_id"], kind="stable").reset_index(drop=True)
    orders.insert(0, "order_id", np.arange(1, len(orders) + 1, dtype=np.int64))
    orders = orders[["order_id", "customer_id", "timestamp", "amount", "session_id", "member_tier"]]
    assert len(conv_sid) == len(orders)
    survey = pd.concat(survey_parts, ignore_index=True)
    survey["timestamp"] = pd.to_datetime(survey.pop("ts_ns")).astype("datetime64[s]")
    survey.insert(0, "response_id", np.arange(1, len(survey) + 1, dtype=np.int64))
    survey = survey[["response_id", "customer_id", "timestamp", *spec.satisfaction_items]]
    sessions = sessions[["session_id", "customer_id", "start", "duration", "rec_impressions", "rec_clicks"]]
    customers = groups.copy()
    customers.insert(1, "signup_date", pd.to_datetime(signup_ns).normalize().astype("datetime64[s]"))
    units = pd.concat(unit_parts, ignore_index=True)
    clipped = {k: clip_count[k] / max(n_units, 1) for k in PRIMITIVES}
    data = CaseData(customers=customers, orders=orders, sessions=sessions, survey=survey,
                    source=f"simulated (seed {spec.seed})", date_range=(spec.start, spec.end))
    return CaseSimulation(spec=spec, data=data, units=units, groups=groups, clipped=clipped)


__all__ = ["simulate_case", "CaseSimulation", "SimulationSpec", "parse_simulation", "PRIMITIVES", "DEFAULTS",
           "BOUNDS", "KPIModel", "Assignment"]

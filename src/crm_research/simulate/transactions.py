"""Synthetic e-commerce transaction and session logs from a documented population model.

The model (all rates per day unless said otherwise; parameters in :class:`TransactionModel`):

Customers
    Acquired over the horizon ``[start, end]`` with a growing trend (``acquisition_growth`` per
    year) times the same weekly and yearly seasonality as purchases. The acquisition moment is
    the customer's first order.
Purchases (Pareto/NBD-like, with relationship phases)
    Each customer has a latent purchase rate ``lambda ~ Gamma(r, rate=alpha)`` (per week) and a
    dropout rate ``mu ~ Gamma(s, rate=beta)`` (per week); the lifetime is ``tau ~ Exp(mu)``.
    While alive, purchases follow a Poisson process whose rate is ``lambda`` times the
    seasonal multiplier and times a phase factor: ``ramp_factor`` during the first
    ``ramp_days`` (the growth/cultivation stage), 1 during maturity, ``decline_factor`` during
    the last ``decline_days`` before dropout (the declining stage). With probability
    ``reactivation_prob`` a dropped customer comes back after a dormancy of
    ``dormancy_days`` (uniform) for a second lifetime ``Exp(mu)`` at rate ``lambda``, starting
    with an order (reactivation).
Seasonality
    Weekly multipliers (``weekly``, Monday first) and a yearly profile: a smooth annual wave,
    the Spring-Festival dip, and shopping festivals 6.18, 11.11 and 12.12 (``festivals``).
    The non-homogeneous Poisson process is simulated exactly by time change: event times are
    uniform in cumulative-intensity time and mapped back through its inverse. Times of day
    follow ``hourly`` weights.
Spend (Gamma-Gamma)
    Each customer's spend rate ``nu ~ Gamma(q, rate=gamma)``; each order's value
    ``z ~ Gamma(p, rate=nu)`` (mean ``p / nu``), times ``spend_scale``, rounded to cents.
Products
    ``n_products`` products in ``categories``; each has a launch day, a growth phase (linear
    ramp), a maturity plateau, an exponential decline and a long-tail floor, and a popularity
    weight ``~ LogNormal(0, popularity_sigma)``. An order's product is drawn with probability
    proportional to popularity x lifecycle shape in the order's month.
Channels
    Each customer has a preferred channel (weights ``channels``) used with probability
    ``channel_loyalty``; otherwise a channel is drawn from the weights.
Sessions
    Every order has a purchase session ending at the order (duration log-normal around
    ``purchase_session_seconds``). Browsing sessions arrive at ``browse_per_order`` times the
    purchase rate while the customer is alive and fade out for ``browse_tail_days`` after
    dropout; during the declining phase and the tail, visit durations shrink by
    ``decline_visit_factor`` (the "shrinking visit time" churn signal). Page views grow with
    duration.

Determinism: customers are generated in fixed-size chunks, chunk ``i`` from
``numpy.random.default_rng([seed, i])``, so the same ``seed`` gives the same log whatever the
machine or core count. Everything is vectorized numpy; :func:`write_transactions` streams the
chunks to Parquet with pyarrow, so 10 million orders take seconds and little memory.

Examples
--------
>>> from crm_research.simulate import simulate_transactions
>>> log = simulate_transactions(n_customers=500, seed=1)
>>> list(log.orders.columns)
['customer_id', 'order_id', 'timestamp', 'amount', 'product_id', 'category', 'channel']
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Iterator

import numpy as np
import pandas as pd

CHUNK_CUSTOMERS = 50_000  # fixed: part of the definition of a seed's output

ORDER_COLUMNS = ["customer_id", "order_id", "timestamp", "amount", "product_id", "category", "channel"]
SESSION_COLUMNS = ["customer_id", "start", "duration", "page_views"]


@dataclass(frozen=True)
class TransactionModel:
    """Population model of a platform's customers, purchases, spend, products and visits.

    Defaults describe a mid-size Chinese e-commerce platform over three years (amounts in
    yuan). Rates ``r/alpha`` and ``s/beta`` are per *week*, as in the BG/NBD and Pareto/NBD
    literature; ``alpha`` and ``beta`` are rate parameters of the gamma mixing distributions.

    Parameters
    ----------
    start, end : str
        The horizon (ISO dates).
    acquisition_growth, r, alpha, s, beta, ramp_days, ramp_factor, decline_days, decline_factor, reactivation_prob, dormancy_days
        Acquisition, purchase, dropout and phase parameters (module docstring).
    p, q, gamma, spend_scale
        Gamma-Gamma spend.
    weekly, yearly_amplitude, festivals, spring_festival_dip, hourly
        Seasonality and time of day.
    n_products, categories, product_launch_window, growth_days, maturity_days, decline_halflife_days, tail_floor, popularity_sigma
        Products and their lifecycles.
    channels, channel_loyalty
        Order channels.
    browse_per_order, browse_tail_days, browse_tail_factor, purchase_session_seconds, browse_session_seconds, decline_visit_factor
        Sessions.

    Raises
    ------
    ValueError
        ``end`` not after ``start``, a non-positive rate, or seasonal profiles of the wrong length.

    Examples
    --------
    >>> m = TransactionModel()
    >>> m.n_days, m.r / m.alpha          # three years; 0.225 purchases a week while alive
    (1095, 0.225)
    >>> TransactionModel(start="2022-01-01", end="2021-01-01")
    Traceback (most recent call last):
    ...
    ValueError: end (2021-01-01) must be after start (2022-01-01)
    """

    start: str = "2021-01-01"
    end: str = "2023-12-31"
    acquisition_growth: float = 0.6          # acquisitions per day grow by 60 % a year
    r: float = 0.9                           # purchase rate lambda ~ Gamma(r, alpha) per week
    alpha: float = 4.0                       # -> mean 0.225 purchases / week while alive
    s: float = 0.7                           # dropout mu ~ Gamma(s, beta) per week
    beta: float = 25.0                       # -> median lifetime about 40 weeks, heavy tail
    ramp_days: float = 60.0
    ramp_factor: float = 0.5
    decline_days: float = 90.0
    decline_factor: float = 0.35
    reactivation_prob: float = 0.15
    dormancy_days: tuple[float, float] = (200.0, 500.0)
    p: float = 6.25                          # Gamma-Gamma spend (Fader & Hardie 2013 CDNOW values)
    q: float = 3.74
    gamma: float = 15.44
    spend_scale: float = 4.0                 # CDNOW dollars -> platform yuan
    weekly: tuple[float, ...] = (0.95, 0.92, 0.93, 0.96, 1.02, 1.14, 1.08)   # Mon..Sun
    yearly_amplitude: float = 0.12           # smooth wave peaking in late autumn
    festivals: tuple[tuple[int, int, float, float], ...] = (
        # (month, day, peak multiplier, width in days)
        (6, 18, 2.2, 1.0), (11, 11, 4.0, 0.7), (12, 12, 1.8, 0.7))
    spring_festival_dip: float = 0.55        # multiplier around the Lunar New Year
    hourly: tuple[float, ...] = (
        1.2, 0.6, 0.3, 0.2, 0.2, 0.3, 0.6, 1.2, 2.2, 3.0, 3.6, 4.2,
        4.6, 4.0, 3.6, 3.6, 3.8, 4.0, 4.4, 5.0, 6.0, 6.6, 5.6, 3.0)
    n_products: int = 2000
    categories: tuple[tuple[str, float], ...] = (
        ("apparel", 0.22), ("beauty", 0.14), ("electronics", 0.10), ("home", 0.13),
        ("food", 0.12), ("baby", 0.07), ("sports", 0.07), ("books", 0.05), ("appliances", 0.05),
        ("pets", 0.05))
    product_launch_window: tuple[float, float] = (-720.0, -45.0)  # relative to start/end
    growth_days: tuple[float, float] = (30.0, 180.0)
    maturity_days: tuple[float, float] = (90.0, 720.0)
    decline_halflife_days: tuple[float, float] = (45.0, 180.0)
    tail_floor: float = 0.03
    popularity_sigma: float = 1.0
    channels: tuple[tuple[str, float], ...] = (("app", 0.58), ("web", 0.22), ("mini_program", 0.20))
    channel_loyalty: float = 0.8
    browse_per_order: float = 1.2
    browse_tail_days: float = 60.0
    browse_tail_factor: float = 0.3
    purchase_session_seconds: float = 480.0
    browse_session_seconds: float = 240.0
    decline_visit_factor: float = 0.45

    def __post_init__(self):
        start, end = pd.Timestamp(self.start), pd.Timestamp(self.end)
        if end <= start:
            raise ValueError(f"end ({self.end}) must be after start ({self.start})")
        for name in ("r", "alpha", "s", "beta", "p", "q", "gamma", "spend_scale"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if len(self.weekly) != 7 or len(self.hourly) != 24:
            raise ValueError("weekly needs 7 multipliers (Mon..Sun), hourly 24 weights")

    @property
    def n_days(self) -> int:
        """Days in the horizon (inclusive of ``end``)."""
        return int((pd.Timestamp(self.end) - pd.Timestamp(self.start)).days) + 1

    def to_dict(self) -> dict:
        """The parameters as a dict (for provenance).

        Returns
        -------
        dict

        Examples
        --------
        >>> TransactionModel().to_dict()["spend_scale"]
        4.0
        """
        return asdict(self)


@dataclass
class TransactionLog:
    """A simulated log. Build with :func:`simulate_transactions`.

    Parameters
    ----------
    orders : DataFrame
        ``customer_id, order_id, timestamp, amount, product_id, category, channel``.
    sessions : DataFrame
        ``customer_id, start, duration`` (seconds), ``page_views``.
    products : DataFrame
        ``product_id, category, launch, growth_end, maturity_end, popularity`` (the truth).
    customers : DataFrame
        Latent truth per customer: ``customer_id, acquired, lambda_week, mu_week, alive_until,
        reactivated_at, second_alive_until`` (NaT when not applicable).
    model : TransactionModel
    seed : int

    Examples
    --------
    >>> log = simulate_transactions(200, seed=1, n_products=50)
    >>> log.orders["customer_id"].nunique(), log.products["product_id"].nunique()
    (200, 50)
    >>> print(log.summary().splitlines()[1])
      customers 200   orders 1,263   sessions 2,679
    """

    orders: pd.DataFrame
    sessions: pd.DataFrame
    products: pd.DataFrame
    customers: pd.DataFrame
    model: TransactionModel
    seed: int

    def summary(self) -> str:
        """The log in five lines: customers, orders, sessions, period, revenue, products.

        Returns
        -------
        str
        """
        o = self.orders
        lines = [
            f"Simulated transaction log (seed {self.seed})",
            f"  customers {o['customer_id'].nunique():,}   orders {len(o):,}   sessions {len(self.sessions):,}",
            f"  period {o['timestamp'].min():%Y-%m-%d} .. {o['timestamp'].max():%Y-%m-%d}",
            f"  revenue {o['amount'].sum():,.2f}   mean order value {o['amount'].mean():.2f}",
            f"  products {len(self.products):,} in {self.products['category'].nunique()} categories",
        ]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return (f"TransactionLog(customers={self.orders['customer_id'].nunique()}, "
                f"orders={len(self.orders)}, sessions={len(self.sessions)}, seed={self.seed})")

    def _repr_html_(self) -> str:
        return "<pre>" + self.summary() + "</pre>"


# --------------------------------------------------------------------------- seasonality
def _day_multipliers(m: TransactionModel) -> np.ndarray:
    """Seasonal intensity multiplier per day of the horizon (mean 1)."""
    days = pd.date_range(m.start, periods=m.n_days, freq="D")
    doy = days.day_of_year.to_numpy().astype(float)
    mult = np.asarray(m.weekly, float)[days.day_of_week.to_numpy()]
    mult = mult * (1.0 + m.yearly_amplitude * np.cos(2 * np.pi * (doy - 320.0) / 365.25))
    years = range(days[0].year - 1, days[-1].year + 2)
    for month, day, peak, width in m.festivals:
        for y in years:
            centre = pd.Timestamp(year=y, month=month, day=day)
            dist = (days - centre).days.to_numpy().astype(float)
            mult = mult * (1.0 + (peak - 1.0) * np.exp(-0.5 * (dist / width) ** 2))
    for y in years:  # Lunar New Year falls between Jan 21 and Feb 20; use Feb 5 +- 10 days
        centre = pd.Timestamp(year=y, month=2, day=5)
        dist = (days - centre).days.to_numpy().astype(float)
        mult = mult * (1.0 - (1.0 - m.spring_festival_dip) * np.exp(-0.5 * (dist / 6.0) ** 2))
    return mult / mult.mean()


class _Clock:
    """Cumulative seasonal intensity W(t) on the horizon (t in days) and its inverse."""

    def __init__(self, m: TransactionModel):
        self.mult = _day_multipliers(m)
        self.n_days = len(self.mult)
        self.knots = np.arange(self.n_days + 1, dtype=float)
        self.cum = np.concatenate([[0.0], np.cumsum(self.mult)])
        hourly = np.asarray(m.hourly, float)
        self.hour_cdf = np.cumsum(hourly) / hourly.sum()

    def W(self, t: np.ndarray) -> np.ndarray:
        return np.interp(np.clip(t, 0, self.n_days), self.knots, self.cum)

    def W_inv(self, w: np.ndarray) -> np.ndarray:
        return np.interp(w, self.cum, self.knots)

    def intraday(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """Fractions of a day following the hourly profile."""
        hour = np.searchsorted(self.hour_cdf, rng.random(n), side="right")
        return (np.minimum(hour, 23) + rng.random(n)) / 24.0


# --------------------------------------------------------------------------- products
def _make_products(m: TransactionModel, rng: np.random.Generator) -> dict[str, np.ndarray]:
    n = m.n_products
    cats = np.array([c for c, _ in m.categories])
    cw = np.array([w for _, w in m.categories], float)
    cat_idx = rng.choice(len(cats), size=n, p=cw / cw.sum())
    lo, hi = m.product_launch_window
    launch = rng.uniform(lo, m.n_days + hi, size=n)
    growth = rng.uniform(*m.growth_days, size=n)
    maturity = rng.uniform(*m.maturity_days, size=n)
    halflife = rng.uniform(*m.decline_halflife_days, size=n)
    popularity = rng.lognormal(0.0, m.popularity_sigma, size=n)
    return dict(category_idx=cat_idx, categories=cats, launch=launch, growth=growth,
                maturity=maturity, halflife=halflife, popularity=popularity)


def _product_shape(prod: dict, t: np.ndarray) -> np.ndarray:
    """Lifecycle shape of every product at times ``t`` (days): array (len(t), n_products)."""
    age = t[:, None] - prod["launch"][None, :]
    g, mt, hl = prod["growth"][None, :], prod["maturity"][None, :], prod["halflife"][None, :]
    shape = np.where(age < 0, 0.0, np.minimum(age / g, 1.0))
    after = age - g - mt
    decl = np.exp(-np.log(2) * np.maximum(after, 0.0) / hl)
    return shape * np.maximum(decl, 0.0)


def _month_product_cdf(m: TransactionModel, prod: dict, tail_floor: float):
    """Per-month product cumulative probabilities (for vectorized sampling) and month starts."""
    start = pd.Timestamp(m.start)
    months = pd.date_range(start.to_period("M").to_timestamp(), pd.Timestamp(m.end), freq="MS")
    month_start_day = np.asarray((months - start).days, float)
    mid = month_start_day + 15.0
    shape = _product_shape(prod, mid)
    launched = (mid[:, None] >= prod["launch"][None, :])
    weight = prod["popularity"][None, :] * np.where(launched, np.maximum(shape, tail_floor), 0.0)
    weight[weight.sum(axis=1) == 0] = prod["popularity"]  # no product launched yet: any product
    cdf = np.cumsum(weight, axis=1)
    cdf /= cdf[:, -1:]
    return cdf, month_start_day


# --------------------------------------------------------------------------- one chunk
@dataclass
class _Chunk:
    orders: dict[str, np.ndarray]
    sessions: dict[str, np.ndarray]
    customers: dict[str, np.ndarray]


def _poisson_events(rng, clock: _Clock, cust: np.ndarray, t0: np.ndarray, t1: np.ndarray,
                    rate: np.ndarray):
    """Events of non-homogeneous Poisson processes on intervals ``[t0, t1)`` (days).

    ``rate`` is the base rate per day; the seasonal multiplier is applied by time change.
    Returns (customer index per event, event time in days).
    """
    t1 = np.minimum(t1, clock.n_days)
    ok = t1 > t0
    cust, t0, t1, rate = cust[ok], t0[ok], t1[ok], rate[ok]
    w0, w1 = clock.W(t0), clock.W(t1)
    n = rng.poisson(rate * (w1 - w0))
    idx = np.repeat(np.arange(len(n)), n)
    w = w0[idx] + rng.random(idx.size) * (w1 - w0)[idx]
    t = clock.W_inv(w)
    return cust[idx], t


def _simulate_chunk(m: TransactionModel, clock: _Clock, prod: dict, prod_cdf, month_start_day,
                    seed: int, chunk: int, n_cust: int, id_offset: int,
                    with_sessions: bool) -> _Chunk:
    rng = np.random.default_rng([seed, chunk])
    D = clock.n_days
    # acquisition density: growing trend x seasonality
    trend = 1.0 + m.acquisition_growth * np.arange(D) / 365.25
    dens = trend * clock.mult
    acq_cdf = np.cumsum(dens) / dens.sum()
    acq_day = np.minimum(np.searchsorted(acq_cdf, rng.random(n_cust), side="right"), D - 1)
    acq = acq_day + clock.intraday(rng, n_cust)

    lam = rng.gamma(m.r, 1.0 / m.alpha, n_cust) / 7.0          # per day
    mu = rng.gamma(m.s, 1.0 / m.beta, n_cust) / 7.0
    tau = rng.exponential(1.0, n_cust) / np.maximum(mu, 1e-12)
    alive_end = acq + tau
    b1 = np.minimum(acq + m.ramp_days, alive_end)
    b2 = np.maximum(b1, alive_end - m.decline_days)
    react = rng.random(n_cust) < m.reactivation_prob
    r0 = alive_end + rng.uniform(*m.dormancy_days, n_cust)
    tau2 = rng.exponential(1.0, n_cust) / np.maximum(mu, 1e-12)
    react &= r0 < D
    r1 = np.where(react, r0 + tau2, np.nan)

    ci = np.arange(n_cust)
    # segments: ramp, main, decline, second life (after the reactivation order)
    seg_c = np.concatenate([ci, ci, ci, ci[react]])
    seg_t0 = np.concatenate([acq, b1, b2, r0[react]])
    seg_t1 = np.concatenate([b1, b2, alive_end, r1[react]])
    seg_kind = np.concatenate([np.zeros(n_cust, np.int8), np.ones(n_cust, np.int8),
                               np.full(n_cust, 2, np.int8), np.full(int(react.sum()), 3, np.int8)])
    factor = np.array([m.ramp_factor, 1.0, m.decline_factor, 1.0])[seg_kind]
    seg_rate = lam[seg_c] * factor
    oc, ot = _poisson_events(rng, clock, seg_c, seg_t0, seg_t1, seg_rate)
    # first order at acquisition, reactivation order at r0
    oc = np.concatenate([ci, ci[react], oc])
    day = np.concatenate([acq, r0[react], np.floor(ot) + clock.intraday(rng, ot.size)])
    day = np.minimum(day, D - 1e-9)
    is_first = np.zeros(oc.size, bool)
    is_first[:n_cust] = True
    # for events on the acquisition day keep them after the first order
    same_day = (np.floor(day) == acq_day[oc]) & ~is_first
    day = np.where(same_day & (day < acq[oc]), acq[oc] + (day - np.floor(day)) * (np.ceil(acq[oc]) - acq[oc]), day)

    # sort by customer then time
    order = np.lexsort((day, oc))
    oc, day = oc[order], day[order]
    n_orders = oc.size

    # spend: Gamma-Gamma
    nu = rng.gamma(m.q, 1.0 / m.gamma, n_cust)
    amount = rng.gamma(m.p, 1.0, n_orders) / nu[oc] * m.spend_scale
    amount = np.maximum(np.round(amount, 2), 0.01)

    # products: per-month cdf, vectorized by offsetting each month's cdf by its index
    month = np.searchsorted(month_start_day, day, side="right") - 1
    n_months = prod_cdf.shape[0]
    flat = (prod_cdf + np.arange(n_months)[:, None]).ravel()
    u = rng.random(n_orders) + month
    pick = np.searchsorted(flat, u, side="right") - month * prod_cdf.shape[1]
    product = np.clip(pick, 0, prod_cdf.shape[1] - 1)
    category_idx = prod["category_idx"][product]

    # channels
    chw = np.array([w for _, w in m.channels], float)
    chw /= chw.sum()
    pref = rng.choice(len(chw), size=n_cust, p=chw)
    other = rng.choice(len(chw), size=n_orders, p=chw)
    channel_idx = np.where(rng.random(n_orders) < m.channel_loyalty, pref[oc], other)

    orders = dict(customer=oc, day=day, amount=amount, product=product,
                  category_idx=category_idx, channel_idx=channel_idx)
    customers = dict(customer=ci, acq=acq, lam=lam, mu=mu, alive_end=alive_end,
                     r0=np.where(react, r0, np.nan), r1=r1)

    sessions: dict[str, np.ndarray] = {}
    if with_sessions:
        # purchase sessions end at the order
        pdur = rng.lognormal(np.log(m.purchase_session_seconds), 0.6, n_orders)
        # decline phase (or the last decline_days of the first lifetime) shortens visits
        in_decline = (day >= b2[oc]) & (day < alive_end[oc])
        pdur = np.where(in_decline, pdur * m.decline_visit_factor, pdur)
        pstart = day - pdur / 86400.0
        # browsing sessions: segment rate x browse_per_order, plus a fading tail after dropout
        tail_t0 = np.concatenate([alive_end, r1[react]])
        tail_c = np.concatenate([ci, ci[react]])
        b_c = np.concatenate([seg_c, tail_c])
        b_t0 = np.concatenate([seg_t0, tail_t0])
        b_t1 = np.concatenate([seg_t1, tail_t0 + m.browse_tail_days])
        b_kind = np.concatenate([seg_kind, np.full(tail_c.size, 4, np.int8)])
        b_rate = np.concatenate([seg_rate, lam[tail_c] * m.browse_tail_factor]) * m.browse_per_order
        # keep the segment kind of each event
        b_t1 = np.minimum(b_t1, D)
        ok = b_t1 > b_t0
        b_c, b_t0, b_t1, b_rate, b_kind = b_c[ok], b_t0[ok], b_t1[ok], b_rate[ok], b_kind[ok]
        w0, w1 = clock.W(b_t0), clock.W(b_t1)
        nb = rng.poisson(b_rate * (w1 - w0))
        bi = np.repeat(np.arange(nb.size), nb)
        bt = clock.W_inv(w0[bi] + rng.random(bi.size) * (w1 - w0)[bi])
        bt = np.minimum(np.floor(bt) + clock.intraday(rng, bt.size), D - 1e-9)
        bdur = rng.lognormal(np.log(m.browse_session_seconds), 0.8, bi.size)
        shrink = np.isin(b_kind[bi], (2, 4))
        bdur = np.where(shrink, bdur * m.decline_visit_factor, bdur)
        s_c = np.concatenate([oc, b_c[bi]])
        s_start = np.concatenate([pstart, bt])
        s_dur = np.concatenate([pdur, bdur])
        s_pv = 1 + rng.poisson(np.clip(s_dur / 45.0, 0.1, 200.0))
        keep = s_start >= 0
        s_c, s_start, s_dur, s_pv = s_c[keep], s_start[keep], s_dur[keep], s_pv[keep]
        so = np.lexsort((s_start, s_c))
        sessions = dict(customer=s_c[so], start=s_start[so], duration=np.round(s_dur[so]).astype(np.int32),
                        page_views=s_pv[so].astype(np.int32))
    return _Chunk(orders=orders, sessions=sessions, customers=customers)


# --------------------------------------------------------------------------- driver
def _days_to_timestamp(start: pd.Timestamp, days: np.ndarray) -> np.ndarray:
    us = np.round(days * 86_400_000_000.0).astype(np.int64)
    return np.datetime64(start.to_datetime64(), "us") + us.astype("timedelta64[us]")


def _chunks(m: TransactionModel, seed: int, n_customers: int | None, n_orders: int | None,
            with_sessions: bool) -> Iterator[tuple[_Chunk, dict]]:
    if (n_customers is None) == (n_orders is None):
        raise ValueError("give exactly one of n_customers and n_orders")
    if (n_customers is not None and n_customers < 1) or (n_orders is not None and n_orders < 1):
        raise ValueError("n_customers / n_orders must be at least 1")
    clock = _Clock(m)
    prod = _make_products(m, np.random.default_rng([seed, 2**31 - 1]))
    prod_cdf, month_start_day = _month_product_cdf(m, prod, m.tail_floor)
    made_customers = made_orders = 0
    chunk = 0
    while True:
        if n_customers is not None:
            todo = n_customers - made_customers
            if todo <= 0:
                return
            n_c = min(CHUNK_CUSTOMERS, todo)
        else:
            if made_orders >= n_orders:
                return
            n_c = CHUNK_CUSTOMERS
        ch = _simulate_chunk(m, clock, prod, prod_cdf, month_start_day, seed, chunk, n_c,
                             made_customers, with_sessions)
        if n_orders is not None and made_orders + ch.orders["customer"].size >= n_orders:
            ch = _truncate(ch, n_orders - made_orders)
        n_c_kept = int(ch.customers["customer"].size)
        ch.orders["customer"] = ch.orders["customer"] + made_customers
        ch.customers["customer"] = ch.customers["customer"] + made_customers
        if with_sessions:
            ch.sessions["customer"] = ch.sessions["customer"] + made_customers
        ch.orders["order_id"] = made_orders + np.arange(ch.orders["customer"].size, dtype=np.int64)
        made_customers += n_c_kept
        made_orders += ch.orders["customer"].size
        yield ch, prod
        chunk += 1


def _truncate(ch: _Chunk, n_keep: int) -> _Chunk:
    """Keep the first customers of the chunk whose orders add up to exactly ``n_keep``."""
    oc = ch.orders["customer"]                  # sorted by customer, then time
    last_cust = int(oc[n_keep - 1])
    o = {k: v[:n_keep] for k, v in ch.orders.items()}
    c = {k: v[:last_cust + 1] for k, v in ch.customers.items()}
    s = ch.sessions
    if s:
        last_day = o["day"][-1]
        keep = (s["customer"] < last_cust) | ((s["customer"] == last_cust) & (s["start"] <= last_day))
        s = {k: v[keep] for k, v in s.items()}
    return _Chunk(orders=o, sessions=s, customers=c)


def _chunk_frames(ch: _Chunk, prod: dict, m: TransactionModel):
    start = pd.Timestamp(m.start)
    cats = prod["categories"]
    chans = np.array([c for c, _ in m.channels])
    o = ch.orders
    orders = {
        "customer_id": (o["customer"] + 1).astype(np.int64),
        "order_id": (o["order_id"] + 1).astype(np.int64),
        "timestamp": _days_to_timestamp(start, o["day"]),
        "amount": o["amount"].astype(np.float64),
        "product_id": (o["product"] + 1).astype(np.int32),
        "category": (o["category_idx"], cats),
        "channel": (o["channel_idx"], chans),
    }
    sessions = None
    if ch.sessions:
        s = ch.sessions
        sessions = {
            "customer_id": (s["customer"] + 1).astype(np.int64),
            "start": _days_to_timestamp(start, s["start"]),
            "duration": s["duration"],
            "page_views": s["page_views"],
        }
    c = ch.customers

    def ts(days):
        finite = np.isfinite(days) & (np.abs(days) < 1e6)
        out = _days_to_timestamp(start, np.where(finite, days, 0.0))
        return np.where(finite, out, np.datetime64("NaT"))

    customers = {
        "customer_id": (c["customer"] + 1).astype(np.int64),
        "acquired": ts(c["acq"]),
        "lambda_week": c["lam"] * 7.0,
        "mu_week": c["mu"] * 7.0,
        "alive_until": ts(c["alive_end"]),
        "reactivated_at": ts(c["r0"]),
        "second_alive_until": ts(c["r1"]),
    }
    return orders, sessions, customers


def _products_frame(prod: dict, m: TransactionModel) -> pd.DataFrame:
    start = pd.Timestamp(m.start)

    def ts(days):
        return pd.to_datetime(_days_to_timestamp(start, days))

    return pd.DataFrame({
        "product_id": np.arange(1, len(prod["launch"]) + 1, dtype=np.int32),
        "category": prod["categories"][prod["category_idx"]],
        "launch": ts(prod["launch"]),
        "growth_end": ts(prod["launch"] + prod["growth"]),
        "maturity_end": ts(prod["launch"] + prod["growth"] + prod["maturity"]),
        "decline_halflife_days": prod["halflife"],
        "popularity": prod["popularity"],
    })


def _to_pandas(cols: dict) -> pd.DataFrame:
    out = {}
    for k, v in cols.items():
        if isinstance(v, tuple):
            codes, labels = v
            out[k] = pd.Categorical.from_codes(codes, categories=list(labels))
        else:
            out[k] = v
    return pd.DataFrame(out)


def _to_arrow(cols: dict):
    import pyarrow as pa

    arrays, names = [], []
    for k, v in cols.items():
        if isinstance(v, tuple):
            codes, labels = v
            arrays.append(pa.DictionaryArray.from_arrays(pa.array(codes.astype(np.int32)), pa.array(list(labels))))
        else:
            arrays.append(pa.array(v))
        names.append(k)
    return pa.Table.from_arrays(arrays, names=names)


def simulate_transactions(n_customers: int | None = None, *, n_orders: int | None = None,
                          seed: int = 0, model: TransactionModel | None = None,
                          sessions: bool = True, **overrides) -> TransactionLog:
    """Simulate a platform's transaction (and session) log in memory.

    Parameters
    ----------
    n_customers : int, optional
        Number of customers (each has at least one order). Give this or ``n_orders``.
    n_orders : int, optional
        Exact number of orders; customers are generated until it is reached.
    seed : int
        Random seed; the same seed gives the same log on every machine.
    model : TransactionModel, optional
        Population model; keyword ``overrides`` replace single fields
        (``simulate_transactions(1000, start="2022-01-01", n_products=50)``).
    sessions : bool
        Also simulate sessions (visits).

    Returns
    -------
    TransactionLog
        For tens of millions of orders use :func:`write_transactions` (streams to Parquet).

    Examples
    --------
    >>> log = simulate_transactions(200, seed=1, n_products=50)
    >>> len(log.orders), log.orders["customer_id"].nunique()
    (1263, 200)
    >>> simulate_transactions(200, seed=1, n_products=50).orders.equals(log.orders)   # same seed, same log
    True
    >>> simulate_transactions(200, seed=1, n_products=50, sessions=False).sessions.empty
    True
    """
    m = replace(model or TransactionModel(), **overrides) if overrides else (model or TransactionModel())
    os_, ss_, cs_ = [], [], []
    prod = None
    for ch, prod in _chunks(m, seed, n_customers, n_orders, sessions):
        o, s, c = _chunk_frames(ch, prod, m)
        os_.append(_to_pandas(o))
        cs_.append(_to_pandas(c))
        if s is not None:
            ss_.append(_to_pandas(s))
    orders = pd.concat(os_, ignore_index=True)
    for col in ("category", "channel"):
        orders[col] = orders[col].astype(str)
    sess = pd.concat(ss_, ignore_index=True) if ss_ else pd.DataFrame(columns=SESSION_COLUMNS)
    return TransactionLog(orders=orders, sessions=sess, products=_products_frame(prod, m),
                          customers=pd.concat(cs_, ignore_index=True), model=m, seed=seed)


def write_transactions(out_dir: str | Path, *, n_orders: int | None = None,
                       n_customers: int | None = None, seed: int = 0,
                       model: TransactionModel | None = None, sessions: bool = True,
                       overwrite: bool = False, compression: str = "zstd",
                       **overrides) -> dict[str, Path]:
    """Simulate a log and stream it to Parquet files in ``out_dir``.

    Writes ``orders.parquet``, ``sessions.parquet`` (if ``sessions``), ``products.parquet`` and
    ``customers.parquet`` (the latent truth), chunk by chunk, so memory stays flat whatever
    ``n_orders``. Refuses to overwrite existing files unless ``overwrite=True``.

    Parameters
    ----------
    out_dir : str or Path
        Folder (created if needed).
    n_orders, n_customers, seed, model, sessions, **overrides
        As in :func:`simulate_transactions`.
    overwrite : bool
        Replace existing files (otherwise FileExistsError).
    compression : str
        Parquet compression.

    Returns
    -------
    dict
        ``{"orders": path, "sessions": path, "products": path, "customers": path}``.

    Examples
    --------
    >>> import tempfile
    >>> import pandas as pd
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     paths = write_transactions(folder, n_customers=200, seed=1, n_products=50)
    ...     orders = pd.read_parquet(paths["orders"])
    >>> sorted(paths), len(orders)          # the same orders as simulate_transactions(200, seed=1, ...)
    (['customers', 'orders', 'products', 'sessions'], 1263)
    """
    import pyarrow.parquet as pq

    m = replace(model or TransactionModel(), **overrides) if overrides else (model or TransactionModel())
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"orders": out / "orders.parquet", "customers": out / "customers.parquet",
             "products": out / "products.parquet"}
    if sessions:
        paths["sessions"] = out / "sessions.parquet"
    existing = [str(p) for p in paths.values() if p.exists()]
    if existing and not overwrite:
        raise FileExistsError(f"{existing[0]} exists; pass overwrite=True to replace it")
    tmp = {k: p.with_name(p.name + ".partial") for k, p in paths.items()}
    writers: dict = {}
    prod = None
    try:
        for ch, prod in _chunks(m, seed, n_customers, n_orders, sessions):
            o, s, c = _chunk_frames(ch, prod, m)
            for key, cols in (("orders", o), ("sessions", s), ("customers", c)):
                if cols is None:
                    continue
                tab = _to_arrow(cols)
                if key not in writers:
                    writers[key] = pq.ParquetWriter(tmp[key], tab.schema, compression=compression)
                writers[key].write_table(tab, row_group_size=1_048_576)
    finally:
        for w in writers.values():
            w.close()
    _products_frame(prod, m).to_parquet(tmp["products"], index=False)
    for k in paths:
        tmp[k].replace(paths[k])
    return paths

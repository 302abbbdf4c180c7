"""The words a case file may use: KPIs, comparison designs and lifecycle stages.

The KPI vocabulary follows the retention KPI system of the source reports (R2, chapter 6) and
the strategy cases of R0 and R2. Every KPI is computed per customer and period as a numerator
and a denominator (see :mod:`crm_research.cases.panel`), so one definition serves the period
series, the two-sample tests and the difference-in-differences regression.

``kind`` decides the test (:mod:`crm_research.cases.effects`):

``rate``
    a share of countable trials (customers, sessions, impressions): two-proportion z test and
    the risk difference.
``ratio``
    a share of an amount (the high-tier members' share of sales): z test of the difference of
    two ratio estimates (delta method, customers as clusters).
``mean``
    an average of a measured quantity (spend, score, visits, minutes): Welch t or
    Mann-Whitney U by the stated rule, Hedges' g.
"""
from __future__ import annotations

import difflib
import dataclasses
import re
from dataclasses import dataclass

from ..reporting.format import format_number

UNIT_LABELS = {"share": "%", "money": "", "points": "points", "visits": "visits", "minutes": "min"}
CURRENCY_PATTERN = re.compile(r"^(?:[A-Z]{3}|[^\sA-Za-z0-9]{1,3})$")


def check_currency(value, where: str = "currency") -> str:
    """A currency label: an ISO 4217-style code (``USD``, ``CNY``, ``EUR``) or a symbol (``$``, ``¥``).

    Parameters
    ----------
    value : str or None
        The label; None or "" means "no currency unit" and returns "".
    where : str
        What gave the value, for the error message.

    Returns
    -------
    str

    Raises
    ------
    ValueError
        Anything else (the message names ``where``).

    Examples
    --------
    >>> check_currency("usd"), check_currency(None), check_currency("€")
    ('USD', '', '€')
    >>> check_currency("US dollars")
    Traceback (most recent call last):
    ...
    ValueError: currency: 'US dollars' is not a currency code (three letters such as USD, CNY, EUR) or symbol
    """
    if value is None or value == "":
        return ""
    text = str(value).strip()
    if re.fullmatch(r"[A-Za-z]{3}", text):
        text = text.upper()
    if not CURRENCY_PATTERN.match(text):
        raise ValueError(f"{where}: {value!r} is not a currency code (three letters such as USD, CNY, EUR) or symbol")
    return text


@dataclass(frozen=True)
class KPI:
    """One KPI of the vocabulary.

    Attributes
    ----------
    id : str
        Machine name used in case files (``retention_rate``).
    zh, en : str
        Names as the reports and an English paper would print them.
    kind : {"rate", "ratio", "mean"}
        Measure type; decides the test.
    unit : str
        ``share``, ``money``, ``points``, ``visits``, ``minutes``.
    numerator, denominator : str
        What is counted per customer and period.
    data : tuple of str
        Data tables the KPI needs (``orders``, ``sessions``, ``survey``, ``customers``).
    columns : tuple of str
        Columns it needs besides the ids and time stamps (``table.column``).
    direction : int
        +1 when higher is better (every KPI here); -1 would mean lower is better.
    ordinal : bool
        Values are ordered categories (a single Likert item); chooses the Mann-Whitney U test.
    group : str
        The family the KPI belongs to (``retention``, ``conversion``, ``spend`` ...).

    Examples
    --------
    >>> k = KPIS["conversion_rate"]
    >>> k.label, k.kind, k.is_share, k.difference_unit
    ('conversion rate (转化率)', 'rate', True, 'pp')
    """

    id: str
    zh: str
    en: str
    kind: str
    unit: str
    numerator: str
    denominator: str
    data: tuple[str, ...]
    columns: tuple[str, ...] = ()
    direction: int = 1
    ordinal: bool = False
    group: str = ""
    currency: str = ""

    def in_currency(self, currency: str) -> "KPI":
        """This KPI with amounts labelled in ``currency`` ("" = no unit); non-money KPIs unchanged.

        Parameters
        ----------
        currency : str
            A currency label (:func:`check_currency`).

        Returns
        -------
        KPI

        Examples
        --------
        >>> KPIS["average_order_value"].in_currency("USD").format(3.5)
        '+3.50 USD'
        >>> KPIS["retention_rate"].in_currency("USD").unit_label
        '%'
        """
        return dataclasses.replace(self, currency=currency) if self.unit == "money" else self

    @property
    def label(self) -> str:
        """English and Chinese name: ``retention rate (留存率)``."""
        return f"{self.en} ({self.zh})"

    @property
    def is_share(self) -> bool:
        """A rate or share (shown in percent, differences in percentage points)."""
        return self.kind in ("rate", "ratio")

    @property
    def scale(self) -> float:
        """Factor from the KPI's own scale to the one shown: 100 for shares (percent), else 1."""
        return 100.0 if self.is_share else 1.0

    @property
    def unit_label(self) -> str:
        """Unit of a level as shown: ``%``, the currency (amounts; "" when none is given), ``points``, ``visits``, ``min``."""
        if self.unit == "money":
            return self.currency
        return UNIT_LABELS.get(self.unit, "")

    @property
    def difference_unit(self) -> str:
        """Unit of a difference as shown: ``pp`` (percentage points) for shares, else :attr:`unit_label`."""
        return "pp" if self.is_share else self.unit_label

    def format(self, x: float, *, signed: bool = True, decimals: int = 2) -> str:
        """A difference (``signed``) or a level of this KPI as text with its unit.

        Parameters
        ----------
        x : float
            On the KPI's own scale (shares as fractions).
        signed : bool
            A difference: leading ``+`` and percentage points for shares. Otherwise a level
            (percent for shares).
        decimals : int

        Returns
        -------
        str

        Examples
        --------
        >>> KPIS["retention_rate"].format(0.0123)
        '+1.23 pp'
        >>> KPIS["retention_rate"].format(0.55, signed=False)
        '55.00%'
        >>> KPIS["average_order_value"].format(-12.345)      # no currency given: none printed
        '−12.35'
        >>> KPIS["average_order_value"].in_currency("CNY").format(-12.345)
        '−12.35 CNY'
        """
        text = format_number(x * self.scale, decimals)
        if signed and x * self.scale > 0 and text.strip("0.,") != "":
            text = "+" + text
        if self.is_share:
            return text + (" pp" if signed else "%")
        unit = self.unit_label
        return text + (f" {unit}" if unit else "")


KPIS: dict[str, KPI] = {k.id: k for k in (
    KPI("retention_rate", "留存率", "retention rate", "rate", "share",
        "customers active in the period (a session or an order)",
        "customers acquired before the period (all earlier cohorts)",
        ("sessions", "orders"), group="retention"),
    KPI("repurchase_rate", "复购率", "repurchase rate", "rate", "share",
        "customers with an earlier order who order in the period",
        "customers with an order before the period",
        ("orders",), group="retention"),
    KPI("conversion_rate", "转化率", "conversion rate", "rate", "share",
        "sessions that end in an order", "sessions",
        ("sessions",), ("sessions.session_id|sessions.converted",), group="conversion"),
    KPI("click_through_rate", "点击率", "click-through rate", "rate", "share",
        "clicks on recommendations", "recommendation impressions",
        ("sessions",), ("sessions.rec_impressions", "sessions.rec_clicks"), group="conversion"),
    KPI("average_order_value", "客单价", "average order value", "mean", "money",
        "order amount", "orders", ("orders",), ("orders.amount",), group="spend"),
    KPI("spend_per_customer", "人均消费", "spend per active customer", "mean", "money",
        "spend in the period", "active customers in the period",
        ("orders", "sessions"), ("orders.amount",), group="spend"),
    KPI("high_tier_sales_share", "高等级会员销售占比", "high-tier members' share of sales", "ratio", "share",
        "sales to high-tier members", "sales",
        ("orders",), ("orders.amount", "orders.member_tier"), group="membership"),
    KPI("satisfaction_score", "客户满意度", "satisfaction score", "mean", "points",
        "satisfaction score (mean of the satisfaction items)", "survey responses",
        ("survey",), ("survey.<items>",), group="satisfaction"),
    KPI("visit_frequency", "访问频次", "visit frequency (activity)", "mean", "visits",
        "sessions in the period", "active customers in the period",
        ("sessions",), group="activity"),
    KPI("dwell_time", "停留时长", "dwell time (activity)", "mean", "minutes",
        "minutes on the platform", "sessions",
        ("sessions",), ("sessions.duration",), group="activity"),
)}

# names users also write (English short forms and the reports' Chinese terms)
KPI_ALIASES: dict[str, str] = {
    "retention": "retention_rate", "repurchase": "repurchase_rate", "repeat_purchase_rate": "repurchase_rate",
    "conversion": "conversion_rate", "ctr": "click_through_rate", "click_through": "click_through_rate",
    "aov": "average_order_value", "order_value": "average_order_value", "average_spend": "spend_per_customer",
    "spend": "spend_per_customer", "high_tier_share": "high_tier_sales_share",
    "satisfaction": "satisfaction_score", "csat": "satisfaction_score", "activity": "visit_frequency",
    "visits": "visit_frequency", "dwell": "dwell_time", "visit_duration": "dwell_time",
    **{k.zh: k.id for k in KPIS.values()},
    "活跃度": "visit_frequency", "满意度": "satisfaction_score", "客户满意度评分": "satisfaction_score",
    "平均订单金额": "average_order_value", "高等级会员销售额占比": "high_tier_sales_share",
}

DESIGNS: dict[str, str] = {
    "before_after": "the exposed customers after the start vs before it (no control group)",
    "treated_control": "exposed vs unexposed customers after the start (groups not randomized)",
    "ab_test": "randomized arms after the start (A/B test)",
    "did": "difference-in-differences: (exposed after - before) - (control after - before)",
}
DESIGN_LABELS = {"before_after": "before/after", "treated_control": "treated vs control",
                 "ab_test": "A/B test", "did": "difference-in-differences"}
CONTROL_DESIGNS = ("treated_control", "ab_test", "did")

STAGES: dict[str, tuple[str, str]] = {
    "introduction": ("引入期", "introduction"),
    "growth": ("成长期", "growth"),
    "maturity": ("成熟期", "maturity"),
    "decline": ("衰退期", "decline"),
    "reactivation": ("再激活期", "reactivation"),
}
STAGE_ALIASES = {"acquisition": "introduction", "cultivation": "growth", "churn": "decline",
                 **{zh: k for k, (zh, _) in STAGES.items()}, "获取期": "introduction",
                 "培养期": "growth", "流失期": "decline"}

VERDICTS = ("worked", "no evidence", "harmful", "not identified")


def suggest(word: str, options) -> str | None:
    """The closest option to a misspelt ``word`` (or None).

    Parameters
    ----------
    word : str
    options : iterable of str

    Returns
    -------
    str or None

    Examples
    --------
    >>> suggest("retension_rate", KPIS), suggest("xyz", KPIS)
    ('retention_rate', None)
    """
    m = difflib.get_close_matches(str(word), list(options), n=1, cutoff=0.6)
    return m[0] if m else None


def resolve_kpi(name: str) -> str | None:
    """Canonical KPI id for a name or alias (case- and separator-insensitive); None if unknown.

    Parameters
    ----------
    name : str
        A KPI id, an English short form (``CTR``, ``aov``) or the reports' Chinese term.

    Returns
    -------
    str or None

    Examples
    --------
    >>> resolve_kpi("CTR"), resolve_kpi("Repurchase Rate"), resolve_kpi("留存率"), resolve_kpi("profit")
    ('click_through_rate', 'repurchase_rate', 'retention_rate', None)
    """
    s = str(name).strip()
    if s in KPIS:
        return s
    if s in KPI_ALIASES:
        return KPI_ALIASES[s]
    norm = s.lower().replace("-", "_").replace(" ", "_").replace("'", "")
    if norm in KPIS:
        return norm
    return KPI_ALIASES.get(norm)


def kpi_table():
    """The KPI vocabulary as a DataFrame (one row per KPI).

    Returns
    -------
    DataFrame
        ``kpi, zh, en, kind, unit, numerator, denominator, data``.

    Examples
    --------
    >>> t = kpi_table()
    >>> t.loc[t["kpi"] == "average_order_value", ["kind", "unit"]].to_numpy().tolist()
    [['mean', 'money']]
    """
    import pandas as pd

    return pd.DataFrame([{
        "kpi": k.id, "zh": k.zh, "en": k.en, "kind": k.kind, "unit": k.unit,
        "numerator": k.numerator, "denominator": k.denominator, "data": ", ".join(k.data),
    } for k in KPIS.values()])

"""Cases as data: load and validate a case YAML file.

A case is a platform or product, its lifecycle stages, the strategies applied (with start
dates, target customers and the KPIs that judge them), the comparison design, and either the
data files or a ``simulate:`` block. The format is documented in ``cases/README.md``; in
short (``*`` = required)::

    id*: r2_retention
    title*: {zh: ..., en: ...}
    subject*: {kind*: platform | product, name*: {zh, en}, category: ...}
    description: {zh, en}
    source: "R2, chapter 6"
    period: month                       # week | month | quarter (analysis period)
    lifecycle:                          # stages with dates
      - {stage*: growth, start*: 2019-07-01, end*: 2020-06-30, focus: {zh, en}}
    design: did                         # before_after | treated_control | ab_test | did
    compare_designs: [before_after]     # also run these, e.g. the naive before/after
    window: {pre: 6, post: 6}           # periods before / after each start
    alpha: 0.05
    correction: holm                    # holm | bonferroni | fdr_bh | none  (across KPIs)
    pretrend_alpha: 0.05                # level of the identification checks
    kpi_options: {high_tiers: [gold, platinum], satisfaction_items: [SAT1, SAT2, SAT3],
                  tests: {satisfaction_score: mwu}}
    strategies*:
      - id*: personalized_recommendation
        name*: {zh, en}
        stage: maturity
        start*: 2020-03-01
        end: 2020-12-31                 # optional
        arm_column: group               # customers' column that says who is exposed
        target: [rollout]               # values of arm_column exposed, or "all"
        control: [holdout]              # comparison customers (default: everybody else)
        kpis*: [click_through_rate, conversion_rate]
        design: ab_test                 # optional override; also compare_designs, window
        allocation: 0.5                 # A/B: planned share of target (sample-ratio check)
    data:                               # paths relative to the case file ...
      customers: data/customers.csv
      orders: data/orders.csv
      sessions: data/sessions.csv
      survey: data/survey.csv
      columns: {orders: {timestamp: paid_at}}
    simulate: {...}                     # ... or a simulated data set (crm_research.simulate.cases)

Every error is a :class:`~crm_research.errors.ConfigError` naming the case file and the key
path (``strategies[2].kpis[1]``) with what was expected.
"""
from __future__ import annotations

import datetime as _dt
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import pandas as pd
import yaml

from ..errors import ConfigError
from ..reporting.format import markdown_table
from . import periods as _periods
from .reader import CaseReader
from .simulation_spec import parse_simulation
from .vocabulary import CONTROL_DESIGNS, DESIGN_LABELS, KPIS, STAGE_ALIASES, STAGES, check_currency, resolve_kpi, suggest

CORRECTIONS = {"holm": "holm", "bonferroni": "bonf", "bonf": "bonf", "fdr_bh": "fdr_bh", "bh": "fdr_bh",
               "fdr_by": "fdr_by", "sidak": "sidak", "none": "none"}
DATA_TABLES = ("customers", "orders", "sessions", "survey")
CASES_ENV = "CRM_RESEARCH_CASES"

_TOP_KEYS = {"id", "title", "subject", "description", "source", "period", "lifecycle", "design",
             "compare_designs", "window", "alpha", "correction", "pretrend_alpha", "placebo",
             "kpi_options", "strategies", "data", "simulate", "notes", "currency"}
_STRATEGY_KEYS = {"id", "name", "stage", "start", "end", "arm_column", "target", "control", "kpis",
                  "design", "compare_designs", "window", "allocation", "description"}
_STAGE_KEYS = {"stage", "start", "end", "name", "focus"}
_KPI_OPTION_KEYS = {"high_tiers", "satisfaction_items", "tests"}
_SUBJECT_KEYS = {"kind", "name", "category"}


# --------------------------------------------------------------------------- data model
@dataclass(frozen=True)
class Stage:
    """A lifecycle stage with its dates (``end`` inclusive).

    Parameters
    ----------
    stage : str
        Stage id of :data:`~crm_research.cases.vocabulary.STAGES` (``growth``, ``maturity`` ...).
    start, end : datetime.date
        First and last day.
    focus : dict
        What the stage concentrates on, ``{zh, en}``.

    Examples
    --------
    >>> import datetime as dt
    >>> st = Stage("maturity", dt.date(2020, 1, 1), dt.date(2021, 12, 31))
    >>> st.zh, st.contains(dt.date(2021, 5, 1))
    ('成熟期', True)
    """

    stage: str
    start: _dt.date
    end: _dt.date
    focus: dict[str, str] = field(default_factory=dict)

    @property
    def zh(self) -> str:
        """The stage's Chinese name."""
        return STAGES[self.stage][0]

    def contains(self, day: _dt.date) -> bool:
        """Whether ``day`` falls in the stage (both ends included).

        Parameters
        ----------
        day : datetime.date

        Returns
        -------
        bool
        """
        return self.start <= day <= self.end


@dataclass(frozen=True)
class Strategy:
    """A strategy applied from ``start`` (and until ``end``, inclusive) to ``target`` customers.

    Built by :func:`load_case` from an entry of ``strategies:`` (the keys are documented in
    the module docstring).

    Parameters
    ----------
    id : str
    name : dict
        ``{zh, en}``.
    start : datetime.date
    kpis : tuple of str
        KPI ids that judge the strategy.
    design : str
        Its own comparison design.
    compare_designs : tuple of str
        Further designs run for comparison.
    stage, end, arm_column, target, control, window_pre, window_post, allocation, description, index
        As in the case file; ``index`` is the position in ``strategies:`` (for messages).

    Examples
    --------
    >>> s = load_case("r2_retention_strategies").strategies[0]
    >>> s.id, s.designs, s.targets_all
    ('personalized_recommendation', ('did', 'before_after'), False)
    """

    id: str
    name: dict[str, str]
    start: _dt.date
    kpis: tuple[str, ...]
    design: str
    compare_designs: tuple[str, ...] = ()
    stage: str | None = None
    end: _dt.date | None = None
    arm_column: str = "group"
    target: tuple[str, ...] = ("all",)
    control: tuple[str, ...] | None = None
    window_pre: int = 6
    window_post: int = 6
    allocation: float | None = None
    description: dict[str, str] = field(default_factory=dict)
    index: int = 0

    @property
    def targets_all(self) -> bool:
        """The strategy reaches every customer (no control group)."""
        return self.target == ("all",)

    @property
    def designs(self) -> tuple[str, ...]:
        """Its own design first, then the comparison designs."""
        return (self.design,) + tuple(d for d in self.compare_designs if d != self.design)

    @property
    def label(self) -> str:
        """The English name (or the id)."""
        return self.name.get("en") or self.id


@dataclass(frozen=True)
class CaseDefinition:
    """A validated case file. Build with :func:`load_case`.

    Parameters
    ----------
    path : Path
        The case file.
    id, title, subject, strategies, period, lifecycle, description, source, design, alpha, correction, pretrend_alpha, placebo
        As in the case file (see the module docstring).
    high_tiers, satisfaction_items, test_overrides
        The ``kpi_options``.
    data, columns
        Data file paths per table and column maps (cases that read files), or None.
    simulate : SimulationSpec or None
        The validated ``simulate:`` block (simulated cases).
    notes : dict
    raw : dict
        The parsed YAML.

    Examples
    --------
    >>> case = load_case("r2_retention_strategies")
    >>> case.kpis[:3], case.tables
    (('click_through_rate', 'conversion_rate', 'repurchase_rate'), ('customers', 'orders', 'sessions', 'survey'))
    >>> case.strategy("promotions_coupons").start, case.stage_of(case.strategies[0]).stage
    (datetime.date(2020, 5, 1), 'maturity')
    >>> print(case.describe().splitlines()[0])
    **Retention strategies of an e-commerce platform and their evaluation (R2 case)**
    """

    path: Path
    id: str
    title: dict[str, str]
    subject: dict[str, Any]
    strategies: tuple[Strategy, ...]
    period: str = "month"
    lifecycle: tuple[Stage, ...] = ()
    description: dict[str, str] = field(default_factory=dict)
    source: str = ""
    design: str = "did"
    alpha: float = 0.05
    correction: str = "holm"
    pretrend_alpha: float = 0.05
    placebo: bool = True
    high_tiers: tuple[str, ...] = ("gold", "platinum")
    satisfaction_items: tuple[str, ...] = ("SAT1", "SAT2", "SAT3")
    test_overrides: dict[str, str] = field(default_factory=dict)
    data: dict[str, Path] | None = None
    columns: dict[str, dict[str, str]] = field(default_factory=dict)
    simulate: Any = None  # crm_research.cases.simulation_spec.SimulationSpec
    notes: dict[str, str] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict, repr=False)
    currency: str = ""

    def kpi(self, kpi_id: str):
        """The vocabulary's KPI with amounts labelled in this case's currency ("" = no unit).

        Parameters
        ----------
        kpi_id : str
            A KPI id (:data:`~crm_research.cases.vocabulary.KPIS`).

        Returns
        -------
        KPI

        Examples
        --------
        >>> import dataclasses
        >>> case = load_case("r2_retention_strategies")    # its file says currency: CNY
        >>> case.kpi("average_order_value").unit_label
        'CNY'
        >>> dataclasses.replace(case, currency="").kpi("average_order_value").format(2.0)
        '+2.00'
        >>> dataclasses.replace(case, currency="USD").kpi("average_order_value").format(2.0)
        '+2.00 USD'
        """
        return KPIS[kpi_id].in_currency(self.currency)

    @property
    def kpis(self) -> tuple[str, ...]:
        """All KPIs used by the case, in first-use order (the case's KPI framework)."""
        out: list[str] = []
        for s in self.strategies:
            out += [k for k in s.kpis if k not in out]
        return tuple(out)

    @property
    def tables(self) -> tuple[str, ...]:
        """The data tables the case's KPIs need."""
        need = {"customers"}
        for k in self.kpis:
            need.update(KPIS[k].data)
        return tuple(t for t in DATA_TABLES if t in need)

    def strategy(self, id_: str) -> Strategy:
        """The strategy with id ``id_`` (KeyError if none).

        Parameters
        ----------
        id_ : str

        Returns
        -------
        Strategy

        Examples
        --------
        >>> load_case("r2_retention_strategies").strategy("tiered_membership").kpis
        ('repurchase_rate', 'high_tier_sales_share')
        """
        for s in self.strategies:
            if s.id == id_:
                return s
        raise KeyError(id_)

    def stage_of(self, s: Strategy) -> Stage | None:
        """The lifecycle stage strategy ``s`` belongs to (None when it names none).

        Parameters
        ----------
        s : Strategy

        Returns
        -------
        Stage or None

        Examples
        --------
        >>> case = load_case("r0_smart_appliance_product")
        >>> [case.stage_of(s).stage for s in case.strategies][:2]
        ['introduction', 'growth']
        """
        for st in self.lifecycle:
            if st.stage == s.stage:
                return st
        return None

    def name(self, lang: str = "en") -> str:
        """The title in ``lang`` (English when missing, else the id).

        Parameters
        ----------
        lang : {"en", "zh"}

        Returns
        -------
        str

        Examples
        --------
        >>> load_case("r0_yuexuan_platform").name("zh")[:3]
        '悦选网'
        """
        return self.title.get(lang) or self.title.get("en") or self.id

    def describe(self, lang: str = "en") -> str:
        """The case in Markdown: subject, description, lifecycle stages and strategies.

        Parameters
        ----------
        lang : {"en", "zh"}
            Language of names and KPIs.

        Returns
        -------
        str
            Markdown (tables written by :func:`crm_research.reporting.format.markdown_table`).

        Examples
        --------
        >>> md = load_case("r2_retention_strategies").describe()
        >>> [line for line in md.splitlines() if line.startswith("| strategy")]
        ['| strategy | stage | start | exposed | compared with | design | KPIs |']
        """
        def t(d: dict) -> str:
            return d.get(lang) or d.get("en") or next(iter(d.values()), "") if d else ""

        other = "zh" if lang == "en" else "en"
        lines = [f"**{t(self.title)}**", "",
                 f"*{self.subject['kind'].capitalize()}:* {t(self.subject['name'])}"
                 f" ({self.subject['name'].get(other, '')})"
                 + (f", {self.subject['category']}" if self.subject.get("category") else "")
                 + (f". *Source:* {self.source}" if self.source else ""), ""]
        if self.description:
            lines += [t(self.description), ""]
        if self.lifecycle:
            stages = pd.DataFrame([{"stage": f"{st.stage} ({st.zh})", "from": st.start, "to": st.end,
                                    "focus": t(st.focus)} for st in self.lifecycle])
            lines += [markdown_table(stages), ""]
        rows = []
        for s in self.strategies:
            exposed = "all customers" if s.targets_all else f"{s.arm_column} = {', '.join(s.target)}"
            ctrl = ("their own past" if s.design == "before_after" else
                    (f"{s.arm_column} = {', '.join(s.control)}" if s.control else "all other customers"))
            designs = DESIGN_LABELS[s.design] + "".join(f" (+ {DESIGN_LABELS[d]})" for d in s.compare_designs
                                                         if d != s.design)
            kp = ", ".join(KPIS[k].en if lang == "en" else KPIS[k].zh for k in s.kpis)
            rows.append({"strategy": f"{t(s.name)} ({s.name.get(other, '')})", "stage": s.stage or "",
                         "start": f"{s.start}{' to ' + str(s.end) if s.end else ''}", "exposed": exposed,
                         "compared with": ctrl, "design": designs, "KPIs": kp})
        lines += [markdown_table(pd.DataFrame(rows)), ""]
        if self.simulate is not None:
            sim = self.simulate
            lines.append(f"*Data:* simulated ({sim.customers:,} customers, {sim.start} to {sim.end}, seed "
                         f"{sim.seed}) with documented true effects; point `data:` at real files to analyse "
                         "your own platform.")
        else:
            lines.append("*Data:* " + ", ".join(f"{k} `{v.name}`" for k, v in (self.data or {}).items()))
        return "\n".join(lines)

    def __repr__(self) -> str:
        src = "simulated" if self.simulate is not None else "data files"
        return (f"CaseDefinition({self.id!r}, {self.subject.get('kind')}, {len(self.lifecycle)} stages, "
                f"{len(self.strategies)} strategies, {len(self.kpis)} KPIs, {src})")


# --------------------------------------------------------------------------- a small example
def example_case() -> dict[str, Any]:
    """A small simulated case, as the mapping a case file would hold (for examples and trials).

    A shop shows recommendations to half of its 300 customers (``group: pilot``) from July
    2020; the other half (``holdout``) is the control group. The true effect is +3 percentage
    points of click-through rate and nothing on dwell time. Judged by difference-in-differences
    and, for comparison, before/after. Evaluating it takes well under a second.

    Returns
    -------
    dict
        Pass it to :func:`load_case` or :func:`~crm_research.cases.evaluate.evaluate_case`.

    Examples
    --------
    >>> case = load_case(example_case())
    >>> case.kpis, case.strategies[0].designs, case.simulate.customers
    (('click_through_rate', 'dwell_time'), ('did', 'before_after'), 300)
    """
    return {"id": "mini", "title": "Mini", "subject": {"kind": "platform", "name": "shop"},
            "compare_designs": ["before_after"],
            "strategies": [{"id": "recs", "name": "Recommendations", "start": "2020-07-01",
                            "kpis": ["click_through_rate", "dwell_time"],
                            "target": ["pilot"], "control": ["holdout"]}],
            "simulate": {"seed": 1, "customers": 300, "start": "2020-01-01", "end": "2020-12-31",
                         "assignments": {"group": {"shares": {"pilot": 0.5, "holdout": 0.5}}},
                         "effects": {"recs": {"click_through_rate": 0.03}}}}


# --------------------------------------------------------------------------- locating cases
def cases_dir() -> Path | None:
    """The folder of bundled cases: ``$CRM_RESEARCH_CASES``, else ``cases/`` of the source checkout.

    Returns
    -------
    Path or None
        None when no folder of cases is found.

    Examples
    --------
    >>> cases_dir().name
    'cases'
    """
    env = os.environ.get(CASES_ENV)
    if env:
        return Path(env)
    here = Path(__file__).resolve()
    for parent in here.parents:
        cand = parent / "cases"
        if cand.is_dir() and any(cand.glob("*.yaml")) and parent != here.parent:
            return cand
    cand = Path.cwd() / "cases"
    return cand if cand.is_dir() else None


def bundled_cases() -> list[Path]:
    """Paths of the bundled case files, sorted by name.

    Returns
    -------
    list of Path

    Examples
    --------
    >>> [p.stem for p in bundled_cases()]
    ['r0_smart_appliance_product', 'r0_yuexuan_platform', 'r2_retention_strategies']
    """
    d = cases_dir()
    return sorted(d.glob("*.yaml")) if d else []


def resolve_case_path(case: str | os.PathLike) -> Path:
    """A case file path from a path or a bundled case id (``r2_retention_strategies``).

    Parameters
    ----------
    case : str or Path
        A path (also one written relative to the repository root or ``notebooks/``) or the
        id of a bundled case.

    Returns
    -------
    Path

    Raises
    ------
    ConfigError
        No such file or bundled case (the message lists the bundled ids).

    Examples
    --------
    >>> resolve_case_path("r2_retention_strategies").name
    'r2_retention_strategies.yaml'
    """
    p = Path(case)
    if p.exists():
        return p
    for cand in bundled_cases():
        if cand.stem == str(case) or cand.name == str(case):
            return cand
    # a relative path written for another working folder (repository root, notebooks/)
    d = cases_dir()
    if d is not None and not p.is_absolute():
        for alt in (d.parent / p, d.parent / "notebooks" / p):
            if alt.exists():
                return alt.resolve()
    known = ", ".join(c.stem for c in bundled_cases()) or "none found"
    raise ConfigError(str(case), "", "case file not found",
                      hint=f"give a path to a case YAML or a bundled case id ({known})")


# --------------------------------------------------------------------------- loading
def load_case(path: str | os.PathLike | Mapping, *, base_dir: str | os.PathLike | None = None) -> CaseDefinition:
    """Load and validate a case file.

    Parameters
    ----------
    path : str, Path or mapping
        A case YAML file, the id of a bundled case (``r2_retention_strategies``), or an
        already parsed mapping (then ``base_dir`` resolves data paths).
    base_dir : path, optional
        Folder data paths are relative to when ``path`` is a mapping.

    Returns
    -------
    CaseDefinition

    Raises
    ------
    ConfigError
        Naming the file and key: unknown keys, KPIs, designs or stages; dates out of order
        or outside the simulated period; data files that do not exist.

    Examples
    --------
    >>> case = load_case("r2_retention_strategies")
    >>> case
    CaseDefinition('r2_retention_strategies', platform, 1 stages, 4 strategies, 9 KPIs, simulated)

    A mapping works too; problems name the key path:

    >>> raw = {"id": "mini", "title": "Mini", "subject": {"kind": "platform", "name": "shop"},
    ...        "strategies": [{"id": "recs", "name": "Recommendations", "start": "2020-07-01",
    ...                        "kpis": ["ctr", "convertion"], "target": ["pilot"]}],
    ...        "simulate": {"seed": 1}}
    >>> try:
    ...     load_case(raw)
    ... except ConfigError as e:
    ...     print(e.key, "|", e.problem)
    strategies[0].kpis[1] | unknown KPI 'convertion'

    """
    if isinstance(path, Mapping):
        raw = dict(path)
        file = Path(base_dir or ".") / f"{raw.get('id', 'case')}.yaml"
    else:
        file = resolve_case_path(path)
        try:
            text = file.read_text(encoding="utf-8")
        except IsADirectoryError:
            raise ConfigError(str(file), "", "is a folder, expected a case YAML file") from None
        except UnicodeDecodeError as e:
            binary = b"\x00" in e.object[:4096]
            raise ConfigError(str(file), "", ("is a binary file, not a case YAML file" if binary else
                                              f"is not UTF-8 text (undecodable byte 0x{e.object[e.start]:02x} "
                                              f"at offset {e.start})"),
                              hint=None if binary else "save the case file as UTF-8 (e.g. iconv -f GBK -t UTF-8)") from None
        if "\x00" in text:
            raise ConfigError(str(file), "", "is a binary file (NUL bytes), not a case YAML file")
        try:
            raw = yaml.safe_load(text)
        except yaml.YAMLError as e:
            mark = getattr(e, "problem_mark", None)
            where = f"line {mark.line + 1}" if mark is not None else ""
            raise ConfigError(str(file), where, f"not valid YAML: {getattr(e, 'problem', e)}") from None
    r = CaseReader(file)
    if not isinstance(raw, Mapping):
        raise r.err("", "expected a mapping at the top level (id:, title:, strategies: ...)")
    raw = dict(raw)
    r.keys(raw, _TOP_KEYS, "")

    cid = str(r.require(raw, "id", ""))
    title = r.text(r.require(raw, "title", ""), "title")
    subject = r.mapping(r.require(raw, "subject", ""), "subject")
    r.keys(subject, _SUBJECT_KEYS, "subject")
    kind = str(r.require(subject, "kind", "subject"))
    if kind not in ("platform", "product"):
        raise r.err("subject.kind", f"{kind!r} is not a subject kind", hint="use platform or product")
    subject = {"kind": kind, "name": r.text(r.require(subject, "name", "subject"), "subject.name"),
               "category": str(subject.get("category") or "")}

    try:
        currency = check_currency(raw.get("currency"), "currency")
    except ValueError as e:
        raise r.err("currency", str(e).split(": ", 1)[1],
                    hint="write e.g. currency: USD (or leave it out: amounts are then printed without a unit)") from None
    unit = str(raw.get("period", "month"))
    if unit not in _periods.UNITS:
        raise r.err("period", f"unknown period {unit!r}", hint=f"use one of {', '.join(_periods.UNITS)}")

    # stages
    stages: list[Stage] = []
    for i, st in enumerate(raw.get("lifecycle") or []):
        key = f"lifecycle[{i}]"
        st = r.mapping(st, key)
        r.keys(st, _STAGE_KEYS, key)
        name = str(r.require(st, "stage", key)).strip()
        sid = name.lower() if name.lower() in STAGES else STAGE_ALIASES.get(name, STAGE_ALIASES.get(name.lower()))
        if sid is None:
            near = suggest(name.lower(), STAGES)
            raise r.err(f"{key}.stage", f"unknown lifecycle stage {name!r}",
                        hint=(f"did you mean {near!r}? " if near else "") + f"stages: {', '.join(STAGES)}")
        s0 = r.date(r.require(st, "start", key), f"{key}.start")
        s1 = r.date(r.require(st, "end", key), f"{key}.end")
        if s1 < s0:
            raise r.err(f"{key}.end", f"{s1} is before the stage start {s0}")
        if stages and s0 <= stages[-1].end:
            raise r.err(f"{key}.start", f"{s0} overlaps the previous stage ({stages[-1].stage} ends {stages[-1].end})",
                        hint="list stages in time order without overlap")
        if any(x.stage == sid for x in stages):
            raise r.err(f"{key}.stage", f"stage {sid!r} is listed twice")
        stages.append(Stage(sid, s0, s1, r.text(st["focus"], f"{key}.focus") if st.get("focus") else {}))

    design = r.design(raw.get("design", "did"), "design")
    compare = tuple(r.design(d, f"compare_designs[{j}]")
                    for j, d in enumerate(r.str_list(raw["compare_designs"], "compare_designs")
                                          if raw.get("compare_designs") else []))
    window = r.window(raw.get("window"), "window", (6, 6))
    alpha = r.number(raw.get("alpha", 0.05), "alpha", lo=1e-6, hi=0.5)
    pre_alpha = r.number(raw.get("pretrend_alpha", 0.05), "pretrend_alpha", lo=1e-6, hi=0.5)
    corr = str(raw.get("correction", "holm")).lower()
    if corr not in CORRECTIONS:
        raise r.err("correction", f"unknown correction {corr!r}",
                    hint="use holm, bonferroni, fdr_bh (Benjamini-Hochberg) or none")
    placebo = raw.get("placebo", True)
    if not isinstance(placebo, bool):
        raise r.err("placebo", f"expected true or false, got {placebo!r}")

    # KPI options
    opts = r.mapping(raw.get("kpi_options") or {}, "kpi_options")
    r.keys(opts, _KPI_OPTION_KEYS, "kpi_options")
    high_tiers = tuple(r.str_list(opts["high_tiers"], "kpi_options.high_tiers")) if "high_tiers" in opts \
        else ("gold", "platinum")
    sat_items = tuple(r.str_list(opts["satisfaction_items"], "kpi_options.satisfaction_items")) \
        if "satisfaction_items" in opts else ("SAT1", "SAT2", "SAT3")
    tests: dict[str, str] = {}
    for k, v in r.mapping(opts.get("tests") or {}, "kpi_options.tests").items():
        kid = resolve_kpi(k)
        if kid is None:
            raise r.unknown_kpi(f"kpi_options.tests.{k}", k)
        if str(v) not in ("welch", "mwu", "auto"):
            raise r.err(f"kpi_options.tests.{k}", f"unknown test {v!r}", hint="use welch, mwu or auto")
        if KPIS[kid].kind != "mean":
            raise r.err(f"kpi_options.tests.{k}", f"{kid} is a {KPIS[kid].kind}; its test is fixed (z test)",
                        hint="test overrides apply to score/spend/activity KPIs")
        tests[kid] = str(v)

    # strategies
    raw_strats = r.require(raw, "strategies", "")
    if not isinstance(raw_strats, list) or not raw_strats:
        raise r.err("strategies", "expected a non-empty list of strategies")
    strategies: list[Strategy] = []
    for i, s in enumerate(raw_strats):
        strategies.append(_strategy(r, s, i, stages, design, compare, window, [x.id for x in strategies]))

    # data or simulate
    has_data, has_sim = raw.get("data") is not None, raw.get("simulate") is not None
    if has_data == has_sim:
        raise r.err("data" if has_data else "", "give exactly one of data: (files) or simulate: (synthetic data)"
                    if has_data else "missing data: (files) or simulate: (synthetic data)",
                    hint="point data: at your orders/sessions/survey files, or keep a simulate: block")
    base = file.parent if base_dir is None else Path(base_dir)
    data_paths: dict[str, Path] | None = None
    columns: dict[str, dict[str, str]] = {}
    sim = None
    need = {"customers"} | {t for k in {k for s in strategies for k in s.kpis} for t in KPIS[k].data}
    if has_data:
        d = r.mapping(raw["data"], "data")
        r.keys(d, set(DATA_TABLES) | {"columns"}, "data")
        data_paths = {}
        for t in [k for k in d if k in DATA_TABLES]:  # in the file's order: the first problem first
            if d.get(t) is None:
                continue
            p = Path(str(d[t]))
            p = p if p.is_absolute() else (base / p)
            if not p.exists():
                raise r.err(f"data.{t}", f"file not found: {p}",
                            hint="paths are relative to the case file's folder")
            data_paths[t] = p
        for t in sorted(need):
            if t not in data_paths and t != "customers":
                users = [k for k in dict.fromkeys(k for s in strategies for k in s.kpis) if t in KPIS[k].data]
                if t == "orders" and users == ["retention_rate"] and "sessions" in data_paths:
                    continue
                if t == "sessions" and set(users) <= {"retention_rate", "spend_per_customer"} and "orders" in data_paths:
                    continue
                raise r.err(f"data.{t}", f"missing: the KPIs {', '.join(users)} need the {t} table",
                            hint=f"add data.{t}: path/to/{t}.csv")
        cols = r.mapping(d.get("columns") or {}, "data.columns")
        for t, m in cols.items():
            if t not in DATA_TABLES:
                raise r.err(f"data.columns.{t}", "unknown table", hint=f"tables: {', '.join(DATA_TABLES)}")
            columns[t] = {str(k): str(v) for k, v in r.mapping(m, f"data.columns.{t}").items()}
    else:
        sim = parse_simulation(raw["simulate"], file=file, key="simulate", strategies=strategies,
                               unit=unit, satisfaction_items=sat_items, high_tiers=high_tiers)
        lo, hi = sim.start, sim.end
        for s in strategies:
            check_start_in_range(file, s, lo, hi, unit, what="the simulated period")
        for i, st in enumerate(stages):
            if st.end < lo or st.start > hi:
                raise r.err(f"lifecycle[{i}]", f"stage {st.stage} ({st.start} to {st.end}) lies outside the "
                            f"simulated period {lo} to {hi}")

    notes = r.text(raw["notes"], "notes") if raw.get("notes") else {}
    return CaseDefinition(
        path=file, id=cid, title=title, subject=subject, strategies=tuple(strategies), period=unit,
        lifecycle=tuple(stages), description=r.text(raw["description"], "description") if raw.get("description") else {},
        source=str(raw.get("source") or ""), design=design, alpha=alpha, correction=corr,
        pretrend_alpha=pre_alpha, placebo=placebo, high_tiers=high_tiers, satisfaction_items=sat_items,
        test_overrides=tests, data=data_paths, columns=columns, simulate=sim, notes=notes, raw=raw,
        currency=currency)


def _strategy(r: CaseReader, s: Any, i: int, stages: list[Stage], design: str, compare: tuple[str, ...],
              window: tuple[int, int], seen: list[str]) -> Strategy:
    key = f"strategies[{i}]"
    s = r.mapping(s, key)
    r.keys(s, _STRATEGY_KEYS, key)
    sid = str(r.require(s, "id", key))
    if sid in seen:
        raise r.err(f"{key}.id", f"strategy id {sid!r} is used twice")
    name = r.text(r.require(s, "name", key), f"{key}.name")
    start = r.date(r.require(s, "start", key), f"{key}.start")
    end = r.date(s["end"], f"{key}.end") if s.get("end") is not None else None
    if end is not None and end < start:
        raise r.err(f"{key}.end", f"{end} is before the start {start}")
    stage = None
    if s.get("stage") is not None:
        name_ = str(s["stage"]).strip()
        stage = name_.lower() if name_.lower() in STAGES else STAGE_ALIASES.get(name_)
        st = next((x for x in stages if x.stage == stage), None)
        if st is None:
            listed = ", ".join(x.stage for x in stages) or "none (add lifecycle:)"
            raise r.err(f"{key}.stage", f"stage {name_!r} is not in this case's lifecycle", hint=f"stages: {listed}")
        if not st.contains(start):
            raise r.err(f"{key}.start", f"{start} is outside its stage {stage} ({st.start} to {st.end})",
                        hint="move the start date or the stage's dates")
    kpis: list[str] = []
    for j, k in enumerate(r.str_list(r.require(s, "kpis", key), f"{key}.kpis")):
        kid = resolve_kpi(k)
        if kid is None:
            raise r.unknown_kpi(f"{key}.kpis[{j}]", k)
        if kid in kpis:
            raise r.err(f"{key}.kpis[{j}]", f"KPI {kid!r} is listed twice")
        kpis.append(kid)
    d = r.design(s["design"], f"{key}.design") if s.get("design") is not None else design
    if s.get("compare_designs") is not None:
        comp = tuple(r.design(x, f"{key}.compare_designs[{j}]")
                     for j, x in enumerate(r.str_list(s["compare_designs"], f"{key}.compare_designs")))
    else:
        comp = compare
    pre, post = r.window(s.get("window"), f"{key}.window", window)
    arm = str(s.get("arm_column") or "group")
    target = tuple(r.str_list(s.get("target", "all"), f"{key}.target"))
    if "all" in target and len(target) > 1:
        raise r.err(f"{key}.target", "'all' cannot be combined with group names")
    control = tuple(r.str_list(s["control"], f"{key}.control")) if s.get("control") is not None else None
    if control is not None:
        both = set(control) & set(target)
        if both or "all" in control:
            raise r.err(f"{key}.control", f"{sorted(both) or ['all']} cannot be both target and control")
    for dd, k2 in [(d, f"{key}.design")] + [(c, f"{key}.compare_designs") for c in comp]:
        if dd in CONTROL_DESIGNS and target == ("all",):
            raise r.err(k2, f"design {dd} needs a control group, but target is 'all'",
                        hint="name the exposed groups in target: (values of arm_column) and the comparison "
                             "groups in control:, or use design: before_after")
    alloc = None
    if s.get("allocation") is not None:
        alloc = r.number(s["allocation"], f"{key}.allocation", lo=0.001, hi=0.999)
    return Strategy(id=sid, name=name, start=start, kpis=tuple(kpis), design=d, compare_designs=comp,
                    stage=stage, end=end, arm_column=arm, target=target, control=control,
                    window_pre=pre, window_post=post, allocation=alloc,
                    description=r.text(s["description"], f"{key}.description") if s.get("description") else {},
                    index=i)


def check_start_in_range(file: Path | str, s: Strategy, lo: _dt.date, hi: _dt.date, unit: str,
                         what: str = "the data") -> None:
    """ConfigError unless ``s.start`` leaves at least one full period before it and one after it.

    Parameters
    ----------
    file : Path or str
        The case file (for the message).
    s : Strategy
    lo, hi : datetime.date
        First and last day of the data.
    unit : {"week", "month", "quarter"}
    what : str
        How the message names the data (``the data``, ``the simulated period``).

    Returns
    -------
    None

    Raises
    ------
    ConfigError
        Naming ``strategies[i].start``.

    Examples
    --------
    >>> import datetime as dt
    >>> s = load_case("r2_retention_strategies").strategies[0]
    >>> check_start_in_range("case.yaml", s, dt.date(2019, 1, 1), dt.date(2021, 12, 31), "month")
    >>> try:
    ...     check_start_in_range("case.yaml", s, dt.date(2020, 1, 1), dt.date(2021, 12, 31), "month")
    ... except ConfigError as e:
    ...     print(e.key)
    strategies[0].start
    """
    first, last = _periods.code(lo, unit), _periods.code(hi, unit)
    c0 = _periods.first_full_period(s.start, unit)
    key = f"strategies[{s.index}].start"
    if s.start < lo or s.start > hi:
        raise ConfigError(str(file), key, f"{s.start} is outside {what}'s date range {lo} to {hi}",
                          hint="a strategy needs data before and after its start date")
    # periods fully before the start: codes < code(start) (a mid-period start leaves its period out)
    if _periods.code(s.start, unit) - 1 < first + (0 if _periods.start(first, unit).date() >= lo else 1):
        raise ConfigError(str(file), key, f"{s.start} leaves no full {unit} of {what} before the start "
                          f"({what} begins {lo})", hint="move the start later or add earlier data")
    if c0 > last or (c0 == last and _periods.end(last, unit).date() - _dt.timedelta(days=1) > hi):
        raise ConfigError(str(file), key, f"{s.start} leaves no full {unit} of {what} after the start "
                          f"({what} ends {hi})", hint="move the start earlier or add later data")

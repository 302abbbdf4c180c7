"""All KPIs at once: :func:`kpi_suite` computes every table for one as-of date."""
from __future__ import annotations

import datetime as dt
import html
import importlib
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ..errors import ConfigError, out_of_memory
from ..reporting.format import format_percent
from .churn import ChurnRules, p_alive_note
from .engine import KPIEngine, check_period
from .lifecycle import LifecycleRules
from .order_arrays import part_plan, release_free_memory
from .product_lifecycle import ProductLifecycleRules

#: from this many customers on, kpi_suite(per_customer="auto") keeps per-customer tables in the engine
PER_CUSTOMER_IN_ENGINE = 2_000_000
PREFETCH_MAX_ORDERS = 20_000_000   # start independent queries early up to this many orders

# name -> one-line description (also the CSV file names)
TABLES = {
    "retention": "cohort retention, long: cohort x periods since acquisition (counts, rates, revenue)",
    "retention_matrix": "cohort retention rates, wide: cohorts x periods",
    "retention_n": "N-period retention pooled over cohorts (classic and rolling)",
    "repurchase": "repurchase within 30/90/180 days of the first order (censoring-aware)",
    "repurchase_by_cohort": "repurchase windows per acquisition cohort",
    "repeat_customers": "new vs returning customers and repeat orders per period",
    "activity": "visit frequency, dwell time, DAU/MAU stickiness per period",
    "churn_risk": "ranked at-risk customers with reasons",
    "rfm": "RFM measures, scores and segment per customer",
    "rfm_segments": "customers and revenue per RFM segment",
    "lifecycle": "lifecycle stage per customer at as_of",
    "stage_shares": "lifecycle stage shares over time",
    "stage_transitions": "lifecycle stage transitions between two dates",
    "product_sales": "sales per product and period",
    "product_lifecycle": "lifecycle stage per product",
    "product_stage_kpis": "KPIs by product lifecycle stage",
    "satisfaction": "survey scores joined to purchase behaviour",
    "loyalty_correlations": "attitudinal vs behavioural loyalty correlations",
}


@dataclass
class KPISuite:
    """Every KPI table for one as-of date (attributes named as in :data:`TABLES`).

    Tables that need missing inputs (sessions, product ids, a survey) are None and listed in
    ``skipped`` with the reason.

    Parameters
    ----------
    as_of : datetime.date
        The as-of date.
    period : str
        Cohort / reporting period.
    tables : dict
        Name -> DataFrame (or ibis Table kept in the engine).
    skipped : dict
        Name -> why the table could not be computed.
    timings, cpu_seconds : dict
        Name -> wall / CPU seconds.
    approximate : dict
        Name -> {KPI: why} for tables with a KPI the engine could only approximate (medians
        on Trino/BigQuery; see :attr:`KPIEngine.approximations`); also in the table's ``attrs``.
    transition_dates : tuple, optional
        Dates of the stage transition matrix.
    engine : KPIEngine, optional
        The engine holding the tables kept there.

    Examples
    --------
    >>> from crm_research.kpi.examples import example_engine
    >>> import datetime as dt
    >>> from crm_research.kpi.repurchase import repurchase_rates, repeat_customer_share
    >>> eng = example_engine()
    >>> suite = KPISuite(dt.date(2024, 6, 28), "month", engine=eng,
    ...     tables={"repurchase": repurchase_rates(eng), "repeat_customers": repeat_customer_share(eng)})
    >>> suite.repurchase[['window_days', 'repurchasers']]
       window_days  repurchasers
    0           30             3
    1           90             4
    2          180             0
    >>> suite.activity is None
    True
    """

    as_of: dt.date
    period: str
    tables: dict = field(default_factory=dict)
    skipped: dict = field(default_factory=dict)
    timings: dict = field(default_factory=dict)
    cpu_seconds: dict = field(default_factory=dict)
    approximate: dict = field(default_factory=dict)
    transition_dates: tuple | None = None
    engine: object = field(default=None, repr=False)

    def frame(self, name: str) -> pd.DataFrame:
        """A table as a DataFrame (per-customer tables kept in the engine are fetched now).

        Parameters
        ----------
        name : str
            Table name (:data:`TABLES`).

        Returns
        -------
        DataFrame

        Examples
        --------
        >>> from crm_research.kpi.examples import example_engine
        >>> import datetime as dt
        >>> from crm_research.kpi.repurchase import repurchase_rates, repeat_customer_share
        >>> eng = example_engine()
        >>> suite = KPISuite(dt.date(2024, 6, 28), "month", engine=eng,
        ...     tables={"repurchase": repurchase_rates(eng), "repeat_customers": repeat_customer_share(eng)})
        >>> suite.frame('repurchase')['repurchase_rate'].round(3).tolist()
        [0.429, 0.8, nan]
        """
        t = self.tables[name]
        if isinstance(t, pd.DataFrame):
            return t
        key = "rank" if "rank" in t.columns else "customer_id"
        return self.engine.execute(t.order_by(key))

    def n_rows(self, name: str) -> int:
        """Number of rows of a table (counted in the engine for tables kept there).

        Parameters
        ----------
        name : str
            Table name (:data:`TABLES`).

        Returns
        -------
        int

        Examples
        --------
        >>> from crm_research.kpi.examples import example_engine
        >>> import datetime as dt
        >>> from crm_research.kpi.repurchase import repurchase_rates, repeat_customer_share
        >>> eng = example_engine()
        >>> suite = KPISuite(dt.date(2024, 6, 28), "month", engine=eng,
        ...     tables={"repurchase": repurchase_rates(eng), "repeat_customers": repeat_customer_share(eng)})
        >>> suite.n_rows('repeat_customers')
        6
        """
        t = self.tables[name]
        return len(t) if isinstance(t, pd.DataFrame) else int(self.engine.execute(t.count()))

    @property
    def in_engine(self) -> list[str]:
        """Names of the tables kept in the engine (ibis Tables), not in pandas.

        Returns
        -------
        list of str

        Examples
        --------
        >>> from crm_research.kpi.examples import example_engine
        >>> import datetime as dt
        >>> from crm_research.kpi.repurchase import repurchase_rates, repeat_customer_share
        >>> eng = example_engine()
        >>> suite = KPISuite(dt.date(2024, 6, 28), "month", engine=eng,
        ...     tables={"repurchase": repurchase_rates(eng), "repeat_customers": repeat_customer_share(eng)})
        >>> suite.in_engine
        []
        """
        return [k for k, v in self.tables.items() if not isinstance(v, pd.DataFrame)]

    def __getattr__(self, name):
        tables = self.__dict__.get("tables", {})
        if name in tables:
            return tables[name]
        if name in TABLES:
            return None
        raise AttributeError(name)

    def summary(self) -> str:
        """A plain-text overview: rows and time per table, skipped tables and headline rates.

        Returns
        -------
        str

        Examples
        --------
        >>> from crm_research.kpi.examples import example_engine
        >>> import datetime as dt
        >>> from crm_research.kpi.repurchase import repurchase_rates, repeat_customer_share
        >>> eng = example_engine()
        >>> suite = KPISuite(dt.date(2024, 6, 28), "month", engine=eng,
        ...     tables={"repurchase": repurchase_rates(eng), "repeat_customers": repeat_customer_share(eng)})
        >>> print(suite.summary())
        KPI suite as of 2024-06-28 (period: month)
          repurchase                      3 rows    0.00 s wall   0.00 s cpu
          repeat_customers                6 rows    0.00 s wall   0.00 s cpu
          repurchase rate: 30 d 42.9%, 90 d 80.0%
        """
        lines = [f"KPI suite as of {self.as_of} (period: {self.period})"]
        for name in self.tables:
            where = "" if name not in self.in_engine else "  (kept in the engine)"
            lines.append(f"  {name:<22} {self.n_rows(name):>10,} rows  {self.timings.get(name, 0):6.2f} s wall "
                         f"{self.cpu_seconds.get(name, 0):6.2f} s cpu{where}")
        for name, why in self.skipped.items():
            lines.append(f"  {name:<22} skipped: {why}")
        for name, notes in self.approximate.items():
            for what, why in notes.items():
                lines.append(f"  {name:<22} approximate: {what}: {why}")
        sales = self.tables.get("product_sales")
        loose = 0 if not isinstance(sales, pd.DataFrame) else int(sales.attrs.get("lines_without_product", 0))
        if loose:
            lines.append(f"  {'product_sales':<22} {loose:,} order lines without a product_id: "
                         "not in the product KPIs")
        rep = self.tables.get("repurchase")
        if rep is not None and len(rep):
            lines.append("  repurchase rate: " + ", ".join(
                f"{int(r.window_days)} d {format_percent(r.repurchase_rate)}" for r in rep.itertuples()
                if pd.notna(r.repurchase_rate)))
        rn = self.tables.get("retention_n")
        if rn is not None and len(rn):
            lines.append(f"  retention ({self.period}s): " + ", ".join(
                f"{int(r.n)}: {format_percent(r.retention_rate)}" for r in rn.itertuples() if pd.notna(r.retention_rate)))
        sh = self.tables.get("stage_shares")
        if sh is not None and len(sh):
            last = sh[sh["date"] == sh["date"].max()]
            lines.append(f"  lifecycle on {sh['date'].max():%Y-%m-%d}: " + ", ".join(
                f"{k} {format_percent(v)}" for k, v in zip(last["stage"], last["share"])))
        cr = self.tables.get("churn_risk")
        if cr is not None:
            lines.append(f"  churn list: {p_alive_note(cr)}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"KPISuite(as_of={self.as_of}, period={self.period!r}, tables={list(self.tables)})"

    def _repr_html_(self) -> str:
        return "<pre>" + html.escape(self.summary()) + "</pre>"

    def figures(self) -> dict:
        """Figures of the suite: name -> matplotlib Figure.

        Returns
        -------
        dict

        Examples
        --------
        >>> from crm_research.kpi.examples import example_engine
        >>> import datetime as dt
        >>> from crm_research.kpi.repurchase import repurchase_rates, repeat_customer_share
        >>> eng = example_engine()
        >>> suite = KPISuite(dt.date(2024, 6, 28), "month", engine=eng,
        ...     tables={"repurchase": repurchase_rates(eng), "repeat_customers": repeat_customer_share(eng)})
        >>> suite.figures()
        {'repeat_customers': <Figure size 800x400 with 2 Axes>}
        """
        from . import figures as F

        out = {}
        if self.tables.get("retention") is not None and len(self.tables["retention"]):
            out["cohort_heatmap"] = F.cohort_heatmap(self.tables["retention"]).figure
        if self.tables.get("stage_shares") is not None:
            out["lifecycle_stage_shares"] = F.stage_shares_plot(self.tables["stage_shares"]).figure
        if self.tables.get("rfm_segments") is not None:
            out["rfm_segments"] = F.rfm_segments_plot(self.tables["rfm_segments"]).figure
        if self.tables.get("repeat_customers") is not None and len(self.tables["repeat_customers"]):
            out["repeat_customers"] = F.repurchase_plot(self.tables["repeat_customers"]).figure
        if self.tables.get("activity") is not None and len(self.tables["activity"]):
            out["activity"] = F.activity_plot(self.tables["activity"]).figure
        if self.tables.get("product_lifecycle") is not None and len(self.tables["product_lifecycle"]):
            out["product_lifecycle"] = F.product_lifecycle_plot(self.tables["product_sales"],
                                                                self.tables["product_lifecycle"]).figure
        return out

    def write(self, out_dir: str | Path, *, force: bool = False, figures: bool = True) -> dict[str, Path]:
        """Write every table as CSV (and figures as PNG) into ``out_dir``.

        Refuses to write into a folder that already holds files unless ``force=True``.
        Returns name -> path.

        Parameters
        ----------
        out_dir : path
            Output folder (created if missing).
        force : bool
            Write into a folder that already holds files.
        figures : bool
            Also write the figures as PNG.

        Returns
        -------
        dict
            Name -> path of each file written.

        Raises
        ------
        ConfigError
            ``out_dir`` is a file, or a non-empty folder without ``force``.

        Examples
        --------
        >>> from crm_research.kpi.examples import example_engine
        >>> import tempfile
        >>> import datetime as dt
        >>> from crm_research.kpi.repurchase import repurchase_rates, repeat_customer_share
        >>> eng = example_engine()
        >>> suite = KPISuite(dt.date(2024, 6, 28), "month", engine=eng,
        ...     tables={"repurchase": repurchase_rates(eng), "repeat_customers": repeat_customer_share(eng)})
        >>> paths = suite.write(tempfile.mkdtemp(), figures=False)
        >>> sorted(p.name for p in paths.values())
        ['repeat_customers.csv', 'repurchase.csv', 'summary.txt']
        """
        out = Path(out_dir)
        if out.exists() and not out.is_dir():
            raise ConfigError(str(out), "", "exists and is not a folder", hint="choose another output folder")
        if out.exists() and any(out.iterdir()) and not force:
            raise ConfigError(str(out), "", "output folder is not empty; refusing to overwrite",
                              hint="choose a new folder or pass --force / force=True")
        out.mkdir(parents=True, exist_ok=True)
        paths = {}
        for name, df in self.tables.items():
            p = out / f"{name}.csv"
            if isinstance(df, pd.DataFrame):
                df.to_csv(p, index=not isinstance(df.index, pd.RangeIndex), encoding="utf-8")
            else:
                _write_csv_in_engine(self.engine, df, p)
            paths[name] = p
        if figures:
            import matplotlib

            matplotlib.use("Agg", force=False)
            import matplotlib.pyplot as plt

            for name, fig in self.figures().items():
                p = out / f"{name}.png"
                fig.savefig(p, dpi=130, bbox_inches="tight")
                plt.close(fig)
                paths[name + "_png"] = p
        p = out / "summary.txt"
        p.write_text(self.summary() + "\n", encoding="utf-8")
        paths["summary"] = p
        return paths


def kpi_suite(engine: KPIEngine, as_of=None, *, period: str = "month",
              repurchase_windows=(30, 90, 180), retention_periods=(1, 2, 3, 6, 12),
              churn_rules: ChurnRules = ChurnRules(), lifecycle_rules: LifecycleRules = LifecycleRules(),
              product_rules: ProductLifecycleRules = ProductLifecycleRules(),
              stage_dates=None, transition_from=None, clv_model="mbgnbd", clv_freq: str | None = None,
              survey: pd.DataFrame | None = None, survey_options: dict | None = None,
              churn_top: int | None = None, per_customer: str = "auto") -> KPISuite:
    """Compute every KPI for one as-of date.

    Parameters
    ----------
    engine : KPIEngine
    as_of : date-like, optional
        Default: the date of the last order.
    period : {"month", "week"}
        Cohort / reporting period.
    stage_dates : sequence of dates, optional
        Dates for the lifecycle stage shares (default: the last 12 period ends).
    transition_from : date-like, optional
        Start date of the stage transition matrix (default: one year before ``as_of``, or the
        first order date if later); it ends at ``as_of``.
    clv_model : {"mbgnbd", "pareto_nbd"}, fitted purchase model or None
        Source of the churn list's P(alive) (default: MBG/NBD fitted to the data; see
        :mod:`crm_research.kpi.churn`); None leaves P(alive) out.
    survey : DataFrame, optional
        Survey scores; ``survey_options`` are passed to
        :func:`~crm_research.kpi.satisfaction.link_survey` (``respondent``, ``customer`` or
        ``link``, ``scores``).
    churn_top : int, optional
        Keep the top of the at-risk list only.
    per_customer : {"auto", "pandas", "engine"}
        Where the per-customer tables (``rfm``, ``lifecycle``, ``churn_risk``) live: as pandas
        DataFrames, or as tables kept in the engine (ibis Tables; :meth:`KPISuite.frame`
        fetches one, :meth:`KPISuite.write` streams them to CSV from the engine, so memory
        stays flat). ``"auto"``: in the engine from :data:`PER_CUSTOMER_IN_ENGINE` customers on.

    Returns
    -------
    KPISuite

    Examples
    --------
    >>> from crm_research.kpi.examples import example_engine
    >>> suite = kpi_suite(example_engine(), stage_dates=['2024-06-28'])
    >>> sorted(suite.tables)[:4]
    ['activity', 'churn_risk', 'lifecycle', 'product_lifecycle']
    >>> suite.skipped
    {'satisfaction': 'no survey given'}
    """
    from . import activity as act
    from . import churn, lifecycle, product_arrays, product_lifecycle as plc, repurchase, retention, rfm, visitors

    check_period(period)
    a = engine.as_of(as_of)
    if isinstance(clv_model, str):
        # the churn list fits a purchase model later: import the optimizer (~0.3 s) on the side
        # while the engine computes the KPIs before it (its queries release the GIL)
        threading.Thread(target=importlib.import_module, args=("scipy.optimize",), daemon=True).start()
    suite = KPISuite(as_of=a, period=period, engine=engine)
    T = suite.tables
    report = engine.reports.get("orders")
    prefetching = getattr(engine.backend, "name", "") == "duckdb" and report is not None \
        and report.rows_kept <= PREFETCH_MAX_ORDERS
    if prefetching:
        # the session passes and the product sales run on a second connection while the order
        # KPIs below compile, fit and convert (time the cores would otherwise idle); the KPIs
        # collect them. Not for logs beyond memory: two big aggregations at once would spill
        if engine.has_sessions:
            # visitors by sorting keys (a query and a numpy sort, in the background too) where it applies
            by_sorting = visitors.counted_by_sorting(engine)
            engine.prefetch(act.activity_queries(engine, period, a, visitors=not by_sorting))
            if by_sorting:
                act.start_visitor_counts(engine, period, a)
        if engine.has_products:
            engine.prefetch(plc.product_queries(engine, period, a))
            product_arrays.start_product_pass(engine, period, a)     # the numpy stream, where it applies

    in_parts = part_plan(engine) is not None

    def timed(name, fn):
        t0, c0 = time.perf_counter(), time.process_time()
        with engine.collecting_approximations() as new:
            try:
                T[name] = fn()
            except Exception as e:       # the engine out of memory: say so, and what to change
                oom = out_of_memory(e, f"KPI table {name!r}")
                if oom is None:
                    raise
                raise oom from None
        if in_parts:          # a log beyond memory: the table's freed temporaries back to the system
            release_free_memory()
        suite.timings[name] = time.perf_counter() - t0
        suite.cpu_seconds[name] = time.process_time() - c0
        if new:      # the engine could only approximate part of this table: say so
            suite.approximate[name] = new
            if isinstance(T[name], pd.DataFrame):
                T[name].attrs["approximate"] = new

    timed("retention", lambda: retention.cohort_retention(engine, period, a))
    timed("retention_matrix", lambda: retention.retention_matrix(T["retention"]).reset_index())
    timed("retention_n", lambda: retention.n_period_retention(engine, retention_periods, period, a,
                                                              retention=T["retention"]))
    timed("repurchase", lambda: repurchase.repurchase_rates(engine, repurchase_windows, a))
    timed("repurchase_by_cohort", lambda: repurchase.repurchase_rates(engine, repurchase_windows, a,
                                                                      by_cohort=True, period=period))
    timed("repeat_customers", lambda: repurchase.repeat_customer_share(engine, period, a))
    if engine.has_sessions:
        timed("activity", lambda: act.activity_summary(engine, period, a))
    else:
        suite.skipped["activity"] = "no session log"
    if per_customer not in ("auto", "pandas", "engine"):
        raise ConfigError("<argument>", "per_customer", f"{per_customer!r} is not a choice",
                          hint="use 'auto', 'pandas' or 'engine'")
    if prefetching:   # the stage-history arrays in the background, while the churn list's queries run
        lifecycle.prefetch_stage_history(engine, stage_dates, lifecycle_rules, period=period, as_of=a)
    keep = per_customer == "engine" or (
        per_customer == "auto" and engine.execute(lifecycle.customer_table(engine).count()) >= PER_CUSTOMER_IN_ENGINE)
    if keep:
        # per-customer outputs are written once and streamed to CSV once: not compressed
        timed("churn_risk", lambda: engine.materialize(
            churn.churn_risk_table(engine, a, churn_rules, model=clv_model, freq=clv_freq, top=churn_top,
                                   stored_steps=True),
            "_kpi_churn_risk", compress=False))
        timed("rfm", lambda: engine.materialize(rfm.rfm_table(engine, a), "_kpi_rfm", compress=False))
        timed("lifecycle", lambda: engine.materialize(lifecycle.lifecycle_table(engine, a, lifecycle_rules),
                                                      "_kpi_lifecycle", compress=False))
    else:
        timed("churn_risk", lambda: churn.churn_risk(engine, a, churn_rules, model=clv_model, freq=clv_freq,
                                                     top=churn_top))
        timed("rfm", lambda: rfm.rfm_scores(engine, a))
        timed("lifecycle", lambda: lifecycle.lifecycle_stages(engine, a, lifecycle_rules))
    timed("rfm_segments", lambda: rfm.rfm_segment_summary(T["rfm"]))
    d0 = engine.as_of(transition_from) if transition_from is not None else max(
        a - dt.timedelta(days=365), engine.min_date())
    if d0 < a:     # on a log read in parts, the stage shares' pass keeps the stages at both dates
        lifecycle.plan_transitions(engine, d0, a, lifecycle_rules)
    timed("stage_shares", lambda: lifecycle.stage_shares(engine, stage_dates, lifecycle_rules, period=period, as_of=a))
    if d0 < a:
        timed("stage_transitions", lambda: lifecycle.stage_transitions(engine, d0, a, lifecycle_rules))
        suite.transition_dates = (d0, a)
    else:
        suite.skipped["stage_transitions"] = "as_of is the first order date"
    if engine.has_products:
        timed("product_sales", lambda: plc.product_sales(engine, period, a))
        timed("product_lifecycle", lambda: plc.product_lifecycle_stages(engine, a, period, product_rules,
                                                                 sales=T["product_sales"]))
        timed("product_stage_kpis", lambda: plc.product_stage_kpis(engine, T["product_lifecycle"], a, period))
        T["product_sales"] = T["product_sales"].drop(columns="idx")
    else:
        for name in ("product_sales", "product_lifecycle", "product_stage_kpis"):
            suite.skipped[name] = "no product_id column"
    if survey is not None:
        from . import satisfaction

        opts = dict(survey_options or {})
        timed("satisfaction", lambda: satisfaction.link_survey(engine, survey, as_of=a, **opts))
        timed("loyalty_correlations", lambda: satisfaction.loyalty_correlations(T["satisfaction"]))
    else:
        suite.skipped["satisfaction"] = "no survey given"
    return suite


def _write_csv_in_engine(engine, table, path: Path) -> None:
    """Stream a table kept in the engine to CSV without passing through pandas."""
    key = "rank" if "rank" in table.columns else "customer_id"
    expr = table.order_by(key)
    if getattr(engine, "con", None) is not None:
        import ibis

        sql = ibis.to_sql(expr, dialect="duckdb")
        target = str(path).replace("'", "''")
        engine.con.execute(f"COPY ({sql}) TO '{target}' (HEADER, DELIMITER ',')")
    else:
        expr.to_csv(path)

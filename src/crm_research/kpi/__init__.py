"""KPI engine: retention, repurchase, activity, satisfaction, churn warnings, RFM, customer and
product lifecycle stages, on DuckDB (or Apache Spark) through ibis.

Quick start::

    from crm_research import kpi
    eng = kpi.load("orders.parquet", sessions="sessions.parquet")   # validated, in DuckDB
    ret = kpi.cohort_retention(eng, period="month")                  # tidy DataFrame
    kpi.cohort_heatmap(ret)                                          # matplotlib Axes
    suite = kpi.kpi_suite(eng, as_of="2023-12-31")                   # everything
    suite.write("reports/kpi")

Modules: :mod:`.orders` (reading and validation), :mod:`.engine` (the engine, dates and
periods), :mod:`.retention`, :mod:`.repurchase`, :mod:`.activity`, :mod:`.before_after`, :mod:`.satisfaction`,
:mod:`.churn`, :mod:`.rfm`, :mod:`.lifecycle`, :mod:`.customer_summary` (per-customer aggregates the
last three share), :mod:`.order_arrays` (those customer tables from customer-sorted numpy arrays on
DuckDB; a log beyond memory in parts of its customers), :mod:`.session_arrays` (visitors, the
per-period session aggregate and per-customer visit windows from one fetch of the sessions on
DuckDB, or in parts), :mod:`.visitors` (visitor counts), :mod:`.sums` (sums of
money and durations that are exact and the same on every run), :mod:`.distinct` (key checks of the
loader), :mod:`.product_lifecycle`, :mod:`.product_arrays` (the product KPIs from
one numpy stream over the order lines on DuckDB), :mod:`.figures`,
:mod:`.suite`, :mod:`.examples` (the tiny log of the docstring examples), :mod:`.spark` (running the
KPIs on Apache Spark: ``kpi.load(..., engine="spark")``). Names are resolved lazily: importing
this package loads nothing heavy.
"""
from __future__ import annotations

from .._lazy import lazy_exports

_WHERE = {
    # loading
    "KPIEngine": "engine", "load": "engine", "ValidationPolicy": "orders", "ValidationReport": "orders",
    "ORDERS": "orders", "SESSIONS": "orders",
    # retention / repurchase / activity
    "cohort_retention": "retention", "retention_matrix": "retention", "n_period_retention": "retention",
    "repurchase_rates": "repurchase", "repeat_customer_share": "repurchase", "first_repurchase": "repurchase",
    "activity_summary": "activity", "customer_activity": "activity",
    # before and after a strategy
    "BeforeAfter": "before_after", "before_after_periods": "before_after", "before_after_kpis": "before_after",
    "period_buyers": "before_after", "period_visit_time": "before_after",
    # satisfaction
    "link_survey": "satisfaction", "loyalty_correlations": "satisfaction",
    # churn
    "ChurnRules": "churn", "churn_risk": "churn", "churn_indicators": "churn",
    # per-customer aggregates shared by churn, RFM, lifecycle and repurchase
    "customer_summary": "customer_summary",
    # RFM
    "rfm_scores": "rfm", "rfm_table": "rfm", "rfm_segment_summary": "rfm", "RFM_SEGMENTS": "rfm",
    # lifecycle
    "LifecycleRules": "lifecycle", "lifecycle_stages": "lifecycle", "lifecycle_table": "lifecycle",
    "stage_shares": "lifecycle", "stage_transitions": "lifecycle", "STAGES": "lifecycle",
    "STAGE_LABELS": "lifecycle",
    "ProductLifecycleRules": "product_lifecycle", "product_sales": "product_lifecycle",
    "product_lifecycle_stages": "product_lifecycle", "product_stage_kpis": "product_lifecycle",
    # figures
    "cohort_heatmap": "figures", "stage_shares_plot": "figures", "rfm_segments_plot": "figures",
    "repurchase_plot": "figures", "product_lifecycle_plot": "figures", "activity_plot": "figures",
    # suite
    "example_orders": "examples", "example_sessions": "examples", "example_engine": "examples",
    "kpi_suite": "suite", "KPISuite": "suite",
}

__getattr__, __dir__, __all__ = lazy_exports(__name__, _WHERE)

"""The KPI definitions are ibis expressions: they must compile for the distributed SQL engines
a user with billions of rows would run them on (no live connection needed to compile).

The engine normally stores intermediate results (per-order facts, per-customer bases); here
storing is switched off so the *whole* definition of each KPI is compiled.
"""
from __future__ import annotations

import pandas as pd
import pytest

from crm_research import kpi
from crm_research.kpi import order_arrays as OA

# dialect -> does it have an exact median (else the engine uses approx_median)
DIALECTS = {"trino": False, "bigquery": False, "snowflake": True, "databricks": True, "postgres": True,
            "clickhouse": True}


def _definitions(exact_median: bool) -> dict:
    from crm_research.kpi import activity, churn, lifecycle, repurchase, retention, rfm

    o = pd.DataFrame({"customer_id": [1, 1, 2], "order_id": [1, 2, 3], "product_id": [5, 5, 6],
                      "timestamp": pd.to_datetime(["2024-01-05", "2024-02-05", "2024-01-10"]),
                      "amount": [1.0, 2.0, 3.0]})
    s = pd.DataFrame({"customer_id": [1], "start": pd.to_datetime(["2024-01-05"]), "duration": [3.0],
                      "page_views": [1]})
    eng = kpi.load(o, sessions=s)
    eng.materialize = lambda expr, name: expr          # keep every definition as one expression
    eng._exact_median = exact_median
    OA.engine_path_only(eng)      # the engine definitions, not DuckDB's array paths
    eng.cached("session_arrays", lambda: None)
    a = "2024-02-29"
    return {
        "facts": eng.facts,
        "customer_periods": retention.customer_periods(eng, "month"),
        "repurchase": repurchase.first_repurchase(eng, a),
        "customer_activity": activity.customer_activity(eng, a),
        "churn": churn.churn_risk_table(eng, a),
        "rfm": rfm.rfm_table(eng, a),
        "lifecycle": lifecycle.lifecycle_table(eng, a),
        "lifecycle_recent": lifecycle.lifecycle_table(eng, a, recent_only=True),
        "median_session": eng.sessions.aggregate(m=eng.median(eng.sessions.duration)),
        "products": eng.order_lines.group_by("product_id").aggregate(n=eng.order_lines.count()),
    }


@pytest.mark.parametrize("dialect", sorted(DIALECTS))
def test_kpi_definitions_compile(dialect):
    import ibis

    for name, e in _definitions(DIALECTS[dialect]).items():
        sql = ibis.to_sql(e, dialect=dialect)
        assert "SELECT" in sql.upper(), name
    if not DIALECTS[dialect]:
        sql = ibis.to_sql(_definitions(False)["median_session"], dialect=dialect).upper()
        assert "APPROX" in sql


def test_definitions_compile_with_the_kpi_spark_compiler():
    """Spark SQL through the engine's compiler (ibis' PySpark compiler plus what it lacks); no JVM needed."""
    pytest.importorskip("pyspark", reason="pyspark not installed (pip install 'crm-research[spark]')")
    import ibis

    from crm_research.kpi import spark

    comp = spark.kpi_compiler_class()()
    defs = _definitions(True)
    for name, e in defs.items():
        assert "SELECT" in comp.to_sqlglot(e).sql("spark").upper(), name
    churn = comp.to_sqlglot(defs["churn"]).sql("spark")
    # the conditional median: only the values are filtered, the 0.5 stays a constant (Spark requires it)
    assert "PERCENTILE(IF(" in churn and ", 0.5, NULL)" not in churn
    t = ibis.table({"d": "int64"}, name="t")
    bits = comp.to_sqlglot(t.aggregate(m=(ibis.literal(1, type="int64") << t.d).bit_or())).sql("spark")
    assert "BIT_OR(SHIFTLEFT(CAST(1 AS BIGINT)" in bits
    with pytest.raises(Exception, match="BitOr"):                  # what ibis' own compiler cannot do
        ibis.to_sql(t.aggregate(m=t.d.bit_or()), dialect="pyspark")


def test_an_engine_without_exact_median_says_so():
    from crm_research.kpi.examples import example_engine

    exact = kpi.kpi_suite(example_engine(), stage_dates=["2024-06-28"])
    assert exact.approximate == {} and "approximate" not in exact.summary()
    eng = example_engine()
    eng._exact_median = False                                     # as on Trino / BigQuery
    OA.engine_path_only(eng)                  # which have no DuckDB array paths
    eng.cached("session_arrays", lambda: None)
    suite = kpi.kpi_suite(eng, stage_dates=["2024-06-28"])
    assert "median_session_seconds" in suite.approximate["activity"]
    assert "typical_gap_days" in suite.approximate["churn_risk"]
    # the purchase cycle is the median of whole-day gaps, taken from their histogram: exact everywhere
    assert "rfm" not in suite.approximate
    assert suite.activity.attrs["approximate"] == suite.approximate["activity"]
    text = suite.summary()
    assert "activity               approximate: median_session_seconds: approximate median (approx_median)" in text
    assert "has no exact median" in text
    assert set(eng.approximations) >= {"median_session_seconds", "typical_gap_days"}

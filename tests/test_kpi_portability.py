"""The KPI definitions are ibis expressions: they must compile for the distributed SQL engines
a user with billions of rows would run them on (no live connection needed to compile).

The engine normally stores intermediate results (per-order facts, per-customer bases); here
storing is switched off so the *whole* definition of each KPI is compiled.
"""
from __future__ import annotations

import pandas as pd
import pytest

from crm_research import kpi

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

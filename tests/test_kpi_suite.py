"""The whole suite on a simulated log, writing results, and the ``crm-research kpi`` command."""
from __future__ import annotations

import pandas as pd
import pytest

from crm_research import kpi
from crm_research.cli import main
from crm_research.simulate import simulate_transactions


@pytest.fixture(scope="module")
def log():
    return simulate_transactions(1500, seed=4)


@pytest.fixture(scope="module")
def suite(log):
    survey = pd.DataFrame({"respondent_id": [f"r{i}" for i in range(1, 201)],
                           "SAT": [(i * 7) % 5 + 1 for i in range(200)]})
    link = pd.DataFrame({"respondent_id": survey["respondent_id"], "customer_id": range(1, 201)})
    with kpi.load(log.orders, sessions=log.sessions) as eng:
        yield kpi.kpi_suite(eng, as_of="2023-12-31", survey=survey, survey_options={"link": link})


def test_every_table_present_and_consistent(suite):
    expected = {"retention", "retention_matrix", "retention_n", "repurchase", "repurchase_by_cohort",
                "repeat_customers", "activity", "churn_risk", "rfm", "rfm_segments", "lifecycle", "stage_shares",
                "stage_transitions", "product_sales", "product_lifecycle", "product_stage_kpis", "satisfaction",
                "loyalty_correlations"}
    assert set(suite.tables) == expected and not suite.skipped
    n_customers = 1500
    assert len(suite.rfm) == n_customers and len(suite.lifecycle) == n_customers
    assert suite.rfm_segments["customers"].sum() == n_customers
    last = suite.stage_shares[suite.stage_shares["date"] == "2023-12-31"]
    assert last["customers"].sum() == n_customers
    assert dict(zip(last["stage"].astype(str), last["customers"])) == \
        suite.lifecycle["stage"].value_counts().reindex(list(kpi.STAGES), fill_value=0).to_dict()
    # the cohort table's period-0 sizes add up to all customers acquired by the last complete month
    r = suite.retention
    assert r.loc[r["period"] == 0, "cohort_size"].sum() <= n_customers
    assert (suite.repurchase["repurchase_rate"].diff().dropna() >= 0).all()     # longer window, higher rate
    assert suite.churn_risk["rank"].is_monotonic_increasing
    assert (suite.churn_risk["n_warnings"] >= 1).all()
    assert suite.satisfaction["matched"].sum() == 200
    assert "KPI suite as of 2023-12-31" in suite.summary()


def test_write_refuses_to_overwrite(suite, tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    out = tmp_path / "kpi"
    paths = suite.write(out)
    assert (out / "retention.csv").exists() and (out / "cohort_heatmap.png").exists()
    assert pd.read_csv(paths["repurchase"])["window_days"].tolist() == [30, 90, 180]
    from crm_research.errors import ConfigError

    with pytest.raises(ConfigError, match="refusing to overwrite"):
        suite.write(out)
    suite.write(out, force=True, figures=False)


def test_cli_writes_tables_and_refuses_overwrite(log, tmp_path, capsys):
    orders = tmp_path / "orders.csv"
    log.orders.head(3000).to_csv(orders, index=False)
    out = tmp_path / "out"
    assert main(["kpi", str(orders), "-o", str(out), "--no-figures", "--as-of", "2023-06-30"]) == 0
    assert (out / "rfm.csv").exists() and (out / "validation_orders_counts.csv").exists()
    assert "skipped: no session log" in (out / "summary.txt").read_text()
    capsys.readouterr()
    assert main(["kpi", str(orders), "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "refusing to overwrite" in err
    assert main(["kpi", str(orders), "-o", str(out), "--force", "--no-figures", "--period", "week"]) == 0


def test_cli_bad_file_is_one_line_exit_2(tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    bad.write_text("user,order,ts,total\nu1,1,2024-01-01,5\nu1,2,2024-13-45,3\n", encoding="utf-8")
    maps = ["--map", "customer_id=user", "--map", "order_id=order", "--map", "timestamp=ts", "--map", "amount=total"]
    assert main(["kpi", str(bad), "-o", str(tmp_path / "o"), *maps]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err
    assert "row 3" in err and "'2024-13-45'" in err and "--on-bad-timestamp" in err
    assert main(["kpi", str(bad), "-o", str(tmp_path / "o2"), "--no-figures", "--on-bad", "drop", *maps]) == 0
    assert main(["kpi", str(tmp_path / "nope.csv"), "-o", str(tmp_path / "o3")]) == 2
    assert "not found" in capsys.readouterr().err


def test_per_customer_tables_can_stay_in_the_engine(log, tmp_path):
    with kpi.load(log.orders) as eng:
        a = kpi.kpi_suite(eng, per_customer="pandas")
        b = kpi.kpi_suite(eng, per_customer="engine")
        assert sorted(b.in_engine) == ["churn_risk", "lifecycle", "rfm"] and not a.in_engine
        for name in b.in_engine:
            pd.testing.assert_frame_equal(a.frame(name), b.frame(name), check_dtype=False)
        pd.testing.assert_frame_equal(a.rfm_segments, b.rfm_segments, check_dtype=False)
        b.write(tmp_path / "k", figures=False)                     # streamed from the engine
        written = pd.read_csv(tmp_path / "k" / "churn_risk.csv")
        assert written["rank"].tolist() == a.churn_risk["rank"].tolist()
        assert written["reasons"].tolist() == a.churn_risk["reasons"].tolist()


def test_queries_started_early_give_the_same_tables(log, monkeypatch):
    """kpi_suite starts the session passes and product sales on a second DuckDB connection;
    the tables must equal those of a suite that runs every query in turn."""
    from crm_research.kpi import suite as S

    orders, sessions = log.orders, log.sessions
    eng = kpi.load(orders, sessions=sessions)
    started, calls = [], []
    real, real_call = eng.prefetch, eng.prefetch_call
    monkeypatch.setattr(eng, "prefetch", lambda exprs: started.append(real(exprs)) or started[-1])
    monkeypatch.setattr(eng, "prefetch_call", lambda key, *a: calls.append(key) or real_call(key, *a))
    early = kpi.kpi_suite(eng)
    # the session arrays (visitors, per-period aggregate) and the stage history in the background;
    # the product passes as queries
    assert ("session_arrays",) in calls and any(k[0] == "stage_history" for k in calls if isinstance(k, tuple))
    assert started and sum(started) >= 1
    assert not eng._prefetched                      # every started query was collected
    monkeypatch.setattr(S, "PREFETCH_MAX_ORDERS", 0)
    plain = kpi.kpi_suite(kpi.load(orders, sessions=sessions))
    for name in ("activity", "product_sales", "product_lifecycle", "retention", "churn_risk", "rfm"):
        pd.testing.assert_frame_equal(early.tables[name], plain.tables[name], check_exact=False, rtol=1e-12)

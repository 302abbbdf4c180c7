"""The KPI suite executed on Apache Spark (local mode) agrees with DuckDB, table by table.

The same simulated logs go through both engines: ``KPIEngine.load(..., engine="spark")``
validates them in DuckDB and hands them to Spark; every KPI definition then compiles to Spark
SQL and runs there. Tables must be identical after sorting (floats to 1e-9). Needs pyspark and
Java 17; without them the Spark tests are skipped and say why (the error-path tests still run).
"""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from crm_research import kpi
from crm_research.cli import main
from crm_research.kpi import spark
from crm_research.simulate import simulate_transactions

# pyspark 4.0 and ibis 12 call pandas 3 APIs that warn about their own future; not the user's code
pytestmark = [pytest.mark.filterwarnings("ignore:.*copy keyword is deprecated.*"),
              pytest.mark.filterwarnings("ignore:.*future.infer_string.*")]

WHY_NO_SPARK = spark.spark_unavailable()
_skip = pytest.mark.skipif(WHY_NO_SPARK is not None, reason=f"Spark KPI test skipped: {WHY_NO_SPARK}")


def needs_spark(test):
    """Runs on Spark: skipped with the reason where Spark cannot start; slow (a JVM, ~1.5 min in all)."""
    return pytest.mark.slow(_skip(test))
MASTER = "local[2]"          # two cores at most: the machine is shared
AS_OF = "2023-12-31"


def canonical(df: pd.DataFrame) -> pd.DataFrame:
    """A table with its index as columns, rows sorted (non-float columns first, then floats to 1e-6)."""
    df = df.copy()
    if not isinstance(df.index, pd.RangeIndex):
        df = df.reset_index()
    floats = [c for c in df.columns if pd.api.types.is_float_dtype(df[c])]
    others = [c for c in df.columns if c not in floats]
    keys = pd.DataFrame({**{f"k{i}": df[c].astype(str) for i, c in enumerate(others)},
                         **{f"f{i}": df[c].round(6) for i, c in enumerate(floats)}})
    order = keys.sort_values(list(keys.columns), kind="mergesort", na_position="last").index
    return df.loc[order].reset_index(drop=True)


def assert_same_table(name: str, a: pd.DataFrame, b: pd.DataFrame) -> None:
    """Cell-by-cell equality after sorting; floats to 1e-9 (absolute and relative)."""
    a, b = canonical(a), canonical(b)
    assert list(a.columns) == list(b.columns), f"{name}: columns differ"
    assert len(a) == len(b), f"{name}: {len(a)} rows on DuckDB, {len(b)} on Spark"
    for c in a.columns:
        x, y = a[c], b[c]
        if pd.api.types.is_float_dtype(x) or pd.api.types.is_float_dtype(y):
            xv, yv = x.astype(float).to_numpy(), y.astype(float).to_numpy()
            ok = np.isclose(xv, yv, rtol=1e-9, atol=1e-9, equal_nan=True)
        else:
            assert str(x.dtype) == str(y.dtype), f"{name}.{c}: dtype {x.dtype} on DuckDB, {y.dtype} on Spark"
            ok = np.array([(u == v) or (pd.isna(u) and pd.isna(v)) for u, v in zip(x, y)], dtype=bool)
        bad = np.flatnonzero(~ok)
        assert bad.size == 0, (f"{name}.{c}: {bad.size} cells differ, e.g. row {bad[0]}: "
                               f"DuckDB {x.iloc[bad[0]]!r}, Spark {y.iloc[bad[0]]!r}")


def _csv(df: pd.DataFrame, path: Path) -> Path:
    df.to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def log():
    return simulate_transactions(1500, seed=4)


@pytest.fixture(scope="module")
def survey():
    s = pd.DataFrame({"respondent_id": [f"r{i}" for i in range(1, 201)], "SAT": [(i * 7) % 5 + 1 for i in range(200)]})
    link = pd.DataFrame({"respondent_id": s["respondent_id"], "customer_id": range(1, 201)})
    return s, {"link": link}


@pytest.fixture(scope="module")
def suites(log, survey):
    """The whole suite on DuckDB and on Spark local mode, over the same logs."""
    s, opts = survey
    with kpi.load(log.orders, sessions=log.sessions) as eng:
        duck = kpi.kpi_suite(eng, as_of=AS_OF, survey=s, survey_options=opts)
        duck_frames = {name: duck.frame(name) for name in duck.tables}
    eng = kpi.load(log.orders, sessions=log.sessions, engine="spark", spark_master=MASTER)
    try:
        sp = kpi.kpi_suite(eng, as_of=AS_OF, survey=s, survey_options=opts)
        spark_frames = {name: sp.frame(name) for name in sp.tables}
        yield duck, duck_frames, sp, spark_frames, eng
    finally:
        eng.close()


@needs_spark
def test_whole_suite_on_spark_equals_duckdb(suites):
    duck, duck_frames, sp, spark_frames, eng = suites
    assert eng.backend.name == "pyspark" and eng.con is None        # it really ran on Spark
    assert "KPI engine (Spark local[2])" in eng.summary()
    assert sorted(spark_frames) == sorted(duck_frames) and len(duck_frames) == 18
    assert sp.skipped == duck.skipped
    for name in duck_frames:
        assert_same_table(name, duck_frames[name], spark_frames[name])
        for key, value in duck_frames[name].attrs.items():
            assert str(spark_frames[name].attrs.get(key)) == str(value), f"{name}.attrs[{key!r}]"
    # Spark's medians are exact (percentile): nothing was approximated
    assert sp.approximate == {} and eng.approximations == {}
    assert "approximate" not in sp.summary()


@needs_spark
def test_comparison_would_catch_a_difference(suites):
    """The table comparison is not vacuous: a changed cell, a dropped row or a 1e-6 shift fails it."""
    duck, duck_frames, sp, spark_frames, eng = suites
    t = spark_frames["rfm"].copy()
    t.loc[t.index[3], "segment"] = "nobody"
    with pytest.raises(AssertionError, match="segment"):
        assert_same_table("rfm", duck_frames["rfm"], t)
    with pytest.raises(AssertionError, match="rows"):
        assert_same_table("rfm", duck_frames["rfm"], spark_frames["rfm"].iloc[1:])
    r = spark_frames["retention"].copy()
    r["retention_rate"] = r["retention_rate"] + 1e-6
    with pytest.raises(AssertionError, match="retention_rate"):
        assert_same_table("retention", duck_frames["retention"], r)


@needs_spark
def test_cli_engine_spark_writes_the_same_tables(log, tmp_path, capsys, suites):
    orders, sessions = tmp_path / "orders.csv", tmp_path / "sessions.csv"
    log.orders.head(2500).to_csv(orders, index=False)
    log.sessions.head(5000).to_csv(sessions, index=False)
    common = [str(orders), "--sessions", str(sessions), "--no-figures", "--as-of", "2023-06-30", "--period", "week"]
    assert main(["kpi", *common, "-o", str(tmp_path / "duck")]) == 0
    assert main(["kpi", *common, "-o", str(tmp_path / "spark"), "--engine", "spark", "--spark-master", MASTER,
                 "--spark-conf", "spark.sql.shuffle.partitions=2"]) == 0
    out = capsys.readouterr().out
    assert "wrote" in out
    duck_files = sorted(p.name for p in (tmp_path / "duck").iterdir())
    assert duck_files == sorted(p.name for p in (tmp_path / "spark").iterdir())
    for f in duck_files:
        if f.endswith(".csv"):
            a, b = pd.read_csv(tmp_path / "duck" / f), pd.read_csv(tmp_path / "spark" / f)
            assert_same_table(f, a, b)
    summary = (tmp_path / "spark" / "summary.txt").read_text()
    assert "Reading the logs" in summary and "approximate" not in summary


@needs_spark
def test_real_log_cdnow_same_tables_on_spark(tmp_path, capsys, suites):
    """A real transaction log (CDNOW master, 69,659 rows, 23,570 customers) read as it comes."""
    src = Path(__file__).parent / "data" / "cdnow" / "CDNOW_master.txt"
    common = [str(src), "--map", "date=timestamp", "--map", "dollar_value=amount", "--timestamp-format", "%Y%m%d",
              "--no-figures"]
    assert main(["kpi", *common, "-o", str(tmp_path / "duck")]) == 0
    assert main(["kpi", *common, "-o", str(tmp_path / "spark"), "--engine", "spark", "--spark-master", MASTER]) == 0
    capsys.readouterr()
    files = sorted(p.name for p in (tmp_path / "duck").iterdir())
    assert files == sorted(p.name for p in (tmp_path / "spark").iterdir()) and "rfm.csv" in files
    for f in files:
        if f.endswith(".csv"):
            assert_same_table(f, pd.read_csv(tmp_path / "duck" / f), pd.read_csv(tmp_path / "spark" / f))
    assert len(pd.read_csv(tmp_path / "spark" / "rfm.csv")) == 23570


@needs_spark
def test_from_ibis_on_a_pyspark_connection(log, suites, tmp_path):
    """Tables a user already has in Spark: from_ibis runs the KPIs there and leaves the session running."""
    import ibis

    duck, duck_frames, sp, spark_frames, eng = suites
    session = eng._spark.session if eng._spark is not None else None
    if session is None:
        pytest.skip("no running session")
    con = ibis.pyspark.connect(session)
    orders = log.orders[["customer_id", "order_id", "timestamp", "amount", "product_id"]]
    con.create_view("shop_orders", ibis.memtable(orders), overwrite=True)
    con.create_view("shop_sessions", ibis.memtable(log.sessions), overwrite=True)
    user = kpi.KPIEngine.from_ibis(con.table("shop_orders"), con.table("shop_sessions"))
    assert repr(user) == "KPIEngine(backend=pyspark, sessions=True, products=True)"
    act = kpi.activity_summary(user, "month", AS_OF)            # bit_or, exact median on Spark
    assert_same_table("activity", duck_frames["activity"], act)
    rfm = kpi.rfm_scores(user, AS_OF)
    assert_same_table("rfm", duck_frames["rfm"], rfm)
    # a per-customer table kept in Spark (as kpi_suite does from 2 million customers on) streams to CSV
    from crm_research.kpi.rfm import rfm_table
    from crm_research.kpi.suite import KPISuite

    kept = KPISuite(dt.date(2023, 12, 31), "month", engine=user,
                    tables={"rfm": user.materialize(rfm_table(user, AS_OF), "_kpi_rfm")})
    assert kept.in_engine == ["rfm"] and kept.n_rows("rfm") == len(rfm)
    kept.write(tmp_path / "kept", figures=False)
    written = pd.read_csv(tmp_path / "kept" / "rfm.csv")
    assert_same_table("rfm.csv", pd.read_csv(_csv(duck_frames["rfm"], tmp_path / "duck_rfm.csv")), written)
    user.close()
    assert session.sql("SELECT 1 AS x").collect()[0].x == 1      # the caller's session still runs


@needs_spark
def test_spark_engine_cleans_up(log):
    eng = kpi.load(log.orders.head(50), engine="spark", spark_master=MASTER)
    run = eng._spark
    views, folder, started = list(run.views.values()), run.folder, run.started
    session = run.session
    assert eng.max_date() == pd.Timestamp(log.orders.head(50)["timestamp"].max()).date()
    # local mode: Spark's warehouse in the temporary folder, not ./spark-warehouse in the user's folder
    assert session.conf.get("spark.sql.warehouse.dir").rstrip("/").endswith("crm-research-spark-warehouse")
    eng.close()
    import os

    assert not os.path.exists(folder)                        # the temporary hand-over folder is gone
    if not started:                                          # joined the module's session: views dropped
        names = {t.name for t in session.catalog.listTables()}
        assert not set(views) & names


# ----------------------------------------------------------------------------- errors (no Spark needed)
def test_bad_spark_options_are_one_line_errors(tmp_path, capsys):
    orders = tmp_path / "o.csv"
    pd.DataFrame({"customer_id": [1, 2], "order_id": [1, 2], "timestamp": ["2024-01-01", "2024-01-02"],
                  "amount": [1.0, 2.0]}).to_csv(orders, index=False)
    cases = [
        (["--engine", "spark", "--spark-master", "local(2)"], "'local(2)' is not a Spark master URL"),
        (["--engine", "spark", "--spark-conf", "spark.driver.memory"], "--spark-conf: 'spark.driver.memory' is not KEY=VALUE"),
        (["--spark-staging", str(tmp_path / "s")], "--spark-staging: is a Spark option and the engine is duckdb"),
        (["--spark-master", "local[4]"], "--spark-master: is a Spark option and the engine is duckdb"),
    ]
    for i, (extra, msg) in enumerate(cases):
        assert main(["kpi", str(orders), "-o", str(tmp_path / f"o{i}"), "--no-figures", *extra]) == 2
        err = capsys.readouterr().err.strip()
        assert err.count("\n") == 0 and msg in err, err
    with pytest.raises(Exception, match="'sparkle' is not an engine"):
        kpi.load(pd.read_csv(orders), engine="sparkle")


def test_without_java_the_error_says_how_to_install_it(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "no-java-here"))
    why = spark.spark_unavailable()
    assert why is not None
    if "pyspark is not installed" not in why:
        assert "Java 17" in why and "openjdk-17-jre-headless" in why
    orders = tmp_path / "o.csv"
    pd.DataFrame({"customer_id": [1], "order_id": [1], "timestamp": ["2024-01-01"], "amount": [1.0]}).to_csv(
        orders, index=False)
    assert main(["kpi", str(orders), "-o", str(tmp_path / "out"), "--engine", "spark"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and err.count("\n") == 0
    assert ("Java" in err and "apt-get install -y openjdk-17-jre-headless" in err) or "crm-research[spark]" in err


def test_cluster_master_needs_a_staging_folder():
    with pytest.raises(Exception, match="--spark-staging"):
        spark.hand_over(None, {"orders": "orders"}, session=None, staging=None, master="spark://head:7077")


def test_master_urls():
    assert spark.is_local("local") and spark.is_local("local[*]") and spark.is_local("local[4, 2]")
    assert not spark.is_local("spark://h:7077") and not spark.is_local("yarn")
    for good in ("yarn", "k8s://https://h:443", "spark://h:7077", "local[8]"):
        assert spark.check_master(good) == good
    for bad in ("", "locl[2]", "spark:/h", "local[two]"):
        with pytest.raises(Exception, match="is not a Spark master URL"):
            spark.check_master(bad)

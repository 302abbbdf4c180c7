"""A CLV fit whose maximum sits at the edge of the parameter space is never reported as a clean
fit: the warning reaches the result, its summary, the CLI's fit_measures.csv and the console."""
from __future__ import annotations

import dataclasses
import math

import pandas as pd
import pytest

from crm_research import clv


def _cdnow_bgnbd():
    return clv.fit_bgnbd(clv.rfm_summary(clv.read_cdnow(), calibration_end="1997-09-30"))


def test_interior_maximum_has_no_edge_warning():
    bg = _cdnow_bgnbd()
    assert bg.converged and bg.at_edge == [] and bg.convergence_warning == ""


def test_a_diverging_parameter_is_reported_even_when_newton_stopped_cleanly():
    bg = _cdnow_bgnbd()
    params = bg.params.copy()
    params["alpha"] = 1.4e10            # what Q4's small-log case produced, with exit 0
    se = bg.se.copy()
    se["alpha"] = math.nan
    edge = dataclasses.replace(bg, params=params, se=se)
    assert edge.converged
    assert edge.at_edge == ["alpha = 1.4e+10"]
    assert "edge of the parameter space (alpha = 1.4e+10)" in edge.convergence_warning
    assert edge.convergence_warning in edge.summary()


def test_a_missing_standard_error_alone_is_reported():
    bg = _cdnow_bgnbd()
    se = bg.se.copy()
    se["b"] = math.nan
    edge = dataclasses.replace(bg, se=se)
    assert edge.at_edge == ["b (no standard error)"]
    assert edge.convergence_warning.startswith("Warning: BG/NBD estimates at the edge")


def test_cli_writes_the_warning_column(tmp_path):
    from crm_research.cli import main

    out = tmp_path / "clv"
    assert main(["clv", "tests/data/cdnow/CDNOW_sample.txt", "--calibration-end", "1997-09-30",
                 "-o", str(out)]) == 0
    fm = pd.read_csv(out / "fit_measures.csv", keep_default_na=False)
    assert "warning" in fm.columns
    assert (fm["warning"] == "").all()      # the CDNOW fits are interior maxima


def test_rfm_summary_is_the_same_whatever_the_row_order():
    # amounts are summed exactly: DuckDB's threads add doubles in no fixed order, so plain sums
    # could differ in their last bits between runs and row orders
    from crm_research.simulate import simulate_transactions

    o = simulate_transactions(n_orders=300_000, seed=4, sessions=False).orders
    o = o.assign(amount=o["amount"] * 1.1)                  # amounts with long binary expansions
    runs = [clv.rfm_summary(o.sample(frac=1.0, random_state=seed), calibration_end="2023-06-30",
                            observation_end="2023-12-31")
            for seed in (0, 1, 2)]
    for r in runs[1:]:
        assert r["monetary_value"].to_numpy().tobytes() == runs[0]["monetary_value"].to_numpy().tobytes()
        assert r["monetary_holdout"].to_numpy().tobytes() == runs[0]["monetary_holdout"].to_numpy().tobytes()
    x = pd.DataFrame({"customer_id": [1, 1, 1, 1], "amount": [1.0, 0.1, 0.2, 0.3],
                      "timestamp": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-02", "2024-01-02"])})
    s = clv.rfm_summary(x, calibration_end="2024-01-02", freq="D")
    assert s["monetary_value"].tolist() == [0.6]           # 0.1 + 0.2 + 0.3 on one day, exactly


def test_amounts_of_1e15_or_more_are_reported_with_row_and_column(tmp_path):
    # no order amount; the exact sums (DECIMAL) need the room: a clear error, not a failed cast
    from crm_research.errors import DataFileError

    o = pd.DataFrame({"customer_id": [1, 1, 2], "amount": [5.0, 1e30, 3.0],
                      "timestamp": pd.to_datetime(["2024-01-01", "2024-02-01", "2024-02-03"])})
    with pytest.raises(DataFileError, match=r"row 3, column 'amount'.*below 1e15"):
        clv.rfm_summary(o, calibration_end="2024-02-03")
    import duckdb

    p = tmp_path / "orders.parquet"
    o.to_parquet(p)
    con = duckdb.connect()
    with pytest.raises(DataFileError, match=r"amount\(s\) missing or not a finite number below 1e15"):
        clv.rfm_summary(con.sql(f"SELECT * FROM read_parquet('{p}')"), calibration_end="2024-02-03")

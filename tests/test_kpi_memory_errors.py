"""An engine that runs out of memory gives a clear error naming the memory limit and what to
change, from the loader, the KPI suite and the CLI: not an 'internal error', and not a blame on
the file."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from crm_research import kpi
from crm_research.cli import main
from crm_research.errors import ConfigError


def _orders(n: int = 200_000) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame({"customer_id": rng.integers(0, 20_000, n), "order_id": np.arange(n),
                         "timestamp": pd.Timestamp("2023-01-01") + pd.to_timedelta(rng.integers(0, 700 * 24, n), unit="h"),
                         "amount": rng.gamma(2.0, 20.0, n).round(2)})


def test_the_suite_out_of_memory_names_the_table_and_the_limit():
    eng = kpi.load(_orders())
    eng.con.execute("SET memory_limit = '2MB'")
    with pytest.raises(ConfigError, match=r"^memory_limit: KPI table '\w+': the database ran out of memory.*"
                                          r"fix: raise the memory limit"):
        kpi.kpi_suite(eng)


def test_the_loader_out_of_memory_does_not_blame_the_file(tmp_path, capsys):
    path = tmp_path / "orders.parquet"
    _orders().to_parquet(path)
    code = main(["kpi", str(path), "--out", str(tmp_path / "out"), "--memory-limit", "2MB"])
    err = capsys.readouterr().err
    assert code == 2
    assert "ran out of memory" in err and "--memory-limit" in err
    assert "valid Parquet" not in err and "internal error" not in err


def test_the_memory_limit_covers_the_engine_and_the_arrays():
    """DuckDB runs under its share of the configured limit; the arrays' budget is read from the
    whole limit, so the two together stay within it (not DuckDB's limit plus the arrays)."""
    from crm_research.kpi import distinct
    from crm_research.kpi.engine import ENGINE_SHARE

    eng = kpi.load(_orders(1000), memory_limit="2GB")
    (duck,), = eng.con.execute("SELECT current_setting('memory_limit')").fetchall()
    assert distinct.byte_size(duck) <= ENGINE_SHARE * 2e9 * 1.01 and ENGINE_SHARE < 1
    budget = distinct.memory_budget(eng.con)
    assert budget == int(0.25 * 2e9)
    assert distinct.byte_size(duck) + 2 * budget <= 2e9     # both within the configured limit


@pytest.mark.parametrize("bad", ["lots", "-3GB", "0", "3 parsecs"])
def test_a_memory_limit_that_is_not_a_size_is_refused(bad, tmp_path, capsys):
    with pytest.raises(ConfigError, match=r"memory_limit: .* is not a memory size"):
        kpi.load(_orders(100), memory_limit=bad)
    path = tmp_path / "orders.parquet"
    _orders(100).to_parquet(path)
    assert main(["kpi", str(path), "--out", str(tmp_path / "out"), f"--memory-limit={bad}"]) == 2
    err = capsys.readouterr().err
    assert "is not a memory size" in err and "Traceback" not in err
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())

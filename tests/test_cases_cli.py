"""``crm-research cases``: exit codes, output files, refusing to overwrite."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from crm_research.cases import RESULT_COLUMNS
from crm_research.cli import main

SMALL = {
    "id": "cli_toy", "title": "CLI toy", "subject": {"kind": "platform", "name": "toy"}, "design": "did",
    "compare_designs": ["before_after"],
    "strategies": [{"id": "recs", "name": {"zh": "推荐", "en": "Recommendations"}, "start": "2020-07-01",
                    "target": ["pilot"], "control": ["holdout"], "kpis": ["click_through_rate", "conversion_rate"]}],
    "simulate": {"seed": 3, "customers": 600, "start": "2020-01-01", "end": "2020-12-31",
                 "assignments": {"group": {"shares": {"pilot": 0.5, "holdout": 0.5}}},
                 "effects": {"recs": {"click_through_rate": 0.03}}},
}


@pytest.fixture
def case_file(tmp_path):
    p = tmp_path / "cli_toy.yaml"
    p.write_text(yaml.safe_dump(SMALL, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return p


def test_evaluates_and_writes_results(case_file, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["cases", str(case_file), "-o", str(out), "--no-figures"]) == 0
    printed = capsys.readouterr().out
    assert "Recommendations" in printed and "results.csv" in printed
    t = pd.read_csv(out / "results.csv")
    assert list(t.columns)[:len(RESULT_COLUMNS)] == RESULT_COLUMNS
    assert {"true_effect", "declared_effect", "covered"} <= set(t.columns)
    assert set(t["design"]) == {"did", "before_after"} and len(t) == 4
    for f in ("summary.txt", "series.csv", "event_study.csv", "kpi_framework.csv"):
        assert (out / f).stat().st_size > 0
    assert not (out / "figures").exists()


def test_refuses_to_overwrite_unless_forced(case_file, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["cases", str(case_file), "-o", str(out), "--no-figures"]) == 0
    before = (out / "results.csv").read_text(encoding="utf-8")
    capsys.readouterr()
    assert main(["cases", str(case_file), "-o", str(out), "--no-figures", "--seed", "9"]) == 2
    err = capsys.readouterr().err
    assert "not overwritten" in err and "--force" in err
    assert (out / "results.csv").read_text(encoding="utf-8") == before
    assert main(["cases", str(case_file), "-o", str(out), "--no-figures", "--seed", "9", "--force"]) == 0
    assert (out / "results.csv").read_text(encoding="utf-8") != before


def test_figures_and_data_export(case_file, tmp_path):
    out = tmp_path / "out"
    assert main(["cases", str(case_file), "-o", str(out), "--write-data", str(tmp_path / "data")]) == 0
    for f in ("effects.png", "kpi_series.png", "event_study.png"):
        assert (out / "figures" / f).stat().st_size > 1000
    for t in ("customers", "orders", "sessions", "survey"):
        assert (tmp_path / "data" / f"{t}.csv").exists()


def test_user_errors_exit_2_with_one_line(tmp_path, capsys):
    assert main(["cases", str(tmp_path / "missing.yaml")]) == 2
    assert "case file not found" in capsys.readouterr().err
    bad = dict(SMALL)
    bad["strategies"] = [dict(SMALL["strategies"][0], kpis=["click_rate"])]
    p = tmp_path / "bad.yaml"
    p.write_text(yaml.safe_dump(bad), encoding="utf-8")
    assert main(["cases", str(p)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "bad.yaml" in err and "strategies[0].kpis[0]" in err
    assert "Traceback" not in err
    assert main(["cases"]) == 2
    assert "no case given" in capsys.readouterr().err


def test_list_and_kpis(capsys):
    assert main(["cases", "--list"]) == 0
    out = capsys.readouterr().out
    for cid in ("r0_yuexuan_platform", "r0_smart_appliance_product", "r2_retention_strategies"):
        assert cid in out
    assert main(["cases", "--kpis"]) == 0
    assert "留存率" in capsys.readouterr().out


def test_console_script_lists_cases():
    exe = Path(sys.executable).parent / "crm-research"
    r = subprocess.run([str(exe), "cases", "--list"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and "r2_retention_strategies" in r.stdout

"""``crm-research invariance``: outputs checked against lavaan, user errors, refusing to overwrite."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from crm_research.cli import main

ROOT = Path(__file__).resolve().parents[1]
REF = ROOT / "tests" / "reference" / "lavaan"
INSTRUMENT = ROOT / "surveys" / "ecommerce_crm.yaml"
HS = REF / "HolzingerSwineford1939.csv"
GROUPED = REF / "seed_survey_groups.csv"


def lavaan_fm(name: str) -> dict:
    return json.loads((REF / f"{name}.json").read_text())["fit_measures"]


def test_hs_steps_match_lavaan(tmp_path, capsys):
    out = tmp_path / "hs"
    assert main(["invariance", str(HS), "--group", "school", "--model", str(REF / "hs_cfa.lav"),
                 "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "Highest level supported" in printed and "summary.md" in printed
    assert sorted(p.name for p in out.iterdir()) == ["invariance.csv", "summary.md"]  # CFA: no paths to compare
    t = pd.read_csv(out / "invariance.csv").set_index("step")
    assert list(t.index) == ["configural", "metric", "scalar", "strict"]
    ref = {s: lavaan_fm(f"hs_mg_{s}") for s in ("config", "metric", "scalar", "strict")}
    for step, key in (("configural", "config"), ("metric", "metric"), ("scalar", "scalar"), ("strict", "strict")):
        assert t.loc[step, "chisq"] == pytest.approx(ref[key]["chisq"], abs=2e-3)
        assert t.loc[step, "df"] == ref[key]["df"]
        assert t.loc[step, "cfi"] == pytest.approx(ref[key]["cfi"], abs=1e-4)
    # differences by hand from lavaan's numbers: 124.0435 - 115.8513 = 8.1922 on 54 - 48 = 6 df
    assert t.loc["metric", "chisq.diff"] == pytest.approx(ref["metric"]["chisq"] - ref["config"]["chisq"], abs=2e-3)
    assert t.loc["metric", "df.diff"] == 6
    dcfi = ref["scalar"]["cfi"] - ref["metric"]["cfi"]          # -.038: scalar invariance fails (Chen 2007)
    assert t.loc["scalar", "delta.cfi"] == pytest.approx(dcfi, abs=1e-4)
    assert bool(t.loc["metric", "holds"]) and not bool(t.loc["scalar", "holds"])
    md = (out / "summary.md").read_text(encoding="utf-8")
    assert "Highest level supported: metric" in md
    assert "Pasteur (n = 156)" in md and "Grant-White (n = 145)" in md


def test_instrument_paths_match_lavaan(tmp_path, capsys):
    """H1 constrained equal vs free, on equal loadings (metric, the default): lavaan's chi-square difference."""
    out = tmp_path / "eco"
    assert main(["invariance", str(GROUPED), "--group", "segment", "--instrument", str(INSTRUMENT),
                 "--structural", "combined", "--steps", "configural", "metric", "--paths", "H1",
                 "-o", str(out)]) == 0
    capsys.readouterr()
    inv = pd.read_csv(out / "invariance.csv")
    assert inv["chisq"].iloc[0] == pytest.approx(lavaan_fm("eco_mg_config")["chisq"], abs=5e-3)
    assert inv["chisq"].iloc[1] == pytest.approx(lavaan_fm("eco_mg_metric")["chisq"], abs=5e-3)
    p = pd.read_csv(out / "path_comparison.csv")
    assert list(p["path"]) == ["SAT ~ OPS"] and p["hypothesis"].iloc[0] == "H1"
    want = lavaan_fm("eco_mg_h1equal")["chisq"] - lavaan_fm("eco_mg_metric")["chisq"]   # 10.899 on 1 df
    assert p["chisq.diff"].iloc[0] == pytest.approx(want, abs=5e-3)
    assert p["df.diff"].iloc[0] == 1
    # the data were simulated with standardized SAT ~ OPS .60 (new) vs .15 (returning)
    assert p["std.all.new"].iloc[0] > p["std.all.returning"].iloc[0] + 0.2
    assert p["verdict"].iloc[0].startswith("differs")
    assert "SAT ~ OPS** (H1): differs" in (out / "summary.md").read_text(encoding="utf-8")


def test_bad_group_column_is_one_line_exit_2(tmp_path):
    out = tmp_path / "x"
    r = subprocess.run([sys.executable, "-m", "crm_research.cli", "invariance", str(HS), "--group", "scool",
                        "--model", str(REF / "hs_cfa.lav"), "-o", str(out)], capture_output=True, text=True)
    assert r.returncode == 2
    err = r.stderr.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert "'scool'" in err and "group column not found" in err and "school" in err   # names the choices
    assert not out.exists()


def test_group_with_one_level_and_non_numeric_cell(tmp_path, capsys):
    d = pd.read_csv(HS)
    d["one"] = "all"
    f = tmp_path / "one.csv"
    d.to_csv(f, index=False)
    assert main(["invariance", str(f), "--group", "one", "--model", str(REF / "hs_cfa.lav"),
                 "-o", str(tmp_path / "o1")]) == 2
    assert "1 group(s)" in capsys.readouterr().err
    d = pd.read_csv(HS)
    d["x5"] = d["x5"].astype(object)
    d.loc[3, "x5"] = "n/a?"
    d.to_csv(f, index=False)
    assert main(["invariance", str(f), "--group", "school", "--model", str(REF / "hs_cfa.lav"),
                 "-o", str(tmp_path / "o2")]) == 2
    err = capsys.readouterr().err
    assert "row 5" in err and "'x5'" in err and "not a number" in err   # header = row 1, so d.loc[3] is row 5


def test_refuses_to_overwrite_without_force(tmp_path, capsys):
    out = tmp_path / "hs"
    out.mkdir()
    (out / "summary.md").write_text("my notes", encoding="utf-8")
    args = ["invariance", str(HS), "--group", "school", "--model", str(REF / "hs_cfa.lav"),
            "--steps", "configural", "metric", "-o", str(out)]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "summary.md" in err and "--force" in err
    assert (out / "summary.md").read_text(encoding="utf-8") == "my notes"
    assert not (out / "invariance.csv").exists()
    assert main(args + ["--force"]) == 0
    capsys.readouterr()
    assert list(pd.read_csv(out / "invariance.csv")["step"]) == ["configural", "metric"]


def test_model_or_instrument_is_needed(tmp_path, capsys):
    assert main(["invariance", str(HS), "--group", "school", "-o", str(tmp_path / "o")]) == 2
    assert "give the model: --model MODEL.lav or --instrument YAML" in capsys.readouterr().err
    assert main(["invariance", str(GROUPED), "--group", "segment", "--instrument", str(INSTRUMENT),
                 "--structural", "model_z", "-o", str(tmp_path / "o")]) == 2
    assert "model_z" in capsys.readouterr().err


def test_small_group_needs_min_n(tmp_path, capsys):
    d = pd.read_csv(HS)
    d.loc[:5, "school"] = "Tiny"          # 6 cases for 9 variables: cannot be estimated
    f = tmp_path / "tiny.csv"
    d.to_csv(f, index=False)
    args = ["invariance", str(f), "--group", "school", "--model", str(REF / "hs_cfa.lav"), "--steps",
            "configural", "metric"]
    assert main(args + ["-o", str(tmp_path / "a")]) == 2
    err = capsys.readouterr().err
    assert "'Tiny'" in err and "6 complete case(s)" in err and "--min-n" in err
    assert main(args + ["--min-n", "30", "-o", str(tmp_path / "b")]) == 0
    md = (tmp_path / "b" / "summary.md").read_text(encoding="utf-8")
    assert "left out group(s) with fewer than 30 complete cases: 'Tiny' (n = 6)" in md
    assert "Pasteur (n = 150)" in md and "Grant-White (n = 145)" in md      # 156 - 6 moved to Tiny


# --------------------------------------------------------------------------- one reader, one map, --missing
from _formats import FORMATS, with_chinese_column, write_as  # noqa: E402


@pytest.fixture(scope="module")
def hs_formats(tmp_path_factory):
    d = tmp_path_factory.mktemp("formats")
    return {fmt: write_as(with_chinese_column(pd.read_csv(HS)), d, fmt) for fmt in FORMATS}


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format(hs_formats, fmt, tmp_path, capsys):
    path, extra, _ = hs_formats[fmt]
    out = tmp_path / "o"
    assert main(["invariance", str(path), "--group", "school", "--model", str(REF / "hs_cfa.lav"),
                 "--steps", "configural", "metric", "-o", str(out), *extra]) == 0
    capsys.readouterr()
    t = pd.read_csv(out / "invariance.csv").set_index("step")
    assert t.loc["configural", "chisq"] == pytest.approx(lavaan_fm("hs_mg_config")["chisq"], abs=2e-3)
    assert t.loc["metric", "chisq"] == pytest.approx(lavaan_fm("hs_mg_metric")["chisq"], abs=2e-3)


def test_missing_sheet_is_one_line(hs_formats, tmp_path, capsys):
    path, _, _ = hs_formats["xlsx_name"]
    assert main(["invariance", str(path), "--group", "school", "--model", str(REF / "hs_cfa.lav"),
                 "--sheet", "nope", "-o", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "has no sheet 'nope'; sheets: 说明, 答卷数据" in err and err.count("\n") == 1


def test_missing_ml_is_lavaan_fiml(tmp_path, capsys):
    """hs_missing.csv by school, metric step by FIML: lavaan's hs_mg_fiml (N 155 + 145, chi-square)."""
    ref = json.loads((REF / "hs_mg_fiml.ml.json").read_text())
    out = tmp_path / "ml"
    assert main(["invariance", str(REF / "hs_missing.csv"), "--group", "school", "--model", str(REF / "hs_cfa.lav"),
                 "--steps", "configural", "metric", "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    t = pd.read_csv(out / "invariance.csv").set_index("step")
    assert t.loc["metric", "chisq"] == pytest.approx(ref["fit_measures"]["chisq"], abs=5e-3)
    assert "full-information ML (--missing ml): 300 of 301 rows used" in printed
    assert "Pasteur (n = 155)" in printed and "Grant-White (n = 145)" in printed


def test_missing_listwise_uses_complete_rows(tmp_path, capsys):
    out = tmp_path / "lw"
    assert main(["invariance", str(REF / "hs_missing.csv"), "--group", "school", "--model", str(REF / "hs_cfa.lav"),
                 "--steps", "configural", "--missing", "listwise", "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    n = pd.read_csv(REF / "hs_missing.csv")
    complete = n.dropna(subset=[f"x{i}" for i in range(1, 10)])
    assert len(complete) == 180        # lavaan's listwise N (tests/data/fit_cli/listwise_fit.csv)
    assert f"listwise deletion (--missing listwise): 180 of 301 rows used, 121 dropped (incomplete)" in printed
    sizes = complete["school"].value_counts()
    assert all(f"{g} (n = {k})" in printed for g, k in sizes.items())


def test_map_pairs_file_and_deprecated_column_map(tmp_path, capsys):
    d = pd.read_csv(GROUPED).rename(columns={"PF1": "Q1", "SQ2": "服务2"})
    f = tmp_path / "renamed.csv"
    d.to_csv(f, index=False, encoding="utf-8-sig")
    base = ["invariance", str(f), "--group", "segment", "--instrument", str(INSTRUMENT), "--structural", "combined",
            "--steps", "configural", "--paths", "H1"]
    want = lavaan_fm("eco_mg_config")["chisq"]
    assert main(base + ["-o", str(tmp_path / "a"), "--map", "Q1=PF1", "--map", "服务2=SQ2"]) == 0
    assert pd.read_csv(tmp_path / "a" / "invariance.csv")["chisq"].iloc[0] == pytest.approx(want, abs=5e-3)
    y = tmp_path / "map.yaml"
    y.write_text("Q1: PF1\n服务2: SQ2\n", encoding="utf-8")
    capsys.readouterr()
    assert main(base + ["-o", str(tmp_path / "b"), "--column-map", str(y)]) == 0
    err = capsys.readouterr().err
    assert err == "note: --column-map is deprecated; use --map\n"
    assert pd.read_csv(tmp_path / "b" / "invariance.csv")["chisq"].iloc[0] == pytest.approx(want, abs=5e-3)


def test_model_file_with_instrument(tmp_path, capsys):
    """--model with --instrument: responses prepared as validate does, the model file's syntax fitted."""
    out = tmp_path / "o"
    assert main(["invariance", str(GROUPED), "--group", "segment", "--instrument", str(INSTRUMENT),
                 "--model", str(REF / "eco_mg_config.lav"), "--steps", "configural", "--paths", "SAT~OPS",
                 "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "Responses prepared with" in printed
    assert pd.read_csv(out / "invariance.csv")["chisq"].iloc[0] == pytest.approx(
        lavaan_fm("eco_mg_config")["chisq"], abs=5e-3)


def test_instrument_with_a_single_item_of_stated_reliability(tmp_path, capsys):
    """The fixed error variance of a single item (reliability .8) needs the data: the CLI reads
    them first, then writes the syntax, so the fit uses (1 - .8) x var(NPS) of this file."""
    from crm_research.instruments import load_instrument, structural_syntax

    sq = Path(__file__).parent / "data" / "service_quality"
    out = tmp_path / "sq"
    assert main(["invariance", str(sq / "responses.csv"), "--group", "customer_type", "--instrument",
                 str(sq / "service_quality.yaml"), "--structural", "core", "--steps", "configural",
                 "--min-n", "50", "-o", str(out)]) == 0
    t = pd.read_csv(out / "invariance.csv")
    assert t["chisq"].notna().all()
    inst = load_instrument(sq / "service_quality.yaml")
    d = pd.read_csv(sq / "responses.csv")
    syntax = structural_syntax(inst, "core", data=d)
    want = 0.2 * d["NPS"].dropna().var(ddof=1)
    fixed = [ln for ln in syntax.splitlines() if ln.startswith("NPS ~~")][0]
    assert float(fixed.split("~~")[1].split("*")[0]) == pytest.approx(want, rel=1e-12)

"""``crm-research study INSTRUMENT RESPONSES -o OUT``: inputs checked before anything runs (clear
errors, exit 2), then 01, 02, 03 per model and 09 per group column and model as one batch:
index.html, one report per run, no failure, no respondent of a clean file lost, nothing of the
source study in the reports of another instrument, and lavaan's numbers on the bundled one."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest
import yaml

from crm_research.cli import main

ROOT = Path(__file__).resolve().parents[1]
SQ_DIR = ROOT / "tests" / "data" / "service_quality"
SQ_INSTRUMENT = SQ_DIR / "service_quality.yaml"
SQ_RESPONSES = SQ_DIR / "responses.csv"
INSTRUMENT = ROOT / "surveys" / "ecommerce_crm.yaml"
REF = ROOT / "tests" / "reference" / "lavaan"
SOURCE_WORDS = ["OPS", "CRM", "SAT", "LOY", "H1", "H2", "H3", "H4", "R1", "AMOS", "27 items", "nine", "model A",
                "model B", "ops", "crm", "combined", "e-commerce", "platform", "years_customer"]


def _visible(html: str) -> str:
    """The text a reader sees in a report (styles, scripts and tags removed; the provenance block,
    which names the machine's platform and the package, dropped)."""
    html = re.sub(r"<div class=\"crm-provenance\".*", " ", html, flags=re.S)
    html = re.sub(r"<(style|script)\b.*?</\1>", " ", html, flags=re.S)
    text = re.sub(r"<[^>]*>", " ", html)
    return re.sub(r"crm[-_](research|warnings|records?|diagram|sample|provenance)", "", text)


def _hits(text: str) -> list[str]:
    return [w for w in SOURCE_WORDS if re.search(rf"(?<![A-Za-z0-9_]){re.escape(w)}(?![A-Za-z0-9_])", text)]


# --------------------------------------------------------------------------- inputs checked first
def _fails(capsys, *argv) -> str:
    code = main(["study", *map(str, argv)])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err and err.startswith("error: ")
    return err


def test_missing_instrument_or_data_file(tmp_path, capsys):
    err = _fails(capsys, tmp_path / "nope.yaml", SQ_RESPONSES, "-o", tmp_path / "out")
    assert "nope.yaml" in err
    err = _fails(capsys, SQ_INSTRUMENT, tmp_path / "none.csv", "-o", tmp_path / "out")
    assert "none.csv" in err and "not found" in err
    assert not (tmp_path / "out" / "index.html").exists()


def test_an_instrument_with_a_typo_is_refused(tmp_path, capsys):
    raw = yaml.safe_load(SQ_INSTRUMENT.read_text(encoding="utf-8"))
    raw["modles"] = raw.pop("models")
    bad = tmp_path / "typo.yaml"
    bad.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    err = _fails(capsys, bad, SQ_RESPONSES, "-o", tmp_path / "out")
    assert "modles" in err and "models" in err


def test_unknown_or_personal_group_columns(tmp_path, capsys):
    err = _fails(capsys, SQ_INSTRUMENT, SQ_RESPONSES, "-o", tmp_path / "out", "--groups", "shoe_size")
    assert "shoe_size" in err and "customer_type" in err and "region" in err
    err = _fails(capsys, SQ_INSTRUMENT, SQ_RESPONSES, "-o", tmp_path / "out", "--groups", "email")
    assert "email" in err and "personal data" in err
    err = _fails(capsys, SQ_INSTRUMENT, SQ_RESPONSES, "-o", tmp_path / "out", "--groups", "ST1")
    assert "ST1" in err


def test_unmappable_file_and_bad_options(tmp_path, capsys):
    df = pd.read_csv(SQ_RESPONSES).rename(columns={"ST1": "staff knowledge"})
    renamed = tmp_path / "renamed.csv"
    df.to_csv(renamed, index=False)
    err = _fails(capsys, SQ_INSTRUMENT, renamed, "-o", tmp_path / "out")
    assert "ST1" in err
    err = _fails(capsys, SQ_INSTRUMENT, SQ_RESPONSES, "-o", tmp_path / "out", "--bootstrap", "1")
    assert "--bootstrap" in err


def test_missing_choice_is_rejected_by_the_parser(tmp_path):
    with pytest.raises(SystemExit):
        main(["study", str(SQ_INSTRUMENT), str(SQ_RESPONSES), "-o", str(tmp_path / "o"), "--missing", "casewise"])


@pytest.mark.parametrize("argv, words", [
    (["--estimator", "MLX"], ["--estimator", "expected one of ML, MLM", "'MLX'"]),
    (["--estimator", "ML", "--ordered", "all"], ["--estimator", "ML cannot fit ordered", "WLSMV"]),
    (["--ordered", "ST1,NOPE"], ["--ordered", "not an item of the data: NOPE"]),
    (["--estimator", "MLR", "--se", "sandwich"], ["--se", "'sandwich'", "robust.huber.white"]),
    (["--estimator", "MLR", "--test", "bollen.stine"], ["--test", "'bollen.stine'", "satorra.bentler"]),
    (["--missing", "pairwise"], ["--missing", "'pairwise' is not available with estimator ML"]),
    (["--estimator", "MLR", "--bootstrap", "100"], ["--bootstrap", "need --estimator ML", "MLR"]),
    (["--estimator", "auto", "--se", "robust.sem"], ["--estimator", "'auto' decides"]),
])
def test_estimation_options_are_checked_before_anything_runs(tmp_path, capsys, argv, words):
    """Each bad estimation option: exit 2, one line naming the option and what is expected, nothing written."""
    err = _fails(capsys, SQ_INSTRUMENT, SQ_RESPONSES, "-o", tmp_path / "out", *argv)
    assert err.count("\n") == 1, err
    for w in words:
        assert w in err, (w, err)
    assert not (tmp_path / "out").exists()


# --------------------------------------------------------------------------- a whole study
@pytest.mark.slow
def test_a_study_of_another_instrument(tmp_path, capsys):
    """The test survey (10-point, 6-point and 0-10 scales, two single items, models core and
    extended), grouped by region: 2 + 2 + 2 runs, all succeed, none mentions the source study."""
    out = tmp_path / "study"
    code = main(["study", str(SQ_INSTRUMENT), str(SQ_RESPONSES), "-o", str(out), "--groups", "region",
                 "--bootstrap", "20", "-w", "2", "-q"])
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert "open in a browser: file://" in printed and str(out / "index.html") in printed.replace("%20", " ")
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    runs = {r["run"]: r for r in manifest["runs"]} if isinstance(manifest.get("runs"), list) else manifest["runs"]
    expected = ["01-data-quality", "02-measurement", "03-model-core", "03-model-extended",
                "09-groups-region-core", "09-groups-region-extended"]
    assert sorted(runs) == sorted(expected)
    index = (out / "index.html").read_text(encoding="utf-8")
    for name in expected:
        html = out / "runs" / name / f"{name}.html"
        assert html.is_file(), name
        assert name in index
        text = _visible(html.read_text(encoding="utf-8"))
        assert _hits(text) == [], (name, _hits(text))
    assert not (out / "failed").exists() or not any((out / "failed").iterdir())
    res = pd.read_csv(out / "results.csv")
    assert set(res.run) == set(expected)
    val = {(r.run, r.key): r.value for r in res.itertuples()}
    txt = {(r.run, r.key): r.value_text for r in res.itertuples()}
    # no respondent of the file is lost: 400 rows, only attention failures and non-customers excluded
    rows = pd.read_csv(SQ_RESPONSES)
    dropped = int(((rows["ATT"] != 8) | (rows["tenure"] == 4)).sum())
    for name in expected[:4]:
        assert float(val[(name, "n_rows")]) == 400
        assert float(val[(name, "n_kept")]) == 400 - dropped
        assert float(val[(name, "n")]) == 400 - dropped          # FIML: every kept respondent
        assert txt[(name, "missing")] == "ml"
    assert float(val[("03-model-core", "p1_beta")]) > 0
    cfg = yaml.safe_load((out / "study.yaml").read_text(encoding="utf-8"))
    assert cfg["defaults"]["missing"] == "ml" and cfg["defaults"]["data_file"] == str(SQ_RESPONSES.resolve())
    # the same command again reuses every run
    code = main(["study", str(SQ_INSTRUMENT), str(SQ_RESPONSES), "-o", str(out), "--groups", "region",
                 "--bootstrap", "20", "-w", "2", "-q"])
    again = capsys.readouterr().out
    assert code == 0 and "6 reused" in again, again


@pytest.mark.slow
def test_the_bundled_study_still_replicates(tmp_path, capsys):
    """seed_survey_a.csv through `study` (listwise, no bootstrap): models ops and crm reproduce lavaan."""
    out = tmp_path / "bundled"
    code = main(["study", str(INSTRUMENT), str(REF / "seed_survey_a.csv"), "-o", str(out), "--missing", "listwise",
                 "--bootstrap", "0", "-w", "2", "-q"])
    assert code == 0, capsys.readouterr().out
    res = pd.read_csv(out / "results.csv")
    val = {(r.run, r.key): r.value for r in res.itertuples()}
    for model, ref_name, hyp in (("ops", "seed_ops", ("h1", "SAT", "OPS")), ("crm", "seed_crm", ("h3", "SAT", "CRM"))):
        ref = json.loads((REF / f"{ref_name}.json").read_text())
        run = f"03-model-{model}"
        assert float(val[(run, "n")]) == 400
        for k in ("chisq", "cfi", "tli", "rmsea", "srmr"):
            assert float(val[(run, k)]) == pytest.approx(ref["fit_measures"][k], rel=1e-6, abs=1e-6), (run, k)
        lav = {(e["lhs"], e["op"], e["rhs"]): e for e in ref["estimates"]}
        assert float(val[(run, f"{hyp[0]}_beta")]) == pytest.approx(lav[(hyp[1], "~", hyp[2])]["std.all"], abs=1e-5)
    assert ("03-model-combined", "cfi") in val
    html = (out / "runs" / "03-model-ops" / "03-model-ops.html").read_text(encoding="utf-8")
    assert "About this study." in html                        # the bundled instrument's context block

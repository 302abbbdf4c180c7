"""``crm-research fit``: --missing ml|listwise against lavaan, every file format, column maps,
model files in GBK/BOM, --instrument (personal data never reach the output), one-line errors.

References: FIML = tests/reference/lavaan/<name>.ml.json (lavaan ``missing = "ml"``);
listwise = tests/data/fit_cli/listwise_*.csv (lavaan ``missing = "listwise"``, made by
tests/data/fit_cli/make_reference.R) on the same files.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from crm_research.cli import main

from _formats import FORMATS, with_chinese_column, write_as

ROOT = Path(__file__).resolve().parents[1]
REF = ROOT / "tests" / "reference" / "lavaan"
LISTWISE = ROOT / "tests" / "data" / "fit_cli"
INSTRUMENT = ROOT / "surveys" / "ecommerce_crm.yaml"
HS_MISSING = REF / "hs_missing.csv"
HS_LAV = REF / "hs_fiml.lav"


def fiml_ref(name: str) -> dict:
    return json.loads((REF / f"{name}.ml.json").read_text())


def listwise_ref(name: str) -> tuple[dict, pd.DataFrame]:
    fm = pd.read_csv(LISTWISE / "listwise_fit.csv").set_index("model").loc[name].to_dict()
    est = pd.read_csv(LISTWISE / "listwise_estimates.csv")
    return fm, est[est.model == name]


def run_fit(capsys, *argv) -> tuple[int, str, str]:
    code = main(["fit", *[str(a) for a in argv]])
    out = capsys.readouterr()
    return code, out.out, out.err


def fitted(tmp_path, capsys, data, *extra, model=HS_LAV, name="est"):
    """Run fit -o; return (stdout, estimates, fit json)."""
    out = tmp_path / f"{name}.csv"
    code, printed, err = run_fit(capsys, model, data, "-o", out, *extra)
    assert code == 0, err
    est = pd.read_csv(out).fillna({"rhs": ""})
    return printed, est, json.loads((tmp_path / f"{name}_fit.json").read_text())


def match_estimates(ours: pd.DataFrame, ref: pd.DataFrame, tol: float = 2e-3) -> int:
    """Every lavaan row (lhs op rhs) found in ours with est and se within ``tol``; returns rows compared."""
    o = ours.set_index(["lhs", "op", "rhs"])
    n = 0
    for r in ref.itertuples(index=False):
        row = o.loc[(r.lhs, r.op, r.rhs)]
        assert row["est"] == pytest.approx(r.est, abs=tol), (r.lhs, r.op, r.rhs)
        assert row["se"] == pytest.approx(r.se, abs=tol), (r.lhs, r.op, r.rhs)
        n += 1
    return n


# --------------------------------------------------------------------------- --missing against lavaan
def test_missing_ml_is_lavaan_fiml(tmp_path, capsys):
    ref = fiml_ref("hs_fiml")
    printed, est, js = fitted(tmp_path, capsys, HS_MISSING, "--missing", "ml")
    assert js["missing"] == "ml" and js["missing_values"] is True
    assert js["nobs"] == ref["nobs"][0] == 300 and js["rows"] == 301
    assert "full-information ML (--missing ml): 300 of 301 rows used, 1 dropped" in printed
    for k in ("chisq", "df", "cfi", "rmsea", "srmr", "logl"):
        assert js["fit_measures"][k] == pytest.approx(ref["fit_measures"][k], abs=2e-3), k
    assert match_estimates(est, pd.DataFrame(ref["estimates"])) == len(ref["estimates"])


def test_missing_listwise_is_lavaan_listwise(tmp_path, capsys):
    fm, ref = listwise_ref("hs_fiml")
    printed, est, js = fitted(tmp_path, capsys, HS_MISSING, "--missing", "listwise")
    assert js["missing"] == "listwise" and js["nobs"] == fm["nobs"] == 180 and js["rows"] == fm["rows"] == 301
    assert "listwise deletion (--missing listwise): 180 of 301 rows used, 121 dropped (incomplete)" in printed
    for k in ("chisq", "df", "cfi", "rmsea", "srmr"):
        assert js["fit_measures"][k] == pytest.approx(fm[k], abs=1e-3), k
    assert match_estimates(est, ref) == len(ref)


def test_default_is_ml(tmp_path, capsys):
    _, _, js = fitted(tmp_path, capsys, HS_MISSING)
    assert js["missing"] == "ml" and js["nobs"] == 300


def test_complete_data_ml_and_listwise_coincide(tmp_path, capsys):
    """No missing value: the complete-data fit (lavaan's default sem()) whatever --missing says."""
    ref = json.loads((REF / "hs_cfa.json").read_text())["fit_measures"]
    for m in ("ml", "listwise"):
        printed, _, js = fitted(tmp_path, capsys, REF / "HolzingerSwineford1939.csv", "--missing", m, "--force",
                                model=REF / "hs_cfa.lav")
        assert "none in the model's variables; all 301 rows used" in printed
        assert js["fit_measures"]["chisq"] == pytest.approx(ref["chisq"], abs=1e-3)


def test_instrument_path_eco_fiml_and_listwise(tmp_path, capsys):
    """eco_missing.csv prepared with the bundled instrument (no row dropped, no item reverse-keyed): lavaan's N
    and chi-square for both treatments."""
    lav = REF / "eco_fiml.lav"
    ref = fiml_ref("eco_fiml")
    printed, _, js = fitted(tmp_path, capsys, REF / "eco_missing.csv", "--instrument", INSTRUMENT, "--salt", "s",
                            model=lav, name="ml")
    assert "Responses prepared with" in printed and "400 read, 400 kept, 0 excluded" in printed
    assert js["nobs"] == ref["nobs"][0] == 400
    assert js["fit_measures"]["chisq"] == pytest.approx(ref["fit_measures"]["chisq"], abs=5e-3)
    fm, _ = listwise_ref("eco_fiml")
    printed, _, js = fitted(tmp_path, capsys, REF / "eco_missing.csv", "--instrument", INSTRUMENT,
                            "--missing", "listwise", model=lav, name="lw")
    assert js["nobs"] == fm["nobs"] == 220
    assert js["fit_measures"]["chisq"] == pytest.approx(fm["chisq"], abs=5e-3)
    assert "220 of 400 rows used, 180 dropped (incomplete)" in printed


# --------------------------------------------------------------------------- every format
@pytest.fixture(scope="module")
def hs_formats(tmp_path_factory):
    d = tmp_path_factory.mktemp("formats")
    df = with_chinese_column(pd.read_csv(HS_MISSING))
    return {fmt: write_as(df, d, fmt) for fmt in FORMATS}


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_gives_the_same_fit(hs_formats, fmt, tmp_path, capsys):
    path, extra, detected = hs_formats[fmt]
    printed, _, js = fitted(tmp_path, capsys, path, *extra)
    assert js["nobs"] == 300 and js["rows"] == 301
    ref = fiml_ref("hs_fiml")["fit_measures"]
    assert js["fit_measures"]["chisq"] == pytest.approx(ref["chisq"], abs=2e-3)
    head = printed.splitlines()[0]
    for key, value in detected.items():
        shown = {"utf-8-sig": "utf-8-sig", "gb18030": "gb18030", ",": "comma-separated", ";": "semicolon-separated",
                 "\t": "tab-separated", r"\s+": "whitespace-separated"}.get(value, value)
        assert shown in head, (key, head)


def test_missing_sheet_lists_the_sheets(hs_formats, capsys):
    path, _, _ = hs_formats["xlsx_name"]
    code, _, err = run_fit(capsys, HS_LAV, path, "--sheet", "Sheet9")
    assert code == 2 and "has no sheet 'Sheet9'; sheets: 说明, 答卷数据" in err and err.count("\n") == 1
    code, _, err = run_fit(capsys, HS_LAV, path, "--sheet", "5")
    assert code == 2 and "has no sheet number 5 (it has 2: 说明, 答卷数据)" in err


def test_encoding_option(hs_formats, capsys):
    path, _, _ = hs_formats["gbk"]
    code, out, _ = run_fit(capsys, HS_LAV, path, "--encoding", "gbk")
    assert code == 0 and "(csv, gbk, comma-separated)" in out
    code, _, err = run_fit(capsys, HS_LAV, path, "--encoding", "utf-8")
    assert code == 2 and "cannot be decoded as utf-8" in err and "row " in err


def test_delimiter_option(hs_formats, capsys):
    path, _, _ = hs_formats["semicolon"]
    code, _, err = run_fit(capsys, HS_LAV, path, "--delimiter", "comma")
    assert code == 2 and "all values are in one column with delimiter ','" in err and "--delimiter ';'" in err
    code, out, _ = run_fit(capsys, HS_LAV, path, "--delimiter", "semicolon")
    assert code == 0 and "semicolon-separated" in out


# --------------------------------------------------------------------------- column maps
@pytest.fixture(scope="module")
def renamed(tmp_path_factory):
    """hs_missing with x1 -> 视觉1 and x2 -> 'visual 2' (GBK)."""
    d = tmp_path_factory.mktemp("renamed")
    df = pd.read_csv(HS_MISSING).rename(columns={"x1": "视觉1", "x2": "visual 2"})
    p = d / "renamed.csv"
    p.write_bytes(df.to_csv(index=False).encode("gbk"))
    return p


def test_map_pairs_and_file_give_the_same_fit(renamed, tmp_path, capsys):
    code, _, err = run_fit(capsys, HS_LAV, renamed)
    assert code == 2 and "no column for the model variable(s) x1, x2" in err and "--map" in err
    _, _, by_pairs = fitted(tmp_path, capsys, renamed, "--map", "视觉1=x1", "--map", "visual 2=x2", name="a")
    y = tmp_path / "map.yaml"
    y.write_text("视觉1: x1\n'visual 2': x2\n", encoding="utf-8")
    _, _, by_file = fitted(tmp_path, capsys, renamed, "--map", y, name="b")
    ref = fiml_ref("hs_fiml")["fit_measures"]["chisq"]
    assert by_pairs["fit_measures"]["chisq"] == pytest.approx(ref, abs=2e-3)
    assert by_file["fit_measures"] == by_pairs["fit_measures"]


def test_reversed_pair_is_read_with_a_note(renamed, tmp_path, capsys):
    printed, _, js = fitted(tmp_path, capsys, renamed, "--map", "x1=视觉1", "--map", "visual 2=x2")
    assert "note: --map x1=视觉1: read as file column '视觉1' -> 'x1'" in printed
    assert js["nobs"] == 300


def test_ambiguous_and_bad_pairs_are_errors(tmp_path, capsys):
    # x1=x2 where the file has both columns and both are model variables: reads both ways
    code, _, err = run_fit(capsys, HS_LAV, HS_MISSING, "--map", "x1=x2")
    assert code == 2 and "ambiguous" in err and "--map MAP.yaml" in err and err.count("\n") == 1
    code, _, err = run_fit(capsys, HS_LAV, HS_MISSING, "--map", "nope=x1")
    assert code == 2 and "--map: nope=x1: this column is not in the data file" in err
    code, _, err = run_fit(capsys, HS_LAV, HS_MISSING, "--map", "sex=x99")
    assert code == 2 and "unknown model variable 'x99'" in err
    code, _, err = run_fit(capsys, HS_LAV, HS_MISSING, "--map", str(tmp_path / "none.yaml"))
    assert code == 2 and "column map file not found" in err


# --------------------------------------------------------------------------- model files
def test_model_file_in_gbk_and_with_bom(tmp_path, capsys):
    text = "# 三因子模型 (Holzinger & Swineford)\n" + HS_LAV.read_text(encoding="utf-8")
    ref = fiml_ref("hs_fiml")["fit_measures"]["chisq"]
    for enc in ("gbk", "utf-8-sig", "utf-16"):
        m = tmp_path / f"model_{enc}.lav"
        m.write_bytes(text.encode(enc))
        _, _, js = fitted(tmp_path, capsys, HS_MISSING, model=m, name=enc)
        assert js["fit_measures"]["chisq"] == pytest.approx(ref, abs=2e-3), enc


def test_unreadable_model_file_is_one_line(tmp_path, capsys):
    m = tmp_path / "model.lav"
    m.write_bytes(b"\x00\x01\x02PK\x03\x04" * 20)
    code, _, err = run_fit(capsys, m, HS_MISSING)
    assert code == 2 and "model.lav" in err and "binary file" in err and "Traceback" not in err
    code, _, err = run_fit(capsys, tmp_path / "none.lav", HS_MISSING)
    assert code == 2 and "model file not found" in err


# --------------------------------------------------------------------------- bootstrap, covariates, bad cells
def test_bootstrap_keeps_the_missing_treatment(tmp_path, capsys):
    printed, est, js = fitted(tmp_path, capsys, HS_MISSING, "--bootstrap", "20", "--seed", "1", "--jobs", "1",
                              name="ml")
    assert js["missing"] == "ml" and js["nobs"] == 300 and "bootstrap (R = 20" in printed
    ref = fiml_ref("hs_fiml")
    assert js["fit_measures"]["chisq"] == pytest.approx(ref["fit_measures"]["chisq"], abs=2e-3)
    _, _, js = fitted(tmp_path, capsys, HS_MISSING, "--bootstrap", "20", "--seed", "1", "--jobs", "1",
                      "--missing", "listwise", name="lw")
    assert js["missing"] == "listwise" and js["nobs"] == 180


def test_fixed_covariates_with_ml_as_lavaan(tmp_path, capsys):
    """FIML with fixed exogenous covariates (x1-x3): lavaan's numbers (int_pd_path_fiml.json from
    make_references_integration.R); listwise drops the incomplete row."""
    d = pd.read_csv(REF / "PoliticalDemocracy.csv")
    d.loc[3, "y1"] = np.nan
    f = tmp_path / "pd.csv"
    d.to_csv(f, index=False)
    ref = json.loads((REF / "int_pd_path_fiml.json").read_text())
    out_csv = tmp_path / "pd_est.csv"
    code, out, _ = run_fit(capsys, REF / "pd_path.lav", f, "-o", str(out_csv))
    assert code == 0 and "75 of 75 rows used" in out
    js = json.loads((tmp_path / "pd_est_fit.json").read_text())
    assert js["nobs"] == ref["nobs"] and js["fit_measures"]["chisq"] == pytest.approx(ref["fit_measures"]["chisq"],
                                                                                      abs=1e-3)
    code, out, _ = run_fit(capsys, REF / "pd_path.lav", f, "--missing", "listwise")
    assert code == 0 and "74 of 75 rows used, 1 dropped" in out


def test_text_in_a_model_variable_names_row_and_column(tmp_path, capsys):
    d = pd.read_csv(HS_MISSING)
    d[["x4", "x5"]] = d[["x4", "x5"]].astype(object)
    d.loc[9, "x5"] = "n.a."
    d.loc[4, "x4"] = "NA"          # a missing-value token, not an error
    f = tmp_path / "bad.csv"
    d.to_csv(f, index=False)
    code, _, err = run_fit(capsys, HS_LAV, f)
    assert code == 2 and "row 11, column 'x5', value 'n.a.': not a number" in err


# --------------------------------------------------------------------------- --instrument: no personal data out
def test_instrument_keeps_phone_numbers_out(tmp_path, capsys):
    from crm_research.simulate.survey import load_population, simulate_survey

    pop = load_population(ROOT / "surveys" / "ecommerce_crm_population.yaml")
    resp = simulate_survey(pop, 200, 5, missing="MCAR", missing_rate=0.02, careless=0.0).responses
    assert "phone" in resp.columns
    phones = [p for p in resp["phone"].dropna().astype(str) if len(p) >= 7]
    data = tmp_path / "survey.xlsx"
    resp.to_excel(data, index=False)
    model = tmp_path / "m.lav"
    model.write_text("PF =~ PF1 + PF2 + PF3\nSQ =~ SQ1 + SQ2 + SQ3\nSAT =~ SAT1 + SAT2 + SAT3\n", encoding="utf-8")
    out = tmp_path / "est.csv"
    code, printed, err = run_fit(capsys, model, data, "--instrument", INSTRUMENT, "-o", out)
    assert code == 0, err
    assert re.search(r"Personal data: .*phone \(phone, pseudonymized\)", printed)
    written = printed + out.read_text() + (tmp_path / "est_fit.json").read_text()
    assert phones and not any(p in written for p in phones)
    # the phone column cannot define groups, and without --instrument it is never read
    code, _, err = run_fit(capsys, model, data, "--instrument", INSTRUMENT, "--group", "phone")
    assert code == 2 and "personal data" in err
    code, _, err = run_fit(capsys, model, data, "--group", "phone")
    assert code == 2 and "looks like personal data (phone)" in err

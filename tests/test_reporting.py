"""Reporting helpers: APA number/table formatting, recorded results, provenance, HTML export
and its personal-data guard. No kernel is started here."""
from __future__ import annotations

import hashlib
import json
import socket

import nbformat
import pandas as pd
import pytest

from crm_research import reporting
from crm_research.reporting import results as res
from crm_research.reporting.export import PersonalDataError, export_html, find_personal_data, scan_text
from crm_research.reporting.tables import (apa_table, fit_table, format_ci, format_number, format_p,
                                           hypotheses_table, loadings_table, matrix_table, reliability_table)


# --------------------------------------------------------------------------- numbers
@pytest.mark.parametrize("x, kw, expected", [
    (0.9712, dict(decimals=2, bounded=True), ".97"),
    (-0.234, dict(decimals=2, bounded=True), "\u2212.23"),
    (1.0, dict(decimals=2, bounded=True), "1.00"),         # bounded, but 1 keeps its integer part
    (0.5, dict(decimals=2), "0.50"),                        # not bounded: leading zero stays
    (12345.678, dict(decimals=1), "12,345.7"),
    (-0.001, dict(decimals=2), "0.00"),                     # no "−0.00"
    (1500, dict(), "1,500"),
    (None, dict(), "\u2014"),
    (float("nan"), dict(), "\u2014"),
])
def test_format_number(x, kw, expected):
    assert format_number(x, **kw) == expected


@pytest.mark.parametrize("p, expected", [(0.0004, "< .001"), (0.001, ".001"), (0.0123, ".012"),
                                         (0.05, ".050"), (0.9999, "> .999"), (1.0, "1.000")])
def test_format_p(p, expected):
    assert format_p(p) == expected


def test_format_p_in_text_and_range():
    assert format_p(0.03, prefix=True) == "p = .030"
    assert format_p(1e-9, prefix=True) == "p < .001"
    with pytest.raises(ValueError):
        format_p(1.2)


def test_format_ci():
    assert format_ci(0.123, 0.456, bounded=True) == "[.12, .46]"
    assert format_ci(-1.5, 2.25, 2) == "[\u22121.50, 2.25]"


# --------------------------------------------------------------------------- tables
def test_apa_table_roles_and_html():
    df = pd.DataFrame({"Construct": ["SAT", "LOY"], "alpha": [0.912, 0.8], "pvalue": [0.0002, 0.2],
                       "n": [1500, 980], "M": [3.456, 2.0]})
    t = apa_table(df, title="Reliability", note="Toy.", number=2)
    assert t.columns == ["Construct", "alpha", "p", "n", "M"]          # pvalue -> p
    assert t.rows == [["SAT", ".91", "< .001", "1,500", "3.46"], ["LOY", ".80", ".200", "980", "2.00"]]
    h = t.to_html()
    assert "<p class=\"apa-number\">Table 2</p>" in h and "<i>Note.</i>Toy." in h
    assert "<th><i>p</i></th>" in h and "<th><i>M</i></th>" in h      # statistical symbols italic
    assert t.data.equals(df)                                           # values untouched
    assert "Reliability" in t.summary() and "| SAT | .91 |" in t.to_markdown()


def test_apa_table_explicit_bounded_and_missing_columns():
    df = pd.DataFrame({"r": [0.5], "x": [0.5]})
    assert apa_table(df, bounded_cols=["x"]).rows == [["0.50", ".50"]]
    with pytest.raises(KeyError):
        apa_table(df, bounded_cols=["nope"])


def test_fit_table_single_and_several_models():
    fit = {"chisq": 312.456, "df": 246, "pvalue": 0.0027, "cfi": 0.987, "tli": 0.9851, "rmsea": 0.0234,
           "rmsea.ci.lower": 0.0141, "rmsea.ci.upper": 0.0312, "srmr": 0.0321}
    t = fit_table(fit)
    assert t.columns == ["χ²", "df", "p", "CFI", "TLI", "RMSEA", "90% CI", "SRMR"]
    assert t.rows == [["312.46", "246", ".003", ".987", ".985", ".023", "[.014, .031]", ".032"]]
    t2 = fit_table({"Full": fit, "Partial": {**fit, "chisq": 300.0, "df": 245}})
    assert [r[0] for r in t2.rows] == ["Full", "Partial"] and t2.rows[1][1] == "300.00"
    with pytest.raises(KeyError):
        fit_table(fit, measures=["cfi", "bogus"])


def test_loadings_table_groups_by_construct_and_marks_fixed_loadings():
    est = pd.DataFrame({"lhs": ["SAT", "SAT", "LOY"], "op": ["=~"] * 3, "rhs": ["SAT1", "SAT2", "LOY1"],
                        "est": [1.0, 1.1, 1.0], "se": [0.0, 0.05, 0.0], "z": [None, 22.0, None],
                        "pvalue": [None, 1e-9, None], "std.all": [0.81, 0.85, 0.77]})
    t = loadings_table(est)
    assert t.groups == [(0, "SAT"), (2, "LOY")]
    assert t.rows[0] == ["SAT1", "1.00", "\u2014", "\u2014", "\u2014", ".81"]
    assert t.rows[1] == ["SAT2", "1.10", "0.05", "22.00", "< .001", ".85"]


def test_reliability_and_hypotheses_and_matrix_tables():
    rel = reliability_table(pd.DataFrame({"construct": ["SAT"], "alpha": [0.871], "cr": [0.88], "ave": [0.71]}))
    assert rel.columns == ["Construct", "α", "CR", "AVE"] and rel.rows == [["SAT", ".87", ".88", ".71"]]
    hyp = hypotheses_table(pd.DataFrame({"hypothesis": ["H1"], "path": ["SAT ~ OPS"], "std.all": [0.41],
                                         "pvalue": [0.0001], "supported": [True]}))
    assert hyp.rows == [["H1", "OPS → SAT", ".41", "< .001", "Yes"]]
    m = pd.DataFrame([[1, 0.5], [0.5, 1]], index=["A", "B"], columns=["A", "B"])
    mt = matrix_table(m, diagonal={"A": 0.84, "B": 0.8})
    assert mt.rows == [["1. A", ".84", ""], ["2. B", ".50", ".80"]]


# --------------------------------------------------------------------------- recorded results
def test_record_is_a_noop_outside_a_batch(tmp_path, monkeypatch):
    monkeypatch.delenv(res.RUN_DIR_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    reporting.record("cfi", 0.97, display=False)
    assert reporting.record_table("t", pd.DataFrame({"a": [1]})) is None
    assert list(tmp_path.iterdir()) == []


def test_record_writes_and_last_value_wins(tmp_path, monkeypatch):
    import numpy as np

    monkeypatch.setenv(res.RUN_DIR_ENV, str(tmp_path))
    reporting.record("cfi", np.float64(0.9712), label="CFI", decimals=3, bounded=True, display=False)
    reporting.record("n", np.int64(500), display=False)
    reporting.record("cfi", 0.95, label="CFI", bounded=True, display=False)
    reporting.record("missing", float("nan"), display=False)
    recs = res.read_records(tmp_path)
    assert [r["key"] for r in recs] == ["cfi", "n", "missing"]
    assert recs[0]["value"] == 0.95 and recs[1]["value"] == 500 and isinstance(recs[1]["value"], int)
    assert recs[2]["value"] is None
    assert res.Record(**recs[0]).text == ".950"
    path = reporting.record_table("coefs", pd.DataFrame({"x": [1, 2], "mixed": [1, "a"]}))
    back = pd.read_parquet(path)
    assert back["x"].tolist() == [1, 2] and back["mixed"].tolist() == ["1", "a"]
    assert (tmp_path / "results" / "coefs.csv").exists()


def test_record_rejects_bad_keys_and_values(monkeypatch):
    monkeypatch.delenv(res.RUN_DIR_ENV, raising=False)
    with pytest.raises(ValueError):
        reporting.record("bad key", 1, display=False)
    with pytest.raises(TypeError, match="record_table"):
        reporting.record("df", pd.DataFrame({"a": [1]}), display=False)


# --------------------------------------------------------------------------- provenance
def test_provenance_fields(tmp_path, monkeypatch):
    data = tmp_path / "data.csv"
    data.write_bytes(b"a,b\n1,2\n")
    monkeypatch.setenv("CRM_RESEARCH_PROJECT_DIR", str(tmp_path))  # not a git repository
    p = reporting.provenance({"responses_path": str(data), "n": 5, "seed": 42})
    assert p.seed == 42
    assert [f.path for f in p.data_files] == ["data.csv"]                 # project-relative
    assert p.data_files[0].sha256 == hashlib.sha256(b"a,b\n1,2\n").hexdigest()
    assert p.parameters["responses_path"] == "data.csv"
    assert set(p.versions) == {"python", "crm-research", "pandas", "numpy", "scipy", "semopy", "pingouin",
                               "duckdb", "papermill", "seaborn"}
    assert p.versions["pandas"] == pd.__version__
    assert p.git == {"revision": None, "dirty": None}                    # no git: handled
    assert p.started <= p.finished and p.finished.endswith("Z")
    blob = json.dumps(p.to_dict()) + p._repr_html_() + p.summary()
    assert socket.gethostname() not in blob and str(tmp_path) not in blob
    with pytest.raises(FileNotFoundError):
        reporting.provenance({}, data_files=[tmp_path / "missing.csv"])


def test_provenance_git_revision_and_dirty_flag(tmp_path, monkeypatch):
    import shutil
    import subprocess

    if shutil.which("git") is None:
        pytest.skip("git not installed")
    run = lambda *a: subprocess.run(["git", "-C", str(tmp_path), *a], check=True, capture_output=True)  # noqa: E731
    run("init", "-q")
    (tmp_path / "f.txt").write_text("1")
    run("add", "f.txt")
    run("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "x")
    monkeypatch.setenv("CRM_RESEARCH_PROJECT_DIR", str(tmp_path))
    clean = reporting.provenance({})
    head = subprocess.run(["git", "-C", str(tmp_path), "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    assert clean.git == {"revision": head, "dirty": False}
    (tmp_path / "f.txt").write_text("2")
    assert reporting.provenance({}).git["dirty"] is True


# --------------------------------------------------------------------------- export
def _nb(outputs_text: str, source: str = "print(x)", tags=()) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    c = nbformat.v4.new_code_cell(source, metadata={"tags": list(tags)} if tags else {})
    c.outputs = [nbformat.v4.new_output("stream", name="stdout", text=outputs_text)]
    nb.cells = [nbformat.v4.new_markdown_cell("# Title"), c]
    return nb


def test_export_hides_code_by_default_and_shows_it_on_request(tmp_path):
    nb = _nb("the answer is 42", source="secret_variable_name = 42\nprint('the answer is', 42)")
    hidden = export_html(nb, tmp_path / "r.html")
    assert "the answer is 42" in hidden and "secret_variable_name" not in hidden
    assert (tmp_path / "r.html").read_text(encoding="utf-8") == hidden
    shown = export_html(nb, show_code=True)
    assert "secret_variable_name" in shown
    assert "<title>Title</title>" in hidden


def test_export_removes_tagged_cells():
    nb = _nb("do not show me", tags=["remove-cell"])
    assert "do not show me" not in export_html(nb)


@pytest.mark.parametrize("text, kind", [("call 138 1234 5678", "phone"), ("13912345678", "phone"),
                                        ("write to zhang.wei@example.com", "email"),
                                        ("+44 20 7946 0958", "phone")])
def test_export_refuses_personal_data(text, kind):
    with pytest.raises(PersonalDataError) as e:
        export_html(_nb(text))
    assert e.value.findings[0].kind == kind
    raw = text.split()[-1] if kind == "email" else None
    assert raw is None or raw not in str(e.value)                       # the message masks it


def test_personal_data_in_html_outputs_and_code_when_shown():
    nb = nbformat.v4.new_notebook()
    c = nbformat.v4.new_code_cell("phone = '13812345678'")
    c.outputs = [nbformat.v4.new_output("display_data", data={"text/html": "<td>a@b.org</td>", "text/plain": "x"})]
    nb.cells = [c]
    kinds = [f.kind for f in find_personal_data(nb)]
    assert kinds == ["email"]
    assert sorted(f.kind for f in find_personal_data(nb, include_code=True)) == ["email", "phone"]


def test_no_false_alarm_on_hashes_decimals_and_versions():
    text = ("sha256 1381234567801234567890abcdef13812345678ab revision 4f13812345678901ab "
            "value 0.13812345678 version 3.11.7 n = 1,381,234,567")
    assert scan_text(text) == []


def test_record_table_ignores_attrs_that_are_not_data(tmp_path, monkeypatch):
    # invariance.compare_paths keeps its fitted models in DataFrame.attrs; recording the table
    # inside a batch run must store the table, not fail on the attrs' JSON encoding.
    from crm_research.reporting import results as res

    monkeypatch.setenv(res.RUN_DIR_ENV, str(tmp_path))
    df = pd.DataFrame({"path": ["SAT~OPS"], "p": [0.01]})
    df.attrs["fits"] = {"base": object()}
    path = reporting.record_table("paths", df, display=False)
    back = pd.read_parquet(path)
    assert back.to_dict("list") == {"path": ["SAT~OPS"], "p": [0.01]}
    assert df.attrs["fits"]  # the caller's frame is untouched

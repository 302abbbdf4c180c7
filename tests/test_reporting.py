"""Reporting helpers: APA number/table formatting, recorded results, provenance, HTML export
and its personal-data guard. No kernel is started here."""
from __future__ import annotations

import hashlib
import json
import re
import socket

import nbformat
import pandas as pd
import pytest

from crm_research import reporting
from crm_research.reporting import results as res
from crm_research.reporting.export import PersonalDataError, export_html, find_personal_data, scan_text
from crm_research.reporting.format import format_ci, format_number, format_p
from crm_research.reporting.tables import (apa_table, fit_table, hypotheses_table, loadings_table, matrix_table,
                                           reliability_table)


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
                                         (0.05, ".050"), (0.9999, "> .999"), (1.0, "> .999")])
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


# =========================================================================== narrative, display, records
# of the survey notebooks. Sentences take their words from the instrument and the numbers.
from pathlib import Path as _Path
from types import SimpleNamespace

import numpy as np

from crm_research.reporting import narrative as nar
from crm_research.reporting.display import Narrative, r2_labels, warnings_box

_ROOT = _Path(__file__).resolve().parents[1]
_SQ = _ROOT / "tests" / "data" / "service_quality" / "service_quality.yaml"
#: words of the bundled (source) study that generic text must never contain on another instrument
SOURCE_WORDS = ("OPS", "CRM", "SAT", "LOY", "H1", "H2", "H3", "H4", "R1", "27 items", "nine", "model A",
                "model B", "AMOS", "satisfaction → loyalty", "e-commerce", "platform")


@pytest.fixture(scope="module")
def sq_inst():
    from crm_research.instruments import load_instrument

    return load_instrument(_SQ)


@pytest.fixture(scope="module")
def bundled_inst():
    from crm_research.instruments import load_instrument

    return load_instrument(_ROOT / "surveys" / "ecommerce_crm.yaml")


def _no_source_words(text: str) -> None:
    import re

    for w in SOURCE_WORDS:
        assert not re.search(rf"(?<![A-Za-z]){re.escape(w)}(?![A-Za-z0-9])", text), (w, text)


@pytest.mark.parametrize("fm, expected", [
    ({"cfi": 0.95, "tli": 0.95, "rmsea": 0.06, "srmr": 0.08}, "good"),           # cut-offs are inclusive
    ({"cfi": 0.9499, "tli": 0.96, "rmsea": 0.05, "srmr": 0.05}, "acceptable"),
    ({"cfi": 0.97, "tli": 0.97, "rmsea": 0.0801, "srmr": 0.05}, "poor"),
    ({"cfi": 0.97, "tli": 0.97, "rmsea": 0.03, "srmr": 0.1001}, "poor"),
    ({"cfi": 0.89, "rmsea": 0.03}, "poor"),
])
def test_fit_rating_overall(fm, expected):
    assert nar.fit_rating(fm)["overall"] == expected


def test_fit_rating_per_index():
    r = nar.fit_rating({"cfi": 0.92, "tli": float("nan"), "rmsea": 0.07, "srmr": 0.09})
    assert r == {"cfi": "acceptable", "rmsea": "acceptable", "srmr": "acceptable", "overall": "acceptable"}


def test_describe_fit_reads_the_numbers():
    good = nar.describe_fit({"chisq": 150.2, "df": 129, "pvalue": 0.1, "cfi": 0.97, "tli": 0.965,
                             "rmsea": 0.031, "rmsea.ci.lower": 0.0, "rmsea.ci.upper": 0.045, "srmr": 0.04})
    assert "χ²(129) = 150.20, p = .100 (exact fit not rejected)" in good
    assert "CFI = .970 (≥ .95: good)" in good and "RMSEA = .031, 90% CI [.000, .045] (≤ .06: good)" in good
    assert "Overall, the model fits the data well" in good
    bad = nar.describe_fit({"chisq": 900.0, "df": 100, "pvalue": 1e-9, "cfi": 0.85, "rmsea": 0.12,
                            "srmr": 0.07}, "The CFA")
    assert "p < .001 (exact fit rejected" in bad and "CFI = .850 (misses ≥ .90: poor)" in bad
    assert "Overall, the CFA does not fit the data well" in bad and "SRMR = .070 (≤ .08: good)" in bad
    assert bad._repr_markdown_() == str(bad)


def test_describe_fit_change():
    t = nar.describe_fit_change({"chisq": 130.0, "df": 60, "cfi": 0.97, "rmsea": 0.04, "srmr": 0.05},
                                {"chisq": 120.5, "df": 57}, "the higher-order structure")
    assert "Δχ²(3) = 9.50" in t and "the higher-order structure" in t and "good" in t


def test_describe_hypotheses_counts_support_without_claims_about_another_study():
    t = pd.DataFrame({"hypothesis": ["P1", "P4"], "path": ["STAFF → OSAT", "OSAT → REC"], "expected": ["+", "+"],
                      "std.all": [0.41, 0.05], "est": [0.5, 0.06], "se": [0.1, 0.08], "z": [5.0, 0.75],
                      "pvalue": [1e-6, 0.45], "ci.lower": [0.3, -0.1], "ci.upper": [0.7, 0.22],
                      "supported": [True, False], "verdict": ["supported", "not supported (p = .450 ≥ .05)"]})
    text = nar.describe_hypotheses(t, "95% normal-theory CI", 0.05)
    assert text.startswith("1 of 2 hypotheses is supported at α = .05")
    assert "**P1** (STAFF → OSAT, expected positive): β = .41" in text and "[0.30, 0.70]" in text
    assert "source" not in text and "replicate" not in text
    _no_source_words(text)


def test_context_is_printed_only_when_the_instrument_has_one(sq_inst, bundled_inst):
    assert sq_inst.context is None and nar.describe_context(sq_inst) == ""
    ctx = nar.describe_context(bundled_inst)
    assert ctx.startswith("**About this study.**") and bundled_inst.context.reference in ctx


def test_instrument_and_model_sentences_come_from_the_instrument(sq_inst):
    text = nar.describe_instrument(sq_inst)
    assert "`bank_service` has 14 items" in text
    assert "6-point (1 to 6), 10-point (1 to 10) and 11-point (0 to 10) scales" in text
    assert "OSAT and REC are single-item constructs" in text and "`core`" in text and "`extended`" in text
    core = nar.describe_model(sq_inst, "core")
    assert "**P1** STAFF → OSAT" in core and "STAFF → OSAT → REC" in core and "no direct path STAFF → REC" in core
    ext = nar.describe_model(sq_inst, "extended")
    assert "2 indirect effects" in ext and "TRUST → REC and FEES → REC" in ext
    for t in (text, core, ext):
        _no_source_words(t)


def test_a_model_without_indirect_effects_says_so(sq_inst):
    import dataclasses

    spec = dataclasses.replace(sq_inst.models["core"], indirect=())
    inst = dataclasses.replace(sq_inst, models={"plain": spec})
    t = nar.describe_model(inst, "plain")
    assert "declares no indirect effect" in t and "full mediation" not in t


def _sample(items):
    return SimpleNamespace(n_kept=len(items), instrument=SimpleNamespace(item_ids=list(items.columns)),
                           n_analysed=lambda m, cols=None: int(
                               (items[cols or list(items.columns)].notna().any(axis=1) if m == "ml" else
                                items[cols or list(items.columns)].notna().all(axis=1)).sum()))


def test_describe_missing_data_states_both_counts_and_the_choice():
    items = pd.DataFrame({"A": [1, None, 3, 4, None], "B": [1, 2, None, 4, None]})
    s = _sample(items)
    ml = nar.describe_missing_data(s, "ml")
    assert "uses **4** respondents" in ml and "would use **2**" in ml and "2 fewer (50.0%)" in ml
    assert "This run uses full-information maximum likelihood (FIML): N = 4." in ml
    assert "1 kept respondent(s) answered none" in ml
    lw = nar.describe_missing_data(s, "listwise", nobs=3)
    assert "This run uses listwise deletion: N = 2." in lw and "The estimation reports N = 3" in lw
    full = nar.describe_missing_data(_sample(pd.DataFrame({"A": [1, 2], "B": [3, 4]})), "ml")
    assert "both use **N = 2**" in full


def test_describe_estimation_mentions_a_bootstrap_only_when_there_was_one():
    plain = nar.describe_estimation(SimpleNamespace(nobs=377, bootstrap=None, ci_level=0.95), "ml",
                                    n_available=377)
    assert "maximum likelihood (ML)" in plain and "full-information" in plain and "N = 377" in plain
    assert "bootstrap" not in plain.lower() and "95% normal-theory" in plain
    boot = SimpleNamespace(R=500, n_ok=497, ci_type="perc")
    b = nar.describe_estimation(SimpleNamespace(nobs=345, bootstrap=boot, ci_level=0.95), "listwise",
                                n_available=377)
    assert "listwise deletion" in b and "N = 345 respondents of the 377 kept" in b
    assert "bootstrap percentile intervals from R = 500 resamples" in b and "3 resample(s) failed" in b
    assert nar.ci_label(SimpleNamespace(bootstrap=boot, ci_level=0.95)) == "95% bootstrap percentile CI (R = 500, 497 used)"
    assert "bootstrap" not in nar.ci_label(SimpleNamespace(bootstrap=None, ci_level=0.95))


def test_describe_comparison_names_the_declared_mediators():
    comp = SimpleNamespace(restricted="full mediation", full="partial mediation", names=("partial mediation", "full mediation"),
                           pvalue=0.30, alpha=0.05, delta_cfi=-0.001, delta_aic=-1.2, delta_bic=-6.0,
                           apa=lambda: "Δχ²(1) = 1.07, p = .300")
    ind = [{"from": "STAFF", "via": "OSAT", "to": "REC"}]
    t = nar.describe_comparison(comp, ind)
    assert "**Preferred: full mediation** (3 of 3 criteria agree)" in t
    assert "The direct path STAFF → REC adds nothing the data need: OSAT carries the effect of STAFF on REC." in t
    assert nar.preferred_model(comp) == "full mediation"
    comp2 = SimpleNamespace(**{**vars(comp), "pvalue": 0.001, "delta_aic": 8.0, "delta_bic": 2.0})
    assert nar.preferred_model(comp2) == "partial mediation"
    assert "The direct path is needed" in nar.describe_comparison(comp2, ind)
    _no_source_words(t)


def test_describe_relative_effects_judges_by_the_interval_of_the_difference():
    rel = pd.DataFrame([
        {"effect": "std.OSAT.STAFF", "kind": "path", "outcome": "OSAT", "predictor": "STAFF", "other": "", "mediator": "",
         "description": "STAFF → OSAT", "est": 0.35, "ci.lower": 0.2, "ci.upper": 0.5, "significant": True},
        {"effect": "std.OSAT.DIGI", "kind": "path", "outcome": "OSAT", "predictor": "DIGI", "other": "", "mediator": "",
         "description": "DIGI → OSAT", "est": 0.12, "ci.lower": 0.0, "ci.upper": 0.25, "significant": False},
        {"effect": "diff.OSAT.STAFF.DIGI", "kind": "path difference", "outcome": "OSAT", "predictor": "STAFF",
         "other": "DIGI", "mediator": "", "description": "(STAFF → OSAT) − (DIGI → OSAT)", "est": 0.23,
         "ci.lower": 0.02, "ci.upper": 0.44, "significant": True},
        {"effect": "inddiff.REC.OSAT.STAFF.DIGI", "kind": "indirect difference", "outcome": "REC", "predictor": "STAFF",
         "other": "DIGI", "mediator": "OSAT", "description": "x", "est": 0.1, "ci.lower": -0.01,
         "ci.upper": 0.2, "significant": False}])
    t = nar.describe_relative_effects(rel)
    assert "STAFF β = .35, DIGI β = .12" in t and "**STAFF has the stronger effect on OSAT**" in t
    assert "of STAFF and DIGI on REC through OSAT differ by .100" in t and "no reliable difference" in t
    rel.loc[2, ["ci.lower", "significant"]] = [-0.01, False]
    assert "do not tell which is stronger" in nar.describe_relative_effects(rel)


def test_describe_alone_vs_together_uses_the_outcome_of_the_table():
    avt = pd.DataFrame({"outcome": ["OSAT", "OSAT"], "predictor": ["STAFF", "DIGI"], "beta_alone": [0.5, 0.4],
                        "beta_together": [0.35, 0.2], "change": [-0.15, -0.2]})
    est = pd.DataFrame({"lhs": ["STAFF"], "op": ["~~"], "rhs": ["DIGI"], "std.all": [0.41]})
    t = nar.describe_alone_vs_together(avt, SimpleNamespace(estimates=est))
    assert "STAFF → OSAT: β = .50 alone, .35 together" in t and "r(STAFF, DIGI) = .41" in t
    assert "part of OSAT it shares" in t
    _no_source_words(t)


def test_describe_r_squared_and_labels():
    t = nar.describe_r_squared({"OSAT": 0.36, "REC": 0.01}, {"OSAT": ["STAFF", "DIGI"], "REC": ["OSAT"]})
    assert "STAFF and DIGI explain 36% of the variance of OSAT (R² = .36, large" in t
    assert "OSAT explains 1% of the variance of REC (R² = .01, negligible" in t
    assert r2_labels({"OSAT": 0.36}) == {"OSAT": "OSAT\nR² = .36"}


def test_describe_measurement_with_single_items_prints_no_empty_numbers():
    th = SimpleNamespace(loading=0.6, alpha=0.7, omega=0.7, cr=0.7, ave=0.5, htmt=0.85)
    rel = pd.DataFrame({"construct": ["STAFF", "OSAT"], "level": ["first-order"] * 2, "n_items": [3, 1],
                        "alpha": [0.82, np.nan], "omega": [0.83, np.nan], "cr": [0.84, np.nan], "ave": [0.45, np.nan],
                        "flag": [True, False]})
    load = pd.DataFrame({"item": ["ST1", "ST2", "ST3", "OS1"], "construct": ["STAFF"] * 3 + ["OSAT"],
                         "loading": [0.8, 0.75, 0.55, 1.0], "flag": [False, False, True, False]})
    rep = SimpleNamespace(thresholds=th, reliability=rel, loadings=load, flagged={"fornell_larcker": [], "htmt": []},
                          discriminant=pd.DataFrame(), harman=None, ok=False)
    t = nar.describe_measurement(rep)
    assert "from .55 to .80" in t and "ST3 on STAFF (.55)" in t
    assert "OSAT is measured by a single item" in t and "OSAT: single item, so no α, ω, CR or AVE" in t
    assert "STAFF (AVE .45 < .50)" in t and "Only AVE falls short" in t
    assert not re.search(r"\bnan\b", t.lower()) and "—" not in t


def test_not_applicable_and_narrative_concat():
    assert "declares no indirect effect" in nar.not_applicable("Mediation", "model m declares no indirect effect")
    assert Narrative.concat(["a", "", None, "b"], sep="\n\n") == "a\n\nb"


def test_warnings_box_dedupes_and_escapes():
    box = warnings_box(SimpleNamespace(warnings=["Heywood case: <X3>", "x"]), ["x", "y"], None)
    assert box.messages == ["Heywood case: <X3>", "x", "y"] and bool(box)
    h = box._repr_html_()
    assert "&lt;X3&gt;" in h and "(3)" in h and "role='alert'" in h
    empty = warnings_box(SimpleNamespace(warnings=[]))
    assert not empty and "No estimation warnings" in empty._repr_html_()


def test_overview_tables_of_another_instrument(sq_inst):
    from crm_research.reporting.overview import construct_overview, hypotheses_overview, models_overview

    c = construct_overview(sq_inst).set_index("construct")
    assert c.loc["OSAT", "items"] == 1 and c.loc["STAFF", "measured_by"] == "ST1, ST2, ST3"
    h = hypotheses_overview(sq_inst).set_index("hypothesis")
    assert h.loc["P1", "models"] == "core, extended" and h.loc["P5", "path"] == "TRUST → OSAT"
    m = models_overview(sq_inst).set_index("model")
    assert m.loc["extended", "indirect"] == "TRUST → OSAT → REC; FEES → OSAT → REC"


def test_study_records_reach_the_batch_run_folder(tmp_path, monkeypatch):
    from crm_research.reporting.results import (read_records, record_fit, record_hypotheses, record_r_squared,
                                                record_sample)

    monkeypatch.setenv(res.RUN_DIR_ENV, str(tmp_path))
    sample = SimpleNamespace(n_rows=5, n_kept=3, n_excluded=2, n_complete=1, origin="file",
                             n_analysed=lambda m, cols=None: 3 if m == "ml" else 1)
    record_sample(sample, "ml")
    record_fit({"chisq": 10.0, "df": 8, "pvalue": 0.27, "cfi": 0.99, "tli": 0.98, "rmsea": 0.02,
                "rmsea.ci.lower": 0.0, "rmsea.ci.upper": 0.05, "srmr": 0.03}, prefix="partial_")
    record_hypotheses(pd.DataFrame({"hypothesis": ["P3"], "path": ["FEES → OSAT"], "std.all": [0.4],
                                    "pvalue": [0.001], "supported": [True]}))
    record_r_squared({"OSAT": 0.3})
    recs = {r["key"]: r for r in read_records(tmp_path)}
    assert recs["n"]["value"] == 3 and recs["n"]["label"] == "N analysed (FIML)" and recs["missing"]["value"] == "ml"
    assert recs["n_complete"]["value"] == 1 and recs["n_rows"]["value"] == 5
    assert recs["partial_df"]["value"] == 8 and recs["partial_rmsea_ci_upper"]["value"] == 0.05
    assert recs["partial_fit"]["value"] == "good"
    assert recs["p3_beta"]["value"] == 0.4 and recs["p3_supported"]["value"] is True
    assert recs["p3_p"]["headline"] is False and recs["n"]["headline"] is True
    assert recs["r2_OSAT"]["value"] == 0.3
    record_sample(sample, "listwise", nobs=2)
    assert {r["key"]: r for r in read_records(tmp_path)}["n"]["value"] == 2


def test_likert_distribution_on_an_eleven_point_scale():
    import matplotlib

    matplotlib.use("Agg")
    df = pd.DataFrame({"Q1": [0, 10, 10, 5], "Q2": [1, 2, 3, None]})
    ax = reporting.likert_distribution(df, ["Q1", "Q2"], values=range(0, 11),
                                       labels=["Not at all"] + [None] * 9 + ["Extremely"])
    texts = [t.get_text() for t in ax.get_legend().get_texts()]
    assert texts[0] == "Not at all" and texts[5] == "5" and texts[-1] == "Extremely" and len(texts) == 11
    widths = [p.get_width() for p in ax.patches]
    # Q1 (top bar) has 2 of 4 answers at 10 and none at 1..4: its bars of points 0..10 sum to 100 %
    assert sum(widths) == pytest.approx(200)

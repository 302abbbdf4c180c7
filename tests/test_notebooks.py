"""The survey notebooks (01 data quality, 02 measurement, 03 structural model, 09 groups): committed
clean and generic, and executed with papermill as a batch run would, on the bundled instrument and
on a second instrument shipped in tests/ (10-point and 0-10 scales, single-item constructs,
models `core`/`extended`).

What the executed reports must show:
* nothing of the source study (its constructs, hypotheses, models, sentences) on another instrument;
* full-information ML by default, using every kept respondent, listwise deletion fewer, both stated;
* the word "bootstrap" only when a bootstrap was run;
* sections that do not apply (mediation, relative effects) saying so instead of failing;
* on the bundled instrument, lavaan's numbers (listwise and FIML references).
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
REF = ROOT / "tests" / "reference" / "lavaan"
POPULATION = ROOT / "surveys" / "ecommerce_crm_population.yaml"
SQ_DIR = ROOT / "tests" / "data" / "service_quality"
SQ = {"instrument": str(SQ_DIR / "service_quality.yaml"), "data_file": str(SQ_DIR / "responses.csv")}

NB01, NB02, NB03, NB09 = ("01_instrument_and_data_quality.ipynb", "02_measurement_model.ipynb",
                          "03_structural_model.ipynb", "09_group_comparison.ipynb")
SURVEY_NOTEBOOKS = [NB01, NB02, NB03, NB09]
COMMON = ["data_file", "instrument", "population", "n", "seed", "careless", "sim_missing", "sim_missing_rate",
          "column_map", "sheet", "encoding", "salt", "policies", "missing"]
NOTEBOOK_RECORDS = {
    NB01: {"n_rows", "n_kept", "n_excluded", "n", "missing", "missing_pct", "items_nonnormal", "careless_caught_pct"},
    NB02: {"n", "missing", "cfi", "rmsea", "srmr", "fit", "cfa1_cfi", "alpha_min", "ave_min", "htmt_max",
           "measurement_flags"},
    NB03: {"n", "missing", "cfi", "fit", "warnings"},
}

#: Words of the bundled (source) study. No output of a run on another instrument may contain them.
SOURCE_WORDS = ["OPS", "CRM", "SAT", "LOY", "PF", "SQ", "LE", "UI", "CS", "CC", "CM", "H1", "H2", "H3", "H4",
                "R1", "AMOS", "27 items", "nine", "model A", "model B", "ops", "crm", "combined", "refined operations",
                "e-commerce", "platform", "ecommerce", "satisfaction → loyalty", "years_customer", "ACSI"]


def _source_word_hits(text: str) -> list[str]:
    """Source-study words in the visible text (HTML styles and tags removed)."""
    text = re.sub(r"<style.*?</style>", " ", text, flags=re.S)
    text = re.sub(r"<[^>]*>", " ", text)
    # the package's own name and CSS classes are not the source study's model `crm`
    text = re.sub(r"crm[-_](research|warnings|records?|diagram|sample|provenance)|\bops=", "", text)
    return [w for w in SOURCE_WORDS if re.search(rf"(?<![A-Za-z0-9_]){re.escape(w)}(?![A-Za-z0-9_])", text)]


def _run(name: str, tmp_path: Path, monkeypatch, cwd: Path | None = None, tag: str = "", **parameters):
    """Execute a notebook with papermill as a batch run would; return (notebook, records)."""
    import papermill as pm

    from crm_research.reporting.results import read_records

    run_dir = tmp_path / f"run-{name[:2]}{tag}"
    run_dir.mkdir()
    monkeypatch.setenv("CRM_RESEARCH_RUN_DIR", str(run_dir))   # the kernel inherits the environment
    out = run_dir / name
    pm.execute_notebook(str(NOTEBOOKS / name), str(out), parameters=parameters, kernel_name="python3",
                        cwd=str(cwd or NOTEBOOKS), progress_bar=False)
    nb = nbformat.read(str(out), as_version=4)
    return nb, {r["key"]: r for r in read_records(run_dir)}


def _outputs_text(nb, cells=None) -> str:
    parts = []
    for c in (nb.cells if cells is None else cells):
        for o in c.get("outputs", []):
            data = dict(o.get("data", {}))
            data.pop("image/png", None)
            parts.append(json.dumps(data, ensure_ascii=False))
            parts.append(o.get("text", "") if isinstance(o.get("text", ""), str) else "".join(o["text"]))
    return "\n".join(parts)


def _report_text(nb) -> str:
    """What a reader of the HTML report sees: markdown cells and outputs, without the provenance
    block (which lists the parameters by name) and without images."""
    body = [c for c in nb.cells if not (c.cell_type == "code" and "reporting.provenance(" in c.source)]
    md = "\n".join(c.source for c in body if c.cell_type == "markdown")
    return md + "\n" + _outputs_text(nb, body)


def _check_common(nb, records, expected=frozenset()):
    from crm_research.reporting.export import find_personal_data

    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors, errors
    assert set(expected) <= set(records), f"missing records: {sorted(set(expected) - set(records))}"
    last = nb.cells[-1]
    assert last.cell_type == "code" and "crm-provenance" in _outputs_text(nb, [last])
    assert find_personal_data(nb) == []
    assert "Traceback" not in _outputs_text(nb)


# --------------------------------------------------------------------------- the committed files
@pytest.mark.parametrize("name", SURVEY_NOTEBOOKS)
def test_committed_notebook_is_clean_generic_and_parameterized(name):
    nb = nbformat.read(str(NOTEBOOKS / name), as_version=4)
    nbformat.validate(nb)
    assert nb.nbformat == 4 and nb.metadata.kernelspec.name == "python3"
    assert all(not c.get("outputs") and c.get("execution_count") is None for c in nb.cells if c.cell_type == "code")
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("# ")
    assert "provenance" in nb.cells[-1].source
    # nothing of the source study in the notebook's own text or code (defaults point at the bundled files)
    text = "\n".join(c.source for c in nb.cells if c is not tagged[0])
    assert _source_word_hits(text) == []
    for word in ("study.describe_", "MODEL = \"", "def "):          # thin: the logic lives in the package
        assert word not in text
    from crm_research.batch.config import notebook_parameters

    declared = notebook_parameters(NOTEBOOKS / name)
    assert list(declared)[:len(COMMON)] == COMMON          # same names, same order in every notebook
    assert declared["data_file"].default == "None" and declared["n"].type_name == "int"
    assert declared["missing"].value == "ml"
    import papermill as pm

    assert set(pm.inspect_notebook(str(NOTEBOOKS / name))) == set(declared)   # papermill sees them too
    if name == NB03:
        assert {"model", "bootstrap", "alpha"} <= set(declared) and declared["model"].default == "None"


def test_the_three_model_notebooks_are_gone():
    assert sorted(p.name for p in NOTEBOOKS.glob("0[345]_*.ipynb")) == [NB03, "04_pls_model.ipynb"]   # + PLS (issue 14)


# --------------------------------------------------------------------------- a second instrument
@pytest.mark.slow
def test_data_quality_and_measurement_on_another_instrument(tmp_path, monkeypatch):
    """10-point, 6-point and 0-10 scales, two single items: the reports run, describe only this
    instrument, and FIML uses every kept respondent."""
    nb1, rec1 = _run(NB01, tmp_path, monkeypatch, lang="en", **SQ)
    _check_common(nb1, rec1, NOTEBOOK_RECORDS[NB01] - {"careless_caught_pct"})
    nb2, rec2 = _run(NB02, tmp_path, monkeypatch, **SQ)
    _check_common(nb2, rec2, NOTEBOOK_RECORDS[NB02])
    for nb, rec in ((nb1, rec1), (nb2, rec2)):
        text = _report_text(nb)
        assert _source_word_hits(text) == [], _source_word_hits(text)
        assert rec["n_rows"]["value"] == 400 and rec["missing"]["value"] == "ml"
        assert rec["n"]["value"] == rec["n_kept"]["value"] == 377 > rec["n_complete"]["value"]
        assert "This run uses full-information maximum likelihood (FIML): N = 377" in text
    t1 = _report_text(nb1)
    assert "image/png" in _outputs_text(nb1) or "<Figure" in t1
    assert "OSAT and REC are single-item constructs" in t1 and "srcdoc=" in t1
    t2 = _report_text(nb2)
    assert "OSAT and REC: single item, so no α, ω, CR or AVE" in t2
    assert "NPS ~~ " in t2 and "OS1 ~~ 0*OS1" in t2                     # fixed error variances shown


@pytest.mark.slow
def test_structural_model_on_another_instrument_without_bootstrap(tmp_path, monkeypatch):
    nb, rec = _run(NB03, tmp_path, monkeypatch, model="extended", bootstrap=0, **SQ)
    _check_common(nb, rec, NOTEBOOK_RECORDS[NB03] | {"p1_beta", "p5_supported", "ind_TRUST_REC", "preferred_model"})
    text = _report_text(nb)
    assert _source_word_hits(text) == [], _source_word_hits(text)
    assert "bootstrap" not in text.lower()                      # no bootstrap was run: none is mentioned
    assert "95% normal-theory CI" in text and "maximum likelihood (ML)" in text
    assert rec["n"]["value"] == rec["n_kept"]["value"] == 377
    assert "Model `extended`" in text and "TRUST → OSAT → REC" in text
    assert "diff.OSAT.STAFF.DIGI" in json.dumps(rec) or "std.OSAT.STAFF" in json.dumps(rec)   # relative effects
    assert "β alone" in text                                      # alone-vs-together refits


@pytest.mark.slow
def test_structural_model_listwise_uses_fewer_respondents(tmp_path, monkeypatch):
    nb, rec = _run(NB03, tmp_path, monkeypatch, model="core", bootstrap=0, missing="listwise", **SQ)
    _check_common(nb, rec, NOTEBOOK_RECORDS[NB03])
    text = _report_text(nb)
    from crm_research import study

    s = study.load_study_sample(SQ["data_file"], SQ["instrument"], None)
    n_lw = s.n_analysed("listwise", study.model_items(s.instrument, "core"))
    assert rec["missing"]["value"] == "listwise" and rec["n"]["value"] == n_lw < rec["n_kept"]["value"]
    assert f"This run uses listwise deletion: N = {n_lw}" in text and "uses **377** respondents" in text


@pytest.mark.slow
def test_structural_model_with_a_bootstrap(tmp_path, monkeypatch):
    nb, rec = _run(NB03, tmp_path, monkeypatch, model="core", bootstrap=30, seed=3, **SQ)
    _check_common(nb, rec, NOTEBOOK_RECORDS[NB03] | {"ind_STAFF_REC_ci_lower"})
    text = _report_text(nb)
    assert "bootstrap percentile CI (R = 30" in text and "nonparametric bootstrap" in text
    assert _source_word_hits(text) == []


@pytest.mark.slow
def test_sections_that_do_not_apply_say_so(tmp_path, monkeypatch):
    """A model with one predictor per outcome and no declared indirect effect: no mediation, no
    alternative model, no relative effects; the report says why instead of failing."""
    import yaml

    raw = yaml.safe_load((SQ_DIR / "service_quality.yaml").read_text(encoding="utf-8"))
    raw["models"] = {"simple": {"title": "Staff and recommendation", "hypotheses": ["P1", "P4"]}}
    inst = tmp_path / "simple.yaml"
    inst.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    nb, rec = _run(NB03, tmp_path, monkeypatch, instrument=str(inst), data_file=SQ["data_file"], bootstrap=0)
    _check_common(nb, rec, NOTEBOOK_RECORDS[NB03] | {"p1_beta", "p4_beta"})
    text = _report_text(nb)
    assert "Mediation: not applicable here: model simple declares no indirect effect" in text
    assert "Relative effects: not applicable here: no outcome of model simple has two or more predictors" in text
    assert "Model comparison: not applicable here" in text
    assert "preferred_model" not in rec and not any(k.startswith("ind_") for k in rec)


# --------------------------------------------------------------------------- the bundled instrument
@pytest.mark.slow
def test_simulated_data_on_the_bundled_instrument(tmp_path, monkeypatch):
    nb, rec = _run(NB03, tmp_path, monkeypatch, n=300, seed=7, model="combined", bootstrap=30)
    _check_common(nb, rec, NOTEBOOK_RECORDS[NB03] | {"h1_beta", "h3_beta", "ind_OPS_LOY", "preferred_model"})
    text = _outputs_text(nb)
    assert rec["n_rows"]["value"] == 300 and rec["data_origin"]["value"] == "simulated"
    assert rec["n"]["value"] == rec["n_kept"]["value"]                     # FIML: every kept respondent
    assert "crm-warnings" in text and "apa-title" in text and "<svg" in text
    assert "bootstrap percentile CI (R = 30" in text
    diff = [k for k in rec if k.startswith("diff.SAT.")]
    assert diff, sorted(rec)
    d = rec[diff[0]]["value"]
    a, b = diff[0].split(".")[2:4]
    assert d == pytest.approx(rec[f"std.SAT.{a}"]["value"] - rec[f"std.SAT.{b}"]["value"], abs=1e-9)
    assert "**About this study.**" in _report_text(nb)                      # the instrument's context block
    assert "Estimates against the population" in _report_text(nb) and "vs population" in text


@pytest.mark.slow
def test_model_a_on_the_lavaan_reference_sample(tmp_path, monkeypatch):
    """seed_survey_a.csv holds only items and respondent ids. Run from a foreign working folder
    (as the batch runner does) the notebook must find its defaults and reproduce lavaan."""
    monkeypatch.delenv("CRM_RESEARCH_PROJECT_DIR", raising=False)
    ref = json.loads((REF / "seed_ops.json").read_text())
    nb, rec = _run(NB03, tmp_path, monkeypatch, cwd=tmp_path, data_file=str(REF / "seed_survey_a.csv"),
                   model="ops", bootstrap=0, missing="listwise")
    _check_common(nb, rec, NOTEBOOK_RECORDS[NB03])
    assert rec["data_origin"]["value"] == "file" and rec["n"]["value"] == 400 == rec["n_rows"]["value"]
    fm = ref["fit_measures"]
    assert rec["chisq"]["value"] == pytest.approx(fm["chisq"], rel=1e-6)
    assert rec["df"]["value"] == fm["df"]
    for k in ("cfi", "tli", "rmsea", "srmr"):
        assert rec[k]["value"] == pytest.approx(fm[k], abs=1e-6), k
    lav = {(e["lhs"], e["op"], e["rhs"]): e for e in ref["estimates"]}
    assert rec["h1_beta"]["value"] == pytest.approx(lav[("SAT", "~", "OPS")]["std.all"], abs=1e-5)
    assert rec["h2_beta"]["value"] == pytest.approx(lav[("LOY", "~", "SAT")]["std.all"], abs=1e-5)
    assert rec["ind_OPS_LOY"]["value"] == pytest.approx(lav[("indirect", ":=", "h1*h2")]["est"], abs=1e-5)
    assert "Real data: the population values are unknown" in _outputs_text(nb)


@pytest.mark.slow
def test_fiml_by_default_matches_lavaan_and_keeps_everyone(tmp_path, monkeypatch):
    """eco_missing.csv: 400 respondents, 3% blank answers. Listwise deletion keeps 220 of them for
    model ops; the default (FIML) keeps all 400 and reproduces lavaan's missing = "ml" fit."""
    ref = json.loads((REF / "eco_fiml.ml.json").read_text())
    nb, rec = _run(NB03, tmp_path, monkeypatch, data_file=str(REF / "eco_missing.csv"), model="ops", bootstrap=0)
    _check_common(nb, rec, NOTEBOOK_RECORDS[NB03])
    assert rec["n"]["value"] == rec["n_kept"]["value"] == 400 == ref["fit_measures"]["ntotal"]
    for k in ("chisq", "cfi", "tli", "rmsea", "srmr"):
        assert rec[k]["value"] == pytest.approx(ref["fit_measures"][k], rel=1e-4, abs=1e-6), k
    lav = {(e["lhs"], e["op"], e["rhs"]): e for e in ref["estimates"]}
    assert rec["h1_beta"]["value"] == pytest.approx(lav[("SAT", "~", "OPS")]["std.all"], abs=1e-4)
    text = _report_text(nb)
    assert "uses **400** respondents" in text and "would use **220**" in text
    assert "This run uses full-information maximum likelihood (FIML): N = 400" in text


@pytest.mark.slow
def test_data_quality_on_an_export_with_personal_data(tmp_path, monkeypatch):
    """An export with phone numbers and e-mails and unrecognised item headers (mapped with a
    column_map): the report shows none of the personal data, and exports to HTML."""
    from crm_research.reporting.export import export_html
    from crm_research.simulate import simulate_survey

    sim = simulate_survey(POPULATION, 260, seed=13)
    ren = {iid: f"Q{i + 1:02d}" for i, iid in enumerate(sim.item_columns)}
    csv = tmp_path / "export.csv"
    sim.responses.rename(columns=ren).to_csv(csv, index=False)
    nb, rec = _run(NB01, tmp_path, monkeypatch, data_file=str(csv),
                   column_map=[f"{v}={k}" for k, v in ren.items()], salt="test-salt")
    _check_common(nb, rec, NOTEBOOK_RECORDS[NB01] - {"careless_caught_pct"})
    assert "careless_caught_pct" not in rec                 # the truth of a real file is unknown
    assert rec["n_rows"]["value"] == 260 and rec["data_origin"]["value"] == "file"
    secrets = [v for c in ("phone", "email") for v in sim.responses[c].dropna().astype(str)]
    raw = (tmp_path / "run-01" / NB01).read_text(encoding="utf-8")
    assert len(secrets) > 100 and not [v for v in secrets if v in raw]
    assert "test-salt" not in _outputs_text(nb)              # the pseudonym salt stays secret
    page = export_html(nb, tmp_path / "report.html")         # refuses to publish personal data
    assert "Instrument and data quality" in page and not [v for v in secrets if v in page]

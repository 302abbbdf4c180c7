"""The five replication notebooks execute end to end under papermill (kernel python3) on small
data, record their headline figures, end with the provenance block and show no personal data;
and they run on a user's response file: the lavaan reference sample (items + respondent id only,
results checked against lavaan) and an export with phone numbers, e-mails and unrecognised
headers mapped by a column map.

Each run takes 5-15 s (kernel start and imports included); the module stays well under 2 min.
"""
from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
REF = ROOT / "tests" / "reference" / "lavaan"
POPULATION = ROOT / "surveys" / "ecommerce_crm_population.yaml"

#: notebook -> records every run must produce
NOTEBOOK_RECORDS = {
    "01_instrument_and_data_quality.ipynb": {"n", "n_kept", "missing_pct", "items_nonnormal", "careless_caught_pct"},
    "02_measurement_model.ipynb": {"n", "cfi", "rmsea", "srmr", "fit", "alpha_min", "ave_min", "htmt_max",
                                   "measurement_flags"},
    "03_ops_satisfaction_loyalty.ipynb": {"n", "cfi", "rmsea", "srmr", "h1_beta", "h1_supported", "h2_beta",
                                          "h2_supported", "ind_OPS_LOY", "ind_OPS_LOY_ci_lower",
                                          "ind_OPS_LOY_ci_upper", "ind_OPS_LOY_mediation", "preferred_model",
                                          "delta_chisq_p"},
    "04_crm_satisfaction_loyalty.ipynb": {"n", "cfi", "h3_beta", "h3_supported", "h4_beta", "h4_supported",
                                          "ind_CRM_LOY", "ind_CRM_LOY_mediation", "preferred_model"},
    "05_combined_model.ipynb": {"n", "cfi", "h1_beta", "h2_beta", "h3_beta", "ind_OPS_LOY", "ind_CRM_LOY",
                                "beta_OPS", "beta_CRM", "beta_diff_OPS_CRM", "beta_diff_OPS_CRM_ci_lower",
                                "beta_diff_OPS_CRM_significant", "preferred_model"},
}
SEM_NOTEBOOKS = [k for k in NOTEBOOK_RECORDS if not k.startswith("01")]
COMMON = ["data_file", "instrument", "population", "n", "seed", "careless", "missing", "missing_rate",
          "column_map", "salt", "policies"]


def _run(name: str, tmp_path: Path, monkeypatch, cwd: Path = NOTEBOOKS, **parameters):
    """Execute a notebook with papermill as a batch run would; return (notebook, records)."""
    import papermill as pm

    from crm_research.reporting.results import read_records

    run_dir = tmp_path / f"run-{name[:2]}"
    run_dir.mkdir()
    monkeypatch.setenv("CRM_RESEARCH_RUN_DIR", str(run_dir))   # the kernel inherits the environment
    out = run_dir / name
    pm.execute_notebook(str(NOTEBOOKS / name), str(out), parameters=parameters, kernel_name="python3",
                        cwd=str(cwd), progress_bar=False)
    nb = nbformat.read(str(out), as_version=4)
    return nb, {r["key"]: r for r in read_records(run_dir)}


def _outputs_text(nb, cells=None) -> str:
    parts = []
    for c in (nb.cells if cells is None else cells):
        for o in c.get("outputs", []):
            parts.append(json.dumps(o.get("data", {}), ensure_ascii=False))
            parts.append(o.get("text", "") if isinstance(o.get("text", ""), str) else "".join(o["text"]))
    return "\n".join(parts)


def _check_common(nb, records, expected):
    from crm_research.reporting.export import find_personal_data

    assert not [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert expected <= set(records), f"missing records: {sorted(expected - set(records))}"
    last = nb.cells[-1]
    assert last.cell_type == "code" and "crm-provenance" in _outputs_text(nb, [last])
    assert find_personal_data(nb) == []
    assert "Traceback" not in _outputs_text(nb)


# --------------------------------------------------------------------------- the committed files
@pytest.mark.parametrize("name", sorted(NOTEBOOK_RECORDS))
def test_committed_notebook_is_clean_and_parameterized(name):
    nb = nbformat.read(str(NOTEBOOKS / name), as_version=4)
    nbformat.validate(nb)
    assert nb.nbformat == 4 and nb.metadata.kernelspec.name == "python3"
    assert all(not c.get("outputs") and c.get("execution_count") is None for c in nb.cells if c.cell_type == "code")
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("# ")
    assert "R1" in nb.cells[0].source and "H1" in nb.cells[0].source
    assert "provenance" in nb.cells[-1].source
    from crm_research.batch.config import notebook_parameters

    declared = notebook_parameters(NOTEBOOKS / name)
    assert list(declared)[:len(COMMON)] == COMMON          # same names, same order in every notebook
    assert declared["data_file"].default == "None" and declared["n"].type_name == "int"
    import papermill as pm

    assert set(pm.inspect_notebook(str(NOTEBOOKS / name))) == set(declared)   # papermill sees them too
    if name in SEM_NOTEBOOKS[1:]:
        assert {"bootstrap", "alpha"} <= set(declared)


# --------------------------------------------------------------------------- simulated data
@pytest.mark.parametrize("name", sorted(NOTEBOOK_RECORDS))
def test_notebook_runs_on_simulated_data(name, tmp_path, monkeypatch):
    params = {"n": 300, "seed": 7}
    if name in SEM_NOTEBOOKS[1:]:
        params["bootstrap"] = 40
    nb, rec = _run(name, tmp_path, monkeypatch, **params)
    _check_common(nb, rec, NOTEBOOK_RECORDS[name])
    text = _outputs_text(nb)
    assert rec["n_rows"]["value"] == 300 and rec["data_origin"]["value"] == "simulated"
    assert 200 <= rec["n"]["value"] <= 300
    if name in SEM_NOTEBOOKS:
        assert "crm-warnings" in text                      # the warnings box, even when empty
        assert 0 < rec["cfi"]["value"] <= 1 and rec["fit"]["value"] in ("good", "acceptable", "poor")
        assert "apa-title" in text                         # APA tables
    if name in SEM_NOTEBOOKS[1:]:
        assert "<svg" in text and "bootstrap percentile CI (R = 40" in text
    if name.startswith("01"):
        assert "image/png" in text and "srcdoc=" in text   # figures and the embedded questionnaire
        assert 0 <= rec["careless_caught_pct"]["value"] <= 100
    if name.startswith("05"):
        diff = rec["beta_diff_OPS_CRM"]["value"]
        assert diff == pytest.approx(rec["beta_OPS"]["value"] - rec["beta_CRM"]["value"], abs=1e-9)
        lo, hi = rec["beta_diff_OPS_CRM_ci_lower"]["value"], rec["beta_diff_OPS_CRM_ci_upper"]["value"]
        assert rec["beta_diff_OPS_CRM_significant"]["value"] == (lo > 0 or hi < 0)


# --------------------------------------------------------------------------- a user's response file
def test_model_a_on_the_lavaan_reference_sample(tmp_path, monkeypatch):
    """seed_survey_a.csv holds only items and respondent ids. Run from a foreign working folder
    (as the batch runner does) the notebook must find its defaults and reproduce lavaan."""
    monkeypatch.delenv("CRM_RESEARCH_PROJECT_DIR", raising=False)
    ref = json.loads((REF / "seed_ops.json").read_text())
    nb, rec = _run("03_ops_satisfaction_loyalty.ipynb", tmp_path, monkeypatch, cwd=tmp_path,
                   data_file=str(REF / "seed_survey_a.csv"), bootstrap=30, seed=1)
    _check_common(nb, rec, NOTEBOOK_RECORDS["03_ops_satisfaction_loyalty.ipynb"])
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


def test_data_quality_on_an_export_with_personal_data(tmp_path, monkeypatch):
    """An export with phone numbers and e-mails and unrecognised item headers (mapped with a
    column_map): the report shows none of the personal data, and exports to HTML."""
    from crm_research.reporting.export import export_html
    from crm_research.simulate import simulate_survey

    sim = simulate_survey(POPULATION, 260, seed=13)
    ren = {iid: f"Q{i + 1:02d}" for i, iid in enumerate(sim.item_columns)}
    csv = tmp_path / "export.csv"
    sim.responses.rename(columns=ren).to_csv(csv, index=False)
    nb, rec = _run("01_instrument_and_data_quality.ipynb", tmp_path, monkeypatch, data_file=str(csv),
                   column_map={v: k for k, v in ren.items()}, salt="test-salt")
    _check_common(nb, rec, NOTEBOOK_RECORDS["01_instrument_and_data_quality.ipynb"] - {"careless_caught_pct"})
    assert "careless_caught_pct" not in rec                 # the truth of a real file is unknown
    assert rec["n_rows"]["value"] == 260 and rec["data_origin"]["value"] == "file"
    secrets = [v for c in ("phone", "email") for v in sim.responses[c].dropna().astype(str)]
    raw = (tmp_path / "run-01" / "01_instrument_and_data_quality.ipynb").read_text(encoding="utf-8")
    assert len(secrets) > 100 and not [v for v in secrets if v in raw]
    assert "test-salt" not in _outputs_text(nb)              # the pseudonym salt stays secret
    page = export_html(nb, tmp_path / "report.html")         # refuses to publish personal data
    assert "Instrument and data quality" in page and not [v for v in secrets if v in page]

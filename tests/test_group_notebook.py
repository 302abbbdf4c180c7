"""The group-comparison notebook (09): generic (any instrument, any model, the demographic's own
option labels, an optional recode), in the demo batch, runs under papermill, finds a simulated
difference and stops with a clear error on a bad group column."""
from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "09_group_comparison.ipynb"
BATCH = ROOT / "notebooks" / "demo_batch.yaml"
INSTRUMENT = ROOT / "surveys" / "ecommerce_crm.yaml"
POPULATION = ROOT / "surveys" / "ecommerce_crm_population.yaml"
GROUPED = ROOT / "tests" / "reference" / "lavaan" / "seed_survey_groups.csv"
SQ_DIR = ROOT / "tests" / "data" / "service_quality"


def _code(nb):
    return [c for c in nb["cells"] if c["cell_type"] == "code"]


def test_committed_without_outputs_and_generic():
    nb = json.loads(NOTEBOOK.read_text(encoding="utf-8"))
    code = _code(nb)
    assert all(not c.get("outputs") and c.get("execution_count") is None for c in code)
    params = [c for c in code if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(params) == 1
    src = "".join(params[0]["source"])
    for name in ("data_file: Optional[str] = None", "sim_missing: str", "sim_missing_rate: float",
                 'missing: str = "ml"', "group: Optional[str] = None", "recode: Optional[dict] = None",
                 "model: Optional[str] = None", "min_group_n: int", "alpha: float"):
        assert name in src, name
    assert "reporting.provenance(" in "".join(code[-1]["source"])
    assert nb["metadata"]["kernelspec"]["name"] == "python3"
    body = "\n".join("".join(c["source"]) for c in nb["cells"] if c is not params[0])
    for word in ("years_customer", "TENURE", "def ", "import scipy", "statsmodels", "pingouin", '"ops"', "R1",
                 "H1", "OPS"):
        assert word not in body, word


def test_demo_batch_runs_the_notebook_with_a_recode():
    cfg = yaml.safe_load(BATCH.read_text(encoding="utf-8"))
    runs = [r for r in cfg["runs"] if r.get("notebook") == NOTEBOOK.name]
    assert len(runs) == 1 and cfg["runs"][-1] is runs[0]
    tenure = runs[0]["sets"]["tenure-ops"]
    assert tenure["group"] == "years_customer" and set(tenure["recode"]) == {"1", "2", "3", "4"}


def _run(tmp_path, **params):
    import nbformat
    import papermill as pm

    from crm_research.reporting import results

    out = tmp_path / "out.ipynb"
    # record()/record_table() write their files as they do inside a batch run
    os.environ[results.RUN_DIR_ENV] = str(tmp_path / "run")
    try:
        pm.execute_notebook(str(NOTEBOOK), str(out), kernel_name="python3", cwd=str(tmp_path), progress_bar=False,
                            parameters=params)
    finally:
        os.environ.pop(results.RUN_DIR_ENV, None)
    nb = nbformat.read(out, as_version=4)
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors, errors
    from crm_research.reporting.results import read_records

    return json.dumps(nb, ensure_ascii=False), {r["key"]: r for r in read_records(tmp_path / "run")}


def _visible(text: str) -> str:
    """Markdown and outputs of an executed notebook as a reader sees them: no code, no provenance
    block (it names the machine's platform), no HTML styles or tags."""
    nb = json.loads(text)
    parts = []
    for c in nb["cells"]:
        src = "".join(c["source"])
        if c["cell_type"] == "markdown":
            parts.append(src)
        elif "reporting.provenance(" not in src:
            for o in c.get("outputs", []):
                d = {k: v for k, v in o.get("data", {}).items() if k != "image/png"}
                parts.append(json.dumps(d, ensure_ascii=False) + "".join(o.get("text", "")))
    return re.sub(r"<style.*?</style>|<[^>]*>", " ", "\n".join(parts), flags=re.S)


@pytest.mark.slow
def test_another_instrument_grouped_by_a_recoded_demographic(tmp_path):
    """The test survey's `tenure` (three answer bands after screening) merged into two groups."""
    text, rec = _run(tmp_path, instrument=str(SQ_DIR / "service_quality.yaml"),
                     data_file=str(SQ_DIR / "responses.csv"), group="tenure", model="core",
                     recode={1: "up to 10 years", 2: "up to 10 years", 3: "more than 10 years"})
    assert "Measurement invariance" in text and "configural" in text and ("ΔCFI" in text or "delta.cfi" in text)
    assert "up to 10 years" in text and "more than 10 years" in text and "tenure_group" in text
    assert "P1 (OSAT ~ STAFF)" in text or "P1" in text
    assert rec["groups"]["value"] == 2 and rec["missing"]["value"] == "ml"
    assert (tmp_path / "run" / "results" / "path_comparison.parquet").exists()
    visible = _visible(text)
    for w in ("OPS", "SAT", "LOY", "H1", "years_customer", "platform"):
        assert not re.search(rf"(?<![A-Za-z0-9_]){w}(?![A-Za-z0-9_])", visible), w


@pytest.mark.slow
def test_groups_labelled_with_the_demographics_options(tmp_path):
    text, rec = _run(tmp_path, instrument=str(INSTRUMENT), population=str(POPULATION), n=400, seed=9,
                     group="platform", model="ops", min_group_n=40)
    assert "Taobao/Tmall" in text and "Structural paths compared across" in text
    assert "H1 (SAT ~ OPS)" in text and "image/png" in text
    assert rec["groups"]["value"] >= 2


@pytest.mark.slow
def test_finds_the_simulated_difference_in_h1(tmp_path):
    """seed_survey_groups.csv: standardized SAT ~ OPS .60 (new) vs .15 (returning), same measurement."""
    text, _ = _run(tmp_path, instrument=str(INSTRUMENT), data_file=str(GROUPED), group="segment", model="ops")
    assert "The groups differ** in H1" in text
    assert "LOY ~ SAT)**" in text and "no evidence of a difference" in text      # H2 was simulated equal
    assert "highest level of invariance the data support is **" in text


@pytest.mark.slow
def test_bad_group_column_stops_with_a_clear_error(tmp_path):
    import papermill as pm

    with pytest.raises(pm.PapermillExecutionError) as e:
        pm.execute_notebook(str(NOTEBOOK), str(tmp_path / "out.ipynb"), kernel_name="python3", cwd=str(tmp_path),
                            progress_bar=False, parameters={"instrument": str(INSTRUMENT),
                                                            "population": str(POPULATION), "n": 100,
                                                            "group": "shoe_size"})
    assert "ConfigError" in str(e.value) and "shoe_size" in str(e.value) and "platform" in str(e.value)


@pytest.mark.slow
def test_robust_group_comparison_names_the_estimation(tmp_path):
    """estimator="MLR": the steps are judged by robust CFI/RMSEA, tested by scaled differences, named."""
    text, rec = _run(tmp_path, instrument=str(SQ_DIR / "service_quality.yaml"),
                     data_file=str(SQ_DIR / "responses.csv"), group="tenure", model="core", estimator="MLR",
                     recode={1: "up to 10 years", 2: "up to 10 years", 3: "more than 10 years"})
    assert "MLR (Huber-White robust SE, Yuan-Bentler scaled test)" in text
    assert "robust CFI" in text and "scaled Δχ²" in text
    assert rec["groups"]["value"] == 2

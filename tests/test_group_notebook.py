"""The group-comparison notebook (09): house style, batch entry, runs under papermill."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "09_group_comparison.ipynb"
BATCH = ROOT / "notebooks" / "demo_batch.yaml"
INSTRUMENT = ROOT / "surveys" / "ecommerce_crm.yaml"
POPULATION = ROOT / "surveys" / "ecommerce_crm_population.yaml"
GROUPED = ROOT / "tests" / "reference" / "lavaan" / "seed_survey_groups.csv"


def _code(nb):
    return [c for c in nb["cells"] if c["cell_type"] == "code"]


def test_committed_without_outputs_in_house_style():
    nb = json.loads(NOTEBOOK.read_text(encoding="utf-8"))
    code = _code(nb)
    assert all(not c.get("outputs") and c.get("execution_count") is None for c in code)
    params = [c for c in code if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(params) == 1
    src = "".join(params[0]["source"])
    for name in ("data_file: Optional[str] = None", "instrument: str", "population: str", "n: int", "seed: int",
                 "careless: float", "missing: str", "missing_rate: float", "column_map:", "salt: Optional[str]",
                 "policies: Optional[dict]", 'group: str = "years_customer"', 'model: str = "ops"'):
        assert name in src, name
    assert "reporting.provenance(" in "".join(code[-1]["source"])
    assert nb["metadata"]["kernelspec"]["name"] == "python3"
    assert nb["cells"][0]["cell_type"] == "markdown" and "R1" in "".join(nb["cells"][0]["source"])
    body = "\n".join("".join(c["source"]) for c in code)
    for heavy in ("def ", "import scipy", "statsmodels", "pingouin"):
        assert heavy not in body


def test_demo_batch_runs_the_notebook():
    cfg = yaml.safe_load(BATCH.read_text(encoding="utf-8"))
    runs = [r for r in cfg["runs"] if r.get("notebook") == NOTEBOOK.name]
    assert len(runs) == 1 and cfg["runs"][-1] is runs[0]


def _run(tmp_path, **params):
    import os

    import nbformat
    import papermill as pm

    from crm_research.reporting import results

    out = tmp_path / "out.ipynb"
    # record()/record_table() write their files as they do inside a batch run
    os.environ[results.RUN_DIR_ENV] = str(tmp_path / "run")
    try:
        pm.execute_notebook(str(NOTEBOOK), str(out), kernel_name="python3", cwd=str(tmp_path), progress_bar=False,
                            parameters={"instrument": str(INSTRUMENT), "population": str(POPULATION), **params})
    finally:
        os.environ.pop(results.RUN_DIR_ENV, None)
    nb = nbformat.read(out, as_version=4)
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors, errors
    return json.dumps(nb, ensure_ascii=False)


def test_executes_on_a_small_simulated_sample(tmp_path):
    text = _run(tmp_path, n=300, seed=9)
    # the invariance table (its HTML) and the documented years_customer split
    assert "Measurement invariance" in text and "delta.cfi" in text and "configural" in text
    assert "new/recent (&lt; 3 years)" in text or "new/recent (< 3 years)" in text
    assert "Structural paths compared across" in text and "H1 (SAT ~ OPS)" in text
    assert "image/png" in text
    assert (tmp_path / "run" / "results" / "path_comparison.parquet").exists()


def test_finds_the_simulated_difference_in_h1(tmp_path):
    """seed_survey_groups.csv: standardized SAT ~ OPS .60 (new) vs .15 (returning), same measurement."""
    text = _run(tmp_path, data_file=str(GROUPED), group="segment")
    assert "The groups differ** in H1" in text
    assert "LOY ~ SAT)**" in text and "no evidence of a difference" in text      # H2 was simulated equal
    assert "highest level of invariance the data support is **" in text


def test_bad_group_column_stops_with_a_clear_error(tmp_path):
    import papermill as pm

    with pytest.raises(pm.PapermillExecutionError) as e:
        pm.execute_notebook(str(NOTEBOOK), str(tmp_path / "out.ipynb"), kernel_name="python3", cwd=str(tmp_path),
                            progress_bar=False, parameters={"instrument": str(INSTRUMENT),
                                                            "population": str(POPULATION), "n": 100,
                                                            "group": "shoe_size"})
    assert "ConfigError" in str(e.value) and "shoe_size" in str(e.value) and "platform" in str(e.value)

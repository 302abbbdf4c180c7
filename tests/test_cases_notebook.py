"""The case-comparison notebook: thin, committed without outputs, runs under papermill."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "06_case_comparison.ipynb"
BATCH = ROOT / "notebooks" / "cases_batch.yaml"


def test_committed_without_outputs_and_with_a_parameters_cell():
    nb = json.loads(NOTEBOOK.read_text(encoding="utf-8"))
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert all(not c.get("outputs") and c.get("execution_count") is None for c in code)
    params = [c for c in code if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(params) == 1 and "case_file" in "".join(params[0]["source"])
    # thin: no statistics in the notebook itself
    src = "\n".join("".join(c["source"]) for c in code)
    for heavy in ("statsmodels", "pingouin", "scipy", "def "):
        assert heavy not in src
    assert nb["metadata"]["kernelspec"]["name"] == "python3"


def test_batch_config_runs_the_notebook_over_every_bundled_case():
    from crm_research.cases import bundled_cases

    cfg = yaml.safe_load(BATCH.read_text(encoding="utf-8"))
    run = cfg["runs"][0]
    assert run["notebook"] == NOTEBOOK.name
    files = {(BATCH.parent / s["case_file"]).resolve() for s in run["sets"].values()}
    assert files == {p.resolve() for p in bundled_cases()}


@pytest.mark.slow
def test_notebook_executes_with_papermill(tmp_path, monkeypatch):
    import nbformat
    import papermill as pm

    # the kernel inherits the environment: run it as a user would, with the inline backend
    # (the test session's MPLBACKEND=Agg would keep its figures out of the outputs)
    monkeypatch.delenv("MPLBACKEND", raising=False)

    out = tmp_path / "out.ipynb"
    pm.execute_notebook(str(NOTEBOOK), str(out), parameters={"case_file": "r2_retention_strategies", "seed": 11},
                        kernel_name="python3", cwd=str(tmp_path), progress_bar=False)
    nb = nbformat.read(out, as_version=4)
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors
    text = json.dumps(nb)
    assert "Strategy effects" in text and "not identified" in text and "worked" in text
    assert "image/png" in text

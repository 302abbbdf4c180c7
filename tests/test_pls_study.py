"""The study by either method (issue 14): ``crm-research study ... --method cbsem|pls|both`` plans
notebook 03 (CB-SEM) and/or notebook 04 (PLS-SEM) per declared model; notebook 04 is committed clean
and generic, runs on the bundled instrument (second-order constructs) and on a second instrument
(single items, other scales), describes only that instrument, and sets the CB-SEM and PLS verdicts
side by side."""
from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from crm_research import study
from crm_research.cli import main
from crm_research.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
NB04 = "04_pls_model.ipynb"
SQ_DIR = ROOT / "tests" / "data" / "service_quality"
SQ = {"instrument": str(SQ_DIR / "service_quality.yaml"), "data_file": str(SQ_DIR / "responses.csv")}
BUNDLED = ROOT / "surveys" / "ecommerce_crm.yaml"
COMMON = ["data_file", "instrument", "population", "n", "seed", "careless", "sim_missing", "sim_missing_rate",
          "column_map", "sheet", "encoding", "salt", "policies", "missing"]
#: Words of the bundled (source) study; no report on another instrument may contain them.
SOURCE_WORDS = ["OPS", "CRM", "SAT", "LOY", "PF", "SQ", "LE", "UI", "CS", "CC", "CM", "H1", "H2", "H3", "H4",
                "R1", "AMOS", "27 items", "model A", "model B", "ops", "crm", "combined", "refined operations",
                "e-commerce", "platform", "ecommerce", "years_customer", "ACSI"]


def _hits(text: str) -> list[str]:
    text = re.sub(r"<style.*?</style>", " ", text, flags=re.S)
    text = re.sub(r"<[^>]*>", " ", text)
    text = re.sub(r"crm[-_](research|warnings|records?|diagram|sample|provenance)|\bops=", "", text)
    return [w for w in SOURCE_WORDS if re.search(rf"(?<![A-Za-z0-9_]){re.escape(w)}(?![A-Za-z0-9_])", text)]


# --------------------------------------------------------------------------- the plan
@pytest.mark.parametrize("method, runs", [
    ("cbsem", ["03-model-core", "03-model-extended"]),
    ("pls", ["04-pls-core", "04-pls-extended"]),
    ("both", ["03-model-core", "03-model-extended", "04-pls-core", "04-pls-extended"]),
])
def test_the_plan_by_method(method, runs):
    cfg = study.plan_study(SQ["instrument"], SQ["data_file"], method=method, bootstrap=200, seed=5)
    names = [r["name"] for r in cfg["runs"]]
    assert names == ["01-data-quality", "02-measurement"] + runs
    for r in cfg["runs"]:
        if r["name"].startswith("04-"):
            assert Path(r["notebook"]).name == NB04
            assert r["parameters"] == {"model": r["name"][len("04-pls-"):], "bootstrap": 200, "seed": 5,
                                       "compare_cbsem": method == "both"}


def test_the_default_method_is_cbsem_and_others_are_refused(tmp_path):
    cfg = study.plan_study(SQ["instrument"], SQ["data_file"])
    assert not any(r["name"].startswith("04-") for r in cfg["runs"])
    with pytest.raises(ConfigError, match="method: expected 'cbsem', 'pls' or 'both', got 'PLS-SEM'"):
        study.plan_study(SQ["instrument"], SQ["data_file"], method="PLS-SEM")
    with pytest.raises(SystemExit):
        main(["study", SQ["instrument"], SQ["data_file"], "-o", str(tmp_path / "o"), "--method", "smartpls"])


# --------------------------------------------------------------------------- the committed notebook
def test_committed_notebook_is_clean_generic_and_parameterized():
    from crm_research.batch.config import notebook_parameters

    nb = nbformat.read(str(NOTEBOOKS / NB04), as_version=4)
    nbformat.validate(nb)
    assert nb.metadata.kernelspec.name == "python3"
    assert all(not c.get("outputs") and c.get("execution_count") is None for c in nb.cells if c.cell_type == "code")
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("# 4 · PLS-SEM")
    assert "provenance" in nb.cells[-1].source
    text = "\n".join(c.source for c in nb.cells if c is not tagged[0])
    assert _hits(text) == []
    declared = notebook_parameters(NOTEBOOKS / NB04)
    assert list(declared)[:len(COMMON)] == COMMON                # as the other survey notebooks
    assert {"model", "bootstrap", "alpha", "scheme", "consistent", "higher_order", "compare_cbsem", "cbsem_bootstrap",
            "estimator", "ordered", "se", "test"} <= set(declared)          # the CB-SEM comparison as notebook 3 fits
    assert declared["model"].default == "None" and declared["compare_cbsem"].value is True


# --------------------------------------------------------------------------- executed
def _run(tmp_path: Path, monkeypatch, tag: str, **parameters):
    import papermill as pm

    from crm_research.reporting.results import read_records

    run_dir = tmp_path / f"run-{tag}"
    run_dir.mkdir()
    monkeypatch.setenv("CRM_RESEARCH_RUN_DIR", str(run_dir))
    out = run_dir / NB04
    pm.execute_notebook(str(NOTEBOOKS / NB04), str(out), parameters=parameters, kernel_name="python3",
                        cwd=str(NOTEBOOKS), progress_bar=False)
    nb = nbformat.read(str(out), as_version=4)
    from crm_research.reporting.export import find_personal_data

    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors, errors
    assert find_personal_data(nb) == [] and "Traceback" not in _text(nb)
    assert "crm-provenance" in json.dumps(nb.cells[-1].get("outputs", []))
    return nb, {r["key"]: r for r in read_records(run_dir)}


def _text(nb) -> str:
    """What a reader sees: markdown and outputs (no images), without the provenance block."""
    parts = []
    for c in nb.cells:
        if c.cell_type == "markdown":
            parts.append(c.source)
        elif "reporting.provenance(" not in c.source:
            for o in c.get("outputs", []):
                data = dict(o.get("data", {}))
                data.pop("image/png", None)
                parts.append(json.dumps(data, ensure_ascii=False))
                parts.append(o.get("text", "") if isinstance(o.get("text", ""), str) else "".join(o["text"]))
    return "\n".join(parts)


@pytest.mark.slow
def test_pls_notebook_on_another_instrument(tmp_path, monkeypatch):
    """Single items, 10-, 6- and 0-10-point scales, two declared indirect effects; the PLS paths are
    seminr's (an independent implementation), and the CB-SEM verdicts stand beside them."""
    nb, rec = _run(tmp_path, monkeypatch, "sq", model="extended", bootstrap=60, seed=4, estimator="MLR", **SQ)
    text = _text(nb)
    assert _hits(text) == [], _hits(text)
    s = study.load_study_sample(SQ["data_file"], SQ["instrument"], None)
    items = study.model_items(s.instrument, "extended")
    n_lw = s.n_analysed("listwise", items)
    assert rec["n"]["value"] == n_lw < rec["n_kept"]["value"] and rec["missing"]["value"] == "listwise"
    assert f"This run uses listwise deletion: N = {n_lw}" in text
    assert "OSAT and REC are single items" in text and "Model `extended` was estimated by PLS-SEM" in text
    assert "TRUST → OSAT → REC" in text and "<svg" in text
    assert "Effect sizes f²: STAFF → OSAT" in text and "Collinearity:" in text
    for h in ("p1", "p2", "p3", "p4", "p5"):
        assert f"{h}_pls_path" in rec and f"{h}_pls_supported" in rec
    assert "methods_disagree" in rec and ("agree on every hypothesis" in text or "The methods disagree" in text)
    assert "Hypotheses by CB-SEM and PLS-SEM" in text and "MLR: robust ML" in text    # the CB-SEM side as asked
    assert any("image/png" in o.get("data", {}) for c in nb.cells for o in c.get("outputs", []))   # both methods' plot
    seminr = pytest.importorskip("seminr")
    d = s.items[items].dropna().reset_index(drop=True)
    mm = seminr.constructs(*[seminr.composite(c, s.instrument.items_of(c))
                             for c in ("STAFF", "DIGI", "FEES", "TRUST", "OSAT", "REC")])
    sm = seminr.relationships(seminr.paths(["STAFF", "DIGI", "FEES", "TRUST"], "OSAT"), seminr.paths("OSAT", "REC"))
    ref = seminr.estimate_pls(d, mm, sm).path_coef
    assert rec["p1_pls_path"]["value"] == pytest.approx(ref.values[list(ref.rows).index("STAFF"),
                                                                   list(ref.cols).index("OSAT")], abs=1e-6)


@pytest.mark.slow
def test_pls_notebook_on_the_bundled_second_order_model(tmp_path, monkeypatch):
    nb, rec = _run(tmp_path, monkeypatch, "bundled", n=300, seed=7, model="combined", bootstrap=60)
    text = _text(nb)
    assert "Second-order construct OPS (PF, SQ, LE, UI) was estimated by repeated indicators" in text
    assert "Second-order construct CRM: its dimensions' paths range from" in text
    assert {"h1_pls_path", "h2_pls_path", "h3_pls_path", "r2_SAT", "r2_LOY", "methods_disagree"} <= set(rec)
    assert "r2_PF" not in rec                                         # a dimension is not an outcome
    assert rec["data_origin"]["value"] == "simulated" and "<svg" in text and "SRMR = " in text


@pytest.mark.slow
def test_pls_notebook_without_bootstrap_or_comparison(tmp_path, monkeypatch):
    nb, rec = _run(tmp_path, monkeypatch, "plain", model="core", bootstrap=0, compare_cbsem=False, **SQ)
    text = _text(nb)
    assert "not tested (no bootstrap)" in text and "No bootstrap was run" in text
    assert "Comparison with CB-SEM: not applicable here" in text
    assert rec["p1_pls_supported"]["value"] is None and "methods_disagree" not in rec
    assert "bootstrap percentile" not in text.lower()


@pytest.mark.slow
def test_a_study_by_both_methods(tmp_path, capsys):
    """One command, both methods: every run succeeds, the PLS reports describe only this instrument,
    and the results table holds both methods' figures."""
    out = tmp_path / "both"
    code = main(["study", SQ["instrument"], SQ["data_file"], "-o", str(out), "--method", "both",
                 "--bootstrap", "30", "-w", "2", "-q"])
    printed = capsys.readouterr().out
    assert code == 0, printed
    res = pd.read_csv(out / "results.csv")
    assert set(res.run) == {"01-data-quality", "02-measurement", "03-model-core", "03-model-extended",
                            "04-pls-core", "04-pls-extended"}
    val = {(r.run, r.key): r.value for r in res.itertuples()}
    assert ("03-model-core", "p1_beta") in val and ("04-pls-core", "p1_pls_path") in val
    assert ("04-pls-extended", "methods_disagree") in val
    for run in ("04-pls-core", "04-pls-extended"):
        html = (out / "runs" / run / f"{run}.html").read_text(encoding="utf-8")
        assert _hits(re.sub(r"<div class=\"crm-provenance\".*", " ", html, flags=re.S)) == []
        assert "Hypotheses by CB-SEM and PLS-SEM" in html
    cfg = (out / "study.yaml").read_text(encoding="utf-8")
    assert "04_pls_model.ipynb" in cfg and "compare_cbsem: true" in cfg


def test_the_demo_shows_pls_reports():
    """`make demo`: the PLS notebook once per model of the bundled study (1,000 resamples), and the demo
    study by both methods."""
    from crm_research.batch.config import load_batch_config
    from crm_research.commands import demo

    cfg = load_batch_config(NOTEBOOKS / "demo_batch.yaml")
    pls_runs = [r for r in cfg.runs if Path(str(r.notebook)).name == NB04]
    assert sorted(r.parameters["model"] for r in pls_runs) == ["combined", "crm", "ops"]
    assert all(r.parameters["bootstrap"] == 1000 for r in pls_runs)
    assert demo.STUDY_METHOD == "both"

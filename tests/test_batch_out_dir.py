"""A batch output folder belongs to one batch: another batch is refused without --force; with
--force the other batch's runs, results and index are removed first, never mixed in."""
from __future__ import annotations

import json
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from crm_research.batch import claim_out_dir, run_batch
from crm_research.errors import ConfigError
from crm_research.reporting.export import current_umask

NB = Path(__file__).parent / "notebooks"


def config(root: Path, name: str, runs: list[str]) -> Path:
    (root / "notebooks").mkdir(parents=True, exist_ok=True)
    shutil.copy(NB / "echo.ipynb", root / "notebooks" / "echo.ipynb")
    cfg = root / "notebooks" / f"{name}.yaml"
    cfg.write_text(yaml.safe_dump({"batch": name, "runs": [{"notebook": "echo.ipynb", "name": r} for r in runs]}),
                   encoding="utf-8")
    return cfg


@pytest.fixture(scope="module")
def first(tmp_path_factory):
    root = tmp_path_factory.mktemp("proj")
    out = root / "reports" / "shared"
    result = run_batch(config(root, "alpha", ["a1", "a2"]), out=out, workers=1, progress=False)
    assert result.n_ok == 2
    return root, out


def test_another_batch_is_refused_and_nothing_is_touched(first):
    root, out = first
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file() and p.name != ".lock"}
    with pytest.raises(ConfigError, match="batch 'alpha'.*not of 'beta'.*--force"):
        run_batch(config(root, "beta", ["b1"]), out=out, workers=1, progress=False)
    after = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file() and p.name != ".lock"}
    assert after == before
    p = subprocess.run([sys.executable, "-m", "crm_research.cli", "batch", str(root / "notebooks" / "beta.yaml"),
                        "--out", str(out), "-q"], capture_output=True, text=True, timeout=120)
    assert p.returncode == 2 and "Traceback" not in p.stderr and "batch 'alpha'" in p.stderr, p.stderr
    dry = subprocess.run([sys.executable, "-m", "crm_research.cli", "batch", str(root / "notebooks" / "beta.yaml"),
                          "--out", str(out), "--dry-run", "--force"], capture_output=True, text=True, timeout=120)
    assert dry.returncode == 0 and "would remove batch 'alpha'" in dry.stdout
    assert (out / "runs" / "a1").is_dir()   # a dry run removes nothing


def test_the_same_batch_may_write_again(first):
    root, out = first
    again = run_batch(config(root, "alpha", ["a1", "a2"]), out=out, workers=1, progress=False)
    assert again.n_reused == 2 and not again.notes


def test_force_hands_the_folder_to_the_new_batch_without_mixing(tmp_path):
    out = tmp_path / "reports" / "shared"
    run_batch(config(tmp_path, "alpha", ["a1", "a2"]), out=out, workers=1, progress=False)
    extra = out / "notes.txt"             # a file no batch wrote stays
    extra.write_text("mine", encoding="utf-8")
    result = run_batch(config(tmp_path, "beta", ["b1"]), out=out, workers=1, progress=False, force=True)
    assert result.n_ok == 1 and any("removed batch 'alpha'" in n for n in result.notes)
    assert "removed batch 'alpha'" in result.summary()
    assert sorted(p.name for p in (out / "runs").iterdir()) == ["b1"]
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["batch"] == "beta" and list(manifest["runs"]) == ["b1"]
    assert set(pd.read_csv(out / "results.csv")["run"]) <= {"b1"}
    index = (out / "index.html").read_text(encoding="utf-8")
    assert "b1" in index and "a1" not in index and "a2" not in index
    assert extra.read_text(encoding="utf-8") == "mine"
    for f in ("index.html", "results.csv", "manifest.json", "runs/b1/b1.html"):   # 0644 under umask 022
        assert stat.S_IMODE((out / f).stat().st_mode) == 0o666 & ~current_umask(), f


def test_a_folder_with_a_foreign_index_is_refused(tmp_path):
    (tmp_path / "index.html").write_text("<p>my site</p>", encoding="utf-8")
    with pytest.raises(ConfigError, match="no batch wrote"):
        claim_out_dir(tmp_path, "alpha", "alpha.yaml")
    notes = claim_out_dir(tmp_path, "alpha", "alpha.yaml", force=True)
    assert notes and "index.html" in notes[0] and not (tmp_path / "index.html").exists()


def test_a_study_config_in_the_folder_goes_with_its_batch(tmp_path):
    (tmp_path / "manifest.json").write_text(json.dumps({"batch": "s", "config": "reports/s/study.yaml"}))
    (tmp_path / "study.yaml").write_text("batch: s\n", encoding="utf-8")
    (tmp_path / "data").mkdir()
    assert claim_out_dir(tmp_path, "s", tmp_path / "study.yaml") == []          # the study itself again
    with pytest.raises(ConfigError):
        claim_out_dir(tmp_path, "demo", "notebooks/demo_batch.yaml")
    claim_out_dir(tmp_path, "demo", "notebooks/demo_batch.yaml", force=True)
    assert not (tmp_path / "study.yaml").exists() and not (tmp_path / "manifest.json").exists()
    assert (tmp_path / "data").is_dir()

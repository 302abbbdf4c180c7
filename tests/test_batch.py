"""The batch runner end to end on toy notebooks (tests/notebooks/): parallel runs, failure
isolation, personal-data guard, injection safety, index and results table, skip / rerun /
--force, resume after a killed batch, and the CLI's exit codes."""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

from crm_research.batch import run_batch

NB = Path(__file__).parent / "notebooks"
NASTY = "x\"; __import__('os').system('touch PWNED'); \"\nline2 \\ end '''"
PHONE, EMAIL = "138 1234 5678", "zhang.wei@example.com"


def make_project(root: Path, runs: list[dict]) -> Path:
    (root / "notebooks").mkdir(parents=True, exist_ok=True)
    for name in ("echo", "fail", "pii", "sleepy", "crash"):
        shutil.copy(NB / f"{name}.ipynb", root / "notebooks" / f"{name}.ipynb")
    (root / "data").mkdir(exist_ok=True)
    if not (root / "data" / "a.txt").exists():
        (root / "data" / "a.txt").write_text("hello data", encoding="utf-8")
    cfg = root / "notebooks" / "batch.yaml"
    cfg.write_text(yaml.safe_dump({"batch": "t", "title": "Test batch", "runs": runs}, allow_unicode=True, sort_keys=False),
                   encoding="utf-8")
    return cfg


RUNS = [
    {"notebook": "echo.ipynb", "grid": {"n": [1, 2]}, "parameters": {"scale": 0.5}},
    {"notebook": "echo.ipynb", "name": "injection", "parameters": {"text": NASTY, "data_path": "../data/a.txt"}},
    {"notebook": "fail.ipynb", "name": "toggle", "parameters": {"fail": False}},
    {"notebook": "fail.ipynb", "name": "broken"},
    {"notebook": "pii.ipynb", "name": "leaky"},
]


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    root = tmp_path_factory.mktemp("proj")
    cfg = make_project(root, RUNS)
    out = root / "reports" / "t"
    result = run_batch(cfg, out=out, workers=2, progress=False)
    return root, cfg, out, result


def by_run(result):
    return {r["run"]: r for r in result.records}


@pytest.mark.slow
def test_statuses_and_exit_code(batch):
    _, _, out, result = batch
    recs = by_run(result)
    assert list(recs) == ["echo-n1", "echo-n2", "injection", "toggle", "broken", "leaky"]  # config order
    assert {k: r["status"] for k, r in recs.items()} == {
        "echo-n1": "ok", "echo-n2": "ok", "injection": "ok", "toggle": "ok", "broken": "failed", "leaky": "failed"}
    assert result.exit_code == 1 and result.n_failed == 2 and result.n_ok == 4
    for name in ("echo-n1", "echo-n2", "injection", "toggle"):
        d = out / "runs" / name
        assert {f"{name}.ipynb", f"{name}.html", f"{name}.log", "run.json"} <= {p.name for p in d.iterdir()}
    assert not (out / ".work").exists()


@pytest.mark.slow
def test_failed_run_keeps_partial_notebook_and_names_cell_and_line(batch):
    _, _, out, result = batch
    err = by_run(result)["broken"]["error"]
    assert err["ename"] == "ValueError" and err["evalue"] == "boom on purpose"
    assert err["message"].startswith("cell 4 (In [3]), line 3: ValueError: boom on purpose")
    assert err["line"].strip() == "raise ValueError('boom on purpose')"
    nb = json.loads((out / "failed" / "broken" / "broken.ipynb").read_text(encoding="utf-8"))
    texts = ["".join(o.get("text", "")) for c in nb["cells"] for o in c.get("outputs", [])]
    assert "before the failure\n" in texts                             # cells before the error ran
    assert not (out / "runs" / "broken").exists()
    log = (out / "failed" / "broken" / "broken.log").read_text(encoding="utf-8")
    assert "Executing Cell" in log and "boom on purpose" in log


@pytest.mark.slow
def test_injection_values_arrive_as_data(batch):
    root, _, out, result = batch
    recs = {r["key"]: r["value"] for r in by_run(result)["injection"]["results"]}
    assert recs["text"] == NASTY                                       # exact round trip
    assert recs["data_size"] == len("hello data")                      # relative path resolved
    assert recs["cwd_is_run_dir"] is True                              # kernel runs in its own folder
    assert not any(p.name == "PWNED" for p in root.rglob("*"))
    assert (out / "runs" / "injection" / "echo.txt").read_text(encoding="utf-8") == NASTY  # files it wrote move along


@pytest.mark.slow
def test_personal_data_is_never_published(batch):
    _, _, out, result = batch
    rec = by_run(result)["leaky"]
    assert rec["status"] == "failed" and rec["error"]["ename"] == "PersonalDataError"
    assert "138 **** 5678" in rec["error"]["message"] and "z***@example.com" in rec["error"]["message"]
    assert not (out / "runs" / "leaky").exists()
    for p in out.rglob("*"):
        if p.is_file() and p.suffix in (".html", ".ipynb", ".json", ".csv", ".log"):
            text = p.read_text(encoding="utf-8", errors="replace")
            assert PHONE not in text and EMAIL not in text, p


@pytest.mark.slow
def test_reports_hide_code_and_link_back(batch):
    _, _, out, _ = batch
    html = (out / "runs" / "echo-n2" / "echo-n2.html").read_text(encoding="utf-8")
    assert "record(&quot;n_scaled&quot;" not in html and 'record("n_scaled"' not in html
    assert "n × scale" in html and "../../index.html" in html
    assert "<!DOCTYPE html>" in html and "Echo notebook" in html


@pytest.mark.slow
def test_index_lists_every_run(batch):
    _, _, out, result = batch
    html = (out / "index.html").read_text(encoding="utf-8")
    for r in result.records:
        assert f'<div class="name">{r["run"]}</div>' in html
        for f in r.get("files", {}).values():
            assert (out / f).exists(), f                               # every link points to a file
            assert f'href="{f}"' in html
    assert html.count('class="crm-badge failed"') == 2
    assert "boom on purpose" in html and "n × scale" in html and "results.parquet" in html


@pytest.mark.slow
def test_results_table_is_tidy(batch):
    _, _, out, _ = batch
    df = pd.read_csv(out / "results.csv")
    assert list(df.columns) == ["run", "notebook", "scale", "n", "text", "data_path", "fail",
                                "key", "label", "value", "value_text", "unit"]
    assert set(df["run"]) == {"echo-n1", "echo-n2", "injection", "toggle"}  # successful runs only
    pick = df.set_index(["run", "key"])["value"]
    assert pick["echo-n1", "n_scaled"] == 0.5 and pick["echo-n2", "n_scaled"] == 1.0  # n * scale by hand
    assert pick["toggle", "y"] == 2.0
    pq = pd.read_parquet(out / "results.parquet")
    assert pq.shape == df.shape and str(pq["n"].dtype) == "Int64"


@pytest.mark.slow
def test_manifest_and_provenance(batch):
    root, _, out, _ = batch
    man = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert man["batch"] == "t" and len(man["runs"]) == 6
    inj = man["runs"]["injection"]
    sha = hashlib.sha256((root / "data" / "a.txt").read_bytes()).hexdigest()
    assert inj["inputs"] == {"../data/a.txt": sha}
    prov = inj["provenance"]
    assert prov["data_files"] == [{"path": "../data/a.txt", "sha256": sha}]
    assert {"python", "crm-research", "pandas", "papermill"} <= set(prov["versions"])
    assert prov["started"] <= prov["finished"] and "git" in prov
    import socket

    assert socket.gethostname() not in json.dumps(man)


@pytest.mark.slow
def test_fresh_kernels_give_the_same_results_as_warm_ones(batch, tmp_path):
    _, cfg, _, warm = batch
    cold = run_batch(cfg, out=tmp_path / "cold", workers=1, progress=False, warm=False,
                     only=["echo-n2", "injection"])
    for name in ("echo-n2", "injection"):
        assert by_run(cold)[name]["results"] == by_run(warm)[name]["results"]
        assert "fresh process" in (tmp_path / "cold" / "runs" / name / f"{name}.log").read_text(encoding="utf-8")


@pytest.mark.slow
def test_rerun_skips_unchanged_reruns_changed_and_never_overwrites_good_output(batch, tmp_path):
    src_root, _, _, first = batch
    root = tmp_path / "proj"
    shutil.copytree(src_root, root)
    out = root / "reports" / "t"
    cfg = root / "notebooks" / "batch.yaml"
    good = {n: (out / "runs" / n / "run.json").read_text(encoding="utf-8") for n in ("echo-n1", "toggle")}

    # 1. unchanged: successful runs are reused, failed ones run again
    again = run_batch(cfg, out=out, workers=1, progress=False)
    acts = {r["run"]: r["action"] for r in again.records}
    assert acts == {"echo-n1": "reused", "echo-n2": "reused", "injection": "reused", "toggle": "reused",
                    "broken": "ran", "leaky": "ran"}
    assert (out / "runs" / "echo-n1" / "run.json").read_text(encoding="utf-8") == good["echo-n1"]

    # 1b. --show-code re-renders reused reports without executing them
    shown = run_batch(cfg, out=out, workers=1, progress=False, show_code=True, only=["echo-n1"])
    assert by_run(shown)["echo-n1"]["action"] == "reused"
    assert "n_scaled" in (out / "runs" / "echo-n1" / "echo-n1.html").read_text(encoding="utf-8")

    # 2. an input file changes and a run is broken: only those run; the good output stays
    good["toggle"] = (out / "runs" / "toggle" / "run.json").read_text(encoding="utf-8")
    (root / "data" / "a.txt").write_text("changed!", encoding="utf-8")
    runs = [dict(r) for r in RUNS]
    runs[3 - 1] = {"notebook": "fail.ipynb", "name": "toggle", "parameters": {"fail": True}}
    make_project(root, runs)
    third = run_batch(cfg, out=out, workers=1, progress=False, only=["echo-n1", "injection", "toggle"])
    recs = by_run(third)
    assert recs["injection"]["action"] == "ran" and recs["injection"]["status"] == "ok"
    assert {r["key"]: r["value"] for r in recs["injection"]["results"]}["data_size"] == len("changed!")
    assert recs["echo-n1"]["action"] == "reused"
    assert recs["toggle"]["status"] == "failed"
    assert (out / "runs" / "toggle" / "run.json").read_text(encoding="utf-8") == good["toggle"]  # kept
    assert (out / "runs" / "toggle" / "toggle.html").exists()
    assert (out / "failed" / "toggle" / "toggle.ipynb").exists()
    assert recs["toggle"]["previous_ok"] == "runs/toggle/toggle.html"
    assert 'href="runs/toggle/toggle.html"' in (out / "index.html").read_text(encoding="utf-8")
    assert recs["broken"]["action"] == "kept"                          # not selected by only=

    # 3. --force executes unchanged runs
    forced = run_batch(cfg, out=out, workers=1, progress=False, force=True, only=["echo-n1"])
    assert by_run(forced)["echo-n1"]["action"] == "ran"


@pytest.mark.slow
def test_resume_after_killed_batch(tmp_path):
    markers = []
    runs = []
    for i in range(3):
        m = tmp_path / f"marker{i}.txt"
        m.write_text("", encoding="utf-8")
        markers.append(m)
        runs.append({"notebook": "sleepy.ipynb", "name": f"s{i}",
                     "parameters": {"seconds": 0.2 if i == 0 else 1.5, "out_marker_path": str(m)}})
    cfg = make_project(tmp_path, runs)
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "crm_research.cli", "batch", str(cfg), "--out", str(out),
                             "-w", "1", "-q"], start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    try:
        while time.time() < deadline:  # wait until the first run is in place and the second has started
            if (out / "runs" / "s0" / "run.json").exists() and markers[1].read_text(encoding="utf-8"):
                break
            time.sleep(0.1)
        else:
            pytest.fail("the batch did not get going")
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # a hard crash: no cleanup at all
        proc.wait()
    assert not (out / "runs" / "s1").exists()
    resumed = run_batch(cfg, out=out, workers=1, progress=False)
    acts = {r["run"]: r["action"] for r in resumed.records}
    assert acts == {"s0": "reused", "s1": "ran", "s2": "ran"}
    assert resumed.exit_code == 0
    assert [m.read_text(encoding="utf-8") for m in markers] == ["x", "xx", "x"]  # s0 not executed again
    assert not (out / ".work").exists()


@pytest.mark.slow
def test_timeout_and_dead_kernel_fail_cleanly_and_expected_failures_are_labelled(tmp_path):
    cfg = make_project(tmp_path, [
        {"notebook": "sleepy.ipynb", "name": "slow", "parameters": {"seconds": 30.0}, "expect": "failure"},
        {"notebook": "crash.ipynb", "name": "crash", "expect": "failure"}])
    text = cfg.read_text(encoding="utf-8")
    cfg.write_text("timeout: 1\n" + text, encoding="utf-8")
    t = time.perf_counter()
    result = run_batch(cfg, out=tmp_path / "out", workers=2, progress=False)
    assert time.perf_counter() - t < 25
    recs = by_run(result)
    assert recs["slow"]["status"] == "failed" and "did not finish within 1 s" in recs["slow"]["error"]["message"]
    assert recs["slow"]["error"]["message"].startswith("cell 3 (In [3])")  # In [2] = injected parameters
    assert recs["crash"]["status"] == "failed" and "kernel died" in recs["crash"]["error"]["message"]
    assert recs["crash"]["error"]["message"].startswith("cell 4")
    assert (tmp_path / "out" / "failed" / "crash" / "crash.ipynb").exists()   # partial notebook kept
    assert result.exit_code == 0 and result.n_expected_failures == 2          # labelled: not a failure
    assert "failed as expected" in (tmp_path / "out" / "index.html").read_text(encoding="utf-8")


def test_cli_config_error_names_run_and_parameter_and_runs_nothing(tmp_path):
    cfg = make_project(tmp_path, [{"notebook": "echo.ipynb", "name": "a"},
                                  {"notebook": "echo.ipynb", "name": "b", "parameters": {"n": "three"}}])
    out = tmp_path / "out"
    p = subprocess.run([sys.executable, "-m", "crm_research.cli", "batch", str(cfg), "--out", str(out)],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 2
    assert "error:" in p.stderr and "runs[1] (b).parameters.n" in p.stderr and "declares n: int" in p.stderr
    assert "Traceback" not in p.stderr
    assert not out.exists()



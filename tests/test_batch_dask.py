"""Batches on a dask.distributed cluster give what the local runner gives.

A scheduler and two worker processes are started on this machine (``dask scheduler`` /
``dask worker`` subprocesses, the tcp:// path a real cluster uses); the same batch, with a
failing run and a run caught by the personal-data guard, runs on the local runner and on the
cluster, and the outcomes are compared run by run. Then the dask path's own guarantees:
skip / resume, the previous good output kept, inputs travelling with a run, clear errors.
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

from crm_research.batch import run_batch
from crm_research.errors import ConfigError

NB = Path(__file__).parent / "notebooks"
RUNS = [
    {"notebook": "echo.ipynb", "grid": {"n": [1, 2]}, "parameters": {"scale": 0.5}},
    {"notebook": "echo.ipynb", "name": "with-input", "parameters": {"text": "hi", "data_path": "../data/a.txt"}},
    {"notebook": "fail.ipynb", "name": "toggle", "parameters": {"fail": False}},
    {"notebook": "fail.ipynb", "name": "broken"},
    {"notebook": "pii.ipynb", "name": "leaky"},
    {"notebook": "crash.ipynb", "name": "crash", "expect": "failure"},   # the kernel process dies
]


def make_project(root: Path, runs: list[dict], **top) -> Path:
    (root / "notebooks").mkdir(parents=True, exist_ok=True)
    for name in ("echo", "fail", "pii", "crash"):
        shutil.copy(NB / f"{name}.ipynb", root / "notebooks" / f"{name}.ipynb")
    (root / "data").mkdir(exist_ok=True)
    if not (root / "data" / "a.txt").exists():
        (root / "data" / "a.txt").write_text("hello data", encoding="utf-8")
    cfg = root / "notebooks" / "batch.yaml"
    cfg.write_text(yaml.safe_dump({"batch": "t", **top, "runs": runs}, sort_keys=False), encoding="utf-8")
    return cfg


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A scheduler and two single-threaded worker processes, as on a real cluster."""
    pytest.importorskip("distributed", reason="dask[distributed] is not installed: pip install 'crm-research[dask]'")
    from distributed import Client

    tmp = tmp_path_factory.mktemp("dask")
    sfile = tmp / "scheduler.json"
    procs = [subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1",
                               "--port", "0", "--no-dashboard", "--scheduler-file", str(sfile)],
                              stdout=subprocess.DEVNULL, stderr=open(tmp / "scheduler.log", "wb"))]
    try:
        deadline = time.time() + 60
        while not sfile.exists() and time.time() < deadline:
            time.sleep(0.2)
        assert sfile.exists(), (tmp / "scheduler.log").read_text()
        for i in range(2):
            procs.append(subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_worker", "--scheduler-file",
                                           str(sfile), "--nthreads", "1", "--no-dashboard", "--name", f"w{i}"],
                                          stdout=subprocess.DEVNULL, stderr=open(tmp / f"worker{i}.log", "wb")))
        address = json.loads(sfile.read_text())["address"]
        with Client(address, timeout=30) as c:
            c.wait_for_workers(2, timeout=60)
        yield address
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()


@pytest.fixture(scope="module")
def both(tmp_path_factory, cluster):
    root = tmp_path_factory.mktemp("proj")
    cfg = make_project(root, RUNS)
    local = run_batch(cfg, out=root / "local", workers=2, progress=False)
    remote = run_batch(cfg, out=root / "dask", scheduler=cluster, progress=False)
    return root, cfg, local, remote


def _outcome(rec: dict) -> dict:
    err = rec.get("error") or {}
    msg = err.get("message")
    if err.get("ename") == "DeadKernelError":  # whether the dying kernel reported its execution count is a race
        msg = re.sub(r" \(In \[\d+\]\)", "", msg)
    return {"status": rec["status"], "key": rec["key"], "error": msg, "ename": err.get("ename"),
            "results": [(r["key"], r["value"]) for r in rec.get("results", [])], "files": rec.get("files")}


def _tree(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*")
                  if p.is_file() and p.name not in (".lock", "index.html", "manifest.json"))


@pytest.mark.slow
def test_same_results_as_local_runner_including_failures(both):
    root, _, local, remote = both
    assert [r["run"] for r in remote.records] == [r["run"] for r in local.records]  # config order
    for a, b in zip(local.records, remote.records):
        assert _outcome(b) == _outcome(a), a["run"]
    assert {r["run"]: r["status"] for r in remote.records} == {
        "echo-n1": "ok", "echo-n2": "ok", "with-input": "ok", "toggle": "ok", "broken": "failed", "leaky": "failed",
        "crash": "failed"}
    assert "kernel died" in next(r for r in remote.records if r["run"] == "crash")["error"]["message"]
    broken = next(r for r in remote.records if r["run"] == "broken")
    assert broken["error"]["message"].startswith("cell 4 (In [3]), line 3: ValueError: boom on purpose")
    assert remote.exit_code == local.exit_code == 1
    assert remote.workers == 2 and remote.kernel_stats["executor"] == "dask"
    # the same files in the same places, and the same tidy results table
    assert _tree(root / "dask") == _tree(root / "local")
    cols = ["run", "key", "value"]
    pd.testing.assert_frame_equal(pd.read_csv(root / "dask" / "results.csv")[cols],
                                  pd.read_csv(root / "local" / "results.csv")[cols])
    html = (root / "dask" / "index.html").read_text(encoding="utf-8")
    assert all(name in html for name in ("echo-n1", "broken", "leaky"))
    assert not (root / "dask" / ".work").exists()


@pytest.mark.slow
def test_personal_data_guard_holds_on_workers(both):
    root, *_ = both
    for p in (root / "dask").rglob("*"):
        if p.is_file() and p.suffix in (".html", ".ipynb", ".json", ".csv", ".log"):
            text = p.read_text(encoding="utf-8", errors="replace")
            assert "138 1234 5678" not in text and "zhang.wei@example.com" not in text, p
    assert not (root / "dask" / "runs" / "leaky").exists() and (root / "dask" / "failed" / "leaky").is_dir()


@pytest.mark.slow
def test_skip_resume_and_previous_good_output_kept(both, cluster):
    root, cfg, *_ = both
    out = root / "dask"
    again = run_batch(cfg, out=out, scheduler=cluster, progress=False)
    assert again.n_reused == 4 and again.n_ran == 3  # the three failures run again, nothing else
    good = (out / "runs" / "toggle" / "toggle.html").read_bytes()
    runs = [dict(r, parameters={"fail": True}) if r.get("name") == "toggle" else r for r in RUNS]
    cfg2 = make_project(root, runs)
    res = run_batch(cfg2, out=out, scheduler=cluster, progress=False, only=["toggle"])
    rec = next(r for r in res.records if r["run"] == "toggle")
    assert rec["status"] == "failed" and rec["previous_ok"] == "runs/toggle/toggle.html"
    assert (out / "runs" / "toggle" / "toggle.html").read_bytes() == good      # the good report stays
    assert (out / "failed" / "toggle" / "toggle.ipynb").exists()
    make_project(root, RUNS)  # back to the passing parameters: the failure is cleared
    res = run_batch(cfg, out=out, scheduler=cluster, progress=False, only=["toggle"])
    assert next(r for r in res.records if r["run"] == "toggle")["action"] == "reused"


@pytest.mark.slow
def test_local_cluster_and_cli(tmp_path, both, capsys):
    from crm_research.cli import main

    root, *_ = both
    cfg = make_project(tmp_path, RUNS[:1] + RUNS[3:4])
    code = main(["batch", str(cfg), "--executor", "dask", "-w", "2", "--out", str(tmp_path / "o"), "-q"])
    assert code == 1  # one run fails
    out = capsys.readouterr().out
    assert "on 2 dask worker(s) (local cluster)" in out and "FAILED broken" in out
    m = json.loads((tmp_path / "o" / "manifest.json").read_text(encoding="utf-8"))
    assert {k: v["status"] for k, v in m["runs"].items()} == {"echo-n1": "ok", "echo-n2": "ok", "broken": "failed"}
    ref = json.loads((root / "local" / "runs" / "echo-n2" / "run.json").read_text(encoding="utf-8"))
    got = json.loads((tmp_path / "o" / "runs" / "echo-n2" / "run.json").read_text(encoding="utf-8"))
    assert got["results"] == ref["results"]


def test_inputs_travel_when_the_worker_lacks_them(tmp_path):
    from crm_research.batch.dask_executor import _repoint, pack_inputs, stage_inputs

    src = tmp_path / "client"
    (src / "data" / "folder").mkdir(parents=True)
    (src / "nb.ipynb").write_text("{}", encoding="utf-8")
    (src / "helper.py").write_text("X = 1\n", encoding="utf-8")
    (src / "data" / "a.csv").write_text("x\n1\n", encoding="utf-8")
    (src / "data" / "folder" / "b.txt").write_text("b", encoding="utf-8")
    (tmp_path / "shared").mkdir()
    (tmp_path / "shared" / "big.csv").write_text("y\n", encoding="utf-8")
    task = {"notebook": str(src / "nb.ipynb"),
            "input_paths": [str(src / "data" / "a.csv"), str(src / "data" / "folder"), str(tmp_path / "shared" / "big.csv")]}
    files = pack_inputs(task, shared=[tmp_path / "shared"])
    assert [Path(p).name for p, _, _ in files] == ["nb.ipynb", "helper.py", "a.csv", "folder"]  # shared: not shipped
    shutil.rmtree(src)  # the worker's machine does not have the client's files
    staged = stage_inputs(files, tmp_path / "stage")
    assert set(staged) == {p for p, _, _ in files}
    params = {"data_path": str(src / "data" / "a.csv"), "files": [str(src / "data" / "folder" / "b.txt")], "n": 3}
    moved = _repoint(params, staged)
    assert Path(moved["data_path"]).read_text(encoding="utf-8") == "x\n1\n"
    assert Path(moved["files"][0]).read_text(encoding="utf-8") == "b" and moved["n"] == 3
    assert str(tmp_path / "stage") in moved["data_path"]


def test_bad_scheduler_and_executor_options_are_clear_errors(tmp_path, capsys):
    from crm_research.cli import main

    cfg = make_project(tmp_path, RUNS[:1])
    assert main(["batch", str(cfg), "--scheduler", "localhost:8786"]) == 2
    err = capsys.readouterr().err
    assert "--scheduler" in err and "tcp://HOST:PORT" in err and "Traceback" not in err
    assert main(["batch", str(cfg), "--scheduler", "tcp://127.0.0.1:8786", "--executor", "local"]) == 2
    assert "cannot be combined" in capsys.readouterr().err
    with pytest.raises(ConfigError, match="unknown executor 'spark'"):
        run_batch(cfg, out=tmp_path / "o", executor="spark")
    assert not (tmp_path / "o").exists()  # nothing written


def test_unreachable_scheduler_fails_before_any_run(tmp_path):
    pytest.importorskip("distributed", reason="dask[distributed] is not installed: pip install 'crm-research[dask]'")
    import socket

    with socket.socket() as s:  # a free port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cfg = make_project(tmp_path, RUNS[:1])
    from crm_research.batch import dask_executor

    with pytest.raises(ConfigError, match="cannot reach the dask scheduler"):
        dask_executor.DaskPool(scheduler=f"tcp://127.0.0.1:{port}", n_workers=1, shared=[], connect_timeout=2)
    with pytest.raises(ConfigError, match="cannot reach the dask scheduler"):
        run_batch(cfg, out=tmp_path / "o", scheduler=f"tcp://127.0.0.1:{port}", progress=False)
    assert not (tmp_path / "o" / "runs").exists()


def test_missing_dask_is_a_clear_error(tmp_path, monkeypatch, capsys):
    from crm_research.cli import main

    monkeypatch.setitem(sys.modules, "distributed", None)  # as if dask[distributed] were not installed
    cfg = make_project(tmp_path, RUNS[:1])
    assert main(["batch", str(cfg), "--executor", "dask"]) == 2
    err = capsys.readouterr().err
    assert "dask.distributed is not installed" in err and "crm-research[dask]" in err


def test_shared_folder_must_exist(tmp_path):
    from crm_research.batch import load_batch_config

    cfg = make_project(tmp_path, RUNS[:1], shared=["../nowhere"])
    with pytest.raises(ConfigError, match=r"shared\[0\].*not found"):
        load_batch_config(cfg)
    cfg = make_project(tmp_path, RUNS[:1], shared=["../data"])
    assert load_batch_config(cfg).shared == [(tmp_path / "data").resolve()]

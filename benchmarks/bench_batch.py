"""Batch speed: stock papermill + nbconvert vs crm-research's runner (cold / warm kernels,
sequential / parallel).

Two workloads:

* **trivial** - a notebook with one cheap cell: what a run costs besides its own work
  (kernel start, parameter injection, saving, HTML export) = the per-run overhead;
* **representative** - ``notebooks/01_instrument_and_data_quality.ipynb`` on small synthetic
  samples (imports pandas, seaborn and crm-research, simulates, validates, draws figures).

Baseline = what a user scripts with the stock tools: ``papermill.execute_notebook`` per run
(a fresh kernel each) and ``jupyter nbconvert --to html --no-input`` per report, one after
the other. Run:  python benchmarks/bench_batch.py [--runs 15] [--workers N] [--quick]
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _baseline import run_baseline

REPO = Path(__file__).resolve().parents[1]
NB00 = REPO / "notebooks" / "01_instrument_and_data_quality.ipynb"


def trivial_notebook(path: Path) -> None:
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    p = nbformat.v4.new_code_cell("k = 0")
    p.metadata["tags"] = ["parameters"]
    nb.cells = [nbformat.v4.new_markdown_cell("# Trivial"), p, nbformat.v4.new_code_cell("k + 1")]
    nbformat.write(nb, str(path))


def baseline(nb: Path, param_sets: list[dict], work: Path) -> float:
    """Stock tools, sequential: papermill per run + nbconvert subprocess per report."""
    import papermill as pm

    jupyter = Path(sys.executable).with_name("jupyter")
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)  # the stock kernels' start-up warnings would drown the table
    try:
        t = time.perf_counter()
        for i, params in enumerate(param_sets):
            out = work / f"run{i}.ipynb"
            pm.execute_notebook(str(nb), str(out), parameters=params, progress_bar=False, cwd=str(nb.parent))
            subprocess.run([str(jupyter), "nbconvert", "--to", "html", "--no-input", str(out)], check=True,
                           capture_output=True)
        return time.perf_counter() - t
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def ours(nb: Path, param_sets: list[dict], work: Path, workers: int, warm: bool) -> float:
    import yaml

    from crm_research.batch import run_batch

    cfg = work / "bench.yaml"
    cfg.write_text(yaml.safe_dump({"batch": "bench", "runs": [
        {"notebook": str(nb), "name": f"r{i}", "parameters": p} for i, p in enumerate(param_sets)]}),
        encoding="utf-8")
    t = time.perf_counter()
    res = run_batch(cfg, out=work / "out", workers=workers, force=True, progress=False, warm=warm)
    wall = time.perf_counter() - t
    bad = [r for r in res.records if r["status"] != "ok"]
    if bad:
        raise SystemExit(f"benchmark run failed: {bad[0]['run']}: {bad[0].get('error', {}).get('message')}")
    return wall


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--workers", type=int, default=None, help="parallel workers (default: cores)")
    ap.add_argument("--quick", action="store_true", help="5 runs, skip the slowest variants")
    args = ap.parse_args()
    from crm_research.batch.runner import default_workers
    from crm_research.batch.worker import skip_slow_format_checkers

    skip_slow_format_checkers()
    runs = 5 if args.quick else args.runs
    workers = args.workers or default_workers()
    print(f"bench_batch: {runs} runs per variant, {workers} worker(s) for the parallel variant, "
          f"{os.cpu_count()} cores, Python {sys.version.split()[0]}")
    tmp = Path(tempfile.mkdtemp(prefix="bench-batch-"))
    try:
        trivial = tmp / "trivial.ipynb"
        trivial_notebook(trivial)
        workloads = [("trivial", trivial, [{"k": i} for i in range(runs)]),
                     ("representative", NB00, [{"n": 200, "seed": i + 1} for i in range(runs)])]
        for label, nb, params in workloads:
            what = "per-run overhead" if label == "trivial" else "a real notebook"
            print(f"\n== {label} notebook ({nb.name}, {what}), {runs} runs")
            rows = []
            variants = [("stock papermill + nbconvert, sequential", lambda w: baseline(nb, params, w)),
                        ("crm-research, 1 worker, fresh kernels", lambda w: ours(nb, params, w, 1, False)),
                        ("crm-research, 1 worker, warm kernels", lambda w: ours(nb, params, w, 1, True)),
                        (f"crm-research, {workers} workers, warm kernels", lambda w: ours(nb, params, w, workers, True))]
            if args.quick:
                variants = [variants[0], variants[2], variants[3]]
            base = None
            for name, fn in variants:
                w = tmp / f"{label}-{len(rows)}"
                w.mkdir()
                wall = fn(w) if name.startswith("crm-research") else run_baseline(name, fn, w)
                if wall is None:
                    continue
                base = base or wall
                rows.append((name, wall))
                print(f"  {name:<46} {wall:7.1f} s  {wall / runs:6.2f} s/run  {base / wall:5.1f}x vs stock",
                      flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()

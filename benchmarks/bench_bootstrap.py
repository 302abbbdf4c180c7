"""Bootstrap speed: crm_research.sem vs a plain loop of semopy fits (and lavaan, optionally).

Job: 1,000 nonparametric bootstrap replicates of tests/reference/lavaan/hs_mediation.lav on
HolzingerSwineford1939.csv (301 rows, 21 free parameters, 2 defined parameters).
Target: <= 5 s wall on a 2-core machine; lavaan 0.6-14 needs 18.6 s for the same job there
(se = "bootstrap", bootstrap = 1000).

Usage:
    python benchmarks/bench_bootstrap.py [--R 1000] [--semopy-R 40] [--lavaan]

The semopy baseline refits the model (without the := lines, which semopy lacks) on
``--semopy-R`` resampled data sets in a plain loop, run in the same process right after
ours, and is scaled to R replicates.  ``--lavaan`` also times lavaan itself through
Rscript (if installed).  Other processes on the machine slow every figure; the load
average is printed with the results.
"""
from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from _baseline import run_baseline

ROOT = Path(__file__).resolve().parents[1]
REF = ROOT / "tests" / "reference" / "lavaan"
LAVAAN_REPORTED = 18.6


def time_ours(model, data, R, n_jobs):
    from crm_research import sem

    t0 = time.perf_counter()
    res = sem.fit(model, data, se="bootstrap", bootstrap=R, seed=2024, n_jobs=n_jobs)
    return time.perf_counter() - t0, res


def time_semopy(model, data, R):
    """Plain loop of semopy fits.  BLAS is limited to one thread, as in our bootstrap: on a
    busy 2-core machine a multithreaded OpenBLAS makes semopy's small-matrix algebra 10-30x
    slower (measured: 11 ms vs 150-470 ms per fit), which would flatter our ratio."""
    import semopy
    from threadpoolctl import threadpool_limits

    body = "\n".join(line for line in model.splitlines() if ":=" not in line)
    rng = np.random.default_rng(2024)
    X = data[[f"x{i}" for i in range(1, 10)]]
    t0 = time.perf_counter()
    ok = 0
    with threadpool_limits(limits=1, user_api="blas"):
        for _ in range(R):
            sample = X.iloc[rng.integers(0, len(X), len(X))].reset_index(drop=True)
            m = semopy.Model(body)
            m.fit(sample)
            ok += 1
    return time.perf_counter() - t0, ok


def time_lavaan(R):
    if shutil.which("Rscript") is None:
        return None
    script = (
        "suppressMessages(library(lavaan));"
        f"d <- read.csv('{REF / 'HolzingerSwineford1939.csv'}');"
        f"m <- paste(readLines('{REF / 'hs_mediation.lav'}'), collapse='\\n');"
        "set.seed(1); t0 <- Sys.time();"
        f"f <- sem(m, data = d, se = 'bootstrap', bootstrap = {R});"
        "cat(as.numeric(difftime(Sys.time(), t0, units = 'secs')))"
    )
    try:
        out = subprocess.run(["Rscript", "-e", script], capture_output=True, text=True, timeout=600)
        return float(out.stdout.strip().split()[-1])
    except Exception:
        return None


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--R", type=int, default=1000)
    ap.add_argument("--semopy-R", type=int, default=40)
    ap.add_argument("--lavaan", action="store_true", help="also time lavaan via Rscript")
    args = ap.parse_args(argv)
    data = pd.read_csv(REF / "HolzingerSwineford1939.csv")
    model = (REF / "hs_mediation.lav").read_text()
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} (other processes slow every figure)")

    from crm_research import sem

    t0 = time.perf_counter()
    sem.fit(model, data)  # warm up imports (scipy), not part of the job
    print(f"single fit (incl. first-call imports): {time.perf_counter() - t0:.3f} s")

    results = {}
    for jobs in (None, 1):
        t, res = time_ours(model, data, args.R, jobs)
        b = res.bootstrap
        results[jobs] = (t, res)
        label = "auto" if jobs is None else str(jobs)
        print(f"crm_research.sem bootstrap R={args.R}, n_jobs={label} (used {b.n_jobs}): {t:.2f} s wall "
              f"({b.n_ok} ok, {b.n_failed} failed, {b.n_nonadmissible} nonadmissible)")
    same = results[None][1].bootstrap.replicates.equals(results[1][1].bootstrap.replicates)
    print(f"identical replicates for n_jobs=auto and n_jobs=1: {same}")
    ours = min(t for t, _ in results.values())

    semopy_run = run_baseline("semopy plain loop", time_semopy, model, data, args.semopy_R)
    if semopy_run is not None:
        ts, ok = semopy_run
        scaled = ts / args.semopy_R * args.R
        print(f"semopy plain loop: {args.semopy_R} fits in {ts:.2f} s -> {ts / args.semopy_R * 1000:.1f} ms/fit, "
              f"scaled to R={args.R}: {scaled:.1f} s")
        print(f"ratio semopy loop / crm_research.sem: {scaled / ours:.1f}x")
    print(f"lavaan 0.6-14 (reported in the issue, this machine type): {LAVAAN_REPORTED} s for R=1000 "
          f"-> ratio {LAVAAN_REPORTED * args.R / 1000 / ours:.1f}x")
    if args.lavaan:
        tl = time_lavaan(args.R)
        if tl is None:
            print("lavaan: Rscript/lavaan not available")
        else:
            print(f"lavaan measured now: {tl:.1f} s -> ratio {tl / ours:.1f}x")
    target = "MET" if ours <= 5.0 * args.R / 1000 else "NOT MET"
    print(f"target <= 5 s per 1,000 replicates: {target} ({ours:.2f} s)")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    peak_children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"peak memory: {peak:.0f} MB (largest worker {peak_children:.0f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

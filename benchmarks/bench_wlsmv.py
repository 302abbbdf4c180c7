"""WLSMV speed: crm_research.sem vs lavaan 0.6-14, side by side in one run.

Job: the five-factor model of psych's bfi (tests/data/bfi/bfi.csv: 2,800 respondents, 25
six-point items, all declared ordered; listwise deletion leaves 2,436 rows), estimator WLSMV
(thresholds, 300 polychoric correlations, Muthen's NACOV, DWLS, robust SEs, scaled-shifted
test, fit measures).  Target: at least 3x faster than lavaan's ``sem()``.

Usage:
    python benchmarks/bench_wlsmv.py [--repeat 3] [--no-lavaan]

Ours is timed in this process around ``sem.fit`` (after one warm-up fit that loads the
modules); lavaan through Rscript with ``system.time()`` around ``sem()`` only (after
``library(lavaan)`` and reading the data; one warm-up fit too).  Both report the best of
``--repeat`` runs.  Other processes on the machine slow every figure; the load average is
printed with the results.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data" / "bfi" / "bfi.csv"
MODEL = ROOT / "tests" / "reference" / "lavaan" / "ord_bfi.model.lav"


def time_ours(repeat: int):
    sys.path.insert(0, str(ROOT / "src"))
    from crm_research import sem

    data = pd.read_csv(DATA)
    model = MODEL.read_text()
    res = sem.fit(model, data, ordered=True)          # warm-up: imports, caches
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        res = sem.fit(model, data, ordered=True)
        times.append(time.perf_counter() - t0)
    return min(times), res


def time_lavaan(repeat: int):
    if shutil.which("Rscript") is None:
        return None, None
    script = (
        "suppressMessages(library(lavaan));"
        f"d <- read.csv('{DATA}');"
        f"m <- paste(readLines('{MODEL}'), collapse='\\n');"
        "it <- c(paste0('A',1:5),paste0('C',1:5),paste0('E',1:5),paste0('N',1:5),paste0('O',1:5));"
        "f <- sem(m, data = d, ordered = it);"
        f"t <- sapply(1:{repeat}, function(i) system.time(f <- sem(m, data = d, ordered = it))[['elapsed']]);"
        "cat(min(t), fitMeasures(f, 'chisq.scaled'), packageDescription('lavaan')$Version)"
    )
    try:
        out = subprocess.run(["Rscript", "-e", script], capture_output=True, text=True, timeout=900)
        secs, chisq, version = out.stdout.strip().split()[-3:]
        return float(secs), (float(chisq), version)
    except Exception:  # pragma: no cover - R missing or failing
        return None, None


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--no-lavaan", action="store_true")
    args = ap.parse_args(argv)
    ours, res = time_ours(args.repeat)
    lav, info = (None, None) if args.no_lavaan else time_lavaan(args.repeat)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print("WLSMV, bfi 5 factors, 25 ordered items, N = %d (listwise), %d free parameters" % (
        res.nobs, int(res.fit_measures["npar"])))
    print(f"  crm_research.sem.fit : {ours:7.3f} s   chisq.scaled = {res.fit_measures['chisq.scaled']:.3f}")
    if lav is not None:
        print(f"  lavaan {info[1]} sem()  : {lav:7.3f} s   chisq.scaled = {info[0]:.3f}")
        print(f"  ratio lavaan / ours  : {lav / ours:7.2f}x   (target >= 3x)")
    else:
        print("  lavaan: not run (Rscript not found or --no-lavaan)")
    print(f"  load average (1 min) : {load:.2f} on {os.cpu_count()} cores; best of {args.repeat} runs each")


if __name__ == "__main__":
    main()

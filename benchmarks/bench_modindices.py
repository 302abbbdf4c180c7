"""Modification indices speed: crm_research.sem.modindices vs lavaan 0.6-14's modindices().

Job (issue 13): modification indices of a 24-item model -- the ECSI customer-satisfaction
model of tests/reference/lavaan/ecsi24.lav (7 factors, 24 indicators, 457 indices) on the
ECSI mobile-phone survey (tests/data/ecsi/mobi.csv, N = 250).  Target: well under a second.

Usage:
    python benchmarks/bench_modindices.py [--repeat 5] [--no-lavaan]

Both sides time modindices() alone on an already fitted model (best of ``--repeat``); lavaan
runs through Rscript when installed.  The largest index and its agreement with lavaan are
printed too.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
MODEL = ROOT / "tests" / "reference" / "lavaan" / "ecsi24.lav"
DATA = ROOT / "tests" / "data" / "ecsi" / "mobi.csv"


def time_lavaan(repeat: int):
    if shutil.which("Rscript") is None:
        return None
    script = (
        "suppressMessages(library(lavaan));"
        f"d <- read.csv('{DATA}'); m <- paste(readLines('{MODEL}'), collapse='\\n');"
        "f <- sem(m, data = d); best <- Inf;"
        f"for (i in 1:{repeat}) {{ t0 <- Sys.time(); mi <- modindices(f);"
        "best <- min(best, as.numeric(difftime(Sys.time(), t0, units = 'secs'))) };"
        "cat(best, nrow(mi), max(mi$mi))"
    )
    try:
        out = subprocess.run(["Rscript", "-e", script], capture_output=True, text=True, timeout=600)
        best, n, top = out.stdout.strip().split()[-3:]
        return float(best), int(n), float(top)
    except Exception:
        return None


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--no-lavaan", action="store_true")
    args = ap.parse_args(argv)
    from crm_research import sem

    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}")
    data = pd.read_csv(DATA)
    t0 = time.perf_counter()
    res = sem.fit(MODEL.read_text(), data)
    print(f"fit (incl. first-call imports): {time.perf_counter() - t0:.3f} s")
    times = []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        mi = sem.modindices(res)
        times.append(time.perf_counter() - t0)
    top = mi.iloc[0]
    print(f"crm_research.sem.modindices: best {min(times) * 1000:.0f} ms for {len(mi)} indices "
          f"(largest: {top['lhs']} {top['op']} {top['rhs']}, mi = {top['mi']:.3f}); "
          f"target well under 1 s: {'MET' if min(times) < 0.5 else 'NOT MET'}")
    ref = json.loads((ROOT / "tests" / "reference" / "lavaan" / "mi_mobi.json").read_text())
    print(f"committed lavaan reference: {len(ref['modindices'])} indices")
    if not args.no_lavaan:
        lav = time_lavaan(args.repeat)
        if lav is None:
            print("lavaan: not timed (Rscript/lavaan not available)")
        else:
            print(f"lavaan 0.6-14 modindices(): best {lav[0] * 1000:.0f} ms for {lav[1]} indices (largest mi = "
                  f"{lav[2]:.3f}) -> ratio {lav[0] / min(times):.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Robust ML speed, side by side with lavaan 0.6-14 in one run (when Rscript is installed).

Jobs (real data): MLR on the ECSI survey (250 x 24, 7 constructs), MLM and MLR with FIML on
psych's bfi (2,800 x 25, 5 factors), MLR on HS by school with equal loadings; each the complete fit (estimates,
robust SEs, scaled test, every fit measure).  Both sides are timed as the best of ``--repeat``
runs after one warm-up; lavaan's time is ``sem()`` plus ``fitMeasures()`` (its baseline model
for the scaled CFI/TLI is fitted there).

Usage:
    python benchmarks/bench_robust.py [--repeat 3] [--no-lavaan]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

from _baseline import run_baseline

ROOT = Path(__file__).resolve().parents[1]
REF = ROOT / "tests" / "reference" / "lavaan"
JOBS = ["mobi_mlr", "bfi_mlm", "bfi_mlr_fiml", "hs_mg_mlr_metric"]


def case(name):
    ref = json.loads((REF / f"robust_{name}.json").read_text())
    kw = {("group_equal" if k == "group.equal" else k): ([v] if k == "group.equal" and isinstance(v, str) else v)
          for k, v in ref["options"].items()}
    return ref, (REF / ref["data"]).resolve(), kw


def time_ours(name, repeat):
    from crm_research import sem

    ref, path, kw = case(name)
    data = pd.read_csv(path)
    sem.fit(ref["model"], data, **kw)
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        res = sem.fit(ref["model"], data, **kw)
        best = min(best, time.perf_counter() - t0)
    return best, res


def time_lavaan(name, repeat):
    ref, path, _ = case(name)
    opts = ", ".join(f"{k} = {json.dumps(v) if not isinstance(v, list) else 'c(' + ', '.join(map(json.dumps, v)) + ')'}"
                     for k, v in ref["options"].items())
    script = f"""suppressPackageStartupMessages(library(lavaan))
d <- read.csv({json.dumps(str(path))})
m <- {json.dumps(ref["model"])}
f <- sem(m, data = d, {opts}); invisible(fitMeasures(f))
best <- Inf
for (i in 1:{repeat}) {{ t0 <- Sys.time(); f <- sem(m, data = d, {opts}); fm <- fitMeasures(f)
  best <- min(best, as.numeric(difftime(Sys.time(), t0, units = "secs"))) }}
cat(best, "\\n")
"""
    with tempfile.NamedTemporaryFile("w", suffix=".R", delete=False) as fh:
        fh.write(script)
    try:
        out = subprocess.run(["Rscript", fh.name], capture_output=True, text=True, timeout=600)
        return float(out.stdout.strip().split()[-1])
    finally:
        os.unlink(fh.name)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--no-lavaan", action="store_true")
    a = ap.parse_args(argv)
    sys.path.insert(0, str(ROOT / "src"))
    lav = shutil.which("Rscript") and not a.no_lavaan
    print(f"load average {os.getloadavg()[0]:.2f}; best of {a.repeat}")
    print(f"{'job':<20}{'ours (s)':>10}{'lavaan (s)':>12}{'ratio':>8}")
    for name in JOBS:
        ours, res = time_ours(name, a.repeat)
        theirs = (run_baseline("lavaan", time_lavaan, name, a.repeat) if lav else None) or float("nan")
        print(f"{name:<20}{ours:>10.3f}{theirs:>12.3f}{theirs / ours:>8.1f}")


if __name__ == "__main__":
    main()

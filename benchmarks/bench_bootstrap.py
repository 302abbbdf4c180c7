"""Bootstrap speed: crm_research.sem vs lavaan 0.6-14, side by side in one run.

Job (issue 13): 1,000 nonparametric bootstrap replicates of the bundled study's combined
second-order model (surveys/ecommerce_crm.yaml, model ``combined``: 27 items, 9 first-order
and 2 second-order factors, 3 structural paths, 2 defined indirect effects) on N = 400
answers simulated from the bundled population model (seed 2024, no missing answers, no
careless respondents).  Target: at least 15x faster than lavaan's
``sem(..., se = "bootstrap", bootstrap = 1000)`` on the same machine.

``--job hs`` times the earlier job instead (tests/reference/lavaan/hs_mediation.lav on
HolzingerSwineford1939.csv, 301 rows).

Usage:
    python benchmarks/bench_bootstrap.py [--R 1000] [--repeat 3] [--job combined|hs] [--no-lavaan]

Each side runs ``--repeat`` times, alternating, and the best wall time of each is compared
(other processes on the machine slow every figure; the load average is printed).  lavaan
runs through Rscript when it is installed (one R process per repeat; only the ``sem()``
call is timed).  We report n_jobs = 1 and n_jobs = auto (all cores when worth it), and check
that both give identical replicates.
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

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
REF = ROOT / "tests" / "reference" / "lavaan"


def combined_job():
    """(syntax, data) of the bundled study's combined model on 400 simulated answers."""
    from crm_research.instruments import load_instrument, structural_syntax
    from crm_research.simulate import simulate_survey

    inst = load_instrument(str(ROOT / "surveys" / "ecommerce_crm.yaml"))
    syntax = structural_syntax(inst, "combined")
    sim = simulate_survey(str(ROOT / "surveys" / "ecommerce_crm_population.yaml"), 400, 2024, missing="none",
                          careless=0.0, include_pii=False, include_demographics=False)
    items = [i for i in inst.item_ids if i in sim.responses.columns]
    return syntax, sim.responses[items].astype(float)


def hs_job():
    return (REF / "hs_mediation.lav").read_text(), pd.read_csv(REF / "HolzingerSwineford1939.csv")


def time_ours(model, data, R, n_jobs):
    from crm_research import sem

    t0 = time.perf_counter()
    res = sem.fit(model, data, se="bootstrap", bootstrap=R, seed=2024, n_jobs=n_jobs)
    return time.perf_counter() - t0, res


def time_lavaan(model_file: Path, data_file: Path, R: int):
    if shutil.which("Rscript") is None:
        return None
    script = (
        "suppressMessages(library(lavaan));"
        f"d <- read.csv('{data_file}');"
        f"m <- paste(readLines('{model_file}'), collapse='\\n');"
        "set.seed(1); t0 <- Sys.time();"
        f"f <- sem(m, data = d, se = 'bootstrap', bootstrap = {R});"
        "cat(as.numeric(difftime(Sys.time(), t0, units = 'secs')))"
    )
    try:
        out = subprocess.run(["Rscript", "-e", script], capture_output=True, text=True, timeout=1200)
        return float(out.stdout.strip().split()[-1])
    except Exception:
        return None


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--R", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--job", choices=("combined", "hs"), default="combined")
    ap.add_argument("--no-lavaan", action="store_true", help="do not time lavaan")
    args = ap.parse_args(argv)
    model, data = combined_job() if args.job == "combined" else hs_job()
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} (other processes slow every figure)")
    print(f"job: {args.job}, N = {len(data)}, R = {args.R}")
    from crm_research import sem

    t0 = time.perf_counter()
    base = sem.fit(model, data)   # warm up imports (scipy), not part of the job
    print(f"single fit (incl. first-call imports): {time.perf_counter() - t0:.3f} s, "
          f"{int(base.fit_measures['npar'])} free parameters")
    tmp = Path(tempfile.mkdtemp(prefix="bench_boot_"))
    mfile, dfile = tmp / "model.lav", tmp / "data.csv"
    mfile.write_text(model)
    data.to_csv(dfile, index=False)
    ours = {None: [], 1: []}
    lav = []
    last = {}
    for rep in range(args.repeat):
        for jobs in (None, 1):
            t, res = time_ours(model, data, args.R, jobs)
            ours[jobs].append(t)
            last[jobs] = res
        if not args.no_lavaan:
            tl = time_lavaan(mfile, dfile, args.R)
            if tl is not None:
                lav.append(tl)
        print(f"  repeat {rep + 1}: ours auto {ours[None][-1]:.2f} s, n_jobs=1 {ours[1][-1]:.2f} s"
              + (f", lavaan {lav[-1]:.1f} s" if lav else "") + f" (load {os.getloadavg()[0]:.2f})")
    b = last[None].bootstrap
    print(f"crm_research.sem: best {min(ours[None]):.2f} s (n_jobs=auto, used {b.n_jobs}), best {min(ours[1]):.2f} s "
          f"(n_jobs=1); {b.n_ok} ok, {b.n_failed} failed, {b.n_nonadmissible} nonadmissible")
    same = last[None].bootstrap.replicates.equals(last[1].bootstrap.replicates)
    print(f"identical replicates for n_jobs=auto and n_jobs=1: {same}")
    best = min(min(ours[None]), min(ours[1]))
    if lav:
        ratio = min(lav) / best
        print(f"lavaan 0.6-14: best {min(lav):.1f} s -> ratio {ratio:.1f}x "
              f"(n_jobs=1 alone: {min(lav) / min(ours[1]):.1f}x); target >= 15x: {'MET' if ratio >= 15 else 'NOT MET'}")
    else:
        print("lavaan: not timed (Rscript/lavaan not available or --no-lavaan)")
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

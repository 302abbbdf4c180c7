"""PLS bootstrap speed: crm_research.pls vs seminr's Python port (PyPI seminr 0.2.1), side by side.

Job: 5,000 bootstrap resamples of the ECSI model (seven composites, mode A, path weighting) on
tests/data/ecsi/mobi.csv (250 respondents x 24 indicators), the job a PLS paper reports.
Target (issue 14): at least 15x faster than seminr's port in the same run (seminr: ~34 s here).

Both programs get the SAME resamples (our seeded row draws are handed to seminr's
``bootstrap_model(indices=...)``), so besides the times the benchmark checks that every
resample's path coefficients agree (max |difference| printed) and compares the bootstrap
standard errors. BLAS is limited to one thread for seminr too, as for ours: on a busy 2-core
machine a multithreaded OpenBLAS slows small-matrix algebra several-fold, which would flatter
our ratio.

Usage:
    python benchmarks/bench_pls.py [--R 5000] [--seminr-R 5000] [--repeat 3] [--n-jobs 1]

``--seminr-R`` smaller than ``--R`` times seminr on the first resamples only and scales its time
to R (printed as such). Other processes slow every figure; the load average is printed.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import pandas as pd

from _baseline import run_baseline

ROOT = Path(__file__).resolve().parents[1]
MOBI = ROOT / "tests" / "data" / "ecsi" / "mobi.csv"
SEED = 2024
BLOCKS = {"IMAG": ["IMAG1", "IMAG2", "IMAG3", "IMAG4", "IMAG5"], "CUEX": ["CUEX1", "CUEX2", "CUEX3"],
          "PERQ": [f"PERQ{i}" for i in range(1, 8)], "PERV": ["PERV1", "PERV2"],
          "CUSA": ["CUSA1", "CUSA2", "CUSA3"], "CUSCO": ["CUSCO"], "CUSL": ["CUSL1", "CUSL2", "CUSL3"]}
PATHS = [("IMAG", "CUEX"), ("CUEX", "PERQ"), ("CUEX", "PERV"), ("PERQ", "PERV"), ("IMAG", "CUSA"),
         ("CUEX", "CUSA"), ("PERQ", "CUSA"), ("PERV", "CUSA"), ("CUSA", "CUSCO"), ("IMAG", "CUSL"),
         ("CUSA", "CUSL"), ("CUSCO", "CUSL")]


def syntax() -> str:
    meas = [f"{c} =~ {' + '.join(items)}" for c, items in BLOCKS.items()]
    deps: dict[str, list[str]] = {}
    for a, b in PATHS:
        deps.setdefault(b, []).append(a)
    return "\n".join(meas + [f"{d} ~ {' + '.join(p)}" for d, p in deps.items()])


def time_ours(data, R, n_jobs):
    from crm_research import pls

    t0 = time.perf_counter()
    res = pls.fit(syntax(), data, bootstrap=R, seed=SEED, n_jobs=n_jobs)
    paths = res.paths
    return time.perf_counter() - t0, res, paths


def time_seminr(data, indices):
    import seminr
    from threadpoolctl import threadpool_limits

    mm = seminr.constructs(*[seminr.composite(c, items) for c, items in BLOCKS.items()])
    sm = seminr.relationships(*[seminr.paths(from_=a, to=b) for a, b in PATHS])
    with threadpool_limits(1):
        t0 = time.perf_counter()
        model = seminr.estimate_pls(data, mm, sm)
        boot = seminr.bootstrap_model(model, nboot=len(indices), indices=indices)
        return time.perf_counter() - t0, boot


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--R", type=int, default=5000)
    ap.add_argument("--seminr-R", type=int, default=None, help="resamples for seminr (default: R)")
    ap.add_argument("--repeat", type=int, default=3, help="runs of ours (best reported)")
    ap.add_argument("--n-jobs", type=int, default=None)
    args = ap.parse_args(argv)
    data = pd.read_csv(MOBI)
    from crm_research.pls.bootstrap import resample_indices

    print(f"PLS bootstrap, ECSI model, N = {len(data)}, R = {args.R}; load average "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    time_ours(data, 50, args.n_jobs)          # warm-up: imports
    runs = []
    for _ in range(max(1, args.repeat)):
        t, res, paths = time_ours(data, args.R, args.n_jobs)
        runs.append(t)
    ours = min(runs)
    print(f"crm_research.pls : {ours:7.2f} s  (runs: {', '.join(f'{x:.2f}' for x in runs)}; "
          f"n_jobs={res.boot.n_jobs})", flush=True)

    sR = args.seminr_R or args.R
    idx = resample_indices(len(data), args.R, SEED)[:sR]
    out = run_baseline("seminr", time_seminr, data, idx)
    if out is None:
        return 0
    ts, boot = out
    scaled = ts * args.R / sR
    print(f"seminr 0.2.1     : {scaled:7.2f} s" + (f"  ({ts:.2f} s for {sR} resamples, scaled)" if sR != args.R else ""))
    print(f"speed-up         : {scaled / ours:7.1f}x  (target >= 15x)")
    # same resamples: compare every draw's paths
    cons = res.model.constructs
    ours_draws = res.boot.estimates.paths[:sR]
    worst = 0.0
    for b, nm in enumerate(boot.boot_paths):
        P = pd.DataFrame(nm.values, index=nm.rows, columns=nm.cols)
        for a, c in PATHS:
            worst = max(worst, abs(P.loc[a, c] - ours_draws[b, cons.index(c), cons.index(a)]))
    print(f"same resamples   : max |path difference| over {len(boot.boot_paths)} draws = {worst:.1e}")
    sd = boot.paths_descriptives
    D = pd.DataFrame(sd.values, index=sd.rows, columns=sd.cols)
    se_diff = max(abs(D.loc[r.rhs, f"{r.lhs} Boot SD"] - r.se) for r in paths.itertuples()) if sR == args.R else float("nan")
    print(f"bootstrap SEs    : max |difference| = {se_diff:.1e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

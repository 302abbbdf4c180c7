"""PLS post-estimation speed: PLSpredict and Henseler's PLS-MGA, crm_research.pls vs seminr's
Python port (PyPI seminr 0.2.1), side by side in one run, same model and data.

* PLSpredict: ECSI mobi model (250 cases), 10 folds x 10 repetitions, earliest antecedents;
  seminr's ``predict_pls`` does one repetition per call, so it is called 10 times with 10
  row orderings (ours: ``pls.predict(k=10, repeats=10)``).
* PLS-MGA: cSEM's satisfaction_gender data (148 + 102 cases), 1,000 bootstrap resamples per
  group, paths (ours: ``pls.multigroup(test="henseler", n=1000)``; seminr: ``estimate_pls_mga``).

Usage:
    python benchmarks/bench_pls_assess.py [--repeat 3]
The best of ``--repeat`` runs is reported (the machine is shared).
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd

from _baseline import run_baseline

ROOT = Path(__file__).resolve().parents[1]
MOBI = ROOT / "tests" / "data" / "ecsi" / "mobi.csv"
GENDER = ROOT / "tests" / "reference" / "pls" / "csem" / "satisfaction_gender.csv"
ECSI_BLOCKS = {"IMAG": ["IMAG1", "IMAG2", "IMAG3", "IMAG4", "IMAG5"], "CUEX": ["CUEX1", "CUEX2", "CUEX3"],
               "PERQ": [f"PERQ{i}" for i in range(1, 8)], "PERV": ["PERV1", "PERV2"],
               "CUSA": ["CUSA1", "CUSA2", "CUSA3"], "CUSCO": ["CUSCO"], "CUSL": ["CUSL1", "CUSL2", "CUSL3"]}
ECSI_PATHS = [("IMAG", "CUEX"), ("CUEX", "PERQ"), ("CUEX", "PERV"), ("PERQ", "PERV"), ("IMAG", "CUSA"),
              ("CUEX", "CUSA"), ("PERQ", "CUSA"), ("PERV", "CUSA"), ("CUSA", "CUSCO"), ("IMAG", "CUSL"),
              ("CUSA", "CUSL"), ("CUSCO", "CUSL")]
SAT_BLOCKS = {"IMAG": [f"imag{i}" for i in range(1, 6)], "EXPE": [f"expe{i}" for i in range(1, 6)],
              "QUAL": [f"qual{i}" for i in range(1, 6)], "VAL": [f"val{i}" for i in range(1, 5)],
              "SAT": [f"sat{i}" for i in range(1, 5)], "LOY": [f"loy{i}" for i in range(1, 5)]}
SAT_PATHS = [("IMAG", "EXPE"), ("EXPE", "QUAL"), ("EXPE", "VAL"), ("QUAL", "VAL"), ("IMAG", "SAT"),
             ("EXPE", "SAT"), ("QUAL", "SAT"), ("VAL", "SAT"), ("IMAG", "LOY"), ("SAT", "LOY")]


def syntax(blocks, paths) -> str:
    deps: dict = {}
    for a, b in paths:
        deps.setdefault(b, []).append(a)
    return "\n".join([f"{c} =~ {' + '.join(i)}" for c, i in blocks.items()]
                     + [f"{d} ~ {' + '.join(p)}" for d, p in deps.items()])


def seminr_model(data, blocks, paths):
    import seminr

    mm = seminr.constructs(*[seminr.composite(c, items) for c, items in blocks.items()])
    sm = seminr.relationships(*[seminr.paths(from_=a, to=b) for a, b in paths])
    return seminr.estimate_pls(data, mm, sm)


def ours_predict(data):
    from crm_research import pls

    t0 = time.perf_counter()
    pls.predict(syntax(ECSI_BLOCKS, ECSI_PATHS), data, k=10, repeats=10, seed=1)
    return time.perf_counter() - t0


def seminr_predict(data):
    from seminr.predict import predict_EA, predict_pls

    model = seminr_model(data, ECSI_BLOCKS, ECSI_PATHS)
    rng = np.random.default_rng(1)
    t0 = time.perf_counter()
    for _ in range(10):
        predict_pls(model, technique=predict_EA, no_folds=10, ordering=list(rng.permutation(len(data))))
    return time.perf_counter() - t0


def ours_mga(data):
    from crm_research import pls

    t0 = time.perf_counter()
    pls.multigroup(syntax(SAT_BLOCKS, SAT_PATHS), data, "gender", test="henseler", n=1000, seed=1)
    return time.perf_counter() - t0


def seminr_mga(data):
    import seminr

    model = seminr_model(data.drop(columns="gender"), SAT_BLOCKS, SAT_PATHS)
    cond = (data["gender"] == "female").to_numpy()
    t0 = time.perf_counter()
    seminr.estimate_pls_mga(model, cond, nboot=1000, seed=1)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    mobi, gender = pd.read_csv(MOBI), pd.read_csv(GENDER)
    for label, ours, theirs, data in (("PLSpredict 10 x 10", ours_predict, seminr_predict, mobi),
                                      ("PLS-MGA 2 x 1000  ", ours_mga, seminr_mga, gender)):
        mine = min(ours(data) for _ in range(args.repeat))
        runs = [run_baseline(f"seminr {label.strip()}", theirs, data) for _ in range(args.repeat)]
        runs = [r for r in runs if r is not None]
        other = min(runs) if runs else float("nan")
        print(f"{label}: crm_research {mine:7.2f} s   seminr 0.2.1 {other:7.2f} s   ratio {other / mine:5.1f}x",
              flush=True)


if __name__ == "__main__":
    main()

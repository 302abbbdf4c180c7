"""Make the incomplete-data samples of the missing="ml" (FIML) references.

Usage (from the repository root):  python tests/reference/lavaan/make_missing_data.py [--force]

* ``hs_missing.csv``: HolzingerSwineford1939.csv with about 5 % of x1..x9 set missing
  completely at random (numpy default_rng(20261125), one uniform draw per cell, < .05),
  plus row 8 (1-based) with all of x1..x9 missing (an empty case lavaan drops with a warning).
* ``eco_missing.csv``: 400 simulated respondents of surveys/ecommerce_crm_population.yaml
  (crm_research.simulate.simulate_survey, seed 811, missing="MCAR", missing_rate=0.03,
  careless=0), item columns only.

Deterministic: same script, same bytes.  Existing files are kept unless --force is given.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]


def hs_missing() -> pd.DataFrame:
    d = pd.read_csv(HERE / "HolzingerSwineford1939.csv")
    xs = [f"x{i}" for i in range(1, 10)]
    rng = np.random.default_rng(20261125)
    M = rng.random((len(d), len(xs))) < 0.05
    for j, c in enumerate(xs):
        d.loc[M[:, j], c] = np.nan
    d.loc[7, xs] = np.nan
    return d


def eco_missing() -> pd.DataFrame:
    from crm_research.simulate import load_population, simulate_survey

    pop = load_population(ROOT / "surveys" / "ecommerce_crm_population.yaml")
    s = simulate_survey(pop, n=400, seed=811, missing="MCAR", missing_rate=0.03, careless=0)
    r = s.responses
    items = [c for c in s.item_columns if c in r.columns]
    return r[items].copy()


def main(argv: list[str]) -> int:
    force = "--force" in argv
    for name, make in (("hs_missing.csv", hs_missing), ("eco_missing.csv", eco_missing)):
        out = HERE / name
        if out.exists() and not force:
            print(f"{out} exists (use --force to remake)")
            continue
        make().to_csv(out, index=False, float_format="%.10g")
        print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

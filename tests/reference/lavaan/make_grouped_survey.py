"""Make seed_survey_groups.csv: the grouped e-commerce sample of the multi-group references.

Usage (from the repository root):  python tests/reference/lavaan/make_grouped_survey.py [--force]

Two groups of 300 clean respondents (no careless answers, no missing values) simulated with
crm_research.simulate.simulate_survey from surveys/ecommerce_crm_population.yaml, which differ
only in the structural path SAT ~ OPS (H1):

* ``segment = "new"``       (seed 701): standardized SAT ~ OPS = .60, SAT ~ CRM = .35
* ``segment = "returning"`` (seed 702): standardized SAT ~ OPS = .15, SAT ~ CRM = .35

Measurement (loadings, thresholds) is the same in both groups, so metric invariance holds in the
population.  Answers are 5-point Likert points.  Deterministic: same script, same bytes.
"""
from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import yaml

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
OUT = HERE / "seed_survey_groups.csv"
GROUPS = (("new", 701, 0.60), ("returning", 702, 0.15))
N_PER_GROUP = 300


def population(h1: float):
    from crm_research.simulate.survey import population_from_dict

    path = ROOT / "surveys" / "ecommerce_crm_population.yaml"
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    raw["paths"]["SAT"]["OPS"] = h1
    return population_from_dict(raw, source=str(path), base_dir=path.parent)


def grouped_sample() -> pd.DataFrame:
    from crm_research.simulate import simulate_survey

    parts = []
    for label, seed, h1 in GROUPS:
        s = simulate_survey(population(h1), N_PER_GROUP, seed, missing="none", careless=0.0,
                            include_demographics=False, include_pii=False)
        r = s.responses
        items = [c for c in s.item_columns if c in r.columns]
        d = r[["respondent_id"] + items].copy()
        d["respondent_id"] = label[0].upper() + d["respondent_id"].astype(str)
        d[items] = d[items].astype(int)
        d.insert(1, "segment", label)
        parts.append(d)
    return pd.concat(parts, ignore_index=True)


if __name__ == "__main__":
    if OUT.exists() and "--force" not in sys.argv:
        sys.exit(f"{OUT} exists; pass --force to overwrite it")
    grouped_sample().to_csv(OUT, index=False)
    print("wrote", OUT)

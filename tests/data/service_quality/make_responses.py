"""Write responses.csv: 400 simulated respondents of the service-quality test instrument.

Drawn from service_quality_population.yaml (seed 2024: a few blank answers, 3% careless
respondents), then two respondents' complete rows are copied over two others, keeping the
latter's ids: identical answer patterns under different ids (``duplicate_row``).

Run from the repository root::

    .venv/bin/python tests/data/service_quality/make_responses.py
"""
from __future__ import annotations

from pathlib import Path

from crm_research.simulate.survey import load_population, simulate_survey

HERE = Path(__file__).resolve().parent
SEED = 2024
N = 400
#: (copied row, overwritten row), 0-based positions
COPIES = ((20, 120), (200, 310))


def make():
    pop = load_population(HERE / "service_quality_population.yaml")
    sample = simulate_survey(pop, N, SEED)
    df = sample.responses.copy()
    rid = pop.instrument.respondent_id
    others = [c for c in df.columns if c != rid]
    for src, dst in COPIES:
        df.loc[dst, others] = df.loc[src, others].to_numpy()
    return df


def write(out: Path = HERE / "responses.csv") -> Path:
    make().to_csv(out, index=False, encoding="utf-8", lineterminator="\n")
    return out


if __name__ == "__main__":
    print(write())

"""Plain helpers shared by several test modules (fixtures live in conftest.py).

Import with ``from _helpers import ...``: pytest puts this folder on ``sys.path`` because
``tests/`` is not a package.
"""
from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
REF = ROOT / "tests" / "reference" / "lavaan"
INSTRUMENT = ROOT / "surveys" / "ecommerce_crm.yaml"
# The ECSI model of tests/data/ecsi/mobi.csv (SmartPLS's example, semPLS's ECSImobi) and
# SmartPLS's construct names for it (its reference files name constructs in words)
ECSI_MODEL = (ROOT / "tests" / "data" / "ecsi" / "ecsi.lav").read_text(encoding="utf-8")
SMARTPLS_NAMES = dict(Complaints="CUSCO", Expectation="CUEX", Image="IMAG", Loyalty="CUSL", Quality="PERQ",
                      Satisfaction="CUSA", Value="PERV")


def lavaan_result(name: str) -> SimpleNamespace:
    """Stand-in for a sem.fit result made from a lavaan reference JSON."""
    d = json.loads((REF / f"{name}.json").read_text())
    return SimpleNamespace(estimates=pd.DataFrame(d["estimates"]), fit_measures=d["fit_measures"],
                           warnings=[], converged=True)


def lav_row(res, lhs, op, rhs):
    """The one estimates row ``lhs op rhs`` of a (lavaan or crm_research) result."""
    e = res.estimates
    return e[(e.lhs == lhs) & (e.op == op) & (e.rhs == rhs)].iloc[0]


def clean_responses(inst, n: int) -> pd.DataFrame:
    """``n`` valid numeric responses to ``inst`` (the bundled instrument): every item answered
    in range, the attention check passed, demographics coded, plausible durations."""
    rows = []
    for i in range(n):
        r = {"respondent_id": 101 + i}
        for j, item in enumerate(inst.item_ids):
            r[item] = 1 + (j * (i % 4 + 1) + i + j // 5) % 5
        r["AC1"] = 4
        r.update(gender=1 + i % 3, age_band=2 + i % 5, platform=1 + i % 5, years_customer=1 + i % 4,
                 purchase_frequency=1 + (i + 1) % 4, duration_sec=300 + 10 * i)
        rows.append(r)
    return pd.DataFrame(rows)

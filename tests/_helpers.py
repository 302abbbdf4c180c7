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


def same_engine_tables(e1, e2, t1, t2, key) -> None:
    """Two engines' ibis tables hold the same rows (sorted by ``key``; floats to 1e-12) and types."""
    a = e1.execute(t1).sort_values(key).reset_index(drop=True)
    b = e2.execute(t2).sort_values(key).reset_index(drop=True)
    assert list(a.columns) == list(b.columns)
    assert len(a) == len(b) > 0
    pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-12, atol=1e-9)
    # the stored types are the same too (downstream expressions compile against them)
    assert t1.schema() == t2.schema()


def lifetimes_log(seed: int, n_cust: int = 400) -> pd.DataFrame:
    """Orders of customers active over different spans of 900 days, some back after a long
    pause: every lifecycle stage occurs."""
    import numpy as np

    rng = np.random.default_rng(seed)
    rows = []
    for c in range(n_cust):
        start = int(rng.integers(0, 850))
        stop = min(900, start + int(rng.integers(1, 400)))
        days = rng.integers(start, stop, int(rng.integers(1, 12)))
        if rng.random() < 0.15:                                   # back after a long pause
            days = np.append(days, min(899, stop + int(rng.integers(200, 400))))
        rows += [(c * 2 + 5, int(d)) for d in days]
    ids, day = np.array(rows).T
    ts = pd.Timestamp("2022-01-01") + pd.to_timedelta(day, unit="D") + pd.to_timedelta(rng.integers(0, 86400, len(day)), unit="s")
    return pd.DataFrame({"customer_id": ids, "order_id": rng.permutation(len(ids)) + 1, "timestamp": ts,
                         "amount": np.round(rng.gamma(2.0, 30.0, len(ids)), 2)})


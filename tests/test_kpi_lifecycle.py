"""Customer lifecycle stages, stage shares and transitions, hand-computed (default rules:
new < 30 days, windows of 90 days, silent > 90, churned > 180, decline < 0.5 x, growth
younger than 180 days or >= 2 recent orders and >= 1.5 x previous)."""
from __future__ import annotations

import pandas as pd
import pytest

from crm_research import kpi
from crm_research.kpi import LifecycleRules

# At 2024-12-31: recent window = Oct 3 .. Dec 31, previous window = Jul 5 .. Oct 2.
CUSTOMERS = {
    "N": ["2024-12-20"],                                  # tenure 11 days -> new
    "X": ["2024-03-01", "2024-05-01"],                   # 244 days since last -> churned
    "R": ["2023-01-01", "2024-12-01"],                   # came back after 700 days -> reactivated
    "Dc": ["2023-06-01", "2024-08-15"],                  # 138 days silent -> declining
    "Dc2": ["2023-01-15", "2024-08-01", "2024-08-15", "2024-09-01", "2024-09-15", "2024-12-15"],
    #                                                       previous 4, recent 1 < 0.5 x 4 -> declining
    "G": ["2024-09-01", "2024-12-01"],                   # tenure 121 < 180 -> growing
    "G2": ["2022-01-01", "2024-09-01", "2024-11-01", "2024-11-15", "2024-12-01"],
    #                                                       recent 3 >= 2 and >= 1.5 x 1 -> growing
    "M": ["2023-01-01", "2024-08-01", "2024-09-01", "2024-11-01", "2024-12-01"],
    #                                                       2 and 2: steady -> mature
}
EXPECTED = {"N": "new", "X": "churned", "R": "reactivated", "Dc": "declining", "Dc2": "declining",
            "G": "growing", "G2": "growing", "M": "mature"}


@pytest.fixture(scope="module")
def eng():
    rows = [(c, d) for c, ds in CUSTOMERS.items() for d in ds]
    df = pd.DataFrame(rows, columns=["customer_id", "timestamp"])
    df["timestamp"] = pd.to_datetime(df["timestamp"]) + pd.Timedelta(hours=8)
    df["order_id"] = range(1, len(df) + 1)
    df["amount"] = 1.0
    with kpi.load(df) as e:
        yield e


def test_stage_per_customer(eng):
    s = kpi.lifecycle_stages(eng, "2024-12-31").set_index("customer_id")
    assert s["stage"].to_dict() == EXPECTED
    assert s.loc["Dc2", ["orders_recent", "orders_previous"]].tolist() == [1, 4]
    assert s.loc["R", "max_recent_gap_days"] == 700
    assert s.loc["N", "tenure_days"] == 11 and s.loc["X", "days_since_last"] == 244
    assert s["group"].to_dict() == {"N": "new", "X": "churned", "R": "active", "Dc": "silent", "Dc2": "silent",
                                    "G": "active", "G2": "active", "M": "active"}


def test_stage_at_an_earlier_date(eng):
    s = kpi.lifecycle_stages(eng, "2024-06-30").set_index("customer_id")["stage"]
    # N and G not acquired yet; X (first Mar 1, tenure 121, May 1 in the recent window) growing;
    # everyone else's last order is more than 180 days old
    assert s.to_dict() == {"X": "growing", "R": "churned", "Dc": "churned", "Dc2": "churned",
                           "G2": "churned", "M": "churned"}


def test_rules_are_parameters(eng):
    strict = LifecycleRules(churn_days=120, silent_days=60)
    s = kpi.lifecycle_stages(eng, "2024-12-31", strict).set_index("customer_id")["stage"]
    assert s["Dc"] == "churned"                           # 138 > 120
    with pytest.raises(ValueError):
        LifecycleRules(new_days=400)


def test_stage_shares(eng):
    sh = kpi.stage_shares(eng, ["2024-06-30", "2024-12-31"])
    end = sh[sh["date"] == "2024-12-31"].set_index("stage")["customers"].to_dict()
    assert end == {"new": 1, "growing": 2, "mature": 1, "declining": 2, "churned": 1, "reactivated": 1}
    mid = sh[sh["date"] == "2024-06-30"].set_index("stage")
    assert mid.loc["growing", "customers"] == 1 and mid.loc["churned", "customers"] == 5
    assert mid.loc["churned", "share"] == pytest.approx(5 / 6)
    # the counting shortcut agrees with the per-customer table at every date
    for d in ("2024-03-15", "2024-09-30", "2024-12-31"):
        full = kpi.lifecycle_stages(eng, d)["stage"].value_counts().to_dict()
        fast = sh_counts(kpi.stage_shares(eng, [d]))
        assert fast == full


def sh_counts(sh):
    return {str(k): int(v) for k, v in zip(sh["stage"], sh["customers"]) if v}


def test_default_dates_are_month_ends(eng):
    sh = kpi.stage_shares(eng, as_of="2024-12-31", n=3)
    assert sorted(sh["date"].dt.strftime("%Y-%m-%d").unique()) == ["2024-10-31", "2024-11-30", "2024-12-31"]


def test_transition_matrix(eng):
    t = kpi.stage_transitions(eng, "2024-06-30", "2024-12-31")
    nz = {(a, b): n for a, b, n in zip(t["from_stage"], t["to_stage"], t["customers"]) if n}
    assert nz == {("prospect", "new"): 1, ("prospect", "growing"): 1, ("growing", "churned"): 1,
                  ("churned", "reactivated"): 1, ("churned", "declining"): 2, ("churned", "growing"): 1,
                  ("churned", "mature"): 1}
    share = t.set_index(["from_stage", "to_stage"])["share"]
    assert share[("churned", "declining")] == pytest.approx(2 / 5)
    assert share[("prospect", "new")] == pytest.approx(0.5)
    wide = kpi.stage_transitions(eng, "2024-06-30", "2024-12-31", wide=True)
    assert wide.loc["churned"].sum() == 5 and list(wide.index)[0] == "prospect"
    with pytest.raises(ValueError):
        kpi.stage_transitions(eng, "2024-12-31", "2024-06-30")


@pytest.mark.parametrize("seed", range(8))
def test_stage_shares_and_transitions_by_direct_addressing_equal_the_engine_rules(seed, monkeypatch):
    """On DuckDB, stage shares and transitions count stages with numpy over date-sorted orders;
    they must equal the rules run in the engine (lifecycle_table), for any thresholds, dates
    before, inside and after the data, ids used as positions or coded."""
    import datetime as dt

    import numpy as np

    from crm_research.kpi import lifecycle as L

    rng = np.random.default_rng(seed)
    n = 3000
    ids = rng.integers(1, 250, n) * (1 if seed % 2 else 1_000_003)        # narrow or sparse id range
    orders = pd.DataFrame({"customer_id": ids, "order_id": np.arange(n),
                           "timestamp": pd.Timestamp("2022-01-01") + pd.to_timedelta(rng.integers(0, 900, n), unit="D"),
                           "amount": 1.0})
    eng = kpi.load(orders)
    rules = L.LifecycleRules(
        new_days=int(rng.integers(1, 40)), window_days=int(rng.integers(5, 100)), silent_days=int(rng.integers(20, 90)),
        churn_days=int(rng.integers(90, 200)), decline_ratio=float(rng.uniform(0.2, 1)),
        growth_days=int(rng.integers(30, 300)), growth_ratio=float(rng.uniform(1, 2)),
        min_growth_orders=int(rng.integers(1, 4)))
    dates = sorted({(pd.Timestamp("2022-01-01") + pd.Timedelta(days=int(k))).date()
                    for k in rng.integers(-30, 950, 6)})
    a = eng.as_of()
    assert L._history(eng, dates, rules) is not None          # the fast path is taken
    fast = (L.stage_shares(eng, dates, rules), L.stage_transitions(eng, dates[0], dates[-1], rules),
            L.stage_transitions(eng, a - dt.timedelta(days=365), a, rules))
    monkeypatch.setattr(L, "_history", lambda *args, **kw: None)
    slow = (L.stage_shares(eng, dates, rules), L.stage_transitions(eng, dates[0], dates[-1], rules),
            L.stage_transitions(eng, a - dt.timedelta(days=365), a, rules))
    for x, y in zip(fast, slow):
        pd.testing.assert_frame_equal(x, y)


def test_stage_history_built_in_the_background_gives_the_same_shares_and_transitions():
    import numpy as np

    from crm_research.kpi import lifecycle as L

    rng = np.random.default_rng(3)
    n = 4000
    orders = pd.DataFrame({"customer_id": rng.integers(1, 400, n), "order_id": np.arange(n),
                           "timestamp": pd.Timestamp("2022-01-01") + pd.to_timedelta(rng.integers(0, 800, n), unit="D"),
                           "amount": 1.0})
    ahead = kpi.load(orders)
    assert L.prefetch_stage_history(ahead)                    # started (array path)
    got = (L.stage_shares(ahead), L.stage_transitions(ahead, ahead.as_of() - pd.Timedelta(days=365), ahead.as_of()))
    now = kpi.load(orders)
    want = (L.stage_shares(now), L.stage_transitions(now, now.as_of() - pd.Timedelta(days=365), now.as_of()))
    for x, y in zip(got, want):
        pd.testing.assert_frame_equal(x, y)


def test_first_rule_is_numpy_select_for_every_pattern_of_rules():
    """The stage rule lookup gives np.select's answer for every combination of five rules."""
    import numpy as np

    from crm_research.kpi.lifecycle import _first_rule

    patterns = np.arange(32)
    holds = [((patterns >> j) & 1).astype(bool) for j in range(5)]
    codes = [4, 0, 5, 3, 1]
    got = _first_rule(holds, codes, 2)
    assert got.dtype == np.int8
    assert got.tolist() == np.select(holds, codes, 2).tolist()
    assert _first_rule([h[:0] for h in holds], codes, 2).tolist() == []

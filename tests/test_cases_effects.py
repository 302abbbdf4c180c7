"""Two-sample tests of the case evaluation: right test per measure, hand-computed numbers."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from crm_research.cases.effects import choose_test, compare_means, compare_rates, sample_ratio_test, trend_test
from crm_research.cases.evaluate import _adjust, _verdict


def rows(ids, num, den=1.0):
    return pd.DataFrame({"customer_id": list(ids), "num": np.asarray(num, dtype=float),
                         "den": np.broadcast_to(np.asarray(den, dtype=float), (len(list(ids)),)).copy()})


def wilson(x, n, z=1.959963984540054):
    p = x / n
    c = (p + z * z / (2 * n)) / (1 + z * z / n)
    h = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return c - h, c + h


# --------------------------------------------------------------------------- rates
def test_two_proportion_z_matches_hand_computation():
    a = rows(range(100), [1] * 30 + [0] * 70)
    b = rows(range(100, 300), [1] * 40 + [0] * 160)
    r = compare_rates(a, b)
    assert r["test"] == "two-proportion z test"
    p1, p0, pool = 0.30, 0.20, 70 / 300
    z = (p1 - p0) / math.sqrt(pool * (1 - pool) * (1 / 100 + 1 / 200))
    assert r["est"] == pytest.approx(0.10, abs=1e-12)
    assert r["statistic"] == pytest.approx(z, rel=1e-10)
    assert r["pvalue"] == pytest.approx(2 * stats.norm.sf(abs(z)), rel=1e-10)
    # Newcombe's hybrid score interval from the two Wilson intervals
    l1, u1 = wilson(30, 100)
    l0, u0 = wilson(40, 200)
    lo = 0.10 - math.sqrt((p1 - l1) ** 2 + (u0 - p0) ** 2)
    hi = 0.10 + math.sqrt((u1 - p1) ** 2 + (p0 - l0) ** 2)
    assert (r["ci.lower"], r["ci.upper"]) == pytest.approx((lo, hi), rel=1e-9)
    assert r["lift"] == pytest.approx(0.5)
    assert r["effect_size_type"] == "relative lift" and r["effect_size.ci.lower"] < 0.5 < r["effect_size.ci.upper"]


def test_clustered_trials_do_not_count_as_independent():
    rng = np.random.default_rng(3)
    y1, y0 = rng.random(400) < 0.35, rng.random(400) < 0.25
    one = compare_rates(rows(range(400), y1), rows(range(400, 800), y0))
    # every customer's trial duplicated: perfectly correlated within customers -> same information
    dup1 = pd.concat([rows(range(400), y1)] * 2)
    dup0 = pd.concat([rows(range(400, 800), y0)] * 2)
    two = compare_rates(dup1, dup0)
    assert "clustered" in two["test"]
    assert two["est"] == pytest.approx(one["est"])
    se_one = math.sqrt(y1.mean() * (1 - y1.mean()) / 399 + y0.mean() * (1 - y0.mean()) / 399)
    se_two = (two["ci.upper"] - two["ci.lower"]) / (2 * 1.959963984540054)
    assert se_two == pytest.approx(se_one, rel=0.01)
    # the naive trial-level interval would be sqrt(2) narrower
    assert se_two > 1.3 * se_one / math.sqrt(2)


def test_same_customers_before_and_after_use_the_paired_variance():
    rng = np.random.default_rng(5)
    before = (rng.random(300) < 0.4).astype(float)
    after = np.where(rng.random(300) < 0.8, before, 1 - before)  # strongly correlated
    r = compare_rates(rows(range(300), after), rows(range(300), before))
    d = after - before
    se_paired = d.std(ddof=1) / math.sqrt(300)
    assert r["est"] == pytest.approx(d.mean())
    assert (r["ci.upper"] - r["ci.lower"]) / 2 == pytest.approx(1.959963984540054 * se_paired, rel=1e-9)


def test_share_of_an_amount_uses_the_ratio_test():
    a = rows(range(50), np.linspace(0, 100, 50), np.full(50, 100.0))
    b = rows(range(50, 100), np.linspace(0, 80, 50), np.full(50, 100.0))
    r = compare_rates(a, b, kind="ratio")
    assert r["test"].startswith("ratio z test")
    assert r["est"] == pytest.approx(0.5 - 0.4)


def test_insufficient_data_gives_no_number():
    r = compare_rates(rows([1], [1]), rows([2, 3], [0, 1]))
    assert math.isnan(r["est"]) and "insufficient" in r["note"]


# --------------------------------------------------------------------------- means
def test_welch_matches_scipy_and_hedges_g_by_hand():
    rng = np.random.default_rng(11)
    x1, x0 = rng.normal(10.5, 2.0, 80), rng.normal(10.0, 3.0, 120)
    r = compare_means(x1, x0)
    ref = stats.ttest_ind(x1, x0, equal_var=False)
    assert r["test"] == "Welch t test"
    assert r["est"] == pytest.approx(x1.mean() - x0.mean())
    assert r["pvalue"] == pytest.approx(ref.pvalue, rel=1e-8)
    ci = ref.confidence_interval(0.95)
    assert (r["ci.lower"], r["ci.upper"]) == pytest.approx((ci.low, ci.high), rel=1e-8)
    n1, n0 = len(x1), len(x0)
    sp = math.sqrt(((n1 - 1) * x1.var(ddof=1) + (n0 - 1) * x0.var(ddof=1)) / (n1 + n0 - 2))
    d = (x1.mean() - x0.mean()) / sp
    g = d * (1 - 3 / (4 * (n1 + n0) - 9))
    assert r["effect_size"] == pytest.approx(g, rel=1e-3)
    assert r["effect_size.ci.lower"] < r["effect_size"] < r["effect_size.ci.upper"]
    assert r["effect_size_type"] == "Hedges g"


def test_test_selection_rule():
    rng = np.random.default_rng(2)
    big_skewed = rng.lognormal(0, 1.2, 200)
    assert choose_test(big_skewed, big_skewed * 1.1)[0] == "welch"          # n >= 30: CLT
    small_skewed = rng.lognormal(0, 1.5, 15)
    test, reason = choose_test(small_skewed, rng.lognormal(0, 1.5, 20))
    assert test == "mwu" and "skew" in reason
    assert choose_test(rng.normal(size=12), rng.normal(size=12))[0] == "welch"  # small but symmetric
    assert choose_test(rng.normal(size=100), rng.normal(size=100), ordinal=True)[0] == "mwu"
    assert choose_test(rng.normal(size=100), rng.normal(size=100), override="mwu")[0] == "mwu"
    assert choose_test(small_skewed, small_skewed, override="welch")[0] == "welch"


def test_mann_whitney_p_with_mean_difference_estimate():
    x1 = np.array([1, 2, 2, 3, 3, 3, 4, 4, 5, 5] * 4, dtype=float)
    x0 = np.array([1, 1, 2, 2, 2, 3, 3, 3, 4, 4] * 4, dtype=float)
    r = compare_means(x1, x0, ordinal=True)
    assert r["test"] == "Mann-Whitney U test"
    ref = stats.mannwhitneyu(x1, x0, alternative="two-sided")
    assert r["statistic"] == pytest.approx(ref.statistic)
    assert r["pvalue"] == pytest.approx(ref.pvalue, rel=0.05)
    assert r["est"] == pytest.approx(x1.mean() - x0.mean())
    assert "rank-biserial" in r["note"]


# --------------------------------------------------------------------------- trends, SRM
def test_trend_test_recovers_a_slope():
    ids = np.repeat(np.arange(60), 6)
    per = np.tile(np.arange(100, 106), 60)
    rng = np.random.default_rng(0)
    y = 0.3 + 0.02 * (per - 100) + rng.normal(0, 0.01, len(per))
    t = trend_test(pd.DataFrame({"customer_id": ids, "period": per, "num": y, "den": 1.0}))
    assert t["slope"] == pytest.approx(0.02, abs=0.001) and t["pvalue"] < 1e-6 and t["periods"] == 6
    flat = trend_test(pd.DataFrame({"customer_id": ids, "period": per, "num": 0.3 + rng.normal(0, 0.01, len(per)),
                                    "den": 1.0}))
    assert flat["pvalue"] > 0.01
    assert math.isnan(trend_test(pd.DataFrame({"customer_id": [1, 2], "period": [1, 2], "num": [1.0, 2.0],
                                               "den": 1.0}))["pvalue"])


def test_sample_ratio_mismatch():
    assert sample_ratio_test(500, 500, 0.5) == pytest.approx(1.0)
    assert sample_ratio_test(560, 440, 0.5) < 0.001
    assert sample_ratio_test(700, 300, 0.7) == pytest.approx(1.0)


# --------------------------------------------------------------------------- correction and verdicts
def _table(ps, designs=None, identified=None):
    n = len(ps)
    return pd.DataFrame({"design": designs or ["did"] * n, "pvalue": ps,
                         "identified": identified if identified is not None else [True] * n,
                         "est": [1.0] * n, "kpi": ["retention_rate"] * n})


def test_holm_correction_by_hand():
    ps = [0.01, 0.04, 0.03, 0.20]
    t = _adjust(_table(ps), 0.05, "holm")
    # sorted 0.01, 0.03, 0.04, 0.20 times 4, 3, 2, 1, cumulative max
    expect = {0.01: 0.04, 0.03: 0.09, 0.04: 0.09, 0.20: 0.20}
    assert list(t["pvalue.adj"]) == pytest.approx([expect[p] for p in ps])


def test_bh_correction_and_families_per_design():
    ps = [0.01, 0.04, 0.03, 0.20]
    t = _adjust(_table(ps), 0.05, "fdr_bh")
    # BH: p * m / rank, cumulative min from the top: 0.04, 0.0533, 0.0533, 0.20
    assert list(t["pvalue.adj"]) == pytest.approx([0.04, 0.04 * 4 / 3, 0.04 * 4 / 3, 0.20])
    t = _adjust(_table([0.01, 0.02, 0.01], designs=["did", "did", "before_after"],
                       identified=[True, True, True]), 0.05, "holm")
    assert list(t["pvalue.adj"]) == pytest.approx([0.02, 0.02, 0.01])  # before_after is its own family
    t = _adjust(_table([0.01, 0.02], identified=[True, False]), 0.05, "holm")
    assert t["pvalue.adj"].iloc[0] == pytest.approx(0.01) and math.isnan(t["pvalue.adj"].iloc[1])


def test_verdicts():
    base = {"identified": True, "est": 0.02, "pvalue.adj": 0.001, "kpi": "retention_rate"}
    assert _verdict(base, 0.05) == "worked"
    assert _verdict({**base, "est": -0.02}, 0.05) == "harmful"
    assert _verdict({**base, "pvalue.adj": 0.2}, 0.05) == "no evidence"
    assert _verdict({**base, "identified": False}, 0.05) == "not identified"

"""Difference-in-differences: hand-computed estimates, statsmodels parity, parallel-trends test."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from crm_research.cases.did import did_estimate, event_study, parallel_trends_test, wls_cluster


def panel(ids, periods, f, rng=None, den=1.0):
    rows = []
    for i in ids:
        for t in periods:
            rows.append((i, t, f(i, t), den))
    d = pd.DataFrame(rows, columns=["customer_id", "period", "num", "den"])
    return d


def test_did_of_group_means_by_hand():
    # balanced panel: the DiD coefficient equals (T post - T pre) - (C post - C pre) of the means
    rng = np.random.default_rng(1)
    noise = {(i, t): rng.normal() for i in range(40) for t in range(6)}
    treated = panel(range(20), range(6), lambda i, t: 5 + 0.3 * t + 2.0 * (t >= 3) + noise[(i, t)])
    control = panel(range(20, 40), range(6), lambda i, t: 4 + 0.3 * t + noise[(i, t)])
    r = did_estimate(treated, control, [0, 1, 2], [3, 4, 5])
    m = lambda d, ps: d[d["period"].isin(ps)]["num"].mean()
    hand = (m(treated, [3, 4, 5]) - m(treated, [0, 1, 2])) - (m(control, [3, 4, 5]) - m(control, [0, 1, 2]))
    assert r.est == pytest.approx(hand, rel=1e-10)
    assert r.ci_lower < 2.0 < r.ci_upper
    assert r.n_treated == 20 and r.n_control == 20 and r.n_obs == 240
    assert r.counterfactual == pytest.approx(m(treated, [0, 1, 2]) + m(control, [3, 4, 5]) - m(control, [0, 1, 2]))
    assert r.df == 39
    assert "Difference-in-differences" in r.summary()


def test_weights_make_it_a_ratio_of_sums():
    # two customers per group, unequal denominators: the estimate is the DiD of sum(num)/sum(den)
    t = pd.DataFrame({"customer_id": [1, 2, 1, 2], "period": [0, 0, 1, 1], "num": [1, 9, 4, 18],
                      "den": [10, 30, 10, 30]}, dtype=float)
    c = pd.DataFrame({"customer_id": [3, 4, 3, 4], "period": [0, 0, 1, 1], "num": [2, 2, 3, 3],
                      "den": [20, 20, 20, 20]}, dtype=float)
    r = did_estimate(t, c, [0], [1])
    hand = (22 / 40 - 10 / 40) - (6 / 40 - 4 / 40)
    assert r.est == pytest.approx(hand, rel=1e-10)


def test_wls_cluster_equals_statsmodels():
    import statsmodels.api as sm

    rng = np.random.default_rng(7)
    n = 800
    g = rng.integers(0, 90, n)
    X = np.column_stack([np.ones(n), rng.normal(size=n), rng.integers(0, 2, n), rng.integers(0, 2, n)])
    y = X @ [1.0, 0.5, -0.2, 0.3] + rng.normal(size=n) + 0.5 * (g % 7)
    w = rng.uniform(0.2, 5, n)
    mine = wls_cluster(y, X, w, g)
    ref = sm.WLS(y, X, weights=w).fit(cov_type="cluster", cov_kwds={"groups": g}, use_t=True)
    assert mine.params == pytest.approx(ref.params, rel=1e-10)
    assert mine.bse == pytest.approx(ref.bse, rel=1e-10)
    assert mine.pvalues == pytest.approx(ref.pvalues, rel=1e-8)


def test_parallel_trends_test_flags_diverging_groups():
    rng = np.random.default_rng(4)
    pre = range(6)
    t = panel(range(60), pre, lambda i, tt: 1 + 0.05 * tt + rng.normal(0, 0.1))
    c = panel(range(60, 120), pre, lambda i, tt: 1 + rng.normal(0, 0.1))
    res = parallel_trends_test(t, c, pre)
    assert res["slope"] == pytest.approx(0.05, abs=0.01) and res["pvalue"] < 0.001
    c2 = panel(range(60, 120), pre, lambda i, tt: 1 + 0.05 * tt + rng.normal(0, 0.1))
    assert parallel_trends_test(t, c2, pre)["pvalue"] > 0.01
    assert np.isnan(parallel_trends_test(t, c, [0, 1])["pvalue"])  # needs three pre-periods


def test_event_study_reference_and_effect_path():
    rng = np.random.default_rng(9)
    t = panel(range(50), range(8), lambda i, tt: (0.5 * (tt - 3) if tt >= 4 else 0.0) + rng.normal(0, 0.05))
    c = panel(range(50, 100), range(8), lambda i, tt: rng.normal(0, 0.05))
    es = event_study(t, c, [0, 1, 2, 3], [4, 5, 6, 7])
    assert list(es["rel"]) == [-4, -3, -2, -1, 0, 1, 2, 3]
    ref = es[es["rel"] == -1].iloc[0]
    assert ref["est"] == 0.0
    post = es[es["rel"] >= 0]["est"].to_numpy()
    assert post == pytest.approx([0.5, 1.0, 1.5, 2.0], abs=0.05)
    assert (es[es["rel"] < -1]["est"].abs() < 0.05).all()

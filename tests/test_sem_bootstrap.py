"""Nonparametric bootstrap of crm_research.sem.fit (se="bootstrap").

Checks: reproducibility (same seed -> same numbers, whatever n_jobs), SEs and intervals
computed from the reported replicates, the interval formulas against hand computations,
agreement with lavaan's own bootstrap up to Monte Carlo error, and the counting of failed
and nonadmissible replicates.  Speed is measured in benchmarks/bench_bootstrap.py.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

from crm_research import sem
from crm_research.errors import ModelError
from crm_research.sem.bootstrap import bc_ci, norm_inter, percentile_ci

REF = Path(__file__).parent / "reference" / "lavaan"
HS = pd.read_csv(REF / "HolzingerSwineford1939.csv")
MEDIATION = (REF / "hs_mediation.lav").read_text()


@pytest.fixture(scope="module")
def boot250():
    return sem.fit(MEDIATION, HS, se="bootstrap", bootstrap=250, seed=11, n_jobs=1)


def test_identical_whatever_n_jobs(boot250):
    other = sem.fit(MEDIATION, HS, se="bootstrap", bootstrap=250, seed=11, n_jobs=2)
    assert other.bootstrap.n_jobs == 2
    a = boot250.bootstrap.replicates
    b = other.bootstrap.replicates
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    pd.testing.assert_frame_equal(boot250.estimates, other.estimates, check_exact=True)


def test_same_seed_same_result_other_seed_differs(boot250):
    again = sem.fit(MEDIATION, HS, se="bootstrap", bootstrap=250, seed=11)
    pd.testing.assert_frame_equal(boot250.estimates, again.estimates, check_exact=True)
    other = sem.fit(MEDIATION, HS, se="bootstrap", bootstrap=250, seed=12)
    assert not np.allclose(other.estimates["se"], boot250.estimates["se"])
    # the first replicates do not depend on R (each replicate has its own random stream)
    shorter = sem.fit(MEDIATION, HS, se="bootstrap", bootstrap=100, seed=11)
    cols = [c for c in shorter.bootstrap.replicates.columns if c != "status"]
    pd.testing.assert_frame_equal(shorter.bootstrap.replicates[cols],
                                  boot250.bootstrap.replicates[cols].iloc[:100], check_exact=True)


def test_result_structure_and_counts(boot250):
    b = boot250.bootstrap
    assert b.R == 250 and b.seed == 11
    assert b.n_ok + b.n_failed + b.n_nonadmissible == 250
    reps = b.replicates
    assert len(reps) == 250 and set(reps["status"]) <= {"ok", "failed", "nonadmissible"}
    assert (reps["status"] == "ok").sum() == b.n_ok
    assert {"visual=~x2", "a", "b", "indirect", "total"} - set(reps.columns) == {"a", "b"}  # rows named by path
    assert {"textual~visual", "speed~textual"} <= set(reps.columns)
    est = boot250.estimates
    for col in ("boot.perc.lower", "boot.perc.upper", "boot.bc.lower", "boot.bc.upper"):
        assert col in est.columns
    assert list(est.columns[-2:]) == ["std.lv", "std.all"]
    assert boot250.se_type == "bootstrap"
    text = boot250.summary()
    assert f"R = 250: {b.n_ok} used, {b.n_failed} failed, {b.n_nonadmissible} nonadmissible" in text


def test_se_and_intervals_come_from_the_replicates(boot250):
    reps = boot250.bootstrap.replicates
    ok = reps[reps["status"] == "ok"]
    est = boot250.estimates
    ind = est[est["lhs"] == "indirect"].iloc[0]
    t = ok["indirect"].to_numpy()
    assert ind["se"] == pytest.approx(np.std(t, ddof=1), rel=1e-12)
    lo, hi = percentile_ci(t, 0.95)
    assert (ind["ci.lower"], ind["ci.upper"]) == (lo, hi)   # default: percentile
    assert ind["boot.perc.lower"] == lo and ind["boot.perc.upper"] == hi
    assert lo == pytest.approx(np.quantile(t, 0.025), abs=0.3 * ind["se"])
    # z and p from the bootstrap SE; point estimate from the full sample
    assert ind["z"] == pytest.approx(ind["est"] / ind["se"])
    assert ind["pvalue"] == pytest.approx(2 * norm.sf(abs(ind["z"])))
    fixed = est[(est["lhs"] == "visual") & (est["rhs"] == "x1")].iloc[0]
    assert fixed["se"] == 0 and fixed["ci.lower"] == fixed["ci.upper"] == 1.0


def test_bc_interval_option():
    res = sem.fit(MEDIATION, HS, se="bootstrap", bootstrap=120, seed=3, boot_ci="bca.simple")
    e = res.estimates
    assert (e["ci.lower"] == e["boot.bc.lower"]).all() and (e["ci.upper"] == e["boot.bc.upper"]).all()


def test_norm_inter_by_hand():
    t = np.arange(1.0, 100.0)          # R = 99
    # (R + 1) * alpha = 2.5: interpolate between the 2nd and 3rd order statistics on the normal scale
    z1, z2, z3 = norm.ppf(0.025), norm.ppf(2 / 100), norm.ppf(3 / 100)
    expected = 2 + (z1 - z2) / (z3 - z2) * (3 - 2)
    out = norm_inter(np.random.default_rng(0).permutation(t), np.array([0.025, 0.5, 0.001, 0.999]))
    assert out[0] == pytest.approx(expected, rel=1e-14)
    assert out[1] == 50.0                   # (R + 1) * 0.5 = 50 exactly: the 50th value
    assert out[2] == 1.0 and out[3] == 99.0  # beyond the extremes: the extremes


def test_bc_equals_percentile_without_bias():
    t = np.concatenate([-np.arange(1.0, 500.0), [0.0], np.arange(1.0, 500.0)])  # symmetric around 0
    # t0 = 0: P(t < t0) = 0.4995 -> tiny correction
    assert np.allclose(bc_ci(t, 0.0, 0.9), percentile_ci(t, 0.9), atol=0.7)
    shifted = bc_ci(t, 100.0, 0.9)          # estimate above most replicates: interval moves up
    assert shifted[0] > percentile_ci(t, 0.9)[0] and shifted[1] > percentile_ci(t, 0.9)[1]


def test_agrees_with_lavaan_bootstrap_up_to_monte_carlo_error():
    """lavaan 0.6-14, se = "bootstrap", R = 2000 (hs_mediation_boot.json) vs ours, R = 1000.
    lavaan keeps nonadmissible replicates, so we do too here."""
    ref = json.loads((REF / "hs_mediation_boot.json").read_text())
    theirs = pd.DataFrame(ref["estimates"])
    res = sem.fit(MEDIATION, HS, se="bootstrap", bootstrap=1000, seed=7, keep_nonadmissible=True)
    m = res.estimates.merge(theirs, on=["lhs", "op", "rhs"], suffixes=("", "_lavaan"))
    free = m[(m["se"] > 0) & m["se_lavaan"].notna()]
    assert len(free) == 21
    ratio = free["se"] / free["se_lavaan"]
    assert ratio.between(0.9, 1.1).all(), free.assign(ratio=ratio)[["lhs", "op", "rhs", "ratio"]]
    scale = np.where(m["se_lavaan"].notna(), m["se_lavaan"], m["se"])
    for ours, lav, tol in (("boot.perc.lower", "perc.lower", 0.4), ("boot.perc.upper", "perc.upper", 0.4),
                           ("boot.bc.lower", "bc.lower", 0.8), ("boot.bc.upper", "bc.upper", 0.8)):
        d = (m[ours] - m[lav]).abs() / scale
        assert (d[m["se"] > 0] < tol).all(), m.assign(d=d)[["lhs", "op", "rhs", ours, lav, "d"]]


def test_nonadmissible_replicates_counted_and_excluded():
    d = pd.read_csv(REF / "heywood.csv")
    res = sem.fit("f =~ y1 + y2 + y3 + y4", d, se="bootstrap", bootstrap=60, seed=1)
    b = res.bootstrap
    assert b.n_nonadmissible > 30             # the population solution is a Heywood case
    assert b.n_ok == 60 - b.n_nonadmissible - b.n_failed
    assert any("nonadmissible" in w and "excluded" in w for w in res.warnings)
    kept = sem.fit("f =~ y1 + y2 + y3 + y4", d, se="bootstrap", bootstrap=60, seed=1, keep_nonadmissible=True)
    assert kept.bootstrap.n_ok == 60 - kept.bootstrap.n_failed
    theta1 = kept.bootstrap.replicates["y1~~y1"]
    assert (theta1[kept.bootstrap.replicates["status"] == "nonadmissible"] < 0).all()


def test_failed_replicates_counted():
    """With 6 rows and 3 variables many resamples repeat rows until the covariance matrix
    is singular: those replicates fail and are reported, not silently dropped.  (Rows 6-11:
    the first six rows have a sample covariance of x2 and x3 that is 0 up to rounding, so
    the full-sample model itself is empirically unidentified and cannot be bootstrapped.)"""
    small = HS[["x1", "x2", "x3"]].iloc[6:12]
    assert sem.fit("f =~ x1 + x2 + x3", small).converged
    res = sem.fit("f =~ x1 + x2 + x3", small, se="bootstrap", bootstrap=200, seed=5, keep_nonadmissible=True)
    b = res.bootstrap
    assert b.n_failed > 0
    assert (b.replicates["status"] == "failed").sum() == b.n_failed
    assert b.replicates.loc[b.replicates["status"] == "failed", "f=~x2"].isna().all()
    assert any("failed" in w for w in res.warnings)


def test_bad_arguments():
    with pytest.raises(ModelError, match="bootstrap"):
        sem.fit(MEDIATION, HS, se="bootstrap", bootstrap=1)
    with pytest.raises(ModelError, match="se="):
        sem.fit(MEDIATION, HS, se="sandwich")
    with pytest.raises(ModelError, match="boot_ci"):
        sem.fit(MEDIATION, HS, se="bootstrap", bootstrap=10, boot_ci="bca")

"""The bundled cases recover their injected true effects on fresh seeds.

For every bundled case and five seeds it never uses by default, each identified estimate of a
design that identifies the effect by construction in these simulations (difference-in-
differences: parallel trends hold; A/B tests: randomized) is compared with the simulation's
true effect over the same window. Honest rules for 95% intervals: at least 90% of all
intervals contain the truth (expected 95%), and per case and KPI the standardized errors
show no bias (|mean z| within the 0.1% bound 3.29/sqrt(n)) and no gross overconfidence. The naive before/after rows, on these
trending cases, must mostly be flagged as not identified, and treated-vs-control comparisons
of groups that differed before the start must mostly be flagged too. (Treated vs control is
*not* in the coverage check: its balance test cannot detect a baseline difference as small
as the sampling error, and such a difference biases it; that is why the cases pair it with a
difference-in-differences.)
"""
from __future__ import annotations

import pandas as pd
import pytest

from crm_research.cases import bundled_cases, evaluate_case, load_case

SEEDS = (101, 102, 103, 104, 105)
CONTROL_DESIGNS = ("did", "ab_test")


@pytest.fixture(scope="module")
def runs():
    out = []
    for path in bundled_cases():
        case = load_case(path)
        for seed in SEEDS:
            t = evaluate_case(case, seed=seed).with_truth()
            out.append(t.assign(seed=seed))
    return pd.concat(out, ignore_index=True)


@pytest.mark.slow
def test_intervals_cover_the_true_effects(runs):
    ok = runs[runs["design"].isin(CONTROL_DESIGNS) & runs["identified"]].copy()
    assert len(ok) >= 100
    # (1) coverage over everything: expected about 0.95, sd about 0.02 with this many rows
    assert ok["covered"].mean() >= 0.90, ok.groupby(["case", "kpi"])["covered"].mean()
    # (2) no KPI is biased: the standardized errors (estimate - truth) / SE average zero; under
    #     calibration their mean over n rows is N(0, 1/n), so |mean| > 3.29 / sqrt(n) has
    #     probability 0.001 per KPI. A miss rate per KPI would need far more seeds to be as sharp.
    se = (ok["ci.upper"] - ok["ci.lower"]) / (2 * 1.959963984540054)
    ok["z"] = (ok["est"] - ok["true_effect"]) / se
    per = ok.groupby(["case", "kpi"])["z"].agg(["mean", "std", "size"])
    biased = per[per["mean"].abs() > 3.29 / per["size"] ** 0.5]
    assert biased.empty, f"biased estimates:\n{biased}"
    # (3) no KPI's intervals are far too narrow: the spread of z stays near 1
    assert (per.loc[per["size"] >= 8, "std"] < 1.6).all(), per
    # the truth is the declared effect (up to clipping) for the settable KPIs
    diff = (ok["true_effect"] - ok["declared_effect"]).abs()
    scale = ok["declared_effect"].abs().clip(lower=0.01)
    assert (diff / scale < 0.10).all()  # clipping to a KPI's range makes a few slightly smaller


@pytest.mark.slow
def test_naive_before_after_is_not_claimed(runs):
    ba = runs[runs["design"] == "before_after"]
    assert len(ba) > 0
    assert (~ba["identified"]).mean() >= 0.7
    # and where it is flagged, the naive change is often far from the truth
    flagged = ba[~ba["identified"]]
    assert flagged["covered"].mean() < ok_rate(runs)


def ok_rate(runs) -> float:
    ok = runs[runs["design"].isin(CONTROL_DESIGNS) & runs["identified"]]
    return float(ok["covered"].mean())


@pytest.mark.slow
def test_treated_control_with_baseline_differences_is_flagged(runs):
    # 悦选网's pilot cities were more satisfied before the after-sales programme started
    tc = runs[(runs["design"] == "treated_control") & (runs["strategy"] == "after_sales_service")
              & (runs["kpi"] == "satisfaction_score")]
    assert len(tc) == len(SEEDS)
    assert (~tc["identified"]).mean() >= 0.6
    assert tc.loc[~tc["identified"], "note"].str.startswith("groups not comparable").all()


@pytest.mark.slow
def test_every_strategy_has_an_identified_estimate_in_most_seeds(runs):
    prim = runs.groupby(["case", "strategy", "kpi"])["identified"].any()
    designs = runs.groupby(["case", "strategy"])["design"].agg(set)
    for (case, strategy), ds in designs.items():
        if ds & set(CONTROL_DESIGNS):
            assert prim.loc[(case, strategy)].all(), (case, strategy)

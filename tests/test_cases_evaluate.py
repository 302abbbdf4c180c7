"""Evaluating cases end to end: designs, identification checks, verdicts, real files."""
from __future__ import annotations

import copy
import math

import numpy as np
import pandas as pd
import pytest
import yaml

from crm_research.cases import RESULT_COLUMNS, evaluate_case, load_case
from crm_research.cases.evaluate import strategy_windows

FLAT = {k: {"trend": 0.0, "seasonal": 0.0} for k in (
    "retention_rate", "visit_frequency", "dwell_time", "click_through_rate", "conversion_rate", "repurchase_rate",
    "average_order_value", "satisfaction_score", "high_tier_sales_share")}


def toy(tmp_path, *, strategies, effects, kpis=None, assignments=None, seed=1, customers=1500, name="toy",
        start="2020-01-01", end="2021-12-31", **top):
    raw = {"id": name, "title": "Toy", "subject": {"kind": "platform", "name": "toy"}, "design": "did",
           "strategies": strategies,
           "simulate": {"seed": seed, "customers": customers, "start": start, "end": end, "initial_share": 0.8,
                        "assignments": assignments or {"group": {"shares": {"pilot": 0.5, "holdout": 0.5}}},
                        "kpis": copy.deepcopy(FLAT if kpis is None else kpis), "effects": effects}}
    raw.update(top)
    p = tmp_path / f"{name}.yaml"
    p.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    return load_case(p)


def strat(id_, start, kpis, **kw):
    d = {"id": id_, "name": id_, "start": start, "kpis": kpis}
    d.update(kw)
    return d


def row(ev, strategy, kpi, design):
    t = ev.table
    r = t[(t["strategy"] == strategy) & (t["kpi"] == kpi) & (t["design"] == design)]
    assert len(r) == 1
    return r.iloc[0]


# --------------------------------------------------------------------------- before/after
def test_before_after_with_a_pre_trend_is_not_identified(tmp_path):
    kpis = copy.deepcopy(FLAT)
    kpis["retention_rate"] = {"level": 0.45, "sd": 0.08, "trend": 0.01}
    case = toy(tmp_path, kpis=kpis, strategies=[
        strat("points", "2021-01-01", ["retention_rate"], target="all", design="before_after")],
        effects={"points": {"retention_rate": 0.02}})
    ev = evaluate_case(case)
    r = row(ev, "points", "retention_rate", "before_after")
    assert not r["identified"] and r["verdict"] == "not identified"
    assert r["note"].startswith("pre-existing trend")
    assert r["check.pvalue"] < 0.05 and r["check.est"] == pytest.approx(0.01, abs=0.004)
    assert math.isnan(r["pvalue.adj"])
    # the observed change is reported (it is what a naive report would print) but is biased
    truth = ev.with_truth().iloc[0]["true_effect"]
    assert r["est"] > truth + 0.03  # the trend adds about 0.01 x 6 months
    assert "not identified" in ev.summary() and "not an effect estimate" in ev.summary()


def test_before_after_without_trend_recovers_the_effect(tmp_path):
    identified = 0
    for seed in (1, 2, 3):
        case = toy(tmp_path, seed=seed, strategies=[
            strat("recs", "2021-01-01", ["click_through_rate", "average_order_value"], target="all",
                  design="before_after")],
            effects={"recs": {"click_through_rate": 0.02, "average_order_value": 15.0}})
        t = evaluate_case(case).with_truth()
        ok = t[t["identified"]]
        identified += len(ok)
        assert ok["covered"].all(), ok[["kpi", "est", "ci.lower", "ci.upper", "true_effect"]]
        assert (ok["verdict"] == "worked").all()
        assert set(t["check"]) <= {"pre-period trend (slope per period)", "placebo: the same comparison one window earlier",
                                   "placebo: same calendar windows one year earlier"}
    assert identified >= 4  # of 6 rows: the checks reject a true null now and then, not usually


def test_before_after_cannot_check_without_pre_periods(tmp_path):
    case = toy(tmp_path, start="2020-01-01", end="2020-12-31", strategies=[
        strat("recs", "2020-03-01", ["click_through_rate"], target="all", design="before_after")],
        effects={"recs": {"click_through_rate": 0.02}})
    r = evaluate_case(case).table.iloc[0]
    assert not r["identified"] and "cannot check" in r["note"]


# --------------------------------------------------------------------------- control designs
def test_treated_control_with_baseline_difference_is_flagged_and_did_recovers(tmp_path):
    assign = {"group": {"shares": {"pilot": 0.5, "holdout": 0.5},
                        "offsets": {"pilot": {"conversion_rate": 0.03}}}}
    case = toy(tmp_path, assignments=assign, strategies=[
        strat("service", "2021-01-01", ["conversion_rate"], target=["pilot"], control=["holdout"],
              design="treated_control", compare_designs=["did"])],
        effects={"service": {"conversion_rate": 0.01}})
    ev = evaluate_case(case)
    t = ev.with_truth()
    tc = t[t["design"] == "treated_control"].iloc[0]
    assert not tc["identified"] and "groups not comparable" in tc["note"]
    assert tc["est"] > tc["true_effect"] + 0.015  # biased by the baseline difference
    did = t[t["design"] == "did"].iloc[0]
    assert did["identified"] and did["covered"]
    assert did["test"].startswith("DiD")
    assert len(ev.event_study) > 0 and (ev.event_study["rel"] == -1).any()


def test_ab_test_sample_ratio_mismatch(tmp_path):
    assign = {"arm": {"shares": {"new": 0.6, "old": 0.4}}}
    case = toy(tmp_path, assignments=assign, strategies=[
        strat("speed", "2021-01-01", ["conversion_rate"], arm_column="arm", target=["new"], control=["old"],
              design="ab_test", allocation=0.5)],
        effects={"speed": {"conversion_rate": 0.01}})
    r = evaluate_case(case).table.iloc[0]
    assert not r["identified"] and "sample ratio mismatch" in r["note"]
    case = toy(tmp_path, assignments=assign, name="toy2", strategies=[
        strat("speed", "2021-01-01", ["conversion_rate"], arm_column="arm", target=["new"], control=["old"],
              design="ab_test", allocation=0.6)],
        effects={"speed": {"conversion_rate": 0.01}})
    r = evaluate_case(case).table.iloc[0]
    assert r["identified"] and r["check.pvalue"] > 0.5


def test_harmful_and_no_evidence_verdicts(tmp_path):
    assign = {"arm": {"shares": {"new": 0.5, "old": 0.5}}}
    case = toy(tmp_path, assignments=assign, customers=2500, strategies=[
        strat("coupons", "2021-01-01", ["average_order_value", "dwell_time"], arm_column="arm", target=["new"],
              control=["old"], design="ab_test")],
        effects={"coupons": {"average_order_value": -40.0}})
    ev = evaluate_case(case)
    aov = row(ev, "coupons", "average_order_value", "ab_test")
    assert aov["verdict"] == "harmful" and aov["ci.upper"] < 0
    assert aov["test"] == "Welch t test" and aov["effect_size_type"] == "Hedges g" and aov["effect_size"] < 0
    dwell = row(ev, "coupons", "dwell_time", "ab_test")
    assert dwell["verdict"] == "no evidence" and dwell["ci.lower"] < 0 < dwell["ci.upper"]
    assert "coupons" in ev.verdicts().index


def test_holm_across_kpis_within_each_design(tmp_path):
    case = toy(tmp_path, strategies=[
        strat("recs", "2021-01-01", ["click_through_rate", "conversion_rate", "dwell_time", "visit_frequency"],
              target=["pilot"], control=["holdout"], compare_designs=["before_after"])],
        effects={"recs": {"click_through_rate": 0.01, "conversion_rate": 0.004}})
    t = evaluate_case(case).table
    for design, sub in t.groupby("design"):
        ok = sub[sub["identified"]]
        ps = ok["pvalue"].to_numpy()
        m = len(ps)
        order = np.argsort(ps)
        adj = np.empty(m)
        running = 0.0
        for rank, i in enumerate(order):
            running = max(running, min(1.0, (m - rank) * ps[i]))
            adj[i] = running
        assert ok["pvalue.adj"].to_numpy() == pytest.approx(adj)
        assert sub[~sub["identified"]]["pvalue.adj"].isna().all()
    bonf = evaluate_case(case, correction="bonferroni").table
    ok = bonf[bonf["identified"]]
    assert ok["pvalue.adj"].to_numpy() == pytest.approx(np.minimum(ok["pvalue"].to_numpy() * ok.groupby("design")["pvalue"]
                                                              .transform("size").to_numpy(), 1.0))


def test_result_table_and_texts(tmp_path):
    case = toy(tmp_path, strategies=[
        strat("recs", "2021-01-01", ["click_through_rate", "satisfaction_score"], target=["pilot"],
              control=["holdout"])],
        effects={"recs": {"click_through_rate": 0.02, "satisfaction_score": 0.3}})
    ev = evaluate_case(case)
    assert list(ev.table.columns) == RESULT_COLUMNS
    assert set(ev.table["verdict"]) <= {"worked", "no evidence", "harmful", "not identified"}
    r = row(ev, "recs", "click_through_rate", "did")
    assert r["pre_start"].isoformat() == "2020-07-01" and r["post_end"].isoformat() == "2021-06-30"
    assert r["n_treated"] > 600 and r["n_comparison"] > 600
    assert r["effect_size_type"].startswith("relative lift")
    s = ev.summary()
    assert "recs" in s and "click-through rate" in s and "95% CI" in s
    assert "<table" in ev._repr_html_()
    assert len(ev.sentences()) == 2 and ev.caveats()
    rt = ev.results_table()
    assert list(rt.columns) == ["Strategy", "KPI", "Design", "Test", "Estimate", "95% CI", "Unit", "Lift",
                                "p (adj.)", "Verdict"]
    assert rt.loc[rt["KPI"] == "click-through rate", "Unit"].iloc[0] == "pp"
    assert set(ev.series["group"]) == {"exposed", "control"}


def test_windows_stop_at_neighbouring_strategies():
    raw = {"id": "w", "title": "w", "subject": {"kind": "platform", "name": "w"}, "design": "did",
           "strategies": [
               {"id": "a", "name": "a", "start": "2020-05-01", "kpis": ["repurchase_rate"], "target": ["x"],
                "control": ["y"]},
               {"id": "b", "name": "b", "start": "2020-08-15", "kpis": ["repurchase_rate", "dwell_time"],
                "target": ["x"], "control": ["y"]}],
           "simulate": {"seed": 1, "start": "2020-01-01", "end": "2021-06-30",
                        "assignments": {"group": {"shares": {"x": 0.5, "y": 0.5}}}}}
    case = load_case(raw)
    from crm_research.cases import periods as P
    first, last = P.code("2020-01-01", "month"), P.code("2021-06-30", "month")
    wa = strategy_windows(case, case.strategy("a"), "repurchase_rate", first, last)
    assert [P.label(c, "month") for c in wa["post"]] == ["2020-05", "2020-06", "2020-07"]  # b changes August
    assert [P.label(c, "month") for c in wa["pre"]] == ["2020-01", "2020-02", "2020-03", "2020-04"]
    wb = strategy_windows(case, case.strategy("b"), "repurchase_rate", first, last)
    # mid-month start: August is left out of both windows; the pre window starts at a's start
    assert [P.label(c, "month") for c in wb["pre"]] == ["2020-05", "2020-06", "2020-07"]
    assert P.label(wb["post"][0], "month") == "2020-09" and len(wb["post"]) == 6
    assert wb["bounded_by"] == ["a"]
    wd = strategy_windows(case, case.strategy("b"), "dwell_time", first, last)  # a does not judge dwell time
    assert len(wd["pre"]) == 6 and wd["bounded_by"] == []


def test_real_files_give_the_same_results_as_the_simulation(tmp_path):
    case = toy(tmp_path, customers=800, strategies=[
        strat("recs", "2021-01-01", ["conversion_rate", "satisfaction_score", "retention_rate",
                                     "high_tier_sales_share", "click_through_rate", "dwell_time"],
              target=["pilot"], control=["holdout"])],
        effects={"recs": {"conversion_rate": 0.01}})
    ev_sim = evaluate_case(case)
    folder = tmp_path / "data"
    ev_sim.data.write(folder)
    raw = yaml.safe_load(case.path.read_text(encoding="utf-8"))
    del raw["simulate"]
    raw["data"] = {t: f"data/{t}.csv" for t in ("customers", "orders", "sessions", "survey")}
    p = tmp_path / "files.yaml"
    p.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    ev_files = evaluate_case(p)
    cols = ["est", "ci.lower", "ci.upper", "pvalue", "pvalue.adj", "n_treated", "n_comparison"]
    pd.testing.assert_frame_equal(ev_files.table[cols], ev_sim.table[cols], rtol=1e-9)
    assert list(ev_files.table["verdict"]) == list(ev_sim.table["verdict"])
    assert ev_files.simulation is None
    with pytest.raises(ValueError, match="simulated"):
        ev_files.with_truth()


def test_weekly_periods(tmp_path):
    case = toy(tmp_path, customers=600, start="2021-01-04", end="2021-12-26", period="week",
               window={"pre": 8, "post": 8}, strategies=[
                   strat("recs", "2021-06-07", ["click_through_rate"], target=["pilot"], control=["holdout"])],
               effects={"recs": {"click_through_rate": 0.03}})
    ev = evaluate_case(case)
    r = ev.with_truth().iloc[0]
    assert r["pre_start"].isoformat() == "2021-04-12" and r["post_end"].isoformat() == "2021-08-01"
    assert r["true_effect"] == pytest.approx(0.03)
    assert r["identified"] and r["verdict"] == "worked"

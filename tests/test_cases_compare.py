"""Cases side by side: KPI frameworks, stacked results, small-multiple figures."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pytest
import yaml

from crm_research.cases import (bundled_cases, evaluate_case, kpi_framework, kpi_framework_matrix,
                                plot_effects, plot_event_study, plot_kpi_framework, plot_kpi_series)
from crm_research.cases.compare import compare_cases, verdict_matrix


def test_kpi_framework_of_the_bundled_cases():
    fw = kpi_framework(bundled_cases())
    assert set(fw["case"]) == {"r0_yuexuan_platform", "r0_smart_appliance_product", "r2_retention_strategies"}
    r2 = fw[fw["case"] == "r2_retention_strategies"]
    assert set(r2.loc[r2["strategy"] == "tiered_membership", "kpi"]) == {"repurchase_rate", "high_tier_sales_share"}
    assert (fw.loc[fw["case"] == "r0_yuexuan_platform", "stage"] != "").all()
    m = kpi_framework_matrix(bundled_cases())
    assert list(m.columns) == [p.stem for p in bundled_cases()]
    assert m.index[0] == "retention rate"  # vocabulary order
    cell = m.loc["repurchase rate", "r2_retention_strategies"]
    assert "Promotions and coupons (maturity)" in cell and "Tiered membership (maturity)" in cell
    assert m.loc["click-through rate", "r0_smart_appliance_product"] == ""
    zh = kpi_framework_matrix(bundled_cases(), lang="zh")
    assert "复购率" in zh.index and "会员等级制度 (成熟期)" in zh.loc["复购率", "r2_retention_strategies"]


TOY = {
    "title": "toy", "subject": {"kind": "platform", "name": "toy"}, "design": "did",
    "strategies": [{"id": "recs", "name": "Recs", "start": "2020-07-01", "target": ["a"], "control": ["b"],
                    "kpis": ["click_through_rate", "average_order_value"]}],
    "simulate": {"seed": 1, "customers": 700, "start": "2020-01-01", "end": "2020-12-31",
                 "assignments": {"group": {"shares": {"a": 0.5, "b": 0.5}}},
                 "effects": {"recs": {"click_through_rate": 0.03}}},
}


@pytest.fixture(scope="module")
def evaluations(tmp_path_factory):
    out = []
    for cid in ("toy_one", "toy_two"):
        p = tmp_path_factory.mktemp(cid) / f"{cid}.yaml"
        p.write_text(yaml.safe_dump({"id": cid, **TOY}), encoding="utf-8")
        out.append(evaluate_case(p))
    return out


def test_compare_cases_and_verdict_matrix(evaluations):
    t = compare_cases(evaluations)
    assert set(t["case"]) == {"toy_one", "toy_two"} and len(t) == 4
    r = t.iloc[0]
    assert r["relative_effect"] == pytest.approx(r["est"] / r["baseline"])
    v = verdict_matrix(evaluations)
    assert v.shape == (2, 2) and set(v.index.get_level_values(0)) == {"toy_one", "toy_two"}
    assert set(v.to_numpy().ravel()) <= {"worked", "no evidence", "harmful", "not identified", ""}


def test_figures_return_composable_objects(evaluations):
    ev = evaluations[0]
    fig = plot_kpi_framework(bundled_cases())
    assert len(fig.axes) == 3
    g = plot_kpi_series(ev)
    assert len(g.axes.flat) == 2
    fig2 = plot_effects(ev)
    assert len([a for a in fig2.axes if a.get_visible()]) == 2
    fig3 = plot_effects(evaluations, scale="relative")
    assert [a.get_title() for a in fig3.axes if a.get_visible()] == ["toy"]
    es = plot_event_study(ev)
    assert es is None or len(es.axes.flat) >= 1
    plt.close("all")

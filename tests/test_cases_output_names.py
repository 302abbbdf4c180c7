"""Cases speak lavaan's vocabulary: column names, confidence level and adjustment method in attrs."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from crm_research.cases import evaluate_case, example_case
from crm_research.cases.did import did_estimate, event_study
from crm_research.cases.effects import compare_means, compare_rates, trend_test
from crm_research.cases.reader import CaseReader
from crm_research.cases.vocabulary import KPIS
from crm_research.errors import ConfigError

FORBIDDEN = {"p", "p_value", "pval", "p_adj", "ci_low", "ci_high", "ci95_low", "ci95_high", "lower", "upper",
             "ci_lower", "ci_upper", "estimate", "std_err", "stderr", "se_boot"}


@pytest.fixture(scope="module")
def ev90():
    return evaluate_case(example_case(), alpha=0.10, correction="bonferroni")


def test_results_table_names_and_attrs(ev90):
    t = ev90.table
    assert not FORBIDDEN & set(t.columns)
    assert {"est", "ci.lower", "ci.upper", "pvalue", "pvalue.adj", "check.pvalue"} <= set(t.columns)
    assert t.attrs == {"ci.level": pytest.approx(0.90), "p.adjust": "bonferroni"}
    assert ev90.event_study.attrs["ci.level"] == pytest.approx(0.90)
    assert not FORBIDDEN & set(ev90.event_study.columns)
    # the display table says which level it shows
    assert "90% CI" in ev90.results_table().columns and "90% CI" in ev90.summary()
    # bonferroni by hand within each design: min(1, p * m)
    for _, sub in t.groupby("design"):
        ok = sub[sub["identified"]]
        assert ok["pvalue.adj"].to_numpy() == pytest.approx(np.minimum(1, ok["pvalue"].to_numpy() * len(ok)))


def test_dict_results_use_the_same_names():
    a = pd.DataFrame({"customer_id": range(50), "num": [1] * 20 + [0] * 30, "den": 1})
    b = pd.DataFrame({"customer_id": range(50, 100), "num": [1] * 10 + [0] * 40, "den": 1})
    for r in (compare_rates(a, b), compare_means(np.arange(30.0), np.arange(30.0) + 3)):
        assert not FORBIDDEN & set(r)
        assert r["ci.lower"] < r["est"] < r["ci.upper"] and 0 <= r["pvalue"] <= 1
    rows = pd.DataFrame({"customer_id": [1, 2, 3] * 3, "period": [0] * 3 + [1] * 3 + [2] * 3,
                         "num": [1.0, 2, 3, 2, 3, 4, 3, 4, 5], "den": 1.0})
    assert not FORBIDDEN & set(trend_test(rows))


def test_did_result_frame_matches_its_attributes_and_level():
    rng = np.random.default_rng(3)
    rows = []
    for cid in range(40):
        treated = cid < 20
        for per in range(4):
            y = 1.0 + 0.1 * per + (0.5 if treated and per >= 2 else 0.0) + rng.normal(0, 0.2)
            rows.append({"customer_id": cid, "period": per, "num": y, "den": 1.0, "treated": treated})
    d = pd.DataFrame(rows)
    r = did_estimate(d[d.treated], d[~d.treated], [0, 1], [2, 3], alpha=0.10)
    f = r.to_frame()
    assert f.attrs["ci.level"] == pytest.approx(0.90) and not FORBIDDEN & set(f.columns)
    assert f.loc[0, "est"] == r.est and f.loc[0, "pvalue"] == r.pvalue
    crit = stats.t.ppf(0.95, r.df)  # 90% interval: t quantile with clusters - 1 df
    assert f.loc[0, "ci.upper"] - r.est == pytest.approx(crit * r.se, rel=1e-12)
    assert "90% CI" in r.summary()
    es = event_study(d[d.treated], d[~d.treated], [0, 1], [2, 3], alpha=0.10)
    assert es.attrs["ci.level"] == pytest.approx(0.90)


def test_kpi_format_units_and_signs():
    assert KPIS["conversion_rate"].format(0.0125) == "+1.25 pp"
    assert KPIS["conversion_rate"].format(0.08, signed=False) == "8.00%"
    assert KPIS["average_order_value"].format(-3.5) == "\u22123.50"          # no currency assumed
    assert KPIS["average_order_value"].in_currency("USD").format(-3.5) == "\u22123.50 USD"
    assert KPIS["dwell_time"].format(0.0) == "0.00 min"            # no sign on zero
    assert KPIS["satisfaction_score"].format(float("nan")) == "\u2014 points"


def test_case_reader_errors_name_file_and_key():
    r = CaseReader("shop.yaml")
    with pytest.raises(ConfigError) as ei:
        r.number("many", "simulate.customers", lo=20)
    assert str(ei.value).startswith("shop.yaml: simulate.customers") and "expected a number" in str(ei.value)
    with pytest.raises(ConfigError, match="out of range"):
        r.number(0.9, "alpha", lo=1e-6, hi=0.5)
    with pytest.raises(ConfigError) as ei:
        r.design("diff-in-diffs", "strategies[1].design")
    assert ei.value.key == "strategies[1].design" and "did" in (ei.value.hint or "")
    with pytest.raises(ConfigError) as ei:
        r.kpi("churn_rate", "strategies[0].kpis[0]")
    assert ei.value.key == "strategies[0].kpis[0]" and "retention_rate" in (ei.value.hint or "")
    assert math.isclose(r.number(3, "x", integer=True), 3)

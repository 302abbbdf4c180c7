"""Case files: the bundled cases load; every bad case file gives one error naming file and key."""
from __future__ import annotations

import copy
import datetime as dt
from pathlib import Path

import pandas as pd
import pytest
import yaml

from crm_research.cases import bundled_cases, load_case, resolve_kpi
from crm_research.cases.data import load_case_data
from crm_research.errors import ConfigError, DataFileError

ROOT = Path(__file__).resolve().parents[1]

BASE = {
    "id": "toy",
    "title": {"zh": "玩具案例", "en": "Toy case"},
    "subject": {"kind": "platform", "name": {"zh": "平台", "en": "a platform"}},
    "period": "month",
    "lifecycle": [{"stage": "growth", "start": "2020-01-01", "end": "2020-12-31"}],
    "design": "did",
    "strategies": [{
        "id": "coupons", "name": {"zh": "优惠券", "en": "Coupons"}, "stage": "growth",
        "start": "2020-07-01", "arm_column": "group", "target": ["pilot"], "control": ["holdout"],
        "kpis": ["repurchase_rate", "average_order_value"],
    }],
    "simulate": {"seed": 1, "customers": 200, "start": "2020-01-01", "end": "2020-12-31",
                 "assignments": {"group": {"shares": {"pilot": 0.5, "holdout": 0.5}}},
                 "effects": {"coupons": {"repurchase_rate": 0.02}}},
}


def write(tmp_path: Path, raw: dict, name: str = "case.yaml") -> Path:
    p = tmp_path / name
    p.write_text(yaml.safe_dump(raw, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return p


def variant(**changes) -> dict:
    raw = copy.deepcopy(BASE)
    for path, value in changes.items():
        node = raw
        keys = path.split("__")
        for k in keys[:-1]:
            node = node[int(k)] if k.isdigit() else node[k]
        last = keys[-1]
        if value is _DELETE:
            del node[last]
        elif last.isdigit():
            node[int(last)] = value
        else:
            node[last] = value
    return raw


_DELETE = object()


def expect_error(tmp_path, raw, key, *words, cls=ConfigError):
    p = write(tmp_path, raw)
    with pytest.raises(cls) as ei:
        load_case(p)
    msg = str(ei.value)
    assert str(p) in msg, msg
    assert key in msg, msg
    for w in words:
        assert w in msg, msg
    return ei.value


# --------------------------------------------------------------------------- bundled cases
def test_three_bundled_cases_load_with_the_reports_content():
    paths = {p.stem: p for p in bundled_cases()}
    assert {"r0_yuexuan_platform", "r0_smart_appliance_product", "r2_retention_strategies"} <= set(paths)
    yx = load_case(paths["r0_yuexuan_platform"])
    assert [s.stage for s in yx.lifecycle] == ["introduction", "growth", "maturity"]
    assert yx.subject["name"]["zh"] == "悦选网"
    by_stage = {st: [s.id for s in yx.strategies if s.stage == st] for st in ("introduction", "growth", "maturity")}
    assert len(by_stage["introduction"]) == 1 and len(by_stage["growth"]) == 3 and len(by_stage["maturity"]) == 3
    app = load_case(paths["r0_smart_appliance_product"])
    assert app.subject["kind"] == "product"
    assert [s.stage for s in app.lifecycle] == ["introduction", "growth", "maturity", "decline"]
    r2 = load_case(paths["r2_retention_strategies"])
    assert [s.id for s in r2.strategies] == ["personalized_recommendation", "promotions_coupons",
                                            "tiered_membership", "faster_customer_service"]
    assert set(r2.kpis) == {"click_through_rate", "conversion_rate", "repurchase_rate", "average_order_value",
                            "high_tier_sales_share", "satisfaction_score", "retention_rate", "visit_frequency",
                            "dwell_time"}
    # every design of the vocabulary is used by some bundled case, and every case documents true effects
    designs = {d for p in paths.values() for s in load_case(p).strategies for d in s.designs}
    assert designs == {"before_after", "treated_control", "ab_test", "did"}
    for p in paths.values():
        c = load_case(p)
        assert c.simulate is not None and c.simulate.effects
        assert set(c.simulate.effects) <= {s.id for s in c.strategies}


def test_bundled_case_by_id_and_relative_path_from_elsewhere(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert load_case("r2_retention_strategies").id == "r2_retention_strategies"
    assert load_case("../cases/r0_yuexuan_platform.yaml").id == "r0_yuexuan_platform"


def test_kpi_aliases_resolve():
    assert resolve_kpi("CTR") == "click_through_rate"
    assert resolve_kpi("留存率") == "retention_rate"
    assert resolve_kpi("Repurchase Rate") == "repurchase_rate"
    assert resolve_kpi("activity") == "visit_frequency"
    assert resolve_kpi("retension") is None


def test_defaults_and_windows(tmp_path):
    c = load_case(write(tmp_path, BASE))
    s = c.strategies[0]
    assert (s.window_pre, s.window_post) == (6, 6)
    assert s.design == "did" and c.correction == "holm" and c.alpha == 0.05
    assert c.tables == ("customers", "orders")


# --------------------------------------------------------------------------- bad case files
def test_unknown_kpi_names_file_and_key(tmp_path):
    raw = variant(strategies__0__kpis=["repurchase_rate", "retension_rate"])
    expect_error(tmp_path, raw, "strategies[0].kpis[1]", "unknown KPI", "retention_rate")


def test_unknown_design(tmp_path):
    expect_error(tmp_path, variant(design="regression_discontinuity"), "design", "unknown design")
    expect_error(tmp_path, variant(strategies__0__design="befor_after"), "strategies[0].design", "before_after")


def test_strategy_start_outside_simulated_range(tmp_path):
    expect_error(tmp_path, variant(strategies__0__start="2021-03-01",
                                   lifecycle=[{"stage": "growth", "start": "2020-01-01", "end": "2021-12-31"}]),
                 "strategies[0].start", "outside", "2020-12-31")


def test_strategy_start_without_a_period_before(tmp_path):
    expect_error(tmp_path, variant(strategies__0__start="2020-01-15"), "strategies[0].start", "no full month")


def test_strategy_start_outside_its_stage(tmp_path):
    raw = variant(lifecycle=[{"stage": "introduction", "start": "2020-01-01", "end": "2020-03-31"},
                             {"stage": "growth", "start": "2020-04-01", "end": "2020-12-31"}],
                  strategies__0__stage="introduction")
    expect_error(tmp_path, raw, "strategies[0].start", "outside its stage introduction")


def test_missing_data_file(tmp_path):
    raw = variant(simulate=_DELETE)
    raw["data"] = {"orders": "data/orders.csv", "customers": "data/customers.csv"}
    err = expect_error(tmp_path, raw, "data.orders", "file not found")
    assert "orders.csv" in str(err)


def test_missing_table_for_a_kpi(tmp_path):
    (tmp_path / "orders.csv").write_text("customer_id,timestamp,amount\n1,2020-01-02,10\n", encoding="utf-8")
    raw = variant(simulate=_DELETE, strategies__0__kpis=["satisfaction_score"])
    raw["data"] = {"orders": "orders.csv"}
    expect_error(tmp_path, raw, "data.survey", "satisfaction_score")


def test_data_and_simulate_are_exclusive(tmp_path):
    raw = copy.deepcopy(BASE)
    raw["data"] = {"orders": "x.csv"}
    expect_error(tmp_path, raw, "data", "exactly one")
    expect_error(tmp_path, variant(simulate=_DELETE), "missing data")


def test_unknown_keys_and_typos(tmp_path):
    raw = copy.deepcopy(BASE)
    raw["strategies"][0]["kpi"] = ["x"]
    expect_error(tmp_path, raw, "strategies[0].kpi", "unknown key", "kpis")
    raw = copy.deepcopy(BASE)
    raw["windw"] = 3
    expect_error(tmp_path, raw, "windw", "window")


def test_unknown_stage(tmp_path):
    expect_error(tmp_path, variant(lifecycle__0__stage="adolescence"), "lifecycle[0].stage", "unknown lifecycle stage")
    expect_error(tmp_path, variant(strategies__0__stage="maturity"), "strategies[0].stage", "not in this case")


def test_control_design_needs_a_control_group(tmp_path):
    raw = variant(strategies__0__target="all", strategies__0__control=_DELETE)
    expect_error(tmp_path, raw, "strategies[0].design", "needs a control group")


def test_bad_dates_and_numbers(tmp_path):
    expect_error(tmp_path, variant(strategies__0__start="July 2020"), "strategies[0].start", "not a date")
    expect_error(tmp_path, variant(alpha=1.5), "alpha", "out of range")
    expect_error(tmp_path, variant(correction="tukey"), "correction", "unknown correction")
    expect_error(tmp_path, variant(strategies__0__end="2020-06-01"), "strategies[0].end", "before the start")


def test_simulate_block_errors(tmp_path):
    expect_error(tmp_path, variant(simulate__effects={"coupon": {"repurchase_rate": 0.01}}),
                 "simulate.effects.coupon", "not a strategy", "coupons")
    expect_error(tmp_path, variant(simulate__effects={"coupons": {"spend_per_customer": 5}}),
                 "simulate.effects.coupons.spend_per_customer", "derived")
    expect_error(tmp_path, variant(strategies__0__target=["pilots"]), "strategies[0].target[0]", "pilots")
    expect_error(tmp_path, variant(simulate__assignments={"group": {"shares": {"pilot": 0.5, "holdout": 0.4}}}),
                 "simulate.assignments.group.shares", "add up to 0.9")
    expect_error(tmp_path, variant(simulate__kpis={"retention_rate": {"level": 1.4}}),
                 "simulate.kpis.retention_rate.level", "outside the range")
    expect_error(tmp_path, variant(simulate__seed=_DELETE), "simulate.seed", "required")


def test_invalid_yaml_names_the_line(tmp_path):
    p = tmp_path / "broken.yaml"
    p.write_text("id: x\ntitle: [unclosed\n", encoding="utf-8")
    with pytest.raises(ConfigError) as ei:
        load_case(p)
    assert str(p) in str(ei.value) and "line" in str(ei.value)


# --------------------------------------------------------------------------- against real data files
def _write_files(tmp_path: Path, *, groups=("pilot", "holdout"), first="2020-01-03", last="2020-12-20"):
    (tmp_path / "customers.csv").write_text(
        "customer_id,group,phone\n" + "".join(f"c{i},{groups[i % 2]},1380000{i:04d}\n" for i in range(6)),
        encoding="utf-8")
    rows = [f"c{i},{d},{10 + i}" for i in range(6) for d in (first, "2020-06-10", last)]
    (tmp_path / "orders.csv").write_text("customer_id,timestamp,amount\n" + "\n".join(rows) + "\n", encoding="utf-8")


def _file_case(**changes):
    raw = variant(simulate=_DELETE, **changes)
    raw["data"] = {"orders": "orders.csv", "customers": "customers.csv"}
    return raw


def test_start_outside_the_data_files_range(tmp_path):
    _write_files(tmp_path)
    raw = _file_case(strategies__0__start="2021-02-01",
                     lifecycle=[{"stage": "growth", "start": "2020-01-01", "end": "2021-12-31"}])
    c = load_case(write(tmp_path, raw))
    with pytest.raises(ConfigError) as ei:
        load_case_data(c)
    msg = str(ei.value)
    assert "case.yaml" in msg and "strategies[0].start" in msg and "2020-12-20" in msg


def test_group_missing_from_the_data(tmp_path):
    _write_files(tmp_path, groups=("pilot", "rest"))
    c = load_case(write(tmp_path, _file_case()))
    with pytest.raises(ConfigError) as ei:
        load_case_data(c)
    assert "strategies[0].control[0]" in str(ei.value) and "holdout" in str(ei.value)


def test_data_file_problems_name_file_row_and_column(tmp_path):
    _write_files(tmp_path)
    (tmp_path / "orders.csv").write_text("customer_id,timestamp,amount\nc1,2020-01-05,12\nc2,yesterday,3\n",
                                         encoding="utf-8")
    c = load_case(write(tmp_path, _file_case()))
    with pytest.raises(DataFileError) as ei:
        load_case_data(c)
    msg = str(ei.value)
    assert "orders.csv" in msg and "row 3" in msg and "timestamp" in msg and "yesterday" in msg
    (tmp_path / "orders.csv").write_text("customer_id,paid_at,amount\nc1,2020-01-05,12\n", encoding="utf-8")
    with pytest.raises(DataFileError) as ei:
        load_case_data(c)
    assert "timestamp" in str(ei.value) and "data.columns" in str(ei.value)


def test_personal_columns_are_dropped_and_columns_can_be_mapped(tmp_path):
    _write_files(tmp_path)
    text = (tmp_path / "orders.csv").read_text(encoding="utf-8").replace("timestamp", "paid_at")
    (tmp_path / "orders.csv").write_text(text, encoding="utf-8")
    raw = _file_case()
    raw["data"]["columns"] = {"orders": {"timestamp": "paid_at"}}
    c = load_case(write(tmp_path, raw))
    data, sim = load_case_data(c)
    assert sim is None
    assert "phone" not in data.customers.columns
    assert list(data.orders.columns) == ["customer_id", "timestamp", "amount"]
    assert data.date_range == (dt.date(2020, 1, 3), dt.date(2020, 12, 20))


# --------------------------------------------------------------------------- periods
def test_period_codes_round_trip():
    from crm_research.cases import periods as P

    assert P.label(P.code("2020-03-17", "month"), "month") == "2020-03"
    assert P.label(P.code("2020-03-17", "quarter"), "quarter") == "2020Q1"
    wk = P.code("2021-01-06", "week")  # a Wednesday
    assert P.start(wk, "week") == pd.Timestamp("2021-01-04") and P.label(wk, "week") == "2021-W01"
    assert P.end(P.code("2020-02-10", "month"), "month") == pd.Timestamp("2020-03-01")
    assert P.code("2020-12-31", "month") + 1 == P.code("2021-01-01", "month")
    # a start on the first day opens its period; a mid-period start waits for the next one
    assert P.first_full_period("2020-05-01", "month") == P.code("2020-05-01", "month")
    assert P.first_full_period("2020-05-02", "month") == P.code("2020-06-01", "month")
    assert P.first_full_period("2021-01-04", "week") == P.code("2021-01-04", "week")


@pytest.mark.parametrize("change, key, near", [
    (dict(windw=3), "windw", "window"),
    (dict(subject__nme={"zh": "x", "en": "x"}), "subject.nme", "name"),
    (dict(lifecycle__0__strat="2020-01-01"), "lifecycle[0].strat", "start"),
    (dict(strategies__0__kpi=["x"]), "strategies[0].kpi", "kpis"),
    (dict(strategies__0__arm_colum="group"), "strategies[0].arm_colum", "arm_column"),
    (dict(window={"pre": 3, "psot": 3}), "window.psot", "post"),
    (dict(kpi_options={"high_tier": ["gold"]}), "kpi_options.high_tier", "high_tiers"),
    (dict(title={"zh": "玩具", "eng": "Toy"}), "title.eng", "en"),
    (dict(strategies__0__name={"zh": "优惠券", "en": "Coupons", "enn": "x"}), "strategies[0].name.enn", "en"),
])
def test_unknown_keys_at_every_level_suggest_the_known_key(tmp_path, change, key, near):
    raw = variant(**change)
    err = expect_error(tmp_path, raw, key, "unknown key", f"did you mean {near!r}?")
    assert err.key == key

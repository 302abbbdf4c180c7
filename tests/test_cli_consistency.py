"""One way in for every verb: the same reading, mapping and missing-data options everywhere, the
same meaning of ``--map`` on survey and transaction verbs, old spellings kept as deprecated
aliases. CLI modules also keep light copies of library constants (so ``--help`` imports
nothing heavy); they must agree with the library."""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from crm_research.cli import build_parser, main
from crm_research.commands import kpi as kpi_cmd
from crm_research.kpi import orders

ROOT = Path(__file__).resolve().parents[1]
SURVEY_VERBS = ["validate", "fit", "invariance", "study"]
MODEL_VERBS = ["fit", "invariance", "study"]
MAP_VERBS = SURVEY_VERBS + ["kpi", "clv", "cases"]


def test_kpi_cli_policy_choices_match_the_loader():
    assert kpi_cmd.PROBLEM_FLAGS == orders.POLICY_CHOICES


def _subparsers() -> dict[str, argparse.ArgumentParser]:
    p = build_parser()
    sub = next(a for a in p._actions if isinstance(a, argparse._SubParsersAction))
    return dict(sub.choices)


def _option(parser, flag):
    return next((a for a in parser._actions if flag in a.option_strings), None)


@pytest.mark.parametrize("verb", MAP_VERBS)
def test_every_data_verb_takes_map_file_or_pairs(verb):
    subs = _subparsers()
    assert verb in subs, f"no {verb} command"
    a = _option(subs[verb], "--map")
    assert a is not None and isinstance(a, argparse._AppendAction), verb
    assert a.metavar.startswith("FILE.yaml|COLUMN="), (verb, a.metavar)
    assert a.dest == "column_map"


@pytest.mark.parametrize("verb", SURVEY_VERBS)
def test_survey_verbs_take_the_reading_options(verb):
    subs = _subparsers()
    assert verb in subs, f"no {verb} command"
    for flag in ("--sheet", "--encoding", "--delimiter"):
        assert _option(subs[verb], flag) is not None, (verb, flag)
    help_text = subs[verb].format_help()
    assert "--sheet NAME|INDEX" in help_text or "--sheet" in help_text


@pytest.mark.parametrize("verb", MODEL_VERBS)
def test_model_verbs_take_missing_ml_or_listwise(verb):
    subs = _subparsers()
    assert verb in subs, f"no {verb} command"
    a = _option(subs[verb], "--missing")
    assert a is not None and tuple(a.choices) == ("ml", "listwise", "pairwise"), verb
    for flag in ("--estimator", "--ordered", "--se", "--test"):     # lavaan's estimation options (issue 13)
        assert _option(subs[verb], flag) is not None, (verb, flag)


def test_help_documents_the_options(capsys):
    for verb in ("fit", "invariance", "validate", "kpi", "clv", "cases"):
        with pytest.raises(SystemExit):
            main([verb, "--help"])
        text = capsys.readouterr().out
        assert "--map FILE.yaml|COLUMN=" in text, verb
        if verb in ("fit", "invariance", "validate"):
            assert "--sheet NAME|INDEX" in text and "--encoding ENC" in text and "--delimiter D" in text, verb
        if verb in ("fit", "invariance"):
            assert "{ml,listwise,pairwise}" in text and "full-information" in text, verb
            assert "--estimator NAME" in text and "--ordered all|ITEM,ITEM" in text, verb


# --------------------------------------------------------------------------- kpi
@pytest.fixture(scope="module")
def order_files(tmp_path_factory):
    d = tmp_path_factory.mktemp("orders")
    rng = np.random.default_rng(3)
    n = 400
    canon = pd.DataFrame({
        "customer_id": rng.integers(1, 60, n), "order_id": np.arange(1, n + 1),
        "timestamp": pd.Timestamp("2023-01-01") + pd.to_timedelta(rng.integers(0, 360, n), unit="D"),
        "amount": rng.gamma(2.0, 30.0, n).round(2)})
    canon = canon.sort_values("timestamp", kind="stable")
    canon.to_csv(d / "canon.csv", index=False)
    canon.rename(columns={"customer_id": "user", "order_id": "单号", "timestamp": "paid_at", "amount": "total"}).to_csv(
        d / "renamed.csv", index=False)
    return d


KPI_NEW = ["--map", "user=customer_id", "--map", "单号=order_id", "--map", "paid_at=timestamp", "--map", "total=amount"]
KPI_OLD = ["--map", "customer_id=user", "--map", "order_id=单号", "--map", "timestamp=paid_at", "--map", "amount=total"]


def _kpi(capsys, files, src, out, *maps):
    code = main(["kpi", str(files / src), "-o", str(out), "--no-figures", "--as-of", "2023-12-31", *maps])
    printed = capsys.readouterr()
    assert code == 0, printed.err
    return printed.out


def test_kpi_map_both_orders_and_a_file(order_files, tmp_path, capsys):
    _kpi(capsys, order_files, "canon.csv", tmp_path / "canon")
    new = _kpi(capsys, order_files, "renamed.csv", tmp_path / "new", *KPI_NEW)
    old = _kpi(capsys, order_files, "renamed.csv", tmp_path / "old", *KPI_OLD)
    y = tmp_path / "map.yaml"
    y.write_text("user: customer_id\n单号: order_id\npaid_at: timestamp\ntotal: amount\n", encoding="utf-8")
    _kpi(capsys, order_files, "renamed.csv", tmp_path / "file", "--map", str(y))
    assert "note:" not in new
    assert "note: --map customer_id=user: read as file column 'user' -> 'customer_id'" in old
    tables = sorted(p.name for p in (tmp_path / "canon").glob("*.csv") if not p.name.startswith("validation_"))
    assert len(tables) > 5
    for run in ("new", "old", "file"):   # DuckDB sums in parallel: equal up to rounding, not bytes
        for name in tables:
            pd.testing.assert_frame_equal(pd.read_csv(tmp_path / run / name), pd.read_csv(tmp_path / "canon" / name),
                                          rtol=1e-9, obj=f"{run} {name}")


def test_kpi_map_errors(order_files, tmp_path, capsys):
    assert main(["kpi", str(order_files / "renamed.csv"), "-o", str(tmp_path / "a"), "--map", "user=customer"]) == 2
    assert "unknown field 'customer'" in capsys.readouterr().err
    assert main(["kpi", str(order_files / "renamed.csv"), "-o", str(tmp_path / "b"), "--map", "usr=customer_id"]) == 2
    err = capsys.readouterr().err
    assert "this column is not in" in err and "did you mean 'user'" in err


# --------------------------------------------------------------------------- clv
@pytest.fixture(scope="module")
def clv_files(tmp_path_factory):
    from crm_research.clv import read_cdnow

    d = tmp_path_factory.mktemp("clv")
    o = read_cdnow(ROOT / "tests" / "data" / "cdnow" / "CDNOW_sample.txt")[["customer_id", "timestamp", "amount"]]
    o.to_csv(d / "canon.csv", index=False)
    o.rename(columns={"customer_id": "客户", "timestamp": "paid_at", "amount": "total"}).to_csv(d / "renamed.csv",
                                                                                                index=False)
    return d


def _clv(capsys, src, out, *extra):
    code = main(["clv", str(src), "--calibration-end", "1997-09-30", "--models", "bgnbd", "-o", str(out), *extra])
    printed = capsys.readouterr()
    assert code == 0, printed.err
    return printed


def test_clv_map_both_orders_and_deprecated_columns(clv_files, tmp_path, capsys):
    _clv(capsys, clv_files / "canon.csv", tmp_path / "canon")
    new = _clv(capsys, clv_files / "renamed.csv", tmp_path / "new",
               "--map", "客户=customer_id", "--map", "paid_at=timestamp", "--map", "total=amount")
    old = _clv(capsys, clv_files / "renamed.csv", tmp_path / "old",
               "--map", "customer_id=客户", "--map", "timestamp=paid_at", "--map", "amount=total")
    dep = _clv(capsys, clv_files / "renamed.csv", tmp_path / "dep",
               "--customer-col", "客户", "--datetime-col", "paid_at", "--amount-col", "total")
    assert "note:" not in new.out + new.err
    assert "note: --map customer_id=客户: read as file column '客户' -> 'customer_id'" in old.out
    assert dep.err.splitlines() == ["note: --customer-col is deprecated; use --map COLUMN=customer_id",
                                    "note: --datetime-col is deprecated; use --map COLUMN=timestamp",
                                    "note: --amount-col is deprecated; use --map COLUMN=amount"]
    for run in ("new", "old", "dep"):    # the same data: the same summary, the same MLE (up to optimizer noise)
        for name, tol in (("rfm_summary.csv", 1e-9), ("parameters.csv", 1e-6)):
            pd.testing.assert_frame_equal(pd.read_csv(tmp_path / run / name), pd.read_csv(tmp_path / "canon" / name),
                                          rtol=tol, obj=f"{run} {name}")
    code = main(["clv", str(clv_files / "renamed.csv"), "--calibration-end", "1997-09-30", "-o", str(tmp_path / "x"),
                 "--map", "客户=customer"])
    assert code == 2 and "unknown field 'customer'" in capsys.readouterr().err
    code = main(["clv", str(clv_files / "renamed.csv"), "--calibration-end", "1997-09-30", "-o", str(tmp_path / "y")])
    err = capsys.readouterr().err
    assert code == 2 and "missing column(s)" in err and "--map COLUMN=customer_id" in err


# --------------------------------------------------------------------------- cases
SMALL_CASE = {
    "id": "map_toy", "title": "map toy", "subject": {"kind": "platform", "name": "toy"}, "design": "did",
    "strategies": [{"id": "recs", "name": {"zh": "推荐", "en": "Recommendations"}, "start": "2020-07-01",
                    "target": ["pilot"], "control": ["holdout"], "kpis": ["click_through_rate", "conversion_rate"]}],
    "simulate": {"seed": 3, "customers": 300, "start": "2020-01-01", "end": "2020-12-31",
                 "assignments": {"group": {"shares": {"pilot": 0.5, "holdout": 0.5}}},
                 "effects": {"recs": {"click_through_rate": 0.03}}},
}


def test_cases_map_both_orders(tmp_path, capsys):
    sim = tmp_path / "sim.yaml"
    sim.write_text(yaml.safe_dump(SMALL_CASE, allow_unicode=True), encoding="utf-8")
    assert main(["cases", str(sim), "-o", str(tmp_path / "s"), "--no-figures", "--write-data",
                 str(tmp_path / "data")]) == 0
    data = tmp_path / "data"
    tables = [t for t in ("customers", "orders", "sessions", "survey") if (data / f"{t}.csv").exists()]
    for t in tables:   # every file names the customer 'uid'; orders call the time 'paid_at'
        df = pd.read_csv(data / f"{t}.csv").rename(columns={"customer_id": "uid", "timestamp": "paid_at"}
                                                   if t == "orders" else {"customer_id": "uid"})
        df.to_csv(data / f"{t}_renamed.csv", index=False)
    case = {k: v for k, v in SMALL_CASE.items() if k != "simulate"}
    case["data"] = {t: f"data/{t}.csv" for t in tables}
    (tmp_path / "files.yaml").write_text(yaml.safe_dump(case, allow_unicode=True), encoding="utf-8")
    case["data"] = {t: f"data/{t}_renamed.csv" for t in tables}
    (tmp_path / "renamed.yaml").write_text(yaml.safe_dump(case, allow_unicode=True), encoding="utf-8")
    capsys.readouterr()
    assert main(["cases", str(tmp_path / "files.yaml"), "-o", str(tmp_path / "a"), "--no-figures"]) == 0
    assert main(["cases", str(tmp_path / "renamed.yaml"), "-o", str(tmp_path / "b"), "--no-figures"]) == 2
    assert "customer_id" in capsys.readouterr().err
    assert main(["cases", str(tmp_path / "renamed.yaml"), "-o", str(tmp_path / "c"), "--no-figures",
                 "--map", "uid=customer_id", "--map", "paid_at=timestamp"]) == 0
    assert "note:" not in capsys.readouterr().out
    assert main(["cases", str(tmp_path / "renamed.yaml"), "-o", str(tmp_path / "d"), "--no-figures",
                 "--map", "customer_id=uid", "--map", "paid_at=timestamp"]) == 0
    assert "note: --map customer_id=uid: read as file column 'uid' -> 'customer_id'" in capsys.readouterr().out
    ref = pd.read_csv(tmp_path / "a" / "results.csv")
    for run in ("c", "d"):
        pd.testing.assert_frame_equal(pd.read_csv(tmp_path / run / "results.csv"), ref)
    assert main(["cases", str(tmp_path / "renamed.yaml"), "-o", str(tmp_path / "e"), "--map", "nobody=customer_id"]) == 2
    assert "no data file of the case has this column" in capsys.readouterr().err
    assert main(["cases", str(sim), "-o", str(tmp_path / "f"), "--map", "uid=customer_id"]) == 2
    assert "simulates its data" in capsys.readouterr().err


# --------------------------------------------------------------------------- deprecated spellings
def test_simulate_old_missing_spelling_is_an_alias(tmp_path, capsys):
    pop = ROOT / "surveys" / "ecommerce_crm_population.yaml"
    assert main(["simulate", str(pop), "-n", "60", "--seed", "2", "--sim-missing", "MCAR", "--sim-missing-rate", ".05",
                 "-o", str(tmp_path / "new.csv")]) == 0
    assert capsys.readouterr().err == ""
    assert main(["simulate", str(pop), "-n", "60", "--seed", "2", "--missing", "mcar", "--missing-rate", ".05",
                 "-o", str(tmp_path / "old.csv")]) == 0
    assert capsys.readouterr().err.splitlines() == ["note: --missing is deprecated; use --sim-missing",
                                                    "note: --missing-rate is deprecated; use --sim-missing-rate"]
    assert (tmp_path / "new.csv").read_bytes() == (tmp_path / "old.csv").read_bytes()

"""cases: currency never assumed, unreadable case files fail cleanly, --salt on written data."""
from __future__ import annotations

import pandas as pd
import pytest
import yaml

from crm_research.cases import load_case
from crm_research.cases.tables import CaseData
from crm_research.cli import main
from crm_research.errors import ConfigError

SMALL = {
    "id": "money_toy", "title": "Money toy", "subject": {"kind": "platform", "name": "toy"}, "design": "did",
    "strategies": [{"id": "recs", "name": {"zh": "推荐", "en": "Recommendations"}, "start": "2020-07-01",
                    "target": ["pilot"], "control": ["holdout"], "kpis": ["average_order_value"]}],
    "simulate": {"seed": 3, "customers": 400, "start": "2020-01-01", "end": "2020-12-31",
                 "assignments": {"group": {"shares": {"pilot": 0.5, "holdout": 0.5}}},
                 "effects": {"recs": {"average_order_value": 5.0}}},
}


def _write(tmp_path, **extra):
    p = tmp_path / "money_toy.yaml"
    p.write_text(yaml.safe_dump({**SMALL, **extra}, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return p


def _summary(tmp_path, args):
    out = tmp_path / "out"
    assert main(["cases", *args, "-o", str(out), "--no-figures", "--force"]) == 0
    return (out / "summary.txt").read_text(encoding="utf-8")


def test_no_currency_assumed(tmp_path):
    text = _summary(tmp_path, [str(_write(tmp_path))])
    assert "CNY" not in text and "USD" not in text
    assert "amounts without a currency unit" in text
    line = next(x for x in text.splitlines() if "average order value" in x)
    assert "CI" in line and " CNY" not in line


def test_currency_from_case_file(tmp_path):
    text = _summary(tmp_path, [str(_write(tmp_path, currency="USD"))])
    assert "amounts in USD" in text and "CNY" not in text
    line = next(x for x in text.splitlines() if "average order value" in x)
    assert " USD (95% CI " in line


def test_currency_option_overrides_case_file(tmp_path):
    text = _summary(tmp_path, [str(_write(tmp_path, currency="CNY")), "--currency", "usd"])
    assert "amounts in USD" in text and "CNY" not in text


def test_bad_currency_names_key(tmp_path, capsys):
    with pytest.raises(ConfigError) as ei:
        load_case(_write(tmp_path, currency="US dollars"))
    assert ei.value.key == "currency" and "money_toy.yaml" in str(ei.value)
    assert main(["cases", str(_write(tmp_path)), "--currency", "dollars", "-o", str(tmp_path / "o")]) != 0
    err = capsys.readouterr().err
    assert "--currency" in err and "Traceback" not in err


@pytest.mark.parametrize("content, expected", [
    ("id: x\ntitle: 测试\n".encode("gbk"), "is not UTF-8 text"),
    (bytes(range(256)) * 4, "is a binary file"),
    (b"id: x\x00\x01\ntitle: t\n", "is a binary file"),
])
def test_unreadable_case_file_one_line_error(tmp_path, capsys, content, expected):
    p = tmp_path / "bad.yaml"
    p.write_bytes(content)
    assert main(["cases", str(p), "-o", str(tmp_path / "o")]) != 0
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err and "UnicodeDecodeError" not in err
    assert len(err.splitlines()) == 1 and str(p) in err and expected in err


def test_case_files_still_strict(tmp_path):
    with pytest.raises(ConfigError, match="unknown key|not a known key|unknown"):
        load_case(_write(tmp_path, curency="USD"))


PHONES = ["13800138000", "13900139000", "13700137000"]


def _phone_data():
    return CaseData(customers=pd.DataFrame({"customer_id": PHONES, "group": ["a", "b", "a"]}),
                    orders=pd.DataFrame({"customer_id": [PHONES[1], PHONES[2]], "order_id": [1, 2],
                                         "timestamp": pd.to_datetime(["2024-01-02", "2024-01-03"]),
                                         "amount": [9.5, 3.0]}))


def test_pseudonymized_ids_consistent_and_salted():
    d = _phone_data()
    a, notes = d.pseudonymized("s1")
    b, _ = d.pseudonymized("s1")
    c, _ = d.pseudonymized("s2")
    assert notes == ["customers.customer_id looks like personal data (phone): pseudonymized (HMAC-SHA256)",
                     "orders.customer_id looks like personal data (phone): pseudonymized (HMAC-SHA256)"]
    assert not set(PHONES) & set(a.customers["customer_id"]) and a.customers["customer_id"].nunique() == 3
    assert a.orders["customer_id"].tolist() == a.customers["customer_id"].iloc[[1, 2]].tolist()
    assert a.customers["customer_id"].tolist() == b.customers["customer_id"].tolist()
    assert a.customers["customer_id"].tolist() != c.customers["customer_id"].tolist()
    assert a.orders["order_id"].tolist() == [1, 2]            # not personal: kept
    assert d.customers["customer_id"].tolist() == PHONES       # the original is not changed


def test_salt_options_on_cases(tmp_path, capsys):
    out, data = tmp_path / "out", tmp_path / "data"
    assert main(["cases", str(_write(tmp_path)), "-o", str(out), "--no-figures", "--salt", "k",
                 "--write-data", str(data)]) == 0
    assert (data / "customers.csv").exists()
    assert main(["cases", str(_write(tmp_path)), "--salt", "k", "--salt-file", str(tmp_path / "x"),
                 "-o", str(tmp_path / "o2")]) != 0
    assert "Traceback" not in capsys.readouterr().err

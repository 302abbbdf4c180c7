"""Instrument YAML: schema validation, codebook, questionnaire, lavaan syntax."""
from __future__ import annotations

import copy
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from crm_research.errors import InstrumentError
from crm_research.instruments import (codebook, codebook_markdown, instrument_from_dict, load_instrument,
                                      measurement_syntax, questionnaire_html, render_instrument,
                                      structural_syntax)

ROOT = Path(__file__).resolve().parents[1]
YAML = ROOT / "surveys" / "ecommerce_crm.yaml"


@pytest.fixture(scope="module")
def inst():
    return load_instrument(YAML)


@pytest.fixture()
def raw():
    return yaml.safe_load(YAML.read_text(encoding="utf-8"))


def test_bundled_instrument_matches_source_study(inst):
    first = {c.id: [i.id for i in c.items] for c in inst.first_order}
    assert list(first) == ["PF", "SQ", "LE", "UI", "CS", "CC", "CM", "SAT", "LOY"]
    assert all(len(v) == 3 for v in first.values())
    assert len(inst.items) == 27
    assert inst.construct("OPS").dimensions == ("PF", "SQ", "LE", "UI")
    assert inst.construct("CRM").dimensions == ("CS", "CC", "CM")
    assert [h.path for h in inst.hypotheses] == ["SAT ~ OPS", "LOY ~ SAT", "SAT ~ CRM", "LOY ~ SAT"]
    assert len(inst.attention_checks) == 1 and inst.attention_checks[0].expected == 4
    assert {q.id for q in inst.demographics} == {"gender", "age_band", "platform", "years_customer",
                                                  "purchase_frequency"}
    assert {(p.id, p.kind) for p in inst.personal_data} == {("phone", "phone"), ("email", "email")}
    for it in inst.items:  # every item worded in both languages, as a statement
        assert re.search(r"[\u4e00-\u9fff]", it.text["zh"]) and it.text["zh"].endswith("。")
        assert it.text["en"].endswith(".")
    assert inst.items_of("OPS") == [f"{d}{k}" for d in ("PF", "SQ", "LE", "UI") for k in (1, 2, 3)]


@pytest.mark.parametrize("mutate, key, problem", [
    (lambda r: r.pop("title"), "title", "required key is missing"),
    (lambda r: r["constructs"][0]["items"][1]["text"].pop("en"), "constructs[0].items[1].text.en", "English"),
    (lambda r: r["constructs"][0].update(scale="nope"), "constructs[0].scale", "unknown scale 'nope'"),
    (lambda r: r["scales"]["agree5"].update(points=12), "scales.agree5.points", "must be between 2 and 11"),
    (lambda r: r["scales"]["agree5"]["labels"]["zh"].pop(), "scales.agree5.labels.zh", "needs 5 labels"),
    (lambda r: r["constructs"][1]["items"][0].update(id="PF1"), "constructs[1].items[0].id", "already used"),
    (lambda r: r["constructs"][4].update(dimensions=["PF", "XX"]), "constructs[4].dimensions[1]", "unknown construct 'XX'"),
    (lambda r: r["attention_checks"][0].update(expected=9), "attention_checks[0].expected", "must be a point"),
    (lambda r: r["personal_data"][0].update(kind="shoe size"), "personal_data[0].kind", "must be one of"),
    (lambda r: r["hypotheses"][0].update(path="SAT -> OPS"), "hypotheses[0].path", "OUTCOME ~ PREDICTOR"),
    (lambda r: r["models"]["ops"]["hypotheses"].append("H9"), "models.ops.hypotheses[2]", "unknown hypothesis"),
    (lambda r: r["constructs"][0]["items"][0].update(reverse="yes"), "constructs[0].items[0].reverse", "true or false"),
])
def test_schema_errors_name_file_key_and_problem(raw, mutate, key, problem):
    mutate(raw)
    with pytest.raises(InstrumentError) as ei:
        instrument_from_dict(raw, source="my_survey.yaml")
    msg = str(ei.value)
    assert msg.startswith("my_survey.yaml: "), msg
    assert ei.value.key == key
    assert problem in msg


def test_cycle_in_higher_order_structure_is_rejected(raw):
    raw["constructs"].append({"id": "A", "name": {"zh": "甲", "en": "A"}, "dimensions": ["B", "PF"]})
    raw["constructs"].append({"id": "B", "name": {"zh": "乙", "en": "B"}, "dimensions": ["A", "SQ"]})
    with pytest.raises(InstrumentError, match="cycle"):
        instrument_from_dict(raw, source="x.yaml")


def test_invalid_yaml_reports_line(tmp_path):
    p = tmp_path / "bad.yaml"
    p.write_text("id: x\ntitle: {zh: a, en: b\nscales: []\n", encoding="utf-8")
    with pytest.raises(InstrumentError, match=r"bad\.yaml: line \d+"):
        load_instrument(p)


def test_codebook_rows_and_labels(inst, tmp_path):
    cb = codebook(inst)
    assert list(cb.role.value_counts().sort_index().items()) == [
        ("attention_check", 1), ("demographic", 5), ("item", 27), ("personal_data", 2)]
    pf1 = cb.set_index("variable").loc["PF1"]
    assert pf1.construct == "PF" and pf1.dimension_of == "OPS" and pf1["values"] == "1-5"
    assert pf1.value_labels_zh.startswith("1=非常不同意") and pf1.value_labels_en.endswith("5=Strongly agree")
    assert cb.set_index("variable").loc["phone"].pii == "phone (pseudonymize)"
    only_zh = codebook(inst, lang="zh")
    assert "text_en" not in only_zh and "text_zh" in only_zh
    md = codebook_markdown(inst)
    assert md.count("\n| PF") == 3 and "## Personal data" in md
    paths = render_instrument(inst, tmp_path)
    back = pd.read_csv(paths["csv"], encoding="utf-8-sig")
    assert back.shape == cb.shape
    assert paths["csv"].read_bytes().startswith(b"\xef\xbb\xbf")  # BOM so Excel shows Chinese correctly


def test_questionnaire_languages(inst):
    both, zh, en = (questionnaire_html(inst, lg) for lg in ("both", "zh", "en"))
    item = inst.item("LOY3")
    assert item.text["zh"] in both and item.text["en"] in both
    assert item.text["zh"] in zh and item.text["en"] not in zh
    assert item.text["en"] in en and item.text["zh"] not in en
    # every item plus the attention check and other questions are numbered consecutively
    nums = [int(n) for n in re.findall(r'<span class="num">(\d+)\.</span>', both)]
    assert nums == list(range(1, 27 + 1 + 5 + 2 + 1))
    # the attention check sits right after CM3
    assert both.index(inst.attention_checks[0].text["zh"]) > both.index(inst.item("CM3").text["zh"])
    assert both.index(inst.attention_checks[0].text["zh"]) < both.index(inst.item("SAT1").text["zh"])
    with pytest.raises(ValueError):
        questionnaire_html(inst, "fr")


def test_lavaan_syntax(inst):
    m = measurement_syntax(inst)
    assert "OPS =~ PF + SQ + LE + UI" in m and "CRM =~ CS + CC + CM" in m and "LOY =~ LOY1 + LOY2 + LOY3" in m
    assert "OPS" not in measurement_syntax(inst, higher_order=False)
    ops = structural_syntax(inst, "ops")
    # same model as the lavaan reference shipped with the tests (modulo the defined parameter's name)
    ref = (ROOT / "tests" / "reference" / "lavaan" / "seed_ops.lav").read_text()
    norm = lambda s: sorted(line.split(":=")[1].strip() if ":=" in line else line.strip()
                            for line in s.strip().splitlines())
    assert norm(ops) == norm(ref)
    assert "CS =~" not in ops
    partial = structural_syntax(inst, "ops", partial=True)
    assert "LOY ~ h2*SAT + c*OPS" in partial and "total := c + h1*h2" in partial
    comb = structural_syntax(inst, "combined")
    assert "SAT ~ h1*OPS + h3*CRM" in comb and "ind_CRM_LOY := h3*h2" in comb
    with pytest.raises(KeyError, match="no model 'xyz'"):
        structural_syntax(inst, "xyz")


def test_render_cli(tmp_path):
    out = subprocess.run([sys.executable, "-m", "crm_research.cli", "render", str(YAML), "-o", str(tmp_path)],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "ecommerce_crm_questionnaire_both.html").exists()
    assert (tmp_path / "ecommerce_crm_ops.lav").read_text().startswith("PF =~")
    bad = tmp_path / "bad.yaml"
    bad.write_text("id: 1x\n", encoding="utf-8")
    out = subprocess.run([sys.executable, "-m", "crm_research.cli", "render", str(bad)], capture_output=True, text=True)
    assert out.returncode == 2
    assert "Traceback" not in out.stderr and "bad.yaml: id: '1x' is not a valid id" in out.stderr


# --------------------------------------------------------------------------- single-item constructs
def _with_single_items(raw, reliability=None):
    """The bundled instrument with LOY measured by LOY1 alone (optionally with a reliability)."""
    loy = next(c for c in raw["constructs"] if c["id"] == "LOY")
    loy["items"] = loy["items"][:1]
    if reliability is not None:
        loy["reliability"] = reliability
    return raw


def test_single_item_construct_schema(raw):
    inst = instrument_from_dict(_with_single_items(raw), source="x.yaml")
    loy = inst.construct("LOY")
    assert loy.is_single_item and loy.reliability is None and [c.id for c in inst.single_item] == ["LOY"]
    assert not inst.construct("SAT").is_single_item and not inst.construct("OPS").is_single_item
    inst = instrument_from_dict(_with_single_items(raw, 0.8), source="x.yaml")
    assert inst.construct("LOY").reliability == 0.8


@pytest.mark.parametrize("where, value, problem", [
    ("LOY", 0, "0 < reliability <= 1"), ("LOY", 1.2, "0 < reliability <= 1"), ("LOY", "high", "0 < reliability"),
    ("SAT", 0.8, "only single-item constructs take a reliability"),
])
def test_reliability_errors(raw, where, value, problem):
    _with_single_items(raw)
    ci = next(i for i, c in enumerate(raw["constructs"]) if c["id"] == where)
    raw["constructs"][ci]["reliability"] = value
    with pytest.raises(InstrumentError) as ei:
        instrument_from_dict(raw, source="x.yaml")
    assert ei.value.key == f"constructs[{ci}].reliability" and problem in str(ei.value)


def test_construct_without_items_is_rejected(raw):
    raw["constructs"][0]["items"] = []
    with pytest.raises(InstrumentError, match=r"constructs\[0\]\.items: construct 'PF' needs at least 1 item"):
        instrument_from_dict(raw, source="x.yaml")


def test_single_item_syntax_fixes_error_variance(raw):
    inst = instrument_from_dict(_with_single_items(raw), source="x.yaml")
    m = measurement_syntax(inst)
    assert "LOY =~ LOY1\n" in m and "LOY1 ~~ 0*LOY1" in m
    ops = structural_syntax(inst, "ops")
    assert "LOY1 ~~ 0*LOY1" in ops and "LOY ~ h2*SAT" in ops
    assert "~~" not in structural_syntax(instrument_from_dict(raw | {"constructs": yaml.safe_load(
        YAML.read_text(encoding="utf-8"))["constructs"]}, source="x.yaml"), "ops")


def test_single_item_syntax_with_reliability_needs_data(raw):
    inst = instrument_from_dict(_with_single_items(raw, 0.8), source="x.yaml")
    with pytest.raises(InstrumentError, match="needs data to fix the error variance of single item LOY1") as ei:
        measurement_syntax(inst)
    assert "LOY" in str(ei.value) and ei.value.key.endswith(".reliability")
    data = pd.DataFrame({"LOY1": [1, 2, 2, 4, 5, None, 3]})
    # hand computation: answers 1, 2, 2, 4, 5, 3 -> mean 17/6, sum of squares 59 - 17^2/6 = 10.8333,
    # var (N - 1 = 5) = 2.166667; (1 - 0.8) * var = 0.4333333
    m = measurement_syntax(inst, data=data)
    line = next(x for x in m.splitlines() if x.startswith("LOY1 ~~"))
    v = float(line.split("~~")[1].split("*")[0])
    assert v == pytest.approx(0.2 * (59 - 17 ** 2 / 6) / 5, rel=1e-14) and v == pytest.approx(0.43333333333, abs=1e-10)
    assert line.endswith("*LOY1")
    assert line in structural_syntax(inst, "ops", data=data)
    with pytest.raises(InstrumentError, match="no column 'LOY1'"):
        measurement_syntax(inst, data=pd.DataFrame({"X": [1, 2]}))
    # reliability 1: error variance 0, no data needed
    inst1 = instrument_from_dict(_with_single_items(yaml.safe_load(YAML.read_text(encoding="utf-8")), 1.0),
                                 source="x.yaml")
    assert "LOY1 ~~ 0*LOY1" in measurement_syntax(inst1)


def test_render_single_item_with_reliability(raw, tmp_path):
    from crm_research.sem.syntax import parse_syntax
    from crm_research.errors import ModelSyntaxError

    inst = instrument_from_dict(_with_single_items(raw, 0.8), source="x.yaml")
    paths = render_instrument(inst, tmp_path / "nodata")
    text = paths["lavaan_ops"].read_text()
    assert "# LOY1 is the single item of LOY (reliability 0.8)" in text
    assert "LOY1 ~~ needs_data_to_fix_error_variance(0.2)*LOY1" in text
    with pytest.raises(ModelSyntaxError, match="needs_data_to_fix_error_variance"):
        parse_syntax(text)   # cannot be fitted by mistake
    data = pd.DataFrame({"LOY1": [1, 2, 2, 4, 5, None, 3]})
    paths = render_instrument(inst, tmp_path / "data", data=data)
    text = paths["lavaan_ops"].read_text()
    assert "needs_data" not in text and "LOY1 ~~ 0.43333" in text
    parse_syntax(text)

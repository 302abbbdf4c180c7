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
    (lambda r: r["scales"]["agree5"].update(points=6), "scales.agree5.points", "must be 5 or 7"),
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

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


# --------------------------------------------------------------------------- scales of any kind
SQ_YAML = ROOT / "tests" / "data" / "service_quality" / "service_quality.yaml"


def _mini(scales, items=None, languages=("en",), **extra):
    """A one-construct instrument on the first scale given."""
    sid = next(iter(scales))
    raw = {"id": "mini", "languages": list(languages),
           "title": {lg: f"Mini {lg}" for lg in languages}, "scales": scales,
           "constructs": [{"id": "A", "name": {lg: "A" for lg in languages}, "scale": sid,
                           "items": items or [{"id": f"A{i}", "text": {lg: f"item {i} {lg}" for lg in languages}}
                                              for i in (1, 2)]}]}
    raw.update(extra)
    return raw


@pytest.mark.parametrize("decl, values", [
    ({"points": 2}, (1, 2)),
    ({"points": 6}, (1, 2, 3, 4, 5, 6)),
    ({"min": 0, "max": 10}, tuple(range(0, 11))),
    ({"points": 11, "min": 0}, tuple(range(0, 11))),
    ({"max": 10}, tuple(range(1, 11))),
    ({"points": 7, "min": -3}, tuple(range(-3, 4))),
    ({"points": 7, "max": 3}, tuple(range(-3, 4))),
])
def test_scale_ranges(decl, values):
    sc = instrument_from_dict(_mini({"s": decl})).scales["s"]
    assert sc.values == values and sc.points == len(values) and (sc.min, sc.max) == (values[0], values[-1])
    assert sc.labels == {"en": (None,) * len(values)}           # declared without labels
    assert sc.reverse(values[0]) == values[-1] and sc.reverse(values[1]) == values[-2]


@pytest.mark.parametrize("decl, key, problem", [
    ({"points": 1}, "scales.s.points", "between 2 and 11"),
    ({"points": 12}, "scales.s.points", "between 2 and 11"),
    ({"min": 0, "max": 11}, "scales.s.points", "between 2 and 11"),
    ({"min": 5, "max": 5}, "scales.s.max", "at least min + 1"),
    ({"points": 5, "min": 0, "max": 5}, "scales.s.max", "end at 4, not 5"),
    ({"min": 0}, "scales.s", "give 'points'"),
    ({"points": 5.5}, "scales.s.points", "expected an integer"),
    ({"points": 4, "labels": {"en": ["a", "b", "c"]}}, "scales.s.labels.en", "needs 4 labels"),
    ({"points": 4, "labels": {"en": ["a", "b", "a", "d"]}}, "scales.s.labels.en", "used for points 1 and 3"),
    ({"points": 4, "labels": {"en": [None] * 4}}, "scales.s.labels", "every label is null"),
    ({"points": 4, "labels": {"en": list("abcd")}, "anchors": {"low": "a", "high": "d"}}, "scales.s", "not both"),
    ({"points": 4, "anchors": {"low": "a"}}, "scales.s.anchors", "both 'low'"),
    ({"points": 4, "anchors": {"low": "a", "high": "b", "mid": "c"}}, "scales.s.anchors.mid", "no middle point"),
])
def test_scale_declaration_errors(decl, key, problem):
    with pytest.raises(InstrumentError) as ei:
        instrument_from_dict(_mini({"s": decl}), source="s.yaml")
    assert ei.value.key == key and problem in str(ei.value), str(ei.value)


def test_end_point_labels_0_to_10_in_codebook_and_questionnaire():
    raw = _mini({"nps": {"min": 0, "max": 10, "anchors": {"low": "Not at all likely", "mid": "Neutral",
                                                          "high": "Extremely likely"}}})
    inst = instrument_from_dict(raw)
    sc = inst.scales["nps"]
    assert sc.labels["en"][0] == "Not at all likely" and sc.labels["en"][5] == "Neutral" \
        and sc.labels["en"][10] == "Extremely likely" and sc.labels["en"].count(None) == 8
    assert sc.label(10, "en") == "Extremely likely" and sc.label(3, "en") is None and not sc.fully_labelled
    assert sc.label_to_value() == {"notatalllikely": 0, "neutral": 5, "extremelylikely": 10}
    cb = codebook(inst).set_index("variable")
    assert cb.loc["A1", "values"] == "0-10"
    assert cb.loc["A1", "value_labels_en"] == "0=Not at all likely; 5=Neutral; 10=Extremely likely"
    assert not any(c.endswith("_zh") for c in cb.columns)          # English-only: no Chinese columns
    md = codebook_markdown(inst)
    assert "`nps`: 11-point, 0-10; 0=Not at all likely; 5=Neutral; 10=Extremely likely" in md
    page = questionnaire_html(inst)
    heads = re.findall(r"<th>(.*?)</th>", page)
    assert heads[1:] == (["0<br>Not at all likely"] + [str(i) for i in range(1, 5)] + ["5<br>Neutral"]
                         + [str(i) for i in range(6, 10)] + ["10<br>Extremely likely"])
    assert page.count('<span class="box-sym">') == 2 * 11


def test_all_labels_6_point_and_2_point():
    six = ["Strongly disagree", "Disagree", "Slightly disagree", "Slightly agree", "Agree", "Strongly agree"]
    inst = instrument_from_dict(_mini({"a6": {"points": 6, "labels": {"en": six}},
                                       "yn": {"points": 2, "min": 0, "labels": {"en": ["No", "Yes"]}}},
                                      attention_checks=[{"id": "CHK", "scale": "yn", "expected": 1,
                                                         "text": "Answer yes"}]))
    assert inst.scales["a6"].fully_labelled and inst.scales["a6"].value_labels("en").endswith("6=Strongly agree")
    cb = codebook(inst).set_index("variable")
    assert cb.loc["A1", "values"] == "1-6" and cb.loc["CHK", "values"] == "0-1"
    assert cb.loc["CHK", "value_labels_en"] == "0=No; 1=Yes" and cb.loc["CHK", "expected"] == "1"
    page = questionnaire_html(inst, "en")
    assert "<th>6<br>Strongly agree</th>" in page and "<th>0<br>No</th>" in page
    with pytest.raises(InstrumentError, match=r"attention_checks\[0\]\.expected: must be a point of scale 'yn' \(0-1\)"):
        instrument_from_dict(_mini({"a6": {"points": 6}, "yn": {"points": 2, "min": 0}},
                                   attention_checks=[{"id": "CHK", "scale": "yn", "expected": 2, "text": "x"}]))


def test_semantic_differential_item_anchors():
    items = [{"id": "E1", "text": "The branch is ...", "anchors": {"low": "Unpleasant", "high": "Pleasant"}},
             {"id": "E2", "text": "The staff are ...", "anchors": {"low": "Slow", "high": "Fast"}}]
    inst = instrument_from_dict(_mini({"sd7": {"points": 7, "min": -3}}, items=items))
    assert inst.item("E1").anchors == {"low": {"en": "Unpleasant"}, "high": {"en": "Pleasant"}}
    s1 = inst.scale_of("E1")
    assert s1.values == tuple(range(-3, 4)) and s1.label(-3, "en") == "Unpleasant" and s1.label(3, "en") == "Pleasant"
    assert inst.scales["sd7"].label(3, "en") is None                # the declared scale is unchanged
    cb = codebook(inst).set_index("variable")
    assert cb.loc["E2", "values"] == "-3 to 3" and cb.loc["E2", "value_labels_en"] == "-3=Slow; 3=Fast"
    assert "- `E1`: -3=Unpleasant; 3=Pleasant" in codebook_markdown(inst)
    page = questionnaire_html(inst)
    row = page[page.index("The branch is"):].split("</tr>")[0]   # anchors left and right of the boxes
    assert row.index("Unpleasant") < row.index("&#9744;") < row.index("Pleasant") and row.count("&#9744;") == 7
    with pytest.raises(InstrumentError) as ei:
        instrument_from_dict(_mini({"sd7": {"points": 7}}, items=[
            {"id": "E1", "text": "x", "anchors": {"low": "a", "hi": "b"}}]))
    assert ei.value.key == "constructs[0].items[0].anchors.hi" and "did you mean 'high'?" in str(ei.value)


def test_one_language_instruments_render_without_the_other_language(tmp_path):
    for lang, other in (("en", "zh"), ("zh", "en")):
        demo = [{"id": "g", "text": {lang: "group"}, "options": [{"value": 1, lang: "one"}, {"value": 2, lang: "two"}]}]
        inst = instrument_from_dict(_mini({"s": {"points": 5, "labels": {lang: list("abcde")}}}, languages=(lang,),
                                          demographics=demo))
        assert inst.languages == (lang,)
        cb = codebook(inst)
        assert not [c for c in cb.columns if c.endswith("_" + other)]
        assert (cb[f"text_{lang}"] != "").all()
        paths = render_instrument(inst, tmp_path / lang)
        assert f"questionnaire_{other}" not in paths and {f"questionnaire_{lang}", "questionnaire_both"} <= set(paths)
        both = paths["questionnaire_both"].read_text()
        assert both == questionnaire_html(inst, lang) and 'class="en"' not in both and "<br><br>" not in both
        assert ("About you" in both) == (lang == "en") and ("基本信息" in both) == (lang == "zh")
        assert codebook(inst).set_index("variable").loc["g", f"value_labels_{lang}"] == "1=one; 2=two"
        with pytest.raises(ValueError, match="languages of instrument"):
            questionnaire_html(inst, other)
        md = paths["md"].read_text()
        assert f"Mini {lang}" in md and f"Mini {other}" not in md and "None" not in md


@pytest.mark.parametrize("mutate, key, problem", [
    (lambda r: r.update(languages=["fr"]), "languages[0]", "unsupported language 'fr'"),
    (lambda r: r.update(languages=["en", "en"]), "languages[1]", "listed twice"),
    (lambda r: r.update(languages=[]), "languages", "expected a list"),
    (lambda r: r["title"].update(zh="迷你"), "title.zh", "the instrument's languages are [en]"),
    (lambda r: r["title"].update(eng="x"), "title.eng", "did you mean 'en'?"),
    (lambda r: r["constructs"][0]["items"][0].update(text={}), "constructs[0].items[0].text.en", "missing English text"),
])
def test_language_errors(mutate, key, problem):
    raw = _mini({"s": {"points": 5}})
    mutate(raw)
    with pytest.raises(InstrumentError) as ei:
        instrument_from_dict(raw, source="l.yaml")
    assert ei.value.key == key and problem in str(ei.value), str(ei.value)


def test_plain_text_only_for_one_language(raw):
    inst = instrument_from_dict(_mini({"s": {"points": 3}}) | {"title": "Plain title"})
    assert inst.title == {"en": "Plain title"}
    raw["title"] = "Plain title"
    with pytest.raises(InstrumentError, match="title: expected a mapping with 'zh' and 'en' text"):
        instrument_from_dict(raw, source="x.yaml")


# --------------------------------------------------------------------------- strict schema
@pytest.mark.parametrize("mutate, key, near", [
    (lambda r: r.update(respondant_column="rid"), "respondant_column", "respondent_id"),
    (lambda r: r.update(hypothesis=[]), "hypothesis", "hypotheses"),
    (lambda r: r.update(contxt={}), "contxt", "context"),
    (lambda r: r["scales"]["agree5"].update(point=5), "scales.agree5.point", "points"),
    (lambda r: r["scales"]["agree5"].update(label={}), "scales.agree5.label", "labels"),
    (lambda r: r["scales"]["agree5"]["labels"].update(eng=[]), "scales.agree5.labels.eng", "en"),
    (lambda r: r["constructs"][2].update(item=[]), "constructs[2].item", "items"),
    (lambda r: r["constructs"][0].update(reliabilty=0.8), "constructs[0].reliabilty", "reliability"),
    (lambda r: r["constructs"][4].update(dimension=["PF"]), "constructs[4].dimension", "dimensions"),
    (lambda r: r["constructs"][2]["items"][0].update(reversed=True), "constructs[2].items[0].reversed", "reverse"),
    (lambda r: r["constructs"][2]["items"][0].update(alias=["x"]), "constructs[2].items[0].alias", "aliases"),
    (lambda r: r["constructs"][2]["items"][0]["text"].update(ZH="x"), "constructs[2].items[0].text.ZH", "zh"),
    (lambda r: r["attention_checks"][0].update(expect=4), "attention_checks[0].expect", "expected"),
    (lambda r: r["demographics"][0].update(option=[]), "demographics[0].option", "options"),
    (lambda r: r["demographics"][0]["options"][0].update(vale=1), "demographics[0].options[0].vale", "value"),
    (lambda r: r["demographics"][1]["screening"].update(excluded=[1]), "demographics[1].screening.excluded", "exclude"),
    (lambda r: r["personal_data"][0].update(polcy="drop"), "personal_data[0].polcy", "policy"),
    (lambda r: r["hypotheses"][0].update(sgn="positive"), "hypotheses[0].sgn", "sign"),
    (lambda r: r["models"]["ops"].update(hypothesis=["H1"]), "models.ops.hypothesis", "hypotheses"),
    (lambda r: r["models"]["ops"].update(descripton={}), "models.ops.descripton", "description"),
    (lambda r: r["models"]["ops"]["indirect"].update(frm="OPS"), "models.ops.indirect.frm", "from"),
    (lambda r: r["models"]["combined"]["indirect"][1].update(va="SAT"), "models.combined.indirect[1].va", "via"),
    (lambda r: r["duration"].update(min_second=60), "duration.min_second", "min_seconds"),
    (lambda r: r["context"].update(refrence="x"), "context.refrence", "reference"),
    (lambda r: r["context"]["summary"].update(en_US="x"), "context.summary.en_US", "en"),
])
def test_unknown_keys_at_every_level_are_errors_with_a_suggestion(raw, mutate, key, near):
    mutate(raw)
    with pytest.raises(InstrumentError) as ei:
        instrument_from_dict(raw, source="my_survey.yaml")
    assert ei.value.key == key
    msg = str(ei.value)
    assert msg.startswith(f"my_survey.yaml: {key}: unknown ") and msg.endswith(f"; did you mean {near!r}?"), msg


def test_misspelt_references_suggest_the_declared_name(raw):
    raw["constructs"][0]["scale"] = "agre5"
    with pytest.raises(InstrumentError, match=r"constructs\[0\]\.scale: unknown scale 'agre5'; did you mean 'agree5'\?"):
        instrument_from_dict(raw, source="x.yaml")
    raw["constructs"][0]["scale"] = "agree5"
    raw["hypotheses"][0]["path"] = "SAT ~ OSP"
    with pytest.raises(InstrumentError, match=r"unknown construct 'OSP' in 'SAT ~ OSP'; did you mean 'OPS'\?"):
        instrument_from_dict(raw, source="x.yaml")


def test_reversed_typo_no_longer_leaves_an_item_unreversed(raw, tmp_path):
    raw["constructs"][0]["items"][2]["reversed"] = True
    p = tmp_path / "typo.yaml"
    p.write_text(yaml.safe_dump(raw, allow_unicode=True, sort_keys=False), encoding="utf-8")
    out = subprocess.run([sys.executable, "-m", "crm_research.cli", "render", str(p), "-o", str(tmp_path / "o")],
                         capture_output=True, text=True)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert "typo.yaml: constructs[0].items[2].reversed: unknown key; did you mean 'reverse'?" in out.stderr


# --------------------------------------------------------------------------- context, models, second instrument
def test_bundled_context_holds_the_source_study(inst):
    ctx = inst.context
    assert ctx is not None and "chapter 7" in ctx.reference
    assert ctx.summary["en"].startswith("Replication of the structural equation study in R1")
    assert "H1" in ctx.background["en"] and "H4" in ctx.background["zh"]
    assert "AMOS (maximum likelihood), without numbers" in ctx.reported["en"]
    assert all(m.description.get("en") for m in inst.models.values())


def test_service_quality_instrument(tmp_path):
    sq = load_instrument(SQ_YAML)
    assert sq.languages == ("en",) and sq.context is None
    assert {s.id: s.range_text for s in sq.scales.values()} == {"rate10": "1-10", "agree6": "1-6",
                                                               "sat11": "0-10", "nps11": "0-10"}
    assert [c.id for c in sq.single_item] == ["OSAT", "REC"]
    assert sq.construct("REC").reliability == 0.8 and sq.construct("OSAT").reliability is None
    assert sq.reverse_items == ["DG3"] and sq.scale_of("DG3").label(10, "en") == "All the time"
    assert list(sq.models) == ["core", "extended"] and [h.id for h in sq.hypotheses] == ["P1", "P2", "P3", "P4", "P5"]
    core = structural_syntax(sq, "core", data=pd.DataFrame({"NPS": [0, 10, 5, 5]}))
    # var(0, 10, 5, 5) = 50/3; (1 - 0.8) x 50/3 = 10/3
    assert "OS1 ~~ 0*OS1" in core
    fixed = next(x for x in core.splitlines() if x.startswith("NPS ~~ "))
    assert float(fixed[len("NPS ~~ "):-len("*NPS")]) == pytest.approx(10 / 3, rel=1e-14)
    assert "OSAT ~ p1*STAFF + p2*DIGI + p3*FEES" in core and "ind_STAFF_REC := p1*p4" in core
    paths = render_instrument(sq, tmp_path)
    assert "questionnaire_zh" not in paths
    page = paths["questionnaire_en"].read_text()
    assert "<th>1<br>Very poor</th>" in page and "<th>0<br>Completely dissatisfied</th>" in page
    assert re.search(r"[\u4e00-\u9fff]", page) is None
    cb = pd.read_csv(paths["csv"], encoding="utf-8-sig").set_index("variable")
    assert cb.loc["NPS", "reliability"] == 0.8 and cb.loc["OS1", "values"] == "0-10"

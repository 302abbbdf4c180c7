"""Mapping file columns to instrument variables: ids, column maps, exported question text."""
from __future__ import annotations

import pandas as pd
import pytest

from crm_research.errors import ConfigError
from crm_research.instruments import instrument_from_dict, load_instrument
from crm_research.responses import load_column_map, map_columns, parse_column_map, resolve_column_map
from crm_research.responses._text import header_variants, strip_question

INST = load_instrument("surveys/ecommerce_crm.yaml")


def mapped(columns, inst=INST, **kw):
    m = map_columns(columns, inst, **kw)
    t = m.table.set_index("column")
    return m, t


@pytest.mark.parametrize("header", ["PF1", "pf1", "Pf1", "PF_1", " pf-1 ", "ＰＦ１"])
def test_by_id_ignoring_case_punctuation_and_width(header):
    m, t = mapped([header])
    assert t.loc[header, "mapped_to"] == "PF1" and t.loc[header, "method"] == "id"


@pytest.mark.parametrize("header, stripped", [
    ("1、在该平台上搜索想要的商品很方便。", "在该平台上搜索想要的商品很方便。"),
    ("Q1. 在该平台上搜索想要的商品很方便", "在该平台上搜索想要的商品很方便"),
    ("Q1_3 text", "text"),
    ("1. text", "text"),
    ("(1)text", "text"),
    ("（１）text", "text"),
    ("第1题 text", "text"),
    ("第12题：text", "text"),
    ("【3】text", "text"),
    ("1) text", "text"),
    ("3、您的性别(单选题)", "您的性别"),
    ("3、您的性别【单选题】*", "您的性别"),
    ("Q5 - Selected Choice", "Q5"),
    ("7、text：", "text"),
])
def test_strip_question(header, stripped):
    assert strip_question(header) == stripped


def test_header_variants_split_stem_and_brackets():
    v = header_variants("4、商品与服务质量—我对在该平台购买的商品质量感到满意。")
    assert "我对在该平台购买的商品质量感到满意。" in v
    v = header_variants("7(该平台的配送速度很快。)")
    assert "该平台的配送速度很快。" in v


@pytest.mark.parametrize("header, target, method", [
    ("1、在该平台上搜索想要的商品很方便。", "PF1", "text"),
    ("Q2. 该平台为我推荐的商品符合我的兴趣和需要", "PF2", "text"),
    ("(3) 在该平台下单和支付的流程简单顺畅 (单选题)", "PF3", "text"),
    ("第4题 我对在该平台购买的商品质量感到满意。", "SQ1", "text"),
    ("5. I am satisfied with the platform's after-sales service (returns, exchanges, repairs).", "SQ2", "text"),
    ("6、商品与服务质量—该平台上的商品描述与我收到的实物相符。", "SQ3", "text"),
    ("7(该平台的配送速度很快。)", "LE1", "text"),
    ("配送准时率", "LE2", "text"),                       # the short label
    ("delivery service quality", "LE3", "text"),        # the English label
    ("1、您对商品搜索便捷性的评价", "PF1", "text_partial"),  # label inside a longer question
    ("How do you rate the layout of the pages?", "UI1", "text_partial"),
    ("11、该平台的页面设计美观", "UI2", "text"),            # punctuation missing
    ("22、为确认您在认真作答，本题请选择“同意”。", "AC1", "text"),
    ("29、您的性别：", "gender", "text"),
    ("34、您的手机号码（选填，仅用于抽奖联系）", "phone", "text"),
    ("序号", "respondent_id", "synonym"),
    ("ResponseId", "respondent_id", "synonym"),
    ("所用时间", "duration_sec", "synonym"),
    ("Duration (in seconds)", "duration_sec", "synonym"),
    ("手机号", None, "unmapped"),                          # found by privacy.protect, not guessed here
    ("Email", "email", "id"),
    ("该平台接近我心目中理想的购", "SAT3", "text_partial"),  # truncated header
])
def test_question_text_matching(header, target, method):
    m, t = mapped([header])
    assert (t.loc[header, "mapped_to"], t.loc[header, "method"]) == (target, method)


def test_ambiguous_is_reported_not_guessed():
    h = "8、您对商品搜索便捷性和个性化推荐准确性的评价"
    m, t = mapped([h])
    assert t.loc[h, "mapped_to"] is None
    assert t.loc[h, "method"] == "ambiguous"
    assert t.loc[h, "candidates"] == "PF1, PF2"
    assert m.ambiguous == [h]


def test_unmapped_is_reported():
    m, t = mapped(["提交答卷时间", "来源", "Q99", "满意"])
    assert m.unmapped == ["提交答卷时间", "来源", "Q99", "满意"]
    assert t.mapped_to.isna().all()
    assert len(m.missing_items) == 27


def test_two_columns_for_one_item():
    # same precedence: both reported, neither used
    m, t = mapped(["PF1", "pf1"])
    assert t.loc["PF1", "method"] == "conflict" and t.loc["pf1", "method"] == "conflict"
    assert "PF1" in m.missing_items
    assert t.loc["PF1", "candidates"] == "PF1, column 'pf1'"
    # an id beats question text
    m, t = mapped(["1、在该平台上搜索想要的商品很方便。", "PF1"])
    assert t.loc["PF1", "mapped_to"] == "PF1"
    assert t.loc["1、在该平台上搜索想要的商品很方便。", "method"] == "conflict"


def test_column_map_dict_and_yaml(tmp_path):
    cols = ["Q1", "Q2", "来源", "PF3"]
    m, t = mapped(cols, column_map={"Q1": "PF1", "Q2": "PF2", "来源": None})
    assert t.loc["Q1", "mapped_to"] == "PF1" and t.loc["Q1", "method"] == "column_map"
    assert t.loc["来源", "method"] == "ignored"
    assert t.loc["PF3", "method"] == "id"
    y = tmp_path / "map.yaml"
    y.write_text('Q1: PF1\n"Q2": PF2\n来源: null\n', encoding="utf-8")
    assert map_columns(cols, INST, column_map=y).rename == {"Q1": "PF1", "Q2": "PF2", "PF3": "PF3"}
    # a column map beats an id match
    m, t = mapped(["PF1", "X"], column_map={"X": "PF1"})
    assert t.loc["X", "mapped_to"] == "PF1" and t.loc["PF1", "method"] == "conflict"


def test_column_map_errors(tmp_path):
    with pytest.raises(ConfigError, match=r"column_map: Q1: unknown variable 'PF9'"):
        map_columns(["Q1"], INST, column_map={"Q1": "PF9"})
    with pytest.raises(ConfigError, match=r"column_map: q1: this column is not in the response file.*did you mean 'Q1'"):
        map_columns(["Q1"], INST, column_map={"q1": "PF1"})
    bad = tmp_path / "bad.yaml"
    bad.write_text("- Q1\n- Q2\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="expected a mapping"):
        load_column_map(bad)
    broken = tmp_path / "broken.yaml"
    broken.write_text("Q1: [PF1\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="invalid YAML"):
        load_column_map(broken)
    with pytest.raises(ConfigError, match="column map file not found"):
        load_column_map(tmp_path / "none.yaml")


def test_spss_labels_are_used_when_names_say_nothing():
    m, t = mapped(["V1", "V2"], labels={"V1": "1. 在该平台上搜索想要的商品很方便", "V2": "something else"})
    assert t.loc["V1", "mapped_to"] == "PF1" and t.loc["V1", "method"] == "label"
    assert t.loc["V2", "method"] == "unmapped"


def test_aliases_and_a_tiny_instrument():
    inst = instrument_from_dict({
        "id": "tiny", "title": {"zh": "小", "en": "tiny"},
        "scales": {"s": {"points": 5, "labels": {"zh": list("一二三四五"), "en": list("abcde")}}},
        "constructs": [{"id": "A", "name": {"zh": "甲", "en": "A"}, "scale": "s", "items": [
            {"id": "A1", "text": {"zh": "我喜欢这个平台", "en": "I like the platform"}, "aliases": ["like it"]},
            {"id": "A2", "text": {"zh": "我信任这个平台", "en": "I trust the platform"}}]}],
    })
    m, t = mapped(["Q1: like it", "我信任这个平台", "我喜欢这个平台的程度"], inst=inst)
    assert t.loc["Q1: like it", "mapped_to"] == "A1"
    assert t.loc["我信任这个平台", "mapped_to"] == "A2"
    # the partial match loses to the exact one and is reported
    assert t.loc["我喜欢这个平台的程度", "method"] == "conflict"
    assert mapped(["我喜欢这个平台的程度"], inst=inst)[1].loc["我喜欢这个平台的程度", "mapped_to"] == "A1"
    assert m.expected.set_index("variable").loc["A1", "column"] == "Q1: like it"
    assert "items found: 2 of 2" in m.summary()


# --------------------------------------------------------------------------- one column-map convention
def test_every_form_of_a_column_map_is_the_same(tmp_path):
    y = tmp_path / "m.yaml"
    y.write_text("Q1: PF1\n来源: null\n", encoding="utf-8")
    cols = ["Q1", "Q2", "来源", "PF3"]
    forms = [{"Q1": "PF1", "Q2": "PF2", "来源": None}, ["Q1=PF1", "Q2=PF2", "来源="], [str(y), "Q2=PF2"],
             [y, {"Q2": "PF2"}], ("Q1=PF1", "Q2=PF2", "来源=")]
    tables = [map_columns(cols, INST, column_map=f).table for f in forms]
    for t in tables[1:]:
        pd.testing.assert_frame_equal(t, tables[0])
    assert tables[0].set_index("column").loc["来源", "method"] == "ignored"


def test_parse_column_map_entries(tmp_path):
    es = parse_column_map(["a=PF1", {"b": "PF2"}, "c = PF3 ", "d="], label="--map")
    assert [(e.column, e.target, e.pair, e.source) for e in es] == [
        ("a", "PF1", True, "--map"), ("b", "PF2", False, "--map"), ("c", "PF3", True, "--map"), ("d", None, True, "--map")]
    assert load_column_map(["a=PF1", "a=PF2"]) == {"a": "PF2"}          # later entries win
    with pytest.raises(ConfigError, match="expected COLUMN=ID with a file column before '='"):
        parse_column_map(["=PF1"])
    with pytest.raises(ConfigError, match="a column map must be a YAML path, a dict or a list"):
        parse_column_map(42)
    with pytest.raises(ConfigError, match="column map file not found"):
        parse_column_map(["no_such_map.yaml"])


def test_a_file_named_with_an_equals_sign_is_a_file(tmp_path):
    y = tmp_path / "a=b.yaml"
    y.write_text("Q1: PF1\n", encoding="utf-8")
    assert load_column_map(str(y)) == {"Q1": "PF1"}


def test_reversed_pair_turned_round_with_a_note():
    m = map_columns(["Q1", "PF2"], INST, column_map=["PF1=Q1"], map_label="--map")
    assert m.rename["Q1"] == "PF1" and m.table.set_index("column").loc["Q1", "method"] == "column_map"
    assert m.notes == ["--map PF1=Q1: read as file column 'Q1' -> 'PF1' (the older ID=COLUMN order); "
                       "write --map Q1=PF1"]
    assert "note: --map PF1=Q1" in m.summary()


def test_a_map_file_is_never_turned_round(tmp_path):
    with pytest.raises(ConfigError, match=r"column_map: PF1: this column is not in the response file.*write 'Q1: PF1'"):
        map_columns(["Q1"], INST, column_map={"PF1": "Q1"})


def test_ambiguous_pair_fails():
    with pytest.raises(ConfigError, match=r"--map: PF1=PF2: ambiguous: 'PF1' and 'PF2' are both columns of the "
                                          r"response file and ids"):
        map_columns(["PF1", "PF2"], INST, column_map=["PF1=PF2"], map_label="--map")


def test_two_columns_for_one_id_in_a_map_fails():
    with pytest.raises(ConfigError, match=r"variable 'PF1' is mapped from two columns, 'Q1' and 'Q2'"):
        map_columns(["Q1", "Q2"], INST, column_map=["Q1=PF1", "Q2=PF1"])


def test_resolve_for_canonical_fields_without_a_header():
    fields = ["customer_id", "order_id", "timestamp", "amount"]
    cmap, notes = resolve_column_map(["user=customer_id", "timestamp=paid_at"], None, fields, label="--map",
                                     target_what="field")
    assert cmap == {"user": "customer_id", "paid_at": "timestamp"} and len(notes) == 1
    with pytest.raises(ConfigError, match=r"ambiguous: 'order_id' and 'customer_id' are both ids"):
        resolve_column_map(["order_id=customer_id"], None, fields, label="--map", target_what="field")
    with pytest.raises(ConfigError, match=r"unknown field 'amout'.*did you mean 'amount'"):
        resolve_column_map(["total=amout"], None, fields, label="--map", target_what="field")

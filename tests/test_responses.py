"""Validation checks, answer coding, cleaning policies, reverse coding, scores and the
one-call prepare_responses (crm_research.responses)."""
from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from crm_research.errors import ConfigError, InstrumentError
from crm_research.instruments import instrument_from_dict, load_instrument
from crm_research.responses import (DEFAULT_POLICIES, apply_policies, code_likert, parse_seconds,
                                    prepare_responses, resolve_policies, reverse_code, score_responses,
                                    validate_responses)

from _helpers import clean_responses

INST = load_instrument("surveys/ecommerce_crm.yaml")
AGREE5 = INST.scales["agree5"]


def clean_frame(n: int = 6) -> pd.DataFrame:
    """Valid numeric responses: no finding at all (checked by the first test)."""
    return clean_responses(INST, n).astype(object)


def validate(df: pd.DataFrame, **kw):
    return validate_responses(df, INST, **kw)


def only(report, check: str) -> list[tuple]:
    f = report.of(check)
    return list(zip(f.respondent, f.row, f.column, f.value))


# --------------------------------------------------------------------------- clean data
def test_clean_frame_has_no_findings():
    rep = validate(clean_frame())
    assert rep.findings.empty, rep.findings
    assert rep.data.index.tolist() == [2, 3, 4, 5, 6, 7]
    assert rep.data["PF1"].dtype == float


# --------------------------------------------------------------------------- Likert coding
@pytest.mark.parametrize("cell, value, status", [
    (4, 4, "ok"), ("4", 4, "ok"), (" 4 ", 4, "ok"), ("4.0", 4, "ok"), (4.0, 4, "ok"), ("４", 4, "ok"),
    ("同意", 4, "converted"), ("非常同意", 5, "converted"), ("非常 不同意", 1, "converted"),
    ("Strongly agree", 5, "converted"), ("strongly  DISAGREE", 1, "converted"), ("Neutral", 3, "converted"),
    ("5-非常同意", 5, "converted"), ("5 非常同意", 5, "converted"), ("(5)非常同意", 5, "converted"),
    ("非常同意(5)", 5, "converted"), ("5=Strongly agree", 5, "converted"), ("5分", 5, "converted"),
    ("4-非常同意", None, "non_numeric"), ("不知道", None, "non_numeric"), ("yes", None, "non_numeric"),
    ("6", None, "out_of_range"), (0, None, "out_of_range"), ("4.5", None, "out_of_range"), ("-1", None, "out_of_range"),
    ("", None, "missing"), (None, None, "missing"), (np.nan, None, "missing"), ("(跳过)", None, "missing"),
    ("（空）", None, "missing"), ("N/A", None, "missing"),
])
def test_code_likert(cell, value, status):
    c = code_likert(cell, AGREE5)
    assert c.status == status
    if value is None:
        assert math.isnan(c.value)
    else:
        assert c.value == value


def test_label_conversion_and_bad_answers_are_reported_with_row_and_column():
    df = clean_frame()
    df.loc[0, "PF1"] = "同意"              # row 2, respondent 101
    df.loc[1, "CS1"] = "Strongly agree"    # row 3
    df.loc[2, "CC1"] = "5-非常同意"        # row 4
    df.loc[3, "CM1"] = "4-非常同意"        # row 5: number and label disagree
    df.loc[4, "PF2"] = "不知道"            # row 6
    df.loc[5, "LE1"] = "7"                 # row 7
    df.loc[0, "UI1"] = "4.5"               # row 2
    rep = validate(df)
    assert only(rep, "label_converted") == [(101, 2, "PF1", "同意"), (102, 3, "CS1", "Strongly agree"),
                                            (103, 4, "CC1", "5-非常同意")]
    assert rep.data.loc[2, "PF1"] == 4 and rep.data.loc[3, "CS1"] == 5 and rep.data.loc[4, "CC1"] == 5
    assert only(rep, "non_numeric") == [(104, 5, "CM1", "4-非常同意"), (105, 6, "PF2", "不知道")]
    assert only(rep, "out_of_range") == [(101, 2, "UI1", "4.5"), (106, 7, "LE1", "7")]
    assert np.isnan(rep.data.loc[6, "PF2"]) and np.isnan(rep.data.loc[7, "LE1"]) and np.isnan(rep.data.loc[2, "UI1"])
    sev = rep.findings.drop_duplicates("check").set_index("check").severity
    assert sev["label_converted"] == "info" and sev["non_numeric"] == "error" and sev["out_of_range"] == "error"
    msg = rep.of("non_numeric").message.iloc[1]
    assert "'不知道' is neither a number nor a label" in msg and "4=同意/Agree" in msg


def test_repeated_labels_are_summarised_per_column():
    df = clean_frame()
    df["PF1"] = ["同意", "同意", "同意", "一般", 4, "同意"]
    rep = validate(df)
    f = rep.of("label_converted")
    # one column-level finding for the repeated label (no row), one per-cell finding for the single one
    assert f.value.tolist() == ["同意", "一般"]
    assert f.respondent.tolist() == [None, 104] and f.row.tolist()[1] == 5
    assert f.message.iloc[0] == "label '同意' converted to 4 in 4 cells (rows 2, 3, 4, 7)"
    assert rep.data["PF1"].tolist() == [4, 4, 4, 3, 4, 4]


def test_missing_answers_and_extra_missing_tokens():
    df = clean_frame()
    df.loc[0, "SQ1"] = ""
    df.loc[2, "SAT1"] = "(跳过)"
    df.loc[3, "LOY2"] = None
    df.loc[4, "LOY3"] = "-3"   # Wenjuanxing's numeric code for a skipped question
    rep = validate(df)
    assert only(rep, "missing") == [(101, 2, "SQ1", None), (103, 4, "SAT1", "(跳过)"), (104, 5, "LOY2", None)]
    assert only(rep, "out_of_range") == [(105, 6, "LOY3", "-3")]
    rep = validate(df, missing_values=["-3"])
    assert (105, 6, "LOY3", "-3") in only(rep, "missing") and rep.of("out_of_range").empty


# --------------------------------------------------------------------------- duplicates
def test_duplicate_ids_and_rows_name_the_later_row():
    df = clean_frame()
    df = pd.concat([df, df.iloc[[2]]], ignore_index=True)     # row 8 = exact copy of row 4
    again = df.iloc[[4]].copy()
    again["respondent_id"] = 999                              # row 9 = row 6 with a new id
    df = pd.concat([df, again], ignore_index=True)
    clash = df.iloc[[0]].copy()
    clash["PF1"] = 1 if clash["PF1"].iloc[0] != 1 else 2      # row 10 = id 101 again, other answers
    df = pd.concat([df, clash], ignore_index=True)
    rep = validate(df)
    assert only(rep, "duplicate_id") == [(103, 8, "respondent_id", "103"), (101, 10, "respondent_id", "101")]
    assert rep.of("duplicate_id").message.tolist() == ["respondent id 103 already on row 4",
                                                       "respondent id 101 already on row 2"]
    assert only(rep, "duplicate_row") == [(103, 8, None, None), (999, 9, None, None)]
    assert rep.of("duplicate_row").message.iloc[1] == \
        "identical to row 6 in all columns except the respondent id"


def test_duplicate_rows_on_answers_only():
    df = clean_frame()
    df.loc[5, INST.item_ids + ["AC1", "gender", "age_band", "platform", "years_customer", "purchase_frequency"]] = \
        df.loc[1, INST.item_ids + ["AC1", "gender", "age_band", "platform", "years_customer", "purchase_frequency"]]
    assert validate(df).of("duplicate_row").empty          # durations differ
    assert only(validate(df, duplicate_columns="answers"), "duplicate_row") == [(106, 7, None, None)]
    with pytest.raises(ValueError, match="not in the data: nope"):
        validate(df, duplicate_columns=["nope"])


# --------------------------------------------------------------------------- straight-lining
def test_straight_lining_and_longstring():
    df = clean_frame()
    df.loc[1, INST.item_ids] = 3                                    # row 3: all 3
    df.loc[2, INST.item_ids[:10]] = 3                               # row 4: 10 threes in a row ...
    df.loc[2, INST.item_ids[10]] = 5                                # ... then different
    df.loc[3, INST.item_ids] = 2
    df.loc[3, INST.item_ids[:20]] = ""                              # row 5: only 7 of 27 answered
    rep = validate(df)
    assert only(rep, "straight_lining") == [(102, 3, None, "3")]
    assert rep.of("straight_lining").message.iloc[0] == "same answer 3 on all 27 answered items"
    rep = validate(df, longstring=10)
    assert only(rep, "straight_lining") == [(102, 3, None, "3"), (103, 4, None, "3")]
    assert rep.of("straight_lining").message.iloc[1] == \
        "10 identical answers (3) in a row, PF1..UI1 (threshold 10)"
    assert only(validate(df, longstring=11), "straight_lining") == [(102, 3, None, "3")]
    # with a low answered-share requirement the sparse row counts too
    assert (104, 5, None, "2") in only(validate(df, straight_min_share=0.25), "straight_lining")


# --------------------------------------------------------------------------- speed
@pytest.mark.parametrize("cell, secs", [(253, 253), ("253", 253), ("253秒", 253), ("4分13秒", 253),
                                        ("00:04:13", 253), ("4:13", 253), ("4m 13s", 253), ("1小时", 3600),
                                        ("2 min", 120), ("12.5s", 12.5)])
def test_parse_seconds(cell, secs):
    assert parse_seconds(cell) == secs


@pytest.mark.parametrize("cell", ["abc", "4:75", "-5", "秒", "5 apples"])
def test_parse_seconds_rejects(cell):
    assert parse_seconds(cell) is None


def test_too_fast_absolute_and_relative_rules():
    df = clean_frame()
    df["duration_sec"] = ["300秒", "310秒", "45秒", "330秒", "340秒", "130秒"]
    rep = validate(df)
    # instrument minimum 120 s; median of (300, 310, 45, 330, 340, 130) = (300 + 310) / 2 = 305
    assert rep.settings["median_seconds"] == 305 and rep.settings["relative_threshold"] == pytest.approx(305 / 3)
    assert only(rep, "too_fast") == [(103, 4, "duration_sec", "45秒")]
    assert rep.of("too_fast").message.iloc[0] == \
        "completed in 45 s, below the minimum 120 s and below 1/3 of the median 305 s (= 101.7 s)"
    rep = validate(df, speed_ratio=0.5, min_seconds=0)        # relative only: 0.5 * 305 = 152.5
    assert only(rep, "too_fast") == [(103, 4, "duration_sec", "45秒"), (106, 7, "duration_sec", "130秒")]
    assert rep.of("too_fast").message.iloc[1] == "completed in 130 s, below 1/2 of the median 305 s (= 152.5 s)"
    rep = validate(df, speed_ratio=None, min_seconds=200)
    assert [r for _, r, _, _ in only(rep, "too_fast")] == [4, 7]
    with pytest.raises(ValueError, match="speed_ratio"):
        validate(df, speed_ratio=2)


def test_invalid_and_absent_duration():
    df = clean_frame()
    df.loc[1, "duration_sec"] = "很久"
    assert only(validate(df), "duration_invalid") == [(102, 3, "duration_sec", "很久")]
    rep = validate(clean_frame().drop(columns=["duration_sec"]))
    assert rep.of("too_fast").empty
    assert rep.of("missing_column").message.tolist() == ["no duration column: the speed check was skipped"]


# --------------------------------------------------------------------------- attention, demographics
def test_attention_checks():
    df = clean_frame()
    df.loc[1, "AC1"] = 2
    df.loc[2, "AC1"] = ""
    df.loc[3, "AC1"] = "同意"     # the expected answer, as text
    df.loc[4, "AC1"] = "Agree"
    rep = validate(df)
    assert only(rep, "attention_failed") == [(102, 3, "AC1", "2"), (103, 4, "AC1", None)]
    assert rep.of("attention_failed").message.tolist() == [
        "answered 2 (不同意/Disagree); the check asks for 4 (同意/Agree)",
        "no valid answer; the check asks for 4 (同意/Agree)"]


def test_demographics_options_labels_and_screening():
    df = clean_frame()
    df.loc[0, "gender"] = "男"
    df.loc[1, "gender"] = "Female"
    df.loc[2, "gender"] = "外星人"
    df.loc[3, "age_band"] = "18岁以下"
    df.loc[4, "age_band"] = 1
    df.loc[5, "platform"] = 9
    rep = validate(df)
    assert rep.data["gender"].tolist()[:2] == [1, 2]
    assert only(rep, "demographic_invalid") == [(103, 4, "gender", "外星人"), (106, 7, "platform", "9")]
    assert only(rep, "screened_out") == [(104, 5, "age_band", "18岁以下"), (105, 6, "age_band", "1")]
    assert rep.of("screened_out").message.iloc[0] == "age_band = 1 (18岁以下/Under 18) is a screening exclusion"
    assert np.isnan(rep.data.loc[4, "gender"])


def test_missing_respondent_ids_are_generated_per_row():
    df = clean_frame(3)
    df.loc[1, "respondent_id"] = ""
    rep = validate(df)
    assert rep.data["respondent_id"].tolist() == [101, "row3", 103]
    assert only(rep, "missing_id") == [("row3", 3, "respondent_id", None)]


# --------------------------------------------------------------------------- policies
def _messy() -> pd.DataFrame:
    df = clean_frame()
    df.loc[1, "AC1"] = 1           # row 3: attention failed
    df.loc[2, "duration_sec"] = 50  # row 4: too fast
    df.loc[3, INST.item_ids] = 5   # row 5: straight-liner
    df.loc[4, "PF1"] = "abc"       # row 6: non-numeric
    return df


def test_default_policies():
    rep = validate(_messy())
    data, excluded, actions = apply_policies(rep)
    assert data.index.tolist() == [2, 4, 5, 6, 7]
    assert excluded.to_dict("records") == [{"row": 3, "respondent": 102, "checks": "attention_failed"}]
    assert data["flag_too_fast"].tolist() == [False, True, False, False, False]
    assert data["flag_straight_lining"].tolist() == [False, False, True, False, False]
    assert data["flag_non_numeric"].tolist() == [False, False, False, True, False]
    assert np.isnan(data.loc[6, "PF1"])          # the bad cell is missing whatever the policy
    a = actions.set_index("check")
    assert a.loc["attention_failed", "dropped"] == 1 and a.loc["too_fast", "flagged"] == 1
    assert rep.n_kept == 5 and rep.policies == DEFAULT_POLICIES


def test_custom_policies():
    rep = validate(_messy())
    data, excluded, _ = apply_policies(rep, {"too_fast": "drop", "straight_lining": "drop", "attention_failed": "keep"})
    assert data.index.tolist() == [2, 3, 6, 7]
    assert excluded.checks.tolist() == ["too_fast", "straight_lining"]
    data, excluded, _ = apply_policies(rep, ["all=keep"])
    assert len(data) == 6 and excluded.empty and not any(c.startswith("flag_") for c in data.columns)
    data, _, _ = apply_policies(rep, ["all=drop", "non_numeric=flag"])
    assert data.index.tolist() == [2, 6, 7] and data["flag_non_numeric"].sum() == 1


@pytest.mark.parametrize("policies, match", [
    ({"too_fast": "delete"}, "policy must be drop, flag or keep, got 'delete'"),
    ({"speeding": "drop"}, "speeding: not a check that takes a policy"),
    ({"label_converted": "drop"}, "informational and has no policy"),
    (["too_fast:drop"], "expected CHECK=POLICY"),
])
def test_policy_errors(policies, match):
    with pytest.raises(ConfigError, match=match):
        resolve_policies(policies)


# --------------------------------------------------------------------------- reverse coding, scores
TINY = instrument_from_dict({
    "id": "tiny", "title": {"zh": "测试", "en": "test"},
    "scales": {"s5": {"points": 5, "labels": {"zh": ["一", "二", "三", "四", "五"], "en": list("abcde")}},
               "s7": {"points": 7, "labels": {"zh": list("一二三四五六七"), "en": list("abcdefg")}}},
    "constructs": [
        {"id": "A", "name": {"zh": "甲", "en": "A"}, "scale": "s5", "items": [
            {"id": "A1", "text": {"zh": "甲一", "en": "a one"}},
            {"id": "A2", "text": {"zh": "甲二", "en": "a two"}},
            {"id": "A3", "text": {"zh": "甲三", "en": "a three"}, "reverse": True}]},
        {"id": "B", "name": {"zh": "乙", "en": "B"}, "scale": "s7", "items": [
            {"id": "B1", "text": {"zh": "乙一", "en": "b one"}, "reverse": True},
            {"id": "B2", "text": {"zh": "乙二", "en": "b two"}}]},
        {"id": "H", "name": {"zh": "高", "en": "H"}, "dimensions": ["A", "B"]},
    ],
})


def _tiny() -> pd.DataFrame:
    return pd.DataFrame({"respondent_id": [1, 2, 3],
                         "A1": [5, 3, 2], "A2": [4, None, None], "A3": [1, None, 4],
                         "B1": [6, 3, 7], "B2": [4, None, 1]}, dtype=object)


def test_reverse_coding():
    rep = validate_responses(_tiny(), TINY)
    rc = reverse_code(rep.data, TINY)
    assert rc["A3"].tolist()[0] == 5 and rc["A3"].tolist()[2] == 2      # 6 - x on 5 points
    assert rc["B1"].tolist() == [2, 5, 1]                               # 8 - x on 7 points
    assert rc["A1"].tolist() == [5, 3, 2]
    assert rc.attrs["reverse_coded"] == ["A3", "B1"]
    with pytest.raises(ValueError, match="already reverse-coded: A3, B1"):
        reverse_code(rc, TINY)


def test_scores_hand_computed():
    rep = validate_responses(_tiny(), TINY)
    s = score_responses(rep.data, TINY)      # reverse-codes (attrs say not yet done)
    # r1: A = (5 + 4 + (6-1)) / 3 = 14/3; B = ((8-6) + 4) / 2 = 3; H = (14/3 + 3) / 2 = 23/6
    # r2: A has 1 of 3 items (< 2 needed) -> missing; B = (8-3) = 5 (1 of 2 is enough); H = 5
    # r3: A = (2 + (6-4)) / 2 = 2; B = ((8-7) + 1) / 2 = 1; H = 1.5
    assert s.columns.tolist() == ["respondent_id", "A", "B", "H"]
    assert s["A"].tolist()[0] == pytest.approx(14 / 3) and math.isnan(s["A"].tolist()[1])
    assert s["A"].tolist()[2] == pytest.approx(2)
    assert s["B"].tolist() == pytest.approx([3, 5, 1])
    assert s["H"].tolist() == pytest.approx([23 / 6, 5, 1.5])
    # all items required
    s = score_responses(rep.data, TINY, min_valid=1.0)
    assert s["A"].isna().tolist() == [False, True, True] and s["H"].isna().tolist() == [False, True, True]
    # at least one item
    s = score_responses(rep.data, TINY, min_valid=1)
    assert s["A"].tolist()[1] == 3 and s["H"].tolist()[1] == pytest.approx(4)
    # already reverse-coded data is not reversed twice
    rc = reverse_code(rep.data, TINY)
    pd.testing.assert_frame_equal(score_responses(rc, TINY), score_responses(rep.data, TINY), check_like=True)
    with pytest.raises(ValueError, match="min_valid"):
        score_responses(rep.data, TINY, min_valid=0)


def test_prepare_reverse_codes_data_and_scores():
    rs = prepare_responses(_tiny(), TINY)
    assert rs.data["A3"].tolist()[0] == 5 and rs.options["reverse_coded"] == ["A3", "B1"]
    assert rs.scores["H"].tolist() == pytest.approx([23 / 6, 5, 1.5])
    assert rs.scores.index.tolist() == [2, 3, 4]


# --------------------------------------------------------------------------- privacy in prepare
PHONES = ["13912345678", "13800138000", "+86 137-0000-1111"]
EMAILS = ["zhang.wei@example.com", "li@test.cn"]


def _with_pii() -> pd.DataFrame:
    df = clean_frame()
    df["phone"] = [PHONES[0], PHONES[1], "", PHONES[2], None, PHONES[0]]
    df["email"] = [EMAILS[0], "", EMAILS[1], None, "", ""]
    df["微信号"] = ["wx_zhang", "wx_li", "", "", "", ""]
    df["来自IP"] = ["117.136.12.34(广东-广州)", "10.2.3.4", "8.8.8.8", "1.1.1.1", "2.2.2.2", "3.3.3.3"]
    df["comment"] = ["好", f"请联系{PHONES[1]}", f"邮件 {EMAILS[1]} 谢谢", "", "一般", ""]
    df.loc[2, "PF1"] = PHONES[0]      # someone typed a phone number into an item
    return df


def _strings(obj, seen=None):
    """Every string reachable from obj: attributes, dict/list members, DataFrame cells and attrs."""
    seen = set() if seen is None else seen
    if id(obj) in seen:
        return
    seen.add(id(obj))
    if isinstance(obj, str):
        yield obj
    elif isinstance(obj, bytes):
        yield obj.decode("utf-8", "replace")
    elif isinstance(obj, (pd.DataFrame, pd.Series)):
        yield obj.to_csv()
        yield from _strings(dict(obj.attrs), seen)
        yield repr(list(obj.index))
    elif isinstance(obj, np.ndarray):
        yield repr(obj.tolist())
    elif isinstance(obj, dict):
        for k, v in obj.items():
            yield from _strings(k, seen)
            yield from _strings(v, seen)
    elif isinstance(obj, (list, tuple, set, frozenset)):
        for v in obj:
            yield from _strings(v, seen)
    elif dataclasses.is_dataclass(obj) or hasattr(obj, "__dict__"):
        yield from _strings(vars(obj), seen)
    else:
        yield repr(obj)


def test_no_personal_data_anywhere_on_the_result():
    rs = prepare_responses(_with_pii(), INST, salt="pepper")
    blob = "\n".join(_strings(rs))
    blob += rs.summary() + repr(rs) + rs._repr_html_() + rs.report.to_html() + rs.report.to_markdown()
    for raw in PHONES + EMAILS + ["wx_zhang", "117.136.12.34", "10.2.3.4", "pepper"]:
        assert raw not in blob, raw
    assert "13912345678" not in blob and "1370000" not in blob
    t = rs.privacy.table.set_index("column")
    assert t.loc["phone", "reason"] == "declared" and t.loc["phone", "action"] == "pseudonymized"
    assert t.loc["微信号", "kind"] == "account" and t.loc["来自IP", "kind"] == "ip"
    assert t.loc["comment", "action"] == "redacted" and t.loc["comment", "cells"] == 2
    assert rs.other["comment"].tolist()[1:3] == ["请联系[phone]", "邮件 [email] 谢谢"]
    # the item cell with a phone number is redacted, then reported as non-numeric
    assert only(rs.report, "non_numeric") == [(103, 4, "PF1", "[phone]")]
    # pseudonyms link equal values
    assert rs.other.loc[2, "phone"] == rs.other.loc[7, "phone"] != rs.other.loc[3, "phone"]


def test_drop_policy_for_declared_and_detected_pii():
    inst = instrument_from_dict({**_raw_instrument(), "personal_data": [
        {"id": "phone", "kind": "phone", "policy": "drop"}, {"id": "email", "kind": "email", "policy": "drop"}]})
    rs = prepare_responses(_with_pii(), inst, pii_policy="drop")
    assert set(rs.privacy.dropped) == {"phone", "email", "微信号", "来自IP"}
    assert not {"phone", "email", "微信号", "来自IP"} & set(rs.other.columns)


def test_undeclared_phone_header_gets_the_declared_phone_policy():
    inst = instrument_from_dict({**_raw_instrument(), "personal_data": [
        {"id": "phone", "kind": "phone", "policy": "drop"}]})
    df = clean_frame().assign(手机号=["13912345678"] * 6, 联系邮箱=["a@b.cn"] * 6)
    rs = prepare_responses(df, inst, salt="s")
    t = rs.privacy.table.set_index("column")
    assert t.loc["手机号", "action"] == "dropped" and t.loc["联系邮箱", "action"] == "pseudonymized"


def _raw_instrument() -> dict:
    import yaml

    from pathlib import Path

    return yaml.safe_load(Path("surveys/ecommerce_crm.yaml").read_text(encoding="utf-8"))


def test_same_salt_same_result_random_salt_differs():
    a = prepare_responses(_with_pii(), INST, salt="s")
    b = prepare_responses(_with_pii(), INST, salt="s")
    pd.testing.assert_frame_equal(a.other, b.other)
    pd.testing.assert_frame_equal(a.data, b.data)
    pd.testing.assert_frame_equal(a.report.findings, b.report.findings)
    c = prepare_responses(_with_pii(), INST)
    d = prepare_responses(_with_pii(), INST)
    assert c.other.loc[2, "phone"] != d.other.loc[2, "phone"]
    assert c.privacy.salt_source == "random" and a.privacy.salt_source == "user"


# --------------------------------------------------------------------------- report object
def test_report_rendering_and_counts():
    rep = validate(_messy())
    c = rep.counts.set_index("check")
    assert c.loc["attention_failed", "findings"] == 1 and c.loc["straight_lining", "severity"] == "warning"
    assert rep.n_errors == 2 and rep.n_warnings == 2
    md = rep.to_markdown()
    assert "| attention_failed | error | 102 | 3 | AC1 | 1 |" in md
    html = rep.to_html()
    assert html.startswith("<!DOCTYPE html>") and "attention_failed" in html and '<tr class="error">' in html
    assert "<div class='crm-validation'>" in rep._repr_html_()
    assert "attention_failed" in rep.summary()
    with pytest.raises(KeyError, match="unknown check"):
        rep.of("speeding")
    assert rep.respondents("too_fast") == [103]


def test_findings_table_is_tidy():
    rep = validate(_messy())
    f = rep.findings
    assert f.columns.tolist() == ["check", "severity", "respondent", "row", "column", "value", "message"]
    assert str(f["row"].dtype) == "Int64"
    assert f["row"].tolist() == sorted(f["row"].tolist())
    assert set(f.severity) <= {"error", "warning", "info"}


def test_prepare_summary_and_html():
    rs = prepare_responses(_messy(), INST)
    assert "5 of 6 respondents kept" in rs.summary()
    assert rs.scores.columns.tolist() == ["respondent_id", "PF", "SQ", "LE", "UI", "CS", "CC", "CM", "SAT", "LOY",
                                          "OPS", "CRM"]
    d = rs.describe_scores().set_index("score")
    assert d.loc["OPS", "n"] == 5
    assert "<b>ResponseSet</b>" in rs._repr_html_()
    # scores equal the hand formula on the kept rows
    kept = rs.data
    pf = kept[["PF1", "PF2", "PF3"]].mean(axis=1, skipna=True)
    ok = kept[["PF1", "PF2", "PF3"]].notna().sum(axis=1) >= 2
    np.testing.assert_allclose(rs.scores["PF"].to_numpy(), pf.where(ok).to_numpy())
    ops = rs.scores[["PF", "SQ", "LE", "UI"]].mean(axis=1)
    np.testing.assert_allclose(rs.scores["OPS"].to_numpy(), ops.to_numpy())


def test_allow_missing_items():
    df = clean_frame().drop(columns=["PF3", "LOY1", "LOY2"])
    rs = prepare_responses(df, INST, require_all_items=False)
    assert set(rs.report.of("missing_column").column) >= {"PF3", "LOY1", "LOY2"}
    # PF has 2 of 3 items (enough); LOY has 1 of 3 (not enough with min_valid=0.5)
    assert rs.scores["PF"].notna().all() and rs.scores["LOY"].isna().all()
    np.testing.assert_allclose(rs.scores["PF"], rs.data[["PF1", "PF2"]].mean(axis=1))


# --------------------------------------------------------------------------- any scale
SQ_DIR = Path(__file__).resolve().parent / "data" / "service_quality"
SQ = load_instrument(SQ_DIR / "service_quality.yaml")


def _scale_inst(scales: dict, items_scale: str, n_items: int = 3, **item_extra) -> "Instrument":
    return instrument_from_dict({
        "id": "s", "languages": ["en"], "title": "s", "scales": scales,
        "constructs": [{"id": "A", "name": "A", "scale": items_scale,
                        "items": [{"id": f"A{i}", "text": f"a {i}", **item_extra} for i in range(1, n_items + 1)]}]})


@pytest.mark.parametrize("scale, cell, value, status", [
    ("rate10", 10, 10, "ok"), ("rate10", "1", 1, "ok"), ("rate10", "Excellent", 10, "converted"),
    ("rate10", "very POOR", 1, "converted"), ("rate10", "10 - Excellent", 10, "converted"), ("rate10", "8分", 8, "converted"),
    ("rate10", 0, None, "out_of_range"), ("rate10", 11, None, "out_of_range"), ("rate10", "Good", None, "non_numeric"),
    ("sat11", 0, 0, "ok"), ("sat11", "0", 0, "ok"), ("sat11", "Neither", 5, "converted"), ("sat11", -1, None, "out_of_range"),
    ("sat11", "Completely satisfied", 10, "converted"), ("sat11", 10.5, None, "out_of_range"),
    ("agree6", 6, 6, "ok"), ("agree6", "Slightly agree", 4, "converted"), ("agree6", 7, None, "out_of_range"),
    ("agree6", 0, None, "out_of_range"),
])
def test_code_answers_on_any_scale(scale, cell, value, status):
    c = code_likert(cell, SQ.scales[scale])
    assert c.status == status, c
    assert (math.isnan(c.value) if value is None else c.value == value)


def test_out_of_range_names_the_scale_and_its_range():
    c = code_likert(11, SQ.scales["rate10"])
    assert c.note == "11 is outside the scale rate10 1-10 (1=Very poor; 10=Excellent); set to missing" and c.found == 11
    c = code_likert("-1", SQ.scales["nps11"])
    assert "outside the scale nps11 0-10 (0=Not at all likely; 10=Extremely likely)" in c.note
    inst = _scale_inst({"yn": {"points": 2, "min": 0, "labels": {"en": ["No", "Yes"]}}}, "yn")
    df = pd.DataFrame({"respondent_id": [1, 2, 3], "A1": ["Yes", 0, 2], "A2": [1, "no", 1], "A3": [0, 1, 1]})
    rep = validate_responses(df, inst)
    assert rep.data["A1"].tolist()[:2] == [1, 0] and rep.data["A2"].tolist() == [1, 0, 1]
    f = rep.of("out_of_range")
    assert f[["row", "column", "value"]].values.tolist() == [[4, "A1", "2"]]
    assert f.message.iloc[0] == "2 is outside the scale yn 0-1 (0=No; 1=Yes); set to missing"


def test_semantic_differential_labels_are_accepted_per_item():
    inst = instrument_from_dict({
        "id": "sd", "languages": ["en"], "title": "sd", "scales": {"sd7": {"points": 7, "min": -3}},
        "constructs": [{"id": "E", "name": "E", "scale": "sd7", "items": [
            {"id": "E1", "text": "branch", "anchors": {"low": "Unpleasant", "high": "Pleasant"}},
            {"id": "E2", "text": "staff", "anchors": {"low": "Slow", "high": "Fast"}, "reverse": True}]}]})
    df = pd.DataFrame({"respondent_id": [1, 2, 3], "E1": ["Pleasant", -3, "Fast"], "E2": ["Slow", 0, 3]})
    rep = validate_responses(df, inst)
    assert rep.data["E1"].tolist()[:2] == [3, -3] and math.isnan(rep.data["E1"].tolist()[2])   # "Fast" is E2's
    assert rep.data["E2"].tolist() == [-3, 0, 3]
    assert only(rep, "non_numeric") == [(3, 4, "E1", "Fast")]
    assert reverse_code(rep.data, inst)["E2"].tolist() == [3, 0, -3]          # min + max - x = -x


def test_reverse_coding_is_min_plus_max_minus_x():
    inst = _scale_inst({"nps": {"min": 0, "max": 10}}, "nps", reverse=True)
    df = pd.DataFrame({"respondent_id": [1, 2, 3], "A1": [0, 3, 10], "A2": [10, 7, 5], "A3": [1, 2, 9]})
    rc = reverse_code(validate_responses(df, inst).data, inst)
    assert rc["A1"].tolist() == [10, 7, 0] and rc["A2"].tolist() == [0, 3, 5] and rc["A3"].tolist() == [9, 8, 1]
    inst6 = _scale_inst({"a6": {"points": 6}}, "a6", reverse=True)
    rc = reverse_code(validate_responses(df.assign(A1=[1, 3, 6], A2=[2, 4, 5], A3=[6, 6, 1]), inst6).data, inst6)
    assert rc["A1"].tolist() == [6, 4, 1] and rc["A2"].tolist() == [5, 3, 2]


# --------------------------------------------------------------------------- a wrongly declared scale
def _ten_point_answers(n: int = 60, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.integers(1, 11, size=(n, 3))
    return pd.DataFrame({"respondent_id": range(1, n + 1), "A1": x[:, 0], "A2": x[:, 1], "A3": x[:, 2]})


def test_ten_point_answers_on_a_seven_point_declaration_stop_with_a_clear_error():
    inst = _scale_inst({"sat7": {"points": 7}}, "sat7")
    df = _ten_point_answers()
    with pytest.raises(InstrumentError) as ei:
        validate_responses(df, inst)
    msg = str(ei.value)
    assert ei.value.key == "scales.sat7"
    assert "scale 'sat7' is declared 1-7 (7 points)" in msg
    for col in ("A1", "A2", "A3"):
        found = df[col][df[col] > 7].value_counts().sort_index()
        expect = f"{col}: " + ", ".join(f"{k} ({v}x)" for k, v in found.items()) + f" = {found.sum()} of 60 answers"
        assert expect in msg, (expect, msg)
    total = int((df[["A1", "A2", "A3"]] > 7).sum().sum())
    assert f"but {total} answers lie outside it in 3 columns" in msg
    assert "declare scales.sat7 with min: 1 and max: 10" in ei.value.hint
    # the same answers on the right declaration validate without a finding
    ok = validate_responses(df, _scale_inst({"sat10": {"points": 10}}, "sat10"))
    assert ok.n_errors == 0 and ok.of("out_of_range").empty and ok.data["A1"].tolist() == df["A1"].tolist()
    # a few stray out-of-range answers stay error findings (set to missing), as before
    df2 = df.clip(upper=7).assign(respondent_id=df.respondent_id)
    df2.loc[[3, 9], "A2"] = 9
    rep = validate_responses(df2, inst)
    assert rep.of("out_of_range")[["row", "column", "value"]].values.tolist() == [[5, "A2", "9"], [11, "A2", "9"]]
    # the check can be turned off: every out-of-range cell becomes an error finding
    rep = validate_responses(df, inst, max_out_of_range=None)
    assert len(rep.of("out_of_range")) == int((df[["A1", "A2", "A3"]] > 7).sum().sum())


def test_a_zero_on_a_scale_declared_from_one_stops_too():
    inst = _scale_inst({"r10": {"points": 10}}, "r10", n_items=2)
    df = pd.DataFrame({"respondent_id": range(40), "A1": [0] * 5 + [5] * 35, "A2": [5] * 40})
    with pytest.raises(InstrumentError, match=r"A1: 0 \(5x\) = 5 of 40 answers") as ei:
        validate_responses(df, inst)
    assert "min: 0 and max: 10" in ei.value.hint


# --------------------------------------------------------------------------- duplicate answer patterns
def test_duplicate_rows_are_flagged_not_dropped_by_default():
    df = clean_frame()
    again = df.iloc[[1]].copy()
    again["respondent_id"] = 999
    df = pd.concat([df, again], ignore_index=True)        # row 8: answers of row 3 under another id
    rep = validate(df)
    assert only(rep, "duplicate_row") == [(999, 8, None, None)]
    assert rep.of("duplicate_row").severity.iloc[0] == "warning"
    data, excluded, actions = apply_policies(rep)
    assert 8 in data.index and excluded.empty and data.loc[8, "flag_duplicate_row"]
    assert actions.set_index("check").loc["duplicate_row", "policy"] == "flag"
    data, excluded, _ = apply_policies(rep, {"duplicate_row": "drop"})
    assert 8 not in data.index and excluded.checks.tolist() == ["duplicate_row"]


def test_chance_of_identical_patterns_hand_computed():
    from crm_research.responses.duplicates import duplicate_patterns

    # 6 respondents x 3 items on 1-3: patterns (1,1,1) x2, (2,3,2) x2, (1,2,3), (3,3,blank)
    X = pd.DataFrame({"Q1": [1, 1, 2, 2, 1, 3], "Q2": [1, 1, 3, 3, 2, 3], "Q3": [1, 1, 2, 2, 3, np.nan]})
    d = duplicate_patterns(X, points=[3, 3, 3])
    # item distributions: Q1 1:3/6 2:2/6 3:1/6 -> sum p^2 = (9 + 4 + 1)/36 = 14/36
    #                     Q2 1:2/6 2:1/6 3:3/6 -> 14/36;  Q3 1:2 2:2 3:1 blank:1 -> (4+4+1+1)/36 = 10/36
    p = (14 / 36) * (14 / 36) * (10 / 36)
    assert d.match_probability == pytest.approx(p, rel=1e-15)
    assert d.expected_pairs == pytest.approx(15 * p, rel=1e-15)          # 6 * 5 / 2 = 15 pairs
    assert (d.observed_pairs, d.shared_patterns, d.respondents_sharing) == (2, 2, 4)
    assert (d.straight_line_patterns, d.straight_line_respondents) == (1, 2)   # (1,1,1)
    assert d.possible_patterns == 27 and d.n_respondents == 6 and d.n_items == 3
    assert "2 pairs of respondents gave identical answers to all 3 items" in d.sentence()
    assert "1 of these patterns, given by 2 respondents, is a straight line" in d.sentence()
    t = d.table().set_index("measure").value
    assert t["identical pairs observed"] == "2" and t["possible answer patterns"] == "27"
    # straight lines per group (scale): (1, 1, 3) is one when Q3 is on another scale
    d = duplicate_patterns(pd.DataFrame({"a": [1, 1], "b": [1, 1], "c": [3, 3]}), groups=["s", "s", "t"])
    assert d.straight_line_patterns == 1
    assert duplicate_patterns(pd.DataFrame({"a": [1, 1], "b": [1, 1], "c": [3, 3]})).straight_line_patterns == 0


def test_validation_report_states_the_chance_of_identical_patterns():
    df = clean_frame()
    df = pd.concat([df, df.iloc[[2]].assign(respondent_id=998)], ignore_index=True)
    rep = validate(df)
    d = rep.duplicates
    assert d.n_items == 27 and d.n_respondents == 7 and d.observed_pairs == 1
    assert d.possible_patterns == 5 ** 27
    X = rep.data[INST.item_ids]
    p = 1.0
    for c in X:
        share = X[c].value_counts(normalize=True)
        p *= float((share ** 2).sum())
    assert d.match_probability == pytest.approx(p, rel=1e-12) and d.expected_pairs == pytest.approx(21 * p, rel=1e-12)
    assert "## Identical answer patterns" in rep.to_markdown() and d.sentence() in rep.to_markdown()
    assert "Identical answer patterns" in rep.to_html() and "identical answer patterns: 1 pairs" in rep.summary()


# --------------------------------------------------------------------------- the second instrument
def test_service_quality_responses_regenerate_identically(tmp_path):
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_responses", SQ_DIR / "make_responses.py")
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    out = gen.write(tmp_path / "responses.csv")
    assert out.read_bytes() == (SQ_DIR / "responses.csv").read_bytes()


def test_service_quality_responses_validate():
    rs = prepare_responses(SQ_DIR / "responses.csv", SQ)
    rep = rs.report
    assert rep.n_rows == 400 and rep.of("out_of_range").empty and rep.of("non_numeric").empty
    assert rep.of("duplicate_row").row.tolist() == [122, 312]            # the two planted copies
    assert rep.data.loc[122, SQ.item_ids].equals(rep.data.loc[22, SQ.item_ids])
    assert len(rep.of("missing")) == 34
    for it in SQ.items:                                                  # answers within each item's scale
        sc = SQ.scale_of(it.id)
        v = rep.data[it.id].dropna()
        assert v.between(sc.min, sc.max).all() and (v.min(), v.max()) == (sc.min, sc.max), it.id
    # no respondent is lost to duplicate_row: only attention checks and screening drop
    dropped = set(rs.excluded.checks.str.split("; ").explode())
    assert dropped <= {"attention_failed", "screened_out", "duplicate_id"} and 122 in rs.data.index
    assert rs.data.attrs["reverse_coded"] == ["DG3"]
    raw_dg3 = rep.data.loc[rs.data.index, "DG3"]
    assert (rs.data["DG3"].dropna() == (11 - raw_dg3).dropna()).all()      # 1 + 10 - x on 1-10
    assert rs.scores.loc[2, "REC"] == rep.data.loc[2, "NPS"]               # a single item's score is the item

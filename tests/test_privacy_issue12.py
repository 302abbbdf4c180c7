"""Issue 12, personal data: one detector (folded text, every phone spelling, ID numbers by shape),
pseudonyms that never collide and never look like PII, truncated long cells."""
from __future__ import annotations

import pandas as pd
import pytest

from crm_research import privacy
from crm_research.privacy import (find_pii, fold, looks_personal, normalize_value, protect, pseudonymize, redact_headers,
                                  redact_text, truncate)


# --------------------------------------------------------------------------- fold
def test_fold_is_length_preserving_and_maps_full_width():
    text = "电话：１３８－１２３４　５６７８，邮箱ｚｈａｎｇ＠ｅｘａｍｐｌｅ．ｃｏｍ（微信）"
    f = fold(text)
    assert len(f) == len(text)
    assert "138-1234 5678" in f and "zhang@example.com" in f and "(微信)" in f
    assert fold("٣٨") == "38"                     # any Unicode decimal digit
    assert fold("a—b–c") == "a-b-c"                 # dashes
    assert fold("ﬁ") == "ﬁ"                         # NFKC expands it to two characters: kept


# --------------------------------------------------------------------------- phone spellings
@pytest.mark.parametrize("found", [
    "13812345678", "+86 138 1234 5678", "+86-138-1234-5678", "+8613812345678", "8613812345678",
    "86-13812345678", "0086 138 1234 5678", "008613812345678", "(+86)13812345678", "(86) 138 1234 5678",
    "138-1234-5678", "138 1234 5678", "138.1234.5678",
    "(010) 1234 5678", "(010)12345678", "010-12345678", "010 1234 5678", "010-1234-5678", "0755-1234567",
    "(0755) 8123 4567", "+86 10 1234 5678", "+86-755-81234567", "0086 10 12345678", "010-12345678-801",
    "+1 (415) 555-0100", "+44 20 7946 0958", "001-415-555-0100", "(415) 555-0100", "415-555-0100",
    "415.555.0100",
])
@pytest.mark.parametrize("template", ["{}", "电话{}谢谢", "call {} now", "tel:{}"])
def test_every_common_phone_spelling_is_found(found, template):
    text = template.format(found)
    spans = find_pii(text)
    assert [(k, text[a:b]) for k, a, b in spans] == [("phone", found)]


@pytest.mark.parametrize("text, found", [
    ("user13812345678", "13812345678"),          # a plain mobile inside an id
    ("13812345678_A", "13812345678"),
    ("cust-13812345678", "13812345678"),
    ("id:13812345678.0", "13812345678"),        # Excel's float rendering
    ("13812345678.00,x", "13812345678"),
    ("call 13812345678.", "13812345678"),       # end of a sentence
    ("５,13812345678,x", "13812345678"),         # after a CSV field
])
def test_plain_mobiles_anywhere(text, found):
    assert [(k, text[a:b]) for k, a, b in find_pii(text)] == [("phone", found)]


@pytest.mark.parametrize("text", [
    "１３８１２３４５６７８", "１３８－１２３４－５６７８", "＋８６ １３８ １２３４ ５６７８", "（０１０）１２３４ ５６７８",
])
def test_full_width_phones_are_found_at_their_original_span(text):
    assert find_pii(text) == [("phone", 0, len(text))]
    assert looks_personal(text) == "phone"


def test_full_width_email_and_id():
    e = "ｚｈａｎｇ．ｗｅｉ＠ｅｘａｍｐｌｅ．ｃｏｍ"
    assert find_pii("邮箱" + e) == [("email", 2, 2 + len(e))]
    assert find_pii("a﹫b.cn x") == [("email", 0, 6)]
    i = "１１０１０５１９４９１２３１００２Ｘ"
    assert find_pii(i) == [("id_number", 0, 18)]


# --------------------------------------------------------------------------- ID numbers by shape
@pytest.mark.parametrize("text", [
    "110105194912310021",   # 18 digits, wrong check digit (the right one is X)
    "11010519491231002X", "11010519491231002x", "440301200001011234", "身份证110105194912310021号",
    "110105491231002",      # 15-digit old form (YYMMDD)
    "旧证号 440301991231123 ",
])
def test_id_numbers_by_shape_whatever_the_checksum(text):
    assert [k for k, _, _ in find_pii(text)] == ["id_number"]


@pytest.mark.parametrize("text", [
    "110105194913310021",   # month 13: not the shape of an ID
    "11010519491231002Y", "1101051949123100211",  # 19 digits
    "3.75,4.111111111111112", "0.13812345678", "mean 2.1381234567891",
    "BG/NBD,r,13846452660.6809", "1,26050530129.53749,17780942397.6884",   # degenerate estimates, not phones
    "110105194912310021.5",
    "2024-01-15 12:30:45", "2024/03/05", "20240115", "1700000000", "1700000000000", "price 12345678",
    "12345678901", "p = .012, 1,234.5", "version 1.2.3", "sha 9f86d081884c7d65",
    "e3b0c44298fc1c149afbf4c8996fb92413812345678ae41e4649b934ca495991b7852b855",  # a digest
])
def test_not_personal(text):
    assert find_pii(text) == []


def test_ip_addresses_including_at_sentence_end():
    assert [(k, "x") for k, _, _ in find_pii("from 10.0.0.1.")] == [("ip", "x")]
    assert find_pii("addr 2001:db8::1 ok")[0][0] == "ip"
    assert find_pii("from １９２．１６８．１．１")[0] == ("ip", 5, 16)


# --------------------------------------------------------------------------- looks_personal / truncate
def test_looks_personal():
    assert looks_personal("13812345678") == "phone"
    assert looks_personal(13812345678) == "phone"
    assert looks_personal(13812345678.0) == "phone"
    assert looks_personal("a.b@c.org") == "email"
    assert looks_personal("110105194912310021") == "id_number"
    assert looks_personal("R0001") is None and looks_personal(None) is None and looks_personal(3.5) is None


def test_truncate_a_200000_character_cell():
    cell = "长" * 200_000
    t = truncate(cell)
    assert len(t) < 260 and t.startswith("长" * 200) and "200000 characters" in t
    assert truncate(cell, limit=10) == "长" * 10 + "… (200000 characters)"
    assert truncate("short") == "short" and truncate(12) == "12"


# --------------------------------------------------------------------------- pseudonyms
def test_pseudonyms_distinct_for_distinct_people_equal_for_spellings():
    a = pseudonymize(["13812345678", "+86 138 1234 5678", "１３８１２３４５６７８", "138-1234-5678", "0086 13812345678"],
                     "s")
    assert a.nunique() == 1
    b = pseudonymize(["13812345678", "13812345679", "A@x.com", "a@x.com", "b@x.com", "R001", "S001", "r001"], "s",
                     kind="phone")
    assert b.tolist()[2] == b.tolist()[3]              # same e-mail, two spellings
    assert b.nunique() == 7                             # R001 / S001 / r001 stay three people


def test_pseudonyms_are_lengthened_instead_of_colliding(monkeypatch):
    monkeypatch.setattr(privacy, "PSEUDONYM_LENGTH", 1)   # 32 possible 1-character pseudonyms for 200 people
    values = [f"1381234{i:04d}" for i in range(200)]
    out = pseudonymize(values, "s")
    assert out.nunique() == 200 and out.str.len().nunique() == 1 and out.str.len().iloc[0] > 1
    # and no pseudonym equals a value to avoid
    first = pseudonymize(["x"], "s").iloc[0]
    again = pseudonymize(["x"], "s", avoid=[first]).iloc[0]
    assert again != first and again.startswith(first)


def test_pseudonyms_never_look_like_personal_data():
    out = pseudonymize([f"customer-{i}" for i in range(20_000)], "salt")
    assert out.nunique() == 20_000
    joined = " ".join(out)
    assert find_pii(joined) == []
    assert not any(c in joined for c in "0189")


def test_normalize_value_only_for_the_shape_of_its_kind():
    assert normalize_value("R-001", "phone") == "R-001"
    assert normalize_value("ABC", "id_number") == "ABC"
    assert normalize_value("１１０１０５１９４９１２３１００２ｘ", "id_number") == "11010519491231002X"


# --------------------------------------------------------------------------- protect(ids=)
def test_personal_respondent_ids_get_distinct_pseudonyms_no_placeholder():
    ids = ["1", "2", "13812345678", "13812345679", "a@b.com", "c@d.com", "110105194912310021",
           "110105194912310022", "１３８１２３４５６７０", "１３８１２３４５６７１", "user13812345672", "3"]
    df = pd.DataFrame({"respondent_id": ids, "x": range(len(ids))})
    out, rep = protect(df, salt="s", ids=["respondent_id"])
    got = out["respondent_id"].tolist()
    assert len(set(got)) == len(ids)                                  # nobody merged
    assert got[:2] == ["1", "2"] and got[-1] == "3"                   # plain ids kept
    assert not any(v.startswith("[") for v in got)                    # no shared placeholder
    assert all(looks_personal(v) is None for v in got)
    row = rep.table.set_index("column").loc["respondent_id"]
    assert row.action == "pseudonymized" and row.cells == 9
    assert set(row.kind.split(",")) == {"phone", "email", "id_number"}


def test_mostly_personal_id_column_pseudonymized_whole_without_collisions():
    ids = [f"1381234{i:04d}" for i in range(8)] + ["R001", "S001"]
    out, rep = protect(pd.DataFrame({"respondent_id": ids}), salt="s", ids=["respondent_id"])
    assert out["respondent_id"].nunique() == 10


def test_numbers_that_are_phones_are_redacted_in_numeric_columns():
    df = pd.DataFrame({"age": [23.0, 13812345678.0, 45.0, 51.0]})
    out, rep = protect(df, salt="s")
    assert out["age"].tolist() == [23.0, "[phone]", 45.0, 51.0]


# --------------------------------------------------------------------------- headers
def test_redact_headers_keeps_them_distinct():
    cols = ["Q1", "备注13800000001", "备注13800000002", "mail a@b.com"]
    new = redact_headers(cols, salt="s")
    assert set(new) == {"备注13800000001", "备注13800000002", "mail a@b.com"}
    assert len(set(new.values())) == 3 and all(find_pii(v) == [] for v in new.values())
    assert new == redact_headers(cols, salt="s")                    # stable with a salt
    assert redact_text("备注13800000001", salt="s")[0] == new["备注13800000001"]


def test_many_values_in_one_long_cell_all_found_quickly():
    import time

    text = "，".join(f"客户{13800000000 + i}" for i in range(20_000))      # a 340,000-character cell
    t0 = time.perf_counter()
    spans = find_pii(text)
    assert len(spans) == 20_000 and {k for k, _, _ in spans} == {"phone"}
    assert time.perf_counter() - t0 < 10        # linear, not quadratic (about 0.2 s)
    red, kinds = redact_text(text)
    assert len(kinds) == 20_000 and find_pii(red) == []


def test_model_data_errors_show_no_personal_data(tmp_path):
    from crm_research.errors import DataFileError
    from crm_research.responses import read_model_data

    p = tmp_path / "m.csv"
    p.write_text("x1,x2,备注 13900001111\n1,2,3\n2,13812345678abc,4\n", encoding="utf-8")
    with pytest.raises(DataFileError) as e:
        read_model_data(p, ["x1", "x2"])
    assert "13812345678" not in str(e.value) and "[phone]abc" in str(e.value)
    with pytest.raises(DataFileError) as e:                      # the error lists the file's columns
        read_model_data(p, ["x1", "x9"])
    assert "13900001111" not in str(e.value) and "备注 [phone:" in str(e.value)
    p.write_text("x1,x2\n1," + "9" * 50 + "x" * 100_000 + "\n", encoding="utf-8")
    with pytest.raises(DataFileError) as e:
        read_model_data(p, ["x1", "x2"])
    assert len(str(e.value)) < 1000 and "100050 characters" in str(e.value)


def test_invisible_characters_do_not_hide_a_phone_nor_merge_ids():
    assert find_pii("电话138\u200b1234\u200b5678") == [("phone", 2, 15)]
    assert find_pii("a\u00adb@c.com")[0][0] == "email"
    out = pseudonymize(["\u200bA1", "-A1", "A1", "138\u200b1234\u200b5678", "13812345678"], "s")
    assert out.iloc[:3].nunique() == 3 and out.iloc[3] == out.iloc[4]

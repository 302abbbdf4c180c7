"""Personal data detection, pseudonymization and redaction (crm_research.privacy)."""
from __future__ import annotations

import base64
import hashlib
import hmac

import numpy as np
import pandas as pd
import pytest

from crm_research.instruments import load_instrument
from crm_research.privacy import (PSEUDONYM_HEX, content_kind, find_pii, find_pii_in_text, header_kind, make_salt,
                                  normalize_value, protect, pseudonymize, redact_text)

INSTRUMENT = "surveys/ecommerce_crm.yaml"


def _hmac(salt: str, text: str) -> str:
    digest = hmac.new(salt.encode(), text.encode(), hashlib.sha256).digest()
    return base64.b32encode(digest).decode().lower()[:PSEUDONYM_HEX]


# --------------------------------------------------------------------------- content patterns
@pytest.mark.parametrize("text, kind, found", [
    ("13912345678", "phone", "13912345678"),
    ("有问题请打我电话13912345678谢谢", "phone", "13912345678"),
    ("+86 139-1234-5678", "phone", "+86 139-1234-5678"),
    ("139 1234 5678", "phone", "139 1234 5678"),
    ("+44 20 7946 0958", "phone", "+44 20 7946 0958"),
    ("call (555) 123-4567 now", "phone", "(555) 123-4567"),
    ("座机010-12345678", "phone", "010-12345678"),
    ("zhang.wei@example.com", "email", "zhang.wei@example.com"),
    ("邮箱abc_1@163.com谢谢", "email", "abc_1@163.com"),
    ("117.136.12.34(广东-广州)", "ip", "117.136.12.34"),
    ("2001:db8::ff00:42:8329", "ip", "2001:db8::ff00:42:8329"),
    ("fe80::1", "ip", "fe80::1"),
    ("身份证11010519491231002X号", "id_number", "11010519491231002X"),
    ("110105194912310021", "id_number", "110105194912310021"),  # wrong check digit: still an ID by shape
    ("旧身份证110105491231002", "id_number", "110105491231002"),  # 15-digit old form
])
def test_find_pii_finds(text, kind, found):
    spans = find_pii(text)
    assert [(k, text[a:b]) for k, a, b in spans] == [(kind, found)]


@pytest.mark.parametrize("text", [
    "2024/03/05 14:23:11", "2024-01-05 12:30:45", "12:30:45", "version 1.2.3.4.5", "price 12345678",
    "12345678901",            # 11 digits but not a mobile prefix (12x)
    "11010519491231002Y",     # ID-like but not a valid check character
    "253秒", "4分13秒", "同意", "user at example dot com", "999.1.1.1",
])
def test_find_pii_ignores(text):
    assert find_pii(text) == []


def test_find_pii_in_text_and_hex_digests():
    assert find_pii_in_text("a 13912345678 b x@y.cn") == [("phone", "13912345678"), ("email", "x@y.cn")]
    sha = "0113de84e014dc5470dff0551b858117f542b4184e9f7352b4399a35a1f1aff1"
    assert find_pii_in_text(sha) == []
    # a mobile-like run inside a checksum is not a phone; the same run next to a short word is
    digest = "ab13912345678cdef0123456789abcdef0123"
    assert find_pii_in_text(digest) == []
    assert find_pii_in_text("13912345678abcdef0123") == [("phone", "13912345678")]


def test_cn_id_check_digit_is_verified():
    # 11010519491231002X is the standard GB 11643 example: weights give remainder -> 'X'
    assert find_pii("11010519491231002X")[0][0] == "id_number"
    assert find_pii("11010519491231002x")[0][0] == "id_number"


def test_redact_text_replaces_every_kind():
    text, kinds = redact_text("电话13912345678，邮箱a@b.cn，IP 10.0.0.1")
    assert text == "电话[phone]，邮箱[email]，IP [ip]"
    assert kinds == ("phone", "email", "ip")


# --------------------------------------------------------------------------- header patterns
@pytest.mark.parametrize("header, kind", [
    ("手机号", "phone"), ("34、您的手机号码（选填，仅用于抽奖联系）", "phone"), ("联系电话", "phone"),
    ("Phone number", "phone"), ("mobile", "phone"), ("mobile_no", "phone"), ("Telephone", "phone"),
    ("邮箱", "email"), ("E-mail address", "email"), ("email", "email"),
    ("姓名", "name"), ("Name", "name"), ("customer_name", "name"), ("first name", "name"),
    ("收货地址", "address"), ("Address", "address"), ("zip code", "address"),
    ("来自IP", "ip"), ("IP地址", "ip"), ("ip_address", "ip"),
    ("身份证号", "id_number"), ("ID card", "id_number"),
    ("微信号", "account"), ("QQ", "account"),
    # Qualtrics export columns
    ("IPAddress", "ip"), ("RecipientEmail", "email"), ("RecipientFirstName", "name"),
    ("RecipientLastName", "name"), ("LocationLatitude", "location"), ("LocationLongitude", "location"),
])
def test_header_kind(header, kind):
    assert header_kind(header) == kind


@pytest.mark.parametrize("header", ["来源", "来源详情", "product_name", "platform_name", "vip_level",
                                    "mobile_sessions", "iphone_share", "hotel", "zip", "PF1",
                                    "1、在该平台上搜索想要的商品很方便。", "skip_logic", "duration_sec"])
def test_header_kind_negative(header):
    assert header_kind(header) is None


def test_content_kind_needs_min_share():
    s = pd.Series(["13912345678", "13812345678", "none", None, ""])
    assert content_kind(s, 0.5) == ("phone", pytest.approx(2 / 3))
    assert content_kind(s, 0.9)[0] is None
    # Excel stores phone numbers as numbers
    assert content_kind(pd.Series([13912345678, 13812345678.0]))[0] == "phone"
    # a comment mentioning a phone does not make a phone column
    assert content_kind(pd.Series(["物流很快，有事打13912345678找我", "很好"]))[0] is None


# --------------------------------------------------------------------------- pseudonyms
def test_pseudonym_is_salted_hmac_of_normalized_value():
    s = pd.Series(["+86 139-1234-5678", "13912345678", None, "A.B@X.com"])
    out = pseudonymize(s, "pepper", kind=None)
    assert out[0] == out[1] == _hmac("pepper", "13912345678")
    assert out[2] is None
    assert out[3] == _hmac("pepper", "a.b@x.com")
    assert len(out[0]) == PSEUDONYM_HEX


def test_normalize_value():
    assert normalize_value("+86 139-1234-5678", "phone") == "13912345678"
    assert normalize_value(" A@B.Cn ", "email") == "a@b.cn"
    assert normalize_value("11010519491231002x", "id_number") == "11010519491231002X"


def test_make_salt():
    a, src = make_salt(None)
    b, _ = make_salt(None)
    assert src == "random" and len(a) == 32 and a != b
    assert make_salt("s") == (b"s", "user")
    with pytest.raises(ValueError):
        make_salt("")


# --------------------------------------------------------------------------- protect
def _customers() -> pd.DataFrame:
    return pd.DataFrame({
        "customer_id": [1, 2, 3, 4],
        "联系电话": ["13912345678", "13812345678", "", "13712345678"],
        "mail": ["a@x.com", "b@y.org", "c@z.net", None],
        "姓名": ["张伟", "王芳", "李娜", "刘洋"],
        "last_ip": ["10.0.0.1", "10.0.0.2", "192.168.1.1", "8.8.8.8"],
        "note": ["ok", "call 13600001111 please", "mail me d@w.com", "no"],
        "spend": [10.5, 20.0, 0.0, 3.25],
    })


def test_protect_detects_by_header_and_content_and_redacts():
    df = _customers()
    before = df.copy()
    safe, rep = protect(df, salt="s1")
    pd.testing.assert_frame_equal(df, before)  # input untouched
    t = rep.table.set_index("column")
    assert t.loc["联系电话", "reason"] == "header+content" and t.loc["联系电话", "kind"] == "phone"
    assert t.loc["mail", "reason"] == "content" and t.loc["mail", "kind"] == "email"
    assert t.loc["姓名", "reason"] == "header" and t.loc["姓名", "kind"] == "name"
    assert t.loc["last_ip", "kind"] == "ip"
    assert t.loc["note", "action"] == "redacted" and t.loc["note", "cells"] == 2
    assert set(rep.pseudonymized) == {"联系电话", "mail", "姓名", "last_ip"}
    assert "customer_id" not in t.index and "spend" not in t.index
    assert safe["note"].tolist() == ["ok", "call [phone] please", "mail me [email]", "no"]
    assert safe.loc[0, "联系电话"] == _hmac("s1", "13912345678")
    assert safe.loc[2, "联系电话"] is None  # empty stays empty
    assert safe["spend"].tolist() == [10.5, 20.0, 0.0, 3.25]
    assert rep.redactions.to_dict("records") == [
        {"row_index": 1, "column": "note", "kinds": "phone"}, {"row_index": 2, "column": "note", "kinds": "email"}]
    assert t.loc["联系电话", "cells"] == 3 and t.loc["mail", "cells"] == 3


def test_protect_drop_policy_and_declared():
    safe, rep = protect(_customers(), declared={"spend": "drop"}, policy="drop")
    assert list(safe.columns) == ["customer_id", "note"]
    assert set(rep.dropped) == {"联系电话", "mail", "姓名", "last_ip", "spend"}
    assert rep.table.set_index("column").loc["spend", "reason"] == "declared"


def test_protect_declared_instrument_fields_keep_their_policy():
    inst = load_instrument(INSTRUMENT)
    df = pd.DataFrame({"phone": ["13912345678", None], "email": ["a@b.cn", "c@d.cn"], "x": [1, 2]})
    safe, rep = protect(df, declared=inst.personal_data, salt="k")
    assert rep.table.set_index("column").loc["phone", "action"] == "pseudonymized"
    assert safe.loc[0, "phone"] == _hmac("k", "13912345678")
    assert safe.loc[1, "email"] == _hmac("k", "c@d.cn")


def test_header_alone_is_not_enough_for_verifiable_kinds():
    df = pd.DataFrame({"email_opt_in": ["yes", "no", "yes"], "mobile_phone": ["", None, ""],
                       "联系电话": ["不告诉你", "13912345678", "无"], "姓名": ["a", "b", "c"]})
    safe, rep = protect(df, salt="s")
    t = rep.table.set_index("column")
    assert "email_opt_in" not in t.index and safe["email_opt_in"].tolist() == ["yes", "no", "yes"]
    assert t.loc["mobile_phone", "reason"] == "header"      # empty: cannot tell, treated as PII
    assert t.loc["联系电话", "reason"] == "header"            # 1 of 3 is a phone: the column is PII
    assert t.loc["姓名", "kind"] == "name"                    # names cannot be verified by content


def test_protect_skip_and_detect_off():
    df = _customers()
    safe, rep = protect(df, skip=["mail"], salt="s")
    assert "mail" not in rep.columns and safe["mail"].iloc[0] == "[email]"  # skipped, but cells redacted
    safe, rep = protect(df, detect=False, redact=False, salt="s")
    assert rep.table.empty
    pd.testing.assert_frame_equal(safe, df)


def test_random_salt_differs_between_calls_and_is_not_stored():
    df = _customers()
    a, ra = protect(df)
    b, rb = protect(df)
    assert ra.salt_source == rb.salt_source == "random"
    assert a.loc[0, "mail"] != b.loc[0, "mail"]
    c, _ = protect(df, salt="same")
    d, _ = protect(df, salt="same")
    pd.testing.assert_frame_equal(c, d)
    for obj in (ra, ra.table, ra.redactions):
        assert "same" not in repr(obj)


def test_report_never_holds_values():
    df = _customers()
    _, rep = protect(df, salt="s")
    blob = repr(rep) + rep.table.to_csv() + rep.redactions.to_csv() + rep._repr_html_() + rep.to_markdown()
    for raw in ["13912345678", "a@x.com", "张伟", "10.0.0.1", "13600001111", "d@w.com"]:
        assert raw not in blob


def test_protect_bad_arguments():
    with pytest.raises(ValueError, match="policy"):
        protect(_customers(), policy="hash")
    with pytest.raises(TypeError):
        protect([1, 2, 3])


def test_protect_speed_on_many_rows():
    # content detection and redaction code the distinct cells, not every row
    n = 20000
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"phone": [f"13{i:09d}" for i in range(n)],
                       "answer": rng.integers(1, 6, n),
                       "comment": rng.choice(["好", "一般", "打13912345678"], n)})
    safe, rep = protect(df, salt="x")
    assert rep.table.set_index("column").loc["phone", "action"] == "pseudonymized"
    assert (safe["comment"] == "打[phone]").sum() == (df["comment"] == "打13912345678").sum()


def test_plain_integers_below_the_floor_are_never_personal():
    """kpi skips the scan of integer ids below privacy.PLAIN_INTEGER_PII_FLOOR: the detector
    must indeed read none of them as personal data (random ones, and shapes close to a phone or
    an ID number), while 11-digit mobiles at the floor's side are still found."""
    import random

    from crm_research.privacy import PLAIN_INTEGER_PII_FLOOR, find_pii

    rng = random.Random(12)
    floor = PLAIN_INTEGER_PII_FLOOR
    near = [floor - 1, 1381234567, 8613812345, 4155551234, 2125551212, 1100101199, 861012345, 8675512345]
    sample = near + [rng.randrange(floor // 10, floor) for _ in range(20000)]
    assert [v for v in sample if find_pii(str(v))] == []
    assert find_pii("13812345678") and find_pii(str(8613812345678))

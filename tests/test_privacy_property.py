"""Property-based tests of the personal-data detector and the pseudonyms (hypothesis).

Random phone numbers (Chinese mobiles and landlines in their usual spellings, international
numbers), e-mails, resident ID numbers (any check digit, 18 and 15 digits) and IPv4 addresses,
ASCII or full-width, embedded in random Chinese/English text, are always found and always
redacted; pseudonyms of distinct values never collide and never look like personal data.
"""
from __future__ import annotations

import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from crm_research import privacy  # noqa: E402
from crm_research.privacy import find_pii, fold, looks_personal, normalize_value, pseudonymize, redact_text  # noqa: E402

EXAMPLES = 400
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])

digit = st.sampled_from("0123456789")


def digits(n: int):
    return st.lists(digit, min_size=n, max_size=n).map("".join)


@st.composite
def mobile(draw):
    d = "1" + draw(st.sampled_from("3456789")) + draw(digits(9))
    sep = draw(st.sampled_from(["", " ", "-", "."]))
    body = d[:3] + sep + d[3:7] + sep + d[7:]
    prefix = draw(st.sampled_from(["", "+86 ", "+86-", "+86", "0086 ", "0086", "86-", "86", "(+86)", "(86) ",
                                   "(+86) "]))
    return "phone", prefix + body


@st.composite
def landline(draw):
    area = draw(st.sampled_from(["10", "20", "21", "22", "23", "24", "25", "27", "28", "29", "311", "371", "431",
                                 "512", "571", "591", "731", "755", "769", "898"]))
    first = draw(st.sampled_from("2345678"))
    local = first + draw(digits(7 if len(area) == 2 else draw(st.sampled_from([6, 7]))))
    split = draw(st.sampled_from(["", " ", "-"]))
    local = local[:-4] + split + local[-4:]
    form = draw(st.sampled_from(["({0}0{1}) {2}", "(0{1}){2}", "0{1}-{2}", "0{1} {2}", "+86 {1} {2}", "+86-{1}-{2}",
                                 "0086 {1} {2}"]))
    return "phone", form.format("", area, local)


@st.composite
def international(draw):
    cc = draw(st.sampled_from(["1", "44", "49", "33", "61", "81", "852", "886", "65"]))
    groups = draw(st.lists(st.integers(3, 4), min_size=2, max_size=3))   # 7 to 15 national digits
    parts = [draw(digits(n)) for n in groups]
    lead = draw(digits(draw(st.integers(1, 3))))
    sep = draw(st.sampled_from([" ", "-"]))
    plus = draw(st.sampled_from(["+", "00"]))
    return "phone", plus + cc + sep + lead + sep + sep.join(parts)


@st.composite
def email(draw):
    chars = st.sampled_from("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
    local = draw(st.lists(chars, min_size=1, max_size=10).map("".join))
    if draw(st.booleans()):
        local += draw(st.sampled_from("._+-")) + draw(st.lists(chars, min_size=1, max_size=6).map("".join))
    labels = draw(st.lists(st.lists(st.sampled_from("abcdefghijklmnopqrstuvwxyz0123456789"), min_size=1,
                                    max_size=8).map("".join), min_size=1, max_size=3))
    tld = draw(st.sampled_from(["com", "cn", "org", "net", "edu.cn", "com.cn", "io", "co.uk"]))
    return "email", f"{local}@{'.'.join(labels)}.{tld}"


@st.composite
def id_number(draw):
    region = draw(st.sampled_from("123456789")) + draw(digits(5))
    month = f"{draw(st.integers(1, 12)):02d}"
    day = f"{draw(st.integers(1, 28)):02d}"
    if draw(st.booleans()):
        year = str(draw(st.integers(1900, 2020)))
        check = draw(st.sampled_from("0123456789Xx"))      # any check digit, right or wrong
        return "id_number", region + year + month + day + draw(digits(3)) + check
    return "id_number", region + f"{draw(st.integers(0, 99)):02d}" + month + day + draw(digits(3))


@st.composite
def ipv4(draw):
    return "ip", ".".join(str(draw(st.integers(0, 255))) for _ in range(4))


def full_width(text: str) -> str:
    return "".join("\u3000" if c == " " else chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


@st.composite
def pii(draw):
    kind, value = draw(st.one_of(mobile(), landline(), international(), email(), id_number(), ipv4()))
    if draw(st.booleans()):
        value = full_width(value)
    return kind, value


# text around the values: Chinese, letters, spaces and punctuation -- never a digit, dot, @, + or dash,
# which would make the value part of a longer number or address
filler = st.text(alphabet=st.sampled_from(list("您好请联系我电话邮箱身份证谢谢备注abcxyzXYZ ,;:!?()，。：！、　")),
                 max_size=12)


@st.composite
def text_with_pii(draw):
    items = draw(st.lists(pii(), min_size=1, max_size=3))
    parts, where, pos = [], [], 0
    for kind, value in items:
        lead = draw(filler) + ("，" if parts else "")
        parts.append(lead)
        pos += len(lead)
        where.append((kind, pos, pos + len(value), value))
        parts.append(value)
        pos += len(value)
    parts.append(draw(filler))
    return "".join(parts), where


@SETTINGS
@given(text_with_pii())
def test_random_pii_in_random_text_is_always_found(case):
    text, where = case
    spans = find_pii(text)
    for kind, a, b, value in where:
        covering = [k for k, s, e in spans if s <= a and e >= b]
        assert covering == [kind], (text, value, spans)
    assert looks_personal(text) is not None


@SETTINGS
@given(text_with_pii())
def test_redacted_text_holds_no_pii(case):
    text, where = case
    red, kinds = redact_text(text)
    assert find_pii(red) == []
    for _, _, _, value in where:
        assert fold(value) not in fold(red)
    assert len(kinds) >= len(where)


values = st.one_of(st.text(max_size=20), pii().map(lambda kv: kv[1]), st.integers(0, 10 ** 12).map(str))


@SETTINGS
@given(st.lists(values, min_size=1, max_size=40, unique=True), st.text(min_size=1, max_size=8))
def test_pseudonyms_never_collide_for_distinct_values(vals, salt):
    out = pseudonymize(vals, salt)
    canon = [normalize_value(v) if v.strip() else None for v in vals]
    by_canon = {}
    for c, p in zip(canon, out):
        if c is None:
            continue
        by_canon.setdefault(c, set()).add(p)
    assert all(len(ps) == 1 for ps in by_canon.values())          # one person, one pseudonym
    assert len({next(iter(ps)) for ps in by_canon.values()}) == len(by_canon)   # two people, two
    assert all(p is None or looks_personal(p) is None for p in out)


@settings(max_examples=100, deadline=None)
@given(st.lists(values, min_size=2, max_size=60, unique=True))
def test_pseudonyms_lengthen_rather_than_collide(vals):
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(privacy, "PSEUDONYM_LENGTH", 1)      # force the collision path: 32 one-letter codes
        out = pseudonymize(vals, "s")
    canon = {normalize_value(v) for v in vals if v.strip()}
    assert out.dropna().nunique() == len(canon)

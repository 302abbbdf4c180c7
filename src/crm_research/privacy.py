"""Personal data: find it, then drop or pseudonymize it before anything else sees the data.

A column is personal data when it is

- **declared** (an instrument's ``personal_data`` fields, or columns the caller names),
- **named like PII** (header patterns in Chinese and English: 手机/电话/phone/mobile, 邮箱/email,
  姓名/name, 地址/address, IP, 身份证/ID number, 微信/QQ/wechat), or
- **filled with PII** (at least ``min_share`` of its non-missing cells look like a phone number,
  an e-mail address, an IPv4/IPv6 address or a Chinese resident ID number).

There is one detector, :func:`find_pii`: text is folded first (:func:`fold`: full-width digits
and ``＠``, any dash or space), phone numbers are recognised in the common Chinese and
international spellings, ID numbers by their shape whatever the check digit (18 and old 15
digits). Every module that writes identifiers or cell text uses it, through
:func:`looks_personal`, :func:`pseudonymize`, :func:`redact_text`, :func:`redact_headers`
and :func:`truncate` -- nobody writes their own patterns.

Such columns are dropped or replaced by a pseudonym: ``HMAC-SHA256(salt, normalized value)``,
first 16 characters in lower-case base 32 (letters and the digits 2-7, so a pseudonym never
looks like a phone or ID number); distinct values never share a pseudonym. The salt is the
caller's (then pseudonyms are stable across runs and tables, so survey answers can be linked
to KPI customer tables) or 32 random bytes drawn per call and discarded (then nothing, not
even the caller, can recompute a pseudonym). The salt is never stored on a result object:
with the salt, a phone number's pseudonym can be brute-forced.

Identifier columns (``protect(..., ids=[...])``: respondent or customer ids) that hold personal
data in some cells get a pseudonym in those cells -- never a shared placeholder, so two people
keep two ids. Phone numbers, e-mails, IPs and ID numbers inside *other* text cells (a
free-text comment "call me on 13912345678") are replaced by ``[phone]``, ``[email]``,
``[ip]``, ``[id_number]``; in column headers by ``[phone:<pseudonym>]`` (:func:`redact_headers`).

The functions here take and return DataFrames, so any module (survey intake, KPI customer
tables) can call :func:`protect` on its input.

Examples
--------
>>> import pandas as pd
>>> df = pd.DataFrame({"customer": ["a@x.com", "b@y.org"], "spend": [10.0, 20.0]})
>>> safe, report = protect(df, salt="project-salt")
>>> safe["customer"].str.len().tolist()
[16, 16]
>>> report.table[["column", "kind", "reason", "action"]].values.tolist()
[['customer', 'email', 'content', 'pseudonymized']]
"""
from __future__ import annotations

import base64
import bisect
import hashlib
import hmac
import ipaddress
import re
import secrets
import unicodedata
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

import numpy as np
import pandas as pd

from .reporting.format import markdown_table

POLICIES = ("drop", "pseudonymize")
KINDS = ("phone", "email", "name", "address", "ip", "id_number", "account", "location", "other")
#: kinds whose values the content patterns recognise: a column *named* like one of them is only
#: personal data if some of its values look like it (or it is empty) -- "email_opt_in" is not
VERIFIABLE = ("phone", "email", "ip", "id_number")
PSEUDONYM_LENGTH = 16  # base-32 characters = 80 bits; lengthened within a call should two collide
PSEUDONYM_HEX = PSEUDONYM_LENGTH  # former name, kept for callers
#: pseudonyms are written in lower-case base 32 (RFC 4648: a-z, 2-7): no 0, 1, 8 or 9, so no
#: pseudonym can ever look like a phone number, an ID number or an IP address
PSEUDONYM_ALPHABET = "abcdefghijklmnopqrstuvwxyz234567"

# --------------------------------------------------------------------------- header patterns
# Matched against the NFKC-normalized, case-folded header. Order matters: the first kind that
# matches wins ("email address" is an e-mail, not an address).
HEADER_PATTERNS: tuple[tuple[str, re.Pattern], ...] = tuple(
    (kind, re.compile(p)) for kind, p in [
        ("email", r"邮箱|电子邮件|邮件地址|e-?mail"),
        ("ip", r"(?<![a-z])ip(?![a-z])|ip[ _-]?addr"),
        ("phone", r"手机|电话|联系方式|(?<![a-z])(?:tele)?phone|^mobile$|mobile[ _-]?(?:no|num|number|phone)(?![a-z])"
                  r"|cell[ _-]?phone|^tel$|(?<![a-z])tel[ _-]?(?:no|number)(?![a-z])|whatsapp"),
        ("id_number", r"身份证|证件号|护照|passport|national[ _-]?id|id[ _-]?card|^ssn$"),
        ("address", r"地址|住址|收货地|邮编|(?<![a-z])address|^street|post[ _-]?code|zip[ _-]?code"),
        ("name", r"姓名|您的名字|真实姓名|联系人|收件人|收货人|称呼|(?:full|first|last|real|sur|given|family|middle)[ _-]?name"
                 r"|^(?:(?:contact|customer|respondent|client|buyer|recipient|your)[ _-]?)?name$|^name[ _-]?of"),
        ("account", r"微信号|wechat|qq号|^qq$|支付宝账号|alipay|^username$|^user[ _-]name$|openid|unionid|nickname|昵称"),
        ("location", r"latitude|longitude|^lat$|^lng$|^lon$|(?<![a-z])gps(?![a-z])|经度|纬度|定位|地理位置"),
    ])


# --------------------------------------------------------------------------- folding
_DASHES = "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\u2043\ufe58\ufe63\uff0d"
_FOLD_CACHE: dict[str, str] = {}


def _fold_char(c: str) -> str:
    f = _FOLD_CACHE.get(c)
    if f is None:
        d = unicodedata.decimal(c, None)
        if d is not None:
            f = str(d)
        elif c in _DASHES or unicodedata.category(c) == "Cf":   # dashes; zero-width and soft hyphens
            f = "-"
        elif c.isspace():
            f = " "
        else:
            n = unicodedata.normalize("NFKC", c)
            f = n if len(n) == 1 else c
        _FOLD_CACHE[c] = f
    return f


def fold(text: str) -> str:
    """NFKC-fold ``text`` character by character, keeping its length.

    Full-width digits, letters and signs (``１３８``, ``＠``, ``＋``, ``（）``) become ASCII,
    any Unicode decimal digit becomes its ASCII digit, every dash (and every invisible
    format character: zero-width space, soft hyphen) becomes ``-`` and every space ``" "``. Each character maps to exactly one character (a character whose NFKC form
    is longer is kept), so a span found in ``fold(text)`` is the same span of ``text``.

    Parameters
    ----------
    text : str
        Any text.

    Returns
    -------
    str
        The folded text, ``len(fold(text)) == len(text)``.

    Examples
    --------
    >>> fold("１３８－１２３４　５６７８ ａ＠ｂ．ｃｏｍ")
    '138-1234 5678 a@b.com'
    """
    text = str(text)
    if text.isascii():
        return text
    return "".join([_fold_char(c) if c >= "\x80" else c for c in text])


# --------------------------------------------------------------------------- content patterns
# All patterns run on fold(text) and are compiled with re.ASCII (\d is 0-9, \s ASCII space).
_CC86 = r"(?:(?:\+|00)\s?86|\(\s?(?:\+|00)?86\s?\)|86)[\s-]?"
# mobiles: 11 digits 1[3-9]x, grouped 3-4-4 with one consistent separator (space, dash or dot)
_CN_MOBILE = rf"(?:{_CC86})?1[3-9]\d([ .-]?)\d{{4}}\1\d{{4}}"
# landlines: (010) 1234 5678, 010-12345678, 0755 1234567, +86 10 1234 5678, with an extension
_CN_LANDLINE = (r"(?:\(0[1-9]\d{1,2}\)\s?|0[1-9]\d{1,2}[\s-]?|" + _CC86 + r"\(?[1-9]\d{1,2}\)?[\s-]?)"
                r"\d{3,4}[\s-]?\d{4}(?:\s?(?:-|转|ext\.?|x)\s?\d{1,5}(?!\d))?")
_INTL_PHONE = (r"(?:(?:\+|00)[1-9]\d{0,2}|\(\+[1-9]\d{0,2}\))[\s.-]?(?:\(\d{1,4}\)[\s.-]?)?\d{1,4}"
               r"(?:[\s.-]?\d{2,4}){1,4}")
_NANP = r"\(\d{3}\)\s?\d{3}[\s.-]?\d{4}|\d{3}([.-])\d{3}\2\d{4}"
_NOT_DECIMAL = r"(?![0-9])(?!\.[0-9]*[1-9])"   # 13846452660.6809 is a number; 13812345678.0 is Excel's phone
PHONE_RE = re.compile(rf"(?<![0-9+])(?<![0-9]\.)(?:{_CN_MOBILE}|{_CN_LANDLINE}|{_INTL_PHONE}|{_NANP}){_NOT_DECIMAL}",
                      re.ASCII)
EMAIL_RE = re.compile(r"(?<![A-Za-z0-9_.+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"
                      r"(?![A-Za-z0-9_])", re.ASCII)
IPV4_RE = re.compile(r"(?<![\d.])(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
                     r"(?!\.?\d)", re.ASCII)
_IPV6_CAND = re.compile(r"(?<![A-Za-z0-9_:])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![A-Za-z0-9_:])", re.ASCII)
_DATE = r"(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])"
# Digits right after "<digit>." are decimals of a number (4.111111111111112), never PII.
# resident ID numbers by shape (the check digit is NOT required to be right): 18 characters
# (region, YYYYMMDD, sequence, check digit or X) and the old 15-digit form (region, YYMMDD, sequence)
_CN_ID_CAND = re.compile(rf"(?<![0-9])(?<![0-9]\.)[1-9]\d{{5}}(?:18|19|20)\d{{2}}{_DATE}\d{{3}}[\dXx]{_NOT_DECIMAL}",
                         re.ASCII)
_CN_ID15_CAND = re.compile(rf"(?<![0-9])(?<![0-9]\.)[1-9]\d{{5}}\d{{2}}{_DATE}\d{{3}}{_NOT_DECIMAL}", re.ASCII)
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
_HEX_TOKEN = re.compile(r"[0-9A-Za-z]+", re.ASCII)

# Cheap pre-filter: every pattern above contains one of these (7 digits in a row, a digit group
# split by a space, dash or dot, an @, a dotted quad, or IPv6 colons); most cells contain none.
_MAYBE_PII = re.compile(r"\d{7}|\d{2,4}[\s.-]\d{3,4}|\)\s?\d{3}|@|\d\.\d{1,3}\.\d|::|(?:[0-9A-Fa-f]{1,4}:){3}",
                        re.ASCII)

REDACTION = {"phone": "[phone]", "email": "[email]", "ip": "[ip]", "id_number": "[id_number]"}

#: The smallest non-negative integer, written as plain digits, that the patterns above can read as
#: personal data: a mobile number has 11 digits, a landline without its leading 0 needs the 86
#: prefix (11+ digits), an ID number 15 or 18, and every other pattern needs a separator, a
#: leading 0 or +, an @ or dots. Integer columns below it (customer ids of a transaction log) need
#: no scan; tests/test_privacy.py keeps this promise tied to the patterns.
PLAIN_INTEGER_PII_FLOOR = 10 ** 10


def _valid_cn_id(s: str) -> bool:
    """ISO 7064 MOD 11-2 check digit of an 18-character Chinese resident ID number."""
    total = sum(int(c) * w for c, w in zip(s[:17], _ID_WEIGHTS))
    return _ID_CHECK[total % 11] == s[17].upper()


def _digest_spans(text: str) -> list[tuple[int, int]]:
    """Spans of the long (32+) hexadecimal tokens of a text: checksums and hashes."""
    return [m.span() for m in _HEX_TOKEN.finditer(text)
            if m.end() - m.start() >= 32 and all(c in "0123456789abcdefABCDEF" for c in m.group(0))]


def _ipv6_spans(text: str) -> list[tuple[int, int]]:
    out = []
    for m in _IPV6_CAND.finditer(text):
        tok = m.group(0)
        if tok.count(":") < 2 or sum(1 for g in tok.split(":") if g) < 2:
            continue    # "0000::" or "::1" name no host
        try:
            ipaddress.IPv6Address(tok)
        except ValueError:
            continue
        out.append(m.span())
    return out


def find_pii(text: str) -> list[tuple[str, int, int]]:
    """Spans of PII in a text: ``[(kind, start, end), ...]``, non-overlapping, in order.

    The text is first folded (:func:`fold`: full-width digits and ``＠``, any dash, any
    space), then searched for

    - ``email``: ``name@domain.tld`` (also with a full-width ``＠``);
    - ``id_number``: Chinese resident ID numbers *by shape*, whatever the check digit: 18
      characters (6-digit region, ``YYYYMMDD`` birth date, 3 digits, a digit or ``X``) and
      the old 15-digit form (``YYMMDD``);
    - ``ip``: IPv4 and IPv6 addresses;
    - ``phone``: Chinese mobiles (11 digits ``1[3-9]...``, plain or grouped 3-4-4 by space,
      dash or dot, with ``+86`` / ``0086`` / ``86`` / ``(+86)``), Chinese landlines
      (``(010) 1234 5678``, ``010-12345678``, ``+86 10 1234 5678``, extensions),
      ``+`` or ``00`` international numbers and North-American ``(415) 555-0100``. A
      number directly next to letters (``user13812345678``) counts; one inside a long
      hexadecimal token (a checksum) does not.

    This is the project's one detector: reports, batch logs, KPI and CLV tables and
    :func:`protect` all use it. Spans index the original ``text``.

    Parameters
    ----------
    text : str
        Any text (a cell, a header, a notebook output, a log line).

    Returns
    -------
    list of (str, int, int)
        ``(kind, start, end)`` per value found; empty when there is none.

    Examples
    --------
    >>> find_pii("call 13800138000 or a@b.com")
    [('phone', 5, 16), ('email', 20, 27)]
    >>> find_pii("id１３８１２３４５６７８")
    [('phone', 2, 13)]
    >>> find_pii("sha 9f86d081884c7d65, p = .012, 1,234.5")
    []
    """
    if not text or len(text) < 6:
        return []
    text = fold(text)
    if not _MAYBE_PII.search(text):
        return []
    spans: list[tuple[str, int, int]] = []
    taken: list[tuple[int, int]] = []
    digests = _digest_spans(text) if len(text) >= 32 else []

    def add(kind: str, a: int, b: int) -> bool:
        # taken: sorted, non-overlapping spans; only the neighbours can overlap (a, b)
        i = bisect.bisect_left(taken, (a, b))
        if (i < len(taken) and taken[i][0] < b) or (i > 0 and taken[i - 1][1] > a):
            return False
        j = bisect.bisect_right(digests, (a, len(text) + 1)) - 1
        if j >= 0 and digests[j][0] <= a and b <= digests[j][1] and digests[j] != (a, b):
            return False
        taken.insert(i, (a, b))
        spans.append((kind, a, b))
        return True

    def scan(regex: re.Pattern, kind: str, min_digits: int = 0) -> None:
        # a candidate rejected (overlapping a value already found, inside a checksum) is
        # searched again from its next character, so "::0086 13000000000" still yields the mobile
        pos = 0
        while True:
            m = regex.search(text, pos)
            if m is None:
                return
            ok = sum(c.isdigit() for c in m.group(0)) >= min_digits and add(kind, *m.span())
            pos = m.end() if ok else m.start() + 1

    scan(EMAIL_RE, "email")
    scan(_CN_ID_CAND, "id_number")
    scan(IPV4_RE, "ip")
    scan(PHONE_RE, "phone", min_digits=7)
    for a, b in _ipv6_spans(text):
        add("ip", a, b)
    scan(_CN_ID15_CAND, "id_number")
    spans.sort(key=lambda t: t[1])
    return spans


def looks_personal(value: Any) -> str | None:
    """The PII kind found anywhere in one value (an id, a header, a cell), or None.

    Parameters
    ----------
    value : object
        Any value; numbers are read as text (``13812345678.0`` is the number 13812345678).

    Returns
    -------
    str or None
        ``"phone"``, ``"email"``, ``"ip"`` or ``"id_number"`` (the first found), None when
        the value holds no personal data.

    Examples
    --------
    >>> looks_personal("１３８１２３４５６７８"), looks_personal("user_a@b.cn"), looks_personal("R0001")
    ('phone', 'email', None)
    >>> looks_personal(13812345678.0), looks_personal("110105194912310021")
    ('phone', 'id_number')
    """
    t = _cell_text(value)
    if t is None:
        return None
    spans = find_pii(t)
    return spans[0][0] if spans else None


def truncate(text: Any, limit: int = 200) -> str:
    """``text`` cut to its first ``limit`` characters, saying how long it was.

    For long cells in findings and reports: a 200,000-character answer is shown as its
    first ``limit`` characters, ``…`` and ``(N characters)``. Shorter text is returned as is.

    Parameters
    ----------
    text : object
        Any value (read as text).
    limit : int
        Characters kept (at least 1).

    Returns
    -------
    str

    Examples
    --------
    >>> truncate("short")
    'short'
    >>> truncate("x" * 1000, limit=5)
    'xxxxx… (1000 characters)'
    """
    s = str(text)
    limit = max(int(limit), 1)
    if len(s) <= limit:
        return s
    return f"{s[:limit]}… ({len(s)} characters)"


def find_pii_in_text(text: str) -> list[tuple[str, str]]:
    """``[(kind, matched text), ...]`` of the PII in ``text`` (used by report exporters).

    Parameters
    ----------
    text : str
        Any text.

    Returns
    -------
    list of (str, str)
        ``(kind, value)`` per value found, in order.

    Examples
    --------
    >>> find_pii_in_text("ip 192.168.10.1 and +86 138-0013-8000")
    [('ip', '192.168.10.1'), ('phone', '+86 138-0013-8000')]
    """
    return [(k, text[a:b]) for k, a, b in find_pii(text)]


def redact_text(text: str, salt: str | bytes | None = None) -> tuple[str, tuple[str, ...]]:
    """Replace every PII span in ``text`` by its placeholder (``[phone]``, ``[email]`` ...).

    With a ``salt`` the placeholder carries the value's pseudonym (``[phone:jlho5qxx...]``,
    :func:`pseudonymize`), so two texts differing only in their personal data stay distinct
    (used for column headers).

    Parameters
    ----------
    text : str
        Any text.
    salt : str or bytes, optional
        HMAC key of the pseudonyms in the placeholders; default plain placeholders.

    Returns
    -------
    (str, tuple of str)
        The redacted text and the kinds replaced, in order.

    Examples
    --------
    >>> redact_text("mail a@b.com now")
    ('mail [email] now', ('email',))
    >>> redact_text("nothing here")
    ('nothing here', ())
    >>> redact_text("备注13800138000", salt="secret")
    ('备注[phone:jlho5qxxvpybi5nb]', ('phone',))
    """
    spans = find_pii(text)
    if not spans:
        return text, ()
    names = None
    if salt is not None:
        names = pseudonymize([text[a:b] for _, a, b in spans], salt).tolist()
    out, pos = [], 0
    for j, (kind, a, b) in enumerate(spans):
        out.append(text[pos:a])
        out.append(REDACTION[kind] if names is None else f"[{kind}:{names[j]}]")
        pos = b
    out.append(text[pos:])
    return "".join(out), tuple(k for k, _, _ in spans)


def redact_headers(columns: Iterable[Any], salt: str | bytes | None = None) -> dict[Any, str]:
    """New names for the column headers that contain personal data.

    A header such as ``备注（电话13800138000）`` becomes ``备注（电话[phone:jlho5qxx...]）``
    (:func:`redact_text` with the salt; a random one when None), so it can be shown in
    mappings, findings, reports and on the console. Renamed headers stay distinct from each
    other and from the other headers.

    Parameters
    ----------
    columns : iterable
        The headers.
    salt : str or bytes, optional
        HMAC key of the pseudonyms in the new names (random when None).

    Returns
    -------
    dict
        ``{old header: new header}`` for the headers that change only.

    Examples
    --------
    >>> redact_headers(["Q1", "联系 a@b.com"], salt="secret")
    {'联系 a@b.com': '联系 [email:6livia6li7bcbc66]'}
    """
    key, _ = make_salt(salt)
    cols = list(columns)
    taken = {str(c) for c in cols}
    out: dict[Any, str] = {}
    for c in cols:
        new, kinds = redact_text(str(c), key)
        if not kinds:
            continue
        base, k = new, 2
        while new in taken:
            new, k = f"{base} ({k})", k + 1
        taken.add(new)
        out[c] = new
    return out


def header_kind(column: str) -> str | None:
    """The PII kind a column *name* suggests (``"phone"``, ``"email"``, ...) or None.

    Parameters
    ----------
    column : str
        A column header (English or Chinese; question numbering such as ``Q3.`` is ignored).

    Returns
    -------
    str or None

    Examples
    --------
    >>> header_kind("手机号码"), header_kind("E-mail"), header_kind("Q3 satisfaction")
    ('phone', 'email', None)
    """
    h = unicodedata.normalize("NFKC", str(column)).casefold().strip()
    h = re.sub(r"^\s*(?:第\s*\d+\s*题|q?\d+)\s*[、.:：)\]_-]?\s*", "", h)  # numbering
    for kind, pat in HEADER_PATTERNS:
        if pat.search(h):
            return kind
    return None


def _cell_text(v: Any) -> str | None:
    if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NA or v is pd.NaT:
        return None
    if isinstance(v, (float, np.floating)) and float(v).is_integer():
        return str(int(v))
    if isinstance(v, (bytes, bytearray)):
        v = bytes(v).decode("utf-8", "replace")
    s = str(v).strip()
    return s or None


def _whole_kind(s: str) -> str | None:
    """The kind when the whole cell is (essentially) one PII value, e.g. an IP with a city."""
    spans = find_pii(s)
    if not spans:
        return None
    covered = sum(b - a for _, a, b in spans)
    rest = len(re.sub(r"[\s,;/|()（）\[\]\-省市区·]+", "", s))
    if rest - covered <= 6:  # a short tag such as "(广东-广州)" or "(手机)" may remain
        return spans[0][0]
    return None


CONTENT_SAMPLE = 2000  # distinct values inspected to classify a column (deterministic, evenly spaced)


def _text_counts(values: pd.Series, sample: int | None = None) -> list[tuple[str, int]]:
    """(cell text, count) for the distinct non-blank cells of a column (an evenly spaced
    subset of ``sample`` distinct values when there are more)."""
    vc = values.value_counts(dropna=True, sort=False)
    if sample is not None and len(vc) > sample:
        vc = vc.iloc[np.linspace(0, len(vc) - 1, sample).round().astype(int)]
    out = []
    for v, n in vc.items():
        t = _cell_text(v)
        if t is not None:
            out.append((t, int(n)))
    return out


def _n_nonblank(values: pd.Series) -> int:
    ok = values.notna()
    if values.dtype == object or pd.api.types.is_string_dtype(values):
        ok &= values.astype(str).str.strip().ne("")
    return int(ok.sum())


def content_kind(values: pd.Series, min_share: float = 0.5) -> tuple[str | None, float]:
    """(kind, share) when at least ``min_share`` of the non-blank cells are PII of one kind.

    A cell counts when it essentially *is* one PII value (``117.136.2.1(广东-广州)`` is an IP);
    a comment that mentions a phone number does not make its column a phone column (such
    cells are redacted instead). Columns with more than ``CONTENT_SAMPLE`` distinct values
    are judged on an evenly spaced subset of them (weighted by their counts); cells of a
    column not judged PII are still all searched and redacted by :func:`protect`.

    Parameters
    ----------
    values : pandas.Series
        The cells of one column.
    min_share : float
        Share of the non-blank cells that must be PII of one kind.

    Returns
    -------
    (str or None, float)
        The kind (None below ``min_share``) and the share of the most frequent kind.

    Examples
    --------
    >>> import pandas as pd
    >>> kind, share = content_kind(pd.Series(["13800138000", "13900139000", "n/a"]))
    >>> kind, round(share, 3)
    ('phone', 0.667)
    >>> content_kind(pd.Series(["fine", "call 13800138000 please"]))
    (None, 0.0)
    """
    counts = _text_counts(values, CONTENT_SAMPLE)
    total = sum(n for _, n in counts)
    if total == 0:
        return None, 0.0
    hits: dict[str, int] = {}
    for t, n in counts:
        k = _whole_kind(t)
        if k:
            hits[k] = hits.get(k, 0) + n
    if not hits:
        return None, 0.0
    kind = max(hits, key=hits.get)
    share = hits[kind] / total
    return (kind, share) if share >= min_share else (None, share)


# --------------------------------------------------------------------------- pseudonyms
def make_salt(salt: str | bytes | None = None) -> tuple[bytes, str]:
    """The HMAC key of the pseudonyms and where it came from.

    Parameters
    ----------
    salt : str, bytes or None
        A user's salt (same salt, same pseudonyms across runs); ``None`` draws 32 random bytes.

    Returns
    -------
    (bytes, str)
        The key and its source, ``"user"`` or ``"random"``.

    Raises
    ------
    ValueError
        An empty salt.
    TypeError
        A salt that is neither text nor bytes.

    Examples
    --------
    >>> make_salt("secret")
    (b'secret', 'user')
    >>> key, source = make_salt()
    >>> len(key), source
    (32, 'random')
    """
    if salt is None:
        return secrets.token_bytes(32), "random"
    if isinstance(salt, str):
        if not salt:
            raise ValueError("salt must not be empty; omit it to draw a random salt")
        return salt.encode("utf-8"), "user"
    if isinstance(salt, (bytes, bytearray)):
        if not salt:
            raise ValueError("salt must not be empty; omit it to draw a random salt")
        return bytes(salt), "user"
    raise TypeError(f"salt must be str or bytes, got {type(salt).__name__}")


def normalize_value(s: str, kind: str | None = None) -> str:
    """Canonical form hashed into a pseudonym, so ``+86 138-0013-8000`` and ``13800138000``
    (or ``A@X.com`` and ``a@x.com``) get the same pseudonym.

    The text is folded (:func:`fold`); a value shaped like a phone number becomes its digits
    (without ``+86`` / ``0086``), an e-mail is case-folded, an ID number upper-cased without
    spaces, whatever ``kind`` says. Any other value is only folded (case-folded for names,
    addresses and accounts), so ``R001`` and ``S001`` in a phone column never share a
    canonical form.

    Parameters
    ----------
    s : str
        The value.
    kind : str, optional
        Its PII kind (``name``, ``address`` and ``account`` values are case-folded); phones,
        e-mails and ID numbers are recognised by their shape.

    Returns
    -------
    str

    Examples
    --------
    >>> normalize_value("+86 138-0013-8000"), normalize_value("A@X.com")
    ('13800138000', 'a@x.com')
    >>> normalize_value("R001", "phone"), normalize_value("１３８ ００１３ ８０００")
    ('R001', '13800138000')
    """
    n = unicodedata.normalize("NFKC", str(s)).strip()
    compact = re.sub(r"\s+", " ", fold(n))
    if PHONE_RE.fullmatch(compact):
        d = re.sub(r"\D", "", compact, flags=re.ASCII)
        if d.startswith("0086"):
            d = d[2:]
        if len(d) == 13 and d.startswith("861"):
            d = d[2:]
        return d
    plain = re.sub(r"\s+", " ", n)      # NFKC only: an invisible character still tells two values apart
    if EMAIL_RE.fullmatch(plain):
        return plain.casefold()
    nospace = plain.replace(" ", "")
    if _CN_ID_CAND.fullmatch(nospace) or _CN_ID15_CAND.fullmatch(nospace):
        return nospace.upper()
    if kind in ("name", "address", "account"):
        return plain.casefold()
    return n


def pseudonymize(values: Any, salt: str | bytes | None, kind: str | None = None, *,
                 avoid: Iterable[str] = ()) -> pd.Series:
    """Replace each non-missing value by its keyed hash ``HMAC-SHA256(salt, normalized value)``.

    A pseudonym is the HMAC in lower-case base 32 (RFC 4648, letters and the digits 2-7),
    first 16 characters: it never contains a run of digits that could be read as a phone
    or ID number. Missing values stay missing. Equal
    values after normalization (:func:`normalize_value`: ``+86 138 0013 8000`` is
    ``13800138000``, ``A@X.com`` is ``a@x.com``, full-width is ASCII) get equal pseudonyms;
    distinct values never share one: should two distinct values of this call agree in their
    first 16 characters (or a pseudonym equal a value in ``avoid``), all pseudonyms of the
    call are lengthened until none do.

    Parameters
    ----------
    values : pandas.Series or iterable
        The personal values.
    salt : str or bytes or None
        The HMAC key (see :func:`make_salt`); None draws a random key (pseudonyms then
        differ from run to run).
    kind : str, optional
        PII kind, for :func:`normalize_value`.
    avoid : iterable of str
        Values no pseudonym may equal (e.g. the kept ids of the same column).

    Returns
    -------
    pandas.Series
        A base-32 string per value (None where missing); same index and name as ``values`` when
        it is a Series.

    Examples
    --------
    >>> import pandas as pd
    >>> pseudonymize(pd.Series(["13800138000", "+86 138 0013 8000", None]), "secret").tolist()
    ['jlho5qxxvpybi5nb', 'jlho5qxxvpybi5nb', None]
    >>> pseudonymize(["a@x.com", "b@x.com"], "secret").str.len().tolist()
    [16, 16]
    """
    if not isinstance(values, pd.Series):
        values = pd.Series(list(values) if not isinstance(values, (pd.Index, np.ndarray)) else values, dtype=object)
    key, _ = make_salt(salt)
    base = hmac.new(key, digestmod=hashlib.sha256)
    digests: dict[str, str] = {}

    def norm(v: Any) -> str | None:
        t = _cell_text(v)
        if t is None:
            return None
        n = normalize_value(t, kind)
        if n not in digests:
            h = base.copy()
            h.update(n.encode("utf-8"))
            digests[n] = base64.b32encode(h.digest()).decode("ascii").rstrip("=").lower()
        return n

    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    normed = [norm(u) for u in uniques]
    avoid = {str(a) for a in avoid}
    width = PSEUDONYM_LENGTH
    full = list(digests.values())
    while width < 52 and (len({d[:width] for d in full}) < len(full) or any(d[:width] in avoid for d in full)):
        width += 4
    mapped = np.array([None if n is None else digests[n][:width] for n in normed] + [None], dtype=object)
    return pd.Series(mapped[codes], index=values.index, name=values.name, dtype=object)


# --------------------------------------------------------------------------- report
@dataclass
class PrivacyReport:
    """What :func:`protect` did, without any personal value.

    Attributes
    ----------
    table : DataFrame
        One row per affected column: ``column, kind, reason, action, cells`` where reason is
        ``declared``, ``header``, ``content`` (or ``header+content``), action ``dropped``,
        ``pseudonymized`` or ``redacted`` (PII inside free text) and cells the number of
        non-missing cells changed.
    redactions : DataFrame
        One row per redacted cell: ``row_index, column, kinds`` (positions, never values).
    salt_source : str
        ``"user"`` (pseudonyms reproducible with the same salt) or ``"random"`` (salt discarded).

    Examples
    --------
    >>> import pandas as pd
    >>> _, report = protect(pd.DataFrame({"email": ["a@b.com"]}), policy="drop")
    >>> report.table[["column", "action"]].values.tolist(), report.salt_source
    ([['email', 'dropped']], 'random')
    """

    table: pd.DataFrame
    redactions: pd.DataFrame
    salt_source: str
    policy: str

    @property
    def columns(self) -> list[str]:
        """Columns that were dropped or pseudonymized."""
        return self.table.loc[self.table.action != "redacted", "column"].tolist()

    @property
    def dropped(self) -> list[str]:
        return self.table.loc[self.table.action == "dropped", "column"].tolist()

    @property
    def pseudonymized(self) -> list[str]:
        return self.table.loc[self.table.action == "pseudonymized", "column"].tolist()

    def summary(self) -> str:
        if self.table.empty:
            return "Privacy: no personal data found."
        lines = ["Privacy:"]
        for r in self.table.itertuples(index=False):
            lines.append(f"  {r.column!s:<28} {r.kind:<10} {r.reason:<15} {r.action} ({r.cells} cells)")
        if self.pseudonymized:
            lines.append("  pseudonyms: HMAC-SHA256, " + ("user-supplied salt (reproducible)"
                         if self.salt_source == "user" else "random salt, discarded (not reproducible)"))
        return "\n".join(lines)

    def __repr__(self) -> str:
        return self.summary()

    def _repr_html_(self) -> str:
        return "<p><b>Privacy</b></p>" + (self.table.to_html(index=False) if not self.table.empty
                                            else "<p>no personal data found</p>")

    def to_markdown(self) -> str:
        if self.table.empty:
            return "No personal data found.\n"
        return markdown_table(self.table) + "\n"


# --------------------------------------------------------------------------- protect
def _declared_policies(declared: Any, policy: str) -> dict[str, str]:
    if declared is None:
        return {}
    if isinstance(declared, str):
        return {declared: policy}
    if isinstance(declared, Mapping):
        out = {}
        for col, pol in declared.items():
            pol = pol or policy
            if pol not in POLICIES:
                raise ValueError(f"policy for declared column {col!r} must be 'drop' or 'pseudonymize', got {pol!r}")
            out[str(col)] = pol
        return out
    out = {}
    for d in declared:
        if hasattr(d, "id") and hasattr(d, "policy"):  # instruments.PersonalField
            out[str(d.id)] = d.policy
        else:
            out[str(d)] = policy
    return out


def protect(df: pd.DataFrame, declared: Iterable[Any] | Mapping[str, str] = (), policy: str = "pseudonymize",
            salt: str | bytes | None = None, *, skip: Iterable[str] = (), detect: bool = True,
            redact: bool = True, min_share: float = 0.5, ids: Iterable[str] = (),
            kinds: Mapping[str, str] | None = None,
            policy_by_kind: Mapping[str, str] | None = None) -> tuple[pd.DataFrame, PrivacyReport]:
    """Drop or pseudonymize personal data in any DataFrame.

    Parameters
    ----------
    df : DataFrame
        Input; not modified.
    declared : iterable of str or PersonalField, or mapping {column: policy}
        Columns known to hold personal data (e.g. ``instrument.personal_data``). A
        PersonalField or mapping entry carries its own policy; bare names use ``policy``.
        Declared columns absent from ``df`` are ignored.
    policy : {"pseudonymize", "drop"}
        What to do with detected (undeclared) PII columns and bare declared names.
    salt : str or bytes, optional
        HMAC key. Give one to get the same pseudonyms across runs and tables; by default a
        random salt is drawn for this call and discarded.
    skip : iterable of str
        Columns that are never *detected* as PII by header or content (e.g. mapped survey
        items). PII inside their text cells is still redacted.
    detect : bool
        Detect PII columns by header name and content (default True).
    redact : bool
        Replace PII found inside other text cells by ``[phone]``, ``[email]``, ... (default True).
    min_share : float
        Share of non-missing cells that must be PII for a column to count as a PII column.
    ids : iterable of str
        Identifier columns (respondent or customer ids). A cell of theirs holding personal
        data anywhere (:func:`looks_personal`) is replaced by its pseudonym, never by a
        shared placeholder, so two people keep two ids; the other ids are kept, and no
        pseudonym equals a kept id. (An id column that is mostly personal data is
        pseudonymized whole, as any PII column.)
    kinds : mapping {column: kind}, optional
        Kind of declared columns (``phone``, ``email``, ...), used to normalize before hashing.
    policy_by_kind : mapping {kind: policy}, optional
        Policy for detected columns of a kind (e.g. the policy an instrument declares for its
        phone field, applied to a "手机号" column it did not recognise); default ``policy``.

    Returns
    -------
    (DataFrame, PrivacyReport)
        The protected copy, and a report naming columns and counts (never values).

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"id": [1, 2], "phone": ["13800138000", "13900139000"],
    ...                    "comment": ["ok", "call me at 13700137000"]})
    >>> safe, report = protect(df, salt="s")
    >>> safe["comment"].tolist()
    ['ok', 'call me at [phone]']
    >>> report.table[["column", "reason", "action", "cells"]].values.tolist()
    [['phone', 'header+content', 'pseudonymized', 2], ['comment', 'content', 'redacted', 1]]
    """
    for pol in [policy, *(policy_by_kind or {}).values()]:
        if pol not in POLICIES:
            raise ValueError(f"policy must be 'drop' or 'pseudonymize', got {pol!r}")
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"protect() needs a pandas DataFrame, got {type(df).__name__}")
    key, salt_source = make_salt(salt)
    decl = _declared_policies(declared, policy)
    kinds = dict(kinds or {})
    for d in (declared if not isinstance(declared, (str, Mapping)) and declared is not None else ()):
        if hasattr(d, "kind") and hasattr(d, "id"):
            kinds.setdefault(str(d.id), d.kind)
    skip = {str(c) for c in skip}

    rows: list[dict[str, Any]] = []
    actions: dict[Any, tuple[str, str, str]] = {}  # column -> (kind, reason, policy)
    for col in df.columns:
        name = str(col)
        if name in decl:
            actions[col] = (kinds.get(name) or header_kind(name) or content_kind(df[col], min_share)[0] or "other",
                            "declared", decl[name])
            continue
        if not detect or name in skip:
            continue
        hk = header_kind(name)
        ck, _ = content_kind(df[col], min_share)
        if hk in VERIFIABLE and not ck:
            sample = _text_counts(df[col], CONTENT_SAMPLE)
            if sample and not any(find_pii(t) for t, _ in sample):
                hk = None  # named like a phone/e-mail/IP column but holds none (e.g. "email_opt_in")
        if hk or ck:
            reason = "header+content" if hk and ck else ("header" if hk else "content")
            kind = ck or hk
            actions[col] = (kind, reason, (policy_by_kind or {}).get(kind, policy))

    out = df.copy()
    for col, (kind, reason, pol) in actions.items():
        n = _n_nonblank(df[col])
        if pol == "drop":
            out = out.drop(columns=[col])
            rows.append(dict(column=str(col), kind=kind, reason=reason, action="dropped", cells=n))
        else:
            ser = df[col]
            if ser.dtype == object or pd.api.types.is_string_dtype(ser):
                ser = ser.where(ser.astype(str).str.strip() != "", None)
            out[col] = pseudonymize(ser, key, kind)
            rows.append(dict(column=str(col), kind=kind, reason=reason, action="pseudonymized", cells=n))

    key_ids = [c for c in out.columns if str(c) in {str(i) for i in ids} and c not in actions]
    for col in key_ids:
        ser = out[col]
        texts = [_cell_text(v) for v in ser]
        found = [looks_personal(t) if t is not None else None for t in texts]
        hit = [j for j, k in enumerate(found) if k]
        if not hit:
            continue
        kept = {t for t, k in zip(texts, found) if t is not None and not k}
        pseudo = pseudonymize([texts[j] for j in hit], key, avoid=kept)
        new = ser.astype(object).copy()
        new.iloc[hit] = pseudo.to_numpy(dtype=object)
        out[col] = new
        ks = sorted({found[j] for j in hit})
        actions[col] = (",".join(ks), "content", "pseudonymize")
        rows.append(dict(column=str(col), kind=",".join(ks), reason="content", action="pseudonymized",
                         cells=len(hit)))

    red_rows: list[dict[str, Any]] = []
    if redact:
        for col in out.columns:
            if col in actions:
                continue
            ser = out[col]
            if pd.api.types.is_numeric_dtype(ser) and not pd.api.types.is_bool_dtype(ser):
                # a phone number stored as a number (an Excel cell): whole numbers of 7+ digits
                if not (pd.to_numeric(ser, errors="coerce").abs() >= 1_000_000).any():
                    continue
                ser = ser.astype(object)
            elif not (ser.dtype == object or pd.api.types.is_string_dtype(ser)):
                continue
            codes, uniques = pd.factorize(ser, use_na_sentinel=True)
            new_uniques, changed_kinds = [], {}
            for j, u in enumerate(uniques):
                t = u if isinstance(u, str) else (_cell_text(u) if isinstance(u, (int, float, np.integer, np.floating))
                                                  and not isinstance(u, (bool, np.bool_)) else None)
                if t is not None and len(t) >= 6 and any(c.isdigit() or c in "@:＠" for c in t):
                    t, ks = redact_text(t)
                    if ks:
                        changed_kinds[j] = ks
                        u = t
                new_uniques.append(u)
            if not changed_kinds:
                continue
            arr = np.array(new_uniques + [None], dtype=object)
            new = pd.Series(arr[codes], index=ser.index, name=ser.name, dtype=object)
            new = new.where(codes >= 0, ser)
            out[col] = new
            hit = np.flatnonzero(np.isin(codes, list(changed_kinds)))
            kinds_seen: set[str] = set()
            for pos in hit:
                ks = changed_kinds[codes[pos]]
                kinds_seen.update(ks)
                red_rows.append(dict(row_index=int(pos), column=str(col), kinds=",".join(sorted(set(ks)))))
            rows.append(dict(column=str(col), kind=",".join(sorted(kinds_seen)), reason="content",
                             action="redacted", cells=len(hit)))

    table = pd.DataFrame(rows, columns=["column", "kind", "reason", "action", "cells"])
    redactions = pd.DataFrame(red_rows, columns=["row_index", "column", "kinds"])
    return out, PrivacyReport(table, redactions, salt_source, policy)

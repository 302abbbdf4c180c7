"""Text normalization shared by header matching and answer coding."""
from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")

# Numbering platforms put before question text: "1、", "Q1.", "Q1_2", "1.", "1)", "(1)",
# "第1题", "【1】", "1 " (after NFKC, so full-width digits and brackets are already ASCII).
_NUMBERING = re.compile(
    r"^\s*(?:"
    r"第\s*\d+\s*[题問问]\s*[、.:)\]]?"
    r"|[qQ]\s*\d+(?:[._-]\d+)*\s*[、.:)\]_-]?"
    r"|\(\s*\d+\s*\)|\[\s*\d+\s*\]|【\s*\d+\s*】|〔\s*\d+\s*〕"
    r"|\d+(?:\.\d+)*\s*[、.:)\]](?!\d)"
    r"|\d+\s+"
    r")\s*")

# Question-type tags and required markers platforms append: "(单选题)", "【矩阵量表题】", "*",
# "(必答)", "- Selected Choice" (Qualtrics), "(required)".
_SUFFIXES = [
    re.compile(r"\s*[\(\[【〔]\s*(?:单选题?|多选题?|填空题?|矩阵[^)\]】〕]{0,6}|量表题?|下拉[框题]?|排序题?|打分题?|"
               r"评分题?|比重题?|滑动条|必答题?|必填|可多选|单选|多选|required|select one|single choice)"
               r"\s*[\)\]】〕]\s*$", re.I),
    re.compile(r"\s*-\s*selected choice\s*$", re.I),
    re.compile(r"\s*[*＊]+\s*$"),
    re.compile(r"\s*[:：]\s*$"),
]
_SEPARATORS = re.compile(r"\s*(?:—+|--+|–|:|：|\||_{1,}|/\s)\s*")
_BRACKET_TAIL = re.compile(r"[\(\[【](?P<inner>[^()\[\]【】]{4,})[\)\]】]\s*$")


@lru_cache(maxsize=65536)
def compact(s: str) -> str:
    """NFKC, case-folded, letters and digits only: ``"Strongly  agree!"`` -> ``"stronglyagree"``."""
    s = unicodedata.normalize("NFKC", str(s)).casefold()
    return "".join(ch for ch in s if ch.isalnum())


@lru_cache(maxsize=65536)
def spaced(s: str) -> str:
    """NFKC, case-folded, runs of non-alphanumerics turned into one space, padded with spaces."""
    s = unicodedata.normalize("NFKC", str(s)).casefold()
    return " " + " ".join("".join(ch if ch.isalnum() else " " for ch in s).split()) + " "


def soft(s: str) -> str:
    """NFKC, trimmed, case-folded (keeps signs and punctuation: ``-3`` stays ``-3``)."""
    return unicodedata.normalize("NFKC", str(s)).strip().casefold()


def has_cjk(s: str) -> bool:
    return bool(_CJK.search(s))


def strip_question(header: str) -> str:
    """Remove numbering prefixes and platform suffixes from an exported question header."""
    h = unicodedata.normalize("NFKC", str(header)).strip()
    for _ in range(3):
        before = h
        for pat in _SUFFIXES:
            h = pat.sub("", h).strip()
        rest = _NUMBERING.sub("", h, count=1).strip()
        if rest:  # a bare "Q5" stays "Q5"
            h = rest
        if h == before:
            break
    return h


def header_variants(header: str) -> list[str]:
    """Texts a header may stand for: the stripped whole, the part after a stem separator
    ("请评价：<statement>", "<stem>—<statement>") and the bracketed tail ("7(<statement>)")."""
    h = strip_question(header)
    out = [h] if h else []
    parts = [x for x in _SEPARATORS.split(h) if x.strip()]
    if len(parts) > 1:
        for x in (parts[-1], parts[0]):
            x = strip_question(x)
            if x and x not in out:
                out.append(x)
    m = _BRACKET_TAIL.search(h)
    if m:
        inner = strip_question(m.group("inner"))
        if inner and inner not in out:
            out.append(inner)
    return out

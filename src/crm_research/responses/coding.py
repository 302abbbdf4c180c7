"""Turn answer cells into numbers: rating-scale points, demographic codes, seconds.

Scales are any run of 2 to 11 consecutive whole numbers (1-5, 1-7, 0-10, -3..3); answers are
numbers or the labels of labelled points, in any language of the instrument.

Each function codes the *distinct* cells of a column once (a Likert column has a handful),
so coding is fast whatever the number of rows. A cell's status is one of:

``ok``            a number that is a point of the scale / a declared option;
``missing``       empty or a missing-value token (``(跳过)``, ``(空)``, ``NA`` ...);
``converted``     a label (``同意``, ``Strongly agree``, ``5-非常同意``, ``男``) turned into its value;
``non_numeric``   text that is neither a number nor a label of the scale / an option;
``out_of_range``  a number that is not a point of the scale (``6`` or ``4.5`` on 1-5, ``-1`` on 0-10);
``invalid``       (demographics, durations) a value that is not an option / not a duration.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

import numpy as np
import pandas as pd

from ..instruments import Question, Scale
from ._text import compact, soft

MISSING_TOKENS = frozenset({"", "na", "n/a", "nan", "null", "none", "missing", "-", "--", ".", "#n/a", "#null!",
                            "(空)", "空", "(跳过)", "跳过", "未填", "未填写", "未作答", "未回答", "无", "(无)"})

_NUM_LABEL = re.compile(r"^\(?\s*([+-]?\d+(?:\.\d+)?)\s*\)?\s*(?:分)?\s*[-=.、:：)\s]\s*(.+)$")
_LABEL_NUM = re.compile(r"^(.+?)\s*[(\[]\s*([+-]?\d+(?:\.\d+)?)\s*(?:分)?\s*[)\]]$")
_POINTS = re.compile(r"^([+-]?\d+(?:\.\d+)?)\s*(?:分|points?|pts?)$", re.I)


@dataclass(frozen=True)
class Coded:
    """One coded cell: its value (NaN when not a valid answer), status and a note; ``found``
    is the number read from an out-of-range cell (NaN otherwise)."""

    value: float
    status: str
    note: str = ""
    found: float = np.nan


def cell_text(v: Any) -> str | None:
    """The text of a cell as a user sees it (``4.0`` -> ``"4"``), None when empty."""
    if v is None or v is pd.NA or v is pd.NaT:
        return None
    if isinstance(v, (float, np.floating)):
        if math.isnan(v):
            return None
        return str(int(v)) if float(v).is_integer() else repr(float(v))
    if isinstance(v, (bool, np.bool_)):
        return str(v)
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    s = str(v).strip()
    return s or None


def _as_number(v: Any) -> float | None:
    if isinstance(v, (bool, np.bool_)):
        return None
    if isinstance(v, (int, np.integer, float, np.floating)):
        f = float(v)
        return f if math.isfinite(f) else None
    s = soft(str(v))
    if not re.fullmatch(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)", s):
        return None
    return float(s)


def is_missing(v: Any, tokens: frozenset[str] = MISSING_TOKENS) -> bool:
    t = cell_text(v)
    return t is None or soft(t) in tokens


def likert_lookup(scale: Scale) -> dict[str, int]:
    """``{compact label: point}`` for every labelled point of a scale, in all its languages."""
    out: dict[str, int] = {}
    for labels in scale.labels.values():
        for value, lab in zip(scale.values, labels):
            if lab is not None:
                out[compact(lab)] = value
    return out


def _scale_desc(scale: Scale) -> str:
    return scale.describe()


def _on_scale(x: float, scale: Scale) -> bool:
    return x.is_integer() and scale.min <= x <= scale.max


def code_likert(v: Any, scale: Scale, lookup: Mapping[str, int] | None = None,
                tokens: frozenset[str] = MISSING_TOKENS) -> Coded:
    """Code one answer cell on a rating scale (see module docstring).

    Numbers must be whole points of the scale (``scale.min`` to ``scale.max``); labels of
    labelled points are converted to their value. An out-of-range number keeps the number
    found in ``Coded.found`` (for the check of a wrongly declared scale).

    Parameters
    ----------
    v : object
        The cell as read (number or text).
    scale : Scale
        The item's scale.
    lookup : mapping, optional
        Prepared ``{compact label: value}`` of the scale (built when omitted).
    tokens : frozenset of str
        Texts meaning "no answer".

    Returns
    -------
    Coded
        ``value`` (NaN when not usable), ``status`` (``ok``, ``converted``, ``missing``,
        ``out_of_range``, ``non_numeric``), ``note``, ``found``.

    Examples
    --------
    >>> from crm_research.instruments import load_instrument
    >>> agree5 = load_instrument("surveys/ecommerce_crm.yaml").scales["agree5"]
    >>> code_likert("Strongly agree", agree5)
    Coded(value=5.0, status='converted', note="label 'Strongly agree' converted to 5", found=nan)
    >>> code_likert("4", agree5).value, code_likert("7", agree5).status, code_likert("N/A", agree5).status
    (4.0, 'out_of_range', 'missing')
    """
    lookup = lookup if lookup is not None else likert_lookup(scale)
    t = cell_text(v)
    if t is None or soft(t) in tokens:
        return Coded(np.nan, "missing")
    x = _as_number(v)
    if x is not None:
        if _on_scale(x, scale):
            return Coded(x, "ok")
        what = "not a whole scale point" if not x.is_integer() and scale.min <= x <= scale.max \
            else "outside the scale"
        return Coded(np.nan, "out_of_range", f"{t} is {what} {_scale_desc(scale)}; set to missing", x)
    lab = lookup.get(compact(t))
    if lab is not None:
        return Coded(float(lab), "converted", f"label {t!r} converted to {lab}")
    s = soft(t)
    m = _POINTS.match(s)
    if m:
        x = float(m.group(1))
        if _on_scale(x, scale):
            return Coded(x, "converted", f"{t!r} converted to {int(x)}")
        return Coded(np.nan, "out_of_range", f"{t} is outside the scale {_scale_desc(scale)}; set to missing", x)
    for pat, num_first in ((_NUM_LABEL, True), (_LABEL_NUM, False)):
        m = pat.match(s)
        if not m:
            continue
        num, lab_text = (m.group(1), m.group(2)) if num_first else (m.group(2), m.group(1))
        lab = lookup.get(compact(lab_text))
        if lab is None:
            continue
        x = float(num)
        if x == lab:
            return Coded(float(lab), "converted", f"{t!r} converted to {lab}")
        return Coded(np.nan, "non_numeric", f"{t!r}: the number {num} and the label (= {lab}) disagree; set to missing")
    return Coded(np.nan, "non_numeric", f"{t!r} is neither a number nor a label of the scale "
                                        f"{_scale_desc(scale)}; set to missing")


def option_lookup(q: Question) -> dict[str, Any]:
    """``{compact option text: value}`` over every language of the options."""
    out: dict[str, Any] = {}
    for o in q.options:
        for k, text in o.items():
            if k != "value":
                out.setdefault(compact(text), o["value"])
    return out


def _options_desc(q: Question) -> str:
    return ", ".join(f"{o['value']}=" + "/".join(str(t) for k, t in o.items() if k != "value") for o in q.options)


def code_option(v: Any, q: Question, lookup: Mapping[str, Any] | None = None,
                tokens: frozenset[str] = MISSING_TOKENS) -> tuple[Any, str, str]:
    """Code one demographic cell: (value, status, note)."""
    lookup = lookup if lookup is not None else option_lookup(q)
    t = cell_text(v)
    if t is None or soft(t) in tokens:
        return None, "missing", ""
    values = q.values
    x = _as_number(v)
    if x is not None:
        for val in values:
            if isinstance(val, (int, float)) and not isinstance(val, bool) and float(val) == x:
                return val, "ok", ""
    for val in values:  # string-coded options ("M", "F")
        if isinstance(val, str) and compact(val) == compact(t):
            return val, "ok", ""
    lab = lookup.get(compact(t))
    if lab is not None:
        return lab, "converted", f"label {t!r} converted to {lab}"
    m = _NUM_LABEL.match(soft(t))
    if m and lookup.get(compact(m.group(2))) is not None:
        lab = lookup[compact(m.group(2))]
        if _as_number(m.group(1)) == (float(lab) if isinstance(lab, (int, float)) else None):
            return lab, "converted", f"{t!r} converted to {lab}"
    return None, "invalid", f"{t!r} is not an option of {q.id} ({_options_desc(q)}); set to missing"


_UNIT = {"h": 3600, "hr": 3600, "hrs": 3600, "hour": 3600, "hours": 3600, "小时": 3600, "时": 3600,
         "m": 60, "min": 60, "mins": 60, "minute": 60, "minutes": 60, "分钟": 60, "分": 60,
         "s": 1, "sec": 1, "secs": 1, "second": 1, "seconds": 1, "秒": 1, "秒钟": 1}
_DUR_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(小时|时|分钟|分|秒钟|秒|hours?|hrs?|h|minutes?|mins?|m|seconds?|secs?|s)(?![a-z])")


def parse_seconds(v: Any) -> float | None:
    """Seconds from ``253``, ``"253秒"``, ``"4分13秒"``, ``"00:04:13"``, ``"4m 13s"``.

    Parameters
    ----------
    v : object
        A number of seconds or a duration text.

    Returns
    -------
    float or None
        None when the value cannot be read as a non-negative duration.

    Examples
    --------
    >>> parse_seconds("4分13秒"), parse_seconds("00:04:13"), parse_seconds("4m 13s"), parse_seconds("soon")
    (253.0, 253.0, 253.0, None)
    """
    x = _as_number(v)
    if x is not None:
        return x if x >= 0 else None
    t = cell_text(v)
    if t is None:
        return None
    s = soft(t)
    if re.fullmatch(r"\d{1,3}(?::\d{1,2}){1,2}(?:\.\d+)?", s):
        parts = [float(p) for p in s.split(":")]
        if any(p >= 60 for p in parts[1:]):
            return None
        sec = 0.0
        for p in parts:
            sec = sec * 60 + p
        return sec
    pos, total, n = 0, 0.0, 0
    s2 = s.replace(" ", "")
    for m in _DUR_PART.finditer(s2):
        if m.start() != pos:
            return None
        total += float(m.group(1)) * _UNIT[m.group(2)]
        pos, n = m.end(), n + 1
    if n and pos == len(s2):
        return total
    return None


def code_column(values: pd.Series, coder) -> tuple[np.ndarray, np.ndarray, list[Any], list[Any]]:
    """Apply ``coder(cell) -> (value, status, note)`` to the distinct cells of a column.

    Returns (codes, uniques, per-unique results, per-unique cell text) where ``codes`` maps
    each row to its distinct value (-1 for NA).
    """
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    results = [coder(u) for u in uniques]
    texts = [cell_text(u) for u in uniques]
    return codes, uniques, results, texts


def normalize_ids(values: pd.Series) -> pd.Series:
    """Respondent ids as a user reads them: whole numbers as int64 when all are whole numbers
    written plainly (ASCII digits, no sign, no leading zero), otherwise trimmed text (``1.0``
    from Excel becomes ``1``; ``007`` stays ``007``, distinct from ``7``). Empty ids become None."""
    texts = [cell_text(v) for v in values]
    nonnull = [t for t in texts if t is not None]
    if nonnull and all(_INT_ID.fullmatch(t) for t in nonnull) and not any(_LEADING_ZERO.match(t) for t in nonnull):
        if len(nonnull) == len(texts):
            return pd.Series([int(t) for t in texts], index=values.index, name=values.name, dtype="int64")
        return pd.Series([int(t) if t is not None else None for t in texts], index=values.index,
                         name=values.name, dtype=object)
    return pd.Series(texts, index=values.index, name=values.name, dtype=object)


_INT_ID = re.compile(r"[+-]?[0-9]{1,18}")
_LEADING_ZERO = re.compile(r"[+-]|0[0-9]")  # "007" and "7", "+7" and "7" are different ids: keep them as text


def unique_ordered(xs: Iterable[Any]) -> list[Any]:
    seen, out = set(), []
    for x in xs:
        if x not in seen:
            seen.add(x)
            out.append(x)
    return out

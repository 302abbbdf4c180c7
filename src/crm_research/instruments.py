"""Survey instruments as data: load and validate instrument YAML, and derive from it a
codebook, a printable questionnaire (one or two languages) and lavaan model syntax.

Instrument YAML schema (keys marked * are required; every other key is an error, reported
with its key path and a did-you-mean suggestion)::

    id*: short identifier
    version: "1.0"
    languages: [zh, en]            # or [en] or [zh]; default both. Every text below is a
                                   # mapping with exactly these languages ({zh: ..., en: ...});
                                   # a one-language instrument may write plain text instead.
    title*: {zh: ..., en: ...}
    intro: {zh: ..., en: ...}
    source: free text (where the instrument comes from)
    context:                       # optional: the study the instrument comes from; generic code
      summary: {zh, en}            #   prints it only when present
      reference: "R1, chapter 7"
      background: {zh, en}         #   the study's story (hypotheses, constructs)
      reported: {zh, en}           #   what the source reports about its results
      notes: {zh, en}
    respondent_id: name of the respondent-id column (default "respondent_id")
    duration: {column: duration_sec, min_seconds: 120}   # optional speeder rule
    scales*:
      <scale id>:                  # 2 to 11 consecutive whole-number points
        points: 5                  #   number of points ...
        min: 1                     #   ... first point (default 1), or give min and max
        max: 5
        labels: {zh: [...], en: [...]}   # one label per point (null: no label), or
        anchors: {low: {zh, en}, high: {zh, en}, mid: {zh, en}}   # end points (and middle)
                                   #   only; neither: points are shown as numbers
    constructs*:                   # first-order constructs have items ...
      - id*: PF
        name*: {zh: ..., en: ...}
        scale*: <scale id>
        reliability: 0.8           # single-item constructs only (0 < r <= 1), see below
        items*:                    # one item or more
          - {id*: PF1, text*: {zh, en}, label: {zh, en}, reverse: false, aliases: [...],
             scale: <scale id>, anchors: {low: {zh, en}, high: {zh, en}}}  # semantic differential
      - id*: OPS                   # ... higher-order constructs have dimensions
        name*: {zh, en}
        dimensions*: [PF, SQ, LE, UI]
    attention_checks:
      - {id*, text*: {zh, en}, scale*, expected*: <scale point>, after: <item id>}
    demographics:
      - {id*, text*: {zh, en}, options*: [{value*, zh*, en*}],
         screening: {exclude: [values], reason: {zh, en}}}
    personal_data:
      - {id*, kind*: phone|email|name|address|ip|id_number|other, policy: drop|pseudonymize,
         text: {zh, en}}
    hypotheses:
      - {id*: H1, path*: "SAT ~ OPS", sign: positive|negative, text: {zh, en}}
    models:
      <name>: {title: {zh, en}, description: {zh, en}, hypotheses*: [H1, H2],
               indirect: {name, from*, via*, to*} or a list of them}

Single-item constructs are estimated as the literature does: ``F =~ x`` with the error
variance of ``x`` fixed, to 0 by default, or to ``(1 - r) * var(x)`` when the construct
declares ``reliability: r`` (see :func:`measurement_syntax`). Reverse coding is
``min + max - x`` on every scale.

Every validation error names the file, the key path (``constructs[3].items[1].text.en``)
and what was expected.
"""
from __future__ import annotations

import html
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

import yaml

from .errors import InstrumentError
from .reporting.format import html_table, markdown_table

__all__ = ["LANGS", "LANGUAGE_NAMES", "PII_KINDS", "PII_POLICIES", "Scale", "Item", "Construct", "AttentionCheck",
           "Question", "PersonalField", "Hypothesis", "StructuralModelSpec", "Context", "Instrument",
           "load_instrument", "instrument_from_dict", "codebook", "codebook_markdown", "write_codebook",
           "questionnaire_html", "single_item_error_variance", "measurement_syntax", "structural_syntax",
           "needs_data", "render_instrument"]
from .schema import check_keys, join_key, suggest

#: languages an instrument can be written in
LANGS = ("zh", "en")
LANGUAGE_NAMES = {"zh": "Chinese", "en": "English"}
PII_KINDS = ("phone", "email", "name", "address", "ip", "id_number", "other")
PII_POLICIES = ("drop", "pseudonymize")
MIN_POINTS, MAX_POINTS = 2, 11
_ID_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")

_TOP_KEYS = ("id", "version", "languages", "title", "intro", "source", "context", "respondent_id", "duration",
             "scales", "constructs", "attention_checks", "demographics", "personal_data", "hypotheses", "models")
_SCALE_KEYS = ("points", "min", "max", "labels", "anchors")
_ANCHOR_KEYS = ("low", "high", "mid")
_FIRST_ORDER_KEYS = ("id", "name", "scale", "items", "reliability")
_HIGHER_ORDER_KEYS = ("id", "name", "dimensions")
_ITEM_KEYS = ("id", "text", "label", "reverse", "aliases", "scale", "anchors")
_CHECK_KEYS = ("id", "text", "scale", "expected", "after")
_DEMOGRAPHIC_KEYS = ("id", "text", "options", "screening")
_SCREENING_KEYS = ("exclude", "reason")
_PII_KEYS = ("id", "kind", "policy", "text")
_HYPOTHESIS_KEYS = ("id", "path", "sign", "text")
_MODEL_KEYS = ("title", "description", "hypotheses", "indirect")
_INDIRECT_KEYS = ("name", "from", "via", "to")
_DURATION_KEYS = ("column", "min_seconds")
_CONTEXT_KEYS = ("summary", "reference", "background", "reported", "notes")


# --------------------------------------------------------------------------- data model
@dataclass(frozen=True)
class Scale:
    """A response scale: consecutive whole-number points, labelled or not.

    Attributes
    ----------
    id : str
    values : tuple of int
        The points, consecutive integers (``(1, 2, 3, 4, 5)``, ``(0, ..., 10)``, ``(-3, ..., 3)``).
    labels : dict
        ``{language: (label or None, ...)}``, one entry per point; ``None`` where a point has
        no label (end-point-labelled scales label only the first and last point).

    Examples
    --------
    >>> inst = load_instrument("surveys/ecommerce_crm.yaml")
    >>> s = inst.scales["agree5"]
    >>> s.range_text, s.label(4, "en"), s.reverse(2)
    ('1-5', 'Agree', 4)
    """

    id: str
    values: tuple[int, ...]
    labels: dict[str, tuple[str | None, ...]]

    @property
    def points(self) -> int:
        """Number of points."""
        return len(self.values)

    @property
    def min(self) -> int:
        return self.values[0]

    @property
    def max(self) -> int:
        return self.values[-1]

    @property
    def range_text(self) -> str:
        """``"1-5"``, ``"0-10"``; ``"-3 to 3"`` when the scale has negative points."""
        return f"{self.min}-{self.max}" if self.min >= 0 else f"{self.min} to {self.max}"

    @property
    def fully_labelled(self) -> bool:
        """True when every point has a label (in every language)."""
        return bool(self.labels) and all(x is not None for labs in self.labels.values() for x in labs)

    def label(self, value: int, lang: str) -> str | None:
        """The label of one point in one language (None when the point has none)."""
        labs = self.labels.get(lang)
        if labs is None or value not in self.values:
            return None
        return labs[value - self.min]

    def value_labels(self, lang: str) -> str:
        """``"1=Strongly disagree; ...; 5=Strongly agree"`` (labelled points only)."""
        return "; ".join(f"{v}={lab}" for v, lab in zip(self.values, self.labels.get(lang, ())) if lab is not None)

    def describe(self, langs: Iterable[str] | None = None) -> str:
        """Range and labels in one line: ``"agree5 1-5 (1=非常不同意/Strongly disagree; ...)"``."""
        langs = [lg for lg in (langs or self.labels) if lg in self.labels]
        parts = []
        for i, v in enumerate(self.values):
            labs = [self.labels[lg][i] for lg in langs if self.labels[lg][i] is not None]
            if labs:
                parts.append(f"{v}={'/'.join(labs)}")
        return f"{self.id} {self.range_text}" + (f" ({'; '.join(parts)})" if parts else "")

    def label_to_value(self) -> dict[str, int]:
        """Map every label (all languages, case/space-insensitive) to its scale point."""
        out: dict[str, int] = {}
        for labs in self.labels.values():
            for v, lab in zip(self.values, labs):
                if lab is not None:
                    out[_norm_text(lab)] = v
        return out

    def reverse(self, x: Any) -> Any:
        """Reverse-code ``x``: ``min + max - x`` (works on numbers and arrays)."""
        return self.min + self.max - x

    def with_anchors(self, anchors: Mapping[str, Mapping[str, str]]) -> "Scale":
        """This scale with end-point (and middle) labels replaced by item-level ``anchors``."""
        if not anchors:
            return self
        labels = {lg: list(labs) for lg, labs in self.labels.items()}
        for where, text in anchors.items():
            pos = _anchor_position(where, self.points)
            for lg, t in text.items():
                labels.setdefault(lg, [None] * self.points)[pos] = t
        return Scale(self.id, self.values, {lg: tuple(v) for lg, v in labels.items()})


def _anchor_position(where: str, points: int) -> int:
    return {"low": 0, "high": points - 1, "mid": (points - 1) // 2}[where]


@dataclass(frozen=True)
class Item:
    """One questionnaire item of a first-order construct.

    Attributes
    ----------
    id : str
        The variable name in the data.
    construct : str
        The construct it measures.
    text, label : dict
        ``{language: text}``: the question and a short label.
    scale : str
        Id of its response scale.
    reverse : bool
        Reverse-keyed (recoded ``min + max - x`` before analysis).
    aliases : tuple of str
        Other column names the item may have in a data file.
    anchors : dict
        Item-level end-point labels (semantic differential).

    Examples
    --------
    >>> inst = load_instrument("surveys/ecommerce_crm.yaml")
    >>> it = inst.item("PF1")
    >>> it.construct, it.scale, it.reverse, it.label["en"]
    ('PF', 'agree5', False, 'search convenience')
    """

    id: str
    construct: str
    text: dict[str, str]
    label: dict[str, str]
    scale: str
    reverse: bool = False
    aliases: tuple[str, ...] = ()
    anchors: dict[str, dict[str, str]] = field(default_factory=dict)


@dataclass(frozen=True)
class Construct:
    """A construct: first-order (``items``) or higher-order (``dimensions``).

    ``reliability`` is the stated reliability of a single-item construct (None: not stated,
    its error variance is fixed to 0).

    Attributes
    ----------
    id : str
    name : dict
        ``{language: name}``.
    items : tuple of Item
        First-order constructs: their items.
    dimensions : tuple of str
        Higher-order constructs: ids of their first-order dimensions.
    scale : str or None
        Id of the items' response scale.
    reliability : float or None
        Stated reliability of a single-item construct.

    Examples
    --------
    >>> inst = load_instrument("surveys/ecommerce_crm.yaml")
    >>> ops = inst.construct("OPS")
    >>> ops.is_higher_order, ops.dimensions, inst.items_of("PF")
    (True, ('PF', 'SQ', 'LE', 'UI'), ['PF1', 'PF2', 'PF3'])
    """

    id: str
    name: dict[str, str]
    items: tuple[Item, ...] = ()
    dimensions: tuple[str, ...] = ()
    scale: str | None = None
    reliability: float | None = None

    @property
    def is_higher_order(self) -> bool:
        return bool(self.dimensions)

    @property
    def is_single_item(self) -> bool:
        """True for a first-order construct measured by exactly one item."""
        return not self.dimensions and len(self.items) == 1


@dataclass(frozen=True)
class AttentionCheck:
    """An instructed-response item: respondents who do not choose ``expected`` failed it.

    Attributes
    ----------
    id : str
    text : dict
        ``{language: text}``.
    scale : str
        Id of its response scale.
    expected : int
        The scale point to choose.
    after : str or None
        The item it follows in the questionnaire.

    Examples
    --------
    >>> inst = load_instrument("surveys/ecommerce_crm.yaml")
    >>> ac = inst.attention_checks[0]
    >>> ac.id, ac.expected, ac.after
    ('AC1', 4, 'CM3')
    """

    id: str
    text: dict[str, str]
    scale: str
    expected: int
    after: str | None = None


@dataclass(frozen=True)
class Question:
    """A demographic or screening question with coded options.

    Each option is ``{"value": code, <language>: text, ...}`` for the instrument's languages.

    Attributes
    ----------
    id : str
    text : dict
        ``{language: question}``.
    options : tuple of dict
        The coded options.
    exclude : tuple
        Option values that screen a respondent out.
    exclude_reason : dict
        ``{language: reason}`` for the screening.

    Examples
    --------
    >>> inst = load_instrument("surveys/ecommerce_crm.yaml")
    >>> q = inst.demographics[0]
    >>> q.id, q.values
    ('gender', (1, 2, 3))
    """

    id: str
    text: dict[str, str]
    options: tuple[dict[str, Any], ...]
    exclude: tuple[Any, ...] = ()
    exclude_reason: dict[str, str] = field(default_factory=dict)

    @property
    def values(self) -> tuple[Any, ...]:
        return tuple(o["value"] for o in self.options)


@dataclass(frozen=True)
class PersonalField:
    """A column with personal data (removed or pseudonymized before analysis).

    Attributes
    ----------
    id : str
        The column.
    kind : str
        One of ``PII_KINDS`` (``phone``, ``email``, ...).
    policy : str
        ``drop`` or ``pseudonymize``.
    text : dict
        ``{language: question}``.

    Examples
    --------
    >>> inst = load_instrument("surveys/ecommerce_crm.yaml")
    >>> [(p.id, p.kind, p.policy) for p in inst.personal_data]
    [('phone', 'phone', 'pseudonymize'), ('email', 'email', 'pseudonymize')]
    """

    id: str
    kind: str
    policy: str
    text: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Hypothesis:
    """A directed hypothesis ``lhs ~ rhs`` (outcome on predictor) with its expected sign.

    Attributes
    ----------
    id : str
        E.g. ``H1``; its lower case (``h1``) labels the path in the syntax.
    lhs, rhs : str
        Outcome and predictor constructs.
    sign : str
        ``positive`` or ``negative``.
    text : dict
        ``{language: statement}``.

    Examples
    --------
    >>> inst = load_instrument("surveys/ecommerce_crm.yaml")
    >>> h = inst.hypothesis("H1")
    >>> h.path, h.label, h.sign
    ('SAT ~ OPS', 'h1', 'positive')
    """

    id: str
    lhs: str  # outcome
    rhs: str  # predictor
    sign: str = "positive"
    text: dict[str, str] = field(default_factory=dict)

    @property
    def path(self) -> str:
        return f"{self.lhs} ~ {self.rhs}"

    @property
    def label(self) -> str:
        return self.id.lower()


@dataclass(frozen=True)
class StructuralModelSpec:
    """A structural model the instrument declares (its ``models:`` entry).

    Attributes
    ----------
    name : str
    title, description : dict
        ``{language: text}``.
    hypotheses : tuple of str
        Hypothesis ids whose paths make the model.
    indirect : tuple of dict
        Declared indirect effects ``{name, from, via, to}``.

    Examples
    --------
    >>> inst = load_instrument("surveys/ecommerce_crm.yaml")
    >>> m = inst.models["ops"]
    >>> m.hypotheses, m.indirect[0]["via"]
    (('H1', 'H2'), 'SAT')
    """

    name: str
    title: dict[str, str]
    hypotheses: tuple[str, ...]
    indirect: tuple[dict[str, str], ...] = ()
    description: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Context:
    """Text about the study an instrument comes from (the optional ``context:`` block).

    Every field is optional; text fields are ``{language: text}`` for the instrument's
    languages (empty dict when not given).

    Attributes
    ----------
    summary, background, reported, notes : dict
        ``{language: text}``.
    reference : str
        The source (e.g. a book chapter).

    Examples
    --------
    >>> inst = load_instrument("surveys/ecommerce_crm.yaml")
    >>> inst.context.reference.startswith("R1")
    True
    """

    summary: dict[str, str] = field(default_factory=dict)
    reference: str = ""
    background: dict[str, str] = field(default_factory=dict)
    reported: dict[str, str] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Instrument:
    """A validated survey instrument. Build with :func:`load_instrument`.

    Attributes
    ----------
    id, version : str
    title, intro : dict
        ``{language: text}``.
    respondent_id : str
        The respondent-id column.
    duration_column : str or None
    min_seconds : float or None
        The speeder rule (answers faster than this are flagged).
    scales : dict of str -> Scale
    constructs : tuple of Construct
    attention_checks : tuple of AttentionCheck
    demographics : tuple of Question
    personal_data : tuple of PersonalField
    hypotheses : tuple of Hypothesis
    models : dict of str -> StructuralModelSpec
    source : str
    path : str or None
        The YAML file it was read from.
    languages : tuple of str
    context : Context or None

    Examples
    --------
    >>> inst = load_instrument("surveys/ecommerce_crm.yaml")
    >>> inst
    Instrument('ecommerce_crm', 11 constructs, 27 items, 1 attention checks, 5 demographics, 2 personal fields)
    >>> [c.id for c in inst.higher_order], list(inst.models)
    (['OPS', 'CRM'], ['ops', 'crm', 'combined'])
    """

    id: str
    version: str
    title: dict[str, str]
    intro: dict[str, str]
    respondent_id: str
    duration_column: str | None
    min_seconds: float | None
    scales: dict[str, Scale]
    constructs: tuple[Construct, ...]
    attention_checks: tuple[AttentionCheck, ...]
    demographics: tuple[Question, ...]
    personal_data: tuple[PersonalField, ...]
    hypotheses: tuple[Hypothesis, ...]
    models: dict[str, StructuralModelSpec]
    source: str = ""
    path: str | None = None
    languages: tuple[str, ...] = LANGS
    context: Context | None = None

    # ---- lookups
    @property
    def items(self) -> tuple[Item, ...]:
        return tuple(it for c in self.constructs for it in c.items)

    @property
    def item_ids(self) -> list[str]:
        return [it.id for it in self.items]

    @property
    def first_order(self) -> tuple[Construct, ...]:
        return tuple(c for c in self.constructs if not c.is_higher_order)

    @property
    def higher_order(self) -> tuple[Construct, ...]:
        return tuple(c for c in self.constructs if c.is_higher_order)

    @property
    def single_item(self) -> tuple[Construct, ...]:
        """First-order constructs measured by one item."""
        return tuple(c for c in self.constructs if c.is_single_item)

    def construct(self, cid: str) -> Construct:
        for c in self.constructs:
            if c.id == cid:
                return c
        raise KeyError(f"instrument {self.id!r} has no construct {cid!r}; "
                       f"known: {', '.join(c.id for c in self.constructs)}")

    def item(self, iid: str) -> Item:
        for it in self.items:
            if it.id == iid:
                return it
        raise KeyError(f"instrument {self.id!r} has no item {iid!r}")

    def items_of(self, cid: str) -> list[str]:
        """Item ids measuring construct ``cid`` (for higher-order: all items of its dimensions)."""
        c = self.construct(cid)
        if c.is_higher_order:
            return [i for d in c.dimensions for i in self.items_of(d)]
        return [it.id for it in c.items]

    def scale_of(self, item_id: str) -> Scale:
        """The scale of an item or attention check, with the item's own ``anchors`` (if any)
        as its end-point labels."""
        for it in self.items:
            if it.id == item_id:
                return self.scales[it.scale].with_anchors(it.anchors)
        for ac in self.attention_checks:
            if ac.id == item_id:
                return self.scales[ac.scale]
        raise KeyError(item_id)

    @property
    def reverse_items(self) -> list[str]:
        return [it.id for it in self.items if it.reverse]

    @property
    def pii_columns(self) -> list[str]:
        return [p.id for p in self.personal_data]

    def hypothesis(self, hid: str) -> Hypothesis:
        for h in self.hypotheses:
            if h.id == hid:
                return h
        raise KeyError(f"instrument {self.id!r} has no hypothesis {hid!r}")

    def text_in(self, text: Mapping[str, str] | None, lang: str | None = None) -> str:
        """One text of the instrument in ``lang``, or in its first language when it has no
        ``lang`` (``""`` for an empty text).

        Examples
        --------
        >>> inst = load_instrument("surveys/ecommerce_crm.yaml")
        >>> inst.text_in(inst.construct("SAT").name, "en")
        'Customer satisfaction'
        """
        if not text:
            return ""
        if lang is not None and text.get(lang):
            return text[lang]
        for lg in self.languages:
            if text.get(lg):
                return text[lg]
        return next(iter(text.values()))

    def __repr__(self) -> str:
        return (f"Instrument({self.id!r}, {len(self.constructs)} constructs, "
                f"{len(self.items)} items, {len(self.attention_checks)} attention checks, "
                f"{len(self.demographics)} demographics, {len(self.personal_data)} personal fields)")

    def _repr_html_(self) -> str:
        return html_table(codebook(self))


# --------------------------------------------------------------------------- loading
def load_instrument(path: str | Path) -> Instrument:
    """Load and validate an instrument YAML file.

    Parameters
    ----------
    path : str or Path
        The YAML file, e.g. ``surveys/ecommerce_crm.yaml``.

    Returns
    -------
    Instrument

    Raises
    ------
    InstrumentError
        Naming the file, the key path and what was expected (unknown keys with a
        did-you-mean suggestion).

    Examples
    --------
    >>> inst = load_instrument("surveys/ecommerce_crm.yaml")
    >>> len(inst.items), inst.languages
    (27, ('zh', 'en'))
    """
    path = Path(path)
    if not path.exists():
        raise InstrumentError(str(path), "", "file not found",
                              hint="pass the path of an instrument YAML, e.g. surveys/ecommerce_crm.yaml")
    if path.is_dir():
        raise InstrumentError(str(path), "", "is a folder, expected an instrument YAML file")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as e:
        raise InstrumentError(str(path), "", f"not UTF-8 text ({e.reason})", hint="save the YAML as UTF-8") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise InstrumentError(str(path), where, f"invalid YAML: {getattr(e, 'problem', e)}") from None
    return instrument_from_dict(raw, source=str(path))


def instrument_from_dict(raw: Any, source: str = "<dict>") -> Instrument:
    """Validate a parsed instrument mapping (see module docstring) and build an Instrument.

    Parameters
    ----------
    raw : mapping
        The parsed YAML (see the module docstring for the schema).
    source : str
        Name of the source in error messages (the file).

    Returns
    -------
    Instrument

    Raises
    ------
    InstrumentError
        Naming ``source``, the key path and what was expected.

    Examples
    --------
    >>> inst = instrument_from_dict({
    ...     "id": "mini", "languages": ["en"], "title": "Mini survey",
    ...     "scales": {"nps": {"min": 0, "max": 10, "anchors": {"low": "Not at all likely",
    ...                                                        "high": "Extremely likely"}}},
    ...     "constructs": [{"id": "REC", "name": "Recommendation", "scale": "nps",
    ...                     "items": [{"id": "REC1", "text": "Would you recommend us?"}]}]})
    >>> inst.scales["nps"].range_text, inst.construct("REC").is_single_item
    ('0-10', True)
    """
    v = _Validator(source)
    v.mapping(raw, "")
    check_keys(raw, _TOP_KEYS, "", v.fail)
    v.langs = _languages(raw.get("languages"), v)
    iid = v.ident(raw, "id", "")
    title = v.text(raw, "title", "")
    intro = v.text(raw, "intro", "", required=False)
    context = _context(raw.get("context"), v)

    scales: dict[str, Scale] = {}
    sraw = v.req(raw, "scales", "", dict)
    if not sraw:
        v.fail("scales", "at least one response scale is required")
    for sid, s in sraw.items():
        if not isinstance(sid, str) or not _ID_RE.match(sid):
            v.fail(f"scales.{sid}", f"{sid!r} is not a valid scale id (letters, digits, underscore; "
                                    f"starting with a letter)")
        scales[sid] = _scale(sid, s, v)

    constructs: list[Construct] = []
    seen_ids: dict[str, str] = {}
    craw = v.req(raw, "constructs", "", list)
    if not craw:
        v.fail("constructs", "at least one construct is required")
    for ci, c in enumerate(craw):
        k = f"constructs[{ci}]"
        v.mapping(c, k)
        has_items, has_dims = "items" in c, "dimensions" in c
        if has_items and has_dims:
            v.fail(k, f"construct {c.get('id')!r} needs exactly one of 'items' (first-order) or 'dimensions' "
                      f"(higher-order), not both")
        check_keys(c, _HIGHER_ORDER_KEYS if has_dims else _FIRST_ORDER_KEYS, k, v.fail)
        cid = v.ident(c, "id", k)
        v.unique(seen_ids, cid, f"{k}.id")
        name = v.text(c, "name", k)
        if not has_items and not has_dims:
            v.fail(k, f"construct {cid!r} needs exactly one of 'items' (first-order) or 'dimensions' (higher-order)")
        if has_dims:
            dims = v.req(c, "dimensions", k, list)
            if len(dims) < 2:
                v.fail(f"{k}.dimensions", "a higher-order construct needs at least 2 dimensions")
            constructs.append(Construct(cid, name, dimensions=tuple(str(d) for d in dims)))
            continue
        sc = v.req(c, "scale", k, str)
        if sc not in scales:
            v.fail(f"{k}.scale", _unknown_ref("scale", sc, scales))
        items = []
        iraw = v.req(c, "items", k, list)
        if not iraw:
            v.fail(f"{k}.items", f"construct {cid!r} needs at least 1 item")
        for ii, it in enumerate(iraw):
            ik = f"{k}.items[{ii}]"
            v.mapping(it, ik)
            check_keys(it, _ITEM_KEYS, ik, v.fail)
            item_id = v.ident(it, "id", ik)
            v.unique(seen_ids, item_id, f"{ik}.id")
            text = v.text(it, "text", ik)
            label = v.text(it, "label", ik, required=False) or dict(text)
            rev = it.get("reverse", False)
            if not isinstance(rev, bool):
                v.fail(f"{ik}.reverse", f"must be true or false, got {rev!r}")
            aliases = it.get("aliases", []) or []
            if not isinstance(aliases, list):
                v.fail(f"{ik}.aliases", "must be a list of strings")
            isc = it.get("scale", sc)
            if isc not in scales:
                v.fail(f"{ik}.scale", _unknown_ref("scale", isc, scales))
            anchors = _anchors(it.get("anchors"), f"{ik}.anchors", scales[isc].points, v) if "anchors" in it else {}
            items.append(Item(item_id, cid, text, label, isc, rev, tuple(str(a) for a in aliases), anchors))
        rel = None
        if c.get("reliability") is not None:
            rel = c["reliability"]
            if isinstance(rel, bool) or not isinstance(rel, (int, float)) or not 0 < rel <= 1:
                v.fail(f"{k}.reliability", f"must be a number with 0 < reliability <= 1, got {rel!r}")
            if len(items) != 1:
                v.fail(f"{k}.reliability", f"only single-item constructs take a reliability; {cid!r} has "
                                           f"{len(items)} items (their error variances are estimated)")
            rel = float(rel)
        constructs.append(Construct(cid, name, items=tuple(items), scale=sc, reliability=rel))

    by_id = {c.id: c for c in constructs}
    for ci, c in enumerate(constructs):
        for di, d in enumerate(c.dimensions):
            if d not in by_id:
                v.fail(f"constructs[{ci}].dimensions[{di}]", _unknown_ref("construct", d, by_id))
            if d == c.id:
                v.fail(f"constructs[{ci}].dimensions[{di}]", "a construct cannot be its own dimension")
    _check_acyclic(constructs, v)

    item_ids = [it.id for c in constructs for it in c.items]
    checks = []
    for ai, a in enumerate(v.list_of(raw, "attention_checks")):
        k = f"attention_checks[{ai}]"
        v.mapping(a, k)
        check_keys(a, _CHECK_KEYS, k, v.fail)
        aid = v.ident(a, "id", k)
        v.unique(seen_ids, aid, f"{k}.id")
        sc = v.req(a, "scale", k, str)
        if sc not in scales:
            v.fail(f"{k}.scale", _unknown_ref("scale", sc, scales))
        exp = v.req(a, "expected", k, int)
        if exp not in scales[sc].values:
            v.fail(f"{k}.expected", f"must be a point of scale {sc!r} ({scales[sc].range_text}), got {exp!r}")
        after = a.get("after")
        if after is not None and after not in item_ids:
            v.fail(f"{k}.after", _unknown_ref("item", after, item_ids))
        checks.append(AttentionCheck(aid, v.text(a, "text", k), sc, exp, after))

    demos = []
    for di, q in enumerate(v.list_of(raw, "demographics")):
        k = f"demographics[{di}]"
        v.mapping(q, k)
        check_keys(q, _DEMOGRAPHIC_KEYS, k, v.fail)
        qid = v.ident(q, "id", k)
        v.unique(seen_ids, qid, f"{k}.id")
        qtext = v.text(q, "text", k)
        opts = v.req(q, "options", k, list)
        if not opts:
            v.fail(f"{k}.options", "at least one option is required")
        clean = []
        for oi, o in enumerate(opts):
            ok = f"{k}.options[{oi}]"
            v.mapping(o, ok)
            check_keys(o, ("value", *v.langs), ok, v.fail)
            if "value" not in o:
                v.fail(ok, "missing key 'value'")
            opt = {"value": o["value"]}
            for lang in v.langs:
                t = o.get(lang)
                if not isinstance(t, (str, int, float)) or isinstance(t, bool) or not str(t).strip():
                    v.fail(f"{ok}.{lang}", f"missing option text ({LANGUAGE_NAMES[lang]})")
                opt[lang] = str(t).strip()
            clean.append(opt)
        scr = q.get("screening") or {}
        v.mapping(scr, f"{k}.screening")
        check_keys(scr, _SCREENING_KEYS, f"{k}.screening", v.fail)
        excl = scr.get("exclude", []) or []
        if not isinstance(excl, list):
            v.fail(f"{k}.screening.exclude", "must be a list of option values")
        for ei, e in enumerate(excl):
            if not any(_same_value(e, x["value"]) for x in clean):
                v.fail(f"{k}.screening.exclude[{ei}]", f"{e!r} is not an option value of {qid} "
                                                       f"({', '.join(str(x['value']) for x in clean)})")
        demos.append(Question(qid, qtext, tuple(clean), tuple(excl),
                              v.text(scr, "reason", f"{k}.screening", required=False)))

    pii = []
    for pi, p in enumerate(v.list_of(raw, "personal_data")):
        k = f"personal_data[{pi}]"
        v.mapping(p, k)
        check_keys(p, _PII_KEYS, k, v.fail)
        pid = v.ident(p, "id", k)
        v.unique(seen_ids, pid, f"{k}.id")
        kind = v.req(p, "kind", k, str)
        if kind not in PII_KINDS:
            v.fail(f"{k}.kind", f"must be one of {', '.join(PII_KINDS)}, got {kind!r}")
        pol = p.get("policy", "drop")
        if pol not in PII_POLICIES:
            v.fail(f"{k}.policy", f"must be 'drop' or 'pseudonymize', got {pol!r}")
        pii.append(PersonalField(pid, kind, pol, v.text(p, "text", k, required=False)))

    hyps: list[Hypothesis] = []
    latent_ids = list(by_id)
    for hi, h in enumerate(v.list_of(raw, "hypotheses")):
        k = f"hypotheses[{hi}]"
        v.mapping(h, k)
        check_keys(h, _HYPOTHESIS_KEYS, k, v.fail)
        hid = v.ident(h, "id", k)
        path = v.req(h, "path", k, str)
        m = re.fullmatch(r"\s*([A-Za-z]\w*)\s*~\s*([A-Za-z]\w*)\s*", path)
        if not m:
            v.fail(f"{k}.path", f"expected 'OUTCOME ~ PREDICTOR' (e.g. 'SAT ~ OPS'), got {path!r}")
        for name in m.groups():
            if name not in by_id:
                v.fail(f"{k}.path", f"unknown construct {name!r} in {path!r}"
                                    + _did_you_mean(name, latent_ids))
        if m.group(1) == m.group(2):
            v.fail(f"{k}.path", f"a construct cannot predict itself: {path!r}")
        sign = h.get("sign", "positive")
        if sign not in ("positive", "negative"):
            v.fail(f"{k}.sign", f"must be 'positive' or 'negative', got {sign!r}")
        if any(x.id == hid for x in hyps):
            v.fail(f"{k}.id", f"duplicate hypothesis id {hid!r}")
        hyps.append(Hypothesis(hid, m.group(1), m.group(2), sign, v.text(h, "text", k, required=False)))

    models = {}
    mraw = raw.get("models", {}) or {}
    v.mapping(mraw, "models")
    hyp_ids = [h.id for h in hyps]
    for name, mdef in mraw.items():
        k = f"models.{name}"
        if not isinstance(name, str) or not _ID_RE.match(name):
            v.fail(k, f"{name!r} is not a valid model name (letters, digits, underscore; starting with a letter)")
        if name == "measurement":
            v.fail(k, "'measurement' is reserved for the measurement model (CFA); choose another name")
        v.mapping(mdef, k)
        check_keys(mdef, _MODEL_KEYS, k, v.fail)
        hl = v.req(mdef, "hypotheses", k, list)
        if not hl:
            v.fail(f"{k}.hypotheses", "a model needs at least one hypothesis")
        for j, hid in enumerate(hl):
            if hid not in hyp_ids:
                v.fail(f"{k}.hypotheses[{j}]", f"unknown hypothesis {hid!r}" + _did_you_mean(hid, hyp_ids))
        ind = mdef.get("indirect") or []
        ind = [ind] if isinstance(ind, dict) else ind
        if not isinstance(ind, list):
            v.fail(f"{k}.indirect", "must be a mapping {name, from, via, to} or a list of them")
        for j, one in enumerate(ind):
            jk = f"{k}.indirect[{j}]" if isinstance(mdef.get("indirect"), list) else f"{k}.indirect"
            v.mapping(one, jk)
            check_keys(one, _INDIRECT_KEYS, jk, v.fail)
            for key in ("from", "via", "to"):
                if one.get(key) not in by_id:
                    v.fail(f"{jk}.{key}", f"must name a construct, got {one.get(key)!r}"
                                          + _did_you_mean(one.get(key), latent_ids))
            if "name" in one and (not isinstance(one["name"], str) or not _ID_RE.match(one["name"])):
                v.fail(f"{jk}.name", f"{one['name']!r} is not a valid parameter name")
        models[name] = StructuralModelSpec(name, v.text(mdef, "title", k, required=False), tuple(hl),
                                           tuple(dict(x) for x in ind),
                                           v.text(mdef, "description", k, required=False))

    dur = raw.get("duration") or {}
    if dur and not isinstance(dur, dict):
        v.fail("duration", "must be a mapping {column: ..., min_seconds: ...}")
    check_keys(dur, _DURATION_KEYS, "duration", v.fail)
    if dur.get("column") is not None and not isinstance(dur["column"], str):
        v.fail("duration.column", f"must be a column name, got {dur['column']!r}")
    ms = dur.get("min_seconds")
    if ms is not None and (isinstance(ms, bool) or not isinstance(ms, (int, float)) or ms < 0):
        v.fail("duration.min_seconds", f"must be a number of seconds >= 0, got {ms!r}")
    rid = raw.get("respondent_id", "respondent_id")
    if not isinstance(rid, str) or not rid:
        v.fail("respondent_id", "must be a column name")
    return Instrument(
        id=iid, version=str(raw.get("version", "1.0")), title=title, intro=intro or {},
        respondent_id=rid, duration_column=dur.get("column"),
        min_seconds=float(ms) if ms is not None else None,
        scales=scales, constructs=tuple(constructs), attention_checks=tuple(checks),
        demographics=tuple(demos), personal_data=tuple(pii), hypotheses=tuple(hyps),
        models=models, source=str(raw.get("source", "") or ""), path=source,
        languages=v.langs, context=context,
    )


def _languages(raw: Any, v: "_Validator") -> tuple[str, ...]:
    if raw is None:
        return LANGS
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, list) or not raw:
        v.fail("languages", f"expected a list of languages ({', '.join(LANGS)}), e.g. [en], got {raw!r}")
    out = []
    for i, lg in enumerate(raw):
        if lg not in LANGS:
            v.fail(f"languages[{i}]", f"unsupported language {lg!r}; supported: {', '.join(LANGS)}"
                                      + _did_you_mean(lg, LANGS))
        if lg in out:
            v.fail(f"languages[{i}]", f"{lg!r} is listed twice")
        out.append(lg)
    return tuple(out)


def _context(raw: Any, v: "_Validator") -> Context | None:
    if raw is None:
        return None
    v.mapping(raw, "context")
    check_keys(raw, _CONTEXT_KEYS, "context", v.fail)
    if not raw:
        v.fail("context", f"empty; give any of {', '.join(_CONTEXT_KEYS)} or remove the block")
    ref = raw.get("reference", "") or ""
    if not isinstance(ref, str):
        v.fail("context.reference", f"expected text, got {ref!r}")
    return Context(summary=v.text(raw, "summary", "context", required=False), reference=ref.strip(),
                   background=v.text(raw, "background", "context", required=False),
                   reported=v.text(raw, "reported", "context", required=False),
                   notes=v.text(raw, "notes", "context", required=False))


def _scale(sid: str, s: Any, v: "_Validator") -> Scale:
    k = f"scales.{sid}"
    v.mapping(s, k)
    check_keys(s, _SCALE_KEYS, k, v.fail)
    for key in ("points", "min", "max"):
        if key in s:
            v.req(s, key, k, int)
    pts, lo, hi = s.get("points"), s.get("min"), s.get("max")
    if pts is None and hi is None:
        v.fail(k, "give 'points' (with 'min' when the first point is not 1) or 'min' and 'max'")
    if pts is None:
        lo = 1 if lo is None else lo
        pts = hi - lo + 1
        if pts < MIN_POINTS:
            v.fail(f"{k}.max", f"max ({hi}) must be at least min + 1 ({lo + 1})")
    else:
        lo = (1 if hi is None else hi - pts + 1) if lo is None else lo
    if not MIN_POINTS <= pts <= MAX_POINTS:
        v.fail(f"{k}.points", f"must be between {MIN_POINTS} and {MAX_POINTS} points, got {pts!r}")
    if hi is not None and hi != lo + pts - 1:
        v.fail(f"{k}.max", f"{pts} points from {lo} end at {lo + pts - 1}, not {hi}; "
                           f"give points or max, or make them agree")
    values = tuple(range(lo, lo + pts))
    if "labels" in s and "anchors" in s:
        v.fail(k, "give either 'labels' (one per point) or 'anchors' (end points), not both")
    labels: dict[str, tuple[str | None, ...]] = {lg: (None,) * pts for lg in v.langs}
    if "labels" in s:
        labs = v.req(s, "labels", k, dict)
        check_keys(labs, v.langs, f"{k}.labels", v.lang_fail, what="language")
        for lang in v.langs:
            ll = v.req(labs, lang, f"{k}.labels", list)
            if len(ll) != pts:
                v.fail(f"{k}.labels.{lang}", f"needs {pts} labels (one per point {values[0]}..{values[-1]}; "
                                             f"null for a point without label), got {len(ll)}")
            out = []
            for i, x in enumerate(ll):
                if x is not None and (isinstance(x, (dict, list, bool)) or not str(x).strip()):
                    v.fail(f"{k}.labels.{lang}[{i}]", f"expected a label or null, got {x!r}")
                out.append(None if x is None else str(x).strip())
            labels[lang] = tuple(out)
        if all(x is None for labs_ in labels.values() for x in labs_):
            v.fail(f"{k}.labels", "every label is null; leave 'labels' out for a scale shown as numbers")
    elif "anchors" in s:
        for where, text in _anchors(s["anchors"], f"{k}.anchors", pts, v).items():
            pos = _anchor_position(where, pts)
            for lang in v.langs:
                labs_ = list(labels[lang])
                labs_[pos] = text[lang]
                labels[lang] = tuple(labs_)
    for lang, labs_ in labels.items():
        seen: dict[str, int] = {}
        for val, lab in zip(values, labs_):
            if lab is None:
                continue
            key = _norm_text(lab)
            if key in seen:
                v.fail(f"{k}.labels.{lang}", f"label {lab!r} is used for points {seen[key]} and {val}")
            seen[key] = val
    return Scale(sid, values, labels)


def _anchors(raw: Any, key: str, points: int, v: "_Validator") -> dict[str, dict[str, str]]:
    v.mapping(raw, key)
    check_keys(raw, _ANCHOR_KEYS, key, v.fail)
    if "low" not in raw or "high" not in raw:
        v.fail(key, "anchors need both 'low' (first point) and 'high' (last point)")
    if "mid" in raw and points % 2 == 0:
        v.fail(f"{key}.mid", f"a {points}-point scale has no middle point; leave 'mid' out")
    return {w: v.text(raw, w, key) for w in _ANCHOR_KEYS if w in raw}


def _same_value(a: Any, b: Any) -> bool:
    try:
        return float(a) == float(b)
    except (TypeError, ValueError):
        return str(a) == str(b)


def _did_you_mean(word: Any, options: Iterable[Any]) -> str:
    near = suggest(word, options) if isinstance(word, str) else None
    return f"; did you mean {near!r}?" if near else ""


def _unknown_ref(what: str, name: Any, known: Iterable[Any]) -> str:
    known = list(known)
    near = _did_you_mean(name, known)
    return f"unknown {what} {name!r}" + (near or f"; declared: {', '.join(map(str, known))}")


class _Validator:
    def __init__(self, file: str):
        self.file = file
        self.langs: tuple[str, ...] = LANGS

    def fail(self, key: str, problem: str) -> None:
        raise InstrumentError(self.file, key, problem)

    def lang_fail(self, key: str, problem: str) -> None:
        lang = key.rsplit(".", 1)[-1]
        if lang in LANGS:  # a supported language the instrument does not declare
            raise InstrumentError(self.file, key, f"text in {lang!r}, but the instrument's languages are "
                                                  f"[{', '.join(self.langs)}]",
                                  hint=f"add {lang} to 'languages:' or remove this text")
        raise InstrumentError(self.file, key, problem)

    def mapping(self, obj: Any, key: str) -> None:
        if not isinstance(obj, dict):
            self.fail(key or "(top level)", f"expected a mapping (key: value), got {type(obj).__name__}")

    def list_of(self, obj: dict, name: str) -> list:
        val = obj.get(name) or []
        if not isinstance(val, list):
            self.fail(name, f"expected a list, got {type(val).__name__}")
        return val

    def req(self, obj: dict, name: str, key: str, typ: type) -> Any:
        k = join_key(key, name)
        if name not in obj or obj[name] is None:
            self.fail(k, "required key is missing")
        val = obj[name]
        if typ is int and isinstance(val, bool):
            self.fail(k, f"expected an integer, got {val!r}")
        if not isinstance(val, typ):
            self.fail(k, f"expected {_TYPE_NAMES.get(typ, typ.__name__)}, got {type(val).__name__} {val!r}")
        return val

    def ident(self, obj: dict, name: str, key: str) -> str:
        val = self.req(obj, name, key, str)
        if not _ID_RE.match(val):
            self.fail(join_key(key, name),
                      f"{val!r} is not a valid id (letters, digits, underscore; starting with a letter)")
        return val

    def _lang_desc(self) -> str:
        return " and ".join(repr(lg) for lg in self.langs)

    def text(self, obj: dict, name: str, key: str, required: bool = True) -> dict[str, str]:
        """A text in the instrument's languages: ``{zh: ..., en: ...}``; plain text is accepted
        when the instrument has one language."""
        k = join_key(key, name)
        if name not in obj or obj[name] is None:
            if required:
                self.fail(k, f"required key is missing (a mapping with {self._lang_desc()} text)")
            return {}
        val = obj[name]
        if isinstance(val, (str, int, float)) and not isinstance(val, bool) and len(self.langs) == 1:
            if not str(val).strip():
                self.fail(k, f"missing {LANGUAGE_NAMES[self.langs[0]]} text")
            return {self.langs[0]: str(val).strip()}
        if not isinstance(val, dict):
            self.fail(k, f"expected a mapping with {self._lang_desc()} text, got {type(val).__name__}")
        check_keys(val, self.langs, k, self.lang_fail, what="language")
        for lang in self.langs:
            t = val.get(lang)
            if not isinstance(t, (str, int, float)) or isinstance(t, bool) or not str(t).strip():
                self.fail(f"{k}.{lang}", f"missing {LANGUAGE_NAMES[lang]} text")
        return {lang: str(val[lang]).strip() for lang in self.langs}

    def unique(self, seen: dict[str, str], ident: str, key: str) -> None:
        if ident in seen:
            self.fail(key, f"id {ident!r} already used at {seen[ident]}")
        seen[ident] = key


_TYPE_NAMES = {int: "an integer", str: "text", list: "a list", dict: "a mapping"}


def _check_acyclic(constructs: list[Construct], v: _Validator) -> None:
    by_id = {c.id: c for c in constructs}

    def visit(cid: str, stack: tuple[str, ...]) -> None:
        if cid in stack:
            v.fail("constructs", f"higher-order structure has a cycle: {' -> '.join(stack + (cid,))}")
        for d in by_id[cid].dimensions:
            visit(d, stack + (cid,))

    for c in constructs:
        visit(c.id, ())


def _norm_text(s: str) -> str:
    return re.sub(r"\s+", "", str(s)).casefold()


# --------------------------------------------------------------------------- codebook
def codebook(inst: Instrument, lang: str | None = None) -> "pd.DataFrame":
    """One row per variable: items, attention checks, demographics, personal fields.

    Columns: ``variable, role, construct, dimension_of, label_<lang>, text_<lang>, scale,
    values, value_labels_<lang>, reverse, reliability, expected, pii`` with one
    ``label_/text_/value_labels_`` column per language of the instrument (or only ``lang``).
    ``values`` is the scale's range (``1-5``, ``0-10``); value labels list the labelled
    points only (``0=Not at all likely; 10=Extremely likely``); ``reliability`` is the
    stated reliability of a single-item construct's item.

    Parameters
    ----------
    inst : Instrument
    lang : str, optional
        One language only (default: every language of the instrument).

    Returns
    -------
    DataFrame

    Examples
    --------
    >>> inst = load_instrument("surveys/ecommerce_crm.yaml")
    >>> codebook(inst, "en").query("role == 'item'")[["variable", "construct", "values"]].head(2)
      variable construct values
    0      PF1        PF    1-5
    1      PF2        PF    1-5
    """
    import pandas as pd

    langs = _langs_for(inst, lang)
    parent = {d: c.id for c in inst.higher_order for d in c.dimensions}
    rel = {c.items[0].id: c.reliability for c in inst.single_item if c.reliability is not None}
    rows = []

    def row(variable, role, texts, labels, scale, values, value_labels, **kw):
        r = dict(variable=variable, role=role, construct=kw.get("construct", ""),
                 dimension_of=kw.get("dimension_of", ""))
        for lg in langs:
            r[f"label_{lg}"] = labels.get(lg, "")
        for lg in langs:
            r[f"text_{lg}"] = texts.get(lg, "")
        r.update(scale=scale, values=values)
        for lg in langs:
            r[f"value_labels_{lg}"] = value_labels.get(lg, "")
        r.update(reverse=kw.get("reverse", False), reliability=kw.get("reliability", ""),
                 expected=kw.get("expected", ""), pii=kw.get("pii", ""))
        rows.append(r)

    for it in inst.items:
        sc = inst.scale_of(it.id)
        row(it.id, "item", it.text, it.label, sc.id, sc.range_text, {lg: sc.value_labels(lg) for lg in langs},
            construct=it.construct, dimension_of=parent.get(it.construct, ""), reverse=it.reverse,
            reliability=rel.get(it.id, ""))
    check_word = {"zh": "注意力检测", "en": "attention check"}
    for ac in inst.attention_checks:
        sc = inst.scales[ac.scale]
        row(ac.id, "attention_check", ac.text, check_word, sc.id, sc.range_text,
            {lg: sc.value_labels(lg) for lg in langs}, expected=str(ac.expected))
    for q in inst.demographics:
        row(q.id, "demographic", q.text, q.text, "categorical", ", ".join(str(o["value"]) for o in q.options),
            {lg: "; ".join(f"{o['value']}={o[lg]}" for o in q.options) for lg in langs})
    for p in inst.personal_data:
        row(p.id, "personal_data", p.text, {lg: p.text.get(lg, p.id) for lg in langs}, "text", "", {},
            pii=f"{p.kind} ({p.policy})")
    return pd.DataFrame(rows)


def _langs_for(inst: Instrument, lang: str | None) -> tuple[str, ...]:
    if lang is None or lang == "both":
        return inst.languages
    if lang not in inst.languages:
        raise ValueError(f"lang must be one of {', '.join(inst.languages)} (the languages of instrument "
                         f"{inst.id!r}) or 'both', got {lang!r}")
    return (lang,)


def codebook_markdown(inst: Instrument) -> str:
    """The codebook as a Markdown document (one table per section), in the instrument's languages.

    Parameters
    ----------
    inst : Instrument

    Returns
    -------
    str
        Markdown: a title, one table per role (items, attention checks, demographics,
        personal data), then the response scales.

    Examples
    --------
    >>> md = codebook_markdown(load_instrument("tests/reference/lavaan/hs_abilities.yaml"))
    >>> print("\\n".join(md.splitlines()[:1] + [line for line in md.splitlines() if line.startswith("| x7")]))
    # Codebook: Mental ability tests (Holzinger & Swineford 1939)
    | x7 | SPD | Speeded addition | Speeded addition | 0-9 |
    """
    cb = codebook(inst)
    langs = inst.languages
    first = langs[-1] if "en" in langs else langs[0]   # English first when present
    out = [f"# Codebook: {inst.title[first]}", ""]
    for lg in langs:
        if lg != first:
            out += [inst.title[lg], ""]
    out += [f"Instrument `{inst.id}` version {inst.version}." + (f" {inst.source}" if inst.source else ""), ""]
    if inst.context is not None and inst.context.reference:
        out += [f"Source study: {inst.context.reference}", ""]

    def names(c: Construct) -> str:
        return " / ".join(dict.fromkeys(c.name[lg] for lg in (first, *langs)))

    for c in inst.higher_order:
        out.append(f"- **{c.id}** ({names(c)}) is a higher-order construct over {', '.join(c.dimensions)}.")
    for c in inst.single_item:
        rel = (f"; stated reliability {c.reliability:g}: error variance fixed at (1 - {c.reliability:g}) x var"
               f"({c.items[0].id})" if c.reliability is not None else "; error variance fixed at 0")
        out.append(f"- **{c.id}** ({names(c)}) is a single-item construct (item {c.items[0].id}{rel}).")
    out.append("")
    text_cols = [f"text_{lg}" for lg in langs]
    for role, title in [("item", "Items"), ("attention_check", "Attention checks"),
                        ("demographic", "Demographics"), ("personal_data", "Personal data (removed before analysis)")]:
        part = cb[cb.role == role]
        if part.empty:
            continue
        out += [f"## {title}", ""]
        cols = ["variable", "construct", f"label_{first}", *text_cols, "values", "reverse", "reliability"] \
            if role == "item" else ["variable", *text_cols, "values", f"value_labels_{first}", "expected", "pii"]
        cols = [c for c in cols if (part[c].astype(str) != "").any() and (part[c].astype(str) != "False").any()
                or c == "variable"]
        out.append(markdown_table(part[cols]))
        out.append("")
    out += ["## Response scales", ""]
    for s in inst.scales.values():
        labelled = [i for i, v in enumerate(s.values) if any(s.labels[lg][i] is not None for lg in langs)]
        pts = "; ".join(f"{s.values[i]}=" + " / ".join(s.labels[lg][i] or "(no label)" for lg in langs)
                        for i in labelled)
        bare = [v for i, v in enumerate(s.values) if i not in labelled]
        extra = ""
        if bare and labelled:
            extra = f" (points {_runs(bare)} shown as numbers)"
        elif not labelled:
            extra = " (points shown as numbers, no labels)"
        out.append(f"- `{s.id}`: {s.points}-point, {s.range_text}" + (f"; {pts}" if pts else "") + extra)
    anchored = [it for it in inst.items if it.anchors]
    if anchored:
        out += ["", "Items with their own end-point labels (e.g. semantic differentials):", ""]
        for it in anchored:
            sc = inst.scale_of(it.id)
            ends = [f"{sc.min}=" + " / ".join(it.anchors['low'][lg] for lg in langs),
                    f"{sc.max}=" + " / ".join(it.anchors['high'][lg] for lg in langs)]
            out.append(f"- `{it.id}`: " + "; ".join(ends))
    out.append("")
    return "\n".join(out)


def _runs(values: list[int]) -> str:
    """``[1, 2, 3, 4, 6, 7]`` -> ``"1-4, 6-7"``."""
    out, start = [], None
    for i, v in enumerate(values):
        if start is None:
            start = v
        if i + 1 == len(values) or values[i + 1] != v + 1:
            out.append(str(start) if start == v else f"{start}-{v}" if start >= 0 else f"{start} to {v}")
            start = None
    return ", ".join(out)


def write_codebook(inst: Instrument, out_dir: str | Path) -> dict[str, Path]:
    """Write ``<id>_codebook.csv`` (UTF-8 with BOM, opens correctly in Excel) and ``.md``.

    Parameters
    ----------
    inst : Instrument
    out_dir : str or Path
        Folder (created when missing).

    Returns
    -------
    dict
        ``{"csv": Path, "md": Path}``.

    Examples
    --------
    >>> import tempfile
    >>> inst = load_instrument("surveys/ecommerce_crm.yaml")
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     written = write_codebook(inst, tmp)
    ...     sorted(p.name for p in written.values())
    ['ecommerce_crm_codebook.csv', 'ecommerce_crm_codebook.md']
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    csv = out_dir / f"{inst.id}_codebook.csv"
    md = out_dir / f"{inst.id}_codebook.md"
    codebook(inst).to_csv(csv, index=False, encoding="utf-8-sig")
    md.write_text(codebook_markdown(inst), encoding="utf-8")
    return {"csv": csv, "md": md}


# --------------------------------------------------------------------------- questionnaire
_CSS = """
body{font-family:"Noto Sans CJK SC","PingFang SC","Microsoft YaHei",Arial,sans-serif;max-width:60em;margin:2em auto;color:#222;line-height:1.45}
h1{font-size:1.5em} h2{font-size:1.15em;border-bottom:1px solid #999;margin-top:1.6em}
.intro{background:#f5f5f5;padding:.8em 1em;border-radius:4px}
table{border-collapse:collapse;width:100%;margin:.6em 0} th,td{border:1px solid #bbb;padding:.35em .4em;vertical-align:middle}
th{background:#eee;font-weight:normal;font-size:.85em;text-align:center} td.q{width:48%} td.box{text-align:center}
.en{color:#555;font-size:.92em} .num{color:#777;margin-right:.3em}
.opt{display:inline-block;margin-right:1.6em} .box-sym{font-size:1.2em}
@media print{body{margin:0;max-width:none} h2{page-break-after:avoid} tr{page-break-inside:avoid}}
.sd{font-size:.85em;color:#333;text-align:center;width:9em}
"""
_UI = {"about": {"zh": "基本信息", "en": "About you"},
       "end": {"zh": "问卷到此结束，感谢您的参与！", "en": "This is the end of the questionnaire. Thank you for taking part!"}}


def questionnaire_html(inst: Instrument, lang: str = "both") -> str:
    """A printable questionnaire as a standalone HTML page.

    Parameters
    ----------
    inst : Instrument
    lang : str
        ``"both"`` (every language of the instrument: Chinese with the English beneath for
        a bilingual one) or one of the instrument's languages.

    Returns
    -------
    str
        A complete HTML document.

    Examples
    --------
    >>> page = questionnaire_html(load_instrument("surveys/ecommerce_crm.yaml"), "en")
    >>> page.startswith("<!DOCTYPE html>"), "Strongly agree" in page
    (True, True)
    """
    if lang != "both" and lang not in LANGS:
        raise ValueError(f"lang must be 'both', 'zh' or 'en', got {lang!r}")
    langs = _langs_for(inst, lang)
    esc = html.escape
    box = '<td class="box"><span class="box-sym">&#9744;</span></td>'

    def t(d: Mapping[str, str] | None) -> str:
        if not d:
            return ""
        parts = []
        for lg in langs:
            if not d.get(lg):
                continue
            cls = "en" if (lg == "en" and len(langs) == 2) else ""
            parts.append(f'<span class="{cls}">{esc(d[lg])}</span>' if cls else esc(d[lg]))
        return "<br>".join(parts)

    def point_label(sc: Scale, i: int) -> str:
        return t({lg: sc.labels[lg][i] for lg in langs if lg in sc.labels and sc.labels[lg][i] is not None})

    def header(sc: Scale, sd: bool) -> str:
        cells = []
        for i, val in enumerate(sc.values):
            lab = "" if sd else point_label(sc, i)
            cells.append(f"<th>{val}" + (f"<br>{lab}" if lab else "") + "</th>")
        if sd:
            return "<tr><th></th><th></th>" + "".join(cells) + "<th></th></tr>"
        return "<tr><th></th>" + "".join(cells) + "</tr>"

    def item_row(num: int, text: Mapping[str, str], sc: Scale, sd: bool) -> str:
        q = f'<td class="q"><span class="num">{num}.</span>{t(text)}</td>'
        if sd:
            return (f"<tr>{q}<td class=\"sd\">{point_label(sc, 0)}</td>" + box * sc.points
                    + f"<td class=\"sd\">{point_label(sc, sc.points - 1)}</td></tr>")
        return f"<tr>{q}" + box * sc.points + "</tr>"

    first = langs[0]
    h = [f"<!DOCTYPE html><html lang=\"{first}\"><head><meta charset=\"utf-8\">",
         f"<title>{esc(inst.title[first])}</title><style>{_CSS}</style></head><body>",
         f"<h1>{t(inst.title)}</h1>"]
    if inst.intro:
        h.append(f'<p class="intro">{t(inst.intro)}</p>')
    n = 0
    checks_after = {ac.after: ac for ac in inst.attention_checks if ac.after}
    pending_checks = [ac for ac in inst.attention_checks if not ac.after]
    sec = 0
    for c in inst.first_order:
        sec += 1
        h.append(f"<h2>{sec}. {t(c.name)}</h2>")
        # one table per run of items sharing a scale; items with their own anchors
        # (semantic differentials) show them left and right of the boxes
        runs: list[tuple[str, bool, list[Item]]] = []
        for it in c.items:
            key = (it.scale, bool(it.anchors))
            if runs and runs[-1][:2] == key:
                runs[-1][2].append(it)
            else:
                runs.append((it.scale, bool(it.anchors), [it]))
        for sid, sd, its in runs:
            h.append("<table>" + header(inst.scales[sid], sd))
            for it in its:
                n += 1
                h.append(item_row(n, it.text, inst.scale_of(it.id), sd))
                if it.id in checks_after:
                    ac = checks_after[it.id]
                    n += 1
                    acs = inst.scales[ac.scale]
                    if ac.scale == sid and not sd:
                        h.append(item_row(n, ac.text, acs, False))
                    else:
                        h.append(f"</table><table>{header(acs, False)}{item_row(n, ac.text, acs, False)}"
                                 f"</table><table>{header(inst.scales[sid], sd)}")
            h.append("</table>")
    for ac in pending_checks:
        n += 1
        sc = inst.scales[ac.scale]
        h.append(f"<table>{header(sc, False)}{item_row(n, ac.text, sc, False)}</table>")
    if inst.demographics:
        sec += 1
        h.append(f"<h2>{sec}. {t(_UI['about'])}</h2>")
        for q in inst.demographics:
            n += 1
            opts = "".join(f'<span class="opt">&#9744; {t({lg: o[lg] for lg in langs})}</span>' for o in q.options)
            h.append(f'<p><span class="num">{n}.</span>{t(q.text)}<br>{opts}</p>')
    for p in inst.personal_data:
        n += 1
        h.append(f'<p><span class="num">{n}.</span>{t(p.text) if p.text else esc(p.id)}'
                 f'<br>______________________________</p>')
    h.append(f"<p class=\"intro\">{t(_UI['end'])}</p>")
    h.append("</body></html>")
    return "\n".join(h)


# --------------------------------------------------------------------------- lavaan syntax
def single_item_error_variance(inst: Instrument, construct: str, data: Any = None) -> float:
    """The fixed error variance of a single-item construct's item.

    0 when the construct states no reliability (or reliability 1); otherwise
    ``(1 - r) * var(x)`` with ``var`` the sample variance (N - 1 denominator) of the item's
    non-missing answers in ``data``.

    Parameters
    ----------
    inst : Instrument
    construct : str
        A single-item construct.
    data : DataFrame, optional
        Answers with a column named by the item (reverse coding does not change the variance).

    Returns
    -------
    float

    Raises
    ------
    InstrumentError
        When the construct has a reliability below 1 and no data are given, or the data lack
        the item or have fewer than 2 answers.

    Examples
    --------
    >>> import pandas as pd
    >>> inst = instrument_from_dict({
    ...     "id": "mini", "languages": ["en"], "title": "Mini",
    ...     "scales": {"nps": {"min": 0, "max": 10}},
    ...     "constructs": [{"id": "REC", "name": "Recommendation", "scale": "nps", "reliability": 0.8,
    ...                     "items": [{"id": "REC1", "text": "Would you recommend us?"}]}]})
    >>> round(single_item_error_variance(inst, "REC", pd.DataFrame({"REC1": [6, 8, 10, None]})), 12)
    0.8
    """
    c = inst.construct(construct)
    if not c.is_single_item:
        raise ValueError(f"construct {construct!r} is not a single-item construct")
    r = c.reliability
    if r is None or r == 1.0:
        return 0.0
    item = c.items[0].id
    key = f"{_construct_key(inst, construct)}.reliability"
    if data is None:
        raise InstrumentError(inst.path or inst.id, key,
                              f"single-item construct {construct!r} states reliability {r:g}: needs data to fix "
                              f"the error variance of single item {item} at (1 - {r:g}) x var({item})",
                              hint="pass data= (the answers) to the syntax function")
    if item not in getattr(data, "columns", ()):
        raise InstrumentError(inst.path or inst.id, key,
                              f"needs data to fix the error variance of single item {item}, but the data have "
                              f"no column {item!r}")
    import numpy as np

    x = np.asarray(data[item], dtype=float)
    x = x[~np.isnan(x)]
    if len(x) < 2:
        raise InstrumentError(inst.path or inst.id, key,
                              f"needs at least 2 answers to item {item} to fix its error variance, got {len(x)}")
    mean = math.fsum(x.tolist()) / len(x)
    var = math.fsum(((x - mean) ** 2).tolist()) / (len(x) - 1)
    return (1.0 - r) * var


def _construct_key(inst: Instrument, cid: str) -> str:
    for i, c in enumerate(inst.constructs):
        if c.id == cid:
            return f"constructs[{i}]"
    return cid


_PLACEHOLDER = "needs_data_to_fix_error_variance"


def _measurement_lines(inst: Instrument, wanted: set[str], higher_order: bool, data: Any,
                       placeholder: bool) -> list[str]:
    lines = []
    fixes = []
    for c in inst.first_order:
        if c.id not in wanted:
            continue
        lines.append(f"{c.id} =~ " + " + ".join(it.id for it in c.items))
        if c.is_single_item:
            x = c.items[0].id
            if placeholder and c.reliability is not None and c.reliability < 1 and data is None:
                r = c.reliability
                fixes += [f"# {x} is the single item of {c.id} (reliability {r:g}): its error variance must be fixed "
                          f"at (1 - {r:g}) x var({x}),",
                          "# computed from the data. Render with data to fill it in; lavaan stops at the next line.",
                          f"{x} ~~ {_PLACEHOLDER}({1 - r:.6g})*{x}"]
            else:
                v = single_item_error_variance(inst, c.id, data)
                fixes.append(f"{x} ~~ {_fmt(v)}*{x}")
    if higher_order:
        for c in inst.higher_order:
            if c.id in wanted:
                lines.append(f"{c.id} =~ " + " + ".join(c.dimensions))
    return lines + fixes


def _fmt(v: float) -> str:
    return "0" if v == 0 else repr(float(v))


def measurement_syntax(inst: Instrument, constructs: Iterable[str] | None = None,
                       higher_order: bool = True, data: Any = None) -> str:
    """lavaan syntax of the measurement model (CFA).

    A single-item construct ``F`` with item ``x`` is written ``F =~ x`` with the error
    variance fixed: ``x ~~ 0*x``, or ``x ~~ v*x`` with ``v = (1 - r) * var(x)`` when the
    construct states ``reliability: r`` (sample variance, N - 1 denominator, of the
    non-missing answers in ``data``).

    Parameters
    ----------
    inst : Instrument
    constructs : iterable of str, optional
        Constructs to include (higher-order ones bring their dimensions). Default: all.
    higher_order : bool
        If False, higher-order constructs are left out and all first-order constructs
        correlate freely (the model used for HTMT / Fornell-Larcker).
    data : DataFrame, optional
        The answers; needed only when a single-item construct states a reliability below 1.

    Returns
    -------
    str
        lavaan syntax, one statement per line.

    Raises
    ------
    InstrumentError
        A single-item construct states a reliability below 1 and no ``data`` are given.

    Examples
    --------
    >>> inst = load_instrument("surveys/ecommerce_crm.yaml")
    >>> print(measurement_syntax(inst, ["SAT"]))
    SAT =~ SAT1 + SAT2 + SAT3
    <BLANKLINE>
    >>> print(measurement_syntax(load_instrument("tests/reference/lavaan/hs_abilities.yaml"), ["SPD"]))
    SPD =~ x7
    x7 ~~ 0*x7
    <BLANKLINE>
    """
    wanted = _expand(inst, constructs)
    return "\n".join(_measurement_lines(inst, wanted, higher_order, data, False)) + "\n"


def structural_syntax(inst: Instrument, model: str, partial: bool = False, data: Any = None) -> str:
    """lavaan syntax of one of the instrument's structural models.

    Paths are labelled with the hypothesis id in lower case (``h1``); a model with an
    ``indirect`` declaration gets ``:=`` defined parameters for the indirect effect.
    Single-item constructs are written as in :func:`measurement_syntax`.

    Parameters
    ----------
    inst : Instrument
    model : str
        Name of one of the instrument's ``models`` or ``"measurement"`` for the CFA.
    partial : bool
        Add the direct path ``to ~ from`` of the declared indirect effect (the partial-
        mediation alternative) and a ``total`` effect.
    data : DataFrame, optional
        The answers; needed only when a single-item construct states a reliability below 1.

    Returns
    -------
    str
        lavaan syntax.

    Examples
    --------
    >>> inst = load_instrument("tests/reference/lavaan/hs_abilities.yaml")
    >>> print(structural_syntax(inst, "mediated"))
    VIS =~ x1 + x2 + x3
    TXT =~ x4 + x5 + x6
    SPD =~ x7
    x7 ~~ 0*x7
    TXT ~ ha*VIS
    SPD ~ hc*TXT
    ind_VIS_SPD := ha*hc
    <BLANKLINE>
    """
    return _structural(inst, model, partial, data, placeholder=False)


def _structural(inst: Instrument, model: str, partial: bool, data: Any, placeholder: bool) -> str:
    if model == "measurement":
        return "\n".join(_measurement_lines(inst, _expand(inst, None), True, data, placeholder)) + "\n"
    if model not in inst.models:
        raise KeyError(f"instrument {inst.id!r} has no model {model!r}; "
                       f"known: measurement, {', '.join(inst.models)}")
    spec = inst.models[model]
    hyps = [inst.hypothesis(h) for h in spec.hypotheses]
    used = {h.lhs for h in hyps} | {h.rhs for h in hyps}
    for ind in spec.indirect:
        used |= {ind["from"], ind["via"], ind["to"]}
    lines = _measurement_lines(inst, _expand(inst, used), True, data, placeholder)
    # one regression line per outcome; one label per (lhs, rhs) path
    by_lhs: dict[str, dict[str, str]] = {}
    for h in hyps:
        by_lhs.setdefault(h.lhs, {}).setdefault(h.rhs, h.label)
    if partial and not spec.indirect:
        raise ValueError(f"model {model!r} declares no indirect effect, so it has no partial-mediation variant")
    direct = {}
    if partial:
        for j, ind in enumerate(spec.indirect):
            lab = "c" if len(spec.indirect) == 1 else f"c{j + 1}"
            direct[j] = by_lhs.setdefault(ind["to"], {}).setdefault(ind["from"], lab)
    for lhs, rhs in by_lhs.items():
        lines.append(f"{lhs} ~ " + " + ".join(f"{lab}*{r}" for r, lab in rhs.items()))
    for j, ind in enumerate(spec.indirect):
        a = by_lhs.get(ind["via"], {}).get(ind["from"])
        b = by_lhs.get(ind["to"], {}).get(ind["via"])
        if a and b:
            name = ind.get("name", "indirect" if len(spec.indirect) == 1 else f"indirect{j + 1}")
            lines.append(f"{name} := {a}*{b}")
            if partial:
                tname = "total" if len(spec.indirect) == 1 else f"total_{ind['from']}_{ind['to']}"
                lines.append(f"{tname} := {direct[j]} + {a}*{b}")
    return "\n".join(lines) + "\n"


def _expand(inst: Instrument, constructs: Iterable[str] | None) -> set[str]:
    if constructs is None:
        return {c.id for c in inst.constructs}
    out: set[str] = set()

    def add(cid: str) -> None:
        c = inst.construct(cid)
        out.add(cid)
        for d in c.dimensions:
            add(d)

    for cid in constructs:
        add(cid)
    return out


def needs_data(inst: Instrument) -> list[str]:
    """Single-item constructs whose syntax needs data (stated reliability below 1).

    Parameters
    ----------
    inst : Instrument

    Returns
    -------
    list of str
        Construct ids.

    Examples
    --------
    >>> needs_data(load_instrument("tests/data/service_quality/service_quality.yaml"))
    ['REC']
    >>> needs_data(load_instrument("tests/reference/lavaan/hs_abilities.yaml"))
    []
    """
    return [c.id for c in inst.single_item if c.reliability is not None and c.reliability < 1]


def render_instrument(inst: Instrument, out_dir: str | Path, data: Any = None) -> dict[str, Path]:
    """Write codebook (CSV, Markdown), questionnaires (HTML: ``both`` and one per language)
    and lavaan syntax of every model (``.lav``) into ``out_dir``. Returns the written paths
    by kind.

    A single-item construct that states a reliability below 1 needs the answers to fix its
    item's error variance. Without ``data`` its ``.lav`` files are still written, with a
    comment saying so and the placeholder ``x ~~ needs_data_to_fix_error_variance(1 - r)*x``
    that lavaan (and this package's parser) reject loudly, so the file cannot be fitted by
    mistake with a wrong value. With ``data`` the computed value is written.

    Parameters
    ----------
    inst : Instrument
    out_dir : str or Path
        Folder (created when missing).
    data : DataFrame, optional
        The answers, for single items with a stated reliability below 1.

    Returns
    -------
    dict
        Kind -> path of the files written.

    Examples
    --------
    >>> import tempfile
    >>> inst = load_instrument("tests/reference/lavaan/hs_abilities.yaml")
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     paths = render_instrument(inst, tmp)
    ...     all(p.exists() for p in paths.values())
    True
    >>> sorted(paths)[:3]
    ['csv', 'lavaan_both', 'lavaan_both_partial']
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = dict(write_codebook(inst, out_dir))
    for lg in ("both", *inst.languages):
        p = out_dir / f"{inst.id}_questionnaire_{lg}.html"
        p.write_text(questionnaire_html(inst, lg), encoding="utf-8")
        paths[f"questionnaire_{lg}"] = p
    for name in ["measurement", *inst.models]:
        p = out_dir / f"{inst.id}_{name}.lav"
        p.write_text(_structural(inst, name, False, data, placeholder=True), encoding="utf-8")
        paths[f"lavaan_{name}"] = p
        spec = inst.models.get(name)
        if spec is not None and spec.indirect:  # partial-mediation alternative
            p2 = out_dir / f"{inst.id}_{name}_partial.lav"
            p2.write_text(_structural(inst, name, True, data, placeholder=True), encoding="utf-8")
            paths[f"lavaan_{name}_partial"] = p2
    return paths

"""Survey instruments as data: load and validate instrument YAML, and derive from it a
codebook, a printable bilingual questionnaire and lavaan model syntax.

Instrument YAML schema (keys marked * are required)::

    id*: short identifier
    version: "1.0"
    title*: {zh: ..., en: ...}
    intro: {zh: ..., en: ...}
    respondent_id: name of the respondent-id column (default "respondent_id")
    duration: {column: duration_sec, min_seconds: 120}   # optional speeder rule
    scales*:
      <scale id>: {points: 5 | 7, labels: {zh: [...], en: [...]}}   # one label per point
    constructs*:                      # first-order constructs have items ...
      - id*: PF
        name*: {zh: ..., en: ...}
        scale*: <scale id>
        items*:
          - {id*: PF1, text*: {zh, en}, label: {zh, en}, reverse: false, aliases: [...]}
      - id*: OPS                       # ... higher-order constructs have dimensions
        name*: {zh, en}
        dimensions*: [PF, SQ, LE, UI]
    attention_checks:
      - {id*, text*: {zh, en}, scale*, expected*: <scale point>, after: <item id>}
    demographics:
      - {id*, text*: {zh, en}, options*: [{value*, zh*, en*}], screening: {exclude: [values]}}
    personal_data:
      - {id*, kind*: phone|email|name|address|ip|id_number|other, policy: drop|pseudonymize,
         text: {zh, en}}
    hypotheses:
      - {id*: H1, path*: "SAT ~ OPS", sign: positive|negative, text: {zh, en}}
    models:
      <name>: {title: {zh, en}, hypotheses*: [H1, H2], indirect: {name, from, via, to}}

Every validation error names the file, the key path (``constructs[3].items[1].text.en``)
and what was expected.
"""
from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import yaml

from .errors import InstrumentError

LANGS = ("zh", "en")
PII_KINDS = ("phone", "email", "name", "address", "ip", "id_number", "other")
PII_POLICIES = ("drop", "pseudonymize")
_ID_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


# --------------------------------------------------------------------------- data model
@dataclass(frozen=True)
class Scale:
    id: str
    points: int
    labels: dict[str, tuple[str, ...]]

    @property
    def values(self) -> tuple[int, ...]:
        return tuple(range(1, self.points + 1))

    def label_to_value(self) -> dict[str, int]:
        """Map every label (both languages, case/space-insensitive) to its scale point."""
        out: dict[str, int] = {}
        for lang in self.labels:
            for i, lab in enumerate(self.labels[lang], start=1):
                out[_norm_text(lab)] = i
        return out


@dataclass(frozen=True)
class Item:
    id: str
    construct: str
    text: dict[str, str]
    label: dict[str, str]
    scale: str
    reverse: bool = False
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class Construct:
    id: str
    name: dict[str, str]
    items: tuple[Item, ...] = ()
    dimensions: tuple[str, ...] = ()
    scale: str | None = None

    @property
    def is_higher_order(self) -> bool:
        return bool(self.dimensions)


@dataclass(frozen=True)
class AttentionCheck:
    id: str
    text: dict[str, str]
    scale: str
    expected: int
    after: str | None = None


@dataclass(frozen=True)
class Question:
    """A demographic or screening question with coded options."""

    id: str
    text: dict[str, str]
    options: tuple[dict[str, Any], ...]
    exclude: tuple[Any, ...] = ()

    @property
    def values(self) -> tuple[Any, ...]:
        return tuple(o["value"] for o in self.options)


@dataclass(frozen=True)
class PersonalField:
    id: str
    kind: str
    policy: str
    text: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Hypothesis:
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
    name: str
    title: dict[str, str]
    hypotheses: tuple[str, ...]
    indirect: tuple[dict[str, str], ...] = ()


@dataclass(frozen=True)
class Instrument:
    """A validated survey instrument. Build with :func:`load_instrument`."""

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
        for it in self.items:
            if it.id == item_id:
                return self.scales[it.scale]
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

    def __repr__(self) -> str:
        return (f"Instrument({self.id!r}, {len(self.constructs)} constructs, "
                f"{len(self.items)} items, {len(self.attention_checks)} attention checks, "
                f"{len(self.demographics)} demographics, {len(self.personal_data)} personal fields)")

    def _repr_html_(self) -> str:
        return codebook(self).to_html(index=False)


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
        Naming the file, the key path and what was expected.

    Examples
    --------
    >>> inst = load_instrument("surveys/ecommerce_crm.yaml")  # doctest: +SKIP
    >>> len(inst.items)  # doctest: +SKIP
    27
    """
    path = Path(path)
    if not path.exists():
        raise InstrumentError(str(path), "", "file not found",
                              hint="pass the path of an instrument YAML, e.g. surveys/ecommerce_crm.yaml")
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
    """Validate a parsed instrument mapping (see module docstring) and build an Instrument."""
    v = _Validator(source)
    v.mapping(raw, "")
    iid = v.ident(raw, "id", "")
    title = v.bilingual(raw, "title", "")
    intro = v.bilingual(raw, "intro", "", required=False)

    scales: dict[str, Scale] = {}
    sraw = v.req(raw, "scales", "", dict)
    if not sraw:
        v.fail("scales", "at least one response scale is required")
    for sid, s in sraw.items():
        k = f"scales.{sid}"
        v.mapping(s, k)
        pts = v.req(s, "points", k, int)
        if pts not in (5, 7):
            v.fail(f"{k}.points", f"must be 5 or 7 (Likert), got {pts!r}")
        labs = v.req(s, "labels", k, dict)
        labels = {}
        for lang in LANGS:
            ll = v.req(labs, lang, f"{k}.labels", list)
            if len(ll) != pts:
                v.fail(f"{k}.labels.{lang}", f"needs {pts} labels (one per point), got {len(ll)}")
            labels[lang] = tuple(str(x) for x in ll)
        scales[str(sid)] = Scale(str(sid), pts, labels)

    constructs: list[Construct] = []
    seen_ids: dict[str, str] = {}
    craw = v.req(raw, "constructs", "", list)
    if not craw:
        v.fail("constructs", "at least one construct is required")
    for ci, c in enumerate(craw):
        k = f"constructs[{ci}]"
        v.mapping(c, k)
        cid = v.ident(c, "id", k)
        v.unique(seen_ids, cid, f"{k}.id")
        name = v.bilingual(c, "name", k)
        has_items, has_dims = "items" in c, "dimensions" in c
        if has_items == has_dims:
            v.fail(k, f"construct {cid!r} needs exactly one of 'items' (first-order) or 'dimensions' (higher-order)")
        if has_dims:
            dims = v.req(c, "dimensions", k, list)
            if len(dims) < 2:
                v.fail(f"{k}.dimensions", "a higher-order construct needs at least 2 dimensions")
            constructs.append(Construct(cid, name, dimensions=tuple(str(d) for d in dims)))
            continue
        sc = v.req(c, "scale", k, str)
        if sc not in scales:
            v.fail(f"{k}.scale", f"unknown scale {sc!r}; declared: {', '.join(scales)}")
        items = []
        iraw = v.req(c, "items", k, list)
        if len(iraw) < 2:
            v.fail(f"{k}.items", f"construct {cid!r} needs at least 2 items, got {len(iraw)}")
        for ii, it in enumerate(iraw):
            ik = f"{k}.items[{ii}]"
            v.mapping(it, ik)
            item_id = v.ident(it, "id", ik)
            v.unique(seen_ids, item_id, f"{ik}.id")
            text = v.bilingual(it, "text", ik)
            label = v.bilingual(it, "label", ik, required=False) or dict(text)
            rev = it.get("reverse", False)
            if not isinstance(rev, bool):
                v.fail(f"{ik}.reverse", f"must be true or false, got {rev!r}")
            aliases = it.get("aliases", []) or []
            if not isinstance(aliases, list):
                v.fail(f"{ik}.aliases", "must be a list of strings")
            isc = it.get("scale", sc)
            if isc not in scales:
                v.fail(f"{ik}.scale", f"unknown scale {isc!r}")
            items.append(Item(item_id, cid, text, label, isc, rev, tuple(str(a) for a in aliases)))
        constructs.append(Construct(cid, name, items=tuple(items), scale=sc))

    by_id = {c.id: c for c in constructs}
    for ci, c in enumerate(constructs):
        for di, d in enumerate(c.dimensions):
            if d not in by_id:
                v.fail(f"constructs[{ci}].dimensions[{di}]", f"unknown construct {d!r}")
            if d == c.id:
                v.fail(f"constructs[{ci}].dimensions[{di}]", "a construct cannot be its own dimension")
    _check_acyclic(constructs, v)

    item_ids = {it.id for c in constructs for it in c.items}
    checks = []
    for ai, a in enumerate(raw.get("attention_checks", []) or []):
        k = f"attention_checks[{ai}]"
        v.mapping(a, k)
        aid = v.ident(a, "id", k)
        v.unique(seen_ids, aid, f"{k}.id")
        sc = v.req(a, "scale", k, str)
        if sc not in scales:
            v.fail(f"{k}.scale", f"unknown scale {sc!r}")
        exp = v.req(a, "expected", k, int)
        if exp not in scales[sc].values:
            v.fail(f"{k}.expected", f"must be a point of scale {sc!r} (1..{scales[sc].points}), got {exp!r}")
        after = a.get("after")
        if after is not None and after not in item_ids:
            v.fail(f"{k}.after", f"unknown item {after!r}")
        checks.append(AttentionCheck(aid, v.bilingual(a, "text", k), sc, exp, after))

    demos = []
    for di, q in enumerate(raw.get("demographics", []) or []):
        k = f"demographics[{di}]"
        v.mapping(q, k)
        qid = v.ident(q, "id", k)
        v.unique(seen_ids, qid, f"{k}.id")
        opts = v.req(q, "options", k, list)
        if not opts:
            v.fail(f"{k}.options", "at least one option is required")
        clean = []
        for oi, o in enumerate(opts):
            ok = f"{k}.options[{oi}]"
            v.mapping(o, ok)
            if "value" not in o:
                v.fail(ok, "missing key 'value'")
            for lang in LANGS:
                if not isinstance(o.get(lang), str) or not o.get(lang).strip():
                    v.fail(f"{ok}.{lang}", "missing option text")
            clean.append({"value": o["value"], "zh": o["zh"], "en": o["en"]})
        scr = q.get("screening") or {}
        demos.append(Question(qid, v.bilingual(q, "text", k), tuple(clean), tuple(scr.get("exclude", []) or [])))

    pii = []
    for pi, p in enumerate(raw.get("personal_data", []) or []):
        k = f"personal_data[{pi}]"
        v.mapping(p, k)
        pid = v.ident(p, "id", k)
        v.unique(seen_ids, pid, f"{k}.id")
        kind = v.req(p, "kind", k, str)
        if kind not in PII_KINDS:
            v.fail(f"{k}.kind", f"must be one of {', '.join(PII_KINDS)}, got {kind!r}")
        pol = p.get("policy", "drop")
        if pol not in PII_POLICIES:
            v.fail(f"{k}.policy", f"must be 'drop' or 'pseudonymize', got {pol!r}")
        pii.append(PersonalField(pid, kind, pol, v.bilingual(p, "text", k, required=False)))

    hyps = []
    latent_ids = set(by_id)
    for hi, h in enumerate(raw.get("hypotheses", []) or []):
        k = f"hypotheses[{hi}]"
        v.mapping(h, k)
        hid = v.ident(h, "id", k)
        path = v.req(h, "path", k, str)
        m = re.fullmatch(r"\s*([A-Za-z]\w*)\s*~\s*([A-Za-z]\w*)\s*", path)
        if not m:
            v.fail(f"{k}.path", f"expected 'OUTCOME ~ PREDICTOR' (e.g. 'SAT ~ OPS'), got {path!r}")
        for name in m.groups():
            if name not in latent_ids:
                v.fail(f"{k}.path", f"unknown construct {name!r} in {path!r}")
        sign = h.get("sign", "positive")
        if sign not in ("positive", "negative"):
            v.fail(f"{k}.sign", f"must be 'positive' or 'negative', got {sign!r}")
        if any(x.id == hid for x in hyps):
            v.fail(f"{k}.id", f"duplicate hypothesis id {hid!r}")
        hyps.append(Hypothesis(hid, m.group(1), m.group(2), sign, v.bilingual(h, "text", k, required=False)))

    models = {}
    for name, mdef in (raw.get("models", {}) or {}).items():
        k = f"models.{name}"
        v.mapping(mdef, k)
        hl = v.req(mdef, "hypotheses", k, list)
        for j, hid in enumerate(hl):
            if hid not in {h.id for h in hyps}:
                v.fail(f"{k}.hypotheses[{j}]", f"unknown hypothesis {hid!r}")
        ind = mdef.get("indirect") or []
        ind = [ind] if isinstance(ind, dict) else ind
        if not isinstance(ind, list):
            v.fail(f"{k}.indirect", "must be a mapping {name, from, via, to} or a list of them")
        for j, one in enumerate(ind):
            v.mapping(one, f"{k}.indirect[{j}]")
            for key in ("from", "via", "to"):
                if one.get(key) not in latent_ids:
                    v.fail(f"{k}.indirect[{j}].{key}", f"must name a construct, got {one.get(key)!r}")
        models[str(name)] = StructuralModelSpec(str(name), v.bilingual(mdef, "title", k, required=False),
                                                tuple(hl), tuple(dict(x) for x in ind))

    dur = raw.get("duration") or {}
    if dur and not isinstance(dur, dict):
        v.fail("duration", "must be a mapping {column: ..., min_seconds: ...}")
    rid = raw.get("respondent_id", "respondent_id")
    if not isinstance(rid, str) or not rid:
        v.fail("respondent_id", "must be a column name")
    return Instrument(
        id=iid, version=str(raw.get("version", "1.0")), title=title, intro=intro or {},
        respondent_id=rid, duration_column=dur.get("column"),
        min_seconds=float(dur["min_seconds"]) if dur.get("min_seconds") is not None else None,
        scales=scales, constructs=tuple(constructs), attention_checks=tuple(checks),
        demographics=tuple(demos), personal_data=tuple(pii), hypotheses=tuple(hyps),
        models=models, source=str(raw.get("source", "")), path=source,
    )


class _Validator:
    def __init__(self, file: str):
        self.file = file

    def fail(self, key: str, problem: str) -> None:
        raise InstrumentError(self.file, key, problem)

    def mapping(self, obj: Any, key: str) -> None:
        if not isinstance(obj, dict):
            self.fail(key or "(top level)", f"expected a mapping (key: value), got {type(obj).__name__}")

    def req(self, obj: dict, name: str, key: str, typ: type) -> Any:
        k = f"{key}.{name}" if key else name
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
            self.fail(f"{key}.{name}" if key else name,
                      f"{val!r} is not a valid id (letters, digits, underscore; starting with a letter)")
        return val

    def bilingual(self, obj: dict, name: str, key: str, required: bool = True) -> dict[str, str]:
        k = f"{key}.{name}" if key else name
        if name not in obj or obj[name] is None:
            if required:
                self.fail(k, "required key is missing (a mapping with 'zh' and 'en' text)")
            return {}
        val = obj[name]
        if not isinstance(val, dict):
            self.fail(k, f"expected a mapping with 'zh' and 'en' text, got {type(val).__name__}")
        for lang in LANGS:
            t = val.get(lang)
            if not isinstance(t, str) or not t.strip():
                self.fail(f"{k}.{lang}", f"missing {'Chinese' if lang == 'zh' else 'English'} text")
        return {lang: str(val[lang]).strip() for lang in LANGS}

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

    Columns: ``variable, role, construct, dimension_of, label_zh, label_en, text_zh,
    text_en, scale, values, value_labels_zh, value_labels_en, reverse, expected, pii``.
    """
    import pandas as pd

    parent = {d: c.id for c in inst.higher_order for d in c.dimensions}
    rows = []
    for it in inst.items:
        sc = inst.scales[it.scale]
        rows.append(dict(variable=it.id, role="item", construct=it.construct,
                         dimension_of=parent.get(it.construct, ""),
                         label_zh=it.label["zh"], label_en=it.label["en"],
                         text_zh=it.text["zh"], text_en=it.text["en"], scale=sc.id,
                         values=f"1-{sc.points}",
                         value_labels_zh="; ".join(f"{i}={l}" for i, l in enumerate(sc.labels["zh"], 1)),
                         value_labels_en="; ".join(f"{i}={l}" for i, l in enumerate(sc.labels["en"], 1)),
                         reverse=it.reverse, expected="", pii=""))
    for ac in inst.attention_checks:
        sc = inst.scales[ac.scale]
        rows.append(dict(variable=ac.id, role="attention_check", construct="", dimension_of="",
                         label_zh="注意力检测", label_en="attention check",
                         text_zh=ac.text["zh"], text_en=ac.text["en"], scale=sc.id,
                         values=f"1-{sc.points}",
                         value_labels_zh="; ".join(f"{i}={l}" for i, l in enumerate(sc.labels["zh"], 1)),
                         value_labels_en="; ".join(f"{i}={l}" for i, l in enumerate(sc.labels["en"], 1)),
                         reverse=False, expected=str(ac.expected), pii=""))
    for q in inst.demographics:
        rows.append(dict(variable=q.id, role="demographic", construct="", dimension_of="",
                         label_zh=q.text["zh"], label_en=q.text["en"], text_zh=q.text["zh"],
                         text_en=q.text["en"], scale="categorical",
                         values=", ".join(str(o["value"]) for o in q.options),
                         value_labels_zh="; ".join(f"{o['value']}={o['zh']}" for o in q.options),
                         value_labels_en="; ".join(f"{o['value']}={o['en']}" for o in q.options),
                         reverse=False, expected="", pii=""))
    for p in inst.personal_data:
        rows.append(dict(variable=p.id, role="personal_data", construct="", dimension_of="",
                         label_zh=p.text.get("zh", p.id), label_en=p.text.get("en", p.id),
                         text_zh=p.text.get("zh", ""), text_en=p.text.get("en", ""), scale="text",
                         values="", value_labels_zh="", value_labels_en="", reverse=False,
                         expected="", pii=f"{p.kind} ({p.policy})"))
    df = pd.DataFrame(rows)
    if lang in LANGS:
        other = "en" if lang == "zh" else "zh"
        df = df.drop(columns=[f"label_{other}", f"text_{other}", f"value_labels_{other}"])
    return df


def codebook_markdown(inst: Instrument) -> str:
    """The codebook as a Markdown document (one table per section)."""
    cb = codebook(inst)
    out = [f"# Codebook: {inst.title['en']}", "", f"{inst.title['zh']}", "",
           f"Instrument `{inst.id}` version {inst.version}. {inst.source}", ""]
    for c in inst.higher_order:
        out.append(f"- **{c.id}** ({c.name['en']} / {c.name['zh']}) is a higher-order construct over "
                   f"{', '.join(c.dimensions)}.")
    out.append("")
    for role, title in [("item", "Items"), ("attention_check", "Attention checks"),
                        ("demographic", "Demographics"), ("personal_data", "Personal data (removed before analysis)")]:
        part = cb[cb.role == role]
        if part.empty:
            continue
        out += [f"## {title}", ""]
        cols = ["variable", "construct", "label_en", "text_zh", "text_en", "values", "reverse"] if role == "item" else \
            ["variable", "text_zh", "text_en", "values", "value_labels_en", "expected", "pii"]
        cols = [c for c in cols if (part[c].astype(str) != "").any() or c == "variable"]
        out.append("| " + " | ".join(cols) + " |")
        out.append("|" + "---|" * len(cols))
        for _, r in part.iterrows():
            out.append("| " + " | ".join(str(r[c]).replace("|", "\\|") for c in cols) + " |")
        out.append("")
    sc_lines = [f"- `{s.id}`: {s.points}-point; " + "; ".join(
        f"{i}={z} / {e}" for i, (z, e) in enumerate(zip(s.labels['zh'], s.labels['en']), 1)) for s in inst.scales.values()]
    out += ["## Response scales", ""] + sc_lines + [""]
    return "\n".join(out)


def write_codebook(inst: Instrument, out_dir: str | Path) -> dict[str, Path]:
    """Write ``<id>_codebook.csv`` (UTF-8 with BOM, opens correctly in Excel) and ``.md``."""
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
"""


def questionnaire_html(inst: Instrument, lang: str = "both") -> str:
    """A printable questionnaire as a standalone HTML page.

    Parameters
    ----------
    lang : {"both", "zh", "en"}
        Language(s) shown. ``"both"`` prints Chinese with the English beneath.
    """
    if lang not in ("both", "zh", "en"):
        raise ValueError(f"lang must be 'both', 'zh' or 'en', got {lang!r}")
    langs = LANGS if lang == "both" else (lang,)
    esc = html.escape

    def t(d: dict[str, str]) -> str:
        if not d:
            return ""
        parts = []
        for i, lg in enumerate(langs):
            cls = "en" if (lg == "en" and len(langs) == 2) else ""
            parts.append(f'<span class="{cls}">{esc(d[lg])}</span>' if cls else esc(d[lg]))
        return "<br>".join(parts)

    h = [f"<!DOCTYPE html><html lang=\"{'zh' if 'zh' in langs else 'en'}\"><head><meta charset=\"utf-8\">",
         f"<title>{esc(inst.title[langs[0]])}</title><style>{_CSS}</style></head><body>",
         f"<h1>{t(inst.title)}</h1>"]
    if inst.intro:
        h.append(f'<p class="intro">{t(inst.intro)}</p>')
    n = 0
    checks_after = {ac.after: ac for ac in inst.attention_checks if ac.after}
    pending_checks = [ac for ac in inst.attention_checks if not ac.after]
    sec = 0
    for c in inst.first_order:
        sec += 1
        sc = inst.scales[c.scale]
        h.append(f"<h2>{sec}. {t(c.name)}</h2><table><tr><th></th>" +
                 "".join(f"<th>{i}<br>{t({lg: sc.labels[lg][i - 1] for lg in LANGS})}</th>" for i in sc.values) + "</tr>")
        rows = list(c.items)
        for it in rows:
            n += 1
            h.append(f'<tr><td class="q"><span class="num">{n}.</span>{t(it.text)}</td>' +
                     "".join('<td class="box"><span class="box-sym">&#9744;</span></td>' for _ in sc.values) + "</tr>")
            if it.id in checks_after:
                ac = checks_after[it.id]
                n += 1
                h.append(f'<tr><td class="q"><span class="num">{n}.</span>{t(ac.text)}</td>' +
                         "".join('<td class="box"><span class="box-sym">&#9744;</span></td>' for _ in sc.values) + "</tr>")
        h.append("</table>")
    for ac in pending_checks:
        n += 1
        sc = inst.scales[ac.scale]
        h.append(f"<table><tr><td class=\"q\"><span class=\"num\">{n}.</span>{t(ac.text)}</td>" +
                 "".join(f'<td class="box">&#9744; {i}</td>' for i in sc.values) + "</tr></table>")
    if inst.demographics:
        sec += 1
        h.append(f"<h2>{sec}. {t({'zh': '基本信息', 'en': 'About you'})}</h2>")
        for q in inst.demographics:
            n += 1
            opts = "".join(f'<span class="opt">&#9744; {t({lg: o[lg] for lg in LANGS})}</span>' for o in q.options)
            h.append(f'<p><span class="num">{n}.</span>{t(q.text)}<br>{opts}</p>')
    if inst.personal_data:
        for p in inst.personal_data:
            n += 1
            h.append(f'<p><span class="num">{n}.</span>{t(p.text) if p.text else esc(p.id)}'
                     f'<br>______________________________</p>')
    h.append(f"<p class=\"intro\">{t({'zh': '问卷到此结束，感谢您的参与！', 'en': 'This is the end of the questionnaire. Thank you for taking part!'})}</p>")
    h.append("</body></html>")
    return "\n".join(h)


# --------------------------------------------------------------------------- lavaan syntax
def measurement_syntax(inst: Instrument, constructs: Iterable[str] | None = None,
                       higher_order: bool = True) -> str:
    """lavaan syntax of the measurement model (CFA).

    Parameters
    ----------
    constructs : iterable of str, optional
        Constructs to include (higher-order ones bring their dimensions). Default: all.
    higher_order : bool
        If False, higher-order constructs are left out and all first-order constructs
        correlate freely (the model used for HTMT / Fornell-Larcker).
    """
    wanted = _expand(inst, constructs)
    lines = []
    for c in inst.first_order:
        if c.id in wanted:
            lines.append(f"{c.id} =~ " + " + ".join(it.id for it in c.items))
    if higher_order:
        for c in inst.higher_order:
            if c.id in wanted:
                lines.append(f"{c.id} =~ " + " + ".join(c.dimensions))
    return "\n".join(lines) + "\n"


def structural_syntax(inst: Instrument, model: str, partial: bool = False) -> str:
    """lavaan syntax of one of the instrument's structural models.

    Paths are labelled with the hypothesis id in lower case (``h1``); a model with an
    ``indirect`` declaration gets ``:=`` defined parameters for the indirect effect.

    Parameters
    ----------
    model : str
        Name in the instrument's ``models`` (``ops``, ``crm``, ``combined``) or
        ``"measurement"`` for the CFA.
    partial : bool
        Add the direct path ``to ~ from`` of the declared indirect effect (the partial-
        mediation alternative) and a ``total`` effect.
    """
    if model == "measurement":
        return measurement_syntax(inst)
    if model not in inst.models:
        raise KeyError(f"instrument {inst.id!r} has no model {model!r}; "
                       f"known: measurement, {', '.join(inst.models)}")
    spec = inst.models[model]
    hyps = [inst.hypothesis(h) for h in spec.hypotheses]
    used = {h.lhs for h in hyps} | {h.rhs for h in hyps}
    lines = [measurement_syntax(inst, used).rstrip("\n")]
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


def render_instrument(inst: Instrument, out_dir: str | Path) -> dict[str, Path]:
    """Write codebook (CSV, Markdown), questionnaires (HTML: both, zh, en) and lavaan syntax
    of every model (``.lav``) into ``out_dir``. Returns the written paths by kind."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = dict(write_codebook(inst, out_dir))
    for lg in ("both", "zh", "en"):
        p = out_dir / f"{inst.id}_questionnaire_{lg}.html"
        p.write_text(questionnaire_html(inst, lg), encoding="utf-8")
        paths[f"questionnaire_{lg}"] = p
    for name in ["measurement", *inst.models]:
        p = out_dir / f"{inst.id}_{name}.lav"
        p.write_text(structural_syntax(inst, name), encoding="utf-8")
        paths[f"lavaan_{name}"] = p
        spec = inst.models.get(name)
        if spec is not None and spec.indirect:  # partial-mediation alternative
            p2 = out_dir / f"{inst.id}_{name}_partial.lav"
            p2.write_text(structural_syntax(inst, name, partial=True), encoding="utf-8")
            paths[f"lavaan_{name}_partial"] = p2
    return paths

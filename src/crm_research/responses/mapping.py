"""Map the columns of a response file to an instrument's variables.

A column is mapped, in this order of precedence:

1. ``column_map`` -- the user's explicit ``{column: variable id}`` (a dict or a YAML file);
   a ``null`` target ignores the column;
2. ``id`` -- its name is a variable id, ignoring case and punctuation (``pf1``, ``PF_1``);
3. ``synonym`` -- respondent-id and duration columns named as platforms name them
   (``序号``, ``答卷编号``, ``ResponseId``; ``所用时间``, ``答题时长``, ``Duration (in seconds)``);
4. ``text`` / ``label`` -- its header (``text``) or its SPSS variable label / Qualtrics
   question row (``label``) *is* the question: after removing numbering ("1、", "Q1.", "(1)",
   "第1题") and platform tags ("(单选题)", "*"), it equals an item's text, short label or alias,
   in Chinese or English, ignoring width, case, spaces and punctuation;
5. ``text_partial`` -- the header contains exactly one variable's text or label (e.g.
   "1、您对商品搜索便捷性的评价" contains PF1's label "商品搜索便捷性"), or is a long enough
   prefix of it (a truncated header);

Exactly one candidate maps the column; several make it ``ambiguous`` (listed, not mapped);
none leave it ``unmapped``. Nothing is guessed. When two columns claim one variable with the
same precedence, both are reported as ``conflict`` and neither is mapped.

**One column-map convention for every verb.** A column map says which *file column* holds
which *id*: an instrument variable for survey data, a model variable for ``fit``, a canonical
field (``customer_id``, ``timestamp``, ``amount`` ...) for transaction data. It is given as a
YAML file ``{file column: id}``, a dict ``{file column: id}``, a list of ``"COLUMN=ID"``
strings, or a list mixing these (the CLI's repeatable ``--map``); :func:`parse_column_map`
reads all of them and :func:`resolve_column_map` checks them against a file's columns. A
``COLUMN=ID`` pair written the other way round (``ID=COLUMN``, the old order of ``kpi
--map``) is accepted with a note when only that reading fits; when both readings fit it is an
error (a map file is never turned round).
"""
from __future__ import annotations

import difflib
import html
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

import pandas as pd

from ..errors import ConfigError
from ..instruments import Instrument
from ._text import compact, has_cjk, header_variants, spaced, strip_question

RESPONDENT_SYNONYMS = ("序号", "编号", "答卷编号", "答卷序号", "答卷id", "问卷编号", "受访者编号", "被访者编号",
                       "样本编号", "respondent_id", "respondent id", "respondentid", "respondent", "responseid",
                       "response id", "response_id", "id", "case id", "caseid", "record id", "recordid")
DURATION_SYNONYMS = ("所用时间", "答题时长", "答题用时", "作答时长", "作答用时", "填写时长", "填写用时", "答卷用时",
                     "用时", "duration", "duration (in seconds)", "duration_sec", "duration seconds",
                     "time taken", "completion time", "time spent", "response time", "durationsec")
_PRECEDENCE = {"column_map": 0, "id": 1, "synonym": 2, "label": 3, "text": 3, "text_partial": 4}
ROLES = ("respondent_id", "duration", "item", "attention_check", "demographic", "personal_data")


@dataclass(frozen=True)
class Target:
    """A variable of the instrument a column can map to."""

    id: str
    role: str
    texts: tuple[str, ...] = ()
    synonyms: tuple[str, ...] = ()


def targets(inst: Instrument) -> list[Target]:
    """All mappable variables of an instrument, in questionnaire order."""
    out = [Target(inst.respondent_id, "respondent_id", (), RESPONDENT_SYNONYMS)]
    out.append(Target(inst.duration_column or "duration_sec", "duration", (), DURATION_SYNONYMS))
    for it in inst.items:
        texts = [it.text.get("zh", ""), it.text.get("en", ""), it.label.get("zh", ""), it.label.get("en", ""), *it.aliases]
        out.append(Target(it.id, "item", tuple(t for t in texts if t)))
    for ac in inst.attention_checks:
        out.append(Target(ac.id, "attention_check", tuple(t for t in ac.text.values() if t)))
    for q in inst.demographics:
        out.append(Target(q.id, "demographic", tuple(t for t in q.text.values() if t)))
    for p in inst.personal_data:
        out.append(Target(p.id, "personal_data", tuple(t for t in p.text.values() if t)))
    return out


@dataclass
class ColumnMapping:
    """Which column holds which variable.

    Attributes
    ----------
    table : DataFrame
        One row per column of the file: ``column, mapped_to, role, method, candidates``.
        ``method`` is one of column_map, id, synonym, label, text, text_partial (mapped) or ignored, ambiguous, conflict, unmapped (not mapped). ``candidates``
        lists the competing variables of an ambiguous or conflicting column.
    expected : DataFrame
        One row per instrument variable: ``variable, role, column`` (column empty if absent).
    notes : list of str
        Notes about the column map (a ``COLUMN=ID`` pair read the other way round).

    Examples
    --------
    >>> from crm_research.instruments import load_instrument
    >>> m = map_columns(["ID", "PF1", "满意度1", "Q99"], load_instrument("surveys/ecommerce_crm.yaml"),
    ...                 column_map={"满意度1": "SAT1"})
    >>> m.table[["column", "mapped_to", "method"]].fillna("").values.tolist()
    [['ID', 'respondent_id', 'synonym'], ['PF1', 'PF1', 'id'], ['满意度1', 'SAT1', 'column_map'], ['Q99', '', 'unmapped']]
    """

    table: pd.DataFrame
    expected: pd.DataFrame
    notes: list[str] = field(default_factory=list)

    @property
    def rename(self) -> dict[str, str]:
        """``{column: variable id}`` for every mapped column."""
        t = self.table[self.table.mapped_to.notna()]
        return dict(zip(t.column, t.mapped_to))

    def column_of(self, variable: str) -> str | None:
        t = self.table[self.table.mapped_to == variable]
        return None if t.empty else str(t.column.iloc[0])

    @property
    def unmapped(self) -> list[str]:
        return self.table.loc[self.table.method == "unmapped", "column"].tolist()

    @property
    def ambiguous(self) -> list[str]:
        return self.table.loc[self.table.method.isin(["ambiguous", "conflict"]), "column"].tolist()

    def missing(self, role: str | None = None) -> list[str]:
        """Instrument variables (of ``role``) with no column."""
        e = self.expected[self.expected.column.isna()]
        if role is not None:
            e = e[e.role == role]
        return e.variable.tolist()

    @property
    def missing_items(self) -> list[str]:
        return self.missing("item")

    def summary(self) -> str:
        t = self.table
        mapped = t.mapped_to.notna()
        lines = [f"Column mapping: {int(mapped.sum())} of {len(t)} columns mapped "
                 f"({', '.join(f'{m} {n}' for m, n in t.loc[mapped, 'method'].value_counts().items())})"]
        lines += [f"  note: {n}" for n in self.notes]
        items = self.expected[self.expected.role == "item"]
        lines.append(f"  items found: {int(items.column.notna().sum())} of {len(items)}")
        if self.missing_items:
            lines.append(f"  items missing: {', '.join(self.missing_items)}")
        for r in t[t.method.isin(["ambiguous", "conflict"])].itertuples(index=False):
            lines.append(f"  {r.method}: {r.column!r} -> {r.candidates}")
        if self.unmapped:
            shown = ", ".join(repr(c) for c in self.unmapped[:8])
            more = f" and {len(self.unmapped) - 8} more" if len(self.unmapped) > 8 else ""
            lines.append(f"  unmapped (kept aside): {shown}{more}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return self.summary()

    def _repr_html_(self) -> str:
        return f"<pre>{html.escape(self.summary())}</pre>" + self.table.to_html(index=False, na_rep="")


@dataclass(frozen=True)
class MapEntry:
    """One entry of a column map: file ``column`` -> ``target`` id (None: ignore the column).

    ``pair`` is True for a ``"COLUMN=ID"`` string (which may have been written the other way
    round); ``source`` names where it came from (a YAML path, ``column_map`` or ``--map``).

    Examples
    --------
    >>> parse_column_map(["Q1=PF1"])  # doctest: +ELLIPSIS
    [MapEntry(column='Q1', target='PF1', source=..., pair=True)]
    """

    column: str
    target: str | None
    source: str
    pair: bool = False


def _is_pair(text: str) -> bool:
    return "=" in text and not Path(text).is_file()


def _yaml_entries(path: str | Path) -> list[MapEntry]:
    import yaml

    p = Path(path)
    src = str(p)
    if not p.exists():
        raise ConfigError(src, "", "column map file not found",
                          hint="pass a YAML file {file column: id}, or COLUMN=ID pairs")
    if p.is_dir():
        raise ConfigError(src, "", "is a folder, not a column map file", hint="pass a YAML file {file column: id}")
    try:
        raw = yaml.safe_load(p.read_text(encoding="utf-8-sig"))
    except UnicodeDecodeError:
        raise ConfigError(src, "", "not UTF-8 text", hint="save the column map as UTF-8") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else ""
        raise ConfigError(src, where, f"invalid YAML: {getattr(e, 'problem', e)}") from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(src, "", f"expected a mapping {{file column: id}}, got {type(raw).__name__}",
                          hint='write one line per column, e.g. "1、您对商品搜索便捷性的评价": PF1')
    return _dict_entries(raw, src)


def _dict_entries(raw: Mapping[Any, Any], src: str) -> list[MapEntry]:
    out = []
    for k, v in raw.items():
        if v is not None and not isinstance(v, (str, int)):
            raise ConfigError(src, str(k), f"target must be an id or null, got {type(v).__name__}")
        out.append(MapEntry(str(k).strip(), None if v is None or str(v).strip() == "" else str(v).strip(), src))
    return out


def _pair_entry(text: str, src: str) -> MapEntry:
    col, _, tgt = text.partition("=")
    col, tgt = col.strip(), tgt.strip()
    if not col:
        raise ConfigError(src, text, "expected COLUMN=ID with a file column before '='",
                          hint="e.g. --map Q1=PF1 or --map user_id=customer_id")
    return MapEntry(col, tgt or None, src, pair=True)


def parse_column_map(spec: Any, *, label: str = "column_map") -> list[MapEntry]:
    """Read a column map in any of its forms; the one parser of every verb.

    Parameters
    ----------
    spec : None, str, Path, dict, MapEntry, or a list/tuple of these and of "COLUMN=ID" strings
        A YAML file ``{file column: id}`` (``null`` ignores a column), a dict
        ``{file column: id}``, a ``"COLUMN=ID"`` string (``"COLUMN="`` ignores the column), or a
        list mixing them (later entries override earlier ones for the same column). A string
        is a pair when it contains ``=`` and is not an existing file.
    label : str
        How pairs and dicts are named in error messages (the CLI passes ``"--map"``).

    Returns
    -------
    list of MapEntry

    Raises
    ------
    ConfigError
        A missing or invalid YAML file, a target that is not text, a pair without a column.

    Examples
    --------
    >>> from crm_research.responses import parse_column_map
    >>> [(e.column, e.target, e.pair) for e in parse_column_map(["Q1=PF1", {"Q2": "PF2"}])]
    [('Q1', 'PF1', True), ('Q2', 'PF2', False)]
    """
    if spec is None:
        return []
    if isinstance(spec, MapEntry):
        return [spec]
    if isinstance(spec, Mapping):
        return _dict_entries(spec, label)
    if isinstance(spec, Path):
        return _yaml_entries(spec)
    if isinstance(spec, str):
        return [_pair_entry(spec, label)] if _is_pair(spec) else _yaml_entries(spec)
    if isinstance(spec, (list, tuple)):
        out: list[MapEntry] = []
        for part in spec:
            if isinstance(part, (list, tuple)):
                raise ConfigError(label, str(part), "nested lists are not a column map",
                                  hint='give a flat list such as ["Q1=PF1", "map.yaml"]')
            out.extend(parse_column_map(part, label=label))
        return out
    raise ConfigError(label, "", f"a column map must be a YAML path, a dict or a list of 'COLUMN=ID' strings, "
                                 f"got {type(spec).__name__}", hint="e.g. column_map={'Q1': 'PF1'}")


def load_column_map(spec: Any) -> dict[str, str | None]:
    """A column map ``{file column: id or None}`` from any form :func:`parse_column_map` reads.

    Entries are taken as written (no check against a file; see :func:`resolve_column_map`).

    Parameters
    ----------
    spec : mapping, list of "COLUMN=ID" strings, or path of a YAML file

    Returns
    -------
    dict of str to (str or None)
        None ignores the column.

    Examples
    --------
    >>> load_column_map({"Q1": "PF1", "Email": None})
    {'Q1': 'PF1', 'Email': None}
    >>> load_column_map(["Q1=PF1"])
    {'Q1': 'PF1'}
    """
    return {e.column: e.target for e in parse_column_map(spec)}


def resolve_column_map(spec: Any, columns: Iterable[Any] | None, targets: Iterable[str], *,
                       label: str = "column_map", file_what: str = "the response file",
                       target_what: str = "variable", target_hint: str | None = None
                       ) -> tuple[dict[str, str | None], list[str]]:
    """Check a column map against a file's columns and the valid ids; turn reversed pairs round.

    Parameters
    ----------
    spec
        Anything :func:`parse_column_map` reads.
    columns : iterable or None
        The file's column names; None when unknown (then only ``targets`` decide the order
        of a pair, and columns are not checked).
    targets : iterable of str
        The ids a column may be mapped to (instrument variables, model variables, canonical
        fields).
    label, file_what, target_what, target_hint
        Wording of messages: how pairs are named (``--map``), what the file is, what an id
        is (``variable``, ``field``) and how to fix an unknown id.

    Returns
    -------
    (dict, list of str)
        ``{file column: id or None}`` and notes (one per pair read the other way round).

    Raises
    ------
    ConfigError
        A column not in the file (with a did-you-mean), an unknown id, a pair that reads
        both ways (``A=B`` where A and B are both columns and both ids), one column mapped
        to two ids or two columns to one id.

    Examples
    --------
    >>> from crm_research.responses import resolve_column_map
    >>> resolve_column_map(["customer_id=user"], ["user", "paid_at"], ["customer_id", "timestamp"], label="--map")
    ({'user': 'customer_id'}, ["--map customer_id=user: read as file column 'user' -> 'customer_id' (the older ID=COLUMN order); write --map user=customer_id"])
    """
    entries = parse_column_map(spec, label=label)
    cols = None if columns is None else [str(c) for c in columns]
    colset = None if cols is None else set(cols)
    tset = {str(t) for t in targets}
    out: dict[str, str | None] = {}
    notes: list[str] = []
    claimed: dict[str, str] = {}
    for e in entries:
        col, tgt = e.column, e.target
        key = f"{col}={tgt or ''}" if e.pair else col
        if e.pair and tgt is not None and col != tgt:
            fwd = (colset is None or col in colset) and tgt in tset
            rev = (colset is None or tgt in colset) and col in tset
            if fwd and rev:
                both = "are both " + ("ids" if colset is None else f"columns of {file_what} and ids")
                raise ConfigError(e.source, key, f"ambiguous: {col!r} and {tgt!r} {both}, so the pair reads both "
                                  f"ways (file column {col!r} -> {tgt!r}, or file column {tgt!r} -> {col!r})",
                                  hint=f"put the mapping in a YAML file (--map MAP.yaml), which is always "
                                       f"'file column: {target_what}', e.g. '{col}: {tgt}'")
            if rev and not fwd:
                notes.append(f"{e.source} {col}={tgt}: read as file column {tgt!r} -> {col!r} (the older "
                             f"ID=COLUMN order); write {e.source} {tgt}={col}")
                col, tgt = tgt, col
                key = f"{col}={tgt}"
        if colset is not None and col not in colset:
            near = [c for c in cols if compact(c) == compact(col)] or difflib.get_close_matches(col, cols, n=1)
            hint = f"did you mean {near[0]!r}?" if near else "copy the header exactly as it appears in the file"
            if not e.pair and tgt is not None and tgt in colset and col in tset:
                hint = f"a map file is 'file column: {target_what}'; write '{tgt}: {col}'"
            raise ConfigError(e.source, key, f"this column is not in {file_what}", hint=hint)
        if tgt is not None and tgt not in tset:
            near = difflib.get_close_matches(tgt, sorted(tset), n=1)
            hint = target_hint or f"use one of: {', '.join(sorted(tset)[:30])}"
            if near:
                hint = f"did you mean {near[0]!r}? " + hint
            raise ConfigError(e.source, key, f"unknown {target_what} {tgt!r}", hint=hint)
        if tgt is not None and tgt in claimed and claimed[tgt] != col:
            raise ConfigError(e.source, key, f"{target_what} {tgt!r} is mapped from two columns, "
                              f"{claimed[tgt]!r} and {col!r}", hint="map one column to each id")
        if out.get(col) is not None and out[col] != tgt:
            claimed.pop(out[col], None)
        out[col] = tgt
        if tgt is not None:
            claimed[tgt] = col
    return out, notes


def _keys(texts: Iterable[str]) -> list[tuple[str, str]]:
    """(compact, spaced) forms of a variable's texts, with numbering/tags stripped."""
    out = []
    for t in texts:
        c = compact(strip_question(t))
        if c:
            out.append((c, spaced(strip_question(t))))
    return out


def _exact(variants: list[str], tindex: dict[str, set[str]]) -> set[str]:
    hits: set[str] = set()
    for v in variants:
        hits |= tindex.get(compact(v), set())
    return hits


def _partial(header: str, tkeys: dict[str, list[tuple[str, str]]]) -> set[str]:
    h = strip_question(header)
    hc, hs = compact(h), spaced(h)
    if len(hc) < 4:
        return set()
    hits = set()
    for tid, keys in tkeys.items():
        for kc, ks in keys:
            if len(kc) >= 4:
                if has_cjk(kc) and kc in hc:
                    hits.add(tid)
                    break
                if not has_cjk(kc) and ks in hs:
                    hits.add(tid)
                    break
            # header is a truncated form of the text
            if len(hc) >= max(8 if has_cjk(hc) else 16, int(0.6 * len(kc))) and kc.startswith(hc):
                hits.add(tid)
                break
    return hits


def map_columns(columns: Iterable[Any], instrument: Instrument,
                column_map: Mapping[str, Any] | str | Path | list | None = None,
                labels: Mapping[str, str] | None = None, *, map_label: str = "column_map") -> ColumnMapping:
    """Map file columns to instrument variables (see module docstring for the rules).

    Parameters
    ----------
    columns : iterable
        Column names of the response file, in file order.
    instrument : Instrument
    column_map : YAML path, dict, list of "COLUMN=ID" strings, optional
        ``{file column: variable id}`` in any form :func:`parse_column_map` reads; ``null``
        ignores a column. Unknown variable ids and columns absent from the file raise
        :class:`~crm_research.errors.ConfigError`; a pair written ``ID=COLUMN`` is turned
        round with a note (``ColumnMapping.notes``) when that is the only reading.
    labels : dict, optional
        ``{column: question text}`` from the file's metadata (SPSS variable labels).
    map_label : str
        How pairs are named in messages (the CLI passes ``"--map"``).

    Returns
    -------
    ColumnMapping

    Examples
    --------
    >>> from crm_research.instruments import load_instrument
    >>> m = map_columns(["ID", "PF1", "满意度1"], load_instrument("surveys/ecommerce_crm.yaml"),
    ...                 column_map={"满意度1": "SAT1"})
    >>> dict(zip(m.table["column"], m.table["mapped_to"]))
    {'ID': 'respondent_id', 'PF1': 'PF1', '满意度1': 'SAT1'}
    """
    cols = [str(c) for c in columns]
    labels = dict(labels or {})
    tlist = targets(instrument)
    by_id = {t.id: t for t in tlist}
    cmap, notes = resolve_column_map(
        column_map, cols, by_id, label=map_label, file_what="the response file", target_what="variable",
        target_hint="use an item, attention-check, demographic or personal-data id of the "
                    f"instrument, or {instrument.respondent_id!r} / {by_id_duration(tlist)!r}")

    id_index: dict[str, set[str]] = {}
    syn_index: dict[str, set[str]] = {}
    text_index: dict[str, set[str]] = {}
    tkeys: dict[str, list[tuple[str, str]]] = {}
    for t in tlist:
        id_index.setdefault(compact(t.id), set()).add(t.id)
        for s in t.synonyms:
            syn_index.setdefault(compact(s), set()).add(t.id)
        keys = _keys(t.texts)
        tkeys[t.id] = keys
        for kc, _ in keys:
            text_index.setdefault(kc, set()).add(t.id)
    # a synonym that is also another variable's id would be ambiguous: ids win
    for k in list(syn_index):
        if k in id_index:
            del syn_index[k]

    proposals: dict[str, tuple[str | None, str, tuple[str, ...]]] = {}
    for col in cols:
        if col in cmap:
            proposals[col] = (cmap[col], "column_map" if cmap[col] else "ignored", ())
            continue
        hits = id_index.get(compact(col), set())
        if len(hits) == 1:
            proposals[col] = (next(iter(hits)), "id", ())
            continue
        hits = syn_index.get(compact(col), set()) or syn_index.get(compact(strip_question(col)), set())
        if len(hits) == 1:
            proposals[col] = (next(iter(hits)), "synonym", ())
            continue
        found = None
        for method, text in (("text", col), ("label", labels.get(col))):
            if not text:
                continue
            hits = _exact(header_variants(text), text_index)
            if hits:
                found = (method, hits)
                break
        if found is None:
            for method, text in (("text_partial", col), ("text_partial", labels.get(col))):
                if not text:
                    continue
                hits = _partial(text, tkeys)
                if hits:
                    found = (method, hits)
                    break
        if found is None:
            proposals[col] = (None, "unmapped", ())
        elif len(found[1]) == 1:
            proposals[col] = (next(iter(found[1])), found[0], ())
        else:
            order = {t.id: i for i, t in enumerate(tlist)}
            proposals[col] = (None, "ambiguous", tuple(sorted(found[1], key=order.get)))

    # one column per variable: best precedence wins, ties conflict
    claims: dict[str, list[str]] = {}
    for col in cols:
        target, method, _ = proposals[col]
        if target:
            claims.setdefault(target, []).append(col)
    for target, cs in claims.items():
        if len(cs) < 2:
            continue
        best = min(_PRECEDENCE[proposals[c][1]] for c in cs)
        winners = [c for c in cs if _PRECEDENCE[proposals[c][1]] == best]
        for c in cs:
            if c in winners and len(winners) == 1:
                continue
            others = tuple(x for x in cs if x != c)
            proposals[c] = (None, "conflict", (target,) + tuple(f"column {x!r}" for x in others))

    rows = []
    for col in cols:
        target, method, cands = proposals[col]
        rows.append(dict(column=col, mapped_to=target, role=by_id[target].role if target else None,
                         method=method, candidates=", ".join(cands)))
    table = pd.DataFrame(rows, columns=["column", "mapped_to", "role", "method", "candidates"])
    table["mapped_to"] = table["mapped_to"].astype(object)
    table["role"] = table["role"].astype(object)
    mapped = {r["mapped_to"]: r["column"] for r in rows if r["mapped_to"]}
    expected = pd.DataFrame([dict(variable=t.id, role=t.role, column=mapped.get(t.id)) for t in tlist],
                            columns=["variable", "role", "column"])
    expected["column"] = expected["column"].astype(object)
    return ColumnMapping(table, expected, notes)


def by_id_duration(tlist: list[Target]) -> str:
    return next(t.id for t in tlist if t.role == "duration")

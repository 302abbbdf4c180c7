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
"""
from __future__ import annotations

import html
from dataclasses import dataclass
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
    """

    table: pd.DataFrame
    expected: pd.DataFrame

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


def load_column_map(spec: str | Path | Mapping[str, Any] | None) -> dict[str, str | None]:
    """A column map from a dict or a YAML file ``{column: variable id or null}``."""
    if spec is None:
        return {}
    if isinstance(spec, Mapping):
        raw, src = dict(spec), "column_map"
    else:
        import yaml

        p = Path(spec)
        src = str(p)
        if not p.exists():
            raise ConfigError(src, "", "column map file not found", hint="pass a YAML file {column: item_id}")
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
            raise ConfigError(src, "", f"expected a mapping {{column: item_id}}, got {type(raw).__name__}",
                              hint='write one line per column, e.g. "1、您对商品搜索便捷性的评价": PF1')
    out: dict[str, str | None] = {}
    for k, v in raw.items():
        if v is not None and not isinstance(v, (str, int)):
            raise ConfigError(src, str(k), f"target must be a variable id or null, got {type(v).__name__}")
        out[str(k).strip()] = None if v is None or str(v).strip() == "" else str(v).strip()
    return out


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
                column_map: Mapping[str, Any] | str | Path | None = None,
                labels: Mapping[str, str] | None = None) -> ColumnMapping:
    """Map file columns to instrument variables (see module docstring for the rules).

    Parameters
    ----------
    columns : iterable
        Column names of the response file, in file order.
    instrument : Instrument
    column_map : dict or path to YAML, optional
        ``{column: variable id}``; ``null`` ignores a column. Unknown variable ids and
        columns absent from the file raise :class:`~crm_research.errors.ConfigError`.
    labels : dict, optional
        ``{column: question text}`` from the file's metadata (SPSS variable labels).

    Returns
    -------
    ColumnMapping
    """
    cols = [str(c) for c in columns]
    labels = dict(labels or {})
    tlist = targets(instrument)
    by_id = {t.id: t for t in tlist}
    cmap = load_column_map(column_map)
    src = str(column_map) if isinstance(column_map, (str, Path)) else "column_map"
    for col, target in cmap.items():
        if col not in cols:
            near = [c for c in cols if compact(c) == compact(col)]
            raise ConfigError(src, col, "this column is not in the response file",
                              hint=f"did you mean {near[0]!r}?" if near else
                              "copy the header exactly as it appears in the file")
        if target is not None and target not in by_id:
            raise ConfigError(src, col, f"unknown variable {target!r}",
                              hint="use an item, attention-check, demographic or personal-data id of the "
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
    return ColumnMapping(table, expected)


def by_id_duration(tlist: list[Target]) -> str:
    return next(t.id for t in tlist if t.role == "duration")

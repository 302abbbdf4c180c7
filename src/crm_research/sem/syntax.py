"""lavaan model syntax -> flat list of model elements (:class:`FlatRow`).

Supported (lavaan 0.6 semantics):

* operators ``=~`` (measured by), ``~`` (regressed on), ``~~`` (covaries with), ``~ 1``
  (intercept / mean), ``:=`` (defined parameter) and simple equality constraints
  ``a == b`` between two parameter labels (merged into one free parameter, as lavaan);
* several terms on either side (``y1 + y2 ~ x1 + x2``), formulas spread over several lines
  (a line without an operator continues the previous formula), ``;`` as separator,
  comments starting with ``#`` or ``!``;
* modifiers in front of a term: a label (``a*x`` or ``"a"*x``), a fixed value (``1*x``,
  ``0*x``, ``-0.5*x``), ``NA*x`` (free a parameter that would be fixed, e.g. the marker
  loading), ``start(0.3)*x`` / ``0.3?x`` (starting value), ``label("a")*x``,
  ``equal("a")*x`` and, in multiple-group models, ``c(...)*x`` with one entry per group.
  A term repeated within one formula merges its modifiers (``NA*x1 + a*x1``), as in lavaan.

Thresholds ``x | t1 + t2`` and scale factors ``x ~*~ x`` are read for models with ordered
indicators (``parse_syntax(..., categorical=True)``, used by :mod:`.categorical`).

Everything else lavaan knows but this package does not estimate (``<~``, ``|``/``~*~`` in a
model without ordered items, ``==`` with anything but two labels, ``<``, ``>``, block/group ``:`` lines, interaction terms, ``lower()``, ``upper()``,
``prior()``, ``efa()``, ``rv()``) raises :class:`~crm_research.errors.ModelSyntaxError`
naming the line; nothing is silently dropped.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from ..errors import ModelSyntaxError

# operator detection order matters (as lavaan's parser): "=~" before "~", "~~" before "~"
_OPERATORS = ["=~", "<~", "~*~", "~~", "~", "==", "<", ">", ":=", ":", "|", "%"]
_UNSUPPORTED = {
    "<~": ("formative (composite) indicators '<~' are not supported",
           "model the composite as a reflective factor '=~' or compute a sum score"),
    "~*~": ("scale parameters '~*~' belong to ordered (categorical) indicators",
            "declare the items ordered: sem.fit(..., ordered=[...]) (estimator WLSMV)"),
    "<": ("inequality constraints '<' are not supported", "remove the constraint"),
    ">": ("inequality constraints '>' are not supported", "remove the constraint"),
    ":": ("block/group sections ('group: 1') are not supported in the syntax",
          "pass group='column' to sem.fit() and use c(...) modifiers for group-specific values"),
    "|": ("thresholds '|' belong to ordered (categorical) indicators",
          "declare the items ordered: sem.fit(..., ordered=[...]) (estimator WLSMV)"),
    "%": ("the '%' operator (group weights) is not supported", "remove the line"),
}

_NAME = r"[A-Za-z_.][A-Za-z0-9_.]*"
_NUMBER = r"(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_TOKEN_RE = re.compile(
    rf"\s*(?:(?P<number>{_NUMBER})|(?P<name>{_NAME})|(?P<string>\"[^\"]*\"|'[^']*')|(?P<sym>[-+*?(),:^/]))"
)
_NAME_RE = re.compile(rf"^{_NAME}$")
_RESERVED = {"if", "else", "repeat", "while", "function", "for", "in", "NA", "TRUE", "FALSE", "NULL",
             "Inf", "NaN", "next", "break"}


@dataclass
class Modifier:
    """Modifiers attached to one model element; list values hold one entry per group."""

    fixed: list | None = None        # float, or nan for NA (= explicitly free)
    start: list | None = None
    label: list | None = None

    def merge(self, other: "Modifier", line_no: int, line: str, what: str) -> None:
        for kind in ("fixed", "start", "label"):
            new = getattr(other, kind)
            if new is None:
                continue
            if getattr(self, kind) is not None:
                raise ModelSyntaxError(line_no, line, f"{what} has two {kind} modifiers",
                                       hint="give each element at most one label, one value and one start value")
            setattr(self, kind, new)

    def n_values(self) -> int:
        return max((len(v) for v in (self.fixed, self.start, self.label) if v is not None), default=0)


@dataclass
class FlatRow:
    """One model element as written by the user."""

    lhs: str
    op: str
    rhs: str
    mod: Modifier = field(default_factory=Modifier)
    line_no: int = 0
    line: str = ""


@dataclass
class Definition:
    """A ``name := expression`` line."""

    name: str
    expr: str          # as lavaan stores it: whitespace removed
    line_no: int
    line: str


@dataclass
class Equality:
    """A simple equality constraint ``lhs == rhs`` between two parameter labels."""

    lhs: str
    rhs: str
    line_no: int
    line: str


@dataclass
class ParsedModel:
    rows: list[FlatRow]
    definitions: list[Definition]
    text: str
    equalities: list[Equality] = field(default_factory=list)


# ---------------------------------------------------------------------------------------
def _statements(text: str) -> list[tuple[int, str]]:
    """Split model text into (first line number, statement) pairs, joining continuations."""
    out: list[list] = []
    for no, raw in enumerate(text.splitlines(), start=1):
        code = re.split(r"[#!]", raw, maxsplit=1)[0]
        for part in code.split(";"):
            part = part.strip()
            if not part:
                continue
            simple = re.sub(r"\"[^\"]*\"|'[^']*'", "LABEL", part)
            has_op = any(op in simple for op in ("~", "=", "<", ">", ":", "|", "%"))
            if has_op or not out:
                if not has_op:
                    raise ModelSyntaxError(no, raw, "no operator found (expected =~, ~, ~~, ~ 1 or :=)",
                                           hint="each formula needs an operator; check for a typo")
                out.append([no, part, raw])
            else:  # continuation of the previous formula (lavaan joins lines without operator)
                out[-1][1] = out[-1][1] + " " + part
                out[-1][2] = out[-1][2].rstrip() + " " + raw.strip()
    return [(no, stmt, raw) for no, stmt, raw in out]


def _detect_op(stmt: str) -> str:
    simple = re.sub(r"\"[^\"]*\"|'[^']*'", "LABEL", stmt)
    for op in _OPERATORS:
        if op in simple:
            return op
    return ""


def _tokenize(s: str, line_no: int, line: str) -> list[tuple[str, str]]:
    toks: list[tuple[str, str]] = []
    pos = 0
    s = s.rstrip()
    while pos < len(s):
        m = _TOKEN_RE.match(s, pos)
        if not m or m.end() == pos:
            bad = s[pos:].strip()[:10]
            raise ModelSyntaxError(line_no, line, f"unexpected character(s) {bad!r}",
                                   hint="variable names may contain letters, digits, '.' and '_'")
        kind = m.lastgroup
        toks.append((kind, m.group(kind)))
        pos = m.end()
        while pos < len(s) and s[pos].isspace():
            pos += 1
    return toks


def _split_terms(toks, line_no, line):
    """Split tokens at top-level '+'."""
    terms, cur, depth = [], [], 0
    for t in toks:
        if t == ("sym", "("):
            depth += 1
        elif t == ("sym", ")"):
            depth -= 1
        if t == ("sym", "+") and depth == 0:
            if cur:
                terms.append(cur)
            elif terms:  # '+ +'
                raise ModelSyntaxError(line_no, line, "empty term between '+' signs")
            cur = []
            continue
        cur.append(t)
    if depth != 0:
        raise ModelSyntaxError(line_no, line, "unbalanced parentheses")
    if cur:
        terms.append(cur)
    elif terms:
        raise ModelSyntaxError(line_no, line, "formula ends with '+'", hint="remove the trailing '+' or add the missing term")
    return terms


def _number(toks, i, line_no, line):
    """Parse an optionally signed number at toks[i]; return (value, next index) or (None, i)."""
    sign = 1.0
    j = i
    if j < len(toks) and toks[j] in (("sym", "-"), ("sym", "+")):
        sign = -1.0 if toks[j][1] == "-" else 1.0
        j += 1
    if j < len(toks) and toks[j][0] == "number":
        return sign * float(toks[j][1]), j + 1
    return None, i


def _parse_modifier(toks, line_no, line) -> Modifier:
    """Parse the tokens before '*' of one term."""
    mod = Modifier()
    if len(toks) == 1 and toks[0][0] == "name" and toks[0][1] == "NA":
        mod.fixed = [math.nan]
        return mod
    val, j = _number(toks, 0, line_no, line)
    if val is not None and j == len(toks):
        mod.fixed = [val]
        return mod
    if len(toks) == 1 and toks[0][0] == "name":
        name = toks[0][1]
        if name in _RESERVED:
            raise ModelSyntaxError(line_no, line, f"{name!r} cannot be used as a label")
        mod.label = [name]
        return mod
    if len(toks) == 1 and toks[0][0] == "string":
        mod.label = [toks[0][1][1:-1]]
        return mod
    if len(toks) >= 3 and toks[0][0] == "name" and toks[1] == ("sym", "(") and toks[-1] == ("sym", ")"):
        fname = toks[0][1]
        args = _split_args(toks[2:-1], line_no, line)
        if fname in ("lower", "upper"):
            raise ModelSyntaxError(line_no, line, f"bounds ({fname}()) are not supported",
                                   hint="remove the bound; ML estimates here are unbounded as in lavaan's default")
        if fname in ("prior", "efa", "rv"):
            raise ModelSyntaxError(line_no, line, f"the {fname}() modifier is not supported")
        if fname == "start":
            mod.start = [_arg_number(a, line_no, line, allow_na=False) for a in args]
            return mod
        if fname in ("label", "equal"):
            mod.label = [_arg_label(a, line_no, line) for a in args]
            return mod
        if fname == "c":
            kinds = set()
            vals = []
            for a in args:
                if len(a) == 1 and a[0] in (("name", "NA"),):
                    vals.append(("na", math.nan))
                    continue
                v, j = _number(a, 0, line_no, line)
                if v is not None and j == len(a):
                    vals.append(("num", v)); kinds.add("num")
                    continue
                vals.append(("lab", _arg_label(a, line_no, line))); kinds.add("lab")
            if kinds == {"lab"}:
                mod.label = ["" if k == "na" else v for k, v in vals]
            elif "lab" in kinds:
                raise ModelSyntaxError(line_no, line, "c(...) mixes labels and numbers",
                                       hint="write labels and fixed values as separate modifiers: c(a, b)*x + c(1, NA)*x")
            else:
                mod.fixed = [v for _, v in vals]
            return mod
        raise ModelSyntaxError(line_no, line, f"unknown modifier {fname}()",
                               hint="supported modifiers: label*, value*, NA*, start(), label(), equal(), c()")
    text = "".join(t[1] for t in toks)
    raise ModelSyntaxError(line_no, line, f"cannot read the modifier {text!r}",
                           hint="one modifier per term: a label (a*x), a value (1*x), NA*x or start(0.5)*x; "
                                "repeat the term for several modifiers (NA*x1 + a*x1)")


def _split_args(toks, line_no, line):
    args, cur = [], []
    for t in toks:
        if t == ("sym", ","):
            args.append(cur)
            cur = []
        else:
            cur.append(t)
    args.append(cur)
    if any(len(a) == 0 for a in args):
        raise ModelSyntaxError(line_no, line, "empty argument in a modifier")
    return args


def _arg_number(a, line_no, line, allow_na=True):
    if allow_na and len(a) == 1 and a[0] == ("name", "NA"):
        return math.nan
    v, j = _number(a, 0, line_no, line)
    if v is None or j != len(a):
        raise ModelSyntaxError(line_no, line, f"expected a number, got {''.join(t[1] for t in a)!r}")
    return v


def _arg_label(a, line_no, line):
    if len(a) == 1 and a[0][0] == "string":
        return a[0][1][1:-1]
    if len(a) == 1 and a[0][0] == "name" and a[0][1] not in _RESERVED:
        return a[0][1]
    raise ModelSyntaxError(line_no, line, f"expected a label, got {''.join(t[1] for t in a)!r}")


def _parse_term(term, op, line_no, line):
    """Return (name, Modifier) for one rhs term; name '' is the intercept '1'."""
    # 'value?x' start syntax
    if ("sym", "?") in term:
        k = term.index(("sym", "?"))
        v, j = _number(term[:k], 0, line_no, line)
        if v is None or j != k:
            raise ModelSyntaxError(line_no, line, "'?' must follow a number (start value), e.g. 0.5?x")
        rest = term[k + 1:]
        name, mod = _parse_term(rest, op, line_no, line)
        mod.merge(Modifier(start=[v]), line_no, line, name or "1")
        return name, mod
    stars = [i for i, t in enumerate(term) if t == ("sym", "*") and _depth_at(term, i) == 0]
    if len(stars) > 1:
        raise ModelSyntaxError(line_no, line, "more than one modifier in front of a term",
                               hint="repeat the term instead, e.g. 'NA*x1 + a*x1'")
    if stars:
        k = stars[0]
        if k == 0:
            raise ModelSyntaxError(line_no, line, "'*' without a modifier in front")
        mod = _parse_modifier(term[:k], line_no, line)
        target = term[k + 1:]
    else:
        mod = Modifier()
        target = term
    if len(target) == 1 and target[0][0] == "name":
        name = target[0][1]
        if name in _RESERVED:
            raise ModelSyntaxError(line_no, line, f"{name!r} is a reserved word, not a variable name")
        return name, mod
    if len(target) == 1 and target[0][0] == "number":
        val = float(target[0][1])
        if op == "~" and val == 1.0:
            return "", mod
        if op == "~" and val == 0.0 and not stars:
            raise ModelSyntaxError(line_no, line, "'~ 0' (no intercept) is not supported",
                                   hint="fix the intercept explicitly: 'y ~ 0*1'")
        raise ModelSyntaxError(line_no, line, f"a number ({target[0][1]}) where a variable name was expected",
                               hint="write intercepts as 'y ~ 1' and fixed values as '1*x'")
    if any(t == ("sym", ":") for t in target):
        raise ModelSyntaxError(line_no, line, "interaction terms (x:z) are not supported",
                               hint="compute the product variable in the data and use it as an observed variable")
    text = "".join(t[1] for t in target) or "(nothing)"
    raise ModelSyntaxError(line_no, line, f"cannot read the term {text!r}",
                           hint="terms are variable names, optionally with one modifier: a*x, 1*x, NA*x")


def _depth_at(toks, i):
    d = 0
    for t in toks[:i]:
        if t == ("sym", "("):
            d += 1
        elif t == ("sym", ")"):
            d -= 1
    return d


def _parse_side_names(side: str, line_no, line) -> list[str]:
    toks = _tokenize(side, line_no, line)
    names = []
    for term in _split_terms(toks, line_no, line):
        if len(term) != 1 or term[0][0] != "name":
            txt = "".join(t[1] for t in term)
            if ("sym", "*") in term:
                raise ModelSyntaxError(line_no, line, f"modifiers are not allowed on the left-hand side ({txt!r})",
                                       hint="put labels/values on the right-hand side term")
            raise ModelSyntaxError(line_no, line, f"left-hand side {txt!r} is not a variable name")
        if term[0][1] in _RESERVED:
            raise ModelSyntaxError(line_no, line, f"{term[0][1]!r} is a reserved word, not a variable name")
        names.append(term[0][1])
    if not names:
        raise ModelSyntaxError(line_no, line, "the left-hand side is empty")
    return names


def parse_syntax(model: str, *, categorical: bool = False) -> ParsedModel:
    """Parse lavaan model syntax into flat rows and ``:=`` definitions.

    With ``categorical=True`` (models with ordered indicators) thresholds ``x | t1 + t2``
    and scale factors ``x ~*~ x`` are read too, with the usual modifiers
    (``x1 | a*t1 + 0.5*t2``).

    Raises
    ------
    ModelSyntaxError
        For anything not understood or not supported, naming the line.
    """
    if not isinstance(model, str):
        raise ModelSyntaxError(0, str(type(model)), "the model must be a string of lavaan syntax")
    statements = _statements(model)
    if not statements:
        raise ModelSyntaxError(0, "", "the model syntax is empty", hint="write e.g. 'f =~ x1 + x2 + x3'")
    rows: list[FlatRow] = []
    defs: list[Definition] = []
    eqs: list[Equality] = []
    seen: dict[tuple, FlatRow] = {}
    for line_no, stmt, raw in statements:
        op = _detect_op(stmt)
        if not op:
            raise ModelSyntaxError(line_no, raw, "no operator found (expected =~, ~, ~~, ~ 1 or :=)")
        if op in _UNSUPPORTED and not (categorical and op in ("|", "~*~")):
            problem, hint = _UNSUPPORTED[op]
            raise ModelSyntaxError(line_no, raw, problem, hint=hint)
        k = stmt.index(op)
        lhs_txt, rhs_txt = stmt[:k].strip(), stmt[k + len(op):].strip()
        if op == ":=":
            if not _NAME_RE.match(lhs_txt) or lhs_txt in _RESERVED:
                raise ModelSyntaxError(line_no, raw, f"the name of a defined parameter must be a plain name, got {lhs_txt!r}")
            if not rhs_txt:
                raise ModelSyntaxError(line_no, raw, "the expression after ':=' is empty")
            defs.append(Definition(lhs_txt, re.sub(r"\s+", "", rhs_txt), line_no, raw))
            continue
        if op == "==":
            eqs.append(_parse_equality(lhs_txt, rhs_txt, line_no, raw))
            continue
        if not lhs_txt:
            raise ModelSyntaxError(line_no, raw, f"nothing on the left of {op!r}")
        if not rhs_txt:
            raise ModelSyntaxError(line_no, raw, f"nothing on the right of {op!r}")
        if rhs_txt.startswith("+"):
            rhs_txt = rhs_txt[1:]
        lhs_names = _parse_side_names(lhs_txt, line_no, raw)
        toks = _tokenize(rhs_txt, line_no, raw)
        terms = _split_terms(toks, line_no, raw)
        parsed: dict[str, Modifier] = {}
        order: list[str] = []
        for term in terms:
            name, mod = _parse_term(term, op, line_no, raw)
            if name == "" and op != "~":
                raise ModelSyntaxError(line_no, raw, "'1' (intercept) is only valid after '~'")
            if name in parsed:  # lavaan merges repeated terms within one formula
                parsed[name].merge(mod, line_no, raw, name)
            else:
                parsed[name] = mod
                order.append(name)
        for lhs in lhs_names:
            for name in order:
                mod = parsed[name]
                r_op = "~1" if (op == "~" and name == "") else op
                if op == "=~" and lhs == name:
                    raise ModelSyntaxError(line_no, raw, f"latent variable {lhs!r} cannot be measured by itself")
                if op == "~" and lhs == name:
                    raise ModelSyntaxError(line_no, raw, f"{lhs!r} is regressed on itself")
                if op == "|" and not re.fullmatch(r"t[1-9][0-9]*", name):
                    raise ModelSyntaxError(line_no, raw, f"thresholds are named t1, t2, ...; got {name!r}",
                                           hint=f"write e.g. '{lhs} | t1 + t2'")
                if op == "~*~" and lhs != name:
                    raise ModelSyntaxError(line_no, raw, "a scale factor relates a variable to itself",
                                           hint=f"write '{lhs} ~*~ {lhs}'")
                key = (lhs, r_op, name) if r_op != "~~" else tuple(sorted((lhs, name))) + ("~~",)
                if key in seen:
                    prev = seen[key]
                    raise ModelSyntaxError(line_no, raw, f"duplicate model element {lhs} {r_op} {name}".rstrip(),
                                           hint=f"it is already given on line {prev.line_no}; write it once")
                row = FlatRow(lhs, r_op, name, Modifier(list(mod.fixed) if mod.fixed else None,
                                                        list(mod.start) if mod.start else None,
                                                        list(mod.label) if mod.label else None),
                              line_no, raw)
                seen[key] = row
                rows.append(row)
    if not rows:
        raise ModelSyntaxError(statements[0][0], statements[0][2], "the model has no =~, ~ or ~~ formula",
                               hint="defined parameters (:=) need a model to refer to")
    return ParsedModel(rows, defs, model, eqs)


def _parse_equality(lhs_txt: str, rhs_txt: str, line_no: int, raw: str) -> Equality:
    """``a == b`` with two plain labels; anything else (``a == 2*b``, ``a == 0.5``, sums)
    is rejected: only simple equalities can be merged into one free parameter."""
    for side, txt in (("left", lhs_txt), ("right", rhs_txt)):
        if not txt:
            raise ModelSyntaxError(line_no, raw, f"nothing on the {side} of '=='")
        if not _NAME_RE.match(txt) or txt in _RESERVED:
            raise ModelSyntaxError(line_no, raw,
                                   f"only simple equality constraints between two labels are supported "
                                   f"(got {txt!r} on the {side} of '==')",
                                   hint="write 'a == b' with two parameter labels; for a fixed value use "
                                        "'2*x' in the formula, for other constraints reparametrize")
    if lhs_txt == rhs_txt:
        raise ModelSyntaxError(line_no, raw, f"the constraint {lhs_txt} == {rhs_txt} compares a label with itself")
    return Equality(lhs_txt, rhs_txt, line_no, raw)

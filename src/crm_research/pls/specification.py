"""PLS path-model syntax: lavaan-style, as cSEM reads it.

``=~`` a reflective construct (mode A weights), ``<~`` a composite (mode B weights),
``~`` structural regressions, ``A:B`` (or cSEM's ``A.B``) an interaction term in a
structural line, a construct measured by other constructs a higher-order construct,
``X =~ x`` a single-item construct (the item may carry the construct's own name).
Lines are separated by newlines or ``;``; ``#`` starts a comment.

>>> m = parse_model('''
...   IMAG =~ IMAG1 + IMAG2 + IMAG3
...   CUSA <~ CUSA1 + CUSA2
...   CUSA ~ IMAG''')
>>> m.constructs, m.modes["CUSA"], m.structural["CUSA"]
(('IMAG', 'CUSA'), 'B', ('IMAG',))
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from crm_research.errors import ModelSyntaxError, ModelError

__all__ = ["PLSModel", "parse_model", "interaction_name"]

_NAME = re.compile(r"^[^\W\d][\w.]*$")   # letters of any script, digits, _ and .
_OPS = ("=~", "<~", "~~", "~")


def interaction_name(a: str, b: str) -> str:
    """The name of the interaction construct of ``a`` and ``b`` (lavaan's ``a:b``).

    >>> interaction_name("IMAG", "CUEX")
    'IMAG:CUEX'
    """
    return f"{a}:{b}"


@dataclass(frozen=True)
class PLSModel:
    """A parsed PLS path model.

    Attributes
    ----------
    constructs : tuple of str
        Construct names in order (first appearance; interaction terms after their
        components, higher-order constructs where they are defined).
    indicators : tuple of str
        The data columns the model needs, in order of first appearance (interaction
        product indicators are not data columns: see ``interactions``).
    blocks : dict
        Construct -> tuple of its indicator (column) names. A higher-order construct's block
        is the union of its lower-order constructs' blocks (repeated indicators); an
        interaction's block is its product indicators ``"x:z"`` (see
        :func:`crm_research.pls.fit` for how they are formed).
    modes : dict
        Construct -> ``"A"`` (reflective, ``=~``) or ``"B"`` (composite, ``<~``).
    structural : dict
        Endogenous construct -> tuple of its predictors (``paths[i, j]`` of
        :class:`~crm_research.pls.algorithm.Estimates` is the effect of ``j`` on ``i``).
    higher_order : dict
        Higher-order construct -> tuple of its lower-order constructs.
    interactions : dict
        Interaction construct name -> ``(a, b)`` its two component constructs.
    syntax : str
        The syntax as given.
    """

    constructs: tuple
    indicators: tuple
    blocks: dict
    modes: dict
    structural: dict
    higher_order: dict = field(default_factory=dict)
    interactions: dict = field(default_factory=dict)
    syntax: str = ""

    @property
    def columns(self) -> tuple:
        """The rows/columns of the indicator correlation matrix the algorithm works on:
        the data indicators (``indicators``), then any other block members (product indicators
        ``"x:z"`` of interaction constructs, stage-2 score columns) in construct order."""
        out: list = list(self.indicators)
        for c in self.constructs:
            for x in self.blocks[c]:
                if x not in out:
                    out.append(x)
        return tuple(out)

    @property
    def endogenous(self) -> tuple:
        """Constructs with at least one predictor, in construct order."""
        return tuple(c for c in self.constructs if self.structural.get(c))

    @property
    def exogenous(self) -> tuple:
        """Constructs without predictors, in construct order."""
        return tuple(c for c in self.constructs if not self.structural.get(c))

    @property
    def single_item(self) -> tuple:
        """Constructs measured by one indicator."""
        return tuple(c for c in self.constructs if len(self.blocks[c]) == 1)

    def adjacency(self):
        """``D`` (c x c, int): ``D[i, j] = 1`` when construct ``j`` predicts construct ``i``."""
        import numpy as np

        idx = {c: k for k, c in enumerate(self.constructs)}
        d = np.zeros((len(self.constructs), len(self.constructs)), dtype=int)
        for dep, preds in self.structural.items():
            for p in preds:
                d[idx[dep], idx[p]] = 1
        return d

    def replace(self, **changes) -> "PLSModel":
        """A copy with some fields replaced (blocks/modes/structural re-validated by the caller)."""
        from dataclasses import replace as _r

        return _r(self, **changes)


def _split_lines(syntax: str):
    """Yield (line_no, text) of the statements, comments removed, ``;`` splitting a line."""
    for no, raw in enumerate(syntax.splitlines(), start=1):
        text = raw.split("#", 1)[0]
        for part in text.split(";"):
            if part.strip():
                yield no, part


def parse_model(syntax: str) -> PLSModel:
    """Parse lavaan-style PLS syntax into a :class:`PLSModel`.

    Parameters
    ----------
    syntax : str
        Measurement lines ``C =~ x1 + x2`` (mode A) or ``C <~ x1 + x2`` (mode B), and
        structural lines ``Y ~ X1 + X2 + X1:X2``. A construct whose indicators are all
        constructs is a higher-order construct; ``X1:X2`` is an interaction term.

    Returns
    -------
    PLSModel

    Raises
    ------
    ModelSyntaxError
        A line that cannot be read (names the line and what was expected).
    ModelError
        A model that is not a PLS path model (a construct without indicators, a construct
        not connected to any other, a recursive loop, ...).

    Examples
    --------
    >>> m = parse_model("H =~ A + B; A =~ a1 + a2; B =~ b1 + b2; Y =~ y; Y ~ H")
    >>> m.higher_order["H"], m.blocks["H"], m.structural["A"]
    (('A', 'B'), ('a1', 'a2', 'b1', 'b2'), ('H',))
    >>> parse_model("X =~ x1 + x2; Z =~ z1 + z2; Y =~ y; Y ~ X + Z + X:Z").interactions
    {'X:Z': ('X', 'Z')}
    """
    if not isinstance(syntax, str):
        raise ModelError(f"PLS model syntax must be a string, got {type(syntax).__name__}")
    meas: dict[str, tuple[str, list[str], int, str]] = {}   # construct -> (op, rhs, line_no, line)
    struct_lines: list[tuple[str, list[str], int, str]] = []
    for no, line in _split_lines(syntax):
        op = next((o for o in _OPS if o in line), None)
        if op is None:
            raise ModelSyntaxError(no, line, "expected an operator: '=~' (reflective), '<~' (composite) or '~' (regression)")
        if op == "~~":
            raise ModelSyntaxError(no, line, "'~~' (covariances) is not part of a PLS path model",
                                   hint="remove the line; PLS estimates construct correlations itself")
        lhs, rhs = line.split(op, 1)
        lhs = lhs.strip()
        if not _NAME.match(lhs):
            raise ModelSyntaxError(no, line, f"left-hand side {lhs!r} is not a single name")
        terms = [t.strip() for t in rhs.split("+")]
        if any(not t for t in terms):
            raise ModelSyntaxError(no, line, "empty term on the right-hand side (a stray '+'?)")
        for t in terms:
            if "*" in t:
                raise ModelSyntaxError(no, line, f"term {t!r}: modifiers/fixed values ('*') are not used in PLS",
                                       hint="give plain names")
            names = t.split(":") if op == "~" else [t]
            for n in names:
                if not _NAME.match(n.strip()):
                    raise ModelSyntaxError(no, line, f"term {t!r} is not a name" + (" or A:B interaction" if op == "~" else ""))
        if op in ("=~", "<~"):
            if lhs in meas:
                prev = meas[lhs]
                if prev[0] != op:
                    raise ModelSyntaxError(no, line, f"construct {lhs!r} is measured with {prev[0]!r} on line {prev[2]} and with {op!r} here",
                                           hint="use one measurement operator per construct")
                rhs_all = prev[1] + [t for t in terms if t not in prev[1]]
                meas[lhs] = (op, rhs_all, prev[2], prev[3])
            else:
                if len(set(terms)) != len(terms):
                    raise ModelSyntaxError(no, line, "an indicator is listed twice")
                meas[lhs] = (op, terms, no, line)
        else:
            struct_lines.append((lhs, [":".join(p.strip() for p in t.split(":")) for t in terms], no, line))

    if not meas:
        raise ModelError("PLS model syntax has no measurement line ('C =~ x1 + x2' or 'C <~ x1 + x2')")

    # higher-order: rhs names that are constructs (other than the construct itself)
    higher: dict[str, tuple[str, ...]] = {}
    for c, (op, rhs, no, line) in meas.items():
        lo = [t for t in rhs if t in meas and t != c]
        if lo and len(lo) != len(rhs):
            raise ModelSyntaxError(no, line, f"mixes constructs {lo} and indicators {[t for t in rhs if t not in lo]}",
                                   hint="a higher-order construct is measured by constructs only")
        if lo:
            higher[c] = tuple(lo)
    for h, los in higher.items():
        for lo in los:
            if lo in higher:
                no, line = meas[h][2], meas[h][3]
                raise ModelSyntaxError(no, line, f"{lo!r} is itself higher-order; only second-order constructs are supported")

    constructs: list[str] = []
    for c in meas:
        if c in higher:
            continue
        constructs.append(c)
    for h in higher:
        constructs.append(h)

    blocks: dict[str, tuple[str, ...]] = {}
    modes: dict[str, str] = {}
    indicators: list[str] = []
    for c in meas:
        op, rhs = meas[c][0], meas[c][1]
        modes[c] = "A" if op == "=~" else "B"
        if c in higher:
            continue
        blocks[c] = tuple(rhs)
        for t in rhs:
            if t not in indicators:
                indicators.append(t)
    for h, los in higher.items():
        seen: list[str] = []
        for lo in los:
            for x in blocks[lo]:
                if x not in seen:
                    seen.append(x)
        blocks[h] = tuple(seen)

    structural: dict[str, list[str]] = {}
    interactions: dict[str, tuple[str, str]] = {}
    for h, los in higher.items():           # repeated-indicators relations
        for lo in los:
            if modes[h] == "A":
                structural.setdefault(lo, []).append(h)
            else:
                structural.setdefault(h, []).append(lo)

    def _resolve(term: str, no: int, line: str) -> str:
        if ":" in term:
            parts = term.split(":")
        elif term not in meas and "." in term and all(p in meas for p in term.split(".")):
            parts = term.split(".")      # cSEM's interaction notation
        else:
            parts = [term]
        if len(parts) == 1:
            if term not in meas:
                raise ModelSyntaxError(no, line, f"{term!r} is not a construct (no '=~' or '<~' line defines it)",
                                       hint="PLS regresses constructs; measure single items with 'X =~ x'")
            return term
        if len(parts) != 2:
            raise ModelSyntaxError(no, line, f"interaction {term!r}: only two-way interactions are supported")
        for p in parts:
            if p not in meas:
                raise ModelSyntaxError(no, line, f"interaction {term!r}: {p!r} is not a construct")
        name = interaction_name(*parts)
        interactions.setdefault(name, (parts[0], parts[1]))
        return name

    for lhs, terms, no, line in struct_lines:
        if lhs not in meas:
            raise ModelSyntaxError(no, line, f"{lhs!r} is not a construct (no '=~' or '<~' line defines it)")
        preds = structural.setdefault(lhs, [])
        for t in terms:
            name = _resolve(t, no, line)
            if name == lhs:
                raise ModelSyntaxError(no, line, f"{lhs!r} cannot predict itself")
            if name in preds:
                raise ModelSyntaxError(no, line, f"{name!r} is listed twice as a predictor of {lhs!r}")
            preds.append(name)

    for name, (a, b) in interactions.items():
        prod = tuple(f"{x}:{z}" for x in blocks[a] for z in blocks[b])
        blocks[name] = prod
        modes[name] = "A"
        # place the interaction construct after its later component
        pos = max(constructs.index(a), constructs.index(b))
        constructs.insert(pos + 1, name)

    # every construct must be connected
    connected = set(structural) | {p for ps in structural.values() for p in ps}
    connected = {c for c in connected if structural.get(c) or any(c in ps for ps in structural.values())}
    lonely = [c for c in constructs if c not in connected]
    if lonely:
        c = lonely[0]
        no = meas[c][2] if c in meas else 0
        raise ModelError(f"construct {c!r} (line {no}) is not connected to any other construct by '~' or as a lower-order construct",
                         hint="add a structural line such as 'Y ~ " + c + "', or remove it")
    # recursive (acyclic) structural model
    _check_acyclic(constructs, structural)
    struct_t = {c: tuple(structural[c]) for c in constructs if structural.get(c)}
    return PLSModel(constructs=tuple(constructs), indicators=tuple(indicators), blocks=blocks,
                    modes=modes, structural=struct_t, higher_order=higher, interactions=interactions,
                    syntax=syntax)


def _check_acyclic(constructs, structural):
    state: dict[str, int] = {}

    def visit(c, stack):
        if state.get(c) == 2:
            return
        if state.get(c) == 1:
            loop = stack[stack.index(c):] + [c]
            raise ModelError("the structural model has a feedback loop " + " <- ".join(loop) +
                             "; PLS path models must be recursive")
        state[c] = 1
        for p in structural.get(c, ()):
            visit(p, stack + [c])
        state[c] = 2

    for c in constructs:
        visit(c, [])

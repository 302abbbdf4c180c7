"""``:=`` defined parameters: a small, safe expression language and the delta method.

Expressions combine labels (``a``, ``b``), earlier defined parameters, numbers, the operators
``+ - * / ^`` with R's precedence (``^`` binds tighter than unary minus), parentheses and the
functions ``sqrt``, ``exp``, ``log``, ``abs``. Values may be scalars or NumPy arrays (so one
call evaluates every bootstrap replicate), and :meth:`Expr.grad` returns exact derivatives
(forward mode), which the delta method needs.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np

from ..errors import ModelSyntaxError

_TOKEN = re.compile(r"\s*(?:(?P<num>(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)|(?P<name>[A-Za-z_.][A-Za-z0-9_.]*)|(?P<op>[-+*/^(),]))")
FUNCTIONS = {
    "sqrt": (np.sqrt, lambda x: 0.5 / np.sqrt(x)),
    "exp": (np.exp, np.exp),
    "log": (np.log, lambda x: 1.0 / x),
    "abs": (np.abs, np.sign),
}


class Expr:
    """Expression node."""

    def names(self) -> set[str]:  # pragma: no cover - overridden
        raise NotImplementedError

    def value(self, env):  # pragma: no cover - overridden
        raise NotImplementedError

    def grad(self, env, denv):  # pragma: no cover - overridden
        """Derivative given values ``env`` and derivatives ``denv`` of the names."""
        raise NotImplementedError


@dataclass
class Num(Expr):
    v: float

    def names(self):
        return set()

    def value(self, env):
        return self.v

    def grad(self, env, denv):
        return 0.0


@dataclass
class Name(Expr):
    name: str

    def names(self):
        return {self.name}

    def value(self, env):
        return env[self.name]

    def grad(self, env, denv):
        return denv[self.name]


@dataclass
class Neg(Expr):
    a: Expr

    def names(self):
        return self.a.names()

    def value(self, env):
        return -self.a.value(env)

    def grad(self, env, denv):
        return -self.a.grad(env, denv)


@dataclass
class Bin(Expr):
    op: str
    a: Expr
    b: Expr

    def names(self):
        return self.a.names() | self.b.names()

    def value(self, env):
        x, y = self.a.value(env), self.b.value(env)
        if self.op == "+":
            return x + y
        if self.op == "-":
            return x - y
        if self.op == "*":
            return x * y
        if self.op == "/":
            with np.errstate(divide="ignore", invalid="ignore"):
                return np.divide(x, y) if isinstance(x, np.ndarray) or isinstance(y, np.ndarray) else (
                    x / y if y != 0 else (math.copysign(math.inf, x) if x != 0 else math.nan))
        with np.errstate(invalid="ignore", over="ignore"):
            return np.power(x, y) if isinstance(x, np.ndarray) or isinstance(y, np.ndarray) else (
                float(np.power(float(x), float(y))))

    def grad(self, env, denv):
        x, y = self.a.value(env), self.b.value(env)
        dx, dy = self.a.grad(env, denv), self.b.grad(env, denv)
        if self.op == "+":
            return dx + dy
        if self.op == "-":
            return dx - dy
        if self.op == "*":
            return dx * y + x * dy
        if self.op == "/":
            return dx / y - x * dy / (y * y)
        # x^y: d = y x^(y-1) dx + x^y log(x) dy (the log term only when y depends on parameters)
        out = y * np.power(x, y - 1) * dx
        if not (isinstance(dy, float) and dy == 0.0):
            out = out + np.power(x, y) * np.log(x) * dy
        return out


@dataclass
class Call(Expr):
    fn: str
    a: Expr

    def names(self):
        return self.a.names()

    def value(self, env):
        with np.errstate(invalid="ignore", divide="ignore"):
            return FUNCTIONS[self.fn][0](self.a.value(env))

    def grad(self, env, denv):
        with np.errstate(invalid="ignore", divide="ignore"):
            return FUNCTIONS[self.fn][1](self.a.value(env)) * self.a.grad(env, denv)


def parse_expression(text: str, line_no: int = 0, line: str = "") -> Expr:
    """Parse an arithmetic expression (the right-hand side of ``:=``)."""
    toks = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise ModelSyntaxError(line_no, line or text, f"unexpected character {text[pos:].strip()[:1]!r} in the expression",
                                   hint="defined parameters use labels, numbers, + - * / ^, parentheses, sqrt/exp/log/abs")
        kind = m.lastgroup
        toks.append((kind, m.group(kind)))
        pos = m.end()
    toks.append(("end", ""))
    i = 0

    def err(msg):
        raise ModelSyntaxError(line_no, line or text, msg,
                               hint="defined parameters use labels, numbers, + - * / ^, parentheses, sqrt/exp/log/abs")

    def peek():
        return toks[i]

    def take():
        nonlocal i
        t = toks[i]
        i += 1
        return t

    def expr():
        node = term()
        while peek() in (("op", "+"), ("op", "-")):
            op = take()[1]
            node = Bin(op, node, term())
        return node

    def term():
        node = unary()
        while peek() in (("op", "*"), ("op", "/")):
            op = take()[1]
            node = Bin(op, node, unary())
        return node

    def unary():
        if peek() == ("op", "-"):
            take()
            return Neg(unary())
        if peek() == ("op", "+"):
            take()
            return unary()
        return power()

    def power():
        base = atom()
        if peek() == ("op", "^"):
            take()
            return Bin("^", base, unary())
        return base

    def atom():
        kind, val = take()
        if kind == "num":
            return Num(float(val))
        if kind == "name":
            if peek() == ("op", "("):
                if val not in FUNCTIONS:
                    err(f"unknown function {val}()")
                take()
                arg = expr()
                if take() != ("op", ")"):
                    err(f"{val}() takes one argument and needs a closing parenthesis")
                return Call(val, arg)
            return Name(val)
        if (kind, val) == ("op", "("):
            node = expr()
            if take() != ("op", ")"):
                err("missing closing parenthesis")
            return node
        if kind == "end":
            err("the expression ends too early")
        err(f"unexpected {val!r} in the expression")

    node = expr()
    if peek()[0] != "end":
        err(f"unexpected {peek()[1]!r} after the end of the expression")
    return node


class DefinedParameters:
    """Evaluate ``:=`` parameters from the free-parameter vector.

    Parameters
    ----------
    definitions : list of (name, Expr)
        In syntax order; later ones may use earlier ones.
    label_index : dict
        label -> index into the free-parameter vector.
    label_fixed : dict
        label -> fixed value for labelled fixed parameters.
    """

    def __init__(self, definitions, label_index, label_fixed):
        self.definitions = list(definitions)
        self.label_index = dict(label_index)
        self.label_fixed = dict(label_fixed)

    @property
    def names(self) -> list[str]:
        return [n for n, _ in self.definitions]

    def __len__(self):
        return len(self.definitions)

    def _env(self, x):
        env = {}
        for lab, k in self.label_index.items():
            env[lab] = x[..., k]
        env.update(self.label_fixed)
        return env

    def values(self, x) -> np.ndarray:
        """Values for ``x`` of shape (q,) or (R, q); returns (d,) or (R, d)."""
        x = np.asarray(x, dtype=float)
        env = self._env(x)
        out = []
        for name, e in self.definitions:
            v = e.value(env)
            v = np.broadcast_to(np.asarray(v, dtype=float), x.shape[:-1]).copy() if x.ndim > 1 else float(v)
            env[name] = v
            out.append(v)
        if not out:
            return np.zeros(x.shape[:-1] + (0,))
        return np.stack(out, axis=-1) if x.ndim > 1 else np.array(out, dtype=float)

    def values_from_env(self, env_values: dict) -> np.ndarray:
        """Values when every label has an explicit value (used for standardized solutions)."""
        env = dict(self.label_fixed)
        env.update(env_values)
        out = []
        for name, e in self.definitions:
            v = float(e.value(env))
            env[name] = v
            out.append(v)
        return np.array(out, dtype=float)

    def jacobian(self, x) -> np.ndarray:
        """Exact Jacobian (d, q) at ``x`` (q,)."""
        x = np.asarray(x, dtype=float)
        q = x.shape[0]
        env = self._env(x)
        denv = {lab: np.eye(q)[k] for lab, k in self.label_index.items()}
        for lab in self.label_fixed:
            denv[lab] = np.zeros(q)
        rows = []
        for name, e in self.definitions:
            v = float(e.value(env))
            g = e.grad(env, denv)
            g = np.broadcast_to(np.asarray(g, dtype=float), (q,)).copy()
            env[name] = v
            denv[name] = g
            rows.append(g)
        return np.array(rows).reshape(len(rows), q)

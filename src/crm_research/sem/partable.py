"""Parameter table: the parsed model completed with lavaan ``sem()`` defaults.

Mirrors lavaan 0.6-14 (``lavParTable``/``lav_partable_flat``/``lav_partable_labels``):

* ``auto.fix.first``: the first loading of every latent variable is fixed to 1 (``NA*x`` frees it);
* ``auto.fix.single``: the residual variance of a single indicator of a latent is fixed to 0;
* ``auto.var``: variances of all non-exogenous observed and all latent variables are free;
* ``auto.cov.lv.x``: exogenous latent variables covary;
* ``auto.cov.y``: (residuals of) purely dependent variables covary;
* ``fixed.x``: variances/covariances (and means) of exogenous observed covariates are fixed
  at their sample values;
* a mean structure only when ``~ 1`` appears or the model has groups; then observed
  intercepts are free and latent means fixed to 0 (free in groups 2..G under
  ``group_equal`` intercepts without means);
* equality through shared labels; ``group_equal`` / ``group_partial`` as lavaan's
  ``group.equal`` / ``group.partial``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from itertools import combinations

import numpy as np
import pandas as pd

from ..errors import ModelError, ModelSyntaxError
from .defined import DefinedParameters, parse_expression
from .syntax import FlatRow, ParsedModel, parse_syntax

GROUP_EQUAL = ("loadings", "intercepts", "means", "regressions", "residuals", "residual.covariances",
               "lv.variances", "lv.covariances")


@dataclass
class VarNames:
    lv: list[str]
    ov: list[str]
    ov_ind: list[str]
    ov_x: list[str]
    ov_nox: list[str]
    lv_x: list[str]
    ov_y: list[str]   # purely dependent observed
    lv_y: list[str]   # purely dependent latent
    random_x: list[str]  # would be exogenous, but the syntax mentions their (co)variances / means


def _uniq(seq):
    out, seen = [], set()
    for s in seq:
        if s not in seen:
            seen.add(s)
            out.append(s)
    return out


def var_names(rows: list[FlatRow]) -> VarNames:
    """lavaan's ``lav_partable_vnames`` for a single block."""
    lv = _uniq(r.lhs for r in rows if r.op == "=~")
    lvs = set(lv)
    eqs_y = _uniq(r.lhs for r in rows if r.op == "~")
    eqs_x = _uniq(r.rhs for r in rows if r.op == "~")
    v_ind = _uniq(r.rhs for r in rows if r.op == "=~")
    ov_ind = [v for v in v_ind if v not in lvs]
    ov_y0 = [v for v in eqs_y if v not in lvs and v not in ov_ind]
    ov_x0 = [v for v in eqs_x if v not in lvs and v not in ov_ind and v not in ov_y0]
    ov_cov = [r.lhs for r in rows if r.op == "~~" and r.lhs not in lvs] + \
             [r.rhs for r in rows if r.op == "~~" and r.rhs not in lvs]
    ov_int = [r.lhs for r in rows if r.op == "~1" and r.lhs not in lvs]
    tmp = ov_ind + ov_y0 + ov_x0
    ov = tmp + [v for v in _uniq(ov_cov + ov_int) if v not in tmp]
    mentioned = {r.lhs for r in rows if r.op in ("~1", "~~")} | {r.rhs for r in rows if r.op == "~~"}
    ov_x = [v for v in ov_x0 if v not in mentioned]
    random_x = [v for v in ov_x0 if v in mentioned]
    ov_nox = [v for v in ov if v not in ov_x]
    lv_x = [v for v in lv if v not in v_ind and v not in eqs_y]
    s_vind, s_eqx, s_eqy = set(v_ind), set(eqs_x), set(eqs_y)
    ov_y = [v for v in ov if v in s_eqy and v not in s_vind and v not in s_eqx and v not in lvs]
    lv_y = [v for v in lv if v in s_eqy and v not in s_vind and v not in s_eqx]
    return VarNames(lv, ov, ov_ind, ov_x, ov_nox, lv_x, ov_y, lv_y, random_x)


@dataclass
class ParTable:
    """A completed parameter table (lavaan layout) plus what estimation needs to know.

    Columns of :attr:`frame`: ``id, lhs, op, rhs, user, block, group, free, ustart, start,
    exo, label, plabel, line``. ``free`` numbers the unique free parameters 1..npar; rows
    constrained equal share the same number (lavaan numbers each row and adds ``==``
    constraints; the estimates are identical).
    """

    frame: pd.DataFrame
    names: VarNames
    ngroups: int
    meanstructure: bool
    fixed_x: bool
    definitions: list = field(default_factory=list)   # (name, Expr, line_no, line)
    notes: list = field(default_factory=list)          # lavaan-style warnings from building

    @property
    def npar(self) -> int:
        return int(self.frame["free"].max()) if len(self.frame) else 0

    def defined(self) -> DefinedParameters:
        f = self.frame[self.frame["op"] != ":="]
        label_index, label_fixed = {}, {}
        for lab, fr, us in zip(f["label"], f["free"], f["ustart"]):
            if not lab or lab in label_index or lab in label_fixed:
                continue
            if fr > 0:
                label_index[lab] = int(fr) - 1
            else:
                label_fixed[lab] = float(us)
        for pl, fr, us in zip(f["plabel"], f["free"], f["ustart"]):
            if fr > 0:
                label_index.setdefault(pl, int(fr) - 1)
            else:
                label_fixed.setdefault(pl, float(us))
        return DefinedParameters([(n, e) for n, e, *_ in self.definitions], label_index, label_fixed)


def _covariance_reorder(rows: list[FlatRow], names: VarNames) -> None:
    order = {v: i for i, v in enumerate(names.lv + names.ov)}
    for r in rows:
        if r.op == "~~" and r.lhs != r.rhs and order.get(r.lhs, 0) > order.get(r.rhs, 0):
            r.lhs, r.rhs = r.rhs, r.lhs


def _expand(values, ngroups, row: FlatRow, kind: str):
    if values is None:
        return None
    if len(values) == 1:
        return list(values) * ngroups
    if len(values) != ngroups:
        raise ModelSyntaxError(row.line_no, row.line,
                               f"the {kind} modifier of {row.lhs} {row.op} {row.rhs} has {len(values)} values "
                               f"but the model has {ngroups} group(s)",
                               hint="give one value, or one per group: c(v1, v2, ...)")
    return list(values)


def _merge_equalities(parsed: ParsedModel, LABEL: list[str], user_labels: list[str]) -> None:
    """Simple equality constraints ``a == b``: every parameter labelled ``b`` gets the
    equality key of ``a`` (union-find over chains such as ``a == b; b == c``), so they share
    one free parameter.  lavaan estimates the same model with a Lagrangian and counts
    ``npar`` as free parameters minus equality constraints, which is the merged count."""
    eqs = getattr(parsed, "equalities", None) or []
    if not eqs:
        return
    known = {lab for lab in user_labels if lab}
    def_names = {d.name for d in parsed.definitions}
    parent: dict[str, str] = {}

    def find(x):
        while parent.get(x, x) != x:
            x = parent[x]
        return x

    for eq in eqs:
        for lab in (eq.lhs, eq.rhs):
            if lab in def_names:
                raise ModelSyntaxError(eq.line_no, eq.line,
                                       f"equality constraints on defined (:=) parameters are not supported "
                                       f"({lab!r})",
                                       hint="constrain the model parameters the definition is made of")
            if lab not in known:
                raise ModelSyntaxError(eq.line_no, eq.line,
                                       f"equality constraints compare parameter labels: unknown label {lab!r}",
                                       hint="label the parameters in the model first, e.g. 'f =~ x1 + a*x2 + b*x3', "
                                            "then write 'a == b'")
        ra, rb = find(eq.lhs), find(eq.rhs)
        if ra != rb:
            parent[rb] = ra
    if not parent:
        return
    for i, lab in enumerate(LABEL):
        if lab in known and find(lab) != lab:
            LABEL[i] = find(lab)


def build_partable(model: str | ParsedModel, *, ngroups: int = 1, group_equal=(), group_partial=(),
                   meanstructure: bool | None = None, fixed_x: bool = True) -> ParTable:
    """Complete a model with lavaan ``sem()`` defaults.

    Parameters
    ----------
    model : str or ParsedModel
        lavaan syntax.
    ngroups : int
        Number of groups (multiple-group analysis).
    group_equal : sequence of str
        As lavaan's ``group.equal``: any of ``loadings, intercepts, means, regressions,
        residuals, residual.covariances, lv.variances, lv.covariances``.
    group_partial : sequence of str
        Parameters exempt from ``group_equal``, written ``"visual=~x2"`` or ``"x3~1"``.
    meanstructure : bool, optional
        Default (None): only if the syntax has ``~ 1`` or there are groups.
    fixed_x : bool
        Treat exogenous observed covariates as fixed (lavaan default True).
    """
    parsed = parse_syntax(model) if isinstance(model, str) else model
    rows = [FlatRow(r.lhs, r.op, r.rhs, r.mod, r.line_no, r.line) for r in parsed.rows]
    group_equal = [group_equal] if isinstance(group_equal, str) else list(group_equal or [])
    bad = [g for g in group_equal if g not in GROUP_EQUAL]
    if bad:
        raise ModelError(f"group_equal: unknown constraint type(s) {bad}",
                         hint=f"use any of {', '.join(GROUP_EQUAL)}")
    group_partial = [group_partial] if isinstance(group_partial, str) else [
        p.replace(" ", "") for p in (group_partial or [])]
    names = var_names(rows)
    _covariance_reorder(rows, names)
    names = var_names(rows)
    notes = []
    if names.random_x:
        notes.append("model syntax contains variance/covariance/intercept formulas involving (an) exogenous "
                     f"variable(s): [{' '.join(names.random_x)}]; these variables are treated as random, "
                     "adding free parameters (as lavaan does)")
    if meanstructure is None:
        meanstructure = any(r.op == "~1" for r in rows) or ngroups > 1
    lvs = set(names.lv)

    # ---- default elements (lav_partable_flat) ----
    default: list[tuple[str, str, str]] = []
    default += [(v, "~~", v) for v in names.ov_nox + names.lv]
    if len(names.lv_x) > 1:
        default += [(a, "~~", b) for a, b in combinations(names.lv_x, 2)]
    lvov_y = names.lv_y + names.ov_y
    if len(lvov_y) > 1:
        default += [(a, "~~", b) for a, b in combinations(lvov_y, 2)]
    nx = len(names.ov_x)
    for j in range(nx):
        for i in range(j, nx):
            default.append((names.ov_x[j], "~~", names.ov_x[i]))
    if meanstructure:
        default += [(v, "~1", "") for v in names.ov + names.lv]
    user_keys = {(r.lhs, r.op, r.rhs) for r in rows}
    default = [d for d in default if d not in user_keys]

    lhs = [r.lhs for r in rows] + [d[0] for d in default]
    op = [r.op for r in rows] + [d[1] for d in default]
    rhs = [r.rhs for r in rows] + [d[2] for d in default]
    user = [1] * len(rows) + [0] * len(default)
    mods = [r.mod for r in rows] + [None] * len(default)
    src = list(rows) + [None] * len(default)
    n = len(lhs)
    free = [1] * n
    ustart = [math.nan] * n
    exo = [0] * n

    # auto.fix.first
    seen_lv = set()
    for k in range(n):
        if op[k] == "=~" and lhs[k] not in seen_lv:
            seen_lv.add(lhs[k])
            ustart[k], free[k] = 1.0, 0
    # auto.fix.single
    mm = [k for k in range(n) if op[k] == "=~"]
    counts = {}
    for k in mm:
        counts[lhs[k]] = counts.get(lhs[k], 0) + 1
    rhs_counts = {}
    for k in mm:
        rhs_counts[rhs[k]] = rhs_counts.get(rhs[k], 0) + 1
    single_ind = {rhs[k] for k in mm if counts[lhs[k]] == 1 and lhs[k] != rhs[k] and rhs_counts[rhs[k]] == 1}
    for k in range(n):
        if op[k] == "~~" and lhs[k] == rhs[k] and lhs[k] in single_ind and user[k] == 0:
            ustart[k], free[k] = 0.0, 0
    if meanstructure:
        for k in range(n):
            if op[k] == "~1" and lhs[k] in lvs and user[k] == 0:
                ustart[k], free[k] = 0.0, 0
    if fixed_x and names.ov_x:
        xs = set(names.ov_x)
        for k in range(n):
            if user[k] == 0 and ((op[k] == "~~" and lhs[k] in xs and rhs[k] in xs) or (op[k] == "~1" and lhs[k] in xs)):
                ustart[k], free[k], exo[k] = math.nan, 0, 1

    # ---- groups ----
    G = ngroups
    cols = {c: [] for c in ("lhs", "op", "rhs", "user", "group", "free", "ustart", "start", "exo", "label", "line")}
    row_src = []
    for g in range(1, G + 1):
        for k in range(n):
            fr, us = free[k], ustart[k]
            if (g > 1 and meanstructure and op[k] == "~1" and lhs[k] in lvs and user[k] == 0
                    and "intercepts" in group_equal and "means" not in group_equal):
                fr, us = 1, math.nan
            cols["lhs"].append(lhs[k]); cols["op"].append(op[k]); cols["rhs"].append(rhs[k])
            cols["user"].append(user[k]); cols["group"].append(g); cols["free"].append(fr)
            cols["ustart"].append(us); cols["start"].append(math.nan); cols["exo"].append(exo[k])
            cols["label"].append(""); cols["line"].append(src[k].line_no if src[k] is not None else 0)
            row_src.append((k, g))
    warn_single_label = False
    for idx, (k, g) in enumerate(row_src):
        mod, r = mods[k], src[k]
        if mod is None:
            continue
        fixed_v = _expand(mod.fixed, G, r, "value")
        start_v = _expand(mod.start, G, r, "start")
        label_v = _expand(mod.label, G, r, "label")
        if G > 1 and mod.label is not None and len(mod.label) == 1 and not group_equal:
            warn_single_label = True
        if fixed_v is not None:
            v = fixed_v[g - 1]
            if math.isnan(v):
                cols["free"][idx], cols["ustart"][idx] = 1, math.nan
            else:
                cols["free"][idx], cols["ustart"][idx] = 0, float(v)
        if start_v is not None:
            cols["start"][idx] = float(start_v[g - 1])
        if label_v is not None:
            cols["label"][idx] = label_v[g - 1]
    if warn_single_label:
        notes.append("using a single label per parameter in a multiple-group setting implies equality "
                     "constraints across all groups; use c(a1, a2, ...) for group-specific labels")

    N = len(cols["lhs"])
    ids = list(range(1, N + 1))
    plabel = [f".p{i}." for i in ids]
    all_vars = set(names.ov) | lvs
    for lab, ln in zip(cols["label"], cols["line"]):
        if lab and lab in all_vars:
            r = next(x for x in rows if x.line_no == ln)
            raise ModelSyntaxError(ln, r.line, f"the label {lab!r} is also a variable name",
                                   hint="use a label that differs from every variable name")

    # ---- labels and equality constraints (lav_partable_labels) ----
    LABEL = [f"{a}{o}{b}" + (f".g{g}" if g > 1 else "") for a, o, b, g in
             zip(cols["lhs"], cols["op"], cols["rhs"], cols["group"])]
    if G > 1 and group_equal:
        ov_nox = set(names.ov_nox)
        g1 = [False] * N
        for i in range(N):
            if cols["group"][i] != 1:
                continue
            o, a, b = cols["op"][i], cols["lhs"][i], cols["rhs"][i]
            if "loadings" in group_equal and o == "=~":
                g1[i] = True
            if "intercepts" in group_equal and o == "~1" and a in ov_nox:
                g1[i] = True
            if "means" in group_equal and o == "~1" and a in lvs:
                g1[i] = True
            if "regressions" in group_equal and o == "~":
                g1[i] = True
            if "residuals" in group_equal and o == "~~" and a in ov_nox and a == b:
                g1[i] = True
            if "residual.covariances" in group_equal and o == "~~" and a in ov_nox and a != b:
                g1[i] = True
            if "lv.variances" in group_equal and o == "~~" and a in lvs and a == b:
                g1[i] = True
            if "lv.covariances" in group_equal and o == "~~" and a in lvs and a != b:
                g1[i] = True
            if group_partial and LABEL[i] in group_partial:
                g1[i] = False
        key_rows = {}
        for i in range(N):
            key_rows.setdefault((cols["lhs"][i], cols["op"][i], cols["rhs"][i]), []).append(i)
        for i in range(N):
            if g1[i]:
                for j in key_rows[(cols["lhs"][i], cols["op"][i], cols["rhs"][i])]:
                    if cols["group"][j] > 1:
                        LABEL[j] = LABEL[i]
    for i in range(N):
        if cols["label"][i]:
            LABEL[i] = cols["label"][i]
    _merge_equalities(parsed, LABEL, cols["label"])
    groups_of = {}
    for i, lab in enumerate(LABEL):
        groups_of.setdefault(lab, []).append(i)
    for lab, members in groups_of.items():
        if len(members) < 2:
            continue
        fixed_members = [i for i in members if cols["free"][i] == 0]
        if fixed_members:
            v0 = cols["ustart"][fixed_members[0]]
            if any(cols["ustart"][i] != v0 for i in fixed_members[1:]):
                notes.append("equality constraints involve fixed parameters with different values; "
                             "only the first one is used")
            for i in members:
                cols["ustart"][i], cols["free"][i] = v0, 0
        else:
            ref = members[0]
            for i in members:
                if not cols["label"][i]:
                    cols["label"][i] = plabel[ref]
    # unique free parameter numbers
    par_of_label: dict[str, int] = {}
    q = 0
    free_idx = []
    for i in range(N):
        if cols["free"][i] == 0:
            free_idx.append(0)
            continue
        lab = LABEL[i]
        if lab in par_of_label:
            free_idx.append(par_of_label[lab])
        else:
            q += 1
            par_of_label[lab] = q
            free_idx.append(q)
    cols["free"] = free_idx

    frame = pd.DataFrame({
        "id": ids, "lhs": cols["lhs"], "op": cols["op"], "rhs": cols["rhs"], "user": cols["user"],
        "block": cols["group"], "group": cols["group"], "free": cols["free"], "ustart": cols["ustart"],
        "start": cols["start"], "exo": cols["exo"], "label": cols["label"], "plabel": plabel, "line": cols["line"],
    })

    # ---- defined parameters ----
    definitions = []
    known = set(l for l in frame["label"] if l) | set(plabel)
    def_names = set()
    for d in parsed.definitions:
        if d.name in known or d.name in all_vars or d.name in def_names:
            raise ModelSyntaxError(d.line_no, d.line, f"the defined parameter name {d.name!r} is already used",
                                   hint="give the defined parameter a new name")
        expr = parse_expression(d.expr, d.line_no, d.line)
        unknown = sorted(expr.names() - known - def_names)
        if unknown:
            hint = "label the parameters in the model, e.g. 'y ~ a*x', then use 'a' here"
            if any(u in all_vars for u in unknown):
                hint = "defined parameters combine parameter labels, not variable names; " + hint
            raise ModelSyntaxError(d.line_no, d.line, f"unknown label(s) {', '.join(unknown)}", hint=hint)
        def_names.add(d.name)
        definitions.append((d.name, expr, d.line_no, d.line, d.expr))
    if definitions:
        extra = pd.DataFrame({
            "id": range(N + 1, N + 1 + len(definitions)), "lhs": [d[0] for d in definitions],
            "op": ":=", "rhs": [d[4] for d in definitions], "user": 1, "block": 0, "group": 0, "free": 0,
            "ustart": math.nan, "start": math.nan, "exo": 0, "label": [d[0] for d in definitions],
            "plabel": "", "line": [d[2] for d in definitions]})
        frame = pd.concat([frame, extra], ignore_index=True)
    return ParTable(frame=frame, names=names, ngroups=G, meanstructure=bool(meanstructure), fixed_x=fixed_x,
                    definitions=definitions, notes=notes)


def parse(model: str, *, ngroups: int = 1, group_equal=(), group_partial=(), meanstructure=None,
          fixed_x: bool = True) -> pd.DataFrame:
    """Parse lavaan syntax into a lavaan-like parameter table (a DataFrame).

    Parameters
    ----------
    model : str
        lavaan model syntax.
    ngroups, group_equal, group_partial, meanstructure, fixed_x
        See :func:`build_partable`.

    Returns
    -------
    pandas.DataFrame
        One row per parameter with lavaan's columns ``id, lhs, op, rhs, user, block, group,
        free, ustart, exo, label, plabel`` plus ``start`` (user start values) and ``line``
        (syntax line, 0 for parameters added by default). Free parameters sharing a label
        share a ``free`` number.

    Examples
    --------
    >>> from crm_research import sem
    >>> pt = sem.parse("f =~ x1 + x2 + x3")
    >>> pt[["lhs", "op", "rhs", "free", "ustart"]].head(3)
      lhs  op rhs  free  ustart
    0   f  =~  x1     0     1.0
    1   f  =~  x2     1     NaN
    2   f  =~  x3     2     NaN
    """
    return build_partable(model, ngroups=ngroups, group_equal=group_equal, group_partial=group_partial,
                          meanstructure=meanstructure, fixed_x=fixed_x).frame.copy()


def free_mask(frame: pd.DataFrame) -> np.ndarray:
    return (frame["free"].to_numpy() > 0)


def row_names(frame: pd.DataFrame, grouped: bool) -> list[str]:
    """Readable names of parameter-table rows: ``visual=~x2``, ``x1~1``, ``indirect``
    (``.g2`` appended in group 2 and beyond)."""
    out = []
    for lhs, op, rhs, g in zip(frame["lhs"], frame["op"], frame["rhs"], frame["group"]):
        if op == ":=":
            out.append(lhs)
        else:
            out.append(f"{lhs}{op}{rhs}" + (f".g{g}" if grouped and g > 1 else ""))
    return out


def categorical_partable(pt: ParTable, ordered, nth, *, parameterization: str = "delta", th_equal: bool = False,
                         group_partial=()) -> ParTable:
    """lavaan's parameter table for a model with ordered indicators (``lav_partable_flat`` with
    ordered variables), from the table :func:`build_partable` made (with a mean structure).

    * intercepts of ordered items fixed at 0;
    * residual variances of ordered items: delta parameterization, not free parameters
      (the value reported is what makes the latent response variance 1 / scale^2; the RAM
      model holds 0 there); theta parameterization, fixed at 1;
    * thresholds ``x | t1 ...`` (free; shared across groups when ``th_equal`` unless listed
      in ``group_partial`` as ``"x|t2"``) and scale factors ``x ~*~ x`` (fixed at 1) added,
      unless the syntax gives them;
    * with equal thresholds, groups 2+ get free scale factors (delta) or residual variances
      (theta), and free latent means, as lavaan.

    Free parameters are renumbered 1..npar (rows constrained equal share a number).

    Parameters
    ----------
    pt : ParTable
    ordered : sequence of bool
        Per observed variable (``pt.names.ov`` order): is it ordered?
    nth : sequence of int
        Thresholds per observed variable (categories - 1; anything for continuous ones).
    parameterization : {"delta", "theta"}
    th_equal : bool
        "thresholds" in ``group_equal``.
    group_partial : sequence of str

    Returns
    -------
    ParTable

    Raises
    ------
    ModelError
        Thresholds or scale factors written for a variable that is not ordered, or more
        thresholds than the item's categories allow.

    Examples
    --------
    >>> pt = build_partable("f =~ y1 + y2 + y3", meanstructure=True)
    >>> t = categorical_partable(pt, [True, True, True], [2, 2, 2]).frame
    >>> t.loc[t["op"] == "|", ["lhs", "rhs"]].head(2).values.tolist(), int(t["free"].max())
    ([['y1', 't1'], ['y1', 't2']], 9)
    """
    ov = list(pt.names.ov)
    is_ord = list(ordered)
    G = pt.ngroups
    nth = list(nth)
    f = pt.frame.copy()
    ords = {v for v, o in zip(ov, is_ord) if o}
    lvs = set(pt.names.lv)
    key = [("old", int(x)) if x > 0 else None for x in f["free"]]
    ustart = f["ustart"].to_numpy(float).copy()
    for k, (lhs, op, rhs, g, user) in enumerate(zip(f["lhs"], f["op"], f["rhs"], f["group"], f["user"])):
        if lhs in ords and op == "~1":
            key[k], ustart[k] = None, 0.0
        elif lhs in ords and op == "~~" and lhs == rhs and user == 0:
            if parameterization == "theta" and g > 1 and th_equal:
                key[k], ustart[k] = ("resvar", lhs, g), np.nan
            else:
                key[k], ustart[k] = None, (0.0 if parameterization == "delta" else 1.0)
        elif lhs in lvs and op == "~1" and g > 1 and th_equal and user == 0 and key[k] is None:
            key[k], ustart[k] = ("lvmean", lhs, g), np.nan
    f["ustart"] = ustart
    user_rows = {(a, o, b, int(g)) for a, o, b, g in zip(f["lhs"], f["op"], f["rhs"], f["group"]) if o in ("|", "~*~")}
    nth_of = {v: n for v, n in zip(ov, nth)}
    for a, o, b, g in sorted(user_rows):
        if a not in ords:
            raise ModelError(f"the model gives {'thresholds' if o == '|' else 'a scale factor'} for {a!r}, "
                             "which is not an ordered item", hint=f"add {a!r} to ordered=, or drop the line")
        if o == "|" and int(b[1:]) > nth_of[a]:
            raise ModelError(f"{a} | {b}: {a!r} has {nth_of[a] + 1} categories, so thresholds t1..t{nth_of[a]}",
                             hint="drop the extra threshold")
    rows = []
    for g in range(1, G + 1):
        for v, o, nt in zip(ov, is_ord, nth):
            if not o:
                continue
            for t in range(1, nt + 1):
                if (v, "|", f"t{t}", g) in user_rows:
                    continue
                partial = f"{v}|t{t}" in group_partial
                k = ("th", v, t) if th_equal and not partial else ("th", v, t, g)
                rows.append(dict(lhs=v, op="|", rhs=f"t{t}", user=0, block=g, group=g, ustart=np.nan, key=k))
    for g in range(1, G + 1):
        for v, o in zip(ov, is_ord):
            if not o:
                continue
            if (v, "~*~", v, g) in user_rows:
                continue
            free_sc = parameterization == "delta" and g > 1 and th_equal
            rows.append(dict(lhs=v, op="~*~", rhs=v, user=0, block=g, group=g, ustart=np.nan if free_sc else 1.0,
                             key=("scale", v, g) if free_sc else None))
    f["key"] = key
    add = pd.DataFrame(rows, columns=["lhs", "op", "rhs", "user", "block", "group", "ustart", "key"])
    for c in ("start",):
        add[c] = np.nan
    add["exo"] = 0
    add["label"] = ""
    add["line"] = 0
    # order as lavaan prints: user rows, thresholds, the rest, scale factors, intercepts
    parts = []
    for g in range(1, G + 1):
        fg = f[f["group"] == g]
        parts += [fg[(fg["user"] == 1) & (fg["op"] != "~1")], add[(add["group"] == g) & (add["op"] == "|")],
                  fg[(fg["user"] == 0) & (fg["op"] != "~1")], add[(add["group"] == g) & (add["op"] == "~*~")],
                  fg[fg["op"] == "~1"]]
    defs = f[f["op"] == ":="]
    f2 = pd.concat(parts + [defs], ignore_index=True)
    ids = {}
    free = []
    for k in f2["key"]:
        if k is None or (isinstance(k, float) and math.isnan(k)):
            free.append(0)
        else:
            if k not in ids:
                ids[k] = len(ids) + 1
            free.append(ids[k])
    f2["free"] = np.array(free, dtype=int)
    f2["id"] = np.arange(1, len(f2) + 1)
    f2["plabel"] = [f".p{i}." for i in f2["id"]]
    f2["label"] = f2["label"].fillna("").astype(str)
    f2["block"] = f2["group"]
    f2 = f2.drop(columns=["key"])
    f2["ustart"] = f2["ustart"].astype(float)
    return ParTable(frame=f2, names=pt.names, ngroups=G, meanstructure=True, fixed_x=pt.fixed_x,
                    definitions=pt.definitions, notes=pt.notes)

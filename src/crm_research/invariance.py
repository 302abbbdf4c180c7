"""Measurement invariance across groups and cross-group comparison of structural paths.

>>> import pandas as pd
>>> from crm_research.invariance import measurement_invariance, compare_paths
>>> df = pd.read_csv("tests/reference/lavaan/HolzingerSwineford1939.csv")
>>> inv = measurement_invariance("visual =~ x1 + x2 + x3\\ntextual =~ x4 + x5 + x6", df, "school")
>>> inv.highest
'metric'
>>> compare_paths("visual =~ x1 + x2 + x3\\ntextual =~ x4 + x5 + x6\\ntextual ~ visual", df,
...               "school")[["path", "pvalue", "pvalue.adj"]].round(3)
               path  pvalue  pvalue.adj
0  textual ~ visual   0.547       0.547

* :func:`measurement_invariance` fits the configural, metric (equal loadings), scalar
  (+ equal intercepts) and optionally strict (+ equal residual variances) models exactly as
  lavaan's ``group.equal`` does (through :func:`crm_research.sem.fit`), compares each step with
  the previous one by lavaan's ``lavTestLRT`` (:func:`crm_research.sem.compare_models`)
  and by the change in CFI and RMSEA, and judges each step by Chen (2007) / Cheung &
  Rensvold (2002): invariance holds when ``delta CFI >= -.010`` and ``delta RMSEA <= .015``
  (thresholds configurable).  The chi-square difference is reported, not decisive: with
  hundreds of respondents it flags differences too small to matter.
* :func:`compare_paths` tests, one structural path at a time, whether it is equal across
  groups: the model with that path constrained equal (one shared label in every group, as
  lavaan's ``c(a, a)*x``) against the model with it free, on top of the chosen level of
  measurement invariance (metric by default, the precondition for comparing
  unstandardized paths); Holm-adjusted p values across the paths.

Labels in a multiple-group model: in lavaan one label (``h1*OPS``) shared by all groups
constrains that parameter equal across groups.  The instrument's syntax labels every path
this way (``h1``, ``h2``), which would silently make every "free" model a constrained one, so
both functions rewrite single labels to one label per group (``c(h1.g1, h1.g2)*OPS``) and
``:=`` lines referring to them to one line per group (``ind.g1 := h1.g1*h2.g1``).  The syntax
actually fitted is kept on the results (``InvarianceResult.syntax``).

Missing answers: ``missing="ml"`` (default) fits every model by full-information ML, using
every respondent with a known group and at least one answer; ``"listwise"`` uses complete
cases only; ``"pairwise"`` is for ordered items.  The results record which, and the group
sizes used.

Estimation: both functions take lavaan's ``estimator``, ``ordered``, ``se`` and ``test``
(:func:`crm_research.estimation.check_estimation`).  A robust or ordinal fit (MLR, WLSMV, ...)
is judged by its robust (else scaled) CFI and RMSEA (``InvarianceResult.reported``), every
step and path is tested by lavaan's scaled χ² difference (:func:`crm_research.sem.compare_models`),
and with ordered items the scalar step also equates the thresholds (:data:`STEPS_ORDERED`).
"""
from __future__ import annotations

import html
import math
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np
import pandas as pd

from .errors import ModelError
from .reporting.fitmeasures import measure_label, reported_keys
from .reporting.format import format_p, html_table

__all__ = ["STEPS", "STEP_NAMES", "InvarianceRule", "invariance_verdict", "resolve_syntax", "per_group_syntax",
           "InvarianceResult", "measurement_invariance", "compare_paths"]

if TYPE_CHECKING:  # pragma: no cover
    from .instruments import Instrument
    from .sem import SEMResult

#: group.equal of each invariance step (lavaan's names), in their nesting order
STEPS: dict[str, tuple[str, ...]] = {
    "configural": (),
    "metric": ("loadings",),
    "scalar": ("loadings", "intercepts"),
    "strict": ("loadings", "intercepts", "residuals"),
}
#: The steps with ordered (ordinal) items: thresholds take the place of intercepts (lavaan's
#: ``group.equal = "thresholds"``; Wu & Estabrook, 2016); intercepts of continuous items stay.
STEPS_ORDERED: dict[str, tuple[str, ...]] = {
    "configural": (),
    "metric": ("loadings",),
    "scalar": ("loadings", "intercepts", "thresholds"),
    "strict": ("loadings", "intercepts", "thresholds", "residuals"),
}
#: lavaan's scaled and robust measures a robust or ordinal step also carries.
_ROBUST_COLS = ("chisq.scaled", "df.scaled", "pvalue.scaled", "cfi.scaled", "tli.scaled", "rmsea.scaled",
                "rmsea.ci.lower.scaled", "rmsea.ci.upper.scaled", "cfi.robust", "tli.robust", "rmsea.robust",
                "rmsea.ci.lower.robust", "rmsea.ci.upper.robust")
STEP_NAMES = {"configural": "configural (same pattern)", "metric": "metric (equal loadings)",
              "scalar": "scalar (+ equal intercepts)", "strict": "strict (+ equal residual variances)"}
_NAME_RE = re.compile(r"^[A-Za-z_.][A-Za-z0-9_.]*$")
_TOL = 1e-9   # thresholds are compared with this tolerance, so -0.010 counts as -0.010


# --------------------------------------------------------------------------- the decision rule
@dataclass(frozen=True)
class InvarianceRule:
    """When a more constrained step counts as invariant relative to the previous one.

    Invariance holds when ``delta_cfi >= cfi_drop`` **and** ``delta_rmsea <= rmsea_rise``
    (deltas: constrained minus previous model).  Defaults: Chen (2007) for loadings /
    intercepts with adequate samples (delta CFI >= -.010 together with delta RMSEA <= .015),
    the delta CFI criterion being Cheung & Rensvold's (2002).  The configural model holds
    when it converged and its CFI is at least ``configural_cfi`` (None: not judged).

    Parameters
    ----------
    cfi_drop : float
        Smallest acceptable change in CFI (negative: a drop).
    rmsea_rise : float
        Largest acceptable rise in RMSEA.
    configural_cfi : float or None
        Minimum CFI of the configural model.

    Examples
    --------
    >>> rule = InvarianceRule()
    >>> rule.holds(-0.004, 0.006), rule.holds(-0.02, 0.0)
    (True, False)
    """

    cfi_drop: float = -0.010
    rmsea_rise: float = 0.015
    configural_cfi: float | None = 0.90

    def __post_init__(self):
        if not (isinstance(self.cfi_drop, (int, float)) and self.cfi_drop <= 0):
            raise ModelError(f"cfi_drop={self.cfi_drop!r}: expected a number <= 0 (the largest tolerated drop in CFI)",
                             hint="e.g. cfi_drop=-0.01 (Chen 2007; Cheung & Rensvold 2002)")
        if not (isinstance(self.rmsea_rise, (int, float)) and self.rmsea_rise >= 0):
            raise ModelError(f"rmsea_rise={self.rmsea_rise!r}: expected a number >= 0 (the largest tolerated rise "
                             "in RMSEA)", hint="e.g. rmsea_rise=0.015 (Chen 2007)")

    def text(self) -> str:
        return (f"invariance holds when \u0394CFI \u2265 {self.cfi_drop:.3f} and \u0394RMSEA \u2264 "
                f"{self.rmsea_rise:.3f} relative to the previous step (Chen 2007; Cheung & Rensvold 2002); "
                "the \u03c7\u00b2 difference test is reported but not decisive")

    def holds(self, delta_cfi: float, delta_rmsea: float) -> bool:
        """True when both changes are within the thresholds (boundaries included)."""
        if delta_cfi is None or delta_rmsea is None or math.isnan(delta_cfi) or math.isnan(delta_rmsea):
            return False
        return delta_cfi >= self.cfi_drop - _TOL and delta_rmsea <= self.rmsea_rise + _TOL


def invariance_verdict(delta_cfi: float, delta_rmsea: float, *, cfi_drop: float = -0.010,
                       rmsea_rise: float = 0.015) -> bool:
    """Does invariance hold for a step with these changes in CFI and RMSEA?

    ``delta_cfi >= cfi_drop and delta_rmsea <= rmsea_rise`` (boundaries count as holding).

    Parameters
    ----------
    delta_cfi, delta_rmsea : float
        Constrained minus previous model.
    cfi_drop, rmsea_rise : float
        The thresholds (Chen 2007 by default).

    Returns
    -------
    bool

    Examples
    --------
    >>> invariance_verdict(-0.010, 0.015), invariance_verdict(-0.011, 0.0)
    (True, False)
    """
    return InvarianceRule(cfi_drop, rmsea_rise).holds(delta_cfi, delta_rmsea)


# --------------------------------------------------------------------------- syntax helpers
def resolve_syntax(model: "str | Instrument", instrument: "Instrument | None" = None,
                   data: pd.DataFrame | None = None) -> str:
    """lavaan syntax from raw syntax, an instrument (its measurement model) or a model name
    of ``instrument`` (``"measurement"`` or any declared model).  ``data`` fixes the error
    variance of a single-item construct that states a reliability (see
    :func:`crm_research.instruments.measurement_syntax`).

    Parameters
    ----------
    model : str or Instrument
        lavaan syntax, an instrument, or a model name of ``instrument``.
    instrument : Instrument, optional
        Needed for a model name.
    data : DataFrame, optional
        For single items with a stated reliability.

    Returns
    -------
    str
        lavaan syntax.

    Examples
    --------
    >>> from crm_research import instruments
    >>> inst = instruments.load_instrument("tests/reference/lavaan/hs_abilities.yaml")
    >>> print(resolve_syntax("textual", inst))
    TXT =~ x4 + x5 + x6
    SPD =~ x7
    x7 ~~ 0*x7
    SPD ~ hc*TXT
    <BLANKLINE>
    """
    from .instruments import Instrument, measurement_syntax, structural_syntax

    if isinstance(model, Instrument):
        return measurement_syntax(model, data=data)
    if not isinstance(model, str):
        raise ModelError(f"model: expected lavaan syntax, a model name or an Instrument, got {type(model).__name__}",
                         hint="pass syntax like 'f =~ x1 + x2 + x3', or a model name together with instrument=")
    if instrument is not None:
        if model == "measurement" or model in instrument.models:
            return structural_syntax(instrument, model, data=data)
        if "~" not in model:
            raise ModelError(f"instrument {instrument.id!r} has no model {model!r}",
                             hint=f"use one of: measurement, {', '.join(instrument.models)}")
    return model


def _lab(s: str) -> str:
    return s if _NAME_RE.match(s) else '"' + s.replace('"', "") + '"'


def _num(v: float) -> str:
    return "NA" if math.isnan(v) else repr(float(v))


def _rename(expr: str, mapping: dict[str, str]) -> str:
    if not mapping:
        return expr
    pat = re.compile(r"(?<![A-Za-z0-9_.])(" + "|".join(re.escape(k) for k in sorted(mapping, key=len, reverse=True))
                     + r")(?![A-Za-z0-9_.(])")
    return pat.sub(lambda m: mapping[m.group(1)], expr)


def per_group_syntax(model: str, ngroups: int, *, shared: Sequence[tuple[str, str, str]] = ()) -> str:
    """Rewrite syntax for a multiple-group model with group-specific labels.

    A single label ``a`` becomes ``c(a.g1, ..., a.gG)`` (lavaan would otherwise constrain the
    parameter equal across groups) and every ``:=`` line using such labels becomes one line
    per group (``name.gK``).  Rows in ``shared`` (``(lhs, op, rhs)``) get one label common to
    all groups instead: those parameters are constrained equal across groups.

    Parameters
    ----------
    model : str
        lavaan syntax of one group.
    ngroups : int
        Number of groups.
    shared : sequence of (lhs, op, rhs)
        Parameters constrained equal across groups.

    Returns
    -------
    str
        The rewritten syntax.

    Raises
    ------
    ModelError
        A row in ``shared`` is not in the model or is a fixed parameter.

    Examples
    --------
    >>> print(per_group_syntax("F =~ x1 + a*x2 + x3\\nG =~ x4 + x5\\nG ~ b*F", 2, shared=[("G", "~", "F")]))
    F =~ x1 + c(a.g1, a.g2)*x2 + x3
    G =~ x4 + x5
    G ~ c(b, b)*F
    <BLANKLINE>
    """
    from .sem.syntax import parse_syntax

    parsed = parse_syntax(model)
    G = int(ngroups)
    used = {lab for r in parsed.rows if r.mod.label for lab in r.mod.label if lab}
    shared = {tuple(s) for s in shared}
    keys = {(r.lhs, r.op, r.rhs) for r in parsed.rows}
    for s in shared:
        if s not in keys:
            raise ModelError(f"path {s[0]} {s[1]} {s[2]} is not in the model", hint="name a path of the model")
    split: dict[str, list[str]] = {}      # single label -> per-group labels
    merge: dict[str, str] = {}            # group-specific label -> common label (shared rows)
    lines: list[str] = []
    last = None
    for r in parsed.rows:
        key = (r.lhs, r.op, r.rhs)
        mods = []
        if r.mod.fixed is not None:
            if key in shared and not all(math.isnan(v) for v in r.mod.fixed):
                raise ModelError(f"{r.lhs} {r.op} {r.rhs} is fixed in the model, so it cannot be tested for equality",
                                 hint="compare free parameters only")
            f = r.mod.fixed
            mods.append(_num(f[0]) if len(f) == 1 else "c(" + ", ".join(_num(v) for v in f) + ")")
        if r.mod.start is not None:
            mods.append("start(" + ", ".join(_num(v) for v in r.mod.start) + ")")
        labels = r.mod.label
        if key in shared:
            common = next((lab for lab in (labels or []) if lab), None)
            if common is None:
                common = f"{r.lhs}.{r.rhs}.eq".replace("..", ".") if r.op != "~1" else f"{r.lhs}.1.eq"
                while common in used:
                    common += "_"
            for lab in labels or []:
                if lab and lab != common:
                    merge[lab] = common
            labels = [common] * G
        elif labels is not None and len(labels) == 1 and G > 1:
            new = [f"{labels[0]}.g{g}" for g in range(1, G + 1)]
            clash = [n for n in new if n in used]
            if clash:
                raise ModelError(f"cannot make group-specific labels for {labels[0]!r}: {clash[0]!r} is already a label",
                                 hint="rename the labels of the model")
            split[labels[0]] = new
            labels = new
        if labels is not None:
            mods.append(_lab(labels[0]) if len(labels) == 1 else
                        "c(" + ", ".join(_lab(x) if x else "NA" for x in labels) + ")")
        op = "~" if r.op == "~1" else r.op
        term = "1" if r.op == "~1" else r.rhs
        rhs = " + ".join(f"{m}*{term}" for m in mods) if mods else term
        if lines and last == (r.lhs, op):      # one formula per left-hand side and operator
            lines[-1] += f" + {rhs}"
        else:
            lines.append(f"{r.lhs} {op} {rhs}")
        last = (r.lhs, op)
    # := lines: one per group when they use split labels (or split definitions)
    split_defs: set[str] = set()
    for d in parsed.definitions:
        expr = _rename(d.expr, merge)
        names = set(re.findall(r"[A-Za-z_.][A-Za-z0-9_.]*", expr))
        if G > 1 and (names & set(split) or names & split_defs):
            for g in range(1, G + 1):
                mp = {k: v[g - 1] for k, v in split.items()}
                mp.update({k: f"{k}.g{g}" for k in split_defs})
                lines.append(f"{d.name}.g{g} := {_rename(expr, mp)}")
            split_defs.add(d.name)
        else:
            lines.append(f"{d.name} := {expr}")
    return "\n".join(lines) + "\n"


def _check_missing(missing: str) -> str:
    m = {"fiml": "ml", "direct": "ml", "listwise.deletion": "listwise"}.get(str(missing), str(missing))
    if m not in ("ml", "listwise", "pairwise"):
        raise ModelError(f"missing={missing!r} is not supported",
                         hint="use missing='ml' (full-information ML), 'listwise' (complete cases) or 'pairwise' "
                              "(ordered items)")
    return m


def _estimation(estimator: Any, ordered: Any, se: Any, test: Any, where: str) -> Any:
    from .estimation import Estimation, check_estimation

    if isinstance(estimator, Estimation):
        return estimator
    return check_estimation(estimator, ordered, se, test, where=where)


def _fit(est_opt: Any, syntax: str, data: pd.DataFrame, where: str, **kw: Any) -> Any:
    from .estimation import fit_model

    return fit_model(syntax, data, est_opt, where=where, **kw)


def _check_groups(data: pd.DataFrame, group: str, syntax: str, missing: str = "listwise") -> tuple[list, list[int]]:
    """Clear errors for a missing group column, a single group or a group too small; the group
    sizes are those the missing-data treatment uses."""
    from .sem.partable import var_names
    from .sem.syntax import parse_syntax

    if not isinstance(data, pd.DataFrame):
        raise ModelError(f"data: expected a pandas DataFrame, got {type(data).__name__}",
                         hint="read the file with pandas.read_csv() first")
    if not isinstance(group, str) or not group:
        raise ModelError(f"group={group!r}: expected the name of the column that defines the groups",
                         hint="e.g. group='segment'")
    if group not in data.columns:
        raise ModelError(f"data: group column {group!r} not in the data",
                         hint=f"available columns: {', '.join(map(str, list(data.columns)[:25]))}")
    ov = var_names(parse_syntax(syntax).rows).ov
    absent = [v for v in ov if v not in data.columns]
    if absent:
        raise ModelError(f"data: observed variable(s) not in the data: {', '.join(absent)}",
                         hint="check the spelling or the model")
    if missing in ("ml", "pairwise"):
        complete = data[list(ov)].notna().any(axis=1) & data[group].notna()
        what = "respondents with an answer"
    else:
        complete = data[list(ov) + [group]].notna().all(axis=1)
        what = "complete cases"
    counts = data.loc[complete, group].value_counts(sort=False)
    labels = list(pd.unique(data.loc[complete, group]))
    if len(labels) < 2:
        raise ModelError(f"data: group column {group!r} has {len(labels)} group(s) with {what} "
                         f"({', '.join(map(repr, labels)) or 'none'})",
                         hint="measurement invariance compares at least two groups; check the column")
    p = len(ov)
    ns = [int(counts[lab]) for lab in labels]
    small = [(lab, n) for lab, n in zip(labels, ns) if n <= p]
    if small:
        lab, n = small[0]
        unit = "respondent(s) with an answer" if missing != "listwise" else "complete case(s)"
        raise ModelError(f"data: group {lab!r} of column {group!r} has {n} {unit} for {p} observed "
                         f"variables; each group needs more cases than variables ({p + 1} at the very least)",
                         hint="merge small groups, drop the group, or use a smaller model")
    return labels, ns


def _lrt(restricted, full, names, alpha):
    """lavTestLRT of two grouped fits (:func:`crm_research.sem.compare_models`)."""
    from .sem import compare_models

    return compare_models(restricted, full, names=names, alpha=alpha)


def _common_reported(fit_measures: Sequence[Any]) -> dict[str, str]:
    """The measures steps are judged by: for each headline measure the robust, else scaled,
    else standard lavaan key that every step has (so that changes compare like with like)."""
    keys = [reported_keys(fm) for fm in fit_measures]
    out = dict(keys[0])
    for base in out:
        for cand in dict.fromkeys([k[base] for k in keys] + [base + ".robust", base + ".scaled", base]):
            if cand.startswith(base) and all(pd.notna(fm.get(cand)) and math.isfinite(float(fm.get(cand)))
                                             for fm in fit_measures):
                out[base] = cand
                break
    return out


def _fm(res, key: str) -> float:
    v = res.fit_measures.get(key)
    return float(v) if v is not None and pd.notna(v) else float("nan")


# --------------------------------------------------------------------------- invariance
@dataclass
class InvarianceResult:
    """Steps of measurement invariance testing (see :func:`measurement_invariance`).

    Attributes
    ----------
    table : DataFrame
        One row per step: ``step, group_equal, npar, chisq, df, pvalue, cfi, tli, rmsea,
        rmsea.ci.lower, rmsea.ci.upper, srmr, aic, bic`` and against the previous step
        ``chisq.diff, df.diff, pvalue.diff`` (lavTestLRT), ``delta.cfi, delta.rmsea``, then
        ``holds`` and ``verdict``.
    fits : dict of str -> SEMResult
        The fitted model of every step.
    highest : str or None
        The most constrained level supported (every step up to it holds); None when even the
        configural model fails.
    rule : InvarianceRule
    syntax : str
        The syntax fitted (group-specific labels, see the module docstring).
    group, group_labels, nobs_groups
        The group column, its groups and the respondents each group's fits used.
    missing : {"ml", "listwise", "pairwise"}
        Missing-data treatment of every fit.
    warnings : list of str
    estimation : str
        The estimation of every fit in words (``sem.estimation_label``).
    reported : dict
        Headline measure -> the lavaan column the steps are judged and shown by: for a
        robust or ordinal fit the scaled χ² and robust (else scaled) CFI/TLI/RMSEA, whose
        columns the table then also holds; ``delta.cfi``/``delta.rmsea`` are their changes
        (:func:`crm_research.reporting.fitmeasures.reported_keys`).

    Examples
    --------
    >>> import pandas as pd
    >>> hs = pd.read_csv("tests/reference/lavaan/HolzingerSwineford1939.csv")
    >>> cfa = "visual =~ x1 + x2 + x3\\ntextual =~ x4 + x5 + x6"
    >>> inv = measurement_invariance(cfa, hs, "school")
    >>> inv
    <InvarianceResult 'school': steps configural, metric, scalar, strict; highest supported: metric>
    >>> inv.table[["step", "delta.cfi", "holds"]].round(3)
             step  delta.cfi  holds
    0  configural        NaN   True
    1      metric     -0.010   True
    2      scalar     -0.033  False
    3      strict     -0.009   True
    """

    table: pd.DataFrame
    fits: dict
    highest: str | None
    rule: InvarianceRule
    syntax: str
    group: str
    group_labels: list
    nobs_groups: list
    warnings: list = field(default_factory=list)
    missing: str = "listwise"
    estimation: str = "ML"
    reported: dict = field(default_factory=dict)

    @property
    def missing_summary(self) -> str:
        n = sum(self.nobs_groups)
        if self.missing == "ml":
            return f"full-information ML (missing = \"ml\"): {n} respondents with an answer used"
        if self.missing == "pairwise":
            return f"pairwise deletion (missing = \"pairwise\"): {n} respondents with an answer used"
        return f"listwise deletion: {n} respondents with complete answers used"

    @property
    def robust(self) -> bool:
        """Whether the steps are judged by scaled/robust measures."""
        return any(k != v for k, v in self.reported.items())

    def shown_columns(self) -> list[str]:
        """The table columns a report shows, robust ones in place of the standard ones."""
        cols = ["npar", "chisq", "df", "pvalue", "cfi", "tli", "rmsea", "srmr", "chisq.diff", "df.diff",
                "pvalue.diff", "delta.cfi", "delta.rmsea"]
        return [self.reported.get(c, c) if self.reported.get(c, c) in self.table.columns else c for c in cols]

    def summary(self) -> str:
        cols = self.shown_columns()
        t = self.table.set_index("step")[cols]
        groups = ", ".join(f"{g} (n = {n})" for g, n in zip(self.group_labels, self.nobs_groups))
        s = [f"Measurement invariance across {self.group!r}: {groups}", f"Missing data: {self.missing_summary}",
             f"Estimation: {self.estimation}", "",
             _indent(t.to_string(float_format=lambda v: f"{v:.3f}", na_rep=""), 2), ""]
        s += [f"  {st}: {v}" for st, v in zip(self.table["step"], self.table["verdict"])]
        s += ["", f"Rule: {self.rule.text()}.",
              f"Highest level supported: {self.highest or 'none (the configural model is not acceptable)'}."]
        s += [f"Warning: {w}" for w in self.warnings]
        return "\n".join(s)

    def __repr__(self) -> str:
        return (f"<InvarianceResult {self.group!r}: steps {', '.join(self.table['step'])}; "
                f"highest supported: {self.highest}>")

    def _repr_html_(self) -> str:
        # compact, paper-style table; the verdict sentences go below it (they are too long
        # for a table cell). The full tidy table stays in ``.table``.
        def num(v, d=3):
            return "" if v is None or pd.isna(v) else f"{v:.{d}f}"

        from .reporting.fitmeasures import measure_label

        rk = {k: (v if v in self.table.columns else k) for k, v in self.reported.items()}

        def lab(k: str, text: str) -> str:
            key = rk.get(k, k)
            return text if key == k else f"{text} ({measure_label(key).split(' ')[0]})"

        head = ["Step", "npar", lab("chisq", "\u03c7\u00b2 (df)"), "p", lab("cfi", "CFI"), lab("tli", "TLI"),
                lab("rmsea", "RMSEA [90% CI]"), "SRMR", "\u0394\u03c7\u00b2 (\u0394df)" + (" (scaled)" if self.robust else ""),
                "p (\u0394\u03c7\u00b2)", lab("cfi", "\u0394CFI"), lab("rmsea", "\u0394RMSEA"), "Holds"]
        rows = []
        for _, r0 in self.table.iterrows():
            r = r0.copy()
            for k in ("chisq", "df", "pvalue", "cfi", "tli", "rmsea", "rmsea.ci.lower", "rmsea.ci.upper"):
                r[k] = r0[rk.get(k, k)]
            diff = "" if pd.isna(r.get("chisq.diff")) else f"{r['chisq.diff']:.2f} ({int(r['df.diff'])})"
            holds = r.get("holds")
            rows.append([r["step"], str(int(r["npar"])), f"{r['chisq']:.2f} ({int(r['df'])})", format_p(r["pvalue"], missing=""),
                         num(r["cfi"]), num(r["tli"]),
                         f"{num(r['rmsea'])} [{num(r['rmsea.ci.lower'])}, {num(r['rmsea.ci.upper'])}]",
                         num(r["srmr"]), diff, "" if pd.isna(r.get("pvalue.diff")) else format_p(r["pvalue.diff"]),
                         "" if pd.isna(r.get("delta.cfi")) else f"{r['delta.cfi']:+.3f}",
                         "" if pd.isna(r.get("delta.rmsea")) else f"{r['delta.rmsea']:+.3f}",
                         "" if holds is None or (isinstance(holds, float) and pd.isna(holds)) else ("yes" if holds else "no")])
        table = html_table(pd.DataFrame(rows, columns=head), numeric_class=None)
        verdicts = "".join(f"<li><b>{html.escape(str(r['step']))}</b>: {html.escape(str(r['verdict']))}</li>"
                           for _, r in self.table.iterrows() if isinstance(r.get("verdict"), str) and r["verdict"])
        return ("<div><p><b>Measurement invariance</b> across " + html.escape(repr(self.group))
                + ("" if self.estimation == "ML" else f"; estimation: {html.escape(self.estimation)}") + "</p>"
                + table + (f"<ul>{verdicts}</ul>" if verdicts else "")
                + f"<p>Rule: {html.escape(self.rule.text())}.</p>"
                + f"<p>Highest level supported: <b>{html.escape(str(self.highest))}</b></p>"
                + "".join(f"<p style='color:#a40'>Warning: {html.escape(w)}</p>" for w in self.warnings)
                + "</div>")


def measurement_invariance(model: "str | Instrument", data: pd.DataFrame, group: str, *,
                           steps: Sequence[str] = ("configural", "metric", "scalar", "strict"),
                           instrument: "Instrument | None" = None, group_partial: Sequence[str] = (),
                           cfi_drop: float = -0.010, rmsea_rise: float = 0.015,
                           configural_cfi: float | None = 0.90, alpha: float = 0.05,
                           missing: str = "ml", estimator: Any = None, ordered: Any = None,
                           se: str | None = None, test: str | None = None) -> InvarianceResult:
    """Test configural, metric, scalar and strict invariance across groups (lavaan ``group.equal``).

    Parameters
    ----------
    model : str or Instrument
        lavaan syntax; or a model name of ``instrument`` (``"measurement"``, ``"combined"``,
        ...); or an :class:`~crm_research.instruments.Instrument` (its measurement model).
    data : DataFrame
        Raw data with the model's items and the group column.
    group : str
        Column defining the groups (at least two, each with more complete cases than
        observed variables).
    steps : sequence of str
        Any of ``configural, metric, scalar, strict`` in this order; each is compared with the
        previous one listed.
    instrument : Instrument, optional
        Needed when ``model`` is a model name.
    group_partial : sequence of str
        Parameters exempt from the equality constraints (partial invariance), e.g.
        ``["visual=~x2", "x3~1"]``, applied to every constrained step.
    cfi_drop, rmsea_rise : float
        Thresholds of the rule (see :class:`InvarianceRule`).
    configural_cfi : float or None
        Minimum CFI for the configural model to count as acceptable (None: not judged).
    alpha : float
        Level of the reported chi-square difference tests.
    missing : {"ml", "listwise"}
        Full-information ML (default: every respondent with a known group and an answer) or
        complete cases only.

    Returns
    -------
    InvarianceResult

    Raises
    ------
    ModelError
        Unknown or out-of-order steps, group column missing, fewer than two groups, a group
        with too few complete cases, or any model error of :func:`crm_research.sem.fit`.

    Examples
    --------
    >>> import pandas as pd
    >>> hs = pd.read_csv("tests/reference/lavaan/HolzingerSwineford1939.csv")
    >>> cfa = "visual =~ x1 + x2 + x3\\ntextual =~ x4 + x5 + x6"
    >>> inv = measurement_invariance(cfa, hs, "school", steps=("configural", "metric"))
    >>> inv.highest, inv.group_labels, inv.nobs_groups
    ('metric', ['Pasteur', 'Grant-White'], [156, 145])
    """

    rule = InvarianceRule(cfi_drop, rmsea_rise, configural_cfi)
    steps = [steps] if isinstance(steps, str) else list(steps)
    order = list(STEPS)
    bad = [s for s in steps if s not in STEPS]
    if bad or not steps:
        raise ModelError(f"steps: unknown invariance step(s) {bad or steps}", hint=f"use any of {', '.join(order)}")
    if [order.index(s) for s in steps] != sorted({order.index(s) for s in steps}):
        raise ModelError(f"steps {steps} are not in nesting order (or repeat a step)",
                         hint=f"list them as {', '.join(order)}")
    missing = _check_missing(missing)
    est_opt = _estimation(estimator, ordered, se, test, "measurement_invariance")
    steps_of = STEPS_ORDERED if est_opt.ordered else STEPS
    syntax0 = resolve_syntax(model, instrument, data)
    labels, ns = _check_groups(data, group, syntax0, missing)
    syntax = per_group_syntax(syntax0, len(labels))
    warnings: list[str] = []
    small = [f"{lab!r} (n = {n})" for lab, n in zip(labels, ns) if n < 100]
    if small:
        warnings.append("small group(s) " + ", ".join(small) + ": fit indices and their changes are unstable "
                        "below about 100 cases per group")
    fits: dict[str, Any] = {}
    rows = []
    prev = None
    supported = True
    highest = None
    shown: list[dict[str, float]] = []
    for st in steps:
        ge = list(steps_of[st])
        fits[st] = _fit(est_opt, syntax, data, "measurement_invariance", group=group, group_equal=ge,
                        group_partial=list(group_partial) if ge else [], missing=missing)
    reported = _common_reported([f.fit_measures for f in fits.values()])
    for st in steps:
        ge = list(steps_of[st])
        res = fits[st]
        for w in res.warnings:
            warnings.append(f"{st}: {w}")
        row = {"step": st, "group_equal": ", ".join(ge), "npar": int(_fm(res, "npar"))}
        for k in ("chisq", "df", "pvalue", "cfi", "tli", "rmsea", "rmsea.ci.lower", "rmsea.ci.upper", "srmr",
                  "aic", "bic"):
            row[k] = _fm(res, k)
        for k in _ROBUST_COLS:
            if math.isfinite(_fm(res, k)):
                row[k] = _fm(res, k)
        row["df"] = int(row["df"])
        shown.append({b: row.get(k, float("nan")) for b, k in reported.items()})
        sh = shown[-1]
        cfi_name, rmsea_name = measure_label(reported["cfi"]), measure_label(reported["rmsea"])
        d_cfi = "\u0394CFI" if cfi_name == "CFI" else f"\u0394({cfi_name})"
        d_rmsea = "\u0394RMSEA" if rmsea_name == "RMSEA" else f"\u0394({rmsea_name})"
        diff_name = "\u0394\u03c7\u00b2" if reported["chisq"] == "chisq" else "scaled \u0394\u03c7\u00b2"
        row.update({"chisq.diff": np.nan, "df.diff": pd.NA, "pvalue.diff": np.nan, "delta.cfi": np.nan,
                    "delta.rmsea": np.nan})
        if prev is None:
            if not res.converged:
                holds, verdict = False, "not acceptable: the model did not converge"
            elif st == "configural" and rule.configural_cfi is not None and not sh["cfi"] >= rule.configural_cfi:
                holds, verdict = False, (f"not acceptable: {cfi_name} = {sh['cfi']:.3f} < {rule.configural_cfi:.2f}; "
                                         "the factor structure differs or misfits in the groups")
            else:
                holds = True
                verdict = (f"baseline: {cfi_name} = {sh['cfi']:.3f}, {rmsea_name} = {sh['rmsea']:.3f}, "
                           f"SRMR = {row['srmr']:.3f}")
        else:
            cmp = _lrt(res, fits[prev], (st, prev), alpha)
            warnings.extend(f"{st} vs {prev}: {w}" for w in cmp.warnings)
            row.update({"chisq.diff": cmp.chisq_diff, "df.diff": cmp.df_diff, "pvalue.diff": cmp.pvalue,
                        "delta.cfi": sh["cfi"] - shown[-2]["cfi"], "delta.rmsea": sh["rmsea"] - shown[-2]["rmsea"]})
            holds = res.converged and rule.holds(row["delta.cfi"], row["delta.rmsea"])
            p = cmp.pvalue
            ptxt = format_p(p, prefix=True)
            test = (f"{d_cfi} = {row['delta.cfi']:+.3f}, {d_rmsea} = {row['delta.rmsea']:+.3f}; "
                    f"{diff_name}({cmp.df_diff}) = {cmp.chisq_diff:.2f}, {ptxt}")
            if not res.converged:
                verdict = f"not supported: the model did not converge ({test})"
            elif holds:
                verdict = f"{st} invariance holds ({test})"
                if p < alpha:
                    verdict += " - the \u03c7\u00b2 test is significant, the fit-index rule is not violated"
            else:
                why = []
                if not row["delta.cfi"] >= rule.cfi_drop - _TOL:
                    why.append(f"{d_cfi} < {rule.cfi_drop:.3f}")
                if not row["delta.rmsea"] <= rule.rmsea_rise + _TOL:
                    why.append(f"{d_rmsea} > {rule.rmsea_rise:.3f}")
                verdict = f"{st} invariance not supported: {' and '.join(why)} ({test})"
            if not supported:
                verdict += f"; not interpretable as {st} invariance because an earlier step failed"
        row["holds"] = bool(holds)
        row["verdict"] = verdict
        if supported and holds:
            highest = st
        supported = supported and holds
        rows.append(row)
        prev = st
    table = pd.DataFrame(rows)
    table["df.diff"] = table["df.diff"].astype("Int64")
    if steps[0] != "configural" and highest is not None:
        warnings.append(f"the first step listed is {steps[0]!r}: it is the baseline and is not tested itself")
    from .sem import estimation_label

    first_fit = next(iter(fits.values()))
    return InvarianceResult(table=table, fits=fits, highest=highest, rule=rule, syntax=syntax, group=group,
                            group_labels=labels, nobs_groups=ns, warnings=warnings,
                            missing=str(getattr(first_fit, "missing", missing) or missing),
                            estimation=estimation_label(first_fit), reported=reported)


# --------------------------------------------------------------------------- structural paths
def _hypothesis_ids(instrument, rows) -> dict[tuple[str, str], str]:
    out: dict[tuple[str, str], list[str]] = {}
    if instrument is None:
        return {}
    for h in instrument.hypotheses:
        out.setdefault((h.lhs, h.rhs), []).append(h.id)
    return {k: ", ".join(v) for k, v in out.items()}


def compare_paths(model: "str | Instrument", data: pd.DataFrame, group: str, *, paths: Sequence[str] | None = None,
                  invariance: str = "metric", instrument: "Instrument | None" = None,
                  group_partial: Sequence[str] = (), alpha: float = 0.05, missing: str = "ml",
                  estimator: Any = None, ordered: Any = None, se: str | None = None,
                  test: str | None = None) -> pd.DataFrame:
    """Compare structural paths across groups, one equality test per path.

    For each path the model with that path constrained equal across groups (one shared
    label, lavaan's ``c(a, a)*x``) is compared with the model where it is free (the ``base``
    model: ``invariance`` level of measurement constraints, every path free) by lavaan's
    ``lavTestLRT``; p values are Holm-adjusted across the tested paths.

    Parameters
    ----------
    model : str or Instrument
        lavaan syntax, or a model name of ``instrument`` (e.g. ``"combined"``).
    data : DataFrame
    group : str
        Column defining the groups.
    paths : sequence of str, optional
        Paths to test, each as ``"SAT~OPS"`` / ``"SAT ~ OPS"``, as a label of the syntax
        (``"h1"``) or, with ``instrument``, a hypothesis id (``"H1"``).  Default: every
        ``~`` regression of the model.
    invariance : {"configural", "metric", "scalar"}
        Measurement constraints kept in both models.  Metric (equal loadings, the default)
        is the precondition for comparing unstandardized paths across groups.
    instrument : Instrument, optional
        Resolves model names and hypothesis ids (and fills the ``hypothesis`` column).
    group_partial : sequence of str
        Exceptions to the measurement constraints (partial invariance).
    alpha : float
        Level for the verdicts (applied to the Holm-adjusted p).
    missing : {"ml", "listwise", "pairwise"}
        Full-information ML (default), complete cases only, or pairwise (ordered items).
    estimator, ordered, se, test : optional
        lavaan's estimation options of every fit (:func:`crm_research.estimation.check_estimation`);
        with a robust or ordinal fit each test is the scaled χ² difference
        (:func:`crm_research.sem.compare_models`) and ``attrs["estimation"]`` names it.

    Returns
    -------
    DataFrame
        One row per path: ``path, lhs, op, rhs, hypothesis, label``, per group ``est.<g>,
        se.<g>, std.all.<g>`` (group labels as in the data), then ``chisq.diff, df.diff,
        pvalue, pvalue.adj`` (Holm; ``attrs["p.adjust"]``) and ``verdict``.  ``attrs["base"]`` holds the base SEMResult,
        ``attrs["restricted"]`` the constrained fits by path, ``attrs["missing"]`` the
        missing-data treatment and ``attrs["nobs_groups"]`` the group sizes used.

    Examples
    --------
    >>> import pandas as pd
    >>> from crm_research import instruments
    >>> hs = pd.read_csv("tests/reference/lavaan/HolzingerSwineford1939.csv")
    >>> inst = instruments.load_instrument("tests/reference/lavaan/hs_abilities.yaml")
    >>> t = compare_paths("mediated", hs, "school", instrument=inst)
    >>> t[["path", "hypothesis", "pvalue", "pvalue.adj"]].round(3)
            path hypothesis  pvalue  pvalue.adj
    0  TXT ~ VIS         Ha   0.536         1.0
    1  SPD ~ TXT         Hc   0.867         1.0
    >>> t.attrs["p.adjust"]
    'holm'
    """
    from statsmodels.stats.multitest import multipletests

    from .sem import estimation_label
    from .sem.syntax import parse_syntax

    if invariance not in ("configural", "metric", "scalar"):
        raise ModelError(f"invariance={invariance!r} is not supported",
                         hint="use 'configural', 'metric' (default) or 'scalar'")
    missing = _check_missing(missing)
    est_opt = _estimation(estimator, ordered, se, test, "compare_paths")
    steps_of = STEPS_ORDERED if est_opt.ordered else STEPS
    syntax0 = resolve_syntax(model, instrument, data)
    labels, ns = _check_groups(data, group, syntax0, missing)
    G = len(labels)
    parsed = parse_syntax(syntax0)
    regs = [r for r in parsed.rows if r.op == "~"]
    if not regs:
        raise ModelError("the model has no structural path (no '~' regression)",
                         hint="compare_paths needs a structural model, e.g. 'SAT ~ OPS'")
    hyp = _hypothesis_ids(instrument, regs)
    by_key = {}
    for r in regs:
        names = {f"{r.lhs}~{r.rhs}"} | {lab for lab in (r.mod.label or []) if lab}
        names |= {h.strip() for h in hyp.get((r.lhs, r.rhs), "").split(",") if h.strip()}
        for n in names:
            by_key[n.lower()] = r
    if paths is None:
        chosen = regs
    else:
        chosen = []
        for p in [paths] if isinstance(paths, str) else list(paths):
            r = by_key.get(str(p).replace(" ", "").lower())
            if r is None:
                raise ModelError(f"paths: {p!r} is not a regression of the model",
                                 hint="use one of: " + ", ".join(f"{x.lhs}~{x.rhs}" for x in regs))
            if r not in chosen:
                chosen.append(r)
    fixed = [r for r in chosen if r.mod.fixed is not None and not all(math.isnan(v) for v in r.mod.fixed)]
    if fixed and paths is not None:
        raise ModelError(f"path {fixed[0].lhs} ~ {fixed[0].rhs} is fixed in the model, so it cannot be compared",
                         hint="compare free paths only")
    chosen = [r for r in chosen if r not in fixed]
    ge = list(steps_of[invariance])
    gp = list(group_partial) if ge else []
    base_syntax = per_group_syntax(syntax0, G)
    base = _fit(est_opt, base_syntax, data, "compare_paths", group=group, group_equal=ge, group_partial=gp,
                missing=missing)
    est = base.estimates
    restricted = {}
    rows = []
    for r in chosen:
        key = (r.lhs, "~", r.rhs)
        row = {"path": f"{r.lhs} ~ {r.rhs}", "lhs": r.lhs, "op": "~", "rhs": r.rhs,
               "hypothesis": hyp.get((r.lhs, r.rhs), ""),
               "label": next((lab for lab in (r.mod.label or []) if lab), "")}
        e = est[(est["lhs"] == r.lhs) & (est["op"] == "~") & (est["rhs"] == r.rhs)].set_index("group")
        for g, lab in enumerate(labels, start=1):
            for c in ("est", "se", "std.all"):
                row[f"{c}.{lab}"] = float(e.loc[g, c])
        res_r = _fit(est_opt, per_group_syntax(syntax0, G, shared=[key]), data, "compare_paths", group=group,
                     group_equal=ge, group_partial=gp, missing=missing)
        restricted[row["path"]] = res_r
        cmp = _lrt(res_r, base, ("equal", "free"), alpha)
        row.update({"chisq.diff": cmp.chisq_diff, "df.diff": cmp.df_diff, "pvalue": cmp.pvalue})
        rows.append(row)
    table = pd.DataFrame(rows)
    if len(table):
        table["pvalue.adj"] = multipletests(table["pvalue"].to_numpy(), method="holm")[1]
        verdicts = []
        for _, t in table.iterrows():
            pa = t["pvalue.adj"]
            ptxt = "Holm-adjusted " + format_p(pa, prefix=True)
            dtxt = f"\u0394\u03c7\u00b2({int(t['df.diff'])}) = {t['chisq.diff']:.2f}, {ptxt}"
            if pa < alpha:
                verdicts.append(f"differs across groups ({dtxt})")
            else:
                verdicts.append(f"no evidence of a difference across groups ({dtxt})")
        table["verdict"] = verdicts
        table["df.diff"] = table["df.diff"].astype(int)
    table.attrs["p.adjust"] = "holm"
    table.attrs["base"] = base
    table.attrs["restricted"] = restricted
    table.attrs["invariance"] = invariance
    table.attrs["syntax"] = base_syntax
    table.attrs["warnings"] = [f"base model: {w}" for w in base.warnings]
    table.attrs["missing"] = str(getattr(base, "missing", missing) or missing)
    table.attrs["nobs_groups"] = dict(zip(labels, base.nobs_groups))
    table.attrs["estimation"] = estimation_label(base)
    return table


def _indent(text: str, n: int) -> str:
    return "\n".join(" " * n + line for line in text.splitlines())

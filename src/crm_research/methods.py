"""CB-SEM and PLS-SEM on one instrument: the PLS path model of a declared model, its hypothesis
tests, and the two methods side by side.

Much published satisfaction and loyalty research is estimated with PLS path modelling
(SmartPLS, ADANCO), the rest with covariance-based SEM (lavaan, AMOS). This module lets a
study answer "what does the other method say?" for every model its instrument declares:

- :func:`pls_syntax` -- the PLS path model of a declared model, written from the instrument
  alone: every first-order construct reflective (mode A, ``=~``) unless named in
  ``composite`` (mode B, ``<~``), a higher-order construct measured by its dimensions
  (:func:`crm_research.pls.fit` estimates it by repeated indicators or in two stages), one
  ``~`` line per outcome. Nothing else: PLS has no error variances to fix, so the fixed error
  variance a single-item construct gets in CB-SEM does not apply (its item *is* the construct).
- :func:`test_pls_model` -- fit that model by PLS (bootstrap intervals) and test its hypotheses:
  a :class:`PLSModelTest` with the fitted :class:`~crm_research.pls.result.PLSResult`, the
  hypothesis table and the declared indirect effects.
- :func:`pls_hypothesis_table` -- per hypothesis the PLS path, its bootstrap SE, t, p and
  confidence interval, and the verdict: supported when the interval excludes 0 on the
  expected side (the interval at level 1 - ``alpha``).
- :func:`compare_methods` -- the hypothesis table with the CB-SEM estimate, p and verdict beside
  the PLS estimate, interval and verdict; :func:`describe_disagreements` says in plain words
  where the two methods disagree (a path supported by one and not by the other);
  :func:`methods_plot` draws both estimates with their intervals.

The CB-SEM estimate compared is the standardized path (lavaan's ``std.all``): PLS paths are
standardized too. Both are expected to differ a little (PLS composites carry the items'
measurement error, which attenuates paths between reflective constructs; consistent PLS,
``consistent=True``, corrects it). Nothing here knows the bundled study's constructs, models or
wording: everything comes from the instrument.

Examples
--------
>>> from crm_research import instruments
>>> inst = instruments.load_instrument("tests/data/service_quality/service_quality.yaml")
>>> print(pls_syntax(inst, "core"))
STAFF =~ ST1 + ST2 + ST3
DIGI =~ DG1 + DG2 + DG3
FEES =~ FE1 + FE2 + FE3
OSAT =~ OS1
REC =~ NPS
OSAT ~ STAFF + DIGI + FEES
REC ~ OSAT
<BLANKLINE>
"""
from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from .errors import ConfigError, DataFileError, InstrumentError, ModelError
from .reporting.format import format_ci, format_number, format_p, html_table, markdown_table

if TYPE_CHECKING:  # pragma: no cover
    from .instruments import Hypothesis, Instrument

__all__ = ["METHOD_NAMES", "HIGHER_ORDER_CHOICES", "two_stage_option", "pls_syntax", "pls_hypothesis_table", "test_pls_model",
           "PLSModelTest", "compare_methods", "describe_disagreements", "methods_plot", "record_pls",
           "record_comparison"]

#: Display names of the two methods.
METHOD_NAMES = {"cbsem": "CB-SEM", "pls": "PLS-SEM"}
#: How a higher-order construct is estimated by PLS.
HIGHER_ORDER_CHOICES = ("repeated_indicators", "two_stage", "embedded_two_stage")
_TWO_STAGE = {"repeated_indicators": False, "two_stage": "disjoint", "embedded_two_stage": "embedded"}


def two_stage_option(higher_order: str, *, option: str = "higher_order") -> bool | str:
    """:func:`crm_research.pls.fit`'s ``two_stage`` for a ``higher_order`` choice.

    Parameters
    ----------
    higher_order : {"repeated_indicators", "two_stage", "embedded_two_stage"}
    option : str
        The option's name in the error message (``higher_order``, ``--higher-order``).

    Returns
    -------
    bool or str
        False (repeated indicators), ``"disjoint"`` or ``"embedded"``.

    Raises
    ------
    ConfigError
        Another value, naming the option and the choices.

    Examples
    --------
    >>> two_stage_option("two_stage"), two_stage_option("repeated_indicators")
    ('disjoint', False)
    """
    if higher_order not in _TWO_STAGE:
        raise ConfigError("parameters" if option == "higher_order" else option, option if option == "higher_order" else "",
                          f"expected one of {', '.join(HIGHER_ORDER_CHOICES)}, got {higher_order!r}")
    return _TWO_STAGE[higher_order]
ARROW = "\u2192"
_SIGN = {"positive": "+", "negative": "-"}


# --------------------------------------------------------------------------- the PLS path model
def _check_model_name(inst: "Instrument", model: str | None) -> str:
    names = list(inst.models)
    if not names:
        raise InstrumentError(inst.path or inst.id, "models", "the instrument declares no structural model",
                              hint="add a `models:` section with hypotheses")
    if model is None:
        return names[0]
    if model not in inst.models:
        raise InstrumentError(inst.path or inst.id, "models", f"no model {model!r}", hint="known: " + ", ".join(names))
    return model


def _used_constructs(inst: "Instrument", model: str) -> list[str]:
    """Constructs of a declared model (hypotheses, declared indirect effects, dimensions of
    higher-order ones), in instrument order."""
    spec = inst.models[model]
    used: set[str] = set()
    for hid in spec.hypotheses:
        h = inst.hypothesis(hid)
        used |= {h.lhs, h.rhs}
    for ind in spec.indirect:
        used |= {ind["from"], ind["via"], ind["to"]}
    todo = list(used)
    while todo:
        c = inst.construct(todo.pop())
        for d in c.dimensions:
            if d not in used:
                used.add(d)
                todo.append(d)
    return [c.id for c in inst.constructs if c.id in used]


def pls_syntax(instrument: "Instrument", model: str | None = None, *, composite: Iterable[str] = ()) -> str:
    """The PLS path model of one of the instrument's declared models, in lavaan-style syntax
    as :func:`crm_research.pls.fit` (and cSEM) read it.

    Parameters
    ----------
    instrument : Instrument
    model : str, optional
        A model the instrument declares (default: its first).
    composite : iterable of str
        First-order constructs to estimate as composites (mode B weights, ``<~``); every other
        construct is reflective (mode A, ``=~``), PLS's usual choice for the multi-item scales
        of a survey.

    Returns
    -------
    str
        One line per construct (first-order ones with their items, higher-order ones with
        their dimensions), then one ``~`` line per outcome with its predictors in hypothesis
        order.

    Raises
    ------
    InstrumentError
        The instrument declares no such model.
    ConfigError
        ``composite`` names a construct that is not a first-order construct of the model.

    Examples
    --------
    >>> from crm_research.instruments import load_instrument
    >>> print(pls_syntax(load_instrument("tests/reference/lavaan/hs_abilities.yaml"), "mediated",
    ...                  composite=["VIS"]))
    VIS <~ x1 + x2 + x3
    TXT =~ x4 + x5 + x6
    SPD =~ x7
    TXT ~ VIS
    SPD ~ TXT
    <BLANKLINE>
    """
    inst = instrument
    model = _check_model_name(inst, model)
    used = _used_constructs(inst, model)
    composite = list(composite or ())
    for c in composite:
        if c not in used or inst.construct(c).is_higher_order:
            raise ConfigError("composite", str(c), f"is not a first-order construct of model {model!r}",
                              hint="first-order constructs of the model: "
                                   + ", ".join(u for u in used if not inst.construct(u).is_higher_order))
    lines = []
    for cid in used:
        c = inst.construct(cid)
        if not c.is_higher_order:
            op = "<~" if cid in composite else "=~"
            lines.append(f"{cid} {op} " + " + ".join(it.id for it in c.items))
    for cid in used:
        c = inst.construct(cid)
        if c.is_higher_order:
            lines.append(f"{cid} =~ " + " + ".join(c.dimensions))
    preds: dict[str, list[str]] = {}
    for hid in inst.models[model].hypotheses:
        h = inst.hypothesis(hid)
        if h.rhs not in preds.setdefault(h.lhs, []):
            preds[h.lhs].append(h.rhs)
    lines += [f"{y} ~ " + " + ".join(xs) for y, xs in preds.items()]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- hypothesis table
def _paths_of(result: Any) -> pd.DataFrame:
    paths = result if isinstance(result, pd.DataFrame) else getattr(result, "paths", None)
    if not isinstance(paths, pd.DataFrame) or not {"lhs", "rhs", "est"} <= set(paths.columns):
        raise ModelError("expected a PLS result (crm_research.pls.fit) or its paths table "
                         "(columns lhs, op, rhs, est, ...)")
    return paths


def _ci_level_of(result: Any, default: float) -> float:
    for obj in (result, getattr(result, "paths", None)):
        if isinstance(obj, pd.DataFrame) and obj.attrs.get("ci.level"):
            return float(obj.attrs["ci.level"])
    v = getattr(result, "ci_level", None)
    if v is None:
        v = getattr(getattr(result, "boot", None), "ci_level", None)
    if v is None:
        b = getattr(result, "bootstrap", None)
        v = b.get("ci_level") if isinstance(b, dict) else getattr(b, "ci_level", None)
    return float(v) if v else default


def _hypotheses_of(hypotheses: Any, model: str | None) -> list["Hypothesis"]:
    if hasattr(hypotheses, "models") and hasattr(hypotheses, "hypotheses"):
        inst = hypotheses
        if model is None:
            return list(inst.hypotheses)
        model = _check_model_name(inst, model)
        return [inst.hypothesis(h) for h in inst.models[model].hypotheses]
    return list(hypotheses)


def pls_hypothesis_table(result: Any, hypotheses: "Instrument | Iterable[Hypothesis]", model: str | None = None, *,
                         alpha: float = 0.05) -> pd.DataFrame:
    """The hypothesis table of a PLS path model.

    Parameters
    ----------
    result : PLSResult or DataFrame
        A :func:`crm_research.pls.fit` result, or its ``paths`` table (``lhs`` = outcome,
        ``rhs`` = predictor, ``est`` and, with a bootstrap, ``se``, ``t``, ``pvalue``,
        ``ci.lower``, ``ci.upper``).
    hypotheses : Instrument or list of Hypothesis
        With an instrument and ``model``, that model's hypotheses; with an instrument alone,
        all of its hypotheses; with a list, these.
    model : str, optional
        A model the instrument declares.
    alpha : float
        Significance level; the verdict reads the interval the fit made (its level should be
        1 - ``alpha``: :func:`test_pls_model` sees to it).

    Returns
    -------
    DataFrame
        ``hypothesis, path, expected, est, se, t, pvalue, ci.lower, ci.upper, supported,
        verdict``. ``supported`` is True when the interval excludes 0 on the expected side,
        False otherwise, and None (verdict ``not tested (no bootstrap)``) without intervals.
        ``attrs["ci.level"]`` holds the level of the intervals.

    Raises
    ------
    ModelError
        A hypothesis' path is not in the model.
    ConfigError
        ``alpha`` is not between 0 and 1.

    Examples
    --------
    >>> import pandas as pd
    >>> from crm_research.instruments import Hypothesis
    >>> paths = pd.DataFrame({"lhs": ["Y", "Y"], "op": ["~", "~"], "rhs": ["X", "Z"], "est": [0.42, 0.05],
    ...                       "se": [0.06, 0.07], "t": [7.0, 0.71], "pvalue": [0.0, 0.48],
    ...                       "ci.lower": [0.30, -0.09], "ci.upper": [0.53, 0.19]})
    >>> hs = [Hypothesis("Ha", "Y", "X"), Hypothesis("Hb", "Y", "Z")]
    >>> pls_hypothesis_table(paths, hs)[["hypothesis", "path", "est", "supported", "verdict"]]
      hypothesis   path   est  supported                     verdict
    0         Ha  X → Y  0.42       True                   supported
    1         Hb  Z → Y  0.05      False  not supported (CI includes 0)
    """
    if not isinstance(alpha, (int, float)) or not 0 < float(alpha) < 1:
        raise ConfigError("parameters", "alpha", f"must be a number between 0 and 1, got {alpha!r}")
    paths = _paths_of(result)
    level = _ci_level_of(result, 1 - float(alpha))
    rows = []
    for h in _hypotheses_of(hypotheses, model):
        r = paths[(paths["lhs"] == h.lhs) & (paths["rhs"] == h.rhs)
                  & ((paths["op"] == "~") if "op" in paths.columns else True)]
        if r.empty:
            raise ModelError(f"hypothesis {h.id} ({h.rhs} {ARROW} {h.lhs}) is not a path of the PLS model",
                             hint=f"add '{h.lhs} ~ {h.rhs}' to the model syntax")
        r = r.iloc[0]
        get = (lambda k: float(r[k]) if k in r.index and pd.notna(r[k]) else np.nan)  # noqa: E731
        est, lo, hi = get("est"), get("ci.lower"), get("ci.upper")
        if np.isnan(lo) or np.isnan(hi):
            supported, verdict = None, "not tested (no bootstrap)"
        else:
            positive = h.sign != "negative"
            excludes = lo > 0 or hi < 0
            right_side = (lo > 0) if positive else (hi < 0)
            supported = bool(right_side)
            verdict = ("supported" if right_side else "not supported (significant, opposite sign)" if excludes
                       else "not supported (CI includes 0)")
        rows.append({"hypothesis": h.id, "path": f"{h.rhs} {ARROW} {h.lhs}", "expected": _SIGN.get(h.sign, h.sign),
                     "est": est, "se": get("se"), "t": get("t"), "pvalue": get("pvalue"), "ci.lower": lo,
                     "ci.upper": hi, "supported": supported, "verdict": verdict})
    if not rows:
        raise ModelError("no hypothesis to test", hint="pass an instrument and one of its models")
    out = pd.DataFrame(rows, columns=["hypothesis", "path", "expected", "est", "se", "t", "pvalue", "ci.lower",
                                      "ci.upper", "supported", "verdict"])
    out["supported"] = pd.Series([r["supported"] for r in rows], dtype=object)   # True, False or None (not tested)
    out.attrs["ci.level"] = level
    return out


# --------------------------------------------------------------------------- fitting a declared model
@dataclass
class PLSModelTest:
    """One declared model estimated by PLS-SEM, with its hypotheses tested.

    Attributes
    ----------
    model : str
    syntax : str
        The PLS path model (:func:`pls_syntax`).
    result : PLSResult
        The :func:`crm_research.pls.fit` result (every PLS table: weights, loadings,
        reliability, HTMT, R², f², effects, SRMR ...).
    hypotheses : DataFrame
        :func:`pls_hypothesis_table`.
    indirect : DataFrame
        The declared indirect effects: ``name, path, from, via, to, est, se, pvalue, ci.lower,
        ci.upper, significant`` (bootstrap columns empty without a bootstrap).
    alpha : float
    settings : dict
        How the model was estimated (scheme, consistent, higher_order, bootstrap, seed, ...).

    Examples
    --------
    >>> from crm_research import instruments, study
    >>> inst = instruments.load_instrument("tests/data/service_quality/service_quality.yaml")
    >>> s = study.load_study_sample("tests/data/service_quality/responses.csv", inst, None)
    >>> t = test_pls_model(s.items, inst, "core", bootstrap=0)
    >>> t.nobs, t.outcomes, t.single_items
    (353, ['OSAT', 'REC'], ['OSAT', 'REC'])
    """

    model: str
    syntax: str
    result: Any
    hypotheses: pd.DataFrame
    indirect: pd.DataFrame = field(default_factory=pd.DataFrame)
    alpha: float = 0.05
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def supported(self) -> dict[str, bool | None]:
        """``{hypothesis id: supported}`` (None: not tested)."""
        return dict(zip(self.hypotheses["hypothesis"], self.hypotheses["supported"]))

    @property
    def nobs(self) -> int:
        return int(getattr(self.result, "nobs", 0) or 0)

    @property
    def outcomes(self) -> list[str]:
        """The model's outcomes (constructs its hypotheses predict), in hypothesis order."""
        return list(dict.fromkeys(str(p).split(f" {ARROW} ")[-1] for p in self.hypotheses["path"]))

    @property
    def r2(self) -> dict[str, float]:
        """``{outcome: R²}`` of the model's outcomes (not the dimensions of a second-order
        construct, whose R² the repeated indicators make)."""
        tab = self.result.r2
        got = dict(zip(tab["construct"], tab["r2"]))
        return {c: float(got[c]) for c in self.outcomes if c in got}

    @property
    def higher_order(self) -> dict[str, tuple[str, ...]]:
        """Second-order construct -> its dimensions, as the fitted model holds them (repeated
        indicators; empty after a two-stage estimation, whose stage-2 model measures the
        second-order construct by its dimensions' scores)."""
        return dict(getattr(self.result.model, "higher_order", {}) or {})

    @property
    def single_items(self) -> list[str]:
        """Constructs measured by one item (loading and reliability 1 by definition)."""
        m = self.result.model
        return [c for c in m.constructs if len(m.blocks.get(c, ())) == 1]

    @property
    def loadings(self) -> pd.DataFrame:
        """The loadings (weights of composites are in ``result.weights``) to assess: items of
        multi-item first-order constructs (not a second-order construct's repeated items, not
        single items)."""
        L = self.result.loadings
        skip = set(self.higher_order) | set(self.single_items)
        return L[~L["lhs"].isin(skip)].reset_index(drop=True)

    @property
    def reliability(self) -> pd.DataFrame:
        """Reliability and convergent validity of the constructs to assess (as :attr:`loadings`)."""
        R = self.result.reliability
        skip = set(self.higher_order) | set(self.single_items)
        return R[~R["construct"].isin(skip)].reset_index(drop=True)

    @property
    def htmt(self) -> pd.DataFrame:
        """HTMT of every pair but a second-order construct with its own dimensions (repeated
        indicators: they share their items)."""
        H = self.result.htmt
        own = {frozenset((h, d)) for h, dims in self.higher_order.items() for d in dims}
        keep = [frozenset((a, b)) not in own for a, b in zip(H["lhs"], H["rhs"])]
        return H[keep].reset_index(drop=True)

    @property
    def second_order_paths(self) -> pd.DataFrame:
        """Repeated indicators: each dimension's path from its second-order construct (its
        "loading" on it, with the bootstrap columns), ``lhs`` second-order construct, ``op``
        ``=~``, ``rhs`` dimension. Empty without such constructs (after a two-stage estimation
        the dimensions' scores are indicators: their loadings are in :attr:`loadings`)."""
        P = self.result.paths
        rows = [P[(P["lhs"] == d) & (P["rhs"] == h)] for h, dims in self.higher_order.items() for d in dims]
        if not rows:
            return pd.DataFrame(columns=list(P.columns))
        out = pd.concat(rows, ignore_index=True).rename(columns={"lhs": "rhs", "rhs": "lhs"})
        out["op"] = "=~"
        return out[list(P.columns)]

    @property
    def structural(self) -> pd.DataFrame:
        """The hypothesized paths' effect sizes and collinearity: ``lhs, op, rhs, f2, vif``."""
        f2 = self.result.f2.merge(self.result.vif_inner, on=["lhs", "op", "rhs"], how="left")
        hyp = {tuple(str(p).split(f" {ARROW} ")[::-1]) for p in self.hypotheses["path"]}
        keep = [(a, b) in hyp for a, b in zip(f2["lhs"], f2["rhs"])]
        return f2[keep].reset_index(drop=True)

    @property
    def second_order(self) -> dict[str, tuple[str, ...]]:
        """Second-order construct -> its dimensions, as the instrument declares them."""
        from .pls import parse_model

        return dict(parse_model(self.syntax).higher_order)

    def summary(self) -> str:
        lines = [f"PLS-SEM model {self.model}: N = {self.nobs}, {self.settings.get('description', '')}".rstrip(", "),
                 "Hypotheses:"]
        for r in self.hypotheses.to_dict("records"):
            lines.append(f"  {r['hypothesis']}: {r['path']}  est = {format_number(r['est'], 3)}, "
                         f"CI {format_ci(r['ci.lower'], r['ci.upper'], 3)}  -> {r['verdict']}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        ver = ", ".join(f"{h}: {'supported' if s else 'not tested' if s is None else 'not supported'}"
                        for h, s in self.supported.items())
        return f"PLSModelTest(model={self.model!r}, {ver})"

    def _repr_html_(self) -> str:
        return (f"<p><b>PLS-SEM model {html.escape(self.model)}</b> (N = {self.nobs})</p>"
                + html_table(self.hypotheses, decimals=3))

    def to_markdown(self) -> str:
        return markdown_table(self.hypotheses, decimals=3)


def _declared_indirect(result: Any, inst: "Instrument", model: str, level: float) -> pd.DataFrame:
    """The model's declared indirect effects from the PLS result's effects table (point estimate:
    product of the paths; bootstrap columns when the result has them)."""
    cols = ["name", "path", "from", "via", "to", "est", "se", "pvalue", "ci.lower", "ci.upper", "significant"]
    spec = inst.models[model]
    if not spec.indirect:
        return pd.DataFrame(columns=cols)
    paths = _paths_of(result)
    eff = getattr(result, "effects", None)
    rows = []
    for j, ind in enumerate(spec.indirect):
        a, m, b = ind["from"], ind["via"], ind["to"]
        name = ind.get("name", "indirect" if len(spec.indirect) == 1 else f"indirect{j + 1}")
        pa = paths[(paths["lhs"] == m) & (paths["rhs"] == a)]
        pb = paths[(paths["lhs"] == b) & (paths["rhs"] == m)]
        if pa.empty or pb.empty:
            continue
        row = {"name": name, "path": f"{a} {ARROW} {m} {ARROW} {b}", "from": a, "via": m, "to": b,
               "est": float(pa["est"].iloc[0]) * float(pb["est"].iloc[0]),
               "se": np.nan, "pvalue": np.nan, "ci.lower": np.nan, "ci.upper": np.nan}
        if isinstance(eff, pd.DataFrame) and {"lhs", "rhs", "via"} <= set(eff.columns):
            hit = eff[(eff["lhs"] == b) & (eff["rhs"] == a) & (eff["via"].astype(str) == m)]
            if len(hit):
                e = hit.iloc[0]
                for k in ("est", "se", "pvalue", "ci.lower", "ci.upper"):
                    if k in e.index and pd.notna(e[k]):
                        row[k] = float(e[k])
        lo, hi = row["ci.lower"], row["ci.upper"]
        row["significant"] = None if np.isnan(lo) or np.isnan(hi) else bool(lo > 0 or hi < 0)
        rows.append(row)
    out = pd.DataFrame(rows, columns=cols)
    out["significant"] = pd.Series([r["significant"] for r in rows], dtype=object)
    out.attrs["ci.level"] = level
    return out


def test_pls_model(data: pd.DataFrame, instrument: "Instrument", model: str | None = None, *,
                   bootstrap: int = 1000, seed: int | None = None, alpha: float = 0.05, scheme: str = "path",
                   consistent: bool = False, higher_order: str = "repeated_indicators",
                   composite: Iterable[str] = (), boot_ci: str = "perc", n_jobs: int | None = None,
                   missing: str = "listwise") -> PLSModelTest:
    """Estimate one declared model by PLS-SEM and test its hypotheses.

    Parameters
    ----------
    data : DataFrame
        Item answers (columns named by item id, reverse-keyed items recoded), e.g.
        :attr:`crm_research.study.StudySample.items`.
    instrument : Instrument
    model : str, optional
        A model the instrument declares (default: its first).
    bootstrap : int
        Bootstrap resamples for the SEs and intervals (0: none; the hypotheses are then not
        tested). PLS papers report 5,000.
    seed : int, optional
        Seed of the bootstrap.
    alpha : float
        Significance level; the intervals have level 1 - ``alpha``.
    scheme : {"path", "centroid", "factorial"}
        Inner weighting scheme.
    consistent : bool
        Consistent PLS (PLSc) for the reflective constructs.
    higher_order : {"repeated_indicators", "two_stage", "embedded_two_stage"}
        How a higher-order construct is estimated: by repeated indicators (all items of its
        dimensions), or in two stages, the dimensions' first-stage scores being its indicators
        in the second (first stage without the higher-order construct: ``two_stage``, as seminr
        and SmartPLS's disjoint approach; with repeated indicators: ``embedded_two_stage``).
    composite : iterable of str
        Constructs estimated in mode B (see :func:`pls_syntax`).
    boot_ci : {"perc", "bca"}
        Bootstrap interval type.
    n_jobs : int, optional
        Worker processes of the bootstrap (results are the same whatever their number).
    missing : {"listwise", "mean"}
        PLS needs complete answers: respondents missing any of the model's items are left out
        (``listwise``), or missing answers are replaced by the item mean (``mean``).

    Returns
    -------
    PLSModelTest

    Raises
    ------
    DataFileError
        ``data`` lacks items of the model (the message lists them).
    ConfigError, InstrumentError, ModelError
        Bad options, unknown model, or a PLS estimation problem.

    Examples
    --------
    >>> import pandas as pd
    >>> from crm_research import instruments
    >>> hs = pd.read_csv("tests/reference/lavaan/HolzingerSwineford1939.csv")
    >>> inst = instruments.load_instrument("tests/reference/lavaan/hs_abilities.yaml")
    >>> t = test_pls_model(hs, inst, "mediated", bootstrap=0)
    >>> t
    PLSModelTest(model='mediated', Ha: not tested, Hc: not tested)
    >>> t.hypotheses[["hypothesis", "path", "est"]].round(3)
      hypothesis       path    est
    0         Ha  VIS → TXT  0.364
    1         Hc  TXT → SPD  0.150
    """
    from . import pls

    inst = instrument
    model = _check_model_name(inst, model)
    two_stage = two_stage_option(higher_order)
    if not isinstance(alpha, (int, float)) or not 0 < float(alpha) < 1:
        raise ConfigError("parameters", "alpha", f"must be a number between 0 and 1, got {alpha!r}")
    if isinstance(bootstrap, bool) or not isinstance(bootstrap, (int, np.integer)) or bootstrap < 0 or bootstrap == 1:
        raise ConfigError("parameters", "bootstrap", f"expected 0 (no bootstrap) or at least 2 resamples, got {bootstrap!r}")
    syntax = pls_syntax(inst, model, composite=composite)
    spec = pls.parse_model(syntax)
    absent = [c for c in spec.indicators if c not in data.columns]
    if absent:
        raise DataFileError("data", f"has no column for item(s) {', '.join(absent)} of model {model!r}",
                            hint="pass the item answers with columns named by item id (e.g. sample.items)")
    level = 1 - float(alpha)
    res = pls.fit(spec, data[list(spec.indicators)], scheme=scheme, consistent=consistent, bootstrap=int(bootstrap),
                  seed=seed, ci_level=level, boot_ci=boot_ci, missing=missing,
                  two_stage=two_stage, n_jobs=n_jobs)
    table = pls_hypothesis_table(res, inst, model, alpha=alpha)
    desc = (f"{scheme} weighting scheme" + (", consistent PLS (PLSc)" if consistent else "")
            + (f", {int(bootstrap):,} bootstrap resamples" if bootstrap else ", no bootstrap"))
    settings = dict(scheme=scheme, consistent=bool(consistent), higher_order=higher_order, bootstrap=int(bootstrap),
                    seed=seed, boot_ci=boot_ci, missing=missing, composite=list(composite or ()),
                    description=desc)
    return PLSModelTest(model=model, syntax=syntax, result=res, hypotheses=table,
                        indirect=_declared_indirect(res, inst, model, level), alpha=float(alpha), settings=settings)


test_pls_model.__test__ = False  # not a pytest test despite its name


# --------------------------------------------------------------------------- the two methods side by side
def _table_of(x: Any, what: str) -> pd.DataFrame:
    t = getattr(x, "hypotheses", x)
    if not isinstance(t, pd.DataFrame) or "hypothesis" not in t.columns:
        raise ModelError(f"expected the {what} hypothesis table (or the test holding it), got {type(x).__name__}")
    return t


COMPARISON_COLUMNS = ["hypothesis", "path", "expected", "est.cbsem", "pvalue.cbsem", "ci.lower.cbsem",
                      "ci.upper.cbsem", "supported.cbsem", "verdict.cbsem", "est.pls", "pvalue.pls", "ci.lower.pls",
                      "ci.upper.pls", "supported.pls", "verdict.pls", "difference", "agree"]


def _standardized_ci(cbsem: Any, table: pd.DataFrame) -> tuple[list[float], list[float]] | None:
    """The interval of each hypothesis' standardized CB-SEM path (lavaan's standardizedSolution:
    from the bootstrap replicates when the fit bootstrapped, else by the delta method), or None
    when only a table was given."""
    res = (getattr(cbsem, "results", None) or {}).get("model") if not isinstance(cbsem, pd.DataFrame) else None
    if res is None:
        return None
    from .errors import CRMResearchError
    from .sem import standardized_solution

    try:
        boot = getattr(res, "bootstrap", None) is not None
        ss = standardized_solution(res, ci="bootstrap" if boot else "delta", level=float(table.attrs.get("ci.level", 0.95)))
    except CRMResearchError:
        return None
    ss = ss[ss["op"] == "~"].set_index(["lhs", "rhs"])
    lo, hi = [], []
    for p in table["path"]:
        rhs, _, lhs = str(p).partition(f" {ARROW} ")
        hit = (lhs, rhs) in ss.index
        lo.append(float(ss.loc[(lhs, rhs), "ci.lower"]) if hit else np.nan)
        hi.append(float(ss.loc[(lhs, rhs), "ci.upper"]) if hit else np.nan)
    return lo, hi


def compare_methods(cbsem: Any, pls: Any) -> pd.DataFrame:
    """The hypotheses table with both methods side by side.

    Parameters
    ----------
    cbsem : HypothesisTest or DataFrame
        :func:`crm_research.hypotheses.test_model` (or its ``hypotheses`` table,
        :func:`crm_research.hypotheses.hypothesis_table`).
    pls : PLSModelTest or DataFrame
        :func:`test_pls_model` (or :func:`pls_hypothesis_table`).

    Returns
    -------
    DataFrame
        One row per hypothesis of either table, in the CB-SEM table's order: ``hypothesis, path,
        expected``, the CB-SEM standardized path ``est.cbsem`` (``std.all``) with
        ``pvalue.cbsem``, the interval of that standardized path ``ci.lower.cbsem``,
        ``ci.upper.cbsem`` (lavaan's standardizedSolution(): bootstrap when the fit
        bootstrapped, else delta method; given a table only, empty), ``supported.cbsem``,
        ``verdict.cbsem`` (the CB-SEM test's verdict: p < alpha and the expected sign); the PLS
        path ``est.pls``
        with ``pvalue.pls``, ``ci.lower.pls``, ``ci.upper.pls``, ``supported.pls``,
        ``verdict.pls``; ``difference`` (PLS minus CB-SEM) and ``agree`` (True when both
        methods reach the same verdict, None when one of them did not test it).
        ``attrs`` carry ``ci.level.cbsem`` and ``ci.level.pls``.

    Raises
    ------
    ModelError
        An argument is not a hypothesis table.

    Examples
    --------
    >>> import pandas as pd
    >>> cb = pd.DataFrame({"hypothesis": ["Ha", "Hb"], "path": ["X → Y", "Z → Y"], "expected": ["+", "+"],
    ...                    "std.all": [0.45, 0.20], "pvalue": [0.0001, 0.01], "ci.lower": [0.3, 0.05],
    ...                    "ci.upper": [0.6, 0.35], "supported": [True, True], "verdict": ["supported"] * 2})
    >>> pl = pd.DataFrame({"hypothesis": ["Ha", "Hb"], "path": ["X → Y", "Z → Y"], "expected": ["+", "+"],
    ...                    "est": [0.40, 0.08], "pvalue": [0.0, 0.21], "ci.lower": [0.28, -0.04],
    ...                    "ci.upper": [0.52, 0.2], "supported": [True, False],
    ...                    "verdict": ["supported", "not supported (CI includes 0)"]})
    >>> compare_methods(cb, pl)[["hypothesis", "est.cbsem", "est.pls", "agree"]]
      hypothesis  est.cbsem  est.pls  agree
    0         Ha       0.45     0.40   True
    1         Hb       0.20     0.08  False
    """
    cb, pl = _table_of(cbsem, "CB-SEM"), _table_of(pls, "PLS")
    est_cb = "std.all" if "std.all" in cb.columns else "est"
    if est_cb == "est":
        ci_cb: Any = (cb.get("ci.lower"), cb.get("ci.upper"))
    else:
        ci_cb = _standardized_ci(cbsem, cb) or (np.nan, np.nan)
    left = pd.DataFrame({"hypothesis": cb["hypothesis"], "path": cb.get("path"), "expected": cb.get("expected"),
                         "est.cbsem": cb[est_cb], "pvalue.cbsem": cb.get("pvalue"),
                         "ci.lower.cbsem": ci_cb[0], "ci.upper.cbsem": ci_cb[1],
                         "supported.cbsem": cb.get("supported"), "verdict.cbsem": cb.get("verdict")})
    right = pd.DataFrame({"hypothesis": pl["hypothesis"], "path.pls": pl.get("path"),
                          "expected.pls": pl.get("expected"), "est.pls": pl["est"], "pvalue.pls": pl.get("pvalue"),
                          "ci.lower.pls": pl.get("ci.lower"), "ci.upper.pls": pl.get("ci.upper"),
                          "supported.pls": pl.get("supported"), "verdict.pls": pl.get("verdict")})
    out = left.merge(right, on="hypothesis", how="outer", sort=False)
    order: dict[Any, int] = {}
    for h in list(cb["hypothesis"]) + list(pl["hypothesis"]):
        order.setdefault(h, len(order))
    out = out.sort_values("hypothesis", key=lambda s: s.map(order)).reset_index(drop=True)
    out["path"] = out["path"].where(out["path"].notna(), out["path.pls"])
    out["expected"] = out["expected"].where(out["expected"].notna(), out["expected.pls"])
    out["difference"] = pd.to_numeric(out["est.pls"], errors="coerce") - pd.to_numeric(out["est.cbsem"],
                                                                                        errors="coerce")

    def agree(a: Any, b: Any) -> bool | None:
        if a is None or b is None or (isinstance(a, float) and np.isnan(a)) or (isinstance(b, float) and np.isnan(b)):
            return None
        return bool(a) == bool(b)

    out["agree"] = pd.Series([agree(a, b) for a, b in zip(out["supported.cbsem"], out["supported.pls"])],
                             index=out.index, dtype=object)
    out = out[COMPARISON_COLUMNS]
    out.attrs["ci.level.cbsem"] = float(cb.attrs.get("ci.level", 0.95))
    out.attrs["ci.level.pls"] = float(pl.attrs.get("ci.level", 0.95))
    return out


def _pct(level: float) -> str:
    return f"{100 * level:g}%"


def _hyp_list(ids: Sequence[str]) -> str:
    ids = list(ids)
    return ids[0] if len(ids) == 1 else ", ".join(ids[:-1]) + " and " + ids[-1]


def describe_disagreements(table: pd.DataFrame) -> str:
    """A plain sentence or two on where CB-SEM and PLS-SEM disagree (a path supported by one
    method and not by the other), or that they agree.

    Parameters
    ----------
    table : DataFrame
        :func:`compare_methods`.

    Returns
    -------
    str
        Markdown text written from the table's numbers.

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"hypothesis": ["Ha", "Hb"], "path": ["X → Y", "Z → Y"], "expected": ["+", "+"],
    ...                   "est.cbsem": [0.45, 0.20], "pvalue.cbsem": [0.0001, 0.01], "ci.lower.cbsem": [0.3, 0.05],
    ...                   "ci.upper.cbsem": [0.6, 0.35], "supported.cbsem": [True, True],
    ...                   "verdict.cbsem": ["supported"] * 2, "est.pls": [0.40, 0.08], "pvalue.pls": [0.0, 0.21],
    ...                   "ci.lower.pls": [0.28, -0.04], "ci.upper.pls": [0.52, 0.2],
    ...                   "supported.pls": [True, False], "verdict.pls": ["supported", "not supported (CI includes 0)"],
    ...                   "difference": [-0.05, -0.12], "agree": [True, False]})
    >>> print(describe_disagreements(t))
    **The methods disagree on Hb** (Z → Y): CB-SEM supports it (β = .20, p = .010), PLS-SEM does not (path = .08, 95% CI [−.04, .20]). They agree on Ha (supported by both). The largest difference between the two estimates is .12 (Hb).
    """
    need = {"hypothesis", "path", "agree", "supported.cbsem", "supported.pls", "est.cbsem", "est.pls"}
    if not isinstance(table, pd.DataFrame) or not need <= set(table.columns):
        raise ModelError("expected the table of compare_methods()")
    level = float(table.attrs.get("ci.level.pls", 0.95))
    parts = []
    dis = table[table["agree"].map(lambda v: v is False)]
    for r in dis.to_dict("records"):
        cb_txt = f"β = {format_number(r['est.cbsem'], 2, bounded=True)}, {format_p(r['pvalue.cbsem'], prefix=True)}"
        pl_txt = (f"path = {format_number(r['est.pls'], 2, bounded=True)}, "
                  f"{_pct(level)} CI {format_ci(r['ci.lower.pls'], r['ci.upper.pls'], 2, bounded=True)}")
        if r["supported.cbsem"]:
            who = f"CB-SEM supports it ({cb_txt}), PLS-SEM does not ({pl_txt})"
        else:
            who = f"PLS-SEM supports it ({pl_txt}), CB-SEM does not ({cb_txt})"
        parts.append(f"**The methods disagree on {r['hypothesis']}** ({r['path']}): {who}.")
    agree = table[table["agree"].map(lambda v: v is True)]
    if len(agree):
        sup = list(agree.loc[agree["supported.cbsem"].astype(bool), "hypothesis"])
        nsup = list(agree.loc[~agree["supported.cbsem"].astype(bool), "hypothesis"])
        bits = ([f"{_hyp_list(sup)} (supported by both)"] if sup else []) + \
               ([f"{_hyp_list(nsup)} (supported by neither)"] if nsup else [])
        lead = "They agree on " if parts else "**CB-SEM and PLS-SEM agree on every hypothesis tested:** "
        parts.append(lead + " and on ".join(bits) + ".")
    untested = table[table["agree"].map(lambda v: v is None)]
    if len(untested):
        parts.append(f"{_hyp_list(list(untested['hypothesis']))} could not be compared (not tested by both methods: "
                     "PLS needs a bootstrap for its intervals).")
    diff = pd.to_numeric(table["difference"], errors="coerce").abs()
    if diff.notna().any():
        i = int(diff.idxmax())
        parts.append(f"The largest difference between the two estimates is "
                     f"{format_number(diff.loc[i], 2, bounded=True)} ({table.loc[i, 'hypothesis']}).")
    return " ".join(parts)


def methods_plot(table: pd.DataFrame, *, ax: Any = None, title: str | None = "CB-SEM and PLS-SEM estimates") -> Any:
    """Both methods' estimates of every hypothesized path, with their intervals.

    The CB-SEM point is the standardized path (β) with its interval when the table has one
    (:func:`compare_methods` given the CB-SEM test), the PLS point the PLS path with its
    bootstrap interval.

    Parameters
    ----------
    table : DataFrame
        :func:`compare_methods`.
    ax : matplotlib Axes, optional
    title : str, optional

    Returns
    -------
    matplotlib Figure
        A pyplot figure (``plt.show()`` in a notebook, as the other figures of the package).

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"hypothesis": ["Ha"], "path": ["X → Y"], "est.cbsem": [0.45], "est.pls": [0.40],
    ...                   "ci.lower.pls": [0.28], "ci.upper.pls": [0.52]})
    >>> fig = methods_plot(t)
    >>> len(fig.axes[0].get_yticklabels())
    1
    """
    need = {"hypothesis", "path", "est.cbsem", "est.pls", "ci.lower.pls", "ci.upper.pls"}
    if not isinstance(table, pd.DataFrame) or not need <= set(table.columns):
        raise ModelError("expected the table of compare_methods()")
    t = table.iloc[::-1].reset_index(drop=True)
    if ax is None:
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(7.5, 0.55 * len(t) + 1.3))
    else:
        fig = ax.figure
    y = np.arange(len(t), dtype=float)
    lo = pd.to_numeric(t["ci.lower.pls"], errors="coerce").to_numpy(float)
    hi = pd.to_numeric(t["ci.upper.pls"], errors="coerce").to_numpy(float)
    est_pls = pd.to_numeric(t["est.pls"], errors="coerce").to_numpy(float)
    ok = ~(np.isnan(lo) | np.isnan(hi))
    if ok.any():
        ax.errorbar(est_pls[ok], y[ok] - 0.12, xerr=[est_pls[ok] - lo[ok], hi[ok] - est_pls[ok]], fmt="none",
                    ecolor="#f2b48a", elinewidth=3, capsize=0)
    ax.plot(est_pls, y - 0.12, "s", color="#d9661f", label=METHOD_NAMES["pls"])
    est_cb = pd.to_numeric(t["est.cbsem"], errors="coerce").to_numpy(float)
    if {"ci.lower.cbsem", "ci.upper.cbsem"} <= set(t.columns):
        lo_cb = pd.to_numeric(t["ci.lower.cbsem"], errors="coerce").to_numpy(float)
        hi_cb = pd.to_numeric(t["ci.upper.cbsem"], errors="coerce").to_numpy(float)
        ok_cb = ~(np.isnan(lo_cb) | np.isnan(hi_cb))
        if ok_cb.any():
            ax.errorbar(est_cb[ok_cb], y[ok_cb] + 0.12, xerr=[est_cb[ok_cb] - lo_cb[ok_cb], hi_cb[ok_cb] - est_cb[ok_cb]],
                        fmt="none", ecolor="#9cc3e0", elinewidth=3, capsize=0)
    ax.plot(est_cb, y + 0.12, "o", color="#2f5d8a", label=METHOD_NAMES["cbsem"] + " (β)")
    ax.axvline(0, color="#b42318", linewidth=1)
    ax.set_yticks(y, [f"{h}: {p}" for h, p in zip(t["hypothesis"], t["path"])])
    ax.set(xlabel="standardized path with its CI", title=title)
    ax.grid(axis="y", visible=False)
    ax.legend(frameon=False, fontsize="small", loc="best")
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- key results of a run
def record_pls(test: PLSModelTest) -> None:
    """Record a PLS model's key results for the batch index and results table: per hypothesis
    ``<id>_pls_path``, ``<id>_pls_supported``; ``r2_<outcome>``; ``pls_iterations``; and the
    tables ``pls_hypotheses``, ``pls_paths``, ``pls_loadings`` (no-op outside a batch run).

    Examples
    --------
    >>> import pandas as pd
    >>> from crm_research import instruments
    >>> hs = pd.read_csv("tests/reference/lavaan/HolzingerSwineford1939.csv")
    >>> inst = instruments.load_instrument("tests/reference/lavaan/hs_abilities.yaml")
    >>> record_pls(test_pls_model(hs, inst, "mediated", bootstrap=0))    # no-op outside a batch run
    """
    from .reporting import results

    for r in test.hypotheses.to_dict("records"):
        h = str(r["hypothesis"]).lower()
        results.record(f"{h}_pls_path", r["est"], label=f"{r['hypothesis']} PLS path ({r['path']})", decimals=2,
                       bounded=True)
        results.record(f"{h}_pls_supported", r["supported"], label=f"{r['hypothesis']} supported (PLS)")
    results.record_r_squared(test.r2)
    results.record("pls_iterations", int(getattr(test.result, "iterations", 0) or 0), label="PLS iterations",
                   headline=False, display=False)
    results.record_table("pls_hypotheses", test.hypotheses)
    results.record_table("pls_paths", test.result.paths)
    results.record_table("pls_loadings", test.result.loadings)


def record_comparison(table: pd.DataFrame) -> None:
    """Record the side-by-side table (``methods_comparison``) and how many hypotheses the two
    methods judge differently (``methods_disagree``; no-op outside a batch run).

    Examples
    --------
    >>> t = pd.DataFrame({"hypothesis": ["Ha"], "agree": [True]})
    >>> record_comparison(t)        # no-op outside a batch run
    """
    from .reporting import results

    dis = [str(h) for h, a in zip(table["hypothesis"], table["agree"]) if a is False]
    results.record("methods_disagree", len(dis), label="hypotheses CB-SEM and PLS-SEM judge differently")
    if dis:
        results.record("methods_disagree_on", ", ".join(dis), label="disagree on", headline=False)
    results.record_table("methods_comparison", table)

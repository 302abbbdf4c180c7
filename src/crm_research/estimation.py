"""How a model is estimated, checked once and carried everywhere a user meets a model.

An :class:`Estimation` holds lavaan's estimation options -- ``estimator`` (ML, MLM, MLMV,
MLMVS, MLR, WLSMV, DWLS, WLS, ULSMV, ULS), ``ordered`` items, ``se`` and ``test`` -- after
:func:`check_estimation` validated them (with lavaan's rules: ordered items need a
least-squares estimator, bootstrap standard errors need ML, full-information ML needs ML or
MLR).  The notebooks' parameters and the ``fit``/``study``/``invariance`` commands' options go
through it before anything runs, so a bad value is one clear line naming the parameter or
option; the analyses (:mod:`~crm_research.hypotheses`, :mod:`~crm_research.measurement`,
:mod:`~crm_research.invariance`) fit through :func:`fit_model`.

* :func:`check_estimation` -- validate and normalise (case-insensitive estimator names;
  ``ordered="all"``/``True`` or item names; lavaan's ``se``/``test`` values);
* :func:`parse_ordered` -- ``all`` or ``ITEM,ITEM`` (the CLI's ``--ordered``);
* :func:`resolve_missing` -- the missing-data treatment an estimator can use (lavaan's rules);
* :func:`fit_model` -- :func:`crm_research.sem.fit` with an estimation and a missing-data
  treatment, ``ordered`` restricted to the model's variables;
* :func:`advice_estimation` -- the estimation :func:`crm_research.normality.recommend_estimator`
  advises for the data (``estimator="auto"``).

Nothing here knows a particular study: items come from the caller.

Examples
--------
>>> e = check_estimation("mlr")
>>> e.estimator, e.robust, e.fit_kwargs()
('MLR', True, {'estimator': 'MLR'})
>>> check_estimation(None, ordered="all").estimator   # lavaan's default for ordered items
'WLSMV'
>>> check_estimation().fit_kwargs()                   # ML: sem.fit's defaults
{}
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

from .errors import ConfigError, ModelError
from .sem import fitting as _sem_fitting

__all__ = ["ESTIMATORS", "LEAST_SQUARES", "SE_CHOICES", "TEST_CHOICES", "MISSING_CHOICES", "Estimation",
           "EstimationChoice", "choose_estimation", "estimation_of",
           "check_estimation", "parse_ordered", "resolve_missing", "fit_model", "advice_estimation",
           "observed_variables"]

#: lavaan's estimators (``estimator=``), as lavaan spells them (those :func:`crm_research.sem.fit` takes).
ESTIMATORS = tuple(_sem_fitting.ESTIMATORS)
#: Least-squares estimators: the ones that take ordered (categorical) items.
LEAST_SQUARES = tuple(_sem_fitting.LS_ESTIMATORS)
#: lavaan's ``se=`` values.
SE_CHOICES = tuple(_sem_fitting.SE_TYPES)
#: lavaan's ``test=`` values.
TEST_CHOICES = tuple(_sem_fitting.TEST_TYPES)
#: Missing-data treatments: full-information ML, listwise deletion, pairwise (ordinal data).
MISSING_CHOICES = ("ml", "listwise", "pairwise")
#: Estimators that can use full-information ML (lavaan: ``missing = "ml"``).
_FIML_OK = ("ML", "MLR")
_ALIASES = {"fiml": "ml", "direct": "ml", "listwise.deletion": "listwise", "available.cases": "pairwise"}

#: Words for each estimator, used before a fit exists (a fit is named by ``sem.estimation_label``).
_WORDS = {
    "ML": "maximum likelihood",
    "MLM": "robust ML (robust SE, Satorra-Bentler scaled test)",
    "MLMV": "robust ML (robust SE, mean- and variance-adjusted test)",
    "MLMVS": "robust ML (robust SE, Satterthwaite mean- and variance-adjusted test)",
    "MLR": "robust ML (Huber-White robust SE, Yuan-Bentler scaled test)",
    "WLSM": "diagonally weighted least squares (robust SE, mean-adjusted test)",
    "ULSM": "unweighted least squares (robust SE, mean-adjusted test)",
    "WLSMV": "diagonally weighted least squares (robust SE, scaled-shifted test)",
    "DWLS": "diagonally weighted least squares",
    "WLS": "weighted least squares (ADF)",
    "ULSMV": "unweighted least squares (robust SE, scaled-shifted test)",
    "ULS": "unweighted least squares",
}


def _names(option_names: Mapping[str, str] | None, where: str) -> tuple[str, Any]:
    names = dict(option_names or {})

    def err(key: str, problem: str, hint: str | None = None) -> ConfigError:
        opt = names.get(key)
        return ConfigError(opt, "", problem, hint=hint) if opt else ConfigError(where, key, problem, hint=hint)
    return where, err


def parse_ordered(text: Any) -> bool | list[str] | None:
    """The ``--ordered`` option (``all`` or ``ITEM,ITEM``) or an ``ordered`` parameter, normalised.

    Parameters
    ----------
    text : str, bool, list or None
        ``"all"``/``True``: every indicator of the model; ``"A1,A2"`` or a list: those
        items; ``None``/``False``/``""``/``"none"``: no ordered items.

    Returns
    -------
    True, list of str or None

    Examples
    --------
    >>> parse_ordered("all"), parse_ordered("q1, q2"), parse_ordered(None)
    (True, ['q1', 'q2'], None)
    """
    if text is None or text is False:
        return None
    if text is True:
        return True
    if isinstance(text, str):
        t = text.strip()
        if t.lower() in ("", "none", "false", "no"):
            return None
        if t.lower() in ("all", "true", "yes"):
            return True
        return [p.strip() for p in t.split(",") if p.strip()]
    if isinstance(text, (list, tuple, set)):
        return [str(p).strip() for p in text]
    return text   # checked (and refused) by check_estimation


@dataclass(frozen=True)
class Estimation:
    """Checked estimation options of the models of an analysis (lavaan's names).

    Attributes
    ----------
    estimator : str
        One of :data:`ESTIMATORS` (upper case).
    ordered : bool or tuple of str
        ``True``: every indicator of a model is ordinal; a tuple: these items; ``()``: none.
    se, test : str or None
        lavaan's ``se=`` / ``test=``; None: the estimator's default.

    Examples
    --------
    >>> Estimation("WLSMV", ordered=("q1", "q2")).fit_kwargs(["q1", "q3"])
    {'estimator': 'WLSMV', 'ordered': ['q1']}
    >>> print(Estimation("MLM").describe())
    MLM: robust ML (robust SE, Satorra-Bentler scaled test)
    """

    estimator: str = "ML"
    ordered: Any = ()
    se: str | None = None
    test: str | None = None
    notes: tuple = field(default=(), compare=False)

    @property
    def categorical(self) -> bool:
        """Whether some items are treated as ordinal."""
        return bool(self.ordered)

    @property
    def is_default(self) -> bool:
        """Plain ML with standard errors and test (sem.fit's defaults)."""
        return (self.estimator == "ML" and not self.ordered and self.se in (None, "standard")
                and self.test in (None, "standard"))

    @property
    def robust(self) -> bool:
        """Anything but plain ML: robust SEs, a scaled test or a least-squares estimator."""
        return (self.estimator != "ML" or self.se in ("robust.sem", "robust.huber.white")
                or self.test not in (None, "standard", "none"))

    @property
    def allows_bootstrap(self) -> bool:
        """lavaan bootstraps ML fits only (``use ML estimator for bootstrap``)."""
        return self.estimator == "ML" and not self.ordered

    def missing_choices(self) -> tuple[str, ...]:
        """The missing-data treatments this estimation can use (as lavaan)."""
        if self.ordered or self.estimator in LEAST_SQUARES:
            return ("listwise", "pairwise")
        if self.estimator in _FIML_OK:
            return ("ml", "listwise")
        return ("listwise",)

    def fit_kwargs(self, variables: Iterable[str] | None = None) -> dict[str, Any]:
        """Keyword arguments for :func:`crm_research.sem.fit` (``{}`` for plain ML).

        ``ordered`` items are restricted to ``variables`` (a model's observed variables)
        when given; with none left the model is fitted as continuous, by the estimator
        given (ML when only the ordered items implied WLSMV).
        """
        if self.is_default:
            return {}
        kw: dict[str, Any] = {"estimator": self.estimator}
        if self.ordered is True:
            kw["ordered"] = True
        elif self.ordered:
            keep = list(self.ordered)
            if variables is not None:
                vs = set(variables)
                keep = [v for v in keep if v in vs]
            if keep:
                kw["ordered"] = keep
            elif "implied" in self.notes:
                kw["estimator"] = "ML"
        if self.se is not None:
            kw["se"] = self.se
        if self.test is not None:
            kw["test"] = self.test
        if kw == {"estimator": "ML"}:
            return {}
        return kw

    def describe(self) -> str:
        """The estimation in words (before a fit exists), e.g. ``MLR: robust ML (...)``."""
        txt = f"{self.estimator}: {_WORDS.get(self.estimator, self.estimator)}"
        extra = []
        if self.se:
            extra.append(f"se = {self.se}")
        if self.test:
            extra.append(f"test = {self.test}")
        if self.ordered is True:
            extra.append("all items ordered (ordinal)")
        elif self.ordered:
            extra.append(f"ordered: {len(self.ordered)} item(s)")
        return txt + (f"; {', '.join(extra)}" if extra else "")

    def parameters(self) -> dict[str, Any]:
        """The notebook parameters that reproduce this estimation (for a batch config)."""
        out: dict[str, Any] = {"estimator": self.estimator}
        if self.ordered:
            out["ordered"] = True if self.ordered is True else list(self.ordered)
        if self.se:
            out["se"] = self.se
        if self.test:
            out["test"] = self.test
        return out

    def __str__(self) -> str:
        return self.describe()


def check_estimation(estimator: Any = None, ordered: Any = None, se: Any = None, test: Any = None, *,
                     items: Sequence[str] | None = None, option_names: Mapping[str, str] | None = None,
                     where: str = "parameters") -> Estimation:
    """Validate estimation options before anything runs.

    Parameters
    ----------
    estimator : str, optional
        lavaan's estimator, case-insensitive (:data:`ESTIMATORS`); None: ML, or WLSMV when
        items are ordered (lavaan's defaults).  ``"auto"`` is resolved by the caller with
        :func:`advice_estimation` first.
    ordered : bool, str, list, optional
        ``True``/``"all"``: every model indicator is ordinal; item names (list or
        ``"A1,A2"``): these; None: none.
    se, test : str, optional
        lavaan's ``se`` (:data:`SE_CHOICES`) and ``test`` (:data:`TEST_CHOICES`).
    items : list of str, optional
        The items the analysis can use: named ordered items must be among them.
    option_names : mapping, optional
        ``{"estimator": "--estimator", ...}``: name options (CLI) in errors instead of
        ``where: parameter``.
    where : str
        What holds the values (``parameters`` for a notebook).

    Returns
    -------
    Estimation

    Raises
    ------
    ConfigError
        One line naming the parameter (or option), the value and what is expected.

    Examples
    --------
    >>> check_estimation("WLSMV", ordered="A1,A2", items=["A1", "A2", "A3"]).ordered
    ('A1', 'A2')
    >>> check_estimation("MLX")
    Traceback (most recent call last):
    ...
    crm_research.errors.ConfigError: parameters: estimator: expected one of ML, MLM, ..., got 'MLX'
    """
    _, err = _names(option_names, where)
    if estimator is not None and not isinstance(estimator, str):
        raise err("estimator", f"expected one of {', '.join(ESTIMATORS)}, got {estimator!r}")
    est = None
    if estimator is not None and estimator.strip() != "":
        key = estimator.strip().upper()
        if key == "AUTO":
            raise err("estimator", "'auto' must be resolved from the data first",
                      hint="call crm_research.estimation.advice_estimation(data, items)")
        if key not in ESTIMATORS:
            raise err("estimator", f"expected one of {', '.join(ESTIMATORS)}, got {estimator!r}")
        est = key
    ordd = parse_ordered(ordered)
    if ordd is not None and ordd is not True and not (isinstance(ordd, list)
                                                        and all(isinstance(v, str) for v in ordd)):
        raise err("ordered", f"expected 'all', True or a list of item names, got {ordered!r}")
    if isinstance(ordd, list):
        if not ordd or any(not v for v in ordd):
            raise err("ordered", f"expected 'all' or item names separated by commas, got {ordered!r}")
        dup = sorted({v for v in ordd if ordd.count(v) > 1})
        if dup:
            raise err("ordered", f"item(s) named twice: {', '.join(dup)}")
        if items is not None:
            unknown = [v for v in ordd if v not in set(items)]
            if unknown:
                shown = ", ".join(list(items)[:30]) + (" ..." if len(items) > 30 else "")
                raise err("ordered", f"not an item of the data: {', '.join(unknown)}",
                          hint=f"use 'all' or items among: {shown}")
    notes: tuple = ()
    if est is None:
        est = "WLSMV" if ordd else "ML"
        if ordd:
            notes = ("implied",)
    if ordd and est not in LEAST_SQUARES:
        raise err("estimator", f"{est} cannot fit ordered (ordinal) items, as in lavaan",
                  hint=f"use one of {', '.join(LEAST_SQUARES)} (WLSMV is lavaan's default for ordered items), "
                       f"or drop {dict(option_names or {}).get('ordered', 'ordered')}")
    if est in LEAST_SQUARES and not ordd:
        opt = dict(option_names or {}).get("ordered", "ordered")
        raise err("estimator", f"{est} is fitted here to ordered (categorical) items, and no item is declared ordered",
                  hint=f"declare them with {opt} (all items, or a list of item names), or use ML or MLR for "
                       "continuous answers")
    se_v = _choice(se, SE_CHOICES, "se", err)
    test_v = _choice(test, TEST_CHOICES, "test", err)
    if se_v == "bootstrap" and (est != "ML" or ordd):
        raise err("se", f"bootstrap standard errors need estimator ML (lavaan: 'use ML estimator for bootstrap'); "
                        f"got estimator {est}", hint="use se='robust.sem'/'robust.huber.white' or estimator ML")
    return Estimation(estimator=est, ordered=True if ordd is True else tuple(ordd or ()), se=se_v, test=test_v,
                      notes=notes)


def _choice(value: Any, choices: Sequence[str], name: str, err) -> str | None:
    if value is None or (isinstance(value, str) and value.strip() in ("", "default")):
        return None
    key = value.strip().lower() if isinstance(value, str) else None
    if key not in choices:
        raise err(name, f"expected one of {', '.join(choices)}, got {value!r}")
    return key


def resolve_missing(estimation: Estimation, missing: str, has_missing: bool, *, option: str | None = None,
                    where: str = "parameters") -> tuple[str, str]:
    """The missing-data treatment a fit uses: ``(missing, note)``.

    lavaan allows full-information ML (``missing="ml"``) with ML and MLR only and, for
    ordinal items and least-squares estimators, listwise or pairwise deletion.  When the
    model's variables have no missing value every treatment coincides: a treatment the
    estimator cannot use becomes ``listwise`` with a note; with missing values it is an error.

    Parameters
    ----------
    estimation : Estimation
    missing : {"ml", "listwise", "pairwise"}
    has_missing : bool
        Whether any model variable has a missing value in the data.
    option, where : str
        How errors name the setting (``--missing`` or ``parameters: missing``).

    Returns
    -------
    (str, str)
        The treatment and a note ("" when unchanged).

    Examples
    --------
    >>> resolve_missing(check_estimation("MLM"), "ml", has_missing=False)[0]
    'listwise'
    >>> resolve_missing(check_estimation("MLR"), "ml", has_missing=True)
    ('ml', '')
    """
    key = _ALIASES.get(str(missing).strip().lower(), str(missing).strip().lower())
    if key not in MISSING_CHOICES:
        raise (ConfigError(option, "", f"expected one of {', '.join(MISSING_CHOICES)}, got {missing!r}") if option
               else ConfigError(where, "missing", f"expected one of {', '.join(MISSING_CHOICES)}, got {missing!r}"))
    ok = estimation.missing_choices()
    if key in ok:
        return key, ""
    if not has_missing:
        return "listwise", (f"no missing answers in the model's items: complete-data {estimation.estimator} "
                            f"(missing = {key!r} is not used with {estimation.estimator})")
    what = "ordered (ordinal) items" if estimation.ordered else f"estimator {estimation.estimator}"
    if key == "ml":
        hint = ("use missing='pairwise' (lavaan's choice for ordinal data) or 'listwise'" if "pairwise" in ok
                else "use estimator MLR (robust ML with full-information ML) or missing='listwise'")
    else:
        hint = f"use missing={' or '.join(repr(m) for m in ok)}"
    problem = f"missing = {key!r} is not available with {what} (as in lavaan)"
    if option:
        raise ConfigError(option, "", problem, hint=hint.replace("missing=", option + " ").replace("'", ""))
    raise ConfigError(where, "missing", problem, hint=hint)


def observed_variables(syntax: str) -> list[str]:
    """The observed variables of lavaan syntax (in lavaan's order)."""
    from .sem.partable import var_names
    from .sem.syntax import parse_syntax

    return list(var_names(parse_syntax(syntax).rows).ov)


def fit_model(syntax: str, data: Any, estimation: Estimation | None = None, *, missing: str = "ml",
              where: str = "fit", **kw: Any):
    """:func:`crm_research.sem.fit` with an estimation and a missing-data treatment.

    Plain ML passes ``missing`` through unchanged (sem.fit's behaviour).  Otherwise the
    ordered items are restricted to the model's variables and ``missing`` is resolved with
    :func:`resolve_missing` (a treatment the estimator cannot use is an error when answers
    are missing); the note, if any, is added to the result's notes.  Without any missing
    value in the model's variables a robust fit is the complete-data fit (lavaan's default
    ``missing = "listwise"``), whatever ``missing`` says.

    Parameters
    ----------
    syntax : str
        lavaan syntax.
    data : DataFrame
    estimation : Estimation, optional
        Default: plain ML.
    missing : str
    where : str
        What errors name (``where: missing: ...``).
    **kw
        Other keywords of :func:`crm_research.sem.fit` (``group``, ``group_equal``,
        ``se``, ``bootstrap``, ...).

    Returns
    -------
    SEMResult

    Examples
    --------
    >>> import pandas as pd
    >>> hs = pd.read_csv("tests/reference/lavaan/HolzingerSwineford1939.csv")
    >>> res = fit_model("visual =~ x1 + x2 + x3", hs, check_estimation("ML"), missing="listwise")
    >>> res.nobs
    301
    """
    from . import sem

    e = estimation or Estimation()
    if e.is_default and _norm_missing(missing) in ("ml", "listwise"):
        return sem.fit(syntax, data, missing=missing, **kw)
    ov = observed_variables(syntax)
    cols = [v for v in ov + ([kw["group"]] if kw.get("group") else []) if v in getattr(data, "columns", [])]
    has_missing = bool(data[cols].isna().to_numpy().any()) if cols else False
    m, note = resolve_missing(e, missing, has_missing, where=where)
    if m == "ml" and not has_missing:
        m = "listwise"   # complete data: the complete-data fit (lavaan's default), as the commands do
    fkw = e.fit_kwargs(ov)
    fixed = _fixed_residuals(syntax)
    notes = [note] if note else []
    if fixed and "ordered" in fkw:
        ordd = ov if fkw["ordered"] is True else list(fkw["ordered"])
        clash = [v for v in ordd if v in fixed]
        if clash and e.ordered is not True:
            raise ModelError(f"{', '.join(clash)}: an item with a fixed error variance (a single-item construct) "
                             "cannot be declared ordered: an ordinal item's residual variance is not a parameter "
                             "(delta parameterization, as lavaan)",
                             hint=f"leave {', '.join(clash)} out of ordered")
        if clash:
            keep = [v for v in ordd if v not in fixed]
            notes.append(f"{', '.join(clash)} (single-item construct, error variance fixed) treated as continuous; "
                         "the other items as ordered")
            if keep:
                fkw["ordered"] = keep
            else:
                fkw.pop("ordered")
    res = sem.fit(syntax, data, missing=m, **{**fkw, **kw})
    res.notes.extend(notes)
    return res


def _fixed_residuals(syntax: str) -> set[str]:
    """Observed variables whose residual variance the syntax fixes (``x ~~ 0*x``)."""
    from .sem.syntax import parse_syntax

    out = set()
    for r in parse_syntax(syntax).rows:
        fx = getattr(r.mod, "fixed", None)
        if r.op == "~~" and r.lhs == r.rhs and fx is not None and any(v == v for v in fx):
            out.add(r.lhs)
    return out


def advice_estimation(data: Any, items: Sequence[str], *, missing: str | None = None,
                      points: int | None = None) -> tuple[Estimation, Any]:
    """The estimation :func:`crm_research.normality.recommend_estimator` advises (``estimator="auto"``).

    Parameters
    ----------
    data : DataFrame
    items : list of str
        The items the models use.
    missing : str, optional
        The missing-data treatment asked for (passed to the advice).
    points : int, optional
        Number of scale points, when known from the instrument.

    Returns
    -------
    (Estimation, EstimatorAdvice)
        The checked estimation and the advice (with its reasons and missing-data advice).
    """
    from .normality import recommend_estimator

    adv = recommend_estimator(data, list(items), points=points, missing=missing)
    ordd = getattr(adv, "ordered", None)
    if isinstance(ordd, (list, tuple)) and len(ordd) == 0:
        ordd = None
    est = check_estimation(getattr(adv, "estimator", "ML"), ordered=ordd, items=list(items))
    return est, adv


@dataclass
class EstimationChoice:
    """The estimation and missing-data treatment an analysis will use, and why.

    Attributes
    ----------
    estimation : Estimation
    missing : str
        ``ml``, ``listwise`` or ``pairwise`` (see :func:`resolve_missing`).
    advice : EstimatorAdvice or None
        :func:`crm_research.normality.recommend_estimator`'s advice when ``estimator="auto"``.
    notes : list of str
        What was decided on the user's behalf (in words).
    bootstrap : int
        Bootstrap resamples the analysis may use (see :meth:`with_bootstrap`).

    Examples
    --------
    >>> c = EstimationChoice(check_estimation("MLR"), "ml")
    >>> print(c.summary())
    Estimation: MLR: robust ML (Huber-White robust SE, Yuan-Bentler scaled test); missing answers: full-information ML
    """

    estimation: Estimation
    missing: str
    advice: Any = None
    notes: list = field(default_factory=list)
    bootstrap: int = 0

    def with_bootstrap(self, requested: int) -> "EstimationChoice":
        """Set :attr:`bootstrap`: ``requested`` resamples with ML, else 0 with a note (lavaan
        bootstraps ML fits only; robust fits use the robust standard errors instead)."""
        n = int(requested or 0)
        if n and not self.estimation.allows_bootstrap:
            self.notes.append(f"no bootstrap: lavaan bootstraps ML fits only; intervals of {self.estimation.estimator} "
                              "come from its robust standard errors (the delta method for indirect effects)")
            n = 0
        self.bootstrap = n
        return self

    @property
    def missing_words(self) -> str:
        return {"ml": "full-information ML", "listwise": "listwise deletion",
                "pairwise": "pairwise deletion"}.get(self.missing, self.missing)

    def summary(self) -> str:
        lines = [f"Estimation: {self.estimation.describe()}; missing answers: {self.missing_words}"]
        if self.advice is not None:
            lines.append("Chosen from the data (estimator = 'auto'): " + "; ".join(
                str(r) for r in getattr(self.advice, "reasons", []) or []))
        lines += [f"Note: {n}" for n in self.notes]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()

    def __repr__(self) -> str:
        return self.summary()

    def _repr_html_(self) -> str:
        import html

        parts = [f"<p><b>Estimation</b>: {html.escape(self.estimation.describe())}; missing answers: "
                 f"{html.escape(self.missing_words)}</p>"]
        if self.advice is not None and getattr(self.advice, "reasons", None):
            parts.append("<p>Chosen from the data (<code>estimator = 'auto'</code>):</p><ul>"
                         + "".join(f"<li>{html.escape(str(r))}</li>" for r in self.advice.reasons) + "</ul>")
        if self.notes:
            parts.append("<ul>" + "".join(f"<li>{html.escape(n)}</li>" for n in self.notes) + "</ul>")
        return "\n".join(parts)


def choose_estimation(data: Any, items: Sequence[str], estimator: Any = None, ordered: Any = None, se: Any = None,
                      test: Any = None, *, missing: str = "ml", points: int | None = None,
                      option_names: Mapping[str, str] | None = None, where: str = "parameters",
                      missing_given: bool = True) -> EstimationChoice:
    """Check an analysis' estimation options against its data before anything is fitted.

    ``estimator="auto"`` takes :func:`crm_research.normality.recommend_estimator`'s advice
    (estimator, ordered items and, when the treatment asked for does not suit it, its
    missing-data treatment).  The missing-data treatment must suit the estimator when the
    items have missing answers (:func:`resolve_missing`); when ``missing_given`` is False
    (the user did not choose one) the estimator's own choice is taken instead of an error.

    Parameters
    ----------
    data : DataFrame
        The responses (items as columns).
    items : list of str
        The items the analysis' models use.
    estimator, ordered, se, test :
        As :func:`check_estimation` (plus ``"auto"``).
    missing : {"ml", "listwise", "pairwise"}
    points : int, optional
        Scale points (for the advice).
    option_names, where :
        How errors name the settings (see :func:`check_estimation`).
    missing_given : bool
        Whether ``missing`` was chosen by the user.

    Returns
    -------
    EstimationChoice

    Examples
    --------
    >>> import pandas as pd
    >>> d = pd.DataFrame({"a": [1, 2, None, 4], "b": [2, 3, 4, 5]})
    >>> choose_estimation(d, ["a", "b"], "MLR", missing="ml").missing
    'ml'
    >>> choose_estimation(d, ["a", "b"], "WLSMV", ordered="all", missing="ml", missing_given=False).missing
    'pairwise'
    """
    items = [c for c in items if c in getattr(data, "columns", [])]
    advice = None
    notes: list[str] = []
    names = dict(option_names or {})
    if isinstance(estimator, str) and estimator.strip().lower() == "auto":
        if ordered is not None or se is not None or test is not None:
            opt = names.get("estimator")
            raise (ConfigError(opt, "", "'auto' decides ordered, se and test itself; do not give them too") if opt
                   else ConfigError(where, "estimator", "'auto' decides ordered, se and test itself; "
                                    "do not give them too"))
        est, advice = advice_estimation(data, items, points=points)
        adv_missing = _norm_missing(getattr(advice, "missing", None) or est.missing_choices()[0])
        if not missing_given:
            missing = adv_missing
        elif _norm_missing(missing) not in est.missing_choices() and adv_missing in est.missing_choices():
            notes.append(f"missing answers: {adv_missing} deletion instead of {missing!r} ({est.estimator}"
                         f"{' with ordered items' if est.ordered else ''} cannot use it, as lavaan)"
                         if adv_missing != "ml" else f"missing answers: full-information ML instead of {missing!r}")
            missing = adv_missing
        missing_given = True
    else:
        est = check_estimation(estimator, ordered, se, test, items=items, option_names=option_names, where=where)
    has_missing = bool(data[items].isna().to_numpy().any()) if items else False
    key = _norm_missing(missing)
    if not missing_given and key not in est.missing_choices():
        key = est.missing_choices()[-1] if has_missing else "listwise"
        if has_missing:
            notes.append(f"missing answers: {key} deletion ({est.estimator}"
                         f"{' with ordered items' if est.ordered else ''} cannot use full-information ML, as lavaan)")
        return EstimationChoice(est, key, advice, notes)
    m, note = resolve_missing(est, key, has_missing, option=names.get("missing"), where=where)
    if note:
        notes.append(note)
    return EstimationChoice(est, m, advice, notes)


def _norm_missing(m: Any) -> str:
    k = str(m).strip().lower()
    return _ALIASES.get(k, k)


def estimation_of(result: Any) -> Estimation:
    """The :class:`Estimation` a fitted model used (to refit related models the same way).

    Reads ``estimator``, ``ordered``, ``se_type`` and ``test`` (lavaan's ML defaults when
    absent); a bootstrap is not carried over (refits ask for it themselves).

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> estimation_of(SimpleNamespace(estimator="MLR", se_type="robust.huber.white", test="yuan.bentler.mplus",
    ...                               ordered=[])).fit_kwargs()
    {'estimator': 'MLR', 'se': 'robust.huber.white', 'test': 'yuan.bentler.mplus'}
    >>> estimation_of(SimpleNamespace(estimator="ML", se_type="bootstrap", test="standard")).is_default
    True
    """
    est = str(getattr(result, "estimator", None) or "ML").upper()
    se = getattr(result, "se_type", None)
    test = getattr(result, "test", None)
    ordered = tuple(getattr(result, "ordered", None) or ())
    if est == "ML" and not ordered:
        se = None if se in (None, "standard", "bootstrap") else se
        test = None if test in (None, "standard") else test
    else:
        se = None if se in (None, "bootstrap") else se
    return Estimation(estimator=est, ordered=ordered, se=se, test=test)

"""Options shared by the verbs: reading a data file, column maps, missing data, survey intake.

Every verb that reads data adds its options here, so ``--sheet``, ``--encoding``,
``--delimiter``, ``--map`` and ``--missing`` mean the same on all of them:

* :func:`add_reading_options` / :func:`reading_options`: ``--sheet NAME|INDEX``,
  ``--encoding ENC``, ``--delimiter D`` -> the keyword arguments of
  :func:`crm_research.responses.read_table`;
* :func:`add_map_option` / :func:`column_map`: repeatable ``--map FILE.yaml`` and
  ``--map COLUMN=ID`` (file column -> instrument variable, model variable or canonical field);
* :func:`add_missing_option`: ``--missing ml|listwise|pairwise`` for the verbs that fit models;
* :func:`add_estimation_options` / :func:`estimation_choice`: ``--estimator``, ``--ordered``,
  ``--se``, ``--test`` (lavaan's names), checked against the data before anything is fitted;
* :func:`add_intake_options` / :func:`intake_options`: ``--policy``, ``--salt``,
  ``--salt-file`` for survey responses prepared with an instrument;
* :func:`model_data` and :func:`resolve_missing`: the data a model is fitted to (``fit``,
  ``invariance``) and the missing-data treatment to use;
* :func:`add_salt_options` / :func:`salt_from_args`: ``--salt`` and ``--salt-file`` for every verb
  that reads identifiers (pseudonyms of personal data);
* :func:`add_deprecated`: an old option spelling kept as an alias that prints a one-line
  deprecation note.

Nothing heavy is imported here: ``crm-research --help`` builds every parser.
"""
from __future__ import annotations

import argparse
import sys
from typing import Any, Callable

MISSING_CHOICES = ("ml", "listwise", "pairwise")
MISSING_HELP = ("missing answers: ml = full-information maximum likelihood (every respondent with at least one "
                "answer is used; lavaan's missing='ml'; estimators ML and MLR), listwise = only complete rows, "
                "pairwise = pairwise deletion (ordered items and least-squares estimators, as lavaan) "
                "(default: ml, or the estimator's own choice when it cannot use ml)")
ESTIMATION_OPTIONS = {"estimator": "--estimator", "ordered": "--ordered", "se": "--se", "test": "--test",
                      "missing": "--missing"}


# --------------------------------------------------------------------------- reading
def add_reading_options(parser, *, title: str = "reading the data file"):
    """Add ``--sheet``, ``--encoding`` and ``--delimiter`` (an argument group); returns the group."""
    g = parser.add_argument_group(title)
    g.add_argument("--sheet", metavar="NAME|INDEX",
                   help="Excel sheet: its name or 0-based position (default: the first sheet; a missing sheet "
                        "is an error listing the sheets)")
    g.add_argument("--encoding", metavar="ENC",
                   help="text encoding of a CSV (default: detected: UTF-8, UTF-8 with BOM, UTF-16, GBK/GB18030)")
    g.add_argument("--delimiter", metavar="D",
                   help="CSV delimiter: a character or comma, semicolon, tab, pipe, whitespace (default: detected)")
    return g


def reading_options(args) -> dict[str, Any]:
    """``{sheet, encoding, delimiter}`` for :func:`crm_research.responses.read_table`.

    A sheet given as digits stays text: the reader takes it as a position unless a sheet has
    that name.
    """
    return dict(sheet=getattr(args, "sheet", None), encoding=getattr(args, "encoding", None),
                delimiter=getattr(args, "delimiter", None))


# --------------------------------------------------------------------------- column maps
def add_map_option(parser, *, target: str = "ID", meaning: str = "an instrument variable id",
                   example: str = "--map Q1=PF1", option: str = "--map", dest: str = "column_map"):
    """Add the repeatable ``--map FILE.yaml | COLUMN=ID`` option.

    ``target`` names the right-hand side in the metavar (``ID``, ``VARIABLE``, ``FIELD``) and
    ``meaning`` says what it is in the help.
    """
    parser.add_argument(option, action="append", dest=dest, metavar=f"FILE.yaml|COLUMN={target}",
                        help=f"column map: which file column holds which {target.lower()} ({meaning}); "
                             f"repeatable: a YAML file 'file column: {target.lower()}' or COLUMN={target} pairs, "
                             f"e.g. {example}; COLUMN= ignores a column")


def column_map(args, dest: str = "column_map") -> list[str] | None:
    """The ``--map`` values (YAML paths and COLUMN=ID pairs, in the order given) or None."""
    v = getattr(args, dest, None)
    return list(v) if v else None


# --------------------------------------------------------------------------- missing data
def add_missing_option(parser) -> None:
    """Add ``--missing ml|listwise`` (stored as None when not given, so a verb can tell)."""
    parser.add_argument("--missing", choices=MISSING_CHOICES, default=None, type=str.lower, help=MISSING_HELP)


def add_estimation_options(parser, *, title: str = "estimation (lavaan's options)"):
    """Add ``--estimator``, ``--ordered``, ``--se`` and ``--test`` (an argument group); returns it.

    Values are checked (case-insensitively, with lavaan's rules) by :func:`estimation_choice`
    once the data are read, so a bad value is one line naming the option; ``--estimator auto``
    takes the normality-based advice (:func:`crm_research.normality.recommend_estimator`).
    """
    g = parser.add_argument_group(title)
    g.add_argument("--estimator", metavar="NAME", default=None,
                   help="ML (default), MLM, MLMV, MLR (robust ML: robust SEs, scaled test, robust CFI/TLI/RMSEA), "
                        "WLSMV, DWLS, WLS, ULSMV, ULS (least squares, for --ordered items); auto: the estimator "
                        "the items' distributions call for (normality advice: number of scale points, skewness, "
                        "kurtosis, Mardia's test)")
    g.add_argument("--ordered", metavar="all|ITEM,ITEM", default=None,
                   help="treat items as ordinal (thresholds, polychoric correlations; default estimator then "
                        "WLSMV): all = every indicator, or a comma-separated list of items")
    g.add_argument("--se", metavar="TYPE", default=None,
                   help="standard errors (lavaan se=): standard, robust.sem, robust.huber.white, bootstrap, none "
                        "(default: the estimator's)")
    g.add_argument("--test", metavar="TYPE", default=None,
                   help="test statistic (lavaan test=): standard, satorra.bentler, scaled.shifted, "
                        "mean.var.adjusted, yuan.bentler, yuan.bentler.mplus, none (default: the estimator's)")
    return g


def estimation_choice(args, data, items, *, points: int | None = None):
    """The checked estimation of a verb's models (:class:`crm_research.estimation.EstimationChoice`).

    Reads ``--estimator``, ``--ordered``, ``--se``, ``--test`` and ``--missing``; ``--missing``
    not given means ml, or the estimator's own choice when it cannot use full-information ML
    (ordered items: pairwise; MLM: listwise).  Errors name the option.
    """
    from ..estimation import choose_estimation

    given = getattr(args, "missing", None)
    return choose_estimation(data, items, getattr(args, "estimator", None), getattr(args, "ordered", None),
                             getattr(args, "se", None), getattr(args, "test", None), missing=given or "ml",
                             points=points, option_names=ESTIMATION_OPTIONS, missing_given=given is not None)


def estimation_lines(choice) -> list[str]:
    """Lines to print about an estimation choice: the advice's reasons (``--estimator auto``) and notes."""
    lines = [f"estimator auto: {r}" for r in (getattr(choice.advice, "reasons", None) or [])] \
        if choice.advice is not None else []
    return lines + [f"note: {n}" for n in choice.notes]


def describe_missing(missing: str, rows: int, used: int, *, had_missing: bool = True) -> str:
    """One line saying which missing-data treatment was used and how many rows it used.

    Examples
    --------
    >>> describe_missing("listwise", 301, 180)
    'Missing data: listwise deletion (--missing listwise): 180 of 301 rows used, 121 dropped (incomplete)'
    """
    dropped = rows - used
    if not had_missing:
        return (f"Missing data: none in the model's variables; all {used} rows used (--missing {missing}; "
                "every missing-data treatment gives the complete-data fit)")
    if missing == "pairwise":
        return (f"Missing data: pairwise deletion (--missing pairwise): {used} of {rows} rows used"
                + (f", {dropped} dropped (no answer to any model variable)" if dropped else ", none dropped"))
    if missing == "ml":
        why = " (no answer to any model variable)" if dropped else ""
        return (f"Missing data: full-information ML (--missing ml): {used} of {rows} rows used"
                + (f", {dropped} dropped{why}" if dropped else ", none dropped"))
    return (f"Missing data: listwise deletion (--missing listwise): {used} of {rows} rows used"
            + (f", {dropped} dropped (incomplete)" if dropped else ", none dropped"))


# --------------------------------------------------------------------------- survey intake
def add_intake_options(parser, *, title: str = "survey responses (with --instrument)"):
    """Add ``--policy``, ``--salt`` and ``--salt-file`` (an argument group); returns the group."""
    g = parser.add_argument_group(title)
    g.add_argument("--policy", action="append", default=[], metavar="CHECK=POLICY",
                   help="cleaning policy drop|flag|keep per check, repeatable (e.g. too_fast=drop); "
                        "all=POLICY sets every check")
    add_salt_options(g)
    return g


def intake_options(args) -> dict[str, Any]:
    """``{policies, salt}`` for :func:`crm_research.responses.prepare_responses`."""
    return dict(policies=list(getattr(args, "policy", []) or []), salt=salt_from_args(args))


# --------------------------------------------------------------------------- salt
SALT_HELP = ("salt for pseudonyms of personal data such as e-mail or phone ids (same salt, same pseudonyms: "
             "use the survey's salt to keep the two linkable); default: random per run, so pseudonyms "
             "cannot be recomputed")


def add_salt_options(parser) -> None:
    """Add ``--salt TEXT`` and ``--salt-file FILE`` to a parser or argument group.

    Every verb that reads identifiers adds them here, so the two options mean the same
    everywhere; read the result with :func:`salt_from_args`.

    Examples
    --------
    >>> import argparse
    >>> p = argparse.ArgumentParser()
    >>> add_salt_options(p)
    >>> p.parse_args(['--salt', 's3cret']).salt
    's3cret'
    """
    parser.add_argument("--salt", help=SALT_HELP)
    parser.add_argument("--salt-file", metavar="FILE",
                        help="read the salt from a file (first line stripped; keeps it out of shell history)")


def salt_from_args(args) -> str | None:
    """The salt given by ``--salt`` or ``--salt-file``, or None (a random salt per run).

    Raises
    ------
    ConfigError
        Both options given, a missing or empty salt file, or an empty ``--salt``.

    Examples
    --------
    >>> import argparse
    >>> salt_from_args(argparse.Namespace(salt='abc', salt_file=None))
    'abc'
    >>> salt_from_args(argparse.Namespace(salt=None, salt_file=None)) is None
    True
    >>> salt_from_args(argparse.Namespace(salt='', salt_file=None))
    Traceback (most recent call last):
    ...
    crm_research.errors.ConfigError: --salt: the salt must not be empty (fix: omit --salt for a random salt)
    """
    from pathlib import Path

    from ..errors import ConfigError

    salt = getattr(args, "salt", None)
    salt_file = getattr(args, "salt_file", None)
    if salt_file:
        if salt:
            raise ConfigError("--salt-file", "", "give either --salt or --salt-file, not both")
        sp = Path(salt_file).expanduser()
        if not sp.is_file():
            raise ConfigError(str(sp), "", "salt file not found", hint="create it, e.g. with a random passphrase")
        try:
            salt = sp.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as e:
            raise ConfigError(str(sp), "", f"salt file cannot be read as UTF-8 text ({type(e).__name__})") from None
        if not salt:
            raise ConfigError(str(sp), "", "salt file is empty")
    if salt == "":
        raise ConfigError("--salt", "", "the salt must not be empty", hint="omit --salt for a random salt")
    return salt


# --------------------------------------------------------------------------- model data
def observed_variables(syntax: str) -> list[str]:
    """The observed variables a lavaan model uses (in the order lavaan lists them)."""
    from ..sem.partable import var_names
    from ..sem.syntax import parse_syntax

    return list(var_names(parse_syntax(syntax).rows).ov)


def model_data(args, variables: list[str], group: str | None):
    """(data, lines to print) for ``fit``/``invariance``: read, map, (with ``--instrument``) prepare.

    Uses ``args.data`` and the options added by :func:`add_reading_options`,
    :func:`add_map_option` and :func:`add_intake_options`.

    Without ``args.instrument`` only ``variables`` and ``group`` are kept
    (:func:`crm_research.responses.read_model_data`). With it the responses go through
    :func:`crm_research.responses.prepare_responses` (personal data pseudonymized first) and
    the data are the kept respondents' answers (reverse-keyed items recoded), demographics
    and other non-personal columns.
    """
    from ..errors import DataFileError

    cmap = column_map(args)
    if not getattr(args, "instrument", None):
        from ..responses import read_model_data

        md = read_model_data(args.data, variables, group=group, column_map=cmap, map_label="--map",
                             **reading_options(args))
        lines = [f"Data: {md.source.summary()}"] + [f"note: {n}" for n in md.notes]
        return md.data, lines
    from ..instruments import load_instrument
    from ..responses import prepare_responses

    inst = load_instrument(args.instrument)
    rs = prepare_responses(args.data, inst, column_map=cmap, map_label="--map",
                           **reading_options(args), **intake_options(args))
    pii = set(rs.privacy.table["column"]) if not rs.privacy.table.empty else set()
    if group is not None and group in pii:
        raise DataFileError(args.data, "the group column is personal data; it was pseudonymized and cannot define "
                            "groups", column=group, hint="group by a non-identifying column")
    data = rs.data.copy()
    extra = [c for c in rs.other.columns if c not in data.columns and c not in pii]
    for c in extra:
        data[c] = rs.other[c]
    absent = [v for v in variables + ([group] if group else []) if v not in data.columns]
    if absent:
        shown = ", ".join(c for c in data.columns if not str(c).startswith("flag_"))
        raise DataFileError(args.data, f"the model's variable(s) {', '.join(absent)} are not in the prepared "
                            "responses", column=absent[0],
                            hint=f"use the instrument's ids in the model; available: {shown[:300]}")
    if group is not None:
        q = next((d for d in inst.demographics if d.id == group), None)
        if q is not None and q.options:    # demographic codes -> the instrument's option texts
            labels = {o["value"]: o.get("en", str(o["value"])) for o in q.options}
            data[group] = data[group].map(lambda v: labels.get(_code(v), v))
    rep = rs.report
    lines = [f"Data: {rs.source.summary()}"] + [f"note: {n}" for n in rs.mapping.notes]
    lines.append(f"Responses prepared with {args.instrument}: {rep.n_rows} read, {len(rs.data)} kept, "
                 f"{len(rs.excluded)} excluded; {rep.n_errors} errors, {rep.n_warnings} warnings "
                 "(details: crm-research validate)")
    if not rs.privacy.table.empty:
        lines.append("Personal data: " + "; ".join(f"{r.column} ({r.kind}, {r.action})"
                                                   for r in rs.privacy.table.itertuples(index=False)))
    return data, lines


def _code(v):
    """1.0 -> 1 (option values are whole numbers); anything else unchanged."""
    try:
        f = float(v)
    except (TypeError, ValueError):
        return v
    return int(f) if f == f and f.is_integer() else v


def resolve_missing(args, data, variables: list[str], group: str | None) -> tuple[str, bool, list[str]]:
    """(missing treatment asked for, whether any model variable has a missing value, notes).

    ``--missing`` not given means ``ml``. When no model variable (and no group cell) is
    missing both treatments coincide; callers then fit the complete-data model (lavaan's
    default ``sem()``, expected information) and say so.
    """
    use = [v for v in variables if v in data.columns]
    had_missing = bool(data[use].isna().to_numpy().any()) or (group is not None and group in data.columns
                                                               and bool(data[group].isna().any()))
    return args.missing or "ml", had_missing, []


# --------------------------------------------------------------------------- deprecated aliases
class _Deprecated(argparse.Action):
    """Stores into the new option's destination after a one-line note on stderr."""

    def __init__(self, option_strings, dest, *, new: str, transform: Callable[[str], Any] | None = None,
                 append: bool = False, **kw):
        self.new, self.transform, self.append = new, transform, append
        super().__init__(option_strings, dest, **kw)

    def __call__(self, parser, namespace, values, option_string=None):
        try:
            v = self.transform(values) if self.transform else values
        except ValueError as e:
            parser.error(str(e))
        print(f"note: {option_string} is deprecated; use {self.new}", file=sys.stderr)
        if self.append:
            cur = list(getattr(namespace, self.dest, None) or [])
            cur.append(v)
            setattr(namespace, self.dest, cur)
        else:
            setattr(namespace, self.dest, v)


def add_deprecated(parser, old: str, *, new: str, dest: str, metavar: str | None = None,
                   transform: Callable[[str], Any] | None = None, append: bool = False, **kwargs) -> None:
    """Keep ``old`` working as an alias of ``new``: same destination, a deprecation note when used.

    ``transform`` turns the old value into the new one (e.g. ``--customer-col user`` into the
    ``--map`` pair ``user=customer_id``); with ``append`` it is added to a list (``--map``).
    The alias is listed in ``--help`` as deprecated; ``kwargs`` (``type``, ``choices``) go to
    :meth:`argparse.ArgumentParser.add_argument`.
    """
    parser.add_argument(old, action=_Deprecated, dest=dest, new=new, transform=transform, append=append,
                        metavar=metavar, help=f"deprecated: use {new}", **kwargs)

"""``crm-research invariance``: measurement invariance and cross-group path comparison."""
from __future__ import annotations

import argparse

from . import options

EPILOG = """\
examples:
  crm-research invariance survey.csv --group platform --instrument surveys/ecommerce_crm.yaml -o reports/inv
  crm-research invariance survey.csv --group segment --instrument surveys/ecommerce_crm.yaml \\
      --structural ops --paths H1 H2 -o reports/inv-ops
  crm-research invariance hs.csv --group school --model hs_cfa.lav --steps configural metric scalar -o reports/hs
  crm-research invariance export.xlsx --sheet 2 --group 平台 --instrument my_survey.yaml --map Q1=A1 -o out
  crm-research invariance mobi.csv --group segment --model mobi.lav --estimator MLR -o reports/inv-mlr
  crm-research invariance bfi.csv --group gender --model bfi.lav --ordered all -o reports/inv-ordinal

Data: CSV/TSV/TXT/DAT (UTF-8, BOM, GBK; delimiter detected), Excel .xlsx (--sheet), SPSS .sav,
Parquet.  With --instrument the file is prepared as `crm-research validate` does (columns mapped,
personal data pseudonymized, cleaning policies applied, reverse-keyed items recoded); a
demographic group column is labelled with the instrument's option texts.  Without --structural
the measurement model is tested; with it (a model name declared under the instrument's
models:) the structural model, and its paths (H1...) are compared across groups.  With --model
the lavaan syntax of that file is used (only its variables and the group column are read).

Missing answers (--missing): ml (default) = full-information ML, listwise = complete rows only,
pairwise = ordered items (as lavaan); when no model variable has a missing value they coincide.

Estimation (--estimator, --ordered, --se, --test; lavaan's names): with a robust estimator (MLM,
MLR, ...) or ordered items (WLSMV) each step is judged by the robust (else scaled) CFI and RMSEA
and tested by the scaled chi-square difference; with ordered items the scalar step constrains
the thresholds (lavaan group.equal "thresholds").

Each step (configural, metric, scalar, strict) is judged by Chen (2007): invariance holds when
delta CFI >= -.010 and delta RMSEA <= .015 relative to the previous step; the chi-square
difference test is reported.  Each path is tested by constraining it equal across groups
(one at a time, on top of --path-invariance, metric by default); Holm-adjusted p values.

Outputs in OUTDIR: invariance.csv, path_comparison.csv (structural models only), summary.md.
exit status: 0 when the models were fitted, 2 on errors.
"""

OUTPUTS = {"invariance": "invariance.csv", "paths": "path_comparison.csv", "summary": "summary.md"}


def add_parser(sub) -> None:
    p = sub.add_parser(
        "invariance", help="measurement invariance across groups and cross-group comparison of paths",
        description="Test configural, metric, scalar and strict measurement invariance across the groups "
                    "of a column (lavaan group.equal) and compare structural paths across the groups.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("data", help="data file: .csv/.tsv/.txt/.dat, .xlsx, .sav or .parquet (one row per respondent)")
    p.add_argument("--group", required=True, metavar="COL", help="column defining the groups")
    p.add_argument("--model", metavar="MODEL.lav", help="model file with lavaan syntax (UTF-8 or GBK)")
    p.add_argument("--instrument", "-i", metavar="YAML",
                   help="instrument YAML: prepare the responses as `validate` does; without --model its "
                        "measurement model (or --structural NAME) is tested")
    p.add_argument("--structural", metavar="NAME",
                   help="with --instrument: structural model to test (a name under the instrument's models:); "
                        "default: the measurement model")
    options.add_missing_option(p)
    options.add_estimation_options(p)
    p.add_argument("--steps", nargs="+", default=["configural", "metric", "scalar", "strict"],
                   choices=("configural", "metric", "scalar", "strict"), metavar="STEP",
                   help="invariance steps in nesting order (default: configural metric scalar strict)")
    p.add_argument("--paths", nargs="+", metavar="PATH",
                   help="paths to compare: hypothesis ids (H1), labels (h1) or 'SAT~OPS' (default: every path)")
    p.add_argument("--path-invariance", choices=("configural", "metric", "scalar"), default="metric",
                   help="measurement constraints kept when comparing paths (default: %(default)s)")
    p.add_argument("--min-n", type=int, metavar="N",
                   help="leave out groups with fewer than N complete cases (reported); default: keep all")
    p.add_argument("--cfi-drop", type=float, default=-0.010, help="largest tolerated drop in CFI (default: %(default)s)")
    p.add_argument("--rmsea-rise", type=float, default=0.015,
                   help="largest tolerated rise in RMSEA (default: %(default)s)")
    p.add_argument("--alpha", type=float, default=0.05, help="level of the tests (default: %(default)s)")
    options.add_map_option(p, target="ID", meaning="an instrument variable id with --instrument, else a "
                                                   "variable of the --model", example="--map Q1=PF1")
    options.add_deprecated(p, "--column-map", new="--map", dest="column_map", metavar="YAML", append=True)
    p.add_argument("-o", "--out", required=True, metavar="OUTDIR", help="output folder")
    p.add_argument("--force", action="store_true", help="overwrite existing output files")
    options.add_reading_options(p)
    options.add_intake_options(p)
    p.set_defaults(func=run)


# --------------------------------------------------------------------------- data
def _load(args):
    """(data, syntax, instrument or None, lines to print) for the arguments."""
    from ..errors import ConfigError
    from ..invariance import resolve_syntax
    from ..responses import read_text

    if not args.model and not args.instrument:
        raise ConfigError("invariance", "", "give the model: --model MODEL.lav or --instrument YAML",
                          hint="--instrument tests the instrument's measurement model (or --structural NAME)")
    inst = None
    if args.instrument:
        from ..instruments import load_instrument

        inst = load_instrument(args.instrument)
    if args.model:
        if args.structural:
            raise ConfigError("--structural", "", "not used with --model",
                              hint="put the structural part in the --model file, or drop --model")
        syntax = read_text(args.model, what="model file")
    else:
        model = args.structural or "measurement"
        if model != "measurement" and model not in inst.models:
            raise ConfigError("--structural", "", f"instrument {inst.id!r} has no model {model!r}",
                              hint=f"use one of: {', '.join(inst.models)} (or omit it for the measurement model)")
        syntax = None
    if syntax is None:
        from ..study import model_items

        # which items the model uses does not depend on the data; the fixed error variance of
        # a single item with a stated reliability does, so the syntax is made after reading
        variables = model_items(inst, None if model == "measurement" else model)
        data, lines = options.model_data(args, variables, args.group)
        return data, resolve_syntax(model, inst, data=data), inst, lines
    data, lines = options.model_data(args, options.observed_variables(syntax), args.group)
    return data, syntax, inst, lines


def _drop_small(data, group, syntax, min_n, missing="listwise"):
    """Leave out groups with fewer than ``min_n`` usable cases; returns (data, note).

    Usable: complete on the model's variables (listwise), or with at least one answer (ml).
    """
    ov = [v for v in options.observed_variables(syntax) if v in data.columns]
    if missing != "listwise":
        usable = data[ov].notna().any(axis=1) & data[group].notna()
        what = "cases with an answer"
    else:
        usable = data[ov + [group]].notna().all(axis=1)
        what = "complete cases"
    counts = data.loc[usable, group].value_counts()
    small = counts[counts < min_n]
    if small.empty:
        return data, ""
    note = (f"left out group(s) with fewer than {min_n} {what}: "
            + ", ".join(f"{g!r} (n = {n})" for g, n in small.items()))
    return data[~data[group].isin(small.index)], note




# --------------------------------------------------------------------------- output
def _summary_md(args, inv, paths, notes) -> str:
    from ..reporting.format import markdown_table

    groups = ", ".join(f"{g} (n = {n})" for g, n in zip(inv.group_labels, inv.nobs_groups))
    model = args.model or f"{args.instrument}: {args.structural or 'measurement'} model"
    if args.model and args.instrument:
        model += f" (responses prepared with {args.instrument})"
    s = [f"# Measurement invariance across `{args.group}`", "",
         f"- Data: `{args.data}`", f"- Model: `{model}`", f"- Groups (cases used): {groups}",
         f"- Estimation: {inv.estimation}"]
    s += [f"- Note: {n}" for n in notes]
    cols = ["step"] + inv.shown_columns() + ["holds"]
    s += ["", "## Invariance steps", "", markdown_table(inv.table[cols], decimals=3), ""]
    if inv.robust:
        s += ["Columns ending in .scaled/.robust are lavaan's scaled χ² and robust (else scaled) fit indices; "
              "delta.cfi and delta.rmsea are their changes; chisq.diff is the scaled χ² difference test.", ""]
    s += [f"- **{st}**: {v}" for st, v in zip(inv.table["step"], inv.table["verdict"])]
    s += ["", f"Rule: {inv.rule.text()}.", "",
          f"**Highest level supported: {inv.highest or 'none (the configural model is not acceptable)'}.**"]
    if paths is not None:
        est = [c for c in paths.columns if c.startswith(("est.", "std.all."))]
        show = paths[["path", "hypothesis"] + est + ["chisq.diff", "df.diff", "pvalue", "pvalue.adj", "verdict"]]
        s += ["", f"## Structural paths compared across groups ({paths.attrs.get('invariance')} invariance kept)", "",
              markdown_table(show, decimals=3), ""]
        s += [f"- **{r.path}**{' (' + r.hypothesis + ')' if r.hypothesis else ''}: {r.verdict}"
              for r in paths.itertuples(index=False)]
        if inv.highest is None or ["configural", "metric", "scalar"].index(paths.attrs["invariance"]) > \
                (["configural", "metric", "scalar", "strict"].index(inv.highest)):
            s += ["", f"Caution: the comparison assumes {paths.attrs['invariance']} invariance, which the steps "
                  "above do not support; differences in paths may reflect differences in measurement."]
    warns = list(inv.warnings) + (list(paths.attrs.get("warnings", [])) if paths is not None else [])
    if warns:
        s += ["", "## Warnings", ""] + [f"- {w}" for w in warns]
    return "\n".join(s) + "\n"


def run(args) -> int:
    from pathlib import Path

    from ..errors import CRMResearchError, ConfigError, ModelError
    from ..invariance import compare_paths, measurement_invariance
    from ..sem.syntax import parse_syntax

    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise CRMResearchError(f"{out}: exists and is not a folder", hint="choose another output folder (-o)")
    existing = [n for n in OUTPUTS.values() if (out / n).exists()]
    if existing and not args.force:
        raise CRMResearchError(f"{out}: would overwrite existing outputs {', '.join(existing)}",
                               hint="pass --force to overwrite, or choose another output folder (-o)")
    if args.min_n is not None and args.min_n < 2:
        raise ConfigError("--min-n", "", f"must be 2 or more, got {args.min_n}")
    if not 0 < args.alpha < 1:
        raise ConfigError("--alpha", "", f"must be between 0 and 1, got {args.alpha}")
    data, syntax, inst, lines = _load(args)
    variables = options.observed_variables(syntax)
    missing, had_missing, mnotes = options.resolve_missing(args, data, variables, args.group)
    choice = options.estimation_choice(args, data, variables)
    est = choice.estimation
    if not est.is_default:
        missing = choice.missing
        mnotes = mnotes + options.estimation_lines(choice)
    fit_missing = missing if had_missing else "listwise"
    rows = len(data)
    notes = []
    if args.min_n:
        data, note = _drop_small(data, args.group, syntax, args.min_n, fit_missing)
        if note:
            notes.append(note)
    try:
        inv = measurement_invariance(syntax, data, args.group, steps=args.steps, cfi_drop=args.cfi_drop,
                                     rmsea_rise=args.rmsea_rise, alpha=args.alpha,
                                     missing=fit_missing, estimator=est)
    except ModelError as e:
        if ("complete case" in e.message or "case(s)" in e.message) and not args.min_n:
            raise ModelError(f"{args.data}: {e.message}", hint="pass --min-n N to leave out groups with fewer than "
                             "N complete cases, or merge groups in the file") from None
        raise
    has_paths = any(r.op == "~" for r in parse_syntax(syntax).rows)
    if args.paths and not has_paths:
        raise ConfigError("--paths", "", "the model has no structural path to compare",
                          hint="use --structural NAME (a model of the instrument), or a --model with '~' regressions")
    paths = None
    if has_paths:
        paths = compare_paths(syntax, data, args.group, paths=args.paths, invariance=args.path_invariance,
                              instrument=inst, alpha=args.alpha, missing=fit_missing, estimator=est)
    notes.insert(0, options.describe_missing(missing, rows, int(sum(inv.nobs_groups)), had_missing=had_missing))
    for line in lines + mnotes:
        print(line)
    text = _summary_md(args, inv, paths, notes)
    out.mkdir(parents=True, exist_ok=True)
    inv.table.to_csv(out / OUTPUTS["invariance"], index=False)
    written = [out / OUTPUTS["invariance"]]
    if paths is not None:
        paths.to_csv(out / OUTPUTS["paths"], index=False)
        written.append(out / OUTPUTS["paths"])
    elif (out / OUTPUTS["paths"]).exists():  # --force over a structural run: do not leave a stale table
        (out / OUTPUTS["paths"]).unlink()
    (out / OUTPUTS["summary"]).write_text(text, encoding="utf-8")
    written.append(out / OUTPUTS["summary"])
    print(text)
    print("wrote " + ", ".join(str(p) for p in written))
    return 0

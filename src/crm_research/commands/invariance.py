"""``crm-research invariance``: measurement invariance and cross-group path comparison."""
from __future__ import annotations

import argparse

EPILOG = """\
examples:
  crm-research invariance survey.csv --group platform --instrument surveys/ecommerce_crm.yaml -o reports/inv
  crm-research invariance survey.csv --group segment --instrument surveys/ecommerce_crm.yaml \\
      --structural ops --paths H1 H2 -o reports/inv-ops
  crm-research invariance hs.csv --group school --model hs_cfa.lav --steps configural metric scalar -o reports/hs

With --instrument the file is prepared as `crm-research validate` does (columns mapped, personal
data pseudonymized, cleaning policies applied, reverse-keyed items recoded); a demographic group
column is labelled with the instrument's option texts.  Without --structural the measurement
model is tested; with it (ops, crm, combined) the structural model, and its paths (H1...) are
compared across groups.  With --model the file is read as it is and the lavaan syntax is used.

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
    p.add_argument("data", help="response file: .csv/.tsv/.txt, .xlsx or .sav (one row per respondent)")
    p.add_argument("--group", required=True, metavar="COL", help="column defining the groups")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--model", metavar="MODEL.lav", help="model file with lavaan syntax")
    src.add_argument("--instrument", metavar="YAML", help="instrument YAML, e.g. surveys/ecommerce_crm.yaml")
    p.add_argument("--structural", metavar="NAME",
                   help="with --instrument: structural model to test (e.g. ops, crm, combined); "
                        "default: the measurement model")
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
    p.add_argument("--column-map", metavar="YAML", help="with --instrument: {file column: variable id} mapping")
    p.add_argument("-o", "--out", required=True, metavar="OUTDIR", help="output folder")
    p.add_argument("--force", action="store_true", help="overwrite existing output files")
    p.set_defaults(func=run)


# --------------------------------------------------------------------------- data
def _load(args):
    """(data, syntax, instrument or None, group labels note) for the arguments."""
    from pathlib import Path

    from ..errors import ConfigError, DataFileError
    from ..invariance import resolve_syntax

    group = args.group
    if args.model:
        if args.structural:
            raise ConfigError("--structural", "", "only used with --instrument",
                              hint="put the structural part in the --model file, or use --instrument")
        if args.column_map:
            raise ConfigError("--column-map", "", "only used with --instrument", hint="drop --column-map")
        mpath = Path(args.model)
        if not mpath.is_file():
            raise DataFileError(str(mpath), "model file not found", hint="give a file with lavaan syntax")
        syntax = mpath.read_text(encoding="utf-8")
        from ..responses.reading import read_responses

        data = read_responses(args.data).data.copy()
        from ..privacy import header_kind

        if group in data.columns and header_kind(group):
            raise DataFileError(args.data, f"the group column looks like personal data ({header_kind(group)})",
                                column=group, hint="group by a non-identifying column")
        _check_group(data, group, args.data)
        data = _numeric_variables(data, syntax, args.data)
        return data, syntax, None
    from ..instruments import load_instrument
    from ..responses import prepare_responses

    inst = load_instrument(args.instrument)
    model = args.structural or "measurement"
    if model != "measurement" and model not in inst.models:
        raise ConfigError("--structural", "", f"instrument {inst.id!r} has no model {model!r}",
                          hint=f"use one of: {', '.join(inst.models)} (or omit it for the measurement model)")
    syntax = resolve_syntax(model, inst)
    rs = prepare_responses(args.data, inst, column_map=args.column_map)
    if group in set(rs.privacy.table.get("column", [])):
        raise DataFileError(args.data, "the group column is personal data; it was pseudonymized and cannot "
                            "define groups", column=group, hint="group by a non-identifying column")
    if group in rs.data.columns:
        data = rs.items.copy()
        data[group] = rs.data[group]
    elif rs.other is not None and group in rs.other.columns:
        data = rs.items.copy()
        data[group] = rs.other[group]
    else:
        data = rs.items.copy()
        _check_group(data, group, args.data, extra=list(rs.data.columns) + list(getattr(rs.other, "columns", [])))
    q = next((d for d in inst.demographics if d.id == group), None)
    if q is not None and q.options:    # demographic codes -> the instrument's option texts
        labels = {o["value"]: o.get("en", str(o["value"])) for o in q.options}
        data[group] = data[group].map(lambda v: labels.get(_code(v), v))
    return data, syntax, inst


def _code(v):
    """1.0 -> 1 (option values are whole numbers); anything else unchanged."""
    try:
        f = float(v)
    except (TypeError, ValueError):
        return v
    return int(f) if f == f and f.is_integer() else v


def _numeric_variables(data, syntax, file):
    """The model's observed variables as numbers; a cell that is not a number is a DataFileError."""
    import pandas as pd

    from ..errors import DataFileError
    from ..sem.partable import var_names
    from ..sem.syntax import parse_syntax

    ov = var_names(parse_syntax(syntax).rows).ov
    missing = [v for v in ov if v not in data.columns]
    if missing:
        raise DataFileError(str(file), f"the model's observed variable(s) {', '.join(missing)} have no column",
                            column=missing[0], hint="check the spelling in the model file or the file's header")
    for v in ov:
        col = data[v]
        txt = col.astype("string").str.strip()
        blank = col.isna() | (txt == "")
        num = pd.to_numeric(txt.where(~blank), errors="coerce")
        bad = num.isna() & ~blank
        if bad.any():
            row = bad.idxmax()
            raise DataFileError(str(file), "not a number", row=int(row) if str(row).isdigit() else None, column=v, value=col[row],
                                hint="model variables must be numeric; recode the answers or leave the cell blank")
        data[v] = num.astype(float)
    return data


def _check_group(data, group, file, extra=None) -> None:
    from ..errors import DataFileError

    cols = [str(c) for c in (extra if extra is not None else data.columns)]
    if group not in data.columns:
        shown = ", ".join(c for c in cols if not c.startswith("flag_"))[:300]
        raise DataFileError(str(file), "group column not found", column=group,
                            hint=f"--group must name a column of the file; available: {shown}")


def _drop_small(data, group, syntax, min_n):
    """Leave out groups with fewer than ``min_n`` complete cases; returns (data, note)."""
    from ..sem.partable import var_names
    from ..sem.syntax import parse_syntax

    ov = [v for v in var_names(parse_syntax(syntax).rows).ov if v in data.columns]
    complete = data[ov + [group]].notna().all(axis=1)
    counts = data.loc[complete, group].value_counts()
    small = counts[counts < min_n]
    if small.empty:
        return data, ""
    note = ("left out group(s) with fewer than %d complete cases: " % min_n
            + ", ".join(f"{g!r} (n = {n})" for g, n in small.items()))
    return data[~data[group].isin(small.index)], note


# --------------------------------------------------------------------------- output
def _md_table(df) -> str:
    import math

    def cell(v):
        if v is None or (isinstance(v, float) and math.isnan(v)):
            return ""
        if isinstance(v, float):
            return f"{v:.3f}"
        try:
            import pandas as pd

            if v is pd.NA:
                return ""
        except Exception:  # pragma: no cover
            pass
        return str(v).replace("|", "\\|")

    cols = list(df.columns)
    lines = ["| " + " | ".join(map(str, cols)) + " |", "|" + "---|" * len(cols)]
    for row in df.itertuples(index=False):
        lines.append("| " + " | ".join(cell(v) for v in row) + " |")
    return "\n".join(lines)


def _summary_md(args, inv, paths, notes) -> str:
    groups = ", ".join(f"{g} (n = {n})" for g, n in zip(inv.group_labels, inv.nobs_groups))
    model = args.model or f"{args.instrument}: {args.structural or 'measurement'} model"
    s = [f"# Measurement invariance across `{args.group}`", "",
         f"- Data: `{args.data}`", f"- Model: `{model}`", f"- Groups (complete cases): {groups}"]
    s += [f"- Note: {n}" for n in notes]
    cols = ["step", "npar", "chisq", "df", "pvalue", "cfi", "tli", "rmsea", "srmr", "chisq.diff", "df.diff",
            "pvalue.diff", "delta.cfi", "delta.rmsea", "holds"]
    s += ["", "## Invariance steps", "", _md_table(inv.table[cols]), ""]
    s += [f"- **{st}**: {v}" for st, v in zip(inv.table["step"], inv.table["verdict"])]
    s += ["", f"Rule: {inv.rule.text()}.", "",
          f"**Highest level supported: {inv.highest or 'none (the configural model is not acceptable)'}.**"]
    if paths is not None:
        est = [c for c in paths.columns if c.startswith(("est.", "std.all."))]
        show = paths[["path", "hypothesis"] + est + ["chisq.diff", "df.diff", "pvalue", "p_adj", "verdict"]]
        s += ["", f"## Structural paths compared across groups ({paths.attrs.get('invariance')} invariance kept)", "",
              _md_table(show), ""]
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
    data, syntax, inst = _load(args)
    notes = []
    if args.min_n:
        data, note = _drop_small(data, args.group, syntax, args.min_n)
        if note:
            notes.append(note)
    try:
        inv = measurement_invariance(syntax, data, args.group, steps=args.steps, cfi_drop=args.cfi_drop,
                                     rmsea_rise=args.rmsea_rise, alpha=args.alpha)
    except ModelError as e:
        if "complete case" in e.message and not args.min_n:
            raise ModelError(f"{args.data}: {e.message}", hint="pass --min-n N to leave out groups with fewer than "
                             "N complete cases, or merge groups in the file") from None
        raise
    has_paths = any(r.op == "~" for r in parse_syntax(syntax).rows)
    if args.paths and not has_paths:
        raise ConfigError("--paths", "", "the model has no structural path to compare",
                          hint="use --structural ops|crm|combined, or a --model with '~' regressions")
    paths = None
    if has_paths:
        paths = compare_paths(syntax, data, args.group, paths=args.paths, invariance=args.path_invariance,
                              instrument=inst, alpha=args.alpha)
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

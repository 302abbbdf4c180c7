"""``crm-research validate``: check, clean and score a survey response file."""
from __future__ import annotations

import argparse

from . import options

EPILOG = """\
examples:
  crm-research validate export.csv --instrument surveys/ecommerce_crm.yaml -o reports/validation
  crm-research validate surveys/examples/wjx_ecommerce_crm_gbk.csv --instrument surveys/ecommerce_crm.yaml \\
      --policy too_fast=drop --policy straight_lining=drop --salt-file ~/.crm_salt -o reports/wjx
  crm-research validate export.xlsx --sheet 答卷数据 -i my_survey.yaml --map Q1=A1 --map Q2=A2 -o reports/v
  crm-research validate survey.sav -i my_survey.yaml --map columns.yaml --na 99 -o reports/v

reading: CSV/TSV/TXT/DAT (UTF-8, UTF-8 with BOM, UTF-16, GBK/GB18030; comma, semicolon, tab, |
or whitespace, detected), Excel .xlsx (--sheet NAME or 0-based INDEX), SPSS .sav, Parquet.
column map (--map, repeatable): a YAML file 'file column: variable id' or COLUMN=ID pairs; columns
named by item id, by a platform's id/duration names or by the question text are found without it.

outputs (in the -o folder): validation_report.html / .md, findings.csv (one row per problem:
check, severity, respondent, row, column, value, message), mapping.csv, clean.csv,
scores.csv, excluded.csv, provenance.json.

checks and default policies (drop = remove respondent, flag = add a flag_<check> column,
keep = do nothing): duplicate_id, attention_failed, screened_out: drop; duplicate_row,
too_fast, straight_lining, non_numeric, out_of_range, demographic_invalid, duration_invalid:
flag; missing, missing_id: keep. Invalid cells are always set to missing.

exit status: 0 when the file was processed (even with findings), 2 when it could not be used.
"""


def add_parser(sub) -> None:
    p = sub.add_parser(
        "validate", help="validate, clean and score a survey response file (CSV, Excel, SPSS)",
        description="Read a response file (CSV in UTF-8 or GBK, Excel .xlsx, SPSS .sav), map its columns to "
                    "the instrument (by id, a column map or the exported question text), remove personal "
                    "data, check every answer and write a validation report, the cleaned data and scores.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("responses", help="response file: .csv/.tsv/.txt/.dat, .xlsx, .sav or .parquet")
    p.add_argument("--instrument", "-i", required=True, help="instrument YAML, e.g. surveys/ecommerce_crm.yaml")
    p.add_argument("-o", "--out", default="reports/validation", help="output folder (default: %(default)s)")
    p.add_argument("--force", action="store_true", help="overwrite existing outputs in the folder")
    options.add_map_option(p, target="ID", meaning="an item, attention-check, demographic, personal-data, "
                                                   "respondent-id or duration id of the instrument",
                           example="--map Q1=PF1")
    g = options.add_intake_options(p, title="cleaning and privacy")
    g.add_argument("--pii-policy", choices=("pseudonymize", "drop"), default="pseudonymize",
                   help="for personal-data columns detected by name or content (default: %(default)s)")
    r = options.add_reading_options(p)
    r.add_argument("--na", action="append", default=[], metavar="TOKEN",
                   help="extra cell text meaning 'no answer' (e.g. -3 or 99), repeatable")
    options.add_deprecated(r, "--missing", new="--na TOKEN (validate fits no model: --missing ml|listwise "
                                                "belongs to fit, invariance and study)",
                           dest="na", metavar="TOKEN", append=True, transform=_token)
    c = p.add_argument_group("checks")
    c.add_argument("--min-seconds", type=float, help="speed check: absolute minimum duration "
                                                     "(default: the instrument's duration.min_seconds)")
    c.add_argument("--speed-ratio", type=float, default=1 / 3,
                   help="speed check: flag durations below this share of the median (default 1/3; 0 turns it off)")
    c.add_argument("--longstring", type=int, help="also flag N or more identical answers in a row")
    c.add_argument("--straight-min-share", type=float, default=0.5,
                   help="share of items that must be answered for straight-lining (default: %(default)s)")
    c.add_argument("--duplicates-on", choices=("all", "answers"), default="all",
                   help="duplicate rows compare all columns but the id (default) or only the answers")
    c.add_argument("--min-valid", type=float, default=0.5,
                   help="scores need at least this share of valid items per dimension (default: %(default)s)")
    c.add_argument("--allow-missing-items", action="store_true",
                   help="score from the items present instead of stopping when items have no column")
    p.set_defaults(func=run)


def _token(value: str) -> str:
    if value.strip().lower() in ("ml", "listwise"):
        raise ValueError(f"validate fits no model: --missing {value} belongs to fit, invariance and study; "
                         "to name a 'no answer' code here use --na TOKEN")
    return value


def run(args) -> int:
    from pathlib import Path

    from ..errors import ConfigError
    from ..instruments import load_instrument
    from ..responses import OUTPUT_FILES, prepare_responses, write_outputs

    intake = options.intake_options(args)
    if not 0 <= args.speed_ratio < 1:
        raise ConfigError("--speed-ratio", "", f"must be between 0 and 1, got {args.speed_ratio}",
                          hint="e.g. 0.333 for a third of the median; 0 turns the relative rule off")
    if not 0 < args.min_valid <= 1:
        raise ConfigError("--min-valid", "", f"must be a share in (0, 1], got {args.min_valid}")
    if not 0 < args.straight_min_share <= 1:
        raise ConfigError("--straight-min-share", "", f"must be a share in (0, 1], got {args.straight_min_share}")
    if args.longstring is not None and args.longstring < 2:
        raise ConfigError("--longstring", "", f"must be 2 or more, got {args.longstring}")
    out = Path(args.out)
    existing = [n for n in OUTPUT_FILES.values() if (out / n).exists()]
    if existing and not args.force:
        from ..errors import CRMResearchError

        raise CRMResearchError(f"{out}: would overwrite existing outputs {', '.join(existing)}",
                               hint="pass --force to overwrite, or choose another output folder (-o)")
    inst = load_instrument(args.instrument)
    rs = prepare_responses(
        args.responses, inst, column_map=options.column_map(args), map_label="--map", **intake,
        pii_policy=args.pii_policy, **options.reading_options(args),
        min_seconds=args.min_seconds, speed_ratio=args.speed_ratio or None,
        straight_min_share=args.straight_min_share, longstring=args.longstring,
        duplicate_columns=None if args.duplicates_on == "all" else "answers", missing_values=args.na,
        min_valid=args.min_valid, require_all_items=not args.allow_missing_items)
    paths = write_outputs(rs, out, force=args.force)
    _print_summary(rs, paths)
    return 0


def _print_summary(rs, paths) -> None:
    rep = rs.report
    print(rs.source.summary())
    for n in rs.mapping.notes:
        print(f"note: {n}")
    t = rs.mapping.table
    items = rs.mapping.expected[rs.mapping.expected.role == "item"]
    print(f"columns: {int(t.mapped_to.notna().sum())} of {len(t)} mapped; items {int(items.column.notna().sum())}"
          f"/{len(items)}; unmapped {len(rs.mapping.unmapped)}; ambiguous {len(rs.mapping.ambiguous)}")
    if not rs.privacy.table.empty:
        bits = [f"{r.column} ({r.kind}, {r.action})" for r in rs.privacy.table.itertuples(index=False)]
        print("personal data: " + "; ".join(bits))
    print(f"respondents: {rep.n_rows} read, {len(rs.data)} kept, {len(rs.excluded)} excluded; "
          f"findings: {rep.n_errors} errors, {rep.n_warnings} warnings")
    c = rep.counts
    c = c[c.severity != "info"]
    for r in c.itertuples(index=False):
        act = f"{r.dropped} dropped" if r.dropped else (f"{r.flagged} flagged" if r.flagged else "kept")
        print(f"  {r.check:<20} {r.findings:>5} findings  {r.respondents:>4} respondents  ({r.policy}: {act})")
    print(f"wrote {len(paths)} files to {paths['report_html'].parent}/ (open {paths['report_html'].name})")

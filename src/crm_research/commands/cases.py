"""``crm-research cases``: evaluate a case's strategies, or list the bundled cases."""
from __future__ import annotations

from . import options

# the fields each data table of a case knows (crm_research.cases.data documents them)
TABLE_FIELDS = {
    "customers": ("customer_id", "signup_date"),
    "orders": ("customer_id", "timestamp", "amount", "order_id", "session_id", "member_tier"),
    "sessions": ("customer_id", "start", "session_id", "converted", "duration", "rec_impressions", "rec_clicks"),
    "survey": ("customer_id", "timestamp", "satisfaction"),
}


def add_parser(sub) -> None:
    p = sub.add_parser(
        "cases", help="evaluate a case's strategies (before/after, A/B, DiD) or list the bundled cases",
        description="Evaluate every strategy of a case file on its KPIs with the case's comparison designs "
                    "(before/after, treated vs control, A/B test, difference-in-differences): the test that "
                    "fits each KPI, confidence intervals, effect sizes, multiple-testing correction, "
                    "identification checks and a verdict per strategy and KPI. Writes results.csv, "
                    "summary.txt, series.csv, event_study.csv, kpi_framework.csv and figures/ into OUTDIR.",
        epilog="examples:\n"
               "  crm-research cases --list\n"
               "  crm-research cases cases/r2_retention_strategies.yaml -o reports/cases/r2\n"
               "  crm-research cases r0_yuexuan_platform --seed 7 --write-data reports/yuexuan_data\n"
               "  crm-research cases my_case.yaml --map user_id=customer_id --map paid_at=timestamp\n\n"
               "column map (--map, repeatable; cases that read data files): a YAML file 'file column: field'\n"
               "or COLUMN=FIELD pairs, the same convention as every other verb; a pair applies to every data\n"
               "file of the case that has the column. Fields: customer_id, signup_date, the strategies'\n"
               "arm columns (customers); customer_id, timestamp, amount, order_id, session_id, member_tier\n"
               "(orders); customer_id, start, session_id, converted, duration, rec_impressions, rec_clicks\n"
               "(sessions); customer_id, timestamp, satisfaction or the satisfaction items (survey). It adds\n"
               "to the case file's data.columns.",
        formatter_class=__import__("argparse").RawDescriptionHelpFormatter)
    p.add_argument("case", nargs="?", help="case YAML file, or the id of a bundled case")
    p.add_argument("-o", "--out", help="output folder (default: reports/cases/<case id>)")
    p.add_argument("--force", action="store_true", help="overwrite results already in the output folder")
    p.add_argument("--list", action="store_true", help="list the bundled cases and exit")
    p.add_argument("--kpis", action="store_true", help="list the KPI vocabulary and exit")
    p.add_argument("--seed", type=int, help="simulated cases: use this seed instead of the case's")
    p.add_argument("--customers", type=int, help="simulated cases: number of customers")
    p.add_argument("--alpha", type=float, help="significance level (default: the case's, usually 0.05)")
    p.add_argument("--correction", choices=["holm", "bonferroni", "fdr_bh", "none"],
                   help="multiple-testing correction across KPIs (default: the case's, usually holm)")
    p.add_argument("--no-figures", action="store_true", help="skip the figures")
    p.add_argument("--write-data", metavar="DIR", help="also write the case's (simulated) data tables as CSV to DIR")
    p.add_argument("--currency", metavar="CODE",
                   help="currency of the amounts (e.g. USD, CNY, EUR); overrides the case file's currency:. "
                        "Without either, amounts are printed without a currency unit")
    options.add_salt_options(p)
    options.add_map_option(p, target="FIELD", meaning="a field of the case's data tables, e.g. customer_id, "
                                                      "timestamp, amount", example="--map user_id=customer_id")
    p.set_defaults(func=run)


def table_fields(case) -> dict[str, tuple[str, ...]]:
    """The fields each data table of ``case`` knows (with its arm columns and satisfaction items)."""
    arms = tuple(dict.fromkeys(s.arm_column for s in case.strategies))
    out = dict(TABLE_FIELDS)
    out["customers"] = TABLE_FIELDS["customers"] + arms
    out["survey"] = TABLE_FIELDS["survey"] + tuple(case.satisfaction_items)
    return out


def map_case_columns(case, spec):
    """The case with ``--map`` entries added to its ``data.columns`` (``{table: {field: column}}``), and notes.

    A pair applies to each data file whose header has the column (or, written FIELD=COLUMN,
    the column on the right) and whose table knows the field.
    """
    import dataclasses

    from ..errors import ConfigError
    from ..responses import parse_column_map, read_columns, resolve_column_map

    entries = parse_column_map(spec, label="--map")
    if not entries:
        return case, []
    if case.simulate is not None or not case.data:
        raise ConfigError("--map", "", f"case {case.id!r} simulates its data; a column map applies to cases "
                          "that read data files", hint="drop --map")
    fields = table_fields(case)
    headers = {}
    for t, path in case.data.items():
        try:
            headers[t] = read_columns(path)
        except Exception:   # e.g. .csv.gz: the case loader reads it and reports its own errors
            headers[t] = None
    columns = {t: dict(m) for t, m in case.columns.items()}
    notes: list[str] = []
    used = set()
    for t, head in headers.items():
        mine = [e for e in entries if (e.target in fields[t] and (head is None or e.column in head))
                or (e.column in fields[t] and head is not None and e.target in head)]
        if not mine:
            continue
        cmap, n = resolve_column_map(mine, head, fields[t], label="--map", file_what=str(case.data[t]),
                                     target_what="field", target_hint=f"{t} fields: {', '.join(fields[t])}")
        notes += [x for x in n if x not in notes]
        used |= {id(e) for e in mine}
        for col, fld in cmap.items():
            if fld is not None:
                columns.setdefault(t, {})[fld] = col
    for e in entries:
        if id(e) not in used:
            known = sorted({f for fs in fields.values() for f in fs})
            where = "; ".join(f"{t}: {', '.join(h[:12])}" for t, h in headers.items() if h)
            if e.target not in known and e.column not in known:
                raise ConfigError("--map", f"{e.column}={e.target or ''}", f"unknown field {e.target!r}",
                                  hint=f"fields: {', '.join(known)}")
            raise ConfigError("--map", f"{e.column}={e.target or ''}", "no data file of the case has this column",
                              hint=f"columns: {where}" if where else "check the column name")
    return dataclasses.replace(case, columns=columns), notes


def _list() -> int:
    from ..cases.definition import bundled_cases, cases_dir, load_case

    paths = bundled_cases()
    if not paths:
        print("no bundled cases found (set CRM_RESEARCH_CASES to a folder of case files)")
        return 1
    print(f"bundled cases in {cases_dir()}:")
    for p in paths:
        c = load_case(p)
        designs = sorted({d for s in c.strategies for d in s.designs})
        src = "simulated" if c.simulate is not None else "data files"
        print(f"  {c.id:<30} {c.subject['kind']:<8} {len(c.lifecycle)} stages, {len(c.strategies)} strategies, "
              f"{len(c.kpis)} KPIs; {', '.join(designs)}; {src}")
        print(f"  {'':<30} {c.name('en')}")
    return 0


def _kpis() -> int:
    from ..cases.vocabulary import KPIS

    for k in KPIS.values():
        print(f"  {k.id:<24} {k.zh:<10} {k.en:<36} {k.kind:<6} {k.numerator} / {k.denominator}")
    return 0


def run(args) -> int:
    from pathlib import Path

    from ..errors import CRMResearchError

    if args.list:
        return _list()
    if args.kpis:
        return _kpis()
    if not args.case:
        raise CRMResearchError("no case given", hint="crm-research cases CASE.yaml, or --list to see the bundled cases")

    from ..cases.definition import load_case
    from ..cases.evaluate import evaluate_case
    from ..cases.output import OUTPUT_FILES, write_evaluation

    import dataclasses

    from ..cases.vocabulary import check_currency
    from ..errors import ConfigError

    salt = options.salt_from_args(args)
    currency = None
    if args.currency is not None:
        try:
            currency = check_currency(args.currency, "--currency")
        except ValueError as e:
            raise ConfigError("--currency", args.currency, str(e).split(": ", 1)[1],
                              hint="e.g. --currency USD") from None
    case = load_case(args.case)
    if currency is not None:
        case = dataclasses.replace(case, currency=currency)
    case, notes = map_case_columns(case, options.column_map(args))
    for n in notes:
        print(f"note: {n}")
    out = Path(args.out) if args.out else Path("reports") / "cases" / case.id
    existing = [out / f for f in OUTPUT_FILES if (out / f).exists()]
    if existing and not args.force:  # check before the (slower) evaluation
        raise CRMResearchError(f"{out}: already holds results ({existing[0].name}); not overwritten",
                               hint="choose another folder with -o or pass --force")
    if args.write_data and case.simulate is None:
        raise CRMResearchError(f"{case.path}: --write-data applies to simulated cases; this case reads data files")
    ev = evaluate_case(case, seed=args.seed, customers=args.customers, alpha=args.alpha, correction=args.correction)
    paths = write_evaluation(ev, out, force=args.force, figures=not args.no_figures)
    if args.write_data:
        data, pnotes = ev.data.pseudonymized(salt)
        for n in pnotes:
            print(f"note: {n}")
        data_paths = data.write(args.write_data, overwrite=args.force)
        paths.update({f"data_{k}": v for k, v in data_paths.items()})
    print(ev.summary())
    print()
    for kind, path in paths.items():
        print(f"  {kind:<20} {path}")
    return 0

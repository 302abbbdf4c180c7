"""``crm-research kpi``: every KPI table and figure from an order log (and sessions)."""
from __future__ import annotations

# Light copy of crm_research.kpi.orders.POLICY_CHOICES (that module imports pandas, which
# --help must not pay for); tests/test_cli_consistency.py keeps the two equal.
PROBLEM_FLAGS = {
    "missing_value": ("error", "drop"),
    "bad_timestamp": ("error", "drop"),
    "bad_number": ("error", "drop"),
    "negative_amount": ("error", "drop", "keep"),
    "negative_value": ("error", "drop"),
    "duplicate_order_id": ("error", "drop", "keep"),
}


def add_parser(sub) -> None:
    p = sub.add_parser(
        "kpi", help="KPI tables and figures from an order log: retention, repurchase, activity, churn, RFM, lifecycle",
        description="Validate an order log (CSV or Parquet; optional session log), load it into DuckDB and write "
                    "every KPI table as CSV plus figures: cohort retention, repurchase, new vs returning "
                    "customers, activity (with --sessions), churn early-warning list, RFM segments, customer "
                    "lifecycle stages and transitions, product lifecycle stages.")
    p.add_argument("orders", help="order log: CSV or Parquet file (or a quoted glob such as 'data/*.parquet')")
    p.add_argument("--sessions", help="session log: customer_id, start, duration (seconds)[, page_views]")
    p.add_argument("--as-of", help="as-of date YYYY-MM-DD (default: date of the last order)")
    p.add_argument("--period", choices=["month", "week"], default="month", help="cohort/report period (default: month)")
    p.add_argument("-o", "--out", required=True, help="output folder for the CSV tables and PNG figures")
    p.add_argument("--force", action="store_true", help="write into a folder that already holds files")
    p.add_argument("--map", action="append", default=[], metavar="CANONICAL=COLUMN",
                   help="column map for the order file, e.g. --map customer_id=user_id --map timestamp=paid_at")
    p.add_argument("--session-map", action="append", default=[], metavar="CANONICAL=COLUMN",
                   help="column map for the session file")
    p.add_argument("--on-bad", choices=["error", "drop"], default="error",
                   help="policy for every kind of bad row (default: error)")
    for prob, choices in PROBLEM_FLAGS.items():
        p.add_argument(f"--on-{prob.replace('_', '-')}", choices=choices, default=None, dest=f"on_{prob}",
                       help=f"policy for {prob.replace('_', ' ')} rows (overrides --on-bad)")
    p.add_argument("--timestamp-format", help="strptime format when timestamps are not ISO 8601, e.g. '%%d/%%m/%%Y %%H:%%M'")
    p.add_argument("--timezone", default="UTC", help="zone that timestamps with a UTC offset are converted to (default: UTC)")
    p.add_argument("--delimiter", help="CSV delimiter (default: sniffed)")
    p.add_argument("--database", help="DuckDB database file to load into (default: in memory)")
    p.add_argument("--memory-limit", help="DuckDB memory limit, e.g. 4GB (spills to --temp-directory)")
    p.add_argument("--temp-directory", help="DuckDB spill folder")
    p.add_argument("--no-figures", action="store_true", help="write tables only")
    p.set_defaults(func=run)


def _parse_map(items, label):
    from ..errors import ConfigError

    out = {}
    for it in items:
        if "=" not in it:
            raise ConfigError("<command line>", label, f"{it!r} is not CANONICAL=COLUMN",
                              hint="e.g. --map customer_id=user_id")
        k, v = it.split("=", 1)
        out[k.strip()] = v.strip()
    return out


def run(args) -> int:
    from pathlib import Path

    from ..errors import ConfigError
    from ..kpi import KPIEngine, kpi_suite

    out = Path(args.out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())) and not args.force:
        raise ConfigError(str(out), "", "output folder exists and is not empty; refusing to overwrite",
                          hint="choose a new folder or pass --force")
    policy = {prob: (getattr(args, f"on_{prob}") or args.on_bad) for prob in PROBLEM_FLAGS}
    csv_options = {"delim": args.delimiter} if args.delimiter else None
    engine = KPIEngine.load(
        args.orders, args.sessions, database=args.database, columns=_parse_map(args.map, "--map"),
        session_columns=_parse_map(args.session_map, "--session-map"), policy=policy,
        timestamp_format=args.timestamp_format, timezone=args.timezone, csv_options=csv_options,
        memory_limit=args.memory_limit, temp_directory=args.temp_directory)
    with engine:
        for rep in engine.reports.values():
            print(rep.summary())
        suite = kpi_suite(engine, as_of=args.as_of, period=args.period)
        paths = suite.write(out, force=args.force, figures=not args.no_figures)
        for rep in engine.reports.values():
            stem = f"validation_{rep.table}"
            rep.counts.to_csv(out / f"{stem}_counts.csv", index=False)
            rep.issues.to_csv(out / f"{stem}_issues.csv", index=False)
    print(suite.summary())
    print(f"wrote {len(paths)} files to {out}")
    return 0

"""``crm-research kpi``: every KPI table and figure from an order log (and sessions)."""
from __future__ import annotations

import argparse

from . import options

EPILOG = """\
examples:
  crm-research kpi orders.csv -o reports/kpi
  crm-research kpi orders.csv --map user_id=customer_id --map paid_at=timestamp --map total=amount -o reports/kpi
  crm-research kpi 'data/orders_*.parquet' --sessions sessions.csv --session-map uid=customer_id -o reports/kpi
  crm-research kpi orders.csv --map columns.yaml -o reports/kpi
  crm-research kpi orders.csv --sessions sessions.csv --engine spark --spark-master 'local[4]' -o reports/kpi

engines (--engine): duckdb (default, embedded, needs nothing) or spark: the logs are validated as
always, then the KPIs run on Apache Spark (pip install 'crm-research[spark]'; Java 17). Local
mode by default (--spark-master 'local[*]'); on a cluster (--spark-master spark://HOST:7077, yarn,
k8s://...) the validated logs travel as Parquet through --spark-staging, a folder every executor
can read. --spark-conf KEY=VALUE passes Spark settings (e.g. spark.driver.memory=8g).

column maps (--map for the order file, --session-map for the session file; repeatable): a YAML
file 'file column: field' or COLUMN=FIELD pairs, the same convention as every other verb.
Fields: orders customer_id, timestamp, amount (required), order_id (generated when absent: 1, 2,
... by customer, timestamp and row, with a note), product_id, category, channel; sessions
customer_id, start, duration (required), page_views.  The older order FIELD=COLUMN (e.g. --map
customer_id=user_id) is still read, with a note.

logs as they come: the delimiter (comma, tab, semicolon, pipe, runs of blanks), a missing header
line and the date layout (ISO 8601, YYYYMMDD, YYYY/MM/DD, epoch seconds; else --timestamp-format)
are detected; exact copies of an earlier row are dropped and counted (--on-duplicate-row); $0
orders are orders; customer ids that look like personal data are replaced by salted HMAC
pseudonyms (--salt / --salt-file keep them stable and linkable to the survey):
  crm-research kpi CDNOW_master.txt --map date=timestamp --map dollar_value=amount \\
      --timestamp-format %Y%m%d -o reports/cdnow_kpi
"""

# Light copy of crm_research.kpi.engine.ENGINES (--help must not import pandas)
ENGINES = ("duckdb", "spark")

# Light copy of crm_research.kpi.orders.POLICY_CHOICES (that module imports pandas, which
# --help must not pay for); tests/test_cli_consistency.py keeps the two equal.
PROBLEM_FLAGS = {
    "missing_value": ("error", "drop"),
    "bad_timestamp": ("error", "drop"),
    "bad_number": ("error", "drop"),
    "negative_amount": ("error", "drop", "keep"),
    "negative_value": ("error", "drop"),
    "duplicate_row": ("drop", "keep", "error"),
    "duplicate_order_id": ("error", "drop", "keep"),
}


def add_parser(sub) -> None:
    p = sub.add_parser(
        "kpi", help="KPI tables and figures from an order log: retention, repurchase, activity, churn, RFM, lifecycle",
        description="Validate an order log (CSV or Parquet; optional session log), load it into DuckDB and write "
                    "every KPI table as CSV plus figures: cohort retention, repurchase, new vs returning "
                    "customers, activity (with --sessions), churn early-warning list, RFM segments, customer "
                    "lifecycle stages and transitions, product lifecycle stages.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("orders", help="order log: CSV or Parquet file (or a quoted glob such as 'data/*.parquet')")
    p.add_argument("--sessions", help="session log: customer_id, start, duration (seconds)[, page_views]")
    p.add_argument("--as-of", help="as-of date YYYY-MM-DD (default: date of the last order)")
    p.add_argument("--period", choices=["month", "week"], default="month", help="cohort/report period (default: month)")
    p.add_argument("-o", "--out", required=True, help="output folder for the CSV tables and PNG figures")
    p.add_argument("--force", action="store_true", help="write into a folder that already holds files")
    options.add_map_option(p, target="FIELD", meaning="a field of the order log: customer_id, order_id, "
                                                      "timestamp, amount, product_id, category, channel",
                           example="--map user_id=customer_id --map paid_at=timestamp")
    options.add_map_option(p, target="FIELD", meaning="a field of the session log: customer_id, start, duration, "
                                                      "page_views", example="--session-map uid=customer_id",
                           option="--session-map", dest="session_map")
    p.add_argument("--on-bad", choices=["error", "drop"], default="error",
                   help="policy for every kind of bad row (default: error)")
    for prob, choices in PROBLEM_FLAGS.items():
        if prob == "duplicate_row":
            p.add_argument("--on-duplicate-row", choices=choices, default=None, dest="on_duplicate_row",
                           help="exact copies of an earlier row: drop (default, counted in the report), keep "
                                "(they are separate orders) or error; --on-bad does not change it")
            continue
        p.add_argument(f"--on-{prob.replace('_', '-')}", choices=choices, default=None, dest=f"on_{prob}",
                       help=f"policy for {prob.replace('_', ' ')} rows (overrides --on-bad)")
    p.add_argument("--timestamp-format",
                   help="strptime format of the order dates, e.g. '%%Y%%m%%d' or '%%d/%%m/%%Y %%H:%%M' (default: "
                        "detected: ISO 8601, YYYYMMDD, YYYY/MM/DD, epoch seconds)")
    p.add_argument("--timezone", default="UTC", help="zone that timestamps with a UTC offset are converted to (default: UTC)")
    p.add_argument("--delimiter", help="delimiter of a text log: a character or 'whitespace' for runs of blanks "
                                       "(default: sniffed)")
    options.add_salt_options(p)
    p.add_argument("--database", help="DuckDB database file to load into (default: in memory)")
    p.add_argument("--memory-limit", help="memory for the KPI engine, e.g. 4GB: DuckDB runs under half of it "
                   "(spilling to --temp-directory), the arrays under a quarter")
    p.add_argument("--temp-directory", help="DuckDB spill folder")
    p.add_argument("--no-figures", action="store_true", help="write tables only")
    p.add_argument("--engine", choices=ENGINES, default="duckdb",
                   help="where the KPIs run: duckdb (default, embedded) or spark (needs crm-research[spark] and "
                        "Java 17)")
    p.add_argument("--spark-master", default="local[*]", metavar="URL",
                   help="Spark master with --engine spark: local[*] (default), local[N], spark://HOST:PORT, yarn ...")
    p.add_argument("--spark-conf", action="append", default=[], metavar="KEY=VALUE",
                   help="a Spark setting with --engine spark, e.g. spark.driver.memory=8g (repeatable)")
    p.add_argument("--spark-staging", metavar="DIR",
                   help="folder for handing the validated logs to Spark as Parquet; every executor must read "
                        "it (default: a temporary folder, local masters only)")
    p.set_defaults(func=run)


def spark_settings(pairs) -> dict:
    """``{key: value}`` from ``--spark-conf KEY=VALUE`` options."""
    from ..errors import ConfigError

    conf = {}
    for pair in pairs or []:
        key, sep, value = str(pair).partition("=")
        if not sep or not key.strip() or not value.strip():
            raise ConfigError("--spark-conf", "", f"{pair!r} is not KEY=VALUE", hint="e.g. --spark-conf spark.driver.memory=8g")
        conf[key.strip()] = value.strip()
    return conf


def _header(source, delimiter):
    """Column names of an order/session file (first file of a glob), or None when unknown."""
    import glob

    from ..errors import CRMResearchError
    from ..responses import read_columns

    paths = sorted(glob.glob(str(source))) if any(ch in str(source) for ch in "*?[") else [str(source)]
    if not paths:
        return None
    try:
        return read_columns(paths[0], delimiter=delimiter)
    except CRMResearchError:
        return None   # the loader reports an unreadable file with its own message


def table_columns(spec, source, fields, delimiter=None, label="--map"):
    """``{field: file column}`` for the KPI loader from a ``--map`` list, plus notes."""
    from ..responses import resolve_column_map

    if not spec:
        return {}, []
    cmap, notes = resolve_column_map(spec, _header(source, delimiter), fields, label=label,
                                     file_what=f"{source}", target_what="field",
                                     target_hint=f"fields: {', '.join(fields)}")
    return {t: c for c, t in cmap.items() if t is not None}, notes


def run(args) -> int:
    from pathlib import Path

    from ..errors import ConfigError
    from ..kpi import KPIEngine, kpi_suite
    from ..kpi.orders import ORDERS, SESSIONS

    out = Path(args.out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())) and not args.force:
        raise ConfigError(str(out), "", "output folder exists and is not empty; refusing to overwrite",
                          hint="choose a new folder or pass --force")
    policy = {prob: (getattr(args, f"on_{prob}") or args.on_bad) for prob in PROBLEM_FLAGS}
    policy["duplicate_row"] = args.on_duplicate_row or "drop"
    salt = options.salt_from_args(args)
    csv_options = {"delim": args.delimiter} if args.delimiter else None
    columns, notes = table_columns(options.column_map(args), args.orders, ORDERS.columns, args.delimiter)
    session_columns, snotes = ({}, []) if not args.sessions else table_columns(
        options.column_map(args, "session_map"), args.sessions, SESSIONS.columns, args.delimiter, "--session-map")
    if args.session_map and not args.sessions:
        raise ConfigError("--session-map", "", "there is no session file", hint="add --sessions FILE or drop --session-map")
    spark = {}
    if args.engine == "spark":
        spark = {"spark_master": args.spark_master, "spark_conf": spark_settings(args.spark_conf),
                 "spark_staging": args.spark_staging}
    else:
        given = [opt for opt, v in (("--spark-conf", args.spark_conf), ("--spark-staging", args.spark_staging),
                                    ("--spark-master", args.spark_master != "local[*]")) if v]
        if given:
            raise ConfigError(given[0], "", "is a Spark option and the engine is duckdb", hint="add --engine spark")
    for n in notes + snotes:
        print(f"note: {n}")
    engine = KPIEngine.load(
        args.orders, args.sessions, database=args.database, columns=columns,
        session_columns=session_columns, policy=policy,
        timestamp_format=args.timestamp_format, timezone=args.timezone, csv_options=csv_options, salt=salt,
        memory_limit=args.memory_limit, temp_directory=args.temp_directory, engine=args.engine, **spark)
    with engine:
        for rep in engine.reports.values():
            print(rep.summary())
        suite = kpi_suite(engine, as_of=args.as_of, period=args.period)
        paths = suite.write(out, force=args.force, figures=not args.no_figures)
        for rep in engine.reports.values():
            stem = f"validation_{rep.table}"
            rep.counts.to_csv(out / f"{stem}_counts.csv", index=False)
            rep.issues.to_csv(out / f"{stem}_issues.csv", index=False)
        # how the logs were read (duplicates dropped, generated order ids, pseudonyms) goes into the report
        with open(out / "summary.txt", "a", encoding="utf-8") as fh:
            fh.write("\nReading the logs:\n" + "\n".join(r.summary() for r in engine.reports.values()) + "\n")
    print(suite.summary())
    print(f"wrote {len(paths)} files to {out}")
    return 0

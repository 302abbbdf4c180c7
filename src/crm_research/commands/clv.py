"""``crm-research clv``: fit BG/NBD, Pareto/NBD and Gamma-Gamma to an order log; write CLV."""
from __future__ import annotations

import argparse
import re
from pathlib import Path

from . import options

MODEL_KEYS = {"bgnbd": "BG/NBD", "mbgnbd": "MBG/NBD", "pnbd": "Pareto/NBD"}
FIELDS = ("customer_id", "timestamp", "amount", "order_id")
EPILOG = """\
examples:
  crm-research clv tests/data/cdnow/CDNOW_sample.txt --calibration-end 1997-09-30 --observation-end 1998-06-30 \\
      -o reports/cdnow_clv
  crm-research clv orders.csv --map user_id=customer_id --map paid_at=timestamp --map total=amount \\
      --calibration-end 2024-06-30 -o reports/clv

  crm-research clv CDNOW_master.txt --map date=timestamp --map dollar_value=amount \
      --timestamp-format %Y%m%d --calibration-end 1997-09-30 -o reports/cdnow_master

column map (--map, repeatable): a YAML file 'file column: field' or COLUMN=FIELD pairs, the same
convention as every other verb; fields: customer_id, timestamp (order time), amount (optional:
without it only the purchase-count models are fitted), order_id (optional).  The older
--customer-col, --datetime-col and --amount-col still work (deprecated).

reading a log (CSV, whitespace-separated text, Parquet): the delimiter, a header line and the
date layout (ISO 8601, YYYYMMDD, YYYY/MM/DD, epoch seconds) are detected; exact copies of an
earlier row are dropped and counted (--on-duplicate-row keep|error); customer ids that look like
personal data (e-mail, phone, ID number) are replaced by salted HMAC pseudonyms (--salt).
"""
_CDNOW_LINE = re.compile(r"^\s*\d+\s+\d+\s+\d{8}\s+\d+\s+-?\d+(\.\d+)?\s*$")


def add_parser(sub) -> None:
    p = sub.add_parser(
        "clv", help="customer lifetime value: BG/NBD, Pareto/NBD, Gamma-Gamma from an order log",
        description="Build the RFM summary from raw orders (CSV, Parquet or the CDNOW text format), fit "
                    "the BG/NBD and Pareto/NBD purchase models and the Gamma-Gamma spend model by maximum "
                    "likelihood, and write parameter tables, per-customer P(alive) and CLV, and, with "
                    "--observation-end, the calibration/holdout check and tracking plots.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("orders", help="order file: .csv, .parquet, or CDNOW_sample.txt-style text")
    p.add_argument("--calibration-end", required=True, metavar="DATE",
                   help="last day (inclusive) of the calibration period, e.g. 1997-09-30")
    p.add_argument("--observation-end", metavar="DATE",
                   help="last day (inclusive) of the holdout period; enables the holdout check")
    p.add_argument("--freq", default="W", choices=["W", "D"], help="time unit: W weeks, D days (default: W)")
    p.add_argument("-o", "--out", required=True, metavar="OUTDIR", help="output folder")
    p.add_argument("--force", action="store_true", help="overwrite existing result files")
    options.add_map_option(p, target="FIELD", meaning="customer_id, timestamp or amount",
                           example="--map user_id=customer_id --map paid_at=timestamp")
    for old, field in (("--customer-col", "customer_id"), ("--datetime-col", "timestamp"), ("--amount-col", "amount")):
        options.add_deprecated(p, old, new=f"--map COLUMN={field}", dest="column_map", metavar="COLUMN", append=True,
                               transform=lambda col, field=field: f"{col}={field}")
    p.add_argument("--format", default="auto", choices=["auto", "csv", "parquet", "cdnow"],
                   help="input format (default: from the file name / first line; cdnow = the 5-column "
                        "CDNOW_sample.txt layout)")
    p.add_argument("--timestamp-format",
                   help="strptime format of the order dates, e.g. '%%Y%%m%%d' (default: detected: ISO 8601, "
                        "YYYYMMDD, YYYY/MM/DD, epoch seconds)")
    p.add_argument("--delimiter", help="delimiter of a text log: a character or 'whitespace' (default: sniffed)")
    p.add_argument("--on-bad", choices=["error", "drop"], default="error",
                   help="rows with a missing or unreadable value: error (default) or drop (counted)")
    p.add_argument("--on-duplicate-row", choices=["drop", "keep", "error"], default=None,
                   help="exact copies of an earlier row: drop (default, counted), keep (separate orders) or error; "
                        "in the 5-column CDNOW layout, where a line is a transaction, the default is keep")
    options.add_salt_options(p)
    p.add_argument("--models", nargs="+", default=["bgnbd", "mbgnbd", "pnbd"], choices=sorted(MODEL_KEYS),
                   help="purchase models to fit (default: bgnbd mbgnbd pnbd; BG/NBD gives every customer without "
                        "a repeat purchase P(alive) = 1, MBG/NBD and Pareto/NBD do not)")
    p.add_argument("--horizon", type=int, default=12, help="CLV horizon in months (default: 12)")
    p.add_argument("--discount-rate", type=float, default=0.01,
                   help="discount rate per month (default: 0.01)")
    p.set_defaults(func=run)


def _detect_format(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in (".parquet", ".pq"):
        return "parquet"
    with open(path, encoding="utf-8", errors="replace") as fh:
        first = fh.readline()
    if _CDNOW_LINE.match(first):
        return "cdnow"
    return "csv"


def load_orders(path: str, columns=None, fmt: str = "auto", *, timestamp_format=None, delimiter=None,
                on_bad: str = "error", on_duplicate_row: str | None = None, salt=None):
    """Read, validate and (if needed) pseudonymize an order log with the KPI loader.

    Returns the orders (``customer_id, timestamp`` and ``amount`` / ``order_id`` when mapped)
    and the loader's :class:`~crm_research.kpi.orders.ValidationReport`.
    """
    import duckdb

    from ..kpi.orders import PURCHASES, ingest

    p = Path(path)
    fmt = _detect_format(p) if fmt == "auto" and p.is_file() else fmt
    source = read_orders(path, "cdnow")[["customer_id", "timestamp", "amount"]] if fmt == "cdnow" else path
    if on_duplicate_row is None:   # CDNOW layout: one line per transaction, identical lines are purchases
        on_duplicate_row = "keep" if fmt == "cdnow" else "drop"
    policy = {k: on_bad for k in ("missing_value", "bad_timestamp", "bad_number", "negative_value")}
    policy.update(negative_amount="error" if on_bad == "error" else "drop", duplicate_row=on_duplicate_row,
                  duplicate_order_id="error" if on_bad == "error" else "drop")
    con = duckdb.connect()
    try:
        report = ingest(con, source, PURCHASES, columns=columns, policy=policy, timestamp_format=timestamp_format,
                        csv_options={"delim": delimiter} if delimiter else None, salt=salt)
        if fmt == "cdnow":
            report.file = str(path)
            if on_duplicate_row == "keep" and not report.counts.empty:
                report.notes.append("CDNOW layout: one line per transaction, so identical lines are separate "
                                    "purchases (as in the published analyses) and are kept")
        cols = [c for c in ("customer_id", "timestamp", "amount", "order_id") if c in report.columns]
        orders = con.execute(f"SELECT {', '.join(cols)} FROM purchases").df()
    finally:
        con.close()
    return orders, report


def read_orders(path: str, fmt: str = "auto"):
    """Read an order file into pandas (rows in file order, so errors can name the row)."""
    import duckdb

    from ..clv import read_cdnow
    from ..errors import DataFileError

    p = Path(path)
    if not p.exists():
        raise DataFileError(path, "file not found")
    if p.is_dir():
        raise DataFileError(path, "is a folder, expected an order file")
    fmt = _detect_format(p) if fmt == "auto" else fmt
    if fmt == "cdnow":
        return read_cdnow(p)
    con = duckdb.connect()
    try:
        reader = "read_parquet" if fmt == "parquet" else "read_csv"
        return con.execute(f"SELECT * FROM {reader}(?)", [str(p)]).fetchdf()
    except duckdb.Error as e:
        msg = str(e).strip().splitlines()[0]
        raise DataFileError(path, f"cannot be read as {fmt}: {msg}") from None
    finally:
        con.close()


def run(args) -> int:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    from .. import clv
    from ..clv.value import MONTH_LENGTH
    from ..errors import ConfigError
    from .kpi import table_columns

    out = Path(args.out)
    has_holdout = args.observation_end is not None
    targets = ["rfm_summary.csv", "parameters.csv", "fit_measures.csv", "customers.csv", "summary.txt"]
    if has_holdout:
        targets += ["calibration_holdout.csv", "calibration_holdout.png", "tracking.csv", "tracking.png"]
    if out.exists() and not out.is_dir():
        raise ConfigError(str(out), "", "exists and is not a folder", hint="choose another -o OUTDIR")
    existing = [t for t in targets if (out / t).exists()]
    if existing and not args.force:
        raise ConfigError(str(out / existing[0]), "", "exists; refusing to overwrite results",
                          hint="pass --force or choose another -o OUTDIR")

    salt = options.salt_from_args(args)
    spec, notes = table_columns(options.column_map(args), args.orders, FIELDS, args.delimiter)
    for n in notes:
        print(f"note: {n}")
    orders, report = load_orders(args.orders, spec, args.format, timestamp_format=args.timestamp_format,
                                 delimiter=args.delimiter, on_bad=args.on_bad,
                                 on_duplicate_row=args.on_duplicate_row, salt=salt)
    print(report.summary())
    has_amount = "amount" in orders.columns
    cal = clv.rfm_summary(orders, "customer_id", "timestamp", "amount" if has_amount else None,
                          calibration_end=args.calibration_end, observation_end=args.observation_end,
                          freq=args.freq, source=args.orders)
    fits = {}
    for key in dict.fromkeys(args.models):
        fits[key] = {"bgnbd": clv.fit_bgnbd, "mbgnbd": clv.fit_mbgnbd, "pnbd": clv.fit_pareto_nbd}[key](cal)
    spend_note = None
    if has_amount:
        gg = clv.fit_gamma_gamma(cal)
        if gg.n_zero_spend:
            spend_note = (f"Gamma-Gamma: {gg.n_zero_spend:,} customer(s) with repeat purchases but mean repeat "
                          f"spend 0 left out of the spend model (their orders count as purchases)")
    else:
        gg = None
        spend_note = ("Gamma-Gamma spend model skipped: the log has no amount column (map one with "
                      "--map COLUMN=amount); purchase-count models only, no CLV")
    if spend_note:
        print(f"note: {spend_note}")

    customers = cal[["customer_id", "frequency", "recency", "T"]
                    + (["monetary_value"] if has_amount else [])].copy()
    if gg is not None:
        customers["expected_spend"] = gg.conditional_expected_spend(cal).to_numpy()
    for key, fit in fits.items():
        if gg is not None:
            v = clv.customer_lifetime_value(fit, gg, cal, horizon=args.horizon, discount_rate=args.discount_rate)
            customers[f"p_alive_{key}"] = v["p_alive"].to_numpy()
            customers[f"expected_purchases_{key}"] = v["expected_purchases"].to_numpy()
            customers[f"clv_{key}"] = v["clv"].to_numpy()
        else:
            customers[f"p_alive_{key}"] = fit.p_alive(cal).to_numpy()
            customers[f"expected_purchases_{key}"] = fit.conditional_expected_purchases(
                args.horizon * MONTH_LENGTH[args.freq], cal).to_numpy()

    all_fits = list(fits.values()) + ([gg] if gg is not None else [])
    params = pd.concat([f.estimates for f in all_fits], ignore_index=True)
    measures = pd.DataFrame([{"model": f.model, **f.fit_measures, "converged": f.converged,
                              "warning": f.convergence_warning} for f in all_fits])

    out.mkdir(parents=True, exist_ok=True)
    cal.to_csv(out / "rfm_summary.csv", index=False)
    params.to_csv(out / "parameters.csv", index=False)
    measures.to_csv(out / "fit_measures.csv", index=False)
    customers.to_csv(out / "customers.csv", index=False)
    a = cal.attrs
    text = [f"crm-research clv: {args.orders}",
            f"orders {len(orders):,} from {a['first_order_day']} to {a['last_order_day']}; calibration ends "
            f"{a['calibration_end']}" + (f", holdout ends {a['observation_end']}" if has_holdout else "")
            + f"; time unit {a['freq']}",
            f"customers in the calibration cohort {len(cal):,}"
            + (f" ({a['n_customers_after_calibration']:,} later first-time buyers left out)"
               if a["n_customers_after_calibration"] else ""),
            f"customers in the log {orders['customer_id'].nunique():,}; rows read {report.rows_read:,}, "
            f"kept {report.rows_kept:,}",
            (f"CLV: {args.horizon} months, discount rate {args.discount_rate:g} per month" if gg is not None
             else f"expected purchases over {args.horizon} months (no CLV: no amount)"), ""]
    text += ["Reading the log:", report.summary(), ""]
    if spend_note:
        text += [f"Note: {spend_note}", ""]
    text += [f.summary() + "\n" for f in all_fits]
    if has_holdout:
        table = clv.calibration_holdout(list(fits.values()), cal)
        table.to_csv(out / "calibration_holdout.csv", index=False)
        ax = clv.plot_calibration_holdout(table)
        ax.figure.tight_layout()
        ax.figure.savefig(out / "calibration_holdout.png", dpi=150)
        plt.close(ax.figure)
        track = clv.repeat_purchase_tracking(orders, list(fits.values()), "customer_id", "timestamp",
                                             calibration_end=args.calibration_end,
                                             observation_end=args.observation_end, freq=args.freq,
                                             source=args.orders)
        track.to_csv(out / "tracking.csv", index=False)
        fig, axes = plt.subplots(1, 2, figsize=(12, 4.2))
        clv.plot_tracking(track, cumulative=False, ax=axes[0])
        clv.plot_tracking(track, cumulative=True, ax=axes[1])
        fig.tight_layout()
        fig.savefig(out / "tracking.png", dpi=150)
        plt.close(fig)
        wide = table.pivot_table(index="frequency_calibration", columns="series", values="holdout_purchases",
                                 observed=True)
        text += ["Calibration/holdout: mean repeat purchases in the holdout by calibration frequency",
                 wide.round(3).to_string(), ""]
    (out / "summary.txt").write_text("\n".join(text) + "\n", encoding="utf-8")

    for f in all_fits:
        print(f"{f.model:<12} " + "  ".join(f"{k}={v:.4f}" for k, v in f.params.items())
              + f"  logl={f.loglik:.2f}" + ("" if f.converged else "  (NOT CONVERGED)")
              + ("  (AT THE EDGE: " + ", ".join(f.at_edge) + ")" if f.converged and f.at_edge else ""))
    print(f"customers {len(cal):,}; results in {out}/")
    for t in targets:
        print(f"  {t}")
    return 0

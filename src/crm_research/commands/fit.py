"""``crm-research fit``: fit a lavaan-syntax SEM to a data file and print a paper-ready summary."""
from __future__ import annotations

import argparse

EPILOG = """\
examples:
  crm-research fit tests/reference/lavaan/hs_cfa.lav tests/reference/lavaan/HolzingerSwineford1939.csv
  crm-research fit model.lav survey.csv --bootstrap 1000 --seed 1 -o reports/estimates.csv
  crm-research fit cfa.lav hs.csv --group school --group-equal loadings --group-equal intercepts

The model file holds lavaan syntax (=~ ~ ~~ ~1 :=, labels, fixed values, NA*x).
Estimation is maximum likelihood as lavaan's sem() (listwise deletion, expected-information
standard errors); --bootstrap R switches to a nonparametric bootstrap of rows with percentile
and bias-corrected intervals.  Outputs: the summary on stdout; with -o, the estimates table
(CSV) and, next to it, <name>_fit.json with every fit measure (lavaan names).

exit status: 0 when the model was fitted (warnings are printed), 2 on errors.
"""


def add_parser(sub) -> None:
    p = sub.add_parser(
        "fit", help="fit a structural equation model (lavaan syntax) by ML with lavaan parity",
        description="Fit a lavaan-syntax structural equation model to a CSV/Excel data file and print fit "
                    "measures, warnings and estimates (with standardized solutions).",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", help="model file with lavaan syntax, e.g. model.lav")
    p.add_argument("data", help="data file: .csv/.tsv/.txt or .xlsx (one row per respondent)")
    p.add_argument("--bootstrap", type=int, metavar="R", help="bootstrap standard errors and CIs with R replicates")
    p.add_argument("--seed", type=int, help="seed of the bootstrap (same seed, same result)")
    p.add_argument("--jobs", type=int, help="worker processes for the bootstrap (default: all cores)")
    p.add_argument("--boot-ci", choices=("perc", "bca.simple"), default="perc",
                   help="bootstrap interval reported as ci.lower/ci.upper (default: %(default)s)")
    p.add_argument("--ci-level", type=float, default=0.95, help="confidence level (default: %(default)s)")
    p.add_argument("--group", help="column defining groups (multiple-group model)")
    p.add_argument("--group-equal", action="append", default=[], metavar="TYPE",
                   help="cross-group equality (lavaan group.equal): loadings, intercepts, means, regressions, "
                        "residuals, residual.covariances, lv.variances, lv.covariances; repeatable")
    p.add_argument("--engine", choices=("native", "semopy"), default="native",
                   help="optimizer for the point estimate (default: %(default)s)")
    p.add_argument("-o", "--out", help="write the estimates table to this CSV (and <name>_fit.json)")
    p.add_argument("--force", action="store_true", help="overwrite existing output files")
    p.set_defaults(func=run)


def _read_data(path):
    from pathlib import Path

    import pandas as pd

    from ..errors import DataFileError

    p = Path(path)
    if not p.exists():
        raise DataFileError(str(p), "file not found", hint="check the path")
    try:
        if p.suffix.lower() in (".xlsx", ".xls"):
            return pd.read_excel(p)
        sep = "\t" if p.suffix.lower() == ".tsv" else None
        return pd.read_csv(p, sep=sep, engine="python")
    except Exception as e:  # pandas raises many types for unreadable files
        raise DataFileError(str(p), f"cannot read the data ({e.__class__.__name__}: {e})",
                            hint="give a CSV with a header row, or an .xlsx file") from None


def run(args) -> int:
    import json
    import math
    from pathlib import Path

    from ..errors import ConfigError, DataFileError
    from ..sem import fit

    mpath = Path(args.model)
    if not mpath.exists():
        raise DataFileError(str(mpath), "model file not found", hint="give a file with lavaan syntax")
    model = mpath.read_text(encoding="utf-8")
    data = _read_data(args.data)
    out = fit_json = None
    if args.out:
        out = Path(args.out)
        fit_json = out.with_name(out.stem + "_fit.json")
        for f in (out, fit_json):
            if f.exists() and not args.force:
                raise ConfigError(str(f), "", "output file exists", hint="use --force to overwrite or choose another -o")
    kw = {}
    if args.bootstrap is not None:
        kw.update(se="bootstrap", bootstrap=args.bootstrap, seed=args.seed, n_jobs=args.jobs, boot_ci=args.boot_ci)
    res = fit(model, data, ci_level=args.ci_level, group=args.group, group_equal=args.group_equal,
              engine=args.engine, **kw)
    print(res.summary())
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        res.estimates.to_csv(out, index=False)
        fm = {k: (v if isinstance(v, float) and math.isfinite(v) else (None if isinstance(v, float) else v))
              for k, v in res.fit_measures.items()}
        fit_json.write_text(json.dumps({"fit_measures": fm, "warnings": res.warnings, "converged": res.converged,
                                        "nobs": res.nobs}, indent=2), encoding="utf-8")
        print(f"\nwrote {out} and {fit_json}")
    return 0

"""``crm-research fit``: fit a lavaan-syntax SEM to a data file and print a paper-ready summary."""
from __future__ import annotations

import argparse

from . import options

EPILOG = """\
examples:
  crm-research fit tests/reference/lavaan/hs_cfa.lav tests/reference/lavaan/HolzingerSwineford1939.csv
  crm-research fit model.lav survey.csv --missing listwise --bootstrap 1000 --seed 1 -o reports/estimates.csv
  crm-research fit cfa.lav hs.csv --group school --group-equal loadings --group-equal intercepts
  crm-research fit ops.lav export.xlsx --sheet 答卷数据 --instrument surveys/ecommerce_crm.yaml --map Q1=PF1
  crm-research fit model.lav data.csv --map answers.yaml --map "x 1=x1" --encoding gbk
  crm-research fit mobi.lav mobi.csv --estimator MLR
  crm-research fit bfi.lav bfi.csv --ordered all                 # WLSMV with thresholds, pairwise deletion

The model file holds lavaan syntax (=~ ~ ~~ ~1 :=, labels, fixed values, NA*x); UTF-8, UTF-8
with BOM and GBK are read.  Estimation is maximum likelihood as lavaan's sem() unless
--estimator says otherwise: MLM, MLMV, MLR (robust standard errors, scaled chi-square, robust
CFI/TLI/RMSEA), or WLSMV, DWLS, WLS, ULSMV, ULS with --ordered items (thresholds, polychoric
correlations); --se and --test take lavaan's values.  lavaan's rules apply and are checked
before fitting: ordered items need a least-squares estimator, --bootstrap needs ML, --missing
ml needs ML or MLR (ordered items: pairwise or listwise).  The summary names the estimation.

Data: CSV/TSV/TXT/DAT (UTF-8, BOM, GBK; comma, semicolon, tab, | or whitespace, detected),
Excel .xlsx (--sheet), SPSS .sav, Parquet.  Without --instrument only the model's variables
(and the --group column) are taken from the file; empty cells and NA, '.', n/a are missing.
With --instrument the responses are prepared as `crm-research validate` does (columns mapped,
personal data pseudonymized before anything else, answers checked, cleaning policies applied,
reverse-keyed items recoded) and the model is fitted to the kept respondents.

Missing answers (--missing): ml (default) fits by full-information ML, as lavaan's
missing = "ml": every row with at least one answer to a model variable is used; standard
errors from the observed information.  listwise uses complete rows only (lavaan's default,
expected information).  The summary says which was used and how many rows it used.  When no
model variable has a missing value both coincide and the complete-data fit is printed.
--bootstrap R (a nonparametric bootstrap of rows with percentile and bias-corrected
intervals) resamples the rows and refits each resample with the same treatment.

Outputs: the summary on stdout; with -o, the estimates table (CSV) and, next to it,
<name>_fit.json with every fit measure (lavaan names), the missing-data treatment and N.

exit status: 0 when the model was fitted (warnings are printed), 2 on errors.
"""


def add_parser(sub) -> None:
    p = sub.add_parser(
        "fit", help="fit a structural equation model (lavaan syntax) by ML with lavaan parity",
        description="Fit a lavaan-syntax structural equation model to a data file (CSV, Excel, SPSS, Parquet) and "
                    "print fit measures, warnings and estimates (with standardized solutions). Missing answers "
                    "are handled by full-information ML unless --missing listwise.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", help="model file with lavaan syntax, e.g. model.lav")
    p.add_argument("data", help="data file: .csv/.tsv/.txt/.dat, .xlsx, .sav or .parquet (one row per respondent)")
    options.add_missing_option(p)
    options.add_estimation_options(p)
    p.add_argument("--instrument", "-i", metavar="YAML",
                   help="instrument YAML: prepare the responses as `validate` does before fitting "
                        "(model variables are item ids)")
    options.add_map_option(p, target="ID", meaning="a variable of the model, or with --instrument an instrument "
                                                   "variable id", example="--map Q1=PF1")
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
    options.add_reading_options(p)
    options.add_intake_options(p)
    p.set_defaults(func=run)


def run(args) -> int:
    import json
    import math
    from pathlib import Path

    from ..errors import ConfigError, ModelError
    from ..responses import read_text
    from ..sem import estimation_label, fit

    syntax = read_text(args.model, what="model file")
    variables = options.observed_variables(syntax)
    out = fit_json = None
    if args.out:
        out = Path(args.out)
        fit_json = out.with_name(out.stem + "_fit.json")
        for f in (out, fit_json):
            if f.exists() and not args.force:
                raise ConfigError(str(f), "", "output file exists", hint="use --force to overwrite or choose another -o")
    data, lines = options.model_data(args, variables, args.group)
    missing, had_missing, notes = options.resolve_missing(args, data, variables, args.group)
    choice = options.estimation_choice(args, data, variables)
    est = choice.estimation
    kw = dict(est.fit_kwargs(variables))
    if not est.is_default:
        missing = choice.missing
        notes = notes + options.estimation_lines(choice)
    if args.bootstrap is not None and not est.allows_bootstrap:
        raise ConfigError("--bootstrap", "", f"bootstrap standard errors need --estimator ML (as lavaan), not "
                          f"{est.estimator}", hint="drop --bootstrap (the estimator's robust SEs are used)")
    if args.bootstrap is not None:
        kw.update(se="bootstrap", bootstrap=args.bootstrap, seed=args.seed, n_jobs=args.jobs, boot_ci=args.boot_ci)
    try:
        res = fit(syntax, data, ci_level=args.ci_level, group=args.group, group_equal=args.group_equal,
                  engine=args.engine, missing=missing if had_missing else "listwise", **kw)
    except ModelError as e:
        if missing == "ml" and "fixed exogenous" in e.message:
            raise ModelError(f"{args.data}: --missing ml: {e.message}",
                             hint="use --missing listwise (lavaan's default for models with exogenous observed "
                                  "covariates)") from None
        raise
    for line in lines + notes:
        print(line)
    print(options.describe_missing(missing, len(data), res.nobs, had_missing=had_missing))
    print(f"Estimation: {estimation_label(res)}")
    print()
    print(res.summary())
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        res.estimates.to_csv(out, index=False)
        fm = {k: (v if isinstance(v, float) and math.isfinite(v) else (None if isinstance(v, float) else v))
              for k, v in res.fit_measures.items()}
        fit_json.write_text(json.dumps({"fit_measures": fm, "warnings": res.warnings, "converged": res.converged,
                                        "nobs": res.nobs, "rows": len(data), "missing": missing,
                                        "estimator": getattr(res, "estimator", "ML"),
                                        "estimation": estimation_label(res),
                                        "missing_values": had_missing}, indent=2), encoding="utf-8")
        print(f"\nwrote {out} and {fit_json}")
    return 0

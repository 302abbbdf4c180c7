"""``crm-research pls``: estimate a PLS path model (PLS-SEM, as SmartPLS/ADANCO) from a data file and
print the reporting bundle of a PLS paper."""
from __future__ import annotations

import argparse

from . import options

EPILOG = """\
examples:
  crm-research pls ecsi.lav tests/data/ecsi/mobi.csv --bootstrap 5000 --seed 1
  crm-research pls model.lav export.xlsx --sheet Responses --instrument my_survey.yaml -o reports/pls
  crm-research pls model.lav survey.csv --scheme factorial --consistent --boot-ci bca

The model file holds lavaan-style syntax as cSEM reads it: `C =~ x1 + x2` a reflective construct
(mode A), `C <~ x1 + x2` a composite (mode B), `Y ~ X + M` the structural model, `X:M` an
interaction term, a construct measured by constructs a second-order construct (--higher-order),
`C =~ x` a single item.  `crm-research study INSTRUMENT DATA --method pls` writes the model of every
model an instrument declares and runs the whole PLS report instead.

PLS needs complete rows: --missing listwise (default) drops rows with a blank model variable,
mean replaces blanks by the column mean (as SmartPLS offers).  With --instrument the responses
are prepared as `crm-research validate` does (columns mapped, personal data pseudonymized first,
answers checked, cleaning policies applied, reverse-keyed items recoded).

Outputs: the summary on stdout (paths with bootstrap SE, t, p and CI, loadings, reliability,
HTMT, R2, f2, fit); with -o OUT, a folder of CSV tables (paths, weights, loadings, effects,
reliability, htmt, r2, f2, fit_measures) and the path diagram (diagram.svg).

exit status: 0 when the model was estimated, 2 on errors.
"""

#: Light copies of the library's choices (``--help`` imports nothing heavy; tests keep them equal).
SCHEMES = ("path", "centroid", "factorial")
BOOT_CI = ("perc", "bca")
SIGN_CHANGE = ("none", "individual", "construct")
HIGHER_ORDER = ("repeated_indicators", "two_stage", "embedded_two_stage")
TABLES = ("paths", "weights", "loadings", "effects", "reliability", "htmt", "r2", "f2", "fit_measures")


def add_parser(sub) -> None:
    p = sub.add_parser(
        "pls", help="estimate a PLS path model (PLS-SEM, SmartPLS/ADANCO parity) and print a paper-ready report",
        description="Estimate a PLS path model from a data file (CSV, Excel, SPSS, Parquet) as SmartPLS and ADANCO "
                    "do, with bootstrap intervals, and print paths, loadings, reliability, validity, R², f² and fit.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", help="model file with lavaan-style PLS syntax (=~ mode A, <~ mode B, ~), e.g. model.lav")
    p.add_argument("data", help="data file: .csv/.tsv/.txt/.dat, .xlsx, .sav or .parquet (one row per respondent)")
    e = p.add_argument_group("estimation")
    e.add_argument("--scheme", choices=SCHEMES, default="path", help="inner weighting scheme (default: %(default)s)")
    e.add_argument("--consistent", action="store_true", help="consistent PLS (PLSc) for the reflective constructs")
    e.add_argument("--bootstrap", type=int, default=0, metavar="N",
                   help="bootstrap resamples for SEs and intervals (default: %(default)s; papers report 5000)")
    e.add_argument("--seed", type=int, default=None, help="seed of the bootstrap")
    e.add_argument("--boot-ci", choices=BOOT_CI, default="perc", help="bootstrap interval (default: %(default)s)")
    e.add_argument("--ci-level", type=float, default=0.95, help="confidence level (default: %(default)s)")
    e.add_argument("--sign-change", choices=SIGN_CHANGE, default="none",
                   help="sign-change option of the bootstrap, as SmartPLS (default: %(default)s)")
    e.add_argument("--higher-order", choices=HIGHER_ORDER, default="repeated_indicators",
                   help="how second-order constructs are estimated (default: %(default)s)")
    e.add_argument("--missing", choices=("listwise", "mean"), default="listwise",
                   help="rows with blank model variables: dropped (default) or blanks replaced by the column mean")
    e.add_argument("--jobs", type=int, default=None, metavar="N",
                   help="worker processes of the bootstrap (results are the same for any number)")
    p.add_argument("--instrument", "-i", metavar="YAML",
                   help="instrument YAML: prepare the responses as `validate` does before estimating")
    options.add_map_option(p, target="ID", meaning="a variable of the model, or with --instrument an instrument "
                                                    "variable id")
    p.add_argument("-o", "--out", help="write the tables (CSV) and the path diagram (SVG) into this folder")
    p.add_argument("--force", action="store_true", help="overwrite existing output files")
    options.add_reading_options(p)
    options.add_intake_options(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from pathlib import Path

    from .. import pls
    from ..errors import ConfigError
    from ..methods import two_stage_option
    from ..responses import read_text

    syntax = read_text(args.model, what="model file")
    model = pls.parse_model(syntax)
    if args.bootstrap < 0 or args.bootstrap == 1:
        raise ConfigError("--bootstrap", "", f"expected 0 (no bootstrap) or at least 2 resamples, got {args.bootstrap}")
    if not 0 < args.ci_level < 1:
        raise ConfigError("--ci-level", "", f"expected a number between 0 and 1, got {args.ci_level}")
    two_stage = two_stage_option(args.higher_order, option="--higher-order")
    out = Path(args.out) if args.out else None
    if out is not None and not args.force:
        taken = [out / f"{t}.csv" for t in TABLES if (out / f"{t}.csv").exists()] + \
            [out / "diagram.svg"] * (out / "diagram.svg").exists()
        if taken:
            raise ConfigError(str(taken[0]), "", "output file exists", hint="use --force to overwrite or choose another -o")
    data, lines = options.model_data(args, list(model.indicators), None)
    res = pls.fit(model, data, scheme=args.scheme, consistent=args.consistent, bootstrap=args.bootstrap,
                  seed=args.seed, n_jobs=args.jobs, ci_level=args.ci_level, boot_ci=args.boot_ci,
                  sign_change=args.sign_change, missing=args.missing, two_stage=two_stage)
    for line in lines:
        print(line)
    used = "rows without a blank model variable" if args.missing == "listwise" else "rows, blanks replaced by column means"
    print(f"Missing answers: {args.missing}: N = {res.nobs} of {len(data)} {used}")
    print()
    print(res.summary())
    if out is not None:
        from ..pls.diagram import pls_diagram

        out.mkdir(parents=True, exist_ok=True)
        for t in TABLES:
            getattr(res, t).to_csv(out / f"{t}.csv", index=False)
        pls_diagram(res, engine="matplotlib").save(out / "diagram.svg", overwrite=True)
        print(f"\nwrote {len(TABLES)} tables and diagram.svg to {out}")
    return 0

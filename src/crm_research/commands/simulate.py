"""``crm-research simulate``: a synthetic survey sample from a population model."""
from __future__ import annotations

import argparse
import textwrap

from . import options

FORMATS = (".csv", ".xlsx", ".parquet")


def _share(text: str) -> float:
    try:
        x = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a share between 0 and 1 (e.g. 0.05), got {text!r}") from None
    if not 0.0 <= x <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a share between 0 and 1 (e.g. 0.05), got {text!r}")
    return x


def _count(text: str) -> int:
    try:
        x = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if x < 1:
        raise argparse.ArgumentTypeError(f"expected a positive whole number, got {text!r}")
    return x


def _mechanism(text: str) -> str:
    return {"mcar": "MCAR", "mar": "MAR"}.get(text.lower(), text.lower())


def _seed(text: str) -> int:
    try:
        x = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a non-negative whole number, got {text!r}") from None
    if x < 0:
        raise argparse.ArgumentTypeError(f"expected a non-negative whole number, got {text!r}")
    return x


def add_parser(sub) -> None:
    p = sub.add_parser(
        "simulate", help="simulate survey responses from a population model (YAML)",
        description=textwrap.fill(
            "Draw synthetic respondents from a population model (true loadings, factor correlations, "
            "structural paths, Likert thresholds) and write them shaped like a survey platform's export: "
            "respondent_id, duration_sec, the items with the attention check, demographics and fake "
            "contact fields. Same seed, same file, on any machine. Values not given on the command line "
            "come from the population file's 'defaults'.", 78),
        epilog="examples:\n"
               "  crm-research simulate surveys/ecommerce_crm_population.yaml -n 500 --seed 1 -o reports/sample.csv\n"
               "  crm-research simulate surveys/ecommerce_crm_population.yaml -n 2000 --seed 7 \\\n"
               "      --sim-missing MAR --sim-missing-rate .05 --careless .1 --no-pii -o reports/messy.xlsx\n"
               "  crm-research simulate surveys/ecommerce_crm_population.yaml -n 20000 --seed 1 \\\n"
               "      --careless 0 --sim-missing none --continuous -o reports/clean.parquet\n\n"
               "--sim-missing and --sim-missing-rate make blank answers in the simulated file (the older\n"
               "--missing and --missing-rate still work, deprecated: on the verbs that fit models --missing\n"
               "ml|listwise says how blank answers are analysed).",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("population", help="population-model YAML, e.g. surveys/ecommerce_crm_population.yaml")
    p.add_argument("-n", type=_count, default=None, help="number of respondents (default: the file's defaults.n)")
    p.add_argument("--seed", type=_seed, default=1, help="random seed (default: %(default)s)")
    p.add_argument("--sim-missing", dest="sim_missing", choices=["none", "MCAR", "MAR"], type=_mechanism,
                   default=None, help="mechanism that blanks simulated answers: none, MCAR, MAR (default: the file's)")
    p.add_argument("--sim-missing-rate", dest="sim_missing_rate", type=_share, default=None, metavar="SHARE",
                   help="expected share of simulated item answers left blank, e.g. .05")
    options.add_deprecated(p, "--missing", new="--sim-missing", dest="sim_missing", metavar="MECHANISM",
                           type=_mechanism, choices=["none", "MCAR", "MAR"])
    options.add_deprecated(p, "--missing-rate", new="--sim-missing-rate", dest="sim_missing_rate", metavar="SHARE",
                           type=_share)
    p.add_argument("--mar-driver", default=None, metavar="COLUMN",
                   help="observed column driving MAR missingness, e.g. age_band or LOY1 (default: the file's)")
    p.add_argument("--careless", type=_share, default=None, metavar="SHARE",
                   help="share of careless respondents (straight-liners, random responders, speeders, "
                        "attention-check failures), e.g. .05")
    p.add_argument("--careless-types", default=None, metavar="TYPES",
                   help="comma-separated subset of straightline,random,speeder,attention_fail")
    p.add_argument("--continuous", action="store_true",
                   help="write the continuous latent item responses instead of Likert points")
    p.add_argument("--no-pii", action="store_true", help="leave out the fake personal-data columns (phone, email)")
    p.add_argument("--no-demographics", action="store_true", help="leave out the demographic columns")
    p.add_argument("--truth", default=None, metavar="FILE",
                   help="also write the ground truth (careless type, latent scores, blanked answers) to FILE")
    p.add_argument("-o", "--out", required=True, metavar="FILE",
                   help="output file: .csv (UTF-8 with BOM, opens in Excel), .xlsx or .parquet")
    p.add_argument("--force", action="store_true", help="overwrite existing output files")
    p.set_defaults(func=run)


def run(args) -> int:
    from pathlib import Path

    from ..errors import ConfigError, CRMResearchError
    from ..simulate.survey import load_population, simulate_survey

    outs = [Path(args.out)] + ([Path(args.truth)] if args.truth else [])
    for out in outs:
        _check_target(out, args.force)
    if args.truth and Path(args.truth).resolve() == Path(args.out).resolve():
        raise CRMResearchError(f"{args.truth}: --truth must differ from --out")
    pop = load_population(args.population)
    try:
        sample = simulate_survey(
            pop, args.n, args.seed, missing=args.sim_missing, missing_rate=args.sim_missing_rate,
            careless=args.careless, careless_types=args.careless_types.split(",") if args.careless_types else None,
            likert=not args.continuous, include_demographics=not args.no_demographics,
            include_pii=not args.no_pii, mar_driver=args.mar_driver)
    except ValueError as e:  # argument combinations the population cannot honour
        raise ConfigError(args.population, "", str(e),
                          hint="check the command-line options against the population file's defaults") from None
    write_table(sample.responses, outs[0])
    print(sample.summary())
    print(f"  wrote {outs[0]}")
    if args.truth:
        write_table(sample.truth, outs[1])
        print(f"  wrote {outs[1]} (ground truth)")
    return 0


def _check_target(out, force: bool) -> None:
    from ..errors import DataFileError

    if out.suffix.lower() not in FORMATS:
        raise DataFileError(str(out), f"unknown output format {out.suffix or '(no extension)'!r}",
                            hint=f"name the file with one of {', '.join(FORMATS)}")
    if out.is_dir():
        raise DataFileError(str(out), "is a folder", hint="give a file name, e.g. reports/sample.csv")
    if out.exists() and not force:
        raise DataFileError(str(out), "already exists; not overwriting it",
                            hint="choose another file name or pass --force")


def write_table(df, out) -> None:
    """Write a DataFrame as .csv (UTF-8 with BOM), .xlsx or .parquet, creating folders."""
    out.parent.mkdir(parents=True, exist_ok=True)
    suffix = out.suffix.lower()
    tmp = out.with_name(f".{out.name}.partial")
    try:
        if suffix == ".csv":
            df.to_csv(tmp, index=False, encoding="utf-8-sig")
        elif suffix == ".xlsx":
            df.to_excel(tmp, index=False, engine="openpyxl")
        else:
            df.to_parquet(tmp, index=False)
        tmp.replace(out)  # never leave a half-written file under the real name
    finally:
        if tmp.exists():
            tmp.unlink()

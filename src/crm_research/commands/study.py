"""``crm-research study``: the whole survey study on a user's data, as one batch of reports."""
from __future__ import annotations

import argparse

EPILOG = """\
examples:
  crm-research study surveys/ecommerce_crm.yaml answers.csv -o reports/my-study
  crm-research study my_survey.yaml export.xlsx --sheet Responses --map Q1=SAT1 --groups gender -o reports/s
  crm-research study my_survey.yaml answers.csv --estimator MLR -o reports/robust
  crm-research study my_survey.yaml answers.csv --estimator auto -o reports/auto
  crm-research study my_survey.yaml answers.csv --ordered all -o reports/ordinal     # WLSMV, pairwise

runs (one HTML report each, in OUT/runs/<run>/):
  01-data-quality            instrument, validation, careless respondents, item distributions, missing answers
  02-measurement             measurement model: loadings, reliability, validity, common-method variance
  03-model-<model>           one per model declared under `models:` in the instrument: hypotheses,
                             indirect effects, mediation, relative effects where they apply
                             (--method cbsem or both)
  04-pls-<model>             one per model, estimated by PLS-SEM: reliability, validity, paths with
                             bootstrap intervals, R2, f2, PLS path diagram; with --method both the
                             hypotheses by CB-SEM and PLS side by side (--method pls or both)
  09-groups-<column>-<model> one per --groups column and model: measurement invariance, paths across groups

Before anything runs the inputs are checked: the instrument loads, the response file can be read
and mapped to it (the same reading, mapping and cleaning as `validate`), and every --groups column
is a demographic or another non-personal column of the file. OUT gets index.html (every run, its
status and headline figures), results.csv (key results of all runs), study.yaml (the batch config:
re-run it with `crm-research batch OUT/study.yaml --out OUT`) and one folder per run. Re-running
the same command reuses unchanged runs; a failed run does not stop the others.

Estimation (--estimator, --ordered, --se, --test; lavaan's names and rules): ML by default; MLR
gives robust standard errors, the Yuan-Bentler scaled chi-square and robust CFI/TLI/RMSEA and
works with full-information ML; --ordered all (or ITEM,ITEM) treats items as ordinal and fits
WLSMV (missing answers: pairwise unless --missing says otherwise); --estimator auto takes the
advice of the normality diagnostics (scale points, skewness, kurtosis, Mardia's test) shown in
01-data-quality.  Bootstrap intervals need ML (as lavaan): with another estimator --bootstrap
defaults to 0.  Every report names the estimation and shows the scaled/robust fit measures.

exit status: 0 when every run succeeded, 1 when a run failed, 2 when the inputs cannot be used.
"""


def add_parser(sub) -> None:
    from .options import add_estimation_options, add_intake_options, add_map_option, add_missing_option, \
        add_reading_options

    p = sub.add_parser(
        "study", help="run the whole survey study (data quality, measurement, every model, groups) as one batch",
        description="Run the survey notebooks on your responses as one batch of HTML reports: data quality, "
                    "measurement model, one structural-model report per model the instrument declares, and "
                    "group comparisons for the demographics named with --groups.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("instrument", help="instrument YAML (constructs, hypotheses, models)")
    p.add_argument("responses", help="response file: CSV/TSV/TXT, Excel .xlsx, SPSS .sav, Parquet")
    p.add_argument("-o", "--out", required=True, help="output folder (index.html, reports, results.csv)")
    p.add_argument("--groups", nargs="+", default=[], metavar="COLUMN",
                   help="compare groups of these demographics or columns (notebook 09, once per model)")
    add_map_option(p)
    add_reading_options(p)
    add_missing_option(p)
    a = add_estimation_options(p, title="estimation")
    a.add_argument("--bootstrap", type=int, default=None, metavar="N",
                   help="bootstrap resamples for the intervals of the structural models "
                        "(default: %(const)s with ML, 0 with other estimators; 0: normal-theory intervals)"
                        .replace("%(const)s", str(DEFAULT_BOOTSTRAP)))
    a.add_argument("--seed", type=int, default=20240501, help="seed of the bootstrap (default: %(default)s)")
    a.add_argument("--method", choices=("cbsem", "pls", "both"), default="cbsem",
                   help="estimate the structural models by CB-SEM (notebook 03), PLS-SEM (notebook 04) or both, "
                        "side by side (default: %(default)s)")
    add_intake_options(p, title="cleaning and personal data")
    b = p.add_argument_group("batch")
    b.add_argument("-w", "--workers", type=int, default=None, metavar="N",
                   help="parallel worker processes (default: number of cores)")
    b.add_argument("--force", action="store_true",
                   help="execute every run, even unchanged ones; take over a folder holding another batch's outputs")
    b.add_argument("--cold", action="store_true", help="start an ordinary kernel per run (no warm kernels)")
    b.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


#: Bootstrap resamples of the structural-model reports when --bootstrap is not given.
DEFAULT_BOOTSTRAP = 1000


def check_inputs(args) -> dict:
    """Load the instrument, prepare the responses once and check the group columns.

    Returns the keyword arguments of :func:`crm_research.study.plan_study` (plus ``summary``
    lines to print). Raises a CRMResearchError naming the file, column or option at fault.
    """
    from pathlib import Path

    from ..errors import ConfigError, DataFileError
    from ..instruments import load_instrument
    from ..responses import prepare_responses
    from ..study import StudySample, group_columns
    from .options import column_map, intake_options, reading_options

    ipath = Path(args.instrument).expanduser()
    inst = load_instrument(ipath)
    if not inst.models:
        raise ConfigError(str(ipath), "models", "the instrument declares no structural model",
                          hint="add a `models:` section (hypotheses per model) to run the structural reports")
    dpath = Path(args.responses).expanduser()
    if not dpath.exists():
        raise DataFileError(str(dpath), "file not found")
    if dpath.is_dir():
        raise DataFileError(str(dpath), "is a folder, expected a response file")
    if args.bootstrap is not None and (args.bootstrap < 0 or args.bootstrap == 1):
        raise ConfigError("--bootstrap", "", f"expected 0 (no bootstrap) or at least 2 resamples, got {args.bootstrap}")
    if args.workers is not None and args.workers < 1:
        raise ConfigError("--workers", "", f"expected a whole number >= 1, got {args.workers}")
    cmap = column_map(args)
    read = {k: v for k, v in reading_options(args).items() if v is not None}
    intake = intake_options(args)
    rs = prepare_responses(dpath, inst, column_map=cmap, map_label="--map", **read, **intake)
    sample = StudySample(responses=rs, instrument=inst, origin="file", data_file=dpath.resolve())
    if sample.n_kept == 0:
        raise DataFileError(str(dpath), f"no respondent is left after cleaning ({sample.n_rows} rows read)",
                            hint="run `crm-research validate` to see why respondents were excluded")
    from .options import estimation_choice, estimation_lines

    choice = estimation_choice(args, sample.items, list(sample.items.columns))
    est = choice.estimation
    if args.bootstrap and not est.allows_bootstrap:
        raise ConfigError("--bootstrap", "", f"bootstrap intervals need --estimator ML (as lavaan), not "
                          f"{est.estimator}", hint="drop --bootstrap (robust intervals are used) or use ML")
    allowed = group_columns(sample)
    for g in args.groups:
        if g not in allowed:
            pii = set(rs.privacy.table["column"]) if not rs.privacy.table.empty else set()
            why = ("is personal data (pseudonymized) and cannot define groups" if g in pii or g in inst.pii_columns
                   else "is an item, check or id column" if g in set(rs.data.columns) | set(rs.other.columns)
                   else "is neither a demographic of the instrument nor a column of the file")
            raise ConfigError("--groups", g, why, hint="usable: " + (", ".join(allowed) or "none"))
    policies = {}
    for p in intake["policies"]:
        k, _, v = str(p).partition("=")
        policies[k.strip()] = v.strip()
    sheet = read.get("sheet")
    plan_kw = dict(groups=list(args.groups), column_map=cmap, sheet=sheet, encoding=read.get("encoding"),
                   delimiter=read.get("delimiter"), policies=policies or None, **est.parameters())
    summary = [f"instrument {inst.id} {inst.version}: {len(inst.item_ids)} items, models "
               + ", ".join(inst.models),
               f"responses {dpath.name}: {sample.n_rows} rows, {sample.n_kept} kept, {sample.n_excluded} excluded; "
               f"full-information ML uses {sample.n_analysed('ml')}, listwise deletion "
               f"{sample.n_analysed('listwise')}",
               f"estimation: {est.describe()}; missing answers: {choice.missing_words}"]
    summary += [("  " if line.startswith("estimator auto") else "") + line for line in estimation_lines(choice)]
    return {"plan": plan_kw, "summary": summary, "salt": intake["salt"], "missing": choice.missing,
            "bootstrap_ok": est.allows_bootstrap}


def run(args) -> int:
    import os
    import sys
    from pathlib import Path

    import yaml

    from ..batch.runner import claim_out_dir, run_batch
    from ..batch.worker import skip_slow_format_checkers
    from ..study import SALT_ENV, plan_study

    skip_slow_format_checkers()
    checked = check_inputs(args)
    for line in checked["summary"]:
        print(line)
    out = Path(args.out).expanduser().resolve()
    out.mkdir(parents=True, exist_ok=True)
    missing = checked["missing"]
    bootstrap = int(args.bootstrap) if args.bootstrap is not None else (
        DEFAULT_BOOTSTRAP if checked["bootstrap_ok"] else 0)
    cfg = plan_study(args.instrument, args.responses, missing=missing, bootstrap=bootstrap, seed=args.seed,
                     name=out.name or "study", method=getattr(args, "method", "cbsem"), **checked["plan"])
    cfg_path = out / "study.yaml"
    for note in claim_out_dir(out, cfg["batch"], cfg_path, force=args.force):   # before study.yaml is written
        print(f"note: {note}")
    text = ("# Written by `crm-research study`: the batch of survey notebooks run for this study.\n"
            f"# Re-run: crm-research batch {cfg_path} --out {out}\n"
            + yaml.safe_dump(cfg, sort_keys=False, allow_unicode=True, width=110))
    if not cfg_path.exists() or cfg_path.read_text(encoding="utf-8") != text:
        cfg_path.write_text(text, encoding="utf-8")
    from ..batch.config import load_batch_config

    batch = load_batch_config(cfg_path)
    if checked["salt"]:
        os.environ[SALT_ENV] = checked["salt"]   # reaches the kernels, never the config or the index
    try:
        result = run_batch(batch, out=out, workers=args.workers, force=args.force, warm=not args.cold,
                           progress=not args.quiet and sys.stderr.isatty())
    except KeyboardInterrupt:
        print(f"interrupted: finished runs are kept; run the same command again to resume (output: {out})",
              file=sys.stderr)
        return 130
    finally:
        os.environ.pop(SALT_ENV, None)
    print(result.summary())
    index = out / "index.html"
    if index.exists():
        print(f"open in a browser: {index.as_uri()}")
    return result.exit_code

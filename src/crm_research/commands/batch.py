"""``crm-research batch``: run notebooks x parameter sets into HTML reports."""
from __future__ import annotations

EPILOG = """\
A batch config (YAML) lists runs: a notebook and its parameters, as an explicit list,
named sets or a grid (cartesian product), with shared defaults:

  batch: platforms
  defaults: {instrument_path: ../surveys/ecommerce_crm.yaml, seed: 1}
  runs:
    - notebooks: [01_measurement.ipynb, 03_ops_model.ipynb]
      sets: {A: {responses_path: ../data/a.csv}, B: {responses_path: ../data/b.csv}}
    - notebook: 01_instrument_and_data_quality.ipynb
      grid: {n: [250, 500, 1000]}

Parameters are checked against each notebook's parameters cell (names and types)
before anything runs; relative paths are resolved against the config's folder.
Outputs go to reports/<batch>/: index.html, one HTML report and executed notebook per
run, results.csv/.parquet (key results of all runs), manifest.json.

Re-running skips runs whose notebook, parameters, input files and package are
unchanged (--force runs everything); an interrupted batch resumes where it stopped.
An output folder belongs to one batch: another batch's folder is refused (--force
removes that batch's runs, results and index first; other files are left alone).
On a dask cluster (--scheduler tcp://HOST:PORT, or --executor dask for a local one)
each run takes its notebook and input files along (or reads them from a folder the
config lists under 'shared:'); outputs come back to --out. Workers need the same
crm-research installed; start them with `dask worker ADDRESS --nthreads 1`.
Exit code: 0 if every run succeeded, 1 if any failed, 2 for a configuration error.
"""


def add_parser(sub) -> None:
    import argparse

    p = sub.add_parser(
        "batch", help="run notebooks x parameter sets in parallel into HTML reports",
        description="Execute a batch of parameterized notebooks in parallel worker processes "
                    "and write HTML reports, an index page and a tidy table of key results.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("config", help="batch config YAML, e.g. notebooks/demo_batch.yaml")
    add_common_options(p)
    p.add_argument("--out", default=None,
                   help="output folder (default: the config's 'out', else reports/<batch>)")
    p.add_argument("--executor", choices=("local", "dask"), default=None,
                   help="where runs execute: local worker processes (default) or a dask.distributed "
                        "cluster (a local one of --workers processes unless --scheduler is given)")
    p.add_argument("--scheduler", default=None, metavar="tcp://HOST:PORT",
                   help="send the runs to the dask scheduler at this address (implies --executor dask); "
                        "inputs travel with the runs unless under a folder the config lists in 'shared'")
    p.set_defaults(func=run)


def add_common_options(p) -> None:
    """Options shared with ``crm-research demo``."""
    p.add_argument("-w", "--workers", type=int, default=None, metavar="N",
                   help="parallel worker processes (default: number of cores)")
    p.add_argument("--force", action="store_true",
                   help="execute every run, even unchanged ones; take over a folder holding another batch's outputs")
    p.add_argument("--show-code", action="store_true", help="show code cells in the HTML reports")
    p.add_argument("--only", nargs="+", metavar="RUN", help="execute only these runs")
    p.add_argument("--dry-run", action="store_true",
                   help="validate the config and list what would run, without running anything")
    p.add_argument("--cold", action="store_true",
                   help="start an ordinary kernel per run (no warm, preloaded kernels)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")


def run(args) -> int:
    return execute(args.config, args.out, args)


def execute(config_path, out, args) -> int:
    """Shared by ``batch`` and ``demo``: validate, (dry-)run, print the summary."""
    import sys
    from pathlib import Path

    from ..batch.worker import skip_slow_format_checkers

    skip_slow_format_checkers()  # this process is ours: no 3-second jsonschema extras
    from ..batch.config import load_batch_config
    from ..batch.runner import claim_out_dir, plan_batch, run_batch
    from ..errors import ConfigError

    if args.workers is not None and args.workers < 1:
        raise ConfigError("--workers", "", f"expected a whole number >= 1, got {args.workers}")
    scheduler = getattr(args, "scheduler", None)
    executor = getattr(args, "executor", None)
    if scheduler is not None and executor == "local":
        raise ConfigError("--executor", "", "--scheduler sends runs to a dask cluster; it cannot be combined "
                          "with --executor local", hint="drop one of the two options")
    executor = "dask" if scheduler is not None else (executor or "local")
    if executor == "dask":
        from ..batch.dask_executor import check_scheduler_address, require_distributed

        require_distributed("--scheduler" if scheduler else "--executor dask")
        if scheduler is not None:
            check_scheduler_address(scheduler)
    cfg = load_batch_config(config_path)
    if args.dry_run:
        plan = plan_batch(cfg, out=out, force=args.force, only=args.only)
        for note in claim_out_dir(plan.out_dir, cfg.name, cfg.path, force=args.force, dry_run=True):
            print(f"note: {note}")
        print(f"batch {cfg.name}: {len(cfg.runs)} runs -> {plan.out_dir}")
        for row in plan.rows:
            params = ", ".join(f"{k}={v!r}" for k, v in row["parameters"].items())
            print(f"  {row['action']:<8} {row['run']:<40} {row['notebook']}  {params}")
        return 0
    try:
        result = run_batch(cfg, out=out, workers=args.workers, force=args.force, show_code=args.show_code,
                           warm=not args.cold, progress=not args.quiet and sys.stderr.isatty(), only=args.only,
                           executor=executor, scheduler=scheduler)
    except KeyboardInterrupt:
        print(f"interrupted: finished runs are kept; run the same command again to resume "
              f"(output: {Path(out) if out else 'reports/' + cfg.name})", file=sys.stderr)
        return 130
    print(result.summary())
    return result.exit_code

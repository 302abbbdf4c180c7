"""``crm-research demo``: run the bundled demo batch into reports/demo/, then ``crm-research study``
on a synthetic sample of the bundled study into reports/demo/study/."""
from __future__ import annotations

import os
from pathlib import Path

DEMO_CONFIG = Path("notebooks") / "demo_batch.yaml"
#: The sample ``crm-research study`` analyses in the demo: drawn from the bundled population model.
STUDY_INSTRUMENT = Path("surveys") / "ecommerce_crm.yaml"
STUDY_POPULATION = Path("surveys") / "ecommerce_crm_population.yaml"
STUDY_SAMPLE = {"n": 500, "seed": 20240501}
# the simulated raw export the study step reads: an input (with the made-up contact columns a real
# export has, which the intake drops), kept out of the reports folder so that no output holds them
STUDY_SAMPLE_FILE = Path("data") / "demo" / "study_responses.csv"
#: Group comparisons run in the demo batch already (09 x 2); the demo study skips them to stay quick.
STUDY_GROUPS: tuple[str, ...] = ()
STUDY_BOOTSTRAP = 200
#: The demo study estimates every model by CB-SEM and PLS-SEM, side by side (notebooks 03 and 04).
STUDY_METHOD = "both"


def find_demo_config(start: str | os.PathLike | None = None) -> Path | None:
    """``notebooks/demo_batch.yaml`` in the current folder or a parent, else next to the
    package sources (editable install / source checkout)."""
    here = Path(start or os.getcwd()).resolve()
    for d in (here, *here.parents):
        if (d / DEMO_CONFIG).is_file():
            return d / DEMO_CONFIG
    src = Path(__file__).resolve().parents[3]  # src/crm_research/commands -> repository root
    if (src / DEMO_CONFIG).is_file():
        return src / DEMO_CONFIG
    return None


def add_parser(sub) -> None:
    from .batch import add_common_options

    p = sub.add_parser(
        "demo", help="run the demo batch and a whole study on synthetic samples into reports/demo",
        description="Run the bundled demo batch (notebooks/demo_batch.yaml): the survey notebooks on synthetic "
                    "samples, the cases, the KPI framework and CLV. Then simulate one more sample of the bundled "
                    "study (a response file with fake personal data) and run `crm-research study` on it, as a "
                    "user would on their own file. Writes reports/demo/index.html and reports/demo/study/index.html "
                    "with one HTML report per run; opens nothing. Re-running reuses unchanged runs.")
    add_common_options(p)
    p.add_argument("--config", default=None, help="use another batch config instead of notebooks/demo_batch.yaml")
    p.add_argument("--out", default=None, help="output folder (default: reports/demo next to notebooks/)")
    p.add_argument("--no-study", action="store_true", help="run only the demo batch, not `crm-research study`")
    p.set_defaults(func=run)


def write_study_sample(project: Path, path: Path) -> Path:
    """Simulate the demo study's response file (same seed, same bytes: a re-run reuses the study's runs)."""
    from ..simulate import simulate_survey

    sim = simulate_survey(project / STUDY_POPULATION, STUDY_SAMPLE["n"], STUDY_SAMPLE["seed"])
    text = sim.responses.to_csv(index=False, lineterminator="\n")
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")
    return path


def run(args) -> int:
    from ..errors import ConfigError
    from .batch import execute

    cfg = Path(args.config) if args.config else find_demo_config()
    if cfg is None:
        raise ConfigError(str(DEMO_CONFIG), "", "demo batch config not found here or in a parent folder",
                          hint="run from the crm-research repository, or pass --config")
    out = Path(args.out or str(cfg.resolve().parent.parent / "reports" / "demo"))
    code = execute(cfg, str(out), args)
    index = out / "index.html"
    if code in (0, 1) and index.exists() and not args.dry_run:
        print(f"open in a browser: {index.resolve().as_uri()}")
    if args.no_study or args.dry_run or args.only or code not in (0, 1):
        return code
    project = cfg.resolve().parent.parent
    if not (project / STUDY_POPULATION).is_file():
        print(f"note: {STUDY_POPULATION} not found next to {cfg}; `crm-research study` part skipped")
        return code
    return max(code, run_study(project, out / "study", args))


def run_study(project: Path, out: Path, args) -> int:
    """``crm-research study`` on a simulated response file of the bundled study."""
    from types import SimpleNamespace

    from . import study

    sample = write_study_sample(project, project / STUDY_SAMPLE_FILE)
    shown = sample.relative_to(project) if sample.is_relative_to(project) else sample
    groups = f" --groups {' '.join(STUDY_GROUPS)}" if STUDY_GROUPS else ""
    print(f"\ncrm-research study {STUDY_INSTRUMENT} {shown}{groups} --bootstrap {STUDY_BOOTSTRAP} --method {STUDY_METHOD} -o {out}")
    sargs = SimpleNamespace(instrument=str(project / STUDY_INSTRUMENT), responses=str(sample), out=str(out),
                            groups=list(STUDY_GROUPS), column_map=None, sheet=None, encoding=None, delimiter=None,
                            missing=None, bootstrap=STUDY_BOOTSTRAP, seed=STUDY_SAMPLE["seed"], policy=[], salt=None,
                            method=STUDY_METHOD,
                            salt_file=None, workers=args.workers, force=args.force, cold=args.cold, quiet=args.quiet)
    return study.run(sargs)

"""``crm-research demo``: run the bundled demo batch into reports/demo/."""
from __future__ import annotations

import os
from pathlib import Path

DEMO_CONFIG = Path("notebooks") / "demo_batch.yaml"


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
        "demo", help="run the demo batch (replication notebooks on synthetic samples) into reports/demo",
        description="Run the bundled demo batch (notebooks/demo_batch.yaml): the replication notebooks "
                    "on synthetic samples. Writes reports/demo/index.html and one HTML report per run; "
                    "opens nothing. Re-running reuses unchanged runs.")
    add_common_options(p)
    p.add_argument("--config", default=None, help="use another batch config instead of notebooks/demo_batch.yaml")
    p.add_argument("--out", default=None, help="output folder (default: reports/demo next to notebooks/)")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..errors import ConfigError
    from .batch import execute

    cfg = Path(args.config) if args.config else find_demo_config()
    if cfg is None:
        raise ConfigError(str(DEMO_CONFIG), "", "demo batch config not found here or in a parent folder",
                          hint="run from the crm-research repository, or pass --config")
    out = args.out or str(cfg.resolve().parent.parent / "reports" / "demo")
    code = execute(cfg, out, args)
    index = Path(out) / "index.html"
    if code in (0, 1) and index.exists() and not args.dry_run:
        print(f"open in a browser: {index.resolve().as_uri()}")
    return code

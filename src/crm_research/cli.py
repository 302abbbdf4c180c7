"""The ``crm-research`` command.

Each subcommand lives in its own module under :mod:`crm_research.commands` and defines
``add_parser(subparsers)`` and ``run(args) -> int``. Command modules import heavy
libraries only inside ``run`` so that ``crm-research --help`` answers at once.

Errors a user can cause (:class:`crm_research.errors.CRMResearchError`, missing files)
are printed as one line, ``error: ...``, with exit code 2; never a traceback.
Set ``CRM_RESEARCH_DEBUG=1`` to see the traceback anyway.
"""
from __future__ import annotations

import argparse
import importlib
import os
import sys

from . import __version__

# (module name under crm_research.commands) in the order --help lists them
COMMANDS = ["render", "simulate", "validate", "study", "fit", "demo", "batch", "kpi", "clv", "cases", "invariance"]

DESCRIPTION = """\
crm-research: reproducible CRM research on e-commerce platforms.

Typical first steps:
  crm-research render surveys/ecommerce_crm.yaml -o reports/instrument
  crm-research simulate surveys/ecommerce_crm_population.yaml -n 500 --seed 1 -o reports/sample.csv
  crm-research validate reports/sample.csv --instrument surveys/ecommerce_crm.yaml -o reports/validation
  crm-research study surveys/ecommerce_crm.yaml reports/sample.csv --groups platform -o reports/study
  crm-research demo
"""


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="crm-research", description=DESCRIPTION,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--version", action="version", version=f"crm-research {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        try:
            mod = importlib.import_module(f"crm_research.commands.{name}")
        except ModuleNotFoundError:
            continue  # command not installed in this version
        mod.add_parser(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    from .errors import CRMResearchError

    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return 1
    try:
        return int(args.func(args) or 0)
    except CRMResearchError as e:
        if os.environ.get("CRM_RESEARCH_DEBUG"):
            raise
        print(f"error: {e}", file=sys.stderr)
        return 2
    except (FileNotFoundError, IsADirectoryError, PermissionError) as e:
        if os.environ.get("CRM_RESEARCH_DEBUG"):
            raise
        print(f"error: {e.filename or ''}: {e.strerror or e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

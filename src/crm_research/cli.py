"""The ``crm-research`` command.

Each subcommand lives in its own module under :mod:`crm_research.commands` and defines
``add_parser(subparsers)`` and ``run(args) -> int``. Command modules import heavy
libraries only inside ``run`` so that ``crm-research --help`` answers at once.

Errors a user can cause (:class:`crm_research.errors.CRMResearchError`, missing or
unreadable files, text that is not in the expected encoding) are printed as one line,
``error: ...``, with exit code 2; never a traceback. Anything else is a bug: it is printed as
one line too, ``internal error: ...``, with exit code 70 (``EX_SOFTWARE``); the message names the
exception, so nothing is hidden but the traceback. ``--debug`` (anywhere on the command line)
or ``CRM_RESEARCH_DEBUG=1`` shows the traceback instead.

Output to a closed pipe (``crm-research fit ... | head``) ends the command quietly with exit
code 141 (128 + SIGPIPE), as Unix tools do.

Exit codes: 0 success, 1 a batch run failed (``batch``/``demo``/``study``) or nothing to do,
2 bad input or configuration, 70 internal error, 130 interrupted, 141 closed pipe.
"""
from __future__ import annotations

import argparse
import importlib
import os
import sys
from typing import Any

from . import __version__

# (module name under crm_research.commands) in the order --help lists them
COMMANDS = ["render", "simulate", "validate", "study", "fit", "pls", "demo", "batch", "kpi", "clv", "cases", "invariance"]

DESCRIPTION = """\
crm-research: reproducible CRM research on e-commerce platforms.

Typical first steps:
  crm-research render surveys/ecommerce_crm.yaml -o reports/instrument
  crm-research simulate surveys/ecommerce_crm_population.yaml -n 500 --seed 1 -o reports/sample.csv
  crm-research validate reports/sample.csv --instrument surveys/ecommerce_crm.yaml -o reports/validation
  crm-research study surveys/ecommerce_crm.yaml reports/sample.csv --groups platform -o reports/study
  crm-research demo
"""


DEBUG_HELP = "show the traceback of an error (also CRM_RESEARCH_DEBUG=1)"
#: Exit codes besides 0/1: bad input, internal error (sysexits EX_SOFTWARE), interrupted, closed pipe.
EXIT_INPUT, EXIT_INTERNAL, EXIT_INTERRUPTED, EXIT_PIPE = 2, 70, 130, 141
#: Longest message printed for an unexpected error (it may quote a data cell).
MESSAGE_LIMIT = 300


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="crm-research", description=DESCRIPTION,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--version", action="version", version=f"crm-research {__version__}")
    p.add_argument("--debug", action="store_true", help=DEBUG_HELP)
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        try:
            mod = importlib.import_module(f"crm_research.commands.{name}")
        except ModuleNotFoundError:
            continue  # command not installed in this version
        mod.add_parser(sub)
    for verb in {id(v): v for v in sub.choices.values()}.values():   # --debug after the verb too
        verb.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=DEBUG_HELP)
    return p


def main(argv: list[str] | None = None) -> int:
    """Run the ``crm-research`` command line; returns the exit code (see the module docstring).

    Examples
    --------
    >>> main(["render", "no/such/instrument.yaml", "-o", "unused"])
    2
    """
    try:
        code = _main(argv)
        sys.stdout.flush()   # a closed pipe shows here, not as "Exception ignored" at exit
        return code
    except BrokenPipeError:
        _silence_stdout()
        return EXIT_PIPE


def _debug(args: Any) -> bool:
    return bool(getattr(args, "debug", False) or os.environ.get("CRM_RESEARCH_DEBUG"))


def _one_line(text: str) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= MESSAGE_LIMIT else text[:MESSAGE_LIMIT] + f"… ({len(text)} characters)"


def _main(argv: list[str] | None) -> int:
    from .errors import CRMResearchError

    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return 1
    try:
        return int(args.func(args) or 0)
    except BrokenPipeError:
        raise
    except CRMResearchError as e:
        if _debug(args):
            raise
        print(f"error: {_one_line(str(e))}", file=sys.stderr)
        return EXIT_INPUT
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError) as e:
        if _debug(args):
            raise
        print(f"error: {e.filename or ''}: {e.strerror or e}", file=sys.stderr)
        return EXIT_INPUT
    except UnicodeError as e:   # a text file (model, YAML, data) in an encoding the reader did not expect
        if _debug(args):
            raise
        print(f"error: a file could not be read as {getattr(e, 'encoding', 'text')}: {_one_line(str(e))} "
              "(fix: save it as UTF-8, or pass --encoding where the command offers it)", file=sys.stderr)
        return EXIT_INPUT
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as e:   # last resort: a bug; one line naming it, the traceback with --debug
        if _debug(args):
            raise
        print(f"internal error in `crm-research {args.command}`: {type(e).__name__}: {_one_line(str(e))} "
              "(this is a bug; re-run with --debug to see the traceback and please report it)", file=sys.stderr)
        return EXIT_INTERNAL


def _silence_stdout() -> None:
    """After a closed pipe: point stdout at /dev/null so the interpreter's final flush is quiet."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):   # stdout without a file descriptor (tests)
        pass


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

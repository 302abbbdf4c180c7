"""``crm-research render``: codebook, questionnaire and lavaan syntax from an instrument."""
from __future__ import annotations


def add_parser(sub) -> None:
    p = sub.add_parser(
        "render", help="render an instrument: codebook, printable questionnaire, lavaan syntax",
        description="Validate an instrument YAML and write its codebook (CSV, Markdown), the "
                    "printable questionnaire (HTML: bilingual, Chinese, English) and lavaan syntax "
                    "for the measurement model and every structural model. Existing files (e.g. a "
                    "hand-edited .lav) are never overwritten without --force.")
    p.add_argument("instrument", help="instrument YAML, e.g. surveys/ecommerce_crm.yaml")
    p.add_argument("-o", "--out", default="reports/instrument", help="output folder (default: %(default)s)")
    p.add_argument("--force", action="store_true", help="overwrite existing output files")
    p.set_defaults(func=run)


def run(args) -> int:
    import os
    import tempfile
    from pathlib import Path

    from ..errors import ConfigError
    from ..instruments import load_instrument, render_instrument

    inst = load_instrument(args.instrument)
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise ConfigError(str(out), "", "output path exists and is not a folder", hint="choose another -o")
    out.mkdir(parents=True, exist_ok=True)
    # render next to the target first: the file names are known before anything is overwritten
    with tempfile.TemporaryDirectory(prefix=".render.", dir=out) as tmp:
        staged = render_instrument(inst, tmp)
        existing = sorted(p.name for p in staged.values() if (out / p.name).exists())
        if existing and not args.force:
            shown = ", ".join(existing[:4]) + (f" and {len(existing) - 4} more" if len(existing) > 4 else "")
            raise ConfigError(str(out), "", f"output files exist: {shown}",
                              hint="pass --force to overwrite them (hand edits are lost), or choose another -o")
        paths = {}
        for kind, p in staged.items():   # files were created with the user's umask; a rename keeps it
            os.replace(p, out / p.name)
            paths[kind] = out / p.name
    print(f"{inst!r}")
    for kind, path in paths.items():
        print(f"  {kind:<24} {path}")
    return 0


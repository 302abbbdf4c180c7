"""``crm-research render``: codebook, questionnaire and lavaan syntax from an instrument."""
from __future__ import annotations


def add_parser(sub) -> None:
    p = sub.add_parser(
        "render", help="render an instrument: codebook, printable questionnaire, lavaan syntax",
        description="Validate an instrument YAML and write its codebook (CSV, Markdown), the "
                    "printable questionnaire (HTML: bilingual, Chinese, English) and lavaan syntax "
                    "for the measurement model and every structural model.")
    p.add_argument("instrument", help="instrument YAML, e.g. surveys/ecommerce_crm.yaml")
    p.add_argument("-o", "--out", default="reports/instrument", help="output folder (default: %(default)s)")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..instruments import load_instrument, render_instrument

    inst = load_instrument(args.instrument)
    paths = render_instrument(inst, args.out)
    print(f"{inst!r}")
    for kind, path in paths.items():
        print(f"  {kind:<24} {path}")
    return 0

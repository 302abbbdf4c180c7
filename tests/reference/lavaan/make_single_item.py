"""Write the model files of the single-item references (lavaan syntax with the fixed error variances).

Usage (from the repository root):  python tests/reference/lavaan/make_single_item.py [--force]

A single-item construct F with item x is ``F =~ x`` plus ``x ~~ 0*x`` (error variance fixed to 0)
or ``x ~~ v*x`` with ``v = (1 - r) var(x)`` (sample variance, N - 1 denominator, over the
non-missing answers) when a reliability r is stated.  The numbers are written with 17
significant digits (``repr``), so lavaan fits exactly the model crm_research fits.  The
instrument-based file (eco_si_fiml.lav) comes from crm_research.instruments.structural_syntax,
so the reference also covers the syntax the instruments write.

* ``hs_si_zero.lav``: HolzingerSwineford1939.csv; ``speed`` measured by x7 alone (error variance 0),
  ``speed ~ visual + textual``.
* ``hs_si_rel80.lav``: the same with x7's error variance fixed to (1 - .80) var(x7).
* ``hs_si_restricted.lav``: hs_si_zero without the path ``speed ~ visual`` (nested in hs_si_zero: the
  chi-square difference test of lrt_hs_si.json).
* ``eco_si_fiml.lav``: eco_missing.csv by FIML (missing = "ml"); the bundled instrument's model "ops"
  with LOY measured by LOY1 alone at a stated reliability of .80 (LOY2, LOY3 left out).
* ``eco_si_fiml_partial.lav``: the same model's partial-mediation alternative (direct path LOY ~ OPS);
  lrt_eco_si_fiml.json is the FIML chi-square difference test of the two.

Deterministic: same data, same bytes.  Existing files are kept unless --force is given.
"""
from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import yaml

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]

HS_BASE = """visual =~ x1 + x2 + x3
textual =~ x4 + x5 + x6
speed =~ x7
{fix}
speed ~ {paths}
"""


def hs_models() -> dict[str, str]:
    hs = pd.read_csv(HERE / "HolzingerSwineford1939.csv")
    v = (1 - 0.80) * hs["x7"].var(ddof=1)
    return {
        "hs_si_zero": HS_BASE.format(fix="x7 ~~ 0*x7", paths="visual + textual"),
        "hs_si_rel80": HS_BASE.format(fix=f"x7 ~~ {float(v)!r}*x7", paths="visual + textual"),
        "hs_si_restricted": HS_BASE.format(fix="x7 ~~ 0*x7", paths="textual"),
    }


def eco_single_item_instrument():
    """The bundled instrument with LOY measured by LOY1 alone, reliability .80."""
    from crm_research.instruments import instrument_from_dict

    raw = yaml.safe_load((ROOT / "surveys" / "ecommerce_crm.yaml").read_text(encoding="utf-8"))
    loy = next(c for c in raw["constructs"] if c["id"] == "LOY")
    loy["items"] = loy["items"][:1]
    loy["reliability"] = 0.8
    return instrument_from_dict(raw, source="ecommerce_crm.yaml (LOY single item)")


def eco_models() -> dict[str, str]:
    from crm_research.instruments import structural_syntax

    data = pd.read_csv(HERE / "eco_missing.csv")
    inst = eco_single_item_instrument()
    return {"eco_si_fiml": structural_syntax(inst, "ops", data=data),
            "eco_si_fiml_partial": structural_syntax(inst, "ops", partial=True, data=data)}


def main(argv: list[str]) -> None:
    force = "--force" in argv
    for name, text in {**hs_models(), **eco_models()}.items():
        out = HERE / f"{name}.lav"
        if out.exists() and not force:
            continue
        out.write_text(text, encoding="utf-8")
        print("wrote", out.name)


if __name__ == "__main__":
    main(sys.argv[1:])

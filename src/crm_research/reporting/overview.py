"""Tables of what an instrument declares: constructs, hypotheses and structural models.

Examples
--------
>>> from crm_research.instruments import load_instrument
>>> from crm_research.reporting.overview import models_overview
>>> models_overview(load_instrument("surveys/ecommerce_crm.yaml")).model.tolist()
['ops', 'crm', 'combined']
"""
from __future__ import annotations

from typing import Any

import pandas as pd

from .narrative import text_of

__all__ = ["construct_overview", "hypotheses_overview", "models_overview"]


def construct_overview(instrument: Any, lang: str = "en") -> pd.DataFrame:
    """One row per construct: ``construct, name, level, measured_by`` (items, or dimensions of a
    higher-order construct) and ``items`` (their number; 1 marks a single-item construct)."""
    rows = []
    for c in instrument.constructs:
        higher = c.is_higher_order
        rows.append({"construct": c.id, "name": text_of(c.name, lang),
                     "level": "higher-order" if higher else "first-order",
                     "measured_by": ", ".join(c.dimensions) if higher else ", ".join(it.id for it in c.items),
                     "items": len(instrument.items_of(c.id))})
    return pd.DataFrame(rows, columns=["construct", "name", "level", "measured_by", "items"])


def hypotheses_overview(instrument: Any, lang: str = "en") -> pd.DataFrame:
    """One row per hypothesis: ``hypothesis, path, expected, models, statement``."""
    rows = []
    for h in instrument.hypotheses:
        models = [m for m, spec in instrument.models.items() if h.id in spec.hypotheses]
        rows.append({"hypothesis": h.id, "path": f"{h.rhs} \u2192 {h.lhs}",
                     "expected": "+" if h.sign == "positive" else "\u2212", "models": ", ".join(models),
                     "statement": text_of(h.text, lang)})
    return pd.DataFrame(rows, columns=["hypothesis", "path", "expected", "models", "statement"])


def models_overview(instrument: Any, lang: str = "en") -> pd.DataFrame:
    """One row per structural model: ``model, title, hypotheses, indirect`` (declared indirect
    effects as ``X → M → Y``)."""
    rows = []
    for name, spec in instrument.models.items():
        rows.append({"model": name, "title": text_of(spec.title, lang), "hypotheses": ", ".join(spec.hypotheses),
                     "indirect": "; ".join(f"{i['from']} \u2192 {i['via']} \u2192 {i['to']}" for i in spec.indirect)})
    return pd.DataFrame(rows, columns=["model", "title", "hypotheses", "indirect"])

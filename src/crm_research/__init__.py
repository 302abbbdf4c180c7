"""crm-research: reproducible CRM research on e-commerce platforms.

Submodules are imported lazily so that ``import crm_research`` and the CLI stay fast;
import what you need, e.g. ``from crm_research import instruments, sem``.
"""
from __future__ import annotations

import importlib

__version__ = "0.1.0"

_SUBMODULES = {
    "batch", "cases", "clv", "cli", "errors", "estimation", "hypotheses", "instruments", "invariance", "kpi",
    "measurement", "methods", "normality", "path_diagram", "pls", "privacy", "reporting", "responses", "schema",
    "sem", "simulate", "study",
}


def __getattr__(name: str):
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = sorted(_SUBMODULES | {"__version__"})

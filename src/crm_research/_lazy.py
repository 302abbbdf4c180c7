"""Lazy re-exports for subpackages: names resolve to their submodule on first use, so
importing a package (e.g. by the CLI) costs nothing until a function is called.

(scientific-python's ``lazy_loader`` does the same; not worth a dependency for this.)
"""
from __future__ import annotations

import importlib
from typing import Callable, Mapping


def lazy_exports(package: str, where: Mapping[str, str]) -> tuple[Callable, Callable, list[str]]:
    """Return ``(__getattr__, __dir__, __all__)`` for ``package`` exporting each name in
    ``where`` from the submodule it maps to (``{"load": "engine"}``)."""

    def __getattr__(name: str):
        mod = where.get(name)
        if mod is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(f"{package}.{mod}"), name)

    def __dir__() -> list[str]:
        return sorted(set(where) | set(vars(importlib.import_module(package))))

    return __getattr__, __dir__, sorted(where)

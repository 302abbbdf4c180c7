"""Run notebooks x parameter sets as a batch of reproducible HTML reports.

    from crm_research.batch import run_batch
    result = run_batch("notebooks/demo_batch.yaml", workers=2)
    print(result.summary())          # or: crm-research batch notebooks/demo_batch.yaml

Modules: :mod:`.config` (batch YAML: parse, expand, check parameters), :mod:`.runner`
(execution, skip / resume, outputs), :mod:`.kernels` (warm, preloaded kernels),
:mod:`.worker` (worker processes), :mod:`.index` (index.html and the results table).
"""
from __future__ import annotations

import importlib

_EXPORTS = {
    "load_batch_config": "config", "BatchConfig": "config", "RunSpec": "config",
    "notebook_parameters": "config", "expand_grid": "config", "parameters_source": "config",
    "run_batch": "runner", "plan_batch": "runner", "BatchResult": "runner", "BatchPlan": "runner",
    "run_key": "runner",
}


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = sorted(_EXPORTS)

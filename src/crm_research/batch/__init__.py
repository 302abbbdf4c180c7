"""Run notebooks x parameter sets as a batch of reproducible HTML reports.

    from crm_research.batch import run_batch
    result = run_batch("notebooks/demo_batch.yaml", workers=2)
    print(result.summary())          # or: crm-research batch notebooks/demo_batch.yaml

Modules: :mod:`.config` (batch YAML: parse, expand, check parameters), :mod:`.runner`
(the batch: skip / resume, outputs), :mod:`.execution` (one run executed in a process),
:mod:`.kernels` (warm, preloaded kernels), :mod:`.worker` (worker processes), :mod:`.dask_executor`
(runs on a dask.distributed cluster), :mod:`.index` (index.html and the results table).
"""
from __future__ import annotations

from .._lazy import lazy_exports

_EXPORTS = {
    "load_batch_config": "config", "BatchConfig": "config", "RunSpec": "config",
    "notebook_parameters": "config", "expand_grid": "config", "parameters_source": "config",
    "run_batch": "runner", "plan_batch": "runner", "BatchResult": "runner", "BatchPlan": "runner",
    "run_key": "runner", "claim_out_dir": "runner",
}

__getattr__, __dir__, __all__ = lazy_exports(__name__, _EXPORTS)

"""Run a benchmark's baseline (another library, another tool) so that its failure is reported,
not fatal: ``baseline failed: <what>: <why>`` is printed and the benchmark goes on.

Only the *baseline* is guarded: a failure of crm-research itself still fails the benchmark.
"""
from __future__ import annotations

import subprocess
from typing import Any, Callable


def run_baseline(label: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """``fn(*args, **kwargs)``, or None after printing ``baseline failed: label: reason``."""
    try:
        return fn(*args, **kwargs)
    except KeyboardInterrupt:
        raise
    except BaseException as e:  # noqa: BLE001 - any failure of a third-party baseline, SystemExit included
        print(f"baseline failed: {label}: {reason(e)}", flush=True)
        return None


def reason(e: BaseException) -> str:
    """One line: the exception's type and message (the last stderr line of a failed subprocess)."""
    if isinstance(e, subprocess.CalledProcessError):
        lines = [ln for ln in (e.stderr or "").strip().splitlines() if ln.strip()]
        return lines[-1] if lines else f"exit status {e.returncode}"
    msg = " ".join(str(e).split())
    return f"{type(e).__name__}: {msg[:300]}" if msg else type(e).__name__

"""Batch runs on a ``dask.distributed`` cluster: the runs travel, the outputs come back.

:func:`~crm_research.batch.runner.run_batch` with ``scheduler="tcp://host:8786"`` (an
existing cluster) or ``executor="dask"`` (a local cluster of ``workers`` processes) hands
each run to :class:`DaskPool` instead of the local worker processes. Everything else is the
runner's: parameter checks before anything runs, content-hash skip / resume, the
manifest, ``results.csv`` and ``index.html`` are written on this machine, in ``--out``.

What a run takes with it (:func:`pack_inputs`): the notebook, the ``.py`` files next to it
(its helper modules: the notebook's folder is on the kernel's import path) and every input
file or folder its parameters name, each shipped once per batch however many runs use it
(content-addressed). Inputs under a folder the config lists in ``shared:`` (a file system
every worker mounts at the same path) are not shipped; workers read them in place.

On a worker (:func:`_run_on_worker`): an input whose path exists there with the same content
(a shared file system, or a local cluster) is used in place, so the executed notebook is
the one the local runner would produce; otherwise it is written to a staging folder and the
run's parameters point there. The run executes with the same code as locally
(:class:`~crm_research.batch.execution.RunExecutor`: fresh kernel, personal-data guard,
failure located by cell and line) into a scratch output folder; its ``runs/<run>`` or
``failed/<run>`` folder comes back as a tar archive and :func:`place_result` moves it into
``--out`` the way the local runner does (a failure never replaces the previous good output).

A worker runs one notebook at a time (runs of one worker process are serialised). It must
have the client's crm-research version (else its runs fail, saying so); a worker whose
source files differ from the client's (the run key hashes them) runs, with a note in the
run's record.
"""
from __future__ import annotations

import hashlib
import io
import os
import re
import shutil
import tarfile
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Callable

from ..errors import ConfigError

INSTALL_HINT = "install it with: pip install 'crm-research[dask]' (or pip install 'dask[distributed]')"
_SCHEDULER_RE = re.compile(r"^(tcp|tls|ucx|inproc|ws|wss)://[^\s/:]+(:\d{1,5})?$|^(tcp|tls|ws|wss)://\[[0-9a-fA-F:]+\](:\d{1,5})?$")


def require_distributed(option: str = "--executor dask") -> Any:
    """Import ``dask.distributed`` or raise a :class:`~crm_research.errors.ConfigError` saying
    how to install it.

    Examples
    --------
    >>> import importlib.util
    >>> importlib.util.find_spec("distributed") is None or require_distributed().__name__ == "distributed"
    True
    """
    try:
        import distributed
    except ImportError:
        raise ConfigError(option, "", "dask.distributed is not installed", hint=INSTALL_HINT) from None
    return distributed


def check_scheduler_address(address: str) -> str:
    """Validate a scheduler address such as ``tcp://10.0.0.5:8786``.

    Examples
    --------
    >>> check_scheduler_address("tcp://127.0.0.1:8786")
    'tcp://127.0.0.1:8786'
    >>> try:
    ...     check_scheduler_address("127.0.0.1:8786")
    ... except ConfigError as e:
    ...     print(e.message.split(": ", 1)[1])
    expected a scheduler address like tcp://HOST:PORT, got '127.0.0.1:8786'
    """
    if not isinstance(address, str) or not _SCHEDULER_RE.match(address.strip()):
        raise ConfigError("--scheduler", "", f"expected a scheduler address like tcp://HOST:PORT, got {address!r}",
                          hint="the address `dask scheduler` prints, e.g. tcp://10.0.0.5:8786")
    return address.strip()


# --------------------------------------------------------------------------- packing (client side)
def _sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _tar_folder(folder: Path) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for p in sorted(folder.rglob("*")):
            tar.add(str(p), arcname=p.relative_to(folder).as_posix(), recursive=False)
    return buf.getvalue()


def _under(path: Path, roots: list[Path]) -> bool:
    return any(path == r or r in path.parents for r in roots)


def pack_inputs(task: dict[str, Any], shared: list[Path],
                cache: dict[str, tuple[str, bytes]] | None = None) -> list[tuple[str, str, bytes]]:
    """The files a run takes to a worker: ``(absolute path, "file" | "dir", content)`` for its
    notebook, the ``.py`` files next to the notebook and every input not under ``shared``
    (``cache``: path -> (kind, content) already read for other runs of the batch).

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     nb = Path(tmp, "a.ipynb"); _ = nb.write_text("{}")
    ...     data = Path(tmp, "data.csv"); _ = data.write_text("x\\n1\\n")
    ...     files = pack_inputs({"notebook": str(nb), "input_paths": [str(data)]}, shared=[])
    ...     [(Path(p).name, kind, len(b)) for p, kind, b in files]
    [('a.ipynb', 'file', 2), ('data.csv', 'file', 4)]
    """
    nb = Path(task["notebook"])
    paths = [nb] + sorted(p for p in nb.parent.glob("*.py") if p.is_file())
    for p in task.get("input_paths", []):
        p = Path(p)
        if p not in paths and not _under(p, shared):
            paths.append(p)
    cache = {} if cache is None else cache
    out = []
    for p in paths:
        key = str(p)
        if key not in cache:
            if p.is_dir():
                cache[key] = ("dir", _tar_folder(p))
            elif p.is_file():
                cache[key] = ("file", p.read_bytes())
            else:
                continue
        out.append((key, *cache[key]))
    return out


# --------------------------------------------------------------------------- staging (worker side)
def _same_content(path: Path, kind: str, data: bytes) -> bool:
    try:
        if kind == "file":
            return path.is_file() and path.stat().st_size == len(data) and path.read_bytes() == data
        return path.is_dir() and _tar_folder(path) == data
    except OSError:
        return False


def stage_inputs(files: list[tuple[str, str, bytes]], root: Path) -> dict[str, str]:
    """Make a run's files available on this machine: a path that exists here with the same
    content is used as it is; any other is written under ``root`` (mirroring its absolute
    path). Returns ``{original path: staged path}`` for the staged ones.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     here = Path(tmp, "here.txt"); _ = here.write_text("same")
    ...     moved = stage_inputs([(str(here), "file", b"same"), ("/nowhere/in.txt", "file", b"data")], Path(tmp, "st"))
    ...     [Path(v).read_text() for v in moved.values()], str(here) in moved
    (['data'], False)
    """
    staged: dict[str, str] = {}
    for orig, kind, data in files:
        p = Path(orig)
        if _same_content(p, kind, data):
            continue
        target = root / p.relative_to(p.anchor)
        target.parent.mkdir(parents=True, exist_ok=True)
        if kind == "file":
            target.write_bytes(data)
        else:
            target.mkdir(parents=True, exist_ok=True)
            with tarfile.open(fileobj=io.BytesIO(data), mode="r") as tar:
                tar.extractall(target, filter="data")
        staged[orig] = str(target)
    return staged


def _repoint(value: Any, staged: dict[str, str]) -> Any:
    """``value`` with every string naming a staged path (or a path inside one) pointing there."""
    if isinstance(value, str):
        for orig, new in staged.items():
            if value == orig:
                return new
            if value.startswith(orig.rstrip("/\\") + os.sep):
                return new + value[len(orig.rstrip("/\\")):]
        return value
    if isinstance(value, list):
        return [_repoint(v, staged) for v in value]
    if isinstance(value, dict):
        return {k: _repoint(v, staged) for k, v in value.items()}
    return value


_EXECUTOR = None
_EXECUTOR_LOCK = threading.Lock()


def _run_on_worker(task: dict[str, Any], files: list[tuple[str, str, bytes]]) -> tuple[dict[str, Any], str, bytes]:
    """Execute one run on this (worker) machine; returns ``(record, "runs" | "failed", tar of the
    run folder)``. Runs of one worker process execute one at a time."""
    global _EXECUTOR
    from .. import __version__
    from .execution import RunExecutor, code_digest, utc_now

    with _EXECUTOR_LOCK:
        if task.get("crm_research") and task["crm_research"] != __version__:
            rec = {**task["record"], "status": "failed", "action": "ran", "finished": utc_now(), "duration": 0.0,
                   "error": {"message": f"the dask worker runs crm-research {__version__}, this machine "
                                        f"{task['crm_research']}: install the same version on the workers",
                             "ename": "WorkerMismatch", "evalue": "crm-research version differs"}}
            return rec, "failed", b""
        if _EXECUTOR is None:
            _EXECUTOR = RunExecutor(None)  # fresh kernel per run (warm kernels are forked on one machine)
        scratch = Path(tempfile.mkdtemp(prefix="crm-research-run-"))
        try:
            staged = stage_inputs(files, scratch / "inputs")
            t = dict(task)
            t["notebook"] = _repoint(task["notebook"], staged)
            t["resolved"] = _repoint(task["resolved"], staged)
            t["out_dir"] = str(scratch / "out")
            (scratch / "out").mkdir()
            rec = _EXECUTOR.run(t)
            if task.get("code") and task["code"] != code_digest():
                rec["notes"] = ["the worker's crm-research source differs from the client's (same version): "
                                "results may differ from a local run"]
            kind = "runs" if rec.get("status") == "ok" else "failed"
            folder = scratch / "out" / kind / task["name"]
            return rec, kind, _tar_folder(folder) if folder.is_dir() else b""
        finally:
            shutil.rmtree(scratch, ignore_errors=True)


# --------------------------------------------------------------------------- back on the client
def place_result(out: Path, name: str, kind: str, archive: bytes) -> None:
    """Unpack a run folder sent back by a worker and move it to ``out/<kind>/<name>`` as the
    local runner does (:func:`~crm_research.batch.execution.place_run`); a successful run
    also clears its earlier failure.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     run = Path(tmp, "scratch"); run.mkdir(); _ = (run / "a.html").write_text("report")
    ...     place_result(Path(tmp, "out"), "a", "runs", _tar_folder(run))
    ...     sorted(p.relative_to(tmp).as_posix() for p in Path(tmp, "out", "runs").rglob("*"))
    ['out/runs/a', 'out/runs/a/a.html']
    """
    from .execution import place_run

    work = out / ".work" / f"{name}-{uuid.uuid4().hex[:8]}"
    work.mkdir(parents=True)
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r") as tar:
        tar.extractall(work, filter="data")
    place_run(out, name, work, kind)
    if kind == "runs":
        shutil.rmtree(out / "failed" / name, ignore_errors=True)


class DaskPool:
    """Runs on a dask cluster: an existing one (``scheduler`` address) or a local cluster of
    ``n_workers`` processes. :meth:`run` has the interface of the local worker pool."""

    def __init__(self, *, scheduler: str | None, n_workers: int, shared: list[Path], connect_timeout: float = 20.0):
        distributed = require_distributed("--scheduler" if scheduler else "--executor dask")
        import logging

        self.shared = shared
        self.cluster = None
        self.stats: dict[str, Any] = {"warm": 0, "cold": 0, "executor": "dask"}
        if scheduler:
            scheduler = check_scheduler_address(scheduler)
            try:
                self.client = distributed.Client(scheduler, timeout=connect_timeout, set_as_default=False)
            except (OSError, TimeoutError) as e:
                raise ConfigError("--scheduler", "", f"cannot reach the dask scheduler at {scheduler} "
                                  f"within {connect_timeout:g} s ({type(e).__name__})",
                                  hint="start it with `dask scheduler` and workers with `dask worker ADDRESS`") from None
            self.stats["scheduler"] = scheduler
        else:
            self.cluster = distributed.LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True,
                                                    dashboard_address=":0", silence_logs=logging.ERROR)
            self.client = distributed.Client(self.cluster, set_as_default=False)
            self.stats["scheduler"] = "local cluster"
        try:
            self.client.wait_for_workers(1, timeout=connect_timeout)
        except (OSError, TimeoutError):
            self.close()
            raise ConfigError("--scheduler", "", f"the dask scheduler has no workers after {connect_timeout:g} s",
                              hint="start workers with `dask worker ADDRESS --nthreads 1`") from None
        self.n_workers = len(self.client.scheduler_info().get("workers", {})) or n_workers
        self.stats["workers"] = self.n_workers

    def run(self, tasks: list[dict[str, Any]], finish: Callable[[dict[str, Any]], None],
            out_dir: Path) -> None:
        from distributed import as_completed

        from .. import __version__
        from .execution import code_digest, utc_now

        code = code_digest()
        read: dict[str, tuple[str, bytes]] = {}   # path -> content: each input is read once
        blobs: dict[str, Any] = {}                # content hash -> future: each content ships once
        futures = {}
        try:
            for t in tasks:
                refs = []
                for path, kind, data in pack_inputs(t, self.shared, read):
                    h = _sha256_bytes(data)
                    if h not in blobs:
                        blobs[h] = self.client.scatter(data, hash=False)
                    refs.append((path, kind, blobs[h]))
                prev_ok = (out_dir / "runs" / t["name"] / f"{t['name']}.html").exists()
                task = {**t, "code": code, "crm_research": __version__, "previous_ok": prev_ok}
                fut = self.client.submit(_run_refs, task, refs, key=f"crm-research-{t['name']}-{uuid.uuid4().hex[:8]}",
                                         pure=False, retries=0)
                futures[fut] = (t, time.perf_counter())
            with self.client.as_current():
                finished = as_completed(list(futures))
            for fut in finished:
                t, started = futures[fut]
                try:
                    rec, kind, archive = fut.result()
                except Exception as e:  # noqa: BLE001 - a worker died or the task could not run
                    rec = {**t["record"], "status": "failed", "action": "ran", "finished": utc_now(),
                           "duration": round(time.perf_counter() - started, 3),
                           "error": {"message": f"dask task failed: {type(e).__name__}: {e}",
                                     "ename": type(e).__name__, "evalue": str(e)}}
                    kind, archive = "failed", b""
                if archive:
                    try:
                        place_result(out_dir, t["name"], kind, archive)
                    except (OSError, tarfile.TarError) as e:  # e.g. disk full: the run's outcome is lost
                        rec = {**rec, "status": "failed", "files": {},
                               "error": {"message": f"could not store the run's outputs in {out_dir}: "
                                                    f"{type(e).__name__}: {e}", "ename": type(e).__name__,
                                         "evalue": str(e)}}
                self.stats["cold"] += 1
                finish(rec)
        except BaseException:
            self.client.cancel(list(futures))
            raise

    def close(self) -> None:
        try:
            self.client.close()
        finally:
            if self.cluster is not None:
                self.cluster.close()


def _run_refs(task: dict[str, Any], refs: list[tuple[str, str, bytes]]) -> tuple[dict[str, Any], str, bytes]:
    """What the scheduler sends to a worker: the blobs arrive resolved from their futures."""
    return _run_on_worker(task, [(p, k, d) for p, k, d in refs])

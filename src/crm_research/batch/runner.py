"""Execute a batch: notebooks x parameter sets in parallel, into ``reports/<batch>/``.

Layout of the output folder::

    reports/<batch>/
      index.html                      every run: status, parameters, headline figures, links
      results.csv, results.parquet    tidy key results of all successful runs
      tables/<name>.csv|.parquet      tables recorded with record_table(), all runs stacked
      manifest.json                   state of every run (rewritten atomically after each run)
      runs/<run>/                     the last successful result of each run:
        <run>.ipynb  <run>.html  <run>.log  run.json  results/  (+ files the notebook wrote)
      failed/<run>/                   the last failure of a run: partial notebook, report, log

Guarantees:

* **Isolation** - every run gets a fresh kernel process (forked warm, see
  :mod:`crm_research.batch.kernels`); a failing run does not stop the others.
* **Nothing good is overwritten by a failure** - a run executes in ``.work/``; only on
  success does its folder replace ``runs/<run>`` (a rename). A failure goes to
  ``failed/<run>`` and the previous good result stays where it was.
* **Skip and resume** - a run's *key* hashes the notebook file, the parameters, the
  contents of every input file or folder they reference, the crm-research version and
  source code, and the Python version. A run whose ``runs/<run>/run.json`` carries the same
  key is reused, unless ``force``. A batch killed midway therefore resumes where it
  stopped: finished runs are in place with their ``run.json``; the rest run again.
* **Same results whatever the worker count** - runs are independent processes and the
  index, tables and manifest list runs in config order.
* **One batch per folder** - the folder's ``manifest.json`` names the batch and its config
  file; another batch (another name or config file) is refused unless ``force``, which first
  removes the other batch's runs, failures, tables, results, manifest and index
  (:func:`claim_out_dir`), so two batches are never mixed in one index or results table.
* **No personal data published** - reports pass :func:`crm_research.reporting.export.export_html`'s
  guard; a run whose output shows phone numbers or e-mail addresses fails.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

from ..errors import ConfigError
from .config import BatchConfig, RunSpec, load_batch_config
from .execution import RunExecutor, atomic_json, code_digest, recover_work_dir, utc_now

KEY_FORMAT = 1


# --------------------------------------------------------------------------- keys


def input_hashes(spec: RunSpec, base: Path) -> dict[str, str]:
    """SHA-256 of each existing file or folder referenced by the run's parameters,
    keyed by its path relative to the config folder."""
    from ..reporting.provenance import file_sha256, tree_sha256

    out = {}
    for p in spec.inputs:
        try:
            label = Path(os.path.relpath(p, base)).as_posix()  # "../data/a.csv": machine-independent
        except ValueError:  # another drive (Windows)
            label = p.as_posix()
        out[label] = tree_sha256(p) if p.is_dir() else file_sha256(p)
    return out


def run_key(spec: RunSpec, inputs: Mapping[str, str]) -> str:
    """Content hash deciding whether a run must execute again."""
    import platform

    from .. import __version__
    from ..reporting.provenance import file_sha256

    payload = {"format": KEY_FORMAT, "notebook": file_sha256(spec.notebook), "kernel": spec.kernel,
               "parameters": spec.parameters, "inputs": dict(sorted(inputs.items())),
               "crm_research": __version__, "code": code_digest(), "python": platform.python_version()}
    return hashlib.sha256(json.dumps(payload, sort_keys=True, ensure_ascii=True).encode()).hexdigest()



# --------------------------------------------------------------------------- batch
@dataclass
class BatchResult:
    """Outcome of :func:`run_batch`.

    Attributes
    ----------
    name : str
    out_dir : Path
    records : list of dict
        One record per run in config order (``status`` ok / failed / pending, ``action``
        ran / reused, ``error``, ``results``, ``files`` ...).
    index : Path
    wall_seconds : float
    workers : int
    kernel_stats : dict
    notes : list of str
        What the runner did besides running (e.g. another batch's outputs removed with ``force``).
    """

    name: str
    out_dir: Path
    records: list[dict[str, Any]]
    index: Path
    wall_seconds: float
    workers: int
    kernel_stats: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def _count(self, pred: Callable[[dict[str, Any]], bool]) -> int:
        return sum(1 for r in self.records if pred(r))

    @property
    def n_ok(self) -> int:
        return self._count(lambda r: r.get("status") == "ok")

    @property
    def n_failed(self) -> int:
        """Failures that count (not the runs labelled ``expect: failure``)."""
        return self._count(lambda r: r.get("status") == "failed" and not r.get("expect_failure"))

    @property
    def n_expected_failures(self) -> int:
        return self._count(lambda r: r.get("status") == "failed" and bool(r.get("expect_failure")))

    @property
    def n_reused(self) -> int:
        return self._count(lambda r: r.get("action") == "reused")

    @property
    def n_ran(self) -> int:
        return self._count(lambda r: r.get("action") == "ran")

    @property
    def exit_code(self) -> int:
        """0 when every run of this invocation succeeded (or failed as labelled), 1 otherwise.

        Runs left out with ``only=`` do not count; a run not executed because the batch was
        interrupted does."""
        bad = self._count(lambda r: r.get("action") != "kept" and (
            (r.get("status") == "failed" and not r.get("expect_failure")) or r.get("status") not in ("ok", "failed")))
        return 1 if bad else 0

    def failed(self) -> list[dict[str, Any]]:
        return [r for r in self.records if r.get("status") == "failed"]

    def summary(self) -> str:
        lines = [f"note: {n}" for n in self.notes] + [f"batch {self.name}: {len(self.records)} runs, {self.n_ok} ok"
                 f" ({self.n_reused} reused, {self.n_ran} executed), {self.n_failed} failed"
                 + (f", {self.n_expected_failures} failed as expected" if self.n_expected_failures else "")
                 + f" in {self.wall_seconds:.1f} s on {self.workers} "
                 + ("dask " if self.kernel_stats.get("executor") == "dask" else "") + "worker(s)"
                 + (f" ({self.kernel_stats['scheduler']})" if self.kernel_stats.get("scheduler") else "")]
        for r in self.failed():
            tag = " (expected)" if r.get("expect_failure") else ""
            msg = (r.get("error") or {}).get("message", "").replace("\n", "\n      ")
            lines.append(f"  FAILED{tag} {r['run']}: {msg}")
            if r.get("files", {}).get("notebook"):
                lines.append(f"      partial notebook: {self.out_dir / r['files']['notebook']}")
        lines.append(f"index: {self.index}")
        return "\n".join(lines)

    __str__ = summary

    def __repr__(self) -> str:
        return (f"BatchResult({self.name!r}, ok={self.n_ok}, failed={self.n_failed}, reused={self.n_reused}, "
                f"out_dir={str(self.out_dir)!r})")


def _lock(out: Path):
    """Exclusive lock on the output folder (two batches must not write it at once)."""
    f = open(out / ".lock", "a+")
    try:
        import fcntl

        fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except ImportError:  # pragma: no cover - Windows: no advisory locks, accept
        pass
    except OSError:
        f.close()
        raise ConfigError(str(out), "", "another batch is writing to this folder right now",
                          hint="wait for it to finish, or pass a different --out") from None
    return f


#: What a batch writes at the top of its folder (removed when --force hands the folder to another batch).
BATCH_OUTPUTS = ("runs", "failed", "tables", ".work", "manifest.json", "index.html", "results.csv", "results.parquet")


def claim_out_dir(out_dir: str | os.PathLike, batch: str, config: str | os.PathLike, *,
                  force: bool = False, dry_run: bool = False) -> list[str]:
    """Make sure ``out_dir`` holds no other batch's outputs before ``batch`` writes there.

    A batch folder belongs to one batch: its ``manifest.json`` records the batch name and
    config file. The same batch (same name, same config file name) may write again; another
    one is refused with a :class:`~crm_research.errors.ConfigError`, as is a folder with an
    ``index.html`` but no manifest (not a batch folder). With ``force`` the other batch's
    outputs (:data:`BATCH_OUTPUTS`, and its config when it lives in the folder, as
    ``crm-research study`` writes it) are removed first; other files are left alone.

    Parameters
    ----------
    out_dir : path
        The output folder (need not exist).
    batch : str
        Name of the batch about to write.
    config : path
        Its config file (only the file name is compared: a moved project keeps its folders).
    force : bool
        Remove another batch's outputs instead of refusing.
    dry_run : bool
        Only check: with ``force`` say what would be removed, remove nothing.

    Returns
    -------
    list of str
        Notes to print (what was, or would be, removed).

    Examples
    --------
    >>> import json, tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     _ = (Path(tmp) / "manifest.json").write_text(json.dumps({"batch": "a", "config": "a.yaml"}))
    ...     claim_out_dir(tmp, "a", "nb/a.yaml")          # the same batch: fine
    ...     try:
    ...         claim_out_dir(tmp, "b", "b.yaml")
    ...     except ConfigError as e:
    ...         print(e.message.split(": ", 1)[1])
    ...     claim_out_dir(tmp, "b", "b.yaml", force=True)[0][:38]
    ...     (Path(tmp) / "manifest.json").exists()
    []
    this output folder holds the outputs of batch 'a' (config a.yaml), not of 'b' (config b.yaml)
    "removed batch 'a' (config a.yaml) from"
    False
    """
    out_dir = Path(out_dir)
    if not out_dir.is_dir():
        return []
    manifest = out_dir / "manifest.json"
    new_config = Path(config).name
    if manifest.exists():
        old = _read_json(manifest)
        if not isinstance(old, dict):
            owner, old_config = None, None
            what = "holds a manifest.json that is not a batch manifest"
        else:
            owner, old_config = str(old.get("batch")), Path(str(old.get("config") or "")).name
            if owner == batch and (not old_config or old_config == new_config):
                return []
            what = f"holds the outputs of batch {owner!r} (config {old_config}), not of {batch!r} (config {new_config})"
    elif (out_dir / "index.html").exists():
        owner, old_config = None, None
        what = "holds an index.html that no batch wrote (no manifest.json)"
    else:
        return []
    if not force:
        raise ConfigError(str(out_dir), "", f"this output folder {what}",
                          hint="choose another --out, or pass --force to remove the other batch's runs and results")
    victims = [out_dir / n for n in BATCH_OUTPUTS]
    if old_config and old_config != new_config and (out_dir / old_config).is_file():
        victims.append(out_dir / old_config)   # e.g. study.yaml written by `crm-research study`
    victims = [v for v in victims if v.exists() or v.is_symlink()]
    if not dry_run:
        for v in victims:
            if v.is_dir() and not v.is_symlink():
                shutil.rmtree(v)
            else:
                v.unlink()
    who = f"batch {owner!r} (config {old_config})" if owner else "the previous outputs"
    names = ", ".join(v.name for v in victims)
    return [f"{'would remove' if dry_run else 'removed'} {who} from {out_dir} (--force): {names}"]


def default_workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover
        return max(1, os.cpu_count() or 1)


def _project_dir(config: BatchConfig) -> str:
    """The git work tree holding the config (paths in provenance are shown relative to it),
    else the config's folder."""
    import subprocess

    d = config.folder
    try:
        top = subprocess.run(["git", "-C", str(d), "rev-parse", "--show-toplevel"], capture_output=True,
                             text=True, timeout=10)
        if top.returncode == 0 and top.stdout.strip():
            return top.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        pass
    return str(d)


def _out_dir(cfg: BatchConfig, out: str | os.PathLike | None) -> Path:
    return (Path(out) if out is not None else (cfg.out or Path("reports") / cfg.name)).resolve()


def _check_only(cfg: BatchConfig, only: list[str] | None) -> None:
    if only:
        names = {r.name for r in cfg.runs}
        unknown = [n for n in only if n not in names]
        if unknown:
            raise ConfigError(str(cfg.path), "runs", f"no run named {unknown[0]!r}",
                              hint="run names: " + ", ".join(r.name for r in cfg.runs))


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None
    except (OSError, ValueError):
        return None


@dataclass
class BatchPlan:
    """What :func:`run_batch` would do: one record per run (config order), the runs to
    execute (``tasks``) and the reused runs whose HTML must be re-rendered."""

    config: BatchConfig
    out_dir: Path
    config_label: str
    records: list[dict[str, Any]]
    tasks: list[dict[str, Any]]
    reexport: list[dict[str, Any]]

    @property
    def rows(self) -> list[dict[str, Any]]:
        todo = {t["name"] for t in self.tasks}
        return [{"run": r["run"], "notebook": r.get("notebook"), "parameters": r.get("parameters", {}),
                 "action": "run" if r["run"] in todo else ("reuse" if r.get("action") == "reused" else "keep")}
                for r in self.records]


def plan_batch(config: BatchConfig | str | os.PathLike, *, out: str | os.PathLike | None = None,
               force: bool = False, only: list[str] | None = None, show_code: bool = False) -> BatchPlan:
    """Decide, without running or writing anything, which runs execute and which are reused."""
    import platform

    from .. import __version__
    from ..reporting.provenance import git_state, package_versions

    cfg = config if isinstance(config, BatchConfig) else load_batch_config(config)
    out_dir = _out_dir(cfg, out)
    _check_only(cfg, only)
    project_dir = _project_dir(cfg)
    versions = package_versions()
    git = git_state(project_dir)
    try:
        config_label = cfg.path.relative_to(Path(project_dir)).as_posix()
    except ValueError:
        config_label = cfg.path.name
    records: list[dict[str, Any]] = []
    tasks: list[dict[str, Any]] = []
    reexport: list[dict[str, Any]] = []
    for spec in cfg.runs:
        inputs = input_hashes(spec, cfg.folder)
        key = run_key(spec, inputs)
        rec = {"run": spec.name, "batch": cfg.name, "notebook": spec.notebook_label, "parameters": spec.parameters,
               "key": key, "inputs": inputs, "expect_failure": spec.expect_failure,
               "description": spec.description, "status": "pending"}
        prev = _read_json(out_dir / "runs" / spec.name / "run.json")
        selected = not only or spec.name in only
        if prev and prev.get("key") == key and prev.get("status") == "ok" and not (force and selected):
            prev.update(action="reused", description=spec.description, expect_failure=spec.expect_failure)
            if bool(prev.get("show_code")) != show_code:
                reexport.append(prev)
            records.append(prev)
            continue
        if not selected:  # keep showing the latest state of runs not selected with --only
            fail = _read_json(out_dir / "failed" / spec.name / "run.json")
            latest = max([r for r in (prev, fail) if r], key=lambda r: r.get("finished") or "", default=None)
            records.append({**(latest or rec), "action": "kept"})
            continue
        rec["show_code"] = show_code
        records.append(rec)
        prov = {"parameters": spec.parameters, "data_files": [{"path": k, "sha256": v} for k, v in inputs.items()],
                "versions": versions, "git": git,
                "seed": spec.parameters.get("seed") if isinstance(spec.parameters.get("seed"), int) else None,
                "platform": f"{platform.system()}-{platform.machine()}", "crm_research": __version__}
        tasks.append({"name": spec.name, "batch": cfg.name, "batch_title": cfg.title or cfg.name,
                      "notebook": str(spec.notebook), "kernel": spec.kernel, "resolved": spec.resolved,
                      "timeout": cfg.timeout, "out_dir": str(out_dir), "show_code": show_code,
                      "input_paths": [str(p) for p in spec.inputs],
                      "project_dir": project_dir, "record": rec, "provenance": prov})
    return BatchPlan(cfg, out_dir, config_label, records, tasks, reexport)


def run_batch(config: BatchConfig | str | os.PathLike, *, out: str | os.PathLike | None = None,
              workers: int | None = None, force: bool = False, show_code: bool = False, warm: bool = True,
              progress: bool = True, only: list[str] | None = None,
              on_done: Callable[[dict[str, Any]], None] | None = None, executor: str = "local",
              scheduler: str | None = None) -> BatchResult:
    """Run a batch (see the module docstring for outputs and guarantees).

    Parameters
    ----------
    config : BatchConfig or path
        The batch (a YAML path is loaded and validated first: nothing runs if it is wrong).
    out : path, optional
        Output folder (default: the config's ``out``, else ``reports/<batch>``).
    workers : int, optional
        Parallel worker processes (default: the config's ``workers``, else the number of
        cores); never more than there are runs to execute.
    force : bool
        Execute every run, even unchanged ones.
    show_code : bool
        Show code in the HTML reports (reused runs are re-exported when this changes).
    warm : bool
        Use warm (forked, preloaded) kernels; False starts an ordinary kernel per run.
    progress : bool
        Show a progress bar on stderr.
    only : list of str, optional
        Execute only these runs (others keep their state); names must exist.
    on_done : callable, optional
        Called with each run's record as it finishes (in the parent process).
    executor : {"local", "dask"}
        ``"local"``: worker processes on this machine. ``"dask"``: a ``dask.distributed``
        cluster (:mod:`crm_research.batch.dask_executor`): the one at ``scheduler``, else a
        local cluster of ``workers`` processes. Runs, their inputs and their outputs travel;
        everything else (checks, skip / resume, outputs in ``out``) is the same.
    scheduler : str, optional
        Address of a running dask scheduler, e.g. ``"tcp://10.0.0.5:8786"`` (implies ``"dask"``).

    Returns
    -------
    BatchResult

    Raises
    ------
    ConfigError
        A bad config, an unknown ``executor``, an unreachable ``scheduler`` or dask not
        installed (before any run starts).
    """
    from .. import __version__
    from .index import write_index, write_results

    t_start = time.perf_counter()
    if executor not in ("local", "dask"):
        raise ConfigError("--executor", "", f"unknown executor {executor!r}", hint="choose local or dask")
    if scheduler is not None:
        executor = "dask"
    cfg = config if isinstance(config, BatchConfig) else load_batch_config(config)
    out_dir = _out_dir(cfg, out)
    _check_only(cfg, only)
    if executor == "dask":
        from .dask_executor import check_scheduler_address, require_distributed

        require_distributed("--scheduler" if scheduler else "--executor dask")
        if scheduler is not None:
            check_scheduler_address(scheduler)
    if out_dir.exists() and not out_dir.is_dir():
        raise ConfigError(str(out_dir), "", "output path exists and is not a folder", hint="pass another --out")
    out_dir.mkdir(parents=True, exist_ok=True)
    lock = _lock(out_dir)
    try:
        notes = claim_out_dir(out_dir, cfg.name, cfg.path, force=force)
        recover_work_dir(out_dir)
        plan = plan_batch(cfg, out=out_dir, force=force, only=only, show_code=show_code)
        for rec in plan.reexport:
            _reexport(out_dir, rec, show_code, cfg)
        records, tasks, config_label = plan.records, plan.tasks, plan.config_label
        by_name = {r["run"]: i for i, r in enumerate(records)}
        n_workers = max(1, min(workers or cfg.workers or default_workers(), len(tasks) or 1))
        preload = _preload_for(cfg, tasks) if warm and executor == "local" else None
        manifest_path = out_dir / "manifest.json"
        dask_pool = None
        if executor == "dask" and tasks:  # connect before anything is written: a bad address fails cleanly
            from .dask_executor import DaskPool

            dask_pool = DaskPool(scheduler=scheduler, n_workers=n_workers, shared=cfg.shared)
            n_workers = dask_pool.n_workers

        def write_manifest() -> None:
            atomic_json(manifest_path, {
                "batch": cfg.name, "title": cfg.title, "config": config_label, "crm_research": __version__,
                "updated": utc_now(), "runs": {r["run"]: {k: r.get(k) for k in (
                    "status", "action", "key", "notebook", "parameters", "inputs", "started", "finished", "duration",
                    "error", "expect_failure", "files", "provenance")} for r in records}})

        def done(rec: dict[str, Any]) -> None:
            records[by_name[rec["run"]]] = rec
            write_manifest()
            if on_done:
                on_done(rec)

        write_manifest()
        kernel_stats: dict[str, Any] = {}
        interrupted = False
        zygote = None
        try:
            if dask_pool is not None:
                kernel_stats = _execute_dask(dask_pool, tasks, out_dir, progress, cfg.name, done)
            elif tasks:
                if preload is not None:
                    from .kernels import ZygoteServer

                    try:
                        zygote = ZygoteServer(preload)
                    except (OSError, RuntimeError):  # no fork / sockets here: ordinary kernels
                        zygote = None
                kernel_stats = _execute(tasks, n_workers, zygote.socket if zygote else None, progress,
                                        cfg.name, done)
        except KeyboardInterrupt:
            interrupted = True
        finally:
            if zygote is not None:
                zygote.close()
            if dask_pool is not None:
                dask_pool.close()
            write_manifest()
            write_results(out_dir, records)
            downloads = {"results.csv": "results.csv", "results.parquet": "results.parquet",
                         "manifest.json": "manifest.json"}
            for p in sorted((out_dir / "tables").glob("*.csv")) if (out_dir / "tables").is_dir() else []:
                downloads[f"tables/{p.name}"] = f"tables/{p.name}"
            index = write_index(out_dir / "index.html", batch=cfg.name, title=cfg.title, description=cfg.description,
                                config_label=config_label, records=records, downloads=downloads,
                                workers=n_workers if tasks else None, wall_seconds=time.perf_counter() - t_start)
            if not interrupted:
                shutil.rmtree(out_dir / ".work", ignore_errors=True)
        if interrupted:
            raise KeyboardInterrupt
        return BatchResult(cfg.name, out_dir, records, index, time.perf_counter() - t_start,
                           n_workers if tasks else 0, kernel_stats, notes)
    finally:
        lock.close()


def _preload_for(cfg: BatchConfig, tasks: list[dict[str, Any]]) -> list[list[Any]] | None:
    from .kernels import notebook_imports

    if cfg.preload is False or not hasattr(os, "fork"):
        return None
    nbs = sorted({t["notebook"] for t in tasks})
    mods = notebook_imports(nbs)
    if isinstance(cfg.preload, list):
        have = {m for m, _ in mods}
        mods += [[m, []] for m in cfg.preload if m not in have]
    return mods


def _progress(n: int, progress: bool, label: str, done: Callable[[dict[str, Any]], None]):
    """(progress bar, ``finish(record)``): reports each finished run to ``done`` and the bar."""
    from tqdm.auto import tqdm

    bar = tqdm(total=n, desc=label, unit="run", disable=not progress, file=sys.stderr,
               dynamic_ncols=True, leave=True)
    failed = 0

    def finish(rec: dict[str, Any]) -> None:
        nonlocal failed
        done(rec)
        if rec.get("status") == "failed":
            failed += 0 if rec.get("expect_failure") else 1
            msg = (rec.get("error") or {}).get("message", "").splitlines()[0] if rec.get("error") else ""
            tag = "failed as expected" if rec.get("expect_failure") else "FAILED"
            if progress:
                bar.write(f"{tag}: {rec['run']}: {msg}", file=sys.stderr)
        bar.set_postfix_str(f"last {rec['run']}" + (f", {failed} failed" if failed else ""), refresh=False)
        bar.update(1)

    return bar, finish


def _execute_dask(pool: Any, tasks: list[dict[str, Any]], out_dir: Path, progress: bool, label: str,
                  done: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    """Run tasks on a dask cluster (:class:`~crm_research.batch.dask_executor.DaskPool`)."""
    bar, finish = _progress(len(tasks), progress, label, done)
    try:
        pool.run(tasks, finish, out_dir)
    finally:
        bar.close()
    return pool.stats


def _execute(tasks: list[dict[str, Any]], n_workers: int, zygote: str | None, progress: bool,
             label: str, done: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    """Run tasks on ``n_workers`` worker processes (in this process when 1), reporting each
    finished run to ``done`` as soon as it completes."""
    from .worker import WorkerPool

    bar, finish = _progress(len(tasks), progress, label, done)
    try:
        if n_workers == 1:
            worker = RunExecutor(zygote)
            try:
                for t in tasks:
                    finish(worker.run(t))
            finally:
                s = worker.pool.stats
                stats = {"warm": s.warm, "cold": s.cold, "preloaded": s.preloaded,
                         "preload_failed": s.preload_failed}
                worker.close()
            return stats
        pool = WorkerPool(n_workers, zygote, Path(tasks[0]["out_dir"]) / ".work")
        try:
            pool.run(tasks, finish)
        finally:
            pool.close()
        return pool.stats
    finally:
        bar.close()


def _reexport(out_dir: Path, rec: dict[str, Any], show_code: bool, cfg: BatchConfig) -> None:
    """Re-render a reused run's HTML with code shown / hidden (no re-execution)."""
    import nbformat

    from ..reporting.export import PersonalDataError, export_html, notebook_title
    from .index import run_footer, run_header

    nb_path = out_dir / rec["files"]["notebook"]
    if not nb_path.exists():
        return
    nb = nbformat.read(str(nb_path), as_version=4)
    title = notebook_title(nb, rec["run"])
    header, text = run_header({**rec, "files": {k: Path(v).name for k, v in rec.get("files", {}).items()}},
                              title=title, batch_title=cfg.title or cfg.name, index_href="../../index.html",
                              show_code=show_code)
    try:
        export_html(nb, out_dir / rec["files"]["html"], show_code=show_code, title=f"{title} · {rec['run']}",
                    header_html=header, footer_html=run_footer(rec), header_text=text)
    except PersonalDataError as e:  # code shown may contain what outputs did not
        rec["status"] = "failed"
        rec["error"] = {"message": str(e), "ename": "PersonalDataError", "evalue": str(e)}
        (out_dir / rec["files"]["html"]).unlink(missing_ok=True)
        return
    rec["show_code"] = show_code
    atomic_json(out_dir / "runs" / rec["run"] / "run.json", {k: v for k, v in rec.items() if k != "action"})

"""One notebook run, executed in this process: the code a batch worker runs.

:class:`RunExecutor` executes a run's notebook with papermill on a warm kernel (from the
batch's zygote, see :mod:`.kernels`) or a fresh one, reads what it recorded, exports its
HTML report through the personal-data guard and moves its folder into ``runs/`` or
``failed/``. :mod:`.runner` uses it directly for one worker and :mod:`.worker` in each
worker process; neither imports the other's internals.
"""
from __future__ import annotations

import datetime as _dt
import json
import logging
import os
import re
import shutil
import time
import traceback
import uuid
from pathlib import Path
from typing import Any, Mapping

__all__ = ["ENGINE_NAME", "RunExecutor", "inject_parameters", "utc_now", "atomic_json", "place_run",
           "recover_work_dir", "code_digest"]

ENGINE_NAME = "crm-research"
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


_CODE_DIGEST: str | None = None


def code_digest() -> str:
    """SHA-256 over crm-research's own source files (changes whenever the library does)."""
    global _CODE_DIGEST
    if _CODE_DIGEST is None:
        import hashlib

        root = Path(__file__).resolve().parents[1]
        h = hashlib.sha256()
        for p in sorted(root.rglob("*.py")):
            h.update(p.relative_to(root).as_posix().encode() + b"\0" + p.read_bytes() + b"\0")
        _CODE_DIGEST = h.hexdigest()
    return _CODE_DIGEST


def utc_now() -> str:
    """The current UTC time as ISO 8601 to the second, ``Z``-suffixed (``2026-01-31T12:00:00Z``)."""
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def atomic_json(path: Path, data: Any) -> None:
    """Write ``data`` as JSON to ``path`` atomically (temporary file, then rename): a reader
    never sees half a file, even if the process dies mid-write."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    tmp.write_text(json.dumps(data, indent=1, ensure_ascii=False, default=str), encoding="utf-8")
    os.replace(tmp, path)


def _register_engine() -> None:
    from nbclient.exceptions import CellExecutionError
    from papermill.clientwrap import PapermillNotebookClient
    from papermill.engines import NBClientEngine, papermill_engines
    from papermill.utils import remove_args

    if ENGINE_NAME in papermill_engines._engines:
        return

    class BatchEngine(NBClientEngine):
        """papermill engine using a kernel we started (``km=``), running our setup code
        first and shutting the kernel down (kill) afterwards. On any error the partial
        notebook is saved before the error propagates."""

        @classmethod
        def execute_managed_notebook(cls, nb_man, kernel_name, log_output=False, stdout_file=None,
                                     stderr_file=None, start_timeout=60, execution_timeout=None,
                                     setup_code=None, partial_path=None, **kwargs):
            kwargs = remove_args(["input_path", "timeout", "startup_timeout"], **kwargs)
            client = PapermillNotebookClient(
                nb_man, timeout=execution_timeout, startup_timeout=start_timeout, kernel_name=kernel_name,
                log=logging.getLogger("papermill"), log_output=log_output, stdout_file=stdout_file,
                stderr_file=stderr_file, shutdown_kernel="immediate", **kwargs)
            if setup_code:
                async def _setup(notebook=None, **_kw):
                    reply = await client.kc.execute_interactive(setup_code, silent=True, store_history=False,
                                                                timeout=60, allow_stdin=False)
                    if reply["content"].get("status") != "ok":
                        raise RuntimeError(f"kernel setup failed: {reply['content'].get('evalue')}")
                client.on_notebook_start = _setup
            try:
                return client.execute(cleanup_kc=True)
            except CellExecutionError:
                raise
            except BaseException:
                try:
                    if partial_path:
                        import nbformat

                        nbformat.write(nb_man.nb, partial_path)
                finally:
                    try:
                        client._cleanup_kernel()
                    except Exception:  # noqa: BLE001
                        pass
                raise

    papermill_engines.register(ENGINE_NAME, BatchEngine)


def inject_parameters(nb: Any, parameters: Mapping[str, Any]) -> Any:
    """Insert the parameters cell papermill-style: a code cell tagged
    ``injected-parameters`` right after the cell tagged ``parameters`` (replacing an earlier
    injected cell), its source from :func:`crm_research.batch.config.parameters_source`."""
    import nbformat

    from .config import parameters_source

    cells = [c for c in nb.cells if "injected-parameters" not in c.get("metadata", {}).get("tags", [])]
    if not parameters:
        nb.cells = cells
        return nb
    new = nbformat.v4.new_code_cell(parameters_source(parameters), metadata={"tags": ["injected-parameters"]})
    idx = next((i for i, c in enumerate(cells) if "parameters" in c.get("metadata", {}).get("tags", [])), -1)
    cells.insert(idx + 1, new)
    nb.cells = cells
    return nb


def _error_from_notebook(nb: Any, fallback: BaseException | None, timeout: float | None) -> dict[str, Any]:
    """Locate the failure: cell, execution count, line, exception."""
    cell_idx, cell = None, None
    for i, c in enumerate(nb.cells if nb is not None else []):
        if c.cell_type != "code":
            continue
        if any(o.get("output_type") == "error" for o in c.get("outputs", [])):
            cell_idx, cell = i, c
            break
    if cell is None and nb is not None:  # timeout / dead kernel: the last cell that started
        for i, c in enumerate(nb.cells):
            if c.cell_type == "code" and c.get("metadata", {}).get("papermill", {}).get("start_time"):
                cell_idx, cell = i, c
    ename, evalue, line_no, line = None, None, None, None
    if cell is not None:
        err = next((o for o in cell.get("outputs", []) if o.get("output_type") == "error"), None)
        if err is not None:
            ename, evalue = err.get("ename"), err.get("evalue")
            tb = [_ANSI.sub("", t) for t in err.get("traceback", [])]
            text = "\n".join(tb).splitlines()
            in_cell = False
            for t in text:
                m = re.match(r"\s*Cell In\s*\[\d*\],\s*line (\d+)", t)
                if m:
                    in_cell, line_no = True, int(m.group(1))
                    continue
                if in_cell and t.startswith("---->"):
                    line = re.sub(r"^---->\s*\d+\s?", "", t).rstrip()
                    in_cell = False
            if line is None and line_no is not None:
                src = cell.source.splitlines()
                if 0 < line_no <= len(src):
                    line = src[line_no - 1].rstrip()
    if ename is None and fallback is not None:
        ename = type(fallback).__name__
        evalue = str(fallback).strip().splitlines()[0] if str(fallback).strip() else ""
        if ename == "CellTimeoutError" and timeout:
            evalue = f"cell did not finish within {timeout:g} s (batch 'timeout')"
        elif ename == "DeadKernelError":
            evalue = "the kernel died (out of memory, or the process was killed)"
    where = []
    if cell_idx is not None:  # number the cell as in the user's notebook (no injected/papermill cells)
        skip = {"injected-parameters", "papermill-error-cell-tag"}
        n = sum(1 for c in nb.cells[:cell_idx] if not skip & set(c.get("metadata", {}).get("tags", [])))
        where.append(f"cell {n + 1}")
        if cell.get("execution_count"):
            where.append(f"(In [{cell['execution_count']}])")
    loc = " ".join(where)
    if line_no is not None:
        loc = f"{loc}, line {line_no}" if loc else f"line {line_no}"
    msg = f"{loc + ': ' if loc else ''}{ename or 'Error'}: {evalue or ''}".rstrip(": ")
    if line:
        msg += f"\n    {line.strip()}"
    return {"cell": cell_idx, "execution_count": cell.get("execution_count") if cell is not None else None,
            "line_no": line_no, "line": line, "ename": ename, "evalue": evalue, "message": msg}


def _redact(text: str) -> str:
    """Text with personal data (phone, e-mail, ...) replaced: run logs are published too."""
    from ..reporting.export import scan_text

    for kind, value in scan_text(text):
        text = text.replace(value, f"[{kind} redacted]")
    return text


class _RedactingFormatter(logging.Formatter):
    """Log lines (cell outputs echoed by papermill) pass the same personal-data scan as reports."""

    def format(self, record: logging.LogRecord) -> str:
        return _redact(super().format(record))


class RunExecutor:
    """Executes runs in one process (:meth:`run` takes a task dict prepared by the runner and
    returns the run's record); kernels come from the batch's zygote (socket path) or,
    when it is None, are started fresh for every run."""

    def __init__(self, zygote: str | None):
        import threading

        from .kernels import KernelPool

        _register_engine()
        self.pool = KernelPool(zygote)
        # nbconvert's import and template compilation cost ~2 s: pay them while the first
        # notebook executes (which mostly waits on its kernel), not after it.
        self._warmup = threading.Thread(target=_warm_exporters, name="crm-export-warmup", daemon=True)
        self._warmup.start()

    def close(self) -> None:
        self._warmup.join(timeout=30)
        self.pool.close()

    def run(self, task: dict[str, Any]) -> dict[str, Any]:
        try:
            return self._run(task)
        except BaseException as e:  # noqa: BLE001 - never lose a run's outcome
            if isinstance(e, KeyboardInterrupt):
                raise
            return {**task["record"], "status": "failed", "action": "ran", "finished": utc_now(),
                    "duration": 0.0, "error": {"message": f"internal error: {type(e).__name__}: {e}",
                                               "ename": type(e).__name__, "evalue": str(e),
                                               "traceback": traceback.format_exc()}}

    def _run(self, task: dict[str, Any]) -> dict[str, Any]:
        import nbformat
        import papermill as pm
        from papermill.exceptions import PapermillExecutionError

        from ..reporting.export import PersonalDataError, export_html, notebook_title, redact_personal_data
        from ..reporting.results import read_records, recorded_tables
        from .index import run_footer, run_header

        out = Path(task["out_dir"])
        name = task["name"]
        work = out / ".work" / f"{name}-{uuid.uuid4().hex[:8]}"
        work.mkdir(parents=True)
        rec: dict[str, Any] = dict(task["record"])
        started = utc_now()
        t0 = time.perf_counter()
        rec.update(started=started, action="ran")
        nb_out = work / f"{name}.ipynb"
        nb_input = work.parent / f"{work.name}.input.ipynb"
        log_path = work / f"{name}.log"
        log_f = open(log_path, "a", encoding="utf-8")
        handler = logging.StreamHandler(log_f)
        handler.setFormatter(_RedactingFormatter("%(asctime)s %(levelname)s %(message)s", "%H:%M:%S"))
        handler.addFilter(lambda r: not str(r.msg).startswith(("Input Notebook:", "Output Notebook:")))
        pm_log = logging.getLogger("papermill")
        pm_log.addHandler(handler)
        old_level = pm_log.level
        pm_log.setLevel(logging.INFO)
        log_f.write(f"run {name} of batch {task['batch']}\nnotebook {rec['notebook']}\nparameters "
                    f"{json.dumps(rec['parameters'], ensure_ascii=False)}\nkey {rec['key']}\nstarted {started}\n")
        env = {"CRM_RESEARCH_RUN_DIR": str(work), "CRM_RESEARCH_RUN": name, "CRM_RESEARCH_BATCH": task["batch"],
               "CRM_RESEARCH_RUN_STARTED": started, "CRM_RESEARCH_PROJECT_DIR": task["project_dir"]}
        error: dict[str, Any] | None = None
        timing: dict[str, float] = {}
        km = None
        try:
            tk = time.perf_counter()
            km = self.pool.acquire(task["kernel"], str(work), env)
            timing["kernel"] = round(time.perf_counter() - tk, 3)
            warm = getattr(km, "provisioner", None).__class__.__name__ == "ForkedKernelProvisioner"
            how = f"warm (forked, {getattr(km, 'preloaded', 0)} modules preloaded)" if warm else "fresh process"
            log_f.write(f"kernel {task['kernel']}: {how}, ready in {time.perf_counter() - tk:.2f} s\n")
            log_f.flush()
            from .kernels import setup_code

            code = setup_code(str(work), env, [str(Path(task["notebook"]).parent)])
            nb_in = inject_parameters(nbformat.read(task["notebook"], as_version=4), task["resolved"])
            nbformat.write(nb_in, str(nb_input))
            te = time.perf_counter()
            try:
                pm.execute_notebook(str(nb_input), str(nb_out), parameters=None, engine_name=ENGINE_NAME,
                                    kernel_name=task["kernel"], km=km, progress_bar=False, log_output=True,
                                    execution_timeout=task["timeout"], request_save_on_cell_execute=False,
                                    setup_code=code, partial_path=str(nb_out))
            finally:
                timing["execute"] = round(time.perf_counter() - te, 3)
        except PapermillExecutionError as e:
            error = {"exc": e}
        except Exception as e:  # noqa: BLE001 - timeouts, dead kernels, unreadable notebooks
            error = {"exc": e}
        finally:
            if km is not None:
                try:
                    from jupyter_core.utils import run_sync

                    if km.has_kernel:
                        run_sync(km.shutdown_kernel)(now=True)
                except Exception:  # noqa: BLE001
                    pass
            pm_log.removeHandler(handler)
            pm_log.setLevel(old_level)
            nb_input.unlink(missing_ok=True)
        klog = getattr(km, "kernel_log", None) if km is not None else None
        if klog and os.path.exists(klog):
            text = Path(klog).read_text(encoding="utf-8", errors="replace").strip()
            if text:
                log_f.write("--- kernel process output ---\n" + _redact(text) + "\n")
            os.unlink(klog)

        nb = nbformat.read(str(nb_out), as_version=4) if nb_out.exists() else None
        if error is not None:
            error = _error_from_notebook(nb, error["exc"], task["timeout"])
        rec["results"] = read_records(work) if error is None else []
        rec["tables"] = list(recorded_tables(work)) if error is None else []
        if nb is not None:  # store paths as the user knows them, not the temporary ones
            meta = nb.metadata.setdefault("papermill", {})
            meta["input_path"] = rec["notebook"]
            meta["output_path"] = f"{name}.ipynb"
            meta["parameters"] = rec["parameters"]
            meta["default_parameters"] = {}
        final_dir = ("runs" if error is None else "failed")
        rec["files"] = {"notebook": f"{final_dir}/{name}/{name}.ipynb", "log": f"{final_dir}/{name}/{name}.log",
                        "html": f"{final_dir}/{name}/{name}.html"}
        prev_ok = out / "runs" / name / f"{name}.html"
        has_prev_ok = task["previous_ok"] if "previous_ok" in task else prev_ok.exists()  # remote runs: told
        if error is not None and has_prev_ok:
            rec["previous_ok"] = f"runs/{name}/{name}.html"
        rec["finished"] = utc_now()
        rec["duration"] = round(time.perf_counter() - t0, 3)
        rec["status"] = "ok" if error is None else "failed"
        rec["error"] = error
        rec["provenance"] = task["provenance"] | {"started": started, "finished": rec["finished"]}
        tx = time.perf_counter()
        if nb is not None:
            title = notebook_title(nb, name)
            for attempt in range(2):
                header, header_text = run_header({**rec, "files": {k: Path(v).name for k, v in rec["files"].items()}},
                                                  title=title, batch_title=task["batch_title"],
                                                  index_href="../../index.html", show_code=task["show_code"])
                try:
                    export_html(nb, work / f"{name}.html", show_code=task["show_code"], title=f"{title} · {name}",
                                header_html=header, footer_html=run_footer(rec), header_text=header_text,
                                source=f"report of run {name}")
                    break
                except PersonalDataError as e:
                    if attempt == 1:
                        rec["files"].pop("html", None)
                        break
                    n = redact_personal_data(nb)
                    log_f.write(f"personal data guard: {e}\n")
                    rec["status"], rec["results"], rec["tables"] = "failed", [], []
                    rec["error"] = {"message": str(e), "ename": "PersonalDataError", "evalue": str(e),
                                    "cell": e.findings[0].cell if e.findings else None}
                    rec["files"] = {k: v.replace("runs/", "failed/", 1) for k, v in rec["files"].items()}
                    if has_prev_ok:
                        rec["previous_ok"] = f"runs/{name}/{name}.html"
                    log_f.write(f"{n} value(s) redacted in the kept notebook\n")
                except Exception as e:  # noqa: BLE001 - keep the run's notebook even if rendering fails
                    log_f.write(f"HTML export failed: {type(e).__name__}: {e}\n")
                    rec["files"].pop("html", None)
                    if rec["status"] == "ok":
                        rec["status"] = "failed"
                        rec["error"] = {"message": f"HTML export failed: {type(e).__name__}: {e}",
                                        "ename": type(e).__name__, "evalue": str(e)}
                        rec["files"] = {k: v.replace("runs/", "failed/", 1) for k, v in rec["files"].items()}
                    break
            nbformat.write(nb, str(nb_out))
        else:
            rec["files"].pop("notebook", None)
            rec["files"].pop("html", None)
        timing["export"] = round(time.perf_counter() - tx, 3)
        rec["timing"] = timing
        rec["finished"] = utc_now()
        rec["duration"] = round(time.perf_counter() - t0, 3)
        log_f.write(f"{rec['status']} after {rec['duration']:.2f} s ({', '.join(f'{k} {v:.2f} s' for k, v in timing.items())})"
                    + (f": {rec['error']['message']}" if rec["error"] else "") + "\n")
        log_f.close()
        atomic_json(work / "run.json", rec)
        place_run(out, name, work, "runs" if rec["status"] == "ok" else "failed")
        if rec["status"] == "ok":
            shutil.rmtree(out / "failed" / name, ignore_errors=True)
        return rec


def _warm_exporters() -> None:
    try:
        from ..reporting.export import warm_up

        warm_up(False)
    except Exception:  # noqa: BLE001 - only a warm-up
        pass


def place_run(out: Path, name: str, work: Path, kind: str) -> None:
    """Move a finished run folder to ``<kind>/<name>``, replacing the previous one.

    The old folder is first renamed to ``.work/replaced-<kind>-<name>`` and deleted after
    the new one is in place; :func:`recover_work_dir` restores it if we die in between.
    """
    final = out / kind / name
    final.parent.mkdir(parents=True, exist_ok=True)
    trash = out / ".work" / f"replaced-{kind}-{name}"
    if trash.exists():
        shutil.rmtree(trash)
    if final.exists():
        os.rename(final, trash)
    os.rename(work, final)
    shutil.rmtree(trash, ignore_errors=True)


def recover_work_dir(out: Path) -> None:
    """Clean ``.work`` after an interrupted batch, restoring folders caught mid-replacement."""
    w = out / ".work"
    if not w.is_dir():
        return
    for p in w.iterdir():
        m = re.match(r"replaced-(runs|failed)-(.+)$", p.name)
        if m and not (out / m.group(1) / m.group(2)).exists():
            (out / m.group(1)).mkdir(exist_ok=True)
            os.rename(p, out / m.group(1) / m.group(2))
        else:
            shutil.rmtree(p, ignore_errors=True)

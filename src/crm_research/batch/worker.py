"""Batch worker processes: each executes runs one at a time with its own warm kernel pool.

Workers are plain subprocesses (``python -m crm_research.batch.worker``) speaking JSON
lines over pipes, not :mod:`multiprocessing` children: they never re-import the caller's
``__main__`` (so :func:`~crm_research.batch.runner.run_batch` works from scripts without an
``if __name__ == "__main__"`` guard and from notebooks), and a worker that dies takes only
its current run with it. Stray output of libraries in a worker goes to a log file, not
into the protocol or over the progress bar.
"""
from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import time
from collections import deque
from pathlib import Path
from typing import Any, Callable


class _Proc:
    def __init__(self, idx: int, zygote: str | None, logdir: Path):
        self.idx = idx
        self.log_path = logdir / f"worker-{idx}.log"
        logdir.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([sys.executable, "-m", "crm_research.batch.worker"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self._log, close_fds=True)
        self.buf = b""
        self.task: dict[str, Any] | None = None
        self.started = 0.0
        self.stats: dict[str, Any] = {}
        self._write({"zygote": zygote})

    def _write(self, msg: dict[str, Any]) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write((json.dumps(msg, ensure_ascii=False) + "\n").encode())
        self.proc.stdin.flush()

    def submit(self, task: dict[str, Any]) -> None:
        self.task = task
        self.started = time.perf_counter()
        self._write({"task": task})

    def fileno(self) -> int:
        assert self.proc.stdout is not None
        return self.proc.stdout.fileno()

    def read(self) -> list[dict[str, Any]] | None:
        """Messages available now; None when the worker has exited."""
        chunk = os.read(self.fileno(), 1 << 20)
        if not chunk:
            return None
        self.buf += chunk
        *lines, self.buf = self.buf.split(b"\n")
        return [json.loads(ln) for ln in lines if ln.strip()]

    def log_tail(self, n: int = 15) -> str:
        try:
            self._log.flush()
            lines = self.log_path.read_text(encoding="utf-8", errors="replace").splitlines()
            return "\n".join(lines[-n:])
        except OSError:
            return ""

    def close(self, kill: bool = False) -> None:
        try:
            if self.proc.poll() is None:
                if kill:
                    self.proc.kill()
                else:
                    assert self.proc.stdin is not None
                    self.proc.stdin.close()
                self.proc.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired, ValueError):
            self.proc.kill()
        finally:
            self._log.close()


class WorkerPool:
    """``n`` worker processes; :meth:`run` hands tasks to whichever worker is free."""

    def __init__(self, n: int, zygote: str | None, logdir: Path):
        self.procs = [_Proc(i + 1, zygote, logdir) for i in range(n)]
        self.zygote = zygote
        self.logdir = logdir
        self.stats: dict[str, Any] = {"warm": 0, "cold": 0}

    def run(self, tasks: list[dict[str, Any]], finish: Callable[[dict[str, Any]], None]) -> None:
        queue = deque(tasks)
        for p in self.procs:
            if queue:
                p.submit(queue.popleft())
        while any(p.task is not None for p in self.procs):
            busy = [p for p in self.procs if p.task is not None]
            ready, _, _ = select.select(busy, [], [], 1.0)
            for p in ready:
                msgs = p.read()
                if msgs is None:  # the worker died mid-run
                    t = p.task
                    assert t is not None
                    tail = p.log_tail()
                    finish({**t["record"], "status": "failed", "action": "ran", "duration":
                            round(time.perf_counter() - p.started, 3),
                            "error": {"message": f"worker process died (exit code {p.proc.wait()})"
                                                 + (f": {tail.splitlines()[-1]}" if tail else ""),
                                      "ename": "WorkerDied", "evalue": tail}})
                    p.close(kill=True)
                    idx = self.procs.index(p)
                    self.procs[idx] = np = _Proc(p.idx, self.zygote, self.logdir)
                    if queue:
                        np.submit(queue.popleft())
                    continue
                for m in msgs:
                    if "result" in m:
                        p.task = None
                        finish(m["result"])
                        for k in ("warm", "cold"):
                            self.stats[k] += int(m.get("stats", {}).get(k, 0)) - int(p.stats.get(k, 0))
                        p.stats = m.get("stats", {})
                        if queue:
                            p.submit(queue.popleft())

    def close(self) -> None:
        for p in self.procs:
            p.close(kill=False)


def skip_slow_format_checkers() -> None:
    """Import nbformat without the 3-second cost of jsonschema's optional IRI checker.

    jsonschema imports ``rfc3987_syntax`` (if installed) to register its "iri" format
    checker, and that module compiles a lark grammar at import time: about 3 s of every
    process that imports nbformat. Notebook validation never uses the "iri" format, so in
    processes crm-research owns (batch workers, the CLI) we mark the module absent.
    """
    if "rfc3987_syntax" not in sys.modules and "jsonschema" not in sys.modules:
        sys.modules["rfc3987_syntax"] = None  # type: ignore[assignment]


def main() -> None:  # pragma: no cover - runs in the worker subprocess
    """Worker loop: read the zygote's address, then one task per line; answer one result per line."""
    skip_slow_format_checkers()
    proto = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)  # anything printed by libraries goes to the worker log, not the protocol
    sys.stdout = sys.stderr
    from .execution import RunExecutor

    setup = json.loads(sys.stdin.readline())
    worker = RunExecutor(setup.get("zygote"))
    try:
        for line in sys.stdin:
            if not line.strip():
                continue
            task = json.loads(line)["task"]
            rec = worker.run(task)
            s = worker.pool.stats
            proto.write(json.dumps({"result": rec, "stats": {"warm": s.warm, "cold": s.cold}},
                                   ensure_ascii=False, default=str) + "\n")
            proto.flush()
    except KeyboardInterrupt:
        pass
    finally:
        worker.close()


if __name__ == "__main__":  # pragma: no cover
    main()

"""Warm kernels: pay kernel start-up and library imports once per worker, not once per run.

A fresh Jupyter kernel costs about a second to boot plus the imports of the notebook
(pandas + seaborn ~2.5 s, semopy ~3 s, pingouin ~3 s on the reference machine). For the
small notebooks of a batch that is most of the run time. Here the batch starts one
*zygote*: a clean Python process that imports ipykernel and the modules the batch's
notebooks import (found by parsing their code cells), then forks a ready kernel for each
run, whichever worker asks (over a Unix socket). A forked kernel starts in ~0.1 s with
everything already imported, yet every run still gets its own fresh process: no state
leaks from one run into the next. The imports are paid once per batch.

Safety of the fork:

* the zygote forks only between imports, never while it runs threads of its own;
* in the child, numpy's global random state is re-seeded from the OS (Python's ``random``
  does that itself at fork), so unseeded code is not accidentally correlated across runs;
* matplotlib's inline backend is chosen through ``MPLBACKEND`` exactly as ipykernel does,
  and ``matplotlib_inline`` is never imported before the kernel's shell exists;
* the kernel gets its own session and process group, and exits if the zygote goes away;
  the zygote exits (killing its kernels) when the batch process goes away.

The next kernel is forked while the current run executes, so a run normally finds its
kernel already waiting. Where fork is unavailable (Windows) or the notebook's kernel is not
this interpreter's ipykernel, :class:`KernelPool` starts ordinary kernels instead.
"""
from __future__ import annotations

import ast
import json
import os
import secrets
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

#: Modules never imported in the zygote (their runtimes are not fork-safe once initialised).
NO_PRELOAD = ("torch", "tensorflow", "jax", "ray", "pyspark", "dask.distributed", "multiprocessing",
              "matplotlib_inline", "ipywidgets", "__future__", "IPython.display")
#: Always imported in the zygote: the kernel itself.
BASE_PRELOAD = ("ipykernel.kernelapp",)


# --------------------------------------------------------------------------- what to preload
def notebook_imports(paths: Iterable[str | os.PathLike]) -> list[list[Any]]:
    """Modules imported by the code cells of notebooks, as ``[module, [names]]`` entries.

    ``import a.b`` gives ``["a.b", []]``; ``from a import b, c`` gives ``["a", ["b", "c"]]``
    (the zygote imports ``a.b`` too when it is a submodule). Relative imports, magics and
    cells that are not plain Python are skipped.
    """
    from .config import cell_source, read_notebook_json

    seen: dict[str, list[str]] = {}
    for p in paths:
        nb = read_notebook_json(p)
        for cell in nb["cells"]:
            if cell.get("cell_type") != "code":
                continue
            src = "\n".join(ln for ln in cell_source(cell).splitlines() if not ln.lstrip().startswith(("%", "!")))
            try:
                tree = ast.parse(src)
            except SyntaxError:
                continue
            for node in ast.walk(tree):
                if isinstance(node, ast.Import):
                    for a in node.names:
                        seen.setdefault(a.name, [])
                elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                    names = seen.setdefault(node.module, [])
                    names += [a.name for a in node.names if a.name != "*" and a.name not in names]
    out = []
    for mod, names in seen.items():
        if any(mod == n or mod.startswith(n + ".") for n in NO_PRELOAD):
            continue
        out.append([mod, names])
    return out


# --------------------------------------------------------------------------- zygote process
class _Conn:
    """One client connection of the zygote (a socket, or the stdin/stdout pipe pair)."""

    def __init__(self, rfd: int, wfd: int):
        self.rfd, self.wfd, self.buf = rfd, wfd, b""

    def send(self, msg: dict[str, Any]) -> None:
        data = (json.dumps(msg) + "\n").encode()
        try:
            while data:
                data = data[os.write(self.wfd, data):]
        except OSError:  # the client went away
            pass

    def lines(self) -> list[bytes] | None:
        try:
            chunk = os.read(self.rfd, 65536)
        except OSError:
            chunk = b""
        if not chunk:
            return None
        self.buf += chunk
        *out, self.buf = self.buf.split(b"\n")
        return [ln for ln in out if ln.strip()]


def _zygote_main() -> None:  # pragma: no cover - runs in a subprocess (exercised by the batch tests)
    """Entry point of the zygote process (``python -m crm_research.batch.kernels``).

    Protocol: the first line on stdin is ``{"preload": [...], "socket": path}``. The zygote
    answers ``{"event": "ready"}`` at once, then imports the preload list one module at a
    time, serving ``{"op": "spawn", ...}`` requests (from stdin or any client of the Unix
    socket) between two imports. EOF on stdin (the batch is over or its process died):
    kill every kernel forked and exit.
    """
    import socket

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the batch's business
    children: set[int] = set()

    def reap(*_: Any) -> None:
        while True:
            try:
                pid, _status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            children.discard(pid)

    signal.signal(signal.SIGCHLD, reap)
    boss = _Conn(0, 1)

    def shutdown() -> None:
        for pid in list(children):
            try:
                os.killpg(pid, signal.SIGKILL)
            except OSError:
                pass
        os._exit(0)

    first = b""
    while b"\n" not in first:
        chunk = os.read(0, 65536)
        if not chunk:
            os._exit(0)
        first += chunk
    line, boss.buf = first.split(b"\n", 1)
    setup = json.loads(line)
    queue: list[list[Any]] = [[m, []] for m in BASE_PRELOAD] + list(setup.get("preload", []))
    loaded: list[str] = []
    failed: dict[str, str] = {}
    zygote_path0 = sys.path[0] if sys.path else None
    listener = None
    if setup.get("socket"):
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(setup["socket"])
        listener.listen(64)
    clients: dict[int, tuple[Any, _Conn]] = {}
    boss.send({"event": "ready", "pid": os.getpid()})

    def handle(conn: _Conn, cmd: dict[str, Any]) -> None:
        if cmd.get("op") == "exit":
            shutdown()
        if cmd.get("op") != "spawn":
            conn.send({"event": "error", "id": cmd.get("id"), "error": f"unknown op {cmd.get('op')!r}"})
            return
        pid = os.fork()
        if pid == 0:
            close = [listener.fileno()] if listener is not None else []
            close += [c.fileno() for c, _ in clients.values()]
            _become_kernel(cmd, zygote_pid=os.getppid(), zygote_path0=zygote_path0, close_fds=close)
        children.add(pid)
        conn.send({"event": "spawned", "id": cmd.get("id"), "pid": pid, "preloaded": list(loaded),
                   "failed": dict(failed)})

    def import_one(mod: str, names: list[str]) -> None:
        import importlib
        import importlib.util

        try:
            m = importlib.import_module(mod)
            for n in names:
                if not hasattr(m, n) or isinstance(getattr(m, n, None), type(m)):
                    try:
                        if importlib.util.find_spec(f"{mod}.{n}") is not None:
                            importlib.import_module(f"{mod}.{n}")
                    except Exception:  # noqa: BLE001 - a name, not a module
                        pass
            loaded.append(mod)
        except BaseException as e:  # noqa: BLE001 - a broken module must not kill the zygote
            failed[mod] = f"{type(e).__name__}: {e}"

    while True:
        rlist = [0] + ([listener] if listener is not None else []) + [c for c, _ in clients.values()]
        ready, _, _ = select.select(rlist, [], [], 0 if queue else None)
        if not ready and queue:
            mod, names = queue.pop(0)
            import_one(mod, names)
            continue
        for r in ready:
            if r == 0:
                lines = boss.lines()
                if lines is None:
                    shutdown()
                for ln in lines:
                    handle(boss, json.loads(ln))
            elif listener is not None and r is listener:
                c, _ = listener.accept()
                clients[c.fileno()] = (c, _Conn(c.fileno(), c.fileno()))
            else:
                sock, conn = clients[r.fileno()]
                lines = conn.lines()
                if lines is None:
                    del clients[sock.fileno()]
                    sock.close()
                    continue
                for ln in lines:
                    handle(conn, json.loads(ln))


def _become_kernel(cmd: dict[str, Any], zygote_pid: int, zygote_path0: str | None,
                   close_fds: list[int] = ()) -> None:  # pragma: no cover
    """In the forked child: become an ipykernel serving ``cmd['connection_file']``."""
    code = 0
    try:
        for fd in close_fds:  # the zygote's sockets are not the kernel's business
            try:
                os.close(fd)
            except OSError:
                pass
        os.setsid()
        for sig in (signal.SIGCHLD, signal.SIGTERM, signal.SIGPIPE):
            signal.signal(sig, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        log_fd = os.open(cmd["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        null_fd = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null_fd, 0)
        os.dup2(log_fd, 1)
        os.dup2(log_fd, 2)
        os.close(null_fd)
        os.close(log_fd)
        os.chdir(cmd.get("cwd") or tempfile.gettempdir())
        os.environ["JPY_PARENT_PID"] = str(zygote_pid)
        os.environ.update(cmd.get("env") or {})
        if zygote_path0 is not None and sys.path and sys.path[0] == zygote_path0:
            sys.path[0] = ""
        if "numpy.random" in sys.modules:
            sys.modules["numpy.random"].seed()  # fresh OS entropy, as a new process would have
        sys.argv = ["crm-research-kernel", "-f", cmd["connection_file"]]
        from ipykernel.kernelapp import IPKernelApp

        app = IPKernelApp.instance()
        app.initialize(["-f", cmd["connection_file"], f"--IPKernelApp.parent_handle={zygote_pid}",
                        "--HistoryManager.enabled=False"])
        app.start()
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else 0
    except BaseException:  # noqa: BLE001
        traceback.print_exc()
        code = 1
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


# --------------------------------------------------------------------------- worker side
@dataclass
class KernelStats:
    """How kernels were obtained in this worker (for logs and benchmarks)."""

    warm: int = 0
    cold: int = 0
    wait_seconds: float = 0.0
    preloaded: list[str] = field(default_factory=list)
    preload_failed: dict[str, str] = field(default_factory=dict)


class ZygoteServer:
    """The batch's zygote process (started once per batch; workers connect to its socket)."""

    def __init__(self, preload: list[list[Any]]):
        self.tmpdir = Path(tempfile.mkdtemp(prefix="crmz-"))
        self.socket = str(self.tmpdir / "z.sock")
        env = dict(os.environ)
        env.setdefault("MPLBACKEND", "module://matplotlib_inline.backend_inline")
        env["PYTHONUNBUFFERED"] = "1"
        self.log_path = self.tmpdir / "zygote.log"
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([sys.executable, "-m", "crm_research.batch.kernels"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self._log, cwd=str(self.tmpdir), env=env,
                                     close_fds=True)
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write((json.dumps({"preload": preload, "socket": self.socket}) + "\n").encode())
        self.proc.stdin.flush()
        r, _, _ = select.select([self.proc.stdout], [], [], 60)
        line = self.proc.stdout.readline() if r else b""
        if not line or json.loads(line).get("event") != "ready":
            self.close()
            raise RuntimeError(f"kernel zygote did not start (see {self.log_path})")

    def close(self) -> None:
        try:
            if self.proc.poll() is None and self.proc.stdin:
                self.proc.stdin.close()  # EOF: the zygote kills its kernels and exits
                self.proc.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()
        finally:
            self._log.close()
            shutil.rmtree(self.tmpdir, ignore_errors=True)


class _ZygoteClient:
    """A worker's connection to the batch's zygote."""

    def __init__(self, socket_path: str):
        import socket

        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(socket_path)
        self._buf = b""
        self.preloaded: list[str] = []
        self.failed: dict[str, str] = {}

    def request_spawn(self, ident: int, connection_file: str, log: str, cwd: str) -> None:
        """Ask for a kernel; the zygote forks it between two imports (see :meth:`spawned`)."""
        msg = {"op": "spawn", "id": ident, "connection_file": connection_file, "log": log, "cwd": cwd}
        self.sock.sendall((json.dumps(msg) + "\n").encode())

    def spawned(self, ident: int, timeout: float = 120) -> int:
        """Pid of the kernel requested as ``ident`` (waits for the zygote's answer)."""
        deadline = time.monotonic() + timeout
        while True:
            while b"\n" not in self._buf:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"kernel zygote did not fork a kernel within {timeout:.0f} s")
                r, _, _ = select.select([self.sock], [], [], left)
                if r:
                    chunk = self.sock.recv(65536)
                    if not chunk:
                        raise RuntimeError("kernel zygote exited")
                    self._buf += chunk
            line, self._buf = self._buf.split(b"\n", 1)
            ev = json.loads(line)
            if ev.get("event") == "error":
                raise RuntimeError(ev.get("error"))
            if ev.get("event") == "spawned" and ev.get("id") == ident:
                self.preloaded = ev.get("preloaded", [])
                self.failed = ev.get("failed", {})
                return int(ev["pid"])

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass


@dataclass
class _Spare:
    ident: int
    connection_file: str
    log: str
    pid: int | None = None


def _provisioner_class():
    from jupyter_client.provisioning.provisioner_base import KernelProvisionerBase

    class ForkedKernelProvisioner(KernelProvisionerBase):  # type: ignore[misc,valid-type]
        """Manages a kernel forked by a zygote: it is not our child, so poll by pid."""

        pid: int | None = None

        @property
        def has_process(self) -> bool:
            return self.pid is not None

        def _alive(self) -> bool:
            if self.pid is None:
                return False
            try:
                with open(f"/proc/{self.pid}/stat", "rb") as f:
                    return f.read().split(b") ", 1)[1][:1] not in (b"Z", b"X")
            except FileNotFoundError:
                return False
            except OSError:
                try:
                    os.kill(self.pid, 0)
                    return True
                except OSError:
                    return False

        async def poll(self) -> int | None:
            return None if self._alive() else 0

        async def wait(self) -> int | None:
            import asyncio

            while self._alive():
                await asyncio.sleep(0.02)
            self.pid = None
            return 0

        async def send_signal(self, signum: int) -> None:
            if self.pid is not None:
                try:
                    os.killpg(self.pid, signum)
                except OSError:
                    pass

        async def kill(self, restart: bool = False) -> None:
            await self.send_signal(signal.SIGKILL)

        async def terminate(self, restart: bool = False) -> None:
            await self.send_signal(signal.SIGTERM)

        async def launch_kernel(self, cmd: list[str], **kwargs: Any):  # pragma: no cover - never relaunched
            raise RuntimeError("a forked kernel cannot be relaunched")

        async def cleanup(self, restart: bool = False) -> None:
            pass

    return ForkedKernelProvisioner


_CLASSES: dict[str, Any] = {}


def _fast_client_class():
    if "client" in _CLASSES:
        return _CLASSES["client"]
    from queue import Empty

    from jupyter_client.asynchronous import AsyncKernelClient

    class _BatchKernelClient(AsyncKernelClient):  # type: ignore[misc,valid-type]
        """Kernel client whose readiness check does not idle.

        The stock ``wait_for_ready`` ends by waiting until IOPub has been silent for 0.2 s,
        which for a kernel that is already up is pure waiting, paid by every run. Leftover
        status messages are harmless: nbclient matches IOPub messages to its requests.
        """

        async def wait_for_ready(self, timeout: float | None = None) -> None:
            deadline = time.monotonic() + (timeout if timeout is not None else 1e9)
            while True:
                self.kernel_info()
                try:
                    msg = await self.shell_channel.get_msg(timeout=0.5)
                except Empty:
                    msg = None
                if msg is not None and msg["msg_type"] == "kernel_info_reply":
                    try:  # IOPub connected? (the kernel published its busy/idle status to us)
                        await self.iopub_channel.get_msg(timeout=0.2)
                    except Empty:
                        pass
                    else:
                        self._handle_kernel_info_reply(msg)
                        return
                if not await self._async_is_alive():
                    raise RuntimeError("Kernel died before replying to kernel_info")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"Kernel didn't respond in {timeout:.0f} seconds")

    _CLASSES["client"] = _BatchKernelClient
    return _BatchKernelClient


def _fast_shutdown_manager_class():
    if "manager" in _CLASSES:
        return _CLASSES["manager"]
    from jupyter_client.manager import AsyncKernelManager

    class _BatchKernelManager(AsyncKernelManager):  # type: ignore[misc,valid-type]
        """Shut down by killing the process group: the run is over, nothing to save.

        (The stock shutdown interrupts first and waits for a reply, which costs time and
        logs a spurious KeyboardInterrupt in the kernel.) Uses the non-idling client.
        """

        def client(self, **kwargs: Any):
            kw = dict(self.get_connection_info(session=True))
            kw.update(connection_file=self.connection_file, parent=self)
            kw.update(kwargs)
            return _fast_client_class()(**kw)

        async def _async_shutdown_kernel(self, now: bool = False, restart: bool = False) -> None:
            self.shutting_down = True
            if self.has_kernel:
                try:
                    await self._async_kill_kernel()
                except Exception:  # noqa: BLE001 - already gone
                    pass
            await self._async_cleanup_resources(restart=restart)

        shutdown_kernel = _async_shutdown_kernel

    _CLASSES["manager"] = _BatchKernelManager
    return _BatchKernelManager


def _python_kernel(name: str) -> bool:
    """Whether kernel ``name`` is this interpreter's ipykernel (so a fork can stand in for it)."""
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        spec = KernelSpecManager().get_kernel_spec(name)
    except NoSuchKernel:
        return False
    if (spec.language or "").lower() != "python" or not spec.argv:
        return False
    exe = spec.argv[0]
    if exe in ("python", "python3", "{python}", sys.executable):
        return "ipykernel_launcher" in " ".join(spec.argv) or "ipykernel" in " ".join(spec.argv)
    try:
        return Path(exe).resolve() == Path(sys.executable).resolve()
    except OSError:
        return False


class KernelPool:
    """Hands out started kernels: forked from a warm zygote when possible, else fresh.

    Parameters
    ----------
    zygote : str or None
        Socket of the batch's :class:`ZygoteServer`; None disables warm kernels (every run
        starts an ordinary kernel).
    """

    def __init__(self, zygote: str | None):
        self.tmpdir = Path(tempfile.mkdtemp(prefix="crmk-"))
        self.stats = KernelStats()
        self._zygote: _ZygoteClient | None = None
        self._spare: _Spare | None = None
        self._n = 0
        self._warm_ok: dict[str, bool] = {}
        self.warm = zygote is not None and hasattr(os, "fork") and sys.platform != "win32"
        if self.warm:
            try:
                self._zygote = _ZygoteClient(zygote)  # type: ignore[arg-type]
            except OSError as e:  # fall back to ordinary kernels
                self.warm = False
                self.stats.preload_failed["<zygote>"] = str(e)

    # -- forked kernels
    def _fork(self) -> _Spare:
        """Request a kernel from the zygote without waiting for it."""
        assert self._zygote is not None
        from jupyter_client.connect import write_connection_file

        self._n += 1
        base = self.tmpdir / f"k{self._n}"
        cf = str(base) + ".json"
        write_connection_file(cf, ip=str(base), transport="ipc", key=secrets.token_hex(32).encode(),
                              kernel_name="python3")
        log = str(base) + ".log"
        self._zygote.request_spawn(self._n, cf, log, str(self.tmpdir))
        return _Spare(self._n, cf, log)

    def _adopt(self, spare: _Spare, kernel_name: str):
        from jupyter_client.kernelspec import KernelSpecManager

        km = _fast_shutdown_manager_class()(kernel_name=kernel_name, connection_file=spare.connection_file)
        km.load_connection_file(spare.connection_file)
        spec = KernelSpecManager().get_kernel_spec(kernel_name)
        prov = _provisioner_class()(kernel_id=Path(spare.connection_file).stem, kernel_spec=spec, parent=km)
        prov.pid = spare.pid
        km.provisioner = prov
        km.kernel_log = spare.log  # type: ignore[attr-defined]
        return km

    def acquire(self, kernel_name: str, cwd: str, env: dict[str, str]):
        """A started kernel manager for one run (kernel already booting or ready).

        ``cwd`` and ``env`` apply to ordinary kernels; forked kernels get them through the
        run's setup code (see :func:`setup_code`).
        """
        if kernel_name not in self._warm_ok:
            self._warm_ok[kernel_name] = self.warm and _python_kernel(kernel_name)
        if self._warm_ok[kernel_name] and self._zygote is not None:
            t = time.perf_counter()
            try:
                spare = self._spare or self._fork()
                self._spare = None
                spare.pid = self._zygote.spawned(spare.ident)
                km = self._adopt(spare, kernel_name)
                self._spare = self._fork()  # forked and booting while this run executes
                self.stats.warm += 1
                self.stats.wait_seconds += time.perf_counter() - t
                self.stats.preloaded = list(self._zygote.preloaded)
                self.stats.preload_failed = dict(self._zygote.failed)
                km.preloaded = len(self.stats.preloaded)  # type: ignore[attr-defined]
                return km
            except Exception as e:  # noqa: BLE001 - zygote gone: fall back
                self.stats.preload_failed["<zygote>"] = f"{type(e).__name__}: {e}"
                self._warm_ok = {k: False for k in self._warm_ok}
                self.warm = False
        from jupyter_core.utils import run_sync

        t = time.perf_counter()
        self._n += 1
        base = self.tmpdir / f"c{self._n}"
        km = _fast_shutdown_manager_class()(kernel_name=kernel_name, transport="ipc", ip=str(base),
                                            connection_file=str(base) + ".json")
        log_path = str(base) + ".log"
        with open(log_path, "ab") as log:  # the kernel's own output goes to the run log, not our terminal
            run_sync(km.start_kernel)(cwd=cwd, env={**os.environ, **env}, stdout=log, stderr=log)
        km.kernel_log = log_path  # type: ignore[attr-defined]
        self.stats.cold += 1
        self.stats.wait_seconds += time.perf_counter() - t
        return km

    def close(self) -> None:
        if self._spare is not None:  # forked for a run that will not come
            try:
                pid = self._zygote.spawned(self._spare.ident, timeout=30) if self._zygote else None
                if pid:
                    os.killpg(pid, signal.SIGKILL)
            except (OSError, RuntimeError, TimeoutError):
                pass
            self._spare = None
        if self._zygote is not None:
            self._zygote.close()
            self._zygote = None
        shutil.rmtree(self.tmpdir, ignore_errors=True)


def setup_code(cwd: str, env: dict[str, str], sys_path: list[str]) -> str:
    """Code run silently in a kernel before the notebook: working folder, environment,
    import path. Values are embedded with ``repr`` (literals), names cleaned up afterwards."""
    return (
        "def __crm_research_setup(cwd, env, paths):\n"
        "    import os, sys\n"
        "    os.chdir(cwd)\n"
        "    os.environ.update(env)\n"
        "    for p in reversed(paths):\n"
        "        if p not in sys.path:\n"
        "            sys.path.insert(0, p)\n"
        f"__crm_research_setup({cwd!r}, {dict(env)!r}, {list(sys_path)!r})\n"
        "del __crm_research_setup\n"
    )


if __name__ == "__main__":  # pragma: no cover
    _zygote_main()

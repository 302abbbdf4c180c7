"""Provenance of a result: what went in, which code produced it, and when.

Every report ends with a provenance block so that a reader can reproduce (or question) it:
the parameters, the SHA-256 of every input file, the versions of Python and the analysis
stack, the git revision of the project (and whether the work tree had uncommitted
changes), the random seed, and start / end timestamps (UTC). It records no host name,
user name or home folder: paths are shown relative to the project folder (or ``~/...``).

Examples
--------
>>> import pandas as pd
>>> p = provenance({"n": 500, "seed": 1}, seed=1)
>>> p.seed, p.versions["pandas"] == pd.__version__
(1, True)
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import html
import os
import platform
import subprocess
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

#: Distributions whose versions every provenance block lists (``python`` is the interpreter).
PACKAGES = ("python", "crm-research", "pandas", "numpy", "scipy", "semopy", "pingouin", "duckdb",
            "papermill", "seaborn")
PROJECT_DIR_ENV = "CRM_RESEARCH_PROJECT_DIR"
STARTED_ENV = "CRM_RESEARCH_RUN_STARTED"
RUN_ENV = "CRM_RESEARCH_RUN"
BATCH_ENV = "CRM_RESEARCH_BATCH"

_IMPORT_TIME = time.time()
_HASH_CACHE: dict[tuple[str, int, int], str] = {}


def _utc(ts: float) -> str:
    return _dt.datetime.fromtimestamp(ts, _dt.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def file_sha256(path: str | os.PathLike) -> str:
    """SHA-256 (hex) of a file's bytes, streamed; cached per (path, size, mtime)."""
    p = Path(path)
    st = p.stat()
    key = (str(p.resolve()), st.st_size, st.st_mtime_ns)
    if key not in _HASH_CACHE:
        h = hashlib.sha256()
        with open(p, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        _HASH_CACHE[key] = h.hexdigest()
    return _HASH_CACHE[key]


def tree_sha256(path: str | os.PathLike) -> str:
    """SHA-256 over a folder: sorted relative file names and their contents' hashes."""
    root = Path(path)
    h = hashlib.sha256()
    for p in sorted(q for q in root.rglob("*") if q.is_file()):
        rel = p.relative_to(root).as_posix()
        if any(part.startswith(".") for part in Path(rel).parts):  # .git, .ipynb_checkpoints ...
            continue
        h.update(rel.encode() + b"\0" + file_sha256(p).encode() + b"\n")
    return h.hexdigest()


def package_versions(names: Iterable[str] = PACKAGES) -> dict[str, str | None]:
    """Installed versions (None when a package is not installed)."""
    from importlib import metadata

    out: dict[str, str | None] = {}
    for name in names:
        if name == "python":
            out[name] = platform.python_version()
            continue
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def git_state(path: str | os.PathLike | None = None) -> dict[str, Any]:
    """``{"revision": sha or None, "dirty": bool or None}`` of the git work tree holding ``path``.

    No git installed, or ``path`` not inside a repository: both None. ``dirty`` ignores
    untracked files (generated reports are usually git-ignored anyway).
    """
    cwd = str(path or os.getcwd())
    try:
        rev = subprocess.run(["git", "-C", cwd, "rev-parse", "HEAD"], capture_output=True, text=True,
                             timeout=10)
        if rev.returncode != 0:
            return {"revision": None, "dirty": None}
        st = subprocess.run(["git", "-C", cwd, "status", "--porcelain", "--untracked-files=no"],
                            capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return {"revision": None, "dirty": None}
    dirty = bool(st.stdout.strip()) if st.returncode == 0 else None
    return {"revision": rev.stdout.strip() or None, "dirty": dirty}


def project_dir() -> Path:
    """The folder paths are shown relative to: ``$CRM_RESEARCH_PROJECT_DIR``, else the git
    work tree of the current folder, else the current folder."""
    env = os.environ.get(PROJECT_DIR_ENV)
    if env:
        return Path(env)
    try:
        top = subprocess.run(["git", "rev-parse", "--show-toplevel"], capture_output=True, text=True, timeout=10)
        if top.returncode == 0 and top.stdout.strip():
            return Path(top.stdout.strip())
    except (OSError, subprocess.SubprocessError):
        pass
    return Path.cwd()


def display_path(path: str | os.PathLike, root: str | os.PathLike | None = None) -> str:
    """A path as shown in reports: relative to ``root`` (project folder) when inside it,
    ``~/...`` when inside the home folder, else absolute. Never reveals the user name."""
    p = Path(os.path.abspath(os.path.expanduser(str(path))))
    base = Path(os.path.abspath(str(root if root is not None else project_dir())))
    try:
        return p.relative_to(base).as_posix()
    except ValueError:
        pass
    try:
        return "~/" + p.relative_to(Path.home()).as_posix()
    except (ValueError, RuntimeError):
        return p.as_posix()


def _looks_like_file(v: Any) -> bool:
    if not isinstance(v, (str, os.PathLike)) or not str(v) or "\n" in str(v) or len(str(v)) > 4096:
        return False
    try:
        return Path(os.path.expanduser(str(v))).is_file()
    except OSError:
        return False


def _plain(v: Any, root: Path) -> Any:
    """Parameters as JSON-able values; file paths shown relative to the project."""
    if isinstance(v, os.PathLike):
        v = os.fspath(v)
    if isinstance(v, str):
        return display_path(v, root) if os.path.isabs(os.path.expanduser(v)) and _looks_like_file(v) else v
    if v is None or isinstance(v, (bool, int, float)):
        return v
    if hasattr(v, "item") and getattr(v, "shape", None) == ():
        return v.item()
    if isinstance(v, Mapping):
        return {str(k): _plain(x, root) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_plain(x, root) for x in v]
    r = repr(v)
    return r if len(r) <= 200 else r[:197] + "..."


@dataclass
class DataFile:
    """One input: a file (path as shown, project-relative) or data held in memory (a label such
    as ``"orders (simulated, in memory)"``), its SHA-256 and size in bytes."""

    path: str
    sha256: str
    bytes: int

    @property
    def name(self) -> str:
        """The last component of :attr:`path` (as :attr:`pathlib.Path.name`)."""
        return Path(self.path).name


def frame_bytes(df: Any) -> bytes:
    """The canonical bytes of a DataFrame's contents: UTF-8 CSV, columns sorted by name, no index,
    ``\\n`` line ends, ISO dates, floats in round-trip precision. Same contents, same bytes,
    whatever the column order, the memory layout or the pandas version's Parquet writer."""
    cols = sorted(df.columns, key=str)
    return df[cols].to_csv(index=False, lineterminator="\n", date_format="%Y-%m-%dT%H:%M:%S.%f").encode("utf-8")


def frame_sha256(df: Any) -> str:
    """SHA-256 of a DataFrame's contents (:func:`frame_bytes`): the checksum of data held in memory.

    Examples
    --------
    >>> import pandas as pd
    >>> a = pd.DataFrame({"x": [1, 2], "y": ["a", "b"]})
    >>> frame_sha256(a) == frame_sha256(a[["y", "x"]])      # column order does not matter
    True
    >>> frame_sha256(a) == frame_sha256(a.assign(x=[1, 3]))  # contents do
    False
    >>> import hashlib
    >>> frame_sha256(a) == hashlib.sha256(b"x,y\\n1,a\\n2,b\\n").hexdigest()   # the CSV of its contents
    True
    """
    return hashlib.sha256(frame_bytes(df)).hexdigest()


def frame_input(df: Any, label: str) -> DataFile:
    """A :class:`DataFile` for data analysed in memory (e.g. simulated), for :func:`provenance`.

    Examples
    --------
    >>> import pandas as pd
    >>> f = frame_input(pd.DataFrame({"x": [1, 2]}), "orders (simulated, in memory)")
    >>> f.path, f.bytes, len(f.sha256)
    ('orders (simulated, in memory)', 6, 64)
    """
    raw = frame_bytes(df)
    return DataFile(str(label), hashlib.sha256(raw).hexdigest(), len(raw))


@dataclass
class Provenance:
    """What produced a result. Render with ``_repr_html_`` (notebooks) or :meth:`to_dict`.

    Attributes
    ----------
    parameters : dict
        The run's parameters (file paths shown relative to the project).
    data_files : list of DataFile
        Input files with SHA-256.
    versions : dict
        ``python`` and package versions (None = not installed).
    git : dict
        ``revision`` (commit SHA or None) and ``dirty`` (uncommitted changes, or None).
    seed : int or None
    started, finished : str
        ISO-8601 UTC timestamps (start of the run / of the kernel; time of this call).
    platform : str
        OS and architecture, e.g. ``Linux-x86_64`` (no host name).
    run, batch : str or None
        Batch run and batch names when executed by ``crm-research batch``.
    """

    parameters: dict[str, Any]
    data_files: list[DataFile]
    versions: dict[str, str | None]
    git: dict[str, Any]
    seed: int | None
    started: str
    finished: str
    platform: str
    run: str | None = None
    batch: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (JSON-serialisable)."""
        return asdict(self)

    @property
    def duration_seconds(self) -> float | None:
        try:
            a = _dt.datetime.fromisoformat(self.started.replace("Z", "+00:00"))
            b = _dt.datetime.fromisoformat(self.finished.replace("Z", "+00:00"))
            return (b - a).total_seconds()
        except ValueError:
            return None

    def _git_text(self) -> str:
        rev = self.git.get("revision")
        if not rev:
            return "not under version control"
        return rev + (" (uncommitted changes)" if self.git.get("dirty") else "")

    def summary(self) -> str:
        """Readable plain-text block."""
        lines = ["Provenance"]
        if self.batch or self.run:
            lines.append(f"  run          {self.batch or '-'} / {self.run or '-'}")
        for k, v in self.parameters.items():
            lines.append(f"  parameter    {k} = {v!r}")
        for f in self.data_files:
            lines.append(f"  input        {f.path}  sha256:{f.sha256}  ({f.bytes:,} bytes)")
        lines.append(f"  seed         {self.seed if self.seed is not None else 'none'}")
        lines.append(f"  code         {self._git_text()}")
        lines.append("  versions     " + ", ".join(f"{k} {v}" for k, v in self.versions.items() if v))
        lines.append(f"  platform     {self.platform}")
        lines.append(f"  started      {self.started}")
        lines.append(f"  finished     {self.finished}")
        return "\n".join(lines)

    __str__ = summary

    def _repr_html_(self) -> str:
        e = html.escape
        th = 'style="text-align:left;font-weight:600;color:#616e7c;padding:2px 14px 2px 0;vertical-align:top;white-space:nowrap"'
        td = 'style="padding:2px 0;vertical-align:top;word-break:break-all"'
        rows = []
        if self.batch or self.run:
            rows.append(("Run", e(f"{self.batch or '—'} / {self.run or '—'}")))
        if self.parameters:
            rows.append(("Parameters", "<br>".join(f"<code>{e(str(k))}</code> = <code>{e(repr(v))}</code>"
                                                     for k, v in self.parameters.items())))
        if self.data_files:
            rows.append(("Input files", "<br>".join(
                f"<code>{e(f.path)}</code> <span style='color:#616e7c'>({f.bytes:,} bytes)</span><br>"
                f"<code style='font-size:11px;color:#616e7c'>sha256 {e(f.sha256)}</code>" for f in self.data_files)))
        rows.append(("Seed", e(str(self.seed)) if self.seed is not None else "none"))
        rows.append(("Code", f"<code>{e(self._git_text())}</code>"))
        rows.append(("Versions", ", ".join(f"{e(k)}&nbsp;{e(v)}" for k, v in self.versions.items() if v)))
        rows.append(("Platform", e(self.platform)))
        dur = self.duration_seconds
        rows.append(("Time (UTC)", f"{e(self.started)} → {e(self.finished)}"
                     + (f" ({dur:,.0f} s)" if dur is not None else "")))
        body = "".join(f"<tr><th {th}>{k}</th><td {td}>{v}</td></tr>" for k, v in rows)
        return ('<div class="crm-provenance" style="margin:28px 0 10px;border:1px solid #d9e2ec;'
                'border-radius:8px;padding:12px 16px;background:#f5f7fa;font-size:13px">'
                '<h4 style="margin:0 0 8px;font-size:14px">Provenance</h4>'
                f'<table style="border-collapse:collapse">{body}</table></div>')


def _started() -> str:
    env = os.environ.get(STARTED_ENV)
    if env:
        return env
    try:
        import psutil

        return _utc(psutil.Process().create_time())
    except Exception:  # noqa: BLE001 - psutil missing or restricted: import time is close enough
        return _utc(_IMPORT_TIME)


def provenance(parameters: Mapping[str, Any] | None = None, data_files: Iterable[Any] = (),
               seed: int | None = None, *, data_frames: Mapping[str, Any] | None = None,
               packages: Iterable[str] = PACKAGES) -> Provenance:
    """Collect the provenance of the current analysis.

    Parameters
    ----------
    parameters : dict, optional
        The notebook's parameters. String values naming existing files are hashed as
        inputs too (so passing the parameters usually suffices).
    data_files : list of paths, optional
        Further input files to hash. :class:`DataFile` entries (e.g. from :func:`frame_input`)
        are recorded as they are; a DataFrame is hashed (:func:`frame_sha256`) and labelled
        ``data frame 1`` ...
    data_frames : dict, optional
        Data analysed in memory (simulated, say), ``{label: DataFrame}``: the checksum of the
        data actually analysed is recorded whether or not they came from a file.
    seed : int, optional
        The random seed used (taken from ``parameters["seed"]`` when not given).
    packages : list of str
        Distributions whose versions to list.

    Returns
    -------
    Provenance
    """
    root = project_dir()
    params = dict(parameters or {})
    if seed is None and isinstance(params.get("seed"), int) and not isinstance(params.get("seed"), bool):
        seed = params["seed"]
    memory: list[DataFile] = []
    explicit = []
    for f in data_files:
        if isinstance(f, DataFile):
            memory.append(f)
        elif hasattr(f, "columns") and hasattr(f, "to_csv"):
            memory.append(frame_input(f, f"data frame {len(memory) + 1}"))
        else:
            explicit.append(os.fspath(f))
    memory += [frame_input(df, label) for label, df in (data_frames or {}).items() if df is not None]
    for f in explicit:
        if not _looks_like_file(f):
            raise FileNotFoundError(f"provenance: input file {f!r} not found")
    files: list[Path] = []
    for v in list(params.values()) + explicit:
        for c in (v if isinstance(v, (list, tuple)) else [v]):
            if _looks_like_file(c):
                p = Path(os.path.abspath(os.path.expanduser(os.fspath(c))))
                if p not in files:
                    files.append(p)
    dfs = [DataFile(display_path(p, root), file_sha256(p), p.stat().st_size) for p in files] + memory
    plat = f"{platform.system()}-{platform.machine()}"
    return Provenance(
        parameters={str(k): _plain(v, root) for k, v in params.items()}, data_files=dfs,
        versions=package_versions(packages), git=git_state(root), seed=seed, started=_started(),
        finished=_utc(time.time()), platform=plat, run=os.environ.get(RUN_ENV),
        batch=os.environ.get(BATCH_ENV))

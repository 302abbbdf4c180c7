"""Batch configuration: parse and validate a batch YAML, expand grids, check parameters.

A batch config lists runs, each a notebook with a parameter set::

    batch: demo                       # name -> reports/demo (default: the file's stem)
    title: Replication of the SEM study on three synthetic samples
    description: Five notebooks x three samples.
    workers: 2                        # default: number of cores (CLI --workers wins)
    timeout: 900                      # seconds per cell (default: none)
    preload: [semopy]                 # extra modules for warm kernels, or false
    shared: [/mnt/crm-data]           # folders every dask worker mounts at the same path:
                                      # inputs there are read in place, not shipped with the run
    defaults:                         # shared parameters (given to notebooks declaring them)
      instrument_path: ../surveys/ecommerce_crm.yaml
      seed: 20240501
    runs:
      - notebook: 01_instrument_and_data_quality.ipynb        # relative to this file
        name: sample-n500                               # optional (derived otherwise)
        parameters: {n: 500}
      - notebooks: [01_measurement.ipynb, 02_ops.ipynb]  # several notebooks, same sets
        sets:                                           # named parameter sets
          n250: {n: 250}
          n1000: {n: 1000, seed: 7}
      - notebook: 01_measurement.ipynb
        grid: {n: [250, 500], careless_share: [0.0, 0.1]}   # cartesian product: 4 runs
        name: "grid-n{n}-c{careless_share}"             # template over notebook, set, parameters
      - notebook: 01_instrument_and_data_quality.ipynb
        parameters: {population_path: missing.yaml}
        expect: failure                                 # a deliberate failure, labelled as such

Rules checked here, before anything runs (each violation is a
:class:`~crm_research.errors.ConfigError` naming the file, the run and the key):

* every parameter name is declared in the notebook's ``parameters`` cell, and its value has
  the declared type (annotation, ``# type:`` comment, or the type of the literal default);
  a ``defaults`` entry must be declared by at least one notebook of the batch;
* values are data: strings, numbers, booleans, null, lists and mappings of those (YAML
  dates become ISO strings); the exact code injected into the notebook (see
  :func:`parameters_source`) is parsed back and must be plain literal assignments equal to
  the values (so quotes, newlines or ``__import__`` in a string stay text);
* relative paths are resolved against the config file's folder: values of parameters
  named ``*_path``, ``*_file``, ``*_dir``, ``*_paths``, ``*_files`` (which must exist, except
  for names starting with ``out``: outputs, not inputs), and any other string naming an
  existing file or folder there; existing inputs are hashed for skip decisions;
  relative *defaults* of such parameters in the notebook are resolved against the notebook's
  folder, as Jupyter would (runs execute in their own output folder);
* run names are unique and file-system safe.
"""
from __future__ import annotations

import ast
import datetime as _dt
import difflib
import itertools
import json
import keyword
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

import yaml

from ..errors import ConfigError

TOP_KEYS = ("batch", "title", "description", "out", "workers", "timeout", "kernel", "preload",
            "shared", "defaults", "runs")
RUN_KEYS = ("notebook", "notebooks", "name", "description", "parameters", "grid", "sets", "expect")
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-]{0,119}$")
_PATH_SUFFIXES = ("_path", "_file", "_dir", "_folder", "_paths", "_files", "_dirs")
_PATH_NAMES = {"path", "file", "data", "data_file", "input", "inputs"}


# --------------------------------------------------------------------------- data classes
@dataclass(frozen=True)
class NotebookParameter:
    """A parameter declared in a notebook's ``parameters`` cell.

    ``type_name`` is the annotation / type comment, or the type of the literal default,
    or None when unknown (then any value is accepted).
    """

    name: str
    type_name: str | None
    default: str
    help: str = ""
    value: Any = None       # the default as a Python value, when it is a literal
    literal: bool = False


@dataclass
class RunSpec:
    """One run: a notebook and its parameter values.

    Attributes
    ----------
    name : str
        Unique, file-system safe run name.
    notebook : Path
        Absolute notebook path.
    notebook_label : str
        The notebook as written in the config (for display).
    parameters : dict
        Values as written (paths relative), for display and the results table.
    resolved : dict
        Values injected into the notebook (relative paths made absolute).
    inputs : list of Path
        Existing files / folders referenced by the values (hashed for skip decisions).
    kernel : str
        Kernel name.
    entry : int
        Index of the ``runs`` entry that produced this run.
    description : str or None
    expect_failure : bool
        The run is a deliberate, labelled failure.
    """

    name: str
    notebook: Path
    notebook_label: str
    parameters: dict[str, Any]
    resolved: dict[str, Any]
    inputs: list[Path]
    kernel: str
    entry: int
    description: str | None = None
    expect_failure: bool = False
    set_label: str | None = None


@dataclass
class BatchConfig:
    """A validated batch configuration (see module docstring)."""

    path: Path
    name: str
    title: str | None
    description: str | None
    out: Path | None
    workers: int | None
    timeout: float | None
    kernel: str | None
    preload: list[str] | bool
    runs: list[RunSpec] = field(default_factory=list)
    shared: list[Path] = field(default_factory=list)

    @property
    def folder(self) -> Path:
        return self.path.parent

    def notebooks(self) -> list[Path]:
        seen: list[Path] = []
        for r in self.runs:
            if r.notebook not in seen:
                seen.append(r.notebook)
        return seen

    def __repr__(self) -> str:
        return f"BatchConfig({self.name!r}, {len(self.runs)} runs, {len(self.notebooks())} notebooks)"


# --------------------------------------------------------------------------- notebook inspection
_NB_CACHE: dict[tuple[str, int], tuple[dict[str, NotebookParameter], str, str, bool]] = {}


def _literal(node: ast.AST) -> tuple[bool, Any]:
    try:
        return True, ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False, None


def _parse_parameters_cell(source: str) -> dict[str, NotebookParameter] | None:
    """Parameters from the cell's assignments (ast); None if the cell is not plain Python.

    We parse with ``ast`` rather than papermill's line regex because the regex drops
    annotated parameters such as ``x: str | None = None`` and mis-reads multi-line literals.
    """
    lines = [ln for ln in source.splitlines() if not ln.lstrip().startswith(("%", "!"))]
    text = "\n".join(lines)
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return None
    src_lines = text.splitlines()
    out: dict[str, NotebookParameter] = {}
    for node in tree.body:
        target, annotation, value, comment = None, None, None, ""
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            target, annotation, value = node.target.id, ast.unparse(node.annotation), node.value
        elif isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            target, value = node.targets[0].id, node.value
        else:
            continue
        end_line = src_lines[(node.end_lineno or node.lineno) - 1]
        if "#" in end_line:
            comment = end_line.split("#", 1)[1].strip()
        m = re.match(r"type:\s*(\S+)\s*(.*)", comment)
        if m and annotation is None:
            annotation, comment = m.group(1), m.group(2)
        type_name = annotation
        default_src = ast.unparse(value) if value is not None else ""
        ok, v = _literal(value) if value is not None else (False, None)
        if type_name is None and ok and v is not None:
            type_name = type(v).__name__
        out[target] = NotebookParameter(target, type_name, default_src, comment, v if ok else None, ok)
    return out


def notebook_parameters(path: str | os.PathLike) -> dict[str, NotebookParameter]:
    """Declared parameters of a notebook (its cell tagged ``parameters``).

    Returns an empty dict when the notebook has no such cell.
    """
    return _inspect_notebook(Path(path))[0]


def read_notebook_json(path: str | os.PathLike) -> dict[str, Any]:
    """A notebook file as plain JSON (no nbformat import: the parent process stays light)."""
    with open(path, encoding="utf-8") as f:
        nb = json.load(f)
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        raise ValueError("not a Jupyter notebook (no 'cells' list)")
    if int(nb.get("nbformat", 4)) < 4:
        raise ValueError(f"notebook format {nb.get('nbformat')} is too old; open and save it in Jupyter")
    return nb


def cell_source(cell: Mapping[str, Any]) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else str(src)


def _inspect_notebook(path: Path) -> tuple[dict[str, NotebookParameter], str, str, bool]:
    """(parameters, kernel name, language, has parameters cell), cached per file version."""
    st = path.stat()
    key = (str(path.resolve()), st.st_mtime_ns)
    if key in _NB_CACHE:
        return _NB_CACHE[key]
    nb = read_notebook_json(path)
    meta = nb.get("metadata", {}) or {}
    ks = meta.get("kernelspec", {}) or {}
    kernel = ks.get("name") or "python3"
    language = (ks.get("language") or (meta.get("language_info", {}) or {}).get("name") or "python").lower()
    cell = next((c for c in nb["cells"] if "parameters" in (c.get("metadata", {}) or {}).get("tags", [])), None)
    params: dict[str, NotebookParameter] = {}
    if cell is not None:
        parsed = _parse_parameters_cell(cell_source(cell))
        if parsed is None:
            raise ValueError("its 'parameters' cell is not plain Python assignments")
        params = parsed
    _NB_CACHE[key] = (params, kernel, language, cell is not None)
    return _NB_CACHE[key]


# --------------------------------------------------------------------------- types
def _accepts(type_name: str | None, value: Any) -> bool:
    """Whether ``value`` (a YAML/JSON value) fits the declared type."""
    if type_name is None:
        return True
    try:
        expr = ast.parse(type_name, mode="eval").body
    except SyntaxError:
        return True  # an annotation we cannot read: do not block the run
    return _fits(expr, value)


def _fits(node: ast.AST, v: Any) -> bool:
    if isinstance(node, ast.Constant):
        if node.value is None:
            return v is None
        if isinstance(node.value, str):  # "int" written as a string annotation
            return _accepts(node.value, v)
        return True
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        return _fits(node.left, v) or _fits(node.right, v)
    if isinstance(node, ast.Attribute):
        node = ast.Name(id=node.attr)
    if isinstance(node, ast.Name):
        n = node.id
        if n in ("int",):
            return isinstance(v, int) and not isinstance(v, bool)
        if n in ("float",):
            return isinstance(v, (int, float)) and not isinstance(v, bool)
        if n in ("str", "Path", "PathLike", "PurePath"):
            return isinstance(v, str)
        if n == "bool":
            return isinstance(v, bool)
        if n in ("list", "List", "tuple", "Tuple", "Sequence", "set", "Set"):
            return isinstance(v, list)
        if n in ("dict", "Dict", "Mapping"):
            return isinstance(v, dict)
        if n in ("None", "NoneType"):
            return v is None
        return True  # Any, object, custom types: cannot check
    if isinstance(node, ast.Subscript):
        base = node.value.attr if isinstance(node.value, ast.Attribute) else getattr(node.value, "id", "")
        args = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
        if base == "Optional":
            return v is None or _fits(args[0], v)
        if base == "Union":
            return any(_fits(a, v) for a in args)
        if base == "Literal":
            ok = [_literal(a) for a in args]
            return any(good and val == v and type(val) is type(v) for good, val in ok)
        if base in ("list", "List", "Sequence", "set", "Set", "tuple", "Tuple"):
            if not isinstance(v, list):
                return False
            elem = args[0] if base not in ("tuple", "Tuple") or len(args) == 2 and isinstance(args[1], ast.Constant) \
                and args[1].value is Ellipsis else None
            return elem is None or all(_fits(elem, x) for x in v)
        if base in ("dict", "Dict", "Mapping"):
            if not isinstance(v, dict):
                return False
            return len(args) != 2 or all(_fits(args[0], k) and _fits(args[1], x) for k, x in v.items())
        return True
    return True


def _type_of(v: Any) -> str:
    return "null" if v is None else type(v).__name__


# --------------------------------------------------------------------------- values
def _plain_value(v: Any, where: str, file: str) -> Any:
    """YAML value -> JSON-like value; dates to ISO text; reject what cannot be a literal."""
    if isinstance(v, bool) or v is None or isinstance(v, str):
        return v
    if isinstance(v, int):
        return v
    if isinstance(v, float):
        if not math.isfinite(v):
            raise ConfigError(file, where, f"{v!r} is not a finite number",
                              hint="use a finite number, or null for 'none'")
        return v
    if isinstance(v, (_dt.date, _dt.datetime)):
        return v.isoformat()
    if isinstance(v, list):
        return [_plain_value(x, f"{where}[{i}]", file) for i, x in enumerate(v)]
    if isinstance(v, dict):
        out = {}
        for k, x in v.items():
            if not isinstance(k, str):
                raise ConfigError(file, where, f"mapping key {k!r} is {_type_of(k)}, expected text",
                                  hint="quote the key")
            out[k] = _plain_value(x, f"{where}.{k}", file)
        return out
    raise ConfigError(file, where, f"value {v!r} of type {type(v).__name__} cannot be a notebook parameter",
                      hint="use text, numbers, true/false, null, lists or mappings")


def parameters_source(parameters: Mapping[str, Any]) -> str:
    """The code of the injected parameters cell, proven to be data only.

    Each value is written with ``repr`` (for text, numbers, booleans, None, lists and
    mappings of those this is a Python literal; Chinese text stays readable). The code is
    then parsed back: every statement must assign a literal to the parameter's name, and
    that literal must equal the value. So a string holding quotes, newlines or
    ``__import__(...)`` stays a string. Raises ``ValueError`` otherwise.
    """
    lines = ["# Parameters"]
    for name, value in parameters.items():
        if not str(name).isidentifier() or keyword.iskeyword(name):
            raise ValueError(f"{name!r} is not a valid Python name")
        lines.append(f"{name} = {value!r}")
    code = "\n".join(lines) + "\n"
    tree = ast.parse(code)
    assigned: dict[str, Any] = {}
    for node in tree.body:
        if not (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)):
            raise ValueError(f"injected code is not a plain assignment: {ast.unparse(node)[:80]!r}")
        ok, val = _literal(node.value)
        if not ok:
            raise ValueError(f"value of {node.targets[0].id!r} is not a literal: {ast.unparse(node.value)[:80]!r}")
        assigned[node.targets[0].id] = val
    if list(assigned) != list(parameters) or any(
            json.dumps(assigned[k], sort_keys=True) != json.dumps(parameters[k], sort_keys=True) for k in parameters):
        bad = next((k for k in parameters if assigned.get(k, object()) != parameters[k]), "?")
        raise ValueError(f"value of {bad!r} does not survive the round trip")
    return code


def _is_path_name(name: str) -> bool:
    return name in _PATH_NAMES or name.endswith(_PATH_SUFFIXES)


def _resolve_paths(name: str, value: Any, base: Path, file: str, where: str) -> tuple[Any, list[Path]]:
    """Resolve relative paths against ``base``; returns (resolved value, existing inputs)."""
    inputs: list[Path] = []

    def one(s: str, path_named: bool, w: str) -> str:
        if not s or "://" in s or "\n" in s or len(s) > 4096:
            return s
        p = Path(os.path.expanduser(s))
        cand = p if p.is_absolute() else base / p
        try:
            exists = cand.exists()
        except OSError:
            exists = False
        if name.startswith("out") and path_named:  # an output location: resolve, never an input
            return str(cand.resolve())
        if exists:
            inputs.append(cand.resolve())
            return str(cand.resolve())
        if path_named:
            raise ConfigError(file, w, f"file {s!r} not found (looked in {cand.parent})",
                              hint="paths in a batch config are relative to the config file's folder")
        return s

    def walk(v: Any, path_named: bool, w: str) -> Any:
        if isinstance(v, str):
            return one(v, path_named, w)
        if isinstance(v, list):
            return [walk(x, path_named, f"{w}[{i}]") for i, x in enumerate(v)]
        if isinstance(v, dict):
            return {k: walk(x, False, f"{w}.{k}") for k, x in v.items()}
        return v

    return walk(value, _is_path_name(name), where), inputs


def expand_grid(grid: Mapping[str, list[Any]]) -> list[dict[str, Any]]:
    """Cartesian product of a grid, keys in the given order, last key varying fastest.

    >>> expand_grid({"n": [250, 500], "seed": [1, 2]})
    [{'n': 250, 'seed': 1}, {'n': 250, 'seed': 2}, {'n': 500, 'seed': 1}, {'n': 500, 'seed': 2}]
    """
    keys = list(grid)
    return [dict(zip(keys, combo)) for combo in itertools.product(*(grid[k] for k in keys))]


def slug(value: Any) -> str:
    """File-system safe text for run names (``0.05`` -> ``0.05``, ``a b/c`` -> ``a_b_c``)."""
    if isinstance(value, bool):
        s = "true" if value else "false"
    elif isinstance(value, str) and ("/" in value or os.sep in value):
        s = Path(value).stem
    elif isinstance(value, (list, dict)):
        s = json.dumps(value, separators=(",", ":"), ensure_ascii=True)
    else:
        s = str(value)
    s = re.sub(r"[^A-Za-z0-9._\-]+", "_", s).strip("._-")
    return s[:40] or "x"


# --------------------------------------------------------------------------- loading
def _close(word: str, options: Iterable[str]) -> str:
    m = difflib.get_close_matches(word, list(options), n=1, cutoff=0.6)
    return f" (did you mean {m[0]!r}?)" if m else ""


def load_batch_config(path: str | os.PathLike, *, kernel: str | None = None) -> BatchConfig:
    """Read, expand and validate a batch config (see module docstring).

    Parameters
    ----------
    path : path
        The batch YAML.
    kernel : str, optional
        Kernel name overriding the config and the notebooks' own kernelspec.

    Returns
    -------
    BatchConfig

    Raises
    ------
    ConfigError
        Naming the file, the run (index and name) and the key at fault.
    """
    path = Path(path)
    file = str(path)
    if not path.is_file():
        raise ConfigError(file, "", "batch config not found",
                          hint="pass a batch YAML, e.g. notebooks/demo_batch.yaml")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as e:
        raise ConfigError(file, "", f"not UTF-8 text ({e.reason})", hint="save the YAML as UTF-8") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(file, where, f"invalid YAML: {getattr(e, 'problem', e)}") from None
    if not isinstance(raw, dict):
        raise ConfigError(file, "", f"expected a mapping with a 'runs' list, got {_type_of(raw)}",
                          hint="see `crm-research batch --help` for the format")
    for k in raw:
        if k not in TOP_KEYS:
            raise ConfigError(file, str(k), f"unknown key{_close(str(k), TOP_KEYS)}",
                              hint=f"allowed keys: {', '.join(TOP_KEYS)}")
    base = path.parent.resolve()

    name = raw.get("batch", path.stem)
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise ConfigError(file, "batch", f"batch name {name!r} must be letters, digits, '.', '_' or '-'",
                          hint="e.g. batch: demo")
    for key in ("title", "description"):
        if raw.get(key) is not None and not isinstance(raw[key], str):
            raise ConfigError(file, key, f"expected text, got {_type_of(raw[key])}")
    out = raw.get("out")
    if out is not None:
        if not isinstance(out, str) or not out:
            raise ConfigError(file, "out", f"expected a folder path, got {out!r}")
        out = (base / os.path.expanduser(out)).resolve()
    workers = raw.get("workers")
    if workers is not None and (not isinstance(workers, int) or isinstance(workers, bool) or workers < 1):
        raise ConfigError(file, "workers", f"expected a whole number >= 1, got {workers!r}")
    timeout = raw.get("timeout")
    if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0):
        raise ConfigError(file, "timeout", f"expected seconds > 0, got {timeout!r}")
    cfg_kernel = kernel or raw.get("kernel")
    if cfg_kernel is not None and not isinstance(cfg_kernel, str):
        raise ConfigError(file, "kernel", f"expected a kernel name, got {cfg_kernel!r}")
    preload = raw.get("preload", True)
    if not (isinstance(preload, bool) or (isinstance(preload, list) and all(isinstance(m, str) for m in preload))):
        raise ConfigError(file, "preload", f"expected true/false or a list of module names, got {preload!r}")

    shared_raw = raw.get("shared") or []
    if isinstance(shared_raw, str):
        shared_raw = [shared_raw]
    if not isinstance(shared_raw, list) or not all(isinstance(d, str) and d for d in shared_raw):
        raise ConfigError(file, "shared", f"expected a list of folder paths, got {shared_raw!r}",
                          hint="shared: [/mnt/crm-data]  (folders every dask worker mounts at the same path)")
    shared = []
    for j, d in enumerate(shared_raw):
        sp = (base / os.path.expanduser(d)).resolve()
        if not sp.is_dir():
            raise ConfigError(file, f"shared[{j}]", f"folder {d!r} not found (looked for {sp})",
                              hint="shared folders must exist here and on every dask worker, at the same path")
        shared.append(sp)

    defaults = raw.get("defaults") or {}
    if not isinstance(defaults, dict):
        raise ConfigError(file, "defaults", f"expected a mapping of parameter: value, got {_type_of(defaults)}")
    defaults = {str(k): _plain_value(v, f"defaults.{k}", file) for k, v in defaults.items()}
    runs_raw = raw.get("runs")
    if not isinstance(runs_raw, list) or not runs_raw:
        raise ConfigError(file, "runs", "expected a non-empty list of runs",
                          hint="runs:\n  - notebook: analysis.ipynb\n    parameters: {n: 500}")

    cfg = BatchConfig(path=path.resolve(), name=name, title=raw.get("title"), description=raw.get("description"),
                      out=out, workers=workers, timeout=float(timeout) if timeout else None, kernel=cfg_kernel,
                      preload=preload, shared=shared)
    declared_anywhere: set[str] = set()
    names: dict[str, str] = {}
    for i, entry in enumerate(runs_raw):
        for spec in _expand_entry(cfg, file, base, i, entry, defaults, declared_anywhere):
            where = f"runs[{i}]"
            if spec.name in names:
                raise ConfigError(file, f"{where}.name", f"run name {spec.name!r} is used twice "
                                  f"(also by {names[spec.name]})", hint="give the runs distinct names")
            names[spec.name] = where
            cfg.runs.append(spec)
    _check_kernels(cfg, file)
    unused = [k for k in defaults if k not in declared_anywhere]
    if unused:
        k = unused[0]
        raise ConfigError(file, f"defaults.{k}", f"no notebook of the batch declares parameter {k!r}"
                          f"{_close(k, declared_anywhere)}",
                          hint="remove it or add it to a notebook's parameters cell")
    return cfg


def _check_kernels(cfg: BatchConfig, file: str) -> None:
    """Every kernel the runs need is installed (else nothing would run at all)."""
    needed: dict[str, RunSpec] = {}
    for r in cfg.runs:
        needed.setdefault(r.kernel, r)
    try:
        from jupyter_client.kernelspec import KernelSpecManager

        have = set(KernelSpecManager().find_kernel_specs())
    except Exception:  # noqa: BLE001 - cannot tell: let the run report it
        return
    for name, run in needed.items():
        if name not in have:
            raise ConfigError(file, f"runs[{run.entry}] ({run.name}).notebook",
                              f"notebook {run.notebook_label!r} wants Jupyter kernel {name!r}, which is not "
                              f"installed (installed: {', '.join(sorted(have)) or 'none'})",
                              hint="add 'kernel: python3' to the batch config, or install that kernel")


def _expand_entry(cfg: BatchConfig, file: str, base: Path, i: int, entry: Any, defaults: dict[str, Any],
                  declared_anywhere: set[str]) -> list[RunSpec]:
    where = f"runs[{i}]"
    if not isinstance(entry, dict):
        raise ConfigError(file, where, f"expected a mapping with 'notebook' and 'parameters', got {_type_of(entry)}")
    for k in entry:
        if k not in RUN_KEYS:
            raise ConfigError(file, f"{where}.{k}", f"unknown key{_close(str(k), RUN_KEYS)}",
                              hint=f"allowed keys: {', '.join(RUN_KEYS)}")
    if ("notebook" in entry) == ("notebooks" in entry):
        raise ConfigError(file, where, "give exactly one of 'notebook' or 'notebooks'")
    nbs = entry.get("notebooks") if "notebooks" in entry else [entry.get("notebook")]
    if not isinstance(nbs, list) or not nbs or not all(isinstance(n, str) and n for n in nbs):
        raise ConfigError(file, f"{where}.notebooks", "expected notebook path(s) as text")
    params = entry.get("parameters") or {}
    if not isinstance(params, dict):
        raise ConfigError(file, f"{where}.parameters", f"expected a mapping, got {_type_of(params)}")
    params = {str(k): _plain_value(v, f"{where}.parameters.{k}", file) for k, v in params.items()}
    grid = entry.get("grid") or {}
    if not isinstance(grid, dict):
        raise ConfigError(file, f"{where}.grid", f"expected a mapping of parameter: [values], got {_type_of(grid)}")
    for k, vals in grid.items():
        if not isinstance(vals, list) or not vals:
            raise ConfigError(file, f"{where}.grid.{k}", f"expected a non-empty list of values, got {vals!r}",
                              hint="a fixed value belongs under 'parameters'")
    grid = {str(k): [_plain_value(v, f"{where}.grid.{k}[{j}]", file) for j, v in enumerate(vals)]
            for k, vals in grid.items()}
    sets = entry.get("sets")
    if sets is None:
        set_items: list[tuple[str | None, dict[str, Any]]] = [(None, {})]
    else:
        if not isinstance(sets, dict) or not sets:
            raise ConfigError(file, f"{where}.sets", "expected a mapping of set label: {parameter: value}")
        set_items = []
        for label, sp in sets.items():
            if not isinstance(label, str) or not _NAME_RE.match(label):
                raise ConfigError(file, f"{where}.sets.{label}", "set label must be letters, digits, '.', '_' or '-'")
            if not isinstance(sp, dict):
                raise ConfigError(file, f"{where}.sets.{label}", f"expected a mapping, got {_type_of(sp)}")
            set_items.append((label, {str(k): _plain_value(v, f"{where}.sets.{label}.{k}", file)
                                      for k, v in sp.items()}))
    for label, sp in set_items:
        for k in sp:
            if k in params or k in grid:
                raise ConfigError(file, f"{where}.sets.{label}.{k}", "parameter also given under "
                                  f"{'parameters' if k in params else 'grid'}", hint="give each parameter in one place")
    for k in grid:
        if k in params:
            raise ConfigError(file, f"{where}.grid.{k}", "parameter also given under parameters",
                              hint="give each parameter in one place")
    expect = entry.get("expect", "success")
    if expect not in ("success", "failure"):
        raise ConfigError(file, f"{where}.expect", f"expected 'success' or 'failure', got {expect!r}")
    desc = entry.get("description")
    if desc is not None and not isinstance(desc, str):
        raise ConfigError(file, f"{where}.description", "expected text")
    name_tpl = entry.get("name")
    if name_tpl is not None and not isinstance(name_tpl, (str, int)):
        raise ConfigError(file, f"{where}.name", f"expected text, got {_type_of(name_tpl)}")

    combos = expand_grid(grid) if grid else [{}]
    multi = len(nbs) * len(set_items) * len(combos) > 1
    specs: list[RunSpec] = []
    for nb_label in nbs:
        nb_path = (base / os.path.expanduser(nb_label)).resolve()
        if not nb_path.is_file():
            raise ConfigError(file, f"{where}.notebook", f"notebook {nb_label!r} not found (looked in {nb_path.parent})",
                              hint="notebook paths are relative to the config file's folder")
        if nb_path.suffix != ".ipynb":
            raise ConfigError(file, f"{where}.notebook", f"{nb_label!r} is not a .ipynb notebook")
        try:
            declared, nb_kernel, language, has_cell = _inspect_notebook(nb_path)
        except (OSError, ValueError) as e:  # JSON errors are ValueErrors
            raise ConfigError(file, f"{where}.notebook", f"cannot read notebook {nb_label!r}: {e}") from None
        if language != "python":
            raise ConfigError(file, f"{where}.notebook", f"notebook {nb_label!r} is a {language} notebook; "
                              "batches run Python notebooks")
        declared_anywhere.update(declared)
        kernel_name = cfg.kernel or nb_kernel
        for label, sp in set_items:
            for combo in combos:
                own = {**params, **sp, **combo}
                merged = {k: v for k, v in defaults.items() if k in declared}
                merged.update(own)
                run_name = _run_name(file, where, name_tpl, multi, len(nbs) > 1, nb_path.stem, label, combo, merged)
                rwhere = f"{where} ({run_name})"
                if own and not has_cell:
                    raise ConfigError(file, f"{rwhere}.parameters", f"notebook {nb_label!r} has no cell tagged "
                                      "'parameters'", hint="tag the cell holding the defaults with 'parameters' "
                                      "(View > Cell Toolbar > Tags in Jupyter)")
                resolved: dict[str, Any] = {}
                inputs: list[Path] = []
                for k, v in merged.items():
                    kwhere = f"{rwhere}.parameters.{k}"
                    if k not in declared:
                        known = ", ".join(declared) or "none"
                        raise ConfigError(file, kwhere, f"notebook {nb_label!r} has no parameter {k!r}"
                                          f"{_close(k, declared)}", hint=f"declared parameters: {known}")
                    decl = declared[k]
                    if not _accepts(decl.type_name, v):
                        raise ConfigError(file, kwhere, f"{v!r} is {_type_of(v)}, but notebook {nb_label!r} "
                                          f"declares {k}: {decl.type_name} (default {decl.default})",
                                          hint=f"give a {decl.type_name} value")
                    rv, found = _resolve_paths(k, v, base, file, kwhere)
                    resolved[k] = rv
                    inputs += [f for f in found if f not in inputs]
                # Relative path defaults in the parameters cell are relative to the notebook's
                # folder (as in Jupyter); runs execute in their own folder, so pass them resolved.
                for k, decl in declared.items():
                    if k in merged or not (decl.literal and isinstance(decl.value, str) and decl.value
                                           and _is_path_name(k) and not k.startswith("out")):
                        continue
                    p = Path(os.path.expanduser(decl.value))
                    if p.is_absolute() or "://" in decl.value:
                        continue
                    cand = (nb_path.parent / p).resolve()
                    resolved[k] = str(cand)
                    if cand.exists() and cand not in inputs:
                        inputs.append(cand)
                try:
                    parameters_source(resolved)
                except ValueError as e:
                    raise ConfigError(file, f"{rwhere}.parameters", f"cannot pass the values as data: {e}") from None
                specs.append(RunSpec(name=run_name, notebook=nb_path, notebook_label=nb_label, parameters=merged,
                                     resolved=resolved, inputs=inputs, kernel=kernel_name, entry=i,
                                     description=desc, expect_failure=expect == "failure", set_label=label))
    return specs


def _run_name(file: str, where: str, tpl: Any, multi: bool, multi_nb: bool, stem: str, label: str | None,
              combo: dict[str, Any], params: dict[str, Any]) -> str:
    derived = "-".join([stem] + ([label] if label else []) + [f"{k}{slug(v)}" for k, v in combo.items()])
    if tpl is None:
        name = derived
    else:
        tpl = str(tpl)
        if "{" in tpl:
            fields = {"notebook": stem, "set": label or "", **{k: slug(v) for k, v in params.items()}}
            try:
                name = tpl.format(**fields)
            except (KeyError, IndexError, ValueError) as e:
                raise ConfigError(file, f"{where}.name", f"name template {tpl!r}: unknown field {e}",
                                  hint=f"fields: {', '.join(fields)}") from None
        elif multi:
            suffix = derived[len(stem):]
            name = f"{tpl}-{stem}{suffix}" if multi_nb else tpl + suffix
        else:
            name = tpl
    if not _NAME_RE.match(name):
        raise ConfigError(file, f"{where}.name", f"run name {name!r} must start with a letter or digit and use "
                          "only letters, digits, '.', '_' or '-' (at most 120 characters)")
    return name

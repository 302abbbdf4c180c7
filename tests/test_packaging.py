"""The project's packaging files agree with each other."""
from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
# conda-forge names that differ from PyPI names
CONDA_TO_PYPI = {"python-duckdb": "duckdb", "ibis-duckdb": "ibis-framework[duckdb]", "dask": "dask[distributed]"}


def _split(req: str) -> tuple[str, str]:
    m = re.match(r"^\s*([A-Za-z0-9_.\-]+(?:\[[a-z,]+\])?)\s*(.*)$", req)
    return m.group(1).lower().replace("_", "-"), m.group(2).replace(" ", "")


def test_environment_yml_mirrors_pyproject():
    py = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pip_deps = dict(_split(r) for r in py["dependencies"] + py["optional-dependencies"]["dev"])
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda = {}
    for dep in env["dependencies"]:
        if isinstance(dep, str):
            name, spec = _split(dep.replace("=", "==", 1) if re.match(r"^[\w.-]+=[^=]", dep) else dep)
            conda[CONDA_TO_PYPI.get(name, name)] = spec
        elif isinstance(dep, dict):      # PyPI-only packages, installed by pip (e.g. seminr)
            conda.update(_split(p) for p in dep.get("pip", []) if not p.startswith("-e"))
    assert conda.pop("python") == "==3.11"
    conda.pop("pip")
    assert conda == pip_deps, "environment.yml and pyproject.toml list different packages or versions"


def test_ci_calls_readme_test_command():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test" in readme and "make test" in ci
    assert "make demo" in readme


def test_cli_help_is_fast_and_lists_commands():
    out = subprocess.run([sys.executable, "-m", "crm_research.cli", "--help"], capture_output=True, text=True,
                         check=True).stdout
    for cmd in ("render", "simulate", "validate"):
        assert cmd in out
    # --help must not import the heavy stack
    code = ("import sys, crm_research.cli as c; c.build_parser(); "
            "heavy = [m for m in ('pandas','semopy','pingouin','duckdb','seaborn','matplotlib','scipy') if m in sys.modules]; "
            "print(','.join(heavy))")
    heavy = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert heavy == "", f"building the CLI parser imported heavy modules: {heavy}"


def test_module_level_imports_are_required_dependencies():
    """Every module imports at module level only the standard library and required
    dependencies, so --doctest-modules can collect the whole package without skips."""
    import ast
    from importlib.metadata import packages_distributions

    py = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    required = {_split(r)[0].split("[")[0] for r in py["dependencies"]}
    dists = packages_distributions()
    bad = []
    for path in sorted((ROOT / "src" / "crm_research").rglob("*.py")):
        for node in ast.parse(path.read_text(encoding="utf-8")).body:  # module level only
            names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                     [node.module] if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module else [])
            for name in names:
                top = name.split(".")[0]
                if top in sys.stdlib_module_names or top in ("__future__", "crm_research"):
                    continue
                owners = {d.lower().replace("_", "-") for d in dists.get(top, [])}
                if not owners & required:
                    bad.append(f"{path.relative_to(ROOT)}: {name} ({sorted(owners) or 'not installed'})")
    assert not bad, "module-level imports outside the required dependencies:\n" + "\n".join(bad)


def test_pytest_runs_doctests_and_make_test_fast_deselects_slow():
    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]
    assert "--doctest-modules" in cfg["addopts"].split()
    assert cfg["testpaths"] == ["tests", "src/crm_research"]
    assert any(m.startswith("slow:") for m in cfg["markers"])
    make = (ROOT / "Makefile").read_text()
    assert re.search(r"^test-fast: env\n\t\$\(BIN\)/python -m pytest -m \"not slow\"$", make, re.M)
    assert re.search(r"^test: env\n\t\$\(BIN\)/python -m pytest$", make, re.M)
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "make test-fast" in readme

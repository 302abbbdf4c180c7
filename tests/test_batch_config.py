"""Batch configs: parsing, grid expansion, run names, parameter checking, path resolution and
injection safety. No kernel is started here (fast)."""
from __future__ import annotations

import ast
import shutil
import textwrap
from pathlib import Path

import pytest

from crm_research.batch.config import (expand_grid, load_batch_config, notebook_parameters,
                                       parameters_source)
from crm_research.errors import ConfigError

NB = Path(__file__).parent / "notebooks"


@pytest.fixture()
def proj(tmp_path):
    """A project folder: notebooks/ with the toy notebooks, data/ with an input file."""
    (tmp_path / "notebooks").mkdir()
    for name in ("echo", "fail", "sleepy"):
        shutil.copy(NB / f"{name}.ipynb", tmp_path / "notebooks" / f"{name}.ipynb")
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "a.txt").write_text("abc", encoding="utf-8")
    return tmp_path


def write(proj: Path, text: str, name: str = "batch.yaml") -> Path:
    p = proj / "notebooks" / name
    p.write_text(textwrap.dedent(text), encoding="utf-8")
    return p


def test_expand_grid_is_the_cartesian_product_in_key_order():
    assert expand_grid({"a": [1, 2], "b": ["x", "y", "z"]}) == [
        {"a": 1, "b": "x"}, {"a": 1, "b": "y"}, {"a": 1, "b": "z"},
        {"a": 2, "b": "x"}, {"a": 2, "b": "y"}, {"a": 2, "b": "z"}]
    assert expand_grid({}) == [{}]


def test_notebook_parameters_names_and_inferred_types():
    p = notebook_parameters(NB / "echo.ipynb")
    assert list(p) == ["n", "text", "scale", "flag", "data_path", "items"]
    assert [p[k].type_name for k in p] == ["int", "str", "float", "bool", "str", "list"]
    assert p["n"].help == "a whole number"


def test_our_parameter_names_agree_with_papermill_inspection():
    import papermill

    ours = set(notebook_parameters(NB / "echo.ipynb"))
    assert set(papermill.inspect_notebook(str(NB / "echo.ipynb"))) == ours


def test_grid_sets_and_derived_names(proj):
    cfg = load_batch_config(write(proj, """
        batch: t
        defaults: {text: shared}
        runs:
          - notebook: echo.ipynb
            grid: {n: [1, 2], scale: [0.5, 2.0]}
          - notebooks: [echo.ipynb, fail.ipynb]
            sets: {small: {}, big: {}}
          - notebook: echo.ipynb
            name: "custom-{n}"
            grid: {n: [7]}
    """))
    names = [r.name for r in cfg.runs]
    assert names == ["echo-n1-scale0.5", "echo-n1-scale2.0", "echo-n2-scale0.5", "echo-n2-scale2.0",
                     "echo-small", "echo-big", "fail-small", "fail-big", "custom-7"]
    assert cfg.runs[2].parameters == {"text": "shared", "n": 2, "scale": 0.5}
    # defaults go only to notebooks declaring them: fail.ipynb has no 'text'
    assert "text" not in cfg.runs[6].parameters
    # same config, same names and order (deterministic)
    assert [r.name for r in load_batch_config(cfg.path).runs] == names


def test_duplicate_run_names_are_an_error(proj):
    with pytest.raises(ConfigError, match="used twice"):
        load_batch_config(write(proj, """
            runs:
              - {notebook: echo.ipynb, name: same}
              - {notebook: fail.ipynb, name: same}
        """))


def test_unknown_parameter_names_file_run_and_parameter(proj):
    cfg = write(proj, """
        runs:
          - notebook: echo.ipynb
            name: first
          - notebook: echo.ipynb
            name: second
            parameters: {nn: 3}
    """)
    with pytest.raises(ConfigError) as e:
        load_batch_config(cfg)
    msg = str(e.value)
    assert str(cfg) in msg and "second" in msg and "'nn'" in msg and "did you mean 'n'" in msg


@pytest.mark.parametrize("value, ok", [("3", False), (2.5, False), (True, False), (3, True)])
def test_int_parameter_type_check(proj, value, ok):
    import json

    cfg = write(proj, f"""
        runs:
          - notebook: echo.ipynb
            parameters: {{n: {json.dumps(value)}}}
    """)
    if ok:
        assert load_batch_config(cfg).runs[0].resolved["n"] == value
    else:
        with pytest.raises(ConfigError, match=r"parameters\.n: .*declares n: int"):
            load_batch_config(cfg)


def test_float_accepts_int_and_list_checks_type(proj):
    cfg = load_batch_config(write(proj, """
        runs:
          - notebook: echo.ipynb
            parameters: {scale: 2, items: [1, "a"]}
    """))
    assert cfg.runs[0].resolved["scale"] == 2
    with pytest.raises(ConfigError, match="items"):
        load_batch_config(write(proj, """
            runs:
              - notebook: echo.ipynb
                parameters: {items: "not a list"}
        """))


def test_defaults_key_no_notebook_declares_is_an_error(proj):
    with pytest.raises(ConfigError, match=r"defaults\.sede.*no notebook"):
        load_batch_config(write(proj, """
            defaults: {sede: 1}
            runs: [{notebook: echo.ipynb}]
        """))


def test_non_finite_numbers_and_unknown_keys_are_rejected(proj):
    with pytest.raises(ConfigError, match="finite"):
        load_batch_config(write(proj, "runs: [{notebook: echo.ipynb, parameters: {scale: .nan}}]"))
    with pytest.raises(ConfigError, match="unknown key.*did you mean 'runs'"):
        load_batch_config(write(proj, "run: [{notebook: echo.ipynb}]"))
    with pytest.raises(ConfigError, match="not found"):
        load_batch_config(write(proj, "runs: [{notebook: nope.ipynb}]"))


def test_yaml_dates_become_iso_text(proj):
    cfg = load_batch_config(write(proj, "runs: [{notebook: echo.ipynb, parameters: {text: 2024-05-01}}]"))
    assert cfg.runs[0].resolved["text"] == "2024-05-01"


def test_relative_paths_resolve_against_the_config_folder(proj):
    cfg = load_batch_config(write(proj, "runs: [{notebook: echo.ipynb, parameters: {data_path: ../data/a.txt}}]"))
    run = cfg.runs[0]
    assert run.parameters["data_path"] == "../data/a.txt"           # as written, for display
    assert run.resolved["data_path"] == str((proj / "data" / "a.txt").resolve())
    assert run.inputs == [(proj / "data" / "a.txt").resolve()]
    with pytest.raises(ConfigError, match=r"data_path: file '\.\./data/missing.txt' not found"):
        load_batch_config(write(proj, "runs: [{notebook: echo.ipynb, parameters: {data_path: ../data/missing.txt}}]"))


def test_parameters_without_a_parameters_cell(proj, tmp_path):
    import json

    nb = json.loads((NB / "echo.ipynb").read_text(encoding="utf-8"))
    for c in nb["cells"]:
        c.get("metadata", {}).pop("tags", None)
    (proj / "notebooks" / "untagged.ipynb").write_text(json.dumps(nb), encoding="utf-8")
    with pytest.raises(ConfigError, match="no cell tagged 'parameters'"):
        load_batch_config(write(proj, "runs: [{notebook: untagged.ipynb, parameters: {n: 1}}]"))


NASTY = [
    'x"; __import__("os").system("touch PWNED"); "',
    "line1\nline2\n__import__('os').system('touch PWNED')",
    "\\\"; import os; os.system('touch PWNED') #",
    "'''; open('PWNED', 'w'); '''",
    "中文 \u2028 \x00 end",
]


@pytest.mark.parametrize("text", NASTY)
def test_injected_code_is_data_only(tmp_path, monkeypatch, text):
    monkeypatch.chdir(tmp_path)
    params = {"text": text, "items": [text, {"k\"ey": text}], "n": 3, "flag": None}
    code = parameters_source(params)
    tree = ast.parse(code)
    assert all(isinstance(node, ast.Assign) for node in tree.body)
    ns: dict = {}
    exec(compile(code, "<injected>", "exec"), {"__builtins__": {}}, ns)  # no builtins: data only
    assert ns == params
    assert not (tmp_path / "PWNED").exists()


def test_nasty_strings_pass_config_validation(proj):
    cfg_path = proj / "notebooks" / "nasty.yaml"
    import yaml

    cfg_path.write_text(yaml.safe_dump({"runs": [{"notebook": "echo.ipynb", "name": f"r{i}",
                                                  "parameters": {"text": t}} for i, t in enumerate(NASTY)]}),
                        encoding="utf-8")
    cfg = load_batch_config(cfg_path)
    assert [r.resolved["text"] for r in cfg.runs] == NASTY


def test_missing_kernel_is_reported_before_running(proj):
    import json

    nb = json.loads((NB / "echo.ipynb").read_text(encoding="utf-8"))
    nb["metadata"]["kernelspec"]["name"] = "no-such-kernel-xyz"
    (proj / "notebooks" / "other.ipynb").write_text(json.dumps(nb), encoding="utf-8")
    with pytest.raises(ConfigError, match="kernel 'no-such-kernel-xyz'.*not installed"):
        load_batch_config(write(proj, "runs: [{notebook: other.ipynb}]"))
    cfg = load_batch_config(write(proj, "kernel: python3\nruns: [{notebook: other.ipynb}]"))
    assert cfg.runs[0].kernel == "python3"


def test_relative_path_defaults_resolve_against_the_notebook_folder(proj):
    import json

    nb = json.loads((NB / "echo.ipynb").read_text(encoding="utf-8"))
    for c in nb["cells"]:
        if "parameters" in c.get("metadata", {}).get("tags", []):
            c["source"] = 'data_path = "../data/a.txt"\nn = 1'
    (proj / "notebooks" / "withdefault.ipynb").write_text(json.dumps(nb), encoding="utf-8")
    sub = proj / "configs"
    sub.mkdir()
    cfg_path = sub / "b.yaml"
    cfg_path.write_text("runs: [{notebook: ../notebooks/withdefault.ipynb, parameters: {n: 2}}]", encoding="utf-8")
    run = load_batch_config(cfg_path).runs[0]
    assert run.parameters == {"n": 2}                                   # only what the config set
    assert run.resolved["data_path"] == str((proj / "data" / "a.txt").resolve())
    assert run.inputs == [(proj / "data" / "a.txt").resolve()]          # hashed for skip decisions

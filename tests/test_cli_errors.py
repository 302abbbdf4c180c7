"""No raw traceback from any verb: a closed pipe ends quietly (exit 141), an unexpected exception
is one line naming it (exit 70) with the traceback only under --debug / CRM_RESEARCH_DEBUG=1,
text in an unexpected encoding is a user error (exit 2). `render` refuses to overwrite without
--force. Reports are written with the user's umask (0644), not mkstemp's 0600."""
from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from crm_research import cli
from crm_research.commands import render as render_cmd
from crm_research.reporting.export import current_umask, write_text_atomic

ROOT = Path(__file__).resolve().parents[1]
LAV = ROOT / "tests" / "reference" / "lavaan"
INSTRUMENT = ROOT / "tests" / "reference" / "lavaan" / "hs_abilities.yaml"


def _boom(exc):
    def run(args):
        raise exc
    return run


@pytest.mark.parametrize("debug_first", [False, True])
def test_unexpected_exception_is_one_line_with_exit_70(monkeypatch, capsys, tmp_path, debug_first):
    monkeypatch.delenv("CRM_RESEARCH_DEBUG", raising=False)
    monkeypatch.setattr(render_cmd, "run", _boom(RuntimeError("boom\nsecond line")))
    assert cli.main(["render", str(INSTRUMENT), "-o", str(tmp_path)]) == cli.EXIT_INTERNAL == 70
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.count("\n") == 1
    assert "RuntimeError: boom second line" in err and "--debug" in err and "render" in err
    argv = (["--debug", "render"] if debug_first else ["render", "--debug"]) + [str(INSTRUMENT), "-o", str(tmp_path)]
    with pytest.raises(RuntimeError, match="boom"):
        cli.main(argv)
    monkeypatch.setenv("CRM_RESEARCH_DEBUG", "1")
    with pytest.raises(RuntimeError, match="boom"):
        cli.main(["render", str(INSTRUMENT), "-o", str(tmp_path)])


def test_long_unexpected_message_is_truncated(monkeypatch, capsys, tmp_path):
    monkeypatch.delenv("CRM_RESEARCH_DEBUG", raising=False)
    monkeypatch.setattr(render_cmd, "run", _boom(ValueError("x" * 200_000)))
    assert cli.main(["render", str(INSTRUMENT)]) == 70
    err = capsys.readouterr().err
    assert len(err) < 1000 and "(200000 characters)" in err


def test_decoding_error_is_a_user_error(monkeypatch, capsys):
    monkeypatch.delenv("CRM_RESEARCH_DEBUG", raising=False)
    exc = UnicodeDecodeError("utf-8", b"\xd6\xd0\xce\xc4", 0, 1, "invalid continuation byte")
    monkeypatch.setattr(render_cmd, "run", _boom(exc))
    assert cli.main(["render", str(INSTRUMENT)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "utf-8" in err and "Traceback" not in err and err.count("\n") == 1


def test_gbk_model_file_is_read_or_refused_without_traceback(tmp_path):
    lav = tmp_path / "gbk.lav"
    lav.write_bytes("# 中文注释\nvisual =~ x1 + x2 + x3\n".encode("gbk"))
    p = subprocess.run([sys.executable, "-m", "crm_research.cli", "fit", str(lav),
                        str(LAV / "HolzingerSwineford1939.csv")], capture_output=True, text=True, timeout=120)
    assert "Traceback" not in p.stderr
    assert p.returncode in (0, 2), p.stderr


def _closed_pipe(argv):
    """Run the command with its stdout already closed by the reader (as `| head` does)."""
    r, w = os.pipe()
    os.close(r)                                    # nobody will ever read: every write is EPIPE
    env = {**os.environ, "CRM_RESEARCH_DEBUG": ""}
    env.pop("CRM_RESEARCH_DEBUG")
    p = subprocess.run([sys.executable, "-m", "crm_research.cli", *argv], stdout=w, stderr=subprocess.PIPE,
                       text=True, timeout=180, env=env)
    os.close(w)
    return p


@pytest.mark.parametrize("argv", [
    ["fit", str(LAV / "hs_cfa.lav"), str(LAV / "HolzingerSwineford1939.csv")],
    ["--help"],
    ["render", str(INSTRUMENT), "-o", "{tmp}"],
])
def test_closed_pipe_exits_quietly(argv, tmp_path):
    p = _closed_pipe([a.replace("{tmp}", str(tmp_path / "r")) for a in argv])
    assert "Traceback" not in p.stderr and "BrokenPipe" not in p.stderr, p.stderr
    assert p.stderr == ""
    if argv != ["--help"]:   # argparse's help exits 0 by itself; quiet is what matters there
        assert p.returncode == cli.EXIT_PIPE == 141


def test_render_refuses_to_overwrite_a_hand_edited_lav(tmp_path, capsys):
    out = tmp_path / "inst"
    assert cli.main(["render", str(INSTRUMENT), "-o", str(out)]) == 0
    lavs = sorted(out.glob("*.lav"))
    assert lavs
    edited = "# my own model, edited by hand\n" + lavs[0].read_text(encoding="utf-8")
    lavs[0].write_text(edited, encoding="utf-8")
    capsys.readouterr()
    assert cli.main(["render", str(INSTRUMENT), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert "output files exist" in err and "--force" in err
    assert lavs[0].read_text(encoding="utf-8") == edited              # untouched
    assert not [p for p in out.iterdir() if p.name.startswith(".render")]   # no staging folder left
    assert cli.main(["render", str(INSTRUMENT), "-o", str(out), "--force"]) == 0
    assert lavs[0].read_text(encoding="utf-8") != edited


def test_render_into_a_file_path_is_an_error(tmp_path, capsys):
    f = tmp_path / "file.txt"
    f.write_text("x", encoding="utf-8")
    assert cli.main(["render", str(INSTRUMENT), "-o", str(f)]) == 2
    assert "not a folder" in capsys.readouterr().err


@pytest.mark.parametrize("mask", [0o022, 0o027, 0o077])
def test_reports_are_written_with_the_users_umask(tmp_path, mask):
    old = os.umask(mask)
    try:
        assert current_umask() == mask
        p = write_text_atomic(tmp_path / "index.html", "<p>report</p>")
    finally:
        os.umask(old)
    assert stat.S_IMODE(p.stat().st_mode) == 0o666 & ~mask
    if mask == 0o022:
        assert stat.S_IMODE(p.stat().st_mode) == 0o644

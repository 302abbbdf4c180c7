"""``crm-research pls MODEL DATA``: a PLS path model from a file, the SmartPLS numbers through the
command line (ECSI mobile-phone data, SmartPLS 2 output from semPLS's tests), tables and diagram
written with -o, bad input refused with exit 2 and a message naming the option, file or line."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from crm_research import methods, pls
from crm_research.cli import main
from crm_research.commands import pls as pls_cmd

from _helpers import ECSI_MODEL, SMARTPLS_NAMES

ROOT = Path(__file__).resolve().parents[1]
MOBI = ROOT / "tests" / "data" / "ecsi" / "mobi.csv"
SMARTPLS = ROOT / "tests" / "reference" / "pls" / "smartpls" / "ecsi" / "pathWeighting" / "pathCoefficients.txt"
NAMES = SMARTPLS_NAMES
ECSI = ECSI_MODEL   # tests/data/ecsi/ecsi.lav


def _smartpls_paths() -> dict[tuple[str, str], float]:
    """{(dependent, predictor): path} from SmartPLS's export (row = predictor, column = dependent)."""
    rows = [ln.rstrip("\t").split("\t") for ln in SMARTPLS.read_text(encoding="latin-1").splitlines() if ln.strip()]
    cols = [NAMES[c.strip()] for c in rows[0][1:]]
    out = {}
    for r in rows[1:]:
        for dep, v in zip(cols, r[1:]):
            x = float(v.strip().replace(",", "."))
            if x != 0:
                out[(dep, NAMES[r[0].strip()])] = x
    return out


def test_light_copies_agree_with_the_library():
    import importlib

    from crm_research.pls import algorithm
    fit_mod = importlib.import_module("crm_research.pls.fit")     # the module, not pls.fit the function

    assert pls_cmd.SCHEMES == algorithm.SCHEMES
    assert pls_cmd.BOOT_CI == fit_mod.BOOT_CI and pls_cmd.SIGN_CHANGE == fit_mod.SIGN_CHANGE
    assert pls_cmd.HIGHER_ORDER == methods.HIGHER_ORDER_CHOICES


def test_smartpls_paths_through_the_command(tmp_path, capsys):
    model = tmp_path / "ecsi.lav"
    model.write_text(ECSI, encoding="utf-8")
    out = tmp_path / "out"
    assert main(["pls", str(model), str(MOBI), "-o", str(out), "--bootstrap", "50", "--seed", "2"]) == 0
    printed = capsys.readouterr().out
    assert "N = 250 of 250" in printed and "PLS path model" in printed
    paths = pd.read_csv(out / "paths.csv")
    ref = _smartpls_paths()
    assert len(paths) == len(ref) == 12
    for r in paths.itertuples(index=False):
        assert r.est == pytest.approx(ref[(r.lhs, r.rhs)], abs=1e-4), (r.lhs, r.rhs)
    assert paths["ci.lower"].notna().all()
    for t in pls_cmd.TABLES:
        assert (out / f"{t}.csv").stat().st_size > 0, t
    assert (out / "diagram.svg").read_text(encoding="utf-8").lstrip().startswith("<?xml")
    # the same folder again: refused without --force
    assert main(["pls", str(model), str(MOBI), "-o", str(out)]) == 2
    assert "output file exists" in capsys.readouterr().err


def _fails(capsys, *argv) -> str:
    code = main(["pls", *map(str, argv)])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err and err.startswith("error: ")
    return err


def test_bad_input_is_refused(tmp_path, capsys):
    model = tmp_path / "m.lav"
    model.write_text("IMAG =~ IMAG1 + IMAG2\nCUSA =~ CUSA1 + CUSA2\nCUSA ~ IMAG\n", encoding="utf-8")
    assert "nope.lav" in _fails(capsys, tmp_path / "nope.lav", MOBI)
    bad = tmp_path / "bad.lav"
    bad.write_text("IMAG =~ IMAG1 + IMAG2\nIMAG1 ~~ IMAG2\n", encoding="utf-8")
    assert "line 2" in _fails(capsys, bad, MOBI)
    assert "--bootstrap" in _fails(capsys, model, MOBI, "--bootstrap", "1")
    assert "--ci-level" in _fails(capsys, model, MOBI, "--ci-level", "95")
    other = tmp_path / "other.lav"
    other.write_text("IMAG =~ IMAG1 + NOPE9\nCUSA =~ CUSA1 + CUSA2\nCUSA ~ IMAG\n", encoding="utf-8")
    assert "NOPE9" in _fails(capsys, other, MOBI)
    with pytest.raises(SystemExit):
        main(["pls", str(model), str(MOBI), "--scheme", "smartpls"])


def test_listed_in_help():
    from crm_research.cli import build_parser

    assert "pls" in build_parser().format_help()

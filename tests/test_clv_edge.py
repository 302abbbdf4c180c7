"""A CLV fit whose maximum sits at the edge of the parameter space is never reported as a clean
fit: the warning reaches the result, its summary, the CLI's fit_measures.csv and the console."""
from __future__ import annotations

import dataclasses
import math

import pandas as pd

from crm_research import clv


def _cdnow_bgnbd():
    return clv.fit_bgnbd(clv.rfm_summary(clv.read_cdnow(), calibration_end="1997-09-30"))


def test_interior_maximum_has_no_edge_warning():
    bg = _cdnow_bgnbd()
    assert bg.converged and bg.at_edge == [] and bg.convergence_warning == ""


def test_a_diverging_parameter_is_reported_even_when_newton_stopped_cleanly():
    bg = _cdnow_bgnbd()
    params = bg.params.copy()
    params["alpha"] = 1.4e10            # what Q4's small-log case produced, with exit 0
    se = bg.se.copy()
    se["alpha"] = math.nan
    edge = dataclasses.replace(bg, params=params, se=se)
    assert edge.converged
    assert edge.at_edge == ["alpha = 1.4e+10"]
    assert "edge of the parameter space (alpha = 1.4e+10)" in edge.convergence_warning
    assert edge.convergence_warning in edge.summary()


def test_a_missing_standard_error_alone_is_reported():
    bg = _cdnow_bgnbd()
    se = bg.se.copy()
    se["b"] = math.nan
    edge = dataclasses.replace(bg, se=se)
    assert edge.at_edge == ["b (no standard error)"]
    assert edge.convergence_warning.startswith("Warning: BG/NBD estimates at the edge")


def test_cli_writes_the_warning_column(tmp_path):
    from crm_research.cli import main

    out = tmp_path / "clv"
    assert main(["clv", "tests/data/cdnow/CDNOW_sample.txt", "--calibration-end", "1997-09-30",
                 "-o", str(out)]) == 0
    fm = pd.read_csv(out / "fit_measures.csv", keep_default_na=False)
    assert "warning" in fm.columns
    assert (fm["warning"] == "").all()      # the CDNOW fits are interior maxima

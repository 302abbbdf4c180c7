"""The demo's study step reads a simulated raw export kept outside the reports folder.

The simulated export carries made-up contact columns (as real exports do; the intake drops them),
so it must not sit among the demo's outputs."""
from __future__ import annotations

import re
import shutil
from pathlib import Path
from types import SimpleNamespace

import pandas as pd

from crm_research.commands import demo

ROOT = Path(__file__).resolve().parents[1]
EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")


def test_the_study_sample_is_written_outside_the_reports(tmp_path, monkeypatch):
    project = tmp_path / "project"
    shutil.copytree(ROOT / "surveys", project / "surveys")
    out = project / "reports" / "demo" / "study"
    seen = {}

    def fake_study_run(sargs):          # the study itself is tested elsewhere: record what it is given
        seen["args"] = sargs
        Path(sargs.out).mkdir(parents=True, exist_ok=True)
        return 0

    from crm_research.commands import study
    monkeypatch.setattr(study, "run", fake_study_run)
    code = demo.run_study(project, out, SimpleNamespace(workers=1, force=False, cold=False, quiet=True))
    assert code == 0
    sample = Path(seen["args"].responses)
    assert sample == project / demo.STUDY_SAMPLE_FILE and sample.is_file()
    assert not sample.is_relative_to(project / "reports")
    raw = pd.read_csv(sample, dtype=str)
    assert {"phone", "email"} <= set(raw.columns)          # a raw export: the intake's job to drop these
    assert raw["email"].dropna().str.match(EMAIL).any()
    for f in (project / "reports").rglob("*"):
        assert not (f.is_file() and EMAIL.search(f.read_text(encoding="utf-8", errors="ignore"))), f
    # same seed, same bytes: a second call leaves the file as it is (the study's runs are reused)
    before = sample.stat().st_mtime_ns
    demo.run_study(project, out, SimpleNamespace(workers=1, force=False, cold=False, quiet=True))
    assert sample.stat().st_mtime_ns == before

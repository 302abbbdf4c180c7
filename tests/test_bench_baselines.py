"""Benchmarks guard their baselines: a third-party baseline that fails (lifetimes' Gamma-Gamma not
converging, say) prints ``baseline failed: ...`` and the benchmark goes on (``make bench`` passes);
a failure of crm-research itself still fails."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCH))

from _baseline import run_baseline  # noqa: E402


def test_run_baseline_reports_and_goes_on(capsys):
    def boom():
        raise ValueError("The model did not converge.\nTry a penalizer.")

    assert run_baseline("lifetimes Gamma-Gamma", boom) is None
    assert capsys.readouterr().out == "baseline failed: lifetimes Gamma-Gamma: ValueError: The model did not converge. Try a penalizer.\n"
    assert run_baseline("ok", lambda x: x + 1, 1) == 2

    def child():
        subprocess.run([sys.executable, "-c", "import sys; sys.stderr.write('x\\nreal reason\\n'); sys.exit(3)"],
                       check=True, capture_output=True, text=True)

    assert run_baseline("subprocess", child) is None
    assert capsys.readouterr().out == "baseline failed: subprocess: real reason\n"
    with pytest.raises(KeyboardInterrupt):
        run_baseline("interrupted", lambda: (_ for _ in ()).throw(KeyboardInterrupt()))


def test_bench_clv_survives_a_gamma_gamma_that_does_not_converge(monkeypatch, capsys):
    lifetimes = pytest.importorskip("lifetimes")
    import bench_clv

    class NotConverging:
        def fit(self, *args, **kwargs):
            raise ValueError("The model did not converge. Try adding a larger penalizer_coef value.")

    monkeypatch.setattr(lifetimes, "GammaGammaFitter", NotConverging)
    bench_clv.bench_fits(4000)
    out = capsys.readouterr().out
    assert out.count("baseline failed: lifetimes Gamma-Gamma") == 2          # CDNOW and the synthetic log
    assert out.count("BG/NBD") == 2 and out.count("Pareto/NBD") == 2          # the other rows still printed
    assert "-4055.918" in out                                                 # our Gamma-Gamma on CDNOW still fitted

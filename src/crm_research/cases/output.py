"""Write an evaluated case to a folder: results table, summary, series, event study, figures.

Examples
--------
>>> from crm_research.cases import evaluate_case
>>> from crm_research.cases.output import write_evaluation
>>> ev = evaluate_case("r2_retention_strategies", customers=300)   # doctest: +SKIP
>>> write_evaluation(ev, "reports/cases/r2")                       # doctest: +SKIP
"""
from __future__ import annotations

from pathlib import Path

from ..errors import CRMResearchError
from .compare import kpi_framework
from .evaluate import CaseEvaluation
from .figures import plot_effects, plot_event_study, plot_kpi_series

OUTPUT_FILES = ("results.csv", "summary.txt", "series.csv", "event_study.csv", "kpi_framework.csv",
                "figures")


def write_evaluation(ev: CaseEvaluation, out: str | Path, *, force: bool = False, figures: bool = True) -> dict[str, Path]:
    """Write the results table, summary, series and figures of an evaluation into folder ``out``.

    Parameters
    ----------
    ev : CaseEvaluation
    out : str or Path
        Folder (created if needed).
    force : bool
        Overwrite earlier results; otherwise CRMResearchError when :data:`OUTPUT_FILES` exist.
    figures : bool
        Also draw the figures (PNG, in ``out/figures``).

    Returns
    -------
    dict of Path
        What was written: ``results`` (with the true effects for simulated cases),
        ``summary``, ``series``, ``event_study``, ``kpi_framework``, ``figure_*``.

    Examples
    --------
    >>> import tempfile
    >>> from crm_research.cases import evaluate_case, example_case
    >>> ev = evaluate_case(example_case())
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     print(sorted(write_evaluation(ev, folder, figures=False)))
    ['event_study', 'kpi_framework', 'results', 'series', 'summary']
    """
    out = Path(out)
    existing = [out / f for f in OUTPUT_FILES if (out / f).exists()]
    if existing and not force:
        raise CRMResearchError(f"{out}: already holds results ({existing[0].name}); not overwritten",
                               hint="choose another folder with -o or pass --force")
    out.mkdir(parents=True, exist_ok=True)
    paths = {}
    t = ev.table
    if ev.simulation is not None:
        t = ev.with_truth()
    t.to_csv(out / "results.csv", index=False)
    paths["results"] = out / "results.csv"
    (out / "summary.txt").write_text(ev.summary() + "\n", encoding="utf-8")
    paths["summary"] = out / "summary.txt"
    ev.series.to_csv(out / "series.csv", index=False)
    paths["series"] = out / "series.csv"
    ev.event_study.to_csv(out / "event_study.csv", index=False)
    paths["event_study"] = out / "event_study.csv"
    kpi_framework([ev.case]).to_csv(out / "kpi_framework.csv", index=False)
    paths["kpi_framework"] = out / "kpi_framework.csv"
    if figures:
        import matplotlib
        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt

        fig_dir = out / "figures"
        fig_dir.mkdir(exist_ok=True)
        for name, fn in (("effects", plot_effects), ("kpi_series", plot_kpi_series),
                         ("event_study", plot_event_study)):
            fig = fn(ev)
            if fig is None:
                continue
            fig = getattr(fig, "figure", fig)
            p = fig_dir / f"{name}.png"
            fig.savefig(p, dpi=120, bbox_inches="tight")
            plt.close(fig)
            paths[f"figure_{name}"] = p
    return paths

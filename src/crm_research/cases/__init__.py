"""Cases as data, and the evaluation of the strategies they describe.

A *case* (``cases/*.yaml``) is a platform or product, its lifecycle stages, the strategies it
applied with their start dates and target customers, the KPIs that judge them, the
comparison design, and its data (files, or a simulated data set with documented true
effects). This package turns a case into a tidy table of effects, one row per strategy, KPI
and design, with the test that fits the measure, a confidence interval, an effect size, a
multiple-testing correction and a verdict ("worked", "no evidence", "harmful", "not
identified").

Modules: :mod:`.vocabulary` (KPIs, designs, stages), :mod:`.reader` (typed values of a case
file), :mod:`.definition` (load/validate), :mod:`.simulation_spec` (the ``simulate:`` block),
:mod:`.tables` (the case's tables), :mod:`.data` (read files, or simulate them),
:mod:`.panel` (KPIs per customer and period), :mod:`.effects` (two-sample tests and effect
sizes), :mod:`.did` (difference-in-differences), :mod:`.evaluate` (designs, identification
checks, verdicts), :mod:`.compare` (cases side by side), :mod:`.figures` (seaborn figures),
:mod:`.output` (write an evaluation to a folder). The imports run one way: figures and output
use evaluate and compare, which use the statistics, which use the definition.

Result tables use lavaan's names: ``est``, ``ci.lower``, ``ci.upper``, ``pvalue`` and the
multiplicity-adjusted ``pvalue.adj`` (method in ``attrs["p.adjust"]``, confidence level in
``attrs["ci.level"]``).

Examples
--------
>>> from crm_research import cases
>>> case = cases.load_case("r2_retention_strategies")
>>> [s.id for s in case.strategies]
['personalized_recommendation', 'promotions_coupons', 'tiered_membership', 'faster_customer_service']

``cases.evaluate_case(case)`` then gives the table of effects and verdicts (see
:func:`~crm_research.cases.evaluate.evaluate_case` for a small example that runs).
"""
from __future__ import annotations

from .._lazy import lazy_exports

_WHERE = {
    # definition
    "load_case": "definition", "CaseDefinition": "definition", "Strategy": "definition", "Stage": "definition",
    "bundled_cases": "definition", "example_case": "definition", "cases_dir": "definition", "resolve_case_path": "definition",
    # vocabulary
    "KPIS": "vocabulary", "DESIGNS": "vocabulary", "STAGES": "vocabulary", "VERDICTS": "vocabulary",
    "kpi_table": "vocabulary", "resolve_kpi": "vocabulary",
    # data and panels
    "CaseData": "tables", "load_case_data": "data", "kpi_panel": "panel", "kpi_panels": "panel",
    # statistics
    "compare_rates": "effects", "compare_means": "effects", "choose_test": "effects", "trend_test": "effects",
    "did_estimate": "did", "event_study": "did", "parallel_trends_test": "did", "DiDResult": "did",
    # evaluation
    "evaluate_case": "evaluate", "CaseEvaluation": "evaluate", "RESULT_COLUMNS": "evaluate",
    # comparison and figures
    "kpi_framework": "compare", "kpi_framework_matrix": "compare", "compare_cases": "compare", "verdict_matrix": "compare",
    "plot_kpi_framework": "figures", "plot_kpi_series": "figures", "plot_effects": "figures",
    "plot_event_study": "figures",
    # output, reading
    "write_evaluation": "output", "CaseReader": "reader", "SimulationSpec": "simulation_spec",
    "parse_simulation": "simulation_spec",
}

__getattr__, __dir__, __all__ = lazy_exports(__name__, _WHERE)

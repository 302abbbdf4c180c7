"""Reports people can use: APA tables, figures, provenance, recorded key results, HTML export.

In a notebook::

    from crm_research import reporting
    reporting.apa_table(df, title="Descriptive statistics")        # APA-style table
    reporting.record("cfi", 0.97, label="CFI", bounded=True)       # headline figure for the batch index
    reporting.record_table("hypotheses", hyp)                      # table for cross-run comparison
    reporting.provenance(parameters, seed=seed)                    # provenance block (end of report)

Submodules: :mod:`.format` (the one formatting layer: p values, stars, numbers, intervals,
Markdown and HTML tables), :mod:`.tables` (APA tables), :mod:`.figures` (seaborn figures; path
diagrams come from :mod:`crm_research.path_diagram`), :mod:`.provenance`, :mod:`.results` (what a run
records, and the records of the survey notebooks), :mod:`.narrative` (sentences written from the
instrument and a run's numbers), :mod:`.display` (Markdown, collapsible blocks, warnings box),
:mod:`.overview` (tables of an instrument's constructs, hypotheses and models), :mod:`.export`
(notebook -> HTML, personal-data guard), :mod:`.style` (CSS). Names are imported lazily so
``import crm_research.reporting`` stays cheap.
"""
from __future__ import annotations

import importlib

# Eager on purpose: the function shares its name with its (stdlib-only, cheap) module, and a
# lazily resolved name would be shadowed by the submodule once anything imports it.
from .provenance import Provenance, provenance  # noqa: E402

_EXPORTS = {
    # results
    "record": "results", "record_table": "results", "Record": "results", "run_dir": "results",
    "recorded": "results", "record_sample": "results", "record_fit": "results", "record_hypotheses": "results",
    "record_mediation": "results", "record_relative_effects": "results", "record_r_squared": "results",
    "record_measurement": "results", "record_group_comparison": "results",
    # display
    "Narrative": "display", "details": "display", "syntax_block": "display", "questionnaire_frame": "display",
    "show_diagram": "display", "warnings_box": "display", "WarningsBox": "display", "r2_labels": "display",
    # tables of the instrument
    "construct_overview": "overview", "hypotheses_overview": "overview", "models_overview": "overview",
    # provenance
    "file_sha256": "provenance",
    "package_versions": "provenance", "git_state": "provenance",
    # formatting (the one place for numbers, p values, stars, Markdown and HTML tables)
    "format_number": "format", "format_p": "format", "format_ci": "format", "stars": "format",
    "markdown_table": "format", "html_table": "format", "is_missing": "format",
    # tables
    "apa_table": "tables", "APATable": "tables", "fit_table": "tables",
    "loadings_table": "tables", "reliability_table": "tables", "hypotheses_table": "tables",
    "matrix_table": "tables",
    # figures
    "set_theme": "figures", "likert_distribution": "figures", "missingness_plot": "figures", "item_distributions": "figures",
    "group_paths_plot": "figures",
    "path_diagram": "..path_diagram",
    # export
    "export_html": "export", "find_personal_data": "export", "PersonalDataError": "export",
}
_SUBMODULES = {"format", "tables", "figures", "provenance", "results", "export", "style", "display", "narrative", "overview"}


def __getattr__(name: str):
    if name in _EXPORTS:
        mod = _EXPORTS[name]
        target = f"crm_research.{mod[2:]}" if mod.startswith("..") else f"{__name__}.{mod}"
        return getattr(importlib.import_module(target), name)
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(_EXPORTS) | _SUBMODULES)


__all__ = sorted(set(_EXPORTS) | {"provenance", "Provenance"})

"""Glue shared by the replication notebooks of the source study (R1, chapter 7).

The five notebooks in ``notebooks/`` are thin: each loads a sample with
:func:`load_study_sample`, calls the analysis modules (:mod:`~crm_research.measurement`,
:mod:`~crm_research.hypotheses`, :mod:`~crm_research.sem`), and tells the story with the
helpers here. What lives here is what the notebooks share and what no analysis module owns:

* **paths** -- :func:`resolve_path` finds ``../surveys/ecommerce_crm.yaml`` whether the
  notebook runs in its own folder (Jupyter, papermill) or in a batch run's work folder;
* **the sample** -- :func:`load_study_sample` prepares the user's response file, or simulates
  a sample from the population model and prepares it the same way (:class:`StudySample`);
* **descriptives** for the data-quality notebook (:func:`answer_shares`,
  :func:`item_statistics`, :func:`missingness_summary`, :func:`careless_detection`);
* **narrative** computed from the numbers, never typed by hand (``describe_*`` functions
  return a :class:`Narrative`, which a notebook shows as Markdown), and a prominent
  :func:`warnings_box` for estimation problems;
* **relative effects** of the combined model: standardized paths as ``:=`` parameters so that
  the bootstrap gives their CIs and the CI of their difference
  (:func:`relative_effects_syntax`, :func:`relative_effects`);
* **records** of headline figures for the batch index (:func:`record_sample`,
  :func:`record_fit`, :func:`record_hypotheses`, :func:`record_mediation`).

Examples
--------
>>> from crm_research import study                                     # doctest: +SKIP
>>> s = study.load_study_sample(None, "../surveys/ecommerce_crm.yaml",
...                             "../surveys/ecommerce_crm_population.yaml", n=500, seed=1)  # doctest: +SKIP
>>> s.items.shape                                                      # doctest: +SKIP
"""
from __future__ import annotations

import html
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from .errors import ConfigError, DataFileError, InstrumentError, ModelError
from .instruments import Instrument, load_instrument

__all__ = [
    "CARELESS_ORDER", "DEFAULT_INSTRUMENT", "DEFAULT_POPULATION", "FIT_CUTOFFS", "MEASUREMENT_PARTS",
    "Narrative", "StudySample", "WarningsBox", "alone_vs_together", "ci_label", "record_relative_effects", "answer_shares", "bootstrap_draws",
    "careless_detection", "compare_with_population", "construct_overview", "describe_alone_vs_together",
    "describe_careless", "describe_comparison", "describe_fit", "describe_hypotheses", "describe_items",
    "describe_measurement", "describe_mediation", "describe_missingness", "describe_recovery",
    "describe_relative_effects", "describe_sample", "details", "fit_model", "fit_rating",
    "hypotheses_overview", "item_statistics", "load_study_sample", "missingness_summary", "preferred_model",
    "project_root", "questionnaire_frame", "r2_labels", "r_squared", "describe_r_squared", "record_fit", "record_hypotheses",
    "record_mediation", "record_sample", "relative_effects", "relative_effects_syntax", "resolve_path",
    "screening_table", "search_dirs", "show_diagram", "source_checkout", "syntax_block", "test_relative_effects", "warnings_box",
]

#: Defaults of the notebooks' ``parameters`` cells (relative to ``notebooks/``).
DEFAULT_INSTRUMENT = "../surveys/ecommerce_crm.yaml"
DEFAULT_POPULATION = "../surveys/ecommerce_crm_population.yaml"
PROJECT_DIR_ENV = "CRM_RESEARCH_PROJECT_DIR"

#: Hu & Bentler (1999) style cut-offs: (good, acceptable). CFI/TLI: at least; RMSEA/SRMR: at most.
FIT_CUTOFFS: dict[str, tuple[float, float]] = {
    "cfi": (0.95, 0.90), "tli": (0.95, 0.90), "rmsea": (0.06, 0.08), "srmr": (0.08, 0.10),
}
_HIGHER_IS_BETTER = {"cfi": True, "tli": True, "rmsea": False, "srmr": False}


# =========================================================================== display helpers
class Narrative(str):
    """Text written from computed numbers; shows as Markdown in a notebook."""

    def _repr_markdown_(self) -> str:
        return str(self)

    def __repr__(self) -> str:  # plain-text fallback without quotes
        return str(self)


@dataclass
class _HTML:
    html: str
    text: str = ""

    def _repr_html_(self) -> str:
        return self.html

    def __repr__(self) -> str:
        return self.text or "(HTML)"


def details(obj: Any, summary: str, *, open: bool = False) -> _HTML:  # noqa: A002 - HTML attribute name
    """Wrap an object's HTML in a collapsible ``<details>`` block (e.g. a long report)."""
    body = obj._repr_html_() if hasattr(obj, "_repr_html_") else f"<pre>{html.escape(str(obj))}</pre>"
    return _HTML(f"<details{' open' if open else ''}><summary style='cursor:pointer;font-weight:600'>"
                 f"{html.escape(summary)}</summary>{body}</details>", text=summary)


def syntax_block(syntax: str, title: str | None = None) -> Narrative:
    """lavaan model syntax as a Markdown code block."""
    head = f"{title}\n\n" if title else ""
    return Narrative(f"{head}```\n{syntax.rstrip()}\n```")


def questionnaire_frame(instrument: Instrument, lang: str = "both", height: int = 560) -> _HTML:
    """The printable questionnaire embedded in an ``<iframe>`` (its page styles stay inside)."""
    from .instruments import questionnaire_html

    page = questionnaire_html(instrument, lang)
    return _HTML(f'<iframe title="questionnaire" srcdoc="{html.escape(page, quote=True)}" '
                 f'style="width:100%;height:{int(height)}px;border:1px solid #d9e2ec;border-radius:6px">'
                 "</iframe>", text=f"questionnaire of {instrument.id} ({lang})")



def show_diagram(diagram: Any, max_width: str = "100%") -> _HTML:
    """A path diagram scaled to the page width (its SVG keeps its aspect ratio)."""
    svg = diagram.svg
    start = svg.find("<svg")
    svg = svg[start:] if start >= 0 else svg
    return _HTML("<style>.crm-diagram svg{max-width:100%;height:auto}</style>"
                 f"<div class='crm-diagram' style='max-width:{html.escape(max_width)}'>{svg}</div>",
                 text="path diagram")

# =========================================================================== paths
def source_checkout() -> Path | None:
    """The project folder this module was imported from when it is a source checkout (an editable
    install: ``<checkout>/src/crm_research/study.py`` next to ``notebooks/`` and ``surveys/``)."""
    here = Path(__file__).resolve().parents[2]
    if (here / "notebooks").is_dir() and (here / "surveys").is_dir():
        return here
    return None


def project_root() -> Path | None:
    """The project folder: ``$CRM_RESEARCH_PROJECT_DIR`` (set by the batch runner: the git work
    tree holding the batch config, else the config's folder), else :func:`source_checkout`."""
    env = os.environ.get(PROJECT_DIR_ENV)
    if env:
        return Path(env)
    return source_checkout()


def search_dirs() -> list[Path]:
    """Folders a relative path is looked up in, in order: the working folder, then for the
    project folder (:func:`project_root`) and the source checkout its ``notebooks/`` folder
    (what notebook defaults such as ``../surveys/x.yaml`` are written against) and itself."""
    out = [Path.cwd()]
    for root in (project_root(), source_checkout()):
        if root is not None:
            out += [root / "notebooks", root]
    seen, uniq = set(), []
    for d in out:
        k = os.path.abspath(d)
        if k not in seen:
            seen.add(k)
            uniq.append(Path(k))
    return uniq


def resolve_path(path: str | os.PathLike, *, what: str = "data file") -> Path:
    """Find a file given relative to the notebook folder, the project folder or the working folder.

    papermill runs a notebook with its own folder as working folder; the batch runner runs
    it in a work folder under ``reports/`` and tells it the project folder. A notebook default
    such as ``../surveys/ecommerce_crm.yaml`` is therefore looked up in every folder of
    :func:`search_dirs` and the first existing file wins.

    Parameters
    ----------
    path : str or PathLike
        Absolute, ``~/...``, or relative path.
    what : {"data file", "instrument", "population model", "column map"}
        What the file is (chooses the error type and message).

    Returns
    -------
    Path
        Absolute path of an existing file.

    Raises
    ------
    DataFileError, InstrumentError or ConfigError
        The file exists nowhere; the message lists the folders searched.
    """
    if path is None or str(path).strip() == "":
        raise ConfigError("parameters", what.replace(" ", "_"), "no file given",
                          hint=f"set the {what} parameter to a file path")
    p = Path(os.path.expanduser(os.fspath(path)))
    tried = [p] if p.is_absolute() else [d / p for d in search_dirs()]
    for cand in tried:
        if cand.is_file():
            return Path(os.path.abspath(cand))
        if cand.is_dir():
            _missing(what, str(path), f"is a folder, expected a file ({cand})")
    where = ", ".join(str(Path(os.path.normpath(c)).parent) for c in tried)
    _missing(what, str(path), f"file not found (looked in: {where})")
    raise AssertionError  # pragma: no cover


def _missing(what: str, path: str, problem: str) -> None:
    hint = ("paths in notebook parameters are relative to the notebooks/ folder or the project folder, "
            "e.g. ../surveys/ecommerce_crm.yaml")
    if what == "instrument":
        raise InstrumentError(path, "", problem, hint=hint)
    if what in ("population model", "column map"):
        raise ConfigError(path, "", problem, hint=hint)
    raise DataFileError(path, problem, hint=hint)


# =========================================================================== the sample
@dataclass
class StudySample:
    """The sample a notebook analyses: validated, cleaned, scored responses without personal data.

    Attributes
    ----------
    responses : ResponseSet
        What :func:`~crm_research.responses.prepare_responses` returned (``.data``,
        ``.scores``, ``.report``, ``.excluded``, ``.privacy``); ``responses.other`` holds
        pseudonyms and free text: never display it.
    instrument : Instrument
    origin : {"simulated", "file"}
    data_file : Path or None
        The user's response file (None when simulated).
    population : PopulationModel or None
        The population model the sample was drawn from (simulated samples only).
    truth : DataFrame or None
        Simulated samples: per respondent ``respondent_id``, ``careless`` (true type, or
        ``"none"``), ``n_missing``. No latent scores, no personal data.
    settings : dict
        How the sample was drawn or read (n, seed, careless share, missingness, policies).
    input_files : list of Path
        Files the sample depends on (for provenance): instrument, population model or data
        file, column map.
    """

    responses: Any
    instrument: Instrument
    origin: str
    data_file: Path | None = None
    population: Any = None
    truth: pd.DataFrame | None = None
    settings: dict[str, Any] = field(default_factory=dict)
    input_files: list[Path] = field(default_factory=list)

    # ---- data
    @property
    def data(self) -> pd.DataFrame:
        """Kept respondents: id, items (reverse-coded), checks, demographics, flags."""
        return self.responses.data

    @property
    def items(self) -> pd.DataFrame:
        """Item answers of the kept respondents (reverse-coded), for measurement and SEM."""
        return self.responses.items

    @property
    def scores(self) -> pd.DataFrame:
        return self.responses.scores

    @property
    def report(self) -> Any:
        """The validation report (findings never contain personal data)."""
        return self.responses.report

    @property
    def n_rows(self) -> int:
        """Rows in the file (or simulated respondents)."""
        return int(self.report.n_rows)

    @property
    def n_kept(self) -> int:
        return int(len(self.data))

    @property
    def n_excluded(self) -> int:
        return int(len(self.responses.excluded))

    @property
    def n_complete(self) -> int:
        """Kept respondents who answered every item: the N of a listwise-deletion SEM."""
        return int(self.items.notna().all(axis=1).sum())

    @property
    def label(self) -> str:
        """One line saying where the data come from."""
        if self.origin == "simulated":
            s = self.settings
            miss = "no missing answers" if s["missing"] == "none" else \
                f"{s['missing']} missingness at rate {s['missing_rate']:g}"
            return (f"simulated sample of {s['n']:,} respondents from population model "
                    f"`{self.population.id}` (seed {s['seed']}, careless share {s['careless']:g}, {miss})")
        return f"response file `{_show_path(self.data_file)}`"

    def summary(self) -> str:
        return (f"StudySample: {self.label.replace('`', '')}; {self.n_rows} rows, {self.n_kept} kept, "
                f"{self.n_excluded} excluded, {self.n_complete} complete on all "
                f"{len(self.instrument.item_ids)} items")

    def __repr__(self) -> str:
        return self.summary()

    def _repr_html_(self) -> str:
        rows = [("Data", html.escape(self.label.replace("`", ""))), ("Rows", f"{self.n_rows:,}"),
                ("Kept after cleaning", f"{self.n_kept:,}"), ("Excluded", f"{self.n_excluded:,}"),
                ("Complete on all items", f"{self.n_complete:,}"),
                ("Instrument", html.escape(f"{self.instrument.id} {self.instrument.version}: "
                                           f"{len(self.instrument.item_ids)} items"))]
        body = "".join(f"<tr><th style='text-align:left;padding-right:14px'>{k}</th><td>{v}</td></tr>"
                       for k, v in rows)
        return f"<table class='crm-sample'>{body}</table>"


def _show_path(p: Any) -> str:
    if p is None:
        return ""
    from .reporting.provenance import display_path

    return display_path(p, project_root())


def _check_param(name: str, ok: bool, expected: str, value: Any) -> None:
    if not ok:
        raise ConfigError("parameters", name, f"expected {expected}, got {value!r}")


def load_study_sample(data_file: str | os.PathLike | None = None, instrument: str | os.PathLike | Instrument =
                      DEFAULT_INSTRUMENT, population: str | os.PathLike | None = DEFAULT_POPULATION, *,
                      n: int = 500, seed: int = 20240501, careless: float = 0.05, missing: str = "MCAR",
                      missing_rate: float = 0.01, column_map: str | os.PathLike | Mapping[str, Any] | None = None,
                      salt: str | None = None, policies: Mapping[str, str] | Iterable[str] | None = None
                      ) -> StudySample:
    """The notebooks' sample: the user's response file, or a simulated one, prepared alike.

    With ``data_file`` the file is read, mapped, stripped of personal data, validated,
    cleaned and scored by :func:`~crm_research.responses.prepare_responses`. Without it a
    sample of ``n`` respondents is drawn from ``population``
    (:func:`~crm_research.simulate.simulate_survey`, with fake phone numbers and e-mails,
    careless respondents and missing answers) and goes through exactly the same
    preparation, so the notebooks never see a difference.

    Parameters
    ----------
    data_file : path, optional
        CSV / Excel / SPSS response file. None: simulate.
    instrument : path or Instrument
        Instrument YAML (``../surveys/ecommerce_crm.yaml``); paths are found with
        :func:`resolve_path`.
    population : path, optional
        Population-model YAML used when simulating (ignored with ``data_file``).
    n, seed : int
        Sample size and seed of the simulation.
    careless : float
        Share of careless respondents in the simulation (0 to 1).
    missing : {"none", "MCAR", "MAR"}
        Missing-answer mechanism of the simulation.
    missing_rate : float
        Expected share of item answers left blank (ignored with ``missing="none"``).
    column_map : path or mapping, optional
        ``{file column: variable id}`` for a file whose columns are not recognised.
    salt : str, optional
        Salt of the pseudonyms of personal-data fields (default: random per run).
    policies : mapping or list of "check=policy", optional
        Cleaning policies overriding the defaults (e.g. ``{"too_fast": "drop"}``).

    Returns
    -------
    StudySample

    Raises
    ------
    DataFileError, InstrumentError, ConfigError
        A file is missing or malformed, or a parameter has an impossible value.
    """
    from .responses import prepare_responses

    inputs: list[Path] = []
    if isinstance(instrument, Instrument):
        inst = instrument
        if inst.path:
            inputs.append(Path(inst.path))
    else:
        ipath = resolve_path(instrument, what="instrument")
        inst = load_instrument(ipath)
        inputs.append(ipath)
    cmap: Any = column_map
    if isinstance(column_map, (str, os.PathLike)):
        cmap = resolve_path(column_map, what="column map")
    policy_arg = dict(policies) if isinstance(policies, Mapping) else (list(policies) if policies else None)

    if data_file is not None and str(data_file).strip() != "":
        dpath = resolve_path(data_file, what="data file")
        inputs.insert(0, dpath)
        if isinstance(cmap, Path):
            inputs.append(cmap)
        rs = prepare_responses(dpath, inst, column_map=cmap, salt=salt, policies=policy_arg)
        settings = dict(data_file=_show_path(dpath), column_map=_show_path(cmap) if isinstance(cmap, Path) else cmap,
                        policies=dict(rs.report.policies or {}))
        return StudySample(responses=rs, instrument=inst, origin="file", data_file=dpath, settings=settings,
                           input_files=inputs)

    # ---- simulate
    from .simulate import load_population, simulate_survey

    _check_param("n", isinstance(n, (int, np.integer)) and not isinstance(n, bool) and n >= 10,
                 "a whole number of respondents >= 10", n)
    _check_param("seed", isinstance(seed, (int, np.integer)) and not isinstance(seed, bool) and seed >= 0,
                 "a non-negative whole number", seed)
    _check_param("careless", isinstance(careless, (int, float)) and not isinstance(careless, bool)
                 and 0 <= careless <= 1, "a share between 0 and 1", careless)
    mech = {"none": "none", "mcar": "MCAR", "mar": "MAR"}.get(str(missing).strip().lower()) if missing is not None \
        else "none"
    _check_param("missing", mech is not None, "'none', 'MCAR' or 'MAR'", missing)
    if mech != "none":
        _check_param("missing_rate", isinstance(missing_rate, (int, float)) and not isinstance(missing_rate, bool)
                     and 0 < missing_rate <= 0.95, "a share above 0 and at most 0.95", missing_rate)
    if population is None:
        raise ConfigError("parameters", "population", "no data_file and no population model to simulate from",
                          hint="set data_file to your response file, or population to a population-model YAML")
    ppath = resolve_path(population, what="population model")
    pop = load_population(ppath, instrument=inst)
    inputs.append(ppath)
    sim = simulate_survey(pop, int(n), int(seed), careless=float(careless), missing=mech,
                          missing_rate=float(missing_rate) if mech != "none" else None)
    rs = prepare_responses(sim.responses, inst, column_map=cmap, salt=salt, policies=policy_arg)
    rid = inst.respondent_id
    truth = sim.truth[[rid, "careless", "n_missing"]].copy()
    settings = dict(n=int(n), seed=int(seed), careless=float(careless), missing=mech,
                    missing_rate=float(missing_rate) if mech != "none" else 0.0,
                    policies=dict(rs.report.policies or {}))
    del sim  # its responses hold the (fake) personal data; nothing downstream needs them
    return StudySample(responses=rs, instrument=inst, origin="simulated", population=pop, truth=truth,
                       settings=settings, input_files=inputs)


# =========================================================================== descriptives
def _item_meta(instrument: Instrument) -> pd.DataFrame:
    return pd.DataFrame([{"item": it.id, "construct": it.construct, "label": it.label["en"],
                          "points": instrument.scales[it.scale].points} for it in instrument.items])


def answer_shares(data: pd.DataFrame, instrument: Instrument) -> pd.DataFrame:
    """Share of each answer per item (answered cells only).

    Returns
    -------
    DataFrame
        Long format: ``item, construct, point, answer`` (English scale label), ``n``,
        ``percent`` (of the item's answers; rows of an item sum to 100).
    """
    rows = []
    for it in instrument.items:
        if it.id not in data.columns:
            continue
        sc = instrument.scales[it.scale]
        col = pd.to_numeric(data[it.id], errors="coerce")
        answered = int(col.notna().sum())
        for pt in sc.values:
            k = int((col == pt).sum())
            rows.append({"item": it.id, "construct": it.construct, "point": pt, "answer": sc.labels["en"][pt - 1],
                         "n": k, "percent": 100.0 * k / answered if answered else float("nan")})
    return pd.DataFrame(rows, columns=["item", "construct", "point", "answer", "n", "percent"])


def item_statistics(data: pd.DataFrame, instrument: Instrument) -> pd.DataFrame:
    """Per item: n answered, % missing, mean, SD, skewness, excess kurtosis, floor and ceiling %.

    Skewness and kurtosis are the bias-corrected sample statistics (as SPSS and
    ``pandas.Series.skew``/``kurt`` report them). Items outside |skew| < 2 and |kurtosis| < 7
    (Curran, West & Finch 1996) strain normal-theory ML.
    """
    meta = _item_meta(instrument)
    rows = []
    for r in meta.itertuples(index=False):
        if r.item not in data.columns:
            continue
        col = pd.to_numeric(data[r.item], errors="coerce").astype(float)
        ok = col.dropna()
        rows.append({"item": r.item, "construct": r.construct, "label": r.label, "n": int(len(ok)),
                     "missing_pct": 100.0 * float(col.isna().mean()) if len(col) else float("nan"),
                     "mean": float(ok.mean()) if len(ok) else float("nan"),
                     "sd": float(ok.std(ddof=1)) if len(ok) > 1 else float("nan"),
                     "skew": float(ok.skew()) if len(ok) > 2 else float("nan"),
                     "kurtosis": float(ok.kurt()) if len(ok) > 3 else float("nan"),
                     "floor_pct": 100.0 * float((ok == 1).mean()) if len(ok) else float("nan"),
                     "ceiling_pct": 100.0 * float((ok == r.points).mean()) if len(ok) else float("nan")})
    return pd.DataFrame(rows, columns=["item", "construct", "label", "n", "missing_pct", "mean", "sd", "skew",
                                       "kurtosis", "floor_pct", "ceiling_pct"])


def missingness_summary(sample: StudySample) -> dict[str, Any]:
    """How much is missing among the kept respondents, and what listwise deletion costs.

    Returns
    -------
    dict
        ``n_kept, cells, missing_cells, missing_pct`` (of item cells), ``respondents_any``
        (respondents with at least one blank), ``n_complete`` (the SEM's N),
        ``lost_pct`` (share of kept respondents listwise deletion drops), ``worst_item``,
        ``worst_item_pct``.
    """
    X = sample.items
    miss = X.isna()
    cells = int(miss.size)
    per_item = miss.mean() * 100 if len(X) else pd.Series(dtype=float)
    any_ = int(miss.any(axis=1).sum())
    worst = per_item.idxmax() if len(per_item) and per_item.max() > 0 else None
    return {"n_kept": int(len(X)), "cells": cells, "missing_cells": int(miss.to_numpy().sum()),
            "missing_pct": 100.0 * float(miss.to_numpy().mean()) if cells else 0.0,
            "respondents_any": any_, "n_complete": int(len(X) - any_),
            "lost_pct": 100.0 * any_ / len(X) if len(X) else 0.0,
            "worst_item": worst, "worst_item_pct": float(per_item.max()) if worst is not None else 0.0}


def screening_table(sample: StudySample) -> pd.DataFrame:
    """Respondent-level checks: how many respondents each flagged and what the policy did.

    Returns ``check, severity, respondents, policy, dropped, flagged, description`` for the
    checks that found something and take a policy (drop / flag / keep).
    """
    from .responses import RESPONDENT_CHECKS

    c = sample.report.counts
    if c.empty:
        return pd.DataFrame(columns=["check", "severity", "respondents", "policy", "dropped", "flagged",
                                     "description"])
    c = c[c.check.isin(RESPONDENT_CHECKS)]
    cols = [k for k in ("check", "severity", "respondents", "policy", "dropped", "flagged", "description")
            if k in c.columns]
    return c[cols].reset_index(drop=True)


CARELESS_ORDER = ("none", "straightline", "random", "speeder", "attention_fail")


def careless_detection(sample: StudySample) -> pd.DataFrame | None:
    """Simulated samples: how the screening treated each kind of (truly) careless respondent.

    Returns
    -------
    DataFrame or None
        One row per true type (``none`` = attentive): ``type, respondents, dropped, flagged``
        (kept but flagged by a check), ``unflagged`` (kept, no flag), ``caught_pct``
        (dropped or flagged). None for a user's file (the truth is unknown).
    """
    if sample.truth is None:
        return None
    rid = sample.instrument.respondent_id
    truth = sample.truth.set_index(rid)["careless"].astype(str)
    dropped = set(sample.responses.excluded["respondent"].astype(str))
    data = sample.data
    flag_cols = [c for c in data.columns if c.startswith("flag_")]
    flagged = set(data.loc[data[flag_cols].any(axis=1), rid].astype(str)) if flag_cols else set()
    rows = []
    for t in CARELESS_ORDER:
        ids = truth.index[truth == t].astype(str)
        if len(ids) == 0:
            continue
        d = int(sum(i in dropped for i in ids))
        f = int(sum(i in flagged for i in ids))
        rows.append({"type": t, "respondents": int(len(ids)), "dropped": d, "flagged": f,
                     "unflagged": int(len(ids)) - d - f, "caught_pct": 100.0 * (d + f) / len(ids)})
    return pd.DataFrame(rows, columns=["type", "respondents", "dropped", "flagged", "unflagged", "caught_pct"])


# =========================================================================== number formatting
def _n(x: Any, d: int = 2, bounded: bool = False) -> str:
    from .reporting.tables import format_number

    return format_number(x, d, bounded=bounded)


def _p(p: Any) -> str:
    from .reporting.tables import format_p

    return format_p(p, prefix=True)


def _ci(lo: Any, hi: Any, d: int = 2, bounded: bool = False) -> str:
    from .reporting.tables import format_ci

    return format_ci(lo, hi, d, bounded=bounded)


def _near(v: Any, cut: float, bounded: bool = True) -> str:
    """``v`` to 2 decimals, or 3 when 2 would print it equal to ``cut`` (.497 vs .50)."""
    s2 = _n(v, 2, bounded)
    return _n(v, 3, bounded) if s2 == _n(cut, 2, bounded) and not math.isclose(float(v), cut) else s2


def _pct(x: float, d: int = 1) -> str:
    return f"{x:.{d}f}%"


# =========================================================================== narrative: sample
def describe_sample(sample: StudySample) -> Narrative:
    """Where the data come from, how many respondents survived cleaning and why others did not."""
    out = [f"**Data:** {sample.label}."]
    out.append(f"Of **{sample.n_rows:,}** respondents, **{sample.n_kept:,}** were kept after cleaning "
               f"and **{sample.n_excluded:,}** excluded" + ("." if not sample.n_excluded else ":"))
    if sample.n_excluded:
        reasons: dict[str, int] = {}
        for s in sample.responses.excluded["checks"].astype(str):
            for c in s.split("; "):
                reasons[c] = reasons.get(c, 0) + 1
        out.append(", ".join(f"{k.replace('_', ' ')} {v}" for k, v in sorted(reasons.items(), key=lambda kv: -kv[1]))
                   + " (a respondent can fail several checks).")
    m = missingness_summary(sample)
    if m["respondents_any"]:
        out.append(f"{m['respondents_any']:,} kept respondents left at least one item blank, so a model "
                   f"estimated with listwise deletion uses **N = {m['n_complete']:,}** complete cases.")
    else:
        out.append(f"Every kept respondent answered every item: the models use **N = {m['n_complete']:,}**.")
    return Narrative(" ".join(out))


def describe_missingness(sample: StudySample) -> Narrative:
    """Missing answers in words, with the consequence for the SEM's sample size."""
    m = missingness_summary(sample)
    if not m["missing_cells"]:
        return Narrative("No item answer is missing among the kept respondents; listwise deletion loses nobody.")
    txt = (f"{m['missing_cells']:,} of {m['cells']:,} item answers are missing ({_pct(m['missing_pct'], 2)}). "
           f"They are spread over {m['respondents_any']:,} respondents ({_pct(m['lost_pct'])} of the kept "
           f"sample); the item skipped most often is {m['worst_item']} ({_pct(m['worst_item_pct'])}). "
           f"The SEM (maximum likelihood with listwise deletion) therefore analyses **{m['n_complete']:,}** "
           "complete respondents. ")
    if m["lost_pct"] > 20:
        txt += ("Losing more than a fifth of the sample costs power and, unless answers are missing "
                "completely at random, can bias the estimates: compare the complete cases with the rest, "
                "or re-field the survey with required answers.")
    elif m["lost_pct"] > 5:
        txt += "A loss of this size is tolerable if answers are missing at random; check who skipped."
    else:
        txt += "A loss this small hardly matters."
    return Narrative(txt)


def describe_items(stats: pd.DataFrame) -> Narrative:
    """Item distributions in words: skewness, kurtosis, floor and ceiling effects."""
    if stats.empty:
        return Narrative("No item answers to describe.")
    lo, hi = stats["mean"].min(), stats["mean"].max()
    parts = [f"Item means range from {_n(lo)} to {_n(hi)} (scale midpoint 3); SDs from "
             f"{_n(stats.sd.min())} to {_n(stats.sd.max())}."]
    bad = stats[(stats["skew"].abs() >= 2) | (stats["kurtosis"].abs() >= 7)]
    if len(bad):
        parts.append("Strongly non-normal items (|skew| ≥ 2 or |kurtosis| ≥ 7): " +
                     ", ".join(f"{r.item} (skew {_n(r.skew)}, kurtosis {_n(r.kurtosis)})" for r in bad.itertuples())
                     + "; normal-theory ML standard errors may be too small, which is one reason to trust "
                       "the bootstrap intervals of the later notebooks.")
    else:
        parts.append(f"No item is strongly non-normal (largest |skew| {_n(stats['skew'].abs().max())}, "
                     f"largest |kurtosis| {_n(stats['kurtosis'].abs().max())}; limits 2 and 7).")
    ceil = stats[stats.ceiling_pct > 15]
    floor = stats[stats.floor_pct > 15]
    if len(ceil) or len(floor):
        parts.append("More than 15% of answers sit at an end of the scale for " +
                     ", ".join([f"{r.item} (top {_pct(r.ceiling_pct, 0)})" for r in ceil.itertuples()] +
                               [f"{r.item} (bottom {_pct(r.floor_pct, 0)})" for r in floor.itertuples()]) +
                     ": a ceiling or floor effect limits how well these items separate respondents.")
    else:
        parts.append("No item has more than 15% of its answers at either end of the scale (no floor or "
                     "ceiling effect).")
    return Narrative(" ".join(parts))


def describe_careless(sample: StudySample, detection: pd.DataFrame | None = None) -> Narrative:
    """The screening for careless responding, and (simulated samples) how well it worked."""
    sc = screening_table(sample)
    if sc.empty:
        txt = "No respondent-level check found anything."
    else:
        bits = [f"{r.check.replace('_', ' ')}: {r.respondents} ({r.policy}"
                + (f", {r.dropped} dropped" if r.dropped else "") + (f", {r.flagged} flagged" if r.flagged else "")
                + ")" for r in sc.itertuples()]
        txt = "Respondent checks: " + "; ".join(bits) + "."
    flag_cols = [c for c in sample.data.columns if c.startswith("flag_") and sample.data[c].any()]
    if flag_cols:
        nflag = int(sample.data[flag_cols].any(axis=1).sum())
        txt += (f" {nflag} flagged respondents remain in the analysis sample; set the `policies` parameter "
                "(e.g. `{'too_fast': 'drop', 'straight_lining': 'drop'}`) to drop them instead.")
    if detection is not None and len(detection):
        care = detection[detection.type != "none"]
        att = detection[detection.type == "none"]
        if len(care):
            tot = int(care.respondents.sum())
            caught = int((care.dropped + care.flagged).sum())
            txt += (f" Because this sample is simulated, we know who answered carelessly: the checks caught "
                    f"{caught} of {tot} careless respondents ({_pct(100 * caught / tot, 0)})")
            missed = care[care.unflagged > 0]
            if len(missed):
                txt += "; missed: " + ", ".join(f"{r.unflagged} {r.type.replace('_', ' ')}" for r in missed.itertuples())
            txt += "."
        if len(att):
            a = att.iloc[0]
            fp = int(a.dropped + a.flagged)
            txt += (f" Of {int(a.respondents)} attentive respondents, {fp} were dropped or flagged anyway "
                    f"({_pct(100 * fp / a.respondents)}; e.g. an attention-check slip or a fast reader).")
    return Narrative(txt)


# =========================================================================== fit
def fit_rating(fit_measures: Mapping[str, Any]) -> dict[str, str]:
    """Rate CFI, TLI, RMSEA and SRMR against :data:`FIT_CUTOFFS`: ``good``, ``acceptable``, ``poor``
    (missing measures are left out), plus ``overall``: poor if any is poor, good if all are
    good, else acceptable."""
    out: dict[str, str] = {}
    for k, (good, ok) in FIT_CUTOFFS.items():
        v = fit_measures.get(k)
        if v is None or not np.isfinite(float(v)):
            continue
        v = float(v)
        if _HIGHER_IS_BETTER[k]:
            out[k] = "good" if v >= good else "acceptable" if v >= ok else "poor"
        else:
            out[k] = "good" if v <= good else "acceptable" if v <= ok else "poor"
    vals = list(out.values())
    if vals:
        out["overall"] = "poor" if "poor" in vals else "good" if all(v == "good" for v in vals) else "acceptable"
    return out


def describe_fit(fit_measures: Mapping[str, Any], what: str = "The model") -> Narrative:
    """Fit in one paragraph: each index with its cut-off and rating, then an overall verdict.

    Examples
    --------
    >>> describe_fit({"chisq": 150.2, "df": 129, "pvalue": 0.1, "cfi": 0.97, "rmsea": 0.03,
    ...               "srmr": 0.04})  # doctest: +SKIP
    The model: χ²(129) = 150.20, p = .100 (exact fit not rejected); CFI = .970 (≥ .95: good); ...
    """
    fm = dict(fit_measures)
    rating = fit_rating(fm)
    parts = []
    if fm.get("chisq") is not None and fm.get("df") is not None:
        chi = f"χ²({int(round(float(fm['df'])))}) = {_n(fm['chisq'])}, {_p(fm.get('pvalue'))}"
        pv = fm.get("pvalue")
        if pv is not None and np.isfinite(pv):
            chi += (" (exact fit not rejected)" if pv >= 0.05 else
                    " (exact fit rejected, as is usual with samples in the hundreds; judge by the indices)")
        parts.append(chi)
    for k, name in (("cfi", "CFI"), ("tli", "TLI"), ("rmsea", "RMSEA"), ("srmr", "SRMR")):
        if k not in rating:
            continue
        good, ok = FIT_CUTOFFS[k]
        sign = "≥" if _HIGHER_IS_BETTER[k] else "≤"
        cut = good if rating[k] == "good" else ok
        val = _n(fm[k], 3, bounded=True)
        if k == "rmsea" and fm.get("rmsea.ci.lower") is not None:
            val += f", 90% CI {_ci(fm['rmsea.ci.lower'], fm['rmsea.ci.upper'], 3, bounded=True)}"
        if rating[k] == "poor":
            parts.append(f"{name} = {val} (misses {sign} {_n(ok, 2, True)}: poor)")
        else:
            parts.append(f"{name} = {val} ({sign} {_n(cut, 2, True)}: {rating[k]})")
    overall = rating.get("overall")
    verdict = {"good": "fits the data well", "acceptable": "fits the data acceptably",
               "poor": "does not fit the data well: interpret its estimates with caution"}.get(overall, "")
    txt = f"{what}: " + "; ".join(parts) + "."
    if verdict:
        txt += f" Overall, {what[0].lower() + what[1:] if not what.isupper() else what} {verdict} " \
               "(cut-offs after Hu & Bentler, 1999)."
    return Narrative(txt)


def r_squared(result: Any) -> dict[str, float]:
    """R² of every regression outcome: 1 minus its standardized residual variance."""
    from .measurement import _estimates

    est = _estimates(result)
    out: dict[str, float] = {}
    for y in dict.fromkeys(est.loc[est.op == "~", "lhs"]):
        r = est[(est.op == "~~") & (est.lhs == y) & (est.rhs == y)]
        if len(r) and pd.notna(r["std.all"].iloc[0]):
            out[str(y)] = 1.0 - float(r["std.all"].iloc[0])
    return out



def r2_labels(result: Any) -> dict[str, str]:
    """Path-diagram labels that show each outcome's R² under its name (``SAT\nR² = .39``)."""
    return {y: f"{y}\nR² = {_n(v, 2, True)}" for y, v in r_squared(result).items()}


def describe_r_squared(result: Any) -> Narrative:
    """Variance explained of every outcome, with Cohen's (1988) labels (.02 small, .13 medium, .26 large)."""
    r2 = r_squared(result)
    if not r2:
        return Narrative("")

    def size(v: float) -> str:
        return "large" if v >= 0.26 else "medium" if v >= 0.13 else "small" if v >= 0.02 else "negligible"

    from .measurement import _estimates

    est = _estimates(result)
    bits = []
    for y, v in r2.items():
        xs = list(dict.fromkeys(est.loc[(est.op == "~") & (est.lhs == y), "rhs"]))
        bits.append(f"{' and '.join(xs)} explain{'s' if len(xs) == 1 else ''} {_pct(100 * v, 0)} of the variance of "
                    f"{y} (R² = {_n(v, 2, True)}, {size(v)} by Cohen's benchmarks)")
    return Narrative("; ".join(bits) + ".")

# =========================================================================== warnings
@dataclass
class WarningsBox:
    """Estimation warnings collected from several results, shown prominently."""

    messages: list[str]
    title: str = "Estimation warnings"

    def __bool__(self) -> bool:
        return bool(self.messages)

    def __repr__(self) -> str:
        if not self.messages:
            return "No estimation warnings."
        return f"{self.title} ({len(self.messages)}):\n" + "\n".join(f"  ! {m}" for m in self.messages)

    def _repr_html_(self) -> str:
        if not self.messages:
            return ("<div class='crm-warnings none' style='margin:8px 0;padding:6px 12px;border-left:4px solid "
                    "#1f7a4d;background:#e3f4ea;color:#1f7a4d'>No estimation warnings: the models converged "
                    "and every estimate is admissible.</div>")
        items = "".join(f"<li>{html.escape(m)}</li>" for m in self.messages)
        return ("<div class='crm-warnings' role='alert' style='margin:10px 0;padding:10px 14px;"
                "border:2px solid #b42318;border-radius:6px;background:#fdecea;color:#7a1a12'>"
                f"<b>&#9888; {html.escape(self.title)} ({len(self.messages)})</b> &mdash; read these before "
                f"interpreting the results:<ul style='margin:6px 0 0'>{items}</ul></div>")


def warnings_box(*sources: Any, title: str = "Estimation warnings") -> WarningsBox:
    """Collect warnings from fitted models, measurement reports, hypothesis tests or lists of text.

    Duplicates are shown once, in first-seen order.
    """
    msgs: list[str] = []
    for s in sources:
        if s is None:
            continue
        if isinstance(s, str):
            msgs.append(s)
        elif isinstance(s, (list, tuple)):
            msgs += [str(x) for x in s]
        else:
            msgs += [str(x) for x in (getattr(s, "warnings", None) or [])]
    return WarningsBox(list(dict.fromkeys(msgs)), title=title)


# =========================================================================== measurement
MEASUREMENT_PARTS = ("loadings", "reliability", "discriminant", "method", "verdict")


def describe_measurement(report: Any, part: str | Sequence[str] | None = None) -> Narrative:
    """Loadings, reliability and convergent validity, discriminant validity, common-method
    variance and an overall verdict, in words.

    Parameters
    ----------
    report : MeasurementReport
    part : str or list of str, optional
        Any of ``loadings``, ``reliability``, ``discriminant``, ``method``, ``verdict``
        (default: all, in that order), so a notebook can interpret each table where it shows it.
    """
    wanted = list(MEASUREMENT_PARTS) if part is None else ([part] if isinstance(part, str) else list(part))
    unknown = [p for p in wanted if p not in MEASUREMENT_PARTS]
    if unknown:
        raise ValueError(f"unknown part(s) {unknown}; choose from {', '.join(MEASUREMENT_PARTS)}")
    th = report.thresholds
    R = report.reliability
    first = R[R.level == "first-order"]
    fl = report.flagged
    out: dict[str, str] = {}

    L = report.loadings
    bad_l = L[L.flag]
    out["loadings"] = (
        f"**Loadings.** Standardized loadings range from {_n(L.loading.min(), 2, True)} to "
        f"{_n(L.loading.max(), 2, True)}"
        + (("; below " + _n(th.loading, 2, True) + ": " + ", ".join(
            f"{r.item} on {r.construct} ({_near(r.loading, th.loading)})" for r in bad_l.itertuples())
            + ". A weak indicator shares little variance with its construct; drop it only if theory allows "
              "and reliability does not suffer")
           if len(bad_l) else f": every indicator reaches {_n(th.loading, 2, True)}") + ".")

    rel = (f"**Reliability and convergent validity.** Cronbach's α ranges from {_n(first.alpha.min(), 2, True)} to "
           f"{_n(first.alpha.max(), 2, True)}"
           + (f", McDonald's ω from {_n(first.omega.min(), 2, True)} to {_n(first.omega.max(), 2, True)}"
              if first.omega.notna().any() else "")
           + f", composite reliability (CR) from {_n(R.cr.min(), 2, True)} to {_n(R.cr.max(), 2, True)} and "
             f"the average variance extracted (AVE) from {_n(R.ave.min(), 2, True)} to {_n(R.ave.max(), 2, True)}. ")
    rel_bad = R[R.flag]
    if len(rel_bad):
        probs = []
        for r in rel_bad.to_dict("records"):
            bits = [f"{name} {_near(r[k], cut)} < {_n(cut, 2, True)}"
                    for k, name, cut in (("alpha", "α", th.alpha), ("omega", "ω", th.omega), ("cr", "CR", th.cr),
                                         ("ave", "AVE", th.ave)) if pd.notna(r[k]) and r[k] < cut]
            probs.append(f"{r['construct']} ({', '.join(bits)})")
        rel += ("Below threshold (α, ω, CR ≥ " + _n(th.alpha, 2, True) + ", AVE ≥ " + _n(th.ave, 2, True) + "): "
                + "; ".join(probs) + ".")
        if all(("AVE" in p and "α" not in p and "CR" not in p and "ω" not in p) for p in probs):
            rel += (" Only AVE falls short while CR is adequate: by Fornell and Larcker's (1981) own argument "
                    "convergent validity is then still acceptable.")
    else:
        rel += f"Every construct meets α, ω and CR ≥ {_n(th.alpha, 2, True)} and AVE ≥ {_n(th.ave, 2, True)}."
    out["reliability"] = rel

    d = report.discriminant
    disc = "**Discriminant validity.** "
    if len(d) == 0:
        disc += "Not assessed (fewer than two first-order constructs)."
    else:
        if fl["fornell_larcker"]:
            disc += ("Fornell-Larcker is violated for " + ", ".join(fl["fornell_larcker"]) +
                     " (their latent correlation exceeds a √AVE)")
        else:
            disc += "Every √AVE exceeds the construct's correlations with the others (Fornell-Larcker met)"
        dh = d.dropna(subset=["htmt"])
        if len(dh):
            top = dh.loc[dh.htmt.idxmax()]
            disc += (f"; the largest HTMT is {_n(top.htmt, 2)} ({top.construct_1}-{top.construct_2})"
                     + (f", and {len(fl['htmt'])} pair(s) reach the {_n(th.htmt, 2, True)} cut-off: "
                        + ", ".join(fl["htmt"]) if fl["htmt"] else f", below the {_n(th.htmt, 2, True)} cut-off"))
        disc += "."
        if fl["fornell_larcker"] and not fl["htmt"]:
            disc += (" HTMT, the more sensitive criterion (Henseler et al., 2015), does not confirm the "
                     "problem; constructs that are theoretically close, such as satisfaction and loyalty, often "
                     "fail Fornell-Larcker narrowly.")
    out["discriminant"] = disc

    if report.harman is not None:
        h = report.harman
        cm = (f"**Common-method variance.** The first unrotated factor explains "
              f"{_pct(100 * h.first_factor_share)} of the item variance "
              + ("(more than " if h.flag else "(below ") + f"{_pct(100 * h.threshold, 0)})")
        if h.comparison is not None:
            cm += (f", and a single-factor CFA fits far worse than the measurement model ({h.comparison.apa()}, "
                   f"ΔCFI = {h.comparison.delta_cfi:+.3f})" if h.comparison.pvalue < 0.05 else
                   f"; a single-factor CFA does not fit significantly worse ({h.comparison.apa()})")
        cm += (": a single method factor does not dominate the data (Harman's test is a weak check, "
               "though: it rules out only gross common-method bias)." if not h.flag and
               (h.comparison is None or h.comparison.pvalue < 0.05) else
               ": common-method variance may inflate the relations; consider a marker variable or a "
               "method factor.")
        out["method"] = cm
    else:
        out["method"] = "**Common-method variance.** Not assessed."

    n_bad = sum(len(v) for v in fl.values())
    out["verdict"] = "**Verdict.** " + ("The measurement model passes every check." if report.ok else
                                         f"{n_bad} check(s) fall short (see above); read the structural results "
                                         "with that in mind.")
    return Narrative("\n\n".join(out[p] for p in wanted))


# =========================================================================== hypotheses and mediation
def describe_hypotheses(table: pd.DataFrame, ci: str = "95% CI") -> Narrative:
    """One line per hypothesis: β, p, CI of B and the verdict."""
    lines = []
    for d in table.to_dict("records"):
        sign = "positive" if d["expected"] == "+" else "negative"
        lines.append(f"- **{d['hypothesis']}** ({d['path']}, expected {sign}): β = {_n(d['std.all'], 2, True)}, "
                     f"B = {_n(d['est'])}, {_p(d['pvalue'])}, {ci} of B {_ci(d['ci.lower'], d['ci.upper'])} "
                     f"→ **{d['verdict']}**.")
    n_sup = int(table.supported.sum())
    head = (f"{n_sup} of {len(table)} hypotheses are supported" +
            (" (the source study, R1 ch. 7, reports all of them supported)." if n_sup == len(table) else
             "; the source study (R1 ch. 7) reports all of them supported, so this sample does not fully "
             "replicate it."))
    return Narrative(head + "\n\n" + "\n".join(lines))


def ci_label(result: Any) -> str:
    """How a fit's confidence intervals were made, e.g. ``95% bootstrap percentile CI (R = 1,000, 998 used)``."""
    b = getattr(result, "bootstrap", None)
    lvl = int(round(100 * float(getattr(result, "ci_level", 0.95) or 0.95)))
    if b is not None:
        kind = {"perc": "percentile", "bca.simple": "bias-corrected"}.get(b.ci_type, b.ci_type)
        return f"{lvl}% bootstrap {kind} CI (R = {b.R:,}, {b.n_ok:,} used)"
    return f"{lvl}% delta-method CI"


def describe_mediation(test: Any) -> Narrative:
    """Indirect effects, their CIs and the full/partial mediation verdict, from a HypothesisTest."""
    res = test.results["model"]
    ind = test.indirect[test.indirect.kind == "indirect"]
    lines = []
    for r in ind.to_dict("records"):
        sig = "excludes 0: the indirect effect is significant" if r["significant"] else \
            "includes 0: no evidence of an indirect effect"
        lines.append(f"- **{r['path']}**: indirect effect {_n(r['est'], 3)} (standardized {_n(r['std.all'], 3, True)}), "
                     f"{ci_label(res)} {_ci(r['ci.lower'], r['ci.upper'], 3)}, which {sig}.")
    med = test.mediation
    res_p = test.results.get("partial")
    for r in med.to_dict("records"):
        if math.isnan(r["direct"]):
            lines.append(f"- {r['path']}: {r['verdict']}.")
            continue
        x, y = r["path"].split(" → ")[0], r["path"].split(" → ")[-1]
        sig = "excludes" if r["indirect.significant"] else "includes"
        lines.append(f"- With the direct path {x} → {y} added (partial-mediation model) the indirect effect is "
                     f"{_n(r['indirect'], 3)}, CI {_ci(r['indirect.ci.lower'], r['indirect.ci.upper'], 3)} ({sig} 0), "
                     f"and the direct effect {_n(r['direct'], 3)} ({_p(r['direct.pvalue'])}) → **{r['verdict']}** "
                     "(Zhao, Lynch & Chen, 2010: " + {
                         "indirect-only": "only the indirect effect is significant",
                         "complementary": "indirect and direct effects are significant and point the same way",
                         "competitive": "indirect and direct effects are significant but point in opposite ways",
                         "direct-only": "only the direct effect is significant",
                         "no-effect": "neither effect is significant"}.get(r["type"], r["type"]) + ").")
    if res_p is not None and len(ind) and len(med):
        full_sig = dict(zip(ind.path, ind.significant))
        for r in med.to_dict("records"):
            if full_sig.get(r["path"]) is not None and bool(full_sig[r["path"]]) != bool(r["indirect.significant"]):
                lines.append(f"- Note: for {r['path']} the two models disagree on whether the indirect effect's "
                             "interval excludes 0, so the evidence for this indirect effect is borderline; more "
                             "bootstrap resamples or a larger sample would settle it.")
    return Narrative("\n".join(lines))


def describe_comparison(comp: Any) -> Narrative:
    """Full vs partial mediation: the chi-square difference test, ΔCFI and information criteria."""
    if comp is None:
        return Narrative("No alternative model was compared.")
    r_name, f_name = comp.names
    better = f_name if comp.pvalue < comp.alpha else r_name
    crit = []
    crit.append(f"{comp.apa()} ({'significant' if comp.pvalue < comp.alpha else 'not significant'} at "
                f"α = {_n(comp.alpha, 2, True)})")
    crit.append(f"ΔCFI = {comp.delta_cfi:+.3f} ({'a loss larger than .01' if comp.delta_cfi < -0.01 else 'within .01'})")
    crit.append(f"ΔAIC = {comp.delta_aic:+.1f} (favours {r_name if comp.delta_aic < 0 else f_name})")
    crit.append(f"ΔBIC = {comp.delta_bic:+.1f} (favours {r_name if comp.delta_bic < 0 else f_name})")
    agree = sum([(comp.pvalue < comp.alpha) == (better == f_name), (comp.delta_aic > 0) == (better == f_name),
                 (comp.delta_bic > 0) == (better == f_name)])
    txt = (f"Comparing the {r_name} model (restricted: no direct path) with the {f_name} model: "
           + "; ".join(crit) + f". Differences are {r_name} minus {f_name}. "
           f"**Preferred: {better}** ({agree} of 3 criteria agree).")
    if better == r_name:
        txt += " The direct path adds nothing the data need: satisfaction carries the effect on loyalty."
    else:
        txt += " The direct path is needed: satisfaction carries only part of the effect on loyalty."
    return Narrative(txt)


def preferred_model(comp: Any) -> str | None:
    """Name of the model the chi-square difference test prefers (None without a comparison)."""
    if comp is None:
        return None
    return comp.names[1] if comp.pvalue < comp.alpha else comp.names[0]


def bootstrap_draws(result: Any, parameter: str) -> pd.Series:
    """Usable bootstrap replicates of one parameter (``ind_OPS_LOY``, ``SAT~OPS``)."""
    b = getattr(result, "bootstrap", None)
    if b is None:
        raise ModelError("the model was not fitted with a bootstrap", hint="fit with se='bootstrap'")
    reps = b.replicates
    if parameter not in reps.columns:
        raise KeyError(f"no bootstrap replicates of {parameter!r}; have: "
                       + ", ".join(c for c in reps.columns if c not in ("replicate", "status")))
    return reps.loc[reps.status == "ok", parameter].astype(float).reset_index(drop=True)


# =========================================================================== relative effects
def relative_effects_syntax(instrument: Instrument, model: str = "combined") -> str:
    """The model's syntax plus ``:=`` parameters for standardized paths and their differences.

    For an outcome with several exogenous predictors (the combined model: SAT ~ OPS + CRM)
    the standardized path of predictor *x* is ``b_x * sd(x) / sd(outcome)``, with the
    outcome's model-implied variance ``b' Φ b + ψ``. Writing it as a defined parameter makes
    the bootstrap give a CI of each standardized path and of their difference, which answers
    "which driver matters more?" with an interval instead of eyeballing two betas.
    Standardized indirect effects through a mediator with a single outcome (SAT -> LOY) are
    added the same way.

    The added labels (``v_OPS``, ``c_OPS_CRM``, ``z_SAT``...) only name parameters the model
    estimates anyway: the fit is identical to :func:`~crm_research.instruments.structural_syntax`.

    Defined parameters: ``beta_<X>`` per predictor, ``beta_diff_<X>_<Y>`` per pair; with a
    declared indirect effect through the outcome also ``beta_<M>_<Y>`` and ``std_ind_<X>``
    and ``std_ind_diff_<X>_<Y>``.

    Raises
    ------
    ModelError
        The model has no outcome with two or more exogenous latent predictors.
    """
    from .instruments import structural_syntax

    syntax = structural_syntax(instrument, model)
    spec = instrument.models[model]
    hyps = [instrument.hypothesis(h) for h in spec.hypotheses]
    preds: dict[str, dict[str, str]] = {}
    for h in hyps:
        preds.setdefault(h.lhs, {}).setdefault(h.rhs, h.label)
    outcomes = {h.lhs for h in hyps}
    target = next((y for y, p in preds.items() if len(p) >= 2 and not (set(p) & outcomes)), None)
    if target is None:
        raise ModelError(f"model {model!r} has no outcome with two or more exogenous predictors, so there are "
                         "no standardized paths to compare", hint="use the combined model")
    xs = list(preds[target])
    lines = [f"{x} ~~ v_{x}*{x}" for x in xs]
    for i, a in enumerate(xs):
        for b in xs[i + 1:]:
            lines.append(f"{a} ~~ c_{a}_{b}*{b}")
    lines.append(f"{target} ~~ z_{target}*{target}")
    lab = preds[target]
    terms = [f"{lab[x]}^2*v_{x}" for x in xs]
    for i, a in enumerate(xs):
        for b in xs[i + 1:]:
            terms.append(f"2*{lab[a]}*{lab[b]}*c_{a}_{b}")
    lines.append(f"var_{target} := " + " + ".join(terms) + f" + z_{target}")
    for x in xs:
        lines.append(f"beta_{x} := {lab[x]}*sqrt(v_{x})/sqrt(var_{target})")
    for i, a in enumerate(xs):
        for b in xs[i + 1:]:
            lines.append(f"beta_diff_{a}_{b} := beta_{a} - beta_{b}")
    # standardized indirect effects through `target` when it has a single outcome of its own
    downstream = [y for y, p in preds.items() if target in p]
    inds = [ind for ind in spec.indirect if ind["via"] == target]
    if len(downstream) == 1 and set(preds[downstream[0]]) == {target} and inds:
        y = downstream[0]
        b_lab = preds[y][target]
        lines.append(f"{y} ~~ z_{y}*{y}")
        lines.append(f"beta_{target}_{y} := {b_lab}*sqrt(var_{target})/sqrt({b_lab}^2*var_{target} + z_{y})")
        done = [ind["from"] for ind in inds if ind["from"] in xs]
        for x in done:
            lines.append(f"std_ind_{x} := beta_{x}*beta_{target}_{y}")
        for i, a in enumerate(done):
            for b in done[i + 1:]:
                lines.append(f"std_ind_diff_{a}_{b} := std_ind_{a} - std_ind_{b}")
    return syntax + "\n".join(lines) + "\n"


def relative_effects(result: Any) -> pd.DataFrame:
    """The standardized paths, indirect effects and differences of a model fitted with
    :func:`relative_effects_syntax`.

    Returns
    -------
    DataFrame
        ``effect`` (label), ``kind`` (``path``, ``path difference``, ``indirect``,
        ``indirect difference``), ``description`` (e.g. ``OPS → SAT``), ``estimate``
        (standardized), ``se``, ``ci.lower``, ``ci.upper`` (bootstrap when fitted with
        one), ``significant`` (the CI excludes 0).
    """
    from .measurement import _estimates

    est = _estimates(result)
    d = est[est.op == ":="]
    reg = est[est.op == "~"]
    targets = {str(x)[len("var_"):] for x in d.lhs if str(x).startswith("var_")}
    target = next(iter(targets)) if len(targets) == 1 else None
    rows = []
    for r in d.itertuples(index=False):
        name = str(r.lhs)
        if name.startswith("beta_diff_"):
            a, b = name[len("beta_diff_"):].split("_", 1)
            kind, desc = "path difference", f"({a} → {target}) − ({b} → {target})"
        elif name.startswith("std_ind_diff_"):
            a, b = name[len("std_ind_diff_"):].split("_", 1)
            kind, desc = "indirect difference", f"indirect via {target}: {a} − {b}"
        elif name.startswith("std_ind_"):
            x = name[len("std_ind_"):]
            y = next((str(q.lhs) for q in reg.itertuples() if q.rhs == target), "?")
            kind, desc = "indirect", f"{x} → {target} → {y}"
        elif name.startswith("beta_"):
            rest = name[len("beta_"):]
            if "_" in rest:
                m, y = rest.split("_", 1)
                kind, desc = "path", f"{m} → {y}"
            else:
                kind, desc = "path", f"{rest} → {target}"
        else:
            continue
        rows.append({"effect": name, "kind": kind, "description": desc, "estimate": float(r.est),
                     "se": float(r.se) if pd.notna(r.se) else np.nan})
    out = pd.DataFrame(rows, columns=["effect", "kind", "description", "estimate", "se"])
    if len(out):
        ci = d.set_index("lhs")[["ci.lower", "ci.upper"]]
        out["ci.lower"] = out.effect.map(ci["ci.lower"]).astype(float)
        out["ci.upper"] = out.effect.map(ci["ci.upper"]).astype(float)
        out["significant"] = (out["ci.lower"] > 0) | (out["ci.upper"] < 0)
    else:
        out["ci.lower"] = out["ci.upper"] = []
        out["significant"] = []
    return out


def describe_relative_effects(table: pd.DataFrame, result: Any = None) -> Narrative:
    """Which driver matters more, judged by the CI of the difference of standardized effects."""
    if table.empty:
        return Narrative("No relative effects were estimated.")
    ci = ci_label(result) if result is not None else "95% CI"
    t = table.set_index("effect")
    lines = []
    paths = table[(table.kind == "path") & table.description.str.count("→").eq(1)]
    for r in table[table.kind == "path difference"].to_dict("records"):
        a, b = r["effect"][len("beta_diff_"):].split("_", 1)
        ba, bb = t.loc[f"beta_{a}", "estimate"], t.loc[f"beta_{b}", "estimate"]
        big = a if ba >= bb else b
        lines.append(f"- Standardized paths to {r['description'].split('→ ')[1].split(')')[0]}: "
                     f"{a} β = {_n(ba, 2, True)}, {b} β = {_n(bb, 2, True)}. "
                     f"The difference {a} − {b} = {_n(r['estimate'], 2, True)}, {ci} "
                     f"{_ci(r['ci.lower'], r['ci.upper'], 2, True)}"
                     + (f": **{big} has the stronger effect**." if r["significant"] else
                        f": the interval includes 0, so the data **do not tell which is stronger** "
                        f"({big}'s larger point estimate may be chance)."))
    for r in table[table.kind == "indirect difference"].to_dict("records"):
        a, b = r["effect"][len("std_ind_diff_"):].split("_", 1)
        lines.append(f"- The standardized indirect effects ({r['description']}) differ by "
                     f"{_n(r['estimate'], 3, True)}, {ci} {_ci(r['ci.lower'], r['ci.upper'], 3, True)}"
                     + (": a reliable difference." if r["significant"] else
                        ": the interval includes 0, no reliable difference."))
    if not lines and len(paths):
        lines.append("- " + "; ".join(f"{r.description}: β = {_n(r.estimate, 2, True)}" for r in paths.itertuples()))
    return Narrative("\n".join(lines))


# =========================================================================== population truth
def compare_with_population(result: Any, population: Any, ops: Sequence[str] = ("=~", "~")) -> pd.DataFrame:
    """Estimated standardized parameters next to the population values they estimate.

    Loadings (``=~``) are compared with the population's standardized loadings. A
    regression (``~``) is compared with the standardized coefficient the *population implies
    for the fitted model's predictors* (``beta = R_xx^-1 r_xy`` from the population's latent
    correlations), which differs from the population path when the fitted model leaves out
    a correlated predictor (model A omits CRM, so OPS -> SAT absorbs part of CRM's effect).

    Returns
    -------
    DataFrame
        ``lhs, op, rhs, population, estimate`` (``std.all``), ``difference``.
    """
    from .measurement import _estimates

    est = _estimates(result)
    truth = population.standardized_parameters()
    tl = {(a, b): float(v) for a, b, v in zip(truth.lhs[truth.op == "=~"], truth.rhs[truth.op == "=~"],
                                                  truth["std.all"][truth.op == "=~"])}
    R = population.latent_correlations()
    rows = []
    if "=~" in ops:
        for r in est[est.op == "=~"].itertuples(index=False):
            if (r.lhs, r.rhs) in tl:
                rows.append((r.lhs, "=~", r.rhs, tl[(r.lhs, r.rhs)], np.nan))
    if "~" in ops:
        reg = est[est.op == "~"]
        for y, block in reg.groupby("lhs", sort=False):
            xs = [str(x) for x in block.rhs]
            if y not in R.index or any(x not in R.index for x in xs):
                continue
            Rxx = R.loc[xs, xs].to_numpy(float)
            rxy = R.loc[xs, y].to_numpy(float)
            beta = np.linalg.solve(Rxx, rxy)
            for x, b in zip(xs, beta):
                rows.append((y, "~", x, float(b), np.nan))
    out = pd.DataFrame(rows, columns=["lhs", "op", "rhs", "population", "estimate"])
    std = est.set_index(["lhs", "op", "rhs"])["std.all"]
    out["estimate"] = [float(std.get((a, o, b), np.nan)) for a, o, b in zip(out.lhs, out.op, out.rhs)]
    out["difference"] = out.estimate - out.population
    return out


def describe_recovery(table: pd.DataFrame) -> Narrative:
    """How close the estimates come to the population values (simulated samples)."""
    if table.empty:
        return Narrative("")
    parts = []
    reg = table[table.op == "~"]
    if len(reg):
        parts.append("Structural paths (estimate vs population): " + "; ".join(
            f"{r.rhs} → {r.lhs} {_n(r.estimate, 2, True)} vs {_n(r.population, 2, True)}" for r in reg.itertuples()) + ".")
    ld = table[table.op == "=~"]
    if len(ld):
        items = ld[~ld.rhs.isin(set(table.lhs))]
        if len(items):
            parts.append(f"Item loadings deviate from their population values by {_n(items.difference.mean(), 3)} "
                         f"on average (the population loadings describe continuous responses; cutting them into "
                         "five answer categories attenuates correlations, so estimated loadings tend to be lower).")
    return Narrative(" ".join(parts))


# =========================================================================== overviews
def construct_overview(instrument: Instrument) -> pd.DataFrame:
    """One row per construct: ``construct, name, name_zh, level, measured_by``."""
    rows = []
    for c in instrument.constructs:
        rows.append({"construct": c.id, "name": c.name["en"], "name_zh": c.name["zh"],
                     "level": "second-order" if c.is_higher_order else "first-order",
                     "measured_by": ", ".join(c.dimensions) if c.is_higher_order else
                     ", ".join(it.id for it in c.items)})
    return pd.DataFrame(rows, columns=["construct", "name", "name_zh", "level", "measured_by"])


def hypotheses_overview(instrument: Instrument) -> pd.DataFrame:
    """One row per hypothesis: ``hypothesis, path, expected, models, statement``."""
    rows = []
    for h in instrument.hypotheses:
        models = [m for m, spec in instrument.models.items() if h.id in spec.hypotheses]
        rows.append({"hypothesis": h.id, "path": f"{h.rhs} \u2192 {h.lhs}",
                     "expected": "+" if h.sign == "positive" else "\u2212", "models": ", ".join(models),
                     "statement": h.text.get("en", "")})
    return pd.DataFrame(rows, columns=["hypothesis", "path", "expected", "models", "statement"])


# =========================================================================== fitting
def fit_model(syntax: str, data: pd.DataFrame, *, bootstrap: int = 0, seed: int | None = None) -> Any:
    """:func:`crm_research.sem.fit` with a bootstrap of ``bootstrap`` rows-resamples (0: normal-theory SEs)."""
    from . import sem

    if bootstrap:
        return sem.fit(syntax, data, se="bootstrap", bootstrap=int(bootstrap), seed=seed)
    return sem.fit(syntax, data)


def test_relative_effects(data: pd.DataFrame, instrument: Instrument, model: str = "combined", *,
                          bootstrap: int = 0, seed: int | None = None, alpha: float = 0.05) -> Any:
    """:func:`crm_research.hypotheses.test_hypotheses` for a model with several drivers, fitted
    with :func:`relative_effects_syntax` so that one bootstrap gives the hypotheses, the
    indirect effects *and* the CIs of the standardized paths and their differences.

    Returns
    -------
    HypothesisTest
        As ``test_hypotheses`` (``results["model"]`` is the relative-effects fit, whose fit is
        identical to the plain model's; ``results["partial"]`` the partial-mediation model).
    """
    from .hypotheses import (HypothesisTest, compare_models, hypothesis_table, indirect_effects,
                             mediation_table)
    from .instruments import structural_syntax
    from .measurement import _sem_warnings

    res = fit_model(relative_effects_syntax(instrument, model), data, bootstrap=bootstrap, seed=seed)
    warnings = [f"model {model}: {w}" for w in _sem_warnings(res)]
    table = hypothesis_table(res, instrument, model, alpha=alpha)
    ind = indirect_effects(res, alpha=alpha)
    results = {"model": res}
    p_table = p_ind = comp = None
    med_src = res
    if instrument.models[model].indirect:
        res_p = fit_model(structural_syntax(instrument, model, partial=True), data, bootstrap=bootstrap, seed=seed)
        results["partial"] = res_p
        warnings += [f"partial model {model}: {w}" for w in _sem_warnings(res_p)]
        p_table = hypothesis_table(res_p, instrument, model, alpha=alpha)
        p_ind = indirect_effects(res_p, alpha=alpha)
        comp = compare_models(res, res_p, names=("full mediation", "partial mediation"), alpha=alpha)
        warnings += comp.warnings
        med_src = res_p
    return HypothesisTest(model=model, hypotheses=table, indirect=ind, mediation=mediation_table(med_src, alpha=alpha),
                          partial_hypotheses=p_table, partial_indirect=p_ind, comparison=comp, results=results,
                          alpha=alpha, warnings=list(dict.fromkeys(warnings)))


test_relative_effects.__test__ = False  # not a pytest test despite its name


def alone_vs_together(data: pd.DataFrame, instrument: Instrument, combined: Any,
                      models: Sequence[str] = ("ops", "crm")) -> pd.DataFrame:
    """Each driver's standardized path in its own model next to its path in the combined model.

    Fits the single-driver models (normal-theory SEs; only the point estimates are used).

    Returns
    -------
    DataFrame
        ``outcome, predictor, model, beta_alone, beta_together, change``.
    """
    from .instruments import structural_syntax
    from .measurement import _estimates

    est_c = _estimates(combined)
    reg_c = est_c[est_c.op == "~"]
    rows = []
    for m in models:
        res = fit_model(structural_syntax(instrument, m), data)
        est = _estimates(res)
        for r in est[est.op == "~"].itertuples(index=False):
            hit = reg_c[(reg_c.lhs == r.lhs) & (reg_c.rhs == r.rhs)]
            if hit.empty or str(r.rhs) in set(reg_c.lhs):
                continue  # e.g. SAT -> LOY, the same path in every model
            together = float(hit["std.all"].iloc[0])
            alone = float(est.loc[(est.op == "~") & (est.lhs == r.lhs) & (est.rhs == r.rhs), "std.all"].iloc[0])
            rows.append({"outcome": r.lhs, "predictor": r.rhs, "model": m, "beta_alone": alone,
                         "beta_together": together, "change": together - alone})
    return pd.DataFrame(rows, columns=["outcome", "predictor", "model", "beta_alone", "beta_together", "change"])


def describe_alone_vs_together(table: pd.DataFrame, combined: Any) -> Narrative:
    """Why the drivers' paths shrink when they compete for the same outcome."""
    from .measurement import _estimates

    if table.empty:
        return Narrative("")
    est = _estimates(combined)
    xs = list(table.predictor)
    cov = est[(est.op == "~~") & est.lhs.isin(xs) & est.rhs.isin(xs) & (est.lhs != est.rhs)]
    r_txt = ""
    if len(cov):
        r = float(cov["std.all"].iloc[0])
        r_txt = f"The drivers correlate r = {_n(r, 2, True)}. "
    bits = [f"{r.predictor} → {r.outcome}: β = {_n(r.beta_alone, 2, True)} alone, {_n(r.beta_together, 2, True)} "
            f"together" for r in table.itertuples()]
    shrink = bool((table.change < 0).all())
    txt = "; ".join(bits) + ". " + r_txt
    if shrink:
        txt += ("Each path shrinks once the other driver is in the model: alone, a driver also carries the part of "
                "satisfaction it shares with the other. The combined model separates the two unique contributions, "
                "which is what \"relative effect\" means.")
    else:
        txt += "The paths do not all shrink together; check for suppression (a path growing or changing sign)."
    return Narrative(txt)


# =========================================================================== records
def record_sample(sample: StudySample) -> None:
    """Record the sample's size for the batch results: rows, kept, excluded, complete cases."""
    from .reporting import record as _record

    def record(*a: Any, headline: bool = True, **k: Any) -> None:
        _record(*a, headline=headline, display=headline, **k)

    record("n_rows", sample.n_rows, label="respondents (rows)", headline=False)
    record("n_kept", sample.n_kept, label="kept after cleaning", headline=False)
    record("n_excluded", sample.n_excluded, label="excluded", headline=False)
    record("n", sample.n_complete, label="N (complete cases)")
    record("data_origin", sample.origin, label="data", headline=False)


def record_fit(fit_measures: Mapping[str, Any], prefix: str = "", *, label: str = "",
               headline: bool = True) -> None:
    """Record chi-square, df, p, CFI, TLI, RMSEA (with CI), SRMR, AIC, BIC and the fit rating."""
    from .reporting import record as _record

    def record(*a: Any, headline: bool = True, **k: Any) -> None:
        _record(*a, headline=headline, display=headline, **k)

    fm = dict(fit_measures)
    lab = f"{label} " if label else ""
    spec = [("chisq", "χ²", 2, False, False), ("df", "df", 0, False, False), ("pvalue", "p (χ²)", 3, True, False),
            ("cfi", "CFI", 3, True, True), ("tli", "TLI", 3, True, False), ("rmsea", "RMSEA", 3, True, True),
            ("rmsea.ci.lower", "RMSEA 90% CI lower", 3, True, False),
            ("rmsea.ci.upper", "RMSEA 90% CI upper", 3, True, False), ("srmr", "SRMR", 3, True, True),
            ("aic", "AIC", 1, False, False), ("bic", "BIC", 1, False, False)]
    for k, name, dec, bounded, head in spec:
        if k not in fm or fm[k] is None:
            continue
        v = fm[k]
        if k == "df":
            v = int(round(float(v)))
        key = prefix + k.replace(".", "_")
        record(key, v, label=lab + name, decimals=dec, bounded=bounded, headline=headline and head)
    rating = fit_rating(fm).get("overall")
    if rating:
        record(prefix + "fit", rating, label=lab + "fit", headline=headline)


def record_hypotheses(table: pd.DataFrame) -> None:
    """Record β, p and the verdict of every hypothesis (``h1_beta``, ``h1_p``, ``h1_supported``)."""
    from .reporting import record as _record

    def record(*a: Any, headline: bool = True, **k: Any) -> None:
        _record(*a, headline=headline, display=headline, **k)

    for r in table.to_dict("records"):
        h = str(r["hypothesis"]).lower()
        record(f"{h}_beta", r["std.all"], label=f"{r['hypothesis']} β ({r['path']})", decimals=2, bounded=True)
        record(f"{h}_p", r["pvalue"], label=f"{r['hypothesis']} p", decimals=3, bounded=True, headline=False)
        record(f"{h}_supported", bool(r["supported"]), label=f"{r['hypothesis']} supported")


def record_mediation(test: Any) -> None:
    """Record each indirect effect with its CI, the mediation verdict and the preferred model."""
    from .reporting import record as _record

    def record(*a: Any, headline: bool = True, **k: Any) -> None:
        _record(*a, headline=headline, display=headline, **k)

    ind = test.indirect[test.indirect.kind == "indirect"]
    for r in ind.to_dict("records"):
        k = str(r["effect"])
        record(k, r["est"], label=f"indirect {r['path']}", decimals=3)
        record(f"{k}_ci_lower", r["ci.lower"], label=f"indirect {r['path']} CI lower", decimals=3, headline=False)
        record(f"{k}_ci_upper", r["ci.upper"], label=f"indirect {r['path']} CI upper", decimals=3, headline=False)
        record(f"{k}_std", r["std.all"], label=f"indirect {r['path']} (standardized)", decimals=3, bounded=True,
               headline=False)
        record(f"{k}_significant", bool(r["significant"]), label=f"indirect {r['path']} CI excludes 0",
               headline=False)
    for r in test.mediation.to_dict("records"):
        record(f"{r['effect']}_mediation", r["verdict"], label=f"mediation {r['path']}")
    comp = test.comparison
    if comp is not None:
        record("delta_chisq", comp.chisq_diff, label="Δχ² full vs partial", decimals=2, headline=False)
        record("delta_df", int(comp.df_diff), label="Δdf", headline=False)
        record("delta_chisq_p", comp.pvalue, label="p (Δχ²)", decimals=3, bounded=True, headline=False)
        record("delta_cfi", comp.delta_cfi, label="ΔCFI (full − partial)", decimals=3, headline=False)
        record("preferred_model", preferred_model(comp), label="preferred model")


def record_relative_effects(table: pd.DataFrame) -> None:
    """Record the standardized paths, indirect effects and their differences with CIs."""
    from .reporting import record as _record

    def record(*a: Any, headline: bool = True, **k: Any) -> None:
        _record(*a, headline=headline, display=headline, **k)

    for r in table.to_dict("records"):
        k = r["effect"]
        head = r["kind"] == "path difference"
        record(k, r["estimate"], label=f"β {r['description']}" if r["kind"] == "path" else r["description"],
               decimals=3, bounded=True, headline=head)
        record(f"{k}_ci_lower", r["ci.lower"], label=f"{r['description']} CI lower", decimals=3, bounded=True,
               headline=False)
        record(f"{k}_ci_upper", r["ci.upper"], label=f"{r['description']} CI upper", decimals=3, bounded=True,
               headline=False)
        if "difference" in r["kind"]:
            record(f"{k}_significant", bool(r["significant"]), label=f"{r['description']}: CI excludes 0")

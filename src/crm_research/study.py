"""A study's sample and its plan: what the survey notebooks and ``crm-research study`` share.

The survey notebooks in ``notebooks/`` (01 data quality, 02 measurement model, 03 structural
model, 09 group comparison) are thin: each loads a sample with :func:`load_study_sample`,
calls the analysis modules (:mod:`~crm_research.measurement`, :mod:`~crm_research.hypotheses`,
:mod:`~crm_research.invariance`) and tells the story with :mod:`crm_research.reporting`
(narrative sentences in :mod:`~crm_research.reporting.narrative`, records of key results in
:mod:`~crm_research.reporting.results`). What lives here:

* **paths** -- :func:`resolve_path` finds ``../surveys/x.yaml`` whether a notebook runs in its
  own folder (Jupyter, papermill) or in a batch run's work folder;
* **the sample** -- :func:`load_study_sample` prepares the user's response file, or simulates
  a sample from a population model and prepares it the same way (:class:`StudySample`),
  and says how many respondents each missing-data treatment uses
  (:meth:`StudySample.n_analysed`);
* **descriptives of the sample** for the data-quality notebook (:func:`answer_shares`,
  :func:`item_statistics`, :func:`missingness_summary`, :func:`screening_table`,
  :func:`careless_detection`) and the groups of a multiple-group analysis
  (:func:`split_groups`);
* **estimation** -- :func:`choose_estimation` checks the notebooks' ``estimator``, ``ordered``,
  ``se``, ``test`` and ``missing`` parameters against the sample before anything is fitted
  (``estimator="auto"``: the advice of :func:`estimator_advice`, i.e.
  :func:`crm_research.normality.recommend_estimator` with the instrument's scale points);
* **a study's plan** -- :func:`plan_study`: the batch of notebook runs ``crm-research study``
  executes for an instrument and a response file (01, 02, 03 per declared model, 09 per
  group column and model).

Nothing here knows the bundled study: models, constructs and demographics come from the
instrument.

Examples
--------
>>> from crm_research import study
>>> s = study.load_study_sample(None, "surveys/ecommerce_crm.yaml",
...                             "surveys/ecommerce_crm_population.yaml", n=200, seed=1)
>>> s.n_analysed("ml"), s.n_analysed("listwise")
(186, 149)
"""
from __future__ import annotations

import html
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from .errors import ConfigError, DataFileError, InstrumentError
from .instruments import Instrument, load_instrument

__all__ = [
    "CARELESS_ORDER", "DEFAULT_INSTRUMENT", "DEFAULT_POPULATION", "METHOD_CHOICES", "MISSING_CHOICES", "PROJECT_DIR_ENV", "SALT_ENV",
    "STUDY_NOTEBOOKS", "GroupSplit", "StudySample", "answer_shares", "careless_detection", "check_missing",
    "choose_estimation", "choose_model", "estimator_advice", "group_columns", "group_path_intervals", "item_statistics", "load_study_sample", "missingness_summary", "model_items",
    "model_predictors",
    "notebooks_dir", "plan_study", "project_root", "resolve_path", "screening_table", "search_dirs",
    "source_checkout", "split_groups",
]

#: Defaults of the notebooks' ``parameters`` cells (relative to ``notebooks/``).
DEFAULT_INSTRUMENT = "../surveys/ecommerce_crm.yaml"
DEFAULT_POPULATION = "../surveys/ecommerce_crm_population.yaml"
PROJECT_DIR_ENV = "CRM_RESEARCH_PROJECT_DIR"
#: A pseudonym salt given to ``crm-research study`` reaches the notebooks through this variable,
#: so that it never appears in a batch config, a run's parameters or the index page.
SALT_ENV = "CRM_RESEARCH_SALT"
#: The analysis' missing-data treatments (``missing`` parameter): full-information ML, listwise,
#: pairwise (ordinal items and least-squares estimators, as lavaan).
MISSING_CHOICES = ("ml", "listwise", "pairwise")


# =========================================================================== paths
def source_checkout() -> Path | None:
    """The project folder this module was imported from when it is a source checkout (an editable
    install: ``<checkout>/src/crm_research/study.py`` next to ``notebooks/`` and ``surveys/``).

    Returns
    -------
    Path or None
        None for an installed package without the project's folders.

    Examples
    --------
    >>> (source_checkout() / "surveys" / "ecommerce_crm.yaml").is_file()
    True
    """
    here = Path(__file__).resolve().parents[2]
    if (here / "notebooks").is_dir() and (here / "surveys").is_dir():
        return here
    return None


def project_root() -> Path | None:
    """The project folder: ``$CRM_RESEARCH_PROJECT_DIR`` (set by the batch runner: the git work
    tree holding the batch config, else the config's folder), else :func:`source_checkout`.

    Returns
    -------
    Path or None

    Examples
    --------
    >>> import os
    >>> os.environ.get(PROJECT_DIR_ENV) is not None or project_root() == source_checkout()
    True
    """
    env = os.environ.get(PROJECT_DIR_ENV)
    if env:
        return Path(env)
    return source_checkout()


def search_dirs() -> list[Path]:
    """Folders a relative path is looked up in, in order: the working folder, then for the
    project folder (:func:`project_root`) and the source checkout its ``notebooks/`` folder
    (what notebook defaults such as ``../surveys/x.yaml`` are written against) and itself.

    Returns
    -------
    list of Path
        Absolute folders, without duplicates.

    Examples
    --------
    >>> from pathlib import Path
    >>> search_dirs()[0] == Path.cwd()
    True
    """
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

    Examples
    --------
    >>> resolve_path("surveys/ecommerce_crm.yaml", what="instrument").name
    'ecommerce_crm.yaml'
    >>> resolve_path("surveys/nope.yaml", what="instrument")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    crm_research.errors.InstrumentError: ...file not found (looked in: ...)...
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
            _missing_file(what, str(path), f"is a folder, expected a file ({cand})")
    where = ", ".join(str(Path(os.path.normpath(c)).parent) for c in tried)
    _missing_file(what, str(path), f"file not found (looked in: {where})")
    raise AssertionError  # pragma: no cover


def _missing_file(what: str, path: str, problem: str) -> None:
    hint = ("paths in notebook parameters are relative to the notebooks/ folder or the project folder, "
            "e.g. ../surveys/my_survey.yaml")
    if what == "instrument":
        raise InstrumentError(path, "", problem, hint=hint)
    if what in ("population model", "column map"):
        raise ConfigError(path, "", problem, hint=hint)
    raise DataFileError(path, problem, hint=hint)


# =========================================================================== parameters
def _check_param(name: str, ok: bool, expected: str, value: Any) -> None:
    if not ok:
        raise ConfigError("parameters", name, f"expected {expected}, got {value!r}")


def check_missing(missing: Any) -> str:
    """The analysis' missing-data treatment, normalised: ``"ml"`` (full-information ML; aliases
    ``fiml``, ``direct``), ``"listwise"`` or ``"pairwise"`` (ordinal items; lavaan's choice for
    least-squares estimators).

    Parameters
    ----------
    missing : str
        The notebook's or command's ``missing`` parameter.

    Returns
    -------
    str
        ``"ml"``, ``"listwise"`` or ``"pairwise"``.

    Raises
    ------
    ConfigError
        Anything else, naming the parameter.

    Examples
    --------
    >>> check_missing("FIML"), check_missing("listwise")
    ('ml', 'listwise')
    """
    key = str(missing).strip().lower() if isinstance(missing, str) else None
    key = {"fiml": "ml", "direct": "ml"}.get(key, key)
    _check_param("missing", key in MISSING_CHOICES,
                 "'ml' (full-information maximum likelihood), 'listwise' or 'pairwise'", missing)
    return key  # type: ignore[return-value]


def choose_estimation(sample: "StudySample", estimator: Any = None, ordered: Any = None, se: Any = None,
                      test: Any = None, *, missing: Any = "ml", model: str | None = None,
                      bootstrap: int = 0) -> Any:
    """The notebooks' estimation parameters, checked against the sample before anything is fitted.

    Parameters
    ----------
    sample : StudySample
    estimator : str, optional
        lavaan's estimator (ML, MLM, MLMV, MLR, WLSMV, DWLS, ULSMV, ...), case-insensitive;
        None: ML, or WLSMV with ordered items; ``"auto"``: what
        :func:`crm_research.normality.recommend_estimator` advises for these items.
    ordered : bool, str or list, optional
        ``True``/``"all"``: every item is ordinal; item ids: these.
    se, test : str, optional
        lavaan's ``se``/``test`` (None: the estimator's default).
    missing : str
        The ``missing`` parameter (see :func:`check_missing`).
    model : str, optional
        Check against this model's items (default: every item of the instrument).
    bootstrap : int
        Bootstrap resamples asked for: kept with ML, 0 (with a note) with another estimator,
        as lavaan (``choice.bootstrap``).

    Returns
    -------
    crm_research.estimation.EstimationChoice
        ``estimation``, ``missing`` (the treatment the fits use), ``advice`` (with
        ``"auto"``) and ``notes``; displays itself in a notebook.

    Raises
    ------
    ConfigError
        A bad value or combination, naming the parameter (``parameters: estimator: ...``).

    Examples
    --------
    >>> s = load_study_sample(None, "surveys/ecommerce_crm.yaml", "surveys/ecommerce_crm_population.yaml",
    ...                       n=200, seed=1)
    >>> c = choose_estimation(s, "mlr", missing="ml")
    >>> c.estimation.estimator, c.missing
    ('MLR', 'ml')
    """
    from .estimation import choose_estimation as _choose

    key = check_missing(missing)
    items = model_items(sample.instrument, model) if model is not None else list(sample.items.columns)
    return _choose(sample.items, items, estimator, ordered, se, test, missing=key,
                   points=_common_points(sample.instrument, items)).with_bootstrap(bootstrap)


def _common_points(inst: Any, items: Sequence[str]) -> int | None:
    """The number of scale points all ``items`` share (None when they differ or are unknown)."""
    if inst is None:
        return None
    try:
        scales = {len(_scale_values(inst.scale_of(i))) for i in items}
    except (KeyError, AttributeError):
        return None
    return scales.pop() if len(scales) == 1 else None


def estimator_advice(sample: "StudySample", model: str | None = None) -> Any:
    """Which estimator the items' distributions call for, and why (notebook 01's advice).

    :func:`crm_research.normality.recommend_estimator` over the kept respondents' answers to
    the instrument's items (or a model's), with the number of scale points the items share.

    Parameters
    ----------
    sample : StudySample
    model : str, optional
        Only this model's items (default: every item).

    Returns
    -------
    crm_research.normality.EstimatorAdvice
        ``estimator`` (ML, MLR or WLSMV), ``ordered``, ``missing``, ``reasons`` (plain
        words), ``items`` (per-item distributions) and ``mardia``.

    Examples
    --------
    >>> s = load_study_sample(None, "surveys/ecommerce_crm.yaml", "surveys/ecommerce_crm_population.yaml",
    ...                       n=200, seed=1)
    >>> estimator_advice(s).estimator in ("ML", "MLR", "WLSMV")
    True
    """
    from .normality import recommend_estimator

    items = model_items(sample.instrument, model) if model is not None else list(sample.items.columns)
    return recommend_estimator(sample.items, items, points=_common_points(sample.instrument, items))


def choose_model(instrument: Instrument, model: str | None = None) -> str:
    """The structural model a notebook analyses: ``model``, or the instrument's first declared model.

    Parameters
    ----------
    instrument : Instrument
    model : str, optional
        A model the instrument declares; None or blank: its first model.

    Returns
    -------
    str

    Raises
    ------
    ConfigError
        The instrument declares no model, or not this one (the message lists its models).

    Examples
    --------
    >>> from crm_research.instruments import load_instrument
    >>> inst = load_instrument("surveys/ecommerce_crm.yaml")
    >>> choose_model(inst), choose_model(inst, "crm")
    ('ops', 'crm')
    """
    names = list(instrument.models)
    if not names:
        raise ConfigError("parameters", "model", f"instrument {instrument.id!r} declares no structural model",
                          hint="add a `models:` section with hypotheses to the instrument")
    if model is None or (isinstance(model, str) and not model.strip()):
        return names[0]
    if model not in instrument.models:
        raise ConfigError("parameters", "model", f"instrument {instrument.id!r} has no model {model!r}",
                          hint="its models: " + ", ".join(names))
    return str(model)


def model_items(instrument: Instrument, model: str | None = None) -> list[str]:
    """Item ids a structural model uses (all items of the constructs its hypotheses name;
    higher-order constructs bring their dimensions' items), in instrument order.

    Parameters
    ----------
    instrument : Instrument
    model : str, optional
        A model the instrument declares; None: every item of the instrument.

    Returns
    -------
    list of str

    Examples
    --------
    >>> from crm_research.instruments import load_instrument
    >>> items = model_items(load_instrument("surveys/ecommerce_crm.yaml"), "ops")
    >>> len(items), items[:3]
    (18, ['PF1', 'PF2', 'PF3'])
    """
    if model is None:
        return list(instrument.item_ids)
    spec = instrument.models[model]
    used: set[str] = set()
    for hid in spec.hypotheses:
        h = instrument.hypothesis(hid)
        used |= set(instrument.items_of(h.lhs)) | set(instrument.items_of(h.rhs))
    return [i for i in instrument.item_ids if i in used]


def model_predictors(instrument: Instrument, model: str) -> dict[str, list[str]]:
    """``{outcome: [predictors]}`` of a structural model, from its hypotheses (declaration order).

    Parameters
    ----------
    instrument : Instrument
    model : str
        A model the instrument declares.

    Returns
    -------
    dict of str to list of str

    Examples
    --------
    >>> from crm_research.instruments import load_instrument
    >>> model_predictors(load_instrument("surveys/ecommerce_crm.yaml"), "ops")
    {'SAT': ['OPS'], 'LOY': ['SAT']}
    """
    out: dict[str, list[str]] = {}
    for hid in instrument.models[model].hypotheses:
        h = instrument.hypothesis(hid)
        if h.rhs not in out.setdefault(h.lhs, []):
            out[h.lhs].append(h.rhs)
    return out


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
        Simulated samples: per respondent the id, ``careless`` (true type, or ``"none"``),
        ``n_missing``. No latent scores, no personal data.
    settings : dict
        How the sample was drawn or read (n, seed, careless share, simulated missingness,
        column map, sheet, encoding, policies).
    input_files : list of Path or DataFile
        Files the sample depends on (for provenance): instrument, population model or data
        file, column map; for a simulated sample also the simulated responses' checksum
        (a :class:`~crm_research.reporting.provenance.DataFile`).

    Examples
    --------
    >>> s = load_study_sample(None, "surveys/ecommerce_crm.yaml", "surveys/ecommerce_crm_population.yaml",
    ...                       n=200, seed=1)
    >>> s.origin, s.n_rows, s.n_analysed("ml"), s.n_analysed("listwise")
    ('simulated', 200, 186, 149)
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
        """Kept respondents who answered every item: the N of listwise deletion over all items."""
        return self.n_analysed("listwise")

    def n_analysed(self, missing: str = "ml", items: Sequence[str] | None = None) -> int:
        """Respondents an analysis of ``items`` uses under a missing-data treatment.

        ``"ml"`` (full-information ML) and ``"pairwise"`` use every kept respondent who
        answered at least one of the items; ``"listwise"`` only those who answered all of them.

        Parameters
        ----------
        missing : {"ml", "listwise", "pairwise"}
        items : list of str, optional
            Default: every item of the instrument (:func:`model_items` gives a model's).
        """
        key = check_missing(missing)
        cols = [c for c in (items if items is not None else self.items.columns) if c in self.items.columns]
        answered = self.items[cols].notna()
        return int(answered.all(axis=1).sum() if key == "listwise" else answered.any(axis=1).sum())

    @property
    def label(self) -> str:
        """One line saying where the data come from."""
        if self.origin == "simulated":
            s = self.settings
            miss = "no missing answers" if s["sim_missing"] == "none" else \
                f"{s['sim_missing']} missingness at rate {s['sim_missing_rate']:g}"
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


def _column_map_arg(column_map: Any, inputs: list[Path]) -> Any:
    """Resolve file paths in a column map given as a path or as a list mixing a YAML path and
    ``COLUMN=ID`` pairs; mappings and pairs pass through."""
    if column_map is None:
        return None
    if isinstance(column_map, (str, os.PathLike)) and "=" not in os.fspath(column_map):
        p = resolve_path(column_map, what="column map")
        inputs.append(p)
        return p
    if isinstance(column_map, (list, tuple)):
        out: list[Any] = []
        for v in column_map:
            if isinstance(v, (str, os.PathLike)) and "=" not in os.fspath(v):
                p = resolve_path(v, what="column map")
                inputs.append(p)
                out.append(str(p))
            else:
                out.append(v)
        return out
    return column_map


def load_study_sample(data_file: str | os.PathLike | None = None,
                      instrument: str | os.PathLike | Instrument = DEFAULT_INSTRUMENT,
                      population: str | os.PathLike | None = DEFAULT_POPULATION, *,
                      n: int = 500, seed: int = 20240501, careless: float = 0.05, sim_missing: str = "MCAR",
                      sim_missing_rate: float = 0.01, column_map: Any = None, sheet: str | int | None = None,
                      encoding: str | None = None, delimiter: str | None = None, salt: str | None = None,
                      policies: Mapping[str, str] | Iterable[str] | None = None) -> StudySample:
    """The notebooks' sample: the user's response file, or a simulated one, prepared alike.

    With ``data_file`` the file is read, mapped, stripped of personal data, validated,
    cleaned and scored by :func:`~crm_research.responses.prepare_responses`. Without it a
    sample of ``n`` respondents is drawn from ``population``
    (:func:`~crm_research.simulate.simulate_survey`, with fake personal data, careless
    respondents and missing answers) and goes through exactly the same preparation, so the
    notebooks never see a difference.

    Parameters
    ----------
    data_file : path, optional
        Response file (CSV, Excel, SPSS, Parquet). None: simulate.
    instrument : path or Instrument
        Instrument YAML; paths are found with :func:`resolve_path`.
    population : path, optional
        Population-model YAML used when simulating (ignored with ``data_file``).
    n, seed : int
        Sample size and seed of the simulation.
    careless : float
        Share of careless respondents in the simulation (0 to 1).
    sim_missing : {"none", "MCAR", "MAR"}
        Missing-answer mechanism of the simulation (not the analysis' treatment of missing
        answers, which each analysis chooses with its own ``missing`` parameter).
    sim_missing_rate : float
        Expected share of item answers left blank in the simulation.
    column_map : path, mapping or list, optional
        ``{file column: variable id}``, a YAML file of such pairs, or a list of ``"COLUMN=ID"``
        strings (and YAML paths), for a file whose columns are not recognised.
    sheet : str or int, optional
        Excel sheet.
    encoding : str, optional
        CSV encoding (default: detected).
    delimiter : str, optional
        CSV delimiter (default: detected).
    salt : str, optional
        Salt of the pseudonyms of personal-data fields (default: ``$CRM_RESEARCH_SALT``, else
        random per run).
    policies : mapping or list of "check=policy", optional
        Cleaning policies overriding the defaults (e.g. ``{"too_fast": "drop"}``).

    Returns
    -------
    StudySample

    Raises
    ------
    DataFileError, InstrumentError, ConfigError
        A file is missing or malformed, or a parameter has an impossible value.

    Examples
    --------
    >>> s = load_study_sample(None, "surveys/ecommerce_crm.yaml", "surveys/ecommerce_crm_population.yaml",
    ...                       n=200, seed=1)
    >>> s.origin, s.n_rows
    ('simulated', 200)
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
    if salt is None:
        salt = os.environ.get(SALT_ENV) or None
    policy_arg = dict(policies) if isinstance(policies, Mapping) else (list(policies) if policies else None)
    read_kw = {k: v for k, v in (("sheet", sheet), ("encoding", encoding), ("delimiter", delimiter)) if v is not None}

    if data_file is not None and str(data_file).strip() != "":
        dpath = resolve_path(data_file, what="data file")
        inputs.insert(0, dpath)
        cmap = _column_map_arg(column_map, inputs)
        rs = prepare_responses(dpath, inst, column_map=cmap, salt=salt, policies=policy_arg, **read_kw)
        shown_map = _show_path(cmap) if isinstance(cmap, Path) else cmap
        settings = dict(data_file=_show_path(dpath), column_map=shown_map, sheet=sheet, encoding=encoding,
                        delimiter=delimiter, policies=dict(rs.report.policies or {}))
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
    mech = {"none": "none", "mcar": "MCAR", "mar": "MAR"}.get(str(sim_missing).strip().lower()) \
        if sim_missing is not None else "none"
    _check_param("sim_missing", mech is not None, "'none', 'MCAR' or 'MAR'", sim_missing)
    if mech != "none":
        _check_param("sim_missing_rate", isinstance(sim_missing_rate, (int, float))
                     and not isinstance(sim_missing_rate, bool) and 0 < sim_missing_rate <= 0.95,
                     "a share above 0 and at most 0.95", sim_missing_rate)
    if population is None or str(population).strip() == "":
        raise ConfigError("parameters", "population", "no data_file and no population model to simulate from",
                          hint="set data_file to your response file, or population to a population-model YAML")
    ppath = resolve_path(population, what="population model")
    pop = load_population(ppath, instrument=inst)
    inputs.append(ppath)
    cmap = _column_map_arg(column_map, inputs)
    sim = simulate_survey(pop, int(n), int(seed), careless=float(careless), missing=mech,
                          missing_rate=float(sim_missing_rate) if mech != "none" else None)
    rs = prepare_responses(sim.responses, inst, column_map=cmap, salt=salt, policies=policy_arg)
    rid = inst.respondent_id
    truth = sim.truth[[rid, "careless", "n_missing"]].copy()
    settings = dict(n=int(n), seed=int(seed), careless=float(careless), sim_missing=mech,
                    sim_missing_rate=float(sim_missing_rate) if mech != "none" else 0.0,
                    policies=dict(rs.report.policies or {}))
    from .reporting.provenance import frame_input

    inputs.append(frame_input(sim.responses, f"simulated responses (n={int(n)}, seed={int(seed)}, in memory)"))
    del sim  # its responses hold the (fake) personal data; nothing downstream needs them (only their checksum)
    return StudySample(responses=rs, instrument=inst, origin="simulated", population=pop, truth=truth,
                       settings=settings, input_files=inputs)


# =========================================================================== descriptives
def _text(d: Any, lang: str = "en") -> str:
    from .reporting.narrative import text_of

    return text_of(d, lang)


def _scale_values(scale: Any) -> list[int]:
    return [int(v) for v in scale.values]


def _scale_label(scale: Any, value: int, lang: str = "en") -> str:
    """The label of one scale point in ``lang`` (else another language), or ``str(value)``
    where the point has no label."""
    for lg in [lang, *scale.labels]:
        lab = scale.label(value, lg)
        if lab:
            return str(lab)
    return str(value)


def answer_shares(data: pd.DataFrame, instrument: Instrument) -> pd.DataFrame:
    """Share of each answer per item (answered cells only).

    Parameters
    ----------
    data : pandas.DataFrame
        Responses with item ids as columns (e.g. ``StudySample.data``).
    instrument : Instrument
        Gives each item's construct and scale.

    Returns
    -------
    DataFrame
        Long format: ``item, construct, point, answer`` (the point's label, English where the
        instrument has it, else the point itself), ``n``, ``percent`` (of the item's answers;
        rows of an item sum to 100). Items absent from ``data`` are skipped.

    Examples
    --------
    >>> s = load_study_sample(None, "surveys/ecommerce_crm.yaml", "surveys/ecommerce_crm_population.yaml",
    ...                       n=200, seed=1)
    >>> answer_shares(s.data, s.instrument).query("item == 'PF1'")[["point", "answer", "n"]].values.tolist()
    [[1, 'Strongly disagree', 11], [2, 'Disagree', 28], [3, 'Neutral', 64], [4, 'Agree', 57], [5, 'Strongly agree', 26]]
    """
    rows = []
    for it in instrument.items:
        if it.id not in data.columns:
            continue
        sc = instrument.scale_of(it.id)
        col = pd.to_numeric(data[it.id], errors="coerce")
        answered = int(col.notna().sum())
        for pt in _scale_values(sc):
            k = int((col == pt).sum())
            rows.append({"item": it.id, "construct": it.construct, "point": pt, "answer": _scale_label(sc, pt),
                         "n": k, "percent": 100.0 * k / answered if answered else float("nan")})
    return pd.DataFrame(rows, columns=["item", "construct", "point", "answer", "n", "percent"])


def item_statistics(data: pd.DataFrame, instrument: Instrument) -> pd.DataFrame:
    """Per item: n answered, % missing, mean, SD, skewness, excess kurtosis, floor and ceiling %.

    Skewness and kurtosis are the bias-corrected sample statistics (as SPSS and
    ``pandas.Series.skew``/``kurt`` report them). Floor and ceiling are the shares of answers
    at the lowest and highest point of the item's own scale. Items outside |skew| < 2 and
    |kurtosis| < 7 (Curran, West & Finch 1996) strain normal-theory ML.

    Parameters
    ----------
    data : pandas.DataFrame
        Responses with item ids as columns.
    instrument : Instrument

    Returns
    -------
    pandas.DataFrame
        ``item, construct, label, n, missing_pct, mean, sd, skew, kurtosis, floor_pct,
        ceiling_pct``, one row per item present in ``data``.

    Examples
    --------
    >>> import pandas as pd
    >>> from crm_research.instruments import load_instrument
    >>> inst = load_instrument("surveys/ecommerce_crm.yaml")
    >>> t = item_statistics(pd.DataFrame({"PF1": [1, 2, 5, 5, None]}), inst)
    >>> t[["item", "n", "missing_pct", "mean", "floor_pct", "ceiling_pct"]].values.tolist()
    [['PF1', 4, 20.0, 3.25, 25.0, 50.0]]
    """
    rows = []
    for it in instrument.items:
        if it.id not in data.columns:
            continue
        vals = _scale_values(instrument.scale_of(it.id))
        col = pd.to_numeric(data[it.id], errors="coerce").astype(float)
        ok = col.dropna()
        rows.append({"item": it.id, "construct": it.construct, "label": _text(it.label), "n": int(len(ok)),
                     "missing_pct": 100.0 * float(col.isna().mean()) if len(col) else float("nan"),
                     "mean": float(ok.mean()) if len(ok) else float("nan"),
                     "sd": float(ok.std(ddof=1)) if len(ok) > 1 else float("nan"),
                     "skew": float(ok.skew()) if len(ok) > 2 else float("nan"),
                     "kurtosis": float(ok.kurt()) if len(ok) > 3 else float("nan"),
                     "floor_pct": 100.0 * float((ok == vals[0]).mean()) if len(ok) else float("nan"),
                     "ceiling_pct": 100.0 * float((ok == vals[-1]).mean()) if len(ok) else float("nan")})
    return pd.DataFrame(rows, columns=["item", "construct", "label", "n", "missing_pct", "mean", "sd", "skew",
                                       "kurtosis", "floor_pct", "ceiling_pct"])


def missingness_summary(sample: Any, items: Sequence[str] | None = None) -> dict[str, Any]:
    """How much is missing among the kept respondents, and what listwise deletion costs.

    Parameters
    ----------
    sample : StudySample (or anything with ``items``)
    items : list of str, optional
        Restrict to these items (default: all).

    Returns
    -------
    dict
        ``n_kept, cells, missing_cells, missing_pct`` (of item cells), ``respondents_any``
        (respondents with at least one blank), ``n_complete`` (listwise N), ``n_any``
        (respondents with at least one answer: the FIML N), ``lost_pct`` (share of kept
        respondents listwise deletion drops), ``worst_item``, ``worst_item_pct``.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> items = pd.DataFrame({"A": [1, None, 3], "B": [1, 2, 3]})
    >>> m = missingness_summary(SimpleNamespace(items=items))
    >>> m["n_complete"], m["n_any"], m["worst_item"]
    (2, 3, 'A')
    """
    X = sample.items if items is None else sample.items[[c for c in items if c in sample.items.columns]]
    miss = X.isna()
    cells = int(miss.size)
    per_item = miss.mean() * 100 if len(X) else pd.Series(dtype=float)
    any_ = int(miss.any(axis=1).sum())
    worst = per_item.idxmax() if len(per_item) and per_item.max() > 0 else None
    return {"n_kept": int(len(X)), "cells": cells, "missing_cells": int(miss.to_numpy().sum()),
            "missing_pct": 100.0 * float(miss.to_numpy().mean()) if cells else 0.0,
            "respondents_any": any_, "n_complete": int(len(X) - any_),
            "n_any": int((~miss).any(axis=1).sum()),
            "lost_pct": 100.0 * any_ / len(X) if len(X) else 0.0,
            "worst_item": worst, "worst_item_pct": float(per_item.max()) if worst is not None else 0.0}


def screening_table(sample: StudySample) -> pd.DataFrame:
    """Respondent-level checks: how many respondents each flagged and what the policy did.

    Parameters
    ----------
    sample : StudySample

    Returns
    -------
    pandas.DataFrame
        ``check, severity, respondents, policy, dropped, flagged, description`` for the
        checks that found something and take a policy (drop / flag / keep).

    Examples
    --------
    >>> s = load_study_sample(None, "surveys/ecommerce_crm.yaml", "surveys/ecommerce_crm_population.yaml",
    ...                       n=200, seed=1)
    >>> screening_table(s)[["check", "respondents", "policy"]].values.tolist()[:3]
    [['missing', 42, 'keep'], ['straight_lining', 3, 'flag'], ['too_fast', 2, 'flag']]
    """
    from .responses import RESPONDENT_CHECKS

    c = sample.report.counts
    cols_all = ["check", "severity", "respondents", "policy", "dropped", "flagged", "description"]
    if c.empty:
        return pd.DataFrame(columns=cols_all)
    c = c[c.check.isin(RESPONDENT_CHECKS)]
    cols = [k for k in cols_all if k in c.columns]
    return c[cols].reset_index(drop=True)


CARELESS_ORDER = ("none", "straightline", "random", "speeder", "attention_fail")


def careless_detection(sample: StudySample) -> pd.DataFrame | None:
    """Simulated samples: how the screening treated each kind of (truly) careless respondent.

    Parameters
    ----------
    sample : StudySample

    Returns
    -------
    DataFrame or None
        One row per true type (``none`` = attentive): ``type, respondents, dropped, flagged``
        (kept but flagged by a check), ``unflagged`` (kept, no flag), ``caught_pct``
        (dropped or flagged). None for a user's file (the truth is unknown).

    Examples
    --------
    >>> s = load_study_sample(None, "surveys/ecommerce_crm.yaml", "surveys/ecommerce_crm_population.yaml",
    ...                       n=200, seed=1)
    >>> careless_detection(s).set_index("type")["caught_pct"].round(1).to_dict()
    {'none': 2.1, 'straightline': 100.0, 'random': 100.0, 'speeder': 100.0, 'attention_fail': 100.0}
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


# =========================================================================== groups
def _personal_columns(sample: StudySample) -> set[str]:
    tab = getattr(sample.responses.privacy, "table", None)
    cols = set(tab["column"]) if tab is not None and len(tab) else set()
    return cols | set(sample.instrument.pii_columns)


def group_columns(sample: StudySample) -> list[str]:
    """Columns a multiple-group analysis can split by: the instrument's demographics, then other
    columns of the file that are neither items, checks, flags, the id nor personal data.

    Parameters
    ----------
    sample : StudySample

    Returns
    -------
    list of str

    Examples
    --------
    >>> s = load_study_sample(None, "surveys/ecommerce_crm.yaml", "surveys/ecommerce_crm_population.yaml",
    ...                       n=200, seed=1)
    >>> group_columns(s)
    ['gender', 'age_band', 'platform', 'years_customer', 'purchase_frequency']
    """
    inst = sample.instrument
    bad = _personal_columns(sample) | set(inst.item_ids) | {inst.respondent_id}
    bad |= {a.id for a in inst.attention_checks}
    if inst.duration_column:
        bad.add(inst.duration_column)
    out = [q.id for q in inst.demographics if q.id in sample.data.columns]
    for c in [*sample.data.columns, *sample.responses.other.columns]:
        if c not in bad and c not in out and not str(c).startswith("flag_"):
            out.append(str(c))
    return out


@dataclass
class GroupSplit:
    """Respondents split into groups for a multiple-group analysis (see :func:`split_groups`).

    Attributes
    ----------
    column : str
        Name of the group column in ``data`` (``source``, or ``<source>_group`` after a recode).
    source : str
        The demographic or file column the groups come from.
    data : DataFrame
        The model's items and the group column, for the groups analysed only.
    sizes : DataFrame
        ``group, kept, usable, analysed`` per group (``usable``: respondents the missing-data
        treatment can use; ``analysed``: at least ``min_group_n`` usable).
    items : list of str
    labels : dict
        Value -> group label applied.
    n_unknown : int
        Kept respondents without a group value.
    min_group_n : int
    missing : str
        The missing-data treatment the counts assume.

    Examples
    --------
    >>> s = load_study_sample(None, "surveys/ecommerce_crm.yaml", "surveys/ecommerce_crm_population.yaml",
    ...                       n=200, seed=1)
    >>> split = split_groups(s, "gender", "ops", min_group_n=20)
    >>> split.groups, split.column
    (['Female', 'Male'], 'gender')
    """

    column: str
    source: str
    data: pd.DataFrame
    sizes: pd.DataFrame
    items: list[str]
    labels: dict[Any, str]
    n_unknown: int
    min_group_n: int
    missing: str

    @property
    def groups(self) -> list[str]:
        return [str(g) for g in self.sizes.loc[self.sizes["analysed"], "group"]]


def _lookup(mapping: Mapping[Any, Any], value: Any) -> Any:
    """``mapping[value]`` tolerant of 1 vs 1.0 vs "1" keys (YAML / JSON parameters)."""
    if value in mapping:
        return mapping[value]
    keys = {str(k): v for k, v in mapping.items()}
    s = str(value)
    if s in keys:
        return keys[s]
    try:
        f = float(value)
        if f.is_integer() and str(int(f)) in keys:
            return keys[str(int(f))]
    except (TypeError, ValueError):
        pass
    return None


def split_groups(sample: StudySample, group: str, model: str | None = None, *,
                 recode: Mapping[Any, str] | None = None, min_group_n: int = 50,
                 missing: str = "listwise") -> GroupSplit:
    """Split the kept respondents by a demographic (or another non-personal column) for a
    multiple-group analysis of ``model``.

    Group labels are the demographic's answer options as the instrument words them (English
    where given), or the values themselves; ``recode`` maps values to labels first, e.g.
    ``{1: "new", 2: "new", 3: "long-standing", 4: "long-standing"}`` to merge answer bands.
    Groups with fewer than ``min_group_n`` usable respondents are left out (and listed).

    Parameters
    ----------
    sample : StudySample
    group : str
        A column among :func:`group_columns`.
    model : str, optional
        Structural model of the instrument (default: the first).
    recode : mapping, optional
        Value -> group label (values not listed keep their own label).
    min_group_n : int
    missing : {"listwise", "ml"}
        How usable respondents are counted (listwise: complete on the model's items; ml: at
        least one answer). The data returned are filtered accordingly.

    Returns
    -------
    GroupSplit

    Raises
    ------
    ConfigError
        Unknown or personal-data column (the message lists the usable ones), or fewer than
        two groups large enough.

    Examples
    --------
    >>> s = load_study_sample(None, "surveys/ecommerce_crm.yaml", "surveys/ecommerce_crm_population.yaml",
    ...                       n=200, seed=1)
    >>> split = split_groups(s, "years_customer", "ops", min_group_n=20,
    ...                      recode={1: "new", 2: "new", 3: "long-standing", 4: "long-standing"})
    >>> split.column, split.sizes.values.tolist()
    ('years_customer_group', [['long-standing', 86, 78, True], ['new', 100, 85, True]])
    """
    inst = sample.instrument
    key = check_missing(missing)
    model = choose_model(inst, model)
    allowed = group_columns(sample)
    if group not in allowed:
        raise ConfigError("parameters", "group", f"expected a demographic or other non-item column without personal "
                          f"data, got {group!r}", hint="available: " + (", ".join(allowed) or "none"))
    source = sample.data if group in sample.data.columns else sample.responses.other
    items = model_items(inst, model)
    labels: dict[Any, str] = {}
    for q in inst.demographics:
        if q.id == group:
            labels = {o["value"]: (_text({k: v for k, v in o.items() if k != "value"}) or str(o["value"]))
                      for o in q.options}
    if recode:
        _check_param("recode", isinstance(recode, Mapping), "a mapping {value: group label}", recode)
    raw = source[group]

    def label(v: Any) -> Any:
        if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NA:
            return None
        if recode:
            hit = _lookup(recode, v)
            if hit is not None:
                return str(hit)
        hit = _lookup(labels, v)
        return str(hit) if hit is not None else str(v)

    column = f"{group}_group" if recode else group
    data = sample.items[items].copy()
    data[column] = [label(v) for v in raw.to_numpy()]
    answered = data[items].notna()
    usable_mask = answered.all(axis=1) if key == "listwise" else answered.any(axis=1)
    known = data[column].notna()
    kept = data.loc[known, column].value_counts()
    usable = data.loc[known & usable_mask, column].value_counts()
    sizes = pd.DataFrame({"kept": kept, "usable": usable}).fillna(0).astype(int)
    sizes["analysed"] = sizes["usable"] >= int(min_group_n)
    sizes = sizes.rename_axis("group").reset_index().sort_values("group", key=lambda s: s.astype(str),
                                                                  ignore_index=True)
    used = sizes.loc[sizes["analysed"], "group"]
    out = data[known & usable_mask & data[column].isin(used)].reset_index(drop=True)
    split = GroupSplit(column=column, source=group, data=out, sizes=sizes, items=items, labels=labels,
                       n_unknown=int((~known).sum()), min_group_n=int(min_group_n), missing=key)
    if len(used) < 2:
        raise ConfigError("parameters", "group", f"{group!r} leaves {len(used)} group(s) with at least {min_group_n} "
                          "usable respondents; two are needed",
                          hint="use a larger sample, a lower min_group_n, a recode merging small groups, "
                               "or another group column")
    return split


def group_path_intervals(paths: pd.DataFrame, groups: Sequence[Any] | None = None, *,
                         alpha: float = 0.05) -> pd.DataFrame:
    """Each structural path's estimate in each group with its (1 - ``alpha``) Wald interval.

    Turns the wide table of :func:`crm_research.invariance.compare_paths` (``est.<group>``,
    ``se.<group>`` per group) into one tidy row per path and group, for a forest plot
    (:func:`crm_research.reporting.figures.group_paths_plot`) or a table.

    Parameters
    ----------
    paths : pandas.DataFrame
        One row per path with ``path``, optionally ``hypothesis``, and ``est.<g>``, ``se.<g>``
        for every group ``g``.
    groups : sequence, optional
        Group labels in display order; default: every ``g`` with an ``est.<g>`` column.
    alpha : float
        1 - confidence level, in (0, 1): ``0.05`` gives 95% intervals (z = 1.959964).

    Returns
    -------
    pandas.DataFrame
        ``hypothesis, path, group, est, se, ci.lower, ci.upper``; ``attrs["ci.level"]`` is
        ``1 - alpha``.

    Raises
    ------
    ConfigError
        ``alpha`` outside (0, 1), or a group without its ``est.<g>``/``se.<g>`` columns.

    Examples
    --------
    >>> import pandas as pd
    >>> paths = pd.DataFrame({"hypothesis": ["H1"], "path": ["Y ~ X"], "est.a": [0.5], "se.a": [0.1],
    ...                       "est.b": [0.2], "se.b": [0.1]})
    >>> t = group_path_intervals(paths, alpha=0.10)
    >>> t[["group", "est", "ci.lower", "ci.upper"]].round(4).values.tolist()
    [['a', 0.5, 0.3355, 0.6645], ['b', 0.2, 0.0355, 0.3645]]
    >>> t.attrs["ci.level"]
    0.9
    """
    from scipy.stats import norm

    if not isinstance(alpha, (int, float)) or not 0 < float(alpha) < 1:
        raise ConfigError("parameters", "alpha", f"must be a number between 0 and 1, got {alpha!r}")
    if groups is None:
        groups = [c[len("est."):] for c in paths.columns if str(c).startswith("est.")]
    groups = list(groups)
    for g in groups:
        missing = [c for c in (f"est.{g}", f"se.{g}") if c not in paths.columns]
        if missing:
            raise ConfigError("paths", str(g), f"no column(s) {missing} for group {g!r}",
                              hint="pass the table of invariance.compare_paths and its group labels")
    z = float(norm.ppf(1 - float(alpha) / 2))
    rows = []
    for r in paths.to_dict("records"):
        for g in groups:
            est, se = float(r[f"est.{g}"]), float(r[f"se.{g}"])
            rows.append({"hypothesis": r.get("hypothesis"), "path": r.get("path"), "group": g, "est": est, "se": se,
                         "ci.lower": est - z * se, "ci.upper": est + z * se})
    out = pd.DataFrame(rows, columns=["hypothesis", "path", "group", "est", "se", "ci.lower", "ci.upper"])
    out.attrs["ci.level"] = 1 - float(alpha)
    return out


# =========================================================================== a study's plan
#: The survey notebooks a study runs, in order.
STUDY_NOTEBOOKS = {"quality": "01_instrument_and_data_quality.ipynb", "measurement": "02_measurement_model.ipynb",
                   "structural": "03_structural_model.ipynb", "pls": "04_pls_model.ipynb",
                   "groups": "09_group_comparison.ipynb"}
#: Estimation methods of a study's structural models: CB-SEM (notebook 03), PLS-SEM (notebook 04), or both.
METHOD_CHOICES = ("cbsem", "pls", "both")


def notebooks_dir() -> Path:
    """The folder holding the survey notebooks (``notebooks/`` of the project or source checkout).

    Returns
    -------
    Path

    Raises
    ------
    ConfigError
        Not found (crm-research installed without its notebooks).

    Examples
    --------
    >>> notebooks_dir().name
    'notebooks'
    """
    for root in (project_root(), source_checkout()):
        if root is not None and (root / "notebooks" / STUDY_NOTEBOOKS["structural"]).is_file():
            return (root / "notebooks").resolve()
    raise ConfigError("notebooks", "", "the survey notebooks were not found",
                      hint=f"run from a crm-research checkout, or set {PROJECT_DIR_ENV} to a folder holding notebooks/")


def _slug(s: Any) -> str:
    import re

    return re.sub(r"[^A-Za-z0-9._-]+", "-", str(s)).strip("-") or "x"


def plan_study(instrument: str | os.PathLike, responses: str | os.PathLike, *, groups: Sequence[str] = (),
               column_map: Any = None, sheet: str | int | None = None, encoding: str | None = None,
               delimiter: str | None = None, missing: str = "ml", bootstrap: int = 1000, seed: int = 20240501,
               policies: Mapping[str, str] | None = None, name: str = "study", title: str | None = None,
               notebooks: str | os.PathLike | None = None, method: str = "cbsem", estimator: str | None = None,
               ordered: Any = None, se: str | None = None, test: str | None = None) -> dict[str, Any]:
    """The batch of notebook runs that make up a study, as a batch config (a dict to write as YAML
    and run with :func:`crm_research.batch.run_batch`).

    Runs: data quality (01), measurement model (02), the structural-model notebook (03) once per
    model the instrument declares, and the group comparison (09) once per group column and
    model. Every run reads the same response file with the same reading, mapping, cleaning and
    missing-data options.

    Parameters
    ----------
    instrument, responses : path
        Instrument YAML and response file (made absolute).
    groups : list of str
        Demographics or columns to compare groups by (notebook 09).
    column_map, sheet, encoding, delimiter, policies
        Reading, mapping and cleaning options (as :func:`load_study_sample` takes them); a
        column map file is made absolute.
    missing : {"ml", "listwise", "pairwise"}
    bootstrap : int
        Bootstrap resamples of notebook 03 (0: normal-theory intervals; lavaan bootstraps ML
        fits only, so a robust or least-squares estimator gets 0).
    seed : int
    name, title : str
        Batch name (output subfolder when no ``out`` is given) and index title.
    notebooks : path, optional
        Folder of the survey notebooks (default :func:`notebooks_dir`).
    method : {"cbsem", "pls", "both"}
        How the structural models are estimated: CB-SEM (notebook 03 per model), PLS-SEM
        (notebook 04 per model) or both (04 then also shows the two methods side by side).
    estimator, ordered, se, test : optional
        How the CB-SEM models are estimated (lavaan's names; see
        :func:`crm_research.estimation.check_estimation`; ``"auto"`` must be resolved first,
        as ``crm-research study`` does): passed to every notebook when not plain ML.

    Returns
    -------
    dict
        ``batch, title, description, defaults, runs`` as :func:`crm_research.batch.load_batch_config` reads them.

    Examples
    --------
    >>> cfg = plan_study("surveys/ecommerce_crm.yaml", "tests/reference/lavaan/seed_survey_a.csv",
    ...                  groups=["platform"])
    >>> [r["name"] for r in cfg["runs"]]  # doctest: +NORMALIZE_WHITESPACE
    ['01-data-quality', '02-measurement', '03-model-ops', '03-model-crm', '03-model-combined',
     '09-groups-platform-ops', '09-groups-platform-crm', '09-groups-platform-combined']
    """
    ipath = Path(instrument).expanduser().resolve()
    inst = load_instrument(ipath)
    key = check_missing(missing)
    _check_param("bootstrap", isinstance(bootstrap, (int, np.integer)) and not isinstance(bootstrap, bool)
                 and (bootstrap == 0 or bootstrap >= 2), "0 or a whole number of resamples >= 2", bootstrap)
    _check_param("method", method in METHOD_CHOICES, "'cbsem', 'pls' or 'both'", method)
    from .estimation import check_estimation

    est = check_estimation(estimator, ordered, se, test, items=list(inst.item_ids))
    if bootstrap and not est.allows_bootstrap:
        raise ConfigError("parameters", "bootstrap", f"bootstrap intervals need estimator ML (as lavaan), not "
                          f"{est.estimator}", hint="pass bootstrap=0 (robust/delta-method intervals)")
    nb_dir = Path(notebooks).resolve() if notebooks else notebooks_dir()
    data = str(Path(responses).expanduser().resolve())

    def absolute(v: Any) -> Any:
        if isinstance(v, (str, os.PathLike)) and "=" not in os.fspath(v):
            return str(Path(os.fspath(v)).expanduser().resolve())
        return v

    cmap = column_map
    if isinstance(cmap, (list, tuple)):
        cmap = [absolute(v) for v in cmap]
    elif isinstance(cmap, (str, os.PathLike)):
        cmap = absolute(cmap)
    common: dict[str, Any] = {"data_file": data, "instrument": str(ipath), "population": None, "missing": key}
    if not est.is_default:
        common.update(est.parameters())
    for k, v in (("column_map", cmap), ("sheet", sheet), ("encoding", encoding), ("delimiter", delimiter),
                 ("policies", dict(policies) if policies else None)):
        if v is not None:
            common[k] = v
    models = list(inst.models)
    nb = {k: str(nb_dir / v) for k, v in STUDY_NOTEBOOKS.items()}
    runs: list[dict[str, Any]] = [
        {"notebook": nb["quality"], "name": "01-data-quality", "description": "instrument and data quality"},
        {"notebook": nb["measurement"], "name": "02-measurement", "description": "measurement model"},
    ]
    for m in models if method in ("cbsem", "both") else ():
        runs.append({"notebook": nb["structural"], "name": f"03-model-{_slug(m)}",
                     "description": f"structural model {m}",
                     "parameters": {"model": m, "bootstrap": int(bootstrap), "seed": int(seed)}})
    for m in models if method in ("pls", "both") else ():
        runs.append({"notebook": nb["pls"], "name": f"04-pls-{_slug(m)}", "description": f"PLS-SEM model {m}",
                     "parameters": {"model": m, "bootstrap": int(bootstrap), "seed": int(seed),
                                    "compare_cbsem": method == "both"}})
    for g in groups:
        for m in models:
            runs.append({"notebook": nb["groups"], "name": f"09-groups-{_slug(g)}-{_slug(m)}",
                         "description": f"group comparison by {g}, model {m}",
                         "parameters": {"group": g, "model": m}})
    return {"batch": _slug(name), "title": title or f"Study of {Path(data).name} with instrument {inst.id}",
            "description": (f"Instrument {inst.id} {inst.version} ({len(inst.item_ids)} items, "
                            f"{len(models)} structural model(s)); responses {Path(data).name}; missing answers: "
                            + {"ml": "full-information ML", "listwise": "listwise deletion",
                               "pairwise": "pairwise deletion"}[key]
                            + ("" if est.is_default else f"; estimation {est.describe()}")
                            + {"cbsem": "", "pls": "; estimated by PLS-SEM", "both": "; estimated by CB-SEM and PLS-SEM"}[method]
                            + (f"; bootstrap {bootstrap} resamples" if bootstrap else "") + "."),
            "defaults": common, "runs": runs}

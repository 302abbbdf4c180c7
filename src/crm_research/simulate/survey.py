"""Synthetic survey responses from a declared population model.

A *population model* is a YAML file beside an instrument. It states the true standardized
structural equation model behind the answers (item loadings, second-order loadings,
correlations among exogenous factors, structural paths), how latent answers become Likert
points (thresholds), and how real respondents misbehave (missing answers, careless
responders, completion time). :func:`simulate_survey` draws respondents from it and returns
a table shaped like a survey platform's export, together with the ground truth.

Population-model YAML schema (keys marked * are required; any other key is an error naming
its key path with a did-you-mean suggestion)::

    id: ecommerce_crm_demo              # default: the file name without extension
    description: free text
    instrument*: ecommerce_crm.yaml     # instrument YAML, path relative to this file
    loadings*:                          # standardized loadings of items on first-order constructs,
      PF: [0.82, 0.76, 0.71]            #   one per item in the instrument's item order,
      SQ: 0.76                          #   or one value for every item of the construct,
      LE: {LE1: 0.82, LE2: 0.76, LE3: 0.71}   # or item id: loading. Every construct needs one.
    second_order:                       # loadings of dimensions on higher-order constructs
      OPS: {PF: 0.80, SQ: 0.75, LE: 0.70, UI: 0.65}   # same three forms; every higher-order
                                        #   construct of the instrument needs one
    correlations:                       # correlations among exogenous latent factors
      OPS ~~ CRM: 0.5                   #   (pairs not listed are uncorrelated)
    paths:                              # standardized structural paths, outcome: predictors
      SAT: {OPS: 0.45, CRM: 0.35}       #   as a mapping predictor: beta,
      LOY: "0.70*SAT"                   #   or a lavaan-style right-hand side
    thresholds*:                        # cut points on the unit-variance item scale
      agree5: [-1.6, -0.8, 0.2, 1.1]    #   per scale id: points - 1 increasing numbers
      LOY3: [-1.2, -0.4, 0.5, 1.4]      #   per item id: overrides the item's scale
      nps11: {probs: [0.02, 0.01, 0.02, 0.03, 0.04, 0.08, 0.10, 0.20, 0.22, 0.14, 0.14]}
                                        #   or the probability of each point (any scale size)
    defaults:                           # used when simulate_survey / the CLI is not told otherwise
      n: 500
      missing: none                     # none | MCAR | MAR
      missing_rate: 0.0                 # expected share of item answers left blank
      careless: 0.0                     # share of careless respondents
      careless_types: [straightline, random, speeder, attention_fail]  # or {type: weight}
      mar_driver: age_band              # observed column driving MAR missingness
      mar_strength: 0.5                 # log-weight slope per SD of the driver
    behaviour:
      attention_slip: 0.01              # attentive respondents missing the attention check
      speeder_random_share: 0.5         # share of a speeder's answers that are random
    duration:                           # completion time in seconds (log-normal)
      median_sec: 330
      sigma: 0.35                       # SD of log(duration)
      speeder_median_sec: 60
      speeder_sigma: 0.30
      straightline_factor: 0.6          # straight-liners' durations relative to attentive ones
      random_factor: 0.75
    demographics:                       # per demographic question of the instrument
      age_band: {probs: {1: 0.01, 2: 0.25, 3: 0.38, 4: 0.22, 5: 0.10, 6: 0.04}}
      years_customer: {probs: [0.2, 0.35, 0.25, 0.2], related_to: {construct: LOY, r: 0.3}}
    personal_data:
      fill_rate: 0.6                    # share of respondents filling each optional contact field

Every latent variable and every item has unit total variance: residual variances are what
the paths and correlations leave over (``1 - lambda**2`` for an item; ``1 - b' Phi b`` for
an endogenous factor). A model whose implied residual variance is not positive is rejected
with a :class:`~crm_research.errors.ConfigError` naming the construct or item. Every error
names the file and the key path (``paths.SAT.OPS``) and says what was expected.

The data-generating process, per respondent:

1. Exogenous factors ``xi = L z`` (``L`` the Cholesky factor of their correlation matrix);
   each endogenous factor (a dimension of a higher-order construct, or an outcome of
   structural paths) ``eta_j = sum_k b_jk eta_k + sqrt(psi_j) zeta_j`` in causal order.
2. Items ``y*_i = lambda_i eta_c(i) + sqrt(1 - lambda_i**2) e_i``; the answer is
   the scale's ``min + #{thresholds < y*_i}`` (any scale: 1-5, 0-10, 1-6 ...); reverse-coded
   items are mirrored (``min + max - answer``, or ``-y*`` for continuous output). Loadings
   therefore describe items *after* reverse coding. A single-item construct's item is
   simulated like any other (its loading sets its reliability, ``loading**2``).
3. Careless respondents (exactly ``round(careless * n)``, split over ``careless_types`` by
   weight) overwrite their answers: ``straightline`` (the same position on every item's
   scale, capped at the scale's last point), ``random``
   (uniform points), ``speeder`` (very short duration, ``speeder_random_share`` of answers
   random), ``attention_fail`` (model answers, but fails the attention check).
4. Attention checks: attentive respondents give the expected point except with probability
   ``attention_slip`` (then a neighbouring point); straight-liners give their straight-line
   point; random responders and speeders a uniform point; ``attention_fail`` any point but
   the expected one.
5. Missing answers (item columns only; attention check, demographics and duration are
   always present). ``MCAR``: every item answer is blank with probability ``missing_rate``.
   ``MAR``: respondent i leaves each item blank with probability
   ``missing_rate * w_i / mean(w)``, ``w_i = exp(mar_strength * z_i)``, ``z_i`` the
   standardized value of the observed ``mar_driver`` column (a demographic such as
   ``age_band``, or an item, which is then never blank itself), capped at 0.95. With the
   default driver, older respondents skip more questions.

Reproducibility: every random quantity comes from ``numpy.random.Generator(PCG64)`` seeded
with ``SeedSequence(seed, spawn_key=(component,))``, one stream per component (latent
scores, careless assignment, missingness, demographics, duration, attention checks,
personal data), so switching off personal data does not change the answers. The
population algebra (Cholesky factor, implied covariances) is done in Python floats with
``math.fsum`` and the data with element-wise array arithmetic in a fixed order (no BLAS,
no LAPACK, no threads, no dict or set ordering), so the same seed gives bit-identical data
on any machine with the same NumPy random streams (NumPy keeps them stable across
platforms; NEP 19 allows changes between NumPy versions). Latent scores and item responses
use only IEEE-exact operations (+, *, sqrt); durations and MAR weights use ``exp``, whose
last bit can differ between math libraries, which could only matter for a value within one
ulp of a rounding or comparison boundary (probability ~1e-13 per value).
"""
from __future__ import annotations

import html
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from statistics import NormalDist
from typing import Any, Iterable, Mapping

import numpy as np
import pandas as pd
import yaml

from ..errors import ConfigError
from ..instruments import Instrument, load_instrument
from ..schema import check_keys, suggest

MISSING_MECHANISMS = ("none", "MCAR", "MAR")
CARELESS_TYPES = ("straightline", "random", "speeder", "attention_fail")
ATTENTIVE = "none"

_TOP_KEYS = ("id", "description", "instrument", "loadings", "second_order", "correlations", "paths",
             "thresholds", "defaults", "behaviour", "duration", "demographics", "personal_data")
_NUM_RE = r"(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?"
_TERM_RE = re.compile(rf"\s*([+-]?)\s*({_NUM_RE})\s*\*\s*([A-Za-z]\w*)\s*")

# random streams (spawn keys); fixed forever so old seeds keep giving old data
_S_LATENT, _S_CARELESS, _S_MISSING, _S_DEMO, _S_DURATION, _S_ATTENTION, _S_PII = range(7)


# --------------------------------------------------------------------------- settings
@dataclass(frozen=True)
class SimulationDefaults:
    """Defaults a population file gives for sample size, missingness and careless share.

    Parameters
    ----------
    n : int
        Respondents.
    missing : {"none", "MCAR", "MAR"}
    missing_rate : float
        Expected share of blank item answers.
    careless : float
        Share of careless respondents.
    careless_types : tuple of (type, weight)
    mar_driver : str, optional
        The observed column that drives MAR missingness.
    mar_strength : float

    Examples
    --------
    >>> pop = load_population("surveys/ecommerce_crm_population.yaml")
    >>> pop.defaults.n, pop.defaults.missing, pop.defaults.careless
    (500, 'MCAR', 0.05)
    """

    n: int = 500
    missing: str = "none"
    missing_rate: float = 0.0
    careless: float = 0.0
    careless_types: tuple[tuple[str, float], ...] = tuple((t, 1.0) for t in CARELESS_TYPES)
    mar_driver: str | None = None
    mar_strength: float = 0.5


@dataclass(frozen=True)
class Behaviour:
    """How respondents slip: attentive ones miss an attention check, speeders answer at random.

    Parameters
    ----------
    attention_slip : float
        Probability that an attentive respondent fails an attention check.
    speeder_random_share : float
        Share of a speeder's answers given at random (the rest straight-lined).

    Examples
    --------
    >>> Behaviour().attention_slip
    0.01
    """

    attention_slip: float = 0.01
    speeder_random_share: float = 0.5


@dataclass(frozen=True)
class DurationModel:
    """Completion times: log-normal around a median, shorter for careless respondents.

    Parameters
    ----------
    median_sec, sigma : float
        Attentive respondents' median duration and log-scale spread.
    speeder_median_sec, speeder_sigma : float
        The same for speeders.
    straightline_factor, random_factor : float
        Duration multipliers of straight-liners and random responders.

    Examples
    --------
    >>> DurationModel().median_sec
    330.0
    """

    median_sec: float = 330.0
    sigma: float = 0.35
    speeder_median_sec: float = 60.0
    speeder_sigma: float = 0.30
    straightline_factor: float = 0.6
    random_factor: float = 0.75


@dataclass(frozen=True)
class DemographicModel:
    """Category probabilities (in option order) and an optional link to a latent factor.

    Parameters
    ----------
    id : str
        The demographic question.
    values : tuple
        Option codes.
    probs : tuple of float
        Probability of each option.
    related_to : str, optional
        A latent factor the (ordered) answer correlates with.
    r : float
        That correlation.

    Examples
    --------
    >>> pop = load_population("surveys/ecommerce_crm_population.yaml")
    >>> pop.demographics["gender"].values
    (1, 2, 3)
    """

    id: str
    values: tuple[Any, ...]
    probs: tuple[float, ...]
    related_to: str | None = None
    r: float = 0.0


# --------------------------------------------------------------------------- population model
@dataclass(frozen=True)
class PopulationModel:
    """A validated population model. Build with :func:`load_population`.

    Attributes
    ----------
    loadings : dict
        Item id -> standardized loading on its first-order construct.
    second_order : dict
        Higher-order construct -> {dimension: standardized loading}.
    correlations : dict
        ``(A, B)`` -> correlation between exogenous factors A and B (as declared).
    paths : dict
        Outcome -> {predictor: standardized path coefficient}.
    thresholds : dict
        Item id -> tuple of Likert cut points.

    Parameters
    ----------
    id, description, instrument, loadings, second_order, correlations, paths, thresholds
        As above (the validated file).
    defaults : SimulationDefaults
    behaviour : Behaviour
    duration : DurationModel
    demographics : dict
        Question id -> :class:`DemographicModel`.
    pii_fill_rate : float
        Share of respondents who fill in the personal-data fields.
    source : str
        The file.
    latent_order, exogenous, residual_variances
        Derived by :func:`population_from_dict` (causal order, exogenous factors, residual
        variances of endogenous factors).

    Examples
    --------
    >>> pop = load_population("surveys/ecommerce_crm_population.yaml")
    >>> pop
    PopulationModel('ecommerce_crm_demo', instrument='ecommerce_crm', 11 latents, 27 items, 3 paths)
    >>> pop.exogenous, pop.parents("SAT")
    (('OPS', 'CRM'), {'OPS': 0.45, 'CRM': 0.35})
    >>> pop.effects().query("to == 'LOY'")                # OPS -> LOY: .45 x .70 = .315
      from   to  direct  indirect  total
    1  OPS  LOY     0.0     0.315  0.315
    3  CRM  LOY     0.0     0.245  0.245
    4  SAT  LOY     0.7     0.000  0.700
    >>> print(round(pop.latent_correlations().loc["OPS", "CRM"], 2), round(pop.implied_correlations().loc["PF1", "PF2"], 4))
    0.5 0.6232
    >>> print(pop.syntax().splitlines()[-2])
    SAT ~ OPS + CRM
    >>> pop.thresholds_table().loc[0, "thresholds"]
    [-1.6, -0.8, 0.2, 1.1]
    >>> print(pop.summary().splitlines()[0])
    Population model 'ecommerce_crm_demo' for instrument 'ecommerce_crm' (surveys/ecommerce_crm_population.yaml)
    """

    id: str
    description: str
    instrument: Instrument
    loadings: dict[str, float]
    second_order: dict[str, dict[str, float]]
    correlations: dict[tuple[str, str], float]
    paths: dict[str, dict[str, float]]
    thresholds: dict[str, tuple[float, ...]]
    defaults: SimulationDefaults
    behaviour: Behaviour
    duration: DurationModel
    demographics: dict[str, DemographicModel]
    pii_fill_rate: float
    source: str = "<dict>"
    # derived (filled by population_from_dict)
    latent_order: tuple[str, ...] = ()
    exogenous: tuple[str, ...] = ()
    residual_variances: dict[str, float] = field(default_factory=dict)
    _cov: tuple[tuple[float, ...], ...] = ()
    _chol: tuple[tuple[float, ...], ...] = ()

    # ---- structure
    @property
    def latents(self) -> list[str]:
        """Latent variables in the instrument's construct order."""
        return [c.id for c in self.instrument.constructs]

    @property
    def items(self) -> list[str]:
        """Item ids in the instrument's order."""
        return self.instrument.item_ids

    def parents(self, latent: str) -> dict[str, float]:
        """Direct causes of a latent: higher-order constructs (loadings) and path predictors.

        Parameters
        ----------
        latent : str

        Returns
        -------
        dict
            Cause -> standardized loading or path coefficient.
        """
        out: dict[str, float] = {}
        for h, dims in self.second_order.items():
            if latent in dims:
                out[h] = dims[latent]
        out.update(self.paths.get(latent, {}))
        return out

    @property
    def endogenous(self) -> tuple[str, ...]:
        """Latent variables with a cause in the model (causal order)."""
        return tuple(v for v in self.latent_order if v not in self.exogenous)

    # ---- implied moments
    def latent_correlations(self) -> pd.DataFrame:
        """Model-implied correlation matrix of all latent variables (instrument order).

        Returns
        -------
        DataFrame
        """
        idx = {v: i for i, v in enumerate(self.latent_order)}
        lat = self.latents
        return pd.DataFrame([[self._cov[idx[a]][idx[b]] for b in lat] for a in lat], index=lat, columns=lat)

    def implied_correlations(self) -> pd.DataFrame:
        """Model-implied correlation matrix of the (continuous, reverse-coded) items.

        Returns
        -------
        DataFrame
        """
        idx = {v: i for i, v in enumerate(self.latent_order)}
        inst = self.instrument
        cons = {it.id: it.construct for it in inst.items}
        ids = inst.item_ids
        rows = []
        for a in ids:
            rows.append([1.0 if a == b else self.loadings[a] * self.loadings[b] * self._cov[idx[cons[a]]][idx[cons[b]]]
                         for b in ids])
        return pd.DataFrame(rows, index=ids, columns=ids)

    def standardized_parameters(self) -> pd.DataFrame:
        """The population's standardized parameters as lavaan's ``std.all`` would report them.

        Rows (lavaan's names): ``=~`` item loadings, ``=~`` second-order loadings, ``~``
        structural paths, ``~~`` covariances among exogenous factors (every pair, zero when
        not declared), ``~~`` residual variances of items and endogenous factors and variances
        (1) of exogenous factors. Loadings of reverse-coded items are for the item after
        reverse coding.

        Returns
        -------
        DataFrame with columns ``lhs, op, rhs, std.all``.
        """
        inst = self.instrument
        rows = []
        for c in inst.first_order:
            for it in c.items:
                rows.append((c.id, "=~", it.id, self.loadings[it.id]))
        for c in inst.higher_order:
            for d in c.dimensions:
                rows.append((c.id, "=~", d, self.second_order[c.id][d]))
        for lhs in self.latents:
            for rhs, b in self.paths.get(lhs, {}).items():
                rows.append((lhs, "~", rhs, b))
        for it in inst.items:
            rows.append((it.id, "~~", it.id, _resid(self.loadings[it.id])))
        idx = {v: i for i, v in enumerate(self.latent_order)}
        exo = [v for v in self.latents if v in self.exogenous]
        for v in self.latents:
            rows.append((v, "~~", v, self.residual_variances.get(v, 1.0)))
        for i, a in enumerate(exo):
            for b in exo[i + 1:]:
                rows.append((a, "~~", b, self._cov[idx[a]][idx[b]]))
        return pd.DataFrame(rows, columns=["lhs", "op", "rhs", "std.all"])

    def effects(self) -> pd.DataFrame:
        """Standardized direct, indirect and total effects along the structural paths.

        Second-order loadings are not counted as effects. One row per (``from``, ``to``) pair
        with a non-zero total effect, e.g. OPS -> LOY: direct 0, indirect .45 x .70 = .315.

        Returns
        -------
        DataFrame
            ``from, to, direct, indirect, total``.
        """
        order = [v for v in self.latent_order]
        total: dict[tuple[str, str], float] = {}
        for j in order:  # causal order: parents' totals are known
            for k, b in self.paths.get(j, {}).items():
                total[(k, j)] = total.get((k, j), 0.0) + b
                for (a, m), t in list(total.items()):
                    if m == k:
                        total[(a, j)] = total.get((a, j), 0.0) + t * b
        rows = []
        for a in self.latents:
            for b in self.latents:
                t = total.get((a, b))
                if t is None:
                    continue
                d = self.paths.get(b, {}).get(a, 0.0)
                rows.append((a, b, d, t - d, t))
        return pd.DataFrame(rows, columns=["from", "to", "direct", "indirect", "total"])

    def syntax(self) -> str:
        """lavaan syntax of the population's own model (the "true model" to fit).

        Returns
        -------
        str
        """
        inst = self.instrument
        lines = [f"{c.id} =~ " + " + ".join(it.id for it in c.items) for c in inst.first_order]
        lines += [f"{c.id} =~ " + " + ".join(c.dimensions) for c in inst.higher_order]
        for lhs in self.latents:
            if self.paths.get(lhs):
                lines.append(f"{lhs} ~ " + " + ".join(self.paths[lhs]))
        return "\n".join(lines) + "\n"

    def thresholds_table(self) -> pd.DataFrame:
        """Item thresholds and the implied probability of each Likert point.

        Returns
        -------
        DataFrame
            ``item, thresholds`` and one probability column per scale point (``p1`` ...).
        """
        rows = []
        nd = NormalDist()
        for iid in self.items:
            t = self.thresholds[iid]
            cdf = [0.0] + [nd.cdf(x) for x in t] + [1.0]
            vals = self.instrument.scale_of(iid).values
            rows.append({"item": iid, "thresholds": list(t),
                         **{f"p{vals[k - 1]}": cdf[k] - cdf[k - 1] for k in range(1, len(cdf))}})
        return pd.DataFrame(rows)

    # ---- display
    def summary(self) -> str:
        """The model as text: loadings, paths with R², factor correlations, defaults.

        Returns
        -------
        str
        """
        inst = self.instrument
        d = self.defaults
        lines = [f"Population model {self.id!r} for instrument {inst.id!r} ({self.source})"]
        if self.description:
            lines.append(f"  {self.description.strip()}")
        lines.append("Measurement (standardized loadings):")
        for c in inst.first_order:
            lines.append(f"  {c.id} =~ " + " + ".join(f"{self.loadings[i.id]:.2f} {i.id}" for i in c.items))
        for c in inst.higher_order:
            lines.append(f"  {c.id} =~ " + " + ".join(f"{self.second_order[c.id][x]:.2f} {x}" for x in c.dimensions))
        if self.paths:
            lines.append("Structural paths (standardized):")
            for lhs in self.latents:
                if self.paths.get(lhs):
                    lines.append(f"  {lhs} ~ " + " + ".join(f"{b:.2f} {r}" for r, b in self.paths[lhs].items())
                                 + f"   (R2 = {1 - self.residual_variances[lhs]:.3f})")
        exo = [v for v in self.latents if v in self.exogenous]
        if len(exo) > 1:
            lat = self.latent_correlations()
            lines.append("Exogenous factor correlations: " + ", ".join(
                f"{a}~~{b} {lat.loc[a, b]:.2f}" for i, a in enumerate(exo) for b in exo[i + 1:]))
        lines.append(f"Defaults: n={d.n}, missing={d.missing} (rate {d.missing_rate:g}), careless={d.careless:g} "
                     f"({', '.join(f'{t}:{w:g}' for t, w in d.careless_types)})")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return (f"PopulationModel({self.id!r}, instrument={self.instrument.id!r}, {len(self.latents)} latents, "
                f"{len(self.items)} items, {sum(len(p) for p in self.paths.values())} paths)")

    def _repr_html_(self) -> str:
        return f"<pre>{html.escape(self.summary())}</pre>" + self.standardized_parameters().to_html(index=False)


def _resid(lam: float) -> float:
    return 1.0 - lam * lam


# --------------------------------------------------------------------------- loading
def load_population(path: str | Path, instrument: Instrument | None = None) -> PopulationModel:
    """Load and validate a population-model YAML file (schema in the module docstring).

    Parameters
    ----------
    path : str or Path
        The YAML file, e.g. ``surveys/ecommerce_crm_population.yaml``.
    instrument : Instrument, optional
        Use this instrument instead of loading the one the file names.

    Returns
    -------
    PopulationModel

    Raises
    ------
    ConfigError
        Naming the file, the key path and what was expected.

    Examples
    --------
    >>> pop = load_population("surveys/ecommerce_crm_population.yaml")
    >>> pop.standardized_parameters().query("op == '~'")
       lhs op  rhs  std.all
    34  SAT  ~  OPS     0.45
    35  SAT  ~  CRM     0.35
    36  LOY  ~  SAT     0.70
    """
    path = Path(path)
    if not path.exists():
        raise ConfigError(str(path), "", "file not found",
                          hint="pass a population-model YAML, e.g. surveys/ecommerce_crm_population.yaml")
    if path.is_dir():
        raise ConfigError(str(path), "", "is a folder, expected a population-model YAML file")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as e:
        raise ConfigError(str(path), "", f"not UTF-8 text ({e.reason})", hint="save the YAML as UTF-8") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(str(path), where, f"invalid YAML: {getattr(e, 'problem', e)}") from None
    return population_from_dict(raw, source=str(path), base_dir=path.parent, instrument=instrument,
                                default_id=path.stem)


def population_from_dict(raw: Any, source: str = "<dict>", base_dir: str | Path = ".",
                         instrument: Instrument | None = None, default_id: str = "population") -> PopulationModel:
    """Validate a parsed population mapping (see module docstring) and build the model.

    Parameters
    ----------
    raw : mapping
        The parsed YAML.
    source : str
        Where it came from (for messages).
    base_dir : str or Path
        Folder the ``instrument:`` path is relative to.
    instrument : Instrument, optional
        Use this instrument instead of the file the mapping names.
    default_id : str
        The model's id when the mapping has none.

    Returns
    -------
    PopulationModel

    Raises
    ------
    ConfigError
        Naming ``source``, the key path and what was expected.

    Examples
    --------
    >>> import yaml
    >>> raw = yaml.safe_load(open("surveys/ecommerce_crm_population.yaml", encoding="utf-8"))
    >>> population_from_dict(raw, base_dir="surveys").paths["LOY"]
    {'SAT': 0.7}
    >>> raw["paths"] = {"LOY": "0.7*SATT"}
    >>> try:
    ...     population_from_dict(raw, source="pop.yaml", base_dir="surveys")
    ... except ConfigError as e:
    ...     print(e.key)
    paths.LOY.SATT
    """
    v = _V(source)
    v.mapping(raw, "")
    check_keys(raw, _TOP_KEYS, "", v.fail)
    pid = raw.get("id", default_id)
    if not isinstance(pid, str) or not pid:
        v.fail("id", f"expected text, got {pid!r}")
    desc = raw.get("description", "") or ""

    # instrument
    if instrument is None:
        ref = v.req(raw, "instrument", "", str)
        ipath = Path(base_dir) / ref
        if not ipath.is_file():
            v.fail("instrument", f"instrument file {str(ipath)!r} not found (paths are relative to the population file)",
                   hint="name the instrument YAML relative to this file, e.g. 'ecommerce_crm.yaml'")
        instrument = load_instrument(ipath)
    inst = instrument
    first = {c.id: c for c in inst.first_order}
    higher = {c.id: c for c in inst.higher_order}
    latents = [c.id for c in inst.constructs]

    # item loadings
    lraw = v.req(raw, "loadings", "", dict)
    for k in lraw:
        if k not in first:
            v.fail(f"loadings.{k}", f"unknown first-order construct {k!r}" + _near(k, first)
                   + f"; expected one of {', '.join(first)}"
                   + (" (higher-order constructs go under 'second_order')" if k in higher else ""))
    loadings: dict[str, float] = {}
    for cid, c in first.items():
        if cid not in lraw:
            v.fail(f"loadings.{cid}", "required key is missing (loadings of this construct's items)")
        vals = v.per_member(lraw[cid], f"loadings.{cid}", [it.id for it in c.items], "item")
        for iid, lam in vals.items():
            key = f"loadings.{cid}" + ("" if _scalar(lraw[cid]) else f".{iid}")
            if not -1.0 < lam < 1.0 or lam == 0.0:
                v.fail(key, f"loading of {iid} must be a standardized loading between -1 and 1 (not 0), got {lam!r}",
                       hint=f"implied residual variance of {iid} is 1 - loading^2 = {_resid(lam):.4g}; it must be > 0")
            loadings[iid] = lam

    # second-order loadings
    sraw = raw.get("second_order") or {}
    if not isinstance(sraw, dict):
        v.fail("second_order", f"expected a mapping (higher-order construct: loadings), got {type(sraw).__name__}")
    for k in sraw:
        if k not in higher:
            v.fail(f"second_order.{k}", f"{k!r} is not a higher-order construct of instrument {inst.id!r}"
                   + _near(k, higher) + (f"; expected one of {', '.join(higher)}" if higher else ""))
    second: dict[str, dict[str, float]] = {}
    for hid, c in higher.items():
        if hid not in sraw:
            v.fail(f"second_order.{hid}", f"required key is missing (loadings of {', '.join(c.dimensions)} on {hid})")
        vals = v.per_member(sraw[hid], f"second_order.{hid}", list(c.dimensions), "dimension")
        for d, lam in vals.items():
            key = f"second_order.{hid}" + ("" if _scalar(sraw[hid]) else f".{d}")
            if not -1.0 < lam < 1.0 or lam == 0.0:
                v.fail(key, f"loading of {d} on {hid} must be between -1 and 1 (not 0), got {lam!r}",
                       hint=f"implied residual variance of {d} would be {_resid(lam):.4g}; it must be > 0")
        second[hid] = vals

    # structural paths
    praw = raw.get("paths") or {}
    if not isinstance(praw, dict):
        v.fail("paths", f"expected a mapping (outcome: {{predictor: beta}}), got {type(praw).__name__}")
    paths: dict[str, dict[str, float]] = {}
    for lhs, rhs in praw.items():
        k = f"paths.{lhs}"
        if lhs not in latents:
            v.fail(k, f"unknown construct {lhs!r}{_near(lhs, latents)}; expected one of {', '.join(latents)}")
        if isinstance(rhs, str):
            terms = v.parse_rhs(rhs, k)
        elif isinstance(rhs, dict):
            terms = {}
            for p, b in rhs.items():
                terms[str(p)] = v.number(b, f"{k}.{p}")
        else:
            v.fail(k, f"expected a mapping {{predictor: beta}} or text like '0.45*OPS + 0.35*CRM', got {rhs!r}")
        if not terms:
            v.fail(k, "no predictors given")
        for p, b in terms.items():
            if p not in latents:
                v.fail(f"{k}.{p}", f"unknown construct {p!r}{_near(p, latents)}; expected one of {', '.join(latents)}")
            if p == lhs:
                v.fail(f"{k}.{p}", f"{lhs} cannot predict itself")
            if not math.isfinite(b) or abs(b) >= 1.5:
                v.fail(f"{k}.{p}", f"standardized path must be a finite number with |beta| < 1.5, got {b!r}")
        paths[str(lhs)] = terms

    # causal order (cycles are errors)
    parents = {x: set() for x in latents}
    for h, dims in second.items():
        for d in dims:
            parents[d].add(h)
    for lhs, terms in paths.items():
        parents[lhs].update(terms)
    exogenous = tuple(x for x in latents if not parents[x])
    order = list(exogenous)
    placed = set(order)
    while len(order) < len(latents):
        ready = [x for x in latents if x not in placed and parents[x] <= placed]
        if not ready:
            stuck = [x for x in latents if x not in placed]
            v.fail("paths", f"the model has a cycle among {', '.join(stuck)}; only recursive models are supported",
                   hint="remove a path so that no construct (directly or indirectly) causes itself")
        for x in ready:
            order.append(x)
            placed.add(x)

    # correlations among exogenous factors
    craw = raw.get("correlations") or {}
    if not isinstance(craw, dict):
        v.fail("correlations", f"expected a mapping like 'OPS ~~ CRM: 0.5', got {type(craw).__name__}")
    correlations: dict[tuple[str, str], float] = {}
    seen_pairs: dict[frozenset, str] = {}
    for key, r in craw.items():
        k = f"correlations.{key}"
        m = re.fullmatch(r"\s*([A-Za-z]\w*)\s*~~\s*([A-Za-z]\w*)\s*", str(key))
        if not m:
            v.fail(k, f"expected a key like 'OPS ~~ CRM', got {key!r}")
        a, b = m.groups()
        for x in (a, b):
            if x not in latents:
                v.fail(k, f"unknown construct {x!r}{_near(x, latents)}; expected one of {', '.join(latents)}")
            if x not in exogenous:
                v.fail(k, f"{x} is endogenous (it has {', '.join(sorted(parents[x]))} as causes); correlations are "
                          f"declared among exogenous factors only ({', '.join(exogenous)})",
                       hint="express the association as a structural path or a second-order loading")
        if a == b:
            v.fail(k, "a factor's variance is fixed at 1; declare correlations between two different factors")
        rv = v.number(r, k)
        if not -1.0 < rv < 1.0:
            v.fail(k, f"correlation must be between -1 and 1, got {rv!r}")
        pair = frozenset((a, b))
        if pair in seen_pairs:
            v.fail(k, f"correlation of {a} and {b} already given as {seen_pairs[pair]!r}")
        seen_pairs[pair] = str(key)
        correlations[(a, b)] = rv

    # implied covariances in causal order (Python floats, exactly rounded sums)
    idx = {x: i for i, x in enumerate(order)}
    nlat = len(order)
    cov = [[0.0] * nlat for _ in range(nlat)]
    for x in exogenous:
        cov[idx[x]][idx[x]] = 1.0
    for (a, b), r in correlations.items():
        cov[idx[a]][idx[b]] = cov[idx[b]][idx[a]] = r
    nexo = len(exogenous)
    chol = _cholesky([row[:nexo] for row in cov[:nexo]])
    if chol is None:
        v.fail("correlations", f"the correlations among {', '.join(exogenous)} are impossible together "
                               "(the correlation matrix is not positive definite)",
               hint="lower the correlations or make them consistent with each other")
    resid: dict[str, float] = {}
    for x in order[nexo:]:
        j = idx[x]
        par = [(idx[p], b) for p, b in _parents_in_order(x, second, paths, order)]
        for k in range(j):  # covariance with every earlier latent
            cov[j][k] = cov[k][j] = math.fsum(b * cov[p][k] for p, b in par)
        explained = math.fsum(b1 * b2 * cov[p1][p2] for p1, b1 in par for p2, b2 in par)
        psi = 1.0 - explained
        if psi <= 1e-12:
            hid = [h for h, dims in second.items() if x in dims]
            key = f"paths.{x}" if x in paths else f"second_order.{hid[0]}.{x}" if hid else x
            v.fail(key, f"implied residual variance of {x} is {psi:.4g} <= 0: its causes explain "
                        f"{explained:.4g} of its unit variance",
                   hint=f"lower the paths/loadings into {x} or the correlations among its causes")
        cov[j][j] = 1.0
        resid[x] = psi

    # thresholds
    traw = v.req(raw, "thresholds", "", dict)
    scale_items: dict[str, list[str]] = {}
    for it in inst.items:
        scale_items.setdefault(it.scale, []).append(it.id)
    item_ids = set(inst.item_ids)
    for k in traw:
        if k in inst.scales and k in item_ids:
            v.fail(f"thresholds.{k}", f"{k!r} is both a scale id and an item id; rename one of them")
        if k not in inst.scales and k not in item_ids:
            v.fail(f"thresholds.{k}", f"unknown scale or item {k!r}{_near(k, [*inst.scales, *item_ids])}; "
                                      f"scales: {', '.join(inst.scales)}")
    thresholds: dict[str, tuple[float, ...]] = {}
    done: dict[str, tuple[float, ...]] = {}
    for it in inst.items:
        key = it.id if it.id in traw else it.scale if it.scale in traw else None
        if key is None:
            v.fail(f"thresholds.{it.scale}", f"required key is missing (cut points for scale {it.scale!r}, used by {it.id})",
                   hint=f"give {inst.scales[it.scale].points - 1} increasing numbers, e.g. [-1.6, -0.8, 0.2, 1.1], "
                        f"or {{probs: [...]}} with {inst.scales[it.scale].points} probabilities")
        if key not in done:
            done[key] = _thresholds(traw[key], f"thresholds.{key}", inst.scales[it.scale], it.id, v)
        thresholds[it.id] = done[key]

    defaults = _defaults(raw.get("defaults"), v, inst)
    behaviour = Behaviour(**v.section(raw.get("behaviour"), "behaviour", Behaviour,
                                      bounds={"attention_slip": (0, 1), "speeder_random_share": (0, 1)}))
    duration = DurationModel(**v.section(raw.get("duration"), "duration", DurationModel,
                                         bounds={f: (0, None) for f in DurationModel.__dataclass_fields__},
                                         strict_low=True))
    demographics = _demographics(raw.get("demographics"), v, inst, latents)
    pdraw = raw.get("personal_data") or {}
    v.mapping(pdraw, "personal_data")
    check_keys(pdraw, ("fill_rate",), "personal_data", v.fail)
    fill = v.number(pdraw.get("fill_rate", 0.6), "personal_data.fill_rate")
    if not 0.0 <= fill <= 1.0:
        v.fail("personal_data.fill_rate", f"must be a share between 0 and 1, got {fill!r}")

    return PopulationModel(
        id=pid, description=str(desc), instrument=inst, loadings=loadings, second_order=second,
        correlations=correlations, paths=paths, thresholds=thresholds, defaults=defaults,
        behaviour=behaviour, duration=duration, demographics=demographics, pii_fill_rate=fill,
        source=source, latent_order=tuple(order), exogenous=exogenous, residual_variances=resid,
        _cov=tuple(tuple(r) for r in cov), _chol=tuple(tuple(r) for r in chol))


def _near(word: Any, options: Iterable[Any]) -> str:
    near = suggest(word, options) if isinstance(word, str) else None
    return f"; did you mean {near!r}?" if near else ""


def _scalar(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _thresholds(t: Any, key: str, scale: Any, item: str, v: "_V") -> tuple[float, ...]:
    """Cut points from a list of ``points - 1`` numbers or ``{probs: [one per point]}``."""
    pts = scale.points
    if isinstance(t, dict):
        check_keys(t, ("probs",), key, v.fail)
        pr = v.req(t, "probs", key, list)
        if len(pr) != pts:
            v.fail(f"{key}.probs", f"expected {pts} probabilities (one per point {scale.range_text}) for the "
                                   f"scale of {item}, got {len(pr)}")
        probs = [v.number(x, f"{key}.probs[{i}]") for i, x in enumerate(pr)]
        if any(p <= 0 for p in probs) or not abs(math.fsum(probs) - 1.0) < 1e-6:
            v.fail(f"{key}.probs", f"probabilities must be > 0 and sum to 1, got {pr} (sum {math.fsum(probs):.6g})")
        nd, acc, cuts = NormalDist(), 0.0, []
        for p in probs[:-1]:
            acc += p
            cuts.append(nd.inv_cdf(min(acc, 1 - 1e-12)))
        if any(b <= a for a, b in zip(cuts, cuts[1:])):
            v.fail(f"{key}.probs", "probabilities too small to give distinct cut points")
        return tuple(cuts)
    if not isinstance(t, list) or len(t) != pts - 1:
        v.fail(key, f"expected a list of {pts - 1} cut points for the {pts}-point scale of {item} "
                    f"({scale.range_text}), or {{probs: [{pts} probabilities]}}, got {t!r}")
    tv = [v.number(x, f"{key}[{i}]") for i, x in enumerate(t)]
    if any(not math.isfinite(x) for x in tv) or any(b <= a for a, b in zip(tv, tv[1:])):
        v.fail(key, f"cut points must be finite and strictly increasing, got {t!r}")
    return tuple(tv)


def _parents_in_order(x: str, second: Mapping[str, Mapping[str, float]], paths: Mapping[str, Mapping[str, float]],
                      order: list[str]) -> list[tuple[str, float]]:
    par: dict[str, float] = {}
    for h, dims in second.items():
        if x in dims:
            par[h] = dims[x]
    par.update(paths.get(x, {}))
    pos = {v: i for i, v in enumerate(order)}
    return sorted(par.items(), key=lambda kv: pos[kv[0]])  # fixed summation order


def _cholesky(a: list[list[float]]) -> list[list[float]] | None:
    # Written out (not numpy.linalg) so the factor is bit-identical on every machine and
    # LAPACK build; the matrices are tiny (the exogenous factors).
    n = len(a)
    L = [[0.0] * n for _ in range(n)]
    for i in range(n):
        for j in range(i + 1):
            s = math.fsum(L[i][k] * L[j][k] for k in range(j))
            if i == j:
                d = a[i][i] - s
                if d <= 1e-12:
                    return None
                L[i][j] = math.sqrt(d)
            else:
                L[i][j] = (a[i][j] - s) / L[j][j]
    return L


def _defaults(raw: Any, v: "_V", inst: Instrument) -> SimulationDefaults:
    if raw is None:
        raw = {}
    v.mapping(raw, "defaults")
    check_keys(raw, SimulationDefaults.__dataclass_fields__, "defaults", v.fail)
    out: dict[str, Any] = {}
    if "n" in raw:
        n = raw["n"]
        if not isinstance(n, int) or isinstance(n, bool) or n < 1:
            v.fail("defaults.n", f"expected a positive whole number of respondents, got {n!r}")
        out["n"] = n
    if "missing" in raw:
        m = _mechanism(raw["missing"])
        if m is None:
            v.fail("defaults.missing", f"expected one of none, MCAR, MAR, got {raw['missing']!r}")
        out["missing"] = m
    for k in ("missing_rate", "careless"):
        if k in raw:
            x = v.number(raw[k], f"defaults.{k}")
            if not 0.0 <= x < (0.95 if k == "missing_rate" else 1.0 + 1e-12):
                v.fail(f"defaults.{k}", f"must be a share between 0 and {'0.95' if k == 'missing_rate' else '1'}, "
                                        f"got {x!r}")
            out[k] = x
    if "careless_types" in raw:
        try:
            out["careless_types"] = _careless_weights(raw["careless_types"])
        except ValueError as e:
            v.fail("defaults.careless_types", str(e))
    if "mar_driver" in raw:
        d = raw["mar_driver"]
        if not isinstance(d, str) or d not in _mar_candidates(inst):
            v.fail("defaults.mar_driver", f"expected a demographic or item column of the instrument "
                                          f"({', '.join(_mar_candidates(inst))}), got {d!r}")
        out["mar_driver"] = d
    if "mar_strength" in raw:
        out["mar_strength"] = v.number(raw["mar_strength"], "defaults.mar_strength")
    return SimulationDefaults(**out)


def _mar_candidates(inst: Instrument) -> list[str]:
    return [q.id for q in inst.demographics] + inst.item_ids


def _mechanism(m: Any) -> str | None:
    if m is None or m is False:
        return "none"
    if isinstance(m, str):
        for x in MISSING_MECHANISMS:
            if m.strip().lower() == x.lower():
                return x
    return None


def _careless_weights(raw: Any) -> tuple[tuple[str, float], ...]:
    if isinstance(raw, str):
        raw = [s for s in re.split(r"[,\s]+", raw) if s]
    if isinstance(raw, (list, tuple)):
        raw = {str(t): 1.0 for t in raw}
    if not isinstance(raw, Mapping) or not raw:
        raise ValueError(f"expected a list of careless types ({', '.join(CARELESS_TYPES)}) or a mapping "
                         f"type: weight, got {raw!r}")
    out = []
    for t in CARELESS_TYPES:  # fixed order, whatever order the user wrote
        if t in raw:
            w = raw[t]
            if not _scalar(w) or not w >= 0 or not math.isfinite(w):
                raise ValueError(f"weight of {t!r} must be a non-negative number, got {w!r}")
            out.append((t, float(w)))
    unknown = [t for t in raw if t not in CARELESS_TYPES]
    if unknown:
        raise ValueError(f"unknown careless type {unknown[0]!r}; expected any of {', '.join(CARELESS_TYPES)}")
    if not sum(w for _, w in out) > 0:
        raise ValueError("at least one careless type needs a positive weight")
    return tuple(out)


def _demographics(raw: Any, v: "_V", inst: Instrument, latents: list[str]) -> dict[str, DemographicModel]:
    raw = raw or {}
    v.mapping(raw, "demographics")
    qs = {q.id: q for q in inst.demographics}
    for k in raw:
        if k not in qs:
            v.fail(f"demographics.{k}", f"unknown demographic question {k!r}{_near(k, qs)}; "
                                        f"expected one of {', '.join(qs) or '(none)'}")
    out = {}
    for qid, q in qs.items():
        spec = raw.get(qid) or {}
        k = f"demographics.{qid}"
        v.mapping(spec, k)
        check_keys(spec, ("probs", "related_to"), k, v.fail)
        values = q.values
        if "probs" in spec:
            pr = spec["probs"]
            if isinstance(pr, list):
                if len(pr) != len(values):
                    v.fail(f"{k}.probs", f"expected {len(values)} probabilities (one per option), got {len(pr)}")
                probs = [v.number(x, f"{k}.probs[{i}]") for i, x in enumerate(pr)]
            elif isinstance(pr, dict):
                bad = [x for x in pr if x not in values]
                if bad:
                    v.fail(f"{k}.probs.{bad[0]}", f"not an option value of {qid}; options: {', '.join(map(str, values))}")
                probs = [v.number(pr.get(x, 0.0), f"{k}.probs.{x}") for x in values]
            else:
                v.fail(f"{k}.probs", "expected a list (option order) or a mapping option value: probability")
            if any(p < 0 for p in probs) or not abs(math.fsum(probs) - 1.0) < 1e-6:
                v.fail(f"{k}.probs", f"probabilities must be >= 0 and sum to 1, got {probs} (sum {math.fsum(probs):.6g})")
        else:  # eligible options equally likely
            ok = [x not in q.exclude for x in values]
            probs = [1.0 / sum(ok) if o else 0.0 for o in ok]
        rel, r = None, 0.0
        if "related_to" in spec:
            rt = spec["related_to"]
            v.mapping(rt, f"{k}.related_to")
            check_keys(rt, ("construct", "r"), f"{k}.related_to", v.fail)
            rel = v.req(rt, "construct", f"{k}.related_to", str)
            if rel not in latents:
                v.fail(f"{k}.related_to.construct", f"unknown construct {rel!r}{_near(rel, latents)}; "
                                                    f"expected one of {', '.join(latents)}")
            r = v.number(v.req(rt, "r", f"{k}.related_to", object), f"{k}.related_to.r")
            if not -1.0 < r < 1.0:
                v.fail(f"{k}.related_to.r", f"must be a correlation between -1 and 1, got {r!r}")
        out[qid] = DemographicModel(qid, tuple(values), tuple(probs), rel, r)
    return out


class _V:
    def __init__(self, file: str):
        self.file = file

    def fail(self, key: str, problem: str, hint: str | None = None) -> None:
        raise ConfigError(self.file, key, problem, hint=hint)

    def mapping(self, obj: Any, key: str) -> None:
        if not isinstance(obj, dict):
            self.fail(key or "(top level)", f"expected a mapping (key: value), got {type(obj).__name__} {obj!r}"[:200])

    def req(self, obj: dict, name: str, key: str, typ: type) -> Any:
        k = f"{key}.{name}" if key else name
        if name not in obj or obj[name] is None:
            self.fail(k, "required key is missing")
        val = obj[name]
        if typ is not object and not isinstance(val, typ):
            names = {str: "text", dict: "a mapping", list: "a list"}
            self.fail(k, f"expected {names.get(typ, typ.__name__)}, got {type(val).__name__} {val!r}")
        return val

    def number(self, x: Any, key: str) -> float:
        if not _scalar(x) or not math.isfinite(float(x)):
            self.fail(key, f"expected a number, got {x!r}")
        return float(x)

    def per_member(self, spec: Any, key: str, members: list[str], what: str) -> dict[str, float]:
        """One value for all, a list in member order, or a mapping member: value."""
        if _scalar(spec):
            return {m: self.number(spec, key) for m in members}
        if isinstance(spec, list):
            if len(spec) != len(members):
                self.fail(key, f"expected {len(members)} values (one per {what}: {', '.join(members)}), got {len(spec)}")
            return {m: self.number(x, f"{key}[{i}]") for i, (m, x) in enumerate(zip(members, spec))}
        if isinstance(spec, dict):
            for m in spec:
                if m not in members:
                    self.fail(f"{key}.{m}", f"unknown {what} {m!r}{_near(m, members)}; expected {', '.join(members)}")
            for m in members:
                if m not in spec:
                    self.fail(f"{key}.{m}", f"required key is missing (every {what} needs a value)")
            return {m: self.number(spec[m], f"{key}.{m}") for m in members}
        self.fail(key, f"expected a number, a list of {len(members)} numbers or a mapping {what}: number, got {spec!r}")

    def parse_rhs(self, text: str, key: str) -> dict[str, float]:
        """Read a lavaan-style right-hand side such as ``0.45*OPS + 0.35*CRM - 0.1*X``."""
        terms: dict[str, float] = {}
        pos, s = 0, text.strip()
        if not s:
            self.fail(key, "no predictors given")
        while pos < len(s):
            m = _TERM_RE.match(s, pos)
            if not m or (terms and not m.group(1)):
                self.fail(key, f"cannot read {s[pos:].strip()!r} in {text!r}; expected terms like '0.45*OPS + 0.35*CRM'")
            sign = -1.0 if m.group(1) == "-" else 1.0
            name = m.group(3)
            if name in terms:
                self.fail(key, f"predictor {name} appears twice in {text!r}")
            terms[name] = sign * float(m.group(2))
            pos = m.end()
        return terms

    def section(self, raw: Any, key: str, cls: type, bounds: dict[str, tuple], strict_low: bool = False) -> dict:
        raw = raw or {}
        self.mapping(raw, key)
        fields = cls.__dataclass_fields__
        check_keys(raw, fields, key, self.fail)
        out = {}
        for k, x in raw.items():
            val = self.number(x, f"{key}.{k}")
            lo, hi = bounds.get(k, (None, None))
            if lo is not None and (val < lo or (strict_low and val == lo)) or hi is not None and val > hi:
                rng = f"> {lo}" if hi is None else f"between {lo} and {hi}"
                self.fail(f"{key}.{k}", f"must be {rng}, got {x!r}")
            out[k] = val
        return out


# --------------------------------------------------------------------------- the sample
@dataclass
class SurveySample:
    """A simulated survey: the export-shaped responses and the truth behind them.

    Attributes
    ----------
    responses : DataFrame
        One row per respondent, columns as a survey platform exports them:
        ``respondent_id``, ``duration_sec``, the items with the attention check(s) in
        questionnaire order, demographics (option codes), personal-data fields.
    truth : DataFrame
        Per respondent: ``respondent_id``, ``careless`` (``"none"`` or the careless type),
        latent scores of every construct, ``n_missing`` and ``missing_items``.
    missing_mask : DataFrame
        Boolean, respondents x items: which answers the missingness mechanism blanked.
    population : PopulationModel
    seed : int
    settings : dict
        The arguments the sample was drawn with (after defaults were applied).

    Parameters
    ----------
    responses, truth, missing_mask, population, seed, settings
        As above.

    Examples
    --------
    >>> s = simulate_survey("surveys/ecommerce_crm_population.yaml", 100, seed=1, careless=0.1)
    >>> s
    SurveySample(n=100, population='ecommerce_crm_demo', seed=1, missing=MCAR, careless=0.1)
    >>> s.careless_table()
           careless   n
    0          none  90
    1  straightline   3
    2        random   3
    3       speeder   2
    4  attention_fail   2
    >>> s.item_columns[:3], s.standardized_parameters().shape
    (['PF1', 'PF2', 'PF3'], (76, 4))
    """

    responses: pd.DataFrame
    truth: pd.DataFrame
    missing_mask: pd.DataFrame
    population: PopulationModel
    seed: int
    settings: dict

    @property
    def item_columns(self) -> list[str]:
        """The item columns of :attr:`responses` (instrument order)."""
        return self.population.items

    def standardized_parameters(self) -> pd.DataFrame:
        """The population's true standardized parameters (see PopulationModel).

        Returns
        -------
        DataFrame
            ``lhs, op, rhs, std.all``.
        """
        return self.population.standardized_parameters()

    def careless_table(self) -> pd.DataFrame:
        """Respondents per careless type (``none`` = attentive).

        Returns
        -------
        DataFrame
            ``careless, n``.
        """
        t = self.truth["careless"].value_counts().rename_axis("careless").reset_index(name="n")
        order = {k: i for i, k in enumerate((ATTENTIVE,) + CARELESS_TYPES)}
        return t.sort_values("careless", key=lambda s: s.map(order)).reset_index(drop=True)

    def summary(self) -> str:
        """The sample as text: size, missing answers, careless respondents, durations, checks.

        Returns
        -------
        str
        """
        s, pop = self.settings, self.population
        r = self.responses
        n = len(r)
        items = self.item_columns
        cells = self.missing_mask.to_numpy()
        lines = [f"Simulated survey: {n} respondents from population {pop.id!r} "
                 f"(instrument {pop.instrument.id!r}), seed {self.seed}",
                 f"  responses: {r.shape[1]} columns ({len(items)} items, "
                 f"{'Likert points' if s['likert'] else 'continuous latent responses'})"]
        if s["missing"] == "none":
            lines.append("  missing answers: none")
        else:
            drv = f", driver {s['mar_driver']} (strength {s['mar_strength']:g})" if s["missing"] == "MAR" else ""
            lines.append(f"  missing answers: {s['missing']} target rate {s['missing_rate']:g}{drv}; "
                         f"realized {cells.mean():.4f} of item answers, "
                         f"{int((cells.sum(axis=1) > 0).sum())} respondents with at least one blank")
        ct = self.careless_table()
        lines.append("  respondents: " + ", ".join(f"{k} {v}" for k, v in zip(ct["careless"], ct["n"])))
        if "duration_sec" in r:
            d = r["duration_sec"].to_numpy()
            lines.append(f"  duration: median {np.median(d):.0f} s (min {d.min()}, max {d.max()})")
        for ac in pop.instrument.attention_checks:
            fails = int((r[ac.id] != ac.expected).sum())
            lines.append(f"  attention check {ac.id}: expected {ac.expected}, {fails} respondents answered otherwise")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return (f"SurveySample(n={len(self.responses)}, population={self.population.id!r}, seed={self.seed}, "
                f"missing={self.settings['missing']}, careless={self.settings['careless']:g})")

    def _repr_html_(self) -> str:
        return f"<pre>{html.escape(self.summary())}</pre>" + self.responses.head(10).to_html(index=False)


# --------------------------------------------------------------------------- simulation
def _stream(seed: int, component: int) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(component,))))


def simulate_survey(population: PopulationModel | str | Path, n: int | None, seed: int, *,
                    missing: str | None = None, missing_rate: float | None = None,
                    careless: float | None = None, careless_types: Iterable[str] | Mapping[str, float] | None = None,
                    likert: bool = True, include_demographics: bool = True, include_pii: bool = True,
                    mar_driver: str | None = None, mar_strength: float | None = None) -> SurveySample:
    """Draw a synthetic survey sample from a population model.

    Parameters
    ----------
    population : PopulationModel or path
        The population model (or its YAML file).
    n : int or None
        Number of respondents (None: the population's ``defaults.n``).
    seed : int
        Seed (non-negative integer). Same seed, same data, bit for bit, on any machine.
    missing : {"none", "MCAR", "MAR"}, optional
        Missing-data mechanism for item answers (default: the population's).
    missing_rate : float, optional
        Expected share of item answers left blank.
    careless : float, optional
        Share of careless respondents (``round(careless * n)`` of them exactly).
    careless_types : iterable of str or mapping str -> weight, optional
        Which kinds of careless behaviour, and their relative weights; any of
        ``straightline``, ``random``, ``speeder``, ``attention_fail``.
    likert : bool
        True: items as Likert points (nullable integers). False: the continuous latent
        responses ``y*`` (unit variance, float, NaN when missing).
    include_demographics, include_pii : bool
        Add the demographic columns / fake personal-data columns (phone, email, ...).
    mar_driver : str, optional
        Observed column that drives MAR missingness (a demographic or an item).
    mar_strength : float, optional
        Slope of the missingness weight per standard deviation of the driver.

    Returns
    -------
    SurveySample

    Examples
    --------
    >>> s = simulate_survey("surveys/ecommerce_crm_population.yaml", 100, seed=1)
    >>> print(s.summary())
    Simulated survey: 100 respondents from population 'ecommerce_crm_demo' (instrument 'ecommerce_crm'), seed 1
      responses: 37 columns (27 items, Likert points)
      missing answers: MCAR target rate 0.01; realized 0.0059 of item answers, 15 respondents with at least one blank
      respondents: none 95, straightline 2, random 1, speeder 1, attention_fail 1
      duration: median 330 s (min 45, max 691)
      attention check AC1: expected 4, 5 respondents answered otherwise
    >>> simulate_survey("surveys/ecommerce_crm_population.yaml", 100, seed=1).responses.equals(s.responses)
    True
    >>> y = simulate_survey("surveys/ecommerce_crm_population.yaml", 100, seed=1, likert=False, missing="none")
    >>> y.responses["PF1"].dtype
    dtype('float64')
    """
    pop = population if isinstance(population, PopulationModel) else load_population(population)
    inst = pop.instrument
    d = pop.defaults
    n = d.n if n is None else n
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be a positive whole number of respondents, got {n!r}")
    n = int(n)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    seed = int(seed)
    mech = _mechanism(d.missing if missing is None else missing)
    if mech is None:
        raise ValueError(f"missing must be one of 'none', 'MCAR', 'MAR', got {missing!r}")
    rate = d.missing_rate if missing_rate is None else float(missing_rate)
    if not 0.0 <= rate <= 0.95:
        raise ValueError(f"missing_rate must be between 0 and 0.95, got {missing_rate!r}")
    if mech == "none":
        if missing_rate:
            raise ValueError(f"missing_rate={missing_rate!r} was given but the missing mechanism is 'none'; "
                             "say which mechanism: missing='MCAR' or missing='MAR'")
        rate = 0.0
    elif rate == 0.0 and missing is not None and missing_rate is None:
        raise ValueError(f"missing={mech!r} needs a missing_rate > 0 (the population's default is 0)")
    share = d.careless if careless is None else float(careless)
    if not 0.0 <= share <= 1.0:
        raise ValueError(f"careless must be a share between 0 and 1, got {careless!r}")
    weights = d.careless_types if careless_types is None else _careless_weights(
        dict(careless_types) if isinstance(careless_types, Mapping) else list(careless_types))
    driver = mar_driver if mar_driver is not None else d.mar_driver
    strength = d.mar_strength if mar_strength is None else float(mar_strength)
    if mech == "MAR":
        if driver is None:
            driver = inst.demographics[0].id if inst.demographics else inst.item_ids[-1]
        if driver not in _mar_candidates(inst):
            raise ValueError(f"mar_driver must be a demographic or item column of instrument {inst.id!r} "
                             f"({', '.join(_mar_candidates(inst))}), got {driver!r}")
        dq = {q.id: q for q in inst.demographics}.get(driver)
        if dq is not None and not _all_numeric(dq.values):
            raise ValueError(f"MAR driver {driver!r} has non-numeric option codes ({', '.join(map(str, dq.values))}); "
                             "choose a demographic with ordered numeric codes or an item")
        if dq is not None and not include_demographics:
            raise ValueError(f"MAR driver {driver!r} is a demographic column, but include_demographics=False "
                             "would leave it unobserved (that is MNAR, not MAR)")

    items = inst.items
    item_ids = [it.id for it in items]
    nitem = len(items)

    # 1. latent scores and continuous item responses --------------------------------
    rng = _stream(seed, _S_LATENT)
    order = pop.latent_order
    nlat = len(order)
    z = rng.standard_normal((nlat + nitem, n))  # row r = one variable; fixed layout
    eta: dict[str, np.ndarray] = {}
    nexo = len(pop.exogenous)
    for i in range(nexo):
        acc = pop._chol[i][0] * z[0]
        for k in range(1, i + 1):
            acc = acc + pop._chol[i][k] * z[k]
        eta[order[i]] = acc
    for j in range(nexo, nlat):
        x = order[j]
        acc = None
        for p, b in _parents_in_order(x, pop.second_order, pop.paths, list(order)):
            acc = b * eta[p] if acc is None else acc + b * eta[p]
        eta[x] = acc + math.sqrt(pop.residual_variances[x]) * z[j]
    ystar = np.empty((n, nitem))
    for i, it in enumerate(items):
        lam = pop.loadings[it.id]
        ystar[:, i] = lam * eta[it.construct] + math.sqrt(_resid(lam)) * z[nlat + i]

    points = np.array([inst.scales[it.scale].points for it in items])
    mins = np.array([inst.scales[it.scale].min for it in items], dtype=np.int64)
    if likert:  # answers as positions 1..points first, shifted to the scale's values at the end
        ans = np.empty((n, nitem), dtype=np.int64)
        for i, it in enumerate(items):
            ans[:, i] = np.searchsorted(np.asarray(pop.thresholds[it.id]), ystar[:, i], side="left") + 1
            if it.reverse:
                ans[:, i] = points[i] + 1 - ans[:, i]   # = min + max - x on the scale's values
        values: np.ndarray = ans
    else:
        values = ystar.copy()
        for i, it in enumerate(items):
            if it.reverse:
                values[:, i] = -values[:, i]

    # 2. careless respondents ---------------------------------------------------------
    rng = _stream(seed, _S_CARELESS)
    kind = np.full(n, ATTENTIVE, dtype=object)
    n_careless = int(math.floor(share * n + 0.5))
    counts = _largest_remainder(n_careless, [w for _, w in weights])
    chosen = rng.permutation(n)[:n_careless]
    start = 0
    for (t, _), c in zip(weights, counts):
        kind[chosen[start:start + c]] = t
        start += c
    maxp = int(points.max())
    sl_point = rng.integers(1, maxp + 1, size=n)           # straight-line point per respondent
    sl_cont = rng.standard_normal(n)
    rand_pts = rng.integers(0, 2**31, size=(n, nitem))       # uniform point = 1 + r % points
    rand_cont = rng.standard_normal((n, nitem))
    speed_u = rng.random((n, nitem))
    beh = pop.behaviour
    is_sl, is_rand, is_speed = kind == "straightline", kind == "random", kind == "speeder"
    if likert:
        uni = 1 + rand_pts % points
        values[is_sl] = np.minimum(sl_point[is_sl, None], points[None, :])
        values[is_rand] = uni[is_rand]
        sp = is_speed[:, None] & (speed_u < beh.speeder_random_share)
        values[sp] = uni[sp]
        values += (mins - 1)[None, :]
    else:
        values[is_sl] = sl_cont[is_sl, None]
        values[is_rand] = rand_cont[is_rand]
        sp = is_speed[:, None] & (speed_u < beh.speeder_random_share)
        values[sp] = rand_cont[sp]

    # 3. attention checks -------------------------------------------------------------
    rng = _stream(seed, _S_ATTENTION)
    checks: dict[str, np.ndarray] = {}
    for ac in inst.attention_checks:
        sc = inst.scales[ac.scale]
        p = sc.points
        e = ac.expected - sc.min + 1                           # expected point as position 1..p
        u = rng.random(n)
        step = np.where(rng.random(n) < 0.5, -1, 1)
        anyp = rng.integers(1, p + 1, size=n)
        notexp = rng.integers(1, p, size=n)
        notexp = notexp + (notexp >= e)                        # uniform over the other points
        slip = e + step
        slip = np.where((slip < 1) | (slip > p), e - step, slip)
        a = np.where(u < beh.attention_slip, slip, e)
        a = np.where(is_sl, np.minimum(sl_point, p), a)
        a = np.where(is_rand | is_speed, anyp, a)
        a = np.where(kind == "attention_fail", notexp, a)
        checks[ac.id] = a.astype(np.int64) + (sc.min - 1)

    # 4. demographics -----------------------------------------------------------------
    rng = _stream(seed, _S_DEMO)
    demo: dict[str, np.ndarray] = {}
    nd = NormalDist()
    for q in inst.demographics:
        m = pop.demographics[q.id]
        u = rng.standard_normal(n)
        score = u if m.related_to is None else m.r * eta[m.related_to] + math.sqrt(1 - m.r * m.r) * u
        cum, acc = [], 0.0
        for pr in m.probs[:-1]:
            acc += pr
            cum.append(nd.inv_cdf(acc) if 0.0 < acc < 1.0 else (-math.inf if acc <= 0.0 else math.inf))
        code = np.searchsorted(np.asarray(cum), score, side="right")
        demo[q.id] = np.asarray(m.values, dtype=object)[code] if not _all_int(m.values) \
            else np.asarray(m.values, dtype=np.int64)[code]

    # 5. missing answers --------------------------------------------------------------
    rng = _stream(seed, _S_MISSING)
    u = rng.random((n, nitem))
    mask = np.zeros((n, nitem), dtype=bool)
    if mech == "MCAR":
        mask = u < rate
    elif mech == "MAR":
        if driver in demo:
            dv = np.asarray(demo[driver], dtype=float)
        else:
            dv = np.asarray(values[:, item_ids.index(driver)], dtype=float)
        mu = math.fsum(dv.tolist()) / n
        sd = math.sqrt(math.fsum(((dv - mu) ** 2).tolist()) / n)
        zd = (dv - mu) / sd if sd > 0 else np.zeros(n)
        w = np.exp(strength * zd)
        prob = np.minimum(rate * w / (math.fsum(w.tolist()) / n), 0.95)
        mask = u < prob[:, None]
        if driver in item_ids:
            mask[:, item_ids.index(driver)] = False        # the driver stays observed

    # 6. durations --------------------------------------------------------------------
    rng = _stream(seed, _S_DURATION)
    dm = pop.duration
    base = np.exp(math.log(dm.median_sec) + dm.sigma * rng.standard_normal(n))
    fast = np.exp(math.log(dm.speeder_median_sec) + dm.speeder_sigma * rng.standard_normal(n))
    dur = base
    dur = np.where(is_sl, base * dm.straightline_factor, dur)
    dur = np.where(is_rand, base * dm.random_factor, dur)
    cap = 0.9 * inst.min_seconds if inst.min_seconds else None
    dur = np.where(is_speed, np.minimum(fast, cap) if cap else fast, dur)
    duration = np.maximum(np.rint(dur), 1).astype(np.int64)

    # 7. assemble ---------------------------------------------------------------------
    width = max(6, len(str(n)))
    rid = [f"R{i:0{width}d}" for i in range(1, n + 1)]
    cols: dict[str, Any] = {inst.respondent_id: pd.array(rid, dtype="str")}
    dcol = inst.duration_column or "duration_sec"
    cols[dcol] = duration
    after = {}
    for ac in inst.attention_checks:
        after.setdefault(ac.after, []).append(ac)
    for i, iid in enumerate(item_ids):
        if likert:
            cols[iid] = pd.arrays.IntegerArray(values[:, i].astype(np.int64), mask[:, i].copy())
        else:
            col = values[:, i].copy()
            col[mask[:, i]] = np.nan
            cols[iid] = col
        for ac in after.get(iid, []):
            cols[ac.id] = checks[ac.id]
    for ac in after.get(None, []):
        cols[ac.id] = checks[ac.id]
    if include_demographics:
        for q in inst.demographics:
            cols[q.id] = demo[q.id]
    if include_pii and inst.personal_data:
        cols.update(_fake_personal_data(inst, n, _stream(seed, _S_PII), pop.pii_fill_rate))
    responses = pd.DataFrame(cols)

    tcols: dict[str, Any] = {inst.respondent_id: responses[inst.respondent_id].to_numpy(),
                             "careless": pd.array(kind.astype(str), dtype="str")}
    for c in pop.latents:
        tcols[c] = eta[c]
    nmiss = mask.sum(axis=1)
    tcols["n_missing"] = nmiss
    miss_items = np.full(n, "", dtype=object)
    ids_arr = np.asarray(item_ids, dtype=object)
    for r in np.flatnonzero(nmiss):
        miss_items[r] = ";".join(ids_arr[mask[r]])
    tcols["missing_items"] = pd.array(miss_items.astype(str), dtype="str")
    truth = pd.DataFrame(tcols)
    mask_df = pd.DataFrame(mask, columns=item_ids, index=responses.index)

    settings = dict(n=n, missing=mech, missing_rate=rate, careless=share, careless_types=dict(weights),
                    likert=bool(likert), include_demographics=bool(include_demographics),
                    include_pii=bool(include_pii), mar_driver=driver if mech == "MAR" else None,
                    mar_strength=strength)
    return SurveySample(responses, truth, mask_df, pop, seed, settings)


def _all_numeric(vals: Iterable[Any]) -> bool:
    return all(_scalar(x) or isinstance(x, np.number) for x in vals)


def _all_int(vals: Iterable[Any]) -> bool:
    return all(isinstance(x, (int, np.integer)) and not isinstance(x, bool) for x in vals)


def _largest_remainder(total: int, weights: list[float]) -> list[int]:
    s = math.fsum(weights)
    quotas = [total * w / s for w in weights]
    counts = [int(math.floor(q)) for q in quotas]
    rest = total - sum(counts)
    order = sorted(range(len(weights)), key=lambda i: (-(quotas[i] - counts[i]), i))
    for i in order[:rest]:
        counts[i] += 1
    return counts


# --------------------------------------------------------------------------- fake personal data
_PHONE_PREFIXES = np.array([130, 131, 132, 133, 134, 135, 136, 137, 138, 139, 150, 151, 152, 153, 155, 156, 157,
                            158, 159, 166, 176, 177, 178, 180, 181, 182, 183, 184, 185, 186, 187, 188, 189, 198, 199],
                           dtype=np.int64)
_EMAIL_DOMAINS = np.array(["example.com", "example.net", "example.org", "example.cn"], dtype=object)  # RFC 2606-style
_SURNAMES = np.array(list("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"), dtype=object)
_GIVEN = np.array(list("伟芳娜敏静丽强磊洋艳勇军杰娟涛明超秀霞平刚桂英华"), dtype=object)
_CITIES = np.array(["北京市朝阳区", "上海市浦东新区", "广州市天河区", "深圳市南山区", "杭州市西湖区", "成都市武侯区",
                    "武汉市洪山区", "南京市鼓楼区"], dtype=object)
_ROADS = np.array(["建设路", "人民路", "中山路", "解放路", "和平路", "长江路", "学府路", "文化路"], dtype=object)


def _fake_personal_data(inst: Instrument, n: int, rng: np.random.Generator, fill: float) -> dict[str, Any]:
    """Fake contact fields by kind; blank (missing) for respondents who skipped them.

    Emails use reserved example domains and IPs the documentation ranges (RFC 5737), so no
    real address is generated; phone numbers have the shape of mainland mobile numbers.
    """
    out = {}
    for p in inst.personal_data:
        filled = rng.random(n) < fill
        if p.kind == "phone":
            num = _PHONE_PREFIXES[rng.integers(0, len(_PHONE_PREFIXES), n)] * 10**8 + rng.integers(0, 10**8, n)
            vals = num.astype(str).astype(object)
        elif p.kind == "email":
            length = rng.integers(5, 11, n)
            letters = rng.integers(ord("a"), ord("z") + 1, size=(n, 10)).astype(np.uint8)
            letters[np.arange(10)[None, :] >= length[:, None]] = 0   # NUL bytes end the string
            local = letters.view("S10").ravel().astype(str).astype(object)
            digits = rng.integers(0, 1000, n)
            with_digits = rng.random(n) < 0.5
            local = np.where(with_digits, local + digits.astype(str).astype(object), local)
            vals = local + "@" + _EMAIL_DOMAINS[rng.integers(0, len(_EMAIL_DOMAINS), n)]
        elif p.kind == "name":
            g1 = _GIVEN[rng.integers(0, len(_GIVEN), n)]
            g2 = np.where(rng.random(n) < 0.6, _GIVEN[rng.integers(0, len(_GIVEN), n)], "")
            vals = _SURNAMES[rng.integers(0, len(_SURNAMES), n)] + g1 + g2
        elif p.kind == "address":
            vals = (_CITIES[rng.integers(0, len(_CITIES), n)] + _ROADS[rng.integers(0, len(_ROADS), n)]
                    + rng.integers(1, 300, n).astype(str).astype(object) + "号")
        elif p.kind == "ip":
            nets = np.array(["192.0.2.", "198.51.100.", "203.0.113."], dtype=object)
            vals = nets[rng.integers(0, 3, n)] + rng.integers(1, 255, n).astype(str).astype(object)
        elif p.kind == "id_number":
            vals = _fake_id_numbers(rng, n)
        else:
            vals = ("note-" + rng.integers(0, 10**6, n).astype(str).astype(object))
        vals = np.where(filled, vals, None)
        out[p.id] = pd.array(vals, dtype="str")
    return out


def _fake_id_numbers(rng: np.random.Generator, n: int) -> np.ndarray:
    # 18-character mainland ID shape: region, birth date, sequence, ISO 7064 MOD 11-2 check
    region = np.array([110101, 310115, 440106, 330106], dtype=np.int64)[rng.integers(0, 4, n)]
    year = rng.integers(1960, 2006, n)
    month = rng.integers(1, 13, n)
    day = rng.integers(1, 29, n)
    seq = rng.integers(0, 1000, n)
    body = (region.astype(str).astype(object) + year.astype(str).astype(object)
            + np.char.zfill(month.astype(str), 2).astype(object) + np.char.zfill(day.astype(str), 2).astype(object)
            + np.char.zfill(seq.astype(str), 3).astype(object))
    digits = np.array([list(map(int, s)) for s in body], dtype=np.int64)
    wts = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2], dtype=np.int64)
    check = np.array(list("10X98765432"), dtype=object)[(digits * wts).sum(axis=1) % 11]
    return body + check

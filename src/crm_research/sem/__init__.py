"""Structural equation models in lavaan syntax with lavaan 0.6 parity.

>>> import pandas as pd
>>> from crm_research import sem
>>> hs = pd.read_csv("tests/reference/lavaan/HolzingerSwineford1939.csv")
>>> res = sem.fit("visual =~ x1 + x2 + x3\\ntextual =~ x4 + x5 + x6", hs)
>>> round(float(res.fit_measures["cfi"]), 3), res.warnings
(0.975, [])
>>> res.estimates.columns[:7].tolist()
['lhs', 'op', 'rhs', 'label', 'est', 'se', 'z']

* :func:`fit` estimates a model by maximum likelihood exactly as lavaan's ``sem()``
  (defaults, standard errors from the expected information, lavaan's fit measures and
  standardized solutions, ``:=`` parameters with delta-method SEs), optionally with a fast,
  reproducible nonparametric bootstrap (``se="bootstrap"``); ``missing="ml"`` fits
  incomplete data by full-information ML (EM h1, observed information), as lavaan's
  ``missing = "ml"``; simple equality constraints ``a == b`` between labels are merged.
  Robust ML as lavaan: ``estimator="MLM" | "MLMV" | "MLMVS" | "MLR"`` (and ``se=``, ``test=``,
  ``information=``) give sandwich standard errors, Satorra-Bentler / scaled-shifted / mean-
  and-variance adjusted / Yuan-Bentler statistics and every ``*.scaled``/``*.robust`` fit
  measure (:mod:`.robust`), also with ``missing="ml"`` (MLR); ``ordered=`` or a least-squares
  estimator (WLSMV, ...) fits ordinal items (:mod:`.categorical`).
  :func:`estimation_label` names an estimation in words.
* :func:`compare_models` compares nested fits (one- or multi-group) by the chi-square
  difference test, scaled for robust fits as ``lavTestLRT``; :func:`sample_moments` gives
  saturated moments (EM under ``missing="ml"``).
* :func:`parse` returns the lavaan-style parameter table a syntax implies.

Modules: :mod:`.syntax` (parser), :mod:`.partable` (lavaan defaults), :mod:`.model`
(matrices, implied moments, information), :mod:`.estimate` (optimizer),
:mod:`.measures` (fit measures), :mod:`.standardized`, :mod:`.defined` (``:=``),
:mod:`.bootstrap`, :mod:`.fiml` (missing="ml"), :mod:`.diagnostics` (warnings), :mod:`.result`
(results and the accessors :func:`estimates_of`, :func:`fit_measures_of`, :func:`warnings_of`,
:func:`fit_sentence`), :mod:`.compare` (:func:`compare_models`: nested models, chi-square
difference as lavaan's ``lavTestLRT``), :mod:`.robust` (Gamma, sandwich SEs, scaled tests and
robust fit measures).
"""
from __future__ import annotations

from .compare import ModelComparison, compare_models
from .data import Moments, sample_moments
from .fitting import fit
from .measures import FIT_MEASURE_NAMES
from .modindices import score_test
from .partable import parse
from .result import (BootstrapResult, SEMResult, estimates_of, estimation_label, fit_measures_of, fit_sentence,
                     warnings_of)
from .solutions import modindices, standardized_solution

__all__ = ["fit", "parse", "modindices", "score_test", "standardized_solution", "SEMResult", "BootstrapResult", "FIT_MEASURE_NAMES", "compare_models",
           "ModelComparison", "sample_moments", "Moments", "estimates_of", "fit_measures_of", "warnings_of",
           "fit_sentence", "estimation_label"]

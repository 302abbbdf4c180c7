"""Structural equation models in lavaan syntax with lavaan 0.6 parity.

>>> from crm_research import sem
>>> res = sem.fit(model_syntax, df)                       # doctest: +SKIP
>>> res.fit_measures["cfi"], res.estimates, res.warnings  # doctest: +SKIP
>>> print(res.summary())                                  # doctest: +SKIP

* :func:`fit` estimates a model by maximum likelihood exactly as lavaan's ``sem()``
  (defaults, standard errors from the expected information, lavaan's fit measures and
  standardized solutions, ``:=`` parameters with delta-method SEs), optionally with a fast,
  reproducible nonparametric bootstrap (``se="bootstrap"``); ``missing="ml"`` fits
  incomplete data by full-information ML (EM h1, observed information), as lavaan's
  ``missing = "ml"``; simple equality constraints ``a == b`` between labels are merged.
* :func:`parse` returns the lavaan-style parameter table a syntax implies.

Modules: :mod:`.syntax` (parser), :mod:`.partable` (lavaan defaults), :mod:`.model`
(matrices, implied moments, information), :mod:`.estimate` (optimizer),
:mod:`.measures` (fit measures), :mod:`.standardized`, :mod:`.defined` (``:=``),
:mod:`.bootstrap`, :mod:`.fiml` (missing="ml"), :mod:`.diagnostics` (warnings), :mod:`.result`.
"""
from __future__ import annotations

from .fitting import fit
from .measures import FIT_MEASURE_NAMES
from .partable import parse
from .result import BootstrapResult, SEMResult

__all__ = ["fit", "parse", "SEMResult", "BootstrapResult", "FIT_MEASURE_NAMES"]

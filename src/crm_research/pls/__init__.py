"""PLS path modelling (PLS-SEM) with SmartPLS/ADANCO parity.

>>> import pandas as pd
>>> from crm_research import pls
>>> mobi = pd.read_csv("tests/data/ecsi/mobi.csv")
>>> res = pls.fit("IMAG =~ IMAG1 + IMAG2 + IMAG3; CUSL =~ CUSL1 + CUSL2 + CUSL3; CUSL ~ IMAG", mobi)
>>> res.paths[["lhs", "op", "rhs"]].values.tolist()
[['CUSL', '~', 'IMAG']]

* :func:`parse_model` reads lavaan-style syntax (``=~`` mode A, ``<~`` mode B, ``~``,
  ``A:B`` interactions, higher-order constructs, single items) into a :class:`PLSModel`.
* :func:`estimate` runs the PLS algorithm (path/centroid/factorial schemes, PLSc) on an
  indicator correlation matrix or a stack of them (:class:`Estimates`).
* :func:`fit` estimates from a DataFrame (missing values, interactions, two-stage
  higher-order constructs, bootstrap) and returns a :class:`PLSResult`.

Modules: :mod:`.specification` (syntax), :mod:`.algorithm` (PLS on correlation matrices),
:mod:`.stages` (data -> estimates: standardization, interactions, two-stage), :mod:`.fit`,
:mod:`.bootstrap` (resamples as stacks, intervals, sign changes), :mod:`.result`.
"""
from __future__ import annotations

from crm_research.pls.specification import PLSModel, parse_model
from crm_research.pls.algorithm import Estimates, estimate
from crm_research.pls.fit import fit
from crm_research.pls.result import PLSResult
from crm_research.pls.predict import PLSPredict, blindfolding, predict  # P2
from crm_research.pls.mga import multigroup  # P2

__all__ = ["PLSModel", "parse_model", "Estimates", "estimate", "fit", "PLSResult"]
__all__ += ["predict", "blindfolding", "PLSPredict", "multigroup"]  # P2

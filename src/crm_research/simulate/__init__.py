"""Synthetic data from declared population models.

- :mod:`.survey`: survey responses from a population SEM (loadings, factor correlations,
  structural paths incl. second-order factors, Likert thresholds, missingness, careless
  responders).
- :mod:`.transactions`: platform transaction and session logs (purchase rates, dropout,
  spend, seasonality, product lifecycles).
- :mod:`.cases`: case panels (treated/control customers, strategy start dates, injected effects).

Names are resolved lazily so importing this package costs nothing until a generator is used.
"""
from __future__ import annotations

from .._lazy import lazy_exports

_WHERE = {
    # survey
    "PopulationModel": "survey", "load_population": "survey", "simulate_survey": "survey",
    "SurveySample": "survey",
    # transactions
    "simulate_transactions": "transactions", "TransactionLog": "transactions",
    "write_transactions": "transactions",
    # case panels
    "simulate_case": "cases",
}

__getattr__, __dir__, __all__ = lazy_exports(__name__, _WHERE)

"""The outcome of one optimizer run (shared by the complete-data and FIML estimators)."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Optimum:
    theta: np.ndarray
    F: float
    converged: bool
    iterations: int
    method: str
    grad_max: float
    messages: list = field(default_factory=list)

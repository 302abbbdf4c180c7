"""Result of :func:`crm_research.pls.fit` (:class:`PLSResult`).

Minimal version created by P1 so the others can build on it; P2 owns this module.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from crm_research.pls.algorithm import Estimates
from crm_research.pls.specification import PLSModel
from crm_research.reporting.format import format_number, html_table

__all__ = ["PLSResult"]


@dataclass
class PLSResult:
    """A fitted PLS path model.

    Attributes
    ----------
    model : PLSModel
        The model estimated (for two-stage estimation: the stage-2 model).
    estimates : Estimates
        The algorithm's arrays.
    S : ndarray
        The indicator correlation matrix (``model.columns`` order).
    nobs : int
        Rows used.
    scheme, consistent
        Settings used.
    boot : Any
        :class:`~crm_research.pls.bootstrap.BootstrapDraws` or None.
    data : DataFrame
        The standardized model columns (rows used), for scores/predict.
    settings : dict
        Other settings of the call (tol, max_iter, stop, missing, ...).
    """

    model: PLSModel
    estimates: Estimates
    S: np.ndarray
    nobs: int
    scheme: str = "path"
    consistent: bool = False
    boot: Any = None
    data: pd.DataFrame | None = None
    settings: dict = field(default_factory=dict)

    @property
    def iterations(self) -> int:
        return int(self.estimates.iterations)

    @property
    def paths(self) -> pd.DataFrame:
        """Structural paths: ``lhs`` (dependent), ``op`` ``~``, ``rhs`` (predictor), ``est``."""
        m, e = self.model, self.estimates
        rows = []
        for i, dep in enumerate(m.constructs):
            for pred in m.structural.get(dep, ()):
                j = m.constructs.index(pred)
                rows.append({"lhs": dep, "op": "~", "rhs": pred, "est": float(e.paths[i, j])})
        return self._with_boot(pd.DataFrame(rows, columns=["lhs", "op", "rhs", "est"]), "paths")

    def _outer(self, arr: np.ndarray, what: str) -> pd.DataFrame:
        m = self.model
        col = {x: k for k, x in enumerate(m.columns)}
        rows = []
        for j, c in enumerate(m.constructs):
            op = "=~" if m.modes[c] == "A" else "<~"
            for x in m.blocks[c]:
                rows.append({"lhs": c, "op": op, "rhs": x, "est": float(arr[col[x], j])})
        return self._with_boot(pd.DataFrame(rows, columns=["lhs", "op", "rhs", "est"]), what)

    @property
    def weights(self) -> pd.DataFrame:
        """Outer weights: ``lhs`` construct, ``op`` (``=~``/``<~``), ``rhs`` indicator, ``est``."""
        return self._outer(self.estimates.weights, "weights")

    @property
    def loadings(self) -> pd.DataFrame:
        """Outer loadings: ``lhs`` construct, ``op``, ``rhs`` indicator, ``est``."""
        return self._outer(self.estimates.loadings, "loadings")

    @property
    def cross_loadings(self) -> pd.DataFrame:
        """Indicator x construct correlations (rows ``model.columns``)."""
        return pd.DataFrame(self.estimates.cross_loadings, index=list(self.model.columns),
                            columns=list(self.model.constructs))

    @property
    def r2(self) -> pd.DataFrame:
        """``construct``, ``r2``, ``r2_adj`` of the endogenous constructs."""
        m, e = self.model, self.estimates
        rows = []
        for i, c in enumerate(m.constructs):
            if m.structural.get(c):
                k = len(m.structural[c])
                r2 = float(e.r2[i])
                adj = 1 - (1 - r2) * (self.nobs - 1) / (self.nobs - k - 1)
                rows.append({"construct": c, "r2": r2, "r2_adj": adj})
        return pd.DataFrame(rows, columns=["construct", "r2", "r2_adj"])

    def _with_boot(self, df: pd.DataFrame, what: str) -> pd.DataFrame:
        if self.boot is None:
            return df
        return self.boot.annotate(df, what)

    def summary(self) -> str:
        lines = [f"PLS path model ({'PLSc, ' if self.consistent else ''}{self.scheme} scheme), "
                 f"N = {self.nobs}, {self.iterations} iterations"]
        for _, r in self.paths.iterrows():
            lines.append(f"  {r['lhs']} ~ {r['rhs']}: {format_number(r['est'], 3)}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return self.summary()

    def _repr_html_(self) -> str:
        return html_table(self.paths, decimals=3)

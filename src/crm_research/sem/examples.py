"""A small ordinal model for the examples in the least-squares modules' docstrings.

Three three-category items of one factor (N = 500, a fixed seed), their two-step statistics
(thresholds, polychoric correlations, NACOV), the parameter table with thresholds and the
least-squares model built from it: the set-up every example of :mod:`.wls` and
:mod:`.ls_standardized` starts from, written once.
"""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np


def ordinal_example() -> SimpleNamespace:
    """The example model.

    Returns
    -------
    types.SimpleNamespace
        ``stats`` (:func:`~crm_research.sem.nacov.categorical_stats`), ``partable`` (with
        thresholds), ``model`` (:class:`~crm_research.sem.wls.LSModel`, delta parameterization).

    Examples
    --------
    >>> ex = ordinal_example()
    >>> ex.model.q, ex.stats.N, ex.stats.nth
    (9, 500, [2, 2, 2])
    """
    from .model import RAMModel
    from .nacov import categorical_stats
    from .partable import build_partable, categorical_partable
    from .thresholds import ordered_item
    from .wls import LSModel, group_layouts

    rng = np.random.default_rng(6)
    z = rng.normal(size=(500, 1)) * 0.8 + rng.normal(size=(500, 3)) * 0.6
    st = categorical_stats([ordered_item(f"y{i}", np.digitize(z[:, i], [-.5, .5])) for i in range(3)])
    pt = categorical_partable(build_partable("f =~ y0 + y1 + y2", meanstructure=True), [True] * 3, st.nth)
    return SimpleNamespace(stats=st, partable=pt, model=LSModel(RAMModel(pt), group_layouts(pt, [st.nth])))

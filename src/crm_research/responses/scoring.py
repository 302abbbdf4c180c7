"""Scores per first-order dimension and per higher-order construct."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ..instruments import Instrument
from .cleaning import reverse_code


def _needed(min_valid: float | int, k: int) -> int:
    if isinstance(min_valid, bool):
        raise ValueError("min_valid must be a share in (0, 1] or a whole number of items")
    if isinstance(min_valid, (int, np.integer)):
        if min_valid < 1:
            raise ValueError(f"min_valid as a count must be >= 1, got {min_valid}")
        return min(int(min_valid), k)
    if not 0 < float(min_valid) <= 1:
        raise ValueError(f"min_valid as a share must be in (0, 1], got {min_valid}")
    return max(1, math.ceil(float(min_valid) * k - 1e-9))


def score_responses(data: pd.DataFrame, instrument: Instrument, *, min_valid: float | int = 0.5,
                    reverse: bool | str = "auto") -> pd.DataFrame:
    """Mean scores per construct.

    A first-order score is the mean of its answered items when at least ``min_valid`` of
    them are answered (a share, rounded up: 0.5 of 3 items = 2 items; or a whole number of
    items), else missing. A higher-order score is the mean of its dimension scores under the
    same rule applied to dimensions.

    Parameters
    ----------
    data : DataFrame
        Item answers (columns named by item id).
    instrument : Instrument
    min_valid : float or int
        Share (0 < x <= 1) or number (int >= 1) of valid items / dimensions required.
    reverse : bool or "auto"
        Reverse-code the instrument's reverse items first. ``"auto"`` does so unless
        ``data.attrs["reverse_coded"]`` says it is already done (as for
        :attr:`ResponseSet.data <crm_research.responses.ResponseSet>`).

    Returns
    -------
    DataFrame
        Same index as ``data``; the respondent id column (if present), then one column per
        first-order construct, then one per higher-order construct.

    Examples
    --------
    >>> import pandas as pd
    >>> from crm_research.instruments import load_instrument
    >>> inst = load_instrument("surveys/ecommerce_crm.yaml")
    >>> data = pd.DataFrame({"respondent_id": [1, 2], **{i: [4, 2] for i in inst.item_ids}})
    >>> score_responses(data, inst)[["respondent_id", "SAT", "LOY", "OPS"]].values.tolist()
    [[1.0, 4.0, 4.0, 4.0], [2.0, 2.0, 2.0, 2.0]]
    """
    if reverse == "auto":
        reverse = not data.attrs.get("reverse_coded")
    if reverse:
        data = reverse_code(data, instrument)
    out = pd.DataFrame(index=data.index)
    rid = instrument.respondent_id
    if rid in data.columns:
        out[rid] = data[rid].to_numpy()
    scores: dict[str, np.ndarray] = {}
    for c in instrument.first_order:
        items = [it.id for it in c.items]
        missing = [i for i in items if i not in data.columns]
        if len(missing) == len(items):
            continue
        present = [i for i in items if i in data.columns]
        X = data[present].to_numpy(dtype=float)
        need = _needed(min_valid, len(items))
        n_ok = (~np.isnan(X)).sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.nansum(X, axis=1) / n_ok
        scores[c.id] = np.where(n_ok >= need, mean, np.nan)
    resolved = {c.id for c in instrument.first_order}
    pending = list(instrument.higher_order)
    while pending:  # dimensions may themselves be higher-order
        ready = [c for c in pending if all(d in resolved for d in c.dimensions)]
        if not ready:
            break
        for c in ready:
            pending.remove(c)
            resolved.add(c.id)
            dims = [d for d in c.dimensions if d in scores]
            if not dims:
                continue
            D = np.column_stack([scores[d] for d in dims])
            need = _needed(min_valid, len(c.dimensions))
            n_ok = (~np.isnan(D)).sum(axis=1)
            with np.errstate(invalid="ignore", divide="ignore"):
                mean = np.nansum(D, axis=1) / n_ok
            scores[c.id] = np.where(n_ok >= need, mean, np.nan)
    for c in instrument.first_order:
        if c.id in scores:
            out[c.id] = scores[c.id]
    for c in instrument.higher_order:
        if c.id in scores:
            out[c.id] = scores[c.id]
    out.attrs["min_valid"] = min_valid
    return out

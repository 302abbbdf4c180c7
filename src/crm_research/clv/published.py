"""The published CDNOW estimates, in one place, and the replication table (ours vs published).

Fader, Hardie & Lee (2005, *Marketing Science* 24(2), 275-284) fit the BG/NBD and the
Pareto/NBD to the CDNOW 1/10 sample (2,357 customers, 39-week calibration ending
1997-09-30, weekly units); Fader & Hardie (2013, "The Gamma-Gamma model of monetary value")
fit the Gamma-Gamma spend model to the same customers. :data:`CDNOW_PUBLISHED` holds their
values as printed, as strings, so that the published precision is part of the value
(``"15.44"``: two decimals). :func:`replication_table` sets fitted models next to them; the
difference is taken after rounding our estimate to the published precision, so a successful
replication shows differences of exactly zero.
"""
from __future__ import annotations

from typing import Iterable, Mapping

import numpy as np
import pandas as pd

from ..errors import ModelError
from ._mle import FitResult

#: published CDNOW values: (model, param) -> value as printed; ``LL`` is the log-likelihood
CDNOW_PUBLISHED: Mapping[tuple[str, str], str] = {
    ("BG/NBD", "r"): "0.243", ("BG/NBD", "alpha"): "4.414", ("BG/NBD", "a"): "0.793",
    ("BG/NBD", "b"): "2.426", ("BG/NBD", "LL"): "-9582.4",
    ("Pareto/NBD", "r"): "0.553", ("Pareto/NBD", "alpha"): "10.578", ("Pareto/NBD", "s"): "0.606",
    ("Pareto/NBD", "beta"): "11.669", ("Pareto/NBD", "LL"): "-9595.0",
    ("Gamma-Gamma", "p"): "6.25", ("Gamma-Gamma", "q"): "3.74", ("Gamma-Gamma", "gamma"): "15.44",
}

#: where each model's published values come from
CDNOW_SOURCES: Mapping[str, str] = {
    "BG/NBD": "Fader, Hardie & Lee (2005), Marketing Science 24(2)",
    "Pareto/NBD": "Fader, Hardie & Lee (2005), Marketing Science 24(2)",
    "Gamma-Gamma": "Fader & Hardie (2013), The Gamma-Gamma model of monetary value",
}

REPLICATION_COLUMNS = ["model", "param", "est", "se", "ci.lower", "ci.upper", "published", "diff"]


def cdnow_published() -> pd.DataFrame:
    """The published CDNOW estimates as a table.

    Returns
    -------
    DataFrame
        ``model, param, published`` (float), ``decimals`` (published precision), ``source``.

    Examples
    --------
    >>> t = cdnow_published()
    >>> t[t["model"] == "Gamma-Gamma"][["param", "published", "decimals"]].to_string(index=False)
    'param  published  decimals\\n    p       6.25         2\\n    q       3.74         2\\ngamma      15.44         2'
    """
    rows = [{"model": m, "param": p, "published": float(v), "decimals": _decimals(v), "source": CDNOW_SOURCES[m]}
            for (m, p), v in CDNOW_PUBLISHED.items()]
    return pd.DataFrame(rows, columns=["model", "param", "published", "decimals", "source"])


def replication_table(fits: Iterable[FitResult], published: Mapping[tuple[str, str], str] | None = None,
                      *, loglik: bool = True) -> pd.DataFrame:
    """Fitted estimates next to published values, with the difference at the published precision.

    Parameters
    ----------
    fits : iterable of FitResult
        Fitted models (:func:`~crm_research.clv.fit_bgnbd`, :func:`~crm_research.clv.fit_pareto_nbd`,
        :func:`~crm_research.clv.fit_gamma_gamma`).
    published : mapping, optional
        ``(model, param) -> value as printed`` (a string, so its decimals give the precision);
        default :data:`CDNOW_PUBLISHED`. ``param`` ``"LL"`` is the log-likelihood.
    loglik : bool
        Add a row ``LL`` (the maximized log-likelihood) per model.

    Returns
    -------
    DataFrame
        ``model, param, est, se, ci.lower, ci.upper, published, diff``: ``diff`` is our
        estimate rounded to the published decimals minus the published value (NaN where
        nothing is published). ``attrs``: ``ci.level`` (0.95) and ``replicated`` (True when
        at least one value is published and every difference is zero).

    Examples
    --------
    >>> from crm_research import clv
    >>> gg = clv.fit_gamma_gamma(clv.rfm_summary(clv.read_cdnow(), calibration_end="1997-09-30"))
    >>> t = replication_table([gg])
    >>> t[["param", "published", "diff"]].to_string(index=False)
    'param  published  diff\\n    p       6.25   0.0\\n    q       3.74   0.0\\ngamma      15.44   0.0\\n   LL        NaN   NaN'
    >>> t.attrs["replicated"]
    True
    """
    pub = dict(CDNOW_PUBLISHED if published is None else published)
    fits = list(fits)
    if not fits or not all(isinstance(f, FitResult) for f in fits):
        raise ModelError("replication_table: expected fitted CLV models (fit_bgnbd, fit_pareto_nbd, fit_gamma_gamma)")
    for key, v in pub.items():
        try:
            float(v)
        except (TypeError, ValueError):
            raise ModelError(f"replication_table: published value of {key} is {v!r}, not a number") from None
    parts = []
    for f in fits:
        est = f.estimates
        if loglik:
            est = pd.concat([est, pd.DataFrame({"model": [f.model], "param": ["LL"], "est": [f.loglik],
                                                "se": [np.nan], "ci.lower": [np.nan], "ci.upper": [np.nan]})],
                            ignore_index=True)
        parts.append(est)
    out = pd.concat(parts, ignore_index=True)
    text = [pub.get((m, p)) for m, p in zip(out["model"], out["param"])]
    out["published"] = [float(v) if v is not None else np.nan for v in text]
    out["diff"] = [round(e, _decimals(v)) - float(v) if v is not None else np.nan for e, v in zip(out["est"], text)]
    out = out[REPLICATION_COLUMNS]
    has = out["published"].notna()
    out.attrs["ci.level"] = 0.95
    out.attrs["replicated"] = bool(has.any() and (out.loc[has, "diff"].abs() < 1e-9).all())
    return out


def _decimals(value: str) -> int:
    s = str(value)
    return len(s.split(".")[1]) if "." in s else 0

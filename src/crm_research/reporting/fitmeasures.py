"""Which fit measures a report shows: the scaled test and robust indices of a robust fit.

A fit by MLM, MLMV, MLR or WLSMV carries lavaan's standard measures (``chisq``, ``cfi``, ...)
and, next to them, the scaled test (``chisq.scaled``, ``df.scaled``, ``pvalue.scaled``) and
the scaled and robust indices (``cfi.scaled``/``cfi.robust``, ``tli.*``, ``rmsea.*`` with
their confidence interval).  A report should read the robust ones: :func:`reported_keys` maps
each headline measure to the lavaan key a report uses (robust before scaled before standard,
as lavaan's ``summary(fit.measures = TRUE)`` shows in its "Robust" column) and
:func:`measure_label` words it ("robust CFI", "scaled χ²").  Nothing here changes a value or
renames a lavaan key: tables and sentences name what they show.

Examples
--------
>>> fm = {"chisq": 575.6, "df": 237, "chisq.scaled": 444.9, "df.scaled": 237, "pvalue.scaled": 0.0,
...       "cfi": 0.877, "cfi.scaled": 0.893, "cfi.robust": 0.899, "srmr": 0.06}
>>> reported_keys(fm)["cfi"], reported_keys(fm)["chisq"], reported_keys(fm)["srmr"]
('cfi.robust', 'chisq.scaled', 'srmr')
>>> measure_label("cfi.robust"), measure_label("chisq.scaled"), measure_label("rmsea")
('robust CFI', 'scaled χ²', 'RMSEA')
>>> reported_fit(fm)["cfi"], is_robust(fm), is_robust({"chisq": 1.0, "cfi": 0.99})
(0.899, True, False)
"""
from __future__ import annotations

import math
from typing import Any, Mapping

__all__ = ["HEADLINE", "reported_keys", "reported_fit", "is_robust", "measure_label", "robust_note"]

#: The headline measures of a report, as lavaan names them.
HEADLINE = ("chisq", "df", "pvalue", "cfi", "tli", "rmsea", "rmsea.ci.lower", "rmsea.ci.upper", "rmsea.pvalue",
            "srmr")
_TEST = ("chisq", "df", "pvalue")
_INDEX = ("cfi", "tli", "rmsea", "rmsea.ci.lower", "rmsea.ci.upper", "rmsea.pvalue")
_NAMES = {"chisq": "χ²", "df": "df", "pvalue": "p", "cfi": "CFI", "tli": "TLI", "rmsea": "RMSEA",
          "rmsea.ci.lower": "RMSEA CI lower", "rmsea.ci.upper": "RMSEA CI upper", "rmsea.pvalue": "p (RMSEA ≤ .05)",
          "srmr": "SRMR"}


def _finite(v: Any) -> bool:
    try:
        return v is not None and math.isfinite(float(v))
    except (TypeError, ValueError):
        return False


def _measures(fit: Any) -> Mapping[str, Any]:
    if isinstance(fit, Mapping):
        return fit
    if hasattr(fit, "to_dict") and not hasattr(fit, "fit_measures"):
        return fit.to_dict()
    return dict(getattr(fit, "fit_measures", None) or {})


def reported_keys(fit: Any) -> dict[str, str]:
    """For each headline measure, the lavaan key a report shows.

    The scaled test (``chisq.scaled``, ``df.scaled``, ``pvalue.scaled``) when the fit has
    one; for CFI, TLI and RMSEA (with CI and p) the ``.robust`` value when finite, else the
    ``.scaled`` one, else the standard one; SRMR as is.

    Parameters
    ----------
    fit : mapping or fitted model
        lavaan-named fit measures, or anything with ``fit_measures``.

    Returns
    -------
    dict
        headline name -> lavaan key (the headline name itself for a standard fit).
    """
    fm = _measures(fit)
    out: dict[str, str] = {}
    scaled = _finite(fm.get("chisq.scaled"))
    for k in _TEST:
        out[k] = f"{k}.scaled" if scaled and _finite(fm.get(f"{k}.scaled")) else k
    for k in _INDEX:
        out[k] = next((k + s for s in (".robust", ".scaled") if _finite(fm.get(k + s))), k)
    # the CI and p of RMSEA follow the RMSEA shown
    kind = out["rmsea"][len("rmsea"):]
    for k in ("rmsea.ci.lower", "rmsea.ci.upper", "rmsea.pvalue"):
        out[k] = k + kind if _finite(fm.get(k + kind)) else (k if not kind else out[k])
    out["srmr"] = "srmr"
    return out


def reported_fit(fit: Any) -> dict[str, Any]:
    """The headline measures with the values a report shows (see :func:`reported_keys`);
    every other measure unchanged.  For rating rules and sentences, never for lavaan-named
    tables (they keep lavaan's keys)."""
    fm = dict(_measures(fit))
    for base, key in reported_keys(fm).items():
        if key in fm:
            fm[base] = fm[key]
    return fm


def is_robust(fit: Any) -> bool:
    """Whether the fit has a scaled test or robust/scaled indices a report should show."""
    return any(k != v for k, v in reported_keys(fit).items())


def measure_label(key: str) -> str:
    """Words for a lavaan fit-measure key: ``cfi.robust`` -> ``robust CFI``, ``chisq.scaled`` ->
    ``scaled χ²``, ``rmsea`` -> ``RMSEA``."""
    for suffix, word in ((".robust", "robust"), (".scaled", "scaled")):
        if key.endswith(suffix):
            base = key[: -len(suffix)]
            return f"{word} {_NAMES.get(base, base)}"
    return _NAMES.get(key, key)


def robust_note(fit: Any, estimation: str = "") -> str:
    """One sentence for a table note: which measures are scaled or robust, and the estimation.

    Returns "" for a standard fit.

    Examples
    --------
    >>> robust_note({"chisq": 575.6, "chisq.scaled": 444.9, "df.scaled": 237, "cfi.robust": 0.899},
    ...             "MLR (Huber-White robust SE, Yuan-Bentler scaled test)")  # doctest: +ELLIPSIS
    'Estimation: MLR (Huber-White robust SE, Yuan-Bentler scaled test). χ² is the scaled test statistic (unscaled χ² = 575.60); CFI is the robust CFI...'
    """
    fm = _measures(fit)
    keys = reported_keys(fm)
    if not any(k != v for k, v in keys.items()):
        return f"Estimation: {estimation}." if estimation and estimation != "ML" else ""
    parts = []
    if keys["chisq"] != "chisq":
        ml = fm.get("chisq")
        parts.append("χ² is the scaled test statistic" + (f" (unscaled χ² = {float(ml):.2f})" if _finite(ml) else ""))
    idx = [f"{_NAMES[b]} is the {measure_label(keys[b]).split(' ')[0]} {_NAMES[b]}" for b in ("cfi", "tli", "rmsea")
           if keys[b] != b]
    if idx:
        parts.append("; ".join(idx))
    txt = "; ".join(parts)
    if any(keys[b].endswith(".robust") for b in ("cfi", "tli", "rmsea")):
        txt += " (robust indices: Brosseau-Liard & Savalei, 2014; Savalei, 2018)"
    return ((f"Estimation: {estimation}. " if estimation else "") + txt + ".")

"""``pls.fit``: a PLS path model estimated from a DataFrame.

Data handling (as SmartPLS): the model's indicator columns, rows with a missing value
dropped (``missing="listwise"``) or missing values replaced by the column mean
(``missing="mean"``), standardized. Interaction terms ``A:B`` are formed either from
product indicators (``interaction="product_indicator"``: every pair of standardized
indicators of ``A`` and ``B``, reflective) or by the two-stage approach
(``interaction="two_stage"``, the default as in SmartPLS/seminr: the model without the
interaction is estimated first, the product of ``A``'s and ``B``'s scores is the single
indicator of ``A:B`` in the second stage). Higher-order constructs use repeated
indicators, or a two-stage approach where the lower-order construct scores of a first
stage are the indicators of the higher-order construct in the second stage:
``two_stage=True`` or ``"disjoint"`` (first stage without the higher-order construct, its
lower-order constructs taking over its structural relations; as seminr and SmartPLS 4's
disjoint two-stage approach) or ``"embedded"`` (first stage the repeated-indicators model).

>>> import pandas as pd
>>> from crm_research import pls
>>> mobi = pd.read_csv("tests/data/ecsi/mobi.csv")
>>> res = pls.fit("IMAG =~ IMAG1 + IMAG2 + IMAG3; CUSA =~ CUSA1 + CUSA2 + CUSA3; CUSA ~ IMAG", mobi)
>>> round(float(res.paths["est"][0]), 4), res.nobs
(0.6213, 250)
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from crm_research.errors import ModelError
from crm_research.pls.algorithm import SCHEMES, STOP_RULES
from crm_research.pls.specification import PLSModel, parse_model
from crm_research.pls.stages import MISSING, correlation, estimate_data, prepare_data, standardize

__all__ = ["fit", "prepare_data", "estimate_data", "standardize", "MISSING", "INTERACTION", "SIGN_CHANGE",
           "BOOT_CI"]

INTERACTION = ("two_stage", "product_indicator")
SIGN_CHANGE = ("none", "individual", "construct")
BOOT_CI = ("perc", "bca")


def _two_stage(v):
    if v is True:
        return "disjoint"
    if v is False or v is None:
        return False
    if v in ("disjoint", "embedded"):
        return v
    raise ModelError(f"two_stage={v!r}: expected False, True, 'disjoint' or 'embedded'")


def fit(model, data: pd.DataFrame, *, scheme: str = "path", consistent: bool = False, bootstrap: int = 0,
        seed: int | None = None, n_jobs: int | None = None, ci_level: float = 0.95, boot_ci: str = "perc",
        sign_change: str = "none", tol: float = 1e-7, max_iter: int = 300, stop: str = "smartpls",
        missing: str = "listwise", two_stage: bool | str = False, interaction: str = "two_stage"):
    """Estimate a PLS path model (PLS-SEM) as SmartPLS does.

    Parameters
    ----------
    model : str or PLSModel
        lavaan-style syntax (see :func:`~crm_research.pls.parse_model`) or a parsed model.
    data : DataFrame
        One row per respondent; the indicator columns the model names.
    scheme : {"path", "centroid", "factorial"}
        Inner weighting scheme.
    consistent : bool
        PLSc (Dijkstra & Henseler 2015) for the mode-A constructs.
    bootstrap : int
        Number of bootstrap resamples (0: none; PLS papers report 5000).
    seed : int, optional
        Seed of the resampling: the same seed gives the same draws whatever ``n_jobs``.
    n_jobs : int, optional
        Worker processes for the bootstrap (None or 1: in this process, fastest for models of
        survey size; -1: all cores).
    ci_level : float
        Confidence level of the bootstrap intervals.
    boot_ci : {"perc", "bca"}
        Percentile or bias-corrected and accelerated intervals.
    sign_change : {"none", "individual", "construct"}
        SmartPLS's sign-change options for the bootstrap draws.
    tol, max_iter, stop
        Stop criterion (see :func:`~crm_research.pls.estimate`).
    missing : {"listwise", "mean"}
        Drop incomplete rows, or replace missing values by the column mean.
    two_stage : bool or {"disjoint", "embedded"}
        Higher-order constructs by a two-stage approach (``True`` = ``"disjoint"``; default
        False: repeated indicators).
    interaction : {"two_stage", "product_indicator"}
        How interaction terms are measured.

    Returns
    -------
    PLSResult

    Examples
    --------
    >>> import pandas as pd
    >>> from crm_research import pls
    >>> mobi = pd.read_csv("tests/data/ecsi/mobi.csv")
    >>> res = pls.fit("IMAG <~ IMAG1 + IMAG2 + IMAG3; CUSL =~ CUSL1 + CUSL2 + CUSL3; CUSL ~ IMAG",
    ...               mobi, scheme="centroid")
    >>> res.paths[["lhs", "op", "rhs"]].values.tolist()
    [['CUSL', '~', 'IMAG']]
    """
    from crm_research.pls.result import PLSResult

    if isinstance(model, str):
        model = parse_model(model)
    elif not isinstance(model, PLSModel):
        raise ModelError(f"model must be lavaan-style syntax (str) or a PLSModel, got {type(model).__name__}")
    if scheme not in SCHEMES:
        raise ModelError(f"scheme={scheme!r}: expected one of {', '.join(SCHEMES)}")
    if stop not in STOP_RULES:
        raise ModelError(f"stop={stop!r}: expected one of {', '.join(STOP_RULES)}")
    if interaction not in INTERACTION:
        raise ModelError(f"interaction={interaction!r}: expected one of {', '.join(INTERACTION)}")
    if sign_change not in SIGN_CHANGE:
        raise ModelError(f"sign_change={sign_change!r}: expected one of {', '.join(SIGN_CHANGE)}")
    if boot_ci not in BOOT_CI:
        raise ModelError(f"boot_ci={boot_ci!r}: expected one of {', '.join(BOOT_CI)}")
    if not isinstance(bootstrap, (int, np.integer)) or isinstance(bootstrap, bool) or bootstrap < 0:
        raise ModelError(f"bootstrap={bootstrap!r}: expected a whole number of resamples (0 for none, e.g. 5000)")
    if not isinstance(consistent, (bool, np.bool_)):
        raise ModelError(f"consistent={consistent!r}: expected True (PLSc) or False")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0):
        raise ModelError(f"seed={seed!r}: expected a non-negative whole number or None")
    if not (isinstance(ci_level, (int, float)) and 0 < ci_level < 1):
        raise ModelError(f"ci_level={ci_level!r}: expected a number between 0 and 1 such as 0.95")
    X, rows = prepare_data(model, data, missing)
    opts = dict(scheme=scheme, consistent=consistent, tol=tol, max_iter=max_iter, stop=stop,
                interaction=interaction, two_stage=_two_stage(two_stage))
    est, final, Z = estimate_data(model, X, **opts)
    warnings = []
    if consistent:
        bad = [c for j, c in enumerate(final.constructs)
               if final.modes[c] == "A" and not (0 < est.rho_a[j] < np.inf)]
        if bad:
            raise ModelError(f"consistent=True: rho_A of construct {bad[0]!r} is {est.rho_a[final.constructs.index(bad[0])]:.3g}; "
                             "PLSc needs 0 < rho_A (indicators of a reflective construct must correlate positively)",
                             hint="check reversed items, or estimate it as a composite ('<~') or with consistent=False")
    if not np.all(np.isfinite(est.paths)):
        raise ModelError("the path coefficients cannot be computed (construct scores perfectly collinear)",
                         hint="check for constructs measured by the same indicators")
    if not est.converged:
        warnings.append(f"the PLS algorithm did not converge in {max_iter} iterations (stop criterion {tol:g}); "
                        "estimates are those of the last iteration")
    S = correlation(Z)
    boot = None
    if bootstrap:
        from crm_research.pls.bootstrap import run_bootstrap
        boot = run_bootstrap(model, X, est, R=int(bootstrap), seed=seed, n_jobs=n_jobs, ci_level=ci_level,
                             boot_ci=boot_ci, sign_change=sign_change, options=opts)
    settings = dict(opts, missing=missing, bootstrap=int(bootstrap), seed=seed, ci_level=ci_level,
                    boot_ci=boot_ci, sign_change=sign_change, rows=rows, input_model=model, warnings=warnings)
    return PLSResult(model=final, estimates=est, S=S, nobs=len(rows), scheme=scheme, consistent=consistent,
                     boot=boot, data=pd.DataFrame(Z, index=rows, columns=list(final.columns)), settings=settings)

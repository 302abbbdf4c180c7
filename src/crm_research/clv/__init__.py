"""Customer lifetime value: BG/NBD, MBG/NBD, Pareto/NBD and Gamma-Gamma models fitted to raw orders.

Workflow::

    from crm_research import clv
    cal = clv.rfm_summary(orders, calibration_end="1997-09-30", observation_end="1998-06-30", freq="W")
    bg = clv.fit_bgnbd(cal)                 # or clv.fit_pareto_nbd(cal)
    gg = clv.fit_gamma_gamma(cal)
    value = clv.customer_lifetime_value(bg, gg, cal, horizon=12, discount_rate=0.01)
    check = clv.calibration_holdout([bg], cal)
    clv.plot_calibration_holdout(check)

On the CDNOW 1/10 sample (:func:`read_cdnow`) this reproduces the published estimates:
BG/NBD r=0.243, alpha=4.414, a=0.793, b=2.426, LL=-9582.4 (Fader, Hardie & Lee 2005);
Pareto/NBD r=0.553, alpha=10.578, s=0.606, beta=11.669; Gamma-Gamma p=6.25, q=3.74,
gamma=15.44 (Fader & Hardie 2013); MBG/NBD (Batislam, Gursoy & Dogan 2007) r=0.525,
alpha=6.183, a=0.891, b=1.614, LL=-9582.14 as lifetimes' ModifiedBetaGeoFitter finds. BG/NBD
gives P(alive) = 1 to every customer without repeat purchases (1,411 of 2,357 on CDNOW);
its ``p_alive``/``predict``/``summary`` say so; MBG/NBD and Pareto/NBD do not have that
artefact and are the models to rank churn risk with. The values live in :mod:`.published`
(:func:`replication_table` sets a fit next to them) -- see ``tests/test_clv.py``.

Implementation choice
---------------------
The models are implemented here as maximum-likelihood estimators on top of SciPy, rather
than by wrapping ``lifetimes`` or ``pymc-marketing``:

* **lifetimes** (last release 0.11.3, 2020; unmaintained) still imports and fits on this
  stack (numpy 2.4, pandas 3.1, scipy 1.17), but only with deprecation warnings that are
  announced breakages: it imports ``pkg_resources`` (deprecated, slated for removal from
  setuptools) and sets ``pandas.options.mode.chained_assignment`` (removed in pandas 4).
  Its optimizer stops at a loose tolerance (on CDNOW its Pareto/NBD beta is 11.6689 where
  the maximum of the likelihood is at 11.6687), its summary helper needs pandas-side
  grouping (about 14x slower than the DuckDB summary here on 2 million orders), and a
  library nobody can patch upstream is a risk for a framework meant to stay reproducible.
* **pymc-marketing** is maintained and excellent for Bayesian CLV, but pulls in PyMC and
  PyTensor (a compiler toolchain, hundreds of MB, seconds of import time) and is Bayesian by
  default; the published CDNOW numbers are maximum-likelihood estimates.
* **Own MLE** (this package, about 1,000 lines with the RFM summary and the checks): the
  likelihoods and predictive expressions are closed forms from the papers; SciPy supplies
  ``gammaln`` and ``hyp2f1``. It is exact
  (Newton-polished to a zero gradient, so published estimates are reproduced to their last
  digit from any reasonable start), fast (each CDNOW fit well under a second, on data
  compressed to unique rows), numerically stable (Euler-transformed hypergeometric terms
  carried in logs, so customers with hundreds of purchases do not overflow), reports
  standard errors from the observed information, and adds no dependency. The tests
  cross-check it against ``lifetimes`` whenever that imports (same estimates to 4
  significant digits, same predictions to 1e-10 given the same parameters).

The RFM summary is built from raw transactions in DuckDB (:func:`rfm_summary`), the same
engine as the KPI module, so the pipeline scales from the CDNOW sample to large logs.
Starting from the raw file matters: the pre-made CDNOW summary shipped with lifetimes
(recency, T and mean spend rounded to 2 decimals) gives a Gamma-Gamma gamma of 15.448,
outside the published 15.44; the raw transactions give 15.4435.
"""
from __future__ import annotations

from ._mle import FitResult
from ._purchase import PurchaseModelResult
from .bgnbd import (BGNBDResult, bgnbd_conditional_expected, bgnbd_expected, bgnbd_loglik,
                    bgnbd_p_alive, fit_bgnbd)
from .gamma_gamma import (GammaGammaResult, fit_gamma_gamma, gamma_gamma_expected_spend,
                          gamma_gamma_loglik)
from .holdout import calibration_holdout, plot_calibration_holdout, plot_tracking, repeat_purchase_tracking
from .mbgnbd import (MBGNBDResult, fit_mbgnbd, mbgnbd_conditional_expected, mbgnbd_expected, mbgnbd_loglik,
                     mbgnbd_p_alive)
from .pareto_nbd import (ParetoNBDResult, fit_pareto_nbd, pnbd_conditional_expected, pnbd_expected,
                         pnbd_loglik, pnbd_p_alive)
from .published import CDNOW_PUBLISHED, cdnow_published, replication_table
from .summary import (CDNOW_CALIBRATION_END, CDNOW_OBSERVATION_END, cdnow_sample_path, holdout_dates, read_cdnow,
                      rfm_summary)
from .value import MONTH_LENGTH, customer_lifetime_value

__all__ = [
    "rfm_summary", "read_cdnow", "cdnow_sample_path", "CDNOW_CALIBRATION_END", "CDNOW_OBSERVATION_END",
    "holdout_dates", "CDNOW_PUBLISHED", "cdnow_published", "replication_table",
    "fit_bgnbd", "fit_mbgnbd", "fit_pareto_nbd", "fit_gamma_gamma", "customer_lifetime_value", "MONTH_LENGTH",
    "calibration_holdout", "plot_calibration_holdout", "repeat_purchase_tracking", "plot_tracking",
    "FitResult", "PurchaseModelResult", "BGNBDResult", "MBGNBDResult", "ParetoNBDResult", "GammaGammaResult",
    "bgnbd_loglik", "bgnbd_expected", "bgnbd_conditional_expected", "bgnbd_p_alive",
    "mbgnbd_loglik", "mbgnbd_expected", "mbgnbd_conditional_expected", "mbgnbd_p_alive",
    "pnbd_loglik", "pnbd_expected", "pnbd_conditional_expected", "pnbd_p_alive",
    "gamma_gamma_loglik", "gamma_gamma_expected_spend",
]

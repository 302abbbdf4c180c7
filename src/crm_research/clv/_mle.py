"""Maximum-likelihood machinery shared by the CLV models.

Parameters of the CLV models are all positive, so the optimizer works on their logarithms
(unconstrained). Fitting is two-stage:

1. quasi-Newton (BFGS; analytic gradients for BG/NBD, Pareto/NBD and Gamma-Gamma, finite
   differences for a model without one) from the start values, with a Nelder-Mead fallback
   when BFGS fails to make progress;
2. Newton polishing with the analytic Hessian where the model has one (BG/NBD, MBG/NBD),
   else a central-difference Hessian (of the analytic gradient where there is one), until
   the Newton decrement, the predicted further gain in log-likelihood per customer, is
   below 1e-14. This is what makes the published estimates reproducible to
   their last digit regardless of the start values; the final Hessian is also the one the
   standard errors come from.

Standard errors are the square roots of the diagonal of the inverse observed information
(negative Hessian of the log-likelihood) on the natural scale. At the maximum the natural-
scale Hessian equals ``D^-1 H_log D^-1`` with ``D = diag(theta)`` because the gradient is
zero there, so ``se(theta_j) = theta_j * se(log theta_j)``.

Data are compressed to unique rows with integer weights before fitting (CDNOW: 2,357
customers -> far fewer distinct (x, t_x, T) triples), which makes every likelihood
evaluation proportionally cheaper and does not change the estimates.
"""
from __future__ import annotations

import html
import math
import warnings
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pandas as pd

from ..errors import ModelError

Z_975 = 1.959963984540054  # standard normal 97.5% quantile


def compress(*columns: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
    """Unique rows of the stacked columns and their multiplicities.

    Parameters
    ----------
    *columns : array-like
        Equally long columns.

    Returns
    -------
    (list of numpy.ndarray, numpy.ndarray)
        The unique rows column by column, and how often each occurs.

    Examples
    --------
    >>> cols, w = compress([0, 0, 1], [2.5, 2.5, 3.0])
    >>> cols, w
    ([array([0., 1.]), array([2.5, 3. ])], array([2., 1.]))
    """
    cols = [np.asarray(c, dtype=float).ravel() for c in columns]
    if not cols or len(cols[0]) == 0 or any(np.isnan(c).any() for c in cols):
        stacked = np.column_stack(cols)
        uniq, counts = np.unique(stacked, axis=0, return_counts=True)
        return [uniq[:, j].copy() for j in range(uniq.shape[1])], counts.astype(float)
    # the same rows, order and counts as np.unique(axis=0) (lexicographic), several times faster
    order = np.lexsort(cols[::-1])
    srt = [c[order] for c in cols]
    new = np.ones(len(order), dtype=bool)
    new[1:] = np.logical_or.reduce([c[1:] != c[:-1] for c in srt])
    starts = np.flatnonzero(new)
    counts = np.diff(np.append(starts, len(order)))
    return [c[starts] for c in srt], counts.astype(float)


@dataclass
class Optimum:
    """

    Parameters
    ----------
    params : numpy.ndarray
        Estimates on the natural scale.
    loglik : float
        Maximized log-likelihood.
    hessian_log : numpy.ndarray
        Hessian of the total log-likelihood with respect to the log-parameters.
    converged : bool
    iterations : int
    message : str
    at_bound : numpy.ndarray, optional
        Which parameters ended on their upper bound.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([1.0, 2.0, 3.0])   # Poisson counts: the MLE is their mean, 2
    >>> opt = maximize(lambda th: float(np.sum(x * np.log(th[0]) - th[0])), np.array([1.0]), n=3, model='Poisson')
    >>> type(opt).__name__, opt.converged
    ('Optimum', True)
    """
    params: np.ndarray           # natural scale
    loglik: float
    hessian_log: np.ndarray      # Hessian of the total log-likelihood wrt log-parameters
    converged: bool
    iterations: int
    message: str
    at_bound: np.ndarray | None = None  # which parameters ended on their upper bound (``upper=``)


def _hessian(f: Callable[[np.ndarray], float], u: np.ndarray, h: float = 1e-4) -> np.ndarray:
    """Central-difference Hessian of ``f`` at ``u`` (f is smooth, evaluation is cheap)."""
    k = u.size
    H = np.empty((k, k))
    f0 = f(u)
    E = np.eye(k) * h
    for i in range(k):
        fp, fm = f(u + E[i]), f(u - E[i])
        H[i, i] = (fp - 2.0 * f0 + fm) / h ** 2
        for j in range(i):
            fpp = f(u + E[i] + E[j])
            fpm = f(u + E[i] - E[j])
            fmp = f(u - E[i] + E[j])
            fmm = f(u - E[i] - E[j])
            H[i, j] = H[j, i] = (fpp - fpm - fmp + fmm) / (4.0 * h ** 2)
    return H


def _jacobian(g: Callable[[np.ndarray], np.ndarray], u: np.ndarray, h: float = 1e-5) -> np.ndarray:
    """Hessian as the symmetrized central-difference Jacobian of an analytic gradient."""
    E = np.eye(u.size) * h
    J = np.array([(g(u + e) - g(u - e)) / (2.0 * h) for e in E])
    return (J + J.T) / 2.0


def _gradient(f: Callable[[np.ndarray], float], u: np.ndarray, h: float = 1e-5) -> np.ndarray:
    E = np.eye(u.size) * h
    return np.array([(f(u + e) - f(u - e)) / (2.0 * h) for e in E])


def maximize(loglik: Callable[[np.ndarray], float], start: np.ndarray, *, n: float, model: str,
             gradient: Callable[[np.ndarray], np.ndarray] | None = None,
             upper: np.ndarray | None = None,
             hessian: Callable[[np.ndarray], np.ndarray] | None = None) -> Optimum:
    """Maximize ``loglik(theta)`` over positive ``theta`` (see the module docstring).

    ``loglik`` returns the total (weighted) log-likelihood; non-finite values are treated
    as an infeasible point. ``gradient(theta)``, if given, returns its analytic gradient
    with respect to ``theta`` (used by BFGS and for the Hessian). ``n`` (number of
    customers) only scales the objective.

    ``upper`` (natural scale, ``inf`` for none) bounds parameters that the likelihood may
    push to infinity along a flat ridge. The quasi-Newton stage is then L-BFGS-B with
    these bounds (at most 500 iterations, no Nelder-Mead fallback); if the optimum lies on
    a bound, Newton polishing is skipped and the result is flagged ``converged=False`` with
    ``at_bound`` set, so a model can explain the ridge instead of drifting for minutes.

    Parameters
    ----------
    loglik : callable
        ``loglik(theta) -> float``, the total log-likelihood at positive ``theta``.
    start : numpy.ndarray
        Start values (> 0).
    n : float
        Number of customers (scales the objective).
    model : str
        Model name, for messages.
    gradient : callable, optional
        Analytic gradient with respect to ``theta``.
    upper : numpy.ndarray, optional
        Upper bounds on the natural scale (``inf`` for none).
    hessian : callable, optional
        Analytic Hessian with respect to ``theta`` (with ``gradient``); replaces the
        central differences of the gradient in Newton polishing and for the standard errors.

    Returns
    -------
    Optimum

    Raises
    ------
    ModelError
        The log-likelihood is not finite at the start values.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([1.0, 2.0, 3.0])   # Poisson counts: the MLE is their mean, 2
    >>> opt = maximize(lambda th: float(np.sum(x * np.log(th[0]) - th[0])), np.array([1.0]), n=3, model='Poisson')
    >>> round(float(opt.params[0]), 6), opt.converged
    (2.0, True)
    """
    from scipy import optimize

    def nll(u: np.ndarray) -> float:
        if np.any(np.abs(u) > 30):  # theta outside [1e-13, 1e13]: numerically meaningless
            return 1e300
        with np.errstate(all="ignore"):
            v = loglik(np.exp(u))
        return -v / n if np.isfinite(v) else 1e300

    if gradient is not None:
        def grad(u: np.ndarray) -> np.ndarray:
            th = np.exp(u)
            with np.errstate(all="ignore"):
                g = -gradient(th) * th / n  # chain rule: d/du = theta * d/dtheta
            return np.where(np.isfinite(g), g, 0.0)

        def hess(u: np.ndarray) -> np.ndarray:
            if hessian is not None:
                th = np.exp(u)
                with np.errstate(all="ignore"):
                    # chain rule: d2/du_i du_j = theta_i theta_j d2/dtheta_i dtheta_j + [i = j] theta_i d/dtheta_i
                    H = -(np.outer(th, th) * hessian(th) + np.diag(th * gradient(th))) / n
                if np.all(np.isfinite(H)):
                    return (H + H.T) / 2.0
            return _jacobian(grad, u)
    else:
        grad = None

        def hess(u: np.ndarray) -> np.ndarray:
            return _hessian(nll, u)

    def grad_at(u: np.ndarray) -> np.ndarray:
        return grad(u) if grad is not None else _gradient(nll, u)

    u0 = np.log(np.asarray(start, dtype=float))
    if nll(u0) >= 1e300:
        raise ModelError(f"{model}: the log-likelihood is not finite at the start values {list(start)}",
                         hint="check the data (recency <= T, frequency >= 0) or pass other start values")
    if upper is not None:
        u_hi = np.minimum(np.log(np.asarray(upper, dtype=float)), 30.0)
        u0 = np.minimum(u0, u_hi)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = optimize.minimize(nll, u0, jac=grad if grad is not None else "2-point", method="L-BFGS-B",
                                    bounds=[(-30.0, hi) for hi in u_hi],
                                    options={"maxiter": 500, "ftol": 1e-13, "gtol": 1e-9})
        u = res.x
        at_bound = u >= u_hi - 1e-6
        if at_bound.any():
            theta = np.exp(u)
            return Optimum(params=theta, loglik=float(loglik(theta)), hessian_log=-hess(u) * n, converged=False,
                           iterations=int(res.nit), at_bound=at_bound,
                           message="a parameter reached its upper bound: the likelihood rises along a flat ridge")
        iters = int(res.nit)
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = optimize.minimize(nll, u0, jac=grad, method="BFGS", options={"gtol": 1e-7, "maxiter": 2000})
            u = res.x
            iters = int(res.nit)
            if not np.isfinite(res.fun) or res.fun >= nll(u0) - 1e-12 and np.max(np.abs(u - u0)) < 1e-8:
                res = optimize.minimize(nll, u0, method="Nelder-Mead",
                                        options={"xatol": 1e-8, "fatol": 1e-12, "maxiter": 20000})
                u = res.x
                iters += int(res.nit)

    # Newton polishing (also yields the Hessian for the standard errors). Converged when the
    # Newton decrement g' H^-1 g / 2 (the predicted further gain in the per-customer
    # log-likelihood) is below 1e-14 at a point with a positive-definite Hessian of -LL.
    converged = False
    message = "Newton polishing did not reach a maximum within 50 iterations"
    H = None
    flat = 0
    for _ in range(50):
        H = hess(u)
        g = grad_at(u)
        try:
            eig = np.linalg.eigvalsh(H)
        except np.linalg.LinAlgError:
            eig = np.array([-1.0])
        concave = bool(np.all(eig > 0))
        if concave:
            step = -np.linalg.solve(H, g)
            decrement = float(-g @ step) / 2.0
            if decrement < 1e-14:
                converged = True
                message = "converged"
                break
        else:  # not locally concave: fall back to a short gradient step
            flat += 1
            if upper is not None and flat > 5:  # bounded fits: a ridge, do not crawl along it
                message = ("stopped where the log-likelihood is not concave after 5 gradient steps "
                           "(a parameter may be drifting to 0 or infinity)")
                break
            step = -g / max(1.0, float(np.max(np.abs(g)))) * 0.1
        f0 = nll(u)
        t = 1.0
        while t > 1e-8 and nll(u + t * step) > f0:
            t *= 0.5
        iters += 1
        if t <= 1e-8:
            message = ("stopped at a point where the log-likelihood is flat or not concave "
                       "(a parameter may be drifting to 0 or infinity)")
            break
        u = u + t * step
        H = None
    if H is None:
        H = hess(u)
    theta = np.exp(u)
    ll = loglik(theta)
    return Optimum(params=theta, loglik=float(ll), hessian_log=-H * n, converged=converged,
                   iterations=iters, message=message, at_bound=np.zeros(theta.size, dtype=bool))


def standard_errors(opt: Optimum) -> np.ndarray:
    """Natural-scale standard errors from the observed information (NaN if singular).

    Parameters
    ----------
    opt : Optimum

    Returns
    -------
    numpy.ndarray
        One standard error per parameter.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([1.0, 2.0, 3.0])   # Poisson counts: the MLE is their mean, 2
    >>> opt = maximize(lambda th: float(np.sum(x * np.log(th[0]) - th[0])), np.array([1.0]), n=3, model='Poisson')
    >>> standard_errors(opt).round(4)   # sqrt(mean / n) = sqrt(2 / 3)
    array([0.8165])
    """
    info = -opt.hessian_log  # observed information on the log scale
    try:
        cov_log = np.linalg.inv(info)
    except np.linalg.LinAlgError:
        return np.full(opt.params.size, np.nan)
    d = np.diag(cov_log)
    with np.errstate(invalid="ignore"):
        se_log = np.where(d > 0, np.sqrt(np.abs(d)), np.nan)
    return opt.params * se_log


# --------------------------------------------------------------------------- result base
@dataclass
class FitResult:
    """Common part of a fitted CLV model: estimates, fit measures, printing.

    Parameters
    ----------
    model, params, se, loglik, n, converged, iterations, message
        As under Attributes.
    references : tuple of str
        The papers the model comes from.

    Attributes
    ----------
    model : str
        Model name, e.g. ``"BG/NBD"``.
    params : pandas.Series
        Maximum-likelihood estimates, indexed by parameter name.
    se : pandas.Series
        Standard errors (inverse observed information; NaN when it is singular).
    loglik : float
        Maximized log-likelihood.
    n : int
        Number of customers the model was fitted to.
    converged : bool
        Whether the optimizer reached a point with zero gradient and a negative-definite
        Hessian.
    iterations : int
        Optimizer iterations (BFGS + Newton).
    message : str
        Optimizer status.

    Examples
    --------
    >>> from crm_research import clv
    >>> cdnow = clv.read_cdnow("tests/data/cdnow/CDNOW_sample.txt")
    >>> cal = clv.rfm_summary(cdnow, calibration_end="1997-09-30", observation_end="1998-06-30")
    >>> gg = clv.fit_gamma_gamma(cal)
    >>> gg.model, gg.n, gg.converged
    ('Gamma-Gamma', 946, True)
    >>> print(gg.summary())
                 Gamma-Gamma model, maximum likelihood
    ================================================================
    Customers:                   946      Log-likelihood:   -4055.92
    Parameters:                    3      AIC:               8117.84
    Converged:                   yes      BIC:               8132.39
    ----------------------------------------------------------------
                  estimate     std.err                  95% CI
    ----------------------------------------------------------------
    p               6.2496      1.1901        [4.3029, 9.0769]
    q               3.7442      0.2901        [3.2167, 4.3583]
    gamma          15.4435      4.1594       [9.1094, 26.1819]
    ----------------------------------------------------------------
    Mean spend per transaction: observed 35.08, population mean p*gamma/(q-1) = 35.17
    1,411 customers without repeat purchases were not used in the fit.
    corr(frequency, monetary_value) = 0.114 (the model assumes they are independent)
    Reference: Fader, Hardie & Lee (2005), RFM and CLV: using iso-value curves for customer base analysis, Journal of Marketing Research 42(4), 415-430; Fader & Hardie (2013), The Gamma-Gamma model of monetary value
    """

    model: str
    params: pd.Series
    se: pd.Series
    loglik: float
    n: int
    converged: bool
    iterations: int
    message: str
    references: tuple[str, ...] = field(default=(), repr=False)

    # ---- derived measures
    @property
    def convergence_warning(self) -> str:
        """A reader-facing warning when the fit did not converge; ``""`` when it did.

        Returns
        -------
        str

        Examples
        --------
        >>> from crm_research import clv
        >>> bg = clv.fit_bgnbd(clv.rfm_summary(clv.read_cdnow(), calibration_end="1997-09-30"))
        >>> bg.convergence_warning
        ''
        """
        edge = self.at_edge
        if self.converged and edge:
            return (f"Warning: {self.model} estimates at the edge of the parameter space "
                    f"({', '.join(edge)}): the maximum is not interior, so the standard errors are unreliable "
                    "and forecasts rest on a degenerate fit. Use more customers or a longer calibration period.")
        if self.converged:
            return ""
        return (f"Warning: {self.model} did not converge ({self.message}); its estimates and forecasts are not "
                "maximum-likelihood values. Small samples often leave the dropout parameters of the Pareto/NBD "
                "unidentified (only their ratio is): use more customers or a longer calibration period.")

    @property
    def at_edge(self) -> list[str]:
        """Parameters at the edge of the parameter space: an estimate that is not finite,
        above 1e6 or below 1e-6, or a standard error that is not finite.

        Returns
        -------
        list of str
            Descriptions such as ``"alpha = 1.4e+10"``; empty for an interior maximum.

        Examples
        --------
        >>> from crm_research import clv
        >>> bg = clv.fit_bgnbd(clv.rfm_summary(clv.read_cdnow(), calibration_end="1997-09-30"))
        >>> bg.at_edge
        []
        """
        out = []
        for name, v in self.params.items():
            v = float(v)
            se = float(self.se.get(name, float("nan")))
            if not math.isfinite(v) or v > 1e6 or v < 1e-6:
                out.append(f"{name} = {v:.3g}")
            elif not math.isfinite(se):
                out.append(f"{name} (no standard error)")
        return out

    @property
    def npar(self) -> int:
        """Number of estimated parameters.

        Returns
        -------
        int

        Examples
        --------
        >>> from crm_research import clv
        >>> cdnow = clv.read_cdnow("tests/data/cdnow/CDNOW_sample.txt")
        >>> cal = clv.rfm_summary(cdnow, calibration_end="1997-09-30", observation_end="1998-06-30")
        >>> gg = clv.fit_gamma_gamma(cal)
        >>> gg.npar
        3
        """
        return int(self.params.size)

    @property
    def aic(self) -> float:
        """Akaike's information criterion, ``-2 logl + 2 npar``.

        Returns
        -------
        float

        Examples
        --------
        >>> from crm_research import clv
        >>> cdnow = clv.read_cdnow("tests/data/cdnow/CDNOW_sample.txt")
        >>> cal = clv.rfm_summary(cdnow, calibration_end="1997-09-30", observation_end="1998-06-30")
        >>> gg = clv.fit_gamma_gamma(cal)
        >>> round(gg.aic, 2) == round(-2 * gg.loglik + 6, 2)
        True
        """
        return -2.0 * self.loglik + 2.0 * self.npar

    @property
    def bic(self) -> float:
        """Schwarz's Bayesian information criterion, ``-2 logl + log(n) npar``.

        Returns
        -------
        float

        Examples
        --------
        >>> from crm_research import clv
        >>> cdnow = clv.read_cdnow("tests/data/cdnow/CDNOW_sample.txt")
        >>> cal = clv.rfm_summary(cdnow, calibration_end="1997-09-30", observation_end="1998-06-30")
        >>> gg = clv.fit_gamma_gamma(cal)
        >>> import math
        >>> round(gg.bic - gg.aic, 6) == round(3 * (math.log(gg.n) - 2), 6)
        True
        """
        return -2.0 * self.loglik + math.log(self.n) * self.npar

    @property
    def fit_measures(self) -> dict[str, float]:
        """``npar, ntotal, logl, aic, bic`` (lavaan's names).

        Returns
        -------
        dict

        Examples
        --------
        >>> from crm_research import clv
        >>> cdnow = clv.read_cdnow("tests/data/cdnow/CDNOW_sample.txt")
        >>> cal = clv.rfm_summary(cdnow, calibration_end="1997-09-30", observation_end="1998-06-30")
        >>> gg = clv.fit_gamma_gamma(cal)
        >>> {k: round(v, 1) for k, v in gg.fit_measures.items()}
        {'npar': 3, 'ntotal': 946, 'logl': -4055.9, 'aic': 8117.8, 'bic': 8132.4}
        """
        return {"npar": self.npar, "ntotal": self.n, "logl": self.loglik, "aic": self.aic, "bic": self.bic}

    @property
    def estimates(self) -> pd.DataFrame:
        """Tidy parameter table: ``model, param, est, se, ci.lower, ci.upper``.

        The interval level is in ``attrs["ci.level"]`` (0.95).

        Wald intervals are formed on the log scale (the parameters are positive) and
        transformed back, so they never include 0.

        Returns
        -------
        DataFrame

        Examples
        --------
        >>> from crm_research import clv
        >>> cdnow = clv.read_cdnow("tests/data/cdnow/CDNOW_sample.txt")
        >>> cal = clv.rfm_summary(cdnow, calibration_end="1997-09-30", observation_end="1998-06-30")
        >>> gg = clv.fit_gamma_gamma(cal)
        >>> gg.estimates.round(3)
                 model  param     est     se  ci.lower  ci.upper
        0  Gamma-Gamma      p   6.250  1.190     4.303     9.077
        1  Gamma-Gamma      q   3.744  0.290     3.217     4.358
        2  Gamma-Gamma  gamma  15.444  4.159     9.109    26.182
        """
        est, se = self.params.to_numpy(), self.se.to_numpy()
        with np.errstate(divide="ignore", invalid="ignore"):
            se_log = se / est
        out = pd.DataFrame({
            "model": self.model,
            "param": self.params.index,
            "est": est,
            "se": se,
            "ci.lower": est * np.exp(-Z_975 * se_log),
            "ci.upper": est * np.exp(Z_975 * se_log),
        })
        out.attrs["ci.level"] = 0.95
        return out

    def _extra_lines(self) -> list[str]:
        return []

    def summary(self) -> str:
        """Plain-text summary a reader can paste into a paper's appendix.

        Returns
        -------
        str

        Examples
        --------
        >>> from crm_research import clv
        >>> cdnow = clv.read_cdnow("tests/data/cdnow/CDNOW_sample.txt")
        >>> cal = clv.rfm_summary(cdnow, calibration_end="1997-09-30", observation_end="1998-06-30")
        >>> gg = clv.fit_gamma_gamma(cal)
        >>> print(gg.summary().splitlines()[0].strip())
        Gamma-Gamma model, maximum likelihood
        """
        est = self.estimates
        w = 64
        lines = [f"{self.model} model, maximum likelihood".center(w), "=" * w,
                 f"{'Customers:':<22}{self.n:>10,d}      {'Log-likelihood:':<16}{self.loglik:>10.2f}",
                 f"{'Parameters:':<22}{self.npar:>10d}      {'AIC:':<16}{self.aic:>10.2f}",
                 f"{'Converged:':<22}{'yes' if self.converged else 'NO':>10}      {'BIC:':<16}{self.bic:>10.2f}",
                 "-" * w,
                 f"{'':<10}{'estimate':>12}{'std.err':>12}{'95% CI':>24}",
                 "-" * w]
        for _, r in est.iterrows():
            lines.append(f"{r['param']:<10}{r['est']:>12.4f}{r['se']:>12.4f}"
                         f"{'[' + format(r['ci.lower'], '.4f') + ', ' + format(r['ci.upper'], '.4f') + ']':>24}")
        lines.append("-" * w)
        lines += self._extra_lines()
        if not self.converged:
            lines.append(f"Warning: {self.message}.")
        elif self.at_edge:
            lines.append(self.convergence_warning)
        if self.references:
            lines.append("Reference: " + "; ".join(self.references))
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()

    def __repr__(self) -> str:
        ps = ", ".join(f"{k}={v:.4g}" for k, v in self.params.items())
        return f"<{type(self).__name__} n={self.n}: {ps}, logl={self.loglik:.2f}>"

    def _repr_html_(self) -> str:
        from ..reporting.format import format_ci, format_number, html_table

        est = self.estimates
        shown = pd.DataFrame({"": est["param"], "est": [format_number(v, 4) for v in est["est"]],
                              "se": [format_number(v, 4) for v in est["se"]],
                              "95% CI": [format_ci(lo, hi, 4) for lo, hi in zip(est["ci.lower"], est["ci.upper"])]})
        extra = "".join(f"<br>{html.escape(x)}" for x in self._extra_lines())
        warn = "" if self.converged else f"<p><b>Warning:</b> {html.escape(self.message)}.</p>"
        return (f"<div><b>{html.escape(self.model)}</b> (maximum likelihood), {self.n:,} customers; "
                f"log-likelihood {format_number(self.loglik, 2)}, AIC {format_number(self.aic, 2)}, "
                f"BIC {format_number(self.bic, 2)}"
                f"{html_table(shown)}{warn}<small>{extra}</small></div>")

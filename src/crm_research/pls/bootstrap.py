"""Bootstrap of a PLS path model: resamples estimated many at once.

All resamples' row draws come from one generator seeded with ``seed``; they are split into
fixed chunks of :data:`CHUNK` resamples and each chunk is estimated as one stack of
correlation matrices (:func:`~crm_research.pls.algorithm.estimate`). Worker processes
(``n_jobs``) only share out the chunks, so a seed gives the same draws whatever ``n_jobs``.
Every resample goes through the whole estimation (standardization, product indicators,
two-stage stages) again, as SmartPLS does.

Sign-change options (SmartPLS; Tenenhaus et al. 2005): ``"none"``; ``"individual"``: every
bootstrap estimate takes the sign of the original estimate; ``"construct"``: a construct's
score is reversed in a resample when ``|sum(l - l_b)| > |sum(l + l_b)|`` over its loadings
``l`` (original) and ``l_b`` (resample), reversing its weights, loadings and the paths and
correlations it takes part in.

Intervals: percentile (``"perc"``) or bias-corrected and accelerated (``"bca"``, Efron 1987:
bias from the share of draws below the estimate, acceleration from the jackknife);
``se`` is the standard deviation of the draws, ``t = est / se``, ``pvalue`` two-sided from
Student's t with ``R - 1`` degrees of freedom.

>>> import pandas as pd
>>> from crm_research import pls
>>> mobi = pd.read_csv("tests/data/ecsi/mobi.csv")
>>> res = pls.fit("IMAG =~ IMAG1 + IMAG2 + IMAG3; CUSA =~ CUSA1 + CUSA2 + CUSA3; CUSA ~ IMAG",
...               mobi, bootstrap=200, seed=1)
>>> res.paths.columns.tolist()
['lhs', 'op', 'rhs', 'est', 'se', 't', 'pvalue', 'ci.lower', 'ci.upper']
>>> res.boot.R, res.boot.n_ok
(200, 200)
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.special import ndtr, ndtri, stdtr
from threadpoolctl import threadpool_limits

from crm_research.errors import ModelError
from crm_research.pls.algorithm import Estimates, estimate
from crm_research.pls.stages import estimate_data
from crm_research.pls.specification import PLSModel

__all__ = ["BootstrapDraws", "run_bootstrap", "resample_indices", "apply_sign_change", "interval",
           "CHUNK", "WHAT"]

#: Resamples estimated together in one stack (fixed: results do not depend on n_jobs).
CHUNK = 250
#: Tables :meth:`BootstrapDraws.annotate` knows.
WHAT = ("paths", "weights", "loadings")
_ARRAYS = ("weights", "loadings", "cross_loadings", "construct_corr", "score_corr", "paths", "r2", "rho_a",
           "iterations", "converged")


def resample_indices(n: int, R: int, seed: int | None) -> np.ndarray:
    """Row draws (R x n, 0-based) of ``R`` bootstrap resamples of ``n`` rows.

    >>> resample_indices(5, 2, seed=3).shape
    (2, 5)
    """
    rng = np.random.default_rng(seed)
    return rng.integers(0, n, size=(R, n))


def _stack(parts: list) -> Estimates:
    first = parts[0]
    arrays = {a: np.concatenate([getattr(p, a) for p in parts]) for a in _ARRAYS}
    return Estimates(model=first.model, scheme=first.scheme, consistent=first.consistent, meta=dict(first.meta),
                     **arrays)


def _run_chunk(model: PLSModel, X: np.ndarray, idx: np.ndarray, options: dict):
    """Estimates and correlation matrices of the resamples ``idx`` (k x n); resamples in which an
    indicator is constant (or whose estimation fails) are estimated on the full data instead
    and flagged ``ok = False``."""
    n = X.shape[0]
    if _plain(model, options):
        # only the indicator correlations change: S from the resamples' row counts, one GEMM
        Z0 = (X - X.mean(axis=0)) / X.std(axis=0, ddof=1)
        k, p = len(idx), X.shape[1]
        F = np.bincount((np.arange(k)[:, None] * n + idx).ravel(), minlength=k * n).reshape(k, n).astype(float)
        m = F @ Z0 / n
        iu = np.triu_indices(p)
        up = F @ (Z0[:, iu[0]] * Z0[:, iu[1]]) / n          # upper triangle of the raw moments
        M2 = np.empty((k, p, p))
        M2[:, iu[0], iu[1]] = up
        M2[:, iu[1], iu[0]] = up
        cov = (M2 - m[:, :, None] * m[:, None, :]) * (n / (n - 1))
        sd = np.sqrt(np.clip(np.diagonal(cov, axis1=1, axis2=2), 0, None))
        ok = np.all(sd > 1e-12, axis=1)
        sd = np.where(ok[:, None], sd, 1.0)
        S = cov / (sd[:, :, None] * sd[:, None, :])
        S[~ok] = np.corrcoef(X, rowvar=False)
        pos = [model.indicators.index(x) for x in model.columns]
        S = S[:, pos][:, :, pos]
        est_opts = {k: options[k] for k in ("scheme", "consistent", "tol", "max_iter", "stop") if k in options}
        try:
            return estimate(model, S, **est_opts), S, ok
        except ModelError:
            pass                                    # one by one below
    Xb = X[idx]
    ok = np.all(Xb.max(axis=1) > Xb.min(axis=1), axis=1)
    idx = np.where(ok[:, None], idx, np.arange(n)[None, :])
    Xb = X[idx]
    try:
        est, final, Z = estimate_data(model, Xb, **options)
    except ModelError:              # e.g. a mode-B block singular in one resample: one by one
        parts, Zs = [], []
        for i in range(len(idx)):
            try:
                e, final, z = estimate_data(model, Xb[i:i + 1], **options)
            except ModelError:
                ok[i] = False
                e, final, z = estimate_data(model, X[None], **options)
            parts.append(e)
            Zs.append(z)
        est, Z = _stack(parts), np.concatenate(Zs)
    S = np.swapaxes(Z, -1, -2) @ Z / (Z.shape[-2] - 1)
    return est, S, ok


def _plain(model: PLSModel, options: dict) -> bool:
    """True when the model's correlation matrix is that of its data indicators (no product
    indicators or two-stage scores)."""
    return model.columns == model.indicators and not (model.higher_order and options.get("two_stage"))


def _chunk_job(args):
    with threadpool_limits(1):
        return _run_chunk(*args)


def apply_sign_change(draws: Estimates, original: Estimates, how: str) -> Estimates:
    """Bootstrap estimates after SmartPLS's sign-change option ``how`` (see module doc).

    >>> import numpy as np
    >>> from crm_research.pls import parse_model, estimate
    >>> m = parse_model("X =~ a + b; Y =~ c + d; Y ~ X")
    >>> S = np.array([[1, .5, .3, .3], [.5, 1, .3, .3], [.3, .3, 1, .6], [.3, .3, .6, 1.]])
    >>> e = estimate(m, np.stack([S, S]))
    >>> e.weights[1, :, 0] *= -1; e.loadings[1, :, 0] *= -1; e.paths[1] *= -1
    >>> fixed = apply_sign_change(e, estimate(m, S), "construct")
    >>> bool(np.allclose(fixed.paths[1], fixed.paths[0]))
    True
    """
    if how == "none":
        return draws
    out = Estimates(model=draws.model, scheme=draws.scheme, consistent=draws.consistent, meta=dict(draws.meta),
                    **{a: np.array(getattr(draws, a), copy=True) for a in _ARRAYS})
    if how == "individual":
        for a in ("weights", "loadings", "cross_loadings", "construct_corr", "score_corr", "paths"):
            o = getattr(original, a)
            arr = getattr(out, a)
            sign = np.where(o < 0, -1.0, 1.0)
            setattr(out, a, np.where(o != 0, np.abs(arr) * sign, arr))
        return out
    if how == "construct":
        L0 = original.loadings[None]
        Lb = out.loadings
        flip = np.abs((L0 - Lb).sum(axis=1)) > np.abs((L0 + Lb).sum(axis=1))     # (k, c)
        s = np.where(flip, -1.0, 1.0)
        for a in ("weights", "loadings", "cross_loadings"):
            setattr(out, a, getattr(out, a) * s[:, None, :])
        for a in ("construct_corr", "score_corr", "paths"):
            setattr(out, a, getattr(out, a) * s[:, :, None] * s[:, None, :])
        out.meta["flipped"] = flip
        return out
    raise ModelError(f"sign_change={how!r}: expected none, individual or construct")


def interval(est: np.ndarray, draws: np.ndarray, level: float, kind: str, jack: np.ndarray | None = None):
    """(lower, upper) bootstrap intervals of ``est`` (m,) from ``draws`` (R x m).

    ``kind="perc"``: quantiles (linear interpolation, R's type 7) at ``(1 -/+ level) / 2``;
    ``kind="bca"``: Efron's BCa with bias ``z0 = Phi^-1(share of draws < est)`` and acceleration
    from the jackknife values ``jack`` (n x m).

    >>> import numpy as np
    >>> d = np.arange(1, 101, dtype=float)[:, None]
    >>> [round(float(v[0]), 2) for v in interval(np.array([50.5]), d, 0.9, "perc")]
    [5.95, 95.05]
    """
    est = np.asarray(est, float)
    draws = np.asarray(draws, float)
    alpha = (1 - level) / 2
    if kind == "perc":
        q = np.quantile(draws, [alpha, 1 - alpha], axis=0)
        return q[0], q[1]
    if kind != "bca":
        raise ModelError(f"boot_ci={kind!r}: expected perc or bca")
    if jack is None:
        raise ModelError("BCa intervals need the jackknife values of the statistic (jack=...)")
    R = draws.shape[0]
    prop = (draws < est[None, :]).sum(axis=0) / R
    z0 = ndtri(np.clip(prop, 1 / (R + 1), R / (R + 1)))
    jm = jack.mean(axis=0)
    d = jm[None, :] - jack
    den = 6 * (d ** 2).sum(axis=0) ** 1.5
    with np.errstate(divide="ignore", invalid="ignore"):
        a = np.where(den > 0, (d ** 3).sum(axis=0) / den, 0.0)
    lo, hi = [], []
    for z in (ndtri(alpha), ndtri(1 - alpha)):
        adj = ndtr(z0 + (z0 + z) / (1 - a * (z0 + z)))
        (lo if z < 0 else hi).append(adj)
    out_lo = np.empty(est.shape)
    out_hi = np.empty(est.shape)
    for j in range(est.shape[0]):
        if np.ptp(draws[:, j]) == 0:
            out_lo[j] = out_hi[j] = draws[0, j]
            continue
        out_lo[j] = np.quantile(draws[:, j], lo[0][j])
        out_hi[j] = np.quantile(draws[:, j], hi[0][j])
    return out_lo, out_hi


@dataclass
class BootstrapDraws:
    """The bootstrap of a PLS fit (``PLSResult.boot``).

    Attributes
    ----------
    R : int
        Resamples drawn.
    n_ok : int
        Resamples used (those in which no indicator was constant and every estimate is finite,
        e.g. PLSc's rho_A positive).
    seed, n_jobs, ci_level, ci_type, sign_change, seconds
        Settings and wall time (``seed`` is the one drawn when none was given: passing it
        again repeats the run).
    indices : ndarray (R x n)
        Row draws (positions in the rows used by the fit).
    estimates : Estimates
        Batched estimates of the usable resamples, after the sign change.
    S : ndarray (n_ok x p x p)
        The usable resamples' indicator correlation matrices (``model.columns`` order).
    original : Estimates
        The full-sample estimates.
    ok : ndarray of bool (R)
        Which resamples are usable.
    """

    R: int
    seed: int | None
    n_jobs: int
    ci_level: float
    ci_type: str
    sign_change: str
    indices: np.ndarray
    estimates: Estimates
    S: np.ndarray
    original: Estimates
    ok: np.ndarray
    seconds: float = 0.0
    X: np.ndarray | None = field(default=None, repr=False)
    options: dict = field(default_factory=dict, repr=False)
    input_model: PLSModel | None = field(default=None, repr=False)
    _jack: Estimates | None = field(default=None, repr=False)

    @property
    def n_ok(self) -> int:
        return int(self.ok.sum())

    @property
    def n_nonconverged(self) -> int:
        """Usable resamples whose PLS iterations hit ``max_iter`` (kept, as SmartPLS does)."""
        return int((~np.asarray(self.estimates.converged, bool)).sum())

    def jackknife(self) -> Estimates:
        """Batched estimates of the ``n`` leave-one-out samples (for BCa), computed once."""
        if self._jack is None:
            n = self.X.shape[0]
            keep = np.array([np.delete(np.arange(n), i) for i in range(n)])
            parts = [_run_chunk(self.input_model, self.X, keep[i:i + CHUNK], self.options)[0]
                     for i in range(0, n, CHUNK)]
            self._jack = apply_sign_change(_stack(parts), self.original, self.sign_change)
        return self._jack

    def summarize(self, est, draws, jack=None) -> pd.DataFrame:
        """``se``, ``t``, ``pvalue``, ``ci.lower``, ``ci.upper`` of statistics ``est`` (m,) with
        bootstrap ``draws`` (n_ok x m) and, for BCa, jackknife values ``jack`` (n x m)."""
        est = np.atleast_1d(np.asarray(est, float))
        draws = np.asarray(draws, float).reshape(len(draws), -1)
        se = draws.std(axis=0, ddof=1)
        # a statistic that is constant by construction (a single item's loading of 1) varies only
        # by rounding: its SE is 0 and it has no t or p value
        se = np.where(se <= 1e-12 * np.maximum(1.0, np.abs(est)), 0.0, se)
        with np.errstate(divide="ignore", invalid="ignore"):
            t = np.where(se > 0, est / se, np.nan)
        p = 2 * stdtr(max(draws.shape[0] - 1, 1), -np.abs(t))
        lo, hi = interval(est, draws, self.ci_level, self.ci_type,
                          None if jack is None else np.asarray(jack, float).reshape(len(jack), -1))
        return pd.DataFrame({"se": se, "t": t, "pvalue": p, "ci.lower": lo, "ci.upper": hi})

    def values(self, est: Estimates, df: pd.DataFrame, what: str) -> np.ndarray:
        """The statistics of table ``what`` (rows of ``df``) from (batched) estimates ``est``."""
        m = est.model
        ci = {c: k for k, c in enumerate(m.constructs)}
        if what == "paths":
            i = [ci[x] for x in df["lhs"]]
            j = [ci[x] for x in df["rhs"]]
            return est.paths[..., i, j]
        if what in ("weights", "loadings"):
            col = {x: k for k, x in enumerate(m.columns)}
            r = [col[x] for x in df["rhs"]]
            c = [ci[x] for x in df["lhs"]]
            return getattr(est, what)[..., r, c]
        raise ModelError(f"bootstrap: no draws for table {what!r}; expected one of {', '.join(WHAT)}")

    def annotate(self, df: pd.DataFrame, what: str) -> pd.DataFrame:
        """``df`` (lhs/op/rhs/est rows of table ``what``) with the bootstrap columns added."""
        if df.empty:
            return df.assign(**{k: pd.Series(dtype=float) for k in ("se", "t", "pvalue", "ci.lower", "ci.upper")})
        est = self.values(self.original, df, what)
        draws = self.values(self.estimates, df, what)
        jack = self.values(self.jackknife(), df, what) if self.ci_type == "bca" else None
        extra = self.summarize(est, draws, jack)
        out = df.reset_index(drop=True).copy()
        for k in extra.columns:
            out[k] = extra[k].to_numpy()
        return out

    def summary(self) -> str:
        return (f"Bootstrap: {self.n_ok} of {self.R} resamples used (seed {self.seed}), "
                f"{self.ci_type} {self.ci_level:.0%} intervals, sign change {self.sign_change}, "
                f"{self.seconds:.2f} s")

    def __repr__(self) -> str:
        return self.summary()


def run_bootstrap(model: PLSModel, X: np.ndarray, original: Estimates, *, R: int, seed: int | None = None,
                  n_jobs: int | None = None, ci_level: float = 0.95, boot_ci: str = "perc",
                  sign_change: str = "none", options: dict | None = None) -> BootstrapDraws:
    """Bootstrap ``model`` on raw indicator data ``X`` (rows used, ``model.indicators`` order).

    ``options`` are :func:`~crm_research.pls.stages.estimate_data`'s keywords. Used by
    :func:`crm_research.pls.fit` (``bootstrap=R``); see the module doc.

    >>> import numpy as np
    >>> from crm_research.pls import parse_model
    >>> from crm_research.pls.stages import estimate_data
    >>> m = parse_model("X =~ a + b; Y =~ c + d; Y ~ X")
    >>> X = np.random.default_rng(2).normal(size=(60, 4)) + np.random.default_rng(3).normal(size=(60, 1))
    >>> b = run_bootstrap(m, X, estimate_data(m, X)[0], R=50, seed=9)
    >>> b.estimates.paths.shape
    (50, 2, 2)
    """
    options = dict(options or {})
    if not isinstance(R, (int, np.integer)) or R < 2:
        raise ModelError(f"bootstrap={R!r}: expected at least 2 resamples (PLS papers report 5000)")
    if n_jobs is not None and (not isinstance(n_jobs, (int, np.integer)) or n_jobs == 0 or n_jobs < -1):
        raise ModelError(f"n_jobs={n_jobs!r}: expected a positive number of worker processes, -1 (all cores) or None")
    t0 = time.perf_counter()
    n = X.shape[0]
    if seed is None:                  # record a seed so that the run can be repeated
        seed = int(np.random.SeedSequence().entropy % (2 ** 32))
    idx = resample_indices(n, R, seed)
    chunks = [idx[i:i + CHUNK] for i in range(0, R, CHUNK)]
    workers = 1 if n_jobs is None else (os.cpu_count() or 1) if n_jobs == -1 else int(n_jobs)
    workers = max(1, min(workers, len(chunks)))
    if workers == 1:
        with threadpool_limits(1):          # small matrices: BLAS threads only contend
            results = [_run_chunk(model, X, c, options) for c in chunks]
    else:
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(max_workers=workers) as pool:
            results = list(pool.map(_chunk_job, [(model, X, c, options) for c in chunks]))
    est = _stack([r[0] for r in results])
    S = np.concatenate([r[1] for r in results])
    ok = np.concatenate([r[2] for r in results])
    ok &= np.isfinite(est.paths).all(axis=(1, 2)) & np.isfinite(est.weights).all(axis=(1, 2))
    if ok.sum() < 2:
        raise ModelError(f"bootstrap: only {int(ok.sum())} of {R} resamples could be estimated "
                         "(an indicator is constant in the others)", hint="check for near-constant indicators")
    keep = np.flatnonzero(ok)
    est = Estimates(model=est.model, scheme=est.scheme, consistent=est.consistent, meta=dict(est.meta),
                    **{a: getattr(est, a)[keep] for a in _ARRAYS})
    est = apply_sign_change(est, original, sign_change)
    return BootstrapDraws(R=int(R), seed=seed, n_jobs=workers, ci_level=float(ci_level), ci_type=boot_ci,
                          sign_change=sign_change, indices=idx, estimates=est, S=S[keep], original=original,
                          ok=ok, seconds=time.perf_counter() - t0, X=X, options=options, input_model=model)

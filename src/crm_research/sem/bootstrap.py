"""Nonparametric bootstrap of rows (lavaan ``se = "bootstrap"``), fast and reproducible.

How it is fast (1,000 refits of a 21-parameter SEM in well under a second of CPU):

* a replicate is a vector of frequency weights over the rows, so its sample moments are two
  small matrix products (no copied data frames);
* replicates are refitted *together*: a vectorized Fisher-scoring kernel on stacks of model
  matrices (analytic gradient and expected information of :mod:`.model`), warm-started at
  the full-sample estimate, with a per-replicate backtracking line search; a replicate
  stops iterating as soon as it has converged;
* chunks of replicates go to a process pool (all cores) when the remaining work, timed on
  the first chunk, is worth it (``n_jobs=None``), or to ``n_jobs`` processes if given.

How it is reproducible: replicate ``r`` draws its rows from its own generator,
``numpy.random.SeedSequence(seed).spawn(R)[r]``, and chunk boundaries do not depend on
the number of workers, so the replicates -- and every number derived from them -- are
identical for a given seed whatever ``n_jobs`` is.

With ``missing="ml"`` a replicate resamples rows (their missing patterns with them) and is
refitted by full-information ML: per missing pattern the weighted counts, means and
covariances of the drawn rows, and a batched BFGS on the FIML objective started at the
full-sample estimate with its inverse observed information (:mod:`.fiml`).

Replicates that fail (non-positive-definite resampled covariance matrix, no convergence)
and, unless ``keep_nonadmissible=True``, nonadmissible ones (negative variance estimates,
non-positive-definite latent covariance matrix) are excluded and counted.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .estimate import one_blas_thread
from .model import KIND_A, KIND_M, KIND_S


CHUNK = 125          # replicates per task; fixed, so results do not depend on n_jobs
MAX_ITER = 100
STEP_TOL = 1e-9      # convergence: max |step| <= STEP_TOL * (1 + max |theta|)
REFIT_TOL = 1e-7     # the same for the chord/Broyden refits (their last step is a contraction;
                     # estimates within ~1e-7 of the STEP_TOL solution, far below lavaan's own precision)
EPS34 = np.finfo(float).eps ** 0.75
STATUS = {0: "ok", 1: "failed", 2: "nonadmissible"}
#: lavaan's bootstrap interval types (``parameterEstimates(boot.ci.type=)``), our ``boot_ci``.
BOOT_CI_TYPES = ("perc", "bca.simple", "bca", "norm", "basic")


@dataclass
class _Data:
    X: np.ndarray         # data centered at the full-sample mean (N, p)
    center: np.ndarray
    XX: np.ndarray        # row-wise outer products (N, p*p)
    N: int


@dataclass
class Kernel:
    """What a worker needs: the model structure and the data (plain arrays)."""

    model: object         # RAMModel (weights and structure; fixed.x moments come per replicate)
    data: list
    var_par: np.ndarray   # free parameters that are variances (admissibility)
    I0inv: np.ndarray | None = None   # inverse expected information at the full-sample estimate


@dataclass
class _Size:
    N: int


@dataclass
class FIMLKernel:
    """What a worker needs to bootstrap a missing="ml" fit: rows by missing pattern."""

    model: object
    groups: list          # per group: list of fiml.PatternRows
    data: list            # per group: _Size (for draw_counts)
    N: int
    Hinv: np.ndarray      # inverse of the full-sample FIML Hessian (BFGS start)
    var_par: np.ndarray


def make_fiml_kernel(model, stats, info) -> FIMLKernel:
    from .fiml import pattern_rows

    f = model.pt.frame
    var_rows = f[(f["op"] == "~~") & (f["lhs"] == f["rhs"]) & (f["free"] > 0)]
    try:
        Hinv = np.linalg.inv(info)
        Hinv = 0.5 * (Hinv + Hinv.T)
        if np.linalg.eigvalsh(Hinv).min() <= 0:
            raise np.linalg.LinAlgError
    except (np.linalg.LinAlgError, TypeError, ValueError):
        Hinv = np.eye(model.q)
    return FIMLKernel(model, [pattern_rows(st.X) for st in stats.groups], [_Size(st.N) for st in stats.groups],
                      int(stats.ntotal), Hinv, np.unique(var_rows["free"].to_numpy() - 1))


def run_chunk_fiml(kern: FIMLKernel, theta_hat: np.ndarray, entropy: int, start: int, stop: int):
    """Refit replicates start..stop-1 by FIML (batched BFGS from the full-sample estimate)."""
    from .fiml import batch_bfgs, resampled_patterns

    reps = np.arange(start, stop)
    counts = draw_counts(kern, entropy, reps)
    moms = [resampled_patterns(pats, W) for pats, W in zip(kern.groups, counts)]
    th0 = np.broadcast_to(theta_hat, (len(reps), kern.model.q))
    theta, conv, iters = batch_bfgs(kern.model, th0, kern.Hinv, kern.groups, moms, kern.N)
    adm = _admissible(kern, theta, [None] * len(kern.groups))
    status = np.where(conv, np.where(adm, 0, 2), 1).astype(np.int8)
    theta[~conv] = np.nan
    return theta, status, iters


def make_kernel(model, stats) -> Kernel:
    data = []
    for st in stats.groups:
        X = st.X - st.mean
        XX = (X[:, :, None] * X[:, None, :]).reshape(X.shape[0], -1)
        data.append(_Data(X, st.mean.copy(), XX, st.N))
    f = model.pt.frame
    var_rows = f[(f["op"] == "~~") & (f["lhs"] == f["rhs"]) & (f["free"] > 0)]
    var_par = np.unique(var_rows["free"].to_numpy() - 1)
    return Kernel(model, data, var_par)


def _with_information(kern: Kernel, theta_hat: np.ndarray, stats) -> Kernel:
    """Attach the inverse expected information at the full-sample estimate (the shared
    first step of every replicate, see :func:`refit`)."""
    kern.I0inv = None
    try:
        _, _, I0, _ = kern.model.batch_derivatives(np.asarray(theta_hat, float)[None, :],
                                                   kern.model.group_moments(stats))
        I0inv = np.linalg.inv(I0[0])
        kern.I0inv = I0inv if np.all(np.isfinite(I0inv)) else None
    except (np.linalg.LinAlgError, ValueError):
        pass
    return kern


# ------------------------------------------------------------------------ moments
def resample_moments(kern: Kernel, counts: list[np.ndarray]):
    """Per group: (mean (B,p), S (B,p,p), logdetS (B,), ok (B,)) from frequency weights."""
    out = []
    p = kern.model.p
    for dat, W in zip(kern.data, counts):
        W = W.astype(float)
        n = dat.N
        M = W @ dat.X / n
        S = (W @ dat.XX / n).reshape(-1, p, p) - M[:, :, None] * M[:, None, :]
        S = 0.5 * (S + np.swapaxes(S, 1, 2))
        sign, logdet = np.linalg.slogdet(S)
        out.append((M + dat.center, S, logdet, sign > 0))
    return out


def _admissible(kern: Kernel, theta, moms):
    model = kern.model
    ok = np.all(theta[:, kern.var_par] >= 0, axis=1) if len(kern.var_par) else np.ones(len(theta), bool)
    if model.lv:
        p = model.p
        for g, mom in enumerate(moms):
            _, C, _, _ = model.batch_implied(theta, g, mom)
            Clv = C[:, p:, p:]
            ev = np.linalg.eigvalsh(Clv)
            ok &= ev.min(axis=1) >= -EPS34
    return ok


def draw_counts(kern: Kernel, entropy: int, reps: np.ndarray) -> list[np.ndarray]:
    """Frequency weights of replicates ``reps``: per group an (len(reps), N_g) int array.
    Replicate r uses the generator of SeedSequence(entropy, spawn_key=(r,)), i.e. the r-th
    child of SeedSequence(entropy).spawn()."""
    counts = [np.zeros((len(reps), d.N), dtype=np.int32) for d in kern.data]
    for i, r in enumerate(reps):
        rng = np.random.default_rng(np.random.SeedSequence(entropy, spawn_key=(int(r),)))
        for gi, d in enumerate(kern.data):
            counts[gi][i] = np.bincount(rng.integers(0, d.N, size=d.N), minlength=d.N)
    return counts


def _leaf_observed(model, g: int) -> bool:
    """No directed path starts at an observed variable (A[:, :p] is structurally zero), so
    (I - A)^-1 needs only the latent block's inverse."""
    gs = model.groups[g]
    p = model.p
    a = gs.kind == KIND_A
    return p < model.mdim and not np.any(gs.A0[:, :p] != 0) and not np.any(gs.col[a] < p)


def _implied_stack(model, theta: np.ndarray, g: int, mom):
    """(B, C, B m) of :meth:`RAMModel.batch_implied`, with the inverse of ``I - A`` by blocks
    when observed variables are leaves (every CFA and latent-variable SEM)."""
    A, S, m = model.batch_matrices(theta, g, mom)
    p, k = model.p, model.mdim
    if _leaf_observed(model, g):
        Bll = np.linalg.inv(np.eye(k - p) - A[:, p:, p:])
        Bi = np.zeros_like(A)
        Bi[:, :p, :p] = np.eye(p)
        Bi[:, :p, p:] = A[:, :p, p:] @ Bll
        Bi[:, p:, p:] = Bll
    else:
        Bi = np.linalg.inv(np.eye(k) - A)
    C = Bi @ S @ np.swapaxes(Bi, 1, 2)
    C = 0.5 * (C + np.swapaxes(C, 1, 2))
    Bm = (Bi @ m[:, :, None])[:, :, 0]
    return Bi, C, Bm


def _value_gradient(model, theta: np.ndarray, moms):
    """ML discrepancy F (B,), score direction g = Delta' W (s - sigma) (B, q) and a flag
    (implied covariance positive definite) for a stack of parameter vectors: the cheap part
    of :meth:`RAMModel.batch_derivatives` (no information, no Hessian), written as
    ``B_p' R C`` / ``B_p' R B_p`` products gathered at the free entries."""
    p = model.p
    Bn, q = theta.shape
    F = np.zeros(Bn)
    g = np.zeros((Bn, q))
    ok = np.ones(Bn, dtype=bool)
    for gi, mom in enumerate(moms):
        gs = model.groups[gi]
        Bi, C, Bm = _implied_stack(model, theta, gi, mom)
        Sig = C[:, :p, :p]
        try:
            L = np.linalg.cholesky(Sig)
            okg = np.ones(Bn, dtype=bool)
        except np.linalg.LinAlgError:
            L = np.zeros_like(Sig)
            okg = np.zeros(Bn, dtype=bool)
            for b in range(Bn):
                try:
                    L[b] = np.linalg.cholesky(Sig[b])
                    okg[b] = True
                except np.linalg.LinAlgError:
                    L[b] = np.eye(p)
        Om = np.linalg.inv(np.where(okg[:, None, None], Sig, np.eye(p)))
        logdet = 2.0 * np.log(np.abs(np.diagonal(L, axis1=1, axis2=2))).sum(axis=1)
        Fg = logdet + np.einsum("bij,bij->b", mom[1], Om) - mom[2] - p
        E = mom[1] - Sig
        ms = model.meanstructure
        if ms:
            dd = mom[0] - Bm[:, :p]
            Fg = Fg + np.einsum("bi,bij,bj->b", dd, Om, dd)
            E = E + dd[:, :, None] * dd[:, None, :]
        BpT = np.swapaxes(Bi[:, :p, :], 1, 2)
        BR = BpT @ (Om @ E @ Om)
        graw = np.zeros((Bn, len(gs.kind)))
        a, s_, mm = gs.kind == KIND_A, gs.kind == KIND_S, gs.kind == KIND_M
        if a.any():
            GA = BR @ np.swapaxes(C[:, :, :p], 1, 2)
            graw[:, a] = GA[:, gs.row[a], gs.col[a]]
        if s_.any():
            GS = BR @ Bi[:, :p, :]
            graw[:, s_] = GS[:, gs.row[s_], gs.col[s_]] * np.where(gs.row[s_] == gs.col[s_], 0.5, 1.0)
        if ms:
            h = np.einsum("bmp,bp->bm", BpT, np.einsum("bij,bj->bi", Om, dd))
            if a.any():
                graw[:, a] += h[:, gs.row[a]] * Bm[:, gs.col[a]]
            if mm.any():
                graw[:, mm] += h[:, gs.row[mm]]
        w = model.weights[gi]
        F += w * np.where(okg, Fg, np.inf)
        g += w * (graw @ gs.P)
        ok &= okg & np.isfinite(Fg)
    return F, g, ok


def _broyden_chord(model, moms, th, idx, cur_F, cur_g, cur_step, cur_Hinv, conv, evals, *, tol, gtol, shrink,
                   max_chord, first_is_newton):
    """Steps ``theta += H^-1 2g`` with a fixed-then-Broyden-updated inverse Hessian per row,
    evaluating only F and g.  Returns (rows that need a new exact Hessian, rows whose very
    first step -- a Newton step -- raised F)."""
    again, failed = [], []
    for c in range(max_chord):
        if not len(idx):
            break
        trial = th[idx] + cur_step
        Fn, gn, okn = _value_gradient(model, trial, [tuple(x[idx] for x in m) for m in moms])
        evals[idx] += 1
        worse = ~okn | ~(Fn <= cur_F + 1e-12 * np.maximum(1.0, np.abs(cur_F)))
        (failed if (c == 0 and first_is_newton) else again).append(idx[worse])
        acc = ~worse
        th[idx[acc]] = trial[acc]
        small = np.abs(cur_step).max(axis=1) <= tol * (1.0 + np.abs(trial).max(axis=1))
        done = acc & small & (np.abs(gn).max(axis=1) < gtol)
        conv[idx[done]] = True
        # "good" Broyden update of the inverse Hessian (Sherman-Morrison), y = change of grad F
        y = -2.0 * (gn - cur_g)
        Hy = np.einsum("bij,bj->bi", cur_Hinv, y)
        sH = np.einsum("bi,bij->bj", cur_step, cur_Hinv)
        den = np.einsum("bi,bi->b", cur_step, Hy)
        okb = acc & (np.abs(den) > 1e-300) & np.isfinite(den)
        den = np.where(okb, den, 1.0)
        upd = (cur_step - Hy)[:, :, None] * sH[:, None, :] / den[:, None, None]
        cur_Hinv = cur_Hinv + np.where(okb[:, None, None], upd, 0.0)
        nstep = np.einsum("bij,bj->bi", cur_Hinv, 2.0 * gn)
        slow = ~(np.abs(nstep).max(axis=1) <= shrink * np.abs(cur_step).max(axis=1))
        again.append(idx[acc & ~done & slow])
        cont = acc & ~done & ~slow
        idx, cur_F, cur_step, cur_Hinv, cur_g = idx[cont], Fn[cont], nstep[cont], cur_Hinv[cont], gn[cont]
    again.append(idx)
    cat = lambda lst: np.unique(np.concatenate(lst)) if lst else np.zeros(0, dtype=int)  # noqa: E731
    return cat(again), cat(failed)


def _refit(model, theta_hat: np.ndarray, moms, I0inv=None, *, tol: float = REFIT_TOL,
          gtol: float = 1e-6, max_newton: int = 30, max_chord: int = 25, shrink: float = 0.7,
          fisher_rounds: int = 1):
    """Refit a stack of replicates (each its own moments) from the full-sample estimate.

    1. Shared first step: the Fisher-scoring step from ``theta_hat``, whose information
       does not depend on the replicate, ``theta_1 = theta_hat + I0^-1 g_r(theta_hat)``
       (the linear, "one-step" bootstrap estimate).
    2. A scoring step with the replicate's expected information (twice the information
       approximates the Hessian of F; ``fisher_rounds`` such rounds), then quasi-Newton
       steps that reuse its inverse, improved by "good" Broyden updates (Sherman-Morrison),
       with only the discrepancy and gradient evaluated (:func:`_value_gradient`, ~5x cheaper
       than a Hessian).  (Starting from the full-sample Hessian shared by all replicates
       was tried: more evaluations, no faster.)
    3. Replicates whose steps stop shrinking by ``shrink`` per step, or whose discrepancy
       rises, get the exact Hessian at their current point (Newton step, then Broyden steps
       again), as often as needed.
    4. A replicate has converged when its last step is below ``tol`` (relative) and its
       largest score component below ``gtol`` -- the criterion of :func:`newton_fisher`.
       Replicates that fail here (non-positive-definite Hessian, rising discrepancy on a
       Newton step) are refitted from ``theta_hat`` by :func:`newton_fisher` (line search,
       Fisher fallbacks), so no replicate is lost to the faster path.

    Every row's path depends only on its own moments, never on the other rows of the stack.

    Returns (theta (n, q), converged (n,), evaluations (n,)).
    """
    from .estimate import newton_fisher

    n = len(moms[0][0])
    q = model.q
    th = np.array(np.broadcast_to(theta_hat, (n, q)), dtype=float)
    conv = np.zeros(n, dtype=bool)
    fail = np.zeros(n, dtype=bool)
    evals = np.zeros(n, dtype=int)
    kw = dict(tol=tol, gtol=gtol, shrink=shrink, max_chord=max_chord)

    def sub(rows):
        return [tuple(x[rows] for x in m) for m in moms]

    rows = np.arange(n)
    if I0inv is not None:
        _, g0, ok0 = _value_gradient(model, th, moms)
        evals += 1
        step0 = g0 @ I0inv.T
        good = ok0 & np.isfinite(step0).all(axis=1)
        th[good] += step0[good]
    for rnd in range(max_newton):
        rows = rows[~conv[rows] & ~fail[rows]]
        if not len(rows):
            break
        Fa, ga, Ia, Ha = model.batch_derivatives(th[rows], sub(rows), hessian=rnd >= fisher_rounds)
        if rnd < fisher_rounds:
            Ha = 2.0 * Ia
        evals[rows] += 1
        try:
            Hinv = np.linalg.inv(Ha)
        except np.linalg.LinAlgError:
            Hinv = np.full_like(Ha, np.nan)
            for b in range(len(Ha)):
                try:
                    Hinv[b] = np.linalg.inv(Ha[b])
                except np.linalg.LinAlgError:
                    pass
        step = np.einsum("bij,bj->bi", Hinv, 2.0 * ga)
        dec = np.einsum("bi,bi->b", ga, step)
        bad = ~np.isfinite(Fa) | ~np.isfinite(step).all(axis=1) | ~(dec > 0)
        fail[rows[bad]] = True
        keep = ~bad
        rows, failed = _broyden_chord(model, moms, th, rows[keep], Fa[keep], ga[keep], step[keep], Hinv[keep], conv,
                                      evals, first_is_newton=True, **kw)
        fail[failed] = True
    fail |= ~conv
    if fail.any():
        rows = np.where(fail)[0]
        th0 = np.broadcast_to(theta_hat, (len(rows), q))
        thf, cf, itf, _, _ = newton_fisher(model, th0, sub(rows), max_iter=MAX_ITER, tol=tol, fisher_first=0)
        th[rows] = thf
        conv[rows] = cf
        evals[rows] += itf
    return th, conv, evals


def run_chunk(kern: Kernel, theta_hat: np.ndarray, entropy: int, start: int, stop: int):
    """Refit replicates start..stop-1; returns (theta (n,q), status (n,), iterations (n,))."""
    if isinstance(kern, FIMLKernel):
        return run_chunk_fiml(kern, theta_hat, entropy, start, stop)
    reps = np.arange(start, stop)
    counts = draw_counts(kern, entropy, reps)
    moms = resample_moments(kern, counts)
    n = len(reps)
    q = kern.model.q
    status = np.ones(n, dtype=np.int8)
    theta = np.full((n, q), np.nan)
    iters = np.zeros(n, dtype=int)
    okS = np.all(np.stack([m[3] for m in moms]), axis=0)
    idx = np.where(okS)[0]
    if len(idx):
        sub = [tuple(x[idx] for x in mom[:3]) for mom in moms]
        th, conv, it = _refit(kern.model, np.asarray(theta_hat, float), sub, kern.I0inv)
        theta[idx] = th
        iters[idx] = it
        adm = _admissible(kern, th, sub)
        status[idx] = np.where(conv, np.where(adm, 0, 2), 1)
        theta[idx[~conv]] = np.nan
    return theta, status, iters


# ------------------------------------------------------------------------ process pool
_WORKER = {}


def _init_worker(kern, theta_hat, entropy):
    _WORKER["args"] = (kern, theta_hat, entropy)


def _work(bounds):
    kern, theta_hat, entropy = _WORKER["args"]
    with one_blas_thread():
        return run_chunk(kern, theta_hat, entropy, *bounds)


POOL_MIN_SECONDS = 0.5   # below this much remaining work a process pool costs more than it saves


def bootstrap_replicates(kern: Kernel, theta_hat: np.ndarray, R: int, entropy: int, n_jobs: int | None):
    """Run R replicates; returns (theta (R,q), status (R,), iterations (R,), n_jobs used)."""
    with one_blas_thread():
        return _bootstrap_replicates(kern, theta_hat, R, entropy, n_jobs)


def _bootstrap_replicates(kern, theta_hat, R, entropy, n_jobs):
    """Chunks have fixed boundaries, so which process runs a chunk cannot change a number.
    With ``n_jobs=None`` the first chunk runs here and is timed; the rest goes to a pool of
    all cores only if it would take longer than ``POOL_MIN_SECONDS`` in one process."""
    bounds = [(s, min(s + CHUNK, R)) for s in range(0, R, CHUNK)]
    cores = os.cpu_count() or 1
    parts = []
    if n_jobs is None:
        t0 = time.perf_counter()
        parts.append(run_chunk(kern, theta_hat, entropy, *bounds[0]))
        remaining = (time.perf_counter() - t0) * (len(bounds) - 1)
        bounds = bounds[1:]
        jobs = min(cores, len(bounds)) if remaining > POOL_MIN_SECONDS else 1
    else:
        jobs = min(max(1, int(n_jobs)), len(bounds))
    if jobs <= 1:
        parts += [run_chunk(kern, theta_hat, entropy, a, b) for a, b in bounds]
    elif bounds:
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor

        # fork where available: no re-import of __main__ (scripts and notebooks without a
        # main guard work) and no start-up cost; elsewhere spawn
        ctx = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
        with ProcessPoolExecutor(max_workers=jobs, mp_context=ctx, initializer=_init_worker,
                                 initargs=(kern, theta_hat, entropy)) as ex:
            parts += list(ex.map(_work, bounds))
    theta = np.concatenate([p[0] for p in parts])
    status = np.concatenate([p[1] for p in parts])
    iters = np.concatenate([p[2] for p in parts])
    return theta, status, iters, max(jobs, 1)


# ------------------------------------------------------------------------ intervals
def norm_inter(t: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Quantiles by interpolation on the normal scale, as boot::norm.inter (used by lavaan)."""
    from scipy.special import ndtri

    t = np.sort(t[np.isfinite(t)])
    R = len(t)
    alpha = np.atleast_1d(np.asarray(alpha, dtype=float))
    if R == 0:
        return np.full(len(alpha), np.nan)
    rk = (R + 1) * alpha
    k = np.trunc(rk).astype(int)
    out = np.empty(len(alpha))
    for i in range(len(alpha)):
        ki = k[i]
        if ki == rk[i] and 1 <= ki <= R:
            out[i] = t[ki - 1]
        elif ki <= 0:
            out[i] = t[0]
        elif ki >= R:
            out[i] = t[R - 1]
        else:
            z1 = ndtri(alpha[i])
            z2 = ndtri(ki / (R + 1))
            z3 = ndtri((ki + 1) / (R + 1))
            tk, tk1 = t[ki - 1], t[ki]
            out[i] = tk + (z1 - z2) / (z3 - z2) * (tk1 - tk)
    return out


def percentile_ci(t: np.ndarray, level: float) -> np.ndarray:
    return norm_inter(t, np.array([(1 - level) / 2, (1 + level) / 2]))


def bc_ci(t: np.ndarray, t0: float, level: float, a: float = 0.0) -> np.ndarray:
    """Bias-corrected percentile interval: lavaan's ``bca.simple`` (acceleration ``a = 0``)
    or, with the acceleration ``a`` of :func:`acceleration`, lavaan's ``bca``."""
    from scipy.special import ndtr, ndtri

    t = t[np.isfinite(t)]
    if len(t) < 2 or np.var(t) == 0:
        return np.array([t0, t0])
    zalpha = ndtri(np.array([(1 - level) / 2, (1 + level) / 2]))
    w = ndtri(np.sum(t < t0) / len(t))
    adj = ndtr(w + (w + zalpha) / (1 - a * (w + zalpha)))
    return norm_inter(t, adj)


def basic_ci(t: np.ndarray, t0: float, level: float) -> np.ndarray:
    """lavaan's ``basic`` interval: 2 est - the upper/lower percentile.

    >>> t = np.linspace(0.0, 2.0, 201)
    >>> basic_ci(t, 1.2, 0.9).round(3).tolist()
    [0.491, 2.309]
    """
    q = norm_inter(t, np.array([(1 + level) / 2, (1 - level) / 2]))
    return 2 * t0 - q


def normal_ci(t: np.ndarray, t0: float, level: float, center: float | None = None, ddof: int = 0) -> np.ndarray:
    """lavaan's ``norm`` interval: bias-corrected estimate +- z * bootstrap SE, the bias
    being ``center - est`` with ``center`` the mean of the replicates (for ``:=``
    parameters lavaan uses the definition at the mean of the free parameters' replicates).
    The SE is lavaan's: ``ddof=0`` for free parameters, ``ddof=1`` for ``:=`` ones.

    >>> t = np.array([0.8, 0.9, 1.0, 1.1, 1.2])
    >>> normal_ci(t, 1.0, 0.95).round(3).tolist()
    [0.723, 1.277]
    """
    from scipy.special import ndtri

    t = t[np.isfinite(t)]
    if len(t) < 2:
        return np.array([np.nan, np.nan])
    c = np.mean(t) if center is None else center
    se = np.std(t, ddof=ddof)
    fac = ndtri(np.array([(1 - level) / 2, (1 + level) / 2]))
    return (t0 - (c - t0)) + se * fac


def acceleration(T: np.ndarray, freq: np.ndarray) -> np.ndarray:
    """BCa acceleration of every column of ``T`` (R, k) as lavaan 0.6-14's
    ``parameterEstimates(boot.ci.type = "bca")`` (``R/lav_object_methods.R``): the least-
    squares regression of the replicates on the resample frequencies ``freq`` (R, n; the
    first case of each group already left out), slopes ``L`` (a 0 prepended for the case
    left out, as lavaan), ``a = sum(l^3) / (6 sum(l^2)^1.5)`` with ``l = L - mean(L)``
    (the jackknife-free empirical influence of Efron 1987, section 7 / Efron & Tibshirani
    1993, eq. 14.15, estimated by regression).

    >>> rng = np.random.default_rng(1)
    >>> freq = rng.multinomial(20, np.full(20, 0.05), size=200)
    >>> x = np.exp(np.linspace(-1, 1, 20))          # a skewed statistic: the mean of x
    >>> T = (freq @ x / 20)[:, None]
    >>> float(acceleration(T, freq[:, 1:])[0]) > 0
    True
    """
    X = np.column_stack([np.ones(len(freq)), freq.astype(float)])
    beta, *_ = np.linalg.lstsq(X, T, rcond=None)
    L = np.vstack([np.zeros((1, T.shape[1])), beta[1:]])
    L = L - L.mean(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.sum(L ** 3, axis=0) / (6.0 * np.sum(L ** 2, axis=0) ** 1.5)


def interval(kind: str, t: np.ndarray, t0: float, level: float, *, a: float = 0.0,
             center: float | None = None, ddof: int = 0) -> np.ndarray:
    """One bootstrap interval of lavaan's type ``kind`` (one of :data:`BOOT_CI_TYPES`).

    >>> t = np.linspace(0.0, 2.0, 201)
    >>> [interval(k, t, 1.0, 0.9).round(3).tolist() for k in ("perc", "basic")]
    [[0.091, 1.909], [0.091, 1.909]]
    """
    if kind == "perc":
        return percentile_ci(t, level)
    if kind == "bca.simple":
        return bc_ci(t, t0, level)
    if kind == "bca":
        return bc_ci(t, t0, level, a)
    if kind == "basic":
        return basic_ci(t, t0, level)
    if kind == "norm":
        return normal_ci(t, t0, level, center, ddof)
    raise ValueError(f"unknown bootstrap interval {kind!r}; one of {BOOT_CI_TYPES}")


def reduced_frequencies(counts: list[np.ndarray]) -> np.ndarray:
    """Resample frequencies of all groups side by side, without the first case of each
    group (lavaan's ``FREQ[, -first.idx]``).

    >>> reduced_frequencies([np.array([[1, 2, 0]]), np.array([[0, 1]])]).tolist()
    [[2, 0, 1]]
    """
    return np.hstack([c[:, 1:] for c in counts])


# ------------------------------------------------------------------------ driver
def run_bootstrap(res, model, pt, stats, theta_hat, *, R: int, seed, n_jobs, ci_level, boot_ci,
                  keep_nonadmissible, info=None):
    """Bootstrap a fitted model in place: fills ``res.bootstrap`` and the bootstrap columns
    of ``res.estimates`` (se, z, pvalue, ci.lower/upper, boot.perc.*, boot.bc.*)."""
    from scipy.stats import norm

    from .partable import row_names
    from .result import BootstrapResult

    from ..errors import ModelError

    if boot_ci not in BOOT_CI_TYPES:
        raise ModelError(f"boot_ci={boot_ci!r} is not supported", hint=f"use one of {', '.join(BOOT_CI_TYPES)}")
    if boot_ci == "bca" and R < stats.ntotal:
        raise ModelError(f"boot_ci='bca' needs at least as many bootstrap replicates as observations "
                         f"(bootstrap={R}, N={stats.ntotal}), as lavaan",
                         hint=f"use bootstrap >= {stats.ntotal} (e.g. 1000), or boot_ci='bca.simple'")
    t0 = time.perf_counter()
    entropy = int(seed) if seed is not None else int(np.random.SeedSequence().entropy % (2 ** 63))
    kern = make_fiml_kernel(model, stats, info) if stats.missing == "ml" else \
        _with_information(make_kernel(model, stats), theta_hat, stats)
    theta, status, iters, jobs = bootstrap_replicates(kern, np.asarray(theta_hat, float), R, entropy, n_jobs)
    defined = pt.defined()
    f = pt.frame
    grouped = pt.ngroups > 1
    names = row_names(f, grouped)
    free_first = {}
    for k, fr in enumerate(f["free"]):
        if fr > 0 and fr not in free_first:
            free_first[fr] = k
    cols = {"replicate": np.arange(R), "status": [STATUS[int(s)] for s in status]}
    for fr in sorted(free_first):
        cols[names[free_first[fr]]] = theta[:, fr - 1]
    dvals = defined.values(np.nan_to_num(theta)) if len(defined) else np.zeros((R, 0))
    dvals = np.where(np.isnan(theta).any(axis=1, keepdims=True), np.nan, dvals)
    for j, nm in enumerate(defined.names):
        cols[nm] = dvals[:, j]
    reps = pd.DataFrame(cols)
    use = (status == 0) | ((status == 2) & keep_nonadmissible)
    n_ok = int(use.sum())
    n_failed = int((status == 1).sum())
    n_nonadm = int((status == 2).sum())
    est = res.estimates
    se = np.zeros(len(est))
    perc = np.column_stack([est["est"].to_numpy(), est["est"].to_numpy()]).astype(float)
    bc = perc.copy()
    chosen = perc.copy()
    tu = theta[use]
    du = dvals[use]
    acc_free = acc_def = None
    center_def = None
    if n_ok >= 2:
        if boot_ci == "bca":
            freq = reduced_frequencies([c[use] for c in draw_counts(kern, entropy, np.arange(R))])
            acc_free = acceleration(tu, freq)
            acc_def = acceleration(np.nan_to_num(du, nan=0.0, posinf=0.0, neginf=0.0), freq) if du.shape[1] else None
        if boot_ci == "norm" and len(defined):
            center_def = defined.values(tu.mean(axis=0))
    bca_short = boot_ci == "bca" and n_ok < stats.ntotal
    for k, fr in enumerate(f["free"]):
        if f["op"].iat[k] == ":=":
            j = defined.names.index(f["lhs"].iat[k])
            col, t0v = du[:, j], est["est"].iat[k]
            a = acc_def[j] if acc_def is not None else 0.0
            center = center_def[j] if center_def is not None else None
        elif fr > 0:
            col, t0v = tu[:, fr - 1], est["est"].iat[k]
            a = acc_free[fr - 1] if acc_free is not None else 0.0
            center = None
        else:
            continue
        if n_ok >= 2:
            # as lavaan: free parameters' SEs from cov(BOOT) * (R - 1) / R
            # (lav_model_nvcov_bootstrap), := parameters' from cov(BOOT.def) (lav_model_vcov_se)
            se[k] = np.std(col, ddof=1 if f["op"].iat[k] == ":=" else 0)
            perc[k] = percentile_ci(col, ci_level)
            bc[k] = bc_ci(col, t0v, ci_level)
            if boot_ci == "perc":
                chosen[k] = perc[k]
            elif boot_ci == "bca.simple":
                chosen[k] = bc[k]
            elif bca_short:
                chosen[k] = np.nan
            else:
                chosen[k] = interval(boot_ci, col, t0v, ci_level, a=a, center=center,
                                     ddof=1 if f["op"].iat[k] == ":=" else 0)
        else:
            se[k] = np.nan
            perc[k] = bc[k] = chosen[k] = np.nan
    se = np.where(se < np.sqrt(np.finfo(float).eps), 0.0, se)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(se > 0, est["est"].to_numpy() / np.where(se > 0, se, 1.0), np.nan)
    est = est.copy()
    est["se"] = se
    est["z"] = z
    est["pvalue"] = 2 * norm.sf(np.abs(z))
    est["ci.lower"], est["ci.upper"] = chosen[:, 0], chosen[:, 1]
    std_cols = ["std.lv", "std.all"]
    extra = pd.DataFrame({"boot.perc.lower": perc[:, 0], "boot.perc.upper": perc[:, 1],
                          "boot.bc.lower": bc[:, 0], "boot.bc.upper": bc[:, 1]}, index=est.index)
    est = pd.concat([est.drop(columns=std_cols), extra, est[std_cols]], axis=1)
    res.estimates = est
    res.se_type = "bootstrap"
    seconds = time.perf_counter() - t0
    res.bootstrap = BootstrapResult(R=R, n_ok=n_ok, n_failed=n_failed, n_nonadmissible=n_nonadm, seed=entropy,
                                    replicates=reps, seconds=seconds, n_jobs=jobs, ci_type=boot_ci)
    if n_failed:
        res.warnings.append(f"{n_failed} of {R} bootstrap replicates failed (no convergence or a non-positive-"
                            "definite resampled covariance matrix) and were excluded")
    if n_nonadm:
        what = "kept" if keep_nonadmissible else "excluded"
        res.warnings.append(f"{n_nonadm} of {R} bootstrap replicates were nonadmissible (negative variance or "
                            f"non-positive-definite latent covariance matrix) and were {what}")
    if bca_short:
        res.warnings.append(f"BCa intervals need at least as many usable bootstrap replicates as observations "
                            f"({n_ok} < N = {stats.ntotal}); ci.lower/ci.upper are NaN (boot.perc.* and "
                            "boot.bc.* are filled)")
    if n_ok < max(2, 0.5 * R):
        res.warnings.append(f"only {n_ok} of {R} bootstrap replicates are usable: bootstrap SEs and CIs are unreliable")
    if n_ok >= 2:
        fr_sorted = sorted(free_first)
        V = np.cov(tu.T, ddof=0).reshape(len(fr_sorted), len(fr_sorted)) if len(fr_sorted) else np.zeros((0, 0))
        nm = [pt.frame["label"].iat[free_first[fr]] if pt.frame["label"].iat[free_first[fr]]
              and not pt.frame["label"].iat[free_first[fr]].startswith(".p") else names[free_first[fr]]
              for fr in fr_sorted]
        res.vcov = pd.DataFrame(V, index=nm, columns=nm)
    return res

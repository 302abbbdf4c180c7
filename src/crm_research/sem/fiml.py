"""Full-information maximum likelihood for incomplete data (lavaan ``missing = "ml"``).

Rows are grouped by their pattern of observed variables; each pattern contributes the
normal log-likelihood of its observed block with the pattern's sufficient statistics
(count, mean, ML covariance), so the cost is per pattern, not per row.

* :func:`patterns` -- group the rows of a data matrix with NaNs by missing pattern;
* :func:`em_moments` -- the unrestricted (h1) means/covariances by EM, as lavaan's
  ``lav_mvnorm_missing_h1_estimate_moments`` (used for chi-square, SRMR, start values);
* :func:`loglik` -- casewise log-likelihood of given moments;
* :func:`estimate_fiml` -- model estimate (BFGS on the FIML objective with an analytic
  gradient, polished by Newton steps with a finite-difference Hessian of that gradient)
  and the observed information (lavaan's default for ``missing = "ml"``).

Written here because neither semopy nor statsmodels offers FIML for SEM with lavaan's
likelihood and h1 conventions.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

LOG2PI = math.log(2 * math.pi)


@dataclass
class Pattern:
    obs: np.ndarray      # indices of observed variables
    n: int
    mean: np.ndarray     # mean of the observed block
    S: np.ndarray        # ML covariance of the observed block (divisor n)
    X: np.ndarray        # the rows (n, len(obs))


def patterns(X: np.ndarray) -> list[Pattern]:
    """Group rows of ``X`` (NaN = missing) by missing pattern; rows with nothing observed
    must have been removed beforehand."""
    M = ~np.isnan(X)
    keys, inv = np.unique(M, axis=0, return_inverse=True)
    inv = np.asarray(inv).reshape(-1)
    out = []
    for k, key in enumerate(keys):
        rows = X[inv == k][:, key]
        mean = rows.mean(axis=0)
        Xc = rows - mean
        out.append(Pattern(np.where(key)[0], rows.shape[0], mean, (Xc.T @ Xc) / rows.shape[0], rows))
    return out


def loglik(pats: list[Pattern], Sigma: np.ndarray, mu: np.ndarray) -> float:
    """Casewise normal log-likelihood of the observed data; -inf if a block is not PD."""
    ll = 0.0
    for pt in pats:
        o = pt.obs
        Sk = Sigma[np.ix_(o, o)]
        try:
            L = np.linalg.cholesky(Sk)
        except np.linalg.LinAlgError:
            return -math.inf
        Li = np.linalg.inv(L)
        Om = Li.T @ Li
        d = pt.mean - mu[o]
        ll += -pt.n / 2 * (len(o) * LOG2PI + 2 * np.log(np.diag(L)).sum() + np.sum(Om * pt.S) + d @ Om @ d)
    return float(ll)


def em_moments(pats: list[Pattern], p: int, *, max_iter: int = 10000, tol: float = 1e-11):
    """Saturated ML means and covariance matrix of incomplete normal data by EM.

    Iterated to a tight tolerance (relative change of the moments), so the result is the
    maximum of the likelihood that lavaan's EM approximates.

    Returns
    -------
    mean, cov, converged, iterations
    """
    N = sum(pt.n for pt in pats)
    # start: available-case means and variances, zero covariances
    s1 = np.zeros(p); cnt = np.zeros(p); s2 = np.zeros(p)
    for pt in pats:
        s1[pt.obs] += pt.X.sum(axis=0)
        s2[pt.obs] += (pt.X ** 2).sum(axis=0)
        cnt[pt.obs] += pt.n
    mu = s1 / cnt
    Sig = np.diag(np.maximum(s2 / cnt - mu ** 2, 1e-8))
    conv = False
    it = 0
    for it in range(1, max_iter + 1):
        T1 = np.zeros(p)
        T2 = np.zeros((p, p))
        for pt in pats:
            o = pt.obs
            m = np.setdiff1d(np.arange(p), o)
            # sufficient statistics of the observed block
            xsum = pt.X.sum(axis=0)
            xx = pt.X.T @ pt.X
            if len(m) == 0:
                T1 += xsum
                T2 += xx
                continue
            Soo = Sig[np.ix_(o, o)]
            Smo = Sig[np.ix_(m, o)]
            Bmo = np.linalg.solve(Soo, Smo.T).T            # regression of missing on observed
            cmiss = Sig[np.ix_(m, m)] - Bmo @ Smo.T         # conditional covariance
            Xm = mu[m] + (pt.X - mu[o]) @ Bmo.T             # conditional means (n, |m|)
            T1[o] += xsum
            T1[m] += Xm.sum(axis=0)
            T2[np.ix_(o, o)] += xx
            om = pt.X.T @ Xm
            T2[np.ix_(o, m)] += om
            T2[np.ix_(m, o)] += om.T
            T2[np.ix_(m, m)] += Xm.T @ Xm + pt.n * cmiss
        mu_new = T1 / N
        Sig_new = T2 / N - np.outer(mu_new, mu_new)
        Sig_new = 0.5 * (Sig_new + Sig_new.T)
        delta = max(np.abs(mu_new - mu).max(), np.abs(Sig_new - Sig).max())
        scale = 1.0 + max(np.abs(mu_new).max(), np.abs(Sig_new).max())
        mu, Sig = mu_new, Sig_new
        if delta <= tol * scale:
            conv = True
            break
    return mu, Sig, conv, it


# ------------------------------------------------------------------------ model FIML
def _raw_vectors(model, theta, g, mom):
    """Per raw free entry r: u_r, v_r (dSigma_r = u v' + v u') and d_r (dmu_r)."""
    from .model import KIND_A, KIND_M, KIND_S

    gs = model.groups[g]
    p = model.p
    Bi, C, Bm, _ = model.batch_implied(theta[None, :], g, mom)
    Bi, C, Bm = Bi[0], C[0], Bm[0]
    r = len(gs.kind)
    U = np.zeros((r, p)); V = np.zeros((r, p)); D = np.zeros((r, p))
    Bp = Bi[:p, :]
    for k in range(r):
        i, j = gs.row[k], gs.col[k]
        if gs.kind[k] == KIND_A:
            U[k] = Bp[:, i]
            V[k] = C[j, :p]
            D[k] = Bp[:, i] * Bm[j]
        elif gs.kind[k] == KIND_S:
            U[k] = Bp[:, i]
            V[k] = Bp[:, j] * (0.5 if i == j else 1.0)
        elif gs.kind[k] == KIND_M:
            D[k] = Bp[:, i]
    return C[:p, :p], Bm[:p], U, V, D


class FIMLObjective:
    """F(theta) = -logl(theta) / N (plus a constant) over all groups, with gradient."""

    def __init__(self, model, stats):
        self.model = model
        self.stats = stats
        self.N = stats.ntotal
        self.moms = model.group_moments(stats)

    def value_grad(self, theta, need_grad=True):
        model, q = self.model, self.model.q
        F = 0.0
        grad = np.zeros(q)
        for g, st in enumerate(self.stats.groups):
            Sigma, mu, U, V, D = _raw_vectors(model, theta, g, self.moms[g])
            p = len(mu)
            G = np.zeros((p, p))
            gm = np.zeros(p)
            for pt in st.patterns:
                o = pt.obs
                try:
                    L = np.linalg.cholesky(Sigma[np.ix_(o, o)])
                except np.linalg.LinAlgError:
                    return math.inf, None
                Li = np.linalg.inv(L)
                Om = Li.T @ Li
                d = pt.mean - mu[o]
                w = pt.n / self.N
                F += 0.5 * w * (2 * np.log(np.diag(L)).sum() + np.sum(Om * pt.S) + d @ Om @ d + len(o) * LOG2PI)
                if need_grad:
                    Od = Om @ d
                    G[np.ix_(o, o)] += 0.5 * w * (Om - Om @ pt.S @ Om - np.outer(Od, Od))
                    gm[o] -= w * Od
            if need_grad:
                graw = 2.0 * np.einsum("rp,pq,rq->r", U, G, V) + D @ gm
                grad += graw @ self.model.groups[g].P
        return F, grad

    def fun(self, theta):
        F, g = self.value_grad(theta)
        if not np.isfinite(F):
            return 1e10, np.zeros_like(theta)
        return F, g

    def hessian(self, theta, h=1e-5):
        """Central finite differences of the analytic gradient (symmetrized), the 2q gradients
        evaluated in one batch (:func:`batch_value_grad`)."""
        q = len(theta)
        steps = h * np.maximum(1.0, np.abs(theta))
        E = np.diag(steps)
        thetas = np.concatenate([theta[None, :] + E, theta[None, :] - E])
        B = thetas.shape[0]
        groups = [st.patterns for st in self.stats.groups]
        moms = [[(np.full(B, float(pt.n)), np.broadcast_to(pt.mean, (B,) + pt.mean.shape),
                  np.broadcast_to(pt.S, (B,) + pt.S.shape)) for pt in st.patterns] for st in self.stats.groups]
        F, g = batch_value_grad(self.model, thetas, groups, moms, self.N)
        if not np.all(np.isfinite(F)):
            return None
        H = ((g[:q] - g[q:]) / (2 * steps[:, None])).T
        return 0.5 * (H + H.T)


def estimate_fiml(model, stats, theta0):
    """Minimize the FIML objective from ``theta0``.

    Returns
    -------
    Optimum (theta, F = -logl/N up to a constant, converged, ...) and the observed unit
    information (Hessian of F, so vcov = H^-1 / N), or None when not available.
    """
    from scipy.optimize import minimize

    from .optimum import Optimum

    obj = FIMLObjective(model, stats)
    res = minimize(obj.fun, np.asarray(theta0, float), jac=True, method="BFGS",
                   options={"gtol": 1e-8, "maxiter": 20000})
    theta = res.x
    its = int(res.nit)
    H = None
    H_at = None
    # Newton polish with the finite-difference Hessian of the analytic gradient
    for _ in range(20):
        F, g = obj.value_grad(theta)
        if g is None:
            break
        H = obj.hessian(theta)
        H_at = theta.copy()
        if H is None:
            break
        if np.abs(g).max() < 1e-10:
            break
        try:
            step = np.linalg.solve(H, g)
        except np.linalg.LinAlgError:
            break
        t = 1.0
        while t > 1e-6:
            Fn, _ = obj.value_grad(theta - t * step, need_grad=False)
            if np.isfinite(Fn) and Fn <= F + 1e-15 * max(1.0, abs(F)):
                break
            t *= 0.5
        if t <= 1e-6:
            break
        theta = theta - t * step
        its += 1
    F, g = obj.value_grad(theta)
    gmax = float(np.abs(g).max()) if g is not None and len(g) else (0.0 if g is not None else math.inf)
    if g is None or not len(g):
        H = None
    elif H is None or H_at is None or not np.array_equal(H_at, theta):   # reuse the last Hessian
        H = obj.hessian(theta)
    conv = bool(np.isfinite(F) and gmax < 1e-5)
    msgs = [] if conv else [str(res.message)]
    return Optimum(theta, float(F), conv, its, "fiml-bfgs+newton", gmax, msgs), H


# ------------------------------------------------------------------------ bootstrap (batched)
@dataclass
class PatternRows:
    """Rows of one missing pattern of one group, kept for resampling."""

    idx: np.ndarray      # row numbers in the group's data
    obs: np.ndarray      # observed variables
    X: np.ndarray        # (n_k, |obs|)
    XX: np.ndarray       # (n_k, |obs|^2) row-wise outer products


def pattern_rows(X: np.ndarray) -> list[PatternRows]:
    """Missing patterns of a group's rows (NaN = missing) with the row numbers of each."""
    M = ~np.isnan(X)
    keys, inv = np.unique(M, axis=0, return_inverse=True)
    inv = np.asarray(inv).reshape(-1)
    out = []
    for k, key in enumerate(keys):
        idx = np.where(inv == k)[0]
        obs = np.where(key)[0]
        Xk = X[np.ix_(idx, obs)]
        out.append(PatternRows(idx, obs, Xk, (Xk[:, :, None] * Xk[:, None, :]).reshape(len(idx), -1)))
    return out


def resampled_patterns(pats: list[PatternRows], W: np.ndarray):
    """Per pattern the weighted count (B,), mean (B, k) and ML covariance (B, k, k) of the
    replicates whose row frequencies are ``W`` (B, N_g); zeros where a pattern is not drawn."""
    out = []
    for pr in pats:
        Wk = W[:, pr.idx].astype(float)
        n = Wk.sum(axis=1)
        k = len(pr.obs)
        safe = np.where(n > 0, n, 1.0)
        mean = (Wk @ pr.X) / safe[:, None]
        S = (Wk @ pr.XX).reshape(-1, k, k) / safe[:, None, None] - mean[:, :, None] * mean[:, None, :]
        S = 0.5 * (S + np.swapaxes(S, 1, 2))
        out.append((n, mean, S))
    return out


def batch_value_grad(model, theta: np.ndarray, groups: list[list[PatternRows]], moms: list, N: int,
                     need_grad: bool = True):
    """FIML objective F = -logl / N (+ const) and its gradient for many parameter vectors at
    once, each with its own resampled pattern statistics ``moms[g]`` (see
    :func:`resampled_patterns`).  Returns F (B,) (inf where an implied block is not positive
    definite) and grad (B, q) or None."""
    from .model import KIND_A, KIND_M, KIND_S

    Bn, q = theta.shape
    p = model.p
    F = np.zeros(Bn)
    grad = np.zeros((Bn, q)) if need_grad else None
    T = lambda X: np.swapaxes(X, 1, 2)  # noqa: E731
    for g, (pats, stats) in enumerate(zip(groups, moms)):
        gs = model.groups[g]
        Bi, C, Bm, _ = model.batch_implied(theta, g, None)
        Sigma, mu = C[:, :p, :p], Bm[:, :p]
        G = np.zeros((Bn, p, p)) if need_grad else None
        gm = np.zeros((Bn, p)) if need_grad else None
        for pr, (n, mean, S) in zip(pats, stats):
            w = n / N
            if not np.any(w > 0):
                continue
            o = pr.obs
            ok, logdet, Om = model._chol_inv(Sigma[:, o][:, :, o])
            d = mean - mu[:, o]
            Od = np.einsum("bij,bj->bi", Om, d)
            Fk = logdet + np.einsum("bij,bij->b", Om, S) + np.einsum("bi,bi->b", d, Od) + len(o) * LOG2PI
            F += np.where(w > 0, np.where(ok, 0.5 * w * Fk, np.inf), 0.0)
            if need_grad:
                Gk = Om - Om @ S @ Om - Od[:, :, None] * Od[:, None, :]
                G[:, o[:, None], o[None, :]] += 0.5 * w[:, None, None] * Gk
                gm[:, o] -= w[:, None] * Od
        if need_grad:
            r = len(gs.kind)
            Bp = Bi[:, :p, :]
            U = np.zeros((Bn, r, p)); V = np.zeros((Bn, r, p)); D = np.zeros((Bn, r, p))
            a, s, mm = gs.kind == KIND_A, gs.kind == KIND_S, gs.kind == KIND_M
            if a.any():
                U[:, a] = T(Bp[:, :, gs.row[a]])
                V[:, a] = C[:, gs.col[a], :p]
                D[:, a] = U[:, a] * Bm[:, gs.col[a]][:, :, None]
            if s.any():
                U[:, s] = T(Bp[:, :, gs.row[s]])
                V[:, s] = T(Bp[:, :, gs.col[s]]) * np.where(gs.row[s] == gs.col[s], 0.5, 1.0)[None, :, None]
            if mm.any():
                D[:, mm] = T(Bp[:, :, gs.row[mm]])
            graw = 2.0 * np.einsum("brp,bpq,brq->br", U, G, V) + np.einsum("brp,bp->br", D, gm)
            grad += graw @ gs.P
    return F, grad


def batch_bfgs(model, theta0: np.ndarray, Hinv0: np.ndarray, groups, moms, N: int, *, max_iter: int = 200,
               gtol: float = 1e-7, xtol: float = 1e-10, gtol_stalled: float = 1e-5):
    """Minimize the FIML objective of every replicate (row of ``theta0``) by BFGS started at
    the full-sample estimate with the full-sample inverse Hessian ``Hinv0``, with a
    backtracking (Armijo) line search; a replicate has converged once its largest gradient is
    below ``gtol``, or when it cannot move any more (step below ``xtol``, relative, or no
    decrease of F found: the limit of floating point) with its largest gradient below
    ``gtol_stalled``.

    Returns theta (B, q), converged (B,), iterations (B,)."""
    theta = np.array(theta0, dtype=float, copy=True)
    Bn, q = theta.shape
    H = np.broadcast_to(Hinv0, (Bn, q, q)).copy()
    F, g = batch_value_grad(model, theta, groups, moms, N)
    conv = np.zeros(Bn, dtype=bool)
    bad = ~np.isfinite(F)
    iters = np.zeros(Bn, dtype=int)
    conv |= ~bad & (np.abs(g).max(axis=1) < gtol)
    for _ in range(max_iter):
        act = np.where(~conv & ~bad)[0]
        if not len(act):
            break
        sub = [[tuple(x[act] for x in st) for st in stats] for stats in moms]
        th, Fa, ga, Ha = theta[act], F[act], g[act], H[act]
        step = -np.einsum("bij,bj->bi", Ha, ga)
        slope = np.einsum("bi,bi->b", ga, step)
        reset = ~(slope < 0)
        if reset.any():     # not a descent direction: restart from the full-sample inverse Hessian
            Ha[reset] = Hinv0
            step[reset] = -ga[reset] @ Hinv0.T
            slope[reset] = np.einsum("bi,bi->b", ga[reset], step[reset])
        t = np.ones(len(act))
        Fn = np.full(len(act), np.inf)
        todo = np.arange(len(act))
        for _ls in range(30):
            cand = th[todo] + t[todo, None] * step[todo]
            sub_t = [[tuple(x[todo] for x in st) for st in stats] for stats in sub]
            Fc, _ = batch_value_grad(model, cand, groups, sub_t, N, need_grad=False)
            okc = np.isfinite(Fc) & (Fc <= Fa[todo] + 1e-4 * t[todo] * slope[todo])
            Fn[todo[okc]] = Fc[okc]
            todo = todo[~okc]
            if not len(todo):
                break
            t[todo] *= 0.5
        failed = ~np.isfinite(Fn)
        t[failed] = 0.0
        new = th + t[:, None] * step
        Fnew, gnew = batch_value_grad(model, new, groups, sub, N)
        s = new - th
        y = gnew - ga
        sy = np.einsum("bi,bi->b", s, y)
        upd = (sy > 1e-14) & ~failed
        if upd.any():
            rho = 1.0 / sy[upd]
            I = np.eye(q)[None]
            Vm = I - rho[:, None, None] * s[upd][:, :, None] * y[upd][:, None, :]
            Ha[upd] = Vm @ Ha[upd] @ np.swapaxes(Vm, 1, 2) + rho[:, None, None] * s[upd][:, :, None] * s[upd][:, None, :]
        theta[act], F[act], g[act], H[act] = new, Fnew, gnew, Ha
        iters[act] += 1
        gmax = np.abs(gnew).max(axis=1)
        stalled = failed | (np.abs(s).max(axis=1) <= xtol * (1 + np.abs(new).max(axis=1)))
        done = (gmax < gtol) | (stalled & (gmax < gtol_stalled))
        conv[act] = done
        bad[act[stalled & ~done]] = True
    return theta, conv, iters

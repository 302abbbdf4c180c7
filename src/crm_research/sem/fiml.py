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
        """Central finite differences of the analytic gradient (symmetrized)."""
        q = len(theta)
        H = np.zeros((q, q))
        for k in range(q):
            e = np.zeros(q)
            step = h * max(1.0, abs(theta[k]))
            e[k] = step
            _, gp = self.value_grad(theta + e)
            _, gn = self.value_grad(theta - e)
            if gp is None or gn is None:
                return None
            H[:, k] = (gp - gn) / (2 * step)
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
    # Newton polish with the finite-difference Hessian of the analytic gradient
    for _ in range(20):
        F, g = obj.value_grad(theta)
        if g is None:
            break
        H = obj.hessian(theta)
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
    H = obj.hessian(theta) if g is not None and len(g) else None
    conv = bool(np.isfinite(F) and gmax < 1e-5)
    msgs = [] if conv else [str(res.message)]
    return Optimum(theta, float(F), conv, its, "fiml-bfgs+newton", gmax, msgs), H

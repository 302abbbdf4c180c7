"""Least-squares estimation of models for thresholds and polychoric correlations: the
model-implied statistics, the (D)WLS/ULS discrepancy, Gauss-Newton estimation, robust
("sandwich") standard errors and the scaled test statistics (lavaan 0.6-14:
``estimator.DWLS``/``estimator.WLS``, ``lav_model_nvcov_robust_sem``,
``lav_test_satorra_bentler``).

Implied statistics of group g (lavaan's ``WLS.est``) in the order of
:mod:`.nacov`: with ``Sigma`` and ``mu`` the RAM model's implied covariance matrix and means
of the observed variables (latent responses for ordered ones) and ``D`` the scale factors
(``~*~``),

* thresholds ``D_i (tau_ik - mu_i)``, means ``mu_i`` of continuous variables,
* variances ``Sigma_ii`` of continuous variables,
* correlations ``D_i D_j Sigma_ij`` (``D = 1`` for continuous variables).

Delta parameterization: ``D`` is a parameter (fixed to 1 in the first group) and the
residual variance of an ordered variable is whatever makes ``Var(y*) = 1 / D^2``; theta
parameterization: residual variances are parameters (fixed to 1 in the first group) and
``D = 1 / sqrt(Sigma_ii)``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import chi2

from .model import KIND_A, KIND_M, KIND_S, RAMModel
from .nacov import lower_pairs


@dataclass
class GroupLayout:
    """Where a group's statistics come from: per threshold entry the variable and either a
    free parameter (index) or a fixed value; per ordered variable its scale parameter."""

    th_var: np.ndarray        # (T,) variable of each threshold/mean entry
    th_par: np.ndarray        # (T,) parameter index, -1 = fixed
    th_fix: np.ndarray        # (T,) fixed value where th_par == -1
    is_mean: np.ndarray       # (T,) entry is the mean of a continuous variable
    sc_par: np.ndarray        # (p,) scale (delta) parameter index, -1 = fixed
    sc_fix: np.ndarray        # (p,) fixed scale value
    ordered: np.ndarray       # (p,) bool
    num_idx: np.ndarray       # continuous variables
    pairs: np.ndarray         # (P, 2)


class LSModel:
    """The RAM model plus thresholds and scale factors of ordered variables.

    Parameters
    ----------
    ram : RAMModel
        Built from the full parameter table (rows ``|`` and ``~*~`` are ignored by it).
    layouts : list of GroupLayout
    parameterization : {"delta", "theta"}

    Examples
    --------
    >>> import numpy as np
    >>> from crm_research.sem.examples import ordinal_example
    >>> ex = ordinal_example()           # one factor, three 3-category items, N = 500
    >>> st, pt, model = ex.stats, ex.partable, ex.model
    >>> model.q, model.implied(np.r_[1.0, 1.0, st.th, 0.5], 0).shape   # 2 loadings, 6 thresholds, 1 variance
    (9, (1, 9))
    """

    def __init__(self, ram: RAMModel, layouts: list[GroupLayout], parameterization: str = "delta"):
        self.ram = ram
        self.layouts = layouts
        self.parameterization = parameterization
        self.q = ram.q
        self.p = ram.p
        self.G = ram.G

    def parts(self, theta: np.ndarray, g: int):
        """Batched implied moments of group g: (Sigma (B,p,p), mu (B,p), D (B,p), C (B,m,m))."""
        th = np.atleast_2d(theta)
        Bn = len(th)
        gs = self.ram.groups[g]
        m = self.ram.mdim
        A = np.broadcast_to(gs.A0, (Bn, m, m)).copy()
        S = np.broadcast_to(gs.S0, (Bn, m, m)).copy()
        mv = np.broadcast_to(gs.m0, (Bn, m)).copy()
        vals = th[:, gs.par]
        a = gs.kind == KIND_A
        A[:, gs.row[a], gs.col[a]] = vals[:, a]
        s = gs.kind == KIND_S
        S[:, gs.row[s], gs.col[s]] = vals[:, s]
        S[:, gs.col[s], gs.row[s]] = vals[:, s]
        mm = gs.kind == KIND_M
        mv[:, gs.row[mm]] = vals[:, mm]
        Binv = np.linalg.inv(np.eye(m)[None] - A)
        C = Binv @ S @ np.swapaxes(Binv, 1, 2)
        mu = np.einsum("bij,bj->bi", Binv, mv)[:, :self.p]
        Sigma = C[:, :self.p, :self.p].copy()
        lay = self.layouts[g]
        ordx = np.where(lay.ordered)[0]
        if self.parameterization == "delta":
            D = np.where(lay.sc_par >= 0, th[:, np.maximum(lay.sc_par, 0)], lay.sc_fix[None, :])
            D = np.where(lay.ordered[None, :], D, 1.0)
            Sigma[:, ordx, ordx] = 1.0 / D[:, ordx] ** 2
        else:
            with np.errstate(invalid="ignore", divide="ignore"):
                D = np.where(lay.ordered[None, :], 1.0 / np.sqrt(np.einsum("bii->bi", Sigma)), 1.0)
        return Sigma, mu, D, C

    def implied(self, theta: np.ndarray, g: int) -> np.ndarray:
        """lavaan's ``WLS.est`` of group g, (B, nstat) for a batch of parameter vectors."""
        th = np.atleast_2d(theta)
        Sigma, mu, D, _ = self.parts(th, g)
        lay = self.layouts[g]
        tau = np.where(lay.th_par >= 0, th[:, np.maximum(lay.th_par, 0)], lay.th_fix[None, :])
        v = lay.th_var
        th_imp = np.where(lay.is_mean[None, :], mu[:, v], D[:, v] * (tau - mu[:, v]))
        var = Sigma[:, lay.num_idx, lay.num_idx]
        i, j = lay.pairs[:, 0], lay.pairs[:, 1]
        cor = D[:, i] * D[:, j] * Sigma[:, i, j]
        return np.concatenate([th_imp, var, cor], axis=1)

    def threshold_params(self) -> np.ndarray:
        """Parameters that are thresholds only (they enter nothing but threshold entries)."""
        if not hasattr(self, "_thr"):
            used = np.zeros(self.q, bool)
            for gs in self.ram.groups:
                used[gs.par] = True
            for lay in self.layouts:
                used[lay.sc_par[lay.sc_par >= 0]] = True
            thr = np.zeros(self.q, bool)
            for lay in self.layouts:
                thr[lay.th_par[lay.th_par >= 0]] = True
            self._thr = np.where(thr & ~used)[0]
        return self._thr

    def jacobian(self, theta: np.ndarray, g: int, h: float = 1e-6) -> np.ndarray:
        """d WLS.est / d theta (nstat, q): threshold parameters analytically (``D_i``),
        the others by central differences (all those columns in one batch)."""
        q = self.q
        thr = self.threshold_params()
        rest = np.setdiff1d(np.arange(q), thr)
        lay = self.layouts[g]
        J = np.zeros((len(lay.th_var) + len(lay.num_idx) + len(lay.pairs), q))
        if len(rest):
            step = h * np.maximum(1.0, np.abs(theta[rest]))
            E = np.zeros((len(rest), q))
            E[np.arange(len(rest)), rest] = step
            both = np.concatenate([theta[None, :] + E, theta[None, :] - E])
            val = self.implied(both, g)
            n = len(rest)
            J[:, rest] = ((val[:n] - val[n:]) / (2.0 * step[:, None])).T
        if len(thr):
            _, _, D, _ = self.parts(theta, g)
            rows = np.where(np.isin(lay.th_par, thr))[0]
            J[rows, lay.th_par[rows]] = D[0, lay.th_var[rows]]
        return J


@dataclass
class LSFit:
    theta: np.ndarray
    converged: bool
    iterations: int
    F: float
    message: str = ""


def weight_diag_or_full(nacov: np.ndarray | None, nstat: int, estimator: str):
    """lavaan's WLS.V: DWLS 1/diag(NACOV), WLS inverse(NACOV), ULS identity.

    Examples
    --------
    >>> import numpy as np
    >>> G = np.array([[2.0, 0.5], [0.5, 4.0]])
    >>> weight_diag_or_full(G, 2, "DWLS").tolist(), weight_diag_or_full(G, 2, "ULS").tolist()
    ([0.5, 0.25], [1.0, 1.0])
    """
    if estimator == "ULS":
        return np.ones(nstat)
    if estimator == "DWLS":
        d = np.diag(nacov)
        return np.where(d > 0, 1.0 / np.where(d > 0, d, 1.0), 0.0)
    L = np.linalg.cholesky(nacov)          # raises LinAlgError unless positive definite (lavaan: inv.chol)
    Li = np.linalg.inv(L)
    return Li.T @ Li


def _quad(W, r):
    return float(r @ (W * r)) if W.ndim == 1 else float(r @ W @ r)


def _wmul(W, X):
    return W[:, None] * X if W.ndim == 1 else W @ X


def objective(model: LSModel, theta, obs, weights, cg) -> float:
    """sum_g c_g (s_g - sigma_g)' W_g (s_g - sigma_g).

    Examples
    --------
    >>> import numpy as np
    >>> from crm_research.sem.examples import ordinal_example
    >>> ex = ordinal_example()           # one factor, three 3-category items, N = 500
    >>> st, pt, model = ex.stats, ex.partable, ex.model
    >>> F = objective(model, np.r_[1.0, 1.0, st.th, 0.5], [st.obs], [np.ones(9)], [1.0])
    >>> bool(F > 0)
    True
    """
    F = 0.0
    for g in range(model.G):
        r = obs[g] - model.implied(theta, g)[0]
        if not np.all(np.isfinite(r)):
            return np.inf
        F += cg[g] * _quad(weights[g], r)
    return F


def gauss_newton(model: LSModel, theta0, obs, weights, cg, *, max_iter: int = 500, tol: float = 1e-9) -> LSFit:
    """Gauss-Newton with a backtracking line search on the least-squares discrepancy
    ``sum_g c_g (s_g - sigma_g)' W_g (s_g - sigma_g)``; Levenberg-Marquardt steps when the
    line search fails.

    Examples
    --------
    >>> import numpy as np
    >>> from crm_research.sem.examples import ordinal_example
    >>> ex = ordinal_example()           # one factor, three 3-category items, N = 500
    >>> st, pt, model = ex.stats, ex.partable, ex.model
    >>> w = weight_diag_or_full(st.nacov, len(st.obs), "DWLS")
    >>> fit = gauss_newton(model, np.r_[1.0, 1.0, st.th, 0.5], [st.obs], [w], [st.N - 1.0])
    >>> fit.converged, bool(np.allclose(fit.theta[2:8], st.th))      # thresholds fit exactly
    (True, True)
    """
    theta = np.array(theta0, float)
    F = objective(model, theta, obs, weights, cg)
    msg = ""
    for it in range(1, max_iter + 1):
        H = np.zeros((model.q, model.q))
        grad = np.zeros(model.q)
        for g in range(model.G):
            J = model.jacobian(theta, g)
            r = obs[g] - model.implied(theta, g)[0]
            WJ = _wmul(weights[g], J)
            H += cg[g] * J.T @ WJ
            grad += cg[g] * WJ.T @ r
        dH = np.maximum(np.diag(H), 1e-12 * max(1.0, np.trace(H) / len(H)))
        accepted = False
        # Gauss-Newton step with a line search; when that fails (poor start, a nearly singular
        # information), Levenberg-Marquardt steps with growing damping
        for mu in (1e-12, 1e-3, 1e-1, 1.0, 10.0, 1e3):
            try:
                step = np.linalg.solve(H + mu * np.diag(dH), grad)
            except np.linalg.LinAlgError:
                continue
            t = 1.0
            while t > (1e-10 if mu == 1e-12 else 1e-3):
                cand = theta + t * step
                Fc = objective(model, cand, obs, weights, cg)
                if np.isfinite(Fc) and Fc <= F + 1e-12 * max(1.0, F):
                    accepted = True
                    break
                t *= 0.5
            if accepted:
                break
        if not accepted:
            gm = np.abs(grad).max() / max(1.0, F)
            return LSFit(theta, gm < 1e-6, it, F, "" if gm < 1e-6 else "line search failed")
        theta, Fold, F = cand, F, Fc
        # converged: a negligible step, or (a full step that) no longer lowers F by more than
        # 1e-11 relative (lavaan's nlminb stops at rel.tol 1e-10)
        if np.abs(t * step).max() < tol * (1.0 + np.abs(theta).max()) or (Fold - F) < 1e-11 * max(1.0, F) and t == 1.0:
            return LSFit(theta, True, it, F)
    return LSFit(theta, False, max_iter, F, f"no convergence in {max_iter} iterations")


def information(model: LSModel, theta, weights, fg):
    """Expected information sum_g f_g Delta_g' W_g Delta_g and the Jacobians.

    Examples
    --------
    >>> import numpy as np
    >>> from crm_research.sem.examples import ordinal_example
    >>> ex = ordinal_example()           # one factor, three 3-category items, N = 500
    >>> st, pt, model = ex.stats, ex.partable, ex.model
    >>> E, J = information(model, np.r_[1.0, 1.0, st.th, 0.5], [np.ones(9)], [1.0])
    >>> E.shape, J[0].shape
    ((9, 9), (9, 9))
    """
    E = np.zeros((model.q, model.q))
    J = []
    for g in range(model.G):
        Jg = model.jacobian(theta, g)
        J.append(Jg)
        E += fg[g] * Jg.T @ _wmul(weights[g], Jg)
    return E, J


def robust_vcov(Einv, J, weights, nacov, fg, N):
    """lavaan's robust.sem: E^-1 (sum_g f_g Delta' W Gamma W Delta) E^-1 / N.

    Examples
    --------
    >>> import numpy as np
    >>> J = [np.array([[1.0], [1.0]])]
    >>> float(robust_vcov(np.array([[0.5]]), J, [np.ones(2)], [np.eye(2)], [1.0], 100)[0, 0])
    0.005
    """
    mid = np.zeros_like(Einv)
    for g in range(len(J)):
        WD = _wmul(weights[g], J[g])
        mid += fg[g] * WD.T @ nacov[g] @ WD
    V = Einv @ mid @ Einv / N
    return 0.5 * (V + V.T)


def ugamma_traces(Einv, J, weights, nacov, fg):
    """tr(U Gamma) and tr((U Gamma)^2) of lavaan's ``lav_test_satorra_bentler_trace_original``,
    ``U = V - V Delta E^-1 Delta' V`` over all groups.

    Examples
    --------
    >>> import numpy as np
    >>> J = [np.array([[1.0], [0.0]])]                 # one parameter fits the first statistic
    >>> E = np.array([[1.0]])
    >>> ugamma_traces(np.linalg.inv(E), J, [np.ones(2)], [np.eye(2) * 2.0], [1.0])
    (2.0, 4.0)
    """
    V = [np.diag(w) * f if w.ndim == 1 else w * f for w, f in zip(weights, fg)]
    sizes = [len(v) for v in V]
    n = sum(sizes)
    Vall = np.zeros((n, n))
    Gall = np.zeros((n, n))
    o = 0
    for g, s in enumerate(sizes):
        Vall[o:o + s, o:o + s] = V[g]
        Gall[o:o + s, o:o + s] = nacov[g] / fg[g]
        o += s
    Dall = np.concatenate(J, axis=0)
    VD = Vall @ Dall
    U = Vall - VD @ Einv @ VD.T
    UG = U @ Gall
    return float(np.sum(U * Gall)), float(np.sum(UG * UG.T))


def scaled_test(chisq: float, df: float, test: str, tr1: float, tr2: float, fg) -> dict:
    """Satorra-Bentler, mean-and-variance adjusted and scaled-shifted statistics
    (lavaan 0.6-14, ``ug2.old.approach = FALSE``) from the traces of U Gamma and (U Gamma)^2.

    Examples
    --------
    >>> out = scaled_test(45.0, 24, "scaled.shifted", tr1=30.0, tr2=40.0, fg=[1.0])
    >>> [round(float(out[k]), 4) for k in ("stat", "scaling.factor", "shift.parameter")]
    [35.619, 1.291, 0.7621]
    """
    out = {}
    if df <= 0 or not np.isfinite(tr1):
        return {"stat": np.nan, "df": df, "scaling.factor": np.nan, "shift.parameter": np.nan, "pvalue": np.nan}
    if test == "satorra.bentler":
        c = tr1 / df
        out = {"stat": chisq / c, "df": df, "scaling.factor": c}
    elif test == "mean.var.adjusted":
        dfs = tr1 ** 2 / tr2
        c = tr1 / dfs
        out = {"stat": chisq / c, "df": dfs, "scaling.factor": c}
    elif test == "scaled.shifted":
        a = np.sqrt(df / tr2)
        shift = df - a * tr1
        out = {"stat": chisq * a + shift, "df": df, "scaling.factor": 1.0 / a, "shift.parameter": shift}
    out["pvalue"] = float(chi2.sf(out["stat"], out["df"]))
    return out


@dataclass
class LSFitState:
    """What post-estimation diagnostics of a least-squares fit need (modification indices):
    the model, the estimate, the groups' statistics, weights and sizes."""

    model: LSModel
    theta: np.ndarray
    obs: list
    weights: list
    fg: np.ndarray
    nobs: np.ndarray


@dataclass
class _GroupPiece:
    Delta: np.ndarray
    fg: float


class LSRobust:
    """The robust ingredients of a least-squares fit in the shape the scaled difference tests
    (:func:`crm_research.sem.robust.satorra_2000`) read: per group ``Delta`` and ``fg``,
    ``information()`` (sum_g f_g Delta' W Delta), ``A1(g)`` (the weight matrix W_g, lavaan's
    ``WLS.V``) and ``gamma(g)`` (the NACOV)."""

    def __init__(self, J, weights, nacov, fg):
        self.groups = [_GroupPiece(Jg, float(f)) for Jg, f in zip(J, fg)]
        self._W = [np.diag(w) if w.ndim == 1 else w for w in weights]
        self._nacov = nacov

    def information(self, information: str = "expected", observed: str = "h1") -> np.ndarray:
        return sum(gp.fg * gp.Delta.T @ self._W[g] @ gp.Delta for g, gp in enumerate(self.groups))

    def A1(self, g: int, information: str = "expected", structured: bool = True) -> np.ndarray:
        return self._W[g]

    def gamma(self, g: int) -> np.ndarray:
        return self._nacov[g]


def group_layouts(pt, nth) -> list[GroupLayout]:
    """Where each group's statistics come from (thresholds, means, scale factors), from a
    categorical parameter table (:func:`~crm_research.sem.partable.categorical_partable`).

    Parameters
    ----------
    pt : ParTable
    nth : list (per group) of lists (per observed variable) of threshold counts

    Returns
    -------
    list of GroupLayout

    Examples
    --------
    >>> import numpy as np
    >>> from crm_research.sem.examples import ordinal_example
    >>> ex = ordinal_example()           # one factor, three 3-category items, N = 500
    >>> st, pt, model = ex.stats, ex.partable, ex.model
    >>> lay = group_layouts(pt, [st.nth])[0]
    >>> lay.th_var.tolist(), lay.pairs.tolist()
    ([0, 0, 1, 1, 2, 2], [[1, 0], [2, 0], [2, 1]])
    """
    f2 = pt.frame
    ov = list(pt.names.ov)
    is_ord = np.array([bool(((f2["lhs"] == v) & (f2["op"] == "|")).any()) for v in ov])
    layouts = []
    for g in range(1, pt.ngroups + 1):
        fg = f2[f2["group"] == g]
        th_var, th_par, th_fix, is_mean = [], [], [], []
        thr = {(a, b): (int(fr) - 1, us) for a, o, b, fr, us in zip(fg["lhs"], fg["op"], fg["rhs"], fg["free"],
                                                                    fg["ustart"]) if o == "|"}
        for i, (v, o, n) in enumerate(zip(ov, is_ord, nth[g - 1])):
            if o:
                for t in range(1, n + 1):
                    p_, us = thr[(v, f"t{t}")]
                    th_var.append(i); th_par.append(p_); th_fix.append(0.0 if np.isnan(us) else us)
                    is_mean.append(False)
            else:
                th_var.append(i); th_par.append(-1); th_fix.append(0.0); is_mean.append(True)
        sc = {a: (int(fr) - 1, us) for a, o, fr, us in zip(fg["lhs"], fg["op"], fg["free"], fg["ustart"]) if o == "~*~"}
        sc_par = np.array([sc[v][0] if v in sc else -1 for v in ov])
        sc_fix = np.array([1.0 if v not in sc or np.isnan(sc[v][1]) else sc[v][1] for v in ov])
        layouts.append(GroupLayout(np.array(th_var, dtype=int), np.array(th_par, dtype=int), np.array(th_fix, float),
                                   np.array(is_mean, bool), sc_par, sc_fix, is_ord,
                                   np.array([i for i in range(len(ov)) if not is_ord[i]], dtype=int),
                                   lower_pairs(len(ov))))
    return layouts

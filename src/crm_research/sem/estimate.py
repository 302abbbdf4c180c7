"""Maximum likelihood estimation: starting values and Fisher scoring.

The optimizer is our own: Fisher scoring (Gauss-Newton on the ML discrepancy with the
analytic expected information of :mod:`.model`) with a backtracking line search, falling
back to BFGS with the analytic gradient if scoring stalls.  It converges in a handful of
iterations to the same optimum lavaan's ``nlminb`` finds (gradient ~1e-12 instead of
lavaan's relative tolerance 1e-10), handles every model the syntax allows (``NA*x``,
fixed covariances, equality labels, fixed.x, mean structures, groups), and the same code,
vectorized, refits bootstrap samples (:mod:`.bootstrap`).  semopy can provide the point
estimate instead (``engine="semopy"``, see :func:`semopy_start`); it is then polished by
the same scoring steps.
"""
from __future__ import annotations


import numpy as np

from .data import SampleStats
from .model import RAMModel
from .optimum import Optimum


def one_blas_thread():
    """Context limiting BLAS to one thread.  The model matrices are tiny: a multithreaded
    OpenBLAS only spins, and on a busy 2-core machine it made small-matrix algebra in the
    same process 10-30x slower (measured with semopy: 11 ms vs 150-470 ms per fit).
    No-op without threadpoolctl (installed with scikit-learn, a pingouin dependency)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover
        import contextlib

        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def start_values(model: RAMModel, stats: SampleStats) -> np.ndarray:
    """Starting values in the spirit of lavaan's "simple" starts, refined for loadings.

    Loadings of each first-order factor come from the first principal axis of its
    indicators (scaled to the fixed marker), observed residual variances from what that
    leaves, latent variances accordingly; regressions and covariances start at 0,
    intercepts at the sample means, latent means at 0.  User ``start()`` values win.
    """
    pt = model.pt
    f = pt.frame[pt.frame["op"] != ":="]
    q = model.q
    theta = np.full(q, np.nan)
    ov_pos = {v: i for i, v in enumerate(model.ov)}
    lvs = set(model.lv)
    for g, st in enumerate(stats.groups):
        fg = f[f["group"] == g + 1]
        S, mean = st.S, st.mean
        lam, lvvar = {}, {}
        ind_rows = {}
        for lhs, op, rhs, fr, us in zip(fg["lhs"], fg["op"], fg["rhs"], fg["free"], fg["ustart"]):
            if op == "=~":
                ind_rows.setdefault(lhs, []).append((rhs, fr, us))
        for lv, inds in ind_rows.items():
            ov_inds = [(r, fr, us) for r, fr, us in inds if r in ov_pos]
            if not ov_inds:
                continue
            idx = [ov_pos[r] for r, _, _ in ov_inds]
            Sb = S[np.ix_(idx, idx)]
            if len(idx) >= 2:
                w, vec = np.linalg.eigh(Sb)
                l = vec[:, -1] * np.sqrt(max(w[-1] - (np.mean(w[:-1]) if len(w) > 1 else 0.0), 1e-3 * w[-1]))
            else:
                l = np.array([np.sqrt(Sb[0, 0] * 0.8)])
            if l.sum() < 0:
                l = -l
            fixed = [(k, us) for k, (_, fr, us) in enumerate(ov_inds) if fr == 0 and np.isfinite(us) and us != 0]
            if fixed:
                k, c = fixed[0]
                s = c / l[k] if abs(l[k]) > 1e-8 else 1.0
                lvvar[lv] = 1.0 / s ** 2
                l = l * s
            else:
                lvvar[lv] = 1.0
            for (r, _, _), val in zip(ov_inds, l):
                lam[(lv, r)] = val
        lower_order = {r for inds in ind_rows.values() for r, _, _ in inds if r in lvs}
        resid = {}
        for lv, inds in ind_rows.items():
            for r, _, _ in inds:
                if r in ov_pos and (lv, r) in lam:
                    i = ov_pos[r]
                    v = S[i, i] - lam[(lv, r)] ** 2 * lvvar.get(lv, 1.0)
                    resid[r] = min(max(v, 0.1 * S[i, i]), 0.9 * S[i, i])
        for lhs, op, rhs, fr, us, stv in zip(fg["lhs"], fg["op"], fg["rhs"], fg["free"], fg["ustart"], fg["start"]):
            if fr == 0:
                continue
            k = int(fr) - 1
            if np.isfinite(theta[k]):
                continue
            if np.isfinite(stv):
                theta[k] = stv
                continue
            if op == "=~":
                theta[k] = lam.get((lhs, rhs), 1.0)
            elif op == "~":
                theta[k] = 0.0
            elif op == "~~" and lhs == rhs:
                if lhs in ov_pos:
                    i = ov_pos[lhs]
                    theta[k] = resid.get(lhs, 0.5 * S[i, i] if lhs in set(pt.names.ov_ind) else S[i, i])
                elif lhs in lvvar:
                    # first-order factors of a higher-order factor keep half as residual variance
                    theta[k] = lvvar[lhs] * (0.5 if lhs in lower_order else 1.0)
                else:
                    # higher-order factor (or a latent without observed indicators)
                    sub = [lvvar[r] for r, _, _ in ind_rows.get(lhs, []) if r in lvvar]
                    theta[k] = 0.5 * min(sub) if sub else 0.05
            elif op == "~~":
                theta[k] = 0.0
            elif op == "~1":
                theta[k] = mean[ov_pos[lhs]] if lhs in ov_pos else 0.0
    theta[~np.isfinite(theta)] = 0.0
    return theta


def _solve_batch(M, g):
    """Solve M x = g for a stack; (x, ok) with ok False where M is singular."""
    try:
        return np.linalg.solve(M, g[:, :, None])[:, :, 0], np.ones(len(g), dtype=bool)
    except np.linalg.LinAlgError:
        x = np.zeros_like(g)
        ok = np.zeros(len(g), dtype=bool)
        for b in range(len(g)):
            try:
                x[b] = np.linalg.solve(M[b], g[b])
                ok[b] = np.all(np.isfinite(x[b]))
            except np.linalg.LinAlgError:
                pass
        return x, ok


def _pd_batch(H):
    """Which matrices of a stack are positive definite (Cholesky; rows retried one by one
    only when the stacked call fails, which is cheaper than eigenvalues of the stack)."""
    try:
        np.linalg.cholesky(H)
        return np.ones(len(H), dtype=bool)
    except np.linalg.LinAlgError:
        ok = np.zeros(len(H), dtype=bool)
        for b in range(len(H)):
            try:
                np.linalg.cholesky(H[b])
                ok[b] = True
            except np.linalg.LinAlgError:
                pass
        return ok


def _damped_fisher(I, g, mu):
    """Fisher-scoring step robust to a singular or ill-conditioned information matrix:
    eigenvalues floored at 1e-10 of the largest, plus Levenberg-Marquardt damping ``mu``
    (relative to the largest eigenvalue); directions the data do not inform get no step."""
    w, Vv = np.linalg.eigh(I)
    wmax = np.maximum(np.abs(w).max(axis=1, keepdims=True), 1e-300)
    w_reg = np.maximum(w, 1e-10 * wmax) + mu * wmax
    coef = np.einsum("bqk,bq->bk", Vv, g) / w_reg
    return np.einsum("bqk,bk->bq", Vv, coef)


def _line_search(model, th, step, F, dec, sub, rows, t0=1.0, min_t=1e-10):
    """Backtracking (Armijo) line search for the rows ``rows``; returns (accepted, t)."""
    n = len(th)
    t = np.full(n, t0)
    accepted = np.zeros(n, dtype=bool)
    todo = np.zeros(n, dtype=bool)
    todo[rows] = True
    while True:
        todo &= ~accepted & (t >= min_t)
        if not todo.any():
            break
        idx = np.where(todo)[0]
        cand = th[idx] + t[idx, None] * step[idx]
        Fc = model.batch_objective(cand, [tuple(x[idx] for x in m) for m in sub])
        ok = np.isfinite(Fc) & (Fc <= F[idx] - 1e-4 * t[idx] * 2.0 * dec[idx]
                                + 1e-14 * np.maximum(1.0, np.abs(F[idx])))
        accepted[idx[ok]] = True
        t[idx[~ok]] *= 0.5
    return accepted, t


def newton_fisher(model: RAMModel, theta0: np.ndarray, moms, *, max_iter: int = 200, tol: float = 1e-10,
                  fisher_first: int = 2, gtol: float = 1e-6):
    """Batched ML optimizer: Newton steps with the exact Hessian where it is positive
    definite (after ``fisher_first`` Fisher-scoring iterations), Fisher scoring otherwise,
    each with a backtracking (Armijo) line search on F; when the line search fails, damped
    (Levenberg-Marquardt) Fisher steps are tried.  Every row of ``theta0`` is a separate
    problem with its own moments; a row stops iterating once converged, so its path does
    not depend on the other rows.

    A row has converged when its step is below ``tol`` (relative) and the largest score
    component |Delta'W(s - sigma)| below ``gtol``.

    Returns
    -------
    theta : (B, q)
    converged : (B,) bool
    iterations : (B,) int
    F : (B,)
    gmax : (B,) largest |gradient| at the end
    """
    theta = np.array(theta0, dtype=float, copy=True)
    Bn, q = theta.shape
    conv = np.zeros(Bn, dtype=bool)
    iters = np.zeros(Bn, dtype=int)
    Fout = np.full(Bn, np.inf)
    gmax = np.full(Bn, np.inf)
    active = np.arange(Bn)
    it = 0
    while len(active) and it < max_iter:
        it += 1
        sub = [tuple(x[active] for x in mom) for mom in moms]
        th = theta[active]
        F, g, I, H = model.batch_derivatives(th, sub, hessian=it > fisher_first)
        Fout[active] = F
        gmax[active] = np.abs(g).max(axis=1) if q else 0.0
        bad = ~np.isfinite(F) | ~np.isfinite(g).all(axis=1)
        gs = np.where(bad[:, None], 0.0, g)
        Is = np.where(bad[:, None, None], np.eye(q), I)
        step, okI = _solve_batch(Is, gs)
        # a singular information (unidentified direction, degenerate start) gives a useless
        # solve: use the floored eigen-solution there
        wild = ~okI | ~np.isfinite(step).all(axis=1) | (np.abs(step).max(axis=1) > 1e3 * (1 + np.abs(th).max(axis=1)))
        if wild.any():
            step[wild] = _damped_fisher(Is[wild], gs[wild], 0.0)
        if H is not None:
            pd = _pd_batch(np.where(bad[:, None, None], np.eye(q), H)) & ~bad & ~wild
            if pd.any():
                nstep, okN = _solve_batch(H[pd], 2.0 * gs[pd])
                idx = np.where(pd)[0][okN]
                step[idx] = nstep[okN]
        dec = np.einsum("bq,bq->b", gs, step)
        neg = dec < 0          # not a descent direction: use the damped Fisher step
        if neg.any():
            step[neg] = _damped_fisher(Is[neg], gs[neg], 1e-2)
            dec[neg] = np.einsum("bq,bq->b", gs[neg], step[neg])
        rows = np.where(~bad)[0]
        accepted, t = _line_search(model, th, step, F, dec, sub, rows, min_t=1e-4)
        for mu in (1e-4, 1e-2, 1.0, 1e2):
            retry = np.where(~accepted & ~bad)[0]
            if len(retry) == 0:
                break
            step[retry] = _damped_fisher(Is[retry], gs[retry], mu)
            dec[retry] = np.einsum("bq,bq->b", gs[retry], step[retry])
            acc2, t2 = _line_search(model, th, step, F, dec, sub, retry)
            accepted[retry] = acc2[retry]
            t[retry] = t2[retry]
        stepped = np.where(accepted[:, None], t[:, None] * step, 0.0)
        newth = th + stepped
        theta[active] = newth
        iters[active] += 1
        small = np.abs(stepped).max(axis=1) <= tol * (1.0 + np.abs(newth).max(axis=1))
        # converged: no more progress AND a vanishing gradient (a stall elsewhere is a failure)
        flat = accepted & (small | (dec < 1e-24))
        done = flat & (gmax[active] < gtol)
        stuck = ~accepted & ~bad & (gmax[active] < 1e-8)
        conv[active[done | stuck]] = True
        finished = flat | stuck | bad | ~accepted
        active = active[~finished]
    return theta, conv, iters, Fout, gmax


def bfgs(model: RAMModel, stats: SampleStats, theta0: np.ndarray) -> Optimum:
    """BFGS on the ML discrepancy with the analytic gradient (fallback)."""
    from scipy.optimize import minimize

    def fun(th):
        g, _, F = model.score_information(th, stats)
        if not np.isfinite(F):
            return 1e10, np.zeros_like(th)
        return F, -2.0 * g

    res = minimize(fun, theta0, jac=True, method="BFGS", options={"gtol": 1e-9, "maxiter": 5000})
    g, _, F = model.score_information(res.x, stats, need_grad=True)
    gmax = float(np.abs(g).max()) if g is not None else np.inf
    return Optimum(res.x, F, bool(res.success) or gmax < 1e-6, int(res.nit), "bfgs", gmax,
                   [] if res.success else [str(res.message)])


def fisher_scoring(model: RAMModel, stats: SampleStats, theta0: np.ndarray, *, max_iter: int = 500,
                   tol: float = 1e-10) -> Optimum:
    """Newton/Fisher-scoring optimization of one model from ``theta0``."""
    th, conv, it, F, gmax = newton_fisher(model, np.asarray(theta0, float)[None, :], model.group_moments(stats),
                                          max_iter=max_iter, tol=tol)
    # final values at the returned point
    g, _, Fv = model.score_information(th[0], stats, need_grad=True)
    gm = float(np.abs(g).max()) if g is not None and len(g) else (0.0 if g is not None else np.inf)
    msgs = [] if conv[0] else ([f"no convergence in {max_iter} iterations"] if it[0] >= max_iter
                               else ["line search failed"])
    return Optimum(th[0], Fv, bool(conv[0]), int(it[0]), "newton", gm, msgs)


def estimate(model: RAMModel, stats: SampleStats, theta0: np.ndarray | None = None) -> Optimum:
    """Estimate: Newton/Fisher scoring from ``theta0`` (default: :func:`start_values`).
    If that does not converge, pure Fisher scoring and BFGS (each polished by Newton) are
    tried from the same start, and the best converged solution is kept."""
    th0 = start_values(model, stats) if theta0 is None else np.asarray(theta0, float)
    if model.q == 0:
        F = model.objective(th0, stats)
        return Optimum(th0, F, np.isfinite(F), 0, "none", 0.0, [])
    opt = fisher_scoring(model, stats, th0)
    if opt.converged:
        return opt
    candidates = [opt]
    th, conv, it, F, gm = newton_fisher(model, th0[None, :], model.group_moments(stats), max_iter=2000,
                                        fisher_first=10 ** 9)
    if np.isfinite(F[0]):
        pol = fisher_scoring(model, stats, th[0])
        pol.method = "fisher+newton"
        candidates.append(pol)
    alt = bfgs(model, stats, th0)
    if np.isfinite(alt.F):
        pol = fisher_scoring(model, stats, alt.theta)
        pol.method = "bfgs+newton"
        candidates.append(pol if pol.converged or pol.F <= alt.F else alt)
    ok = [c for c in candidates if c.converged and np.isfinite(c.F)]
    pool = ok or [c for c in candidates if np.isfinite(c.F)] or candidates
    best = min(pool, key=lambda c: c.F)
    if not best.converged:
        best.messages = [m for c in candidates for m in c.messages] or best.messages
    return best


def semopy_expressible(model: RAMModel) -> bool:
    """Can semopy estimate this model as specified?  Single group, no mean structure, no
    fixed.x covariates, no user start values, and a fixed non-zero loading for every latent
    variable (semopy otherwise re-identifies the model its own way)."""
    pt = model.pt
    f = pt.frame[pt.frame["op"] != ":="]
    if model.G > 1 or model.meanstructure or (f["exo"] > 0).any() or np.isfinite(f["start"]).any():
        return False
    for lv in model.lv:
        rows = f[(f["op"] == "=~") & (f["lhs"] == lv)]
        if not ((rows["free"] == 0) & (rows["ustart"].fillna(0) != 0)).any():
            return False
    return True


def semopy_start(model: RAMModel, stats: SampleStats, data) -> np.ndarray | None:
    """Point estimate from semopy 2.3 (explicit syntax for every parameter, MLW objective,
    SLSQP with ftol 1e-12), mapped onto our parameter vector; ``None`` when semopy cannot
    express the model (see :func:`semopy_expressible`) or fails."""
    if not semopy_expressible(model):
        return None
    try:
        from semopy import Model
    except Exception:  # pragma: no cover - semopy is a dependency
        return None
    f = model.pt.frame[model.pt.frame["op"] != ":="]
    lines = []
    for lhs, op, rhs, fr, us in zip(f["lhs"], f["op"], f["rhs"], f["free"], f["ustart"]):
        term = f"p{int(fr)}*{rhs}" if fr > 0 else f"{float(us)!r}*{rhs}"
        lines.append(f"{lhs} {op} {term}")
    try:
        m = Model("\n".join(lines))
        m.fit(data[model.ov].dropna(), obj="MLW", solver="SLSQP", options={"ftol": 1e-12, "maxiter": 10000})
        ins = m.inspect()
    except Exception:
        return None
    vals = {}
    for lv_, op_, rv_, est in zip(ins["lval"], ins["op"], ins["rval"], ins["Estimate"]):
        try:
            vals[(str(lv_), op_, str(rv_))] = float(est)
        except (TypeError, ValueError):
            continue
    theta = np.full(model.q, np.nan)
    for lhs, op, rhs, fr in zip(f["lhs"], f["op"], f["rhs"], f["free"]):
        if fr == 0:
            continue
        if op == "=~":
            key = (rhs, "~", lhs)
        elif op == "~":
            key = (lhs, "~", rhs)
        else:
            key = (lhs, "~~", rhs) if (lhs, "~~", rhs) in vals else (rhs, "~~", lhs)
        if key in vals:
            theta[int(fr) - 1] = vals[key]
    return theta if np.all(np.isfinite(theta)) else None

"""Model matrices, implied moments, ML discrepancy, gradient and expected information.

The model is held in RAM form (McArdle-McDonald): all variables, observed first then
latent, with ``A`` (directed paths: loadings and regressions), ``S`` (variances and
covariances: residual, latent, exogenous) and ``m`` (intercepts / means).  With
``B = (I - A)^-1`` the implied moments are ``Sigma = F B S B' F'`` and ``mu = F B m``; this
is the same model lavaan writes with LISREL matrices, so estimates, information and fit
agree to numerical precision.

Derivatives are analytic.  Every free matrix entry changes ``Sigma`` by a symmetric rank-2
term ``u v' + v u'`` and ``mu`` by a vector, so the expected (Fisher) information of normal
ML, lavaan's default for complete data,

    I = Delta' W Delta,  W = blockdiag(Sigma^-1, 1/2 D'(Sigma^-1 (x) Sigma^-1) D),

reduces to small inner products of those vectors (no Kronecker products), which keeps both
a single fit and thousands of bootstrap refits fast.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .partable import ParTable

KIND_A, KIND_S, KIND_M = 0, 1, 2


@dataclass
class GroupStructure:
    """Free/fixed matrix entries of one group."""

    A0: np.ndarray
    S0: np.ndarray
    m0: np.ndarray
    kind: np.ndarray   # per raw free entry
    row: np.ndarray
    col: np.ndarray
    par: np.ndarray    # index into the unique parameter vector
    exo_S: list        # (i, j) entries of S filled with sample covariances (fixed.x)
    exo_m: list        # i entries of m filled with sample means
    P: np.ndarray      # raw entry -> parameter indicator (r, q)


class RAMModel:
    """Structural equation model in RAM form built from a :class:`ParTable`.

    Parameters
    ----------
    pt : ParTable
    """

    def __init__(self, pt: ParTable):
        self.pt = pt
        self.ov = list(pt.names.ov)
        self.lv = list(pt.names.lv)
        self.vars = self.ov + self.lv
        self.p = len(self.ov)
        self.mdim = len(self.vars)
        self.q = pt.npar
        self.G = pt.ngroups
        self.meanstructure = pt.meanstructure
        pos = {v: i for i, v in enumerate(self.vars)}
        self.pos = pos
        f = pt.frame
        f = f[f["op"] != ":="]
        self.groups: list[GroupStructure] = []
        self.weights = [1.0] * self.G
        self._mask_cache = {}
        for g in range(1, self.G + 1):
            fg = f[f["group"] == g]
            A0 = np.zeros((self.mdim, self.mdim))
            S0 = np.zeros((self.mdim, self.mdim))
            m0 = np.zeros(self.mdim)
            kind, row, col, par = [], [], [], []
            exo_S, exo_m = [], []
            for lhs, op, rhs, fr, us, ex in zip(fg["lhs"], fg["op"], fg["rhs"], fg["free"], fg["ustart"], fg["exo"]):
                if op == "=~":
                    k, i, j = KIND_A, pos[rhs], pos[lhs]
                elif op == "~":
                    k, i, j = KIND_A, pos[lhs], pos[rhs]
                elif op == "~~":
                    k, i, j = KIND_S, pos[lhs], pos[rhs]
                elif op == "~1":
                    k, i, j = KIND_M, pos[lhs], 0
                else:  # pragma: no cover - partable never holds other operators
                    continue
                if fr > 0:
                    kind.append(k); row.append(i); col.append(j); par.append(int(fr) - 1)
                elif ex:
                    (exo_m.append(i) if k == KIND_M else exo_S.append((i, j)))
                else:
                    val = 0.0 if np.isnan(us) else float(us)
                    if k == KIND_A:
                        A0[i, j] = val
                    elif k == KIND_S:
                        S0[i, j] = S0[j, i] = val
                    else:
                        m0[i] = val
            kind = np.array(kind, dtype=int)
            P = np.zeros((len(par), self.q))
            P[np.arange(len(par)), np.array(par, dtype=int)] = 1.0
            self.groups.append(GroupStructure(A0, S0, m0, kind, np.array(row, dtype=int), np.array(col, dtype=int),
                                              np.array(par, dtype=int), exo_S, exo_m, P))

    # ------------------------------------------------------------------ matrices
    def use_sample(self, stats) -> None:
        """Take group weights N_g / N and fixed.x moments from ``stats``."""
        self.weights = [st.weight for st in stats.groups]
        for g, st in enumerate(stats.groups):
            self.set_exo(g, st.S, st.mean)

    def set_exo(self, g: int, S: np.ndarray, mean: np.ndarray | None) -> None:
        """Fill fixed.x entries of group ``g`` with sample moments (S, mean over observed)."""
        gs = self.groups[g]
        for i, j in gs.exo_S:
            gs.S0[i, j] = gs.S0[j, i] = S[i, j]
        if mean is not None:
            for i in gs.exo_m:
                gs.m0[i] = mean[i]

    def matrices(self, theta: np.ndarray, g: int):
        gs = self.groups[g]
        A, S, m = gs.A0.copy(), gs.S0.copy(), gs.m0.copy()
        vals = theta[gs.par]
        a = gs.kind == KIND_A
        A[gs.row[a], gs.col[a]] = vals[a]
        s = gs.kind == KIND_S
        S[gs.row[s], gs.col[s]] = vals[s]
        S[gs.col[s], gs.row[s]] = vals[s]
        mm = gs.kind == KIND_M
        m[gs.row[mm]] = vals[mm]
        return A, S, m

    def implied(self, theta: np.ndarray, g: int):
        """Return dict with B, C (all-variable covariance), Sigma, mu, Bm for group g."""
        A, S, m = self.matrices(theta, g)
        B = np.linalg.inv(np.eye(self.mdim) - A)
        C = B @ S @ B.T
        C = 0.5 * (C + C.T)
        Bm = B @ m
        p = self.p
        return {"A": A, "S": S, "m": m, "B": B, "C": C, "Sigma": C[:p, :p], "mu": Bm[:p], "Bm": Bm}

    # ------------------------------------------------------------------ discrepancy
    @staticmethod
    def discrepancy(Sigma, mu, S, mean, logdetS, meanstructure) -> float:
        """lavaan's ML discrepancy F = log|Sigma| + tr(S Sigma^-1) - log|S| - p (+ mean part)."""
        try:
            L = np.linalg.cholesky(Sigma)
        except np.linalg.LinAlgError:
            return np.inf
        p = Sigma.shape[0]
        logdet = 2.0 * np.log(np.diag(L)).sum()
        Linv = np.linalg.inv(L)
        Om = Linv.T @ Linv
        F = logdet + np.sum(S * Om) - logdetS - p
        if meanstructure:
            d = mean - mu
            F += d @ Om @ d
        return float(F)

    def objective(self, theta, stats) -> float:
        """Weighted ML discrepancy over groups: sum_g (N_g / N) F_g."""
        total = 0.0
        for g, st in enumerate(stats.groups):
            imp = self.implied(theta, g)
            Fg = self.discrepancy(imp["Sigma"], imp["mu"], st.S, st.mean, st.logdetS, self.meanstructure)
            if not np.isfinite(Fg):
                return np.inf
            total += st.weight * Fg
        return total

    # ------------------------------------------------------------------ batched core
    def group_moments(self, stats):
        """Sample moments of ``stats`` as batched tuples (mean (1,p), S (1,p,p), logdetS (1,))."""
        return [(st.mean[None, :], st.S[None, :, :], np.array([st.logdetS])) for st in stats.groups]

    def batch_matrices(self, theta, g, mom):
        """A, S, m stacks (B, mdim, mdim) for parameter rows ``theta`` (B, q); fixed.x
        entries come from the moments ``mom`` (mean, S, ...) of each row."""
        gs = self.groups[g]
        Bn = theta.shape[0]
        A = np.broadcast_to(gs.A0, (Bn,) + gs.A0.shape).copy()
        S = np.broadcast_to(gs.S0, (Bn,) + gs.S0.shape).copy()
        m = np.broadcast_to(gs.m0, (Bn,) + gs.m0.shape).copy()
        vals = theta[:, gs.par]
        a, s, mm = gs.kind == KIND_A, gs.kind == KIND_S, gs.kind == KIND_M
        A[:, gs.row[a], gs.col[a]] = vals[:, a]
        S[:, gs.row[s], gs.col[s]] = vals[:, s]
        S[:, gs.col[s], gs.row[s]] = vals[:, s]
        m[:, gs.row[mm]] = vals[:, mm]
        if gs.exo_S and mom is not None:      # None: the fixed.x values set by set_exo
            i = np.array([e[0] for e in gs.exo_S]); j = np.array([e[1] for e in gs.exo_S])
            S[:, i, j] = mom[1][:, i, j]
            S[:, j, i] = mom[1][:, i, j]
        if gs.exo_m and mom is not None:
            k = np.array(gs.exo_m)
            m[:, k] = mom[0][:, k]
        return A, S, m

    @staticmethod
    def _chol_inv(Sigma):
        """Batched Cholesky: (ok, logdet, inverse); non-PD matrices are flagged, not raised."""
        Bn = Sigma.shape[0]
        try:
            L = np.linalg.cholesky(Sigma)
            ok = np.ones(Bn, dtype=bool)
        except np.linalg.LinAlgError:
            ok = np.zeros(Bn, dtype=bool)
            L = np.zeros_like(Sigma)
            for b in range(Bn):
                try:
                    L[b] = np.linalg.cholesky(Sigma[b])
                    ok[b] = True
                except np.linalg.LinAlgError:
                    L[b] = np.eye(Sigma.shape[1])
        dg = np.diagonal(L, axis1=1, axis2=2)
        logdet = 2.0 * np.log(np.where(dg > 0, dg, 1.0)).sum(axis=1)
        Linv = np.linalg.inv(L)
        return ok, logdet, np.swapaxes(Linv, 1, 2) @ Linv

    def batch_implied(self, theta, g, mom):
        A, S, m = self.batch_matrices(theta, g, mom)
        Bi = np.linalg.inv(np.eye(self.mdim) - A)
        C = Bi @ S @ np.swapaxes(Bi, 1, 2)
        C = 0.5 * (C + np.swapaxes(C, 1, 2))
        Bm = (Bi @ m[:, :, None])[:, :, 0]
        return Bi, C, Bm, S

    def batch_objective(self, theta, moms):
        """Weighted ML discrepancy F (B,); inf where an implied covariance is not PD."""
        p = self.p
        F = np.zeros(theta.shape[0])
        for g, mom in enumerate(moms):
            _, C, Bm, _ = self.batch_implied(theta, g, mom)
            ok, logdet, Om = self._chol_inv(C[:, :p, :p])
            Fg = logdet + np.einsum("bij,bij->b", mom[1], Om) - mom[2] - p
            if self.meanstructure:
                d = mom[0] - Bm[:, :p]
                Fg = Fg + np.einsum("bi,bij,bj->b", d, Om, d)
            F += self.weights[g] * np.where(ok, Fg, np.inf)
        return F

    def _masks(self, g):
        """Constant per-group index helpers for the Hessian."""
        if g in self._mask_cache:
            return self._mask_cache[g]
        gs = self.groups[g]
        a, s, mm = gs.kind == KIND_A, gs.kind == KIND_S, gs.kind == KIND_M
        AA = np.outer(a, a)
        AS = np.outer(a, s)
        AM = np.outer(a, mm)
        cS = np.where(gs.row == gs.col, 0.5, 1.0)
        out = (a, s, mm, AA, AS, AM, cS)
        self._mask_cache[g] = out
        return out

    def batch_derivatives(self, theta, moms, hessian=False):
        """Batched discrepancy, score direction, expected information and (optionally) the
        exact Hessian of F.

        Returns
        -------
        F : (B,)
        g : (B, q)    Delta' W (s - sigma) (= -grad F / 2)
        I : (B, q, q) unit expected information (vcov = I^-1 / N)
        H : (B, q, q) Hessian of F, or None
        """
        Bn = theta.shape[0]
        q, p = self.q, self.p
        F = np.zeros(Bn)
        g_tot = np.zeros((Bn, q))
        I_tot = np.zeros((Bn, q, q))
        H_tot = np.zeros((Bn, q, q)) if hessian else None
        ms = self.meanstructure
        T = lambda X: np.swapaxes(X, 1, 2)  # noqa: E731
        for g, mom in enumerate(moms):
            gs = self.groups[g]
            Bi, C, Bm, _ = self.batch_implied(theta, g, mom)
            Sigma = C[:, :p, :p]
            ok, logdet, Om = self._chol_inv(Sigma)
            S_obs = mom[1]
            Fg = logdet + np.einsum("bij,bij->b", S_obs, Om) - mom[2] - p
            a, s, mm, AA, AS, AM, cS = self._masks(g)
            r = len(gs.kind)
            Bp = Bi[:, :p, :]
            U = np.zeros((Bn, r, p)); V = np.zeros((Bn, r, p)); D = np.zeros((Bn, r, p))
            if ms:
                d = mom[0] - Bm[:, :p]
                Fg = Fg + np.einsum("bi,bij,bj->b", d, Om, d)
            if a.any():
                U[:, a] = T(Bp[:, :, gs.row[a]])
                V[:, a] = C[:, gs.col[a], :p]
                if ms:
                    D[:, a] = U[:, a] * Bm[:, gs.col[a]][:, :, None]
            if s.any():
                U[:, s] = T(Bp[:, :, gs.row[s]])
                V[:, s] = T(Bp[:, :, gs.col[s]]) * cS[s][None, :, None]
            if mm.any():
                D[:, mm] = T(Bp[:, :, gs.row[mm]])
            UO, VO = U @ Om, V @ Om
            Muu, Mvu, Mvv = UO @ T(U), VO @ T(U), VO @ T(V)
            Iraw = Mvu * T(Mvu) + Mvv * Muu
            E = S_obs - Sigma
            if ms:
                DO = D @ Om
                Iraw = Iraw + DO @ T(D)
                E = E + d[:, :, None] * d[:, None, :]
            R = Om @ E @ Om
            UR = U @ R
            graw = np.einsum("brp,brp->br", UR, V)
            if ms:
                graw = graw + np.einsum("brp,bp->br", DO, d)
            P = gs.P
            w = self.weights[g]
            I_tot += w * (P.T @ Iraw @ P)
            g_tot += w * (graw @ P)
            F += w * np.where(ok, Fg, np.inf)
            if hessian:
                VR = V @ R
                NRuv, NRuu, NRvv = UR @ T(V), UR @ T(U), VR @ T(V)
                NRvu = T(NRuv)
                t1 = NRuv * Mvu
                Hr = 2.0 * Iraw + 2.0 * (t1 + T(t1) + NRvv * Muu + NRuu * Mvv)
                rows, cols = gs.row, gs.col
                Bcr = Bi[:, cols[:, None], rows[None, :]]          # B[col_k, row_l]
                if AA.any() or AS.any():
                    Bcc = Bi[:, cols[:, None], cols[None, :]]      # B[col_k, col_l]
                    Ccc = C[:, cols[:, None], cols[None, :]]       # C[col_k, col_l]
                    Hc = AA * (T(Bcr) * NRvu + Bcr * T(NRvu) + Ccc * NRuu)
                    Hc_as = AS * (Bcr * T(NRvu) + cS[None, :] * Bcc * NRuu)
                    Hc = Hc + Hc_as + T(Hc_as)
                    Hr = Hr - 2.0 * Hc
                if ms:
                    e = np.einsum("bij,bj->bi", Om, d)
                    eu = np.einsum("brp,bp->br", U, e)
                    ev = np.einsum("brp,bp->br", V, e)
                    Tm = eu[:, :, None] * (VO @ T(D)) + ev[:, :, None] * (UO @ T(D))
                    Hr = Hr + 2.0 * (Tm + T(Tm))
                    Bmc = Bm[:, cols]                               # Bm[col_k]
                    Hd = AA * (eu[:, None, :] * T(Bcr) * Bmc[:, :, None] + eu[:, :, None] * Bcr * Bmc[:, None, :])
                    Hd_am = AM * (eu[:, :, None] * Bcr)
                    Hr = Hr - 2.0 * (Hd + Hd_am + T(Hd_am))
                H_tot += w * (P.T @ Hr @ P)
        I_tot = 0.5 * (I_tot + T(I_tot))
        if hessian:
            H_tot = 0.5 * (H_tot + T(H_tot))
        return F, g_tot, I_tot, H_tot

    # ------------------------------------------------------------------ single fits
    def score_information(self, theta, stats, need_grad=True):
        """(g, I, F) for one parameter vector (see :meth:`batch_derivatives`); (None, None,
        inf) when the implied covariance matrix is not positive definite."""
        F, g, I, _ = self.batch_derivatives(np.asarray(theta, float)[None, :], self.group_moments(stats))
        if not np.isfinite(F[0]):
            return None, None, np.inf
        return g[0], I[0], float(F[0])

    def delta(self, theta, g: int, mom) -> np.ndarray:
        """lavaan's ``Delta`` of group ``g``: the Jacobian d(mu, vech Sigma)/d theta, rows the
        means (with a mean structure) then the lower triangle of Sigma column by column
        (lavaan's ``vech``), columns the free parameters; ``mom`` the group's moments as
        :meth:`group_moments` gives them (fixed.x entries)."""
        theta = np.asarray(theta, float)
        gs = self.groups[g]
        p = self.p
        Bi, C, Bm, _ = self.batch_implied(theta[None, :], g, mom)
        Bi, C, Bm = Bi[0], C[0], Bm[0]
        Bp = Bi[:p, :]
        a, s, mm = gs.kind == KIND_A, gs.kind == KIND_S, gs.kind == KIND_M
        r = len(gs.kind)
        U = np.zeros((r, p)); V = np.zeros((r, p)); D = np.zeros((r, p))
        U[a] = Bp[:, gs.row[a]].T
        V[a] = C[gs.col[a], :p]
        D[a] = U[a] * Bm[gs.col[a]][:, None]
        U[s] = Bp[:, gs.row[s]].T
        V[s] = Bp[:, gs.col[s]].T * np.where(gs.row[s] == gs.col[s], 0.5, 1.0)[:, None]
        D[mm] = Bp[:, gs.row[mm]].T
        J, I = np.triu_indices(p)          # lavaan's vech: (I, J) with I >= J, column by column
        dS = U[:, I] * V[:, J] + V[:, I] * U[:, J]
        raw = np.concatenate([D, dS], axis=1) if self.meanstructure else dS
        return raw.T @ gs.P

    def derivatives(self, theta, stats):
        """(g, I, F, H) for one parameter vector, H the exact Hessian of F."""
        F, g, I, H = self.batch_derivatives(np.asarray(theta, float)[None, :], self.group_moments(stats),
                                            hessian=True)
        if not np.isfinite(F[0]):
            return None, None, np.inf, None
        return g[0], I[0], float(F[0]), H[0]

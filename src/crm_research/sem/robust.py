"""Robust maximum likelihood as lavaan 0.6-14: Gamma (NACOV), sandwich standard errors,
scaled test statistics and the scaled/robust fit measures.

Everything here works on the unrestricted (h1) statistics of each group, ordered as lavaan
orders them: the means (with a mean structure), then ``vech(Sigma)``, the lower triangle
column by column.  The pieces, with lavaan's names and sources:

* ``Gamma`` (NACOV, :func:`gamma_adf`): N times the asymptotic covariance of the sample
  statistics, from the fourth-order moments of the data, divisor N; with fixed exogenous
  covariates the x-part is removed as lavaan's ``lav_samplestats_Gamma(fixed.x = TRUE)`` does
  (``R/lav_samplestats_gamma.R``);
* ``A1`` (``WLS.V``), the h1 information: expected (:func:`h1_expected`) or observed
  (:func:`h1_observed`, complete data or missing patterns), evaluated at the model-implied
  moments ("structured", lavaan's default) or at the sample/EM moments ("unstructured");
* ``B1``, the first-order (outer product of casewise scores) h1 information
  (:func:`h1_firstorder`, complete data or missing patterns);
* ``Delta``, the Jacobian of the implied moments (:meth:`RAMModel.delta`).

:class:`RobustML` combines them into lavaan's robust ``vcov`` (``robust.sem``: E^-1 Delta'
W Gamma W Delta E^-1; ``robust.huber.white``: E^-1 Delta' B1 Delta E^-1, ``R/lav_model_vcov.R``),
the traces of ``U Gamma`` for the Satorra-Bentler, mean-and-variance adjusted and
scaled-shifted statistics (``R/lav_test_satorra_bentler.R``, method "original") and the
Yuan-Bentler traces, Mplus variant and EQS variant with Omega = A1^-1 B1 A1^-1
(``R/lav_test_yuan_bentler.R``, ``R/lav_model_h1_omega.R``), for the model and for the
independence (baseline) model.  :func:`scaled_fit_measures` then adds lavaan's ``*.scaled``
and ``*.robust`` fit measures (``R/lav_fit_cfi.R``: Brosseau-Liard & Savalei 2014, Savalei
2018; ``R/lav_fit_rmsea.R``; ``R/lav_fit_utils.R``: the FIML-corrected robust measures of
Zhang & Savalei, versions V3/V6, for ``missing = "ml"``).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

#: test statistics of the Satorra-Bentler family (need Gamma)
SB_TESTS = ("satorra.bentler", "mean.var.adjusted", "scaled.shifted")
YB_TESTS = ("yuan.bentler.mplus", "yuan.bentler")
ROBUST_TESTS = SB_TESTS + YB_TESTS


# ============================================================================ matrix algebra
def vech_index(p: int) -> tuple[np.ndarray, np.ndarray]:
    """Row and column indices (I >= J) of lavaan's ``vech``: the lower triangle column by column."""
    J, I = np.triu_indices(p)
    return I, J


@lru_cache(maxsize=16)
def _dpp_index(p: int):
    """Flat indices into the (p*p, p*p) matrix T[(i,k),(j,l)] = sum_n B_n[i,k] A_n[j,l] of the
    four terms of D' (A %x% B) D, and the halving of diagonal vech elements."""
    I, J = vech_index(p)
    P2 = p * p

    def ix(a, b, c, d):   # T[(a, c), (b, d)] -> B[a, c] A[b, d]
        return ((a[:, None] * p + c[None, :]) * P2 + (b[:, None] * p + d[None, :]))

    idx = (ix(I, J, I, J), ix(I, J, J, I), ix(J, I, I, J), ix(J, I, J, I))
    h = np.where(I == J, 0.5, 1.0)
    return idx, np.outer(h, h)


def dup_pre_post_sum(Bs: np.ndarray, As: np.ndarray, w: np.ndarray | None = None) -> np.ndarray:
    """sum_n w_n D' (A_n %x% B_n) D for stacks of symmetric matrices (n, p, p): one matrix
    product of (p^2, n) by (n, p^2), then four gathers."""
    n, p, _ = Bs.shape
    Bw = Bs if w is None else Bs * np.asarray(w, float)[:, None, None]
    T = (Bw.reshape(n, p * p).T @ As.reshape(n, p * p)).ravel()
    idx, hh = _dpp_index(p)
    return (T[idx[0]] + T[idx[1]] + T[idx[2]] + T[idx[3]]) * hh


def dup_pre_post(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """``D' (A %x% B) D`` for symmetric A, B (lavaan's ``lav_matrix_duplication_pre_post``).

    Parameters
    ----------
    A, B : ndarray (p, p)
        Symmetric matrices.

    Returns
    -------
    ndarray (p(p+1)/2, p(p+1)/2)
        Rows and columns in lavaan's ``vech`` order.

    Examples
    --------
    >>> D = np.array([[1., 0, 0], [0, 1, 0], [0, 1, 0], [0, 0, 1]])   # duplication matrix, p = 2
    >>> A = np.array([[2., 1], [1, 3]])
    >>> np.allclose(dup_pre_post(A, A), D.T @ np.kron(A, A) @ D)
    True
    """
    return dup_pre_post_sum(B[None], A[None])


def dup_pre_vec(v: np.ndarray, S: np.ndarray) -> np.ndarray:
    """``D' (v %x% S)`` for a vector v and a symmetric S (lavaan's ``lav_matrix_duplication_pre``)."""
    I, J = vech_index(S.shape[0])
    M = v[J][:, None] * S[I, :] + v[I][:, None] * S[J, :]
    return M * np.where(I == J, 0.5, 1.0)[:, None]


def not_x_mask(p: int, x_idx, meanstructure: bool) -> np.ndarray:
    """lavaan's ``eliminate.pstar.idx``: False for the means and covariances of fixed x only."""
    I, J = vech_index(p)
    xs = np.zeros(p, dtype=bool)
    if len(x_idx):
        xs[np.asarray(x_idx)] = True
    keep = ~(xs[I] & xs[J])
    return np.concatenate([~xs, keep]) if meanstructure else keep


def _mask(M: np.ndarray, keep: np.ndarray) -> np.ndarray:
    if keep.all():
        return M
    M = M.copy()
    M[~keep, :] = 0.0
    M[:, ~keep] = 0.0
    return M


def inv_checked(E: np.ndarray) -> np.ndarray:
    """Inverse of an information matrix; LinAlgError when it is numerically singular (R's
    ``solve()`` refuses a reciprocal condition number below machine epsilon, as lavaan meets it)."""
    if not np.all(np.isfinite(E)) or np.linalg.cond(E, 1) > 1 / np.finfo(float).eps:
        raise np.linalg.LinAlgError("singular information matrix")
    return np.linalg.inv(E)


def inv_masked(A: np.ndarray) -> np.ndarray:
    """Inverse of the non-zero block of A, zeros where A has zero rows and columns (fixed.x
    elements), as lavaan's ``lav_matrix_symmetric_inverse``."""
    nz = ~((A == 0).all(axis=0) & (A == 0).all(axis=1))
    out = np.zeros_like(A)
    out[np.ix_(nz, nz)] = np.linalg.inv(A[np.ix_(nz, nz)])
    return out


def bdiag(mats) -> np.ndarray:
    n = sum(m.shape[0] for m in mats)
    out = np.zeros((n, n))
    k = 0
    for m in mats:
        s = m.shape[0]
        out[k:k + s, k:k + s] = m
        k += s
    return out


# ============================================================================ h1 pieces
def h1_expected(Sigma: np.ndarray, meanstructure: bool, x_idx=()) -> np.ndarray:
    """Expected unit h1 information of the normal: blockdiag(Sigma^-1, 1/2 D'(Sigma^-1 %x% Sigma^-1) D)
    (lavaan's ``lav_mvnorm_information_expected``), the rows of fixed-x moments zeroed.

    Parameters
    ----------
    Sigma : ndarray (p, p)
    meanstructure : bool
        Include the means block.
    x_idx : sequence of int
        Fixed exogenous covariates.

    Returns
    -------
    ndarray

    Examples
    --------
    >>> h1_expected(np.array([[2.0]]), True)      # 1/sigma^2 for the mean, 1/(2 sigma^4) for the variance
    array([[0.5  , 0.   ],
           [0.   , 0.125]])
    """
    Si = np.linalg.inv(Sigma)
    out = 0.5 * dup_pre_post(Si, Si)
    if meanstructure:
        out = bdiag([Si, out])
    return _mask(out, not_x_mask(Sigma.shape[0], x_idx, meanstructure))


@dataclass
class PatternStats:
    """One missing-data pattern (a complete sample is one pattern): observed variables,
    count, mean and ML covariance of the observed block, and the rows."""

    obs: np.ndarray
    n: int
    mean: np.ndarray
    S: np.ndarray
    X: np.ndarray


def complete_pattern(X: np.ndarray, mean: np.ndarray, S: np.ndarray) -> list[PatternStats]:
    return [PatternStats(np.arange(X.shape[1]), X.shape[0], mean, S, X)]


def _pattern_inverse(Sigma, o):
    p = Sigma.shape[0]
    si = np.linalg.inv(Sigma[np.ix_(o, o)])
    full = np.zeros((p, p))
    full[np.ix_(o, o)] = si
    return si, full


def h1_observed(pats: list[PatternStats], Mu: np.ndarray, Sigma: np.ndarray, meanstructure: bool = True,
                x_idx=()) -> np.ndarray:
    """Observed unit h1 information (minus the Hessian of logl / N w.r.t. mu and vech Sigma)
    at (Mu, Sigma), summed over missing patterns (lavaan's
    ``lav_mvnorm_missing_information_observed_samplestats``; one pattern =
    ``lav_mvnorm_information_observed_samplestats``)."""
    p = Sigma.shape[0]
    K = len(pats)
    N = sum(pt.n for pt in pats)
    w = np.array([pt.n for pt in pats], float)
    Sf = np.zeros((K, p, p)); Af = np.zeros((K, p, p)); t21 = np.zeros((K, p))
    for k, pt in enumerate(pats):
        o = pt.obs
        si, Sf[k] = _pattern_inverse(Sigma, o)
        d = pt.mean - Mu[o]
        t21[k, o] = si @ d
        W = pt.S + np.outer(d, d)
        Af[k][np.ix_(o, o)] = si @ (2 * W - Sigma[np.ix_(o, o)]) @ si
    H11 = np.einsum("k,kij->ij", w, Sf)
    H22 = 0.5 * dup_pre_post_sum(Af, Sf, w)
    if meanstructure:
        I, J = vech_index(p)
        Q = np.einsum("k,kj,kic->ijc", w, t21, Sf)        # Q[i, j, c] = sum_k n_k v_j S_ic
        H21 = (Q[I, J, :] + Q[J, I, :]) * np.where(I == J, 0.5, 1.0)[:, None]
        out = np.block([[H11, H21.T], [H21, H22]]) / N
    else:
        out = H22 / N
    return _mask(out, not_x_mask(p, x_idx, meanstructure))


def h1_expected_missing(pats: list[PatternStats], Sigma: np.ndarray, meanstructure: bool = True,
                        x_idx=()) -> np.ndarray:
    """Expected unit h1 information under the missing patterns (lavaan's
    ``lav_mvnorm_missing_information_expected``)."""
    p = Sigma.shape[0]
    N = sum(pt.n for pt in pats)
    w = np.array([pt.n for pt in pats], float)
    Sf = np.stack([_pattern_inverse(Sigma, pt.obs)[1] for pt in pats])
    H11 = np.einsum("k,kij->ij", w, Sf)
    H22 = 0.5 * dup_pre_post_sum(Sf, Sf, w)
    out = bdiag([H11, H22]) / N if meanstructure else H22 / N
    return _mask(out, not_x_mask(p, x_idx, meanstructure))


def casewise_scores(pats: list[PatternStats], Mu: np.ndarray, Sigma: np.ndarray, meanstructure: bool = True,
                    x_idx=()) -> np.ndarray:
    """Casewise scores of the normal log-likelihood w.r.t. (mu, vech Sigma) at (Mu, Sigma)
    (lavaan's ``lav_mvnorm_missing_scores_mu_vech_sigma``; complete data: one pattern)."""
    p = Sigma.shape[0]
    I, J = vech_index(p)
    blocks = []
    for pt in pats:
        o = pt.obs
        si, Sfull = _pattern_inverse(Sigma, o)
        yc = np.zeros((pt.X.shape[0], p))
        yc[:, o] = (pt.X - Mu[o]) @ si
        sc = yc[:, I] * yc[:, J] - Sfull[I, J][None, :]
        sc[:, I == J] *= 0.5
        blocks.append(np.concatenate([yc, sc], axis=1) if meanstructure else sc)
    SC = np.concatenate(blocks, axis=0)
    if meanstructure and len(x_idx):
        SC[:, ~not_x_mask(p, x_idx, True)] = 0.0
    return SC


def h1_firstorder(pats, Mu, Sigma, meanstructure=True, x_idx=()) -> np.ndarray:
    """First-order unit h1 information: mean outer product of the casewise scores."""
    SC = casewise_scores(pats, Mu, Sigma, meanstructure, x_idx)
    return SC.T @ SC / SC.shape[0]


def gamma_adf(X: np.ndarray, meanstructure: bool, x_idx=(), fixed_x: bool = True) -> np.ndarray:
    """lavaan's ``Gamma`` (ADF NACOV, divisor N) of complete data ``X`` (n, p): the covariance
    matrix of the casewise (y_i, vech((y_i - ybar)(y_i - ybar)')), with the part explained by
    fixed exogenous covariates removed as ``lav_samplestats_Gamma(fixed.x = TRUE)`` does.

    Parameters
    ----------
    X : ndarray (n, p)
        Complete data, columns in the model's variable order.
    meanstructure : bool
        Include the means (first p rows/columns).
    x_idx : sequence of int
        Fixed exogenous covariates among the columns.
    fixed_x : bool

    Returns
    -------
    ndarray (p + p(p+1)/2 or p(p+1)/2, same)

    Examples
    --------
    >>> x = np.array([[0.0], [1.0], [2.0], [3.0]])
    >>> g = gamma_adf(x, True)
    >>> float(g[0, 0]), float(g[1, 1])     # var(x) = 1.25; var((x - m)^2) = m4 - m2^2
    (1.25, 1.0)
    """
    n, p = X.shape
    I, J = vech_index(p)

    def z(Y):
        Yc = Y - Y.mean(axis=0)
        zz = Yc[:, I] * Yc[:, J]
        return np.concatenate([Y, zz], axis=1) if meanstructure else zz

    Z = z(X)
    if fixed_x and len(x_idx):
        xi = np.asarray(x_idx)
        nox = np.setdiff1d(np.arange(p), xi)
        Xd = np.column_stack([np.ones(n), X[:, xi]])
        coef, *_ = np.linalg.lstsq(Xd, X[:, nox], rcond=None)
        Yhat = X.copy()
        Yhat[:, nox] = Xd @ coef
        Z = Z - z(Yhat)
    Zc = Z - Z.mean(axis=0)
    return Zc.T @ Zc / n


# ============================================================================ model pieces
@dataclass
class GroupPieces:
    fg: float
    N: int
    pats: list
    Mu: np.ndarray          # implied means (sample means without a mean structure)
    Sigma: np.ndarray       # implied covariance
    h1_mean: np.ndarray     # sample / EM means
    h1_cov: np.ndarray      # sample / EM covariance
    Delta: np.ndarray
    gamma: np.ndarray | None = None


@dataclass
class RobustTest:
    test: str
    stat: float
    df: float
    pvalue: float
    scaling_factor: float
    shift_parameter: float = float("nan")
    trace_ugamma: float = float("nan")
    trace_ugamma2: float = float("nan")
    scaling_factor_h1: float = float("nan")
    scaling_factor_h0: float = float("nan")
    extra: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        """lavaan's names (``lavInspect(fit, "test")``)."""
        out = {"test": self.test, "stat": self.stat, "df": self.df, "pvalue": self.pvalue,
               "scaling.factor": self.scaling_factor}
        if self.test == "scaled.shifted":
            out["shift.parameter"] = self.shift_parameter
        if math.isfinite(self.trace_ugamma):
            out["trace.UGamma"] = self.trace_ugamma
        if math.isfinite(self.trace_ugamma2):
            out["trace.UGamma2"] = self.trace_ugamma2
        if self.test in YB_TESTS:
            out["scaling.factor.h1"] = self.scaling_factor_h1
            out["scaling.factor.h0"] = self.scaling_factor_h0
        return out


def _chi2_sf(x, df):
    from scipy.stats import chi2

    if not (df > 0) or not math.isfinite(x):
        return float("nan")
    return float(chi2.sf(x, df))


class RobustML:
    """Robust ingredients of one fitted ML model (or of its independence baseline).

    Built by :func:`crm_research.sem.fit` (``result.robust`` of a fit with a robust test);
    :meth:`vcov` gives lavaan's robust covariance of the estimates, :meth:`test` a scaled test
    statistic.

    Examples
    --------
    >>> import pandas as pd
    >>> from crm_research import sem
    >>> hs = pd.read_csv("tests/reference/lavaan/HolzingerSwineford1939.csv")
    >>> res = sem.fit("visual =~ x1 + x2 + x3\\ntextual =~ x4 + x5 + x6", hs, estimator="MLM")
    >>> t = res.robust.test("scaled.shifted", res.fit_measures["chisq"], res.fit_measures["df"], "expected")
    >>> t.df == res.fit_measures["df"], round(t.scaling_factor, 3) > 0
    (True, True)

    Parameters
    ----------
    groups : list of GroupPieces
    meanstructure : bool
    x_idx : list of int
        Fixed exogenous covariates (fixed.x) among the observed variables.
    fiml : bool
        Incomplete data (missing = "ml"): h1 moments are the EM estimates, no Gamma.
    npar_raw : int, optional
        lavaan's ``nx.free`` (free parameters counted before equality constraints), the
        denominator of ``scaling.factor.h0``.
    hessian : ndarray or None
        Observed unit information of the model (lavaan's ``observed.information =
        "hessian"``), or None to build it from Delta (exact when the moments are linear in
        the parameters, as in the independence model).
    """

    def __init__(self, groups: list[GroupPieces], *, meanstructure: bool, x_idx=(), fixed_x=True, fiml=False,
                 hessian: np.ndarray | None = None, npar_raw: int | None = None):
        self.groups = groups
        self.ms = meanstructure
        self.x_idx = list(x_idx) if fixed_x else []
        self.fixed_x = fixed_x
        self.fiml = fiml
        self._hessian = hessian
        self.N = sum(g.N for g in groups)
        self.npar = groups[0].Delta.shape[1]
        # lavaan's nx.free: free parameters before equality constraints (scaling.factor.h0)
        self.npar_raw = npar_raw or self.npar
        self._cache: dict = {}

    # ---------------------------------------------------------------- h1 matrices
    def A1(self, g: int, information: str, structured: bool = True) -> np.ndarray:
        key = ("A1", g, information, structured)
        if key not in self._cache:
            gp = self.groups[g]
            Mu = gp.Mu if (structured and self.ms) else gp.h1_mean
            Sigma = gp.Sigma if structured else gp.h1_cov
            if information == "expected":
                if self.fiml:
                    M = h1_expected_missing(gp.pats, Sigma, self.ms, self.x_idx)
                else:
                    M = h1_expected(Sigma, self.ms, self.x_idx)
            else:
                M = h1_observed(gp.pats, Mu, Sigma, self.ms, self.x_idx)
            self._cache[key] = M
        return self._cache[key]

    def B1(self, g: int, structured: bool = True) -> np.ndarray:
        key = ("B1", g, structured)
        if key not in self._cache:
            gp = self.groups[g]
            Mu = gp.Mu if (structured and self.ms) else gp.h1_mean
            Sigma = gp.Sigma if structured else gp.h1_cov
            self._cache[key] = h1_firstorder(gp.pats, Mu, Sigma, self.ms, self.x_idx)
        return self._cache[key]

    def gamma(self, g: int) -> np.ndarray:
        gp = self.groups[g]
        if gp.gamma is None:
            gp.gamma = gamma_adf(gp.pats[0].X, self.ms, self.x_idx, self.fixed_x)
        return gp.gamma

    # ---------------------------------------------------------------- information
    def information(self, information: str, observed: str = "hessian") -> np.ndarray:
        """Unit information of the parameters: "expected", or "observed" as the Hessian
        (``observed="hessian"``) or Delta' A1(observed) Delta (``observed="h1"``)."""
        if information == "observed" and observed == "hessian" and self._hessian is not None:
            return self._hessian
        kind = "expected" if information == "expected" else "observed"
        return sum(gp.fg * gp.Delta.T @ self.A1(g, kind) @ gp.Delta for g, gp in enumerate(self.groups))

    def B0(self) -> list[np.ndarray]:
        """Delta' B1 Delta per group (structured first-order information, unweighted)."""
        if "B0" not in self._cache:
            self._cache["B0"] = [gp.Delta.T @ self.B1(g) @ gp.Delta for g, gp in enumerate(self.groups)]
        return self._cache["B0"]

    # ---------------------------------------------------------------- vcov
    def vcov(self, se: str, information: str) -> np.ndarray:
        """N-scaled robust covariance of the estimates divided by N (lavaan's VarCov)."""
        E = self.information(information, "hessian")
        Einv = inv_checked(E)
        if se == "robust.sem":
            meat = np.zeros_like(E)
            kind = "expected" if information == "expected" else "observed"
            for g, gp in enumerate(self.groups):
                WD = self.A1(g, kind) @ gp.Delta
                meat += gp.fg * WD.T @ self.gamma(g) @ WD
        elif se == "robust.huber.white":
            meat = sum(gp.fg * b for gp, b in zip(self.groups, self.B0()))
        else:  # pragma: no cover - guarded by the caller
            raise ValueError(se)
        V = Einv @ meat @ Einv / self.N
        return 0.5 * (V + V.T)

    # ---------------------------------------------------------------- tests
    def ugamma_traces(self, information: str, need_ug2: bool) -> tuple[float, float]:
        """trace(U Gamma) and trace((U Gamma)^2), lavaan's method "original" (all groups at once)."""
        kind = "expected" if information == "expected" else "observed"
        E = self.information(information, "h1")
        Einv = inv_checked(E)
        if not need_ug2:
            tr = 0.0
            for g, gp in enumerate(self.groups):
                V = gp.fg * self.A1(g, kind)
                VD = V @ gp.Delta
                U = V - VD @ Einv @ VD.T
                tr += float(np.sum(U * (self.gamma(g) / gp.fg)))
            return tr, float("nan")
        V_all = bdiag([gp.fg * self.A1(g, kind) for g, gp in enumerate(self.groups)])
        G_all = bdiag([self.gamma(g) / gp.fg for g, gp in enumerate(self.groups)])
        D_all = np.vstack([gp.Delta for gp in self.groups])
        VD = V_all @ D_all
        U = V_all - VD @ Einv @ VD.T
        UG = U @ G_all
        return float(np.sum(U * G_all)), float(np.sum(UG * UG.T))

    def yb_mplus_trace(self, information: str) -> tuple[float, float, float]:
        """Yuan-Bentler (Mplus variant) trace: sum_g tr(A1_g^-1 B1_g) (unstructured h1) minus
        sum_g f_g tr(B0_g E^-1); also lavaan's scaling.factor.h1 and .h0."""
        kind = "expected" if information == "expected" else "observed"
        E = self.information(information, "hessian")
        Einv = inv_checked(E)
        tr_h1 = tr_h0 = 0.0
        ndat = 0
        for g, gp in enumerate(self.groups):
            A1 = self.A1(g, kind, structured=False)
            B1 = self.B1(g, structured=False)
            nz = np.diag(A1) != 0
            A1inv = np.zeros_like(A1)
            A1inv[np.ix_(nz, nz)] = np.linalg.inv(A1[np.ix_(nz, nz)])
            ndat += int(nz.sum())
            tr_h1 += float(np.sum(B1 * A1inv.T))
            tr_h0 += gp.fg * float(np.sum(self.B0()[g] * Einv.T))
        return tr_h1 - tr_h0, tr_h1 / ndat, tr_h0 / self.npar_raw

    def yb_trace(self, information: str) -> tuple[float, float, float]:
        """Yuan-Bentler (EQS variant) trace as lavaan's ``lav_test_yuan_bentler_trace``: U built
        from the structured h1 information, Omega = A1^-1 B1 A1^-1 from the unstructured ones."""
        kind = "expected" if information == "expected" else "observed"
        E = self.information(information, "h1")
        Einv = inv_checked(E)
        tr = tr_h1 = tr_h0 = 0.0
        ndat = 0
        for g, gp in enumerate(self.groups):
            Au = self.A1(g, kind, structured=False)
            Bu = self.B1(g, structured=False)
            nz = np.diag(Au) != 0
            Ainv = np.zeros_like(Au)
            Ainv[np.ix_(nz, nz)] = np.linalg.inv(Au[np.ix_(nz, nz)])
            ndat += int(nz.sum())
            tr_h1 += float(np.sum(Bu * Ainv.T))
            Omega = Ainv @ Bu @ Ainv
            A1 = gp.fg * self.A1(g, kind)
            DED = gp.Delta @ Einv @ gp.Delta.T
            tr_h0 += float(np.sum(gp.fg * self.B1(g) * DED))
            U = A1 - A1 @ DED @ A1
            tr += float(np.sum(U * (Omega / gp.fg)))
        return tr, tr_h1 / ndat, tr_h0 / self.npar_raw

    def test(self, test: str, chisq: float, df: float, information: str) -> RobustTest:
        """lavaan's robust test statistic ``test`` from the standard ``chisq`` with ``df``."""
        if not (df > 0):
            return RobustTest(test, chisq, df, float("nan"), float("nan"))
        if test in YB_TESTS:
            tr, h1, h0 = (self.yb_mplus_trace(information) if test == "yuan.bentler.mplus"
                          else self.yb_trace(information))
            c = tr / df
            if c < 0:
                c = float("nan")
            stat = chisq / c
            return RobustTest(test, stat, df, _chi2_sf(stat, df), c, trace_ugamma=tr,
                              scaling_factor_h1=h1, scaling_factor_h0=h0)
        need2 = test in ("mean.var.adjusted", "scaled.shifted")
        tr, tr2 = self.ugamma_traces(information, need2)
        if test == "satorra.bentler":
            c = tr / df
            c = c if c >= 0 else float("nan")
            stat = chisq / c
            return RobustTest(test, stat, df, _chi2_sf(stat, df), c, trace_ugamma=tr)
        if test == "mean.var.adjusted":
            dfs = tr ** 2 / tr2
            c = tr / dfs
            c = c if c >= 0 else float("nan")
            stat = chisq / c
            return RobustTest(test, stat, dfs, _chi2_sf(stat, dfs), c, trace_ugamma=tr, trace_ugamma2=tr2)
        if test == "scaled.shifted":
            a = math.sqrt(df / tr2)
            c = 1 / a
            shift = df - a * tr
            stat = chisq * a + shift
            return RobustTest(test, stat, df, _chi2_sf(stat, df), c, shift_parameter=shift, trace_ugamma=tr,
                              trace_ugamma2=tr2)
        raise ValueError(test)  # pragma: no cover


# ============================================================================ builders
def model_pieces(rm, stats, theta, *, fixed_x: bool, x_idx) -> list[GroupPieces]:
    """GroupPieces of a fitted :class:`RAMModel` (implied moments and Delta per group)."""
    moms = rm.group_moments(stats)
    out = []
    for g, st in enumerate(stats.groups):
        imp = rm.implied(theta, g)
        pats = _pats(st)
        Mu = imp["mu"] if rm.meanstructure else st.mean
        out.append(GroupPieces(st.weight, st.N, pats, np.asarray(Mu, float), imp["Sigma"], st.mean, st.S,
                               rm.delta(theta, g, moms[g])))
    return out


def _pats(st) -> list[PatternStats]:
    if st.patterns is not None:
        return [PatternStats(pt.obs, pt.n, pt.mean, pt.S, pt.X) for pt in st.patterns]
    return complete_pattern(st.X, st.mean, st.S)


def baseline_pieces(stats, *, meanstructure: bool, x_idx, fixed_x: bool) -> list[GroupPieces]:
    """GroupPieces of lavaan's independence (baseline) model: free variances (and means) of
    the non-exogenous variables, exogenous covariates at their sample moments (fixed.x); with
    missing data the estimates are the univariate ML ones of each variable's observed values."""
    G = stats.ngroups
    p = len(stats.ov)
    xs = list(x_idx) if fixed_x else []
    nox = [i for i in range(p) if i not in set(xs)]
    k_g = len(nox) * (2 if meanstructure else 1)
    q = G * k_g
    I, J = vech_index(p)
    vpos = {i: k for k, (a, b) in enumerate(zip(I, J)) if a == b for i in [a]}
    out = []
    for g, st in enumerate(stats.groups):
        if st.patterns is not None:
            mean = np.array([np.nanmean(st.X[:, j]) for j in range(p)])
            var = np.array([np.nanmean((st.X[:, j] - mean[j]) ** 2) for j in range(p)])
        else:
            mean, var = st.mean, np.diag(st.S)
        Sigma = np.diag(var)
        if xs:
            xi = np.asarray(xs)
            Sigma[np.ix_(xi, xi)] = st.S[np.ix_(xi, xi)]
        ndat = (p if meanstructure else 0) + len(I)
        D = np.zeros((ndat, q))
        off = g * k_g
        for k, i in enumerate(nox):
            row = (p if meanstructure else 0) + vpos[i]
            D[row, off + k] = 1.0
            if meanstructure:
                D[i, off + len(nox) + k] = 1.0
        out.append(GroupPieces(st.weight, st.N, _pats(st), mean, Sigma, st.mean, st.S, D))
    return out


def ml_discrepancy_total(groups: list[GroupPieces]) -> float:
    """sum_g N_g F_ML(h1 moments; implied moments): lavaan's chi-square of a model refitted
    (without iterations) to the h1 (EM) moments, as ``lav_fit_fiml_corrected`` does."""
    total = 0.0
    for gp in groups:
        S, m = gp.h1_cov, gp.h1_mean
        Si = np.linalg.inv(gp.Sigma)
        d = m - gp.Mu
        F = (np.linalg.slogdet(gp.Sigma)[1] + np.sum(S * Si) - np.linalg.slogdet(S)[1] - S.shape[0]
             + d @ Si @ d)
        total += gp.N * F
    return float(total)


def fiml_corrected(model: RobustML, base: RobustML, df: float, dfb: float, version: str,
                   information: str = "observed") -> dict:
    """lavaan's ``lav_fit_fiml_corrected`` (Zhang & Savalei): the ingredients of the robust
    CFI/TLI/RMSEA with incomplete data, version "V3" (with a robust test) or "V6"; the
    parameters' information is the fit's ``information`` with unstructured (EM) h1 moments."""
    fg = [gp.fg for gp in model.groups]
    kind = "expected" if information == "expected" else "observed"
    Ei = [model.A1(g, kind, structured=False) for g in range(len(fg))]
    Wm = [model.A1(g, "observed", structured=False) for g in range(len(fg))]
    Jm = [model.B1(g, structured=False) for g in range(len(fg))]
    Wc = [h1_expected(gp.h1_cov, True, model.x_idx) for gp in model.groups]
    Wmi = [inv_masked(w) for w in Wm]
    Wm_all = bdiag([f * w for f, w in zip(fg, Wm)])
    Wc_all = bdiag([f * w for f, w in zip(fg, Wc)])
    Wmi_all = bdiag([w / f for f, w in zip(fg, Wmi)])
    G_all = bdiag([wi @ j @ wi / f for f, wi, j in zip(fg, Wmi, Jm)]) if version == "V3" else None

    def k_of(rob: RobustML):
        D = np.vstack([gp.Delta for gp in rob.groups])
        E = sum(f * gp.Delta.T @ w @ gp.Delta for f, gp, w in zip(fg, rob.groups, Ei))
        Einv = inv_checked(E)
        WD = Wm_all @ D
        U = Wm_all - WD @ Einv @ WD.T
        if version == "V3":
            return float(np.trace(U @ Wmi_all @ Wc_all @ Wmi_all @ U @ G_all))
        return float(np.trace(Wc_all @ Wmi_all @ U @ Wmi_all))

    XX3 = ml_discrepancy_total(model.groups)
    c3 = k_of(model) / df if df > 0 else float("nan")
    XX3n = ml_discrepancy_total(base.groups)
    c3n = k_of(base) / dfb if dfb > 0 else float("nan")
    return {"XX3": XX3, "df3": df, "c.hat3": c3, "XX3.scaled": XX3 / c3 if c3 else float("nan"),
            "XX3.null": XX3n, "df3.null": dfb, "c.hat3.null": c3n}


# ============================================================================ difference tests
def satorra_bentler_2001(T1: float, r1: float, c1: float, T0: float, r0: float, c0: float) -> dict:
    """Scaled difference of nested models (Satorra & Bentler 2001; lavaan's
    ``lav_test_diff_SatorraBentler2001``): model 1 less restricted (df r1), model 0 restricted.

    Parameters
    ----------
    T1, r1, c1 : float
        Standard chi-square, df and scaling factor of the less restricted model.
    T0, r0, c0 : float
        The same of the restricted model.

    Returns
    -------
    dict
        ``T.delta`` (the scaled difference), ``scaling.factor`` (cd), ``df.delta``.

    Examples
    --------
    >>> out = satorra_bentler_2001(100.0, 40, 1.2, 130.0, 45, 1.3)
    >>> round(out["scaling.factor"], 2), round(out["T.delta"], 3), out["df.delta"]
    (2.1, 14.286, 5)
    """
    if r1 == 0:
        c1 = 1.0
    m = r0 - r1
    if m == 0:
        return {"T.delta": T0 - T1, "scaling.factor": float("nan"), "df.delta": m}
    cd = (r0 * c0 - r1 * c1) / m
    if not cd >= 0:
        cd = float("nan")
    return {"T.delta": (T0 - T1) / cd, "scaling.factor": cd, "df.delta": m}


def satorra_2000(rob1: RobustML, rob0: RobustML, T1: float, r1: float, T0: float, r0: float,
                 information: str = "expected") -> dict:
    """Scaled-shifted difference test of Satorra (2000) as lavaan's ``lav_test_diff_Satorra2000``
    (``H1 = TRUE``, ``A.method = "delta"``, ``scaled.shifted = TRUE``): the restrictions A are
    the orthogonal complement of ``ginv(Delta1) Delta0``."""
    m = r0 - r1
    if m == 0:
        return {"T.delta": T0 - T1, "df.delta": m, "a": float("nan"), "b": float("nan")}
    kind = "expected"                  # lavTech(m1, "WLS.V"): the expected h1 information, always
    D1 = np.vstack([gp.Delta for gp in rob1.groups])
    D0 = np.vstack([gp.Delta for gp in rob0.groups])
    H = np.linalg.pinv(D1) @ D0
    U_, sv, _ = np.linalg.svd(H, full_matrices=True)
    rank = int(np.sum(sv > max(H.shape) * np.finfo(float).eps * (sv[0] if len(sv) else 1.0)))
    A = U_[:, rank:].T
    P = rob1.information(information, "hessian")      # lavTech(m1, "information")
    Pinv = inv_checked(P)
    APA = A @ Pinv @ A.T
    PAAPAAP = Pinv @ A.T @ np.linalg.pinv(APA) @ A @ Pinv
    fg = [gp.fg for gp in rob1.groups]
    tr = 0.0
    for g, gp in enumerate(rob1.groups):
        V = rob1.A1(g, kind)
        UG = V @ rob1.gamma(g) @ V @ gp.Delta @ PAAPAAP @ gp.Delta.T
        tr += fg[g] * float(np.trace(UG))
    G_all = bdiag([f * rob1.gamma(g) for g, f in enumerate(fg)])
    V_all = bdiag([rob1.A1(g, kind) for g in range(len(fg))])
    U = V_all @ D1 @ PAAPAAP @ D1.T @ V_all
    UG = U @ G_all
    tr2 = float(np.sum(UG * UG.T))
    a = math.sqrt(m / tr2)
    b = m - a * tr
    return {"T.delta": (T0 - T1) * a + b, "df.delta": m, "a": a, "b": b, "trace.UGamma": tr,
            "trace.UGamma2": tr2}


# ============================================================================ fit measures
def _cfi(X2, df, X2n, dfn, c=1.0, cn=1.0, robust=False):
    if any(map(lambda v: v is None or not math.isfinite(v), (X2, df, X2n, dfn, c, cn))):
        return float("nan")
    if robust and df > 0 and c != 1 and cn != 1:
        t1 = max(X2 - c * df, 0.0)
        t2 = max(X2 - c * df, X2n - cn * dfn, 0.0)
    else:
        t1 = max(X2 - df, 0.0)
        t2 = max(X2 - df, X2n - dfn, 0.0)
    if abs(t1) < 1.5e-8 and abs(t2) < 1.5e-8:
        return 1.0
    return 1.0 - t1 / t2


def _tli(X2, df, X2n, dfn, c=1.0, cn=1.0, robust=False):
    if any(map(lambda v: v is None or not math.isfinite(v), (X2, df, X2n, dfn, c, cn))):
        return float("nan")
    if robust and df > 0 and c != 1 and cn != 1:
        t1 = (X2 - c * df) * dfn
        t2 = (X2n - cn * dfn) * df
    else:
        t1 = (X2 - df) * dfn
        t2 = (X2n - dfn) * df
    if df > 0 and abs(t2) > 0:
        return 1.0 - t1 / t2
    if not (math.isfinite(t1) and math.isfinite(t2)):
        return float("nan")
    return 1.0


def _rni(X2, df, X2n, dfn, c=1.0, cn=1.0, robust=False):
    if any(map(lambda v: v is None or not math.isfinite(v), (X2, df, X2n, dfn, c, cn))):
        return float("nan")
    if robust and df > 0 and c != 1 and cn != 1:
        t1, t2 = X2 - c * df, X2n - cn * dfn
    else:
        t1, t2 = X2 - df, X2n - dfn
    if abs(t2) < 1.5e-8 or not (math.isfinite(t1) and math.isfinite(t2)):
        return float("nan")
    return 1.0 - t1 / t2


def _rmsea(X2, df, N, G=1, c=1.0):
    if not all(map(math.isfinite, (X2, df, N))):
        return float("nan")
    if df > 0:
        if not math.isfinite(c):
            return float("nan")
        return math.sqrt(max((X2 / N) / df - c / N, 0.0)) * math.sqrt(G)
    return 0.0


def _rmsea_ci(X2, df, N, G=1, c=1.0, level=0.90):
    from scipy.optimize import brentq
    from scipy.stats import chi2, ncx2

    nan = float("nan")
    if not all(map(math.isfinite, (X2, df, N))):
        return nan, nan

    def pch(lam):
        return chi2.cdf(X2, df) if lam <= 0 else ncx2.cdf(X2, df, lam)

    up, lo_p = 1 - (1 - level) / 2, (1 - level) / 2
    if df < 1 or pch(0) - up < 0:
        lo = 0.0
    else:
        try:
            lam = brentq(lambda l: pch(l) - up, 0.0, X2, xtol=1e-12)
            lo = math.sqrt(c * lam / (N * df)) * (math.sqrt(G) if G > 1 else 1.0)
        except ValueError:
            lo = nan
    nr = max(N, X2 * 4)
    if df < 1 or pch(nr) - lo_p > 0 or pch(0) - lo_p < 0:
        hi = 0.0
    else:
        try:
            lam = brentq(lambda l: pch(l) - lo_p, 0.0, nr, xtol=1e-12)
            hi = math.sqrt(c * lam / (N * df)) * (math.sqrt(G) if G > 1 else 1.0)
        except ValueError:
            hi = nan
    return lo, hi


def _rmsea_p(X2, df, N, G=1, c=1.0, h0=0.05, close=True):
    from scipy.stats import ncx2

    if not all(map(math.isfinite, (X2, df, N, c))) or not (df > 0):
        return float("nan")
    ncp = (N * df * (1 / c) * h0 ** 2) / G
    p = float(ncx2.cdf(X2, df, ncp))
    return 1 - p if close else p


def scaled_fit_measures(fm: dict, test: RobustTest | None, base: RobustTest | None, *, N: int, G: int,
                        fiml_corr: dict | None = None) -> dict:
    """lavaan's fitMeasures() with a robust test: ``fm`` (the standard measures) plus the
    ``*.scaled`` and ``*.robust`` measures, in lavaan's order.

    ``test``/``base``: the robust statistic of the model / of the baseline model (None: no
    robust test).  ``fiml_corr``: lavaan's FIML-corrected ingredients (``XX3, df3, c.hat3,
    XX3.scaled, XX3.null, c.hat3.null``) for missing = "ml", or None.
    """
    nan = float("nan")
    X2, df = fm["chisq"], fm["df"]
    X2b, dfb = fm["baseline.chisq"], fm["baseline.df"]
    scaled = test is not None
    robust_sb = scaled and test.test in ("satorra.bentler", "yuan.bentler.mplus", "yuan.bentler", "scaled.shifted")
    fiml = fiml_corr is not None and all(math.isfinite(fiml_corr.get(k, nan)) for k in
                                         ("XX3", "df3", "c.hat3", "XX3.scaled", "XX3.null", "c.hat3.null"))
    robust = robust_sb or fiml
    out = {}
    add = {}
    if scaled:
        add["pvalue"] = {"chisq.scaled": test.stat, "df.scaled": test.df, "pvalue.scaled": test.pvalue,
                        "chisq.scaling.factor": test.scaling_factor}
        if test.test == "scaled.shifted":   # the contract (lavaan keeps it in lavInspect(fit, "test"))
            add["pvalue"]["shift.parameter"] = test.shift_parameter
        add["baseline.pvalue"] = {"baseline.chisq.scaled": base.stat if base else nan,
                                  "baseline.df.scaled": base.df if base else nan,
                                  "baseline.pvalue.scaled": base.pvalue if base else nan,
                                  "baseline.chisq.scaling.factor": base.scaling_factor if base else nan}
    # robust ingredients (lav_fit_cfi_lavobject / lav_fit_rmsea_lavobject)
    if robust:
        if fiml:
            XX3, df3, c3, XX3s = (fiml_corr[k] for k in ("XX3", "df3", "c.hat3", "XX3.scaled"))
            c_hat = c3
            XX3n, c_null = fiml_corr["XX3.null"], fiml_corr["c.hat3.null"]
        else:
            XX3, df3 = X2, df
            if test.test == "scaled.shifted":
                c3 = test.scaling_factor * (df - test.shift_parameter) / df if df > 0 else nan
                c_null = base.scaling_factor * (dfb - base.shift_parameter) / dfb if base and dfb > 0 else nan
                # lavaan: with df = 0 there is no shift parameter, its c.hat is numeric(0) and the
                # robust CFI/TLI fall back to the standard formulas
                c_for_cfi = c3 if df > 0 else 1.0
            else:
                c3 = test.scaling_factor
                c_null = base.scaling_factor if base else nan
                c_for_cfi = c3
            c_hat = test.scaling_factor
            XX3s = test.stat
            XX3n = X2b
    cfi_tli = {}
    if scaled:
        Xs, dfs = test.stat, test.df
        Xbs, dfbs = (base.stat, base.df) if base else (nan, nan)
        cfi_tli["cfi.scaled"] = _cfi(Xs, dfs, Xbs, dfbs)
        cfi_tli["tli.scaled"] = _tli(Xs, dfs, Xbs, dfbs)
    if robust:
        cc = c3 if fiml else c_for_cfi
        rb = not (not fiml and test.test == "scaled.shifted" and not df > 0)
        cn_ = c_null if rb else 1.0
        cfi_tli["cfi.robust"] = _cfi(XX3, df, XX3n, dfb, cc, cn_, robust=rb)
        cfi_tli["tli.robust"] = _tli(XX3, df, XX3n, dfb, cc, cn_, robust=rb)
    if cfi_tli:
        add["tli"] = cfi_tli
    other = {}
    if scaled:
        from .measures import ifi, nfi, pnfi, rfi

        other.update({"nnfi.scaled": cfi_tli["tli.scaled"], "rfi.scaled": rfi(Xs, dfs, Xbs, dfbs),
                      "nfi.scaled": nfi(Xs, dfs, Xbs, dfbs), "pnfi.scaled": pnfi(Xs, dfs, Xbs, dfbs),
                      "ifi.scaled": ifi(Xs, dfs, Xbs, dfbs), "rni.scaled": _rni(Xs, dfs, Xbs, dfbs)})
    if robust:
        other["nnfi.robust"] = cfi_tli["tli.robust"]
        other["rni.robust"] = _rni(XX3, df, XX3n, dfb, cc, cn_, robust=rb)
    if other:
        add["rni"] = other
    if scaled and test.test in ("yuan.bentler", "yuan.bentler.mplus") and df > 0:
        add["bic2"] = {"scaling.factor.h1": test.scaling_factor_h1, "scaling.factor.h0": test.scaling_factor_h0}
    rm = {}
    if scaled:
        if test.test == "scaled.shifted":
            XX2, df2 = test.stat, df
        else:
            XX2 = X2
            df2 = test.trace_ugamma if math.isfinite(test.trace_ugamma) and test.trace_ugamma != 0 else nan
        rm["rmsea.scaled"] = _rmsea(XX2, df2, N, G)
        lo, hi = _rmsea_ci(XX2, df2, N, G)
        rm["rmsea.ci.lower.scaled"], rm["rmsea.ci.upper.scaled"] = lo, hi
        rm["rmsea.pvalue.scaled"] = _rmsea_p(XX2, df2, N, G, 1.0, 0.05, True)
        rm["rmsea.notclose.pvalue.scaled"] = _rmsea_p(XX2, df2, N, G, 1.0, 0.08, False)
    if robust:
        rm["rmsea.robust"] = _rmsea(XX3, df3, N, G, c3)
        lo, hi = _rmsea_ci(XX3s, df3, N, G, c_hat)
        rm["rmsea.ci.lower.robust"], rm["rmsea.ci.upper.robust"] = lo, hi
        rm["rmsea.pvalue.robust"] = _rmsea_p(XX3s, df3, N, G, c_hat, 0.05, True)
        rm["rmsea.notclose.pvalue.robust"] = _rmsea_p(XX3s, df3, N, G, c_hat, 0.08, False)
    if rm:
        add["rmsea.notclose.h0"] = rm
    for k, v in fm.items():
        out[k] = v
        if k in add:
            out.update(add[k])
    return out

"""Predictive relevance of a PLS path model: Q² by blindfolding and PLSpredict.

* :func:`blindfolding` -- Stone-Geisser's Q² as SmartPLS's construct cross-validated
  redundancy: for each endogenous construct, every ``D``-th data point of its indicators
  (counted down the first indicator's cases, then the next indicator's) is omitted in turn and replaced by the mean of the points kept, the
  model is re-estimated, and the omitted points are predicted from the construct's
  predictors (``x_k = loading_k * sum_h path_h * score_h``, on the standardized indicators'
  scale). ``Q² = 1 - SSE/SSO`` over all rounds, SSO the squared deviations of the omitted
  points from the kept points' mean; this is semPLS's ``qSquared(dlines = FALSE, impfun =
  meanrep)`` to the last digit. Q² > 0: the model has predictive relevance for that construct.
* :func:`predict` -- PLSpredict (Shmueli et al. 2016, 2019): ``k``-fold cross-validation,
  repeated ``repeats`` times with different random folds (seeded). The model, estimated on
  the training folds (standardized with the training means and SDs), predicts the hold-out
  fold's endogenous indicators from the exogenous constructs' scores through the structural
  model (the "earliest antecedents" rule of SmartPLS and cSEM); a linear model (LM) of each
  endogenous indicator on all exogenous indicators (with intercept) is the benchmark.
  Each case's predictions are averaged over the repetitions; RMSE, MAE and
  ``Q²_predict = 1 - SSE/SS(training mean)`` are computed per indicator.

Both re-estimate the model on stacks of correlation matrices in one call of
:func:`crm_research.pls.estimate`.

Examples
--------
>>> import pandas as pd
>>> from crm_research import pls
>>> mobi = pd.read_csv("tests/data/ecsi/mobi.csv")
>>> m = "IMAG =~ IMAG1 + IMAG2 + IMAG3; CUSL =~ CUSL1 + CUSL2 + CUSL3; CUSL ~ IMAG"
>>> p = predict(m, mobi, k=5, repeats=2, seed=1)
>>> p.metrics[["indicator", "construct"]].values.tolist()[0]
['CUSL1', 'CUSL']
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from crm_research.errors import ModelError
from crm_research.pls.algorithm import estimate
from crm_research.pls.stages import prepare_data
from crm_research.pls.specification import PLSModel, parse_model
from crm_research.reporting.format import format_number, html_table, markdown_table

__all__ = ["TECHNIQUES", "PLSPredict", "predict", "blindfolding"]

_FIT_KEYS = ("scheme", "consistent", "tol", "max_iter", "stop")


def _model_and_options(model: Any, options: dict) -> tuple[PLSModel, dict]:
    """Model and estimation options from syntax, a PLSModel or a PLSResult."""
    opts = {}
    if hasattr(model, "estimates") and hasattr(model, "settings"):      # a PLSResult
        st = model.settings
        opts = {k: st[k] for k in _FIT_KEYS if k in st}
        opts.update(scheme=model.scheme, consistent=model.consistent)
        model = st.get("input_model", model.model)
    if isinstance(model, str):
        model = parse_model(model)
    if not isinstance(model, PLSModel):
        raise ModelError(f"model must be PLS syntax, a PLSModel or a PLSResult, got {type(model).__name__}")
    opts.update({k: v for k, v in options.items() if v is not None})
    if model.interactions or model.higher_order:
        raise ModelError("prediction is implemented for linear first-order models only (no interaction terms or "
                         "higher-order constructs)", hint="predict with the model's first-order constructs")
    if not model.endogenous:
        raise ModelError("prediction needs a structural model (at least one '~' line)")
    return model, opts


def _corr(X: np.ndarray) -> np.ndarray:
    """Correlation matrices of (..., n, p) data (population SDs cancel)."""
    Xc = X - X.mean(axis=-2, keepdims=True)
    C = np.swapaxes(Xc, -1, -2) @ Xc
    d = np.sqrt(np.einsum("...ii->...i", C))
    return C / d[..., :, None] / d[..., None, :]


def _holdout_matrix(model: PLSModel, test: Any) -> tuple[np.ndarray, pd.Index]:
    """The hold-out sample's indicator columns (complete rows), checked like the training data."""
    if not isinstance(test, pd.DataFrame):
        raise ModelError(f"test must be a pandas DataFrame, got {type(test).__name__}")
    absent = [x for x in model.indicators if x not in test.columns]
    if absent:
        raise ModelError(f"indicator {absent[0]!r} is not a column of the test data")
    sub = test[list(model.indicators)].apply(pd.to_numeric, errors="coerce")
    bad = sub.isna() & test[list(model.indicators)].notna()
    if bad.any().any():
        col = bad.any().idxmax()
        raise ModelError(f"indicator {col!r} of the test data is not numeric (row {bad[col].idxmax()!r})")
    sub = sub.dropna()
    if sub.empty:
        raise ModelError("the test data has no complete row of the model's indicators")
    return sub.to_numpy(float), sub.index


def _check_positive_int(name: str, v: Any, low: int) -> int:
    if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < low:
        raise ModelError(f"{name}={v!r}: expected a whole number of at least {low}")
    return int(v)


@dataclass
class PLSPredict:
    """PLSpredict results.

    Attributes
    ----------
    metrics : DataFrame
        One row per endogenous indicator: ``indicator``, ``construct``, ``rmse``, ``mae``,
        ``q2_predict`` (PLS), ``lm_rmse``, ``lm_mae``, ``lm_q2_predict`` (linear-model
        benchmark), all on the indicator's own scale.
    predictions : DataFrame
        The PLS out-of-sample predictions (rows used x endogenous indicators), averaged over
        repetitions.
    lm_predictions : DataFrame
        The benchmark's predictions.
    k, repeats, seed : settings
    """

    metrics: pd.DataFrame
    predictions: pd.DataFrame
    lm_predictions: pd.DataFrame
    k: int
    repeats: int
    seed: int | None
    settings: dict = field(default_factory=dict)

    @property
    def verdict(self) -> str:
        """Shmueli et al. (2019): how many indicators PLS predicts better (lower RMSE) than LM."""
        m = self.metrics
        if (m["q2_predict"] <= 0).any():
            return "no predictive power (Q²_predict ≤ 0 for some indicators)"
        better = int((m["rmse"] < m["lm_rmse"]).sum())
        n = len(m)
        level = ("high" if better == n else "medium" if better > n / 2 else "low" if better > 0 else "none")
        return f"{level} predictive power (PLS has a lower RMSE than LM for {better} of {n} indicators)"

    def summary(self) -> str:
        """The metrics table (Markdown) with the settings and Shmueli et al.'s verdict."""
        m = self.metrics
        tab = pd.DataFrame({"Indicator": m["indicator"], "Construct": m["construct"],
                            "Q²predict": [format_number(v, 3, bounded=True) for v in m["q2_predict"]],
                            "RMSE (PLS)": [format_number(v, 3) for v in m["rmse"]],
                            "RMSE (LM)": [format_number(v, 3) for v in m["lm_rmse"]],
                            "MAE (PLS)": [format_number(v, 3) for v in m["mae"]],
                            "MAE (LM)": [format_number(v, 3) for v in m["lm_mae"]]})
        how = (f"hold-out sample of {self.settings.get('holdout')} cases" if not self.k else
               f"{self.k}-fold cross-validation, {self.repeats} repetition(s) (seed {self.seed})")
        head = f"PLSpredict: {how}; {self.verdict}"
        return head + "\n\n" + markdown_table(tab)

    def __repr__(self) -> str:
        return f"<PLSPredict {len(self.metrics)} indicators, k = {self.k}, repeats = {self.repeats}>"

    def _repr_html_(self) -> str:
        return f"<p>{self.verdict}</p>" + html_table(self.metrics, decimals=3)


class _Layout:
    """Index bookkeeping shared by the folds."""

    def __init__(self, model: PLSModel):
        cols = list(model.indicators)
        self.ci = {c: j for j, c in enumerate(model.constructs)}
        self.endo = [c for c in model.constructs if model.structural.get(c)]
        self.exo = [c for c in model.constructs if not model.structural.get(c)]
        self.endo_ind = [x for c in self.endo for x in model.blocks[c]]
        exo_ind = [x for c in self.exo for x in model.blocks[c]]
        pos = {x: i for i, x in enumerate(cols)}
        self.cols = cols
        self.colpos = [pos[x] for x in model.columns]
        self.ie = [self.ci[c] for c in self.endo]
        self.ix = [self.ci[c] for c in self.exo]
        self.ye = [pos[x] for x in self.endo_ind]
        self.xe = [pos[x] for x in exo_ind]
        lc = {x: j for j, x in enumerate(model.columns)}
        self.lam_rows = [lc[x] for c in self.endo for x in model.blocks[c]]
        self.lam_cols = [self.ci[c] for c in self.endo for _ in model.blocks[c]]
        self.which = [self.ie.index(self.ci[c]) for c in self.endo for _ in model.blocks[c]]
        # direct antecedents: each endogenous construct's own items and its predictors' items
        self.dv_items = [[pos[x] for x in model.blocks[c]] for c in self.endo]
        self.dv_preds = [[pos[x] for h in model.structural[c] for x in model.blocks[h]] for c in self.endo]


TECHNIQUES = ("earliest", "direct")


def _predict_folds(model: PLSModel, lay: _Layout, opts: dict, trains: list, tests: list,
                   technique: str = "earliest"):
    """PLS, LM and training-mean predictions of each test set from its training set (same sizes)."""
    Xtr = np.stack(trains)                                                   # (m, size, p)
    mu = Xtr.mean(axis=1)
    sd = Xtr.std(axis=1, ddof=1)
    if (sd == 0).any():
        bad = lay.cols[int(np.argwhere(sd == 0)[0][1])]
        raise ModelError(f"column {bad!r} is constant in a training set; PLSpredict cannot standardize it",
                         hint="use fewer folds or drop the column")
    est = estimate(model, _corr(Xtr[..., lay.colpos]), **opts)
    W, L, B = np.asarray(est.weights), np.asarray(est.loadings), np.asarray(est.paths)
    if W.ndim == 2:
        W, L, B = W[None], L[None], B[None]
    out = []
    for a, (tr, te) in enumerate(zip(trains, tests)):
        Zc = ((te - mu[a]) / sd[a])[:, lay.colpos]
        if technique == "earliest":
            eta_x = Zc @ W[a][:, lay.ix]
            Be = B[a][np.ix_(lay.ie, lay.ie)]
            G = B[a][np.ix_(lay.ie, lay.ix)]
            eta_e = eta_x @ G.T @ np.linalg.inv(np.eye(len(lay.ie)) - Be).T
        else:                                   # direct antecedents' own scores
            eta_e = (Zc @ W[a]) @ B[a][lay.ie].T
        lam = L[a][lay.lam_rows, lay.lam_cols]
        pls_hat = mu[a][lay.ye] + eta_e[:, lay.which] * lam * sd[a][lay.ye]
        if technique == "earliest":
            designs = [(lay.xe, lay.ye)]
        else:
            designs = list(zip(lay.dv_preds, lay.dv_items))
        lm_hat = np.empty_like(pls_hat)
        col = 0
        for xs, ys in designs:
            A = np.column_stack([np.ones(len(tr)), tr[:, xs]])
            beta, *_ = np.linalg.lstsq(A, tr[:, ys], rcond=None)
            lm_hat[:, col:col + len(ys)] = np.column_stack([np.ones(len(te)), te[:, xs]]) @ beta
            col += len(ys)
        out.append((pls_hat, lm_hat, np.broadcast_to(mu[a][lay.ye], pls_hat.shape)))
    return out


def _metrics(lay: _Layout, model: PLSModel, y: np.ndarray, P: np.ndarray, PL: np.ndarray, N0: np.ndarray):
    e, el, e0 = y - P, y - PL, y - N0
    sse0 = (e0 ** 2).sum(axis=0)
    return pd.DataFrame({
        "indicator": lay.endo_ind,
        "construct": [c for c in lay.endo for _ in model.blocks[c]],
        "rmse": np.sqrt((e ** 2).mean(axis=0)), "mae": np.abs(e).mean(axis=0),
        "q2_predict": 1 - (e ** 2).sum(axis=0) / sse0,
        "lm_rmse": np.sqrt((el ** 2).mean(axis=0)), "lm_mae": np.abs(el).mean(axis=0),
        "lm_q2_predict": 1 - (el ** 2).sum(axis=0) / sse0,
    })


def predict(model: Any, data: pd.DataFrame, *, k: int = 10, repeats: int = 10, seed: int | None = None,
            test: pd.DataFrame | None = None, folds: Any = None, technique: str = "earliest", scheme: str | None = None, consistent: bool | None = None,
            missing: str = "listwise", tol: float | None = None, max_iter: int | None = None,
            stop: str | None = None) -> PLSPredict:
    """PLSpredict: k-fold, repeated out-of-sample prediction against the linear-model benchmark.

    Parameters
    ----------
    model : str, PLSModel or PLSResult
        The model (a fitted result brings its scheme and PLSc setting).
    data : DataFrame
        The raw data (indicator columns on their own scales).
    k : int
        Folds (SmartPLS default 10).
    repeats : int
        Repetitions with new random folds (SmartPLS default 10).
    seed : int, optional
        The same seed gives the same folds and results.
    test : DataFrame, optional
        A hold-out sample: estimate on all of ``data``, predict ``test`` (no folds; ``k``,
        ``repeats`` and ``seed`` are not used), as cSEM's ``predict(.test_data = )``.
    folds : sequence of int, optional
        Your own fold of every usable row (one repetition; ``k`` and ``seed`` are not used),
        e.g. to reproduce another program's folds.
    technique : {"earliest", "direct"}
        Predict the endogenous constructs from the exogenous constructs' scores through the
        structural model ("earliest antecedents", SmartPLS and cSEM; default), or from each
        construct's direct predictors' scores ("direct antecedents", seminr's default). The LM
        benchmark uses the matching items (all exogenous items, or the direct predictors' items).
    scheme, consistent, tol, max_iter, stop
        Estimation options (default: the result's, else :func:`~crm_research.pls.fit`'s).
    missing : {"listwise", "mean"}
        As in :func:`~crm_research.pls.fit`.

    Returns
    -------
    PLSPredict

    Examples
    --------
    >>> import pandas as pd
    >>> mobi = pd.read_csv("tests/data/ecsi/mobi.csv")
    >>> m = "IMAG =~ IMAG1 + IMAG2 + IMAG3; CUSL =~ CUSL1 + CUSL2 + CUSL3; CUSL ~ IMAG"
    >>> a = predict(m, mobi, k=5, repeats=2, seed=3); b = predict(m, mobi, k=5, repeats=2, seed=3)
    >>> bool((a.metrics.rmse == b.metrics.rmse).all())
    True
    """
    model, opts = _model_and_options(model, dict(scheme=scheme, consistent=consistent, tol=tol,
                                                 max_iter=max_iter, stop=stop))
    if technique not in TECHNIQUES:
        raise ModelError(f"technique={technique!r}: expected one of {', '.join(TECHNIQUES)}")
    X, rows = prepare_data(model, data, missing)
    lay = _Layout(model)
    if test is not None:
        Xt, trows = _holdout_matrix(model, test)
        (P, PL, N0), = _predict_folds(model, lay, opts, [X], [Xt], technique)
        return PLSPredict(metrics=_metrics(lay, model, Xt[:, lay.ye], P, PL, N0),
                          predictions=pd.DataFrame(P, index=trows, columns=lay.endo_ind),
                          lm_predictions=pd.DataFrame(PL, index=trows, columns=lay.endo_ind), k=0, repeats=1,
                          seed=None, settings=dict(opts, missing=missing, holdout=len(trows)))
    n = X.shape[0]
    fixed = None
    if folds is not None:
        fixed = np.asarray(folds)
        if fixed.shape != (n,):
            raise ModelError(f"folds must give one fold per usable row ({n}); got {fixed.shape[0] if fixed.ndim else 0}")
        k, repeats, seed = len(np.unique(fixed)), 1, None
        if k < 2:
            raise ModelError("folds must name at least two folds")
    k = _check_positive_int("k", k, 2)
    repeats = _check_positive_int("repeats", repeats, 1)
    if k > n or n - -(-n // k) < max(10, len(lay.xe) + 2):
        raise ModelError(f"k={k}: {n} usable rows are too few for {k} folds (each training set needs at least "
                         f"{max(10, len(lay.xe) + 2)} cases for the PLS model and the LM benchmark)",
                         hint="use fewer folds")
    rng = np.random.default_rng(seed)
    shape = (repeats, n, len(lay.ye))
    pred, pred_lm, naive = np.zeros(shape), np.zeros(shape), np.zeros(shape)
    for r in range(repeats):
        folds = (np.array_split(rng.permutation(n), k) if fixed is None
                 else [np.flatnonzero(fixed == f) for f in np.unique(fixed)])
        trains = [np.setdiff1d(np.arange(n), f) for f in folds]
        for size in sorted({len(t) for t in trains}):            # one batched estimation per training size
            which = [i for i, t in enumerate(trains) if len(t) == size]
            res = _predict_folds(model, lay, opts, [X[trains[i]] for i in which], [X[folds[i]] for i in which],
                                 technique)
            for i, (P, PL, N0) in zip(which, res):
                pred[r, folds[i]], pred_lm[r, folds[i]], naive[r, folds[i]] = P, PL, N0
    P, PL, N0 = pred.mean(axis=0), pred_lm.mean(axis=0), naive.mean(axis=0)
    return PLSPredict(metrics=_metrics(lay, model, X[:, lay.ye], P, PL, N0),
                      predictions=pd.DataFrame(P, index=rows, columns=lay.endo_ind),
                      lm_predictions=pd.DataFrame(PL, index=rows, columns=lay.endo_ind), k=k, repeats=repeats,
                      seed=seed, settings=dict(opts, missing=missing, technique=technique))


def blindfolding(model: Any, data: pd.DataFrame, *, distance: int = 7, scheme: str | None = None,
                 consistent: bool | None = None, missing: str = "listwise", tol: float | None = None,
                 max_iter: int | None = None, stop: str | None = None) -> pd.DataFrame:
    """Stone-Geisser's Q² (construct cross-validated redundancy) by blindfolding, as SmartPLS.

    Parameters
    ----------
    model : str, PLSModel or PLSResult
    data : DataFrame
        Raw data.
    distance : int
        Omission distance D (SmartPLS default 7). When N/D is a whole number the same cases are
        omitted in every indicator (whole rows), as SmartPLS warns; a warning is not raised, but
        the result's ``rows_omitted`` column says so.

    Returns
    -------
    DataFrame
        ``construct``, ``sso``, ``sse``, ``q2`` for every endogenous construct.

    Examples
    --------
    >>> import pandas as pd
    >>> mobi = pd.read_csv("tests/data/ecsi/mobi.csv")
    >>> q = blindfolding("IMAG =~ IMAG1 + IMAG2 + IMAG3; CUSL =~ CUSL1 + CUSL2 + CUSL3; CUSL ~ IMAG", mobi)
    >>> q.columns.tolist(), bool(q.q2.iloc[0] > 0)
    (['construct', 'sso', 'sse', 'q2'], True)
    """
    model, opts = _model_and_options(model, dict(scheme=scheme, consistent=consistent, tol=tol,
                                                 max_iter=max_iter, stop=stop))
    distance = _check_positive_int("distance", distance, 2)
    X, rows = prepare_data(model, data, missing)
    # on the standardized indicators (as semPLS; PLS works on standardized data): SSE and SSO
    # then weigh every indicator of a block alike whatever its scale
    X = (X - X.mean(axis=0)) / X.std(axis=0, ddof=1)
    n = X.shape[0]
    pos = {x: i for i, x in enumerate(model.indicators)}
    colpos = [pos[x] for x in model.columns]
    ci = {c: j for j, c in enumerate(model.constructs)}
    if distance >= n:
        raise ModelError(f"distance={distance}: the omission distance must be smaller than the {n} cases")
    out = []
    for c in model.endogenous:
        blk = [pos[x] for x in model.blocks[c]]
        K = len(blk)
        number = np.arange(n)[:, None] + n * np.arange(K)[None, :]         # down each indicator in turn
        Xs, masks = [], []
        for d in range(distance):
            omit = number % distance == d
            Xd = X.copy()
            sub = Xd[:, blk]
            kept_mean = np.array([sub[~omit[:, j], j].mean() for j in range(K)])
            sub[omit] = np.broadcast_to(kept_mean, sub.shape)[omit]
            Xd[:, blk] = sub
            Xs.append(Xd)
            masks.append(omit)
        Xs = np.stack(Xs)                                                  # (D, n, p)
        mu = Xs.mean(axis=1)
        sd = Xs.std(axis=1, ddof=1)
        if (sd == 0).any():
            raise ModelError(f"blindfolding of {c!r}: an indicator becomes constant after omission; "
                             "use another omission distance")
        Z = (Xs - mu[:, None, :]) / sd[:, None, :]
        est = estimate(model, _corr(Xs[..., colpos]), **opts)
        W, L, B = np.asarray(est.weights), np.asarray(est.loadings), np.asarray(est.paths)
        j = ci[c]
        preds = [ci[h] for h in model.structural[c]]
        Lc = {x: q for q, x in enumerate(model.columns)}
        sse = sso = 0.0
        for d in range(distance):
            scores = Z[d][:, colpos] @ W[d]
            eta = scores[:, preds] @ B[d][j, preds]
            for q, x in enumerate(model.blocks[c]):
                om = masks[d][:, q]
                xhat = mu[d, pos[x]] + L[d][Lc[x], j] * eta[om] * sd[d, pos[x]]
                sse += float(((X[om, pos[x]] - xhat) ** 2).sum())
                sso += float(((X[om, pos[x]] - mu[d, pos[x]]) ** 2).sum())
        out.append({"construct": c, "sso": sso, "sse": sse, "q2": 1 - sse / sso})
    return pd.DataFrame(out, columns=["construct", "sso", "sse", "q2"])

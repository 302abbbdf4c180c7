"""Result of :func:`crm_research.pls.fit`: :class:`PLSResult`, the tables a PLS paper reports.

Every table is a tidy DataFrame under lavaan's names (``lhs``, ``op``, ``rhs``, ``est``, and
with a bootstrap ``se``, ``t``, ``pvalue``, ``ci.lower``, ``ci.upper``); quality criteria come
from :mod:`crm_research.pls.quality` and :mod:`crm_research.pls.fit_measures`. Tables are
computed when first read and kept.
"""
from __future__ import annotations

import html
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from crm_research.errors import ModelError
from crm_research.pls.algorithm import Estimates
from crm_research.pls.fit_measures import exact_fit_test, fit_measures_table
from crm_research.pls.predict import blindfolding
from crm_research.pls.quality import (effects_table, f_squared, fornell_larcker, htmt, htmt_table, layout_of,
                                      r2_adjusted, reliability_table, specific_indirect_effects, total_effects,
                                      vif_inner, vif_outer)
from crm_research.pls.specification import PLSModel
from crm_research.reporting.format import DASH, format_ci, format_number, format_p, html_table, markdown_table, stars

__all__ = ["PLSResult", "EXACT_FIT_RESAMPLES"]

#: Resamples of the exact-fit bootstrap behind HI95/HI99 when the fit was bootstrapped.
EXACT_FIT_RESAMPLES = 999

_INFERENCE = ["se", "t", "pvalue", "ci.lower", "ci.upper"]


@dataclass
class PLSResult:
    """A fitted PLS path model.

    Attributes
    ----------
    model : PLSModel
        The model estimated (for two-stage estimation: the stage-2 model).
    estimates : Estimates
        The algorithm's arrays.
    S : ndarray
        The indicator correlation matrix (``model.columns`` order).
    nobs : int
        Rows used.
    scheme, consistent
        Settings used.
    boot : Any
        The bootstrap draws (:func:`crm_research.pls.bootstrap.run_bootstrap`) or None.
    data : DataFrame
        The standardized model columns (rows used), for scores, prediction and fit tests.
    settings : dict
        Other settings of the call (tol, max_iter, stop, missing, seed, ...).

    Examples
    --------
    >>> import pandas as pd
    >>> from crm_research import pls
    >>> mobi = pd.read_csv("tests/data/ecsi/mobi.csv")
    >>> res = pls.fit("IMAG =~ IMAG1 + IMAG2 + IMAG3; CUSL =~ CUSL1 + CUSL2 + CUSL3; CUSL ~ IMAG", mobi)
    >>> res.reliability.columns.tolist()
    ['construct', 'mode', 'items', 'alpha', 'rho_a', 'rho_c', 'ave']
    >>> round(res.get("CUSL", "~", "IMAG"), 3) == round(float(res.paths.est.iloc[0]), 3)
    True
    """

    model: PLSModel
    estimates: Estimates
    S: np.ndarray
    nobs: int
    scheme: str = "path"
    consistent: bool = False
    boot: Any = None
    data: pd.DataFrame | None = None
    settings: dict = field(default_factory=dict)

    # ------------------------------------------------------------------ basics
    @property
    def iterations(self) -> int:
        """Iterations of the PLS algorithm until its stop criterion."""
        return int(self.estimates.iterations)

    @property
    def converged(self) -> bool:
        return bool(self.estimates.converged)

    @property
    def bootstrap(self) -> dict | None:
        """Bootstrap settings and counts (None without a bootstrap): ``R``, ``n_ok``, ``seed``,
        ``ci_level``, ``ci_type``, ``sign_change``, ``n_jobs``, ``seconds``."""
        if self.boot is None:
            return None
        return {k: getattr(self.boot, k) for k in ("R", "n_ok", "seed", "ci_level", "ci_type", "sign_change",
                                                     "n_jobs", "seconds")}

    def _annotate(self, df: pd.DataFrame, what: str) -> pd.DataFrame:
        if self.boot is None:
            return df
        return self.boot.annotate(df, what)

    def _draw_stats(self, est: np.ndarray, draws: np.ndarray, jack: Any = None) -> pd.DataFrame:
        """se, t, pvalue, ci.lower, ci.upper of derived quantities (effects, HTMT, ...), by the
        same rule (interval type, p value) as the paths; ``jack`` a callable giving the
        jackknife values, used only for BCa intervals."""
        if self.boot.ci_type == "bca" and jack is not None:
            return self.boot.summarize(est, draws, jack())
        return self.boot.summarize(est, draws)

    def _boot_estimates(self) -> Estimates | None:
        return getattr(self.boot, "estimates", None) if self.boot is not None else None

    def _boot_S(self) -> np.ndarray | None:
        return getattr(self.boot, "S", None) if self.boot is not None else None

    # ------------------------------------------------------------------ estimates
    @cached_property
    def paths(self) -> pd.DataFrame:
        """Structural paths: ``lhs`` (dependent), ``op`` ``~``, ``rhs`` (predictor), ``est``
        (+ ``se``, ``t``, ``pvalue``, ``ci.lower``, ``ci.upper`` with a bootstrap)."""
        m, e = self.model, self.estimates
        rows = []
        for i, dep in enumerate(m.constructs):
            for pred in m.structural.get(dep, ()):
                j = m.constructs.index(pred)
                rows.append({"lhs": dep, "op": "~", "rhs": pred, "est": float(e.paths[i, j])})
        return self._annotate(pd.DataFrame(rows, columns=["lhs", "op", "rhs", "est"]), "paths")

    def _outer(self, arr: np.ndarray, what: str) -> pd.DataFrame:
        m = self.model
        col = {x: k for k, x in enumerate(m.columns)}
        rows = []
        for j, c in enumerate(m.constructs):
            op = "=~" if m.modes[c] == "A" else "<~"
            for x in m.blocks[c]:
                rows.append({"lhs": c, "op": op, "rhs": x, "est": float(arr[col[x], j])})
        return self._annotate(pd.DataFrame(rows, columns=["lhs", "op", "rhs", "est"]), what)

    @cached_property
    def weights(self) -> pd.DataFrame:
        """Outer weights: ``lhs`` construct, ``op`` (``=~``/``<~``), ``rhs`` indicator, ``est``."""
        return self._outer(self.estimates.weights, "weights")

    @cached_property
    def loadings(self) -> pd.DataFrame:
        """Outer loadings (PLSc: consistent loadings): ``lhs``, ``op``, ``rhs``, ``est``."""
        return self._outer(self.estimates.loadings, "loadings")

    @property
    def cross_loadings(self) -> pd.DataFrame:
        """Indicator (rows, ``model.columns``) x construct correlations."""
        return pd.DataFrame(self.estimates.cross_loadings, index=list(self.model.columns),
                            columns=list(self.model.constructs))

    @cached_property
    def effects(self) -> pd.DataFrame:
        """Total, total indirect and specific indirect effects (``op`` ``total``/``indirect``/
        ``specific``; ``via`` names the mediators of a specific effect), with bootstrap columns."""
        tab = effects_table(self.model, self.estimates.paths)
        be = self._boot_estimates()
        if be is None or tab.empty:
            return tab
        draws = self._effect_draws(tab, np.asarray(be.paths, float))
        stats = self._draw_stats(tab["est"].to_numpy(), draws,
                                 lambda: self._effect_draws(tab, np.asarray(self.boot.jackknife().paths, float)))
        return pd.concat([tab.reset_index(drop=True), stats], axis=1)

    def _effect_draws(self, tab: pd.DataFrame, B: np.ndarray) -> np.ndarray:
        names = list(self.model.constructs)
        T = total_effects(B)
        chains, spec = specific_indirect_effects(self.model, B)
        key = {(ch[0], ch[-1], " -> ".join(names[t] for t in ch[1:-1])): k for k, ch in enumerate(chains)}
        cols = []
        for r in tab.itertuples(index=False):
            i, j = names.index(r.lhs), names.index(r.rhs)
            if r.op == "total":
                cols.append(T[:, i, j])
            elif r.op == "indirect":
                cols.append(T[:, i, j] - B[:, i, j])
            else:
                cols.append(spec[:, key[(j, i, r.via)]])
        return np.stack(cols, axis=1)

    @cached_property
    def r2(self) -> pd.DataFrame:
        """``construct``, ``r2``, ``r2_adj`` of the endogenous constructs."""
        lay = layout_of(self.model)
        r2 = np.asarray(self.estimates.r2, float)
        adj = r2_adjusted(lay, r2, self.nobs)
        keep = lay.endogenous
        return pd.DataFrame({"construct": [lay.constructs[i] for i in keep], "r2": r2[keep], "r2_adj": adj[keep]})

    @cached_property
    def f2(self) -> pd.DataFrame:
        """Cohen's f2 of every structural path (``lhs``, ``op``, ``rhs``, ``f2``)."""
        return f_squared(self.model, self.estimates.construct_corr)

    # ------------------------------------------------------------------ measurement quality
    @cached_property
    def reliability(self) -> pd.DataFrame:
        """Per construct: ``alpha``, ``rho_a``, ``rho_c``, ``ave`` (and ``mode``, ``items``).

        For composites (mode B) the reflective criteria are shown as SmartPLS does, but are
        not meaningful: judge composites by their weights, VIFs and validity instead."""
        e = self.estimates
        return reliability_table(self.model, self.S, e.loadings, e.rho_a)

    @cached_property
    def htmt(self) -> pd.DataFrame:
        """HTMT per pair of reflective constructs (``lhs``, ``rhs``, ``est``; not a higher-order
        construct with its own lower-order constructs, which share its indicators); with a bootstrap
        also ``se``, ``ci.lower``, ``ci.upper`` (the fit's interval type) and ``q.upper`` (the
        one-sided upper ``ci_level`` quantile, which Henseler et al. 2015 compare with .85/.90)."""
        tab = htmt_table(self.model, self.S)
        own = {frozenset((h, d)) for h, dims in self.model.higher_order.items() for d in dims}
        if own:
            tab = tab[[frozenset(p) not in own for p in zip(tab["lhs"], tab["rhs"])]].reset_index(drop=True)
        Sb = self._boot_S()
        if Sb is None or tab.empty:
            return tab
        draws = self._htmt_values(tab, Sb)
        stats = self._draw_stats(tab["est"].to_numpy(), draws, lambda: self._htmt_values(tab, self._jackknife_S()))
        out = tab.reset_index(drop=True)
        for k in ("se", "ci.lower", "ci.upper"):
            out[k] = stats[k].to_numpy()
        out["q.upper"] = np.quantile(draws, float(self.boot.ci_level), axis=0)
        return out

    def _htmt_values(self, tab: pd.DataFrame, S: np.ndarray) -> np.ndarray:
        names = list(dict.fromkeys(list(tab["rhs"]) + list(tab["lhs"])))
        names = [c for c in self.model.constructs if c in names]
        H = htmt(self.model, S, constructs=names)
        pos = {c: k for k, c in enumerate(names)}
        return np.stack([H[:, pos[a], pos[b]] for a, b in zip(tab["lhs"], tab["rhs"])], axis=1)

    def _jackknife_S(self) -> np.ndarray:
        """Leave-one-out indicator correlation matrices of the data used (n x p x p)."""
        Z = self.data.to_numpy(float)
        n = Z.shape[0]
        tot, cross = Z.sum(axis=0), Z.T @ Z
        out = np.empty((n, Z.shape[1], Z.shape[1]))
        for i in range(n):
            m = (tot - Z[i]) / (n - 1)
            C = (cross - np.outer(Z[i], Z[i])) / (n - 1) - np.outer(m, m)
            d = np.sqrt(np.diag(C))
            out[i] = C / np.outer(d, d)
        return out

    @cached_property
    def fornell_larcker(self) -> pd.DataFrame:
        """Squared construct correlations with the AVE on the diagonal (construct x construct)."""
        rel = self.reliability
        return fornell_larcker(self.model, self.estimates.construct_corr, rel["ave"].to_numpy())

    @cached_property
    def vif_outer(self) -> pd.DataFrame:
        """Indicator VIFs within each block (``lhs`` construct, ``op``, ``rhs`` indicator, ``vif``)."""
        return vif_outer(self.model, self.S)

    @cached_property
    def vif_inner(self) -> pd.DataFrame:
        """Structural VIFs of each endogenous construct's predictors."""
        return vif_inner(self.model, self.estimates.construct_corr)

    # ------------------------------------------------------------------ overall fit
    def exact_fit(self, n: int = EXACT_FIT_RESAMPLES, seed: int | None = None) -> dict:
        """Bootstrap test of exact fit (HI95/HI99), see :func:`~crm_research.pls.fit_measures.exact_fit_test`."""
        if self.data is None:
            raise ModelError("this result keeps no data; refit with crm_research.pls.fit to test the model's fit")
        opts = {k: self.settings[k] for k in ("tol", "max_iter", "stop") if k in self.settings}
        opts.update(scheme=self.scheme, consistent=self.consistent)
        return exact_fit_test(self.model, self.data.to_numpy(), self.estimates, n=n, seed=seed,
                              estimate_options=opts)

    @cached_property
    def fit_measures(self) -> pd.DataFrame:
        """SRMR, d_ULS and d_G of the estimated and the saturated model; when the fit was
        bootstrapped also ADANCO's HI95/HI99 (exact-fit bootstrap, 999 resamples, the fit's seed).
        Empty for models with interaction terms (no model-implied correlation matrix)."""
        if self.model.interactions:
            return pd.DataFrame(columns=["measure", "model", "value"])
        test = self.exact_fit(seed=self.settings.get("seed")) if self.boot is not None else None
        return fit_measures_table(self.model, self.S, self.estimates, test=test)

    # ------------------------------------------------------------------ predictive relevance
    def blindfolding(self, distance: int = 7) -> pd.DataFrame:
        """Stone-Geisser's Q² per endogenous construct (see :func:`crm_research.pls.predict.blindfolding`),
        with this fit's settings, on the rows it used."""
        if self.data is None:
            raise ModelError("this result keeps no data; refit with crm_research.pls.fit for blindfolding")
        return blindfolding(self, self.data, distance=distance)

    def _q2(self) -> pd.Series | None:
        """Q² for the summary (None where blindfolding does not apply: interaction or higher-order models)."""
        if "_q2_cache" not in self.__dict__:
            try:
                self.__dict__["_q2_cache"] = self.blindfolding().set_index("construct")["q2"]
            except ModelError:
                self.__dict__["_q2_cache"] = None
        return self.__dict__["_q2_cache"]

    # ------------------------------------------------------------------ access and reports
    def get(self, lhs: str, op: str, rhs: str, column: str = "est") -> float:
        """One value: ``get("SAT", "~", "IMAG")`` a path, ``"=~"`` a loading, ``"<~"`` a weight,
        ``"total"``/``"indirect"`` an effect of ``rhs`` on ``lhs``.

        Raises
        ------
        ModelError
            When the model has no such parameter (names what exists).
        """
        tables = {"~": self.paths, "=~": self.loadings, "<~": self.weights, "total": self.effects,
                  "indirect": self.effects}
        if op not in tables:
            raise ModelError(f"get(op={op!r}): expected one of {', '.join(repr(k) for k in tables)}")
        t = tables[op]
        hit = t[(t["lhs"] == lhs) & (t["op"] == op) & (t["rhs"] == rhs)]
        if hit.empty:
            have = ", ".join(f"{a} {op} {b}" for a, b in t.loc[t["op"] == op, ["lhs", "rhs"]].values[:8])
            raise ModelError(f"no parameter {lhs} {op} {rhs} in this PLS model; it has {have or 'none of that kind'}")
        if column not in hit.columns:
            raise ModelError(f"get(column={column!r}): this table has {', '.join(hit.columns)}")
        return float(hit[column].iloc[0])

    def _title(self) -> str:
        kind = "consistent PLS (PLSc)" if self.consistent else "PLS"
        conv = (f"converged after {self.iterations} iterations" if self.converged
                else f"DID NOT CONVERGE in {self.iterations} iterations")
        out = [f"PLS path model: {kind}, {self.scheme} weighting scheme, N = {format_number(self.nobs, 0)}, {conv}"]
        b = self.bootstrap
        if b:
            level = format_number(100 * float(b["ci_level"]), 0)
            ci = "bias-corrected and accelerated (BCa)" if b["ci_type"] == "bca" else "percentile"
            sign = "" if b["sign_change"] == "none" else f", sign change: {b['sign_change']}"
            out.append(f"Bootstrap: {format_number(b['n_ok'], 0)} of {format_number(b['R'], 0)} resamples used "
                       f"(seed {b['seed']}{sign}), {level}% {ci} confidence intervals, two-sided p values")
        return "\n".join(out)

    def _path_lines(self) -> pd.DataFrame:
        p = self.paths
        out = pd.DataFrame({"Path": [f"{a} -> {b}" for a, b in zip(p["rhs"], p["lhs"])],
                            "β": [format_number(v, 3, bounded=False) for v in p["est"]]})
        if "pvalue" in p.columns:
            out["t"] = [format_number(v, 2) for v in p["t"]]
            out["p"] = [format_p(v) + stars(v) for v in p["pvalue"]]
            out["CI"] = [format_ci(a, b, 3) for a, b in zip(p["ci.lower"], p["ci.upper"])]
        f2 = self.f2.set_index(["lhs", "rhs"])["f2"]
        out["f²"] = [format_number(f2.get((a, b)), 3) for a, b in zip(p["lhs"], p["rhs"])]
        return out

    def _outer_lines(self) -> pd.DataFrame:
        load, wts = self.loadings, self.weights
        vif = self.vif_outer.set_index(["lhs", "rhs"])["vif"]
        out = pd.DataFrame({"Construct": load["lhs"], "Indicator": load["rhs"],
                            "Loading": [format_number(v, 3) for v in load["est"]],
                            "Weight": [format_number(v, 3) for v in wts["est"]]})
        if "ci.lower" in load.columns:
            comp = (load["op"] == "<~").to_numpy()
            single = set(self.model.single_item)
            src = [None if load["lhs"].iloc[k] in single else (wts.iloc[k] if comp[k] else load.iloc[k])
                   for k in range(len(load))]                # a single item's loading is 1 by definition
            out["p"] = [DASH if r is None else format_p(r["pvalue"]) + stars(r["pvalue"]) for r in src]
            out["CI"] = [DASH if r is None else format_ci(r["ci.lower"], r["ci.upper"], 3) for r in src]
        out["VIF"] = [format_number(vif.get((a, b)), 2) for a, b in zip(load["lhs"], load["rhs"])]
        return out

    def _tables(self) -> list[tuple[str, pd.DataFrame]]:
        out = [("Measurement model (bootstrap p and CI: loadings of reflective, weights of composite constructs)"
                if "ci.lower" in self.loadings.columns else "Measurement model", self._outer_lines())]
        rel = self.reliability
        t_rel = pd.DataFrame({"Construct": rel["construct"], "Mode": rel["mode"], "Items": rel["items"].astype(str),
                              "α": [format_number(v, 3, bounded=True) for v in rel["alpha"]],
                              "ρA": [format_number(v, 3, bounded=True) for v in rel["rho_a"]],
                              "ρC": [format_number(v, 3, bounded=True) for v in rel["rho_c"]],
                              "AVE": [format_number(v, 3, bounded=True) for v in rel["ave"]]})
        out.append(("Reliability and convergent validity", t_rel))
        h = self.htmt
        if not h.empty:
            t_h = pd.DataFrame({"Pair": [f"{a} – {b}" for a, b in zip(h["lhs"], h["rhs"])],
                                "HTMT": [format_number(v, 3) for v in h["est"]]})
            if "ci.upper" in h.columns:
                t_h["CI"] = [format_ci(a, b, 3) for a, b in zip(h["ci.lower"], h["ci.upper"])]
            out.append(("Discriminant validity (heterotrait-monotrait ratio)", t_h))
        out.append(("Structural model", self._path_lines()))
        r2 = self.r2
        t_r2 = pd.DataFrame({
            "Construct": r2["construct"], "R²": [format_number(v, 3, bounded=True) for v in r2["r2"]],
            "adj. R²": [format_number(v, 3, bounded=True) for v in r2["r2_adj"]]})
        q2 = self._q2()
        if q2 is not None:
            t_r2["Q² (D = 7)"] = [format_number(q2.get(c), 3, bounded=True) for c in r2["construct"]]
        out.append(("Explained variance and predictive relevance" if q2 is not None else "Explained variance", t_r2))
        eff = self.effects
        ind = eff[eff["op"] == "indirect"] if not eff.empty else eff
        if not ind.empty:
            t_i = pd.DataFrame({"Effect": [f"{a} -> {b}" for a, b in zip(ind["rhs"], ind["lhs"])],
                                "Indirect": [format_number(v, 3) for v in ind["est"]]})
            if "ci.lower" in ind.columns:
                t_i["CI"] = [format_ci(a, b, 3) for a, b in zip(ind["ci.lower"], ind["ci.upper"])]
            out.append(("Total indirect effects", t_i))
        fm = self.fit_measures
        if not fm.empty:
            t_f = pd.DataFrame({"Measure": [{"srmr": "SRMR", "d_uls": "d_ULS", "d_g": "d_G"}[m] for m in fm["measure"]],
                                "Model": fm["model"], "Value": [format_number(v, 3) for v in fm["value"]]})
            if "HI95" in fm.columns:
                t_f["HI95"] = [format_number(v, 3) for v in fm["HI95"]]
                t_f["HI99"] = [format_number(v, 3) for v in fm["HI99"]]
            out.append(("Overall model fit", t_f))
        return out

    def summary(self) -> str:
        """A report a reader can paste into a paper: settings, reliability and validity,
        structural paths (with bootstrap t, p and CI when bootstrapped) and f², R², indirect
        effects and the overall fit, as Markdown tables."""
        parts = [self._title()]
        for title, tab in self._tables():
            parts.append(f"\n{title}\n\n" + markdown_table(tab))
        notes = []
        if (self.reliability["mode"] == "composite").any():
            notes.append("α, ρC and AVE assume reflective measurement; they are shown for composites only for reference.")
        if not self.fit_measures.empty:
            notes.append("d_G uses base-10 logarithms as ADANCO; a discrepancy above HI95 rejects exact fit at the 5% level.")
        elif self.model.interactions:
            notes.append("Overall fit (SRMR, d_ULS, d_G) is not defined for models with interaction terms.")
        if self.model.higher_order:
            notes.append("HTMT is not computed between a higher-order construct and its own lower-order "
                         "constructs (they share their indicators).")
        if notes:
            parts.append("\nNotes: " + " ".join(notes))
        return "\n".join(parts)

    def __repr__(self) -> str:
        return (f"<PLSResult {len(self.model.constructs)} constructs, {len(self.model.columns)} indicators, "
                f"N = {self.nobs}, {'PLSc' if self.consistent else 'PLS'} {self.scheme}>")

    def _repr_html_(self) -> str:
        parts = [f"<p><b>{html.escape(self._title()).replace(chr(10), '<br>')}</b></p>"]
        for title, tab in self._tables():
            parts.append(f"<h4>{title}</h4>" + html_table(tab))
        return "\n".join(parts)

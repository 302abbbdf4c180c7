"""Path diagrams of fitted PLS path models: loadings (reflective constructs) or weights
(composites) on the outer arrows, path coefficients on the inner ones, R² inside each
endogenous construct.

The drawing is :func:`crm_research.path_diagram.path_diagram`'s (same layout, engines, SVG/PNG
output and :class:`~crm_research.path_diagram.Diagram` object): :func:`diagram_estimates` turns a
PLS result into the lavaan-style estimates table that function draws, with the bootstrap's
SE, t (in ``z``) and p when the fit bootstrapped, so arrows carry significance stars
(* p < .05, ** p < .01, *** p < .001) only then.

A second-order construct estimated by repeated indicators is drawn with arrows to its
dimensions (labelled with the second-order paths), not with the repeated items again; the
dimensions' R², an artefact of the repeated indicators, is not shown.

Examples
--------
>>> import pandas as pd
>>> from crm_research import pls
>>> from crm_research.pls.diagram import pls_diagram
>>> mobi = pd.read_csv("tests/data/ecsi/mobi.csv")
>>> res = pls.fit("IMAG =~ IMAG1 + IMAG2 + IMAG3\\nCUSA =~ CUSA1 + CUSA2 + CUSA3\\nCUSA ~ IMAG", mobi)
>>> d = pls_diagram(res, engine="matplotlib")
>>> '"IMAG" -> "CUSA"' in d.dot and "R² = " in d.dot
True
"""
from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import pandas as pd

from crm_research.errors import ModelError
from crm_research.path_diagram import Diagram, path_diagram
from crm_research.reporting.format import format_number

__all__ = ["pls_diagram", "diagram_estimates", "SHOW_CHOICES"]

#: What the outer arrows show: ``auto`` = loadings of reflective (mode A) constructs and
#: weights of composites (mode B), as SmartPLS draws them.
SHOW_CHOICES = ("auto", "loadings", "weights")
_COLUMNS = ["lhs", "op", "rhs", "est", "se", "z", "pvalue", "std.all"]


def _model_of(result: Any) -> Any:
    m = getattr(result, "model", None)
    if m is None or not hasattr(m, "constructs") or not hasattr(m, "blocks"):
        raise ModelError(f"expected a fitted PLS model (crm_research.pls.fit), got {type(result).__name__}")
    return m


def _lookup(table: pd.DataFrame | None, lhs: str, rhs: str) -> dict[str, float]:
    out = {"est": np.nan, "se": np.nan, "z": np.nan, "pvalue": np.nan}
    if table is None or not len(table):
        return out
    hit = table[(table["lhs"] == lhs) & (table["rhs"] == rhs)]
    if hit.empty:
        return out
    r = hit.iloc[0]
    for key, col in (("est", "est"), ("se", "se"), ("z", "t"), ("pvalue", "pvalue")):
        if col in r.index and pd.notna(r[col]):
            out[key] = float(r[col])
    return out


def diagram_estimates(result: Any, *, show: str = "auto") -> pd.DataFrame:
    """The lavaan-style estimates table of a PLS result that
    :func:`crm_research.path_diagram.path_diagram` draws.

    Parameters
    ----------
    result : PLSResult
        A :func:`crm_research.pls.fit` result.
    show : {"auto", "loadings", "weights"}
        Outer arrows: loadings of mode A and weights of mode B constructs (``auto``), or
        loadings, or weights for every construct.

    Returns
    -------
    DataFrame
        ``lhs, op, rhs, est, se, z, pvalue, std.all``: ``=~`` rows (construct, indicator) with
        the loading or weight, ``=~`` rows (second-order construct, dimension) with the
        second-order path, ``~`` rows (outcome, predictor) with the path coefficient. ``z`` is
        the bootstrap t, ``std.all`` the estimate (PLS estimates are standardized). Without a
        bootstrap ``se``, ``z`` and ``pvalue`` are empty.

    Raises
    ------
    ConfigError
        ``show`` is not one of :data:`SHOW_CHOICES`.
    ModelError
        ``result`` is not a fitted PLS model.

    Examples
    --------
    >>> import pandas as pd
    >>> from crm_research import pls
    >>> mobi = pd.read_csv("tests/data/ecsi/mobi.csv")
    >>> res = pls.fit("IMAG =~ IMAG1 + IMAG2\\nCUSA <~ CUSA1 + CUSA2 + CUSA3\\nCUSA ~ IMAG", mobi)
    >>> est = diagram_estimates(res)
    >>> est[["lhs", "op", "rhs"]].values.tolist()[:3], len(est)
    ([['IMAG', '=~', 'IMAG1'], ['IMAG', '=~', 'IMAG2'], ['CUSA', '=~', 'CUSA1']], 6)
    >>> bool(est.loc[2, "est"] == res.weights.query("rhs == 'CUSA1'")["est"].iloc[0])
    True
    """
    from crm_research.errors import ConfigError

    if show not in SHOW_CHOICES:
        raise ConfigError("parameters", "show", f"expected one of {', '.join(SHOW_CHOICES)}, got {show!r}")
    m = _model_of(result)
    higher = dict(getattr(m, "higher_order", {}) or {})
    interactions = dict(getattr(m, "interactions", {}) or {})
    lower_of = {lo: h for h, los in higher.items() for lo in los}
    loadings, weights, paths = result.loadings, result.weights, result.paths
    rows = []
    for c in m.constructs:
        if c in interactions:
            continue
        if c in higher and all(lo in m.constructs for lo in higher[c]):
            for lo in higher[c]:          # second-order path (repeated indicators: dimension ~ construct)
                v = _lookup(paths, lo, c)
                if np.isnan(v["est"]):
                    v = _lookup(loadings, c, lo)
                rows.append({"lhs": c, "op": "=~", "rhs": lo, **v})
            continue
        mode = (getattr(m, "modes", {}) or {}).get(c, "A")
        use_weights = show == "weights" or (show == "auto" and mode == "B")
        table = weights if use_weights else loadings
        for x in m.blocks[c]:
            rows.append({"lhs": c, "op": "=~", "rhs": x, **_lookup(table, c, x)})
    for dep in m.constructs:
        for pred in (m.structural.get(dep, ()) or ()):
            if lower_of.get(dep) == pred:
                continue              # drawn above as the second-order construct's arrow
            rows.append({"lhs": dep, "op": "~", "rhs": pred, **_lookup(paths, dep, pred)})
    out = pd.DataFrame(rows, columns=_COLUMNS[:-1])
    out["std.all"] = out["est"]
    return out[_COLUMNS]


def pls_diagram(result: Any, *, show: str = "auto", r2: bool = True, engine: str = "auto", digits: int = 2,
                labels: Mapping[str, str] | None = None, title: str | None = None, ax: Any = None) -> Diagram:
    """Draw a fitted PLS path model.

    Parameters
    ----------
    result : PLSResult
        A :func:`crm_research.pls.fit` result.
    show : {"auto", "loadings", "weights"}
        What the outer arrows carry (see :func:`diagram_estimates`).
    r2 : bool
        Write each endogenous construct's R² under its name.
    engine : {"auto", "dot", "matplotlib"}
        As :func:`crm_research.path_diagram.path_diagram`.
    digits : int
        Decimals of the arrow labels.
    labels : mapping, optional
        Display names of constructs or items (``\\n`` breaks lines).
    title : str, optional
    ax : matplotlib Axes, optional
        Draw into this axes (matplotlib engine).

    Returns
    -------
    Diagram
        ``.svg``, ``.png()``, ``.save(path)``, ``.dot``; shows inline in Jupyter.

    Raises
    ------
    ConfigError, ModelError
        As :func:`diagram_estimates`.

    Examples
    --------
    >>> import pandas as pd
    >>> from crm_research import pls
    >>> mobi = pd.read_csv("tests/data/ecsi/mobi.csv")
    >>> res = pls.fit("IMAG =~ IMAG1 + IMAG2 + IMAG3\\nCUSA =~ CUSA1 + CUSA2 + CUSA3\\nCUSA ~ IMAG", mobi)
    >>> d = pls_diagram(res, engine="matplotlib", labels={"IMAG": "Image"})
    >>> 'label="Image"' in d.dot, 'label="CUSA\\\\nR² = .' in d.dot
    (True, True)
    """
    est = diagram_estimates(result, show=show)
    m = _model_of(result)
    names = {str(k): str(v) for k, v in dict(labels or {}).items()}
    if r2:
        higher = dict(getattr(m, "higher_order", {}) or {})
        dims = {lo for los in higher.values() for lo in los}
        tab = getattr(result, "r2", None)
        if isinstance(tab, pd.DataFrame) and len(tab):
            for c, v in zip(tab["construct"], tab["r2"]):
                if c in dims and not set(m.structural.get(c, ())) - set(higher):
                    continue          # R² of a dimension explained only by its second-order construct
                names[str(c)] = f"{names.get(str(c), c)}\nR² = {format_number(v, digits, bounded=True)}"
    before = len(ax.patches) if ax is not None else 0
    d = path_diagram(est, std=True, engine=engine, digits=digits, labels=names, title=title, ax=ax)
    modes = dict(getattr(m, "modes", {}) or {})
    composite = [(r.lhs, r.rhs) for r in est.itertuples(index=False)
                 if r.op == "=~" and modes.get(r.lhs) == "B" and r.rhs not in m.constructs]
    return _composite_arrows(d, est, composite, before) if composite else d


def _composite_arrows(d: Diagram, est: pd.DataFrame, composite: list[tuple[str, str]], before: int) -> Diagram:
    """Turn the outer arrows of composites (mode B) round: indicator -> construct.

    path_diagram draws every ``=~`` row as construct -> indicator, one arrow per row in the
    table's order; the arrows of composites are reversed in the figure and in the DOT source.
    """
    from matplotlib.patches import FancyArrowPatch

    wanted = set(composite)
    if d.figure is not None:
        ax = d.figure.axes[0] if len(d.figure.axes) == 1 else None
        for a in d.figure.axes:
            if any(isinstance(p, FancyArrowPatch) for p in a.patches[before:]):
                ax = a
        arrows = [p for p in (ax.patches[before:] if ax is not None else []) if isinstance(p, FancyArrowPatch)]
        drawn = [(r.lhs, r.rhs) for r in est.itertuples(index=False) if r.op in ("=~", "~")]
        if len(arrows) == len(drawn):
            for patch, key in zip(arrows, drawn):
                if key in wanted:
                    patch.set_arrowstyle("<|-,head_length=0.55,head_width=0.22")
    lines = []
    for line in d.dot.splitlines():
        s = line.strip()
        for c, x in wanted:
            q_c, q_x = f'"{c}"', f'"{x}"'
            if s.startswith((f"{q_c} -> {q_x} [", f"{q_x} -> {q_c} [")):
                line = line.replace("[dir=back, ", "[") if "[dir=back, " in line else line.replace(" [", " [dir=back, ", 1)
                break
        lines.append(line)
    return Diagram(engine=d.engine, dot="\n".join(lines) + "\n", figure=d.figure)

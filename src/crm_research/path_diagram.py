"""Path diagrams of fitted SEM models, as SVG and PNG.

    >>> import pandas as pd
    >>> from crm_research import sem
    >>> from crm_research.path_diagram import path_diagram
    >>> hs = pd.read_csv("tests/reference/lavaan/HolzingerSwineford1939.csv")
    >>> result = sem.fit("visual =~ x1 + x2 + x3\\ntextual =~ x4 + x5 + x6\\ntextual ~ visual", hs)
    >>> d = path_diagram(result, engine="matplotlib")   # a sem.fit result or its estimates table
    >>> d.svg.startswith("<?xml")
    True
    >>> d.save("reports/model.png")                      # doctest: +SKIP

Latent variables are ovals, observed variables boxes; single-headed arrows are loadings
and regressions, double-headed curved arrows covariances (``show_covariances=True``).  A
single-item construct is drawn with its one indicator, whose box states the fixed error
variance (``ε = 0 (fixed)``, or the standardized 1 - reliability).
Edges carry the standardized estimate (lavaan's ``std.all``; ``std=False`` for the
unstandardized one) with significance stars (* p < .05, ** p < .01, *** p < .001; fixed
parameters have none).

The layout is layered left to right: indicators | first-order factors | second-order
factors | mediators | outcomes. Indicators of exogenous factors stand in the left column,
those of the final outcomes in the right column, those of factors in between in a row
above or below their factor. Long paths and covariances bend around nodes in their way,
edge labels are moved along their edge until they overlap nothing.

Two engines render it:

``"matplotlib"``
    pure Python, always available (works after a plain ``pip install``); the layout above.
``"dot"``
    Graphviz, when its ``dot`` program is on PATH; the same layers as rank constraints,
    dot routes the edges. No Python Graphviz package is needed.

``engine="auto"`` (default) uses dot when present, else matplotlib.
"""
from __future__ import annotations

import io
import math
import shutil
import subprocess
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd

from .errors import CRMResearchError, ModelError
from .measurement import single_item_constructs
from .reporting.format import format_number, stars
from .sem.result import estimates_of

__all__ = ["path_diagram", "Diagram", "dot_source"]

NODE_FONT = 10.0   # points
EDGE_FONT = 8.0
ITEM_H = 0.30      # inches
LATENT_H = 0.56
ITEM_GAP = 0.12    # between stacked indicators
GROUP_GAP = 0.22   # between indicator groups
BLOCK_GAP = 0.40   # between nodes of a column
SAT_GAP = 0.55     # latent to its row of indicators
MARGIN = 0.25


# --------------------------------------------------------------------------- model graph
@dataclass
class _Node:
    name: str
    kind: str                  # "latent" | "observed"
    text: str
    w: float = 0.0
    h: float = 0.0
    x: float = 0.0
    y: float = 0.0
    layer: int = 0
    role: str = "core"         # "core" | "left" | "right" | "row"
    owner: str | None = None   # for indicators: their factor
    side: int = 1              # for latents with a row of indicators: +1 above, -1 below


@dataclass
class _Edge:
    src: str
    dst: str
    op: str                    # "=~" | "~" | "~~"
    label: str
    ctrl: tuple[float, float] | None = None   # quadratic Bezier control point (None: straight)
    p0: tuple[float, float] = (0.0, 0.0)
    p1: tuple[float, float] = (0.0, 0.0)
    label_xy: tuple[float, float] = (0.0, 0.0)
    label_wh: tuple[float, float] = (0.0, 0.0)


@dataclass
class _Graph:
    nodes: dict[str, _Node]
    edges: list[_Edge]
    title: str | None = None


def _edge_label(r: Any, std: bool, digits: int) -> str:
    fixed = pd.isna(r.z) and (pd.isna(r.se) or r.se == 0)
    if std:
        v = r["std.all"] if not pd.isna(r["std.all"]) else r.est
        s = format_number(v, digits, bounded=True)
    else:
        v = r.est
        s = f"{v:g}" if fixed else f"{v:.{digits}f}"
    return s + ("" if fixed else stars(r.pvalue))


def _error_variance_text(r: Any, std: bool, digits: int) -> str:
    """``ε = 0 (fixed)`` / ``ε = .20 (fixed)``: the fixed error variance of a single item."""
    v = r["std.all"] if std and not pd.isna(r["std.all"]) else r["est"]
    txt = "0" if abs(float(v)) < 1e-12 else (format_number(v, digits, bounded=True) if std else f"{float(v):.{digits}f}")
    return f"\u03b5 = {txt} (fixed)"


def _build_graph(est: pd.DataFrame, *, std: bool, show_covariances: bool, digits: int,
                 labels: Mapping[str, str] | None, title: str | None) -> _Graph:
    labels = dict(labels or {})
    lv = list(dict.fromkeys(est.loc[est.op == "=~", "lhs"]))
    lvs = set(lv)
    order: list[str] = []
    for r in est.itertuples(index=False):
        if r.op in ("=~", "~", "~~"):
            for v in (r.lhs, r.rhs):
                if v not in order:
                    order.append(v)
    if not any(op in ("=~", "~") for op in est.op):
        raise ModelError("the estimates have no loadings (=~) or regressions (~): nothing to draw")
    indicators = {r.rhs for r in est.itertuples(index=False) if r.op == "=~" and r.rhs not in lvs}
    in_graph = set(lv) | indicators | {v for r in est.itertuples(index=False) if r.op == "~" for v in (r.lhs, r.rhs)}
    nodes: dict[str, _Node] = {}
    for v in order:
        if v in in_graph:
            nodes[v] = _Node(v, "latent" if v in lvs else "observed", labels.get(v, v))
    for r in est.itertuples(index=False):
        if r.op == "=~" and r.rhs in indicators and nodes[r.rhs].owner is None:
            nodes[r.rhs].owner = r.lhs
    # a single-item construct: its one indicator shows the fixed error variance
    for c in single_item_constructs(est):
        item = str(est.loc[(est.op == "=~") & (est.lhs == c), "rhs"].iloc[0])
        rv = est[(est.op == "~~") & (est.lhs == item) & (est.rhs == item)]
        if item in nodes and len(rv) and pd.isna(rv["z"].iloc[0]):
            nodes[item].text += "\n" + _error_variance_text(rv.iloc[0], std, digits)
    edges = []
    rows = est.to_dict("records")
    ser = [pd.Series(r) for r in rows]
    for r in ser:
        if r.op == "=~":
            edges.append(_Edge(r.lhs, r.rhs, "=~", _edge_label(r, std, digits)))
        elif r.op == "~":
            edges.append(_Edge(r.rhs, r.lhs, "~", _edge_label(r, std, digits)))
        elif r.op == "~~" and r.lhs != r.rhs and show_covariances and r.lhs in nodes and r.rhs in nodes:
            edges.append(_Edge(r.lhs, r.rhs, "~~", _edge_label(r, std, digits)))
    return _Graph(nodes, edges, title)


def _layers(g: _Graph) -> None:
    """Longest-path layering of the core nodes: indicators left of factors, factors left of
    their higher-order factor, predictors left of outcomes."""
    core = [n for n, nd in g.nodes.items() if not (nd.kind == "observed" and nd.owner is not None)]
    succ: dict[str, list[str]] = {n: [] for n in core}
    for e in g.edges:
        if e.op == "=~" and e.dst in succ and e.src in succ:      # higher order: dimension -> factor
            succ[e.dst].append(e.src)
        elif e.op == "~" and e.src in succ and e.dst in succ:
            succ[e.src].append(e.dst)
    # drop back edges (non-recursive models) by DFS
    state: dict[str, int] = {}
    dag: dict[str, list[str]] = {n: [] for n in core}

    def dfs(u: str) -> None:
        state[u] = 1
        for v in succ[u]:
            if state.get(v) == 1:
                continue
            dag[u].append(v)
            if v not in state:
                dfs(v)
        state[u] = 2

    for n in core:
        if n not in state:
            dfs(n)
    layer = {n: 1 for n in core}
    topo: list[str] = []
    seen: set[str] = set()

    def visit(u: str) -> None:
        seen.add(u)
        for v in dag[u]:
            if v not in seen:
                visit(v)
        topo.append(u)

    for n in core:
        if n not in seen:
            visit(n)
    for u in reversed(topo):
        for v in dag[u]:
            layer[v] = max(layer[v], layer[u] + 1)
    for n in core:
        g.nodes[n].layer = layer[n]


# --------------------------------------------------------------------------- geometry
@lru_cache(maxsize=4096)
def _text_size(s: str, size: float) -> tuple[float, float]:
    """Width and height (inches) of ``s`` set in DejaVu Sans (matplotlib's bundled font)."""
    from matplotlib.font_manager import FontProperties
    from matplotlib.textpath import text_to_path

    fp = FontProperties(family="DejaVu Sans", size=size)
    lines = s.split("\n")
    w = max(text_to_path.get_text_width_height_descent(ln or " ", fp, ismath=False)[0] for ln in lines)
    return w / 72.0, size * 1.25 * len(lines) / 72.0


def _inside(nd: _Node, p: np.ndarray, pad: float = 0.0) -> bool:
    dx, dy = p[0] - nd.x, p[1] - nd.y
    a, b = nd.w / 2 + pad, nd.h / 2 + pad
    if nd.kind == "latent":
        return (dx / a) ** 2 + (dy / b) ** 2 <= 1.0
    return abs(dx) <= a and abs(dy) <= b


def _bez(p0: np.ndarray, c: np.ndarray, p1: np.ndarray, t: float | np.ndarray) -> np.ndarray:
    t = np.asarray(t, dtype=float)[..., None]
    return (1 - t) ** 2 * p0 + 2 * (1 - t) * t * c + t ** 2 * p1


def _sub_bezier(p0, c, p1, t0, t1):
    """Control points of the piece [t0, t1] of a quadratic Bezier."""
    q0 = _bez(p0, c, p1, t0)
    q2 = _bez(p0, c, p1, t1)
    # control point: intersection of tangents = B(t0) + (t1-t0) * B'(t0) / 2
    d0 = 2 * (1 - t0) * (c - p0) + 2 * t0 * (p1 - c)
    q1 = q0 + (t1 - t0) * d0 / 2
    return q0, q1, q2


def _outline_crossing(nd: _Node, p0, c, p1, t_in: float, t_out: float) -> float:
    """Bisect for where the curve crosses the outline of ``nd`` between parameter ``t_in``
    (inside the node) and ``t_out`` (outside); returns the outside end of the final bracket."""
    for _ in range(40):
        mid = (t_in + t_out) / 2
        if _inside(nd, _bez(p0, c, p1, mid)):
            t_in = mid
        else:
            t_out = mid
    return t_out


def _clip(p0, c, p1, a: _Node, b: _Node):
    """Cut the curve from centre of ``a`` to centre of ``b`` at the two node outlines."""
    t0 = _outline_crossing(a, p0, c, p1, 0.0, 0.5)
    t1 = _outline_crossing(b, p0, c, p1, 1.0, 0.5)
    return _sub_bezier(p0, c, p1, t0, t1)


def _hits(points: np.ndarray, nodes: list[_Node], pad: float) -> int:
    n = 0
    for nd in nodes:
        dx = np.abs(points[:, 0] - nd.x) <= nd.w / 2 + pad
        dy = np.abs(points[:, 1] - nd.y) <= nd.h / 2 + pad
        n += int(np.any(dx & dy))
    return n


# --------------------------------------------------------------------------- layout
def _layout(g: _Graph) -> tuple[float, float, float, float]:
    nodes = g.nodes
    for nd in nodes.values():
        tw, th = _text_size(nd.text, NODE_FONT)
        if nd.kind == "latent":
            nd.w = max(0.95, tw * 1.45 + 0.3)
            nd.h = max(LATENT_H, th * 1.5 + 0.1)
        else:
            nd.w = max(0.62, tw + 0.26)
            nd.h = max(ITEM_H, th + 0.1)
    _layers(g)
    core = [n for n, nd in nodes.items() if nd.owner is None or nd.kind == "latent"]
    items_of: dict[str, list[str]] = {}
    for n, nd in nodes.items():
        if nd.kind == "observed" and nd.owner is not None:
            items_of.setdefault(nd.owner, []).append(n)
    lmax = max(nodes[n].layer for n in core)
    for f, its in items_of.items():
        lay = nodes[f].layer
        role = "left" if lay == 1 else "right" if lay == lmax else "row"
        for i in its:
            nodes[i].role = role
    # neighbours among core nodes (both directions) for barycentres
    nbr: dict[str, list[str]] = {n: [] for n in core}
    for e in g.edges:
        if e.op in ("=~", "~") and e.src in nbr and e.dst in nbr:
            nbr[e.src].append(e.dst)
            nbr[e.dst].append(e.src)

    # x: column widths
    cols: dict[int, list[str]] = {}
    for n in core:
        cols.setdefault(nodes[n].layer, []).append(n)
    row_w = {f: sum(nodes[i].w for i in its) + 0.14 * (len(its) - 1) for f, its in items_of.items()
             if nodes[its[0]].role == "row"}
    edge_lab_w = max([_text_size(e.label, EDGE_FONT)[0] for e in g.edges] + [0.3])
    gap = max(1.15, edge_lab_w * 2 + 0.45)
    has_left = any(nodes[i].role == "left" for i in nodes)
    has_right = any(nodes[i].role == "right" for i in nodes)
    widths: dict[int, float] = {}
    if has_left:
        widths[0] = max(nodes[i].w for i in nodes if nodes[i].role == "left")
    for lay, members in cols.items():
        widths[lay] = max([nodes[n].w for n in members] + [row_w.get(n, 0) for n in members])
    if has_right:
        widths[lmax + 1] = max(nodes[i].w for i in nodes if nodes[i].role == "right")
    xs: dict[int, float] = {}
    x = 0.0
    for lay in sorted(widths):
        xs[lay] = x + widths[lay] / 2
        x += widths[lay] + gap
    for n in core:
        nodes[n].x = xs[nodes[n].layer]

    # y: left indicators stacked, then columns left to right by barycentre
    y = 0.0
    first = sorted(cols.get(1, []), key=core.index)
    for f in first:
        its = [i for i in items_of.get(f, []) if nodes[i].role == "left"]
        for i in its:
            nodes[i].x = xs[0]
            nodes[i].y = y - nodes[i].h / 2
            y -= nodes[i].h + ITEM_GAP
        if its:
            y -= GROUP_GAP
    placed: set[str] = set()
    for lay in sorted(cols):
        members = cols[lay]
        desired = {}
        for n in members:
            left = [i for i in items_of.get(n, []) if nodes[i].role == "left"]
            if left:
                desired[n] = float(np.mean([nodes[i].y for i in left]))
            else:
                prev = [m for m in nbr[n] if m in placed]
                desired[n] = float(np.mean([nodes[m].y for m in prev])) if prev else math.nan
        known = [v for v in desired.values() if not math.isnan(v)]
        base = min(known) if known else 0.0
        for n in members:   # unconnected nodes go below the others, in definition order
            if math.isnan(desired[n]):
                base -= 1.0
                desired[n] = base
        # side of the indicator row: where fewer connections are
        for n in members:
            if n in row_w:
                ys = [nodes[m].y for m in nbr[n] if m in placed]
                above = sum(1 for v in ys if v > desired[n] + 0.05)
                below = sum(1 for v in ys if v < desired[n] - 0.05)
                nodes[n].side = 1 if above <= below else -1
        ext = {}
        for n in members:
            nd = nodes[n]
            up = down = nd.h / 2
            if n in row_w:
                extra = nd.h / 2 + SAT_GAP + max(nodes[i].h for i in items_of[n])
                if nd.side > 0:
                    up = extra
                else:
                    down = extra
            right = [i for i in items_of.get(n, []) if nodes[i].role == "right"]
            if right:
                half = (sum(nodes[i].h for i in right) + ITEM_GAP * (len(right) - 1)) / 2
                up, down = max(up, half), max(down, half)
            ext[n] = (up, down)
        order_ = sorted(members, key=lambda n: (-desired[n], core.index(n)))
        pos = _spread([desired[n] for n in order_], [ext[n] for n in order_], BLOCK_GAP)
        for n, v in zip(order_, pos):
            nodes[n].y = v
            placed.add(n)
    # right and row indicators
    for f, its in items_of.items():
        fn = nodes[f]
        right = [i for i in its if nodes[i].role == "right"]
        if right:
            total = sum(nodes[i].h for i in right) + ITEM_GAP * (len(right) - 1)
            yy = fn.y + total / 2
            for i in right:
                nodes[i].x = xs[lmax + 1]
                nodes[i].y = yy - nodes[i].h / 2
                yy -= nodes[i].h + ITEM_GAP
        row = [i for i in its if nodes[i].role == "row"]
        if row:
            xx = fn.x - row_w[f] / 2
            hmax = max(nodes[i].h for i in row)
            yy = fn.y + fn.side * (fn.h / 2 + SAT_GAP + hmax / 2)
            for i in row:
                nodes[i].x = xx + nodes[i].w / 2
                nodes[i].y = yy
                xx += nodes[i].w + 0.14
    _route(g)
    _place_labels(g)
    return _extent(g)


def _spread(desired: list[float], ext: list[tuple[float, float]], gap: float) -> list[float]:
    """Positions closest to ``desired`` (sorted top to bottom) with no overlap of the
    extents (up, down) plus ``gap``."""
    pos = list(desired)
    for i in range(1, len(pos)):
        lim = pos[i - 1] - ext[i - 1][1] - gap - ext[i][0]
        pos[i] = min(pos[i], lim)
    if pos:
        shift = float(np.mean(np.array(desired) - np.array(pos)))
        # move the block back towards the desired centre as far as the first node allows
        pos = [p + shift for p in pos]
    return pos


def _route(g: _Graph) -> None:
    nodes = g.nodes
    allnodes = list(nodes.values())
    cx = float(np.mean([n.x for n in allnodes]))
    cy = float(np.mean([n.y for n in allnodes]))

    def outward(nd: _Node) -> np.ndarray:
        if nd.role == "left":
            return np.array([-1.0, 0.0])
        if nd.role == "right":
            return np.array([1.0, 0.0])
        if nd.role == "row":
            return np.array([0.0, 1.0 * nodes[nd.owner].side])
        if nd.kind == "latent" and nd.layer == 1 and any(m.role == "left" and m.owner == nd.name for m in allnodes):
            return np.array([1.0, 0.0])
        v = np.array([nd.x - cx, nd.y - cy])
        return v / (np.linalg.norm(v) or 1.0)

    fans = _fans(g)
    for e in g.edges:
        a, b = nodes[e.src], nodes[e.dst]
        p0, p1 = np.array([a.x, a.y]), np.array([b.x, b.y])
        d = p1 - p0
        L = float(np.linalg.norm(d)) or 1.0
        nrm = np.array([-d[1], d[0]]) / L
        others = [n for n in allnodes if n is not a and n is not b]
        mine = {a.name, b.name, a.owner, b.owner}
        others += [fan for owner, fan in fans.items() if owner not in mine]
        if e.op == "~~":
            pref = outward(a) + outward(b)
            sign = 1.0 if float(pref @ nrm) >= 0 else -1.0
            rads = [sign * r for r in (0.3, 0.45, 0.6, 0.8)] + [-sign * r for r in (0.3, 0.45, 0.6, 0.8)]
            rads += [sign * 1.0, sign * 1.3]
        else:
            rads = [0.0] + [s * r for r in (0.12, 0.2, 0.3, 0.42, 0.55, 0.7, 0.9) for s in (1.0, -1.0)]
        best, best_hits = None, None
        # a covariance bows visibly beyond its nodes, even between neighbours
        ext = max(abs(nrm[0]) * nd.w / 2 + abs(nrm[1]) * nd.h / 2 for nd in (a, b))
        min_rad = 2 * (ext + 0.22) / L
        for rad in rads:
            if e.op == "~~":
                rad = math.copysign(max(abs(rad), min_rad), rad)
            c = (p0 + p1) / 2 + rad * L * nrm
            q0, q1, q2 = _clip(p0, c, p1, a, b)
            pts = _bez(q0, q1, q2, np.linspace(0.02, 0.98, 60))
            h = _hits(pts, others, 0.06)
            if best_hits is None or h < best_hits:
                best, best_hits = (q0, q1, q2, rad), h
            if h == 0:
                break
        q0, q1, q2, rad = best
        e.p0, e.p1 = tuple(q0), tuple(q2)
        e.ctrl = None if rad == 0 else tuple(q1)


def _fans(g: _Graph) -> dict[str, _Node]:
    """Pseudo-nodes covering the loadings between a factor and its row of indicators, so
    that other edges do not cut through them."""
    out = {}
    for f, nd in g.nodes.items():
        row = [m for m in g.nodes.values() if m.role == "row" and m.owner == f]
        if not row:
            continue
        x0 = min(m.x - m.w / 2 for m in row)
        x1 = max(m.x + m.w / 2 for m in row)
        ya = nd.y + nd.side * nd.h / 2
        yb = row[0].y - nd.side * row[0].h / 2
        out[f] = _Node(f"<fan {f}>", "observed", "", w=x1 - x0, h=abs(yb - ya), x=(x0 + x1) / 2, y=(ya + yb) / 2)
    return out


def _edge_point(e: _Edge, t: float) -> np.ndarray:
    p0, p1 = np.array(e.p0), np.array(e.p1)
    if e.ctrl is None:
        return p0 + t * (p1 - p0)
    return _bez(p0, np.array(e.ctrl), p1, t)


def _overlap(a: tuple[float, float, float, float], b: tuple[float, float, float, float], pad: float = 0.0) -> bool:
    return not (a[2] + pad <= b[0] or b[2] + pad <= a[0] or a[3] + pad <= b[1] or b[3] + pad <= a[1])


def _node_box(nd: _Node) -> tuple[float, float, float, float]:
    return (nd.x - nd.w / 2, nd.y - nd.h / 2, nd.x + nd.w / 2, nd.y + nd.h / 2)


def _place_labels(g: _Graph) -> None:
    nodes = g.nodes
    boxes = [_node_box(n) for n in nodes.values()]
    placed: list[tuple[float, float, float, float]] = []
    # structural paths first (they matter most), then covariances, then loadings
    prio = {"~": 0, "~~": 1, "=~": 2}
    for e in sorted(g.edges, key=lambda e: prio[e.op]):
        w, h = _text_size(e.label, EDGE_FONT)
        w, h = w + 0.08, h + 0.02
        e.label_wh = (w, h)
        if e.op == "=~" and nodes[e.dst].kind == "observed":
            t0 = 0.62          # close to the indicator, where the fan of loadings is widest
        else:
            t0 = 0.5
        cands = [t0] + [t0 + s * k for k in (0.07, 0.14, 0.21, 0.28, 0.35) for s in (-1, 1)]
        cands = [t for t in cands if 0.12 <= t <= 0.88]
        p0, p1 = np.array(e.p0), np.array(e.p1)
        d = p1 - p0
        nrm = np.array([-d[1], d[0]]) / (np.linalg.norm(d) or 1.0)
        chosen = None
        for off in (0.0, 0.5, -0.5, 1.0, -1.0, 1.5, -1.5, 2.0, -2.0, 3.0, -3.0):
            for t in cands:
                c = _edge_point(e, t) + off * h * nrm
                box = (c[0] - w / 2, c[1] - h / 2, c[0] + w / 2, c[1] + h / 2)
                if not any(_overlap(box, b, 0.02) for b in boxes) and not any(_overlap(box, b, 0.02) for b in placed):
                    chosen = c
                    break
            if chosen is not None:
                break
        if chosen is None:
            chosen = _edge_point(e, t0)
        e.label_xy = (float(chosen[0]), float(chosen[1]))
        placed.append((chosen[0] - w / 2, chosen[1] - h / 2, chosen[0] + w / 2, chosen[1] + h / 2))


def _extent(g: _Graph) -> tuple[float, float, float, float]:
    xs0, ys0, xs1, ys1 = [], [], [], []
    for nd in g.nodes.values():
        b = _node_box(nd)
        xs0.append(b[0]); ys0.append(b[1]); xs1.append(b[2]); ys1.append(b[3])
    for e in g.edges:
        (x, y), (w, h) = e.label_xy, e.label_wh
        xs0.append(x - w / 2); xs1.append(x + w / 2); ys0.append(y - h / 2); ys1.append(y + h / 2)
        if e.ctrl is not None:
            pts = _bez(np.array(e.p0), np.array(e.ctrl), np.array(e.p1), np.linspace(0, 1, 30))
            xs0.append(pts[:, 0].min()); xs1.append(pts[:, 0].max())
            ys0.append(pts[:, 1].min()); ys1.append(pts[:, 1].max())
    return min(xs0) - MARGIN, min(ys0) - MARGIN, max(xs1) + MARGIN, max(ys1) + MARGIN


# --------------------------------------------------------------------------- matplotlib engine
def _draw(g: _Graph, extent: tuple[float, float, float, float], ax: Any = None) -> Any:
    from matplotlib.figure import Figure
    from matplotlib.patches import Ellipse, FancyArrowPatch, Rectangle
    from matplotlib.path import Path as MPath

    x0, y0, x1, y1 = extent
    title_h = 0.35 * (g.title.count("\n") + 1) if g.title else 0.0
    if ax is None:
        fig = Figure(figsize=(x1 - x0, y1 - y0 + title_h), dpi=100)
        ax = fig.add_axes((0, 0, 1, (y1 - y0) / (y1 - y0 + title_h)))
        if g.title:
            fig.text(0.5, 1 - (title_h / 2) / (y1 - y0 + title_h), g.title, ha="center", va="center",
                     fontsize=NODE_FONT + 2, family="DejaVu Sans")
    else:
        fig = ax.figure
        if g.title:
            ax.set_title(g.title)
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_aspect("equal")
    ax.axis("off")
    font = dict(family="DejaVu Sans")
    for e in g.edges:
        p0, p1 = e.p0, e.p1
        if e.ctrl is None:
            path = MPath([p0, p1], [MPath.MOVETO, MPath.LINETO])
        else:
            path = MPath([p0, e.ctrl, p1], [MPath.MOVETO, MPath.CURVE3, MPath.CURVE3])
        style = "<|-|>,head_length=0.55,head_width=0.22" if e.op == "~~" else "-|>,head_length=0.55,head_width=0.22"
        ax.add_patch(FancyArrowPatch(path=path, arrowstyle=style, mutation_scale=12, lw=0.9,
                                     color="#555555" if e.op == "~~" else "#222222",
                                     linestyle=(0, (4, 2)) if e.op == "~~" else "solid", zorder=1))
    for nd in g.nodes.values():
        if nd.kind == "latent":
            ax.add_patch(Ellipse((nd.x, nd.y), nd.w, nd.h, fc="#eef3fb", ec="#1f3b63", lw=1.3, zorder=2))
        else:
            ax.add_patch(Rectangle((nd.x - nd.w / 2, nd.y - nd.h / 2), nd.w, nd.h, fc="white", ec="#333333",
                                   lw=1.0, zorder=2))
        ax.text(nd.x, nd.y, nd.text, ha="center", va="center", fontsize=NODE_FONT, zorder=3,
                fontweight="bold" if nd.kind == "latent" else "normal", **font)
    for e in g.edges:
        ax.text(e.label_xy[0], e.label_xy[1], e.label, ha="center", va="center", fontsize=EDGE_FONT, zorder=4,
                bbox=dict(boxstyle="square,pad=0.08", fc="white", ec="none"), **font)
    return fig


# --------------------------------------------------------------------------- DOT
def _q(s: str) -> str:
    return '"' + str(s).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def dot_source(g_or_estimates: Any, *, std: bool = True, show_covariances: bool = False, digits: int = 2,
               labels: Mapping[str, str] | None = None, title: str | None = None) -> str:
    """Graphviz DOT text of the path diagram (for ``dot -Tsvg``), layers as rank constraints.

    Parameters
    ----------
    g_or_estimates : SEMResult, DataFrame or lavaan JSON dict
        As ``result_or_estimates`` of :func:`path_diagram`.
    std, show_covariances, digits, labels, title :
        As in :func:`path_diagram`.

    Returns
    -------
    str
        DOT source.

    Examples
    --------
    >>> import pandas as pd
    >>> from crm_research import sem
    >>> hs = pd.read_csv("tests/reference/lavaan/HolzingerSwineford1939.csv")
    >>> result = sem.fit("visual =~ x1 + x2 + x3\\ntextual =~ x4 + x5 + x6\\ntextual ~ visual", hs)
    >>> src = dot_source(result)
    >>> src.splitlines()[0], [line.strip() for line in src.splitlines() if '"visual" -> "textual"' in line]
    ('digraph SEM {', ['"visual" -> "textual" [label=".46***"];'])
    """
    if isinstance(g_or_estimates, _Graph):
        g = g_or_estimates
    else:
        g = _build_graph(estimates_of(g_or_estimates), std=std, show_covariances=show_covariances,
                         digits=digits, labels=labels, title=title)
        _layers(g)
        _assign_roles(g)
    out = ["digraph SEM {",
           '  graph [rankdir=LR, splines=true, nodesep=0.16, ranksep=0.9, fontname="Helvetica", '
           'bgcolor="white", pad=0.2' + (f", label={_q(g.title)}, labelloc=t, fontsize=14" if g.title else "") + "];",
           '  node [fontname="Helvetica", fontsize=11];',
           '  edge [fontname="Helvetica", fontsize=9, arrowsize=0.7];']
    for nd in g.nodes.values():
        if nd.kind == "latent":
            out.append(f'  {_q(nd.name)} [shape=ellipse, style="filled,bold", fillcolor="#eef3fb", '
                       f'color="#1f3b63", label={_q(nd.text)}];')
        else:
            out.append(f"  {_q(nd.name)} [shape=box, height=0.3, label={_q(nd.text)}];")
    for e in g.edges:
        lab = f"label={_q(e.label)}"
        if e.op == "=~" and g.nodes[e.dst].role == "left":
            out.append(f"  {_q(e.dst)} -> {_q(e.src)} [dir=back, {lab}];")
        elif e.op == "=~" and g.nodes[e.dst].kind == "latent":     # higher order: dimension left of factor
            out.append(f"  {_q(e.dst)} -> {_q(e.src)} [dir=back, {lab}];")
        elif e.op == "~~":
            out.append(f'  {_q(e.src)} -> {_q(e.dst)} [dir=both, style=dashed, color="#555555", '
                       f"constraint=false, {lab}];")
        else:
            out.append(f"  {_q(e.src)} -> {_q(e.dst)} [{lab}];")
    ranks: dict[int, list[str]] = {}
    for nd in g.nodes.values():
        if nd.owner is None or nd.kind == "latent":
            ranks.setdefault(nd.layer, []).append(nd.name)
        elif nd.role == "left":
            ranks.setdefault(0, []).append(nd.name)
    for r in sorted(ranks):
        out.append("  {rank=same; " + " ".join(_q(n) + ";" for n in ranks[r]) + "}")
        # invisible edges inside a rank keep the model's order top to bottom
        for a, b in zip(ranks[r], ranks[r][1:]):
            out.append(f"  {_q(a)} -> {_q(b)} [style=invis];")
    out.append("}")
    return "\n".join(out) + "\n"


def _assign_roles(g: _Graph) -> None:
    core = [n for n, nd in g.nodes.items() if nd.owner is None or nd.kind == "latent"]
    lmax = max(g.nodes[n].layer for n in core)
    for nd in g.nodes.values():
        if nd.kind == "observed" and nd.owner is not None:
            lay = g.nodes[nd.owner].layer
            nd.role = "left" if lay == 1 else "right" if lay == lmax else "row"


def _dot_exe() -> str | None:
    """Path of Graphviz's ``dot`` program, or None."""
    return shutil.which("dot")


def _dot(dot: str, fmt: str, dpi: int = 200) -> bytes:
    exe = _dot_exe()
    if exe is None:
        raise CRMResearchError("Graphviz 'dot' is not on PATH",
                               hint="install Graphviz (e.g. apt-get install graphviz) or use engine='matplotlib'")
    args = [exe, f"-T{fmt}"] + ([f"-Gdpi={dpi}"] if fmt == "png" else [])
    proc = subprocess.run(args, input=dot.encode("utf-8"), capture_output=True, timeout=120)
    if proc.returncode != 0:
        raise CRMResearchError(f"Graphviz dot failed: {proc.stderr.decode('utf-8', 'replace').strip()[:300]}",
                               hint="use engine='matplotlib'")
    return proc.stdout


def _estimation_caption(obj: Any) -> str:
    """``Estimation: MLR (...); robust CFI = .899, robust RMSEA = .066`` for a fitted model not
    estimated by plain ML; "" otherwise (or for an estimates table)."""
    if getattr(obj, "estimates", None) is None or not hasattr(obj, "fit_measures"):
        return ""
    from .reporting.fitmeasures import measure_label, reported_keys
    from .reporting.format import format_number
    from .sem import estimation_label

    label = estimation_label(obj)
    if label == "ML":
        return ""
    fm = obj.fit_measures or {}
    keys = reported_keys(fm)
    parts = []
    for base in ("cfi", "rmsea"):
        v = fm.get(keys[base])
        if v is not None and isinstance(v, (int, float)) and math.isfinite(v):
            parts.append(f"{measure_label(keys[base])} = {format_number(v, 3, bounded=True)}")
    return f"Estimation: {label}" + (f"; {', '.join(parts)}" if parts else "")


# --------------------------------------------------------------------------- public API
@dataclass
class Diagram:
    """A rendered path diagram.

    Attributes
    ----------
    engine : str
        ``"dot"`` or ``"matplotlib"``.
    dot : str
        Graphviz DOT source (always available, whatever the engine).
    figure : matplotlib Figure or None
        The figure (matplotlib engine) for further composition.

    Examples
    --------
    >>> import pandas as pd
    >>> from crm_research import sem
    >>> hs = pd.read_csv("tests/reference/lavaan/HolzingerSwineford1939.csv")
    >>> result = sem.fit("visual =~ x1 + x2 + x3\\ntextual =~ x4 + x5 + x6\\ntextual ~ visual", hs)
    >>> d = path_diagram(result, engine="matplotlib")
    >>> d.engine, d.figure is not None, d.png()[:4]
    ('matplotlib', True, b'\\x89PNG')
    """

    engine: str
    dot: str
    figure: Any = None
    _svg: str | None = field(default=None, repr=False)
    _graph: Any = field(default=None, repr=False)

    @property
    def svg(self) -> str:
        """The diagram as SVG text."""
        if self._svg is None:
            if self.engine == "dot":
                self._svg = _dot(self.dot, "svg").decode("utf-8")
            else:
                import matplotlib

                buf = io.StringIO()
                with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "crm-research"}):
                    self.figure.savefig(buf, format="svg", metadata={"Date": None})
                self._svg = buf.getvalue()
        return self._svg

    def png(self, dpi: int = 200) -> bytes:
        """The diagram as PNG bytes."""
        if self.engine == "dot":
            return _dot(self.dot, "png", dpi)
        buf = io.BytesIO()
        self.figure.savefig(buf, format="png", dpi=dpi, facecolor="white")
        return buf.getvalue()

    def save(self, path: str | Path, *, dpi: int = 200, overwrite: bool = False) -> Path:
        """Write the diagram; the format follows the suffix (``.svg``, ``.png``, ``.dot``;
        ``.pdf`` with the matplotlib engine). An existing file is kept unless ``overwrite``."""
        path = Path(path)
        suffix = path.suffix.lower()
        if suffix not in (".svg", ".png", ".dot", ".gv", ".pdf"):
            raise CRMResearchError(f"{path}: unknown diagram format {suffix or '(no suffix)'!r}",
                                   hint="use a .svg, .png, .pdf or .dot file name")
        if path.exists() and not overwrite:
            raise CRMResearchError(f"{path}: file exists", hint="choose another name or pass overwrite=True")
        path.parent.mkdir(parents=True, exist_ok=True)
        if suffix == ".svg":
            path.write_text(self.svg, encoding="utf-8")
        elif suffix == ".png":
            path.write_bytes(self.png(dpi))
        elif suffix in (".dot", ".gv"):
            path.write_text(self.dot, encoding="utf-8")
        else:
            if self.engine == "dot":
                path.write_bytes(_dot(self.dot, "pdf"))
            else:
                self.figure.savefig(path, format="pdf")
        return path

    def _repr_svg_(self) -> str:
        return self.svg


def path_diagram(result_or_estimates: Any, *, std: bool = True, show_covariances: bool = False,
                 engine: str = "auto", digits: int = 2, labels: Mapping[str, str] | None = None,
                 title: str | None = None, group: Any = None, ax: Any = None, caption: bool = True) -> Diagram:
    """Draw a fitted model as a path diagram.

    Parameters
    ----------
    result_or_estimates : SEMResult, DataFrame, or lavaan JSON dict
        A :func:`crm_research.sem.fit` result or a lavaan-style estimates table (columns
        ``lhs, op, rhs, est, se, z, pvalue, std.all``).
    std : bool
        Label edges with standardized (``std.all``) estimates; False: unstandardized.
    show_covariances : bool
        Draw covariances (latent and residual) as dashed double-headed curved arrows.
    engine : {"auto", "dot", "matplotlib"}
        ``auto`` uses Graphviz ``dot`` when it is on PATH, else matplotlib.
    digits : int
        Decimals of edge labels.
    labels : mapping, optional
        Display names for variables, e.g. ``{"OPS": "Operations"}`` (``\\n`` breaks lines).
    title : str, optional
    group : optional
        With a multi-group estimates table: the group to draw (default: the first).
    ax : matplotlib Axes, optional
        Draw into this axes (matplotlib engine).
    caption : bool
        Given a fitted model estimated otherwise than by plain ML (MLR, WLSMV, ordered
        items, ...), add a line under the title naming the estimation
        (``sem.estimation_label``) and its robust (else scaled) CFI and RMSEA.

    Returns
    -------
    Diagram
        ``.svg``, ``.png()``, ``.save(path)``, ``.dot``, ``.figure``; shows inline in Jupyter.

    Examples
    --------
    >>> import pandas as pd
    >>> from crm_research import sem
    >>> hs = pd.read_csv("tests/reference/lavaan/HolzingerSwineford1939.csv")
    >>> result = sem.fit("visual =~ x1 + x2 + x3\\ntextual =~ x4 + x5 + x6\\ntextual ~ visual", hs)
    >>> d = path_diagram(result, engine="matplotlib", labels={"visual": "Visual\\nability"})
    >>> d.engine, '"visual" -> "textual" [label=".46***"]' in d.dot
    ('matplotlib', True)
    >>> import tempfile, pathlib
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     d.save(pathlib.Path(tmp) / "model.svg").stat().st_size > 1000
    True
    """
    if engine not in ("auto", "dot", "matplotlib"):
        raise ValueError(f"engine must be 'auto', 'dot' or 'matplotlib', got {engine!r}")
    est = estimates_of(result_or_estimates, groups_ok=True)
    if "group" in est.columns and est["group"].nunique() > 1:
        g0 = est["group"].iloc[0] if group is None else group
        if g0 not in set(est["group"]):
            raise ModelError(f"no group {g0!r} in the estimates; groups: {', '.join(map(str, est['group'].unique()))}")
        est = est[est["group"] == g0]
        title = title or f"group {g0}"
    if std and est["std.all"].isna().all():
        std = False
    note = _estimation_caption(result_or_estimates) if caption else ""
    if note:
        title = f"{title}\n{note}" if title else note
    g = _build_graph(est, std=std, show_covariances=show_covariances, digits=digits, labels=labels, title=title)
    exe = _dot_exe()
    use_dot = engine == "dot" or (engine == "auto" and exe is not None and ax is None)
    if engine == "dot" and exe is None:
        raise CRMResearchError("engine='dot' needs Graphviz's 'dot' program on PATH",
                               hint="install Graphviz (e.g. apt-get install graphviz) or use engine='matplotlib'")
    if use_dot:
        _layers(g)
        _assign_roles(g)
        return Diagram(engine="dot", dot=dot_source(g), _graph=g)
    extent = _layout(g)
    fig = _draw(g, extent, ax=ax)
    return Diagram(engine="matplotlib", dot=dot_source(g), figure=fig, _graph=g)

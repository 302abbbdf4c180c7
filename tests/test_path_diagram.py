"""Tests for crm_research.path_diagram. The pure-Python (matplotlib) engine is the default
tested path; the Graphviz path runs only where `dot` is installed."""
from __future__ import annotations

import json
import re
import shutil
import xml.etree.ElementTree as ET

import numpy as np
import pandas as pd
import pytest

from crm_research import instruments
from crm_research import path_diagram as P
from crm_research.reporting.format import format_number, stars
from crm_research.errors import CRMResearchError, ModelError

from _helpers import REF, lavaan_result


def lavaan(name: str) -> dict:
    return json.loads((REF / f"{name}.json").read_text())


def fake_estimates(syntax: str, seed: int = 0) -> pd.DataFrame:
    """A plausible estimates table for lavaan syntax (shape and labels only; numbers random)."""
    rng = np.random.default_rng(seed)
    lines = [ln.strip() for ln in syntax.splitlines() if ln.strip()]
    lat = [ln.split("=~")[0].strip() for ln in lines if "=~" in ln]
    rows, dims, outcomes = [], set(), set()
    for ln in lines:
        if "=~" in ln:
            f, rhs = (x.strip() for x in ln.split("=~"))
            for i, it in enumerate(x.strip() for x in rhs.split("+")):
                dims.update({it} & set(lat))
                fx = i == 0
                rows.append(dict(lhs=f, op="=~", rhs=it, label="", est=1.0 if fx else rng.uniform(.8, 1.2),
                                 se=0.0 if fx else .08, z=np.nan if fx else 11.0, pvalue=np.nan if fx else 0.0,
                                 std_all=rng.uniform(.62, .88)))
        elif ":=" in ln:
            n, d = (x.strip() for x in ln.split(":="))
            rows.append(dict(lhs=n, op=":=", rhs=d, label=n, est=.3, se=.05, z=6., pvalue=0., std_all=.3))
        elif "~" in ln:
            y, rhs = (x.strip() for x in ln.split("~"))
            outcomes.add(y)
            for t in rhs.split("+"):
                lab, x = t.split("*") if "*" in t else ("", t)
                rows.append(dict(lhs=y, op="~", rhs=x.strip(), label=lab.strip(), est=rng.uniform(.2, .6), se=.07,
                                 z=5., pvalue=float(rng.choice([0.0004, 0.004, 0.03, 0.3])),
                                 std_all=rng.uniform(.2, .6)))
    exo = [f for f in lat if f not in dims and f not in outcomes]
    for i, a in enumerate(exo):
        for b in exo[i + 1:]:
            rows.append(dict(lhs=a, op="~~", rhs=b, label="", est=.2, se=.05, z=4., pvalue=1e-4,
                             std_all=rng.uniform(.2, .6)))
    df = pd.DataFrame(rows).rename(columns={"std_all": "std.all"})
    df["ci.lower"], df["ci.upper"], df["std.lv"] = df.est - .1, df.est + .1, df["std.all"]
    return df


def bundled_models(inst):
    out = {}
    for name in ("ops", "crm", "combined"):
        out[name] = fake_estimates(instruments.structural_syntax(inst, name))
        out[name + "_partial"] = fake_estimates(instruments.structural_syntax(inst, name, partial=True))
    out["measurement"] = fake_estimates(instruments.structural_syntax(inst, "measurement"))
    for name in ("hs_cfa", "poldem", "hs_mediation", "seed_ops", "seed_crm"):
        out[name] = lavaan(name)
    # further references (MIMIC, observed-only path model, std.lv CFA, ...) where present
    for name in ("hs_mimic", "pd_path", "hs_stdlv", "hs_means", "seed_combined", "heywood"):
        if (REF / f"{name}.json").exists():
            out[name] = lavaan(name)
    return out


def rendered_boxes(fig):
    """Window extents of node shapes and edge labels as actually drawn."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.patches import Ellipse, Rectangle

    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    r = canvas.get_renderer()
    ax = fig.axes[0]
    labels = [(t.get_text(), t.get_bbox_patch().get_window_extent(r)) for t in ax.texts if t.get_bbox_patch()]
    names = [(t.get_text(), t.get_window_extent(r)) for t in ax.texts if not t.get_bbox_patch()]
    nodes = [p.get_window_extent(r) for p in ax.patches if isinstance(p, (Ellipse, Rectangle))]
    return labels, names, nodes


def overlapping(a, b, tol=0.5) -> bool:
    return min(a.x1, b.x1) - max(a.x0, b.x0) > tol and min(a.y1, b.y1) - max(a.y0, b.y0) > tol


@pytest.fixture(autouse=True)
def no_dot(monkeypatch, request):
    """Force the pure-Python fallback unless a test asks for Graphviz."""
    if "dot_engine" not in request.node.name:
        monkeypatch.setattr(P, "_dot_exe", lambda: None)


# --------------------------------------------------------------------------- layout quality
@pytest.mark.parametrize("cov", [False, True])
def test_no_overlaps_on_bundled_and_lavaan_models(inst, cov):
    for name, est in bundled_models(inst).items():
        d = P.path_diagram(est, show_covariances=cov)
        assert d.engine == "matplotlib"
        labels, names, nodes = rendered_boxes(d.figure)
        for i, (ta, a) in enumerate(labels):
            for tb, b in labels[i + 1:]:
                assert not overlapping(a, b), f"{name}: labels {ta!r} and {tb!r} overlap"
            for n in nodes:
                assert not overlapping(a, n), f"{name}: label {ta!r} overlaps a node"
        for i, a in enumerate(nodes):
            for b in nodes[i + 1:]:
                assert not overlapping(a, b), f"{name}: two nodes overlap"
        for text, bb in names:   # every variable name fits inside its node
            assert any(n.x0 <= bb.x0 + 0.5 and bb.x1 <= n.x1 + 0.5 for n in nodes), f"{name}: {text} sticks out"


def test_layers_left_to_right(inst):
    d = P.path_diagram(fake_estimates(instruments.structural_syntax(inst, "ops")))
    n = d._graph.nodes
    x = {k: v.x for k, v in n.items()}
    assert x["PF1"] < x["PF"] < x["OPS"] < x["SAT"] < x["LOY"] < x["LOY1"]
    assert x["PF"] == x["SQ"] == x["LE"] == x["UI"]
    # indicators of the mediator form a row above or below it, not in another column
    assert {round(n[i].y, 6) for i in ("SAT1", "SAT2", "SAT3")} != {round(n["SAT"].y, 6)}
    assert len({round(n[i].y, 6) for i in ("SAT1", "SAT2", "SAT3")}) == 1
    assert min(n[i].x for i in ("SAT1", "SAT2", "SAT3")) < x["SAT"] < max(n[i].x for i in ("SAT1", "SAT2", "SAT3"))
    # left indicators in model order, top to bottom
    ys = [n[i].y for i in ("PF1", "PF2", "PF3", "SQ1", "UI3")]
    assert ys == sorted(ys, reverse=True)


def test_long_path_bends_around_the_mediator():
    d = P.path_diagram(lavaan("hs_mediation"))
    e = next(e for e in d._graph.edges if e.src == "visual" and e.dst == "speed")
    assert e.ctrl is not None   # the straight line would cross 'textual'
    straight = [e for e in d._graph.edges if e.op == "~" and e.ctrl is None]
    assert len(straight) == 2


# --------------------------------------------------------------------------- content
def test_edge_labels_carry_std_estimates_and_stars():
    est = lavaan("seed_ops")
    d = P.path_diagram(est)
    texts = [t.get_text() for t in d.figure.axes[0].texts]
    # SAT ~ OPS: std.all .6029, p < .001; marker PF =~ PF1: .7563, fixed (no stars)
    assert ".60***" in texts and ".67***" in texts
    lab = {(e.src, e.dst): e.label for e in d._graph.edges}
    assert lab[("OPS", "SAT")] == ".60***"
    assert lab[("PF", "PF1")] == ".76"
    assert lab[("PF", "PF2")] == ".73***"
    # every loading and regression is an edge; no covariances unless asked
    rows = pd.DataFrame(est["estimates"])
    assert len(d._graph.edges) == int(rows.op.isin(["=~", "~"]).sum())
    dc = P.path_diagram(est, show_covariances=True)
    n_cov = int(((rows.op == "~~") & (rows.lhs != rows.rhs)).sum())
    assert sum(e.op == "~~" for e in dc._graph.edges) == n_cov


def test_unstandardized_labels_and_stars_thresholds():
    d = P.path_diagram(lavaan("hs_mediation"), std=False)
    lab = {(e.src, e.dst): e.label for e in d._graph.edges}
    assert lab[("visual", "textual")] == "0.50***"     # est .5044, p 6e-8
    assert lab[("textual", "speed")] == "0.05"         # p = .318
    assert lab[("visual", "x1")] == "1"                # fixed marker
    assert stars(0.0099) == "**" and stars(0.049) == "*"
    assert stars(0.05) == "" and stars(float("nan")) == ""


def test_svg_is_valid_and_contains_variables(inst):
    d = P.path_diagram(lavaan("poldem"), show_covariances=True, title="Political democracy")
    svg = d.svg
    root = ET.fromstring(svg.encode("utf-8"))
    assert root.tag.endswith("svg")
    for v in ("ind60", "dem60", "dem65", "x1", "y8", "Political democracy"):
        assert f">{v}<" in svg
    assert d._repr_svg_() == svg
    assert d.svg == P.path_diagram(lavaan("poldem"), show_covariances=True, title="Political democracy").svg


def test_save_svg_png_dot_and_no_silent_overwrite(tmp_path):
    d = P.path_diagram(lavaan("hs_cfa"))
    p = d.save(tmp_path / "hs.png", dpi=80)
    assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    s = d.save(tmp_path / "sub" / "hs.svg")
    assert s.read_text().lstrip().startswith("<?xml")
    g = d.save(tmp_path / "hs.dot")
    assert "digraph SEM" in g.read_text()
    with pytest.raises(CRMResearchError, match="exists"):
        d.save(tmp_path / "hs.png")
    d.save(tmp_path / "hs.png", overwrite=True, dpi=60)
    with pytest.raises(CRMResearchError, match="unknown diagram format"):
        d.save(tmp_path / "hs.jpg")


def test_dot_source_structure():
    src = P.dot_source(lavaan("seed_ops"))
    assert src.startswith("digraph SEM {") and src.rstrip().endswith("}")
    assert '"PF1" -> "PF" [dir=back' in src           # indicators left of their factor
    assert '"PF" -> "OPS" [dir=back' in src           # dimensions left of the second-order factor
    assert '"OPS" -> "SAT" [label=".60***"]' in src
    assert '{rank=same; "PF"; "SQ"; "LE"; "UI";}' in src
    assert 'shape=ellipse' in src and 'shape=box' in src


def test_matplotlib_axes_and_labels_option():
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 4))
    ax = fig.add_subplot(111)
    d = P.path_diagram(lavaan("hs_cfa"), ax=ax, labels={"visual": "Visual\nability"})
    assert d.figure is fig
    assert "Visual\nability" in [t.get_text() for t in ax.texts]


def test_bad_input():
    with pytest.raises(TypeError):
        P.path_diagram(42)
    only_var = pd.DataFrame([dict(lhs="x", op="~~", rhs="x", est=1.0)])
    with pytest.raises(ModelError, match="nothing to draw"):
        P.path_diagram(only_var)
    with pytest.raises(ValueError, match="engine"):
        P.path_diagram(lavaan("hs_cfa"), engine="tikz")
    with pytest.raises(CRMResearchError, match="dot"):
        P.path_diagram(lavaan("hs_cfa"), engine="dot")   # dot hidden by the fixture


def test_multi_group_selects_one_group():
    e = pd.DataFrame(lavaan("hs_cfa")["estimates"])
    e2 = e.copy()
    e["group"], e2["group"] = 1, 2
    e2["std.all"] = e2["std.all"] * 0.5
    both = pd.concat([e, e2], ignore_index=True)
    d = P.path_diagram(both, group=2)
    lab = {(x.src, x.dst): x.label for x in d._graph.edges}
    assert lab[("visual", "x1")] == format_number(e2.loc[0, "std.all"], 2, bounded=True)
    with pytest.raises(ModelError, match="group"):
        P.path_diagram(both, group=3)


# --------------------------------------------------------------------------- Graphviz
@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz dot not installed")
def test_dot_engine_renders_svg_and_png(tmp_path, inst):
    d = P.path_diagram(fake_estimates(instruments.structural_syntax(inst, "combined", partial=True)))
    assert d.engine == "dot"
    assert "graphviz" in d.svg.lower() and re.search(r">\.\d\d\*{0,3}<", d.svg)
    ET.fromstring(d.svg.encode("utf-8"))
    assert d.png(dpi=50)[:8] == b"\x89PNG\r\n\x1a\n"
    assert d.save(tmp_path / "m.svg").exists()


def test_diagram_of_a_fitted_model(inst):
    from crm_research import sem
    data = pd.read_csv(REF / "seed_survey_a.csv")
    res = sem.fit(instruments.structural_syntax(inst, "crm", partial=True), data)
    d = P.path_diagram(res)
    lab = {(e.src, e.dst): e.label for e in d._graph.edges}
    est = res.estimates
    row = est[(est.lhs == "SAT") & (est.op == "~") & (est.rhs == "CRM")].iloc[0]
    assert lab[("CRM", "SAT")] == format_number(row["std.all"], 2, bounded=True) + stars(row["pvalue"])
    assert ("CRM", "LOY") in lab   # the direct path of the partial model
    labels, _, nodes = rendered_boxes(d.figure)
    assert len(labels) == len(d._graph.edges) and len(nodes) == len(d._graph.nodes)


# --------------------------------------------------------------------------- single-item constructs
@pytest.mark.parametrize("ref, text", [("hs_si_zero", "\u03b5 = 0 (fixed)"), ("hs_si_rel80", "\u03b5 = .20 (fixed)")])
def test_single_item_construct_drawn_with_its_fixed_error_variance(ref, text):
    """lavaan's estimates of speed =~ x7 with x7's error variance fixed (0, or (1 - .8) var(x7):
    standardized .20): the indicator box says so; the multi-item indicators say nothing."""
    res = lavaan_result(ref)
    d = P.path_diagram(res, engine="matplotlib")
    nodes = d._graph.nodes
    assert nodes["x7"].text == "x7\n" + text and nodes["x7"].owner == "speed"
    assert nodes["x1"].text == "x1" and nodes["speed"].kind == "latent"
    lab = {(e.src, e.dst): e.label for e in d._graph.edges}
    est = pd.DataFrame(res.estimates)
    lam = est[(est.lhs == "speed") & (est.op == "=~")]["std.all"].iloc[0]   # 1, or sqrt(.8)
    assert lab[("speed", "x7")] == format_number(lam, 2, bounded=True) and lam == pytest.approx(1.0 if ref == "hs_si_zero" else
                                                                             0.894, abs=1e-3)   # fixed: no stars
    assert _q_text(text) in P.dot_source(res)
    unstd = P.path_diagram(res, engine="matplotlib", std=False)._graph.nodes["x7"].text
    assert unstd.endswith("(fixed)") and ("= 0 (" in unstd if ref == "hs_si_zero" else "= 0.24 (" in unstd)
    labels, _, boxes = rendered_boxes(d.figure)
    assert len(boxes) == len(nodes)


def _q_text(s):
    return s.replace("\n", "\\n")

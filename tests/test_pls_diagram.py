"""PLS path diagrams (crm_research.pls.diagram, issue 14): loadings of reflective constructs and
weights of composites on the outer arrows (composites' arrows point to the construct), paths on
the inner arrows, R² inside the outcomes, stars only from a bootstrap, second-order constructs
drawn with their dimensions; drawn by path_diagram's engine."""
from __future__ import annotations

from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import pytest

from crm_research import pls
from crm_research.errors import ConfigError, ModelError
from crm_research.pls.diagram import diagram_estimates, pls_diagram

matplotlib.use("Agg")
ROOT = Path(__file__).resolve().parents[1]
MOBI = pd.read_csv(ROOT / "tests" / "data" / "ecsi" / "mobi.csv")
MIXED = "IMAG =~ IMAG1 + IMAG2 + IMAG3\nCUEX <~ CUEX1 + CUEX2 + CUEX3\nCUSA =~ CUSA1 + CUSA2 + CUSA3\nCUSA ~ IMAG + CUEX"
SECOND = ("IMAG =~ IMAG1 + IMAG2 + IMAG3\nCUEX =~ CUEX1 + CUEX2 + CUEX3\nPERQ =~ PERQ1 + PERQ2 + PERQ3\n"
          "EXPQ =~ IMAG + CUEX\nCUSA =~ CUSA1 + CUSA2 + CUSA3\nCUSA ~ EXPQ + PERQ")


@pytest.fixture(scope="module")
def mixed():
    return pls.fit(MIXED, MOBI)


def _arrow(dot: str, a: str, b: str) -> str:
    """The DOT line of the edge between a and b (either direction)."""
    hits = [ln.strip() for ln in dot.splitlines()
            if (ln.strip().startswith(f'"{a}" -> "{b}" [') or ln.strip().startswith(f'"{b}" -> "{a}" ['))
            and "invis" not in ln]
    assert len(hits) == 1, (a, b, hits)
    return hits[0]


def _points_to(line: str, node: str) -> bool:
    """Whether the DOT edge's arrowhead is at ``node`` (``dir=back`` puts it at the tail)."""
    tail, head = [s.strip().strip('"') for s in line.split("[")[0].split("->")]
    return (tail if "dir=back" in line else head) == node


def test_loadings_of_reflective_and_weights_of_composites(mixed):
    est = diagram_estimates(mixed)
    L = mixed.loadings.set_index(["lhs", "rhs"])["est"]
    W = mixed.weights.set_index(["lhs", "rhs"])["est"]
    for r in est[est.op == "=~"].itertuples(index=False):
        want = W[(r.lhs, r.rhs)] if r.lhs == "CUEX" else L[(r.lhs, r.rhs)]
        assert r.est == want and r._7 == want, (r.lhs, r.rhs)             # std.all carries the estimate
    P = mixed.paths.set_index(["lhs", "rhs"])["est"]
    assert {(r.lhs, r.rhs): r.est for r in est[est.op == "~"].itertuples(index=False)} == dict(P)
    assert est[["se", "z", "pvalue"]].isna().all().all()                     # no bootstrap, nothing to test


@pytest.mark.parametrize("show, table", [("loadings", "loadings"), ("weights", "weights")])
def test_show_one_kind_for_every_construct(mixed, show, table):
    est = diagram_estimates(mixed, show=show)
    ref = getattr(mixed, table).set_index(["lhs", "rhs"])["est"]
    outer = est[est.op == "=~"]
    assert np.allclose(outer["est"], [ref[(a, b)] for a, b in zip(outer.lhs, outer.rhs)])


def test_composite_arrows_point_to_the_construct(mixed):
    from matplotlib.patches import FancyArrowPatch

    d = pls_diagram(mixed, engine="matplotlib")
    for x in ("CUEX1", "CUEX2", "CUEX3"):
        assert _points_to(_arrow(d.dot, "CUEX", x), "CUEX"), x
    for x in ("IMAG1", "CUSA2"):
        owner = x[:4]
        assert _points_to(_arrow(d.dot, owner, x), x), x
    assert _points_to(_arrow(d.dot, "IMAG", "CUSA"), "CUSA")
    arrows = [p for p in d.figure.axes[0].patches if isinstance(p, FancyArrowPatch)]
    est = diagram_estimates(mixed)
    drawn = [(r.lhs, r.rhs) for r in est.itertuples(index=False)]
    assert len(arrows) == len(drawn)
    reversed_ = {k for k, p in zip(drawn, arrows) if type(p.get_arrowstyle()).__name__ == "CurveFilledA"}
    assert reversed_ == {("CUEX", "CUEX1"), ("CUEX", "CUEX2"), ("CUEX", "CUEX3")}


def test_r2_inside_the_outcomes_and_labels(mixed):
    d = pls_diagram(mixed, engine="matplotlib", labels={"CUSA": "Satisfaction"}, digits=3)
    r2 = float(mixed.r2.set_index("construct").loc["CUSA", "r2"])
    txt = f"Satisfaction\\nR² = {f'{r2:.3f}'.lstrip('0')}"
    assert f'label="{txt}"' in d.dot
    assert 'label="IMAG"' in d.dot                          # exogenous: no R²
    assert "R²" not in pls_diagram(mixed, engine="matplotlib", r2=False).dot


def test_stars_only_with_a_bootstrap():
    plain = pls_diagram(pls.fit(MIXED, MOBI), engine="matplotlib")
    assert "*" not in _arrow(plain.dot, "IMAG", "CUSA")
    boot = pls.fit(MIXED, MOBI, bootstrap=100, seed=1)
    est = diagram_estimates(boot)
    path = est[(est.op == "~") & (est.lhs == "CUSA") & (est.rhs == "IMAG")].iloc[0]
    ref = boot.paths.set_index(["lhs", "rhs"]).loc[("CUSA", "IMAG")]
    assert path.se == ref["se"] and path.pvalue == ref["pvalue"] and path.z == ref["t"]
    assert _arrow(pls_diagram(boot, engine="matplotlib").dot, "IMAG", "CUSA").endswith('***"];')


def test_second_order_construct_drawn_with_its_dimensions():
    res = pls.fit(SECOND, MOBI)
    est = diagram_estimates(res)
    hoc = est[est.lhs == "EXPQ"]
    assert list(hoc.rhs) == ["IMAG", "CUEX"] and set(hoc.op) == {"=~"}       # not its repeated items
    P = res.paths.set_index(["lhs", "rhs"])["est"]
    assert list(hoc.est) == [P[("IMAG", "EXPQ")], P[("CUEX", "EXPQ")]]
    assert not ((est.op == "~") & (est.rhs == "EXPQ") & est.lhs.isin(["IMAG", "CUEX"])).any()
    d = pls_diagram(res, engine="matplotlib")
    assert 'label="IMAG"' in d.dot and 'label="CUSA\\nR² = ' in d.dot   # a dimension's R² is not shown
    assert d.svg.lstrip().startswith("<?xml")


def test_bad_input():
    with pytest.raises(ConfigError, match="show: expected one of auto, loadings, weights, got 'both'"):
        diagram_estimates(pls.fit(MIXED, MOBI), show="both")
    with pytest.raises(ModelError, match="expected a fitted PLS model"):
        pls_diagram(pd.DataFrame({"lhs": ["a"]}))

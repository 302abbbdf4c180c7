"""lavaan syntax parsing and lavaan sem() defaults (crm_research.sem.parse / syntax / defined)."""
from __future__ import annotations

import math

import numpy as np
import pytest

from crm_research import sem
from crm_research.errors import ModelSyntaxError
from crm_research.sem.defined import DefinedParameters, parse_expression


def rows(pt, op=None):
    sel = pt if op is None else pt[pt["op"] == op]
    return {(a, o, b) for a, o, b in zip(sel["lhs"], sel["op"], sel["rhs"])}


def row(pt, lhs, op, rhs="", group=1):
    r = pt[(pt["lhs"] == lhs) & (pt["op"] == op) & (pt["rhs"] == rhs) & (pt["group"] == group)]
    assert len(r) == 1, (lhs, op, rhs, len(r))
    return r.iloc[0]


def test_cfa_defaults():
    pt = sem.parse("visual =~ x1 + x2 + x3\ntextual =~ x4 + x5 + x6")
    assert row(pt, "visual", "=~", "x1")["free"] == 0 and row(pt, "visual", "=~", "x1")["ustart"] == 1.0
    assert row(pt, "visual", "=~", "x2")["free"] > 0
    # residual variances, latent variances and the covariance of the exogenous latents
    assert {(f"x{i}", "~~", f"x{i}") for i in range(1, 7)} <= rows(pt)
    assert ("visual", "~~", "visual") in rows(pt) and ("visual", "~~", "textual") in rows(pt)
    assert "~1" not in set(pt["op"])  # no mean structure by default
    assert pt["free"].max() == 13
    # user rows first, in syntax order, then defaults
    assert list(pt["user"][:6]) == [1] * 6 and pt["user"][6:].eq(0).all()


def test_operators_multiline_comments_semicolons_and_multiple_lhs():
    model = """
    # a comment line
    f1 =~ y1 + y2 +   ! trailing comment
          y3
    f2 =~ y4 + y5
        + y6 ; f2 ~ f1
    y1 + y2 ~ 1
    """
    pt = sem.parse(model)
    assert rows(pt, "=~") == {("f1", "=~", "y1"), ("f1", "=~", "y2"), ("f1", "=~", "y3"),
                               ("f2", "=~", "y4"), ("f2", "=~", "y5"), ("f2", "=~", "y6")}
    assert ("f2", "~", "f1") in rows(pt)
    # a ~1 line switches the mean structure on: every observed intercept, latent means fixed 0
    assert {(f"y{i}", "~1", "") for i in range(1, 7)} <= rows(pt)
    assert row(pt, "f1", "~1")["free"] == 0 and row(pt, "f1", "~1")["ustart"] == 0.0
    assert row(pt, "y4", "~1")["free"] > 0
    # the endogenous latent gets a residual variance, no covariance with f1
    assert ("f1", "~~", "f2") not in rows(pt) and ("f2", "~~", "f2") in rows(pt)
    assert row(pt, "y1", "~1")["line"] == 7 and row(pt, "f2", "~", "f1")["line"] == 6


def test_modifiers_labels_fixed_na_start():
    pt = sem.parse("f =~ NA*x1 + a*x2 + 0.5*x3 + start(0.8)*x4 + a*x5 + x6\nf ~~ 1*f\nx1 ~~ 0*x2")
    assert row(pt, "f", "=~", "x1")["free"] > 0  # NA* frees the marker
    assert row(pt, "f", "=~", "x3")["free"] == 0 and row(pt, "f", "=~", "x3")["ustart"] == 0.5
    assert row(pt, "f", "=~", "x4")["start"] == 0.8 and row(pt, "f", "=~", "x4")["free"] > 0
    assert row(pt, "f", "=~", "x2")["free"] == row(pt, "f", "=~", "x5")["free"]  # equality via label
    assert row(pt, "f", "~~", "f")["free"] == 0 and row(pt, "f", "~~", "f")["ustart"] == 1.0
    assert row(pt, "x1", "~~", "x2")["free"] == 0 and row(pt, "x1", "~~", "x2")["ustart"] == 0.0
    # 6 loadings - 1 fixed + shared label counts once; 6 residual variances
    assert pt["free"].max() == (4 - 1) + 1 + 6


def test_repeated_term_merges_modifiers_like_lavaan():
    pt = sem.parse("f =~ NA*x1 + lam1*x1 + x2 + x3\nf ~~ 1*f")
    r = row(pt, "f", "=~", "x1")
    assert r["free"] > 0 and r["label"] == "lam1"


def test_label_shared_with_fixed_parameter_fixes_all():
    pt = sem.parse("f =~ a*x1 + a*x2 + x3")
    # the marker (fixed at 1) carries label a, so x2's loading is fixed at 1 too
    assert row(pt, "f", "=~", "x2")["free"] == 0 and row(pt, "f", "=~", "x2")["ustart"] == 1.0


def test_covariance_order_follows_lavaan():
    pt = sem.parse("f =~ x1 + x2 + x3\ng =~ x4 + x5 + x6\nx5 ~~ x2\ng ~~ f")
    assert ("x2", "~~", "x5") in rows(pt)      # swapped to the variables' order
    assert ("f", "~~", "g") in rows(pt)
    assert len(pt[(pt["op"] == "~~") & (pt["lhs"] == "f") & (pt["rhs"] == "g")]) == 1  # not added twice


def test_path_model_fixed_x_and_auto_cov_y():
    pt = sem.parse("y1 ~ x1 + x2\ny2 ~ y1 + x1\ny3 ~ x2")
    # y2 and y3 are purely dependent: their residuals covary; y1 predicts y2, so no y1 ~~ y2
    assert ("y2", "~~", "y3") in rows(pt)
    assert ("y1", "~~", "y2") not in rows(pt) and ("y1", "~~", "y3") not in rows(pt)
    xs = pt[pt["exo"] == 1]
    assert rows(xs) == {("x1", "~~", "x1"), ("x1", "~~", "x2"), ("x2", "~~", "x2")}
    assert (xs["free"] == 0).all()


def test_mentioning_an_exogenous_variance_makes_it_random():
    # as lavaanify(fixed.x = TRUE): x1 becomes random (free variance), x2 stays fixed
    pt = sem.parse("y ~ x1 + x2\nx1 ~~ x1")
    assert row(pt, "x1", "~~", "x1")["free"] > 0 and row(pt, "x1", "~~", "x1")["exo"] == 0
    assert row(pt, "x2", "~~", "x2")["free"] == 0 and row(pt, "x2", "~~", "x2")["exo"] == 1
    assert len(pt) == 5


def test_higher_order_factor():
    pt = sem.parse("a =~ y1 + y2 + y3\nb =~ y4 + y5 + y6\nc =~ y7 + y8 + y9\nh =~ a + b + c")
    assert row(pt, "h", "=~", "a")["free"] == 0           # marker of the second-order factor
    assert ("a", "~~", "b") not in rows(pt)               # first-order factors are not exogenous
    assert ("h", "~~", "h") in rows(pt) and ("a", "~~", "a") in rows(pt)


def test_single_indicator_residual_fixed_to_zero():
    pt = sem.parse("f =~ x1\ng =~ x2 + x3 + x4\nf ~~ g")
    r = row(pt, "x1", "~~", "x1")
    assert r["free"] == 0 and r["ustart"] == 0.0


def test_defined_rows_and_groups():
    pt = sem.parse("f =~ x1 + c(l1, l2)*x2 + x3\nd := l1 - l2", ngroups=2)
    assert row(pt, "f", "=~", "x2", 1)["label"] == "l1" and row(pt, "f", "=~", "x2", 2)["label"] == "l2"
    d = pt[pt["op"] == ":="].iloc[0]
    assert d["lhs"] == "d" and d["rhs"] == "l1-l2" and d["group"] == 0
    with pytest.raises(ModelSyntaxError, match="2 values but the model has 3 group"):
        sem.parse("f =~ x1 + c(l1, l2)*x2 + x3", ngroups=3)


def test_group_equal_labels_like_lavaan():
    pt = sem.parse("f =~ x1 + x2 + x3", ngroups=2, group_equal=["loadings", "intercepts"])
    g1, g2 = row(pt, "f", "=~", "x2", 1), row(pt, "f", "=~", "x2", 2)
    assert g1["free"] == g2["free"] and g1["label"] == g2["label"] == g1["plabel"]
    assert row(pt, "x1", "~1", "", 1)["free"] == row(pt, "x1", "~1", "", 2)["free"]
    # latent mean fixed in group 1, free in group 2
    assert row(pt, "f", "~1", "", 1)["free"] == 0 and row(pt, "f", "~1", "", 2)["free"] > 0
    part = sem.parse("f =~ x1 + x2 + x3", ngroups=2, group_equal=["loadings"], group_partial=["f=~x3"])
    assert row(part, "f", "=~", "x3", 1)["free"] != row(part, "f", "=~", "x3", 2)["free"]


@pytest.mark.parametrize("model, line, fragment", [
    ("f =~ x1 + x2\ny | t1", 2, "thresholds"),
    ("f <~ x1 + x2", 1, "formative"),
    ("f =~ x1 + x2 + x3\nx1 == x2", 2, "equality constraints"),
    ("f =~ x1 + x2 + x3\nx1 ~~ x2\na < 1", 3, "inequality"),
    ("f =~ x1 + x2 + x3\ngroup: 1", 2, "block/group"),
    ("f =~ x1 + x2 + x3\ny ~*~ y", 2, "scale parameters"),
    ("f =~ x1 + x2:x3", 1, "interaction"),
    ("f =~ x1 + lower(0)*x2", 1, "bounds"),
    ("f =~ x1 + prior('normal')*x2", 1, "prior"),
    ("f =~ x1 + a*NA*x2", 1, "more than one modifier"),
    ("f =~ x1 + x2 +", 1, "ends with '+'"),
    ("f =~ x1 + x2 + x3\nf =~ x3", 2, "duplicate"),
    ("f =~ x1 + x2 + x3\nx1 ~~ x2\nx2 ~~ x1", 3, "duplicate"),
    ("f =~ f + x2", 1, "measured by itself"),
    ("f =~ x1 + x2 + x3\nind := a*b", 2, "unknown label"),
    ("f =~ x1 + a*x2 + x3\nind := a % 2", 2, "unexpected character"),
    ("f =~ x1 + a*x2 + x3\nind := foo(a)", 2, "unknown function"),
    ("f =~ x1 + a*x2 + x3\nind := (a*2", 2, "closing parenthesis"),
    ("f =~ x1 + x1*x2 + x3", 1, "also a variable name"),
    ("y ~ 0", 1, "not supported"),
    ("", 0, "empty"),
])
def test_unsupported_or_invalid_syntax_names_the_line(model, line, fragment):
    with pytest.raises(ModelSyntaxError) as e:
        sem.parse(model)
    assert e.value.line_no == line
    assert fragment in str(e.value)
    if line:
        assert f"line {line}" in str(e.value)


def test_expression_language_values_and_exact_gradient():
    e = parse_expression("(a*b)/(c + a*b) - 2^-1 + sqrt(c)*-a^2")
    a, b, c = 0.7, 0.4, 0.9
    expected = (a * b) / (c + a * b) - 0.5 + math.sqrt(c) * -(a ** 2)
    assert e.value({"a": a, "b": b, "c": c}) == pytest.approx(expected, rel=1e-14)
    dp = DefinedParameters([("x", e), ("y", parse_expression("x*2 + b"))], {"a": 0, "b": 1, "c": 2}, {})
    theta = np.array([a, b, c])
    J = dp.jacobian(theta)
    h = 1e-6
    num = np.array([(dp.values(theta + h * np.eye(3)[k]) - dp.values(theta - h * np.eye(3)[k])) / (2 * h)
                    for k in range(3)]).T
    assert np.allclose(J, num, atol=1e-7)
    # vectorized over replicates
    many = dp.values(np.tile(theta, (5, 1)))
    assert many.shape == (5, 2) and np.allclose(many[:, 0], expected)
    assert J[1] == pytest.approx(2 * J[0] + np.array([0, 1, 0]))


def test_fixed_label_usable_in_definitions():
    pt = sem.parse("f =~ x1 + a*x2 + x3\ng =~ x4 + 2*x5 + x6\nx5 ~~ v*x5\nr := a / 2 + v")
    assert pt.iloc[-1]["op"] == ":=" and pt.iloc[-1]["rhs"] == "a/2+v"

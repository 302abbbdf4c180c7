"""Simple equality constraints ``a == b`` in crm_research.sem (lavaan parity in test_sem_parity
via hs_equal.lav); complex constraints are rejected naming the line."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from crm_research import sem
from crm_research.errors import ModelSyntaxError

REF = Path(__file__).parent / "reference" / "lavaan"
BASE = "visual =~ x1 + a*x2 + b*x3\ntextual =~ x4 + c*x5 + x6\nspeed =~ x7 + x8 + x9\n"


@pytest.fixture(scope="module")
def hs():
    return pd.read_csv(REF / "HolzingerSwineford1939.csv")


def _free(pt, lhs, op, rhs):
    r = pt[(pt["lhs"] == lhs) & (pt["op"] == op) & (pt["rhs"] == rhs)]
    return int(r["free"].iloc[0]), r["label"].iloc[0]


def test_equality_merges_labels_into_one_free_parameter():
    free_pt = sem.parse(BASE)
    pt = sem.parse(BASE + "a == b")
    (fa, la), (fb, lb) = _free(pt, "visual", "=~", "x2"), _free(pt, "visual", "=~", "x3")
    assert fa == fb > 0
    assert (la, lb) == ("a", "b")          # user labels are kept, as lavaan prints them
    assert pt["free"].max() == free_pt["free"].max() - 1


def test_chained_equalities_merge_transitively():
    pt = sem.parse(BASE + "b == c\na == b")
    frees = {_free(pt, *k)[0] for k in [("visual", "=~", "x2"), ("visual", "=~", "x3"), ("textual", "=~", "x5")]}
    assert len(frees) == 1
    assert pt["free"].max() == sem.parse(BASE)["free"].max() - 2


def test_equality_equals_a_shared_label_fit(hs):
    """'a*x2 + b*x3; a == b' is the same model as 'a*x2 + a*x3': same estimates, chi-square, df."""
    eq = sem.fit(BASE + "a == b", hs)
    shared = sem.fit(BASE.replace("b*x3", "a*x3"), hs)
    assert np.allclose(eq.estimates["est"], shared.estimates["est"], atol=1e-10)
    assert np.allclose(eq.estimates["se"], shared.estimates["se"], atol=1e-10)
    for k in ("chisq", "df", "npar", "cfi"):
        assert eq.fit_measures[k] == pytest.approx(shared.fit_measures[k], abs=1e-9)
    e = eq.estimates.set_index("label")
    assert e.loc["a", "est"] == e.loc["b", "est"]
    # one constraint: one more degree of freedom than the free model
    free = sem.fit(BASE, hs)
    assert eq.fit_measures["df"] == free.fit_measures["df"] + 1
    assert eq.fit_measures["chisq"] > free.fit_measures["chisq"]


def test_equality_usable_in_defined_parameters(hs):
    res = sem.fit(BASE + "a == b\nd := a - b", hs)
    d = res.get("d", ":=", "a-b")
    assert d["est"] == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("extra, fragment", [
    ("a == 2*b", "only simple equality constraints"),
    ("a == b + c", "only simple equality constraints"),
    ("a == 0.5", "only simple equality constraints"),
    ("a < b", "inequality"),
    ("a > b", "inequality"),
    ("a == a", "with itself"),
    ("a == zz", "unknown label 'zz'"),
    ("d := a*b\nd == c", "defined (:=) parameters"),
])
def test_complex_constraints_rejected_naming_the_line(extra, fragment):
    model = BASE + extra
    line = model.count("\n") + 1
    with pytest.raises(ModelSyntaxError) as e:
        sem.parse(model)
    assert e.value.line_no == line
    assert f"line {line}" in str(e.value)
    assert fragment in str(e.value)

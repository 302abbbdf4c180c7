"""PLS algorithm (crm_research.pls: specification, algorithm, fit) against SmartPLS and ADANCO.

References (tests/reference/pls/README.md):
* SmartPLS 2.0.M3 on the ECSI mobi data, path/centroid/factorial schemes (semPLS's test folder):
  outer weights, path coefficients, cross-loadings; parity required 1e-4, we test 1e-6.
* ADANCO 2.1.1 on cSEM's satisfaction data (cSEM's tests/comparisons): PLSc common-factor model
  and mode-B composite model, factorial scheme; parity required 1e-3, we test 1e-5.
* seminr's Python port (PyPI 0.2.1, only when installed): PLSc, interactions, higher-order.
"""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from crm_research import pls
from crm_research.errors import ModelError, ModelSyntaxError
from crm_research.pls import estimate, parse_model

from _helpers import ECSI_MODEL, SMARTPLS_NAMES

ROOT = Path(__file__).resolve().parents[1]
REF = ROOT / "tests" / "reference" / "pls"
MOBI = ROOT / "tests" / "data" / "ecsi" / "mobi.csv"

ECSI_SYNTAX = ECSI_MODEL   # tests/data/ecsi/ecsi.lav
SAT_BLOCKS = dict(IMAG="imag1 + imag2 + imag3 + imag4 + imag5", EXPE="expe1 + expe2 + expe3 + expe4 + expe5",
                  QUAL="qual1 + qual2 + qual3 + qual4 + qual5", VAL="val1 + val2 + val3 + val4",
                  SAT="sat1 + sat2 + sat3 + sat4", LOY="loy1 + loy2 + loy3 + loy4")
SAT_STRUCT = "EXPE ~ IMAG\nQUAL ~ EXPE\nVAL ~ EXPE + QUAL\nSAT ~ IMAG + EXPE + QUAL + VAL\nLOY ~ IMAG + SAT\n"


@pytest.fixture(scope="module")
def mobi():
    return pd.read_csv(MOBI)


def smartpls_table(path: Path) -> pd.DataFrame:
    """A SmartPLS 2 text export (tab-separated, decimal comma, construct labels)."""
    rows = [ln.rstrip("\t").split("\t") for ln in path.read_text(encoding="latin-1").splitlines() if ln.strip()]
    cols = [SMARTPLS_NAMES.get(c.strip(), c.strip()) for c in rows[0][1:]]
    idx = [SMARTPLS_NAMES.get(r[0].strip(), r[0].strip()) for r in rows[1:]]
    vals = [[float(x.strip().replace(",", ".")) for x in r[1:]] for r in rows[1:]]
    return pd.DataFrame(vals, index=idx, columns=cols)


def adanco_cells(path: Path) -> dict:
    """{(row label, column label): value} of an ADANCO sheet dumped cell by cell; the header row is
    the first whose first cell is empty or a label and whose other cells are column names."""
    rows = [r[1:] for r in csv.reader(path.open(encoding="utf-8"))]
    head = next(i for i, r in enumerate(rows) if i > 0 and len(r) > 2 and r[1] and
                all(not _isnum(x) for x in r[1:] if x) and i + 1 < len(rows) and
                any(_isnum(x) for x in rows[i + 1][1:]))
    cols = rows[head][1:]
    out = {}
    for r in rows[head + 1:]:
        if r and r[0]:
            for c, v in zip(cols, r[1:]):
                if c and _isnum(v):
                    out[(r[0], c)] = float(v)
    return out


def _isnum(x: str) -> bool:
    try:
        float(x)
        return True
    except ValueError:
        return False


# --- SmartPLS parity -------------------------------------------------------------------------

@pytest.mark.parametrize("scheme,folder", [("path", "pathWeighting"), ("centroid", "centroid"),
                                           ("factorial", "factorial")])
def test_smartpls_ecsi(mobi, scheme, folder):
    res = pls.fit(ECSI_SYNTAX, mobi, scheme=scheme)
    base = REF / "smartpls" / "ecsi" / folder
    W = smartpls_table(base / "outerWeights.txt")
    P = smartpls_table(base / "pathCoefficients.txt")
    CL = smartpls_table(base / "crossLoadings.txt")
    for r in res.weights.itertuples():
        assert r.est == pytest.approx(W.loc[r.rhs, r.lhs], abs=1e-6), (r.lhs, r.rhs)
    for r in res.paths.itertuples():          # SmartPLS: row = predictor, column = dependent
        assert r.est == pytest.approx(P.loc[r.rhs, r.lhs], abs=1e-6), (r.lhs, r.rhs)
    n_paths = int((P.to_numpy() != 0).sum())
    assert len(res.paths) == n_paths
    cl = res.cross_loadings
    np.testing.assert_allclose(cl.to_numpy(), CL.loc[cl.index, cl.columns].to_numpy(), atol=1e-6)
    for r in res.loadings.itertuples():
        assert r.est == pytest.approx(CL.loc[r.rhs, r.lhs], abs=1e-6)
    assert res.estimates.converged


def test_schemes_differ(mobi):
    """The scheme option is not ignored (the SmartPLS results differ in the 4th decimal)."""
    a = pls.fit(ECSI_SYNTAX, mobi, scheme="path").estimates.weights
    b = pls.fit(ECSI_SYNTAX, mobi, scheme="centroid").estimates.weights
    assert np.abs(a - b).max() > 1e-3


# --- ADANCO parity -------------------------------------------------------------------------

ADANCO = REF / "adanco"


@pytest.fixture(scope="module")
def satisfaction():
    path = ADANCO / "satisfaction.csv"
    if not path.exists():
        pytest.skip("ADANCO references not present")
    return pd.read_csv(path)


@pytest.mark.parametrize("model,op,consistent", [("cf_model", "=~", True), ("composite_model", "<~", False)])
def test_adanco_satisfaction(satisfaction, model, op, consistent):
    syn = "\n".join(f"{c} {op} {b}" for c, b in SAT_BLOCKS.items()) + "\n" + SAT_STRUCT
    res = pls.fit(syn, satisfaction, scheme="factorial", consistent=consistent, tol=1e-6)
    W = adanco_cells(ADANCO / model / "weights.csv")
    L = adanco_cells(ADANCO / model / "loadings.csv")
    P = adanco_cells(ADANCO / model / "path_coefficients.csv")
    C = adanco_cells(ADANCO / model / "inter_construct_correlations.csv")
    for r in res.weights.itertuples():
        assert r.est == pytest.approx(W[(r.rhs, r.lhs)], abs=1e-5)
    for r in res.loadings.itertuples():
        assert r.est == pytest.approx(L[(r.rhs, r.lhs)], abs=1e-5)
    assert len(P) == len(res.paths)
    for r in res.paths.itertuples():          # ADANCO: row = independent, column = dependent
        assert r.est == pytest.approx(P[(r.rhs, r.lhs)], abs=1e-5)
    CL = adanco_cells(ADANCO / model / "cross_loadings.csv")
    assert len(CL) == 27 * 6
    cl = res.cross_loadings           # PLSc: in-block consistent loadings, off-block corr / sqrt(rho_A)
    for (x, c), v in CL.items():
        assert cl.loc[x, c] == pytest.approx(v, abs=1e-5), (x, c)
    cons = res.model.constructs
    for (a, b), v in C.items():
        assert res.estimates.construct_corr[cons.index(a), cons.index(b)] == pytest.approx(v, abs=1e-5)
    if consistent:
        R = adanco_cells(ADANCO / model / "construct_reliability.csv")
        key = next(c for (_, c) in R if "A)" in c or "ρA" in c)
        for c in cons:
            assert res.estimates.rho_a[cons.index(c)] == pytest.approx(R[(c, key)], abs=1e-5)
        # PLSc is not plain PLS: the correction moves the paths
        plain = pls.fit(syn, satisfaction, scheme="factorial", tol=1e-6)
        assert np.abs(plain.estimates.paths - res.estimates.paths).max() > 0.05


# --- algorithm properties ------------------------------------------------------------------

def test_batched_equals_single(mobi):
    m = parse_model(ECSI_SYNTAX)
    X = mobi[list(m.columns)].to_numpy(float)
    rng = np.random.default_rng(7)
    stack = np.stack([np.corrcoef(X[rng.integers(0, len(X), len(X))], rowvar=False) for _ in range(5)])
    for consistent in (False, True):
        b = estimate(m, stack, consistent=consistent)
        for i in range(5):
            s = estimate(m, stack[i], consistent=consistent)
            np.testing.assert_allclose(b.paths[i], s.paths, atol=1e-12)
            np.testing.assert_allclose(b.weights[i], s.weights, atol=1e-12)
            assert b.iterations[i] == s.iterations


def test_mode_b_weights_are_regression(mobi):
    """Mode B outer weights at convergence: regression of the inner proxy on the block."""
    res = pls.fit(ECSI_SYNTAX.replace("IMAG =~", "IMAG <~"), mobi)
    w = res.weights.query("lhs == 'IMAG'")
    assert (w["op"] == "<~").all()
    S = res.S
    cols = list(res.model.columns)
    b = [cols.index(x) for x in w["rhs"]]
    wv = w["est"].to_numpy()
    assert wv @ S[np.ix_(b, b)] @ wv == pytest.approx(1.0)
    # loadings of a composite are still the indicator-score correlations
    L = res.loadings.query("lhs == 'IMAG'")["est"].to_numpy()
    np.testing.assert_allclose(L, S[np.ix_(b, b)] @ wv)


def test_iteration_cap(mobi):
    res = pls.fit(ECSI_SYNTAX, mobi, max_iter=2)
    assert res.iterations == 2 and not res.estimates.converged
    assert pls.fit(ECSI_SYNTAX, mobi, stop="max").estimates.converged


# --- seminr cross-check ----------------------------------------------------------------------

def _seminr_matrix(nm) -> pd.DataFrame:
    return pd.DataFrame(nm.values, index=nm.rows, columns=nm.cols)


def test_seminr_plsc_mobi(mobi):
    seminr = pytest.importorskip("seminr")
    m = seminr.estimate_pls(mobi, model=seminr.csem2seminr(ECSI_SYNTAX))   # reflective -> PLSc in seminr
    res = pls.fit(ECSI_SYNTAX, mobi, consistent=True)
    P = _seminr_matrix(m.path_coef)
    for r in res.paths.itertuples():
        assert r.est == pytest.approx(P.loc[r.rhs, r.lhs], abs=1e-6)
    L = _seminr_matrix(m.outer_loadings)
    for r in res.loadings.itertuples():
        assert r.est == pytest.approx(L.loc[r.rhs, r.lhs], abs=1e-6)


INTERACTION_SYNTAX = """
IMAG =~ IMAG1 + IMAG2 + IMAG3 + IMAG4 + IMAG5
CUEX =~ CUEX1 + CUEX2 + CUEX3
CUSA =~ CUSA1 + CUSA2 + CUSA3
CUSA ~ IMAG + CUEX + IMAG:CUEX
"""


@pytest.mark.parametrize("method", ["two_stage", "product_indicator"])
def test_seminr_interaction(mobi, method):
    seminr = pytest.importorskip("seminr")
    mm = seminr.constructs(
        seminr.composite("IMAG", seminr.multi_items("IMAG", range(1, 6))),
        seminr.composite("CUEX", seminr.multi_items("CUEX", range(1, 4))),
        seminr.composite("CUSA", seminr.multi_items("CUSA", range(1, 4))),
        seminr.interaction_term(iv="IMAG", moderator="CUEX", method=getattr(seminr, method)))
    sm = seminr.relationships(seminr.paths(from_=["IMAG", "CUEX", "IMAG*CUEX"], to="CUSA"))
    m = seminr.estimate_pls(mobi, mm, sm)
    res = pls.fit(INTERACTION_SYNTAX, mobi, interaction=method)
    P = _seminr_matrix(m.path_coef)
    got = res.paths.set_index("rhs")["est"]
    # main effects are invariant to seminr's rescaling of the interaction score
    assert got["IMAG"] == pytest.approx(P.loc["IMAG", "CUSA"], abs=1e-6)
    assert got["CUEX"] == pytest.approx(P.loc["CUEX", "CUSA"], abs=1e-6)
    # seminr's interaction score has sd != 1 (Henseler & Chin's adjustment): standardize its path
    scores = _seminr_matrix(m.construct_scores)
    sd = scores["IMAG*CUEX"].std(ddof=1)
    assert got["IMAG:CUEX"] == pytest.approx(P.loc["IMAG*CUEX", "CUSA"] * sd, abs=1e-6)


HOC_SYNTAX = """
QUAL =~ PERQ + CUEX
PERQ =~ PERQ1 + PERQ2 + PERQ3 + PERQ4 + PERQ5 + PERQ6 + PERQ7
CUEX =~ CUEX1 + CUEX2 + CUEX3
IMAG =~ IMAG1 + IMAG2 + IMAG3 + IMAG4 + IMAG5
CUSA =~ CUSA1 + CUSA2 + CUSA3
CUSA ~ QUAL + IMAG
"""


def test_higher_order_repeated_and_two_stage(mobi):
    rep = pls.fit(HOC_SYNTAX, mobi)
    assert set(rep.model.blocks["QUAL"]) == set(rep.model.blocks["PERQ"]) | set(rep.model.blocks["CUEX"])
    got = {(r.lhs, r.rhs) for r in rep.paths.itertuples()}
    assert {("PERQ", "QUAL"), ("CUEX", "QUAL"), ("CUSA", "QUAL"), ("CUSA", "IMAG")} == got
    for how in ("embedded", "disjoint"):
        two = pls.fit(HOC_SYNTAX, mobi, two_stage=how)
        assert two.model.blocks["QUAL"] == ("PERQ", "CUEX")
        assert "PERQ" not in two.model.constructs and "PERQ" in two.data.columns
        assert {(r.lhs, r.rhs) for r in two.paths.itertuples()} == {("CUSA", "QUAL"), ("CUSA", "IMAG")}
    # embedded: stage 2's HOC indicators are the repeated-indicators model's LOC scores
    emb = pls.fit(HOC_SYNTAX, mobi, two_stage="embedded")
    cols = list(rep.model.columns)
    W = rep.estimates.weights
    z = (mobi[cols] - mobi[cols].mean()) / mobi[cols].std()
    perq = z.to_numpy() @ W[:, rep.model.constructs.index("PERQ")]
    np.testing.assert_allclose(emb.data["PERQ"].to_numpy(), perq, atol=1e-10)
    with pytest.raises(ModelError, match="two_stage='yes'"):
        pls.fit(HOC_SYNTAX, mobi, two_stage="yes")


def test_seminr_two_stage_hoc(mobi):
    seminr = pytest.importorskip("seminr")
    mm = seminr.constructs(
        seminr.composite("PERQ", seminr.multi_items("PERQ", range(1, 8))),
        seminr.composite("CUEX", seminr.multi_items("CUEX", range(1, 4))),
        seminr.higher_composite("QUAL", ["PERQ", "CUEX"]),
        seminr.composite("IMAG", seminr.multi_items("IMAG", range(1, 6))),
        seminr.composite("CUSA", seminr.multi_items("CUSA", range(1, 4))))
    sm = seminr.relationships(seminr.paths(from_=["QUAL", "IMAG"], to="CUSA"))
    m = seminr.estimate_pls(mobi, mm, sm)
    res = pls.fit(HOC_SYNTAX, mobi, two_stage=True)
    P = _seminr_matrix(m.path_coef)
    for r in res.paths.itertuples():
        assert r.est == pytest.approx(P.loc[r.rhs, r.lhs], abs=1e-5), (r.lhs, r.rhs)


# --- syntax and bad input ----------------------------------------------------------------------

def test_parse_model_structure():
    m = parse_model(ECSI_SYNTAX)
    assert m.constructs == ("IMAG", "CUEX", "PERQ", "PERV", "CUSA", "CUSCO", "CUSL")
    assert m.blocks["CUSCO"] == ("CUSCO",) and m.single_item == ("CUSCO",)
    assert m.structural["CUSA"] == ("IMAG", "CUEX", "PERQ", "PERV")
    assert m.modes["IMAG"] == "A"
    assert m.exogenous == ("IMAG",)
    m2 = parse_model("A <~ a1 + a2; B =~ b1 + b2; C =~ c1; C ~ A + B + A.B")   # cSEM's interaction notation
    assert m2.interactions == {"A:B": ("A", "B")} and m2.modes["A"] == "B"
    assert m2.blocks["A:B"] == ("a1:b1", "a1:b2", "a2:b1", "a2:b2")
    assert m2.columns[-4:] == ("a1:b1", "a1:b2", "a2:b1", "a2:b2")


def test_unicode_names():
    m = parse_model("满意度 =~ 题1 + 题2\n忠诚 =~ q3\n忠诚 ~ 满意度")
    assert m.constructs == ("满意度", "忠诚") and m.structural["忠诚"] == ("满意度",)


@pytest.mark.parametrize("syntax,match", [
    ("A =~ a1 + a2\nB =~ b1\nB ~~ A", "line 3.*'~~'"),
    ("A =~ a1 + \nB =~ b1\nB ~ A", "line 1.*empty term"),
    ("A =~ a1 + a2\nB =~ b1\nB ~ A + Z", "line 3.*'Z' is not a construct"),
    ("A =~ a1 + a2\nB =~ b1\nB ~ 0.5*A", "line 3.*modifiers"),
    ("A =~ a1 + a2\nB =~ b1\nB ~ A\nA <~ a3", "line 4.*'=~' on line 1"),
    ("A =~ a1 + a2\nB =~ b1\nB is A", "line 3.*expected an operator"),
    ("A =~ a1 + a2\nH =~ A + h1\nB =~ b1\nB ~ H", "line 2.*mixes constructs"),
])
def test_syntax_errors_name_the_line(syntax, match):
    with pytest.raises(ModelSyntaxError, match=match):
        parse_model(syntax)


@pytest.mark.parametrize("syntax,match", [
    ("A =~ a1 + a2\nB =~ b1\nC =~ c1\nB ~ A", "'C'.*not connected"),
    ("A =~ a1\nB =~ b1\nA ~ B\nB ~ A", "feedback loop"),
    ("", "no measurement line"),
])
def test_model_errors(syntax, match):
    with pytest.raises(ModelError, match=match):
        parse_model(syntax)


def test_bad_data_and_options(mobi):
    with pytest.raises(ModelError, match="indicator 'XX1' \\(construct 'X'\\) is not a column"):
        pls.fit("X =~ XX1 + IMAG1\nY =~ CUSA1\nY ~ X", mobi)
    bad = mobi.assign(IMAG1=mobi["IMAG1"].astype(str).replace({"7": "seven"}))
    with pytest.raises(ModelError, match="'IMAG1' is not numeric.*'seven'"):
        pls.fit("X =~ IMAG1 + IMAG2\nY =~ CUSA1\nY ~ X", bad)
    with pytest.raises(ModelError, match="'IMAG2' is constant"):
        pls.fit("X =~ IMAG1 + IMAG2\nY =~ CUSA1\nY ~ X", mobi.assign(IMAG2=3))
    with pytest.raises(ModelError, match="scheme='pathweighting'.*path, centroid, factorial"):
        pls.fit(ECSI_SYNTAX, mobi, scheme="pathweighting")
    with pytest.raises(ModelError, match="missing='pairwise'"):
        pls.fit(ECSI_SYNTAX, mobi, missing="pairwise")
    with pytest.raises(ModelError, match="bootstrap=-5"):
        pls.fit(ECSI_SYNTAX, mobi, bootstrap=-5)
    with pytest.raises(ModelError, match="mode B.*singular"):
        pls.fit("X <~ IMAG1 + IMAG2 + D\nY =~ CUSA1\nY ~ X", mobi.assign(D=mobi.IMAG1 + mobi.IMAG2))
    with pytest.raises(ModelError, match="S has shape"):
        estimate(parse_model("X =~ a + b; Y =~ c; Y ~ X"), np.eye(4))


def test_missing_values(mobi):
    holes = mobi.astype(float).copy()
    holes.iloc[3, 0] = np.nan
    holes.iloc[10, 5] = np.nan
    lw = pls.fit(ECSI_SYNTAX, holes)
    assert lw.nobs == 248
    mean = pls.fit(ECSI_SYNTAX, holes, missing="mean")
    assert mean.nobs == 250
    filled = holes.fillna(holes.mean())
    np.testing.assert_allclose(mean.estimates.paths, pls.fit(ECSI_SYNTAX, filled).estimates.paths)


def test_plsc_refuses_negative_rho_a_and_flags_nonconvergence(mobi):
    rng = np.random.default_rng(1)
    n = 100
    f = rng.normal(size=n)
    df = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n), "c": rng.normal(size=n),
                       "y1": f + rng.normal(size=n), "y2": f + rng.normal(size=n)})
    syn = "X =~ a + b + c; Y =~ y1 + y2; Y ~ X"
    assert pls.fit(syn, df).estimates.rho_a[0] < 0          # uncorrelated "indicators"
    with pytest.raises(ModelError, match="rho_A of construct 'X' is -0.*consistent=False"):
        pls.fit(syn, df, consistent=True)
    assert pls.fit(ECSI_SYNTAX, mobi).settings["warnings"] == []
    assert "did not converge in 2 iterations" in pls.fit(ECSI_SYNTAX, mobi, max_iter=2).settings["warnings"][0]

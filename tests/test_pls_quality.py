"""PLS quality criteria and overall fit against ADANCO 2.1.1 (cSEM's test folder).

References: tests/reference/pls/adanco/ (README there): ADANCO's result workbooks for cSEM's
``satisfaction`` data, a common-factor model estimated by PLSc (factorial scheme) and the
same model with every construct a mode-B composite. Two layers:

* the formulas, fed ADANCO's own correlation matrix, loadings and paths (must agree to
  rounding error: they are the same formulas);
* end to end, ``pls.fit`` on the raw data (parity 1e-3 as the issue asks; it is far closer).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from crm_research.errors import ModelError
from crm_research.pls import fit as pls_fit, parse_model
from crm_research.pls.fit_measures import (admissible, d_g, d_uls, exact_fit_test, fit_measures_table,
                                           implied_correlation, srmr)
from crm_research.pls.quality import (Layout, ave, cronbach_alpha, effects_table, f_squared, fornell_larcker,
                                      htmt, htmt_table, indirect_effects, layout_of, r2_adjusted,
                                      reliability_table, rho_c, specific_indirect_effects, total_effects,
                                      vif_inner, vif_outer)

REF = Path(__file__).parent / "reference" / "pls" / "adanco"
CONSTRUCTS = ["IMAG", "EXPE", "QUAL", "VAL", "SAT", "LOY"]
BLOCKS = """
IMAG {op} imag1 + imag2 + imag3 + imag4 + imag5
EXPE {op} expe1 + expe2 + expe3 + expe4 + expe5
QUAL {op} qual1 + qual2 + qual3 + qual4 + qual5
VAL  {op} val1  + val2  + val3  + val4
SAT  {op} sat1  + sat2  + sat3  + sat4
LOY  {op} loy1  + loy2  + loy3  + loy4
"""
STRUCTURE = """
EXPE ~ IMAG
QUAL ~ EXPE
VAL  ~ EXPE + QUAL
SAT  ~ IMAG + EXPE + QUAL + VAL
LOY  ~ IMAG + SAT
"""
CF_MODEL = STRUCTURE + BLOCKS.format(op="=~")
COMPOSITE_MODEL = STRUCTURE + BLOCKS.format(op="<~")


def grid(model: str, sheet: str) -> pd.DataFrame:
    """One ADANCO sheet as a numeric frame (row labels = its first text column)."""
    raw = pd.read_csv(REF / model / f"{sheet}.csv", header=None, dtype=str).iloc[:, 1:]
    raw = raw.dropna(how="all").reset_index(drop=True)
    h = next(i for i, v in enumerate(raw.iloc[:, 0]) if pd.isna(v) or v in ("Construct", "Indicator", "Effect"))
    cols = list(raw.iloc[h, 1:])
    body = raw.iloc[h + 1:]
    body = body[body.iloc[:, 0].notna() & (~body.iloc[:, 0].str.contains(" ") | body.iloc[:, 0].str.contains("->"))]
    out = body.iloc[:, 1:].apply(pd.to_numeric, errors="coerce")
    out.index, out.columns = list(body.iloc[:, 0]), cols
    return out


def lower(df: pd.DataFrame) -> np.ndarray:
    """A lower-triangular ADANCO matrix made symmetric."""
    a = df.values.astype(float)
    a = np.where(np.isnan(a), 0.0, a)
    return a + a.T - np.diag(np.diag(a))


@pytest.fixture(scope="module")
def adanco_cf():
    """ADANCO's own inputs for the common-factor (PLSc) model, as arrays."""
    m = parse_model(CF_MODEL)
    L = grid("cf_model", "loadings").loc[list(m.columns), CONSTRUCTS]
    paths = grid("cf_model", "path_coefficients")
    B = np.zeros((6, 6))
    for src in paths.index:
        for dep in paths.columns:
            if not np.isnan(paths.loc[src, dep]):
                B[CONSTRUCTS.index(dep), CONSTRUCTS.index(src)] = paths.loc[src, dep]
    return {
        "model": m,
        "S": grid("cf_model", "empirical_correlation_matrix").loc[list(m.columns), list(m.columns)].values,
        "L": L.fillna(0).values,
        "P": lower(grid("cf_model", "inter_construct_correlations").loc[CONSTRUCTS, CONSTRUCTS]),
        "B": B,
    }


@pytest.fixture(scope="module")
def satisfaction():
    return pd.read_csv(REF / "satisfaction.csv")


@pytest.fixture(scope="module")
def fitted_cf(satisfaction):
    return pls_fit(CF_MODEL, satisfaction, scheme="factorial", consistent=True, tol=1e-6)


@pytest.fixture(scope="module")
def fitted_composite(satisfaction):
    return pls_fit(COMPOSITE_MODEL, satisfaction, scheme="factorial", tol=1e-6)


# ----------------------------------------------------------------------------- formulas on ADANCO's inputs
def test_layout_of_model(adanco_cf):
    lay = layout_of(adanco_cf["model"])
    assert lay.constructs == tuple(CONSTRUCTS)
    assert lay.membership.sum() == 27 and not lay.composite.any()
    assert lay.structure[CONSTRUCTS.index("SAT")].sum() == 4
    assert layout_of(parse_model(COMPOSITE_MODEL)).composite.all()


def test_reliability_formulas_match_adanco(adanco_cf):
    m, S, L = adanco_cf["model"], adanco_cf["S"], adanco_cf["L"]
    rel = grid("cf_model", "construct_reliability").loc[CONSTRUCTS]
    np.testing.assert_allclose(cronbach_alpha(m, S), rel.iloc[:, 2], atol=1e-10)
    np.testing.assert_allclose(rho_c(m, L), rel.iloc[:, 1], atol=1e-10)
    np.testing.assert_allclose(ave(m, L), grid("cf_model", "convergent_validity").loc[CONSTRUCTS].iloc[:, 0],
                               atol=1e-10)


def test_htmt_and_fornell_larcker_formulas_match_adanco(adanco_cf):
    m, S = adanco_cf["model"], adanco_cf["S"]
    ref = grid("cf_model", "discriminant_validity_heterotr").loc[CONSTRUCTS, CONSTRUCTS].values
    H = htmt(m, S)
    mask = ~np.isnan(ref)
    assert mask.sum() == 15
    np.testing.assert_allclose(H[mask], ref[mask], atol=1e-10)
    np.testing.assert_allclose(H, H.T)
    fl_ref = grid("cf_model", "fornell_larcker_criterion").loc[CONSTRUCTS, CONSTRUCTS].values
    fl = fornell_larcker(m, adanco_cf["P"], ave(m, adanco_cf["L"])).values
    mask = ~np.isnan(fl_ref)
    np.testing.assert_allclose(fl[mask], fl_ref[mask], atol=1e-10)


def test_structural_criteria_formulas_match_adanco(adanco_cf):
    m, P, B = adanco_cf["model"], adanco_cf["P"], adanco_cf["B"]
    r2 = np.array([np.nan] + [float(B[i] @ P[i]) for i in range(1, 6)])
    ref = grid("cf_model", "r_squared").loc[CONSTRUCTS[1:]]
    np.testing.assert_allclose(r2[1:], ref.iloc[:, 0], atol=1e-10)
    np.testing.assert_allclose(r2_adjusted(m, r2, 250)[1:], ref.iloc[:, 1], atol=1e-10)
    assert np.isnan(r2_adjusted(m, r2, 250)[0])
    f2 = f_squared(m, P)
    eff = grid("cf_model", "effect_overview")
    ref_f2 = {tuple(k.split(" -> ")): v for k, v in eff["Cohen's f2"].dropna().items()}
    assert len(f2) == len(ref_f2) == 10
    for r in f2.itertuples():
        assert r.f2 == pytest.approx(ref_f2[(r.rhs, r.lhs)], abs=1e-9)


def test_outer_vif_matches_adanco(adanco_cf):
    ref = grid("cf_model", "indicator_multicollinearity")
    v = vif_outer(adanco_cf["model"], adanco_cf["S"])
    assert len(v) == 27 and set(v.op) == {"=~"}
    for r in v.itertuples():
        assert r.vif == pytest.approx(ref.loc[r.rhs, r.lhs], abs=1e-9)


def test_inner_vif_is_the_inverse_correlation_diagonal(adanco_cf):
    m, P = adanco_cf["model"], adanco_cf["P"]
    v = vif_inner(m, P)
    sat = v[v.lhs == "SAT"].set_index("rhs")["vif"]
    idx = [CONSTRUCTS.index(c) for c in ("IMAG", "EXPE", "QUAL", "VAL")]
    r2_imag = 1 - 1 / np.linalg.inv(P[np.ix_(idx, idx)])[0, 0]
    # VIF = 1 / (1 - R2 of IMAG on the other predictors of SAT), by a separate regression
    others = idx[1:]
    r = P[others, idx[0]]
    assert r2_imag == pytest.approx(float(r @ np.linalg.solve(P[np.ix_(others, others)], r)), abs=1e-12)
    assert sat["IMAG"] == pytest.approx(1 / (1 - r2_imag))
    assert v[v.lhs == "EXPE"]["vif"].tolist() == [1.0]


def test_total_and_indirect_effects_match_adanco(adanco_cf):
    B = adanco_cf["B"]
    for sheet, fn in (("total_effects", total_effects), ("indirect_effects", indirect_effects)):
        ref = grid("cf_model", sheet)
        got = fn(B)
        n = 0
        for src in ref.index:
            for dep in ref.columns:
                v = ref.loc[src, dep]
                if not np.isnan(v):
                    n += 1
                    assert got[CONSTRUCTS.index(dep), CONSTRUCTS.index(src)] == pytest.approx(v, abs=1e-10)
        assert n >= 9


def test_specific_indirect_effects_sum_to_the_total_indirect(adanco_cf):
    m, B = adanco_cf["model"], adanco_cf["B"]
    chains, vals = specific_indirect_effects(m, B)
    I = indirect_effects(B)
    for i in range(6):
        for j in range(6):
            mine = [v for ch, v in zip(chains, vals) if ch[0] == j and ch[-1] == i]
            assert sum(mine) == pytest.approx(I[i, j], abs=1e-12)
    tab = effects_table(m, B)
    spec = tab[(tab.op == "specific") & (tab.lhs == "VAL") & (tab.rhs == "IMAG")].set_index("via")["est"]
    assert sorted(spec.index) == ["EXPE", "EXPE -> QUAL"]
    assert spec["EXPE -> QUAL"] == pytest.approx(B[1, 0] * B[2, 1] * B[3, 2])
    # stacks: the same values draw by draw
    stack = np.stack([B, 2 * B])
    _, vs = specific_indirect_effects(m, stack)
    np.testing.assert_allclose(vs[0], vals)
    assert total_effects(stack).shape == (2, 6, 6)


def test_implied_correlations_and_fit_match_adanco(adanco_cf):
    m, S, L, P, B = (adanco_cf[k] for k in ("model", "S", "L", "P", "B"))
    cols = list(m.columns)
    for sheet, sat in (("impl_cor_saturated_model", True), ("impl_cor_estimated_model", False)):
        ref = grid("cf_model", sheet).loc[cols, cols].values
        np.testing.assert_allclose(implied_correlation(m, S, L, P, B, saturated=sat), ref, atol=1e-7)
    for sheet, sat in (("goodness_of_model_fit_saturate", True), ("goodness_of_model_fit_estimate", False)):
        ref = grid("cf_model", sheet)["Value"]
        Sig = implied_correlation(m, S, L, P, B, saturated=sat)
        assert srmr(S, Sig) == pytest.approx(ref["SRMR"], abs=1e-7)
        assert d_uls(S, Sig) == pytest.approx(ref["dULS"], abs=1e-6)
        assert d_g(S, Sig) == pytest.approx(ref["dG"], abs=1e-6)


def test_csem_variant_sets_implied_construct_variances_to_one(adanco_cf):
    m, S, L, P, B = (adanco_cf[k] for k in ("model", "S", "L", "P", "B"))
    a = implied_correlation(m, S, L, P, B, implied="adanco")
    c = implied_correlation(m, S, L, P, B, implied="csem")
    assert np.abs(a - c).max() > 1e-3          # this model's implied LOY variance is .93 under ADANCO's rule
    np.testing.assert_allclose(np.diag(c), 1.0, atol=1e-12)
    with pytest.raises(ModelError, match="implied='lavaan'"):
        implied_correlation(m, S, L, P, B, implied="lavaan")


def test_dg_natural_log_differs_by_the_factor_of_the_logarithm(adanco_cf):
    S = adanco_cf["S"]
    Sig = np.eye(len(S))
    assert d_g(S, Sig, log_base=np.e) == pytest.approx(d_g(S, Sig) * np.log(10) ** 2)


# ----------------------------------------------------------------------------- end to end (pls.fit)
def test_fit_quality_criteria_match_adanco_cf_model(fitted_cf):
    r = fitted_cf
    rel = r.reliability.set_index("construct").loc[CONSTRUCTS]
    ref = grid("cf_model", "construct_reliability").loc[CONSTRUCTS]
    np.testing.assert_allclose(rel["rho_a"], ref.iloc[:, 0], atol=1e-3)
    np.testing.assert_allclose(rel["rho_c"], ref.iloc[:, 1], atol=1e-3)
    np.testing.assert_allclose(rel["alpha"], ref.iloc[:, 2], atol=1e-3)
    np.testing.assert_allclose(rel["ave"], grid("cf_model", "convergent_validity").loc[CONSTRUCTS].iloc[:, 0],
                               atol=1e-3)
    r2 = r.r2.set_index("construct").loc[CONSTRUCTS[1:]]
    ref = grid("cf_model", "r_squared").loc[CONSTRUCTS[1:]]
    np.testing.assert_allclose(r2["r2"], ref.iloc[:, 0], atol=1e-3)
    np.testing.assert_allclose(r2["r2_adj"], ref.iloc[:, 1], atol=1e-3)
    ref_h = grid("cf_model", "discriminant_validity_heterotr")
    for row in r.htmt.itertuples():
        assert row.est == pytest.approx(ref_h.loc[row.lhs, row.rhs], abs=1e-3)
    ref_f2 = {tuple(k.split(" -> ")): v for k, v in grid("cf_model", "effect_overview")["Cohen's f2"].dropna().items()}
    for row in r.f2.itertuples():
        assert row.f2 == pytest.approx(ref_f2[(row.rhs, row.lhs)], abs=1e-3)
    fm = r.fit_measures.set_index(["model", "measure"])["value"]
    for sheet, kind in (("goodness_of_model_fit_saturate", "saturated"), ("goodness_of_model_fit_estimate", "estimated")):
        ref = grid("cf_model", sheet)["Value"]
        assert fm[(kind, "srmr")] == pytest.approx(ref["SRMR"], abs=1e-3)
        assert fm[(kind, "d_uls")] == pytest.approx(ref["dULS"], abs=1e-3)
        assert fm[(kind, "d_g")] == pytest.approx(ref["dG"], abs=1e-3)
    fl = r.fornell_larcker.loc[CONSTRUCTS, CONSTRUCTS].values
    fl_ref = grid("cf_model", "fornell_larcker_criterion").loc[CONSTRUCTS, CONSTRUCTS].values
    mask = ~np.isnan(fl_ref)
    np.testing.assert_allclose(fl[mask], fl_ref[mask], atol=1e-3)


def test_fit_composite_model_matches_adanco(fitted_composite):
    r = fitted_composite
    ref = grid("composite_model", "r_squared").loc[CONSTRUCTS[1:]]
    r2 = r.r2.set_index("construct").loc[CONSTRUCTS[1:]]
    np.testing.assert_allclose(r2["r2"], ref.iloc[:, 0], atol=1e-3)
    np.testing.assert_allclose(r2["r2_adj"], ref.iloc[:, 1], atol=1e-3)
    ref_f2 = {tuple(k.split(" -> ")): v
              for k, v in grid("composite_model", "effect_overview")["Cohen's f2"].dropna().items()}
    for row in r.f2.itertuples():
        assert row.f2 == pytest.approx(ref_f2[(row.rhs, row.lhs)], abs=1e-3)
    fm = r.fit_measures.set_index(["model", "measure"])["value"]
    assert fm[("saturated", "srmr")] == pytest.approx(grid("composite_model", "goodness_of_model_fit_saturate")
                                                      .loc["SRMR", "Value"], abs=1e-3)
    assert fm[("estimated", "srmr")] == pytest.approx(grid("composite_model", "goodness_of_model_fit_estimate")
                                                      .loc["SRMR", "Value"], abs=1e-3)
    cols = list(r.model.columns)
    e = r.estimates
    for sheet, sat in (("impl_cor_saturated_model", True), ("impl_cor_estimated_model", False)):
        ref = grid("composite_model", sheet).loc[cols, cols].values
        got = implied_correlation(r.model, r.S, e.loadings, e.construct_corr, e.paths, saturated=sat)
        np.testing.assert_allclose(got, ref, atol=1e-4)
    vo = r.vif_outer
    ref = grid("composite_model", "indicator_multicollinearity")
    assert set(vo.op) == {"<~"}
    for row in vo.itertuples():
        assert row.vif == pytest.approx(ref.loc[row.rhs, row.lhs], abs=1e-3)
    # HTMT is defined for reflective constructs only (ADANCO leaves the sheet empty)
    assert r.htmt.empty


def test_exact_fit_quantiles_close_to_adanco(fitted_cf):
    """HI95/HI99 are bootstrap quantiles: ours (seeded) and ADANCO's differ by Monte Carlo error only."""
    r = fitted_cf
    t = exact_fit_test(r.model, r.data.values, r.estimates, n=999, seed=14,
                       estimate_options=dict(scheme="factorial", consistent=True, tol=1e-6))
    for sheet, kind in (("goodness_of_model_fit_saturate", "saturated"), ("goodness_of_model_fit_estimate", "estimated")):
        ref = grid("cf_model", sheet)
        for q in ("HI95", "HI99"):
            np.testing.assert_allclose(t[kind][q], ref[q].loc[["SRMR", "dULS", "dG"]].values,
                                       rtol=0.05 if q == "HI95" else 0.15)
        assert t[kind]["n_ok"] > 900
    again = exact_fit_test(r.model, r.data.values, r.estimates, n=999, seed=14,
                           estimate_options=dict(scheme="factorial", consistent=True, tol=1e-6))
    np.testing.assert_array_equal(again["estimated"]["HI95"], t["estimated"]["HI95"])
    tab = fit_measures_table(r.model, r.S, r.estimates, test=t)
    assert list(tab.columns) == ["measure", "model", "value", "HI95", "HI99"]


# ----------------------------------------------------------------------------- bad input
def test_bad_input_is_named(adanco_cf):
    m, S = adanco_cf["model"], adanco_cf["S"]
    with pytest.raises(ModelError, match=r"\(27 x 27\)"):
        cronbach_alpha(m, S[:5, :5])
    with pytest.raises(ModelError, match="'NOPE' is not a construct"):
        htmt(m, S, constructs=["IMAG", "NOPE"])
    with pytest.raises(ModelError, match="loadings must be"):
        rho_c(m, np.ones((3, 3)))
    with pytest.raises(ModelError, match="n=5"):
        exact_fit_test(m, np.zeros((10, 27)), None, n=5)
    with pytest.raises(ModelError, match="parse_model"):
        layout_of(object())
    Ssing = S.copy()
    Ssing[1, :] = Ssing[0, :]
    Ssing[:, 1] = Ssing[:, 0]
    with pytest.raises(ModelError, match="'IMAG'.*collinear"):
        vif_outer(m, Ssing)


def test_interaction_models_have_no_fit_measures():
    m = parse_model("X =~ x1 + x2; Z =~ z1 + z2; Y =~ y1 + y2; Y ~ X + Z + X:Z")
    with pytest.raises(ModelError, match="interaction"):
        fit_measures_table(m, None, None)


def test_htmt_stack_and_table_with_draws(adanco_cf):
    m, S = adanco_cf["model"], adanco_cf["S"]
    rng = np.random.default_rng(0)
    noise = rng.normal(scale=0.01, size=(20, 27, 27))
    stack = S + (noise + np.swapaxes(noise, 1, 2)) / 2
    Hs = htmt(m, stack)
    assert Hs.shape == (20, 6, 6)
    np.testing.assert_allclose(Hs[3], htmt(m, stack[3]))
    tab = htmt_table(m, S, draws=stack)
    assert len(tab) == 15 and {"ci.lower", "ci.upper", "se"} <= set(tab.columns)
    assert (tab["ci.lower"] <= tab["ci.upper"]).all()


def test_single_item_and_mixed_models():
    lay = Layout(("A", "B"), ("a1", "a2", "b"), np.array([[1, 1, 0], [0, 0, 1]], bool), np.zeros(2, bool),
                 np.array([[0, 0], [1, 0]], bool))
    S = np.array([[1, .5, .3], [.5, 1, .4], [.3, .4, 1]])
    assert cronbach_alpha(lay, S)[1] == 1.0
    assert htmt(lay, S)[0, 1] == pytest.approx(0.35 / np.sqrt(0.5))
    assert ave(lay, np.array([[.8, 0], [.7, 0], [0, 1]]))[1] == 1.0
    rel = reliability_table(lay, S, np.array([[.8, 0], [.7, 0], [0, 1]]), np.array([.7, 1]))
    assert rel["items"].tolist() == [2, 1]


def test_admissible_flags_heywood_cases_and_non_convergence():
    class E:
        converged = np.array([True, True, False])
        loadings = np.stack([np.full((2, 1), .5), np.full((2, 1), 1.2), np.full((2, 1), .5)])
    assert admissible(E()).tolist() == [True, False, False]


def test_fit_cross_loadings_and_vif_match_adanco(fitted_cf):
    ref = grid("cf_model", "cross_loadings").loc[list(fitted_cf.model.columns), CONSTRUCTS]
    np.testing.assert_allclose(fitted_cf.cross_loadings.loc[ref.index, CONSTRUCTS].to_numpy(), ref.to_numpy(),
                               atol=1e-4)
    vo = fitted_cf.vif_outer
    vref = grid("cf_model", "indicator_multicollinearity")
    for row in vo.itertuples():
        assert row.vif == pytest.approx(vref.loc[row.rhs, row.lhs], abs=1e-3)


def test_reliability_and_htmt_match_seminr_on_ecsi():
    """seminr's Python port (dev dependency) on the ECSI mobi model, plain PLS, path scheme."""
    seminr = pytest.importorskip("seminr")
    from seminr.evaluate.reliability import rhoC_AVE

    mobi = pd.read_csv(Path(__file__).parent / "data" / "ecsi" / "mobi.csv")
    blocks = {"IMAG": ["IMAG1", "IMAG2", "IMAG3", "IMAG4", "IMAG5"], "CUEX": ["CUEX1", "CUEX2", "CUEX3"],
              "PERQ": [f"PERQ{i}" for i in range(1, 8)], "PERV": ["PERV1", "PERV2"],
              "CUSA": ["CUSA1", "CUSA2", "CUSA3"], "CUSCO": ["CUSCO"], "CUSL": ["CUSL1", "CUSL2", "CUSL3"]}
    paths = [("IMAG", "CUEX"), ("CUEX", "PERQ"), ("CUEX", "PERV"), ("PERQ", "PERV"), ("IMAG", "CUSA"),
             ("CUEX", "CUSA"), ("PERQ", "CUSA"), ("PERV", "CUSA"), ("CUSA", "CUSCO"), ("IMAG", "CUSL"),
             ("CUSA", "CUSL"), ("CUSCO", "CUSL")]
    mm = seminr.constructs(*[seminr.composite(c, items) for c, items in blocks.items()])
    sm = seminr.relationships(*[seminr.paths(from_=a, to=b) for a, b in paths])
    ref = seminr.estimate_pls(mobi, mm, sm)
    deps: dict = {}
    for a, b in paths:
        deps.setdefault(b, []).append(a)
    syntax = "\n".join([f"{c} =~ {' + '.join(i)}" for c, i in blocks.items()]
                       + [f"{d} ~ {' + '.join(p)}" for d, p in deps.items()])
    r = pls_fit(syntax, mobi)
    rel = r.reliability.set_index("construct").loc[list(blocks)]
    rc = np.asarray(rhoC_AVE(ref).values)
    np.testing.assert_allclose(rel["rho_c"], rc[:, 0], atol=1e-8)
    np.testing.assert_allclose(rel["ave"], rc[:, 1], atol=1e-8)
    np.testing.assert_allclose(rel["alpha"], np.asarray(seminr.cronbachs_alpha(ref).values).ravel(), atol=1e-8)
    H = np.asarray(seminr.htmt(ref).values)
    names = list(blocks)
    # seminr averages absolute correlations (CUSL2 correlates negatively with some items)
    ours = htmt_table(r.model, r.S, absolute_correlations=True)
    for row in ours.itertuples():
        i, j = sorted((names.index(row.lhs), names.index(row.rhs)))
        assert row.est == pytest.approx(H[i, j], abs=1e-8)
    plain = r.htmt.set_index(["lhs", "rhs"])["est"]
    assert plain[("CUSL", "PERQ")] < ours.set_index(["lhs", "rhs"])["est"][("CUSL", "PERQ")] - 0.03
    same = [(a, b) for a, b in plain.index if "CUSL" not in (a, b)]
    np.testing.assert_allclose(plain[same], ours.set_index(["lhs", "rhs"])["est"][same], atol=1e-12)

"""Problems are reported, never hidden: Heywood cases, identification, bad data, the CLI."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from crm_research import sem
from crm_research.cli import main
from crm_research.errors import ModelError, ModelSyntaxError

REF = Path(__file__).parent / "reference" / "lavaan"
HS = pd.read_csv(REF / "HolzingerSwineford1939.csv")
CFA = (REF / "hs_cfa.lav").read_text()


def test_heywood_case_warns_about_negative_variance_and_loading_above_one():
    res = sem.fit("f =~ y1 + y2 + y3 + y4", pd.read_csv(REF / "heywood.csv"))
    assert res.converged
    assert res.get("y1", "~~", "y1")["est"] < 0
    text = " ".join(res.warnings)
    assert "negative residual variance" in text and "y1" in text
    assert "beyond +/-1" in text and "f =~ y1" in text
    assert "Warnings:" in res.summary() and "Heywood" in res.summary()
    assert "Heywood" in res._repr_html_()


def test_negative_latent_variance_is_reported():
    # correlations that force a negative latent variance: indicators of one factor correlate
    # negatively with each other but the model has all loadings positive-fixed
    rng = np.random.default_rng(1)
    z = rng.standard_normal((300, 1))
    x = np.hstack([z + rng.standard_normal((300, 1)) * 0.5, -z + rng.standard_normal((300, 1)) * 0.5,
                   rng.standard_normal((300, 1))])
    d = pd.DataFrame(x, columns=["a", "b", "c"])
    res = sem.fit("f =~ 1*a + 1*b + 1*c", d)
    assert res.get("f", "~~", "f")["est"] < 0
    assert any("latent variable" in w and "negative" in w for w in res.warnings)


def test_negative_df_is_an_error():
    with pytest.raises(ModelError, match=r"not identified.*df = -1"):
        sem.fit("f =~ x1 + x2", HS)


def test_unidentified_model_warns_and_gives_no_standard_errors():
    # the marker is freed but the factor variance is not fixed: scale not identified
    res = sem.fit("visual =~ NA*x1 + x2 + x3\ntextual =~ x4 + x5 + x6", HS)
    assert any("not identified" in w and "singular" in w for w in res.warnings)
    free = res.estimates[res.estimates["op"] == "=~"]
    assert free["se"].isna().sum() >= 5 and res.vcov is None


def test_missing_variables_are_named():
    with pytest.raises(ModelError) as e:
        sem.fit("f =~ x1 + x2 + x3 + X4 + q9", HS)
    assert "X4" in str(e.value) and "q9" in str(e.value) and "x4" in str(e.value)  # suggestion


def test_non_numeric_columns_are_named():
    with pytest.raises(ModelError, match="'school' is not numeric.*Pasteur"):
        sem.fit("f =~ x1 + x2 + school", HS)
    ok = HS.assign(x3=HS["x3"].astype(str))   # numbers stored as text are fine
    assert sem.fit("f =~ x1 + x2 + x3", ok).converged


def test_singular_sample_covariance_is_an_error():
    d = HS.assign(x10=HS["x1"] + HS["x2"])
    with pytest.raises(ModelError, match="not positive definite"):
        sem.fit("f =~ x1 + x2 + x10 + x3", d)
    with pytest.raises(ModelError, match="zero variance.*c"):
        sem.fit("f =~ x1 + x2 + c", HS.assign(c=1.0))


def test_listwise_deletion_is_reported():
    res = sem.fit("visual =~ x1 + x2 + x3\nvisual ~ grade", HS)
    assert res.nobs == 300 and res.n_dropped == 1
    assert "dropped 1 incomplete row" in res.summary()
    assert res.fit_measures["ntotal"] == 300


def test_group_errors():
    with pytest.raises(ModelError, match="group column 'nope'"):
        sem.fit(CFA, HS, group="nope")
    with pytest.raises(ModelError, match="group_equal"):
        sem.fit(CFA, HS, group="school", group_equal=["loading"])
    with pytest.raises(ModelError, match="multiple-group"):
        sem.fit(CFA, HS, group_equal=["loadings"])


def test_data_must_be_a_dataframe():
    with pytest.raises(ModelError, match="DataFrame"):
        sem.fit(CFA, HS.to_numpy())


def test_syntax_error_from_fit():
    with pytest.raises(ModelSyntaxError, match="line 2"):
        sem.fit("visual =~ x1 + x2 + x3\nvisual =~~ x4", HS)


def test_random_exogenous_note_like_lavaan():
    res = sem.fit("x4 ~ x1 + x2\nx1 ~~ x1", HS)
    assert any("treated as random" in w for w in res.warnings)


def test_clean_model_has_no_warnings_and_a_full_summary():
    res = sem.fit((REF / "hs_mediation.lav").read_text(), HS)
    assert res.warnings == []
    text = res.summary()
    for part in ("chi2(24) = 85.306, p < .001", "CFI = 0.931, TLI = 0.896",
                 "RMSEA = 0.092, 90% CI [0.071, 0.114]", "SRMR = 0.065", "Latent Variables:", "Regressions:",
                 "Variances:", "Defined Parameters:", "visual (a)", "indirect"):
        assert part in text, part
    assert "<table" in res._repr_html_()
    assert res.get("speed", "~", "textual")["label"] == "b"


# ------------------------------------------------------------------------------- CLI
def test_cli_fit_writes_estimates_and_refuses_to_overwrite(tmp_path, capsys):
    out = tmp_path / "est.csv"
    code = main(["fit", str(REF / "hs_cfa.lav"), str(REF / "HolzingerSwineford1939.csv"), "-o", str(out)])
    assert code == 0
    printed = capsys.readouterr().out
    assert "chi2(24) = 85.306" in printed
    est = pd.read_csv(out)
    assert {"lhs", "op", "rhs", "est", "se", "std.all"} <= set(est.columns) and len(est) == 24
    fm = json.loads((tmp_path / "est_fit.json").read_text())["fit_measures"]
    assert round(fm["cfi"], 3) == 0.931
    assert main(["fit", str(REF / "hs_cfa.lav"), str(REF / "HolzingerSwineford1939.csv"), "-o", str(out)]) == 2
    assert "exists" in capsys.readouterr().err


def test_cli_errors_are_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.lav"
    bad.write_text("f =~ x1 + x2 + x3\nx1 | t1\n")
    assert main(["fit", str(bad), str(REF / "HolzingerSwineford1939.csv")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: model syntax line 2") and "Traceback" not in err
    assert main(["fit", str(REF / "hs_cfa.lav"), str(tmp_path / "none.csv")]) == 2


def test_cli_bootstrap(capsys):
    code = main(["fit", str(REF / "hs_mediation.lav"), str(REF / "HolzingerSwineford1939.csv"),
                 "--bootstrap", "50", "--seed", "1", "--jobs", "1"])
    assert code == 0
    assert "bootstrap (R = 50" in capsys.readouterr().out


def test_non_convergence_is_reported(monkeypatch):
    from crm_research.sem import fitting
    from crm_research.sem.estimate import Optimum, start_values

    def fake_estimate(model, stats, theta0=None):
        th = start_values(model, stats)
        return Optimum(th, model.objective(th, stats), False, 500, "newton", 0.3, ["no convergence in 500 iterations"])

    monkeypatch.setattr(fitting, "estimate", fake_estimate)
    res = sem.fit(CFA, HS)
    assert not res.converged
    assert any("did not converge" in w and "NOT reliable" in w for w in res.warnings)
    assert "DID NOT CONVERGE" in res.summary()
    with pytest.raises(ModelError, match="did not converge"):
        sem.fit(CFA, HS, se="bootstrap", bootstrap=10)


def test_negative_sampling_variances_give_nan_standard_errors_with_a_warning(monkeypatch):
    """An indefinite information matrix: a parameter whose sampling variance comes out
    negative gets SE NaN (never 0.0, the SE of a fixed parameter) and a warning naming it."""
    from crm_research.sem import fitting
    from crm_research.sem.model import RAMModel

    good = sem.fit(CFA, HS)
    orig = RAMModel.score_information

    def indefinite(self, theta, stats, need_grad=True):
        g, info, F = orig(self, theta, stats, need_grad)
        w, Q = np.linalg.eigh(info)
        w[0] = -w[0]                       # flip the smallest eigenvalue: indefinite information
        return g, (Q * w) @ Q.T, F

    monkeypatch.setattr(RAMModel, "score_information", indefinite)
    monkeypatch.setattr(fitting, "information_check", lambda info: (True, 1.0))
    res = sem.fit(CFA, HS)
    est, ref = res.estimates, good.estimates
    free = ref["se"] > 0
    neg = np.diag(res.vcov.to_numpy()) < 0
    assert neg.any() and not neg.all()
    bad = est[free & est["se"].isna()]
    assert len(bad) == neg.sum()
    assert bad[["z", "pvalue", "ci.lower", "ci.upper"]].isna().all().all()
    assert not (est.loc[free, "se"] == 0).any()          # no free parameter passes for fixed
    assert (est.loc[~free, "se"] == 0).all()             # fixed parameters keep SE 0
    ok = free & est["se"].notna()
    assert np.isfinite(est.loc[ok, "se"]).all() and ok.any()
    text = " ".join(res.warnings)
    assert f"sampling variance of {neg.sum()} parameter(s) is negative" in text
    name = res.vcov.index[np.argmax(neg)]
    assert name in text
    assert np.allclose(est["est"], ref["est"])           # estimates untouched

"""The published CDNOW values (clv.published) and the replication table that notebook 08 shows.

The literature values are typed here once more, from the papers (Fader, Hardie & Lee 2005,
table 1 / section 5; Fader & Hardie 2013), so that a typo in the package's copy cannot pass."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from crm_research import clv
from crm_research.errors import ConfigError, ModelError

PAPERS = {("BG/NBD", "r"): 0.243, ("BG/NBD", "alpha"): 4.414, ("BG/NBD", "a"): 0.793, ("BG/NBD", "b"): 2.426,
          ("BG/NBD", "LL"): -9582.4, ("Pareto/NBD", "r"): 0.553, ("Pareto/NBD", "alpha"): 10.578,
          ("Pareto/NBD", "s"): 0.606, ("Pareto/NBD", "beta"): 11.669, ("Pareto/NBD", "LL"): -9595.0,
          ("Gamma-Gamma", "p"): 6.25, ("Gamma-Gamma", "q"): 3.74, ("Gamma-Gamma", "gamma"): 15.44}


@pytest.fixture(scope="module")
def fits():
    cal = clv.rfm_summary(clv.read_cdnow(), calibration_end="1997-09-30", freq="W")
    return clv.fit_bgnbd(cal), clv.fit_pareto_nbd(cal), clv.fit_gamma_gamma(cal)


def test_published_values_are_the_papers():
    t = clv.cdnow_published()
    got = {(m, p): v for m, p, v in zip(t["model"], t["param"], t["published"])}
    assert got == PAPERS
    assert t.set_index(["model", "param"]).loc[("Pareto/NBD", "LL"), "decimals"] == 1
    assert t.set_index(["model", "param"]).loc[("Gamma-Gamma", "gamma"), "decimals"] == 2


def test_replication_table_on_cdnow(fits):
    t = clv.replication_table(fits)
    assert list(t.columns) == ["model", "param", "est", "se", "ci.lower", "ci.upper", "published", "diff"]
    assert t.attrs["ci.level"] == 0.95 and t.attrs["replicated"] is True
    assert len(t) == 4 + 1 + 4 + 1 + 3 + 1                      # parameters and one LL row per model
    pub = t.dropna(subset=["published"])
    assert {(m, p) for m, p in zip(pub["model"], pub["param"])} == set(PAPERS)
    assert (pub["diff"] == 0).all()
    ll = t.set_index(["model", "param"]).loc[("BG/NBD", "LL")]
    assert ll["est"] == pytest.approx(fits[0].loglik) and np.isnan(ll["se"])
    # the Gamma-Gamma LL has no published value: NaN, not 0
    assert np.isnan(t.set_index(["model", "param"]).loc[("Gamma-Gamma", "LL"), "diff"])


def test_replication_table_reports_a_miss(fits):
    wrong = dict(clv.CDNOW_PUBLISHED)
    wrong[("BG/NBD", "r")] = "0.250"
    t = clv.replication_table(fits, wrong)
    assert t.attrs["replicated"] is False
    row = t.set_index(["model", "param"]).loc[("BG/NBD", "r")]
    assert row["diff"] == pytest.approx(0.243 - 0.250)


def test_replication_table_without_published_values(fits):
    t = clv.replication_table(fits[:1], {}, loglik=False)
    assert list(t["param"]) == ["r", "alpha", "a", "b"] and t["published"].isna().all()
    assert t.attrs["replicated"] is False


def test_replication_table_bad_input(fits):
    with pytest.raises(ModelError, match="fitted CLV models"):
        clv.replication_table([pd.DataFrame()])
    with pytest.raises(ModelError, match="fitted CLV models"):
        clv.replication_table([])
    with pytest.raises(ModelError, match="not a number"):
        clv.replication_table(fits, {("BG/NBD", "r"): "about .24"})


def test_holdout_dates_default_split_and_bad_input():
    # the CDNOW log: 1997-01-01 to 1998-06-30 -> midpoint 1997-09-30 12:00
    assert clv.holdout_dates("1997-01-01", "1998-06-30") == ("1997-09-30", "1998-06-30")
    assert clv.holdout_dates("1997-01-01", "1998-06-30", "1997-06-30", "1998-01-31") == ("1997-06-30", "1998-01-31")
    with pytest.raises(ConfigError, match="observation_end"):
        clv.holdout_dates("1997-01-01", "1998-06-30", observation_end="not a date")


def test_convergence_warning(fits):
    assert all(f.convergence_warning == "" for f in fits)
    import dataclasses
    stuck = dataclasses.replace(fits[1], converged=False, message="iteration limit")
    assert "Pareto/NBD did not converge (iteration limit)" in stuck.convergence_warning

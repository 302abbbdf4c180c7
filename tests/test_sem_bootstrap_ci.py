"""Bootstrap intervals of every lavaan type (perc, bca.simple, bca, norm, basic) against
lavaan 0.6-14, recomputed from lavaan's own replicates and resample frequencies
(tests/reference/lavaan/boot_*.json and boot_*_freq.csv.gz, made by
make_references_diagnostics.R), and the intervals of sem.fit(se="bootstrap", boot_ci=...)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from crm_research import sem
from crm_research.errors import ModelError
from crm_research.sem.bootstrap import BOOT_CI_TYPES, acceleration, interval
from crm_research.sem.partable import build_partable
from crm_research.sem.syntax import parse_syntax

REF = Path(__file__).parent / "reference" / "lavaan"
HS = REF / "HolzingerSwineford1939.csv"


def _case(name):
    ref = json.loads((REF / f"{name}.json").read_text())
    boot = np.asarray(ref["boot"], dtype=float)
    freq = np.loadtxt(REF / f"{name}_freq.csv.gz", delimiter=",", dtype=int)
    ngroups = 2 if ref.get("group") else 1
    pt = build_partable(parse_syntax((REF / f"{ref['model']}.lav").read_text()), ngroups=ngroups,
                        group_equal=[ref["group_equal"]] if ref.get("group_equal") else ())
    return ref, boot, freq, pt


@pytest.mark.parametrize("name", ["boot_hs_mediation", "boot_hs_mg_metric"])
@pytest.mark.parametrize("kind", BOOT_CI_TYPES)
def test_intervals_from_lavaan_replicates(name, kind):
    ref, boot, freq, pt = _case(name)
    assert boot.shape[0] == ref["n_ok"] == freq.shape[0]
    first = np.asarray(ref["first_case"], dtype=int) - 1          # lavaan's FREQ[, -first.idx]
    fr = np.delete(freq, first, axis=1)
    est = pd.DataFrame(ref["estimates"])
    ci = pd.DataFrame(ref["ci"][kind])
    f = pt.frame[pt.frame["op"] != ":="].reset_index(drop=True)
    free_rows = np.where(f["free"].to_numpy() > 0)[0]             # lavaan's x: one column per free row
    assert len(free_rows) == boot.shape[1]
    acc = acceleration(boot, fr) if kind == "bca" else np.zeros(boot.shape[1])
    for j, k in enumerate(free_rows):
        lo, hi = interval(kind, boot[:, j], float(est["est"].iat[k]), 0.95, a=float(acc[j]))
        assert lo == pytest.approx(float(ci["ci.lower"].iat[k]), abs=1e-8, rel=1e-8)
        assert hi == pytest.approx(float(ci["ci.upper"].iat[k]), abs=1e-8, rel=1e-8)
    # fixed rows: the estimate itself
    fixed = np.where(f["free"].to_numpy() == 0)[0]
    assert np.allclose(ci["ci.lower"].to_numpy(float)[fixed], est["est"].to_numpy(float)[fixed])
    # defined parameters: the definition applied to every replicate
    defined = pt.defined()
    if len(defined):
        dv = defined.values(boot)
        dacc = acceleration(dv, np.delete(freq, [0], axis=1)) if kind == "bca" else np.zeros(dv.shape[1])
        center = defined.values(boot.mean(axis=0))
        x0 = defined.values(boot[0] * 0 + est["est"].to_numpy(float)[free_rows])
        for j, nm in enumerate(defined.names):
            k = int(np.where(est["lhs"].to_numpy() == nm)[0][0])
            lo, hi = interval(kind, dv[:, j], float(x0[j]), 0.95, a=float(dacc[j]), center=float(center[j]), ddof=1)
            assert lo == pytest.approx(float(ci["ci.lower"].iat[k]), abs=1e-8, rel=1e-8)
            assert hi == pytest.approx(float(ci["ci.upper"].iat[k]), abs=1e-8, rel=1e-8)


def test_acceleration_is_not_trivial():
    ref, boot, freq, _ = _case("boot_hs_mediation")
    a = acceleration(boot, np.delete(freq, [0], axis=1))
    assert np.all(np.isfinite(a)) and np.abs(a).max() > 1e-3 and np.abs(a).max() < 0.5


@pytest.fixture(scope="module")
def hs():
    return pd.read_csv(HS)


MED = (REF / "hs_mediation.lav").read_text()


@pytest.mark.parametrize("kind", BOOT_CI_TYPES)
def test_fit_boot_ci_types(hs, kind):
    res = sem.fit(MED, hs, se="bootstrap", bootstrap=400, seed=7, n_jobs=1, boot_ci=kind)
    assert res.bootstrap.ci_type == kind
    est = res.estimates
    ind = est[est["lhs"] == "indirect"].iloc[0]
    assert ind["ci.lower"] < ind["est"] < ind["ci.upper"]
    if kind == "perc":
        assert ind["ci.lower"] == ind["boot.perc.lower"]
    if kind == "bca.simple":
        assert ind["ci.lower"] == ind["boot.bc.lower"]
    if kind == "basic":   # mirror image of the percentile interval around the estimate
        assert ind["ci.lower"] == pytest.approx(2 * ind["est"] - ind["boot.perc.upper"])
    if kind == "norm":
        assert ind["ci.upper"] - ind["ci.lower"] == pytest.approx(2 * 1.959964 * ind["se"], rel=1e-5)  # := SE: ddof=1 as lavaan


def test_bca_same_for_any_n_jobs(hs):
    a = sem.fit(MED, hs, se="bootstrap", bootstrap=400, seed=3, n_jobs=1, boot_ci="bca")
    b = sem.fit(MED, hs, se="bootstrap", bootstrap=400, seed=3, n_jobs=2, boot_ci="bca")
    assert np.array_equal(a.estimates["ci.lower"].to_numpy(), b.estimates["ci.lower"].to_numpy(), equal_nan=True)


def test_bca_needs_more_replicates_than_observations(hs):
    with pytest.raises(ModelError, match="bca"):
        sem.fit(MED, hs, se="bootstrap", bootstrap=100, seed=1, boot_ci="bca")


def test_unknown_boot_ci(hs):
    with pytest.raises(ModelError, match="boot_ci"):
        sem.fit(MED, hs, se="bootstrap", bootstrap=50, seed=1, boot_ci="studentized")

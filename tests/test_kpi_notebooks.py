"""The KPI-framework (07) and CLV (08) notebooks: committed clean and parameterized, and they
execute end to end under papermill (kernel python3) on small simulated data, on a user's
CSV files and on the CDNOW sample, recording their headline figures and ending with the
provenance block. 08 must reproduce the published CDNOW estimates, also when the raw
transactions come in as an ordinary orders CSV through the validated loader.

Each run takes 5-10 s (kernel start and imports included).
"""
from __future__ import annotations

import json
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
KPI_NB, CLV_NB = "07_kpi_framework.ipynb", "08_clv.ipynb"

PARAMS = {
    KPI_NB: ["orders_file", "sessions_file", "policy", "n_customers", "seed", "as_of", "period", "before_start",
             "before_end", "after_start", "after_end", "top", "alpha"],
    CLV_NB: ["orders_file", "policy", "calibration_end", "observation_end", "freq", "horizon", "discount_rate",
             "synthetic", "n_customers", "seed", "top"],
}
#: published CDNOW estimates (Fader, Hardie & Lee 2005; Fader & Hardie 2013), at their precision
PUBLISHED = {"bgnbd_r": (0.243, 3), "bgnbd_alpha": (4.414, 3), "bgnbd_a": (0.793, 3), "bgnbd_b": (2.426, 3),
             "bgnbd_ll": (-9582.4, 1), "pnbd_r": (0.553, 3), "pnbd_alpha": (10.578, 3), "pnbd_s": (0.606, 3),
             "pnbd_beta": (11.669, 3), "pnbd_ll": (-9595.0, 1), "gg_p": (6.25, 2), "gg_q": (3.74, 2),
             "gg_gamma": (15.44, 2)}
KPI_RECORDS = {"data_origin", "n_customers", "n_orders", "as_of", "retention_1", "retention_3", "repurchase_30d",
               "repurchase_90d", "repurchase_180d", "returning_share", "at_risk_customers", "stage_new",
               "stage_churned", "stage_declining", "ba_repeat_buyers", "ba_repeat_buyers_p", "ba_orders_per_buyer",
               "ba_average_order_value"}


def _run(name: str, tmp_path: Path, monkeypatch, **parameters):
    """Execute a notebook with papermill as a batch run would, into tmp_path; return (notebook, records)."""
    import papermill as pm

    from crm_research.reporting.results import read_records

    run_dir = tmp_path / f"run-{name[:2]}"
    run_dir.mkdir()
    monkeypatch.setenv("CRM_RESEARCH_RUN_DIR", str(run_dir))   # the kernel inherits the environment
    out = run_dir / name
    pm.execute_notebook(str(NOTEBOOKS / name), str(out), parameters=parameters, kernel_name="python3",
                        cwd=str(NOTEBOOKS), progress_bar=False)
    nb = nbformat.read(str(out), as_version=4)
    return nb, {r["key"]: r["value"] for r in read_records(run_dir)}


def _text(nb, cells=None) -> str:
    parts = []
    for c in (nb.cells if cells is None else cells):
        for o in c.get("outputs", []):
            parts.append(json.dumps(o.get("data", {}), ensure_ascii=False))
            t = o.get("text", "")
            parts.append(t if isinstance(t, str) else "".join(t))
    return "\n".join(parts)


def _check_common(nb):
    from crm_research.reporting.export import find_personal_data

    assert not [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert "Traceback" not in _text(nb)
    last = nb.cells[-1]
    assert last.cell_type == "code" and "crm-provenance" in _text(nb, [last])
    assert find_personal_data(nb) == []


# --------------------------------------------------------------------------- committed files
@pytest.mark.parametrize("name", [KPI_NB, CLV_NB])
def test_committed_notebook_is_clean_and_parameterized(name):
    import papermill as pm

    from crm_research.batch.config import notebook_parameters

    nb = nbformat.read(str(NOTEBOOKS / name), as_version=4)
    nbformat.validate(nb)
    assert nb.nbformat == 4 and nb.metadata.kernelspec.name == "python3"
    assert all(not c.get("outputs") and c.get("execution_count") is None for c in nb.cells if c.cell_type == "code")
    assert len([c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]) == 1
    first = nb.cells[0]
    assert first.cell_type == "markdown" and first.source.startswith("# ")
    assert ("R2" in first.source) if name == KPI_NB else ("Fader, Hardie & Lee" in first.source)
    assert "provenance" in nb.cells[-1].source
    declared = notebook_parameters(NOTEBOOKS / name)
    assert list(declared) == PARAMS[name]
    assert declared["orders_file"].default == "None"
    assert set(pm.inspect_notebook(str(NOTEBOOKS / name))) == set(PARAMS[name])


# --------------------------------------------------------------------------- 07 KPI framework
@pytest.mark.slow
def test_kpi_notebook_on_simulated_platform(tmp_path, monkeypatch):
    nb, rec = _run(KPI_NB, tmp_path, monkeypatch, n_customers=600, seed=11)
    _check_common(nb)
    assert KPI_RECORDS <= set(rec), sorted(KPI_RECORDS - set(rec))
    assert rec["data_origin"] == "simulated" and rec["n_customers"] == 600   # every simulated customer orders
    assert rec["as_of"] == "2023-12-31"                                         # last order of the default horizon
    for k in ("retention_1", "retention_3", "repurchase_30d", "repurchase_90d", "repurchase_180d", "returning_share",
              "stickiness"):
        assert 0 <= rec[k] <= 1, k
    shares = [rec[f"stage_{s}"] for s in ("new", "growing", "mature", "declining", "churned", "reactivated")]
    assert sum(shares) == pytest.approx(1.0, abs=1e-9)
    text = _text(nb)
    assert "descriptive" in text.lower() and "control group" in text
    assert "Churn early-warning list: top 20" in text and "P(alive)" in text
    assert "Stage transitions" in text and "KPIs by product lifecycle stage" in text
    assert text.count("image/png") >= 5                                         # heatmap, repurchase, activity, RFM, stages


@pytest.mark.slow
def test_kpi_notebook_on_user_files_matches_hand_computation(tmp_path, monkeypatch):
    from crm_research.simulate import simulate_transactions

    log = simulate_transactions(400, seed=5)
    orders_csv, sessions_csv = tmp_path / "orders.csv", tmp_path / "sessions.csv"
    log.orders.to_csv(orders_csv, index=False)
    log.sessions.to_csv(sessions_csv, index=False)
    b0, b1, a0, a1 = "2023-03-01", "2023-05-31", "2023-09-01", "2023-11-30"
    nb, rec = _run(KPI_NB, tmp_path, monkeypatch, orders_file=str(orders_csv), sessions_file=str(sessions_csv),
                   period="week", as_of="2023-12-15", before_start=b0, before_end=b1, after_start=a0, after_end=a1)
    _check_common(nb)
    assert rec["data_origin"] == "file" and rec["n_orders"] == len(log.orders)
    assert rec["as_of"] == "2023-12-15"

    # the before/after differences, computed by hand from the CSV with pandas
    o = pd.read_csv(orders_csv, parse_dates=["timestamp"])
    o["day"] = o["timestamp"].dt.normalize()
    first = o.groupby("customer_id")["day"].min()

    def window(s, e):
        w = o[(o["day"] >= s) & (o["day"] <= e)]
        g = w.groupby("customer_id").agg(orders=("order_id", "nunique"), spend=("amount", "sum"))
        g["returning"] = first.reindex(g.index) < pd.Timestamp(s)
        return g

    B, A = window(b0, b1), window(a0, a1)
    assert rec["ba_orders_per_buyer"] == pytest.approx(A["orders"].mean() - B["orders"].mean(), abs=1e-9)
    assert rec["ba_repeat_buyers"] == pytest.approx((A["orders"] >= 2).mean() - (B["orders"] >= 2).mean(), abs=1e-9)
    assert rec["ba_returning_buyers"] == pytest.approx(A["returning"].mean() - B["returning"].mean(), abs=1e-9)
    aov = lambda g: (g["spend"] / g["orders"]).mean()
    assert rec["ba_average_order_value"] == pytest.approx(aov(A) - aov(B), rel=1e-9)
    text = _text(nb)
    assert "2023-03-01" in text and "2023-11-30" in text and "N-week retention" in text
    assert "orders.csv" in text and "sha256" in text                            # provenance names the inputs


@pytest.mark.slow
def test_kpi_notebook_stops_on_a_bad_orders_file(tmp_path, monkeypatch):
    import papermill as pm

    bad = tmp_path / "orders.csv"
    pd.DataFrame({"customer_id": [1, 2, 3], "order_id": [10, 11, 12],
                  "timestamp": ["2023-01-05", "2023-01-06", "2023-01-07"], "amount": [10.0, -4.0, 7.5]}).to_csv(bad, index=False)
    with pytest.raises(pm.PapermillExecutionError) as e:
        _run(KPI_NB, tmp_path, monkeypatch, orders_file=str(bad))
    msg = str(e.value)
    assert "orders.csv" in msg and "-4" in msg and "DataFileError" in msg


# --------------------------------------------------------------------------- 08 CLV
@pytest.mark.slow
def test_clv_notebook_replicates_cdnow_and_runs_the_synthetic_platform(tmp_path, monkeypatch):
    nb, rec = _run(CLV_NB, tmp_path, monkeypatch, synthetic=True, n_customers=1000, seed=7)
    _check_common(nb)
    assert rec["n_customers"] == 2357 and rec["data_origin"] == "CDNOW sample"
    for key, (value, digits) in PUBLISHED.items():
        assert round(rec[key], digits) == pytest.approx(value, abs=1e-9), key
    assert rec["cdnow_replicated"] is True
    text = _text(nb)
    assert "CDNOW replication: our estimates and the published values" in text and "**Replicated:**" in text
    assert "Top 20 customers by CLV (ids only)" in text
    assert "master_id" not in text                                               # only the sample ids are shown
    assert rec["clv_total"] > 0 and 0.2 < rec["clv_top20_share"] <= 1
    assert -0.5 < rec["holdout_error_bgnbd"] < 0.5
    assert "Simulated platform" in text and "synthetic_gg_p" in rec
    assert np.isfinite(rec["synthetic_pnbd_r"]) and rec["synthetic_pnbd_r"] > 0
    assert text.count("image/png") >= 4


@pytest.mark.slow
def test_clv_notebook_on_an_orders_csv_reaches_the_published_estimates(tmp_path, monkeypatch):
    from crm_research import clv

    raw = clv.read_cdnow()
    csv = tmp_path / "cdnow_orders.csv"
    (raw.assign(order_id=np.arange(1, len(raw) + 1))[["customer_id", "order_id", "timestamp", "amount"]]
        .to_csv(csv, index=False))
    nb, rec = _run(CLV_NB, tmp_path, monkeypatch, orders_file=str(csv), calibration_end="1997-09-30",
                   observation_end="1998-06-30", synthetic=False, horizon=6)
    _check_common(nb)
    assert rec["data_origin"] == "file" and rec["n_customers"] == 2357
    for key in ("bgnbd_r", "bgnbd_alpha", "bgnbd_a", "bgnbd_b", "gg_p", "gg_q", "gg_gamma"):
        value, digits = PUBLISHED[key]
        assert round(rec[key], digits) == pytest.approx(value, abs=1e-9), key
    assert "cdnow_replicated" not in rec                                          # no replication claim for a user file
    assert "Model estimates" in _text(nb)

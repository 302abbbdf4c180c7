"""Reference values for the MBG/NBD model from lifetimes' ModifiedBetaGeoFitter.

Independent of crm_research: the CDNOW 1/10 raw transactions (tests/data/cdnow/CDNOW_sample.txt)
are read with pandas, summarized with lifetimes' own ``summary_data_from_transaction_data``
(days / 7, calibration 1997-01-01..1997-09-30, as in Fader, Hardie & Lee 2005), and the
MBG/NBD model (Batislam, Gursoy & Dogan 2007) is fitted with lifetimes.

Run from the repository root::

    python tests/reference/clv/make_mbgnbd_reference.py

Writes tests/reference/clv/mbgnbd_cdnow_lifetimes.json.
"""
import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

warnings.filterwarnings("ignore")
import lifetimes  # noqa: E402
from lifetimes import ModifiedBetaGeoFitter  # noqa: E402
from lifetimes.utils import summary_data_from_transaction_data  # noqa: E402

HERE = Path(__file__).resolve().parent
RAW = HERE.parents[1] / "data" / "cdnow" / "CDNOW_sample.txt"

tx = pd.read_csv(RAW, sep=r"\s+", header=None, names=["master_id", "customer_id", "date", "cds", "amount"],
                 dtype={"date": str})
tx["date"] = pd.to_datetime(tx["date"], format="%Y%m%d")
cal = tx[tx["date"] <= "1997-09-30"]
s = summary_data_from_transaction_data(cal, "customer_id", "date", observation_period_end="1997-09-30",
                                       freq="D", freq_multiplier=7)
fit = ModifiedBetaGeoFitter().fit(s["frequency"], s["recency"], s["T"])
p = fit.params_
n = len(s)
# lifetimes minimizes the mean negative log-likelihood on rescaled times; evaluate its own likelihood
# function at its estimates in weeks, with unit weights, for the total log-likelihood
theta = np.log([p["r"], p["alpha"], p["a"], p["b"]])
loglik = -float(ModifiedBetaGeoFitter._negative_log_likelihood(
    theta, s["frequency"].to_numpy(), s["recency"].to_numpy(), s["T"].to_numpy(), np.ones(n), 0.0)) * n

# a few predictions at lifetimes' own estimates (for the prediction formulas, given the same parameters)
probe = pd.DataFrame({"frequency": [0.0, 0.0, 1.0, 2.0, 2.0, 7.0, 20.0],
                      "recency": [0.0, 0.0, 1.714286, 30.428571, 5.0, 29.428571, 37.0],
                      "T": [38.857143, 32.0, 38.857143, 38.857143, 38.857143, 38.857143, 38.0]})
out = {
    "source": "lifetimes.ModifiedBetaGeoFitter on the CDNOW 1/10 sample, calibration to 1997-09-30, weeks = days/7",
    "lifetimes_version": lifetimes.__version__,
    "n_customers": n,
    "n_one_time_buyers": int((s["frequency"] == 0).sum()),
    "params": {k: float(p[k]) for k in ["r", "alpha", "a", "b"]},
    "loglik": loglik,
    "probe": probe.to_dict(orient="list"),
    "p_alive": [float(v) for v in fit.conditional_probability_alive(probe["frequency"], probe["recency"], probe["T"])],
    "conditional_expected_39": [float(v) for v in fit.conditional_expected_number_of_purchases_up_to_time(
        39.0, probe["frequency"], probe["recency"], probe["T"])],
    "expected_t": [39.0, 78.0],
    "expected": [float(fit.expected_number_of_purchases_up_to_time(t)) for t in (39.0, 78.0)],
    "mean_p_alive_one_time_buyers": float(np.mean(fit.conditional_probability_alive(
        s["frequency"][s["frequency"] == 0], s["recency"][s["frequency"] == 0], s["T"][s["frequency"] == 0]))),
}
(HERE / "mbgnbd_cdnow_lifetimes.json").write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
print(json.dumps(out, indent=2))

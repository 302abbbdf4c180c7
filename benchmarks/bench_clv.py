"""Benchmark crm_research.clv against lifetimes, side by side.

1. RFM calibration/holdout summary from raw orders: ``clv.rfm_summary`` (DuckDB) vs.
   ``lifetimes.utils.calibration_and_holdout_data`` (pandas), on synthetic logs of growing
   size; wall time and peak resident memory, each measured in a fresh process.
2. Model fitting on the CDNOW summary and on a large synthetic summary: our MLE vs.
   lifetimes' fitters (BG/NBD, Pareto/NBD, Gamma-Gamma); wall time and the log-likelihood
   reached (higher is better; equal up to rounding means both found the maximum).
3. Pareto/NBD on 100,000 customers (target: at most 3 s): our fit (analytic gradient; best
   of ``--repeats`` runs, the machine is shared) vs. lifetimes' ``ParetoNBDFitter``, side by
   side: wall time, log-likelihood reached, estimates.
4. MBG/NBD as the churn KPI uses it: every customer of the 10M-order log (1.25M; frequency =
   purchase days - 1, recency and T in weeks) fitted, then P(alive) of all of them; ours (best
   of ``--repeats``) vs. lifetimes' ``ModifiedBetaGeoFitter``: wall and CPU time, log-likelihood,
   estimates, largest P(alive) difference.

Usage::

    .venv/bin/python benchmarks/bench_clv.py                 # default sizes
    .venv/bin/python benchmarks/bench_clv.py --orders 1e5 1e6 3e6
    .venv/bin/python benchmarks/bench_clv.py --only-pareto --pnbd-customers 100000
    .venv/bin/python benchmarks/bench_clv.py --only-mbgnbd     # needs bench_kpi.py's 10M log
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
import warnings

import numpy as np
import pandas as pd

from _baseline import run_baseline

CAL_END, OBS_END = "2023-06-30", "2023-12-31"


def synthetic_orders(n_orders: int, seed: int = 1) -> pd.DataFrame:
    """Pareto/NBD-style log over 2022-2023 with about ``n_orders`` rows (gamma spend)."""
    rng = np.random.default_rng(seed)
    n_cust = max(100, n_orders // 8)
    start = np.datetime64("2022-01-01")
    horizon = 730.0
    first = rng.uniform(0, 365, n_cust)
    lam = rng.gamma(0.8, 1 / 40.0, n_cust)            # purchases per day
    life = rng.exponential(1 / rng.gamma(0.7, 1 / 300.0, n_cust))
    end = np.minimum(first + life, horizon)
    k = rng.poisson(lam * np.maximum(end - first, 0)) + 1
    cust = np.repeat(np.arange(n_cust), k)
    t = np.where(np.r_[True, cust[1:] != cust[:-1]], first[cust],
                 rng.uniform(first[cust], np.maximum(end[cust], first[cust])))
    amount = np.round(rng.gamma(3.0, 1.0, cust.size) * rng.gamma(4.0, 8.0, n_cust)[cust], 2)
    ts = start + (t * 86400).astype("timedelta64[s]")
    return pd.DataFrame({"customer_id": cust, "timestamp": ts, "amount": amount})


def _task_summary(impl: str, n: int) -> dict:
    orders = synthetic_orders(n)
    base_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    if impl == "crm_research":
        from crm_research import clv

        out = clv.rfm_summary(orders, calibration_end=CAL_END, observation_end=OBS_END, freq="W")
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from lifetimes.utils import calibration_and_holdout_data

            out = calibration_and_holdout_data(orders, "customer_id", "timestamp", CAL_END, OBS_END, freq="D",
                                               monetary_value_col="amount")
    secs = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"seconds": secs, "peak_mb": peak / 1024, "extra_mb": (peak - base_rss) / 1024,
            "rows": len(orders), "customers": len(out)}


def _run_task(*args) -> dict:
    res = subprocess.run([sys.executable, __file__, "--task", *map(str, args)], capture_output=True, text=True,
                         check=True)
    return json.loads(res.stdout.strip().splitlines()[-1])


def bench_summary(sizes: list[int]) -> None:
    print("RFM calibration/holdout summary from raw orders (fresh process each)")
    print(f"{'orders':>10} {'customers':>10} {'ours s':>8} {'lifetimes s':>12} {'speed-up':>9} "
          f"{'ours peak MB':>13} {'lifetimes peak MB':>18}")
    for n in sizes:
        a = _run_task("summary", "crm_research", n)
        b = run_baseline(f"lifetimes calibration_and_holdout_data, {n:,} orders", _run_task, "summary", "lifetimes", n)
        if b is None:
            print(f"{a['rows']:>10,} {a['customers']:>10,} {a['seconds']:>8.2f} {'-':>12} {'-':>9} "
                  f"{a['peak_mb']:>13.0f} {'-':>18}")
            continue
        print(f"{a['rows']:>10,} {a['customers']:>10,} {a['seconds']:>8.2f} {b['seconds']:>12.2f} "
              f"{b['seconds'] / a['seconds']:>8.1f}x {a['peak_mb']:>13.0f} {b['peak_mb']:>18.0f}")


def _import_lifetimes():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import lifetimes

    return lifetimes


def bench_fits(n_orders: int) -> None:
    from crm_research import clv

    lt = run_baseline("import lifetimes", _import_lifetimes)
    cases = {"CDNOW (2,357)": clv.rfm_summary(clv.read_cdnow(), calibration_end="1997-09-30", freq="W")}
    big = clv.rfm_summary(synthetic_orders(n_orders), calibration_end=CAL_END, freq="W")
    cases[f"synthetic ({len(big):,})"] = big
    print("\nModel fitting: wall time (s) and log-likelihood reached")
    print(f"{'data':<22}{'model':<12}{'ours s':>8}{'lifetimes s':>13}{'speed-up':>10}"
          f"{'ours LL':>16}{'lifetimes LL':>16}")
    for name, s in cases.items():
        rep = s[s["frequency"] > 0]
        for model in ("BG/NBD", "Pareto/NBD", "Gamma-Gamma"):
            t0 = time.perf_counter()
            if model == "BG/NBD":
                ours = clv.fit_bgnbd(s)
            elif model == "Pareto/NBD":
                ours = clv.fit_pareto_nbd(s)
            else:
                ours = clv.fit_gamma_gamma(s)
            t_ours = time.perf_counter() - t0
            res = None if lt is None else run_baseline(f"lifetimes {model} on {name}", _fit_lifetimes, lt, model, s, rep)
            if res is None:
                print(f"{name:<22}{model:<12}{t_ours:>8.2f}{'-':>13}{'-':>10}{ours.loglik:>16.3f}{'-':>16}")
                continue
            t_lt, ll = res
            print(f"{name:<22}{model:<12}{t_ours:>8.2f}{t_lt:>13.2f}{t_lt / t_ours:>9.1f}x"
                  f"{ours.loglik:>16.3f}{ll:>16.3f}")


def _fit_lifetimes(lt, model: str, s: pd.DataFrame, rep: pd.DataFrame) -> tuple[float, float]:
    """(seconds, log-likelihood at lifetimes' estimate, computed with our log-likelihood)."""
    from crm_research import clv

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t0 = time.perf_counter()
        if model == "BG/NBD":
            f = lt.BetaGeoFitter().fit(s["frequency"], s["recency"], s["T"])
            ll = float(np.sum(clv.bgnbd_loglik(f.params_[["r", "alpha", "a", "b"]].to_numpy(),
                                               s["frequency"], s["recency"], s["T"])))
        elif model == "Pareto/NBD":
            f = lt.ParetoNBDFitter().fit(s["frequency"], s["recency"], s["T"])
            ll = float(np.sum(clv.pnbd_loglik(f.params_[["r", "alpha", "s", "beta"]].to_numpy(),
                                              s["frequency"], s["recency"], s["T"])))
        else:
            f = lt.GammaGammaFitter().fit(rep["frequency"], rep["monetary_value"])
            ll = float(np.sum(clv.gamma_gamma_loglik(f.params_[["p", "q", "v"]].to_numpy(),
                                                     rep["frequency"], rep["monetary_value"])))
        return time.perf_counter() - t0, ll


def bench_pareto_nbd(n_customers: int, repeats: int = 3) -> None:
    """Pareto/NBD on ``n_customers`` synthetic customers: ours (best of ``repeats``) vs lifetimes."""
    from crm_research import clv

    s = clv.rfm_summary(synthetic_orders(8 * n_customers), calibration_end=CAL_END, freq="W")
    clv.fit_pareto_nbd(s.head(2000))  # imports (scipy.optimize ...) are not part of the fit
    times, cpus = [], []
    for _ in range(max(1, repeats)):
        t0, c0 = time.perf_counter(), time.process_time()
        ours = clv.fit_pareto_nbd(s)
        times.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    print(f"\nPareto/NBD on {len(s):,} customers: wall and CPU time (s), best of {len(times)} "
          f"(wall: {', '.join(f'{t:.2f}' for t in times)}; CPU: {', '.join(f'{t:.2f}' for t in cpus)})")
    print(f"{'':<12}{'wall s':>9}{'CPU s':>9}{'log-likelihood':>18}{'r':>9}{'alpha':>9}{'s':>9}{'beta':>9}")
    p = ours.params
    print(f"{'ours':<12}{min(times):>9.2f}{min(cpus):>9.2f}{ours.loglik:>18.3f}{p['r']:>9.4f}{p['alpha']:>9.4f}"
          f"{p['s']:>9.4f}{p['beta']:>9.4f}")
    lt = run_baseline("import lifetimes", _import_lifetimes)
    res = None if lt is None else run_baseline(f"lifetimes Pareto/NBD on {len(s):,}", _fit_lifetimes_pnbd, lt, s)
    if res is not None:
        t_lt, c_lt, ll, q = res
        print(f"{'lifetimes':<12}{t_lt:>9.2f}{c_lt:>9.2f}{ll:>18.3f}{q['r']:>9.4f}{q['alpha']:>9.4f}"
              f"{q['s']:>9.4f}{q['beta']:>9.4f}")
        print(f"speed-up {t_lt / min(times):.1f}x wall, {c_lt / min(cpus):.1f}x CPU; "
              f"log-likelihood ours - lifetimes = {ours.loglik - ll:+.3f}")


def _fit_lifetimes_pnbd(lt, s: pd.DataFrame) -> tuple[float, float, float, pd.Series]:
    """(wall s, CPU s, log-likelihood at lifetimes' estimate by our log-likelihood, estimate)."""
    from crm_research import clv

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t0, c0 = time.perf_counter(), time.process_time()
        f = lt.ParetoNBDFitter().fit(s["frequency"], s["recency"], s["T"])
        secs, cpu = time.perf_counter() - t0, time.process_time() - c0
    q = f.params_[["r", "alpha", "s", "beta"]]
    return secs, cpu, float(np.sum(clv.pnbd_loglik(q.to_numpy(), s["frequency"], s["recency"], s["T"]))), q


MBGNBD_ORDERS = "benchmarks/_data/tx_10000000_0/orders.parquet"  # made by bench_kpi.py


def churn_summary(orders: str) -> pd.DataFrame:
    """Per customer of an order log (parquet): frequency = purchase days - 1, recency and T in
    weeks up to the last order date, as the churn KPI fits them."""
    import duckdb

    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    return con.sql(f"""
        WITH d AS (SELECT customer_id, COUNT(DISTINCT CAST("timestamp" AS DATE)) AS days,
                          MIN(CAST("timestamp" AS DATE)) AS f, MAX(CAST("timestamp" AS DATE)) AS l
                   FROM read_parquet('{orders}') GROUP BY customer_id),
             m AS (SELECT MAX(l) AS a FROM d)
        SELECT customer_id, CAST(days - 1 AS DOUBLE) AS frequency, DATEDIFF('day', f, l) / 7.0 AS recency,
               DATEDIFF('day', f, a) / 7.0 AS "T"
        FROM d, m ORDER BY customer_id""").df()


def bench_mbgnbd(orders: str, repeats: int = 3) -> None:
    """MBG/NBD fit + P(alive) on every customer of ``orders``: ours (best of ``repeats``) vs lifetimes."""
    from pathlib import Path

    from crm_research import clv

    if Path(orders).exists():
        s, what = churn_summary(orders), Path(orders).parent.name
    else:
        print(f"\n{orders} not found (benchmarks/bench_kpi.py makes it): a synthetic log instead")
        s, what = clv.rfm_summary(synthetic_orders(8 * 100_000), calibration_end=CAL_END, freq="W"), "synthetic"
    clv.fit_mbgnbd(s.head(2000))  # imports are not part of the fit
    runs = []
    for _ in range(max(1, repeats)):
        t0, c0 = time.perf_counter(), time.process_time()
        ours = clv.fit_mbgnbd(s)
        pa = ours.p_alive(s)
        runs.append((time.perf_counter() - t0, time.process_time() - c0))
    wall, cpu = min(w for w, _ in runs), min(c for _, c in runs)
    print(f"\nMBG/NBD fit + P(alive) of {len(s):,} customers ({what}): wall and CPU time (s), best of {len(runs)} "
          f"(wall: {', '.join(f'{w:.2f}' for w, _ in runs)}; CPU: {', '.join(f'{c:.2f}' for _, c in runs)})")
    print(f"{'':<12}{'wall s':>9}{'CPU s':>9}{'log-likelihood':>20}{'r':>10}{'alpha':>10}{'a':>10}{'b':>10}")
    p = ours.params
    print(f"{'ours':<12}{wall:>9.2f}{cpu:>9.2f}{ours.loglik:>20.4f}{p['r']:>10.6f}{p['alpha']:>10.6f}"
          f"{p['a']:>10.6f}{p['b']:>10.6f}")
    lt = run_baseline("import lifetimes", _import_lifetimes)
    res = None if lt is None else run_baseline(f"lifetimes MBG/NBD on {len(s):,}", _fit_lifetimes_mbgnbd, lt, s)
    if res is not None:
        t_lt, c_lt, ll, q, pa_lt = res
        print(f"{'lifetimes':<12}{t_lt:>9.2f}{c_lt:>9.2f}{ll:>20.4f}{q['r']:>10.6f}{q['alpha']:>10.6f}"
              f"{q['a']:>10.6f}{q['b']:>10.6f}")
        print(f"speed-up {t_lt / wall:.1f}x wall, {c_lt / cpu:.1f}x CPU; log-likelihood ours - lifetimes = "
              f"{ours.loglik - ll:+.2e}; largest |P(alive) ours - lifetimes| = "
              f"{np.max(np.abs(pa.to_numpy() - pa_lt)):.2e}")


def _fit_lifetimes_mbgnbd(lt, s: pd.DataFrame):
    """(wall s, CPU s, log-likelihood at lifetimes' estimate by our log-likelihood, estimate, P(alive))."""
    from crm_research import clv

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t0, c0 = time.perf_counter(), time.process_time()
        f = lt.ModifiedBetaGeoFitter().fit(s["frequency"], s["recency"], s["T"])
        pa = np.asarray(f.conditional_probability_alive(s["frequency"], s["recency"], s["T"]), dtype=float)
        secs, cpu = time.perf_counter() - t0, time.process_time() - c0
    q = f.params_[["r", "alpha", "a", "b"]]
    return secs, cpu, float(np.sum(clv.mbgnbd_loglik(q.to_numpy(), s["frequency"], s["recency"], s["T"]))), q, pa


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--orders", nargs="+", type=float, default=[1e5, 1e6],
                    help="synthetic log sizes for the summary benchmark")
    ap.add_argument("--fit-orders", type=float, default=4e5, help="synthetic log size for the fitting benchmark")
    ap.add_argument("--pnbd-customers", type=float, default=1e5, help="customers for the Pareto/NBD timing")
    ap.add_argument("--repeats", type=int, default=3, help="repeats of our Pareto/NBD fit (the best is reported)")
    ap.add_argument("--only-pareto", action="store_true", help="run only the Pareto/NBD timing")
    ap.add_argument("--only-mbgnbd", action="store_true", help="run only the MBG/NBD churn-model timing")
    ap.add_argument("--mbgnbd-orders", default=MBGNBD_ORDERS,
                    help="order log (parquet) for the MBG/NBD timing (default: bench_kpi.py's 10M log)")
    ap.add_argument("--task", nargs="+", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.task:
        print(json.dumps(_task_summary(a.task[1], int(float(a.task[2])))))
        return
    if a.only_mbgnbd:
        bench_mbgnbd(a.mbgnbd_orders, a.repeats)
        return
    if not a.only_pareto:
        bench_summary([int(n) for n in a.orders])
        bench_fits(int(a.fit_orders))
    bench_pareto_nbd(int(a.pnbd_customers), a.repeats)
    if not a.only_pareto:
        bench_mbgnbd(a.mbgnbd_orders, a.repeats)


if __name__ == "__main__":
    main()

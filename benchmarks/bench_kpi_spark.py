"""Benchmark: the full KPI suite on Apache Spark (local mode) next to the embedded DuckDB engine.

Usage::

    python benchmarks/bench_kpi_spark.py                            # 1,500 and 20,000 customers
    python benchmarks/bench_kpi_spark.py --customers 100000 --repeat 2 --master 'local[2]'

Both engines get the same simulated log (``crm_research.simulate.simulate_transactions``:
orders with products + sessions) and compute the same suite; the script checks that every
table agrees (the comparison of ``tests/test_kpi_spark.py``) and prints, per engine, the time
to load (validation in DuckDB; for Spark also the Parquet hand-over and the session start) and
the time of the suite, best of ``--repeat`` runs. CPU time is the Python process's plus, for
Spark, the JVM's (read from ``/proc``). Spark local mode is not meant to beat DuckDB on one
machine: it shows what the same definitions cost on an engine that can leave the machine.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))


def _jvm_cpu(eng) -> float:
    """CPU seconds of the Spark JVM (0 when it cannot be read)."""
    try:
        from pyspark import SparkContext

        pid = SparkContext._gateway.proc.pid
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        import os

        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except Exception:
        return 0.0


def run(engine: str, log, master: str, as_of: str):
    from crm_research import kpi

    t0, c0 = time.perf_counter(), time.process_time()
    kw = {"engine": "spark", "spark_master": master} if engine == "spark" else {}
    eng = kpi.load(log.orders, sessions=log.sessions, **kw)
    j0 = _jvm_cpu(eng) if engine == "spark" else 0.0
    t1, c1 = time.perf_counter(), time.process_time()
    suite = kpi.kpi_suite(eng, as_of=as_of)
    frames = {name: suite.frame(name) for name in suite.tables}
    t2, c2 = time.perf_counter(), time.process_time()
    j1 = _jvm_cpu(eng) if engine == "spark" else 0.0
    eng.close()
    return {"load": t1 - t0, "suite": t2 - t1, "suite_cpu": (c2 - c1) + (j1 - j0)}, frames


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--customers", type=int, nargs="+", default=[1500, 20000])
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--master", default="local[2]")
    ap.add_argument("--as-of", default="2023-12-31")
    args = ap.parse_args(argv)

    from crm_research.kpi.spark import spark_unavailable
    from crm_research.simulate import simulate_transactions
    from test_kpi_spark import assert_same_table

    why = spark_unavailable()
    if why is not None:          # `make bench` on a machine without Java or pyspark
        print(f"skipped: {why}")
        return 0

    print(f"{'customers':>9} {'orders':>9} {'sessions':>9}  {'engine':<16} {'load s':>7} {'suite s':>8} "
          f"{'suite cpu s':>11}")
    for n in args.customers:
        log = simulate_transactions(n, seed=4)
        results = {}
        for engine in ("duckdb", "spark"):
            best, frames = None, None
            for _ in range(args.repeat):
                r, frames = run(engine, log, args.master, args.as_of)
                best = r if best is None or r["suite"] < best["suite"] else best
            results[engine] = (best, frames)
            label = engine if engine == "duckdb" else f"spark {args.master}"
            print(f"{n:>9,} {len(log.orders):>9,} {len(log.sessions):>9,}  {label:<16} {best['load']:>7.1f} "
                  f"{best['suite']:>8.1f} {best['suite_cpu']:>11.1f}", flush=True)
        d, s = results["duckdb"][1], results["spark"][1]
        for name in d:
            assert_same_table(name, d[name], s[name])
        print(f"{'':>9} all {len(d)} tables agree; suite wall Spark/DuckDB "
              f"{results['spark'][0]['suite'] / results['duckdb'][0]['suite']:.1f}x", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

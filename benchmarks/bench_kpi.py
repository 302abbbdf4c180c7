"""Benchmark: the full KPI suite on a synthetic log: our engine, straightforward pandas, and hand-written DuckDB SQL (the limit).

Usage::

    python benchmarks/bench_kpi.py                       # 10 million orders (default)
    python benchmarks/bench_kpi.py --orders 1000000      # quicker
    python benchmarks/bench_kpi.py --orders 100000000    # engine only (pandas would not fit)

The log (orders + sessions, ``crm_research.simulate.write_transactions``) is generated once
and cached in ``benchmarks/_data/`` (git-ignored). Each side runs in its own child process, so
the peak memory reported is that side's own resident-set high-water mark
(``resource.getrusage(RUSAGE_SELF).ru_maxrss`` at the end of the child). Wall time and CPU
time are both printed: on a shared machine wall time depends on the other processes, CPU time
much less. Both sides compute the same KPIs with the same definitions (read from the source
of :mod:`crm_research.kpi`), and the script checks that their headline numbers agree.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE / "_data"


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _maxrss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 ** 2   # Linux: KiB


# ============================================================================ engine side
def run_engine(orders: str, sessions: str, memory_limit: str | None, temp_dir: str | None,
               threads: int | None, database: str | None) -> dict:
    t0, c0 = time.perf_counter(), _cpu()
    from crm_research import kpi
    # the package imports its modules (ibis and its DuckDB backend, pandas, duckdb) on first use:
    # import them here, untimed, as the pandas side imports pandas before its clock starts
    import importlib

    import ibis
    import pkgutil

    import crm_research.kpi as kpi_package
    for m in pkgutil.iter_modules(kpi_package.__path__):
        if m.name != "spark":
            importlib.import_module(f"crm_research.kpi.{m.name}")
    ibis.duckdb  # noqa: B018 - loads ibis' DuckDB backend

    t_imp = time.perf_counter() - t0
    t1, c1 = time.perf_counter(), _cpu()
    if database and Path(database).exists():
        Path(database).unlink()
    eng = kpi.load(orders, sessions=sessions, memory_limit=memory_limit, temp_directory=temp_dir,
                   threads=threads, database=database)
    t_load, c_load = time.perf_counter() - t1, _cpu() - c1
    # no separate preparation step: the suite builds the per-order facts only where a KPI needs
    # them (on DuckDB with integer customer ids it needs none: kpi.order_arrays)
    t_facts = c_facts = 0.0
    t3, c3 = time.perf_counter(), _cpu()
    suite = kpi.kpi_suite(eng)
    t_suite, c_suite = time.perf_counter() - t3, _cpu() - c3
    T = suite.tables
    if suite.in_engine:   # per-customer tables kept in the engine: the digest needs only aggregates
        digest = {}
    else:
        digest = make_digest(
            retention=T["retention"], retention_n=T["retention_n"], repurchase=T["repurchase"],
            repeat=T["repeat_customers"], activity=T["activity"], churn=T["churn_risk"],
            rfm=T["rfm"], lifecycle=T["lifecycle"], shares=T["stage_shares"],
            transitions=T["stage_transitions"], products=T["product_lifecycle"],
            stage_kpis=T["product_stage_kpis"])
    return dict(side="engine", in_engine=suite.in_engine, import_s=t_imp, load_s=t_load, load_cpu=c_load, prep_s=t_facts, prep_cpu=c_facts,
                kpi_s=t_suite, kpi_cpu=c_suite, total_s=t_load + t_facts + t_suite,
                total_cpu=c_load + c_facts + c_suite, maxrss_gib=_maxrss_gib(),
                per_table={k: round(v, 2) for k, v in suite.timings.items()}, digest=digest)


# ============================================================================ pandas side
def run_pandas(orders: str, sessions: str) -> dict:
    import numpy as np
    import pandas as pd
    import pyarrow.parquet  # noqa: F401 - pandas reads Parquet with it (imported on first use)

    t1, c1 = time.perf_counter(), _cpu()
    o = pd.read_parquet(orders)
    s = pd.read_parquet(sessions)
    # validation: the same checks as the engine's loader
    req = ["customer_id", "order_id", "timestamp", "amount"]
    bad = o[req].isna().any(axis=1) | ~np.isfinite(o["amount"]) | (o["amount"] < 0)
    dups = o["order_id"].duplicated()
    assert not bad.any() and not dups.any(), "benchmark data must be clean"
    sbad = s[["customer_id", "start", "duration"]].isna().any(axis=1) | (s["duration"] < 0) | (s["page_views"] < 0)
    # exact copies of a session (every column equal), as the loader checks: a hash per row, sorted,
    # equal neighbours are candidates (the loader's method; s.duplicated() takes 11 s of CPU here)
    h = np.sort(pd.util.hash_pandas_object(s, index=False).to_numpy())
    assert not sbad.any() and not (h[1:] == h[:-1]).any(), "benchmark data must be clean"
    t_load, c_load = time.perf_counter() - t1, _cpu() - c1

    t2, c2 = time.perf_counter(), _cpu()
    f = o[["customer_id", "order_id", "timestamp", "amount"]].sort_values(["customer_id", "timestamp", "order_id"])
    f["order_date"] = f["timestamp"].dt.normalize()
    g = f.groupby("customer_id", sort=False)
    f["seq"] = g.cumcount() + 1
    f["gap_days"] = (f["order_date"] - g["order_date"].shift()).dt.days
    f["first_date"] = g["order_date"].transform("first")
    f = f.drop(columns="timestamp").reset_index(drop=True)
    t_prep, c_prep = time.perf_counter() - t2, _cpu() - c2

    t3, c3 = time.perf_counter(), _cpu()
    as_of = f["order_date"].max()
    out = pandas_kpis(f, o, s, as_of)
    t_kpi, c_kpi = time.perf_counter() - t3, _cpu() - c3
    return dict(side="pandas", load_s=t_load, load_cpu=c_load, prep_s=t_prep, prep_cpu=c_prep, kpi_s=t_kpi,
                kpi_cpu=c_kpi, total_s=t_load + t_prep + t_kpi, total_cpu=c_load + c_prep + c_kpi,
                maxrss_gib=_maxrss_gib(), per_table=out.pop("_timings"), digest=make_digest(**out))


def p_alive_mbgnbd(purchase_days, recency_days, T_days, days_since, lost_after: int = 365):
    """P(alive) as the churn list has it: MBG/NBD (crm_research.clv, the same fitter on every side)
    fitted in weeks to every customer, evaluated for customers not yet lost (NaN for the others)."""
    import numpy as np
    import pandas as pd

    from crm_research import clv

    rf = pd.DataFrame({"frequency": np.asarray(purchase_days, float) - 1.0,
                       "recency": np.asarray(recency_days, float) / 7.0, "T": np.asarray(T_days, float) / 7.0})
    m = clv.fit_mbgnbd(rf)
    live = np.asarray(days_since) <= lost_after
    out = np.full(len(rf), np.nan)
    out[live] = np.asarray(m.p_alive(rf[live].reset_index(drop=True)), float)
    return out


def _midx(d):
    return d.dt.year * 12 + d.dt.month - 1


def _last_complete_month(as_of):
    import pandas as pd

    i = as_of.year * 12 + as_of.month - 1
    return i if (as_of + pd.Timedelta(days=1)).month != as_of.month else i - 1


def _month_end(i):
    import pandas as pd

    return pd.Timestamp(year=i // 12, month=i % 12 + 1, day=1) + pd.offsets.MonthEnd(0)


def pandas_kpis(f, o, s, as_of) -> dict:
    """The KPI suite written plainly in pandas (monthly periods, default rules)."""
    import numpy as np
    import pandas as pd

    timings = {}
    res = {}

    def timed(name, fn):
        t = time.perf_counter()
        res[name] = fn()
        timings[name] = round(time.perf_counter() - t, 2)

    last_full = _last_complete_month(as_of)
    f = f[f["order_date"] <= as_of]
    f = f.assign(cohort_idx=_midx(f["first_date"]), idx=_midx(f["order_date"]))

    # ---- retention
    def retention():
        cp = f.groupby(["customer_id", "cohort_idx", "idx"], sort=False).agg(
            orders=("order_id", "size"), revenue=("amount", "sum")).reset_index()
        cp["k"] = cp["idx"] - cp["cohort_idx"]
        r = cp.groupby(["cohort_idx", "k"]).agg(active_customers=("customer_id", "size"),
                                               orders=("orders", "sum"), revenue=("revenue", "sum")).reset_index()
        r = r[r["cohort_idx"] + r["k"] <= last_full]
        size = r[r["k"] == 0].set_index("cohort_idx")["active_customers"]
        r["cohort_size"] = r["cohort_idx"].map(size)
        r["retention_rate"] = r["active_customers"] / r["cohort_size"]
        res["_cp"] = cp
        return r.rename(columns={"k": "period"})
    timed("retention", retention)

    def retention_n():
        cp = res["_cp"]
        c = cp[cp["idx"] <= last_full].groupby("customer_id").agg(cohort_idx=("cohort_idx", "first"),
                                                                  last_k=("k", "max"))
        r = res["retention"]
        rows = []
        for n in (1, 2, 3, 6, 12):
            el = c[c["cohort_idx"] + n <= last_full]
            kept = r[r["period"] == n]["active_customers"].sum()
            rows.append(dict(n=n, customers=len(el), retained=int(kept),
                             retention_rate=kept / len(el) if len(el) else np.nan,
                             rolling_retention_rate=(el["last_k"] >= n).sum() / len(el) if len(el) else np.nan))
        return pd.DataFrame(rows)
    timed("retention_n", retention_n)

    # ---- repurchase
    def repurchase():
        later = f[(f["order_date"] - f["first_date"]).dt.days >= 1]
        c = f.groupby("customer_id")["first_date"].first().to_frame()
        c["rep"] = later.groupby("customer_id")["order_date"].min()
        gap = (c["rep"] - c["first_date"]).dt.days
        obs = (as_of - c["first_date"]).dt.days
        rows = []
        for w in (30, 90, 180):
            e = obs >= w
            r = e & gap.notna() & (gap <= w)
            rows.append(dict(window_days=w, eligible_customers=int(e.sum()), repurchasers=int(r.sum()),
                             repurchase_rate=r.sum() / e.sum()))
        return pd.DataFrame(rows)
    timed("repurchase", repurchase)

    def repeat():
        cp = res["_cp"]
        rep = f[f["seq"] > 1].groupby("idx").size()
        r = cp.groupby("idx").agg(customers=("customer_id", "size"),
                                  new_customers=("k", lambda k: int((k == 0).sum())),
                                  orders=("orders", "sum")).reset_index()
        r["repeat_orders"] = r["idx"].map(rep).fillna(0).astype(int)
        r["returning_customers"] = r["customers"] - r["new_customers"]
        return r
    timed("repeat_customers", repeat)

    # ---- activity
    def activity():
        ss = s[s["start"].dt.normalize() <= as_of].copy()
        ss["day"] = ss["start"].dt.normalize()
        ss["idx"] = _midx(ss["start"])
        per = ss.groupby("idx").agg(sessions=("duration", "size"), seconds=("duration", "sum"),
                                    median_session_seconds=("duration", "median"))
        cpd = ss.groupby(["customer_id", "idx"])["day"].nunique().reset_index()
        v = cpd.groupby("idx").agg(visitors=("customer_id", "size"), visitor_days=("day", "sum"))
        a = per.join(v).reset_index()
        first = ss["start"].min().normalize()
        days = []
        for i in a["idx"]:
            st = max(pd.Timestamp(year=i // 12, month=i % 12 + 1, day=1), first)
            days.append((min(_month_end(i), as_of) - st).days + 1)
        a["days"] = days
        a["stickiness"] = a["visitor_days"] / a["days"] / a["visitors"]
        return a
    timed("activity", activity)

    # ---- churn (default ChurnRules: 90-day windows, overdue x2, drops 50 %, lost after 365 days)
    def churn():
        W = 90
        age = (as_of - f["order_date"]).dt.days
        ff = f.assign(recent=age < W, previous=(age >= W) & (age < 2 * W),
                      newday=(f["gap_days"] > 0) | f["gap_days"].isna(),
                      gpos=f["gap_days"].where(f["gap_days"] > 0))
        c = ff.groupby("customer_id").agg(orders=("order_id", "size"), purchase_days=("newday", "sum"),
                                          total_spend=("amount", "sum"), last=("order_date", "max"),
                                          first=("first_date", "first"),
                                          typical=("gpos", "median"), rec=("recent", "sum"), prev=("previous", "sum"))
        pop = c["typical"].median()
        ref = c["typical"].fillna(pop)
        days_since = (as_of - c["last"]).dt.days
        c["days_since_last"] = days_since
        c["gap_ratio"] = days_since / ref
        c["frequency_change"] = np.where(c["prev"] > 0, (c["rec"] - c["prev"]) / c["prev"].where(c["prev"] > 0, 1), np.nan)
        sa = (as_of - s["start"].dt.normalize()).dt.days
        sw = s[(sa >= 0) & (sa < 2 * W)].assign(recent=sa < W)
        vr = sw[sw["recent"]].groupby("customer_id")["duration"].sum()
        vp = sw[~sw["recent"]].groupby("customer_id")["duration"].sum()
        c["vr"] = vr.reindex(c.index).fillna(0)
        c["vp"] = vp.reindex(c.index).fillna(0)
        c["visit_time_change"] = np.where(c["vp"] > 0, (c["vr"] - c["vp"]) / c["vp"].where(c["vp"] > 0, 1), np.nan)
        so = ((c["gap_ratio"] - 1) / (2.0 - 1)).clip(0, 1)
        sf = (-c["frequency_change"] / 0.5).clip(0, 1)
        sv = (-c["visit_time_change"] / 0.5).clip(0, 1)
        pa = p_alive_mbgnbd(c["purchase_days"], (c["last"] - c["first"]).dt.days, (as_of - c["first"]).dt.days,
                            days_since)
        sa = pd.Series(1.0 - pa, index=c.index)
        sc = pd.concat([so, sf, sv, sa], axis=1)
        c["risk_score"] = sc.mean(axis=1)
        c["n_warnings"] = ((so >= 1).astype(int) + (sf >= 1).astype(int) + (sv >= 1).astype(int)
                           + (pa < 0.5).astype(int))
        r = c[(c["n_warnings"] >= 1) & (c["days_since_last"] <= 365)].reset_index()
        return r.sort_values(["risk_score", "total_spend", "customer_id"], ascending=[False, False, True])
    timed("churn_risk", churn)

    # ---- RFM
    def rfm():
        c = f.groupby("customer_id").agg(last=("order_date", "max"), frequency=("order_id", "size"),
                                         monetary=("amount", "sum"))
        c["recency_days"] = (as_of - c["last"]).dt.days
        n = len(c)
        # purchase cycle: median gap (days) between a customer's consecutive purchase days; it caps R
        gaps = f["gap_days"][f["gap_days"] > 0]
        cycle = float(gaps.median()) if len(gaps) else max(1.0, (as_of - f["order_date"].min()).days / 5)
        c["recency_cycles"] = c["recency_days"] / cycle

        def score(x):
            return 1 + (5 * (x.rank(method="min") - 1) // n).astype(int)
        c["r_score"] = score(-c["recency_days"])
        c["f_score"] = score(c["frequency"])
        c["m_score"] = score(c["monetary"])
        rules = [("Champions", 4, 5, 4, 5), ("Loyal", 3, 5, 3, 5), ("Potential loyalist", 4, 5, 2, 3),
                 ("New", 4, 5, 1, 1), ("Promising", 3, 3, 1, 2), ("Can't lose them", 1, 1, 4, 5),
                 ("At risk", 1, 2, 3, 5), ("About to sleep", 2, 2, 1, 2), ("Hibernating", 1, 1, 2, 2),
                 ("Lost", 1, 1, 1, 1)]
        cap = np.select([c["recency_cycles"] <= 1, c["recency_cycles"] <= 2, c["recency_cycles"] <= 4], [5, 3, 2], 1)
        r_seg = np.minimum(c["r_score"], cap)
        conds = [r_seg.between(a, b) & c["f_score"].between(x, y) for _, a, b, x, y in rules]
        c["segment"] = np.select(conds, [r[0] for r in rules], "Unclassified")
        return c.reset_index()
    timed("rfm", rfm)

    # ---- lifecycle (default LifecycleRules)
    def stages(d):
        ff = f[f["order_date"] <= d]
        age = (d - ff["order_date"]).dt.days
        ff = ff.assign(recent=age < 90, previous=(age >= 90) & (age < 180),
                       rgap=ff["gap_days"].where(age < 90))
        c = ff.groupby("customer_id").agg(first=("first_date", "first"), last=("order_date", "max"),
                                          rec=("recent", "sum"), prev=("previous", "sum"), mg=("rgap", "max"))
        since = (d - c["last"]).dt.days
        tenure = (d - c["first"]).dt.days
        conds = [since > 180, tenure < 30, c["mg"].fillna(0) > 180,
                 (since > 90) | ((c["prev"] > 0) & (c["rec"] < 0.5 * c["prev"])),
                 (tenure < 180) | ((c["rec"] >= 2) & (c["rec"] >= 1.5 * c["prev"]))]
        return pd.Series(np.select(conds, ["churned", "new", "reactivated", "declining", "growing"], "mature"),
                         index=c.index)
    timed("lifecycle", lambda: stages(as_of))

    def shares():
        first = _midx(f["order_date"]).min()
        ends = [_month_end(i) for i in range(first, last_full + 1)][-12:]
        if not ends or ends[-1] != as_of:
            ends.append(as_of)
        rows = []
        for d in ends:
            vc = stages(d).value_counts()
            for st, n in vc.items():
                rows.append(dict(date=d, stage=st, customers=int(n)))
        return pd.DataFrame(rows)
    timed("stage_shares", shares)

    def transitions():
        d0 = max(as_of - pd.Timedelta(days=365), f["order_date"].min())
        a, b = stages(d0), stages(as_of)
        m = pd.DataFrame({"to_stage": b, "from_stage": a.reindex(b.index).fillna("prospect")})
        return m.groupby(["from_stage", "to_stage"]).size().rename("customers").reset_index()
    timed("stage_transitions", transitions)

    # ---- products (default ProductLifecycleRules: orders, 3-period moving average, lag 3)
    def products():
        ol = o[o["timestamp"].dt.normalize() <= as_of]
        ps = ol.groupby(["product_id", _midx(ol["timestamp"]).rename("idx")]).size().rename("n").reset_index()
        return product_stages(ps, last_full)
    timed("product_lifecycle", products)

    def stage_kpis():
        st = res["product_lifecycle"].set_index("product_id")["stage"]
        lo = pd.Timestamp(year=(last_full - 2) // 12, month=(last_full - 2) % 12 + 1, day=1)
        d = o["timestamp"].dt.normalize()
        ol = o[(d >= lo) & (d <= _month_end(last_full))].copy()
        ol["stage"] = ol["product_id"].map(st)
        firsts = set(f.loc[f["seq"] == 1, "order_id"])
        ol["first"] = ol["order_id"].isin(firsts)
        return ol.groupby("stage").agg(orders=("order_id", "size"), revenue=("amount", "sum"),
                                       buyers=("customer_id", "nunique"), first_orders=("first", "sum")).reset_index()
    timed("product_stage_kpis", stage_kpis)

    return dict(retention=res["retention"], retention_n=res["retention_n"], repurchase=res["repurchase"],
                repeat=res["repeat_customers"], activity=res["activity"], churn=res["churn_risk"],
                rfm=res["rfm"], lifecycle=res["lifecycle"].rename("stage").to_frame(),
                shares=res["stage_shares"], transitions=res["stage_transitions"], products=res["product_lifecycle"],
                stage_kpis=res["product_stage_kpis"], _timings=timings)


def product_stages(ps, last_full: int):
    """Product lifecycle stages (default rules: orders, 3-period moving average, lag 3) from
    ``product_id, idx, n`` (orders per product and month index); both baselines use it."""
    import numpy as np
    import pandas as pd

    ps = ps[ps["idx"] <= last_full]
    first = ps.groupby("product_id")["idx"].min()
    wide = ps.pivot(index="product_id", columns="idx", values="n").reindex(
        columns=range(int(first.min()), last_full + 1)).fillna(0.0)
    mask = np.arange(wide.shape[1])[None, :] >= (first.reindex(wide.index).to_numpy() - first.min())[:, None]
    sm = wide.where(mask).T.rolling(3, min_periods=1).mean().T.where(mask)
    peak, cur = sm.max(axis=1), sm.iloc[:, -1]
    age = last_full - first.reindex(wide.index) + 1
    prev = sm.iloc[:, -4].where(age > 3)
    level = (cur / peak).where(peak > 0, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        growth = np.where(prev.isna(), np.nan, np.where(prev > 0, cur / prev - 1, np.where(cur > 0, np.inf, 0.0)))
    stage = np.where(age <= 3, "introduction", np.where(growth >= 0.2, "growth",
                     np.where((level < 0.5) | (growth <= -0.2), "decline", "maturity")))
    return pd.DataFrame({"product_id": wide.index, "stage": stage})


# ============================================================================ DuckDB-SQL limit side
def run_sql(orders: str, sessions: str, memory_limit: str | None, threads: int | None) -> dict:
    """The same KPIs hand-written as DuckDB SQL in as few passes as possible: the limit.

    Passes: orders file once (validation counts), once into the per-order facts (one window);
    the facts once into per-customer x month and once into per-customer aggregates (churn, RFM,
    lifecycle and repurchase share that one pass); the facts in date order once more for the 13
    lifecycle dates (each date reads its 181-day window); the sessions file once (validation) and once (activity and
    the churn visit windows from it); the orders file once for the product KPIs. Small results
    only come back to Python.
    """
    import duckdb
    import numpy as np
    import pandas as pd

    t1, c1 = time.perf_counter(), _cpu()
    con = duckdb.connect()
    if memory_limit:
        con.execute(f"SET memory_limit = '{memory_limit}'")
    if threads:
        con.execute(f"SET threads = {int(threads)}")
    con.execute("SET preserve_insertion_order = false")
    O, S = f"read_parquet('{orders}')", f"read_parquet('{sessions}')"
    # validation: the same checks as the engine's loader (nulls, non-finite/negative, duplicate ids / rows)
    bad, dup = con.execute(
        f"SELECT count(*) FILTER (WHERE customer_id IS NULL OR order_id IS NULL OR timestamp IS NULL "
        f"OR amount IS NULL OR NOT isfinite(amount) OR amount < 0), count(order_id) - count(DISTINCT order_id) "
        f"FROM {O}").fetchone()
    sbad, sdup = con.execute(
        f"SELECT count(*) FILTER (WHERE customer_id IS NULL OR start IS NULL OR duration IS NULL OR duration < 0), "
        f"count(*) - count(DISTINCT hash(customer_id, start, duration, page_views)) FROM {S}").fetchone()
    assert bad == 0 and dup == 0 and sbad == 0 and sdup == 0, "benchmark data must be clean"
    t_load, c_load = time.perf_counter() - t1, _cpu() - c1

    t2, c2 = time.perf_counter(), _cpu()
    con.execute(f"""CREATE TABLE f AS SELECT customer_id, order_id, CAST(timestamp AS DATE) AS d, amount,
        row_number() OVER w AS seq,
        CAST(timestamp AS DATE) - lag(CAST(timestamp AS DATE)) OVER w AS gap,
        first_value(CAST(timestamp AS DATE)) OVER w AS first_date
        FROM {O} WINDOW w AS (PARTITION BY customer_id ORDER BY timestamp, order_id)""")
    t_prep, c_prep = time.perf_counter() - t2, _cpu() - c2

    t3, c3 = time.perf_counter(), _cpu()
    timings = {}
    q = lambda sql: con.execute(sql).df()  # noqa: E731
    as_of = pd.Timestamp(con.execute("SELECT max(d) FROM f").fetchone()[0])
    A = f"DATE '{as_of.date()}'"
    last_full = _last_complete_month(as_of)

    def midx(col):
        return f"(year({col}) * 12 + month({col}) - 1)"

    t = time.perf_counter()
    # per customer x month (retention, N-period retention, repeat customers)
    con.execute(f"""CREATE TABLE cp AS SELECT customer_id, {midx('first_date')} AS cohort, {midx('d')} AS idx,
        count(*) AS orders, sum(amount) AS revenue FROM f GROUP BY ALL""")
    ret = q(f"""SELECT cohort, idx - cohort AS k, count(*) AS active_customers, sum(revenue) AS revenue
        FROM cp WHERE idx <= {last_full} GROUP BY ALL""")
    lastk = q(f"""SELECT cohort, last_k, count(*) AS n FROM
        (SELECT customer_id, cohort, max(idx - cohort) AS last_k FROM cp WHERE idx <= {last_full} GROUP BY ALL)
        GROUP BY ALL""")
    rows = []
    for n in (1, 2, 3, 6, 12):
        el = lastk[lastk["cohort"] + n <= last_full]
        e = int(el["n"].sum())
        kept = int(ret.loc[ret["k"] == n, "active_customers"].sum())
        rows.append(dict(n=n, retention_rate=kept / e if e else np.nan,
                         rolling_retention_rate=int(el.loc[el["last_k"] >= n, "n"].sum()) / e if e else np.nan))
    retention_n = pd.DataFrame(rows)
    rep = q("""SELECT count(*) FILTER (WHERE idx > cohort) AS returning_customers FROM cp""")
    rep["repeat_orders"] = con.execute("SELECT count(*) FILTER (WHERE seq > 1) FROM f").fetchone()[0]
    timings["retention+repeat"] = round(time.perf_counter() - t, 2)

    # one pass: per-customer aggregates for churn, RFM, lifecycle at as_of and repurchase
    t = time.perf_counter()
    con.execute(f"""CREATE TABLE c AS SELECT customer_id, count(*) AS orders,
        count(*) FILTER (WHERE gap > 0 OR gap IS NULL) AS purchase_days, sum(amount) AS spend,
        min(first_date) AS first_date, max(d) AS last_date,
        median(gap) FILTER (WHERE gap > 0) AS typical,
        count(*) FILTER (WHERE {A} - d < 90) AS rec,
        count(*) FILTER (WHERE {A} - d >= 90 AND {A} - d < 180) AS prev,
        max(gap) FILTER (WHERE {A} - d < 90) AS mg,
        min(d) FILTER (WHERE d - first_date >= 1) AS rep_date
        FROM f GROUP BY customer_id""")
    cycle, pop = con.execute("SELECT (SELECT median(gap) FROM f WHERE gap > 0), median(typical) FROM c").fetchone()
    repurchase = q(f"""SELECT w AS window_days,
        count(*) FILTER (WHERE {A} - first_date >= w) AS eligible,
        count(*) FILTER (WHERE {A} - first_date >= w AND rep_date - first_date <= w) AS r
        FROM c, (VALUES (30), (90), (180)) v(w) GROUP BY w ORDER BY w""")
    repurchase["repurchase_rate"] = repurchase["r"] / repurchase["eligible"]
    timings["customer pass"] = round(time.perf_counter() - t, 2)

    t = time.perf_counter()
    # sessions: per month (count, seconds, exact median) and per customer x month (active days as a
    # bit mask) from one typed scan kept in memory; the churn visit windows from its last 180 days
    con.execute(f"""CREATE TEMP TABLE s AS SELECT customer_id, CAST({midx('start')} AS USMALLINT) AS idx,
        duration, CAST(day(start) - 1 AS UTINYINT) AS day0, CAST({A} - CAST(start AS DATE) AS INTEGER) AS age
        FROM {S} WHERE CAST(start AS DATE) <= {A}""")
    act = q(f"""SELECT a.idx, a.sessions, a.med AS median_session_seconds, v.visitors, v.visitor_days
        FROM (SELECT idx, count(*) AS sessions, median(duration) AS med FROM s GROUP BY idx) a
        JOIN (SELECT idx, count(*) AS visitors, sum(days) AS visitor_days FROM
              (SELECT customer_id, idx, bit_count(bit_or(CAST(1 AS INTEGER) << day0)) AS days FROM s GROUP BY ALL)
              GROUP BY idx) v USING (idx) ORDER BY a.idx""")
    con.execute("""CREATE TEMP TABLE sa AS SELECT customer_id, sum(duration) FILTER (WHERE age < 90) AS vr,
        sum(duration) FILTER (WHERE age >= 90) AS vp FROM s WHERE age < 180 GROUP BY customer_id""")
    first_s = pd.Timestamp(con.execute(f"SELECT min(CAST(start AS DATE)) FROM {S}").fetchone()[0])
    days = [(min(_month_end(i), as_of) - max(pd.Timestamp(year=i // 12, month=i % 12 + 1, day=1), first_s)).days + 1
            for i in act["idx"]]
    act["stickiness"] = act["visitor_days"] / np.array(days) / act["visitors"]
    timings["activity"] = round(time.perf_counter() - t, 2)

    t = time.perf_counter()
    rf = q(f"SELECT customer_id, purchase_days, last_date - first_date AS rd, {A} - first_date AS td, "
           f"{A} - last_date AS since FROM c")
    rf["p_alive"] = p_alive_mbgnbd(rf["purchase_days"], rf["rd"], rf["td"], rf["since"])
    con.register("pa", rf[["customer_id", "p_alive"]])
    churn = q(f"""SELECT customer_id FROM (
        SELECT c.customer_id, c.spend, {A} - c.last_date AS since,
          least(greatest((({A} - c.last_date) / coalesce(c.typical, {float(pop)}) - 1.0) / (2.0 - 1.0), 0), 1) AS so,
          CASE WHEN prev > 0 THEN least(greatest(-((rec - prev) / prev) / 0.5, 0), 1) END AS sf,
          CASE WHEN coalesce(s.vp, 0) > 0 THEN least(greatest(-((coalesce(s.vr, 0) - s.vp) / s.vp) / 0.5, 0), 1) END AS sv,
          1.0 - pa.p_alive AS sa, pa.p_alive AS p
        FROM c LEFT JOIN sa s USING (customer_id) LEFT JOIN pa USING (customer_id))
        WHERE since <= 365 AND (so >= 1 OR coalesce(sf >= 1, false) OR coalesce(sv >= 1, false) OR coalesce(p < 0.5, false))
        ORDER BY (so + coalesce(sf, 0) + coalesce(sv, 0) + coalesce(sa, 0))
                 / (1 + (sf IS NOT NULL)::INT + (sv IS NOT NULL)::INT + (sa IS NOT NULL)::INT) DESC,
                 spend DESC, customer_id""")
    timings["churn_risk"] = round(time.perf_counter() - t, 2)

    t = time.perf_counter()
    caps = f"CASE WHEN r_days / {float(cycle)} <= 1 THEN 5 WHEN r_days / {float(cycle)} <= 2 THEN 3 " \
           f"WHEN r_days / {float(cycle)} <= 4 THEN 2 ELSE 1 END"
    seg_cases = " ".join(
        f"WHEN least(r, {caps}) BETWEEN {a} AND {b} AND fs BETWEEN {x} AND {y} THEN '{s.replace(chr(39), chr(39) * 2)}'"
        for s, a, b, x, y in [("Champions", 4, 5, 4, 5), ("Loyal", 3, 5, 3, 5), ("Potential loyalist", 4, 5, 2, 3),
                              ("New", 4, 5, 1, 1), ("Promising", 3, 3, 1, 2), ("Can't lose them", 1, 1, 4, 5),
                              ("At risk", 1, 2, 3, 5), ("About to sleep", 2, 2, 1, 2), ("Hibernating", 1, 1, 2, 2),
                              ("Lost", 1, 1, 1, 1)])
    rfm = q(f"""SELECT CASE {seg_cases} ELSE 'Unclassified' END AS segment, count(*) AS n FROM (
        SELECT {A} - last_date AS r_days,
          1 + (5 * (rank() OVER (ORDER BY {A} - last_date DESC) - 1)) // count(*) OVER () AS r,
          1 + (5 * (rank() OVER (ORDER BY orders) - 1)) // count(*) OVER () AS fs FROM c) GROUP BY ALL""")
    timings["rfm"] = round(time.perf_counter() - t, 2)

    # lifecycle at as_of and at the 13 dates of the shares / transitions: one join on date ranges
    t = time.perf_counter()
    first = int(con.execute(f"SELECT {midx('min(d)')} FROM f").fetchone()[0])
    ends = [_month_end(i) for i in range(first, last_full + 1)][-12:]
    if not ends or ends[-1] != as_of:
        ends.append(as_of)
    d0 = max(as_of - pd.Timedelta(days=365), pd.Timestamp(con.execute("SELECT min(d) FROM f").fetchone()[0]))
    dates = sorted(set(ends) | {d0})
    vals = ", ".join(f"(DATE '{d.date()}')" for d in dates)
    stage_sql = """CASE WHEN since > 180 THEN 'churned' WHEN tenure < 30 THEN 'new'
        WHEN coalesce(mg, 0) > 180 THEN 'reactivated'
        WHEN since > 90 OR (prev > 0 AND rec < 0.5 * prev) THEN 'declining'
        WHEN tenure < 180 OR (rec >= 2 AND rec >= 1.5 * prev) THEN 'growing' ELSE 'mature' END"""
    # one scan per date of the facts in its 181-day window (the facts are stored in date order,
    # so each scan reads only that window's row groups)
    con.execute("CREATE TABLE fd AS SELECT customer_id, d, gap, first_date FROM f ORDER BY d")
    con.execute("CREATE TABLE st (dd DATE, customer_id BIGINT, stage VARCHAR)")
    for dd in dates:
        D = f"DATE '{dd.date()}'"
        con.execute(f"""INSERT INTO st SELECT {D}, customer_id, {stage_sql} FROM (
            SELECT customer_id, {D} - min(first_date) AS tenure, {D} - max(d) AS since,
              count(*) FILTER (WHERE {D} - d < 90) AS rec, count(*) FILTER (WHERE {D} - d >= 90 AND {D} - d < 180) AS prev,
              max(gap) FILTER (WHERE {D} - d < 90) AS mg
            FROM fd WHERE d <= {D} AND d > {D} - 181 GROUP BY customer_id)""")
    counted = q("SELECT dd, stage, count(*) AS n FROM st GROUP BY ALL")
    acq = dict(con.execute(f"SELECT dd, count(*) FROM (SELECT DISTINCT customer_id, first_date FROM f WHERE seq = 1), "
                           f"(VALUES {vals}) v(dd) WHERE first_date <= dd GROUP BY dd").fetchall())
    shares = []
    for d in ends:
        cnt = counted[counted["dd"] == d]
        for s_, n in zip(cnt["stage"], cnt["n"]):
            shares.append(dict(date=d, stage=s_, customers=int(n) + (acq[d.date()] - int(cnt["n"].sum()) if s_ == "churned" else 0)))
        if "churned" not in set(cnt["stage"]) and acq[d.date()] > cnt["n"].sum():
            shares.append(dict(date=d, stage="churned", customers=acq[d.date()] - int(cnt["n"].sum())))
    shares = pd.DataFrame(shares)
    lifecycle = counted[counted["dd"] == as_of].copy()
    lc = dict(zip(shares.loc[shares["date"] == as_of, "stage"], shares.loc[shares["date"] == as_of, "customers"]))
    lifecycle = pd.DataFrame({"stage": np.repeat(list(lc), list(lc.values()))})
    tr = q(f"""SELECT CASE WHEN a.stage IS NOT NULL THEN a.stage WHEN k.first_date <= DATE '{d0.date()}' THEN 'churned'
            ELSE 'prospect' END AS from_stage, coalesce(b.stage, 'churned') AS to_stage, count(*) AS customers
        FROM (SELECT customer_id, first_date FROM f WHERE seq = 1) k
        LEFT JOIN (SELECT * FROM st WHERE dd = DATE '{d0.date()}') a USING (customer_id)
        LEFT JOIN (SELECT * FROM st WHERE dd = {A}) b USING (customer_id) GROUP BY ALL""")
    timings["lifecycle (13 dates)"] = round(time.perf_counter() - t, 2)

    # products: product x month totals in one pass, stages in numpy, stage KPIs in one join
    t = time.perf_counter()
    ps = q(f"""SELECT product_id, {midx('timestamp')} AS idx, count(*) AS n FROM {O}
        WHERE CAST(timestamp AS DATE) <= {A} GROUP BY ALL""")
    products = product_stages(ps, last_full)
    con.register("pst", products)
    lo = pd.Timestamp(year=(last_full - 2) // 12, month=(last_full - 2) % 12 + 1, day=1)
    stage_kpis = q(f"""SELECT p.stage, count(*) AS orders FROM {O} o JOIN pst p USING (product_id)
        WHERE CAST(o.timestamp AS DATE) BETWEEN DATE '{lo.date()}' AND DATE '{_month_end(last_full).date()}'
        GROUP BY ALL""")
    timings["products"] = round(time.perf_counter() - t, 2)
    t_kpi, c_kpi = time.perf_counter() - t3, _cpu() - c3
    digest = make_digest(
        retention=ret[ret["cohort"] + ret["k"] <= last_full], retention_n=retention_n, repurchase=repurchase,
        repeat=rep, activity=act, churn=churn,
        rfm=pd.DataFrame({"segment": np.repeat(rfm["segment"].to_numpy(), rfm["n"].to_numpy())}),
        lifecycle=lifecycle, shares=shares, transitions=tr, products=products, stage_kpis=stage_kpis)
    return dict(side="sql", load_s=t_load, load_cpu=c_load, prep_s=t_prep, prep_cpu=c_prep, kpi_s=t_kpi,
                kpi_cpu=c_kpi, total_s=t_load + t_prep + t_kpi, total_cpu=c_load + c_prep + c_kpi,
                maxrss_gib=_maxrss_gib(), per_table=timings, digest=digest)


# ============================================================================ digest
def make_digest(retention, retention_n, repurchase, repeat, activity, churn, rfm, lifecycle, shares,
                transitions, products, stage_kpis) -> dict:
    """Headline numbers both sides must agree on."""
    def r(x, nd=6):
        return round(float(x), nd)

    sh = shares[shares["customers"] > 0]
    tr = transitions[transitions["customers"] > 0]
    return {
        "retention_cells": int(len(retention[retention["active_customers"] > 0])),
        "retention_active_sum": int(retention["active_customers"].sum()),
        "retention_revenue_sum": r(retention["revenue"].sum(), 2),
        "retention_n_rates": [r(x) for x in retention_n["retention_rate"]],
        "rolling_rates": [r(x) for x in retention_n["rolling_retention_rate"]],
        "repurchase_rates": [r(x) for x in repurchase["repurchase_rate"]],
        "returning_customers": int(repeat["returning_customers"].sum()),
        "repeat_orders": int(repeat["repeat_orders"].sum()),
        "activity_sessions": int(activity["sessions"].sum()),
        "activity_visitor_sum": int(activity["visitors"].sum()),
        "stickiness": [r(x) for x in activity["stickiness"]],
        "median_session_seconds": [r(x) for x in activity["median_session_seconds"]],
        "churn_at_risk": int(len(churn)),
        "churn_top20": [int(x) for x in churn["customer_id"].head(20)],
        "rfm_segments": {str(k): int(v) for k, v in sorted(rfm["segment"].value_counts().items())},
        "lifecycle": {str(k): int(v) for k, v in sorted(lifecycle["stage"].value_counts().items())},
        "stage_shares": sorted((str(pd_ts(d)), str(s), int(n)) for d, s, n in zip(sh["date"], sh["stage"], sh["customers"])),
        "transitions": sorted((str(a), str(b), int(n)) for a, b, n in zip(tr["from_stage"], tr["to_stage"], tr["customers"])),
        "product_stages": {str(k): int(v) for k, v in sorted(products["stage"].value_counts().items())},
        "stage_kpi_orders": {str(k): int(v) for k, v in zip(stage_kpis["stage"], stage_kpis["orders"]) if v},
    }


def pd_ts(d):
    import pandas as pd

    return pd.Timestamp(d).date()


def compare(a: dict, b: dict) -> list[str]:
    out = []
    for k in a:
        x, y = a[k], b.get(k)
        if isinstance(x, list) and x and isinstance(x[0], float):
            same = len(x) == len(y) and all(abs(p - q) <= 1e-6 * max(1, abs(p)) for p, q in zip(x, y))
        elif isinstance(x, float):
            same = abs(x - y) <= 1e-6 * max(1, abs(x))
        else:
            same = x == y
        if not same:
            out.append(k)
    return out


# ============================================================================ driver
def ensure_data(n_orders: int, seed: int) -> tuple[Path, float | None]:
    d = DATA / f"tx_{n_orders}_{seed}"
    if (d / "orders.parquet").exists() and (d / "sessions.parquet").exists():
        return d, None
    from crm_research.simulate import write_transactions

    t = time.perf_counter()
    write_transactions(d, n_orders=n_orders, seed=seed, overwrite=True)
    return d, time.perf_counter() - t


def _gib(text: str | None) -> float | None:
    """A DuckDB memory limit such as '3GB' or '2.5GiB' in GiB (None if not given or not understood)."""
    import re

    m = re.fullmatch(r"\s*([0-9.]+)\s*(KB|MB|GB|TB|KIB|MIB|GIB|TIB)\s*", str(text or "").upper())
    if not m:
        return None
    f = {"KB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12, "KIB": 2 ** 10, "MIB": 2 ** 20, "GIB": 2 ** 30, "TIB": 2 ** 40}
    return float(m.group(1)) * f[m.group(2)] / 2 ** 30


def child(side: str, args) -> dict:
    cmd = [sys.executable, __file__, "--side", side, "--orders", str(args.orders), "--seed", str(args.seed)]
    for k in ("memory_limit", "threads", "database"):
        v = getattr(args, k)
        if v:
            cmd += [f"--{k.replace('_', '-')}", str(v)]
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        return {"side": side, "error": (p.stderr.strip().splitlines() or ["failed"])[-1],
                "maxrss_gib": float("nan")}
    return json.loads(p.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--orders", type=int, default=10_000_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--memory-limit", default="3GB", help="DuckDB memory limit (default 3GB)")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--database", default=None, help="DuckDB database file (default: in memory)")
    ap.add_argument("--no-pandas", action="store_true", help="skip the pandas baseline")
    ap.add_argument("--pandas", action="store_true", help="run pandas even above 20 million orders")
    ap.add_argument("--no-sql", action="store_true", help="skip the hand-written DuckDB SQL limit")
    ap.add_argument("--side", choices=["engine", "pandas", "sql"], help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    d = DATA / f"tx_{args.orders}_{args.seed}"
    if args.side == "engine":
        tmp = DATA / "duckdb_tmp"
        print(json.dumps(run_engine(str(d / "orders.parquet"), str(d / "sessions.parquet"), args.memory_limit,
                                    str(tmp), args.threads, args.database)))
        return 0
    if args.side == "pandas":
        print(json.dumps(run_pandas(str(d / "orders.parquet"), str(d / "sessions.parquet"))))
        return 0
    if args.side == "sql":
        print(json.dumps(run_sql(str(d / "orders.parquet"), str(d / "sessions.parquet"), args.memory_limit,
                                 args.threads)))
        return 0

    d, gen_s = ensure_data(args.orders, args.seed)
    import pyarrow.parquet as pq

    n_o = pq.ParquetFile(d / "orders.parquet").metadata.num_rows
    n_s = pq.ParquetFile(d / "sessions.parquet").metadata.num_rows
    print(f"KPI suite benchmark: {n_o:,} orders, {n_s:,} sessions ({d.relative_to(HERE.parent)}), "
          f"{os.cpu_count()} cores, DuckDB memory_limit {args.memory_limit}")
    if gen_s is not None:
        print(f"  generated the log in {gen_s:.1f} s (cached for later runs)")
    load = os.getloadavg()[0]
    print(f"  load average before the run: {load:.1f} (other processes share the CPU; compare CPU seconds too)")
    eng = child("engine", args)
    skip_pandas = args.no_pandas or (args.orders > 20_000_000 and not args.pandas)
    pdr = None if skip_pandas else child("pandas", args)
    sql = None if args.no_sql else child("sql", args)

    def line(r):
        if r is None:
            return "skipped (pass --pandas to force)"
        if "error" in r:
            return f"FAILED: {r['error']}"
        return (f"load {r['load_s']:6.1f} s | prepare {r['prep_s']:5.1f} s | KPIs {r['kpi_s']:6.1f} s | "
                f"total {r['total_s']:6.1f} s wall, {r['total_cpu']:6.1f} s CPU | peak RSS {r['maxrss_gib']:.2f} GiB")

    print(f"  engine (DuckDB/ibis): {line(eng)}")
    if pdr is not None and "error" in pdr:
        print(f"baseline failed: pandas KPI suite: {pdr['error']}")
    print(f"  pandas baseline     : {line(pdr)}")
    if sql is not None:
        print(f"  DuckDB SQL (limit)  : {line(sql)}")
    if pdr is not None and "error" not in pdr and "error" not in eng:
        print(f"  ratio pandas / engine: wall {pdr['total_s'] / eng['total_s']:.1f}x, "
              f"CPU {pdr['total_cpu'] / eng['total_cpu']:.1f}x, peak memory {pdr['maxrss_gib'] / eng['maxrss_gib']:.1f}x")
        diff = compare(eng["digest"], pdr["digest"])
        print("  results agree: " + ("yes (" + str(len(eng["digest"])) + " headline figures)" if not diff
                                       else "NO, differ in " + ", ".join(diff)))
        print("  per table (s):  " + "  ".join(f"{k} {eng['per_table'].get(k, '-')}/{v}"
                                             for k, v in pdr["per_table"].items()) + "   (engine/pandas)")
    if sql is not None and "error" not in sql and "error" not in eng:
        print(f"  ratio engine / SQL limit: wall {eng['total_s'] / sql['total_s']:.1f}x, "
              f"CPU {eng['total_cpu'] / sql['total_cpu']:.1f}x")
        if pdr is not None and "error" not in pdr:
            print(f"  ratio pandas / SQL limit: wall {pdr['total_s'] / sql['total_s']:.1f}x, "
                  f"CPU {pdr['total_cpu'] / sql['total_cpu']:.1f}x")
            diff = compare(sql["digest"], pdr["digest"])
            print("  SQL limit agrees with pandas: " + ("yes" if not diff else "NO, differ in " + ", ".join(diff)))
        elif eng["digest"]:
            diff = compare(sql["digest"], eng["digest"])
            print("  SQL limit agrees with the engine: " + ("yes" if not diff else "NO, differ in " + ", ".join(diff)))
        print("  SQL limit per step (s): " + "  ".join(f"{k} {v}" for k, v in sql["per_table"].items()))
    if "error" not in eng and args.orders == 10_000_000:   # issue 15's targets
        ok_t = eng["total_s"] <= 8
        msg = f"  targets (10M orders): total <= 8 s wall: {'met' if ok_t else 'missed'}"
        if pdr is not None and "error" not in pdr:
            msg += f"; CPU >= 4x less than pandas: {'met' if pdr['total_cpu'] >= 4 * eng['total_cpu'] else 'missed'}"
        print(msg)
    if "error" not in eng and args.orders == 100_000_000:
        lim = _gib(args.memory_limit)
        print(f"  targets (100M orders): total <= 90 s: {'met' if eng['total_s'] <= 90 else 'missed'}"
              + (f"; peak RSS within the memory limit ({args.memory_limit}): "
                 f"{'met' if eng['maxrss_gib'] <= lim else 'missed'}" if lim else ""))
    return 0 if "error" not in eng else 1


if __name__ == "__main__":
    sys.exit(main())

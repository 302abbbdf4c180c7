"""``kpi.distinct.key_check`` and its use in ``ingest``'s Parquet quick path (issue 15).

The check proves "no two keys are equal" by sorting keys outside DuckDB (or a byte map for a
narrow integer range), in hash partitions when memory is short. Expected values come from pandas
(``is_unique``, ``value_counts``) and from the materialized-table path of ``ingest`` (which does
not use the check: copies are marked by a window over the staged table).
"""
from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pytest

from crm_research.kpi import distinct, orders
from crm_research.kpi.distinct import key_check, memory_budget
from crm_research.kpi.orders import ORDERS, SESSIONS, ingest


# ----------------------------------------------------------------------------- key_check alone
def _frame_con(df: pd.DataFrame):
    con = duckdb.connect()
    con.register("t", df)
    return con


def _expected(df):
    k = df["k"].dropna()
    codes = df["c"].fillna(0).astype(int).value_counts()
    return bool(k.is_unique), len(k), {int(i): int(n) for i, n in codes.items()}


@pytest.mark.parametrize("budget,spill,method,passes", [
    (None, True, "sort", 1),          # all keys fit: one scan, sort
    (8 * 50, True, "bytemap", 2),     # 300 rows > 50 keys, ids within 400 values: min/max + byte map
    (8 * 4, True, "spill", 2),        # range too wide for 32 bytes: min/max + one scan to 128 files
    (8 * 4, False, "sort", 1 + 75),   # ... or 75 hash partitions, one scan each
])
@pytest.mark.parametrize("dups", [False, True])
def test_integer_keys_match_pandas(budget, spill, method, passes, dups):
    rng = np.random.default_rng(1)
    if budget == 8 * 4:
        ids = rng.choice(10**12, 300, replace=False).astype(float)
    else:
        ids = rng.permutation(400)[:300].astype(float)
    if dups:
        ids[[10, 200]] = ids[[57, 3]]
    ids[[5, 150, 151]] = np.nan                              # NULL keys are ignored
    df = pd.DataFrame({"k": pd.array(ids, dtype="Int64"), "c": pd.array(rng.integers(0, 4, 300), dtype="UInt8")})
    df.loc[[0, 7], "c"] = pd.NA                               # NULL code counts as 0
    r = key_check(_frame_con(df), "t", "k", code="c", budget=budget, spill=spill)
    unique, keys, counts = _expected(df)
    assert (r.unique, r.keys, r.rows, r.code_counts) == (unique, keys, 300, counts)
    assert unique is (not dups)
    assert r.method == method and r.passes == passes


@pytest.mark.parametrize("budget,spill", [(None, True), (40, True), (40, False)])
def test_hash_keys_are_exact_for_unique_and_maybe_for_equal_hashes(budget, spill):
    words = pd.DataFrame({"s": [f"id{i}" for i in range(100)] + [None, None]})
    con = _frame_con(words)
    key = "CASE WHEN s IS NOT NULL THEN hash(s) END"
    r = key_check(con, "t", key, kind="hash", budget=budget, spill=spill)
    assert r.unique and r.keys == 100 and r.rows == 102
    assert r.passes == (1 if budget is None or spill else 21)
    # a copy of a value is found
    con2 = _frame_con(pd.DataFrame({"s": words["s"].tolist() + ["id42"]}))
    assert not key_check(con2, "t", key, kind="hash", budget=budget, spill=spill).unique
    # distinct values whose (here deliberately weak) hashes are equal: only "maybe"
    assert not key_check(con, "t", f"({key}) % 7", kind="hash", budget=budget, spill=spill).unique


def test_spill_files_go_to_duckdbs_temp_directory(tmp_path, monkeypatch):
    con = _frame_con(pd.DataFrame({"k": np.arange(1000) * 7919}))
    con.execute(f"SET temp_directory = '{tmp_path.as_posix()}'")
    seen = []
    real = distinct.tempfile.TemporaryFile

    def spy(*a, **kw):
        seen.append(kw.get("dir"))
        return real(*a, **kw)
    monkeypatch.setattr(distinct.tempfile, "TemporaryFile", spy)
    r = key_check(con, "t", "k", budget=800)
    assert r.unique and r.method == "spill" and seen and set(seen) == {tmp_path.as_posix()}
    assert list(tmp_path.iterdir()) == []                                  # nothing left behind


def test_no_room_for_spill_files_falls_back_to_one_scan_per_partition(monkeypatch):
    def full(*a, **kw):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(distinct.tempfile, "TemporaryFile", full)
    con = _frame_con(pd.DataFrame({"k": np.r_[np.arange(500) * 7919, 7919]}))
    r = key_check(con, "t", "k", budget=800)
    assert not r.unique and r.method == "sort" and r.passes == 1 + 6


def test_all_null_and_empty_keys():
    con = _frame_con(pd.DataFrame({"k": pd.array([None, None, None], dtype="Int64"), "c": [1, 1, 2]}))
    r = key_check(con, "t", "k", code="c", budget=8)
    assert (r.unique, r.keys, r.rows, r.code_counts) == (True, 0, 3, {1: 2, 2: 1})
    r = key_check(con, "(SELECT * FROM t WHERE false)", "k")
    assert (r.unique, r.keys, r.rows) == (True, 0, 0)


@pytest.mark.parametrize("budget", [None, 8 * 4])
def test_codes_counted_when_whole_batches_have_none(budget, monkeypatch):
    """Batches where no row has a code (all NULL, the usual case of a clean file) add their rows
    to code 0 without a pass over them; batches with codes are counted as before."""
    monkeypatch.setattr(distinct, "_BATCH", 16)
    c = pd.array([pd.NA] * 200, dtype="UInt8")
    c[[40, 41, 150]] = [2, 3, 2]                     # three batches of 16 hold codes, the others none
    df = pd.DataFrame({"k": pd.array(np.arange(200), dtype="Int64"), "c": c})
    r = key_check(_frame_con(df), "t", "k", code="c", budget=budget)
    assert r.code_counts == {0: 197, 2: 2, 3: 1} and r.rows == 200 and r.unique
    r = key_check(_frame_con(df.assign(c=pd.array([pd.NA] * 200, dtype="UInt8"))), "t", "k", code="c", budget=budget)
    assert r.code_counts == {0: 200} and r.rows == 200


def test_bad_kind_and_memory_budget():
    con = duckdb.connect()
    with pytest.raises(ValueError, match="kind must be 'int' or 'hash'"):
        key_check(con, "range(3)", "range", kind="text")
    con.execute("SET memory_limit = '2GB'")
    assert memory_budget(con) == pytest.approx(0.25 * 2e9, rel=0.1)      # DuckDB reports 1.8 GiB
    con.execute("SET memory_limit = '64GB'")
    assert memory_budget(con) == 1 << 30                                  # capped at 1 GiB


# ----------------------------------------------------------------------------- ingest's quick path
def _stage_sql(con, table="orders"):
    return con.execute(f"SELECT sql FROM duckdb_views() WHERE view_name = '_{table}_stage'").fetchall()[0][0]


def _run(source, spec=ORDERS, **kw):
    con = duckdb.connect()
    rep = ingest(con, source, spec, **kw)
    rows = con.execute(f"SELECT * FROM {spec.name} ORDER BY ALL").fetchall()
    return con, rep, rows


def _same(a, b):
    (_, ra, rows_a), (_, rb, rows_b) = a, b
    assert (ra.rows_read, ra.rows_kept) == (rb.rows_read, rb.rows_kept)
    pd.testing.assert_frame_equal(ra.counts.reset_index(drop=True), rb.counts.reset_index(drop=True))
    pd.testing.assert_frame_equal(ra.issues[["problem", "column", "row"]].reset_index(drop=True),
                                  rb.issues[["problem", "column", "row"]].reset_index(drop=True))
    assert rows_a == rows_b


def _weak_hashes(monkeypatch, mod=2):
    """Make every hash key of the quick path collide often (distinct values, equal "hashes")."""
    real = distinct.key_check
    calls = []

    def weak(con, relation, key, *, kind="int", **kw):
        r = real(con, relation, f"({key}) % {mod}" if kind == "hash" else key, kind=kind, **kw)
        calls.append((kind, r.unique))
        return r
    monkeypatch.setattr(orders, "key_check", weak)
    return calls


def _log(ids, customers=None):
    n = len(ids)
    return pd.DataFrame({"customer_id": customers if customers is not None else [1 + i % 3 for i in range(n)],
                         "order_id": ids,
                         "timestamp": pd.to_datetime("2024-01-01") + pd.to_timedelta(np.arange(n), "D"),
                         "amount": np.arange(n, dtype=float) + 1.0})


def test_clean_parquet_proves_no_copies_without_the_window(tmp_path):
    f = tmp_path / "o.parquet"
    _log([1000 * i for i in range(1, 13)]).to_parquet(f)
    con, rep, rows = _run(str(f))
    assert rep.rows_read == rep.rows_kept == 12 and rep.counts.empty
    assert "row_number()" not in _stage_sql(con)                           # the quick path was taken


def test_copies_and_problems_match_the_materialized_path(tmp_path, monkeypatch):
    df = _log([1000 * i for i in range(1, 13)])
    df.loc[3] = df.loc[1]                                  # exact copy of row 2 (record 4)
    df.loc[6, "order_id"] = df.loc[5, "order_id"]          # same order id, different row
    df.loc[8, "amount"] = -5.0                             # negative amount
    df.loc[9, "customer_id"] = None                        # missing customer
    df.loc[10] = df.loc[1]                                 # another copy of row 2 (record 11)
    f = tmp_path / "o.parquet"
    df.to_parquet(f)
    pol = {"negative_amount": "drop", "missing_value": "drop", "duplicate_order_id": "drop"}
    quick = _run(str(f), policy=pol)
    c = quick[1].counts.set_index("problem")["rows"].to_dict()
    assert c == {"missing_value": 1, "negative_amount": 1, "duplicate_row": 2, "duplicate_order_id": 1}
    assert quick[1].issues.query("problem == 'duplicate_row'")["row"].tolist() == [4, 11]
    assert "row_number()" in _stage_sql(quick[0])                         # copies: the exact window ran
    _same(quick, _run(str(f), policy=pol, materialize=True))
    # hash partitions (a 16-byte budget: 2 keys at a time) give the same answer
    monkeypatch.setattr(distinct, "memory_budget", lambda con: 16)
    _same(quick, _run(str(f), policy=pol))
    # colliding hashes: both paths end in their exact windows
    calls = _weak_hashes(monkeypatch)
    _same(quick, _run(str(f), policy=pol))
    _same(quick, _run(str(f), policy=pol, materialize=True))
    assert calls and not any(u for _, u in calls)


@pytest.mark.parametrize("copies", [False, True])
def test_csv_table_path_with_and_without_colliding_hashes(tmp_path, monkeypatch, copies):
    df = _log([5, 6, 7, 8, 9, 10])
    if copies:
        df.loc[4] = df.loc[0]
    f = tmp_path / "o.csv"
    df.to_csv(f, index=False)
    plain = _run(str(f))
    assert plain[1].counts.set_index("problem")["rows"].to_dict() == ({"duplicate_row": 1} if copies else {})
    if copies:
        assert plain[1].issues["row"].tolist() == [6]          # CSV line 6 (header is line 1)
    calls = _weak_hashes(monkeypatch)
    _same(plain, _run(str(f)))
    assert calls[0] == ("hash", False)


@pytest.mark.parametrize("copies", [False, True])
def test_string_order_ids_with_colliding_hashes_end_in_the_exact_path(tmp_path, monkeypatch, copies):
    ids = ["o1", "o2", "007", "A-9", "o5", "o6", "o7", "o8"]
    df = _log(ids)
    if copies:
        df.loc[5] = df.loc[0]
    f = tmp_path / "o.parquet"
    df.to_parquet(f)
    plain = _run(str(f))
    assert plain[0].execute("SELECT typeof(order_id) FROM orders LIMIT 1").fetchall()[0][0] == "VARCHAR"
    assert ("row_number()" in _stage_sql(plain[0])) is copies
    calls = _weak_hashes(monkeypatch)
    weak = _run(str(f))
    # "maybe" (8 ids, 2 hash values) in the quick pass and in the order-id check of the usable rows
    assert calls == [("hash", False), ("hash", False)]
    assert "row_number()" in _stage_sql(weak[0])
    _same(plain, weak)
    _same(plain, _run(str(f), materialize=True))
    if copies:
        assert plain[1].counts.set_index("problem")["rows"].to_dict() == {"duplicate_row": 1}


def test_null_order_ids_are_not_duplicates_of_each_other(tmp_path, monkeypatch):
    df = _log(pd.array([10, None, 30, None, 50, 60], dtype="Int64"))
    f = tmp_path / "o.parquet"
    df.to_parquet(f)
    quick = _run(str(f), policy={"missing_value": "drop"})
    assert quick[1].counts.set_index("problem")["rows"].to_dict() == {"missing_value": 2}
    assert "row_number()" not in _stage_sql(quick[0])
    _same(quick, _run(str(f), policy={"missing_value": "drop"}, materialize=True))
    monkeypatch.setattr(distinct, "memory_budget", lambda con: 8)          # one key per partition
    _same(quick, _run(str(f), policy={"missing_value": "drop"}))


def test_copies_across_files(tmp_path, monkeypatch):
    a = _log([1, 2, 3, 4])
    b = _log([5, 6, 7, 8])
    b.loc[2] = a.loc[1]                                   # file 2, record 3 copies file 1, record 2
    fa, fb = tmp_path / "a.parquet", tmp_path / "b.parquet"
    a.to_parquet(fa)
    b.to_parquet(fb)
    quick = _run([str(fa), str(fb)])
    iss = quick[1].issues.query("problem == 'duplicate_row'")
    assert iss["row"].tolist() == [3] and iss["file"].tolist() == [str(fb)]
    _same(quick, _run([str(fa), str(fb)], materialize=True))
    monkeypatch.setattr(distinct, "memory_budget", lambda con: 24)
    _same(quick, _run([str(fa), str(fb)]))


@pytest.mark.parametrize("copies", [False, True])
def test_sessions_row_hash_collisions_and_partitions(tmp_path, monkeypatch, copies):
    n = 40
    s = pd.DataFrame({"customer_id": [i % 7 for i in range(n)],
                      "start": pd.to_datetime("2024-03-01") + pd.to_timedelta(np.arange(n) * 3, "h"),
                      "duration": np.arange(n, dtype=float) * 10.0, "page_views": np.arange(n) % 5})
    s.loc[11, "duration"] = -1.0
    if copies:
        s.loc[30] = s.loc[2]
        s.loc[31] = s.loc[2]
    f = tmp_path / "s.parquet"
    s.to_parquet(f)
    plain = _run(str(f), SESSIONS, policy="drop")
    c = plain[1].counts.set_index("problem")["rows"].to_dict()
    assert c == ({"negative_value": 1, "duplicate_row": 2} if copies else {"negative_value": 1})
    _same(plain, _run(str(f), SESSIONS, policy="drop", materialize=True))
    calls = _weak_hashes(monkeypatch, mod=3)
    _same(plain, _run(str(f), SESSIONS, policy="drop"))
    assert calls == [("hash", False)]
    monkeypatch.setattr(orders, "key_check", distinct.key_check)
    monkeypatch.setattr(distinct, "memory_budget", lambda con: 8 * 6)      # 7 partitions
    _same(plain, _run(str(f), SESSIONS, policy="drop"))


@pytest.mark.parametrize("budget", [800, 8000, 12000])      # 0, 2 and 3 of 8 partitions kept in memory
def test_spilled_and_in_memory_partitions_both_find_a_copy(budget):
    rng = np.random.default_rng(budget)
    found = []
    for trial in range(12):
        ids = rng.choice(2**62, 2000, replace=False)
        if trial % 3:
            ids[rng.integers(2000)] = ids[rng.integers(2000)]
        df = pd.DataFrame({"k": ids})
        r = key_check(_frame_con(df), "t", "k", budget=budget)
        assert r.method == "spill" and r.unique == df["k"].is_unique and r.keys == 2000
        found.append(r.unique)
    assert found.count(False) >= 7          # the copies were placed (the same index twice is no copy)


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_order_id_of_a_dropped_row_is_no_duplicate(tmp_path, fmt):
    df = _log([11, 12, 13, 12, 15, 16, 15])
    df.loc[1, "amount"] = -1.0                  # the first 12 is dropped: the second is no duplicate
    f = tmp_path / f"o.{fmt}"
    df.to_parquet(f) if fmt == "parquet" else df.to_csv(f, index=False)
    con, rep, rows = _run(str(f), policy={"negative_amount": "drop", "duplicate_order_id": "drop"})
    assert rep.counts.set_index("problem")["rows"].to_dict() == {"negative_amount": 1, "duplicate_order_id": 1}
    assert rep.issues.set_index("problem").loc["duplicate_order_id", "row"] == (7 if fmt == "parquet" else 8)
    assert sorted(r[0] for r in con.execute("SELECT order_id FROM orders").fetchall()) == [11, 12, 13, 15, 16]

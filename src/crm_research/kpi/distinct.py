"""Are all keys of a query distinct? An exact test without DuckDB's ``count(DISTINCT)`` hash table.

``count(*) - count(DISTINCT key)`` over tens of millions of rows builds a hash table of every
key, which costs seconds of CPU and hundreds of megabytes. Proving that there are *no* copies
needs much less: stream the keys (8 bytes each) out of DuckDB, sort them in place and compare
neighbours, or, for integers in a narrow range, mark them in a byte map. When the keys do not fit
in the memory budget (a quarter of the ``memory_limit``, at most 1 GiB) the key space is
split into hash partitions, one scan of the query each.

Keys are either exact integers (``kind="int"``: the answer is exact) or 64-bit hashes of the real
key (``kind="hash"``: equal hashes are only candidates, so the answer is "unique" or "maybe
not"; the caller then runs its exact check). NULL keys are ignored, as ``count(key)`` does.
The same scan can count a small integer code per row (for example a problem code), so a
validation pass needs one scan, not two.
"""
from __future__ import annotations

import math
import os
import re
import tempfile
from dataclasses import dataclass, field

import numpy as np

__all__ = ["KeyCheck", "byte_size", "duckdb_memory_limit", "key_check", "memory_budget", "spill_dir"]

_UNITS = {"": 1, "B": 1, "BYTES": 1, "KB": 1000, "MB": 1000**2, "GB": 1000**3, "TB": 1000**4,
          "KIB": 1 << 10, "MIB": 1 << 20, "GIB": 1 << 30, "TIB": 1 << 40}
_BATCH = 1 << 20          # rows per Arrow batch
_CMP_CHUNK = 1 << 23      # neighbours compared per step (bounds the temporary boolean array)


@dataclass
class KeyCheck:
    """Result of :func:`key_check`.

    Attributes
    ----------
    rows : int
        Rows of the query (NULL keys included).
    keys : int
        Rows with a non-NULL key.
    unique : bool
        True: no two non-NULL keys are equal (proven). False: for ``kind="int"`` there are
        equal keys; for ``kind="hash"`` there may be (two rows share a hash).
    code_counts : dict
        Code value -> number of rows, for the ``code`` expression (codes 0 included).
    passes : int
        Scans of the query that were needed (hash partitions, plus one for an integer range).
    method : str
        ``"sort"`` (all keys, or one partition per scan), ``"spill"`` (one scan, partitions
        in temporary files) or ``"bytemap"``.
    """

    rows: int
    keys: int
    unique: bool
    code_counts: dict = field(default_factory=dict)
    passes: int = 1
    method: str = "sort"


def byte_size(text) -> int | None:
    """Bytes of a memory size in DuckDB's spelling (``"3GB"``, ``"512 MiB"``, ``"2.5gb"``), else None.

    Examples
    --------
    >>> byte_size("3GB"), byte_size("512 MiB"), byte_size("lots")
    (3000000000, 536870912, None)
    """
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([A-Za-z]*)\s*", str(text))
    if not m or m.group(2).upper() not in _UNITS:
        return None
    return int(float(m.group(1)) * _UNITS[m.group(2).upper()])


def memory_budget(con, share: float = 0.25, cap: int = 1 << 30) -> int:
    """Bytes this module may hold: ``share`` of the memory limit, at most ``cap``.

    The memory limit is the one given to :meth:`~crm_research.kpi.engine.KPIEngine.load`
    (kept in the DuckDB variable ``crm_research_memory_limit``; DuckDB itself runs under a
    part of it), else DuckDB's own ``memory_limit``.

    Examples
    --------
    >>> import duckdb
    >>> con = duckdb.connect()
    >>> _ = con.execute("SET memory_limit = '400MB'")
    >>> abs(memory_budget(con) - 400e6 / 4) < 1e6       # DuckDB reports the setting rounded (381.4 MiB)
    True
    >>> _ = con.execute("SET VARIABLE crm_research_memory_limit = 2000000000")
    >>> memory_budget(con) == 2000000000 // 4
    True
    """
    try:
        limit = con.execute("SELECT getvariable('crm_research_memory_limit')").fetchall()[0][0]
    except Exception:  # pragma: no cover - an engine without variables
        limit = None
    if limit is None:
        limit = duckdb_memory_limit(con)
    if limit is None:
        return cap
    return int(max(1 << 20, min(cap, share * int(limit))))


def duckdb_memory_limit(con) -> int | None:
    """DuckDB's own ``memory_limit`` in bytes (None where it cannot be read).

    Examples
    --------
    >>> import duckdb
    >>> con = duckdb.connect()
    >>> _ = con.execute("SET memory_limit = '1GB'")
    >>> abs(duckdb_memory_limit(con) - 1e9) < 1e7       # reported rounded (953.6 MiB)
    True
    """
    try:
        return byte_size(con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0])
    except Exception:  # pragma: no cover - an engine without the setting
        return None


def _scan(con, sql: str, code: str | None, out: np.ndarray | None, dtype, counts: np.ndarray | None,
          mark=None):
    """Stream ``sql`` (columns k[, c]); append non-NULL keys to ``out`` (grown when needed) or
    pass them to ``mark``; add code counts to ``counts``. Returns (out, n_keys, n_rows)."""
    reader = con.sql(sql).to_arrow_reader(_BATCH)
    n = rows = 0
    for batch in reader:
        rows += batch.num_rows
        k = batch.column(0)
        if k.null_count:
            k = k.drop_null()
        a = k.to_numpy(zero_copy_only=False).astype(dtype, copy=False)
        if mark is not None:
            mark(a)
        else:
            if n + len(a) > len(out):
                out = np.resize(out, max(2 * len(out), n + len(a)))
            out[n:n + len(a)] = a
        n += len(a)
        if code is not None:
            c = batch.column(1)
            if c.null_count == len(c):          # the usual case (no code on any row): no pass over the rows
                counts[0] += len(c)
                continue
            c = c.fill_null(0) if c.null_count else c
            bc = np.bincount(c.to_numpy(zero_copy_only=False).astype(np.int64, copy=False))
            if len(bc) > len(counts):
                counts = np.concatenate([counts, np.zeros(len(bc) - len(counts), np.int64)])
            counts[:len(bc)] += bc
    return out, n, rows, counts


def _has_neighbours(a: np.ndarray) -> bool:
    """True when the sorted array ``a`` holds two equal values."""
    for s in range(0, max(len(a) - 1, 0), _CMP_CHUNK):
        e = min(s + _CMP_CHUNK, len(a) - 1)
        if np.any(a[s + 1:e + 1] == a[s:e]):
            return True
    return False


def key_check(con, relation: str, key: str, *, kind: str = "int", code: str | None = None,
              rows: int | None = None, budget: int | None = None, spill: bool = True) -> KeyCheck:
    """Are the non-NULL values of ``key`` over ``relation`` all distinct?

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        The database.
    relation : str
        A FROM-clause item: a table name or a parenthesized query.
    key : str
        SQL expression over ``relation``: a BIGINT (``kind="int"``) or a 64-bit hash such as
        ``hash(a, b)`` (``kind="hash"``). NULL keys are ignored.
    kind : {"int", "hash"}
        ``"int"``: the answer is exact. ``"hash"``: equal hashes make the answer False ("maybe").
    code : str, optional
        SQL expression of a small non-negative integer per row (NULL counts as 0) to count;
        an integer type (UTINYINT keeps the transfer small).
    rows : int, optional
        Number of rows of ``relation`` if known (else counted); chooses the partitions.
    budget : int, optional
        Bytes of keys held at once (default :func:`memory_budget`).
    spill : bool
        When the keys need more than ``budget``: scan once and write them to hash-partition
        files in DuckDB's ``temp_directory`` (or the system's), then sort one file at a time.
        False (or no room on disk): scan once per partition, keeping only its keys.

    Returns
    -------
    KeyCheck

    Examples
    --------
    >>> import duckdb
    >>> con = duckdb.connect()
    >>> key_check(con, "range(10)", "range").unique
    True
    >>> r = key_check(con, "(SELECT range % 7 AS k FROM range(10))", "hash(k)", kind="hash",
    ...               code="k % 2", budget=32)   # 4 keys at a time: partitions spilled to disk
    >>> r.unique, r.method, r.code_counts
    (False, 'spill', {0: 6, 1: 4})
    """
    if kind not in ("int", "hash"):
        raise ValueError(f"kind must be 'int' or 'hash', got {kind!r}")
    budget = memory_budget(con) if budget is None else int(budget)
    if rows is None:
        rows = int(con.execute(f"SELECT count(*) FROM {relation}").fetchall()[0][0])
    dtype = np.int64 if kind == "int" else np.uint64
    cols = f"{key} AS _k" + (f", {code} AS _c" if code is not None else "")
    counts = np.zeros(1, np.int64) if code is not None else None
    passes = 0
    method = "sort"

    def done(unique, n_keys, n_rows):
        cc = {i: int(v) for i, v in enumerate(counts) if v} if counts is not None else {}
        return KeyCheck(rows=n_rows, keys=n_keys, unique=unique, code_counts=cc, passes=passes, method=method)

    per_part = max(1, budget // 8)
    if kind == "int" and rows > per_part:
        # integers in a range no wider than the budget: one byte per possible value, one scan
        lo, hi = con.execute(f"SELECT min({key}), max({key}) FROM {relation}").fetchall()[0]
        passes += 1
        if lo is None:
            method = "bytemap"
            _, n, nr, counts = _scan(con, f"SELECT {cols} FROM {relation}", code, None, dtype, counts,
                                     mark=lambda a: None)
            passes += 1
            return done(True, 0, nr)
        if int(hi) - int(lo) + 1 <= budget:
            method = "bytemap"
            seen = np.zeros(int(hi) - int(lo) + 1, np.bool_)
            lo = int(lo)

            def mark(a):
                seen[a - lo] = True
            _, n, nr, counts = _scan(con, f"SELECT {cols} FROM {relation}", code, None, dtype, counts, mark=mark)
            passes += 1
            return done(int(np.count_nonzero(seen)) == n, n, nr)
    k_parts = max(1, math.ceil(rows / per_part))
    if k_parts > 1 and spill:
        try:
            r = _spill_check(con, f"SELECT {cols} FROM {relation}", code, dtype, counts, rows, budget)
        except OSError:   # no room for the spill files: scan once per partition instead
            r = None
        if r is not None:
            unique, n_keys, n_rows, counts = r
            passes += 1
            method = "spill"
            return done(unique, n_keys, n_rows)
    part_of = f"hash({key})" if kind == "int" else f"coalesce({key}, 0)"
    unique, n_keys, n_rows = True, 0, 0
    for p in range(k_parts):
        sql = f"SELECT {cols} FROM {relation}" + (f" WHERE {part_of} % {k_parts} = {p}" if k_parts > 1 else "")
        m = rows / k_parts
        buf = np.empty(int(m + 8 * math.sqrt(m) + 1024), dtype)
        buf, n, nr, counts = _scan(con, sql, code, buf, dtype, counts)
        passes += 1
        n_keys += n
        n_rows += nr
        a = buf[:n]
        a.sort()
        if unique and _has_neighbours(a):
            unique = False
        del buf, a
    return done(unique, n_keys, n_rows)


_GOLDEN = np.uint64(0x9E3779B97F4A7C15)   # odd: x -> x * _GOLDEN (mod 2**64) is a bijection


def spill_dir(con) -> str | None:
    """DuckDB's ``temp_directory`` where it exists (None: the system's temporary folder).

    Examples
    --------
    >>> import duckdb, tempfile
    >>> d = tempfile.mkdtemp()
    >>> con = duckdb.connect()
    >>> _ = con.execute(f"SET temp_directory = '{d}'")
    >>> spill_dir(con) == d
    True
    """
    try:
        d = str(con.execute("SELECT current_setting('temp_directory')").fetchall()[0][0])
    except Exception:  # pragma: no cover
        return None
    return d if d and os.path.isdir(d) else None


def _spill_check(con, sql, code, dtype, counts, rows, budget):
    """One scan: keys go to 2**b partitions by their top bits (integers first multiplied by an odd
    constant, a bijection, so equality is kept); as many partitions as the budget holds stay in
    memory, the others go to temporary files; then each partition is sorted on its own."""
    bits = max(1, math.ceil(math.log2(max(2, math.ceil(8 * rows / max(8, budget // 4))))))
    n_parts = 1 << bits
    shift = np.uint64(64 - bits)
    m = rows / n_parts
    cap = int(m + 6 * math.sqrt(m) + 16)
    n_mem = min(n_parts - 1, budget // (8 * cap))
    mem = [np.empty(cap, np.uint64) for _ in range(n_mem)]
    fill = [0] * n_mem
    files = []
    try:
        files = [tempfile.TemporaryFile(prefix="crm_keys_", dir=spill_dir(con)) for _ in range(n_parts - n_mem)]
        edges = np.arange(1, n_parts, dtype=np.uint64) << shift

        def mark(a):   # sorting the batch and cutting it at the partition edges beats masks
            u = a.view(np.uint64) * _GOLDEN if dtype == np.int64 else np.array(a, np.uint64)
            u.sort()
            for i, piece in enumerate(np.split(u, np.searchsorted(u, edges))):
                if i < n_mem:
                    j = fill[i] + len(piece)
                    if j > len(mem[i]):
                        mem[i] = np.concatenate([mem[i][:fill[i]], np.empty(j - fill[i] + cap // 8, np.uint64)])
                    mem[i][fill[i]:j] = piece
                    fill[i] = j
                else:
                    piece.tofile(files[i - n_mem])
        _, n_keys, n_rows, counts = _scan(con, sql, code, None, dtype, counts, mark=mark)
        unique = True
        for i in range(n_mem):
            a = mem[i][:fill[i]]
            a.sort()
            unique = unique and not _has_neighbours(a)
            mem[i] = a = None
        for f in files:
            if not unique:
                break
            f.seek(0)
            a = np.fromfile(f, np.uint64)
            f.close()
            a.sort()
            unique = not _has_neighbours(a)
            del a
    finally:
        for f in files:
            f.close()
    return unique, n_keys, n_rows, counts

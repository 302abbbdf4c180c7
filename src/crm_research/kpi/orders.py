"""Reading and validating order and session logs, inside DuckDB.

A log comes from a CSV file, a Parquet file (or a glob / list of them), a pandas DataFrame or a
pyarrow Table. Only the declared KPI columns are selected from it:

========= ===================================================== ====================================
table     required columns                                       optional columns
========= ===================================================== ====================================
orders    ``customer_id, order_id, timestamp, amount``          ``product_id, category, channel``
sessions  ``customer_id, start, duration`` (seconds)             ``page_views``
========= ===================================================== ====================================

Columns named differently in the file are mapped with ``columns={"customer_id": "user",
"timestamp": "paid_at"}`` (canonical name -> file name; the reverse direction is accepted too).
:data:`PURCHASES` is the lighter table of the customer-base models (``clv``): customer id and
timestamp required, amount and order id optional.

Text logs are read as they come: the delimiter is sniffed from the first lines (comma, tab,
semicolon, pipe, or runs of blanks as in the CDNOW master log; ``csv_options={'delim':
'whitespace'}`` / ``--delimiter whitespace`` forces the latter), CRLF line ends are fine, and
a first line that holds only numbers and dates is data, not a header: the columns are then
named ``column1``, ``column2`` ... When the log has no ``order_id``, one is generated: 1, 2, ...
in order of customer id, timestamp and row in the file, so the same file always gets the same
ids; the report says so.

Personal data never enters the engine: every column that is not a declared KPI column (phone,
e-mail, name, address ...) is left unread, and the report lists the ones whose header names
personal data. When the *customer id itself* is personal data (an e-mail address or a phone
number, by header or by content: every distinct id is checked with :func:`personal_kind`, so a
plain 11-digit mobile number stored as an integer counts too) it is replaced by a keyed pseudonym
(:func:`crm_research.privacy.pseudonymize`, HMAC-SHA256 with ``salt``) before any table is
built; pass the same ``salt`` as for the survey data to keep the two linkable.

Validation runs in the engine (``TRY_CAST``/``TRY_STRPTIME`` over the raw text, one pass; one
byte per row records the row's first problem), so it scales to files larger than memory. CSV
files and DataFrames are copied into the engine; Parquet files are scanned in place by
default (a clean Parquet file becomes a plain typed view). Problems and what a policy may do
with them:

===================== ====================================================== ======================
problem               meaning                                                policies
===================== ====================================================== ======================
``missing_value``     a required cell is empty                               error, drop
``bad_timestamp``     timestamp text that is not a date/time                 error, drop
``bad_number``        amount / duration / page views that is not a finite    error, drop
                      number below 1e15 in magnitude (sums are exact to
                      1e-10, see :mod:`.sums`)
``negative_amount``   amount < 0 (a refund?)                                 error, drop, keep
``negative_value``    duration or page views < 0                             error, drop
``duplicate_row``     an exact copy of an earlier row (every column of the   drop (default), keep,
                      source equal, unread ones too)                         error
``duplicate_order_id`` an order id on more than one row                      error, drop (keep the
                                                                             first row in file
                                                                             order), keep (rows
                                                                             are lines of one
                                                                             order)
===================== ====================================================== ======================

A row with several problems is reported under the first one in the order above. ``error``
raises :class:`~crm_research.errors.DataFileError` naming the file, the first offending row, the
column and the value, and how many rows share the problem. Missing required columns and files
without data rows are always errors.

Row numbers: for CSV the line a spreadsheet shows (header = row 1, first record = row 2); for
Parquet the 1-based record number within its file; for DataFrames the 0-based position
(``df.iloc[row]``).

Timestamps: ISO 8601 text (``2024-05-01``, ``2024-05-01 13:45:00``, ``2024-05-01T13:45:00``),
``YYYYMMDD`` (eight digits), ``YYYY/MM/DD`` (optionally with a time), epoch seconds (nine or
ten digits, UTC), or ``timestamp_format`` (strptime codes, e.g. ``"%d/%m/%Y %H:%M"``). Values with a UTC offset
(``...+08:00``, ``...Z``) are converted to local time in ``timezone`` (default UTC); values
without one are taken as local time already. Timezone-aware Parquet columns likewise.
"""
from __future__ import annotations

import glob as _glob
import html
import re
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Mapping, Sequence

import pandas as pd

from ..errors import DataFileError, out_of_memory
from .distinct import key_check
from .sums import EXACT_SUM_TYPE

MAX_NUMBER = 1e15     # beyond: not an amount, duration or count (and exact sums need the room)
PROBLEMS = ("missing_value", "bad_timestamp", "bad_number", "negative_amount", "negative_value",
            "duplicate_row", "duplicate_order_id")
PROBLEM_TEXT = {
    "missing_value": "required value is empty",
    "bad_timestamp": "not a date/time",
    "bad_number": "not a finite number below 1e15 in magnitude",
    "negative_amount": "negative amount",
    "negative_value": "negative value",
    "duplicate_row": "exact copy of an earlier row",
    "duplicate_order_id": "order id already used on an earlier row",
    "conflicting_order": "rows of one order id belong to different customers",
}


# --------------------------------------------------------------------------- schema
@dataclass(frozen=True)
class TableSpec:
    """What a log table must contain (see module docstring).

    Parameters
    ----------
    name : str
        Table name in the engine.
    required, optional : tuple of str
        Canonical columns.
    ids : tuple of str
        Id columns (BIGINT when every value is an integer, else VARCHAR).
    timestamp : str
        The timestamp column.
    numbers : tuple of str
        Numeric columns.
    nonnegative : dict
        Column -> problem code when a value is negative.
    unique : str, optional
        Column whose values must be unique.
    labels : tuple of str
        Free-text columns.

    Examples
    --------
    >>> ORDERS.required
    ('customer_id', 'order_id', 'timestamp', 'amount')
    >>> SESSIONS.timestamp
    'start'
    """

    name: str
    required: tuple[str, ...]
    optional: tuple[str, ...]
    ids: tuple[str, ...]                 # id columns: BIGINT when every value is an integer
    timestamp: str
    numbers: tuple[str, ...]             # parsed as DOUBLE (page_views as BIGINT)
    nonnegative: dict                    # column -> problem code when < 0
    unique: str | None = None
    labels: tuple[str, ...] = ()         # free text (category, channel)
    generated: tuple[str, ...] = ()      # required columns generated when the log lacks them
    filled: tuple[str, ...] = ()         # optional columns that must be filled when present

    @property
    def columns(self) -> tuple[str, ...]:
        """Required and optional columns, in order.

        Returns
        -------
        tuple of str

        Examples
        --------
        >>> SESSIONS.columns
        ('customer_id', 'start', 'duration', 'page_views')
        """
        return self.required + self.optional


ORDERS = TableSpec(
    name="orders",
    required=("customer_id", "order_id", "timestamp", "amount"),
    optional=("product_id", "category", "channel"),
    ids=("customer_id", "order_id", "product_id"),
    timestamp="timestamp",
    numbers=("amount",),
    nonnegative={"amount": "negative_amount"},
    unique="order_id",
    labels=("category", "channel"),
    generated=("order_id",),
)
#: a purchase log for the customer-base models (``clv``): amount and order id may be absent
PURCHASES = TableSpec(
    name="purchases",
    required=("customer_id", "timestamp"),
    optional=("amount", "order_id"),
    ids=("customer_id", "order_id"),
    timestamp="timestamp",
    numbers=("amount",),
    nonnegative={"amount": "negative_amount"},
    unique="order_id",
    filled=("amount",),
)
SESSIONS = TableSpec(
    name="sessions",
    required=("customer_id", "start", "duration"),
    optional=("page_views",),
    ids=("customer_id",),
    timestamp="start",
    numbers=("duration", "page_views"),
    nonnegative={"duration": "negative_value", "page_views": "negative_value"},
)


# --------------------------------------------------------------------------- policy
POLICY_CHOICES = {
    "missing_value": ("error", "drop"),
    "bad_timestamp": ("error", "drop"),
    "bad_number": ("error", "drop"),
    "negative_amount": ("error", "drop", "keep"),
    "negative_value": ("error", "drop"),
    "duplicate_row": ("drop", "keep", "error"),
    "duplicate_order_id": ("error", "drop", "keep"),
}


@dataclass(frozen=True)
class ValidationPolicy:
    """What to do with each kind of bad row: ``"error"`` (default), ``"drop"`` or ``"keep"``.

    ``ValidationPolicy.coerce("drop")`` drops every bad row; a dict sets single problems:
    ``{"negative_amount": "keep", "duplicate_order_id": "drop"}``.

    Parameters
    ----------
    missing_value, bad_timestamp, bad_number, negative_value : {"error", "drop"}
    negative_amount, duplicate_order_id : {"error", "drop", "keep"}
    duplicate_row : {"drop", "keep", "error"}
        An exact copy of an earlier row (every column of the source equal); default ``"drop"``
        (the copies are counted in the report), unlike the other problems.

    Raises
    ------
    ValueError
        A choice a problem does not allow.

    Examples
    --------
    >>> ValidationPolicy(negative_amount='keep').negative_amount
    'keep'
    >>> ValidationPolicy(bad_number='keep')
    Traceback (most recent call last):
    ...
    ValueError: policy for 'bad_number' must be one of ('error', 'drop'), got 'keep'
    """

    missing_value: str = "error"
    bad_timestamp: str = "error"
    bad_number: str = "error"
    negative_amount: str = "error"
    negative_value: str = "error"
    duplicate_row: str = "drop"
    duplicate_order_id: str = "error"

    def __post_init__(self):
        for f in fields(self):
            v = getattr(self, f.name)
            if v not in POLICY_CHOICES[f.name]:
                raise ValueError(f"policy for {f.name!r} must be one of {POLICY_CHOICES[f.name]}, got {v!r}")

    @classmethod
    def coerce(cls, policy: "ValidationPolicy | str | Mapping[str, str] | None") -> "ValidationPolicy":
        """A policy from a policy, a single choice for every problem, a dict or None.

        Parameters
        ----------
        policy : ValidationPolicy, {"error", "drop"}, dict or None
            ``None`` gives the default (every problem an error, except exact duplicate rows,
            which are dropped and counted).

        Returns
        -------
        ValidationPolicy

        Raises
        ------
        ValueError
            An unknown problem or choice.

        Examples
        --------
        >>> ValidationPolicy.coerce('drop').bad_timestamp
        'drop'
        >>> ValidationPolicy.coerce({'negative_amount': 'keep'}).negative_amount
        'keep'
        >>> ValidationPolicy.coerce({'typo': 'drop'})
        Traceback (most recent call last):
        ...
        ValueError: unknown problem(s) in policy: ['typo']; known: ['missing_value', 'bad_timestamp', 'bad_number', 'negative_amount', 'negative_value', 'duplicate_row', 'duplicate_order_id']
        """
        if policy is None:
            return cls()
        if isinstance(policy, cls):
            return policy
        if isinstance(policy, str):
            if policy not in ("error", "drop"):
                raise ValueError("a single policy applies to every problem and must be 'error' or 'drop'; "
                                 "use a dict for 'keep', e.g. {'negative_amount': 'keep'}")
            return cls(**{f.name: policy for f in fields(cls)})
        unknown = set(policy) - set(POLICY_CHOICES)
        if unknown:
            raise ValueError(f"unknown problem(s) in policy: {sorted(unknown)}; known: {list(POLICY_CHOICES)}")
        return cls(**dict(policy))

    def to_dict(self) -> dict[str, str]:
        """Problem -> action.

        Returns
        -------
        dict

        Examples
        --------
        >>> ValidationPolicy().to_dict()['duplicate_order_id']
        'error'
        """
        return {f.name: getattr(self, f.name) for f in fields(self)}


# --------------------------------------------------------------------------- report
@dataclass
class ValidationReport:
    """Result of reading one log.

    Parameters
    ----------
    file, table, rows_read, rows_kept, counts, issues, columns, ignored_columns, personal_data, policy
        As under Attributes.
    notes : list of str
        Remarks on the reading (e.g. a time zone conversion).

    Attributes
    ----------
    file : str
        The source (path, glob, or ``<DataFrame>``).
    table : str
        ``orders`` or ``sessions``.
    rows_read, rows_kept : int
    counts : DataFrame
        One row per problem found: ``problem, column, rows, action`` (``action`` is
        ``dropped``, ``kept`` or ``error``).
    issues : DataFrame
        Example rows, at most ``max_examples`` per problem, in file order:
        ``file, row, column, value, problem, action``.
    columns : dict
        Canonical name -> column read from the source.
    ignored_columns : list of str
        Source columns not read.
    personal_data : DataFrame
        ``column, kind, action`` for ignored columns whose header names personal data and for
        a pseudonymized customer id.
    policy : dict

    Examples
    --------
    >>> import pandas as pd
    >>> from crm_research import kpi
    >>> bad = pd.DataFrame({"customer_id": [1, 2, 3], "order_id": [1, 2, 3],
    ...     "timestamp": ["2024-01-05", "not a date", "2024-01-07"], "amount": [10.0, 5.0, -2.0]})
    >>> rep = kpi.load(bad, policy='drop').reports['orders']
    >>> rep
    ValidationReport(orders, file='<DataFrame>', rows_read=3, rows_kept=1, problems=2)
    >>> rep.issues[['row', 'column', 'value', 'problem']]
       row     column       value          problem
    0    1  timestamp  not a date    bad_timestamp
    1    2     amount        -2.0  negative_amount
    """

    file: str
    table: str
    rows_read: int = 0
    rows_kept: int = 0
    counts: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["problem", "column", "rows", "action"]))
    issues: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["file", "row", "column", "value", "problem", "action"]))
    columns: dict = field(default_factory=dict)
    ignored_columns: list = field(default_factory=list)
    personal_data: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["column", "kind", "action"]))
    policy: dict = field(default_factory=dict)
    notes: list = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when no problem was found.

        Returns
        -------
        bool

        Examples
        --------
        >>> ValidationReport(file='<DataFrame>', table='orders').ok
        True
        """
        return self.counts.empty

    def summary(self) -> str:
        """Rows read and kept and one line per problem found.

        Returns
        -------
        str

        Examples
        --------
        >>> import pandas as pd
        >>> from crm_research import kpi
        >>> bad = pd.DataFrame({"customer_id": [1, 2, 3], "order_id": [1, 2, 3],
        ...     "timestamp": ["2024-01-05", "not a date", "2024-01-07"], "amount": [10.0, 5.0, -2.0]})
        >>> print(kpi.load(bad, policy='drop').reports['orders'].summary())
        orders from <DataFrame>: 3 rows read, 1 kept
          bad_timestamp        timestamp             1 rows  dropped
          negative_amount      amount                1 rows  dropped
        """
        lines = [f"{self.table} from {self.file}: {self.rows_read:,} rows read, {self.rows_kept:,} kept"]
        if self.counts.empty:
            lines.append("  no problems found")
        for r in self.counts.itertuples():
            lines.append(f"  {r.problem:<20} {r.column:<12} {r.rows:>10,} rows  {r.action}")
        for r in self.personal_data.itertuples():
            lines.append(f"  personal data: column {r.column!r} ({r.kind}) {r.action}")
        lines.extend(f"  note: {n}" for n in self.notes)
        return "\n".join(lines)

    def __repr__(self) -> str:
        return (f"ValidationReport({self.table}, file={self.file!r}, rows_read={self.rows_read}, "
                f"rows_kept={self.rows_kept}, problems={len(self.counts)})")

    def _repr_html_(self) -> str:
        from ..reporting.format import html_table

        parts = [f"<p><b>{html.escape(self.table)}</b> from <code>{html.escape(self.file)}</code>: "
                 f"{self.rows_read:,} rows read, {self.rows_kept:,} kept</p>"]
        if not self.counts.empty:
            parts.append(html_table(self.counts))
            parts.append(html_table(self.issues))
        if not self.personal_data.empty:
            parts.append(html_table(self.personal_data))
        return "".join(parts)


# --------------------------------------------------------------------------- sources
@dataclass
class _Source:
    label: str                 # for messages
    kind: str                  # csv | parquet | frame | table
    reader: str                # SQL FROM-clause fragment
    multi_file: bool = False
    frame_name: str | None = None
    files: list = field(default_factory=list)
    reader_rows: str = ""      # parquet reader with file_row_number
    first_row: int | None = None   # row number of the first record (None: by kind)
    notes: list = field(default_factory=list)

    @property
    def files_sql(self) -> str:
        return "[" + ", ".join(_lit(p) for p in self.files) + "]"


def _q(name: str) -> str:
    """Quote an SQL identifier."""
    return '"' + str(name).replace('"', '""') + '"'


def _lit(value: str) -> str:
    return "'" + str(value).replace("'", "''") + "'"


_CSV_EXT = (".csv", ".tsv", ".txt", ".csv.gz", ".tsv.gz", ".csv.zst")
_PARQUET_EXT = (".parquet", ".pq", ".parq")


def _resolve_source(con, source, table: str, csv_options: Mapping[str, Any] | None) -> _Source:
    import pyarrow as pa

    if isinstance(source, pd.DataFrame) or isinstance(source, pa.Table):
        name = f"_src_{table}"
        con.register(name, source)
        return _Source(label="<DataFrame>", kind="frame", reader=_q(name), frame_name=name)
    paths: list[str]
    if isinstance(source, (str, Path)):
        s = str(source)
        if any(ch in s for ch in "*?["):
            paths = sorted(_glob.glob(s))
            if not paths:
                raise DataFileError(s, "no file matches this pattern", hint="check the path and the pattern")
        else:
            paths = [s]
    elif isinstance(source, Sequence) and source and all(isinstance(p, (str, Path)) for p in source):
        paths = [str(p) for p in source]
    else:
        raise TypeError(f"{table} must be a path, a list of paths, a DataFrame or a pyarrow Table, "
                        f"got {type(source).__name__}")
    for p in paths:
        if not Path(p).exists():
            raise DataFileError(p, "file not found", hint="check the path")
        if Path(p).is_dir():
            raise DataFileError(p, "is a folder, expected a file", hint=f"use a glob such as {p}/*.parquet")
        if Path(p).stat().st_size == 0:
            raise DataFileError(p, "file is empty (0 bytes)", hint="export the data again")
    low = [p.lower() for p in paths]
    label = str(source) if isinstance(source, (str, Path)) else (paths[0] if len(paths) == 1 else f"{paths[0]} (+{len(paths) - 1} files)")
    plist = "[" + ", ".join(_lit(p) for p in paths) + "]"
    if all(p.endswith(_PARQUET_EXT) for p in low):
        return _Source(label=label, kind="parquet", multi_file=len(paths) > 1, files=paths,
                       reader=f"read_parquet({plist}, filename=true)",
                       reader_rows=f"read_parquet({plist}, filename=true, file_row_number=true)")
    if all(p.endswith(_CSV_EXT) for p in low) or not any(p.endswith(_PARQUET_EXT) for p in low):
        opts = {"header": True, "all_varchar": True, "filename": True}
        opts.update(csv_options or {})
        layout = _sniff(paths[0], opts.get("delim"))
        notes = []
        if layout["delimiter"] == "whitespace":
            return _whitespace_source(label, paths, plist, layout)
        if layout["delimiter"]:
            opts["delim"] = layout["delimiter"]
        if not layout["header"] and "header" not in (csv_options or {}):
            opts["header"] = False
            opts["names"] = layout["names"]
            notes.append(f"no header line (the first line holds data): columns are named "
                         f"{', '.join(layout['names'])}")
        opt_sql = ", ".join(f"{k}={_opt_sql(v)}" for k, v in opts.items())
        return _Source(label=label, kind="csv", multi_file=len(paths) > 1, files=paths,
                       reader=f"read_csv({plist}, {opt_sql})", first_row=None if opts["header"] else 1,
                       notes=notes)
    raise DataFileError(label, "mixes CSV and Parquet files", hint="load one format at a time")


def _opt_sql(v) -> str:
    if isinstance(v, str):
        return _lit(v)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_lit(x) for x in v) + "]"
    return str(v).lower()


_DELIMS = (",", "\t", ";", "|")
_DATA_LIKE = re.compile(r"^[+-]?\d[\d.:/T +-]*$")
WHITESPACE_NAMES = ("whitespace", "space", "spaces", " ", "\\s+")
DELIMITER_NAMES = {"comma": ",", "semicolon": ";", "tab": "\t", "\\t": "\t", "pipe": "|"}


def _sniff(path: str, delim: str | None) -> dict:
    """Delimiter (``"whitespace"`` for runs of blanks) and header of a text log, from its first lines.

    Only whitespace-separated files and files without a header line are taken over here; other
    delimiters are left to DuckDB's sniffer unless they are unambiguous.
    """
    try:
        with open(path, "rb") as fh:
            head = fh.read(65536)
    except OSError:
        return {"delimiter": None, "header": True, "names": []}
    if head[:3] == b"\xef\xbb\xbf":
        head = head[3:]
    text = head.decode("utf-8", errors="replace")
    lines = [ln.strip("\r") for ln in text.split("\n")]
    if len(head) == 65536:
        lines = lines[:-1]             # the last line may be cut
    lines = [ln for ln in lines if ln.strip()][:50]
    if not lines:
        return {"delimiter": None, "header": True, "names": []}
    if delim is not None and str(delim).lower() in WHITESPACE_NAMES:
        chosen = "whitespace"
    elif delim is not None:
        chosen = DELIMITER_NAMES.get(str(delim).lower(), delim)
    else:
        chosen = None
        best = 0
        for d in _DELIMS:
            counts = {ln.count(d) for ln in lines}
            if len(counts) == 1 and (n := counts.pop()) > best and '"' not in text:
                chosen, best = d, n
        if chosen is None and all(not any(d in ln for d in _DELIMS) and '"' not in ln for ln in lines):
            if min(len(ln.split()) for ln in lines) >= 2:   # ragged lines: missing values, reported by row
                chosen = "whitespace"
    first = lines[0].split() if chosen == "whitespace" else (lines[0].split(chosen) if chosen else None)
    header = True
    names: list[str] = []
    if first is not None and all(_DATA_LIKE.match(f.strip()) for f in first):
        header = False
        width = max(len(ln.split()) for ln in lines) if chosen == "whitespace" else len(first)
        names = [f"column{i + 1}" for i in range(width)]
    elif first is not None and chosen == "whitespace":
        names = first
    return {"delimiter": chosen, "header": header, "names": names}


def _whitespace_source(label: str, paths: list[str], plist: str, layout: dict) -> _Source:
    """A log whose fields are separated by runs of blanks (e.g. the CDNOW master log), split in SQL."""
    names = layout["names"]
    if len(set(names)) != len(names):
        raise DataFileError(label, f"header line has repeated column names {names}",
                            hint="rename the columns so each name is unique")
    skip = 1 if layout["header"] else 0
    cols = ", ".join(f"_s[{i + 1}] AS {_q(n)}" for i, n in enumerate(names))
    reader = (f"(SELECT {cols}, filename FROM (SELECT regexp_split_to_array(trim(column0, ' \t\r'), '\\s+') AS _s, "
              f"filename FROM read_csv({plist}, header=false, delim='\x01', quote='', escape='', "
              f"columns={{'column0': 'VARCHAR'}}, filename=true, skip={skip})))")
    notes = ["fields separated by blanks (whitespace-delimited text)"]
    if not layout["header"]:
        notes.append(f"no header line (the first line holds data): columns are named {', '.join(names)}")
    return _Source(label=label, kind="csv", multi_file=len(paths) > 1, files=paths, reader=reader,
                   first_row=1 + skip, notes=notes)


def _duck_error(source: _Source, err: Exception):
    oom = out_of_memory(err, f"reading {source.label}")     # not the file's fault
    if oom is not None:
        return oom
    msg = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    msg = re.sub(r"^[A-Za-z ]+Error: ", "", msg)
    what = {"csv": "CSV", "parquet": "Parquet"}.get(source.kind, "a table")
    if source.kind == "csv":
        bad = not_utf8(source.files)
        if bad is not None:
            path, offset, byte, guess = bad
            return DataFileError(str(path), f"not UTF-8 text (byte 0x{byte:02x} at offset {offset:,}"
                                 + (f"; it reads as {guess}" if guess else "") + ")",
                                 hint="transaction logs are read as UTF-8: re-save the file as UTF-8 "
                                      f"(e.g. iconv -f {guess or 'GBK'} -t UTF-8 IN > OUT)")
    return DataFileError(source.label, f"cannot be read as {what}: {msg}",
                         hint="check the delimiter and quoting (CLI: --delimiter ';' or whitespace; "
                              "Python: csv_options={'delim': ';'})"
                         if source.kind == "csv" else "check that the file is a valid Parquet file")


def not_utf8(paths: Sequence[str | Path], limit: int = 64 << 20) -> tuple[Path, int, int, str] | None:
    r"""The first file among ``paths`` that is not UTF-8 text (in its first ``limit`` bytes).

    Parameters
    ----------
    paths : sequence of str or Path
    limit : int
        Bytes read per file.

    Returns
    -------
    tuple or None
        ``(path, offset, byte, encoding it reads as)`` for the first invalid byte ("" when
        neither UTF-16 nor GB18030 decodes it), or None when every file is UTF-8.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> (d / "gbk.csv").write_bytes("customer_id\n张三\n".encode("gbk"))
    17
    >>> p, offset, byte, guess = not_utf8([d / "gbk.csv"])
    >>> offset, hex(byte), guess
    (12, '0xd5', 'GB18030')
    >>> (d / "ok.csv").write_text("customer_id\n张三\n", encoding="utf-8")   # characters written
    15
    >>> not_utf8([d / "ok.csv"]) is None
    True
    """
    for p in paths:
        p = Path(p)
        try:
            data = p.read_bytes()[:limit]
        except OSError:
            continue
        if data.startswith(b"\xef\xbb\xbf"):
            data = data[3:]
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as e:
            if e.start >= len(data) - 3 and len(data) == limit:
                continue            # a character cut by the read limit
            from ..responses.reading import decode_bytes   # error path only: keep kpi's import light

            try:                    # what it is instead: the survey reader's detection
                guess = decode_bytes(data, str(p))[1].upper()
            except DataFileError:
                guess = ""
            return p, int(e.start), data[e.start], guess
    return None


def _map_columns(spec: TableSpec, found: list[str], columns: Mapping[str, str] | None,
                 label: str) -> dict[str, str]:
    columns = dict(columns or {})
    canon = set(spec.columns)
    if columns and not set(columns) <= canon and set(columns.values()) <= canon:
        columns = {v: k for k, v in columns.items()}      # given as {file name: canonical}
    unknown = set(columns) - canon
    if unknown:
        raise DataFileError(label, f"column map names unknown {spec.name} column(s) {sorted(unknown)}",
                            hint=f"map these canonical names: {', '.join(spec.columns)}")
    lower = {}
    for c in found:
        lower.setdefault(c.strip().lower(), c)
    out: dict[str, str] = {}
    for c in spec.columns:
        want = columns.get(c, c)
        if want in found:
            out[c] = want
        elif want.strip().lower() in lower:
            out[c] = lower[want.strip().lower()]
        elif c in columns:
            raise DataFileError(label, f"mapped column {want!r} (for {c}) not found; columns are {_shown(found)}",
                                column=want, hint="fix the column map")
        elif c in spec.required and c not in spec.generated:
            raise DataFileError(label, f"required column missing (missing column(s) {c!r}); columns found: {_shown(found)}",
                                column=c, hint=f"rename the column or map it: --map COLUMN={c} "
                                               f"(Python: columns={{'{c}': 'your_column'}})")
    return out


# --------------------------------------------------------------------------- SQL pieces
_OFFSET_RE = r"\d:\d\d(:\d\d(\.\d+)?)?\s*([+-]\d\d(:?\d\d)?|Z|UTC)$"


def _ts_expr(col: str, dtype: str, timestamp_format: str | None, timezone: str) -> str:
    c = _q(col)
    t = dtype.upper()
    if t.startswith("TIMESTAMP WITH TIME ZONE") or t == "TIMESTAMPTZ":
        return f"timezone({_lit(timezone)}, {c})"
    if t.startswith("TIMESTAMP"):
        return f"CAST({c} AS TIMESTAMP)"
    if t == "DATE":
        return f"CAST({c} AS TIMESTAMP)"
    txt = f"trim(CAST({c} AS VARCHAR))"
    if timestamp_format:
        return f"TRY_STRPTIME({txt}, {_lit(timestamp_format)})"
    tz = _lit(timezone)
    return (f"CASE WHEN regexp_full_match({txt}, '\\d{{8}}') THEN TRY_STRPTIME({txt}, '%Y%m%d') "
            f"WHEN regexp_full_match({txt}, '\\d{{9,10}}(\\.\\d+)?') "
            f"THEN timezone({tz}, to_timestamp(TRY_CAST({txt} AS DOUBLE))) "
            f"WHEN regexp_full_match({txt}, '\\d{{4}}/\\d{{1,2}}/\\d{{1,2}}([ T].*)?') "
            f"THEN TRY_CAST(replace({txt}, '/', '-') AS TIMESTAMP) "
            f"WHEN length({txt}) > 19 AND regexp_matches({txt}, {_lit(_OFFSET_RE)}) "
            f"THEN timezone({tz}, TRY_CAST({txt} AS TIMESTAMPTZ)) "
            f"ELSE TRY_CAST({txt} AS TIMESTAMP) END")


#: date layouts read without ``timestamp_format``
TIMESTAMP_LAYOUTS = ("ISO 8601 (2024-05-01, 2024-05-01 13:45:00, with or without a UTC offset)",
                     "YYYYMMDD (20240501)", "YYYY/MM/DD (2024/05/01, optionally with a time)",
                     "epoch seconds (1714521600, UTC)")


def _num_expr(col: str, dtype: str, integer: bool = False) -> str:
    c = _q(col)
    target = "BIGINT" if integer else "DOUBLE"
    t = dtype.upper()
    if any(t.startswith(k) for k in ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT",
                                     "USMALLINT", "UINTEGER", "UBIGINT", "FLOAT", "DOUBLE", "DECIMAL")):
        if integer and t.startswith(("FLOAT", "DOUBLE", "DECIMAL")):
            return f"CASE WHEN {c} = round({c}) THEN TRY_CAST({c} AS BIGINT) END"
        return f"CAST({c} AS {target})"
    txt = f"trim(CAST({c} AS VARCHAR))"
    if integer:
        return f"TRY_CAST(TRY_CAST({txt} AS DOUBLE) AS BIGINT)"
    return f"TRY_CAST({txt} AS DOUBLE)"


_INT_TYPES = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT")


def _id_kinds(con, source: _Source, cols: dict[str, str], dtypes: dict[str, str]) -> dict[str, str]:
    """Per id column: 'int' when it holds integers only (stored as BIGINT), else 'text'.

    Text ids count as integers only when every value round-trips (so ``007`` stays text).
    All columns needing a look at the data are checked in one scan.
    """
    out, tests = {}, {}
    for c, s in cols.items():
        t = dtypes[s].upper()
        if t.startswith(_INT_TYPES):
            out[c] = "int"
        elif t.startswith(("FLOAT", "DOUBLE", "DECIMAL")):
            tests[c] = f"bool_and({_q(s)} IS NULL OR {_q(s)} = round({_q(s)}))"
        elif t == "VARCHAR":
            x = f"trim({_q(s)})"
            tests[c] = (f"bool_and({_q(s)} IS NULL OR {x} = '' OR (TRY_CAST({x} AS BIGINT) IS NOT NULL "
                        f"AND CAST(TRY_CAST({x} AS BIGINT) AS VARCHAR) = {x}))")
        else:
            out[c] = "text"
    if tests:
        try:
            row = con.execute(f"SELECT {', '.join(tests.values())} FROM {source.reader}").fetchall()[0]
        except Exception as e:
            raise _duck_error(source, e) from None
        for c, ok in zip(tests, row):
            out[c] = "int" if ok in (True, None) else "text"
    return out


def _id_expr(col: str, kind: str, dtype: str) -> str:
    c = _q(col)
    if kind == "int":
        if dtype.upper() == "VARCHAR":
            return f"TRY_CAST(trim({c}) AS BIGINT)"
        return f"TRY_CAST({c} AS BIGINT)"
    return f"NULLIF(trim(CAST({c} AS VARCHAR)), '')"


# --------------------------------------------------------------------------- ingest
def ingest(con, source, spec: TableSpec, *, table: str | None = None,
           columns: Mapping[str, str] | None = None,
           policy: ValidationPolicy | str | Mapping[str, str] | None = None,
           timestamp_format: str | None = None, timezone: str = "UTC",
           csv_options: Mapping[str, Any] | None = None, materialize: bool | None = None,
           pseudonymize: bool | None = None, salt: str | bytes | None = None,
           max_examples: int = 20, temporary: bool = True) -> ValidationReport:
    """Read, validate and load one log into a DuckDB connection.

    Creates a staging table ``_<table>_stage`` (for Parquet by default a view: DuckDB reads the
    columnar file directly on every query, which costs no copy and little memory; pass
    ``materialize=True`` to copy it into the database) and a view ``<table>`` holding exactly
    the kept rows
    with canonical column names and types: ids BIGINT or VARCHAR, timestamps TIMESTAMP,
    amounts/durations DOUBLE, page views BIGINT. For ``duplicate_order_id="keep"`` the rows
    are order lines: the view ``<table>_lines`` holds them and ``<table>`` one row per order
    (earliest timestamp, summed amount, first line's product/category/channel).

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        The database to load into.
    source : path, glob, list of paths, DataFrame or pyarrow Table
        The log.
    spec : TableSpec
        :data:`ORDERS` or :data:`SESSIONS`.
    table : str, optional
        Table name (default ``spec.name``).
    columns : dict, optional
        Canonical name -> source column.
    policy : ValidationPolicy, str or dict, optional
        What to do with bad rows.
    timestamp_format : str, optional
        strptime format when timestamps are not ISO 8601.
    timezone : str
        IANA zone that timestamps with a UTC offset are converted to.
    csv_options : dict, optional
        Options of DuckDB's CSV reader.
    materialize : bool, optional
        Copy Parquet data into the database.
    pseudonymize, salt
        Pseudonymize customer ids that are personal data.
    max_examples : int
        Example rows kept per problem.
    temporary : bool
        Create the staging table as a temporary table.

    Returns
    -------
    ValidationReport
        Raises :class:`DataFileError` for a problem whose policy is ``"error"``.

    Raises
    ------
    DataFileError
        A problem whose policy is ``"error"``, naming file, row, column and value.

    Examples
    --------
    >>> import duckdb, pandas as pd
    >>> bad = pd.DataFrame({"customer_id": [1, 2, 3], "order_id": [1, 2, 3],
    ...     "timestamp": ["2024-01-05", "not a date", "2024-01-07"], "amount": [10.0, 5.0, -2.0]})
    >>> ingest(duckdb.connect(), bad, ORDERS)
    Traceback (most recent call last):
    ...
    crm_research.errors.DataFileError: <DataFrame>, row 1, column 'timestamp', value 'not a date': not a date/time; 1 row(s) with this problem, 1 with other errors (fix: correct the file, or --on-bad-timestamp drop (policy bad_timestamp='drop'), or --timestamp-format (timestamp_format=) for layouts other than ISO 8601, YYYYMMDD, YYYY/MM/DD, epoch seconds)
    """
    pol = ValidationPolicy.coerce(policy)
    table = table or spec.name
    src = _resolve_source(con, source, table, csv_options)
    report = ValidationReport(file=src.label, table=table, policy=pol.to_dict())
    report.notes.extend(src.notes)
    try:
        desc = con.execute(f"DESCRIBE SELECT * FROM {src.reader} LIMIT 0").fetchall()
    except Exception as e:  # duckdb.Error and friends
        raise _duck_error(src, e) from None
    found = [r[0] for r in desc if r[0] not in ("filename",) or src.kind == "frame"]
    dtypes = {r[0]: r[1] for r in desc}
    if src.kind == "csv" and len(found) <= 1 and found and ";" in found[0]:
        raise DataFileError(src.label, f"only one column {found[0]!r} found; the file looks ';'-separated",
                            hint="pass csv_options={'delim': ';'} (CLI: --delimiter ';')")
    cmap = _map_columns(spec, found, columns, src.label)
    report.columns = dict(cmap)
    report.ignored_columns = [c for c in found if c not in cmap.values()]
    _note_personal_data(report)

    # -- typed expressions (inner query) and the first problem of each row (outer query)
    id_cols = {c: cmap[c] for c in spec.ids if c in cmap}
    # CSV ids are staged as text and narrowed to BIGINT afterwards (no second pass over the file)
    id_kinds = ({c: "text" for c in id_cols} if src.kind == "csv" else _id_kinds(con, src, id_cols, dtypes))
    exprs: dict[str, str] = {}
    for c, s in cmap.items():
        dt = dtypes[s]
        if c in spec.ids:
            exprs[c] = _id_expr(s, id_kinds[c], dt)
        elif c == spec.timestamp:
            exprs[c] = _ts_expr(s, dt, timestamp_format, timezone)
        elif c in spec.numbers:
            exprs[c] = _num_expr(s, dt, integer=(c == "page_views"))
        else:
            exprs[c] = f"NULLIF(trim(CAST({_q(s)} AS VARCHAR)), '')"

    def raw(c: str) -> str:
        return _q("_r_" + c)

    def empty(c: str) -> str:
        if dtypes[cmap[c]].upper() == "VARCHAR":
            return f"({raw(c)} IS NULL OR trim({raw(c)}) = '')"
        return f"{raw(c)} IS NULL"

    checks: list[tuple[str, str, str]] = []  # (problem, column, condition)
    for c in spec.required + spec.filled:
        if c in cmap:
            checks.append(("missing_value", c, empty(c)))
    checks.append(("bad_timestamp", spec.timestamp, f"{_q(spec.timestamp)} IS NULL"))
    for c in spec.numbers:
        if c in cmap:
            cond = (f"({_q(c)} IS NULL OR NOT isfinite(CAST({_q(c)} AS DOUBLE)) "
                    f"OR abs(CAST({_q(c)} AS DOUBLE)) >= {MAX_NUMBER:.0f})")
            if c not in spec.required + spec.filled:   # optional numbers may be empty
                cond = f"(NOT {empty(c)} AND {cond})"
            checks.append(("bad_number", c, cond))
    for c, prob in spec.nonnegative.items():
        if c in cmap:
            checks.append((prob, c, f"{_q(c)} < 0"))
    gen_order = bool(spec.unique) and spec.unique in spec.generated and spec.unique not in cmap
    as_view = src.kind == "parquet" and not materialize and not gen_order
    multi = src.multi_file
    extra = (["_file_idx"] if multi else []) + (["_file_row"] if as_view else [])
    # exact copies: same hash of every source column and same typed values; in a Parquet view the
    # later copies in file order are marked here, in a table by an UPDATE once it exists (rowid)
    dup_col = spec.required[0]
    dup_part = ", ".join(["_rowhash"] + [_q(c) for c in exprs])
    dup_window = f"row_number() OVER (PARTITION BY {dup_part} ORDER BY {', '.join(extra)}) > 1"
    checks.append(("duplicate_row", dup_col, dup_window if as_view else "FALSE"))
    # problem codes 1..n (UTINYINT; NULL = no problem): one byte per row, no strings stored
    code_of = {(p, c): i + 1 for i, (p, c, _) in enumerate(checks)}

    def problem_case(chk):
        return ("CAST(CASE " + " ".join(f"WHEN {cond} THEN {i + 1}" for i, (_, _, cond) in enumerate(chk))
                + " END AS UTINYINT)")

    problem_sql = problem_case(checks)

    stage = f"_{table}_stage"
    tmp = "TEMP " if temporary else ""
    keys = (["_file_idx"] if multi else []) + (["_file_row"] if as_view else ["rowid"])
    inner = ", ".join([f"{e} AS {_q(c)}" for c, e in exprs.items()]
                      + [f"{_q(cmap[c])} AS {raw(c)}" for c in cmap]
                      + [f"hash({', '.join(_q(c) for c in found)}) AS _rowhash"]
                      + ([f"CAST(list_position({src.files_sql}, filename) AS USMALLINT) AS _file_idx"] if multi else [])
                      + (["file_row_number AS _file_row"] if as_view else []))
    outer = ", ".join([_q(c) for c in exprs] + [f"{problem_sql} AS _problem", "_rowhash"] + extra)
    body = f"SELECT {outer} FROM (SELECT {inner} FROM {src.reader_rows if as_view else src.reader})"
    found_codes = None
    n_dup_known = None
    try:
        for kind, name in (("VIEW", table), ("TABLE", table), ("VIEW", table + "_lines"), ("TABLE", stage),
                           ("VIEW", stage), ("TABLE", stage + "_skip")):
            con.execute(f"DROP {kind} IF EXISTS {_q(name)}")
        if as_view:
            # one pass over the file: every problem count except exact copies, and a proof that
            # there are none (exact copies share the order id / the row hash: all of them distinct,
            # checked by sorting the keys outside DuckDB, see distinct.key_check); the window that
            # finds copies in file order only runs when there may be some
            quick = checks[:-1] + [("duplicate_row", dup_col, "FALSE")]
            q_outer = ", ".join([_q(c) for c in exprs] + [f"{problem_case(quick)} AS _problem", "_rowhash"] + extra)
            q_body = f"SELECT {q_outer} FROM (SELECT {inner} FROM {src.reader_rows})"
            uq = spec.unique if spec.unique and spec.unique in cmap else None
            if uq is None:
                key, kind = "_rowhash", "hash"
            elif id_kinds[uq] == "int":
                key, kind = _q(uq), "int"
            else:   # text ids: equal hashes are only candidates (then the exact path below decides)
                key, kind = f"CASE WHEN {_q(uq)} IS NOT NULL THEN hash({_q(uq)}) END", "hash"
            codes = sorted(code_of.values())
            n_file = int(con.execute(f"SELECT count(*) FROM {src.reader}").fetchall()[0][0])
            chk = key_check(con, f"({q_body})", key, kind=kind, code="_problem", rows=n_file)
            res = [chk.rows, 0 if chk.unique else 1] + [chk.code_counts.get(i, 0) for i in codes]
            if int(res[1]) == 0:
                body = q_body
                found_codes = {i: int(n) for i, n in zip(codes, res[2:]) if n}
                if uq and not found_codes:
                    n_dup_known = 0     # every row usable, every order id distinct
        con.execute(f"CREATE {tmp}{'VIEW' if as_view else 'TABLE'} {_q(stage)} AS {body}")
        n_rows = int(res[0]) if found_codes is not None else \
            int(con.execute(f"SELECT count(*) FROM {_q(stage)}").fetchall()[0][0])
    except DataFileError:
        raise
    except Exception as e:
        raise _duck_error(src, e) from None
    report.rows_read = n_rows
    if n_rows == 0:
        raise DataFileError(src.label, "no data rows (only a header, or nothing)",
                            hint="check that the export contains data")
    if src.kind == "csv" and id_cols:
        staged = _Source(label=src.label, kind="table", reader=_q(stage))
        kinds = _id_kinds(con, staged, {c: c for c in id_cols}, {c: "VARCHAR" for c in id_cols})
        for c, k in kinds.items():
            if k == "int":
                con.execute(f"ALTER TABLE {_q(stage)} ALTER {_q(c)} TYPE BIGINT USING TRY_CAST({_q(c)} AS BIGINT)")
    if not as_view and not key_check(con, _q(stage), "_rowhash", kind="hash", rows=n_rows).unique:
        # exact copies of earlier rows, in file order (rowid); none when all row hashes differ
        con.execute(f"UPDATE {_q(stage)} SET _problem = {code_of[('duplicate_row', dup_col)]} WHERE _problem IS NULL "
                    f"AND rowid IN (SELECT r FROM (SELECT rowid AS r, row_number() OVER (PARTITION BY {dup_part} "
                    f"ORDER BY rowid) AS n FROM {_q(stage)}) WHERE n > 1)")
    if gen_order:
        u = _q(spec.unique)
        con.execute(f"ALTER TABLE {_q(stage)} ADD COLUMN {u} BIGINT")
        con.execute(f"UPDATE {_q(stage)} SET {u} = g.n FROM (SELECT rowid AS r, row_number() OVER "
                    f"(ORDER BY customer_id NULLS LAST, {_q(spec.timestamp)} NULLS LAST, rowid) AS n "
                    f"FROM {_q(stage)}) g WHERE {_q(stage)}.rowid = g.r")
        exprs[spec.unique] = spec.unique
        report.notes.append(f"{spec.unique} not in the file: generated as 1, 2, ... in order of customer id, "
                            f"timestamp and row (the same file always gets the same ids)")

    ctx = _Ctx(con=con, src=src, stage=stage, keys=keys, cmap=cmap, as_view=as_view, limit=max_examples)
    if found_codes is None:
        found_codes = dict(con.execute(f"SELECT _problem, count(*) FROM {_q(stage)} WHERE _problem IS NOT NULL "
                                       f"GROUP BY _problem").fetchall())
    order = {p: i for i, p in enumerate(PROBLEMS)}
    problems = sorted(((p, c, int(found_codes[code_of[(p, c)]])) for (p, c) in code_of if code_of[(p, c)] in found_codes),
                      key=lambda t: (order[t[0]], spec.columns.index(t[1])))

    def action(problem: str) -> str:
        return {"error": "error", "drop": "dropped", "keep": "kept"}[getattr(pol, problem)]

    count_rows, issue_frames = [], []
    for prob, col, n in problems:
        count_rows.append((prob, col, n, action(prob)))
        issue_frames.append(_examples(ctx, f"_problem = {code_of[(prob, col)]}", prob, col, action(prob)))
    kept_codes = [code_of[(p, c)] for (p, c) in code_of if getattr(pol, p) == "keep"]
    usable = "_problem IS NULL" + (f" OR _problem IN ({', '.join(map(str, kept_codes))})" if kept_codes else "")
    n_dropped = sum(n for p, c, n in problems if getattr(pol, p) == "drop")

    # -- duplicate order ids among usable rows
    skip = False
    lines = False
    if spec.unique and spec.unique in cmap:
        u = _q(spec.unique)
        dup_ids = f"SELECT {u} FROM {_q(stage)} WHERE {usable} GROUP BY {u} HAVING count(*) > 1"
        # rows beyond the first per id: proven 0 by sorting the id hashes (distinct.key_check), else
        # counted exactly with count(DISTINCT) (only when two usable rows may share an id)
        n_dup = n_dup_known
        if n_dup is None and key_check(con, f"(SELECT {u} FROM {_q(stage)} WHERE {usable})",
                                       f"CASE WHEN {u} IS NOT NULL THEN hash({u}) END", kind="hash",
                                       rows=n_rows).unique:
            n_dup = 0
        if n_dup is None:
            n_dup = int(con.execute(
                f"SELECT count({u}) - count(DISTINCT {u}) FROM {_q(stage)} WHERE {usable}").fetchall()[0][0])
        if n_dup:
            key_list = ", ".join(f"s.{k}" for k in keys)
            later = (f"SELECT {key_list} FROM {_q(stage)} s JOIN ({dup_ids}) d USING ({u}) "
                     f"WHERE {usable} QUALIFY row_number() OVER (PARTITION BY s.{u} ORDER BY {key_list}) > 1")
            count_rows.append(("duplicate_order_id", spec.unique, n_dup, action("duplicate_order_id")))
            con.execute(f"CREATE OR REPLACE {tmp}TABLE {_q(stage + '_dups')} AS {later}")
            issue_frames.append(_examples(ctx, f"({', '.join(keys)}) IN (SELECT ({', '.join(keys)}) FROM {_q(stage + '_dups')})"
                                          if len(keys) > 1 else f"{keys[0]} IN (SELECT {keys[0]} FROM {_q(stage + '_dups')})",
                                          "duplicate_order_id", spec.unique, action("duplicate_order_id")))
            if pol.duplicate_order_id == "drop":
                con.execute(f"ALTER TABLE {_q(stage + '_dups')} RENAME TO {_q(stage + '_skip')}")
                skip = True
                n_dropped += n_dup
            else:
                con.execute(f"DROP TABLE {_q(stage + '_dups')}")
            if pol.duplicate_order_id == "keep":
                lines = True
                conflict = con.execute(
                    f"SELECT {u} FROM {_q(stage)} WHERE ({usable}) AND {u} IN ({dup_ids}) "
                    f"GROUP BY {u} HAVING count(DISTINCT customer_id) > 1 ORDER BY {u} LIMIT 1").fetchall()
                if conflict:
                    v = conflict[0][0]
                    ex = _examples(ctx, f"{u} = {_lit(v) if isinstance(v, str) else v}", "conflicting_order",
                                   spec.unique, "error")
                    r = ex.iloc[-1]
                    raise DataFileError(r["file"], f"{PROBLEM_TEXT['conflicting_order']} (order lines need one customer)",
                                        row=int(r["row"]), column=spec.unique, value=v,
                                        hint="fix the order ids, or drop duplicates with policy duplicate_order_id='drop'")

    report.counts = pd.DataFrame(count_rows, columns=["problem", "column", "rows", "action"])
    report.issues = (pd.concat(issue_frames, ignore_index=True) if issue_frames else report.issues)
    key = salt if salt is not None else _random_salt(report)   # one key per load: ids and cells agree
    if len(report.issues):
        report.issues["value"] = mask_personal(report.issues["value"], key)

    # -- first error in file order
    errs = [(p, c, n) for p, c, n, a in count_rows if a == "error"]
    if errs:
        ex = report.issues[report.issues["action"] == "error"].sort_values(["file", "row"], kind="stable")
        first = ex.iloc[0]
        p = first["problem"]
        n = int(report.counts.loc[report.counts["problem"] == p, "rows"].sum())
        others = sum(int(x) for _, _, x in errs) - n
        more = f"; {n:,} row(s) with this problem" + (f", {others:,} with other errors" if others else "")
        hint_flag = {"duplicate_order_id": "'drop' (keep first) or 'keep' (order lines)",
                     "duplicate_row": "'drop' (the default) or 'keep'",
                     "negative_amount": "'drop' or 'keep' (refunds)"}.get(p, "'drop'")
        hint = f"correct the file, or set policy {p}={hint_flag} (CLI: --on-{p.replace('_', '-')} ...)"
        if p == "bad_timestamp":
            hint = ("correct the file, or --on-bad-timestamp drop (policy bad_timestamp='drop'), or "
                    "--timestamp-format (timestamp_format=) for layouts other than ISO 8601, YYYYMMDD, "
                    "YYYY/MM/DD, epoch seconds")
        err = DataFileError(first["file"], PROBLEM_TEXT[p] + more, row=int(first["row"]),
                            column=cmap.get(first["column"], first["column"]),   # the file's own column name
                            value=first["value"], hint=hint)
        err.report = report
        raise err

    # -- the clean view(s)
    _pseudonymize_ids(con, stage, cmap, report, pseudonymize, salt, tmp, keys, key)
    cols = ", ".join(_q(c) for c in exprs)
    frm = f"{_q(stage)} ANTI JOIN {_q(stage + '_skip')} USING ({', '.join(keys)})" if skip else _q(stage)
    if skip and "rowid" in keys:  # rowid cannot be joined USING; compare explicitly
        frm = _q(stage)
        usable = f"({usable}) AND rowid NOT IN (SELECT rowid FROM {_q(stage + '_skip')})"
    view = table + "_lines" if lines else table
    pseudo = not report.personal_data.empty and (report.personal_data["action"].str.startswith("pseudonymized")).any()
    if as_view and not count_rows and not pseudo:
        # clean Parquet: the view is a plain typed scan (no per-row validation on every query)
        typed = ", ".join(f"{e} AS {_q(c)}" for c, e in exprs.items())
        con.execute(f"CREATE {tmp}VIEW {_q(view)} AS SELECT {typed} FROM {src.reader}")
    else:
        con.execute(f"CREATE {tmp}VIEW {_q(view)} AS SELECT {cols} FROM {frm} WHERE {usable}")
    if lines:
        # the earliest line's value (ties in time: the smallest value, so every run picks the same line)
        extra_cols = "".join(f", arg_min({_q(c)}, (timestamp, {_q(c)})) AS {_q(c)}" for c in spec.optional if c in exprs)
        con.execute(f"CREATE OR REPLACE {tmp}TABLE {_q(table)} AS SELECT customer_id, order_id, "
                    f"min(timestamp) AS timestamp, CAST(sum(CAST(amount AS {EXACT_SUM_TYPE})) AS DOUBLE) AS amount{extra_cols} "
                    f"FROM {_q(view)} GROUP BY customer_id, order_id")
        report.notes.append("duplicate order ids kept as order lines: the orders table has one row per "
                            "order (earliest timestamp, summed amount)")
    report.rows_kept = n_rows - n_dropped
    if src.frame_name:   # the data were copied: drop the reference to the caller's DataFrame
        con.unregister(src.frame_name)
    if report.rows_kept == 0:
        raise DataFileError(src.label, "no rows left after validation", hint="check the policies and the file")
    return report


@dataclass
class _Ctx:
    con: Any
    src: _Source
    stage: str
    keys: list
    cmap: dict
    as_view: bool
    limit: int


def _examples(ctx: _Ctx, cond: str, problem: str, column: str, act: str) -> pd.DataFrame:
    """Example rows for one problem: file, file-relative row, column, raw value."""
    src, con = ctx.src, ctx.con
    first = src.first_row if src.first_row is not None else {"csv": 2, "parquet": 1}.get(src.kind, 0)
    pos = ctx.keys[-1]                                   # rowid (global) or _file_row (per file)
    fidx = "_file_idx" if src.multi_file else "1"
    if pos == "rowid" and src.multi_file:
        row_sel = f"rowid - min(rowid) OVER (PARTITION BY _file_idx) + {first}"
    else:
        row_sel = f"{pos} + {first}"
    typed = _q(column)
    q = (f"SELECT file_idx, row, key, typed FROM (SELECT {fidx} AS file_idx, {row_sel} AS row, {pos} AS key, "
         f"CAST({typed} AS VARCHAR) AS typed, {cond} AS hit FROM {_q(ctx.stage)}) WHERE hit "
         f"ORDER BY file_idx, row LIMIT {int(ctx.limit)}")
    df = con.execute(q).df()
    files = src.files or [src.label]
    df["file"] = [files[int(i) - 1] if src.multi_file else src.label for i in df["file_idx"]]
    if problem in ("bad_timestamp", "bad_number") and len(df):
        df["value"] = _raw_values(ctx, column, df)
    elif problem == "missing_value":
        df["value"] = None
    else:
        df["value"] = df["typed"]
    df["column"] = column
    df["problem"] = problem
    df["action"] = act
    df["row"] = df["row"].astype("int64")
    return df[["file", "row", "column", "value", "problem", "action"]]


def _raw_values(ctx: _Ctx, column: str, df: pd.DataFrame) -> list:
    """Raw text of ``column`` for the example rows (read again from the source: error path only)."""
    src, con = ctx.src, ctx.con
    s = _q(ctx.cmap[column])
    keys = ", ".join(str(int(k)) for k in df["key"])
    if ctx.as_view:   # parquet: file_row_number addresses the rows
        fid = f"CAST(list_position({src.files_sql}, filename) AS USMALLINT)" if src.multi_file else "1"
        got = con.execute(f"SELECT {fid} AS f, file_row_number AS k, CAST({s} AS VARCHAR) AS v "
                          f"FROM {src.reader_rows} WHERE file_row_number IN ({keys})").fetchall()
        look = {(int(f), int(k)): v for f, k, v in got}
        return [look.get((int(f) if src.multi_file else 1, int(k))) for f, k in zip(df["file_idx"], df["key"])]
    # table mode: copy the raw column in file order once; rowid then matches the stage's rowid
    con.execute(f"CREATE OR REPLACE TEMP TABLE _raw_lookup AS SELECT CAST({s} AS VARCHAR) AS v FROM {src.reader}")
    got = dict(con.execute(f"SELECT rowid, v FROM _raw_lookup WHERE rowid IN ({keys})").fetchall())
    con.execute("DROP TABLE _raw_lookup")
    return [got.get(int(k)) for k in df["key"]]


def _note_personal_data(report: ValidationReport) -> None:
    try:
        from ..privacy import header_kind
    except ImportError:  # pragma: no cover - privacy module is part of the package
        return
    rows = [(c, header_kind(c), "not read") for c in report.ignored_columns if header_kind(c)]
    if rows:
        report.personal_data = pd.DataFrame(rows, columns=["column", "kind", "action"])


def _pseudonymize_ids(con, stage: str, cmap: dict, report: ValidationReport,
                      pseudonymize: bool | None, salt, tmp: str, keys: list, key) -> None:
    """Replace a customer id that is personal data (by header or content) by a keyed pseudonym."""
    if pseudonymize is False or "customer_id" not in cmap:
        return
    from ..privacy import PLAIN_INTEGER_PII_FLOOR, header_kind, pseudonymize as _pseudo

    src_col = cmap["customer_id"]
    kind = header_kind(src_col)
    def distinct_ids(where: str = ""):
        return con.execute(f"SELECT DISTINCT CAST(customer_id AS VARCHAR) AS customer_id FROM {_q(stage)} "
                           f"WHERE customer_id IS NOT NULL{where}").df()

    ids = None
    if kind is None:
        typ = con.execute(f"SELECT typeof(customer_id) FROM {_q(stage)} LIMIT 1").fetchall()
        integer = bool(typ) and typ[0][0] in ("BIGINT", "INTEGER", "HUGEINT", "SMALLINT", "TINYINT", "UBIGINT",
                                              "UINTEGER", "USMALLINT", "UTINYINT")
        # integers below privacy.PLAIN_INTEGER_PII_FLOOR match no pattern of the detector: only
        # larger ids are read back and checked
        ids = distinct_ids(f" AND abs(customer_id) >= {PLAIN_INTEGER_PII_FLOOR}") if integer else distinct_ids()
        kind = personal_kind(ids["customer_id"])
        if integer:
            ids = None
    if kind is None and not pseudonymize:
        return
    if ids is None:
        ids = distinct_ids()
    mapping = pd.DataFrame({"_v": ids["customer_id"].astype(str),
                            "_p": _pseudo(ids["customer_id"].astype(str), key,
                                          kind=kind if kind in ("phone", "email") else None).astype(str)})
    con.register("_pseudo_map", mapping)
    order = ", ".join(f"s.{k}" for k in keys)
    con.execute(f"CREATE {tmp}TABLE {_q(stage + '_p')} AS SELECT s.* REPLACE (m._p AS customer_id) "
                f"FROM {_q(stage)} s LEFT JOIN _pseudo_map m ON CAST(s.customer_id AS VARCHAR) = m._v "
                f"ORDER BY {order}")
    is_view = bool(con.execute(f"SELECT count(*) FROM duckdb_views() WHERE view_name = {_lit(stage)}").fetchall()[0][0])
    con.execute(f"DROP {'VIEW' if is_view else 'TABLE'} {_q(stage)}")
    con.execute(f"ALTER TABLE {_q(stage + '_p')} RENAME TO {_q(stage)}")
    con.unregister("_pseudo_map")
    row = (src_col, kind or "requested", "pseudonymized (HMAC-SHA256)")
    report.personal_data = pd.concat([report.personal_data, pd.DataFrame([row], columns=["column", "kind", "action"])],
                                     ignore_index=True)
    if salt is None:
        report.notes.append("customer ids pseudonymized with a random salt: pseudonyms differ between runs; "
                            "pass --salt or --salt-file (Python: salt=) to make them stable and linkable "
                            "to survey data")


def _shown(headers: list) -> list:
    """Headers for an error message, a header that is personal data masked (random key)."""
    import secrets

    return mask_personal(headers, secrets.token_bytes(16)) if personal_kind(headers) else list(headers)


def mask_personal(values, salt) -> list:
    """Values that look like personal data replaced by their keyed pseudonym; others unchanged.

    For cells shown in validation reports and error messages (example values of bad rows): the
    pseudonym is the one the customer id gets with the same ``salt``, so a report row can still
    be matched to the pseudonymized tables, but the value itself never leaves the loader.

    Parameters
    ----------
    values : iterable
        Cell values (None stays None).
    salt : str or bytes
        The pseudonymization key.

    Returns
    -------
    list

    Examples
    --------
    >>> out = mask_personal(["13812345678", "not a date", None], "s")
    >>> out[0] != "13812345678" and "138" not in out[0], out[1:]
    (True, ['not a date', None])
    """
    from ..privacy import pseudonymize as _pseudo

    out = []
    for v in values:
        if v is None or (isinstance(v, float) and v != v):
            out.append(v)
            continue
        kind = personal_kind([v])
        if kind is None:
            out.append(v)
        else:
            out.append(str(_pseudo(pd.Series([str(v)]), salt, kind=kind if kind in ("phone", "email") else None)
                           .iloc[0]))
    return out


def personal_kind(values) -> str | None:
    """The kind of personal data among identifier values, or None when none looks personal.

    Every value is checked (not a sample), after NFKC folding, with the project's one detector
    (:func:`crm_research.privacy.looks_personal`, else :func:`crm_research.privacy.find_pii`):
    one e-mail address or phone number among the ids is enough. The most frequent kind is
    returned; ids are converted to text first, so a plain 11-digit mobile number stored as an
    integer counts too.

    Parameters
    ----------
    values : iterable
        Identifier values.

    Returns
    -------
    str or None
        ``"phone"``, ``"email"``, ``"id_number"``, ``"ip"`` ... or None.

    Examples
    --------
    >>> personal_kind([1, 2, 13812345678])
    'phone'
    >>> personal_kind(["A-001", "a.b@example.com"])
    'email'
    >>> personal_kind(["00001", "00002", 23570]) is None
    True
    """
    from collections import Counter

    from .. import privacy

    looks = getattr(privacy, "looks_personal", None)
    kinds: Counter = Counter()
    for v in values:
        if v is None or (isinstance(v, float) and v != v):
            continue
        text = str(v).strip()
        if not text:
            continue
        if looks is not None:
            k = looks(text)
        else:
            hits = privacy.find_pii(text)
            k = hits[0][0] if hits else None
        if k:
            kinds[k] += 1
    return kinds.most_common(1)[0][0] if kinds else None


def _random_salt(report: ValidationReport) -> bytes:
    import secrets

    return secrets.token_bytes(32)

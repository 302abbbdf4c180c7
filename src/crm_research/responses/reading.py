"""Reading data files: the one reader of every verb that takes survey or other tabular data.

:func:`read_table` reads CSV/TSV/TXT/DAT (UTF-8, UTF-8 with BOM, UTF-16, GBK/GB18030; comma,
semicolon, tab, ``|`` or whitespace separated, sniffed), Excel .xlsx/.xlsm (any sheet), SPSS
.sav/.zsav and Parquet, with one clear :class:`~crm_research.errors.DataFileError` per unusable
file naming the file (and the row or column where that helps). ``validate``, ``fit``,
``invariance``, ``study`` and :func:`~crm_research.responses.prepare_responses` all read
through it.

Every data row keeps the row number a spreadsheet user sees (header = row 1; SPSS and
Parquet: the case number), so every later finding can name it. Cells are kept as read (text
for CSV; numbers, text or dates for Excel, SPSS and Parquet): nothing is converted here.

:func:`read_text` reads small text files (lavaan model files) with the same encoding rules,
and :func:`read_columns` returns a file's column names without reading its rows.
"""
from __future__ import annotations

import codecs
import csv
import hashlib
import io
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from ..errors import DataFileError

FORMATS = {".csv": "csv", ".tsv": "csv", ".txt": "csv", ".dat": "csv", ".xlsx": "xlsx", ".xlsm": "xlsx",
           ".sav": "sav", ".zsav": "sav", ".parquet": "parquet", ".pq": "parquet"}
SUPPORTED_TEXT = (".csv, .tsv, .txt, .dat (UTF-8, UTF-8 with BOM, UTF-16, GBK/GB18030), .xlsx, .xlsm, .sav, .zsav, "
                  ".parquet")
WHITESPACE = r"\s+"
"""Delimiter value meaning "one or more spaces or tabs" (as R's ``read.table``)."""
DELIMITERS = (",", "\t", ";", "|")
_DELIM_NAMES = {",": "comma", "\t": "tab", ";": "semicolon", "|": "pipe", WHITESPACE: "whitespace"}
DELIMITER_NAMES = {"comma": ",", "semicolon": ";", "tab": "\t", "\\t": "\t", "pipe": "|", "whitespace": WHITESPACE,
                   "space": WHITESPACE, "spaces": WHITESPACE, " ": WHITESPACE}
"""Names accepted for ``delimiter`` besides a single character (``whitespace``: runs of spaces/tabs)."""
_SNIFF_LINES = 200


@dataclass(frozen=True)
class SourceInfo:
    """Where the responses came from (no cell values).

    Attributes
    ----------
    file : str
        Path as given (``"<DataFrame>"`` for in-memory input).
    format : str
        ``csv``, ``xlsx``, ``sav``, ``parquet`` or ``frame``.
    sha256 : str
        Hash of the file's bytes (empty for a DataFrame).
    encoding : str or None
        Encoding used to decode a CSV (``utf-8``, ``utf-8-sig``, ``utf-16``, ``gb18030``) or
        declared by an SPSS file.
    delimiter : str or None
        CSV field separator that was used (:data:`WHITESPACE` for runs of spaces/tabs).
    sheet : str or None
        Excel sheet that was read.
    rows : int
        Data rows read (blank rows excluded).
    columns : int
        Columns read.
    first_data_row : int
        Spreadsheet row of the first data row (2 when the header is row 1; 1 for SPSS and
        Parquet cases).

    Examples
    --------
    >>> src = read_table("tests/reference/lavaan/HolzingerSwineford1939.csv").source
    >>> src.format, src.encoding, src.delimiter, src.rows, src.columns
    ('csv', 'utf-8', ',', 301, 15)
    """

    file: str
    format: str
    sha256: str = ""
    encoding: str | None = None
    delimiter: str | None = None
    sheet: str | None = None
    rows: int = 0
    columns: int = 0
    first_data_row: int = 2

    def summary(self) -> str:
        bits = [f"{self.file} ({self.format}"]
        if self.encoding:
            bits.append(f", {self.encoding}")
        if self.delimiter:
            bits.append(f", {_DELIM_NAMES.get(self.delimiter, repr(self.delimiter))}-separated")
        if self.sheet:
            bits.append(f", sheet {self.sheet!r}")
        bits.append(f"): {self.rows} rows x {self.columns} columns")
        if self.sha256:
            bits.append(f", sha256 {self.sha256}")
        return "".join(bits)

    def to_dict(self) -> dict[str, Any]:
        return dict(file=self.file, format=self.format, sha256=self.sha256, encoding=self.encoding,
                    delimiter=self.delimiter, sheet=self.sheet, rows=self.rows, columns=self.columns,
                    first_data_row=self.first_data_row)


@dataclass
class RawTable:
    """A data file as read: cells untouched, index = spreadsheet row number (``row``).

    ``data`` is the frame, ``source`` what was detected (format, encoding, delimiter, sheet,
    rows, columns, sha256).

    ``labels`` holds question text per column when the file carries it apart from the
    column name (SPSS variable labels, the second header row of a Qualtrics export);
    ``value_labels`` holds SPSS value labels ``{column: {code: label}}``.

    Note: ``data`` may contain personal data; :func:`~crm_research.responses.prepare_responses`
    removes it before anything else looks at the cells.

    Examples
    --------
    >>> t = read_table("tests/reference/lavaan/HolzingerSwineford1939.csv")
    >>> t.data.shape, t.data.columns[:3].tolist()
    ((301, 15), ['id', 'sex', 'ageyr'])
    """

    data: pd.DataFrame
    source: SourceInfo
    labels: dict[str, str] = field(default_factory=dict)
    value_labels: dict[str, dict[Any, str]] = field(default_factory=dict)

    def __repr__(self) -> str:
        return f"RawTable({self.source.summary()})"


RawResponses = RawTable
"""The same class under its older name."""


# --------------------------------------------------------------------------- entry point
def _check_path(path: str | Path) -> tuple[Path, str]:
    """(path, format) of an existing data file, or a DataFileError."""
    p = Path(path)
    ext = p.suffix.lower()
    if not p.exists():
        raise DataFileError(str(p), "file not found", hint="check the path of the data file")
    if p.is_dir():
        raise DataFileError(str(p), "is a folder, not a file", hint="pass the data file itself")
    fmt = FORMATS.get(ext)
    if fmt is None:
        hint = "save the data as .xlsx or CSV" if ext == ".xls" else \
            "export the data as CSV, Excel .xlsx, SPSS .sav or Parquet"
        what = "old Excel 97-2003 .xls files are not supported" if ext == ".xls" else \
            f"unsupported file type {ext or '(no extension)'!r}"
        raise DataFileError(str(p), f"{what}; supported: {SUPPORTED_TEXT}", hint=hint)
    return p, fmt


def read_table(path: str | Path, *, sheet: str | int | None = None, encoding: str | None = None,
               delimiter: str | None = None) -> RawTable:
    """Read a data file (survey responses or any table with one row per case).

    Parameters
    ----------
    path : str or Path
        ``.csv``/``.tsv``/``.txt``/``.dat``, ``.xlsx``/``.xlsm``, ``.sav``/``.zsav`` or
        ``.parquet``.
    sheet : str or int, optional
        Excel sheet name or 0-based position (default: the first sheet). A digit string
        (``"1"``) is a position unless a sheet has that name. A missing sheet is an error
        listing the sheets. Ignored for other formats.
    encoding : str, optional
        CSV encoding. By default a UTF-16 or UTF-8 byte-order mark is honoured, then UTF-8 is
        tried, then GB18030 (a superset of GBK and GB2312, as Chinese survey platforms export).
    delimiter : str, optional
        CSV field separator: one character, or a name (``comma``, ``semicolon``, ``tab``,
        ``pipe``, ``whitespace``). By default the one of comma, tab, semicolon and ``|`` that
        splits the first rows into the most consistent number of fields (at least two); when
        none does, runs of whitespace if they split every row alike (R's ``write.table``).

    Returns
    -------
    RawTable
        ``data`` (cells as read; index ``row`` = spreadsheet row) and ``source`` (format,
        encoding, delimiter and sheet detected, rows, columns, sha256), plus question
        ``labels`` and SPSS ``value_labels``.

    Raises
    ------
    DataFileError
        Missing, empty, header-only, undecodable, single-column (wrong delimiter), damaged or
        unsupported files; ragged CSV rows (naming the row); a missing sheet (listing them).

    Examples
    --------
    >>> from crm_research.responses import read_table
    >>> t = read_table("tests/reference/lavaan/HolzingerSwineford1939.csv")
    >>> t.source.encoding, t.source.delimiter, t.data.shape
    ('utf-8', ',', (301, 15))
    """
    p, fmt = _check_path(path)
    raw = p.read_bytes()
    sha = hashlib.sha256(raw).hexdigest()
    if not raw.strip(b" \t\r\n\x00") or raw in (codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
        raise DataFileError(str(p), "the file is empty", hint="export the data again; the file has no content")
    if fmt == "csv":
        out = _read_csv(p, raw, sha, encoding, delimiter)
    elif fmt == "xlsx":
        out = _read_xlsx(p, raw, sha, sheet)
    elif fmt == "parquet":
        out = _read_parquet(p, raw, sha)
    else:
        out = _read_sav(p, raw, sha)
    return _qualtrics_header(out)


read_responses = read_table
"""The same function under its older name (reading survey responses)."""


def read_text(path: str | Path, *, encoding: str | None = None, what: str = "text file") -> str:
    """Read a small text file (e.g. a lavaan model) as :func:`read_table` decodes CSV.

    UTF-8, UTF-8 with BOM, UTF-16 with BOM and GBK/GB18030 are recognised; the BOM is
    removed.

    Parameters
    ----------
    path : str or Path
    encoding : str, optional
        Force an encoding instead of detecting it.
    what : str
        What the file is, for error messages (``"model file"``).

    Returns
    -------
    str

    Raises
    ------
    DataFileError
        Missing file, a folder, a binary file or undecodable bytes (naming the line).

    Examples
    --------
    >>> from crm_research.responses import read_text
    >>> print(read_text("tests/reference/lavaan/hs_cfa.lav", what="model file").splitlines()[0])
    visual =~ x1 + x2 + x3
    """
    p = Path(path)
    if not p.exists():
        raise DataFileError(str(p), f"{what} not found", hint=f"check the path of the {what}")
    if p.is_dir():
        raise DataFileError(str(p), "is a folder, not a file", hint=f"pass the {what} itself")
    raw = p.read_bytes()
    text, _ = decode_bytes(raw, str(p), encoding)
    return text[1:] if text.startswith("\ufeff") else text


def read_columns(path: str | Path, *, sheet: str | int | None = None, encoding: str | None = None,
                 delimiter: str | None = None) -> list[str]:
    """The column names of a data file, reading as little of it as possible.

    Same formats and options as :func:`read_table` (for a CSV only the first 256 kB are
    decoded; Parquet and SPSS give their schema; Excel the header row of the sheet).

    Parameters
    ----------
    path : path
        A CSV/TXT, Excel, SPSS or Parquet file.
    sheet, encoding, delimiter :
        As for :func:`read_table`.

    Returns
    -------
    list of str

    Raises
    ------
    DataFileError
        The file is missing, of an unknown format, or unreadable.

    Examples
    --------
    >>> from crm_research.responses import read_columns
    >>> read_columns("tests/reference/lavaan/HolzingerSwineford1939.csv")[:3]
    ['id', 'sex', 'ageyr']
    """
    p, fmt = _check_path(path)
    if fmt == "parquet":
        import pyarrow.parquet as pq

        try:
            return [str(n) for n in pq.read_schema(str(p)).names if not str(n).startswith("__index_level_")]
        except Exception as e:  # pyarrow raises ArrowInvalid, OSError ...
            raise DataFileError(str(p), f"is not a readable Parquet file: {type(e).__name__}: {e}",
                                hint="write it again, e.g. with pandas.DataFrame.to_parquet") from None
    if fmt == "sav":
        import pyreadstat

        try:
            _, meta = pyreadstat.read_sav(str(p), metadataonly=True)
        except Exception as e:  # pyreadstat's errors for damaged files
            raise DataFileError(str(p), f"is not a readable SPSS .sav file (damaged or another format): {e}",
                                hint="open it in SPSS or PSPP and save it again, or export CSV") from None
        return [str(c) for c in meta.column_names]
    if fmt == "xlsx":
        return list(read_table(p, sheet=sheet).data.columns)
    with p.open("rb") as fh:
        head = fh.read(256 * 1024)
        more = fh.read(1) != b""
    if more:   # cut at the last line end so no multi-byte character is split
        cut = head.rfind(b"\n")
        head = head[:cut + 1] if cut > 0 else head
    if not head.strip(b" \t\r\n\x00"):
        raise DataFileError(str(p), "the file is empty", hint="export the data again; the file has no content")
    text, _ = decode_bytes(head, str(p), encoding)
    text = text[1:] if text.startswith("\ufeff") else text
    used = _delimiter_arg(str(p), delimiter) if delimiter is not None else sniff_delimiter(text)[0]
    if used is None:
        raise DataFileError(str(p), "all values are in one column: the delimiter is not comma, tab, semicolon, "
                                    "'|' or whitespace", row=1, hint="pass the delimiter (--delimiter)")
    first = next((ln for ln in text.splitlines() if ln.strip()), "")
    if used == WHITESPACE:
        return [c for c in _ws_split(first)]
    rec = next(csv.reader(io.StringIO(first), delimiter=used), [])
    return [c.strip() for c in rec]


def frame_responses(df: pd.DataFrame, first_data_row: int = 2) -> RawTable:
    """Wrap an in-memory DataFrame; row numbers are positions + ``first_data_row``."""
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"expected a file path or a pandas DataFrame, got {type(df).__name__}")
    if df.shape[1] == 0:
        raise DataFileError("<DataFrame>", "the DataFrame has no columns")
    if df.shape[0] == 0:
        raise DataFileError("<DataFrame>", "the DataFrame has columns but no rows")
    data = df.copy()
    data.columns = [str(c) for c in data.columns]
    data.index = pd.RangeIndex(first_data_row, first_data_row + len(df), name="row")
    src = SourceInfo("<DataFrame>", "frame", rows=len(df), columns=df.shape[1], first_data_row=first_data_row)
    return RawTable(data, src)


# --------------------------------------------------------------------------- CSV
def _magic_hint(raw: bytes) -> str | None:
    if raw.startswith(b"PK\x03\x04"):
        return "this is an Excel .xlsx (zip) file; give it the .xlsx extension"
    if raw.startswith(b"\xd0\xcf\x11\xe0"):
        return "this is an old Excel .xls (or a password-protected) file; save it as .xlsx or CSV"
    if raw[:4] in (b"$FL2", b"$FL3"):
        return "this is an SPSS file; give it the .sav extension"
    return None


def decode_bytes(raw: bytes, file: str, encoding: str | None = None) -> tuple[str, str]:
    """Decode a text file: (text, encoding used). See :func:`read_responses`.

    Parameters
    ----------
    raw : bytes
        The file's bytes.
    file : str
        Its name, for error messages.
    encoding : str, optional
        The encoding to use; default: detected (BOMs, UTF-8, then GB18030).

    Returns
    -------
    (str, str)
        The text and the encoding used.

    Raises
    ------
    DataFileError
        An unknown encoding, or bytes that cannot be decoded with it.

    Examples
    --------
    >>> decode_bytes("满意度,年龄\\n5,3\\n".encode("gb18030"), "answers.csv")
    ('满意度,年龄\\n5,3\\n', 'gb18030')
    """
    if encoding:
        try:
            return raw.decode(encoding), encoding
        except LookupError:
            raise DataFileError(file, f"unknown encoding {encoding!r}",
                                hint="use e.g. utf-8, utf-8-sig, gb18030, gbk or utf-16") from None
        except UnicodeDecodeError as e:
            row = raw[:e.start].count(b"\n") + 1
            raise DataFileError(file, f"cannot be decoded as {encoding} (byte 0x{raw[e.start]:02x} at offset {e.start})",
                                row=row, hint="omit the encoding to detect it, or pass the right one") from None
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return raw.decode("utf-16"), "utf-16"
        except UnicodeDecodeError:
            pass
    if raw.startswith(codecs.BOM_UTF8):
        try:
            return raw.decode("utf-8-sig"), "utf-8-sig"
        except UnicodeDecodeError as e:
            row = raw[:e.start].count(b"\n") + 1
            raise DataFileError(file, f"starts with a UTF-8 byte-order mark but is not valid UTF-8 "
                                      f"(byte 0x{raw[e.start]:02x} at offset {e.start})", row=row,
                                hint="re-export the file as UTF-8") from None
    if b"\x00" in raw[:4096]:
        raise DataFileError(file, "is a binary file, not text", hint=_magic_hint(raw) or
                            f"export the responses as CSV (UTF-8 or GBK) or use one of: {SUPPORTED_TEXT}")
    try:
        return raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError as e_utf8:
        try:
            return raw.decode("gb18030"), "gb18030"
        except UnicodeDecodeError as e:
            at = max(e.start, e_utf8.start)
            row = raw[:at].count(b"\n") + 1
            raise DataFileError(file, f"text encoding not recognised: not UTF-8 and not GBK/GB18030 "
                                      f"(byte 0x{raw[at]:02x} at offset {at})", row=row,
                                hint=_magic_hint(raw) or "save the file as CSV UTF-8, or pass the encoding "
                                     "(e.g. --encoding big5 or latin-1)") from None


def _records(sample: str, delim: str) -> list[list[str]]:
    rdr = csv.reader(io.StringIO(sample), delimiter=delim)
    out = []
    try:
        for rec in rdr:
            out.append(rec)
            if len(out) >= _SNIFF_LINES:
                break
    except csv.Error:
        pass
    return out


def _ws_split(line: str) -> list[str]:
    """Fields of a whitespace-separated line (double quotes group, as R's write.table quotes)."""
    try:
        return next(csv.reader([line.replace("\t", " ").strip()], delimiter=" ", quotechar='"',
                               skipinitialspace=True))
    except (StopIteration, csv.Error):
        return line.split()


def sniff_delimiter(text: str) -> tuple[str | None, dict[str, int]]:
    """The delimiter that splits the first rows most consistently into >= 2 fields.

    Ties go to the order comma, tab, semicolon, pipe. (csv.Sniffer guesses from character
    frequencies and is easily fooled by commas inside Chinese question text; this checks
    consistency instead.) When no single character splits the rows consistently, runs of
    spaces/tabs (:data:`WHITESPACE`) are used if they split every sampled row into the same
    number (>= 2) of fields.

    Parameters
    ----------
    text : str
        The decoded file (only the first rows are used).

    Returns
    -------
    (str or None, dict)
        The delimiter (None when nothing splits the rows) and the header field count per
        candidate.

    Examples
    --------
    >>> sniff_delimiter("a;b;c\\n1;2;3\\n")
    (';', {',': 1, '\\t': 1, ';': 3, '|': 1})
    """
    lines = text[:4_000_000].splitlines()
    sample = "\n".join(lines[:_SNIFF_LINES + 1])
    best, best_score, widths = None, None, {}
    for d in DELIMITERS:
        recs = [r for r in _records(sample, d) if any(x.strip() for x in r)]
        if not recs:
            continue
        n = len(recs[0])
        widths[d] = n
        if n < 2:
            continue
        body = recs[1:-1] if len(recs) > 2 else recs[1:]
        consistent = sum(len(r) == n for r in body) / len(body) if body else 1.0
        score = (consistent >= 0.9, consistent, n)
        if best_score is None or score > best_score:
            best, best_score = d, score
    if best is None or not best_score[0]:
        recs = [_ws_split(ln) for ln in lines[:_SNIFF_LINES + 1] if ln.strip()]
        if recs:
            widths[WHITESPACE] = len(recs[0])
            if len(recs[0]) >= 2 and all(len(r) == len(recs[0]) for r in recs):
                best = WHITESPACE
    return best, widths


def _delimiter_arg(file: str, delimiter: str) -> str:
    """A user's delimiter (a character or a name) as the separator to use."""
    d = DELIMITER_NAMES.get(delimiter.lower() if len(delimiter) > 1 else delimiter, delimiter)
    if d != WHITESPACE and len(d) != 1:
        raise DataFileError(file, f"delimiter must be one character or a name, got {delimiter!r}",
                            hint="use ',', ';', '|', tab or whitespace")
    return d


def _read_csv(p: Path, raw: bytes, sha: str, encoding: str | None, delimiter: str | None) -> RawTable:
    file = str(p)
    text, enc = decode_bytes(raw, file, encoding)
    if text.startswith("\ufeff"):
        text = text[1:]
    if not text.strip():
        raise DataFileError(file, "the file is empty", hint="export the responses again; the file has no content")
    guess, widths = sniff_delimiter(text)
    used = _delimiter_arg(file, delimiter) if delimiter is not None else guess
    if used is None:
        raise DataFileError(file, "all values are in one column: the delimiter is not comma, tab, semicolon, '|' "
                                  "or whitespace", row=1,
                            hint="export as CSV with comma separators, or pass the delimiter (--delimiter)")
    try:
        df = pd.read_csv(io.StringIO(text), sep=used, dtype=str, keep_default_na=False, na_filter=False,
                         skip_blank_lines=used == WHITESPACE, engine="c")
    except pd.errors.ParserError as e:
        m = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", str(e))
        if m:
            raise DataFileError(file, f"has {m.group(3)} fields where the header has {m.group(1)}", row=int(m.group(2)),
                                hint="a value probably contains an unquoted delimiter; quote it or fix the row") from None
        raise DataFileError(file, f"cannot be parsed as CSV: {str(e).strip()}",
                            hint="check quoting and the delimiter") from None
    except pd.errors.EmptyDataError:
        raise DataFileError(file, "the file is empty", hint="export the responses again") from None
    except (ValueError, OverflowError, MemoryError) as e:
        raise DataFileError(file, f"cannot be parsed as CSV: {type(e).__name__}: {e}",
                            hint="check quoting and the delimiter, or export the file again") from None
    if df.shape[1] < 2:
        better = max(widths, key=widths.get) if widths else None
        hint = (f"the file looks {_DELIM_NAMES.get(better, better)}-separated; pass --delimiter {better!r}"
                if better and better != used and widths[better] >= 2 else
                "export as CSV with comma separators, or pass the delimiter (--delimiter)")
        raise DataFileError(file, f"all values are in one column with delimiter {used!r}: wrong delimiter",
                            row=1, hint=hint)
    df.columns = [str(c).strip() for c in df.columns]
    df = _tidy(df, first_row=2, rows=_ws_rows(text)[:len(df)] if used == WHITESPACE else None)
    if df.empty:
        raise DataFileError(file, "has a header row but no data rows", row=1,
                            hint="export the data again, including the answers")
    src = SourceInfo(file, "csv", sha, enc, used, None, len(df), df.shape[1], 2)
    return RawTable(df, src)


def _ws_rows(text: str) -> list[int]:
    """File line numbers of the non-blank lines after the header (whitespace-separated files)."""
    nums = [i for i, ln in enumerate(text.splitlines(), start=1) if ln.strip()]
    return nums[1:]


def _blank(df: pd.DataFrame) -> pd.DataFrame:
    """Boolean frame: cell is empty (None, NaN, or whitespace-only text)."""
    out = df.isna()
    for c in df.columns:
        col = df[c]
        if col.dtype == object:
            out[c] = out[c] | col.map(lambda v: isinstance(v, str) and not v.strip()).astype(bool)
        elif pd.api.types.is_string_dtype(col):
            out[c] = out[c] | col.str.strip().eq("").fillna(False).astype(bool)
    return out


def _tidy(df: pd.DataFrame, first_row: int, rows: list[int] | None = None) -> pd.DataFrame:
    """Number rows as a spreadsheet does (or by ``rows``), drop blank rows and unnamed empty columns."""
    df = df.copy()
    df.index = pd.RangeIndex(first_row, first_row + len(df), name="row") if rows is None else \
        pd.Index(rows, name="row")
    if df.empty:
        return df
    blank = _blank(df)
    unnamed_empty = [c for c in df.columns if re.fullmatch(r"Unnamed: \d+(?:\.\d+)?|", str(c)) and blank[c].all()]
    if unnamed_empty:
        df = df.drop(columns=unnamed_empty)
        blank = blank.drop(columns=unnamed_empty)
    return df.loc[~blank.all(axis=1)]


# --------------------------------------------------------------------------- Excel
def _read_xlsx(p: Path, raw: bytes, sha: str, sheet: str | int | None) -> RawTable:
    import zipfile

    import openpyxl

    file = str(p)
    try:
        wb = openpyxl.load_workbook(io.BytesIO(raw), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError, TypeError) as e:
        hint = _magic_hint(raw)
        raise DataFileError(file, f"is not a readable .xlsx workbook (damaged or not Excel 2007+): {type(e).__name__}",
                            hint=hint or "open it in Excel and save it again as .xlsx, or export CSV") from None
    except Exception as e:  # openpyxl raises assorted exceptions for broken package parts
        raise DataFileError(file, f"is not a readable .xlsx workbook: {type(e).__name__}: {e}",
                            hint="open it in Excel and save it again as .xlsx, or export CSV") from None
    try:
        names = wb.sheetnames
        if sheet is None:
            ws, sname = wb.worksheets[0], names[0]
        elif isinstance(sheet, int) or (isinstance(sheet, str) and sheet.isdigit() and sheet not in names):
            i = int(sheet)
            if not 0 <= i < len(names):
                raise DataFileError(file, f"has no sheet number {i} (it has {len(names)}: {', '.join(names)})",
                                    hint="sheet numbers start at 0; or pass the sheet name")
            ws, sname = wb.worksheets[i], names[i]
        else:
            if sheet not in names:
                raise DataFileError(file, f"has no sheet {sheet!r}; sheets: {', '.join(names)}",
                                    hint="pass one of the sheet names")
            ws, sname = wb[sheet], sheet
        try:
            rows = [list(r) for r in ws.iter_rows(values_only=True)]
        except Exception as e:
            raise DataFileError(file, f"sheet {sname!r} cannot be read (damaged workbook): {type(e).__name__}",
                                hint="open it in Excel and save it again") from None
    finally:
        wb.close()
    # header = first non-empty row
    def empty(r: list) -> bool:
        return all(v is None or (isinstance(v, str) and not v.strip()) for v in r)

    h = next((i for i, r in enumerate(rows) if not empty(r)), None)
    if h is None:
        raise DataFileError(file, f"sheet {sname!r} is empty", hint="pick the sheet with the responses (--sheet)")
    width = max(len(r) for r in rows)
    header = rows[h] + [None] * (width - len(rows[h]))
    names_ = [str(v).strip() if v is not None and str(v).strip() else f"Unnamed: {j}" for j, v in enumerate(header)]
    names_ = _dedupe(names_)
    body = [r + [None] * (width - len(r)) for r in rows[h + 1:]]
    df = pd.DataFrame(body, columns=names_, dtype=object) if body else pd.DataFrame(columns=names_, dtype=object)
    df = _tidy(df, first_row=h + 2)
    if df.shape[1] < 2:
        raise DataFileError(file, f"sheet {sname!r} has only one column ({df.columns[0]!r})", row=h + 1,
                            hint="each question must be its own column; if the values are 'a,b,c' text, "
                                 "use Excel's Text to Columns or export CSV")
    if df.empty:
        raise DataFileError(file, f"sheet {sname!r} has a header row but no data rows", row=h + 1,
                            hint="pick the sheet with the responses (--sheet)")
    src = SourceInfo(file, "xlsx", sha, None, None, sname, len(df), df.shape[1], h + 2)
    return RawTable(df, src)


def _dedupe(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for n in names:
        if n in seen:
            seen[n] += 1
            out.append(f"{n}.{seen[n]}")
        else:
            seen[n] = 0
            out.append(n)
    return out


# --------------------------------------------------------------------------- SPSS
def _read_sav(p: Path, raw: bytes, sha: str) -> RawTable:
    import pyreadstat

    file = str(p)
    try:
        df, meta = pyreadstat.read_sav(str(p), apply_value_formats=False, user_missing=False)
    except (pyreadstat.ReadstatError, pyreadstat.PyreadstatError, OSError, ValueError) as e:
        raise DataFileError(file, f"is not a readable SPSS .sav file (damaged or another format): {e}",
                            hint=_magic_hint(raw) or "open it in SPSS or PSPP and save it again, or export CSV") from None
    if df.shape[1] < 2:
        raise DataFileError(file, f"has only {df.shape[1]} variable(s)", hint="the file must hold one variable per question")
    df.columns = [str(c) for c in df.columns]
    df = _tidy(df, first_row=1)
    if df.empty:
        raise DataFileError(file, "has variables but no cases", hint="export the responses again, including the data")
    labels = {str(k): str(v) for k, v in (meta.column_names_to_labels or {}).items() if v}
    vlabels = {str(k): dict(v) for k, v in (meta.variable_value_labels or {}).items() if v}
    src = SourceInfo(file, "sav", sha, getattr(meta, "file_encoding", None), None, None, len(df), df.shape[1], 1)
    return RawTable(df, src, labels, vlabels)


# --------------------------------------------------------------------------- Parquet
def _read_parquet(p: Path, raw: bytes, sha: str) -> RawTable:
    file = str(p)
    try:
        df = pd.read_parquet(io.BytesIO(raw))
    except ImportError as e:  # pragma: no cover - pyarrow is a dependency
        raise DataFileError(file, f"reading Parquet needs pyarrow: {e}", hint="pip install pyarrow") from None
    except Exception as e:  # pyarrow raises ArrowInvalid, OSError ... for damaged files
        raise DataFileError(file, f"is not a readable Parquet file (damaged or another format): {type(e).__name__}: {e}",
                            hint=_magic_hint(raw) or "write it again, e.g. with pandas.DataFrame.to_parquet") from None
    if isinstance(df.index, pd.MultiIndex) or df.index.name is not None:
        df = df.reset_index()
    if df.shape[1] < 2:
        raise DataFileError(file, f"has only {df.shape[1]} column(s)", hint="the file must hold one column per variable")
    df.columns = _dedupe([str(c).strip() for c in df.columns])
    df = _tidy(df.reset_index(drop=True), first_row=1)
    if df.empty:
        raise DataFileError(file, "has columns but no rows", hint="write the data again, including the rows")
    src = SourceInfo(file, "parquet", sha, None, None, None, len(df), df.shape[1], 1)
    return RawTable(df, src)


# --------------------------------------------------------------------------- Qualtrics
def _qualtrics_header(r: RawTable) -> RawTable:
    """Qualtrics CSV/Excel exports have three header rows: names, question text, ImportIds.

    The question text becomes the column ``labels`` (used for mapping) and the two extra
    header rows leave the data; row numbers stay those of the file.
    """
    df = r.data
    if len(df) < 2 or r.source.format not in ("csv", "xlsx"):
        return r
    third = df.iloc[1].astype(str)
    if (third.str.contains('"ImportId"', regex=False) | third.str.contains("{'ImportId'", regex=False)).mean() < 0.5:
        return r
    second = df.iloc[0]
    labels = {str(c): str(v).strip() for c, v in second.items() if isinstance(v, str) and v.strip()}
    data = df.iloc[2:]
    if data.empty:
        raise DataFileError(r.source.file, "has the three Qualtrics header rows but no responses", row=3,
                            hint="export the responses again, including the data")
    src = SourceInfo(r.source.file, r.source.format, r.source.sha256, r.source.encoding, r.source.delimiter,
                     r.source.sheet, len(data), data.shape[1], int(data.index[0]))
    return RawTable(data, src, {**r.labels, **labels}, r.value_labels)

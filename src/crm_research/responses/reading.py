"""Reading response files: CSV (UTF-8, UTF-8 with BOM, UTF-16, GBK/GB18030), Excel .xlsx and
SPSS .sav, with one clear :class:`~crm_research.errors.DataFileError` per unusable file.

Every data row keeps the row number a spreadsheet user sees (header = row 1; SPSS: the case
number), so every later finding can name it. Cells are kept as read (text for CSV; numbers,
text or dates for Excel and SPSS): nothing is converted here.
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

FORMATS = {".csv": "csv", ".tsv": "csv", ".txt": "csv", ".xlsx": "xlsx", ".xlsm": "xlsx",
           ".sav": "sav", ".zsav": "sav"}
SUPPORTED_TEXT = ".csv, .tsv, .txt (UTF-8, UTF-8 with BOM, UTF-16, GBK/GB18030), .xlsx, .xlsm, .sav, .zsav"
DELIMITERS = (",", "\t", ";", "|")
_DELIM_NAMES = {",": "comma", "\t": "tab", ";": "semicolon", "|": "pipe"}
_SNIFF_LINES = 200


@dataclass(frozen=True)
class SourceInfo:
    """Where the responses came from (no cell values).

    Attributes
    ----------
    file : str
        Path as given (``"<DataFrame>"`` for in-memory input).
    format : str
        ``csv``, ``xlsx``, ``sav`` or ``frame``.
    sha256 : str
        Hash of the file's bytes (empty for a DataFrame).
    encoding : str or None
        Encoding used to decode a CSV (``utf-8``, ``utf-8-sig``, ``utf-16``, ``gb18030``) or
        declared by an SPSS file.
    delimiter : str or None
        CSV field separator that was used.
    sheet : str or None
        Excel sheet that was read.
    rows : int
        Data rows read (blank rows excluded).
    columns : int
        Columns read.
    first_data_row : int
        Spreadsheet row of the first data row (2 when the header is row 1; 1 for SPSS cases).
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
            bits.append(f", sha256 {self.sha256[:12]}")
        return "".join(bits)

    def to_dict(self) -> dict[str, Any]:
        return dict(file=self.file, format=self.format, sha256=self.sha256, encoding=self.encoding,
                    delimiter=self.delimiter, sheet=self.sheet, rows=self.rows, columns=self.columns,
                    first_data_row=self.first_data_row)


@dataclass
class RawResponses:
    """A response file as read: cells untouched, index = spreadsheet row number (``row``).

    ``labels`` holds question text per column when the file carries it apart from the
    column name (SPSS variable labels, the second header row of a Qualtrics export);
    ``value_labels`` holds SPSS value labels ``{column: {code: label}}``.

    Note: ``data`` may contain personal data; :func:`~crm_research.responses.prepare_responses`
    removes it before anything else looks at the cells.
    """

    data: pd.DataFrame
    source: SourceInfo
    labels: dict[str, str] = field(default_factory=dict)
    value_labels: dict[str, dict[Any, str]] = field(default_factory=dict)

    def __repr__(self) -> str:
        return f"RawResponses({self.source.summary()})"


# --------------------------------------------------------------------------- entry point
def read_responses(path: str | Path, *, sheet: str | int | None = None, encoding: str | None = None,
                   delimiter: str | None = None) -> RawResponses:
    """Read a response file.

    Parameters
    ----------
    path : str or Path
        ``.csv``/``.tsv``/``.txt``, ``.xlsx``/``.xlsm`` or ``.sav``/``.zsav``.
    sheet : str or int, optional
        Excel sheet name or 0-based position (default: the first sheet).
    encoding : str, optional
        CSV encoding. By default a UTF-16 or UTF-8 byte-order mark is honoured, then UTF-8 is
        tried, then GB18030 (a superset of GBK and GB2312, as Chinese survey platforms export).
    delimiter : str, optional
        CSV field separator. By default the one of comma, tab, semicolon and ``|`` that splits
        the first rows into the most consistent number of fields (at least two).

    Returns
    -------
    RawResponses

    Raises
    ------
    DataFileError
        Missing, empty, header-only, undecodable, single-column (wrong delimiter), damaged or
        unsupported files; ragged CSV rows; a missing sheet.
    """
    p = Path(path)
    ext = p.suffix.lower()
    if not p.exists():
        raise DataFileError(str(p), "file not found", hint="check the path of the response file")
    if p.is_dir():
        raise DataFileError(str(p), "is a folder, not a file", hint="pass the response file itself")
    fmt = FORMATS.get(ext)
    if fmt is None:
        hint = "save the responses as .xlsx or CSV" if ext == ".xls" else \
            "export the responses as CSV, Excel .xlsx or SPSS .sav"
        what = "old Excel 97-2003 .xls files are not supported" if ext == ".xls" else \
            f"unsupported file type {ext or '(no extension)'!r}"
        raise DataFileError(str(p), f"{what}; supported: {SUPPORTED_TEXT}", hint=hint)
    raw = p.read_bytes()
    sha = hashlib.sha256(raw).hexdigest()
    if not raw.strip(b" \t\r\n\x00") or raw in (codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
        raise DataFileError(str(p), "the file is empty", hint="export the responses again; the file has no content")
    if fmt == "csv":
        out = _read_csv(p, raw, sha, encoding, delimiter)
    elif fmt == "xlsx":
        out = _read_xlsx(p, raw, sha, sheet)
    else:
        out = _read_sav(p, raw, sha)
    return _qualtrics_header(out)


def frame_responses(df: pd.DataFrame, first_data_row: int = 2) -> RawResponses:
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
    return RawResponses(data, src)


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
    """Decode a text file: (text, encoding used). See :func:`read_responses`."""
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


def sniff_delimiter(text: str) -> tuple[str | None, dict[str, int]]:
    """The delimiter that splits the first rows most consistently into >= 2 fields.

    Returns (delimiter or None, header field count per candidate). Ties go to the order
    comma, tab, semicolon, pipe. (csv.Sniffer guesses from character frequencies and is
    easily fooled by commas inside Chinese question text; this checks consistency instead.)
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
    return best, widths


def _read_csv(p: Path, raw: bytes, sha: str, encoding: str | None, delimiter: str | None) -> RawResponses:
    file = str(p)
    text, enc = decode_bytes(raw, file, encoding)
    if text.startswith("\ufeff"):
        text = text[1:]
    if not text.strip():
        raise DataFileError(file, "the file is empty", hint="export the responses again; the file has no content")
    guess, widths = sniff_delimiter(text)
    if delimiter is not None:
        if delimiter in ("\\t", "tab", "TAB"):
            delimiter = "\t"
        if len(delimiter) != 1:
            raise DataFileError(file, f"delimiter must be one character, got {delimiter!r}",
                                hint="use ',', ';', '|' or tab")
        used = delimiter
    else:
        used = guess
    if used is None:
        raise DataFileError(file, "all values are in one column: the delimiter is not comma, tab, semicolon or '|'",
                            row=1, hint="export as CSV with comma separators, or pass the delimiter (--delimiter)")
    try:
        df = pd.read_csv(io.StringIO(text), sep=used, dtype=str, keep_default_na=False, na_filter=False,
                         skip_blank_lines=False, engine="c")
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
    df = _tidy(df, first_row=2)
    if df.empty:
        raise DataFileError(file, "has a header row but no data rows", row=1,
                            hint="export the responses again, including the answers")
    src = SourceInfo(file, "csv", sha, enc, used, None, len(df), df.shape[1], 2)
    return RawResponses(df, src)


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


def _tidy(df: pd.DataFrame, first_row: int) -> pd.DataFrame:
    """Number rows as a spreadsheet does, drop blank rows and unnamed empty columns."""
    df = df.copy()
    df.index = pd.RangeIndex(first_row, first_row + len(df), name="row")
    if df.empty:
        return df
    blank = _blank(df)
    unnamed_empty = [c for c in df.columns if re.fullmatch(r"Unnamed: \d+(?:\.\d+)?|", str(c)) and blank[c].all()]
    if unnamed_empty:
        df = df.drop(columns=unnamed_empty)
        blank = blank.drop(columns=unnamed_empty)
    return df.loc[~blank.all(axis=1)]


# --------------------------------------------------------------------------- Excel
def _read_xlsx(p: Path, raw: bytes, sha: str, sheet: str | int | None) -> RawResponses:
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
    return RawResponses(df, src)


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
def _read_sav(p: Path, raw: bytes, sha: str) -> RawResponses:
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
    return RawResponses(df, src, labels, vlabels)


# --------------------------------------------------------------------------- Qualtrics
def _qualtrics_header(r: RawResponses) -> RawResponses:
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
    return RawResponses(data, src, {**r.labels, **labels}, r.value_labels)

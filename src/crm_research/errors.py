"""Error types shared by the whole package.

Every error a user can cause derives from :class:`CRMResearchError`. Its message is one
readable line naming *where* (file, row, column or key path) and *what was expected*, with
an optional ``hint`` saying how to fix it. The CLI prints ``str(err)`` and exits non-zero;
it never shows a traceback for these.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any


class CRMResearchError(Exception):
    """Base class for errors caused by user input or configuration."""

    def __init__(self, message: str, *, hint: str | None = None):
        self.message = message
        self.hint = hint
        super().__init__(self.__str__())

    def __str__(self) -> str:  # one line: message, then the fix
        return f"{self.message} (fix: {self.hint})" if self.hint else self.message


class InstrumentError(CRMResearchError):
    """An instrument (survey YAML) is malformed.

    Parameters
    ----------
    file : str
        The YAML file.
    key : str
        Key path inside the file, e.g. ``constructs[2].items[0].text.zh``.
    problem : str
        What is wrong / what was expected.
    """

    def __init__(self, file: str, key: str, problem: str, *, hint: str | None = None):
        self.file, self.key, self.problem = str(file), key, problem
        where = f"{self.file}: {key}" if key else self.file
        super().__init__(f"{where}: {problem}", hint=hint)


class DataFileError(CRMResearchError):
    """A data file cannot be read or lacks what is required.

    ``row`` is the 1-based line number in the file as a spreadsheet user sees it
    (header = row 1) when known; ``column`` the column name.
    """

    def __init__(self, file: str, problem: str, *, row: int | None = None,
                 column: str | None = None, value: Any = None, hint: str | None = None):
        self.file, self.problem, self.row, self.column, self.value = str(file), problem, row, column, value
        parts = [self.file]
        if row is not None:
            parts.append(f"row {row}")
        if column is not None:
            parts.append(f"column {column!r}")
        if value is not None:
            parts.append(f"value {value!r}")
        super().__init__(", ".join(parts) + f": {problem}", hint=hint)


class ModelSyntaxError(CRMResearchError):
    """lavaan model syntax that is invalid or not supported (names the line)."""

    def __init__(self, line_no: int, line: str, problem: str, *, hint: str | None = None):
        self.line_no, self.line, self.problem = line_no, line, problem
        super().__init__(f"model syntax line {line_no}: {line.strip()!r}: {problem}", hint=hint)


class ModelError(CRMResearchError):
    """A model cannot be estimated (e.g. not identified, variables missing from the data)."""


class InsufficientDataError(CRMResearchError, ValueError):
    """Too few cases or variables for a statistic (says how many there are and how many are needed)."""


class ConfigError(CRMResearchError):
    """A configuration file (batch, case, population model) is malformed; names file and key."""

    def __init__(self, file: str, key: str, problem: str, *, hint: str | None = None):
        self.file, self.key, self.problem = str(file), key, problem
        where = f"{self.file}: {key}" if key else self.file
        super().__init__(f"{where}: {problem}", hint=hint)


def out_of_memory(err: BaseException, what: str = "") -> ConfigError | None:
    """The clear error for a database engine that ran out of memory (DuckDB's out-of-memory
    error), or None for any other error.

    Parameters
    ----------
    err : BaseException
        The engine's error.
    what : str
        What was being computed, for the message (e.g. ``"KPI table 'churn_risk'"``).

    Returns
    -------
    ConfigError or None

    Examples
    --------
    >>> e = RuntimeError("Out of Memory Error: failed to pin block of size 256.0 KiB (7.6 MiB/7.6 MiB used)")
    >>> print(out_of_memory(e, "KPI table 'rfm'"))
    memory_limit: KPI table 'rfm': the database ran out of memory under its memory limit (failed to pin block of size 256.0 KiB (7.6 MiB/7.6 MiB used)) (fix: raise the memory limit (CLI: --memory-limit; Python: kpi.load(..., memory_limit=)), or name a temp_directory (--temp-directory) on a disk with room to spill to, or use fewer threads)
    >>> out_of_memory(ValueError("something else")) is None
    True
    """
    text = str(err).strip()
    if type(err).__name__ != "OutOfMemoryException" and "Out of Memory Error" not in text:
        return None
    first = text.splitlines()[0] if text else type(err).__name__
    detail = first.split("Out of Memory Error:", 1)[-1].strip()
    return ConfigError("memory_limit", "", f"{what + ': ' if what else ''}the database ran out of memory under "
                       f"its memory limit ({detail})",
                       hint="raise the memory limit (CLI: --memory-limit; Python: kpi.load(..., memory_limit=)), "
                            "or name a temp_directory (--temp-directory) on a disk with room to spill to, "
                            "or use fewer threads")


@dataclass(frozen=True)
class Finding:
    """One problem found in data: who, where, what (used by validation reports)."""

    check: str
    severity: str  # "error" | "warning" | "info"
    respondent: Any
    row: int | None
    column: str | None
    value: Any
    message: str

"""Survey response intake: read, map, protect, validate, clean and score.

The one-call entry point is :func:`prepare_responses`::

    from crm_research.responses import prepare_responses
    rs = prepare_responses("export.csv", "surveys/ecommerce_crm.yaml", salt="my-project")
    rs.report          # findings: check, severity, respondent, row, column, value, message
    rs.data, rs.scores # cleaned item answers (PII removed) and construct scores

The steps are also available one by one: :func:`read_table` (the one reader of every verb:
CSV in UTF-8/BOM/GBK with a sniffed delimiter, Excel with a sheet, SPSS, Parquet),
:func:`map_columns` (ids, a column map, or exported question text),
:func:`crm_research.privacy.protect`, :func:`validate_responses`, :func:`apply_policies`,
:func:`reverse_code` and :func:`score_responses`.

Column maps have one convention everywhere (:func:`parse_column_map`): ``{file column: id}``
as a YAML file, a dict, or ``"COLUMN=ID"`` strings. :func:`read_model_data` reads just the
numeric variables a model needs from any data file (``crm-research fit`` without an
instrument).
"""
from __future__ import annotations

from .cleaning import DEFAULT_POLICIES, POLICY_VALUES, apply_policies, resolve_policies, reverse_code
from .coding import MISSING_TOKENS, code_likert, parse_seconds
from .mapping import ColumnMapping, MapEntry, load_column_map, map_columns, parse_column_map, resolve_column_map
from .prepare import OUTPUT_FILES, ModelData, ResponseSet, prepare_responses, read_model_data, write_outputs
from .reading import (SUPPORTED_TEXT, WHITESPACE, RawResponses, RawTable, SourceInfo, decode_bytes, read_columns,
                      read_responses, read_table, read_text, sniff_delimiter)
from .scoring import score_responses
from .validation import CHECKS, RESPONDENT_CHECKS, ValidationReport, validate_responses

__all__ = [
    "CHECKS", "ColumnMapping", "DEFAULT_POLICIES", "MISSING_TOKENS", "MapEntry", "ModelData", "OUTPUT_FILES",
    "POLICY_VALUES", "RESPONDENT_CHECKS", "RawResponses", "RawTable", "ResponseSet", "SUPPORTED_TEXT", "SourceInfo",
    "ValidationReport", "WHITESPACE", "apply_policies", "code_likert", "decode_bytes", "load_column_map",
    "map_columns", "parse_column_map", "parse_seconds", "prepare_responses", "read_columns", "read_model_data",
    "read_responses", "read_table", "read_text", "resolve_column_map", "resolve_policies", "reverse_code",
    "score_responses", "sniff_delimiter", "validate_responses", "write_outputs",
]

"""Survey response intake: read, map, protect, validate, clean and score.

The one-call entry point is :func:`prepare_responses`::

    from crm_research.responses import prepare_responses
    rs = prepare_responses("export.csv", "surveys/ecommerce_crm.yaml", salt="my-project")
    rs.report          # findings: check, severity, respondent, row, column, value, message
    rs.data, rs.scores # cleaned item answers (PII removed) and construct scores

The steps are also available one by one: :func:`read_responses` (CSV in UTF-8/GBK, Excel,
SPSS), :func:`map_columns` (ids, a column map, or exported question text),
:func:`crm_research.privacy.protect`, :func:`validate_responses`, :func:`apply_policies`,
:func:`reverse_code` and :func:`score_responses`.
"""
from __future__ import annotations

from .cleaning import DEFAULT_POLICIES, POLICY_VALUES, apply_policies, resolve_policies, reverse_code
from .coding import MISSING_TOKENS, code_likert, parse_seconds
from .mapping import ColumnMapping, load_column_map, map_columns
from .prepare import OUTPUT_FILES, ResponseSet, prepare_responses, write_outputs
from .reading import SUPPORTED_TEXT, RawResponses, SourceInfo, decode_bytes, read_responses, sniff_delimiter
from .scoring import score_responses
from .validation import CHECKS, RESPONDENT_CHECKS, ValidationReport, validate_responses

__all__ = [
    "CHECKS", "ColumnMapping", "DEFAULT_POLICIES", "MISSING_TOKENS", "OUTPUT_FILES", "POLICY_VALUES",
    "RESPONDENT_CHECKS", "RawResponses", "ResponseSet", "SUPPORTED_TEXT", "SourceInfo", "ValidationReport",
    "apply_policies", "code_likert", "decode_bytes", "load_column_map", "map_columns", "parse_seconds",
    "prepare_responses", "read_responses", "resolve_policies", "reverse_code", "score_responses",
    "sniff_delimiter", "validate_responses", "write_outputs",
]

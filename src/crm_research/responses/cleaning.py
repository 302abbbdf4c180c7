"""Cleaning policies and reverse coding.

A policy says what happens to the respondents a check found:

``drop``  remove the respondent from the cleaned data (for ``duplicate_id`` and
          ``duplicate_row`` only the *later* occurrences are found, so the first is kept);
``flag``  keep the respondent and set a boolean column ``flag_<check>``;
``keep``  keep the respondent, no column.

Whatever the policy, a cell that cannot be a valid answer (non-numeric, out of range, not a
declared option) is already missing in the coded data: a wrong number never reaches a score.
"""
from __future__ import annotations

from typing import Iterable, Mapping

import numpy as np
import pandas as pd

from ..errors import ConfigError
from ..instruments import Instrument
from .validation import CHECKS, RESPONDENT_CHECKS, ValidationReport

POLICY_VALUES = ("drop", "flag", "keep")
#: documented defaults: remove what is certainly not a valid, unique, eligible, attentive
#: response; flag what a researcher judges case by case (identical answer patterns under
#: different ids are common among real respondents of short surveys: flagged, not dropped);
#: keep incomplete answers (scores handle them with a minimum-valid-items rule).
DEFAULT_POLICIES: dict[str, str] = {
    "duplicate_id": "drop",
    "duplicate_row": "flag",
    "attention_failed": "drop",
    "screened_out": "drop",
    "too_fast": "flag",
    "straight_lining": "flag",
    "non_numeric": "flag",
    "out_of_range": "flag",
    "demographic_invalid": "flag",
    "duration_invalid": "flag",
    "missing": "keep",
    "missing_id": "keep",
}


def resolve_policies(policies: Mapping[str, str] | Iterable[str] | None = None, source: str = "policies") -> dict[str, str]:
    """Defaults updated by ``policies`` (a mapping, or ``"check=policy"`` strings).

    ``"all=flag"`` sets every check first; later entries override it.

    Parameters
    ----------
    policies : mapping or iterable of str, optional
        ``{check: policy}`` or ``["check=policy", ...]``; policies are ``drop``, ``flag``
        and ``keep``.
    source : str
        Where the policies come from, for error messages.

    Returns
    -------
    dict of str to str
        A policy for every check of :data:`DEFAULT_POLICIES`.

    Raises
    ------
    ConfigError
        An unknown check or policy, or a string without ``=``.

    Examples
    --------
    >>> p = resolve_policies(["all=flag", "too_fast=drop"])
    >>> p["too_fast"], p["attention_failed"]
    ('drop', 'flag')
    >>> resolve_policies({"too_fast": "delete"})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    crm_research.errors.ConfigError: ...policy must be drop, flag or keep, got 'delete'...
    """
    out = dict(DEFAULT_POLICIES)
    if policies is None:
        return out
    items: list[tuple[str, str]] = []
    if isinstance(policies, Mapping):
        items = [(str(k), str(v)) for k, v in policies.items()]
    else:
        for p in policies:
            if "=" not in str(p):
                raise ConfigError(source, str(p), "expected CHECK=POLICY, e.g. too_fast=drop",
                                  hint=f"checks: {', '.join(RESPONDENT_CHECKS)}; policies: drop, flag, keep")
            k, v = str(p).split("=", 1)
            items.append((k.strip(), v.strip()))
    for k, v in sorted(items, key=lambda kv: kv[0] != "all"):
        v = v.lower()
        if v not in POLICY_VALUES:
            raise ConfigError(source, k, f"policy must be drop, flag or keep, got {v!r}")
        if k == "all":
            out = {c: v for c in out}
            continue
        if k not in DEFAULT_POLICIES:
            hint = (f"{k!r} is informational and has no policy; " if k in CHECKS else "") + \
                   f"checks with a policy: {', '.join(RESPONDENT_CHECKS)}"
            raise ConfigError(source, k, "not a check that takes a policy", hint=hint)
        out[k] = v
    return out


def apply_policies(report: ValidationReport, policies: Mapping[str, str] | Iterable[str] | None = None
                   ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Apply cleaning policies to a validation report's coded data.

    Parameters
    ----------
    report : ValidationReport
        :func:`~crm_research.responses.validate_responses`; its ``policies``, ``actions``
        and ``n_kept`` are set.
    policies : mapping or iterable of str, optional
        As :func:`resolve_policies` reads them (default: :data:`DEFAULT_POLICIES`).

    Returns
    -------
    data : DataFrame
        Kept respondents (index ``row``), with ``flag_<check>`` columns for flagged checks.
    excluded : DataFrame
        Dropped respondents: ``row, respondent, checks``.
    actions : DataFrame
        Per check: ``check, severity, findings, respondents, policy, dropped, flagged``.

    Examples
    --------
    >>> import pandas as pd
    >>> from crm_research.instruments import load_instrument
    >>> inst = load_instrument("surveys/ecommerce_crm.yaml")
    >>> df = pd.DataFrame({"respondent_id": [1, 2, 3], **{i: [4, 2, 3] for i in inst.item_ids}}).astype(object)
    >>> df.loc[1, "SAT1"], df.loc[2, "SAT2"] = "Strongly agree", 9
    >>> from crm_research.responses import validate_responses
    >>> kept, excluded, actions = apply_policies(validate_responses(df, inst), {"straight_lining": "drop"})
    >>> len(kept), excluded["checks"].tolist()
    (1, ['straight_lining', 'straight_lining'])
    """
    pol = resolve_policies(policies)
    data = report.data.copy()
    f = report.findings
    index = data.index
    rid = data.columns[0]
    drop = np.zeros(len(data), dtype=bool)
    reasons: dict[int, list[str]] = {}
    hit_rows: dict[str, np.ndarray] = {}
    for check in RESPONDENT_CHECKS:
        rows = pd.to_numeric(f.loc[f.check == check, "row"], errors="coerce").dropna().astype(int).unique()
        mask = index.isin(rows)
        hit_rows[check] = mask
        if pol[check] == "drop":
            drop |= mask
            for r in index[mask]:
                reasons.setdefault(int(r), []).append(check)
        elif pol[check] == "flag":
            data[f"flag_{check}"] = mask
    rows_ = []
    for check, (sev, desc) in CHECKS.items():
        part = f[f.check == check]
        if part.empty and check not in RESPONDENT_CHECKS:
            continue
        if part.empty:
            continue
        p = pol.get(check, "")
        m = hit_rows.get(check)
        n_resp = int(m.sum()) if m is not None else int(part.respondent.dropna().nunique())
        rows_.append(dict(check=check, severity=sev, findings=len(part), respondents=n_resp, policy=p,
                          dropped=n_resp if p == "drop" else 0, flagged=n_resp if p == "flag" else 0,
                          description=desc))
    actions = pd.DataFrame(rows_, columns=["check", "severity", "findings", "respondents", "policy", "dropped",
                                           "flagged", "description"])
    excluded = pd.DataFrame(
        [dict(row=int(r), respondent=data.at[r, rid], checks="; ".join(reasons[int(r)])) for r in index[drop]],
        columns=["row", "respondent", "checks"])
    kept = data.loc[~drop]
    report.policies = pol
    report.actions = actions
    report.n_kept = int((~drop).sum())
    return kept, excluded, actions


def reverse_code(data: pd.DataFrame, instrument: Instrument, items: Iterable[str] | None = None) -> pd.DataFrame:
    """Reverse-code items: ``x -> min + max - x`` on each item's scale (1-5: 1<->5, 2<->4;
    0-10: 0<->10, 3<->7).

    Parameters
    ----------
    items : iterable of str, optional
        Items to reverse; default the instrument's ``reverse: true`` items present in ``data``.

    Returns
    -------
    DataFrame
        A copy; ``attrs["reverse_coded"]`` lists the reversed items. Reversing a frame whose
        attrs say it is already reverse-coded raises ValueError (it would undo the coding).

    Examples
    --------
    >>> import pandas as pd
    >>> from crm_research.instruments import load_instrument
    >>> inst = load_instrument("surveys/ecommerce_crm.yaml")
    >>> out = reverse_code(pd.DataFrame({"SAT1": [1, 2, 5]}), inst, ["SAT1"])
    >>> out["SAT1"].tolist(), out.attrs["reverse_coded"]
    ([5.0, 4.0, 1.0], ['SAT1'])
    """
    done = list(data.attrs.get("reverse_coded", []) or [])
    items = [i for i in (instrument.reverse_items if items is None else items) if i in data.columns]
    again = [i for i in items if i in done]
    if again:
        raise ValueError(f"items already reverse-coded: {', '.join(again)}")
    out = data.copy()
    for i in items:
        sc = instrument.scale_of(i)
        out[i] = sc.min + sc.max - out[i].astype(float)
    out.attrs["reverse_coded"] = done + items
    return out

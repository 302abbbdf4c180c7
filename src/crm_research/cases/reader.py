"""Reading a case file: typed values whose errors name the file and the key path.

:class:`CaseReader` is used by :func:`crm_research.cases.definition.load_case` for the case
itself and by :func:`crm_research.cases.simulation_spec.parse_simulation` for its
``simulate:`` block, so every problem in a case file is reported the same way: a
:class:`~crm_research.errors.ConfigError` with the file, the key path
(``strategies[2].kpis[1]``), what is wrong and, where possible, a did-you-mean hint.
"""
from __future__ import annotations

import datetime as _dt
from pathlib import Path
from typing import Any, Mapping

from ..errors import ConfigError
from ..schema import check_keys
from . import periods
from .vocabulary import DESIGNS, KPI_ALIASES, KPIS, resolve_kpi, suggest

DESIGN_ALIASES = {"before_after": "before_after", "beforeafter": "before_after", "pre_post": "before_after",
                  "treated_control": "treated_control", "treatment_control": "treated_control",
                  "ab": "ab_test", "a_b": "ab_test", "ab_test": "ab_test", "a_b_test": "ab_test",
                  "did": "did", "diff_in_diff": "did", "difference_in_differences": "did"}


class CaseReader:
    """Validation helpers that raise :class:`~crm_research.errors.ConfigError` naming the file and key.

    Parameters
    ----------
    file : str or Path
        The case file the values come from (only used in messages).

    Examples
    --------
    >>> r = CaseReader("case.yaml")
    >>> r.number(0.05, "alpha", lo=0, hi=0.5)
    0.05
    >>> r.kpi("ctr", "strategies[0].kpis[0]")
    'click_through_rate'
    >>> try:
    ...     r.kpi("convertion_rate", "strategies[0].kpis[1]")
    ... except ConfigError as e:
    ...     print(e.key, "|", e.hint.split("?")[0])
    strategies[0].kpis[1] | did you mean 'conversion_rate'
    """

    def __init__(self, file: str | Path):
        self.file = str(file)

    def err(self, key: str, problem: str, hint: str | None = None) -> ConfigError:
        """The ConfigError for ``key`` (not raised).

        Parameters
        ----------
        key : str
            Key path, e.g. ``strategies[0].start``.
        problem : str
            What is wrong.
        hint : str, optional
            What to write instead.

        Returns
        -------
        ConfigError

        Examples
        --------
        >>> CaseReader("case.yaml").err("alpha", "too large").key
        'alpha'
        """
        return ConfigError(self.file, key, problem, hint=hint)

    def mapping(self, value: Any, key: str) -> dict:
        """``value`` as a dict; ConfigError unless it is a mapping.

        Parameters
        ----------
        value : object
        key : str

        Returns
        -------
        dict

        Examples
        --------
        >>> CaseReader("case.yaml").mapping({"pre": 3}, "window")
        {'pre': 3}
        """
        if not isinstance(value, Mapping):
            raise self.err(key, f"expected a mapping (key: value), got {type(value).__name__} {value!r}")
        return dict(value)

    def keys(self, d: Mapping, allowed: set[str], key: str) -> None:
        """ConfigError for the first unknown key (``strategies[0].kpi: unknown key; did you mean 'kpis'?``).

        Parameters
        ----------
        d : mapping
        allowed : set of str
        key : str
            Key path of ``d``.

        Returns
        -------
        None

        Examples
        --------
        >>> CaseReader("case.yaml").keys({"pre": 3}, {"pre", "post"}, "window")
        """
        check_keys(d, sorted(allowed), key, self._fail)

    def _fail(self, key: str, problem: str) -> None:
        raise self.err(key, problem)

    def require(self, d: Mapping, k: str, key: str) -> Any:
        """``d[k]``; ConfigError when it is missing or empty.

        Parameters
        ----------
        d : mapping
        k : str
            The required key.
        key : str
            Key path of ``d``.

        Returns
        -------
        object

        Examples
        --------
        >>> CaseReader("case.yaml").require({"id": "r2"}, "id", "")
        'r2'
        """
        if k not in d or d[k] is None:
            where = f"{key}.{k}" if key else k
            raise self.err(where, "required key is missing")
        return d[k]

    def text(self, value: Any, key: str) -> dict[str, str]:
        """Bilingual text ``{zh, en}`` (a plain string serves both languages).

        Parameters
        ----------
        value : str or mapping
        key : str

        Returns
        -------
        dict

        Examples
        --------
        >>> CaseReader("case.yaml").text("Loyalty", "title")
        {'zh': 'Loyalty', 'en': 'Loyalty'}
        """
        if isinstance(value, str):
            return {"zh": value, "en": value}
        d = self.mapping(value, key)
        self.keys(d, {"zh", "en"}, key)
        out = {str(k): str(v) for k, v in d.items() if v is not None}
        if not out:
            raise self.err(key, "expected text, e.g. {zh: ..., en: ...}")
        return out

    def date(self, value: Any, key: str) -> _dt.date:
        """A date (``YYYY-MM-DD``, ``YYYY-MM`` or a date object).

        Parameters
        ----------
        value : str or date
        key : str

        Returns
        -------
        datetime.date

        Examples
        --------
        >>> CaseReader("case.yaml").date("2020-03", "strategies[0].start")
        datetime.date(2020, 3, 1)
        """
        try:
            return periods.to_date(value)
        except (TypeError, ValueError):
            raise self.err(key, f"{value!r} is not a date", hint="write dates as YYYY-MM-DD") from None

    def number(self, value: Any, key: str, lo: float | None = None, hi: float | None = None,
               integer: bool = False) -> float:
        """A number within ``[lo, hi]`` (a whole number when ``integer``).

        Parameters
        ----------
        value : object
        key : str
        lo, hi : float, optional
            Inclusive bounds.
        integer : bool

        Returns
        -------
        float or int

        Examples
        --------
        >>> CaseReader("case.yaml").number(6, "window.pre", lo=1, integer=True)
        6
        """
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.err(key, f"expected a number, got {value!r}")
        if integer and int(value) != value:
            raise self.err(key, f"expected a whole number, got {value!r}")
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            rng = f"between {lo} and {hi}" if lo is not None and hi is not None else (
                f">= {lo}" if lo is not None else f"<= {hi}")
            raise self.err(key, f"{value!r} is out of range; expected {rng}")
        return int(value) if integer else float(value)

    def str_list(self, value: Any, key: str) -> list[str]:
        """A non-empty list of strings (a single value becomes a one-element list).

        Parameters
        ----------
        value : object
        key : str

        Returns
        -------
        list of str

        Examples
        --------
        >>> CaseReader("case.yaml").str_list("rollout", "strategies[0].target")
        ['rollout']
        """
        if isinstance(value, (str, int)):
            return [str(value)]
        if not isinstance(value, (list, tuple)) or not value:
            raise self.err(key, f"expected a non-empty list, got {value!r}")
        return [str(v) for v in value]

    def design(self, value: Any, key: str) -> str:
        """A comparison design id of :data:`~crm_research.cases.vocabulary.DESIGNS` (aliases allowed).

        Parameters
        ----------
        value : str
        key : str

        Returns
        -------
        str

        Examples
        --------
        >>> CaseReader("case.yaml").design("A/B", "design")
        'ab_test'
        """
        v = str(value).strip().lower().replace("-", "_").replace("/", "_")
        v = DESIGN_ALIASES.get(v, v)
        if v not in DESIGNS:
            near = suggest(v, DESIGNS)
            raise self.err(key, f"unknown design {value!r}",
                           hint=(f"did you mean {near!r}? " if near else "") + f"designs: {', '.join(DESIGNS)}")
        return v

    def window(self, value: Any, key: str, default: tuple[int, int]) -> tuple[int, int]:
        """Periods ``(pre, post)`` of a window: a number (both) or ``{pre, post}``.

        Parameters
        ----------
        value : int or mapping or None
        key : str
        default : tuple of int

        Returns
        -------
        tuple of int

        Examples
        --------
        >>> CaseReader("case.yaml").window({"pre": 4}, "window", (6, 6))
        (4, 6)
        """
        if value is None:
            return default
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            n = self.number(value, key, lo=1, integer=True)
            return n, n
        d = self.mapping(value, key)
        self.keys(d, {"pre", "post"}, key)
        pre = self.number(d.get("pre", default[0]), f"{key}.pre", lo=1, integer=True)
        post = self.number(d.get("post", default[1]), f"{key}.post", lo=1, integer=True)
        return pre, post

    def unknown_kpi(self, key: str, name: Any) -> ConfigError:
        """The ConfigError for an unknown KPI name, with the nearest KPI as a hint (not raised).

        Parameters
        ----------
        key : str
        name : object
            The name written in the file.

        Returns
        -------
        ConfigError

        Examples
        --------
        >>> CaseReader("case.yaml").unknown_kpi("kpis[0]", "retension").hint.split("?")[0]
        "did you mean 'retention_rate'"
        """
        near = suggest(str(name), list(KPIS) + [a for a in KPI_ALIASES if a.isascii()])
        near = resolve_kpi(near) if near else None
        return self.err(key, f"unknown KPI {name!r}",
                        hint=(f"did you mean {near!r}? " if near else "") + f"KPIs: {', '.join(KPIS)}")

    def kpi(self, value: Any, key: str) -> str:
        """The canonical KPI id of a name or alias; ConfigError (with a suggestion) when unknown.

        Parameters
        ----------
        value : str
        key : str

        Returns
        -------
        str

        Examples
        --------
        >>> CaseReader("case.yaml").kpi("复购率", "kpis[0]")
        'repurchase_rate'
        """
        kid = resolve_kpi(str(value))
        if kid is None:
            raise self.unknown_kpi(key, value)
        return kid

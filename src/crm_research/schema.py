"""Strict keys for YAML files: every unknown key is an error with a did-you-mean suggestion.

Instruments, population models and case files are read from hand-written YAML. A misspelt
key (``reversed:`` for ``reverse:``, ``respondant_column:`` for ``respondent_id:``) must not
be ignored silently: it would change what is analysed without a word. The loaders call
:func:`check_keys` on every mapping they read; the problem text is the same everywhere::

    constructs[2].items[0].reversed: unknown key; did you mean 'reverse'?

The module imports nothing from the package: each loader passes the function that raises its
own error type (``InstrumentError``, ``ConfigError``).
"""
from __future__ import annotations

import difflib
import re
from typing import Any, Callable, Iterable, Mapping, NoReturn

__all__ = ["suggest", "unknown_key_problem", "check_keys", "join_key"]


def suggest(word: Any, options: Iterable[Any], cutoff: float = 0.6) -> str | None:
    """The option closest to a misspelt ``word``, or None when nothing is close.

    Compares the whole word (:func:`difflib.get_close_matches`), then, failing that, its
    first part before ``_``/``-`` with the options (``en_US`` -> ``en``) and their first parts
    (``respondant_column`` -> ``respondent_id``), case-insensitively.

    Parameters
    ----------
    word : object
        The misspelt word (converted with ``str``).
    options : iterable
        The valid words.
    cutoff : float
        Similarity (0-1) a whole-word match needs (:func:`difflib.get_close_matches`).

    Returns
    -------
    str or None
        The closest option, spelt as in ``options``.

    Examples
    --------
    >>> suggest("reversed", ["id", "text", "reverse", "scale"])
    'reverse'
    >>> suggest("respondant_column", ["id", "title", "respondent_id"])
    'respondent_id'
    >>> suggest("zzz", ["id", "title"]) is None
    True
    """
    opts = [str(o) for o in options]
    if not opts:
        return None
    w = str(word)
    lower = {o.casefold(): o for o in opts}
    if w.casefold() in lower:
        return lower[w.casefold()]
    m = difflib.get_close_matches(w.casefold(), list(lower), n=1, cutoff=cutoff)
    if m:
        return lower[m[0]]
    head = re.split(r"[_\-\s.]", w.casefold(), maxsplit=1)[0]
    if head in lower:                       # en_US -> en
        return lower[head]
    if len(head) >= 4:
        heads = {}
        for o in opts:
            heads.setdefault(re.split(r"[_\-\s.]", o.casefold(), maxsplit=1)[0], o)
        m = difflib.get_close_matches(head, list(heads), n=1, cutoff=0.8)
        if m:
            return heads[m[0]]
    return None


def unknown_key_problem(key: Any, allowed: Iterable[Any], what: str = "key") -> str:
    """The problem text for an unknown key: ``unknown key; did you mean 'reverse'?`` or,
    with nothing close, ``unknown key; known keys: a, b, c``.

    Parameters
    ----------
    key : object
        The unknown key.
    allowed : iterable
        The keys accepted at that level.
    what : str
        Noun for the message (``"key"``, ``"language"``).

    Returns
    -------
    str

    Examples
    --------
    >>> unknown_key_problem("reversed", ["id", "reverse"])
    "unknown key; did you mean 'reverse'?"
    >>> unknown_key_problem("colour", ["id", "text"])
    'unknown key; known keys: id, text'
    """
    allowed = [str(a) for a in allowed]
    near = suggest(key, allowed)
    if near is not None:
        return f"unknown {what}; did you mean {near!r}?"
    return f"unknown {what}; known {what}s: {', '.join(allowed) if allowed else '(none)'}"


def join_key(path: str, key: Any) -> str:
    """The key path of ``key`` inside the mapping at ``path`` (for error messages).

    Parameters
    ----------
    path : str
        Key path of the parent mapping (``""`` for the top level).
    key : object
        The key.

    Returns
    -------
    str

    Examples
    --------
    >>> join_key("constructs[2]", "id"), join_key("", "id")
    ('constructs[2].id', 'id')
    """
    return f"{path}.{key}" if path else str(key)


def check_keys(mapping: Mapping[Any, Any], allowed: Iterable[Any], path: str,
               fail: Callable[[str, str], NoReturn], what: str = "key") -> None:
    """Call ``fail(key_path, problem)`` for the first key of ``mapping`` not in ``allowed``.

    Parameters
    ----------
    mapping : Mapping
        The parsed YAML mapping.
    allowed : iterable
        The keys this level accepts.
    path : str
        Key path of ``mapping`` in the file (``""`` for the top level).
    fail : callable
        ``fail(key_path, problem)`` raises the caller's error type; it must not return.
    what : str
        Noun for the message (``"key"``, ``"language"``).

    Returns
    -------
    None
        Returns only when every key is allowed.

    Examples
    --------
    >>> def fail(k, p):
    ...     raise ValueError(f"{k}: {p}")
    >>> check_keys({"id": 1, "reversed": True}, ["id", "reverse"], "constructs[2].items[0]", fail)
    Traceback (most recent call last):
    ...
    ValueError: constructs[2].items[0].reversed: unknown key; did you mean 'reverse'?
    """
    allowed = list(allowed)
    known = set(allowed)
    for k in mapping:
        if k not in known:
            fail(join_key(path, k), unknown_key_problem(k, allowed, what))

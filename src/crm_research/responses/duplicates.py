"""How likely are identical answer patterns by chance?

On a short survey many real respondents give the same answers (all top marks on ten items is
common); on a long one an identical pattern is rarely a coincidence. :func:`duplicate_patterns`
counts the patterns that several respondents share and sets them against what independent
answering would produce: if respondent answers to item ``j`` are drawn independently with the
observed answer distribution ``p_j`` (a blank counting as one more answer), two respondents
give the same pattern with probability ``prod_j sum_v p_jv**2``, and among ``n`` respondents
``n (n - 1) / 2`` times that many identical pairs are expected. Items of one construct are
correlated, so real matches are usually more frequent than this: the expected number is a
yardstick for "rare" or "common", not a test.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Hashable, Sequence

import numpy as np
import pandas as pd

__all__ = ["DuplicatePatterns", "duplicate_patterns"]


@dataclass(frozen=True)
class DuplicatePatterns:
    """Shared answer patterns and their chance expectation (see module docstring).

    Attributes
    ----------
    n_respondents : int
        Respondents with at least one answered item (the ones compared).
    n_items : int
        Items compared.
    possible_patterns : int
        Number of different complete answer patterns the scales allow (product of points).
    match_probability : float
        Chance that two independent respondents give the same pattern.
    expected_pairs : float
        ``n (n - 1) / 2 * match_probability``.
    observed_pairs : int
        Pairs of respondents with the same pattern.
    shared_patterns : int
        Distinct patterns given by two respondents or more.
    respondents_sharing : int
        Respondents whose pattern at least one other respondent gave too.
    straight_line_patterns : int
        Shared patterns with the same answer on every answered item (of each scale).
    straight_line_respondents : int
        Respondents giving one of those straight-line patterns.
    """

    n_respondents: int
    n_items: int
    possible_patterns: int
    match_probability: float
    expected_pairs: float
    observed_pairs: int
    shared_patterns: int
    respondents_sharing: int
    straight_line_patterns: int
    straight_line_respondents: int

    def table(self) -> pd.DataFrame:
        """The numbers as a two-column table (``measure``, ``value``)."""
        rows = [("respondents compared (at least one item answered)", self.n_respondents),
                ("items compared", self.n_items),
                ("possible answer patterns", _big(self.possible_patterns)),
                ("chance that two respondents match (independent items)", f"{self.match_probability:.3g}"),
                ("identical pairs expected by chance", f"{self.expected_pairs:.3g}"),
                ("identical pairs observed", self.observed_pairs),
                ("patterns shared by 2+ respondents", self.shared_patterns),
                ("respondents sharing their pattern", self.respondents_sharing),
                ("shared patterns that are straight lines", self.straight_line_patterns),
                ("respondents giving a shared straight line", self.straight_line_respondents)]
        return pd.DataFrame(rows, columns=["measure", "value"]).astype({"value": str})

    def sentence(self) -> str:
        """One paragraph for a report."""
        n, k = self.n_respondents, self.n_items
        chance = (f"If respondents answered the {k} items independently with the observed answer "
                  f"distributions, two of them would match with probability {self.match_probability:.3g}, "
                  f"i.e. {_count(self.expected_pairs)} identical pairs expected among {n} respondents "
                  f"({_big(self.possible_patterns)} possible patterns); items of one construct are correlated, "
                  f"so real matches are usually more frequent than this.")
        if not self.observed_pairs:
            return f"No two respondents gave the same answers to all {k} items. " + chance
        sl = ""
        if self.straight_line_patterns:
            one = self.straight_line_patterns == 1
            sl = (f" {self.straight_line_patterns} of these patterns, given by "
                  f"{self.straight_line_respondents} respondents, {'is a straight line' if one else 'are straight lines'} "
                  f"(the same answer to every answered item of a scale).")
        pairs = f"{self.observed_pairs} pair{'s' if self.observed_pairs != 1 else ''}"
        return (f"{pairs} of respondents gave identical answers to all {k} items ({self.respondents_sharing} "
                f"respondents, {self.shared_patterns} distinct pattern{'s' if self.shared_patterns != 1 else ''})."
                f"{sl} " + chance)

    def _repr_html_(self) -> str:
        return f"<p>{self.sentence()}</p>" + self.table().to_html(index=False)


def _big(x: int) -> str:
    return f"{x:,}" if x < 10**7 else f"{float(x):.3g}"


def _count(x: float) -> str:
    if x >= 10:
        return f"about {x:,.0f}"
    if x >= 0.01:
        return f"about {x:.2f}"
    return f"about {x:.2g}"


def duplicate_patterns(answers: pd.DataFrame, points: Sequence[int] | None = None,
                       groups: Sequence[Hashable] | None = None) -> DuplicatePatterns:
    """Count shared answer patterns and the number expected by chance.

    Parameters
    ----------
    answers : DataFrame
        Coded item answers, one column per item (NaN = blank). Rows without any answer are
        left out.
    points : sequence of int, optional
        Number of points of each column's scale (for ``possible_patterns``); default the
        number of distinct answers observed per column.
    groups : sequence, optional
        One key per column, e.g. its scale's range: a pattern is a straight line when it has
        the same answer on every answered item of each group (default: one group).

    Returns
    -------
    DuplicatePatterns

    Examples
    --------
    >>> d = duplicate_patterns(pd.DataFrame({"A": [1, 1, 2, 2], "B": [1, 1, 1, 2]}), points=[2, 2])
    >>> d.observed_pairs, d.match_probability, d.expected_pairs
    (1, 0.3125, 1.875)
    """
    X = answers.to_numpy(dtype=float)
    if X.ndim != 2:
        raise ValueError("answers must be a table of items")
    keep = ~np.isnan(X).all(axis=1) if X.shape[1] else np.zeros(len(X), dtype=bool)
    X = X[keep]
    n, k = X.shape
    if points is None:
        points = [int(len(np.unique(X[:, j][~np.isnan(X[:, j])]))) for j in range(k)]
    if len(points) != k:
        raise ValueError(f"points needs one entry per column ({k}), got {len(points)}")
    possible = math.prod(int(p) for p in points) if k else 0
    prob = 1.0
    for j in range(k):
        col = X[:, j]
        blank = np.isnan(col)
        _, counts = np.unique(col[~blank], return_counts=True)
        counts = counts.tolist() + ([int(blank.sum())] if blank.any() else [])
        prob *= math.fsum((c / n) ** 2 for c in counts) if n else 0.0
    if not k or n < 2:
        prob = 0.0 if not k else prob
    pairs = n * (n - 1) / 2
    # patterns: NaN compared as a value
    key = pd.DataFrame(np.where(np.isnan(X), -np.inf, X))
    sizes = key.groupby(list(key.columns), sort=False).size() if k and n else pd.Series(dtype=int)
    shared = sizes[sizes > 1]
    observed = int(sum(s * (s - 1) // 2 for s in shared.tolist()))
    groups = list(groups) if groups is not None else [0] * k
    if len(groups) != k:
        raise ValueError(f"groups needs one entry per column ({k}), got {len(groups)}")
    sl_patterns = sl_resp = 0
    for pattern, size in shared.items():
        pattern = pattern if isinstance(pattern, tuple) else (pattern,)
        by_group: dict[Hashable, set[float]] = {}
        for g, v in zip(groups, pattern):
            if v != -np.inf:
                by_group.setdefault(g, set()).add(v)
        if by_group and all(len(vs) == 1 for vs in by_group.values()):
            sl_patterns += 1
            sl_resp += int(size)
    return DuplicatePatterns(n_respondents=int(n), n_items=int(k), possible_patterns=int(possible),
                             match_probability=float(prob), expected_pairs=float(pairs * prob),
                             observed_pairs=observed, shared_patterns=int(len(shared)),
                             respondents_sharing=int(shared.sum()), straight_line_patterns=sl_patterns,
                             straight_line_respondents=sl_resp)

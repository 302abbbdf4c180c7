"""Data checks and sample moments (ML: covariances divide by N, as lavaan's default)."""
from __future__ import annotations

import difflib
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..errors import ModelError


MISSING_LISTWISE = ("listwise", "listwise.deletion")
MISSING_ML = ("ml", "fiml", "direct")


@dataclass
class GroupStats:
    label: object
    X: np.ndarray        # complete cases (n, p), columns in model order
    N: int
    mean: np.ndarray
    S: np.ndarray        # ML covariance (divisor N)
    logdetS: float
    weight: float = 1.0  # N_g / N
    patterns: list | None = None   # missing="ml": rows grouped by missing pattern (fiml.Pattern)
    logl_h1: float = float("nan")  # missing="ml": log-likelihood of the EM (h1) moments


@dataclass
class SampleStats:
    ov: list[str]
    groups: list[GroupStats]
    ntotal: int
    n_dropped: int = 0
    notes: list[str] = field(default_factory=list)
    missing: str = "listwise"

    @property
    def ngroups(self) -> int:
        return len(self.groups)


def moments(X: np.ndarray):
    n = X.shape[0]
    mean = X.mean(axis=0)
    Xc = X - mean
    S = (Xc.T @ Xc) / n
    return mean, 0.5 * (S + S.T)


def prepare(data: pd.DataFrame, ov: list[str], *, group: str | None = None, missing: str = "listwise",
            source: str = "data") -> SampleStats:
    """Select the model's observed variables, delete incomplete rows, compute moments.

    Raises
    ------
    ModelError
        When variables are missing or not numeric, too few rows remain, or a sample
        covariance matrix is not positive definite.
    """
    if not isinstance(data, pd.DataFrame):
        raise ModelError(f"{source}: expected a pandas DataFrame, got {type(data).__name__}",
                         hint="read the file with pandas.read_csv() first")
    if missing not in MISSING_LISTWISE + MISSING_ML:
        raise ModelError(f"missing={missing!r} is not supported",
                         hint="use missing='listwise' (lavaan's default) or missing='ml' (full-information ML)")
    fiml = missing in MISSING_ML
    cols = [str(c) for c in data.columns]
    absent = [v for v in ov if v not in cols]
    if absent:
        lower = {c.lower(): c for c in cols}
        close = {v: ([lower[v.lower()]] if v.lower() in lower else difflib.get_close_matches(v, cols, n=1))
                 for v in absent}
        sugg = "; ".join(f"{v} -> {c[0]}?" for v, c in close.items() if c)
        raise ModelError(f"{source}: observed variable(s) not in the data: {', '.join(absent)}",
                         hint=("check the spelling" + (f" ({sugg})" if sugg else "")
                               + " or name latent variables on the left of '=~'"))
    if group is not None and group not in cols:
        raise ModelError(f"{source}: group column {group!r} not in the data",
                         hint=f"available columns: {', '.join(cols[:20])}")
    if group is not None and group in ov:
        raise ModelError(f"{source}: the group column {group!r} is also a variable of the model",
                         hint="use another column to define the groups")
    df = data.copy()
    df.columns = cols
    bad = []
    for v in ov:
        s = df[v]
        if pd.api.types.is_bool_dtype(s):
            df[v] = s.astype(float)
            continue
        if not pd.api.types.is_numeric_dtype(s):
            conv = pd.to_numeric(s, errors="coerce")
            offending = s[conv.isna() & s.notna()]
            if len(offending):
                bad.append((v, offending.iloc[0], int(offending.index[0])))
                continue
            df[v] = conv
        else:
            df[v] = s.astype(float)
    if bad:
        v, val, idx = bad[0]
        others = f" (also: {', '.join(b[0] for b in bad[1:])})" if len(bad) > 1 else ""
        raise ModelError(f"{source}: column {v!r} is not numeric (value {val!r} at index {idx}){others}",
                         hint="recode the column to numbers or leave it out of the model")
    use = ov + ([group] if group is not None else [])
    if fiml:
        # FIML keeps every row with at least one observed model variable (lavaan drops
        # the empty ones with a warning); the group column itself must be known
        complete = df[ov].notna().any(axis=1)
        if group is not None:
            complete &= df[group].notna()
    else:
        complete = df[use].notna().all(axis=1)
    n_dropped = int((~complete).sum())
    df = df.loc[complete]
    notes = []
    if group is None:
        parts = [(None, df)]
    else:
        labels = list(pd.unique(df[group]))
        parts = [(lab, df[df[group] == lab]) for lab in labels]
        if len(parts) < 2:
            raise ModelError(f"{source}: group column {group!r} has {len(parts)} distinct value(s) in the complete cases",
                             hint="a multiple-group model needs at least two groups")
    groups = []
    ntotal = sum(len(d) for _, d in parts)
    p = len(ov)
    if fiml and n_dropped:
        notes.append(f"{n_dropped} case(s) with no observed value on any model variable were ignored "
                     "(missing='ml')")
    for lab, d in parts:
        X = d[ov].to_numpy(dtype=float)
        where = f" in group {lab!r}" if lab is not None else ""
        if fiml:
            groups.append(_fiml_group(X, lab, ov, ntotal, where, source, notes))
            continue
        if X.shape[0] < 2:
            raise ModelError(f"{source}: only {X.shape[0]} complete row(s){where}",
                             hint="check missing values in the model's variables")
        mean, S = moments(X)
        hint = "some variables are linear combinations of others (or there are fewer rows than variables); drop one of them"
        if X.shape[0] <= p:
            hint = f"{X.shape[0]} rows for {p} variables: collect more data or use fewer variables"
        logdet = _checked_logdet(S, ov, where, source, notes, "the sample covariance matrix", hint)
        groups.append(GroupStats(lab, X, X.shape[0], mean, S, logdet, X.shape[0] / ntotal))
    return SampleStats(ov=list(ov), groups=groups, ntotal=ntotal, n_dropped=n_dropped, notes=notes,
                       missing="ml" if fiml else "listwise")


def _fiml_group(X, lab, ov, ntotal, where, source, notes) -> GroupStats:
    """Missing patterns and EM (h1) moments of one group for missing='ml'."""
    from .fiml import em_moments, loglik, patterns

    p = len(ov)
    nobs_var = (~np.isnan(X)).sum(axis=0)
    empty = [ov[i] for i in range(p) if nobs_var[i] < 2]
    if empty:
        raise ModelError(f"{source}: variable(s) with fewer than 2 observed values{where}: {', '.join(empty)}",
                         hint="drop these variables from the model")
    pats = patterns(X)
    mean, S, conv, it = em_moments(pats, p)
    if not conv:
        notes.append(f"the EM algorithm for the unrestricted (h1) moments{where} did not converge in {it} "
                     "iterations; chi-square and fit measures may be inaccurate")
    logdet = _checked_logdet(S, ov, where, source, notes, "the EM estimate of the covariance matrix",
                             "some variables are (nearly) linear combinations of others, or too few rows "
                             "observe them jointly; drop one of them")
    return GroupStats(lab, X, X.shape[0], mean, S, logdet, X.shape[0] / ntotal, patterns=pats,
                      logl_h1=loglik(pats, S, mean))


def _checked_logdet(S, ov, where, source, notes, what, pd_hint) -> float:
    """log|S| of an h1 covariance matrix after the checks both estimators need: no constant
    variable, positive definite (else ModelError naming ``what``), and a note on badly scaled
    variances."""
    var = np.diag(S)
    const = [ov[i] for i in range(len(ov)) if not var[i] > 0]
    if const:
        raise ModelError(f"{source}: variable(s) with zero variance{where}: {', '.join(const)}",
                         hint="drop constant variables from the model")
    sign, logdet = np.linalg.slogdet(S)
    ev = np.linalg.eigvalsh(S / np.sqrt(np.outer(var, var)))
    if sign <= 0 or ev.min() < 1e-12:
        raise ModelError(f"{source}: {what}{where} is not positive definite", hint=pd_hint)
    if var.max() / var.min() > 1000:
        notes.append("some observed variances are (at least) a factor 1000 times larger than others"
                     f"{where}; consider rescaling variables")
    return float(logdet)


@dataclass
class Moments:
    """Saturated (unrestricted) sample moments of some variables: see :func:`sample_moments`.

    Attributes
    ----------
    mean : Series
        Means.
    cov : DataFrame
        ML covariance matrix (divisor n), as lavaan's h1 moments.
    n : int
        Rows used.
    n_input : int
        Rows given.
    missing : str
        ``"listwise"`` or ``"ml"``.

    Examples
    --------
    >>> import pandas as pd
    >>> m = sample_moments(pd.DataFrame({"a": [1.0, 2, 3, 4], "b": [2.0, 1, 4, 3]}), ["a", "b"])
    >>> m.mean.tolist(), round(float(m.corr.loc["a", "b"]), 2)
    ([2.5, 2.5], 0.6)
    """

    mean: pd.Series
    cov: pd.DataFrame     # ML covariance matrix (divisor n), as lavaan's h1 moments
    n: int                # rows used
    n_input: int          # rows given
    missing: str          # "listwise" or "ml"

    @property
    def corr(self) -> pd.DataFrame:
        """The correlation matrix implied by ``cov``."""
        sd = np.sqrt(np.diag(self.cov.to_numpy()))
        return pd.DataFrame(self.cov.to_numpy() / np.outer(sd, sd), index=self.cov.index, columns=self.cov.columns)


def sample_moments(data: pd.DataFrame, variables: list[str], *, missing: str = "ml",
                   source: str = "data") -> Moments:
    """Means and covariances of ``variables`` under a missing-data treatment.

    ``missing="ml"``: the saturated normal-theory ML estimates from every row with at least
    one observed value, by EM (lavaan's h1 moments under ``missing = "ml"``, as
    ``lavCor(missing = "ml")``); ``"listwise"``: moments of the complete rows.  The covariance
    divisor is n (ML).

    Parameters
    ----------
    data : DataFrame
        The data (one row per respondent).
    variables : list of str
        Numeric columns of ``data``.
    missing : {"ml", "listwise"}
        Missing-data treatment.
    source : str
        Name of the data in error messages (e.g. its file).

    Returns
    -------
    Moments

    Raises
    ------
    ModelError
        Variables missing or not numeric, constant, or a covariance matrix that is not
        positive definite (see :func:`prepare`).

    Examples
    --------
    >>> d = pd.DataFrame({"a": [1.0, 2, 3, 4, None], "b": [2.0, 1, 4, 3, 5]})
    >>> m = sample_moments(d, ["a", "b"], missing="listwise")
    >>> m.n, m.n_input, float(m.cov.loc["a", "a"])
    (4, 5, 1.25)
    """
    st = prepare(data, list(variables), missing=missing, source=source)
    g = st.groups[0]
    return Moments(mean=pd.Series(g.mean, index=list(variables)),
                   cov=pd.DataFrame(g.S, index=list(variables), columns=list(variables)),
                   n=int(st.ntotal), n_input=int(st.ntotal + st.n_dropped), missing=st.missing)

"""The tables of one case (:class:`CaseData`): customers, orders, sessions, survey responses.

Columns have canonical names (:data:`REQUIRED`; :mod:`crm_research.cases.data` documents them
and reads them from files, :mod:`crm_research.simulate.cases` simulates them).
"""
from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ..errors import CRMResearchError

REQUIRED = {
    "customers": ("customer_id",),
    "orders": ("customer_id", "timestamp", "amount"),
    "sessions": ("customer_id", "start"),
    "survey": ("customer_id", "timestamp"),
}
TIME_COLUMNS = {"customers": "signup_date", "orders": "timestamp", "sessions": "start", "survey": "timestamp"}


@dataclass
class CaseData:
    """The tables of one case (pandas DataFrames with canonical column names).

    Parameters
    ----------
    customers : DataFrame
        ``customer_id`` (+ ``signup_date`` and group columns).
    orders, sessions, survey : DataFrame, optional
    source : str
        Where the data came from (``files``, ``simulated (seed 7)``).
    files : dict
        Table -> file read.
    date_range : tuple of date, optional
        First and last day; by default from the time stamps of orders, sessions, survey.

    Examples
    --------
    >>> import pandas as pd
    >>> d = CaseData(customers=pd.DataFrame({"customer_id": ["a", "b"]}),
    ...              orders=pd.DataFrame({"customer_id": ["a"], "timestamp": pd.to_datetime(["2020-03-02"]),
    ...                                   "amount": [12.5]}))
    >>> d.date_range, list(d.tables())
    ((datetime.date(2020, 3, 2), datetime.date(2020, 3, 2)), ['customers', 'orders'])
    """

    customers: pd.DataFrame
    orders: pd.DataFrame | None = None
    sessions: pd.DataFrame | None = None
    survey: pd.DataFrame | None = None
    source: str = ""
    files: dict[str, Path] = field(default_factory=dict)
    date_range: tuple[_dt.date, _dt.date] | None = None

    def __post_init__(self):
        if self.date_range is None:
            lo, hi = [], []
            for t in ("orders", "sessions", "survey"):
                df = getattr(self, t)
                if df is not None and len(df):
                    col = df[TIME_COLUMNS[t]]
                    lo.append(col.min())
                    hi.append(col.max())
            if lo:
                self.date_range = (pd.Timestamp(min(lo)).date(), pd.Timestamp(max(hi)).date())

    def tables(self) -> dict[str, pd.DataFrame]:
        """The tables present, by name (``customers`` first).

        Returns
        -------
        dict of DataFrame

        Examples
        --------
        >>> import pandas as pd
        >>> list(CaseData(customers=pd.DataFrame({"customer_id": ["a"]})).tables())
        ['customers']
        """
        return {t: getattr(self, t) for t in ("customers", "orders", "sessions", "survey")
                if getattr(self, t) is not None}

    def pseudonymized(self, salt: str | bytes | None = None) -> tuple["CaseData", list[str]]:
        """A copy whose identifier columns that look like personal data are pseudonymized.

        An id column (``customer_id``, ``order_id``, ``session_id``) whose values are mostly
        phone numbers, e-mails, ID numbers or IPs (:func:`crm_research.privacy.content_kind`)
        is replaced by the salted HMAC of :func:`crm_research.privacy.pseudonymize`, with one
        key for all tables, so a customer keeps one pseudonym across them.

        Parameters
        ----------
        salt : str or bytes, optional
            The key (``--salt``); None draws a random one for this call.

        Returns
        -------
        (CaseData, list of str)
            The copy and one note per replaced column.

        Examples
        --------
        >>> import pandas as pd
        >>> d = CaseData(customers=pd.DataFrame({"customer_id": ["13800138000", "13900139000"]}),
        ...              orders=pd.DataFrame({"customer_id": ["13900139000"], "order_id": [1],
        ...                                   "timestamp": [pd.Timestamp("2024-01-02")], "amount": [9.5]}))
        >>> p, notes = d.pseudonymized("secret")
        >>> p.orders["customer_id"].iloc[0] == p.customers["customer_id"].iloc[1], notes[0]
        (True, 'customers.customer_id looks like personal data (phone): pseudonymized (HMAC-SHA256)')
        """
        import dataclasses

        from ..privacy import content_kind, make_salt, pseudonymize

        key, _ = make_salt(salt)
        notes: list[str] = []
        new = {}
        for name, df in self.tables().items():
            out = df
            for col in ("customer_id", "order_id", "session_id"):
                if col not in df.columns:
                    continue
                kind, _share = content_kind(df[col])
                if kind is None:
                    continue
                if out is df:
                    out = df.copy()
                out[col] = pseudonymize(df[col].astype(object), key, kind).to_numpy()
                notes.append(f"{name}.{col} looks like personal data ({kind}): pseudonymized (HMAC-SHA256)")
            new[name] = out
        return dataclasses.replace(self, **new), notes

    def write(self, folder: str | Path, *, fmt: str = "csv", overwrite: bool = False) -> dict[str, Path]:
        """Write the tables to ``folder`` as ``<table>.csv`` (or ``.parquet``); never overwrites silently.

        Parameters
        ----------
        folder : str or Path
        fmt : {"csv", "parquet"}
        overwrite : bool
            Replace existing files (otherwise CRMResearchError).

        Returns
        -------
        dict of Path
            Table -> file written.

        Examples
        --------
        >>> import tempfile
        >>> import pandas as pd
        >>> d = CaseData(customers=pd.DataFrame({"customer_id": ["a"]}))
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     print(d.write(folder)["customers"].name)
        ...     d.write(folder)
        Traceback (most recent call last):
        ...
        crm_research.errors.CRMResearchError: ...customers.csv: exists; not overwritten...
        """
        out = Path(folder)
        out.mkdir(parents=True, exist_ok=True)
        paths = {}
        for name, df in self.tables().items():
            p = out / f"{name}.{fmt}"
            if p.exists() and not overwrite:
                raise CRMResearchError(f"{p}: exists; not overwritten", hint="choose another folder or pass overwrite")
            if fmt == "csv":
                df.to_csv(p, index=False)
            elif fmt == "parquet":
                df.to_parquet(p, index=False)
            else:
                raise ValueError(f"unknown format {fmt!r}; use csv or parquet")
            paths[name] = p
        return paths

    def __repr__(self) -> str:
        parts = [f"{t}={len(df):,}" for t, df in self.tables().items()]
        return f"CaseData({', '.join(parts)}; {self.source})"

"""The KPI engine: a DuckDB database holding the validated logs, seen through ibis.

Why ibis expressions (and not hand-written SQL strings)
------------------------------------------------------
Every KPI in :mod:`crm_research.kpi` is written as an `ibis <https://ibis-project.org>`_
expression over two tables with canonical columns (``orders``: ``customer_id, order_id,
timestamp, amount[, product_id, category, channel]``; ``sessions``: ``customer_id, start,
duration[, page_views]``). ibis compiles one expression to the SQL dialect of the backend it
runs on: DuckDB here, and unchanged on Spark, Trino, BigQuery, Snowflake, ClickHouse,
Databricks or PostgreSQL. Hand-written SQL would tie the definitions to one dialect
(``date_trunc``/``date_diff``/``median`` are spelled differently everywhere), and sqlglot
transpiling of strings is less reliable than compiling an expression tree. Only the small
result tables (one row per cohort, period, segment ... or per customer) come back to pandas;
post-processing of those (labels, pivots, a moving average over a product's 36 monthly
totals) is plain pandas.

Loading (:meth:`KPIEngine.load`) validates in DuckDB on purpose: validation with row numbers
needs the engine that reads the file. With ``engine="spark"`` (``crm-research kpi --engine
spark``) the validated tables are then handed to Apache Spark as Parquet and every KPI runs
there (:mod:`crm_research.kpi.spark`; local mode by default, or a cluster master). On a cluster
the data are usually already typed tables; there :meth:`KPIEngine.from_ibis` takes them as
they are.

Billions of rows
----------------
- On one machine: keep the logs as Parquet (a glob over partitioned files). In memory the
  engine reads Parquet directly (no copy); set ``memory_limit`` and ``temp_directory`` so
  DuckDB spills sorts and joins to disk, or load into a database *file*
  (``database="shop.duckdb"``, reopened later with :meth:`KPIEngine.open`). Per-customer
  tables (RFM, lifecycle, churn list) stay in the engine from 2 million customers on and are
  streamed to CSV (``kpi_suite(..., per_customer="engine")``).
- On a cluster: connect ibis to the warehouse and hand the tables over::

      import ibis
      from crm_research import kpi
      con = ibis.trino.connect(host=..., database="dw")           # or ibis.pyspark / bigquery ...
      eng = kpi.KPIEngine.from_ibis(con.table("orders"), con.table("sessions"))
      suite = kpi.kpi_suite(eng, as_of="2024-06-30")

  The tables need the canonical column names and types (rename with ``Table.rename`` or a
  view); every KPI then runs where the data live. The definitions are checked to compile for
  Trino, BigQuery, Snowflake, Databricks/Spark SQL, PostgreSQL and ClickHouse
  (``tests/test_kpi_portability.py``) and executed on Spark with the same results as on
  DuckDB (``tests/test_kpi_spark.py``). Medians (typical purchase gap, median session) are
  exact where the engine has an exact median (DuckDB, Spark); engines that only offer
  approximate percentiles (Trino, BigQuery) give approximate medians, and the result says so
  (:attr:`KPIEngine.approximations`, ``KPISuite.approximate``, the suite summary).

Dates
-----
Day-based measures use calendar dates of the timestamps (``order_date``). ``as_of`` is a date:
orders on or before it are observed; it defaults to the date of the last order.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import html
from pathlib import Path
from typing import Any, Mapping

import pandas as pd

from ..errors import ConfigError, DataFileError
from .distinct import byte_size
from .orders import ORDERS, SESSIONS, ValidationReport, ingest

PERIODS = ("month", "week")
ENGINES = ("duckdb", "spark")   # where KPIEngine.load runs the KPIs
COMPRESS_ROWS = 20_000_000   # compress engine tables from this many orders on
FACTS_PART_ROWS = 50_000_000  # compressed facts are built in customer-hash parts of about this many orders


def as_date(value: Any, what: str = "as_of") -> dt.date:
    """A date from a date, datetime, pandas Timestamp or ISO string.

    Parameters
    ----------
    value : date, datetime, Timestamp or str
        The date (a time of day is dropped).
    what : str
        Name of the argument, for the error message.

    Returns
    -------
    datetime.date

    Raises
    ------
    ConfigError
        ``value`` is not a date.

    Examples
    --------
    >>> as_date('2024-06-30T18:00')
    datetime.date(2024, 6, 30)
    >>> as_date('June the 31st')
    Traceback (most recent call last):
    ...
    crm_research.errors.ConfigError: <argument>: as_of: 'June the 31st' is not a date (fix: use YYYY-MM-DD)
    """
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, pd.Timestamp):
        return value.date()
    try:
        return pd.Timestamp(str(value)).date()
    except (ValueError, TypeError):
        raise ConfigError("<argument>", what, f"{value!r} is not a date", hint="use YYYY-MM-DD") from None


def check_period(period: str) -> str:
    """Check a reporting period name.

    Parameters
    ----------
    period : str
        ``"month"`` or ``"week"``.

    Returns
    -------
    str
        ``period``, checked.

    Raises
    ------
    ConfigError
        Another value.

    Examples
    --------
    >>> check_period('week')
    'week'
    >>> check_period('day')
    Traceback (most recent call last):
    ...
    crm_research.errors.ConfigError: <argument>: period: 'day' is not a period (fix: use 'month' or 'week')
    """
    if period not in PERIODS:
        raise ConfigError("<argument>", "period", f"{period!r} is not a period", hint="use 'month' or 'week'")
    return period


class KPIEngine:
    """Validated order (and session) tables in an analytical engine.

    Build one with :meth:`load` (files or DataFrames into DuckDB) or :meth:`from_ibis`
    (tables already in any ibis backend). Pass it to every KPI function.

    Parameters
    ----------
    backend : ibis backend
        The backend the tables live in.
    orders, sessions, order_lines : ibis.Table
        Canonical tables (``sessions``, ``order_lines`` optional).
    con : duckdb connection, optional
        The raw DuckDB connection when DuckDB.
    reports : dict of ValidationReport, optional
        Validation reports of the loaded files.
    owns : bool
        Close the connection with :meth:`close`.
    database : str, optional
        The DuckDB database file, if any.

    Attributes
    ----------
    orders : ibis.Table
        One row per order.
    order_lines : ibis.Table
        One row per order line (the same table unless duplicate order ids were kept as lines).
    sessions : ibis.Table or None
    reports : dict[str, ValidationReport]
    approximations : dict[str, str]
        KPIs this backend could only approximate (e.g. medians on Trino/BigQuery) -> why.

    Examples
    --------
    >>> from crm_research.kpi.examples import example_engine
    >>> eng = example_engine()
    >>> eng
    KPIEngine(database=:memory:, sessions=True, products=True)
    >>> print(eng.summary())
    KPI engine (DuckDB in memory)
      orders from <DataFrame>: 24 rows read, 24 kept
        no problems found
      sessions from <DataFrame>: 11 rows read, 11 kept
        no problems found
      sessions: yes; products: yes
    """

    def __init__(self, backend, orders, sessions=None, order_lines=None, *, con=None,
                 reports: Mapping[str, ValidationReport] | None = None, owns: bool = False,
                 database: str | None = None):
        self.backend = backend
        self.con = con                      # the raw duckdb connection when DuckDB
        self.orders = orders
        self.order_lines = order_lines if order_lines is not None else orders
        self.sessions = sessions
        self.reports = dict(reports or {})
        self.database = database
        self._owns = owns
        self._facts = None
        self._cache: dict = {}
        self._max_date: dt.date | None = None
        self._compress = False
        self._exact_median: bool | None = None
        self._spark = None                  # what a Spark engine started (crm_research.kpi.spark.SparkRun)
        self._prefetched: dict = {}         # SQL text -> Future of an Arrow table (see prefetch)
        self._pool = None
        self.approximations: dict[str, str] = {}    # KPI -> why it is approximate on this backend
        self._collectors: list[dict] = []          # open collecting_approximations() blocks
        cols = set(orders.columns)
        missing = {"customer_id", "order_id", "timestamp", "amount"} - cols
        if missing:
            raise ConfigError("<orders table>", "columns", f"missing {sorted(missing)}",
                              hint="rename the table's columns to the canonical names")

    # ------------------------------------------------------------------ construction
    @classmethod
    def load(cls, orders, sessions=None, *, database: str | Path | None = None,
             columns: Mapping[str, str] | None = None, session_columns: Mapping[str, str] | None = None,
             policy=None, session_policy=None, timestamp_format: str | None = None,
             session_timestamp_format: str | None = None, timezone: str = "UTC",
             csv_options: Mapping[str, Any] | None = None, materialize: bool | None = None,
             pseudonymize: bool | None = None, salt: str | bytes | None = None,
             memory_limit: str | None = None, temp_directory: str | Path | None = None,
             threads: int | None = None, replace: bool = False, engine: str = "duckdb",
             spark_master: str = "local[*]", spark_conf: Mapping[str, Any] | None = None,
             spark_staging: str | Path | None = None) -> "KPIEngine":
        """Validate order (and session) logs and load them into DuckDB (or hand them to Spark).

        Parameters
        ----------
        orders, sessions : path, glob, list of paths, DataFrame or pyarrow Table
            CSV or Parquet; see :mod:`crm_research.kpi.orders` for columns and checks.
        database : path, optional
            A DuckDB database file to load into (created if missing); default in memory.
            An existing file that already holds an ``orders`` table is refused unless
            ``replace=True``; reopen it with :meth:`open` instead.
        columns, session_columns : dict, optional
            Column maps, canonical name -> file column.
        policy, session_policy : ValidationPolicy, "error" | "drop", or dict
            What to do with bad rows (see :class:`~crm_research.kpi.orders.ValidationPolicy`).
        timestamp_format, session_timestamp_format : str, optional
            strptime format when timestamps are not ISO 8601.
        timezone : str
            IANA zone that timestamps with a UTC offset are converted to.
        materialize : bool, optional
            Copy Parquet data into the database. Default: only when ``database`` is given;
            in memory DuckDB reads the Parquet files directly on every query (no copy, little
            memory; the per-order facts the KPIs share are computed once and stored).
            CSV files and DataFrames are always copied.
        pseudonymize, salt
            Customer ids that are personal data are pseudonymized (``None``: when detected).
        memory_limit : str, optional
            Memory for the whole engine, e.g. ``"3GB"``: DuckDB runs under
            :data:`ENGINE_SHARE` (half) of it and spills to ``temp_directory`` beyond that; the
            orders' and sessions' arrays take at most a quarter; the rest is left to the KPI
            tables in Python and the interpreter (100M orders at ``"3GB"``: peak RSS 2.3-2.5 GiB).
        temp_directory, threads
            DuckDB settings.
        engine : {"duckdb", "spark"}
            Where the KPIs run. ``"spark"``: the logs are validated in DuckDB as above, then
            handed to a Spark session as Parquet (see :mod:`crm_research.kpi.spark`); needs
            ``pip install 'crm-research[spark]'`` and Java 17.
        spark_master : str
            Spark master URL (default ``local[*]``: local mode on every core).
        spark_conf : dict, optional
            Spark settings, e.g. ``{"spark.driver.memory": "8g"}``.
        spark_staging : path, optional
            Folder for the Parquet hand-over, readable by every executor (required for a
            cluster master; default a temporary folder, deleted by :meth:`close`).

        Returns
        -------
        KPIEngine
            The validated logs in DuckDB (or Spark); ``reports`` holds one :class:`ValidationReport` per table.

        Raises
        ------
        ConfigError
            An unknown ``engine``; ``engine="spark"`` without pyspark or Java 17, or with a bad master URL.

        Examples
        --------
        >>> import pandas as pd
        >>> orders = pd.DataFrame({"customer_id": [1, 1, 2], "order_id": [1, 2, 3],
        ...     "timestamp": ["2024-01-05", "2024-02-03", "2024-02-10"], "amount": [10.0, 20.0, 5.0]})
        >>> eng = KPIEngine.load(orders)
        >>> eng.reports['orders'].rows_kept, eng.max_date()
        (3, datetime.date(2024, 2, 10))
        """
        import duckdb
        import ibis

        if engine not in ENGINES:
            raise ConfigError("<argument>", "engine", f"{engine!r} is not an engine", hint="use 'duckdb' or 'spark'")
        if engine == "spark":        # fail before the (long) validation
            from . import spark

            spark_master = spark.check_master(spark_master)
            spark.require_spark()
        if database is not None:
            database = str(database)
            if Path(database).exists() and not replace:
                probe = duckdb.connect(database, read_only=True)
                try:
                    has = probe.execute("SELECT count(*) FROM information_schema.tables "
                                        "WHERE table_name IN ('orders', '_orders_stage')").fetchall()[0][0]
                finally:
                    probe.close()
                if has:
                    raise DataFileError(database, "database already holds an orders table",
                                        hint="reopen it with KPIEngine.open(path), or pass replace=True to reload")
        con = duckdb.connect(database if database is not None else ":memory:")
        try:
            _configure(con, memory_limit, temp_directory, threads)
            if database is None:
                # compressed in-memory storage: about 7x less memory than plain in-memory tables
                con.execute("ATTACH ':memory:' AS kpi (COMPRESS)")
                con.execute("USE kpi")
            temporary = False
            if materialize is None:
                materialize = database is not None
            reports = {"orders": ingest(con, orders, ORDERS, columns=columns, policy=policy,
                                        timestamp_format=timestamp_format, timezone=timezone,
                                        csv_options=csv_options, materialize=materialize,
                                        pseudonymize=pseudonymize, salt=salt, temporary=temporary)}
            if sessions is not None:
                reports["sessions"] = ingest(con, sessions, SESSIONS, columns=session_columns,
                                             policy=session_policy if session_policy is not None else policy,
                                             timestamp_format=session_timestamp_format, timezone=timezone,
                                             csv_options=csv_options, materialize=materialize,
                                             pseudonymize=pseudonymize, salt=salt, temporary=temporary)
        except BaseException:
            con.close()
            raise
        if engine == "spark":
            try:
                return cls._to_spark(con, reports, spark_master, spark_conf, spark_staging)
            finally:
                con.close()
        # validation (row numbers in file order) is done: from here on no query depends on the
        # physical row order (every KPI orders explicitly), and DuckDB builds the derived
        # tables faster without keeping it
        con.execute("SET preserve_insertion_order = false")
        backend = ibis.duckdb.from_connection(con)
        eng = cls._from_con(con, backend, reports, database, owns=True)
        # compress stored tables (about 5x less memory) when they are big enough to matter;
        # compression costs CPU time, so small and mid-size logs skip it
        eng._compress = database is not None or reports["orders"].rows_read >= COMPRESS_ROWS
        if eng._compress:
            _checkpoint(con)
        return eng

    @classmethod
    def open(cls, database: str | Path, *, memory_limit: str | None = None,
             temp_directory: str | Path | None = None, threads: int | None = None,
             read_only: bool = False) -> "KPIEngine":
        """Reopen a database file written by :meth:`load` (no re-validation).

        Parameters
        ----------
        database : path
            A DuckDB file written by :meth:`load` with ``database=``.
        memory_limit, temp_directory, threads
            As in :meth:`load`.
        read_only : bool
            Open the file read-only.

        Returns
        -------
        KPIEngine

        Raises
        ------
        DataFileError
            The file does not exist or holds no ``orders`` table.

        Examples
        --------
        >>> KPIEngine.open('no/such/shop.duckdb')
        Traceback (most recent call last):
        ...
        crm_research.errors.DataFileError: no/such/shop.duckdb: database file not found
        """
        import duckdb
        import ibis

        if not Path(database).exists():
            raise DataFileError(str(database), "database file not found")
        con = duckdb.connect(str(database), read_only=read_only)
        _configure(con, memory_limit, temp_directory, threads)
        names = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
        if "orders" not in names:
            con.close()
            raise DataFileError(str(database), "no orders table in this database",
                                hint="create it with KPIEngine.load(..., database=path)")
        con.execute("SET preserve_insertion_order = false")   # no query depends on physical row order
        backend = ibis.duckdb.from_connection(con)
        eng = cls._from_con(con, backend, {}, str(database), owns=True)
        eng._compress = True
        return eng

    @classmethod
    def _to_spark(cls, con, reports, master, conf, staging) -> "KPIEngine":
        """Hand the validated DuckDB tables to a Spark session (see :mod:`crm_research.kpi.spark`)."""
        from . import spark

        names = _table_names(con)
        roles = {"orders": "orders", "order_lines": "orders_lines", "sessions": "sessions"}
        tables = {role: name for role, name in roles.items() if name in names}
        session, started = spark.spark_session(master, conf)
        if not started:     # joined a running session: its master is the one in force
            master = session.sparkContext.master
        try:
            views, folder, temporary = spark.hand_over(con, tables, session, staging, master)
        except BaseException:
            if started:
                session.stop()
            raise
        run = spark.SparkRun(session, master, started=started, views=views, folder=folder, temporary=temporary)
        try:
            backend = spark.connect(session)
            with quiet_ibis():
                t = {role: backend.table(view) for role, view in views.items()}
            eng = cls(backend, t["orders"], t.get("sessions"), t.get("order_lines"), reports=reports, owns=True)
        except BaseException:
            run.close()
            raise
        eng._spark = run
        return eng

    @classmethod
    def _from_con(cls, con, backend, reports, database, owns):
        names = _table_names(con)
        with quiet_ibis():
            orders = backend.table("orders")
            lines = backend.table("orders_lines") if "orders_lines" in names else None
            sessions = backend.table("sessions") if "sessions" in names else None
        return cls(backend, orders, sessions, lines, con=con, reports=reports, owns=owns, database=database)

    @classmethod
    def from_ibis(cls, orders, sessions=None, order_lines=None) -> "KPIEngine":
        """Use tables that already live in an ibis backend (DuckDB, Spark, Trino, BigQuery ...).

        The tables must carry the canonical column names and types; no validation is done.
        Derived tables (``_kpi_order_facts`` and friends) are created in the backend's current
        database (on DuckDB) or cached with ``Table.cache()`` (elsewhere). An ``ibis.pyspark``
        connection gets the KPI compiler of :mod:`crm_research.kpi.spark` (ibis' own lacks
        Spark SQL's ``bit_or``); the session stays the caller's (:meth:`close` leaves it running).

        Parameters
        ----------
        orders, sessions, order_lines : ibis.Table
            Tables with the canonical columns (``sessions`` and ``order_lines`` optional).

        Returns
        -------
        KPIEngine

        Examples
        --------
        >>> import ibis, pandas as pd
        >>> t = ibis.memtable(pd.DataFrame({"customer_id": [1, 2], "order_id": [1, 2],
        ...     "timestamp": pd.to_datetime(["2024-01-05", "2024-02-10"]), "amount": [10.0, 5.0]}))
        >>> KPIEngine.from_ibis(ibis.duckdb.connect().create_table('orders', t)).max_date()
        datetime.date(2024, 2, 10)
        """
        from . import spark

        backend = orders._find_backend()
        spark.use_kpi_compiler(backend)
        con = getattr(backend, "con", None)
        return cls(backend, orders, sessions, order_lines, con=con if _is_duckdb(con) else None)

    # ------------------------------------------------------------------ properties
    @property
    def has_sessions(self) -> bool:
        """Whether a session log was loaded.

        Returns
        -------
        bool
            A session log was loaded.

        Examples
        --------
        >>> from crm_research.kpi.examples import example_engine
        >>> example_engine().has_sessions
        True
        """
        return self.sessions is not None

    @property
    def has_products(self) -> bool:
        """Whether the orders carry product ids.

        Returns
        -------
        bool
            The orders carry ``product_id``.

        Examples
        --------
        >>> from crm_research.kpi.examples import example_engine
        >>> example_engine().has_products
        True
        """
        return "product_id" in self.order_lines.columns

    @property
    def has_channel(self) -> bool:
        """Whether the orders carry a sales channel.

        Returns
        -------
        bool
            The orders carry ``channel``.

        Examples
        --------
        >>> from crm_research.kpi.examples import example_engine
        >>> example_engine().has_channel
        False
        """
        return "channel" in self.orders.columns

    def max_date(self) -> dt.date:
        """Date of the last order.

        Returns
        -------
        datetime.date

        Examples
        --------
        >>> from crm_research.kpi.examples import example_engine
        >>> example_engine().max_date()
        datetime.date(2024, 6, 28)
        """
        if self._max_date is None:
            v = self.execute(self.orders.timestamp.max())
            self._max_date = pd.Timestamp(v).date()
        return self._max_date

    def min_date(self) -> dt.date:
        """Date of the first order.

        Returns
        -------
        datetime.date

        Examples
        --------
        >>> from crm_research.kpi.examples import example_engine
        >>> example_engine().min_date()
        datetime.date(2024, 1, 3)
        """
        if "min_date" not in self._cache:
            self._cache["min_date"] = pd.Timestamp(self.execute(self.orders.timestamp.min())).date()
        return self._cache["min_date"]

    def as_of(self, as_of=None) -> dt.date:
        """Resolve an as-of date (default: the date of the last order).

        Parameters
        ----------
        as_of : date-like, optional
            The date; ``None`` for the date of the last order.

        Returns
        -------
        datetime.date

        Examples
        --------
        >>> from crm_research.kpi.examples import example_engine
        >>> eng = example_engine()
        >>> eng.as_of(), eng.as_of('2024-03-31')
        (datetime.date(2024, 6, 28), datetime.date(2024, 3, 31))
        """
        return self.max_date() if as_of is None else as_date(as_of)

    # ------------------------------------------------------------------ execution
    def execute(self, expr):
        """Run an ibis expression on the backend; tables come back as pandas DataFrames.

        Parameters
        ----------
        expr : ibis expression
            A table, column or scalar expression on the engine's tables.

        Returns
        -------
        DataFrame, Series or scalar

        Examples
        --------
        >>> from crm_research.kpi.examples import example_engine
        >>> eng = example_engine()
        >>> eng.execute(eng.orders.amount.sum())
        768.0
        >>> eng.execute(eng.orders.group_by('product_id').aggregate(n=eng.orders.count()).order_by('product_id'))
          product_id   n
        0         p1  12
        1         p2  12
        """
        import ibis.expr.types as ir

        with quiet_ibis():
            if self._prefetched and isinstance(expr, ir.Table) and _is_duckdb(self.con):
                import ibis

                fut = self._prefetched.pop(str(ibis.to_sql(expr, dialect="duckdb")), None)
                if fut is not None:     # started by prefetch(): collect it (its error is raised here)
                    return expr.__pyarrow_result__(fut.result()).to_pandas()
            if isinstance(expr, ir.Table) and (_is_duckdb(self.con) or getattr(self.backend, "name", "") == "pyspark"):
                # arrow round trip: on DuckDB faster than ibis' row conversion; on Spark the
                # same dtypes as on DuckDB (dates as dates, not datetime64)
                return self.backend.to_pyarrow(expr).to_pandas()
            return self.backend.execute(expr)

    def prefetch(self, exprs) -> int:
        """Start table expressions on a second DuckDB connection in the background.

        :meth:`execute` of the same expression later collects the result instead of running it.
        The KPI suite starts its session queries this way: they run while the order KPIs'
        Python work (compiling, fitting, converting) leaves the cores idle. Only on DuckDB (a
        no-op elsewhere); the expressions must read stored tables or views, not in-memory
        tables registered on the main connection.

        Parameters
        ----------
        exprs : sequence of ibis.Table

        Returns
        -------
        int
            Number of queries started.

        Examples
        --------
        >>> from crm_research.kpi.examples import example_engine
        >>> eng = example_engine()
        >>> q = eng.orders.group_by('customer_id').aggregate(n=eng.orders.count()).order_by('customer_id')
        >>> eng.prefetch([q])
        1
        >>> eng.execute(q).equals(example_engine().execute(q))
        True
        """
        if not _is_duckdb(self.con):
            return 0
        import ibis

        started = 0
        for e in exprs:
            sql = str(ibis.to_sql(e, dialect="duckdb"))
            if sql not in self._prefetched:
                self._prefetched[sql] = self._submit(lambda con, sql=sql: con.sql(sql).to_arrow_table())
                started += 1
        return started

    def prefetch_call(self, key, fn, *args) -> bool:
        """Start ``fn(connection, *args)`` in the background on a DuckDB connection of its own.

        For work that mixes a query with numpy (which releases the GIL), started like
        :meth:`prefetch` and collected with :meth:`collect`. ``fn`` gets a cursor of this
        engine's database and must not use the engine itself (its connection is busy elsewhere).

        Parameters
        ----------
        key : hashable
            Names the run for :meth:`collect`.
        fn : callable
            ``fn(connection, *args)``.
        *args
            Passed on (compile queries before: SQL text travels, ibis expressions need not).

        Returns
        -------
        bool
            True when started (DuckDB engines), False elsewhere.

        Examples
        --------
        >>> from crm_research.kpi.examples import example_engine
        >>> eng = example_engine()
        >>> eng.prefetch_call('n', lambda con, sql: con.execute(sql).fetchall()[0][0], 'SELECT count(*) FROM orders')
        True
        >>> eng.collect('n')
        24
        """
        if not _is_duckdb(self.con):
            return False
        self._prefetched[("call", key)] = self._submit(fn, *args)
        return True

    def _submit(self, fn, *args):
        """``fn(cursor, *args)`` on the background thread, with a DuckDB connection of its own
        (thread-safe) on this engine's database; a Future of its result. Runs in the order started."""
        from concurrent.futures import ThreadPoolExecutor

        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kpi-prefetch")
        cur = self.cursor()

        def run():
            try:
                return fn(cur, *args)
            finally:
                cur.close()

        return self._pool.submit(run)

    def cursor(self):
        """A new DuckDB connection to this engine's database, for work on another thread.

        Returns
        -------
        duckdb.DuckDBPyConnection
            Sees the engine's tables; close it when done.

        Examples
        --------
        >>> from crm_research.kpi.examples import example_engine
        >>> cur = example_engine().cursor()
        >>> cur.execute('SELECT count(*) FROM orders').fetchall()
        [(24,)]
        >>> cur.close()
        """
        cur = self.con.cursor()
        cur.execute(f'USE "{self.con.execute("SELECT current_database()").fetchall()[0][0]}"')
        return cur

    def collect(self, key, default=None):
        """The result of the run :meth:`prefetch_call` started as ``key`` (waits for it), or ``default``.

        Parameters
        ----------
        key : hashable
        default : object
            Returned when no run was started under ``key`` (or it was collected already).

        Returns
        -------
        object
            The run's result; its error is raised here.

        Examples
        --------
        >>> from crm_research.kpi.examples import example_engine
        >>> example_engine().collect('never started', default='none')
        'none'
        """
        future = self._prefetched.pop(("call", key), None)
        return default if future is None else future.result()

    def compress_tables(self) -> None:
        """Compress the tables written since the last compression, where this engine compresses
        (large logs, database files; elsewhere nothing happens).

        A table stored piece by piece (:func:`~crm_research.kpi.order_arrays.store_parts`) is
        written uncompressed; a large one that later queries read several times costs less
        compressed (100M orders: the customer-month table 2.6 GB -> 0.35 GB, so DuckDB's share of
        the memory limit holds it instead of spilling it to disk).

        Examples
        --------
        >>> from crm_research.kpi.examples import example_engine
        >>> eng = example_engine()
        >>> eng.compress_tables()       # a small log: nothing to do
        """
        if self._compress and _is_duckdb(self.con):
            _checkpoint(self.con)

    def materialize_pieces(self, pieces, name: str):
        """Store the union of several expressions' rows, one expression at a time.

        For a table too large to build in one query under the memory limit: each piece (say,
        one range of customers) runs on its own and is appended, so a join holds one piece's
        rows at a time. The table is not compressed (see :meth:`materialize`).

        Parameters
        ----------
        pieces : list of ibis.Table
            Expressions with the same schema; their rows are stored in list order.
        name : str
            Table name in the engine.

        Returns
        -------
        ibis.Table
            The stored table.

        Examples
        --------
        >>> from crm_research.kpi.examples import example_engine
        >>> eng = example_engine()
        >>> o = eng.orders
        >>> t = eng.materialize_pieces([o.filter(o.customer_id <= 3), o.filter(o.customer_id > 3)], 'split')
        >>> eng.execute(t.count()) == eng.execute(o.count())
        True
        """
        import ibis

        pieces = list(pieces)
        if not pieces:
            raise ValueError(f"materialize_pieces: no piece to store as {name!r}")
        if len(pieces) == 1 or not _is_duckdb(self.con):     # elsewhere the engine plans the union
            one = pieces[0] if len(pieces) == 1 else ibis.union(*pieces)
            return self.materialize(one, name, compress=False)
        first = self.materialize(pieces[0], name, compress=False)
        for piece in pieces[1:]:
            self._register_memtables(piece)
            self.con.execute(f'INSERT INTO "{name}" {ibis.to_sql(piece, dialect="duckdb")}')
        return first

    def _register_memtables(self, expr) -> None:
        """Register the in-memory tables (``ibis.memtable``) an expression uses with the backend,
        before its SQL runs on the connection directly. ibis' ``create_table`` would do this too,
        but its overwrite path breaks on DuckDB 2, and ``Table.cache()`` on Spark forgets it."""
        hook = getattr(self.backend, "_run_pre_execute_hooks", None)
        if hook is not None:
            with quiet_ibis():
                hook(expr)

    def materialize(self, expr, name: str, *, compress: bool = True):
        """Store an expression's result as a temporary table and return it as an ibis Table.

        Parameters
        ----------
        expr : ibis.Table
            The expression to store.
        name : str
            Table name in the engine.
        compress : bool
            On an engine that compresses its tables (large logs, database files), compress this
            one now. DuckDB compresses single-threaded: a table written once and read once
            (an output streamed to CSV, a step of one KPI) costs less left as it is (DuckDB
            spills it to ``temp_directory`` under its memory limit).

        Returns
        -------
        ibis.Table
            The stored table.

        Examples
        --------
        >>> from crm_research.kpi.examples import example_engine
        >>> eng = example_engine()
        >>> big = eng.materialize(eng.orders.filter(eng.orders.amount > 40), 'big_orders')
        >>> eng.execute(big.count())
        7
        """
        self._register_memtables(expr)
        if _is_duckdb(self.con):
            import ibis

            sql = ibis.to_sql(expr, dialect="duckdb")
            self.con.execute(f'CREATE OR REPLACE TABLE "{name}" AS {sql}')
            if self._compress and compress:
                _checkpoint(self.con)
            with quiet_ibis():
                return self.backend.table(name)
        with quiet_ibis():
            return expr.cache()

    def median(self, col, where=None, *, what: str | None = None, note: bool = True):
        """Median of a column expression: exact where the backend has one (DuckDB, Spark,
        Snowflake, PostgreSQL, ClickHouse), else approximate (Trino, BigQuery).

        An approximate median is recorded in :attr:`approximations` (``what`` -> why), and
        :func:`~crm_research.kpi.suite.kpi_suite` notes it against the tables it went into.

        Parameters
        ----------
        col : ibis column expression
            The column.
        where : ibis boolean expression, optional
            Filter.
        what : str, optional
            The KPI the median is part of, for the note (default ``median of <column>``).
        note : bool
            Record an approximate median in :attr:`approximations` now (False: the caller
            records it where the median is used, e.g. a shared table read by several KPIs).

        Returns
        -------
        ibis scalar expression

        Examples
        --------
        >>> from crm_research.kpi.examples import example_engine
        >>> eng = example_engine()
        >>> eng.execute(eng.median(eng.orders.amount))
        27.5
        >>> eng.approximations
        {}
        """
        if self.exact_median:
            return col.median(where=where)
        if note:
            self.note_approximate_median(what or f"median of {col.get_name()}")
        return col.approx_median(where=where)

    @property
    def exact_median(self) -> bool:
        """Whether the backend has an exact median (DuckDB, Spark: yes; Trino, BigQuery: no).

        Returns
        -------
        bool

        Examples
        --------
        >>> from crm_research.kpi.examples import example_engine
        >>> example_engine().exact_median
        True
        """
        if self._exact_median is None:
            import ibis.expr.operations as ops

            try:
                self._exact_median = bool(self.backend.has_operation(ops.Median))
            except Exception:
                self._exact_median = True
        return self._exact_median

    def note_approximate_median(self, what: str) -> None:
        """Record in :attr:`approximations` that the median ``what`` is approximate on this backend.

        Parameters
        ----------
        what : str
            The KPI the median is part of.

        Examples
        --------
        >>> from crm_research.kpi.examples import example_engine
        >>> eng = example_engine()
        >>> eng.note_approximate_median('typical_gap_days')
        >>> eng.approximations
        {'typical_gap_days': 'approximate median (approx_median): the duckdb backend has no exact median'}
        """
        why = f"approximate median (approx_median): the {self.backend.name} backend has no exact median"
        self.approximations[what] = why
        for notes in self._collectors:
            notes[what] = why

    @contextlib.contextmanager
    def collecting_approximations(self):
        """Collect the approximations noted while the block runs (``what`` -> why).

        Each KPI that builds an approximate median notes it, so a table is marked approximate
        whenever its own computation noted one, whatever was noted before.

        Yields
        ------
        dict

        Examples
        --------
        >>> from crm_research.kpi.examples import example_engine
        >>> eng = example_engine()
        >>> with eng.collecting_approximations() as notes:
        ...     eng.note_approximate_median('typical_gap_days')
        >>> list(notes)
        ['typical_gap_days']
        """
        notes: dict = {}
        self._collectors.append(notes)
        try:
            yield notes
        finally:
            self._collectors.remove(notes)

    def sql(self, query: str) -> pd.DataFrame:
        """Run SQL on the DuckDB connection (DuckDB engines only).

        Parameters
        ----------
        query : str
            SQL on the engine's tables (``orders``, ``sessions``).

        Returns
        -------
        DataFrame

        Examples
        --------
        >>> from crm_research.kpi.examples import example_engine
        >>> example_engine().sql('SELECT count(*) AS n FROM orders')
            n
        0  24
        """
        if not _is_duckdb(self.con):
            raise ConfigError("<engine>", "sql", "raw SQL is available on DuckDB engines only",
                              hint="use ibis expressions on other backends")
        return self.con.execute(query).df()

    def order_relation(self, as_of=None, columns=("customer_id", "timestamp", "amount")):
        """The orders as a DuckDB relation, for code that takes one (e.g. :func:`crm_research.clv.rfm_summary`).

        The relation is a query on the engine's tables: nothing is copied to pandas.

        Parameters
        ----------
        as_of : date-like, optional
            Keep orders on or before this date (default: all orders).
        columns : sequence of str
            Columns of the orders table to keep.

        Returns
        -------
        duckdb.DuckDBPyRelation

        Raises
        ------
        ConfigError
            The engine does not run on DuckDB, or a column is not in the orders table.

        Examples
        --------
        >>> import pandas as pd
        >>> eng = load(pd.DataFrame({"customer_id": [1, 1, 2], "order_id": [1, 2, 3],
        ...     "timestamp": ["2024-01-05", "2024-02-03", "2024-02-10"], "amount": [10.0, 20.0, 5.0]}))
        >>> eng.order_relation(as_of="2024-02-05").df()["amount"].tolist()
        [10.0, 20.0]
        """
        import ibis

        if not _is_duckdb(self.con):
            raise ConfigError("<engine>", "order_relation", "DuckDB relations are available on DuckDB engines only",
                              hint="use engine.execute(expr) on other backends")
        unknown = [c for c in columns if c not in self.orders.columns]
        if unknown:
            raise ConfigError("<engine>", "columns", f"{unknown} not in the orders table ({list(self.orders.columns)})")
        o = self.orders.select(*columns) if as_of is None else \
            self.orders.filter(self.orders.timestamp.date() <= date_literal(as_date(as_of))).select(*columns)
        return self.con.sql(ibis.to_sql(o, dialect="duckdb"))

    # ------------------------------------------------------------------ derived relations
    @property
    def facts(self):
        """Per-order facts, computed once and stored in the engine.

        Columns: ``customer_id, order_id, order_date`` (date), ``amount``, ``seq`` (1 = the
        customer's first order, by timestamp then order id), ``first_date`` (the customer's
        first order date), ``gap_days`` (days since the customer's previous order; 0 for a
        second order the same day; NULL for the first order). Valid for any ``as_of``: filter
        ``order_date <= as_of``.

        Returns
        -------
        ibis.Table
            One row per order (columns above).

        Examples
        --------
        >>> from crm_research.kpi.examples import example_engine
        >>> eng = example_engine()
        >>> eng.execute(eng.facts.filter(eng.facts.customer_id == 2))[['order_date', 'seq', 'gap_days']]
           order_date  seq  gap_days
        0  2024-01-10    1       NaN
        1  2024-03-15    2      65.0
        """
        if self._facts is None:
            import ibis

            def facts_of(o):
                d = o.timestamp.date()
                # one window (one sort): sequence number, previous and first order date
                w = ibis.window(group_by=o.customer_id, order_by=[o.timestamp, o.order_id])
                f = o.select(customer_id=o.customer_id, order_id=o.order_id, order_date=d,
                             amount=o.amount.cast("float64"),
                             seq=(ibis.row_number().over(w) + 1).cast("int64"),
                             prev_date=d.lag().over(w), first_date=d.first().over(w))
                return f.mutate(gap_days=f.order_date.delta(f.prev_date, unit="day").cast("int64")).drop("prev_date")

            o = self.orders
            parts = 1
            if self._compress and _is_duckdb(self.con):
                n = int(self.reports["orders"].rows_kept) if "orders" in self.reports else 0
                parts = max(1, -(-n // FACTS_PART_ROWS))
            if parts == 1:
                self._facts = self.materialize(facts_of(o), "_kpi_order_facts")
            else:
                # whole customers per part (a hash of the id): each part's window sorts in memory
                # and is compressed on its own, instead of one window and one compression of the
                # whole log spilling to disk (100M orders: 31.5 s -> about 20 s)
                for k in range(parts):
                    part = facts_of(o.filter(((o.customer_id.hash() % parts) + parts) % parts == k))
                    sql = ibis.to_sql(part, dialect="duckdb")
                    self.con.execute(f'CREATE OR REPLACE TABLE "_kpi_order_facts" AS {sql}' if k == 0
                                     else f'INSERT INTO "_kpi_order_facts" {sql}')
                    _checkpoint(self.con)
                with quiet_ibis():
                    self._facts = self.backend.table("_kpi_order_facts")
        return self._facts

    def facts_until(self, as_of=None):
        """Facts of orders on or before ``as_of``.

        Parameters
        ----------
        as_of : date-like, optional
            Last date kept (default: the date of the last order).

        Returns
        -------
        ibis.Table

        Examples
        --------
        >>> from crm_research.kpi.examples import example_engine
        >>> eng = example_engine()
        >>> eng.execute(eng.facts_until('2024-01-31').count())
        4
        """
        a = self.as_of(as_of)
        f = self.facts
        return f.filter(f.order_date <= date_literal(a))

    def cached(self, key, build):
        """Memoize a derived ibis table (materialized once per engine).

        Parameters
        ----------
        key : hashable
            Cache key.
        build : callable
            Builds the value on the first call.

        Returns
        -------
        object
            The cached value.

        Examples
        --------
        >>> from crm_research.kpi.examples import example_engine
        >>> eng = example_engine()
        >>> eng.cached('n', lambda: 1), eng.cached('n', lambda: 2)
        (1, 1)
        """
        if key not in self._cache:
            self._cache[key] = build()
        return self._cache[key]

    def is_cached(self, key) -> bool:
        """True when :meth:`cached` holds a value for ``key``.

        Parameters
        ----------
        key : hashable

        Returns
        -------
        bool

        Examples
        --------
        >>> from crm_research.kpi.examples import example_engine
        >>> eng = example_engine()
        >>> eng.is_cached('n'), eng.cached('n', lambda: 1), eng.is_cached('n')
        (False, 1, True)
        """
        return key in self._cache

    # ------------------------------------------------------------------ misc
    def close(self) -> None:
        """

        Returns
        -------
        None

        Examples
        --------
        >>> from crm_research.kpi.examples import example_engine
        >>> eng = example_engine()
        >>> eng.close()
        >>> eng.con is None
        True
        """
        if self._pool is not None:
            self._pool.shutdown(wait=True)     # let started queries finish before the connection closes
            self._pool = None
            self._prefetched.clear()
        if self._owns and self.con is not None:
            self.con.close()
            self.con = None
        if self._owns and self._spark is not None:
            self._spark.close()
            self._spark = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def summary(self) -> str:
        """

        Returns
        -------
        str
            Validation reports and what the engine holds.

        Examples
        --------
        >>> from crm_research.kpi.examples import example_engine
        >>> print(example_engine().summary())
        KPI engine (DuckDB in memory)
          orders from <DataFrame>: 24 rows read, 24 kept
            no problems found
          sessions from <DataFrame>: 11 rows read, 11 kept
            no problems found
          sessions: yes; products: yes
        """
        where = ("DuckDB " + (self.database or "in memory") if self.con is not None else
                 self._spark.label if self._spark is not None else self.backend.name)
        lines = [f"KPI engine ({where})"]
        for name, rep in self.reports.items():
            lines.append("  " + rep.summary().replace("\n", "\n  "))
        if not self.reports:
            lines.append(f"  orders: {self.execute(self.orders.count()):,} rows")
        lines.append(f"  sessions: {'yes' if self.has_sessions else 'no'}; products: {'yes' if self.has_products else 'no'}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        where = (f"database={self.database or ':memory:'!s}" if self.con is not None or self._spark is None
                 and getattr(self.backend, "name", "duckdb") == "duckdb" else f"backend={self.backend.name}")
        return f"KPIEngine({where}, sessions={self.has_sessions}, products={self.has_products})"

    def _repr_html_(self) -> str:
        return "<pre>" + html.escape(self.summary()) + "</pre>"


def memtable(df: pd.DataFrame):
    """An ibis in-memory table (for small inputs joined to engine tables).

    Parameters
    ----------
    df : DataFrame
        The data.

    Returns
    -------
    ibis.Table

    Examples
    --------
    >>> import pandas as pd
    >>> memtable(pd.DataFrame({'customer_id': [1, 2]})).count().execute()
    2
    """
    import ibis

    with quiet_ibis():
        return ibis.memtable(df)


def load(orders, sessions=None, **kwargs) -> KPIEngine:
    """Shorthand for :meth:`KPIEngine.load`.

    Parameters
    ----------
    orders, sessions
        As in :meth:`KPIEngine.load`.
    **kwargs
        Options of :meth:`KPIEngine.load`.

    Returns
    -------
    KPIEngine

    Examples
    --------
    >>> import pandas as pd
    >>> eng = load(pd.DataFrame({"customer_id": [1], "order_id": [1], "timestamp": ["2024-01-05"],
    ...     "amount": [10.0]}))
    >>> eng.max_date()
    datetime.date(2024, 1, 5)
    """
    return KPIEngine.load(orders, sessions, **kwargs)


# ---------------------------------------------------------------------- helpers
def _table_names(con) -> set:
    return {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}


#: Share of the configured ``memory_limit`` that DuckDB itself runs under. The rest is for the
#: process: the orders' and sessions' arrays (at most a quarter of the limit, see
#: :func:`~crm_research.kpi.distinct.memory_budget`), the Python objects of the KPI tables and the
#: interpreter with its libraries (about 0.4 GiB).
ENGINE_SHARE = 0.5


def _configure(con, memory_limit, temp_directory, threads) -> None:
    import duckdb

    if memory_limit:
        total = byte_size(memory_limit)
        if total is None or total <= 0:
            raise ConfigError("<argument>", "memory_limit", f"{memory_limit!r} is not a memory size",
                              hint="give a size such as '3GB' or '512MB'")
        # DuckDB runs under its share; the budget of the arrays is read from the whole limit
        con.execute(f"SET memory_limit = '{max(int(total * ENGINE_SHARE), 1)}B'")
        con.execute(f"SET VARIABLE crm_research_memory_limit = {int(total)}")
    if temp_directory:
        Path(temp_directory).mkdir(parents=True, exist_ok=True)
        con.execute(f"SET temp_directory = '{Path(temp_directory).as_posix()}'")
    if threads:
        con.execute(f"SET threads = {int(threads)}")
    # keep row order for validation row numbers; nothing else depends on it
    con.execute("SET preserve_insertion_order = true")
    try:
        con.execute("SET enable_progress_bar = false")
    except duckdb.InvalidInputException:
        # DuckDB 2 refuses this setting inside a Jupyter kernel without ipywidgets (it
        # checks for its notebook progress widget); the bar is off there anyway.
        pass


@contextlib.contextmanager
def quiet_ibis():
    """Silence deprecation noise from ibis 12 running on DuckDB 2 / pandas 3.

    The warnings concern ibis' (and pyspark's) own calls into DuckDB and pandas, not the
    user's code; every KPI query runs inside this context.

    Returns
    -------
    contextlib.AbstractContextManager
        A context manager; warnings outside it are untouched.

    Examples
    --------
    >>> import warnings
    >>> with quiet_ibis():
    ...     warnings.warn("future.infer_string is set")   # silenced
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     with quiet_ibis():
    ...         warnings.warn("something else")
    >>> len(caught)
    1
    """
    import warnings

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*fetch_arrow_table.*", category=DeprecationWarning)
        warnings.filterwarnings("ignore", message=".*future.infer_string.*")
        # pyspark 4.0 on pandas 3: in-memory tables fall back from Arrow to rows (same data)
        warnings.filterwarnings("ignore", message=".*createDataFrame attempted Arrow optimization.*")
        warnings.filterwarnings("ignore", message=".*copy keyword is deprecated.*")
        yield


def _checkpoint(con) -> None:
    """Compress freshly written tables (in-memory COMPRESS database or file)."""
    try:
        con.execute("CHECKPOINT")
    except Exception:  # read-only or nothing to do
        pass


def _is_duckdb(con) -> bool:
    return con is not None and type(con).__module__.split(".")[0] in ("duckdb", "_duckdb")


def date_literal(d: dt.date):
    """An ibis date literal for a Python date (portable across backends).

    Parameters
    ----------
    d : datetime.date
        The date.

    Returns
    -------
    ibis.expr.types.DateScalar
        ``DATE 'YYYY-MM-DD'`` in the backend's SQL dialect.

    Examples
    --------
    >>> import datetime as dt
    >>> import ibis
    >>> "MAKE_DATE(2024, 3, 1)" in ibis.to_sql(date_literal(dt.date(2024, 3, 1)).name("d"), dialect="duckdb")
    True
    """
    import ibis

    return ibis.date(d.year, d.month, d.day)


def timestamp_literal(d: dt.date):
    """An ibis timestamp literal for midnight at the start of a date (portable across backends).

    A literal, not ``MAKE_TIMESTAMP(y, m, d, ...)``: Spark SQL has no such constructor in ibis.
    Comparing a timestamp column with it (``ts < timestamp_literal(d + 1 day)``) keeps the column
    bare, so the engine can push the filter into the scan.

    Parameters
    ----------
    d : datetime.date

    Returns
    -------
    ibis.expr.types.TimestampScalar

    Examples
    --------
    >>> import datetime as dt
    >>> import ibis
    >>> ibis.duckdb.connect().execute(timestamp_literal(dt.date(2024, 3, 1)))
    Timestamp('2024-03-01 00:00:00')
    """
    import ibis

    return ibis.timestamp(dt.datetime(d.year, d.month, d.day))


def period_index(d, period: str):
    """Integer index of the calendar period containing date expression ``d``.

    month: ``year * 12 + month - 1``; week (ISO, Monday first): whole weeks since Monday
    1970-01-05.

    Parameters
    ----------
    d : ibis date expression
        The dates.
    period : {"month", "week"}

    Returns
    -------
    ibis integer expression

    Examples
    --------
    >>> import ibis
    >>> ibis.duckdb.connect().execute(period_index(ibis.date(2024, 3, 15), 'month'))
    24290
    >>> 2024 * 12 + 2
    24290
    """
    import ibis

    if period == "month":
        return (d.year() * 12 + d.month() - 1).cast("int64")
    return (d.delta(ibis.date(1970, 1, 5), unit="day") // 7).cast("int64")


def period_start_of_index(idx, period: str) -> pd.Series:
    """First day of each period index (vectorized, pandas).

    Parameters
    ----------
    idx : sequence of int
        Period indices (:func:`period_index`).
    period : {"month", "week"}

    Returns
    -------
    pandas.Series of datetime64

    Examples
    --------
    >>> period_start_of_index([24290, 24291], 'month').dt.strftime('%Y-%m-%d').tolist()
    ['2024-03-01', '2024-04-01']
    >>> period_start_of_index([0, 1], 'week').dt.strftime('%Y-%m-%d').tolist()
    ['1970-01-05', '1970-01-12']
    """
    idx = pd.Series(idx, dtype="int64")
    if period == "month":
        return pd.to_datetime(pd.DataFrame({"year": idx // 12, "month": idx % 12 + 1, "day": 1}))
    return pd.Timestamp("1970-01-05") + pd.to_timedelta(idx * 7, unit="D")


def index_of_date(d: dt.date, period: str) -> int:
    """

    Parameters
    ----------
    d : datetime.date
    period : {"month", "week"}

    Returns
    -------
    int
        The period index (see :func:`period_index`).

    Examples
    --------
    >>> import datetime as dt
    >>> index_of_date(dt.date(2024, 3, 15), 'month'), index_of_date(dt.date(1970, 1, 12), 'week')
    (24290, 1)
    """
    if period == "month":
        return d.year * 12 + d.month - 1
    return (d - dt.date(1970, 1, 5)).days // 7


def last_complete_index(as_of: dt.date, period: str) -> int:
    """Index of the last period that has fully ended on or before ``as_of``.

    Parameters
    ----------
    as_of : datetime.date
    period : {"month", "week"}

    Returns
    -------
    int

    Examples
    --------
    >>> import datetime as dt
    >>> last_complete_index(dt.date(2024, 3, 31), 'month') == index_of_date(dt.date(2024, 3, 1), 'month')
    True
    >>> last_complete_index(dt.date(2024, 3, 30), 'month') == index_of_date(dt.date(2024, 2, 1), 'month')
    True
    """
    i = index_of_date(as_of, period)
    nxt = as_of + dt.timedelta(days=1)
    return i if index_of_date(nxt, period) != i else i - 1


def add_period_columns(df: pd.DataFrame, as_of: dt.date, period: str) -> pd.DataFrame:
    """Add ``complete`` (the period had fully ended by ``as_of``) and ``period_start`` (its
    first day) to a per-period table with a period index column ``idx``; returns ``df``.

    Parameters
    ----------
    df : DataFrame
        With a column ``idx``.
    as_of : datetime.date
    period : {"month", "week"}

    Returns
    -------
    DataFrame
        ``df`` itself, with ``complete`` and ``period_start`` added.

    Examples
    --------
    >>> import datetime as dt, pandas as pd
    >>> add_period_columns(pd.DataFrame({'idx': [24290, 24291]}), dt.date(2024, 3, 15), 'month')
         idx  complete period_start
    0  24290     False   2024-03-01
    1  24291     False   2024-04-01
    """
    df["complete"] = df["idx"] <= last_complete_index(as_of, period)
    df["period_start"] = period_start_of_index(df["idx"], period).values
    return df


def period_end(idx: int, period: str) -> dt.date:
    """Last day of period ``idx``.

    Parameters
    ----------
    idx : int
        Period index.
    period : {"month", "week"}

    Returns
    -------
    datetime.date

    Examples
    --------
    >>> period_end(24289, 'month'), period_end(0, 'week')
    (datetime.date(2024, 2, 29), datetime.date(1970, 1, 11))
    """
    if period == "month":
        y, m = divmod(idx + 1, 12)
        return dt.date(y, m + 1, 1) - dt.timedelta(days=1)
    return dt.date(1970, 1, 5) + dt.timedelta(days=7 * idx + 6)

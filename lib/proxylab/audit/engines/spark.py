"""The generated Spark SQL run on Spark: local mode on this machine (pyspark from
PyPI and a JDK), or a cluster, chosen as Spark users choose it.

Where it runs: ``SPARK_REMOTE`` (Spark Connect, e.g. ``sc://host:15002``) if set; else
``--spark-master`` / ``PROXYLAB_SPARK_MASTER``; else whatever ``spark.master`` the
Spark installation's ``spark-defaults.conf`` / ``PYSPARK_SUBMIT_ARGS`` give; else
``local[*]``. Inputs that exist here are read as local files (each a source); other
locations (``hdfs://``, ``s3a://``, a glob on the cluster's file system) are handed to
Spark as they are.

One session per process (Spark's ``getOrCreate``): start-up (~10-20 s: a JVM) is paid
once, so a notebook or a test suite running several audits pays it once.
"""

from __future__ import annotations

import os
import shutil
from contextlib import contextmanager

from proxylab.audit.engines.base import EngineUnavailable, SqlEngine, import_or_explain

JDK_PACKAGE = "default-jdk-headless"  # Debian's JDK (OpenJDK 17 on Debian 12)
JDK_HINT = (f"install Debian's JDK: `proxylab setup jdk` or `make jdk` (= apt-get install "
            f"{JDK_PACKAGE}), or set JAVA_HOME")
APT_TIMEOUT = 900  # seconds: a slow mirror, ~100 MB of packages


def java_home() -> str | None:
    """A JDK's home, if one is installed (JAVA_HOME, else ``java`` on PATH)."""
    home = os.environ.get("JAVA_HOME")
    if home and os.path.exists(os.path.join(home, "bin", "java")):
        return home
    java = shutil.which("java")
    if java:
        return os.path.dirname(os.path.dirname(os.path.realpath(java)))
    return None


def install_jdk(log=print) -> str:
    """Debian's JDK via apt-get, unless a JDK is already there; its home.

    Services are not started (there are none in the package); a non-root user is told
    to run it as root. Raises :class:`EngineUnavailable` when apt-get fails."""
    import subprocess

    home = java_home()
    if home:
        log(f"a JDK is already installed: {home}")
        return home
    if os.geteuid() != 0:
        raise EngineUnavailable(f"installing {JDK_PACKAGE} needs root: sudo proxylab setup jdk")
    if shutil.which("apt-get") is None:
        raise EngineUnavailable(f"no apt-get here: install a JDK 17+ ({JDK_PACKAGE} on "
                                "Debian/Ubuntu) and set JAVA_HOME")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    cmd = ["apt-get", "install", "-y", "-qq", "--no-install-recommends", JDK_PACKAGE]
    log(" ".join(cmd))
    try:
        done = subprocess.run(cmd, env=env, capture_output=True, text=True,
                              timeout=APT_TIMEOUT)
        if done.returncode != 0:  # a stale package list: refresh it once, then retry
            subprocess.run(["apt-get", "update", "-qq"], env=env, capture_output=True,
                           timeout=APT_TIMEOUT, check=False)
            done = subprocess.run(cmd, env=env, capture_output=True, text=True,
                                  timeout=APT_TIMEOUT)
    except subprocess.TimeoutExpired:
        raise EngineUnavailable(f"apt-get did not install {JDK_PACKAGE} within "
                                f"{APT_TIMEOUT} s") from None
    home = java_home()
    if done.returncode != 0 or home is None:
        raise EngineUnavailable(f"apt-get could not install {JDK_PACKAGE}: "
                                f"{(done.stderr or done.stdout).strip()[-500:]}")
    log(f"installed {JDK_PACKAGE}: {home}")
    return home


def configured_master() -> str | None:
    """The spark.master Spark's own settings give (``PYSPARK_SUBMIT_ARGS``'s --master, or
    spark-defaults.conf under SPARK_CONF_DIR or SPARK_HOME/conf), if any."""
    args = os.environ.get("PYSPARK_SUBMIT_ARGS", "").split()
    if "--master" in args[:-1]:
        return args[args.index("--master") + 1]
    for conf_dir in (os.environ.get("SPARK_CONF_DIR"),
                     os.path.join(os.environ["SPARK_HOME"], "conf")
                     if os.environ.get("SPARK_HOME") else None):
        path = os.path.join(conf_dir, "spark-defaults.conf") if conf_dir else None
        if path and os.path.exists(path):
            with open(path, encoding="utf-8") as fh:
                for line in fh:
                    parts = line.split(None, 1)
                    if len(parts) == 2 and parts[0] == "spark.master":
                        return parts[1].strip()
    return None


def remote() -> str | None:
    return os.environ.get("SPARK_REMOTE") or None


class SparkEngine(SqlEngine):
    name = dialect = "spark"

    def __init__(self, master: str | None = None) -> None:
        self.master = (master or os.environ.get("PROXYLAB_SPARK_MASTER")
                       or configured_master() or None)

    def configure(self, spark_master: str | None = None, **_ignored) -> SparkEngine:
        return SparkEngine(spark_master) if spark_master else self

    @property
    def local_files(self) -> bool:  # type: ignore[override]
        return remote() is None and (self.master is None or self.master.startswith("local"))

    def require(self) -> None:
        import_or_explain("pyspark", self.name, "spark")
        if remote() is not None:
            try:
                import grpc  # noqa: F401 - Spark Connect's transport
            except ImportError:
                raise EngineUnavailable(
                    f"SPARK_REMOTE={remote()} selects Spark Connect, whose client needs "
                    "pip install 'pyspark[connect]'; unset SPARK_REMOTE for local mode or "
                    "--spark-master") from None
        elif java_home() is None:
            raise EngineUnavailable(f"audit engine 'spark' runs Spark in local mode here, "
                                    f"which needs a Java runtime: {JDK_HINT}")

    def spark(self):
        """The process's Spark session (made on first use)."""
        from pyspark.sql import SparkSession

        b = SparkSession.builder.appName("proxylab-audit")
        if remote():
            with _quiet():
                return b.remote(remote()).getOrCreate()
        b = b.master(self.master or "local[*]")
        if self.local_files:
            # One machine: no UI port, few shuffle partitions (the fine groups are small).
            b = (b.config("spark.ui.enabled", "false")
                 .config("spark.ui.showConsoleProgress", "false")
                 .config("spark.sql.shuffle.partitions", "4")
                 .config("spark.driver.bindAddress", "127.0.0.1")
                 .config("spark.driver.host", "127.0.0.1"))
        if java_home():
            os.environ.setdefault("JAVA_HOME", java_home())
        with _quiet():
            spark = b.getOrCreate()
        spark.sparkContext.setLogLevel("ERROR")
        return spark

    @contextmanager
    def session(self):
        spark = self.spark()
        try:
            yield _Spark(spark)
        finally:
            for stmt in ("UNCACHE TABLE IF EXISTS squid_fine", "DROP VIEW IF EXISTS squid_fine"):
                try:
                    spark.sql(stmt)
                except Exception:  # noqa: BLE001 - cleaning up after a failed run
                    pass


class _Spark:
    def __init__(self, spark) -> None:
        self.spark = spark

    def execute(self, sql: str) -> None:
        self.spark.sql(sql)

    def arrow(self, sql: str):
        with _quiet():
            return self.spark.sql(sql).toArrow()


@contextmanager
def _quiet():
    """Without pyspark's notice that it does not yet support pandas 3 (it does not use
    pandas here: results come back as Arrow)."""
    import warnings

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "PySpark does not yet fully support pandas",
                                FutureWarning)
        yield

"""Where the DuckLake warehouse lives, and how a DuckDB connection reaches it.

A lake is a catalog database (a SQLite file on one machine, PostgreSQL beyond it) plus a data
path (a local folder or an `s3://` prefix) of hive-partitioned Parquet files. `LakeSettings`
is a plain value: tasks on other machines rebuild their connections from it.
"""

from __future__ import annotations

import os
import re
import sqlite3
import threading
from collections import OrderedDict
from dataclasses import dataclass
from importlib import util
from pathlib import Path

import duckdb

from sco_etl.schemas.clock import moscow_today
from sco_etl.schemas.errors import ConfigError, WarehouseError
from sco_etl.warehouse.views import TODAY_VARIABLE

LAKE_ALIAS = "sco"
CATALOG_FILE = "catalog.sqlite"
DATA_DIR = "lake"
EXTENSIONS = ("ducklake", "sqlite_scanner", "postgres_scanner", "httpfs")
"""Loaded from the pinned `duckdb-extension-*` wheels; DuckDB checks their signatures."""
OPTIONAL_EXTENSIONS = ("fts",)
DUCKDB_VERSION = duckdb.__version__
WRITER_SETTINGS = ("threads = 1", "allocator_flush_threshold = '8MB'",
                   "allocator_background_threads = true")
MAX_INSTANCES = 6
"""DuckDB instances kept open per process (one per lake and mode; a test session sees many)."""
_installed_lock = threading.Lock()
_installed = False
_instances_lock = threading.Lock()
_instances: OrderedDict[tuple, duckdb.DuckDBPyConnection] = OrderedDict()


@dataclass(frozen=True)
class S3Settings:
    """An S3-compatible object store for the data files (keys from the environment).

    Attributes:
        endpoint: `host:port` of a non-AWS store (MinIO, moto), or empty for AWS itself.
        key_id: access key id.
        secret: secret access key.
        region: the bucket's region.
        use_ssl: https to the endpoint.
        url_style: `path` for most self-hosted stores, `vhost` for AWS.
    """

    endpoint: str = ""
    key_id: str = ""
    secret: str = ""
    region: str = "us-east-1"
    use_ssl: bool = True
    url_style: str = "path"

    def secret_sql(self) -> str:
        """The `CREATE SECRET` statement that lets DuckDB read and write the data path."""
        options = {"KEY_ID": self.key_id, "SECRET": self.secret, "REGION": self.region,
                   "URL_STYLE": self.url_style}
        if self.endpoint:
            options["ENDPOINT"] = self.endpoint
        fields = ", ".join(f"{name} {quote(value)}" for name, value in options.items())
        return (f"CREATE OR REPLACE SECRET sco_s3 (TYPE s3, {fields}, "
                f"USE_SSL {'true' if self.use_ssl else 'false'})")


@dataclass(frozen=True)
class LakeSettings:
    """Which catalog and which data path make up the warehouse.

    Attributes:
        catalog: `sqlite:/abs/path/catalog.sqlite` or `postgres:dbname=… host=…` (libpq).
        data_path: folder or `s3://bucket/prefix/` for the Parquet files, ending in `/`.
        s3: credentials for an `s3://` data path.
        movable: the data path is the data directory's own `lake/` folder: every attach names
            it, so a data directory that was moved or copied reads its own files.
    """

    catalog: str
    data_path: str
    s3: S3Settings | None = None
    movable: bool = False

    @classmethod
    def local(cls, root: Path | str) -> LakeSettings:
        """The default: a SQLite catalog file and a `lake/` folder in the data directory."""
        root = Path(root).expanduser().resolve()
        return cls(f"sqlite:{root / CATALOG_FILE}", f"{root / DATA_DIR}/", movable=True)

    @property
    def kind(self) -> str:
        return self.catalog.partition(":")[0]

    @property
    def sqlite_file(self) -> Path | None:
        return Path(self.catalog.partition(":")[2]) if self.kind == "sqlite" else None

    def attach_sql(self, read_only: bool = False, snapshot_time: str | None = None) -> str:
        """The ATTACH statement of this lake as `sco`."""
        options = ["READ_ONLY"] if read_only else []
        if self.movable or not read_only:
            options.append(f"DATA_PATH {quote(self.data_path)}")
        if self.movable:
            # The catalog records the absolute path it was created with.
            options.append("OVERRIDE_DATA_PATH true")
        if snapshot_time is not None:
            options.append(f"SNAPSHOT_TIME {quote(snapshot_time)}")
        return f"ATTACH {quote('ducklake:' + self.catalog)} AS {LAKE_ALIAS} ({', '.join(options)})"

    def reader_statements(self) -> list[str]:
        """What a plain DuckDB client runs to read the warehouse, from any directory.

        The last one gives the views Moscow's date (sco-etl sets it from its own clock).
        """
        statements = [self.s3.secret_sql()] if self.s3 else []
        return [*statements, self.attach_sql(read_only=True), f"USE {LAKE_ALIAS}",
                f"SET VARIABLE {TODAY_VARIABLE} = "
                "CAST(timezone('Europe/Moscow', get_current_timestamp()) AS DATE)"]


@dataclass(frozen=True)
class ReaderVersions:
    """What reads the warehouse: DuckDB, its ducklake extension, the catalog's format."""

    duckdb: str
    ducklake: str
    catalog_format: str

    def comments(self) -> list[str]:
        """Lines for `sco-etl catalog` to print as SQL comments."""
        return [
            f"Read by DuckDB {self.duckdb} with its ducklake extension {self.ducklake} "
            f"(DuckLake catalog format {self.catalog_format}).",
            f"A client must use DuckDB {self.duckdb} (pip install duckdb=={self.duckdb}): "
            "a DuckDB 2.x client fails to load the pinned DuckLake extension.",
        ]


def reader_versions(settings: LakeSettings) -> ReaderVersions:
    """The versions of DuckDB, ducklake and the catalog format this lake is read with.

    Raises:
        WarehouseError: the catalog cannot be reached.
    """
    connection = connect(settings, read_only=True)
    try:
        (ducklake,) = connection.execute(
            "SELECT extension_version FROM duckdb_extensions() "
            "WHERE extension_name = 'ducklake'").fetchone()
        (catalog_format,) = connection.execute(
            f"SELECT value FROM __ducklake_metadata_{LAKE_ALIAS}.ducklake_metadata "
            "WHERE key = 'version'").fetchone()
    finally:
        connection.close()
    return ReaderVersions(DUCKDB_VERSION, ducklake, catalog_format)


def parse_catalog(spec: str) -> str:
    """Check a `SCO_ETL_CATALOG` value: `sqlite:PATH` or `postgres:CONNINFO`."""
    kind, _, rest = spec.partition(":")
    if kind not in ("sqlite", "postgres") or not rest.strip():
        raise ConfigError(
            f"SCO_ETL_CATALOG must be sqlite:/path/catalog.sqlite or postgres:dbname=… host=…, "
            f"not {spec!r}")
    if kind == "sqlite":
        return f"sqlite:{Path(rest).expanduser().resolve()}"
    return spec


def install_extensions() -> None:
    """Copy the extension binaries of the pinned wheels into DuckDB's extension directory.

    Once per process: after it any plain `duckdb.connect()` autoloads them on `ATTACH
    'ducklake:…'`. DuckDB verifies each binary's signature; unsigned ones are never allowed.
    """
    global _installed
    with _installed_lock:
        if _installed:
            return
        connection = duckdb.connect()
        try:
            present = {name for (name,) in connection.execute(
                "SELECT extension_name FROM duckdb_extensions() WHERE installed").fetchall()}
            for name in (*EXTENSIONS, *OPTIONAL_EXTENSIONS):
                if name not in present:
                    path = extension_binary(name, required=name in EXTENSIONS)
                    if path is not None:
                        connection.execute(f"INSTALL {quote(str(path))}")
        finally:
            connection.close()
        _installed = True


def extension_binary(name: str, required: bool = True) -> Path | None:
    """The `.duckdb_extension` file shipped in the `duckdb-extension-<name>` wheel."""
    spec = util.find_spec(f"duckdb_extension_{name}")
    if spec is not None and spec.submodule_search_locations:
        package = Path(next(iter(spec.submodule_search_locations)))
        path = package / "extensions" / f"v{DUCKDB_VERSION}" / f"{name}.duckdb_extension"
        if path.exists():
            return path
    if not required:
        return None
    raise WarehouseError(
        f"the DuckDB extension {name} for DuckDB {DUCKDB_VERSION} is not installed: "
        "run `pip install -r requirements.lock` "
        f"(it pins duckdb-extension-{name.replace('_', '-')})")


def connect(settings: LakeSettings, read_only: bool = False, snapshot_time: str | None = None,
            locked: bool = False) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with the lake attached as `sco` and in use.

    Connections are cursors of one DuckDB instance per process and mode, which keeps its
    extensions loaded and its lake attached: loading `ducklake` and a catalog extension costs
    ~0.35 s, attaching ~10 ms. Plain reads use the writer's instance once the process has
    one. A snapshot of a past moment gets an instance of its own.
    `locked`: the instance may read only the catalog and the data path, and cannot change
    its settings (the query surface).

    Raises:
        WarehouseError: the catalog cannot be reached or is not a DuckLake catalog.
    """
    if snapshot_time is not None:
        return _session(_instance(settings, True, snapshot_time, locked))
    key = (os.getpid(), settings, read_only, locked)
    with _instances_lock:
        writer_key = (os.getpid(), settings, False, False)
        if read_only and not locked and writer_key in _instances:
            # A process that writes reads through its writer's instance: starting a second
            # one would load the extensions again (~0.35 s).
            key = writer_key
        root = _instances.pop(key, None)
        if root is None:
            root = _instance(settings, read_only, None, locked)
        _instances[key] = root  # most recently used last
        while len(_instances) > MAX_INSTANCES:
            # Closing the root leaves the instance to cursors still in use.
            _instances.popitem(last=False)[1].close()
        cursor = root.cursor()
    return _session(cursor)


def _session(connection: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    """The lake in use, and Moscow's date in `sco_today` for the views that carry the latest
    rates forward: from sco-etl's one clock, never DuckDB's `current_date`."""
    connection.execute(f"USE {LAKE_ALIAS}")
    # A literal, not a parameter: DuckDB imports pandas (~0.2 s) to bind the first parameter
    # of a process, which a command that checks its input against the warehouse need not pay.
    connection.execute(f"SET VARIABLE {TODAY_VARIABLE} = DATE '{moscow_today().isoformat()}'")
    return connection


def _instance(settings: LakeSettings, read_only: bool, snapshot_time: str | None,
              locked: bool) -> duckdb.DuckDBPyConnection:
    install_extensions()
    if not read_only and settings.sqlite_file is not None:
        prepare_sqlite_catalog(settings.sqlite_file)
    connection = duckdb.connect()
    try:
        # Timestamps cast to dates or printed in UTC, whatever the host's zone.
        connection.execute("SET GLOBAL TimeZone = 'UTC'")
        if settings.s3 is not None:
            connection.execute(settings.s3.secret_sql())
        connection.execute(settings.attach_sql(read_only, snapshot_time))
        connection.execute(f"USE {LAKE_ALIAS}")
        if not read_only:
            # A writer's batches are small: one thread, and the allocator hands memory back
            # as each step ends, not at exit (a full backfill peaks ~100 MB lower).
            for setting in WRITER_SETTINGS:
                connection.execute(f"SET {setting}")
    except duckdb.Error as error:
        connection.close()
        raise WarehouseError(
            f"cannot open the warehouse catalog {redacted(settings.catalog)}: {error}. "
            "Check SCO_ETL_CATALOG (and SCO_ETL_DATA_PATH); for PostgreSQL, that the server "
            "runs and the database exists.") from error
    if locked:
        _lock_down(connection, settings)
    return connection


def _lock_down(connection: duckdb.DuckDBPyConnection, settings: LakeSettings) -> None:
    """Let the instance open only the lake's own files, and never change that."""
    try:
        connection.execute(f"SET allowed_directories = [{quote(settings.data_path)}]")
        if settings.sqlite_file is not None:
            files = ", ".join(quote(f"{settings.sqlite_file}{suffix}")
                              for suffix in ("", "-wal", "-shm"))
            connection.execute(f"SET allowed_paths = [{files}]")
        connection.execute("SET enable_external_access = false")
        connection.execute("SET autoinstall_known_extensions = false")
        connection.execute("SET autoload_known_extensions = false")
        connection.execute("SET lock_configuration = true")
    except BaseException:
        connection.close()
        raise


def prepare_sqlite_catalog(path: Path) -> None:
    """Create the SQLite catalog file in WAL mode before DuckLake first opens it.

    WAL lets readers keep reading while a writer commits: in SQLite's default journal mode a
    commit waits for every open reader, and a long query would fail the ingestion.
    """
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    database = sqlite3.connect(path)
    try:
        database.execute("PRAGMA journal_mode=WAL")
    finally:
        database.close()


def catalog_exists(settings: LakeSettings) -> bool:
    """Whether the lake has been created (always assumed for a PostgreSQL catalog)."""
    return settings.sqlite_file is None or settings.sqlite_file.exists()


def quote(text: str) -> str:
    """A SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def redacted(catalog: str) -> str:
    """The catalog spec without a password."""
    return re.sub(r"(password=)\S+", r"\1***", catalog)

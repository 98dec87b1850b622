"""The warehouse as answers: the read-only queries behind the web app, the CLI and notebooks.

A `Snapshot` is one committed state of the warehouse (a DuckLake snapshot), attached
read-only at its version: every query of it answers from that state, so an answer never mixes
the values of two runs, whatever commits meanwhile. A `Reader` opens snapshots of one
warehouse, attaching each once and sharing it between threads; each query gets a cursor of
its own. Queries return DuckDB relations: `.df()` for pandas, `.arrow()` / `.to_arrow_table()`
for Arrow, `.fetchall()` for tuples.

    >>> from sco_etl.warehouse import api
    >>> sco = api.open()                       # the latest snapshot, settings from the env
    >>> sco.board("2025-04-01").df()
    >>> sco.rates(["CNY", "KZT"], "2020-01-01", "2024-12-31", group="month").df()

Money stays exact: values are DECIMAL as published; averages and cross rates are computed in
integer arithmetic and rounded half up at 12 decimal places (the scale of `unit_rate`), never
through a float.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import sqlite3
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from sco_etl.schemas.clock import moscow_today, utc_now
from sco_etl.schemas.errors import InputError, NoDataError, WarehouseError
from sco_etl.warehouse.ddl import BASE_TABLES
from sco_etl.warehouse.lake import LAKE_ALIAS, install_extensions, quote
from sco_etl.warehouse.reports import BOARD
from sco_etl.warehouse.store import Warehouse
from sco_etl.warehouse.views import TODAY_VARIABLE

GROUPS = ("week", "month")
UNIT_SCALE = 10**12
"""`unit_rate` has 12 decimal places: averages and cross rates are rounded there."""
ATTACHED_SNAPSHOTS = 8
"""Snapshots kept attached at once; older ones are detached once unused for a while."""
POLL_SECONDS = 0.5
"""How stale the newest snapshot id of a PostgreSQL catalog may be: a commit shows in answers
within half a second."""
FRESH_SECONDS = 0.05
"""A catalog changed this recently is read again whatever its stamp: a file's modification
time moves in clock ticks, and two commits in one tick could leave the same stamp."""
DETACH_AFTER_SECONDS = 600
"""An older snapshot stays attached this long after its last use: a slow client may still be
streaming an answer from it."""

# One ISO code can sit under two CBR IDs on a day: keep the one published last, as the views.
RATES = """
SELECT rate_date AS date, char_code AS code, cbr_id, nominal, value, unit_rate
FROM rates
WHERE list_contains($codes::VARCHAR[], char_code)
  AND rate_date BETWEEN $start::DATE AND $end::DATE
QUALIFY row_number() OVER (PARTITION BY rate_date, char_code ORDER BY cbr_id DESC) = 1
ORDER BY rate_date, char_code
"""

# The mean of exact decimals, exactly: unit rates as integers of 1e-12 rubles, summed, divided
# with rounding half up (all positive), and scaled back — no float on the way.
GROUPED_RATES = f"""
WITH picked AS ({RATES}),
sums AS (
    SELECT CAST(date_trunc($group, date) AS DATE) AS period, code,
           min(date) AS first_date, max(date) AS last_date, count(*) AS publications,
           sum(CAST(unit_rate * {UNIT_SCALE} AS HUGEINT)) AS units
    FROM picked GROUP BY ALL
)
SELECT period, code, first_date, last_date, publications,
       CAST((2 * units + publications) // (2 * publications) AS DECIMAL(38, 0))
           * CAST(1e-12 AS DECIMAL(13, 12)) AS unit_rate
FROM sums ORDER BY period, code
"""

# Units of `quote` per one unit of `base` on every date either is published, each at its
# latest rate on or before that date (as-of), through the ruble (RUB: 1 ruble; before 1998
# the rates are in old rubles, RUR, for every currency alike).
CROSS = f"""
WITH unit AS (
    SELECT rate_date, char_code, CAST(unit_rate * {UNIT_SCALE} AS HUGEINT) AS units
    FROM rates WHERE char_code IN ($base, $quote)
    QUALIFY row_number() OVER (PARTITION BY rate_date, char_code ORDER BY cbr_id DESC) = 1
),
b AS (SELECT rate_date, units FROM unit WHERE char_code = $base),
q AS (SELECT rate_date, units FROM unit WHERE char_code = $quote),
days AS (
    SELECT DISTINCT rate_date FROM unit
    WHERE rate_date BETWEEN $start::DATE AND $end::DATE
),
pairs AS (
    SELECT d.rate_date AS date,
           CASE WHEN $base = 'RUB' THEN {UNIT_SCALE}::HUGEINT ELSE b.units END AS base_units,
           CASE WHEN $quote = 'RUB' THEN {UNIT_SCALE}::HUGEINT ELSE q.units END AS quote_units,
           b.rate_date AS base_date, q.rate_date AS quote_date
    FROM days d
    ASOF LEFT JOIN b ON d.rate_date >= b.rate_date
    ASOF LEFT JOIN q ON d.rate_date >= q.rate_date
)
SELECT date, $base AS base, $quote AS quote,
       CAST((2 * base_units * {UNIT_SCALE} + quote_units) // (2 * quote_units) AS DECIMAL(38, 0))
           * CAST(1e-12 AS DECIMAL(13, 12)) AS rate,
       CASE WHEN $base = 'RUB' THEN NULL ELSE base_date END AS base_date,
       CASE WHEN $quote = 'RUB' THEN NULL ELSE quote_date END AS quote_date
FROM pairs
WHERE base_units IS NOT NULL AND quote_units IS NOT NULL
ORDER BY date
"""

CURRENCIES = """
WITH spans AS (SELECT cbr_id, min(rate_date) AS first_date, max(rate_date) AS last_date,
                      count(*) AS publications FROM rates GROUP BY cbr_id)
SELECT c.char_code AS code, c.cbr_id, c.name_en, c.name_ru, c.nominal, c.frequency,
       list(DISTINCT s.country ORDER BY s.country) AS countries,
       p.first_date, p.last_date, coalesce(p.publications, 0) AS publications
FROM currencies c JOIN sco_currencies s USING (cbr_id) LEFT JOIN spans p USING (cbr_id)
GROUP BY ALL
ORDER BY c.char_code, c.cbr_id
"""

COUNTRIES = """
SELECT country, country_code, status, valid_from, valid_to, char_code, capital, timezone
FROM sco_countries
WHERE $day::DATE BETWEEN valid_from AND coalesce(valid_to, DATE '9999-12-31')
ORDER BY list_position(['member', 'observer', 'dialogue_partner', 'partner'], status), country
"""

COUNTRY_HISTORY = """
SELECT country, country_code, status, valid_from, valid_to, char_code, capital, timezone
FROM sco_countries WHERE country_code = $code ORDER BY valid_from
"""

NEWS = """
SELECT n.item_id, n.published_at,
       strftime(timezone('Europe/Moscow', n.published_at), '%d.%m.%Y %H:%M') AS published_msk,
       n.title, n.link, n.source, n.language, n.summary, n.author,
       (SELECT list(DISTINCT m.country ORDER BY m.country) FROM news_mentions m
        WHERE m.item_id = n.item_id) AS countries
FROM news n
WHERE n.duplicate_of IS NULL
  AND ($ids::VARCHAR[] IS NULL OR list_contains($ids::VARCHAR[], n.item_id))
  AND ($source::VARCHAR IS NULL OR n.source = $source)
  AND n.published_at >= coalesce($since::TIMESTAMPTZ, '-infinity'::TIMESTAMPTZ)
  AND n.published_at < coalesce($until::TIMESTAMPTZ, 'infinity'::TIMESTAMPTZ)
  AND ($country::VARCHAR IS NULL OR EXISTS (
        SELECT 1 FROM news_mentions m JOIN (SELECT DISTINCT country, country_code
                                            FROM sco_countries) k USING (country)
        WHERE m.item_id = n.item_id AND k.country_code = $country))
ORDER BY {order}
LIMIT $limit
"""

ARTICLE = """
SELECT n.item_id, n.published_at,
       strftime(timezone('Europe/Moscow', n.published_at), '%d.%m.%Y %H:%M') AS published_msk,
       n.title, n.link, n.url, n.source, n.language, n.author, n.summary, n.body,
       n.duplicate_of,
       (SELECT list(DISTINCT m.country ORDER BY m.country) FROM news_mentions m
        WHERE m.item_id = n.item_id) AS countries
FROM news n WHERE n.item_id = $item_id
"""

CHANGES = """
WITH c AS (SELECT * FROM ducklake_table_changes($alias, 'main', $table, $first, $last)
           WHERE snapshot_id >= $after),
added AS (SELECT DISTINCT {key} FROM c WHERE change_type IN ('insert', 'update_postimage')),
removed AS (SELECT DISTINCT {key} FROM c WHERE change_type IN ('delete', 'update_preimage'))
SELECT $table AS "table",
       (SELECT count(*) FROM added ANTI JOIN removed USING ({key})) AS inserted,
       (SELECT count(*) FROM added SEMI JOIN removed USING ({key})) AS updated,
       (SELECT count(*) FROM removed ANTI JOIN added USING ({key})) AS deleted
"""

SNAPSHOTS = """
SELECT snapshot_id, snapshot_time, commit_message, changes
FROM {alias}.snapshots()
WHERE snapshot_time > coalesce($since::TIMESTAMPTZ, '-infinity'::TIMESTAMPTZ)
  AND snapshot_id <= $upto
ORDER BY snapshot_id
"""


@dataclass(frozen=True)
class Snapshot:
    """One committed state of the warehouse (DuckLake snapshot `id`, committed at `time`,
    UTC); every query answers from it."""

    id: int
    time: dt.datetime
    reader: Reader = field(repr=False, compare=False)
    alias: str = field(repr=False, compare=False)

    def connection(self) -> duckdb.DuckDBPyConnection:
        """A cursor of its own on this snapshot, with Moscow's date in `sco_today`."""
        cursor = self.reader.database.cursor()
        cursor.execute(f"USE {self.alias}")
        cursor.execute(f"SET VARIABLE {TODAY_VARIABLE} = ?", [moscow_today()])
        return cursor

    def sql(self, query: str, **parameters: object) -> duckdb.DuckDBPyRelation:
        try:
            return self.connection().sql(query, params=parameters or None)
        except duckdb.Error as error:
            raise WarehouseError(f"the warehouse query failed: {error}") from error

    def board(self, day: dt.date | str | None = None) -> duckdb.DuckDBPyRelation:
        """The SCO currencies/ruble box as of `day` (default: today, Moscow): the rows of
        `sco-etl board`, with each row's publication date."""
        return self.sql(BOARD, day=_day(day) or moscow_today())

    def rates(self, codes: Sequence[str] | str | None = None,
              start: dt.date | str | None = None, end: dt.date | str | None = None,
              group: str | None = None) -> duckdb.DuckDBPyRelation:
        """Published rates of `codes` (default: every SCO currency) from `start` to `end`
        (default: the whole history), one row per effective date and code; with `group`
        (`week` or `month`), the mean unit rate of each period instead."""
        if group is not None and group not in GROUPS:
            raise InputError(f"group must be week or month, not {group!r}")
        parameters = {"codes": self._codes(codes), "start": _day(start) or dt.date.min,
                      "end": _day(end) or dt.date.max}
        if group is None:
            return self.sql(RATES, **parameters)
        return self.sql(GROUPED_RATES, group=group, **parameters)

    def cross_rate(self, base: str, quote: str, start: dt.date | str | None = None,
                   end: dt.date | str | None = None) -> duckdb.DuckDBPyRelation:
        """Units of `quote` per one unit of `base` on each date either was published, through
        the ruble; `RUB` is the ruble itself."""
        return self.sql(CROSS, base=base.upper(), quote=quote.upper(),
                        start=_day(start) or dt.date.min, end=_day(end) or dt.date.max)

    def currencies(self) -> duckdb.DuckDBPyRelation:
        """Every CBR currency ID of an SCO country's currency, with its first and last rate."""
        return self.sql(CURRENCIES)

    def countries(self, day: dt.date | str | None = None) -> duckdb.DuckDBPyRelation:
        """SCO countries and their status on `day` (default: today, Moscow)."""
        return self.sql(COUNTRIES, day=_day(day) or moscow_today())

    def country(self, code: str) -> duckdb.DuckDBPyRelation:
        """The SCO status history of one country, by ISO 3166 alpha-2 code."""
        return self.sql(COUNTRY_HISTORY, code=code.upper())

    def news(self, q: str | None = None, country: str | None = None,
             source: str | None = None, since: dt.datetime | None = None,
             until: dt.datetime | None = None, limit: int = 20) -> duckdb.DuckDBPyRelation:
        """Headlines, newest first; with `q`, the full-text search hits, best first;
        with `country` (ISO 3166 alpha-2), the stories that name that country."""
        ids, order = None, "n.published_at DESC, n.item_id"
        if q is not None:
            ids = self.reader.search(q, limit=max(limit, 1) * 5)
            order = "list_position($ids::VARCHAR[], n.item_id)"
        return self.sql(NEWS.format(order=order), ids=ids, source=source, since=since,
                        until=until, country=country.upper() if country else None,
                        limit=limit)

    def article(self, item_id: str) -> dict | None:
        """One news item with its text and the countries it names; None when unknown."""
        rows = self.sql(ARTICLE, item_id=item_id).to_arrow_table().to_pylist()
        return rows[0] if rows else None

    def snapshots(self, since: dt.datetime | None = None) -> duckdb.DuckDBPyRelation:
        """The snapshots committed after `since`, up to this one."""
        return self.sql(SNAPSHOTS.format(alias=self.alias), since=since, upto=self.id)

    def changes(self, since: dt.datetime) -> duckdb.DuckDBPyRelation:
        """Per table, the keys inserted, updated and deleted by the snapshots committed after
        `since`, up to this one (an upsert's delete and insert of one key is an update)."""
        parts = [CHANGES.format(key=", ".join(f'"{k}"' for k in table.key))
                 .replace("$table", quote(table.name))
                 for table in BASE_TABLES]
        query = " UNION ALL ".join(f"({part})" for part in parts)
        return self.sql(f"SELECT * FROM ({query}) WHERE inserted + updated + deleted > 0",
                        **self._range_after(since))

    def table_changes(self, table: str, since: dt.datetime) -> duckdb.DuckDBPyRelation:
        """The changed rows of one table since `since`, with DuckLake's snapshot and change type."""
        return self.sql("SELECT * FROM ducklake_table_changes($alias, 'main', $table, $first, "
                        "$last) WHERE snapshot_id >= $after ORDER BY snapshot_id, rowid",
                        table=table, **self._range_after(since))

    def _range_after(self, since: dt.datetime) -> dict:
        """The change feed's parameters for the snapshots after `since` up to this one: a
        range DuckLake accepts, and `after`, the first of them (none: past this one)."""
        (after,) = self.connection().execute(
            f"SELECT min(snapshot_id) FROM {self.alias}.snapshots() WHERE snapshot_time > ?",
            [since]).fetchone()
        after = self.id + 1 if after is None else after
        return {"alias": self.alias, "first": min(after, self.id), "last": self.id,
                "after": after}

    def _codes(self, codes: Sequence[str] | str | None) -> list[str]:
        if isinstance(codes, str):
            codes = codes.split(",")
        wanted = [code.strip().upper() for code in codes or () if code.strip()]
        if wanted:
            return wanted
        return [code for (code,) in self.sql(
            "SELECT DISTINCT char_code FROM sco_currencies ORDER BY 1").fetchall()]


class Reader:
    """Snapshots of one warehouse, each attached once, read-only, and shared by threads."""

    def __init__(self, warehouse: Warehouse) -> None:
        warehouse.require()
        self.warehouse = warehouse
        self.lake = warehouse.lake
        self._lock = threading.Lock()
        self._attaching = threading.Lock()
        """One ATTACH at a time: DuckLake's failed second ATTACH of an alias removes the
        metadata catalog the first one uses (every query of that snapshot then fails)."""
        self._snapshots: OrderedDict[int, Snapshot] = OrderedDict()
        self._used: dict[int, float] = {}
        self._codes: dict[int, set[str]] = {}
        install_extensions()
        self.database = duckdb.connect()
        self.database.execute("SET GLOBAL TimeZone = 'UTC'")
        if self.lake.s3 is not None:
            self.database.execute(self.lake.s3.secret_sql())
        self.database.execute(self._attach_sql("sco_latest", None))
        self._catalog_file = self.lake.sqlite_file
        self._catalog_stamp: tuple[float, ...] = ()
        self._latest = -1
        self._polled_at = float("-inf")

    def latest_id(self) -> int:
        if self._catalog_file is not None:
            return self._latest_in_sqlite(self._catalog_file)
        with self._lock:
            if time.monotonic() - self._polled_at > POLL_SECONDS:
                # A query through DuckDB reads the catalog (~10 ms on PostgreSQL): asked at
                # most twice a second, so a hot answer still costs a lookup.
                cursor = self.database.cursor()
                (self._latest,) = cursor.execute(
                    "SELECT max(snapshot_id) FROM sco_latest.snapshots()").fetchone()
                self._polled_at = time.monotonic()
            return self._latest

    def _latest_in_sqlite(self, catalog: Path) -> int:
        """The catalog's own table (part of the DuckLake format), read again only when the
        catalog file changed: a stat costs microseconds, a read ~0.7 ms, a query through
        DuckDB ~10 ms. A connection kept open would not do: it does not see the commits
        DuckDB's own SQLite library makes, so each read opens a new one."""
        stamp = _stamp(catalog)
        with self._lock:
            if stamp == self._catalog_stamp and time.time() - stamp[0] > FRESH_SECONDS:
                return self._latest
            connection = sqlite3.connect(f"file:{catalog}?mode=ro", uri=True)
            try:
                ((latest,),) = connection.execute(
                    "SELECT max(snapshot_id) FROM ducklake_snapshot").fetchall()
            finally:
                connection.close()
            self._catalog_stamp, self._latest = stamp, latest
            return latest

    def id_at(self, moment: dt.datetime) -> int:
        """The id of the snapshot current at `moment` (InputError outside the history)."""
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=dt.UTC)
        cursor = self.database.cursor()
        first, found = cursor.execute(
            "SELECT min(snapshot_time), max(snapshot_id) FILTER (WHERE snapshot_time <= ?) "
            "FROM sco_latest.snapshots()", [moment]).fetchone()
        now = utc_now()
        if found is None or moment > now:
            raise InputError(
                f"known_at {moment.isoformat()} is outside the warehouse's history: give a "
                f"moment from {first.astimezone(dt.UTC).isoformat(timespec='seconds')} "
                f"to now ({now.isoformat(timespec='seconds')})")
        return found

    def snapshot(self, snapshot_id: int | None = None) -> Snapshot:
        """The snapshot `snapshot_id` (default: the latest), attached if it is not yet."""
        wanted = self.latest_id() if snapshot_id is None else snapshot_id
        snapshot = self._kept(wanted)
        if snapshot is not None:
            return snapshot
        with self._attaching:
            snapshot = self._kept(wanted)  # attached by the thread that held the lock
            if snapshot is not None:
                return snapshot
            alias = f"sco_s{wanted}"
            cursor = self.database.cursor()
            try:
                cursor.execute(self._attach_sql(alias, wanted))
                (committed,) = cursor.execute(
                    f"SELECT snapshot_time FROM {alias}.snapshots() WHERE snapshot_id = ?",
                    [wanted]).fetchone()
            except duckdb.Error as error:
                raise WarehouseError(f"cannot open snapshot {wanted} of the warehouse: "
                                     f"{error}") from error
            snapshot = Snapshot(wanted, committed.astimezone(dt.UTC), self, alias)
            with self._lock:
                self._snapshots[wanted] = snapshot
                self._used[wanted] = time.monotonic()
                self._detach_idle()
            return snapshot

    def _kept(self, snapshot_id: int) -> Snapshot | None:
        """The snapshot if it is attached already, marked as just used."""
        with self._lock:
            snapshot = self._snapshots.get(snapshot_id)
            if snapshot is not None:
                self._snapshots.move_to_end(snapshot_id)
                self._used[snapshot_id] = time.monotonic()
            return snapshot

    def _detach_idle(self) -> None:
        surplus = len(self._snapshots) - ATTACHED_SNAPSHOTS
        for old_id in list(self._snapshots)[:max(surplus, 0)]:
            if time.monotonic() - self._used.get(old_id, 0) < DETACH_AFTER_SECONDS:
                continue
            old = self._snapshots.pop(old_id)
            self._used.pop(old_id, None)
            with contextlib.suppress(duckdb.Error):
                self.database.cursor().execute(f"DETACH {old.alias}")

    def codes(self, snapshot: Snapshot) -> set[str]:
        """The ISO codes the snapshot has rates for (kept per snapshot: a scan of `rates`)."""
        with self._lock:
            known = self._codes.get(snapshot.id)
        if known is None:
            known = {code for (code,) in snapshot.sql(
                "SELECT DISTINCT char_code FROM rates").fetchall()}
            with self._lock:
                self._codes[snapshot.id] = known
        return known

    def search(self, query: str, limit: int) -> list[str]:
        """Item ids of the news matching `query`, best first (the search index of the
        latest news; items missing from an older snapshot simply do not show)."""
        from sco_etl.warehouse.search import search

        try:
            hits = search(self.warehouse, query, limit=limit)
        except NoDataError:
            return []
        return hits["item_id"].to_pylist()

    def close(self) -> None:
        self.database.close()

    def _attach_sql(self, alias: str, version: int | None) -> str:
        sql = self.lake.attach_sql(read_only=True)
        options = f" AS {alias} (" + (f"SNAPSHOT_VERSION {version}, " if version is not None
                                      else "")
        return sql.replace(" AS sco (", options, 1)


class Readers:
    """A `Reader` opened on first use, tried again on each use until the warehouse exists: a
    server can start (and answer 503) before the first run has created it."""

    def __init__(self, warehouse: Warehouse) -> None:
        self.warehouse = warehouse
        self._reader: Reader | None = None
        self._lock = threading.Lock()

    @property
    def reader(self) -> Reader:
        with self._lock:
            if self._reader is None:
                self._reader = Reader(self.warehouse)
            return self._reader

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()


def _stamp(catalog: Path) -> tuple[float, ...]:
    """When the SQLite catalog (or its write-ahead log) last changed, then how: modification
    times, sizes and inodes of both files."""
    details: list[float] = []
    for path in (catalog, catalog.with_name(catalog.name + "-wal")):
        try:
            status = path.stat()
        except FileNotFoundError:
            continue
        details += [status.st_mtime, status.st_size, status.st_ino]
    return (max(details[0::3], default=0.0), *details)


def open(warehouse: Warehouse | None = None, known_at: dt.datetime | str | None = None,
         ) -> Snapshot:
    """The latest snapshot of the warehouse (or the one current at `known_at`), for
    notebooks; without `warehouse`, the one `sco-etl` commands use (SCO_ETL_* settings)."""
    if warehouse is None:
        # A notebook is an edge, like a command: it takes the same SCO_ETL_* settings.
        from sco_etl.flows.config import resolve_warehouse

        warehouse = resolve_warehouse()
    reader = Reader(warehouse)
    if known_at is None:
        return reader.snapshot()
    moment = dt.datetime.fromisoformat(known_at) if isinstance(known_at, str) else known_at
    return reader.snapshot(reader.id_at(moment))


def first_snapshot_time(warehouse: Warehouse) -> dt.datetime:
    """The earliest moment time travel answers (DuckLake's bare snapshot 0 holds no table)."""
    with warehouse.reader() as connection:
        return connection.execute(
            f"SELECT min(snapshot_time) FILTER (WHERE snapshot_id > 0) "
            f"FROM {LAKE_ALIAS}.snapshots()").fetchone()[0]


def _day(value: dt.date | str | None) -> dt.date | None:
    if value is None or isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise InputError(f"not a YYYY-MM-DD date: {value!r}") from None



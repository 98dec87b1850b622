"""The HTTP API under `/api/v1/`: the queries of `sco_etl.warehouse.api` as JSON, CSV, NDJSON.

Every route reads the one snapshot the cache middleware picked for its request
(`request.state.snapshot_id`), so an answer never mixes two runs and its ETag names it.
Conventions follow Frankfurter's v2 API (`from`/`to`, `group=week|month`, JSON arrays streamed
for long ranges, NDJSON and CSV), with what it lacks: exact decimals, effective dates, every
published version (`known_at`), SCO membership by date, the news.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response, StreamingResponse

from sco_etl.flows.web import encode, inputs
from sco_etl.flows.web.inputs import BadParameter
from sco_etl.schemas.clock import moscow_today
from sco_etl.schemas.errors import InputError
from sco_etl.warehouse.api import Reader, Snapshot

router = APIRouter(prefix="/api/v1")
MEDIA = {"json": "application/json", "csv": "text/csv; charset=utf-8",
         "ndjson": "application/x-ndjson"}

KnownAt = Annotated[str | None, Query(
    description="Answer as the warehouse stood at this moment (ISO time, e.g. "
                "2025-04-01T18:00+03:00): every published version is kept.")]
Format = Annotated[str | None, Query(
    alias="format", description="json (default), csv or ndjson")]
From = Annotated[str | None, Query(alias="from", description="First effective date, "
                                   "YYYY-MM-DD (default: 1992-07-01, the series' start)")]
To = Annotated[str | None, Query(description="Last effective date, YYYY-MM-DD (default: "
                                 "tomorrow, Moscow: CBR publishes tomorrow's rates today)")]


@router.get("/", summary="What this API offers")
def index() -> dict:
    return {"version": "v1", "openapi": "/api/v1/openapi.json", "docs": "/api/v1/docs",
            "endpoints": ["/api/v1/board", "/api/v1/rates", "/api/v1/cross",
                          "/api/v1/currencies", "/api/v1/countries", "/api/v1/news",
                          "/api/v1/news/{item_id}", "/api/v1/changes", "/api/v1/snapshots"]}


@router.get("/board", summary="The SCO currencies/ruble box of a day")
def board(request: Request,
          date: Annotated[str | None, Query(description="The day, YYYY-MM-DD (default: "
                                                        "today, Moscow)")] = None,
          known_at: KnownAt = None, format: Format = None) -> Response:
    """The rows of `sco-etl board` for a day: each SCO country's currency at the CBR rate in
    force that day (Saturday's on a Sunday or Monday; a monthly-set currency's own date), with
    the publication date shown and the snapshot it was read from."""
    day = inputs.rate_date(date, "date")
    kind = inputs.output_format(format)
    snapshot = _snapshot(request, known_at)
    table = snapshot.board(day).to_arrow_table()
    rows = table.to_pylist()
    if kind != "json":
        return _rows(kind, table.column_names, rows)
    dates = [row["rate_date"] for row in rows if row["rate_date"]]
    document = {
        "date": day or moscow_today(),
        "publication_date": max(dates) if dates else None,
        "snapshot": _snapshot_json(snapshot),
        "rows": rows,
    }
    return Response(encode.json_object(document).encode(), media_type=MEDIA["json"])


@router.get("/rates", summary="Published rates of a range of dates")
def rates(request: Request,
          codes: Annotated[str | None, Query(description="Comma-separated ISO 4217 codes, "
                                                         "e.g. CNY,KZT (default: every SCO "
                                                         "currency)")] = None,
          start: From = None, to: To = None,
          group: Annotated[str | None, Query(description="week or month: the mean unit rate "
                                                         "of each period")] = None,
          known_at: KnownAt = None, format: Format = None) -> Response:
    """One row per effective date and currency: nominal, value (rubles per nominal units, as
    published) and unit rate (rubles per unit, exact). The full history of every currency
    streams."""
    first, last = inputs.date_range(start, to)
    if group not in (None, "", "week", "month"):
        raise BadParameter("group", f"group={group!r} is not offered", "week or month")
    kind = inputs.output_format(format)
    snapshot = _snapshot(request, known_at)
    wanted = inputs.codes(codes, _codes(request, snapshot))
    relation = snapshot.rates(wanted, first, last, group=group or None)
    return _stream(kind, relation)


@router.get("/cross", summary="One currency in another, through the ruble")
def cross(request: Request,
          base: Annotated[str, Query(description="The currency priced, e.g. CNY")],
          quote: Annotated[str, Query(description="The currency it is priced in, e.g. INR "
                                                  "(RUB: the ruble)")],
          start: From = None, to: To = None, known_at: KnownAt = None,
          format: Format = None) -> Response:
    """Units of `quote` per one unit of `base` on each date either was published, each at its
    latest rate on or before that date; exact, rounded half up at 12 decimal places."""
    first, last = inputs.date_range(start, to)
    kind = inputs.output_format(format)
    snapshot = _snapshot(request, known_at)
    known = _codes(request, snapshot)
    relation = snapshot.cross_rate(inputs.code(base, "base", known),
                                   inputs.code(quote, "quote", known), first, last)
    return _stream(kind, relation)


@router.get("/currencies", summary="The currencies of the SCO countries")
def currencies(request: Request, known_at: KnownAt = None, format: Format = None) -> Response:
    """Every CBR currency ID of an SCO country's currency (predecessors included), with its
    names, nominal, frequency and first and last rate."""
    snapshot = _snapshot(request, known_at)
    return _table(inputs.output_format(format), snapshot.currencies())


@router.get("/countries", summary="SCO countries and their status on a day")
def countries(request: Request,
              date: Annotated[str | None, Query(description="The day, YYYY-MM-DD (default: "
                                                            "today, Moscow)")] = None,
              known_at: KnownAt = None, format: Format = None) -> Response:
    """Members, observers, dialogue partners and (after the Tianjin summit) partners on the
    day, with capital, time zone and currency."""
    day = inputs.moment(date, "date")
    snapshot = _snapshot(request, known_at)
    return _table(inputs.output_format(format),
                  snapshot.countries(day.date() if day else None))


@router.get("/news", summary="Headlines, or search hits")
def news(request: Request,
         q: Annotated[str | None, Query(description="Words to search for in titles, "
                                                    "summaries and article text")] = None,
         country: Annotated[str | None, Query(description="Stories naming this country, "
                                                          "ISO 3166 alpha-2, e.g. KZ")] = None,
         source: Annotated[str | None, Query(description="Only this feed or listing URL")] = None,
         since: Annotated[str | None, Query(description="Published at or after (ISO date: "
                                                        "Moscow midnight; or time)")] = None,
         until: Annotated[str | None, Query(description="Published before (ISO date or "
                                                        "time)")] = None,
         limit: Annotated[int | None, Query(description="At most this many (1-1000, "
                                                        "default 20)")] = None,
         known_at: KnownAt = None, format: Format = None) -> Response:
    """Newest first; with `q`, best first (BM25 over the item's language-stemmed text)."""
    if q is not None and not q.strip():
        raise BadParameter("q", "q is empty", "one or more words to search for")
    snapshot = _snapshot(request, known_at)
    relation = snapshot.news(q=q, country=inputs.country(country), source=source or None,
                             since=inputs.moment(since, "since"),
                             until=inputs.moment(until, "until"), limit=inputs.limit(limit))
    return _table(inputs.output_format(format), relation)


@router.get("/news/{item_id}", summary="One news item with its text")
def news_item(request: Request, item_id: str, known_at: KnownAt = None) -> Response:
    """The item's title, date, links (as published, and canonical), summary, article text
    and the SCO countries it names."""
    snapshot = _snapshot(request, known_at)
    item = snapshot.article(inputs.item_id(item_id))
    if item is None:
        return Response(encode.json_object({"error": {
            "status": 404, "message": f"no news item {item_id} in snapshot {snapshot.id}"}}
        ).encode(), status_code=404, media_type=MEDIA["json"])
    return Response(encode.json_object(item).encode(), media_type=MEDIA["json"])


@router.get("/changes", summary="What changed since a moment")
def changes(request: Request,
            since: Annotated[str, Query(description="ISO time: list what changed after it")],
            format: Format = None) -> Response:
    """Per table, the keys inserted, updated and deleted by the snapshots committed after
    `since` (DuckLake's change feed), up to the snapshot read."""
    moment = inputs.moment(since, "since")
    snapshot = _snapshot(request, None)
    return _table(inputs.output_format(format), snapshot.changes(moment))


@router.get("/snapshots", summary="The warehouse's snapshots")
def snapshots(request: Request,
              since: Annotated[str | None, Query(description="Only those committed after "
                                                             "this ISO time")] = None,
              format: Format = None) -> Response:
    """Snapshot id, commit time, commit message (the run) and what each changed."""
    snapshot = _snapshot(request, None)
    return _table(inputs.output_format(format), snapshot.snapshots(inputs.moment(since, "since")))


def _snapshot(request: Request, known_at: str | None) -> Snapshot:
    """The snapshot the request reads: the one the cache middleware picked, else its own."""
    reader: Reader = request.app.state.readers.reader
    picked = getattr(request.state, "snapshot_id", None)
    if picked is not None:
        return reader.snapshot(picked)
    moment = inputs.moment(known_at, "known_at")
    if moment is None:
        return reader.snapshot()
    try:
        return reader.snapshot(reader.id_at(moment))
    except InputError as error:
        raise BadParameter("known_at", str(error), "a moment from the warehouse's first "
                           "snapshot to now") from error


def _codes(request: Request, snapshot: Snapshot) -> set[str]:
    return request.app.state.readers.reader.codes(snapshot)


def _snapshot_json(snapshot: Snapshot) -> dict:
    return {"id": snapshot.id, "time": snapshot.time}


def _rows(kind: str, names: list[str], rows: list[dict]) -> Response:
    body = b"".join(_encoded(kind, names, iter(rows)))
    return Response(body, media_type=MEDIA[kind])


def _table(kind: str, relation) -> Response:
    table = relation.to_arrow_table()
    return _rows(kind, table.column_names, list(encode.rows(table)))


def _stream(kind: str, relation) -> Response:
    # Starlette iterates a plain generator in a worker thread: DuckDB reads as the client does.
    return StreamingResponse(encode.lines(relation, kind), media_type=MEDIA[kind])


def _encoded(kind: str, names: list[str], rows: Iterator[dict]) -> Iterator[bytes]:
    if kind == "csv":
        return encode.csv_lines(names, rows)
    if kind == "ndjson":
        return encode.ndjson(rows)
    return encode.json_array(rows)

"""What the warehouse holds per news source, for `sco-etl status`."""

from __future__ import annotations

import pyarrow as pa

from sco_etl.schemas.clock import MOSCOW
from sco_etl.schemas.news import FEED_STATE
from sco_etl.warehouse import Warehouse
from sco_etl.warehouse.reports import news_per_source

MOSCOW_MINUTE = "%d.%m.%Y %H:%M"


def news_sources(warehouse: Warehouse) -> pa.Table:
    """Per source: items, the newest headline (Moscow time), and how its last fetch went."""
    counts = {row["source"]: row for row in news_per_source(warehouse)}
    states = {row["source"]: row for row in warehouse.read(FEED_STATE).to_pylist()}
    rows = []
    for source in sorted(set(counts) | set(states)):
        count, state = counts.get(source, {}), states.get(source, {})
        latest = count.get("latest_published_at")
        since = state.get("status_since")
        rows.append({
            "source": source,
            "items": count.get("items", 0),
            "latest (MSK)": latest.astimezone(MOSCOW).strftime(MOSCOW_MINUTE) if latest else "",
            "last fetch": state.get("status", "never"),
            "since (MSK)": since.astimezone(MOSCOW).strftime(MOSCOW_MINUTE) if since else "",
            "message": state.get("message") or "",
        })
    return pa.Table.from_pylist(rows, schema=pa.schema([
        ("source", pa.string()), ("items", pa.int64()), ("latest (MSK)", pa.string()),
        ("last fetch", pa.string()), ("since (MSK)", pa.string()), ("message", pa.string()),
    ]))

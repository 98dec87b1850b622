"""What the warehouse holds per news source, for `sco-etl status`."""

from __future__ import annotations

import pyarrow as pa

from schemas.checks import MOSCOW
from schemas.news import FEED_STATE, NEWS
from warehouse import Warehouse

MOSCOW_MINUTE = "%d.%m.%Y %H:%M"


def news_sources(warehouse: Warehouse) -> pa.Table:
    """Per source: items, the newest headline (Moscow time), and how its last fetch went."""
    items = warehouse.read(NEWS, columns=["source", "published_at"])
    counts = {row["source"]: row for row in items.group_by("source").aggregate(
        [("published_at", "count"), ("published_at", "max")]).to_pylist()}
    states = {row["source"]: row for row in warehouse.read(FEED_STATE).to_pylist()}
    rows = []
    for source in sorted(set(counts) | set(states)):
        count, state = counts.get(source, {}), states.get(source, {})
        latest = count.get("published_at_max")
        since = state.get("status_since")
        rows.append({
            "source": source,
            "items": count.get("published_at_count", 0),
            "latest (MSK)": latest.astimezone(MOSCOW).strftime(MOSCOW_MINUTE) if latest else "",
            "last fetch": state.get("status", "never"),
            "since (MSK)": since.astimezone(MOSCOW).strftime(MOSCOW_MINUTE) if since else "",
            "message": state.get("message") or "",
        })
    return pa.Table.from_pylist(rows, schema=pa.schema([
        ("source", pa.string()), ("items", pa.int64()), ("latest (MSK)", pa.string()),
        ("last fetch", pa.string()), ("since (MSK)", pa.string()), ("message", pa.string()),
    ]))

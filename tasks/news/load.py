"""The write side of the news work: one transaction per run.

`write_news` upserts what `tasks.news.extract` read and joined; on any failure the warehouse
stays as it was, and `record_failure` says why in the loads ledger.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from sco_etl.schemas import COUNTRY_TERMS, LOADS, NEWS_MENTIONS, QUARANTINE
from sco_etl.schemas.news import FEED_STATE, NEWS, NEWS_ITEM_HASHES, NEWS_REVISIONS
from sco_etl.schemas.table import Validated
from sco_etl.tasks.ledger import LoadCounts, load_row, quarantine_rows
from sco_etl.tasks.news.fetch import merge_states
from sco_etl.tasks.news.mentions import compile_matchers, find_mentions, mention_changes
from sco_etl.tasks.news.rows import NewsBatch
from sco_etl.tasks.run import Run
from sco_etl.warehouse import UpsertResult, Warehouse, Writer


@dataclass
class NewsWritten(LoadCounts):
    """What one run changed in the warehouse."""

    status: str
    message: str
    mentions: int = 0
    """news_mentions rows added or removed"""


def write_news(
    warehouse: Warehouse, validated: Validated, batch: NewsBatch, states: list[dict],
    run: Run, failures: dict[str, str], requests: int,
) -> NewsWritten:
    """Upsert the rows, log revisions, update the feed state, the items' country mentions and
    raw hashes, quarantine rejects, add a load row — one transaction: on any failure the
    warehouse stays as it was."""
    valid = validated.rows["item_id"]
    moved = batch.moved.filter(pc.is_in(batch.moved["item_id"], value_set=valid))
    revisions = batch.revisions.filter(pc.is_in(batch.revisions["item_id"], value_set=valid))
    hashes = batch.hashes.filter(pc.is_in(batch.hashes["item_id"], value_set=valid))
    skipped = sum(source not in failures for source in batch.unchanged["source"].to_pylist())
    status = "failed" if failures else "completed"

    def apply(writer: Writer) -> NewsWritten:
        writer.delete(NEWS, moved)
        result = writer.upsert(NEWS, validated.rows)
        added = writer.append(NEWS_REVISIONS, revisions)
        mentions = update_mentions(writer, validated.rows, result, batch)
        record_hashes(writer, hashes)
        writer.replace(FEED_STATE, merge_states(writer.read(FEED_STATE), states))
        if validated.rejected:
            writer.append(QUARANTINE, quarantine_rows("news", validated.rejected, run))
        message = load_message(result.inserted, result.updated, len(validated.rejected),
                               failures)
        writer.append(LOADS, load_row(run, status, result.inserted + result.updated,
                                      len(validated.rejected), requests, message))
        return NewsWritten(result.inserted, result.updated, result.unchanged + skipped,
                           len(validated.rejected), added, result.partitions, status, message,
                           mentions)

    return warehouse.transaction(apply, message=f"{run.flow} {run.run_id}")


def update_mentions(writer: Writer, rows: pa.Table, result: UpsertResult,
                    batch: NewsBatch) -> int:
    """Bring the `news_mentions` of the items this transaction wrote in line with their text;
    return rows changed.

    Their mentions were found before the transaction (`join_rows`); only an item that another
    writer changed since it was read is matched here.
    """
    written = pa.concat_arrays([result.inserted_keys["item_id"].combine_chunks(),
                                result.replaced["item_id"].combine_chunks()])
    if len(written) == 0:
        return 0
    found = batch.mentions.filter(pc.is_in(batch.mentions["item_id"], value_set=written))
    late = pc.invert(pc.is_in(written, value_set=batch.changed))
    if pc.any(late).as_py():
        missed = rows.filter(pc.is_in(rows["item_id"], value_set=written.filter(late)))
        matchers = compile_matchers(writer.read(COUNTRY_TERMS))
        found = pa.concat_tables([found, find_mentions(missed, matchers)])
    stored = writer.lookup(NEWS_MENTIONS, "item_id", written)
    changes = mention_changes(stored, found)
    return writer.delete(NEWS_MENTIONS, changes.removed) + writer.append(
        NEWS_MENTIONS, changes.added)


def record_hashes(writer: Writer, hashes: pa.Table) -> None:
    """Keep each stored item's raw hash in step with the bytes its row was last read from: a
    parsed item's new hash replaces its old one, with the row's `updated_at` as now stored;
    one read without a hash loses it."""
    known = pc.is_valid(hashes["raw_hash"])
    rows = writer.lookup(NEWS, "item_id", hashes["item_id"], ["item_id", "updated_at"])
    current = hashes.filter(known).join(rows, "item_id", join_type="inner")
    writer.upsert(NEWS_ITEM_HASHES, current.rename_columns(
        {"updated_at": "row_updated_at"}).select(NEWS_ITEM_HASHES.column_names))
    unknown = hashes.filter(pc.invert(known))
    if unknown.num_rows:
        stored = writer.lookup(NEWS_ITEM_HASHES, "item_id", unknown["item_id"])
        writer.delete(NEWS_ITEM_HASHES, stored)


def record_failure(warehouse: Warehouse, run: Run, error: BaseException,
                   requests: int | None) -> None:
    """A run that broke leaves the data untouched and says why in the loads ledger."""
    row = load_row(run, "failed", 0, 0, requests, f"{type(error).__name__}: {error}")
    warehouse.transaction(lambda writer: writer.append(LOADS, row),
                          message=f"{run.flow} {run.run_id} failed")


def load_message(inserted: int, updated: int, rejected: int, failures: dict[str, str]) -> str:
    parts = [f"{inserted} new items, {updated} updated, {rejected} rejected"]
    parts += [f"source failed: {source}: {why}" for source, why in failures.items()]
    return "; ".join(parts)

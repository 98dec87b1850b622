"""The loader: schema checks, then one write transaction per run, then the search index.

`write_news` upserts what the planner read and the join built; on any failure the warehouse
stays as it was, and `record_failure` says why in the loads ledger.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc
from prefect import task
from prefect.cache_policies import NO_CACHE

from sco_etl.schemas import COUNTRY_TERMS, LOADS, NEWS_MENTIONS, QUARANTINE
from sco_etl.schemas.errors import ValidationFailure
from sco_etl.schemas.news import FEED_STATE, NEWS, NEWS_REVISIONS
from sco_etl.schemas.table import Validated, validate
from sco_etl.tasks.ledger import LoadCounts, load_row, quarantine_rows
from sco_etl.tasks.news.client import merge_states
from sco_etl.tasks.news.mentions import compile_matchers, find_mentions, mention_changes
from sco_etl.tasks.news.rows import NewsBatch
from sco_etl.tasks.run import Run
from sco_etl.warehouse import UpsertResult, Warehouse, Writer, search


@dataclass
class NewsWritten(LoadCounts):
    """What one run changed in the warehouse."""

    status: str
    message: str
    retried: int = 0
    """Rows rewritten only to count another failed article attempt (not in `updated`)."""
    mentions: int = 0
    """news_mentions rows added or removed"""


@task(name="validate-news", cache_policy=NO_CACHE)
def validate_news(batch: NewsBatch) -> tuple[Validated, dict[str, str]]:
    """Schema checks per source, so one broken source cannot fail the others: the valid rows
    with every rejection, and the sources whose reject share says they are broken (their rows
    are not written)."""
    rows, rejected, broken = [], list(batch.rejected), {}
    for source in sorted(set(batch.rows["source"].to_pylist())):
        part = batch.rows.filter(pc.equal(batch.rows["source"], source))
        earlier = [r for r in batch.rejected if r.record.get("source") == source]
        try:
            checked = validate(NEWS, part, earlier)
        except ValidationFailure as e:
            broken[source] = f"validation: {e}"
            continue
        rows.append(checked.rows)
        rejected += checked.rejected[len(earlier):]
    return Validated(pa.concat_tables(rows or [NEWS.empty()]), rejected), broken


@task(name="write-news", cache_policy=NO_CACHE)
def write_news(warehouse: Warehouse, validated: Validated, batch: NewsBatch, states: list[dict],
               run: Run, failures: dict[str, str]) -> NewsWritten:
    """Upsert the rows, log revisions, update the feed state and the items' country
    mentions, quarantine rejects, add a load row — one transaction: on any failure the
    warehouse stays as it was."""
    valid = validated.rows["item_id"]
    moved = batch.moved.filter(pc.is_in(batch.moved["item_id"], value_set=valid))
    revisions = batch.revisions.filter(pc.is_in(batch.revisions["item_id"], value_set=valid))
    status = "failed" if failures else "completed"

    def apply(writer: Writer) -> NewsWritten:
        writer.delete(NEWS, moved)
        result = writer.upsert(NEWS, validated.rows)
        retried = pc.sum(pc.is_in(result.replaced["item_id"], value_set=batch.retried))
        retried = retried.as_py() or 0
        added = writer.append(NEWS_REVISIONS, revisions)
        mentions = update_mentions(writer, validated.rows, result, batch)
        writer.replace(FEED_STATE, merge_states(writer.read(FEED_STATE), states))
        if validated.rejected:
            writer.append(QUARANTINE, quarantine_rows("news", validated.rejected, run))
        updated = result.updated - retried
        message = load_message(result.inserted, updated, len(validated.rejected), failures,
                               [page for pages in batch.failures.values() for page in pages])
        writer.append(LOADS, load_row(run, status, result.inserted + result.updated,
                                      len(validated.rejected), run.requests, message))
        return NewsWritten(result.inserted, updated, result.unchanged,
                           len(validated.rejected), added, result.partitions, status, message,
                           retried, mentions)

    return warehouse.transaction(apply, message=f"{run.flow} {run.run_id}")


@task(name="refresh-search-index", cache_policy=NO_CACHE)
def refresh_search_index(warehouse: Warehouse, changed: bool) -> int | None:
    """Bring the news search file up to date when the news changed or it is missing; return
    the items indexed, or None when it was current."""
    if not changed and search.index_path(warehouse).exists():
        return None
    return search.refresh_index(warehouse)[0]


def update_mentions(writer: Writer, rows: pa.Table, result: UpsertResult,
                    batch: NewsBatch) -> int:
    """Bring the `news_mentions` of the items this transaction wrote in line with their text;
    return rows changed. They were found before the transaction (`join_rows`); only an item
    that another writer changed since it was read is matched here."""
    written = pa.concat_arrays([result.inserted_keys["item_id"].combine_chunks(),
                                result.replaced["item_id"].combine_chunks()])
    written = written.filter(pc.invert(pc.is_in(written, value_set=batch.retried)))
    if len(written) == 0:
        return 0
    found = batch.mentions.filter(pc.is_in(batch.mentions["item_id"], value_set=written))
    late = pc.invert(pc.is_in(written, value_set=batch.changed))
    if pc.any(late).as_py():
        missed = rows.filter(pc.is_in(rows["item_id"], value_set=written.filter(late)))
        matchers = compile_matchers(writer.read(COUNTRY_TERMS))
        found = pa.concat_tables([found, find_mentions(missed, matchers)])
    stored = writer.lookup(NEWS_MENTIONS, "item_id", written)
    added, removed = mention_changes(stored, found)
    return writer.delete(NEWS_MENTIONS, removed) + writer.append(NEWS_MENTIONS, added)


def record_failure(warehouse: Warehouse, run: Run, error: BaseException) -> None:
    """A run that broke leaves the data untouched and says why in the loads ledger."""
    row = load_row(run, "failed", 0, 0, run.requests, f"{type(error).__name__}: {error}")
    warehouse.transaction(lambda writer: writer.append(LOADS, row),
                          message=f"{run.flow} {run.run_id} failed")


def load_message(inserted: int, updated: int, rejected: int, failures: dict[str, str],
                 pages_failed: list[tuple[str, str]]) -> str:
    parts = [f"{inserted} new items, {updated} updated, {rejected} rejected"]
    parts += [f"source failed: {source}: {why}" for source, why in failures.items()]
    if pages_failed:
        link, cause = pages_failed[0]
        parts.append(f"{len(pages_failed)} article pages failed (first: {link} — {cause})")
    return "; ".join(parts)

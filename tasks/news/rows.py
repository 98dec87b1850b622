"""Pure joins of this run's candidates with the stored rows and the fetched article pages.

Decides, per item: its date and where it came from, its body, whether it is new, edited or
unchanged, which earlier item it duplicates, and what revision it leaves.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import pyarrow as pa
import pyarrow.compute as pc

from sco_etl.schemas.mentions import NEWS_MENTIONS
from sco_etl.schemas.news import NEWS, NEWS_REVISIONS
from sco_etl.schemas.table import Rejection, to_arrow
from sco_etl.tasks.news.normalise import CANDIDATE_COLUMNS, UNCHANGED, Candidates
from sco_etl.tasks.run import Run
from sco_etl.warehouse.merge import LINEAGE_COLUMNS

COMPARED = [c for c in NEWS.column_names if c not in LINEAGE_COLUMNS]
HASHES = pa.schema([("item_id", pa.string()), ("source", pa.string()), ("raw_hash", pa.string())])


@dataclass
class NewsBatch:
    """News rows of one run, typed but not yet validated.

    Attributes:
        rows: every candidate and every retried item, as it should now be stored.
        revisions: edited items' previous versions.
        moved: stored rows whose date moved them to another partition (to remove there).
        counts: per source, how many items are new, updated or unchanged.
        rejected: records refused so far.
        changed: item_ids of the rows that are new or differ from their stored version.
        hashes: (item_id, source, raw_hash) of the items read from the documents; a null
            raw_hash: the document could not be read item by item.
        unchanged: (source, item_id) of the items left unparsed, not in `rows`.
        mentions: the `news_mentions` rows of the `changed` items.
    """

    rows: pa.Table
    revisions: pa.Table
    moved: pa.Table
    counts: dict[str, Counter] = field(default_factory=dict)
    rejected: list[Rejection] = field(default_factory=list)
    changed: pa.Array = field(default_factory=lambda: pa.array([], pa.string()))
    hashes: pa.Table = field(default_factory=HASHES.empty_table)
    unchanged: pa.Table = field(default_factory=UNCHANGED.empty_table)
    mentions: pa.Table = field(default_factory=NEWS_MENTIONS.empty)


def article_links(candidates: pa.Table, known: pa.Table, max_attempts: int,
                  limit: int) -> list[str]:
    """Pages to fetch: new items' and those still without a body, newest first, at most `limit`."""
    stored = {row["item_id"]: row for row in known.to_pylist()}
    wanted: dict[str, dt.datetime] = {}
    floor = dt.datetime.min.replace(tzinfo=dt.UTC)
    in_documents = set(candidates["item_id"].to_pylist())
    rows = candidates.select(["item_id", "source", "link", "published_at"]).to_pylist() + [
        row for row in stored.values() if row["item_id"] not in in_documents
    ]
    for row in rows:
        if not same_site(row["source"], row["link"]):
            continue  # a feed must not make us request another host (SSRF): issue 5
        old = stored.get(row["item_id"])
        if old is None or (old["body"] is None and old["article_attempts"] < max_attempts):
            when = row["published_at"] or floor
            wanted[row["link"]] = max(when, wanted.get(row["link"], floor))
    return sorted(wanted, key=lambda link: wanted[link], reverse=True)[:limit]


def same_site(source: str, link: str) -> bool:
    """Whether `link` is on the source's own site: the same host, or one a subdomain of the
    other, a leading `www.` aside (`rss.x.ru` and `www.x.ru` are one site), on the same port.

    Article pages are fetched only there: an item linking elsewhere (an internal address, a
    cloud metadata endpoint) is stored as data, never requested.
    """
    ours, theirs = urlsplit(source), urlsplit(link)
    try:
        same_port = ours.port == theirs.port
    except ValueError:
        return False
    mine, other = ((parts.hostname or "").rstrip(".").removeprefix("www.")
                   for parts in (ours, theirs))
    return bool(mine and other) and same_port and (
        mine == other or mine.endswith("." + other) or other.endswith("." + mine))


def build_rows(candidates: Candidates, known: pa.Table, urls: pa.Table, articles: pa.Table,
               run: Run, now: dt.datetime) -> NewsBatch:
    """Join candidates with stored rows (`known`) and article results into news rows.

    `urls` is (item_id, url, duplicate_of, first_seen_at) of the stored items sharing a url
    with these, to link one story reached through several sources or links to the item seen
    first. The candidates' unchanged items count as unchanged unless an article page is joined
    to them here.
    """
    stored = {row["item_id"]: row for row in known.to_pylist()}
    pages = {row["link"]: row for row in articles.to_pylist()}
    rows, revisions, moved, changed = [], [], [], []
    counts: dict[str, Counter] = defaultdict(Counter)
    seen: set[str] = set()
    for candidate in candidates.rows.to_pylist():
        old = stored.get(candidate["item_id"])
        row = _combine(candidate, old, pages.get(candidate["link"]), run, now)
        rows.append(row)
        seen.add(row["item_id"])
    for old in stored.values():  # waiting for an article, not in any document this run
        if old["item_id"] not in seen and old["link"] in pages:
            rows.append(_with_article(dict(old), pages[old["link"]], run, now))
    primaries = _primaries(urls, {row["url"] for row in rows})
    for row in rows:
        row["duplicate_of"] = _link_duplicate(primaries, row)
        old = stored.get(row["item_id"])
        status = _status(old, row)
        counts[row["source"]][status] += 1
        if status != "unchanged":
            changed.append(row["item_id"])
        if old is not None and old["content_hash"] != row["content_hash"]:
            revisions.append(_revision(old, row, old["run_id"], run, now))
        if old is not None and _month(old["published_at"]) != _month(row["published_at"]):
            moved.append(old)
    latest = {row["item_id"]: row for row in rows}
    for previous in candidates.superseded.to_pylist():
        revisions.append(_revision(previous, latest[previous["item_id"]], run.run_id, run, now))
    unchanged = candidates.unchanged.filter(
        pc.invert(pc.is_in(candidates.unchanged["item_id"],
                           value_set=pa.array(sorted(latest), pa.string()))))
    for source in unchanged["source"].to_pylist():
        counts[source]["unchanged"] += 1
    typed, unrepresentable = to_arrow(NEWS, rows)
    return NewsBatch(
        rows=typed,
        revisions=pa.Table.from_pylist(revisions, schema=NEWS_REVISIONS.arrow_schema),
        moved=pa.Table.from_pylist(moved, schema=NEWS.arrow_schema),
        counts=dict(counts),
        rejected=candidates.rejected + unrepresentable,
        changed=pa.array(changed, pa.string()),
        hashes=candidates.rows.select(["item_id", "source", "raw_hash"]),
        unchanged=unchanged,
    )


def _combine(candidate: dict, old: dict | None, page: dict | None, run: Run,
             now: dt.datetime) -> dict:
    row = {name: candidate[name] for name in CANDIDATE_COLUMNS}
    if old is None:
        row.update(body=None, article_attempts=0, article_error=None, first_seen_at=now)
    else:
        row.update(body=old["body"], article_attempts=old["article_attempts"],
                   article_error=old["article_error"], first_seen_at=old["first_seen_at"])
        row["author"] = row["author"] or old["author"]
    if candidate["published_at"] is not None:
        row["published_at_source"] = candidate["date_from"]
    elif old is not None:  # the document dropped its date, or never had one: keep ours
        row["published_at"] = old["published_at"]
        row["published_at_source"] = old["published_at_source"]
    else:
        row["published_at"], row["published_at_source"] = now, "first_seen"
    return _with_article(row, page, run, now)


def _with_article(row: dict, page: dict | None, run: Run, now: dt.datetime) -> dict:
    if page is not None and row["body"] is None:
        row["article_attempts"] += 1
        if page["error"] is not None:
            row["article_error"] = page["error"]
        else:
            row["body"], row["article_error"] = page["body"], None
            row["author"] = row["author"] or page["author"]
            # An item without a date of its own takes its article page's date.
            if row["published_at_source"] == "first_seen" and page["published_at"] is not None:
                row["published_at"] = page["published_at"]
                row["published_at_source"] = "article"
    row["updated_at"] = now
    row["run_id"] = run.run_id
    return row


def _primaries(urls: pa.Table, wanted: set[str]) -> dict[str, str]:
    """Canonical url → the item first stored under it (the one that is no duplicate)."""
    primaries: dict[str, tuple] = {}
    mine = pc.and_(pc.is_null(urls["duplicate_of"]),
                   pc.is_in(urls["url"], value_set=pa.array(sorted(wanted), pa.string())))
    for row in urls.filter(mine).to_pylist():
        rank = (row["first_seen_at"], row["item_id"])
        if row["url"] not in primaries or rank < primaries[row["url"]]:
            primaries[row["url"]] = rank
    return {url: rank[1] for url, rank in primaries.items()}


def _link_duplicate(primaries: dict[str, str], row: dict) -> str | None:
    first = primaries.setdefault(row["url"], row["item_id"])
    return None if first == row["item_id"] else first


def _status(old: dict | None, row: dict) -> str:
    if old is None:
        return "new"
    return "unchanged" if all(old[c] == row[c] for c in COMPARED) else "updated"


def _revision(old: dict, new: dict, old_run_id: str, run: Run, now: dt.datetime) -> dict:
    return {
        "item_id": new["item_id"], "source": new["source"], "published_at": new["published_at"],
        "old_url": old["url"], "old_title": old["title"], "old_summary": old["summary"],
        "old_body": old.get("body"), "old_content_hash": old["content_hash"],
        "new_content_hash": new["content_hash"], "old_run_id": old_run_id,
        "revised_at": now, "run_id": run.run_id,
    }


def _month(value: dt.datetime) -> tuple[int, int]:
    utc = value.astimezone(dt.UTC)
    return utc.year, utc.month

"""Joins of this run's candidates with the stored rows and the fetched article pages.

Decides, per item: its date and where it came from, its body and where that came from,
whether it is new, edited, only retried or unchanged, which earlier item it duplicates, and
what revision it leaves.

The body: the feed's own full text (`feed_body`) until an article page gives a better one.
An article text is better when it holds at least as many words as the feed's: a feed often
carries a teaser or the first paragraphs, the page the whole story, and a page text shorter
than the feed's means the extraction missed part of the story. A text extracted alike from
pages of different URLs is the site's boilerplate (a site that serves its listing for any
`?idn=`), never a body: found among this run's pages and against the stored bodies, and a
stored body found so is cleared in the same write.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc
from prefect import task
from prefect.cache_policies import NO_CACHE

from sco_etl.schemas.clock import utc_now
from sco_etl.schemas.mentions import NEWS_MENTIONS
from sco_etl.schemas.news import NEWS, NEWS_REVISIONS
from sco_etl.schemas.table import Rejection, to_arrow
from sco_etl.tasks.news.client import ARTICLE_PAGES
from sco_etl.tasks.news.fields import canonical_url
from sco_etl.tasks.news.mentions import compile_matchers, find_mentions
from sco_etl.tasks.news.normalise import CANDIDATE_COLUMNS, Candidates
from sco_etl.tasks.news.plan import Plan
from sco_etl.tasks.run import Run
from sco_etl.warehouse import Warehouse
from sco_etl.warehouse.merge import LINEAGE_COLUMNS
from sco_etl.warehouse.news import rows_with_bodies

COMPARED = [c for c in NEWS.column_names if c not in LINEAGE_COLUMNS]
ATTEMPT_COLUMNS = ("article_attempts", "article_error")
"""Bookkeeping of article fetches: a row whose only change is here was retried, not updated
(another failed attempt is no news)."""
BOILERPLATE = "the page gives the same text as the pages of other items (the site's " \
              "boilerplate, not an article)"


@dataclass
class NewsBatch:
    """News rows of one run, typed but not yet validated.

    Attributes:
        rows: every candidate and every retried or cleared item, as it should now be stored.
        revisions: edited items' previous versions.
        moved: stored rows whose date moved them to another partition (to remove there).
        counts: per source, how many items are new, updated, retried (an article page
            asked again, or read without bettering the body: no text changed) or unchanged.
        rejected: records refused so far.
        changed: item_ids of the rows whose text is new or differs from its stored version.
        retried: item_ids of the rows whose only change is the count of article attempts.
        failures: per source, the article pages that failed this run: (link, cause).
        mentions: the `news_mentions` rows of the `changed` items.
    """

    rows: pa.Table
    revisions: pa.Table
    moved: pa.Table
    counts: dict[str, Counter] = field(default_factory=dict)
    rejected: list[Rejection] = field(default_factory=list)
    changed: pa.Array = field(default_factory=lambda: pa.array([], pa.string()))
    retried: pa.Array = field(default_factory=lambda: pa.array([], pa.string()))
    failures: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    mentions: pa.Table = field(default_factory=NEWS_MENTIONS.empty)


@task(name="join-news-rows", cache_policy=NO_CACHE)
def join_rows(warehouse: Warehouse, candidates: Candidates, plan: Plan,
              shares: list[pa.Table], run: Run) -> NewsBatch:
    """News rows as they should now be stored (with the article pages of every share), and
    the mentions of those whose text changed (found here, not in the write transaction)."""
    pages = pa.concat_tables([ARTICLE_PAGES.empty_table(), *shares])
    texts = [text for text in pages["body"].to_pylist() if text]
    batch = build_rows(candidates, plan.rows, plan.urls, pages, run, utc_now(),
                       same_bodies=rows_with_bodies(warehouse, texts))
    changed = batch.rows.filter(pc.is_in(batch.rows["item_id"], value_set=batch.changed))
    batch.mentions = find_mentions(changed, compile_matchers(plan.terms))
    return batch


def build_rows(candidates: Candidates, known: pa.Table, urls: pa.Table, pages: pa.Table,
               run: Run, now: dt.datetime, same_bodies: pa.Table | None = None) -> NewsBatch:
    """Join candidates with stored rows (`known`, `urls`: see `known_news`) and article pages
    into news rows. `same_bodies` are the stored rows whose article body is the text of one of
    `pages`: where that text belongs to another URL, it is boilerplate."""
    same_bodies = NEWS.empty() if same_bodies is None else same_bodies
    stored = {row["item_id"]: row for row in known.to_pylist()}
    by_link = {row["link"]: row for row in pages.to_pylist()}
    boilerplate = boilerplate_texts(pages, same_bodies)
    rows, revisions, moved = [], [], []
    for candidate in candidates.rows.to_pylist():
        old = stored.get(candidate["item_id"])
        rows.append(_combine(candidate, old, by_link.get(candidate["link"]), boilerplate, run,
                             now))
    seen = {row["item_id"] for row in rows}
    # Stored items not in any document this run: waiting for an article, or holding a body
    # that turned out to be boilerplate.
    for old in [*stored.values(), *same_bodies.to_pylist()]:
        page = by_link.get(old["link"])
        if old["item_id"] in seen:
            continue
        if _body_from(old) == "article" and old["body"] in boilerplate:
            cleared = {**old, "body": None, "body_from": None, "article_error": BOILERPLATE}
            rows.append(_with_article(cleared, page, boilerplate, run, now))
        elif page is not None:
            rows.append(_with_article(dict(old), page, boilerplate, run, now))
        else:
            continue
        stored.setdefault(old["item_id"], old)
        seen.add(old["item_id"])
    primaries = _primaries(urls, {row["url"] for row in rows})
    counts: dict[str, Counter] = defaultdict(Counter)
    changed, retried = [], []
    for row in rows:
        row["duplicate_of"] = _link_duplicate(primaries, row)
        old = stored.get(row["item_id"])
        status = _status(old, row)
        counts[row["source"]][status] += 1
        if status in ("new", "updated"):
            changed.append(row["item_id"])
        elif status == "retried":
            retried.append(row["item_id"])
        if old is not None and old["content_hash"] != row["content_hash"]:
            revisions.append(_revision(old, row, old["run_id"], run, now))
        if old is not None and _month(old["published_at"]) != _month(row["published_at"]):
            moved.append(old)
    latest = {row["item_id"]: row for row in rows}
    for previous in candidates.superseded.to_pylist():
        revisions.append(_revision(previous, latest[previous["item_id"]], run.run_id, run, now))
    typed, unrepresentable = to_arrow(NEWS, rows)
    return NewsBatch(
        rows=typed,
        revisions=pa.Table.from_pylist(revisions, schema=NEWS_REVISIONS.arrow_schema),
        moved=pa.Table.from_pylist(moved, schema=NEWS.arrow_schema),
        counts=dict(counts),
        rejected=candidates.rejected + unrepresentable,
        changed=pa.array(changed, pa.string()),
        retried=pa.array(retried, pa.string()),
        failures=_failures(rows, by_link, boilerplate),
    )


def boilerplate_texts(pages: pa.Table, same_bodies: pa.Table) -> set[str]:
    """The page texts read for more than one URL: among this run's pages, or a page's and a
    stored article body of another URL."""
    urls: dict[str, set[str]] = defaultdict(set)
    for page in pages.to_pylist():
        if page["body"]:
            urls[page["body"]].add(_canonical(page["link"]))
    for row in same_bodies.to_pylist():
        if row["body"] in urls:
            urls[row["body"]].add(row["url"])
    return {text for text, where in urls.items() if len(where) > 1}


def better_body(article: str, current: str | None) -> bool:
    """Whether an article page's text should replace the feed's (see the module's note)."""
    return current is None or len(article.split()) >= len(current.split())


def _combine(candidate: dict, old: dict | None, page: dict | None, boilerplate: set[str],
             run: Run, now: dt.datetime) -> dict:
    row = {name: candidate[name] for name in CANDIDATE_COLUMNS}
    feed_body = candidate["feed_body"]
    if old is None:
        row.update(body=feed_body, body_from="feed" if feed_body else None, article_attempts=0,
                   article_error=None, first_seen_at=now)
    else:
        row.update(article_attempts=old["article_attempts"],
                   article_error=old["article_error"], first_seen_at=old["first_seen_at"])
        if _body_from(old) == "article" and old["body"] not in boilerplate:
            row.update(body=old["body"], body_from=old["body_from"])
        else:  # the feed's text, the newest it gave (a feed that stops giving it keeps it)
            body = feed_body or (old["body"] if _body_from(old) == "feed" else None)
            row.update(body=body, body_from="feed" if body else None)
        row["author"] = row["author"] or old["author"]
    if candidate["published_at"] is not None:
        row["published_at_source"] = candidate["date_from"]
    elif old is not None:  # the document dropped its date, or never had one: keep ours
        row["published_at"] = old["published_at"]
        row["published_at_source"] = old["published_at_source"]
    else:
        row["published_at"], row["published_at_source"] = now, "first_seen"
    if old is not None and _body_from(old) == "article" and old["body"] in boilerplate:
        row["article_error"] = BOILERPLATE
    return _with_article(row, page, boilerplate, run, now)


def _with_article(row: dict, page: dict | None, boilerplate: set[str], run: Run,
                  now: dt.datetime) -> dict:
    if page is not None and _body_from(row) != "article":
        row["article_attempts"] += 1
        if page["error"] is not None:
            row["article_error"] = page["error"]
        elif page["body"] in boilerplate:
            row["article_error"] = BOILERPLATE
        else:
            row["article_error"] = None
            if better_body(page["body"], row["body"]):
                row["body"], row["body_from"] = page["body"], "article"
            row["author"] = row["author"] or page["author"]
            # An item without a date of its own takes its article page's date.
            if row["published_at_source"] == "first_seen" and page["published_at"] is not None:
                row["published_at"] = page["published_at"]
                row["published_at_source"] = "article"
    row["updated_at"] = now
    row["run_id"] = run.run_id
    return row


def _body_from(row: dict) -> str | None:
    # Rows written before `body_from` was kept took their bodies from article pages only.
    return row.get("body_from") or ("article" if row["body"] is not None else None)


def _canonical(link: str) -> str:
    try:
        return canonical_url(link)
    except ValueError:
        return link


def _failures(rows: list[dict], pages: dict[str, dict],
              boilerplate: set[str]) -> dict[str, list[tuple[str, str]]]:
    failures: dict[str, dict[str, str]] = defaultdict(dict)
    for row in rows:
        page = pages.get(row["link"])
        cause = page and (page["error"] or (BOILERPLATE if page["body"] in boilerplate
                                            else None))
        if cause:
            failures[row["source"]].setdefault(row["link"], cause)
    return {source: list(links.items()) for source, links in failures.items()}


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
    """new, unchanged, retried (only the article bookkeeping changed) or updated."""
    if old is None:
        return "new"
    differs = {c for c in COMPARED if old.get(c) != row[c]}
    if not differs:
        return "unchanged"
    return "retried" if differs <= set(ATTEMPT_COLUMNS) else "updated"


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

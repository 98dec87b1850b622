"""The news tables: `news` (one row per item), its revision log, and the per-feed HTTP state."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pyarrow.compute as pc

from sco_etl.schemas.checks import PLAIN_TEXT, ArrowValues, Rule
from sco_etl.schemas.clock import utc_now
from sco_etl.schemas.table import UTC_TIMESTAMP, Column, Table

PUBLISHED_SOURCES = ("feed", "listing", "article", "first_seen")
"""Where `published_at` came from, best first."""
BODY_SOURCES = ("feed", "article")
"""Where `body` came from: the feed's own full text, or the article page's."""

FIRST_NEWS_TIME = dt.datetime(1990, 1, 1, tzinfo=dt.UTC)
# A feed may run a little ahead of our clock; anything further in the future is a zone bug.
FUTURE_SLACK = dt.timedelta(days=2)


def _published_in_range(times: ArrowValues) -> ArrowValues:
    # The bound moves with the clock, so it is computed when the check runs.
    latest = utc_now() + FUTURE_SLACK
    return pc.and_(pc.greater_equal(times, FIRST_NEWS_TIME), pc.less_equal(times, latest))


def _no_markup(texts: ArrowValues) -> ArrowValues:
    return pc.invert(pc.match_substring_regex(texts, pattern=r"<\s*[A-Za-z/!]"))


PUBLISHED_RANGE = Rule(_published_in_range, name="published_from_1990_to_now")
NO_MARKUP = Rule(_no_markup, name="no_markup")
"""Titles and plain-text fields are text, never HTML: a tag left in them is a parser bug."""
FETCH_STATUS = Rule.isin(["ok", "degraded", "failed"], name="fetch_status")
HEX_ID = Rule.str_matches(r"^[0-9a-f]{32}$", name="hex_id")
HTTPS_URL = Rule.str_startswith("https://", name="canonical_https_url")
HTTP_URL = Rule.str_matches(r"^https?://", name="http_url")

NEWS = Table(
    name="news",
    doc="One row per news item of a feed or listing page, with its article text when fetched.",
    columns=(
        Column("item_id", pa.string(), checks=(HEX_ID,),
               doc="stable key: hash of (source, guid), or (source, url) without a guid"),
        Column("source", pa.string(), doc="the feed or listing URL as configured"),
        Column("guid", pa.string(), nullable=True, doc="the item's guid / Atom id, verbatim"),
        Column("url", pa.string(), checks=(HTTPS_URL,),
               doc="canonical link: https, no www., no utm_*, sorted query, no fragment"),
        Column("link", pa.string(), checks=(HTTP_URL,),
               doc="the absolute link as published (what article fetches use)"),
        Column("title", pa.string(), checks=(PLAIN_TEXT, NO_MARKUP), doc="plain text"),
        Column("summary", pa.string(), nullable=True, checks=(PLAIN_TEXT, NO_MARKUP),
               doc="plain text of the summary"),
        Column("summary_html", pa.string(), nullable=True, doc="the summary, sanitised HTML"),
        Column("body", pa.string(), nullable=True, checks=(PLAIN_TEXT,),
               doc="plain text paragraphs: the feed's full text (Atom content, RSS "
                   "content:encoded) until an article page gives a better one"),
        Column("body_from", pa.string(), nullable=True,
               checks=(Rule.isin(BODY_SOURCES, name="body_from"),),
               doc="feed or article; null without a body (or, for a body stored before "
                   "this column, article)"),
        Column("author", pa.string(), nullable=True, checks=(PLAIN_TEXT, NO_MARKUP)),
        Column("language", pa.string(), nullable=True),
        Column("published_at", UTC_TIMESTAMP, checks=(PUBLISHED_RANGE,),
               doc="UTC; zone-less and MSK times were read as Moscow time"),
        Column("published_at_source", pa.string(),
               checks=(Rule.isin(PUBLISHED_SOURCES, name="published_at_source"),),
               doc="feed, listing, article or first_seen"),
        Column("duplicate_of", pa.string(), nullable=True,
               doc="item_id of the first item with the same canonical url, if not this one"),
        Column("article_attempts", pa.int32(), doc="article page fetches tried so far"),
        Column("article_error", pa.string(), nullable=True,
               doc="why the last one failed, in words (HTTP 404, no article text, …)"),
        Column("content_hash", pa.string(), doc="sha256 of url, title and summary_html"),
        Column("first_seen_at", UTC_TIMESTAMP),
        Column("updated_at", UTC_TIMESTAMP, doc="when the row last changed"),
        Column("run_id", pa.string(), doc="the flow run that last changed it"),
    ),
    key=("item_id",),
    partition_by=("year", "month"),
    partition_column="published_at",
)

NEWS_REVISIONS = Table(
    name="news_revisions",
    doc="An item the source edited: the version replaced, kept instead of lost.",
    columns=(
        Column("item_id", pa.string()),
        Column("source", pa.string()),
        Column("published_at", UTC_TIMESTAMP),
        Column("old_url", pa.string()),
        Column("old_title", pa.string()),
        Column("old_summary", pa.string(), nullable=True),
        Column("old_body", pa.string(), nullable=True),
        Column("old_content_hash", pa.string()),
        Column("new_content_hash", pa.string()),
        Column("old_run_id", pa.string()),
        Column("revised_at", UTC_TIMESTAMP),
        Column("run_id", pa.string()),
    ),
    key=("item_id", "old_content_hash", "new_content_hash"),
    partition_by=("year",),
    partition_column="published_at",
)

FEED_STATE = Table(
    name="feed_state",
    doc="Per source: HTTP validators stored verbatim, and how its last fetch went.",
    columns=(
        Column("source", pa.string()),
        Column("kind", pa.string(), nullable=True, doc="rss, atom or listing"),
        Column("etag", pa.string(), nullable=True, doc="verbatim, quotes included"),
        Column("last_modified", pa.string(), nullable=True, doc="verbatim"),
        Column("body_hash", pa.string(), nullable=True,
               doc="sha256 of the last clean document, to skip re-parsing an identical one"),
        Column("status", pa.string(), checks=(FETCH_STATUS,),
               doc="ok, degraded (items read from a broken document) or failed"),
        Column("message", pa.string(), nullable=True, doc="why the last fetch failed"),
        Column("status_since", UTC_TIMESTAMP, doc="when the status last changed"),
    ),
    key=("source",),
)

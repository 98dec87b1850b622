"""Constants of the news pipeline: default sources, politeness, retry and parsing knobs."""

DEFAULT_NEWS_FEEDS = (
    "http://www.infoshos.ru/rss/rss_ru.xml",
    "http://www.infoshos.ru/en/",
)
"""InfoSHOS: the Russian RSS feed, and the English front page (a dated headline list; no
English feed is confirmed). The site serves plain http."""

FEED_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/xml;q=0.9, text/xml;q=0.9, "
    "text/html;q=0.8, */*;q=0.5"
)
ARTICLE_ACCEPT = "text/html, application/xhtml+xml;q=0.9, */*;q=0.5"

FEED_ATTEMPTS = 3
ARTICLE_ATTEMPTS = 2
"""Article fetches give up sooner: a failed one is retried on the next run anyway."""
ARTICLE_WORKERS = 4
ARTICLES_PER_RUN = 200
"""Article pages fetched in one run at most, newest items first; the rest wait for the next
run (at the default pacing of ten requests a second, 200 pages take about 20 s)."""
FEED_WORKERS = 4
MAX_ARTICLE_ATTEMPTS = 3
"""An item whose article page failed this many times keeps no body and is not tried again."""

TRACKING_PARAMS = frozenset({"fbclid", "gclid", "yclid", "mc_cid", "mc_eid", "_openstat"})
"""Query parameters that identify a click, not a page (besides every `utm_*`)."""

PARSER_VERSION = "news-1"
"""Part of the stored body hash: a new parser re-reads documents it has seen before."""

SOURCES_TIMEOUT = 300
"""Seconds fetching every source may take (three attempts at a 60 s read timeout, and more)."""
ARTICLES_TIMEOUT = 900
"""Seconds one share of article pages may take (50 pages at two attempts each)."""

"""Pure normalisers: plain-text titles, safe summaries, canonical links, Moscow-aware dates."""

from __future__ import annotations

import datetime as dt
import time

import pytest

from sco_etl.tasks.news.fields import (
    absolute_url,
    canonical_url,
    clean_html,
    item_id,
    parse_published,
    plain_text,
)

UTC = dt.UTC


@pytest.mark.parametrize(("raw", "text"), [
    ("Kashmir&amp;#8217;s Special Status &lt;script&gt;alert(1)&lt;/script&gt;",
     "Kashmir’s Special Status"),
    ("Iran Eyes SCO<script>document.title='x'</script> &amp;&nbsp;&laquo;SCO&raquo;",
     "Iran Eyes SCO & «SCO»"),
    ("\n          Cooperation Across\n  the Continent\n      ", "Cooperation Across the Continent"),
    ("<b>Bold</b> <i>claims</i>", "Bold claims"),
    ("a &lt; b", "a < b"),
    ("Tab\x00and\x07bell", "Tabandbell"),
    ("   ", None),
    (None, None),
])
def test_plain_text(raw, text):
    assert plain_text(raw) == text


def test_clean_html_keeps_markup_drops_scripts_and_resolves_urls():
    html = ('<p onclick="evil()">Iran</p><script src="http://evil.example/x.js"></script>'
            '<img src="/media/21302.jpg"><a href="javascript:alert(1)">j</a>')
    assert clean_html(html, "http://www.infoshos.ru/en/?idn=21302") == (
        '<p>Iran</p><img src="http://www.infoshos.ru/media/21302.jpg">'
        '<a rel="noopener noreferrer">j</a>'
    )


@pytest.mark.parametrize(("link", "canonical"), [
    ("http://www.infoshos.ru/en/?idn=21195", "https://infoshos.ru/en/?idn=21195"),
    ("https://infoshos.ru/en/?idn=21195&utm_source=rss", "https://infoshos.ru/en/?idn=21195"),
    ("http://WWW.InfoShos.ru:80/en/?b=2&a=1&utm_medium=x#comments",
     "https://infoshos.ru/en/?a=1&b=2"),
    ("http://example.org", "https://example.org/"),
    ("http://localhost:8080/a?fbclid=1&q=x y", "https://localhost:8080/a?q=x%20y"),
])
def test_canonical_url(link, canonical):
    assert canonical_url(link) == canonical


@pytest.mark.parametrize("link", ["javascript:alert(1)", "file:///etc/passwd",
                                  "data:text/html,<b>x</b>", "mailto:editor@infoshos.ru"])
def test_non_web_links_are_refused(link):
    with pytest.raises(ValueError, match="not http"):
        absolute_url("http://www.infoshos.ru/en/", link)


@pytest.mark.parametrize(("base", "link", "absolute"), [
    ("http://www.infoshos.ru/en/", "/en/?idn=21195", "http://www.infoshos.ru/en/?idn=21195"),
    ("http://www.infoshos.ru/en/", "\n   ?idn=21061\n  ", "http://www.infoshos.ru/en/?idn=21061"),
    ("http://www.infoshos.ru/en/", "https://x.org/a", "https://x.org/a"),
])
def test_absolute_url(base, link, absolute):
    assert absolute_url(base, link) == absolute


@pytest.mark.parametrize(("raw", "utc"), [
    # RFC 822 with an offset
    ("Tue, 17 Dec 2019 11:28:00 +0300", dt.datetime(2019, 12, 17, 8, 28, tzinfo=UTC)),
    # MSK: feedparser reads it as UTC, three hours off
    ("Mon, 16 Dec 2019 13:38:00 MSK", dt.datetime(2019, 12, 16, 10, 38, tzinfo=UTC)),
    # no zone: Moscow wall-clock time
    ("Mon, 16 Dec 2019 13:27:00", dt.datetime(2019, 12, 16, 10, 27, tzinfo=UTC)),
    ("2019-12-12 13:35:00", dt.datetime(2019, 12, 12, 10, 35, tzinfo=UTC)),
    # the site's own format
    ("09.12.2019 18:17", dt.datetime(2019, 12, 9, 15, 17, tzinfo=UTC)),
    # Moscow was UTC+4 from March 2011 to October 2014
    ("23.05.2011 10:00", dt.datetime(2011, 5, 23, 6, 0, tzinfo=UTC)),
    ("Mon, 23 May 2011 10:00:00 MSK", dt.datetime(2011, 5, 23, 6, 0, tzinfo=UTC)),
    ("2011-05-23T10:00:00+04:00", dt.datetime(2011, 5, 23, 6, 0, tzinfo=UTC)),
    ("2020-01-13T14:10:00Z", dt.datetime(2020, 1, 13, 14, 10, tzinfo=UTC)),
    ("Tue, 17 Dec 2019 11:28:00 GMT", dt.datetime(2019, 12, 17, 11, 28, tzinfo=UTC)),
    ("Tue, 17 Dec 2019 11:28:00 -0000", dt.datetime(2019, 12, 17, 11, 28, tzinfo=UTC)),
    ("Tue, 17 Dec 2019 11:28:00 EST", dt.datetime(2019, 12, 17, 16, 28, tzinfo=UTC)),
    ("not a date", None),
    ("", None),
    (None, None),
])
def test_parse_published(raw, utc):
    assert parse_published(raw) == utc


def test_unknown_zone_falls_back_to_feedparser_reading():
    fallback = time.struct_time((2019, 12, 17, 10, 28, 0, 1, 351, 0))
    assert parse_published("Tue, 17 Dec 2019 11:28:00 CET", fallback) == dt.datetime(
        2019, 12, 17, 10, 28, tzinfo=UTC)
    assert parse_published("Tue, 17 Dec 2019 11:28:00 CET") is None


def test_item_id_prefers_guid_and_is_stable():
    assert item_id("src", "guid-1", "https://a/1") == item_id("src", "guid-1", "https://a/2")
    assert item_id("src", None, "https://a/1") != item_id("other", None, "https://a/1")
    assert len(item_id("src", None, "https://a/1")) == 32

"""Parsers over the recorded news fixtures, as pure functions: bytes in, candidates out."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from requests.structures import CaseInsensitiveDict

from sco_etl.schemas.errors import SourceFormatError
from sco_etl.tasks.news.articles import extract_article
from sco_etl.tasks.news.documents import parse_document
from sco_etl.tasks.news.fields import canonical_url
from sco_etl.tasks.news.normalise import normalise_document
from tests.fakes.news_site import FIXTURES, fixture

UTC = dt.UTC
FEED_URL = "http://www.infoshos.ru/rss/rss_en.xml"
SITE = "http://www.infoshos.ru/en/"


def candidates(name: str, content_type: str = "application/rss+xml", url: str = FEED_URL):
    headers = CaseInsensitiveDict({"Content-Type": content_type})
    document = parse_document(fixture(name), url, headers)
    return document, normalise_document(url, document)


def by_guid(rows: list[dict]) -> dict:
    return {row["guid"]: row for row in rows}


EXPECTED = json.loads((FIXTURES / "expected_entries.json").read_text())["entries"]


@pytest.mark.parametrize("name", ["rss_en_2019-12-17.xml", "rss_en_2020-01-13.xml",
                                  "atom_en.xml"])
def test_clean_feeds_match_expected_entries(name):
    document, found = candidates(name)
    rows = by_guid(found.rows.to_pylist())
    expected = [e for e in EXPECTED if e["source_file"] == name]
    assert len(rows) == len(expected) and not found.rejected and not document.degraded
    for entry in expected:
        row = rows[entry["guid"]]
        assert row["title"] == entry["title"]
        assert row["link"] == entry["link"]
        assert row["url"] == canonical_url(entry["link"])
        assert row["published_at"] == dt.datetime.fromisoformat(entry["published_utc"])


def test_second_snapshot_adds_exactly_two_items():
    _, first = candidates("rss_en_2019-12-17.xml")
    _, second = candidates("rss_en_2020-01-13.xml")
    new = set(second.rows["item_id"].to_pylist()) - set(first.rows["item_id"].to_pylist())
    assert first.rows.num_rows == 15 and second.rows.num_rows == 10
    assert {r["guid"] for r in second.rows.to_pylist() if r["item_id"] in new} == {
        "infoshos-en-21460", "infoshos-en-21459"}


def test_atom_interview_is_0600_utc_and_id_is_not_the_link():
    document, found = candidates("atom_en.xml", "application/atom+xml")
    interview = by_guid(found.rows.to_pylist())["tag:infoshos.ru,2011-05-23:/en/idn/9472"]
    assert document.kind == "atom"
    assert interview["published_at"] == dt.datetime(2011, 5, 23, 6, 0, tzinfo=UTC)
    assert interview["link"] == "http://www.infoshos.ru/en/?idn=9472"
    assert interview["language"] == "en"
    assert interview["summary"].startswith("Ahead of the 10th anniversary summit")


def test_the_feeds_full_text_is_read_as_plain_paragraphs():
    """Atom `content` and RSS `content:encoded` give the item's feed body (issue 18); a feed
    with only summaries gives none, and the summary is read as before."""
    _, atom = candidates("atom_en.xml", "application/atom+xml")
    rows = by_guid(atom.rows.to_pylist())
    body = rows["tag:infoshos.ru,2011-05-23:/en/idn/9472"]["feed_body"].split("\n\n")
    assert len(body) == 3 and body[1].startswith("When an anniversary approaches")
    assert body[2].endswith("These applications are being considered and they require "
                            "decisions.")
    assert rows["tag:infoshos.ru,2020-01-13:/en/idn/21460"]["feed_body"] is None
    rss = (b'<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/">'
           b"<channel><link>http://a.org/</link><item><title>x</title><link>/1</link>"
           b"<description>Teaser</description><content:encoded><![CDATA[<p>First &amp; "
           b"<b>bold</b>.</p><script>alert(1)</script><p>Second<br/>line</p>]]>"
           b"</content:encoded></item></channel></rss>")
    (row,) = normalise_document(FEED_URL, parse_document(rss, FEED_URL, CaseInsensitiveDict())
                                ).rows.to_pylist()
    assert row["feed_body"] == "First & bold.\n\nSecond\n\nline"
    assert (row["summary"], row["summary_html"]) == ("Teaser", "Teaser")
    _, plain = candidates("rss_en_2019-12-17.xml")
    assert plain.rows["feed_body"].null_count == plain.rows.num_rows


def test_tricky_items_each_case():
    document, found = candidates("tricky_items_en.xml")
    rows = found.rows.to_pylist()
    guids = by_guid(rows)
    assert not found.rejected and document.base_url == SITE
    # T1: no pubDate -> no date from the feed (the article or first sighting decides later)
    assert guids["infoshos-en-21356"]["published_at"] is None
    assert guids["infoshos-en-21356"]["date_from"] is None
    # T2: one guid twice: the later, corrected title wins; the first is kept for a revision
    assert guids["infoshos-en-21391"]["title"] == (
        "China’s Foreign Minister Calls For Free Trade Deal With EU")
    assert found.superseded["title"].to_pylist() == [
        "Chinas Foreign Minister Calls For Free Trade Deal With EU"]
    # T3: double-escaped entity and escaped script
    assert guids["infoshos-en-21331"]["title"] == (
        "Kashmir’s Special Status, a Mess Created by Congress, Says Prime Minister Modi")
    # T4: raw script and entities in CDATA; summary sanitised, image made absolute
    t4 = guids["infoshos-en-21302"]
    assert t4["title"] == "Iran Eyes Closer Scientific Interaction with SCO & «SCO»"
    assert t4["summary_html"] == ('<p>Iran Eyes Closer Scientific Interaction with SCO</p>'
                                  '<img src="http://www.infoshos.ru/media/21302.jpg">')
    assert t4["summary"] == "Iran Eyes Closer Scientific Interaction with SCO"
    assert all("<script" not in (r["title"] + (r["summary_html"] or "")) for r in rows)
    # T5: root-relative link and relative permalink guid (kept verbatim)
    t5 = guids["/en/?idn=21195"]
    assert t5["link"] == "http://www.infoshos.ru/en/?idn=21195"
    # T6: query-relative link with whitespace, empty guid -> keyed by canonical link
    t6 = next(r for r in rows if r["url"] == "https://infoshos.ru/en/?idn=21061")
    assert t6["link"] == "http://www.infoshos.ru/en/?idn=21061" and t6["guid"] is None
    assert t6["title"].startswith("Cooperation Across the Continent: How")
    # T7-T10: site format, MSK, zone-less RFC 822 and ISO: all Moscow wall-clock time
    assert guids["infoshos-en-21358"]["published_at"] == dt.datetime(2019, 12, 9, 15, 17,
                                                                     tzinfo=UTC)
    assert guids["infoshos-en-21387"]["published_at"] == dt.datetime(2019, 12, 16, 10, 38,
                                                                     tzinfo=UTC)
    assert guids["infoshos-en-21386"]["published_at"] == dt.datetime(2019, 12, 16, 10, 27,
                                                                     tzinfo=UTC)
    assert guids["infoshos-en-21371"]["published_at"] == dt.datetime(2019, 12, 12, 10, 35,
                                                                     tzinfo=UTC)
    # T11: same story as T5 with utm_ and https: another key, the same canonical url
    t11 = next(r for r in rows if r["link"].startswith("https://infoshos.ru/"))
    assert t11["guid"] is None and t11["item_id"] != t5["item_id"]
    assert t11["url"] == t5["url"] == "https://infoshos.ru/en/?idn=21195"


@pytest.mark.parametrize("content_type", ["application/rss+xml", "text/xml",
                                          "application/rss+xml; charset=windows-1251"])
@pytest.mark.parametrize("name", ["tricky_ru_windows1251.xml",
                                  "tricky_ru_declared1251_but_utf8.xml"])
def test_russian_feeds_are_not_mojibake(name, content_type):
    _, found = candidates(name, content_type, "http://www.infoshos.ru/rss/rss_ru.xml")
    assert found.rows["title"].to_pylist() == [
        "Генеральный секретарь ШОС встретился с послом Туркменистана в Китае",
        "Узбекистан планирует председательствовать в ШОС в 2022 году",
        "Иран — за более тесное научное взаимодействие с «ШОС»",
    ]
    assert set(found.rows["language"].to_pylist()) == {"ru"}


def test_truncated_feed_keeps_complete_items_and_rejects_the_tail():
    document, found = candidates("tricky_truncated.xml")
    assert document.degraded
    assert found.rows["guid"].to_pylist() == [
        "infoshos-en-21460", "infoshos-en-21459", "infoshos-en-21391"]
    assert [r.reason for r in found.rejected] == [
        "the document was cut off inside this item; read again next run"]
    assert any("truncated" in w for w in document.warnings)


def test_php_warning_before_xml_declaration_is_degraded_but_read():
    document, found = candidates("tricky_php_warning_prefix.xml", "text/html; charset=utf-8")
    assert document.kind == "rss" and document.degraded
    assert "junk after document element" in document.warnings[0]
    assert found.rows["guid"].to_pylist() == [
        "infoshos-en-21460", "infoshos-en-21459", "infoshos-en-21391"]


def test_listing_page():
    document, found = candidates("news_list_en.html", "text/html; charset=utf-8", SITE)
    rows = {r["link"]: r for r in found.rows.to_pylist()}
    assert document.kind == "listing" and document.warnings == []
    # ten in the main list, seven more in the sidebar; 21460, 21387 and 21356 appear twice
    assert len(rows) == 17 and found.superseded.num_rows == 0
    first = rows["http://www.infoshos.ru/en/?idn=21460"]  # root-relative in the main list
    assert first["title"] == "SCO Secretary-General meets with Turkmenistans Ambassador to China"
    assert first["published_at"] == dt.datetime(2020, 1, 13, 11, 10, tzinfo=UTC)
    assert first["date_from"] == "listing" and first["guid"] is None
    sidebar = rows["http://www.infoshos.ru/en/?idn=20789"]  # query-relative in the sidebar
    assert sidebar["published_at"] == dt.datetime(2019, 7, 12, 13, 23, tzinfo=UTC)
    assert "http://www.infoshos.ru/en/?idn=21061" in rows
    assert not any(r["title"] in {"Home", "Contact us"} for r in rows.values())


def test_article_page_infoshos_layout():
    article = extract_article(fixture("article_en_moiseev_interview.html"),
                              "http://www.infoshos.ru/en/?idn=9472")
    paragraphs = article.body.split("\n\n")
    assert article.extractor == "infoshos"
    assert article.title == "Leonid Moiseev: World vests great hopes in SCO"
    assert article.published_at == dt.datetime(2011, 5, 23, 6, 0, tzinfo=UTC)
    assert len(paragraphs) == 3
    assert paragraphs[0].startswith("Ahead of the 10th anniversary summit")
    assert paragraphs[1].startswith("When an anniversary approaches")
    assert paragraphs[2].endswith("they require decisions.")
    assert "Add Comment" not in article.body and "Leave a comment" not in article.body


def test_article_page_without_site_layout_uses_trafilatura():
    page = fixture("article_en_moiseev_interview.html").replace(b'class="text"', b'class="x"')
    article = extract_article(page, "https://example.org/article")
    assert article.extractor == "trafilatura"
    assert article.title == "Leonid Moiseev: World vests great hopes in SCO"
    assert "ten years is a good occasion" in article.body


def test_article_page_without_text_is_a_format_error():
    with pytest.raises(SourceFormatError, match="no article text"):
        extract_article(b"<html><body><div></div></body></html>", "https://example.org/a")


@pytest.mark.parametrize(("body", "content_type", "message"), [
    (b"Service temporarily unavailable", "text/plain", "neither an RSS/Atom feed nor"),
    (b"", "application/rss+xml", "empty response body"),
    (b" \n", None, "empty response body"),
])
def test_neither_feed_nor_page_is_a_format_error(body, content_type, message):
    with pytest.raises(SourceFormatError, match=message):
        parse_document(body, FEED_URL, CaseInsensitiveDict({"Content-Type": content_type}))


def test_html_page_without_dated_headlines_is_a_format_error():
    with pytest.raises(SourceFormatError, match="no dated headlines"):
        parse_document(b"<html><body><a href='/x'>Home</a></body></html>", SITE,
                       CaseInsensitiveDict({"Content-Type": "text/html"}))


def test_non_web_link_is_quarantined():
    body = (b'<rss version="2.0"><channel><link>http://a.org/</link>'
            b"<item><title>x</title><link>javascript:alert(1)</link></item>"
            b"<item><title></title><link>http://a.org/2</link></item>"
            b"<item><title>no link</title></item></channel></rss>")
    document = parse_document(body, FEED_URL, CaseInsensitiveDict())
    found = normalise_document(FEED_URL, document)
    assert found.rows.num_rows == 0
    assert [r.reason for r in found.rejected] == [
        "link is not http(s): 'javascript:alert(1)'", "item has no title", "item has no link"]

"""Reading only the new or changed items of a document (issue 11): the raw hash of each item,
and the promise that makes skipping safe — an item left unparsed is one whose candidate would
come out exactly as before."""

from __future__ import annotations

import pytest
from requests.structures import CaseInsensitiveDict

from sco_etl.tasks.news.documents import cut_items, read_document
from sco_etl.tasks.news.extract import parse_document
from sco_etl.tasks.news.normalise import normalise_document
from tests.fakes.news_site import fixture

SOURCE = "http://www.infoshos.ru/rss/rss_en.xml"
RSS = CaseInsensitiveDict({"Content-Type": "application/rss+xml"})
ATOM = CaseInsensitiveDict({"Content-Type": "application/atom+xml"})
HTML = CaseInsensitiveDict({"Content-Type": "text/html; charset=utf-8"})
RU = CaseInsensitiveDict({"Content-Type": "application/rss+xml; charset=windows-1251"})
CLEAN = [("rss_en_2019-12-17.xml", RSS), ("rss_en_2020-01-13.xml", RSS),
         ("atom_en.xml", ATOM), ("tricky_ru_windows1251.xml", RU),
         ("news_list_en.html", HTML)]


def whole(body: bytes, headers=RSS) -> list[dict]:
    """Candidates as a whole read gives them (what every run did before)."""
    rows = normalise_document(SOURCE, parse_document(body, SOURCE, headers)).rows
    return rows.drop(["raw_hash"]).to_pylist()


def read(body: bytes, headers=RSS, reusable: dict | None = None):
    return read_document(SOURCE, body, SOURCE, headers, reusable or {})


def hashes(reading) -> dict[str, str]:
    return {row["raw_hash"]: row["item_id"] for row in reading.candidates.rows.to_pylist()}


@pytest.mark.parametrize(("name", "headers"), CLEAN)
def test_a_clean_document_is_hashed_item_by_item_and_read_as_before(name, headers):
    first = read(fixture(name), headers)
    assert first.candidates.rows.drop(["raw_hash"]).to_pylist() == whole(fixture(name), headers)
    assert first.candidates.rows["raw_hash"].null_count == 0
    assert len(hashes(first)) == first.items == first.candidates.rows.num_rows
    again = read(fixture(name), headers, hashes(first))
    assert again.candidates.rows.num_rows == 0 and again.document.items == []
    assert sorted(again.candidates.unchanged["item_id"].to_pylist()) == sorted(
        first.candidates.rows["item_id"].to_pylist())
    assert again.items == first.items


@pytest.mark.parametrize(("name", "headers"), CLEAN)
def test_each_item_read_alone_is_the_item_read_with_the_others(name, headers):
    first = read(fixture(name), headers)
    rows = first.candidates.rows.to_pylist()
    for row in rows:
        others = {h: i for h, i in hashes(first).items() if h != row["raw_hash"]}
        alone = read(fixture(name), headers, others)
        assert alone.candidates.rows.to_pylist() == [row]
        assert alone.candidates.unchanged.num_rows == len(rows) - 1


def test_a_rebuilt_feed_parses_only_its_new_and_edited_items():
    body = fixture("rss_en_2019-12-17.xml")
    known = hashes(read(body))
    rebuilt = (body.replace(b"Tue, 17 Dec 2019 12:00:00 +0300", b"Tue, 17 Dec 2019 13:00:00 +0300")
               .replace(b"<!-- Fixture:", b"<!-- generated in 0.02 s; Fixture:")
               .replace(b"Calls For Free Trade Deal With EU</title>",
                        b"Calls For a Free Trade Deal With the EU</title>")
               .replace(b"    <item>", b"    <item><title>New</title><link>/en/?idn=1</link>"
                        b"<guid>infoshos-en-1</guid></item>\n    <item>", 1))
    reading = read(rebuilt, reusable=known)
    assert [row["guid"] for row in reading.candidates.rows.to_pylist()] == [
        "infoshos-en-1", "infoshos-en-21391"]
    assert reading.candidates.rows.drop(["raw_hash"]).to_pylist() == whole(rebuilt)[:2]
    assert reading.candidates.rows["title"][1].as_py() == (
        "Chinas Foreign Minister Calls For a Free Trade Deal With the EU")
    assert reading.candidates.unchanged.num_rows == 14 and reading.items == 16


@pytest.mark.parametrize("change", [
    (b"<link>http://www.infoshos.ru/en/</link>", b"<link>http://www.infoshos.ru/eng/</link>"),
    (b"<language>en</language>", b"<language>en-gb</language>"),
    (b'<rss version="2.0"', b'<rss version="2.0" xml:base="http://other.example/"'),
])
def test_a_change_in_what_items_inherit_reparses_every_item(change):
    body = fixture("rss_en_2019-12-17.xml")
    known = hashes(read(body))
    changed = body.replace(*change)
    reading = read(changed, reusable=known)
    assert reading.candidates.unchanged.num_rows == 0
    assert reading.candidates.rows.drop(["raw_hash"]).to_pylist() == whole(changed)
    assert set(hashes(reading)).isdisjoint(known)


def test_other_content_headers_reparse_every_item():
    body = fixture("rss_en_2019-12-17.xml")
    known = hashes(read(body))
    utf8 = CaseInsensitiveDict({"Content-Type": "application/rss+xml; charset=utf-8"})
    assert read(body, utf8, known).candidates.unchanged.num_rows == 0


@pytest.mark.parametrize(("name", "headers"), [
    ("tricky_truncated.xml", RSS),                  # cut off inside an item
    ("tricky_php_warning_prefix.xml", RSS),         # not well-formed: read by the loose parser
    ("tricky_ru_declared1251_but_utf8.xml", RU),    # an encoding fallback for the whole document
])
def test_a_document_that_is_not_clean_is_read_whole_without_hashes(name, headers):
    reading = read(fixture(name), headers)
    assert reading.candidates.rows.drop(["raw_hash"]).to_pylist() == whole(fixture(name), headers)
    assert reading.candidates.rows["raw_hash"].null_count == reading.candidates.rows.num_rows


def test_a_document_repeating_an_item_is_read_whole():
    # tricky_items_en.xml holds one guid twice, the corrected title last: only a whole read
    # says which version wins, so an unchanged copy of either one is parsed again.
    body = fixture("tricky_items_en.xml")
    first = read(body)
    again = read(body, reusable=hashes(first))
    assert again.candidates.unchanged.num_rows == 0
    assert again.candidates.rows.to_pylist() == first.candidates.rows.to_pylist()
    assert again.candidates.superseded.num_rows == 1


def test_an_edited_listing_headline_is_the_only_one_normalised_again():
    body = fixture("news_list_en.html")
    known = hashes(read(body, HTML))
    title = whole(body, HTML)[0]["title"].encode()
    edited = body.replace(title, title + b" (updated)", 1)
    reading = read(edited, HTML, known)
    assert [row["title"] for row in reading.candidates.rows.to_pylist()] == [
        title.decode() + " (updated)"]
    assert reading.candidates.unchanged.num_rows == 19


@pytest.mark.parametrize(("body", "items"), [
    (b"<rss><channel><item>a</item>\n  <item>b</item></channel></rss>", [b"<item>a</item>",
                                                                        b"<item>b</item>"]),
    (b"<feed><entry xml:lang='en'>a</entry></feed>", [b"<entry xml:lang='en'>a</entry>"]),
    (b"<rss><channel><items/><item>a</item></channel></rss>", [b"<item>a</item>"]),
    (b"<rss><channel><item>a</item><!-- x --><item>b</item></channel></rss>", None),
    (b"<rss><channel><item>a<item>b</item></item></channel></rss>", None),
    (b"<rss><channel><item>a</channel></rss>", None),
    (b"<rss><channel></channel></rss>", None),
])
def test_cut_items_only_cuts_one_run_of_sibling_items(body, items):
    cut = cut_items(body)
    assert (cut[1] if cut else None) == items
    if cut:
        assert cut[0] + b"".join(cut[1]) + cut[2] == body.replace(b"\n  ", b"")

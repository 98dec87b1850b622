"""The hostile and broken document corpus (`tests/fakes/hostile.py`) through the parsers.

Every document of the corpus goes to its parser directly, with the attacker's host listening:
each gives a clear format error or parsed records, and the attacker gets no request. Then the
regressions of what the corpus found (issue 5).
"""

from __future__ import annotations

import pytest

from sco_etl.schemas.errors import SourceFormatError
from sco_etl.tasks.cbr.parse import parse_daily, parse_directory, parse_dynamic
from sco_etl.tasks.news.articles import extract_article
from sco_etl.tasks.news.documents import parse_document
from tests.fakes.hostile import CBR_DOCUMENTS, DOCUMENTS, HOSTILE, NEWS_DOCUMENTS, document
from tests.fakes.news_site import HTML, RSS


def test_the_corpus_is_complete():
    ids = [d["id"] for d in DOCUMENTS]
    assert len(ids) == len(set(ids)) and len(ids) >= 40
    for doc in DOCUMENTS:
        assert doc.get("generator") or (HOSTILE / doc["file"]).is_file(), doc["id"]
    files = {str(p.relative_to(HOSTILE)) for p in HOSTILE.rglob("*") if p.is_file()}
    assert files - {"manifest.json"} == {d["file"] for d in DOCUMENTS if "file" in d}


# --- parsers: every document, directly ---------------------------------------------------------


CBR_PARSERS = {"cbr_daily": parse_daily, "cbr_dynamic": parse_dynamic,
               "cbr_directory": parse_directory}


@pytest.mark.parametrize("doc", [d for d in CBR_DOCUMENTS if "file" in d], ids=lambda d: d["id"])
def test_cbr_parser_gives_a_format_error_or_records(doc, attacker):
    data = document(doc, attacker.url)
    parser = CBR_PARSERS[doc["target"]]
    if doc["expect"] == "format_error":
        with pytest.raises(SourceFormatError, match=doc["match"]):
            parser(data)
    else:
        parsed = parser(data)
        assert parsed is not None
    assert attacker.hits == []


@pytest.mark.parametrize("doc", [d for d in NEWS_DOCUMENTS if "file" in d], ids=lambda d: d["id"])
def test_news_parser_gives_a_format_error_or_items(doc, attacker):
    site = "http://news.example"
    data = document(doc, attacker.url, site)
    if doc["target"] == "news_article":
        article = extract_article(data, f"{site}/page", {"Content-Type": HTML})
        assert article.body == doc["body"]
    elif doc["expect"] == "source_failed":
        with pytest.raises(SourceFormatError, match=doc["match"]):
            parse_document(data, f"{site}/feed", {"Content-Type": RSS})
    else:
        kind = HTML if doc["target"] == "news_listing" else RSS
        parsed = parse_document(data, f"{site}/feed", {"Content-Type": kind})
        assert parsed.items
    assert attacker.hits == []


# --- regressions of what the corpus found (issue 5) ---------------------------------------------


def test_a_duplicated_element_is_a_bad_record_not_its_last_value():
    data = (HOSTILE / "cbr" / "duplicated_value_element.xml").read_bytes()
    parsed = parse_daily(data)
    assert [r.char_code for r in parsed.records] == ["KZT", "KGS", "UZS", "INR"]
    (bad,) = parsed.bad
    assert bad.reason == "duplicated element <Value>"


def test_a_record_refused_before_validation_is_quarantined_not_a_crash():
    import datetime as dt

    from sco_etl.tasks.cbr.currencies import Directory, resolve
    from sco_etl.tasks.cbr.extract import parse_documents
    from sco_etl.tasks.cbr.planning import DynamicRequest
    from sco_etl.tasks.run import Run

    data = (HOSTILE / "cbr" / "unknown_currency_dynamic.xml").read_bytes()
    directory = Directory({"R01375": {"cbr_id": "R01375", "char_code": "CNY", "num_code": "156",
                                      "frequency": "daily"}})
    request = DynamicRequest("R01375", dt.date(2025, 3, 25), dt.date(2025, 4, 3))
    batch = parse_documents([(request, data)], directory, resolve(directory, ["CNY"]),
                            Run("run", "ingest-rates", {}))
    assert batch.rows.num_rows == 2
    (rejected,) = batch.rejected
    assert rejected.reason == "unknown currency ID R99999"
    assert rejected.record["cbr_id"] == "R99999"
    assert parse_dynamic(data).cbr_id == "R01375"


@pytest.mark.parametrize(("source", "link", "fetched"), [
    ("http://www.infoshos.ru/rss/rss_en.xml", "http://www.infoshos.ru/en/?idn=1", True),
    ("http://www.infoshos.ru/rss/rss_en.xml", "https://infoshos.ru/en/?idn=1", True),
    ("http://rss.infoshos.ru/en.xml", "http://www.infoshos.ru/en/?idn=1", True),
    ("http://www.infoshos.ru/en/", "http://169.254.169.254/latest/meta-data/", False),
    ("http://www.infoshos.ru/en/", "http://localhost:8080/admin", False),
    ("http://www.infoshos.ru/en/", "http://evil-infoshos.ru/", False),
    ("http://www.infoshos.ru/en/", "http://infoshos.ru.evil.example/", False),
    ("http://127.0.0.1:5000/feed", "http://127.0.0.1:5001/page", False),
    ("http://127.0.0.1:5000/feed", "http://127.0.0.1:99999/page", False),
])
def test_article_pages_are_fetched_only_on_the_source_site(source, link, fetched):
    from sco_etl.tasks.news.plan import same_site

    assert same_site(source, link) is fetched


def test_an_empty_feed_body_says_so():
    with pytest.raises(SourceFormatError, match="empty response body"):
        parse_document(b"  \n", "http://news.example/feed", {"Content-Type": RSS})

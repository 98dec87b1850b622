"""`sco-etl page` in a real browser: Debian's headless Chromium, driven by Playwright.

One warehouse for the module: rates around three days from the fake CBR (2002, December 2019,
September 2025 after the Tianjin summit) and the news fixtures, the Moiseev interview with its
article text. The pages are served over HTTP on loopback, as `sco-etl page --serve` does.
"""

from __future__ import annotations

import datetime as dt
import io
import threading
from pathlib import Path

import pyarrow as pa
import pytest
from pytest_httpserver import HTTPServer

from sco_etl.flows.cli.page import page_server
from sco_etl.schemas import NEWS
from sco_etl.tasks.page.render import build_day
from sco_etl.warehouse import Warehouse, run_query
from sco_etl.warehouse.reports import board_rows
from tests.fakes.browser import chromium, needs_chromium
from tests.fakes.news_site import NewsSite, fixture
from tests.fakes.seed import ingest_page_days, move_inr_in_protest_week

BUILT_AT = dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.UTC)  # none of the pages is "today"
DAYS = (dt.date(2002, 3, 2), dt.date(2019, 12, 17), dt.date(2025, 9, 15))
SCRIPT_TITLE = "Kashmir <script>document.title='pwned'</script> & \"Modi\""

pytestmark = needs_chromium


@pytest.fixture(scope="module")
def lake(tmp_path_factory, cbr_service, prefect_harness) -> Warehouse:
    from sco_etl.flows.news import ingest_news

    data = tmp_path_factory.mktemp("page") / "data"
    with pytest.MonkeyPatch.context() as env:
        for name, value in {"SCO_ETL_HTTP_BACKOFF": "0.01", "SCO_ETL_REQUEST_INTERVAL": "0",
                            "SCO_ETL_LOCK_TIMEOUT": "5"}.items():
            env.setenv(name, value)
        server = HTTPServer()
        server.start()
        try:
            site = NewsSite(server)
            feeds = ingest_page_days(data, cbr_service.url, site)
            site.serve("/rss.xml", fixture("rss_en_2020-01-13.xml"))
            ingest_news(feeds=feeds[:1], fetch_articles=False, data_dir=str(data))
        finally:
            server.stop()
    warehouse = Warehouse(data)
    add_script_headline(warehouse)
    move_inr_in_protest_week(warehouse)
    return warehouse


def add_script_headline(warehouse: Warehouse) -> None:
    """A headline with a live `<script>` in it, written past validation: ingestion strips tags
    from titles (tests/unit/test_news_normalise.py), but the page must not count on it."""
    (row,) = warehouse.read(NEWS, where="guid = 'infoshos-en-21391'").to_pylist()
    row.update(item_id="f" * 32, guid="script-test", url="https://infoshos.ru/en/?idn=1",
               link="https://infoshos.ru/en/?idn=1", title=SCRIPT_TITLE, summary=SCRIPT_TITLE,
               published_at=dt.datetime(2019, 12, 17, 6, 0, tzinfo=dt.UTC))  # 09:00 MSK
    rows = pa.Table.from_pylist([row], schema=NEWS.arrow_schema)
    warehouse.transaction(lambda writer: writer.upsert(NEWS, rows))


@pytest.fixture(scope="module")
def site(lake, tmp_path_factory) -> str:
    folder = tmp_path_factory.mktemp("site")
    for day in DAYS:
        build_day(lake, day, folder, now=BUILT_AT)
    server = page_server(folder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def browser():
    with chromium() as launched:
        yield launched


@pytest.fixture
def open_day(browser, site):
    pages = []

    def opened(day: dt.date):
        tab = browser.new_page(viewport={"width": 1200, "height": 900})
        pages.append(tab)
        tab.goto(f"{site}/{day.isoformat()}/index.html")
        return tab

    yield opened
    for tab in pages:
        tab.close()


def box(tab) -> list[tuple[str, ...]]:
    return [tuple(cell.strip() for cell in row) for row in tab.eval_on_selector_all(
        "table.board tbody tr", "rows => rows.map(r => [...r.cells].map(c => c.textContent))")]


def expected_box(lake: Warehouse, day: dt.date) -> list[tuple[str, ...]]:
    return [(r["country"], r["char_code"], r["currency"] or "", str(r["nominal"] or ""),
             f"{r['value']:.4f}" if r["value"] is not None else "—")
            for r in board_rows(lake, day).to_pylist()]


def statuses(tab) -> dict[str, list[str]]:
    return tab.eval_on_selector_all("section.status", """sections => Object.fromEntries(
        sections.map(s => [s.querySelector('h2').textContent,
                           [...s.querySelectorAll('li')].map(li => li.textContent)]))""")


def clocks(tab) -> dict[str, str]:
    return tab.eval_on_selector_all("#clocks .clock", """items => Object.fromEntries(
        items.map(li => [li.dataset.capital, li.querySelector('time').textContent]))""")


def headlines(tab) -> list[tuple[str, str, str]]:
    return [tuple(h) for h in tab.eval_on_selector_all("ul.headlines li[data-item]", """items =>
        items.map(li => [li.querySelector('time').textContent,
                         li.querySelector('a').textContent, li.querySelector('a').href])""")]


FOUNDERS = ["China", "Kazakhstan", "Kyrgyzstan", "Russia", "Tajikistan", "Uzbekistan"]


def test_2002_page_six_founders_and_the_1998_era_box(lake, open_day):
    tab = open_day(dt.date(2002, 3, 2))
    assert box(tab) == expected_box(lake, dt.date(2002, 3, 2))
    rows = {row[1]: row for row in box(tab)}
    assert list(rows) == ["CNY", "KZT", "KGS", "TJS", "UZS"]
    assert rows["KZT"] == ("Kazakhstan", "KZT", "Kazakhstan Tenge", "100", "20.3393")
    # The CBR quoted BYR and TRL that day (the recorded document), and the warehouse holds
    # them; Belarus and Turkey had no SCO status in 2002, so the box has no row for them.
    old = run_query(lake, "SELECT char_code, nominal, value FROM rates "
                          "WHERE rate_date = '2002-03-02' AND char_code IN ('BYR', 'TRL') "
                          "ORDER BY 1").to_pylist()
    assert [(r["char_code"], r["nominal"], str(r["value"])) for r in old] == [
        ("BYR", 1000, "18.4290"), ("TRL", 1000000, "22.2616")]
    assert not {"BYR", "TRL", "BYN", "TRY"} & set(rows)
    assert tab.inner_text("#publication-date") == "02.03.2002"
    assert statuses(tab) == {"Member states": FOUNDERS}
    # 12:00 Moscow (UTC+3) = 09:00 UTC; Astana was UTC+6 then, Bishkek UTC+5 in winter.
    assert clocks(tab) == {"Beijing": "17:00", "Astana": "15:00", "Bishkek": "14:00",
                           "Moscow": "12:00", "Dushanbe": "14:00", "Tashkent": "14:00"}
    assert headlines(tab) == []  # the news fixtures start in 2011
    assert tab.inner_text("ul.headlines") == "No news stored up to this day."


def test_december_2019_page_members_observers_headlines(lake, open_day, site):
    day = dt.date(2019, 12, 17)
    tab = open_day(day)
    assert box(tab) == expected_box(lake, day)
    assert {row[1] for row in box(tab)} >= {"CNY", "INR", "PKR", "BYN", "TRY", "MNT", "IRR"}
    assert tab.inner_text("#publication-date") == "17.12.2019"
    assert statuses(tab) == {
        "Member states": sorted([*FOUNDERS, "India", "Pakistan"]),
        "Observer states": ["Afghanistan", "Belarus", "Iran", "Mongolia"],
        "Dialogue partners": ["Armenia", "Azerbaijan", "Cambodia", "Nepal", "Sri Lanka",
                              "Turkey"],
    }
    shown = headlines(tab)
    assert len(shown) == 10
    assert [(t, title) for t, title, _ in shown[:4]] == [
        ("17.12.2019 11:28", "Chinas Foreign Minister Calls For Free Trade Deal With EU"),
        ("17.12.2019 11:14", "Russia, India Start Practical Part of Indra-2019 Joint Exercise "
                             "- Russian Pacific Fleet"),
        ("17.12.2019 09:00", SCRIPT_TITLE),
        ("16.12.2019 13:38", "China and India Should Aim To Safeguard World Order Along With "
                             "Multilateralism"),
    ]
    stored = run_query(lake, "SELECT published_msk, title, item_id FROM news_feed "
                             "WHERE published_at < '2019-12-17 21:00:00+00' LIMIT 10")
    assert [(t, title) for t, title, _ in shown] == [
        (r["published_msk"], r["title"]) for r in stored.to_pylist()]
    assert [href for _, _, href in shown] == [
        f"{site}/2019-12-17/articles/{r['item_id']}.html" for r in stored.to_pylist()]
    # The <script> stayed text: it did not run, and no script element came of it.
    assert tab.title() == "SCO — 17.12.2019"
    assert tab.eval_on_selector_all("script", "s => s.length") == 0
    assert "document.title" not in tab.content().split("<ul class=\"headlines\">")[0]
    # 12:00 Moscow = 09:00 UTC
    assert {k: clocks(tab)[k] for k in ("Beijing", "Astana", "New Delhi", "Islamabad",
                                        "Tehran", "Kabul", "Minsk")} == {
        "Beijing": "17:00", "Astana": "15:00", "New Delhi": "14:30", "Islamabad": "14:00",
        "Tehran": "12:30", "Kabul": "13:30", "Minsk": "12:00"}
    featured = tab.inner_text("#featured h2")
    assert featured == "Leonid Moiseev: World vests great hopes in SCO"
    assert "23.05.2011 10:00" in tab.inner_text("#featured .meta")


def test_article_page_has_the_full_text(lake, open_day):
    tab = open_day(dt.date(2019, 12, 17))
    tab.click("#featured h2 a")
    assert tab.inner_text("#article h1") == "Leonid Moiseev: World vests great hopes in SCO"
    (body,) = run_query(lake, "SELECT body FROM news WHERE title LIKE 'Leonid Moiseev%' "
                              "AND body IS NOT NULL").column("body").to_pylist()
    paragraphs = tab.eval_on_selector_all("#article .body p", "ps => ps.map(p => p.textContent)")
    assert paragraphs == [" ".join(p.split()) for p in body.split("\n\n")]
    assert len(paragraphs) == 3
    # "Original" is the link as published (an http-only site stays http), not the canonical
    # https url (issue 18).
    (link,) = run_query(lake, "SELECT link FROM news WHERE title LIKE 'Leonid Moiseev%' "
                              "AND body IS NOT NULL").column("link").to_pylist()
    assert link.startswith("http://")
    assert tab.get_attribute("#article .source a", "href") == link
    tab.go_back()
    tab.click(f"ul.headlines a:text-is({SCRIPT_TITLE!r})")
    assert tab.inner_text("#article h1") == SCRIPT_TITLE
    assert tab.eval_on_selector_all("script", "s => s.length") == 0


def test_2025_page_after_tianjin_lists_partners(lake, open_day):
    day = dt.date(2025, 9, 15)
    tab = open_day(day)
    assert box(tab) == expected_box(lake, day)
    assert tab.inner_text("#publication-date") == "13.09.2025"  # Saturday's rates on Monday
    assert statuses(tab) == {
        "Member states": sorted([*FOUNDERS, "India", "Pakistan", "Iran", "Belarus"]),
        "SCO partners": ["Afghanistan", "Armenia", "Azerbaijan", "Bahrain", "Cambodia",
                         "Egypt", "Kuwait", "Laos", "Maldives", "Mongolia", "Myanmar", "Nepal",
                         "Qatar", "Saudi Arabia", "Sri Lanka", "Turkey",
                         "United Arab Emirates"],
    }
    # Astana moved to UTC+5 in March 2024; Kathmandu is UTC+5:45.
    shown = clocks(tab)
    assert len(shown) == 27
    assert {k: shown[k] for k in ("Astana", "Kathmandu", "Vientiane", "Moscow", "Tehran")} == {
        "Astana": "14:00", "Kathmandu": "14:45", "Vientiane": "16:00", "Moscow": "12:00",
        "Tehran": "12:30"}
    assert headlines(tab)[0][:2] == (
        "13.01.2020 14:10", "SCO Secretary-General meets with Turkmenistans Ambassador to China")


@pytest.mark.parametrize("day", DAYS)
def test_screenshot_is_not_blank(open_day, day, tmp_path):
    from PIL import Image

    tab = open_day(day)
    png = tab.screenshot(full_page=True)
    image = Image.open(io.BytesIO(png)).convert("RGB")
    assert image.width == 1200 and image.height >= 900
    colours = image.getcolors(maxcolors=1 << 20)
    assert len(colours) > 50  # text, the table's header band, links
    # Not one colour covering nearly everything: the page's background is under 97 %.
    assert max(count for count, _ in colours) < 0.97 * image.width * image.height


def test_page_command_writes_the_day_and_a_rebuild_replaces_it(lake, tmp_path):
    from typer.testing import CliRunner

    from sco_etl.flows.cli import app

    env = {"SCO_ETL_DATA_DIR": str(lake.root)}
    out = tmp_path / "site"
    first = CliRunner().invoke(app, ["page", "--date", "2019-12-17", "-o", str(out)], env=env)
    assert first.exit_code == 0, first.output
    day = out / "2019-12-17"
    articles = sorted(p.name for p in (day / "articles").iterdir())
    assert len(articles) == 11  # ten headlines and the featured interview
    (day / "stale.html").write_text("left from an earlier build")
    again = CliRunner().invoke(app, ["page", "--date", "2019-12-17", "-o", str(out)], env=env)
    assert again.exit_code == 0, again.output
    assert sorted(p.name for p in out.iterdir()) == ["2019-12-17"]  # no temporary folders
    assert not (day / "stale.html").exists()
    html = (day / "index.html").read_text()
    escaped = "&lt;script&gt;document.title=&#39;pwned&#39;&lt;/script&gt; &amp; &#34;Modi&#34;"
    assert escaped in html


def test_readme_example_headlines_in_the_week_the_currency_moved_most(lake):
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    sql = readme.split("### Headlines about a country in the week")[1].split("```sql")[1]
    sql = sql.split("```")[0]
    weeks = run_query(lake, "SELECT date_trunc('week', r.rate_date) AS week, "
                            "max(r.unit_rate) / min(r.unit_rate) - 1 AS move FROM rates r "
                            "WHERE char_code = 'INR' GROUP BY ALL ORDER BY move DESC").to_pylist()
    worst = weeks[0]["week"]
    rows = run_query(lake, sql).to_pylist()
    india = run_query(lake, "SELECT published_msk, title FROM country_news "
                            "WHERE country = 'India' AND published_date >= ?::DATE "
                            "AND published_date < ?::DATE + 7 ORDER BY published_at",
                      [worst, worst]).to_pylist()
    assert [(r["published_msk"], r["title"]) for r in rows] == [
        (r["published_msk"], r["title"]) for r in india]
    assert rows and all("India" in r["title"] for r in rows)

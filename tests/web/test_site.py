"""The live site of `sco-etl web` in a real browser: Debian's headless Chromium via Playwright.

A reader opens today's page, steps to the previous day, picks a day, searches, opens an
article and a country page; the DOM is checked against the warehouse.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from sco_etl.schemas import RATES
from sco_etl.schemas.clock import moscow_today
from tests.fakes.browser import chromium, needs_chromium

pytestmark = needs_chromium


@pytest.fixture(scope="module")
def browser():
    with chromium() as launched:
        yield launched


@pytest.fixture
def tab(browser, web):
    page = browser.new_page(viewport={"width": 1200, "height": 900}, base_url=web)
    yield page
    page.close()


def board(tab) -> dict[str, str]:
    """Code → the rate shown in the box."""
    return dict(tab.eval_on_selector_all(
        "table.board tbody tr",
        "rows => rows.map(r => [r.dataset.code, r.querySelector('td.rate').textContent])"))


def test_today_then_the_previous_day_then_a_picked_day(tab, lake):
    today = moscow_today()
    tab.goto("/")
    assert tab.get_attribute("p.day", "data-day") == today.isoformat()
    cny = lake.read(RATES, where=f"char_code = 'CNY' AND rate_date <= DATE '{today}'")
    latest = max(cny.to_pylist(), key=lambda row: row["rate_date"])
    assert board(tab)["CNY"] == f"{latest['value']:.4f}"  # the rate in force today, Moscow

    tab.click("#previous-day")
    tab.wait_for_url(f"**/{today - dt.timedelta(days=1)}")
    assert tab.get_attribute("p.day", "data-day") == (today - dt.timedelta(days=1)).isoformat()

    tab.fill("form.date-picker input[name=date]", "2025-04-01")
    tab.click("form.date-picker button")
    tab.wait_for_url("**/2025-04-01")
    shown = board(tab)
    assert shown["CNY"] == "11.7136" and shown["KZT"] == "16.9831"
    assert tab.text_content("#publication-date") == "01.04.2025"
    assert tab.get_attribute("#next-day", "href") == "/2025-04-02"


def test_search_then_open_the_article(tab):
    tab.goto("/2019-12-17")
    tab.fill("nav input[name=q]", "aspirants")
    tab.click("nav button")
    tab.wait_for_url("**/search?q=aspirants")
    assert tab.text_content("#hit-count").startswith("1 story matches")
    hit = tab.locator("ol.hits li").first
    assert hit.locator("a").text_content() == "Leonid Moiseev: World vests great hopes in SCO"
    assert "aspirants" in hit.locator(".snippet").text_content()
    hit.locator("a").click()
    tab.wait_for_url("**/news/*")
    assert tab.text_content("#article h1") == "Leonid Moiseev: World vests great hopes in SCO"
    assert tab.text_content("#article .meta time") == "23.05.2011 10:00"
    assert "There are aspirants for the status of an observer" in tab.text_content(
        "#article .body")
    original = tab.get_attribute("#article .source a", "href")
    assert original.startswith("http://")  # as published: the site serves plain http
    tab.click("header a")
    tab.wait_for_url("**/2011-05-23")


def test_a_country_page(tab, lake):
    tab.goto("/country/IN?from=2025-03-25&to=2025-04-05")
    assert tab.text_content("h1") == "India"
    history = tab.eval_on_selector_all(
        "#status-history tbody tr", "rows => rows.map(r => [...r.cells].map(c => c.textContent))")
    assert history == [["observer", "05.07.2005", "08.06.2017"], ["member", "09.06.2017", "now"]]
    points = tab.get_attribute("svg.chart polyline", "points").split()
    rows = lake.read(RATES, where="char_code = 'INR' AND rate_date BETWEEN DATE '2025-03-25' "
                                  "AND DATE '2025-04-05'").to_pylist()
    assert len(points) == len(rows) == int(tab.get_attribute("#currency-chart", "data-points"))
    latest = max(rows, key=lambda row: row["rate_date"])["unit_rate"]
    assert Decimal(tab.text_content("#chart-latest")) == latest
    assert tab.text_content("#currency-chart h2").startswith("INR in rubles per unit")


def test_the_embeddable_box(tab):
    tab.goto("/embed/board?date=2025-04-01")
    assert board(tab)["CNY"] == "11.7136"
    assert tab.locator("html > body > div.sco-board").count() == 1  # a fragment: no page chrome
    assert tab.locator("nav").count() == 0


def test_pages_work_without_javascript(browser, web):
    context = browser.new_context(java_script_enabled=False, base_url=web)
    page = context.new_page()
    try:
        page.goto("/2025-04-01")
        page.fill("form.date-picker input[name=date]", "2019-12-17")
        page.click("form.date-picker button")
        page.wait_for_url("**/2019-12-17")
        assert page.get_attribute("p.day", "data-day") == "2019-12-17"
    finally:
        context.close()

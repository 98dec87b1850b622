"""The live site: any day's page by its address, articles, search, country pages, and the
currency box alone for a portal to embed.

Server-rendered from the templates of `sco-etl page` (Jinja2, every feed text escaped) and
usable without JavaScript: day-to-day links and the date picker are plain links and a GET form;
only today's clocks tick with a few lines of script.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.convertors import Convertor, register_url_convertor

from sco_etl.flows.web import inputs
from sco_etl.flows.web.api import _snapshot
from sco_etl.flows.web.inputs import BadParameter
from sco_etl.schemas.checks import FIRST_RATE_DATE
from sco_etl.schemas.clock import MOSCOW, moscow_today, moscow_tomorrow, utc_now
from sco_etl.tasks.page.model import Article, article, board_row, build_page, safe_id
from sco_etl.tasks.page.render import STYLESHEET, environment
from sco_etl.warehouse.page import page_data
from sco_etl.warehouse.search import snippet


class DayConvertor(Convertor):
    """A path segment that looks like a day, `2025-04-01`; its range is checked by the route."""

    regex = r"\d{4}-\d{2}-\d{2}"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("day", DayConvertor())
router = APIRouter(include_in_schema=False)
DAY_PATH = "{day:day}"
CHART_DAYS = 365
"""A country page charts its currency over the last year unless asked otherwise."""
STORIES = 10


@dataclass(frozen=True)
class SiteLinks:
    """Links of the live site: every page has its own address."""

    navigation = True
    first_day = FIRST_RATE_DATE.isoformat()

    @property
    def last_day(self) -> str:
        return moscow_tomorrow().isoformat()

    def stylesheet(self) -> str:
        return f"/{STYLESHEET}"

    def home(self) -> str:
        return "/"

    def day(self, day: dt.date) -> str:
        return f"/{day.isoformat()}"

    def pick_day(self) -> str:
        return "/day"

    def article(self, item_id: str) -> str:
        return f"/news/{safe_id(item_id)}"

    def search(self) -> str:
        return "/search"

    def country(self, code: str) -> str:
        return f"/country/{code}"


LINKS = SiteLinks()
TEMPLATES = environment(__package__)
"""The site's templates, then those of `sco-etl page` (compiled once, on first use)."""


@router.get(f"/{STYLESHEET}")
def stylesheet() -> Response:
    css = TEMPLATES.loader.get_source(TEMPLATES, STYLESHEET)[0]
    return Response(css, media_type="text/css")


@router.get("/")
def today(request: Request, known_at: str | None = None) -> HTMLResponse:
    """Today's page (Moscow's today)."""
    return _day_page(request, moscow_today(), known_at)


@router.get("/day")
def pick_day(date: Annotated[str | None, Query()] = None) -> RedirectResponse:
    """The date picker's form: on to that day's address."""
    day = inputs.rate_date(date, "date") or moscow_today()
    return RedirectResponse(LINKS.day(day), status_code=303)


@router.get("/" + DAY_PATH)
def day_page(request: Request, day: str, known_at: str | None = None) -> HTMLResponse:
    """Any day's page, from 1 July 1992 to tomorrow."""
    return _day_page(request, inputs.rate_date(day, "date"), known_at)


@router.get("/news/{item_id}")
def news_item(request: Request, item_id: str, known_at: str | None = None) -> HTMLResponse:
    """One article, as the day's page links it."""
    snapshot = _snapshot(request, known_at)
    row = snapshot.article(inputs.item_id(item_id))
    if row is None:
        return error_page(404, f"No news item {item_id} in the warehouse.")
    shown: Article = article(row)
    # The article page links back to the page of its own (Moscow) day.
    page = {"day": row["published_at"].astimezone(MOSCOW).date(), "known_at": known_at}
    return _render("article.html.j2", page=page, article=shown, countries=row["countries"])


@router.get("/search")
def search(request: Request,
           q: Annotated[str | None, Query()] = None,
           since: Annotated[str | None, Query()] = None,
           known_at: str | None = None) -> HTMLResponse:
    """Ranked search hits with a snippet around the words found."""
    query = (q or "").strip()
    hits = []
    if query:
        snapshot = _snapshot(request, known_at)
        relation = snapshot.news(q=query, since=inputs.moment(since, "since"), limit=20)
        for row in relation.to_arrow_table().to_pylist():
            body = snapshot.article(row["item_id"]) or {}
            row["snippet"] = snippet(query, body.get("body"), row["summary"], row["title"])
            hits.append(row)
    return _render("search.html.j2", query=query, hits=hits, page=None)


@router.get("/country/{code}")
def country(request: Request, code: str,
            start: Annotated[str | None, Query(alias="from")] = None,
            to: Annotated[str | None, Query()] = None,
            known_at: str | None = None) -> HTMLResponse:
    """An SCO country: its status history, its currency over a period, the latest stories
    that name it."""
    wanted = inputs.country(code)
    snapshot = _snapshot(request, known_at)
    history = snapshot.country(wanted).to_arrow_table().to_pylist()
    if not history:
        return error_page(404, f"{code} is not an SCO country (ISO 3166 alpha-2 codes: "
                               "KZ, CN, IN, …).")
    last = inputs.rate_date(to, "to") or moscow_today()
    first = inputs.rate_date(start, "from") or max(FIRST_RATE_DATE,
                                                   last - dt.timedelta(days=CHART_DAYS))
    if first > last:
        raise BadParameter("from", f"from={first} is after to={last}", "from on or before to")
    currency = history[-1]["char_code"]
    series = [] if currency == "RUB" else snapshot.rates(
        [currency], first, last).to_arrow_table().to_pylist()
    stories = snapshot.news(country=wanted, limit=STORIES).to_arrow_table().to_pylist()
    return _render("country.html.j2", country=history[-1], history=history, currency=currency,
                   first=first, last=last, chart=chart(series), series=series,
                   stories=stories, page=None)


@router.get("/embed/board")
def embed_board(request: Request, date: Annotated[str | None, Query()] = None,
                known_at: str | None = None) -> HTMLResponse:
    """The currency box alone, an HTML fragment for a portal's iframe or include."""
    day = inputs.rate_date(date, "date") or moscow_today()
    snapshot = _snapshot(request, known_at)
    rows = snapshot.board(day).to_arrow_table().to_pylist()
    dates = [row["rate_date"] for row in rows if row["rate_date"]]
    box = {"day": day, "board": [board_row(row) for row in rows],
           "publication_date": f"{max(dates):%d.%m.%Y}" if dates else None}
    return _render("embed_board.html.j2", page=box)


def error_page(status: int, message: str,
               headers: dict[str, str] | None = None) -> HTMLResponse:
    html = TEMPLATES.get_template("error.html.j2").render(
        status=status, message=message, links=LINKS, page=None)
    return HTMLResponse(html, status_code=status, headers=headers)


@dataclass(frozen=True)
class Chart:
    """A currency's unit rate as an SVG polyline, drawn on the server (no script)."""

    points: str
    low: str
    high: str
    first: str
    last: str
    width: int = 640
    height: int = 200


def chart(series: list[dict], width: int = 640, height: int = 200) -> Chart | None:
    """The polyline of `unit_rate` over `date`; None for fewer than two points."""
    if len(series) < 2:
        return None
    values = [row["unit_rate"] for row in series]
    low, high = min(values), max(values)
    span = (high - low) or Decimal(1)
    first, last = series[0]["date"], series[-1]["date"]
    days = max((last - first).days, 1)
    points = " ".join(
        f"{(row['date'] - first).days * width / days:.1f},"
        f"{float(height - (row['unit_rate'] - low) / span * height):.1f}"
        for row in series)
    return Chart(points, _plain(low), _plain(high), first.isoformat(), last.isoformat(),
                 width, height)


def _plain(value: Decimal) -> str:
    digits = format(value, "f")
    return digits.rstrip("0").rstrip(".") if "." in digits else digits


def _day_page(request: Request, day: dt.date, known_at: str | None) -> HTMLResponse:
    snapshot = _snapshot(request, known_at)
    page = build_page(page_data(snapshot.connection(), day), utc_now(), known_at=known_at)
    return _render("page.html.j2", page=page)


def _render(template: str, **context: object) -> HTMLResponse:
    return HTMLResponse(TEMPLATES.get_template(template).render(links=LINKS, **context))

"""The seed page as plain values: the warehouse's rows for a day, shaped for the templates.

Pure: no I/O. The clocks come from the tz database (`zoneinfo`), which knows each capital's
offset on the day (Moscow UTC+4 in 2011–2014, Astana UTC+6 until March 2024).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from decimal import Decimal
from zoneinfo import ZoneInfo

from sco_etl.schemas.checks import FIRST_RATE_DATE
from sco_etl.schemas.clock import MOSCOW, ONE_DAY, moscow_tomorrow
from sco_etl.warehouse.page import PageData

PAGE_NOON = dt.time(12, 0)
"""The moment of a page for a past day: noon, Moscow time, when that day's rates were known."""
STATUS_TITLES = {"member": "Member states", "observer": "Observer states",
                 "dialogue_partner": "Dialogue partners", "partner": "SCO partners"}
SAFE_ID = re.compile(r"^[0-9a-f]{32}$")
WEB_LINK = re.compile(r"^https?://", re.IGNORECASE)


@dataclass(frozen=True)
class BoardRow:
    country: str
    code: str
    currency: str
    nominal: str
    rate: str
    rate_date: str
    """dd.mm.yyyy of this row's publication (a monthly currency's may be older)"""


@dataclass(frozen=True)
class Headline:
    item_id: str
    published_msk: str
    title: str


@dataclass(frozen=True)
class Article:
    item_id: str
    title: str
    published_msk: str
    author: str | None
    link: str | None
    """the original as published (an http-only site stays http), only when it is an
    http(s) link"""
    source: str
    paragraphs: list[str]


@dataclass(frozen=True)
class Clock:
    capital: str
    country: str
    timezone: str
    time: str
    """HH:MM local time at the page's moment"""
    utc_offset: str


@dataclass
class Page:
    """Everything one page shows."""

    day: dt.date
    moment: dt.datetime
    live: bool
    """the page is today's: its clocks tick"""
    known_at: str | None
    previous_day: dt.date | None
    next_day: dt.date | None
    """the neighbouring days whose pages exist (1 July 1992 to tomorrow, Moscow)"""
    publication_date: str | None
    board: list[BoardRow]
    headlines: list[Headline]
    featured: Article | None
    articles: list[Article]
    statuses: list[tuple[str, list[str]]] = field(default_factory=list)
    clocks: list[Clock] = field(default_factory=list)


def page_moment(day: dt.date, now: dt.datetime) -> tuple[dt.datetime, bool]:
    """The moment the page shows: now for today's page, else noon Moscow time on `day`."""
    if now.astimezone(MOSCOW).date() == day:
        return now.astimezone(MOSCOW), True
    return dt.datetime.combine(day, PAGE_NOON, MOSCOW), False


def build_page(data: PageData, now: dt.datetime, known_at: str | None = None) -> Page:
    """The page for `data.day`, its clocks at the page's moment."""
    moment, live = page_moment(data.day, now)
    board = [board_row(row) for row in data.board.to_pylist()]
    dates = [row["rate_date"] for row in data.board.to_pylist() if row["rate_date"]]
    articles = {safe_id(row["item_id"]): article(row) for row in data.articles}
    return Page(
        day=data.day, moment=moment, live=live, known_at=known_at,
        previous_day=data.day - ONE_DAY if data.day > FIRST_RATE_DATE else None,
        next_day=data.day + ONE_DAY if data.day < moscow_tomorrow(now) else None,
        publication_date=f"{max(dates):%d.%m.%Y}" if dates else None,
        board=board,
        headlines=[Headline(safe_id(row["item_id"]), row["published_msk"], row["title"])
                   for row in data.headlines.to_pylist()],
        featured=articles.get(data.featured["item_id"]) if data.featured else None,
        articles=list(articles.values()),
        statuses=statuses(data.countries),
        clocks=clocks(data.countries, moment),
    )


def board_row(row: dict) -> BoardRow:
    value: Decimal | None = row["value"]
    return BoardRow(
        country=row["country"], code=row["char_code"] or "", currency=row["currency"] or "",
        nominal=str(row["nominal"]) if row["nominal"] is not None else "",
        rate=f"{value:.4f}" if value is not None else "—",
        rate_date=f"{row['rate_date']:%d.%m.%Y}" if row["rate_date"] else "",
    )


def article(row: dict) -> Article:
    text = row.get("body") or row.get("summary") or ""
    paragraphs = [" ".join(p.split()) for p in re.split(r"\n\s*\n|\n", text) if p.strip()]
    link = row["link"] if WEB_LINK.match(row["link"] or "") else None
    return Article(row["item_id"], row["title"], row["published_msk"], row.get("author"),
                   link, row["source"], paragraphs)


def safe_id(item_id: str) -> str:
    """An item id, checked: ids are hex digests, so they are safe in file names and paths;
    anything else would be a bug upstream."""
    if not SAFE_ID.match(item_id):
        raise ValueError(f"not an item id: {item_id!r}")
    return item_id


def statuses(countries: list[dict]) -> list[tuple[str, list[str]]]:
    """(heading, countries) per SCO status held on the day, members first."""
    grouped: dict[str, list[str]] = {}
    for row in countries:
        grouped.setdefault(row["status"], []).append(row["country"])
    return [(STATUS_TITLES[s], sorted(grouped[s])) for s in STATUS_TITLES if s in grouped]


def clocks(countries: list[dict], moment: dt.datetime) -> list[Clock]:
    """One clock per capital, in the order of the status lists."""
    shown, result = set(), []
    for row in countries:
        if row["capital"] in shown:
            continue
        shown.add(row["capital"])
        local = moment.astimezone(ZoneInfo(row["timezone"]))
        offset = local.strftime("%z")
        result.append(Clock(row["capital"], row["country"], row["timezone"],
                            f"{local:%H:%M}", f"UTC{offset[:3]}:{offset[3:]}"))
    return result

"""Build the seed page of a day as static HTML: Jinja2 templates, autoescaped, into a folder
per day.

A day's folder is built under a temporary name beside its final one and renamed into place,
so a web server never serves half a page.
"""

from __future__ import annotations

import datetime as dt
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

from jinja2 import ChoiceLoader, Environment, PackageLoader, StrictUndefined, select_autoescape

from sco_etl.schemas.clock import utc_now
from sco_etl.tasks.page.model import Page, build_page
from sco_etl.warehouse import Warehouse
from sco_etl.warehouse.export import swap_in
from sco_etl.warehouse.page import page_data
from sco_etl.warehouse.query import connect_read_only

STYLESHEET = "style.css"


@dataclass(frozen=True)
class FileLinks:
    """Links of the static pages `sco-etl page` writes, relative to the file they are in."""

    root: str = ""
    """From the file's folder to the day's folder: "" for index.html, "../" for articles."""
    navigation = False
    """Static pages hold one day: no day-to-day navigation or search."""

    def stylesheet(self) -> str:
        return f"{self.root}{STYLESHEET}"

    def article(self, item_id: str) -> str:
        return f"{self.root}articles/{item_id}.html"

    def day(self, day: object) -> str:
        return f"{self.root}index.html"


@dataclass(frozen=True)
class WrittenPage:

    folder: Path
    index: Path
    articles: int
    bytes: int


def build_day(warehouse: Warehouse, day: dt.date, output: Path,
              known_at: str | None = None, now: dt.datetime | None = None) -> WrittenPage:
    """Write the page of `day` under `output`, as the warehouse stood at `known_at`."""
    with connect_read_only(warehouse, known_at) as connection:
        data = page_data(connection, day)
    return write_page(build_page(data, now or utc_now(), known_at=known_at), output)


def environment(*packages: str) -> Environment:
    """The page templates, and those of `packages` first (the web app's own)."""
    loaders = [PackageLoader(package, "templates") for package in packages]
    # Autoescaping every template: titles, bodies and authors come from news feeds.
    return Environment(loader=ChoiceLoader([*loaders, PackageLoader(__package__, "templates")]),
                       autoescape=select_autoescape(["html", "j2"], default=True),
                       undefined=StrictUndefined, trim_blocks=False)


def render(page: Page) -> dict[str, str]:
    """File name (relative to the day's folder) → content."""
    env = environment()
    files = {"index.html": env.get_template("page.html.j2").render(page=page,
                                                                    links=FileLinks())}
    article_template = env.get_template("article.html.j2")
    for article in page.articles:
        files[f"articles/{article.item_id}.html"] = article_template.render(
            page=page, article=article, links=FileLinks("../"))
    files[STYLESHEET] = env.loader.get_source(env, STYLESHEET)[0]
    return files


def write_page(page: Page, output: Path) -> WrittenPage:
    """Write `output/<yyyy-mm-dd>/`; today's page also becomes `output/index.html`'s target."""
    output.mkdir(parents=True, exist_ok=True)
    folder = output / page.day.isoformat()
    building = output / f".{folder.name}.{uuid.uuid4().hex}.tmp"
    files = render(page)
    try:
        for name, content in files.items():
            path = building / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content, encoding="utf-8")
        swap_in(building, folder)
    finally:
        shutil.rmtree(building, ignore_errors=True)
    if page.live:
        redirect = output / f".index.{uuid.uuid4().hex}.tmp"
        redirect.write_text(
            f'<!DOCTYPE html><meta charset="utf-8"><meta http-equiv="refresh" '
            f'content="0; url={folder.name}/index.html"><a href="{folder.name}/index.html">'
            f"{folder.name}</a>\n", encoding="utf-8")
        redirect.replace(output / "index.html")
    return WrittenPage(folder, folder / "index.html", len(page.articles),
                       sum(len(c.encode()) for c in files.values()))

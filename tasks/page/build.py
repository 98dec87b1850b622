"""Build one day's seed page: read the warehouse, shape the page, write the files."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sco_etl.schemas.clock import utc_now
from sco_etl.tasks.page.model import build_page
from sco_etl.tasks.page.render import WrittenPage, write_page
from sco_etl.warehouse import Warehouse
from sco_etl.warehouse.page import page_data
from sco_etl.warehouse.query import connect_read_only


def build_day(warehouse: Warehouse, day: dt.date, output: Path,
              known_at: str | None = None, now: dt.datetime | None = None) -> WrittenPage:
    """Write the page of `day` under `output`, as the warehouse stood at `known_at`."""
    with connect_read_only(warehouse, known_at) as connection:
        data = page_data(connection, day)
    page = build_page(data, now or utc_now(), known_at=known_at)
    return write_page(page, output)

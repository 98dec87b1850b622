"""Warehouses filled for tests and benchmarks: rates written directly, and the seed page's
three days ingested through the flows."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pyarrow as pa

from sco_etl.schemas import CURRENCIES, RATES
from sco_etl.warehouse import Warehouse
from tests.fakes.news_site import NewsSite

PAGE_RATE_WINDOWS = ((dt.date(2002, 2, 26), dt.date(2002, 3, 2)),
                     (dt.date(2019, 12, 1), dt.date(2019, 12, 17)),
                     (dt.date(2025, 9, 1), dt.date(2025, 9, 15)))
"""Rates around the page days: 2002, December 2019, September 2025 after the Tianjin summit."""
UNIT_PLACES = Decimal("1e-12")


def store_rates(warehouse: Warehouse, *days: dt.date, frequency: str = "daily") -> None:
    """One CNY rate on each of `days`, written past the flows."""
    loaded = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    rows = [{"rate_date": day, "cbr_id": "R01375", "char_code": "CNY", "num_code": "156",
             "nominal": 1, "value": Decimal("11.4927"), "unit_rate": Decimal("11.4927"),
             "frequency": frequency, "loaded_at": loaded, "run_id": "test"} for day in days]
    with warehouse.write() as writer:
        writer.upsert(RATES, pa.Table.from_pylist(rows, schema=RATES.arrow_schema))


def store_yuan_directory(warehouse: Warehouse) -> None:
    """The yuan's entry of the CBR directory, written past the flows: what the board needs to
    show a rate stored by `store_rates`."""
    yuan = {"cbr_id": "R01375", "parent_id": "R01375", "char_code": "CNY", "num_code": "156",
            "name_ru": "Юань", "name_en": "China Yuan", "nominal": 1, "frequency": "daily",
            "source": "directory"}
    with warehouse.write() as writer:
        writer.upsert(CURRENCIES, pa.Table.from_pylist([yuan], schema=CURRENCIES.arrow_schema))


def ingest_page_days(data: Path, cbr_url: str, site: NewsSite) -> list[str]:
    """Rates of `PAGE_RATE_WINDOWS` from `cbr_url`, then the English news fixtures from `site`
    with the Moiseev interview's article text; returns the feed URLs."""
    from sco_etl.flows.news import ingest_news
    from sco_etl.flows.rates import ingest_rates

    for start, end in PAGE_RATE_WINDOWS:
        ingest_rates(start=start, end=end, data_dir=str(data), cbr_url=cbr_url)
    feeds = site.serve_feeds()
    ingest_news(feeds=feeds, fetch_articles=True, data_dir=str(data))
    return feeds


def move_inr_in_protest_week(warehouse: Warehouse) -> None:
    """The rupee up 8% on 12 December 2019, written past the flows: the week India's
    citizenship-law protests made headlines becomes the one its currency moved most, whatever
    the synthetic history gives the other weeks (the README's example query needs an answer)."""
    day = dt.date(2019, 12, 12)
    (row,) = warehouse.read(RATES, where=f"char_code = 'INR' AND rate_date = DATE '{day}'"
                            ).to_pylist()
    row["value"] = (row["value"] * Decimal("1.08")).quantize(Decimal("0.0001"))
    row["unit_rate"] = (row["value"] / row["nominal"]).quantize(UNIT_PLACES)
    with warehouse.write() as writer:
        writer.upsert(RATES, pa.Table.from_pylist([row], schema=RATES.arrow_schema))

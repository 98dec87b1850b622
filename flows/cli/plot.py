"""`sco-etl plot`: the warehouse's rate series as a PNG, with defaults readable without options."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from sco_etl.schemas.errors import NoDataError
from sco_etl.schemas.reference import BASE_CURRENCY, sco_countries
from sco_etl.tasks import plot
from sco_etl.warehouse import Warehouse, reports

DEFAULT_YEARS = 5
DEFAULT_OUTPUT = Path("sco-rates.png")


@dataclass(frozen=True)
class Chart:
    """What `plot_rates` drew and where."""

    path: Path
    codes: list[str]
    missing: list[str]
    start: dt.date
    end: dt.date
    per_unit: bool
    size: int


def member_currency_codes(on: dt.date) -> list[str]:
    """Currencies of the SCO member states on a date, in accession order, the ruble excluded."""
    codes: list[str] = []
    for row in sco_countries().to_pylist():
        valid = row["valid_from"] <= on and (row["valid_to"] is None or on <= row["valid_to"])
        if (row["status"] == "member" and valid and row["char_code"] != BASE_CURRENCY
                and row["char_code"] not in codes):
            codes.append(row["char_code"])
    return codes


def default_start(today: dt.date, years: int = DEFAULT_YEARS) -> dt.date:
    """The same day `years` years ago (28 February for a 29 February)."""
    try:
        return today.replace(year=today.year - years)
    except ValueError:
        return today.replace(year=today.year - years, day=28)


def plot_rates(
    warehouse: Warehouse, codes: list[str], start: dt.date, end: dt.date | None = None,
    per_unit: bool = False, output: Path = DEFAULT_OUTPUT,
) -> Chart:
    """Draw the currencies' rates from `start` to `end` into a PNG at `output`.

    Raises:
        NoDataError: none of the currencies has a rate in the period.
    """
    table = reports.rate_series(warehouse, codes, start, end)
    found = {s.code: s for s in plot.series_from_table(table)}
    wanted = [code.upper() for code in codes]
    series = [found[code] for code in wanted if code in found]
    if not series:
        raise NoDataError(
            f"no rates stored for {', '.join(wanted)} from {start}"
            f"{f' to {end}' if end else ''}: load them with `sco-etl rates --start {start}`"
        )
    size = plot.save_png(plot.rates_figure(series, per_unit), output)
    return Chart(
        path=output, codes=[s.code for s in series],
        missing=[code for code in wanted if code not in found],
        start=min(s.days[0] for s in series), end=max(s.days[-1] for s in series),
        per_unit=per_unit, size=size,
    )

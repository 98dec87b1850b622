"""Charts of CBR rates (`sco-etl plot`): the warehouse's series drawn as a PNG, with defaults
readable without options.

Uses matplotlib's object API with the Agg canvas, never `pyplot`: no global figure state and no
GUI backend, so it is safe in threads, in flow runs and on machines without a display.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
from matplotlib.figure import Figure

from sco_etl.schemas.errors import NoDataError
from sco_etl.schemas.reference import BASE_CURRENCY, sco_countries
from sco_etl.warehouse import Warehouse, reports

INDEX_BASE = 100.0
LOG_SCALE_RATIO = 50.0
"""Per-unit charts switch to a log axis when the largest rate is this many times the smallest
(CNY is ~100 times KZT): on a linear axis the small currencies would be flat lines at zero."""
FIGURE_SIZE = (11.0, 6.0)
DPI = 110
SOURCE_NOTE = "Source: Bank of Russia official rates; drawn by sco-etl"
DEFAULT_YEARS = 5
DEFAULT_OUTPUT = Path("sco-rates.png")


@dataclass(frozen=True)
class Series:
    """One currency's rate over time: rubles per one unit, or an index."""

    code: str
    days: tuple[dt.date, ...]
    values: tuple[float, ...]


def series_from_table(table: pa.Table) -> list[Series]:
    """Split a `day`, `char_code`, `rub_per_unit` table into one series per currency."""
    by_code: dict[str, tuple[list[dt.date], list[float]]] = {}
    for row in table.to_pylist():
        days, values = by_code.setdefault(row["char_code"], ([], []))
        days.append(row["day"])
        values.append(row["rub_per_unit"])
    return [Series(code, tuple(days), tuple(values)) for code, (days, values) in by_code.items()]


def indexed(series: Series) -> Series:
    """The series scaled so that its first value is 100."""
    base = series.values[0]
    return Series(series.code, series.days, tuple(v / base * INDEX_BASE for v in series.values))


def rates_figure(series: list[Series], per_unit: bool = False) -> Figure:
    """One line per currency (legend order; each with a value at least): indexed to 100 on
    the first day, or rubles per one unit."""
    drawn = series if per_unit else [indexed(s) for s in series]
    figure = Figure(figsize=FIGURE_SIZE, dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    first = min(s.days[0] for s in drawn)
    last = max(s.days[-1] for s in drawn)
    for line in drawn:
        # A currency that starts later (BYN in July 2016) is indexed to its own first day.
        label = line.code if per_unit or line.days[0] == first else (
            f"{line.code} (100 = {line.days[0]})")
        axes.plot(line.days, line.values, label=label, linewidth=1.4)
    if per_unit:
        axes.set_ylabel("rubles per one unit")
        values = [v for s in drawn for v in s.values if v > 0]
        if values and max(values) / min(values) >= LOG_SCALE_RATIO:
            axes.set_yscale("log")
        title = "Ruble rates of SCO currencies (CBR official rate)"
    else:
        # The leading underscore keeps the reference line out of the legend.
        axes.axhline(INDEX_BASE, color="0.6", linewidth=0.8, linestyle="--", label="_base")
        axes.set_ylabel(f"rubles per unit, index ({first} = {INDEX_BASE:g})")
        title = "Ruble rates of SCO currencies, indexed (CBR official rate)"
    axes.set_title(f"{title}\n{first} – {last}", fontsize=12)
    locator = AutoDateLocator()
    axes.xaxis.set_major_locator(locator)
    axes.xaxis.set_major_formatter(ConciseDateFormatter(locator))
    axes.grid(True, color="0.9")
    axes.legend(loc="upper left", ncols=min(len(drawn), 5), fontsize=9, frameon=False)
    # A super-label, so the constrained layout keeps it clear of the date labels.
    figure.supxlabel(SOURCE_NOTE, x=0.99, ha="right", fontsize=7, color="0.5")
    return figure


def save_png(figure: Figure, path: Path) -> int:
    """Write the figure as a PNG; return its size in bytes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, format="png")
    return path.stat().st_size


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
    """Draw the currencies' rates from `start` to `end` into a PNG at `output` (NoDataError
    when none has a rate in the period)."""
    table = reports.rate_series(warehouse, codes, start, end)
    found = {s.code: s for s in series_from_table(table)}
    wanted = [code.upper() for code in codes]
    series = [found[code] for code in wanted if code in found]
    if not series:
        raise NoDataError(
            f"no rates stored for {', '.join(wanted)} from {start}"
            f"{f' to {end}' if end else ''}: load them with `sco-etl rates --start {start}`"
        )
    size = save_png(rates_figure(series, per_unit), output)
    return Chart(
        path=output, codes=[s.code for s in series],
        missing=[code for code in wanted if code not in found],
        start=min(s.days[0] for s in series), end=max(s.days[-1] for s in series),
        per_unit=per_unit, size=size,
    )

"""A synthetic but realistic CBR rate history for the SCO currencies.

Every SCO currency ID CBR quotes or quoted, with its nominal and ID changes, Tuesday to
Saturday publication with holiday gaps (the rules of `tasks.cbr.calendar`), monthly-set
currencies, pre-1998 values in old rubles; and, on the dates of the real recorded documents
(`tests/fixtures/cbr`), exactly the values CBR published.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal
from functools import cached_property
from pathlib import Path

from sco_etl.tasks.cbr import calendar
from sco_etl.tasks.cbr.parse import parse_daily

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "cbr"
FIRST = dt.date(1992, 7, 1)
REDENOMINATION = dt.date(1998, 1, 1)
FOUR_PLACES = Decimal("0.0001")


@dataclass
class Series:
    """One CBR currency ID over its life."""

    cbr_id: str
    char_code: str
    num_code: str
    name_ru: str
    name_en: str
    start: dt.date
    end: dt.date | None
    nominals: list[tuple[dt.date, int]]
    unit_rub: float
    """Rubles (post-1998) per unit at the start of the series."""
    monthly_until: dt.date | None = None
    """Set monthly until this date (exclusive), daily after; `dt.date.max`: always monthly."""
    parent_id: str | None = None
    overrides: dict[dt.date, tuple[int, Decimal]] = field(default_factory=dict)

    def nominal_on(self, day: dt.date) -> int:
        nominal = self.nominals[0][1]
        for since, value in self.nominals:
            if day >= since:
                nominal = value
        return nominal

    def is_monthly_on(self, day: dt.date) -> bool:
        return self.monthly_until is not None and day < self.monthly_until

    def active_on(self, day: dt.date) -> bool:
        return self.start <= day and (self.end is None or day <= self.end)


def _series() -> list[Series]:
    d = dt.date
    always = dt.date.max
    return [
        Series("R01375", "CNY", "156", "Юань", "China Yuan", d(1992, 7, 1), None,
               [(FIRST, 10), (d(2023, 6, 1), 1)], 0.020),
        Series("R01335", "KZT", "398", "Тенге", "Kazakhstan Tenge", d(1993, 11, 15), None,
               [(FIRST, 100)], 0.0008),
        Series("R01370", "KGS", "417", "Сомов", "Kyrgyzstan Som", d(1993, 5, 10), None,
               [(FIRST, 100)], 0.0009),
        Series("R01717", "UZS", "860", "Узбекских сумов", "Uzbekistan Sum", d(1994, 7, 1), None,
               [(FIRST, 1000), (d(2021, 11, 1), 10000)], 0.0011),
        Series("R01670B", "TJR", "762", "Таджикских рублей", "Tajikistan Ruble",
               d(1995, 5, 10), d(2000, 10, 29), [(FIRST, 10)], 0.0015, parent_id="R01670"),
        Series("R01670", "TJS", "972", "Сомони", "Tajikistan Somoni", d(2000, 10, 30), None,
               [(FIRST, 10)], 12.0),
        Series("R01270", "INR", "356", "Индийских рупий", "Indian Rupee", d(1992, 7, 1), None,
               [(FIRST, 100)], 0.007),
        Series("R01090", "BYR", "974", "Белорусских рублей", "Belarussian Ruble",
               d(1992, 7, 1), d(2016, 6, 30), [(FIRST, 1000)], 0.0004),
        Series("R01090B", "BYN", "933", "Белорусский рубль", "Belarussian Ruble",
               d(2016, 7, 1), None, [(FIRST, 1)], 33.0, parent_id="R01090"),
        Series("R01700", "TRL", "792", "Турецких лир", "Turkish Lira", d(1992, 7, 1),
               d(2004, 12, 31), [(FIRST, 1000000)], 0.00002),
        Series("R01700J", "TRY", "949", "Турецких лир", "Turkish Lira", d(2005, 1, 1), None,
               [(FIRST, 1), (d(2021, 12, 15), 10)], 21.0, parent_id="R01700"),
        Series("R01020", "AZM", "031", "Азербайджанских манатов", "Azerbaijan Manat",
               d(1993, 3, 1), d(2005, 12, 31), [(FIRST, 10000)], 0.006),
        Series("R01020A", "AZN", "944", "Азербайджанский манат", "Azerbaijan Manat",
               d(2006, 1, 1), None, [(FIRST, 1)], 31.0, parent_id="R01020"),
        Series("R01060", "AMD", "051", "Армянских драмов", "Armenia Dram", d(1993, 11, 22),
               None, [(FIRST, 1000), (d(2022, 1, 1), 100)], 0.06),
        Series("R01230", "AED", "784", "Дирхам ОАЭ", "UAE Dirham", d(1997, 1, 1), None,
               [(FIRST, 10), (d(2023, 1, 1), 1)], 1.5, monthly_until=d(2023, 1, 1)),
        Series("R01240", "EGP", "818", "Египетских фунтов", "Egyptian Pound", d(1997, 1, 1),
               None, [(FIRST, 10)], 1.7, monthly_until=d(2023, 1, 1)),
        Series("R01355", "QAR", "634", "Катарский риал", "Qatari Riyal", d(1997, 1, 1), None,
               [(FIRST, 10), (d(2023, 1, 1), 1)], 1.6, monthly_until=d(2023, 1, 1)),
        Series("R01065", "AFN", "971", "Афгани", "Afghanistan Afgani", d(2003, 1, 1), None,
               [(FIRST, 100)], 0.6, monthly_until=always),
        Series("R01080", "BHD", "048", "Бахрейнский динар", "Bahraini Dinar", d(1997, 1, 1),
               None, [(FIRST, 1)], 15.0, monthly_until=always),
        Series("R01300", "IRR", "364", "Иранских риалов", "Iranian Rial", d(1997, 1, 1), None,
               [(FIRST, 10000)], 0.002, monthly_until=always),
        Series("R01390", "KWD", "414", "Кувейтских динаров", "Kuwaiti Dinar", d(1997, 1, 1),
               None, [(FIRST, 10)], 19.0, monthly_until=always),
        Series("R01400", "LAK", "418", "Кипов", "Laos new Kip", d(1997, 1, 1), None,
               [(FIRST, 10000)], 0.004, monthly_until=always),
        Series("R01503", "MNT", "496", "Тугриков", "Mongolia Tugrik", d(1997, 1, 1), None,
               [(FIRST, 1000)], 0.008, monthly_until=always),
        Series("R01515", "NPR", "524", "Непальских рупий", "Nepal Ruppe", d(1997, 1, 1), None,
               [(FIRST, 100)], 0.09, monthly_until=always),
        Series("R01545", "PKR", "586", "Пакистанских рупий", "Pakistani Rupee", d(1997, 1, 1),
               None, [(FIRST, 100)], 0.15, monthly_until=always),
        Series("R01575", "KHR", "116", "Риелей", "Cambodia Riel", d(1997, 1, 1), None,
               [(FIRST, 10000)], 0.0015, monthly_until=always),
        Series("R01580", "SAR", "682", "Саудовских риялов", "Saudi Riyal", d(1997, 1, 1), None,
               [(FIRST, 10)], 1.5, monthly_until=always),
        Series("R01780", "LKR", "144", "Шри-ланкийских рупий", "Sri Lankan Rupee",
               d(1997, 1, 1), None, [(FIRST, 100)], 0.08, monthly_until=always),
        # Not SCO currencies: present so that filtering is exercised.
        Series("R01235", "USD", "840", "Доллар США", "US Dollar", d(1992, 7, 1), None,
               [(FIRST, 1)], 0.13),
        Series("R01239", "EUR", "978", "Евро", "Euro", d(1999, 1, 1), None, [(FIRST, 1)], 25.0),
    ]


@dataclass
class History:
    """All series, their values on every effective date, up to `last_date`."""

    last_date: dt.date
    first_date: dt.date = FIRST
    series: list[Series] = field(default_factory=_series)
    unpublished: set[dt.date] = field(default_factory=set)
    """Dates the rule expects but CBR skipped, as when a decree moves a holiday."""

    def __post_init__(self) -> None:
        self.by_id = {s.cbr_id: s for s in self.series}
        self._load_recorded_documents()

    @cached_property
    def publication_dates(self) -> list[dt.date]:
        return [day for day in calendar.publication_dates(self.first_date, self.last_date)
                if day not in self.unpublished]

    @cached_property
    def values(self) -> dict[str, dict[dt.date, tuple[int, Decimal]]]:
        """cbr_id -> effective date -> (nominal, published value)."""
        return {s.cbr_id: self._walk(s) for s in self.series}

    def latest_on_or_before(self, day: dt.date) -> dt.date | None:
        day = min(day, self.last_date)
        while day >= self.first_date:
            if calendar.is_publication_date(day) and day not in self.unpublished:
                return day
            day -= dt.timedelta(days=1)
        return None

    def _walk(self, series: Series) -> dict[dt.date, tuple[int, Decimal]]:
        rng = random.Random(series.cbr_id)
        unit = series.unit_rub
        values: dict[dt.date, tuple[int, Decimal]] = {}
        month_seen: set[tuple[int, int]] = set()
        for day in self.publication_dates:
            if not series.active_on(day):
                continue
            unit *= 1 + rng.gauss(0.0002, 0.006)
            if series.is_monthly_on(day):
                if (day.year, day.month) in month_seen:
                    continue
                month_seen.add((day.year, day.month))
            if day in series.overrides:
                values[day] = series.overrides[day]
                continue
            nominal = series.nominal_on(day)
            old_rubles = 1000 if day < REDENOMINATION else 1
            value = Decimal(repr(unit * nominal * old_rubles)).quantize(
                FOUR_PLACES, ROUND_HALF_EVEN)
            values[day] = (nominal, max(value, FOUR_PLACES))
        return values

    def _load_recorded_documents(self) -> None:
        for path in sorted(FIXTURES.glob("XML_daily_*.xml")):
            document = parse_daily(path.read_bytes())
            for record in document.records.to_pylist():
                series = self.by_id.get(record["cbr_id"])
                if series is not None and series.active_on(document.rate_date):
                    series.overrides[document.rate_date] = (record["nominal"], record["value"])

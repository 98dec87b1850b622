"""A CBR-compatible HTTP service over a synthetic `History`, with injectable faults.

It answers `XML_daily.asp`, `XML_dynamic.asp` and `XML_valFull.asp` the way the real
service does: windows-1251 bytes, decimal commas, the effective date of the document in
force (a Sunday request gets Saturday's document), only quoted dates in `XML_dynamic`,
monthly-set currencies only in `XML_dynamic`. The directory lists each ID as it is set
today, or in one of the `DIRECTORY_STATES` real CBR shows.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from xml.sax.saxutils import escape

from werkzeug import Request, Response

from tests.fakes.cbr_history import History

VUNIT_SINCE = dt.date(2023, 1, 1)
Fault = Callable[[Request], Response | None]


@dataclass(frozen=True)
class DirectoryState:
    """Which IDs `XML_valFull` lists against how they are set today."""

    listed_monthly: frozenset[str] = frozenset()
    """IDs set daily today that d=1 lists as monthly."""
    listed_daily: frozenset[str] = frozenset()
    """IDs set monthly today that d=0 lists as daily."""


DIRECTORY_STATES = {
    "as set": DirectoryState(),
    # Real CBR in 2026: the UAE dirham, Egyptian pound and Qatari riyal are quoted in
    # XML_daily, set daily since 2023, and still in the d=1 (monthly) directory.
    "daily quoted, listed monthly": DirectoryState(
        listed_monthly=frozenset({"R01230", "R01240", "R01355"})),
    # The reverse: the Kuwaiti dinar and Saudi riyal set monthly, in the d=0 directory.
    "monthly set, listed daily": DirectoryState(listed_daily=frozenset({"R01390", "R01580"})),
}


def _fmt(value: Decimal) -> str:
    return f"{value:.4f}".replace(".", ",")


def _vunit(value: Decimal, nominal: int) -> str:
    text = format((value / nominal).normalize(), "f")
    return text.replace(".", ",")


@dataclass
class FakeCbr:
    """The service: call it with a werkzeug Request (pytest-httpserver handler)."""

    history: History
    latency: float = 0.0
    faults: list[Fault] = field(default_factory=list)
    requests: Counter = field(default_factory=Counter)
    listing: DirectoryState = DirectoryState()

    def __post_init__(self) -> None:
        self._lock = threading.Lock()

    def __call__(self, request: Request) -> Response:
        if self.latency:
            time.sleep(self.latency)
        name = request.path.rsplit("/", 1)[-1]
        with self._lock:
            self.requests[name] += 1
            fault = next((f for f in self.faults if getattr(f, "path", None) in (None, name)),
                         None)
            if fault is not None:
                self.faults.remove(fault)
        if fault is not None:
            response = fault(request)
            if response is not None:
                return response
        handlers = {
            "XML_daily.asp": self.daily,
            "XML_dynamic.asp": self.dynamic,
            "XML_valFull.asp": self.directory,
        }
        if name not in handlers:
            return Response("Not found", status=404)
        body = handlers[name](request.args)
        return Response(body.encode("windows-1251"),
                        content_type="application/xml; charset=windows-1251")

    @property
    def total_requests(self) -> int:
        return sum(self.requests.values())

    def daily(self, args) -> str:
        requested = _date(args.get("date_req")) or self.history.last_date
        day = self.history.latest_on_or_before(requested)
        if day is None:
            return '<?xml version="1.0" encoding="windows-1251"?><ValCurs/>'
        parts = [f'<?xml version="1.0" encoding="windows-1251"?>'
                 f'<ValCurs Date="{day:%d.%m.%Y}" name="Foreign Currency Market">']
        for series in self.history.series:
            if not series.active_on(day) or series.is_monthly_on(day):
                continue
            quote = self.history.values[series.cbr_id].get(day)
            if quote is None:
                continue
            nominal, value = quote
            vunit = (f"<VunitRate>{_vunit(value, nominal)}</VunitRate>"
                     if day >= VUNIT_SINCE else "")
            parts.append(
                f'<Valute ID="{series.cbr_id}"><NumCode>{series.num_code}</NumCode>'
                f"<CharCode>{series.char_code}</CharCode><Nominal>{nominal}</Nominal>"
                f"<Name>{escape(series.name_ru)}</Name><Value>{_fmt(value)}</Value>{vunit}"
                "</Valute>"
            )
        parts.append("</ValCurs>")
        return "".join(parts)

    def dynamic(self, args) -> str:
        start, end = _date(args.get("date_req1")), _date(args.get("date_req2"))
        cbr_id = args.get("VAL_NM_RQ", "")
        head = (f'<?xml version="1.0" encoding="windows-1251"?>\n<ValCurs ID="{escape(cbr_id)}" '
                f'DateRange1="{start:%d.%m.%Y}" DateRange2="{end:%d.%m.%Y}" '
                'name="Foreign Currency Market Dynamic">\n')
        values = self.history.values.get(cbr_id, {})
        records = []
        for day in sorted(values):
            if start <= day <= end:
                nominal, value = values[day]
                records.append(
                    f'    <Record Date="{day:%d.%m.%Y}" Id="{cbr_id}">\n'
                    f"        <Nominal>{nominal}</Nominal>\n"
                    f"        <Value>{_fmt(value)}</Value>\n"
                    f"        <VunitRate>{_vunit(value, nominal)}</VunitRate>\n"
                    "    </Record>\n"
                )
        return head + "".join(records) + "</ValCurs>\n"

    def directory(self, args) -> str:
        monthly = args.get("d") == "1"
        today = self.history.last_date
        parts = ['<?xml version="1.0" encoding="windows-1251"?>'
                 '<Valuta name="Foreign Currency Market Lib">']
        for series in self.history.series:
            listed_monthly = (series.cbr_id in self.listing.listed_monthly
                              or (series.is_monthly_on(today)
                                  and series.cbr_id not in self.listing.listed_daily))
            if series.end is not None or listed_monthly != monthly:
                continue  # retired IDs (BYR, TRL) are not in today's directory
            parent = (series.parent_id or series.cbr_id).ljust(10)
            parts.append(
                f'<Item ID="{series.cbr_id}"><Name>{escape(series.name_ru)}</Name>'
                f"<EngName>{escape(series.name_en)}</EngName>"
                f"<Nominal>{series.nominal_on(today)}</Nominal><ParentCode>{parent}</ParentCode>"
                f"<ISO_Num_Code>{int(series.num_code)}</ISO_Num_Code>"
                f"<ISO_Char_Code>{series.char_code}</ISO_Char_Code></Item>"
            )
        parts.append("</Valuta>")
        return "".join(parts)


def _date(text: str | None) -> dt.date | None:
    if not text:
        return None
    return dt.datetime.strptime(text, "%d/%m/%Y").date()


@dataclass
class Canned:
    """A fault for `FakeCbr.faults`: answers one request (to `path`, or any) instead."""

    response: Callable[[], Response]
    path: str | None = None

    def __call__(self, request: Request) -> Response:
        return self.response()


def status(code: int, headers: dict | None = None, path: str | None = None) -> Canned:
    return Canned(lambda: Response(f"status {code}", status=code, headers=headers or {}), path)


def body(content: bytes, content_type: str = "text/html; charset=utf-8",
         path: str | None = None) -> Canned:
    return Canned(lambda: Response(content, status=200, content_type=content_type), path)

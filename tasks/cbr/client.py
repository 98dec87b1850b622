"""The HTTP seam of the CBR XML service: three documents, each read by its one parser."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TypeVar
from urllib.parse import urljoin

from sco_etl.schemas.errors import SourceFormatError
from sco_etl.tasks.cbr.parse import parse_daily, parse_directory, parse_dynamic
from sco_etl.tasks.cbr.records import DirectoryEntry, RateDocument
from sco_etl.tasks.cbr.settings import CBR_DATE_FORMAT
from sco_etl.tasks.http import HttpClient, HttpPolicy
from sco_etl.tasks.run import Run

T = TypeVar("T")
_READING = threading.Lock()


@dataclass(frozen=True)
class CbrSource:
    """Where the CBR service is and how to talk to it: all a task needs to make its own client."""

    url: str
    http: HttpPolicy

    def client(self, run: Run | None = None, share: int = 1,
               budget: float | None = None) -> CbrClient:
        """A new client reporting to `run`, paced so that `share` of them running at once keep
        the policy's rate, that gives up once it has spent `budget` seconds (its task's
        timeout)."""
        policy = replace(self.http, min_interval=self.http.min_interval * max(1, share),
                         budget=budget)
        return CbrClient(self.url, HttpClient(policy, run))


@dataclass
class CbrClient:
    """Fetches and reads CBR documents from `base_url` (the real service or a compatible one)."""

    base_url: str
    http: HttpClient

    def __post_init__(self) -> None:
        if not self.base_url.endswith("/"):
            self.base_url += "/"

    def daily(self, on: dt.date) -> RateDocument:
        """`XML_daily.asp`: the document in force on `on`, keyed by the date it states (CBR
        answers a date with no rates set, a Sunday, with the latest document before it)."""
        return self._read("XML_daily.asp", {"date_req": on.strftime(CBR_DATE_FORMAT)},
                          parse_daily)

    def dynamic(self, cbr_id: str, start: dt.date, end: dt.date) -> RateDocument:
        """`XML_dynamic.asp`: one currency ID's rates from `start` to `end`."""
        return self._read("XML_dynamic.asp", {
            "date_req1": start.strftime(CBR_DATE_FORMAT),
            "date_req2": end.strftime(CBR_DATE_FORMAT),
            "VAL_NM_RQ": cbr_id,
        }, parse_dynamic)

    def directory(self, monthly: bool) -> list[DirectoryEntry]:
        """`XML_valFull.asp`: the IDs set daily (d=0) or monthly (d=1)."""
        frequency = "monthly" if monthly else "daily"
        return self._read("XML_valFull.asp", {"d": "1" if monthly else "0"},
                          lambda body: parse_directory(body, frequency))

    def _read(self, document: str, params: dict[str, str], parse: Callable[[bytes], T]) -> T:
        response = self.http.get(urljoin(self.base_url, document), params=params)
        try:
            # One document read at a time: a full-history XML_dynamic takes ~25 MB to read,
            # and the parallel fetches wait for their request slots longer than that takes.
            with _READING:
                return parse(response.body)
        except SourceFormatError as error:
            quoted = response.quote()
            said = f", which says “{quoted}”" if quoted else ""
            raise SourceFormatError(
                f"{error} — the answer of {response.url}{said}. The service may be down or "
                "answering with an error page; try again later.", url=response.url) from error

"""The HTTP seam of the CBR XML service: three documents, raw bytes out."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from urllib.parse import urljoin

from sco_etl.tasks.cbr.settings import CBR_DATE_FORMAT
from sco_etl.tasks.http import HttpClient, HttpPolicy


@dataclass(frozen=True)
class CbrSource:
    """Where the CBR service is and how to talk to it: all a task needs to make its own client."""

    url: str
    http: HttpPolicy

    def client(self, share: int = 1, budget: float | None = None) -> CbrClient:
        """A new client, paced so that `share` of them running at once keep the policy's rate,
        that gives up once it has spent `budget` seconds (the timeout of its task)."""
        policy = replace(self.http, min_interval=self.http.min_interval * max(1, share),
                         budget=budget)
        return CbrClient(self.url, HttpClient(policy))


@dataclass
class CbrClient:
    """Fetches CBR documents from `base_url` (the real service or any compatible server)."""

    base_url: str
    http: HttpClient

    def __post_init__(self) -> None:
        if not self.base_url.endswith("/"):
            self.base_url += "/"

    def daily(self, on: dt.date | None = None) -> bytes:
        """`XML_daily.asp`: the document in force on `on` (latest if None)."""
        params = {"date_req": on.strftime(CBR_DATE_FORMAT)} if on else None
        return self._get("XML_daily.asp", params)

    def dynamic(self, cbr_id: str, start: dt.date, end: dt.date) -> bytes:
        """`XML_dynamic.asp`: one currency ID's rates from `start` to `end`."""
        return self._get("XML_dynamic.asp", {
            "date_req1": start.strftime(CBR_DATE_FORMAT),
            "date_req2": end.strftime(CBR_DATE_FORMAT),
            "VAL_NM_RQ": cbr_id,
        })

    def directory(self, monthly: bool) -> bytes:
        """`XML_valFull.asp`: currencies set daily (d=0) or monthly (d=1)."""
        return self._get("XML_valFull.asp", {"d": "1" if monthly else "0"})

    def _get(self, document: str, params: dict[str, str] | None) -> bytes:
        return self.http.get(urljoin(self.base_url, document), params=params).body

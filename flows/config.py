"""Configuration enters here, at the edge: environment, CLI options and flow parameters."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from sco_etl.schemas.checks import iso_alpha_codes
from sco_etl.schemas.errors import ConfigError
from sco_etl.schemas.reference import default_sco_currency_codes
from sco_etl.tasks import settings
from sco_etl.tasks.cbr import settings as cbr_settings
from sco_etl.tasks.cbr.client import CbrSource
from sco_etl.tasks.http import HttpPolicy
from sco_etl.warehouse import LakeSettings, Warehouse
from sco_etl.warehouse.lake import resolve_data_dir, resolve_lake

DEFAULT_LOCK_TIMEOUT = 60.0


@dataclass(frozen=True)
class Config:
    """Resolved settings of one run; passed down explicitly."""

    data_dir: Path
    cbr_url: str
    currencies: list[str]
    lock_timeout: float
    http: HttpPolicy
    lake: LakeSettings

    def warehouse(self) -> Warehouse:
        return Warehouse(self.data_dir, self.lock_timeout, self.lake)

    @property
    def cbr(self) -> CbrSource:
        return CbrSource(self.cbr_url, self.http)


def resolve(
    data_dir: str | None = None, cbr_url: str | None = None,
    currencies: list[str] | None = None,
) -> Config:
    """Explicit values win over the environment, which wins over the defaults."""
    env_currencies = os.environ.get("SCO_ETL_CURRENCIES", "")
    codes = currencies or [c for c in env_currencies.split(",") if c.strip()] or (
        default_sco_currency_codes()
    )
    lock_timeout = _seconds("SCO_ETL_LOCK_TIMEOUT", DEFAULT_LOCK_TIMEOUT)
    http = HttpPolicy(
        backoff=_seconds("SCO_ETL_HTTP_BACKOFF", settings.BACKOFF_SECONDS),
        min_interval=_seconds("SCO_ETL_REQUEST_INTERVAL", settings.MIN_REQUEST_INTERVAL),
        read_timeout=_seconds("SCO_ETL_HTTP_TIMEOUT", settings.READ_TIMEOUT),
    )
    # Checked here, before any request or write: a code reaches CBR queries and the ledger.
    codes = iso_alpha_codes(codes)
    url = cbr_url or os.environ.get("SCO_ETL_CBR_URL") or cbr_settings.CBR_URL
    if not url.startswith(("http://", "https://")):
        raise ConfigError(f"SCO_ETL_CBR_URL must be an http(s) URL, not {url!r}")
    root = resolve_data_dir(data_dir)
    return Config(
        data_dir=root,
        cbr_url=url,
        currencies=codes,
        lock_timeout=lock_timeout,
        http=http,
        lake=resolve_lake(root),
    )


def _seconds(name: str, default: float) -> float:
    try:
        value = float(os.environ.get(name, default))
    except ValueError:
        raise ConfigError(f"{name} must be a number of seconds") from None
    if value < 0:
        raise ConfigError(f"{name} must not be negative")
    return value


def resolve_news_feeds(feeds: list[str] | None = None) -> list[str]:
    """News sources: explicit URLs win over SCO_ETL_NEWS_FEEDS (comma-separated), which wins
    over the InfoSHOS defaults. Order is kept, repeats dropped."""
    from sco_etl.tasks.news.settings import DEFAULT_NEWS_FEEDS

    env = [u for u in os.environ.get("SCO_ETL_NEWS_FEEDS", "").split(",") if u.strip()]
    urls = list(dict.fromkeys(u.strip() for u in (feeds or env or DEFAULT_NEWS_FEEDS)))
    for url in urls:
        if not url.startswith(("http://", "https://")):
            raise ConfigError(f"news feed must be an http(s) URL, not {url!r} "
                              "(check --feed or SCO_ETL_NEWS_FEEDS)")
    return urls

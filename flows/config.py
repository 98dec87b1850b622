"""Configuration enters here, at the edge: environment, CLI options and flow parameters.

The parts a setting is checked against (the HTTP seam, the warehouse, the reference data) are
imported when `resolve` runs: the command line reads the data directory from here before it
knows whether a command needs any of them (`sco-etl --help` needs none).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sco_etl.tasks.cbr.client import CbrSource
    from sco_etl.tasks.http import HttpPolicy
    from sco_etl.warehouse import LakeSettings, Warehouse

DEFAULT_DATA_DIR = "./data"
DEFAULT_LOCK_TIMEOUT = 60.0
DEFAULT_SERVER_IDLE_MINUTES = 60.0
"""A background `sco-etl server` stops itself after this long without use."""
OFF = {"0", "false", "no", "off"}


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
        from sco_etl.warehouse import Warehouse

        return Warehouse(self.data_dir, self.lock_timeout, self.lake)

    @property
    def cbr(self) -> CbrSource:
        from sco_etl.tasks.cbr.client import CbrSource

        return CbrSource(self.cbr_url, self.http)


def resolve(
    data_dir: str | None = None, cbr_url: str | None = None,
    currencies: list[str] | None = None,
) -> Config:
    """Explicit values win over the environment, which wins over the defaults."""
    from sco_etl.schemas.checks import iso_alpha_codes
    from sco_etl.schemas.errors import ConfigError
    from sco_etl.schemas.reference import default_sco_currency_codes
    from sco_etl.tasks import settings
    from sco_etl.tasks.cbr import settings as cbr_settings
    from sco_etl.tasks.http import HttpPolicy

    env_currencies = os.environ.get("SCO_ETL_CURRENCIES", "")
    codes = currencies or [c for c in env_currencies.split(",") if c.strip()] or (
        default_sco_currency_codes()
    )
    lock_timeout = _non_negative("SCO_ETL_LOCK_TIMEOUT", DEFAULT_LOCK_TIMEOUT)
    http = HttpPolicy(
        backoff=_non_negative("SCO_ETL_HTTP_BACKOFF", settings.BACKOFF_SECONDS),
        min_interval=_non_negative("SCO_ETL_REQUEST_INTERVAL", settings.MIN_REQUEST_INTERVAL),
        read_timeout=_non_negative("SCO_ETL_HTTP_TIMEOUT", settings.READ_TIMEOUT),
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


def resolve_warehouse(data_dir: str | None = None) -> Warehouse:
    """The warehouse alone, for a command that only reads it (no source settings needed)."""
    from sco_etl.warehouse import Warehouse

    root = resolve_data_dir(data_dir)
    return Warehouse(root, _non_negative("SCO_ETL_LOCK_TIMEOUT", DEFAULT_LOCK_TIMEOUT),
                     resolve_lake(root))


def resolve_data_dir(data_dir: str | None = None) -> Path:
    """The data directory: explicit, else `SCO_ETL_DATA_DIR`, else `./data`; absolute."""
    root = Path(data_dir or os.environ.get("SCO_ETL_DATA_DIR") or DEFAULT_DATA_DIR)
    return root.expanduser().resolve()


def resolve_lake(root: Path) -> LakeSettings:
    """The warehouse's catalog and data path: `SCO_ETL_CATALOG` and `SCO_ETL_DATA_PATH`,
    by default a SQLite catalog and a `lake/` folder in the data directory."""
    from sco_etl.warehouse import LakeSettings, S3Settings
    from sco_etl.warehouse.lake import CATALOG_FILE, DATA_DIR, parse_catalog

    catalog = parse_catalog(os.environ.get("SCO_ETL_CATALOG") or f"sqlite:{root / CATALOG_FILE}")
    if not os.environ.get("SCO_ETL_CATALOG") and not os.environ.get("SCO_ETL_DATA_PATH"):
        return LakeSettings.local(root)
    data_path = os.environ.get("SCO_ETL_DATA_PATH") or str(root / DATA_DIR)
    if not data_path.startswith("s3://"):
        data_path = str(Path(data_path).expanduser().resolve())
    data_path = data_path.rstrip("/") + "/"
    s3 = None
    if data_path.startswith("s3://"):
        endpoint = os.environ.get("SCO_ETL_S3_ENDPOINT", "")
        use_ssl = not endpoint.startswith("http://")
        s3 = S3Settings(
            endpoint=endpoint.removeprefix("http://").removeprefix("https://").rstrip("/"),
            key_id=os.environ.get("AWS_ACCESS_KEY_ID", ""),
            secret=os.environ.get("AWS_SECRET_ACCESS_KEY", ""),
            region=os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
            or "us-east-1",
            use_ssl=use_ssl,
            url_style=os.environ.get("SCO_ETL_S3_URL_STYLE") or ("path" if endpoint else "vhost"),
        )
    return LakeSettings(catalog, data_path, s3)


def _non_negative(name: str, default: float, unit: str = "seconds") -> float:
    from sco_etl.schemas.errors import ConfigError

    try:
        value = float(os.environ.get(name, default))
    except ValueError:
        raise ConfigError(f"{name} must be a number of {unit}") from None
    if value < 0:
        raise ConfigError(f"{name} must not be negative")
    return value


def resolve_news_feeds(feeds: list[str] | None = None) -> list[str]:
    """News sources: explicit URLs win over SCO_ETL_NEWS_FEEDS (comma-separated), which wins
    over the InfoSHOS defaults. Order is kept, repeats dropped."""
    from sco_etl.schemas.errors import ConfigError
    from sco_etl.tasks.news.settings import DEFAULT_NEWS_FEEDS

    env = [u for u in os.environ.get("SCO_ETL_NEWS_FEEDS", "").split(",") if u.strip()]
    urls = list(dict.fromkeys(u.strip() for u in (feeds or env or DEFAULT_NEWS_FEEDS)))
    for url in urls:
        if not url.startswith(("http://", "https://")):
            raise ConfigError(f"news feed must be an http(s) URL, not {url!r} "
                              "(check --feed or SCO_ETL_NEWS_FEEDS)")
    return urls


def server_idle_minutes() -> float:
    """`SCO_ETL_SERVER_IDLE_MINUTES`: how long a background `sco-etl server` waits unused
    before it stops itself (0: until `sco-etl server stop`); default an hour."""
    return _non_negative("SCO_ETL_SERVER_IDLE_MINUTES", DEFAULT_SERVER_IDLE_MINUTES, "minutes")


def auto_server() -> bool:
    """`SCO_ETL_AUTO_SERVER`: whether a flow command that finds no Prefect server starts the
    background one (default) or, with `0`, runs on a temporary server of its own."""
    return os.environ.get("SCO_ETL_AUTO_SERVER", "1").strip().lower() not in OFF

"""Configuration enters here, at the edge: environment, CLI options and flow parameters."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from schemas.errors import ConfigError
from schemas.reference import default_sco_currency_codes
from tasks import settings

DEFAULT_DATA_DIR = "./data"
DEFAULT_LOCK_TIMEOUT = 60.0


@dataclass(frozen=True)
class Config:
    """Resolved settings of one run; passed down explicitly."""

    data_dir: Path
    cbr_url: str
    currencies: list[str]
    lock_timeout: float


def resolve(
    data_dir: str | None = None, cbr_url: str | None = None,
    currencies: list[str] | None = None,
) -> Config:
    """Explicit values win over the environment, which wins over the defaults."""
    env_currencies = os.environ.get("SCO_ETL_CURRENCIES", "")
    codes = currencies or [c for c in env_currencies.split(",") if c.strip()] or (
        default_sco_currency_codes()
    )
    try:
        lock_timeout = float(os.environ.get("SCO_ETL_LOCK_TIMEOUT", DEFAULT_LOCK_TIMEOUT))
    except ValueError:
        raise ConfigError("SCO_ETL_LOCK_TIMEOUT must be a number of seconds") from None
    url = cbr_url or os.environ.get("SCO_ETL_CBR_URL") or settings.CBR_URL
    if not url.startswith(("http://", "https://")):
        raise ConfigError(f"SCO_ETL_CBR_URL must be an http(s) URL, not {url!r}")
    return Config(
        data_dir=Path(data_dir or os.environ.get("SCO_ETL_DATA_DIR") or DEFAULT_DATA_DIR)
        .expanduser().resolve(),
        cbr_url=url,
        currencies=[c.strip().upper() for c in codes],
        lock_timeout=lock_timeout,
    )

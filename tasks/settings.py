"""Constants every source shares: who sco-etl says it is, and how politely it asks."""

from importlib.metadata import PackageNotFoundError, version

try:
    VERSION = version("sco-etl")
except PackageNotFoundError:  # running from a source tree that is not installed
    VERSION = "0.1.0"

USER_AGENT = f"sco-etl/{VERSION} (+https://github.com/sco-etl/sco-etl; open-source SCO data ETL)"

CONNECT_TIMEOUT = 10.0
READ_TIMEOUT = 60.0
MAX_ATTEMPTS = 4
BACKOFF_SECONDS = 1.0
MAX_RETRY_AFTER = 120.0
"""A 429 asking us to wait longer than this ends the run instead of stalling it."""
MIN_REQUEST_INTERVAL = 0.1
"""At most ten requests a second to one source, whatever the concurrency."""
MAX_BODY_BYTES = 50 * 1024 * 1024
MAX_REDIRECTS = 5

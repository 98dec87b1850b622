"""Constants of the sources sco-etl talks to, and of its own politeness."""

from importlib.metadata import PackageNotFoundError, version

try:
    VERSION = version("sco-etl")
except PackageNotFoundError:  # running from a source tree that is not installed
    VERSION = "0.1.0"

USER_AGENT = f"sco-etl/{VERSION} (+https://github.com/sco-etl/sco-etl; open-source SCO data ETL)"

CBR_URL = "https://www.cbr.ru/scripts/"
CBR_DATE_FORMAT = "%d/%m/%Y"
"""How CBR wants dates in query strings (`date_req=02/03/2002`)."""

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
FETCH_WORKERS = 4

RECHECK_DAYS = 7
"""A catch-up re-reads this many days before the latest stored date, to catch restatements."""
FIRST_RUN_DAYS = 7
"""With an empty warehouse and no dates, the first catch-up covers this many days."""
MAX_HEALED_GAPS = 30
"""At most this many missing dates are re-asked per catch-up; the rest wait for later runs."""
MAX_DYNAMIC_DAYS = 40 * 366
"""The longest range asked of XML_dynamic in one request (all history fits in one)."""

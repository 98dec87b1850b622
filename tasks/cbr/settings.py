"""Constants of the CBR rates source: where it is, how it wants dates, how a run plans."""

CBR_URL = "https://www.cbr.ru/scripts/"
CBR_DATE_FORMAT = "%d/%m/%Y"
"""How CBR wants dates in query strings (`date_req=02/03/2002`)."""
CBR_DOCUMENT_DATE_FORMAT = "%d.%m.%Y"
"""How CBR writes dates in its documents (`Record Date="02.03.2002"`)."""

FETCH_WORKERS = 4
"""Fetches of one run in parallel (each paced so that together they stay at ten a second)."""

RECHECK_DAYS = 7
"""A catch-up re-reads this many days before the latest stored date, to catch restatements."""
FIRST_RUN_DAYS = 7
"""With an empty warehouse and no dates, the first catch-up covers this many days."""
MAX_HEALED_GAPS = 30
"""At most this many missing dates are re-asked per catch-up; the rest wait for later runs."""
MAX_DYNAMIC_DAYS = 40 * 366
"""The longest range asked of XML_dynamic in one request (all history fits in one)."""
FETCH_TIMEOUT = 600
"""Seconds one fetch task may take (a full backfill takes ~3 s; a stuck source ends the run)."""
DIRECTORY_TIMEOUT = 120
"""Seconds the currency directory may take to fetch."""

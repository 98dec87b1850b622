"""Data contracts of sco-etl: one declaration per table, plus the shipped reference data.

Imports no Prefect and does no I/O beyond reading the package's own reference files.
"""

from sco_etl.schemas.currencies import CURRENCIES
from sco_etl.schemas.ledger import LOADS, QUARANTINE
from sco_etl.schemas.mentions import COUNTRY_TERMS, NEWS_MENTIONS
from sco_etl.schemas.news import FEED_STATE, NEWS, NEWS_REVISIONS
from sco_etl.schemas.rates import RATE_REVISIONS, RATES, UNPUBLISHED_DATES
from sco_etl.schemas.reference import CURRENCY_LINEAGE, SCO_COUNTRIES
from sco_etl.schemas.table import Column, Rejection, Table, Validated, to_arrow, validate

__all__ = [
    "COUNTRY_TERMS",
    "CURRENCIES",
    "CURRENCY_LINEAGE",
    "FEED_STATE",
    "LOADS",
    "NEWS",
    "NEWS_MENTIONS",
    "NEWS_REVISIONS",
    "QUARANTINE",
    "RATES",
    "RATE_REVISIONS",
    "SCO_COUNTRIES",
    "UNPUBLISHED_DATES",
    "Column",
    "Rejection",
    "Table",
    "Validated",
    "to_arrow",
    "validate",
]

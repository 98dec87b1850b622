"""News joined to countries: the shipped country terms, and which item mentions which country."""

from __future__ import annotations

import pyarrow as pa

from sco_etl.schemas.checks import Rule
from sco_etl.schemas.reference import _read_csv
from sco_etl.schemas.table import Column, Table

TERM_KINDS = ("name", "demonym", "capital", "former_capital")

COUNTRY_TERMS = Table(
    name="country_terms",
    doc="Words that name an SCO country in English and Russian: names, demonyms, capitals.",
    columns=(
        Column("country", pa.string(), doc="as in sco_countries"),
        Column("language", pa.string(), checks=(Rule.isin(["en", "ru"], name="language"),)),
        Column("kind", pa.string(), checks=(Rule.isin(TERM_KINDS, name="term_kind"),)),
        Column("term", pa.string(), doc="the dictionary form, as news_mentions reports it"),
        Column("forms", pa.string(), nullable=True,
               doc="the inflected forms to match, |-separated, where the rule would miss "
                   "them (Египет → Египта); empty: derived from the term"),
    ),
    key=("country", "term"),
)

NEWS_MENTIONS = Table(
    name="news_mentions",
    doc="A country named in a news item's title, summary or body (one row per term found).",
    columns=(
        Column("item_id", pa.string(), doc="news.item_id"),
        Column("country", pa.string(), doc="sco_countries.country"),
        Column("term", pa.string(), doc="the country_terms.term that matched, in any of its forms"),
    ),
    key=("item_id", "country", "term"),
)


def country_terms() -> pa.Table:
    """The shipped country terms."""
    return _read_csv("country_terms.csv", COUNTRY_TERMS)

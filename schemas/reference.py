"""Reference data shipped with the package: SCO countries and the lineage of their currencies."""

from __future__ import annotations

import csv
import datetime as dt
from importlib import resources

import pyarrow as pa

from sco_etl.schemas.checks import CBR_ID, ISO_ALPHA, Rule
from sco_etl.schemas.table import Column, Table

STATUSES = ("member", "observer", "dialogue_partner", "partner")
ISO_COUNTRY = Rule.str_matches(r"^[A-Z]{2}$", name="iso_country_code")
BASE_CURRENCY = "RUB"
"""The ruble is the base of every CBR rate and has no rate row of its own."""

SCO_COUNTRIES = Table(
    name="sco_countries",
    doc="SCO members, observers and partners with their status history, capital and time zone.",
    columns=(
        Column("country", pa.string()),
        Column("country_code", pa.string(), checks=(ISO_COUNTRY,),
               doc="ISO 3166-1 alpha-2 code of the country"),
        Column("status", pa.string(), checks=(Rule.isin(STATUSES),)),
        Column("valid_from", pa.date32()),
        Column("valid_to", pa.date32(), nullable=True, doc="last day of the status; empty: now"),
        Column("char_code", pa.string(), checks=(ISO_ALPHA,), doc="the country's currency today"),
        Column("capital", pa.string()),
        Column("timezone", pa.string(), doc="IANA time zone of the capital"),
    ),
    key=("country", "valid_from"),
)

CURRENCY_LINEAGE = Table(
    name="currency_lineage",
    doc="Currencies an SCO currency replaced, with the CBR ID they were quoted under.",
    columns=(
        Column("char_code", pa.string(), checks=(ISO_ALPHA,)),
        Column("predecessor_code", pa.string(), checks=(ISO_ALPHA,)),
        Column("predecessor_cbr_id", pa.string(), checks=(CBR_ID,)),
        Column("predecessor_num_code", pa.string()),
        Column("predecessor_nominal", pa.int32()),
        Column("predecessor_name_en", pa.string()),
        Column("predecessor_name_ru", pa.string()),
        Column("replaced_on", pa.date32()),
    ),
    key=("predecessor_cbr_id",),
)


def _csv_rows(name: str) -> list[dict[str, str]]:
    folder = resources.files("sco_etl.schemas").joinpath("reference")
    return list(csv.DictReader(folder.joinpath(name).read_text(encoding="utf-8").splitlines()))


def _read_csv(name: str, table: Table) -> pa.Table:
    rows = []
    for raw in _csv_rows(name):
        row: dict[str, object] = {}
        for column in table.columns:
            value = raw[column.name] or None
            if value is not None and pa.types.is_date(column.type):
                value = dt.date.fromisoformat(value)
            elif value is not None and pa.types.is_integer(column.type):
                value = int(value)
            row[column.name] = value
        rows.append(row)
    return pa.Table.from_pylist(rows, schema=table.arrow_schema)


def sco_countries() -> pa.Table:
    """The shipped SCO country table."""
    return _read_csv("sco_countries.csv", SCO_COUNTRIES)


def currency_lineage() -> pa.Table:
    """The shipped currency lineage table."""
    return _read_csv("currency_lineage.csv", CURRENCY_LINEAGE)


def default_sco_currency_codes() -> list[str]:
    """ISO codes of every SCO country's currency and its predecessors, the ruble excluded.

    Read from the files as text: the command line checks codes against them before it loads
    anything else (an Arrow table would load pandas, ~0.2 s).
    """
    current = {row["char_code"] for row in _csv_rows("sco_countries.csv")} - {BASE_CURRENCY}
    older = {row["predecessor_code"] for row in _csv_rows("currency_lineage.csv")
             if row["char_code"] in current}
    return sorted(current | older)

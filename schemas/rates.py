"""The `rates` table and its revision log."""

import pyarrow as pa

from sco_etl.schemas.checks import (
    CBR_ID,
    FREQUENCY,
    ISO_ALPHA,
    ISO_NUMERIC,
    POSITIVE,
    RATE_DATE_RANGE,
)
from sco_etl.schemas.table import UTC_TIMESTAMP, Column, Table

VALUE = pa.decimal128(18, 4)
UNIT_RATE = pa.decimal128(38, 12)

RATES = Table(
    name="rates",
    doc="One row per (rate_date, cbr_id): the CBR official rate effective on that date.",
    columns=(
        Column("rate_date", pa.date32(), checks=(RATE_DATE_RANGE,),
               doc="effective date, from the document, never the requested date"),
        Column("cbr_id", pa.string(), checks=(CBR_ID,), doc="CBR internal currency ID"),
        Column("char_code", pa.string(), checks=(ISO_ALPHA,), doc="ISO 4217 alpha code"),
        Column("num_code", pa.string(), nullable=True, checks=(ISO_NUMERIC,),
               doc="ISO 4217 numeric code, zero-padded to 3"),
        Column("nominal", pa.int32(), checks=(POSITIVE,), doc="units the value is quoted for"),
        Column("value", VALUE, checks=(POSITIVE,), doc="rubles per `nominal` units, as published"),
        Column("unit_rate", UNIT_RATE, checks=(POSITIVE,), doc="rubles per unit, value/nominal"),
        Column("frequency", pa.string(), checks=(FREQUENCY,),
               doc="daily or monthly: how CBR's directory (XML_valFull d=0 or d=1) lists the ID"),
        Column("loaded_at", UTC_TIMESTAMP, doc="when this row was written"),
        Column("run_id", pa.string(), doc="the flow run that wrote it"),
    ),
    key=("rate_date", "cbr_id"),
    partition_by=("year",),
    partition_column="rate_date",
    # A revision is a change of what CBR published for the date. The codes and `frequency`
    # come from the directory, the same for every document of the ID: a difference there
    # alone leaves the stored row as it is (and is no revision).
    versioned=("nominal", "value"),
)

UNPUBLISHED_DATES = Table(
    name="unpublished_dates",
    doc="Dates the publication rule expected rates on, on which CBR set none (asked, not guessed).",
    columns=(
        Column("rate_date", pa.date32(), doc="the date asked for"),
        Column("in_force_date", pa.date32(), doc="the effective date the service returned"),
        Column("checked_at", UTC_TIMESTAMP),
        Column("run_id", pa.string()),
    ),
    key=("rate_date",),
)

RATE_REVISIONS = Table(
    name="rate_revisions",
    doc="A published value that changed: the value replaced, kept instead of lost.",
    columns=(
        Column("rate_date", pa.date32()),
        Column("cbr_id", pa.string()),
        Column("old_nominal", pa.int32()),
        Column("old_value", VALUE),
        Column("new_nominal", pa.int32()),
        Column("new_value", VALUE),
        Column("old_run_id", pa.string()),
        Column("revised_at", UTC_TIMESTAMP),
        Column("run_id", pa.string()),
    ),
    key=("rate_date", "cbr_id", "old_nominal", "old_value", "new_nominal", "new_value"),
    partition_by=("year",),
    partition_column="rate_date",
)

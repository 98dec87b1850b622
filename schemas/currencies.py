"""The `currencies` directory of CBR currency IDs."""

import pyarrow as pa

from sco_etl.schemas.checks import CBR_ID, FREQUENCY, ISO_ALPHA, ISO_NUMERIC, POSITIVE
from sco_etl.schemas.table import Column, Table

CURRENCIES = Table(
    name="currencies",
    doc="The CBR currency directory (XML_valFull d=0 and d=1), plus IDs seen only in rates.",
    columns=(
        Column("cbr_id", pa.string(), checks=(CBR_ID,)),
        Column("parent_id", pa.string(), nullable=True, doc="ParentCode, stripped"),
        Column("char_code", pa.string(), nullable=True, checks=(ISO_ALPHA,)),
        Column("num_code", pa.string(), nullable=True, checks=(ISO_NUMERIC,)),
        Column("name_ru", pa.string(), nullable=True),
        Column("name_en", pa.string(), nullable=True),
        Column("nominal", pa.int32(), checks=(POSITIVE,)),
        Column("frequency", pa.string(), checks=(FREQUENCY,)),
        Column("source", pa.string(), doc="directory, rates or lineage: where the row came from"),
    ),
    key=("cbr_id",),
)

"""Storage of sco-etl: a DuckLake warehouse (a SQL catalog plus hive-partitioned Parquet).

Nothing outside this package knows where files live or writes SQL.
"""

from sco_etl.warehouse.lake import LakeSettings, S3Settings
from sco_etl.warehouse.query import connect_read_only, run_query
from sco_etl.warehouse.store import UpsertResult, Warehouse, Writer

__all__ = [
    "LakeSettings",
    "S3Settings",
    "UpsertResult",
    "Warehouse",
    "Writer",
    "connect_read_only",
    "run_query",
]

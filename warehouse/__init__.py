"""Storage of sco-etl: hive-partitioned Parquet written atomically, and the DuckDB catalog.

Nothing outside this package knows where files live or writes SQL.
"""

from warehouse.query import connect_read_only, run_query
from warehouse.store import UpsertResult, Warehouse, Writer

__all__ = ["UpsertResult", "Warehouse", "Writer", "connect_read_only", "run_query"]

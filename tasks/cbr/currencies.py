"""The currency directory and the SCO currency set resolved to CBR IDs."""

from __future__ import annotations

from dataclasses import dataclass, field

import pyarrow as pa

from sco_etl.schemas import CURRENCIES
from sco_etl.schemas.checks import iso_alpha_codes
from sco_etl.schemas.reference import currency_lineage
from sco_etl.tasks.cbr.records import DirectoryEntry, RateRecord


@dataclass
class Directory:
    """CBR currency IDs with their codes, names, nominal and frequency."""

    rows: dict[str, dict] = field(default_factory=dict)

    @classmethod
    def from_entries(cls, daily: list[DirectoryEntry], monthly: list[DirectoryEntry]) -> Directory:
        directory = cls()
        for entries, frequency in ((daily, "daily"), (monthly, "monthly")):
            for entry in entries:
                directory.rows[entry.cbr_id] = {
                    "cbr_id": entry.cbr_id, "parent_id": entry.parent_id,
                    "char_code": entry.char_code, "num_code": entry.num_code,
                    "name_ru": entry.name_ru, "name_en": entry.name_en,
                    "nominal": entry.nominal, "frequency": frequency, "source": "directory",
                }
        directory.add_lineage()
        return directory

    @classmethod
    def from_table(cls, table: pa.Table) -> Directory:
        directory = cls({row["cbr_id"]: row for row in table.to_pylist()})
        directory.add_lineage()
        return directory

    def add_lineage(self) -> None:
        """Register retired predecessors (BYR `R01090`, TRL `R01700`) the directory omits."""
        for row in currency_lineage().to_pylist():
            self.rows.setdefault(row["predecessor_cbr_id"], {
                "cbr_id": row["predecessor_cbr_id"], "parent_id": row["predecessor_cbr_id"],
                "char_code": row["predecessor_code"], "num_code": row["predecessor_num_code"],
                "name_ru": row["predecessor_name_ru"], "name_en": row["predecessor_name_en"],
                "nominal": row["predecessor_nominal"], "frequency": "daily", "source": "lineage",
            })

    def register(self, record: RateRecord) -> None:
        """An ID seen in a rate document but missing from the directory is added from it."""
        if record.cbr_id in self.rows or not record.char_code:
            return
        self.rows[record.cbr_id] = {
            "cbr_id": record.cbr_id, "parent_id": record.cbr_id,
            "char_code": record.char_code, "num_code": record.num_code,
            "name_ru": record.name, "name_en": None, "nominal": record.nominal,
            "frequency": "daily", "source": "rates",
        }

    def get(self, cbr_id: str) -> dict | None:
        return self.rows.get(cbr_id)

    def to_table(self) -> pa.Table:
        ordered = [self.rows[k] for k in sorted(self.rows)]
        return pa.Table.from_pylist(ordered, schema=CURRENCIES.arrow_schema)


@dataclass(frozen=True)
class CurrencySet:
    """The currencies one run ingests, as CBR IDs."""

    codes: tuple[str, ...]
    daily_ids: tuple[str, ...]
    monthly_ids: tuple[str, ...]
    unquoted_codes: tuple[str, ...]
    """Requested codes CBR has no ID for (MVR, MMK): reported, never an error."""

    @property
    def ids(self) -> set[str]:
        return set(self.daily_ids) | set(self.monthly_ids)


def resolve(directory: Directory, codes: list[str]) -> CurrencySet:
    """Every CBR ID carrying one of `codes`, predecessors and renamed IDs included.

    Raises:
        ConfigError: a code is not an ISO 4217 alpha code.
    """
    wanted = iso_alpha_codes(codes)
    lineage = currency_lineage().to_pylist()
    expanded = set(wanted) | {r["predecessor_code"] for r in lineage if r["char_code"] in wanted}
    daily, monthly = [], []
    for cbr_id, row in sorted(directory.rows.items()):
        if row["char_code"] in expanded:
            (monthly if row["frequency"] == "monthly" else daily).append(cbr_id)
    found = {directory.rows[i]["char_code"] for i in daily + monthly}
    unquoted = sorted(expanded - found)
    return CurrencySet(tuple(sorted(expanded)), tuple(daily), tuple(monthly), tuple(unquoted))

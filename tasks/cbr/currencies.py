"""The currency directory and the SCO currency set resolved to CBR IDs."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field

import pyarrow as pa

from sco_etl.schemas import CURRENCIES
from sco_etl.schemas.checks import iso_alpha_codes
from sco_etl.schemas.reference import currency_lineage
from sco_etl.tasks.cbr.records import DirectoryEntry


@dataclass
class Directory:
    """CBR currency IDs with their codes, names, nominal and frequency: the `currencies` rows.

    The directory is what gives every rate row its codes and `frequency`, whichever document
    delivered the rate: `XML_dynamic` carries no codes, and `XML_daily` quotes currencies the
    directory lists as monthly (AED, EGP, QAR in 2026), so the rows cannot take them from there.
    """

    entries: dict[str, DirectoryEntry] = field(default_factory=dict)

    @classmethod
    def listed(cls, daily: list[DirectoryEntry], monthly: list[DirectoryEntry]) -> Directory:
        """The directory as CBR lists it (d=0, then d=1), with the shipped predecessors."""
        directory = cls({entry.cbr_id: entry for entry in [*daily, *monthly]})
        directory.add_lineage()
        return directory

    @classmethod
    def from_table(cls, table: pa.Table) -> Directory:
        """The directory as the `currencies` table stores it."""
        directory = cls({row["cbr_id"]: DirectoryEntry(**row) for row in table.to_pylist()})
        directory.add_lineage()
        return directory

    def add_lineage(self) -> None:
        """Register retired predecessors (BYR `R01090`, TRL `R01700`) the directory omits."""
        for row in currency_lineage().to_pylist():
            self.entries.setdefault(row["predecessor_cbr_id"], DirectoryEntry(
                cbr_id=row["predecessor_cbr_id"], parent_id=row["predecessor_cbr_id"],
                char_code=row["predecessor_code"], num_code=row["predecessor_num_code"],
                name_ru=row["predecessor_name_ru"], name_en=row["predecessor_name_en"],
                nominal=row["predecessor_nominal"], frequency="daily", source="lineage"))

    def register(self, cbr_id: str, char_code: str, num_code: str | None, name: str | None,
                 nominal: int) -> None:
        """An ID seen in `XML_daily` but missing from the directory is added from it."""
        self.entries.setdefault(cbr_id, DirectoryEntry(
            cbr_id=cbr_id, parent_id=cbr_id, char_code=char_code, num_code=num_code,
            name_ru=name, name_en=None, nominal=nominal, frequency="daily", source="rates"))

    def get(self, cbr_id: str) -> DirectoryEntry | None:
        return self.entries.get(cbr_id)

    def copy(self) -> Directory:
        return Directory(dict(self.entries))

    def to_table(self) -> pa.Table:
        ordered = [asdict(self.entries[k]) for k in sorted(self.entries)]
        return pa.Table.from_pylist(ordered, schema=CURRENCIES.arrow_schema)


@dataclass(frozen=True)
class CurrencySet:
    """The currencies one run ingests, as CBR IDs."""

    codes: tuple[str, ...]
    daily_ids: tuple[str, ...]
    """IDs the directory lists as set daily (and predecessors, which were)."""
    monthly_ids: tuple[str, ...]
    """IDs the directory lists as set monthly."""
    unquoted_codes: tuple[str, ...]
    """Requested codes CBR has no ID for (MVR, MMK): reported, never an error."""
    retired: dict[str, dt.date] = field(default_factory=dict)
    """Predecessor IDs and the day their successor replaced them: nothing to ask after."""

    @property
    def ids(self) -> set[str]:
        return set(self.daily_ids) | set(self.monthly_ids)

    def quoted_from(self, day: dt.date, ids: tuple[str, ...]) -> list[str]:
        """Those of `ids` that can have a rate on or after `day` (not retired before it)."""
        return [i for i in ids if self.retired.get(i, dt.date.max) > day]


def resolve(directory: Directory, codes: list[str]) -> CurrencySet:
    """Every CBR ID carrying one of `codes`, predecessors and renamed IDs included.

    Raises:
        ConfigError: a code is not an ISO 4217 alpha code.
    """
    wanted = iso_alpha_codes(codes)
    lineage = currency_lineage().to_pylist()
    expanded = set(wanted) | {r["predecessor_code"] for r in lineage if r["char_code"] in wanted}
    daily, monthly = [], []
    for cbr_id, entry in sorted(directory.entries.items()):
        if entry.char_code in expanded:
            (monthly if entry.frequency == "monthly" else daily).append(cbr_id)
    found = {directory.entries[i].char_code for i in daily + monthly}
    unquoted = sorted(expanded - found)
    retired = {r["predecessor_cbr_id"]: r["replaced_on"] for r in lineage}
    return CurrencySet(tuple(sorted(expanded)), tuple(daily), tuple(monthly), tuple(unquoted),
                       retired)

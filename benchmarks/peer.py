"""The peer: the `cbrf` library fetching the history day by day into the same Parquet layout.

A straightforward, fair use of the library: one `XML_daily` per calendar day in order (the
library has no range request for every currency), rows keyed by the effective date the
document states, SCO currencies only, exact decimals, each year written once, atomically, to
`rates/year=YYYY/data.parquet` with sco-etl's own schema. `cbrf` reads its host from
CBRF_URL_SCHEME / CBRF_URL_HOST when it is imported.
"""

from __future__ import annotations

import datetime as dt
import importlib
import os
import resource
import time
import uuid
from decimal import Decimal, localcontext
from pathlib import Path
from urllib.parse import urlsplit

import pyarrow as pa
import pyarrow.parquet as pq

UNIT_PLACES = Decimal("1e-12")


def backfill(params: dict) -> dict:
    """Job `peer`: days `start`..`end` (inclusive), one request each; written to `data_dir`."""
    url = urlsplit(params["cbr_url"])
    os.environ["CBRF_URL_SCHEME"], os.environ["CBRF_URL_HOST"] = url.scheme, url.netloc
    import cbrf.const

    importlib.reload(cbrf.const)  # read at import time: make sure this host is the one used
    from cbrf.models import DailyCurrenciesRates

    from sco_etl.schemas import RATES
    from sco_etl.schemas.reference import default_sco_currency_codes

    codes = set(params.get("currencies") or default_sco_currency_codes())
    day, end = dt.date.fromisoformat(params["start"]), dt.date.fromisoformat(params["end"])
    root = Path(params["data_dir"]) / "rates"
    run_id, loaded_at = str(uuid.uuid4()), dt.datetime.now(dt.UTC)
    pending: dict[tuple[dt.date, str], dict] = {}
    written_years: set[int] = set()
    requests = rows = 0
    year = day.year
    cpu = _cpu_seconds()
    started = time.perf_counter()
    while day <= end:
        if day.year != year:
            rows += _flush(root, pending, written_years, RATES.arrow_schema)
            year = day.year
        document = DailyCurrenciesRates(dt.datetime.combine(day, dt.time()))
        requests += 1
        effective = document.date.date()  # a Sunday request returns Saturday's document
        # Every effective date is answered by the request for that very date, so a document
        # of a year already written (early January asks get December's) is a repeat.
        if effective.year not in written_years:
            for record in document.rates.values():
                if record.char_code in codes:
                    pending[(effective, record.id)] = _row(record, effective, loaded_at, run_id)
        day += dt.timedelta(days=1)
    rows += _flush(root, pending, written_years, RATES.arrow_schema)
    return {"seconds": time.perf_counter() - started, "cpu_seconds": _cpu_seconds() - cpu,
            "requests": requests, "rows": rows,
            "years_written": len(written_years),
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _row(record, effective: dt.date, loaded_at: dt.datetime, run_id: str) -> dict:
    with localcontext() as context:
        context.prec = 38
        unit_rate = (record.value / record.denomination).quantize(UNIT_PLACES)
    return {"rate_date": effective, "cbr_id": record.id, "char_code": record.char_code,
            "num_code": record.num_code, "nominal": record.denomination,
            "value": record.value, "unit_rate": unit_rate, "frequency": "daily",
            "loaded_at": loaded_at, "run_id": run_id}


def _flush(root: Path, pending: dict, written_years: set[int], schema: pa.Schema) -> int:
    """Write each year held in `pending` (one file per year), then forget it."""
    years = sorted({key[0].year for key in pending})
    for year in years:
        _write_year(root, year, [row for key, row in pending.items() if key[0].year == year],
                    schema)
    written_years.update(years)
    count = len(pending)
    pending.clear()
    return count


def _write_year(root: Path, year: int, rows: list[dict], schema: pa.Schema) -> None:
    rows.sort(key=lambda row: (row["rate_date"], row["cbr_id"]))
    path = root / f"year={year}" / "data.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), temporary)
    os.replace(temporary, path)

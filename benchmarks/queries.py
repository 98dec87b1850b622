"""Section 3: questions over the whole history, DuckDB through the project's views vs pandas.

DuckDB runs the SQL a user would type against the lake (one read-only connection, as
`warehouse.connect_read_only` opens it; a fresh `run_query` per question is timed too).
pandas answers the same questions from `sco-etl export`'s plain Parquet copy (what a tool
that does not speak DuckLake reads), done the way a careful user would: `pd.read_parquet` of
the rates directory with only the needed columns, Arrow-backed dtypes (exact decimals without
Python objects) and filters pushed into the read.
Each side runs once untimed, then `runs` times; medians are reported.
"""

from __future__ import annotations

import datetime as dt
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pyarrow as pa

BOARD_DATE = dt.date(2015, 6, 16)
CROSS = ("CNY", "INR")
SERIES_ID = "R01375"  # CNY
REDENOMINATION = dt.date(1998, 1, 1)
ACTIVE_WITHIN_DAYS = 45  # as in warehouse/views.py: a currency quoted this recently is current

SQL = {
    "monthly_average": (
        "SELECT cbr_id, char_code, date_trunc('month', rate_date) AS month, "
        "avg(unit_rate) AS avg_unit_rate FROM rates GROUP BY ALL ORDER BY cbr_id, month"
    ),
    "currency_series": (
        f"SELECT rate_date, nominal, value, unit_rate FROM rates WHERE cbr_id = '{SERIES_ID}' "
        "ORDER BY rate_date"
    ),
    "board_one_date": f"SELECT * FROM board(DATE '{BOARD_DATE}')",
    "cross_rate_series": f"SELECT * FROM cross_rate('{CROSS[0]}', '{CROSS[1]}')",
}
DESCRIPTIONS = {
    "monthly_average": "monthly average per currency, all years",
    "currency_series": f"one currency's full series ({SERIES_ID}, CNY)",
    "board_one_date": f"the board for one date ({BOARD_DATE})",
    "cross_rate_series": f"cross-rate series {CROSS[0]}/{CROSS[1]}, calendar-filled",
}


def compare(params: dict) -> dict:
    """Job `queries`: every question on both engines; medians (wall and CPU) in milliseconds."""
    from sco_etl.warehouse import Warehouse, connect_read_only, run_query
    from sco_etl.warehouse.export import export

    warehouse = Warehouse(params["data_dir"])
    runs = params["runs"]
    exported = Path(params["data_dir"]).parent / "export"
    export(warehouse, exported)
    tuned = PandasAnswers(exported)
    plain = PandasAnswers(exported, tuned=False)
    # `run_query` first: it opens its own connection each time, as `sco-etl query` does.
    fresh = {name: _median(lambda sql=sql: run_query(warehouse, sql), runs)
             for name, sql in SQL.items()}
    figures = {}
    connection = connect_read_only(warehouse)
    try:
        for name, sql in SQL.items():
            duck = _median(lambda sql=sql: connection.sql(sql).to_arrow_table(), runs)
            panda = _median(getattr(tuned, name), runs)
            default = _median(getattr(plain, name), max(1, runs // 2))
            figures[name] = {
                "description": DESCRIPTIONS[name],
                "duckdb_ms": duck.ms, "duckdb_cpu_ms": duck.cpu_ms,
                "duckdb_fresh_connection_ms": fresh[name].ms,
                "pandas_ms": panda.ms, "pandas_cpu_ms": panda.cpu_ms,
                "pandas_defaults_ms": default.ms,
                "speedup": panda.ms / duck.ms, "speedup_cpu": panda.cpu_ms / duck.cpu_ms,
                "speedup_vs_defaults": default.ms / duck.ms,
                "duckdb_rows": duck.value.num_rows, "pandas_rows": len(panda.value),
                "same_answer": SAME[name](duck.value.to_pandas(), panda.value),
            }
    finally:
        connection.close()
    return {"runs": runs, "queries": figures}


class _Timed:
    def __init__(self, ms: float, cpu_ms: float, value) -> None:
        self.ms, self.cpu_ms, self.value = ms, cpu_ms, value


def _median(call: Callable, runs: int) -> _Timed:
    value = call()  # warm-up: first read of the files, query planning
    wall, cpu = [], []
    for _ in range(runs):
        started, started_cpu = time.perf_counter(), time.process_time()
        value = call()
        cpu.append((time.process_time() - started_cpu) * 1000)
        wall.append((time.perf_counter() - started) * 1000)
    return _Timed(statistics.median(wall), statistics.median(cpu), value)


def _close(a, b) -> bool:
    a, b = a.astype("float64").to_numpy(), b.astype("float64").to_numpy()
    return len(a) == len(b) and bool((abs(a - b) <= 1e-9 * abs(b) + 1e-12).all())


SAME: dict[str, Callable[[pd.DataFrame, pd.DataFrame], bool]] = {
    "monthly_average": lambda d, p: _close(d["avg_unit_rate"], p["unit_rate"]),
    "currency_series": lambda d, p: (
        [str(v) for v in d["value"]] == [str(v) for v in p["value"]]
        and _close(d["unit_rate"], p["unit_rate"])),
    "board_one_date": lambda d, p: (
        sorted(zip(d["country"], d["char_code"], d["rate_date"].astype(str), strict=True))
        == sorted(zip(p["country"], p["char_code"], p["rate_date"].astype(str), strict=True))),
    "cross_rate_series": lambda d, p: _close(d["rate"], p["rate"]),
}
"""Whether DuckDB and pandas gave the same answer (both sorted alike)."""


class PandasAnswers:
    """The four questions in pandas, from the Parquet files alone.

    `tuned` (the figure compared): only the needed columns, filters pushed into the read,
    Arrow-backed dtypes. Otherwise pandas' defaults: the whole directory read with default
    dtypes (decimals as Python objects, converted to float for arithmetic), then filtered.
    """

    def __init__(self, root: Path, tuned: bool = True) -> None:
        self.root = root
        self.rates = root / "rates"
        self.tuned = tuned

    def _read(self, columns: list[str], filters=None) -> pd.DataFrame:
        if self.tuned:
            return pd.read_parquet(self.rates, columns=columns, filters=filters,
                                   dtype_backend="pyarrow")
        df = pd.read_parquet(self.rates)
        for column, op, value in filters or ():
            df = df[df[column] == value] if op == "==" else df[df[column].isin(value)]
        df = df[columns].copy()
        if "rate_date" in df:  # read as Python date objects by default
            df["rate_date"] = df["rate_date"].astype(pd.ArrowDtype(pa.date32()))
        for column in ("value", "unit_rate"):
            if column in df:
                df[column] = df[column].astype("float64")
        return df

    def monthly_average(self) -> pd.DataFrame:
        df = self._read(["rate_date", "cbr_id", "char_code", "unit_rate"])
        dates = df["rate_date"]
        df["month"] = dates - pd.to_timedelta(dates.dt.day - 1, unit="D")
        return (df.groupby(["cbr_id", "char_code", "month"], observed=True)["unit_rate"]
                .mean().reset_index().sort_values(["cbr_id", "month"]))

    def currency_series(self) -> pd.DataFrame:
        df = self._read(["rate_date", "nominal", "value", "unit_rate"],
                        filters=[("cbr_id", "==", SERIES_ID)])
        return df.sort_values("rate_date", ignore_index=True)

    def board_one_date(self, day: dt.date = BOARD_DATE) -> pd.DataFrame:
        rates = self._read(["rate_date", "cbr_id", "char_code", "nominal", "value", "unit_rate"])
        countries = self._table("sco_countries")
        lineage = self._table("currency_lineage")
        currencies = self._table("currencies")
        spans = _spans(rates)
        # The latest rate on or before the day, per currency ID still (or already) quoted then.
        known = rates[rates["rate_date"] <= pd.Timestamp(day).date()]
        latest = known.sort_values("rate_date").groupby("cbr_id").tail(1).set_index("cbr_id")
        latest = latest[(spans.loc[latest.index, "first"] <= day).to_numpy()
                        & (spans.loc[latest.index, "last"] >= day).to_numpy()].reset_index()
        valid = countries[(countries["valid_from"] <= day)
                          & (countries["valid_to"].isna() | (countries["valid_to"] >= day))]
        codes = pd.concat([
            valid[["country", "char_code"]],
            valid.merge(lineage, on="char_code")[["country", "predecessor_code"]]
            .rename(columns={"predecessor_code": "char_code"}),
        ]).drop_duplicates()
        ids = codes.merge(currencies[["cbr_id", "char_code", "name_en"]], on="char_code")
        quoted = ids.drop(columns="char_code").merge(latest, on="cbr_id")
        best = (quoted.sort_values(["rate_date", "cbr_id"])
                .groupby("country").tail(1)[["country", "rate_date", "char_code", "name_en",
                                             "nominal", "value", "unit_rate"]])
        board = valid[valid["char_code"] != "RUB"][["country", "status", "char_code"]].merge(
            best.rename(columns={"char_code": "quoted_code"}), on="country", how="left")
        board["char_code"] = board["quoted_code"].fillna(board["char_code"])
        return board.drop(columns="quoted_code").sort_values(["status", "country"])

    def cross_rate_series(self, base: str = CROSS[0], quote: str = CROSS[1]) -> pd.DataFrame:
        every = self._read(["rate_date"])
        last_published = every["rate_date"].max()
        rates = self._read(["rate_date", "cbr_id", "char_code", "unit_rate"],
                           filters=[("char_code", "in", [base, quote])])
        daily = {code: _calendar_filled(rates[rates["char_code"] == code], last_published)
                 for code in (base, quote)}
        both = daily[base].to_frame("base").join(daily[quote].to_frame("quote"), how="inner")
        both["rate"] = both["base"].astype("float64") / both["quote"].astype("float64")
        return both.reset_index(names="as_of_date")[["as_of_date", "rate"]]

    def _table(self, name: str) -> pd.DataFrame:
        return pd.read_parquet(self.root / name / "data.parquet", dtype_backend="pyarrow")


def _spans(rates: pd.DataFrame) -> pd.DataFrame:
    """First and last calendar day each currency ID has a rate in force (views' rule)."""
    spans = rates.groupby("cbr_id")["rate_date"].agg(["min", "max"])
    last_published = rates["rate_date"].max()
    horizon = max(last_published, dt.date.today())
    active = spans["max"] >= last_published - dt.timedelta(days=ACTIVE_WITHIN_DAYS)
    return pd.DataFrame({"first": spans["min"],
                         "last": spans["max"].where(~active, horizon)})


def _calendar_filled(rates: pd.DataFrame, last_published: dt.date) -> pd.Series:
    """Unit rate in force on every calendar day (latest publication, highest ID on a tie)."""
    per_day = (rates.sort_values(["rate_date", "cbr_id"]).groupby("rate_date").tail(1)
               .set_index("rate_date")["unit_rate"])
    per_day.index = pd.to_datetime(per_day.index.astype("datetime64[s]"))
    last = per_day.index.max().date()
    if last >= last_published - dt.timedelta(days=ACTIVE_WITHIN_DAYS):
        last = max(last_published, dt.date.today())
    days = pd.date_range(per_day.index.min(), pd.Timestamp(last), freq="D")
    return per_day.reindex(days).ffill()

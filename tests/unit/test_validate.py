"""Validation on Arrow: the rules one by one, then `validate` over a small table and `RATES`."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pyarrow as pa
import pytest

from sco_etl.schemas import RATES, to_arrow, validate
from sco_etl.schemas.checks import PLAIN_TEXT, RATE_DATE_RANGE, Rule
from sco_etl.schemas.clock import moscow_tomorrow
from sco_etl.schemas.errors import ValidationFailure
from sco_etl.schemas.table import Column, Table

UTC = dt.UTC
ITEMS = Table(
    name="items",
    columns=(
        Column("id", pa.string(), checks=(Rule.str_matches(r"^[a-z]\d$"),)),
        Column("size", pa.int32(), checks=(Rule.gt(0),)),
        Column("colour", pa.string(), nullable=True, checks=(Rule.isin(["red", "blue"]),)),
    ),
    key=("id",),
)


def passes(rule: Rule, values: list, type: pa.DataType | None = None) -> list[bool]:
    return rule.passes(pa.chunked_array([pa.array(values, type or pa.string())])).to_pylist()


def items(*rows: tuple) -> pa.Table:
    return pa.Table.from_pylist([dict(zip(ITEMS.column_names, row, strict=True)) for row in rows],
                                schema=ITEMS.arrow_schema)


def rate(cbr_id: str = "R01235", **changes) -> dict:
    return {"rate_date": dt.date(2025, 4, 1), "cbr_id": cbr_id, "char_code": "USD",
            "num_code": "840", "nominal": 1, "value": Decimal("81.1234"),
            "unit_rate": Decimal("81.1234"), "frequency": "daily",
            "loaded_at": dt.datetime(2025, 4, 1, tzinfo=UTC), "run_id": "r1"} | changes


def rates(*records: dict) -> pa.Table:
    return pa.Table.from_pylist(list(records), schema=RATES.arrow_schema)


def test_gt_passes_greater_values_and_nulls():
    values = [Decimal("0.0001"), Decimal(0), Decimal(-1), None]
    assert passes(Rule.gt(0), values, pa.decimal128(18, 4)) == [True, False, False, True]


def test_isin_passes_allowed_values_only():
    assert passes(Rule.isin(["daily", "monthly"]), ["daily", "Daily", "weekly"]) == [
        True, False, False]


def test_str_matches_anchors_at_the_start_and_uses_the_declared_end():
    assert passes(Rule.str_matches(r"^[A-Z]{3}$"), ["USD", "USDX", "xUSD", "USD\n"]) == [
        True, False, False, False]
    assert passes(Rule.str_matches(r"https?://"), ["http://a", "see https://a"]) == [True, False]


def test_str_startswith_is_literal():
    assert passes(Rule.str_startswith("https://"), ["https://a", "http://a", "HTTPS://a"]) == [
        True, False, False]


def test_custom_rules_compute_their_bound_when_they_run():
    dates = [dt.date(1992, 6, 30), dt.date(1992, 7, 1), moscow_tomorrow(),
             moscow_tomorrow() + dt.timedelta(days=1)]
    assert passes(RATE_DATE_RANGE, dates, pa.date32()) == [False, True, True, False]
    assert passes(PLAIN_TEXT, ["tab\tand\nnewline", "bell\x07", "del\x7f"]) == [
        True, False, False]


@pytest.mark.parametrize(("rule", "value", "reason"), [
    (Rule.gt(0, name="positive"), Decimal("-1.0000"), "x must be greater than 0, got -1"),
    (Rule.isin(["daily", "monthly"]), "weekly", 'x must be one of daily, monthly, got "weekly"'),
    (Rule.str_matches(r"^\d$"), "a", r'x must match ^\d$, got "a"'),
    (Rule.str_startswith("https://"), "ftp://a", 'x must start with https://, got "ftp://a"'),
    (RATE_DATE_RANGE, dt.date(1990, 1, 1),
     "x must be between 1992-07-01 and tomorrow (Moscow), got 1990-01-01"),
    (Rule(lambda v: v, name="custom"), 5, "x failed custom, got 5"),
])
def test_reasons_are_sentences_without_python_reprs(rule, value, reason):
    assert rule.reason("x", value) == reason


def test_good_rows_keep_input_order_and_the_declared_schema():
    checked = validate(ITEMS, items(("c3", 1, None), ("a1", 2, "red"), ("b2", 3, "blue")))
    assert checked.rows.schema == ITEMS.arrow_schema
    assert checked.rows.to_pylist() == [{"id": "c3", "size": 1, "colour": None},
                                        {"id": "a1", "size": 2, "colour": "red"},
                                        {"id": "b2", "size": 3, "colour": "blue"}]
    assert checked.rejected == []


def test_null_passes_a_nullable_column_and_is_rejected_in_another():
    checked = validate(ITEMS, items(("a1", None, None), ("b2", 1, None)))
    assert [(r.record, r.reason) for r in checked.rejected] == [
        ({"id": "a1", "size": None, "colour": None}, "size is missing")]
    assert checked.rows["id"].to_pylist() == ["b2"]


def test_reasons_of_one_row_are_joined_in_column_order():
    checked = validate(ITEMS, items(("A1", 0, "green"), ("b2", 1, None)))
    assert [r.reason for r in checked.rejected] == [
        r'id must match ^[a-z]\d$, got "A1"; size must be greater than 0, got 0; '
        'colour must be one of red, blue, got "green"']


def test_exact_duplicates_are_merged_into_the_first():
    checked = validate(RATES, rates(rate("R01235"), rate("R01239"), rate("R01235")))
    assert checked.rows["cbr_id"].to_pylist() == ["R01235", "R01239"]
    assert checked.rejected == []


def test_different_rows_under_one_key_are_all_rejected():
    checked = validate(RATES, rates(rate(), rate(value=Decimal("90")), rate("R01239")))
    reason = "two different records for rate_date 2025-04-01, cbr_id R01235"
    assert [(r.record["value"], r.reason) for r in checked.rejected] == [
        (Decimal("81.1234"), reason), (Decimal("90.0000"), reason)]
    assert checked.rows["cbr_id"].to_pylist() == ["R01239"]


def test_rejected_records_hold_plain_python_values():
    (rejection,) = validate(RATES, rates(rate(value=Decimal("-1"), num_code=None))).rejected
    assert rejection.record == rate(value=Decimal("-1.0000"), num_code=None)
    assert {type(value).__name__ for value in rejection.record.values()} == {
        "date", "str", "NoneType", "int", "Decimal", "datetime"}
    assert rejection.reason == "value must be greater than 0, got -1"


def test_an_absurd_reject_share_fails_the_run():
    batch = rates(*[rate(f"R0{n:04d}", nominal=0) for n in range(6)],
                  *[rate(f"R1{n:04d}") for n in range(4)])
    with pytest.raises(ValidationFailure) as failure:
        validate(RATES, batch)
    assert str(failure.value) == (
        "6 of 10 rates records failed validation (first: nominal must be greater than 0, "
        "got 0); the source looks broken, nothing was written")


def test_columns_other_than_the_declared_ones_are_a_bug():
    with pytest.raises(ValidationFailure, match=r"columns missing \['run_id'\], undeclared \[\]"):
        validate(RATES, rates(rate()).drop_columns(["run_id"]))


def test_a_record_a_column_cannot_hold_is_refused_naming_the_column():
    good, refused = to_arrow(RATES, [rate(), rate("R01239", value=Decimal("1E+30"))])
    assert good["cbr_id"].to_pylist() == ["R01235"]
    assert [r.reason for r in refused] == [
        "value 1000000000000000000000000000000 does not fit its column (decimal128(18, 4))"]


def test_the_versioned_columns_are_declared_or_every_data_column():
    assert RATES.versioned_columns == ["nominal", "value"]
    assert ITEMS.versioned_columns == ["size", "colour"]

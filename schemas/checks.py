"""Reusable column checks shared by several table declarations.

A check is a `Rule`: a test that maps an Arrow array to a boolean mask (True = passes),
evaluated with pyarrow.compute, so validating a batch never goes through pandas.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from sco_etl.schemas.clock import moscow_tomorrow
from sco_etl.schemas.errors import ConfigError

ArrowValues = pa.Array | pa.ChunkedArray
"""A column's values: a plain or a chunked Arrow array."""


class Rule:
    """A column check every non-null value must pass: `function` maps an Arrow array to a
    boolean one (True = passes). `must` ends a sentence (`be greater than 0`): a rejection
    reads "`value must be greater than 0, got -1`"; a rule without it is named instead
    ("`published_at failed published_from_1990_to_now, got …`")."""

    def __init__(self, function: Callable[[ArrowValues], ArrowValues], *,
                 name: str | None = None, must: str | None = None) -> None:
        self.function = function
        self.name = name or function.__name__
        self.must = must

    def __repr__(self) -> str:
        return f"Rule({self.name})"

    def passes(self, values: ArrowValues) -> ArrowValues:
        """True where a value passes or is null (the `nullable` flag's business); a null
        answer for a value that is there fails (a rule that cannot say yes did not pass)."""
        answer = self.function(values)
        return pc.fill_null(pc.or_kleene(pc.is_null(values), answer), False)

    def reason(self, column: str, value: Any) -> str:
        if self.must:
            return f"{column} must {self.must}, got {shown(value)}"
        return f"{column} failed {self.name}, got {shown(value)}"

    @classmethod
    def gt(cls, value: Any, name: str | None = None) -> Rule:
        return cls(lambda values: pc.greater(values, value), name=name or f"gt_{value}",
                   must=f"be greater than {shown(value)}")

    @classmethod
    def isin(cls, allowed: Iterable[Any], name: str | None = None) -> Rule:
        allowed = list(allowed)

        def is_allowed(values: ArrowValues) -> ArrowValues:
            return pc.is_in(values, value_set=pa.array(allowed, type=values.type))

        return cls(is_allowed, name=name or "isin",
                   must="be one of " + ", ".join(str(a) for a in allowed))

    @classmethod
    def str_matches(cls, pattern: str, name: str | None = None,
                    must: str | None = None) -> Rule:
        """Strings the RE2 expression matches from their start (as `re.match`; `$` for whole
        values)."""
        anchored = pattern if pattern.startswith("^") else f"^{pattern}"
        return cls(lambda values: pc.match_substring_regex(values, pattern=anchored),
                   name=name or "str_matches", must=must or f"match {pattern}")

    @classmethod
    def str_startswith(cls, prefix: str, name: str | None = None) -> Rule:
        return cls(lambda values: pc.starts_with(values, pattern=prefix),
                   name=name or "str_startswith", must=f"start with {prefix}")


def shown(value: Any) -> str:
    """A value as a sentence shows it: `-1`, `2026-11-28`, `"usd"`, never a Python repr."""
    if value is None:
        return "nothing"
    if isinstance(value, Decimal):
        return format(value.normalize(), "f") if value.is_finite() else str(value)
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if isinstance(value, str):
        return f'"{value}"'
    return str(value)


FIRST_RATE_DATE = dt.date(1992, 7, 1)
"""The first date of the CBR official rate series."""

CBR_ID = Rule.str_matches(r"^R\d{5}[A-Z]?$", name="cbr_id_format",
                          must="be a CBR currency ID (R, five digits, a letter or none)")
ISO_ALPHA_CODE = re.compile(r"[A-Z]{3}")
"""An ISO 4217 alpha code: three capital Latin letters."""
ISO_ALPHA = Rule.str_matches(f"^{ISO_ALPHA_CODE.pattern}$", name="iso_alpha_code",
                             must="be an ISO 4217 alpha code (three capital letters)")
ISO_NUMERIC = Rule.str_matches(r"^\d{3}$", name="iso_numeric_code",
                               must="be an ISO 4217 numeric code (three digits)")
POSITIVE = Rule.gt(0, name="positive")
FREQUENCY = Rule.isin(["daily", "monthly"], name="frequency")


def iso_alpha_codes(codes: Iterable[str]) -> list[str]:
    """Currency codes as given by a user, stripped and upper-cased, blank ones dropped; one
    that is no ISO 4217 alpha code (it would reach CBR queries and SQL) is a ConfigError."""
    wanted = [code.strip().upper() for code in codes if code.strip()]
    bad = [code for code in wanted if not ISO_ALPHA_CODE.fullmatch(code)]
    if bad:
        raise ConfigError(f"not ISO 4217 alpha codes: {', '.join(bad)} (expected e.g. CNY,KZT)")
    return wanted


def _rate_date_in_range(dates: ArrowValues) -> ArrowValues:
    # The bound moves with the clock, so it is computed when the check runs.
    return pc.and_(pc.greater_equal(dates, FIRST_RATE_DATE),
                   pc.less_equal(dates, moscow_tomorrow()))


RATE_DATE_RANGE = Rule(_rate_date_in_range, name="date_from_1992_07_01_to_tomorrow",
                       must="be between 1992-07-01 and tomorrow (Moscow)")


def no_control_characters(texts: ArrowValues) -> ArrowValues:
    """True for text without C0 control characters (tab, newline, return allowed) or DEL."""
    return pc.invert(pc.match_substring_regex(texts, pattern=r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]"))


PLAIN_TEXT = Rule(no_control_characters, name="no_control_characters",
                  must="hold no control characters")

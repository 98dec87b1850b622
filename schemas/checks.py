"""Reusable column checks shared by several table declarations."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from schemas.errors import ConfigError

if TYPE_CHECKING:
    import pandas as pd


class Rule:
    """A column check, declared without importing pandera (slow to import: the read-only
    commands never validate); `build()` makes the pandera `Check` when validation runs.

    Mirrors the pandera names: `Rule.gt(0)`, `Rule.isin([...])`, `Rule(function, name=...)`.
    """

    def __init__(self, function: Callable | None = None, *, name: str | None = None,
                 builtin: str | None = None, args: tuple[Any, ...] = ()) -> None:
        self.function, self.name, self.builtin, self.args = function, name, builtin, args

    @classmethod
    def _make(cls, builtin: str, *args: Any, name: str | None = None) -> Rule:
        return cls(name=name, builtin=builtin, args=args)

    @classmethod
    def gt(cls, value: Any, name: str | None = None) -> Rule:
        return cls._make("gt", value, name=name)

    @classmethod
    def isin(cls, values: Any, name: str | None = None) -> Rule:
        return cls._make("isin", list(values), name=name)

    @classmethod
    def str_matches(cls, pattern: str, name: str | None = None) -> Rule:
        return cls._make("str_matches", pattern, name=name)

    @classmethod
    def str_startswith(cls, prefix: str, name: str | None = None) -> Rule:
        return cls._make("str_startswith", prefix, name=name)

    def build(self) -> Any:
        import pandera.pandas as pandera

        named = {"name": self.name} if self.name else {}
        if self.builtin:
            return getattr(pandera.Check, self.builtin)(*self.args, **named)
        return pandera.Check(self.function, **named)


MOSCOW = ZoneInfo("Europe/Moscow")
FIRST_RATE_DATE = dt.date(1992, 7, 1)
"""The first date of the CBR official rate series."""

CBR_ID = Rule.str_matches(r"^R\d{5}[A-Z]?$", name="cbr_id_format")
ISO_ALPHA_CODE = re.compile(r"[A-Z]{3}")
"""An ISO 4217 alpha code: three capital Latin letters."""
ISO_ALPHA = Rule.str_matches(f"^{ISO_ALPHA_CODE.pattern}$", name="iso_alpha_code")
ISO_NUMERIC = Rule.str_matches(r"^\d{3}$", name="iso_numeric_code")
POSITIVE = Rule.gt(0, name="positive")
FREQUENCY = Rule.isin(["daily", "monthly"], name="frequency")


def iso_alpha_codes(codes: Iterable[str]) -> list[str]:
    """Currency codes as given by a user, stripped and upper-cased; blank ones dropped.

    Raises:
        ConfigError: one is not an ISO 4217 alpha code (it would reach CBR queries and SQL).
    """
    wanted = [code.strip().upper() for code in codes if code.strip()]
    bad = [code for code in wanted if not ISO_ALPHA_CODE.fullmatch(code)]
    if bad:
        raise ConfigError(f"not ISO 4217 alpha codes: {', '.join(bad)} (expected e.g. CNY,KZT)")
    return wanted


def tomorrow_in_moscow() -> dt.date:
    """CBR publishes tomorrow's rates today, so tomorrow (Moscow) is the latest valid date."""
    return dt.datetime.now(MOSCOW).date() + dt.timedelta(days=1)


def _rate_date_in_range(series: pd.Series) -> pd.Series:
    # The bound moves with the clock, so it is computed when the check runs.
    return (series >= FIRST_RATE_DATE) & (series <= tomorrow_in_moscow())


RATE_DATE_RANGE = Rule(_rate_date_in_range, name="date_from_1992_07_01_to_tomorrow")


def no_control_characters(series: pd.Series) -> pd.Series:
    return ~series.str.contains(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", regex=True)


PLAIN_TEXT = Rule(no_control_characters, name="no_control_characters")

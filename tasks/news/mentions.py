"""Which SCO countries a news item names: word-boundary matches of the country terms.

Pure functions over Arrow tables. Russian nouns and adjectives inflect, so a Russian term
matches its case forms, derived by the few rules below (the reference lists the forms itself
where they would miss: Египет → Египта). Matches are case-sensitive — "Turkey" is the country,
"turkey" the bird — except that a lower-case term (a Russian adjective: китайский) may start a
sentence capitalised.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pyarrow as pa

from sco_etl.schemas.mentions import NEWS_MENTIONS

TEXT_COLUMNS = ("title", "summary", "body")
CYRILLIC = re.compile(r"[а-яё]", re.IGNORECASE)
ADJECTIVE_ENDINGS = ("ий", "ая", "ое", "ие", "ого", "ому", "им", "ом", "ой", "ую", "их", "ими")
# Indeclinable: Душанбе, Баку, Нью-Дели, ОАЭ.
INDECLINABLE_ENDS = "оеиуэюОЕИУЭЮ"
VELARS = "гкхжшчщ"
WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class Matcher:
    """One compiled pattern per country; a named group per term tells which term matched."""

    country: str
    pattern: re.Pattern
    terms: dict[str, str]
    """group name → term"""
    hints: frozenset[str] | None
    """The first word of every form, lower-cased: a text with none of them cannot match, so
    the pattern runs only on the few texts that name the country (a set lookup per text
    instead of a regex scan per country). None: a form starts with no word, always scan."""


def russian_forms(term: str) -> list[str]:
    """The case forms of a one-word Russian country name, demonym adjective or capital."""
    if " " in term:
        return [term]
    if term.endswith(("ский", "цкий", "кий")):
        return [term[:-2] + ending for ending in ADJECTIVE_ENDINGS]
    if term.endswith("ия"):  # Индия, Россия
        return [term[:-1] + e for e in ("я", "и", "ю", "ей")]
    if term.endswith("а"):  # Астана, Москва, Шри-Ланка
        genitive = "и" if term[-2] in VELARS else "ы"
        return [term[:-1] + e for e in ("а", genitive, "е", "у", "ой")]
    if term.endswith("й"):  # Китай
        return [term[:-1] + e for e in ("й", "я", "ю", "е", "ем")]
    if term.endswith("ь"):  # Беларусь
        return [term[:-1] + e for e in ("ь", "и", "ью", "я", "ю", "е", "ем")]
    if term[-1] in INDECLINABLE_ENDS:
        return [term]
    return [term + e for e in ("", "а", "у", "ом", "е")]  # Казахстан, Пекин


def term_forms(term: str, language: str, forms: str | None) -> list[str]:
    """Every spelling of a term to look for."""
    if forms:
        return [f for f in forms.split("|") if f]
    if language == "ru" and CYRILLIC.search(term):
        return russian_forms(term)
    return [term]


def _spelled(form: str) -> str:
    first = form[0]
    if first.islower():
        return f"[{first}{first.upper()}]" + re.escape(form[1:])
    return re.escape(form)


def compile_matchers(terms: pa.Table) -> list[Matcher]:
    """Matchers of the `country_terms` rows, one per country."""
    by_country: dict[str, list[dict]] = {}
    for row in terms.to_pylist():
        by_country.setdefault(row["country"], []).append(row)
    matchers = []
    for country, rows in sorted(by_country.items()):
        groups, names, hints = [], {}, set()
        for index, row in enumerate(rows):
            forms = sorted(term_forms(row["term"], row["language"], row["forms"]),
                           key=len, reverse=True)  # longest first: "Kuwait City", not "Kuwait"
            name = f"t{index}"
            names[name] = row["term"]
            groups.append(f"(?P<{name}>" + "|".join(_spelled(f) for f in forms) + ")")
            for form in forms:
                first = WORD.match(form)
                hints.add(first.group().lower() if first else None)
        # Longer terms first across the country too: "Sri Lankan" before "Sri Lanka".
        groups.sort(key=len, reverse=True)
        pattern = re.compile(r"(?<!\w)(?:" + "|".join(groups) + r")(?!\w)")
        matchers.append(Matcher(country, pattern, names,
                                None if None in hints else frozenset(hints)))
    return matchers


def find_mentions(news: pa.Table, matchers: list[Matcher]) -> pa.Table:
    """`news_mentions` rows of the items in `news` (item_id plus the text columns).

    A match can only start where a word starts whose lower-case form is one of its matcher's
    hints, so each pattern is tried only there (anchored, after the previous match of the same
    country, as a scan would) instead of scanning the whole text once per country.
    """
    by_hint: dict[str, list[int]] = {}
    for index, matcher in enumerate(matchers):
        for hint in matcher.hints or ():
            by_hint.setdefault(hint, []).append(index)
    scanned = [matcher for matcher in matchers if matcher.hints is None]
    found: set[tuple[str, str, str]] = set()
    columns = [c for c in TEXT_COLUMNS if c in news.column_names]
    for row in news.select(["item_id", *columns]).to_pylist():
        text = "\n".join(row[c] for c in columns if row[c])
        starts: dict[int, list[int]] = {}
        for word in WORD.finditer(text):
            for index in by_hint.get(word.group().lower(), ()):
                starts.setdefault(index, []).append(word.start())
        for index, positions in starts.items():
            matcher, end = matchers[index], 0
            for position in positions:
                match = matcher.pattern.match(text, position) if position >= end else None
                if match:
                    found.add((row["item_id"], matcher.country, matcher.terms[match.lastgroup]))
                    end = match.end()
        for matcher in scanned:
            for match in matcher.pattern.finditer(text):
                found.add((row["item_id"], matcher.country, matcher.terms[match.lastgroup]))
    rows = [dict(zip(NEWS_MENTIONS.column_names, values, strict=True))
            for values in sorted(found)]
    return pa.Table.from_pylist(rows, schema=NEWS_MENTIONS.arrow_schema)


def mention_changes(stored: pa.Table, found: pa.Table) -> tuple[pa.Table, pa.Table]:
    """The mentions to add and to remove: those found now against the stored ones."""
    def keys(table: pa.Table) -> list[tuple]:
        return list(zip(*(table[c].to_pylist() for c in NEWS_MENTIONS.key), strict=True))

    def only(table: pa.Table, wanted: set[tuple]) -> pa.Table:
        mask = pa.array([key in wanted for key in keys(table)], pa.bool_())
        return table.filter(mask) if table.num_rows else table

    old, new = set(keys(stored)), set(keys(found))
    return only(found, new - old), only(stored, old - new)

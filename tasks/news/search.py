"""Search results for people: a snippet around the first matching word of each hit."""

from __future__ import annotations

import re

from sco_etl.warehouse import Warehouse, search

SNIPPET_CHARS = 160
# Words are compared by a prefix, a cheap stand-in for the index's stemmer: "interviews"
# finds "interview", "Казахстан" finds "Казахстане".
MIN_PREFIX = 4
WORD = re.compile(r"\w+")


def query_prefixes(query: str) -> list[str]:
    """Lower-case prefixes of the query's words, longest first."""
    words = {w.lower() for w in WORD.findall(query)}
    prefixes = {w if len(w) <= MIN_PREFIX else w[:max(MIN_PREFIX, len(w) - 2)] for w in words}
    return sorted(prefixes, key=len, reverse=True)


def snippet(query: str, *texts: str | None, width: int = SNIPPET_CHARS) -> str:
    """About `width` characters of the first text that holds a query word, around that word;
    the start of the first non-empty text when none does."""
    prefixes = query_prefixes(query)
    pattern = re.compile(r"(?<!\w)(?:" + "|".join(map(re.escape, prefixes)) + r")\w*",
                         re.IGNORECASE) if prefixes else None
    present = [" ".join(t.split()) for t in texts if t and t.strip()]
    for text in present:
        match = pattern.search(text) if pattern else None
        if match:
            start = max(0, match.start() - width // 3)
            return _cut(text, start, width)
    return _cut(present[0], 0, width) if present else ""


def _cut(text: str, start: int, width: int) -> str:
    if start > 0:  # start at a word
        space = text.find(" ", start)
        start = space + 1 if 0 <= space < start + 20 else start
    end = start + width
    if end < len(text):
        space = text.rfind(" ", start, end)
        end = space if space > start else end
    return ("…" if start > 0 else "") + text[start:end] + ("…" if end < len(text) else "")


def refresh_index(warehouse: Warehouse, changed: bool) -> int | None:
    """Bring the news search file up to date when the news changed or it is missing; return
    the items indexed, or None when it was current."""
    if not changed and search.index_path(warehouse).exists():
        return None
    return search.refresh_index(warehouse).documents


"""Faults a source can show, shared by the fault-injection suites (CBR and news).

Each request of those suites goes through a raw-socket front (`tests/fakes/raw_http.py`) to the
fake CBR or the news site; HTTP-level faults (500, 503, 429, an HTML page, an empty body, a
redirect loop, a wrong encoding) come from the servers, socket-level ones (reset, read timeout,
truncated body) from the front. `FAULTS` lists every kind, with whether it passes with retries
and what the run's error says when it does not; `RAW` maps the socket-level kinds to the
front's actions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from werkzeug import Response

from sco_etl.schemas.errors import (
    ScoEtlError,
    SourceFormatError,
    SourceRejectedError,
    TransientSourceError,
)

READ_TIMEOUT = 1.0


def fast_env(monkeypatch) -> None:
    monkeypatch.setenv("SCO_ETL_HTTP_BACKOFF", "0.01")
    monkeypatch.setenv("SCO_ETL_REQUEST_INTERVAL", "0")
    monkeypatch.setenv("SCO_ETL_LOCK_TIMEOUT", "5")
    monkeypatch.setenv("SCO_ETL_HTTP_TIMEOUT", str(READ_TIMEOUT))


# --- the faults -------------------------------------------------------------------------------


def redirect_loop(path: str):
    def fault(request):
        return Response("", status=302, headers={"Location": request.full_path})

    fault.path = path
    return fault


HTML_ERROR_PAGE = (b"<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>Error</title>"
                   b"</head><body><h1>Technical works</h1><p>Try later.<br></body></html>")


@dataclass(frozen=True)
class Fault:
    """A kind of failure: how to inject one occurrence, whether it passes with retries, and
    what the run's error says when it does not."""

    kind: str
    injected: str
    transient: bool
    error: type[ScoEtlError]
    message: str


FAULTS = [
    Fault("500", "HTTP 500", True, TransientSourceError, r"HTTP 500.*gave up after \d attempts"),
    Fault("503", "HTTP 503", True, TransientSourceError, r"HTTP 503.*gave up after \d attempts"),
    Fault("429", "HTTP 429, Retry-After: 0", True, TransientSourceError,
          r"HTTP 429.*gave up after \d attempts"),
    Fault("reset", "TCP reset after the request (SO_LINGER 0)", True, TransientSourceError,
          r"ConnectionResetError.*gave up after \d attempts"),
    Fault("drop", "connection closed without a response", True, TransientSourceError,
          r"RemoteDisconnected.*gave up after \d attempts"),
    Fault("timeout", f"no answer for longer than the read timeout ({READ_TIMEOUT} s)", True,
          TransientSourceError, r"Read timed out.*gave up after \d attempts"),
    Fault("truncated", "Content-Length of the full body, half the body sent", True,
          TransientSourceError, r"IncompleteRead.*gave up after \d attempts"),
    Fault("empty", "200 with an empty body", False, SourceFormatError, "empty response body"),
    Fault("html-200", "200 with an HTML error page", False, SourceFormatError,
          r"not a well-formed XML document.*error page"),
    Fault("wrong-encoding", "declares windows-1251, sends UTF-8", False, SourceFormatError,
          r"Invalid bytes in character encoding"),
    Fault("redirect-loop", "302 to itself, forever", False, SourceRejectedError,
          "redirect loop"),
]
RAW = {"reset": "reset", "drop": "drop", "timeout": "hang", "truncated": "truncate"}
TRANSIENT = [f for f in FAULTS if f.transient]


def cases(faults: list[Fault], quick: set[str]) -> list:
    """`faults` as test parameters; those not in `quick` run only with `-m slow`."""
    return [pytest.param(f, id=f.kind, marks=() if f.kind in quick else pytest.mark.slow)
            for f in faults]


def _short(error: object, limit: int = 90) -> str:
    text = " ".join(str(error).split())
    text = re.sub(r"http://127\.0\.0\.1:\d+", "<server>", text)
    return text if len(text) <= limit else text[: limit - 1] + "…"

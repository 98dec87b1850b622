"""The hostile and broken document corpus (`tests/hostile/`), shared by its suites.

Every document in `tests/hostile/manifest.json` is served by a local server in place of a CBR
document or a news source, while a second local server, the `Attacker`, plays the host that
entity, DTD, XInclude, stylesheet and link tricks point at. Each document must give what the
manifest says — a clear format error, a refusal, quarantined records with their reason, or
clean stored rows — and never a crash of the run, a partial write, a request to the attacker,
or markup stored as text. The parser-level checks are `tests/reliability/test_hostile_parsers.py`,
the runs of the flows `tests/reliability/test_hostile_flows.py`.
"""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from sco_etl.tasks.settings import MAX_BODY_BYTES

HOSTILE = Path(__file__).parents[1] / "hostile"
DOCUMENTS = json.loads((HOSTILE / "manifest.json").read_text(encoding="utf-8"))["documents"]
CBR_DOCUMENTS = [d for d in DOCUMENTS if d["target"].startswith("cbr_")]
NEWS_DOCUMENTS = [d for d in DOCUMENTS if d["target"].startswith("news_")]


class Attacker:
    """A host no document may make us contact: it records every request it gets."""

    def __init__(self) -> None:
        self.server = HTTPServer(threaded=True)
        self.hits: list[str] = []
        self.server.expect_request(re.compile(".*")).respond_with_handler(self._handle)
        self.server.start()
        self.url = self.server.url_for("").rstrip("/")

    def _handle(self, request: Request) -> Response:
        self.hits.append(request.full_path)
        return Response("pwned <!ENTITY x 'pwned'>", content_type="text/plain")


def document(doc: dict, attacker_url: str, site_url: str = "") -> bytes:
    """The document's bytes as served, placeholders filled in."""
    if doc.get("generator") == "gzip_bomb":
        return gzip.compress(b"\0" * (MAX_BODY_BYTES + 1024 * 1024), compresslevel=9)
    data = (HOSTILE / doc["file"]).read_bytes()
    return data.replace(b"{{ATTACKER}}", attacker_url.encode()).replace(
        b"{{SITE}}", site_url.encode())


def _short(error: object, limit: int = 90) -> str:
    text = " ".join(str(error).split())
    text = re.sub(r"http://(127\.0\.0\.1|localhost):\d+", "<server>", text)
    return text if len(text) <= limit else text[: limit - 1] + "…"

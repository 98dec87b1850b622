"""Feed text on the live site is text: a `<script>` in a stored title never runs.

Ingestion strips tags from titles, so the item is written past validation, as a hostile or
older row would stand; every page that shows it must escape it.
"""

from __future__ import annotations

import asyncio
import datetime as dt

import httpx
import pyarrow as pa
import pytest

from sco_etl.flows.web.app import create_app
from sco_etl.schemas import NEWS

TITLE = "Kashmir <script>document.title='pwned'</script> & \"Modi\" in Kazakhstan"
ESCAPED = "&lt;script&gt;document.title=&#39;pwned&#39;&lt;/script&gt; &amp; &#34;Modi&#34;"
ITEM = "f" * 32


@pytest.fixture
def app(warehouse):
    warehouse.migrate()
    moment = dt.datetime(2019, 12, 17, 6, 0, tzinfo=dt.UTC)
    row = {name: None for name in NEWS.column_names}
    row.update(item_id=ITEM, source="https://infoshos.ru/rss.xml", url="https://infoshos.ru/1",
               link="http://infoshos.ru/1", title=TITLE, summary=TITLE, body=TITLE,
               language="en", published_at=moment, published_at_source="feed",
               article_attempts=0, content_hash="0", first_seen_at=moment, updated_at=moment,
               run_id="test")
    rows = pa.Table.from_pylist([row], schema=NEWS.arrow_schema)
    warehouse.transaction(lambda writer: writer.upsert(NEWS, rows))
    return create_app(warehouse)


@pytest.mark.parametrize("path", ["/2019-12-17", f"/news/{ITEM}", "/search?q=Kashmir"])
def test_a_script_in_a_title_is_shown_as_text(app, path):
    async def get() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://web") as client:
            return await client.get(path)

    page = asyncio.run(get())
    assert page.status_code == 200
    assert ESCAPED in page.text
    assert "<script>document.title" not in page.text

"""The per-snapshot answer cache of `sco-etl web`, driven in-process over ASGI."""

from __future__ import annotations

import asyncio
import datetime as dt
from decimal import Decimal

import httpx
import pyarrow as pa
import pytest

from sco_etl.flows.web.app import create_app
from sco_etl.flows.web.cache import LONG, SHORT, cache_control
from sco_etl.schemas import RATES
from tests.fakes.seed import store_rates, store_yuan_directory

DAY = dt.date(2025, 4, 1)


def restate(warehouse, value: str) -> None:
    rows = warehouse.read(RATES).to_pylist()
    for row in rows:
        row["value"] = row["unit_rate"] = Decimal(value)
    warehouse.transaction(lambda writer: writer.upsert(
        RATES, pa.Table.from_pylist(rows, schema=RATES.arrow_schema)))


@pytest.fixture
def app(warehouse):
    warehouse.migrate()
    store_rates(warehouse, DAY)
    store_yuan_directory(warehouse)
    return create_app(warehouse)


def cny(response: httpx.Response) -> str:
    (row,) = [r for r in response.json()["rows"] if r["char_code"] == "CNY"]
    return str(row["value"])


def test_a_commit_is_answered_once_its_answer_is_computed(app, warehouse):
    async def scenario():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://web") as client:
            first = await client.get("/api/v1/board", params={"date": DAY})
            restate(warehouse, "12.0000")
            during = await client.get("/api/v1/board", params={"date": DAY})
            await asyncio.gather(*app.refreshing)  # the new snapshot's answer, computed
            after = await client.get("/api/v1/board", params={"date": DAY})
            unseen = await client.get("/api/v1/board", params={"date": "2025-04-02"})
            again = await client.get("/api/v1/board", params={"date": DAY},
                                     headers={"If-None-Match": after.headers["etag"]})
            return first, during, after, unseen, again

    first, during, after, unseen, again = asyncio.run(scenario())
    old, new = int(first.headers["sco-snapshot"]), int(after.headers["sco-snapshot"])
    assert new > old
    # right after the commit: the whole older answer, named as such, while the new one computes
    assert during.headers["sco-snapshot"] == str(old) and cny(during) == "11.4927"
    assert during.headers["etag"] == first.headers["etag"]
    assert cny(after) == "12.0"
    assert unseen.headers["sco-snapshot"] == str(new)  # never asked before: the newest
    assert again.status_code == 304 and again.headers["sco-snapshot"] == str(new)


@pytest.mark.timeout(60)
def test_a_streamed_answer_is_computed_in_the_background_too(app, warehouse):
    # A streamed answer listens for the client's disconnect until it is done: the background
    # computation has no client, and must neither spin nor hang.
    async def scenario():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://web") as client:
            params = {"codes": "CNY", "format": "csv"}
            first = await client.get("/api/v1/rates", params=params)
            restate(warehouse, "12.0000")
            during = await client.get("/api/v1/rates", params=params)
            await asyncio.wait_for(asyncio.gather(*app.refreshing), 30)
            after = await client.get("/api/v1/rates", params=params)
            return first, during, after

    first, during, after = asyncio.run(scenario())
    assert first.text == during.text == "date,code,cbr_id,nominal,value,unit_rate\n" \
        "2025-04-01,CNY,R01375,1,11.4927,11.4927\n"
    assert after.text.endswith("2025-04-01,CNY,R01375,1,12.0000,12\n")
    assert int(after.headers["sco-snapshot"]) > int(first.headers["sco-snapshot"])


def test_one_computation_for_concurrent_requests(app):
    calls = []
    routes = app.app

    async def counting(scope, receive, send):
        calls.append(scope["path"])
        await routes(scope, receive, send)

    app.app = counting

    async def scenario():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://web") as client:
            return await asyncio.gather(*(client.get("/api/v1/board", params={"date": DAY})
                                          for _ in range(8)))

    answers = asyncio.run(scenario())
    assert {a.status_code for a in answers} == {200}
    assert len({a.content for a in answers}) == 1
    assert calls == ["/api/v1/board"]


def test_errors_are_not_kept(app):
    async def scenario():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://web") as client:
            return [await client.get("/api/v1/board", params={"date": "1990-01-01"})
                    for _ in range(2)]

    answers = asyncio.run(scenario())
    assert [a.status_code for a in answers] == [422, 422]
    assert "etag" not in answers[0].headers
    assert app.answers == {} or all(key[1][2] != "/api/v1/board" for key in app.answers)


@pytest.mark.parametrize(("parameters", "expected"), [
    ({"date": "2025-04-01"}, LONG), ({"to": "2026-12-01"}, SHORT), ({}, SHORT),
    ({"known_at": "2025-04-01T12:00Z", "date": "2025-04-01"},
     "public, max-age=31536000, immutable"),
])
def test_cache_control_follows_the_dates(parameters, expected):
    assert cache_control(parameters, dt.date(2026, 12, 7)) == expected

"""The HTTP API of `sco-etl web`, through a real HTTP client against the running command.

Values are checked against the recorded CBR documents (the fake CBR serves their exact values
on their dates) and against the warehouse read directly.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import httpx
import pytest

from sco_etl.schemas import RATES
from sco_etl.schemas.clock import moscow_today
from sco_etl.tasks.cbr.parse import parse_daily
from sco_etl.warehouse import Warehouse
from sco_etl.warehouse.reports import board_rows
from tests.fakes.web import web_server

RECORDED = Path(__file__).resolve().parents[1] / "fixtures" / "cbr"
APRIL_1 = dt.date(2025, 4, 1)


def decoded(response: httpx.Response):
    """JSON with every number as an exact Decimal (ints stay ints)."""
    return json.loads(response.text, parse_float=Decimal)


def recorded(day: dt.date) -> dict[str, tuple[int, Decimal]]:
    document = parse_daily((RECORDED / f"XML_daily_{day}.xml").read_bytes())
    return {row["char_code"]: (row["nominal"], row["value"])
            for row in document.records.to_pylist()}


def test_board_is_the_recorded_cbr_document_to_the_digit(client):
    response = client.get("/api/v1/board", params={"date": "2025-04-01"})
    assert response.status_code == 200
    board = decoded(response)
    assert board["date"] == "2025-04-01" and board["publication_date"] == "2025-04-01"
    assert board["snapshot"]["id"] == int(response.headers["sco-snapshot"])
    published = recorded(APRIL_1)
    # the daily-set currencies: monthly-set ones (IRR) are not in XML_daily
    quoted = [row for row in board["rows"]
              if row["rate_date"] == "2025-04-01" and row["char_code"] in published]
    assert len(quoted) >= 12
    for row in quoted:
        assert (row["nominal"], row["value"]) == published[row["char_code"]], row
    # the digits as published, never through a float
    assert '"char_code":"CNY","currency":"China Yuan","nominal":1,"value":11.7136,' \
           '"unit_rate":11.7136' in response.text
    assert '"char_code":"KZT","currency":"Kazakhstan Tenge","nominal":100,"value":16.9831,' \
           '"unit_rate":0.169831' in response.text


def test_board_rows_are_those_of_sco_etl_board(client, lake):
    shown = [(r["country"], r["status"], r["char_code"], r["currency"], r["nominal"],
              r["value"], r["rate_date"]) for r in decoded(
        client.get("/api/v1/board", params={"date": "2025-09-15"}))["rows"]]
    expected = [(r["country"], r["status"], r["char_code"], r["currency"], r["nominal"],
                 r["value"], r["rate_date"] and r["rate_date"].isoformat())
                for r in board_rows(lake, dt.date(2025, 9, 15)).to_pylist()]
    assert shown == expected
    assert ("Mongolia", "partner") in {(r[0], r[1]) for r in shown}  # after Tianjin


def test_rates_csv_of_a_full_history(client, lake):
    response = client.get("/api/v1/rates", params={"codes": "CNY", "format": "csv"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    header, *lines = response.text.splitlines()
    assert header == "date,code,cbr_id,nominal,value,unit_rate"
    assert len(lines) == lake.read(RATES, where="char_code = 'CNY'").num_rows
    assert lines[0].startswith("1992-07-01,CNY,R01375,10,")
    by_date = {line.split(",")[0]: line for line in lines}
    assert by_date["2025-04-01"] == "2025-04-01,CNY,R01375,1,11.7136,11.7136"
    nominal, value = recorded(dt.date(2022, 11, 2))["CNY"]
    assert by_date["2022-11-02"].split(",")[3:5] == [str(nominal), str(value)]


def test_rates_json_and_ndjson_agree_to_the_digit(client):
    params = {"codes": "CNY,INR", "from": "2025-03-28", "to": "2025-04-03"}
    as_json = decoded(client.get("/api/v1/rates", params=params))
    lines = client.get("/api/v1/rates", params={**params, "format": "ndjson"}).text.splitlines()
    assert [json.loads(line, parse_float=Decimal) for line in lines] == as_json
    april = {(row["code"], row["date"]): row for row in as_json}
    inr = april[("INR", "2025-04-01")]
    assert (inr["nominal"], inr["value"]) == recorded(APRIL_1)["INR"]
    assert inr["unit_rate"] == recorded(APRIL_1)["INR"][1] / 100


def test_monthly_means_are_exact(client, lake):
    rows = lake.read(RATES, where="char_code = 'INR' AND rate_date BETWEEN DATE '2019-12-01' "
                                  "AND DATE '2019-12-31'").to_pylist()
    mean = sum(r["unit_rate"] for r in rows) / len(rows)
    (december,) = decoded(client.get("/api/v1/rates", params={
        "codes": "INR", "from": "2019-12-01", "to": "2019-12-31", "group": "month"}))
    assert december["period"] == "2019-12-01" and december["publications"] == len(rows)
    assert december["unit_rate"] == mean.quantize(Decimal("1e-12"), ROUND_HALF_UP)


def test_cross_rate_through_the_ruble(client):
    (row,) = decoded(client.get("/api/v1/cross", params={
        "base": "CNY", "quote": "INR", "from": "2025-04-01", "to": "2025-04-01"}))
    published = recorded(APRIL_1)
    cny = published["CNY"][1] / published["CNY"][0]
    inr = published["INR"][1] / published["INR"][0]
    assert row["rate"] == (cny / inr).quantize(Decimal("1e-12"), ROUND_HALF_UP)
    (ruble,) = decoded(client.get("/api/v1/cross", params={
        "base": "CNY", "quote": "RUB", "from": "2025-04-01", "to": "2025-04-01"}))
    assert ruble["rate"] == Decimal("11.7136")


def test_etag_answers_304_and_caching_follows_the_dates(client):
    past = client.get("/api/v1/board", params={"date": "2025-04-01"})
    assert past.headers["cache-control"] == "public, max-age=86400"
    again = client.get("/api/v1/board", params={"date": "2025-04-01"},
                       headers={"If-None-Match": past.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["etag"] == past.headers["etag"]
    today = client.get("/api/v1/board")
    assert today.headers["cache-control"] == "public, max-age=60"
    assert decoded(today)["date"] == moscow_today().isoformat()
    other = client.get("/api/v1/board", params={"date": "2025-04-02"})
    assert other.headers["etag"] != past.headers["etag"]
    head = client.head("/api/v1/board", params={"date": "2025-04-01"})  # `curl -I`
    assert head.status_code == 200 and head.content == b""
    assert head.headers["etag"] == past.headers["etag"]
    assert head.headers["content-length"] == str(len(past.content))


def test_known_at_answers_as_the_warehouse_stood(client):
    snapshots = decoded(client.get("/api/v1/snapshots"))
    # the news run committed before the April 2025 rates were loaded
    news_run = next(s for s in snapshots if (s["commit_message"] or "").startswith("ingest-news"))
    earlier = client.get("/api/v1/board", params={"date": "2025-04-01",
                                                  "known_at": news_run["snapshot_time"]})
    assert earlier.status_code == 200
    assert earlier.headers["cache-control"] == "public, max-age=31536000, immutable"
    then = decoded(earlier)
    assert then["snapshot"]["id"] == news_run["snapshot_id"]
    assert then["publication_date"] == "2019-12-17"  # the latest stored on or before that day
    assert decoded(client.get("/api/v1/board", params={"date": "2025-04-01"}))[
        "publication_date"] == "2025-04-01"


@pytest.mark.parametrize(("path", "params", "parameter", "valid"), [
    ("/api/v1/board", {"date": "1990-01-01"}, "date", "from 1992-07-01 to "),
    ("/api/v1/board", {"date": "01.04.2025"}, "date", "a YYYY-MM-DD date"),
    ("/api/v1/rates", {"codes": "CNY,XYZ"}, "codes", "CNY"),
    ("/api/v1/rates", {"from": "2025-04-03", "to": "2025-04-01"}, "from", "on or before"),
    ("/api/v1/rates", {"format": "xml"}, "format", "json, csv or ndjson"),
    ("/api/v1/rates", {"group": "year"}, "group", "week or month"),
    ("/api/v1/cross", {"base": "CNY", "quote": "ABC"}, "quote", "RUB or one of"),
    ("/api/v1/news", {"limit": "0"}, "limit", "1 to 1000"),
    ("/api/v1/news", {"q": " "}, "q", "words"),
    ("/api/v1/news", {"country": "Kazakhstan"}, "country", "two letters"),
    ("/api/v1/board", {"known_at": "2001-01-01T00:00Z"}, "known_at", "first snapshot"),
    ("/api/v1/news/not-an-id", {}, "item_id", "32 hexadecimal digits"),
])
def test_bad_input_names_the_parameter_and_its_range(client, path, params, parameter, valid):
    response = client.get(path, params=params)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["parameter"] == parameter and valid in error["valid"], error
    assert "Traceback" not in response.text


def test_news_search_countries_and_items(client):
    (hit,) = decoded(client.get("/api/v1/news", params={"q": "aspirants"}))
    assert hit["title"] == "Leonid Moiseev: World vests great hopes in SCO"
    assert hit["published_msk"] == "23.05.2011 10:00"  # Moscow was UTC+4 then
    item = decoded(client.get(f"/api/v1/news/{hit['item_id']}"))
    assert "There are aspirants for the status of an observer" in item["body"]
    assert item["link"].startswith("http://") and item["url"].startswith("https://")
    newest = decoded(client.get("/api/v1/news", params={"limit": 3}))
    assert [row["published_at"] for row in newest] == sorted(
        (row["published_at"] for row in newest), reverse=True)
    assert decoded(client.get("/api/v1/news", params={
        "since": "2030-01-01"})) == []
    missing = client.get("/api/v1/news/" + "0" * 32)
    assert missing.status_code == 404


def test_countries_on_a_day_and_currencies(client):
    def status(day: str) -> dict[str, str]:
        return {row["country_code"]: row["status"] for row in decoded(
            client.get("/api/v1/countries", params={"date": day}))}

    assert status("2017-06-01")["IN"] == "observer"
    assert status("2017-06-09")["IN"] == "member"
    assert status("2025-09-01")["MN"] == "partner" and "LA" in status("2025-09-01")
    assert "LA" not in status("2025-08-31")
    currencies = {row["code"]: row for row in decoded(client.get("/api/v1/currencies"))}
    assert currencies["CNY"]["first_date"] == "1992-07-01"
    assert currencies["CNY"]["countries"] == ["China"]


def test_changes_and_snapshots(client):
    snapshots = decoded(client.get("/api/v1/snapshots"))
    assert [s["snapshot_id"] for s in snapshots] == sorted(s["snapshot_id"] for s in snapshots)
    first = snapshots[0]["snapshot_time"]
    changed = {row["table"]: row for row in decoded(
        client.get("/api/v1/changes", params={"since": first}))}
    assert changed["rates"]["inserted"] > 10_000 and changed["news"]["inserted"] > 10
    late = decoded(client.get("/api/v1/changes", params={"since": snapshots[-1]["snapshot_time"]}))
    assert late == []


def test_openapi_document_and_docs_page(client):
    document = client.get("/api/v1/openapi.json").json()
    assert {"/api/v1/board", "/api/v1/rates", "/api/v1/cross", "/api/v1/currencies",
            "/api/v1/countries", "/api/v1/news", "/api/v1/news/{item_id}", "/api/v1/changes",
            "/api/v1/snapshots"} <= set(document["paths"])
    names = [p["name"] for p in document["paths"]["/api/v1/rates"]["get"]["parameters"]]
    assert names == ["codes", "from", "to", "group", "known_at", "format"]
    docs = client.get("/api/v1/docs")
    assert docs.status_code == 200 and "GET /api/v1/rates" in docs.text


def test_an_unreadable_warehouse_is_a_503_with_retry_after(tmp_path):
    missing = tmp_path / "nothing-here"
    with web_server(missing) as url:
        api = httpx.get(f"{url}/api/v1/board", timeout=10)
        page = httpx.get(f"{url}/", timeout=10)
    assert api.status_code == 503 and api.headers["retry-after"] == "60"
    assert "no warehouse at" in api.json()["error"]["message"]
    assert page.status_code == 503 and "no warehouse at" in page.text
    assert not missing.exists()  # a reader creates nothing


def test_a_warehouse_read_directly_agrees_with_the_api(client, lake: Warehouse):
    stored = lake.read(RATES, where="char_code = 'INR' AND rate_date = DATE '2019-12-17'")
    (row,) = decoded(client.get("/api/v1/rates", params={
        "codes": "INR", "from": "2019-12-17", "to": "2019-12-17"}))
    assert row["value"] == stored["value"][0].as_py()

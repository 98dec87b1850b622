"""The HTTP seam against a local server: the retry policy, the time budget of a task, what it
reports to the run, and how it quotes a page that is not the document asked for."""

from __future__ import annotations

import datetime as dt
import pickle
import threading

import pytest
from werkzeug import Response

from sco_etl.schemas.errors import SourceFormatError, SourceRejectedError, TransientSourceError
from sco_etl.tasks.cbr.client import CbrClient
from sco_etl.tasks.http import HttpClient, HttpPolicy, deal
from sco_etl.tasks.run import Run, watching

FAST = HttpPolicy(backoff=0.01, min_interval=0)


def test_transient_failures_are_retried_then_answered(httpserver):
    httpserver.expect_ordered_request("/doc").respond_with_data("busy", status=503)
    httpserver.expect_ordered_request("/doc").respond_with_data(
        "later", status=429, headers={"Retry-After": "0"})
    httpserver.expect_ordered_request("/doc").respond_with_data("ok")
    run = Run("test", "test", {})
    client = HttpClient(FAST, run=run)
    assert client.get(httpserver.url_for("/doc")).body == b"ok"
    assert run.requests == 3


def test_a_permanent_refusal_is_not_retried(httpserver):
    httpserver.expect_request("/gone").respond_with_data("no", status=404)
    run = Run("test", "test", {})
    client = HttpClient(FAST, run=run)
    with pytest.raises(SourceRejectedError, match="HTTP 404"):
        client.get(httpserver.url_for("/gone"))
    assert run.requests == 1


def test_every_attempt_failing_says_so(httpserver):
    httpserver.expect_request("/down").respond_with_data("", status=500)
    run = Run("test", "test", {})
    client = HttpClient(FAST, run=run)
    with pytest.raises(TransientSourceError, match="gave up after 4 attempts") as error:
        client.get(httpserver.url_for("/down"))
    assert error.value.cause == "HTTP 500"
    assert run.requests == 4


def test_a_long_retry_after_ends_the_run_without_waiting(httpserver):
    httpserver.expect_request("/slow").respond_with_data(
        "", status=429, headers={"Retry-After": "3600"})
    run = Run("test", "test", {})
    client = HttpClient(FAST, run=run)
    with pytest.raises(TransientSourceError, match="asked us to wait 3600 s"):
        client.get(httpserver.url_for("/slow"))
    assert run.requests == 1


def test_a_client_stops_when_its_budget_is_spent(httpserver):
    """A server that never answers: the budget, not the 60 s read timeout, ends the work."""
    release = threading.Event()

    def stall(request):
        release.wait(30)
        return Response("late")

    httpserver.expect_request("/stall").respond_with_handler(stall)
    run = Run("test", "test", {})
    client = HttpClient(HttpPolicy(backoff=0.01, min_interval=0, budget=0.5), run=run)
    try:
        with pytest.raises(TransientSourceError, match=r"still fetching after 0\.5 s") as error:
            client.get(httpserver.url_for("/stall"))
    finally:
        release.set()
    assert error.value.final and error.value.cause == "took longer than 0.5 s"
    assert run.requests == 1  # the read timed out at the budget; no second request


def test_deal_gives_every_share_work_and_keeps_every_item():
    assert deal(list(range(5)), 4) == [[0, 4], [1], [2], [3]]
    assert deal([1, 2], 4) == [[1], [2]]
    assert deal([], 4) == []


class Recorder:
    """A `Watcher` that keeps what it was told."""

    def __init__(self) -> None:
        self.retries: list[tuple] = []
        self.totals: list[int] = []
        self.fetched_documents = 0

    def planned(self, documents: int) -> None:
        self.totals.append(documents)

    def fetched(self, documents: int) -> None:
        self.fetched_documents += documents

    def retrying(self, cause: str, attempt: int, attempts: int) -> None:
        self.retries.append((cause, attempt, attempts))


def test_a_client_reports_each_request_and_retry_to_its_run(httpserver):
    httpserver.expect_ordered_request("/doc").respond_with_data("busy", status=503)
    httpserver.expect_ordered_request("/doc").respond_with_data("ok")
    watcher = Recorder()
    with watching(watcher):
        run = Run("run", "ingest-rates", {})
    assert HttpClient(FAST, run).get(httpserver.url_for("/doc")).body == b"ok"
    assert run.requests == 2
    assert watcher.retries == [("HTTP 503", 1, 4)]


def test_a_copy_of_the_run_elsewhere_is_absorbed_exactly():
    watcher = Recorder()
    with watching(watcher):
        run = Run("run", "ingest-rates", {})
    run.requested()
    copy = pickle.loads(pickle.dumps(run))  # what a Dask worker gets
    copy.requested()
    copy.fetched(2)
    back = pickle.loads(pickle.dumps(copy))  # and what comes back with the task's result
    run.requested()
    run.absorb(back)
    run.absorb(run)  # a task that ran in this process reported to the run itself
    assert (run.requests, run.documents) == (3, 2)
    assert watcher.fetched_documents == 2 and copy.watcher is None


ERROR_PAGE = ("<html><head><meta http-equiv='Content-Type' content='text/html; "
              "charset=windows-1251'><title>Ошибка</title></head><body>"
              "<h1>Сервис временно недоступен</h1></body></html>").encode("cp1251")


@pytest.mark.parametrize("content_type", ["text/html; charset=windows-1251", "text/html"])
def test_an_error_page_is_quoted_in_its_declared_charset_with_the_url(httpserver, content_type):
    httpserver.expect_request("/scripts/XML_daily.asp").respond_with_data(
        ERROR_PAGE, content_type=content_type)
    client = CbrClient(httpserver.url_for("/scripts/"), HttpClient(FAST))
    with pytest.raises(SourceFormatError) as error:
        client.daily(dt.date(2025, 4, 1))
    message = str(error.value)
    assert "Ошибка Сервис временно недоступен" in message
    assert "/scripts/XML_daily.asp?date_req=01%2F04%2F2025" in message
    assert error.value.url.endswith("/scripts/XML_daily.asp?date_req=01%2F04%2F2025")
    assert "Ñ" not in message

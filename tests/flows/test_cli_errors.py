"""A failed command prints a short paragraph a person can act on; the traceback is in a log file.

Issue 11, item 1. The subprocess tests run the real `sco-etl` console script, as a user would,
and count what reaches the terminal (stdout and stderr together).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from typer.testing import CliRunner
from urllib3.exceptions import MaxRetryError, NameResolutionError

from sco_etl.flows.cli import app
from sco_etl.tasks.http import network_cause
from tests.fakes.crash import subprocess_env
from tests.fakes.processes import free_port
from tests.fakes.reliability import REPO

SCO_ETL = Path(sys.executable).parent / "sco-etl"
LOG_FILE = re.compile(r"Full log: (\S+\.log)")
runner = CliRunner()


def sco_etl(args: list[str], env: dict[str, str]) -> tuple[int, list[str]]:
    """Run the console script; its exit status and the lines of stdout + stderr."""
    result = subprocess.run([str(SCO_ETL), *args], cwd=REPO, env=env, capture_output=True,
                            text=True, timeout=300, check=False)
    return result.returncode, (result.stdout + result.stderr).splitlines()


@pytest.fixture
def env_for(prefect_harness, pycache, tmp_path):
    def env(cbr_url: str) -> dict[str, str]:
        return subprocess_env(pycache, SCO_ETL_CBR_URL=cbr_url,
                              SCO_ETL_DATA_DIR=str(tmp_path / "data"))
    return env


def assert_short_paragraph(status: int, lines: list[str], *expected: str) -> Path:
    """Exit 1, at most 6 lines, no traceback, the expected words; return the named log file."""
    text = "\n".join(lines)
    assert status == 1, text
    assert len(lines) <= 6, text
    assert "Traceback" not in text and "| ERROR" not in text and "| WARNING" not in text, text
    for words in expected:
        assert words in text, f"{words!r} not in:\n{text}"
    log_file = Path(LOG_FILE.search(text).group(1))
    assert "--verbose" in text
    return log_file


def test_refused_connection_names_url_cause_what_was_kept_and_what_to_do(env_for):
    port = free_port()
    status, lines = sco_etl(["rates"], env_for(f"http://127.0.0.1:{port}/scripts/"))
    log_file = assert_short_paragraph(
        status, lines, f"http://127.0.0.1:{port}/scripts/XML_valFull.asp", "connection refused",
        "The warehouse is unchanged (the failed run is recorded in `loads`)",
        "Check the network", "SCO_ETL_CBR_URL")
    assert lines[0].startswith("error: sco-etl rates failed:")
    assert log_file.parent.name == "logs" and log_file.name.startswith("rates-")
    log = log_file.read_text()
    assert "Traceback (most recent call last)" in log
    assert "attempt 1/4" in log  # the retry warnings are kept, in the file


def test_http_500_says_retry_later(env_for, httpserver):
    httpserver.expect_request(re.compile("^/scripts/.*")).respond_with_data("down", status=500)
    status, lines = sco_etl(["rates"], env_for(httpserver.url_for("/scripts/")))
    assert_short_paragraph(status, lines, httpserver.url_for("/scripts/XML_valFull.asp"),
                           "HTTP 500", "unchanged", "retry later")


def test_an_html_page_is_not_a_cbr_document(env_for, httpserver):
    httpserver.expect_request(re.compile("^/scripts/.*")).respond_with_data(
        "<html><body>Service unavailable</body></html>", content_type="text/html")
    url = httpserver.url_for("/scripts/")
    status, lines = sco_etl(["rates"], env_for(url))
    assert_short_paragraph(status, lines, f"the answer of {url} is not a CBR document",
                           "unchanged", "SCO_ETL_CBR_URL", "retry later")


def test_news_with_its_feed_refused(env_for):
    feed = f"http://127.0.0.1:{free_port()}/rss.xml"
    status, lines = sco_etl(["news", "--feed", feed], env_for("http://127.0.0.1:9/scripts/"))
    log_file = assert_short_paragraph(
        status, lines, f"✗ {feed} — connection refused", "1 of 1 news sources failed",
        "Check the network and the URLs")
    assert "\n".join(lines).count(feed) == 1
    assert log_file.name.startswith("news-") and "Connection refused" in log_file.read_text()


def test_verbose_brings_the_traceback_back_to_the_terminal(env_for):
    status, lines = sco_etl(["--verbose", "rates"],
                            env_for(f"http://127.0.0.1:{free_port()}/scripts/"))
    text = "\n".join(lines)
    assert status == 1
    assert "Traceback (most recent call last)" in text and "attempt 1/4" in text
    assert "connection refused" in lines[-3]  # the paragraph still ends the output


def test_a_sql_error_shows_duckdbs_message_and_position(cbr_env, warehouse):
    warehouse.migrate()
    result = runner.invoke(app, ["query", "SELECT nope FROM loads"])
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert lines[0] == ('error: sco-etl query failed: Binder Error: Referenced column "nope" '
                        'not found in FROM clause!')
    position = lines.index("LINE 1: SELECT nope FROM loads")
    assert lines[position + 1] == " " * 15 + "^"
    assert "The warehouse is unchanged (this command only reads)." in lines
    assert "Fix the SQL" in result.output and "Traceback" not in result.output


def test_a_parse_error_shows_its_position_too(cbr_env, warehouse):
    warehouse.migrate()
    result = runner.invoke(app, ["query", "SELECT 1 FORM loads"])
    assert result.exit_code == 1
    assert 'Parser Error: syntax error at or near "loads"' in result.output
    assert "LINE 1: SELECT 1 FORM loads" in result.output


@pytest.mark.parametrize(("reason", "cause"), [
    (NameResolutionError("cbr.ru", None, OSError("[Errno -2] Name or service not known")),
     "DNS lookup failed (host not found)"),
    (OSError("[Errno 111] Connection refused"), "connection refused"),
])
def test_network_causes_are_named(reason, cause):
    wrapped = requests.ConnectionError(MaxRetryError(None, "/scripts/", reason))
    assert network_cause(wrapped) == cause
    assert network_cause(requests.ReadTimeout("read timed out")) == "timed out"

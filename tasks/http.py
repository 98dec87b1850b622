"""The one HTTP seam: timeouts, User-Agent, redirects, a bounded rate, size limit, retries.

Only transient failures are retried (timeouts, connection errors, 5xx, 429 honouring
Retry-After); everything else raises at once with a message that names the URL.
"""

from __future__ import annotations

import email.utils
import logging
import random
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

import requests
import tenacity

from sco_etl.schemas.errors import SourceRejectedError, TransientSourceError
from sco_etl.tasks import settings
from sco_etl.tasks.run import Run

log = logging.getLogger(__name__)

TRANSIENT_EXCEPTIONS = (
    requests.Timeout,
    requests.ConnectionError,
    requests.exceptions.ChunkedEncodingError,  # includes a body shorter than Content-Length
    requests.exceptions.ContentDecodingError,
)


def deal(items: list, parts: int) -> list[list]:
    """`items` dealt into at most `parts` similar shares, none empty: one per parallel fetch.

    Each share's client is then built with `share=len(shares)`, so that the fetches running
    at once keep the source's rate together.
    """
    shares = [items[i::max(1, parts)] for i in range(max(1, parts))]
    return [share for share in shares if share]


def _worth_retrying(error: BaseException) -> bool:
    return isinstance(error, TransientSourceError) and not error.final


def network_cause(error: requests.RequestException) -> str:
    """A transport failure in the words a person acts on: DNS, refused, timeout, cut off."""
    if isinstance(error, requests.Timeout):
        return "timed out"
    # requests wraps urllib3's MaxRetryError, whose `reason` is the socket-level failure.
    reason = getattr(error.args[0] if error.args else None, "reason", None)
    text = f"{error} {reason!r}"
    if "NameResolutionError" in text or "Name or service not known" in text:
        return "DNS lookup failed (host not found)"
    if "Connection refused" in text or isinstance(reason, ConnectionRefusedError):
        return "connection refused"
    if isinstance(error, requests.exceptions.ChunkedEncodingError):
        return "connection cut off mid-response"
    if isinstance(error, requests.exceptions.ContentDecodingError):
        return "response could not be decoded"
    return "connection failed"


@dataclass(frozen=True)
class HttpPolicy:
    """How politely and how persistently to talk to one source."""

    user_agent: str = settings.USER_AGENT
    connect_timeout: float = settings.CONNECT_TIMEOUT
    read_timeout: float = settings.READ_TIMEOUT
    attempts: int = settings.MAX_ATTEMPTS
    backoff: float = settings.BACKOFF_SECONDS
    max_retry_after: float = settings.MAX_RETRY_AFTER
    min_interval: float = settings.MIN_REQUEST_INTERVAL
    max_bytes: int = settings.MAX_BODY_BYTES
    max_redirects: int = settings.MAX_REDIRECTS
    budget: float | None = None
    """Seconds one client may spend in all, retries and waits included: the timeout of the
    task that builds it. Enforced here, between socket reads, because a Prefect timeout
    cannot interrupt a task running in a worker thread."""


@dataclass
class Response:
    """A completed response: the raw bytes, never a guessed text decoding."""

    url: str
    status: int
    headers: Mapping[str, str]
    body: bytes


@dataclass
class HttpClient:
    """A requests session with sco-etl's policy; safe to share between threads.

    With a `run`, every request and retry is reported to it (`Run.requested`,
    `Run.retrying`).
    """

    policy: HttpPolicy = field(default_factory=HttpPolicy)
    requests_made: int = 0
    run: Run | None = None

    def __post_init__(self) -> None:
        self._session = requests.Session()
        self._session.headers["User-Agent"] = self.policy.user_agent
        self._session.max_redirects = self.policy.max_redirects
        self._lock = threading.Lock()
        self._next_slot = 0.0
        self._deadline = (time.monotonic() + self.policy.budget
                          if self.policy.budget is not None else None)

    def get(
        self, url: str, params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None, ok: tuple[int, ...] = (200,),
    ) -> Response:
        """GET `url`, retrying transient failures; return a response whose status is in `ok`.

        Raises:
            TransientSourceError: still failing after every attempt.
            SourceRejectedError: a permanent refusal (4xx, redirect loop, body too large).
        """
        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception(_worth_retrying),
            stop=tenacity.stop_after_attempt(self.policy.attempts),
            wait=self._wait, before_sleep=self._log_retry, reraise=True,
        )
        try:
            return retrying(self._get_ok, url, params, headers, ok)
        except TransientSourceError as last:
            if last.final:
                raise
            raise TransientSourceError(
                f"{last} — gave up after {self.policy.attempts} attempts",
                url=last.url, cause=last.cause) from last

    def _get_ok(self, url: str, params, headers, ok: tuple[int, ...]) -> Response:
        response = self._get_once(url, params, headers)
        if response.status in ok:
            return response
        failure = self._classify(response)
        delay = self._retry_after(response)
        if isinstance(failure, TransientSourceError) and delay is not None:
            if delay > self.policy.max_retry_after:
                raise TransientSourceError(
                    f"{response.url} asked us to wait {delay:.0f} s (429 Retry-After); "
                    "giving up for now, the next scheduled run will try again",
                    url=response.url, cause=f"HTTP 429, asked us to wait {delay:.0f} s",
                    final=True,
                )
            failure.retry_after = delay
        raise failure

    def _wait(self, state: tenacity.RetryCallState) -> float:
        error = state.outcome.exception()
        if error.retry_after is not None:
            return error.retry_after
        # Exponential with jitter, so parallel clients do not retry in step.
        return self.policy.backoff * 2 ** (state.attempt_number - 1) * (
            0.5 + random.random() / 2)

    def _log_retry(self, state: tenacity.RetryCallState) -> None:
        error = state.outcome.exception()
        if self.run is not None:
            self.run.retrying(error.cause or "failed", state.attempt_number,
                              self.policy.attempts)
        # `retry` lets the CLI show the retries on its progress line, not as log lines.
        log.warning("%s (attempt %d/%d); retrying in %.1f s", error, state.attempt_number,
                    self.policy.attempts, state.upcoming_sleep,
                    extra={"retry": (error.cause, state.attempt_number, self.policy.attempts)})

    def _get_once(self, url: str, params, headers) -> Response:
        timeout = (self._bounded(self.policy.connect_timeout, url),
                   self._bounded(self.policy.read_timeout, url))
        self._wait_for_slot()
        try:
            with self._session.get(
                url, params=params, headers=headers, stream=True, timeout=timeout,
            ) as raw:
                body = self._read_limited(raw)
                return Response(raw.url, raw.status_code, raw.headers, body)
        except requests.TooManyRedirects as e:
            raise SourceRejectedError(f"{url}: redirect loop ({e}); check the source URL",
                                      url=url, cause="redirect loop") from e
        except TRANSIENT_EXCEPTIONS as e:
            raise TransientSourceError(f"{url}: {type(e).__name__}: {e}",
                                       url=url, cause=network_cause(e)) from e

    def _bounded(self, timeout: float, url: str) -> float:
        """`timeout`, cut to what is left of the budget; past it, the work stops here."""
        if self._deadline is None:
            return timeout
        left = self._deadline - time.monotonic()
        if left <= 0:
            raise TransientSourceError(
                f"{url}: still fetching after {self.policy.budget:g} s, the time this "
                "step may take; the next run will try again",
                url=url, cause=f"took longer than {self.policy.budget:g} s", final=True)
        return min(timeout, left)

    def _read_limited(self, raw: requests.Response) -> bytes:
        chunks, size = [], 0
        for chunk in raw.iter_content(64 * 1024):
            self._bounded(self.policy.read_timeout, raw.url)
            size += len(chunk)
            if size > self.policy.max_bytes:
                raise SourceRejectedError(
                    f"{raw.url}: response larger than {self.policy.max_bytes} bytes; refused",
                    url=raw.url, cause=f"response larger than {self.policy.max_bytes} bytes",
                )
            chunks.append(chunk)
        return b"".join(chunks)

    def _wait_for_slot(self) -> None:
        with self._lock:
            now = time.monotonic()
            slot = max(now, self._next_slot)
            self._next_slot = slot + self.policy.min_interval
            self.requests_made += 1
        if self.run is not None:
            self.run.requested()
        if slot > now:
            time.sleep(slot - now)

    @staticmethod
    def _classify(response: Response) -> TransientSourceError | SourceRejectedError:
        status = response.status
        if status == 429 or status >= 500:
            return TransientSourceError(f"{response.url}: HTTP {status}",
                                        url=response.url, cause=f"HTTP {status}")
        return SourceRejectedError(
            f"{response.url}: HTTP {status}; the source refused the request, check the URL",
            url=response.url, cause=f"HTTP {status}",
        )

    @staticmethod
    def _retry_after(response: Response) -> float | None:
        value = response.headers.get("Retry-After")
        if not value:
            return None
        if value.strip().isdigit():
            return float(value)
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        return max(0.0, when.timestamp() - time.time())

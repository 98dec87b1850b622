"""A raw-socket HTTP front for a real local server, that breaks connections on cue.

Some failures cannot be produced by an HTTP framework's handler: a connection reset, a server
that accepts the request and never answers, a body shorter than its Content-Length. This
server owns the sockets: it forwards each request to an upstream server (the fake CBR, the
news site) and relays the answer, unless a queued fault says otherwise.

Faults (`RawFault.kind`):
    reset     read the request, then close with RST (SO_LINGER 0): ECONNRESET for the client.
    drop      read the request, then close without a word: the server vanished mid-exchange.
    hang      read the request, then say nothing for `hang_seconds`: a read timeout.
    truncate  relay the upstream answer with its full Content-Length but half its body.
"""

from __future__ import annotations

import http.client
import socket
import struct
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

KINDS = ("reset", "drop", "hang", "truncate")
HEAD_LIMIT = 64 * 1024
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length",
              "proxy-connection", "te", "upgrade", "host", "accept-encoding"}


@dataclass
class RawFault:
    """One broken exchange, for the next request to `path` (see `_matches`), or any."""

    kind: str
    path: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown raw fault {self.kind!r}; one of {KINDS}")


@dataclass
class Exchange:
    """A request the front received, and what it did with it."""

    path: str
    action: str
    at: float = field(default_factory=time.monotonic)


@dataclass
class FaultyFront:
    """Listens on 127.0.0.1; use as a context manager, or `start()` / `stop()`."""

    upstream: str
    hang_seconds: float = 5.0
    faults: list[RawFault] = field(default_factory=list)
    exchanges: list[Exchange] = field(default_factory=list)

    def __post_init__(self) -> None:
        parts = urlsplit(self.upstream)
        self._upstream = (parts.hostname, parts.port or 80)
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.2)
        self.port = self._listener.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, name="faulty-front", daemon=True)
        self._workers: list[threading.Thread] = []

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def start(self) -> FaultyFront:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(timeout=5)
        for worker in self._workers:
            worker.join(timeout=5)
        self._listener.close()

    def __enter__(self) -> FaultyFront:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def actions(self, path: str | None = None) -> list[str]:
        """What was done with each request to a path ending in `path` (every one if None)."""
        return [e.action for e in self.to(path)]

    def to(self, path: str | None = None) -> list[Exchange]:
        return [e for e in self.exchanges if path is None or _matches(e.path, path)]

    def _serve(self) -> None:
        while not self._stopping.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            worker = threading.Thread(target=self._handle, args=(client,), daemon=True)
            self._workers = [w for w in self._workers if w.is_alive()] + [worker]
            worker.start()

    def _take(self, path: str) -> RawFault | None:
        with self._lock:
            for fault in self.faults:
                if fault.path is None or _matches(path, fault.path):
                    self.faults.remove(fault)
                    return fault
        return None

    def _handle(self, client: socket.socket) -> None:
        try:
            head = _read_head(client)
            if head is None:
                return
            method, path, headers = head
            fault = self._take(path)
            action = fault.kind if fault else "forwarded"
            with self._lock:
                self.exchanges.append(Exchange(path, action))
            if action == "reset":
                client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            elif action == "hang":
                self._stopping.wait(self.hang_seconds)
            elif action in ("forwarded", "truncate"):
                status, reason, reply_headers, body = self._forward(method, path, headers)
                shown = body if action == "forwarded" else body[: len(body) // 2]
                client.sendall(_response(status, reason, reply_headers, len(body)) + shown)
        except OSError:
            pass
        finally:
            client.close()

    def _forward(self, method: str, path: str, headers: dict[str, str]):
        connection = http.client.HTTPConnection(*self._upstream, timeout=30)
        try:
            connection.request(method, path, headers={
                k: v for k, v in headers.items() if k.lower() not in HOP_BY_HOP})
            response = connection.getresponse()
            body = response.read()
            kept = [(k, v) for k, v in response.getheaders() if k.lower() not in HOP_BY_HOP]
            return response.status, response.reason, kept, body
        finally:
            connection.close()


def _matches(requested: str, wanted: str) -> bool:
    """`wanted` ends the path (query aside), or equals the whole target when it has a query."""
    if "?" in wanted:
        return requested == wanted
    return requested.split("?", 1)[0].endswith(wanted)


def _read_head(client: socket.socket) -> tuple[str, str, dict[str, str]] | None:
    client.settimeout(10)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = client.recv(4096)
        if not chunk:
            return None
        data += chunk
        if len(data) > HEAD_LIMIT:
            return None
    lines = data.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
    method, path, _ = lines[0].split(" ", 2)
    headers = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
    return method, path, headers


def _response(status: int, reason: str, headers: list[tuple[str, str]], length: int) -> bytes:
    lines = [f"HTTP/1.1 {status} {reason}"] + [f"{k}: {v}" for k, v in headers] + [
        f"Content-Length: {length}", "Connection: close", "", ""]
    return "\r\n".join(lines).encode("latin-1")

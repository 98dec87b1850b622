"""`sco-etl web` under load, side by side with Python's own HTTP server.

    .venv/bin/python -m benchmarks.web_bench [--seconds 10] [--output FILE]

Builds a warehouse of the synthetic full history (every SCO currency, 1992 to tomorrow) from
the fake CBR, serves it with `sco-etl web`, and measures:

1. Throughput of the board endpoint with `wrk` (1 and 16 connections), against Python's
   `ThreadingHTTPServer` serving the same bytes (its default handler: HTTP/1.0, as `sco-etl
   page --serve` and `python -m http.server` run it). Target: >= 3x at both.
2. Latency, errors and torn reads with 16 clients while a full backfill commits to the
   warehouse being served: each client asks boards of random days; every answer must be the
   board as it stood before the run or after it, never a mix. Targets: p99 <= 50 ms, 0
   errors, 0 torn reads.
3. The CSV of one currency's full history, first asked (no cached answer) and again.
   Target: <= 0.2 s.

Needs `wrk` (Debian's package) on the PATH.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

from benchmarks.measure import child_env, machine
from benchmarks.servers import PrefectServer, serve_cbr
from benchmarks.settings import LATEST_JSON
from tests.fakes.processes import free_port
from tests.fakes.web import web_server

BIN = Path(sys.executable).parent
BOARD_DAY = "2025-04-01"
PEER = """
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
body = open(sys.argv[2], "rb").read()
class Board(BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Board).serve_forever()
"""
TARGETS = {"throughput_ratio": 3.0, "p99_ms": 50.0, "csv_seconds": 0.2}
CLIENTS = 16
DAYS = [dt.date(2025, 3, 1) + dt.timedelta(days=i) for i in range(61)]


def backfill(data: Path, cbr_url: str, api_url: str, start: str = "1992-07-01",
             end: str | None = None) -> float:
    """`sco-etl rates --start …` into `data`; returns the seconds it took."""
    env = child_env(SCO_ETL_DATA_DIR=str(data), SCO_ETL_CBR_URL=cbr_url,
                    SCO_ETL_REQUEST_INTERVAL="0", PREFECT_API_URL=api_url)
    command = [str(BIN / "sco-etl"), "rates", "--start", start]
    if end:
        command += ["--end", end]
    started = time.perf_counter()
    subprocess.run(command, env=env, check=True, capture_output=True, timeout=900)
    return time.perf_counter() - started


def wrk(url: str, connections: int, seconds: int) -> dict:
    """Requests per second and latency percentiles `wrk` reports."""
    run = subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", url],
                         capture_output=True, text=True, check=True)
    figures = {"connections": connections}
    for line in run.stdout.splitlines():
        parts = line.split()
        if line.startswith("Requests/sec:"):
            figures["rps"] = float(parts[1])
        elif parts[:1] in (["50%"], ["99%"]):
            figures[f"p{parts[0][:-1]}_ms"] = _ms(parts[1])
        elif "Non-2xx" in line:
            figures["non_2xx"] = int(parts[-1])
        elif line.strip().startswith("Socket errors"):
            figures["socket_errors"] = line.split(":", 1)[1].strip()
    return figures


def _ms(text: str) -> float:
    for unit, factor in (("us", 0.001), ("ms", 1.0), ("s", 1000.0)):
        if text.endswith(unit):
            return float(text[: -len(unit)]) * factor
    return float(text)


def throughput(web: str, work: Path, seconds: int) -> dict:
    """The board endpoint and the peer serving its bytes, at 1 and 16 connections."""
    url = f"{web}/api/v1/board?date={BOARD_DAY}"
    body = httpx.get(url).content
    (work / "board.json").write_bytes(body)
    port = free_port()
    peer = subprocess.Popen([sys.executable, "-c", PEER, str(port), str(work / "board.json")])
    try:
        _wait(f"http://127.0.0.1:{port}/")
        assert httpx.get(f"http://127.0.0.1:{port}/").content == body
        result = {"bytes": len(body)}
        for connections in (1, CLIENTS):
            ours = wrk(url, connections, seconds)
            theirs = wrk(f"http://127.0.0.1:{port}/api/v1/board?date={BOARD_DAY}",
                         connections, seconds)
            result[str(connections)] = {"sco_etl": ours, "peer": theirs,
                                        "ratio": ours["rps"] / theirs["rps"]}
        return result
    finally:
        peer.terminate()
        peer.wait()


def _wait(url: str) -> None:
    for _ in range(100):
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.1)


def boards(web: str) -> dict[str, list]:
    """Every day's board rows, as read now."""
    with httpx.Client(base_url=web, timeout=30) as client:
        return {day.isoformat(): client.get("/api/v1/board", params={"date": day}).json()["rows"]
                for day in DAYS}


def under_backfill(web: str, data: Path, cbr_url: str, api_url: str) -> dict:
    """16 clients reading boards while a full backfill commits; latencies during the run."""
    before = boards(web)
    records: list[tuple[float, float, int, str, list | None]] = []
    lock = threading.Lock()
    stop = threading.Event()
    started_reading = threading.Barrier(CLIENTS + 1)

    def client() -> None:
        rng = random.Random()
        with httpx.Client(base_url=web, timeout=30) as session:
            started_reading.wait()
            while not stop.is_set():
                day = rng.choice(DAYS).isoformat()
                began = time.perf_counter()
                try:
                    response = session.get("/api/v1/board", params={"date": day})
                    status = response.status_code
                    rows = response.json()["rows"] if status == 200 else None
                except httpx.HTTPError:
                    status, rows = 0, None
                with lock:
                    records.append((began, time.perf_counter() - began, status, day, rows))

    threads = [threading.Thread(target=client, daemon=True) for _ in range(CLIENTS)]
    for thread in threads:
        thread.start()
    started_reading.wait()
    time.sleep(1.0)  # readers at full speed before the run starts
    run_started = time.perf_counter()
    seconds = backfill(data, cbr_url, api_url)
    run_ended = time.perf_counter()
    time.sleep(1.0)
    stop.set()
    for thread in threads:
        thread.join()
    after = boards(web)
    during = [r for r in records if run_started <= r[0] <= run_ended]
    latencies = sorted(r[1] * 1000 for r in during)
    torn = sum(1 for r in during if r[2] == 200 and r[4] not in (before[r[3]], after[r[3]]))
    changed = sum(1 for day in before if before[day] != after[day])
    return {
        "backfill_seconds": seconds, "requests_during_run": len(during),
        "requests_per_second": len(during) / (run_ended - run_started),
        "p50_ms": statistics.median(latencies), "p99_ms": latencies[int(len(latencies) * 0.99)],
        "max_ms": latencies[-1], "errors": sum(1 for r in during if r[2] != 200),
        "torn_reads": torn, "days_changed_by_run": changed,
        "answers_after_state": sum(1 for r in during if r[4] == after[r[3]] != before[r[3]]),
    }


def csv_timing(web: str, repeats: int = 5) -> dict:
    """One currency's full history as CSV: first asked (a new key each time) and again."""
    cold, warm = [], []
    with httpx.Client(base_url=web, timeout=60) as client:
        for n in range(repeats):
            params = {"codes": "CNY", "format": "csv", "from": f"1992-07-{n + 1:02d}"}
            for times in (cold, warm):
                began = time.perf_counter()
                response = client.get("/api/v1/rates", params=params)
                times.append(time.perf_counter() - began)
                assert response.status_code == 200
            rows = response.text.count("\n") - 1
    return {"rows": rows, "bytes": len(response.content), "cold_seconds": statistics.median(cold),
            "warm_seconds": statistics.median(warm)}


def run(seconds: int) -> dict:
    from sco_etl.schemas.clock import moscow_tomorrow
    from tests.fakes.cbr_history import History

    work = Path(tempfile.mkdtemp(prefix="sco-web-bench-"))
    figures: dict = {"machine": machine(), "started_at": dt.datetime.now(dt.UTC).isoformat(
        timespec="seconds"), "targets": TARGETS}
    history = History(last_date=moscow_tomorrow())
    history.values  # noqa: B018  (computed before anything is timed)
    try:
        with serve_cbr(history) as (_cbr, cbr_url), PrefectServer(child_env(), work) as prefect:
            full = work / "full"
            figures["full_backfill_seconds"] = backfill(full, cbr_url, prefect.api_url)
            with web_server(full) as web:
                figures["throughput"] = throughput(web, work, seconds)
                figures["csv"] = csv_timing(web)
            partial = work / "partial"
            backfill(partial, cbr_url, prefect.api_url, start="2025-01-01", end="2025-01-31")
            with web_server(partial) as web:
                figures["under_backfill"] = under_backfill(web, partial, cbr_url,
                                                           prefect.api_url)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return figures


def table(figures: dict) -> str:
    t, u, c = figures["throughput"], figures["under_backfill"], figures["csv"]
    lines = ["| figure | sco-etl web | peer / target |", "|---|---|---|"]
    for n in ("1", str(CLIENTS)):
        lines.append(f"| board, {n} connection(s), req/s | {t[n]['sco_etl']['rps']:.0f} | "
                     f"ThreadingHTTPServer {t[n]['peer']['rps']:.0f} → {t[n]['ratio']:.1f}x "
                     f"(target >= {TARGETS['throughput_ratio']:.0f}x) |")
    lines.append(f"| p99 with {CLIENTS} clients during a full backfill | {u['p99_ms']:.1f} ms "
                 f"(p50 {u['p50_ms']:.1f}, max {u['max_ms']:.0f}; {u['requests_during_run']} "
                 f"requests in {u['backfill_seconds']:.1f} s) | <= {TARGETS['p99_ms']:.0f} ms |")
    lines.append(f"| errors / torn reads during it | {u['errors']} / {u['torn_reads']} "
                 f"({u['days_changed_by_run']} days changed; {u['answers_after_state']} answers "
                 "already showed the run) | 0 / 0 |")
    lines.append(f"| CNY full history as CSV ({c['rows']} rows) | {c['cold_seconds']:.3f} s "
                 f"first, {c['warm_seconds'] * 1000:.1f} ms again | "
                 f"<= {TARGETS['csv_seconds']} s |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=10, help="wrk duration per measurement")
    parser.add_argument("--output", type=Path, default=LATEST_JSON.with_name("web.json"))
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        sys.exit("benchmarks.web_bench needs wrk: apt-get install wrk")
    figures = run(args.seconds)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(figures, indent=1, default=str) + "\n")
    print(table(figures))


if __name__ == "__main__":
    main()

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
RANDOM_DAYS = """
math.randomseed(7)
request = function()
  local day = os.time{year=2025, month=3, day=1 + math.random(0, 60), hour=12}
  return wrk.format("GET", "/api/v1/board?date=" .. os.date("!%Y-%m-%d", day))
end
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


def wrk(url: str, connections: int, seconds: int, script: Path | None = None) -> dict:
    """Requests per second and latency percentiles `wrk` reports."""
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", url]
    if script is not None:
        command[1:1] = ["-s", str(script)]
    run = subprocess.run(command, capture_output=True, text=True, check=True)
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


def boards(web: str, settled: bool = False) -> dict[str, list]:
    """Every day's board rows, as read now (`settled`: from the newest snapshot, once the
    cache has computed its answers)."""
    with httpx.Client(base_url=web, timeout=30) as client:
        newest = max(s["snapshot_id"] for s in client.get("/api/v1/snapshots").json())
        found = {}
        for day in DAYS:
            while True:
                response = client.get("/api/v1/board", params={"date": day})
                if not settled or int(response.headers["sco-snapshot"]) >= newest:
                    break
                time.sleep(0.02)
            found[day.isoformat()] = response.json()["rows"]
        return found


def under_backfill(web: str, data: Path, cbr_url: str, api_url: str, seconds: float,
                   work: Path) -> dict:
    """16 connections asking boards of random days (`wrk`) while a full backfill commits,
    and a checker comparing answers with the boards before and after the run."""
    before = boards(web)
    script = work / "random_days.lua"
    script.write_text(RANDOM_DAYS)
    checked: list[tuple[int, str, list | None]] = []
    stop = threading.Event()

    def check() -> None:
        rng = random.Random(7)
        with httpx.Client(base_url=web, timeout=30) as client:
            while not stop.is_set():
                day = rng.choice(DAYS).isoformat()
                response = client.get("/api/v1/board", params={"date": day})
                rows = response.json()["rows"] if response.status_code == 200 else None
                checked.append((response.status_code, day, rows))

    checker = threading.Thread(target=check, daemon=True)
    env = child_env(SCO_ETL_DATA_DIR=str(data), SCO_ETL_CBR_URL=cbr_url,
                    SCO_ETL_REQUEST_INTERVAL="0", PREFECT_API_URL=api_url)
    started = time.perf_counter()
    run = subprocess.Popen([str(BIN / "sco-etl"), "rates", "--start", "1992-07-01"], env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    checker.start()
    # wrk for as long as a full backfill took before: the whole window is inside this run
    load = wrk(f"{web}/api/v1/board?date={BOARD_DAY}", CLIENTS, max(1, int(seconds) - 1),
               script)
    _, error = run.communicate(timeout=900)
    run_seconds = time.perf_counter() - started
    stop.set()
    checker.join()
    if run.returncode != 0:
        raise RuntimeError(f"the backfill failed: {error.decode()[-2000:]}")
    after = boards(web, settled=True)
    torn = sum(1 for status, day, rows in checked
               if status == 200 and rows not in (before[day], after[day]))
    return {
        "backfill_seconds": run_seconds, "wrk": load,
        "checked": len(checked), "errors": sum(1 for status, _, _ in checked if status != 200)
        + load.get("non_2xx", 0), "torn_reads": torn,
        "days_changed_by_run": sum(1 for day in before if before[day] != after[day]),
        "answers_after_state": sum(1 for status, day, rows in checked
                                   if rows == after[day] != before[day]),
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
                figures["under_backfill"] = under_backfill(
                    web, partial, cbr_url, prefect.api_url, figures["full_backfill_seconds"],
                    work)
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
    load = u["wrk"]
    lines.append(f"| p99 with {CLIENTS} connections during a full backfill | "
                 f"{load['p99_ms']:.1f} ms (p50 {load['p50_ms']:.2f}; {load['rps']:.0f} req/s, "
                 f"boards of 61 days; the run took {u['backfill_seconds']:.1f} s) | "
                 f"<= {TARGETS['p99_ms']:.0f} ms |")
    lines.append(f"| errors / torn reads during it | {u['errors']} / {u['torn_reads']} "
                 f"({u['checked']} answers checked; {u['days_changed_by_run']} days changed, "
                 f"{u['answers_after_state']} answers already showed the run) | 0 / 0 |")
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

"""The news workload side by side: two trees of sco-etl, one run, one Prefect server.

Run: `.venv/bin/python benchmarks/news_bench.py [--before REV] [--rounds N]` (offline: a
loopback site and a temporary Prefect API). REV (default `main`) is exported with
`git archive`; the working tree is "after". Each tree runs in its own interpreter, importing
`sco_etl` from that tree, against the same kind of site and the same Prefect server, one
after the other. Prints the figures and writes them to
benchmarks/results/news.json.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

RESULTS = ROOT / "benchmarks" / "results" / "news.json"
PARTS = ("flows", "schemas", "tasks", "warehouse")


def use_tree(tree: Path) -> None:
    """Make `import sco_etl.…` read `tree` instead of the editable install's folders."""
    for module in list(sys.modules.values()):
        mapping = getattr(module, "MAPPING", None)
        if isinstance(mapping, dict) and "sco_etl.tasks" in mapping:
            mapping.update({f"sco_etl.{part}": str(tree / part) for part in PARTS})
            module.NAMESPACES["sco_etl.flows"] = [str(tree / "flows")]
            return
    raise RuntimeError("sco_etl is not installed in editable mode; cannot switch trees")


def worker(tree: Path, data: Path, rounds: int) -> dict:
    """One tree's turn: load the sources, then time `rounds` rounds."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    use_tree(tree)
    from benchmarks import news_workload as workload

    site = workload.WorkloadSite()
    server = workload.serve(site)
    try:
        return workload.run_rounds(site, data, rounds)
    finally:
        server.clear()
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", default="main", help="git revision of the 'before' tree")
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds per tree (≤ 10)")
    parser.add_argument("--worker", nargs=3, metavar=("TREE", "DATA", "OUT"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        tree, data, out = map(Path, args.worker)
        Path(out).write_text(json.dumps(worker(tree, data, args.rounds), default=str))
        return
    from benchmarks.servers import PrefectServer

    with tempfile.TemporaryDirectory(prefix="sco-news-bench-") as tmp:
        work = Path(tmp)
        before = work / "before"
        before.mkdir()
        archive = subprocess.run(["git", "archive", args.before], cwd=ROOT, check=True,
                                 capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", str(before)], input=archive, check=True)
        trees = {"before": before, "after": ROOT}
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "SCO_ETL_"))}
        env.update(PREFECT_SERVER_ANALYTICS_ENABLED="false", PREFECT_LOGGING_LEVEL="WARNING",
                   PYTHONPATH=str(ROOT))
        figures: dict = {"before_revision": args.before, "cpus": os.cpu_count(),
                         "load_average_at_start": os.getloadavg()[0]}
        with PrefectServer(env, work) as prefect:
            env["PREFECT_API_URL"] = prefect.api_url
            for name, tree in trees.items():
                out = work / f"{name}.json"
                subprocess.run([sys.executable, __file__, "--rounds", str(args.rounds),
                                "--worker", str(tree), str(work / f"data-{name}"), str(out)],
                               env=env, check=True, cwd=ROOT)
                figures[name] = json.loads(out.read_text())
                rounds = figures[name]["rounds"]
                print(f"{name}: " + ", ".join(f"{r['seconds']:.2f} s/{r['requests']} req"
                                              for r in rounds), flush=True)
        figures["load_average_at_end"] = os.getloadavg()[0]
    for name in trees:
        rounds = figures[name]["rounds"]
        figures[name]["median_seconds"] = statistics.median(r["seconds"] for r in rounds)
        figures[name]["floor_seconds"] = statistics.median(r["floor_seconds"] for r in rounds)
        figures[name]["times_floor"] = (figures[name]["median_seconds"]
                                        / figures[name]["floor_seconds"])
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(figures, indent=1) + "\n")
    for name in trees:
        part = figures[name]
        print(f"{name:7} median {part['median_seconds']:.2f} s over {len(part['rounds'])} rounds"
              f" (floor {part['floor_seconds']:.2f} s, {part['times_floor']:.2f}× the floor); "
              f"setup {part['setup_seconds']:.1f} s; rounds: "
              + ", ".join(f"{r['seconds']:.2f} s/{r['requests']} req" for r in part["rounds"]))


if __name__ == "__main__":
    main()

"""A reader process for the scale-out test: reads whole snapshots until told to stop.

    python -m tests.fakes.snapshot_reader STOP_FILE   (the lake from SCO_ETL_* variables)

Each read is one query on one snapshot: the rates rows and the rows the completed loads say
they wrote. A run commits both together, so in a whole snapshot they match; a torn read
(rates of a run without its loads row, or the reverse) would not. Prints one JSON line.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from sco_etl.flows.config import resolve

CHECK = """
SELECT (SELECT count(*) FROM rates),
       (SELECT coalesce(sum(rows_written), 0) FROM loads WHERE status = 'completed'),
       (SELECT count(*) FROM loads)
"""


def main() -> None:
    stop = Path(sys.argv[1])
    warehouse = resolve().warehouse()
    reads, torn, states = 0, [], set()
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        done = stop.exists()  # read once more after the writers ended
        with warehouse.reader() as connection:
            rates, written, loads = connection.execute(CHECK).fetchone()
        reads += 1
        states.add((rates, loads))
        if rates != written:
            torn.append([rates, written, loads])
        if done:
            break
    sys.stdout.write(json.dumps({"reads": reads, "torn": torn, "states": sorted(states)}) + "\n")


if __name__ == "__main__":
    main()

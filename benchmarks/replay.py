"""How long ``regsosek replay`` takes for N households (issue #17: one million).

``python -m benchmarks.replay --households 1000000``: a broker of its own, N
distinct households of the end-to-end benchmark's generator
(:mod:`benchmarks.workload`, encoded and published in chunks so that a
million never sit in memory at once), the real worker ingesting them live,
then ``regsosek replay`` timed from its start to "done" (shadow tables
filled, swapped, finished to the end offsets). The live worker is idle
meanwhile: this measures the replay alone, on the machine's two cores
shared by the broker, the worker, its compute process and the replay's.

Prints the figures and writes ``benchmarks/results/replay.json``. Nothing
asserts a speed.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import click
from rich.console import Console

from benchmarks.stack import create_topics, local_broker, preload
from benchmarks.workload import _encode_range as encode_range
from streams.settings import Settings
from tests.worker_harness import ROOT, WorkerProcess

RESULTS = Path(__file__).resolve().parent / "results" / "replay.json"
#: Households encoded and published at a time.
PUBLISH_CHUNK = 50_000


def publish(bootstrap: str, topic: str, count: int, console: Console) -> float:
    """``count`` distinct households on ``topic``, chunk by chunk; the seconds it took."""
    started = time.monotonic()
    started_ms = int((dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)).timestamp() * 1000)
    with ProcessPoolExecutor(max_workers=2) as pool:
        for first in range(0, count, PUBLISH_CHUNK):
            stop = min(first + PUBLISH_CHUNK, count)
            half = (first + stop) // 2
            # the generator's own range encoder: households [first, stop) in two processes
            parts = pool.map(encode_range, [first, half], [half, stop], [started_ms] * 2)
            preload(bootstrap, topic, [h for part in parts for h in part])
            console.print(f"published {stop:,} of {count:,}")
    return time.monotonic() - started


@click.command()
@click.option("--households", default=1_000_000, show_default=True)
@click.option("--partitions", default=6, show_default=True)
def main(households: int, partitions: int) -> None:
    """Publish N households, let the worker ingest them, then time ``regsosek replay``."""
    console = Console()
    now = dt.datetime.now(dt.UTC)
    root = Path(tempfile.mkdtemp(prefix="regsosek-replay-bench-"))
    load_before = os.getloadavg()
    with local_broker(root, Settings().cache_dir, partitions, console.print) as spec:
        prefix = "replaybench"
        topic = create_topics(spec.bootstrap, prefix, partitions)
        env = {
            "REGSOSEK_TOPIC_PARTITIONS": str(partitions),
            "REGSOSEK_FIELDWORK_START": (now - dt.timedelta(days=1)).isoformat(),
            "REGSOSEK_FIELDWORK_END": (now + dt.timedelta(days=1)).isoformat(),
        }
        worker = WorkerProcess(spec.bootstrap, prefix, root / "worker", env)
        worker.start()
        try:
            published_s = publish(spec.bootstrap, topic, households, console)
            ingest_started = time.monotonic()
            worker.wait_idle(timeout_s=max(600.0, households / 500))
            ingest_s = time.monotonic() - ingest_started + published_s
            console.print(f"live worker idle; running regsosek replay on {households:,}")
            started = time.monotonic()
            out = subprocess.run(
                [sys.executable, "-m", "streams.cli", "replay", "--json", "--interval", "2"],
                env=worker.env,
                capture_output=True,
                text=True,
                check=False,
                cwd=ROOT,
            )
            replay_s = time.monotonic() - started
            if out.returncode != 0:
                raise click.ClickException(f"replay failed: {out.stderr[-2000:]}")
            status = json.loads(out.stdout)
            counts = worker.page("/stats")
        finally:
            worker.stop()
    result = {
        "households": households,
        "partitions": partitions,
        "replay_seconds": round(replay_s, 1),
        "replay_households_per_s": round(households / replay_s, 1),
        "seconds_per_million": round(replay_s * 1_000_000 / households, 1),
        "live_ingest_seconds_incl_publish": round(ingest_s, 1),
        "replayed_messages": status.get("done"),
        "rules_version": status.get("rules_version"),
        "live_worker_processed": (counts or {}).get("processed"),
        "load_average_before": load_before,
        "cpus": len(os.sched_getaffinity(0)),
        "measured_at": now.isoformat(timespec="seconds"),
        "command": f"python -m benchmarks.replay --households {households}",
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=1) + "\n")
    console.print_json(json.dumps(result))


if __name__ == "__main__":
    main()

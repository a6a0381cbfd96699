"""The worker's HTTP endpoints on Faust's web server: health, readiness, progress.

In embedded mode only this process can open the chdb engine, so ``/progress``
is how the CLI and the board read progress while the worker runs. ``/metrics``
is served beside these by Faust's Prometheus sensor (``monitoring.worker``).

Liveness (``/healthz``) only proves the event loop answers: an orchestrator
restarts a worker that fails it. Readiness (``/readyz``) is the pipeline's
health: the broker answers metadata, ClickHouse answers the ``ping`` the
runtime hands in (writable: not a read-only user), no sink is holding a
batch ClickHouse refused and no partition's commit has been stuck behind
processed offsets for ``commit_stall_s`` (streams/worker/commits.py). A worker
that is not ready keeps running; it recovers by itself from the first three,
the last needs a restart; docs/monitoring.md says what to check.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sinks.queries import progress_json
from streams.kafka_admin import metadata_answered
from streams.kafka_security import PLAINTEXT, KafkaSecurity
from streams.worker.observer import WorkerStats

BY_CHOICES = ("district", "village", "enumerator")
PING_TIMEOUT_S = 3.0


def install(
    app: Any,
    *,
    stats: WorkerStats,
    client: Any,
    executor: ThreadPoolExecutor,
    bootstrap: str,
    security: KafkaSecurity = PLAINTEXT,
    ping: Callable[[], None],
    commit_stall_s: float = 300.0,
) -> None:
    """Add the worker's pages to the Faust app."""

    async def healthz(view: Any, request: Any) -> Any:
        """Liveness: the event loop answers."""
        del request
        return view.json({"status": "alive", "processed": stats.processed})

    async def readyz(view: Any, request: Any) -> Any:
        """Readiness: the broker answers metadata and ClickHouse is reachable and writable."""
        del request
        loop = asyncio.get_running_loop()
        broker = await asyncio.to_thread(metadata_answered, bootstrap, 3.0, security=security)
        clickhouse, detail = False, "a sink is holding a batch ClickHouse refused"
        if not stats.sink_failing:  # else the ClickHouse thread is busy retrying: don't queue
            try:
                await asyncio.wait_for(loop.run_in_executor(executor, ping), PING_TIMEOUT_S)
                clickhouse, detail = True, ""
            except Exception as exc:  # any failure of the engine means "not ready"
                detail = str(exc)[:200] or type(exc).__name__
        stuck = {tp: s for tp, s in stats.commits_stalled.items() if s >= commit_stall_s}
        ready = broker and clickhouse and not stats.sink_failing and not stuck
        body = {
            "ready": ready,
            "kafka": broker,
            "clickhouse": clickhouse,
            "clickhouse_error": detail,
            "sink_failing": stats.sink_failing,
            "commits_stalled": stuck,
        }
        return view.json(body, status=200 if ready else 503)

    async def progress(view: Any, request: Any) -> Any:
        """Progress rows as JSON: ?by=district|village|enumerator&district=CODE."""
        by = request.query.get("by", "district")
        if by not in BY_CHOICES:
            return view.json({"error": f"by must be one of {', '.join(BY_CHOICES)}"}, status=400)
        district = request.query.get("district") or None
        loop = asyncio.get_running_loop()
        rows = await loop.run_in_executor(executor, progress_json, client, by, district)
        return view.json({"by": by, "district": district, "rows": rows})

    async def stats_page(view: Any, request: Any) -> Any:
        """The worker's own counters (processed, valid, rejected, dropped, sink rows)."""
        del request
        return view.json(
            {
                "processed": stats.processed,
                "valid": stats.valid,
                "rejected": stats.rejected,
                "dropped": stats.dropped,
                "sink_rows": stats.sink_rows,
                "sink_batches": stats.sink_batches,
                "last_batch_rows": stats.last_batch_rows,
                "max_batch_rows": stats.max_batch_rows,
                "sink_failing": stats.sink_failing,
                "commits_stalled": stats.commits_stalled,
            }
        )

    for path, view in (
        ("/healthz", healthz),
        ("/readyz", readyz),
        ("/progress", progress),
        ("/stats", stats_page),
    ):
        app.page(path)(view)

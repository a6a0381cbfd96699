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
import re
from collections.abc import Awaitable, Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sinks.queries import progress_json
from streams.kafka_admin import metadata_answered
from streams.kafka_security import PLAINTEXT, KafkaSecurity
from streams.worker.observer import WorkerStats
from streams.worker.reads import RETRY_AFTER_S, Reads, ReadsBusy

BY_CHOICES = ("district", "village", "enumerator")
PING_TIMEOUT_S = 3.0
#: A district as the progress views know it: region-master ``35.09.02`` or BPS ``3509010``.
DISTRICT_CODE = re.compile(r"\d{2}\.\d{2}\.\d{2}|\d{7}")


class BadParameter(ValueError):
    """A query parameter a page cannot take: the answer is 400 with this message."""


def single(query: Mapping[str, str], allowed: set[str]) -> dict[str, str]:
    """The query's parameters, each given once and all of them known to the page."""
    unknown = sorted(set(query) - allowed)
    if unknown:
        raise BadParameter(
            f"unknown parameter(s) {', '.join(unknown)}; allowed: "
            f"{', '.join(sorted(allowed)) or 'none'}"
        )
    getall = getattr(query, "getall", None)
    for name in query:
        if getall is not None and len(getall(name)) > 1:
            raise BadParameter(f"parameter {name} given more than once")
    return dict(query)


def progress_query(query: Mapping[str, str]) -> tuple[str, str | None]:
    """``by`` and ``district`` of ``GET /progress``, checked; raises BadParameter."""
    params = single(query, {"by", "district"})
    by = params.get("by", "district")
    if by not in BY_CHOICES:
        raise BadParameter(f"by must be one of {', '.join(BY_CHOICES)}")
    district = params.get("district") or None
    if district is not None and not DISTRICT_CODE.fullmatch(district):
        raise BadParameter("district must be a district code: 35.09.02 or BPS 3509010")
    return by, district


def busy(view: Any, exc: ReadsBusy) -> Any:
    """503 for a read refused by the bound: come back in a second."""
    return view.json(
        {"error": f"too many reads at once ({exc}); retry in {RETRY_AFTER_S} s"},
        status=503,
        headers={"Retry-After": str(RETRY_AFTER_S)},
    )


class SharedCheck:
    """Concurrent callers share one run of an async check: a burst of probes costs one.

    Without it every ``/readyz`` queued its own ping on the sink's ClickHouse
    thread (ahead of inserts) and its own metadata request to the broker.
    """

    def __init__(self, check: Callable[[], Awaitable[tuple[dict[str, Any], bool]]]) -> None:
        self._check = check
        self._running: asyncio.Future[tuple[dict[str, Any], bool]] | None = None

    async def __call__(self) -> tuple[dict[str, Any], bool]:
        if self._running is None or self._running.done():
            self._running = asyncio.ensure_future(self._check())
        return await asyncio.shield(self._running)


def install(
    app: Any,
    *,
    stats: WorkerStats,
    reads: Reads,
    database: str,
    executor: ThreadPoolExecutor,
    bootstrap: str,
    security: KafkaSecurity = PLAINTEXT,
    ping: Callable[[], None],
    commit_stall_s: float = 300.0,
) -> None:
    """Add the worker's pages to the Faust app.

    ``executor`` is the sink's ClickHouse thread: only the readiness ping goes
    there (it is about that client). Page reads go to ``reads``.
    """

    async def healthz(view: Any, request: Any) -> Any:
        """Liveness: the event loop answers."""
        del request
        return view.json({"status": "alive", "processed": stats.processed})

    async def readiness() -> tuple[dict[str, Any], bool]:
        """The broker answers metadata and ClickHouse is reachable and writable."""
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
        return body, bool(ready)

    shared_readiness = SharedCheck(readiness)

    async def readyz(view: Any, request: Any) -> Any:
        """Readiness, one check at a time however many probes ask."""
        del request
        body, ready = await shared_readiness()
        return view.json(body, status=200 if ready else 503)

    async def progress(view: Any, request: Any) -> Any:
        """Progress rows as JSON: ?by=district|village|enumerator&district=CODE."""
        try:
            by, district = progress_query(request.query)
            rows = await reads.run(
                lambda client: progress_json(client, by, district, database=database)
            )
        except BadParameter as exc:
            return view.json({"error": str(exc)}, status=400)
        except ReadsBusy as exc:
            return busy(view, exc)
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

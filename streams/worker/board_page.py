"""``GET /board``: everything the live terminal board shows, in one answer.

In embedded mode only the worker can open the chdb engine, so the board in
``make demo`` (another process) asks the worker once a second.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sinks.queries import board_json
from streams.worker.observer import WorkerStats


def install_board(
    app: Any, *, stats: WorkerStats, client: Any, executor: ThreadPoolExecutor, database: str
) -> None:
    """Add ``/board`` to the worker's web server."""

    async def board(view: Any, request: Any) -> Any:
        """Progress by district, totals, reasons, active enumerators, freshness, counters."""
        window = int(request.query.get("window", "60"))
        loop = asyncio.get_running_loop()
        body = await loop.run_in_executor(
            executor, lambda: board_json(client, database=database, window_s=window)
        )
        body["worker"] = {
            "processed": stats.processed,
            "valid": stats.valid,
            "rejected": stats.rejected,
            "dropped": stats.dropped,
            "sink_failing": stats.sink_failing,
        }
        return view.json(body)

    app.page("/board")(board)

"""``GET /board``: everything the live terminal board shows, in one answer.

In embedded mode only the worker can open the chdb engine, so the board in
``make demo`` (another process) asks the worker once a second. Its queries
run on the pages' own ClickHouse thread (streams/worker/reads.py), never the
sink's.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sinks.queries import board_json
from streams.worker.observer import WorkerStats
from streams.worker.reads import Reads, ReadsBusy
from streams.worker.web import BadParameter, busy, single

#: Longest freshness window a caller may ask for (a week), seconds.
MAX_WINDOW_S = 7 * 24 * 3600


def board_query(query: Mapping[str, str]) -> int:
    """The ``window`` (seconds, 1..a week, default 60) of ``GET /board``; raises BadParameter."""
    text = single(query, {"window"}).get("window", "60")
    if not text.isascii() or not text.isdigit() or not 1 <= int(text) <= MAX_WINDOW_S:
        raise BadParameter(f"window must be a whole number of seconds from 1 to {MAX_WINDOW_S}")
    return int(text)


def install_board(app: Any, *, stats: WorkerStats, reads: Reads, database: str) -> None:
    """Add ``/board`` to the worker's web server."""

    async def board(view: Any, request: Any) -> Any:
        """Progress by district, totals, reasons, active enumerators, freshness, counters."""
        try:
            window = board_query(request.query)
            body = await reads.run(
                lambda client: board_json(client, database=database, window_s=window)
            )
        except BadParameter as exc:
            return view.json({"error": str(exc)}, status=400)
        except ReadsBusy as exc:
            return busy(view, exc)
        body["worker"] = {
            "processed": stats.processed,
            "valid": stats.valid,
            "rejected": stats.rejected,
            "dropped": stats.dropped,
            "sink_failing": stats.sink_failing,
        }
        return view.json(body)

    app.page("/board")(board)

"""``regsosek worker`` that also logs when each ClickHouse insert returned.

The worker is the real one and so is the engine; the client is wrapped only
to append one JSON line per insert to the file named by
``REGSOSEK_BENCH_INSERT_LOG``: table, rows, start and end (Unix seconds) and
the batch's ``written_at``. ``written_at`` is stamped when the sink builds a
batch, before the insert; the end of the insert is when the rows became
visible, so freshness is measured to that moment, and throughput ends at the
return of the last insert. One line per batch of thousands of rows: no
measurable cost.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, cast

from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.summary import QuerySummary

import sinks.clickhouse
import streams.worker.runtime

LOG_ENV = "REGSOSEK_BENCH_INSERT_LOG"
_real_client_from_dsn = sinks.clickhouse.client_from_dsn


class TimedClient:
    """Delegates everything; ``insert`` also records when it started and returned."""

    def __init__(self, client: Client, log: Path) -> None:
        self._client = client
        self._log = log

    def insert(
        self, table: str, data: Sequence[Sequence[Any]], *args: Any, **kwargs: Any
    ) -> QuerySummary:
        started = time.time()
        result = self._client.insert(table, data, *args, **kwargs)
        ended = time.time()
        columns = list(kwargs.get("column_names") or ())
        written = None
        if data and "written_at" in columns:
            written = data[0][columns.index("written_at")].timestamp()
        line = {"table": table, "rows": len(data), "start": started, "end": ended}
        with self._log.open("a") as out:
            out.write(json.dumps(line | {"written_at": written}) + "\n")
        return result

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


def timed_client_from_dsn(
    dsn: str, *, ca_file: Path | None = None, settings: Mapping[str, str | int] | None = None
) -> Client:
    """The configured client, wrapped: it delegates every other attribute, so it acts as one."""
    client = _real_client_from_dsn(dsn, ca_file=ca_file, settings=settings)
    return cast(Client, TimedClient(client, Path(os.environ[LOG_ENV])))


streams.worker.runtime.client_from_dsn = timed_client_from_dsn  # type: ignore[attr-defined]

if __name__ == "__main__":
    from streams.cli import main

    main()

"""`regsosek worker` whose ClickHouse inserts fail while a marker file exists.

Fault injection around the real engine, for the outage test: the worker is
the real one, the engine is the real one; only ``insert`` raises, the way a
refused connection or a server restart would make it raise, while the file
named by ``REGSOSEK_TEST_CLICKHOUSE_DOWN`` exists.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import sinks.clickhouse
import streams.worker.runtime

_real_client_from_dsn = sinks.clickhouse.client_from_dsn


class FlakyClient:
    """Delegates everything; ``insert`` fails while the marker file exists."""

    def __init__(self, client: Any, marker: Path) -> None:
        self._client = client
        self._marker = marker

    def insert(self, *args: Any, **kwargs: Any) -> Any:
        if self._marker.exists():
            raise ConnectionError("injected fault: ClickHouse is down")
        return self._client.insert(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


def flaky_client_from_dsn(dsn: str, **settings: Any) -> Any:
    marker = Path(os.environ["REGSOSEK_TEST_CLICKHOUSE_DOWN"])
    return FlakyClient(_real_client_from_dsn(dsn, **settings), marker)


streams.worker.runtime.client_from_dsn = flaky_client_from_dsn  # type: ignore[attr-defined]

if __name__ == "__main__":
    from streams.cli import main

    main()

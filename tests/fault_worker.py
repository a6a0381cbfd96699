"""`regsosek worker` with faults injected, each switched on by its own variable.

The worker is the real one, against the real broker and the real engine; only
the named call misbehaves:

* ``REGSOSEK_TEST_CLICKHOUSE_DOWN=<file>``: ClickHouse ``insert`` raises while
  the file exists, the way a refused connection or a server restart would
  (the outage test).
* ``REGSOSEK_TEST_LOSE_ACK=<topic>:<partition>:<offset>``: the worker processes
  that record but its acknowledgement never reaches Faust's consumer, the
  signature of an event lost inside the worker (the commit-watch test).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, cast

from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.summary import QuerySummary
from faust.transport.consumer import Consumer

import sinks.clickhouse
import streams.worker.runtime

_real_client_from_dsn = sinks.clickhouse.client_from_dsn
_real_ack = Consumer.ack


class FlakyClient:
    """Delegates everything; ``insert`` fails while the marker file exists."""

    def __init__(self, client: Client, marker: Path) -> None:
        self._client = client
        self._marker = marker

    def insert(self, *args: Any, **kwargs: Any) -> QuerySummary:
        if self._marker.exists():
            raise ConnectionError("injected fault: ClickHouse is down")
        return self._client.insert(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


def flaky_client_from_dsn(
    dsn: str, *, ca_file: Path | None = None, settings: Mapping[str, str | int] | None = None
) -> Client:
    """The configured client behind the proxy, which delegates all else and so acts as one."""
    marker = Path(os.environ["REGSOSEK_TEST_CLICKHOUSE_DOWN"])
    return cast(
        Client, FlakyClient(_real_client_from_dsn(dsn, ca_file=ca_file, settings=settings), marker)
    )


def losing_ack(lost: tuple[str, int, int]) -> Any:
    def ack(self: Any, message: Any) -> bool:
        if (message.topic, message.partition, message.offset) == lost:
            message.acked = True  # the stream thinks it is done; the consumer never hears
            return False
        return bool(_real_ack(self, message))

    return ack


if os.environ.get("REGSOSEK_TEST_CLICKHOUSE_DOWN"):
    streams.worker.runtime.client_from_dsn = flaky_client_from_dsn  # type: ignore[attr-defined]
if os.environ.get("REGSOSEK_TEST_LOSE_ACK"):
    topic, partition, offset = os.environ["REGSOSEK_TEST_LOSE_ACK"].rsplit(":", 2)
    Consumer.ack = losing_ack((topic, int(partition), int(offset)))  # type: ignore[method-assign]

if __name__ == "__main__":
    from streams.cli import main

    main()

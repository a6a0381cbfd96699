"""A plain Faust agent doing the bare path's work: what Faust itself costs.

Run as a child process (``python -m benchmarks.faust_plain``). One
faust-streaming app (the version the product pins) with one agent on the
same topic, in a fresh consumer group (from the earliest offsets), its
values raw bytes; ``stream.take(batch, within=...)`` hands it batches (the
worker's processing batch size and window, ``--within``), and
it does exactly what :mod:`benchmarks.bare` does with them: the same fastavro
decode, narrow columns and insert into a fresh embedded engine, one insert in
flight on a thread. No code of the product: only Faust and the bare path's
helpers. No tables, no web server, no sinks, no output topics.

Timed from the first message the consumer hands to Faust (a sensor's
``on_message_in``: the moment the bare path's first ``getmany`` returns) to
the return of the last insert; CPU from ``getrusage`` over the same window.
When it has seen ``--expect`` messages (or ``--timeout`` passed) it prints one
JSON object, the shape of the bare path's, and stops the worker.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import faust

from benchmarks.bare import (
    ContenderResult,
    Decoder,
    Inserter,
    arguments,
    cpu_seconds,
    emit,
    narrow_columns,
    open_engine,
    peak_rss_mb,
    stored_households,
)
from benchmarks.kafka_login import faust_options


@dataclass
class Progress:
    """What the agent has done so far."""

    seen: int = 0
    members: int = 0
    first: float = 0.0
    cpu_first: float = 0.0
    done: bool = False


class FirstMessage(faust.Sensor):
    """Stamps the first message the consumer hands to Faust (the clock starts there)."""

    def __init__(self, progress: Progress, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.progress = progress

    def on_message_in(self, tp: Any, offset: int, message: Any) -> None:
        if not self.progress.first:
            self.progress.first, self.progress.cpu_first = time.time(), cpu_seconds()


def build(args: argparse.Namespace, datadir: Path) -> tuple[Any, Progress]:
    """The app, its agent and its watchdog; returns the app and its progress."""
    progress = Progress()
    client, version = open_engine(Path(args.directory))
    decode = Decoder()
    app = faust.App(
        args.group,  # the app id is the consumer group: a fresh one per run
        broker=f"kafka://{args.bootstrap}",
        store="memory://",
        datadir=str(datadir),
        web_enabled=False,
        key_serializer="raw",
        value_serializer="raw",
        consumer_auto_offset_reset="earliest",
        topic_disable_leader=True,
        # the same fetch size as the bare path's, a buffer for two batches (the worker's)
        consumer_max_fetch_size=8 * 1024 * 1024,
        stream_buffer_maxsize=2 * args.batch,
        # the same REGSOSEK_KAFKA_* security as the worker's app (nothing for PLAINTEXT)
        **faust_options(),
    )
    app.sensors.add(FirstMessage(progress))
    topic = app.topic(args.topic, key_type=bytes, value_type=bytes)
    inserter = Inserter(client)

    def finish() -> None:
        if progress.done:
            return
        progress.done = True
        last = time.time()
        cpu = cpu_seconds() - progress.cpu_first if progress.first else 0.0
        stored = stored_households(client)
        seconds = last - progress.first if progress.first else 0.0
        emit(
            ContenderResult(
                progress.seen,
                progress.members,
                seconds,
                progress.first,
                last,
                cpu,
                peak_rss_mb(),
                stored,
                version,
            )
        )
        inserter.close()
        os.kill(os.getpid(), signal.SIGTERM)  # the Faust worker's own graceful stop

    @app.agent(topic)
    async def ingest(stream: Any) -> None:
        async for values in stream.take(args.batch, within=args.within):
            await _write(values, decode, inserter, progress)
            if progress.seen >= args.expect:
                await inserter.drain()
                finish()

    @app.task  # type: ignore[untyped-decorator]
    async def watchdog() -> None:
        await asyncio.sleep(args.timeout)
        await inserter.drain()
        finish()

    return app, progress


async def _write(
    values: Sequence[bytes], decode: Decoder, inserter: Inserter, progress: Progress
) -> None:
    households, members = narrow_columns([decode(value) for value in values])
    await inserter.submit(households, members)
    progress.seen += len(values)
    progress.members += len(members[0])


def main(argv: list[str] | None = None) -> None:
    """Parse the arguments the benchmark passes, run the app until done."""
    parser = arguments(__doc__)
    parser.add_argument("--group", required=True, help="a fresh consumer group (the app id)")
    parser.add_argument("--within", type=float, default=0.25, help="take()'s window, seconds")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="faust-plain-") as datadir:
        app, _ = build(args, Path(datadir))
        worker = faust.Worker(app, loglevel="WARNING", quiet=True, redirect_stdouts=False)
        try:
            worker.execute_from_commandline()
        except SystemExit as exc:
            if exc.code not in (0, None):
                raise


if __name__ == "__main__":
    main()

"""The pure parts of /debug/consumer (the page itself is checked on a real worker)."""

from __future__ import annotations

import asyncio
import threading

import pytest

from streams.worker.diagnostics import first_missing, task_state, waiting_for_commit


@pytest.mark.parametrize(
    ("committed", "acked", "expected"),
    [
        (None, [1, 2], []),  # nothing committed yet: nothing to compare with
        (10, [], []),
        (10, [10, 11, 12], []),  # all processed: the commit can move to 13
        (10, [11, 12], [10]),  # offset 10 holds the commit
        (10, [10, 12, 15], [11, 13, 14]),
        (10, [9, 10, 10, 11], []),  # duplicates and offsets below the commit are harmless
    ],
)
def test_first_missing(committed: int | None, acked: list[int], expected: list[int]) -> None:
    assert first_missing(committed, acked) == expected


def test_first_missing_stops_at_the_limit() -> None:
    assert first_missing(0, [1_000_000], limit=3) == [0, 1, 2]


def test_task_state_shows_where_a_task_waits() -> None:
    async def parked(event: asyncio.Event) -> None:
        await event.wait()

    async def main() -> list[dict[str, object]]:
        event = asyncio.Event()
        task = asyncio.create_task(parked(event), name="parked")
        await asyncio.sleep(0)
        state = task_state()
        event.set()
        await task
        return state

    (parked_task,) = [t for t in asyncio.run(main()) if t["task"] == "parked"]
    chain = parked_task["at"]
    assert isinstance(chain, list)
    assert "parked" in chain[0] and "wait" in chain[-1], chain


@pytest.mark.parametrize(
    ("committed", "read", "acked", "in_flight", "expected"),
    [
        (10, 14, 3, False, 3),  # acked offsets wait for the next commit
        (0, 0, 0, True, 1),  # the stuck first commit: its acks taken out, record 0 read
        (0, 0, 0, False, 0),  # the same between commits: nothing for the watch yet
        (15, 14, 0, True, 0),  # everything read is committed: a commit elsewhere is no stall
        (None, None, 0, True, 0),  # nothing read yet
        (None, 3, 0, True, 1),  # read, never committed, a commit in flight
        (10, 14, 2, True, 3),
    ],
)
def test_waiting_for_commit(
    committed: int | None, read: int | None, acked: int, in_flight: bool, expected: int
) -> None:
    assert waiting_for_commit(committed, read, acked, in_flight) == expected


def test_task_state_reads_another_threads_loop() -> None:
    """Faust's consumer runs on a loop in a thread of its own; its tasks are listed too."""
    loop = asyncio.new_event_loop()
    started, release = threading.Event(), asyncio.Event()

    async def committing() -> None:
        started.set()
        await release.wait()

    thread = threading.Thread(target=loop.run_until_complete, args=(committing(),))
    thread.start()
    try:
        assert started.wait(5)
        chains = [t["at"] for t in task_state(loop)]
    finally:
        loop.call_soon_threadsafe(release.set)
        thread.join(5)
        loop.close()
    assert any("committing" in chain[0] for chain in chains), chains

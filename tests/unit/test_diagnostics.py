"""The pure parts of /debug/consumer (the page itself is checked on a real worker)."""

from __future__ import annotations

import asyncio

import pytest

from streams.worker.diagnostics import first_missing, task_state


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

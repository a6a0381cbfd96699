"""The Faust offset-bookkeeping fixes, on the consumer methods themselves (no broker).

The integration proof is tests/integration/test_worker.py's SIGKILL test: before
these fixes its restarted worker committed one offset per second.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from importlib import metadata
from types import SimpleNamespace
from typing import Any

import faust
import pytest
from faust.transport.consumer import Consumer
from faust.types import TP
from intervaltree import IntervalTree
from mode import Service

from streams.worker import faust_fixes
from streams.worker.faust_fixes import read_offsets_after_seek

P0 = TP("t", 0)
P1 = TP("t", 1)


@pytest.fixture(autouse=True)
def fixed() -> None:
    faust_fixes.apply()


def bookkeeping(committed: int, acked: list[int]) -> Any:
    """The attributes of Faust's consumer that the three methods read and write."""
    return SimpleNamespace(
        _acked=defaultdict(list, {P0: list(acked)}),
        _acked_index=defaultdict(set, {P0: set(acked)}),
        _gap=defaultdict(IntervalTree),
        _committed_offset=defaultdict(lambda: None, {P0: committed}),
    )


def test_duplicate_acks_commit_in_one_step() -> None:
    state = bookkeeping(committed=413, acked=[413, 413, 414, 414, 415, 416])
    assert Consumer._new_offset(state, P0) == 417
    assert state._acked[P0] == []


def test_the_seek_race_no_longer_slows_commits_or_acks_the_delivered_record() -> None:
    # the race: read offset reset to 169 after 169..377 were delivered, then 378 arrives
    state = bookkeeping(committed=169, acked=[])
    asyncio.run(Consumer._add_gap(state, P0, 170, 378))
    gap = state._gap[P0]
    assert not gap.overlaps(378), "the delivered record is not a gap"
    assert gap.overlaps(170) and gap.overlaps(377)
    state._acked[P0].extend(range(169, 378))  # the agents finish 169..377
    state._acked_index[P0].update(range(169, 378))
    assert Consumer._new_offset(state, P0) == 378, "everything processed commits in one step"


def test_a_real_gap_still_lets_commits_pass() -> None:
    # offsets 11..14 do not exist (transaction markers): acked 10 and 15 commit past them
    state = bookkeeping(committed=10, acked=[10])
    asyncio.run(Consumer._add_gap(state, P0, 11, 15))
    state._acked[P0].append(15)
    state._acked_index[P0].add(15)
    assert Consumer._new_offset(state, P0) == 16


def test_a_lost_record_at_the_committed_offset_holds_the_commit() -> None:
    # Faust committed 4..6 over a missing 3 (it waited only from committed + 2)
    state = bookkeeping(committed=3, acked=[4, 5, 6])
    assert Consumer._new_offset(state, P0) is None
    state._acked[P0].append(3)
    assert Consumer._new_offset(state, P0) == 7


def test_records_deleted_before_they_were_read_are_committed_past() -> None:
    # committed 10 (next to read), but retention deleted 10..14: the first record is 15
    state = bookkeeping(committed=10, acked=[])
    asyncio.run(Consumer._add_gap(state, P0, 10, 15))  # from last read (9) + 1 to delivered
    state._acked[P0].append(15)
    state._acked_index[P0].add(15)
    assert Consumer._new_offset(state, P0) == 16


@pytest.mark.parametrize(
    ("committed", "expected"),
    [({P0: 169}, {P0: 168}), ({P0: 0}, {P0: None}), ({P0: None}, {P0: None})],
)
def test_read_offsets_after_seek(
    committed: dict[TP, int | None], expected: dict[TP, int | None]
) -> None:
    assert read_offsets_after_seek(committed) == expected


def test_unprocessed_offsets_hold_the_commit() -> None:
    state = bookkeeping(committed=10, acked=[10, 11, 13, 14])
    assert Consumer._new_offset(state, P0) == 12
    assert Consumer._new_offset(state, P0) is None  # 12 is not acked yet: wait for it


def test_apply_refuses_an_unchecked_faust(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(faust_fixes, "_APPLIED", "_regsosek_fixed_not_yet")
    monkeypatch.setattr(faust, "__version__", "0.99.0")
    with pytest.raises(RuntimeError, match=r"0\.99\.0 is not one"):
        faust_fixes.apply()


def test_apply_refuses_an_unchecked_aiokafka(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(faust_fixes, "_APPLIED", "_regsosek_fixed_not_yet")
    real = metadata.version
    monkeypatch.setattr(
        metadata,
        "version",
        lambda name: "9.9.9" if name == "aiokafka" else real(name),
    )
    with pytest.raises(RuntimeError, match=r"aiokafka 9\.9\.9 is not one"):
        faust_fixes.apply()


def seeking_consumer(
    seen: list[bool], flow_active: bool = True, committed: dict[TP, int | None] | None = None
) -> Any:
    """Faust's consumer as perform_seek sees it; the seek records whether records may flow."""
    read_offset: dict[TP, int | None] = defaultdict(lambda: None, {P0: 377})
    state: Any = SimpleNamespace(
        _read_offset=read_offset,
        _committed_offset=defaultdict(lambda: None),
        flow_active=flow_active,
        app=SimpleNamespace(topics=SimpleNamespace(acks_enabled_for=lambda topic: True)),
        sought={},
    )

    async def seek_to_committed() -> dict[TP, int | None]:
        seen.append(state.flow_active)  # could the fetcher deliver while the seek runs?
        await asyncio.sleep(0)
        return committed if committed is not None else {P0: 169, P1: 20}

    async def earliest_offsets(*tps: TP) -> dict[TP, int]:
        return {tp: 5 for tp in tps}

    async def seek_wait(offsets: dict[TP, int]) -> None:
        state.sought.update(offsets)

    state.earliest_offsets = earliest_offsets
    state.seek_wait = seek_wait

    def stop_flow() -> None:
        state.flow_active = False

    def resume_flow() -> None:
        state.flow_active = True

    state.seek_to_committed = seek_to_committed
    state.stop_flow = stop_flow
    state.resume_flow = resume_flow
    return state


def test_perform_seek_holds_delivery_while_positions_move() -> None:
    seen: list[bool] = []
    state = seeking_consumer(seen)
    asyncio.run(Consumer.perform_seek(state))
    assert seen == [False], "nothing is handed out during the seek"
    assert state.flow_active, "and records flow again after it"
    assert dict(state._read_offset) == {P0: 168, P1: 19}, "the last read is before the commit"
    assert dict(state._committed_offset) == {P0: 169, P1: 20}


def test_perform_seek_starts_a_never_committed_partition_at_its_first_offset() -> None:
    # a worker killed before its first commit on P0: read it from the log start, and
    # make the log start its committed offset so the first commit must begin there
    state = seeking_consumer([], committed={P0: None, P1: 20})
    asyncio.run(Consumer.perform_seek(state))
    assert state.sought == {P0: 5}
    assert dict(state._committed_offset) == {P0: 5, P1: 20}
    assert dict(state._read_offset) == {P0: 4, P1: 19}


def test_perform_seek_leaves_a_stopped_flow_stopped() -> None:
    # Faust seeks with the flow stopped itself during a rebalance: resuming is its call
    seen: list[bool] = []
    state = seeking_consumer(seen, flow_active=False)
    asyncio.run(Consumer.perform_seek(state))
    assert seen == [False] and state.flow_active is False


class Fetching(Service):
    """What the fetch loop's hand-over reads of Faust's consumer, with a real ``wait_first``."""

    def __init__(self, *, deliver: bool) -> None:
        super().__init__()
        self._read_offset: defaultdict[TP, int | None] = defaultdict(lambda: None, {P0: 3})
        self._commit_every = None
        self._n_acked = 0
        self.suspend_flow = asyncio.Event()
        self.app = SimpleNamespace(
            consumer_generation_id=3, topics=SimpleNamespace(acks_enabled_for=lambda _: True)
        )
        self.delivered: list[int] = []
        self._deliver = deliver

    async def callback(self, message: Any) -> None:
        if not self._deliver:  # the channel is full: the hand-over waits
            await asyncio.Event().wait()
        self.delivered.append(message.offset)


def record(offset: int, generation: int = 3) -> Any:
    return SimpleNamespace(offset=offset, topic="t", generation_id=generation)


def test_a_handed_on_record_is_read() -> None:
    consumer = Fetching(deliver=True)
    assert asyncio.run(faust_fixes._hand_on(consumer, P0, record(4))) is True
    assert consumer.delivered == [4] and consumer._read_offset[P0] == 4


def test_a_hand_over_cut_short_by_a_seek_leaves_the_record_unread() -> None:
    """The changelog-recovery loss: the flow stops while the channel is full."""

    async def cut_short(consumer: Fetching) -> bool:
        asyncio.get_running_loop().call_later(0.05, consumer.suspend_flow.set)
        return await faust_fixes._hand_on(consumer, P0, record(4))

    consumer = Fetching(deliver=False)
    assert asyncio.run(cut_short(consumer)) is False
    assert consumer.delivered == [] and consumer._read_offset[P0] == 3


def test_a_record_of_an_older_generation_is_not_marked_read() -> None:
    consumer = Fetching(deliver=True)
    assert asyncio.run(faust_fixes._hand_on(consumer, P0, record(4, generation=2))) is False
    assert consumer._read_offset[P0] == 3, "read again after the seek, for this generation"


def test_track_topic_keeps_every_sent_topic_in_the_metadata_refresh() -> None:
    """The client (aiokafka's, not started, no broker) tracks each topic once, and keeps them."""
    from aiokafka.client import AIOKafkaClient  # noqa: PLC0415 - only this test needs it

    async def tracked() -> set[str]:
        client = AIOKafkaClient(bootstrap_servers="127.0.0.1:9")
        faust_fixes.track_topic(client, "p.submissions.valid")
        faust_fixes.track_topic(client, "p-worker-household-dedup-changelog")
        faust_fixes.track_topic(client, "p.submissions.valid")
        return set(client._topics)

    assert asyncio.run(tracked()) == {"p.submissions.valid", "p-worker-household-dedup-changelog"}


def test_the_producer_tracks_the_topic_before_sending() -> None:
    """Topic given by position (the worker's batches) or by name (Faust's send) alike."""
    from aiokafka import AIOKafkaProducer  # noqa: PLC0415 - only this test needs it

    async def tracked() -> set[str]:
        producer = AIOKafkaProducer(bootstrap_servers="127.0.0.1:9")
        for call in (
            producer.send_batch(producer.create_batch(), "p.valid", partition=0),
            producer.send(topic="p.rejected", value=b"x"),
            producer.partitions_for("p.changelog"),
        ):
            with contextlib.suppress(TimeoutError):  # never started: waits for metadata
                await asyncio.wait_for(call, timeout=0.05)
        return set(producer.client._topics)

    assert asyncio.run(tracked()) == {"p.valid", "p.rejected", "p.changelog"}

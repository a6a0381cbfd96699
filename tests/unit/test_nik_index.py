"""NIK_DUPLICATE_HOUSEHOLD in the compute process: recent, in-batch and ClickHouse's NIKs.

The computer is the one the worker runs (tests/unit/test_processing_stage.py) with
the worker's :class:`WorkerNikIndex`; ClickHouse's answer is handed in as the event
loop would (``known_niks``); the real query runs in tests/integration/test_worker_niks.py.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from processors.pipeline import RawSubmission
from schemas.catalog import subject_for
from schemas.regions import RegionMaster, load_regions
from schemas.registry import LocalRegistry
from schemas.serde import AvroDeserializer, AvroSerializer
from sinks.privacy import nik_hash, nik_key
from streams.worker.compute import BatchComputer
from streams.worker.nik_index import WorkerNikIndex
from streams.worker.nik_lookup import NikLookup, lookup_sql
from tests import builders as b
from tests.unit.test_processing_stage import _computer

KEY = b"test-key"
TOPIC = "regsosek.submissions"
SHARED = "3509021205800001"  # the head's NIK in tests/builders.py


@pytest.fixture(scope="module")
def regions() -> RegionMaster:
    return load_regions()


def worker_computer(regions: RegionMaster) -> tuple[BatchComputer, WorkerNikIndex]:
    """The test computer with the worker's index in its rule context, as build_computer does."""
    index = WorkerNikIndex(KEY)
    plain = _computer(regions)
    pipeline = plain._pipeline  # rebuilt with the index, as build_computer does
    context = replace(pipeline.context, seen_niks=index)
    registry = LocalRegistry()
    computer = BatchComputer(
        pipeline=replace(
            pipeline,
            decode=AvroDeserializer(registry, "HouseholdSubmission").decode_with_id,
            context=context,
        ),
        encode_valid=plain._encode_valid,
        encode_rejected=plain._encode_rejected,
        nik_key=KEY,
        regions=regions,
        nik_index=index,
    )
    return computer, index


def household(n: int) -> str:
    return f"35.09.02.2001-0003-{n:04d}-01"


def messages(*numbers: int, first_offset: int = 0) -> list[RawSubmission]:
    """Households ``n`` whose members keep the builders' NIKs except the head's (shared)."""
    serializer = AvroSerializer(
        LocalRegistry(), subject_for("HouseholdSubmission"), "HouseholdSubmission"
    )
    out = []
    for offset, n in enumerate(numbers, start=first_offset):
        record = b.kemendagri_submission(household_id=household(n))
        for member in record["members"][1:]:
            if member.get("nik"):
                member["nik"] = member["nik"][:12] + f"{n:04d}"
        value = serializer.encode(record)
        out.append(RawSubmission(TOPIC, 0, offset, household(n).encode(), value, datetime.now(UTC)))
    return out


def warned(
    computer: BatchComputer, batch: list[RawSubmission], known: Any = None
) -> dict[str, str]:
    """Household → the NIK_DUPLICATE_HOUSEHOLD message of its head, for accepted households."""
    states: dict[str, list[Any] | None] = {m.key.decode(): None for m in batch if m.key}
    computed = computer.compute(batch, states, b.RULES_NOW, known)
    decoder = AvroDeserializer(LocalRegistry(), "ValidatedSubmission")
    out = {}
    for rows in computed.households:
        warnings = decoder.decode(rows.valid_value)["warnings"]
        for warning in warnings:
            if warning["code"] == "NIK_DUPLICATE_HOUSEHOLD":
                out[rows.household_id] = warning["message_en"]
    assert len(computed.households) == len(batch), computed.rejection_facts
    return out


def test_the_key_is_the_first_8_bytes_of_the_hash() -> None:
    hashed = nik_hash(SHARED, KEY)
    assert hashed is not None
    assert nik_key(SHARED, KEY) == int.from_bytes(bytes.fromhex(hashed)[:8], "big")
    assert nik_key(None, KEY) is None and nik_key("  ", KEY) is None


def test_nik_keys_are_those_of_the_well_formed_niks_of_the_batch(regions: RegionMaster) -> None:
    computer, _index = worker_computer(regions)
    batch = messages(1, 2)
    keys = computer.nik_keys(batch)
    record = b.kemendagri_submission()
    niks = {SHARED} | {
        m["nik"][:12] + f"{n:04d}" for n in (1, 2) for m in record["members"][1:] if m.get("nik")
    }
    assert keys == sorted(nik_key(nik, KEY) for nik in niks)  # type: ignore[type-var]
    undecodable = RawSubmission(
        TOPIC, 0, 9, b"x", b"\x00\x00\x00\x00\x01garbage", datetime.now(UTC)
    )
    assert computer.nik_keys([*batch, undecodable]) == keys


def test_each_submission_is_decoded_once(regions: RegionMaster) -> None:
    computer, _index = worker_computer(regions)
    calls: list[bytes] = []
    cache = computer._decoded
    decode = cache._decode

    def counting(value: bytes) -> Any:
        calls.append(value)
        return decode(value)

    cache._decode = counting
    batch = messages(1, 2, 3)
    computer.nik_keys(batch)
    warned(computer, batch)
    assert len(calls) == 3


def test_in_a_batch_the_later_household_is_flagged_as_across_batches(
    regions: RegionMaster,
) -> None:
    """Verdicts do not depend on where batches are cut: the first holder stays clean."""
    computer, _index = worker_computer(regions)
    flagged = warned(computer, messages(1, 2, 3))
    assert set(flagged) == {household(2), household(3)}
    assert flagged[household(3)].endswith(f"({household(1)}, {household(2)}).")
    split, _ = worker_computer(regions)
    assert warned(split, messages(1)) == {}
    assert set(warned(split, messages(2, 3, first_offset=1))) == {household(2), household(3)}


def test_a_batch_computed_again_does_not_see_itself(regions: RegionMaster) -> None:
    """States missing: the first run is thrown away, its acceptances with it."""
    computer, index = worker_computer(regions)
    batch = messages(1, 2)
    assert computer.compute(batch, {}, b.RULES_NOW).missing
    assert len(index) == 0
    assert set(warned(computer, batch)) == {household(2)}


def test_a_later_batch_of_the_same_process_sees_the_earlier_one(regions: RegionMaster) -> None:
    computer, index = worker_computer(regions)
    assert warned(computer, messages(1)) == {}
    assert len(index) > 0
    assert set(warned(computer, messages(2, first_offset=1))) == {household(2)}


def test_clickhouse_answer_flags_a_nik_this_process_never_saw(regions: RegionMaster) -> None:
    """A restart or another partition: memory is empty, ClickHouse knows household 7."""
    computer, _index = worker_computer(regions)
    known = {nik_key(SHARED, KEY): [household(7)], 12345: [household(8)]}
    flagged = warned(computer, messages(1), known)
    assert flagged == {
        household(1): f"NIK of member 1 is already recorded in another family ({household(7)})."
    }


def test_its_own_household_in_clickhouse_is_no_duplicate(regions: RegionMaster) -> None:
    """A replay after a crash: the rows went in before the offsets were committed."""
    computer, _index = worker_computer(regions)
    assert warned(computer, messages(1), {nik_key(SHARED, KEY): [household(1)]}) == {}


def test_without_an_answer_memory_alone_decides(regions: RegionMaster) -> None:
    computer, _index = worker_computer(regions)
    assert warned(computer, messages(1), None) == {}


def test_recent_niks_are_bounded_oldest_first() -> None:
    index = WorkerNikIndex(KEY, max_recent=2)
    index.add("3509021205800001", "a")
    index.add("3509021205800002", "b")
    index.add("3509021205800001", "c")  # refreshed: now the newest
    index.add("3509021205800003", "d")
    assert len(index) == 2
    assert index.households_of("3509021205800002") == set()
    assert index.households_of("3509021205800001") == {"a", "c"}


def test_the_batch_and_the_answer_are_forgotten_after_the_batch() -> None:
    index = WorkerNikIndex(KEY)
    index.begin_batch({nik_key(SHARED, KEY) or 0: ["b"]})
    index.accept(SHARED, "a")
    assert index.households_of(SHARED) == {"a", "b"}
    index.end_batch()  # not committed: a batch computed again
    assert index.households_of(SHARED) == set()
    index.begin_batch(None)
    index.accept(SHARED, "a")
    index.commit_batch()
    index.end_batch()
    assert index.households_of(SHARED) == {"a"}


# --- the lookup's time box (a stub client: the real query runs in the integration test) ----


class _Result:
    def __init__(self, rows: list[tuple[int, list[str]]]) -> None:
        self.result_rows = rows


class StubClient:
    """Answers after ``release`` is set (or at once), or raises."""

    def __init__(self, *, wait: bool = False, error: Exception | None = None) -> None:
        self.release = threading.Event()
        if not wait:
            self.release.set()
        self.error = error
        self.asked: list[tuple[str, dict[str, Any], dict[str, Any]]] = []

    def query(self, sql: str, parameters: dict[str, Any], settings: dict[str, Any]) -> _Result:
        self.asked.append((sql, parameters, settings))
        self.release.wait(10)
        if self.error:
            raise self.error
        return _Result([(key, ["h1", "h2"]) for key in parameters["keys"][:1]])

    def close(self) -> None:
        pass


class Outcomes:
    def __init__(self) -> None:
        self.seen: list[str] = []

    def on_nik_lookup(self, outcome: str, seconds: float) -> None:
        assert seconds >= 0
        self.seen.append(outcome)


def lookup(client: StubClient, outcomes: Outcomes, timeout_s: float = 0.2) -> NikLookup:
    return NikLookup(client, "regsosek", timeout_s=timeout_s, observer=outcomes)  # type: ignore[arg-type]


def test_an_answer_in_time_is_used() -> None:
    client, outcomes = StubClient(), Outcomes()
    assert asyncio.run(lookup(client, outcomes).known([5, 6])) == {5: ["h1", "h2"]}
    ((sql, parameters, settings),) = client.asked
    assert sql == lookup_sql("regsosek") and "{keys:Array(UInt64)}" in sql
    assert parameters == {"keys": [5, 6]} and settings == {"max_execution_time": 1}
    assert outcomes.seen == ["ok"]


def test_no_keys_ask_nothing() -> None:
    client, outcomes = StubClient(), Outcomes()
    assert asyncio.run(lookup(client, outcomes).known([])) == {}
    assert client.asked == [] and outcomes.seen == []


def test_a_slow_engine_never_holds_the_batch() -> None:
    """Late: None (memory only); the next batch does not queue behind the slow query."""
    client, outcomes = StubClient(wait=True), Outcomes()
    niks = lookup(client, outcomes, timeout_s=0.1)

    async def two_batches() -> tuple[Any, Any, float]:
        loop = asyncio.get_running_loop()
        started = loop.time()
        first = await niks.known([1])
        second = await niks.known([2])
        return first, second, loop.time() - started

    first, second, seconds = asyncio.run(two_batches())
    assert (first, second) == (None, None) and seconds < 1.0
    assert outcomes.seen == ["timeout", "busy"]
    client.release.set()
    niks.close()


def test_an_engine_error_degrades_to_memory() -> None:
    client, outcomes = StubClient(error=ConnectionError("refused")), Outcomes()
    assert asyncio.run(lookup(client, outcomes).known([1])) is None
    assert outcomes.seen == ["error"]


def test_far_past_the_bound_the_newest_niks_are_kept() -> None:
    index = WorkerNikIndex(KEY, max_recent=1_000)
    for n in range(50_000):
        index.add(f"{3509021205800000 + n}", f"h{n}")
    assert len(index) == 1_000
    assert index.households_of(f"{3509021205800000 + 48_999}") == set()
    assert index.households_of(f"{3509021205800000 + 49_000}") == {"h49000"}

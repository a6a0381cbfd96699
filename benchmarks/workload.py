"""Benchmark households: distinct, valid, Avro-encoded once, stamped with the send time.

Every household is the four-member Jember family of ``tests/builders.py``
moved to one of Jember's 248 villages (Kemendagri codes, so every level
resolves against the region master), with its own household id, submission
id and NIKs (district of issue + birth date + a serial that is unique per
district), and ages computed on the interview day. All of them pass the
rules; the benchmark checks that every one reaches ClickHouse.

Encoding costs about a quarter of a millisecond per household in fastavro
(the nullable records of the schema are validated branch by branch), so a
paced producer could not offer 5,000 households per second on two cores
while also encoding them. The records are therefore encoded once, with a
placeholder ``finished_at``, and :func:`stamped` writes the real send time
into those bytes when the record is produced: a ``timestamp-millis`` of this
decade is always a six-byte Avro long, so the value keeps its length.
"""

from __future__ import annotations

import datetime as dt
import random
import uuid
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from functools import cache
from typing import Any

from schemas.catalog import subject_for
from schemas.regions import DEFAULT_REGIONS_FILE, Level, load_regions
from schemas.registry import LocalRegistry
from schemas.serde import AvroSerializer
from tests import builders

#: Placeholder ``finished_at`` (2027-01-15), replaced by the send time; same Avro length.
PLACEHOLDER_MS = 1_799_999_999_999
JEMBER = "35.09"
CHUNK = 5_000


def avro_long(value: int) -> bytes:
    """Avro's zig-zag varint encoding of a long."""
    zigzag = (value << 1) ^ (value >> 63)
    out = bytearray()
    while zigzag & ~0x7F:
        out.append((zigzag & 0x7F) | 0x80)
        zigzag >>= 7
    out.append(zigzag)
    return bytes(out)


_PLACEHOLDER = avro_long(PLACEHOLDER_MS)


@dataclass(frozen=True, slots=True)
class EncodedHousehold:
    """One household's Kafka key and value; ``at`` is where its ``finished_at`` bytes start."""

    key: bytes
    value: bytes
    at: int


def stamped(household: EncodedHousehold, sent_ms: int) -> bytes:
    """The value with ``finished_at`` = ``sent_ms`` (milliseconds since the epoch, UTC)."""
    stamp = avro_long(sent_ms)
    if len(stamp) != len(_PLACEHOLDER):
        raise ValueError(f"{sent_ms} does not encode in {len(_PLACEHOLDER)} bytes")
    value = household.value
    return value[: household.at] + stamp + value[household.at + len(stamp) :]


@dataclass(frozen=True)
class Jember:
    """Districts and their villages, from the shipped region master."""

    districts: tuple[str, ...]
    villages: dict[str, tuple[str, ...]]

    @classmethod
    def load(cls) -> Jember:
        regions = load_regions(DEFAULT_REGIONS_FILE)
        districts = tuple(r.code for r in regions.under(JEMBER, Level.DISTRICT))
        villages = {d: tuple(v.code for v in regions.under(d, Level.VILLAGE)) for d in districts}
        return cls(tuple(d for d in districts if villages[d]), villages)


def household(n: int, started: dt.datetime, jember: Jember) -> dict[str, Any]:
    """Household number ``n``: unique ids and NIKs for n below about 300,000."""
    district = jember.districts[n % len(jember.districts)]
    serial = n // len(jember.districts) + 1
    villages = jember.villages[district]
    village = villages[serial % len(villages)]
    _, regency, district_part, village_part = village.split(".")
    sls = f"{serial % 12 + 1:04d}"
    interview_day = started.date()
    members = builders.family_members()
    for member in members:
        birth = member["birth_date"]
        female = member["sex"] == "FEMALE"
        day = birth.day + 40 if female else birth.day
        nik_district = "35" + regency + district_part
        member["nik"] = f"{nik_district}{day:02d}{birth.month:02d}{birth.year % 100:02d}"
        member["nik"] += f"{serial % 10_000:04d}"
        member["age"] = builders.age_on(birth, interview_day)
    enumerator = f"{int(district_part):02d}{serial % 4 + 1:02d}"
    return builders.household_submission(
        household_id=f"{village}-{sls}-{serial:05d}-01",
        submission_id=str(uuid.UUID(int=random.Random(n).getrandbits(128))),
        location=builders.kemendagri_location(
            district_code=district_part,
            village_code=village_part,
            sls_code=sls,
            sls_name=f"RT {int(sls):03d} RW 001",
            building_number=serial % 900 + 1,
        ),
        enumeration=builders.enumeration(
            enumerator_id=enumerator,
            supervisor_id=enumerator[:3],
            started_at=started,
            finished_at=dt.datetime.fromtimestamp(PLACEHOLDER_MS / 1000, tz=dt.UTC),
            device_id=f"tab-3509-{enumerator}",
        ),
        members=members,
    )


@cache
def _serializer() -> AvroSerializer:
    return AvroSerializer(
        LocalRegistry(), subject_for("HouseholdSubmission"), "HouseholdSubmission"
    )


@cache
def _jember() -> Jember:
    return Jember.load()


def _encode_range(start: int, stop: int, started_ms: int) -> list[EncodedHousehold]:
    """Households [start, stop) encoded (runs in a pool process)."""
    serializer = _serializer()
    jember = _jember()
    started = dt.datetime.fromtimestamp(started_ms / 1000, tz=dt.UTC)
    out = []
    for n in range(start, stop):
        record = household(n, started, jember)
        value = serializer.encode(record, validate=False)
        at = value.find(_PLACEHOLDER)
        if at < 0 or value.find(_PLACEHOLDER, at + 1) >= 0:
            raise ValueError(f"household {n}: finished_at is not uniquely locatable")
        out.append(EncodedHousehold(record["household_id"].encode(), value, at))
    return out


def _ranges(count: int) -> Iterator[tuple[int, int]]:
    for start in range(0, count, CHUNK):
        yield start, min(start + CHUNK, count)


def encode_households(
    count: int, started: dt.datetime, processes: int = 2
) -> list[EncodedHousehold]:
    """``count`` distinct households, interviews begun at ``started``, in ``processes``."""
    started_ms = int(started.timestamp() * 1000)
    ranges = list(_ranges(count))
    if processes <= 1 or len(ranges) == 1:
        return [h for start, stop in ranges for h in _encode_range(start, stop, started_ms)]
    with ProcessPoolExecutor(max_workers=processes) as pool:
        parts = pool.map(_encode_range, *zip(*ranges, strict=True), [started_ms] * len(ranges))
        return [h for part in parts for h in part]

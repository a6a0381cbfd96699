"""Deliberate mistakes, and the reason code each one must produce in the pipeline.

Every injection is a pure function of a clean record, so a unit test can run
the real rules over the result and check that its ERROR findings are
*exactly* the expected codes (no more, no fewer): the ground truth counts
rejections by these codes, and the end-to-end test compares them with the
rejections table.

========================  ==========================================  ==========================
injection                 what the app sends                          expected reason code
========================  ==========================================  ==========================
``NIK_FORMAT``            a member's NIK with its last digit lost     NIK_FORMAT
``REGION_UNKNOWN``        a village code the master does not have     REGION_UNKNOWN
``OUTSIDE_ASSIGNMENT``    an SLS the enumerator is not assigned       OUTSIDE_ASSIGNMENT
``AGE_RANGE``             a member's age keyed with an extra 1 (1xx)  AGE_RANGE
``OLD_SCHEMA``            schema v1, BPS codes                        none: accepted, a warning
corrupt ``BAD_MAGIC``     JSON text straight onto the topic           DECODE_BAD_MAGIC_BYTE
corrupt ``TRUNCATED``     three bytes                                 DECODE_TRUNCATED
corrupt ``BAD_BODY``      a valid header, a body that is not Avro     DECODE_AVRO_BODY_INVALID
========================  ==========================================  ==========================

``OLD_SCHEMA`` is accepted, flagged with the warning REGION_VILLAGE_UNVERIFIED.
An old app (schema v1) has no ``code_system`` field, so its records read as
BPS-coded: the province, regency and district carry the district's BPS code
from the master's bridge (Kencong 3509010 -> ``35``, ``09``, ``010``) and the
village a 3-digit BPS code (synthetic: the village's position in its
district). The shipped master cannot verify BPS villages, hence the warning.
"""

from __future__ import annotations

import json
import random
from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from schemas import wire
from schemas.regions import RegionMaster
from simulator.config import ErrorRates
from simulator.households import Visit
from simulator.population import DistrictPlan, SimFrame
from simulator.tables import chance

OLD_APP_VERSION = "1.8.2"
#: Fields schema v2 added, by the record part that holds them.
V2_FIELDS: Mapping[str, tuple[str, ...]] = {
    "location": ("code_system", "gps_accuracy_m"),
    "enumeration": ("device_id",),
    "assets": ("motor_boat", "smartphone"),
}


class Injection(StrEnum):
    """What is wrong with a household's message (``NONE``: nothing)."""

    NONE = "none"
    NIK_FORMAT = "nik_format"
    REGION_UNKNOWN = "region_unknown"
    OUTSIDE_ASSIGNMENT = "outside_assignment"
    AGE_RANGE = "age_range"
    OLD_SCHEMA = "old_schema"


class Corruption(StrEnum):
    """Bytes on the topic that no serializer of ours wrote."""

    BAD_MAGIC = "bad_magic"
    TRUNCATED = "truncated"
    BAD_BODY = "bad_body"


EXPECTED_ERRORS: Mapping[Injection, tuple[str, ...]] = {
    Injection.NONE: (),
    Injection.NIK_FORMAT: ("NIK_FORMAT",),
    Injection.REGION_UNKNOWN: ("REGION_UNKNOWN",),
    Injection.OUTSIDE_ASSIGNMENT: ("OUTSIDE_ASSIGNMENT",),
    Injection.AGE_RANGE: ("AGE_RANGE",),
    Injection.OLD_SCHEMA: (),
}
EXPECTED_WARNINGS: Mapping[Injection, tuple[str, ...]] = {
    Injection.OLD_SCHEMA: ("REGION_VILLAGE_UNVERIFIED",),
}
DECODE_CODES: Mapping[Corruption, str] = {
    Corruption.BAD_MAGIC: "DECODE_BAD_MAGIC_BYTE",
    Corruption.TRUNCATED: "DECODE_TRUNCATED",
    Corruption.BAD_BODY: "DECODE_AVRO_BODY_INVALID",
}
#: Avro bodies that cannot be read as a HouseholdSubmission: a string length
#: of -1, and a length whose continuation byte never comes.
BAD_BODIES = (b"\x01", b"\x80", b"\x01\x00\x00\x00")


class InjectionContext:
    """What the injections need to know of the world: the master and who covers which SLS."""

    def __init__(self, regions: RegionMaster, frame: SimFrame) -> None:
        self.regions = regions
        self.frame = frame
        self._owners = {
            (unit.village_code, unit.sls_code): e.enumerator_id
            for e in frame.enumerators
            for unit in e.units
        }
        self._districts = {district.code: district for district in frame.districts}

    def owner(self, village_code: str, sls_code: str) -> str | None:
        return self._owners.get((village_code, sls_code))

    def district(self, code: str) -> DistrictPlan:
        return self._districts[code]


def choose(rng: random.Random, rates: ErrorRates, has_bps_code: bool) -> Injection:
    """One household's injection, from the configured rates (at most one each)."""
    draw = rng.random()
    for kind, rate in (
        (Injection.NIK_FORMAT, rates.nik),
        (Injection.AGE_RANGE, rates.age),
        (Injection.OLD_SCHEMA, rates.old_schema if has_bps_code else 0.0),
    ):
        if draw < rate:
            return kind
        draw -= rate
    if draw < rates.area:
        half = chance(rng, 0.5)
        return Injection.REGION_UNKNOWN if half else Injection.OUTSIDE_ASSIGNMENT
    return Injection.NONE


def inject(
    kind: Injection, record: dict[str, Any], visit: Visit, ctx: InjectionContext, rng: random.Random
) -> dict[str, Any]:
    """A copy of ``record`` with the mistake; ``NONE`` returns the record itself."""
    if kind is Injection.NONE:
        return record
    if kind is Injection.NIK_FORMAT:
        return _with_member(record, rng, "nik", lambda member: member["nik"][:-1])
    if kind is Injection.AGE_RANGE:
        return _with_member(record, rng, "age", lambda member: member["age"] + 100)
    if kind is Injection.REGION_UNKNOWN:
        return _located(record, village_code=_unknown_village(ctx.regions, visit, rng))
    if kind is Injection.OUTSIDE_ASSIGNMENT:
        sls_code, sls_name = _foreign_sls(ctx, visit)
        return _located(record, sls_code=sls_code, sls_name=sls_name)
    return to_v1(record, ctx.district(visit.village.district_code), visit.village.bps_code)


def _with_member(
    record: dict[str, Any], rng: random.Random, field: str, change: Any
) -> dict[str, Any]:
    """The record with one member (who has ``field``) changed by ``change``."""
    members = list(record["members"])
    candidates = [i for i, m in enumerate(members) if m.get(field) is not None]
    index = candidates[int(rng.random() * len(candidates))]
    members[index] = {**members[index], field: change(members[index])}
    return {**record, "members": members}


def _located(record: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return {**record, "location": {**record["location"], **changes}}


def _unknown_village(regions: RegionMaster, visit: Visit, rng: random.Random) -> str:
    """A 4-digit village code the master does not know in the visit's district."""
    district = visit.village.district_code
    while True:
        code = f"29{int(rng.random() * 100):02d}"
        if regions.get(f"{district}.{code}") is None:
            return code


def _foreign_sls(ctx: InjectionContext, visit: Visit) -> tuple[str, str | None]:
    """An SLS of the same village that another enumerator (or nobody) covers."""
    mine = visit.enumerator.enumerator_id
    for unit in visit.village.units:
        if ctx.owner(unit.village_code, unit.sls_code) not in {mine, None}:
            return unit.sls_code, unit.sls_name
    return f"{len(visit.village.units) + 1:04d}", None


def to_v1(record: dict[str, Any], district: DistrictPlan, village_bps: str) -> dict[str, Any]:
    """The record as an app on schema v1 sends it: BPS codes, no v2 fields."""
    bps = district.bps_code
    if bps is None:
        raise ValueError(f"district {district.code} has no BPS code for an old app to use")
    old = {k: value for k, value in record.items() if k != "member_count"}
    for part, fields in V2_FIELDS.items():
        if old.get(part) is not None:
            old[part] = {k: value for k, value in old[part].items() if k not in fields}
    old["location"].update(
        province_code=bps[:2],
        regency_code=bps[2:4],
        district_code=bps[4:7],
        village_code=village_bps,
    )
    old["enumeration"]["app_version"] = OLD_APP_VERSION
    return old


def corrupt_payload(kind: Corruption, rng: random.Random, schema_id: int, key: str) -> bytes:
    """The bytes of one corrupt message (see the table in the module docstring)."""
    if kind is Corruption.BAD_MAGIC:
        return json.dumps({"household_id": key, "note": "sent as JSON"}).encode("utf-8")
    if kind is Corruption.TRUNCATED:
        return b"\x00\x00\x00"
    return wire.frame(schema_id, BAD_BODIES[int(rng.random() * len(BAD_BODIES))])


def choose_corruption(rng: random.Random) -> Corruption:
    """Which corruption a corrupt message gets (equally likely)."""
    kinds = tuple(Corruption)
    return kinds[int(rng.random() * len(kinds))]

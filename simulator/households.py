"""Whole K-form records: one family's interview as the field app would send it.

A :class:`Visit` is what the clock planned (which family, by whom, when,
with what result); :class:`HouseholdFactory` turns it into a
``HouseholdSubmission`` of the current schema, coded in Kemendagri codes
(``KEMENDAGRI``: province 2, regency 2, district 2, village 4 digits, so
every level resolves against the shipped master). Pure given the random
stream it is handed; the only state is the NIK allocator, so that no NIK is
issued twice.

Results other than COMPLETE follow the form: INCOMPLETE keeps the members
and the dwelling but not Blok V and item 501; NO_RESPONDENT, REFUSED and
MOVED_OR_BUILDING_GONE have no present member (a family that moved may still
list its members as moved) and no Blok III-V. Every result other than
COMPLETE carries notes (Blok VI).
"""

from __future__ import annotations

import datetime as dt
import random
import zlib
from dataclasses import dataclass
from typing import Any

from processors.rules.base import PRESENT, local_offset
from simulator import dwelling, geo, people
from simulator import vocabulary as v
from simulator.population import EnumeratorPlan, SimFrame, SlsUnit, VillagePlan
from simulator.tables import chance

APP_VERSION = "2.3.1"
#: Families sharing one building (item 109) besides the first: how often another follows.
SHARED_BUILDING = 0.12
NO_GPS_FIX = 0.02


@dataclass(frozen=True, slots=True)
class Address:
    """Where a family lives inside its SLS: building (item 109) and family (item 110) numbers."""

    unit: SlsUnit
    building: int
    family: int

    @property
    def household_id(self) -> str:
        """Stable id: village code (no dots), SLS, building, family: ``3509022001-0003-012-01``."""
        village = self.unit.village_code.replace(".", "")
        return f"{village}-{self.unit.sls_code}-{self.building:03d}-{self.family:02d}"


@dataclass(frozen=True, slots=True)
class Visit:
    """One planned interview: the family, the enumerator, the times (UTC) and the result."""

    address: Address
    village: VillagePlan
    enumerator: EnumeratorPlan
    started_at: dt.datetime
    finished_at: dt.datetime
    result: str

    @property
    def household_id(self) -> str:
        return self.address.household_id


def addresses(unit: SlsUnit, rng: random.Random) -> list[Address]:
    """The families of an SLS in walking order; some buildings hold two or three."""
    found: list[Address] = []
    building, family = 0, 0
    for _ in range(unit.households):
        if found and family < 3 and chance(rng, SHARED_BUILDING):
            family += 1
        else:
            building, family = building + 1, 1
        found.append(Address(unit, building, family))
    return found


#: Version (4) and variant (RFC 4122) bits of a UUID, as ``uuid.UUID(..., version=4)`` sets them.
_UUID_CLEAR = ~(0xF000 << 64) & ~(0xC000 << 48)
_UUID_V4 = (0x4000 << 64) | (0x8000 << 48)


def new_id(rng: random.Random) -> str:
    """A version-4 UUID from the seeded stream, so the same seed gives the same ids."""
    bits = rng.getrandbits(128) & _UUID_CLEAR | _UUID_V4
    text = f"{bits:032x}"
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def present_count(record: dict[str, Any]) -> int:
    """Members living in the family (item 404 = 1 or 5): what item 112 counts."""
    return sum(1 for member in record.get("members") or () if member["presence"] in PRESENT)


class HouseholdFactory:
    """Builds the records of one frame; holds the NIK allocator shared by all its families."""

    def __init__(self, frame: SimFrame) -> None:
        self.frame = frame
        self.niks = people.NikAllocator()
        self._district6 = {d.code: d.code.replace(".", "") for d in frame.districts}
        self._all_districts = tuple(self._district6.values())
        self._zone = local_offset(frame.province_code)
        self._supervisor = {e.enumerator_id: e.supervisor_id for e in frame.enumerators}

    def record(self, visit: Visit, rng: random.Random) -> dict[str, Any]:
        """The revision-1 submission of a visit."""
        today = visit.finished_at.astimezone(self._zone).date()
        district6 = self._district6[visit.village.district_code]
        complete = visit.result == "COMPLETE"
        interviewed = complete or visit.result == "INCOMPLETE"
        record: dict[str, Any] = {
            "submission_id": new_id(rng),
            "household_id": visit.household_id,
            "revision": 1,
            "location": self._location(visit, rng),
            "enumeration": self._enumeration(visit, rng),
            "housing": None,
            "member_count": None,
            "members": [],
            "assets": None,
            "social_assistance": None,
        }
        if interviewed:
            self._interviewed(record, rng, district6, today, complete=complete)
        elif visit.result == "MOVED_OR_BUILDING_GONE" and chance(rng, 0.5):
            record["members"] = self._moved_family(rng, district6, today)
        return record

    def _interviewed(
        self,
        record: dict[str, Any],
        rng: random.Random,
        district6: str,
        today: dt.date,
        *,
        complete: bool,
    ) -> None:
        wealth = rng.gauss(0.0, 1.0)
        poor = wealth + rng.gauss(0.0, 0.5) < -0.6
        pbi = poor or chance(rng, 0.15)
        insurance = 1 if pbi else v.INSURANCE.pick(rng)
        members = people.family(
            rng,
            self.niks,
            district6,
            self._all_districts,
            today,
            complete=complete,
            insurance=insurance,
        )
        record["members"] = members
        record["member_count"] = present_count(record)
        home = dwelling.housing(rng, wealth, record["member_count"])
        record["housing"] = home
        if complete:
            record["assets"] = dwelling.assets(rng, wealth, home)
            record["social_assistance"] = dwelling.social_assistance(rng, poor, pbi, home)

    def _moved_family(self, rng: random.Random, district6: str, today: dt.date) -> list[Any]:
        """The family card's members, all marked as moved: nobody present, NIKs kept."""
        members = []
        for number in range(1, rng.randint(1, 4) + 1):
            female = chance(rng, 0.5)
            birth = people.birth_date_for(rng, rng.randint(1, 60), today)
            nik = self.niks.issue(district6, birth, female)
            members.append(people.absent_member(rng, number, nik, female, "MOVED_DOMESTIC"))
        return members

    def _location(self, visit: Visit, rng: random.Random) -> dict[str, Any]:
        province, regency, district, village = visit.village.code.split(".")
        address = visit.address
        streets = v.STREETS.values
        street = streets[zlib.crc32(address.household_id[:-7].encode()) % len(streets)]
        point: tuple[float | None, float | None] = (None, None)
        accuracy = None
        if visit.village.centre is not None and not chance(rng, NO_GPS_FIX):
            point = geo.house_point(visit.village.centre, rng)
            accuracy = round(rng.uniform(3.0, 15.0), 1)
        return {
            "code_system": "KEMENDAGRI",
            "province_code": province,
            "regency_code": regency,
            "district_code": district,
            "village_code": village,
            "sls_code": address.unit.sls_code,
            "sub_sls_code": "00",
            "sls_name": address.unit.sls_name,
            "building_number": address.building,
            "family_number": address.family,
            "address": f"{street} No. {address.building}",
            "latitude": point[0],
            "longitude": point[1],
            "gps_accuracy_m": accuracy,
        }

    def _enumeration(self, visit: Visit, rng: random.Random) -> dict[str, Any]:
        enumerator = visit.enumerator.enumerator_id
        notes = None if visit.result == "COMPLETE" else v.NOTES[visit.result].pick(rng)
        return {
            "enumerator_id": enumerator,
            "supervisor_id": self._supervisor[enumerator],
            "started_at": visit.started_at,
            "finished_at": visit.finished_at,
            "result": visit.result,
            "notes": notes,
            "app_version": APP_VERSION,
            "device_id": f"tab-{self.frame.regency_code.replace('.', '')}-{enumerator}",
        }


def revise(record: dict[str, Any], rng: random.Random, zone: dt.tzinfo) -> dict[str, Any]:
    """Revision 2 of a complete household, as a supervisor's check corrects it.

    Half the corrections add a baby the first visit missed (item 404 = 5, a
    new member, so the household gains a member); the others fix the floor
    area. Either way the revision passes every rule the first one passed.
    """
    revised = {**record, "submission_id": new_id(rng), "revision": record["revision"] + 1}
    if chance(rng, 0.5):
        today = record["enumeration"]["finished_at"].astimezone(zone).date()
        members = list(record["members"])
        parents = [m["age"] for m in members if m["relationship"] in {"HEAD", "SPOUSE"}]
        relationship = "CHILD" if min(parents) <= 45 else "GRANDCHILD"
        number = max(m["member_number"] for m in members) + 1
        members.append(people.newborn(rng, number, today, relationship))
        revised["members"] = members
        revised["member_count"] = present_count(revised)
    else:
        home = dict(record["housing"])
        home["floor_area_m2"] = max(9, home["floor_area_m2"] + rng.choice((-12, -6, 6, 12)))
        revised["housing"] = home
    return revised

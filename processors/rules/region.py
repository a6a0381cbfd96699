"""Blok I and II against the master data: region codes, assignments, GPS.

The region codes themselves are resolved by :mod:`processors.location`; the
three REGION_* rules report its problems. Assignment rules need the
enumeration frame and switch themselves off while the frame is empty (before
an operation has loaded a roster), so the pipeline can run from day one.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

from processors import location as resolver
from processors.rules.base import (
    Check,
    Finding,
    Hit,
    Record,
    Rule,
    RuleContext,
    Severity,
    hit,
    make_rule,
)
from schemas.extents import INDONESIA
from schemas.regions import RegionMaster

EARTH_RADIUS_KM = 6371.0088
#: Degrees within which a fix counts as (0, 0): about a metre.
NULL_ISLAND_DEGREES = 1e-5


#: Memo of resolved locations: five rules need the same resolution of each record.
_RESOLVED: dict[tuple[object, ...], tuple[RegionMaster, resolver.ResolvedLocation]] = {}
_RESOLVED_MAX = 8192


def resolved_location(record: Record, ctx: RuleContext) -> resolver.ResolvedLocation:
    """:func:`processors.location.resolve_location` of the record, memoised.

    A pure function of the five codes and the master, so the memo changes no
    result; it is keyed by the codes and checked against the master's identity
    (a refreshed master resolves afresh). Callers must not mutate the result.
    """
    location = record["location"]
    key = (
        location.get("code_system", "BPS"),
        location.get("province_code"),
        location.get("regency_code"),
        location.get("district_code"),
        location.get("village_code"),
    )
    entry = _RESOLVED.get(key)
    if entry is not None and entry[0] is ctx.regions:
        return entry[1]
    result = resolver.resolve_location(location, ctx.regions)
    if len(_RESOLVED) >= _RESOLVED_MAX:
        _RESOLVED.clear()
    _RESOLVED[key] = (ctx.regions, result)
    return result


def _problems(code: str) -> Check:
    """The check of one REGION_* rule: the resolver's problems with that code."""

    def check(record: Record, ctx: RuleContext) -> list[Finding]:
        problems = resolved_location(record, ctx).problems
        return [problem for problem in problems if problem.code == code]

    return check


REGION_UNKNOWN = Rule(
    code="REGION_UNKNOWN",
    severity=Severity.ERROR,
    message_id="Kode {level_id} '{code}' ({system}) tidak terdapat dalam master wilayah.",
    message_en="{level_en} code '{code}' ({system}) is not in the region master.",
    item="101-104",
    check=_problems("REGION_UNKNOWN"),
    rationale="A household that cannot be placed cannot be counted in any area's progress.",
)
REGION_NESTING = Rule(
    code="REGION_NESTING",
    severity=Severity.ERROR,
    message_id="Kode {level_id} '{code}' tidak berada di wilayah {parent_id} '{parent_code}'.",
    message_en="{level_en} '{code}' does not lie within {parent_en} '{parent_code}'.",
    item="101-104",
    check=_problems("REGION_NESTING"),
    rationale="Codes that contradict each other leave the true area unknown.",
)
REGION_VILLAGE_UNVERIFIED = Rule(
    code="REGION_VILLAGE_UNVERIFIED",
    severity=Severity.WARNING,
    message_id=(
        "Kode desa/kelurahan BPS '{code}' tidak dapat diperiksa: master wilayah hanya "
        "memuat kode BPS sampai tingkat kecamatan."
    ),
    message_en=(
        "BPS village code '{code}' cannot be checked: the region master carries BPS "
        "codes down to district only."
    ),
    item="104",
    check=_problems("REGION_VILLAGE_UNVERIFIED"),
    rationale="BPS codes are accepted down to district (DESIGN); the village is kept as sent.",
)


def _unknown_enumerator(record: Record, ctx: RuleContext) -> Iterator[Hit]:
    enumerator = record["enumeration"]["enumerator_id"]
    if not ctx.frame.empty and enumerator not in ctx.frame.enumerators:
        yield hit("enumeration.enumerator_id", enumerator=enumerator)


def _outside_assignment(record: Record, ctx: RuleContext) -> Iterator[Hit]:
    enumerator = record["enumeration"]["enumerator_id"]
    if ctx.frame.empty or enumerator not in ctx.frame.enumerators:
        return
    resolved = resolved_location(record, ctx)
    village, sls = resolved.village_code, record["location"]["sls_code"]
    if village is not None and not ctx.frame.is_assigned(enumerator, village, sls):
        yield hit("location.sls_code", sls=sls, village=village, enumerator=enumerator)


def _supervisor_mismatch(record: Record, ctx: RuleContext) -> Iterator[Hit]:
    enumeration = record["enumeration"]
    expected = ctx.frame.supervisor_of(enumeration["enumerator_id"])
    if expected is not None and enumeration["supervisor_id"] != expected:
        yield hit(
            "enumeration.supervisor_id", given=enumeration["supervisor_id"], expected=expected
        )


UNKNOWN_ENUMERATOR = make_rule(
    "UNKNOWN_ENUMERATOR",
    Severity.ERROR,
    "202",
    "Kode PPL '{enumerator}' tidak terdaftar dalam alokasi petugas.",
    "Enumerator (PPL) code '{enumerator}' is not in the enumerator roster.",
    detect=_unknown_enumerator,
    rationale=(
        "Work by an unknown officer cannot be attributed or paid; usually a test tablet or a typo."
    ),
)
OUTSIDE_ASSIGNMENT = make_rule(
    "OUTSIDE_ASSIGNMENT",
    Severity.ERROR,
    "104-105",
    "SLS {sls} di desa/kelurahan {village} bukan wilayah tugas PPL '{enumerator}'.",
    "SLS {sls} in village {village} is not among the assignments of enumerator '{enumerator}'.",
    detect=_outside_assignment,
    rationale="The CAPI app only offers assigned SLS, so this means a stale frame or a wrong code; "
    "update the frame and replay the rejection.",
)
SUPERVISOR_MISMATCH = make_rule(
    "SUPERVISOR_MISMATCH",
    Severity.WARNING,
    "204",
    "Kode PML '{given}' berbeda dengan PML '{expected}' dalam alokasi petugas.",
    "Supervisor (PML) code '{given}' differs from '{expected}' in the enumerator roster.",
    detect=_supervisor_mismatch,
    rationale=(
        "Supervisors stand in for each other; the roster's supervisor is used for enrichment."
    ),
)


def haversine_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance between two (latitude, longitude) points in kilometres."""
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(h))


def valid_point(location: Record) -> tuple[float, float] | None:
    """(latitude, longitude) when both are given and in range, else ``None``."""
    lat, lon = location.get("latitude"), location.get("longitude")
    if lat is None or lon is None or not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None
    return float(lat), float(lon)


def _gps_invalid(record: Record, ctx: RuleContext) -> Iterator[Hit]:
    location = record["location"]
    lat, lon = location.get("latitude"), location.get("longitude")
    if (lat is None and lon is None) or valid_point(location) is not None:
        return
    bad_lat = lat is None or not -90 <= lat <= 90
    yield hit(f"location.{'latitude' if bad_lat else 'longitude'}", lat=lat, lon=lon)


def _plausible_point(record: Record) -> tuple[float, float] | None:
    """A valid fix that is neither null island nor outside Indonesia: one finding per mistake."""
    point = valid_point(record["location"])
    if point is None or is_null_island(point) or not INDONESIA.contains(*point):
        return None
    return point


def is_null_island(point: tuple[float, float]) -> bool:
    """(0, 0) to within about a metre: what a GPS library reports before it has a fix."""
    return abs(point[0]) < NULL_ISLAND_DEGREES and abs(point[1]) < NULL_ISLAND_DEGREES


def _gps_null_island(record: Record, ctx: RuleContext) -> Iterator[Hit]:
    point = valid_point(record["location"])
    if point is not None and is_null_island(point):
        yield hit("location.latitude", lat=point[0], lon=point[1])


def _gps_outside_indonesia(record: Record, ctx: RuleContext) -> Iterator[Hit]:
    point = valid_point(record["location"])
    if point is None or is_null_island(point) or INDONESIA.contains(*point):
        return
    yield hit(
        "location.latitude",
        lat=point[0],
        lon=point[1],
        distance=f"{INDONESIA.distance_km(*point):.0f}",
    )


def _gps_outside_regency(record: Record, ctx: RuleContext) -> Iterator[Hit]:
    if not ctx.regency_extents and not ctx.regency_centroids:
        return
    point = _plausible_point(record)
    if point is None:
        return
    regency = resolved_location(record, ctx).regency
    if regency is None:
        return
    extent = ctx.regency_extents.get(regency.code)
    if extent is not None:
        if not extent.contains(*point):
            yield _outside(point, regency.name, extent.distance_km(*point), "kotak", "box")
        return
    centre = ctx.regency_centroids.get(regency.code)
    if centre is None:
        return
    beyond = haversine_km(point, centre) - ctx.max_gps_distance_km
    if beyond > 0:
        limit = f"{ctx.max_gps_distance_km:g} km"
        yield _outside(point, regency.name, beyond, f"lingkaran {limit}", f"{limit} circle")


def _outside(
    point: tuple[float, float], regency: str, km: float, area_id: str, area_en: str
) -> Hit:
    return hit(
        "location.latitude",
        lat=f"{point[0]:.5f}",
        lon=f"{point[1]:.5f}",
        distance=f"{km:.0f}" if km >= 1 else "<1",
        regency=regency,
        area_id=area_id,
        area_en=area_en,
    )


GPS_INVALID = make_rule(
    "GPS_INVALID",
    Severity.ERROR,
    "GPS",
    "Koordinat GPS tidak valid (lintang {lat}, bujur {lon}): lintang harus -90..90, "
    "bujur -180..180, dan keduanya diisi atau keduanya kosong.",
    "Invalid GPS coordinates (latitude {lat}, longitude {lon}): latitude must be within "
    "-90..90, longitude within -180..180, and both given or both empty.",
    detect=_gps_invalid,
    rationale=(
        "Impossible coordinates mean a broken app or device; no fix at all (both empty) is allowed."
    ),
)
GPS_NULL_ISLAND = make_rule(
    "GPS_NULL_ISLAND",
    Severity.WARNING,
    "GPS",
    "Koordinat GPS (lintang {lat}, bujur {lon}) adalah titik 0,0: aplikasi belum mendapat "
    "sinyal GPS. Titik ini diperlakukan sebagai tidak ada.",
    "GPS point (latitude {lat}, longitude {lon}) is 0,0 (null island): the app had no fix. "
    "Treat the point as missing.",
    detect=_gps_null_island,
    rationale=(
        "(0, 0) lies in the Gulf of Guinea: a device or app reporting its empty default. It "
        "means no fix, which is allowed (both coordinates empty), so the household is kept; the "
        "flag tells maps and analysts to ignore the point and the supervisor that the tablet's "
        "GPS is not working."
    ),
)
GPS_OUTSIDE_INDONESIA = make_rule(
    "GPS_OUTSIDE_INDONESIA",
    Severity.WARNING,
    "GPS",
    "Titik GPS (lintang {lat}, bujur {lon}) berada {distance} km di luar wilayah Indonesia; "
    "periksa tanda lintang (selatan = negatif) dan urutan lintang/bujur.",
    "GPS point (latitude {lat}, longitude {lon}) lies {distance} km outside Indonesia; check "
    "the latitude's sign (south is negative) and the latitude/longitude order.",
    detect=_gps_outside_indonesia,
    rationale=(
        "Indonesia spans about 6°N-11°S and 95°E-141°E (padded half a degree). A point beyond is "
        "a sign dropped, latitude and longitude swapped, or a spoofed location, never the "
        "household's place; the coordinate is not on the paper form and the interview itself "
        "stays valid, so a warning, as BPS treats GPS as a check item for the supervisor."
    ),
)
GPS_OUTSIDE_REGENCY = make_rule(
    "GPS_OUTSIDE_REGENCY",
    Severity.WARNING,
    "GPS",
    "Titik GPS (lintang {lat}, bujur {lon}) berada {distance} km di luar {area_id} wilayah "
    "{regency}.",
    "GPS point (latitude {lat}, longitude {lon}) lies {distance} km outside the {area_en} of "
    "{regency}.",
    detect=_gps_outside_regency,
    rationale=(
        "The box is the regency's village points (geografis, MIT; schemas/data/README.md) "
        "padded 15 km. Fixes drift indoors and a household near the border may be fixed across "
        "it, so a supervisor checks the point on the map rather than the record being rejected."
    ),
)

RULES: tuple[Rule, ...] = (
    REGION_UNKNOWN,
    REGION_NESTING,
    REGION_VILLAGE_UNVERIFIED,
    UNKNOWN_ENUMERATOR,
    OUTSIDE_ASSIGNMENT,
    SUPERVISOR_MISMATCH,
    GPS_INVALID,
    GPS_NULL_ISLAND,
    GPS_OUTSIDE_INDONESIA,
    GPS_OUTSIDE_REGENCY,
)

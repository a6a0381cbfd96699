"""Synthetic coordinates: where a district, a village and a house are, roughly.

The region master has no coordinates, so the simulator makes them up, but
deterministically and plausibly: a district's centre lies within 22 km of the
regency's centre, a village's within 4 km of its district's, and a house
scatters around its village's centre with a standard deviation of 400 m. Each
offset comes from a hash of the area's code, so the same code always lands
on the same spot, whatever the seed. Everything stays well inside the 50 km
the GPS_OUTSIDE_REGENCY rule tolerates.

These are **not** real locations. Only regencies with a known centre get GPS
fixes (Jember: -8.17, 113.70, the builders' and the rules' reference point);
elsewhere the simulated tablets report no fix (both coordinates null), which
the rules allow.
"""

from __future__ import annotations

import hashlib
import math
import random

#: Approximate centres of regencies the simulator can place houses in.
KNOWN_CENTRES: dict[str, tuple[float, float]] = {"35.09": (-8.17, 113.70)}
DISTRICT_RADIUS_KM = 22.0
VILLAGE_RADIUS_KM = 4.0
HOUSE_SPREAD_KM = 0.4
KM_PER_DEGREE_LAT = 110.574
KM_PER_DEGREE_LON_EQUATOR = 111.320

Point = tuple[float, float]


def _unit_pair(code: str) -> tuple[float, float]:
    """Two numbers in [0, 1) from a code, the same on every machine and run."""
    digest = hashlib.blake2b(code.encode("utf-8"), digest_size=16).digest()
    first = int.from_bytes(digest[:8], "big") / 2**64
    second = int.from_bytes(digest[8:], "big") / 2**64
    return first, second


def shift(point: Point, north_km: float, east_km: float) -> Point:
    """``point`` moved by kilometres (flat-earth approximation, fine at this scale)."""
    lat, lon = point
    km_per_lon = KM_PER_DEGREE_LON_EQUATOR * math.cos(math.radians(lat))
    return lat + north_km / KM_PER_DEGREE_LAT, lon + east_km / km_per_lon


def offset_within(centre: Point, code: str, radius_km: float) -> Point:
    """A point uniformly inside a disc of ``radius_km`` around ``centre``, chosen by ``code``."""
    u, v = _unit_pair(code)
    distance = radius_km * math.sqrt(u)
    angle = 2 * math.pi * v
    return shift(centre, distance * math.cos(angle), distance * math.sin(angle))


def district_centre(regency_centre: Point, district_code: str) -> Point:
    """Synthetic centre of a district."""
    return offset_within(regency_centre, district_code, DISTRICT_RADIUS_KM)


def village_centre(district_point: Point, village_code: str) -> Point:
    """Synthetic centre of a village."""
    return offset_within(district_point, village_code, VILLAGE_RADIUS_KM)


def house_point(village_point: Point, rng: random.Random) -> Point:
    """A house near its village's centre, rounded to what a tablet reports (~1 m)."""
    lat, lon = shift(
        village_point, rng.gauss(0.0, HOUSE_SPREAD_KM), rng.gauss(0.0, HOUSE_SPREAD_KM)
    )
    return round(lat, 6), round(lon, 6)

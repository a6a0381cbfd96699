"""Regency extents: where a GPS fix of a household in each regency may plausibly lie.

The region master has no coordinates, so the GPS rule learns each regency's
extent from this file: a bounding box (south, west, north, east in decimal
degrees, WGS84) of the regency's village points, widened by a pad. It is
derived, not hand-made: ``regsosek master build-extents`` computes it from
the village coordinates of the npm package ``geografis`` (MIT; see
``schemas/data/README.md``) with :func:`regency_extents`.

Why a padded box and not the village polygons: the package has polygons for
few villages, a box test costs four comparisons per record (the rules run on
the worker's hot path), and the GPS rule only warns. Why padded: a village
point is the village's centre or office, and its land reaches several
kilometres beyond it (tens in Kalimantan and Papua), so a house at the
regency's edge lies outside the box of its village points.

File format (CSV, UTF-8), one row per regency, codes as in the region master::

    regency_code,south,west,north,east,villages
    35.09,-8.64237,113.19675,-7.88692,114.09723,248
"""

from __future__ import annotations

import csv
import io
import math
import statistics
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

#: The extents shipped with the platform (derived from geografis; MIT).
DEFAULT_EXTENTS_FILE = Path(__file__).resolve().parent / "data" / "regency_extents.csv"
COLUMNS = ("regency_code", "south", "west", "north", "east", "villages")
#: Kilometres added on every side of a regency's box of village points (see the docstring).
PAD_KM = 15.0
#: A village point farther than this from its regency's median point is a geocoding error
#: (one regency's points include some 2,300 km away); real outlying islands lie within ~400 km.
OUTLIER_KM = 600.0
KM_PER_DEGREE_LAT = 110.574
KM_PER_DEGREE_LON_EQUATOR = 111.320


@dataclass(frozen=True, slots=True)
class Extent:
    """A latitude/longitude box; regencies never straddle the antimeridian."""

    south: float
    west: float
    north: float
    east: float

    def contains(self, lat: float, lon: float) -> bool:
        return self.south <= lat <= self.north and self.west <= lon <= self.east

    def distance_km(self, lat: float, lon: float) -> float:
        """How far a point lies outside the box (0 inside), flat-earth: fine for a message."""
        north_km = max(self.south - lat, 0.0, lat - self.north) * KM_PER_DEGREE_LAT
        per_lon = KM_PER_DEGREE_LON_EQUATOR * math.cos(math.radians(lat))
        east_km = max(self.west - lon, 0.0, lon - self.east) * per_lon
        return math.hypot(north_km, east_km)

    def padded(self, km: float) -> Extent:
        """The box widened by ``km`` on every side (longitude at the box's widest latitude)."""
        dlat = km / KM_PER_DEGREE_LAT
        widest = min(abs(self.south), abs(self.north)) if self.south * self.north > 0 else 0.0
        dlon = km / (KM_PER_DEGREE_LON_EQUATOR * math.cos(math.radians(widest)))
        return Extent(self.south - dlat, self.west - dlon, self.north + dlat, self.east + dlon)


#: Indonesia: about 6°05'N (Weh island) to 11°00'S (Ndana/Rote), 95°E (Aceh) to 141°01'E
#: (the Papua New Guinea border), widened by half a degree for territorial waters and drift.
INDONESIA = Extent(south=-11.5, west=94.5, north=6.6, east=141.5)


class ExtentFileError(ValueError):
    """An extents file that does not follow the documented format."""


def _km(a: tuple[float, float], b: tuple[float, float]) -> float:
    north = (a[0] - b[0]) * KM_PER_DEGREE_LAT
    east = (a[1] - b[1]) * KM_PER_DEGREE_LON_EQUATOR * math.cos(math.radians(a[0]))
    return math.hypot(north, east)


def regency_extents(
    villages: Iterable[tuple[str, float, float]],
    *,
    pad_km: float = PAD_KM,
    outlier_km: float = OUTLIER_KM,
) -> dict[str, tuple[Extent, int]]:
    """(padded extent, villages used) per regency from (village code, latitude, longitude).

    The regency of ``35.09.02.2001`` is ``35.09``. Points outside Indonesia
    and gross geocoding errors (farther than ``outlier_km`` from the
    regency's median point) are left out.
    """
    points: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for code, lat, lon in villages:
        if INDONESIA.contains(lat, lon):
            points[".".join(code.split(".")[:2])].append((lat, lon))
    extents: dict[str, tuple[Extent, int]] = {}
    for regency, found in points.items():
        median = (statistics.median(p[0] for p in found), statistics.median(p[1] for p in found))
        kept = [p for p in found if _km(p, median) <= outlier_km]
        box = Extent(
            south=min(p[0] for p in kept),
            west=min(p[1] for p in kept),
            north=max(p[0] for p in kept),
            east=max(p[1] for p in kept),
        )
        extents[regency] = (box.padded(pad_km), len(kept))
    return extents


def write_extents(extents: Mapping[str, tuple[Extent, int]], path: Path) -> int:
    """Write the extents file (sorted by code, 5 decimals ~ 1 m); returns the rows written."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    for code in sorted(extents):
        box, villages = extents[code]
        corners = (box.south, box.west, box.north, box.east)
        writer.writerow([code, *(f"{value:.5f}" for value in corners), villages])
    path.write_text(buffer.getvalue(), encoding="utf-8")
    return len(extents)


def parse_extents(lines: Iterable[str]) -> Iterator[tuple[str, Extent]]:
    """(regency code, extent) of each row; raises ExtentFileError on a malformed file."""
    reader = csv.DictReader(lines)
    if tuple(reader.fieldnames or ()) != COLUMNS:
        raise ExtentFileError(f"expected columns {','.join(COLUMNS)}, got {reader.fieldnames}")
    for row in reader:
        try:
            box = Extent(
                float(row["south"]), float(row["west"]), float(row["north"]), float(row["east"])
            )
        except (TypeError, ValueError) as exc:
            raise ExtentFileError(f"line {reader.line_num}: {exc}") from exc
        if not (box.south <= box.north and box.west <= box.east):
            raise ExtentFileError(f"line {reader.line_num}: south/west above north/east")
        yield row["regency_code"], box


def load_extents(path: Path = DEFAULT_EXTENTS_FILE) -> dict[str, Extent]:
    """Regency code → extent, from an extents file."""
    with path.open(encoding="utf-8", newline="") as handle:
        return dict(parse_extents(handle))

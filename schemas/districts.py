"""District centroids: where the console's map puts each kecamatan of a regency.

No openly licensed source of kecamatan polygons is reachable from a package
registry (see ``docs/map-data.md``), so the map draws each district around a
point: the mean of its villages' points. ``regsosek master build-districts``
derives this file from the village coordinates of the npm package
``geografis`` (MIT; see ``schemas/data/README.md``) with
:func:`district_centroids`.

Why a mean of village points: a village point is the village's centre or
office, so the mean lies among the district's settlements, which is where a
marker or a Voronoi seed belongs. Points outside their regency's padded
extent (``schemas/extents.py``) are geocoding errors and left out, so a
centroid never lands in another regency because of one bad village.

File format (CSV, UTF-8), one row per district, codes as in the region master::

    district_code,lat,lon,villages
    35.09.01,-8.2589,113.4310,10
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from schemas.extents import Extent

#: The centroids shipped with the platform (derived from geografis; MIT).
DEFAULT_DISTRICTS_FILE = Path(__file__).resolve().parent / "data" / "district_centroids.csv"
COLUMNS = ("district_code", "lat", "lon", "villages")


@dataclass(frozen=True, slots=True)
class Centroid:
    """A district's mean village point (WGS84) and how many village points it averages."""

    lat: float
    lon: float
    villages: int


class DistrictFileError(ValueError):
    """A district centroids file that does not follow the documented format."""


def district_centroids(
    villages: Iterable[tuple[str, float, float]],
    extents: Mapping[str, Extent],
) -> dict[str, Centroid]:
    """Centroid per district from (village code, latitude, longitude).

    The district of ``35.09.02.2001`` is ``35.09.02`` and its regency
    ``35.09``. A point outside its regency's extent, or whose regency has no
    extent, is left out; a district with no point left has no centroid.
    """
    points: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for code, lat, lon in villages:
        parts = code.split(".")
        extent = extents.get(".".join(parts[:2]))
        if extent is not None and extent.contains(lat, lon):
            points[".".join(parts[:3])].append((lat, lon))
    return {
        district: Centroid(
            lat=sum(p[0] for p in found) / len(found),
            lon=sum(p[1] for p in found) / len(found),
            villages=len(found),
        )
        for district, found in points.items()
    }


def write_districts(centroids: Mapping[str, Centroid], path: Path) -> int:
    """Write the file (sorted by code, 4 decimals ~ 11 m: ample for a map marker)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    for code in sorted(centroids):
        point = centroids[code]
        writer.writerow([code, f"{point.lat:.4f}", f"{point.lon:.4f}", point.villages])
    path.write_text(buffer.getvalue(), encoding="utf-8")
    return len(centroids)


def parse_districts(lines: Iterable[str]) -> Iterator[tuple[str, Centroid]]:
    """(district code, centroid) of each row; raises DistrictFileError on a malformed file."""
    reader = csv.DictReader(lines)
    if tuple(reader.fieldnames or ()) != COLUMNS:
        raise DistrictFileError(f"expected columns {','.join(COLUMNS)}, got {reader.fieldnames}")
    for row in reader:
        try:
            point = Centroid(float(row["lat"]), float(row["lon"]), int(row["villages"]))
        except (TypeError, ValueError) as exc:
            raise DistrictFileError(f"line {reader.line_num}: {exc}") from exc
        if not (-90 <= point.lat <= 90 and -180 <= point.lon <= 180) or point.villages < 1:
            raise DistrictFileError(f"line {reader.line_num}: coordinates or count out of range")
        yield row["district_code"], point


def load_districts(path: Path = DEFAULT_DISTRICTS_FILE) -> dict[str, Centroid]:
    """District code → centroid, from a district centroids file."""
    with path.open(encoding="utf-8", newline="") as handle:
        return dict(parse_districts(handle))

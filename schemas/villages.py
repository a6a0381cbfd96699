"""Village points: where the console's map puts each village (desa/kelurahan) of a regency.

The console draws a regency's districts schematically (``docs/map-data.md``);
zoomed into one district it marks the villages. The region master has no
coordinates, so ``regsosek master build-districts`` ships one point per
village beside the district centroids, derived from the same npm package
``geografis`` (MIT; see ``schemas/data/README.md``) and filtered the same way:
a point outside its regency's padded extent (``schemas/extents.py``) is a
geocoding error and left out, so a marker never lands in another regency.

File format (CSV, UTF-8, gzip-compressed), one row per village, sorted by
code, codes as in the region master::

    village_code,district_code,lat,lon
    35.09.02.2001,35.09.02,-8.2935,113.3639

The district code repeats the village code's prefix on purpose: a reader
groups rows without parsing codes, and gzip makes the repetition nearly free.
"""

from __future__ import annotations

import csv
import gzip
import io
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from schemas.extents import Extent

#: The village points shipped with the platform (derived from geografis; MIT).
DEFAULT_VILLAGES_FILE = Path(__file__).resolve().parent / "data" / "village_points.csv.gz"
COLUMNS = ("village_code", "district_code", "lat", "lon")


@dataclass(frozen=True, slots=True)
class VillagePoint:
    """A village's point (WGS84): its centre or office, as geocoded by the package."""

    code: str
    district_code: str
    lat: float
    lon: float

    @property
    def regency_code(self) -> str:
        return self.district_code[:5]


class VillageFileError(ValueError):
    """A village points file that does not follow the documented format."""


def points_inside_extents(
    villages: Iterable[tuple[str, float, float]],
    extents: Mapping[str, Extent],
) -> dict[str, tuple[float, float]]:
    """Village code → (lat, lon), keeping only points inside their regency's extent.

    The same filter as :func:`schemas.districts.district_centroids`, so a
    district's village markers are exactly the points its centroid averages.
    """
    kept: dict[str, tuple[float, float]] = {}
    for code, lat, lon in villages:
        extent = extents.get(".".join(code.split(".")[:2]))
        if extent is not None and extent.contains(lat, lon):
            kept[code] = (lat, lon)
    return kept


def write_village_points(points: Iterable[VillagePoint], path: Path) -> int:
    """Write the file sorted by code; gzip with mtime 0 so a rebuild is byte-identical.

    Four decimals (~11 m) are ample for a marker and keep the national file small.
    """
    rows = sorted(points, key=lambda p: p.code)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    for point in rows:
        writer.writerow([point.code, point.district_code, f"{point.lat:.4f}", f"{point.lon:.4f}"])
    path.write_bytes(gzip.compress(buffer.getvalue().encode("utf-8"), compresslevel=9, mtime=0))
    return len(rows)


def parse_village_points(lines: Iterable[str]) -> Iterator[VillagePoint]:
    """Each row as a point; raises VillageFileError on a malformed file."""
    reader = csv.DictReader(lines)
    if tuple(reader.fieldnames or ()) != COLUMNS:
        raise VillageFileError(f"expected columns {','.join(COLUMNS)}, got {reader.fieldnames}")
    for row in reader:
        code, district = row["village_code"], row["district_code"]
        if not code or not district or not code.startswith(district + "."):
            raise VillageFileError(f"line {reader.line_num}: {code!r} is not in {district!r}")
        try:
            point = VillagePoint(code, district, float(row["lat"]), float(row["lon"]))
        except (TypeError, ValueError) as exc:
            raise VillageFileError(f"line {reader.line_num}: {exc}") from exc
        if not (-90 <= point.lat <= 90 and -180 <= point.lon <= 180):
            raise VillageFileError(f"line {reader.line_num}: coordinates out of range")
        yield point


def load_village_points(path: Path = DEFAULT_VILLAGES_FILE) -> dict[str, tuple[VillagePoint, ...]]:
    """Regency code → its village points (sorted by code), from a village points file."""
    text = gzip.decompress(path.read_bytes()).decode("utf-8")
    by_regency: dict[str, list[VillagePoint]] = defaultdict(list)
    for point in parse_village_points(io.StringIO(text, newline="")):
        by_regency[point.regency_code].append(point)
    return {code: tuple(points) for code, points in by_regency.items()}


@lru_cache(maxsize=4)
def _shipped(path: Path) -> dict[str, tuple[VillagePoint, ...]]:
    return load_village_points(path)


def regency_village_points(
    regency_code: str, path: Path = DEFAULT_VILLAGES_FILE
) -> tuple[VillagePoint, ...]:
    """The village points of one regency (empty if it has none).

    The file is read once per process (~83,000 rows, a fraction of a second)
    and kept: the console asks for one regency's points on every map build.
    """
    return _shipped(path).get(regency_code, ())

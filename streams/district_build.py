"""Regenerate the shipped district centroids from the npm package ``geografis``.

``regsosek master build-districts`` runs ``npm pack geografis`` (MIT; the same
package and version as ``build-extents``), averages each district's village
points with :func:`schemas.districts.district_centroids` after dropping points
outside their regency's padded extent, and writes
``schemas/data/district_centroids.csv`` beside the MIT licence. The derived
file is committed so the console needs neither npm nor network.

Districts are keyed by the region master's codes. The package predates the
2022 split of Papua, so a master district the package lacks by code is looked
up by name inside the package's regency of the same name (as
``streams.extent_build`` does for regencies); districts created after the
package's 2020 codes have no centroid, and the console draws them without one.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from schemas.districts import DEFAULT_DISTRICTS_FILE, Centroid, district_centroids, write_districts
from schemas.extents import regency_extents
from schemas.regions import DEFAULT_REGIONS_FILE, Level, RegionMaster, load_regions
from schemas.villages import (
    DEFAULT_VILLAGES_FILE,
    VillagePoint,
    points_inside_extents,
    write_village_points,
)
from streams.extent_build import (
    LICENCE,
    LICENCE_FILE,
    PACKAGE_VERSION,
    load_villages,
    name_key,
    village_points,
)


def for_master(
    centroids: Mapping[str, Centroid],
    names: Mapping[str, str],
    master: RegionMaster,
) -> dict[str, Centroid]:
    """The centroids keyed by the master's district codes.

    ``names`` maps the package's regency and district codes to their names; a
    master district missing by code takes the centroid of the district of the
    same name in the one package regency named like the district's regency.
    """
    by_name: dict[str, list[str]] = {}
    for code, name in names.items():
        by_name.setdefault(name_key(name), []).append(code)
    out: dict[str, Centroid] = {}
    for district in master.by_code.values():
        if district.level is not Level.DISTRICT:
            continue
        if district.code in centroids:
            out[district.code] = centroids[district.code]
            continue
        regency = master.get(district.parent_code or "")
        if regency is None:
            continue
        old = [c for c in by_name.get(name_key(regency.name), []) if c.count(".") == 1]
        if len(old) != 1:
            continue
        same = [c for c in by_name.get(name_key(district.name), []) if c.startswith(old[0] + ".")]
        if len(same) == 1 and same[0] in centroids:
            out[district.code] = centroids[same[0]]
    return out


def villages_for_master(
    points: Mapping[str, tuple[float, float]],
    names: Mapping[str, str],
    master: RegionMaster,
) -> list[VillagePoint]:
    """The village points keyed by the master's village codes.

    ``names`` maps the package's regency, district and village codes to their
    names. A master village the package lacks by code (the 2022 Papua split
    renumbered whole regencies) is found by name, step by step: the one package
    regency named like its regency, the one district of that name in it, the
    one village of that name in that district. A village the package has by
    code but whose point was filtered out stays without a point.
    """
    regencies: dict[str, list[str]] = {}
    children: dict[tuple[str, str], list[str]] = {}
    for code, name in names.items():
        if code.count(".") == 1:
            regencies.setdefault(name_key(name), []).append(code)
        else:
            children.setdefault((code.rsplit(".", 1)[0], name_key(name)), []).append(code)

    def child(parent: str, name: str) -> str | None:
        found = children.get((parent, name_key(name)), [])
        return found[0] if len(found) == 1 else None

    out: list[VillagePoint] = []
    for village in master.by_code.values():
        if village.level is not Level.VILLAGE or village.parent_code is None:
            continue
        source: str | None = village.code
        if village.code not in names:
            district = master.get(village.parent_code)
            regency = master.get(district.parent_code or "") if district else None
            old = regencies.get(name_key(regency.name), []) if regency and district else []
            old_district = child(old[0], district.name) if len(old) == 1 and district else None
            source = child(old_district, village.name) if old_district else None
        if source is not None and source in points:
            lat, lon = points[source]
            out.append(VillagePoint(village.code, village.parent_code, lat, lon))
    return out


def build(
    output: Path = DEFAULT_DISTRICTS_FILE,
    version: str = PACKAGE_VERSION,
    regions_file: Path = DEFAULT_REGIONS_FILE,
    villages_output: Path = DEFAULT_VILLAGES_FILE,
) -> tuple[int, int]:
    """Fetch, compute and write both files; returns (districts, villages) written."""
    output.parent.mkdir(parents=True, exist_ok=True)  # a new folder is no traceback
    villages_output.parent.mkdir(parents=True, exist_ok=True)
    villages = load_villages(version)
    points = village_points(villages)
    names: dict[str, str] = {}
    village_names: dict[str, str] = {}
    for v in villages:
        parts = v["code"].split(".")
        names[".".join(parts[:2])] = str(v["city"])
        names[".".join(parts[:3])] = str(v["district"])
        village_names[v["code"]] = str(v["village"])
    extents = {code: box for code, (box, _used) in regency_extents(points).items()}
    master = load_regions(regions_file)
    centroids = for_master(district_centroids(points, extents), names, master)
    count = write_districts(centroids, output)
    kept = points_inside_extents(points, extents)
    placed = villages_for_master(kept, {**names, **village_names}, master)
    village_count = write_village_points(placed, villages_output)
    for folder in {output.parent, villages_output.parent}:
        (folder / LICENCE_FILE).write_text(LICENCE.format(version=version), encoding="utf-8")
    return count, village_count

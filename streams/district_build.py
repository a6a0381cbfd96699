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


def build(
    output: Path = DEFAULT_DISTRICTS_FILE,
    version: str = PACKAGE_VERSION,
    regions_file: Path = DEFAULT_REGIONS_FILE,
) -> int:
    """Fetch, compute and write; returns the number of districts written."""
    output.parent.mkdir(parents=True, exist_ok=True)  # a new folder is no traceback
    villages = load_villages(version)
    points = village_points(villages)
    names: dict[str, str] = {}
    for v in villages:
        parts = v["code"].split(".")
        names[".".join(parts[:2])] = str(v["city"])
        names[".".join(parts[:3])] = str(v["district"])
    extents = {code: box for code, (box, _used) in regency_extents(points).items()}
    centroids = for_master(district_centroids(points, extents), names, load_regions(regions_file))
    count = write_districts(centroids, output)
    (output.parent / LICENCE_FILE).write_text(LICENCE.format(version=version), encoding="utf-8")
    return count

"""Regenerate the shipped regency extents from the npm package ``geografis``.

``regsosek master build-extents`` runs ``npm pack geografis`` (MIT; village
codes of Permendagri 72/2019 and 146.1-4717/2020 with a coordinate each),
computes a padded box per regency with :func:`schemas.extents.regency_extents`
and writes ``schemas/data/regency_extents.csv`` beside the MIT licence. The
derived file is committed so workers need neither npm nor network.

The package predates the 2022 split of Papua: 26 regencies moved from
provinces 91/92 to the new 93-96 under new codes. Their villages did not
move, so a master regency the package lacks takes the extent of the package's
regency of the same name (the one and only match), and regencies the master
no longer has are left out.
"""

from __future__ import annotations

import json
import re
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from schemas.extents import DEFAULT_EXTENTS_FILE, Extent, regency_extents, write_extents
from schemas.regions import DEFAULT_REGIONS_FILE, Level, RegionMaster, load_regions
from streams.region_build import fetch_package

PACKAGE = "geografis"
PACKAGE_VERSION = "1.3.2"
LICENCE_FILE = "LICENSE-geografis-MIT.md"
LICENCE = """\
# geografis: MIT License

`regency_extents.csv`, `district_centroids.csv` and `village_points.csv.gz` are
derived from the npm package **geografis** {version} by drizki
(https://github.com/drizki/geografis), published under the MIT License (the
package's `license` field; the tarball ships no licence file).

MIT License

Copyright (c) drizki

Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
SOFTWARE.
"""


def name_key(name: str) -> str:
    """A place name reduced to its lower-case letters, to match names across sources.

    The package and the master spell one place with other spaces, dots and
    capitals (``Kab. Puncak`` / ``PUNCAK``).
    """
    return re.sub(r"[^a-z]", "", name.lower())


def for_master(
    extents: Mapping[str, tuple[Extent, int]],
    names: Mapping[str, str],
    master: RegionMaster,
) -> dict[str, tuple[Extent, int]]:
    """The extents keyed by the master's regency codes (renamed codes matched by name)."""
    by_name: dict[str, list[str]] = {}
    for code, name in names.items():
        by_name.setdefault(name_key(name), []).append(code)
    out: dict[str, tuple[Extent, int]] = {}
    for regency in master.by_code.values():
        if regency.level is not Level.REGENCY:
            continue
        if regency.code in extents:
            out[regency.code] = extents[regency.code]
            continue
        same = by_name.get(name_key(regency.name), [])
        if len(same) == 1 and same[0] in extents:
            out[regency.code] = extents[same[0]]
    return out


def load_villages(version: str = PACKAGE_VERSION) -> list[dict[str, Any]]:
    """The package's village records (code, names, latitude, longitude), fetched once."""
    with tempfile.TemporaryDirectory(prefix="geografis-") as tmp:
        data = fetch_package(version, Path(tmp), PACKAGE)
        villages: list[dict[str, Any]] = json.loads(
            (data / "json" / "data.json").read_text(encoding="utf-8")
        )
    return villages


def village_points(villages: list[dict[str, Any]]) -> list[tuple[str, float, float]]:
    """``(village code, latitude, longitude)`` of every village record."""
    return [(v["code"], float(v["latitude"]), float(v["longitude"])) for v in villages]


def build(
    output: Path = DEFAULT_EXTENTS_FILE,
    version: str = PACKAGE_VERSION,
    regions_file: Path = DEFAULT_REGIONS_FILE,
) -> int:
    """Fetch, compute and write; returns the number of regencies written."""
    output.parent.mkdir(parents=True, exist_ok=True)  # a new folder is no traceback
    villages = load_villages(version)
    points = village_points(villages)
    names = {".".join(v["code"].split(".")[:2]): str(v["city"]) for v in villages}
    extents = for_master(regency_extents(points), names, load_regions(regions_file))
    count = write_extents(extents, output)
    (output.parent / LICENCE_FILE).write_text(LICENCE.format(version=version), encoding="utf-8")
    return count

"""Region master data: every province, regency, district and village, and the BPS bridge.

Two code systems name the same places. The Regsosek form's location block uses
**BPS** (statistical, Wilkerstat) codes, e.g. Jember's Kencong district is
``3509010``; the complete public master data uses **Kemendagri**
(administrative) codes, where Kencong is ``35.09.02``. The shipped master is
Kemendagri (the only complete one), with the BPS code of each province,
regency and district carried beside it, so BPS-coded events resolve down to
district. An operation can load its own BPS master (the same file format with
BPS codes in ``code``) to resolve villages too.

File format (CSV, UTF-8, optionally gzip-compressed), one row per area::

    level,code,parent_code,name,bps_code,urban_rural
    district,35.09.02,35.09,Kencong,3509010,
    village,35.09.02.2001,35.09.02,Cakru,,rural

``level`` is province|regency|district|village; ``code`` the master's own code;
``bps_code`` the BPS code of the same area where known; ``urban_rural`` is
``urban``, ``rural`` or empty (unknown).
"""

from __future__ import annotations

import csv
import gzip
import io
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

#: The master shipped with the platform (derived from idn-area-data; ODbL).
DEFAULT_REGIONS_FILE = Path(__file__).resolve().parent / "data" / "regions.csv.gz"
COLUMNS = ("level", "code", "parent_code", "name", "bps_code", "urban_rural")


class Level(StrEnum):
    """Administrative levels, top down (provinsi, kabupaten/kota, kecamatan, desa/kelurahan)."""

    PROVINCE = "province"
    REGENCY = "regency"
    DISTRICT = "district"
    VILLAGE = "village"


@dataclass(frozen=True, slots=True)
class Region:
    """One area of the master."""

    level: Level
    code: str
    parent_code: str | None
    name: str
    bps_code: str | None = None
    urban_rural: str | None = None


class RegionFileError(ValueError):
    """A region master file that does not follow the documented format."""


@dataclass
class RegionMaster:
    """Lookups by master code and by BPS code; built once per worker, replaced on refresh."""

    by_code: dict[str, Region] = field(default_factory=dict)
    by_bps: dict[str, Region] = field(default_factory=dict)
    children: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def from_regions(cls, regions: Iterable[Region]) -> RegionMaster:
        master = cls()
        for region in regions:
            master.by_code[region.code] = region
            if region.bps_code:
                master.by_bps[region.bps_code] = region
            if region.parent_code:
                master.children.setdefault(region.parent_code, []).append(region.code)
        return master

    def get(self, code: str) -> Region | None:
        return self.by_code.get(code)

    def from_bps(self, bps_code: str) -> Region | None:
        return self.by_bps.get(bps_code)

    def ancestors(self, code: str) -> list[Region]:
        """The area itself and every area above it, nearest first."""
        chain: list[Region] = []
        current = self.by_code.get(code)
        while current is not None:
            chain.append(current)
            current = self.by_code.get(current.parent_code) if current.parent_code else None
        return chain

    def count(self, level: Level) -> int:
        return sum(1 for region in self.by_code.values() if region.level is level)

    def under(self, code: str, level: Level) -> list[Region]:
        """Every area of ``level`` below ``code`` (e.g. all villages of a regency)."""
        found: list[Region] = []
        stack = [code]
        while stack:
            for child in self.children.get(stack.pop(), []):
                region = self.by_code[child]
                if region.level is level:
                    found.append(region)
                else:
                    stack.append(child)
        return sorted(found, key=lambda r: r.code)


def parse_regions(lines: Iterable[str]) -> Iterator[Region]:
    """Rows of a region master file; a malformed row names its line number."""
    reader = csv.DictReader(lines)
    if tuple(reader.fieldnames or ())[: len(COLUMNS)] != COLUMNS:
        raise RegionFileError(f"header must start with {','.join(COLUMNS)}")
    for number, row in enumerate(reader, start=2):
        try:
            level = Level(row["level"])
        except ValueError:
            raise RegionFileError(f"line {number}: unknown level {row['level']!r}") from None
        if not row["code"] or not row["name"]:
            raise RegionFileError(f"line {number}: code and name are required")
        yield Region(
            level=level,
            code=row["code"],
            parent_code=row["parent_code"] or None,
            name=row["name"],
            bps_code=row["bps_code"] or None,
            urban_rural=row["urban_rural"] or None,
        )


def load_regions(path: Path = DEFAULT_REGIONS_FILE) -> RegionMaster:
    """Read a region master file (``.csv`` or ``.csv.gz``)."""
    raw = path.read_bytes()
    if path.suffix == ".gz":
        raw = gzip.decompress(raw)
    return RegionMaster.from_regions(parse_regions(io.StringIO(raw.decode("utf-8"))))


def write_regions(regions: Iterable[Region], path: Path) -> int:
    """Write a master file in the documented format; returns the row count."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    count = 0
    for region in regions:
        writer.writerow(
            [
                region.level.value,
                region.code,
                region.parent_code or "",
                region.name,
                region.bps_code or "",
                region.urban_rural or "",
            ]
        )
        count += 1
    data = buffer.getvalue().encode("utf-8")
    path.write_bytes(gzip.compress(data, mtime=0) if path.suffix == ".gz" else data)
    return count


def kemendagri_regions(
    tables: Mapping[str, Iterable[Mapping[str, str]]],
    bridge: Mapping[str, str],
) -> Iterator[Region]:
    """Regions from idn-area-data's four CSV tables, with BPS codes from the bridge.

    ``bridge`` maps a Kemendagri code without dots (``350902``) to its BPS code
    (``3509010``). Villages whose code starts with 1 are *kelurahan*, with 2
    *desa*; that is an administrative type, not BPS's urban/rural
    classification, so ``urban_rural`` is left unknown here.
    """
    specs = (
        (Level.PROVINCE, "provinces", None),
        (Level.REGENCY, "regencies", "province_code"),
        (Level.DISTRICT, "districts", "regency_code"),
        (Level.VILLAGE, "villages", "district_code"),
    )
    for level, table, parent_column in specs:
        for row in tables[table]:
            code = row["code"]
            yield Region(
                level=level,
                code=code,
                parent_code=row[parent_column] if parent_column else None,
                name=row["name"],
                bps_code=bridge.get(code.replace(".", "")) if level is not Level.VILLAGE else None,
            )

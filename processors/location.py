"""Resolve a submission's location block (items 101-104) against the region master.

Two code systems arrive (``location.code_system``):

``KEMENDAGRI``
    province 2, regency 2, district 2, village 4 digits; every level is looked
    up directly by its master code (``35``, ``35.09``, ``35.09.02``,
    ``35.09.02.2001``).
``BPS``
    the codes printed on the form: province 2, regency 2, district 3, village
    3 digits, each full code the concatenation (Kencong = ``3509010``).
    Province, regency and district resolve through the master's ``bps_code``
    column (the shipped BPS-Kemendagri bridge). A village resolves only when
    the master carries BPS codes for the villages of that district (an
    operation's own BPS master); otherwise it is *unverifiable*, a warning,
    because the design accepts BPS codes down to district.

Resolution stops at the first level that fails: a district under an unknown
regency is not reported again. Problems are :class:`~processors.rules.Finding`
objects of the rules ``REGION_UNKNOWN``, ``REGION_NESTING`` and
``REGION_VILLAGE_UNVERIFIED``, defined in :mod:`processors.rules.region`.

That module and this one import each other's *module* (never names from it),
so either can be imported first.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from processors.rules import base
from processors.rules import region as region_rules
from schemas.regions import Level, Region, RegionMaster

#: Item and field of each level, top down.
LEVEL_FIELDS: tuple[tuple[Level, str], ...] = (
    (Level.PROVINCE, "province_code"),
    (Level.REGENCY, "regency_code"),
    (Level.DISTRICT, "district_code"),
    (Level.VILLAGE, "village_code"),
)
#: How each level is named in messages (Indonesian, English).
LEVEL_NAMES: Mapping[Level, tuple[str, str]] = {
    Level.PROVINCE: ("provinsi", "province"),
    Level.REGENCY: ("kabupaten/kota", "regency"),
    Level.DISTRICT: ("kecamatan", "district"),
    Level.VILLAGE: ("desa/kelurahan", "village"),
}


@dataclass(frozen=True)
class ResolvedLocation:
    """The master's areas for a location block, top down, and what went wrong.

    ``village_code`` is the master code of the village (``35.09.02.2001``)
    when it resolved; ``district_bps_code`` the full 7-digit BPS district code
    (given, or from the master's bridge for KEMENDAGRI input) when known.
    """

    province: Region | None
    regency: Region | None
    district: Region | None
    village: Region | None
    village_code: str | None
    district_bps_code: str | None
    problems: list[base.Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """No ERROR among the problems (an unverifiable village is fine)."""
        return all(problem.severity is not base.Severity.ERROR for problem in self.problems)


def lookup_keys(location: base.Record) -> list[tuple[Level, str]]:
    """The key to look each level up by, in the location's own code system."""
    parts = [str(location.get(name) or "") for _level, name in LEVEL_FIELDS]
    joiner = "." if location.get("code_system") == "KEMENDAGRI" else ""
    return [
        (level, joiner.join(parts[: depth + 1])) for depth, (level, _n) in enumerate(LEVEL_FIELDS)
    ]


def resolve_location(location: base.Record, regions: RegionMaster) -> ResolvedLocation:
    """The areas a location block names, with REGION_* findings for what does not resolve."""
    bps = location.get("code_system", "BPS") != "KEMENDAGRI"
    find: Callable[[str], Region | None] = regions.from_bps if bps else regions.get
    found: dict[Level, Region] = {}
    problems: list[base.Finding] = []
    parent: Region | None = None
    for (level, key), (_level, name) in zip(lookup_keys(location), LEVEL_FIELDS, strict=True):
        path = f"location.{name}"
        area = find(key)
        if area is None or area.level is not level:
            unverifiable = bps and level is Level.VILLAGE and not _has_bps_villages(regions, parent)
            problems.append(_unresolved(level, key, path, bps=bps, unverifiable=unverifiable))
            break
        if parent is not None and area.parent_code != parent.code:
            problems.append(_nesting(level, key, parent, path))
            break
        found[level] = parent = area
    return _resolved(found, problems, location, bps)


def _resolved(
    found: Mapping[Level, Region],
    problems: list[base.Finding],
    location: base.Record,
    bps: bool,
) -> ResolvedLocation:
    district = found.get(Level.DISTRICT)
    village = found.get(Level.VILLAGE)
    if district is None:
        district_bps = None
    elif bps:
        district_bps = lookup_keys(location)[2][1]
    else:
        district_bps = district.bps_code
    return ResolvedLocation(
        province=found.get(Level.PROVINCE),
        regency=found.get(Level.REGENCY),
        district=district,
        village=village,
        village_code=village.code if village else None,
        district_bps_code=district_bps,
        problems=problems,
    )


def _unresolved(
    level: Level, key: str, path: str, *, bps: bool, unverifiable: bool
) -> base.Finding:
    if unverifiable:
        return region_rules.REGION_VILLAGE_UNVERIFIED.finding(path, code=key)
    name_id, name_en = LEVEL_NAMES[level]
    system = "BPS" if bps else "Kemendagri"
    return region_rules.REGION_UNKNOWN.finding(
        path, level_id=name_id, level_en=name_en, code=key, system=system
    )


def _nesting(level: Level, key: str, parent: Region, path: str) -> base.Finding:
    name_id, name_en = LEVEL_NAMES[level]
    parent_id, parent_en = LEVEL_NAMES[parent.level]
    return region_rules.REGION_NESTING.finding(
        path,
        level_id=name_id,
        level_en=name_en,
        code=key,
        parent_id=parent_id,
        parent_en=parent_en,
        parent_code=parent.code,
    )


def _has_bps_villages(regions: RegionMaster, district: Region | None) -> bool:
    """Whether the master can verify BPS village codes in this district."""
    if district is None:
        return False
    return any(regions.by_code[child].bps_code for child in regions.children.get(district.code, ()))

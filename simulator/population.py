"""The enumeration frame of a regency: villages sized from population, SLS units, enumerators.

The population model, stated so it can be questioned:

* **People.** Jember had 2,536,729 inhabitants in the 2020 population census
  (SP2020). The region master carries no population, so another regency gets
  its villages times the national mean of 3,226 people per village (SP2020's
  270.2 million over 83,762 villages) unless ``population`` is given.
* **Households.** People / 3.3 persons per household (Jember: 768,706), times
  ``scale``. The K form is one per *family* (Kartu Keluarga); the platform
  calls it a household, as census operations do internationally.
* **Villages.** The regency's households are spread over its villages with
  lognormal weights (sigma 0.5, one draw per village code, seeded), 1.5 times
  heavier for a *kelurahan* (code 1xxx, urban), then rounded by largest
  remainder so the total is exact. A village that rounds to zero households
  (at small scales) is left out of the frame.
* **SLS units** (Satuan Lingkungan Setempat, an RT): one per 25-40 households
  (the size drawn per village), codes ``0001``..., named ``RT 003 RW 002``
  with 3-8 RTs per RW.
* **Enumerators.** 4,000 for the whole of Jember at scale 1, i.e. one per
  192 households (scaled with the households, at least one per district that
  has any), ids of 4 digits (Kode PPL). Each works a contiguous run of SLS
  units of one district, balanced by households. **Supervisors** (Kode PML,
  3 digits): about one per ten enumerators of a district, at least one.

``--districts`` restricts the frame to some districts without changing their
size: the weights are always drawn for the whole regency.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from schemas import frame as frame_files
from schemas.errors import ConfigurationError
from schemas.frame import Assignment, Enumerator, Frame, Target
from schemas.regions import Level, Region, RegionMaster
from simulator import geo
from simulator.config import SimulationConfig

KNOWN_POPULATION: dict[str, int] = {"35.09": 2_536_729}
NATIONAL_PEOPLE_PER_VILLAGE = 3_226
JEMBER_ENUMERATORS = 4_000
#: Households per enumerator: Jember's households at scale 1 over its 4,000 enumerators.
HOUSEHOLDS_PER_ENUMERATOR = KNOWN_POPULATION["35.09"] / 3.3 / JEMBER_ENUMERATORS
ENUMERATORS_PER_SUPERVISOR = 10
VILLAGE_SIGMA = 0.5
KELURAHAN_WEIGHT = 1.5
SLS_SIZE = (25.0, 40.0)
RTS_PER_RW = (3, 8)
MAX_ENUMERATORS = 9_999  # 4 digits on the form
MAX_SUPERVISORS = 999  # 3 digits on the form


@dataclass(frozen=True, slots=True)
class SlsUnit:
    """One SLS (neighbourhood unit) and the households the simulator will enumerate in it."""

    village_code: str
    sls_code: str
    sls_name: str
    households: int


@dataclass(frozen=True)
class VillagePlan:
    """A village (desa/kelurahan) of the frame; ``bps_code`` is its synthetic 3-digit BPS code."""

    code: str
    name: str
    district_code: str
    bps_code: str
    households: int
    centre: geo.Point | None
    units: tuple[SlsUnit, ...]


@dataclass(frozen=True)
class DistrictPlan:
    """A district (kecamatan) with the villages that have households in this run."""

    code: str
    name: str
    bps_code: str | None
    villages: tuple[VillagePlan, ...]

    @property
    def households(self) -> int:
        return sum(village.households for village in self.villages)


@dataclass(frozen=True)
class EnumeratorPlan:
    """An enumerator (PPL), their supervisor (PML) and the SLS units they cover, in order."""

    enumerator_id: str
    supervisor_id: str
    district_code: str
    units: tuple[SlsUnit, ...]

    @property
    def households(self) -> int:
        return sum(unit.households for unit in self.units)


@dataclass(frozen=True)
class SimFrame:
    """Everything the simulator knows about where it works; pure data."""

    province_code: str
    regency_code: str
    regency_name: str
    centre: geo.Point | None
    districts: tuple[DistrictPlan, ...]
    enumerators: tuple[EnumeratorPlan, ...]

    @property
    def villages(self) -> list[VillagePlan]:
        return [village for district in self.districts for village in district.villages]

    @property
    def units(self) -> list[SlsUnit]:
        return [unit for village in self.villages for unit in village.units]

    @property
    def households(self) -> int:
        return sum(district.households for district in self.districts)

    @property
    def supervisors(self) -> set[str]:
        return {enumerator.supervisor_id for enumerator in self.enumerators}

    def frame_rows(self) -> tuple[list[Enumerator], list[Assignment], list[Target]]:
        """The three frame tables in the processors' types."""
        enumerators = [
            Enumerator(e.enumerator_id, e.supervisor_id, self.regency_code)
            for e in self.enumerators
        ]
        assignments = [
            Assignment(e.enumerator_id, unit.village_code, unit.sls_code)
            for e in self.enumerators
            for unit in e.units
        ]
        targets = [Target(u.village_code, u.sls_code, u.households) for u in self.units]
        return enumerators, assignments, targets

    def to_frame(self) -> Frame:
        """The frame as a worker would load it from the files (for the rules' context)."""
        return Frame.build(*self.frame_rows())

    def write(self, directory: Path) -> None:
        """Write enumerators.csv, assignments.csv and targets.csv for the worker."""
        frame_files.write_frame(directory, *self.frame_rows())


def regency_population(master: RegionMaster, config: SimulationConfig) -> int:
    """People in the regency at scale 1 (see the module docstring)."""
    if config.population is not None:
        return config.population
    if config.regency in KNOWN_POPULATION:
        return KNOWN_POPULATION[config.regency]
    return len(master.under(config.regency, Level.VILLAGE)) * NATIONAL_PEOPLE_PER_VILLAGE


def apportion(total: int, weights: Sequence[float]) -> list[int]:
    """``total`` split in proportion to ``weights`` by largest remainder; sums exactly."""
    mass = sum(weights)
    if total <= 0 or mass <= 0:
        return [0] * len(weights)
    shares = [total * weight / mass for weight in weights]
    counts = [math.floor(share) for share in shares]
    order = sorted(range(len(weights)), key=lambda i: (counts[i] - shares[i], i))
    for index in order[: total - sum(counts)]:
        counts[index] += 1
    return counts


def build_frame(master: RegionMaster, config: SimulationConfig) -> SimFrame:
    """The frame of ``config.regency`` (or some of its districts) at ``config.scale``."""
    regency = master.get(config.regency)
    if regency is None or regency.level is not Level.REGENCY:
        raise ConfigurationError(f"regency {config.regency!r} is not in the region master")
    districts = _chosen_districts(master, regency, config.districts)
    villages = master.under(regency.code, Level.VILLAGE)
    people = regency_population(master, config)
    total = round(people * config.scale / config.persons_per_household)
    weights = [_village_weight(config, village) for village in villages]
    sizes = dict(zip((v.code for v in villages), apportion(total, weights), strict=True))
    centre = geo.KNOWN_CENTRES.get(regency.code)
    plans = tuple(_district_plan(master, config, d, sizes, centre) for d in districts)
    plans = tuple(plan for plan in plans if plan.villages)
    if not plans:
        raise ConfigurationError(f"scale {config.scale:g} leaves no household to enumerate")
    return SimFrame(
        province_code=regency.parent_code or regency.code.split(".")[0],
        regency_code=regency.code,
        regency_name=regency.name,
        centre=centre,
        districts=plans,
        enumerators=_enumerators(config, plans),
    )


def _chosen_districts(master: RegionMaster, regency: Region, wanted: Iterable[str]) -> list[Region]:
    districts = master.under(regency.code, Level.DISTRICT)
    wanted = list(wanted)
    if not wanted:
        return districts
    known = {district.code: district for district in districts}
    unknown = [code for code in wanted if code not in known]
    if unknown:
        raise ConfigurationError(
            f"district(s) {', '.join(unknown)} are not districts of {regency.code} ({regency.name})"
        )
    return [known[code] for code in sorted(set(wanted))]


def _village_weight(config: SimulationConfig, village: Region) -> float:
    rng = random.Random(config.stream("village-size", village.code))  # noqa: S311 - simulation
    weight = rng.lognormvariate(0.0, VILLAGE_SIGMA)
    return weight * KELURAHAN_WEIGHT if village.code.rsplit(".", 1)[-1].startswith("1") else weight


def _district_plan(
    master: RegionMaster,
    config: SimulationConfig,
    district: Region,
    sizes: dict[str, int],
    regency_centre: geo.Point | None,
) -> DistrictPlan:
    centre = geo.district_centre(regency_centre, district.code) if regency_centre else None
    villages = []
    for number, village in enumerate(master.under(district.code, Level.VILLAGE), start=1):
        households = sizes.get(village.code, 0)
        if households <= 0:
            continue
        villages.append(
            VillagePlan(
                code=village.code,
                name=village.name,
                district_code=district.code,
                bps_code=f"{number:03d}",
                households=households,
                centre=geo.village_centre(centre, village.code) if centre else None,
                units=_units(config, village.code, households),
            )
        )
    return DistrictPlan(district.code, district.name, district.bps_code, tuple(villages))


def _units(config: SimulationConfig, village_code: str, households: int) -> tuple[SlsUnit, ...]:
    """SLS units of a village: 25-40 households each, RTs numbered within RWs."""
    rng = random.Random(config.stream("sls", village_code))  # noqa: S311 - simulation
    count = max(1, round(households / rng.uniform(*SLS_SIZE)))
    sizes = [households // count] * count
    for index in rng.sample(range(count), households % count):
        sizes[index] += 1
    units: list[SlsUnit] = []
    rw, rt, rts_in_rw = 1, 0, rng.randint(*RTS_PER_RW)
    for number, size in enumerate(sizes, start=1):
        rt += 1
        if rt > rts_in_rw:
            rw, rt, rts_in_rw = rw + 1, 1, rng.randint(*RTS_PER_RW)
        units.append(SlsUnit(village_code, f"{number:04d}", f"RT {rt:03d} RW {rw:03d}", size))
    return tuple(units)


def _enumerators(
    config: SimulationConfig, districts: Sequence[DistrictPlan]
) -> tuple[EnumeratorPlan, ...]:
    total = max(1, round(sum(d.households for d in districts) / HOUSEHOLDS_PER_ENUMERATOR))
    counts = apportion(total, [d.households for d in districts])
    plans: list[EnumeratorPlan] = []
    supervisors = 0
    for district, count in zip(districts, counts, strict=True):
        units = [unit for village in district.villages for unit in village.units]
        chunks = split_units(units, min(max(count, 1), len(units)))
        teams = max(1, round(len(chunks) / ENUMERATORS_PER_SUPERVISOR))
        groups = apportion(len(chunks), [1.0] * teams)
        owners = [supervisors + g for g, size in enumerate(groups) for _ in range(size)]
        supervisors += len(groups)
        for chunk, owner in zip(chunks, owners, strict=True):
            number = len(plans) + 1
            plans.append(
                EnumeratorPlan(f"{number:04d}", f"{owner + 1:03d}", district.code, tuple(chunk))
            )
    if len(plans) > MAX_ENUMERATORS or supervisors > MAX_SUPERVISORS:
        raise ConfigurationError(
            f"{len(plans)} enumerators / {supervisors} supervisors do not fit the form's "
            "4-digit PPL and 3-digit PML codes; use a smaller --scale"
        )
    return tuple(plans)


def split_units(units: Sequence[SlsUnit], parts: int) -> list[list[SlsUnit]]:
    """``units`` cut into ``parts`` contiguous runs with about equal households each."""
    cumulative = [0]
    for unit in units:
        cumulative.append(cumulative[-1] + unit.households)
    chunks: list[list[SlsUnit]] = []
    start = 0
    for part in range(parts):
        left = parts - part
        if left == 1:
            end = len(units)
        else:
            goal = cumulative[-1] * (part + 1) / parts
            end = start + 1
            while end < len(units) - (left - 1) and cumulative[end] < goal:
                end += 1
            if end - 1 > start and goal - cumulative[end - 1] < cumulative[end] - goal:
                end -= 1
        chunks.append(list(units[start:end]))
        start = end
    return chunks

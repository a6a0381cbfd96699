"""The simulator's frame of Jember: districts, villages, SLS units, enumerators, targets."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

from processors.rules.region import haversine_km
from schemas.errors import ConfigurationError
from schemas.frame import load_frame
from schemas.regions import RegionMaster, load_regions
from simulator import geo
from simulator.config import SimulationConfig
from simulator.population import (
    HOUSEHOLDS_PER_ENUMERATOR,
    SimFrame,
    SlsUnit,
    apportion,
    build_frame,
    split_units,
)

JEMBER_CENTRE = (-8.17, 113.70)


@pytest.fixture(scope="module")
def regions() -> RegionMaster:
    return load_regions()


@pytest.fixture(scope="module")
def small(regions: RegionMaster) -> SimFrame:
    return build_frame(regions, SimulationConfig(scale=0.01))


def test_jember_at_one_percent_covers_every_district_and_village(small: SimFrame) -> None:
    assert small.regency_code == "35.09"
    assert len(small.districts) == 31
    assert len(small.villages) == 248
    assert 7_000 < small.households < 8_500  # 2.54 M people / 3.3 per household / 100


def test_targets_sum_to_the_households_and_every_sls_is_assigned_once(small: SimFrame) -> None:
    enumerators, assignments, targets = small.frame_rows()
    assert sum(t.expected_households for t in targets) == small.households
    assigned = Counter((a.village_code, a.sls_code) for a in assignments)
    assert set(assigned) == {(t.village_code, t.sls_code) for t in targets}
    assert set(assigned.values()) == {1}
    assert all(t.expected_households >= 1 for t in targets)
    assert {e.regency_code for e in enumerators} == {"35.09"}


def test_enumerators_have_form_codes_and_one_district_each(small: SimFrame) -> None:
    ids = [e.enumerator_id for e in small.enumerators]
    assert len(set(ids)) == len(ids)
    assert all(re.fullmatch(r"\d{4}", i) for i in ids)
    assert all(re.fullmatch(r"\d{3}", e.supervisor_id) for e in small.enumerators)
    villages = {v.code: v.district_code for v in small.villages}
    for enumerator in small.enumerators:
        assert {villages[u.village_code] for u in enumerator.units} == {enumerator.district_code}
    expected = small.households / HOUSEHOLDS_PER_ENUMERATOR
    assert expected * 0.9 <= len(ids) <= expected * 1.15  # at least one per district


def test_full_scale_has_4000_enumerators_about_ten_per_supervisor(regions: RegionMaster) -> None:
    full = build_frame(regions, SimulationConfig(scale=1.0))
    assert len(full.enumerators) == 4_000
    assert 8 <= len(full.enumerators) / len(full.supervisors) <= 12
    loads = [e.households for e in full.enumerators]
    assert min(loads) >= 150 and max(loads) <= 240  # ~192 households each
    assert 20_000 < len(full.units) < 32_000  # one SLS per 25-40 households


def test_sls_units_are_numbered_and_named_within_each_village(small: SimFrame) -> None:
    for village in small.villages:
        codes = [u.sls_code for u in village.units]
        assert codes == [f"{n:04d}" for n in range(1, len(codes) + 1)]
        assert all(re.fullmatch(r"RT \d{3} RW \d{3}", u.sls_name) for u in village.units)
        assert sum(u.households for u in village.units) == village.households
        assert all(re.fullmatch(r"\d{3}", village.bps_code) for _ in [village])


def test_frame_files_round_trip_through_the_processors_reader(
    small: SimFrame, tmp_path: Path
) -> None:
    small.write(tmp_path)
    loaded = load_frame(tmp_path)
    expected = small.to_frame()
    assert loaded.enumerators == expected.enumerators
    assert loaded.assignments == expected.assignments
    assert loaded.targets == expected.targets


def test_the_same_seed_gives_the_same_frame(regions: RegionMaster) -> None:
    first = build_frame(regions, SimulationConfig(scale=0.005, seed=3))
    again = build_frame(regions, SimulationConfig(scale=0.005, seed=3))
    other = build_frame(regions, SimulationConfig(scale=0.005, seed=4))
    assert first == again
    assert [v.households for v in first.villages] != [v.households for v in other.villages]


def test_districts_keep_their_size_when_the_run_is_restricted(
    regions: RegionMaster, small: SimFrame
) -> None:
    restricted = build_frame(
        regions, SimulationConfig(scale=0.01, districts=("35.09.03", "35.09.02"))
    )
    assert [d.code for d in restricted.districts] == ["35.09.02", "35.09.03"]
    sizes = {d.code: d.households for d in small.districts}
    assert {d.code: d.households for d in restricted.districts} == {
        "35.09.02": sizes["35.09.02"],
        "35.09.03": sizes["35.09.03"],
    }


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (SimulationConfig(regency="99.99"), "not in the region master"),
        (SimulationConfig(regency="35.09", districts=("35.10.01",)), "not districts of 35.09"),
        (SimulationConfig(scale=1e-9), "leaves no household"),
    ],
)
def test_impossible_frames_are_configuration_errors(
    regions: RegionMaster, config: SimulationConfig, message: str
) -> None:
    with pytest.raises(ConfigurationError, match=message):
        build_frame(regions, config)


def test_another_regency_works_without_coordinates(regions: RegionMaster) -> None:
    surabaya = build_frame(regions, SimulationConfig(regency="35.78", scale=0.01))
    assert surabaya.centre is None
    assert all(v.centre is None for v in surabaya.villages)
    assert surabaya.households > 0


def test_synthetic_centres_stay_well_inside_the_gps_rule(small: SimFrame) -> None:
    for village in small.villages:
        assert village.centre is not None
        assert haversine_km(village.centre, JEMBER_CENTRE) < 27  # 22 + 4 km, + rounding
    assert geo.village_centre(JEMBER_CENTRE, "35.09.02.2001") == geo.village_centre(
        JEMBER_CENTRE, "35.09.02.2001"
    )


def test_apportion_is_exact_and_proportional() -> None:
    assert apportion(10, [1, 1, 1]) == [4, 3, 3]
    assert sum(apportion(769_000, [0.3, 1.7, 2.2, 0.01])) == 769_000
    assert apportion(0, [1.0, 2.0]) == [0, 0]


def test_split_units_is_contiguous_and_balanced() -> None:
    units = [
        SlsUnit("v", f"{n:04d}", "RT", size) for n, size in enumerate([30, 35, 25, 40, 32, 28])
    ]
    chunks = split_units(units, 3)
    assert [u for chunk in chunks for u in chunk] == units
    assert all(chunks)
    assert [sum(u.households for u in chunk) for chunk in chunks] == [65, 65, 60]

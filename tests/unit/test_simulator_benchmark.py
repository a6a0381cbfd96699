"""Simulator throughput (skipped unless run with --benchmark-only).

Run: ``.venv/bin/pytest tests/unit/test_simulator_benchmark.py --benchmark-only``.
Generation must stay well above what publishing can take (the issue asks for
20,000 households per second on one core), so the simulator is never what
holds a demo back.
"""

from __future__ import annotations

import random
from typing import Any

import pytest

from processors.rules.base import local_offset
from schemas.regions import RegionMaster
from simulator.clock import fieldwork_days
from simulator.config import SimulationConfig
from simulator.households import HouseholdFactory, Visit
from simulator.population import SimFrame, build_frame
from simulator.scenario import Scenario
from simulator.workload import EnumeratorRun

CONFIG = SimulationConfig(scale=0.05, districts=("35.09.02", "35.09.20"), seed=1)
VISITS = 2_000


@pytest.fixture(scope="module")
def frame(regions: RegionMaster) -> SimFrame:
    return build_frame(regions, CONFIG)


def planned_visits(frame: SimFrame, count: int) -> list[Visit]:
    """The first ``count`` visits the frame's enumerators plan."""
    zone = local_offset(frame.province_code)
    days = fieldwork_days(CONFIG.fieldwork_start, CONFIG.fieldwork_end, zone)
    villages = {village.code: village for village in frame.villages}
    visits: list[Visit] = []
    for plan in frame.enumerators:
        run = EnumeratorRun(plan, villages, CONFIG, days, zone=zone, with_bps=set())
        for index, day in enumerate(days):
            for _at, planned, _burst in run.plan_day(index, day):
                visits += [one.visit for one in planned]
    return visits[:count]


def test_generate_households(benchmark: Any, frame: SimFrame) -> None:
    """Records only (HouseholdFactory.record), 2,000 per round."""
    visits = planned_visits(frame, VISITS)
    factory = HouseholdFactory(frame)
    rng = random.Random(1)

    def generate() -> int:
        return sum(1 for visit in visits if factory.record(visit, rng))

    assert benchmark(generate) == VISITS


def test_whole_scenario(benchmark: Any, regions: RegionMaster, frame: SimFrame) -> None:
    """Planning, records, injections and follow-ups of two districts' month."""

    def run() -> int:
        scenario = Scenario(frame, CONFIG, regions, schema_id=2)
        return sum(len(dispatch.messages) for dispatch in scenario.dispatches())

    assert benchmark.pedantic(run, rounds=3, iterations=1) >= frame.households


def test_visits_are_planned_inside_fieldwork(frame: SimFrame) -> None:
    """Not a benchmark: keeps the helper above honest in the normal run."""
    visits = planned_visits(frame, 50)
    assert len(visits) == 50
    assert all(CONFIG.fieldwork_start <= v.started_at < v.finished_at for v in visits)
    assert all(v.finished_at <= CONFIG.fieldwork_end for v in visits)

"""The compressed clock and the tablets' behaviour: order, working hours, bursts, retries."""

from __future__ import annotations

import datetime as dt
import itertools
import random

import pytest

from schemas.regions import RegionMaster, load_regions
from simulator import clock
from simulator.config import (
    FIELDWORK_END,
    FIELDWORK_START,
    WIB,
    ErrorRates,
    SimulationConfig,
)
from simulator.population import build_frame
from simulator.scenario import Dispatch, MessageKind, Scenario

CONFIG = SimulationConfig(
    scale=0.03,
    districts=("35.09.02",),
    seed=21,
    offline_share=0.5,
    rates=ErrorRates(duplicate=0.05, revision=0.05, corrupt=0.02),
)


@pytest.fixture(scope="module")
def regions() -> RegionMaster:
    return load_regions()


@pytest.fixture(scope="module")
def dispatches(regions: RegionMaster) -> list[Dispatch]:
    frame = build_frame(regions, CONFIG)
    return list(Scenario(frame, CONFIG, regions, schema_id=2).dispatches())


def test_default_clock_fits_the_month_into_five_minutes() -> None:
    fieldwork = clock.FieldworkClock.from_options(FIELDWORK_START, FIELDWORK_END)
    assert fieldwork.speed == pytest.approx((FIELDWORK_END - FIELDWORK_START).total_seconds() / 300)
    assert fieldwork.wall_seconds(FIELDWORK_END) == pytest.approx(300)
    assert fieldwork.wall_seconds(FIELDWORK_START - dt.timedelta(days=1)) == 0


def test_speed_wins_and_zero_duration_means_no_pacing() -> None:
    fast = clock.FieldworkClock.from_options(
        FIELDWORK_START, FIELDWORK_END, speed=3600, duration_s=10
    )
    assert fast.wall_seconds(FIELDWORK_START + dt.timedelta(hours=2)) == pytest.approx(2)
    unpaced = clock.FieldworkClock.from_options(FIELDWORK_START, FIELDWORK_END, duration_s=0)
    assert unpaced.speed is None and unpaced.wall_seconds(FIELDWORK_END) == 0
    with pytest.raises(ValueError, match="above 0"):
        clock.FieldworkClock.from_options(FIELDWORK_START, FIELDWORK_END, speed=0)


def test_fieldwork_days_are_local_calendar_days() -> None:
    days = clock.fieldwork_days(FIELDWORK_START, FIELDWORK_END, WIB)
    assert days[0] == dt.date(2022, 10, 15) and days[-1] == dt.date(2022, 11, 14)
    assert len(days) == 31


def test_a_workday_has_walks_lunch_and_plausible_durations() -> None:
    rng = random.Random(3)
    day = clock.Workday(dt.datetime(2022, 10, 20, 8, 0, tzinfo=WIB))
    visits = [day.interview(rng, "COMPLETE", same_building=False) for _ in range(8)]
    for (start, finish), (next_start, _f) in itertools.pairwise(visits):
        assert 15 <= (finish - start).total_seconds() / 60 <= 90
        assert next_start > finish
    assert day.lunch_taken


def test_dispatches_come_in_time_order_inside_the_fieldwork(dispatches: list[Dispatch]) -> None:
    times = [d.at for d in dispatches]
    assert times == sorted(times)
    assert times[0] >= FIELDWORK_START
    uploads = [d for d in dispatches if any(m.kind is MessageKind.HOUSEHOLD for m in d.messages)]
    assert all(d.at <= FIELDWORK_END for d in uploads)


def test_offline_tablets_sync_in_evening_bursts(dispatches: list[Dispatch]) -> None:
    bursts = [d for d in dispatches if d.burst]
    assert bursts
    assert all(len(d.messages) >= 1 for d in bursts)
    assert max(len(d.messages) for d in bursts) > 5
    for burst in bursts:
        local = burst.at.astimezone(WIB).time()
        assert dt.time(17, 30) <= local or local <= dt.time(3)
        assert all(
            m.record["enumeration"]["finished_at"] <= burst.at for m in burst.messages if m.record
        )
    offline = {d.enumerator_id for d in bursts}
    singles = {
        d.enumerator_id
        for d in dispatches
        if not d.burst and d.messages[0].kind is MessageKind.HOUSEHOLD
    }
    assert offline and singles and not offline & singles


def test_online_uploads_follow_the_interview_within_two_minutes(dispatches: list[Dispatch]) -> None:
    for dispatch in dispatches:
        message = dispatch.messages[0]
        if dispatch.burst or message.kind is not MessageKind.HOUSEHOLD or message.record is None:
            continue
        finished = message.record["enumeration"]["finished_at"]
        assert dt.timedelta(seconds=5) <= dispatch.at - finished <= dt.timedelta(seconds=120)


def test_retries_resend_the_same_submission_soon_after(dispatches: list[Dispatch]) -> None:
    first: dict[str, dt.datetime] = {}
    retries = 0
    for dispatch in dispatches:
        for message in dispatch.messages:
            if message.record is None:
                continue
            sid = message.record["submission_id"]
            if message.kind is MessageKind.DUPLICATE:
                retries += 1
                assert (
                    dt.timedelta(seconds=10) <= dispatch.at - first[sid] <= dt.timedelta(minutes=10)
                )
            else:
                assert sid not in first
                first[sid] = dispatch.at
    assert retries > 0

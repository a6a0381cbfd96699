"""The chaos soak's timeline and how a fault's effect is summed up (pure)."""

from __future__ import annotations

import itertools

import pytest

from benchmarks.chaos_plan import (
    ChaosPlan,
    Fault,
    FaultKind,
    Sample,
    lag_effect,
    not_ready_s,
    schedule,
    window_end,
)
from schemas.errors import ConfigurationError


def test_the_issue_soak_has_every_fault_apart_and_is_repeatable() -> None:
    plan = ChaosPlan()
    faults = schedule(plan)
    kinds = [fault.kind for fault in faults]
    assert kinds.count(FaultKind.WORKER_KILL) == 10
    assert kinds.count(FaultKind.BROKER_KILL) == 1
    assert kinds.count(FaultKind.GATEWAY_RESTART) == 1
    (outage,) = [f for f in faults if f.kind is FaultKind.ENGINE_OUTAGE]
    assert outage.lasts_s == 60
    assert faults == schedule(plan), "same seed, same timeline"
    assert faults != schedule(ChaosPlan(seed=plan.seed + 1))
    kills = [f.at_s for f in faults if f.kind is FaultKind.WORKER_KILL]
    assert all(b - a >= plan.min_gap_s for a, b in itertools.pairwise(kills))
    others = [f for f in faults if f.kind is not FaultKind.WORKER_KILL]
    for at in kills:
        assert all(not (f.at_s - 12.5 <= at <= f.ends_s + 25) for f in others), at
    assert all(f.at_s > 0 and f.ends_s < plan.send_s for f in faults)


def test_a_plan_whose_kills_cannot_fit_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="send for longer"):
        schedule(ChaosPlan(send_s=120, worker_kills=10))


def _samples(lags: list[int], ready: list[bool] | None = None) -> list[Sample]:
    flags = ready or [True] * len(lags)
    return [
        Sample(float(t), lag, flag) for t, (lag, flag) in enumerate(zip(lags, flags, strict=True))
    ]


def test_lag_effect_before_peak_and_back() -> None:
    # steady at 100, a fault at t=10 lasting 5 s, lag climbs to 900 and is back at t=22
    lags = [100] * 10 + [300, 600, 900, 800, 700, 600, 500, 400, 300, 200, 150, 120, 105, 100]
    effect = lag_effect(_samples(lags), Fault(FaultKind.WORKER_KILL, 10.0, 5.0), 200.0)
    assert effect.before == 100
    assert effect.peak == 900
    assert effect.recovered_after_s == 10.0  # t=20: 150 <= max(100 * 1.1, 100 + 50)


def test_lag_that_never_comes_back_says_so_and_unknown_samples_are_ignored() -> None:
    lags = [10] * 10 + [-1, 5000, 6000, 7000]
    effect = lag_effect(_samples(lags), Fault(FaultKind.ENGINE_OUTAGE, 10.0, 2.0), 200.0)
    assert effect.peak == 7000
    assert effect.recovered_after_s is None


def test_not_ready_seconds_count_only_the_fault_window() -> None:
    ready = [False] * 5 + [True] * 5 + [False, False, False, True, True]
    samples = _samples([0] * 15, ready)
    assert not_ready_s(samples, Fault(FaultKind.WORKER_KILL, 10.0, 1.0), 15.0) == 3.0


def test_a_faults_window_ends_where_the_next_begins() -> None:
    fault = Fault(FaultKind.ENGINE_OUTAGE, 100.0, 60.0)
    assert window_end(fault, None) == 280.0
    assert window_end(fault, 190.0) == 190.0
    # the peak of a later fault is not this one's
    lags = [0] * 100 + [50] * 80 + [9000] * 20
    assert lag_effect(_samples(lags), fault, window_end(fault, 180.0)).peak == 50

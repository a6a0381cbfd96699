"""When each fault of a chaos run happens, and how a fault's effect is summed up. Pure.

A run sends households at a steady rate for ``send_s`` seconds. The faults are
placed so that each one's effect on lag and freshness can be told apart: a
broker SIGKILLed early (and started again ``broker_down_s`` later), the
ClickHouse outage in the middle, the gateway restarted late, and the worker
SIGKILLs at seeded random moments in between, never inside another fault's
window. The placement is a pure function of the plan and the seed, so a run can
be repeated and its report read against the same timeline.
"""

from __future__ import annotations

import random
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from schemas.errors import ConfigurationError


class FaultKind(StrEnum):
    """The faults of the issue's soak; the value is the report's label."""

    BROKER_KILL = "broker SIGKILL"
    WORKER_KILL = "worker SIGKILL"
    ENGINE_OUTAGE = "ClickHouse outage"
    GATEWAY_RESTART = "gateway SIGKILL + restart"


@dataclass(frozen=True)
class ChaosPlan:
    """What to send and what to break. The defaults are the issue's soak."""

    households: int = 200_000
    send_s: float = 600.0
    worker_kills: int = 10
    outage_s: float = 60.0
    broker_down_s: float = 30.0
    #: A restarted worker needs ~10 s to be back; kills closer than this overlap.
    min_gap_s: float = 25.0
    seed: int = 18
    partitions: int = 6

    @property
    def rate(self) -> float:
        """Households per second the simulator paces itself to (plus their duplicates etc.)."""
        return self.households / self.send_s


@dataclass(frozen=True)
class Fault:
    """One fault: its kind, when it starts (seconds after sending began) and how long it lasts."""

    kind: FaultKind
    at_s: float
    lasts_s: float = 0.0

    @property
    def ends_s(self) -> float:
        return self.at_s + self.lasts_s


def schedule(plan: ChaosPlan) -> list[Fault]:
    """Every fault of the run in time order; refuses a plan whose kills cannot fit."""
    fixed = [
        Fault(FaultKind.BROKER_KILL, round(0.08 * plan.send_s, 1), plan.broker_down_s),
        Fault(FaultKind.ENGINE_OUTAGE, round(0.45 * plan.send_s, 1), plan.outage_s),
        Fault(FaultKind.GATEWAY_RESTART, round(0.75 * plan.send_s, 1)),
    ]
    busy = [(f.at_s - plan.min_gap_s / 2, f.ends_s + plan.min_gap_s) for f in fixed]
    rng = random.Random(plan.seed)
    kills: list[float] = []
    low, high = 0.04 * plan.send_s, 0.96 * plan.send_s
    for _ in range(10_000):
        if len(kills) == plan.worker_kills:
            break
        at = round(rng.uniform(low, high), 1)
        clear_of_faults = all(not (start <= at <= end) for start, end in busy)
        clear_of_kills = all(abs(at - other) >= plan.min_gap_s for other in kills)
        if clear_of_faults and clear_of_kills:
            kills.append(at)
    if len(kills) < plan.worker_kills:
        raise ConfigurationError(
            f"{plan.worker_kills} worker kills {plan.min_gap_s:.0f} s apart do not fit in "
            f"{plan.send_s:.0f} s of sending beside the other faults: send for longer"
        )
    faults = fixed + [Fault(FaultKind.WORKER_KILL, at) for at in kills]
    return sorted(faults, key=lambda fault: fault.at_s)


#: How long after a fault its effect is looked for (unless the next fault comes first).
SETTLE_S = 120.0


@dataclass(frozen=True)
class Sample:
    """One look at the running platform, ``t`` seconds after sending began."""

    t: float
    lag: int  # -1 while the group's offsets are unknown (no coordinator, rebalancing)
    ready: bool
    sent: int = -1  # messages on the submissions topic (its end offsets), -1 unknown


@dataclass(frozen=True)
class LagEffect:
    """What a fault did to the consumer lag."""

    before: float  # median over the 10 s before the fault
    peak: int
    recovered_after_s: float | None  # from the fault's start back to the level before; None: not


def window_end(fault: Fault, next_at_s: float | None, settle_s: float = SETTLE_S) -> float:
    """Where a fault's window ends: ``settle_s`` after it, or where the next fault begins."""
    end = fault.ends_s + settle_s
    return end if next_at_s is None else min(end, next_at_s)


def lag_effect(samples: Sequence[Sample], fault: Fault, until_s: float) -> LagEffect:
    """Lag before, at its worst until ``until_s``, and how long until it was back where it was.

    "Back" is at most the median before plus 10 % (or plus 50 messages: a lag of
    a few dozen is one batch in flight), seen after the fault ended.
    """
    known = [s for s in samples if s.lag >= 0]
    before_window = [s.lag for s in known if fault.at_s - 10 <= s.t < fault.at_s]
    before = statistics.median(before_window) if before_window else 0.0
    during = [s for s in known if fault.at_s <= s.t < until_s]
    peak = max((s.lag for s in during), default=0)
    level = max(before * 1.1, before + 50)
    back = next((s.t for s in during if s.t >= fault.ends_s and s.lag <= level), None)
    return LagEffect(before, peak, None if back is None else round(back - fault.at_s, 1))


def not_ready_s(samples: Sequence[Sample], fault: Fault, until_s: float) -> float:
    """Seconds the worker's /readyz said "not ready" (or nothing answered) in the fault's window."""
    window = [s for s in samples if fault.at_s <= s.t < until_s]
    if len(window) < 2:
        return 0.0
    step = (window[-1].t - window[0].t) / (len(window) - 1)
    return round(sum(step for s in window if not s.ready), 1)

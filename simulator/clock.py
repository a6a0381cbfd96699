"""The fieldwork month on a compressed clock, and an enumerator's working days.

**Simulated time** runs over the fieldwork window (settings
``fieldwork_start`` .. ``fieldwork_end``, 15 October - 14 November 2022 by
default): every interview's ``started_at``/``finished_at`` and every send
happen at simulated instants inside it (late syncs and corrections may fall
just after it), so the worker's fieldwork-window rule accepts them.
**Wall time** is how long the run takes: ``speed`` simulated seconds pass per
wall second. By default the whole window takes ``duration`` = 300 s (a speed
of about 8,900); ``speed`` set explicitly wins; a duration of 0 means no
pacing at all (as fast as the transport takes it, for tests and benchmarks).

An enumerator's month, in local time (WIB for Jember):

* starts on the first day (most) or one or two days late, takes about half of
  the Sundays off and stops zero to two days before the end;
* spreads their households over the working days with daily weights of
  0.6-1.4, interviewing from 07:30-09:00, with a lunch break of 45-60 minutes
  after noon; a day that would run past 20:00 carries its rest over (from the
  last working day on, past 22:00; see :mod:`simulator.workload`);
* a complete interview lasts 15-90 minutes (mode 35), an incomplete one 15-40,
  a visit without interview 3-12; walking to the next building takes 5-25
  minutes, to the next family in the same building 1-3.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Sequence
from dataclasses import dataclass

from simulator.tables import between, chance

DEFAULT_DURATION_S = 300.0
DAY_START = (dt.time(7, 30), dt.time(9, 0))
LUNCH_AFTER = dt.time(12, 0)
LAST_START = dt.time(20, 0)


@dataclass(frozen=True)
class FieldworkClock:
    """Maps simulated instants to seconds of wall time since the run started."""

    start: dt.datetime
    end: dt.datetime
    speed: float | None  # simulated seconds per wall second; None: no pacing

    @classmethod
    def from_options(
        cls,
        start: dt.datetime,
        end: dt.datetime,
        *,
        speed: float | None = None,
        duration_s: float | None = DEFAULT_DURATION_S,
    ) -> FieldworkClock:
        """``speed`` if given, else the speed that fits the window into ``duration_s``."""
        if speed is not None:
            if speed <= 0:
                raise ValueError("speed must be above 0")
            return cls(start, end, speed)
        if not duration_s:
            return cls(start, end, None)
        return cls(start, end, (end - start).total_seconds() / duration_s)

    def wall_seconds(self, at: dt.datetime) -> float:
        """Wall seconds after the run's start at which ``at`` is due (0 without pacing)."""
        if self.speed is None:
            return 0.0
        return max(0.0, (at - self.start).total_seconds() / self.speed)


def fieldwork_days(start: dt.datetime, end: dt.datetime, zone: dt.tzinfo) -> list[dt.date]:
    """Every local calendar day the window touches."""
    first, last = start.astimezone(zone).date(), end.astimezone(zone).date()
    return [first + dt.timedelta(days=n) for n in range((last - first).days + 1)]


def working_days(rng: random.Random, days: Sequence[dt.date]) -> list[int]:
    """Indexes of the days one enumerator works."""
    first = 0 if chance(rng, 0.8) else between(rng, 1, 2)
    last = len(days) - 1 - between(rng, 0, 2)
    chosen = [
        index
        for index in range(first, max(first, last) + 1)
        if days[index].weekday() != 6 or chance(rng, 0.5)
    ]
    return chosen or [first]


def daily_weights(rng: random.Random, count: int) -> list[float]:
    """How busy each working day is, relative to the others."""
    return [0.6 + 0.8 * rng.random() for _ in range(count)]


def minutes_for(rng: random.Random, result: str) -> float:
    """How long a visit takes, by its result."""
    if result == "COMPLETE":
        return rng.triangular(15, 90, 35)
    if result == "INCOMPLETE":
        return rng.uniform(15, 40)
    return rng.uniform(3, 12)


def day_start(rng: random.Random, day: dt.date, zone: dt.tzinfo) -> dt.datetime:
    """When an enumerator starts walking on ``day``."""
    opening = dt.datetime.combine(day, DAY_START[0], zone)
    return opening + dt.timedelta(minutes=rng.uniform(0, 90))


@dataclass
class Workday:
    """The running clock of one enumerator's day: where the next interview can start."""

    now: dt.datetime
    lunch_taken: bool = False

    def fits(self, last_start: dt.datetime) -> bool:
        return self.now <= last_start

    def interview(
        self, rng: random.Random, result: str, same_building: bool
    ) -> tuple[dt.datetime, dt.datetime]:
        """(start, finish) of the next visit, after walking (and lunch when it is time)."""
        walk = rng.uniform(1, 3) if same_building else rng.uniform(5, 25)
        start = self.now + dt.timedelta(minutes=walk)
        if not self.lunch_taken and start.time() >= LUNCH_AFTER:
            start += dt.timedelta(minutes=rng.uniform(45, 60))
            self.lunch_taken = True
        finish = start + dt.timedelta(minutes=minutes_for(rng, result))
        self.now = finish
        return start, finish

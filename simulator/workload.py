"""One enumerator's month: which families they visit on which day, and when they send.

Each enumerator draws from streams of their own (plan, content, sends,
addresses), seeded by the run's seed and their id, so their month is the
same whatever else the run contains. :meth:`EnumeratorRun.plan_day` returns
the uploads of one day; the :class:`~simulator.scenario.Scenario`
merges all enumerators' uploads in time order.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator, Mapping, Sequence, Set
from dataclasses import dataclass

from simulator import clock
from simulator import injections as inj
from simulator import vocabulary as v
from simulator.config import SimulationConfig
from simulator.households import Address, Visit, addresses
from simulator.population import EnumeratorPlan, VillagePlan, apportion
from simulator.tables import chance

#: Offline tablets sync from 17:30 to 21:00 on this share of their working days.
SYNC_FROM = dt.time(17, 30)
SYNC_HOURS = 3.5
SYNC_SHARE = 0.6
#: Online tablets upload this many seconds after finishing an interview.
UPLOAD_DELAY_S = (5.0, 120.0)
#: From their last working day on, enumerators start visits until 22:00 to finish their list.
LATE_START = dt.time(22, 0)
#: Room left before the end of fieldwork for the last visit (walk, lunch, 90 minutes).
LAST_VISIT_ROOM = dt.timedelta(hours=3)

Upload = tuple[dt.datetime, tuple["PlannedVisit", ...], bool]


@dataclass(frozen=True, slots=True)
class PlannedVisit:
    """A visit with what will happen to its message: injection, retry, correction, garbage."""

    visit: Visit
    injection: inj.Injection
    duplicate: bool
    revision: bool
    corrupt: bool


class EnumeratorRun:
    """The state of one enumerator across the days of the run."""

    def __init__(
        self,
        plan: EnumeratorPlan,
        villages: Mapping[str, VillagePlan],
        config: SimulationConfig,
        days: Sequence[dt.date],
        *,
        zone: dt.tzinfo,
        with_bps: Set[str],
    ) -> None:
        self.plan = plan
        self.enumerator_id = plan.enumerator_id
        self.config = config
        self.days = days
        self.zone = zone
        self.villages = villages
        self.has_bps = plan.district_code in with_bps
        self.plans = random.Random(config.stream("plan", plan.enumerator_id))  # noqa: S311
        self.content = random.Random(config.stream("content", plan.enumerator_id))  # noqa: S311
        self.sends = random.Random(config.stream("sends", plan.enumerator_id))  # noqa: S311
        self.offline = chance(self.plans, config.offline_share)
        worked = clock.working_days(self.plans, days)
        counts = apportion(plan.households, clock.daily_weights(self.plans, len(worked)))
        self.quota = dict(zip(worked, counts, strict=True))
        self.last_day = worked[-1]
        self.carry = 0
        self.queue: list[PlannedVisit] = []
        self._walk = self._addresses()
        self._next: Address | None = next(self._walk, None)

    def _addresses(self) -> Iterator[Address]:
        rng = random.Random(self.config.stream("addresses", self.enumerator_id))  # noqa: S311
        for unit in self.plan.units:
            yield from addresses(unit, rng)

    def plan_day(self, index: int, day: dt.date) -> list[Upload]:
        """The uploads of day ``index``: one per interview online, one burst offline."""
        due = self.quota.get(index, 0) + self.carry
        self.carry = 0
        if not due and not self.queue:
            return []
        uploads: list[Upload] = []
        start = clock.day_start(self.plans, day, self.zone)
        work = clock.Workday(max(start, self.config.fieldwork_start))
        limit = self._last_start(index, day)
        done = 0
        while done < due and self._next is not None and work.fits(limit):
            planned = self._visit(self._next, work)
            self._next = next(self._walk, None)
            done += 1
            if self.offline:
                self.queue.append(planned)
            else:
                delay = dt.timedelta(seconds=self.sends.uniform(*UPLOAD_DELAY_S))
                uploads.append((planned.visit.finished_at + delay, (planned,), False))
        self.carry = due - done
        if self.queue and (index >= self.last_day or chance(self.plans, SYNC_SHARE)):
            uploads.append((self._sync_time(day, work.now), tuple(self.queue), True))
            self.queue = []
        return uploads

    def _last_start(self, index: int, day: dt.date) -> dt.datetime:
        """When the day's last visit may start; from the last working day on, later.

        Families an enumerator could not visit by then carry over to the next
        day (after the last working day, the remaining calendar days), so a
        run leaves nobody out unless fieldwork itself ends first.
        """
        late = index >= self.last_day
        evening = dt.datetime.combine(day, LATE_START if late else clock.LAST_START, self.zone)
        return min(evening, self.config.fieldwork_end - LAST_VISIT_ROOM)

    def _sync_time(self, day: dt.date, done_at: dt.datetime) -> dt.datetime:
        evening = dt.datetime.combine(day, SYNC_FROM, self.zone)
        wait = dt.timedelta(hours=self.plans.uniform(0, SYNC_HOURS))
        return max(evening, done_at) + wait

    def _visit(self, address: Address, work: clock.Workday) -> PlannedVisit:
        rng, rates = self.plans, self.config.rates
        result = v.RESULT.pick(rng)
        injection = inj.choose(rng, rates, self.has_bps)
        if injection is not inj.Injection.NONE:
            result = "COMPLETE"  # a mistake needs members and a full form to show in
        started, finished = work.interview(rng, result, same_building=address.family > 1)
        visit = Visit(
            address=address,
            village=self.villages[address.unit.village_code],
            enumerator=self.plan,
            started_at=_utc_seconds(started),
            finished_at=_utc_seconds(finished),
            result=result,
        )
        clean_complete = injection is inj.Injection.NONE and result == "COMPLETE"
        return PlannedVisit(
            visit=visit,
            injection=injection,
            duplicate=chance(rng, rates.duplicate),
            revision=clean_complete and chance(rng, rates.revision),
            corrupt=chance(rng, rates.corrupt),
        )


def _utc_seconds(instant: dt.datetime) -> dt.datetime:
    """A tablet's timestamp: whole seconds, in UTC (which fastavro also encodes fastest)."""
    return instant.astimezone(dt.UTC).replace(microsecond=0)

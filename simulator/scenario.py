"""The month of fieldwork as an ordered stream of dispatches: what each tablet sends, when.

Pure and lazy: :meth:`Scenario.dispatches` plans one day for every
enumerator at a time, keeps the sends due later (offline queues, retries,
corrections) in a heap, and yields every :class:`Dispatch` in simulated-time
order. Records are built only when their dispatch is yielded, so a full-scale
run holds a day of plans in memory, not a month of records.

How the apps behave (each enumerator's behaviour is drawn from their own
seeded streams, so it does not depend on the other enumerators):

* **online** tablets (70 % by default) upload each interview 5-120 s after it
  is finished;
* **offline** tablets queue finished interviews and sync them in one burst
  (an SDK ``publish_batch``) in the evening, 17:30-21:00, on about 60 % of
  their working days and always on their last;
* an **app retry** (``duplicate`` rate) sends the same message again, same
  ``submission_id``, 10 s to 10 minutes later;
* a **correction** (``revision`` rate, clean complete households only) sends
  revision 2 one to three days later during office hours;
* a **corrupt message** (``corrupt`` rate per household) lands within the hour
  after the household's upload, straight on the topic;
* with reviews on (``config.reviews``), each accepted household's latest
  revision is **reviewed** by the enumerator's supervisor, and a returned one
  is **fixed** and resubmitted by its enumerator, then reviewed again
  (:mod:`simulator.reviewing`). A review, and a fix after a return, name the
  message they follow in :attr:`Message.depends_on`: the runner sends them
  only once that message was acknowledged a while earlier, so the worker has
  processed it by the time it reads them;
* with paradata on (``config.paradata``), each upload also carries its
  visits' events (log-in, interview started/finished, position pings) and a
  SYNC (:mod:`simulator.paradata`), on the enumerator-events topic.

Every message of one household travels the same path and leaves in order,
so the broker keeps original < retry < correction on its partition.
"""

from __future__ import annotations

import datetime as dt
import heapq
import itertools
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from processors.rules.base import local_offset
from schemas.regions import RegionMaster
from simulator import clock, paradata, reviewing
from simulator import injections as inj
from simulator.config import SimulationConfig
from simulator.households import HouseholdFactory, Visit, present_count, revise
from simulator.population import SimFrame
from simulator.tables import between
from simulator.workload import EnumeratorRun, PlannedVisit


class MessageKind(StrEnum):
    """Why a message is on the topic."""

    HOUSEHOLD = "household"  # a household's first message (clean, injected or old schema)
    DUPLICATE = "duplicate"  # an app retry: the same submission again
    REVISION = "revision"  # a corrected revision 2
    CORRUPT = "corrupt"  # bytes no serializer wrote
    REVIEW = "review"  # a supervisor's decision on one revision (record: ReviewDecision)
    EVENT = "event"  # a tablet's paradata event (record: EnumeratorEvent)


@dataclass(frozen=True, slots=True)
class Message:
    """One Kafka message to send, with what the pipeline is expected to make of it."""

    kind: MessageKind
    household_id: str
    enumerator_id: str | None
    district_code: str | None
    village_code: str | None
    record: dict[str, Any] | None = None
    payload: bytes | None = None
    schema_version: int = 2
    expected_errors: tuple[str, ...] = ()
    expected_warnings: tuple[str, ...] = ()
    replaced_members: int = 0  # a revision: present members of the revision it supersedes
    #: :func:`ack_key` of the message that must have been processed before this one is sent
    #: (a review: the revision it decides on; a fix: the review that returned it).
    depends_on: str | None = None


@dataclass(frozen=True)
class Dispatch:
    """Messages one tablet sends at one simulated instant (a burst when syncing a backlog)."""

    at: dt.datetime
    enumerator_id: str | None
    messages: tuple[Message, ...]
    burst: bool = False


@dataclass(frozen=True)
class _Upload:
    at: dt.datetime
    run: EnumeratorRun
    visits: tuple[PlannedVisit, ...]
    burst: bool


@dataclass(frozen=True)
class _Resend:
    at: dt.datetime
    message: Message


@dataclass(frozen=True)
class _Correction:
    at: dt.datetime
    run: EnumeratorRun
    original: Message


@dataclass(frozen=True)
class _Garbage:
    at: dt.datetime
    run: EnumeratorRun
    household: Message


@dataclass(frozen=True)
class _Review:
    at: dt.datetime
    run: EnumeratorRun
    subject: Message  # the revision the supervisor decides on
    returns: int  # how often the household was returned before


@dataclass(frozen=True)
class _Fix:
    at: dt.datetime
    run: EnumeratorRun
    returned: Message  # the revision the supervisor returned
    review: str  # ack key of the returning review
    returns: int


_Event = _Upload | _Resend | _Correction | _Garbage | _Review | _Fix


def ack_key(message: Message) -> str:
    """What identifies a message for :attr:`Message.depends_on`: household, revision, kind."""
    revision = message.record.get("revision") if message.record is not None else None
    tag = "review" if message.kind is MessageKind.REVIEW else "revision"
    return f"{message.household_id}/{tag}/{revision}"


class Scenario:
    """A whole simulated fieldwork month over one frame."""

    def __init__(
        self, frame: SimFrame, config: SimulationConfig, regions: RegionMaster, schema_id: int
    ) -> None:
        self.frame = frame
        self.config = config
        self.schema_id = schema_id
        self.zone = local_offset(frame.province_code)
        self.factory = HouseholdFactory(frame)
        self.context = inj.InjectionContext(regions, frame)
        self.days = clock.fieldwork_days(config.fieldwork_start, config.fieldwork_end, self.zone)
        #: Supervisors' draws: one stream, so reviews do not change the enumerators' streams.
        self.reviewing = random.Random(config.stream("reviews"))  # noqa: S311
        self.paradata = random.Random(config.stream("paradata"))  # noqa: S311
        self._logged_in: set[tuple[str, dt.date]] = set()
        self._bps_district = {d.code: d.bps_code for d in frame.districts}
        villages = {village.code: village for village in frame.villages}
        with_bps = {d.code for d in frame.districts if d.bps_code}
        self.runs = [
            EnumeratorRun(plan, villages, config, self.days, zone=self.zone, with_bps=with_bps)
            for plan in frame.enumerators
        ]

    def dispatches(self) -> Iterator[Dispatch]:
        """Every dispatch of the month, in simulated-time order."""
        heap: list[tuple[dt.datetime, int, _Event]] = []
        order = itertools.count()
        for index, day in enumerate(self.days):
            for run in self.runs:
                for at, visits, burst in run.plan_day(index, day):
                    heapq.heappush(heap, (at, next(order), _Upload(at, run, visits, burst)))
            horizon = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), self.zone)
            while heap and heap[0][0] < horizon:
                yield self._fire(heapq.heappop(heap)[2], heap, order)
        while heap:
            yield self._fire(heapq.heappop(heap)[2], heap, order)

    def _fire(
        self, event: _Event, heap: list[tuple[dt.datetime, int, _Event]], order: Iterator[int]
    ) -> Dispatch:
        def later(follow: _Event) -> None:
            heapq.heappush(heap, (follow.at, next(order), follow))

        if isinstance(event, _Upload):
            events: list[Message] = []
            messages = tuple(
                self._original(event, planned, later, events) for planned in event.visits
            )
            if events:
                last = events[-1].record or {}
                events.append(self._event(paradata.sync(self.paradata, event.at, last)))
            sent = messages + tuple(events)
            return Dispatch(event.at, event.run.enumerator_id, sent, event.burst)
        if isinstance(event, _Resend):
            message = replace(event.message, kind=MessageKind.DUPLICATE)
            return Dispatch(event.at, message.enumerator_id, (message,))
        if isinstance(event, _Correction):
            revision = self._revision(event)
            self._schedule_review(event.at, event.run, revision, 0, later)
            return Dispatch(event.at, event.run.enumerator_id, (revision,))
        if isinstance(event, _Review):
            return Dispatch(event.at, event.run.enumerator_id, (self._review(event, later),))
        if isinstance(event, _Fix):
            fixed = self._fix(event)
            self._schedule_review(event.at, event.run, fixed, event.returns, later)
            return Dispatch(event.at, event.run.enumerator_id, (fixed,))
        return Dispatch(event.at, None, (self._garbage(event),))

    def _visit_events(self, record: dict[str, Any], visit: Visit) -> list[Message]:
        """The log-in (first visit of the day) and the interview events of one visit."""
        district_bps = self._bps_district.get(visit.village.district_code)
        bps_village = district_bps + visit.village.bps_code if district_bps else None
        found: list[dict[str, Any]] = []
        day = (visit.enumerator.enumerator_id, visit.started_at.astimezone(self.zone).date())
        if day not in self._logged_in:
            self._logged_in.add(day)
            found.append(paradata.login(self.paradata, record, bps_village))
        found += paradata.visit_events(self.paradata, record, bps_village)
        return [self._event(found_event) for found_event in found]

    def _event(self, record: dict[str, Any]) -> Message:
        return Message(
            kind=MessageKind.EVENT,
            household_id=str(record["household_id"] or ""),
            enumerator_id=str(record["enumerator_id"]),
            district_code=None,
            village_code=None,
            record=record,
        )

    def _schedule_review(
        self,
        sent: dt.datetime,
        run: EnumeratorRun,
        subject: Message,
        returns: int,
        later: Callable[[_Event], None],
    ) -> None:
        """The supervisor's review of ``subject``, if reviews are on and it is accepted."""
        if not self.config.reviews.enabled or subject.expected_errors:
            return
        at = reviewing.review_at(self.reviewing, sent, self.config.fieldwork_end)
        if at is not None:  # else not reviewed before fieldwork ends: awaits review
            later(_Review(at, run, subject, returns))

    def _review(self, event: _Review, later: Callable[[_Event], None]) -> Message:
        subject = event.subject
        assert subject.record is not None  # noqa: S101 - only records are reviewed
        record = subject.record
        returnable = subject.schema_version == 2 and record["enumeration"]["result"] == "COMPLETE"
        decision = reviewing.decide(
            self.reviewing, self.config.reviews, returnable=returnable, returns=event.returns
        )
        supervisor = str(record["enumeration"]["supervisor_id"])
        review = replace(
            subject,
            kind=MessageKind.REVIEW,
            record=reviewing.review_record(self.reviewing, record, supervisor, decision, event.at),
            payload=None,
            expected_errors=(),
            expected_warnings=(),
            replaced_members=0,
            depends_on=ack_key(subject),
        )
        if decision is reviewing.Decision.RETURNED:
            at = reviewing.fix_at(self.reviewing, event.at, self.config.fieldwork_end)
            if at is not None:  # else not fixed before fieldwork ends: stays returned
                later(_Fix(at, event.run, subject, ack_key(review), event.returns + 1))
        return review

    def _fix(self, event: _Fix) -> Message:
        returned = event.returned
        assert returned.record is not None  # noqa: S101 - only records are returned
        return replace(
            returned,
            kind=MessageKind.REVISION,
            record=reviewing.fix(returned.record, self.reviewing),
            replaced_members=present_count(returned.record),
            depends_on=event.review,
        )

    def _original(
        self,
        event: _Upload,
        planned: PlannedVisit,
        later: Callable[[_Event], None],
        events: list[Message],
    ) -> Message:
        """A household's first message, and the retry, correction or garbage that follow it.

        With paradata on, the visit's events are added to ``events``.
        """
        run, visit = event.run, planned.visit
        record = self.factory.record(visit, run.content)
        if self.config.paradata:
            events += self._visit_events(record, visit)
        sent = inj.inject(planned.injection, record, visit, self.context, run.content)
        message = Message(
            kind=MessageKind.HOUSEHOLD,
            household_id=visit.household_id,
            enumerator_id=run.enumerator_id,
            district_code=visit.village.district_code,
            village_code=visit.village.code,
            record=sent,
            schema_version=1 if planned.injection is inj.Injection.OLD_SCHEMA else 2,
            expected_errors=inj.EXPECTED_ERRORS[planned.injection],
            expected_warnings=inj.EXPECTED_WARNINGS.get(planned.injection, ()),
        )
        rng = run.sends
        if planned.duplicate:
            later(_Resend(event.at + dt.timedelta(seconds=rng.uniform(10, 600)), message))
        if planned.revision:
            later(_Correction(self._office_hours(event.at, rng), run, message))
        else:
            self._schedule_review(event.at, run, message, 0, later)
        if planned.corrupt:
            later(_Garbage(event.at + dt.timedelta(seconds=rng.uniform(1, 3600)), run, message))
        return message

    def _office_hours(self, after: dt.datetime, rng: random.Random) -> dt.datetime:
        """One to three days after ``after``, 09:00-16:00 local time, before fieldwork ends.

        A correction due after the end is sent at the end instead (or ten
        minutes after the original, if that is later), so the run's wall time
        stays the configured duration.
        """
        day = after.astimezone(self.zone).date() + dt.timedelta(days=between(rng, 1, 3))
        opening = dt.datetime.combine(day, dt.time(9), self.zone)
        wanted = opening + dt.timedelta(minutes=rng.uniform(0, 7 * 60))
        return max(min(wanted, self.config.fieldwork_end), after + dt.timedelta(minutes=10))

    def _revision(self, event: _Correction) -> Message:
        original = event.original
        assert original.record is not None  # noqa: S101 - corrections follow records only
        record = revise(original.record, event.run.content, self.zone)
        return replace(
            original,
            kind=MessageKind.REVISION,
            record=record,
            replaced_members=present_count(original.record),
        )

    def _garbage(self, event: _Garbage) -> Message:
        rng = event.run.sends
        kind = inj.choose_corruption(rng)
        household = event.household.household_id
        return Message(
            kind=MessageKind.CORRUPT,
            household_id=household,
            enumerator_id=None,
            district_code=None,
            village_code=None,
            payload=inj.corrupt_payload(kind, rng, self.schema_id, household),
            expected_errors=(inj.DECODE_CODES[kind],),
        )

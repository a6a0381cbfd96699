"""The tablets' paradata in the simulated month: log-ins, interviews, syncs, position pings.

Pure: every function takes the random stream it draws from and returns
EnumeratorEvent records (schema v2). The scenario (:mod:`simulator.scenario`)
sends a visit's events with the upload that carries its household, as a field
app flushes its event log on every sync:

* **LOGIN** 5-20 minutes before the first visit of each working day;
* **INTERVIEW_STARTED** / **INTERVIEW_FINISHED** at the visit's
  ``started_at`` / ``finished_at`` (every visit opens the K form of one
  family, whatever its result), with the ``household_id``;
* a **HEARTBEAT** position ping halfway through about a third of the visits
  (``HEARTBEAT_SHARE``), with the house's GPS fix when there is one;
* one **SYNC** per upload (an online send or an offline burst), with
  ``pending_count`` 0: the queue is empty after it.

GPS and times are the record's own; the village is its 10-digit BPS code
(district BPS code + village BPS code) where the district has one.
"""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

from simulator.households import new_id
from simulator.tables import chance

#: Share of visits with a heartbeat ping halfway through.
HEARTBEAT_SHARE = 0.3
#: Minutes between log-in and the first visit of a day.
LOGIN_BEFORE = (5.0, 20.0)


def _event(
    rng: random.Random,
    event_type: str,
    at: dt.datetime,
    submission: dict[str, Any],
    bps_village: str | None,
) -> dict[str, Any]:
    enumeration = submission["enumeration"]
    location = submission["location"]
    return {
        "event_id": new_id(rng),
        "enumerator_id": enumeration["enumerator_id"],
        "event_type": event_type,
        "at": at.replace(microsecond=at.microsecond // 1000 * 1000),  # millis, as sent
        "latitude": None,
        "longitude": None,
        "gps_accuracy_m": None,
        "village_code": bps_village,
        "sls_code": location["sls_code"],
        "app_version": enumeration["app_version"],
        "device_id": enumeration["device_id"],
        "pending_count": None,
        "household_id": None,
    }


def _with_fix(event: dict[str, Any], submission: dict[str, Any]) -> dict[str, Any]:
    location = submission["location"]
    if location["latitude"] is not None:
        event["latitude"] = location["latitude"]
        event["longitude"] = location["longitude"]
        event["gps_accuracy_m"] = location["gps_accuracy_m"]
    return event


def login(
    rng: random.Random, submission: dict[str, Any], bps_village: str | None
) -> dict[str, Any]:
    """The log-in before the day's first visit (``submission`` is that visit's record)."""
    started = submission["enumeration"]["started_at"]
    at = started - dt.timedelta(minutes=rng.uniform(*LOGIN_BEFORE))
    return _event(rng, "LOGIN", at, submission, bps_village)


def visit_events(
    rng: random.Random, submission: dict[str, Any], bps_village: str | None
) -> list[dict[str, Any]]:
    """INTERVIEW_STARTED, maybe a HEARTBEAT halfway, INTERVIEW_FINISHED of one visit."""
    enumeration = submission["enumeration"]
    started, finished = enumeration["started_at"], enumeration["finished_at"]
    household = submission["household_id"]
    opened = _event(rng, "INTERVIEW_STARTED", started, submission, bps_village)
    closed = _event(rng, "INTERVIEW_FINISHED", finished, submission, bps_village)
    events = [_with_fix(opened, submission)]
    if chance(rng, HEARTBEAT_SHARE):
        halfway = started + (finished - started) / 2
        ping = _event(rng, "HEARTBEAT", halfway, submission, bps_village)
        events.append(_with_fix(ping, submission))
    events.append(_with_fix(closed, submission))
    opened["household_id"] = closed["household_id"] = household
    return events


def sync(rng: random.Random, at: dt.datetime, last: dict[str, Any]) -> dict[str, Any]:
    """The SYNC of an upload at ``at``; ``last`` is the upload's last event. Queue empty after."""
    return {
        **last,
        "event_id": new_id(rng),
        "event_type": "SYNC",
        "at": at.replace(microsecond=at.microsecond // 1000 * 1000),
        "latitude": None,
        "longitude": None,
        "gps_accuracy_m": None,
        "pending_count": 0,
        "household_id": None,
    }

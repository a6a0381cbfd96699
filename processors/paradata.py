"""Paradata events (EnumeratorEvent): what makes a decoded event storable. Pure.

An event the views cannot place is refused with ``PARADATA_EVENT_INVALID``:
no enumerator, no event id (the key that collapses an app's resent copy), or
an INTERVIEW_* event without the household it times. Anything else about an
event is the device's report and is kept as sent (coarsened by the sink):
a GPS fix off the map or a clock running ahead is itself paradata worth
seeing, not a reason to lose the event.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from processors.rules.base import Finding
from processors.rules.system import PARADATA_EVENT_INVALID

#: Event types that pair into one interview's duration (schema v2).
INTERVIEW_EVENTS = frozenset({"INTERVIEW_STARTED", "INTERVIEW_FINISHED"})


def event_problems(record: Mapping[str, Any]) -> list[str]:
    """Why a decoded EnumeratorEvent cannot be stored; empty when it can."""
    problems = []
    if not str(record.get("enumerator_id") or "").strip():
        problems.append("enumerator_id is blank")
    if not str(record.get("event_id") or "").strip():
        problems.append("event_id is blank")
    if record.get("event_type") in INTERVIEW_EVENTS and not record.get("household_id"):
        problems.append(f"{record.get('event_type')} without household_id")
    return problems


def event_findings(record: Mapping[str, Any]) -> list[Finding]:
    """The PARADATA_EVENT_INVALID finding of each problem (empty when storable)."""
    field_paths = {
        "enumerator_id is blank": "enumerator_id",
        "event_id is blank": "event_id",
    }
    return [
        PARADATA_EVENT_INVALID.finding(field_paths.get(problem, "household_id"), problem=problem)
        for problem in event_problems(record)
    ]

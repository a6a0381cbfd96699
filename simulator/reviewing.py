"""Supervisors' reviews in the simulated month: when they decide, what, and the enumerator's fix.

Pure: every function takes the random stream it draws from. The scenario
(:mod:`simulator.scenario`) schedules one review per revision a supervisor
sees, and after a return the enumerator's fixed revision and its review.

How supervisors (PML) behave:

* each accepted interview of their team is reviewed once its latest revision
  is in (after a planned correction, if any), **1-24 hours** after it was sent;
* they **approve** most, **return** a share (``return_rate``, 10 % by default)
  with a comment saying what to fix, and **reject for good** a few
  (``reject_rate``, 1 %), also with a comment;
* only complete interviews sent by the current app are returned: an old app
  cannot resubmit a revision, and a refusal or an empty house has nothing to
  fix, so a return drawn for those is an approval;
* a household is returned at most ``max_returns`` times (2): the review of its
  last fix approves or rejects it;
* the enumerator fixes a returned interview **2-30 hours** later: the same
  household, enumerator and location, revision + 1 with a new submission id
  (the worker's ownership rules accept it), the floor area corrected; it is
  then reviewed again.

A review or fix that would fall after the fieldwork window does not happen
in the run: at its end some interviews still await review and some returned
ones are not yet fixed, as on the last day of real fieldwork (and the run's
wall time stays about the configured duration).
"""

from __future__ import annotations

import datetime as dt
import random
from enum import StrEnum
from typing import Any

from simulator.config import ReviewConfig
from simulator.households import new_id

RETURN_COMMENTS = (
    "Luas lantai tidak sesuai pengamatan, mohon dicek ulang.",
    "Mohon konfirmasi ulang rincian perumahan dengan responden.",
    "Isian bangunan tidak konsisten, mohon diperbaiki.",
)
REJECT_COMMENTS = (
    "Wawancara tidak dilakukan dengan anggota rumah tangga.",
    "Keluarga sudah dicacah di satuan lingkungan setempat lain.",
)


class Decision(StrEnum):
    """ReviewOutcome symbols."""

    APPROVED = "APPROVED"
    RETURNED = "RETURNED"
    REJECTED_FINAL = "REJECTED_FINAL"


def decide(rng: random.Random, config: ReviewConfig, *, returnable: bool, returns: int) -> Decision:
    """One supervisor's decision on one revision."""
    draw = rng.random()
    if draw < config.reject_rate:
        return Decision.REJECTED_FINAL
    returned = draw < config.reject_rate + config.return_rate
    if returned and returnable and returns < config.max_returns:
        return Decision.RETURNED
    return Decision.APPROVED


def within_window(wanted: dt.datetime, end: dt.datetime) -> dt.datetime | None:
    """``wanted``, or ``None`` when it falls after the window's ``end`` (it does not happen)."""
    return wanted if wanted <= end else None


def review_at(rng: random.Random, sent: dt.datetime, end: dt.datetime) -> dt.datetime | None:
    """When the supervisor decides on a revision sent at ``sent``: 1-24 hours later."""
    return within_window(sent + dt.timedelta(hours=rng.uniform(1, 24)), end)


def fix_at(rng: random.Random, returned: dt.datetime, end: dt.datetime) -> dt.datetime | None:
    """When the enumerator resubmits a returned interview: 2-30 hours after the return."""
    return within_window(returned + dt.timedelta(hours=rng.uniform(2, 30)), end)


def review_record(
    rng: random.Random,
    submission: dict[str, Any],
    supervisor_id: str,
    decision: Decision,
    at: dt.datetime,
) -> dict[str, Any]:
    """The ReviewDecision record of ``decision`` on ``submission``'s revision."""
    comment: str | None = None
    if decision is Decision.RETURNED:
        comment = rng.choice(RETURN_COMMENTS)
    elif decision is Decision.REJECTED_FINAL:
        comment = rng.choice(REJECT_COMMENTS)
    return {
        "review_id": new_id(rng),
        "household_id": submission["household_id"],
        "submission_id": submission["submission_id"],
        "revision": submission["revision"],
        "enumerator_id": submission["enumeration"]["enumerator_id"],
        "supervisor_id": supervisor_id,
        "decision": decision.value,
        "comment": comment,
        "decided_at": at.replace(microsecond=at.microsecond // 1000 * 1000),  # millis
    }


def fix(record: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    """The enumerator's fixed revision of a returned interview: revision + 1, floor area checked.

    Members stay as they were, so the household's member count does not
    change; everything else (household, enumerator, location, times) is kept,
    so the revision passes every rule the returned one passed.
    """
    fixed = {**record, "submission_id": new_id(rng), "revision": record["revision"] + 1}
    housing = record.get("housing")
    if isinstance(housing, dict) and isinstance(housing.get("floor_area_m2"), int):
        home = dict(housing)
        home["floor_area_m2"] = min(400, max(9, home["floor_area_m2"] + rng.choice((-6, 6))))
        fixed["housing"] = home
    return fixed

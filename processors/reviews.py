"""Supervisor review decisions: whether one may stand. Pure functions of a review and state.

A supervisor (PML) reviews an accepted interview of their own team and
approves it, returns it to the enumerator with a comment, or rejects it for
good (also with a comment). The gateway applies the checks it can make from
the request alone (:func:`comment_problem`, :func:`outside_team`); the worker
applies all of them (:func:`review_findings`) with what only it knows: the
household's dedup state (:class:`~processors.dedup.HouseholdState`: the
latest accepted revision and the owner, the enumerator of the first accepted
revision), read on the partition the household's submissions and reviews
share.

The frame decides teams as it says *now*: a supervisor who took over a team
(a frame change and a restart) reviews its households, the former one no
longer does. Each failed check is one finding of
:mod:`processors.rules.reviews`; the first failing check of the team and
revision chain is reported (one reason is enough to act on), the comment
check beside it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from processors.dedup import HouseholdState
from processors.rules.base import Finding
from processors.rules.reviews import (
    REVIEW_COMMENT_MISSING,
    REVIEW_OUTSIDE_TEAM,
    REVIEW_STALE_REVISION,
    REVIEW_UNKNOWN_HOUSEHOLD,
    REVIEW_UNKNOWN_REVISION,
)
from schemas.frame import Frame

#: The decisions that must say why (ReviewOutcome symbols).
NEEDS_COMMENT = frozenset({"RETURNED", "REJECTED_FINAL"})


def supervisors(frame: Frame) -> frozenset[str]:
    """Every supervisor id of the frame: the principals that may review."""
    return frozenset(enumerator.supervisor_id for enumerator in frame.enumerators.values())


def comment_problem(decision: Any, comment: Any) -> str | None:
    """Why the comment does not do for this decision (``None``: it does)."""
    if decision in NEEDS_COMMENT and not (isinstance(comment, str) and comment.strip()):
        return f"a {decision} decision needs a comment for the enumerator"
    return None


def outside_team(frame: Frame, supervisor_id: str, enumerator_id: str) -> bool:
    """Whether ``enumerator_id`` is not in ``supervisor_id``'s team (unknown counts as outside)."""
    return frame.supervisor_of(enumerator_id) != supervisor_id


def review_findings(
    review: Mapping[str, Any], state: HouseholdState | None, frame: Frame, at_ms: int = 0
) -> list[Finding]:
    """Why the worker cannot accept ``review`` (empty: it stands). ``state`` is its household's.

    ``at_ms``: the review's Kafka record timestamp (0: unknown).
    """
    findings: list[Finding] = []
    decision = review.get("decision")
    if comment_problem(decision, review.get("comment")) is not None:
        findings.append(REVIEW_COMMENT_MISSING.finding("comment", decision=decision))
    team = _team_or_revision(review, state, frame, at_ms)
    if team is not None:
        findings.append(team)
    return findings


def _team_or_revision(
    review: Mapping[str, Any], state: HouseholdState | None, frame: Frame, at_ms: int
) -> Finding | None:
    supervisor = str(review["supervisor_id"])
    named = str(review["enumerator_id"])
    if outside_team(frame, supervisor, named):
        return REVIEW_OUTSIDE_TEAM.finding("enumerator_id", supervisor=supervisor, enumerator=named)
    if state is None or state.revision < 0:
        return REVIEW_UNKNOWN_HOUSEHOLD.finding("household_id", household=review["household_id"])
    # a state from before ownership was kept knows no owner: the named enumerator stands in
    owner = state.owner.enumerator_id if state.owner is not None else named
    if outside_team(frame, supervisor, owner):
        return REVIEW_OUTSIDE_TEAM.finding("household_id", supervisor=supervisor, enumerator=owner)
    revision = int(review["revision"])
    if revision < state.revision and not _newer_came_after(state, at_ms):
        return REVIEW_STALE_REVISION.finding("revision", revision=revision, latest=state.revision)
    if revision > state.revision:
        return REVIEW_UNKNOWN_REVISION.finding("revision", revision=revision, latest=state.revision)
    return None


def _newer_came_after(state: HouseholdState, at_ms: int) -> bool:
    """Whether the household's newer revision reached Kafka after the review did.

    Then the review was of the latest revision when it was made: a decision,
    not a stale one, whichever the worker happened to read first. Both are
    Kafka record timestamps; unknown (0) on either side keeps the old rule.
    """
    return bool(state.accepted_at_ms and at_ms and state.accepted_at_ms > at_ms)

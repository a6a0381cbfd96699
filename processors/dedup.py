"""Deduplication decisions: one pure function of a household's state and a submission.

Field apps retry (a lost HTTP answer, a sync after being offline), so the same
``submission_id`` can arrive several times; a correction arrives as a new
``revision`` of the same ``household_id``. The worker keeps, per household, the
highest revision accepted and the ids it has recently seen (in a Faust table
backed by a changelog topic, so the state survives restarts and rebalances),
and asks :func:`decide` what to do with each arrival.

Correct counts do not rest on this: the ClickHouse sink is idempotent on its
own (ReplacingMergeTree by revision, ``uniqExact`` progress). This stage keeps
retries from flooding the valid topic and makes "superseded" visible.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

#: Submission ids remembered per household: enough for every retry of the last
#: few revisions, small enough to keep a regency's state in memory. A retry of
#: an id evicted from this window is caught as STALE when a newer revision was
#: accepted since; only under the *same* revision would it pass again, and the
#: idempotent sink (ReplacingMergeTree, uniqExact) absorbs that rare case.
RECENT_IDS = 4


class Verdict(StrEnum):
    """What to do with one arrival."""

    NEW = "new"  # first revision of a household we have not seen
    REVISION = "revision"  # a newer revision: supersedes the older one downstream
    DUPLICATE = "duplicate"  # this submission_id was seen already: drop
    STALE = "stale"  # an older revision arriving after a newer one: drop
    SAME_REVISION = "same_revision"  # new content under an existing revision: accept, flag


@dataclass(frozen=True, slots=True)
class HouseholdState:
    """What the worker remembers about one household."""

    revision: int
    recent_ids: tuple[str, ...]

    def to_json(self) -> list[Any]:
        """Compact form for the changelog: ``[revision, [ids...]]``."""
        return [self.revision, list(self.recent_ids)]

    @classmethod
    def from_json(cls, value: Any) -> HouseholdState | None:
        if not value:
            return None
        revision, ids = value
        return cls(int(revision), tuple(ids))


@dataclass(frozen=True, slots=True)
class Decision:
    """The verdict and the state to store afterwards (``None``: leave it unchanged)."""

    verdict: Verdict
    new_state: HouseholdState | None

    @property
    def forward(self) -> bool:
        """Whether the submission goes on to validation and the valid topic."""
        return self.verdict in {Verdict.NEW, Verdict.REVISION, Verdict.SAME_REVISION}


def _remember(ids: tuple[str, ...], submission_id: str) -> tuple[str, ...]:
    return (*ids, submission_id)[-RECENT_IDS:]


def decide(state: HouseholdState | None, submission_id: str, revision: int) -> Decision:
    """Decide on one arrival given what we knew of its household."""
    if state is None:
        return Decision(Verdict.NEW, HouseholdState(revision, (submission_id,)))
    if submission_id in state.recent_ids:
        return Decision(Verdict.DUPLICATE, None)
    remembered = _remember(state.recent_ids, submission_id)
    if revision > state.revision:
        return Decision(Verdict.REVISION, HouseholdState(revision, remembered))
    if revision < state.revision:
        return Decision(Verdict.STALE, HouseholdState(state.revision, remembered))
    return Decision(Verdict.SAME_REVISION, HouseholdState(revision, remembered))


def seen_rejected(state: HouseholdState | None, submission_id: str) -> HouseholdState:
    """Remember a rejected submission's id so its retries are not rejected again and again.

    The revision does not advance: a rejected revision never reached the tables.
    """
    if state is None:
        return HouseholdState(-1, (submission_id,))
    return HouseholdState(state.revision, _remember(state.recent_ids, submission_id))

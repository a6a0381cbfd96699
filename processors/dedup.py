"""Deduplication and ownership decisions: one pure function of a household's state and an arrival.

Field apps retry (a lost HTTP answer, a sync after being offline), so the same
``submission_id`` can arrive several times; a correction arrives as a new
``revision`` of the same ``household_id``. The worker keeps, per household, the
highest revision accepted, the ids it has recently seen, the assignment the
household belongs to and the highest revision it has reached (in a Faust table
backed by a changelog topic, so the state survives restarts and rebalances),
and asks :func:`decide` what to do with each arrival.

Correct counts do not rest on the duplicate checks: the ClickHouse sink is
idempotent on its own (ReplacingMergeTree by revision, ``uniqExact``
progress). Ownership does rest on this stage: "the newest revision wins" in
the sink, so whoever may send a revision may overwrite a household.

**Ownership.** A household belongs to the assignment it was first accepted
under: the SLS of its first accepted revision (the region master's village
code and the SLS code, the unit the enumeration frame assigns) together with
the enumerator who sent it (:class:`Owner`). A later revision is accepted only
from an enumerator who *holds* that assignment (:func:`holds_assignment`):

* with a frame and a village that resolved: every enumerator the frame
  *currently* assigns that SLS. So a reassignment is a frame change (the SLS
  listed under enumerator B instead of A, and a worker restart): B may then
  revise A's households there and A may not, which is also what
  OUTSIDE_ASSIGNMENT already says of A's revisions located in that SLS. The
  owner is never rewritten by a later revision, so nobody moves a household
  into their own area by revising it;
* without a frame, or when the village did not resolve (a BPS-coded village
  the shipped master cannot verify): nobody can say who holds the SLS, so
  only the enumerator of the first accepted revision may revise.

A *team* (the enumerators under one supervisor, PML) holds nothing by itself:
the frame assigns SLS to enumerators, and a teammate allowed to work an SLS
is listed under it in ``assignments.csv`` (an SLS may be listed under several
enumerators). Letting a whole team revise would reopen the takeover between
teammates, who are exactly the officers working next to each other.

**Revision jumps.** A revision more than :data:`MAX_REVISION_STEP` above the
highest revision the household has *reached* is refused: otherwise one record
with revision 2147483647 makes every genuine later revision stale (and the
app's next one would not fit Avro's ``int``). *Reached* counts every revision
that passed the ownership and jump checks, accepted or rejected by a rule, so
corrections rejected in a row never exhaust the step; revision 1 (up to the
step) may start a household. Out-of-order arrivals are unaffected: the jump
is measured upwards only, and an older revision arriving late is STALE.

A refusal for ownership or a jump leaves the state untouched: such a record
must not evict the owner's recent submission ids, nor raise the ceiling.

**Serialized form** (the changelog's JSON): ``[revision, [ids...], owner,
reached]`` with ``owner`` ``[enumerator, village or null, sls]`` or ``null``.
States written before ownership existed are ``[revision, [ids...]]``: they
load with an unknown owner and ``reached`` = ``revision``, and the next
*accepted* revision's sender becomes the owner. That leaves a takeover open
for the first revision after the upgrade of a household written before it;
the alternative, asking ClickHouse for the household's last row on the hot
path, costs a query per household. Older workers cannot read the new form
(the upgrade goes forward only).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any, NamedTuple

from schemas.frame import Frame

#: Submission ids remembered per household: enough for every retry of the last
#: few revisions, small enough to keep a regency's state in memory. A retry of
#: an id evicted from this window is caught as STALE when a newer revision was
#: accepted since; only under the *same* revision would it pass again, and the
#: idempotent sink (ReplacingMergeTree, uniqExact) absorbs that rare case.
RECENT_IDS = 4

#: How far a revision may go past the highest revision its household reached.
#: The app adds 1 per correction it sends, and a rejected correction still
#: counts as reached, so a gap is only corrections that never reached Kafka
#: (the SDK and the gateway retry until a receipt) or several edits folded
#: into one send. A family is corrected a few times in a month of fieldwork
#: (the supervisor's check, a revisit); ten missing in a row is a broken app
#: worth a look, while a bogus revision can push genuine ones aside by ten at
#: most instead of forever.
MAX_REVISION_STEP = 10


class Verdict(StrEnum):
    """What to do with one arrival."""

    NEW = "new"  # first revision of a household we have not seen
    REVISION = "revision"  # a newer revision: supersedes the older one downstream
    DUPLICATE = "duplicate"  # this submission_id was seen already: drop
    STALE = "stale"  # an older revision arriving after a newer one: drop
    SAME_REVISION = "same_revision"  # new content under an existing revision: accept, flag
    FOREIGN = "foreign"  # from an enumerator not holding the household's assignment: reject
    JUMP = "jump"  # a revision too far past the highest reached: reject


#: Reason code of each verdict that rejects the arrival.
REJECTION_CODES: dict[Verdict, str] = {
    Verdict.FOREIGN: "HOUSEHOLD_OWNED_BY_OTHER_ASSIGNMENT",
    Verdict.JUMP: "REVISION_JUMP",
}


class Owner(NamedTuple):
    """The assignment a household belongs to: its first accepted revision's sender and SLS.

    A tuple: it travels inside every state across the process boundary and
    into the changelog's JSON as a plain list.
    """

    enumerator_id: str
    village_code: str | None  # the region master's code; None when the village did not resolve
    sls_code: str


@dataclass(frozen=True, slots=True)
class HouseholdState:
    """What the worker remembers about one household.

    ``revision`` is the highest accepted (-1: none yet), ``reached`` the
    highest that passed the ownership and jump checks (never below
    ``revision``), ``owner`` ``None`` until a revision is accepted (or for a
    state written before ownership existed). ``accepted_at_ms`` is the Kafka
    record timestamp of the accepted revision (0: unknown): a review of an
    older revision written before it is a decision on what was then the
    latest, not a stale one, however late the worker reads it.
    """

    revision: int
    recent_ids: tuple[str, ...]
    owner: Owner | None = None
    reached: int = 0
    accepted_at_ms: int = 0

    def to_json(self) -> list[Any]:
        """Compact form for the changelog: ``[revision, [ids...], owner, reached, at_ms]``."""
        return [self.revision, list(self.recent_ids), self.owner, self.reached, self.accepted_at_ms]

    @classmethod
    def from_json(cls, value: Any) -> HouseholdState | None:
        """The state of any earlier form; ``[revision, [ids]]`` has an unknown owner."""
        if not value:
            return None
        if len(value) == 2:
            revision, ids = value
            return cls(int(revision), tuple(ids), None, max(int(revision), 0))
        revision, ids, owner, reached, *rest = value
        if owner is not None and type(owner) is not Owner:
            owner = Owner(*owner)
        return cls(int(revision), tuple(ids), owner, int(reached), int(rest[0]) if rest else 0)


@dataclass(frozen=True, slots=True)
class Decision:
    """The verdict and the state to store afterwards (``None``: leave it unchanged)."""

    verdict: Verdict
    new_state: HouseholdState | None

    @property
    def forward(self) -> bool:
        """Whether the submission goes on to validation and the valid topic."""
        return self.verdict in _FORWARD

    @property
    def rejection_code(self) -> str | None:
        """The reason code when this verdict rejects the submission, else ``None``."""
        return REJECTION_CODES.get(self.verdict)


_FORWARD = frozenset({Verdict.NEW, Verdict.REVISION, Verdict.SAME_REVISION})
#: The verdicts that change nothing, made once: most arrivals of a retry storm are these.
_DUPLICATE = Decision(Verdict.DUPLICATE, None)
_FOREIGN = Decision(Verdict.FOREIGN, None)
_JUMP = Decision(Verdict.JUMP, None)


def holds_assignment(frame: Frame, owner: Owner, enumerator_id: str) -> bool:
    """Whether ``enumerator_id`` may revise a household that belongs to ``owner``.

    The frame's *current* assignment of the owner's SLS decides, so that a
    reassignment takes effect without touching any state; without a frame or
    a resolved village only the first enumerator may (see the module's text).
    """
    if frame.empty or owner.village_code is None:
        return enumerator_id == owner.enumerator_id
    return frame.is_assigned(enumerator_id, owner.village_code, owner.sls_code)


def _remember(ids: tuple[str, ...], submission_id: str) -> tuple[str, ...]:
    return (*ids, submission_id)[-RECENT_IDS:]


def decide(
    state: HouseholdState | None,
    submission_id: str,
    revision: int,
    claim: Owner,
    frame: Frame,
    *,
    at_ms: int = 0,
) -> Decision:
    """Decide on one arrival given what we knew of its household.

    ``at_ms``: the arrival's Kafka record timestamp, kept with a newly accepted revision.

    ``claim`` is the arrival's own sender and SLS: it becomes the owner when
    this arrival is the household's first accepted revision. In order: a
    known submission id is a duplicate (whoever resends it, it changes
    nothing); then ownership, then the jump, then the revision order.
    """
    if state is not None:
        if submission_id in state.recent_ids:
            return _DUPLICATE
        if state.owner is not None and not holds_assignment(
            frame, state.owner, claim.enumerator_id
        ):
            return _FOREIGN
    reached = state.reached if state is not None else 0
    if revision > reached + MAX_REVISION_STEP:
        return _JUMP
    if state is None:
        first = HouseholdState(revision, (submission_id,), claim, max(revision, 0), at_ms)
        return Decision(Verdict.NEW, first)
    remembered = _remember(state.recent_ids, submission_id)
    if revision < state.revision:
        return Decision(
            Verdict.STALE,
            HouseholdState(state.revision, remembered, state.owner, reached, state.accepted_at_ms),
        )
    newer = revision > state.revision
    verdict = Verdict.REVISION if newer else Verdict.SAME_REVISION
    owner = state.owner or claim
    accepted_at = at_ms if newer else state.accepted_at_ms
    return Decision(
        verdict, HouseholdState(revision, remembered, owner, max(reached, revision), accepted_at)
    )


def seen_rejected(
    state: HouseholdState | None, submission_id: str, revision: int
) -> HouseholdState:
    """Remember a submission a rule rejected, so its retries are not rejected again and again.

    The accepted revision and the owner do not change: a rejected revision
    never reached the tables. Its revision counts as reached, so an app whose
    corrections keep failing the rules is never stopped by the jump check.
    """
    if state is None:
        return HouseholdState(-1, (submission_id,), None, max(revision, 0))
    return HouseholdState(
        state.revision,
        _remember(state.recent_ids, submission_id),
        state.owner,
        max(state.reached, revision),
        state.accepted_at_ms,
    )

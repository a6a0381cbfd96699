"""Deduplication and ownership decisions, table-driven, plus properties over arrival streams.

The properties: replays never forward twice; nobody outside the assignment
ever gets a revision through or changes the state; an owner counting up in
steps within the limit is never refused, whatever the rules reject meanwhile.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from processors.dedup import (
    MAX_REVISION_STEP,
    RECENT_IDS,
    HouseholdState,
    Owner,
    Verdict,
    decide,
    holds_assignment,
    seen_rejected,
)
from schemas.frame import Assignment, Enumerator, Frame

S1, S2, S3 = "sub-1", "sub-2", "sub-3"
CAKRU = "35.09.02.2001"
#: Enumerator 0412 sends from SLS 0003, 0413 from SLS 0004 (both of Cakru, one team).
A = Owner("0412", CAKRU, "0003")
B = Owner("0413", CAKRU, "0004")
FRAME = Frame.build(
    [Enumerator("0412", "041", "35.09"), Enumerator("0413", "041", "35.09")],
    [Assignment("0412", CAKRU, "0003"), Assignment("0413", CAKRU, "0004")],
    [],
)
#: The frame after SLS 0003 was reassigned from 0412 to 0413.
REASSIGNED = Frame.build(
    FRAME.enumerators.values(),
    [Assignment("0413", CAKRU, "0003"), Assignment("0413", CAKRU, "0004")],
    [],
)
NO_FRAME = Frame()


def state(revision: int, ids: tuple[str, ...], owner: Owner | None = A) -> HouseholdState:
    return HouseholdState(revision, ids, owner, max(revision, 0))


@pytest.mark.parametrize(
    ("before", "submission", "revision", "verdict", "after"),
    [
        (None, S1, 1, Verdict.NEW, state(1, (S1,))),
        (state(1, (S1,)), S1, 1, Verdict.DUPLICATE, None),
        (state(1, (S1,)), S2, 2, Verdict.REVISION, state(2, (S1, S2))),
        (state(2, (S1, S2)), S1, 1, Verdict.DUPLICATE, None),
        (state(2, (S2,)), S3, 1, Verdict.STALE, state(2, (S2, S3))),
        (state(2, (S2,)), S3, 2, Verdict.SAME_REVISION, state(2, (S2, S3))),
        # the step: revision 1 up to the step may start, one more may not
        (None, S1, MAX_REVISION_STEP, Verdict.NEW, state(MAX_REVISION_STEP, (S1,))),
        (None, S1, MAX_REVISION_STEP + 1, Verdict.JUMP, None),
        (state(2, (S1,)), S2, 2 + MAX_REVISION_STEP, Verdict.REVISION, None),
        (state(2, (S1,)), S2, 3 + MAX_REVISION_STEP, Verdict.JUMP, None),
        (state(2, (S1,)), S2, 2**31 - 1, Verdict.JUMP, None),
    ],
)
def test_decide_for_the_owner(
    before: HouseholdState | None,
    submission: str,
    revision: int,
    verdict: Verdict,
    after: HouseholdState | None,
) -> None:
    decision = decide(before, submission, revision, A, FRAME)
    assert decision.verdict is verdict
    if after is not None or verdict in {Verdict.DUPLICATE, Verdict.JUMP}:
        assert decision.new_state == after
    assert decision.forward is (verdict in {Verdict.NEW, Verdict.REVISION, Verdict.SAME_REVISION})
    assert (decision.rejection_code is not None) is (verdict is Verdict.JUMP)


def test_the_takeover_of_the_issue_is_refused_and_the_owner_goes_on() -> None:
    """B posts A's household from B's own SLS with revision 2**31-1; A's revision 2 follows."""
    accepted = decide(None, S1, 1, A, FRAME).new_state
    takeover = decide(accepted, S2, 2**31 - 1, B, FRAME)
    assert takeover.verdict is Verdict.FOREIGN
    assert takeover.rejection_code == "HOUSEHOLD_OWNED_BY_OTHER_ASSIGNMENT"
    assert takeover.new_state is None and not takeover.forward
    genuine = decide(accepted, S3, 2, A, FRAME)
    assert genuine.verdict is Verdict.REVISION
    assert genuine.new_state == HouseholdState(2, (S1, S3), A, 2)


@pytest.mark.parametrize("revision", [0, 1, 2, 3])
def test_an_outsider_is_refused_for_older_equal_and_newer_revisions(revision: int) -> None:
    assert decide(state(2, (S1,)), S2, revision, B, FRAME).verdict is Verdict.FOREIGN


def test_an_outsiders_resend_of_a_known_id_is_only_a_duplicate() -> None:
    """Nothing changes either way; a duplicate is not worth a rejection."""
    assert decide(state(1, (S1,)), S1, 1, B, FRAME).verdict is Verdict.DUPLICATE


def test_a_reassignment_in_the_frame_moves_the_right_to_revise() -> None:
    owned = state(1, (S1,))
    assert decide(owned, S2, 2, B, REASSIGNED).verdict is Verdict.REVISION
    assert decide(owned, S2, 2, A, REASSIGNED).verdict is Verdict.FOREIGN
    revised = decide(owned, S2, 2, B, REASSIGNED).new_state
    assert revised is not None and revised.owner == A, "the owner stays the first assignment"


def test_a_second_enumerator_listed_on_the_sls_may_revise() -> None:
    shared = Frame.build(
        FRAME.enumerators.values(), [*_assignments(FRAME), Assignment("0413", CAKRU, "0003")], []
    )
    assert decide(state(1, (S1,)), S2, 2, B, shared).verdict is Verdict.REVISION


def _assignments(frame: Frame) -> list[Assignment]:
    return [
        Assignment(enumerator, village, sls)
        for enumerator, cells in frame.assignments.items()
        for village, sls in cells
    ]


@pytest.mark.parametrize(
    ("frame", "owner", "enumerator", "holds"),
    [
        (FRAME, A, "0412", True),
        (FRAME, A, "0413", False),
        (FRAME, A, "9999", False),  # not in the roster at all
        (REASSIGNED, A, "0412", False),
        (REASSIGNED, A, "0413", True),
        (NO_FRAME, A, "0412", True),  # no frame: the first enumerator only
        (NO_FRAME, A, "0413", False),
        (FRAME, Owner("0412", None, "0003"), "0412", True),  # unverifiable village: likewise
        (FRAME, Owner("0412", None, "0003"), "0413", False),
        (FRAME, Owner("0412", CAKRU, "0009"), "0412", False),  # an SLS nobody holds now
    ],
)
def test_holds_assignment(frame: Frame, owner: Owner, enumerator: str, holds: bool) -> None:
    assert holds_assignment(frame, owner, enumerator) is holds


def test_a_rejected_id_is_remembered_and_counts_as_reached() -> None:
    after = seen_rejected(state(3, (S1,)), S2, 4)
    assert after == HouseholdState(3, (S1, S2), A, 4)
    assert decide(after, S2, 4, A, FRAME).verdict is Verdict.DUPLICATE
    fresh = seen_rejected(None, S1, 1)
    assert fresh == HouseholdState(-1, (S1,), None, 1)
    first = decide(fresh, S2, 2, B, FRAME)  # nobody owned it yet: the first accepted does
    assert first.verdict is Verdict.REVISION
    assert first.new_state == HouseholdState(2, (S1, S2), B, 2)


def test_corrections_rejected_in_a_row_never_hit_the_step() -> None:
    current: HouseholdState | None = decide(None, S1, 1, A, FRAME).new_state
    for revision in range(2, 4 * MAX_REVISION_STEP):
        decision = decide(current, f"sub-{revision}", revision, A, FRAME)
        assert decision.forward, revision
        current = seen_rejected(current, f"sub-{revision}", revision)  # every rule says no
    assert current is not None and current.revision == 1


def test_refusals_leave_the_state_alone() -> None:
    before = state(2, (S1,))
    for claim, revision in ((B, 3), (A, 2**31 - 1)):
        assert decide(before, S2, revision, claim, FRAME).new_state is None


def test_changelog_form_round_trips_through_json() -> None:
    for value in (
        HouseholdState(5, (S1, S2), A, 7),
        HouseholdState(-1, (S1,), None, 3),
        HouseholdState(2, (S1,), Owner("0412", None, "0003"), 2),
        HouseholdState(2, (S1,), A, 2, 1_700_000_000_123),
    ):
        loaded = HouseholdState.from_json(json.loads(json.dumps(value.to_json())))
        assert loaded == value
        assert loaded is not None and (loaded.owner is None or type(loaded.owner) is Owner)
        assert HouseholdState.from_json(value.to_json()) == value  # the in-memory store's form
    assert HouseholdState.from_json(None) is None


def test_a_state_keeps_when_its_accepted_revision_reached_kafka() -> None:
    """For reviews read late (processors/reviews.py); a resend or a stale one keeps it."""
    assert HouseholdState.from_json([2, [S1], None, 2]) == HouseholdState(2, (S1,), None, 2, 0)
    first = decide(None, S1, 1, A, FRAME, at_ms=1000).new_state
    assert first is not None and first.accepted_at_ms == 1000
    newer = decide(first, S2, 2, A, FRAME, at_ms=2000).new_state
    assert newer is not None and newer.accepted_at_ms == 2000
    older = decide(newer, S3, 1, A, FRAME, at_ms=3000).new_state
    assert older is not None and older.accepted_at_ms == 2000
    again = decide(newer, "sub-9", 2, A, FRAME, at_ms=4000).new_state
    assert again is not None and again.accepted_at_ms == 2000


def test_a_state_written_before_ownership_loads_and_adopts_the_next_accepted_owner() -> None:
    old = HouseholdState.from_json(json.loads('[3, ["sub-1"]]'))
    assert old == HouseholdState(3, (S1,), None, 3)
    stale = decide(old, S2, 2, B, FRAME)
    assert stale.verdict is Verdict.STALE and stale.new_state is not None
    assert stale.new_state.owner is None, "only an accepted revision adopts an owner"
    adopted = decide(old, S3, 4, B, FRAME).new_state
    assert adopted == HouseholdState(4, (S1, S3), B, 4)
    assert decide(adopted, "sub-4", 5, A, FRAME).verdict is Verdict.FOREIGN
    assert HouseholdState.from_json([-1, ["sub-1"]]) == HouseholdState(-1, (S1,), None, 0)


@given(
    arrivals=st.lists(
        st.tuples(
            st.integers(min_value=0, max_value=RECENT_IDS - 1),
            st.integers(min_value=1, max_value=4),
        ),
        min_size=1,
        max_size=40,
    )
)
def test_replaying_everything_forwards_nothing_new(arrivals: list[tuple[int, int]]) -> None:
    """A submission id is forwarded at most once, and a replay forwards nothing.

    The guarantee holds while a household has at most RECENT_IDS distinct
    submission ids in play (memory is bounded per household); beyond that, a
    retry of an evicted id under the current revision is forwarded again and
    the idempotent sink absorbs it (see processors/dedup.py).
    """
    # a submission id always carries the same revision, as an app's retries do
    stream = [(f"sub-{n}", revision) for n, revision in arrivals]
    revisions = {sid: rev for sid, rev in reversed(stream)}
    stream = [(sid, revisions[sid]) for sid, _ in stream]
    current: HouseholdState | None = None
    forwarded: list[str] = []
    for sid, revision in stream:
        decision = decide(current, sid, revision, A, FRAME)
        if decision.forward:
            forwarded.append(sid)
        current = decision.new_state or current
    assert len(forwarded) == len(set(forwarded)), "a submission id is forwarded at most once"
    for sid, revision in stream[-RECENT_IDS:]:
        assert not decide(current, sid, revision, A, FRAME).forward


#: One arrival: sender (A or B), revision, whether the rules reject it if forwarded.
ARRIVAL = st.tuples(
    st.sampled_from([A, B]),
    st.one_of(st.integers(min_value=-2, max_value=30), st.just(2**31 - 1)),
    st.booleans(),
)


@given(arrivals=st.lists(ARRIVAL, max_size=40), reassigned=st.booleans())
def test_nobody_outside_the_assignment_gets_through_or_moves_the_state(
    arrivals: list[tuple[Owner, int, bool]], reassigned: bool
) -> None:
    """Whatever arrives, once a household is owned only holders are forwarded or change it.

    And every accepted revision stays within the step of the one before it.
    """
    frame = REASSIGNED if reassigned else FRAME
    current: HouseholdState | None = None
    for n, (claim, revision, rule_rejects) in enumerate(arrivals):
        decision = decide(current, f"sub-{n}", revision, claim, frame)
        owner = current.owner if current else None
        if owner is not None and not holds_assignment(frame, owner, claim.enumerator_id):
            assert decision.verdict is Verdict.FOREIGN and decision.new_state is None
            continue
        if decision.forward:
            reached = current.reached if current else 0
            assert revision <= reached + MAX_REVISION_STEP
        if decision.forward and rule_rejects:
            current = seen_rejected(current, f"sub-{n}", revision)
        else:
            current = decision.new_state or current
        if current is not None and current.revision >= 0:
            assert current.owner is not None and current.reached >= current.revision
        if owner is not None:
            assert current is not None and current.owner == owner, "the owner never changes"


@given(
    steps=st.lists(
        st.tuples(st.integers(min_value=1, max_value=MAX_REVISION_STEP), st.booleans()),
        min_size=1,
        max_size=30,
    )
)
def test_an_owner_counting_up_within_the_step_is_never_refused(
    steps: list[tuple[int, bool]],
) -> None:
    """Gaps up to the step, any of the revisions rejected by the rules: never a JUMP."""
    current: HouseholdState | None = None
    revision = 0
    for n, (step, rule_rejects) in enumerate(steps):
        revision += step
        decision = decide(current, f"sub-{n}", revision, A, FRAME)
        assert decision.forward, (revision, current)
        if rule_rejects:
            current = seen_rejected(current, f"sub-{n}", revision)
        else:
            current = decision.new_state

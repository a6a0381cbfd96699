"""Deduplication decisions, table-driven, plus a property: replays never forward twice."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from processors.dedup import RECENT_IDS, HouseholdState, Verdict, decide, seen_rejected

S1, S2, S3 = "sub-1", "sub-2", "sub-3"


@pytest.mark.parametrize(
    ("state", "submission", "revision", "verdict", "after"),
    [
        (None, S1, 1, Verdict.NEW, HouseholdState(1, (S1,))),
        (HouseholdState(1, (S1,)), S1, 1, Verdict.DUPLICATE, None),
        (HouseholdState(1, (S1,)), S2, 2, Verdict.REVISION, HouseholdState(2, (S1, S2))),
        (HouseholdState(2, (S1, S2)), S1, 1, Verdict.DUPLICATE, None),
        (HouseholdState(2, (S2,)), S3, 1, Verdict.STALE, HouseholdState(2, (S2, S3))),
        (HouseholdState(2, (S2,)), S3, 2, Verdict.SAME_REVISION, HouseholdState(2, (S2, S3))),
    ],
)
def test_decide(
    state: HouseholdState | None,
    submission: str,
    revision: int,
    verdict: Verdict,
    after: HouseholdState | None,
) -> None:
    decision = decide(state, submission, revision)
    assert decision.verdict is verdict
    assert decision.new_state == after
    assert decision.forward is (verdict in {Verdict.NEW, Verdict.REVISION, Verdict.SAME_REVISION})


def test_memory_is_bounded() -> None:
    state: HouseholdState | None = None
    for revision in range(1, 20):
        state = decide(state, f"sub-{revision}", revision).new_state
    assert state is not None and len(state.recent_ids) == RECENT_IDS
    assert state.recent_ids[-1] == "sub-19"


def test_a_rejected_id_is_remembered_without_advancing_the_revision() -> None:
    state = seen_rejected(HouseholdState(3, (S1,)), S2)
    assert state == HouseholdState(3, (S1, S2))
    assert decide(state, S2, 4).verdict is Verdict.DUPLICATE
    fresh = seen_rejected(None, S1)
    assert decide(fresh, S2, 1).verdict is Verdict.REVISION  # the first accepted revision


def test_changelog_form_round_trips() -> None:
    state = HouseholdState(5, (S1, S2))
    assert HouseholdState.from_json(state.to_json()) == state
    assert HouseholdState.from_json(None) is None


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
    state: HouseholdState | None = None
    forwarded: list[str] = []
    for sid, revision in stream:
        decision = decide(state, sid, revision)
        if decision.forward:
            forwarded.append(sid)
        state = decision.new_state or state
    assert len(forwarded) == len(set(forwarded)), "a submission id is forwarded at most once"
    for sid, revision in stream[-RECENT_IDS:]:
        assert not decide(state, sid, revision).forward

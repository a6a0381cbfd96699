"""When a review that is ahead of its submission has waited long enough (pure)."""

from __future__ import annotations

from streams.worker.review_wait import reached


def test_waits_until_every_partition_is_computed_up_to_its_target() -> None:
    targets = {0: 120, 2: 40}
    assert not reached(targets, computed={0: 119, 2: 40}, committed={})
    assert reached(targets, computed={0: 120, 2: 41}, committed={})


def test_a_partition_with_nothing_new_since_the_start_counts_by_its_commit() -> None:
    """After a restart nothing was computed there yet; the group's commit covers it."""
    assert reached({1: 500}, computed={}, committed={1: 500})
    assert not reached({1: 500}, computed={}, committed={1: 499})
    assert not reached({1: 500}, computed={}, committed={})


def test_nothing_to_wait_for_is_reached() -> None:
    assert reached({}, computed={}, committed={})

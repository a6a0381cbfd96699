"""The sink's insert token: the same batch always gets the same token, another batch never."""

from __future__ import annotations

from streams.worker.processing import batch_token

TOPIC = "regsosek.submissions"


def events(*offsets: tuple[int, int]) -> list[tuple[str, int, int]]:
    return [(TOPIC, p, o) for p, o in offsets]


def test_a_contiguous_batch_names_its_ranges_in_partition_order() -> None:
    batch = events((1, 10), (0, 5), (1, 11), (0, 6), (1, 12))
    assert batch_token(batch) == f"{TOPIC}:0:5-6|{TOPIC}:1:10-12"


def test_the_same_batch_in_another_order_gets_the_same_token() -> None:
    batch = events((0, 5), (0, 6), (0, 7))
    assert batch_token(batch) == batch_token(list(reversed(batch)))


def test_a_batch_with_a_hole_is_not_the_complete_batch_of_its_range() -> None:
    complete = batch_token(events((0, 100), (0, 101), (0, 102)))
    holey = batch_token(events((0, 100), (0, 102)))
    assert holey != complete
    assert holey.startswith(f"{TOPIC}:0:100-102~2:")
    assert holey == batch_token(events((0, 102), (0, 100))), "still deterministic"


def test_a_redelivered_offset_inside_one_batch_changes_nothing() -> None:
    assert batch_token(events((0, 5), (0, 6), (0, 6))) == batch_token(events((0, 5), (0, 6)))

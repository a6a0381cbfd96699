"""A review read before the submission it reviews waits for it instead of being rejected.

The reviews and the submissions are two topics, read by two agents of the same
worker, each at its own pace. A supervisor reviews an interview after it was
acknowledged, but the worker may not have read that interview yet: it was down
(a crash, a restart), ClickHouse held its batches, or it is simply behind. Such
a review is not bad input, and rejecting it for good (``REVIEW_UNKNOWN_*``)
would lose a real decision. So it is parked (its offset not acknowledged) and
judged again every half second, while the agent goes on with the next reviews:
an agent that waited would stop Faust's one fetcher for every topic once its
buffer filled, the submissions it waits for included (seen in the chaos soak).

How long, without trusting any clock: the submission a review is about was
written to its partition before the review was, and the review was written
before the worker read it. So once the submissions agent has computed its
partition up to the end offset seen *after* the review was read, every
submission the review can be about is known; the review is then judged, and
rejected only if its household (or revision) is still unknown. The topics are
co-partitioned (same key, same partition count), so that is the review's own
partition number. ``max_wait_s`` bounds the wait for a worker whose submissions
cannot move (the rejection then says so in the log).
"""

from __future__ import annotations

from collections.abc import Mapping

#: Reason codes that mean "the worker does not know this yet", not "this is wrong".
AHEAD_CODES = frozenset({"REVIEW_UNKNOWN_HOUSEHOLD", "REVIEW_UNKNOWN_REVISION"})
#: Longest a review stays parked before it is judged as it stands.
MAX_WAIT_S = 600.0
#: How often the parked reviews are judged again.
POLL_S = 0.5


def reached(
    targets: Mapping[int, int], computed: Mapping[int, int], committed: Mapping[int, int]
) -> bool:
    """Whether the submissions agent has computed every partition up to its target offset.

    ``computed``: the next offset after the last submission this worker computed,
    by partition (since it started); ``committed``: the group's committed offset,
    which covers a partition with nothing new since the start. Pure.
    """
    return all(
        max(computed.get(partition, -1), committed.get(partition, -1)) >= target
        for partition, target in targets.items()
    )

"""Fixes to faust-streaming 0.15's offset bookkeeping, applied before the worker starts.

Found by SIGKILLing workers mid-stream (tests/integration/test_worker.py): after
a restart the group's lag stayed high for minutes, and a few households never
reached the valid topic. ``/debug/consumer`` and the broker's records showed
the chain, at every start and rebalance:

1. Faust resumes the stream partitions, then seeks them to the committed
   offset C in the consumer thread. While that seek is in flight its fetcher
   keeps handing records C, C+1, ... N to the conductor, moving the *read
   offset* to N; most of them wait in the agents' channel queues.
2. When the seek returns, ``perform_seek`` sets the read offset back to C, and
   the recovery service resumes flow control, which empties the channel
   queues: the records waiting there are gone, to be fetched again from C.
3. The next record from the fetcher's old batch, N+1, now looks like a jump
   from C, so Faust records C+1..N+1 as a *gap*: offsets it treats as acked
   without processing (meant for transaction markers and deleted records).
   The records fetched again from C are below the read offset (N+1) and are
   dropped. Those that had been in the queues are never processed, yet the gap
   lets the commit pass them: accepted submissions lost.
4. Records the agents did take before the queues were emptied are acked for
   real as well; merged with the gap, each appears twice in the acked list,
   and ``_new_offset`` commits only the first run of consecutive numbers per
   commit interval, one or two offsets with duplicates: the lag that never
   seemed to drain.

The fixes, each in the method it names:

* ``perform_seek`` takes the partitions out of the fetcher's active set while
  the seek runs, so no record of the old batch is handed out in between; the
  fetcher's next batch starts at the committed offset with no jump.
* ``_add_gap`` records only the offsets strictly between the last read one and
  the delivered one (Faust included the delivered record, acking it before
  any agent had seen it) and logs each gap: on our topics (no transactions,
  no compaction) a gap means records were deleted by retention before they
  were read, which an operator must hear about.
* ``_new_offset`` merges gaps into the acked offsets as a set, so a gap that
  overlaps real acks cannot slow commits down to one offset per interval.

The version check fails loudly if a different Faust is installed: these are
Faust internals, and a new release must be re-checked (rerun the SIGKILL test)
before the pin moves.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import faust
from faust.transport.consumer import Consumer
from faust.utils.functional import consecutive_numbers

log = logging.getLogger(__name__)

FIXED_VERSIONS = ("0.15.3",)
_APPLIED = "_regsosek_fixed"


def _perform_seek(original: Callable[..., Any]) -> Callable[..., Any]:
    async def perform_seek(self: Any) -> None:
        active = self._get_active_partitions()
        held = set(active)
        active.difference_update(held)  # the fetcher hands out nothing while positions move
        try:
            await original(self)
        finally:
            # a rebalance during the seek has set its own active partitions: keep those
            still_ours = held & set(self.assignment()) if held else set()
            active.update(still_ours - self._paused_partitions)

    perform_seek.__doc__ = original.__doc__
    return perform_seek


def _new_offset(original: Callable[..., Any]) -> Callable[..., Any]:
    """Faust's ``_new_offset`` with the acked offsets kept free of duplicates.

    Same steps as the original (merge the gap ranges below the highest acked
    offset into the acked list, wait while the lowest acked offset is more than
    one past the committed one, commit the first consecutive run) but the merge
    is a set union, so a gap overlapping real acks cannot split the run.
    """

    def new_offset(self: Any, tp: Any) -> int | None:
        acked = self._acked[tp]
        if not acked:
            return None
        pending = set(acked)
        gap = self._gap[tp]
        if gap:
            highest = max(pending)
            ranges = sorted(gap.overlap(0, highest), key=lambda r: r.begin)
            if ranges:
                filled = [o for r in ranges for o in range(r.begin, r.end)]
                pending.update(filled)
                gap.chop(0, max(filled[-1], highest + 1))
        acked[:] = sorted(pending)
        committed = self._committed_offset[tp]
        if committed and acked[0] - committed > 1:
            return None
        run = next(consecutive_numbers(acked))
        del acked[: len(run)]
        self._acked_index[tp].difference_update(run)
        return int(run[-1]) + 1

    new_offset.__doc__ = original.__doc__
    return new_offset


def _add_gap(original: Callable[..., Any]) -> Callable[..., Any]:
    async def add_gap(self: Any, tp: Any, offset_from: int, offset_to: int) -> None:
        # Faust passes the delivered offset as ``offset_to`` and stores the range with it
        # included; the delivered record is not a gap, it is about to be processed.
        log.warning(
            "offsets %d..%d of %s[%d] were never read (deleted by retention?): "
            "committing past them",
            offset_from,
            offset_to - 1,
            tp.topic,
            tp.partition,
        )
        await original(self, tp, offset_from, offset_to - 1)

    return add_gap


def apply() -> None:
    """Patch Faust's consumer once per process; refuses a Faust it was not checked against."""
    if getattr(Consumer, _APPLIED, False):
        return
    if faust.__version__ not in FIXED_VERSIONS:
        raise RuntimeError(
            f"faust-streaming {faust.__version__} is not one streams/worker/faust_fixes.py "
            f"was checked against ({', '.join(FIXED_VERSIONS)}): re-run the SIGKILL test "
            "and review the fixes before changing the pin"
        )
    Consumer.perform_seek = _perform_seek(Consumer.perform_seek)  # type: ignore[method-assign]
    Consumer._new_offset = _new_offset(Consumer._new_offset)  # type: ignore[method-assign]
    Consumer._add_gap = _add_gap(Consumer._add_gap)  # type: ignore[method-assign]
    setattr(Consumer, _APPLIED, True)

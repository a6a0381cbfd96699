"""Commit watch: how long each partition's commit has been stuck behind processed offsets.

Faust commits a partition only up to the first offset no agent acknowledged.
If an event is lost inside the worker (the Faust bug in ``faust_fixes`` was
one way), every later event is processed and acknowledged but the commit
never moves again: lag stays, nothing is logged, and a restart would replay
everything since. Group lag alone cannot tell that from a busy worker. This
watch can: processed offsets waiting behind a commit that does not move is
the signature. A sink holding a batch through a ClickHouse outage does not
look like it, because nothing after the held batch is acknowledged either.

The worker feeds it every few seconds from its consumer's bookkeeping; the
result goes to ``/readyz``, ``/stats`` and ``regsosek_commit_stalled_seconds``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

Partition = tuple[str, int]


@dataclass(frozen=True)
class CommitState:
    """One partition as the consumer sees it: committed offset, processed offsets waiting."""

    committed: int | None
    waiting: int


@dataclass
class CommitWatch:
    """Seconds each partition's commit has not moved while processed offsets waited behind it."""

    _since: dict[Partition, tuple[int | None, float]] = field(default_factory=dict)

    def observe(
        self, now: float, partitions: Mapping[Partition, CommitState]
    ) -> dict[Partition, float]:
        """Stalled seconds per assigned partition (0 when the commit moves or nothing waits)."""
        stalled: dict[Partition, float] = {}
        for tp, state in partitions.items():
            before = self._since.get(tp)
            if state.waiting == 0 or before is None or before[0] != state.committed:
                self._since[tp] = (state.committed, now)
                stalled[tp] = 0.0
            else:
                stalled[tp] = round(now - before[1], 1)
        for tp in set(self._since) - set(partitions):  # revoked: forget
            del self._since[tp]
        return stalled

"""The NIKs the duplicate-NIK rule sees in the compute process: recent, in-batch, durable.

``NIK_DUPLICATE_HOUSEHOLD`` asks one question of a :class:`~processors.rules.NikIndex`:
in which other households was this NIK recorded? Three sources answer it here:

* **durable**: what ClickHouse's ``nik_households`` holds for the batch's NIKs, asked
  once per batch by the worker's event loop (:mod:`streams.worker.nik_lookup`) and
  handed in with the batch. It sees every worker's households and survives restarts.
* **in-batch**: households accepted earlier in the batch being ruled (the pipeline
  reports each acceptance at once), so the verdicts do not depend on where the
  batches happened to be cut: the first household with a NIK is accepted clean,
  every later one is flagged, within a batch as across batches and restarts.
* **recent**: households this process accepted in earlier batches, which may not be
  in ClickHouse yet (the batch before is still being written while this one is
  computed), and the whole answer while ClickHouse is slow. Bounded: the oldest
  NIKs go first, since ClickHouse has them by then.

The durable answers are keyed by ``nik_key`` (8 bytes of the NIK's HMAC), so the
clear NIK never leaves this process; the key of each NIK is computed once per batch.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping, Sequence

from sinks.privacy import nik_key

#: NIKs remembered from earlier batches (about 150 MB at most); ClickHouse has older ones.
MAX_RECENT_NIKS = 1_000_000

#: ``nik_key`` → households ClickHouse has recorded it in (at most a few each).
Durable = Mapping[int, Sequence[str]]


class WorkerNikIndex:
    """A :class:`~processors.rules.NikIndex` over the three sources above."""

    def __init__(self, key: bytes, *, max_recent: int = MAX_RECENT_NIKS) -> None:
        self._key = key
        self._max_recent = max_recent
        # Oldest first. An OrderedDict, not a dict: dropping a plain dict's first key leaves a
        # dummy slot that every later ``next(iter(d))`` walks past, so once the bound was
        # reached each add scanned all earlier deletions (measured: 100k adds took 0.17 s
        # below the bound and 11 s five bounds later; the live worker fell from ~1,600 to
        # ~250 households/s past 700,000 households). ``popitem(last=False)`` is O(1).
        self._recent: OrderedDict[str, set[str]] = OrderedDict()
        self._batch: dict[str, set[str]] = {}
        self._keys: dict[str, int | None] = {}
        self._durable: Durable = {}

    def key_of(self, nik: str) -> int | None:
        """The NIK's ``nik_key``, computed once per batch."""
        if nik not in self._keys:
            self._keys[nik] = nik_key(nik, self._key)
        return self._keys[nik]

    def begin_batch(self, durable: Durable | None) -> None:
        """A batch starts; ``durable`` is ClickHouse's answer for its NIKs (None: none)."""
        self._batch = {}
        self._durable = durable or {}

    def accept(self, nik: str, household_id: str) -> None:
        """A household of this batch was just accepted: later ones see its NIK."""
        self._batch.setdefault(nik, set()).add(household_id)

    def commit_batch(self) -> None:
        """The batch's verdicts stand (it was not computed again): remember its NIKs."""
        for nik, households in self._batch.items():
            for household in households:
                self.add(nik, household)

    def end_batch(self) -> None:
        self._batch, self._durable, self._keys = {}, {}, {}

    def households_of(self, nik: str) -> set[str]:
        found = set(self._recent.get(nik, ()))
        found.update(self._batch.get(nik, ()))
        if self._durable:
            key = self.key_of(nik)
            if key is not None:
                found.update(self._durable.get(key, ()))
        return found

    def add(self, nik: str, household_id: str) -> None:
        """An accepted household's NIK, remembered until ClickHouse surely has it."""
        households = self._recent.get(nik)
        if households is None:
            households = self._recent[nik] = set()
        else:
            self._recent.move_to_end(nik)  # seen again: now the newest
        households.add(household_id)
        while len(self._recent) > self._max_recent:
            self._recent.popitem(last=False)

    def __len__(self) -> int:
        return len(self._recent)

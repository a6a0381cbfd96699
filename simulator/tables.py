"""Weighted choices made fast: the simulator draws millions of answers per run.

``random.choices`` rebuilds its cumulative weights on every call; a
:class:`Table` builds them once, so one answer costs a ``random()`` and a
bisection.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Generic, TypeVar

T = TypeVar("T")


#: Slots of a table's lookup list: weights are honoured to 1/4096 (0.025 %).
SLOTS = 4096


class Table(Generic[T]):
    """Values with relative weights; :meth:`pick` draws one with a single ``random()``.

    The weights are laid out once over a lookup list of :data:`SLOTS` entries
    (largest remainder, so every value with a weight keeps at least one slot),
    which makes a draw an index operation instead of a bisection.
    """

    __slots__ = ("_lookup", "values", "weights")

    def __init__(self, pairs: Sequence[tuple[T, float]]) -> None:
        if not pairs:
            raise ValueError("a table needs at least one value")
        self.values: tuple[T, ...] = tuple(value for value, _weight in pairs)
        self.weights: tuple[float, ...] = tuple(float(weight) for _value, weight in pairs)
        total = sum(self.weights)
        slots = [
            max(1, round(SLOTS * weight / total)) if weight > 0 else 0 for weight in self.weights
        ]
        while sum(slots) > SLOTS:
            slots[slots.index(max(slots))] -= 1
        while sum(slots) < SLOTS:
            slots[slots.index(max(slots))] += 1
        self._lookup: list[T] = [
            value for value, count in zip(self.values, slots, strict=True) for _ in range(count)
        ]

    def pick(self, rng: random.Random) -> T:
        return self._lookup[int(rng.random() * SLOTS)]


def between(rng: random.Random, low: int, high: int) -> int:
    """A whole number in ``low..high`` (inclusive), like ``randint`` at a fifth of its cost."""
    return low + int(rng.random() * (high - low + 1))


def chance(rng: random.Random, probability: float) -> bool:
    """True with ``probability``."""
    return rng.random() < probability


def weighted(text: str) -> Table[str]:
    """A table of symbols from ``"SYMBOL:weight SYMBOL:weight ..."`` (compact, reviewable)."""
    pairs = []
    for item in text.split():
        symbol, _, weight = item.partition(":")
        pairs.append((symbol, float(weight)))
    return Table(pairs)


def uniform(text: str) -> Table[str]:
    """Equally likely values from space-separated words; ``_`` stands for a space."""
    return Table([(word.replace("_", " "), 1.0) for word in text.split()])

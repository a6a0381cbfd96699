"""What one simulation run is: the area, its size, the seed and the mistakes to inject.

A frozen value built once by the CLI (or a test) and passed to every pure
stage, so that the same configuration always yields the same frame, the same
records and the same ids.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from schemas.errors import ConfigurationError

WIB = timezone(timedelta(hours=7), "WIB")
#: Kabupaten Jember (Kemendagri code), the regency the design is built around.
JEMBER = "35.09"
#: Fieldwork of the initial Regsosek data collection (the platform's default window).
FIELDWORK_START = datetime(2022, 10, 15, tzinfo=WIB)
FIELDWORK_END = datetime(2022, 11, 14, 23, 59, 59, tzinfo=WIB)


@dataclass(frozen=True)
class ErrorRates:
    """Share of households (or of messages, for duplicates) given each mistake.

    ``nik``, ``area``, ``age`` and ``old_schema`` change a household's one
    message; ``duplicate`` resends a message with the same submission id;
    ``revision`` sends a corrected revision 2 of a clean household;
    ``corrupt`` adds a message of bytes no serializer wrote (per household).
    """

    nik: float = 0.01
    area: float = 0.01
    age: float = 0.01
    duplicate: float = 0.02
    revision: float = 0.01
    corrupt: float = 0.005
    old_schema: float = 0.02

    def __post_init__(self) -> None:
        for name, value in vars(self).items():
            if not 0.0 <= value <= 1.0:
                raise ConfigurationError(f"error rate {name} must be within 0..1, not {value}")
        exclusive = self.nik + self.area + self.age + self.old_schema
        if exclusive > 1.0:
            raise ConfigurationError(
                f"nik + area + age + old_schema rates add up to {exclusive:g}; "
                "a household gets at most one of them, so they must stay within 1"
            )


@dataclass(frozen=True)
class ReviewConfig:
    """Whether supervisors review, and how their decisions fall (:mod:`simulator.reviewing`)."""

    enabled: bool = False
    return_rate: float = 0.10
    reject_rate: float = 0.01
    max_returns: int = 2

    def __post_init__(self) -> None:
        for name in ("return_rate", "reject_rate"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ConfigurationError(f"review {name} must be within 0..1, not {value}")
        if self.return_rate + self.reject_rate > 1.0:
            raise ConfigurationError("review return and reject rates must add up to at most 1")
        if self.max_returns < 0:
            raise ConfigurationError("max_returns must be at least 0")


@dataclass(frozen=True)
class SimulationConfig:
    """One run: where, how big, which seed, which mistakes, how the apps behave.

    ``population`` overrides the regency's population (people); unset, Jember's
    2020 census count is used, or for another regency its villages times the
    national mean per village (see :mod:`simulator.population`).
    ``districts`` restricts the run to some districts (Kemendagri codes);
    empty means the whole regency. ``offline_share`` is the share of
    enumerators whose tablets queue interviews and sync in bursts.
    ``reviews`` says whether supervisors review (off by default) and how
    they decide (:mod:`simulator.reviewing`); ``paradata`` whether the
    tablets send their events too (:mod:`simulator.paradata`, off by default).
    """

    regency: str = JEMBER
    districts: tuple[str, ...] = ()
    scale: float = 1.0
    seed: int = 7
    population: int | None = None
    persons_per_household: float = 3.3
    offline_share: float = 0.3
    rates: ErrorRates = field(default_factory=ErrorRates)
    reviews: ReviewConfig = field(default_factory=ReviewConfig)
    paradata: bool = False
    fieldwork_start: datetime = FIELDWORK_START
    fieldwork_end: datetime = FIELDWORK_END

    def __post_init__(self) -> None:
        if self.scale <= 0:
            raise ConfigurationError(f"scale must be above 0, not {self.scale}")
        if self.persons_per_household < 1:
            raise ConfigurationError("persons per household must be at least 1")
        if not 0.0 <= self.offline_share <= 1.0:
            raise ConfigurationError("offline share must be within 0..1")
        if self.fieldwork_end <= self.fieldwork_start:
            raise ConfigurationError("fieldwork must end after it starts")
        if self.fieldwork_start.tzinfo is None or self.fieldwork_end.tzinfo is None:
            raise ConfigurationError("fieldwork start and end need a time zone")

    def stream(self, purpose: str, key: str = "") -> str:
        """The seed text of one random stream: stable across runs, independent of others.

        Text seeds are hashed by :class:`random.Random` with SHA-512, so they do
        not depend on ``PYTHONHASHSEED``.
        """
        return f"regsosek-sim:{self.seed}:{purpose}:{key}"

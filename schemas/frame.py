"""The enumeration frame: who works where, under whom, and how many households to expect.

Three CSV files in one directory (the *frame directory*), written by the
simulator for Jember or by an operation from its own assignment lists:

``enumerators.csv``
    ``enumerator_id,supervisor_id,regency_code`` — one row per enumerator
    (PPL, 4 characters on the form) with the supervisor (PML, 3 characters)
    who checks their work and the regency they work in (master code).
``assignments.csv``
    ``enumerator_id,village_code,sls_code`` — the SLS units (neighbourhood
    units) each enumerator covers; ``village_code`` is the region master's
    code (Kemendagri ``35.09.02.2001`` with the shipped master).
``targets.csv``
    ``village_code,sls_code,expected_households`` — households (families)
    expected per SLS, the denominator of progress.

Names and other personal data of officers are deliberately not part of the
frame: the pipeline needs ids only.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

ENUMERATORS_FILE = "enumerators.csv"
ASSIGNMENTS_FILE = "assignments.csv"
TARGETS_FILE = "targets.csv"

ENUMERATOR_COLUMNS = ("enumerator_id", "supervisor_id", "regency_code")
ASSIGNMENT_COLUMNS = ("enumerator_id", "village_code", "sls_code")
TARGET_COLUMNS = ("village_code", "sls_code", "expected_households")


class FrameFileError(ValueError):
    """A frame file that does not follow the documented format."""


@dataclass(frozen=True, slots=True)
class Enumerator:
    """One enumerator (PPL) and their supervisor (PML)."""

    enumerator_id: str
    supervisor_id: str
    regency_code: str


@dataclass(frozen=True, slots=True)
class Assignment:
    """One SLS unit assigned to one enumerator."""

    enumerator_id: str
    village_code: str
    sls_code: str


@dataclass(frozen=True, slots=True)
class Target:
    """Households expected in one SLS unit."""

    village_code: str
    sls_code: str
    expected_households: int


@dataclass
class Frame:
    """Lookups the rules and enrichment need, built once per worker."""

    enumerators: dict[str, Enumerator] = field(default_factory=dict)
    assignments: dict[str, set[tuple[str, str]]] = field(default_factory=dict)
    targets: dict[tuple[str, str], int] = field(default_factory=dict)

    @classmethod
    def build(
        cls,
        enumerators: Iterable[Enumerator],
        assignments: Iterable[Assignment],
        targets: Iterable[Target],
    ) -> Frame:
        frame = cls()
        for enumerator in enumerators:
            frame.enumerators[enumerator.enumerator_id] = enumerator
        for assignment in assignments:
            frame.assignments.setdefault(assignment.enumerator_id, set()).add(
                (assignment.village_code, assignment.sls_code)
            )
        for target in targets:
            frame.targets[(target.village_code, target.sls_code)] = target.expected_households
        return frame

    @property
    def empty(self) -> bool:
        return not self.enumerators

    def supervisor_of(self, enumerator_id: str) -> str | None:
        enumerator = self.enumerators.get(enumerator_id)
        return enumerator.supervisor_id if enumerator else None

    def is_assigned(self, enumerator_id: str, village_code: str, sls_code: str) -> bool:
        return (village_code, sls_code) in self.assignments.get(enumerator_id, set())

    def villages_of(self, enumerator_id: str) -> set[str]:
        return {village for village, _sls in self.assignments.get(enumerator_id, set())}


def _rows(path: Path, columns: tuple[str, ...]) -> Iterator[tuple[int, dict[str, str]]]:
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        if tuple(reader.fieldnames or ())[: len(columns)] != columns:
            raise FrameFileError(f"{path.name}: header must start with {','.join(columns)}")
        for number, row in enumerate(reader, start=2):
            if any(not row.get(column) for column in columns):
                raise FrameFileError(f"{path.name} line {number}: every column needs a value")
            yield number, row


def read_enumerators(path: Path) -> Iterator[Enumerator]:
    """Rows of ``enumerators.csv``."""
    for _number, row in _rows(path, ENUMERATOR_COLUMNS):
        yield Enumerator(row["enumerator_id"], row["supervisor_id"], row["regency_code"])


def read_assignments(path: Path) -> Iterator[Assignment]:
    """Rows of ``assignments.csv``."""
    for _number, row in _rows(path, ASSIGNMENT_COLUMNS):
        yield Assignment(row["enumerator_id"], row["village_code"], row["sls_code"])


def read_targets(path: Path) -> Iterator[Target]:
    """Rows of ``targets.csv``; a non-numeric target names its line."""
    for number, row in _rows(path, TARGET_COLUMNS):
        try:
            expected = int(row["expected_households"])
        except ValueError:
            raise FrameFileError(
                f"{path.name} line {number}: expected_households must be a whole number"
            ) from None
        yield Target(row["village_code"], row["sls_code"], expected)


def load_frame(directory: Path) -> Frame:
    """Read the three frame files; a missing directory gives an empty frame.

    An empty frame switches off the rules that need assignments (the worker
    logs that), so the pipeline still runs before an operation has a roster.
    """
    if not (directory / ENUMERATORS_FILE).exists():
        return Frame()
    return Frame.build(
        read_enumerators(directory / ENUMERATORS_FILE),
        read_assignments(directory / ASSIGNMENTS_FILE),
        read_targets(directory / TARGETS_FILE),
    )


def write_frame(
    directory: Path,
    enumerators: Iterable[Enumerator],
    assignments: Iterable[Assignment],
    targets: Iterable[Target],
) -> None:
    """Write the three files in the documented format (used by the simulator)."""
    directory.mkdir(parents=True, exist_ok=True)
    tables: tuple[tuple[str, tuple[str, ...], Iterable[tuple[object, ...]]], ...] = (
        (
            ENUMERATORS_FILE,
            ENUMERATOR_COLUMNS,
            ((e.enumerator_id, e.supervisor_id, e.regency_code) for e in enumerators),
        ),
        (
            ASSIGNMENTS_FILE,
            ASSIGNMENT_COLUMNS,
            ((a.enumerator_id, a.village_code, a.sls_code) for a in assignments),
        ),
        (
            TARGETS_FILE,
            TARGET_COLUMNS,
            ((t.village_code, t.sls_code, t.expected_households) for t in targets),
        ),
    )
    for name, columns, rows in tables:
        with (directory / name).open("w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(columns)
            writer.writerows(rows)

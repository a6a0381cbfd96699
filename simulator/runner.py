"""Run a simulation: frame files, pacing on the compressed clock, progress, Ctrl-C, ground truth.

The loop takes the scenario's dispatches in simulated-time order, waits until
each is due on the wall clock, and hands the transport everything that is
due at once (up to :data:`MAX_BATCH` messages), so a fast clock turns into
large batches rather than a backlog of small ones. Only acknowledged messages
enter the ground truth.

Ctrl-C (SIGINT) asks the loop to stop: the group being sent is finished,
nothing further is sent (a dispatch, e.g. an offline burst, goes whole or not
at all), and the ground truth of what *was* sent is written with
``complete: false``. A second Ctrl-C aborts at once.
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from processors.rules.base import local_offset
from simulator.clock import FieldworkClock
from simulator.scenario import Dispatch, Message, MessageKind, Scenario
from simulator.transport import DeliveryError, Transport
from simulator.truth import GroundTruth, TruthTally

#: Most messages handed to the transport at once.
MAX_BATCH = 2_000


@dataclass
class RunReport:
    """How a run went, for the closing summary."""

    truth: GroundTruth
    elapsed_s: float
    interrupted: bool = False
    error: str | None = None
    rate: float = 0.0  # households acknowledged per wall second
    notes: list[str] = field(default_factory=list)
    #: Requests sent again after a "not now" answer (429, 503), by reason.
    retries: dict[str, int] = field(default_factory=dict)


class Runner:
    """Sends one scenario through one transport on one clock."""

    def __init__(
        self,
        scenario: Scenario,
        clock: FieldworkClock,
        transport: Transport,
        tally: TruthTally,
        *,
        console: Console | None = None,
        progress: bool = True,
        stop: threading.Event | None = None,
    ) -> None:
        self.scenario = scenario
        self.clock = clock
        self.transport = transport
        self.tally = tally
        self.console = console or Console(stderr=True)
        self.show_progress = progress
        self.stop = stop or threading.Event()
        self.households = 0
        self._zone = local_offset(scenario.frame.province_code)

    def run(self) -> RunReport:
        """Send everything (or until stopped); the report holds the ground truth."""
        started = time.monotonic()
        error: str | None = None
        progress = Progress(
            TextColumn("[bold]households"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]:>7.0f}/s"),
            TextColumn("[cyan]{task.fields[simulated]}"),
            TimeElapsedColumn(),
            console=self.console,
            disable=not self.show_progress,
        )
        total = self.scenario.frame.households
        with progress, _graceful_sigint(self.stop):
            task = progress.add_task("simulate", total=total, rate=0.0, simulated="")
            try:
                self._loop(started, progress, task)
                self._count(self.transport.drain())
            except DeliveryError as exc:
                self._count(exc.acknowledged)
                error = str(exc)
                with contextlib.suppress(DeliveryError):
                    self._count(self.transport.drain())
        elapsed = time.monotonic() - started
        interrupted = self.stop.is_set()
        notes = list(self.transport.notes)
        retries = self.transport.retries
        if retries:
            notes.append(retry_note(retries))
        if error:
            notes.append(f"stopped by a delivery error: {error}")
        truth = self.tally.result(complete=not interrupted and error is None, notes=notes)
        rate = self.households / elapsed if elapsed > 0 else 0.0
        return RunReport(truth, elapsed, interrupted, error, rate, notes, retries)

    def _loop(self, started: float, progress: Progress, task: TaskID) -> None:
        pending: list[Dispatch] = []
        size = 0
        for dispatch in self.scenario.dispatches():
            due = started + self.clock.wall_seconds(dispatch.at)
            if pending and (due > time.monotonic() or size >= MAX_BATCH):
                self._flush(pending, started, progress, task)
                pending, size = [], 0
            wait = due - time.monotonic()
            if (wait > 0 and self.stop.wait(wait)) or self.stop.is_set():
                return  # due dispatches not yet handed over are not sent at all
            pending.append(dispatch)
            size += len(dispatch.messages)
        if pending:
            self._flush(pending, started, progress, task)

    def _flush(
        self, dispatches: list[Dispatch], started: float, progress: Progress, task: TaskID
    ) -> None:
        self._count(self.transport.send(dispatches))
        elapsed = max(time.monotonic() - started, 1e-9)
        simulated = dispatches[-1].at.astimezone(self._zone).strftime("%a %d %b %Y %H:%M %Z")
        progress.update(
            task, completed=self.households, rate=self.households / elapsed, simulated=simulated
        )

    def _count(self, acknowledged: Sequence[Message]) -> None:
        for message in acknowledged:
            self.tally.add(message)
            if message.kind is MessageKind.HOUSEHOLD:
                self.households += 1


@contextlib.contextmanager
def _graceful_sigint(stop: threading.Event) -> Iterator[None]:
    """First Ctrl-C sets ``stop``; the second raises KeyboardInterrupt as usual."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(_signum: int, _frame: FrameType | None) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def retry_note(retries: dict[str, int]) -> str:
    """One line for the notes: how often the gateway said "not now", and why. Pure."""
    reasons = ", ".join(f"{count} {reason}" for reason, count in sorted(retries.items()))
    return (
        f"{sum(retries.values())} request(s) sent again as the gateway asked ({reasons}); "
        "each resent submission counts once"
    )


def default_truth_path(state_dir: Path) -> Path:
    """``<state>/simulation/ground-truth.json``."""
    return state_dir / "simulation" / "ground-truth.json"

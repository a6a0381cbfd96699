"""Run a simulation: frame files, pacing on the compressed clock, progress, Ctrl-C, ground truth.

The loop takes the scenario's dispatches in simulated-time order, waits until
each is due on the wall clock, and hands the transport everything that is
due at once (up to :data:`MAX_BATCH` messages), so a fast clock turns into
large batches rather than a backlog of small ones. Only acknowledged messages
enter the ground truth.

A message that follows another through the worker's state (a supervisor's
review of a revision, an enumerator's fix after a return: its
:attr:`~simulator.scenario.Message.depends_on`) is **held** until the
message it follows was acknowledged at least ``lag_s`` wall seconds earlier
(5 s by default), on top of the simulated hours between them: the worker
judges a review against the household's dedup state when it reads the
review, so the reviewed revision must have been processed by then, and a fix
must not overtake the review that returned it (which would then review a
superseded revision: ``REVIEW_STALE_REVISION``). Five seconds is many times
the worker's freshness at demo rates; a worker lagging further behind than
that would reject some reviews, and the comparison would show it. Held
messages go out as soon as their gate opens; after the last dispatch the
runner waits for the remaining chains (each step at least ``lag_s``).

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
from simulator.scenario import Dispatch, Message, MessageKind, Scenario, ack_key
from simulator.transport import DeliveryError, Transport
from simulator.truth import GroundTruth, TruthTally

#: Most messages handed to the transport at once.
MAX_BATCH = 2_000
#: Wall seconds between a message's acknowledgement and a review or fix that follows it.
DEFAULT_LAG_S = 5.0
#: Kinds no review or fix ever follows.
_NO_DEPENDENTS = frozenset({MessageKind.CORRUPT, MessageKind.EVENT})


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
        lag_s: float = DEFAULT_LAG_S,
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
        self.lag_s = lag_s
        self._gating = scenario.config.reviews.enabled
        #: ack key -> monotonic time of its acknowledgement (only with reviews on).
        self._acked: dict[str, float] = {}
        self._held: list[Dispatch] = []

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
                self._release_rest(started, progress, task)
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
            if self._held:
                released = self._ready()
                pending += released
                size += sum(len(d.messages) for d in released)
            if any(m.depends_on is not None for m in dispatch.messages):
                self._held.append(dispatch)
                continue
            pending.append(dispatch)
            size += len(dispatch.messages)
        if pending:
            self._flush(pending, started, progress, task)

    def _ready(self) -> list[Dispatch]:
        """The held dispatches whose gate is open now, taken off the held list."""
        ready: list[Dispatch] = []
        held: list[Dispatch] = []
        for dispatch in self._held:
            (ready if self._open(dispatch) else held).append(dispatch)
        self._held = held
        return ready

    def _open(self, dispatch: Dispatch) -> bool:
        now = time.monotonic()
        for message in dispatch.messages:
            if message.depends_on is None:
                continue
            acked = self._acked.get(message.depends_on)
            if acked is None or acked + self.lag_s > now:
                return False
        return True

    def _release_rest(self, started: float, progress: Progress, task: TaskID) -> None:
        """After the last dispatch: send the held chains as their gates open."""
        while self._held and not self.stop.is_set():
            ready = self._ready()
            if ready:
                self._flush(ready, started, progress, task)
                self._count(self.transport.drain())
            elif self.stop.wait(min(0.2, self.lag_s)):
                return

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
        now = time.monotonic()
        for message in acknowledged:
            self.tally.add(message)
            if self._gating and message.kind not in _NO_DEPENDENTS:
                self._acked[ack_key(message)] = now
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

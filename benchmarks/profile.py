"""Where the worker's time goes: py-spy attached to a running worker, read back.

``py-spy record --format raw`` writes collapsed stacks ("frame;frame;... count",
the first frame naming the thread with ``--threads``); idle samples are left
out, so the counts are CPU (or native code) time. The summary names the
busiest threads and the functions with the most samples, on their own
(``self``) and with what they call (``total``). The raw file opens in
speedscope.app as a flame graph.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

RATE = 100  # samples per second


def spy(pid: int, output: Path) -> subprocess.Popen[bytes] | None:
    """Start sampling ``pid`` into ``output``; None when py-spy is not installed."""
    binary = shutil.which("py-spy") or _beside_python()
    if binary is None:
        return None
    output.parent.mkdir(parents=True, exist_ok=True)
    cmd = [binary, "record", "--pid", str(pid), "--rate", str(RATE), "--format", "raw"]
    cmd += ["--nolineno", "--threads", "--subprocesses", "--nonblocking", "--output", str(output)]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _beside_python() -> str | None:
    import sys  # noqa: PLC0415

    candidate = Path(sys.executable).parent / "py-spy"
    return str(candidate) if candidate.exists() else None


def finish(proc: subprocess.Popen[bytes]) -> None:
    """Stop sampling (SIGINT makes py-spy write its file) and wait for it."""
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


@dataclass
class Profile:
    """Sample counts of one recording, by thread and by function."""

    seconds: float
    samples: int
    threads: dict[str, int] = field(default_factory=dict)
    self_top: list[tuple[str, int]] = field(default_factory=list)
    total_top: list[tuple[str, int]] = field(default_factory=list)
    stages: list[tuple[str, int]] = field(default_factory=list)

    def share(self, count: int) -> float:
        """A count as a fraction of the wall time of one thread."""
        return count / (self.seconds * RATE) if self.seconds else 0.0


def _thread_name(frame: str) -> str:
    """``thread (1234): MainThread`` -> ``MainThread``; pool threads lose their number."""
    name = frame.split("): ", 1)[-1].strip()
    return name.rstrip("0123456789").rstrip("_") or name


#: (stage, test on the thread name and the frames); the first match wins. Threads of
#: the compute process are named ``compute/<thread>`` (see :func:`_split`).
STAGES: list[tuple[str, Callable[[str, str], bool]]] = [
    ("compute: Avro decode of the submission", lambda t, s: "decode_with_id" in s),
    ("compute: ValidatedSubmission tail encode", lambda t, s: "EnvelopeSerializer.encode" in s),
    ("compute: rules, dedup, location, enrichment", lambda t, s: "Pipeline.run" in s),
    ("compute: row building", lambda t, s: "BatchComputer._rows" in s or "rejection_block" in s),
    (
        "compute: results to the worker (pickle, pipe)",
        lambda t, s: t.startswith("compute/") and ("_sendback_result" in s or "Queue" in s),
    ),
    ("compute: other", lambda t, s: t.startswith("compute/")),
    (
        "worker: results from the compute process (pipe, unpickle)",
        lambda t, s: "_ExecutorManagerThread" in s,
    ),
    ("worker: ClickHouse insert (thread)", lambda t, s: t == "clickhouse"),
    (
        "worker: publishing record batches",
        lambda t, s: "BatchPublisher" in s or "aiokafka/producer" in s,
    ),
    ("worker: metrics sensors", lambda t, s: "prometheus" in s or "(monitoring/" in s),
    (
        "worker: Faust, aiokafka and asyncio (consume, commit, dispatch)",
        lambda t, s: t in {"MainThread", "Thread-"} or "faust/" in s or "aiokafka/" in s,
    ),
]


def _split(frames: list[str]) -> tuple[str, list[str]]:
    """(thread name, frames below it).

    ``--subprocesses`` puts process frames first (a spawned child's command
    line holds a ``;`` of its own, so it may span two frames); the first
    ``thread (...)`` frame names the thread.
    """
    at = next((i for i, frame in enumerate(frames) if frame.startswith("thread (")), None)
    if at is None:
        return "?", []
    child = any("spawn_main" in frame for frame in frames[:at])
    thread = _thread_name(frames[at])
    return (f"compute/{thread}" if child else thread), frames[at + 1 :]


def _stage(thread: str, stack: str) -> str:
    for name, test in STAGES:
        if test(thread, stack):
            return name
    return f"other ({thread})"


def read(path: Path, seconds: float, top: int = 15) -> Profile:
    """Summarise a raw py-spy file recorded over ``seconds``."""
    threads: Counter[str] = Counter()
    self_counts: Counter[str] = Counter()
    total_counts: Counter[str] = Counter()
    stage_counts: Counter[str] = Counter()
    samples = 0
    for line in path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        samples += count
        thread, below = _split(stack.split(";"))
        threads[thread] += count
        stage_counts[_stage(thread, stack)] += count
        functions = [f for f in below if f]
        if functions:
            self_counts[functions[-1]] += count
        for function in set(functions):
            total_counts[function] += count
    return Profile(
        seconds=seconds,
        samples=samples,
        threads=dict(threads.most_common()),
        self_top=self_counts.most_common(top),
        total_top=[(f, c) for f, c in total_counts.most_common(top * 4) if _ours(f)][:top],
        stages=stage_counts.most_common(),
    )


def _ours(function: str) -> bool:
    """Frames of this project below the CLI (total time is only telling for those)."""
    if "(streams/cli/" in function:
        return False
    return any(
        f"({package}/" in function for package in ("processors", "schemas", "sinks", "streams")
    )

"""Run `regsosek worker` as a real child process against the session's broker.

The worker opens its own embedded ClickHouse directory (one chdb directory per
process), so tests talk to it the way operators do: its HTTP pages while it
runs, ``regsosek db query`` in a child process once it has stopped, and the
Kafka topics it writes. ``FAULT_ENTRY`` starts the same worker with a
ClickHouse client that fails while a marker file exists (tests/fault_worker.py).
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from streams.kafka_admin import group_lag
from streams.topics import (
    SUBMISSIONS,
    SUBMISSIONS_REJECTED,
    SUBMISSIONS_VALID,
    TopicSpec,
    ensure_topics,
    named,
)
from tests.backends import free_port

ROOT = Path(__file__).resolve().parents[1]
WORKER_ENTRY = ("-m", "streams.cli", "worker")
FAULT_ENTRY = ("-m", "tests.fault_worker", "worker")


def create_worker_topics(bootstrap: str, prefix: str, partitions: int = 3) -> dict[str, str]:
    """The submissions topic and the worker's two output topics of ``prefix``, created."""
    names = {t: named(t, prefix) for t in (SUBMISSIONS, SUBMISSIONS_VALID, SUBMISSIONS_REJECTED)}
    ensure_topics(bootstrap, [TopicSpec(name, partitions, 1) for name in names.values()])
    return names


@dataclass
class WorkerProcess:
    """One worker configuration; ``start`` may be called again after a kill."""

    bootstrap: str
    prefix: str
    state_dir: Path
    extra_env: dict[str, str] = field(default_factory=dict)
    entry: Sequence[str] = WORKER_ENTRY
    web_port: int = field(default_factory=free_port)
    #: Secrets of this worker, random per test (a worker refuses to start without a key).
    operator_token: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    nik_key: str = field(default_factory=lambda: secrets.token_hex(32))
    proc: subprocess.Popen[bytes] | None = None
    starts: int = 0

    @property
    def env(self) -> dict[str, str]:
        return {
            **{k: v for k, v in os.environ.items() if not k.startswith("REGSOSEK_")},
            "REGSOSEK_KAFKA_BOOTSTRAP": self.bootstrap,
            "REGSOSEK_TOPIC_PREFIX": self.prefix,
            "REGSOSEK_TOPIC_PARTITIONS": "3",
            "REGSOSEK_STATE_DIR": str(self.state_dir),
            "REGSOSEK_WEB_PORT": str(self.web_port),
            "REGSOSEK_OPERATOR_TOKENS": self.operator_token,
            "REGSOSEK_NIK_HMAC_KEY": self.nik_key,
            # TEST_WORKER_LOG_LEVEL=INFO shows Faust's assignment and recovery in worker-N.log
            "REGSOSEK_LOG_LEVEL": os.environ.get("TEST_WORKER_LOG_LEVEL", "WARNING"),
            "PYTHONPATH": str(ROOT),
            **self.extra_env,
        }

    @property
    def log(self) -> Path:
        return self.state_dir / f"worker-{self.starts}.log"

    def start(self, ready_timeout_s: float = 120.0) -> None:
        self.starts += 1
        self.state_dir.mkdir(parents=True, exist_ok=True)
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, *self.entry], env=self.env, stdout=log, stderr=log, cwd=ROOT
            )
        deadline = time.monotonic() + ready_timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"worker exited early: {self.log.read_text()[-3000:]}")
            if self.page("/healthz") is not None:
                return
            time.sleep(0.5)
        raise AssertionError(f"worker not up in time: {self.log.read_text()[-3000:]}")

    def page(self, path: str) -> Any:
        """JSON of a worker page, asked with its operator token; ``None`` if nothing answers."""
        request = urllib.request.Request(f"http://127.0.0.1:{self.web_port}{path}")
        request.add_header("Authorization", f"Bearer {self.operator_token}")
        try:
            with urllib.request.urlopen(request, timeout=5) as r:  # noqa: S310 - http:// above
                return json.loads(r.read())
        except urllib.error.HTTPError as exc:
            return json.loads(exc.read() or b"null")
        except (urllib.error.URLError, OSError, ValueError):
            return None

    def kill(self) -> None:
        """SIGKILL: no shutdown hooks, no final commit — a crash."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)

    def stop(self) -> None:
        """SIGTERM and wait: the graceful shutdown an orchestrator asks for."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=30)

    def cli(self, *args: str, timeout_s: float = 300.0) -> subprocess.CompletedProcess[str]:
        """``regsosek <args>`` with this worker's settings, as an operator runs it beside it."""
        return subprocess.run(
            [sys.executable, "-m", "streams.cli", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
            cwd=ROOT,
        )

    def query(self, sql: str) -> list[dict[str, Any]]:
        """Rows of a read-only query, from a child process (the worker must be stopped)."""
        out = subprocess.run(
            [sys.executable, "-m", "streams.cli", "db", "query", sql, "--json"],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            cwd=ROOT,
        )
        assert out.returncode == 0, out.stderr
        return [json.loads(line) for line in out.stdout.splitlines() if line.strip()]

    def wait_idle(self, timeout_s: float = 180.0, *, also: Sequence[str] = ()) -> None:
        """Until the worker's group has consumed everything on the submissions topic.

        ``also``: more of the worker's input topics (base names, e.g.
        ``streams.topics.REVIEWS``) to wait for.

        TEST_WORKER_IDLE_TIMEOUT (seconds) overrides the timeout, e.g. to fail fast while
        reproducing a stuck worker in a loop; on timeout the worker's stacks and two
        /debug/consumer snapshots are saved beside its log.
        """
        timeout_s = float(os.environ.get("TEST_WORKER_IDLE_TIMEOUT", timeout_s))
        topics = [named(name, self.prefix) for name in (SUBMISSIONS, *also)]
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise AssertionError(f"worker died: {self.log.read_text()[-3000:]}")
            if group_lag(self.bootstrap, f"{self.prefix}-worker", topics) == 0:
                return
            time.sleep(1.0)
        detail = {t: group_lag(self.bootstrap, f"{self.prefix}-worker", [t]) for t in topics}
        raise AssertionError(
            f"worker still busy after {timeout_s}s; lag by topic {detail}\n{self.stacks()}"
        )

    def stacks(self) -> str:
        """Python stacks of the running worker (py-spy), saved beside its log for a post-mortem."""
        spy = Path(sys.executable).with_name("py-spy")
        if self.proc is None or self.proc.poll() is not None or not spy.exists():
            return "(no stacks: worker not running or py-spy missing)"
        out = subprocess.run(
            [str(spy), "dump", "--locals", "--pid", str(self.proc.pid)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        dump = self.state_dir / f"worker-{self.starts}.stacks.txt"
        first = json.dumps(self.page("/debug/consumer"), indent=1)
        time.sleep(5)  # a second look shows whether anything still moves
        second = json.dumps(self.page("/debug/consumer"), indent=1)
        dump.write_text(
            f"{out.stdout}{out.stderr}\n/debug/consumer:\n{first}\n5 s later:\n{second}\n"
        )
        return f"stacks in {dump}"


@contextmanager
def running(worker: WorkerProcess) -> Iterator[WorkerProcess]:
    """Start the worker and always stop it."""
    worker.start()
    try:
        yield worker
    finally:
        worker.stop()

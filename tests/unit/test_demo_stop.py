"""How `make demo` ends: its children stop before the broker, promptly, and on SIGTERM too.

The broker and the pipeline are stand-ins; the children are real (small) processes.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from rich.console import Console

from simulator import demo
from streams.settings import Settings

#: A child that takes SIGTERM as a request to stop (like the gateway and the worker).
OBEDIENT = "import time; time.sleep(60)"
#: A child that ignores SIGTERM: it can only be killed.
STUBBORN = (
    "import signal, sys, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
    "print('ready', flush=True); time.sleep(60)"
)


def _child(name: str, code: str, tmp_path: Path) -> demo.Child:
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE)
    if code is STUBBORN:
        assert proc.stdout is not None
        proc.stdout.readline()  # its SIGTERM handler is in place
    return demo.Child(name, proc, tmp_path / f"{name}.log")


def test_stop_children_terminates_then_kills_the_stubborn(tmp_path: Path) -> None:
    obedient, stubborn = _child("gateway", OBEDIENT, tmp_path), _child("worker", STUBBORN, tmp_path)
    started = time.monotonic()
    killed = demo.stop_children([obedient, stubborn], timeout_s=1.0)
    assert time.monotonic() - started < 4.0
    assert killed == [stubborn]
    assert obedient.proc.returncode == -signal.SIGTERM
    assert stubborn.proc.returncode == -signal.SIGKILL


def _run(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    pipeline: Callable[[demo.Demo, demo.KafkaAccess], int],
) -> tuple[int, list[str]]:
    """demo.run with a fake broker that records when it stops and what was still alive."""
    events: list[str] = []
    started: list[demo.Child] = []

    @contextlib.contextmanager
    def fake_kafka(
        settings: Settings, echo: Callable[[str], None], *, secure: bool = False
    ) -> Iterator[demo.KafkaAccess]:
        try:
            yield demo.KafkaAccess("127.0.0.1:1")
        finally:
            alive = [child.name for child in started if child.alive()]
            events.append(f"broker stopped; alive: {alive}")

    def tracked_pipeline(run: demo.Demo, kafka: demo.KafkaAccess) -> int:
        for name, code in (("worker", STUBBORN), ("gateway", OBEDIENT)):
            child = _child(name, code, tmp_path)
            run.children.append(child)
            started.append(child)
        return pipeline(run, kafka)

    monkeypatch.setattr(demo, "_kafka", fake_kafka)
    monkeypatch.setattr(demo, "_pipeline", tracked_pipeline)
    monkeypatch.setattr(demo, "STOP_TIMEOUT_S", 1.0)
    console = Console(file=(tmp_path / "console.txt").open("w"))
    code = demo.run(Settings(state_dir=tmp_path), demo.DemoOptions(), console)
    assert all(not child.alive() for child in started)
    return code, events


def test_children_stop_before_the_broker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    code, events = _run(tmp_path, monkeypatch, lambda run, kafka: 0)
    assert code == 0
    assert events == ["broker stopped; alive: []"]


def test_sigterm_stops_children_then_broker(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def terminated(run: demo.Demo, kafka: demo.KafkaAccess) -> int:
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)  # interrupted long before
        return 0

    previous = signal.getsignal(signal.SIGTERM)
    code, events = _run(tmp_path, monkeypatch, terminated)
    assert code == 130
    assert events == ["broker stopped; alive: []"]
    assert signal.getsignal(signal.SIGTERM) == previous
    assert "Interrupted" in (tmp_path / "console.txt").read_text()
